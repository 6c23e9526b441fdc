/*
 * two_node_split_frees_other_side - issue 7, defect 3: votequorum
 * two_node: 1.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7): "votequorum two_node: 1 (the test harness sets it for
 * 2-node clusters): after a split both halves stay quorate, each frees the
 * other's holds after fence_delay and grants; both clients stay valid
 * indefinitely."
 *
 * Here: two nodes with votequorum two_node, so each half of a split is
 * quorate (the bus delivers quorate = yes to both, with CL_QMODE_TWO_NODE,
 * as lockd/main.c passes votequorum's flags).  Node 1's client 11 holds x,
 * node 2's client 21 holds y.  The ring breaks; token + consensus later each
 * node is alone and quorate.  Both clients were revoked when validity lapsed
 * during the failure detection (validity <= token), release, and ask for
 * their lease again on their own side.  Node 2's client 22 asks for x and
 * node 1's client 12 for y (WAIT).  Then the fence delay passes, and two
 * seconds more.
 *
 * The safe outcome: where a split can leave both sides quorate, neither side
 * frees the other's holds on a timer: node 2 must not grant x (nor node 1
 * grant y) without FENCE_ACK, so no name is in use on both nodes.  The
 * issue's setup -- each client valid again on its own side -- is part of
 * the defect: both sides are quorate, so a grant on one side is safe only if
 * the other never grants the same name, and neither side can know what the
 * other does.  So the safe outcome includes that nothing at all is granted
 * between the split and a fence-ack (doc/state-machine.md, "Split-capable
 * quorum modes"): the re-asks of clients 11 and 21 are refused too.
 *
 * Status: passes since the agent learns votequorum's modes
 * (cl_node_quorum_mode()) and reports them with its QUORUM; in a
 * split-capable mode a departure makes the machine refuse every grant
 * (COROLEASE_EFENCING; WAIT requests queue), RECOVER_NODE frees nothing, and
 * no fence timer fires, until a FENCE_ACK for the departed node or its
 * return (core/lease.c grant_block(), apply_recover_node(); core/node.c
 * cl_node_tick()).
 *
 * Shown to notice the defect: with the plant CL_UNSAFE_SPLIT_TIMER (split
 * modes ignored), EVSBUS_UNSAFE=0x10, it fails with exit 1: each client gets
 * its lease back on its own side, and after the fence delay each side frees
 * the other's orphan and grants it (x to client 22 while client 11 holds x:
 * two owners).
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

/* The last event of type for client about name at or after since, or NULL. */
static const struct evs_event *since_(const struct evs_bus *b, uint32_t node, uint64_t client,
				      enum cl_node_event_type type, const char *name, uint64_t since)
{
	const struct evs_event *e = evs_last(b, node, client, type, name);
	return e && e->at >= since ? e : NULL;
}

/* What client's request for name since then came to: granted, refused, or waiting. */
static const char *outcome(const struct evs_bus *b, uint32_t node, uint64_t client, const char *name,
			   uint64_t since, char *buf, size_t cap)
{
	const struct evs_event *g = since_(b, node, client, CL_NODE_EV_GRANTED, name, since);
	const struct evs_event *d = since_(b, node, client, CL_NODE_EV_DENIED, name, since);
	if (g)
		snprintf(buf, cap, "granted (epoch %" PRIu64 ") at t=%s", g->ev.epoch, evs_t(g->at));
	else if (d)
		snprintf(buf, cap, "refused (err %d)", d->ev.err);
	else
		snprintf(buf, cap, "waiting");
	return buf;
}

