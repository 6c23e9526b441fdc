/*
 * node_out.c - the node agent's own messages: queues, transmission and
 * retry, request ids, heartbeats and QUORUM reports, and the confirmation
 * of applied index writes before they are answered.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

/* ---- queues and sending ---- */

void nd_outmsg_free(struct cl_node *n, struct outmsg *m)
{
	if (!m)
		return;
	n->out_msgs--;
	n->out_bytes -= m->len;
	free(m);
}

void nd_q_free(struct cl_node *n, struct cl_list *q)
{
	struct outmsg *m;
	while ((m = q_pop(q)))
		nd_outmsg_free(n, m);
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
	n->renew_asap = false;
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
		nd_outmsg_free(n, m);
		return;
	}
	if (!cl_list_empty(&n->retry) || !mcast_one(n, m))
		q_push(&n->retry, m);
}

void nd_flush_retry(struct cl_node *n)
{
	struct outmsg *m;
	bool sent = false;
	while ((m = q_first(&n->retry))) {
		cl_list_del(&m->link);
		if (!mcast_one(n, m)) {
			cl_list_add_head(&n->retry, &m->link);
			if (sent)
				n->retry_delay_us = 0;
			else if (n->retry_delay_us < CL_NODE_RETRY_MAX_US)
				n->retry_delay_us = n->retry_delay_us ? n->retry_delay_us * 2 : 2000;
			return;
		}
		sent = true;
	}
	n->retry_delay_us = 0;
}

/* msg encoded in a new outgoing message, or NULL with *err_r: -ENOMEM or the codec's error. */
static struct outmsg *outmsg_new(struct cl_node *n, const struct cl_msg *msg, int *err_r)
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
	n->out_msgs++;
	n->out_bytes += m->len;
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
	struct outmsg *m = outmsg_new(n, msg, &rc);
	if (!m)
		return rc;
	/* a WRITE_ACK goes out at once: a node without state acks what it drops */
	if (!is_sync_type(msg->type) && msg->type != CL_MSG_WRITE_ACK && !ready(n))
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
	struct outmsg *m = outmsg_new(n, &msg, &rc);
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

/* ---- confirming index writes and grants ---- */

static void answer_write(struct cl_node *n, struct unconfirmed *u, int err)
{
	if (u->grant)
		return;   /* no client waits on it: nd_grant_confirmed() acts */
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
 *  - every other member of the configuration has applied it: each sent a
 *    WRITE_ACK naming it (or a later write of this node) and that was
 *    delivered here, with no departure or new ring in between.  That this
 *    node delivered the write, or a later message of its own, proves
 *    nothing: totem's agreed delivery needs only the messages before, so a
 *    sender delivers its own messages at once, in the regular
 *    configuration, and if it is then cut off, the others form a ring that
 *    never had them (totemsrp.c; no member left has them to recover);
 *  - or a sync round ended with this node's state kept (it won, or was
 *    equal to the winner's): every member now has what it applied;
 *  - after a departure or a new ring (or a snapshot load), once the round
 *    is over, the machine quorate and awaiting no fence-ack (in a
 *    split-capable quorum mode both sides of a split are quorate; the one
 *    that waits may lose at the heal): the write stands if its entry (or,
 *    for a delete, its absence or a later write) is in that state, else it
 *    was lost with a minority and the client gets -ESTALE.
 * A sync barrier is confirmed the same way, but only the first two rules can
 * confirm it, and only while nd_authoritative() (quorate, the local
 * votequorum agrees, no fence-ack awaited): reads after it are then
 * linearizable.  After a departure or a new ring it fails with
 * COROLEASE_ENOQUORUM (the client may retry).
 *
 * A grant to this node (nd_await_grant()) is confirmed by the same three
 * rules: the others' WRITE_ACKs name it by its epoch (nd_note_grant()); by
 * the third, it stands if the state holds it for this node at its epoch.
 * Until then no local client gets the hold: if only this node applied the
 * input that made it, the others may grant the name elsewhere with no
 * orphan to wait for.
 */
/* Bit i set for each member i other than this node: whose WRITE_ACKs confirm. */
static uint64_t others_mask(const struct cl_node *n)
{
	uint64_t mask = 0;
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->members[i] != n->me)
			mask |= 1ull << i;
	return mask;
}

