/*
 * clt.h - what the integration-test clients (cl-*.c) share: line-buffered
 * output for the test scripts, and a clean stop on SIGTERM or SIGINT.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CLT_H
#define COROLEASE_CLT_H

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Set by SIGTERM or SIGINT: the client's loop ends and it exits 0. */
static volatile sig_atomic_t clt_stop;

static void clt_on_signal(int sig)
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

#endif /* COROLEASE_CLT_H */
