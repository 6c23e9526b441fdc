/*
 * check_wire.c - unit tests for core/wire.c (message codec and snapshots).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every decode of a buffer that is expected to be rejected works on an
 * exact-size heap copy, so AddressSanitizer catches any read past its end.
 * All randomness comes from fixed-seed xorshift generators: runs repeat.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "lease.h"
#include "wire.h"
#include "xrand.h"

/* ---- shared data -------------------------------------------------------- */

static uint8_t name_max[COROLEASE_NAME_MAX];
static uint8_t key_max[COROLEASE_KEY_MAX];
static uint8_t val_max[COROLEASE_VALUE_MAX];
static uint8_t chunk_max[CL_SYNC_CHUNK_MAX];
static uint8_t msgbuf[CL_SYNC_CHUNK_MAX + 256];

static void fill(uint8_t *p, size_t n, uint8_t salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + salt + (i >> 8));
}

static void init_data(void)
{
	fill(name_max, sizeof(name_max), 1);
	fill(key_max, sizeof(key_max), 2);
	fill(val_max, sizeof(val_max), 3);
	fill(chunk_max, sizeof(chunk_max), 4);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return xrand_next(&rng_state);
}

#define S(str) ((const uint8_t *)(str)), ((uint16_t)(sizeof(str) - 1))

/* Fills out with valid messages of every type, typical and edge values. */
static size_t sample_msgs(struct cl_msg *out, size_t max)
{
	const struct cl_msg s[] = {
		{ .type = CL_MSG_ACQUIRE, .req_id = 1, .mode = CL_MODE_EX,
		  .name = (const uint8_t *)"a", .namelen = 1 },
		{ .type = CL_MSG_ACQUIRE, .req_id = UINT64_MAX, .mode = CL_MODE_SH,
		  .flags = CL_ACQ_WAIT, .name = name_max, .namelen = COROLEASE_NAME_MAX },
		{ .type = CL_MSG_ACQUIRE, .req_id = 77, .mode = CL_MODE_EX, .flags = CL_ACQ_WAIT,
		  .name = (const uint8_t *)"lease/db", .namelen = 8 },
		{ .type = CL_MSG_RELEASE, .epoch = 7, .name = (const uint8_t *)"lease/x",
		  .namelen = 7 },
		{ .type = CL_MSG_RELEASE, .epoch = UINT64_MAX, .name = name_max,
		  .namelen = COROLEASE_NAME_MAX },
		{ .type = CL_MSG_HANDOVER_DONE, .epoch = 0, .name = (const uint8_t *)"h",
		  .namelen = 1 },
		{ .type = CL_MSG_HANDOVER_DONE, .epoch = 1ull << 40, .name = name_max,
		  .namelen = COROLEASE_NAME_MAX },
		{ .type = CL_MSG_EVICT, .req_id = 3, .name = (const uint8_t *)"e", .namelen = 1 },
		{ .type = CL_MSG_EVICT, .req_id = UINT64_MAX - 1, .name = name_max,
		  .namelen = COROLEASE_NAME_MAX },
		{ .type = CL_MSG_RECOVER_NODE, .node = 1, .seq = 0 },
		{ .type = CL_MSG_RECOVER_NODE, .node = UINT32_MAX, .seq = UINT64_MAX },
		{ .type = CL_MSG_FENCE_ACK, .req_id = 0, .node = 1 },
		{ .type = CL_MSG_FENCE_ACK, .req_id = UINT64_MAX, .node = UINT32_MAX,
		  .flags = CL_FENCE_FORCE },
		{ .type = CL_MSG_INDEX_PUT, .req_id = 5, .epoch = 9, .name = (const uint8_t *)"n",
		  .namelen = 1, .key = (const uint8_t *)"k", .keylen = 1, .value = NULL,
		  .vallen = 0 },
		{ .type = CL_MSG_INDEX_PUT, .req_id = 6, .epoch = 10, .uid = 1000,
		  .name = (const uint8_t *)"foo",
		  .namelen = 3, .key = (const uint8_t *)"bar", .keylen = 3,
		  .value = (const uint8_t *)"bazqux", .vallen = 6 },
		{ .type = CL_MSG_INDEX_PUT, .req_id = UINT64_MAX, .epoch = UINT64_MAX,
		  .uid = UINT32_MAX, .name = name_max, .namelen = COROLEASE_NAME_MAX, .key = key_max,
		  .keylen = COROLEASE_KEY_MAX, .value = val_max, .vallen = COROLEASE_VALUE_MAX },
		{ .type = CL_MSG_INDEX_DEL, .req_id = 8, .epoch = 1, .name = (const uint8_t *)"n",
		  .namelen = 1, .key = (const uint8_t *)"k", .keylen = 1 },
		{ .type = CL_MSG_INDEX_DEL, .req_id = 0, .epoch = UINT64_MAX, .name = name_max,
		  .namelen = COROLEASE_NAME_MAX, .key = key_max, .keylen = COROLEASE_KEY_MAX },
		{ .type = CL_MSG_NOP, .req_id = 0 },
		{ .type = CL_MSG_NOP, .req_id = UINT64_MAX },
		{ .type = CL_MSG_QUORUM, .ring = { 1, 1 }, .flags = 0 },
		{ .type = CL_MSG_QUORUM, .ring = { UINT32_MAX, UINT64_MAX }, .flags = CL_QUORUM_YES },
		{ .type = CL_MSG_QUORUM, .ring = { 3, 8 }, .flags = CL_QUORUM_YES | CL_QUORUM_SPLIT },
		{ .type = CL_MSG_GRACE_END, .ring = { 1, 4 } },
		{ .type = CL_MSG_GRACE_END, .ring = { UINT32_MAX, UINT64_MAX } },
		{ .type = CL_MSG_SYNC_ANNOUNCE },
		{ .type = CL_MSG_SYNC_ANNOUNCE, .ring = { UINT32_MAX, UINT64_MAX },
		  .lsn = UINT64_MAX, .q_lsn = UINT64_MAX - 1, .hash = 0x0123456789abcdefull,
		  .flags = 1, .term = { UINT32_MAX, UINT64_MAX }, .mem_max = UINT64_MAX,
		  .epoch_floor = UINT64_MAX - 2, .per_uid_max = UINT64_MAX - 3, .round = UINT64_MAX,
		  .term_seen = { UINT32_MAX - 1, UINT64_MAX - 4 } },
		{ .type = CL_MSG_SYNC_ANNOUNCE, .ring = { 1, 4 }, .flags = CL_SYNC_ANNOUNCE_FLAGS,
		  .round = 12345 },
		{ .type = CL_MSG_SYNC_CHUNK, .ring = { 2, 3 }, .seq = 0, .flags = 0, .vallen = 0 },
		{ .type = CL_MSG_SYNC_HOLDS, .ring = { 2, 3 }, .seq = 1, .flags = 1,
		  .value = (const uint8_t *)"holds", .vallen = 5, .round = 77 },
		{ .type = CL_MSG_SYNC_CHUNK, .ring = { 2, 3 }, .seq = 4, .flags = 1,
		  .value = (const uint8_t *)"chunk", .vallen = 5 },
		{ .type = CL_MSG_SYNC_CHUNK, .ring = { UINT32_MAX, UINT64_MAX }, .seq = UINT64_MAX,
		  .flags = 1, .value = chunk_max, .vallen = CL_SYNC_CHUNK_MAX },
		{ .type = CL_MSG_WRITE_ACK, .value = (const uint8_t *)"\1\0\0\0\7\0\0\0\0\0\0\0",
		  .vallen = CL_WRITE_ACK_LEN },
		{ .type = CL_MSG_WRITE_ACK, .value = chunk_max,
		  .vallen = CL_MAX_MEMBERS * CL_WRITE_ACK_LEN },
	};
	size_t n = sizeof(s) / sizeof(s[0]);

	ck_assert_uint_le(n, max);
	memcpy(out, s, sizeof(s));
	return n;
}

static bool bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static void assert_msg_eq(const struct cl_msg *a, const struct cl_msg *b)
{
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->keylen, b->keylen);
	ck_assert_uint_eq(a->namelen, b->namelen);
	ck_assert_uint_eq(a->node, b->node);
	ck_assert_uint_eq(a->vallen, b->vallen);
	ck_assert_uint_eq(a->req_id, b->req_id);
	ck_assert_uint_eq(a->epoch, b->epoch);
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_uint_eq(a->ring.rep, b->ring.rep);
	ck_assert_uint_eq(a->ring.seq, b->ring.seq);
	ck_assert_uint_eq(a->lsn, b->lsn);
	ck_assert_uint_eq(a->q_lsn, b->q_lsn);
	ck_assert_uint_eq(a->hash, b->hash);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_uint_eq(a->term.rep, b->term.rep);
	ck_assert_uint_eq(a->term.seq, b->term.seq);
	ck_assert_uint_eq(a->term_seen.rep, b->term_seen.rep);
	ck_assert_uint_eq(a->term_seen.seq, b->term_seen.seq);
	ck_assert_uint_eq(a->mem_max, b->mem_max);
	ck_assert_uint_eq(a->epoch_floor, b->epoch_floor);
	ck_assert_uint_eq(a->per_uid_max, b->per_uid_max);
	ck_assert_uint_eq(a->round, b->round);
	ck_assert(bytes_eq(a->name, b->name, a->namelen));
	ck_assert(bytes_eq(a->key, b->key, a->keylen));
	ck_assert(bytes_eq(a->value, b->value, a->vallen));
}

/* Encodes m into msgbuf; returns its length. */
static size_t enc(const struct cl_msg *m)
{
	long n = cl_wire_encode(m, msgbuf, sizeof(msgbuf));

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(n, cl_wire_size(m));
	return (size_t)n;
}

/*
 * Decodes an exact-size heap copy of src[0..len) and returns the result.
 * On failure also checks that *m_r was left zeroed.
 */
