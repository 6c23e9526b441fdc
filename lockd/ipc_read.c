/*
 * ipc_read.c - answers read from the local replica: OWNER, INDEX_GET, SHOW,
 * and LIST / INDEX_LIST streamed as ITEMS events.  See ipc_int.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "ipc_int.h"

/* The replica, or NULL after answering the request with COROLEASE_ESYNCING (not synced yet). */
static const struct cl_sm *replica(struct cld_ipc *ip, struct conn *c, uint64_t cookie, uint32_t type)
{
	const struct cl_sm *sm = cl_node_sm(ip->cfg.node);
	if (!sm)
		ipc_result(c, cookie, type, COROLEASE_ESYNCING, NULL, 0);
	return sm;
}

void ipc_do_owner(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	uint32_t owner = cl_sm_owner(sm, r->name, r->namelen);
	ipc_result(c, r->cookie, r->type, 0, &owner, sizeof(owner));
}

void ipc_index_get_answer(struct cld_ipc *ip, struct conn *c, uint64_t cookie,
			  const uint8_t *name, size_t namelen, const uint8_t *key, size_t keylen)
{
	const struct cl_sm *sm = replica(ip, c, cookie, CLP_REQ_INDEX_GET);
	if (!sm)
		return;
	const uint8_t *val = NULL;
	uint32_t vallen = 0;
	uint64_t version = 0;
	/* the key's own version (when it was last written), as INDEX_LIST reports */
	int rc = cl_index_get(sm, name, namelen, key, keylen, &val, &vallen, NULL);
	if (rc == 0)
		rc = cl_index_entry_version(sm, name, namelen, key, keylen, &version);
	if (rc < 0) {
		ipc_result(c, cookie, CLP_REQ_INDEX_GET, rc, NULL, 0);
		return;
	}
	struct clp_ev_result *res = (struct clp_ev_result *)ip->buf;
	memset(res, 0, sizeof(*res));
	res->b.hdr.id = CLP_EV_RESULT;
	res->b.cookie = cookie;
	res->req_type = CLP_REQ_INDEX_GET;
	memcpy(ip->buf + sizeof(*res), &version, sizeof(version));
	if (vallen)
		memcpy(ip->buf + sizeof(*res) + sizeof(version), val, vallen);
	ipc_send(c, ip->buf, sizeof(*res) + sizeof(version) + vallen);
}

/* ---- streamed lists ---- */

struct batch {
	struct cld_ipc *ip;
	struct conn *c;
	struct listing *l;
	size_t off;                    /* bytes used in ip->buf */
	uint32_t count;
	size_t sent;                   /* bytes sent this turn */
	uint32_t keys;                 /* INDEX_LIST: keys scanned this turn */
};

static void batch_start(struct batch *b)
{
	b->off = sizeof(struct clp_ev_items);
	b->count = 0;
}

static void batch_send(struct batch *b)
{
	if (!b->count)
		return;
	struct clp_ev_items *e = (struct clp_ev_items *)b->ip->buf;
	memset(e, 0, sizeof(*e));
	e->b.hdr.id = CLP_EV_ITEMS;
	e->b.cookie = b->l->cookie;
	e->count = b->count;
	ipc_send(b->c, b->ip->buf, b->off);
	b->sent += b->off;
	batch_start(b);
}

/* Room for one item of len bytes, sending the current batch first if needed. */
static uint8_t *batch_room(struct batch *b, size_t len)
{
	if (b->count && (b->off + len > CLD_BATCH_BYTES || b->count >= CLP_MAX_LIST_BATCH))
		batch_send(b);
	uint8_t *p = b->ip->buf + b->off;
	b->off += len;
	b->count++;
	b->l->total++;
	return p;
}

/* The listing must pause: its client is gone, or has CLD_LIST_QUEUED bytes waiting. */
static bool batch_full(const struct batch *b)
{
	return b->c->dying || b->c->oq_bytes >= CLD_LIST_QUEUED;
}

