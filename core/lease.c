/*
 * lease.c - the replicated lease state machine.  Semantics: doc/state-machine.md.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "slab.h"
#include "state.h"

/* ---- records and the name table ---- */

/* A name's bucket hash: keyed, so that nobody can choose names that share a chain (hash.h). */
static uint64_t name_hash(const struct cl_sm *sm, const void *name, size_t namelen)
{
	return cl_siphash(&sm->cfg.table_key, name, namelen);
}

int cl_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int cl_rec_name_order(const void *pa, const void *pb)
{
	const struct cl_rec *a = *(struct cl_rec *const *)pa, *b = *(struct cl_rec *const *)pb;
	return cl_name_cmp(a->name, a->namelen, b->name, b->namelen);
}

struct cl_rec *cl_rec_find(const struct cl_sm *sm, const void *name, size_t namelen)
{
	if (namelen == 0 || namelen > COROLEASE_NAME_MAX)
		return NULL;
	uint64_t h = name_hash(sm, name, namelen);
	for (struct cl_hnode *e = cl_htab_first(&sm->recs, h); e; e = cl_htab_next(e, h)) {
		struct cl_rec *r = cl_container_of(e, struct cl_rec, hn);
		if (r->namelen == namelen && !memcmp(r->name, name, namelen))
			return r;
	}
	return NULL;
}

/* Returns the record for name, creating it; NULL (machine poisoned) on ENOMEM. */
struct cl_rec *cl_rec_get(struct cl_sm *sm, const void *name, size_t namelen)
{
	struct cl_rec *r = cl_rec_find(sm, name, namelen);
	if (r)
		return r;
	r = cl_slab_alloc(cl_rec_bytes(namelen));
	if (!r) {
		cl_sm_oom(sm);
		return NULL;
	}
	r->namelen = namelen & 0x7ff;   /* 1..COROLEASE_NAME_MAX, checked by every caller */
	memcpy(r->name, name, namelen);
	cl_htab_add(&sm->recs, &r->hn, name_hash(sm, name, namelen));
	return r;
}

void cl_rec_touch(struct cl_sm *sm, struct cl_rec *rec)
{
	if (rec->dirty_at || sm->rebuild)
		return;
	if (sm->ndirty == CL_DIRTY_MAX) {
		sm->rebuild = true;   /* one input touched that many: the next hash walks them all */
		return;
	}
	if (sm->ndirty == sm->cap_dirty) {
		size_t cap = sm->cap_dirty ? sm->cap_dirty * 2 : 64;
		struct cl_rec **d = realloc(sm->dirty, cap * sizeof(*d));
		if (!d) {
			/* out of memory in an input poisons the machine (lease.h), as anywhere */
			cl_sm_oom(sm);
			sm->rebuild = true;   /* and the next hash walks every record instead */
			return;
		}
		sm->dirty = d;
		sm->cap_dirty = cap;
	}
	sm->dirty[sm->ndirty++] = rec;
	rec->dirty_at = (uint32_t)sm->ndirty & CL_DIRTY_MAX;
}

/* node's entry in sm->live, created (0) if new; NULL on ENOMEM (the caller poisons). */
static struct cl_live_count *live_of(struct cl_sm *sm, uint32_t node)
{
	for (uint32_t i = 0; i < sm->nlive; i++)
		if (sm->live[i].node == node)
			return &sm->live[i];
	if (sm->nlive == sm->cap_live) {
		uint32_t cap = sm->cap_live ? sm->cap_live * 2 : 8;
		struct cl_live_count *v = realloc(sm->live, cap * sizeof(*v));
		if (!v)
			return NULL;
		sm->live = v;
		sm->cap_live = cap;
	}
	sm->live[sm->nlive] = (struct cl_live_count){ node, 0 };
	return &sm->live[sm->nlive++];
}

/* One live hold of node less (released, recovered or orphaned): its entry exists. */
static void live_dec(struct cl_sm *sm, uint32_t node)
{
	struct cl_live_count *c = live_of(sm, node);
	if (c && c->n)
		c->n--;
}

struct cl_list cl_rec_no_waiters_ = CL_LIST_INIT(cl_rec_no_waiters_);

struct cl_recx *cl_recx_get(struct cl_rec *rec)
{
	if (rec->x)
		return rec->x;
	struct cl_recx *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	cl_list_init(&x->waiters);
	rec->x = x;
	return x;
}

void cl_recx_tidy(struct cl_rec *rec)
{
	if (rec->x && !rec->x->idx && !rec->x->nwaiters) {
		free(rec->x);
		rec->x = NULL;
	}
}

static void rec_unlink_free(struct cl_sm *sm, struct cl_rec *rec)
{
	sm->hsum -= rec->hc;
	if (rec->dirty_at) {
		struct cl_rec *last = sm->dirty[--sm->ndirty];
		sm->dirty[rec->dirty_at - 1] = last;
		last->dirty_at = rec->dirty_at;
	}
	cl_htab_del(&sm->recs, &rec->hn);
	if (rec->nholds > 1)
		free(rec->hs.many);
	cl_slab_free(rec, cl_rec_bytes(rec->namelen));
}


