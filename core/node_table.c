/*
 * node_table.c - the node agent's tables: leases by name, clients and
 * their holds, requests awaiting answers; the lease timer heap and the
 * fence timers.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

/* ---- local lease table ---- */

/* A name's bucket hash, under the node's secret table key (hash.h; cl_sm_config.table_key). */
static uint64_t lname_hash(const struct cl_node *n, const void *name, size_t len)
{
	return cl_siphash(&n->cfg.sm.table_key, name, len);
}

struct nl_lease *nd_lease_find(const struct cl_node *n, const void *name, size_t len)
{
	uint64_t h = lname_hash(n, name, len);
	for (struct cl_hnode *e = cl_htab_first(&n->leases, h); e; e = cl_htab_next(e, h)) {
		struct nl_lease *l = cl_container_of(e, struct nl_lease, hn);
		if (l->namelen == len && !memcmp(l->name, name, len))
			return l;
	}
	return NULL;
}

/* name's lease, created (with nothing in it) if new; NULL on ENOMEM. */
struct nl_lease *nd_lease_get(struct cl_node *n, const void *name, size_t len)
{
	struct nl_lease *l = nd_lease_find(n, name, len);
	if (l)
		return l;
	l = cl_slab_alloc(nd_lease_bytes(len));
	if (!l)
		return NULL;
	cl_list_init(&l->holders);
	cl_list_init(&l->waiters);
	l->namelen = (uint16_t)len;
	memcpy(l->name, name, len);
	l->heap_idx = NL_NOT_IN_HEAP;
	l->next_deadline = CL_TIME_NEVER;
	cl_htab_add(&n->leases, &l->hn, lname_hash(n, name, len));
	cl_list_add_tail(&n->lease_order, &l->order);
	return l;
}

/*
 * Iteration over every lease in the order they were created, which depends
 * only on the node's inputs (never on the table's hash, so the messages and
 * events a walk produces come in the same order on any host); the current
 * one may be freed (nd_lease_settle) inside the loop, no other.  A lease
 * created inside the loop may or may not be visited.
 */
struct nl_lease *nd_lease_next(const struct cl_node *n, struct nl_iter *it)
{
	struct cl_list *e = it->next;
	if (!e)
		return NULL;
	it->next = cl_list_next(&n->lease_order, e);
	return cl_list_entry(e, struct nl_lease, order);
}

struct nl_lease *nd_lease_first(const struct cl_node *n, struct nl_iter *it)
{
	it->next = cl_list_first(&n->lease_order);
	return nd_lease_next(n, it);
}

/* ---- timer heap over leases (min next_deadline) ---- */

static void heap_swap(struct cl_node *n, size_t a, size_t b)
{
	struct nl_lease *t = n->heap[a];
	n->heap[a] = n->heap[b];
	n->heap[b] = t;
	n->heap[a]->heap_idx = (uint32_t)a;
	n->heap[b]->heap_idx = (uint32_t)b;
}

static void heap_up(struct cl_node *n, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (n->heap[p]->next_deadline <= n->heap[i]->next_deadline)
			break;
		heap_swap(n, i, p);
		i = p;
	}
}

static void heap_down(struct cl_node *n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n->heap_n && n->heap[l]->next_deadline < n->heap[m]->next_deadline)
			m = l;
		if (r < n->heap_n && n->heap[r]->next_deadline < n->heap[m]->next_deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(n, i, m);
		i = m;
	}
}

void nd_heap_remove(struct cl_node *n, struct nl_lease *l)
{
	size_t i = l->heap_idx;
	if (l->heap_idx == NL_NOT_IN_HEAP)
		return;
	n->heap_n--;
	if (i != n->heap_n) {
		n->heap[i] = n->heap[n->heap_n];
		n->heap[i]->heap_idx = (uint32_t)i;
		heap_down(n, i);
		heap_up(n, i);
	}
	l->heap_idx = NL_NOT_IN_HEAP;
}

/*
 * Room for one more lease in the heap; false (and the node failed) without
 * memory.  The heap never holds NL_NOT_IN_HEAP leases or more (they would
 * take hundreds of gigabytes): that counts as out of memory too.
 */
