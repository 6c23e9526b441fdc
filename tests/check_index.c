/*
 * check_index.c - unit tests of the replicated per-name index cache
 * (core/index.c through cl_sm_apply), written against index.h and
 * doc/state-machine.md.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each input helper clears the recorder first, so `rec` holds exactly the
 * actions of the last input (names and keys copied).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "index.h"
#include "lease.h"
#include "recorder.h"
#include "wire.h"
#include "xrand.h"

/* ------------------------------------------------------------------ recorder */

static struct cl_recorder rec;
static struct cl_sm *sm;
static struct cl_ring cur_ring;

#define record_action cl_recorder_action
#define dump() cl_recorder_dump(&rec)
#define rec_clear() cl_recorder_clear(&rec)

/* ------------------------------------------------------------------ inputs */

#define S(lit) ((const void *)("" lit)), (sizeof(lit) - 1)
#define NL(p, l) (p), (l)
#define NODES(...) ((const uint32_t[]){ __VA_ARGS__ }), \
	(sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
#define NOBODY NULL, 0
#define EX CL_MODE_EX
#define SH CL_MODE_SH
#define OK(expr) ck_assert_int_eq((expr), 0)

static int apply(uint32_t sender, const struct cl_msg *m)
{
	rec_clear();
	return cl_sm_apply(sm, sender, m);
}

static int acq(uint32_t node, const void *name, size_t len, uint8_t mode, uint8_t flags,
	       uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_ACQUIRE, .mode = mode, .flags = flags,
		.namelen = (uint16_t)len, .name = name, .req_id = req,
	};
	return apply(node, &m);
}

static int rel(uint32_t node, const void *name, size_t len, uint64_t epoch)
{
	struct cl_msg m = {
		.type = CL_MSG_RELEASE, .namelen = (uint16_t)len, .name = name, .epoch = epoch,
	};
	return apply(node, &m);
}

static int quorum_now(uint32_t sender, bool yes)
{
	struct cl_msg m = {
		.type = CL_MSG_QUORUM, .flags = yes ? CL_QUORUM_YES : 0, .ring = cur_ring,
	};
	return apply(sender, &m);
}

static int confchg(uint32_t rep, uint64_t seq, const uint32_t *mem, size_t nm,
		   const uint32_t *left, size_t nl)
{
	struct cl_ring r = { .rep = rep, .seq = seq };
	int rc;

	rec_clear();
	rc = cl_sm_confchg(sm, &r, mem, nm, left, nl);
	if (rc == 0)
		cur_ring = r;
	return rc;
}

static int put(uint32_t node, const void *name, size_t len, const void *key, size_t keylen,
	       const void *val, size_t vallen, uint64_t epoch, uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_INDEX_PUT, .namelen = (uint16_t)len, .name = name,
		.keylen = (uint8_t)keylen, .key = key, .vallen = (uint32_t)vallen,
		.value = val, .epoch = epoch, .req_id = req,
	};
	return apply(node, &m);
}

static int del(uint32_t node, const void *name, size_t len, const void *key, size_t keylen,
	       uint64_t epoch, uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_INDEX_DEL, .namelen = (uint16_t)len, .name = name,
		.keylen = (uint8_t)keylen, .key = key, .epoch = epoch, .req_id = req,
	};
	return apply(node, &m);
}

/* ------------------------------------------------------------------ machine */

static void make_sm(size_t mem_max)
{
	struct cl_sm_config cfg = { .index_mem_max = mem_max };

	sm = cl_sm_free(sm);
	sm = cl_sm_new(&cfg, record_action, &rec);
	ck_assert_ptr_nonnull(sm);
	OK(confchg(1, 1, NODES(1, 2, 3, 4, 5), NOBODY));
	OK(quorum_now(1, true));
	ck_assert(cl_sm_quorate(sm));
	rec_clear();
}

static void setup(void)
{
	make_sm(0);
}

static void teardown(void)
{
	sm = cl_sm_free(sm);
}

static struct cl_sm_stats stats(void)
{
	struct cl_sm_stats st;

	cl_sm_stats(sm, &st);
	return st;
}

static uint64_t lsn(void)
{
	return stats().lsn;
}

/* ------------------------------------------------------------------ expectations */

static long xfind(enum cl_action_type t)
{
	for (size_t i = 0; i < rec.n; i++)
		if (rec.r[i].a.type == t)
			return (long)i;
	return -1;
}

static size_t xcount(enum cl_action_type t)
{
	size_t c = 0;

	for (size_t i = 0; i < rec.n; i++)
		c += rec.r[i].a.type == t;
	return c;
}

#define X_N(cnt) \
	ck_assert_msg(rec.n == (size_t)(cnt) && rec.lost == 0, \
		      "line %d: expected %zu action(s)%s", __LINE__, (size_t)(cnt), dump())

/*
 * The answer to a write: exactly one INDEX_DONE to node with req and err;
 * on success (err 0) its version is want_version.
 */
static void x_done(int line, uint32_t node, uint64_t req, int err, uint64_t want_version)
{
	long i = xfind(CL_ACT_INDEX_DONE);
	const struct cl_action *a;

	ck_assert_msg(i >= 0 && xcount(CL_ACT_INDEX_DONE) == 1,
		      "line %d: expected one INDEX_DONE%s", line, dump());
	a = &rec.r[i].a;
	ck_assert_msg(a->node == node && a->req_id == req && a->err == err,
		      "line %d: INDEX_DONE node %" PRIu32 " req %" PRIu64 " err %d, expected %"
		      PRIu32 "/%" PRIu64 "/%d%s", line, a->node, a->req_id, a->err, node, req,
		      err, dump());
	if (err == 0)
		ck_assert_msg(a->version == want_version, "line %d: INDEX_DONE version %" PRIu64
			      ", expected %" PRIu64 "%s", line, a->version, want_version, dump());
}
#define X_DONE(node, req, err, ver) x_done(__LINE__, node, req, err, ver)

static void x_changed(int line, const void *name, size_t len, const void *key, size_t keylen,
		      uint64_t version, bool deleted)
{
	long i = xfind(CL_ACT_INDEX_CHANGED);
	const struct cl_action *a;

	ck_assert_msg(i >= 0 && xcount(CL_ACT_INDEX_CHANGED) == 1,
		      "line %d: expected one INDEX_CHANGED%s", line, dump());
	a = &rec.r[i].a;
	ck_assert_msg(a->namelen == len && memcmp(a->name, name, len) == 0,
		      "line %d: INDEX_CHANGED name%s", line, dump());
	ck_assert_msg(a->keylen == keylen && memcmp(a->key, key, keylen) == 0,
		      "line %d: INDEX_CHANGED key%s", line, dump());
	ck_assert_msg(a->version == version && a->deleted == deleted,
		      "line %d: INDEX_CHANGED version %" PRIu64 " deleted %d, expected %" PRIu64
		      " %d%s", line, a->version, a->deleted, version, deleted, dump());
}
#define X_CHANGED(nm, key, ver, deleted) x_changed(__LINE__, nm, key, ver, deleted)

/* A successful write: INDEX_DONE + INDEX_CHANGED and nothing else; version = lsn. */
#define X_WRITE_OK(node, req, nm, key, deleted) do { \
	X_N(2); \
	x_done(__LINE__, node, req, 0, lsn()); \
	x_changed(__LINE__, nm, key, lsn(), deleted); \
} while (0)

/* A rejected write: only INDEX_DONE with err. */
#define X_WRITE_ERR(node, req, err) do { \
	X_N(1); \
	x_done(__LINE__, node, req, err, 0); \
} while (0)