/*
 * Whether this node and the members of `applied` (bits of members[]) hold
 * enough votequorum votes that the rest of the cluster cannot make a quorum
 * without one of them, with at least one member besides this node among
 * them.  Only in the standard quorum mode, here and in the machine, and
 * with the vote count of this ring while the local votequorum is quorate.
 *
 * Why that is enough: a quorate ring formed later holds one of them.  Each
 * applied the write, so its corosync delivered it, and every node that
 * moves from this ring into the next one along with it delivers it too
 * (virtual synchrony), whether or not that node's daemon had read it yet: a
 * member whose daemon hangs while its corosync runs applies it when it
 * resumes.  The state kept there then holds the write, unless every daemon
 * that has it dies, which every rule here leaves open ("Durability" in
 * README.md).  The other member among them is what keeps a crash of this
 * node's daemon alone from losing it.  A member that acked CL_ACK_ALL
 * (no state) is no such acker.
 */
/* Whether votes may confirm at all now (the conditions above but the count). */
static bool votes_usable(const struct cl_node *n)
{
	if (!n->votes_known || n->vq_modes || !n->vq_quorate ||
	    !ring_eq(&n->votes_ring, &n->ring) || !ring_eq(&n->vq_ring, &n->ring))
		return false;
	if (n->sm) {
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		if (st.split_mode)
			return false;
	}
	return true;
}

/* The count, once votes_usable(). */
static bool votes_suffice(const struct cl_node *n, uint64_t applied)
{
	if (!applied && !(n->cfg.sm.unsafe_flags & CL_UNSAFE_VOTES_OWN))
		return false;
	uint64_t have = 0, all = 0;
	for (uint32_t v = 0; v < n->nvotes; v++) {
		uint32_t id = n->votes[v].nodeid;
		int idx = id == n->me ? -1 : nd_member_index(n, id);
		if (id == n->me || (idx >= 0 && (applied & (1ull << idx))))
			have += n->votes[v].votes;
		all += n->votes[v].votes;
	}
	if (all < n->votes_expected)
		all = n->votes_expected;
	return have > 0 && all - have < n->votes_quorum;
}

void nd_unconf_add(struct cl_node *n, struct unconfirmed *u)
{
	u->useq = ++n->unconf_seq;
	cl_list_add_tail(&n->unconf, &u->link);
	cl_htab_add(&n->unconf_req, &u->hn, cl_mix64(u->req_id));
}

static void unconf_del(struct cl_node *n, struct unconfirmed *u)
{
	cl_list_del(&u->link);
	cl_htab_del(&n->unconf_req, &u->hn);
}

/*
 * The oldest entry of the current departure generation that req names (a
 * grant's only, when grant_only), as a walk of the FIFO from its head would
 * find it; NULL if none.
 */
static struct unconfirmed *unconf_find(const struct cl_node *n, uint64_t req, bool grant_only)
{
	struct unconfirmed *best = NULL;
	uint64_t h = cl_mix64(req);
	for (struct cl_hnode *e = cl_htab_first(&n->unconf_req, h); e; e = cl_htab_next(e, h)) {
		struct unconfirmed *u = cl_container_of(e, struct unconfirmed, hn);
		if (u->req_id == req && u->departures == n->departures && (u->grant || !grant_only) &&
		    (!best || u->useq < best->useq))
			best = u;
	}
	return best;
}

/* The members (bit i: members[i]) whose place in upto covers u, of the current generation. */
static uint64_t members_upto(const struct cl_node *n, const struct unconfirmed *u,
			     const uint64_t *upto)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < n->nmembers && i < CL_MAX_MEMBERS; i++)
		if (upto[i] >= u->useq)
			m |= 1ull << i;
	return m;
}

