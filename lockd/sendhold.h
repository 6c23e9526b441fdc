/*
 * sendhold.h - when a batch of cluster messages waits for one of the node's
 * own CPG messages to come back (cpg.c; issue 9).  Pure logic: no I/O, no
 * clock.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * cpg.c counts its CPG messages sent and not yet delivered back.  While max
 * of them are in flight, the next batch waits until one is back (or its
 * fallback timer fires, or it is full: cpg.c's business).  Idle, nothing
 * is in flight and a batch never waits.  A new ring resets the count: what
 * was sent may come back in it or never, and a delivery counted after the
 * reset never takes the count below zero.
 */
#ifndef COROLEASE_SENDHOLD_H
#define COROLEASE_SENDHOLD_H

#include <stdbool.h>

struct cld_sendhold {
	unsigned inflight;            /* own CPG messages sent, not yet delivered back */
	unsigned max;                 /* a batch waits at this many; 0: never */
};

void cld_sendhold_init(struct cld_sendhold *h, unsigned max);
/* One of our CPG messages was handed to corosync. */
void cld_sendhold_sent(struct cld_sendhold *h);
/* One of ours was delivered back; true when a waiting batch may go now. */
bool cld_sendhold_back(struct cld_sendhold *h);
/* A new ring, or the connection lost: nothing counted in flight. */
void cld_sendhold_reset(struct cld_sendhold *h);
/* Whether a batch ready to go must wait for one of ours to come back. */
bool cld_sendhold_wait(const struct cld_sendhold *h);

#endif /* COROLEASE_SENDHOLD_H */
