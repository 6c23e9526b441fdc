/*
 * corolease/htab.h - the one intrusive hash table of the tree (private,
 * header only; used by the core, the daemon and the client library).
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * Entries embed a struct cl_hnode; the caller computes the 64-bit hash and
 * compares keys itself while walking a chain:
 *
 *	for (struct cl_hnode *e = cl_htab_first(&t, h); e; e = cl_htab_next(e, h)) {
 *		struct thing *x = cl_container_of(e, struct thing, hn);
 *		if (keys_equal(x, key))
 *			return x;
 *	}
 *
 * Buckets are a power of two, chains are singly linked, new entries go to
 * the head of their chain, and the table doubles when an insert finds twice
 * as many entries as buckets (rehashing old buckets in order, each chain
 * from its head): chains average one to two entries, and the buckets cost
 * 4-8 bytes an entry rather than 8-16 (a million leases live in two such
 * tables on the holder, issue 9).  That fixes the iteration order for a
 * given hash function and sequence of inserts and deletes, but the tables of names hash with a key
 * that is secret and differs from process to process (core/hash.h), so
 * their order differs from host to host: nothing that leaves the process (a
 * message, a snapshot, a state hash, a listing, an event order) may follow
 * it.  Walks whose effects do sort, or go by a list of their own.
 *
 * Inserting never fails: when doubling cannot get memory the table keeps
 * its size and the chains grow.  Only cl_htab_init() can fail (-ENOMEM).
 */
#ifndef COROLEASE_PRIVATE_HTAB_H
#define COROLEASE_PRIVATE_HTAB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define cl_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct cl_hnode {
	struct cl_hnode *next;
	uint64_t hash;
};

struct cl_htab {
	struct cl_hnode **b;
	size_t nb;                   /* power of two, or 0 before init */
	size_t n;                    /* entries */
};

/* Allocates nb buckets (a power of two >= 1).  0 or -ENOMEM. */
static inline int cl_htab_init(struct cl_htab *t, size_t nb)
{
	t->b = calloc(nb, sizeof(*t->b));
	t->nb = t->b ? nb : 0;
	t->n = 0;
	return t->b ? 0 : -ENOMEM;
}

/* Frees the bucket array (entries belong to the caller); accepts an unused table. */
static inline void cl_htab_fini(struct cl_htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

static inline void cl_htab_grow_(struct cl_htab *t)
{
	size_t nb = t->nb * 2;
	struct cl_hnode **b = nb ? calloc(nb, sizeof(*b)) : NULL;
	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct cl_hnode *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* Inserts e with hash at the head of its chain.  The table must be initialised. */
static inline void cl_htab_add(struct cl_htab *t, struct cl_hnode *e, uint64_t hash)
{
	if (t->n >= 2 * t->nb)
		cl_htab_grow_(t);
	e->hash = hash;
	struct cl_hnode **slot = &t->b[hash & (t->nb - 1)];
	e->next = *slot;
	*slot = e;
	t->n++;
}

/* Removes e, which must be in t. */
static inline void cl_htab_del(struct cl_htab *t, struct cl_hnode *e)
{
	struct cl_hnode **pp = &t->b[e->hash & (t->nb - 1)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	e->next = NULL;
	t->n--;
}

/* Puts e in old's place (old must be in t; it is taken out), with old's hash. */
static inline void cl_htab_replace(struct cl_htab *t, struct cl_hnode *old, struct cl_hnode *e)
{
	struct cl_hnode **pp = &t->b[old->hash & (t->nb - 1)];
	while (*pp != old)
		pp = &(*pp)->next;
	e->hash = old->hash;
	e->next = old->next;
	*pp = e;
	old->next = NULL;
}

/* The first entry of hash's chain whose hash equals hash, or NULL. */
static inline struct cl_hnode *cl_htab_first(const struct cl_htab *t, uint64_t hash)
{
	if (!t->nb)
		return NULL;
	struct cl_hnode *e = t->b[hash & (t->nb - 1)];
	while (e && e->hash != hash)
		e = e->next;
	return e;
}

/* The next entry after e in its chain with the same hash, or NULL. */
static inline struct cl_hnode *cl_htab_next(const struct cl_hnode *e, uint64_t hash)
{
	struct cl_hnode *x = e->next;
	while (x && x->hash != hash)
		x = x->next;
	return x;
}

/*
 * Iteration over every entry in table order.  Inside the loop the current
 * entry may be deleted (and freed); no other entry may be deleted and
 * nothing may be inserted (an insert may rehash).
 *
 *	struct cl_htab_iter it;
 *	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it))
 */
struct cl_htab_iter {
	size_t b;
	size_t left;                 /* entries not returned yet: all in chains after b's */
	struct cl_hnode *next;
};

static inline struct cl_hnode *cl_htab_iter_next(const struct cl_htab *t, struct cl_htab_iter *it)
{
	if (!it->next) {
		struct cl_hnode *const *p = t->b;
		size_t b = it->b + 1;
		if (!it->left)
			return NULL;     /* the buckets left are empty: no need to look */
		/* empty buckets four at a time (sparse tables), then one by one */
		while (b + 4 <= t->nb && !((uintptr_t)p[b] | (uintptr_t)p[b + 1] |
					   (uintptr_t)p[b + 2] | (uintptr_t)p[b + 3]))
			b += 4;
		while (b < t->nb && !p[b])
			b++;
		if (b >= t->nb)
			return NULL;
		it->b = b;
		it->next = t->b[b];
	}
	struct cl_hnode *e = it->next;
	it->next = e->next;
	it->left--;
	return e;
}

static inline struct cl_hnode *cl_htab_iter_first(const struct cl_htab *t, struct cl_htab_iter *it)
{
	it->b = SIZE_MAX;            /* b + 1 wraps to bucket 0 */
	it->left = t->n;
	it->next = NULL;
	return cl_htab_iter_next(t, it);
}

/*
 * A resumable scan over a table that may change between steps (the
 * reverse-binary cursor of Redis' SCAN): start with cursor 0, visit the
 * chain cl_htab_scan_chain() gives, move on with cl_htab_scan_next(), and
 * stop when it returns 0.  Every entry present for the whole scan is
 * visited exactly once, whatever inserts (and doublings) happen between
 * steps, because the table never shrinks; entries inserted or deleted
 * during the scan may or may not be visited.
 */
static inline struct cl_hnode *cl_htab_scan_chain(const struct cl_htab *t, uint64_t cursor)
{
	return t->nb ? t->b[cursor & (t->nb - 1)] : NULL;
}

static inline uint64_t cl_htab_rev64_(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
	return __builtin_bswap64(v);
}

static inline uint64_t cl_htab_scan_next(const struct cl_htab *t, uint64_t cursor)
{
	if (!t->nb)
		return 0;
	cursor |= ~(uint64_t)(t->nb - 1);   /* count in the bits above the mask, reversed */
	return cl_htab_rev64_(cl_htab_rev64_(cursor) + 1);
}

#endif /* COROLEASE_PRIVATE_HTAB_H */
