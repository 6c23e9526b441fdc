/*
 * wire.c - encoding and decoding of cluster messages and state snapshots.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The layouts are described in wire.h.  Decoding goes through a bounds-checked
 * reader that never looks outside its buffer and latches a failure flag; the
 * caller checks the flag (and that the whole buffer was used) once at the
 * end, so a short buffer can never be mistaken for a valid one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "wire.h"


/* ---- bounds-checked reader ---------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool fail;
};

static void rd_init(struct rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->fail = false;
}

static size_t rd_left(const struct rd *r)
{
	return r->fail ? 0 : r->len - r->pos;
}

/*
 * Returns a pointer to the next n bytes and consumes them, or NULL (and sets
 * the failure flag) if fewer than n are left.  For n == 0 the pointer is the
 * current position, never NULL while the reader has not failed.
 */
static const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	if (r->fail || n > r->len - r->pos) {
		r->fail = true;
		return NULL;
	}
	const uint8_t *q = r->p + r->pos;
	r->pos += n;
	return q;
}

static uint8_t rd_u8(struct rd *r)
{
	const uint8_t *q = rd_bytes(r, 1);
	return q ? q[0] : 0;
}

static uint16_t rd_u16(struct rd *r)
{
	const uint8_t *q = rd_bytes(r, 2);
	return q ? cl_get_u16(q) : 0;
}

static uint32_t rd_u32(struct rd *r)
{
	const uint8_t *q = rd_bytes(r, 4);
	return q ? cl_get_u32(q) : 0;
}

static uint64_t rd_u64(struct rd *r)
{
	const uint8_t *q = rd_bytes(r, 8);
	return q ? cl_get_u64(q) : 0;
}

/* ---- messages ------------------------------------------------------------ */

static bool name_ok(uint16_t namelen, const uint8_t *name)
{
	return namelen >= 1 && namelen <= COROLEASE_NAME_MAX && name != NULL;
}

static bool key_ok(uint8_t keylen, const uint8_t *key)
{
	return keylen >= 1 && key != NULL;   /* keylen <= 255 by type */
}

static bool value_ok(uint32_t vallen, uint32_t max, const uint8_t *value)
{
	return vallen <= max && (vallen == 0 || value != NULL);
}

static bool mode_ok(uint8_t mode)
{
	return mode == CL_MODE_EX || mode == CL_MODE_SH;
}

long cl_wire_size(const struct cl_msg *m)
{
	size_t body;

	if (m == NULL)
		return -EINVAL;
	switch (m->type) {
	case CL_MSG_ACQUIRE:
		if (!name_ok(m->namelen, m->name) || !mode_ok(m->mode) ||
		    (m->flags & ~CL_ACQ_FLAGS_ALL) != 0)
			return -EINVAL;
		body = 8 + 1 + 1 + 2 + (size_t)m->namelen;
		break;
	case CL_MSG_RELEASE:
	case CL_MSG_HANDOVER_DONE:
	case CL_MSG_EVICT:
		if (!name_ok(m->namelen, m->name))
			return -EINVAL;
		body = 8 + 2 + (size_t)m->namelen;
		break;
	case CL_MSG_RECOVER_NODE:
		if (m->node == CL_NODE_NONE)
			return -EINVAL;
		body = 4 + 8;
		break;
	case CL_MSG_FENCE_ACK:
		if (m->node == CL_NODE_NONE || (m->flags & ~CL_FENCE_FORCE) != 0)
			return -EINVAL;
		body = 8 + 4 + 1;
		break;
	case CL_MSG_INDEX_PUT:
		if (!name_ok(m->namelen, m->name) || !key_ok(m->keylen, m->key) ||
		    !value_ok(m->vallen, COROLEASE_VALUE_MAX, m->value))
			return -EINVAL;
		body = 8 + 8 + 4 + 2 + 1 + 4 + (size_t)m->namelen + m->keylen + m->vallen;
		break;
	case CL_MSG_INDEX_DEL:
		if (!name_ok(m->namelen, m->name) || !key_ok(m->keylen, m->key))
			return -EINVAL;
		body = 8 + 8 + 2 + 1 + (size_t)m->namelen + m->keylen;
		break;
	case CL_MSG_NOP:
		body = 8;
		break;
	case CL_MSG_QUORUM:
		if ((m->flags & ~CL_QUORUM_FLAGS_ALL) != 0)
			return -EINVAL;
		body = 4 + 8 + 1;
		break;
	case CL_MSG_GRACE_END:
		body = 4 + 8;
		break;
	case CL_MSG_SYNC_ANNOUNCE:
		if ((m->flags & ~CL_SYNC_ANNOUNCE_FLAGS) != 0)
			return -EINVAL;
		body = 4 + 8 + 8 + 8 + 8 + 1 + 4 + 8 + 8 + 8 + 8 + 8 + 4 + 8;
		break;
	case CL_MSG_SYNC_CHUNK:
	case CL_MSG_SYNC_HOLDS:
		if ((m->flags & ~CL_SYNC_LAST_CHUNK) != 0 ||
		    !value_ok(m->vallen, CL_SYNC_CHUNK_MAX, m->value))
			return -EINVAL;
		body = 4 + 8 + 8 + 1 + 4 + 8 + (size_t)m->vallen;
		break;
	case CL_MSG_WRITE_ACK:
		if (m->vallen == 0 || m->vallen % CL_WRITE_ACK_LEN != 0 ||
		    m->vallen > CL_MAX_MEMBERS * CL_WRITE_ACK_LEN || m->value == NULL)
			return -EINVAL;
		body = 4 + (size_t)m->vallen;
		break;
	default:
		return -EINVAL;
	}
	return (long)(CL_WIRE_HDR_LEN + body);
}