/* The i-th INDEX_EVICTED action names nm. */
static void x_evicted(int line, size_t nth, const void *name, size_t len)
{
	size_t seen = 0;

	for (size_t i = 0; i < rec.n; i++) {
		const struct cl_action *a = &rec.r[i].a;
		if (a->type != CL_ACT_INDEX_EVICTED)
			continue;
		if (seen++ == nth) {
			ck_assert_msg(a->namelen == len && memcmp(a->name, name, len) == 0,
				      "line %d: eviction #%zu names another name%s", line, nth,
				      dump());
			return;
		}
	}
	ck_abort_msg("line %d: no eviction #%zu%s", line, nth, dump());
}
#define X_EVICTED(nth, nm) x_evicted(__LINE__, nth, nm)

static uint64_t grab(int line, uint32_t node, const void *name, size_t len, uint8_t mode)
{
	int rc = acq(node, name, len, mode, 0, 1000 + node);

	ck_assert_msg(rc == 0 && rec.n == 1 && rec.r[0].a.type == CL_ACT_GRANT,
		      "line %d: expected a sole GRANT%s", line, dump());
	return rec.r[0].a.epoch;
}
#define GRAB(node, nm, mode) grab(__LINE__, node, nm, mode)

static void expect_val(int line, const void *name, size_t len, const void *key, size_t keylen,
		       const void *val, size_t vallen, uint64_t version)
{
	const uint8_t *v = NULL;
	uint32_t vl = UINT32_MAX;
	uint64_t ver = 0;
	int rc = cl_index_get(sm, name, len, key, keylen, &v, &vl, &ver);

	ck_assert_msg(rc == 0, "line %d: cl_index_get = %d", line, rc);
	ck_assert_msg(vl == vallen, "line %d: vallen %" PRIu32 ", expected %zu", line, vl, vallen);
	ck_assert_msg(vallen == 0 || (v != NULL && memcmp(v, val, vallen) == 0),
		      "line %d: wrong value", line);
	if (version != UINT64_MAX)
		ck_assert_msg(ver == version, "line %d: version %" PRIu64 ", expected %" PRIu64,
			      line, ver, version);
}
#define EXPECT_VAL(nm, key, val, ver) expect_val(__LINE__, nm, key, val, ver)
#define EXPECT_NOKEY(nm, key) \
	ck_assert_int_eq(cl_index_get(sm, nm, key, NULL, NULL, NULL), -ENOENT)

static struct cl_lease_info look(int line, const void *name, size_t len)
{
	struct cl_lease_info info;
	int rc = cl_sm_lookup(sm, name, len, &info, NULL, 0, NULL, 0);

	ck_assert_msg(rc == 0, "line %d: cl_sm_lookup = %d", line, rc);
	return info;
}
#define LOOK(nm) look(__LINE__, nm)

static void gone(int line, const void *name, size_t len)
{
	struct cl_lease_info info;
	int rc = cl_sm_lookup(sm, name, len, &info, NULL, 0, NULL, 0);

	ck_assert_msg(rc == -ENOENT, "line %d: cl_sm_lookup = %d, expected -ENOENT", line, rc);
}
#define GONE(nm) gone(__LINE__, nm)

static uint64_t entry_cost(size_t keylen, size_t vallen)
{
	return keylen + vallen + CL_INDEX_ENTRY_OVERHEAD;
}

/* What an index costs beside its entries (index.h): its name and record. */
static uint64_t base(size_t namelen)
{
	return namelen + CL_INDEX_NAME_OVERHEAD;
}

static void check_bytes(int line, uint64_t want)
{
	ck_assert_msg(cl_index_bytes(sm) == want, "line %d: cl_index_bytes %" PRIu64
		      ", expected %" PRIu64, line, cl_index_bytes(sm), want);
	ck_assert_msg(stats().index_bytes == want, "line %d: stats.index_bytes %" PRIu64
		      ", expected %" PRIu64, line, stats().index_bytes, want);
}
#define BYTES(want) check_bytes(__LINE__, want)

static uint8_t bigval[COROLEASE_VALUE_MAX];

/* ================================================================== tests */

START_TEST(test_put_get_del)
{
	uint64_t e = GRAB(1, S("user1/INBOX"), EX);
	uint64_t v1, v2, v3;
	struct cl_lease_info li;
	const uint8_t *vp;
	uint32_t vl;
	uint64_t ver;

	EXPECT_NOKEY(S("user1/INBOX"), S("uidnext"));
	OK(put(1, S("user1/INBOX"), S("uidnext"), S("42"), e, 7));
	X_WRITE_OK(1, 7, S("user1/INBOX"), S("uidnext"), false);
	v1 = lsn();
	EXPECT_VAL(S("user1/INBOX"), S("uidnext"), S("42"), v1);
	li = LOOK(S("user1/INBOX"));
	ck_assert_uint_eq(li.version, v1);
	ck_assert_uint_eq(li.nkeys, 1);
	ck_assert_uint_eq(li.lru_tick, 0);

	OK(put(1, S("user1/INBOX"), S("uidvalidity"), S("1700000000"), e, 8));
	X_WRITE_OK(1, 8, S("user1/INBOX"), S("uidvalidity"), false);
	v2 = lsn();
	ck_assert_uint_gt(v2, v1);
	/* the name's version moved; so does what get reports for any key */
	EXPECT_VAL(S("user1/INBOX"), S("uidnext"), S("42"), v2);

	/* overwrite */
	OK(put(1, S("user1/INBOX"), S("uidnext"), S("4711"), e, 9));
	X_WRITE_OK(1, 9, S("user1/INBOX"), S("uidnext"), false);
	v3 = lsn();
	EXPECT_VAL(S("user1/INBOX"), S("uidnext"), S("4711"), v3);
	ck_assert_uint_eq(LOOK(S("user1/INBOX")).nkeys, 2);

	/* all out parameters may be NULL */
	OK(cl_index_get(sm, S("user1/INBOX"), S("uidnext"), NULL, NULL, NULL));
	vp = NULL;
	OK(cl_index_get(sm, S("user1/INBOX"), S("uidnext"), &vp, NULL, NULL));
	ck_assert(vp != NULL && memcmp(vp, "4711", 4) == 0);
	OK(cl_index_get(sm, S("user1/INBOX"), S("uidnext"), NULL, &vl, &ver));
	ck_assert_uint_eq(vl, 4);
	ck_assert_uint_eq(ver, v3);

	OK(del(1, S("user1/INBOX"), S("uidnext"), e, 10));
	X_WRITE_OK(1, 10, S("user1/INBOX"), S("uidnext"), true);
	EXPECT_NOKEY(S("user1/INBOX"), S("uidnext"));
	EXPECT_VAL(S("user1/INBOX"), S("uidvalidity"), S("1700000000"), lsn());
	ck_assert_uint_eq(LOOK(S("user1/INBOX")).version, lsn());
	ck_assert_uint_eq(LOOK(S("user1/INBOX")).nkeys, 1);

	/* delete of a missing key */
	v1 = lsn();
	OK(del(1, S("user1/INBOX"), S("uidnext"), e, 11));
	X_WRITE_ERR(1, 11, -ENOENT);
	OK(del(1, S("user1/INBOX"), S("never"), e, 12));
	X_WRITE_ERR(1, 12, -ENOENT);
	ck_assert_uint_eq(LOOK(S("user1/INBOX")).version, v1);   /* failed writes keep it */
	EXPECT_NOKEY(S("nosuchname"), S("k"));
}
END_TEST

