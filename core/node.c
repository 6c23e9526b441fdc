/*
 * node.c - one node's agent around the replicated machine: the public
 * API (node.h), event delivery, the transport inputs, client requests and
 * the agent's lifecycle.  Protocol and safety argument:
 * doc/state-machine.md; the private layout shared by node*.c: node_int.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Re-entrancy: events for the glue are queued and handed out only when the
 * outermost public call returns, after all internal state is consistent, so
 * an event handler may call back into the node.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "logf.h"
#include "node_int.h"

/* ---- logging ---- */

void nd_log(struct cl_node *n, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cl_vlogf(n->ops.log, n->ctx, level, fmt, ap);
	va_end(ap);
}

/* ---- out of memory: the agent stops (node.h) ---- */

/*
 * valid_until becomes t: when validity ends (t 0, cut short or lapsed
 * before), when it did is kept (cl_node_invalid_since()).
 */
static void note_lapse(struct cl_node *n, uint64_t t)
{
	if (t) {
		n->lapsed_at = 0;
	} else if (n->valid_until) {
		uint64_t now = now_us(n);
		n->lapsed_at = n->valid_until < now ? n->valid_until : now;
	}
}

/*
 * Puts the agent into its terminal FAILED condition: validity 0 at once,
 * nothing more is sent or handed out but CL_NODE_EV_FATAL (leave()), and
 * every later public call does nothing.  Allocates nothing.
 */
/* Stops the agent for good: its leases are invalid from now (the daemon exits). */
static void stop(struct cl_node *n, int err)
{
	n->failed = true;
	n->fail_err = err;
	note_lapse(n, 0);
	n->valid_until = 0;
}

void nd_fail(struct cl_node *n, const char *what)
{
	if (n->failed)
		return;
	stop(n, -ENOMEM);
	nd_log(n, LOG_CRIT, "out of memory %s: the node agent stops; its leases are invalid from now",
	     what);
}

/* ---- events ---- */

void nd_ev_push(struct cl_node *n, const struct cl_node_event *ev)
{
	if (n->failed)
		return;
	size_t extra = (size_t)ev->namelen + ev->keylen;
	struct qevent *q = malloc(sizeof(*q) + extra);
	if (!q) {
		nd_fail(n, "queueing an event");
		return;
	}
	q->ev = *ev;
	if (ev->namelen)
		memcpy(q->buf, ev->name, ev->namelen);
	if (ev->keylen)
		memcpy(q->buf + ev->namelen, ev->key, ev->keylen);
	q->ev.name = ev->namelen ? q->buf : NULL;
	q->ev.key = ev->keylen ? q->buf + ev->namelen : NULL;
	cl_list_add_tail(&n->evq, &q->link);
}

/*
 * Enters a public call, what it is for the log: the outermost one notes when
 * it began, so that leave() can say when one call kept the agent (and the
 * daemon's loop) busy for a good part of the validity.
 */
static void enter(struct cl_node *n, const char *what)
{
	if (!n->depth++) {
		n->call_what = what;
		n->call_at = now_us(n);
	}
}

/* One line, at most once a second, for an outermost call that took validity/4 or more. */
static void note_slow_call(struct cl_node *n)
{
	uint64_t now = now_us(n), took = now > n->call_at ? now - n->call_at : 0;
	if (!n->cfg.validity_us || took < n->cfg.validity_us / 4 || now < n->slow_logged_at + 1000000)
		return;
	n->slow_logged_at = now;
	nd_log(n, LOG_WARNING, "the node agent was busy for %llu ms in one call (%s), with %zu "
	       "leases here: holds lapse when no renewal is handled for the validity (%llu ms)",
	       (unsigned long long)(took / 1000), n->call_what, n->leases.n,
	       (unsigned long long)(n->cfg.validity_us / 1000));
}

/* Frees every entry of list (each embeds its cl_list link at offset off); returns how many. */
static size_t free_links(struct cl_list *list, size_t off)
{
	size_t k = 0;
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, list) {
		free((char *)e - off);
		k++;
	}
	cl_list_init(list);
	return k;
}

/* After nd_fail(): drops the queued events and hands out CL_NODE_EV_FATAL, once. */
static void leave_failed(struct cl_node *n)
{
	size_t dropped = free_links(&n->evq, offsetof(struct qevent, link));
	if (n->fatal_told)
		return;
	n->fatal_told = true;
	nd_log(n, LOG_CRIT, "node agent failed; %zu queued events dropped", dropped);
	struct cl_node_event ev = { .type = CL_NODE_EV_FATAL, .err = n->fail_err };
	if (n->ops.event)
		n->ops.event(n->ctx, &ev);
}

/*
 * Leaves a public call.  The outermost one first reconciles with the machine
 * if an input asked for it, then hands out queued events.
 */
static void leave(struct cl_node *n)
{
	if (n->depth > 1) {
		n->depth--;
		return;
	}
	if (n->need_reconcile && !n->failed)
		nd_reconcile(n);
	if (n->quorum_recheck && !n->failed) {
		n->quorum_recheck = false;
		nd_maybe_send_quorum(n);
	}
	if ((n->nacks || n->ack_all) && !n->failed)
		nd_send_acks(n);
	if (!cl_list_empty(&n->unconf) && !n->failed)
		nd_confirm_writes(n);
	if (n->failed) {
		leave_failed(n);
		n->depth--;
		return;
	}
	struct cl_list *e;
	while ((e = cl_list_first(&n->evq))) {
		struct qevent *q = cl_list_entry(e, struct qevent, link);
		cl_list_del(e);
		if (n->ops.event)
			n->ops.event(n->ctx, &q->ev);
		free(q);
	}
	note_slow_call(n);
	n->depth--;
}

void nd_ev_lease(struct cl_node *n, enum cl_node_event_type type, const struct chold *ch,
		     int err, uint32_t owner)
{
	const struct nl_lease *l = ch->lease;
	struct cl_node_event ev = {
		.type = type, .client = ch->client->id, .cookie = ch->cookie, .err = err,
		.owner = owner, .mode = ch->mode, .epoch = l->epoch,
		.valid_until = n->valid_until, .deadline = ch->deadline,
		.name = l->name, .namelen = l->namelen, .tag = ch->tag, .flags = ch->flags,
	};
	nd_ev_push(n, &ev);
}

void nd_set_valid_until(struct cl_node *n, uint64_t t)
{
	if (n->failed)
		return;
	note_lapse(n, t);
	n->valid_until = t;
	uint64_t step = n->cfg.heartbeat_us / 2;
	if (t < n->valid_told || t >= n->valid_told + step || t == 0) {
		if (t == n->valid_told)
			return;
		n->valid_told = t;
		struct cl_node_event ev = { .type = CL_NODE_EV_VALIDITY, .valid_until = t };
		nd_ev_push(n, &ev);
	}
}

/* ---- transport inputs ---- */

/*
 * Renews validity to anchor + validity_us, when the machine is quorate and
 * the local votequorum agrees for the current ring (also during a sync
 * round: the machine is then frozen, grants nothing, and is quorate only on
 * a side that has seen no departure since it was confirmed, so a long
 * snapshot transfer does not make every holder lapse).  In a split-capable
 * quorum mode a departed node's return ends the machine's wait for its
 * fence-ack, and the machine stops being quorate until the round is over,
 * only so that what waited is granted once, after the round
 * (cl_sm_confchg()); it was quorate and renewing throughout the wait, no
 * node has left since, and nothing is granted during the round, so such a
 * round renews too (wait_over_round; a breaker's 200 MB snapshot took 4 s
 * to reach a restarted two_node peer, and the holder lapsed every time).
 */
