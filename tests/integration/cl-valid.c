/*
 * cl-valid.c - integration-test client of libcorolease that logs, with
 * timestamps, when each of its leases is usable: what a client checking
 * corolease_lease_valid() before every write would have done.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-valid [-w] [-s] NAME...
 *
 * Acquires every NAME at once (asynchronously; EX, or SH with -s; queued
 * behind other holders with -w), then until SIGTERM or SIGINT calls
 * corolease_lease_valid() on every lease about every millisecond and
 * dispatches the library's events.  A revoked lease is released.
 *
 *   cl-valid -n [-e] [-s] NAME...
 *
 * A writer that never dispatches (issue 7, defect 4): acquires every NAME
 * in turn (synchronously, waiting up to 30 s each), then calls
 * corolease_lease_valid() on each in a tight loop, at nice 10, yielding
 * the CPU between rounds, and never calls corolease_dispatch() except once
 * per SIGUSR1 (as a client that dispatches now and then).  Nothing is ever
 * released.  -e: right after each grant, evict the name through a second
 * connection (as 'corolease evict' does), so the loop starts after the
 * eviction was answered.
 *
 * Lines on stdout (line-buffered); T is CLOCK_REALTIME in nanoseconds,
 * comparable across the nodes of a test cluster on one host; B is
 * CLOCK_BOOTTIME in microseconds, the daemon's clock (its log's times and
 * deadlines):
 *
 *   clock B T                  at start: the two clocks at one moment
 *   granted NAME EPOCH T
 *   failed NAME ERRNAME T      the acquire failed
 *   wanted NAME NODE T
 *   revoked NAME T             (then released)
 *   valid NAME 1 T             lease_valid() turned 1 (first seen at T)
 *   valid NAME 0 T LAST        turned 0 (seen at T); LAST: the last time it was seen 1
 *   end NAME LAST              at exit, for a lease still valid: the last time it was seen 1
 *   disconnected T
 * and with -n:
 *   evicted NAME COUNT B       (-e) B: just after the evict call returned
 *   dispatched ERRNAME B       (SIGUSR1) B: just after the dispatch returned
 *   progress NAME calls=N valid=V last1=B1 at B     every 100 ms
 *   stop NAME calls=N ones=M last1=B1               at exit
 * where last1 is the B just before the start of the last call that
 * returned 1 (0: none), so a revoke at daemon time R was seen at once
 * when last1 < R, whatever the scheduler did to the loop.
 *
 * So every interval in which this client could have written under NAME is
 * [T of "valid NAME 1", LAST of the "valid NAME 0" or "end" after it].
 *
 *   cl-valid -t                print B, now
 *   cl-valid -K PID            SIGKILL PID, wait until it is gone (or a
 *                              zombie with no thread left: its files are
 *                              closed), print
 *                              "killed PID at B0..B1 gone at B2"
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>
#include <corolease_admin.h>

#include "clt.h"
#include "pidstat.h"

struct lease {
	const char *name;
	corolease_lease_t *l;        /* NULL once failed or released */
	bool valid;
	uint64_t last_valid;         /* T of the last lease_valid() == 1 */
	/* -n */
	uint64_t calls, ones, last1; /* last1: B before the last call that returned 1 */
};

static struct lease *leases;
static int nleases;
static volatile sig_atomic_t dispatch_once;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static uint64_t boot_us(void)
{
	return clock_ns(CLOCK_BOOTTIME) / 1000u;
}

static void on_acquired(corolease_t *h, corolease_lease_t *l, int err, void *udata)
{
	(void)h;
	(void)udata;
	struct lease *x = corolease_lease_udata(l);
	if (err) {
		printf("failed %s %s %" PRIu64 "\n", x->name, corolease_errname(err), now());
		x->l = NULL;   /* the library frees it after this callback */
		return;
	}
	printf("granted %s %" PRIu64 " %" PRIu64 "\n", x->name, corolease_lease_epoch(l), now());
}

static void on_wanted(corolease_t *h, corolease_lease_t *l, uint32_t node, void *udata)
{
	(void)h;
	(void)udata;
	struct lease *x = corolease_lease_udata(l);
	printf("wanted %s %" PRIu32 " %" PRIu64 "\n", x->name, node, now());
}