/* Unchecked writer: the caller has sized the buffer with cl_wire_size(). */
struct wr {
	uint8_t *p;
};

static void wr_u8(struct wr *w, uint8_t v) { *w->p++ = v; }
static void wr_u16(struct wr *w, uint16_t v) { cl_put_u16(w->p, v); w->p += 2; }
static void wr_u32(struct wr *w, uint32_t v) { cl_put_u32(w->p, v); w->p += 4; }
static void wr_u64(struct wr *w, uint64_t v) { cl_put_u64(w->p, v); w->p += 8; }

static void wr_bytes(struct wr *w, const uint8_t *src, size_t n)
{
	if (n > 0)
		memcpy(w->p, src, n);
	w->p += n;
}

long cl_wire_encode(const struct cl_msg *m, uint8_t *buf, size_t cap)
{
	long size = cl_wire_size(m);

	if (size < 0)
		return size;
	if (buf == NULL || cap < (size_t)size)
		return -ENOSPC;

	struct wr w = { .p = buf };
	wr_u8(&w, CL_WIRE_VERSION);
	wr_u8(&w, m->type);
	wr_u16(&w, 0);
	wr_u32(&w, (uint32_t)((size_t)size - CL_WIRE_HDR_LEN));

	switch (m->type) {
	case CL_MSG_ACQUIRE:
		wr_u64(&w, m->req_id);
		wr_u8(&w, m->mode);
		wr_u8(&w, m->flags);
		wr_u16(&w, m->namelen);
		wr_bytes(&w, m->name, m->namelen);
		break;
	case CL_MSG_RELEASE:
	case CL_MSG_HANDOVER_DONE:
		wr_u64(&w, m->epoch);
		wr_u16(&w, m->namelen);
		wr_bytes(&w, m->name, m->namelen);
		break;
	case CL_MSG_EVICT:
		wr_u64(&w, m->req_id);
		wr_u16(&w, m->namelen);
		wr_bytes(&w, m->name, m->namelen);
		break;
	case CL_MSG_RECOVER_NODE:
		wr_u32(&w, m->node);
		wr_u64(&w, m->seq);
		break;
	case CL_MSG_FENCE_ACK:
		wr_u64(&w, m->req_id);
		wr_u32(&w, m->node);
		wr_u8(&w, m->flags);
		break;
	case CL_MSG_INDEX_PUT:
		wr_u64(&w, m->req_id);
		wr_u64(&w, m->epoch);
		wr_u32(&w, m->uid);
		wr_u16(&w, m->namelen);
		wr_u8(&w, m->keylen);
		wr_u32(&w, m->vallen);
		wr_bytes(&w, m->name, m->namelen);
		wr_bytes(&w, m->key, m->keylen);
		wr_bytes(&w, m->value, m->vallen);
		break;
	case CL_MSG_INDEX_DEL:
		wr_u64(&w, m->req_id);
		wr_u64(&w, m->epoch);
		wr_u16(&w, m->namelen);
		wr_u8(&w, m->keylen);
		wr_bytes(&w, m->name, m->namelen);
		wr_bytes(&w, m->key, m->keylen);
		break;
	case CL_MSG_NOP:
		wr_u64(&w, m->req_id);
		break;
	case CL_MSG_QUORUM:
		wr_u32(&w, m->ring.rep);
		wr_u64(&w, m->ring.seq);
		wr_u8(&w, m->flags);
		break;
	case CL_MSG_GRACE_END:
		wr_u32(&w, m->ring.rep);
		wr_u64(&w, m->ring.seq);
		break;
	case CL_MSG_SYNC_ANNOUNCE:
		wr_u32(&w, m->ring.rep);
		wr_u64(&w, m->ring.seq);
		wr_u64(&w, m->lsn);
		wr_u64(&w, m->q_lsn);
		wr_u64(&w, m->hash);
		wr_u8(&w, m->flags);
		wr_u32(&w, m->term.rep);
		wr_u64(&w, m->term.seq);
		wr_u64(&w, m->mem_max);
		wr_u64(&w, m->epoch_floor);
		wr_u64(&w, m->per_uid_max);
		wr_u64(&w, m->round);
		wr_u32(&w, m->term_seen.rep);
		wr_u64(&w, m->term_seen.seq);
		break;
	case CL_MSG_SYNC_CHUNK:
	case CL_MSG_SYNC_HOLDS:
		wr_u32(&w, m->ring.rep);
		wr_u64(&w, m->ring.seq);
		wr_u64(&w, m->seq);
		wr_u8(&w, m->flags);
		wr_u32(&w, m->vallen);
		wr_u64(&w, m->round);
		wr_bytes(&w, m->value, m->vallen);
		break;
	case CL_MSG_WRITE_ACK:
		wr_u32(&w, m->vallen);
		wr_bytes(&w, m->value, m->vallen);
		break;
	}
	return size;
}

