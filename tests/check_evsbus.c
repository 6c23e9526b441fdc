/*
 * check_evsbus.c - tests of the EVS test bus (tests/support/evsbus.c): that
 * it delivers as corosync would, and that its owner and epoch checks stay
 * quiet on the paths the agents get right.  The schedules the agents get
 * wrong are in tests/safety/.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evsbus.h"
#include "index.h"
#include "lease.h"

#define SEC 1000000ull
#define ALL3 (EVS_N(1) | EVS_N(2) | EVS_N(3))

static struct evs_bus *bus(unsigned nodes)
{
	return evs_new_booted(nodes, false);
}

static void no_violation(const struct evs_bus *b)
{
	const char *o = evs_violation(b, EVS_CHECK_OWNER), *e = evs_violation(b, EVS_CHECK_EPOCH);
	if (o || e)
		evs_dump_trace(b, stderr, 80);
	ck_assert_msg(!o, "owner: %s", o);
	ck_assert_msg(!e, "epoch: %s", e);
}

static bool ring_eq_(struct cl_ring a, struct cl_ring b)
{
	return a.rep == b.rep && a.seq == b.seq;
}

static uint32_t owner(const struct evs_bus *b, uint32_t node, const char *name)
{
	return cl_sm_owner(cl_node_sm(evs_agent(b, node)), name, strlen(name));
}

static bool in_grace(const struct evs_bus *b, uint32_t node)
{
	struct cl_sm_stats st;
	cl_sm_stats(cl_node_sm(evs_agent(b, node)), &st);
	return st.grace;
}

START_TEST(boot_grant_handover)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	uint64_t start = evs_now(b);
	evs_boot(b);
	struct cl_ring r = evs_ring(b, 1);
	ck_assert_uint_eq(r.rep, 1);
	ck_assert_uint_eq(r.seq, 4);
	/* the boot waited out the grace period of the fresh state, and no longer */
	for (uint32_t id = 1; id <= 3; id++)
		ck_assert(!in_grace(b, id));
	ck_assert_uint_ge(evs_now(b), start + c.node.fence_delay_us);
	ck_assert_uint_lt(evs_now(b), start + c.node.fence_delay_us + c.node.validity_us);
	/* between heartbeats: the previous own message was sent earlier than now */
	evs_advance(b, evs_now(b) + c.node.heartbeat_us / 2);
	uint64_t prev = evs_last_sent(b, 1);
	ck_assert_uint_eq(evs_delivered_by(b, prev), ALL3);
	ck_assert_uint_lt(evs_msg_at(b, prev), evs_now(b));
	ck_assert_int_eq(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0), 0);
	evs_run(b);
	const struct evs_event *g = evs_last(b, 1, 11, CL_NODE_EV_GRANTED, "x");
	ck_assert_ptr_nonnull(g);
	ck_assert(evs_lease_valid(b, 1, 11, "x"));
	/* the ACQUIRE's delivery renews validity from the own message delivered before it was sent */
	ck_assert_uint_gt(evs_last_sent(b, 1), prev);
	ck_assert_uint_eq(evs_page(b, 1), evs_msg_at(b, prev) + c.node.validity_us);
	ck_assert_int_eq(evs_acquire(b, 2, 21, "x", CL_MODE_EX, CL_ACQ_WAIT, 0), 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 2, 21, CL_NODE_EV_QUEUED, "x"));
	/* the holder does not let go: revoked after the handover timeout, done by its deadline */
	evs_advance(b, evs_now(b) + 3 * SEC + SEC / 2);
	ck_assert_ptr_nonnull(evs_last(b, 1, 11, CL_NODE_EV_REVOKED, "x"));
	ck_assert(!evs_lease_valid(b, 1, 11, "x"));
	ck_assert_ptr_null(evs_last(b, 2, 21, CL_NODE_EV_GRANTED, "x"));
	evs_advance(b, evs_now(b) + SEC);
	const struct evs_event *g2 = evs_last(b, 2, 21, CL_NODE_EV_GRANTED, "x");
	ck_assert_ptr_nonnull(g2);
	ck_assert_uint_gt(g2->ev.epoch, g->ev.epoch);
	/* heartbeats keep node 2's client valid */
	evs_advance(b, evs_now(b) + 5 * SEC);
	ck_assert(evs_lease_valid(b, 2, 21, "x"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/*
 * The client page: a client that does not dispatch sees its revoke at once
 * with per-hold slots, and only once it dispatches with the node-wide page;
 * one that dispatches sees it either way.  A grant it has not dispatched is
 * not usable.
 */
START_TEST(client_model)
{
	for (int per_hold = 0; per_hold <= 1; per_hold++) {
		struct evs_config c;
		evs_config_default(&c, 1);
		c.page = per_hold ? EVS_PAGE_PER_HOLD : EVS_PAGE_NODE_WIDE;
		struct evs_bus *b = evs_new(&c);
		evs_boot(b);
		evs_client_dispatching(b, 1, 3, false);
		evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
		evs_acquire(b, 1, 2, "b", CL_MODE_EX, 0, 0);
		evs_acquire(b, 1, 3, "c", CL_MODE_EX, 0, 0);
		evs_run(b);
		ck_assert_ptr_nonnull(evs_last(b, 1, 3, CL_NODE_EV_GRANTED, "c"));
		ck_assert(!evs_lease_valid(b, 1, 3, "c"));    /* granted, not dispatched */
		evs_dispatch(b, 1, 3);
		ck_assert(evs_lease_valid(b, 1, 3, "c"));
		evs_client_dispatching(b, 1, 2, false);
		ck_assert_int_eq(cl_node_evict(evs_agent(b, 1), 9, 9, "b", 1), 0);
		ck_assert_int_eq(cl_node_evict(evs_agent(b, 1), 9, 10, "a", 1), 0);
		evs_run(b);
		ck_assert_ptr_nonnull(evs_last(b, 1, 2, CL_NODE_EV_REVOKED, "b"));
		ck_assert(!evs_lease_valid(b, 1, 1, "a"));
		ck_assert(evs_page(b, 1) > evs_node_now(b, 1));   /* the node is still valid */
		ck_assert(evs_lease_valid(b, 1, 3, "c"));
		ck_assert(evs_lease_valid(b, 1, 2, "b") == !per_hold);   /* not dispatched yet */
		evs_dispatch(b, 1, 2);
		ck_assert(!evs_lease_valid(b, 1, 2, "b"));
		ck_assert_int_eq(evs_release(b, 1, 1, "a"), 0);
		ck_assert_int_eq(evs_release(b, 1, 2, "b"), 0);
		evs_run(b);
		ck_assert_uint_eq(owner(b, 1, "a"), 0);
		no_violation(b);
		evs_free(b);
	}
}
END_TEST

/* Fresh state: nothing is granted for a fence delay after the first ring forms. */
START_TEST(fresh_ring_grace)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	uint32_t all = ALL3;
	evs_form(b, &all, 1);
	evs_run(b);
	uint64_t formed = evs_now(b);
	for (uint32_t id = 1; id <= 3; id++) {
		ck_assert(cl_node_synced(evs_agent(b, id)));
		ck_assert(in_grace(b, id));
	}
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_acquire(b, 2, 2, "a", CL_MODE_EX, CL_ACQ_WAIT, 0);
	evs_run(b);
	const struct evs_event *d = evs_last(b, 1, 1, CL_NODE_EV_DENIED, "a");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->ev.err, COROLEASE_EGRACE);
	evs_advance(b, formed + c.node.fence_delay_us - 1);
	ck_assert(in_grace(b, 3));
	ck_assert_ptr_null(evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "a"));
	evs_advance(b, formed + c.node.fence_delay_us + c.node.validity_us);
	const struct evs_event *g = evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "a");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_ge(g->at, formed + c.node.fence_delay_us);
	ck_assert(!in_grace(b, 3));
	ck_assert(evs_lease_valid(b, 2, 2, "a"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* One CPG message carries a batch; every part is delivered, in order, to every member. */
START_TEST(batch_is_one_cpg_message)
{
	struct evs_bus *b = bus(3);
	evs_batch(b, 1, true);
	evs_ring_hold(b, 1, true);
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_acquire(b, 1, 2, "b", CL_MODE_EX, 0, 0);
	evs_acquire(b, 1, 3, "c", CL_MODE_SH, 0, 0);
	ck_assert_uint_eq(evs_pending(b, 1), 0);
	evs_flush(b, 1);
	ck_assert_uint_eq(evs_pending(b, 1), 1);
	evs_ring_hold(b, 1, false);
	evs_run(b);
	for (uint64_t c = 1; c <= 3; c++)
		ck_assert_ptr_nonnull(evs_last(b, 1, c, CL_NODE_EV_GRANTED, NULL));
	ck_assert_uint_eq(owner(b, 3, "c"), 1);
	ck_assert_uint_eq(cl_sm_hash(cl_node_sm(evs_agent(b, 1))), cl_sm_hash(cl_node_sm(evs_agent(b, 3))));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* Transitional delivery follows the copies: the sender's side always, the other side if it had one. */
START_TEST(transitional_delivery_follows_copies)
{
	for (int copy = 0; copy <= 1; copy++) {
		struct evs_bus *b = bus(3);
		evs_ring_hold(b, 1, true);
		evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
		if (copy)
			evs_receive(b, 1, EVS_N(3));   /* node 3 got a copy before the break */
		EVS_SPLIT(b, EVS_N(1), EVS_N(2) | EVS_N(3));
		ck_assert_uint_eq(owner(b, 1, "a"), 1);
		ck_assert_uint_eq(owner(b, 2, "a"), copy ? 1 : 0);
		ck_assert_uint_eq(owner(b, 3, "a"), copy ? 1 : 0);
		struct cl_ring r1 = evs_ring(b, 1), r2 = evs_ring(b, 2);
		ck_assert_uint_eq(r1.rep, 1);
		ck_assert_uint_eq(r2.rep, 2);
		ck_assert_uint_gt(r2.seq, r1.seq);
		ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 2))));
		ck_assert(!cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));
		no_violation(b);
		evs_free(b);
	}
}
END_TEST

