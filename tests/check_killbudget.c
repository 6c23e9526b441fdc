/*
 * check_killbudget.c - the /proc reads of COROLEASE_KILL walks, per uid
 * (lockd/killbudget.c; breaker F2: one uid's kills spent the budget
 * another uid's kill needed).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdlib.h>

#include <check.h>

#include "killbudget.h"

#define SEC 1000000u

/* One uid spending its second's reads leaves another uid's untouched. */
START_TEST(per_uid)
{
	struct cld_killbudget b;
	cld_killbudget_init(&b, 1024, SEC);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(cld_killbudget_avail(&b, 1000, 10, 256), 256);
		cld_killbudget_charge(&b, 1000, 10, 256);
	}
	ck_assert_uint_eq(cld_killbudget_avail(&b, 1000, 20, 256), 0);
	ck_assert_uint_eq(cld_killbudget_next(&b, 1000, 20), 10 + SEC);
	/* the victim's own budget is whole; root's too */
	ck_assert_uint_eq(cld_killbudget_avail(&b, 1001, 20, 256), 256);
	ck_assert_uint_eq(cld_killbudget_next(&b, 1001, 20), 20);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 0, 20, 4096), 1024);
	/* a part of a walk's worth, then nothing */
	cld_killbudget_charge(&b, 1001, 20, 1000);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 1001, 30, 256), 24);
	cld_killbudget_charge(&b, 1001, 30, 100);   /* a walk may spend a little more */
	ck_assert_uint_eq(cld_killbudget_avail(&b, 1001, 30, 256), 0);
}
END_TEST

/* The window ends a second after its first charge: the budget is whole again. */
START_TEST(window_refills)
{
	struct cld_killbudget b;
	cld_killbudget_init(&b, 1024, SEC);
	cld_killbudget_charge(&b, 7, 100, 1024);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 7, 100 + SEC - 1, 1), 0);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 7, 100 + SEC, 256), 256);
	ck_assert_uint_eq(cld_killbudget_next(&b, 7, 100 + SEC), 100 + SEC);
}
END_TEST

/*
 * More uids than entries, all within a second: the uids beyond share one
 * budget (only they can cut one another's); an idle entry (its second
 * over) goes to a new uid.  A uid's entry is kept while its window is
 * open, whatever others do.
 */
START_TEST(more_uids_than_entries)
{
	struct cld_killbudget b;
	cld_killbudget_init(&b, 1024, SEC);
	for (uint32_t u = 0; u < CLD_KILLBUDGET_UIDS; u++)
		cld_killbudget_charge(&b, 5000 + u, 10, 1024);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 9000, 20, 256), 256);
	cld_killbudget_charge(&b, 9000, 20, 1024);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 9001, 20, 256), 0);   /* the shared one */
	for (uint32_t u = 0; u < CLD_KILLBUDGET_UIDS; u++)
		ck_assert_uint_eq(cld_killbudget_avail(&b, 5000 + u, 30, 256), 0);
	/* a second later the entries are idle: a new uid gets one of its own */
	ck_assert_uint_eq(cld_killbudget_avail(&b, 9002, 10 + SEC, 256), 256);
	cld_killbudget_charge(&b, 9002, 10 + SEC, 1024);
	ck_assert_uint_eq(cld_killbudget_avail(&b, 9003, 10 + SEC, 256), 256);
}
END_TEST

/* A warning line a second for each uid; another uid's lines do not take it. */
START_TEST(log_per_uid)
{
	struct cld_killbudget b;
	uint64_t n;
	cld_killbudget_init(&b, 1024, SEC);
	ck_assert(cld_killbudget_log(&b, 1000, 10, SEC, &n));
	ck_assert_uint_eq(n, 0);
	for (int i = 0; i < 5; i++)
		ck_assert(!cld_killbudget_log(&b, 1000, 20, SEC, &n));
	ck_assert(cld_killbudget_log(&b, 1001, 20, SEC, &n));   /* the victim's line */
	ck_assert(cld_killbudget_log(&b, 1000, 10 + SEC, SEC, &n));
	ck_assert_uint_eq(n, 5);
	ck_assert(!cld_killbudget_log(&b, 1000, 11 + SEC, SEC, &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("killbudget");
	TCase *tc = tcase_create("budget");
	tcase_add_test(tc, per_uid);
	tcase_add_test(tc, window_refills);
	tcase_add_test(tc, more_uids_than_entries);
	tcase_add_test(tc, log_per_uid);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
