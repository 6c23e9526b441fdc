/*
 * cl-drop.c - integration-test client of libcorolease: a revoked hold that
 * its client never released is dropped by the daemon at its revoke deadline,
 * and the name stays taken for that client until it releases the old hold
 * (t68).  Found by a breaker of 4554f3f, where the daemon forgot the name at
 * the drop: the client could acquire it again on the same connection, and
 * its late release of the old handle then released the new hold without a
 * word (or cancelled a WAIT acquire of it, which was never answered).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-drop NAME
 *
 * Connection h1 acquires NAME (EX), prints "held NAME" and never
 * dispatches; the test evicts NAME (as root); once the daemon has dropped
 * the hold (nobody owns NAME), h1's acquire of NAME, plain and WAIT, must be
 * refused EALREADY, and the hold's share of the user's hold quota must still
 * be charged (status caller.holds 1: a second breaker found dropped holds
 * outside the quota, so one user could keep any number); h1 releases the old
 * handle; then h1 acquires NAME again, and another connection's NOWAIT try
 * must find it busy and the lease valid; after the last release the quota
 * is back to 0.  Prints "ok ..." per check, "FAIL ..." and exits 1 at the
 * first that fails.  Run as a user with no other holds on the node.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <corolease.h>
#include <corolease_admin.h>

#include "clt.h"

static const char *name;

static void fail(const char *what, int rc)
{
	printf("FAIL %s: %d %s\n", what, rc, rc ? corolease_errname(rc) : "ok");
	exit(1);
}

static corolease_t *conn(void)
{
	corolease_t *h;
	int rc = corolease_connect(&h);
	if (rc < 0)
		fail("connect", rc);
	return h;
}

static int acquire(corolease_t *h, unsigned flags, unsigned timeout_ms, corolease_lease_t **l)
{
	uint32_t owner = 0;
	return corolease_acquire(h, name, strlen(name), COROLEASE_EX, flags, timeout_ms, l, &owner);
}

/* The caller's uid's charged holds (status caller.holds). */
static uint64_t caller_holds(corolease_t *h)
{
	corolease_status_t *st;
	uint64_t v = UINT64_MAX;
	int rc = corolease_status_get(h, &st);
	if (rc < 0)
		fail("status", rc);
	if (corolease_status_u64(st, "caller.holds", &v) < 0)
		fail("status has caller.holds", -ENOENT);
	corolease_status_free(st);
	return v;
}

static void expect_holds(corolease_t *h, uint64_t want, const char *when)
{
	uint64_t v = caller_holds(h);
	for (int i = 0; i < 100 && v != want; i++) {   /* a release is answered by nobody */
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
		v = caller_holds(h);
	}
	if (v != want) {
		printf("FAIL caller.holds %s: %llu, want %llu\n", when, (unsigned long long)v,
		       (unsigned long long)want);
		exit(1);
	}
	printf("ok caller.holds %llu %s\n", (unsigned long long)want, when);
}

static int async_err;
static bool async_done;

static void on_acquired(corolease_t *h, corolease_lease_t *l, int err, void *u)
{
	(void)h, (void)l, (void)u;
	async_err = err;
	async_done = true;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: cl-drop NAME\n");
		return 2;
	}
	name = argv[1];
	clt_start();
	corolease_t *h1 = conn(), *adm = conn(), *h3 = conn();
	corolease_lease_t *old, *l;
	int rc = acquire(h1, 0, 0, &old);
	if (rc)
		fail("h1 acquires", rc);
	printf("held %s\n", name);
	/* the daemon drops the hold at its revoke deadline: then nobody owns the name */
	uint32_t owner = 1;
	for (int i = 0; i < 300 && owner; i++) {
		if ((rc = corolease_owner(adm, name, strlen(name), &owner)) < 0)
			fail("owner", rc);
		if (owner) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (owner)
		fail("the evicted hold is dropped within 15 s", -ETIMEDOUT);
	if (corolease_lease_valid(old))
		fail("the dropped hold is not valid", 1);
	printf("ok the daemon dropped h1's hold\n");
	if ((rc = acquire(h1, 0, 0, &l)) != -EALREADY)
		fail("h1 acquires again before it releases the old hold: EALREADY", rc);
	struct corolease_callbacks cb = { .acquired = on_acquired };
	corolease_set_callbacks(h1, &cb, NULL);
	if ((rc = corolease_acquire_async(h1, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 0,
					  NULL, &l)) < 0)
		fail("h1's async WAIT acquire is sent", rc);
	for (int i = 0; i < 100 && !async_done; i++) {
		struct pollfd p = { .fd = corolease_get_fd(h1), .events = POLLIN };
		poll(&p, 1, 50);
		corolease_dispatch(h1);
	}
	if (!async_done || async_err != -EALREADY)
		fail("h1's async WAIT acquire is answered EALREADY", async_done ? async_err : -ETIMEDOUT);
	printf("ok h1 may not acquire the name again before it releases the old hold\n");
	expect_holds(adm, 1, "while the dropped hold is not released");
	corolease_release(old);
	expect_holds(adm, 0, "after its release");
	if ((rc = acquire(h1, 0, 0, &l)))
		fail("h1 acquires after the release", rc);
	corolease_lease_t *t;
	if ((rc = acquire(h3, 0, 0, &t)) != -EBUSY)
		fail("another connection's try finds it busy", rc);
	if (!corolease_lease_valid(l))
		fail("h1's new lease is valid", 0);
	printf("ok after its release h1 holds the name again\n");
	expect_holds(adm, 1, "with the new hold");
	corolease_release(l);
	expect_holds(adm, 0, "after the last release");
	corolease_close(h3);
	corolease_close(adm);
	corolease_close(h1);
	printf("done\n");
	return 0;
}
