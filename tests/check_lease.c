/*
 * check_lease.c - unit tests of the replicated lease state machine
 * (core/lease.c), written against doc/state-machine.md and lease.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every helper that feeds the machine clears the action recorder first, so
 * after each input `rec` holds exactly the actions of that input, with names
 * and keys copied.  Tests assert on the exact action list.
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
#include "state.h"                /* the dirty list (test_dirty_*) */
#include "wire.h"
#include "xrand.h"

/* ------------------------------------------------------------------ recorder */

static struct cl_recorder rec;
static struct cl_sm *sm;

#define record_action cl_recorder_action
#define dump() cl_recorder_dump(&rec)
#define rec_clear() cl_recorder_clear(&rec)

/* ------------------------------------------------------------------ inputs */

/* A string literal as (pointer, length) without its terminating NUL. */
#define S(lit) ((const void *)("" lit)), (sizeof(lit) - 1)
/* A (pointer, length) pair as one macro argument. */
#define NL(p, l) (p), (l)
#define NODES(...) ((const uint32_t[]){ __VA_ARGS__ }), \
	(sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
#define NOBODY NULL, 0

#define EX CL_MODE_EX
#define SH CL_MODE_SH
#define WAIT CL_ACQ_WAIT

static struct cl_ring cur_ring;

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

static int rel_type(uint8_t type, uint32_t node, const void *name, size_t len, uint64_t epoch)
{
	struct cl_msg m = {
		.type = type, .namelen = (uint16_t)len, .name = name, .epoch = epoch,
	};
	return apply(node, &m);
}

static int rel(uint32_t node, const void *name, size_t len, uint64_t epoch)
{
	return rel_type(CL_MSG_RELEASE, node, name, len, epoch);
}

static int hod(uint32_t node, const void *name, size_t len, uint64_t epoch)
{
	return rel_type(CL_MSG_HANDOVER_DONE, node, name, len, epoch);
}

static int evict(uint32_t node, const void *name, size_t len, uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_EVICT, .namelen = (uint16_t)len, .name = name, .req_id = req,
	};
	return apply(node, &m);
}

static int recover(uint32_t sender, uint32_t node, uint64_t seq)
{
	struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = node, .seq = seq };
	return apply(sender, &m);
}

static int fence(uint32_t sender, uint32_t node, uint64_t req)
{
	struct cl_msg m = { .type = CL_MSG_FENCE_ACK, .node = node, .req_id = req };
	return apply(sender, &m);
}

static int fence_flags(uint32_t sender, uint32_t node, uint64_t req, uint8_t flags)
{
	struct cl_msg m = { .type = CL_MSG_FENCE_ACK, .node = node, .req_id = req, .flags = flags };
	return apply(sender, &m);
}

static int nop(uint32_t sender, uint64_t req)
{
	struct cl_msg m = { .type = CL_MSG_NOP, .req_id = req };
	return apply(sender, &m);
}

static int quorum(uint32_t sender, uint32_t rep, uint64_t seq, bool yes)
{
	struct cl_msg m = {
		.type = CL_MSG_QUORUM, .flags = yes ? CL_QUORUM_YES : 0,
		.ring = { .rep = rep, .seq = seq },
	};
	return apply(sender, &m);
}

/* quorum for the machine's current ring */
static int quorum_now(uint32_t sender, bool yes)
{
	return quorum(sender, cur_ring.rep, cur_ring.seq, yes);
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

#define OK(expr) ck_assert_int_eq((expr), 0)

/* The n-th epoch of the term that began in ring seq (CL_EPOCH_TERM_SHIFT). */
#define TEP(seq, n) (((uint64_t)(seq) << CL_EPOCH_TERM_SHIFT) + (n))

/* ------------------------------------------------------------------ machine */

static void make_sm(unsigned unsafe, size_t mem_max, bool quorate)
{
	struct cl_sm_config cfg = { .index_mem_max = mem_max, .unsafe_flags = unsafe };

	sm = cl_sm_free(sm);
	rec_clear();
	sm = cl_sm_new(&cfg, record_action, &rec);
	ck_assert_ptr_nonnull(sm);
	OK(confchg(1, 0, NODES(1, 2, 3, 4, 5), NOBODY));   /* ring seq 0: the term base is epoch 0 */
	if (quorate) {
		OK(quorum_now(1, true));
		ck_assert(cl_sm_quorate(sm));
	}
	rec_clear();
}

static void setup_quorate(void)
{
	make_sm(0, 0, true);
}

static void setup_not_quorate(void)
{
	make_sm(0, 0, false);
}

static void teardown(void)
{
	sm = cl_sm_free(sm);
}

static struct cl_sm_stats stats(void)
{
	struct cl_sm_stats st;

	memset(&st, 0xa5, sizeof(st));
	cl_sm_stats(sm, &st);
	return st;
}

/* ------------------------------------------------------------------ expectations */

#define ANYNODE UINT32_MAX

static bool name_eq(const struct cl_action *a, const void *name, size_t len)
{
	return a->namelen == len && (len == 0 || (a->name != NULL && memcmp(a->name, name, len) == 0));
}

/* Checks that action i exists, has type t, node (unless ANYNODE) and name (unless NULL). */
static const struct cl_action *xa(int line, size_t i, enum cl_action_type t, uint32_t node,
				  const void *name, size_t len)
{
	const struct cl_action *a;

	ck_assert_msg(rec.lost == 0, "line %d: recorder overflow%s", line, dump());
	ck_assert_msg(i < rec.n, "line %d: expected action #%zu %s, only %zu recorded%s",
		      line, i, cl_action_type_name(t), rec.n, dump());
	a = &rec.r[i].a;
	ck_assert_msg(a->type == t, "line %d: action #%zu is %s, expected %s%s", line, i,
		      cl_action_type_name(a->type), cl_action_type_name(t), dump());
	if (node != ANYNODE)
		ck_assert_msg(a->node == node, "line %d: action #%zu %s: node %" PRIu32
			      ", expected %" PRIu32 "%s", line, i, cl_action_type_name(t), a->node,
			      node, dump());
	if (name != NULL)
		ck_assert_msg(name_eq(a, name, len), "line %d: action #%zu %s: wrong name%s",
			      line, i, cl_action_type_name(t), dump());
	return a;
}

#define XF(i, got, want) \
	ck_assert_msg((long long)(got) == (long long)(want), \
		      "line %d: action #%zu: %s = %lld, expected %lld%s", __LINE__, (size_t)(i), \
		      #got, (long long)(got), (long long)(want), dump())

#define X_N(cnt) \
	ck_assert_msg(rec.n == (size_t)(cnt) && rec.lost == 0, \
		      "line %d: expected %zu action(s)%s", __LINE__, (size_t)(cnt), dump())

#define X_GRANT(i, nd, nm, md, ep, rq) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_GRANT, nd, nm); \
	XF(i, a_->mode, md); XF(i, a_->epoch, ep); XF(i, a_->req_id, rq); \
} while (0)

#define X_DENY(i, nd, nm, e, own, rq) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_DENY, nd, nm); \
	XF(i, a_->err, e); XF(i, a_->req_id, rq); \
	if ((e) == -EBUSY) XF(i, a_->owner, own); \
} while (0)

#define X_QUEUED(i, nd, nm, own, rq) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_QUEUED, nd, nm); \
	XF(i, a_->owner, own); XF(i, a_->req_id, rq); \
} while (0)

#define X_BLOCKING(i, nd, nm, wb, md, ep) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_BLOCKING, nd, nm); \
	XF(i, a_->wanted_by, wb); XF(i, a_->mode, md); XF(i, a_->epoch, ep); \
} while (0)

#define X_REVOKE(i, nd, nm, ep) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_REVOKE, nd, nm); \
	XF(i, a_->epoch, ep); \
} while (0)

#define X_RELEASED(i, nd, nm, ep) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_RELEASED, nd, nm); \
	XF(i, a_->epoch, ep); \
} while (0)

#define X_RECOVERED(i, nd, nm, ep) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_RECOVERED, nd, nm); \
	XF(i, a_->epoch, ep); \
} while (0)

#define X_ADMIN(i, nd, rq, e, cnt) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_ADMIN_DONE, nd, NULL, 0); \
	XF(i, a_->req_id, rq); XF(i, a_->err, e); XF(i, a_->count, cnt); \
} while (0)

#define X_QUORUM(i, md) do { \
	const struct cl_action *a_ = xa(__LINE__, i, CL_ACT_QUORUM, ANYNODE, NULL, 0); \
	XF(i, a_->mode, md); \
} while (0)

/* Index of the first action of type t for node (ANYNODE: any), or -1. */
static long xfind(enum cl_action_type t, uint32_t node)
{
	for (size_t i = 0; i < rec.n; i++)
		if (rec.r[i].a.type == t && (node == ANYNODE || rec.r[i].a.node == node))
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

/* Lookup that must succeed; returns the info and fills holds/waiters (up to 8). */
static struct cl_hold_info L_holds[8];
static struct cl_waiter_info L_waiters[8];

static struct cl_lease_info look(int line, const void *name, size_t len)
{
	struct cl_lease_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	memset(L_holds, 0, sizeof(L_holds));
	memset(L_waiters, 0, sizeof(L_waiters));
	rc = cl_sm_lookup(sm, name, len, &info, L_holds, 8, L_waiters, 8);
	ck_assert_msg(rc == 0, "line %d: cl_sm_lookup = %d, expected 0", line, rc);
	ck_assert_msg(info.namelen == len && memcmp(info.name, name, len) == 0,
		      "line %d: lookup returned another name", line);
	return info;
}
#define LOOK(nm) look(__LINE__, nm)
static void gone(int line, const void *name, size_t len)
{
	struct cl_lease_info info;
	int rc = cl_sm_lookup(sm, name, len, &info, NULL, 0, NULL, 0);

	ck_assert_msg(rc == -ENOENT, "line %d: cl_sm_lookup = %d, expected -ENOENT (forgotten)",
		      line, rc);
}
#define GONE(nm) gone(__LINE__, nm)

/* Acquires name for node and returns the epoch granted (asserting a sole GRANT). */
static uint64_t grab(int line, uint32_t node, const void *name, size_t len, uint8_t mode)
{
	int rc = acq(node, name, len, mode, 0, 1000 + node);

	ck_assert_msg(rc == 0, "line %d: apply = %d", line, rc);
	ck_assert_msg(rec.n == 1 && rec.r[0].a.type == CL_ACT_GRANT && rec.r[0].a.node == node,
		      "line %d: expected a sole GRANT to %" PRIu32 "%s", line, node, dump());
	return rec.r[0].a.epoch;
}
#define GRAB(node, nm, mode) grab(__LINE__, node, nm, mode)

/* ================================================================== tests */

START_TEST(test_grant_free_name_epochs)
{
	struct cl_lease_info li;
	uint8_t mode = 0;

	OK(acq(1, S("a"), EX, 0, 11));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 1, 11);
	OK(acq(2, S("b"), SH, 0, 12));
	X_N(1);
	X_GRANT(0, 2, S("b"), SH, 2, 12);
	OK(acq(3, S("c"), EX, WAIT, 13));
	X_N(1);
	X_GRANT(0, 3, S("c"), EX, 3, 13);
	ck_assert_uint_eq(stats().epoch, 3);
	ck_assert_uint_eq(stats().holds, 3);
	ck_assert_uint_eq(stats().records, 3);

	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, &mode), 1);
	ck_assert_uint_eq(mode, EX);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("b"), 2, &mode), 2);
	ck_assert_uint_eq(mode, SH);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.mode, EX);
	ck_assert_uint_eq(li.nholders, 1);
	ck_assert_uint_eq(li.nwaiters, 0);
	ck_assert_uint_eq(L_holds[0].node, 1);
	ck_assert_uint_eq(L_holds[0].epoch, 1);
	ck_assert_uint_eq(L_holds[0].mode, EX);
	ck_assert_uint_eq(L_holds[0].orphan_seq, 0);

	/* released and re-acquired: a new, higher epoch */
	OK(rel(1, S("a"), 1));
	X_N(1);
	X_RELEASED(0, 1, S("a"), 1);
	OK(acq(1, S("a"), EX, 0, 14));
	X_GRANT(0, 1, S("a"), EX, 4, 14);
}
END_TEST

START_TEST(test_idempotent_reacquire)
{
	OK(acq(1, S("a"), EX, 0, 1));
	X_GRANT(0, 1, S("a"), EX, 1, 1);
	OK(acq(1, S("a"), EX, 0, 2));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 1, 2);
	OK(acq(1, S("a"), EX, WAIT, 3));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 1, 3);
	/* an EX holder asking SH keeps its EX hold and epoch */
	OK(acq(1, S("a"), SH, 0, 4));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 1, 4);

	OK(acq(2, S("b"), SH, 0, 5));
	X_GRANT(0, 2, S("b"), SH, 2, 5);
	OK(acq(2, S("b"), SH, WAIT, 6));
	X_N(1);
	X_GRANT(0, 2, S("b"), SH, 2, 6);

	ck_assert_uint_eq(stats().epoch, 2);
	ck_assert_uint_eq(stats().holds, 2);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);
	ck_assert_uint_eq(LOOK(S("b")).nholders, 1);
}
END_TEST

START_TEST(test_sh_batching)
{
	struct cl_lease_info li;

	OK(acq(1, S("a"), SH, 0, 1));
	X_N(1);
	X_GRANT(0, 1, S("a"), SH, 1, 1);
	OK(acq(2, S("a"), SH, 0, 2));
	X_N(1);
	X_GRANT(0, 2, S("a"), SH, 2, 2);
	OK(acq(3, S("a"), SH, WAIT, 3));
	X_N(1);
	X_GRANT(0, 3, S("a"), SH, 3, 3);

	li = LOOK(S("a"));
	ck_assert_uint_eq(li.mode, SH);
	ck_assert_uint_eq(li.nholders, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(L_holds[i].node, i + 1);
		ck_assert_uint_eq(L_holds[i].epoch, i + 1);
		ck_assert_uint_eq(L_holds[i].mode, SH);
	}
	/* one SH holder leaving keeps the others */
	OK(rel(2, S("a"), 2));
	X_N(1);
	X_RELEASED(0, 2, S("a"), 2);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nholders, 2);
	ck_assert_uint_eq(L_holds[0].node, 1);
	ck_assert_uint_eq(L_holds[1].node, 3);
}
END_TEST