/* Reads namelen-prefixed fields' payloads; bounds are checked by the caller. */
static const uint8_t *rd_name(struct rd *r, uint16_t namelen)
{
	if (namelen < 1 || namelen > COROLEASE_NAME_MAX)
		r->fail = true;
	return rd_bytes(r, namelen);
}

/*
 * cl_wire_decode() but for *m_r, which it writes straight into (clearing it
 * first once the header is checked): a refused message may leave it partly
 * written, which cl_wire_decode() then clears.  (Filling a local and copying
 * it out made each decode stall on its own stores.)
 */
static int wire_decode(const uint8_t *buf, size_t len, struct cl_msg *mp)
{
	struct rd r;
	uint16_t namelen = 0;

	if (len < 1 || buf == NULL)
		return COROLEASE_EPROTO;
	if (buf[0] != CL_WIRE_VERSION)
		return COROLEASE_EVERSION;
	if (len < CL_WIRE_HDR_LEN)
		return COROLEASE_EPROTO;
	if (cl_get_u16(buf + 2) != 0 || cl_get_u32(buf + 4) != len - CL_WIRE_HDR_LEN)
		return COROLEASE_EPROTO;

	/* cleared by a copy of a zero message: a memset of its size compiles to
	   a string instruction, slow to start, and this runs for every delivery */
	static const struct cl_msg zero_msg;
	struct cl_msg *m = mp;

	*m = zero_msg;
	m->type = buf[1];
	rd_init(&r, buf + CL_WIRE_HDR_LEN, len - CL_WIRE_HDR_LEN);

	switch (m->type) {
	case CL_MSG_ACQUIRE:
		m->req_id = rd_u64(&r);
		m->mode = rd_u8(&r);
		m->flags = rd_u8(&r);
		namelen = rd_u16(&r);
		m->name = rd_name(&r, namelen);
		if (!mode_ok(m->mode) || (m->flags & ~CL_ACQ_FLAGS_ALL) != 0)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_RELEASE:
	case CL_MSG_HANDOVER_DONE:
		m->epoch = rd_u64(&r);
		namelen = rd_u16(&r);
		m->name = rd_name(&r, namelen);
		break;
	case CL_MSG_EVICT:
		m->req_id = rd_u64(&r);
		namelen = rd_u16(&r);
		m->name = rd_name(&r, namelen);
		break;
	case CL_MSG_RECOVER_NODE:
		m->node = rd_u32(&r);
		m->seq = rd_u64(&r);
		if (m->node == CL_NODE_NONE)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_FENCE_ACK:
		m->req_id = rd_u64(&r);
		m->node = rd_u32(&r);
		m->flags = rd_u8(&r);
		if (m->node == CL_NODE_NONE || (m->flags & ~CL_FENCE_FORCE) != 0)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_INDEX_PUT:
		m->req_id = rd_u64(&r);
		m->epoch = rd_u64(&r);
		m->uid = rd_u32(&r);
		namelen = rd_u16(&r);
		m->keylen = rd_u8(&r);
		m->vallen = rd_u32(&r);
		m->name = rd_name(&r, namelen);
		m->key = rd_bytes(&r, m->keylen);
		if (m->keylen < 1 || m->vallen > COROLEASE_VALUE_MAX)
			return COROLEASE_EPROTO;
		m->value = rd_bytes(&r, m->vallen);
		break;
	case CL_MSG_INDEX_DEL:
		m->req_id = rd_u64(&r);
		m->epoch = rd_u64(&r);
		namelen = rd_u16(&r);
		m->keylen = rd_u8(&r);
		m->name = rd_name(&r, namelen);
		m->key = rd_bytes(&r, m->keylen);
		if (m->keylen < 1)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_NOP:
		m->req_id = rd_u64(&r);
		break;
	case CL_MSG_QUORUM:
		m->ring.rep = rd_u32(&r);
		m->ring.seq = rd_u64(&r);
		m->flags = rd_u8(&r);
		if ((m->flags & ~CL_QUORUM_FLAGS_ALL) != 0)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_GRACE_END:
		m->ring.rep = rd_u32(&r);
		m->ring.seq = rd_u64(&r);
		break;
	case CL_MSG_SYNC_ANNOUNCE:
		m->ring.rep = rd_u32(&r);
		m->ring.seq = rd_u64(&r);
		m->lsn = rd_u64(&r);
		m->q_lsn = rd_u64(&r);
		m->hash = rd_u64(&r);
		m->flags = rd_u8(&r);
		m->term.rep = rd_u32(&r);
		m->term.seq = rd_u64(&r);
		m->mem_max = rd_u64(&r);
		m->epoch_floor = rd_u64(&r);
		m->per_uid_max = rd_u64(&r);
		m->round = rd_u64(&r);
		m->term_seen.rep = rd_u32(&r);
		m->term_seen.seq = rd_u64(&r);
		if ((m->flags & ~CL_SYNC_ANNOUNCE_FLAGS) != 0)
			return COROLEASE_EPROTO;
		break;
	case CL_MSG_SYNC_CHUNK:
	case CL_MSG_SYNC_HOLDS:
		m->ring.rep = rd_u32(&r);
		m->ring.seq = rd_u64(&r);
		m->seq = rd_u64(&r);
		m->flags = rd_u8(&r);
		m->vallen = rd_u32(&r);
		m->round = rd_u64(&r);
		if ((m->flags & ~CL_SYNC_LAST_CHUNK) != 0 || m->vallen > CL_SYNC_CHUNK_MAX)
			return COROLEASE_EPROTO;
		m->value = rd_bytes(&r, m->vallen);
		break;
	case CL_MSG_WRITE_ACK:
		m->vallen = rd_u32(&r);
		if (m->vallen == 0 || m->vallen % CL_WRITE_ACK_LEN != 0 ||
		    m->vallen > CL_MAX_MEMBERS * CL_WRITE_ACK_LEN)
			return COROLEASE_EPROTO;
		m->value = rd_bytes(&r, m->vallen);
		break;
	default:
		return COROLEASE_EPROTO;
	}
	if (r.fail || r.pos != r.len)
		return COROLEASE_EPROTO;
	m->namelen = namelen;
	return 0;
}