START_TEST(test_write_rejections)
{
	uint64_t e = GRAB(1, S("a"), EX);
	uint64_t es, v, b;

	OK(put(1, S("a"), S("k"), S("v"), e, 1));
	X_WRITE_OK(1, 1, S("a"), S("k"), false);
	v = lsn();
	b = cl_index_bytes(sm);

	/* wrong epoch, older or newer */
	OK(put(1, S("a"), S("k"), S("x"), e + 1, 2));
	X_WRITE_ERR(1, 2, -ESTALE);
	OK(put(1, S("a"), S("k"), S("x"), 0, 3));
	X_WRITE_ERR(1, 3, -ESTALE);
	OK(del(1, S("a"), S("k"), e + 5, 4));
	X_WRITE_ERR(1, 4, -ESTALE);
	/* epoch checked before the key: missing key with a bad epoch is stale */
	OK(del(1, S("a"), S("missing"), e + 5, 5));
	X_WRITE_ERR(1, 5, -ESTALE);

	/* a non-holder, even with the holder's epoch */
	OK(put(2, S("a"), S("k"), S("x"), e, 6));
	X_WRITE_ERR(2, 6, -ESTALE);
	OK(del(2, S("a"), S("k"), e, 7));
	X_WRITE_ERR(2, 7, -ESTALE);
	/* a waiter is not a holder */
	OK(acq(3, S("a"), EX, CL_ACQ_WAIT, 8));
	OK(put(3, S("a"), S("k"), S("x"), e, 9));
	X_WRITE_ERR(3, 9, -ESTALE);

	/* an SH holder with its own epoch */
	es = GRAB(2, S("b"), SH);
	OK(put(2, S("b"), S("k"), S("x"), es, 10));
	X_WRITE_ERR(2, 10, -ESTALE);
	GONE(S("zz"));
	OK(put(2, S("zz"), S("k"), S("x"), es, 11));    /* unknown name */
	X_WRITE_ERR(2, 11, -ESTALE);
	GONE(S("zz"));                                 /* nothing was created */

	/* after a conversion SH -> EX only the new epoch works */
	{
		uint64_t ex;

		OK(acq(2, S("b"), EX, 0, 12));
		ck_assert_uint_eq(rec.r[0].a.type, CL_ACT_GRANT);
		ex = rec.r[0].a.epoch;
		ck_assert_uint_ne(ex, es);
		OK(put(2, S("b"), S("k"), S("x"), es, 13));
		X_WRITE_ERR(2, 13, -ESTALE);
		OK(put(2, S("b"), S("k"), S("x"), ex, 14));
		X_WRITE_OK(2, 14, S("b"), S("k"), false);
	}

	EXPECT_VAL(S("a"), S("k"), S("v"), v);
	ck_assert_uint_eq(LOOK(S("a")).version, v);
	ck_assert_uint_eq(cl_index_bytes(sm), b + base(1) + entry_cost(1, 1));   /* b's new index */
}
END_TEST

START_TEST(test_not_quorate)
{
	uint64_t e = GRAB(1, S("a"), EX);
	uint64_t v;

	OK(put(1, S("a"), S("k"), S("v"), e, 1));
	v = lsn();
	OK(quorum_now(2, false));
	ck_assert(!cl_sm_quorate(sm));
	OK(put(1, S("a"), S("k"), S("w"), e, 2));
	X_WRITE_ERR(1, 2, COROLEASE_ENOQUORUM);
	OK(del(1, S("a"), S("k"), e, 3));
	X_WRITE_ERR(1, 3, COROLEASE_ENOQUORUM);
	/* quorum is checked first: even a stale writer or a missing key gets NOQUORUM */
	OK(put(2, S("a"), S("k"), S("w"), 99, 4));
	X_WRITE_ERR(2, 4, COROLEASE_ENOQUORUM);
	OK(del(1, S("a"), S("missing"), e, 5));
	X_WRITE_ERR(1, 5, COROLEASE_ENOQUORUM);
	EXPECT_VAL(S("a"), S("k"), S("v"), v);

	/* also after a departure */
	OK(quorum_now(2, true));
	OK(confchg(1, 2, NODES(1, 2, 3, 4), NODES(5)));
	OK(put(1, S("a"), S("k"), S("w"), e, 6));
	X_WRITE_ERR(1, 6, COROLEASE_ENOQUORUM);
	OK(quorum_now(2, true));
	OK(put(1, S("a"), S("k"), S("w"), e, 7));
	X_WRITE_OK(1, 7, S("a"), S("k"), false);
}
END_TEST

START_TEST(test_version_is_lsn_and_grows)
{
	uint64_t e = GRAB(1, S("a"), EX);
	uint64_t va, vb, prev = 0;

	for (int i = 0; i < 20; i++) {
		char val[16];
		int n = snprintf(val, sizeof(val), "v%d", i);

		OK(put(1, S("a"), S("k"), val, (size_t)n, e, (uint64_t)i));
		X_DONE(1, (uint64_t)i, 0, lsn());
		ck_assert_uint_gt(lsn(), prev);
		prev = lsn();
		/* other inputs in between advance lsn */
		OK(acq(2, S("other"), SH, 0, 0));
	}
	OK(put(1, S("a"), S("ka"), S("1"), e, 100));
	va = lsn();
	OK(put(1, S("a"), S("kb"), S("2"), e, 101));
	vb = lsn();
	ck_assert_uint_gt(vb, va);

	/* each entry remembers the version it was last written at */
	{
		struct cl_sm_header h;

		cl_sm_get_header(sm, &h);
		ck_assert_uint_eq(h.lsn, lsn());
	}
	ck_assert_uint_eq(LOOK(S("a")).version, vb);

	/* the version survives a release and re-acquire, and keeps growing */
	OK(rel(1, S("a"), e));
	ck_assert_uint_eq(LOOK(S("a")).version, vb);
	ck_assert_uint_gt(LOOK(S("a")).lru_tick, 0);
	EXPECT_VAL(S("a"), S("ka"), S("1"), vb);
	e = GRAB(2, S("a"), EX);
	ck_assert_uint_eq(LOOK(S("a")).lru_tick, 0);
	OK(del(2, S("a"), S("ka"), e, 102));
	X_WRITE_OK(2, 102, S("a"), S("ka"), true);
	ck_assert_uint_gt(lsn(), vb);
}
END_TEST

struct entries {
	size_t n;
	int stop_at;
	uint8_t keys[16][8];
	size_t lens[16];
	uint64_t versions[16];
	uint32_t vallens[16];
};

static int collect_entry(void *ctx, const struct cl_entry_info *e)
{
	struct entries *es = ctx;

	ck_assert_uint_lt(es->n, 16);
	ck_assert_uint_le(e->keylen, 8);
	memcpy(es->keys[es->n], e->key, e->keylen);
	es->lens[es->n] = e->keylen;
	es->versions[es->n] = e->version;
	es->vallens[es->n] = e->vallen;
	es->n++;
	return (int)es->n == es->stop_at ? 55 : 0;
}

START_TEST(test_foreach_key_order)
{
	static const struct { const char *k; size_t len; } keys[] = {
		{ "b", 1 }, { "a", 1 }, { "ab", 2 }, { "\x80", 1 }, { "aa", 2 }, { "a\0", 2 },
		{ "\xff\xff", 2 }, { "B", 1 }, { "a\0\0", 3 },
	};
	/* memcmp order, shorter first on a common prefix */
	static const size_t order[] = { 7, 1, 5, 8, 4, 2, 0, 3, 6 };
	uint64_t ver[9];
	struct entries es;
	uint64_t e = GRAB(1, S("a"), EX);

	for (size_t i = 0; i < 9; i++) {
		OK(put(1, S("a"), NL(keys[i].k, keys[i].len), "vvvvvvvvv", i, e, i));
		X_DONE(1, i, 0, lsn());
		ver[i] = lsn();
	}
	memset(&es, 0, sizeof(es));
	ck_assert_int_eq(cl_index_foreach(sm, S("a"), collect_entry, &es), 0);
	ck_assert_uint_eq(es.n, 9);
	for (size_t i = 0; i < 9; i++) {
		size_t k = order[i];
		ck_assert_msg(es.lens[i] == keys[k].len && memcmp(es.keys[i], keys[k].k,
			      keys[k].len) == 0, "entry %zu is not key #%zu", i, k);
		ck_assert_uint_eq(es.versions[i], ver[k]);
		ck_assert_uint_eq(es.vallens[i], k);
	}
	/* early stop returns fn's value */
	memset(&es, 0, sizeof(es));
	es.stop_at = 3;
	ck_assert_int_eq(cl_index_foreach(sm, S("a"), collect_entry, &es), 55);
	ck_assert_uint_eq(es.n, 3);
	/* a name without index */
	memset(&es, 0, sizeof(es));
	ck_assert_int_eq(cl_index_foreach(sm, S("nope"), collect_entry, &es), -ENOENT);
	ck_assert_uint_eq(es.n, 0);
	/* a re-put keeps the order and moves only that entry's version */
	OK(put(1, S("a"), S("ab"), S("x"), e, 50));
	memset(&es, 0, sizeof(es));
	ck_assert_int_eq(cl_index_foreach(sm, S("a"), collect_entry, &es), 0);
	ck_assert_uint_eq(es.n, 9);
	ck_assert_uint_eq(es.versions[5], lsn());
	ck_assert_uint_eq(es.versions[4], ver[4]);
	ck_assert_uint_eq(LOOK(S("a")).nkeys, 9);
}
END_TEST