/* The holds of name in order, by node, and the running hash still the full one. */
static void holds_are(int line, const void *name, size_t len, const uint32_t *nodes, size_t n)
{
	struct cl_lease_info info;
	ck_assert_msg(cl_sm_lookup(sm, name, len, &info, L_holds, 8, NULL, 0) == 0, "line %d", line);
	ck_assert_msg(info.nholders == n, "line %d: %" PRIu32 " holders, expected %zu", line,
		      info.nholders, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(L_holds[i].node == nodes[i] && L_holds[i].mode == SH,
			      "line %d: hold %zu is node %" PRIu32 ", expected %" PRIu32, line, i,
			      L_holds[i].node, nodes[i]);
	ck_assert_msg(cl_sm_hash(sm) == cl_sm_hash_full(sm), "line %d: running hash", line);
}
#define HOLDS_ARE(nm, ...) holds_are(__LINE__, nm, NODES(__VA_ARGS__))

/*
 * A record keeps one hold in itself and more in an array sized by powers of
 * two (state.h): every step across 1, 2, 4 and back keeps the holds and
 * their order, and the last one goes back into the record.
 */
START_TEST(test_sh_holds_move_between_record_and_array)
{
	for (uint32_t node = 1; node <= 5; node++)
		GRAB(node, S("a"), SH);
	HOLDS_ARE(S("a"), 1, 2, 3, 4, 5);
	OK(rel(3, S("a"), 3));
	HOLDS_ARE(S("a"), 1, 2, 4, 5);
	OK(rel(1, S("a"), 1));
	HOLDS_ARE(S("a"), 2, 4, 5);
	OK(rel(5, S("a"), 5));
	HOLDS_ARE(S("a"), 2, 4);
	OK(rel(2, S("a"), 2));
	HOLDS_ARE(S("a"), 4);
	uint64_t e = GRAB(1, S("a"), SH);      /* into an array again */
	HOLDS_ARE(S("a"), 4, 1);
	OK(rel(4, S("a"), 4));
	HOLDS_ARE(S("a"), 1);
	OK(rel(1, S("a"), e));
	GONE(S("a"));
	ck_assert_uint_eq(stats().holds, 0);
	ck_assert_uint_eq(cl_sm_hash(sm), cl_sm_hash_full(sm));
}
END_TEST

/*
 * More names changed between two hashes than the dirty list keeps, in many
 * inputs and then in one (a departure): the running hash stays the full one.
 */
START_TEST(test_dirty_burst_keeps_the_hash)
{
	char nm[16];
	for (unsigned i = 0; i < 3 * 4096; i++) {
		int len = snprintf(nm, sizeof(nm), "b%05u", i);
		grab(__LINE__, 2, nm, (size_t)len, i % 2 ? SH : EX);
	}
	ck_assert_uint_eq(cl_sm_hash(sm), cl_sm_hash_full(sm));
	OK(confchg(1, 2, NODES(1, 3, 4, 5), NODES(2)));   /* 12,288 holds orphaned at once */
	ck_assert_uint_eq(stats().orphans, 3 * 4096);
	ck_assert_uint_eq(cl_sm_hash(sm), cl_sm_hash_full(sm));
}
END_TEST

/* Counts the actions of the machine of test_dirty_max_rebuild (too many to record). */
static void count_action(void *ctx, const struct cl_action *a)
{
	(void)a;
	(*(uint64_t *)ctx)++;
}

/*
 * One input that touches more than CL_DIRTY_MAX records: a member holding
 * CL_DIRTY_MAX + 1000 leases leaves.  The list stops growing and the next
 * hash walks every record (sm->rebuild); it must equal the walk, leave no
 * long list behind, and the running hash must go on from there (the fence
 * that frees the orphans is a second such input).
 */
START_TEST(test_dirty_max_rebuild)
{
	enum { N = CL_DIRTY_MAX + 1000 };
	uint64_t acts = 0;
	struct cl_sm *big = cl_sm_new(NULL, count_action, &acts);
	ck_assert_ptr_nonnull(big);
	struct cl_ring r = { .rep = 1, .seq = 0 };
	OK(cl_sm_confchg(big, &r, NODES(1, 2, 3), NOBODY));
	struct cl_msg q = { .type = CL_MSG_QUORUM, .flags = CL_QUORUM_YES, .ring = { .rep = 1, .seq = 0 } };
	OK(cl_sm_apply(big, 1, &q));
	ck_assert(cl_sm_quorate(big));
	uint8_t nm[16];
	for (uint32_t i = 0; i < N; i++) {
		struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = EX, .name = nm, .req_id = i + 1 };
		m.namelen = (uint16_t)snprintf((char *)nm, sizeof(nm), "m%07" PRIu32, i);
		ck_assert_int_eq(cl_sm_apply(big, 2, &m), 0);
		ck_assert_uint_le(big->ndirty, CL_DIRTY_KEEP);
	}
	ck_assert_uint_eq(cl_sm_hash(big), cl_sm_hash_full(big));
	ck_assert(!big->rebuild);

	r.seq = 1;
	OK(cl_sm_confchg(big, &r, NODES(1, 3), NODES(2)));   /* every hold orphaned in one input */
	ck_assert(!cl_sm_failed(big));
	ck_assert_msg(big->rebuild && big->ndirty == CL_DIRTY_MAX,
		      "the list should have stopped at CL_DIRTY_MAX: rebuild %d, %zu dirty",
		      big->rebuild, big->ndirty);
	uint64_t h = cl_sm_hash(big);
	ck_assert_uint_eq(h, cl_sm_hash_full(big));
	ck_assert(!big->rebuild);
	ck_assert_msg(big->ndirty == 0 && big->cap_dirty <= CL_DIRTY_KEEP, "%zu dirty, room for %zu",
		      big->ndirty, big->cap_dirty);

	/* the next changes go through the list again */
	q.ring.seq = 1;
	OK(cl_sm_apply(big, 1, &q));
	struct cl_msg f = { .type = CL_MSG_FENCE_ACK, .node = 2, .req_id = N + 1 };
	OK(cl_sm_apply(big, 1, &f));   /* the orphans freed: the second input that large */
	ck_assert(!cl_sm_failed(big));
	uint64_t h2 = cl_sm_hash(big);
	ck_assert_uint_ne(h2, h);
	ck_assert_uint_eq(h2, cl_sm_hash_full(big));
	struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = EX, .name = (const uint8_t *)"m0000007", .namelen = 8,
			    .req_id = N + 2 };
	OK(cl_sm_apply(big, 3, &m));
	ck_assert_uint_eq(cl_sm_owner(big, "m0000007", 8), 3);
	ck_assert_uint_eq(big->ndirty, 1);
	ck_assert_uint_eq(cl_sm_hash(big), cl_sm_hash_full(big));
	ck_assert_uint_gt(acts, N);
	cl_sm_free(big);
}
END_TEST

/* xorshift64 for the random dirty-list test (seeded per iteration) */
static uint64_t dr_state;
static uint64_t dr_rand(uint64_t n)
{
	return xrand_next(&dr_state) % n;
}

/* The running hash against the walk, and a hash leaves no long list behind. */
static void dr_check(int line, uint64_t step)
{
	uint64_t h = cl_sm_hash(sm), full = cl_sm_hash_full(sm);
	ck_assert_msg(h == full, "line %d step %" PRIu64 ": running hash %" PRIx64 ", walk %" PRIx64,
		      line, step, h, full);
	ck_assert_msg(sm->ndirty == 0 && sm->cap_dirty <= CL_DIRTY_KEEP,
		      "line %d step %" PRIu64 ": after a hash, %zu dirty, room for %zu", line, step,
		      sm->ndirty, sm->cap_dirty);
}

/*
 * Thousands of names changed between hashes by every kind of input: single
 * ones (the list stays within CL_DIRTY_KEEP plus what one input touches),
 * a departure and a quorum that grants thousands of waiters in one input,
 * and the hold lists a load dropped (cl_sm_orphan_dropped(), one call a
 * name).  Hashes at random moments, some right at the bound.
 */
START_TEST(test_dirty_list_random_bursts)
{
	enum { NAMES = 12000, STEPS = 25000 };
	static char names[NAMES][24];
	static size_t lens[NAMES];
	dr_state = 0x9e3779b97f4a7c15ULL * (uint64_t)(_i + 1);
	for (size_t i = 0; i < NAMES; i++)
		lens[i] = (size_t)snprintf(names[i], sizeof(names[i]), "d%zu.%.*s", i,
					   (int)dr_rand(12), "abcdefghijkl");
	uint32_t mem[5] = { 1, 2, 3, 4, 5 };
	uint32_t nmem = 5;
	uint64_t req = 1, ring_seq = 1;
	uint64_t next_hash = 1 + dr_rand(8000);
	for (uint64_t step = 0; step < STEPS; step++) {
		size_t k = (size_t)dr_rand(NAMES);
		uint32_t sender = mem[dr_rand(nmem)];
		uint64_t r = dr_rand(1000);
		if (step == STEPS / 3 && nmem > 3) {
			/* a member leaves: every record it held changes in one input */
			uint32_t left = mem[--nmem];
			char x[16];
			for (int i = 0; i < 6000; i++)   /* more than the list keeps */
				OK(acq(left, x, (size_t)snprintf(x, sizeof(x), "x%d", i), EX, 0, req++));
			OK(confchg(1, ++ring_seq, mem, nmem, &left, 1));
			ck_assert_uint_ge(sm->ndirty, 6000);
			OK(quorum(1, 1, ring_seq, true));
			struct cl_msg f = { .type = CL_MSG_FENCE_ACK, .node = left, .req_id = req++ };
			OK(apply(mem[0], &f));
		} else if (step == STEPS / 2) {
			/* quorum lost, waiters pile up, quorum back: granted in one input */
			OK(quorum(1, 1, ring_seq, false));
			for (int i = 0; i < 5000; i++) {
				size_t kk = (size_t)dr_rand(NAMES);
				(void)acq(mem[dr_rand(nmem)], names[kk], lens[kk], EX, WAIT, req++);
			}
			OK(quorum(1, 1, ring_seq, true));
		} else if (step == 2 * STEPS / 3) {
			/* a load's dropped holds, orphaned one name per call */
			uint64_t seq = cl_sm_begin_dropped(sm);
			for (size_t i = 0; i < 6000; i++) {
				size_t kk = (i * 7919) % NAMES;
				int rc = cl_sm_orphan_dropped(sm, mem[i % nmem], (const uint8_t *)names[kk],
							      (uint16_t)lens[kk], CL_MODE_SH, 1, seq);
				ck_assert_int_eq(rc, 0);
				ck_assert_uint_le(sm->ndirty, CL_DIRTY_KEEP + 1);
			}
		} else if (r < 500) {
			(void)acq(sender, names[k], lens[k], dr_rand(4) ? EX : SH, dr_rand(3) ? 0 : WAIT,
				  req++);
		} else if (r < 800) {
			uint32_t o = cl_sm_owner(sm, names[k], lens[k]);
			if (o != CL_NODE_NONE)
				sender = o;
			(void)rel(sender, names[k], lens[k],
				  cl_sm_hold_epoch(sm, names[k], lens[k], sender, NULL));
		} else if (r < 950) {
			uint32_t o = cl_sm_owner(sm, names[k], lens[k]);
			if (o != CL_NODE_NONE)
				(void)put(o, names[k], lens[k], "k", 1, "value", dr_rand(6),
					  cl_sm_hold_epoch(sm, names[k], lens[k], o, NULL), 0);
		} else {
			(void)evict(sender, names[k], lens[k], req++);
		}
		ck_assert(!cl_sm_failed(sm));
		/* inputs that touch a record or a few (a put's evictions): the list is bounded */
		if (step % 97 == 0 && step != STEPS / 3 && step != STEPS / 2)
			ck_assert_msg(sm->ndirty <= CL_DIRTY_KEEP + 64, "step %" PRIu64 ": %zu dirty", step,
				      sm->ndirty);
		if (step + 1 == next_hash) {
			dr_check(__LINE__, step);
			next_hash = step + 2 + (dr_rand(3) ? dr_rand(9000) : dr_rand(40));
		}
		if (sm->ndirty + 1 >= CL_DIRTY_KEEP && dr_rand(50) == 0)
			dr_check(__LINE__, step);
	}
	dr_check(__LINE__, STEPS);
}
END_TEST

START_TEST(test_conflict_nowait_deny)
{
	uint64_t e;

	/* EX held, SH asked without WAIT */
	e = GRAB(1, S("a"), EX);
	OK(acq(2, S("a"), SH, 0, 9));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 2, SH, e);
	X_DENY(1, 2, S("a"), -EBUSY, 1, 9);
	ck_assert_uint_eq(LOOK(S("a")).nwaiters, 0);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);

	/* SH held by two, EX asked: both holders are told */
	uint64_t e1 = GRAB(1, S("b"), SH);
	uint64_t e2 = GRAB(2, S("b"), SH);
	OK(acq(3, S("b"), EX, 0, 10));
	X_N(3);
	{
		const struct cl_action *b0 = xa(__LINE__, 0, CL_ACT_BLOCKING, ANYNODE, S("b"));
		const struct cl_action *b1 = xa(__LINE__, 1, CL_ACT_BLOCKING, ANYNODE, S("b"));
		ck_assert_msg((b0->node == 1 && b1->node == 2) || (b0->node == 2 && b1->node == 1),
			      "BLOCKING must go to holders 1 and 2%s", dump());
		for (size_t i = 0; i < 2; i++) {
			const struct cl_action *b = &rec.r[i].a;
			XF(i, b->wanted_by, 3);
			XF(i, b->mode, EX);
			XF(i, b->epoch, b->node == 1 ? e1 : e2);
		}
	}
	X_DENY(2, 3, S("b"), -EBUSY, 1, 10);
	ck_assert_uint_eq(stats().waiters, 0);
	ck_assert_uint_eq(stats().epoch, 3);
}
END_TEST

START_TEST(test_wait_queued_blocking)
{
	struct cl_lease_info li;
	uint64_t e = GRAB(1, S("a"), EX);

	OK(acq(2, S("a"), EX, WAIT, 5));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 2, EX, e);
	X_QUEUED(1, 2, S("a"), 1, 5);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nwaiters, 1);
	ck_assert_uint_eq(L_waiters[0].node, 2);
	ck_assert_uint_eq(L_waiters[0].mode, EX);
	ck_assert_uint_eq(L_waiters[0].req_id, 5);
	ck_assert_uint_eq(stats().waiters, 1);

	OK(acq(3, S("a"), SH, WAIT, 7));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 3, SH, e);
	X_QUEUED(1, 3, S("a"), 1, 7);

	/* asking again keeps the entry (and its place) and raises SH to EX */
	OK(acq(3, S("a"), EX, WAIT, 8));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 3, EX, e);
	xa(__LINE__, 1, CL_ACT_QUEUED, 3, S("a"));
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nwaiters, 2);
	ck_assert_uint_eq(L_waiters[0].node, 2);
	ck_assert_uint_eq(L_waiters[1].node, 3);
	ck_assert_uint_eq(L_waiters[1].mode, EX);
	/* ... and an SH re-ask does not lower it */
	OK(acq(3, S("a"), SH, WAIT, 9));
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nwaiters, 2);
	ck_assert_uint_eq(L_waiters[1].node, 3);
	ck_assert_uint_eq(L_waiters[1].mode, EX);
	ck_assert_uint_eq(stats().waiters, 2);
	ck_assert_uint_eq(stats().epoch, 1);
}
END_TEST

START_TEST(test_fifo_order)
{
	OK(acq(1, S("a"), EX, 0, 1));
	OK(acq(3, S("a"), EX, WAIT, 3));
	OK(acq(2, S("a"), EX, WAIT, 2));
	OK(acq(4, S("a"), EX, WAIT, 4));

	OK(rel(1, S("a"), 1));
	X_N(3);
	X_RELEASED(0, 1, S("a"), 1);
	X_GRANT(1, 3, S("a"), EX, 2, 3);
	X_BLOCKING(2, 3, S("a"), 2, EX, 2);

	OK(rel(3, S("a"), 2));
	X_N(3);
	X_RELEASED(0, 3, S("a"), 2);
	X_GRANT(1, 2, S("a"), EX, 3, 2);
	X_BLOCKING(2, 2, S("a"), 4, EX, 3);

	OK(hod(2, S("a"), 3));
	X_N(2);
	X_RELEASED(0, 2, S("a"), 3);
	X_GRANT(1, 4, S("a"), EX, 4, 4);

	OK(rel(4, S("a"), 4));
	X_N(1);
	X_RELEASED(0, 4, S("a"), 4);
	GONE(S("a"));
	ck_assert_uint_eq(stats().records, 0);
}
END_TEST

