/*
 * check_sendhold.c - when a batch of cluster messages waits for one of the
 * node's own CPG messages back (lockd/sendhold.c; issue 9).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdlib.h>

#include <check.h>

#include "sendhold.h"

/* Idle, and with fewer than max in flight, a batch goes at once. */
START_TEST(idle_never_waits)
{
	struct cld_sendhold h;
	cld_sendhold_init(&h, 2);
	ck_assert(!cld_sendhold_wait(&h));
	cld_sendhold_sent(&h);
	ck_assert(!cld_sendhold_wait(&h));
}
END_TEST

/* At max in flight a batch waits; one back lets it go. */
START_TEST(waits_at_max_until_one_is_back)
{
	struct cld_sendhold h;
	cld_sendhold_init(&h, 2);
	cld_sendhold_sent(&h);
	cld_sendhold_sent(&h);
	ck_assert(cld_sendhold_wait(&h));
	cld_sendhold_sent(&h);   /* a full batch goes anyway: three in flight */
	ck_assert(cld_sendhold_wait(&h));
	ck_assert(!cld_sendhold_back(&h));   /* two left: still waiting */
	ck_assert(cld_sendhold_back(&h));    /* one left */
	ck_assert(!cld_sendhold_wait(&h));
	ck_assert(cld_sendhold_back(&h));
	ck_assert_uint_eq(h.inflight, 0);
}
END_TEST

/* max 0 (batch_inflight = 0): never waits, however many are in flight. */
START_TEST(zero_never_waits)
{
	struct cld_sendhold h;
	cld_sendhold_init(&h, 0);
	for (int i = 0; i < 100; i++)
		cld_sendhold_sent(&h);
	ck_assert(!cld_sendhold_wait(&h));
	ck_assert(cld_sendhold_back(&h));
}
END_TEST

/*
 * A new ring clears the count; what was sent before may still come back
 * afterwards, and must not take the count below zero (a batch would then
 * never wait) nor leave it stuck high (a batch would always wait).
 */
START_TEST(reset_then_late_deliveries)
{
	struct cld_sendhold h;
	cld_sendhold_init(&h, 2);
	cld_sendhold_sent(&h);
	cld_sendhold_sent(&h);
	ck_assert(cld_sendhold_wait(&h));
	cld_sendhold_reset(&h);
	ck_assert(!cld_sendhold_wait(&h));
	ck_assert(cld_sendhold_back(&h));
	ck_assert(cld_sendhold_back(&h));
	ck_assert_uint_eq(h.inflight, 0);
	/* and counting starts again from zero */
	cld_sendhold_sent(&h);
	ck_assert(!cld_sendhold_wait(&h));
	cld_sendhold_sent(&h);
	ck_assert(cld_sendhold_wait(&h));
}
END_TEST

/* Messages never delivered back (cut off, no ring change seen) cannot wrap the count. */
START_TEST(count_saturates)
{
	struct cld_sendhold h;
	cld_sendhold_init(&h, 64);
	h.inflight = ~0u - 1;
	cld_sendhold_sent(&h);
	cld_sendhold_sent(&h);
	ck_assert_uint_eq(h.inflight, ~0u);
	ck_assert(cld_sendhold_wait(&h));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sendhold");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, idle_never_waits);
	tcase_add_test(tc, waits_at_max_until_one_is_back);
	tcase_add_test(tc, zero_never_waits);
	tcase_add_test(tc, reset_then_late_deliveries);
	tcase_add_test(tc, count_saturates);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
