/*
 * index.c - the replicated per-name index cache.  Contract: index.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "state.h"

static uint64_t entry_cost(size_t keylen, size_t vallen)
{
	return keylen + vallen + CL_INDEX_ENTRY_OVERHEAD;
}

/* What an index costs beside its entries: its name and record (index.h). */
static uint64_t index_base(size_t namelen)
{
	return namelen + CL_INDEX_NAME_OVERHEAD;
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Write helpers return <0 on ENOMEM, 0 on success, 1 when refused and answered. */

/* Binary search: returns the position of key, or of where it would go (*found = false). */
static uint32_t find_pos(const struct cl_index *idx, const uint8_t *key, size_t keylen, bool *found)
{
	uint32_t lo = 0, hi = idx->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct cl_entry *e = idx->e[mid];
		int c = key_cmp(e->data, e->keylen, key, keylen);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* ---- per-uid accounts ---- */

static struct cl_uid_acct *acct_find(const struct cl_sm *sm, uint32_t uid)
{
	uint64_t h = cl_mix64(uid);
	for (struct cl_hnode *e = cl_htab_first(&sm->uids, h); e; e = cl_htab_next(e, h)) {
		struct cl_uid_acct *a = cl_container_of(e, struct cl_uid_acct, hn);
		if (a->uid == uid)
			return a;
	}
	return NULL;
}

/* uid's account, created empty if needed; NULL (machine poisoned) on ENOMEM. */
static struct cl_uid_acct *acct_get(struct cl_sm *sm, uint32_t uid)
{
	struct cl_uid_acct *a = acct_find(sm, uid);
	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a) {
		cl_sm_oom(sm);
		return NULL;
	}
	a->uid = uid;
	cl_list_init(&a->lru);
	cl_htab_add(&sm->uids, &a->hn, cl_mix64(uid));
	return a;
}

/* Takes bytes off uid's account (which must exist), and frees it once it is empty. */
static void acct_debit(struct cl_sm *sm, uint32_t uid, uint64_t bytes)
{
	struct cl_uid_acct *a = acct_find(sm, uid);
	a->bytes -= bytes;
	if (!a->bytes) {
		cl_htab_del(&sm->uids, &a->hn);
		free(a);
	}
}

int cl_index_init(struct cl_sm *sm)
{
	return cl_htab_init(&sm->uids, 16);
}

void cl_index_fini(struct cl_sm *sm)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&sm->uids, &it); e;
	     e = cl_htab_iter_next(&sm->uids, &it)) {
		cl_htab_del(&sm->uids, e);
		free(cl_container_of(e, struct cl_uid_acct, hn));
	}
	cl_htab_fini(&sm->uids);
}

/* ---- eviction lists (ordered by tick, oldest at head): all, and per uid ---- */

/* Takes idx off both eviction lists. */
static void lru_unlink(struct cl_sm *sm, struct cl_index *idx)
{
	cl_list_del(&idx->lru);
	idx->lru_tick = 0;
	sm->lru_bytes -= idx->bytes;
	cl_list_del(&idx->ulru);
	acct_find(sm, idx->uid)->lru_bytes -= idx->bytes;
}

void cl_lru_remove(struct cl_sm *sm, struct cl_rec *rec)
{
	struct cl_index *idx = cl_rec_idx(rec);   /* on the list: it has one */
	if (!idx)
		return;
	cl_rec_touch(sm, rec);
	lru_unlink(sm, idx);
}

void cl_lru_append(struct cl_sm *sm, struct cl_rec *rec, uint64_t tick)
{
	struct cl_index *idx = cl_rec_idx(rec);   /* only a record with an index goes on it */
	if (!idx)
		return;
	cl_rec_touch(sm, rec);
	struct cl_uid_acct *a = acct_find(sm, idx->uid);
	idx->lru_tick = tick;
	cl_list_add_tail(&sm->lru, &idx->lru);
	sm->lru_bytes += idx->bytes;
	cl_list_add_tail(&a->lru, &idx->ulru);
	a->lru_bytes += idx->bytes;
}