static bool quorate_but_for_a_return(const struct cl_node *n)
{
	return n->wait_over_round && n->sync.active && n->vq_quorate && ring_eq(&n->vq_ring, &n->ring);
}

static void renew(struct cl_node *n, uint64_t anchor)
{
	if (!anchor || !n->sm || !(nd_quorum_ok(n) || quorate_but_for_a_return(n)) ||
	    !ring_eq(cl_sm_ring(n->sm), &n->ring))
		return;
	uint64_t t = anchor + n->cfg.validity_us;
	if (t <= n->valid_until)
		return;
	uint64_t now = now_us(n);
	/*
	 * An old anchor on the last own message in flight (the ring stalled
	 * for about the validity or longer): it renews nothing, or less than
	 * a heartbeat period, and the next heartbeat would come too late.  A
	 * NOP sent now carries this delivery's send time, and the one after it
	 * a fresh one, so they go at once (helper-75: validity came back one
	 * period late after such stalls, and once 3 ms after a renewal that
	 * had left 3 ms).  In steady state a renewal leaves the validity less
	 * a period and a round trip, so this does not fire while heartbeat_us
	 * is below half the validity less a round trip (the default is a
	 * quarter; at half or more each heartbeat is followed by one such NOP,
	 * twice the rate: helper-76, where before the validity lapsed for
	 * most of each period).  Not while more of the stall's messages are
	 * in flight: a NOP would wait behind them anyway, one per loop
	 * iteration.
	 */
	if (t <= now + n->cfg.heartbeat_us && cl_list_empty(&n->inflight))
		n->renew_asap = true;
	if (n->valid_until <= now && t > now)
		n->need_reconcile = true;   /* valid again: waiters held back by the lapse can go */
	nd_set_valid_until(n, t);
}

/*
 * The anchor an own delivered message m2 confirms (doc/state-machine.md, "The
 * validity anchor"): the send time of the own message m1 delivered before m2
 * was sent, when no configuration change came between m1's delivery and
 * now.  m2 arriving in m1's configuration proves m1 was not delivered
 * transitionally, so the whole ring saw the ring alive after m1 was sent.
 * m2's own send time proves nothing: a stalled corosync may originate m2
 * after the others have left, and deliver it to this node alone.  0: none.
 */
static uint64_t anchor_of(const struct cl_node *n, const struct outmsg *m2)
{
	if (n->cfg.sm.unsafe_flags & CL_UNSAFE_ANCHOR_OWN)
		return m2->sent_at;
	return m2->anchor_gen == n->conf_gen ? m2->anchor_at : 0;
}

/*
 * A delivery that does not decode.  Another wire version is a member of
 * another release: mixed versions are refused (doc/coroleased.8).  A node
 * that has no state yet is the one joining, so it stops (the daemon exits
 * with the reason); a member with state ignores the newcomer, whose own
 * agent stops on the members' messages, and its sync round restarts when
 * the newcomer leaves.
 */
static void bad_delivery(struct cl_node *n, uint32_t sender, const uint8_t *buf, size_t len, int rc)
{
	n->c.bad_msgs++;
	if (rc != COROLEASE_EVERSION) {
		nd_log(n, LOG_WARNING, "undecodable message of %zu bytes from node %u ignored", len,
		       sender);
		return;
	}
	n->c.version_mismatches++;
	unsigned theirs = buf[0] == CL_BATCH_MAGIC && len > CL_BATCH_HDR_LEN + 4 ?
			  buf[CL_BATCH_HDR_LEN + 4] : buf[0];
	if (!n->sm) {
		stop(n, COROLEASE_EVERSION);
		nd_log(n, LOG_CRIT, "node %u speaks wire version %u, this node %u: a cluster of mixed "
		       "versions is refused, and this node, the one joining, stops", sender, theirs,
		       CL_WIRE_VERSION);
		return;
	}
	if (n->c.version_mismatches == 1 || sender != n->mismatch_from) {
		nd_log(n, LOG_CRIT, "node %u speaks wire version %u, this node %u: its messages are "
		       "ignored until it leaves (a joiner of another version stops itself)", sender,
		       theirs, CL_WIRE_VERSION);
		n->mismatch_from = sender;
	}
}

static void deliver_one(struct cl_node *n, uint32_t sender, const uint8_t *buf, size_t len);

/* orphaned holds in the machine (before and after a FENCE_ACK, for its log line) */
static uint64_t sm_orphans(const struct cl_sm *sm)
{
	struct cl_sm_stats st;
	cl_sm_stats(sm, &st);
	return st.orphans;
}

struct batch_ctx {
	struct cl_node *n;
	uint32_t sender;
};

static void deliver_inner(void *ctx, const uint8_t *msg, size_t len)
{
	struct batch_ctx *b = ctx;
	if (!b->n->failed)
		deliver_one(b->n, b->sender, msg, len);
}

void cl_node_deliver(struct cl_node *n, uint32_t sender, const void *buf, size_t len)
{
	if (n->failed)
		return;
	const uint8_t *p = buf;
	if (len && p[0] == CL_BATCH_MAGIC) {
		/* a batch: every message in it decodes, or none is used */
		struct batch_ctx b = { n, sender };
		enter(n, "a delivered batch");           /* one WRITE_ACK, and one confirmation pass, per batch */
		int rc = cl_batch_split(p, len, deliver_inner, &b);
		if (rc < 0)
			bad_delivery(n, sender, p, len, rc);
		leave(n);
		return;
	}
	deliver_one(n, sender, p, len);
}

