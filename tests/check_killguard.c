/*
 * check_killguard.c - the revoke-deadline kill kept by a thread
 * (lockd/killguard.c): it kills when the loop did not run since the
 * deadline, leaves it to the loop when it did, never kills what the
 * client's user may not signal (helper-99: a set-user-ID program), and a
 * connection with thousands of revoked holds takes one entry (helper-99:
 * one user filled the guard for everyone).  Real processes, real signals.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "clock.h"
#include "killguard.h"

/* A child that sleeps until killed, and a pidfd of it. */
static pid_t child(int *pidfd_r)
{
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0) {
		for (;;)
			pause();
	}
	*pidfd_r = (int)syscall(SYS_pidfd_open, p, 0);
	ck_assert_int_ge(*pidfd_r, 0);
	return p;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Whether p died of SIGKILL within ms (reaped), or still runs (then killed and reaped here). */
static bool killed_within(pid_t p, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 10) {
		int st;
		if (waitpid(p, &st, WNOHANG) == p)
			return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		sleep_ms(10);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return false;
}

/* The loop stuck since before the deadline: the guard kills, once, and says so. */
START_TEST(kills_when_the_loop_is_stuck)
{
	struct cld_killguard *g = cld_killguard_start();
	ck_assert_ptr_nonnull(g);
	int fd;
	pid_t p = child(&fd);
	uint64_t now = cld_now_us();
	cld_killguard_ran(g, now);
	ck_assert_int_eq(cld_killguard_arm(g, 7, "a", 1, fd, p, 0, false, false, now + 50000), 0);
	ck_assert_int_eq(cld_killguard_arm(g, 7, "b", 1, fd, p, 0, false, false, now + 60000), 0);
	ck_assert(killed_within(p, 2000));
	uint64_t kills;
	size_t armed;
	cld_killguard_counts(g, &kills, &armed);
	ck_assert_uint_eq(kills, 1);     /* one kill for the connection, not one per hold */
	ck_assert_uint_eq(armed, 0);
	int32_t pid;
	uint64_t late;
	ck_assert_uint_eq(cld_killguard_take_news(g, &pid, &late), 1);
	ck_assert_int_eq(pid, p);
	ck_assert_uint_ge(late, CLD_KILLGUARD_SLACK_US / 1000);
	ck_assert_uint_eq(cld_killguard_take_news(g, &pid, &late), 0);
	close(fd);
	cld_killguard_stop(g);
}
END_TEST

/* The loop ran its timers after the deadline: the kill was its own to make. */
START_TEST(leaves_it_to_a_loop_that_ran)
{
	struct cld_killguard *g = cld_killguard_start();
	int fd;
	pid_t p = child(&fd);
	uint64_t now = cld_now_us();
	ck_assert_int_eq(cld_killguard_arm(g, 7, "a", 1, fd, p, 0, false, false, now + 50000), 0);
	sleep_ms(60);
	cld_killguard_ran(g, cld_now_us());
	ck_assert(!killed_within(p, 400));
	uint64_t kills;
	size_t armed;
	cld_killguard_counts(g, &kills, &armed);
	ck_assert_uint_eq(kills, 0);
	ck_assert_uint_eq(armed, 0);
	close(fd);
	cld_killguard_stop(g);
}
END_TEST

/* Released (disarmed) in time, or the client gone: no kill. */
START_TEST(disarmed_is_not_killed)
{
	struct cld_killguard *g = cld_killguard_start();
	int fd;
	pid_t p = child(&fd);
	uint64_t now = cld_now_us();
	ck_assert_int_eq(cld_killguard_arm(g, 7, "a", 1, fd, p, 0, false, false, now + 50000), 0);
	ck_assert_int_eq(cld_killguard_arm(g, 7, "b", 1, fd, p, 0, false, false, now + 50000), 0);
	cld_killguard_disarm(g, 7, "a", 1);
	size_t armed;
	uint64_t kills;
	cld_killguard_counts(g, &kills, &armed);
	ck_assert_uint_eq(armed, 1);     /* "b" still is */
	cld_killguard_disarm_client(g, 7);
	ck_assert(!killed_within(p, 400));
	close(fd);
	cld_killguard_stop(g);
}
END_TEST

/*
 * Armed without kill_on_revoke (check): at the deadline the client's user
 * may not signal the process (here uid 12345, and the child is root's, as a
 * set-user-ID program would be): no kill on its behalf.
 */
START_TEST(no_kill_the_user_could_not_make)
{
	if (geteuid() != 0)
		return;   /* the child must be another user's than 12345 */
	struct cld_killguard *g = cld_killguard_start();
	int fd;
	pid_t p = child(&fd);
	uint64_t now = cld_now_us();
	ck_assert_int_eq(cld_killguard_arm(g, 7, "a", 1, fd, p, 12345, true, true, now + 50000), 0);
	ck_assert(!killed_within(p, 400));
	uint64_t kills;
	size_t armed;
	cld_killguard_counts(g, &kills, &armed);
	ck_assert_uint_eq(kills, 0);
	close(fd);
	cld_killguard_stop(g);
}
END_TEST

/* Thousands of holds of one connection take one entry; the last ones are root's. */
START_TEST(one_entry_a_connection_and_roots_reserve)
{
	struct cld_killguard *g = cld_killguard_start();
	uint64_t far = cld_now_us() + 3600ull * 1000000u;
	char name[16];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(cld_killguard_arm(g, 1, name, (size_t)n, 99, 1, 1000, true, true, far), 0);
	}
	uint64_t kills;
	size_t armed;
	cld_killguard_counts(g, &kills, &armed);
	ck_assert_uint_eq(armed, 1);
	for (uint64_t c = 2; c <= CLD_KILLGUARD_MAX - CLD_KILLGUARD_ROOT; c++)
		ck_assert_int_eq(cld_killguard_arm(g, c, "x", 1, 99, 1, 1000, false, true, far), 0);
	ck_assert_int_eq(cld_killguard_arm(g, 100000, "x", 1, 99, 1, 1000, false, true, far), -ENOSPC);
	for (uint64_t c = 0; c < CLD_KILLGUARD_ROOT; c++)
		ck_assert_int_eq(cld_killguard_arm(g, 200000 + c, "x", 1, 99, 1, 0, false, false, far), 0);
	ck_assert_int_eq(cld_killguard_arm(g, 300000, "x", 1, 99, 1, 0, false, false, far), -ENOSPC);
	cld_killguard_stop(g);   /* entries dropped, none fired */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("killguard");
	TCase *tc = tcase_create("guard");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, kills_when_the_loop_is_stuck);
	tcase_add_test(tc, leaves_it_to_a_loop_that_ran);
	tcase_add_test(tc, disarmed_is_not_killed);
	tcase_add_test(tc, no_kill_the_user_could_not_make);
	tcase_add_test(tc, one_entry_a_connection_and_roots_reserve);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