START_TEST(test_limits)
{
	static uint8_t key[COROLEASE_KEY_MAX];
	uint64_t e = GRAB(1, S("big"), EX);

	memset(key, 'K', sizeof(key));
	key[0] = 0;
	for (size_t i = 0; i < sizeof(bigval); i++)
		bigval[i] = (uint8_t)(i * 131 + 7);
	OK(put(1, S("big"), key, sizeof(key), bigval, sizeof(bigval), e, 1));
	X_WRITE_OK(1, 1, S("big"), NL(key, sizeof(key)), false);
	expect_val(__LINE__, S("big"), key, sizeof(key), bigval, sizeof(bigval), lsn());
	BYTES(base(3) + entry_cost(COROLEASE_KEY_MAX, COROLEASE_VALUE_MAX));

	/* one-byte key, empty value */
	OK(put(1, S("big"), S("k"), "", 0, e, 2));
	X_WRITE_OK(1, 2, S("big"), S("k"), false);
	expect_val(__LINE__, S("big"), "k", 1, "", 0, lsn());
	BYTES(base(3) + entry_cost(COROLEASE_KEY_MAX, COROLEASE_VALUE_MAX) + entry_cost(1, 0));
	/* the 255-byte key and its 254-byte prefix are different keys */
	ck_assert_int_eq(cl_index_get(sm, S("big"), key, sizeof(key) - 1, NULL, NULL, NULL),
			 -ENOENT);
}
END_TEST

/*
 * A name's index takes at most COROLEASE_KEYS_MAX keys: a new key beyond
 * is refused with -EFBIG on every replica (helper-96: every put moves the
 * keys after it, and 900,000 keys took 77% of a CPU on each node), while
 * overwrites and deletes go on, and a delete makes room again.
 */
START_TEST(test_keys_max)
{
	uint64_t e = GRAB(1, S("many"), EX);
	char key[8];

	for (uint32_t i = 0; i < COROLEASE_KEYS_MAX; i++) {
		snprintf(key, sizeof(key), "%06x", i);   /* in order: no key moves */
		ck_assert_int_eq(put(1, S("many"), key, 6, "", 0, e, i), 0);
	}
	ck_assert_uint_eq(LOOK(S("many")).nkeys, COROLEASE_KEYS_MAX);
	uint64_t b = cl_index_bytes(sm);
	rec_clear();
	OK(put(1, S("many"), S("zzz"), S("x"), e, 1u << 20));
	X_WRITE_ERR(1, 1u << 20, -EFBIG);
	OK(put(1, S("many"), S("!"), S("x"), e, 2u << 20));   /* before every key, too */
	X_WRITE_ERR(1, 2u << 20, -EFBIG);
	ck_assert_uint_eq(cl_index_bytes(sm), b);
	ck_assert_uint_eq(LOOK(S("many")).nkeys, COROLEASE_KEYS_MAX);
	/* an existing key is overwritten */
	OK(put(1, S("many"), "000007", 6, S("seven"), e, 3u << 20));
	X_WRITE_OK(1, 3u << 20, S("many"), NL("000007", 6), false);
	EXPECT_VAL(S("many"), NL("000007", 6), S("seven"), lsn());
	/* a delete makes room for one */
	OK(del(1, S("many"), "000008", 6, e, 4u << 20));
	X_WRITE_OK(1, 4u << 20, S("many"), NL("000008", 6), true);
	OK(put(1, S("many"), S("zzz"), S("x"), e, 5u << 20));
	X_WRITE_OK(1, 5u << 20, S("many"), S("zzz"), false);
	ck_assert_uint_eq(LOOK(S("many")).nkeys, COROLEASE_KEYS_MAX);
}
END_TEST

START_TEST(test_bytes_accounting)
{
	uint64_t ea = GRAB(1, S("a"), EX);
	uint64_t eb = GRAB(2, S("b"), EX);

	BYTES(0);
	OK(put(1, S("a"), S("k1"), S("hello"), ea, 1));
	/* the first put makes the index: its name and record are charged too */
	BYTES(base(1) + entry_cost(2, 5));
	OK(put(1, S("a"), S("k22"), S("x"), ea, 2));
	BYTES(base(1) + entry_cost(2, 5) + entry_cost(3, 1));
	OK(put(2, S("b"), S("k1"), S("0123456789"), eb, 3));
	BYTES(2 * base(1) + entry_cost(2, 5) + entry_cost(3, 1) + entry_cost(2, 10));
	/* overwrite with a longer and then a shorter value */
	OK(put(1, S("a"), S("k1"), S("hello world"), ea, 4));
	BYTES(2 * base(1) + entry_cost(2, 11) + entry_cost(3, 1) + entry_cost(2, 10));
	OK(put(1, S("a"), S("k1"), "", 0, ea, 5));
	BYTES(2 * base(1) + entry_cost(2, 0) + entry_cost(3, 1) + entry_cost(2, 10));
	/* failed writes change nothing */
	OK(put(1, S("a"), S("k9"), S("zzz"), ea + 100, 6));
	OK(del(1, S("a"), S("k9"), ea, 7));
	BYTES(2 * base(1) + entry_cost(2, 0) + entry_cost(3, 1) + entry_cost(2, 10));

	OK(del(1, S("a"), S("k1"), ea, 8));
	BYTES(2 * base(1) + entry_cost(3, 1) + entry_cost(2, 10));
	/* the last key's delete ends the index, and its base with it */
	OK(del(1, S("a"), S("k22"), ea, 9));
	BYTES(base(1) + entry_cost(2, 10));
	OK(del(2, S("b"), S("k1"), eb, 10));
	BYTES(0);
	ck_assert_uint_eq(LOOK(S("a")).nkeys, 0);

	/* with neither lease state nor index data a name is forgotten */
	OK(rel(1, S("a"), ea));
	GONE(S("a"));
	OK(rel(2, S("b"), eb));
	GONE(S("b"));
	ck_assert_uint_eq(stats().records, 0);
	ck_assert_uint_eq(stats().index_mem_max, 64u << 20);   /* 0 = 64 MiB */
}
END_TEST

START_TEST(test_release_keeps_index)
{
	uint64_t e = GRAB(1, S("a"), EX);
	struct cl_lease_info li;

	OK(put(1, S("a"), S("k"), S("v"), e, 1));
	OK(rel(1, S("a"), e));
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nholders, 0);
	ck_assert_uint_eq(li.nkeys, 1);
	ck_assert_uint_gt(li.lru_tick, 0);
	EXPECT_VAL(S("a"), S("k"), S("v"), UINT64_MAX);
	ck_assert_uint_eq(stats().records, 1);

	/* emptied by its next holder, then released: forgotten */
	e = GRAB(2, S("a"), EX);
	OK(del(2, S("a"), S("k"), e, 2));
	OK(rel(2, S("a"), e));
	GONE(S("a"));
	BYTES(0);
}
END_TEST

#define NAMEV (167u)   /* 1-byte key + 167 + 32 = 200 bytes per entry */

static uint8_t vals[4096];