static void deliver_one(struct cl_node *n, uint32_t sender, const uint8_t *buf, size_t len)
{
	if (n->failed)
		return;
	struct cl_msg m;
	enter(n, "a delivered message");
	n->c.delivered++;
	int drc = cl_wire_decode(buf, len, &m);
	if (drc < 0) {
		bad_delivery(n, sender, buf, len, drc);
		leave(n);
		return;
	}
	uint64_t anchor = 0;
	struct outmsg *own = NULL;
	if (sender == n->me) {
		struct outmsg *h = q_first(&n->inflight);
		if (h && h->len == len && !memcmp(h->data, buf, len)) {
			own = q_pop(&n->inflight);
			n->inflight_bytes -= own->len;
			anchor = anchor_of(n, own);
			if (n->own_gen != n->conf_gen)
				n->renew_asap = true;   /* the first anchor of this configuration */
			n->own_sent_at = own->sent_at;
			n->own_gen = n->conf_gen;
		} else {
			nd_log(n, LOG_WARNING, "own %s delivered out of order; ignored for renewal",
			     cl_msg_type_name(m.type));
		}
	}
	bool own_back = own != NULL;
	if (is_sync_type(m.type))
		n->c.sync_msgs++;   /* a round's progress (the OCF agent's monitor reads it) */
	if (own && is_sync_type(m.type))
		renew(n, anchor);   /* a snapshot longer than the validity keeps its sender valid */
	if (m.type == CL_MSG_SYNC_ANNOUNCE) {
		nd_on_announce(n, sender, &m);
	} else if (m.type == CL_MSG_SYNC_CHUNK) {
		nd_on_chunk(n, sender, &m);
	} else if (m.type == CL_MSG_SYNC_HOLDS) {
		nd_on_holds(n, sender, &m);
	} else if (m.type == CL_MSG_WRITE_ACK) {
		if (own)
			renew(n, anchor);
		nd_on_write_ack(n, sender, &m);
	} else if (!ready(n)) {
		nd_note_write(n, sender, &m);   /* acked only by a node without state */
		nd_note_stateless(n, &m);       /* the same, for grants it cannot see */
		n->c.dropped_in_sync++;
		if (own) {
			renew(n, anchor);
			q_push(&n->resend, own);
			own = NULL;
		}
	} else {
		if (own)
			renew(n, anchor);
		/*
		 * A heartbeat (NOP with request id 0) only renews its sender's
		 * validity; every node leaves it out of the machine alike, so
		 * idle nodes do not move lsn and the state hash.
		 */
		bool heartbeat = m.type == CL_MSG_NOP && m.req_id == 0;
		uint64_t orphans0 = m.type == CL_MSG_FENCE_ACK && n->sm ? sm_orphans(n->sm) : 0;
		int rc = heartbeat ? 0 : cl_sm_apply(n->sm, sender, &m);
		nd_note_write(n, sender, &m);
		if (rc == 0 && n->sm && (m.type == CL_MSG_QUORUM || m.type == CL_MSG_GRACE_END ||
					 m.type == CL_MSG_FENCE_ACK)) {
			/* the inputs that may begin a term: keep it before anything is granted in it */
			struct cl_sm_stats ts;
			cl_sm_stats(n->sm, &ts);
			nd_note_term(n, &ts.term);
		}
		if (rc == -ENOMEM)
			nd_fail(n, "applying a delivered message");
		else if (rc < 0)
			nd_log(n, LOG_ERR, "%s from node %u not applied: %d", cl_msg_type_name(m.type),
			     sender, rc);
		if (own) {
			renew(n, anchor);
			if (m.type == CL_MSG_RELEASE || m.type == CL_MSG_HANDOVER_DONE)
				nd_after_own_release(n, &m);
		}
		if (m.type == CL_MSG_FENCE_ACK && rc == 0 && n->sm) {
			/* the operator says m.node is down: fresh state need not wait for it */
			struct cl_sm_stats st;
			cl_sm_stats(n->sm, &st);
			if (cl_sm_is_member(n->sm, m.node) && !(m.flags & CL_FENCE_FORCE))
				nd_log(n, LOG_NOTICE, "fence-ack of node %u (from node %u) refused: it is a "
				       "member", m.node, sender);
			else
				nd_log(n, LOG_NOTICE, "node %u fence-acked%s (from node %u): %llu orphaned "
				       "hold(s) freed", m.node, m.flags & CL_FENCE_FORCE ? " with --force" : "",
				       sender, (unsigned long long)(orphans0 > st.orphans ? orphans0 - st.orphans : 0));
			if (st.grace) {
				nd_grace_excuse(n, &st.grace_ring, m.node);
				if (!cl_sm_is_member(n->sm, m.node) || (m.flags & CL_FENCE_FORCE))
					n->newest_acked = st.grace_ring;   /* grace_tick() */
			}
		}
	}
	if (own_back && !cl_list_empty(&n->retry) && !n->failed)
		nd_flush_retry(n);   /* the send window moved on */
	if (own_back && n->sync.stream)
		nd_snap_pump(n);
	nd_outmsg_free(n, own);
	leave(n);
}

void cl_node_confchg(struct cl_node *n, const struct cl_ring *ring,
		     const uint32_t *members, size_t nmembers,
		     const uint32_t *left, size_t nleft,
		     const uint32_t *joined, size_t njoined)
{
	(void)joined;
	if (n->failed)
		return;
	enter(n, "a configuration change");
	if (nmembers > CL_MAX_MEMBERS) {
		nd_log(n, LOG_CRIT, "configuration of %zu members exceeds %u; ignored", nmembers,
		     CL_MAX_MEMBERS);
		leave(n);
		return;
	}
	bool new_ring = !ring_eq(ring, &n->ring);
	if (new_ring)   /* before the change: was this state serving when the ring ended? */
		n->stale = n->sm && !cl_sm_quorate(n->sm);
	n->ring = *ring;
	n->nmembers = (uint32_t)nmembers;
	memcpy(n->members, members, nmembers * sizeof(*members));
	n->conf_gen++;          /* own deliveries before this confirm no anchor after it */
	nd_writes_reindex(n);
	/*
	 * Whether the machine stops being quorate here only because the wait
	 * for a fence-ack ends (a return, nothing left): renew() goes on for
	 * that round, and for a round restarted by another join while it was
	 * open; any departure ends it.
	 */
	bool q0 = n->sm && cl_sm_quorate(n->sm);
	uint32_t u0 = n->sm ? cl_sm_nunfenced(n->sm) : 0;
	bool was_open = n->wait_over_round && n->sync.active;
	n->wait_over_round = false;
	if (n->sm) {
		int rc = cl_sm_confchg(n->sm, ring, members, nmembers, left, nleft);
		if (rc == -ENOMEM)
			nd_fail(n, "applying a configuration change");
		else if (rc < 0)
			nd_log(n, LOG_ERR, "invalid configuration change ignored by the machine");
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		uint64_t deadline = now_us(n) + n->cfg.fence_delay_us;
		for (size_t i = 0; i < nleft; i++)
			if (left[i] != n->me)
				nd_fence_arm(n, left[i], st.orphan_seq, deadline);
		n->wait_over_round = !nleft && rc == 0 && !st.quorate &&
				     ((q0 && st.nunfenced < u0) || was_open);
	}
	/*
	 * A new ring may hide a departure.  CPG does not give every member the
	 * same view of one change: a node cut off for a moment sees the others
	 * leave and join again, and they see only a new ring with the same
	 * members.  Such a member delivered the old ring's last messages in a
	 * transitional configuration that the others may not have had, and may
	 * lose what it applied to the merge the others' round makes.  So, in
	 * every new ring: a write applied before it is confirmed as after a
	 * departure (against the state after the round), and every member
	 * starts a round at once -- none applies a message of the new ring that
	 * another member drops in its round (nd_on_announce() only rescues a
	 * member whose view asked for none).
	 */
	if (nleft || new_ring)
		n->departures++;
	/*
	 * The machine stops being quorate on any departure (cl_sm_confchg()),
	 * also a daemon's leave inside the ring (corosync runs on there): no
	 * verdict for a new ring will come then, so this node reports its own
	 * for the ring again (else the rest stays unquorate, freeing nothing,
	 * until some daemon joins).
	 */
	if (nleft && n->quorum_sent && ring_eq(&n->quorum_sent_ring, ring))
		n->quorum_sent = false;
	if (nleft && now_us(n) >= n->valid_until)
		nd_revoke_all(n, "members left and validity has lapsed");
	if (njoined || new_ring || n->sync.active || !n->sm)
		nd_sync_start(n);
	else
		n->need_reconcile = true;
	nd_maybe_send_quorum(n);
	leave(n);
}

void cl_node_quorum(struct cl_node *n, bool quorate, const struct cl_ring *ring)
{
	if (n->failed)
		return;
	enter(n, "a quorum verdict");
	n->vq_quorate = quorate;
	n->vq_ring = *ring;
	if (!quorate && !(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK))
		nd_revoke_all(n, "quorum lost");
	else
		n->need_reconcile = true;
	nd_maybe_send_quorum(n);
	leave(n);
}