void cl_rec_settle(struct cl_sm *sm, struct cl_rec *rec)
{
	bool busy = rec->nholds || cl_rec_nwaiters(rec);
	const struct cl_index *idx = cl_rec_idx(rec);
	if (busy || !idx) {
		if (cl_rec_lru_tick(rec))
			cl_lru_remove(sm, rec);
	} else if (!idx->lru_tick) {
		cl_lru_append(sm, rec, ++sm->h.lru_clock);
	}
	if (!busy && !idx)
		rec_unlink_free(sm, rec);
}

void cl_sm_emit(struct cl_sm *sm, struct cl_action *a, const struct cl_rec *rec)
{
	if (rec) {
		a->name = rec->name;
		a->namelen = rec->namelen;
	}
	if (sm->act)
		sm->act(sm->act_ctx, a);
}

/* ---- holds and waiters ---- */


int cl_hold_add(struct cl_sm *sm, struct cl_rec *rec, uint32_t node, uint8_t mode,
		    uint64_t epoch, uint64_t orphan_seq)
{
	uint32_t n = rec->nholds;
	struct cl_live_count *live = orphan_seq ? NULL : live_of(sm, node);
	if ((!orphan_seq && !live) || n == UINT32_MAX) {   /* (one hold per node: never that many) */
		cl_sm_oom(sm);
		return -ENOMEM;
	}
	if (n && !(n & (n - 1))) {
		/* full: n is its room (a power of two); one in the record makes two */
		struct cl_hold *h = n == 1 ? malloc(2 * sizeof(*h))
					   : realloc(rec->hs.many, 2 * (size_t)n * sizeof(*h));
		if (!h) {
			cl_sm_oom(sm);
			return -ENOMEM;
		}
		if (n == 1)
			h[0] = rec->hs.one;
		rec->hs.many = h;
	}
	cl_rec_touch(sm, rec);
	(n ? rec->hs.many : &rec->hs.one)[n] = (struct cl_hold){ node, mode, epoch, orphan_seq };
	rec->nholds = n + 1;
	sm->holds++;
	if (orphan_seq)
		sm->orphans++;
	else
		live->n++;
	return 0;
}

static void hold_remove(struct cl_sm *sm, struct cl_rec *rec, struct cl_hold *h)
{
	struct cl_hold *v = cl_rec_holds(rec);
	size_t i = (size_t)(h - v);
	cl_rec_touch(sm, rec);
	sm->holds--;
	if (h->orphan_seq)
		sm->orphans--;
	else
		live_dec(sm, h->node);
	memmove(&v[i], &v[i + 1], (rec->nholds - i - 1) * sizeof(*h));
	if (--rec->nholds == 1) {
		struct cl_hold one = v[0];   /* the last one goes back into the record */
		free(v);
		rec->hs.one = one;
	}
}



static struct cl_waiter *waiter_of(struct cl_rec *rec, uint32_t node)
{
	struct cl_list *it;
	cl_list_foreach(it, cl_rec_waiters(rec)) {
		struct cl_waiter *w = cl_list_entry(it, struct cl_waiter, link);
		if (w->node == node)
			return w;
	}
	return NULL;
}

int cl_waiter_append(struct cl_sm *sm, struct cl_rec *rec, uint32_t node, uint8_t mode,
		     uint64_t req_id)
{
	struct cl_recx *x = cl_recx_get(rec);
	struct cl_waiter *w = x ? calloc(1, sizeof(*w)) : NULL;
	if (!w) {
		cl_recx_tidy(rec);
		cl_sm_oom(sm);
		return -ENOMEM;
	}
	w->node = node;
	w->mode = mode;
	w->req_id = req_id;
	cl_rec_touch(sm, rec);
	cl_list_add_tail(&x->waiters, &w->link);
	x->nwaiters++;
	sm->waiters++;
	return 0;
}

static void waiter_remove(struct cl_sm *sm, struct cl_rec *rec, struct cl_waiter *w)
{
	cl_rec_touch(sm, rec);
	cl_list_del(&w->link);
	rec->x->nwaiters--;
	sm->waiters--;
	free(w);
	cl_recx_tidy(rec);
}

/* Removes every waiter of node; returns how many. */
static uint32_t waiters_drop_node(struct cl_sm *sm, struct cl_rec *rec, uint32_t node)
{
	/* one at a time: removing the last frees the list's head (cl_recx_tidy()) */
	uint32_t n = 0;
	struct cl_waiter *w;
	while ((w = waiter_of(rec, node))) {
		waiter_remove(sm, rec, w);
		n++;
	}
	return n;
}

/*
 * Can a request of node in mode be granted next to the current holders?
 * Sets *conv when it is a conversion of node's own SH hold.
 */
