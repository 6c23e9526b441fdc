/*
 * check_proctree.c - unit tests for the process-tree walk (lockd/proctree.c)
 * that coroleased (COROLEASE_KILL) and `corolease acquire` use: the pure
 * marking of a process table, then real trees of forked processes signalled
 * through pidfds, within a uid, a bound and a freeze.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proctree.h"

/*
 * Forks a child that runs setup(), says so on a pipe, and pauses; returns
 * its pid once setup() is done.
 */
static pid_t spawn_ready(void (*setup)(void))
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0) {
		close(p[0]);
		setup();
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char b;
	ck_assert_int_eq(read(p[0], &b, 1), 1);
	close(p[0]);
	return c;
}

static bool marked(const struct cld_proc *v, size_t n, int32_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid)
			return v[i].mark;
	ck_abort_msg("pid %d not in the table", (int)pid);
	return false;
}

START_TEST(mark_follows_parents_to_a_fixed_point)
{
	/* out of order, deeper ones first; 20 and 21 are each other's parent */
	struct cld_proc v[] = {
		{ .pid = 14, .ppid = 12 }, { .pid = 12, .ppid = 11 }, { .pid = 11, .ppid = 10 },
		{ .pid = 13, .ppid = 99 }, { .pid = 10, .ppid = 1 },  { .pid = 20, .ppid = 21 },
		{ .pid = 21, .ppid = 20 }, { .pid = 15, .ppid = 10, .zombie = true },
		{ .pid = 16, .ppid = 15 }, { .pid = 99, .ppid = 1, .mark = true },
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	cld_proc_sort(v, n);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_lt(v[i - 1].pid, v[i].pid);
	ck_assert_uint_eq(cld_proc_mark(v, n, 10), 5);
	ck_assert(marked(v, n, 11) && marked(v, n, 12) && marked(v, n, 14));
	ck_assert(marked(v, n, 15) && marked(v, n, 16));   /* a zombie's children too */
	ck_assert(!marked(v, n, 10));                       /* not the root itself */
	ck_assert(!marked(v, n, 13) && !marked(v, n, 99));  /* a stale mark is cleared */
	ck_assert(!marked(v, n, 20) && !marked(v, n, 21));
	ck_assert_uint_eq(cld_proc_mark(v, n, 12), 1);
	ck_assert_uint_eq(cld_proc_mark(v, n, 77), 0);
	ck_assert_uint_eq(cld_proc_mark(NULL, 0, 10), 0);
}
END_TEST

/*
 * A tree under us: a (our child) -> b (ignores SIGTERM) -> c.  Each writes
 * its pid to the pipe; then they pause.  pids[0..2] = a, b, c.
 */
static void spawn_tree(pid_t pids[3])
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t a = fork();
	ck_assert_int_ge(a, 0);
	if (a == 0) {
		if (fork() == 0) {
			signal(SIGTERM, SIG_IGN);
			if (fork() == 0) {
				signal(SIGTERM, SIG_DFL);
				pid_t me = getpid();
				if (write(p[1], &me, sizeof(me)) != sizeof(me))
					_exit(1);
				for (;;)
					pause();
			}
			pid_t me = getpid();
			if (write(p[1], &me, sizeof(me)) != sizeof(me))
				_exit(1);
			for (;;)
				pause();
		}
		pid_t me = getpid();
		if (write(p[1], &me, sizeof(me)) != sizeof(me))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	pid_t got[3];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(read(p[0], &got[i], sizeof(got[i])), (ssize_t)sizeof(got[i]));
	close(p[0]);
	/* in the order written: c (deepest) writes first only if it ran first; sort by depth */
	pids[0] = a;
	for (int i = 0; i < 3; i++) {
		if (got[i] == a)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)got[i]);
		FILE *f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
		fclose(f);
		int pp;
		ck_assert_int_eq(sscanf(strrchr(buf, ')') + 1, " %*c %d", &pp), 1);
		pids[pp == a ? 1 : 2] = got[i];
	}
}

/* Reaps every process of the tree (we are their subreaper); the signal each died of. */
static void reap_all(const pid_t pids[3], int sig[3])
{
	for (int got = 0; got < 3;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(p, 0);
		for (int i = 0; i < 3; i++)
			if (p == pids[i]) {
				sig[i] = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
				got++;
			}
	}
}

static bool alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	char state = 'X';
	if (ok)
		sscanf(strrchr(buf, ')') + 1, " %c", &state);
	return state != 'Z' && state != 'X';
}

static void setup(void)
{
	/* orphans of the trees come back to this test, to be reaped and checked */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

START_TEST(sigkill_with_freeze_kills_the_whole_tree)
{
	pid_t pids[3];
	spawn_tree(pids);
	bool cut = true;
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 64, 1024, false,
					      &cut, NULL), 3);
	ck_assert(!cut);
	int sig[3];
	reap_all(pids, sig);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sig[i], SIGKILL);
	/* nothing left: nobody to signal */
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 64, 1024, false,
					      NULL, NULL), 0);
}
END_TEST

