/*
 * cl-load.c - integration-test load client of libcorolease.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Holds COUNT leases named PREFIX%06d (or one lease -x NAME), acquired
 * asynchronously with at most WINDOW acquires outstanding, until SIGTERM or
 * SIGINT (exit 0).  Lines on stdout (line-buffered), for the test scripts:
 *
 *   granted NAME epoch E               (-v)
 *   wanted NAME by node N              (-v; -H: then released)
 *   revoked NAME                       (-v)
 *   failed NAME err ERRNAME            (-v; transient errors are retried)
 *   disconnected                       connection to coroleased lost
 *   reconnected                        (-r) connected again
 *   all held N                         every lease is held (again)
 *   took US                            after the first "all held": microseconds
 *                                      from the first connection to it
 *   progress held=H pending=P cycles=C reconnects=R errors=E   (every second)
 *   issued N                           (-G) the first N acquires are sent
 *
 *   -l  loop: release every granted lease at once and acquire it again
 *   -r  reconnect after COROLEASE_EDISCONNECTED and acquire everything again
 *   -w  WAIT flag (queue behind other holders)
 *   -H  release a lease when another node wants it (and do not re-acquire)
 *   -1  do not re-acquire after a revocation or a failed acquire
 *   -s  shared mode
 *   -G  after "connected", wait for SIGUSR1 before the first acquire (a test
 *       stops the daemon in between, so the window's acquires all wait for it)
 *   -C  cork the connection while acquires are made (corolease_cork()), so
 *       they go many a system call; the releases made in callbacks go corked
 *       anyway (corolease_dispatch() corks while it runs them)
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>

#include "clt.h"

enum { S_IDLE, S_PENDING, S_HELD, S_DONE };

struct slot {
	corolease_lease_t *lease;
	uint8_t state;
};

static struct slot *slots;
static uint32_t count, window = 500, *todo, todo_head, todo_tail, todo_n;
static char prefix[256] = "load/", exact[1100];
static bool opt_loop, opt_reconnect, opt_wait, opt_handover, opt_once, opt_verbose, opt_go, opt_cork;
static int opt_mode = COROLEASE_EX;
static uint64_t held, pending, cycles, reconnects, errors;
static bool all_reported;
static uint64_t connected_at;  /* now_us() of the first connection */
static corolease_t *h;
static bool dead;
static uint64_t retry_at;

/* The library's clock: corolease_get_timeout() is CLOCK_BOOTTIME. */
static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t name_of(uint32_t i, char *buf, size_t cap)
{
	if (exact[0])
		return (size_t)snprintf(buf, cap, "%s", exact);
	return (size_t)snprintf(buf, cap, "%s%06" PRIu32, prefix, i);
}

static void push(uint32_t i)
{
	slots[i].state = S_IDLE;
	slots[i].lease = NULL;
	todo[todo_tail] = i;
	todo_tail = (todo_tail + 1) % count;
	todo_n++;
}

static bool transient(int err)
{
	return err == COROLEASE_ENOQUORUM || err == COROLEASE_ESYNCING || err == -EBUSY ||
	       err == -ETIMEDOUT || err == COROLEASE_EORPHANED || err == COROLEASE_EREVOKED ||
	       err == -EAGAIN || err == -EDQUOT;
}

static void on_acquired(corolease_t *hh, corolease_lease_t *lease, int err, void *udata)
{
	(void)hh;
	(void)udata;   /* the connection's udata; the slot is the lease's */
	uint32_t i = (uint32_t)(uintptr_t)corolease_lease_udata(lease);
	char nm[1100];
	name_of(i, nm, sizeof(nm));
	if (i >= count || slots[i].state != S_PENDING || slots[i].lease != lease) {
		fprintf(stderr, "cl-load: acquired callback for an unknown lease (slot %" PRIu32 ")\n", i);
		return;
	}
	pending--;
	if (err) {
		errors++;
		if (opt_verbose)
			printf("failed %s err %s\n", nm, corolease_errname(err));
		if (!opt_once && transient(err)) {
			push(i);
			retry_at = now_us() + 100000;
		} else {
			slots[i].state = S_DONE;
			slots[i].lease = NULL;
		}
		return;
	}
	if (opt_verbose)
		printf("granted %s epoch %" PRIu64 "\n", nm, corolease_lease_epoch(lease));
	cycles++;
	if (opt_loop) {
		corolease_release(lease);
		push(i);
		return;
	}
	slots[i].state = S_HELD;
	slots[i].lease = lease;
	held++;
	if (held == count && !all_reported) {
		printf("all held %" PRIu32 "\n", count);
		printf("took %" PRIu64 "\n", now_us() - connected_at);
		all_reported = true;
	}
}

