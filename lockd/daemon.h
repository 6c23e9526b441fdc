/*
 * daemon.h - state shared by the parts of coroleased (main, cpg, quorum, ipc).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * One process, one qb_loop, one struct cld.  Every input (a corosync
 * dispatch, an IPC request, the timer) ends with cld_kick(), which re-arms
 * the node's timer at cl_node_next_deadline().
 */
#ifndef COROLEASE_DAEMON_H
#define COROLEASE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>
#include <qb/qblog.h>

#include "config.h"
#include "node.h"
#include "corolease/ipc.h"

struct cld_cpg;
struct cld_quorum;
struct cld_ipc;

struct cld {
	struct cld_config cfg;
	qb_loop_t *loop;
	struct cl_node *node;         /* NULL until corosync first answered */
	struct cl_node_config ncfg;
	uint32_t nodeid;
	pid_t pid;
	bool stopping;
	bool draining;                /* first SIGTERM: handing leases back */
	uint64_t drain_deadline;      /* cld_now_us() */

	struct cld_cpg *cpg;
	struct cld_quorum *vq;
	struct cld_ipc *ipc;

	/* corosync connection */
	bool connected;
	qb_loop_timer_handle reconnect_timer;
	bool reconnect_armed;

	/* node timer */
	qb_loop_timer_handle timer;
	bool timer_armed;
	uint64_t timer_at;

	/* validity page */
	char shm_path[128];
	struct clp_shm_page *shm;

	bool ready_notified;
	int lock_fd;
};

/* CLOCK_MONOTONIC in microseconds (the node's clock and the shm page's). */
uint64_t cld_now_us(void);

/* Re-arms the node timer after an input; also sends READY=1 once synced. */
void cld_kick(struct cld *d);

/* Corosync is gone (dispatch error or HUP): revoke, finalize, retry every second. */
void cld_transport_lost(struct cld *d, const char *why);

#endif /* COROLEASE_DAEMON_H */