void cl_node_votes(struct cl_node *n, const struct cl_ring *ring, uint32_t quorum, uint32_t expected,
		   const struct cl_node_vote *nodes, size_t nnodes)
{
	if (n->failed)
		return;
	enter(n, "a vote count");
	if (nnodes > CL_MAX_MEMBERS)
		nnodes = CL_MAX_MEMBERS;   /* the rest count 0 votes: safe */
	if (quorum != n->votes_quorum || expected != n->votes_expected || nnodes != n->nvotes ||
	    (quorum > 0) != n->votes_known || memcmp(nodes, n->votes, nnodes * sizeof(*nodes))) {
		char list[256];
		size_t off = 0;
		list[0] = 0;
		for (size_t i = 0; i < nnodes && off < sizeof(list) - 24; i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, " %u:%u", nodes[i].nodeid,
						nodes[i].votes);
		nd_log(n, LOG_INFO, "votequorum count: quorum %u, expected %u, votes (node:votes)%s%s",
		       quorum, expected, nnodes ? list : " none",
		       quorum ? "" : " (unknown: writes wait for every member's ack)");
	}
	n->votes_known = quorum > 0;
	n->votes_ring = *ring;
	n->votes_quorum = quorum;
	n->votes_expected = expected;
	n->nvotes = (uint32_t)nnodes;
	memcpy(n->votes, nodes, nnodes * sizeof(*nodes));
	leave(n);   /* writes waiting on a member may be confirmed now */
}

void cl_node_totem(struct cl_node *n, const struct cl_ring *ring, const uint32_t *members,
		   size_t nmembers)
{
	if (n->failed)
		return;
	if (nmembers > CL_MAX_MEMBERS) {
		nd_log(n, LOG_CRIT, "totem membership of %zu nodes exceeds %u; the rest is ignored",
		       nmembers, CL_MAX_MEMBERS);
		nmembers = CL_MAX_MEMBERS;
	}
	n->totem_known = true;
	n->totem_ring = *ring;
	n->ntotem = (uint32_t)nmembers;
	memcpy(n->totem, members, nmembers * sizeof(*members));
}

void nd_note_term(struct cl_node *n, const struct cl_ring *t)
{
	if (!cl_ring_after(t, &n->term_known))
		return;
	n->term_known = *t;
	struct cl_node_event ev = { .type = CL_NODE_EV_NEWEST_TERM, .owner = t->rep, .epoch = t->seq };
	nd_ev_push(n, &ev);
}

void nd_grace_excuse(struct cl_node *n, const struct cl_ring *ring, uint32_t node)
{
	if (!ring_eq(ring, &n->excused_ring)) {
		n->excused_ring = *ring;
		n->nexcused = 0;
	}
	for (uint32_t i = 0; i < n->nexcused; i++)
		if (n->excused[i] == node)
			return;
	if (n->nexcused < CL_MAX_MEMBERS)
		n->excused[n->nexcused++] = node;   /* full: it stays awaited (safe) */
}

void cl_node_quorum_mode(struct cl_node *n, unsigned qmodes)
{
	if (n->failed)
		return;
	n->vq_incomplete = qmodes & CL_QMODE_INCOMPLETE;
	if (n->vq_modes == (qmodes & CL_QMODE_ALL))
		return;
	enter(n, "the quorum mode");
	n->vq_modes = qmodes & CL_QMODE_ALL;
	nd_log(n, LOG_NOTICE, "votequorum mode%s%s%s%s%s", n->vq_modes ? ":" : ": standard",
	       qmodes & CL_QMODE_TWO_NODE ? " two_node" : "",
	       qmodes & CL_QMODE_LAST_MAN_STANDING ? " last_man_standing" : "",
	       qmodes & CL_QMODE_AUTO_TIE_BREAKER ? " auto_tie_breaker" : "",
	       qmodes & CL_QMODE_QDEVICE ? " qdevice" : "");
	if (n->vq_modes)
		nd_log(n, LOG_NOTICE, "a split can leave both sides quorate: a departed node's leases "
		       "are freed only by 'corolease fence-ack NODE' (or the fencing hook), and nothing "
		       "is granted until then");
	nd_maybe_send_quorum(n);
	leave(n);
}

void cl_node_transport_lost(struct cl_node *n)
{
	n->conf_gen++;
	if (n->failed)
		return;
	enter(n, "the transport's loss");
	nd_revoke_all(n, "transport lost");
	nd_snap_stop(n);
	n->sm = cl_sm_free(n->sm);
	n->sync.active = false;
	n->wait_over_round = false;
	nd_sync_reset_buf(n);
	n->vq_quorate = false;
	nd_q_free(n, &n->retry);
	nd_q_free(n, &n->inflight);
	n->inflight_bytes = 0;
	nd_q_free(n, &n->resend);
	nd_q_free(n, &n->pending);
	n->nfences = 0;
	/* requests cannot be answered any more */
	struct nl_iter li;
	for (struct nl_lease *l = nd_lease_first(n, &li); l; l = nd_lease_next(n, &li)) {
		nd_deny_waiters(n, l, COROLEASE_ENOCLUSTER);
		nd_lease_to(n, l, NL_NONE, "transport lost");
		l->req = REQ_NONE;
		nd_lease_settle(n, l);
	}
	struct cl_htab_iter it;
	struct cl_hnode *e;
	for (e = cl_htab_iter_first(&n->requests, &it); e; e = cl_htab_iter_next(&n->requests, &it)) {
		struct pending_op *o = cl_container_of(e, struct pending_op, hn);
		if (o->client) {
			struct cl_node_event ev = { .type = o->kind == OP_SYNC ? CL_NODE_EV_SYNC_DONE :
							    o->kind == OP_INDEX ? CL_NODE_EV_INDEX_DONE :
										  CL_NODE_EV_ADMIN_DONE,
						    .client = o->client, .cookie = o->cookie,
						    .err = COROLEASE_ENOCLUSTER };
			nd_ev_push(n, &ev);
		}
		cl_htab_del(&n->requests, e);
		free(o);
	}
	nd_drop_unconfirmed(n, 0, COROLEASE_ENOCLUSTER, true);
	leave(n);
}

static bool in_list(const uint32_t *v, uint32_t nv, uint32_t id)
{
	for (uint32_t i = 0; i < nv; i++)
		if (v[i] == id)
			return true;
	return false;
}

/*
 * The nodes the grace period of fresh state made in grace_ring waits for
 * (into awaited_r, their number returned): those of the totem ring with no
 * daemon in the group (a daemon that died while its corosync ran on may have
 * granted in this very ring, and only its kept epoch floor says how far),
 * unless their floor was announced to this state or they were fence-acked.
 * If the ring goes, the term that begins is a later ring's, above every
 * epoch of this one.  A totem membership of another ring than the group's
 * is one in flux: UINT32_MAX, wait.  No membership ever given: none.
 */
static uint32_t grace_awaited(const struct cl_node *n, uint32_t *awaited_r)
{
	if (!n->totem_known)
		return 0;
	if (!ring_eq(&n->totem_ring, &n->ring))
		return UINT32_MAX;
	bool excused = ring_eq(&n->excused_ring, &n->grace_ring);
	uint32_t k = 0;
	for (uint32_t i = 0; i < n->ntotem; i++) {
		uint32_t id = n->totem[i];
		if (in_list(n->members, n->nmembers, id) ||
		    (excused && in_list(n->excused, n->nexcused, id)))
			continue;
		awaited_r[k++] = id;
	}
	return k;
}

