/*
 * state.h - private layout of the replicated machine, shared by lease.c and
 * index.c only.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_STATE_H
#define COROLEASE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "corolease/htab.h"
#include "corolease/list.h"
#include "lease.h"

struct cl_hold {
	uint32_t node;
	uint8_t mode;
	uint64_t epoch;
	uint64_t orphan_seq;         /* 0 = live */
};

struct cl_waiter {
	struct cl_list link;         /* rec->x->waiters (cl_rec_waiters()), FIFO */
	uint32_t node;
	uint8_t mode;
	uint64_t req_id;
};

/* One index entry: key bytes then value bytes in data[]. */
struct cl_entry {
	uint64_t version;
	uint32_t vallen;
	uint8_t keylen;
	uint8_t data[];
};

struct cl_index {
	uint64_t version;
	uint64_t bytes;              /* charged against the bound, and to uid */
	uint32_t uid;                /* the uid of the last put (index.h) */
	uint32_t n, cap;
	struct cl_entry **e;         /* sorted by key */
	bool hashed;                 /* hash is cl_index_hash() of version, uid and e[0..n) */
	uint64_t hash;               /* (entries never change: a write replaces one) */
	struct cl_rec *rec;          /* the record it belongs to */
	/*
	 * The eviction list of unheld indexes is kept here, not in the record:
	 * only a record with an index is ever on it (cl_rec_settle()).
	 */
	struct cl_list lru;          /* sm->lru while lru_tick != 0 */
	uint64_t lru_tick;           /* 0 = not on the eviction list */
	struct cl_list ulru;         /* its uid's eviction list, while on sm->lru */
};

/* The index bytes charged to one uid; in sm->uids while it has any. */
struct cl_uid_acct {
	struct cl_hnode hn;          /* by cl_mix64(uid) */
	uint32_t uid;
	uint64_t bytes;              /* of the indexes charged to uid */
	uint64_t lru_bytes;          /* of those on the eviction list */
	struct cl_list lru;          /* their cl_index.ulru, oldest tick first */
};

/*
 * What a record has only some of the time -- index data, waiters -- kept
 * aside so that the million records of held leases do not carry it
 * (issue 9): allocated with the first of them, freed with the last
 * (cl_recx_tidy()).
 */
struct cl_recx {
	struct cl_index *idx;        /* NULL = no index data */
	struct cl_list waiters;      /* struct cl_waiter, FIFO */
	uint32_t nwaiters;
};

/* Everything known about one name. */
struct cl_rec {
	struct cl_hnode hn;          /* sm->recs, by name hash */
	struct cl_recx *x;           /* NULL: no index data, no waiters */
	/*
	 * The holds (cl_rec_holds()): in the record while there is at most
	 * one (a name has one holder, but for SH holds and orphans), else an
	 * array with room for nholds rounded up to a power of two at least
	 * (cl_hold_add(), hold_remove())
	 */
	union {
		struct cl_hold one;
		struct cl_hold *many;
	} hs;
	uint64_t hc;                 /* what it adds to sm->hsum: its hash when last settled */
	uint32_t nholds;
	/* 1 + its place in sm->dirty (up to CL_DIRTY_MAX); 0: hc is its hash */
	uint32_t dirty_at : 21;
	uint32_t namelen : 11;       /* 1..COROLEASE_NAME_MAX */
	uint8_t name[];
};

#define CL_DIRTY_MAX ((1u << 21) - 1)
_Static_assert(COROLEASE_NAME_MAX < (1u << 11), "cl_rec.namelen is an 11-bit field");

/*
 * One on every node for each name (a million on a loaded cluster, issue 9):
 * from the slab (slab.h), it takes its fixed part plus the name, rounded up
 * to 8 bytes (names of up to CL_SLAB_MAX - 64 bytes; longer ones are a
 * calloc()).
 */
_Static_assert(offsetof(struct cl_rec, name) <= 64, "cl_rec grew: issue 9's memory budget");

/*
 * Called before an input changes anything (no record is half changed): a
 * burst of inputs between two of the agent's ticks does not grow the dirty
 * list beyond CL_DIRTY_KEEP (8 bytes a name for a million names otherwise,
 * issue 9), because the running hash catches up first.  cl_sm_apply(),
 * cl_sm_orphan_dropped() and cl_sm_restore_record() do.
 */
static inline void cl_sm_dirty_bound(struct cl_sm *sm);