START_TEST(sigterm_reaches_each_but_is_theirs_to_ignore)
{
	pid_t pids[3];
	spawn_tree(pids);
	ck_assert_int_eq(cld_proc_signal_tree(pids[0], SIGTERM, CLD_PROC_ANY_UID, false, 64, 1024, false,
					      NULL, NULL), 2);   /* b and c: not the root a */
	/* c dies of it; b ignores it; a was not sent it */
	for (int i = 0; i < 200 && alive(pids[2]); i++)
		usleep(10000);
	ck_assert(!alive(pids[2]));
	ck_assert(alive(pids[1]));
	ck_assert(alive(pids[0]));
	kill(pids[1], SIGKILL);
	kill(pids[0], SIGKILL);
	int sig[3];
	reap_all(pids, sig);
	ck_assert_int_eq(sig[2], SIGTERM);
}
END_TEST

START_TEST(only_what_uid_could_kill)
{
	pid_t pids[3];
	spawn_tree(pids);
	uint32_t other = getuid() == 12345 ? 12346 : 12345;
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, other, true, 64, 1024, false, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(alive(pids[i]));
	/* the tree's own uid may (uid 0 means any, as for root) */
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, (uint32_t)getuid(), true, 64, 1024, false,
					      NULL, NULL), 3);
	int sig[3];
	reap_all(pids, sig);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sig[i], SIGKILL);
}
END_TEST

START_TEST(a_bound_says_it_was_reached)
{
	pid_t pids[3];
	spawn_tree(pids);
	bool cut = false;
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 2, 1024, false,
					      &cut, NULL), 2);
	ck_assert(cut);
	/*
	 * breadth first: a and b; c is left.  Killed by the next walks, once b's
	 * exit has handed it to us (while b dies, neither lists it)
	 */
	int sig[3] = { 0, 0, 0 }, got = 0;
	for (int tries = 0; got < 3 && tries < 500; tries++) {
		cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 64, 1024, false, NULL,
				     NULL);
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			for (int i = 0; i < 3; i++)
				if (p == pids[i]) {
					sig[i] = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
					got++;
				}
		if (got < 3)
			usleep(10000);
	}
	ck_assert_int_eq(got, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sig[i], SIGKILL);
}
END_TEST

static void *sleeper(void *a)
{
	(void)a;
	for (;;)
		pause();
	return NULL;
}

/*
 * Each thread has its own children file: a child of 50 threads costs 51
 * reads, and the walk stops at max_reads (the daemon's bound on what one
 * client's kill may cost its loop).  The child itself was found in our own
 * file and is killed all the same.
 */
static void fifty_threads(void)
{
	for (int i = 0; i < 50; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			_exit(1);
	}
}

START_TEST(reads_are_bounded_per_thread)
{
	pid_t c = spawn_ready(fifty_threads);
	bool cut = false;
	size_t reads = 0;
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 64, 10,
					      false, &cut, &reads), 1);
	ck_assert(cut);
	ck_assert_uint_eq(reads, 10);
	int st;
	ck_assert_int_eq(waitpid(c, &st, 0), c);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}
END_TEST

/*
 * A children file is not bounded by a page: 1000 children (a file of about
 * 6000 bytes) are all found and killed, zombies left among them are
 * skipped, not counted against the bound (helper-72).
 */
static void zombies_and_a_thousand_children(void)
{
	/* 20 children that exit at once and are never reaped: zombies */
	for (int i = 0; i < 20; i++)
		if (fork() == 0)
			_exit(0);
	for (int i = 0; i < 1000; i++) {
		pid_t c = fork();
		if (c < 0)
			_exit(1);
		if (c == 0)
			for (;;)
				pause();
	}
}

START_TEST(a_thousand_children_and_zombies)
{
	spawn_ready(zombies_and_a_thousand_children);
	bool cut = true;
	/* 1001 live processes: max 1001 is enough when zombies do not count */
	ck_assert_int_eq(cld_proc_signal_tree(getpid(), SIGKILL, CLD_PROC_ANY_UID, true, 1001,
					      1 << 20, false, &cut, NULL), 1001);
	bool all_gone = false;
	int killed = 0;
	for (int tries = 0; tries < 2000 && !all_gone; tries++) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
			killed++;
		}
		if (w < 0 && errno == ECHILD)
			all_gone = true;
		else if (w == 0)
			usleep(5000);
	}
	ck_assert(all_gone);
	ck_assert_int_eq(killed, 1001);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proctree");
	TCase *tc = tcase_create("proctree");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, mark_follows_parents_to_a_fixed_point);
	tcase_add_test(tc, sigkill_with_freeze_kills_the_whole_tree);
	tcase_add_test(tc, sigterm_reaches_each_but_is_theirs_to_ignore);
	tcase_add_test(tc, only_what_uid_could_kill);
	tcase_add_test(tc, a_bound_says_it_was_reached);
	tcase_add_test(tc, reads_are_bounded_per_thread);
	tcase_add_test(tc, a_thousand_children_and_zombies);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
