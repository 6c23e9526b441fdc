/*
 * node_lease.c - the node agent's decisions about one lease: what local
 * waiters get, what is asked of the cluster, handover, linger, revocation,
 * the machine's actions for this node, and reconciliation with the machine.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "node_int.h"

/* ---- lease decisions ---- */

/* Denies every local waiter of l with err. */
void nd_deny_waiters(struct cl_node *n, struct nl_lease *l, int err)
{
	struct chold *c = ch_first(&l->waiters), *cn;
	for (; c; c = cn) {
		cn = ch_next(&l->waiters, c);
		nd_ev_lease(n, CL_NODE_EV_DENIED, c, err, 0);
		nd_chold_free(n, c);
	}
}

/*
 * The machine is quorate and the local votequorum agrees, for this ring.
 * The simulator's CL_UNSAFE_NO_QUORUM_CHECK plant switches this off too, so
 * that it removes every quorum check, not only the machine's.
 */
bool nd_quorum_ok(const struct cl_node *n)
{
	if (n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK)
		return true;
	return cl_sm_quorate(n->sm) && n->vq_quorate && ring_eq(&n->vq_ring, &n->ring);
}

/*
 * This node's state is the cluster's: quorate as nd_quorum_ok(), and no
 * departed node awaits a fence-ack.  In a split-capable quorum mode both
 * sides of a split stay quorate, so a side that waits for a fence-ack may be
 * the one whose state loses at the heal: what it alone applied (a write
 * delivered in its transitional configuration) is not confirmed there, and
 * reads there are not linearizable.
 */
bool nd_authoritative(const struct cl_node *n)
{
	return nd_quorum_ok(n) && cl_sm_nunfenced(n->sm) == 0;
}

/* Local clients may use leases: synced, nd_quorum_ok, validity. */
static bool trusted(struct cl_node *n)
{
	return ready(n) && nd_quorum_ok(n) && now_us(n) < n->valid_until;
}

/*
 * Gives l's hold back to the cluster: HANDOVER_DONE when another node asked
 * for it, else RELEASE; l moves to `to` (a RELEASING state) once it is sent.
 */
static void send_release(struct cl_node *n, struct nl_lease *l, bool handover, enum nl_state to,
			 const char *why)
{
	struct cl_msg m = { .type = handover ? CL_MSG_HANDOVER_DONE : CL_MSG_RELEASE,
			    .epoch = l->epoch, .name = l->name, .namelen = l->namelen };
	if (nd_send_msg(n, &m) == 0) {
		uint64_t wanted_at = nd_rare(n, l)->wanted_at;
		if (wanted_at) {   /* how long this node took to let another have it */
			uint64_t now = now_us(n);
			cl_hist_add(&n->c.handover, now > wanted_at ? now - wanted_at : 0);
			nd_rare_clear(n, l, RARE_WANTED);
		}
		nd_lease_to(n, l, to, why);
	}
}

static void send_acquire(struct cl_node *n, struct nl_lease *l, uint8_t mode, bool wait)
{
	struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = mode,
			    .flags = (uint8_t)((wait ? CL_ACQ_WAIT : 0) |
					       (l->new_epoch_due ? CL_ACQ_NEW_EPOCH : 0)),
			    .req_id = nd_new_req(n), .name = l->name, .namelen = l->namelen };
	if (nd_send_msg(n, &m) == 0) {
		l->req = REQ_SENT;
		l->req_mode = mode;
	}
}

void nd_revoke_holders(struct cl_node *n, struct nl_lease *l)
{
	uint64_t deadline = now_us(n) + n->cfg.revoke_timeout_us;
	for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c)) {
		if (c->state == CH_REVOKED)
			continue;
		c->state = CH_REVOKED;
		c->deadline = deadline;
		n->c.revokes++;
		nd_ev_lease(n, CL_NODE_EV_REVOKED, c, COROLEASE_EREVOKED, 0);
	}
	nd_rare_clear(n, l, RARE_HANDOVER);
}

/*
 * Can local waiter c hold l beside its current local holders (revoked ones
 * count until they are gone)?  SH with SH; EX alone, unless c and every
 * holder are EX, CL_NODE_SHARED and of one uid: a node-shared hold is
 * shared between the clients of one user (issue 8: another user, root
 * included, arbitrates like any local client).
 */
static bool local_compatible(const struct nl_lease *l, const struct chold *c)
{
	for (const struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h)) {
		if (c->mode == CL_MODE_SH && h->mode == CL_MODE_SH)
			continue;
		if (c->mode == CL_MODE_EX && h->mode == CL_MODE_EX &&
		    (c->flags & CL_NODE_SHARED) && (h->flags & CL_NODE_SHARED) &&
		    c->client->uid == h->client->uid)
			continue;
		return false;
	}
	return true;
}

/* Is local holder h in local waiter w's way (would the handover revoke it)? */
static bool in_way(const struct chold *w, const struct chold *h)
{
	return h->state == CH_HELD && !(w->mode == CL_MODE_SH && h->mode == CL_MODE_SH);
}

/*
 * May local waiter w have the local holders in its way revoked (the local
 * handover)?  When it is privileged (root, admin_group: the glue says), or
 * when every one of them is of its uid; never for another user's hold
 * (issue 8: the holder is told WANTED, and w waits).  False without w.
 */