void cl_index_free(struct cl_sm *sm, struct cl_rec *rec)
{
	struct cl_index *idx = cl_rec_idx(rec);
	if (!idx)
		return;
	cl_rec_touch(sm, rec);
	if (idx->lru_tick)
		lru_unlink(sm, idx);
	sm->index_bytes -= idx->bytes;
	/*
	 * Every index holds at least its base (charged when it is made, even
	 * by a restore that then fails: tests/fuzz/fuzz_snapshot), so its
	 * uid's account is there until the last of its indexes goes.
	 */
	acct_debit(sm, idx->uid, idx->bytes);
	for (uint32_t i = 0; i < idx->n; i++)
		free(idx->e[i]);
	free(idx->e);
	free(idx);
	rec->x->idx = NULL;
	cl_recx_tidy(rec);
}

/* Evicts victim's index (victim is on the eviction list) and forgets victim. */
static void evict(struct cl_sm *sm, struct cl_rec *victim)
{
	const struct cl_index *idx = cl_rec_idx(victim);   /* on the eviction list: it has one */
	struct cl_action a = { .type = CL_ACT_INDEX_EVICTED, .version = idx ? idx->version : 0 };
	cl_sm_emit(sm, &a, victim);
	cl_index_free(sm, victim);   /* takes its bytes off the eviction lists too */
	sm->h.index_evictions++;
	cl_rec_settle(sm, victim);  /* frees it: no lease state, no index */
}

/* Evicts the oldest unheld index; false when the list is empty. */
static bool evict_one(struct cl_sm *sm)
{
	struct cl_list *l = cl_list_first(&sm->lru);
	if (!l)
		return false;
	evict(sm, cl_list_entry(l, struct cl_index, lru)->rec);
	return true;
}

/* Evicts the oldest unheld index charged to uid; false when it has none. */
static bool evict_own(struct cl_sm *sm, uint32_t uid)
{
	const struct cl_uid_acct *a = acct_find(sm, uid);
	struct cl_list *l = a ? cl_list_first(&a->lru) : NULL;
	if (!l)
		return false;
	evict(sm, cl_list_entry(l, struct cl_index, ulru)->rec);
	return true;
}

static void index_done(struct cl_sm *sm, uint32_t node, const struct cl_msg *m, int err,
		       uint64_t version)
{
	struct cl_action a = { .type = CL_ACT_INDEX_DONE, .node = node, .req_id = m->req_id,
			       .err = err, .version = version, .name = m->name,
			       .namelen = m->namelen, .key = m->key, .keylen = m->keylen,
			       .deleted = m->type == CL_MSG_INDEX_DEL };
	cl_sm_emit(sm, &a, NULL);
}

