/*
 * cl-nshared.c - integration-test client: holds NAME in EX with
 * COROLEASE_NODE_SHARED and writes one index key under it.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-nshared NAME KEY VALUE
 *
 * Prints "granted epoch E" (or "refused ERRNAME" and exits 1), then
 * "put KEY ok" (or "put KEY ERRNAME"), "ready", and holds the lease until
 * SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <corolease.h>

#include "clt.h"

int main(int argc, char **argv)
{
	clt_start();
	if (argc != 4) {
		fprintf(stderr, "usage: cl-nshared NAME KEY VALUE\n");
		return 2;
	}
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		printf("connect %s\n", corolease_errname(r));
		return 3;
	}
	corolease_lease_t *l;
	r = corolease_acquire(h, argv[1], strlen(argv[1]), COROLEASE_EX, COROLEASE_NODE_SHARED, 5000,
			      &l, NULL);
	if (r < 0) {
		printf("refused %s\n", corolease_errname(r));
		return 1;
	}
	printf("granted epoch %llu\n", (unsigned long long)corolease_lease_epoch(l));
	uint64_t v = 0;
	r = corolease_index_put(l, argv[2], strlen(argv[2]), argv[3], strlen(argv[3]), &v);
	printf("put %s %s\n", argv[2], r < 0 ? corolease_errname(r) : "ok");
	printf("ready\n");
	while (!clt_stop) {
		corolease_dispatch(h);
		usleep(100000);
	}
	corolease_close(h);
	return 0;
}
