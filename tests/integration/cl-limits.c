/*
 * cl-limits.c - integration-test client of libcorolease for the limits a
 * local client could otherwise exhaust (connections, watches).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-limits connect N        opens up to N connections, stopping at the
 *                              first error, then keeps them until SIGTERM
 *   cl-limits watch N PREFIX   one connection watches PREFIX0 .. PREFIX(N-1),
 *                              stopping at the first error, then prints the
 *                              index changes it is told of until SIGTERM
 *   cl-limits watch-each N PREFIX
 *                              N connections, connection I watching PREFIXI;
 *                              prints the changes any of them is told of
 *
 * Lines on stdout (line-buffered), for the test scripts:
 *
 *   connected K                K connections (watch: watches) made
 *   refused ERRNAME            the next one failed with ERRNAME
 *   ready                      all done; now waiting for SIGTERM
 *   changed NAME KEY           an index change of NAME (watch)
 *
 * Exit status 0 after SIGTERM or SIGINT, 3 when no first connection was made.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <corolease.h>

#include "clt.h"



static void on_changed(corolease_t *h, const void *name, size_t namelen, const void *key,
		       size_t keylen, uint64_t version, int deleted, uint32_t writer, void *udata)
{
	(void)h;
	(void)version;
	(void)deleted;
	(void)writer;
	(void)udata;
	printf("changed %.*s %.*s\n", (int)namelen, (const char *)name, (int)keylen,
	       (const char *)key);
}

/* Serves the events of the n connections hs until SIGTERM (n may be 0: just waits). */
static void serve(corolease_t **hs, long n)
{
	struct pollfd *p = calloc((size_t)n + 1, sizeof(*p));
	if (!p)
		return;
	while (!clt_stop) {
		if (!n) {
			pause();
			continue;
		}
		int ms = 200;
		for (long i = 0; i < n; i++) {
			p[i] = (struct pollfd){ .fd = corolease_get_fd(hs[i]),
						.events = (short)corolease_get_events(hs[i]) };
			if (corolease_get_timeout(hs[i]) == 0)
				ms = 0;
		}
		poll(p, (nfds_t)n, ms);
		for (long i = 0; i < n; i++) {
			if (corolease_dispatch(hs[i]) == COROLEASE_EDISCONNECTED) {
				printf("disconnected\n");
				free(p);
				return;
			}
		}
	}
	free(p);
}

/* n connections, connection I watching PREFIX<I> when prefix is not NULL. */
static int do_connect(long n, const char *prefix)
{
	corolease_t **hs = calloc((size_t)n, sizeof(*hs));
	if (!hs)
		return 1;
	struct corolease_callbacks cb = { .index_changed = on_changed };
	char name[256];
	long k = 0;
	int r = 0;
	for (; k < n; k++) {
		if ((r = corolease_connect(&hs[k])) < 0)
			break;
		if (!prefix)
			continue;
		corolease_set_callbacks(hs[k], &cb, NULL);
		int len = snprintf(name, sizeof(name), "%s%ld", prefix, k);
		if ((r = corolease_watch(hs[k], name, (size_t)len)) < 0) {
			corolease_close(hs[k]);
			break;
		}
	}
	printf("connected %ld\n", k);
	if (k < n)
		printf("refused %s\n", corolease_errname(r));
	printf("ready\n");
	serve(hs, k);
	for (long i = 0; i < k; i++)
		corolease_close(hs[i]);
	free(hs);
	return k ? 0 : 3;
}

static int do_watch(long n, const char *prefix)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		printf("refused %s\n", corolease_errname(r));
		return 3;
	}
	struct corolease_callbacks cb = { .index_changed = on_changed };
	corolease_set_callbacks(h, &cb, NULL);
	long k = 0;
	char name[256];
	for (; k < n; k++) {
		int len = snprintf(name, sizeof(name), "%s%ld", prefix, k);
		if ((r = corolease_watch(h, name, (size_t)len)) < 0)
			break;
	}
	printf("connected %ld\n", k);
	if (k < n)
		printf("refused %s\n", corolease_errname(r));
	printf("ready\n");
	serve(&h, 1);
	corolease_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	clt_start();
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	if (argc == 3 && !strcmp(argv[1], "connect") && n > 0)
		return do_connect(n, NULL);
	if (argc == 4 && !strcmp(argv[1], "watch") && n > 0)
		return do_watch(n, argv[3]);
	if (argc == 4 && !strcmp(argv[1], "watch-each") && n > 0)
		return do_connect(n, argv[3]);
	fprintf(stderr, "usage: cl-limits connect N | cl-limits watch[-each] N PREFIX\n");
	return 2;
}