static bool compatible(const struct cl_rec *rec, uint32_t node, uint8_t mode, bool *conv)
{
	*conv = false;
	if (rec->nholds == 0)
		return true;
	for (uint32_t i = 0; i < rec->nholds; i++)
		if (cl_rec_holds(rec)[i].orphan_seq)
			return false;
	if (rec->nholds == 1 && cl_rec_holds(rec)[0].node == node) {
		*conv = mode == CL_MODE_EX && cl_rec_holds(rec)[0].mode == CL_MODE_SH;
		return true;
	}
	if (mode != CL_MODE_SH)
		return false;
	for (uint32_t i = 0; i < rec->nholds; i++)
		if (cl_rec_holds(rec)[i].mode != CL_MODE_SH)
			return false;
	return true;
}

/*
 * 0 when the machine may grant, else the code a request is denied with:
 * not quorate, in the grace period of fresh state, or (split-capable quorum
 * modes) a departed node not yet fenced.
 */
int cl_sm_grant_block(const struct cl_sm *sm)
{
	if (sm->cfg.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK)
		return 0;
	if (!sm->h.quorate)
		return COROLEASE_ENOQUORUM;
	if (sm->h.grace)
		return COROLEASE_EGRACE;
	if (sm->h.nunfenced)
		return COROLEASE_EFENCING;
	return 0;
}

static bool grants_allowed(const struct cl_sm *sm)
{
	return cl_sm_grant_block(sm) == 0;
}

/*
 * The next epoch, or 0 when the term's range is used up (see
 * CL_EPOCH_TERM_SHIFT): the next term's epochs must stay above every epoch
 * of this one, including those a minority may grant in its last moments.
 */
static uint64_t next_epoch(const struct cl_sm *sm)
{
	uint64_t seq = sm->h.term.seq;
	if ((sm->cfg.unsafe_flags & CL_UNSAFE_EPOCH_NO_TERM) || !seq)
		return sm->h.epoch + 1;
	if (seq >= (UINT64_C(1) << (64 - CL_EPOCH_TERM_SHIFT)) - CL_RING_SEQ_STEP)
		return 0;
	uint64_t limit = (seq + CL_RING_SEQ_STEP) << CL_EPOCH_TERM_SHIFT;
	return sm->h.epoch + 1 < limit ? sm->h.epoch + 1 : 0;
}

/*
 * Tells every holder in the way that wanted_by asked for the name; waits:
 * it is queued (a NOWAIT try was denied and only informs the holder).
 */
static void emit_blocking(struct cl_sm *sm, struct cl_rec *rec, uint32_t wanted_by, uint8_t mode,
			  bool waits)
{
	for (uint32_t i = 0; i < rec->nholds; i++) {
		const struct cl_hold *h = &cl_rec_holds(rec)[i];
		if (h->orphan_seq || h->node == wanted_by)
			continue;
		struct cl_action a = { .type = CL_ACT_BLOCKING, .node = h->node, .owner = h->node,
				       .wanted_by = wanted_by, .waits = waits, .mode = mode,
				       .epoch = h->epoch };
		cl_sm_emit(sm, &a, rec);
	}
}

static void deny(struct cl_sm *sm, uint32_t node, uint64_t req_id, int err, uint32_t owner,
		 const uint8_t *name, uint16_t namelen)
{
	struct cl_action a = { .type = CL_ACT_DENY, .node = node, .req_id = req_id, .err = err,
			       .owner = owner, .name = name, .namelen = namelen };
	cl_sm_emit(sm, &a, NULL);
}

/*
 * Grants node in mode (new epoch), converting its SH hold if conv.  Returns
 * 0 (granted), 1 (denied with -EOVERFLOW: no epoch left in this term) or
 * -ENOMEM.
 */
static int grant(struct cl_sm *sm, struct cl_rec *rec, uint32_t node, uint8_t mode,
		 uint64_t req_id, bool conv)
{
	struct cl_hold *h = cl_rec_hold_of(rec, node);
	uint64_t epoch = 0;
	if (!h || conv) {
		epoch = next_epoch(sm);
		if (!epoch) {
			deny(sm, node, req_id, -EOVERFLOW, h ? node : 0, rec->name, rec->namelen);
			return 1;
		}
	}
	if (conv && h) {
		cl_rec_touch(sm, rec);
		h->mode = mode;
		h->epoch = epoch;
	} else if (h) {
		/* already holds a covering mode: answer with the existing epoch */
		epoch = h->epoch;
		mode = h->mode;
	} else {
		int rc = cl_hold_add(sm, rec, node, mode, epoch, 0);
		if (rc < 0)
			return rc;
	}
	if (epoch > sm->h.epoch)
		sm->h.epoch = epoch;
	struct cl_action a = { .type = CL_ACT_GRANT, .node = node, .mode = mode,
			       .req_id = req_id, .epoch = epoch };
	cl_sm_emit(sm, &a, rec);
	return 0;
}

/* Grants queued requests of rec while compatible; rec may be freed. */
static void grant_waiters(struct cl_sm *sm, struct cl_rec *rec)
{
	struct cl_waiter *w;
	while ((w = cl_rec_head_waiter(rec)) && grants_allowed(sm)) {
		bool conv;
		if (!compatible(rec, w->node, w->mode, &conv))
			break;
		int rc = grant(sm, rec, w->node, w->mode, w->req_id, conv);
		if (rc < 0)
			break;      /* out of memory: the machine is poisoned */
		waiter_remove(sm, rec, w);   /* granted, or denied for want of epochs */
	}
	if ((w = cl_rec_head_waiter(rec)) && grants_allowed(sm))
		emit_blocking(sm, rec, w->node, w->mode, true);
	cl_rec_settle(sm, rec);
}