/* Logs a change of x's lease_valid() to v, seen at t. */
static void changed(struct lease *x, bool v, uint64_t t)
{
	if (v && !x->valid)
		printf("valid %s 1 %" PRIu64 "\n", x->name, t);
	else if (!v && x->valid)
		printf("valid %s 0 %" PRIu64 " %" PRIu64 "\n", x->name, t, x->last_valid);
	if (v)
		x->last_valid = t;
	x->valid = v;
}

/* Samples lease_valid() of x and logs a change. */
static void sample(struct lease *x)
{
	bool v = x->l && corolease_lease_valid(x->l);
	changed(x, v, now());
}

static void on_revoked(corolease_t *h, corolease_lease_t *l, void *udata)
{
	(void)h;
	(void)udata;
	struct lease *x = corolease_lease_udata(l);
	sample(x);
	printf("revoked %s %" PRIu64 "\n", x->name, now());
	corolease_release(l);
	x->l = NULL;
	sample(x);
}

static void on_disconnected(corolease_t *h, void *udata)
{
	(void)h;
	(void)udata;
	printf("disconnected %" PRIu64 "\n", now());
}

static void on_usr1(int sig)
{
	(void)sig;
	dispatch_once = 1;
}

/*
 * Gone, or a zombie whose every thread has exited.  The thread group
 * leader turns Z while the daemon's other threads may still be exiting,
 * and the descriptor table (the client sockets) is released by the last
 * of them.  A pidfd polls readable only when the whole group has exited;
 * without pidfd_open, the leader must be Z and alone in /proc/PID/task.
 */
static bool gone(pid_t pid)
{
	static int pidfd = -2;
	if (pidfd == -2)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		return poll(&p, 1, 0) == 1;
	}
	char st = cld_pid_state(pid);
	if (!st)
		return true;
	if (st != 'Z')
		return false;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return true;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n <= 1;
}

static int cmd_kill(pid_t pid)
{
	uint64_t b0 = boot_us();
	if (pid <= 1 || kill(pid, SIGKILL) < 0) {
		perror("cl-valid: kill");
		return 1;
	}
	uint64_t b1 = boot_us();
	while (!gone(pid))
		usleep(100);
	printf("killed %d at %" PRIu64 "..%" PRIu64 " gone at %" PRIu64 "\n", (int)pid, b0, b1,
	       boot_us());
	return 0;
}

/* Evicts name through a connection of its own; prints when it was answered. */
static int evict(const char *name)
{
	corolease_t *a;
	uint64_t count = 0;
	int r = corolease_connect(&a);
	if (r == 0) {
		r = corolease_evict(a, name, strlen(name), &count);
		corolease_close(a);
	}
	uint64_t b = boot_us();
	if (r < 0) {
		fprintf(stderr, "cl-valid: evict %s: %s\n", name, corolease_errname(r));
		return 1;
	}
	printf("evicted %s %" PRIu64 " %" PRIu64 "\n", name, count, b);
	return 0;
}

