/*
 * check_watch.c - unit tests for lockd/watch.c: the per-connection watch
 * quota, and that an index change reaches exactly the watchers of its name
 * (and those of every name) at a cost that does not grow with the number of
 * other connections and names.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watch.h"

static struct cld_watch_reg R;

static void setup(void)
{
	ck_assert_int_eq(cld_watch_reg_init(&R), 0);
}

static void teardown(void)
{
	ck_assert_uint_eq(R.nwatches, 0);
	ck_assert_uint_eq(R.nall, 0);
	ck_assert_uint_eq(R.names.n, 0);
	cld_watch_reg_fini(&R);
}

/* Records the watchers a foreach reached, in order. */
struct seen {
	struct cld_watcher *w[8];
	size_t n;
};

static void see(void *ctx, struct cld_watcher *w)
{
	struct seen *s = ctx;
	ck_assert_uint_lt(s->n, 8);
	s->w[s->n++] = w;
}

static size_t reach(const char *name, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return cld_watch_foreach(&R, name, strlen(name), see, s);
}

START_TEST(add_del_and_quota)
{
	struct cld_watcher a;
	cld_watcher_init(&a);
	ck_assert_int_eq(cld_watch_add(&R, &a, "x", 1, 2), 0);
	ck_assert_int_eq(cld_watch_add(&R, &a, "x", 1, 2), 0);   /* again: no second watch */
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(cld_watch_add(&R, &a, "y", 1, 2), 0);
	ck_assert_int_eq(cld_watch_add(&R, &a, "z", 1, 2), -EDQUOT);
	ck_assert_int_eq(cld_watch_add(&R, &a, "x", 1, 2), 0);   /* held already: no quota needed */
	ck_assert_int_eq(cld_watch_add(&R, &a, "", 0, 2), -EINVAL);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(R.nwatches, 2);
	ck_assert_uint_eq(R.names.n, 2);
	/* watching every name costs no quota */
	cld_watch_all(&R, &a, true);
	cld_watch_all(&R, &a, true);
	ck_assert_uint_eq(R.nall, 1);
	ck_assert_int_eq(cld_watch_add(&R, &a, "z", 1, 2), -EDQUOT);
	cld_watch_del(&R, &a, "y", 1);
	cld_watch_del(&R, &a, "y", 1);                           /* not watched: nothing */
	ck_assert_int_eq(cld_watch_add(&R, &a, "z", 1, 2), 0);
	ck_assert_uint_eq(R.names.n, 2);
	cld_watcher_forget(&R, &a);
	ck_assert_uint_eq(a.n, 0);
	ck_assert(!a.all);
}
END_TEST

/*
 * max_watches_per_uid (breaker F6): two watchers of one uid share its
 * bound; the client's own bound applies when lower; root is exempt.
 */
START_TEST(uid_quota)
{
	struct cld_watcher a, b;
	cld_watcher_init(&a);
	cld_watcher_init(&b);
	bool ub;
	uint64_t uid_n = 0;
	/* per client 3, per uid 4: a takes 3 (its own bound), b then 1 (the uid's) */
	const char *names[] = { "n1", "n2", "n3", "n4", "n5" };
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(cld_watch_quota(3, a.n, uid_n, 4, false, &ub), 3);
		ck_assert(!ub);
		int rc = cld_watch_add(&R, &a, names[i], 2, cld_watch_quota(3, a.n, uid_n, 4, false, &ub));
		ck_assert_int_eq(rc, i < 3 ? 0 : -EDQUOT);
		uid_n = a.n;
	}
	ck_assert_uint_eq(cld_watch_quota(3, b.n, uid_n, 4, false, &ub), 1);
	ck_assert(ub);
	ck_assert_int_eq(cld_watch_add(&R, &b, "n4", 2, cld_watch_quota(3, b.n, uid_n, 4, false, &ub)), 0);
	uid_n += b.n;
	ck_assert_int_eq(cld_watch_add(&R, &b, "n5", 2, cld_watch_quota(3, b.n, uid_n, 4, false, &ub)),
			 -EDQUOT);
	ck_assert(ub);
	/* a name b watches already needs no room */
	ck_assert_int_eq(cld_watch_add(&R, &b, "n4", 2, cld_watch_quota(3, b.n, uid_n, 4, false, &ub)), 0);
	/* over the bound (it was lowered): no room, never an underflow */
	ck_assert_uint_eq(cld_watch_quota(3, 1, 9, 4, false, &ub), 1);
	ck_assert(ub);
	/* root: the client's bound only */
	ck_assert_uint_eq(cld_watch_quota(3, 0, 9, 4, true, &ub), 3);
	ck_assert(!ub);
	cld_watcher_forget(&R, &a);
	cld_watcher_forget(&R, &b);
}
END_TEST