bool nd_totem_gap(const struct cl_node *n)
{
	if (!n->totem_known)
		return false;
	if (!ring_eq(&n->totem_ring, &n->ring))
		return true;
	for (uint32_t i = 0; i < n->ntotem; i++)
		if (!in_list(n->members, n->nmembers, n->totem[i]))
			return true;
	return false;
}

/*
 * Logs the nodes fresh state waits for: when the set changes, and again
 * every 5 minutes while it does not.
 */
static void grace_tell_awaited(struct cl_node *n, const uint32_t *aw, uint32_t k, uint64_t now)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ k;
	for (uint32_t i = 0; k != UINT32_MAX && i < k; i++)
		h = cl_mix64(h ^ aw[i]);
	h |= 1;
	if (h == n->awaited_hash && now < n->awaited_told_at + 300000000ull)
		return;
	n->awaited_hash = h;
	n->awaited_told_at = now;
	if (k == UINT32_MAX) {
		nd_log(n, LOG_NOTICE, "fresh state waits for the totem membership of ring %u/%llu "
		       "before its grace period may end", n->ring.rep, (unsigned long long)n->ring.seq);
		return;
	}
	char list[256];
	int off = 0;
	for (uint32_t i = 0; i < k && off < (int)sizeof(list) - 16; i++)
		off += snprintf(list + off, sizeof(list) - (size_t)off, "%s%u", i ? " " : "", aw[i]);
	nd_log(n, LOG_WARNING, "fresh state grants nothing, past its grace period, while node%s %s "
	       "%s in the corosync ring with no coroleased in the group: a coroleased that died "
	       "there may have granted epochs in this very ring, and only the epoch floor it keeps "
	       "says which.  Start coroleased there; for a node whose coroleased had no state (or "
	       "never runs), 'corolease fence-ack NODE' ends the wait", k > 1 ? "s" : "", list,
	       k > 1 ? "are" : "is");
}

/*
 * State in grace whose term is older than the newest term this node knows a
 * state had (term_known: its own, kept by an earlier run of the daemon, or
 * announced by a member; node_sync.c puts such state in grace at the end of
 * a round): the replica of that term may be cut off, stalled or paused, and
 * its acknowledged writes would be lost if this state granted or took writes
 * (and took a newer term, which would win the merge at the heal).  It waits
 * until a member with state of that term joins (its state wins the round),
 * or until that state is gone everywhere: votequorum counts every expected
 * vote (no node is cut off) and every node of the totem ring has its daemon
 * in the group (grace_awaited(), checked by the caller, is empty); or until
 * the operator fence-acks a node (the missing node that had it is down).
 * True while it waits (logged when it begins and every 5 minutes).
 */
static bool newest_term_awaited(struct cl_node *n, const struct cl_sm_stats *st, uint64_t now)
{
	if (!cl_ring_after(&n->term_known, &st->term))
		return false;
	if (ring_eq(&n->newest_acked, &n->grace_ring)) {
		nd_log(n, LOG_CRIT, "state of term %u/%llu ends its grace period without the newest "
		       "term this node knows, %u/%llu, after a fence-ack: writes acknowledged in term "
		       "%u/%llu may be lost", st->term.rep, (unsigned long long)st->term.seq,
		       n->term_known.rep, (unsigned long long)n->term_known.seq, n->term_known.rep,
		       (unsigned long long)n->term_known.seq);
		return false;
	}
	if (!n->vq_incomplete) {
		nd_log(n, LOG_CRIT, "every expected node is in the ring with its coroleased, and none "
		       "has state of term %u/%llu, the newest this node knows: that state is gone "
		       "(every daemon that had it restarted); state of term %u/%llu ends its grace "
		       "period, and writes acknowledged in term %u/%llu may be lost",
		       n->term_known.rep, (unsigned long long)n->term_known.seq, st->term.rep,
		       (unsigned long long)st->term.seq, n->term_known.rep,
		       (unsigned long long)n->term_known.seq);
		return false;
	}
	if (!ring_eq(&n->newest_told, &n->grace_ring) || now >= n->newest_told_at + 300000000ull) {
		n->newest_told = n->grace_ring;
		n->newest_told_at = now;
		nd_log(n, LOG_WARNING, "nothing is granted and no index write accepted: a member knew "
		       "of term %u/%llu, newer than this ring's state (term %u/%llu), and no member "
		       "has state of it; the node(s) that have it may be cut off, stalled or paused, "
		       "and their acknowledged writes would be lost.  It waits until such a node "
		       "rejoins, or every expected node is back in the ring with its coroleased.  If "
		       "the missing nodes are down for good (their state is gone), 'corolease "
		       "fence-ack NODE' for one of them ends the wait, and writes acknowledged in term "
		       "%u/%llu may be lost", n->term_known.rep, (unsigned long long)n->term_known.seq,
		       st->term.rep, (unsigned long long)st->term.seq, n->term_known.rep,
		       (unsigned long long)n->term_known.seq);
	}
	return true;
}

/*
 * The grace period of fresh state: once due, a member sends GRACE_END for
 * the ring the state was made in, while quorate and no node of the totem
 * ring is awaited (grace_awaited()), until the machine has left its grace
 * period (any member's message ends it).  Only the decision to send uses
 * this node's own view; the GRACE_END is applied alike everywhere.
 */
static void grace_tick(struct cl_node *n, uint64_t now)
{
	struct cl_sm_stats st;
	if (!n->sm) {
		n->grace_armed = false;
		return;
	}
	cl_sm_stats(n->sm, &st);
	if (!st.grace || !ring_eq(&st.grace_ring, &n->grace_ring)) {
		n->grace_armed = false;
		return;
	}
	if (n->vq_modes && n->vq_incomplete) {
		/*
		 * A split-capable mode with nodes missing: they may hold state
		 * this fresh lineage knows nothing of, and both sides may be
		 * quorate.  Wait for them, or for a fence-ack.
		 */
		if (!ring_eq(&n->grace_told, &n->grace_ring)) {
			n->grace_told = n->grace_ring;
			nd_log(n, LOG_WARNING, "fresh state in a split-capable quorum mode with nodes "
			       "missing: nothing is granted until they are back or 'corolease "
			       "fence-ack NODE' says a missing node is down");
		}
	} else if (ready(n) && nd_quorum_ok(n)) {
		uint32_t aw[CL_MAX_MEMBERS];
		uint32_t k = grace_awaited(n, aw);
		if (k) {
			grace_tell_awaited(n, aw, k, now);
		} else if (newest_term_awaited(n, &st, now)) {
			/* logged there */
		} else {
			struct cl_msg m = { .type = CL_MSG_GRACE_END, .ring = n->grace_ring };
			nd_send_msg(n, &m);
		}
	}
	n->grace_at = now + n->cfg.validity_us / 2;
}

/*
 * Whether a NOP sent now would renew nothing that an own message already in
 * flight does not: the newest one carries the anchor a NOP would (renew()
 * and anchor_of()), and is delivered first.  While corosync takes nothing
 * (stopped, or its ring stuck), this keeps one heartbeat queued, not one
 * per heartbeat_us: those would all carry the same stale anchor, renew
 * nothing when they come back, and only hold back the first message that
 * does.  The first own delivery moves own_sent_at, and the heartbeat is due
 * again.
 */
static bool hb_redundant(const struct cl_node *n)
{
	const struct outmsg *x = q_last(&n->inflight);
	return x && x->anchor_at == n->own_sent_at && x->anchor_gen == n->own_gen;
}

