/*
 * confchg.h - merging CPG configuration changes into the node's view (pure:
 * no corosync, no I/O; logs only through its ops).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Which ring a configuration change belongs to.  corosync's exec/cpg.c
 * (cpg_sync_activate) sends, for a membership change, first the group
 * confchgs caused by it (left nodes with reason NODEDOWN, joined nodes with
 * reason NODEUP), and only then the totem confchg carrying the new ring id
 * (last_sync_ring_id, the ring handed to sync_init -- the same ring
 * votequorum reports).  The initial totem confchg
 * (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) likewise follows our own join
 * confchg.  So group confchgs with reason NODEDOWN/NODEUP, and any before
 * the first totem confchg, are held back and merged into one change with the
 * ring of the totem confchg that follows them.  Process joins and leaves
 * (JOIN, LEAVE, PROCDOWN) are ordinary ordered messages in the current ring
 * and are passed on at once.  A totem confchg that changes nothing in our
 * group still moves the node to the new ring (the votequorum ring must match
 * it for validity to be renewed).
 *
 * Members are counted by node: our own leave (at shutdown) is ignored, and
 * a node that leaves through one process while another of its processes is
 * still a member has not left.
 */
#ifndef COROLEASE_CONFCHG_H
#define COROLEASE_CONFCHG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lease.h"   /* struct cl_ring, CL_MAX_MEMBERS */

/* Why a process joined or left: corosync's CPG_REASON_* values. */
enum cld_cc_reason {
	CLD_CC_JOIN = 1,
	CLD_CC_LEAVE = 2,
	CLD_CC_NODEDOWN = 3,
	CLD_CC_NODEUP = 4,
	CLD_CC_PROCDOWN = 5,
};

/* One process of a group confchg (corosync's struct cpg_address). */
struct cld_cc_addr {
	uint32_t nodeid;
	uint32_t pid;
	uint32_t reason;              /* enum cld_cc_reason */
};

/* One merged change, in the form cl_node_confchg() takes.  Valid during the call. */
struct cld_change {
	struct cl_ring ring;
	const uint32_t *members;
	size_t nmembers;
	const uint32_t *left;
	size_t nleft;
	const uint32_t *joined;       /* includes this node on its first join */
	size_t njoined;
};

struct cld_confchg_ops {
	/* A merged change for the node. */
	void (*change)(void *ctx, const struct cld_change *ch);
	/* Optional: a log line (level as syslog).  May be NULL. */
	void (*log)(void *ctx, int level, const char *msg);
};

/* The merger's state; its fields are private to confchg.c. */
struct cld_confchg {
	const struct cld_confchg_ops *ops;
	void *ctx;
	uint32_t self_nodeid, self_pid;
	bool joined;                  /* our own join confchg seen */
	bool have_ring;
	struct cl_ring ring;
	uint32_t members[CL_MAX_MEMBERS];
	size_t nmembers;
	bool held;                    /* a change waits for the next totem confchg */
	uint32_t left[CL_MAX_MEMBERS], joined_ids[CL_MAX_MEMBERS];
	size_t nleft, njoined;
	/*
	 * One daemon per node: the process that speaks for each node (the
	 * first in the group; of two that join at once, the lower pid).
	 * Another process of that node is a twin: its joins, leaves and
	 * messages are ignored; when we are the twin, refused_by is the pid
	 * that speaks for our node and we must stop.
	 */
	struct { uint32_t nodeid, pid; } owner[CL_MAX_MEMBERS];
	size_t nowner;
	uint32_t refused_by;
	uint32_t twin_logged;         /* the last twin pid logged (one line per twin) */
};

/*
 * Starts (or restarts, after a reconnect) with nothing seen, as process
 * self_pid of node self_nodeid.  ops must outlive m.
 */
void cld_confchg_init(struct cld_confchg *m, uint32_t self_nodeid, uint32_t self_pid,
		      const struct cld_confchg_ops *ops, void *ctx);

/*
 * A group confchg: the full member list, and the processes that left and
 * joined.  Passes a change on at once, or holds it for the totem confchg
 * that follows.  Returns true when it carried our own join.
 */
bool cld_confchg_group(struct cld_confchg *m,
		       const struct cld_cc_addr *members, size_t nmembers,
		       const struct cld_cc_addr *left, size_t nleft,
		       const struct cld_cc_addr *joined, size_t njoined);

/* A totem confchg: the new ring.  Passes on what was held, or a ring change. */
void cld_confchg_totem(struct cld_confchg *m, const struct cl_ring *ring);

/*
 * Before each delivery: false while the deliveries are not ours (before our
 * join).  A change still held is passed on first (with a warning: corosync
 * sends the totem confchg before any message of the new ring).
 */
bool cld_confchg_deliverable(struct cld_confchg *m);

/*
 * Whether a message from (nodeid, pid) is the node's: false for a second
 * daemon of a node (a twin), whose messages must be dropped.
 */
bool cld_confchg_from_owner(const struct cld_confchg *m, uint32_t nodeid, uint32_t pid);

/*
 * Non-zero once another process of our own node was in the group first:
 * its pid.  This daemon must leave and stop.
 */
uint32_t cld_confchg_refused(const struct cld_confchg *m);

/* The ring of the latest totem confchg; false (and *ring_r untouched) before the first. */
bool cld_confchg_ring(const struct cld_confchg *m, struct cl_ring *ring_r);

/* "join", "leave", "nodedown", "nodeup", "procdown" or "?". */
const char *cld_cc_reason_name(uint32_t reason);

#endif /* COROLEASE_CONFCHG_H */
