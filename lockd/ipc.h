/*
 * ipc.h - the client side of coroleased: a libqb IPC server speaking
 * corolease/ipc.h, between local clients and the node agent.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The service knows only what its owner hands it at start: the loop, the
 * node agent (which must outlive the service), the daemon's configuration
 * and identity, and ops for what it cannot know itself.  Node events reach
 * it through cld_ipc_event(), called from the owner's cl_node_ops.event.
 */
#ifndef COROLEASE_IPC_H
#define COROLEASE_IPC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>

#include "config.h"
#include "holdquota.h"
#include "node.h"
#include "page.h"

struct cld_ipc_config {
	struct cl_node *node;         /* requests go here */
	const struct cld_config *conf;/* groups, per-client limits, kill_on_revoke */
	struct cl_node_config ncfg;   /* the node's effective configuration (a copy) */
	uint32_t nodeid;
	pid_t pid;                    /* the daemon's own (never killed) */
	struct cld_page *page;        /* the validity page (told in HELLO; a slot per client
					 hold); must outlive the service */
	struct cld_holdquota *holds;  /* who may take the page's slots (holdquota.h); must
					 outlive the service */
	bool memory_locked;           /* mlockall() succeeded (lock_memory) */
};

struct cld_ipc_ops {
	/* After each request and each disconnect (the node may have new deadlines). */
	void (*input_done)(void *ctx);
	/* For STATUS: the local votequorum view. */
	bool (*vq_quorate)(void *ctx);
	/* For STATUS before the first sync: the transport's ring. */
	void (*ring)(void *ctx, uint32_t *rep_r, uint64_t *seq_r);
	/* For STATUS: CPG messages sent, and batches held (cld_cpg_counts()). */
	void (*cpg_counts)(void *ctx, uint64_t *sent_r, uint64_t *held_r);
};

struct cld_ipc;

/*
 * Resolves socket_group/admin_group and starts the IPC service on loop
 * (one service per process).  cfg's pointers, ops and ctx must outlive the
 * service.  Returns 0 with *ip_r set, or negative: -EADDRINUSE (another
 * daemon serves the name), -ENOENT (an explicitly configured group does not
 * exist), -ENOMEM.
 */
int cld_ipc_start(qb_loop_t *loop, const struct cld_ipc_config *cfg,
		  const struct cld_ipc_ops *ops, void *ctx, struct cld_ipc **ip_r);
/* From now on new connections are refused (the daemon is stopping). */
void cld_ipc_refuse_new(struct cld_ipc *ip);
/* corosync's deliveries were read: root's connections may be read more a round again. */
void cld_ipc_deliveries_read(struct cld_ipc *ip);
/* Disconnects every client and destroys the service; accepts NULL; returns NULL. */
struct cld_ipc *cld_ipc_stop(struct cld_ipc *ip);
/*
 * The loop ran the node's timers at now: the kill guard leaves the kills
 * due before it to the loop (killguard.h).  Logs the kills the guard made
 * while the loop was stuck.
 */
void cld_ipc_loop_ran(struct cld_ipc *ip, uint64_t now);
/* Routes one node event to its client (or to every client / watcher). */
void cld_ipc_event(struct cld_ipc *ip, const struct cl_node_event *ev);

#endif /* COROLEASE_IPC_H */
