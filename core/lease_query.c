/*
 * lease_query.c - the machine's read side: queries, the state hash, names for logs.  Contract: lease.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "state.h"

bool cl_sm_failed(const struct cl_sm *sm)
{
	return sm->failed;
}

uint64_t cl_sm_live_holds_of(const struct cl_sm *sm, uint32_t node)
{
	for (uint32_t i = 0; i < sm->nlive; i++)
		if (sm->live[i].node == node)
			return sm->live[i].n;
	return 0;
}

uint64_t cl_sm_live_holds_of_full(const struct cl_sm *sm, uint32_t node)
{
	uint64_t n = 0;
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r) {
		const struct cl_hold *h = cl_rec_hold_of(r, node);
		n += h && !h->orphan_seq;
	}
	return n;
}

bool cl_sm_unfenced(const struct cl_sm *sm, uint32_t node)
{
	for (uint32_t i = 0; i < sm->h.nunfenced; i++)
		if (sm->h.unfenced[i] == node)
			return true;
	return false;
}

bool cl_sm_quorate(const struct cl_sm *sm)
{
	return sm->h.quorate;
}

uint32_t cl_sm_nunfenced(const struct cl_sm *sm)
{
	return sm->h.nunfenced;
}

bool cl_sm_awaiting_fence(const struct cl_sm *sm)
{
	return sm->h.nunfenced != 0;
}

const struct cl_ring *cl_sm_ring(const struct cl_sm *sm)
{
	return &sm->h.ring;
}

void cl_sm_foreach_orphan(const struct cl_sm *sm, cl_sm_hold_fn fn, void *ctx)
{
	if (!sm->orphans)
		return;
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r) {
		for (uint32_t i = 0; i < r->nholds; i++) {
			const struct cl_hold *h = &cl_rec_holds(r)[i];
			if (!h->orphan_seq)
				continue;
			struct cl_hold_info hi = { h->node, h->mode, h->epoch, h->orphan_seq };
			fn(ctx, r->name, r->namelen, &hi);
		}
	}
}

bool cl_sm_is_member(const struct cl_sm *sm, uint32_t node)
{
	return bsearch(&node, sm->h.members, sm->h.nmembers, sizeof(node), cl_u32_cmp) != NULL;
}

void cl_sm_stats(const struct cl_sm *sm, struct cl_sm_stats *st)
{
	/*
	 * Every byte zeroed as by one memset of the whole, in the ways that are
	 * fast for each part: a copy of zeroes up to members[] (a memset of the
	 * whole compiles to a string instruction, slow to start, and the
	 * simulator asks after every event), then below, the used members
	 * copied and the rest cleared.
	 */
	static const struct cl_sm_stats zero;
	memcpy(st, &zero, offsetof(struct cl_sm_stats, members));
	st->lsn = sm->h.lsn;
	st->q_lsn = sm->h.q_lsn;
	st->epoch = sm->h.epoch;
	st->orphan_seq = sm->h.orphan_seq;
	st->records = sm->recs.n;
	st->holds = sm->holds;
	st->orphans = sm->orphans;
	st->waiters = sm->waiters;
	st->index_bytes = sm->index_bytes;
	st->index_mem_max = sm->h.index_mem_max;
	st->index_bytes_per_uid = sm->h.index_bytes_per_uid;
	st->index_uids = cl_index_uids(sm);
	st->term = sm->h.term;
	st->grace = sm->h.grace;
	st->grace_ring = sm->h.grace_ring;
	st->split_mode = sm->h.split_mode;
	st->nunfenced = sm->h.nunfenced;
	st->index_evictions = sm->h.index_evictions;
	st->quorate = sm->h.quorate;
	st->ring = sm->h.ring;
	st->nmembers = sm->h.nmembers;
	memcpy(st->members, sm->h.members, sm->h.nmembers * sizeof(uint32_t));
	memset(st->members + sm->h.nmembers, 0,
	       (size_t)((char *)(st + 1) - (char *)(st->members + sm->h.nmembers)));
}

static void fill_info(const struct cl_rec *r, struct cl_lease_info *info)
{
	memset(info, 0, sizeof(*info));
	info->name = r->name;
	info->namelen = r->namelen;
	info->mode = r->nholds ? cl_rec_holds(r)[0].mode : CL_MODE_NONE;
	const struct cl_hold *h = cl_rec_owner_hold(r);
	if (h) {
		info->owner = h->node;
		info->owner_epoch = h->epoch;
		info->owner_orphaned = h->orphan_seq != 0;
	}
	info->nholders = r->nholds;
	info->nwaiters = cl_rec_nwaiters(r);
	const struct cl_index *idx = cl_rec_idx(r);
	info->version = idx ? idx->version : 0;
	info->nkeys = idx ? idx->n : 0;
	info->index_uid = idx ? idx->uid : 0;
	info->lru_tick = cl_rec_lru_tick(r);
}