START_TEST(test_sh_waiters_together_stop_at_ex)
{
	struct cl_lease_info li;

	OK(acq(1, S("a"), EX, 0, 1));
	OK(acq(2, S("a"), SH, WAIT, 2));
	OK(acq(3, S("a"), SH, WAIT, 3));
	OK(acq(4, S("a"), EX, WAIT, 4));
	OK(acq(5, S("a"), SH, WAIT, 5));
	ck_assert_uint_eq(LOOK(S("a")).nwaiters, 4);

	OK(rel(1, S("a"), 1));
	X_N(5);
	X_RELEASED(0, 1, S("a"), 1);
	X_GRANT(1, 2, S("a"), SH, 2, 2);
	X_GRANT(2, 3, S("a"), SH, 3, 3);
	{
		const struct cl_action *b0 = xa(__LINE__, 3, CL_ACT_BLOCKING, ANYNODE, S("a"));
		const struct cl_action *b1 = xa(__LINE__, 4, CL_ACT_BLOCKING, ANYNODE, S("a"));
		ck_assert_msg(b0->node != b1->node && (b0->node == 2 || b0->node == 3) &&
			      (b1->node == 2 || b1->node == 3), "BLOCKING to 2 and 3%s", dump());
		XF(3, b0->wanted_by, 4);
		XF(3, b0->mode, EX);
		XF(3, b0->epoch, b0->node);   /* node 2 has epoch 2, node 3 epoch 3 */
		XF(4, b1->wanted_by, 4);
		XF(4, b1->epoch, b1->node);
	}
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.mode, SH);
	ck_assert_uint_eq(li.nholders, 2);
	ck_assert_uint_eq(li.nwaiters, 2);
	ck_assert_uint_eq(L_waiters[0].node, 4);
	ck_assert_uint_eq(L_waiters[1].node, 5);   /* no overtaking of the EX waiter */

	/* one SH holder goes; the other is reminded */
	OK(rel(2, S("a"), 2));
	X_N(2);
	X_RELEASED(0, 2, S("a"), 2);
	X_BLOCKING(1, 3, S("a"), 4, EX, 3);

	OK(rel(3, S("a"), 3));
	X_N(3);
	X_RELEASED(0, 3, S("a"), 3);
	X_GRANT(1, 4, S("a"), EX, 4, 4);
	X_BLOCKING(2, 4, S("a"), 5, SH, 4);

	OK(rel(4, S("a"), 4));
	X_N(2);
	X_RELEASED(0, 4, S("a"), 4);
	X_GRANT(1, 5, S("a"), SH, 5, 5);
	ck_assert_uint_eq(LOOK(S("a")).nwaiters, 0);
}
END_TEST

START_TEST(test_sh_does_not_overtake_ex_waiter)
{
	uint64_t e = GRAB(1, S("a"), SH);

	OK(acq(2, S("a"), EX, WAIT, 2));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 2, EX, e);
	X_QUEUED(1, 2, S("a"), 1, 2);
	/* rule 5 needs "no waiters": a new SH conflicts */
	OK(acq(3, S("a"), SH, 0, 3));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 3, SH, e);
	X_DENY(1, 3, S("a"), -EBUSY, 1, 3);
	OK(acq(3, S("a"), SH, WAIT, 4));
	X_N(2);
	X_BLOCKING(0, 1, S("a"), 3, SH, e);
	X_QUEUED(1, 3, S("a"), 1, 4);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);
}
END_TEST

START_TEST(test_conversion_sole_holder)
{
	struct cl_lease_info li;
	uint8_t mode = 0;

	GRAB(1, S("a"), SH);
	OK(acq(1, S("a"), EX, 0, 2));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 2, 2);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, &mode), 2);
	ck_assert_uint_eq(mode, EX);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.mode, EX);
	ck_assert_uint_eq(li.nholders, 1);
	ck_assert_uint_eq(L_holds[0].epoch, 2);
	ck_assert_uint_eq(stats().holds, 1);

	/* the old epoch is gone: releasing with it is ignored */
	OK(rel(1, S("a"), 1));
	X_N(0);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);

	/* rule 3 does not look at waiters; the waiter's BLOCKING is re-sent */
	GRAB(1, S("b"), SH);                   /* epoch 3 */
	OK(acq(2, S("b"), EX, WAIT, 7));
	X_N(2);
	OK(acq(1, S("b"), EX, 0, 8));
	X_N(2);
	X_GRANT(0, 1, S("b"), EX, 4, 8);
	X_BLOCKING(1, 1, S("b"), 2, EX, 4);
	li = LOOK(S("b"));
	ck_assert_uint_eq(li.mode, EX);
	ck_assert_uint_eq(li.nwaiters, 1);
}
END_TEST

START_TEST(test_conversion_queued_not_sole)
{
	struct cl_lease_info li;
	uint8_t mode = 0;
	uint64_t e2 = GRAB(2, S("a"), SH);     /* 1 */
	uint64_t e1 = GRAB(1, S("a"), SH);     /* 2 */

	/* NOWAIT: only the other holder is asked, and the answer is EBUSY */
	OK(acq(1, S("a"), EX, 0, 4));
	X_N(2);
	X_BLOCKING(0, 2, S("a"), 1, EX, e2);
	X_DENY(1, 1, S("a"), -EBUSY, 2, 4);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, &mode), e1);
	ck_assert_uint_eq(mode, SH);

	OK(acq(1, S("a"), EX, WAIT, 5));
	X_N(2);
	X_BLOCKING(0, 2, S("a"), 1, EX, e2);
	X_QUEUED(1, 1, S("a"), 2, 5);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nholders, 2);
	ck_assert_uint_eq(li.nwaiters, 1);
	ck_assert_uint_eq(L_waiters[0].node, 1);
	ck_assert_uint_eq(L_waiters[0].mode, EX);

	/* the other holder leaves: the queued conversion is granted */
	OK(rel(2, S("a"), e2));
	X_N(2);
	X_RELEASED(0, 2, S("a"), e2);
	X_GRANT(1, 1, S("a"), EX, 3, 5);
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.mode, EX);
	ck_assert_uint_eq(li.nholders, 1);
	ck_assert_uint_eq(li.nwaiters, 0);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, &mode), 3);
	ck_assert_uint_eq(mode, EX);
	ck_assert_uint_eq(stats().holds, 1);
}
END_TEST

START_TEST(test_release_wrong_epoch_ignored)
{
	uint64_t lsn;

	GRAB(1, S("a"), EX);
	lsn = stats().lsn;
	OK(rel(1, S("a"), 2));
	X_N(0);
	OK(rel(1, S("a"), 0));
	X_N(0);
	OK(rel(2, S("a"), 1));                 /* right epoch, wrong node */
	X_N(0);
	OK(hod(1, S("a"), 7));
	X_N(0);
	OK(rel(1, S("zz"), 1));                /* unknown name */
	X_N(0);
	GONE(S("zz"));
	ck_assert_uint_eq(stats().lsn, lsn + 5);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, NULL), 1);

	OK(rel(1, S("a"), 1));
	X_N(1);
	X_RELEASED(0, 1, S("a"), 1);
	GONE(S("a"));
	/* a second release of the same hold is ignored */
	OK(rel(1, S("a"), 1));
	X_N(0);
	GONE(S("a"));
}
END_TEST

START_TEST(test_handover_done)
{
	GRAB(1, S("a"), EX);
	OK(acq(2, S("a"), EX, WAIT, 2));
	X_N(2);
	OK(hod(1, S("a"), 1));
	X_N(2);
	X_RELEASED(0, 1, S("a"), 1);
	X_GRANT(1, 2, S("a"), EX, 2, 2);
}
END_TEST

START_TEST(test_not_quorate_denies)
{
	ck_assert(!cl_sm_quorate(sm));
	OK(acq(1, S("a"), EX, 0, 1));
	X_N(1);
	X_DENY(0, 1, S("a"), COROLEASE_ENOQUORUM, 0, 1);
	OK(acq(1, S("a"), SH, WAIT, 2));
	X_N(1);
	X_DENY(0, 1, S("a"), COROLEASE_ENOQUORUM, 0, 2);
	GONE(S("a"));
	ck_assert_uint_eq(stats().epoch, 0);
	ck_assert_uint_eq(stats().waiters, 0);

	/* quorate: grant; quorum lost by QUORUM no: even the holder is denied */
	OK(quorum_now(2, true));
	X_N(1);
	X_QUORUM(0, 1);
	GRAB(1, S("a"), EX);
	OK(quorum_now(2, false));
	X_N(1);
	X_QUORUM(0, 0);
	ck_assert(!cl_sm_quorate(sm));
	OK(acq(1, S("a"), EX, 0, 3));
	X_N(1);
	X_DENY(0, 1, S("a"), COROLEASE_ENOQUORUM, 0, 3);
	/* a repeated view does not repeat the action */
	OK(quorum_now(3, false));
	X_N(0);
	/* releasing is still possible */
	OK(rel(1, S("a"), 1));
	X_N(1);
	X_RELEASED(0, 1, S("a"), 1);
}
END_TEST

START_TEST(test_queued_granted_on_quorum)
{
	GRAB(1, S("a"), EX);                   /* 1 */
	GRAB(1, S("b"), EX);                   /* 2 */
	GRAB(1, S("c"), EX);                   /* 3 */
	OK(acq(2, S("b"), EX, WAIT, 21));
	OK(acq(2, S("a"), EX, WAIT, 22));
	OK(acq(3, S("c"), EX, WAIT, 23));

	OK(confchg(1, 2, NODES(1, 2, 3, 4), NODES(5)));
	ck_assert(!cl_sm_quorate(sm));
	ck_assert_int_ge(xfind(CL_ACT_QUORUM, ANYNODE), 0);
	X_QUORUM((size_t)xfind(CL_ACT_QUORUM, ANYNODE), 0);
	ck_assert_int_eq(xcount(CL_ACT_GRANT), 0);

	/* releases while not quorate end the holds but grant nothing */
	OK(rel(1, S("b"), 2));
	X_N(1);
	X_RELEASED(0, 1, S("b"), 2);
	OK(rel(1, S("a"), 1));
	X_N(1);
	X_RELEASED(0, 1, S("a"), 1);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 0);
	ck_assert_uint_eq(LOOK(S("a")).nwaiters, 1);

	/* a view for the old ring changes nothing */
	OK(quorum(2, 1, 1, true));
	X_N(0);
	ck_assert(!cl_sm_quorate(sm));

	/* the new ring is quorate: waiters granted in name order; c's holder is asked again */
	OK(quorum(2, 1, 2, true));
	ck_assert(cl_sm_quorate(sm));
	X_N(4);
	X_BLOCKING((size_t)xfind(CL_ACT_BLOCKING, ANYNODE), 1, S("c"), 3, EX, 3);
	{
		long q = xfind(CL_ACT_QUORUM, ANYNODE);
		long g = xfind(CL_ACT_GRANT, ANYNODE);
		ck_assert_int_ge(q, 0);
		ck_assert_int_ge(g, 0);
		X_QUORUM((size_t)q, 1);
		/* a new term (ring seq 2): epochs continue above its base */
		X_GRANT((size_t)g, 2, S("a"), EX, TEP(2, 1), 22);
		X_GRANT((size_t)g + 1, 2, S("b"), EX, TEP(2, 2), 21);
	}
	ck_assert_uint_eq(LOOK(S("c")).nwaiters, 1);
}
END_TEST

START_TEST(test_quorum_stale_ring_ignored)
{
	/* a join keeps the machine quorate */
	OK(confchg(1, 2, NODES(1, 2, 3, 4, 5, 6), NOBODY));
	ck_assert(cl_sm_quorate(sm));
	ck_assert_int_eq(xcount(CL_ACT_QUORUM), 0);
	GRAB(6, S("a"), EX);

	/* old ring, or same seq with another representative: ignored */
	OK(quorum(1, 1, 1, false));
	X_N(0);
	OK(quorum(1, 2, 2, false));
	X_N(0);
	ck_assert(cl_sm_quorate(sm));
	ck_assert_uint_eq(stats().ring.seq, 2);
	ck_assert_uint_eq(stats().ring.rep, 1);

	OK(quorum(1, 1, 2, false));
	X_N(1);
	X_QUORUM(0, 0);
	ck_assert(!cl_sm_quorate(sm));
	OK(quorum(1, 1, 1, true));
	X_N(0);
	ck_assert(!cl_sm_quorate(sm));
	OK(quorum(1, 1, 3, true));             /* a future ring is not ours either */
	X_N(0);
	ck_assert(!cl_sm_quorate(sm));
}
END_TEST

START_TEST(test_q_lsn)
{
	struct cl_sm_stats st;
	uint64_t q0;

	OK(nop(1, 1));
	st = stats();
	ck_assert_uint_eq(st.q_lsn, st.lsn);
	OK(confchg(1, 2, NODES(1, 2, 3, 4), NODES(5)));
	q0 = stats().q_lsn;
	OK(nop(1, 2));
	OK(acq(1, S("a"), EX, 0, 3));
	st = stats();
	ck_assert_uint_eq(st.q_lsn, q0);
	ck_assert_uint_gt(st.lsn, q0);
	OK(quorum_now(1, true));
	OK(nop(1, 4));
	st = stats();
	ck_assert_uint_eq(st.q_lsn, st.lsn);
}
END_TEST

START_TEST(test_confchg_departure_orphans)
{
	struct cl_sm_stats st;
	struct cl_lease_info li;

	GRAB(3, S("a"), EX);                   /* 1 */
	GRAB(3, S("b"), SH);                   /* 2 */
	GRAB(1, S("b"), SH);                   /* 3 */
	GRAB(1, S("c"), SH);                   /* 4 */
	OK(acq(3, S("c"), EX, WAIT, 31));      /* 3 queued at the head of c */
	OK(acq(2, S("c"), SH, WAIT, 32));      /* 2 queued behind it */
	OK(acq(3, S("d"), EX, 0, 33));         /* 5 */
	ck_assert_uint_eq(stats().holds, 5);

	OK(confchg(1, 2, NODES(5, 2, 1, 4), NODES(3)));
	ck_assert_int_eq(xcount(CL_ACT_GRANT), 0);
	ck_assert_int_ge(xfind(CL_ACT_QUORUM, ANYNODE), 0);
	st = stats();
	ck_assert(!st.quorate);
	ck_assert(!cl_sm_quorate(sm));
	ck_assert_uint_eq(st.orphans, 3);
	ck_assert_uint_eq(st.holds, 5);
	ck_assert_uint_eq(st.waiters, 1);
	ck_assert_uint_gt(st.orphan_seq, 0);
	ck_assert_uint_eq(st.nmembers, 4);
	ck_assert_uint_eq(st.members[0], 1);
	ck_assert_uint_eq(st.members[1], 2);
	ck_assert_uint_eq(st.members[2], 4);
	ck_assert_uint_eq(st.members[3], 5);
	ck_assert_uint_eq(st.ring.seq, 2);
	ck_assert(!cl_sm_is_member(sm, 3));
	ck_assert(cl_sm_is_member(sm, 4));

	li = LOOK(S("a"));
	ck_assert_uint_eq(li.nholders, 1);
	ck_assert_uint_eq(L_holds[0].node, 3);
	ck_assert_uint_eq(L_holds[0].epoch, 1);
	ck_assert_uint_eq(L_holds[0].orphan_seq, st.orphan_seq);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 3, NULL), 0);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 3);
	/* b: 3 (orphan) was granted first, but the owner is the first live holder */
	li = LOOK(S("b"));
	ck_assert_uint_eq(li.nholders, 2);
	ck_assert_uint_eq(cl_sm_owner(sm, S("b")), 1);
	/* c: 3's waiter was dropped, 2's kept, nothing granted while not quorate */
	li = LOOK(S("c"));
	ck_assert_uint_eq(li.nwaiters, 1);
	ck_assert_uint_eq(L_waiters[0].node, 2);
	ck_assert_uint_eq(li.nholders, 1);

	/* quorum for the new ring: 2's SH is now compatible */
	OK(quorum_now(1, true));
	ck_assert_int_ge(xfind(CL_ACT_GRANT, 2), 0);
	X_GRANT((size_t)xfind(CL_ACT_GRANT, 2), 2, S("c"), SH, TEP(2, 1), 32);
	ck_assert_uint_eq(xcount(CL_ACT_GRANT), 1);
}
END_TEST

START_TEST(test_confchg_two_departures)
{
	struct cl_lease_info li;

	GRAB(3, S("a"), EX);
	GRAB(4, S("b"), EX);
	OK(confchg(1, 2, NODES(1, 2, 5), NODES(3, 4)));
	ck_assert_uint_eq(stats().orphans, 2);
	li = LOOK(S("a"));
	ck_assert_uint_gt(L_holds[0].orphan_seq, 0);
	li = LOOK(S("b"));
	ck_assert_uint_gt(L_holds[0].orphan_seq, 0);
	ck_assert_uint_le(L_holds[0].orphan_seq, stats().orphan_seq);
	(void)li;
}
END_TEST