/* Delivered to some members before the break: the others never get it. */
START_TEST(regular_delivery_to_some)
{
	struct evs_bus *b = bus(3);
	struct cl_node_counters c3, d3;
	evs_ring_hold(b, 1, true);
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	uint64_t acq = evs_last_sent(b, 1);
	evs_deliver_to(b, 1, EVS_N(1) | EVS_N(2));
	/* granted in the machine, but not to the client: node 3 has not acked it */
	ck_assert_ptr_null(evs_last(b, 1, 1, CL_NODE_EV_GRANTED, "a"));
	ck_assert_uint_eq(owner(b, 2, "a"), 1);
	ck_assert_uint_eq(owner(b, 3, "a"), 0);
	/* the ACQUIRE (node 3 lacks it) and node 2's WRITE_ACK of the grant */
	ck_assert_uint_eq(evs_pending(b, 1), 2);
	ck_assert_uint_eq(evs_delivered_by(b, acq), EVS_N(1) | EVS_N(2));
	cl_node_counters(evs_agent(b, 3), &c3);
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2), EVS_N(3));
	cl_node_counters(evs_agent(b, 3), &d3);
	ck_assert_uint_eq(owner(b, 3, "a"), 0);
	ck_assert_uint_eq(d3.bad_msgs, c3.bad_msgs);
	ck_assert_uint_eq(evs_delivered_by(b, acq), EVS_N(1) | EVS_N(2));   /* not even transitionally */
	/* node 3 delivered only its own held heartbeats and its new ring's, not the old ring's */
	ck_assert_uint_le(d3.delivered - c3.delivered, d3.mcast_msgs - c3.mcast_msgs);
	ck_assert(cl_sm_hash(cl_node_sm(evs_agent(b, 1))) == cl_sm_hash(cl_node_sm(evs_agent(b, 2))));
	no_violation(b);
	evs_free(b);
}
END_TEST