int cl_wire_decode(const uint8_t *buf, size_t len, struct cl_msg *m_r)
{
	int rc = wire_decode(buf, len, m_r);

	/* a refused message leaves *m_r zeroed, as it always did */
	if (rc)
		memset(m_r, 0, sizeof(*m_r));
	return rc;
}

static const uint8_t snap_magic[4] = { 'C', 'L', 'S', 'N' };

/* Fixed sizes used to bound counts against the bytes that remain. */
#define SNAP_PREFIX_LEN   8u                          /* magic, version, reserved */
#define SNAP_SPLIT        0x01u                       /* header flags */
#define SNAP_GRACE        0x02u
#define SNAP_SUM_LEN      8u
#define SNAP_HOLD_LEN     (4u + 1u + 8u + 8u)
#define SNAP_WAITER_LEN   (4u + 1u + 8u)
#define SNAP_ENTRY_MIN    (1u + 1u + 4u + 8u)         /* 1-byte key, empty value */
#define SNAP_RECORD_MIN   (2u + 1u + 8u + 8u + 4u + 4u + 4u + 4u)

/* ---- snapshot encoding ---------------------------------------------------- */

/* Growable buffer; after an allocation failure it stays failed. */
struct gbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	bool oom;
};

/* Makes room for n more bytes; returns a pointer to them or NULL (oom). */
static uint8_t *gb_room(struct gbuf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (n > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (n > ncap - b->len) {
			if (ncap > SIZE_MAX / 2) {
				b->oom = true;
				return NULL;
			}
			ncap *= 2;
		}
		uint8_t *np = realloc(b->p, ncap);
		if (np == NULL) {
			b->oom = true;
			return NULL;
		}
		b->p = np;
		b->cap = ncap;
	}
	uint8_t *q = b->p + b->len;
	b->len += n;
	return q;
}