/* The bytes of the record of a name of namelen bytes (cl_slab_alloc()). */
static inline size_t cl_rec_bytes(size_t namelen)
{
	return offsetof(struct cl_rec, name) + namelen;
}

#define CL_DIRTY_KEEP 4096

struct cl_sm {
	struct cl_sm_config cfg;
	cl_action_fn act;
	void *act_ctx;

	struct cl_htab recs;         /* struct cl_rec by name hash; recs.n = names known */
	uint64_t serial;             /* cl_sm_serial() */
	bool failed;                 /* out of memory while applying: see lease.h */

	struct cl_sm_header h;       /* the scalars a snapshot carries */
	uint64_t holds, orphans, waiters;

	/* index */
	uint64_t index_bytes;
	uint64_t lru_bytes;          /* index bytes of records on the eviction list */
	struct cl_list lru;          /* eviction list of struct cl_index: oldest tick first */
	struct cl_htab uids;         /* struct cl_uid_acct; derived from the indexes */

	/*
	 * cl_sm_hash() kept up to date: hsum is the sum of every record's hc;
	 * the records changed since (cl_rec_touch()) are in dirty, and their hc
	 * is brought up to date at the next hash.  rebuild: the list could not
	 * grow (or reached CL_DIRTY_MAX), so the next hash walks every record.
	 * An input that finds
	 * CL_DIRTY_KEEP records dirty hashes them first, and a hash shrinks a
	 * longer list back to CL_DIRTY_KEEP (cl_sm_apply(), cl_sm_hash()).
	 */
	uint64_t hsum;
	struct cl_rec **dirty;
	size_t ndirty, cap_dirty;
	bool rebuild;

	/* the live (not orphaned) holds of each node that ever held: a few nodes, unsorted */
	struct cl_live_count { uint32_t node; uint64_t n; } *live;
	uint32_t nlive, cap_live;

	/* cl_sm_hash_cached(): the hash of the state these described */
	bool hash_ok;
	struct cl_sm_header hash_h;
	uint64_t hash_counts[5];     /* recs.n, holds, orphans, waiters, index_bytes */
	uint64_t hash_val;
};

static inline void cl_sm_dirty_bound(struct cl_sm *sm)
{
	if (sm->ndirty >= CL_DIRTY_KEEP)
		(void)cl_sm_hash(sm);
}

/* Out of memory inside an input: the machine is poisoned (lease.h). */
static inline void cl_sm_oom(struct cl_sm *sm)
{
	sm->failed = true;
}

/* rec's nholds holds, in the order they were added. */
static inline struct cl_hold *cl_rec_holds(const struct cl_rec *rec)
{
	return rec->nholds <= 1 ? (struct cl_hold *)&rec->hs.one : rec->hs.many;
}

/* rec's index data, or NULL. */
static inline struct cl_index *cl_rec_idx(const struct cl_rec *rec)
{
	return rec->x ? rec->x->idx : NULL;
}

static inline uint32_t cl_rec_nwaiters(const struct cl_rec *rec)
{
	return rec->x ? rec->x->nwaiters : 0;
}

/* An empty list that is never written: the waiters of a record with no cl_recx. */
extern struct cl_list cl_rec_no_waiters_;

/* rec's waiters (struct cl_waiter via link, FIFO), to walk; never to add to. */
static inline struct cl_list *cl_rec_waiters(const struct cl_rec *rec)
{
	return rec->x ? &rec->x->waiters : &cl_rec_no_waiters_;
}

/* rec's cl_recx, made if it has none; NULL on ENOMEM (the caller decides what fails). */
struct cl_recx *cl_recx_get(struct cl_rec *rec);
/* Frees rec's cl_recx once it has neither index data nor waiters. */
void cl_recx_tidy(struct cl_rec *rec);

/* rec's place on the eviction list (its index's): 0 = not on it. */
static inline uint64_t cl_rec_lru_tick(const struct cl_rec *rec)
{
	const struct cl_index *idx = cl_rec_idx(rec);
	return idx ? idx->lru_tick : 0;
}

/* The first waiter of rec, or NULL. */
static inline struct cl_waiter *cl_rec_head_waiter(const struct cl_rec *rec)
{
	struct cl_list *l = cl_list_first(cl_rec_waiters(rec));
	return l ? cl_list_entry(l, struct cl_waiter, link) : NULL;
}

