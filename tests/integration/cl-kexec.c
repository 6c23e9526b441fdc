/*
 * cl-kexec NAME PROG [ARG...]: acquires NAME (EX, COROLEASE_KILL), prints
 * "granted NAME pid PID", then execs PROG keeping the connection open (its
 * descriptor no longer close-on-exec), so that PROG is the client the
 * daemon may kill past a revoke deadline.  For t38.  With
 * CL_KEXEC_AFTER_REVOKE=1 in the environment it execs only once the lease
 * reads invalid (revoked), printing "revoked NAME" first: t192's client
 * that becomes a set-user-ID program between its revoke and its deadline.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <corolease.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: cl-kexec NAME PROG [ARG...]\n");
		return 2;
	}
	corolease_t *h;
	corolease_lease_t *l;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "cl-kexec: connect: %s\n", corolease_strerror(r));
		return 1;
	}
	r = corolease_acquire(h, argv[1], strlen(argv[1]), COROLEASE_EX, COROLEASE_KILL, 0, &l, NULL);
	if (r < 0) {
		fprintf(stderr, "cl-kexec: acquire %s: %s\n", argv[1], corolease_strerror(r));
		return 1;
	}
	int fd = corolease_get_fd(h);
	if (fd < 0 || fcntl(fd, F_SETFD, 0) < 0) {
		perror("cl-kexec: fcntl");
		return 1;
	}
	printf("granted %s pid %d\n", argv[1], (int)getpid());
	fflush(stdout);
	const char *after = getenv("CL_KEXEC_AFTER_REVOKE");
	if (after && !strcmp(after, "1")) {
		while (corolease_lease_valid(l) == 1) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 20) > 0)
				corolease_dispatch(h);
		}
		printf("revoked %s\n", argv[1]);
		fflush(stdout);
	}
	execv(argv[2], argv + 2);
	perror("cl-kexec: exec");
	return 1;
}