static void gb_u8(struct gbuf *b, uint8_t v)
{
	uint8_t *q = gb_room(b, 1);
	if (q)
		q[0] = v;
}

static void gb_u16(struct gbuf *b, uint16_t v)
{
	uint8_t *q = gb_room(b, 2);
	if (q)
		cl_put_u16(q, v);
}

static void gb_u32(struct gbuf *b, uint32_t v)
{
	uint8_t *q = gb_room(b, 4);
	if (q)
		cl_put_u32(q, v);
}

static void gb_u64(struct gbuf *b, uint64_t v)
{
	uint8_t *q = gb_room(b, 8);
	if (q)
		cl_put_u64(q, v);
}

static void gb_bytes(struct gbuf *b, const uint8_t *src, size_t n)
{
	uint8_t *q = gb_room(b, n);
	if (q && n > 0)
		memcpy(q, src, n);
}

struct snap_enc {
	struct gbuf b;
	uint64_t nrecords;
};

static int snap_put_record(void *ctx, const struct cl_record_info *rec)
{
	struct snap_enc *e = ctx;
	struct gbuf *b = &e->b;

	gb_u16(b, rec->namelen);
	gb_bytes(b, rec->name, rec->namelen);
	gb_u64(b, rec->version);
	gb_u64(b, rec->lru_tick);
	gb_u32(b, rec->uid);
	gb_u32(b, rec->nholds);
	for (uint32_t i = 0; i < rec->nholds; i++) {
		const struct cl_hold_info *h = &rec->holds[i];
		gb_u32(b, h->node);
		gb_u8(b, h->mode);
		gb_u64(b, h->epoch);
		gb_u64(b, h->orphan_seq);
	}
	gb_u32(b, rec->nwaiters);
	for (uint32_t i = 0; i < rec->nwaiters; i++) {
		const struct cl_waiter_info *w = &rec->waiters[i];
		gb_u32(b, w->node);
		gb_u8(b, w->mode);
		gb_u64(b, w->req_id);
	}
	gb_u32(b, rec->nentries);
	for (uint32_t i = 0; i < rec->nentries; i++) {
		const struct cl_entry_info *en = &rec->entries[i];
		gb_u8(b, en->keylen);
		gb_bytes(b, en->key, en->keylen);
		gb_u32(b, en->vallen);
		gb_bytes(b, en->value, en->vallen);
		gb_u64(b, en->version);
	}
	if (b->oom)
		return -ENOMEM;
	e->nrecords++;
	return 0;
}

/* The snapshot's header, with the record count nrecords; false when sm cannot be described. */
static bool snap_put_header(struct gbuf *b, const struct cl_sm *sm, uint64_t nrecords,
			    size_t *count_at_r)
{
	struct cl_sm_header h;
	cl_sm_get_header(sm, &h);
	/* The header's member array has CL_MAX_MEMBERS slots; never read past it. */
	if (h.nmembers > CL_MAX_MEMBERS || h.nunfenced > CL_MAX_UNFENCED)
		return false;
	gb_bytes(b, snap_magic, sizeof(snap_magic));
	gb_u16(b, CL_SNAP_VERSION);
	gb_u16(b, 0);
	gb_u64(b, h.lsn);
	gb_u64(b, h.q_lsn);
	gb_u64(b, h.epoch);
	gb_u64(b, h.orphan_seq);
	gb_u64(b, h.lru_clock);
	gb_u64(b, h.index_evictions);
	gb_u8(b, h.quorate ? 1 : 0);
	gb_u32(b, h.ring.rep);
	gb_u64(b, h.ring.seq);
	gb_u32(b, h.nmembers);
	for (uint32_t i = 0; i < h.nmembers; i++)
		gb_u32(b, h.members[i]);
	gb_u32(b, h.term.rep);
	gb_u64(b, h.term.seq);
	gb_u8(b, (uint8_t)((h.split_mode ? SNAP_SPLIT : 0) | (h.grace ? SNAP_GRACE : 0)));
	gb_u32(b, h.grace_ring.rep);
	gb_u64(b, h.grace_ring.seq);
	gb_u64(b, h.index_mem_max);
	gb_u64(b, h.index_bytes_per_uid);
	gb_u32(b, h.nunfenced);
	for (uint32_t i = 0; i < h.nunfenced; i++)
		gb_u32(b, h.unfenced[i]);
	if (count_at_r)
		*count_at_r = b->len;
	gb_u64(b, nrecords);
	return true;
}