START_TEST(test_eviction_lru)
{
	static const char *const nm[] = { "n1", "n2", "n3", "n4" };
	const uint64_t b = base(2);   /* each name's index, beside its entries */
	uint64_t ep[4], t1, t2, t3, before;
	struct cl_lease_info li;

	make_sm(1000 + 4 * b);
	memset(vals, 'v', sizeof(vals));
	for (int i = 0; i < 4; i++) {
		ep[i] = grab(__LINE__, 1, nm[i], 2, EX);
		OK(put(1, nm[i], 2, S("k"), vals, NAMEV, ep[i], (uint64_t)i));
		X_N(2);
	}
	BYTES(800 + 4 * b);
	OK(rel(1, "n2", 2, ep[1]));
	OK(rel(1, "n1", 2, ep[0]));
	OK(rel(1, "n3", 2, ep[2]));
	t2 = look(__LINE__, "n2", 2).lru_tick;
	t1 = look(__LINE__, "n1", 2).lru_tick;
	t3 = look(__LINE__, "n3", 2).lru_tick;
	ck_assert_uint_gt(t2, 0);
	ck_assert_uint_gt(t1, t2);
	ck_assert_uint_gt(t3, t1);
	ck_assert_uint_eq(look(__LINE__, "n4", 2).lru_tick, 0);
	/* local reads do not touch the order */
	OK(cl_index_get(sm, "n2", 2, S("k"), NULL, NULL, NULL));
	ck_assert_uint_eq(look(__LINE__, "n2", 2).lru_tick, t2);

	/* fits exactly: no eviction */
	OK(put(1, "n4", 2, S("2"), vals, NAMEV, ep[3], 10));
	X_N(2);
	X_DONE(1, 10, 0, lsn());
	BYTES(1000 + 4 * b);

	/* needs 200 more: the least recently released (n2) goes, its base too */
	before = stats().index_evictions;
	OK(put(1, "n4", 2, S("3"), vals, NAMEV, ep[3], 11));
	X_N(3);
	X_EVICTED(0, NL("n2", 2));
	X_DONE(1, 11, 0, lsn());
	X_CHANGED(NL("n4", 2), S("3"), lsn(), false);
	ck_assert_uint_lt((size_t)xfind(CL_ACT_INDEX_EVICTED), (size_t)xfind(CL_ACT_INDEX_DONE));
	BYTES(1000 + 3 * b);
	ck_assert_uint_eq(stats().index_evictions, before + 1);
	/* the evicted name had no lease state: forgotten */
	gone(__LINE__, "n2", 2);
	ck_assert_int_eq(cl_index_get(sm, "n2", 2, S("k"), NULL, NULL, NULL), -ENOENT);

	/* re-acquiring and releasing n1 makes it the most recent */
	ep[0] = grab(__LINE__, 2, "n1", 2, EX);
	ck_assert_uint_eq(look(__LINE__, "n1", 2).lru_tick, 0);
	OK(rel(2, "n1", 2, ep[0]));
	ck_assert_uint_gt(look(__LINE__, "n1", 2).lru_tick, t3);

	/* 400 + 3b bytes (room: b): n3 then n1 go, in that order, and it is full */
	OK(put(1, "n4", 2, S("4"), vals, 367 + 3 * b, ep[3], 12));
	X_N(4);
	X_EVICTED(0, NL("n3", 2));
	X_EVICTED(1, NL("n1", 2));
	X_DONE(1, 12, 0, lsn());
	BYTES(1000 + 4 * b);
	gone(__LINE__, "n1", 2);
	gone(__LINE__, "n3", 2);
	ck_assert_uint_eq(stats().index_evictions, before + 3);

	/* full, and only the held name has data: ENOSPC, nothing evicted */
	OK(put(1, "n4", 2, S("5"), S("x"), ep[3], 13));
	X_WRITE_ERR(1, 13, -ENOSPC);
	BYTES(1000 + 4 * b);
	EXPECT_NOKEY(NL("n4", 2), S("5"));

	/* replacing a value with one of the same size needs no extra room */
	OK(put(1, "n4", 2, S("k"), vals + 1, NAMEV, ep[3], 14));
	X_N(2);
	X_DONE(1, 14, 0, lsn());
	BYTES(1000 + 4 * b);
	/* nor does a smaller one; and the room it frees can be used */
	OK(put(1, "n4", 2, S("k"), vals, NAMEV - 10, ep[3], 15));
	X_DONE(1, 15, 0, lsn());
	BYTES(990 + 4 * b);
	OK(put(1, "n4", 2, S("6"), vals, 10 - 1 - 1, ep[3], 16));
	X_DONE(1, 16, -ENOSPC, 0);    /* 1 + 8 + 32 = 41 > 10 */
	OK(put(1, "n4", 2, S("2"), vals, NAMEV + 10, ep[3], 17));
	X_DONE(1, 17, 0, lsn());
	BYTES(1000 + 4 * b);
	li = look(__LINE__, "n4", 2);
	ck_assert_uint_eq(li.nkeys, 4);
}
END_TEST

START_TEST(test_enospc_never_evicts_in_vain)
{
	const uint64_t b = base(3);
	uint64_t e1, e2;

	make_sm(1000 + b);
	memset(vals, 'v', sizeof(vals));
	e1 = GRAB(1, S("old"), EX);
	OK(put(1, S("old"), S("k"), vals, NAMEV, e1, 1));
	OK(rel(1, S("old"), e1));
	e2 = GRAB(2, S("new"), EX);

	/* one index bigger than the whole bound: ENOSPC, and "old" is kept */
	OK(put(2, S("new"), S("k"), vals, 1000 - 32, e2, 2));      /* 1001 + b bytes */
	X_WRITE_ERR(2, 2, -ENOSPC);
	ck_assert_uint_eq(LOOK(S("old")).nkeys, 1);
	BYTES(200 + b);
	/* exactly the bound: fits once "old" is evicted */
	OK(put(2, S("new"), S("k"), vals, 1000 - 33, e2, 3));      /* 1000 + b bytes */
	X_N(3);
	X_EVICTED(0, S("old"));
	X_DONE(2, 3, 0, lsn());
	BYTES(1000 + b);
	GONE(S("old"));
}
END_TEST

START_TEST(test_enospc_even_after_evicting_all)
{
	uint64_t e1, e2;

	/*
	 * A put that cannot fit even after evicting every evictable index is
	 * refused without evicting anything: the eviction would be for nothing.
	 */
	const uint64_t b = base(3) + base(4);   /* "old" and "held" */

	make_sm(1000 + b);
	memset(vals, 'v', sizeof(vals));
	e1 = GRAB(1, S("old"), EX);
	OK(put(1, S("old"), S("k"), vals, NAMEV, e1, 1));          /* 200 + base(3) */
	OK(rel(1, S("old"), e1));
	e2 = GRAB(2, S("held"), EX);
	OK(put(2, S("held"), S("k"), vals, 567, e2, 2));           /* 600 + base(4) */
	BYTES(800 + b);
	/* 500 + base(3): 1300 + b - (200 + base(3)), what evicting "old" leaves, > 1000 + b */
	OK(put(2, S("held"), S("j"), vals, 467 + base(3), e2, 3));
	X_WRITE_ERR(2, 3, -ENOSPC);
	BYTES(800 + b);
	ck_assert_uint_eq(LOOK(S("old")).nkeys, 1);
}
END_TEST