static int dec_exact(const uint8_t *src, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct cl_msg m, zero;

	ck_assert_ptr_nonnull(copy);
	if (len)
		memcpy(copy, src, len);
	memset(&m, 0xa5, sizeof(m));
	memset(&zero, 0, sizeof(zero));
	int rc = cl_wire_decode(copy, len, &m);
	if (rc != 0)
		ck_assert(memcmp(&m, &zero, sizeof(m)) == 0);
	free(copy);
	return rc;
}

/* ---- message round trips -------------------------------------------------- */

START_TEST(test_roundtrip_all)
{
	struct cl_msg s[64];
	size_t n;
	bool seen[256] = { false };

	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		size_t len = enc(&s[i]);
		uint8_t *copy = malloc(len);
		struct cl_msg d;

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, msgbuf, len);
		ck_assert_uint_eq(copy[0], CL_WIRE_VERSION);
		ck_assert_uint_eq(copy[1], s[i].type);
		ck_assert_uint_eq(cl_get_u16(copy + 2), 0);
		ck_assert_uint_eq(cl_get_u32(copy + 4), len - CL_WIRE_HDR_LEN);
		ck_assert_int_eq(cl_wire_decode(copy, len, &d), 0);
		assert_msg_eq(&s[i], &d);
		/* pointers refer into the decoded buffer */
		if (d.namelen)
			ck_assert(d.name >= copy && d.name + d.namelen <= copy + len);
		if (d.keylen)
			ck_assert(d.key >= copy && d.key + d.keylen <= copy + len);
		if (d.vallen)
			ck_assert(d.value >= copy && d.value + d.vallen <= copy + len);
		/* re-encoding is byte-identical */
		ck_assert_int_eq(cl_wire_encode(&d, msgbuf, sizeof(msgbuf)), (long)len);
		ck_assert(memcmp(msgbuf, copy, len) == 0);
		seen[s[i].type] = true;
		free(copy);
	}
	for (unsigned t = 1; t <= 11; t++)
		ck_assert_msg(seen[t], "type %u not covered", t);
	ck_assert(seen[CL_MSG_SYNC_ANNOUNCE] && seen[CL_MSG_SYNC_CHUNK] && seen[CL_MSG_SYNC_HOLDS] &&
		  seen[CL_MSG_WRITE_ACK]);
}
END_TEST

START_TEST(test_field_layout)
{
	/* Pins the byte layout of a few messages against hand-written bytes. */
	static const uint8_t acq[] = {
		8, 1, 0, 0, 15, 0, 0, 0,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* req_id */
		2, 1,                                           /* mode SH, WAIT */
		3, 0, 'a', 'b', 'c',
	};
	static const uint8_t put[] = {
		8, 7, 0, 0, 31, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0,   /* req_id */
		2, 0, 0, 0, 0, 0, 0, 0,   /* epoch */
		0xe9, 0xfd, 0, 0,         /* uid 65001 */
		1, 0, 2, 1, 0, 0, 0,      /* namelen 1, keylen 2, vallen 1 */
		'n', 'k', 'k', 'v',
	};
	static const uint8_t chunk[] = {
		8, 33, 0, 0, 35, 0, 0, 0,
		9, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0,   /* ring */
		3, 0, 0, 0, 0, 0, 0, 0,                /* seq */
		1, 2, 0, 0, 0,                         /* last, vallen 2 */
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,   /* round */
		'x', 'y',
	};
	static const uint8_t ann[] = {
		8, 32, 0, 0, 93, 0, 0, 0,
		1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,    /* ring */
		5, 0, 0, 0, 0, 0, 0, 0,                /* lsn */
		4, 0, 0, 0, 0, 0, 0, 0,                /* q_lsn */
		0xaa, 0, 0, 0, 0, 0, 0, 0,             /* hash */
		5,                                     /* has state, confirm */
		1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,    /* term */
		0, 0, 0, 4, 0, 0, 0, 0,                /* mem_max 64 MiB */
		7, 0, 0, 0, 0, 0, 0, 0,                /* epoch_floor */
		0, 0, 0, 0, 0, 0, 0, 0,                /* per_uid_max */
		0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,   /* round */
		2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,    /* term_seen */
	};
	struct cl_msg m = { .type = CL_MSG_ACQUIRE, .req_id = 0x0102030405060708ull,
			    .mode = CL_MODE_SH, .flags = CL_ACQ_WAIT,
			    .name = (const uint8_t *)"abc", .namelen = 3 };

	ck_assert_int_eq(enc(&m), sizeof(acq));
	ck_assert(memcmp(msgbuf, acq, sizeof(acq)) == 0);

	m = (struct cl_msg){ .type = CL_MSG_INDEX_PUT, .req_id = 1, .epoch = 2, .uid = 65001,
			     .name = (const uint8_t *)"n", .namelen = 1,
			     .key = (const uint8_t *)"kk", .keylen = 2,
			     .value = (const uint8_t *)"v", .vallen = 1 };
	ck_assert_int_eq(enc(&m), sizeof(put));
	ck_assert(memcmp(msgbuf, put, sizeof(put)) == 0);

	m = (struct cl_msg){ .type = CL_MSG_SYNC_CHUNK, .ring = { 9, 10 }, .seq = 3,
			     .flags = 1, .value = (const uint8_t *)"xy", .vallen = 2,
			     .round = 0x1112131415161718ull };
	ck_assert_int_eq(enc(&m), sizeof(chunk));
	ck_assert(memcmp(msgbuf, chunk, sizeof(chunk)) == 0);

	m = (struct cl_msg){ .type = CL_MSG_SYNC_ANNOUNCE, .ring = { 1, 4 }, .lsn = 5, .q_lsn = 4,
			     .hash = 0xaa, .flags = CL_SYNC_HAS_STATE | CL_SYNC_CONFIRM,
			     .term = { 1, 4 }, .mem_max = 64u << 20, .epoch_floor = 7,
			     .round = 0x2122232425262728ull, .term_seen = { 2, 8 } };
	ck_assert_int_eq(enc(&m), sizeof(ann));
	ck_assert(memcmp(msgbuf, ann, sizeof(ann)) == 0);
}
END_TEST

/* ---- decode errors -------------------------------------------------------- */

START_TEST(test_truncations)
{
	struct cl_msg s[64];
	size_t n;
	uint8_t *full = malloc(sizeof(msgbuf));

	ck_assert_ptr_nonnull(full);
	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		size_t len = enc(&s[i]);
		memcpy(full, msgbuf, len);
		/*
		 * Every length through the first 4 KiB (all fixed fields and
		 * names) and the last 64 bytes; in the bulk of a large value
		 * every 257th, to keep the quadratic cost bounded.
		 */
		for (size_t l = 0; l < len; l += (l >= 4096 && l + 64 + 257 < len) ? 257 : 1) {
			/* as received */
			ck_assert_int_eq(dec_exact(full, l), COROLEASE_EPROTO);
			/* with the header's body length adjusted to match */
			if (l >= CL_WIRE_HDR_LEN) {
				uint8_t save[4];
				memcpy(save, full + 4, 4);
				cl_put_u32(full + 4, (uint32_t)(l - CL_WIRE_HDR_LEN));
				ck_assert_msg(dec_exact(full, l) == COROLEASE_EPROTO,
					      "type %u len %zu/%zu", s[i].type, l, len);
				memcpy(full + 4, save, 4);
			}
		}
		ck_assert_int_eq(dec_exact(full, len), 0);
	}
	free(full);
}
END_TEST

START_TEST(test_trailing_byte)
{
	struct cl_msg s[64];
	size_t n;

	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		size_t len = enc(&s[i]);

		msgbuf[len] = 0;
		ck_assert_int_eq(dec_exact(msgbuf, len + 1), COROLEASE_EPROTO);
		cl_put_u32(msgbuf + 4, (uint32_t)(len + 1 - CL_WIRE_HDR_LEN));
		ck_assert_int_eq(dec_exact(msgbuf, len + 1), COROLEASE_EPROTO);
	}
}
END_TEST

START_TEST(test_bad_version)
{
	struct cl_msg s[64];
	size_t n;
	static const uint8_t versions[] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 0x81, 255 };   /* all but CL_WIRE_VERSION (8) */

	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		size_t len = enc(&s[i]);
		for (size_t v = 0; v < sizeof(versions); v++) {
			msgbuf[0] = versions[v];
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EVERSION);
			/* checked before anything else, once a byte is there */
			ck_assert_int_eq(dec_exact(msgbuf, 1), COROLEASE_EVERSION);
			ck_assert_int_eq(dec_exact(msgbuf, 5), COROLEASE_EVERSION);
		}
	}
	uint8_t one = CL_WIRE_VERSION;
	ck_assert_int_eq(dec_exact(&one, 1), COROLEASE_EPROTO);
	ck_assert_int_eq(dec_exact(NULL, 0), COROLEASE_EPROTO);
	struct cl_msg m;
	ck_assert_int_eq(cl_wire_decode(NULL, 0, &m), COROLEASE_EPROTO);
}
END_TEST