int cl_snap_encode(const struct cl_sm *sm, uint8_t **buf_r, size_t *len_r)
{
	return cl_snap_encode_order(sm, true, buf_r, len_r);
}

/* Name order: every record sorted first, the count patched in after. */
static int snap_encode_sorted(const struct cl_sm *sm, uint8_t **buf_r, size_t *len_r)
{
	struct snap_enc e = { .b = { 0 }, .nrecords = 0 };
	size_t count_at = 0;
	int rc;

	if (!snap_put_header(&e.b, sm, 0, &count_at))
		return -EINVAL;
	if (e.b.oom) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = cl_sm_foreach_record(sm, snap_put_record, &e);
	if (rc != 0)
		goto fail;
	cl_put_u64(e.b.p + count_at, e.nrecords);
	gb_u64(&e.b, cl_snap_checksum(e.b.p, e.b.len));
	if (e.b.oom) {
		rc = -ENOMEM;
		goto fail;
	}
	*buf_r = e.b.p;
	*len_r = e.b.len;
	return 0;

fail:
	free(e.b.p);
	return rc < 0 ? rc : -ENOMEM;
}

int cl_snap_encode_order(const struct cl_sm *sm, bool name_order, uint8_t **buf_r, size_t *len_r)
{
	*buf_r = NULL;
	*len_r = 0;
	if (name_order)
		return snap_encode_sorted(sm, buf_r, len_r);
	/* the table's order: the stream a node sends, read whole */
	int rc;
	struct cl_snap_stream *st = cl_snap_stream_new(sm, &rc);
	if (!st)
		return rc;
	struct gbuf out = { 0 };
	bool last = false;
	while (!last) {
		uint8_t *q = gb_room(&out, 1u << 16);
		if (!q) {
			rc = -ENOMEM;
			break;
		}
		long got = cl_snap_stream_read(st, q, 1u << 16, &last);
		if (got < 0) {
			rc = (int)got;
			break;
		}
		out.len -= (1u << 16) - (size_t)got;
	}
	cl_snap_stream_free(st);
	if (!last) {
		free(out.p);
		return rc < 0 ? rc : -ENOMEM;
	}
	*buf_r = out.p;
	*len_r = out.len;
	return 0;
}

/* ---- snapshot streaming --------------------------------------------------- */

struct cl_snap_stream {
	const struct cl_sm *sm;
	uint64_t serial, lsn;        /* sm's, at the start: the stream is of that state */
	struct snap_enc e;           /* encoded and not yet read: e.b.p[off, len) */
	size_t off;
	uint64_t want;               /* the record count the header promised */
	uint64_t cursor;             /* cl_sm_scan_records() */
	struct cl_record_scratch sc;
	uint64_t sum;                /* checksum state over every byte encoded so far */
	bool scanned;                /* every record encoded */
	bool closed;                 /* the checksum appended: nothing more to encode */
};

static const uint64_t fnv_basis = 0xcbf29ce484222325ull;