void nd_confirm_writes(struct cl_node *n)
{
	uint64_t need = others_mask(n);
	bool by_votes = votes_usable(n);   /* once: nothing below changes it */
	struct cl_list *e, *nx;
	struct cl_list grants = CL_LIST_INIT(grants);
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		int verdict = 1;            /* 1 = wait, 0 = done, <0 = lost */
		if (u->departures == n->departures) {
			uint64_t acked = members_upto(n, u, n->ack_upto);
			if (u->all_acked || (acked & need) == need ||
			    (by_votes && votes_suffice(n, members_upto(n, u, n->applied_upto))))
				verdict = u->barrier && !(ready(n) && nd_authoritative(n)) ?
					  COROLEASE_ENOQUORUM : 0;
			else
				/*
				 * It waits, and so does every entry after it: they are of
				 * this generation too (the FIFO is in generation order),
				 * no member acked or applied more of them (a WRITE_ACK
				 * stands for everything before what it names), and a
				 * round that kept this state marked all it found.  The
				 * walk ends here, so a long FIFO costs only what it
				 * confirms.
				 */
				break;
		} else if (u->marker) {
			verdict = 0;   /* of an older generation: nothing names it any more */
		} else if (u->barrier) {
			verdict = COROLEASE_ENOQUORUM;
		} else if (u->grant) {
			if (ready(n) && cl_sm_quorate(n->sm) && cl_sm_nunfenced(n->sm) == 0)
				verdict = cl_sm_hold_epoch(n->sm, u->buf, u->namelen, n->me, NULL) ==
					  u->version ? 0 : -ESTALE;
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
		unconf_del(n, u);
		if (u->grant) {
			u->deleted = verdict < 0;   /* lost, for the walk below */
			cl_list_add_tail(&grants, &u->link);
			continue;
		}
		if (!u->marker)
			answer_write(n, u, verdict);
		free(u);
	}
	/* the grants decided, after the walk: their pumps may send and grant */
	while ((e = cl_list_first(&grants))) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		cl_list_del(e);
		if (!n->failed)
			nd_grant_confirmed(n, u->buf, u->namelen, u->version, !u->deleted);
		free(u);
	}
}

/*
 * The machine just granted this node l's hold (a new one, or a new epoch):
 * no local client gets it before nd_confirm_writes() confirms the grant.
 * Alone in the configuration, there is nobody to wait for.
 */
void nd_await_grant(struct cl_node *n, struct nl_lease *l)
{
	if (!others_mask(n) || (n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_GRANT_ACK)) {
		l->unconf = false;
		return;
	}
	l->unconf = true;
	uint64_t req = CL_ACK_GRANT | l->epoch;
	if (unconf_find(n, req, true))
		return;   /* the same grant again (a re-ask): its first entry stands for it */
	struct unconfirmed *u = malloc(sizeof(*u) + l->namelen);
	if (!u) {
		nd_fail(n, "recording a grant");   /* the hold stays unusable */
		return;
	}
	*u = (struct unconfirmed){ .grant = true, .version = l->epoch, .req_id = req,
				   .departures = n->departures, .namelen = l->namelen };
	memcpy(u->buf, l->name, l->namelen);
	nd_unconf_add(n, u);
}

/* Puts (node, req) in the next WRITE_ACK, replacing node's earlier entry. */
static void note_ack(struct cl_node *n, uint32_t node, uint64_t req)
{
	for (uint32_t i = 0; i < n->nacks; i++)
		if (n->acks[i].node == node) {
			n->acks[i].req_id = req;
			return;
		}
	if (n->nacks < CL_MAX_MEMBERS)
		n->acks[n->nacks++] = (__typeof__(n->acks[0])){ node, req };
}

/*
 * m, an index write or a sync barrier of another node's client, was
 * delivered here: it goes in this node's next WRITE_ACK (nd_send_acks()),
 * when the node applied it, or has no state and is in no round (it can give
 * no state that lacks it to anyone: its announce says it has none).  One
 * dropped in a round is not acked: the round may end with this node's
 * state, which lacks it, winning (the writer then loads it and checks the
 * write against it, cl_node_confchg()'s departures).
 */
void nd_note_write(struct cl_node *n, uint32_t writer, const struct cl_msg *m)
{
	if (writer == n->me || !m->req_id ||
	    !(m->type == CL_MSG_INDEX_PUT || m->type == CL_MSG_INDEX_DEL || m->type == CL_MSG_NOP) ||
	    n->sync.active)
		return;
	note_ack(n, writer, m->req_id);
}

/*
 * The machine here granted node (another) the hold of epoch: it goes in this
 * node's next WRITE_ACK, as CL_ACK_GRANT | epoch, which the grantee waits
 * for before any of its clients gets the hold (nd_await_grant()).  Epochs
 * are unique (one counter for all names), and like a write's, the entry
 * says the sender applied everything before it: it replaces an earlier
 * entry for that node.
 */
void nd_note_grant(struct cl_node *n, uint32_t node, uint64_t epoch)
{
	if (node == n->me || !epoch || n->sync.active)
		return;
	note_ack(n, node, CL_ACK_GRANT | epoch);
}

