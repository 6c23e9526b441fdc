/*
 * check_dovecot.c - unit tests for the Dovecot plugin's pure parts
 * (dovecot/naming.c): lease names and settings parsing.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"

START_TEST(user_names)
{
	char buf[CLD_NAME_MAX + 1], big[CLD_NAME_MAX + 8];

	ck_assert_int_eq(cld_user_lease_name("alice", buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "user/alice");
	ck_assert_int_eq(cld_user_lease_name("bob@example.org", buf, sizeof(buf)), 20);
	ck_assert_str_eq(buf, "user/bob@example.org");
	ck_assert_int_eq(cld_user_lease_name("", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_user_lease_name(NULL, buf, sizeof(buf)), -1);
	/* too small a buffer: refused, nothing truncated */
	ck_assert_int_eq(cld_user_lease_name("alice", buf, 10), -1);
	ck_assert_int_eq(cld_user_lease_name("alice", buf, 11), 10);
	/* exactly CLD_NAME_MAX bytes fits; one more is refused */
	memset(big, 'u', CLD_NAME_MAX - 5);
	big[CLD_NAME_MAX - 5] = '\0';
	ck_assert_int_eq(cld_user_lease_name(big, buf, sizeof(buf)), (int)CLD_NAME_MAX);
	memset(big, 'u', CLD_NAME_MAX - 4);
	big[CLD_NAME_MAX - 4] = '\0';
	ck_assert_int_eq(cld_user_lease_name(big, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(mailbox_names)
{
	char buf[CLD_NAME_MAX + 1], a[2000], b[2000], name_a[CLD_NAME_MAX + 1];

	ck_assert_int_eq(cld_mailbox_lease_name("/srv/mail/alice/Maildir", buf, sizeof(buf)), 31);
	ck_assert_str_eq(buf, "mailbox//srv/mail/alice/Maildir");
	ck_assert_int_eq(cld_mailbox_lease_name("", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_mailbox_lease_name("/x", buf, 100), -1);
	/* a path too long: hashed prefix plus the tail, exactly CLD_NAME_MAX bytes */
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(a));
	b[0] = 'b'; /* differs only at the start, outside the kept tail */
	ck_assert_int_eq(cld_mailbox_lease_name(a, name_a, sizeof(name_a)), (int)CLD_NAME_MAX);
	ck_assert_uint_eq(strlen(name_a), CLD_NAME_MAX);
	ck_assert(strncmp(name_a, "mailbox/#", 9) == 0);
	ck_assert_int_eq(name_a[25], ':');
	ck_assert_int_eq(cld_mailbox_lease_name(b, buf, sizeof(buf)), (int)CLD_NAME_MAX);
	ck_assert_str_ne(buf, name_a); /* the hash tells them apart */
	/* deterministic: every node names one mailbox the same */
	ck_assert_int_eq(cld_mailbox_lease_name(a, buf, sizeof(buf)), (int)CLD_NAME_MAX);
	ck_assert_str_eq(buf, name_a);
}
END_TEST

START_TEST(store_names)
{
	char buf[CLD_NAME_MAX + 1], a[2000], mbox[CLD_NAME_MAX + 1];

	ck_assert_int_eq(cld_store_lease_name("/srv/mail/alice/Maildir", buf, sizeof(buf)), 29);
	ck_assert_str_eq(buf, "store//srv/mail/alice/Maildir");
	ck_assert_int_eq(cld_store_lease_name("", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_store_lease_name(NULL, buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_store_lease_name("/x", buf, 100), -1);
	/* too long: "store/#<hash>:<tail>", CLD_NAME_MAX bytes, never the
	   mailbox lease of the same path */
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	ck_assert_int_eq(cld_store_lease_name(a, buf, sizeof(buf)), (int)CLD_NAME_MAX);
	ck_assert_uint_eq(strlen(buf), CLD_NAME_MAX);
	ck_assert(strncmp(buf, "store/#", 7) == 0);
	ck_assert_int_eq(buf[23], ':');
	ck_assert_int_eq(cld_mailbox_lease_name(a, mbox, sizeof(mbox)), (int)CLD_NAME_MAX);
	ck_assert_str_ne(buf, mbox);
}
END_TEST

START_TEST(path_lexical)
{
	static const char *const cases[][2] = {
		{ "/", "/" },
		{ "//", "/" },
		{ "/.", "/" },
		{ "/..", "/" },
		{ "/run/cl-mail/u1/Maildir", "/run/cl-mail/u1/Maildir" },
		{ "/run/cl-mail/./u1/Maildir", "/run/cl-mail/u1/Maildir" },
		{ "/run//cl-mail///u1/Maildir/", "/run/cl-mail/u1/Maildir" },
		{ "/run/cl-mail/u1/Maildir/.", "/run/cl-mail/u1/Maildir" },
		{ "/run/cl-mail/x/../u1/Maildir", "/run/cl-mail/u1/Maildir" },
		{ "/a/b/../../../c", "/c" },
		{ "/a/.Work/..x/...", "/a/.Work/..x/..." },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(cld_path_lexical(cases[i][0], buf, sizeof(buf)),
				 (int)strlen(cases[i][1]));
		ck_assert_str_eq(buf, cases[i][1]);
	}
	ck_assert_int_eq(cld_path_lexical("u1/INBOX", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_path_lexical("", buf, sizeof(buf)), -1);
	/* exactly fits, one byte short */
	ck_assert_int_eq(cld_path_lexical("/abc/", buf, 5), 4);
	ck_assert_int_eq(cld_path_lexical("/abc/", buf, 4), -1);
}
END_TEST

/* a fake file system: /srv/mail/u1/Maildir exists, /run/cl-mail is a
   symlink to /srv/mail, /mnt a symlink to /srv */
static int fake_resolve(const char *path, char *out, size_t outsize, void *ctx)
{
	static const char *const fs[][2] = {
		{ "/", "/" }, { "/srv", "/srv" }, { "/srv/mail", "/srv/mail" },
		{ "/srv/mail/u1", "/srv/mail/u1" }, { "/srv/mail/u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/run", "/run" }, { "/run/cl-mail", "/srv/mail" },
		{ "/run/cl-mail/u1", "/srv/mail/u1" }, { "/run/cl-mail/u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/mnt", "/srv" }, { "/mnt/mail", "/srv/mail" }, { "/mnt/mail/u1", "/srv/mail/u1" },
		{ "/run/cl-mail/u1/..", "/srv/mail" },
	};
	size_t i;

	(*(int *)ctx)++;
	for (i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		if (strcmp(path, fs[i][0]) == 0) {
			if (strlen(fs[i][1]) + 1 > outsize)
				return -1;
			strcpy(out, fs[i][1]);
			return 0;
		}
	}
	return -1;
}

START_TEST(path_canonical)
{
	static const char *const cases[][2] = {
		{ "/srv/mail/u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/run/cl-mail/u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/run/cl-mail/./u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/run//cl-mail/u1/Maildir/", "/srv/mail/u1/Maildir" },
		{ "/mnt/mail/u1/Maildir", "/srv/mail/u1/Maildir" },
		/* not there yet (being created): the rest lexically */
		{ "/run/cl-mail/u1/Maildir/.New", "/srv/mail/u1/Maildir/.New" },
		{ "/mnt/mail/u1//Maildir/./.New/", "/srv/mail/u1/Maildir/.New" },
		{ "/run/cl-mail/u1/Maildir/.A/../.B", "/srv/mail/u1/Maildir/.B" },
		{ "/nowhere/x/../y", "/nowhere/y" },
		/* ".." after a symlink: resolved, not lexical */
		{ "/run/cl-mail/u1/../u1/Maildir", "/srv/mail/u1/Maildir" },
		{ "/", "/" },
	};
	char buf[128];
	size_t i;
	int calls = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(cld_path_canonical(cases[i][0], fake_resolve, &calls, buf, sizeof(buf)),
				 (int)strlen(cases[i][1]));
		ck_assert_str_eq(buf, cases[i][1]);
	}
	ck_assert_int_gt(calls, 0);
	ck_assert_int_eq(cld_path_canonical("u1/INBOX", fake_resolve, &calls, buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_path_canonical("/srv/mail/u1/Maildir", fake_resolve, &calls, buf, 8), -1);
}
END_TEST

START_TEST(durations)
{
	static const struct {
		const char *text;
		int ms; /* -1: refused */
	} cases[] = {
		{ "10", 10000 }, { "500ms", 500 }, { "3 secs", 3000 }, { "2min", 120000 },
		{ "0", 0 }, { "60m", 3600000 }, { "61m", -1 }, { "-1", -1 }, { "", -1 },
		{ "5 fortnights", -1 }, { "99999999999999999999", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned ms = 7;
		int ret = cld_parse_duration_ms(cases[i].text, &ms);

		ck_assert_msg(ret == (cases[i].ms < 0 ? -1 : 0), "'%s': returned %d", cases[i].text, ret);
		/* untouched on error */
		ck_assert_uint_eq(ms, cases[i].ms < 0 ? 7u : (unsigned)cases[i].ms);
	}
}
END_TEST

struct env {
	const char *kv[12];
};

static const char *env_get(const char *key, void *ctx)
{
	const struct env *e = ctx;

	for (size_t i = 0; e->kv[i] != NULL; i += 2)
		if (strcmp(e->kv[i], key) == 0)
			return e->kv[i + 1];
	return NULL;
}

START_TEST(settings)
{
	struct cld_settings set;
	char err[256];
	struct env none = { { NULL } };
	struct env all = { { "corolease_user_lease", "no", "corolease_mailbox_lease", "yes",
			     "corolease_user_wait", "2s", "corolease_mailbox_wait", "250ms",
			     "corolease_fail_mode", "open", NULL } };
	struct env bad_bool = { { "corolease_mailbox_lease", "maybe", NULL } };
	struct env bad_time = { { "corolease_user_wait", "soon", NULL } };
	struct env bad_mode = { { "corolease_fail_mode", "ajar", NULL } };

	ck_assert_int_eq(cld_settings_parse(&set, env_get, &none, err, sizeof(err)), 0);
	ck_assert_int_eq(set.user_lease, 1);
	ck_assert_int_eq(set.mailbox_lease, 1);
	ck_assert_uint_eq(set.user_wait_ms, 10000);
	ck_assert_uint_eq(set.mailbox_wait_ms, 5000);
	ck_assert_int_eq(set.fail_mode, CLD_FAIL_CLOSED);

	ck_assert_int_eq(cld_settings_parse(&set, env_get, &all, err, sizeof(err)), 0);
	ck_assert_int_eq(set.user_lease, 0);
	ck_assert_int_eq(set.mailbox_lease, 1);
	ck_assert_uint_eq(set.user_wait_ms, 2000);
	ck_assert_uint_eq(set.mailbox_wait_ms, 250);
	ck_assert_int_eq(set.fail_mode, CLD_FAIL_OPEN);

	ck_assert_int_eq(cld_settings_parse(&set, env_get, &bad_bool, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corolease_mailbox_lease"));
	ck_assert_ptr_nonnull(strstr(err, "maybe"));
	ck_assert_int_eq(cld_settings_parse(&set, env_get, &bad_time, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corolease_user_wait"));
	ck_assert_int_eq(cld_settings_parse(&set, env_get, &bad_mode, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corolease_fail_mode"));
}
END_TEST

START_TEST(route_answers)
{
	char buf[256];

	ck_assert_int_gt(cld_route_answer(0, 2, NULL, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"noauthenticate\":\"y\"}");
	ck_assert_int_gt(cld_route_answer(2, 2, "10.0.0.2", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"noauthenticate\":\"y\"}");
	ck_assert_int_gt(cld_route_answer(3, 2, "10.0.0.3", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"noauthenticate\":\"y\",\"proxy_maybe\":\"y\",\"host\":\"10.0.0.3\"}");
	ck_assert_int_gt(cld_route_answer(3, 2, "fd00::3", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"noauthenticate\":\"y\",\"proxy_maybe\":\"y\",\"host\":\"fd00::3\"}");
	/* another node holds the user but its address is unknown or odd: fail */
	ck_assert_int_eq(cld_route_answer(3, 2, NULL, buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_route_answer(3, 2, "", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_route_answer(3, 2, "10.0.0.3\",\"x", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cld_route_answer(3, 2, "10.0.0.3", buf, 20), -1);
}
END_TEST

START_TEST(bye_reasons)
{
	char buf[128];
	int n;

	n = cld_bye_reason(CLD_STOP_WANTED, 2, "user/u1", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session moved: cluster node 2 wants this user");
	ck_assert_int_eq(n, (int)strlen(buf));
	cld_bye_reason(CLD_STOP_WANTED, 0, "user/u1", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session moved: another cluster node wants this user");
	/* a mailbox lease: its path (a server directory) is not shown */
	cld_bye_reason(CLD_STOP_WANTED, 3, "mailbox//srv/mail/u1/Maildir", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session ended: cluster node 3 wants a mailbox open in it");
	ck_assert_ptr_null(strstr(buf, "/srv"));
	cld_bye_reason(CLD_STOP_WANTED, 3, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session ended: cluster node 3 wants a mailbox open in it");
	/* a store lease: no path either */
	cld_bye_reason(CLD_STOP_WANTED, 2, "store//srv/mail/u1/Maildir", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session ended: cluster node 2 wants the mail store it uses");
	ck_assert_ptr_null(strstr(buf, "/srv"));
	cld_bye_reason(CLD_STOP_WANTED, 0, "store/x", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session ended: another cluster node wants the mail store it uses");
	/* "user" without the '/' is not a user lease */
	cld_bye_reason(CLD_STOP_WANTED, 3, "username", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session ended: cluster node 3 wants a mailbox open in it");
	cld_bye_reason(CLD_STOP_LOST, 2, "user/u1", buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Cluster lease lost: session ended");
	cld_bye_reason(CLD_STOP_LOST, 0, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[UNAVAILABLE] Cluster lease lost: session ended");
	/* too small: -1 and an empty string, never a cut reason */
	ck_assert_int_eq(cld_bye_reason(CLD_STOP_LOST, 0, NULL, buf, 10), -1);
	ck_assert_str_eq(buf, "");
	n = (int)strlen("[UNAVAILABLE] Cluster lease lost: session ended");
	ck_assert_int_eq(cld_bye_reason(CLD_STOP_LOST, 0, NULL, buf, (size_t)n), -1);
	ck_assert_int_eq(cld_bye_reason(CLD_STOP_LOST, 0, NULL, buf, (size_t)n + 1), n);
	/* the largest node number fits a 128-byte buffer */
	ck_assert_int_gt(cld_bye_reason(CLD_STOP_WANTED, 4294967295u, "user/x", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "[UNAVAILABLE] Session moved: cluster node 4294967295 wants this user");
}
END_TEST

START_TEST(wait_yields)
{
	/* two nodes waiting for each other: exactly one gives up */
	for (unsigned a = 1; a <= 5; a++) {
		for (unsigned b = 1; b <= 5; b++) {
			if (a == b)
				continue;
			ck_assert_int_eq(cld_wait_yields(a, b) + cld_wait_yields(b, a), 1);
		}
	}
	ck_assert_int_eq(cld_wait_yields(2, 1), 1);
	ck_assert_int_eq(cld_wait_yields(1, 2), 0);
	/* a cycle 1 -> 2 -> 3 -> 1 (each wanted by the next): node 1's wanter 3
	   is higher, so 1 waits on; 2 (wanted by 1) and 3 (wanted by 2) give up */
	ck_assert_int_eq(cld_wait_yields(1, 3), 0);
	ck_assert_int_eq(cld_wait_yields(2, 1), 1);
	ck_assert_int_eq(cld_wait_yields(3, 2), 1);
	/* an unknown wanter (0) or the node itself never makes it give up */
	ck_assert_int_eq(cld_wait_yields(3, 0), 0);
	ck_assert_int_eq(cld_wait_yields(3, 3), 0);
	ck_assert_int_eq(cld_wait_yields(4294967295u, 1), 1);
}
END_TEST

START_TEST(mailbox_children)
{
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "a.b"), 1);
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "a.b.c"), 1);
	ck_assert_int_eq(cld_mailbox_is_child("a.b", '.', "a.b.c"), 1);
	ck_assert_int_eq(cld_mailbox_is_child("shared.u1.Work", '.', "shared.u1.Work.x"), 1);
	ck_assert_int_eq(cld_mailbox_is_child("a", '/', "a/b"), 1);
	/* not children: itself, siblings with a common prefix, another separator */
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "a"), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "a."), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "ab.c"), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', "b.a.c"), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '/', "a.b"), 0);
	/* a parent with wildcards: "a*" listed as "a*.*" also matches "ab.c" */
	ck_assert_int_eq(cld_mailbox_is_child("a*", '.', "ab.c"), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a*", '.', "a*.c"), 1);
	ck_assert_int_eq(cld_mailbox_is_child("a%", '.', "ax.c"), 0);
	ck_assert_int_eq(cld_mailbox_is_child(NULL, '.', "a.b"), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '.', NULL), 0);
	ck_assert_int_eq(cld_mailbox_is_child("a", '\0', "a"), 0);
}
END_TEST

static Suite *dovecot_suite(void)
{
	Suite *s = suite_create("dovecot");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, user_names);
	tcase_add_test(tc, mailbox_names);
	tcase_add_test(tc, store_names);
	tcase_add_test(tc, path_lexical);
	tcase_add_test(tc, path_canonical);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, settings);
	tcase_add_test(tc, route_answers);
	tcase_add_test(tc, bye_reasons);
	tcase_add_test(tc, mailbox_children);
	tcase_add_test(tc, wait_yields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dovecot_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