/*
 * Collects the records for which pick() is true, sorted by cmp (NULL: in
 * table order, unsorted).  NULL and
 * *n_r = 0 if none, or on ENOMEM, which poisons the machine.
 */
struct cl_rec **cl_sm_collect(struct cl_sm *sm, bool (*pick)(const struct cl_rec *, uint32_t),
			      uint32_t arg, int (*cmp)(const void *, const void *), size_t *n_r)
{
	size_t n = 0, cap = 0;
	struct cl_rec **v = NULL;
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r) {
		if (!pick(r, arg))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct cl_rec **nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				/* never silently: the machine is poisoned, nothing collected */
				cl_sm_oom(sm);
				free(v);
				*n_r = 0;
				return NULL;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = r;
	}
	if (n > 1 && cmp)
		qsort(v, n, sizeof(*v), cmp);
	*n_r = n;
	return v;
}

/* The records for which pick() is true, in name order (see cl_sm_collect()). */
static struct cl_rec **collect_sorted(struct cl_sm *sm, bool (*pick)(const struct cl_rec *, uint32_t),
				      uint32_t arg, size_t *n_r)
{
	return cl_sm_collect(sm, pick, arg, cl_rec_name_order, n_r);
}

static bool pick_waiting(const struct cl_rec *r, uint32_t arg)
{
	(void)arg;
	return cl_rec_nwaiters(r) != 0;
}

bool cl_rec_held_by(const struct cl_rec *r, uint32_t node)
{
	for (uint32_t i = 0; i < r->nholds; i++)
		if (cl_rec_holds(r)[i].node == node)
			return true;
	return false;
}

static bool pick_holds_or_waits(const struct cl_rec *r, uint32_t node)
{
	if (cl_rec_held_by(r, node))
		return true;
	struct cl_list *it;
	cl_list_foreach(it, cl_rec_waiters(r))
		if (cl_list_entry(it, struct cl_waiter, link)->node == node)
			return true;
	return false;
}

static void grant_all_waiting(struct cl_sm *sm)
{
	if (!sm->waiters || !grants_allowed(sm))
		return;
	size_t n;
	struct cl_rec **v = collect_sorted(sm, pick_waiting, 0, &n);
	for (size_t i = 0; i < n; i++)
		grant_waiters(sm, v[i]);
	free(v);
}

/*
 * Frees node's orphaned holds with orphan seq <= upto (all if upto is
 * UINT64_MAX), in name order, then grants.  Returns the count freed.
 */
static uint64_t free_orphans(struct cl_sm *sm, uint32_t node, uint64_t upto)
{
	size_t n;
	uint64_t freed = 0;
	struct cl_rec **v = collect_sorted(sm, cl_rec_held_by, node, &n);
	for (size_t i = 0; i < n; i++) {
		struct cl_rec *rec = v[i];
		struct cl_hold *h = cl_rec_hold_of(rec, node);
		if (!h || !h->orphan_seq || h->orphan_seq > upto)
			continue;
		struct cl_action a = { .type = CL_ACT_RECOVERED, .node = node, .epoch = h->epoch };
		hold_remove(sm, rec, h);
		freed++;
		cl_sm_emit(sm, &a, rec);
		grant_waiters(sm, rec);
	}
	free(v);
	return freed;
}

/* ---- inputs ---- */

static bool valid_name(const struct cl_msg *m)
{
	return m->name && m->namelen >= 1 && m->namelen <= COROLEASE_NAME_MAX;
}