START_TEST(test_bad_header)
{
	struct cl_msg m = { .type = CL_MSG_NOP, .req_id = 42 };
	size_t len = enc(&m);
	uint8_t base[64];

	memcpy(base, msgbuf, len);
	/* nonzero reserved */
	for (int b = 2; b <= 3; b++) {
		for (unsigned v = 1; v < 256; v <<= 1) {
			memcpy(msgbuf, base, len);
			msgbuf[b] = (uint8_t)v;
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
	}
	/* body length mismatch */
	static const uint32_t bl[] = { 0, 7, 9, 16, 0x100 + 8, 0xffffffffu };
	for (size_t i = 0; i < sizeof(bl) / sizeof(bl[0]); i++) {
		memcpy(msgbuf, base, len);
		cl_put_u32(msgbuf + 4, bl[i]);
		ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
	}
	/* unknown types, with a NOP-shaped body and with an empty one */
	for (unsigned t = 0; t < 256; t++) {
		if ((t >= 1 && t <= 11) || t == 32 || t == 33 || t == 34)
			continue;
		memcpy(msgbuf, base, len);
		msgbuf[1] = (uint8_t)t;
		ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		cl_put_u32(msgbuf + 4, 0);
		ck_assert_int_eq(dec_exact(msgbuf, CL_WIRE_HDR_LEN), COROLEASE_EPROTO);
	}
	memcpy(msgbuf, base, len);
	ck_assert_int_eq(dec_exact(msgbuf, len), 0);
}
END_TEST

/*
 * Body offsets of the variable fields, per type (-1: absent).  Used to craft
 * buffers that are well-formed except for one field.
 */
struct layout {
	uint8_t type;
	int namelen_at, name_at, keylen_at, vallen_at, mode_at, flags_at, node_at;
	uint8_t flag_bits;       /* the flags defined for the type */
};

static const struct layout layouts[] = {
	{ CL_MSG_ACQUIRE, 10, 12, -1, -1, 8, 9, -1, CL_ACQ_FLAGS_ALL },
	{ CL_MSG_RELEASE, 8, 10, -1, -1, -1, -1, -1, 0 },
	{ CL_MSG_HANDOVER_DONE, 8, 10, -1, -1, -1, -1, -1, 0 },
	{ CL_MSG_EVICT, 8, 10, -1, -1, -1, -1, -1, 0 },
	{ CL_MSG_RECOVER_NODE, -1, -1, -1, -1, -1, -1, 0, 0 },
	{ CL_MSG_FENCE_ACK, -1, -1, -1, -1, -1, 12, 8, CL_FENCE_FORCE },
	{ CL_MSG_INDEX_PUT, 20, 27, 22, 23, -1, -1, -1, 0 },
	{ CL_MSG_INDEX_DEL, 16, 19, 18, -1, -1, -1, -1, 0 },
	{ CL_MSG_NOP, -1, -1, -1, -1, -1, -1, -1, 0 },
	{ CL_MSG_QUORUM, -1, -1, -1, -1, -1, 12, -1, CL_QUORUM_FLAGS_ALL },
	{ CL_MSG_GRACE_END, -1, -1, -1, -1, -1, -1, -1, 0 },
	{ CL_MSG_SYNC_ANNOUNCE, -1, -1, -1, -1, -1, 36, -1, CL_SYNC_ANNOUNCE_FLAGS },
	{ CL_MSG_SYNC_CHUNK, -1, -1, -1, 21, -1, 20, -1, CL_SYNC_LAST_CHUNK },
	{ CL_MSG_SYNC_HOLDS, -1, -1, -1, 21, -1, 20, -1, CL_SYNC_LAST_CHUNK },
	{ CL_MSG_WRITE_ACK, -1, -1, -1, 0, -1, -1, -1, 0 },
};

static const struct layout *layout_of(uint8_t type)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].type == type)
			return &layouts[i];
	ck_abort_msg("no layout for type %u", type);
	return NULL;
}

/* Inserts (delta 1) or removes (delta -1) one byte at body offset `at`. */
static size_t splice(uint8_t *buf, size_t len, size_t at, int delta)
{
	at += CL_WIRE_HDR_LEN;
	if (delta > 0) {
		memmove(buf + at + 1, buf + at, len - at);
		buf[at] = 0x5a;
		len++;
	} else {
		memmove(buf + at, buf + at + 1, len - at - 1);
		len--;
	}
	cl_put_u32(buf + 4, (uint32_t)(len - CL_WIRE_HDR_LEN));
	return len;
}

START_TEST(test_bad_lengths)
{
	struct cl_msg s[64];
	size_t n;

	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		const struct layout *lo = layout_of(s[i].type);
		uint8_t *b = msgbuf + CL_WIRE_HDR_LEN;
		size_t len;

		/* namelen 0 (drop the only byte) and 1025 (add one byte) */
		if (lo->namelen_at >= 0 && s[i].namelen == 1) {
			len = splice(msgbuf, enc(&s[i]), (size_t)lo->name_at, -1);
			cl_put_u16(b + lo->namelen_at, 0);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		if (lo->namelen_at >= 0 && s[i].namelen == COROLEASE_NAME_MAX) {
			len = splice(msgbuf, enc(&s[i]), (size_t)lo->name_at, 1);
			cl_put_u16(b + lo->namelen_at, COROLEASE_NAME_MAX + 1);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
			/* 0xffff with no bytes behind it */
			len = enc(&s[i]);
			cl_put_u16(b + lo->namelen_at, 0xffff);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		/* keylen 0 */
		if (lo->keylen_at >= 0 && s[i].keylen == 1) {
			len = splice(msgbuf, enc(&s[i]), (size_t)lo->name_at + s[i].namelen, -1);
			b[lo->keylen_at] = 0;
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		/* value / chunk one past the maximum */
		if (s[i].type == CL_MSG_INDEX_PUT && s[i].vallen == COROLEASE_VALUE_MAX) {
			len = enc(&s[i]);
			len = splice(msgbuf, len, len - CL_WIRE_HDR_LEN, 1);
			cl_put_u32(b + lo->vallen_at, COROLEASE_VALUE_MAX + 1);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		if (s[i].type == CL_MSG_SYNC_CHUNK && s[i].vallen == CL_SYNC_CHUNK_MAX) {
			len = enc(&s[i]);
			len = splice(msgbuf, len, len - CL_WIRE_HDR_LEN, 1);
			cl_put_u32(b + lo->vallen_at, CL_SYNC_CHUNK_MAX + 1);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		/* a WRITE_ACK: empty, not whole entries, more entries than members */
		if (s[i].type == CL_MSG_WRITE_ACK && s[i].vallen == CL_WRITE_ACK_LEN) {
			len = enc(&s[i]);
			len = splice(msgbuf, len, len - CL_WIRE_HDR_LEN - 1, -1);
			cl_put_u32(b + lo->vallen_at, CL_WRITE_ACK_LEN - 1);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
			len = enc(&s[i]);
			for (unsigned k = 0; k < CL_WRITE_ACK_LEN; k++)
				len = splice(msgbuf, len, 4, -1);
			cl_put_u32(b + lo->vallen_at, 0);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
		if (s[i].type == CL_MSG_WRITE_ACK && s[i].vallen == CL_MAX_MEMBERS * CL_WRITE_ACK_LEN) {
			len = enc(&s[i]);
			for (unsigned k = 0; k < CL_WRITE_ACK_LEN; k++)
				len = splice(msgbuf, len, len - CL_WIRE_HDR_LEN, 1);
			cl_put_u32(b + lo->vallen_at, (CL_MAX_MEMBERS + 1) * CL_WRITE_ACK_LEN);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
			struct cl_msg big = s[i];
			big.vallen += CL_WRITE_ACK_LEN;
			ck_assert_int_eq(cl_wire_size(&big), -EINVAL);
		}
		/* huge vallen with nothing behind it */
		if (lo->vallen_at >= 0) {
			len = enc(&s[i]);
			cl_put_u32(b + lo->vallen_at, 0xffffffffu);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
	}
}
END_TEST

START_TEST(test_bad_fields)
{
	struct cl_msg s[64];
	size_t n;

	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		const struct layout *lo = layout_of(s[i].type);
		uint8_t *b = msgbuf + CL_WIRE_HDR_LEN;
		size_t len = enc(&s[i]);

		if (lo->mode_at >= 0) {
			static const uint8_t bad_modes[] = { 0, 3, 4, 0x81, 255 };
			for (size_t k = 0; k < sizeof(bad_modes); k++) {
				len = enc(&s[i]);
				b[lo->mode_at] = bad_modes[k];
				ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
			}
		}
		if (lo->flags_at >= 0) {
			/* an undefined flag bit is refused, a defined one is fine either way */
			for (unsigned bit = 0; bit < 8; bit++) {
				uint8_t f = (uint8_t)(1u << bit);
				len = enc(&s[i]);
				b[lo->flags_at] ^= f;
				ck_assert_int_eq(dec_exact(msgbuf, len),
						 (lo->flag_bits & f) ? 0 : COROLEASE_EPROTO);
			}
		}
		if (lo->node_at >= 0) {
			len = enc(&s[i]);
			cl_put_u32(b + lo->node_at, 0);
			ck_assert_int_eq(dec_exact(msgbuf, len), COROLEASE_EPROTO);
		}
	}
}
END_TEST

/* ---- encode errors -------------------------------------------------------- */

static void assert_einval(const struct cl_msg *m)
{
	ck_assert_int_eq(cl_wire_size(m), -EINVAL);
	ck_assert_int_eq(cl_wire_encode(m, msgbuf, sizeof(msgbuf)), -EINVAL);
}

START_TEST(test_encode_errors)
{
	const uint8_t *nm = (const uint8_t *)"name";
	struct cl_msg m;

	init_data();
	ck_assert_int_eq(cl_wire_size(NULL), -EINVAL);

	/* unknown types */
	for (unsigned t = 0; t < 256; t++) {
		if ((t >= 1 && t <= 11) || t == 32 || t == 33 || t == 34)
			continue;
		m = (struct cl_msg){ .type = (uint8_t)t, .req_id = 1, .node = 1,
				     .mode = CL_MODE_EX, .name = nm, .namelen = 4,
				     .key = nm, .keylen = 1 };
		assert_einval(&m);
	}
	/* names on every name-carrying type */
	static const uint8_t named[] = { CL_MSG_ACQUIRE, CL_MSG_RELEASE, CL_MSG_HANDOVER_DONE,
					 CL_MSG_EVICT, CL_MSG_INDEX_PUT, CL_MSG_INDEX_DEL };
	for (size_t i = 0; i < sizeof(named); i++) {
		struct cl_msg ok = { .type = named[i], .mode = CL_MODE_EX, .name = nm,
				     .namelen = 4, .key = nm, .keylen = 1 };
		ck_assert_int_gt(cl_wire_size(&ok), 0);
		m = ok; m.namelen = 0;
		assert_einval(&m);
		m = ok; m.name = name_max; m.namelen = COROLEASE_NAME_MAX + 1;
		assert_einval(&m);
		m = ok; m.name = NULL;
		assert_einval(&m);
	}
	/* acquire mode and flags */
	struct cl_msg acq = { .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, .name = nm, .namelen = 4 };
	m = acq; m.mode = 0; assert_einval(&m);
	m = acq; m.mode = 3; assert_einval(&m);
	m = acq; m.flags = 2; assert_einval(&m);
	m = acq; m.flags = 0x40; assert_einval(&m);
	/* keys and values */
	struct cl_msg put = { .type = CL_MSG_INDEX_PUT, .name = nm, .namelen = 4, .key = nm,
			      .keylen = 1, .value = val_max, .vallen = COROLEASE_VALUE_MAX };
	ck_assert_int_gt(cl_wire_size(&put), 0);
	m = put; m.keylen = 0; assert_einval(&m);
	m = put; m.key = NULL; assert_einval(&m);
	m = put; m.vallen = COROLEASE_VALUE_MAX + 1; assert_einval(&m);
	m = put; m.value = NULL; m.vallen = 1; assert_einval(&m);
	m = put; m.value = NULL; m.vallen = 0;
	ck_assert_int_gt(cl_wire_size(&m), 0);
	m = put; m.type = CL_MSG_INDEX_DEL; m.keylen = 0; assert_einval(&m);
	m = put; m.type = CL_MSG_INDEX_DEL; m.key = NULL; assert_einval(&m);
	/* nodes */
	m = (struct cl_msg){ .type = CL_MSG_RECOVER_NODE, .node = 0 }; assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_FENCE_ACK, .node = 0 }; assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_FENCE_ACK, .node = 1, .flags = 2 }; assert_einval(&m);
	/* flags of quorum and sync */
	m = (struct cl_msg){ .type = CL_MSG_QUORUM, .flags = 4 }; assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_SYNC_ANNOUNCE, .flags = 0x20 }; assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_SYNC_CHUNK, .flags = 0x80 }; assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_SYNC_CHUNK, .vallen = CL_SYNC_CHUNK_MAX + 1,
			     .value = chunk_max };
	assert_einval(&m);
	m = (struct cl_msg){ .type = CL_MSG_SYNC_CHUNK, .vallen = 1, .value = NULL };
	assert_einval(&m);
}
END_TEST