/*
 * Why a handover waits for the others' acks like any grant (helper-94,
 * 2026-12-06, against a shortcut that handed it out in the release's
 * delivery when every member had the released hold).  Five nodes, the
 * default revoke timeout: node 2 holds x, node 1 waits, node 2's release
 * reaches nodes 1 and 2 only.  Node 1's client must not have x yet: in the
 * majority, which never saw the release, the only trace of it is node 2's
 * orphan, and that goes before the fence delay in two ways, below.  With the
 * shortcut, node 1's client (revoked when cut off, but free to act until its
 * revoke deadline) and node 3's overlapped in both.
 */
static struct evs_bus *handover_seen_by_two(struct evs_config *c)
{
	evs_config_default(c, 5);
	c->node.revoke_timeout_us = 5 * SEC;
	c->node.fence_delay_us = c->node.validity_us + c->node.revoke_timeout_us + 2 * SEC;
	struct evs_bus *b = evs_new(c);
	evs_boot(b);
	evs_acquire(b, 2, 21, "x", CL_MODE_EX, 0, 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 2, 21, CL_NODE_EV_GRANTED, "x"));
	evs_acquire(b, 1, 11, "x", CL_MODE_EX, CL_ACQ_WAIT, 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 1, 11, CL_NODE_EV_QUEUED, "x"));
	evs_ring_hold(b, 1, true);
	evs_release(b, 2, 21, "x");
	uint64_t rel = evs_last_sent(b, 2);
	evs_deliver_to(b, 1, EVS_N(1) | EVS_N(2));
	ck_assert_uint_eq(evs_delivered_by(b, rel), EVS_N(1) | EVS_N(2));
	ck_assert_uint_eq(owner(b, 1, "x"), 1);
	ck_assert_ptr_null(evs_last(b, 1, 11, CL_NODE_EV_GRANTED, "x"));
	return b;
}

