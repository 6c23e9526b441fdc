/*
 * check_groups.c - unit tests for lockd/groups.c: the Groups: line of
 * /proc/PID/status is read whole, as whole numbers (issue 8, finding 3: a
 * line longer than one 4096-byte read was cut mid-number, and the fragment
 * counted as a gid).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

START_TEST(short_lines)
{
	gid_t *g;
	size_t n;
	ck_assert_int_eq(cld_parse_groups("\t4 24 27 1001 \n", &g, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(g[0], 4);
	ck_assert_uint_eq(g[3], 1001);
	free(g);
	ck_assert_int_eq(cld_parse_groups("\n", &g, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(g);
	ck_assert_int_eq(cld_parse_groups("\t4294967295\n", &g, &n), 0);
	ck_assert_uint_eq(g[0], 4294967295u);
	free(g);
}
END_TEST

START_TEST(garbage_is_refused)
{
	gid_t *g = NULL;
	size_t n = 0;
	ck_assert_int_eq(cld_parse_groups("\t4 x5\n", &g, &n), -EINVAL);
	ck_assert_int_eq(cld_parse_groups("\t4 -5\n", &g, &n), -EINVAL);
	ck_assert_int_eq(cld_parse_groups("\t12a\n", &g, &n), -EINVAL);
	ck_assert_int_eq(cld_parse_groups("\t4294967296\n", &g, &n), -EINVAL);
}
END_TEST

/* 1,500 nine-digit groups: ~15 KB, far past the old 4096-byte read; 1001 is not among them. */
START_TEST(long_line_whole_numbers)
{
	size_t cap = 1500 * 11 + 16, off = 0;
	char *line = malloc(cap);
	ck_assert_ptr_nonnull(line);
	off += (size_t)snprintf(line + off, cap - off, "\t");
	for (unsigned i = 0; i < 1500; i++)
		off += (size_t)snprintf(line + off, cap - off, "%u ", 100100000u + i);
	snprintf(line + off, cap - off, "\n");
	gid_t *g;
	size_t n;
	ck_assert_int_eq(cld_parse_groups(line, &g, &n), 0);
	ck_assert_uint_eq(n, 1500);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(g[i], 100100000u + i);
		ck_assert_uint_ne(g[i], 1001);
		ck_assert_uint_ne(g[i], 100);
	}
	free(g);
	free(line);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, short_lines);
	tcase_add_test(tc, garbage_is_refused);
	tcase_add_test(tc, long_line_whole_numbers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