static bool may_force(const struct nl_lease *l, const struct chold *w)
{
	if (!w)
		return false;
	if (w->flags & CL_NODE_PRIVILEGED)
		return true;
	for (const struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h))
		if (in_way(w, h) && h->client->uid != w->client->uid)
			return false;
	return true;
}

/*
 * Local waiters the node-level hold covers but local holders block (or
 * that wait behind one they block: the grants go in order): a NOWAIT one
 * is denied -EBUSY naming this node; a WAIT one that is blocked is told QUEUED
 * once, the holders in its way are told WANTED once, and the local handover
 * timer starts, unless the head of the queue (for whom local_handover()
 * acts) may not force the holders in its way (may_force()).
 */
static void local_conflicts(struct cl_node *n, struct nl_lease *l)
{
	struct chold *c = ch_first(&l->waiters), *next;
	for (; c; c = next) {
		next = ch_next(&l->waiters, c);
		if (!mode_covers(l->mode, c->mode))
			continue;
		/* covered and still here: blocked, or behind one that is */
		if (!(c->flags & CL_ACQ_WAIT)) {
			nd_ev_lease(n, CL_NODE_EV_DENIED, c, -EBUSY, n->me);
			nd_chold_free(n, c);
			continue;
		}
		if (local_compatible(l, c))
			continue;
		if (!c->queued_told) {
			c->queued_told = true;
			nd_ev_lease(n, CL_NODE_EV_QUEUED, c, 0, n->me);
		}
		for (struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h)) {
			if (h->state == CH_HELD && !h->wanted_told) {
				h->wanted_told = true;
				nd_ev_lease(n, CL_NODE_EV_WANTED, h, 0, n->me);
			}
		}
		if (!nd_rare(n, l)->local_handover_at && may_force(l, ch_first(&l->waiters))) {
			struct nl_rare *r = nd_rare_get(n, l);
			if (r)
				r->local_handover_at = now_us(n) + n->cfg.handover_timeout_us;
		}
	}
}

/*
 * The local handover timer fired: the local holders in the head waiter's way
 * are revoked, if it may have them revoked (may_force()); once they are gone
 * the lease goes to it under a new epoch.
 */
static void local_handover(struct cl_node *n, struct nl_lease *l)
{
	nd_rare_clear(n, l, RARE_LOCAL_HANDOVER);
	const struct chold *w = ch_first(&l->waiters);
	if (!w || !mode_covers(l->mode, w->mode) || local_compatible(l, w) || !may_force(l, w))
		return;
	uint64_t deadline = now_us(n) + n->cfg.revoke_timeout_us;
	for (struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h)) {
		if (!in_way(w, h))
			continue;
		h->state = CH_REVOKED;
		h->deadline = deadline;
		n->c.revokes++;
		nd_ev_lease(n, CL_NODE_EV_REVOKED, h, COROLEASE_EREVOKED, 0);
		l->new_epoch_due = true;
	}
}

/* Denies l's local waiters that did not ask to WAIT, with err naming owner. */
static void deny_nowait(struct cl_node *n, struct nl_lease *l, int err, uint32_t owner)
{
	struct chold *c = ch_first(&l->waiters), *next;
	for (; c; c = next) {
		next = ch_next(&l->waiters, c);
		if (!(c->flags & CL_ACQ_WAIT)) {
			nd_ev_lease(n, CL_NODE_EV_DENIED, c, err, owner);
			nd_chold_free(n, c);
		}
	}
}

/*
 * Without quorum (the machine's or the local votequorum's) nothing can be
 * granted: local waiters that asked to WAIT stay queued here, bounded by
 * their own timeouts, and the cluster is asked once quorum is back (a
 * QUORUM action reconciles every lease); the others are denied now.
 * True when l must not ask the cluster yet.
 */
static bool wait_for_quorum(struct cl_node *n, struct nl_lease *l)
{
	if ((n->vq_quorate && cl_sm_quorate(n->sm)) ||
	    (n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK))
		return false;
	deny_nowait(n, l, COROLEASE_ENOQUORUM, 0);
	return true;
}

/*
 * Brings l forward after any change: grants what local waiters can have,
 * asks the cluster for the rest, hands the lease over or lingers.
 * l may be freed.
 */