/* ... a fence-ack of node 2 alone (it really is off) frees its orphan at once. */
START_TEST(handover_release_seen_by_two_then_fence_ack)
{
	struct evs_config c;
	struct evs_bus *b = handover_seen_by_two(&c);
	evs_crash(b, 2);
	EVS_SPLIT(b, EVS_N(1), EVS_N(3) | EVS_N(4) | EVS_N(5));
	evs_fence_ack(b, 3, 39, 2, false);
	evs_run(b);
	evs_acquire(b, 3, 31, "x", CL_MODE_EX, CL_ACQ_WAIT, 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 3, 31, CL_NODE_EV_GRANTED, "x"));
	evs_advance(b, evs_now(b) + c.node.revoke_timeout_us);
	ck_assert_ptr_null(evs_last(b, 1, 11, CL_NODE_EV_GRANTED, "x"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* ... node 2 returns to the majority alone and recovers its own orphan at once. */
START_TEST(handover_releaser_returns_alone)
{
	struct evs_config c;
	struct evs_bus *b = handover_seen_by_two(&c);
	uint32_t maj = EVS_N(3) | EVS_N(4) | EVS_N(5);
	EVS_SPLIT(b, EVS_N(1), EVS_N(2), maj);
	evs_acquire(b, 3, 31, "x", CL_MODE_EX, CL_ACQ_WAIT, 0);
	evs_run(b);
	evs_advance(b, evs_now(b) + SEC / 10);
	uint64_t merged = evs_now(b);
	EVS_FORM(b, EVS_N(1), EVS_N(2) | maj);
	evs_run(b);
	evs_advance(b, merged + c.node.revoke_timeout_us);
	const struct evs_event *g3 = evs_last(b, 3, 31, CL_NODE_EV_GRANTED, "x");
	ck_assert_ptr_nonnull(g3);
	ck_assert_uint_lt(g3->at, merged + c.node.fence_delay_us);   /* not by the fence delay */
	evs_advance(b, merged + c.node.fence_delay_us + SEC);
	ck_assert_ptr_null(evs_last(b, 1, 11, CL_NODE_EV_GRANTED, "x"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* votequorum on its own schedule: no verdict, no quorum; a flap with no ring change. */
START_TEST(votequorum_manual)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	c.vq = EVS_VQ_MANUAL;
	struct evs_bus *b = evs_new(&c);
	uint32_t all = ALL3;
	evs_form(b, &all, 1);
	evs_run(b);
	ck_assert(!cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));
	evs_quorum(b, 2, true);
	evs_run(b);
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));   /* node 2's QUORUM decides */
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_run(b);
	const struct evs_event *d = evs_last(b, 1, 1, CL_NODE_EV_DENIED, "a");
	ck_assert_ptr_nonnull(d);                  /* node 1's own view says no */
	ck_assert_int_eq(d->ev.err, COROLEASE_ENOQUORUM);
	evs_quorum(b, 1, true);
	evs_quorum(b, 3, true);
	evs_run(b);
	/* the fresh state's grace period */
	evs_advance(b, evs_now(b) + c.node.fence_delay_us + c.node.validity_us);
	ck_assert(!in_grace(b, 1));
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_run(b);
	ck_assert(evs_lease_valid(b, 1, 1, "a"));
	evs_quorum(b, 1, false);
	ck_assert_uint_eq(evs_page(b, 1), 0);
	ck_assert_ptr_nonnull(evs_last(b, 1, 1, CL_NODE_EV_REVOKED, "a"));
	evs_free(b);
}
END_TEST

/*
 * votequorum two_node: each node of a split is quorate, and the agents know
 * the mode (grants wait for a fence-ack); a node whose corosync restarted is
 * not quorate alone until it has seen the other (wait_for_all).
 */
START_TEST(two_node_verdicts)
{
	struct evs_bus *b = evs_new_booted(2, true);
	EVS_SPLIT(b, EVS_N(1), EVS_N(2));
	for (uint32_t id = 1; id <= 2; id++) {
		struct cl_sm_stats st;
		cl_sm_stats(cl_node_sm(evs_agent(b, id)), &st);
		ck_assert(st.quorate && st.split_mode);
		ck_assert_uint_eq(st.nunfenced, 1);
		ck_assert(cl_sm_unfenced(cl_node_sm(evs_agent(b, id)), 3 - id));
	}
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_run(b);
	const struct evs_event *d = evs_last(b, 1, 1, CL_NODE_EV_DENIED, "a");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->ev.err, COROLEASE_EFENCING);
	evs_crash(b, 2);
	evs_restart(b, 2);
	EVS_FORM(b, EVS_N(2));
	evs_run(b);
	ck_assert(!cl_sm_quorate(cl_node_sm(evs_agent(b, 2))));   /* wait_for_all */
	EVS_FORM(b, EVS_N(1) | EVS_N(2));
	evs_run(b);
	ck_assert(cl_node_synced(evs_agent(b, 2)));
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 2))));
	ck_assert(!cl_sm_unfenced(cl_node_sm(evs_agent(b, 2)), 2));   /* back in the ring */
	no_violation(b);
	evs_free(b);
}
END_TEST