static bool heap_reserve(struct cl_node *n)
{
	if (n->heap_n < n->heap_cap)
		return true;
	size_t cap = n->heap_cap ? n->heap_cap * 2 : 64;
	if (cap > NL_NOT_IN_HEAP)
		cap = NL_NOT_IN_HEAP;
	struct nl_lease **h = cap > n->heap_cap ? realloc(n->heap, cap * sizeof(*h)) : NULL;
	if (h) {
		n->heap = h;
		n->heap_cap = cap;
	} else {
		nd_fail(n, "arming a lease timer");
	}
	return h != NULL;
}

/* Recomputes l's earliest timer and its place in the heap. */
static void lease_resched(struct cl_node *n, struct nl_lease *l)
{
	uint64_t d = CL_TIME_NEVER;
	if (l->linger_at && l->linger_at < d)
		d = l->linger_at;
	if (l->has_rare) {
		const struct nl_rare *r = nd_rare(n, l);
		if (r->handover_at && r->handover_at < d)
			d = r->handover_at;
		if (r->local_handover_at && r->local_handover_at < d)
			d = r->local_handover_at;
	}
	for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
		if (c->state == CH_REVOKED && c->deadline < d)
			d = c->deadline;
	for (struct chold *c = ch_first(&l->waiters); c; c = ch_next(&l->waiters, c))
		if (c->deadline && c->deadline < d)
			d = c->deadline;
	l->next_deadline = d;
	if (d == CL_TIME_NEVER) {
		nd_heap_remove(n, l);
		return;
	}
	if (l->heap_idx == NL_NOT_IN_HEAP) {
		if (!heap_reserve(n))
			return;
		l->heap_idx = (uint32_t)n->heap_n;
		n->heap[n->heap_n++] = l;
		heap_up(n, l->heap_idx);
	} else {
		heap_up(n, l->heap_idx);
		heap_down(n, l->heap_idx);
	}
}

/* Frees l when nothing refers to it any more.  l may be gone after. */
void nd_lease_settle(struct cl_node *n, struct nl_lease *l)
{
	lease_resched(n, l);
	if (l->state != NL_NONE || l->req != REQ_NONE || l->nholders || l->nwaiters)
		return;
	nd_rare_drop(n, l);   /* a stale blocked_epoch, say: moot with the lease */
	nd_heap_remove(n, l);
	cl_htab_del(&n->leases, &l->hn);
	if (n->rc_next == &l->order)   /* a reconcile's place (nd_reconcile_step()) moves on */
		n->rc_next = cl_list_next(&n->lease_order, &l->order);
	cl_list_del(&l->order);
	cl_slab_free(l, nd_lease_bytes(l->namelen));
}

/* ---- a lease's rare fields ---- */

static const struct nl_rare rare_none;

static uint64_t rare_hash(const struct nl_lease *l)
{
	return cl_mix64((uint64_t)(uintptr_t)l);
}

struct nl_rare *nd_rare_find(struct cl_node *n, const struct nl_lease *l)
{
	if (!l->has_rare)
		return NULL;
	uint64_t h = rare_hash(l);
	for (struct cl_hnode *e = cl_htab_first(&n->rare, h); e; e = cl_htab_next(e, h)) {
		struct nl_rare *r = cl_container_of(e, struct nl_rare, hn);
		if (r->lease == l)
			return r;
	}
	return NULL;   /* not reached: has_rare is set exactly while it is in the table */
}

const struct nl_rare *nd_rare(const struct cl_node *n, const struct nl_lease *l)
{
	const struct nl_rare *r = nd_rare_find((struct cl_node *)n, l);
	return r ? r : &rare_none;
}