void nd_pump(struct cl_node *n, struct nl_lease *l)
{
	uint64_t now = now_us(n);

	/* holders gone while lost, wanted or revoking: give the lease back */
	if (l->state != NL_NONE && !l->nholders && !hold_is(l, NLP_RELEASING)) {
		if (hold_is(l, NLP_LOST)) {
			if (ready(n) && cl_sm_quorate(n->sm) &&
			    cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) == l->epoch)
				send_release(n, l, false, NL_RELEASING_LOST, "lost hold given back");
			else   /* reconcile releases it later */
				nd_lease_to(n, l, NL_NONE, "lost hold forgotten");
		} else if (hold_is(l, NLP_WANTED | NLP_REVOKING)) {
			send_release(n, l, true, nd_hold_releasing(l->state), "holders gone: handover");
		}
	}

	if (!ready(n)) {
		nd_lease_settle(n, l);
		return;
	}

	/*
	 * grant local waiters covered by the node-level hold, in order, as far
	 * as the local holders allow (a revoked local holder gone: under a new
	 * epoch first)
	 */
	bool usable = (l->state == NL_HELD || l->state == NL_LINGER) && trusted(n) &&
		      !nd_unconfirmed(l);   /* a grant not yet confirmed: nobody */
	bool restamp = l->new_epoch_due && !l->nholders;
	if (usable && !restamp) {
		struct chold *c = ch_first(&l->waiters), *next;
		bool granted = false;
		for (; c; c = next) {
			next = ch_next(&l->waiters, c);
			if (!mode_covers(l->mode, c->mode))
				continue;
			if (!local_compatible(l, c))
				break;
			chl_remove(&l->waiters, &l->nwaiters, c);
			c->state = CH_HELD;
			c->deadline = 0;
			chl_push(&l->holders, &l->nholders, c);
			n->client_holds++;
			if (c == n->fast_ch)
				n->fast_granted = l->req == REQ_NONE;
			nd_ev_lease(n, CL_NODE_EV_GRANTED, c, 0, n->me);
			granted = true;
		}
		if (l->nholders)
			nd_lease_to(n, l, NL_HELD, "local grant");
		/*
		 * New holders are told WANTED now (local_conflicts()) and get
		 * handover_timeout from then: the timer the last waiter armed
		 * for the holders before them goes (helper-105: it revoked the
		 * next holder 4.6 s after its grant)
		 */
		if (granted)
			nd_rare_clear(n, l, RARE_LOCAL_HANDOVER);
		local_conflicts(n, l);
		if (!ch_first(&l->waiters) || local_compatible(l, ch_first(&l->waiters)))
			nd_rare_clear(n, l, RARE_LOCAL_HANDOVER);
	}

	/*
	 * A NOWAIT waiter is answered now when nothing this node has sent will
	 * answer it: this node's ACQUIRE waits in the cluster's queue (the QUEUED
	 * answer denied the NOWAIT ones before it: on_answer()), another node
	 * wants the hold, which goes to it once the holders here are done, or
	 * the hold is lost and its (revoked) holders are still here.  Left
	 * waiting, it waited for the lease as if it had asked to: the jepsen
	 * test, seed 20, 20 s through a partition.
	 */
	if (l->nwaiters && l->req != REQ_SENT &&
	    (l->req == REQ_QUEUED || hold_is(l, NLP_WANTED | NLP_REVOKING) ||
	     (hold_is(l, NLP_LOST) && l->nholders))) {
		/* behind a queued ACQUIRE: why it is queued, as the machine would say */
		int err = l->req == REQ_QUEUED ? cl_sm_grant_block(n->sm) : 0;
		deny_nowait(n, l, err ? err : -EBUSY, cl_sm_owner(n->sm, l->name, l->namelen));
	}

	/* what the remaining waiters need from the cluster */
	if (l->nwaiters && l->req == REQ_NONE &&
	    (l->state == NL_NONE || l->state == NL_HELD || l->state == NL_LINGER)) {
		uint8_t want = CL_MODE_SH;
		bool wait = false;
		for (struct chold *c = ch_first(&l->waiters); c; c = ch_next(&l->waiters, c)) {
			if (c->mode == CL_MODE_EX)
				want = CL_MODE_EX;
			if (c->flags & CL_ACQ_WAIT)
				wait = true;
		}
		if (l->state == NL_NONE || !mode_covers(l->mode, want) || restamp) {
			if (!wait_for_quorum(n, l))
				send_acquire(n, l, restamp ? l->mode : want, wait);
		} else if (!trusted(n) && nd_quorum_ok(n) && now >= nd_rare(n, l)->renew_at) {
			/*
			 * Held and covering, but validity lapsed: one ACQUIRE (answered
			 * with the existing epoch) renews it.  Rate-limited so a hold
			 * that stays untrusted cannot turn into a message storm; quorum
			 * and validity changes pump again.
			 */
			send_acquire(n, l, l->mode, wait);
			/* out of memory: no limit this time, rather than failing the node */
			struct nl_rare *r = nd_rare_try(n, l);
			if (r)
				r->renew_at = now + n->cfg.validity_us / 2;
		}
	}
	/*
	 * Forgotten only once it has passed: trust that comes back for a moment
	 * between two lapses must not let another renewing ACQUIRE out early
	 * (helper-67: seed 4089 sent one 8.9 ms after the last).
	 */
	if (l->has_rare && trusted(n) && now >= nd_rare(n, l)->renew_at)
		nd_rare_clear(n, l, RARE_RENEW);

	/* unused and not wanted (a wanted one was handed over above): linger */
	if (l->state == NL_HELD && !l->nholders && l->req == REQ_NONE && !l->nwaiters)
		nd_lease_to(n, l, NL_LINGER, "unused");
	nd_lease_settle(n, l);
}

/* Revokes every local hold: quorum, transport or validity lost. */
void nd_revoke_all(struct cl_node *n, const char *why)
{
	uint64_t revoked = n->c.revokes;
	struct nl_iter it;
	for (struct nl_lease *l = nd_lease_first(n, &it); l; l = nd_lease_next(n, &it)) {
		nd_lease_to(n, l, nd_hold_lost(l->state), why);
		nd_revoke_holders(n, l);
		nd_lease_settle(n, l);
	}
	if (n->c.revokes != revoked)
		nd_log(n, LOG_WARNING, "revoked %llu local holds: %s",
		     (unsigned long long)(n->c.revokes - revoked), why);
	nd_set_valid_until(n, 0);
}

/* ---- machine actions ---- */