/* The correct partition path: the majority frees a departed holder only after the fence delay. */
START_TEST(split_majority_waits_fence_delay)
{
	struct evs_bus *b = bus(3);
	evs_acquire(b, 1, 1, "x", CL_MODE_EX, 0, 0);
	evs_run(b);
	evs_advance(b, evs_now(b) + 2 * SEC);
	ck_assert(evs_lease_valid(b, 1, 1, "x"));
	EVS_SPLIT(b, EVS_N(1), EVS_N(2) | EVS_N(3));
	uint64_t formed = evs_now(b);
	ck_assert(!evs_lease_valid(b, 1, 1, "x"));
	evs_acquire(b, 2, 2, "x", CL_MODE_EX, CL_ACQ_WAIT, 0);
	evs_run(b);
	evs_advance(b, formed + 4 * SEC - 1);
	ck_assert_ptr_null(evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "x"));
	evs_advance(b, formed + 4 * SEC + 1);
	ck_assert_ptr_nonnull(evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "x"));
	/* heal: one state again */
	EVS_FORM(b, ALL3);
	evs_run(b);
	uint64_t h = cl_sm_hash(cl_node_sm(evs_agent(b, 1)));
	ck_assert_uint_eq(cl_sm_hash(cl_node_sm(evs_agent(b, 2))), h);
	ck_assert_uint_eq(cl_sm_hash(cl_node_sm(evs_agent(b, 3))), h);
	ck_assert_uint_eq(owner(b, 1, "x"), 2);
	no_violation(b);
	evs_free(b);
}
END_TEST