START_TEST(test_never_evict_held)
{
	uint64_t ea, eb, ec, ed;

	make_sm(800 + 4 * base(1));
	memset(vals, 'v', sizeof(vals));
	/* a: EX-written, released, now held SH by node 2 */
	ea = GRAB(1, S("a"), EX);
	OK(put(1, S("a"), S("k"), vals, NAMEV, ea, 1));
	OK(rel(1, S("a"), ea));
	ck_assert_uint_gt(LOOK(S("a")).lru_tick, 0);
	GRAB(2, S("a"), SH);
	ck_assert_uint_eq(LOOK(S("a")).lru_tick, 0);
	/* b: held EX */
	eb = GRAB(1, S("b"), EX);
	OK(put(1, S("b"), S("k"), vals, NAMEV, eb, 2));
	/* c: held by node 3, which departs: orphaned, still held */
	ec = GRAB(3, S("c"), EX);
	OK(put(3, S("c"), S("k"), vals, NAMEV, ec, 3));
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	OK(quorum_now(1, true));
	/* d: held, writes until full */
	ed = GRAB(4, S("d"), EX);
	OK(put(4, S("d"), S("k"), vals, NAMEV, ed, 4));
	BYTES(800 + 4 * base(1));
	OK(put(4, S("d"), S("j"), S("x"), ed, 5));
	X_WRITE_ERR(4, 5, -ENOSPC);
	ck_assert_uint_eq(xcount(CL_ACT_INDEX_EVICTED), 0);
	ck_assert_uint_eq(LOOK(S("a")).nkeys, 1);
	ck_assert_uint_eq(LOOK(S("b")).nkeys, 1);
	ck_assert_uint_eq(LOOK(S("c")).nkeys, 1);
	/* once c's orphan is recovered it becomes evictable */
	{
		struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = 3,
				    .seq = stats().orphan_seq };
		OK(apply(1, &m));
	}
	ck_assert_uint_gt(LOOK(S("c")).lru_tick, 0);
	OK(put(4, S("d"), S("j"), S("x"), ed, 6));
	X_N(3);
	X_EVICTED(0, S("c"));
	X_DONE(4, 6, 0, lsn());
	GONE(S("c"));
}
END_TEST

START_TEST(test_tiny_bound)
{
	uint64_t e;

	/* one byte short of the smallest index: the name's base, a 1-byte key */
	make_sm(base(1) + CL_INDEX_ENTRY_OVERHEAD);
	e = GRAB(1, S("a"), EX);
	OK(put(1, S("a"), S("k"), "", 0, e, 1));
	X_WRITE_ERR(1, 1, -ENOSPC);
	BYTES(0);
	ck_assert_uint_eq(stats().index_mem_max, base(1) + CL_INDEX_ENTRY_OVERHEAD);
	make_sm(base(1) + CL_INDEX_ENTRY_OVERHEAD + 1);
	e = GRAB(1, S("a"), EX);
	OK(put(1, S("a"), S("k"), "", 0, e, 1));
	X_WRITE_OK(1, 1, S("a"), S("k"), false);
	BYTES(base(1) + CL_INDEX_ENTRY_OVERHEAD + 1);
}
END_TEST

/* ------------------------------------------------------------------ per-uid quota */

static void make_sm_q(size_t mem_max, uint64_t per_uid)
{
	struct cl_sm_config cfg = { .index_mem_max = mem_max, .index_bytes_per_uid = per_uid };

	sm = cl_sm_free(sm);
	sm = cl_sm_new(&cfg, record_action, &rec);
	ck_assert_ptr_nonnull(sm);
	OK(confchg(1, 1, NODES(1, 2, 3, 4, 5), NOBODY));
	OK(quorum_now(1, true));
	rec_clear();
}

/* A put by node as uid. */
static int uput(uint32_t node, uint32_t uid, const void *name, size_t len, const void *key,
		size_t keylen, size_t vallen, uint64_t epoch, uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_INDEX_PUT, .namelen = (uint16_t)len, .name = name,
		.keylen = (uint8_t)keylen, .key = key, .vallen = (uint32_t)vallen,
		.value = vals, .epoch = epoch, .req_id = req, .uid = uid,
	};
	return apply(node, &m);
}

#define UBYTES(uid, want) ck_assert_uint_eq(cl_index_uid_bytes(sm, uid), (want))

/* name gets one key k of vallen bytes from node as uid, and is released: evictable. */
static void unheld(int line, uint32_t node, uint32_t uid, const char *name, size_t len,
		   size_t vallen)
{
	uint64_t e = grab(line, node, name, len, EX);

	ck_assert_msg(uput(node, uid, name, len, "k", 1, vallen, e, 1) == 0 &&
		      xfind(CL_ACT_INDEX_DONE) >= 0 && rec.r[xfind(CL_ACT_INDEX_DONE)].a.err == 0,
		      "line %d: put%s", line, dump());
	OK(rel(node, name, len, e));
	ck_assert_uint_gt(look(line, name, len).lru_tick, 0);
}
#define UNHELD(node, uid, nm, vallen) unheld(__LINE__, node, uid, nm, strlen(nm), vallen)

/* The index is charged to the uid of its last put; a delete credits that uid. */
START_TEST(test_uid_accounting)
{
	uint64_t e;

	memset(vals, 'v', sizeof(vals));
	ck_assert_uint_eq(stats().index_bytes_per_uid, 0);     /* off unless configured */
	e = GRAB(1, S("a"), EX);
	OK(uput(1, 1000, S("a"), S("k"), 2, e, 1));
	X_WRITE_OK(1, 1, S("a"), S("k"), false);
	UBYTES(1000, base(1) + entry_cost(1, 2));   /* the name and record too */
	ck_assert_uint_eq(stats().index_uids, 1);
	ck_assert_uint_eq(LOOK(S("a")).index_uid, 1000);
	/* another uid writing into it takes the whole index over */
	OK(uput(1, 1001, S("a"), S("j"), 3, e, 2));
	X_WRITE_OK(1, 2, S("a"), S("j"), false);
	UBYTES(1000, 0);
	UBYTES(1001, base(1) + entry_cost(1, 2) + entry_cost(1, 3));
	ck_assert_uint_eq(stats().index_uids, 1);
	ck_assert_uint_eq(LOOK(S("a")).index_uid, 1001);
	/* an overwrite charges the difference */
	OK(uput(1, 1001, S("a"), S("j"), 10, e, 3));
	UBYTES(1001, base(1) + entry_cost(1, 2) + entry_cost(1, 10));
	/* deletes credit the index's uid; the last one ends the account */
	OK(del(1, S("a"), S("k"), e, 4));
	X_WRITE_OK(1, 4, S("a"), S("k"), true);
	UBYTES(1001, base(1) + entry_cost(1, 10));
	OK(del(1, S("a"), S("j"), e, 5));
	UBYTES(1001, 0);
	ck_assert_uint_eq(stats().index_uids, 0);
	BYTES(0);
	/* root is accounted like any uid */
	OK(uput(1, 0, S("a"), S("k"), 0, e, 6));
	UBYTES(0, base(1) + entry_cost(1, 0));
	ck_assert_uint_eq(stats().index_uids, 1);
	/* eviction credits too */
	make_sm(2 * (base(1) + entry_cost(1, 0)));
	UNHELD(1, 1000, "x", 0);
	UNHELD(1, 1001, "y", 0);
	e = GRAB(2, S("z"), EX);
	OK(uput(2, 1002, S("z"), S("k"), 0, e, 7));
	X_EVICTED(0, S("x"));
	UBYTES(1000, 0);
	UBYTES(1001, base(1) + entry_cost(1, 0));
	UBYTES(1002, base(1) + entry_cost(1, 0));
	ck_assert_uint_eq(stats().index_uids, 2);
}
END_TEST

/*
 * Over its quota a uid's put evicts its own unheld indexes first, and is
 * refused with -EDQUOT (nothing evicted) once what it holds cannot fit;
 * another uid's records stay, and that uid writes on.  Root has no quota.
 */