static void on_grant(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = nd_lease_get(n, a->name, a->namelen);
	if (!l) {
		nd_fail(n, "recording a grant");
		return;
	}
	bool same_epoch = l->epoch == a->epoch;
	if (hold_is(l, NLP_RELEASING) && same_epoch) {
		/*
		 * The echo of a re-ask for a hold we are already giving back: the
		 * RELEASE behind it ends this epoch, so nobody may use it now.
		 */
		l->req = REQ_NONE;
		return;
	}
	bool new_hold = l->state == NL_NONE || !same_epoch;
	if (!same_epoch) {
		/* a fresh grant or a conversion: earlier requests are moot */
		nd_rare_clear(n, l, RARE_HANDOVER | RARE_WANTED);
		l->new_epoch_due = false;
	}
	nd_lease_to(n, l, nd_hold_granted(l->state, same_epoch), "granted");
	if (!same_epoch)
		l->unconf = false;   /* nd_await_grant() below decides for the new one */
	l->epoch = a->epoch;
	l->mode = a->mode;
	l->req = REQ_NONE;
	if (new_hold) {
		n->c.cluster_grants++;
		/*
		 * Not for local clients until every member is known to have
		 * applied it: this node may be the only one that delivered the
		 * input that made it (corosync delivers a sender's own message
		 * at once), and the others, cut off from it now, would grant the
		 * name elsewhere with no orphan of ours to wait for.
		 */
		nd_await_grant(n, l);
	}
	nd_pump(n, l);
}

/*
 * The machine queued (QUEUED) or refused (DENY) this node's ACQUIRE: the
 * lease's local waiters learn what concerns them.  Queued: the WAIT ones are
 * told once, the others are denied -EBUSY.  Refused: those the node-level
 * hold covers (held, not lost) stay, and the WAIT ones when a WAIT ACQUIRE
 * would have been queued (busy, grace, fencing; nd_pump() asks for them);
 * the others are denied with its err.
 */
static void on_answer(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = nd_lease_find(n, a->name, a->namelen);
	if (!l)
		return;
	bool queued = a->type == CL_ACT_QUEUED;
	/* no quorum: a WAIT request waits here for it (nd_pump asks again) */
	bool no_quorum = !queued && a->err == COROLEASE_ENOQUORUM;
	/*
	 * A refusal that a WAIT ACQUIRE would not have had (it is queued
	 * instead): the ACQUIRE was a NOWAIT one, and a WAIT waiter that came
	 * after it was sent stays, to be asked for (helper-80: it was refused
	 * EBUSY at once).
	 */
	bool busy = !queued && (a->err == -EBUSY || a->err == COROLEASE_EGRACE ||
				a->err == COROLEASE_EFENCING);
	l->req = queued ? REQ_QUEUED : REQ_NONE;
	bool covering = l->state != NL_NONE && !hold_is(l, NLP_LOST);
	struct chold *c = ch_first(&l->waiters), *next;
	for (; c; c = next) {
		next = ch_next(&l->waiters, c);
		bool stays = queued || no_quorum ? (c->flags & CL_ACQ_WAIT) :
			     (covering && mode_covers(l->mode, c->mode)) ||
			     (busy && (c->flags & CL_ACQ_WAIT));
		if (!stays) {
			nd_ev_lease(n, CL_NODE_EV_DENIED, c, queued ? -EBUSY : a->err, a->owner);
			nd_chold_free(n, c);
		} else if (queued && !c->queued_told) {
			c->queued_told = true;
			nd_ev_lease(n, CL_NODE_EV_QUEUED, c, 0, a->owner);
		}
	}
	if (queued)
		nd_lease_settle(n, l);
	else
		nd_pump(n, l);
}


/* Does a local waiter of l wait for what the node-level hold covers? */
static bool covered_waiter(const struct nl_lease *l)
{
	for (const struct chold *c = ch_first(&l->waiters); c; c = ch_next(&l->waiters, c))
		if (mode_covers(l->mode, c->mode))
			return true;
	return false;
}

/* Another node (wanted_by, waiting or not) asks for l's hold; revoke: at once. */
static void blocking(struct cl_node *n, struct nl_lease *l, uint32_t wanted_by, bool waits,
		     bool revoke, uint64_t at)
{
	struct nl_rare *r = nd_rare_find(n, l);
	if (r)
		r->blocked_epoch = 0;
	if (!hold_is(l, NLP_WANTED)) {
		nd_lease_to(n, l, nd_hold_wanted(l->state), "blocking");
		if (!(r = nd_rare_get(n, l)))
			return;   /* the agent has failed */
		r->wanted_at = at;
		for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
			if (c->state == CH_HELD)
				nd_ev_lease(n, CL_NODE_EV_WANTED, c, 0, wanted_by);
	}
	/*
	 * The holders are forced out after handover_timeout only for a node
	 * that waits: a NOWAIT try was denied already, and revoking the holders
	 * for it would hand the lease to nobody.
	 */
	if (waits && l->nholders && !revoke && !nd_rare(n, l)->handover_at &&
	    !hold_is(l, NLP_REVOKING)) {
		if (!(r = nd_rare_get(n, l)))
			return;
		r->handover_at = now_us(n) + n->cfg.handover_timeout_us;
	}
	nd_rare_tidy(n, l);
	if (revoke) {
		nd_lease_to(n, l, nd_hold_revoked(l->state), "revoke");
		nd_revoke_holders(n, l);
	}
	nd_pump(n, l);
}