/* A pause shorter than the token timeout: the same ring goes on and the held message is delivered. */
START_TEST(short_pause_resumes_ring)
{
	struct evs_bus *b = bus(3);
	struct cl_ring r = evs_ring(b, 2);
	evs_pause(b, 2);
	evs_acquire(b, 2, 1, "a", CL_MODE_EX, 0, 0);
	evs_run(b);
	ck_assert_ptr_null(evs_last(b, 2, 1, CL_NODE_EV_GRANTED, "a"));
	evs_advance(b, evs_now(b) + SEC / 2);
	evs_resume(b, 2);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 2, 1, CL_NODE_EV_GRANTED, "a"));
	ck_assert_uint_eq(owner(b, 3, "a"), 2);
	ck_assert_uint_eq(evs_ring(b, 2).seq, r.seq);
	no_violation(b);
	evs_free(b);
}
END_TEST

/* A long pause: the others form a ring; the paused node delivers its queue alone, then is alone. */
START_TEST(long_pause_delivers_alone)
{
	struct evs_bus *b = bus(3);
	evs_pause(b, 3);
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2));
	evs_acquire(b, 3, 1, "a", CL_MODE_EX, 0, 0);
	evs_resume(b, 3);
	ck_assert_uint_eq(owner(b, 3, "a"), 3);     /* applied in the ring the others left */
	ck_assert_uint_eq(owner(b, 1, "a"), 0);
	EVS_FORM(b, EVS_N(3));
	evs_run(b);
	ck_assert_uint_eq(evs_ring(b, 3).rep, 3);
	ck_assert(!cl_sm_quorate(cl_node_sm(evs_agent(b, 3))));
	evs_free(b);
}
END_TEST