int cl_sm_lookup(const struct cl_sm *sm, const void *name, size_t namelen,
		 struct cl_lease_info *info_r,
		 struct cl_hold_info *holds_r, size_t max_holds,
		 struct cl_waiter_info *waiters_r, size_t max_waiters)
{
	const struct cl_rec *r = cl_rec_find(sm, name, namelen);
	if (!r)
		return -ENOENT;
	if (info_r)
		fill_info(r, info_r);
	for (size_t i = 0; holds_r && i < r->nholds && i < max_holds; i++) {
		const struct cl_hold *h = &cl_rec_holds(r)[i];
		holds_r[i] = (struct cl_hold_info){ h->node, h->mode, h->epoch, h->orphan_seq };
	}
	size_t i = 0;
	struct cl_list *it;
	if (waiters_r)
		cl_list_foreach(it, cl_rec_waiters(r)) {
			if (i == max_waiters)
				break;
			const struct cl_waiter *w = cl_list_entry(it, struct cl_waiter, link);
			waiters_r[i++] = (struct cl_waiter_info){ w->node, w->mode, w->req_id };
		}
	return 0;
}

uint32_t cl_sm_owner(const struct cl_sm *sm, const void *name, size_t namelen)
{
	const struct cl_rec *r = cl_rec_find(sm, name, namelen);
	return r ? cl_rec_owner(r) : CL_NODE_NONE;
}

uint64_t cl_sm_hold_epoch(const struct cl_sm *sm, const void *name, size_t namelen,
			  uint32_t node, uint8_t *mode_r)
{
	struct cl_rec *r = cl_rec_find(sm, name, namelen);
	struct cl_hold *h = r ? cl_rec_hold_of(r, node) : NULL;
	if (!h || h->orphan_seq) {
		if (mode_r)
			*mode_r = CL_MODE_NONE;
		return 0;
	}
	if (mode_r)
		*mode_r = h->mode;
	return h->epoch;
}