static void on_blocking(struct cl_node *n, const struct cl_action *a, bool revoke)
{
	struct nl_lease *l = nd_lease_find(n, a->name, a->namelen);
	if (!l || l->state == NL_NONE || l->epoch != a->epoch || hold_is(l, NLP_RELEASING))
		return;
	if (!revoke && nd_unconfirmed(l) && !hold_is(l, NLP_WANTED) && covered_waiter(l)) {
		/*
		 * Not confirmed yet, and local waiters wait for it: handing it
		 * over now would give them nothing, and nodes that keep asking
		 * for one name would pass it round for ever, each before its
		 * confirmation.  Acted on once it is confirmed and they have it.
		 */
		struct nl_rare *r = nd_rare_get(n, l);
		if (!r)
			return;   /* the agent has failed */
		if (r->blocked_epoch != l->epoch) {
			r->blocked_epoch = l->epoch;
			r->blocked_at = now_us(n);
			r->blocked_waits = false;
		}
		r->blocked_by = a->wanted_by;
		r->blocked_waits |= a->waits;
		return;
	}
	blocking(n, l, a->wanted_by, a->waits, revoke, now_us(n));
}

static void on_hold_gone(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = nd_lease_find(n, a->name, a->namelen);
	if (!l || l->state == NL_NONE || l->epoch != a->epoch)
		return;
	nd_lease_to(n, l, NL_NONE, a->type == CL_ACT_RELEASED ? "released" : "recovered");
	if (l->nholders) {
		/* recovered under live clients (fence-ack of ourselves): cut them off */
		nd_revoke_holders(n, l);
	}
	nd_pump(n, l);
}

/*
 * An own write or barrier applied that no entry will stand for (refused, or
 * its request is gone): a marker keeps its place in the FIFO, so that a
 * WRITE_ACK naming it confirms the entries before it (nd_on_write_ack()).
 */
static void add_marker(struct cl_node *n, uint64_t req_id)
{
	struct unconfirmed *u = malloc(sizeof(*u));
	if (!u) {
		nd_fail(n, "recording a write's place");
		return;
	}
	*u = (struct unconfirmed){ .marker = true, .departures = n->departures, .req_id = req_id };
	nd_unconf_add(n, u);
}

static void on_op_done(struct cl_node *n, const struct cl_action *a, enum cl_node_event_type type)
{
	if (!a->req_id)
		return;            /* heartbeat */
	uint64_t req_id = a->req_id;
	struct pending_op *o = nd_op_take(n, req_id);
	if (!o) {
		/*
		 * its client has gone: the others ack it all the same (a write,
		 * or a barrier's NOP; an admin input's marker is just passed over)
		 */
		add_marker(n, req_id);
		return;
	}
	bool barrier = o->kind == OP_SYNC;
	struct cl_action refused;
	if (barrier && a->err == 0 && !nd_authoritative(n)) {
		/* a barrier delivered where reads are not linearizable */
		refused = (struct cl_action){ .type = a->type, .err = COROLEASE_ENOQUORUM };
		a = &refused;
	} else if ((o->kind == OP_INDEX || barrier) && a->err == 0) {
		/*
		 * applied: the answer waits until it cannot be lost
		 * (nd_confirm_writes()); a write whose client has gone too, as
		 * the WRITE_ACKs naming it confirm the writes before it
		 */
		size_t extra = barrier ? 0 : (size_t)a->namelen + a->keylen;
		struct unconfirmed *u = malloc(sizeof(*u) + extra);
		if (u) {
			*u = (struct unconfirmed){ .barrier = barrier, .client = o->client,
						   .cookie = o->cookie, .version = a->version,
						   .departures = n->departures,
						   .req_id = a->req_id,
						   .deleted = a->deleted };
			if (!barrier) {
				u->namelen = a->namelen;
				u->keylen = a->keylen;
				memcpy(u->buf, a->name, a->namelen);
				memcpy(u->buf + a->namelen, a->key, a->keylen);
				/* the value just applied, to recognise it in a state loaded later */
				const uint8_t *v;
				uint32_t vl;
				if (!a->deleted && cl_index_get(n->sm, a->name, a->namelen, a->key,
								a->keylen, &v, &vl, NULL) == 0) {
					u->have_val = true;
					u->valhash = cl_hash_bytes(0, v, vl);
				}
			}
			nd_unconf_add(n, u);
		} else {
			nd_fail(n, "recording a write or barrier");   /* no early answer */
		}
		free(o);
		return;
	}
	if (o->client) {
		struct cl_node_event ev = { .type = type, .client = o->client, .cookie = o->cookie,
				       .err = a->err, .version = a->version, .count = a->count,
				       .name = a->name, .namelen = a->namelen,
				       .key = a->key, .keylen = a->keylen };
		if (o->kind == OP_SYNC)
			ev.type = CL_NODE_EV_SYNC_DONE;
		nd_ev_push(n, &ev);
	}
	if (o->kind == OP_INDEX || barrier)
		add_marker(n, req_id);   /* refused, answered: the others ack it all the same */
	free(o);
}

/*
 * Keeps the epoch floor ahead of every grant: once a grant's epoch comes
 * within half a step of the floor kept, a new floor a step above it is
 * handed out, before the grant's own event (the glue keeps it across a
 * restart of the daemon; doc/state-machine.md, "Epochs").
 */
#define EPOCH_FLOOR_STEP (UINT64_C(1) << 16)

