/*
 * lease_snap.c - snapshot support of the machine: describing records for the encoder, and the restore path.  Contract: lease.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "state.h"

void cl_sm_get_header(const struct cl_sm *sm, struct cl_sm_header *h)
{
	*h = sm->h;
}

/* Grows *v (of elem-sized items, capacity *cap) to hold n.  0 or -ENOMEM. */
static int fit(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n <= *cap)
		return 0;
	if (n > SIZE_MAX / elem)
		return -ENOMEM;
	void *p = realloc(*v, n * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

int cl_record_scratch_fit(struct cl_record_scratch *sc, size_t nholds, size_t nwaiters,
			  size_t nentries)
{
	if (fit((void **)&sc->holds, &sc->cap_holds, nholds, sizeof(*sc->holds)) < 0 ||
	    fit((void **)&sc->waiters, &sc->cap_waiters, nwaiters, sizeof(*sc->waiters)) < 0 ||
	    fit((void **)&sc->entries, &sc->cap_entries, nentries, sizeof(*sc->entries)) < 0)
		return -ENOMEM;
	return 0;
}

void cl_record_scratch_free(struct cl_record_scratch *sc)
{
	free(sc->holds);
	free(sc->waiters);
	free(sc->entries);
	memset(sc, 0, sizeof(*sc));
}

/* Describes r whole in *ri, using sc's arrays.  0 or -ENOMEM. */
static int describe_rec(const struct cl_rec *r, struct cl_record_scratch *sc,
			struct cl_record_info *ri)
{
	const struct cl_index *idx = cl_rec_idx(r);
	uint32_t ne = idx ? idx->n : 0;
	if (cl_record_scratch_fit(sc, r->nholds, cl_rec_nwaiters(r), ne) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->nholds; i++) {
		const struct cl_hold *h = &cl_rec_holds(r)[i];
		sc->holds[i] = (struct cl_hold_info){ h->node, h->mode, h->epoch, h->orphan_seq };
	}
	uint32_t i = 0;
	struct cl_list *it;
	cl_list_foreach(it, cl_rec_waiters(r)) {
		const struct cl_waiter *w = cl_list_entry(it, struct cl_waiter, link);
		sc->waiters[i++] = (struct cl_waiter_info){ w->node, w->mode, w->req_id };
	}
	for (i = 0; idx && i < ne; i++) {
		const struct cl_entry *e = idx->e[i];
		sc->entries[i] = (struct cl_entry_info){ e->data, e->keylen, e->data + e->keylen,
							 e->vallen, e->version };
	}
	*ri = (struct cl_record_info){
		.name = r->name, .namelen = r->namelen,
		.version = idx ? idx->version : 0, .lru_tick = cl_rec_lru_tick(r),
		.uid = idx ? idx->uid : 0,
		.nholds = r->nholds, .nwaiters = cl_rec_nwaiters(r), .nentries = ne,
		.holds = sc->holds, .waiters = sc->waiters, .entries = sc->entries,
	};
	return 0;
}

/*
 * In name order, not the table's: the table's order depends on its key,
 * which differs from host to host, and a snapshot is the same bytes for the
 * same state wherever it is made.  Costs a pointer per record while it runs.
 */
uint64_t cl_sm_scan_records(const struct cl_sm *sm, uint64_t cursor,
			    struct cl_record_scratch *sc, cl_sm_record_fn fn, void *ctx, int *rc_r)
{
	*rc_r = 0;
	for (struct cl_hnode *e = cl_htab_scan_chain(&sm->recs, cursor); e; e = e->next) {
		struct cl_record_info ri;
		int rc = describe_rec(cl_container_of(e, struct cl_rec, hn), sc, &ri);
		if (rc == 0)
			rc = fn(ctx, &ri);
		if (rc != 0) {
			*rc_r = rc;
			return 0;
		}
	}
	return cl_htab_scan_next(&sm->recs, cursor);
}

int cl_sm_foreach_record(const struct cl_sm *sm, cl_sm_record_fn fn, void *ctx)
{
	size_t n = 0;
	const struct cl_rec **v = malloc((sm->recs.n ? sm->recs.n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;   /* sm unchanged: a read is refused, nothing poisoned */
	struct cl_htab_iter it;
	FOREACH_REC(sm, it, e, r)
		v[n++] = r;
	if (n > 1)
		qsort(v, n, sizeof(*v), cl_rec_name_order);
	struct cl_record_scratch sc = { 0 };
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct cl_record_info ri;
		rc = describe_rec(v[i], &sc, &ri);
		if (rc == 0)
			rc = fn(ctx, &ri);
	}
	cl_record_scratch_free(&sc);
	free(v);
	return rc;
}

int cl_sm_restore_header(struct cl_sm *sm, const struct cl_sm_header *h)
{
	if (sm->h.lsn || sm->recs.n || h->nmembers > CL_MAX_MEMBERS || h->q_lsn > h->lsn ||
	    h->lru_clock > h->lsn || h->nunfenced > CL_MAX_UNFENCED || !h->index_mem_max)
		return -EINVAL;
	for (uint32_t i = 0; i < h->nmembers; i++)
		if (h->members[i] == CL_NODE_NONE || (i && h->members[i] <= h->members[i - 1]))
			return -EINVAL;
	for (uint32_t i = 0; i < h->nunfenced; i++)
		if (h->unfenced[i] == CL_NODE_NONE || (i && h->unfenced[i] <= h->unfenced[i - 1]))
			return -EINVAL;
	sm->h = *h;
	return 0;
}

static bool valid_mode(uint8_t m)
{
	return m == CL_MODE_EX || m == CL_MODE_SH;
}

int cl_sm_restore_record(struct cl_sm *sm, const struct cl_record_info *ri)
{
	if (ri->namelen < 1 || ri->namelen > COROLEASE_NAME_MAX || !ri->name)
		return -EINVAL;
	if (!ri->nholds && !ri->nwaiters && !ri->nentries)
		return -EINVAL;     /* an empty record is never kept */
	if (cl_rec_find(sm, ri->name, ri->namelen))
		return -EINVAL;     /* duplicate */
	bool busy = ri->nholds || ri->nwaiters;
	if (busy ? ri->lru_tick != 0 : (ri->lru_tick == 0 || ri->lru_tick > sm->h.lru_clock))
		return -EINVAL;
	for (uint32_t i = 0; i < ri->nholds; i++) {
		const struct cl_hold_info *h = &ri->holds[i];
		if (h->node == CL_NODE_NONE || !valid_mode(h->mode) || h->epoch == 0 ||
		    h->epoch > sm->h.epoch || h->orphan_seq > sm->h.orphan_seq)
			return -EINVAL;
		if (h->mode == CL_MODE_EX && !h->orphan_seq)
			for (uint32_t j = 0; j < ri->nholds; j++)
				if (j != i && !ri->holds[j].orphan_seq)
					return -EINVAL;   /* a live EX hold stands alone */
		for (uint32_t j = 0; j < i; j++)
			if (ri->holds[j].node == h->node)
				return -EINVAL;
	}
	for (uint32_t i = 0; i < ri->nwaiters; i++) {
		const struct cl_waiter_info *w = &ri->waiters[i];
		if (w->node == CL_NODE_NONE || !valid_mode(w->mode))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (ri->waiters[j].node == w->node)
				return -EINVAL;
	}
	cl_sm_dirty_bound(sm);
	struct cl_rec *rec = cl_rec_get(sm, ri->name, ri->namelen);
	if (!rec)
		return -ENOMEM;
	cl_rec_touch(sm, rec);
	for (uint32_t i = 0; i < ri->nholds; i++) {
		const struct cl_hold_info *h = &ri->holds[i];
		if (cl_hold_add(sm, rec, h->node, h->mode, h->epoch, h->orphan_seq) < 0)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < ri->nwaiters; i++) {
		const struct cl_waiter_info *w = &ri->waiters[i];
		if (cl_waiter_append(sm, rec, w->node, w->mode, w->req_id) < 0)
			return -ENOMEM;
	}
	int rc = cl_index_restore(sm, rec, ri);
	if (rc < 0)
		return rc;
	struct cl_index *idx = cl_rec_idx(rec);   /* one unless busy, and then lru_tick is 0 */
	if (idx)
		idx->lru_tick = ri->lru_tick;   /* linked into the lists by restore_finish */
	return 0;
}

static int lru_tick_cmp(const void *pa, const void *pb)
{
	const struct cl_rec *a = *(struct cl_rec *const *)pa, *b = *(struct cl_rec *const *)pb;
	uint64_t ta = cl_rec_lru_tick(a), tb = cl_rec_lru_tick(b);
	return ta < tb ? -1 : ta > tb;
}

static bool pick_on_lru(const struct cl_rec *r, uint32_t arg)
{
	(void)arg;
	return cl_rec_lru_tick(r) != 0;
}

int cl_sm_restore_finish(struct cl_sm *sm)
{
	size_t n;
	struct cl_rec **v = cl_sm_collect(sm, pick_on_lru, 0, lru_tick_cmp, &n);
	if (sm->failed)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = cl_rec_lru_tick(v[i]);
		if (i && t == cl_rec_lru_tick(v[i - 1])) {
			rc = -EINVAL;
			break;
		}
		struct cl_index *idx = cl_rec_idx(v[i]);   /* picked for its tick: it has one */
		if (!idx)
			continue;
		idx->lru_tick = 0;
		cl_lru_append(sm, v[i], t);
	}
	free(v);
	return rc;
}

