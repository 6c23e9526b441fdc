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
#include <qb/qblog.h>

#include "cs.h"
#include "node.h"   /* CL_QMODE_* */
#include "quorum.h"

struct cld_quorum {
	const struct cld_quorum_ops *ops;
	void *ctx;
	votequorum_handle_t h;
	bool quorate;
	bool have_ring;
	struct cl_ring ring;
	unsigned qmodes;              /* CL_QMODE_* */
	struct cld_votes votes;       /* of the last verdict */
	uint32_t nmembers;            /* the last verdict's member nodes */
	uint32_t members[CL_MAX_MEMBERS];
};

static struct cld_quorum *vq_of(votequorum_handle_t h)
{
	void *ctx = NULL;
	if (votequorum_context_get(h, &ctx) != CS_OK)
		return NULL;
	return ctx;
}

/*
 * The modes in which a split can leave both sides quorate (CL_QMODE_*),
 * from votequorum_getinfo() for this node (VOTEQUORUM_QDEVICE_NODEID stands
 * for "this node" there).  On failure the last known modes stay.
 */
static unsigned read_qmodes(struct cld_quorum *q)
{
	struct votequorum_info info;
	memset(&info, 0, sizeof(info));
	if (votequorum_getinfo(q->h, VOTEQUORUM_QDEVICE_NODEID, &info) != CS_OK) {
		qb_log(LOG_WARNING, "votequorum_getinfo failed; keeping the last known quorum modes");
		return q->qmodes;
	}
	unsigned m = 0;
	if (info.flags & VOTEQUORUM_INFO_TWONODE)
		m |= CL_QMODE_TWO_NODE;
	if (info.flags & VOTEQUORUM_INFO_LAST_MAN_STANDING)
		m |= CL_QMODE_LAST_MAN_STANDING;
	if (info.flags & VOTEQUORUM_INFO_AUTO_TIE_BREAKER)
		m |= CL_QMODE_AUTO_TIE_BREAKER;
	if (info.flags & VOTEQUORUM_INFO_QDEVICE_REGISTERED)
		m |= CL_QMODE_QDEVICE;
	if (info.total_votes < info.highest_expected)
		m |= CL_QMODE_INCOMPLETE;
	return m;
}

/*
 * The vote count now: the quorum and expected votes from this node's
 * votequorum_getinfo(), each member node's votes from its own (a node
 * votequorum cannot answer for counts 0 votes, which only makes the agent
 * wait for more acknowledgements).  Unknown if this node's fails.
 */
static void read_votes(struct cld_quorum *q)
{
	struct cld_votes *v = &q->votes;
	struct votequorum_info info;
	memset(&info, 0, sizeof(info));
	v->known = false;
	v->n = 0;
	if (votequorum_getinfo(q->h, VOTEQUORUM_QDEVICE_NODEID, &info) != CS_OK || !info.quorum)
		return;
	v->quorum = info.quorum;
	v->expected = info.highest_expected > info.total_votes ? info.highest_expected : info.total_votes;
	if (info.node_expected_votes > v->expected)
		v->expected = info.node_expected_votes;
	for (uint32_t i = 0; i < q->nmembers && v->n < CL_MAX_MEMBERS; i++) {
		struct votequorum_info ni;
		memset(&ni, 0, sizeof(ni));
		if (votequorum_getinfo(q->h, q->members[i], &ni) != CS_OK)
			continue;
		v->nodes[v->n++] = (struct cl_node_vote){ q->members[i], ni.node_votes };
	}
	v->known = true;
}

static bool votes_equal(const struct cld_votes *a, const struct cld_votes *b)
{
	if (a->known != b->known || a->quorum != b->quorum || a->expected != b->expected || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->nodes[i].nodeid != b->nodes[i].nodeid || a->nodes[i].votes != b->nodes[i].votes)
			return false;
	return true;
}

void cld_quorum_refresh(struct cld_quorum *q)
{
	if (!q->h || !q->have_ring)
		return;
	struct cld_votes old = q->votes;
	read_votes(q);
	if (votes_equal(&old, &q->votes))
		return;
	qb_log(LOG_NOTICE, "votequorum: the vote count changed with no notification (corosync-quorumtool -v?)");
	q->ops->votes(q->ctx, &q->ring, &q->votes);
}