START_TEST(test_orphan_blocks_own_node)
{
	GRAB(3, S("a"), EX);
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	OK(confchg(1, 3, NODES(1, 2, 3, 4, 5), NOBODY));
	OK(quorum_now(1, true));
	ck_assert(cl_sm_quorate(sm));
	ck_assert(cl_sm_is_member(sm, 3));

	OK(acq(3, S("a"), EX, 0, 1));
	X_N(1);
	X_DENY(0, 3, S("a"), -EBUSY, 3, 1);
	OK(acq(3, S("a"), SH, 0, 2));
	X_N(1);
	X_DENY(0, 3, S("a"), -EBUSY, 3, 2);
	OK(acq(1, S("a"), SH, WAIT, 3));
	X_N(1);
	X_QUEUED(0, 1, S("a"), 3, 3);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 3, NULL), 0);
	/* the orphan cannot be released by its node either */
	OK(rel(3, S("a"), 1));
	X_N(0);
	ck_assert_uint_eq(stats().orphans, 1);
}
END_TEST

START_TEST(test_recover_node_seq)
{
	uint64_t s1, s2, ea, eb;

	ea = GRAB(3, S("a"), EX);              /* 1 */
	OK(acq(1, S("a"), EX, WAIT, 11));
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	s1 = stats().orphan_seq;
	OK(confchg(1, 3, NODES(1, 2, 3, 4, 5), NOBODY));
	OK(quorum_now(1, true));
	eb = GRAB(3, S("b"), EX);              /* the first of term 3 */
	ck_assert_uint_eq(eb, TEP(3, 1));
	OK(acq(2, S("b"), SH, WAIT, 12));
	OK(confchg(1, 4, NODES(1, 2, 4, 5), NODES(3)));
	s2 = stats().orphan_seq;
	ck_assert_uint_gt(s2, s1);
	OK(quorum_now(4, true));
	X_N(1);                                /* nothing to grant: orphans */
	ck_assert_uint_eq(stats().orphans, 2);

	OK(recover(1, 3, s1 - 1));
	X_N(0);
	ck_assert_uint_eq(stats().orphans, 2);

	OK(recover(1, 3, s1));
	X_N(2);
	X_RECOVERED(0, 3, S("a"), ea);
	X_GRANT(1, 1, S("a"), EX, TEP(4, 1), 11);
	ck_assert_uint_eq(stats().orphans, 1);
	ck_assert_uint_eq(cl_sm_owner(sm, S("b")), 3);

	OK(recover(2, 3, s2));
	X_N(2);
	X_RECOVERED(0, 3, S("b"), eb);
	X_GRANT(1, 2, S("b"), SH, TEP(4, 2), 12);
	ck_assert_uint_eq(stats().orphans, 0);

	OK(recover(2, 3, s2 + 10));
	X_N(0);
	OK(recover(2, 9, 1000));               /* a node that never held anything */
	X_N(0);
}
END_TEST

/*
 * RECOVER_NODE frees orphans only while quorate: a minority never frees a
 * departed node's holds on a timer (doc/state-machine.md, inputs table).
 */
START_TEST(test_recover_node_not_quorate)
{
	uint64_t ea = GRAB(3, S("a"), EX);

	OK(acq(1, S("a"), EX, WAIT, 5));
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	ck_assert(!cl_sm_quorate(sm));
	OK(recover(1, 3, stats().orphan_seq));
	X_N(0);
	ck_assert_uint_eq(stats().orphans, 1);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 1);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 3);
	(void)ea;
}
END_TEST

START_TEST(test_recover_name_order)
{
	static const struct { const char *n; size_t len; } names[] = {
		{ "c", 1 }, { "a", 1 }, { "\x80", 1 }, { "ab", 2 }, { "b", 1 }, { "a\0", 2 },
	};
	/* name order: a, a\0, ab, b, c, \x80 */
	static const size_t order[] = { 1, 5, 3, 4, 0, 2 };
	uint64_t ep[6];
	size_t nr = 0, ng = 0;

	for (size_t i = 0; i < 6; i++) {
		ep[i] = grab(__LINE__, 3, names[i].n, names[i].len, EX);
		ck_assert_uint_eq(ep[i], i + 1);
		OK(acq(1, names[i].n, names[i].len, EX, WAIT, 100 + i));
	}
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	OK(quorum_now(1, true));
	OK(recover(1, 3, stats().orphan_seq));
	X_N(12);
	for (size_t i = 0; i < rec.n; i++) {
		const struct cl_action *a = &rec.r[i].a;
		if (a->type == CL_ACT_RECOVERED) {
			size_t k = order[nr++];
			X_RECOVERED(i, 3, NL(names[k].n, names[k].len), ep[k]);
		} else {
			size_t k = order[ng];
			X_GRANT(i, 1, NL(names[k].n, names[k].len), EX, TEP(2, 1 + ng), 100 + k);
			ng++;
			ck_assert_uint_le(ng, nr);     /* granted only after freed */
		}
	}
	ck_assert_uint_eq(nr, 6);
	ck_assert_uint_eq(ng, 6);
}
END_TEST

struct hold_list {
	size_t n;
	char names[16][8];
	size_t lens[16];
	struct cl_hold_info h[16];
};

static void collect_hold(void *ctx, const uint8_t *name, uint16_t namelen,
			 const struct cl_hold_info *h)
{
	struct hold_list *hl = ctx;

	ck_assert_uint_lt(hl->n, 16);
	ck_assert_uint_le(namelen, 8);
	memcpy(hl->names[hl->n], name, namelen);
	hl->lens[hl->n] = namelen;
	hl->h[hl->n] = *h;
	hl->n++;
}

START_TEST(test_fence_ack)
{
	static const struct { const char *n; size_t len; } names[] = {
		{ "b", 1 }, { "\xff", 1 }, { "a", 1 },
	};
	static const size_t order[] = { 2, 0, 1 };
	uint64_t ep[3];
	size_t nr = 0, ng = 0;
	long adm;

	for (size_t i = 0; i < 3; i++) {
		ep[i] = grab(__LINE__, 3, names[i].n, names[i].len, i == 1 ? SH : EX);
		OK(acq(2, names[i].n, names[i].len, EX, WAIT, 40 + i));
	}
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	OK(quorum_now(1, true));

	OK(fence(1, 3, 77));
	X_N(7);
	adm = xfind(CL_ACT_ADMIN_DONE, ANYNODE);
	ck_assert_int_ge(adm, 0);
	X_ADMIN((size_t)adm, 1, 77, 0, 3);
	for (size_t i = 0; i < rec.n; i++) {
		const struct cl_action *a = &rec.r[i].a;
		if (a->type == CL_ACT_RECOVERED) {
			size_t k = order[nr++];
			X_RECOVERED(i, 3, NL(names[k].n, names[k].len), ep[k]);
		} else if (a->type == CL_ACT_GRANT) {
			size_t k = order[ng];
			X_GRANT(i, 2, NL(names[k].n, names[k].len), EX, TEP(2, 1 + ng), 40 + k);
			ng++;
		}
	}
	ck_assert_uint_eq(nr, 3);
	ck_assert_uint_eq(ng, 3);
	ck_assert_uint_eq(stats().orphans, 0);

	/* a member without orphans is alive */
	OK(fence(1, 2, 78));
	X_N(1);
	X_ADMIN(0, 1, 78, COROLEASE_ENODEALIVE, 0);
	/* a departed node without orphans: nothing to do */
	OK(fence(4, 3, 79));
	X_N(1);
	X_ADMIN(0, 4, 79, 0, 0);
	OK(fence(4, 9, 80));
	X_N(1);
	X_ADMIN(0, 4, 80, 0, 0);

	/*
	 * A member that rejoined while its orphans remain: it is alive, so a
	 * fence-ack is refused unless forced; forced, its orphans are freed.
	 */
	uint64_t ex = GRAB(4, S("x"), EX);
	OK(confchg(1, 3, NODES(1, 2, 5), NODES(4)));
	OK(confchg(1, 4, NODES(1, 2, 4, 5), NOBODY));
	OK(quorum_now(1, true));
	OK(fence(5, 4, 81));
	X_N(1);
	X_ADMIN(0, 5, 81, COROLEASE_ENODEALIVE, 0);
	ck_assert_uint_eq(stats().orphans, 1);
	OK(fence_flags(5, 4, 82, CL_FENCE_FORCE));
	X_N(2);
	X_RECOVERED(0, 4, S("x"), ex);
	X_ADMIN(1, 5, 82, 0, 1);
	GONE(S("x"));
}
END_TEST

START_TEST(test_evict)
{
	uint64_t ea, e1, e2;

	ea = GRAB(1, S("a"), EX);
	OK(evict(2, S("a"), 5));
	X_N(2);
	X_REVOKE(0, 1, S("a"), ea);
	X_ADMIN(1, 2, 5, 0, 1);
	/* revoke is a request: the hold stays until the holder hands over */
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, NULL), ea);
	OK(hod(1, S("a"), ea));
	X_N(1);
	X_RELEASED(0, 1, S("a"), ea);

	e1 = GRAB(1, S("b"), SH);
	e2 = GRAB(2, S("b"), SH);
	OK(evict(3, S("b"), 6));
	X_N(3);
	ck_assert_int_ge(xfind(CL_ACT_REVOKE, 1), 0);
	ck_assert_int_ge(xfind(CL_ACT_REVOKE, 2), 0);
	X_REVOKE((size_t)xfind(CL_ACT_REVOKE, 1), 1, S("b"), e1);
	X_REVOKE((size_t)xfind(CL_ACT_REVOKE, 2), 2, S("b"), e2);
	X_ADMIN(2, 3, 6, 0, 2);

	OK(evict(3, S("nobody"), 7));
	X_N(1);
	X_ADMIN(0, 3, 7, -ENOENT, 0);
	GONE(S("nobody"));

	/* orphan only: ORPHANED; orphan + live SH: only the live one is told */
	GRAB(4, S("c"), EX);
	GRAB(4, S("d"), SH);
	e1 = GRAB(1, S("d"), SH);
	OK(confchg(1, 2, NODES(1, 2, 3, 5), NODES(4)));
	OK(quorum_now(1, true));
	OK(evict(3, S("c"), 8));
	X_N(1);
	X_ADMIN(0, 3, 8, COROLEASE_EORPHANED, 0);
	OK(evict(3, S("d"), 9));
	X_N(2);
	X_REVOKE(0, 1, S("d"), e1);
	X_ADMIN(1, 3, 9, 0, 1);
}
END_TEST

START_TEST(test_nop)
{
	OK(nop(2, 42));
	X_N(1);
	X_ADMIN(0, 2, 42, 0, 0);
	/* also while not quorate */
	OK(quorum_now(1, false));
	OK(nop(3, 43));
	X_N(1);
	X_ADMIN(0, 3, 43, 0, 0);
}
END_TEST

START_TEST(test_lsn_counts_every_input)
{
	uint64_t l0 = stats().lsn;
	uint64_t l;

	ck_assert_uint_gt(l0, 0);
	OK(acq(1, S("a"), EX, 0, 1));
	ck_assert_uint_eq(stats().lsn, l0 + 1);
	OK(acq(2, S("a"), EX, 0, 2));          /* denied */
	ck_assert_uint_eq(stats().lsn, l0 + 2);
	OK(rel(1, S("a"), 99));                /* ignored */
	ck_assert_uint_eq(stats().lsn, l0 + 3);
	OK(quorum(1, 7, 7, false));            /* stale ring */
	ck_assert_uint_eq(stats().lsn, l0 + 4);
	OK(nop(1, 1));
	OK(evict(1, S("zz"), 1));
	OK(recover(1, 3, 1));
	OK(fence(1, 9, 1));
	ck_assert_uint_eq(stats().lsn, l0 + 8);
	OK(put(1, S("a"), S("k"), S("v"), 1, 1));
	OK(put(2, S("a"), S("k"), S("v"), 1, 1));   /* stale */
	ck_assert_uint_eq(stats().lsn, l0 + 10);
	/* a configuration change is an input too (doc: every input adds one) */
	l = stats().lsn;
	OK(confchg(1, 2, NODES(1, 2, 3, 4, 5, 6), NOBODY));
	ck_assert_uint_eq(stats().lsn, l + 1);
}
END_TEST

static int count_records(void *ctx, const struct cl_lease_info *info)
{
	size_t *n = ctx;

	(void)info;
	(*n)++;
	return 0;
}

static int stop_at_two(void *ctx, const struct cl_lease_info *info)
{
	size_t *n = ctx;

	(void)info;
	return ++(*n) == 2 ? 17 : 0;
}

START_TEST(test_queries)
{
	struct hold_list hl;
	struct cl_sm_stats st;
	struct cl_lease_info li;
	size_t n;
	uint8_t mode;
	static const struct { const char *n; size_t len; uint8_t mode; } mine[] = {
		{ "b", 1, EX }, { "\x80", 1, SH }, { "ab", 2, EX }, { "a", 1, SH }, { "c", 1, EX },
	};
	static const size_t order[] = { 3, 2, 0, 4, 1 };
	uint64_t ep[5];

	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), CL_NODE_NONE);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, NULL), 0);
	mode = 99;
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, &mode), 0);

	for (size_t i = 0; i < 5; i++)
		ep[i] = grab(__LINE__, 1, mine[i].n, mine[i].len, mine[i].mode);
	GRAB(2, S("a"), SH);
	OK(acq(4, S("c"), EX, WAIT, 5));
	GRAB(3, S("z"), EX);
	GRAB(3, S("y"), EX);

	/* lookup: partial copies, totals in info */
	GRAB(3, S("a"), SH);
	memset(L_holds, 0, sizeof(L_holds));
	ck_assert_int_eq(cl_sm_lookup(sm, S("a"), &li, L_holds, 2, NULL, 0), 0);
	ck_assert_uint_eq(li.nholders, 3);
	ck_assert_uint_eq(li.mode, SH);
	ck_assert_uint_eq(L_holds[0].node, 1);
	ck_assert_uint_eq(L_holds[1].node, 2);
	ck_assert_uint_eq(L_holds[2].node, 0);         /* not written past max */
	ck_assert_int_eq(cl_sm_lookup(sm, S("a"), &li, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(cl_sm_lookup(sm, S("nope"), &li, NULL, 0, NULL, 0), -ENOENT);
	li = LOOK(S("c"));
	ck_assert_uint_eq(li.nwaiters, 1);
	ck_assert_uint_eq(L_waiters[0].node, 4);
	ck_assert_uint_eq(L_waiters[0].req_id, 5);
	ck_assert_uint_eq(li.version, 0);
	ck_assert_uint_eq(li.nkeys, 0);
	ck_assert_uint_eq(li.lru_tick, 0);

	ck_assert_uint_eq(cl_sm_owner(sm, S("c")), 1);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 1);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("c"), 1, &mode), ep[4]);
	ck_assert_uint_eq(mode, EX);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("c"), 4, NULL), 0);   /* waiting is not holding */
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("\x80"), 1, &mode), ep[1]);
	ck_assert_uint_eq(mode, SH);

	memset(&hl, 0, sizeof(hl));
	cl_sm_foreach_hold_of(sm, 1, collect_hold, &hl);
	ck_assert_uint_eq(hl.n, 5);
	for (size_t i = 0; i < 5; i++) {
		size_t k = order[i];
		ck_assert_uint_eq(hl.lens[i], mine[k].len);
		ck_assert(memcmp(hl.names[i], mine[k].n, mine[k].len) == 0);
		ck_assert_uint_eq(hl.h[i].node, 1);
		ck_assert_uint_eq(hl.h[i].epoch, ep[k]);
		ck_assert_uint_eq(hl.h[i].mode, mine[k].mode);
		ck_assert_uint_eq(hl.h[i].orphan_seq, 0);
	}
	memset(&hl, 0, sizeof(hl));
	cl_sm_foreach_hold_of(sm, 4, collect_hold, &hl);  /* waiting only */
	ck_assert_uint_eq(hl.n, 0);

	st = stats();
	ck_assert_uint_eq(st.records, 7);
	ck_assert_uint_eq(st.holds, 9);
	ck_assert_uint_eq(st.waiters, 1);
	ck_assert_uint_eq(st.orphans, 0);
	n = 0;
	ck_assert_int_eq(cl_sm_foreach(sm, count_records, &n), 0);
	ck_assert_uint_eq(n, 7);
	n = 0;
	ck_assert_int_eq(cl_sm_foreach(sm, stop_at_two, &n), 17);
	ck_assert_uint_eq(n, 2);

	/* orphans are included, in name order, with their seq */
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	memset(&hl, 0, sizeof(hl));
	cl_sm_foreach_hold_of(sm, 3, collect_hold, &hl);
	ck_assert_uint_eq(hl.n, 3);
	ck_assert(hl.lens[0] == 1 && hl.names[0][0] == 'a');
	ck_assert(hl.lens[1] == 1 && hl.names[1][0] == 'y');
	ck_assert(hl.lens[2] == 1 && hl.names[2][0] == 'z');
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(hl.h[i].orphan_seq, stats().orphan_seq);
	ck_assert_uint_eq(cl_sm_owner(sm, S("z")), 3);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("z"), 3, NULL), 0);
	ck_assert_uint_eq(stats().orphans, 3);
}
END_TEST

