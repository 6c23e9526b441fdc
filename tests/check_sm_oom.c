/*
 * check_sm_oom.c - the machine's out-of-memory policy (lease.h): every
 * allocation that fails while an input is applied poisons the machine, which
 * reports -ENOMEM from that input on; no failure is ever swallowed.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * A script of inputs that makes the machine allocate in every way it can
 * (records, holds arrays, waiters, the sorted scratch of recover / quorum /
 * departures, index entries and arrays, evictions) runs once for reference,
 * then again with allocation number k failing, for every k until a run
 * meets no failure.  Linked with tests/support/failalloc.c and --wrap.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "index.h"
#include "lease.h"

struct step {
	enum { S_MSG, S_CONFCHG } kind;
	uint32_t sender;
	struct cl_msg m;
	uint32_t members[8], left[8];
	size_t nmembers, nleft;
	uint64_t ring_seq;
};

#define NAME(s) .name = (const uint8_t *)(s), .namelen = sizeof(s) - 1
#define KEY(s) .key = (const uint8_t *)(s), .keylen = sizeof(s) - 1

static uint8_t big[20000];

static struct step script[64];
static size_t nscript;

static void add_msg(uint32_t sender, struct cl_msg m)
{
	script[nscript++] = (struct step){ .kind = S_MSG, .sender = sender, .m = m };
}

static void add_confchg(uint64_t seq, const uint32_t *mem, size_t nm, const uint32_t *left, size_t nl)
{
	struct step *s = &script[nscript++];
	*s = (struct step){ .kind = S_CONFCHG, .ring_seq = seq, .nmembers = nm, .nleft = nl };
	memcpy(s->members, mem, nm * sizeof(*mem));
	if (nl)
		memcpy(s->left, left, nl * sizeof(*left));
}

static void quorum(uint64_t seq)
{
	add_msg(1, (struct cl_msg){ .type = CL_MSG_QUORUM, .flags = CL_QUORUM_YES,
				    .ring = { 1, seq } });
}

static void build_script(void)
{
	static const uint32_t all[] = { 1, 2, 3, 4 }, three[] = { 1, 2, 3 }, four[] = { 4 };
	nscript = 0;
	add_confchg(0, all, 4, NULL, 0);   /* ring seq 0: the first term's epochs start at 1 */
	quorum(0);
	/* records, SH holders (the holds move from the record to an array), waiters */
	for (uint32_t n = 1; n <= 4; n++)
		add_msg(n, (struct cl_msg){ .type = CL_MSG_ACQUIRE, .mode = CL_MODE_SH, NAME("shared"),
					    .req_id = n });
	add_msg(1, (struct cl_msg){ .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, NAME("a"), .req_id = 5 });
	for (uint32_t n = 2; n <= 4; n++)
		add_msg(n, (struct cl_msg){ .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX,
					    .flags = CL_ACQ_WAIT, NAME("a"), .req_id = 5 + n });
	add_msg(4, (struct cl_msg){ .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, NAME("b"), .req_id = 10 });
	add_msg(1, (struct cl_msg){ .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, .flags = CL_ACQ_WAIT,
				    NAME("b"), .req_id = 11 });
	/* index entries, a growing entry array, then evictions under the bound */
	const char *keys[] = { "k1", "k2", "k3", "k4", "k5", "k6" };
	for (int i = 0; i < 6; i++)
		add_msg(1, (struct cl_msg){ .type = CL_MSG_INDEX_PUT, NAME("a"),
					    .key = (const uint8_t *)keys[i], .keylen = 2,
					    .value = big, .vallen = 1000, .epoch = 5, .req_id = 20 + (uint64_t)i });
	/* epochs: "shared" 1..4, "a" 5 (node 1), "b" 6 (node 4); each release grants the next waiter */
	add_msg(1, (struct cl_msg){ .type = CL_MSG_RELEASE, NAME("a"), .epoch = 5 });   /* node 2: 7 */
	add_msg(2, (struct cl_msg){ .type = CL_MSG_INDEX_PUT, NAME("a"), KEY("k1"), .value = big,
				    .vallen = 100, .epoch = 7, .req_id = 30 });
	add_msg(2, (struct cl_msg){ .type = CL_MSG_RELEASE, NAME("a"), .epoch = 7 });   /* node 3: 8 */
	add_msg(3, (struct cl_msg){ .type = CL_MSG_RELEASE, NAME("a"), .epoch = 8 });   /* node 4: 9 */
	add_msg(4, (struct cl_msg){ .type = CL_MSG_RELEASE, NAME("a"), .epoch = 9 });   /* a: index only */
	add_msg(4, (struct cl_msg){ .type = CL_MSG_INDEX_PUT, NAME("b"), KEY("kb"), .value = big,
				    .vallen = 9000, .epoch = 6, .req_id = 31 });           /* evicts a */
	/* node 4 departs: its holds become orphans, in name order (sorted scratch) */
	add_confchg(11, three, 3, four, 1);
	quorum(11);
	add_msg(1, (struct cl_msg){ .type = CL_MSG_RECOVER_NODE, .node = 4, .seq = 1 });
	add_msg(2, (struct cl_msg){ .type = CL_MSG_FENCE_ACK, .node = 4, .req_id = 40 });
	add_msg(3, (struct cl_msg){ .type = CL_MSG_NOP, .req_id = 41 });
}