static void on_wanted(corolease_t *hh, corolease_lease_t *lease, uint32_t node, void *udata)
{
	(void)hh;
	(void)udata;
	uint32_t i = (uint32_t)(uintptr_t)corolease_lease_udata(lease);
	char nm[1100];
	name_of(i, nm, sizeof(nm));
	if (opt_verbose)
		printf("wanted %s by node %" PRIu32 "\n", nm, node);
	if (opt_handover && slots[i].state == S_HELD) {
		corolease_release(lease);
		slots[i].state = S_DONE;
		slots[i].lease = NULL;
		held--;
		if (opt_verbose)
			printf("released %s\n", nm);
	}
}

static void on_revoked(corolease_t *hh, corolease_lease_t *lease, void *udata)
{
	(void)hh;
	(void)udata;
	uint32_t i = (uint32_t)(uintptr_t)corolease_lease_udata(lease);
	char nm[1100];
	name_of(i, nm, sizeof(nm));
	if (opt_verbose)
		printf("revoked %s\n", nm);
	if (i >= count || slots[i].lease != lease) {
		fprintf(stderr, "cl-load: revoked callback for an unknown lease (slot %" PRIu32 ")\n", i);
		return;
	}
	if (slots[i].state == S_HELD) {
		held--;
		all_reported = false;
	} else if (slots[i].state == S_PENDING) {
		pending--;
	}
	corolease_release(lease);
	if (opt_once) {
		slots[i].state = S_DONE;
		slots[i].lease = NULL;
	} else {
		push(i);
		retry_at = now_us() + 100000;
	}
}

static void on_disconnected(corolease_t *hh, void *udata)
{
	(void)hh;
	(void)udata;
	dead = true;
}

static const struct corolease_callbacks cbs = {
	.acquired = on_acquired,
	.wanted = on_wanted,
	.revoked = on_revoked,
	.disconnected = on_disconnected,
};

static void reset_all(void)
{
	todo_head = todo_tail = todo_n = 0;
	held = pending = 0;
	all_reported = false;
	for (uint32_t i = 0; i < count; i++) {
		if (slots[i].state == S_DONE && opt_once)
			continue;
		push(i);
	}
}


static int do_connect(void)
{
	int r = corolease_connect(&h);
	if (r < 0) {
		h = NULL;
		return r;
	}
	if (!connected_at)
		connected_at = now_us();
	corolease_set_callbacks(h, &cbs, NULL);
	dead = false;
	return 0;
}

static void issue(void)
{
	uint64_t now = now_us();
	if (retry_at && now < retry_at)
		return;
	retry_at = 0;
	while (!dead && todo_n && pending < window) {
		uint32_t i = todo[todo_head];
		todo_head = (todo_head + 1) % count;
		todo_n--;
		char nm[1100];
		size_t len = name_of(i, nm, sizeof(nm));
		corolease_lease_t *l;
		int r = corolease_acquire_async(h, nm, len, opt_mode, opt_wait ? COROLEASE_WAIT : 0, 0,
						(void *)(uintptr_t)i, &l);
		if (r < 0) {
			if (r == COROLEASE_EDISCONNECTED) {
				dead = true;
				push(i);
				return;
			}
			errors++;
			fprintf(stderr, "cl-load: acquire_async %s: %s\n", nm, corolease_errname(r));
			push(i);
			retry_at = now + 100000;
			return;
		}
		slots[i].state = S_PENDING;
		slots[i].lease = l;
		pending++;
	}
}

