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
 * dispatches the library's events.  A revoked lease is released.  Lines on
 * stdout (line-buffered); T is CLOCK_REALTIME in nanoseconds, comparable
 * across the nodes of a test cluster on one host:
 *
 *   clock MONO_US T            at start: CLOCK_MONOTONIC (the daemon's clock) and T
 *   granted NAME EPOCH T
 *   failed NAME ERRNAME T      the acquire failed
 *   wanted NAME NODE T
 *   revoked NAME T             (then released)
 *   valid NAME 1 T             lease_valid() turned 1 (first seen at T)
 *   valid NAME 0 T LAST        turned 0 (seen at T); LAST: the last time it was seen 1
 *   end NAME LAST              at exit, for a lease still valid: the last time it was seen 1
 *   disconnected T
 *
 * So every interval in which this client could have written under NAME is
 * [T of "valid NAME 1", LAST of the "valid NAME 0" or "end" after it].
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>

#include "clt.h"

struct lease {
	const char *name;
	corolease_lease_t *l;        /* NULL once failed or released */
	bool valid;
	uint64_t last_valid;         /* T of the last lease_valid() == 1 */
};

static struct lease *leases;
static int nleases;


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

/* Samples lease_valid() of x and logs a change. */
static void sample(struct lease *x)
{
	bool v = x->l && corolease_lease_valid(x->l);
	uint64_t t = now();
	if (v && !x->valid)
		printf("valid %s 1 %" PRIu64 "\n", x->name, t);
	else if (!v && x->valid)
		printf("valid %s 0 %" PRIu64 " %" PRIu64 "\n", x->name, t, x->last_valid);
	if (v)
		x->last_valid = t;
	x->valid = v;
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

int main(int argc, char **argv)
{
	unsigned flags = 0;
	int mode = COROLEASE_EX, c;
	while ((c = getopt(argc, argv, "ws")) != -1) {
		switch (c) {
		case 'w': flags |= COROLEASE_WAIT; break;
		case 's': mode = COROLEASE_SH; break;
		default:
			fprintf(stderr, "usage: cl-valid [-w] [-s] NAME...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: cl-valid [-w] [-s] NAME...\n");
		return 2;
	}
	clt_start();

	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "cl-valid: connect: %s\n", corolease_strerror(r));
		return 3;
	}
	struct corolease_callbacks cb = { .acquired = on_acquired, .wanted = on_wanted,
					  .revoked = on_revoked, .disconnected = on_disconnected };
	corolease_set_callbacks(h, &cb, NULL);
	printf("clock %" PRIu64 " %" PRIu64 "\n", clock_ns(CLOCK_MONOTONIC) / 1000u, now());
	nleases = argc - optind;
	leases = calloc((size_t)nleases, sizeof(*leases));
	if (!leases)
		return 1;
	for (int i = 0; i < nleases; i++) {
		struct lease *x = &leases[i];
		x->name = argv[optind + i];
		r = corolease_acquire_async(h, x->name, strlen(x->name), mode, flags, 0, x, &x->l);
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
	for (int i = 0; i < nleases; i++)
		if (leases[i].valid)
			printf("end %s %" PRIu64 "\n", leases[i].name, leases[i].last_valid);
	corolease_close(h);
	free(leases);
	return 0;
}