static void keep_epoch_floor(struct cl_node *n, uint64_t epoch)
{
	if (epoch + EPOCH_FLOOR_STEP / 2 <= n->epoch_kept)
		return;
	n->epoch_kept = epoch + EPOCH_FLOOR_STEP;
	struct cl_node_event ev = { .type = CL_NODE_EV_EPOCH_FLOOR, .epoch = n->epoch_kept };
	nd_ev_push(n, &ev);
}

void nd_on_action(void *ctx, const struct cl_action *a)
{
	struct cl_node *n = ctx;
	if (n->ops.action)
		n->ops.action(n->ctx, a);
	if (a->type == CL_ACT_GRANT) {
		keep_epoch_floor(n, a->epoch);
		nd_note_grant(n, a->node, a->epoch);   /* the grantee waits for it */
	}
	if (a->type == CL_ACT_INDEX_CHANGED) {
		struct cl_node_event ev = { .type = CL_NODE_EV_INDEX_CHANGED, .deleted = a->deleted,
				       .version = a->version, .owner = a->node,
				       .name = a->name, .namelen = a->namelen,
				       .key = a->key, .keylen = a->keylen };
		nd_ev_push(n, &ev);
		return;
	}
	if (a->type == CL_ACT_QUORUM) {
		n->need_reconcile = true;
		n->quorum_recheck = true;  /* our verdict may differ from the machine's now */
		n->recover_self_seq = 0;   /* an earlier self-recover may have met no quorum */
		return;
	}
	if (a->node != n->me)
		return;
	switch (a->type) {
	case CL_ACT_GRANT: on_grant(n, a); break;
	case CL_ACT_QUEUED:
	case CL_ACT_DENY: on_answer(n, a); break;
	case CL_ACT_BLOCKING: on_blocking(n, a, false); break;
	case CL_ACT_REVOKE: on_blocking(n, a, true); break;
	case CL_ACT_RELEASED:
	case CL_ACT_RECOVERED: on_hold_gone(n, a); break;
	case CL_ACT_INDEX_DONE: on_op_done(n, a, CL_NODE_EV_INDEX_DONE); break;
	case CL_ACT_ADMIN_DONE: on_op_done(n, a, CL_NODE_EV_ADMIN_DONE); break;
	default: break;
	}
}

struct reconcile {
	struct cl_node *n;
	uint64_t max_orphan;
};

/*
 * Whether a hold of this node in the machine needs adopting: a live hold we
 * do not know about.  Notes the newest own orphan.  Sees every hold of this
 * node (in table order) and changes nothing, so that only those few are
 * sorted and acted on.
 */
static bool reconcile_pick(void *ctx, const uint8_t *name, uint16_t namelen,
			   const struct cl_hold_info *h)
{
	struct reconcile *r = ctx;
	if (h->orphan_seq) {
		if (h->orphan_seq > r->max_orphan)
			r->max_orphan = h->orphan_seq;
		return false;
	}
	const struct nl_lease *l = nd_lease_find(r->n, name, namelen);
	if (l && l->state != NL_NONE && l->epoch == h->epoch)
		return false;
	return !(l && hold_is(l, NLP_RELEASING));   /* releasing: its RELEASED is on its way */
}

static void reconcile_hold(void *ctx, const uint8_t *name, uint16_t namelen,
			   const struct cl_hold_info *h)
{
	struct reconcile *r = ctx;
	struct cl_node *n = r->n;
	/*
	 * A live hold we do not know about: adopt it and give it back, in
	 * RELEASING, so that the echo of any re-ask in flight is not taken for
	 * a usable grant (on_grant()).
	 */
	struct nl_lease *l = nd_lease_get(n, name, namelen);
	if (!l) {
		nd_fail(n, "recording a hold to give back");
		return;
	}
	if (l->epoch != h->epoch) {
		l->unconf = false;   /* an unconfirmed grant of another epoch is moot */
		nd_rare_clear(n, l, RARE_BLOCKED);
	}
	l->epoch = h->epoch;
	l->mode = h->mode;
	send_release(n, l, false, NL_RELEASING, "unknown hold adopted and given back");
	nd_lease_settle(n, l);
}

static bool revocation_pending(const struct cl_node *n)
{
	struct nl_iter it;
	for (const struct nl_lease *l = nd_lease_first(n, &it); l; l = nd_lease_next(n, &it))
		for (const struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
			if (c->state == CH_REVOKED)
				return true;
	return false;
}

/* A local lease against the machine: revoked if the machine does not show it, pumped. */
static void reconcile_lease(struct cl_node *n, struct nl_lease *l)
{
	if (l->state != NL_NONE && !hold_is(l, NLP_RELEASING) &&
	    cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) != l->epoch) {
		nd_lease_to(n, l, NL_NONE, "not in the machine");
		nd_revoke_holders(n, l);
	}
	if (l->req == REQ_QUEUED) {
		struct cl_lease_info info;
		struct cl_waiter_info w[CL_MAX_MEMBERS];
		bool found = false;
		if (cl_sm_lookup(n->sm, l->name, l->namelen, &info, NULL, 0, w, CL_MAX_MEMBERS) == 0)
			for (uint32_t i = 0; i < info.nwaiters && i < CL_MAX_MEMBERS; i++)
				if (w[i].node == n->me)
					found = true;
		if (!found)
			l->req = REQ_NONE;
	}
	nd_pump(n, l);
}

/*
 * Our own orphans: safe to free once no revocation is pending here and a
 * previous incarnation's clients (if we restarted) are past validity and
 * revoke timeout; until then the fence timers of the others apply.
 */