/* Crash, restart with no state, rejoin: the restarted node loads the others' state. */
START_TEST(crash_restart_rejoin)
{
	struct evs_bus *b = bus(3);
	evs_crash(b, 3);
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2));
	evs_acquire(b, 1, 1, "a", CL_MODE_EX, 0, 0);
	evs_run(b);
	evs_restart(b, 3);
	EVS_FORM(b, ALL3);
	evs_run(b);
	ck_assert(cl_node_synced(evs_agent(b, 3)));
	ck_assert_uint_eq(owner(b, 3, "a"), 1);
	ck_assert_uint_eq(cl_sm_hash(cl_node_sm(evs_agent(b, 1))), cl_sm_hash(cl_node_sm(evs_agent(b, 3))));
	ck_assert(evs_lease_valid(b, 1, 1, "a"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* Clocks with an offset and a drift: every node still ticks at its own deadlines. */
START_TEST(drifting_clocks)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	evs_clock(b, 2, 250000, 400);
	evs_clock(b, 3, -100000, -300);
	evs_boot(b);
	ck_assert_uint_eq(evs_node_now(b, 2), evs_now(b) + 250000 + evs_now(b) * 400 / 1000000);
	evs_acquire(b, 2, 1, "a", CL_MODE_EX, 0, 0);
	evs_acquire(b, 3, 1, "b", CL_MODE_EX, 0, 0);
	evs_run(b);
	evs_advance(b, evs_now(b) + 20 * SEC);
	ck_assert(evs_lease_valid(b, 2, 1, "a"));
	ck_assert(evs_lease_valid(b, 3, 1, "b"));
	no_violation(b);
	evs_free(b);
}
END_TEST

/* The checks: two EX users of one name, and an epoch that does not grow, are reported. */
START_TEST(checks_report)
{
	struct evs_config c;
	evs_config_default(&c, 2);
	c.node.sm.unsafe_flags = CL_UNSAFE_NO_QUORUM_CHECK;
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	EVS_SPLIT(b, EVS_N(1), EVS_N(2));
	evs_acquire(b, 1, 1, "x", CL_MODE_EX, 0, 0);
	evs_acquire(b, 2, 1, "x", CL_MODE_EX, 0, 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_violation(b, EVS_CHECK_OWNER));
	ck_assert_ptr_nonnull(strstr(evs_violation(b, EVS_CHECK_OWNER), "\"x\" in use by two nodes"));
	ck_assert_ptr_nonnull(evs_violation(b, EVS_CHECK_EPOCH));
	evs_free(b);
}
END_TEST

/*
 * F3: a short votequorum flap on one node.  Its QUORUM(no) is still in
 * flight when the verdict is quorate again; the machine still says quorate,
 * so a check against the machine alone sends nothing, and once QUORUM(no)
 * applies nothing re-evaluates: the machine stays non-quorate while every
 * votequorum says quorate, and nothing is granted again.
 */
START_TEST(quorum_flap_while_report_in_flight)
{
	struct evs_bus *b = bus(3);
	struct cl_ring r = evs_ring(b, 1);
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));
	evs_ring_hold(b, 1, true);
	evs_quorum(b, 1, false);
	evs_quorum(b, 1, true);
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));   /* QUORUM(no) not applied yet */
	evs_ring_hold(b, 1, false);
	evs_run(b);
	ck_assert(ring_eq_(evs_ring(b, 1), r));   /* no configuration change */
	for (uint32_t id = 1; id <= 3; id++)
		ck_assert_msg(cl_sm_quorate(cl_node_sm(evs_agent(b, id))),
			      "node %u: machine not quorate after the flap", id);
	ck_assert_int_eq(evs_acquire(b, 2, 21, "x", CL_MODE_EX, 0, 0), 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 2, 21, CL_NODE_EV_GRANTED, "x"));
	/* and the same flap on every member at once */
	evs_ring_hold(b, 1, true);
	for (uint32_t id = 1; id <= 3; id++)
		evs_quorum(b, id, false);
	for (uint32_t id = 1; id <= 3; id++)
		evs_quorum(b, id, true);
	evs_ring_hold(b, 1, false);
	evs_run(b);
	for (uint32_t id = 1; id <= 3; id++)
		ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, id))));
	no_violation(b);
	evs_free(b);
}
END_TEST

/*
 * Two members disagree for good (one has lost its quorum device's vote):
 * each reports its verdict once per change, so the reports do not
 * ping-pong, and the machine settles.
 */
START_TEST(quorum_disagreement_settles)
{
	struct evs_bus *b = bus(3);
	evs_quorum(b, 1, false);
	evs_run(b);
	bool q = cl_sm_quorate(cl_node_sm(evs_agent(b, 2)));
	struct cl_sm_stats st;
	cl_sm_stats(cl_node_sm(evs_agent(b, 2)), &st);
	uint64_t lsn = st.lsn;
	evs_advance(b, evs_now(b) + 2 * SEC);
	evs_run(b);
	/* settled: no more reports, only heartbeats (about 4 per second per node) */
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 2))) == q);
	cl_sm_stats(cl_node_sm(evs_agent(b, 2)), &st);
	ck_assert_uint_le(st.lsn - lsn, 3 * 10);
	/* node 1 cannot use its leases meanwhile, whatever the machine says */
	ck_assert_int_eq(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0), 0);
	evs_run(b);
	ck_assert_ptr_null(evs_last(b, 1, 11, CL_NODE_EV_GRANTED, "x"));
	evs_quorum(b, 1, true);
	evs_run(b);
	for (uint32_t id = 1; id <= 3; id++)
		ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, id))));
	no_violation(b);
	evs_free(b);
}
END_TEST