/* ---- resumable scans in steps of a budget (cl_sm_scan_some: LIST's turns) ---- */

#define SCAN_KEEP  3000      /* names present for the whole scan: k00000.. */
#define SCAN_MORE  6000      /* names created during it (the table doubles): n00000.. */

struct scan_seen {
	unsigned k[SCAN_KEEP];
	unsigned n[SCAN_MORE];
	unsigned step;           /* records visited in this step */
	unsigned stop_after;     /* fn returns non-zero at this many records of a step (0: never) */
};

static int scan_count(void *ctx, const struct cl_lease_info *info)
{
	struct scan_seen *sc = ctx;
	char buf[16];
	unsigned i;

	ck_assert_uint_lt(info->namelen, sizeof(buf));
	memcpy(buf, info->name, info->namelen);
	buf[info->namelen] = 0;
	ck_assert(sscanf(buf + 1, "%u", &i) == 1);
	if (buf[0] == 'k') {
		ck_assert_uint_lt(i, SCAN_KEEP);
		sc->k[i]++;
	} else {
		ck_assert_uint_lt(i, SCAN_MORE);
		sc->n[i]++;
	}
	sc->step++;
	return sc->stop_after && sc->step >= sc->stop_after;
}

static uint64_t scan_grab(char c, unsigned i)
{
	char name[16];
	int len = snprintf(name, sizeof(name), "%c%05u", c, i);

	return grab(__LINE__, 1, name, (size_t)len, EX);
}

/*
 * One step: visits no more than the budget allows (a bucket is never
 * split: the chains of a table of names under its secret hash are short,
 * so 16 records of slack are plenty), spends the whole budget unless the
 * scan ended, and says what it spent.
 */
static uint64_t scan_step(struct scan_seen *sc, uint64_t cursor, uint32_t budget)
{
	uint32_t spent = 0xdeadbeef;

	sc->step = 0;
	uint64_t next = cl_sm_scan_some(sm, cursor, budget, scan_count, sc, &spent);
	ck_assert_uint_le(sc->step, spent);
	ck_assert_uint_ge(spent, 1);
	ck_assert_uint_le(spent, (budget ? budget : 1) + 16);
	if (next && !sc->stop_after)
		ck_assert_uint_ge(spent, budget);
	return next;
}

START_TEST(test_scan_budget)
{
	static struct scan_seen sc;
	uint64_t cursor = 0;
	unsigned steps = 0;

	memset(&sc, 0, sizeof(sc));
	for (unsigned i = 0; i < SCAN_KEEP; i++)
		scan_grab('k', i);
	do {
		cursor = scan_step(&sc, cursor, 64);
		steps++;
	} while (cursor);
	for (unsigned i = 0; i < SCAN_KEEP; i++)
		ck_assert_msg(sc.k[i] == 1, "k%05u listed %u times", i, sc.k[i]);
	/*
	 * 3000 records in 2048 buckets (the table doubles at twice as many
	 * records as buckets): 2048 to 5048 units, 64 a step
	 */
	ck_assert_uint_ge(steps, 2048 / (64 + 16));
	ck_assert_uint_le(steps, (SCAN_KEEP + 2048) / 64 + 1);

	/* budget 0 still moves on (one bucket a step) */
	memset(&sc, 0, sizeof(sc));
	cursor = 0;
	steps = 0;
	do {
		cursor = scan_step(&sc, cursor, 0);
		steps++;
	} while (cursor);
	ck_assert_uint_eq(steps, 2048);
	for (unsigned i = 0; i < SCAN_KEEP; i++)
		ck_assert_uint_eq(sc.k[i], 1);

	/* fn's non-zero ends the step after the bucket it was in (no record lost or repeated) */
	memset(&sc, 0, sizeof(sc));
	sc.stop_after = 1;
	cursor = 0;
	do {
		cursor = scan_step(&sc, cursor, 100000);
		ck_assert_uint_le(sc.step, 16);
	} while (cursor);
	for (unsigned i = 0; i < SCAN_KEEP; i++)
		ck_assert_uint_eq(sc.k[i], 1);

	/* a scan of an empty machine ends at once */
	make_sm(0, 0, true);
	memset(&sc, 0, sizeof(sc));
	cursor = scan_step(&sc, 0, 1 << 20);
	ck_assert_uint_eq(cursor, 0);
	ck_assert_uint_eq(sc.step, 0);
}
END_TEST

START_TEST(test_scan_resumes_across_changes)
{
	static struct scan_seen sc;
	static uint64_t doomed_ep[SCAN_KEEP];
	uint64_t cursor = 0;
	unsigned added = 0, removed = 0, steps = 0;

	memset(&sc, 0, sizeof(sc));
	/* k names: every third is released during the scan, the others stay */
	for (unsigned i = 0; i < SCAN_KEEP; i++)
		doomed_ep[i] = scan_grab('k', i);
	uint64_t serial = cl_sm_serial(sm);
	do {
		cursor = scan_step(&sc, cursor, 50);
		steps++;
		/* between steps: 40 names created (doubling the table twice in all) ... */
		for (unsigned j = 0; j < 40 && added < SCAN_MORE; j++)
			scan_grab('n', added++);
		/* ... and 5 of the doomed names released (their records freed) */
		for (unsigned j = 0; j < 5 && removed < SCAN_KEEP; j++, removed += 3) {
			char name[16];
			int len = snprintf(name, sizeof(name), "k%05u", removed);
			OK(rel(1, name, (size_t)len, doomed_ep[removed]));
			GONE(NL(name, (size_t)len));
		}
	} while (cursor);
	ck_assert_uint_gt(added, 4096);   /* the table grew during the scan */
	ck_assert_uint_gt(removed, 0);
	ck_assert_uint_eq(cl_sm_serial(sm), serial);   /* the same machine throughout */
	for (unsigned i = 0; i < SCAN_KEEP; i++) {
		bool throughout = i % 3 != 0 || i >= removed;
		if (throughout)
			ck_assert_msg(sc.k[i] == 1, "k%05u, present throughout, listed %u times (step %u)",
				      i, sc.k[i], steps);
		else
			ck_assert_msg(sc.k[i] <= 1, "k%05u listed %u times", i, sc.k[i]);
	}
	for (unsigned i = 0; i < SCAN_MORE; i++)
		ck_assert_msg(sc.n[i] <= 1, "n%05u listed %u times", i, sc.n[i]);

	/* another machine (a resynchronisation's) has another serial */
	struct cl_sm *other = cl_sm_new(NULL, record_action, &rec);
	ck_assert_ptr_nonnull(other);
	ck_assert_uint_ne(cl_sm_serial(other), serial);
	cl_sm_free(other);
}
END_TEST

START_TEST(test_owner_orphan_fallback)
{
	GRAB(3, S("a"), SH);
	GRAB(1, S("a"), SH);
	GRAB(2, S("a"), SH);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 3);
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 1);
	OK(rel(1, S("a"), 2));
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 2);
	OK(rel(2, S("a"), 3));
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), 3);
	ck_assert_uint_eq(cl_sm_owner(sm, S("b")), CL_NODE_NONE);
}
END_TEST

START_TEST(test_unsafe_no_quorum_check)
{
	make_sm(CL_UNSAFE_NO_QUORUM_CHECK, 0, false);
	ck_assert(!cl_sm_quorate(sm));
	OK(acq(1, S("a"), EX, 0, 1));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 1, 1);
	OK(acq(2, S("a"), EX, WAIT, 2));
	X_N(2);
	OK(rel(1, S("a"), 1));
	X_N(2);
	X_RELEASED(0, 1, S("a"), 1);
	X_GRANT(1, 2, S("a"), EX, 2, 2);
}
END_TEST

START_TEST(test_unsafe_no_orphan_wait)
{
	make_sm(CL_UNSAFE_NO_ORPHAN_WAIT, 0, true);
	GRAB(3, S("a"), EX);
	OK(acq(1, S("a"), EX, WAIT, 7));
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	ck_assert_uint_eq(stats().orphans, 0);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), CL_NODE_NONE);
	ck_assert_uint_eq(LOOK(S("a")).nholders, 0);
	ck_assert_uint_eq(xcount(CL_ACT_GRANT), 0);  /* not quorate any more */
	OK(quorum_now(1, true));
	X_GRANT((size_t)xfind(CL_ACT_GRANT, ANYNODE), 1, S("a"), EX, TEP(2, 1), 7);
}
END_TEST

START_TEST(test_unsafe_both)
{
	make_sm(CL_UNSAFE_NO_ORPHAN_WAIT | CL_UNSAFE_NO_QUORUM_CHECK, 0, true);
	GRAB(3, S("a"), EX);
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	OK(acq(1, S("a"), EX, 0, 7));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, 2, 7);
}
END_TEST

START_TEST(test_apply_rejects_sync_types)
{
	struct cl_msg m;
	static const uint8_t bad[] = { CL_MSG_SYNC_ANNOUNCE, CL_MSG_SYNC_CHUNK, 0, 12, 31, 200 };

	for (size_t i = 0; i < sizeof(bad); i++) {
		memset(&m, 0, sizeof(m));
		m.type = bad[i];
		m.ring = cur_ring;
		ck_assert_int_eq(apply(1, &m), -EINVAL);
		X_N(0);
	}
}
END_TEST

START_TEST(test_name_lengths)
{
	static uint8_t big1[COROLEASE_NAME_MAX], big2[COROLEASE_NAME_MAX];
	struct cl_lease_info li;

	memset(big1, 'x', sizeof(big1));
	memcpy(big2, big1, sizeof(big2));
	big2[COROLEASE_NAME_MAX - 1] = 'y';
	big1[10] = 0;
	big2[10] = 0;

	OK(acq(1, "q", 1, EX, 0, 1));
	X_GRANT(0, 1, NL("q", 1), EX, 1, 1);
	OK(acq(1, big1, sizeof(big1), EX, 0, 2));
	X_N(1);
	X_GRANT(0, 1, NL(big1, sizeof(big1)), EX, 2, 2);
	OK(acq(2, big2, sizeof(big2), EX, 0, 3));
	X_N(1);
	X_GRANT(0, 2, NL(big2, sizeof(big2)), EX, 3, 3);
	OK(acq(3, big1, sizeof(big1) - 1, EX, 0, 4));   /* a prefix is another name */
	X_GRANT(0, 3, NL(big1, sizeof(big1) - 1), EX, 4, 4);

	li = look(__LINE__, big1, sizeof(big1));
	ck_assert_uint_eq(li.nholders, 1);
	ck_assert_uint_eq(L_holds[0].node, 1);
	ck_assert_uint_eq(cl_sm_owner(sm, big2, sizeof(big2)), 2);
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, "q", 1, 1, NULL), 1);

	OK(acq(2, big1, sizeof(big1), EX, 0, 5));
	X_BLOCKING(0, 1, NL(big1, sizeof(big1)), 2, EX, 2);
	X_DENY(1, 2, NL(big1, sizeof(big1)), -EBUSY, 1, 5);
	OK(rel(1, big1, sizeof(big1), 2));
	X_N(1);
	X_RELEASED(0, 1, NL(big1, sizeof(big1)), 2);
	gone(__LINE__, big1, sizeof(big1));
	OK(rel(1, "q", 1, 1));
	gone(__LINE__, "q", 1);
	ck_assert_uint_eq(stats().records, 2);
}
END_TEST

START_TEST(test_confchg_invalid)
{
	uint32_t many[CL_MAX_MEMBERS + 1];

	for (uint32_t i = 0; i <= CL_MAX_MEMBERS; i++)
		many[i] = i + 1;
	ck_assert_int_eq(confchg(1, 9, many, CL_MAX_MEMBERS + 1, NOBODY), -EINVAL);
	ck_assert_int_eq(confchg(1, 9, NODES(1, 2, 2), NOBODY), -EINVAL);
	ck_assert_int_eq(confchg(1, 9, NODES(1, 0, 2), NOBODY), -EINVAL);
	ck_assert_uint_eq(stats().nmembers, 5);
	ck_assert(cl_sm_quorate(sm));
	OK(confchg(1, 10, many, CL_MAX_MEMBERS, NOBODY));
	ck_assert_uint_eq(stats().nmembers, CL_MAX_MEMBERS);
	ck_assert_uint_eq(stats().members[CL_MAX_MEMBERS - 1], CL_MAX_MEMBERS);
}
END_TEST

/* ------------------------------------------------------------------ determinism */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rndn(uint64_t n)
{
	return rnd() % n;
}

static const struct { const char *n; size_t len; } R_names[] = {
	{ "a", 1 }, { "b", 1 }, { "ab", 2 }, { "a\0", 2 }, { "user/INBOX", 10 },
	{ "\x80x", 2 }, { "zz", 2 }, { "c", 1 },
};
#define R_NNAMES (sizeof(R_names) / sizeof(R_names[0]))
static const struct { const char *k; size_t len; } R_keys[] = {
	{ "k1", 2 }, { "k2", 2 }, { "k10", 3 }, { "\xff", 1 },
};
static const size_t R_vallens[] = { 0, 5, 64, 300, 500 };
static const uint32_t R_uids[] = { 0, 1000, 1001, 1002 };
static uint8_t R_val[500];

struct ev {
	bool is_confchg;
	uint32_t sender;
	struct cl_msg m;
	struct cl_ring ring;
	uint32_t mem[8], left[8];
	size_t nm, nl;
};

struct actdigest {
	uint64_t h;
	uint64_t n;
	uint64_t edquot, enospc;   /* puts refused for a uid's quota / the bound */
};

static void fnv(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ULL;
	}
}

static void fnv64(uint64_t *h, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	fnv(h, b, 8);
}

static void digest_action(void *ctx, const struct cl_action *a)
{
	struct actdigest *d = ctx;

	if (a->type == CL_ACT_INDEX_DONE && a->err == -EDQUOT)
		d->edquot++;
	if (a->type == CL_ACT_INDEX_DONE && a->err == -ENOSPC)
		d->enospc++;
	fnv64(&d->h, (uint64_t)a->type);
	fnv64(&d->h, a->node);
	fnv64(&d->h, a->owner);
	fnv64(&d->h, a->wanted_by);
	fnv64(&d->h, a->mode);
	fnv64(&d->h, a->deleted);
	fnv64(&d->h, (uint64_t)(int64_t)a->err);
	fnv64(&d->h, a->req_id);
	fnv64(&d->h, a->epoch);
	fnv64(&d->h, a->version);
	fnv64(&d->h, a->count);
	fnv64(&d->h, a->namelen);
	if (a->namelen)
		fnv(&d->h, a->name, a->namelen);
	fnv64(&d->h, a->keylen);
	if (a->keylen)
		fnv(&d->h, a->key, a->keylen);
	d->n++;
}