static void reconcile_orphans(struct cl_node *n, uint64_t max_orphan)
{
	if (max_orphan && max_orphan > n->recover_self_seq && !revocation_pending(n) &&
	    now_us(n) >= n->started_at + n->cfg.validity_us + n->cfg.revoke_timeout_us) {
		struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = n->me, .seq = max_orphan };
		if (nd_send_msg(n, &m) == 0) {
			n->recover_self_seq = max_orphan;
			n->c.recover_sent++;
		}
	}
}

void nd_reconcile_now(struct cl_node *n)
{
	n->need_reconcile = false;
	n->rc_active = false;   /* whatever part of a spread one was left is done here */
	if (!ready(n))
		return;
	struct nl_iter it;
	for (struct nl_lease *l = nd_lease_first(n, &it); l; l = nd_lease_next(n, &it))
		reconcile_lease(n, l);
	if (!cl_sm_quorate(n->sm))
		return;
	struct reconcile r = { n, 0 };
	cl_sm_foreach_hold_of_picked(n->sm, n->me, reconcile_pick, reconcile_hold, &r);
	if (cl_sm_failed(n->sm)) {
		nd_fail(n, "reconciling with the machine");
		return;
	}
	reconcile_orphans(n, r.max_orphan);
}

/*
 * Makes the local view agree with the machine: local holds the machine does
 * not show (as live, same epoch) are revoked; machine holds we do not know
 * are released; our own orphans are recovered once no revocation is pending.
 *
 * With more than reconcile_slice local leases or machine records this is
 * spread over passes of the loop (nd_reconcile_step(), from cl_node_tick()
 * at once), so that a node with a million leases does not stop renewing
 * and handling deliveries for a second at every quorum report or round.
 * That is for a state this node kept: it changed only by actions this node
 * handled as they came, so the reconcile finds nothing there that is not
 * already on its way.  A state loaded is reconciled whole at once
 * (nd_reconcile_now()).
 */
void nd_reconcile(struct cl_node *n)
{
	n->need_reconcile = false;
	if (!ready(n)) {
		n->rc_active = false;
		return;
	}
	if (n->rc_active) {
		n->rc_again = true;   /* it starts over when the one under way is done */
		return;
	}
	struct cl_sm_stats st;
	cl_sm_stats(n->sm, &st);
	if (n->leases.n <= n->cfg.reconcile_slice && st.records <= n->cfg.reconcile_slice) {
		nd_reconcile_now(n);
		return;
	}
	n->rc_active = true;
	n->rc_again = false;
	n->rc_in_machine = false;
	n->rc_next = cl_list_first(&n->lease_order);
	n->rc_max_orphan = 0;
	nd_reconcile_step(n);
}

/* Holds to adopt found by a part of a spread reconcile (rc_pick()), names copied. */
struct rc_adopt {
	struct reconcile r;
	struct rc_hold {
		struct cl_hold_info h;
		uint16_t namelen;
		uint8_t name[COROLEASE_NAME_MAX];
	} **v;
	size_t n, cap;
	bool oom;
};

static bool rc_pick(void *ctx, const uint8_t *name, uint16_t namelen, const struct cl_hold_info *h)
{
	struct rc_adopt *a = ctx;
	if (!reconcile_pick(&a->r, name, namelen, h) || a->oom)
		return false;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct rc_hold **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			a->oom = true;
			return false;
		}
		a->v = v;
		a->cap = cap;
	}
	struct rc_hold *x = malloc(offsetof(struct rc_hold, name) + namelen);
	if (!x) {
		a->oom = true;
		return false;
	}
	x->h = *h;
	x->namelen = namelen;
	memcpy(x->name, name, namelen);
	a->v[a->n++] = x;
	return true;
}

/* The order of cl_sm_foreach_hold_of() (cl_name_cmp()). */
static int rc_name_order(const void *pa, const void *pb)
{
	const struct rc_hold *a = *(struct rc_hold *const *)pa, *b = *(struct rc_hold *const *)pb;
	return cl_name_cmp(a->name, a->namelen, b->name, b->namelen);
}

void nd_reconcile_step(struct cl_node *n)
{
	if (!n->rc_active)
		return;
	if (!ready(n)) {
		n->rc_active = false;   /* the sync that ends this calls for another */
		return;
	}
	uint32_t budget = n->cfg.reconcile_slice;
	if (!n->rc_in_machine) {
		for (uint32_t k = 0; k < budget && n->rc_next && !n->failed; k++) {
			struct nl_lease *l = cl_list_entry(n->rc_next, struct nl_lease, order);
			n->rc_next = cl_list_next(&n->lease_order, n->rc_next);
			reconcile_lease(n, l);   /* may free l: nd_lease_settle() keeps rc_next right */
		}
		if (n->rc_next) {
			n->rc_due = now_us(n) + 1;
			return;
		}
		if (!cl_sm_quorate(n->sm)) {
			n->rc_active = false;
			goto done;
		}
		n->rc_in_machine = true;
		n->rc_scan = 0;
		n->rc_serial = cl_sm_serial(n->sm);
		n->rc_due = now_us(n) + 1;
		return;   /* the machine's part from the next pass */
	}
	if (!cl_sm_quorate(n->sm)) {
		n->rc_active = false;
		goto done;
	}
	if (cl_sm_serial(n->sm) != n->rc_serial) {
		/* another state since (a load reconciles whole): over from the start */
		n->rc_in_machine = false;
		n->rc_next = cl_list_first(&n->lease_order);
		n->rc_max_orphan = 0;
		n->rc_due = now_us(n) + 1;
		return;
	}
	struct rc_adopt a = { .r = { n, n->rc_max_orphan } };
	n->rc_scan = cl_sm_scan_holds_of(n->sm, n->rc_scan, budget, n->me, rc_pick, &a);
	n->rc_max_orphan = a.r.max_orphan;
	if (a.n > 1)
		qsort(a.v, a.n, sizeof(*a.v), rc_name_order);
	for (size_t i = 0; i < a.n; i++) {
		if (!a.oom && !n->failed)
			reconcile_hold(&a.r, a.v[i]->name, a.v[i]->namelen, &a.v[i]->h);
		free(a.v[i]);
	}
	free(a.v);
	if (a.oom) {
		nd_fail(n, "reconciling with the machine");
		return;
	}
	if (n->rc_scan) {
		n->rc_due = now_us(n) + 1;
		return;
	}
	n->rc_active = false;
	reconcile_orphans(n, n->rc_max_orphan);
done:
	if (n->rc_again && !n->failed) {
		n->rc_again = false;
		nd_reconcile(n);
	}
}

