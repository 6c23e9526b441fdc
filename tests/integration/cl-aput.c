/*
 * cl-aput.c - integration-test client of corolease_index_put_async()
 * against a real coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-aput NAME COUNT WINDOW MODE
 *
 * Acquires NAME EX (waiting up to 30 s), then writes COUNT values "v<i>"
 * to key "k" with corolease_index_put_async(), at most WINDOW in flight,
 * and dispatches until every write's function ran.  MODE:
 *   run      as above;
 *   release  sends the first WINDOW puts, releases the lease at once, then
 *            dispatches until their functions ran (each must see NULL);
 *   hold     prints "ready", waits for SIGUSR1, then sends WINDOW puts
 *            and dispatches until their functions ran or 60 s passed (the
 *            test stops corosync and kills the daemon meanwhile).
 * At the end, one line:
 *   done calls=C ok=K failed=F first=ERRNAME nulllease=N ordered=0|1 last=V
 * where calls counts the functions run (each must run once: a second run
 * of one write prints "twice" and exits 1), ordered is 1 when the versions
 * of the successful writes rose in the order the writes were made, and
 * last is the version of the last successful write.  Exit 0, or 2 on bad
 * arguments, 3 when the set-up failed.
 */
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

#include "corolease.h"

struct wr {
	unsigned idx;
	bool ran;
};

static unsigned calls, ok, failed, nulllease, inflight;
static int first_err;
static bool ordered = true;
static uint64_t last_version;
static unsigned last_idx;
static bool any_ok;
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void done(corolease_t *h, corolease_lease_t *lease, int err, uint64_t version, void *ctx)
{
	(void)h;
	struct wr *w = ctx;
	if (w->ran) {
		printf("twice %u\n", w->idx);
		exit(1);
	}
	w->ran = true;
	calls++;
	inflight--;
	if (!lease)
		nulllease++;
	if (err < 0) {
		failed++;
		if (!first_err)
			first_err = err;
		return;
	}
	ok++;
	if (any_ok && (version <= last_version || w->idx <= last_idx))
		ordered = false;
	any_ok = true;
	last_version = version;
	last_idx = w->idx;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Dispatches until nothing is in flight or the deadline; false if the deadline came. */
static bool drain(corolease_t *h, uint64_t deadline)
{
	while (inflight && now_ms() < deadline) {
		struct pollfd pfd = { .fd = corolease_get_fd(h), .events = POLLIN };
		if (corolease_get_timeout(h) != 0)
			poll(&pfd, 1, 100);
		corolease_dispatch(h);
	}
	return inflight == 0;
}

static int put(corolease_lease_t *l, struct wr *w)
{
	char val[32];
	int vl = snprintf(val, sizeof(val), "v%u", w->idx);
	int r = corolease_index_put_async(l, "k", 1, val, (size_t)vl, done, w);
	if (r == 0)
		inflight++;
	return r;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5)
		return 2;
	const char *name = argv[1], *mode = argv[4];
	unsigned count = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned window = (unsigned)strtoul(argv[3], NULL, 10);
	if (!count || !window || (strcmp(mode, "run") && strcmp(mode, "release") && strcmp(mode, "hold")))
		return 2;
	signal(SIGUSR1, on_usr1);
	struct wr *ws = calloc(count, sizeof(*ws));
	corolease_t *h;
	corolease_lease_t *l = NULL;
	int r = corolease_connect(&h);
	if (r == 0)
		r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 30000, &l, NULL);
	if (r < 0 || !ws) {
		printf("setup failed: %s\n", corolease_errname(r));
		return 3;
	}
	for (unsigned i = 0; i < count; i++)
		ws[i].idx = i;
	unsigned issued = 0, refused = 0;
	if (!strcmp(mode, "run")) {
		while (issued < count) {
			while (issued < count && inflight < window) {
				if ((r = put(l, &ws[issued])) < 0) {
					printf("put %u refused: %s\n", issued, corolease_errname(r));
					refused++;
				}
				issued++;
			}
			struct pollfd pfd = { .fd = corolease_get_fd(h), .events = POLLIN };
			if (corolease_get_timeout(h) != 0)
				poll(&pfd, 1, 100);
			corolease_dispatch(h);
		}
		drain(h, now_ms() + 60000);
	} else {
		if (!strcmp(mode, "hold")) {
			printf("ready\n");
			while (!go)
				pause();
		}
		for (; issued < window && issued < count; issued++)
			if ((r = put(l, &ws[issued])) < 0) {
				printf("put %u refused: %s\n", issued, corolease_errname(r));
				refused++;
			}
		printf("sent %u\n", issued - refused);
		if (!strcmp(mode, "release")) {
			corolease_release(l);
			l = NULL;
		}
		drain(h, now_ms() + 60000);
	}
	printf("done calls=%u ok=%u failed=%u first=%s nulllease=%u ordered=%d last=%" PRIu64 "%s\n",
	       calls, ok, failed, corolease_errname(first_err), nulllease, ordered ? 1 : 0,
	       last_version, inflight ? " (some never ran)" : "");
	corolease_release(l);
	corolease_close(h);
	free(ws);
	return 0;
}