int cl_sm_foreach(const struct cl_sm *sm, cl_sm_iter_fn fn, void *ctx)
{
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r) {
		struct cl_lease_info info;
		fill_info(r, &info);
		int rc = fn(ctx, &info);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t cl_sm_scan(const struct cl_sm *sm, uint64_t cursor, cl_sm_iter_fn fn, void *ctx)
{
	for (struct cl_hnode *e = cl_htab_scan_chain(&sm->recs, cursor); e; e = e->next) {
		struct cl_lease_info info;
		fill_info(cl_container_of(e, struct cl_rec, hn), &info);
		fn(ctx, &info);
	}
	return cl_htab_scan_next(&sm->recs, cursor);
}

uint64_t cl_sm_scan_some(const struct cl_sm *sm, uint64_t cursor, uint32_t budget,
			 cl_sm_iter_fn fn, void *ctx, uint32_t *spent_r)
{
	uint32_t spent = 0;
	do {
		bool stop = false;
		uint32_t cost = 0;
		for (struct cl_hnode *e = cl_htab_scan_chain(&sm->recs, cursor); e; e = e->next) {
			struct cl_lease_info info;
			fill_info(cl_container_of(e, struct cl_rec, hn), &info);
			stop |= fn(ctx, &info) != 0;
			cost++;
		}
		spent += cost ? cost : 1;
		cursor = cl_htab_scan_next(&sm->recs, cursor);
		if (stop)
			break;
	} while (cursor && spent < budget);
	if (spent_r)
		*spent_r = spent;
	return cursor;
}

uint64_t cl_sm_scan_holds_of(const struct cl_sm *sm, uint64_t cursor, uint32_t budget,
			     uint32_t node, cl_sm_hold_pick_fn pick, void *ctx)
{
	uint32_t spent = 0;
	do {
		uint32_t cost = 0;
		for (struct cl_hnode *e = cl_htab_scan_chain(&sm->recs, cursor); e; e = e->next) {
			const struct cl_rec *r = cl_container_of(e, struct cl_rec, hn);
			const struct cl_hold *h = cl_rec_hold_of(r, node);
			if (h) {
				struct cl_hold_info hi = { h->node, h->mode, h->epoch, h->orphan_seq };
				(void)pick(ctx, r->name, r->namelen, &hi);
			}
			cost++;
		}
		spent += cost ? cost : 1;
		cursor = cl_htab_scan_next(&sm->recs, cursor);
	} while (cursor && spent < budget);
	return cursor;
}

uint64_t cl_sm_serial(const struct cl_sm *sm)
{
	return sm->serial;
}

void cl_sm_foreach_hold_of_picked(const struct cl_sm *sm, uint32_t node, cl_sm_hold_pick_fn pick,
				  cl_sm_hold_fn fn, void *ctx)
{
	size_t n, k = 0;
	/* in table order; ENOMEM poisons the machine and nothing is called */
	struct cl_rec **v = cl_sm_collect((struct cl_sm *)sm, cl_rec_held_by, node, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const struct cl_hold *h = cl_rec_hold_of(v[i], node);
		if (!h)
			continue;   /* cannot happen: collected because node holds */
		struct cl_hold_info hi = { h->node, h->mode, h->epoch, h->orphan_seq };
		if (!pick || pick(ctx, v[i]->name, v[i]->namelen, &hi))
			v[k++] = v[i];   /* only the picked ones are sorted */
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cl_rec_name_order);
	for (size_t i = 0; i < k; i++) {
		const struct cl_hold *h = cl_rec_hold_of(v[i], node);
		if (!h)
			continue;
		struct cl_hold_info hi = { h->node, h->mode, h->epoch, h->orphan_seq };
		fn(ctx, v[i]->name, v[i]->namelen, &hi);
	}
	free(v);
}

void cl_sm_foreach_hold_of(const struct cl_sm *sm, uint32_t node, cl_sm_hold_fn fn, void *ctx)
{
	cl_sm_foreach_hold_of_picked(sm, node, NULL, fn, ctx);
}

static uint64_t rec_hash(const struct cl_rec *r)
{
	uint64_t h = cl_hash_bytes(0x7265636f7264ULL, r->name, r->namelen);
	h = cl_hash_u64(h, r->nholds);
	for (uint32_t i = 0; i < r->nholds; i++) {
		const struct cl_hold *x = &cl_rec_holds(r)[i];
		h = cl_hash_u64(h, ((uint64_t)x->node << 8) | x->mode);
		h = cl_hash_u64(h, x->epoch);
		h = cl_hash_u64(h, x->orphan_seq);
	}
	h = cl_hash_u64(h, cl_rec_nwaiters(r));
	struct cl_list *it;
	cl_list_foreach(it, cl_rec_waiters(r)) {
		const struct cl_waiter *w = cl_list_entry(it, struct cl_waiter, link);
		h = cl_hash_u64(h, ((uint64_t)w->node << 8) | w->mode);
		h = cl_hash_u64(h, w->req_id);
	}
	h = cl_hash_u64(h, cl_rec_lru_tick(r));
	struct cl_index *idx = cl_rec_idx(r);   /* cl_index_hash() keeps its hash */
	h = cl_hash_u64(h, idx ? cl_index_hash(idx) : 0);
	return h;
}

uint64_t cl_sm_hash_cached(struct cl_sm *sm)
{
	uint64_t counts[5] = { sm->recs.n, sm->holds, sm->orphans, sm->waiters, sm->index_bytes };
	if (sm->hash_ok && !memcmp(&sm->hash_h, &sm->h, sizeof(sm->h)) &&
	    !memcmp(sm->hash_counts, counts, sizeof(counts)))
		return sm->hash_val;
	sm->hash_val = cl_sm_hash(sm);
	memcpy(&sm->hash_h, &sm->h, sizeof(sm->h));
	memcpy(sm->hash_counts, counts, sizeof(counts));
	sm->hash_ok = true;
	return sm->hash_val;
}

/* The hash of the state from sum, the sum of every record's hash. */
static uint64_t hash_with(const struct cl_sm *sm, uint64_t sum);

uint64_t cl_sm_hash_full(const struct cl_sm *sm)
{
	uint64_t sum = 0;
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r)
		sum += rec_hash(r);
	return hash_with(sm, sum);
}

/*
 * The running sum brought up to date: the records touched since the last
 * hash (or, after the dirty list could not grow, every record) get their
 * hash again.  Logically const: the state is not changed, only what is
 * remembered of its hash.
 */