/* A canonical serialisation of a whole machine: header, then records sorted by name. */
struct blob {
	uint8_t *p;
	size_t len, cap;
	const uint8_t *name;   /* for sorting records */
	uint16_t namelen;
};

static void b_put(struct blob *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void b_u64(struct blob *b, uint64_t v)
{
	b_put(b, &v, sizeof(v));
}

struct blobs {
	size_t n, cap;
	struct blob *v;
};

static int dump_record(void *ctx, const struct cl_record_info *r)
{
	struct blobs *bs = ctx;
	struct blob *b;

	if (bs->n == bs->cap) {
		bs->cap = bs->cap * 2 + 16;
		bs->v = realloc(bs->v, bs->cap * sizeof(*bs->v));
		ck_assert_ptr_nonnull(bs->v);
	}
	b = &bs->v[bs->n++];
	memset(b, 0, sizeof(*b));
	b_u64(b, r->namelen);
	b_put(b, r->name, r->namelen);
	b_u64(b, r->version);
	b_u64(b, r->lru_tick);
	b_u64(b, r->uid);
	b_u64(b, r->nholds);
	for (uint32_t i = 0; i < r->nholds; i++) {
		b_u64(b, r->holds[i].node);
		b_u64(b, r->holds[i].mode);
		b_u64(b, r->holds[i].epoch);
		b_u64(b, r->holds[i].orphan_seq);
	}
	b_u64(b, r->nwaiters);
	for (uint32_t i = 0; i < r->nwaiters; i++) {
		b_u64(b, r->waiters[i].node);
		b_u64(b, r->waiters[i].mode);
		b_u64(b, r->waiters[i].req_id);
	}
	b_u64(b, r->nentries);
	for (uint32_t i = 0; i < r->nentries; i++) {
		b_u64(b, r->entries[i].keylen);
		b_put(b, r->entries[i].key, r->entries[i].keylen);
		b_u64(b, r->entries[i].vallen);
		b_put(b, r->entries[i].value, r->entries[i].vallen);
		b_u64(b, r->entries[i].version);
	}
	b->name = b->p + 8;
	b->namelen = r->namelen;
	return 0;
}

static int blob_cmp(const void *x, const void *y)
{
	const struct blob *a = x, *b = y;
	size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, n);

	if (c != 0)
		return c;
	return (int)a->namelen - (int)b->namelen;
}

static struct blob canon(const struct cl_sm *m_sm)
{
	struct cl_sm_header h;
	struct blobs bs = { 0 };
	struct blob out = { 0 };

	memset(&h, 0, sizeof(h));
	cl_sm_get_header(m_sm, &h);
	b_u64(&out, h.lsn);
	b_u64(&out, h.q_lsn);
	b_u64(&out, h.epoch);
	b_u64(&out, h.orphan_seq);
	b_u64(&out, h.lru_clock);
	b_u64(&out, h.index_evictions);
	b_u64(&out, h.index_mem_max);
	b_u64(&out, h.index_bytes_per_uid);
	b_u64(&out, h.quorate);
	b_u64(&out, h.ring.rep);
	b_u64(&out, h.ring.seq);
	b_u64(&out, h.nmembers);
	for (uint32_t i = 0; i < h.nmembers && i < CL_MAX_MEMBERS; i++)
		b_u64(&out, h.members[i]);
	ck_assert_int_eq(cl_sm_foreach_record(m_sm, dump_record, &bs), 0);
	/* b->name pointed into a blob that realloc may have moved: recompute */
	for (size_t i = 0; i < bs.n; i++)
		bs.v[i].name = bs.v[i].p + 8;
	if (bs.n > 1)
		qsort(bs.v, bs.n, sizeof(*bs.v), blob_cmp);
	b_u64(&out, bs.n);
	for (size_t i = 0; i < bs.n; i++) {
		b_put(&out, bs.v[i].p, bs.v[i].len);
		free(bs.v[i].p);
	}
	free(bs.v);
	return out;
}

static bool canon_eq(const struct cl_sm *x, const struct cl_sm *y)
{
	struct blob a = canon(x), b = canon(y);
	bool eq = a.len == b.len && memcmp(a.p, b.p, a.len) == 0;

	free(a.p);
	free(b.p);
	return eq;
}

/* One random input, shaped by machine g's current state so that it often matters. */
static void gen_event(const struct cl_sm *g, struct ev *e, uint64_t step)
{
	struct cl_sm_stats st;
	uint64_t r = rndn(100);
	size_t ni = rndn(R_NNAMES);
	const void *name = R_names[ni].n;
	size_t nlen = R_names[ni].len;
	uint32_t node;

	cl_sm_stats(g, &st);
	memset(e, 0, sizeof(*e));
	node = st.nmembers > 0 && rndn(20) != 0 ? st.members[rndn(st.nmembers)] :
		(uint32_t)(1 + rndn(6));
	e->sender = node;
	e->m.name = name;
	e->m.namelen = (uint16_t)nlen;
	e->m.req_id = step;

	if (r < 30) {
		e->m.type = CL_MSG_ACQUIRE;
		e->m.mode = rndn(2) ? CL_MODE_EX : CL_MODE_SH;
		e->m.flags = rndn(2) ? CL_ACQ_WAIT : 0;
	} else if (r < 52) {
		uint64_t ep;

		if (rndn(10) < 6 && cl_sm_owner(g, name, nlen) != CL_NODE_NONE)
			e->sender = node = cl_sm_owner(g, name, nlen);
		ep = cl_sm_hold_epoch(g, name, nlen, node, NULL);
		e->m.type = rndn(2) ? CL_MSG_RELEASE : CL_MSG_HANDOVER_DONE;
		e->m.epoch = ep && rndn(10) < 8 ? ep : 1 + rndn(st.epoch + 1);
	} else if (r < 66) {
		size_t ki = rndn(4);
		uint64_t ep;

		if (rndn(10) < 8 && cl_sm_owner(g, name, nlen) != CL_NODE_NONE)
			e->sender = node = cl_sm_owner(g, name, nlen);
		ep = cl_sm_hold_epoch(g, name, nlen, node, NULL);
		e->m.type = rndn(4) ? CL_MSG_INDEX_PUT : CL_MSG_INDEX_DEL;
		e->m.key = (const uint8_t *)R_keys[ki].k;
		e->m.keylen = (uint8_t)R_keys[ki].len;
		e->m.epoch = ep && rndn(10) < 8 ? ep : rndn(st.epoch + 2);
		if (e->m.type == CL_MSG_INDEX_PUT) {
			e->m.value = R_val;
			e->m.vallen = (uint32_t)R_vallens[rndn(5)];
			e->m.uid = R_uids[rndn(4)];
		}
	} else if (r < 69) {
		e->m.type = CL_MSG_EVICT;
	} else if (r < 74) {
		e->m.type = CL_MSG_RECOVER_NODE;
		e->m.node = (uint32_t)(1 + rndn(6));
		e->m.seq = rndn(st.orphan_seq + 2);
		e->m.name = NULL;
		e->m.namelen = 0;
	} else if (r < 76) {
		e->m.type = CL_MSG_FENCE_ACK;
		e->m.node = (uint32_t)(1 + rndn(6));
		e->m.name = NULL;
		e->m.namelen = 0;
	} else if (r < 79) {
		e->m.type = CL_MSG_NOP;
		e->m.name = NULL;
		e->m.namelen = 0;
	} else if (r < 97) {
		e->m.type = CL_MSG_QUORUM;
		e->m.flags = rndn(10) < 9 ? CL_QUORUM_YES : 0;
		e->m.ring = st.ring;
		if (rndn(6) == 0)
			e->m.ring.seq = rndn(st.ring.seq + 1);
		e->m.name = NULL;
		e->m.namelen = 0;
	} else {
		/* configuration change: a random non-empty subset of 1..6 */
		uint32_t set;

		e->is_confchg = true;
		do
			set = (uint32_t)rndn(64);
		while (set == 0);
		for (uint32_t k = 1; k <= 6; k++)
			if (set & (1u << (k - 1)))
				e->mem[e->nm++] = k;
		for (uint32_t i = 0; i < st.nmembers; i++)
			if (!(set & (1u << (st.members[i] - 1))))
				e->left[e->nl++] = st.members[i];
		/* shuffle members: any order is allowed */
		for (size_t i = e->nm; i > 1; i--) {
			size_t j = rndn(i);
			uint32_t t = e->mem[i - 1];
			e->mem[i - 1] = e->mem[j];
			e->mem[j] = t;
		}
		e->ring.rep = e->mem[0];
		e->ring.seq = st.ring.seq + 1;
	}
}

static int feed(struct cl_sm *m_sm, const struct ev *e)
{
	if (e->is_confchg)
		return cl_sm_confchg(m_sm, &e->ring, e->mem, e->nm, e->left, e->nl);
	return cl_sm_apply(m_sm, e->sender, &e->m);
}

#define DET_STEPS 6000

/*
 * A machine as every replica starts, with table key number k (each replica
 * has a secret key of its own: nothing it does may depend on the key).
 */
static struct cl_sm *det_new_key(struct actdigest *d, size_t mem_max, uint64_t per_uid,
				 uint64_t k)
{
	struct cl_sm_config cfg = { .index_mem_max = mem_max, .index_bytes_per_uid = per_uid,
				    .table_key = { cl_mix64(k), cl_mix64(~k) } };
	struct cl_sm *m_sm = cl_sm_new(&cfg, digest_action, d);
	uint32_t mem[] = { 1, 2, 3 };
	struct cl_ring r = { 1, 1 };

	ck_assert_ptr_nonnull(m_sm);
	ck_assert_int_eq(cl_sm_confchg(m_sm, &r, mem, 3, NULL, 0), 0);
	return m_sm;
}

static struct cl_sm *det_new(struct actdigest *d, size_t mem_max, uint64_t per_uid)
{
	return det_new_key(d, mem_max, per_uid, 0);
}

/* a's and b's snapshots are the same bytes (records in name order, whatever the keys). */
static void snaps_equal(const struct cl_sm *a, const struct cl_sm *b, uint64_t step)
{
	uint8_t *pa, *pb;
	size_t la, lb;

	ck_assert_int_eq(cl_snap_encode(a, &pa, &la), 0);
	ck_assert_int_eq(cl_snap_encode(b, &pb, &lb), 0);
	ck_assert_msg(la == lb && memcmp(pa, pb, la) == 0,
		      "step %" PRIu64 ": one state, snapshots differ with other table keys", step);
	free(pa);
	free(pb);
}

/*
 * A fresh machine with table key k, loaded from a's snapshot: in name order
 * for odd k, in a's table order (what a node sends a joiner) for even k.
 */
static struct cl_sm *det_load(const struct cl_sm *a, struct actdigest *d, uint64_t k)
{
	struct cl_sm_config cfg = { .table_key = { cl_mix64(k), cl_mix64(~k) } };
	struct cl_sm *m_sm = cl_sm_new(&cfg, digest_action, d);
	uint8_t *p;
	size_t len;

	ck_assert_ptr_nonnull(m_sm);
	ck_assert_int_eq(cl_snap_encode_order(a, k & 1, &p, &len), 0);
	ck_assert_int_eq(cl_snap_decode(p, len, m_sm), 0);
	free(p);
	return m_sm;
}

/* Runs 0 and 2 without per-uid quota, 1 and 3 with one (the same on every replica). */
START_TEST(test_determinism_random)
{
	struct actdigest da = { 0xcbf29ce484222325ULL, 0, 0, 0 }, db = da, dc = da, dd = da;
	struct actdigest d1 = da, d2 = da;
	uint64_t per_uid = _i % 2 ? 700 : 0;
	/* every replica with a table key of its own, as daemons have (hash.h) */
	struct cl_sm *a = det_new_key(&da, 1500, per_uid, 1), *b = det_new_key(&db, 1500, per_uid, 2);
	struct cl_sm *c = det_new_key(&dc, 1500, per_uid, 3);
	/* b's twin, hashed only now and then */
	struct cl_sm *d = det_new_key(&dd, 1500, per_uid, 4);
	/* two replicas loaded from a's snapshot half way, with keys of their own */
	struct cl_sm *l1 = NULL, *l2 = NULL;
	struct ev *evs = calloc(DET_STEPS, sizeof(*evs));
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)_i;
	struct cl_sm_stats st;
	uint64_t grants = 0, maxrec = 0;
	bool differs;

	ck_assert_ptr_nonnull(evs);
	for (size_t i = 0; i < sizeof(R_val); i++)
		R_val[i] = (uint8_t)(i * 7 + 3);
	rng_state = seed;
	for (uint64_t s = 0; s < DET_STEPS; s++) {
		int ra, rb;

		gen_event(a, &evs[s], s + 1);
		if (s == DET_STEPS / 2) {
			l1 = det_load(a, &d1, 5);
			l2 = det_load(a, &d2, 6);
		}
		ra = feed(a, &evs[s]);
		rb = feed(b, &evs[s]);
		ck_assert_int_eq(feed(d, &evs[s]), rb);
		if (l1) {
			ck_assert_int_eq(feed(l1, &evs[s]), ra);
			ck_assert_int_eq(feed(l2, &evs[s]), ra);
			ck_assert_msg(d1.h == d2.h && d1.n == d2.n, "step %" PRIu64 ": actions of "
				      "replicas loaded from one snapshot differ", s);
			ck_assert_msg(cl_sm_hash(l1) == cl_sm_hash(a), "step %" PRIu64 ": a loaded "
				      "replica diverged", s);
		}
		if (s % 500 == 0 || s == DET_STEPS - 1)
			snaps_equal(a, b, s);
		ck_assert_msg(ra == rb && ra == 0, "seed %#" PRIx64 " step %" PRIu64 ": rc %d / %d",
			      seed, s, ra, rb);
		ck_assert_msg(cl_sm_hash(a) == cl_sm_hash(b), "seed %#" PRIx64 " step %" PRIu64
			      ": hashes differ", seed, s);
		ck_assert_msg(cl_sm_hash(a) == cl_sm_hash_full(a) && cl_sm_hash(b) == cl_sm_hash_full(b) &&
			      (!l1 || (cl_sm_hash(l1) == cl_sm_hash_full(l1) &&
				       cl_sm_hash(l2) == cl_sm_hash_full(l2))),
			      "seed %#" PRIx64 " step %" PRIu64 ": the running hash is not the walk's",
			      seed, s);
		/* the per-node live hold counts are the walk's, here and in a loaded replica */
		for (uint32_t node = 0; node <= 9; node++)
			ck_assert_msg(cl_sm_live_holds_of(a, node) == cl_sm_live_holds_of_full(a, node) &&
				      (!l1 || cl_sm_live_holds_of(l1, node) ==
					      cl_sm_live_holds_of_full(l1, node)),
				      "seed %#" PRIx64 " step %" PRIu64 ": node %" PRIu32 "'s live "
				      "hold count is not the walk's", seed, s, node);
		/* a remembered hash is never stale: every change moves what it is keyed by */
		ck_assert_msg(cl_sm_hash_cached(a) == cl_sm_hash(a), "step %" PRIu64
			      ": cl_sm_hash_cached() is stale", s);
		ck_assert_msg(da.h == db.h && da.n == db.n, "step %" PRIu64 ": actions differ", s);
		if (s % 64 == 0 || s == DET_STEPS - 1)
			ck_assert_msg(canon_eq(a, b), "step %" PRIu64 ": states differ", s);
		/* what a hash keeps of an index (cl_index_hash()) follows its writes */
		if (s % 37 == 0 || s == DET_STEPS - 1)
			ck_assert_msg(cl_sm_hash(d) == cl_sm_hash(a), "step %" PRIu64 ": a hash "
				      "kept across steps is stale", s);
		cl_sm_stats(a, &st);
		if (st.records > maxrec)
			maxrec = st.records;
	}
	cl_sm_stats(a, &st);
	grants = st.epoch;
	/* the random walk must have exercised the machine */
	ck_assert_uint_gt(grants, 100);
	ck_assert_uint_gt(st.orphan_seq, 5);
	ck_assert_uint_gt(maxrec, 3);
	ck_assert_uint_gt(st.index_evictions, 0);
	ck_assert_uint_gt(da.enospc, 0);
	if (per_uid)
		ck_assert_uint_gt(da.edquot, 0);
	else
		ck_assert_uint_eq(da.edquot, 0);

	/* a shuffled input: a different state, and so a different hash */
	for (size_t i = DET_STEPS; i > 1; i--) {
		size_t j = rndn(i);
		struct ev t = evs[i - 1];
		evs[i - 1] = evs[j];
		evs[j] = t;
	}
	for (uint64_t s = 0; s < DET_STEPS; s++)
		(void)feed(c, &evs[s]);
	differs = !canon_eq(a, c);
	ck_assert_msg(differs, "shuffled input gave an identical state?");
	ck_assert_msg(cl_sm_hash(a) != cl_sm_hash(c), "different states, same hash");

	/* same hash is stable across calls */
	ck_assert_uint_eq(cl_sm_hash(a), cl_sm_hash(a));
	ck_assert(canon_eq(a, l2));
	free(evs);
	cl_sm_free(a);
	cl_sm_free(b);
	cl_sm_free(c);
	cl_sm_free(d);
	cl_sm_free(l1);
	cl_sm_free(l2);
}
END_TEST

