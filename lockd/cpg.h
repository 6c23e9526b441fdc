/*
 * cpg.h - the CPG transport of coroleased: the group connection, batched
 * multicasts, and deliveries and merged configuration changes handed to its
 * owner through ops.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The transport knows only what its owner hands it: a loop (for the batch
 * flush it schedules), the group name and the ops.  The owner polls
 * cld_cpg_fd() once connected and calls cld_cpg_dispatch() when it is
 * ready; what to do when the connection is lost is the owner's decision.
 */
#ifndef COROLEASE_CPG_H
#define COROLEASE_CPG_H

#include <stddef.h>
#include <stdint.h>

#include <qb/qbloop.h>

#include "confchg.h"

struct cld_cpg_ops {
	/* One ordered node message from sender (a batch arrives split). */
	void (*deliver)(void *ctx, uint32_t sender, const void *msg, size_t len);
	/* A configuration change, merged as confchg.h describes. */
	void (*confchg)(void *ctx, const struct cld_change *ch);
	/*
	 * The totem membership of ring (every node whose corosync is in it),
	 * from each totem confchg, handed over before the group change of that
	 * ring.  May be NULL.
	 */
	void (*totem)(void *ctx, const struct cl_ring *ring, const uint32_t *members, size_t n);
};

struct cld_cpg;

/* cld_cpg_dispatch(): -EEXIST once another daemon of our node was in the group first (stop). */

/*
 * A transport for group group_name (copied), not connected.  ops must
 * outlive it.  NULL on ENOMEM.
 */
struct cld_cpg *cld_cpg_new(qb_loop_t *loop, const char *group_name,
			    const struct cld_cpg_ops *ops, void *ctx);
/* Leaves nothing behind (disconnects without leaving); accepts NULL; returns NULL. */
struct cld_cpg *cld_cpg_free(struct cld_cpg *c);

/*
 * Connects to corosync's CPG service (not yet joined).  *nodeid_r gets the
 * local node id.  Returns 0 or -ENOTCONN (corosync not running or refusing).
 */
int cld_cpg_connect(struct cld_cpg *c, uint32_t *nodeid_r);
/* The fd to poll for POLLIN while connected, else -1. */
int cld_cpg_fd(const struct cld_cpg *c);
/*
 * Dispatches what is pending after poll reported revents on the fd: the ops
 * run from inside.  0, or -ENOTCONN when the connection is gone (a dispatch
 * error or a hang-up); the connection is then left as it is for the owner
 * to disconnect.
 */
int cld_cpg_dispatch(struct cld_cpg *c, int revents);
/* Joins the group.  0, -EAGAIN (corosync kept saying try again) or -EIO. */
int cld_cpg_join(struct cld_cpg *c);
/*
 * Sends what is batched, leaves the group (best effort) and disconnects.
 * Safe when not connected.  The owner stops polling the fd first.  When
 * corosync did not read the last request (cs.h), it only forgets the
 * connection (for a process about to exit): leaving would wait for corosync.
 */
void cld_cpg_leave(struct cld_cpg *c);
/* Drops the connection without leaving (corosync is gone).  Safe when not connected. */
void cld_cpg_disconnect(struct cld_cpg *c);

/*
 * While n of the node's own CPG messages are sent and not yet delivered
 * back, a new batch waits for one of them (at most CLD_CPG_HOLD_MS, or until
 * it is full).  Idle, nothing is in flight and a message goes at the end of
 * the loop iteration that made it; under load the messages of several
 * iterations share one CPG message.  n is batch_inflight of corolease.conf
 * (its default is config.c's); 0, as from cld_cpg_new(): a batch never waits.
 */
#define CLD_CPG_HOLD_MS  20u
/*
 * A flush corosync refuses (its queue is full, or it does not read its
 * socket: cs.h cld_cs_writable()) is retried after 1 ms, doubling up to this
 * while it stays refused.
 */
#define CLD_CPG_RETRY_MAX_MS  32u
void cld_cpg_set_inflight(struct cld_cpg *c, unsigned n);

/*
 * For cl_node_ops.mcast: queues buf in the batch sent once the current loop
 * iteration is done (or, with batch_inflight own messages in flight, once
 * one is back).  0, -EAGAIN (congested) or -ENOTCONN (not joined).
 */
int cld_cpg_mcast(struct cld_cpg *c, const void *buf, size_t len);
/* The ring of the latest totem confchg (0/0 before the first). */
void cld_cpg_ring(const struct cld_cpg *c, uint32_t *rep_r, uint64_t *seq_r);
/* CPG messages sent, and batches held for an own message back, since cld_cpg_new(). */
void cld_cpg_counts(const struct cld_cpg *c, uint64_t *sent_r, uint64_t *held_r);

#endif /* COROLEASE_CPG_H */