struct nl_rare *nd_rare_try(struct cl_node *n, struct nl_lease *l)
{
	struct nl_rare *r = nd_rare_find(n, l);
	if (r)
		return r;
	if (!n->rare.nb && cl_htab_init(&n->rare, 64) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->lease = l;
	cl_htab_add(&n->rare, &r->hn, rare_hash(l));
	l->has_rare = true;
	return r;
}

struct nl_rare *nd_rare_get(struct cl_node *n, struct nl_lease *l)
{
	struct nl_rare *r = nd_rare_try(n, l);
	if (!r)
		nd_fail(n, "keeping a lease's handover or deferred BLOCKING state");
	return r;
}

void nd_rare_drop(struct cl_node *n, struct nl_lease *l)
{
	struct nl_rare *r = nd_rare_find(n, l);
	if (!r)
		return;
	cl_htab_del(&n->rare, &r->hn);
	l->has_rare = false;
	free(r);
}

void nd_rare_tidy(struct cl_node *n, struct nl_lease *l)
{
	const struct nl_rare *r = nd_rare_find(n, l);
	if (r && !r->handover_at && !r->local_handover_at && !r->wanted_at && !r->blocked_epoch &&
	    !r->renew_at)
		nd_rare_drop(n, l);
}

void nd_rare_clear(struct cl_node *n, struct nl_lease *l, unsigned what)
{
	struct nl_rare *r = nd_rare_find(n, l);
	if (!r)
		return;
	if (what & RARE_HANDOVER)
		r->handover_at = 0;
	if (what & RARE_LOCAL_HANDOVER)
		r->local_handover_at = 0;
	if (what & RARE_WANTED)
		r->wanted_at = 0;
	if (what & RARE_BLOCKED)
		r->blocked_epoch = 0;
	if (what & RARE_RENEW)
		r->renew_at = 0;
	nd_rare_tidy(n, l);
}

/* ---- clients and their holds ---- */

struct nl_client *nd_client_find(const struct cl_node *n, uint64_t id)
{
	uint64_t h = cl_mix64(id);
	for (struct cl_hnode *e = cl_htab_first(&n->clients, h); e; e = cl_htab_next(e, h)) {
		struct nl_client *c = cl_container_of(e, struct nl_client, hn);
		if (c->id == id)
			return c;
	}
	return NULL;
}

/* Client id's entry, created if new; NULL on ENOMEM. */
struct nl_client *nd_client_get(struct cl_node *n, uint64_t id, uint32_t uid)
{
	struct nl_client *c = nd_client_find(n, id);
	if (c)
		return c;
	if (!n->clients.nb && cl_htab_init(&n->clients, 64) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->uid = uid;
	cl_list_init(&c->holds);
	cl_htab_add(&n->clients, &c->hn, cl_mix64(id));
	return c;
}

/* Frees c once it has no holds left. */
void nd_client_maybe_free(struct cl_node *n, struct nl_client *c)
{
	if (!cl_list_empty(&c->holds))
		return;
	cl_htab_del(&n->clients, &c->hn);
	free(c);
}

/* client c's hold or pending acquire of l: walks the shorter of the two lists. */
struct chold *nd_chold_of(struct nl_client *c, const struct nl_lease *l)
{
	if (c->nholds > l->nholders + l->nwaiters) {
		for (struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h))
			if (h->client == c)
				return h;
		for (struct chold *h = ch_first(&l->waiters); h; h = ch_next(&l->waiters, h))
			if (h->client == c)
				return h;
		return NULL;
	}
	struct cl_list *e;
	cl_list_foreach(e, &c->holds) {
		struct chold *h = cl_list_entry(e, struct chold, clink);
		if (h->lease == l)
			return h;
	}
	return NULL;
}

/* Unlinks and frees ch (from its lease list and its client); HOLD_END says why (err). */
static void chold_end(struct cl_node *n, struct chold *ch, int why)
{
	struct nl_lease *l = ch->lease;
	if (ch->state == CH_WAITING) {
		chl_remove(&l->waiters, &l->nwaiters, ch);
	} else {
		chl_remove(&l->holders, &l->nholders, ch);
		n->client_holds--;
		if (ch->state == CH_REVOKED)
			n->need_reconcile = true;   /* a self-recover may be due */
	}
	cl_list_del(&ch->clink);
	ch->client->nholds--;
	if (ch->tag != CL_NODE_NO_TAG) {
		struct cl_node_event ev = { .type = CL_NODE_EV_HOLD_END, .client = ch->client->id,
					    .cookie = ch->cookie, .tag = ch->tag,
					    .uid = ch->client->uid, .err = why };
		if (why) {   /* the glue keeps the name of a dropped hold; nobody else needs it */
			ev.name = l->name;
			ev.namelen = l->namelen;
		}
		nd_ev_push(n, &ev);
	}
	cl_slab_free(ch, sizeof(*ch));
}

void nd_chold_free(struct cl_node *n, struct chold *ch)
{
	chold_end(n, ch, 0);
}

void nd_chold_drop(struct cl_node *n, struct chold *ch)
{
	chold_end(n, ch, COROLEASE_EREVOKED);
}

/* ---- pending request table (index, sync, admin) ---- */

/* Records a request awaiting its answer.  0 or -ENOMEM. */
int nd_op_add(struct cl_node *n, uint64_t req_id, uint64_t client, uint64_t cookie, uint8_t kind)
{
	if (!n->requests.nb && cl_htab_init(&n->requests, 256) < 0)
		return -ENOMEM;
	struct pending_op *o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct pending_op){ .req_id = req_id, .client = client, .cookie = cookie, .kind = kind };
	cl_htab_add(&n->requests, &o->hn, cl_mix64(req_id));
	return 0;
}

