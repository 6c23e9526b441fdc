/*
 * node_out.c - the node agent's own messages: queues, transmission and
 * retry, request ids, heartbeats and QUORUM reports, and the confirmation
 * of applied index writes before they are answered.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>

#include "node_int.h"

/* ---- queues and sending ---- */

void nd_q_free(struct cl_list *q)
{
	struct outmsg *m;
	while ((m = q_pop(q)))
		free(m);
}

/*
 * Whether m must wait for the send window (cfg.send_window): something is
 * in flight and m would take it past the window.  A message that has been
 * in flight longer than the validity opens it anyway, so a delivery that
 * never comes back cannot stop the node sending.
 */
static bool window_full(struct cl_node *n, const struct outmsg *m)
{
	const struct outmsg *oldest = q_first(&n->inflight);
	return oldest && n->inflight_bytes + m->len > n->cfg.send_window &&
	       now_us(n) - oldest->sent_at < n->cfg.validity_us;
}

/* Hands m to the transport; false (m untouched) when it is congested or the window is full. */
static bool mcast_one(struct cl_node *n, struct outmsg *m)
{
	if (window_full(n, m))
		return false;
	if (n->ops.mcast(n->ctx, m->data, m->len) < 0) {
		n->c.mcast_eagain++;
		return false;
	}
	m->sent_at = now_us(n);
	m->seq = ++n->sent_seq;
	m->anchor_at = n->own_sent_at;
	m->anchor_gen = n->own_gen;
	n->last_send = m->sent_at;
	n->c.mcast_msgs++;
	n->c.mcast_bytes += m->len;
	n->inflight_bytes += m->len;
	q_push(&n->inflight, m);
	return true;
}

/* Hands m to the transport now, or queues it for retry behind earlier ones. */
void nd_transmit(struct cl_node *n, struct outmsg *m)
{
	if (n->failed) {
		free(m);
		return;
	}
	if (!cl_list_empty(&n->retry) || !mcast_one(n, m))
		q_push(&n->retry, m);
}

void nd_flush_retry(struct cl_node *n)
{
	struct outmsg *m;
	while ((m = q_first(&n->retry))) {
		cl_list_del(&m->link);
		if (!mcast_one(n, m)) {
			cl_list_add_head(&n->retry, &m->link);
			return;
		}
	}
}

/* msg encoded in a new outgoing message, or NULL with *err_r: -ENOMEM or the codec's error. */
static struct outmsg *outmsg_new(const struct cl_msg *msg, int *err_r)
{
	long len = cl_wire_size(msg);
	if (len < 0) {
		*err_r = (int)len;
		return NULL;
	}
	struct outmsg *m = malloc(sizeof(*m) + (size_t)len);
	if (!m) {
		*err_r = -ENOMEM;
		return NULL;
	}
	*m = (struct outmsg){ .len = (uint32_t)len, .type = msg->type };
	if (cl_wire_encode(msg, m->data, (size_t)len) != len) {
		free(m);
		*err_r = -EINVAL;
		return NULL;
	}
	return m;
}

/*
 * Encodes and sends m, or queues it until the sync round ends.  Returns 0,
 * or -ENOMEM (nothing queued, the node is unchanged: the caller refuses a
 * request with it) or the codec's error.
 */
int nd_queue_msg(struct cl_node *n, const struct cl_msg *msg)
{
	int rc;
	struct outmsg *m = outmsg_new(msg, &rc);
	if (!m)
		return rc;
	if (!is_sync_type(msg->type) && !ready(n))
		q_push(&n->pending, m);
	else
		nd_transmit(n, m);
	return 0;
}

/*
 * nd_queue_msg() for the agent's own messages, which it cannot do without:
 * -ENOMEM fails the node (nd_fail()).  Returns 0 or a negative code.
 */