static void tell(struct cld_quorum *q)
{
	q->qmodes = read_qmodes(q);
	read_votes(q);
	if (q->have_ring)
		q->ops->quorum(q->ctx, q->quorate, &q->ring, q->qmodes, &q->votes);
}

static void quorum_fn(votequorum_handle_t h, uint64_t context, uint32_t quorate,
		      uint32_t nnodes, votequorum_node_t nodes[])
{
	(void)context;
	struct cld_quorum *q = vq_of(h);
	if (!q)
		return;
	qb_log(LOG_INFO, "votequorum: %s, %u known nodes, ring %u/%llu", quorate ? "quorate" : "NOT quorate",
	       nnodes, q->ring.rep, (unsigned long long)q->ring.seq);
	q->quorate = quorate;
	q->nmembers = 0;
	for (uint32_t i = 0; i < nnodes && q->nmembers < CL_MAX_MEMBERS; i++)
		if (nodes[i].state == VOTEQUORUM_NODESTATE_MEMBER)
			q->members[q->nmembers++] = nodes[i].nodeid;
	tell(q);
}

/* The expected votes changed (corosync-quorumtool -e, a node's): the count again. */
static void expected_fn(votequorum_handle_t h, uint64_t context, uint32_t expected_votes)
{
	(void)context;
	struct cld_quorum *q = vq_of(h);
	if (!q)
		return;
	qb_log(LOG_NOTICE, "votequorum: expected votes now %u", expected_votes);
	tell(q);
}

static void nodelist_fn(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring,
			uint32_t nnodes, uint32_t nodes[])
{
	(void)context;
	(void)nodes;
	qb_log(LOG_DEBUG, "votequorum nodelist: ring %u/%llu, %u nodes", ring.nodeid,
	       (unsigned long long)ring.seq, nnodes);
	struct cld_quorum *q = vq_of(h);
	if (q) {
		q->ring.rep = ring.nodeid;
		q->ring.seq = ring.seq;
		q->have_ring = true;
	}
}

struct cld_quorum *cld_quorum_new(const struct cld_quorum_ops *ops, void *ctx)
{
	struct cld_quorum *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->ops = ops;
	q->ctx = ctx;
	return q;
}

int cld_quorum_dispatch(struct cld_quorum *q, int revents)
{
	if (!q->h)
		return -ENOTCONN;
	cs_error_t rc = (revents & POLLIN) ? votequorum_dispatch(q->h, CS_DISPATCH_ALL) : CS_OK;
	return cld_cs_dispatched(rc, revents);
}

int cld_quorum_connect(struct cld_quorum *q)
{
	cld_quorum_disconnect(q);
	votequorum_callbacks_t cb = {
		.votequorum_quorum_notify_fn = quorum_fn,
		.votequorum_expectedvotes_notify_fn = expected_fn,
		.votequorum_nodelist_notify_fn = nodelist_fn,
	};
	if (votequorum_initialize(&q->h, &cb) != CS_OK) {
		q->h = 0;
		return -ENOTCONN;
	}
	if (votequorum_context_set(q->h, q) != CS_OK ||
	    votequorum_trackstart(q->h, 0, CS_TRACK_CHANGES) != CS_OK) {
		votequorum_finalize(q->h);
		q->h = 0;
		return -ENOTCONN;
	}
	return 0;
}

int cld_quorum_fd(const struct cld_quorum *q)
{
	return cld_cs_fd(q->h, votequorum_fd_get);
}

void cld_quorum_disconnect(struct cld_quorum *q)
{
	if (!q->h)
		return;
	votequorum_finalize(q->h);
	q->h = 0;
	q->quorate = q->have_ring = false;
}

bool cld_quorum_quorate(const struct cld_quorum *q)
{
	return q->h && q->quorate;
}

struct cld_quorum *cld_quorum_free(struct cld_quorum *q)
{
	if (!q)
		return NULL;
	cld_quorum_disconnect(q);
	free(q);
	return NULL;
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