START_TEST(test_quota_edquot)
{
	/* entries of 500 bytes, so that "old" (base and entry) is less than one of them */
	const uint64_t c500 = entry_cost(1, 500), c10 = entry_cost(1, 10);
	const uint64_t q = base(1) + 3 * c500;
	uint64_t e, eb, er;

	memset(vals, 'v', sizeof(vals));
	make_sm_q(1u << 20, q);
	ck_assert_uint_eq(stats().index_bytes_per_uid, q);
	UNHELD(2, 2000, "b", 500);         /* another uid's, oldest of all */
	UNHELD(1, 1000, "old", 10);        /* A's own, unheld */
	e = GRAB(1, S("a"), EX);
	OK(uput(1, 1000, S("a"), S("1"), 500, e, 1));
	X_WRITE_OK(1, 1, S("a"), S("1"), false);
	OK(uput(1, 1000, S("a"), S("2"), 500, e, 2));
	X_WRITE_OK(1, 2, S("a"), S("2"), false);
	UBYTES(1000, base(3) + c10 + base(1) + 2 * c500);
	/* the third needs room under the quota: A's own unheld index goes, b stays */
	OK(uput(1, 1000, S("a"), S("3"), 500, e, 3));
	X_N(3);
	X_EVICTED(0, S("old"));
	X_DONE(1, 3, 0, lsn());
	UBYTES(1000, q);
	/* the fourth cannot fit: refused, nothing evicted, nothing changed */
	uint64_t h = cl_sm_hash(sm), evictions = stats().index_evictions;
	OK(uput(1, 1000, S("a"), S("4"), 500, e, 4));
	X_WRITE_ERR(1, 4, -EDQUOT);
	ck_assert_uint_eq(stats().index_evictions, evictions);
	UBYTES(1000, q);
	EXPECT_NOKEY(S("a"), S("4"));
	/* a refusal is an input: only lsn moved */
	ck_assert_uint_ne(cl_sm_hash(sm), h);
	/* so is a larger overwrite, a smaller one is not */
	OK(uput(1, 1000, S("a"), S("3"), 501, e, 5));
	X_WRITE_ERR(1, 5, -EDQUOT);
	OK(uput(1, 1000, S("a"), S("3"), 50, e, 6));
	X_WRITE_OK(1, 6, S("a"), S("3"), false);
	/* B's record is intact, and B writes up to its own quota */
	expect_val(__LINE__, S("b"), S("k"), vals, 500, UINT64_MAX);
	UBYTES(2000, base(1) + c500);
	eb = GRAB(2, S("c"), EX);
	OK(uput(2, 2000, S("c"), S("1"), 500, eb, 7));
	X_WRITE_OK(2, 7, S("c"), S("1"), false);
	OK(uput(2, 2000, S("c"), S("2"), 500, eb, 8));
	X_N(3);
	X_EVICTED(0, S("b"));                /* its own */
	X_DONE(2, 8, 0, lsn());
	OK(uput(2, 2000, S("c"), S("3"), 500, eb, 9));
	X_WRITE_OK(2, 9, S("c"), S("3"), false);
	UBYTES(2000, q);
	UBYTES(1000, base(1) + 2 * c500 + entry_cost(1, 50));
	/* a single value larger than the quota never fits */
	ck_assert_uint_le(q, sizeof(vals));
	OK(uput(2, 2000, S("c"), S("big"), q, eb, 10));
	X_WRITE_ERR(2, 10, -EDQUOT);
	/* root has no quota */
	er = GRAB(3, S("r"), EX);
	for (uint64_t i = 0; i < 5; i++) {
		char k = (char)('0' + i);
		OK(uput(3, 0, S("r"), &k, 1, 500, er, 20 + i));
		X_WRITE_OK(3, 20 + i, S("r"), NL(&k, 1), false);
	}
	UBYTES(0, base(1) + 5 * c500);
}
END_TEST

/*
 * With the quota on, a put that needs room under the bound evicts only its
 * own uid's unheld indexes, even when another uid's are older, and is
 * refused with -ENOSPC rather than evict another's.  With it off, the
 * oldest index goes, whoever wrote it.
 */
START_TEST(test_quota_evicts_own_only)
{
	const uint64_t c = entry_cost(1, 100), u = base(2) + c;   /* an index of one entry */

	memset(vals, 'v', sizeof(vals));
	for (int on = 0; on <= 1; on++) {
		uint64_t e;

		make_sm_q(4 * u, on ? 4 * u : 0);
		UNHELD(2, 2000, "b1", 100);
		UNHELD(2, 2000, "b2", 100);
		UNHELD(1, 1000, "a1", 100);
		e = GRAB(1, S("a2"), EX);
		OK(uput(1, 1000, S("a2"), S("1"), 100, e, 1));
		X_WRITE_OK(1, 1, S("a2"), S("1"), false);
		BYTES(4 * u);
		OK(uput(1, 1000, S("a2"), S("2"), 100, e, 2));
		X_N(3);
		X_DONE(1, 2, 0, lsn());
		if (!on) {
			X_EVICTED(0, S("b1"));        /* the oldest */
			GONE(S("b1"));
			continue;
		}
		X_EVICTED(0, S("a1"));                /* its own, though b1 is older */
		GONE(S("a1"));
		ck_assert_uint_eq(LOOK(S("b1")).nkeys, 1);
		/* nothing of its own left to evict: -ENOSPC, b1 and b2 stay (room: base(2)) */
		ck_assert_uint_gt(entry_cost(1, 300), base(2));
		OK(uput(1, 1000, S("a2"), S("3"), 300, e, 3));
		X_WRITE_ERR(1, 3, -ENOSPC);
		ck_assert_uint_eq(LOOK(S("b1")).nkeys, 1);
		ck_assert_uint_eq(LOOK(S("b2")).nkeys, 1);
		UBYTES(2000, 2 * u);
		UBYTES(1000, base(2) + 2 * c);
		/* B still writes: its own oldest makes room */
		uint64_t eb = GRAB(2, S("b3"), EX);
		OK(uput(2, 2000, S("b3"), S("k"), 100, eb, 4));
		X_N(3);
		X_EVICTED(0, S("b1"));
		X_DONE(2, 4, 0, lsn());
	}
}
END_TEST

/* A uid writing into an index charged to another takes it whole: its quota must fit it. */
START_TEST(test_quota_takeover)
{
	const uint64_t c = entry_cost(1, 100);
	uint64_t e;

	memset(vals, 'v', sizeof(vals));
	make_sm_q(1u << 20, base(1) + 2 * c);
	e = GRAB(1, S("a"), EX);
	OK(uput(1, 1000, S("a"), S("1"), 100, e, 1));
	OK(uput(1, 1000, S("a"), S("2"), 100, e, 2));
	UBYTES(1000, base(1) + 2 * c);
	OK(rel(1, S("a"), e));
	e = GRAB(2, S("a"), EX);
	OK(uput(2, 2000, S("a"), S("3"), 0, e, 3));
	X_WRITE_ERR(2, 3, -EDQUOT);
	UBYTES(1000, base(1) + 2 * c);
	UBYTES(2000, 0);
	/* a delete needs no quota; it credits the index's uid */
	OK(del(2, S("a"), S("1"), e, 4));
	X_WRITE_OK(2, 4, S("a"), S("1"), true);
	UBYTES(1000, base(1) + c);
	OK(uput(2, 2000, S("a"), S("3"), 0, e, 5));
	X_WRITE_OK(2, 5, S("a"), S("3"), false);
	UBYTES(1000, 0);
	UBYTES(2000, base(1) + c + entry_cost(1, 0));
	ck_assert_uint_eq(LOOK(S("a")).index_uid, 2000);
}
END_TEST

/*
 * The quota bounds what a uid's indexes keep alive, names and records
 * included (helper-96: an index of one 1-byte key under a 1 KiB name was
 * charged 33 bytes, so a quota-sized fill kept 41 times the quota).  A uid
 * that writes one small key under each of many long names keeps only as
 * many of them as their names fit in its quota; the rest are evicted.
 */