int nd_send_msg(struct cl_node *n, const struct cl_msg *msg)
{
	int rc = nd_queue_msg(n, msg);
	if (rc == -ENOMEM)
		nd_fail(n, "queueing a message");
	return rc;
}

/*
 * A NOP sent when the node has sent nothing for heartbeat_us, whenever it
 * has state and no own message waits for a retry (node.c's
 * heartbeat_at()).  Each delivery of an own message confirms the previous
 * one's send time (node.c's renew()), so the node's validity stays fresh
 * and a grant is usable the moment it is delivered, on an idle node too (a
 * node that sent nothing for long would need two round trips before its
 * first grant could be used).  It goes out even during a sync round, where
 * ordinary messages wait: its delivery is dropped like any other, but still
 * renews, and it is not re-sent afterwards.
 */
void nd_send_heartbeat(struct cl_node *n)
{
	struct cl_msg msg = { .type = CL_MSG_NOP, .req_id = 0 };
	int rc;
	struct outmsg *m = outmsg_new(&msg, &rc);
	if (m) {
		n->c.heartbeats++;
		nd_transmit(n, m);
	} else if (rc == -ENOMEM) {
		nd_fail(n, "queueing a heartbeat");
	}
}

/* ---- request ids ---- */

/* The id of a new request of this node (never 0: 0 marks heartbeats). */
uint64_t nd_new_req(struct cl_node *n)
{
	return ++n->next_req;
}

/* ---- quorum reports ---- */

/*
 * Tells the machine what the local votequorum says for the current ring.
 * Called when the verdict, the modes, the ring or the sync state change, and
 * after an applied QUORUM changed the machine's flag (leave()).
 *
 *  - Once this node has reported for the ring, it reports again exactly when
 *    its verdict differs from its last report, whatever the machine shows
 *    now: that report may still be in flight (a short votequorum flap sends
 *    QUORUM no, and the machine is still quorate when the verdict is back),
 *    and it will change the machine when it applies.
 *  - Before that, it reports when the machine does not agree.  An applied
 *    QUORUM of another member that changes the machine's flag brings it back
 *    here, so a machine left non-quorate by a member whose verdict has
 *    changed since is corrected by the others.
 *
 * Each member reports at most once per change of its own verdict, plus once
 * per ring: members that disagree for good settle instead of answering each
 * other's reports.
 */
void nd_maybe_send_quorum(struct cl_node *n)
{
	if (!ready(n) || !ring_eq(&n->vq_ring, &n->ring))
		return;
	bool want = n->vq_quorate, split = n->vq_modes != 0;
	if (n->quorum_sent && ring_eq(&n->quorum_sent_ring, &n->ring)) {
		if (n->quorum_sent_yes == want && n->quorum_sent_split == split)
			return;
	} else {
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		if (want == st.quorate && ring_eq(&st.ring, &n->ring) &&
		    (split == st.split_mode || (n->cfg.sm.unsafe_flags & CL_UNSAFE_SPLIT_TIMER)))
			return;
	}
	struct cl_msg m = { .type = CL_MSG_QUORUM, .ring = n->ring,
			    .flags = (uint8_t)((want ? CL_QUORUM_YES : 0) | (split ? CL_QUORUM_SPLIT : 0)) };
	if (nd_send_msg(n, &m) == 0) {
		n->quorum_sent = true;
		n->quorum_sent_ring = n->ring;
		n->quorum_sent_yes = want;
		n->quorum_sent_split = split;
	}
}

/* ---- confirming index writes ---- */

static void answer_write(struct cl_node *n, struct unconfirmed *u, int err)
{
	struct cl_node_event ev = { .type = CL_NODE_EV_INDEX_DONE, .client = u->client, .cookie = u->cookie,
			       .err = err, .version = err ? 0 : u->version, .deleted = u->deleted,
			       .name = u->buf, .namelen = u->namelen,
			       .key = u->buf + u->namelen, .keylen = u->keylen };
	if (u->barrier)
		ev = (struct cl_node_event){ .type = CL_NODE_EV_SYNC_DONE, .client = u->client,
					     .cookie = u->cookie, .err = err };
	if (u->client)
		nd_ev_push(n, &ev);
}