/*
 * cl_siphash_cd() is SipHash: the published SipHash-2-4 vectors (key 00..0f,
 * message 00..(n-1)); and cl_siphash() (1-3) depends on every key bit and
 * on the length.
 */
START_TEST(test_siphash)
{
	const struct cl_hash_key k = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint8_t m[64];

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)i;
	ck_assert_uint_eq(cl_siphash_cd(&k, m, 0, 2, 4), 0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(cl_siphash_cd(&k, m, 1, 2, 4), 0x74f839c593dc67fdULL);
	ck_assert_uint_eq(cl_siphash_cd(&k, m, 15, 2, 4), 0xa129ca6149be45e5ULL);
	ck_assert_uint_eq(cl_siphash_cd(&k, m, 63, 2, 4), 0x958a324ceb064572ULL);
	for (unsigned b = 0; b < 128; b++) {
		struct cl_hash_key x = k;

		if (b < 64)
			x.k0 ^= 1ULL << b;
		else
			x.k1 ^= 1ULL << (b - 64);
		ck_assert_uint_ne(cl_siphash(&x, m, 16), cl_siphash(&k, m, 16));
	}
	ck_assert_uint_ne(cl_siphash(&k, m, 8), cl_siphash(&k, m, 9));
	m[8] = 0;
	ck_assert_uint_ne(cl_siphash(&k, m, 8), cl_siphash(&k, m, 9));
}
END_TEST

/* Every single-field change of a small state changes the hash. */
START_TEST(test_hash_sensitivity)
{
	struct cl_sm *x, *y;
	uint64_t h0;

	/* same inputs, except node 2 instead of 1 gets "a" */
	GRAB(1, S("a"), EX);
	h0 = cl_sm_hash(sm);
	x = sm;
	sm = NULL;
	make_sm(0, 0, true);
	GRAB(2, S("a"), EX);
	y = sm;
	ck_assert_uint_ne(cl_sm_hash(y), h0);
	/* and the same inputs give the same hash */
	sm = NULL;
	make_sm(0, 0, true);
	GRAB(1, S("a"), EX);
	ck_assert_uint_eq(cl_sm_hash(sm), h0);
	/* a waiter, an orphan, quorum loss each change it */
	OK(acq(2, S("a"), EX, WAIT, 9));
	ck_assert_uint_ne(cl_sm_hash(sm), h0);
	cl_sm_free(x);
	cl_sm_free(y);
}
END_TEST

/* ---- snapshot-style round trip through the restore API ---- */

struct rec_copy {
	struct cl_record_info r;
	uint8_t *name;
	struct cl_hold_info *holds;
	struct cl_waiter_info *waiters;
	struct cl_entry_info *entries;
};

struct rec_copies {
	size_t n, cap;
	struct rec_copy *v;
};

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static int copy_record(void *ctx, const struct cl_record_info *r)
{
	struct rec_copies *rc = ctx;
	struct rec_copy *c;

	if (rc->n == rc->cap) {
		rc->cap = rc->cap * 2 + 16;
		rc->v = realloc(rc->v, rc->cap * sizeof(*rc->v));
		ck_assert_ptr_nonnull(rc->v);
	}
	c = &rc->v[rc->n++];
	c->r = *r;
	c->name = dup_mem(r->name, r->namelen);
	c->holds = dup_mem(r->holds, r->nholds * sizeof(*r->holds));
	c->waiters = dup_mem(r->waiters, r->nwaiters * sizeof(*r->waiters));
	c->entries = dup_mem(r->entries, r->nentries * sizeof(*r->entries));
	for (uint32_t i = 0; i < r->nentries; i++) {
		c->entries[i].key = dup_mem(r->entries[i].key, r->entries[i].keylen);
		c->entries[i].value = dup_mem(r->entries[i].value, r->entries[i].vallen);
	}
	c->r.name = c->name;
	c->r.holds = c->holds;
	c->r.waiters = c->waiters;
	c->r.entries = c->entries;
	return 0;
}

START_TEST(test_restore_roundtrip_hash)
{
	struct actdigest da = { 0xcbf29ce484222325ULL, 0, 0, 0 }, db = da;
	struct cl_sm *a = det_new(&da, 2000, 900), *b;
	struct rec_copies rc = { 0 };
	struct cl_sm_header h;
	struct ev e;

	for (size_t i = 0; i < sizeof(R_val); i++)
		R_val[i] = (uint8_t)(i * 7 + 3);
	rng_state = 0x1234567;
	for (int s = 0; s < 2000; s++) {
		gen_event(a, &e, (uint64_t)s + 1);
		(void)feed(a, &e);
	}
	/* the per-uid quota comes with the header, whatever b was made with */
	b = cl_sm_new(&(struct cl_sm_config){ .index_mem_max = 2000 }, digest_action, &db);
	ck_assert_ptr_nonnull(b);
	cl_sm_get_header(a, &h);
	ck_assert_int_eq(cl_sm_restore_header(b, &h), 0);
	ck_assert_int_eq(cl_sm_foreach_record(a, copy_record, &rc), 0);
	ck_assert_uint_gt(rc.n, 0);
	for (size_t i = rc.n; i-- > 0;)          /* reverse order */
		ck_assert_int_eq(cl_sm_restore_record(b, &rc.v[i].r), 0);
	ck_assert_int_eq(cl_sm_restore_finish(b), 0);
	ck_assert_uint_eq(cl_sm_hash(a), cl_sm_hash(b));
	ck_assert(canon_eq(a, b));

	/* and both continue identically (eviction order included) */
	for (int s = 0; s < 2000; s++) {
		gen_event(a, &e, 5000 + (uint64_t)s);
		ck_assert_int_eq(feed(a, &e), feed(b, &e));
		ck_assert_msg(cl_sm_hash(a) == cl_sm_hash(b), "diverged at step %d", s);
	}
	ck_assert(canon_eq(a, b));

	for (size_t i = 0; i < rc.n; i++) {
		for (uint32_t k = 0; k < rc.v[i].r.nentries; k++) {
			free((void *)rc.v[i].entries[k].key);
			free((void *)rc.v[i].entries[k].value);
		}
		free(rc.v[i].name);
		free(rc.v[i].holds);
		free(rc.v[i].waiters);
		free(rc.v[i].entries);
	}
	free(rc.v);
	cl_sm_free(a);
	cl_sm_free(b);
}
END_TEST

START_TEST(test_free_null_and_names)
{
	ck_assert_ptr_null(cl_sm_free(NULL));
	ck_assert_ptr_nonnull(cl_msg_type_name(CL_MSG_ACQUIRE));
	ck_assert_ptr_nonnull(cl_msg_type_name(250));
	ck_assert_ptr_nonnull(cl_mode_name(CL_MODE_EX));
	ck_assert_ptr_nonnull(cl_mode_name(77));
	ck_assert_ptr_nonnull(cl_action_type_name(CL_ACT_GRANT));
	ck_assert_ptr_nonnull(cl_action_type_name(999));
}
END_TEST

/* ------------------------------------------------------------------ main */

/* cl_lease_info names the owner a request would be told about (cl_sm_owner). */
START_TEST(test_info_owner)
{
	uint64_t e3 = GRAB(3, S("a"), SH);
	struct cl_lease_info li = LOOK(S("a"));
	ck_assert_uint_eq(li.owner, 3);
	ck_assert_uint_eq(li.owner_epoch, e3);
	ck_assert(!li.owner_orphaned);

	/* node 3 departs: its orphan is shown while no live holder exists */
	OK(confchg(1, 2, NODES(1, 2, 4, 5), NODES(3)));
	li = LOOK(S("a"));
	ck_assert_uint_eq(li.owner, 3);
	ck_assert_uint_eq(li.owner_epoch, e3);
	ck_assert(li.owner_orphaned);
	ck_assert_uint_eq(cl_sm_owner(sm, S("a")), li.owner);
}
END_TEST

/* ================================================================== safety (issue 7) */

static int quorum_flags(uint32_t sender, uint8_t flags)
{
	struct cl_msg m = { .type = CL_MSG_QUORUM, .flags = flags, .ring = cur_ring };
	return apply(sender, &m);
}

static int grace_end(uint32_t sender, uint32_t rep, uint64_t seq)
{
	struct cl_msg m = { .type = CL_MSG_GRACE_END, .ring = { rep, seq } };
	return apply(sender, &m);
}

/*
 * A term begins when the machine becomes quorate in a later ring; its
 * epochs start above (ring seq << 32), so a minority that kept granting in
 * the old term (transitional deliveries) can never reach them.
 */
START_TEST(test_term_epochs_above_minority)
{
	struct cl_sm *minority;
	uint64_t e0 = GRAB(1, S("x"), EX);
	ck_assert_uint_eq(e0, 1);                 /* term of ring seq 0 */
	ck_assert_uint_eq(stats().term.seq, 0);
	ck_assert_uint_eq(stats().term.rep, 1);

	/* a copy of the machine stands for the minority {1,2}: it grants on in the old term */
	uint8_t *snap;
	size_t len;
	OK(cl_snap_encode(sm, &snap, &len));
	minority = cl_sm_new(NULL, NULL, NULL);
	ck_assert_ptr_nonnull(minority);
	OK(cl_snap_decode(snap, len, minority));
	free(snap);
	uint64_t max_minority = 0;
	for (int i = 0; i < 1000; i++) {
		char nm[16];
		int n = snprintf(nm, sizeof(nm), "m%d", i);
		struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, .req_id = 1,
				    .name = (const uint8_t *)nm, .namelen = (uint16_t)n };
		OK(cl_sm_apply(minority, 1, &m));
	}
	struct cl_sm_stats mst;
	cl_sm_stats(minority, &mst);
	max_minority = mst.epoch;
	ck_assert_uint_eq(max_minority, 1001);
	cl_sm_free(minority);

	/* the majority {3,4,5} forms ring seq 4 and becomes quorate: a new term */
	OK(confchg(3, 4, NODES(3, 4, 5), NODES(1, 2)));
	OK(quorum_now(3, true));
	ck_assert_uint_eq(stats().term.seq, 4);
	ck_assert_uint_eq(stats().term.rep, 3);
	uint64_t e1 = GRAB(4, S("y"), EX);
	ck_assert_uint_eq(e1, TEP(4, 1));
	ck_assert_uint_gt(e1, max_minority);

	/* losing and regaining quorum in the same ring keeps the term */
	OK(quorum_now(3, false));
	OK(quorum_now(3, true));
	ck_assert_uint_eq(stats().term.seq, 4);
	ck_assert_uint_eq(GRAB(4, S("z"), EX), TEP(4, 2));

	/* a QUORUM for a stale ring neither changes the term nor the epochs */
	OK(quorum(3, 3, 2, true));
	ck_assert_uint_eq(stats().term.seq, 4);
}
END_TEST

/* A term has 2^34 epochs; past them a grant is denied with -EOVERFLOW. */
START_TEST(test_term_epoch_range_exhausted)
{
	OK(confchg(1, 8, NODES(1, 2, 3, 4), NODES(5)));
	OK(quorum_now(1, true));
	ck_assert_uint_eq(stats().term.seq, 8);
	/* push the counter to the last epoch of the range through a snapshot header */
	uint8_t *snap;
	size_t len;
	OK(cl_snap_encode(sm, &snap, &len));
	struct cl_sm_header h;
	cl_sm_get_header(sm, &h);
	h.epoch = ((uint64_t)(8 + CL_RING_SEQ_STEP) << CL_EPOCH_TERM_SHIFT) - 2;
	struct cl_sm *m2 = cl_sm_new(NULL, record_action, &rec);
	ck_assert_ptr_nonnull(m2);
	OK(cl_sm_restore_header(m2, &h));
	OK(cl_sm_restore_finish(m2));
	free(snap);
	cl_sm_free(sm);
	sm = m2;
	uint64_t last = GRAB(1, S("a"), EX);
	ck_assert_uint_eq(last, ((uint64_t)12 << CL_EPOCH_TERM_SHIFT) - 1);
	OK(acq(2, S("b"), EX, 0, 9));
	X_N(1);
	X_DENY(0, 2, S("b"), -EOVERFLOW, 0, 9);
	/* a re-acquire of a held lease keeps its epoch and still works */
	OK(acq(1, S("a"), EX, 0, 10));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, last, 10);
	/* the next term renews the range */
	OK(confchg(1, 12, NODES(1, 2, 3), NODES(4)));
	OK(quorum_now(1, true));
	ck_assert_uint_eq(GRAB(2, S("b"), EX), TEP(12, 1));
}
END_TEST

/*
 * two_node & co: after a departure nothing is granted and no orphan is
 * freed on a timer until FENCE_ACK; index writes wait too.
 */
START_TEST(test_split_mode_waits_for_fence_ack)
{
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert(stats().split_mode);
	uint64_t ea = GRAB(2, S("a"), EX);
	uint64_t eb = GRAB(1, S("b"), EX);
	OK(confchg(1, 4, NODES(1, 3, 4, 5), NODES(2)));
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert(cl_sm_quorate(sm));
	ck_assert_uint_eq(stats().nunfenced, 1);
	/* a side that waits for a fence-ack keeps its old term (it could not
	 * outrank at a merge the side that was fence-acked and granted) */
	ck_assert_uint_lt(stats().term.seq, 4);

	/* no grant at all, with a clear reason */
	OK(acq(3, S("c"), EX, 0, 20));
	X_N(1);
	X_DENY(0, 3, S("c"), COROLEASE_EFENCING, 0, 20);
	/* a WAIT request is queued, and granted once the wait is over */
	OK(acq(3, S("a"), EX, WAIT, 21));
	ck_assert_int_ge(xfind(CL_ACT_QUEUED, 3), 0);
	ck_assert_uint_eq(xcount(CL_ACT_GRANT), 0);
	/* the fence timer's RECOVER_NODE does nothing */
	OK(recover(1, 2, stats().orphan_seq));
	X_N(0);
	ck_assert_uint_eq(stats().orphans, 1);
	/* the holder on this side keeps its lease but may not write the index */
	OK(put(1, S("b"), S("k"), S("v"), eb, 30));
	X_N(1);
	ck_assert_int_eq(rec.r[0].a.err, COROLEASE_EFENCING);

	/* FENCE_ACK ends the wait: orphans freed, grants resume */
	OK(fence(1, 2, 40));
	ck_assert_uint_eq(stats().nunfenced, 0);
	ck_assert_uint_eq(stats().orphans, 0);
	ck_assert_uint_eq(stats().term.seq, 4);     /* the term begins when grants may */
	X_RECOVERED((size_t)xfind(CL_ACT_RECOVERED, 2), 2, S("a"), ea);
	X_GRANT((size_t)xfind(CL_ACT_GRANT, 3), 3, S("a"), EX, TEP(4, 1), 21);
	ck_assert_uint_eq(GRAB(3, S("c"), EX), TEP(4, 2));
	OK(put(1, S("b"), S("k"), S("v"), eb, 31));
	ck_assert_int_eq(rec.r[0].a.err, 0);
}
END_TEST