static int apply_acquire(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	if (!valid_name(m) || (m->mode != CL_MODE_EX && m->mode != CL_MODE_SH) ||
	    (m->flags & ~CL_ACQ_FLAGS_ALL))
		return -EINVAL;
	/*
	 * Not quorate: denied.  In a grace period or awaiting fence-ack: a WAIT
	 * request is queued (granted when the wait ends), others are denied.
	 */
	int block = cl_sm_grant_block(sm);
	bool queue_only = (block == COROLEASE_EGRACE || block == COROLEASE_EFENCING) &&
			  (m->flags & CL_ACQ_WAIT);
	if (block && !queue_only) {
		struct cl_rec *r = cl_rec_find(sm, m->name, m->namelen);
		deny(sm, sender, m->req_id, block, r ? cl_rec_owner(r) : 0, m->name, m->namelen);
		return 0;
	}
	struct cl_rec *rec = cl_rec_get(sm, m->name, m->namelen);
	if (!rec)
		return -ENOMEM;
	struct cl_hold *h = cl_rec_hold_of(rec, sender);
	struct cl_waiter *head = cl_rec_head_waiter(rec);
	bool conv;
	int rc = 0;
	if (queue_only) {
		goto conflict;
	} else if (h && !h->orphan_seq && (h->mode == CL_MODE_EX || m->mode == CL_MODE_SH)) {
		/* covered: the same epoch, or a new one in its mode when asked */
		bool renew = m->flags & CL_ACQ_NEW_EPOCH;
		rc = grant(sm, rec, sender, renew ? h->mode : m->mode, m->req_id, renew);
	} else if (h && !h->orphan_seq && compatible(rec, sender, m->mode, &conv)) {
		/* sole SH holder asking EX: convert, even with others queued */
		rc = grant(sm, rec, sender, m->mode, m->req_id, conv);
		if (rc == 0 && head)
			emit_blocking(sm, rec, head->node, head->mode, true);
	} else if (!head && compatible(rec, sender, m->mode, &conv)) {
		rc = grant(sm, rec, sender, m->mode, m->req_id, conv);
	} else {
conflict:;
		uint32_t owner = cl_rec_owner(rec);
		if (!owner && head)
			owner = head->node;
		emit_blocking(sm, rec, sender, m->mode, m->flags & CL_ACQ_WAIT);
		if (!(m->flags & CL_ACQ_WAIT)) {
			deny(sm, sender, m->req_id, -EBUSY, owner, m->name, m->namelen);
		} else {
			struct cl_waiter *w = waiter_of(rec, sender);
			uint8_t qmode = m->mode;
			if (w) {
				cl_rec_touch(sm, rec);
				if (m->mode == CL_MODE_EX)
					w->mode = CL_MODE_EX;
				w->req_id = m->req_id;
				qmode = w->mode;
			} else {
				rc = cl_waiter_append(sm, rec, sender, m->mode, m->req_id);
			}
			if (rc == 0) {
				struct cl_action a = { .type = CL_ACT_QUEUED, .node = sender,
						       .owner = owner, .mode = qmode,
						       .req_id = m->req_id };
				cl_sm_emit(sm, &a, rec);
			}
		}
	}
	cl_rec_settle(sm, rec);
	return rc < 0 ? rc : 0;   /* 1: denied for want of epochs */
}

static int apply_release(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	if (!valid_name(m))
		return -EINVAL;
	struct cl_rec *rec = cl_rec_find(sm, m->name, m->namelen);
	if (!rec)
		return 0;
	struct cl_hold *h = cl_rec_hold_of(rec, sender);
	if (!h || h->orphan_seq || h->epoch != m->epoch)
		return 0;           /* stale: released already, re-granted, or orphaned */
	struct cl_action a = { .type = CL_ACT_RELEASED, .node = sender, .epoch = h->epoch };
	hold_remove(sm, rec, h);
	cl_sm_emit(sm, &a, rec);
	grant_waiters(sm, rec);
	return 0;
}

static void admin_done(struct cl_sm *sm, uint32_t node, uint64_t req_id, int err, uint64_t count,
		       const struct cl_msg *m)
{
	struct cl_action a = { .type = CL_ACT_ADMIN_DONE, .node = node, .req_id = req_id,
			       .err = err, .count = count, .name = m->name, .namelen = m->namelen };
	cl_sm_emit(sm, &a, NULL);
}

static int apply_evict(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	if (!valid_name(m))
		return -EINVAL;
	struct cl_rec *rec = cl_rec_find(sm, m->name, m->namelen);
	if (!rec || !rec->nholds) {
		admin_done(sm, sender, m->req_id, -ENOENT, 0, m);
		return 0;
	}
	uint64_t n = 0;
	for (uint32_t i = 0; i < rec->nholds; i++) {
		const struct cl_hold *h = &cl_rec_holds(rec)[i];
		if (h->orphan_seq)
			continue;
		struct cl_action a = { .type = CL_ACT_REVOKE, .node = h->node, .owner = h->node,
				       .epoch = h->epoch, .wanted_by = sender };
		cl_sm_emit(sm, &a, rec);
		n++;
	}
	admin_done(sm, sender, m->req_id, n ? 0 : COROLEASE_EORPHANED, n, m);
	return 0;
}

/*
 * A lineage's term begins when it may grant for the first time in a ring
 * later than its term: quorate, out of the grace period of fresh state, and
 * (split-capable quorum modes) no departed node awaiting FENCE_ACK.  So
 * fresh state that waits cannot outrank at a merge a lineage with history.  The term is that ring and epochs continue above
 * its base (CL_EPOCH_TERM_SHIFT).  A side of a split that waits for a
 * fence-ack keeps its old term, so it cannot outrank at the merge a side
 * that was fence-acked and made progress (doc/state-machine.md).
 */
static void begin_term(struct cl_sm *sm, const struct cl_ring *ring)
{
	sm->h.term = *ring;
	uint64_t seq = ring->seq;
	if (!(sm->cfg.unsafe_flags & CL_UNSAFE_EPOCH_NO_TERM) &&
	    seq < (UINT64_C(1) << (64 - CL_EPOCH_TERM_SHIFT)) &&
	    sm->h.epoch < seq << CL_EPOCH_TERM_SHIFT)
		sm->h.epoch = seq << CL_EPOCH_TERM_SHIFT;
}

