/*
 * cl-valid.c - integration-test client: holds one lease and calls
 * corolease_lease_valid() in a tight loop without ever dispatching, as a
 * writer that checks before each write would (issue 7, defect 4).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-valid hold NAME [-e]
 *                        connect, acquire NAME (EX, waiting up to 30 s), then
 *                        loop until SIGTERM.  Every time is CLOCK_BOOTTIME in
 *                        microseconds, taken just before the call it stamps.
 *                        -e: right after the grant, evict NAME through a
 *                        second connection (as 'corolease evict' does) and
 *                        loop from when the eviction was answered.  SIGUSR1:
 *                        dispatch once, at the next turn of the loop (as a
 *                        client that dispatches now and then).
 *                        Lines on stdout (line-buffered):
 *     granted NAME epoch E at T
 *     evicted NAME count C at T     (-e) T: after the evict call returned
 *     dispatched rc R at T          (SIGUSR1) T: after the dispatch returned
 *     valid V at T calls=N          each change of the result (the first call too)
 *     progress calls=N valid=V last1=T1 at T     every 100 ms
 *     stop calls=N ones=M last1=T1  at SIGTERM
 *                        last1 is the start of the last call that returned 1
 *                        (0: none): a revoke at time R is seen "at once" when
 *                        last1 < R, whatever the scheduler did to this loop.
 *   cl-valid now         print CLOCK_BOOTTIME in microseconds
 *   cl-valid kill PID [SIG]
 *                        send SIG (default KILL) to PID, then wait until it is
 *                        gone (or a zombie: its files are closed):
 *     killed PID at T0..T1 gone at T2
 *
 * The loop runs at nice 10 and yields the CPU between calls, so it spins
 * only when nothing else wants to run.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>
#include <corolease_admin.h>

static volatile sig_atomic_t stop, dispatch_once;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dispatch_once = 1;
	else
		stop = 1;
}

static uint64_t boot_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Gone, or a zombie (state Z in /proc/PID/stat). */
static int gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return !rp || (rp[1] == ' ' && rp[2] == 'Z');
}

static int cmd_kill(pid_t pid, int sig)
{
	uint64_t t0 = boot_us();
	if (kill(pid, sig) < 0) {
		perror("cl-valid: kill");
		return 1;
	}
	uint64_t t1 = boot_us();
	while (!gone(pid))
		usleep(100);
	printf("killed %d at %" PRIu64 "..%" PRIu64 " gone at %" PRIu64 "\n", (int)pid, t0, t1,
	       boot_us());
	return 0;
}

/* Evicts name through a connection of its own; prints when it was answered. */
static int evict(const char *name)
{
	corolease_t *a;
	uint64_t count = 0;
	int r = corolease_connect(&a);
	if (r == 0)
		r = corolease_evict(a, name, strlen(name), &count);
	uint64_t t = boot_us();
	if (r < 0) {
		fprintf(stderr, "cl-valid: evict %s: %s\n", name, corolease_errname(r));
		return 1;
	}
	printf("evicted %s count %" PRIu64 " at %" PRIu64 "\n", name, count, t);
	corolease_close(a);
	return 0;
}

static int cmd_hold(const char *name, bool do_evict)
{
	corolease_t *h;
	corolease_lease_t *l;
	uint32_t owner = 0;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "cl-valid: connect: %s\n", corolease_errname(r));
		return 3;
	}
	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 30000, &l, &owner);
	if (r < 0) {
		fprintf(stderr, "cl-valid: acquire %s: %s (holder %" PRIu32 ")\n", name,
			corolease_errname(r), owner);
		return 1;
	}
	printf("granted %s epoch %" PRIu64 " at %" PRIu64 "\n", name, corolease_lease_epoch(l),
	       boot_us());
	if (do_evict && evict(name) != 0)
		return 1;
	if (nice(10) == -1 && errno)
		perror("cl-valid: nice");
	uint64_t calls = 0, ones = 0, last1 = 0, next = 0;
	int last = -1;
	while (!stop) {
		if (dispatch_once) {
			dispatch_once = 0;
			r = corolease_dispatch(h);
			printf("dispatched rc %s at %" PRIu64 "\n", r < 0 ? corolease_errname(r) : "OK",
			       boot_us());
		}
		uint64_t t = boot_us();
		int v = corolease_lease_valid(l);
		calls++;
		if (v) {
			ones++;
			last1 = t;
		}
		if (v != last) {
			printf("valid %d at %" PRIu64 " calls=%" PRIu64 "\n", v, t, calls);
			last = v;
		}
		if (t >= next) {
			printf("progress calls=%" PRIu64 " valid=%d last1=%" PRIu64 " at %" PRIu64 "\n",
			       calls, v, last1, t);
			next = t + 100000;
		}
		sched_yield();
	}
	printf("stop calls=%" PRIu64 " ones=%" PRIu64 " last1=%" PRIu64 "\n", calls, ones, last1);
	/* no release, no close: the process just ends, as a writer that is told to stop */
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "-e"))) && !strcmp(argv[1], "hold"))
		return cmd_hold(argv[2], argc == 4);
	if (argc == 2 && !strcmp(argv[1], "now")) {
		printf("%" PRIu64 "\n", boot_us());
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "kill"))
		return cmd_kill((pid_t)atoi(argv[2]), argc == 4 ? atoi(argv[3]) : SIGKILL);
	fprintf(stderr, "usage: cl-valid hold NAME [-e] | now | kill PID [SIG]\n");
	return 2;
}