static uint64_t fnv_update(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * The snapshot checksum: FNV-1a 64 over the bytes (fnv_update(), which the
 * stream runs piece by piece), then the murmur3 64-bit finaliser so that
 * every input bit affects every output bit.  Part of the snapshot format.
 */
uint64_t cl_snap_checksum(const uint8_t *p, size_t n)
{
	return cl_fmix64(fnv_update(fnv_basis, p, n));
}

struct cl_snap_stream *cl_snap_stream_new(const struct cl_sm *sm, int *err_r)
{
	struct cl_snap_stream *st = calloc(1, sizeof(*st));
	if (!st) {
		*err_r = -ENOMEM;
		return NULL;
	}
	struct cl_sm_stats ss;
	cl_sm_stats(sm, &ss);
	st->sm = sm;
	st->serial = cl_sm_serial(sm);
	st->lsn = ss.lsn;
	st->want = ss.records;
	if (!snap_put_header(&st->e.b, sm, st->want, NULL) || st->e.b.oom) {
		*err_r = st->e.b.oom ? -ENOMEM : -EINVAL;
		cl_snap_stream_free(st);
		return NULL;
	}
	st->sum = fnv_update(fnv_basis, st->e.b.p, st->e.b.len);
	return st;
}

/* Encodes more (at least one table bucket, or the end) until want bytes wait unread. */
static int stream_fill(struct cl_snap_stream *st, size_t want)
{
	while (!st->closed && st->e.b.len - st->off < want) {
		if (st->off && st->off == st->e.b.len) {
			st->e.b.len = st->off = 0;       /* all read: start the buffer over */
		} else if (st->off > (1u << 20)) {
			memmove(st->e.b.p, st->e.b.p + st->off, st->e.b.len - st->off);
			st->e.b.len -= st->off;
			st->off = 0;
		}
		size_t from = st->e.b.len;
		if (!st->scanned) {
			int rc;
			st->cursor = cl_sm_scan_records(st->sm, st->cursor, &st->sc, snap_put_record,
							&st->e, &rc);
			if (rc != 0)
				return rc < 0 ? rc : -ENOMEM;
			if (st->e.b.oom)
				return -ENOMEM;
			st->scanned = st->cursor == 0;
			st->sum = fnv_update(st->sum, st->e.b.p + from, st->e.b.len - from);
		} else {
			/* the header promised want records: a state that changed is refused */
			if (st->e.nrecords != st->want)
				return -ESTALE;
			gb_u64(&st->e.b, cl_fmix64(st->sum));
			if (st->e.b.oom)
				return -ENOMEM;
			st->closed = true;
		}
	}
	return 0;
}

long cl_snap_stream_read(struct cl_snap_stream *st, uint8_t *out, size_t cap, bool *last_r)
{
	*last_r = false;
	struct cl_sm_stats ss;
	cl_sm_stats(st->sm, &ss);
	if (cl_sm_serial(st->sm) != st->serial || ss.lsn != st->lsn)
		return -ESTALE;
	int rc = stream_fill(st, cap);
	if (rc < 0)
		return rc;
	size_t n = st->e.b.len - st->off < cap ? st->e.b.len - st->off : cap;
	memcpy(out, st->e.b.p + st->off, n);
	st->off += n;
	*last_r = st->closed && st->off == st->e.b.len;
	return (long)n;
}

void cl_snap_stream_free(struct cl_snap_stream *st)
{
	if (!st)
		return;
	free(st->e.b.p);
	cl_record_scratch_free(&st->sc);
	free(st);
}

/* ---- snapshot decoding ---------------------------------------------------- */

/* Maps a restore error to the snapshot decoder's contract. */
static int restore_err(int rc)
{
	return rc == -ENOMEM ? -ENOMEM : COROLEASE_EPROTO;
}

/* Decodes one record from r into rec (arrays in s, bytes in r's buffer). */
static int snap_get_record(struct rd *r, struct cl_record_scratch *s, struct cl_record_info *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->namelen = rd_u16(r);
	rec->name = rd_name(r, rec->namelen);
	rec->version = rd_u64(r);
	rec->lru_tick = rd_u64(r);
	rec->uid = rd_u32(r);

	rec->nholds = rd_u32(r);
	if (r->fail || rec->nholds > rd_left(r) / SNAP_HOLD_LEN)
		return COROLEASE_EPROTO;
	if (cl_record_scratch_fit(s, rec->nholds, 0, 0) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < rec->nholds; i++) {
		struct cl_hold_info *h = &s->holds[i];
		h->node = rd_u32(r);
		h->mode = rd_u8(r);
		h->epoch = rd_u64(r);
		h->orphan_seq = rd_u64(r);
	}
	rec->holds = s->holds;

	rec->nwaiters = rd_u32(r);
	if (r->fail || rec->nwaiters > rd_left(r) / SNAP_WAITER_LEN)
		return COROLEASE_EPROTO;
	if (cl_record_scratch_fit(s, 0, rec->nwaiters, 0) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < rec->nwaiters; i++) {
		struct cl_waiter_info *w = &s->waiters[i];
		w->node = rd_u32(r);
		w->mode = rd_u8(r);
		w->req_id = rd_u64(r);
	}
	rec->waiters = s->waiters;

	rec->nentries = rd_u32(r);
	if (r->fail || rec->nentries > rd_left(r) / SNAP_ENTRY_MIN)
		return COROLEASE_EPROTO;
	if (cl_record_scratch_fit(s, 0, 0, rec->nentries) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < rec->nentries; i++) {
		struct cl_entry_info *en = &s->entries[i];
		en->keylen = rd_u8(r);
		if (en->keylen < 1)
			return COROLEASE_EPROTO;
		en->key = rd_bytes(r, en->keylen);
		en->vallen = rd_u32(r);
		if (en->vallen > COROLEASE_VALUE_MAX)
			return COROLEASE_EPROTO;
		en->value = rd_bytes(r, en->vallen);
		en->version = rd_u64(r);
		if (r->fail)
			return COROLEASE_EPROTO;
	}
	rec->entries = s->entries;

	return r->fail ? COROLEASE_EPROTO : 0;
}

int cl_snap_decode(const uint8_t *buf, size_t len, struct cl_sm *fresh)
{
	struct cl_record_scratch s = { 0 };
	struct cl_sm_header h;
	struct rd r;
	int rc;

	/* Too short for magic, version, reserved and checksum: not a snapshot. */
	if (buf == NULL || len < SNAP_PREFIX_LEN + SNAP_SUM_LEN ||
	    memcmp(buf, snap_magic, sizeof(snap_magic)) != 0)
		return COROLEASE_EPROTO;
	if (cl_get_u16(buf + 4) != CL_SNAP_VERSION)
		return COROLEASE_EVERSION;
	if (cl_snap_checksum(buf, len - SNAP_SUM_LEN) != cl_get_u64(buf + len - SNAP_SUM_LEN))
		return COROLEASE_EPROTO;

	rd_init(&r, buf, len - SNAP_SUM_LEN);
	(void)rd_bytes(&r, 6);
	if (rd_u16(&r) != 0)
		return COROLEASE_EPROTO;

	memset(&h, 0, sizeof(h));
	h.lsn = rd_u64(&r);
	h.q_lsn = rd_u64(&r);
	h.epoch = rd_u64(&r);
	h.orphan_seq = rd_u64(&r);
	h.lru_clock = rd_u64(&r);
	h.index_evictions = rd_u64(&r);
	uint8_t quorate = rd_u8(&r);
	h.ring.rep = rd_u32(&r);
	h.ring.seq = rd_u64(&r);
	h.nmembers = rd_u32(&r);
	if (r.fail || quorate > 1 || h.nmembers > CL_MAX_MEMBERS)
		return COROLEASE_EPROTO;
	h.quorate = quorate != 0;
	for (uint32_t i = 0; i < h.nmembers; i++)
		h.members[i] = rd_u32(&r);
	h.term.rep = rd_u32(&r);
	h.term.seq = rd_u64(&r);
	uint8_t flags = rd_u8(&r);
	h.grace_ring.rep = rd_u32(&r);
	h.grace_ring.seq = rd_u64(&r);
	h.index_mem_max = rd_u64(&r);
	h.index_bytes_per_uid = rd_u64(&r);
	h.nunfenced = rd_u32(&r);
	if (r.fail || (flags & ~(SNAP_SPLIT | SNAP_GRACE)) || h.nunfenced > CL_MAX_UNFENCED)
		return COROLEASE_EPROTO;
	h.split_mode = flags & SNAP_SPLIT;
	h.grace = flags & SNAP_GRACE;
	for (uint32_t i = 0; i < h.nunfenced; i++)
		h.unfenced[i] = rd_u32(&r);
	uint64_t nrecords = rd_u64(&r);
	if (r.fail || nrecords > rd_left(&r) / SNAP_RECORD_MIN)
		return COROLEASE_EPROTO;

	rc = cl_sm_restore_header(fresh, &h);
	if (rc < 0)
		return restore_err(rc);

	for (uint64_t i = 0; i < nrecords; i++) {
		struct cl_record_info rec;

		rc = snap_get_record(&r, &s, &rec);
		if (rc < 0)
			goto out;
		rc = cl_sm_restore_record(fresh, &rec);
		if (rc < 0) {
			rc = restore_err(rc);
			goto out;
		}
	}
	if (r.fail || r.pos != r.len) {
		rc = COROLEASE_EPROTO;
		goto out;
	}
	rc = cl_sm_restore_finish(fresh);
	if (rc < 0)
		rc = restore_err(rc);

out:
	cl_record_scratch_free(&s);
	return rc < 0 ? rc : 0;
}

int cl_batch_split(const uint8_t *buf, size_t len, cl_batch_fn fn, void *ctx)
{
	if (len < CL_BATCH_HDR_LEN || buf[0] != CL_BATCH_MAGIC || buf[1] != 0)
		return COROLEASE_EPROTO;
	unsigned count = cl_get_u16(buf + 2);
	if (count < 2)
		return COROLEASE_EPROTO;
	size_t pos = CL_BATCH_HDR_LEN;
	for (unsigned i = 0; i < count; i++) {
		if (len - pos < 4)
			return COROLEASE_EPROTO;
		uint32_t ml = cl_get_u32(buf + pos);
		pos += 4;
		if (ml < CL_WIRE_HDR_LEN || ml > len - pos)
			return COROLEASE_EPROTO;
		struct cl_msg m;
		int rc = cl_wire_decode(buf + pos, ml, &m);
		if (rc < 0)
			return rc;
		pos += ml;
	}
	if (pos != len)
		return COROLEASE_EPROTO;
	pos = CL_BATCH_HDR_LEN;
	for (unsigned i = 0; i < count; i++) {
		uint32_t ml = cl_get_u32(buf + pos);
		fn(ctx, buf + pos + 4, ml);
		pos += 4 + ml;
	}
	return (int)count;
}