static void maybe_begin_term(struct cl_sm *sm)
{
	if (sm->h.quorate && !sm->h.nunfenced && !sm->h.grace &&
	    cl_ring_after(&sm->h.ring, &sm->h.term))
		begin_term(sm, &sm->h.ring);
}

/* Index of node in the sorted unfenced set, or -1. */
static int unfenced_index(const struct cl_sm *sm, uint32_t node)
{
	for (uint32_t i = 0; i < sm->h.nunfenced; i++)
		if (sm->h.unfenced[i] == node)
			return (int)i;
	return -1;
}

static void unfenced_remove(struct cl_sm *sm, uint32_t node)
{
	int i = unfenced_index(sm, node);
	if (i < 0)
		return;
	memmove(&sm->h.unfenced[i], &sm->h.unfenced[i + 1],
		(sm->h.nunfenced - (uint32_t)i - 1) * sizeof(uint32_t));
	sm->h.nunfenced--;
}

/* Adds node (sorted); a full set keeps blocking grants until fence-acks empty it. */
static void unfenced_add(struct cl_sm *sm, uint32_t node)
{
	if (unfenced_index(sm, node) >= 0 || sm->h.nunfenced == CL_MAX_UNFENCED)
		return;
	uint32_t i = sm->h.nunfenced;
	while (i > 0 && sm->h.unfenced[i - 1] > node) {
		sm->h.unfenced[i] = sm->h.unfenced[i - 1];
		i--;
	}
	sm->h.unfenced[i] = node;
	sm->h.nunfenced++;
}

/*
 * FENCE_ACK: an administrator (or the fencing hook) says node is fenced.
 * Frees all its orphaned holds and ends the wait for it in split-capable
 * quorum modes.  A current member is refused (ENODEALIVE) unless forced.
 */
static int apply_fence_ack(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	if (m->node == CL_NODE_NONE || (m->flags & ~CL_FENCE_FORCE))
		return -EINVAL;
	if (cl_sm_is_member(sm, m->node) && !(m->flags & CL_FENCE_FORCE)) {
		admin_done(sm, sender, m->req_id, COROLEASE_ENODEALIVE, 0, m);
		return 0;
	}
	unfenced_remove(sm, m->node);
	if (sm->h.grace && sm->h.split_mode)
		sm->h.grace = false;   /* fresh state with nodes missing: the operator says one is down */
	maybe_begin_term(sm);
	uint64_t n = free_orphans(sm, m->node, UINT64_MAX);
	admin_done(sm, sender, m->req_id, 0, n, m);
	grant_all_waiting(sm);
	return 0;
}

/* QUORUM: a member's votequorum verdict for the machine's ring. */
static int apply_quorum(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	(void)sender;
	if (m->flags & ~CL_QUORUM_FLAGS_ALL)
		return -EINVAL;
	if (m->ring.rep != sm->h.ring.rep || m->ring.seq != sm->h.ring.seq)
		return 0;           /* about another ring: stale */
	sm->h.split_mode = (m->flags & CL_QUORUM_SPLIT) &&
			   !(sm->cfg.unsafe_flags & CL_UNSAFE_SPLIT_TIMER);
	bool q = m->flags & CL_QUORUM_YES;
	if (q == sm->h.quorate)
		return 0;
	sm->h.quorate = q;
	maybe_begin_term(sm);
	struct cl_action a = { .type = CL_ACT_QUORUM, .mode = q };
	cl_sm_emit(sm, &a, NULL);
	if (q)
		grant_all_waiting(sm);
	return 0;
}

/* GRACE_END: the fresh lineage made in m->ring has waited out its grace period. */
static int apply_grace_end(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	(void)sender;
	if (!sm->h.grace || m->ring.rep != sm->h.grace_ring.rep ||
	    m->ring.seq != sm->h.grace_ring.seq)
		return 0;           /* stale or repeated */
	sm->h.grace = false;
	maybe_begin_term(sm);
	grant_all_waiting(sm);
	return 0;
}

static int apply_recover_node(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	(void)sender;
	if (m->node == CL_NODE_NONE)
		return -EINVAL;
	/*
	 * Only a partition that may grant frees orphans on a timer, and never
	 * those of a node awaiting FENCE_ACK (split-capable quorum modes).
	 */
	if (grants_allowed(sm) && unfenced_index(sm, m->node) < 0)
		free_orphans(sm, m->node, m->seq);
	return 0;
}

static int apply_nop(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	admin_done(sm, sender, m->req_id, 0, 0, m);
	return 0;
}

/* The machine's inputs, by message type; NULL: not an input of the machine. */
typedef int (*apply_fn)(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m);
static const apply_fn apply_table[CL_MSG_TYPE_MAX + 1] = {
	[CL_MSG_ACQUIRE] = apply_acquire,
	[CL_MSG_RELEASE] = apply_release,
	[CL_MSG_HANDOVER_DONE] = apply_release,
	[CL_MSG_EVICT] = apply_evict,
	[CL_MSG_RECOVER_NODE] = apply_recover_node,
	[CL_MSG_FENCE_ACK] = apply_fence_ack,
	[CL_MSG_INDEX_PUT] = cl_index_apply,
	[CL_MSG_INDEX_DEL] = cl_index_apply,
	[CL_MSG_NOP] = apply_nop,
	[CL_MSG_QUORUM] = apply_quorum,
	[CL_MSG_GRACE_END] = apply_grace_end,
};