START_TEST(test_encode_nospc)
{
	struct cl_msg s[64];
	size_t n;
	uint8_t *small = malloc(sizeof(msgbuf));

	ck_assert_ptr_nonnull(small);
	init_data();
	n = sample_msgs(s, 64);
	for (size_t i = 0; i < n; i++) {
		long size = cl_wire_size(&s[i]);
		ck_assert_int_gt(size, 0);
		for (size_t cap = 0; cap < (size_t)size; cap += (size > 4096 ? 997 : 1)) {
			memset(small, 0xee, (size_t)size);
			ck_assert_int_eq(cl_wire_encode(&s[i], small, cap), -ENOSPC);
			/* nothing written when it does not fit */
			ck_assert_uint_eq(small[0], 0xee);
		}
		ck_assert_int_eq(cl_wire_encode(&s[i], small, (size_t)size - 1), -ENOSPC);
		ck_assert_int_eq(cl_wire_encode(&s[i], small, (size_t)size), size);
		ck_assert_int_eq(cl_wire_encode(&s[i], small, sizeof(msgbuf)), size);
	}
	ck_assert_int_eq(cl_wire_encode(&s[0], NULL, 0), -ENOSPC);
	free(small);

	/* the largest INDEX_PUT fits in CL_WIRE_MSG_MAX */
	struct cl_msg put = { .type = CL_MSG_INDEX_PUT, .name = name_max,
			      .namelen = COROLEASE_NAME_MAX, .key = key_max,
			      .keylen = COROLEASE_KEY_MAX, .value = val_max,
			      .vallen = COROLEASE_VALUE_MAX };
	ck_assert_int_le(cl_wire_size(&put), (long)CL_WIRE_MSG_MAX);
}
END_TEST

/* ---- random mutation ------------------------------------------------------ */

#define FUZZ_ITERS 200000

START_TEST(test_mutation_fuzz)
{
	struct cl_msg all[64], s[64];
	size_t nall, n = 0;
	uint8_t work[4200];
	uint8_t *re = malloc(sizeof(work));
	unsigned long accepted = 0, rejected = 0;

	ck_assert_ptr_nonnull(re);
	init_data();
	nall = sample_msgs(all, 64);
	for (size_t i = 0; i < nall; i++)
		if (cl_wire_size(&all[i]) <= 4096)
			s[n++] = all[i];
	ck_assert_uint_gt(n, 12);

	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned long it = 0; it < FUZZ_ITERS; it++) {
		size_t len = enc(&s[rnd() % n]);
		memcpy(work, msgbuf, len);

		unsigned nops = 1 + (unsigned)(rnd() % 4);
		for (unsigned op = 0; op < nops; op++) {
			size_t at;
			switch (rnd() % 6) {
			case 0: /* flip a bit */
				if (len)
					work[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1: /* random byte */
				if (len)
					work[rnd() % len] = (uint8_t)rnd();
				break;
			case 2: /* insert */
				if (len < sizeof(work)) {
					at = rnd() % (len + 1);
					memmove(work + at + 1, work + at, len - at);
					work[at] = (uint8_t)rnd();
					len++;
				}
				break;
			case 3: /* delete */
				if (len) {
					at = rnd() % len;
					memmove(work + at, work + at + 1, len - at - 1);
					len--;
				}
				break;
			case 4: /* truncate */
				len = rnd() % (len + 1);
				break;
			case 5: /* small value into a 16-bit field (lengths, counts) */
				if (len >= 2) {
					at = rnd() % (len - 1);
					cl_put_u16(work + at, (uint16_t)(rnd() % 1100));
				}
				break;
			}
		}
		/* usually make the header agree, to reach the body parsers */
		if (len >= CL_WIRE_HDR_LEN && rnd() % 4 != 0) {
			work[0] = CL_WIRE_VERSION;
			work[2] = work[3] = 0;
			cl_put_u32(work + 4, (uint32_t)(len - CL_WIRE_HDR_LEN));
		}

		uint8_t *copy = malloc(len ? len : 1);
		struct cl_msg d;
		ck_assert_ptr_nonnull(copy);
		if (len)
			memcpy(copy, work, len);
		int rc = cl_wire_decode(copy, len, &d);
		if (rc == 0) {
			long r = cl_wire_encode(&d, re, sizeof(work));
			ck_assert_int_eq(r, (long)len);
			ck_assert(memcmp(re, copy, len) == 0);
			accepted++;
		} else {
			ck_assert_msg(rc == COROLEASE_EPROTO || rc == COROLEASE_EVERSION,
				      "iteration %lu: rc %d", it, rc);
			rejected++;
		}
		free(copy);
	}
	free(re);
	/* both outcomes must be well represented for the test to mean anything */
	ck_assert_uint_gt(accepted, FUZZ_ITERS / 50);
	ck_assert_uint_gt(rejected, FUZZ_ITERS / 2);
}
END_TEST

/* ---- snapshots ------------------------------------------------------------ */

/* The checksum is part of the format: known answers pin it. */
START_TEST(snap_checksum_known_answers)
{
	uint8_t b[256];
	for (int i = 0; i < 256; i++)
		b[i] = (uint8_t)i;
	ck_assert_uint_eq(cl_snap_checksum(b, 0), 0xefd01f60ba992926ull);
	ck_assert_uint_eq(cl_snap_checksum((const uint8_t *)"CLSN", 4), 0xb22312053dbeb749ull);
	ck_assert_uint_eq(cl_snap_checksum(b, 256), 0x2067db6dbd4efa06ull);
}
END_TEST

/*
 * The little-endian helpers and the hash of names and state (hash.h) are
 * part of the format and of every node's state hash: known answers (made
 * with the byte-loop versions they replaced) pin them, at odd addresses too.
 */
START_TEST(le_helpers_and_hash_known_answers)
{
	uint8_t b[64], o[16];
	for (int i = 0; i < 64; i++)
		b[i] = (uint8_t)(i * 37 + 11);
	ck_assert_uint_eq(cl_get_u16(b + 1), 0x5530);
	ck_assert_uint_eq(cl_get_u32(b + 1), 0x9f7a5530u);
	ck_assert_uint_eq(cl_get_u64(b + 1), 0x330ee9c49f7a5530ull);
	memset(o, 0, sizeof(o));
	cl_put_u64(o + 1, 0x0807060504030201ull);
	cl_put_u32(o + 9, 0x0c0b0a09u);
	cl_put_u16(o + 13, 0x0e0d);
	for (int i = 1; i <= 14; i++)
		ck_assert_uint_eq(o[i], i);
	ck_assert_uint_eq(o[0], 0);
	ck_assert_uint_eq(o[15], 0);

	uint64_t h = 0;
	for (size_t n = 0; n <= 40; n++)
		h = cl_hash_bytes(h, b + n % 3, n);
	ck_assert_uint_eq(h, 0x714bd82a6a06d61eull);
	ck_assert_uint_eq(cl_hash_bytes(0, b, 0), 0x48218226ff3cd4bfull);
	ck_assert_uint_eq(cl_hash_bytes(0x7265636f7264ull, "user1", 5), 0x9583e23a882f5f0cull);
	ck_assert_uint_eq(cl_hash_bytes(1, b + 1, 17), 0x6a8296db4487f4b8ull);
}
END_TEST