/* ---- lease.c internals, shared with index.c, lease_query.c and lease_snap.c ---- */

struct cl_rec *cl_rec_find(const struct cl_sm *sm, const void *name, size_t namelen);
/* The record for name, created if needed; NULL (machine poisoned) on ENOMEM. */
struct cl_rec *cl_rec_get(struct cl_sm *sm, const void *name, size_t namelen);
/* Updates rec's eviction-list membership and frees it when empty.  rec may be gone after. */
void cl_rec_settle(struct cl_sm *sm, struct cl_rec *rec);
/* rec is about to change in what its hash covers (holds, waiters, lru tick, index). */
void cl_rec_touch(struct cl_sm *sm, struct cl_rec *rec);
void cl_sm_emit(struct cl_sm *sm, struct cl_action *a, const struct cl_rec *rec);
/* Adds a hold / a waiter at the end.  0 or -ENOMEM (machine poisoned). */
int cl_hold_add(struct cl_sm *sm, struct cl_rec *rec, uint32_t node, uint8_t mode,
		uint64_t epoch, uint64_t orphan_seq);
int cl_waiter_append(struct cl_sm *sm, struct cl_rec *rec, uint32_t node, uint8_t mode,
		     uint64_t req_id);
/*
 * The records for which pick(rec, arg) is true, sorted by cmp (a qsort
 * comparator of struct cl_rec *).  NULL and *n_r = 0 if none, or on ENOMEM,
 * which poisons the machine.  The caller frees the array.
 */
struct cl_rec **cl_sm_collect(struct cl_sm *sm, bool (*pick)(const struct cl_rec *, uint32_t),
			      uint32_t arg, int (*cmp)(const void *, const void *), size_t *n_r);
/* qsort comparator of struct cl_rec *: name order (memcmp, shorter first on a tie). */
int cl_rec_name_order(const void *pa, const void *pb);
/* A pick for cl_sm_collect(): node holds rec (orphaned holds too). */
bool cl_rec_held_by(const struct cl_rec *r, uint32_t node);

/* Iteration over every record in table order (see htab.h for what the body may do). */
#define FOREACH_REC(sm, it, e, r)                                                         \
	for (struct cl_hnode *e = cl_htab_iter_first(&(sm)->recs, &(it)); e;               \
	     e = cl_htab_iter_next(&(sm)->recs, &(it)))                                    \
		for (struct cl_rec *r = cl_container_of(e, struct cl_rec, hn); r; r = NULL)

static inline int cl_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* node's hold on rec (live or orphaned), or NULL. */
static inline struct cl_hold *cl_rec_hold_of(const struct cl_rec *rec, uint32_t node)
{
	struct cl_hold *h = cl_rec_holds(rec);
	for (uint32_t i = 0; i < rec->nholds; i++)
		if (h[i].node == node)
			return &h[i];
	return NULL;
}

/* The hold a request is told about: the first live one, else the first orphan; NULL if free. */
static inline const struct cl_hold *cl_rec_owner_hold(const struct cl_rec *rec)
{
	const struct cl_hold *h = cl_rec_holds(rec);
	for (uint32_t i = 0; i < rec->nholds; i++)
		if (!h[i].orphan_seq)
			return &h[i];
	return rec->nholds ? &h[0] : NULL;
}

static inline uint32_t cl_rec_owner(const struct cl_rec *rec)
{
	const struct cl_hold *h = cl_rec_owner_hold(rec);
	return h ? h->node : CL_NODE_NONE;
}

/* index.c internals used by lease.c */
/* The uid accounts: 0 or -ENOMEM; fini frees whatever accounts are left. */
int cl_index_init(struct cl_sm *sm);
void cl_index_fini(struct cl_sm *sm);
/* The number of uids charged for index bytes. */
uint64_t cl_index_uids(const struct cl_sm *sm);
int cl_index_apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m);
void cl_index_free(struct cl_sm *sm, struct cl_rec *rec);
/* The index's part of the state hash; kept until a write changes the index. */
uint64_t cl_index_hash(struct cl_index *idx);
int cl_index_restore(struct cl_sm *sm, struct cl_rec *rec, const struct cl_record_info *ri);
void cl_lru_remove(struct cl_sm *sm, struct cl_rec *rec);
void cl_lru_append(struct cl_sm *sm, struct cl_rec *rec, uint64_t tick);

#endif /* COROLEASE_STATE_H */