/*
 * When the next heartbeat is due: heartbeat_us after the node last handed
 * the transport anything, if it has state; at once after the first own
 * delivery of a configuration (renew_asap).  CL_TIME_NEVER while own
 * messages wait for a retry (corosync refused them, or the send window is
 * full): they are sent first and renew as well as a NOP would, and
 * last_send moves only when they go out, so a heartbeat due then would stay
 * due, a busy loop queueing one NOP per tick.  The retry has its own
 * deadline.  CL_TIME_NEVER too while a NOP would be redundant
 * (hb_redundant()).
 */
static uint64_t heartbeat_at(const struct cl_node *n)
{
	if (!n->sm || !cl_list_empty(&n->retry) || hb_redundant(n))
		return CL_TIME_NEVER;
	return n->renew_asap ? 0 : n->last_send + n->cfg.heartbeat_us;
}

void cl_node_tick(struct cl_node *n)
{
	if (n->failed)
		return;
	enter(n, "a tick");
	uint64_t now = now_us(n);
	nd_flush_retry(n);
	nd_snap_pump(n);
	nd_sync_slow_check(n, now);
	if (n->rc_active && !n->failed)
		nd_reconcile_step(n);
	/*
	 * Bring the machine's running hash up to date now and then (the records
	 * changed since the last tick), so that the announce of a round, which
	 * needs it, never rehashes a whole loaded state in one pass.
	 */
	if (n->sm)
		(void)cl_sm_hash(n->sm);
	while (n->heap_n && n->heap[0]->next_deadline <= now) {
		struct nl_lease *l = n->heap[0];
		nd_heap_remove(n, l);
		l->next_deadline = CL_TIME_NEVER;
		nd_lease_timers(n, l, now);
	}
	for (size_t i = 0; i < n->nfences;) {
		struct fence_timer *f = &n->fences[i];
		if (f->deadline > now) {
			i++;
			continue;
		}
		if (ready(n) && !nd_orphans_of(n, f->node, f->seq)) {
			n->fences[i] = n->fences[--n->nfences];
			continue;
		}
		if (ready(n) && cl_sm_unfenced(n->sm, f->node)) {
			/* split-capable quorum mode: no timer frees it (RECOVER_NODE would be ignored) */
			if (!f->told)
				nd_log(n, LOG_WARNING, "node %u left %llu ms ago; in this quorum mode only "
				       "'corolease fence-ack %u' (or the fencing hook) frees its leases, and "
				       "nothing is granted until then", f->node,
				       (unsigned long long)(n->cfg.fence_delay_us / 1000), f->node);
			f->told = true;
		} else if (ready(n) && cl_sm_quorate(n->sm)) {
			struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = f->node, .seq = f->seq };
			if (nd_send_msg(n, &m) == 0)
				n->c.recover_sent++;
		}
		/* until the orphans are gone: the message may meet a non-quorate machine */
		f->deadline = now + n->cfg.validity_us / 2;
		i++;
	}
	if (n->client_holds && n->valid_until && now >= n->valid_until)
		nd_revoke_all(n, "validity lapsed");
	if (now >= heartbeat_at(n))
		nd_send_heartbeat(n);
	if (n->grace_armed && now >= n->grace_at)
		grace_tick(n, now);
	leave(n);
}

uint64_t cl_node_next_deadline(const struct cl_node *n)
{
	uint64_t d = CL_TIME_NEVER;
	if (n->failed)
		return d;
	if (n->heap_n)
		d = n->heap[0]->next_deadline;
	for (size_t i = 0; i < n->nfences; i++)
		if (n->fences[i].deadline < d)
			d = n->fences[i].deadline;
	if (n->client_holds && n->valid_until && n->valid_until < d)
		d = n->valid_until;
	if (heartbeat_at(n) < d)
		d = heartbeat_at(n);
	if (n->grace_armed && n->grace_at < d)
		d = n->grace_at;
	if (!cl_list_empty(&n->retry)) {
		uint64_t r = n->ops.now(n->ctx) + (n->retry_delay_us ? n->retry_delay_us : 1000);
		if (r < d)
			d = r;
	}
	if (n->rc_active && n->rc_due < d)
		d = n->rc_due;   /* the next part of a reconcile: at once (cl_node_tick()) */
	if (nd_sync_slow_at(n) < d)
		d = nd_sync_slow_at(n);
	return d;
}

/* ---- client requests ---- */

static bool name_ok(const void *name, size_t len)
{
	return name && len >= 1 && len <= COROLEASE_NAME_MAX;
}

int cl_node_acquire(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
		    const void *name, size_t namelen, uint8_t mode, unsigned flags,
		    uint64_t timeout_us)
{
	return cl_node_acquire_tagged(n, client, cookie, uid, CL_NODE_NO_TAG, name, namelen, mode,
				      flags, timeout_us);
}

bool cl_node_client_has(const struct cl_node *n, uint64_t client, const void *name,
			size_t namelen)
{
	if (n->failed || !name_ok(name, namelen))
		return false;
	struct nl_client *c = nd_client_find(n, client);
	const struct nl_lease *l = c ? nd_lease_find(n, name, namelen) : NULL;
	return l && nd_chold_of(c, l);
}

uint32_t cl_node_client_nholds(const struct cl_node *n, uint64_t client)
{
	const struct nl_client *c = n->failed ? NULL : nd_client_find(n, client);
	return c ? c->nholds : 0;
}

int cl_node_acquire_tagged(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
			   uint32_t tag, const void *name, size_t namelen, uint8_t mode,
			   unsigned flags, uint64_t timeout_us)
{
	if (n->failed)
		return -ENOMEM;
	if (!name_ok(name, namelen) || (mode != CL_MODE_EX && mode != CL_MODE_SH) ||
	    (flags & ~CL_NODE_ACQ_FLAGS) || client == 0)
		return -EINVAL;
	if (n->draining)
		return -ESHUTDOWN;
	enter(n, "an acquire");
	int rc = 0;
	struct nl_client *c = nd_client_get(n, client, uid);
	struct nl_lease *l = c ? nd_lease_get(n, name, namelen) : NULL;
	struct chold *ch = NULL;
	if (!c || !l) {
		rc = -ENOMEM;
		goto out;
	}
	if (c->uid != uid) {
		rc = -EINVAL;
		goto out;
	}
	if (nd_chold_of(c, l)) {
		rc = -EALREADY;
		goto out;
	}
	ch = cl_slab_alloc(sizeof(*ch));
	if (!ch) {
		rc = -ENOMEM;
		goto out;
	}
	ch->lease = l;
	ch->client = c;
	ch->cookie = cookie;
	ch->tag = tag;
	ch->mode = mode;
	ch->flags = (uint8_t)flags;
	ch->state = CH_WAITING;
	ch->deadline = timeout_us ? now_us(n) + timeout_us : 0;
	cl_list_add_head(&c->holds, &ch->clink);
	c->nholds++;
	chl_push(&l->waiters, &l->nwaiters, ch);
	if (!ready(n) && !(flags & CL_ACQ_WAIT)) {
		nd_ev_lease(n, CL_NODE_EV_DENIED, ch, COROLEASE_ESYNCING, 0);
		nd_chold_free(n, ch);
	} else if (ready(n) && !(n->vq_quorate && cl_sm_quorate(n->sm)) && !(flags & CL_ACQ_WAIT) &&
		   !(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK)) {
		nd_ev_lease(n, CL_NODE_EV_DENIED, ch, COROLEASE_ENOQUORUM, 0);
		nd_chold_free(n, ch);
	} else {
		n->fast_ch = ch;
		n->fast_granted = false;
		nd_pump(n, l);   /* may free ch and l */
		n->fast_ch = NULL;
		n->c.fastpath_grants += n->fast_granted;
		l = NULL;
	}
out:
	if (l)
		nd_lease_settle(n, l);
	if (c)
		nd_client_maybe_free(n, c);
	leave(n);
	return rc;
}

