/*
 * quorum.c - votequorum tracking and cmap look-ups.  Contract: quorum.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * votequorum's quorum notification carries no ring id; the nodelist
 * notification does.  corosync's exec/votequorum.c sends the nodelist
 * notification from sync_process and the quorum notification from
 * sync_activate, both with quorum_ringid (the ring given to sync_init, the
 * same one CPG reports in its totem confchg), and trackstart sends both at
 * once, nodelist first.  So the ring of the latest nodelist notification is
 * the ring of each quorum verdict.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>
#include <corosync/votequorum.h>

#include "quorum.h"

struct cld_quorum {
	struct cld *d;
	votequorum_handle_t h;
	int fd;
	bool quorate;
	bool have_ring;
	struct cl_ring ring;
};

static struct cld_quorum *vq_of(votequorum_handle_t h)
{
	void *ctx = NULL;
	if (votequorum_context_get(h, &ctx) != CS_OK)
		return NULL;
	return ctx;
}

static void quorum_fn(votequorum_handle_t h, uint64_t context, uint32_t quorate,
		      uint32_t nnodes, votequorum_node_t nodes[])
{
	(void)context;
	(void)nodes;
	struct cld_quorum *q = vq_of(h);
	if (!q)
		return;
	qb_log(LOG_INFO, "votequorum: %s, %u known nodes, ring %u/%llu", quorate ? "quorate" : "NOT quorate",
	       nnodes, q->ring.rep, (unsigned long long)q->ring.seq);
	q->quorate = quorate;
	if (q->d->node && q->have_ring)
		cl_node_quorum(q->d->node, quorate, &q->ring);
}

static void nodelist_fn(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring,
			uint32_t nnodes, uint32_t nodes[])
{
	(void)context;
	(void)nodes;
	struct cld_quorum *q = vq_of(h);
	if (!q)
		return;
	qb_log(LOG_DEBUG, "votequorum nodelist: ring %u/%llu, %u nodes", ring.nodeid,
	       (unsigned long long)ring.seq, nnodes);
	q->ring.rep = ring.nodeid;
	q->ring.seq = ring.seq;
	q->have_ring = true;
}

static int dispatch_fn(int32_t fd, int32_t revents, void *data)
{
	(void)fd;
	struct cld *d = data;
	struct cld_quorum *q = d->vq;
	if (!q || !q->h)
		return -1;
	cs_error_t rc = CS_OK;
	if (revents & POLLIN)
		rc = votequorum_dispatch(q->h, CS_DISPATCH_ALL);
	if ((rc != CS_OK && rc != CS_ERR_TRY_AGAIN) ||
	    (!(revents & POLLIN) && (revents & (POLLHUP | POLLERR | POLLNVAL)))) {
		cld_transport_lost(d, "votequorum connection lost");
		return 0;
	}
	cld_kick(d);
	return 0;
}

int cld_quorum_connect(struct cld *d)
{
	if (!d->vq) {
		d->vq = calloc(1, sizeof(*d->vq));
		if (!d->vq)
			return -ENOMEM;
	}
	struct cld_quorum *q = d->vq;
	memset(q, 0, sizeof(*q));
	q->d = d;
	q->fd = -1;
	votequorum_callbacks_t cb = {
		.votequorum_quorum_notify_fn = quorum_fn,
		.votequorum_nodelist_notify_fn = nodelist_fn,
	};
	if (votequorum_initialize(&q->h, &cb) != CS_OK) {
		q->h = 0;
		return -ENOTCONN;
	}
	int fd = -1;
	if (votequorum_context_set(q->h, q) != CS_OK || votequorum_fd_get(q->h, &fd) != CS_OK ||
	    votequorum_trackstart(q->h, 0, CS_TRACK_CHANGES) != CS_OK) {
		votequorum_finalize(q->h);
		q->h = 0;
		return -ENOTCONN;
	}
	q->fd = fd;
	if (qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, dispatch_fn) < 0) {
		votequorum_finalize(q->h);
		q->h = 0;
		q->fd = -1;
		return -EIO;
	}
	return 0;
}

void cld_quorum_disconnect(struct cld *d)
{
	struct cld_quorum *q = d->vq;
	if (!q || !q->h)
		return;
	if (q->fd >= 0)
		qb_loop_poll_del(d->loop, q->fd);
	votequorum_finalize(q->h);
	q->h = 0;
	q->fd = -1;
	q->quorate = q->have_ring = false;
}

bool cld_quorum_quorate(const struct cld *d)
{
	return d->vq && d->vq->h && d->vq->quorate;
}

void cld_quorum_free(struct cld *d)
{
	cld_quorum_disconnect(d);
	free(d->vq);
	d->vq = NULL;
}

int cld_cmap_token_ms(uint32_t *token_ms_r)
{
	cmap_handle_t h;
	if (cmap_initialize(&h) != CS_OK)
		return -ENOTCONN;
	uint32_t v = 0;
	cs_error_t rc = cmap_get_uint32(h, "runtime.config.totem.token", &v);
	cmap_finalize(h);
	if (rc != CS_OK || !v)
		return -ENOENT;
	*token_ms_r = v;
	return 0;
}
