/*
 * fuzz_wire - libFuzzer target: the wire decoder and the batch splitter
 * (core/wire.c) on arbitrary bytes.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every input goes to cl_wire_decode() and to cl_batch_split().  Oracles
 * (besides the sanitizers: nothing read outside the input):
 *  - a message that decodes re-encodes to exactly the input (the format
 *    has one encoding per message: reserved bytes are 0, lengths exact),
 *    and that encoding decodes to the same fields;
 *  - a batch that splits was validated whole: the callback ran once per
 *    message, in order, each part decodes, and the parts framed again
 *    give back the input; a batch refused never called the callback.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "wire.h"

static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* a and b carry the same message (the pointers' contents compared) */
static void same_msg(const struct cl_msg *a, const struct cl_msg *b)
{
	FZ_CHECK(a->type == b->type && a->mode == b->mode && a->flags == b->flags &&
		 a->keylen == b->keylen && a->namelen == b->namelen && a->node == b->node &&
		 a->uid == b->uid && a->vallen == b->vallen && a->req_id == b->req_id &&
		 a->epoch == b->epoch && a->seq == b->seq && a->ring.rep == b->ring.rep &&
		 a->ring.seq == b->ring.seq && a->lsn == b->lsn && a->term.rep == b->term.rep &&
		 a->term.seq == b->term.seq && a->mem_max == b->mem_max &&
		 a->per_uid_max == b->per_uid_max && a->q_lsn == b->q_lsn &&
		 a->epoch_floor == b->epoch_floor && a->hash == b->hash,
		 "type %u: a field differs after encode/decode", a->type);
	FZ_CHECK((a->namelen == 0 || same_bytes(a->name, b->name, a->namelen)) &&
		 (a->keylen == 0 || same_bytes(a->key, b->key, a->keylen)),
		 "type %u: name or key differs after encode/decode", a->type);
	if (a->vallen && (a->type == CL_MSG_INDEX_PUT || a->type == CL_MSG_SYNC_CHUNK ||
			  a->type == CL_MSG_SYNC_HOLDS))
		FZ_CHECK(same_bytes(a->value, b->value, a->vallen),
			 "type %u: value differs after encode/decode", a->type);
}

static void message(const uint8_t *data, size_t size)
{
	struct cl_msg m;
	int rc = cl_wire_decode(data, size, &m);
	FZ_CHECK(rc == 0 || rc == COROLEASE_EPROTO || rc == COROLEASE_EVERSION,
		 "cl_wire_decode returned %d", rc);
	if (rc != 0)
		return;
	long need = cl_wire_size(&m);
	FZ_CHECK(need == (long)size, "decoded %zu bytes, cl_wire_size says %ld", size, need);
	uint8_t *buf = malloc(size);
	FZ_CHECK(buf != NULL, "out of memory");
	long n = cl_wire_encode(&m, buf, size);
	FZ_CHECK(n == (long)size, "re-encoding %zu bytes gave %ld", size, n);
	FZ_CHECK(same_bytes(buf, data, size), "type %u: re-encoding differs from the input", m.type);
	if (size > 0)
		FZ_CHECK(cl_wire_encode(&m, buf, size - 1) == -ENOSPC, "encode into a short buffer");
	struct cl_msg m2;
	FZ_CHECK(cl_wire_decode(buf, size, &m2) == 0, "the re-encoding does not decode");
	same_msg(&m, &m2);
	free(buf);
}

struct parts {
	size_t n, cap;
	const uint8_t **p;
	size_t *len;
	const uint8_t *lo, *hi;   /* the input: every part lies inside it */
};

static void on_part(void *ctx, const uint8_t *msg, size_t len)
{
	struct parts *ps = ctx;
	FZ_CHECK(msg >= ps->lo && len <= (size_t)(ps->hi - msg), "a part lies outside the batch");
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 16;
		ps->p = realloc(ps->p, ps->cap * sizeof(*ps->p));
		ps->len = realloc(ps->len, ps->cap * sizeof(*ps->len));
		FZ_CHECK(ps->p && ps->len, "out of memory");
	}
	ps->p[ps->n] = msg;
	ps->len[ps->n++] = len;
}

static void batch(const uint8_t *data, size_t size)
{
	struct parts ps = { .lo = data, .hi = data + size };
	int rc = cl_batch_split(data, size, on_part, &ps);
	FZ_CHECK(rc >= 0 || rc == COROLEASE_EPROTO || rc == COROLEASE_EVERSION,
		 "cl_batch_split returned %d", rc);
	if (rc < 0) {
		FZ_CHECK(ps.n == 0, "a refused batch (%d) called back %zu times", rc, ps.n);
	} else {
		FZ_CHECK((size_t)rc == ps.n && rc >= 2, "batch of %d called back %zu times", rc, ps.n);
		uint8_t *buf = malloc(size);
		FZ_CHECK(buf != NULL, "out of memory");
		buf[0] = CL_BATCH_MAGIC;
		buf[1] = 0;
		cl_put_u16(buf + 2, (uint16_t)ps.n);
		size_t at = CL_BATCH_HDR_LEN;
		for (size_t i = 0; i < ps.n; i++) {
			struct cl_msg m;
			FZ_CHECK(cl_wire_decode(ps.p[i], ps.len[i], &m) == 0,
				 "part %zu of a valid batch does not decode", i);
			FZ_CHECK(at + 4 + ps.len[i] <= size, "the parts are longer than the batch");
			cl_put_u32(buf + at, (uint32_t)ps.len[i]);
			memcpy(buf + at + 4, ps.p[i], ps.len[i]);
			at += 4 + ps.len[i];
		}
		FZ_CHECK(at == size && same_bytes(buf, data, size),
			 "the parts framed again differ from the batch");
		free(buf);
	}
	free(ps.p);
	free(ps.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	message(data, size);
	batch(data, size);
	return 0;
}