/*
 * An applied write is answered only once it cannot be lost:
 *  - an own message handed to the transport after the write was applied
 *    has been delivered, with no departure or new ring in between.  Had the
 *    write been delivered in a transitional configuration (the ring already
 *    broken), that message could only arrive after the configuration change
 *    -- one that may list no departure (a member that skipped a ring the
 *    others formed: cl_node_confchg()); so the write was delivered in a
 *    regular configuration and every surviving member has it;
 *  - after a departure or a new ring (or a snapshot load), once the round
 *    is over, the machine quorate and awaiting no fence-ack (in a
 *    split-capable quorum mode both sides of a split are quorate; the one
 *    that waits may lose at the heal): the write stands if its entry (or,
 *    for a delete, its absence or a later write) is in that state, else it
 *    was lost with a minority and the client gets -ESTALE.
 * A sync barrier is confirmed the same way, but only the first rule can
 * confirm it, and only while nd_authoritative() (quorate, the local
 * votequorum agrees, no fence-ack awaited): reads after it are then
 * linearizable.  After a
 * departure or a new ring it fails with COROLEASE_ENOQUORUM (the client may
 * retry).
 * Sends one NOP when nothing of ours is in flight to confirm with.
 */
void nd_confirm_writes(struct cl_node *n)
{
	bool need_nop = false;
	const struct outmsg *newest = q_last(&n->inflight);
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		int verdict = 1;            /* 1 = wait, 0 = done, <0 = lost */
		if (u->departures == n->departures) {
			if (n->own_delivered_seq > u->sent_mark)
				verdict = u->barrier && !(ready(n) && nd_authoritative(n)) ?
					  COROLEASE_ENOQUORUM : 0;
			else if (!(newest && newest->seq > u->sent_mark))
				need_nop = true;
		} else if (u->barrier) {
			verdict = COROLEASE_ENOQUORUM;
		} else if (ready(n) && cl_sm_quorate(n->sm) && cl_sm_nunfenced(n->sm) == 0) {
			uint64_t ver = 0;
			int rc = cl_index_entry_version(n->sm, u->buf, u->namelen, u->buf + u->namelen,
							u->keylen, &ver);
			bool stands = u->deleted ? (rc < 0 || ver > u->version) : (rc == 0 && ver >= u->version);
			/*
			 * Versions are the lsn of the lineage that applied the write:
			 * the state loaded may hold the same write at another version
			 * (a member that missed a message of the old ring counts one
			 * less).  The write is answered with its version in this state.
			 */
			const uint8_t *v;
			uint32_t vl;
			if (u->have_val && rc == 0 &&
			    cl_index_get(n->sm, u->buf, u->namelen, u->buf + u->namelen, u->keylen,
					 &v, &vl, NULL) == 0 &&
			    cl_hash_bytes(0, v, vl) == u->valhash) {
				stands = true;
				u->version = ver;
			}
			verdict = stands ? 0 : -ESTALE;
		}
		if (verdict > 0)
			continue;
		answer_write(n, u, verdict);
		cl_list_del(e);
		free(u);
	}
	if (need_nop && ready(n) && cl_list_empty(&n->retry) && cl_list_empty(&n->pending)) {
		struct cl_msg m = { .type = CL_MSG_NOP, .req_id = 0 };
		nd_send_msg(n, &m);
	}
}

/* Answers every unconfirmed write of client (0 = all) with err, or drops them silently. */
void nd_drop_unconfirmed(struct cl_node *n, uint64_t client, int err, bool tell)
{
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		if (client && u->client != client)
			continue;
		if (tell)
			answer_write(n, u, err);
		cl_list_del(e);
		free(u);
	}
}