uint64_t cl_sm_hash(const struct cl_sm *csm)
{
	struct cl_sm *sm = (struct cl_sm *)csm;
	if (sm->rebuild) {
		sm->hsum = 0;
		struct cl_htab_iter it;
		FOREACH_REC(sm, it, e, r) {
			r->hc = rec_hash(r);
			r->dirty_at = 0;
			sm->hsum += r->hc;
		}
		sm->ndirty = 0;
		sm->rebuild = false;
	}
	for (size_t i = 0; i < sm->ndirty; i++) {
		struct cl_rec *r = sm->dirty[i];
		sm->hsum -= r->hc;
		r->hc = rec_hash(r);
		sm->hsum += r->hc;
		r->dirty_at = 0;
	}
	sm->ndirty = 0;
	if (sm->cap_dirty > CL_DIRTY_KEEP) {
		/* the list of one input that touched many records is not kept */
		struct cl_rec **d = realloc(sm->dirty, CL_DIRTY_KEEP * sizeof(*d));
		if (d) {
			sm->dirty = d;
			sm->cap_dirty = CL_DIRTY_KEEP;
		}
	}
	return hash_with(sm, sm->hsum);
}

static uint64_t hash_with(const struct cl_sm *sm, uint64_t sum)
{
	uint64_t h = cl_hash_u64(0x736d, sum);
	h = cl_hash_u64(h, sm->recs.n);
	h = cl_hash_u64(h, sm->h.lsn);
	h = cl_hash_u64(h, sm->h.q_lsn);
	h = cl_hash_u64(h, sm->h.epoch);
	h = cl_hash_u64(h, sm->h.orphan_seq);
	h = cl_hash_u64(h, sm->h.quorate);
	h = cl_hash_u64(h, sm->h.ring.rep);
	h = cl_hash_u64(h, sm->h.ring.seq);
	h = cl_hash_u64(h, sm->h.lru_clock);
	h = cl_hash_u64(h, sm->h.index_evictions);
	h = cl_hash_u64(h, sm->index_bytes);
	h = cl_hash_bytes(h, sm->h.members, 0);
	for (uint32_t i = 0; i < sm->h.nmembers; i++)
		h = cl_hash_u64(h, sm->h.members[i]);
	h = cl_hash_u64(h, sm->h.term.rep);
	h = cl_hash_u64(h, sm->h.term.seq);
	h = cl_hash_u64(h, ((uint64_t)sm->h.split_mode << 1) | sm->h.grace);
	h = cl_hash_u64(h, sm->h.grace_ring.rep);
	h = cl_hash_u64(h, sm->h.grace_ring.seq);
	h = cl_hash_u64(h, sm->h.index_mem_max);
	h = cl_hash_u64(h, sm->h.index_bytes_per_uid);
	h = cl_hash_u64(h, sm->h.nunfenced);
	for (uint32_t i = 0; i < sm->h.nunfenced; i++)
		h = cl_hash_u64(h, sm->h.unfenced[i]);
	return h;
}


/* ---- names ---- */

const char *cl_msg_type_name(unsigned type)
{
	switch (type) {
	case CL_MSG_ACQUIRE: return "acquire";
	case CL_MSG_RELEASE: return "release";
	case CL_MSG_HANDOVER_DONE: return "handover-done";
	case CL_MSG_EVICT: return "evict";
	case CL_MSG_RECOVER_NODE: return "recover-node";
	case CL_MSG_FENCE_ACK: return "fence-ack";
	case CL_MSG_INDEX_PUT: return "index-put";
	case CL_MSG_INDEX_DEL: return "index-del";
	case CL_MSG_NOP: return "nop";
	case CL_MSG_QUORUM: return "quorum";
	case CL_MSG_GRACE_END: return "grace-end";
	case CL_MSG_SYNC_ANNOUNCE: return "sync-announce";
	case CL_MSG_SYNC_CHUNK: return "sync-chunk";
	case CL_MSG_SYNC_HOLDS: return "sync-holds";
	case CL_MSG_WRITE_ACK: return "write-ack";
	default: return "unknown";
	}
}

const char *cl_mode_name(unsigned mode)
{
	switch (mode) {
	case CL_MODE_EX: return "EX";
	case CL_MODE_SH: return "SH";
	case CL_MODE_NONE: return "-";
	default: return "?";
	}
}

const char *cl_action_type_name(unsigned type)
{
	static const char *const names[] = {
		[CL_ACT_GRANT] = "grant", [CL_ACT_QUEUED] = "queued", [CL_ACT_DENY] = "deny",
		[CL_ACT_BLOCKING] = "blocking", [CL_ACT_REVOKE] = "revoke",
		[CL_ACT_RELEASED] = "released", [CL_ACT_RECOVERED] = "recovered",
		[CL_ACT_INDEX_DONE] = "index-done", [CL_ACT_INDEX_CHANGED] = "index-changed",
		[CL_ACT_INDEX_EVICTED] = "index-evicted", [CL_ACT_ADMIN_DONE] = "admin-done",
		[CL_ACT_QUORUM] = "quorum",
	};
	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}
