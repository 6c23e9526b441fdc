/*
 * cl-squat.c - integration-test stand-in for a local user's fake daemon: it
 * serves a libqb IPC service NAME (the abstract socket any local user may
 * bind) and accepts every connection, answering nothing.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-squat NAME...
 *
 * Serves every NAME it can bind; prints "serving NAME" or "taken NAME ERR"
 * for each, then "ready", and runs until SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <qb/qbipcs.h>
#include <qb/qbloop.h>

static qb_loop_t *loop;

static int32_t accept_fn(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)c;
	(void)uid;
	(void)gid;
	return 0;
}

static int32_t msg_fn(qb_ipcs_connection_t *c, void *data, size_t size)
{
	(void)c;
	(void)data;
	(void)size;
	return 0;   /* a fake daemon that never answers */
}

static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(loop, p, fd, evts, data, fn);
}

static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(loop, p, fd, evts, data, fn);
}

static int32_t dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(loop, fd);
}

static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(loop, p, data, fn);
}

static int32_t on_term(int32_t sig, void *data)
{
	(void)sig;
	(void)data;
	qb_loop_stop(loop);
	return 0;
}

int main(int argc, char **argv)
{
	static struct qb_ipcs_service_handlers sh = { .connection_accept = accept_fn,
						      .msg_process = msg_fn };
	static struct qb_ipcs_poll_handlers ph = { .job_add = job_add, .dispatch_add = dispatch_add,
						   .dispatch_mod = dispatch_mod,
						   .dispatch_del = dispatch_del };
	setvbuf(stdout, NULL, _IOLBF, 0);
	loop = qb_loop_create();
	if (!loop)
		return 1;
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGTERM, NULL, on_term, NULL);
	for (int i = 1; i < argc; i++) {
		qb_ipcs_service_t *s = qb_ipcs_create(argv[i], 0, QB_IPC_NATIVE, &sh);
		if (!s) {
			printf("taken %s %s\n", argv[i], strerror(errno));
			continue;
		}
		qb_ipcs_poll_handlers_set(s, &ph);
		int rc = qb_ipcs_run(s);
		if (rc < 0)
			printf("taken %s %s\n", argv[i], strerror(-rc));
		else
			printf("serving %s\n", argv[i]);
	}
	printf("ready\n");
	qb_loop_run(loop);
	return 0;
}