/* This turn is over: the listing pauses, or sent its share of bytes. */
static bool turn_over(const struct batch *b)
{
	return batch_full(b) || b->sent + b->off >= CLD_LIST_TURN_BYTES;
}

static int list_one(void *ctx, const struct cl_lease_info *info)
{
	struct batch *b = ctx;
	const struct listing *l = b->l;
	if (l->prefixlen && (info->namelen < l->prefixlen || memcmp(info->name, l->prefix, l->prefixlen)))
		return 0;
	struct clp_item_lease it;
	memset(&it, 0, sizeof(it));
	it.owner = info->owner;
	it.orphaned = info->owner_orphaned;
	it.epoch = info->owner_epoch;
	it.mode = info->mode;
	it.namelen = info->namelen;
	it.nholders = info->nholders;
	it.nwaiters = info->nwaiters;
	it.version = info->version;
	it.nkeys = info->nkeys;
	uint8_t *p = batch_room(b, sizeof(it) + info->namelen);
	memcpy(p, &it, sizeof(it));
	memcpy(p + sizeof(it), info->name, info->namelen);
	return turn_over(b);   /* cl_sm_scan_some() stops after this bucket */
}

/* Size of a clp_item_key record for e, with or without its value. */
static size_t key_item_len(const struct cl_entry_info *e, bool with_value)
{
	return sizeof(struct clp_item_key) + e->keylen + (with_value ? e->vallen : 0);
}

/* Writes that record at p (key_item_len bytes). */
static void key_item_put(uint8_t *p, const struct cl_entry_info *e, bool with_value)
{
	struct clp_item_key it;
	memset(&it, 0, sizeof(it));
	it.keylen = e->keylen;
	it.vallen = e->vallen;
	it.version = e->version;
	memcpy(p, &it, sizeof(it));
	memcpy(p + sizeof(it), e->key, e->keylen);
	if (with_value && e->vallen)
		memcpy(p + sizeof(it) + e->keylen, e->value, e->vallen);
}

static int key_one(void *ctx, const struct cl_entry_info *e)
{
	struct batch *b = ctx;
	if (turn_over(b) || b->keys >= CLD_LIST_BUDGET)
		return 1;   /* resumed after the last key sent */
	b->keys++;
	key_item_put(batch_room(b, key_item_len(e, true)), e, true);
	b->l->lastlen = (uint8_t)e->keylen;
	memcpy(b->l->last, e->key, e->keylen);
	return 0;
}

/*
 * A list is answered as its client reads, in turns (ipc_list_sched()):
 * a turn scans CLD_LIST_BUDGET records or keys at most and sends about
 * CLD_LIST_TURN_BYTES, then the list waits for its next turn; with
 * CLD_LIST_QUEUED bytes waiting in the client's queue it waits until
 * conn_flush() drained them.  So a client that never reads costs its
 * event ring and CLD_LIST_QUEUED bytes, not the size of the answer, and a
 * list that finds nothing to send (a prefix that matches no name) costs a
 * turn's budget at a time, not a scan of the whole replica.  LIST resumes
 * its scan of the replica (cl_sm_scan_some(): a name present throughout
 * is listed once); if a resynchronisation replaced the replica meanwhile,
 * the cursor means nothing there and the list ends with
 * COROLEASE_ESYNCING.  INDEX_LIST resumes after the last key sent.  Names
 * and keys written meanwhile may or may not be listed.
 */
bool ipc_list_pump(struct cld_ipc *ip, struct conn *c)
{
	struct listing *l = c->listing;
	if (!l || c->dying)
		return false;
	const struct cl_sm *sm = replica(ip, c, l->cookie, l->type);
	if (!sm || (l->type == CLP_REQ_LIST && cl_sm_serial(sm) != l->sm_serial)) {
		/* lost the replica (resynchronising): answered ESYNCING */
		if (sm)
			ipc_result(c, l->cookie, l->type, COROLEASE_ESYNCING, NULL, 0);
		ipc_list_end(c);
		return false;
	}
	struct batch b = { .ip = ip, .c = c, .l = l };
	batch_start(&b);
	bool done;
	if (l->type == CLP_REQ_LIST) {
		l->cursor = cl_sm_scan_some(sm, l->cursor, CLD_LIST_BUDGET, list_one, &b, NULL);
		done = !l->cursor;
	} else {
		done = cl_index_foreach_after(sm, l->prefix, l->prefixlen, l->last, l->lastlen,
					      key_one, &b) != 1;
	}
	batch_send(&b);
	if (c->dying)
		return false;
	if (!done)
		return !batch_full(&b);
	uint64_t total = l->total;
	uint64_t cookie = l->cookie;
	uint32_t type = l->type;
	ipc_list_end(c);
	ipc_result(c, cookie, type, 0, &total, sizeof(total));
	return false;
}