int cl_sm_apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	if (sm->failed)
		return -ENOMEM;
	if (sender == CL_NODE_NONE || m->type > CL_MSG_TYPE_MAX || !apply_table[m->type])
		return -EINVAL;
	cl_sm_dirty_bound(sm);
	sm->h.lsn++;
	int rc = apply_table[m->type](sm, sender, m);
	if (sm->h.quorate)
		sm->h.q_lsn = sm->h.lsn;
	return sm->failed ? -ENOMEM : rc;
}


/* Orphans (or, under the unsafe switch, frees) node's holds; drops its waiters. */
static void node_departed(struct cl_sm *sm, uint32_t node, uint64_t seq)
{
	size_t n;
	struct cl_rec **v = collect_sorted(sm, pick_holds_or_waits, node, &n);
	for (size_t i = 0; i < n; i++) {
		struct cl_rec *rec = v[i];
		waiters_drop_node(sm, rec, node);
		struct cl_hold *h = cl_rec_hold_of(rec, node);
		if (h && !h->orphan_seq) {
			if (sm->cfg.unsafe_flags & CL_UNSAFE_NO_ORPHAN_WAIT) {
				struct cl_action a = { .type = CL_ACT_RECOVERED, .node = node,
						       .epoch = h->epoch };
				hold_remove(sm, rec, h);
				cl_sm_emit(sm, &a, rec);
			} else {
				cl_rec_touch(sm, rec);
				h->orphan_seq = seq;
				sm->orphans++;
				live_dec(sm, h->node);
			}
		}
		grant_waiters(sm, rec);
	}
	free(v);
}

int cl_sm_confchg(struct cl_sm *sm, const struct cl_ring *ring,
		  const uint32_t *members, size_t nmembers,
		  const uint32_t *left, size_t nleft)
{
	if (sm->failed)
		return -ENOMEM;
	if (nmembers > CL_MAX_MEMBERS || !ring || (nmembers && !members) || (nleft && !left))
		return -EINVAL;
	uint32_t sorted[CL_MAX_MEMBERS];
	if (nmembers)
		memcpy(sorted, members, nmembers * sizeof(*sorted));
	qsort(sorted, nmembers, sizeof(*sorted), cl_u32_cmp);
	for (size_t i = 0; i < nmembers; i++)
		if (sorted[i] == CL_NODE_NONE || (i && sorted[i] == sorted[i - 1]))
			return -EINVAL;
	sm->h.lsn++;
	sm->h.ring = *ring;
	memcpy(sm->h.members, sorted, nmembers * sizeof(*sorted));
	sm->h.nmembers = (uint32_t)nmembers;
	/*
	 * A node that is back in the ring needs no fence-ack: while it was away
	 * both sides waited for one and granted nothing.  Its orphans stay
	 * until it recovers them itself (or is fence-acked).
	 *
	 * If that ends the wait, the requests queued during it must be granted,
	 * but not here: the return is a join, so a sync round follows, and
	 * after a split both sides' machines apply this change, each quorate on
	 * its own.  Granting here would give one name to a waiter on each side.
	 * So the machine stops being quorate; the QUORUM that every member sends
	 * after the round (in its new term) grants the waiters, once, in the
	 * state the round agreed on.
	 */
	uint32_t was_unfenced = sm->h.nunfenced;
	for (size_t i = 0; i < nmembers; i++)
		unfenced_remove(sm, sorted[i]);
	bool wait_over = was_unfenced && !sm->h.nunfenced;
	if (nleft || wait_over) {
		if (sm->h.quorate) {
			sm->h.quorate = false;
			struct cl_action a = { .type = CL_ACT_QUORUM, .mode = 0 };
			cl_sm_emit(sm, &a, NULL);
		}
	}
	if (nleft) {
		uint64_t seq = ++sm->h.orphan_seq;
		uint32_t gone[CL_MAX_MEMBERS * 2];
		size_t ng = nleft < CL_MAX_MEMBERS * 2 ? nleft : CL_MAX_MEMBERS * 2;
		memcpy(gone, left, ng * sizeof(*gone));
		qsort(gone, ng, sizeof(*gone), cl_u32_cmp);
		for (size_t i = 0; i < ng; i++) {
			if (gone[i] == CL_NODE_NONE || (i && gone[i] == gone[i - 1]) ||
			    cl_sm_is_member(sm, gone[i]))
				continue;
			node_departed(sm, gone[i], seq);
			if (sm->h.split_mode)
				unfenced_add(sm, gone[i]);
		}
	}
	if (sm->h.quorate)
		sm->h.q_lsn = sm->h.lsn;
	return sm->failed ? -ENOMEM : 0;
}

/* ---- test-only switches ---- */