int cl_node_release(struct cl_node *n, uint64_t client, const void *name, size_t namelen)
{
	if (n->failed)
		return -ENOMEM;
	struct nl_client *c = nd_client_find(n, client);
	struct nl_lease *l = name_ok(name, namelen) ? nd_lease_find(n, name, namelen) : NULL;
	struct chold *ch = c && l ? nd_chold_of(c, l) : NULL;
	if (!ch)
		return COROLEASE_ENOTHELD;
	enter(n, "a release");
	nd_chold_free(n, ch);
	nd_client_maybe_free(n, c);
	nd_pump(n, l);
	leave(n);
	return 0;
}

void cl_node_client_gone(struct cl_node *n, uint64_t client)
{
	if (n->failed)
		return;
	struct nl_client *c = nd_client_find(n, client);
	enter(n, "a client's end");
	struct cl_list *e;
	while (c && (e = cl_list_first(&c->holds))) {
		struct chold *ch = cl_list_entry(e, struct chold, clink);
		struct nl_lease *l = ch->lease;
		nd_chold_free(n, ch);
		nd_pump(n, l);
	}
	if (c)
		nd_client_maybe_free(n, c);
	nd_drop_unconfirmed(n, client, 0, false);
	struct cl_htab_iter it;
	for (struct cl_hnode *h = cl_htab_iter_first(&n->requests, &it); h;
	     h = cl_htab_iter_next(&n->requests, &it)) {
		struct pending_op *o = cl_container_of(h, struct pending_op, hn);
		if (o->client == client)
			o->client = 0;   /* answer arrives later; nobody to tell */
	}
	leave(n);
}

/*
 * Sends m as a request of client answered by an op of kind.  0, or a
 * negative code with nothing changed (-ENOMEM refuses the request only).
 */
static int send_op(struct cl_node *n, uint64_t client, uint64_t cookie, uint8_t kind, struct cl_msg *m)
{
	if (n->failed)
		return -ENOMEM;
	m->req_id = nd_new_req(n);
	int rc = nd_op_add(n, m->req_id, client, cookie, kind);
	if (rc < 0)
		return rc;
	rc = nd_queue_msg(n, m);
	if (rc < 0)
		free(nd_op_take(n, m->req_id));
	return rc;
}

static int index_write(struct cl_node *n, uint64_t client, uint64_t cookie, struct cl_msg *m)
{
	if (n->failed)
		return -ENOMEM;
	if (!name_ok(m->name, m->namelen) || !m->key || m->keylen < 1)
		return -EINVAL;
	struct nl_client *c = nd_client_find(n, client);
	struct nl_lease *l = c ? nd_lease_find(n, m->name, m->namelen) : NULL;
	struct chold *ch = l ? nd_chold_of(c, l) : NULL;
	if (!ch || ch->state != CH_HELD || ch->mode != CL_MODE_EX || l->state == NL_NONE ||
	    l->mode != CL_MODE_EX)
		return COROLEASE_ENOTHELD;
	m->epoch = l->epoch;
	enter(n, "an index write");
	int rc = send_op(n, client, cookie, OP_INDEX, m);
	leave(n);
	return rc;
}

int cl_node_index_put(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
		      const void *name, size_t namelen, const void *key, size_t keylen,
		      const void *val, size_t vallen)
{
	if (vallen > COROLEASE_VALUE_MAX || (vallen && !val) || keylen > COROLEASE_KEY_MAX ||
	    namelen > COROLEASE_NAME_MAX)
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_INDEX_PUT, .name = name, .namelen = (uint16_t)namelen,
			    .key = key, .keylen = (uint8_t)keylen, .value = val,
			    .vallen = (uint32_t)vallen, .uid = uid };
	return index_write(n, client, cookie, &m);
}

int cl_node_index_del(struct cl_node *n, uint64_t client, uint64_t cookie,
		      const void *name, size_t namelen, const void *key, size_t keylen)
{
	if (keylen > COROLEASE_KEY_MAX || namelen > COROLEASE_NAME_MAX)
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_INDEX_DEL, .name = name, .namelen = (uint16_t)namelen,
			    .key = key, .keylen = (uint8_t)keylen };
	return index_write(n, client, cookie, &m);
}

int cl_node_sync(struct cl_node *n, uint64_t client, uint64_t cookie)
{
	struct cl_msg m = { .type = CL_MSG_NOP };
	enter(n, "a sync barrier");
	int rc;
	if (!n->failed && !ready(n)) {
		/*
		 * Not synced (joining, or in a sync round): answered at once, as
		 * a non-waiting acquire is.  Queued, the barrier would wait for
		 * the round, which waits for every member: a daemon hung while
		 * its corosync runs held it back for as long as it hung (the
		 * breaker's t35).
		 */
		struct cl_node_event ev = { .type = CL_NODE_EV_SYNC_DONE, .client = client,
					    .cookie = cookie, .err = COROLEASE_ESYNCING };
		nd_ev_push(n, &ev);
		rc = 0;
	} else {
		rc = send_op(n, client, cookie, OP_SYNC, &m);
	}
	leave(n);
	return rc;
}

int cl_node_evict(struct cl_node *n, uint64_t client, uint64_t cookie,
		  const void *name, size_t namelen)
{
	if (!name_ok(name, namelen))
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_EVICT, .name = name, .namelen = (uint16_t)namelen };
	enter(n, "an evict");
	int rc = send_op(n, client, cookie, OP_ADMIN, &m);
	leave(n);
	return rc;
}

int cl_node_fence_ack(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t node,
		      bool force)
{
	if (node == CL_NODE_NONE)
		return -EINVAL;
	/*
	 * What it frees, only a quorate partition may grant again: sent from
	 * one without quorum it said "recovered" for nothing, and an operator
	 * (or the fencing alert, which tries again on this) must ack where the
	 * cluster goes on (helper-105)
	 */
	if (n->sm && !(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK) &&
	    !(cl_sm_quorate(n->sm) && n->vq_quorate))
		return COROLEASE_ENOQUORUM;
	struct cl_msg m = { .type = CL_MSG_FENCE_ACK, .node = node,
			    .flags = force ? CL_FENCE_FORCE : 0 };
	enter(n, "a fence-ack");
	int rc = send_op(n, client, cookie, OP_ADMIN, &m);
	leave(n);
	return rc;
}

void cl_node_drain(struct cl_node *n)
{
	if (n->failed)
		return;
	enter(n, "a drain");
	n->draining = true;
	struct nl_iter it;
	for (struct nl_lease *l = nd_lease_first(n, &it); l; l = nd_lease_next(n, &it)) {
		nd_deny_waiters(n, l, -ESHUTDOWN);
		if (l->state != NL_NONE && !hold_is(l, NLP_RELEASING)) {
			/* give it up as soon as the holders are gone */
			nd_lease_to(n, l, nd_hold_wanted(l->state), "drain");
			nd_revoke_holders(n, l);   /* clears handover_at */
		}
		nd_pump(n, l);
	}
	leave(n);
}