/* Rewrites the trailing checksum of a snapshot of len bytes. */
static void snap_reseal(uint8_t *p, size_t len)
{
	cl_put_u64(p + len - 8, cl_snap_checksum(p, len - 8));
}

static unsigned long n_actions;

static void count_action(void *ctx, const struct cl_action *a)
{
	(void)ctx;
	(void)a;
	n_actions++;
}

/* Applies m from sender, passing it through the codec first. */
static void apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	struct cl_msg d;
	size_t len = enc(m);

	ck_assert_int_eq(cl_wire_decode(msgbuf, len, &d), 0);
	ck_assert_int_eq(cl_sm_apply(sm, sender, &d), 0);
}

static void acquire(struct cl_sm *sm, uint32_t node, const uint8_t *name, uint16_t namelen,
		    uint8_t mode, uint8_t flags)
{
	struct cl_msg m = { .type = CL_MSG_ACQUIRE, .req_id = 1000 + node, .mode = mode,
			    .flags = flags, .name = name, .namelen = namelen };
	apply(sm, node, &m);
}

static uint32_t put_uid;   /* the uid put() writes as */

static void put(struct cl_sm *sm, uint32_t node, const uint8_t *name, uint16_t namelen,
		const uint8_t *key, uint8_t keylen, const uint8_t *val, uint32_t vallen)
{
	uint64_t epoch = cl_sm_hold_epoch(sm, name, namelen, node, NULL);
	ck_assert_uint_ne(epoch, 0);
	struct cl_msg m = { .type = CL_MSG_INDEX_PUT, .req_id = 7, .epoch = epoch,
			    .name = name, .namelen = namelen, .key = key, .keylen = keylen,
			    .value = val, .vallen = vallen, .uid = put_uid };
	apply(sm, node, &m);
}

static void release(struct cl_sm *sm, uint32_t node, const uint8_t *name, uint16_t namelen)
{
	struct cl_msg m = { .type = CL_MSG_RELEASE, .name = name, .namelen = namelen,
			    .epoch = cl_sm_hold_epoch(sm, name, namelen, node, NULL) };
	apply(sm, node, &m);
}

static void quorum(struct cl_sm *sm, const struct cl_ring *ring, const uint32_t *members,
		   size_t n)
{
	struct cl_msg m = { .type = CL_MSG_QUORUM, .ring = *ring, .flags = CL_QUORUM_YES };
	for (size_t i = 0; i < n; i++)
		apply(sm, members[i], &m);
}

/*
 * Builds a machine with holds (EX, SH, one orphaned), a waiter and index
 * entries of two uids (one index unheld), with a per-uid quota.  big adds
 * maximal names, keys and values.
 */
static struct cl_sm *build_machine(bool big)
{
	struct cl_sm_config cfg = { .index_bytes_per_uid = 1u << 20 };
	struct cl_sm *sm = cl_sm_new(&cfg, count_action, NULL);
	const uint32_t m3[] = { 1, 2, 3 }, m2[] = { 1, 2 }, gone[] = { 3 };
	struct cl_ring r1 = { 1, 4 }, r2 = { 1, 8 };

	ck_assert_ptr_nonnull(sm);
	ck_assert_int_eq(cl_sm_confchg(sm, &r1, m3, 3, NULL, 0), 0);
	quorum(sm, &r1, m3, 3);
	ck_assert(cl_sm_quorate(sm));

	acquire(sm, 1, S("alpha"), CL_MODE_EX, 0);
	put_uid = 1000;
	put(sm, 1, S("alpha"), (const uint8_t *)"k1", 2, (const uint8_t *)"v1", 2);
	put(sm, 1, S("alpha"), (const uint8_t *)"k0", 2, NULL, 0);
	acquire(sm, 2, S("gamma"), CL_MODE_EX, 0);
	put_uid = 2000;
	put(sm, 2, S("gamma"), (const uint8_t *)"g", 1, (const uint8_t *)"gg", 2);
	release(sm, 2, S("gamma"));
	put_uid = 0;
	acquire(sm, 2, S("beta"), CL_MODE_SH, 0);
	acquire(sm, 3, S("beta"), CL_MODE_SH, 0);
	acquire(sm, 1, S("beta"), CL_MODE_EX, CL_ACQ_WAIT);
	if (big) {
		acquire(sm, 2, name_max, COROLEASE_NAME_MAX, CL_MODE_EX, 0);
		put(sm, 2, name_max, COROLEASE_NAME_MAX, key_max, COROLEASE_KEY_MAX,
		    val_max, COROLEASE_VALUE_MAX);
		put(sm, 2, name_max, COROLEASE_NAME_MAX, (const uint8_t *)"x", 1,
		    (const uint8_t *)"y", 1);
		for (int i = 0; i < 50; i++) {
			char nm[16];
			int l = snprintf(nm, sizeof(nm), "n%03d", i);
			acquire(sm, (uint32_t)(1 + i % 3), (const uint8_t *)nm, (uint16_t)l,
				(uint8_t)(i % 2 ? CL_MODE_SH : CL_MODE_EX), CL_ACQ_WAIT);
		}
	}
	/* node 3 leaves: its SH hold on beta becomes an orphan */
	ck_assert_int_eq(cl_sm_confchg(sm, &r2, m2, 2, gone, 1), 0);
	quorum(sm, &r2, m2, 2);
	return sm;
}

static struct cl_sm *fresh_sm(void)
{
	struct cl_sm_config cfg = { 0 };
	struct cl_sm *sm = cl_sm_new(&cfg, count_action, NULL);
	ck_assert_ptr_nonnull(sm);
	return sm;
}

/* Decodes an exact-size heap copy into a fresh machine; returns the code. */
static int snap_dec_exact(const uint8_t *src, size_t len, uint64_t *hash_r)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct cl_sm *sm = fresh_sm();

	ck_assert_ptr_nonnull(copy);
	if (len)
		memcpy(copy, src, len);
	int rc = cl_snap_decode(copy, len, sm);
	free(copy);
	if (rc == 0 && hash_r)
		*hash_r = cl_sm_hash(sm);
	cl_sm_free(sm);
	return rc;
}

static void assert_same_state(const struct cl_sm *a, const struct cl_sm *b)
{
	struct cl_sm_stats sa, sb;

	cl_sm_stats(a, &sa);
	cl_sm_stats(b, &sb);
	ck_assert_uint_eq(sa.lsn, sb.lsn);
	ck_assert_uint_eq(sa.q_lsn, sb.q_lsn);
	ck_assert_uint_eq(sa.epoch, sb.epoch);
	ck_assert_uint_eq(sa.orphan_seq, sb.orphan_seq);
	ck_assert_uint_eq(sa.records, sb.records);
	ck_assert_uint_eq(sa.holds, sb.holds);
	ck_assert_uint_eq(sa.orphans, sb.orphans);
	ck_assert_uint_eq(sa.waiters, sb.waiters);
	ck_assert_uint_eq(sa.index_bytes, sb.index_bytes);
	ck_assert_uint_eq(sa.index_bytes_per_uid, sb.index_bytes_per_uid);
	ck_assert_uint_eq(sa.index_uids, sb.index_uids);
	for (uint32_t uid = 0; uid <= 3000; uid += 1000)
		ck_assert_uint_eq(cl_index_uid_bytes(a, uid), cl_index_uid_bytes(b, uid));
	ck_assert_uint_eq(sa.index_evictions, sb.index_evictions);
	ck_assert_int_eq(sa.quorate, sb.quorate);
	ck_assert_uint_eq(sa.ring.rep, sb.ring.rep);
	ck_assert_uint_eq(sa.ring.seq, sb.ring.seq);
	ck_assert_uint_eq(sa.nmembers, sb.nmembers);
	ck_assert(memcmp(sa.members, sb.members, sa.nmembers * sizeof(sa.members[0])) == 0);
	ck_assert_uint_eq(cl_sm_hash(a), cl_sm_hash(b));
}

/* Offset of the record count in a snapshot of sm. */
static size_t count_offset(const struct cl_sm *sm)
{
	struct cl_sm_stats st;

	cl_sm_stats(sm, &st);
	/* ..., members, term, flags, grace ring, index bound, per-uid quota, unfenced */
	return 8 + 6 * 8 + 1 + 4 + 8 + 4 + 4 * (size_t)st.nmembers + 4 + 8 + 1 + 4 + 8 + 8 + 8 + 4 +
	       4 * (size_t)st.nunfenced;
}

START_TEST(test_snap_roundtrip)
{
	init_data();
	for (int big = 0; big <= 1; big++) {
		struct cl_sm *sm = build_machine(big);
		struct cl_sm_stats st;
		uint8_t *buf, *buf2;
		size_t len, len2;

		cl_sm_stats(sm, &st);
		ck_assert_uint_ge(st.orphans, 1);
		ck_assert_uint_ge(st.waiters, 1);
		ck_assert_uint_gt(st.index_bytes, 0);

		ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
		ck_assert(memcmp(buf, "CLSN", 4) == 0);
		ck_assert_uint_eq(cl_get_u16(buf + 4), CL_SNAP_VERSION);
		ck_assert_uint_eq(cl_get_u64(buf + count_offset(sm)), st.records);
		ck_assert_uint_eq(cl_get_u64(buf + len - 8), cl_snap_checksum(buf, len - 8));

		struct cl_sm *sm2 = fresh_sm();
		ck_assert_int_eq(cl_snap_decode(buf, len, sm2), 0);
		assert_same_state(sm, sm2);

		/* the copy encodes to a snapshot of the same size and state */
		ck_assert_int_eq(cl_snap_encode(sm2, &buf2, &len2), 0);
		ck_assert_uint_eq(len, len2);
		struct cl_sm *sm3 = fresh_sm();
		ck_assert_int_eq(cl_snap_decode(buf2, len2, sm3), 0);
		assert_same_state(sm, sm3);

		/* and keeps evolving identically */
		struct cl_msg rel = { .type = CL_MSG_RELEASE, .name = (const uint8_t *)"alpha",
				      .namelen = 5,
				      .epoch = cl_sm_hold_epoch(sm, "alpha", 5, 1, NULL) };
		apply(sm, 1, &rel);
		apply(sm3, 1, &rel);
		acquire(sm, 2, S("alpha"), CL_MODE_EX, 0);
		acquire(sm3, 2, S("alpha"), CL_MODE_EX, 0);
		assert_same_state(sm, sm3);

		free(buf);
		free(buf2);
		cl_sm_free(sm3);
		cl_sm_free(sm2);
		cl_sm_free(sm);
	}

	/* an empty machine */
	struct cl_sm *e = fresh_sm(), *e2 = fresh_sm();
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(cl_snap_encode(e, &buf, &len), 0);
	ck_assert_uint_eq(len, count_offset(e) + 8 + 8);
	ck_assert_int_eq(cl_snap_decode(buf, len, e2), 0);
	assert_same_state(e, e2);
	free(buf);
	cl_sm_free(e);
	cl_sm_free(e2);
}
END_TEST