/*
 * The grant of epoch to this node (nd_await_grant()) is decided: every
 * member has applied it (stands), or a state loaded since does not hold it.
 * Once it stands the lease's local waiters may have it.
 */
void nd_grant_confirmed(struct cl_node *n, const uint8_t *name, uint16_t namelen, uint64_t epoch,
			bool stands)
{
	struct nl_lease *l = nd_lease_find(n, name, namelen);
	if (!l || !l->unconf || l->epoch != epoch)
		return;   /* superseded: a later grant, or the lease is gone */
	if (!stands) {
		/* stays unusable; reconcile forgets it (not in the machine) */
		nd_rare_clear(n, l, RARE_BLOCKED);
		n->need_reconcile = true;
		if (l->state != NL_NONE && !hold_is(l, NLP_RELEASING) && l->epoch == epoch) {
			nd_lease_to(n, l, NL_NONE, "grant lost before it was confirmed");
			nd_revoke_holders(n, l);
			nd_pump(n, l);
		}
		return;
	}
	l->unconf = false;
	nd_pump(n, l);
	/* a BLOCKING put off while it was unconfirmed (on_blocking()) */
	l = nd_lease_find(n, name, namelen);
	struct nl_rare *r = l ? nd_rare_find(n, l) : NULL;
	if (r && r->blocked_epoch) {
		if (r->blocked_epoch == l->epoch && l->state != NL_NONE && !hold_is(l, NLP_RELEASING)) {
			blocking(n, l, r->blocked_by, r->blocked_waits, false, r->blocked_at);
		} else {
			nd_rare_clear(n, l, RARE_BLOCKED);
		}
	}
}

/* After our own RELEASE is applied: the hold is gone unless re-granted since. */
void nd_after_own_release(struct cl_node *n, const struct cl_msg *m)
{
	struct nl_lease *l = nd_lease_find(n, m->name, m->namelen);
	if (!l || !hold_is(l, NLP_RELEASING) || l->epoch != m->epoch)
		return;
	if (cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) == l->epoch)
		return;
	nd_lease_to(n, l, NL_NONE, "own release applied");
	nd_pump(n, l);
}

void nd_lease_timers(struct cl_node *n, struct nl_lease *l, uint64_t now)
{
	if (l->state == NL_LINGER && l->linger_at <= now) {
		if (l->req == REQ_NONE && !l->nwaiters)
			send_release(n, l, false, NL_RELEASING, "linger over");
		else
			nd_lease_to(n, l, NL_HELD, "linger over, asked for again");
	}
	const struct nl_rare *r = nd_rare(n, l);
	if (r->handover_at && r->handover_at <= now) {
		nd_lease_to(n, l, nd_hold_revoked(l->state), "handover timeout");
		nd_revoke_holders(n, l);   /* clears handover_at */
	}
	r = nd_rare(n, l);
	if (r->local_handover_at && r->local_handover_at <= now)
		local_handover(n, l);
	struct chold *c, *next;
	for (c = ch_first(&l->holders); c; c = next) {
		next = ch_next(&l->holders, c);
		if (c->state == CH_REVOKED && c->deadline <= now) {
			if (n->cfg.kill_on_revoke || (c->flags & CL_NODE_KILL)) {
				n->c.kills++;
				nd_ev_lease(n, CL_NODE_EV_KILL, c, COROLEASE_EREVOKED, 0);
			}
			struct nl_client *cl = c->client;
			nd_chold_drop(n, c);
			nd_client_maybe_free(n, cl);
		}
	}
	for (c = ch_first(&l->waiters); c; c = next) {
		next = ch_next(&l->waiters, c);
		if (c->deadline && c->deadline <= now) {
			/* a wait that ends without quorum says why it was not granted */
			bool quorate = !n->sm || (n->vq_quorate && cl_sm_quorate(n->sm));
			nd_ev_lease(n, CL_NODE_EV_DENIED, c, quorate ? -ETIMEDOUT : COROLEASE_ENOQUORUM,
				    n->sm ? cl_sm_owner(n->sm, l->name, l->namelen) : 0);
			struct nl_client *cl = c->client;
			nd_chold_free(n, c);
			nd_client_maybe_free(n, cl);
		}
	}
	nd_pump(n, l);
}