int main(int argc, char **argv)
{
	int c;
	count = 1;
	while ((c = getopt(argc, argv, "p:n:x:W:lrwH1svGC")) != -1) {
		switch (c) {
		case 'p': snprintf(prefix, sizeof(prefix), "%s", optarg); break;
		case 'n': count = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'x': snprintf(exact, sizeof(exact), "%s", optarg); count = 1; break;
		case 'W': window = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'l': opt_loop = true; break;
		case 'r': opt_reconnect = true; break;
		case 'w': opt_wait = true; break;
		case 'H': opt_handover = true; break;
		case '1': opt_once = true; break;
		case 's': opt_mode = COROLEASE_SH; break;
		case 'v': opt_verbose = true; break;
		case 'G': opt_go = true; break;
		case 'C': opt_cork = true; break;
		default:
			fprintf(stderr, "usage: cl-load [-p PREFIX -n COUNT | -x NAME] [-W WINDOW] [-lrwH1svGC]\n");
			return 2;
		}
	}
	if (!count || !window) {
		fprintf(stderr, "cl-load: COUNT and WINDOW must be > 0\n");
		return 2;
	}
	clt_start();

	slots = calloc(count, sizeof(*slots));
	todo = calloc(count, sizeof(*todo));
	if (!slots || !todo)
		return 1;
	sigset_t go;
	sigemptyset(&go);
	sigaddset(&go, SIGUSR1);
	if (opt_go)
		sigprocmask(SIG_BLOCK, &go, NULL);
	int r;
	while ((r = do_connect()) < 0) {
		if (!opt_reconnect) {
			fprintf(stderr, "cl-load: connect: %s\n", corolease_strerror(r));
			return 3;
		}
		if (clt_stop)
			return 0;
		usleep(100000);
	}
	printf("connected node %" PRIu32 "\n", corolease_nodeid(h));
	if (opt_go) {
		int sig;
		sigwait(&go, &sig);
	}
	reset_all();
	uint64_t next_report = now_us() + 1000000;
	while (!clt_stop) {
		if (dead) {
			if (h) {
				printf("disconnected\n");
				h = corolease_close(h);
			}
			if (!opt_reconnect) {
				fprintf(stderr, "cl-load: disconnected from coroleased\n");
				return 3;
			}
			if (do_connect() < 0) {
				usleep(100000);
				continue;
			}
			reconnects++;
			printf("reconnected\n");
			reset_all();
		}
		bool corked = opt_cork && corolease_cork(h) == 0;
		issue();
		if (corked && corolease_uncork(h) == COROLEASE_EDISCONNECTED)
			dead = true;
		if (opt_go) {
			printf("issued %" PRIu64 "\n", pending);
			opt_go = false;
		}
		uint64_t now = now_us();
		uint64_t t = corolease_get_timeout(h);
		if (next_report < t)
			t = next_report;
		if (retry_at && retry_at < t)
			t = retry_at;
		int ms = t <= now ? 0 : (int)((t - now + 999) / 1000);
		if (ms > 1000)
			ms = 1000;
		struct pollfd p = { .fd = corolease_get_fd(h), .events = (short)corolease_get_events(h) };
		int n = poll(&p, 1, ms);
		if (n < 0 && errno != EINTR) {
			perror("cl-load: poll");
			return 1;
		}
		r = corolease_dispatch(h);
		if (r == COROLEASE_EDISCONNECTED)
			dead = true;
		else if (r < 0 && r != -EAGAIN)
			fprintf(stderr, "cl-load: dispatch: %s\n", corolease_errname(r));
		now = now_us();
		if (now >= next_report) {
			printf("progress held=%" PRIu64 " pending=%" PRIu64 " cycles=%" PRIu64
			       " reconnects=%" PRIu64 " errors=%" PRIu64 "\n",
			       held, pending, cycles, reconnects, errors);
			next_report = now + 1000000;
		}
	}
	printf("stopping: held=%" PRIu64 " cycles=%" PRIu64 " reconnects=%" PRIu64 "\n", held, cycles,
	       reconnects);
	corolease_close(h);
	free(slots);
	free(todo);
	return 0;
}