/*
 * The snapshot a node sends, read a piece at a time (cl_snap_stream_read()):
 * whatever the piece size, the pieces make the bytes of
 * cl_snap_encode_order(sm, false), which load to the same state; the last
 * piece says so; and a read after the machine changed fails with -ESTALE
 * instead of sending a mixture of two states.
 */
START_TEST(test_snap_stream)
{
	init_data();
	for (int big = 0; big <= 1; big++) {
		struct cl_sm *sm = build_machine(big);
		uint8_t *whole;
		size_t len;
		ck_assert_int_eq(cl_snap_encode_order(sm, false, &whole, &len), 0);
		const size_t caps[] = { 1, 7, 64, 4096, 1u << 20 };
		for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
			int err = 0;
			struct cl_snap_stream *st = cl_snap_stream_new(sm, &err);
			ck_assert_ptr_nonnull(st);
			uint8_t *got = malloc(len + caps[c]), *piece = malloc(caps[c]);
			size_t off = 0, pieces = 0;
			bool last = false;
			ck_assert(got && piece);
			while (!last) {
				long n = cl_snap_stream_read(st, piece, caps[c], &last);
				ck_assert_int_gt(n, 0);
				ck_assert_uint_le((size_t)n, caps[c]);
				ck_assert_uint_le(off + (size_t)n, len);
				memcpy(got + off, piece, (size_t)n);
				off += (size_t)n;
				pieces++;
			}
			ck_assert_uint_eq(off, len);
			ck_assert(memcmp(got, whole, len) == 0);
			ck_assert_uint_ge(pieces, (len + caps[c] - 1) / caps[c]);
			struct cl_sm *back = fresh_sm();
			ck_assert_int_eq(cl_snap_decode(got, off, back), 0);
			assert_same_state(sm, back);
			cl_sm_free(back);
			cl_snap_stream_free(st);
			free(got);
			free(piece);
		}
		free(whole);

		/* the machine changes between two pieces: the rest is refused */
		int err = 0;
		struct cl_snap_stream *st = cl_snap_stream_new(sm, &err);
		uint8_t piece[16];
		bool last = false;
		ck_assert_ptr_nonnull(st);
		ck_assert_int_eq(cl_snap_stream_read(st, piece, sizeof(piece), &last), (long)sizeof(piece));
		acquire(sm, 3, S("stream-change"), CL_MODE_EX, 0);
		ck_assert_int_eq(cl_snap_stream_read(st, piece, sizeof(piece), &last), -ESTALE);
		ck_assert(!last);
		cl_snap_stream_free(st);
		cl_sm_free(sm);
	}
	/* an empty machine streams its header and checksum alone */
	struct cl_sm *e = fresh_sm();
	int err = 0;
	struct cl_snap_stream *st = cl_snap_stream_new(e, &err);
	uint8_t buf[4096];
	bool last = false;
	ck_assert_ptr_nonnull(st);
	long n = cl_snap_stream_read(st, buf, sizeof(buf), &last);
	ck_assert(last);
	ck_assert_int_eq(n, (long)(count_offset(e) + 8 + 8));
	struct cl_sm *e2 = fresh_sm();
	ck_assert_int_eq(cl_snap_decode(buf, (size_t)n, e2), 0);
	assert_same_state(e, e2);
	cl_snap_stream_free(st);
	cl_sm_free(e);
	cl_sm_free(e2);
}
END_TEST

/* The safety scalars (term, split mode, unfenced nodes, grace, index bound) survive a snapshot. */
START_TEST(test_snap_safety_header)
{
	struct cl_sm_config cfg = { .index_mem_max = 4096 };
	struct cl_sm *sm = cl_sm_new(&cfg, count_action, NULL);
	const uint32_t m4[] = { 1, 2, 3, 4 }, m2[] = { 1, 2 }, gone[] = { 3, 4 };
	struct cl_ring r1 = { 1, 4 }, r2 = { 1, 8 };
	ck_assert_ptr_nonnull(sm);
	ck_assert_int_eq(cl_sm_confchg(sm, &r1, m4, 4, NULL, 0), 0);
	struct cl_msg q = { .type = CL_MSG_QUORUM, .ring = r1,
			    .flags = CL_QUORUM_YES | CL_QUORUM_SPLIT };
	apply(sm, 1, &q);          /* the term begins in r1 (no grace yet) */
	cl_sm_start_grace(sm, &r1);
	ck_assert_int_eq(cl_sm_confchg(sm, &r2, m2, 2, gone, 2), 0);
	q.ring = r2;
	apply(sm, 1, &q);
	struct cl_sm_stats st;
	cl_sm_stats(sm, &st);
	ck_assert(st.grace && st.split_mode);
	ck_assert_uint_eq(st.nunfenced, 2);
	ck_assert_uint_eq(st.term.seq, 4);   /* awaiting fence-ack: no new term in ring 8 */
	ck_assert_uint_eq(st.index_mem_max, 4096);

	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
	ck_assert_uint_eq(len, count_offset(sm) + 8 + 8);
	struct cl_sm *b = fresh_sm();
	ck_assert_int_eq(cl_snap_decode(buf, len, b), 0);
	assert_same_state(sm, b);
	struct cl_sm_stats bt;
	cl_sm_stats(b, &bt);
	ck_assert(bt.grace && bt.split_mode);
	ck_assert_uint_eq(bt.nunfenced, 2);
	ck_assert_uint_eq(bt.term.seq, 4);
	ck_assert_uint_eq(bt.term.rep, 1);
	ck_assert_uint_eq(bt.index_mem_max, 4096);
	/* an unfenced list out of order or with node 0 is refused */
	size_t uf = count_offset(sm) - 8;   /* the two unfenced ids end the header */
	uint8_t *work = malloc(len);
	ck_assert_ptr_nonnull(work);
	memcpy(work, buf, len);
	cl_put_u32(work + uf, 4);
	cl_put_u32(work + uf + 4, 3);
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	memcpy(work, buf, len);
	cl_put_u32(work + uf, 0);
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	free(work);
	free(buf);
	cl_sm_free(b);
	cl_sm_free(sm);
}
END_TEST

START_TEST(test_snap_truncations)
{
	struct cl_sm *sm;
	uint8_t *buf, *work;
	size_t len;

	init_data();
	sm = build_machine(false);
	ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
	work = malloc(len);
	ck_assert_ptr_nonnull(work);
	for (size_t l = 0; l < len; l++) {
		/* as received: caught by length or checksum */
		ck_assert_int_eq(snap_dec_exact(buf, l, NULL), COROLEASE_EPROTO);
		/* resealed: the structure itself must be found short */
		if (l >= 8) {
			memcpy(work, buf, l - 8);
			cl_put_u64(work + l - 8, cl_snap_checksum(work, l - 8));
			ck_assert_msg(snap_dec_exact(work, l, NULL) == COROLEASE_EPROTO,
				      "resealed truncation to %zu of %zu", l, len);
		}
	}
	/* a trailing byte, resealed */
	uint8_t *longer = malloc(len + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, buf, len - 8);
	longer[len - 8] = 0;
	cl_put_u64(longer + len - 7, cl_snap_checksum(longer, len - 7));
	ck_assert_int_eq(snap_dec_exact(longer, len + 1, NULL), COROLEASE_EPROTO);
	free(longer);

	uint64_t h;
	ck_assert_int_eq(snap_dec_exact(buf, len, &h), 0);
	ck_assert_uint_eq(h, cl_sm_hash(sm));
	free(work);
	free(buf);
	cl_sm_free(sm);
}
END_TEST

