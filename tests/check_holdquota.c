/*
 * check_holdquota.c - the client hold slots shared out among uids
 * (lockd/holdquota.c; issue 8, F5).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>

#include <check.h>

#include "holdquota.h"

static struct cld_holdquota_stats stats(const struct cld_holdquota *q)
{
	struct cld_holdquota_stats st;
	cld_holdquota_stats(q, &st);
	return st;
}

/* One uid takes its share and no more; others still have room. */
START_TEST(per_uid_share)
{
	struct cld_holdquota *q = cld_holdquota_new(10, 4, 2);
	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(cld_holdquota_take(q, 1000, false), 0);
	ck_assert_int_eq(cld_holdquota_take(q, 1000, false), -EDQUOT);
	ck_assert_uint_eq(cld_holdquota_of(q, 1000), 4);
	ck_assert_int_eq(cld_holdquota_take(q, 1001, false), 0);
	ck_assert_uint_eq(stats(q).refused_uid, 1);
	ck_assert_uint_eq(stats(q).used, 5);
	/* a slot given back may be taken again */
	cld_holdquota_put(q, 1000);
	ck_assert_int_eq(cld_holdquota_take(q, 1000, false), 0);
	ck_assert_uint_eq(stats(q).shared, 10);
	ck_assert_uint_eq(stats(q).per_uid, 4);
	ck_assert_uint_eq(stats(q).reserve, 2);
	cld_holdquota_free(q);
}
END_TEST

/* Shared slots all taken: users are refused, root has its reserve and no share bound. */
START_TEST(reserve_for_privileged)
{
	struct cld_holdquota *q = cld_holdquota_new(6, 3, 2);
	ck_assert_ptr_nonnull(q);
	for (uint32_t uid = 1000; uid < 1002; uid++)
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(cld_holdquota_take(q, uid, false), 0);
	ck_assert_int_eq(cld_holdquota_take(q, 1002, false), -ENOSPC);
	ck_assert_uint_eq(stats(q).refused_full, 1);
	ck_assert_int_eq(cld_holdquota_take(q, 0, true), 0);
	ck_assert_int_eq(cld_holdquota_take(q, 0, true), 0);
	ck_assert_int_eq(cld_holdquota_take(q, 0, true), -ENOSPC);
	ck_assert_uint_eq(cld_holdquota_of(q, 0), 2);
	/* root's slots count against every slot: users get one when fewer than 6 are in use */
	cld_holdquota_put(q, 1000);
	ck_assert_int_eq(cld_holdquota_take(q, 1002, false), -ENOSPC);
	cld_holdquota_put(q, 0);
	ck_assert_int_eq(cld_holdquota_take(q, 1002, false), -ENOSPC);
	cld_holdquota_put(q, 0);
	ck_assert_int_eq(cld_holdquota_take(q, 1002, false), 0);
	ck_assert_uint_eq(stats(q).used, 6);
	/* privileged: no per-uid bound within the shared slots either */
	struct cld_holdquota *r = cld_holdquota_new(8, 1, 0);
	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(cld_holdquota_take(r, 0, true), 0);
	ck_assert_int_eq(cld_holdquota_take(r, 0, true), -ENOSPC);
	cld_holdquota_free(r);
	cld_holdquota_free(q);
}
END_TEST

/* Putting back what was never taken changes nothing; free accepts NULL. */
START_TEST(put_unknown_and_free_null)
{
	struct cld_holdquota *q = cld_holdquota_new(2, 1, 0);
	ck_assert_ptr_nonnull(q);
	cld_holdquota_put(q, 42);
	ck_assert_uint_eq(stats(q).used, 0);
	ck_assert_ptr_null(cld_holdquota_new(2, 0, 0));
	ck_assert_ptr_null(cld_holdquota_free(q));
	ck_assert_ptr_null(cld_holdquota_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("holdquota");
	TCase *tc = tcase_create("slots");
	tcase_add_test(tc, per_uid_share);
	tcase_add_test(tc, reserve_for_privileged);
	tcase_add_test(tc, put_unknown_and_free_null);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