static int ensure_cap(struct cl_index *idx)
{
	if (idx->n < idx->cap)
		return 0;
	uint32_t cap = idx->cap ? idx->cap * 2 : 4;
	struct cl_entry **e = realloc(idx->e, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;     /* the caller poisons the machine */
	idx->e = e;
	idx->cap = cap;
	return 0;
}

static struct cl_entry *entry_new(const uint8_t *key, size_t keylen, const uint8_t *val,
				  size_t vallen, uint64_t version)
{
	struct cl_entry *e = malloc(sizeof(*e) + keylen + vallen);
	if (!e)
		return NULL;
	e->version = version;
	e->keylen = (uint8_t)keylen;
	e->vallen = (uint32_t)vallen;
	memcpy(e->data, key, keylen);
	if (vallen)
		memcpy(e->data + keylen, val, vallen);
	return e;
}

/*
 * What uid is charged after a put of cost bytes replacing old ones in the
 * index idx (NULL: none yet), which moves to uid (index.h).
 */
static uint64_t charged_after(const struct cl_sm *sm, uint32_t uid, const struct cl_index *idx,
			      uint64_t old, uint64_t cost)
{
	const struct cl_uid_acct *a = acct_find(sm, uid);
	uint64_t have = a ? a->bytes : 0;
	if (idx && idx->uid == uid)
		have -= idx->bytes;
	return have + (idx ? idx->bytes : 0) - old + cost;
}

/*
 * Whether a put of uid (cost bytes replacing old ones in idx) can be made
 * room for by the evictions it may make (index.h): 0, -EDQUOT or -ENOSPC.
 * idx's record is held, so it is on no eviction list.
 */
static int put_room(const struct cl_sm *sm, uint32_t uid, const struct cl_index *idx,
		    uint64_t old, uint64_t cost)
{
	uint64_t max = sm->h.index_mem_max, quota = sm->h.index_bytes_per_uid;
	uint64_t total = sm->index_bytes - old + cost;
	if (!quota)
		return cost > max || total - sm->lru_bytes > max ? -ENOSPC : 0;
	const struct cl_uid_acct *a = acct_find(sm, uid);
	uint64_t own_lru = a ? a->lru_bytes : 0;
	if (uid != 0 && charged_after(sm, uid, idx, old, cost) - own_lru > quota)
		return -EDQUOT;
	if (cost > max || total - own_lru > max)
		return -ENOSPC;
	return 0;
}

/* Makes the room put_room() found: evicts until the put fits (index.h). */
static void put_evict(struct cl_sm *sm, uint32_t uid, const struct cl_index *idx,
		      uint64_t old, uint64_t cost)
{
	uint64_t max = sm->h.index_mem_max, quota = sm->h.index_bytes_per_uid;
	if (!quota) {
		while (sm->index_bytes - old + cost > max)
			if (!evict_one(sm))
				break;
		return;
	}
	while (sm->index_bytes - old + cost > max ||
	       (uid != 0 && charged_after(sm, uid, idx, old, cost) > quota))
		if (!evict_own(sm, uid))
			break;
}

static int apply_put(struct cl_sm *sm, struct cl_rec *rec, uint32_t sender, const struct cl_msg *m)
{
	bool found = false;
	uint32_t pos = 0;
	uint64_t old = 0, cost = entry_cost(m->keylen, m->vallen);
	struct cl_index *idx = cl_rec_idx(rec);
	if (idx) {
		pos = find_pos(idx, m->key, m->keylen, &found);
		if (found)
			old = entry_cost(idx->e[pos]->keylen, idx->e[pos]->vallen);
	} else {
		cost += index_base(rec->namelen);   /* the first put makes the index */
	}
	/*
	 * Refuse before evicting anything if even every eviction allowed would
	 * not do; a new key of a full index always (every put moves the keys
	 * after it: helper-96 saw 900,000 keys take 77% of a CPU on each node).
	 */
	int err = idx && !found && idx->n >= COROLEASE_KEYS_MAX ? -EFBIG
								 : put_room(sm, m->uid, idx, old, cost);
	if (err) {
		index_done(sm, sender, m, err, 0);
		return 1;
	}
	/* rec is held, so it is not on an eviction list and survives evictions */
	put_evict(sm, m->uid, idx, old, cost);
	struct cl_uid_acct *acct = acct_get(sm, m->uid);   /* after evicting: may have been freed */
	if (!acct)
		return -ENOMEM;
	idx = cl_rec_idx(rec);   /* read again after the evictions, as before */
	if (!idx) {
		struct cl_recx *x = cl_recx_get(rec);
		idx = x ? calloc(1, sizeof(*idx)) : NULL;
		if (!idx) {
			cl_recx_tidy(rec);
			cl_sm_oom(sm);
			return -ENOMEM;
		}
		idx->uid = m->uid;
		idx->rec = rec;
		cl_list_init(&idx->lru);
		cl_list_init(&idx->ulru);
		x->idx = idx;
	}
	struct cl_entry *e = entry_new(m->key, m->keylen, m->value, m->vallen, sm->h.lsn);
	if (!e || (!found && ensure_cap(idx) < 0)) {
		free(e);
		if (!idx->n)
			cl_index_free(sm, rec);
		cl_sm_oom(sm);
		return -ENOMEM;
	}
	if (idx->uid != m->uid) {
		/* the writer takes the whole index over */
		acct_debit(sm, idx->uid, idx->bytes);
		acct->bytes += idx->bytes;
		idx->uid = m->uid;
	}
	if (found) {
		free(idx->e[pos]);
		idx->e[pos] = e;
	} else {
		memmove(&idx->e[pos + 1], &idx->e[pos], (idx->n - pos) * sizeof(*idx->e));
		idx->e[pos] = e;
		idx->n++;
	}
	sm->index_bytes = sm->index_bytes - old + cost;
	idx->bytes = idx->bytes - old + cost;
	acct->bytes = acct->bytes - old + cost;
	idx->version = sm->h.lsn;
	idx->hashed = false;
	cl_rec_touch(sm, rec);
	return 0;
}

static int apply_del(struct cl_sm *sm, struct cl_rec *rec, uint32_t sender, const struct cl_msg *m)
{
	bool found = false;
	uint32_t pos = 0;
	struct cl_index *idx = cl_rec_idx(rec);
	if (idx)
		pos = find_pos(idx, m->key, m->keylen, &found);
	if (!found) {
		index_done(sm, sender, m, -ENOENT, idx ? idx->version : 0);
		return 1;
	}
	if (idx->n == 1) {
		cl_index_free(sm, rec);     /* credits its uid too */
		return 0;
	}
	uint64_t cost = entry_cost(idx->e[pos]->keylen, idx->e[pos]->vallen);
	sm->index_bytes -= cost;
	idx->bytes -= cost;
	acct_debit(sm, idx->uid, cost);   /* idx keeps bytes charged: the account stays */
	free(idx->e[pos]);
	memmove(&idx->e[pos], &idx->e[pos + 1], (idx->n - pos - 1) * sizeof(*idx->e));
	idx->n--;
	idx->version = sm->h.lsn;
	idx->hashed = false;
	cl_rec_touch(sm, rec);
	return 0;
}

int cl_index_apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	bool put = m->type == CL_MSG_INDEX_PUT;
	if (!m->name || m->namelen < 1 || m->namelen > COROLEASE_NAME_MAX || !m->key ||
	    m->keylen < 1 || (put && m->vallen > COROLEASE_VALUE_MAX) ||
	    (put && m->vallen && !m->value))
		return -EINVAL;
	if (!sm->h.quorate || sm->h.nunfenced) {
		/*
		 * Awaiting FENCE_ACK, both sides of a split may be quorate; a
		 * write acknowledged on the side whose state loses the merge would
		 * be lost, so none is taken until the departed nodes are fenced.
		 */
		index_done(sm, sender, m, sm->h.quorate ? COROLEASE_EFENCING : COROLEASE_ENOQUORUM, 0);
		return 0;
	}
	struct cl_rec *rec = cl_rec_find(sm, m->name, m->namelen);
	const struct cl_hold *h = NULL;
	for (uint32_t i = 0; rec && i < rec->nholds; i++)
		if (cl_rec_holds(rec)[i].node == sender)
			h = &cl_rec_holds(rec)[i];
	if (!h || h->orphan_seq || h->mode != CL_MODE_EX || h->epoch != m->epoch) {
		index_done(sm, sender, m, -ESTALE, 0);
		return 0;
	}
	/* 1: refused and already answered */
	int rc = put ? apply_put(sm, rec, sender, m) : apply_del(sm, rec, sender, m);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	uint64_t version = sm->h.lsn;
	index_done(sm, sender, m, 0, version);
	struct cl_action a = { .type = CL_ACT_INDEX_CHANGED, .node = sender, .deleted = !put,
			       .version = version, .key = m->key, .keylen = m->keylen,
			       .epoch = m->epoch };
	cl_sm_emit(sm, &a, rec);
	return 0;
}