START_TEST(test_snap_corruption)
{
	struct cl_sm *sm;
	uint8_t *buf, *work;
	size_t len;

	init_data();
	sm = build_machine(false);
	ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
	work = malloc(len);
	ck_assert_ptr_nonnull(work);

	/* every byte flipped: checksum, magic or version catches it */
	for (size_t i = 0; i < len; i++) {
		memcpy(work, buf, len);
		work[i] ^= (uint8_t)(1u << (i % 8));
		int want = (i == 4 || i == 5) ? COROLEASE_EVERSION : COROLEASE_EPROTO;
		ck_assert_msg(snap_dec_exact(work, len, NULL) == want, "byte %zu", i);
	}
	/* bad magic, even when resealed */
	memcpy(work, buf, len);
	work[0] = 'X';
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	/* other versions */
	static const uint16_t versions[] = { 0, 1, 2, 4, 0x100, 0xffff };
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		memcpy(work, buf, len);
		cl_put_u16(work + 4, versions[v]);
		ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EVERSION);
		snap_reseal(work, len);
		ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EVERSION);
		/* shorter than magic + version + reserved + checksum */
		ck_assert_int_eq(snap_dec_exact(work, 6, NULL), COROLEASE_EPROTO);
		ck_assert_int_eq(snap_dec_exact(work, 15, NULL), COROLEASE_EPROTO);
		ck_assert_int_eq(snap_dec_exact(work, 16, NULL), COROLEASE_EVERSION);
	}
	/* reserved nonzero, resealed */
	memcpy(work, buf, len);
	work[6] = 1;
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	/* quorate byte other than 0/1, resealed */
	memcpy(work, buf, len);
	work[8 + 48] = 2;
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	/* nmembers above the maximum, resealed */
	memcpy(work, buf, len);
	cl_put_u32(work + 8 + 48 + 1 + 12, CL_MAX_MEMBERS + 1);
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	cl_put_u32(work + 8 + 48 + 1 + 12, 0xffffffffu);
	snap_reseal(work, len);
	ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	/* record count off by one either way, resealed */
	size_t co = count_offset(sm);
	uint64_t cnt = cl_get_u64(buf + co);
	for (int d = -1; d <= 1; d += 2) {
		memcpy(work, buf, len);
		cl_put_u64(work + co, cnt + (uint64_t)(int64_t)d);
		snap_reseal(work, len);
		ck_assert_int_eq(snap_dec_exact(work, len, NULL), COROLEASE_EPROTO);
	}
	ck_assert_int_eq(snap_dec_exact(buf, len, NULL), 0);

	free(work);
	free(buf);
	cl_sm_free(sm);
}
END_TEST

/*
 * Builds a snapshot from the first co bytes of hdr (magic .. member list),
 * a record count, `extra` record bytes and a fresh checksum.  Returns the
 * malloc'd buffer and its length in *len_r.
 */
static uint8_t *craft(const uint8_t *hdr, size_t co, uint64_t count,
		      const uint8_t *extra, size_t nextra, size_t *len_r)
{
	uint8_t *out = malloc(co + 8 + nextra + 8);

	ck_assert_ptr_nonnull(out);
	memcpy(out, hdr, co);
	cl_put_u64(out + co, count);
	if (nextra)
		memcpy(out + co + 8, extra, nextra);
	*len_r = co + 8 + nextra + 8;
	snap_reseal(out, *len_r);
	return out;
}

/* The snapshot of a machine with members {1,2,3} and nothing else. */
static uint8_t *members_only_snapshot(size_t *co_r)
{
	struct cl_sm *sm = fresh_sm();
	const uint32_t m3[] = { 1, 2, 3 };
	struct cl_ring r = { 1, 1 };
	uint8_t *base;
	size_t blen;

	ck_assert_int_eq(cl_sm_confchg(sm, &r, m3, 3, NULL, 0), 0);
	ck_assert_int_eq(cl_snap_encode(sm, &base, &blen), 0);
	*co_r = count_offset(sm);
	ck_assert_uint_eq(blen, *co_r + 16);
	cl_sm_free(sm);
	return base;
}

START_TEST(test_snap_huge_counts)
{
	uint8_t rec[200], *b, *hdr;
	size_t len, p, co;
	static const uint64_t counts[] = { 1, 2, 1000, 1ull << 32, 1ull << 62, UINT64_MAX };

	hdr = members_only_snapshot(&co);

	/* huge record counts and nothing behind them */
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		b = craft(hdr, co, counts[i], NULL, 0, &len);
		ck_assert_int_eq(snap_dec_exact(b, len, NULL), COROLEASE_EPROTO);
		free(b);
	}
	b = craft(hdr, co, 0, NULL, 0, &len);
	ck_assert_int_eq(snap_dec_exact(b, len, NULL), 0);
	free(b);

	/* one record whose hold / waiter / entry count is huge; padding behind */
	for (int which = 0; which < 3; which++) {
		static const uint32_t big[] = { 0xffffffffu, 0x80000000u, 1000 };
		for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
			memset(rec, 0, sizeof(rec));
			p = 0;
			cl_put_u16(rec + p, 1); p += 2;
			rec[p++] = 'x';
			p += 16;                       /* version, lru_tick */
			if (which >= 1)
				p += 4;                /* nholds 0 */
			if (which >= 2)
				p += 4;                /* nwaiters 0 */
			cl_put_u32(rec + p, big[k]);
			b = craft(hdr, co, 1, rec, sizeof(rec), &len);
			ck_assert_int_eq(snap_dec_exact(b, len, NULL), COROLEASE_EPROTO);
			free(b);
		}
	}
	/* the same record with sane counts is well-formed but has trailing zeros */
	memset(rec, 0, sizeof(rec));
	cl_put_u16(rec, 1);
	rec[2] = 'x';
	b = craft(hdr, co, 1, rec, 2 + 1 + 16 + 12, &len);
	/* a record with nothing held, waited for or indexed may be refused by the
	 * machine; either way the decoder must answer cleanly */
	int rc = snap_dec_exact(b, len, NULL);
	ck_assert(rc == 0 || rc == COROLEASE_EPROTO);
	free(b);
	b = craft(hdr, co, 1, rec, sizeof(rec), &len);
	ck_assert_int_eq(snap_dec_exact(b, len, NULL), COROLEASE_EPROTO);
	free(b);
	free(hdr);
}
END_TEST

START_TEST(test_snap_bad_records)
{
	struct cl_sm *sm = fresh_sm();
	const uint32_t m2[] = { 1, 2 };
	struct cl_ring r = { 1, 1 };
	uint8_t *buf, *b;
	size_t len, blen;

	/* a machine with exactly one record: alpha held EX by 1 with one key */
	ck_assert_int_eq(cl_sm_confchg(sm, &r, m2, 2, NULL, 0), 0);
	quorum(sm, &r, m2, 2);
	acquire(sm, 1, S("alpha"), CL_MODE_EX, 0);
	put(sm, 1, S("alpha"), (const uint8_t *)"k", 1, (const uint8_t *)"v", 1);
	ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
	size_t co = count_offset(sm);
	ck_assert_uint_eq(cl_get_u64(buf + co), 1);
	const uint8_t *rec = buf + co + 8;
	size_t rlen = len - co - 16;
	/* record layout: namelen@0 name@2 version@7 lru@15 uid@23 nholds@27 hold@31
	 * (node, mode@35, epoch, orphan_seq) nwaiters@52 nentries@56 entry@60
	 * (keylen, key@61, vallen@62, value@66, version@67) */
	ck_assert_uint_eq(rlen, 75);
	ck_assert_uint_eq(cl_get_u16(rec), 5);
	ck_assert_uint_eq(cl_get_u32(rec + 23), 0);     /* put() writes as uid 0 */
	ck_assert_uint_eq(cl_get_u32(rec + 27), 1);
	ck_assert_uint_eq(cl_get_u32(rec + 56), 1);

	uint8_t two[2 * 75];
	memcpy(two, rec, rlen);
	memcpy(two + rlen, rec, rlen);
	/* the same name twice: the machine refuses, the decoder says EPROTO */
	b = craft(buf, co, 2, two, 2 * rlen, &blen);
	ck_assert_int_eq(snap_dec_exact(b, blen, NULL), COROLEASE_EPROTO);
	free(b);

	struct { size_t at; int width; uint32_t val; } bad[] = {
		{ 0, 2, 0 },            /* namelen 0 */
		{ 0, 2, 1025 },
		{ 35, 1, 0 },           /* hold mode */
		{ 35, 1, 3 },
		{ 31, 4, 0 },           /* hold node 0 */
		{ 60, 1, 0 },           /* keylen 0 */
		{ 62, 4, COROLEASE_VALUE_MAX + 1 },
		{ 62, 4, 0xffffffffu },
		{ 27, 4, 2 },           /* more holds than present */
		{ 56, 4, 2 },           /* more entries than present */
		{ 52, 4, 1 },           /* a waiter that is not there */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t one[75];
		memcpy(one, rec, rlen);
		if (bad[i].width == 1)
			one[bad[i].at] = (uint8_t)bad[i].val;
		else if (bad[i].width == 2)
			cl_put_u16(one + bad[i].at, (uint16_t)bad[i].val);
		else
			cl_put_u32(one + bad[i].at, bad[i].val);
		b = craft(buf, co, 1, one, rlen, &blen);
		ck_assert_msg(snap_dec_exact(b, blen, NULL) == COROLEASE_EPROTO, "case %zu", i);
		free(b);
	}
	/* and the record as is restores to the same state */
	uint64_t h = 0;
	b = craft(buf, co, 1, rec, rlen, &blen);
	ck_assert_int_eq(snap_dec_exact(b, blen, &h), 0);
	ck_assert_uint_eq(h, cl_sm_hash(sm));
	free(b);
	/* without entries: version 0 and uid 0, or the record is refused */
	{
		uint8_t one[75];
		size_t l = rlen - 15;          /* drop the entry */
		memcpy(one, rec, l);
		cl_put_u32(one + 56, 0);
		cl_put_u64(one + 7, 0);
		b = craft(buf, co, 1, one, l, &blen);
		ck_assert_int_eq(snap_dec_exact(b, blen, NULL), 0);
		free(b);
		cl_put_u32(one + 23, 5);
		b = craft(buf, co, 1, one, l, &blen);
		ck_assert_int_eq(snap_dec_exact(b, blen, NULL), COROLEASE_EPROTO);
		free(b);
	}
	/* another uid is another state: the index's owner is part of the hash */
	{
		uint8_t one[75];
		memcpy(one, rec, rlen);
		cl_put_u32(one + 23, 1000);
		b = craft(buf, co, 1, one, rlen, &blen);
		ck_assert_int_eq(snap_dec_exact(b, blen, &h), 0);
		ck_assert_uint_ne(h, cl_sm_hash(sm));
		free(b);
	}

	free(buf);
	cl_sm_free(sm);
}
END_TEST