/* What the reference run (no injection) saw. */
struct outcome {
	int rc[64];
	uint64_t hash_after[64];
	struct cl_sm_stats end;
	unsigned grants, index_ok;
};

static void count_action(void *ctx, const struct cl_action *a)
{
	struct outcome *o = ctx;
	if (!o)
		return;
	o->grants += a->type == CL_ACT_GRANT;
	o->index_ok += a->type == CL_ACT_INDEX_DONE && a->err == 0;
}

static int run_step(struct cl_sm *sm, const struct step *s)
{
	if (s->kind == S_CONFCHG) {
		struct cl_ring r = { 1, s->ring_seq };
		return cl_sm_confchg(sm, &r, s->members, s->nmembers, s->left, s->nleft);
	}
	return cl_sm_apply(sm, s->sender, &s->m);
}

static const struct cl_sm_config oom_cfg = { .index_mem_max = 12000 };

static void reference(struct outcome *o)
{
	struct cl_sm *sm = cl_sm_new(&oom_cfg, count_action, o);
	ck_assert_ptr_nonnull(sm);
	for (size_t i = 0; i < nscript; i++) {
		o->rc[i] = run_step(sm, &script[i]);
		o->hash_after[i] = cl_sm_hash(sm);
	}
	cl_sm_stats(sm, &o->end);
	cl_sm_free(sm);
}

START_TEST(every_allocation_failure_poisons)
{
	build_script();
	struct outcome ref;
	memset(&ref, 0, sizeof(ref));
	reference(&ref);
	for (size_t i = 0; i < nscript; i++)
		ck_assert_msg(ref.rc[i] == 0, "reference step %zu returned %d", i, ref.rc[i]);
	/* the script does what it claims: grants, index writes, an eviction, orphans freed */
	ck_assert_uint_eq(ref.grants, 10);
	ck_assert_uint_eq(ref.index_ok, 8);
	ck_assert_uint_ge(ref.end.index_evictions, 1);
	ck_assert_uint_eq(ref.end.orphans, 0);
	unsigned long k;
	unsigned poisoned = 0;
	for (k = 0; k < 100000; k++) {
		struct cl_sm *sm = cl_sm_new(&oom_cfg, count_action, NULL);
		ck_assert_ptr_nonnull(sm);
		failalloc_arm(k);
		failalloc_suspend();
		size_t first_fail = SIZE_MAX;
		for (size_t i = 0; i < nscript; i++) {
			unsigned long before = failalloc_failed();
			failalloc_resume();
			int rc = run_step(sm, &script[i]);
			failalloc_suspend();   /* Check's assertions allocate too */
			bool hit = failalloc_failed() > before;
			if (first_fail == SIZE_MAX) {
				if (hit) {
					/* the failing input says so, and the machine is poisoned */
					ck_assert_msg(rc == -ENOMEM && cl_sm_failed(sm),
						      "k=%lu step %zu: an allocation failed but the input "
						      "returned %d, failed=%d", k, i, rc, cl_sm_failed(sm));
					first_fail = i;
				} else {
					/* no failure yet: exactly the reference */
					ck_assert_int_eq(rc, ref.rc[i]);
					ck_assert(!cl_sm_failed(sm));
					ck_assert_uint_eq(cl_sm_hash(sm), ref.hash_after[i]);
				}
			} else {
				/* poisoned: every later input is refused at once */
				ck_assert_int_eq(rc, -ENOMEM);
				ck_assert(cl_sm_failed(sm));
				ck_assert_uint_eq(failalloc_failed(), before);
			}
		}
		bool any = failalloc_failed() > 0;
		failalloc_disarm();
		cl_sm_free(sm);
		if (!any)
			break;          /* k exceeds the script's allocations: done */
		poisoned++;
	}
	ck_assert_msg(k < 100000, "script never ran out of injected failures");
	ck_assert_msg(poisoned > 20, "only %u allocation points", poisoned);   /* the script allocates in many places */
}
END_TEST

static Suite *oom_suite(void)
{
	Suite *s = suite_create("sm_oom");
	TCase *tc = tcase_create("oom");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_allocation_failure_poisons);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	memset(big, 'v', sizeof(big));
	SRunner *sr = srunner_create(oom_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