START_TEST(two_node_split_frees_other_side)
{
	struct evs_config c;
	evs_config_default(&c, 2);
	c.two_node = true;
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);

	PRECONDITION(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x");
	PRECONDITION(evs_acquire(b, 2, 21, "y", CL_MODE_EX, 0, 0) == 0, "node 2 asks for y");
	evs_run(b);
	PRECONDITION(evs_lease_valid(b, 1, 11, "x") && evs_lease_valid(b, 2, 21, "y"),
		     "node 1 holds x, node 2 holds y");

	evs_note(b, "the link between the two nodes fails");
	EVS_SPLIT(b, EVS_N(1), EVS_N(2));
	uint64_t split = evs_now(b);
	PRECONDITION(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))) &&
		     cl_sm_quorate(cl_node_sm(evs_agent(b, 2))), "both nodes are quorate alone (two_node)");

	/* the clients take their leases again on their own side; each asks for the other's name */
	evs_release(b, 1, 11, "x");
	evs_release(b, 2, 21, "y");
	evs_run(b);
	PRECONDITION(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x again");
	PRECONDITION(evs_acquire(b, 2, 21, "y", CL_MODE_EX, 0, 0) == 0, "node 2 asks for y again");
	PRECONDITION(evs_acquire(b, 2, 22, "x", CL_MODE_EX, CL_ACQ_WAIT, 0) == 0, "node 2 waits for x");
	PRECONDITION(evs_acquire(b, 1, 12, "y", CL_MODE_EX, CL_ACQ_WAIT, 0) == 0, "node 1 waits for y");
	evs_run(b);
	char o11[64], o21[64];
	fprintf(stderr, "after the split (t=%s): node 1 client 11 re-asks x: %s; node 2 client 21 re-asks "
		"y: %s\n", evs_t(split), outcome(b, 1, 11, "x", split, o11, sizeof(o11)),
		outcome(b, 2, 21, "y", split, o21, sizeof(o21)));

	evs_advance(b, split + c.node.fence_delay_us + 2 * SEC);
	const struct evs_event *g11 = since_(b, 1, 11, CL_NODE_EV_GRANTED, "x", split);
	const struct evs_event *g21 = since_(b, 2, 21, CL_NODE_EV_GRANTED, "y", split);
	const struct evs_event *g2 = evs_last(b, 2, 22, CL_NODE_EV_GRANTED, "x");
	const struct evs_event *g1 = evs_last(b, 1, 12, CL_NODE_EV_GRANTED, "y");
	outcome(b, 1, 11, "x", split, o11, sizeof(o11));
	outcome(b, 2, 21, "y", split, o21, sizeof(o21));
	char o22[64], o12[64];
	fprintf(stderr, "split at t=%s, fence delay %s s; at t=%s: node 2 client 22 (x): %s; node 1 "
		"client 12 (y): %s; lease_valid: client 11 x = %d, client 21 y = %d\n", evs_t(split),
		evs_t(c.node.fence_delay_us), evs_t(evs_now(b)), outcome(b, 2, 22, "x", split, o22, sizeof(o22)),
		outcome(b, 1, 12, "y", split, o12, sizeof(o12)), evs_lease_valid(b, 1, 11, "x"),
		evs_lease_valid(b, 2, 21, "y"));
	safety_expect(&s, !g2,
		      "node 2 freed node 1's hold on x and granted x to its client 22 (epoch %" PRIu64
		      ") at t=%s (split at t=%s), without FENCE_ACK, while node 1, quorate on its own "
		      "(two_node), %s",
		      g2 ? g2->ev.epoch : 0, g2 ? evs_t(g2->at) : "-", evs_t(split),
		      g11 ? "granted x again to its client 11" : "could grant x again");
	safety_expect(&s, !g1,
		      "node 1 likewise granted y to its client 12 (epoch %" PRIu64 ") at t=%s while "
		      "node 2 %s",
		      g1 ? g1->ev.epoch : 0, g1 ? evs_t(g1->at) : "-",
		      g21 ? "granted y again to its client 21" : "could grant y again");
	safety_expect(&s, !g11 && !g21,
		      "a side granted while the other side may be quorate too, before any FENCE_ACK: "
		      "node 1 client 11 x %s, node 2 client 21 y %s", o11, o21);
	safety_expect_checks(&s, true, false);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(two_node_split_frees_other_side);
}