static const struct {
	const char *name;
	unsigned flag;
} unsafe_names[] = {
	{ "no-quorum", CL_UNSAFE_NO_QUORUM_CHECK },
	{ "no-orphan-wait", CL_UNSAFE_NO_ORPHAN_WAIT },
	{ "no-term", CL_UNSAFE_NO_TERM },
	{ "epoch-no-term", CL_UNSAFE_EPOCH_NO_TERM },
	{ "split-timer", CL_UNSAFE_SPLIT_TIMER },
	{ "anchor-own", CL_UNSAFE_ANCHOR_OWN },
	{ "no-grant-ack", CL_UNSAFE_NO_GRANT_ACK },
	{ "votes-own", CL_UNSAFE_VOTES_OWN },
};

unsigned cl_unsafe_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(unsafe_names) / sizeof(unsafe_names[0]); i++)
		if (strlen(unsafe_names[i].name) == len && !memcmp(name, unsafe_names[i].name, len))
			return unsafe_names[i].flag;
	return 0;
}

const char *cl_unsafe_name(unsigned flag)
{
	for (size_t i = 0; i < sizeof(unsafe_names) / sizeof(unsafe_names[0]); i++)
		if (unsafe_names[i].flag == flag)
			return unsafe_names[i].name;
	return NULL;
}

/* ---- lifecycle ---- */

struct cl_sm *cl_sm_new(const struct cl_sm_config *cfg, cl_action_fn fn, void *ctx)
{
	struct cl_sm *sm = calloc(1, sizeof(*sm));
	if (!sm)
		return NULL;
	if (cfg)
		sm->cfg = *cfg;
	sm->h.index_mem_max = sm->cfg.index_mem_max ? sm->cfg.index_mem_max : 64u << 20;
	sm->h.index_bytes_per_uid = sm->cfg.index_bytes_per_uid;
	sm->act = fn;
	sm->act_ctx = ctx;
	static uint64_t serials;
	sm->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	cl_list_init(&sm->lru);
	if (cl_htab_init(&sm->recs, 1024) < 0) {
		free(sm);
		return NULL;
	}
	if (cl_index_init(sm) < 0) {
		cl_htab_fini(&sm->recs);
		free(sm);
		return NULL;
	}
	return sm;
}

struct cl_sm *cl_sm_free(struct cl_sm *sm)
{
	if (!sm)
		return NULL;
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r) {
		struct cl_waiter *w;
		while ((w = cl_rec_head_waiter(r)))
			waiter_remove(sm, r, w);
		cl_index_free(sm, r);
		rec_unlink_free(sm, r);
	}
	cl_htab_fini(&sm->recs);
	cl_index_fini(sm);
	free(sm->dirty);
	free(sm->live);
	free(sm);
	return NULL;
}

void cl_sm_start_grace(struct cl_sm *sm, const struct cl_ring *ring)
{
	sm->h.grace = true;
	sm->h.grace_ring = *ring;
}

/* ---- holds dropped by a state load ---- */

void cl_sm_raise_epoch(struct cl_sm *sm, uint64_t floor)
{
	if (sm->h.epoch < floor)
		sm->h.epoch = floor;
}

void cl_sm_merge_term(struct cl_sm *sm, const struct cl_ring *ring)
{
	sm->h.lsn++;
	/*
	 * Only a lineage that may grant takes a term: a minority (or a side
	 * awaiting a fence-ack, or fresh state in its grace) that merged
	 * lineages must not outrank the majority at the next heal.
	 */
	if (sm->h.quorate && !sm->h.nunfenced && !sm->h.grace && cl_ring_after(ring, &sm->h.term))
		begin_term(sm, ring);
}

uint64_t cl_sm_begin_dropped(struct cl_sm *sm)
{
	sm->h.lsn++;
	return ++sm->h.orphan_seq;
}

int cl_sm_orphan_dropped(struct cl_sm *sm, uint32_t node, const uint8_t *name, uint16_t namelen,
			 uint8_t mode, uint64_t epoch, uint64_t seq)
{
	if (sm->failed)
		return -ENOMEM;
	if (node == CL_NODE_NONE || !name || namelen < 1 || namelen > COROLEASE_NAME_MAX ||
	    (mode != CL_MODE_EX && mode != CL_MODE_SH) || !epoch || !seq || seq > sm->h.orphan_seq)
		return -EINVAL;
	cl_sm_dirty_bound(sm);
	sm->h.lsn++;
	/* the loser's epochs may run past this lineage's counter: stay above them */
	if (epoch > sm->h.epoch)
		sm->h.epoch = epoch;
	struct cl_rec *rec = cl_rec_get(sm, name, namelen);
	if (!rec)
		return -ENOMEM;
	struct cl_hold *h = cl_rec_hold_of(rec, node);
	int rc = 0;
	if (!h) {
		rc = cl_hold_add(sm, rec, node, mode, epoch, seq);
	} else if (!h->orphan_seq && h->epoch != epoch) {
		cl_rec_touch(sm, rec);
		h->orphan_seq = seq;       /* a re-grant it cannot trust: its clients are revoked */
		sm->orphans++;
		live_dec(sm, h->node);
	}
	cl_rec_settle(sm, rec);
	return rc;
}