void ipc_do_list(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	if (c->listing) {
		/* the previous list is still being delivered */
		ipc_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
		return;
	}
	struct listing *l = calloc(1, sizeof(*l));
	if (!l) {
		ipc_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
		return;
	}
	l->type = r->type;
	l->cookie = r->cookie;
	l->sm_serial = cl_sm_serial(sm);
	l->prefixlen = r->namelen;
	memcpy(l->prefix, r->name, r->namelen);
	if (ipc_list_start(c, l) < 0) {
		/* its uid has max_lists_per_uid lists under way */
		free(l);
		ipc_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
	}
}

struct keys_ctx {
	uint8_t *p;
	size_t off, cap;
	uint32_t n;
};

static int show_key(void *ctx, const struct cl_entry_info *e)
{
	struct keys_ctx *k = ctx;
	size_t need = key_item_len(e, false);
	if (k->off + need > k->cap)
		return 1;   /* truncated: nkeys says how many are here */
	key_item_put(k->p + k->off, e, false);
	k->off += need;
	k->n++;
	return 0;
}

void ipc_do_show(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	struct cl_lease_info li;
	if (cl_sm_lookup(sm, r->name, r->namelen, &li, NULL, 0, NULL, 0) < 0) {
		ipc_result(c, r->cookie, r->type, -ENOENT, NULL, 0);
		return;
	}
	struct cl_hold_info *h = calloc(li.nholders + 1, sizeof(*h));
	struct cl_waiter_info *w = calloc(li.nwaiters + 1, sizeof(*w));
	size_t cap = CLP_MAX_MSG - 1024;
	uint8_t *p = malloc(cap);
	if (!h || !w || !p) {
		free(h);
		free(w);
		free(p);
		ipc_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
		return;
	}
	cl_sm_lookup(sm, r->name, r->namelen, &li, h, li.nholders, w, li.nwaiters);
	struct clp_show sh;
	memset(&sh, 0, sizeof(sh));
	sh.namelen = r->namelen;
	sh.mode = li.mode;
	sh.version = li.version;
	size_t off = sizeof(sh);
	uint32_t nh = 0, nw = 0;
	for (uint32_t i = 0; i < li.nholders && off + sizeof(struct clp_show_holder) <= cap / 2; i++, nh++) {
		struct clp_show_holder x;
		memset(&x, 0, sizeof(x));
		x.node = h[i].node;
		x.mode = h[i].mode;
		x.epoch = h[i].epoch;
		x.orphan_seq = h[i].orphan_seq;
		memcpy(p + off, &x, sizeof(x));
		off += sizeof(x);
	}
	for (uint32_t i = 0; i < li.nwaiters && off + sizeof(struct clp_show_waiter) <= cap / 2; i++, nw++) {
		struct clp_show_waiter x;
		memset(&x, 0, sizeof(x));
		x.node = w[i].node;
		x.mode = w[i].mode;
		memcpy(p + off, &x, sizeof(x));
		off += sizeof(x);
	}
	struct keys_ctx k = { p, off, cap, 0 };
	cl_index_foreach(sm, r->name, r->namelen, show_key, &k);
	sh.nholders = nh;
	sh.nwaiters = nw;
	sh.nkeys = k.n;
	memcpy(p, &sh, sizeof(sh));
	ipc_result(c, r->cookie, r->type, 0, p, k.off);
	free(h);
	free(w);
	free(p);
}