/* Removes and returns the op for req_id (caller frees), or NULL. */
struct pending_op *nd_op_take(struct cl_node *n, uint64_t req_id)
{
	uint64_t h = cl_mix64(req_id);
	for (struct cl_hnode *e = cl_htab_first(&n->requests, h); e; e = cl_htab_next(e, h)) {
		struct pending_op *o = cl_container_of(e, struct pending_op, hn);
		if (o->req_id == req_id) {
			cl_htab_del(&n->requests, e);
			return o;
		}
	}
	return NULL;
}

/* ---- fence timers ---- */

/*
 * Arms (or extends) the fence timer of departed node: at deadline, while
 * it still has orphans with seq up to seq, a RECOVER_NODE is due.
 */
void nd_fence_arm(struct cl_node *n, uint32_t node, uint64_t seq, uint64_t deadline)
{
	for (size_t i = 0; i < n->nfences; i++) {
		if (n->fences[i].node == node) {
			if (seq > n->fences[i].seq)
				n->fences[i].seq = seq;
			if (deadline > n->fences[i].deadline)
				n->fences[i].deadline = deadline;
			return;
		}
	}
	if (n->nfences == n->cap_fences) {
		size_t cap = n->cap_fences ? n->cap_fences * 2 : 8;
		struct fence_timer *f = realloc(n->fences, cap * sizeof(*f));
		if (!f) {
			nd_fail(n, "arming a fence timer");
			return;
		}
		n->fences = f;
		n->cap_fences = cap;
	}
	n->fences[n->nfences++] = (struct fence_timer){ node, seq, deadline, false };
}

struct orphan_scan {
	struct cl_node *n;
	uint64_t deadline;
};

static void arm_for_orphan(void *ctx, const uint8_t *name, uint16_t namelen,
			   const struct cl_hold_info *h)
{
	(void)name;
	(void)namelen;
	struct orphan_scan *s = ctx;
	if (h->orphan_seq && h->node != s->n->me)
		nd_fence_arm(s->n, h->node, h->orphan_seq, s->deadline);
}

static int fence_node_cmp(const void *pa, const void *pb)
{
	const struct fence_timer *a = pa, *b = pb;
	return a->node < b->node ? -1 : a->node > b->node;
}

/*
 * After loading a snapshot: arm fence timers for every orphan in it, from
 * now.  The orphans come in the replica table's order, which depends on its
 * key, so the timers are sorted by node afterwards: timers due together send
 * their RECOVER_NODEs in node order on every host.
 */
void nd_arm_all_orphans(struct cl_node *n)
{
	struct orphan_scan s = { n, now_us(n) + n->cfg.fence_delay_us };
	cl_sm_foreach_orphan(n->sm, arm_for_orphan, &s);
	if (n->nfences > 1)
		qsort(n->fences, n->nfences, sizeof(*n->fences), fence_node_cmp);
}

struct orphan_count {
	uint32_t node;
	uint64_t upto, n;
};

static void count_orphan(void *ctx, const uint8_t *name, uint16_t namelen,
			 const struct cl_hold_info *h)
{
	(void)name;
	(void)namelen;
	struct orphan_count *oc = ctx;
	if (h->node == oc->node && h->orphan_seq <= oc->upto)
		oc->n++;
}

/* Number of node's orphaned holds with orphan seq <= upto. */
uint64_t nd_orphans_of(struct cl_node *n, uint32_t node, uint64_t upto)
{
	struct orphan_count oc = { node, upto, 0 };
	cl_sm_foreach_orphan(n->sm, count_orphan, &oc);
	return oc.n;
}