#define SNAP_FUZZ_ITERS 20000

/*
 * A snapshot refused at the second of two indexes of one uid (a bad entry
 * version) leaves a half-restored machine that must still free cleanly:
 * its half-built index holds no bytes, and the uid's account may be freed
 * with the first index before it (found by tests/fuzz/fuzz_snapshot: a
 * NULL account debited in cl_index_free()).  Both table keys, so that
 * either record may be freed first.
 */
START_TEST(test_snap_refused_index_frees)
{
	for (int k = 0; k < 2; k++) {
		struct cl_sm_config cfg = { .table_key = { .k0 = (uint64_t)k * 0x9e3779b97f4a7c15ull,
							   .k1 = (uint64_t)k } };
		struct cl_sm *sm = cl_sm_new(&cfg, count_action, NULL);
		const uint32_t m2[] = { 1, 2 };
		struct cl_ring r = { 1, 4 };
		ck_assert_ptr_nonnull(sm);
		ck_assert_int_eq(cl_sm_confchg(sm, &r, m2, 2, NULL, 0), 0);
		quorum(sm, &r, m2, 2);
		put_uid = 1000;
		for (char c = 'a'; c <= 'h'; c++) {
			uint8_t name[1] = { (uint8_t)c }, val[8] = "VALUE-?";
			val[6] = (uint8_t)c;
			acquire(sm, 1, name, 1, CL_MODE_EX, 0);
			put(sm, 1, name, 1, (const uint8_t *)"k", 1, val, 7);
		}
		put_uid = 0;
		uint8_t *buf;
		size_t len;
		ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
		cl_sm_free(sm);
		/* every record but the first: its one entry's version (after its value) is 0 */
		for (char c = 'b'; c <= 'h'; c++) {
			uint8_t *copy = malloc(len);
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, buf, len);
			uint8_t val[8] = "VALUE-?";
			val[6] = (uint8_t)c;
			uint8_t *at = NULL;
			for (size_t i = 0; !at && i + 7 <= len; i++)
				if (memcmp(copy + i, val, 7) == 0)
					at = copy + i;
			ck_assert_ptr_nonnull(at);
			memset(at + 7, 0, 8);
			snap_reseal(copy, len);
			struct cl_sm *fresh = fresh_sm();
			ck_assert_int_eq(cl_snap_decode(copy, len, fresh), COROLEASE_EPROTO);
			cl_sm_free(fresh);
			free(copy);
		}
		free(buf);
	}
}
END_TEST

START_TEST(test_snap_fuzz)
{
	struct cl_sm *sm;
	uint8_t *buf, *work;
	size_t len, cap;
	unsigned long accepted = 0;

	init_data();
	sm = build_machine(false);
	ck_assert_int_eq(cl_snap_encode(sm, &buf, &len), 0);
	cap = len + 64;
	work = malloc(cap);
	ck_assert_ptr_nonnull(work);

	rng_state = 0x243f6a8885a308d3ull;
	for (unsigned long it = 0; it < SNAP_FUZZ_ITERS; it++) {
		size_t l = len, at;
		memcpy(work, buf, len);
		unsigned nops = 1 + (unsigned)(rnd() % 3);
		for (unsigned op = 0; op < nops; op++) {
			switch (rnd() % 5) {
			case 0:
				work[8 + rnd() % (l - 16)] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1:
				work[8 + rnd() % (l - 16)] = (uint8_t)rnd();
				break;
			case 2:
				if (l < cap) {
					at = 8 + rnd() % (l - 15);
					memmove(work + at + 1, work + at, l - at);
					work[at] = (uint8_t)rnd();
					l++;
				}
				break;
			case 3:
				if (l > 17) {
					at = 8 + rnd() % (l - 16);
					memmove(work + at, work + at + 1, l - at - 1);
					l--;
				}
				break;
			case 4:
				at = 8 + rnd() % (l - 17);
				cl_put_u32(work + at, (uint32_t)(rnd() % 4));
				break;
			}
		}
		snap_reseal(work, l);

		uint64_t h = 0;
		int rc = snap_dec_exact(work, l, &h);
		if (rc == 0) {
			/* whatever was accepted must encode and load again identically */
			struct cl_sm *a = fresh_sm(), *c = fresh_sm();
			uint8_t *again;
			size_t alen;
			ck_assert_int_eq(cl_snap_decode(work, l, a), 0);
			ck_assert_int_eq(cl_snap_encode(a, &again, &alen), 0);
			ck_assert_int_eq(cl_snap_decode(again, alen, c), 0);
			ck_assert_uint_eq(cl_sm_hash(c), h);
			free(again);
			cl_sm_free(a);
			cl_sm_free(c);
			accepted++;
		} else {
			ck_assert_msg(rc == COROLEASE_EPROTO, "iteration %lu: rc %d", it, rc);
		}
	}
	ck_assert_uint_gt(accepted, 0);
	free(work);
	free(buf);
	cl_sm_free(sm);
}
END_TEST

/* ---- runner ---------------------------------------------------------------- */

/* ---- batches (several messages in one CPG message) ---- */

struct split_rec {
	size_t n;
	size_t lens[8];
	uint8_t first[8];
};

static void rec_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct split_rec *r = ctx;
	ck_assert_uint_lt(r->n, 8);
	r->lens[r->n] = len;
	r->first[r->n] = msg[0];
	r->n++;
}

/* Packs count encoded NOPs (request ids 1..count, lengths in lens[]) into a batch. */
static size_t make_batch(uint8_t *buf, unsigned count, uint32_t *lens)
{
	size_t pos = CL_BATCH_HDR_LEN;
	buf[0] = CL_BATCH_MAGIC;
	buf[1] = 0;
	cl_put_u16(buf + 2, (uint16_t)count);
	for (unsigned i = 0; i < count; i++) {
		struct cl_msg m = { .type = CL_MSG_NOP, .req_id = i + 1 };
		long l = cl_wire_encode(&m, buf + pos + 4, 64);
		ck_assert_int_gt(l, 0);
		lens[i] = (uint32_t)l;
		cl_put_u32(buf + pos, lens[i]);
		pos += 4 + lens[i];
	}
	return pos;
}

START_TEST(test_batch_split)
{
	uint8_t buf[256];
	uint32_t lens[3];
	size_t len = make_batch(buf, 3, lens);
	struct split_rec r = { 0 };
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &r), 3);
	ck_assert_uint_eq(r.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(r.lens[i], lens[i]);
		ck_assert_uint_eq(r.first[i], CL_WIRE_VERSION);
	}
	/* every truncation, a trailing byte, bad magic/reserved/count: nothing delivered */
	for (size_t l = 0; l < len; l++) {
		struct split_rec z = { 0 };
		ck_assert_int_eq(cl_batch_split(buf, l, rec_msg, &z), COROLEASE_EPROTO);
		ck_assert_uint_eq(z.n, 0);
	}
	struct split_rec z = { 0 };
	buf[len] = 0;
	ck_assert_int_eq(cl_batch_split(buf, len + 1, rec_msg, &z), COROLEASE_EPROTO);
	buf[1] = 1;
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &z), COROLEASE_EPROTO);
	buf[1] = 0;
	buf[0] = CL_WIRE_VERSION;
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &z), COROLEASE_EPROTO);
	buf[0] = CL_BATCH_MAGIC;
	/* one bad message inside: the whole batch is refused, none delivered */
	size_t last = CL_BATCH_HDR_LEN + 2 * 4 + lens[0] + lens[1] + 4;
	buf[last + 1] = 200;                /* an unknown type */
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &z), COROLEASE_EPROTO);
	buf[last + 1] = CL_MSG_NOP;
	buf[last] = CL_WIRE_VERSION + 1;    /* another wire version */
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &z), COROLEASE_EVERSION);
	ck_assert_uint_eq(z.n, 0);
	uint32_t one[1];
	len = make_batch(buf, 1, one);   /* a lone message travels bare, never as a batch */
	ck_assert_int_eq(cl_batch_split(buf, len, rec_msg, &z), COROLEASE_EPROTO);
	uint32_t two[2];
	len = make_batch(buf, 2, two);   /* shorter than a message header */
	cl_put_u32(buf + CL_BATCH_HDR_LEN + 4 + two[0], CL_WIRE_HDR_LEN - 1);
	cl_put_u16(buf + 2, 2);
	ck_assert_int_eq(cl_batch_split(buf, CL_BATCH_HDR_LEN + 4 + two[0] + 4 + CL_WIRE_HDR_LEN - 1,
					rec_msg, &z), COROLEASE_EPROTO);
	ck_assert_uint_eq(z.n, 0);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc;

	tc = tcase_create("msg");
	tcase_add_test(tc, test_batch_split);
	tcase_add_test(tc, test_snap_refused_index_frees);
	tcase_add_test(tc, test_roundtrip_all);
	tcase_add_test(tc, test_field_layout);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_trailing_byte);
	tcase_add_test(tc, test_bad_version);
	tcase_add_test(tc, test_bad_header);
	tcase_add_test(tc, test_bad_lengths);
	tcase_add_test(tc, test_bad_fields);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_encode_nospc);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_add_test(tc, test_mutation_fuzz);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);

	tc = tcase_create("snap");
	tcase_add_test(tc, snap_checksum_known_answers);
	tcase_add_test(tc, le_helpers_and_hash_known_answers);
	tcase_add_test(tc, test_snap_roundtrip);
	tcase_add_test(tc, test_snap_stream);
	tcase_add_test(tc, test_snap_safety_header);
	tcase_add_test(tc, test_snap_truncations);
	tcase_add_test(tc, test_snap_corruption);
	tcase_add_test(tc, test_snap_huge_counts);
	tcase_add_test(tc, test_snap_bad_records);
	tcase_add_test(tc, test_snap_fuzz);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