/*
 * A message that may make a grant (any the machine applies but a heartbeat)
 * was delivered here, and this node has no state and is in no round: it
 * cannot tell whom the message granted what, and no state it gives can lack
 * it, so its next WRITE_ACK says so for every member (CL_ACK_ALL).
 */
void nd_note_stateless(struct cl_node *n, const struct cl_msg *m)
{
	if (n->sm || n->sync.active || (m->type == CL_MSG_NOP && m->req_id == 0))
		return;
	n->ack_all = true;
}

/*
 * Sends the WRITE_ACK that nd_note_write(), nd_note_grant() and
 * nd_note_stateless() gathered (one per delivery or batch).
 */
void nd_send_acks(struct cl_node *n)
{
	if (n->ack_all) {
		n->ack_all = false;
		n->acks[0].node = 0;
		n->acks[0].req_id = CL_ACK_ALL;   /* it stands for every entry */
		n->nacks = 1;
	}
	if (!n->nacks)
		return;
	uint8_t buf[CL_MAX_MEMBERS * CL_WRITE_ACK_LEN];
	for (uint32_t i = 0; i < n->nacks; i++) {
		cl_put_u32(buf + i * CL_WRITE_ACK_LEN, n->acks[i].node);
		cl_put_u64(buf + i * CL_WRITE_ACK_LEN + 4, n->acks[i].req_id);
	}
	struct cl_msg m = { .type = CL_MSG_WRITE_ACK, .value = buf,
			    .vallen = n->nacks * CL_WRITE_ACK_LEN };
	n->nacks = 0;
	nd_send_msg(n, &m);
}

/*
 * A WRITE_ACK from sender: for the entry naming this node, the sender has
 * applied that write (or grant to this node) and, the order being agreed,
 * every write and grant this node applied before it in the same
 * configuration.  Entries of an earlier
 * departure generation are past this rule (nd_confirm_writes()).
 */
void nd_on_write_ack(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	int idx = sender == n->me ? -1 : nd_member_index(n, sender);
	if (idx < 0)
		return;
	for (uint32_t off = 0; off + CL_WRITE_ACK_LEN <= m->vallen; off += CL_WRITE_ACK_LEN) {
		uint32_t node = cl_get_u32(m->value + off);
		uint64_t req = cl_get_u64(m->value + off + 4);
		if (node == n->me) {
			const struct unconfirmed *upto = unconf_find(n, req, false);
			if (!upto)
				return;
			if (upto->useq > n->ack_upto[idx])
				n->ack_upto[idx] = upto->useq;
			if (upto->useq > n->applied_upto[idx])
				n->applied_upto[idx] = upto->useq;
		} else if (node == 0 && req == CL_ACK_ALL) {
			/* a member without state: every entry there is now, not those to come */
			if (n->unconf_seq > n->ack_upto[idx])
				n->ack_upto[idx] = n->unconf_seq;
		} else {
			continue;
		}
		return;
	}
}

/* A sync round ended with this node's state kept: every member has what it applied. */
void nd_writes_kept(struct cl_node *n)
{
	struct cl_list *e;
	cl_list_foreach(e, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		if (u->departures == n->departures)
			u->all_acked = true;
	}
}

/*
 * The member list changed (a join: a departure ends the rule anyway): the
 * bits of WRITE_ACKs gathered so far index the old list, so they are
 * dropped.  The writes wait for the round the join starts, which either
 * keeps this node's state (nd_writes_kept()) or loads another (a departure
 * generation of its own).
 */
void nd_writes_reindex(struct cl_node *n)
{
	memset(n->ack_upto, 0, sizeof(n->ack_upto));
	memset(n->applied_upto, 0, sizeof(n->applied_upto));
}

/*
 * Answers every unconfirmed write of client (0 = all) with err and drops
 * it; or (!tell: the client has gone) leaves each as a marker, as its place
 * in the FIFO still counts for the writes of others before it.
 */
void nd_drop_unconfirmed(struct cl_node *n, uint64_t client, int err, bool tell)
{
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		if (client && u->client != client)
			continue;
		if (!tell) {
			if (!u->grant) {
				u->marker = true;
				u->client = 0;
			}
			continue;
		}
		if (!u->marker)
			answer_write(n, u, err);
		unconf_del(n, u);
		free(u);
	}
}
