/*
 * clt.h - what the integration-test clients (cl-*.c) share: line-buffered
 * output for the test scripts, a clean stop on SIGTERM or SIGINT, and (after
 * corolease/ipc.h) the daemon's service name for raw-protocol clients.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CLT_H
#define COROLEASE_CLT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by SIGTERM or SIGINT: the client's loop ends and it exits 0. */
static volatile sig_atomic_t clt_stop __attribute__((unused));

static inline void clt_on_signal(int sig)
{
	(void)sig;
	clt_stop = 1;
}

/* Line-buffers stdout, sets clt_stop on SIGTERM and SIGINT, ignores SIGPIPE. */
static inline void clt_start(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = clt_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

#ifdef CLP_SERVICE_FILE
/*
 * The daemon's libqb service name of this start, from the file it
 * publishes in $COROLEASE_RUN_DIR or CLP_DEFAULT_RUN_DIR (corolease/ipc.h),
 * for clients that talk the raw protocol.  Exits 1 with a FAIL line when
 * there is none.
 */
static inline const char *clt_service(void)
{
	static char name[CLP_SERVICE_NAME_MAX];
	const char *dir = getenv("COROLEASE_RUN_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir && dir[0] == '/' ? dir : CLP_DEFAULT_RUN_DIR,
		 CLP_SERVICE_FILE);
	FILE *f = fopen(path, "r");
	if (!f || fscanf(f, "%63s", name) != 1) {
		printf("FAIL: no service name in %s\n", path);
		exit(1);
	}
	fclose(f);
	return name;
}
#endif

#endif /* COROLEASE_CLT_H */