uint64_t cl_index_hash(struct cl_index *idx)
{
	if (idx->hashed)
		return idx->hash;
	uint64_t h = cl_hash_u64(0x696478, idx->version);
	h = cl_hash_u64(h, idx->uid);
	h = cl_hash_u64(h, idx->n);
	for (uint32_t i = 0; i < idx->n; i++) {
		const struct cl_entry *e = idx->e[i];
		h = cl_hash_bytes(h, e->data, e->keylen);
		h = cl_hash_bytes(h, e->data + e->keylen, e->vallen);
		h = cl_hash_u64(h, e->version);
	}
	idx->hash = h;
	idx->hashed = true;
	return h;
}

int cl_index_restore(struct cl_sm *sm, struct cl_rec *rec, const struct cl_record_info *ri)
{
	if (!ri->nentries)
		return ri->version || ri->uid ? -EINVAL : 0;
	if (ri->version == 0 || ri->version > sm->h.lsn)
		return -EINVAL;
	struct cl_uid_acct *acct = acct_get(sm, ri->uid);
	if (!acct)
		return -ENOMEM;
	struct cl_recx *x = cl_recx_get(rec);
	if (!x)
		return -ENOMEM;
	struct cl_index *idx = calloc(1, sizeof(*idx));
	if (!idx) {
		cl_recx_tidy(rec);
		return -ENOMEM;
	}
	x->idx = idx;
	idx->version = ri->version;
	idx->bytes = index_base(rec->namelen);
	sm->index_bytes += idx->bytes;
	acct->bytes += idx->bytes;
	idx->uid = ri->uid;
	idx->rec = rec;
	cl_list_init(&idx->lru);
	cl_list_init(&idx->ulru);
	idx->e = calloc(ri->nentries, sizeof(*idx->e));
	if (!idx->e)
		return -ENOMEM;
	idx->cap = ri->nentries;
	for (uint32_t i = 0; i < ri->nentries; i++) {
		const struct cl_entry_info *ei = &ri->entries[i];
		if (ei->keylen < 1 || ei->vallen > COROLEASE_VALUE_MAX || !ei->key ||
		    (ei->vallen && !ei->value) || ei->version == 0 || ei->version > ri->version)
			return -EINVAL;
		if (i && key_cmp(ri->entries[i - 1].key, ri->entries[i - 1].keylen,
				 ei->key, ei->keylen) >= 0)
			return -EINVAL;
		struct cl_entry *e = entry_new(ei->key, ei->keylen, ei->value, ei->vallen, ei->version);
		if (!e)
			return -ENOMEM;
		idx->e[idx->n++] = e;
		idx->bytes += entry_cost(ei->keylen, ei->vallen);
		sm->index_bytes += entry_cost(ei->keylen, ei->vallen);
		acct->bytes += entry_cost(ei->keylen, ei->vallen);
	}
	return 0;
}

