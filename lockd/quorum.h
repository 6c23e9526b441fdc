/*
 * quorum.h - the local votequorum view and cmap look-ups of coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Like cpg.h, the owner polls cld_quorum_fd() once connected, calls
 * cld_quorum_dispatch() when it is ready, and decides what a lost
 * connection means.
 */
#ifndef COROLEASE_QUORUM_H
#define COROLEASE_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

#include "lease.h"   /* struct cl_ring */
#include "node.h"    /* struct cl_node_vote */

/*
 * The vote count that goes with a verdict (votequorum_getinfo()): the
 * quorum, the expected votes (the highest expected, or the total if more)
 * and the votes of each member node.  known is false when votequorum did
 * not answer; the node agent then confirms nothing by votes.
 */
struct cld_votes {
	bool known;
	uint32_t quorum, expected;
	size_t n;
	struct cl_node_vote nodes[CL_MAX_MEMBERS];
};

struct cld_quorum_ops {
	/*
	 * A quorum verdict, with the ring it is for (the latest nodelist
	 * notification's), and the votequorum modes in effect (CL_QMODE_* of
	 * node.h, read with votequorum_getinfo()).
	 */
	void (*quorum)(void *ctx, bool quorate, const struct cl_ring *ring, unsigned qmodes,
		       const struct cld_votes *votes);
	/* The vote count changed with no verdict (cld_quorum_refresh()). */
	void (*votes)(void *ctx, const struct cl_ring *ring, const struct cld_votes *votes);
};

struct cld_quorum;

/* A view, not connected; ops must outlive it.  NULL on ENOMEM. */
struct cld_quorum *cld_quorum_new(const struct cld_quorum_ops *ops, void *ctx);
/*
 * Reads the vote count again and calls ops.votes if it changed.  votequorum
 * notifies nothing when a node's votes change at runtime
 * (corosync-quorumtool -v: exec/votequorum.c's reconfigure handler only
 * recalculates), so the owner calls this from time to time.  It calls
 * votequorum synchronously, which blocks while corosync is stopped: call it
 * only right after corosync handed something over (coroleased: its own
 * message delivered, at most once a second).
 */
void cld_quorum_refresh(struct cld_quorum *q);
/* Disconnects; accepts NULL; returns NULL. */
struct cld_quorum *cld_quorum_free(struct cld_quorum *q);

/* Connects to votequorum and starts tracking changes.  0 or -ENOTCONN. */
int cld_quorum_connect(struct cld_quorum *q);
/* The fd to poll for POLLIN while connected, else -1. */
int cld_quorum_fd(const struct cld_quorum *q);
/*
 * Dispatches what is pending after poll reported revents: ops.quorum runs
 * from inside.  0, or -ENOTCONN when the connection is gone.
 */
int cld_quorum_dispatch(struct cld_quorum *q, int revents);
/* Disconnects; safe when not connected.  The owner stops polling the fd first. */
void cld_quorum_disconnect(struct cld_quorum *q);
/* The last local votequorum verdict (false while disconnected). */
bool cld_quorum_quorate(const struct cld_quorum *q);

/*
 * Reads the effective totem token timeout (runtime.config.totem.token, ms)
 * from cmap.  0, or -ENOTCONN (corosync unreachable) or -ENOENT (key missing).
 */
int cld_cmap_token_ms(uint32_t *token_ms_r);

#endif /* COROLEASE_QUORUM_H */
