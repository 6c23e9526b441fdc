/*
 * cpg.h - the CPG transport of coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CPG_H
#define COROLEASE_CPG_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

/*
 * Connects to corosync's CPG service (not yet joined) and registers its fd
 * with d->loop.  *nodeid_r gets the local node id.  Returns 0 or -errno-ish
 * (-ENOTCONN when corosync is not running).
 */
int cld_cpg_connect(struct cld *d, uint32_t *nodeid_r);
/* Joins d->cfg.group_name.  0 or negative. */
int cld_cpg_join(struct cld *d);
/* Leaves the group (best effort) and disconnects.  Safe when not connected. */
void cld_cpg_leave(struct cld *d);
/* Drops the connection without leaving (corosync is gone). */
void cld_cpg_disconnect(struct cld *d);
/* ops.mcast: 0, -EAGAIN (congested) or -ENOTCONN. */
int cld_cpg_mcast(void *ctx, const void *buf, size_t len);
/* CPG messages that carried more than one node message, and how many those carried. */
void cld_cpg_batch_stats(const struct cld *d, uint64_t *batches_r, uint64_t *msgs_r);
/* The ring of the latest totem confchg, and the group size. */
void cld_cpg_ring(const struct cld *d, uint32_t *rep_r, uint64_t *seq_r);
/* Frees the transport state; accepts d->cpg == NULL. */
void cld_cpg_free(struct cld *d);

#endif /* COROLEASE_CPG_H */