/*
 * A sync round that joins lineages of different terms starts a new term in
 * the merge's ring: epochs jump above both sides' ranges; an older ring
 * changes nothing.
 */
START_TEST(test_merge_term)
{
	ck_assert_uint_eq(GRAB(2, S("a"), EX), TEP(cur_ring.seq, 1));
	struct cl_ring old = stats().term, merge = { .rep = 2, .seq = 40 };
	uint64_t lsn = stats().lsn;
	cl_sm_merge_term(sm, &old);
	ck_assert_uint_eq(stats().lsn, lsn + 1);
	ck_assert_uint_eq(GRAB(3, S("b"), EX), TEP(cur_ring.seq, 2));
	cl_sm_merge_term(sm, &merge);
	ck_assert_uint_eq(stats().term.seq, 40);
	ck_assert_uint_eq(stats().term.rep, 2);
	ck_assert_uint_eq(GRAB(3, S("c"), EX), TEP(40, 1));
}
END_TEST

/* A node back in the ring needs no fence-ack; its orphans stay until recovered. */
START_TEST(test_split_mode_rejoin_clears_wait)
{
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	GRAB(2, S("a"), EX);
	OK(confchg(1, 4, NODES(1, 3, 4, 5), NODES(2)));
	ck_assert_uint_eq(stats().nunfenced, 1);
	OK(confchg(1, 8, NODES(1, 2, 3, 4, 5), NOBODY));
	ck_assert_uint_eq(stats().nunfenced, 0);
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert_uint_eq(stats().orphans, 1);
	ck_assert_uint_eq(GRAB(3, S("c"), EX), TEP(8, 1));
	/* the rejoined node recovers its own orphan (its agent does so once safe) */
	OK(recover(2, 2, stats().orphan_seq));
	ck_assert_uint_eq(stats().orphans, 0);
}
END_TEST

/*
 * Requests queued while a departed node was awaited are granted when it is
 * back in the ring -- by the QUORUM for the merged ring, not by the
 * configuration change itself (both sides of a split apply that one, each
 * quorate, before the sync round picks one state).  Found by corolease-sim:
 * the waiters of a name nobody held stayed queued for good.
 */
START_TEST(test_split_mode_rejoin_grants_waiters)
{
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	OK(confchg(1, 4, NODES(1, 3, 4, 5), NODES(2)));
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert_uint_eq(stats().nunfenced, 1);
	OK(acq(3, S("a"), EX, WAIT, 21));
	ck_assert_int_ge(xfind(CL_ACT_QUEUED, 3), 0);
	OK(confchg(1, 8, NODES(1, 2, 3, 4, 5), NOBODY));
	ck_assert_uint_eq(stats().nunfenced, 0);
	/* nothing granted by the change; the machine waits for a verdict */
	ck_assert_uint_eq(xcount(CL_ACT_GRANT), 0);
	ck_assert(!cl_sm_quorate(sm));
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	X_GRANT((size_t)xfind(CL_ACT_GRANT, 3), 3, S("a"), EX, TEP(8, 1), 21);
	ck_assert_uint_eq(stats().waiters, 0);
}
END_TEST

/* A rejoin that leaves another node awaited changes nothing. */
START_TEST(test_split_mode_partial_rejoin_keeps_quorum)
{
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	OK(confchg(1, 4, NODES(1, 4, 5), NODES(2, 3)));
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert_uint_eq(stats().nunfenced, 2);
	OK(confchg(1, 8, NODES(1, 2, 4, 5), NOBODY));
	ck_assert_uint_eq(stats().nunfenced, 1);
	ck_assert(cl_sm_quorate(sm));
}
END_TEST

/* Without the split flag the same departure frees on the fence timer as before. */
START_TEST(test_plant_split_timer)
{
	make_sm(CL_UNSAFE_SPLIT_TIMER, 0, true);
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert(!stats().split_mode);
	GRAB(2, S("a"), EX);
	OK(confchg(1, 4, NODES(1, 3, 4, 5), NODES(2)));
	OK(quorum_flags(1, CL_QUORUM_YES | CL_QUORUM_SPLIT));
	ck_assert_uint_eq(stats().nunfenced, 0);
	OK(recover(1, 2, stats().orphan_seq));
	ck_assert_uint_eq(stats().orphans, 0);
}
END_TEST

/* Fresh state: nothing is granted until GRACE_END for the ring it was made in. */
START_TEST(test_grace_period)
{
	struct cl_ring r0 = cur_ring;
	cl_sm_start_grace(sm, &r0);
	ck_assert(stats().grace);
	OK(acq(1, S("a"), EX, 0, 1));
	X_N(1);
	X_DENY(0, 1, S("a"), COROLEASE_EGRACE, 0, 1);
	/* a WAIT request is queued until the grace period ends */
	OK(acq(2, S("a"), EX, WAIT, 2));
	X_N(1);
	X_QUEUED(0, 2, S("a"), 0, 2);
	/* a GRACE_END for another ring is stale */
	OK(grace_end(1, r0.rep, r0.seq + 4));
	X_N(0);
	ck_assert(stats().grace);
	OK(grace_end(3, r0.rep, r0.seq));
	ck_assert(!stats().grace);
	X_N(1);
	X_GRANT(0, 2, S("a"), EX, 1, 2);
	OK(acq(1, S("a"), EX, 0, 3));
	X_DENY((size_t)xfind(CL_ACT_DENY, 1), 1, S("a"), -EBUSY, 2, 3);
	OK(grace_end(3, r0.rep, r0.seq));   /* repeated: nothing */
	X_N(0);
	/* grace and the split state survive a snapshot and change the hash */
	uint64_t h0 = cl_sm_hash(sm);
	cl_sm_start_grace(sm, &r0);
	ck_assert_uint_ne(cl_sm_hash(sm), h0);
}
END_TEST

/* The index bound is the lineage's, carried in snapshots, not each node's setting. */
START_TEST(test_index_bound_replicated)
{
	make_sm(0, 5000, true);
	ck_assert_uint_eq(stats().index_mem_max, 5000);
	uint8_t *snap;
	size_t len;
	OK(cl_snap_encode(sm, &snap, &len));
	struct cl_sm_config other = { .index_mem_max = 1 << 20 };
	struct cl_sm *m2 = cl_sm_new(&other, NULL, NULL);
	ck_assert_ptr_nonnull(m2);
	OK(cl_snap_decode(snap, len, m2));
	free(snap);
	struct cl_sm_stats st;
	cl_sm_stats(m2, &st);
	ck_assert_uint_eq(st.index_mem_max, 5000);
	ck_assert_uint_eq(cl_sm_hash(m2), cl_sm_hash(sm));
	cl_sm_free(m2);
}
END_TEST

/* Holds a load dropped become orphans of their node (doc/state-machine.md). */
START_TEST(test_orphan_dropped)
{
	uint64_t ea = GRAB(2, S("a"), EX);          /* 2 still holds a with this epoch */
	uint64_t eb = GRAB(3, S("b"), EX);          /* b: 3 holds it, 2 had it elsewhere */
	uint64_t st0 = stats().orphan_seq;
	uint64_t seq = cl_sm_begin_dropped(sm);
	ck_assert_uint_eq(seq, st0 + 1);
	/* unchanged: node 2 holds a live with that epoch */
	OK(cl_sm_orphan_dropped(sm, 2, S("a"), EX, ea, seq));
	ck_assert_uint_eq(stats().orphans, 0);
	/* node 2 had b (another side's grant): an orphan beside 3's live EX hold */
	OK(cl_sm_orphan_dropped(sm, 2, S("b"), EX, 99, seq));
	ck_assert_uint_eq(stats().orphans, 1);
	ck_assert_uint_eq(LOOK(S("b")).nholders, 2);
	ck_assert_uint_eq(cl_sm_owner(sm, S("b")), 3);
	/* node 2 had c, which nobody holds now: orphaned, so nobody gets it */
	OK(cl_sm_orphan_dropped(sm, 2, S("c"), SH, 7, seq));
	ck_assert_uint_eq(stats().orphans, 2);
	OK(acq(4, S("c"), EX, 0, 50));
	X_DENY(0, 4, S("c"), -EBUSY, 2, 50);
	/* node 2 holds d live with another epoch than it had: that hold is orphaned */
	uint64_t ed = GRAB(2, S("d"), EX);
	OK(cl_sm_orphan_dropped(sm, 2, S("d"), EX, ed + 1000, seq));
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("d"), 2, NULL), 0);
	ck_assert_uint_eq(stats().orphans, 3);
	/* bad input */
	ck_assert_int_eq(cl_sm_orphan_dropped(sm, 0, S("e"), EX, 1, seq), -EINVAL);
	ck_assert_int_eq(cl_sm_orphan_dropped(sm, 2, S("e"), 9, 1, seq), -EINVAL);
	ck_assert_int_eq(cl_sm_orphan_dropped(sm, 2, S("e"), EX, 1, seq + 1), -EINVAL);
	/* the orphans survive a snapshot, a live EX beside an orphan included */
	uint8_t *snap;
	size_t len;
	OK(cl_snap_encode(sm, &snap, &len));
	struct cl_sm *b = cl_sm_new(NULL, NULL, NULL);
	ck_assert_ptr_nonnull(b);
	OK(cl_snap_decode(snap, len, b));
	ck_assert_uint_eq(cl_sm_hash(b), cl_sm_hash(sm));
	cl_sm_free(b);
	free(snap);
	/* node 2 recovers its own orphans; waiters get them */
	OK(acq(4, S("c"), EX, WAIT, 51));
	OK(recover(2, 2, seq));
	ck_assert_uint_eq(stats().orphans, 0);
	/* ... above every epoch a dropped hold had (99 and ed + 1000) */
	X_GRANT((size_t)xfind(CL_ACT_GRANT, 4), 4, S("c"), EX, ed + 1001, 51);
	(void)eb;
}
END_TEST

/* CL_ACQ_NEW_EPOCH: a holder's re-ask re-stamps its hold with a new epoch. */
START_TEST(test_acquire_new_epoch)
{
	uint64_t e1 = GRAB(1, S("a"), EX);
	OK(acq(1, S("a"), EX, 0, 7));
	X_GRANT(0, 1, S("a"), EX, e1, 7);          /* plain re-ask: the same epoch */
	OK(acq(1, S("a"), SH, CL_ACQ_NEW_EPOCH, 8));
	X_N(1);
	X_GRANT(0, 1, S("a"), EX, e1 + 1, 8);      /* new epoch, mode kept */
	ck_assert_uint_eq(cl_sm_hold_epoch(sm, S("a"), 1, NULL), e1 + 1);
	/* from a node that does not hold it, the flag changes nothing */
	uint64_t e2 = GRAB(2, S("b"), SH);
	OK(acq(3, S("b"), SH, CL_ACQ_NEW_EPOCH, 9));
	X_GRANT(0, 3, S("b"), SH, e2 + 1, 9);
}
END_TEST

static Suite *lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("acquire");
	TCase *nq = tcase_create("not-quorate");
	TCase *mem = tcase_create("membership");
	TCase *adm = tcase_create("admin");
	TCase *q = tcase_create("queries");
	TCase *det = tcase_create("determinism");
	TCase *saf = tcase_create("safety");

	tcase_add_checked_fixture(saf, setup_quorate, teardown);
	tcase_add_test(saf, test_term_epochs_above_minority);
	tcase_add_test(saf, test_term_epoch_range_exhausted);
	tcase_add_test(saf, test_split_mode_waits_for_fence_ack);
	tcase_add_test(saf, test_split_mode_rejoin_clears_wait);
	tcase_add_test(saf, test_merge_term);
	tcase_add_test(saf, test_split_mode_rejoin_grants_waiters);
	tcase_add_test(saf, test_split_mode_partial_rejoin_keeps_quorum);
	tcase_add_test(saf, test_plant_split_timer);
	tcase_add_test(saf, test_grace_period);
	tcase_add_test(saf, test_index_bound_replicated);
	tcase_add_test(saf, test_orphan_dropped);
	suite_add_tcase(s, saf);

	tcase_add_checked_fixture(tc, setup_quorate, teardown);
	tcase_add_test(tc, test_grant_free_name_epochs);
	tcase_add_test(tc, test_acquire_new_epoch);
	tcase_add_test(tc, test_idempotent_reacquire);
	tcase_add_test(tc, test_sh_batching);
	tcase_add_test(tc, test_sh_holds_move_between_record_and_array);
	tcase_add_test(tc, test_dirty_burst_keeps_the_hash);
	tcase_add_loop_test(tc, test_dirty_list_random_bursts, 0, 3);
	tcase_add_test(tc, test_conflict_nowait_deny);
	tcase_add_test(tc, test_wait_queued_blocking);
	tcase_add_test(tc, test_fifo_order);
	tcase_add_test(tc, test_sh_waiters_together_stop_at_ex);
	tcase_add_test(tc, test_sh_does_not_overtake_ex_waiter);
	tcase_add_test(tc, test_conversion_sole_holder);
	tcase_add_test(tc, test_conversion_queued_not_sole);
	tcase_add_test(tc, test_release_wrong_epoch_ignored);
	tcase_add_test(tc, test_handover_done);
	tcase_add_test(tc, test_name_lengths);
	tcase_add_test(tc, test_apply_rejects_sync_types);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(nq, setup_not_quorate, teardown);
	tcase_add_test(nq, test_not_quorate_denies);
	tcase_add_test(nq, test_unsafe_no_quorum_check);
	suite_add_tcase(s, nq);

	tcase_add_checked_fixture(mem, setup_quorate, teardown);
	tcase_add_test(mem, test_queued_granted_on_quorum);
	tcase_add_test(mem, test_quorum_stale_ring_ignored);
	tcase_add_test(mem, test_q_lsn);
	tcase_add_test(mem, test_confchg_departure_orphans);
	tcase_add_test(mem, test_confchg_two_departures);
	tcase_add_test(mem, test_orphan_blocks_own_node);
	tcase_add_test(mem, test_recover_node_seq);
	tcase_add_test(mem, test_recover_name_order);
	tcase_add_test(mem, test_recover_node_not_quorate);
	tcase_add_test(mem, test_info_owner);
	tcase_add_test(mem, test_unsafe_no_orphan_wait);
	tcase_add_test(mem, test_unsafe_both);
	tcase_add_test(mem, test_confchg_invalid);
	suite_add_tcase(s, mem);

	tcase_add_checked_fixture(adm, setup_quorate, teardown);
	tcase_add_test(adm, test_fence_ack);
	tcase_add_test(adm, test_evict);
	tcase_add_test(adm, test_nop);
	tcase_add_test(adm, test_lsn_counts_every_input);
	suite_add_tcase(s, adm);

	tcase_add_checked_fixture(q, setup_quorate, teardown);
	tcase_add_test(q, test_queries);
	tcase_add_test(q, test_owner_orphan_fallback);
	tcase_add_test(q, test_hash_sensitivity);
	tcase_add_test(q, test_free_null_and_names);
	tcase_add_test(q, test_scan_budget);
	tcase_add_test(q, test_scan_resumes_across_changes);
	suite_add_tcase(s, q);

	/* a few seconds; minutes under ASan on a loaded machine */
	TCase *big = tcase_create("dirty-max");
	tcase_set_timeout(big, 600);
	tcase_add_test(big, test_dirty_max_rebuild);
	suite_add_tcase(s, big);

	tcase_set_timeout(det, 120);
	tcase_add_loop_test(det, test_determinism_random, 0, 3);
	tcase_add_test(det, test_siphash);
	tcase_add_test(det, test_restore_roundtrip_hash);
	suite_add_tcase(s, det);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lease_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