/* The entry for key of name (and its index in *idx_r), or NULL. */
static const struct cl_entry *entry_find(const struct cl_sm *sm, const void *name, size_t namelen,
					 const void *key, size_t keylen,
					 const struct cl_index **idx_r)
{
	const struct cl_rec *rec = cl_rec_find(sm, name, namelen);
	const struct cl_index *idx = rec ? cl_rec_idx(rec) : NULL;
	if (!idx || keylen < 1 || keylen > COROLEASE_KEY_MAX)
		return NULL;
	bool found;
	uint32_t pos = find_pos(idx, key, keylen, &found);
	*idx_r = idx;
	return found ? idx->e[pos] : NULL;
}

int cl_index_get(const struct cl_sm *sm, const void *name, size_t namelen,
		 const void *key, size_t keylen,
		 const uint8_t **val_r, uint32_t *vallen_r, uint64_t *version_r)
{
	const struct cl_index *idx;
	const struct cl_entry *e = entry_find(sm, name, namelen, key, keylen, &idx);
	if (!e)
		return -ENOENT;
	if (val_r)
		*val_r = e->data + e->keylen;
	if (vallen_r)
		*vallen_r = e->vallen;
	if (version_r)
		*version_r = idx->version;
	return 0;
}

int cl_index_entry_version(const struct cl_sm *sm, const void *name, size_t namelen,
			   const void *key, size_t keylen, uint64_t *ver_r)
{
	const struct cl_index *idx;
	const struct cl_entry *e = entry_find(sm, name, namelen, key, keylen, &idx);
	if (!e)
		return -ENOENT;
	*ver_r = e->version;
	return 0;
}

int cl_index_foreach(const struct cl_sm *sm, const void *name, size_t namelen,
		     cl_index_iter_fn fn, void *ctx)
{
	return cl_index_foreach_after(sm, name, namelen, NULL, 0, fn, ctx);
}

int cl_index_foreach_after(const struct cl_sm *sm, const void *name, size_t namelen,
			   const void *after, size_t afterlen, cl_index_iter_fn fn, void *ctx)
{
	const struct cl_rec *rec = cl_rec_find(sm, name, namelen);
	const struct cl_index *idx = rec ? cl_rec_idx(rec) : NULL;
	if (!idx)
		return -ENOENT;
	uint32_t start = 0;
	if (afterlen) {
		bool found;
		start = find_pos(idx, after, afterlen, &found);
		if (found)
			start++;
	}
	for (uint32_t i = start; i < idx->n; i++) {
		const struct cl_entry *e = idx->e[i];
		struct cl_entry_info ei = { e->data, e->keylen, e->data + e->keylen, e->vallen,
					    e->version };
		int rc = fn(ctx, &ei);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t cl_index_bytes(const struct cl_sm *sm)
{
	return sm->index_bytes;
}

uint64_t cl_index_uid_bytes(const struct cl_sm *sm, uint32_t uid)
{
	const struct cl_uid_acct *a = acct_find(sm, uid);
	return a ? a->bytes : 0;
}

uint64_t cl_index_uids(const struct cl_sm *sm)
{
	return sm->uids.n;
}