START_TEST(test_quota_counts_names)
{
	static char name[COROLEASE_NAME_MAX];
	const uint64_t q = 64u << 10;

	memset(vals, 'v', sizeof(vals));
	make_sm_q(64u << 20, q);
	for (unsigned i = 0; i < 200; i++) {
		memset(name, 'n', sizeof(name));
		snprintf(name, 16, "%06u", i);
		name[6] = '/';
		unheld(__LINE__, 1 + i % 5, 1000, name, sizeof(name), 0);
		ck_assert_uint_le(cl_index_uid_bytes(sm, 1000), q);
	}
	uint64_t live = stats().records;
	ck_assert_uint_ge(live, 1);
	/* every live record is an index of uid 1000, charged its name */
	ck_assert_uint_ge(cl_index_uid_bytes(sm, 1000),
			  live * (base(sizeof(name)) + entry_cost(1, 0)));
	ck_assert_uint_le(live * sizeof(name), q);
	ck_assert_uint_ge(stats().index_evictions, 200 - live);
}
END_TEST

/* ---- two replicas, and a third loaded from a snapshot, decide alike ---- */

struct qdigest {
	uint64_t h, n, evicted, edquot, enospc;
};

static void qdigest_action(void *ctx, const struct cl_action *a)
{
	struct qdigest *d = ctx;
	uint64_t v[] = { (uint64_t)a->type, a->node, (uint64_t)(int64_t)a->err, a->req_id,
			 a->version, a->epoch, a->namelen };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		d->h = (d->h ^ v[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < a->namelen; i++)
		d->h = (d->h ^ a->name[i]) * 0x100000001b3ULL;
	d->n++;
	d->evicted += a->type == CL_ACT_INDEX_EVICTED;
	d->edquot += a->type == CL_ACT_INDEX_DONE && a->err == -EDQUOT;
	d->enospc += a->type == CL_ACT_INDEX_DONE && a->err == -ENOSPC;
}

static uint64_t q_rng;

static uint64_t q_rnd(uint64_t n)
{
	return xrand_next(&q_rng) % n;
}

/* One input shaped by g's state: acquires, puts of four uids, deletes, releases. */
static struct cl_msg q_event(const struct cl_sm *g, uint32_t *sender_r, char *name, char *key)
{
	struct cl_msg m = { .type = CL_MSG_NOP };
	uint64_t r = q_rnd(100);
	uint32_t node = (uint32_t)(1 + q_rnd(3));
	int nl = snprintf(name, 8, "n%u", (unsigned)q_rnd(12));

	key[0] = (char)('a' + q_rnd(4));
	m.name = (const uint8_t *)name;
	m.namelen = (uint16_t)nl;
	m.req_id = q_rng;
	*sender_r = node;
	uint64_t ep = cl_sm_hold_epoch(g, name, (size_t)nl, node, NULL);
	if (r < 25 || !ep) {
		m.type = CL_MSG_ACQUIRE;
		m.mode = EX;
	} else if (r < 75) {
		static const uint32_t uids[] = { 0, 1000, 1001, 1002 };
		m.type = CL_MSG_INDEX_PUT;
		m.key = (const uint8_t *)key;
		m.keylen = 1;
		m.value = vals;
		m.vallen = (uint32_t)q_rnd(120);
		m.epoch = ep;
		m.uid = uids[q_rnd(4)];
	} else if (r < 85) {
		m.type = CL_MSG_INDEX_DEL;
		m.key = (const uint8_t *)key;
		m.keylen = 1;
		m.epoch = ep;
	} else {
		m.type = CL_MSG_RELEASE;
		m.epoch = ep;
	}
	return m;
}

START_TEST(test_quota_replicas_and_snapshot)
{
	struct cl_sm_config cfg = { .index_mem_max = 1200, .index_bytes_per_uid = 500 };
	struct qdigest da = { 0xcbf29ce484222325ULL, 0, 0, 0, 0 }, db = da, dc = da;
	struct cl_sm *a = cl_sm_new(&cfg, qdigest_action, &da);
	struct cl_sm *b = cl_sm_new(&cfg, qdigest_action, &db);
	struct cl_sm *c = NULL;
	const uint32_t mem[] = { 1, 2, 3 };
	struct cl_ring r1 = { 1, 1 };
	struct cl_msg q = { .type = CL_MSG_QUORUM, .flags = CL_QUORUM_YES, .ring = r1 };

	memset(vals, 'v', sizeof(vals));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	OK(cl_sm_confchg(a, &r1, mem, 3, NULL, 0));
	OK(cl_sm_confchg(b, &r1, mem, 3, NULL, 0));
	OK(cl_sm_apply(a, 1, &q));
	OK(cl_sm_apply(b, 1, &q));
	q_rng = 0x9e3779b97f4a7c15ULL;
	for (int step = 0; step < 6000; step++) {
		char name[8], key[1];
		uint32_t sender;
		struct cl_msg m = q_event(a, &sender, name, key);

		OK(cl_sm_apply(a, sender, &m));
		OK(cl_sm_apply(b, sender, &m));
		if (c)
			OK(cl_sm_apply(c, sender, &m));
		if (step == 3000) {
			/* a joiner loads a's snapshot (made with another config) */
			uint8_t *buf;
			size_t len;
			OK(cl_snap_encode(a, &buf, &len));
			dc = da;
			c = cl_sm_new(&(struct cl_sm_config){ .index_mem_max = 1 << 20 },
				      qdigest_action, &dc);
			ck_assert_ptr_nonnull(c);
			OK(cl_snap_decode(buf, len, c));
			free(buf);
			ck_assert_uint_eq(cl_sm_hash(c), cl_sm_hash(a));
		}
		ck_assert_msg(cl_sm_hash(a) == cl_sm_hash(b), "step %d: hashes differ", step);
		ck_assert_msg(da.h == db.h && da.n == db.n, "step %d: actions differ", step);
		if (c) {
			ck_assert_msg(cl_sm_hash(a) == cl_sm_hash(c), "step %d: the joiner's hash", step);
			ck_assert_msg(da.h == dc.h, "step %d: the joiner's actions differ", step);
		}
		for (uint32_t uid = 1000; uid <= 1002; uid++)
			ck_assert_uint_le(cl_index_uid_bytes(a, uid), 500);
		ck_assert_uint_le(cl_index_bytes(a), 1200);
	}
	/* the walk met every rule */
	ck_assert_uint_gt(da.evicted, 10);
	ck_assert_uint_gt(da.edquot, 10);
	ck_assert_uint_gt(da.enospc, 10);
	ck_assert_uint_gt(dc.evicted, da.evicted / 4);
	struct cl_sm_stats st;
	cl_sm_stats(c, &st);
	ck_assert_uint_eq(st.index_bytes_per_uid, 500);
	ck_assert_uint_eq(st.index_mem_max, 1200);
	cl_sm_free(a);
	cl_sm_free(b);
	cl_sm_free(c);
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("index");
	TCase *mem = tcase_create("memory");
	TCase *quota = tcase_create("quota");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get_del);
	tcase_add_test(tc, test_write_rejections);
	tcase_add_test(tc, test_not_quorate);
	tcase_add_test(tc, test_version_is_lsn_and_grows);
	tcase_add_test(tc, test_foreach_key_order);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_keys_max);
	tcase_add_test(tc, test_bytes_accounting);
	tcase_add_test(tc, test_release_keeps_index);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(mem, setup, teardown);
	tcase_add_test(mem, test_eviction_lru);
	tcase_add_test(mem, test_enospc_never_evicts_in_vain);
	tcase_add_test(mem, test_enospc_even_after_evicting_all);
	tcase_add_test(mem, test_never_evict_held);
	tcase_add_test(mem, test_tiny_bound);
	suite_add_tcase(s, mem);

	tcase_add_checked_fixture(quota, setup, teardown);
	tcase_add_test(quota, test_uid_accounting);
	tcase_add_test(quota, test_quota_edquot);
	tcase_add_test(quota, test_quota_evicts_own_only);
	tcase_add_test(quota, test_quota_takeover);
	tcase_add_test(quota, test_quota_counts_names);
	tcase_add_test(quota, test_quota_replicas_and_snapshot);
	suite_add_tcase(s, quota);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(index_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