/*
 * two_node: a write delivered to its writer alone, transitionally, before a
 * split.  Both halves are quorate, so "the write is in a quorate state"
 * does not confirm it: the other half is quorate too and its state may win
 * the merge.  It is answered only once the other node is fenced or back
 * (and then from the merged state).  corolease-sim seed 843 (before: the
 * write was acknowledged at the split and lost at the merge).
 */
START_TEST(two_node_write_in_split_waits_for_fence)
{
	struct evs_bus *b = evs_new_booted(2, true);
	ck_assert_int_eq(evs_acquire(b, 2, 21, "a", CL_MODE_EX, 0, 0), 0);
	evs_run(b);
	ck_assert_ptr_nonnull(evs_last(b, 2, 21, CL_NODE_EV_GRANTED, "a"));
	evs_ring_hold(b, 2, true);
	ck_assert_int_eq(evs_put(b, 2, 21, "a", "k", "v"), 0);
	evs_receive(b, 2, EVS_N(2));      /* node 1 never received it */
	EVS_SPLIT(b, EVS_N(1), EVS_N(2));
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))));
	ck_assert(cl_sm_quorate(cl_node_sm(evs_agent(b, 2))));
	evs_advance(b, evs_now(b) + 2 * SEC);
	const struct evs_event *d = evs_last(b, 2, 21, CL_NODE_EV_INDEX_DONE, "a");
	ck_assert_msg(!d || d->ev.err != 0, "acknowledged while node 1's half is quorate and unfenced");
	/* the halves merge: whichever state wins, the answer agrees with it */
	EVS_FORM(b, EVS_N(1) | EVS_N(2));
	evs_run(b);
	evs_advance(b, evs_now(b) + 2 * SEC);
	d = evs_last(b, 2, 21, CL_NODE_EV_INDEX_DONE, "a");
	ck_assert_ptr_nonnull(d);
	uint64_t ver = 0;
	bool there = cl_index_entry_version(cl_node_sm(evs_agent(b, 1)), "a", 1, "k", 1, &ver) == 0;
	ck_assert_msg(d->ev.err != 0 || there, "acknowledged write lost in the merge");
	no_violation(b);
	evs_free(b);
}
END_TEST

static Suite *evsbus_suite(void)
{
	Suite *s = suite_create("evsbus");
	TCase *tc = tcase_create("bus");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, boot_grant_handover);
	tcase_add_test(tc, client_model);
	tcase_add_test(tc, fresh_ring_grace);
	tcase_add_test(tc, batch_is_one_cpg_message);
	tcase_add_test(tc, transitional_delivery_follows_copies);
	tcase_add_test(tc, regular_delivery_to_some);
	tcase_add_test(tc, handover_release_seen_by_two_then_fence_ack);
	tcase_add_test(tc, handover_releaser_returns_alone);
	tcase_add_test(tc, votequorum_manual);
	tcase_add_test(tc, two_node_verdicts);
	tcase_add_test(tc, split_majority_waits_fence_delay);
	tcase_add_test(tc, short_pause_resumes_ring);
	tcase_add_test(tc, long_pause_delivers_alone);
	tcase_add_test(tc, crash_restart_rejoin);
	tcase_add_test(tc, drifting_clocks);
	tcase_add_test(tc, checks_report);
	tcase_add_test(tc, quorum_flap_while_report_in_flight);
	tcase_add_test(tc, quorum_disagreement_settles);
	tcase_add_test(tc, two_node_write_in_split_waits_for_fence);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(evsbus_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