START_TEST(each_watcher_once)
{
	struct cld_watcher a, b, c;
	cld_watcher_init(&a);
	cld_watcher_init(&b);
	cld_watcher_init(&c);
	struct seen s;
	ck_assert_uint_eq(reach("x", &s), 0);
	ck_assert_int_eq(cld_watch_add(&R, &a, "x", 1, 10), 0);
	ck_assert_int_eq(cld_watch_add(&R, &b, "x", 1, 10), 0);
	ck_assert_int_eq(cld_watch_add(&R, &b, "y", 1, 10), 0);
	ck_assert_uint_eq(reach("x", &s), 2);
	ck_assert_ptr_eq(s.w[0], &a);
	ck_assert_ptr_eq(s.w[1], &b);
	ck_assert_uint_eq(reach("y", &s), 1);
	ck_assert_ptr_eq(s.w[0], &b);
	ck_assert_uint_eq(reach("xy", &s), 0);
	/* c watches every name: reached for any name, first */
	cld_watch_all(&R, &c, true);
	ck_assert_uint_eq(reach("nobody-watches-this", &s), 1);
	ck_assert_ptr_eq(s.w[0], &c);
	ck_assert_uint_eq(reach("x", &s), 3);
	ck_assert_ptr_eq(s.w[0], &c);
	/* a watcher of both every name and x is reached once */
	cld_watch_all(&R, &a, true);
	ck_assert_uint_eq(reach("x", &s), 3);
	ck_assert_ptr_eq(s.w[0], &c);
	ck_assert_ptr_eq(s.w[1], &a);
	ck_assert_ptr_eq(s.w[2], &b);
	cld_watch_all(&R, &a, false);
	ck_assert_uint_eq(reach("x", &s), 3);
	/* a disconnect drops every watch of its watcher, and names nobody watches */
	cld_watcher_forget(&R, &b);
	ck_assert_uint_eq(reach("y", &s), 1);
	ck_assert_ptr_eq(s.w[0], &c);
	ck_assert_uint_eq(R.names.n, 1);
	cld_watcher_forget(&R, &a);
	cld_watcher_forget(&R, &c);
	cld_watcher_forget(&R, &c);                              /* twice: nothing */
}
END_TEST

static void count_cb(void *ctx, struct cld_watcher *w)
{
	(void)w;
	(*(size_t *)ctx)++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of 5 rounds: nanoseconds per change of "hot" (one watcher of its own). */
static double ns_per_change(size_t rounds)
{
	double best = 1e30;
	for (int k = 0; k < 5; k++) {
		size_t calls = 0;
		double t0 = now_s();
		for (size_t i = 0; i < rounds; i++)
			cld_watch_foreach(&R, "hot", 3, count_cb, &calls);
		double ns = (now_s() - t0) * 1e9 / (double)rounds;
		ck_assert_uint_eq(calls, rounds);
		if (ns < best)
			best = ns;
	}
	return best;
}

/*
 * 100,000 other connections each watching a name of its own: a change of
 * "hot" still reaches its one watcher and nobody else, and costs about what
 * it costs with no other watcher.  A walk over every connection would make
 * it some 100,000 times dearer; the bound allows 20 times, for noise.
 */
START_TEST(cost_independent_of_other_watchers)
{
	enum { OTHERS = 100000, ROUNDS = 20000 };
	struct cld_watcher hot;
	cld_watcher_init(&hot);
	ck_assert_int_eq(cld_watch_add(&R, &hot, "hot", 3, 1), 0);
	double alone = ns_per_change(ROUNDS);

	struct cld_watcher *others = calloc(OTHERS, sizeof(*others));
	ck_assert_ptr_nonnull(others);
	char name[32];
	for (size_t i = 0; i < OTHERS; i++) {
		cld_watcher_init(&others[i]);
		int n = snprintf(name, sizeof(name), "mailbox/%zu", i);
		ck_assert_int_eq(cld_watch_add(&R, &others[i], name, (size_t)n, 1), 0);
	}
	size_t calls = 0;
	ck_assert_uint_eq(cld_watch_foreach(&R, "hot", 3, count_cb, &calls), 1);
	ck_assert_uint_eq(cld_watch_foreach(&R, "mailbox/77", 10, count_cb, &calls), 1);
	double crowded = ns_per_change(ROUNDS);
	printf("check_watch: a change of one name with 1 watcher: %.0f ns alone, %.0f ns beside "
	       "%d other watchers of other names (ratio %.2f)\n", alone, crowded, OTHERS,
	       crowded / alone);
	ck_assert_msg(crowded < 20 * alone + 200, "%.0f ns beside %d watchers vs %.0f ns alone",
		      crowded, OTHERS, alone);
	for (size_t i = 0; i < OTHERS; i++)
		cld_watcher_forget(&R, &others[i]);
	free(others);
	cld_watcher_forget(&R, &hot);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("registry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, add_del_and_quota);
	tcase_add_test(tc, uid_quota);
	tcase_add_test(tc, each_watcher_once);
	tcase_add_test(tc, cost_independent_of_other_watchers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	SRunner *sr = srunner_create(watch_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