/* -n: the writer that never dispatches. */
static int run_nodispatch(corolease_t *h, int mode, bool do_evict)
{
	for (int i = 0; i < nleases; i++) {
		struct lease *x = &leases[i];
		uint32_t owner = 0;
		int r = corolease_acquire(h, x->name, strlen(x->name), mode, COROLEASE_WAIT, 30000,
					  &x->l, &owner);
		if (r < 0) {
			printf("failed %s %s %" PRIu64 "\n", x->name, corolease_errname(r), now());
			x->l = NULL;
			continue;
		}
		printf("granted %s %" PRIu64 " %" PRIu64 "\n", x->name, corolease_lease_epoch(x->l),
		       now());
		if (do_evict && evict(x->name) != 0)
			return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	if (nice(10) == -1 && errno)
		perror("cl-valid: nice");
	uint64_t next = 0;
	while (!clt_stop) {
		if (dispatch_once) {
			dispatch_once = 0;
			int r = corolease_dispatch(h);
			printf("dispatched %s %" PRIu64 "\n", r < 0 ? corolease_errname(r) : "OK",
			       boot_us());
		}
		bool report = false;
		for (int i = 0; i < nleases; i++) {
			struct lease *x = &leases[i];
			uint64_t b = boot_us();
			bool v = x->l && corolease_lease_valid(x->l);
			x->calls++;
			if (v) {
				x->ones++;
				x->last1 = b;
			}
			changed(x, v, now());
			if (b >= next) {
				printf("progress %s calls=%" PRIu64 " valid=%d last1=%" PRIu64 " at %" PRIu64
				       "\n", x->name, x->calls, (int)v, x->last1, b);
				report = true;
			}
		}
		if (report)
			next = boot_us() + 100000;
		sched_yield();
	}
	for (int i = 0; i < nleases; i++)
		printf("stop %s calls=%" PRIu64 " ones=%" PRIu64 " last1=%" PRIu64 "\n",
		       leases[i].name, leases[i].calls, leases[i].ones, leases[i].last1);
	return 0;
}

/* The dispatching client. */
static int run_dispatch(corolease_t *h, int mode, unsigned flags)
{
	for (int i = 0; i < nleases; i++) {
		struct lease *x = &leases[i];
		int r = corolease_acquire_async(h, x->name, strlen(x->name), mode, flags, 0, x, &x->l);
		if (r < 0) {
			printf("failed %s %s %" PRIu64 "\n", x->name, corolease_errname(r), now());
			x->l = NULL;
		}
	}
	bool gone = false;
	while (!clt_stop) {
		struct pollfd p = { .fd = corolease_get_fd(h), .events = (short)corolease_get_events(h) };
		if (!gone)
			poll(&p, 1, corolease_get_timeout(h) == 0 ? 0 : 1);
		else
			usleep(1000);
		if (!gone && corolease_dispatch(h) == COROLEASE_EDISCONNECTED)
			gone = true;
		for (int i = 0; i < nleases; i++)
			sample(&leases[i]);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: cl-valid [-w] [-s] NAME...\n"
			"       cl-valid -n [-e] [-s] NAME...\n"
			"       cl-valid -t | -K PID\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned flags = 0;
	int mode = COROLEASE_EX, c;
	bool nodispatch = false, do_evict = false;
	while ((c = getopt(argc, argv, "wsnetK:")) != -1) {
		switch (c) {
		case 'w': flags |= COROLEASE_WAIT; break;
		case 's': mode = COROLEASE_SH; break;
		case 'n': nodispatch = true; break;
		case 'e': do_evict = true; break;
		case 't':
			printf("%" PRIu64 "\n", boot_us());
			return 0;
		case 'K':
			clt_start();
			return cmd_kill((pid_t)atoi(optarg));
		default:
			return usage();
		}
	}
	if (optind >= argc || (do_evict && !nodispatch) || (nodispatch && flags))
		return usage();
	clt_start();

	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "cl-valid: connect: %s\n", corolease_strerror(r));
		return 3;
	}
	/* -n: no callbacks, so a dispatch on SIGUSR1 changes nothing but the library's state */
	struct corolease_callbacks cb = { .acquired = on_acquired, .wanted = on_wanted,
					  .revoked = on_revoked, .disconnected = on_disconnected };
	if (!nodispatch)
		corolease_set_callbacks(h, &cb, NULL);
	printf("clock %" PRIu64 " %" PRIu64 "\n", boot_us(), now());
	nleases = argc - optind;
	leases = calloc((size_t)nleases, sizeof(*leases));
	if (!leases)
		return 1;
	for (int i = 0; i < nleases; i++)
		leases[i].name = argv[optind + i];
	r = nodispatch ? run_nodispatch(h, mode, do_evict) : run_dispatch(h, mode, flags);
	for (int i = 0; i < nleases; i++)
		if (leases[i].valid)
			printf("end %s %" PRIu64 "\n", leases[i].name, leases[i].last_valid);
	if (!nodispatch)
		corolease_close(h);   /* -n: no release, no close: the process just ends */
	free(leases);
	return r;
}