uint64_t cl_node_backlog(const struct cl_node *n, uint64_t *msgs_r)
{
	if (msgs_r)
		*msgs_r = n->out_msgs;
	return n->out_bytes;
}

bool cl_node_backlog_consistent(const struct cl_node *n)
{
	const struct cl_list *qs[] = { &n->pending, &n->retry, &n->inflight, &n->resend };
	uint64_t msgs = 0, bytes = 0;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		for (const struct cl_list *e = cl_list_first(qs[i]); e; e = cl_list_next(qs[i], e)) {
			const struct outmsg *m = cl_container_of(e, struct outmsg, link);
			msgs++;
			bytes += m->len;
		}
	return msgs == n->out_msgs && bytes == n->out_bytes;
}

bool cl_node_drained(const struct cl_node *n)
{
	if (n->failed || !ready(n) || !cl_sm_quorate(n->sm))
		return true;        /* nothing more can be handed back now */
	return n->nheld == 0 && cl_list_empty(&n->inflight) && cl_list_empty(&n->retry) &&
	       cl_list_empty(&n->pending);
}

/* ---- lifecycle and queries ---- */

int cl_node_config_finish(struct cl_node_config *cfg, char *err, size_t errlen)
{
	if (!cfg->linger_us)
		cfg->linger_us = 5000000;
	if (!cfg->handover_timeout_us)
		cfg->handover_timeout_us = 10000000;
	if (!cfg->revoke_timeout_us)
		cfg->revoke_timeout_us = 5000000;
	if (!cfg->validity_us)
		cfg->validity_us = 2000000;
	if (!cfg->heartbeat_us)
		cfg->heartbeat_us = cfg->validity_us / 4;
	if (!cfg->fence_delay_us)
		cfg->fence_delay_us = cfg->validity_us + cfg->revoke_timeout_us + 2000000;
	if (!cfg->sync_chunk)
		cfg->sync_chunk = 256u * 1024u;
	if (!cfg->reconcile_slice)
		cfg->reconcile_slice = 16384;
	if (cfg->sync_chunk > CL_SYNC_CHUNK_MAX)
		cfg->sync_chunk = CL_SYNC_CHUNK_MAX;
	if (!cfg->send_window)
		cfg->send_window = 4 * cfg->sync_chunk;
	if (!cfg->snapshot_max)
		cfg->snapshot_max = CL_SNAPSHOT_MAX_DEFAULT;
	if (cfg->fence_delay_us < cfg->validity_us + cfg->revoke_timeout_us) {
		if (err)
			snprintf(err, errlen, "fence_delay_ms (%llu) must be at least validity_ms (%llu) "
				 "+ revoke_timeout_ms (%llu)",
				 (unsigned long long)(cfg->fence_delay_us / 1000),
				 (unsigned long long)(cfg->validity_us / 1000),
				 (unsigned long long)(cfg->revoke_timeout_us / 1000));
		return -EINVAL;
	}
	if (cfg->heartbeat_us >= cfg->validity_us) {
		if (err)
			snprintf(err, errlen, "heartbeat_ms (%llu) must be below validity_ms (%llu)",
				 (unsigned long long)(cfg->heartbeat_us / 1000),
				 (unsigned long long)(cfg->validity_us / 1000));
		return -EINVAL;
	}
	return 0;
}

struct cl_node *cl_node_new(const struct cl_node_config *cfg, const struct cl_node_ops *ops, void *ctx)
{
	if (!cfg || !ops || !ops->now || !ops->mcast || cfg->nodeid == CL_NODE_NONE)
		return NULL;
	struct cl_node_config c = *cfg;
	if (cl_node_config_finish(&c, NULL, 0) < 0)
		return NULL;
	struct cl_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cfg = c;
	n->ops = *ops;
	n->ctx = ctx;
	n->me = c.nodeid;
	n->epoch_kept = c.epoch_floor;
	n->term_known = c.newest_term;
	n->started_at = ops->now(ctx);
	cl_list_init(&n->pending);
	cl_list_init(&n->retry);
	cl_list_init(&n->inflight);
	cl_list_init(&n->resend);
	cl_list_init(&n->unconf);
	cl_list_init(&n->evq);
	cl_list_init(&n->lease_order);
	if (cl_htab_init(&n->leases, 256) < 0) {
		free(n);
		return NULL;
	}
	if (cl_htab_init(&n->unconf_req, 64) < 0) {
		cl_htab_fini(&n->leases);
		free(n);
		return NULL;
	}
	return n;
}

/* Frees every entry of t (each embeds its cl_hnode at offset off), then t's buckets. */
static void free_entries(struct cl_htab *t, size_t off)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(t, &it); e; e = cl_htab_iter_next(t, &it))
		free((char *)e - off);
	cl_htab_fini(t);
}

struct cl_node *cl_node_free(struct cl_node *n)
{
	if (!n)
		return NULL;
	struct nl_iter it;
	for (struct nl_lease *l = nd_lease_first(n, &it); l; l = nd_lease_next(n, &it)) {
		struct chold *c, *cn;
		for (c = ch_first(&l->holders); c; c = cn) {
			cn = ch_next(&l->holders, c);
			cl_slab_free(c, sizeof(*c));
		}
		for (c = ch_first(&l->waiters); c; c = cn) {
			cn = ch_next(&l->waiters, c);
			cl_slab_free(c, sizeof(*c));
		}
		cl_slab_free(l, nd_lease_bytes(l->namelen));
	}
	cl_htab_fini(&n->leases);
	free_entries(&n->rare, offsetof(struct nl_rare, hn));
	free_entries(&n->clients, offsetof(struct nl_client, hn));
	free_entries(&n->requests, offsetof(struct pending_op, hn));
	free_links(&n->evq, offsetof(struct qevent, link));
	free_links(&n->pending, offsetof(struct outmsg, link));
	free_links(&n->retry, offsetof(struct outmsg, link));
	free_links(&n->inflight, offsetof(struct outmsg, link));
	free_links(&n->resend, offsetof(struct outmsg, link));
	free_links(&n->unconf, offsetof(struct unconfirmed, link));
	cl_htab_fini(&n->unconf_req);
	free(n->heap);
	free(n->fences);
	nd_sync_reset_buf(n);
	nd_snap_stop(n);
	cl_sm_free(n->sm);
	free(n);
	return NULL;
}

const struct cl_sm *cl_node_sm(const struct cl_node *n)
{
	return n->failed ? NULL : n->sm;
}

uint64_t cl_node_state_hash(struct cl_node *n)
{
	return n->failed || !n->sm ? 0 : cl_sm_hash_cached(n->sm);
}

bool cl_node_synced(const struct cl_node *n)
{
	return !n->failed && ready(n);
}

bool cl_node_failed(const struct cl_node *n)
{
	return n->failed;
}

uint64_t cl_node_valid_until(const struct cl_node *n)
{
	return n->valid_until;
}

uint64_t cl_node_invalid_since(const struct cl_node *n)
{
	return n->valid_until ? 0 : n->lapsed_at;
}

void cl_node_counters(const struct cl_node *n, struct cl_node_counters *c_r)
{
	*c_r = n->c;
}

uint64_t cl_node_illegal_transitions(const struct cl_node *n)
{
	return n->c.illegal_transitions;
}

uint64_t cl_node_client_holds(const struct cl_node *n)
{
	return n->client_holds;
}
