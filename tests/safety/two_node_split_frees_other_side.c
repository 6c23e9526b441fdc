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
 * quorate (the bus delivers quorate = yes to both).  Node 1's client 11
 * holds x, node 2's client 21 holds y.  The ring breaks; token + consensus
 * later each node is alone and quorate.  Both clients were revoked when
 * validity lapsed during the failure detection, and take their leases again
 * on their own side (each machine is quorate again).  Node 2's client 22
 * asks for x and node 1's client 12 for y (WAIT).  Then the fence delay
 * passes.
 *
 * The safe outcome: where a split can leave both sides quorate, neither side
 * frees the other's holds on a timer: node 2 must not grant x (nor node 1
 * grant y) without FENCE_ACK, so no name is in use on both nodes.
 *
 * The API the fix must provide (an assumption of this test): the agent
 * cannot learn the quorum mode today.  The test assumes node.h gains
 *     #define CL_QMODE_TWO_NODE 0x1u   (and _LMS, _ATB, _QDEVICE: votequorum's
 *                                        info flags, from votequorum_getinfo)
 *     void cl_node_quorum_mode(struct cl_node *n, unsigned qmode);
 * and the bus calls cl_node_quorum_mode(n, CL_QMODE_TWO_NODE) on every agent
 * of a two_node bus once CL_QMODE_TWO_NODE is defined
 * (tests/support/evsbus.c, node_start()).  Until then the test runs the
 * schedule all the same and fails on the unsafe outcome itself.
 *
 * Why it fails today: node.c arms a fence timer for every departed member
 * (cl_node_confchg -> fence_arm) and, once quorate, sends RECOVER_NODE when
 * it fires (cl_node_tick); lease.c frees the orphans whenever the machine is
 * quorate (apply_recover_node).  Nothing knows that "quorate" here does not
 * exclude a quorate other side, whose node keeps renewing its clients'
 * validity from its own deliveries.
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

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

	/* the clients take their leases again on their own side; each asks for the other's name */
	evs_release(b, 1, 11, "x");
	evs_release(b, 2, 21, "y");
	evs_run(b);
	PRECONDITION(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x again");
	PRECONDITION(evs_acquire(b, 2, 21, "y", CL_MODE_EX, 0, 0) == 0, "node 2 asks for y again");
	PRECONDITION(evs_acquire(b, 2, 22, "x", CL_MODE_EX, CL_ACQ_WAIT, 0) == 0, "node 2 waits for x");
	PRECONDITION(evs_acquire(b, 1, 12, "y", CL_MODE_EX, CL_ACQ_WAIT, 0) == 0, "node 1 waits for y");
	evs_run(b);
	fprintf(stderr, "after the split (t=%s): both machines quorate: %d %d; node 1 client 11 "
		"lease_valid(x) = %d, node 2 client 21 lease_valid(y) = %d\n", evs_t(split),
		cl_sm_quorate(cl_node_sm(evs_agent(b, 1))), cl_sm_quorate(cl_node_sm(evs_agent(b, 2))),
		evs_lease_valid(b, 1, 11, "x"), evs_lease_valid(b, 2, 21, "y"));

	evs_advance(b, split + c.node.fence_delay_us + 2 * SEC);
	const struct evs_event *g2 = evs_last(b, 2, 22, CL_NODE_EV_GRANTED, "x");
	const struct evs_event *g1 = evs_last(b, 1, 12, CL_NODE_EV_GRANTED, "y");
	fprintf(stderr, "split at t=%s, fence delay %s s; at t=%s: node 1 client 11 lease_valid(x) = %d, "
		"node 2 client 21 lease_valid(y) = %d\n", evs_t(split), evs_t(c.node.fence_delay_us),
		evs_t(evs_now(b)), evs_lease_valid(b, 1, 11, "x"), evs_lease_valid(b, 2, 21, "y"));
	safety_expect(&s, !g2,
		      "node 2 freed node 1's hold on x after the fence delay and granted x to its "
		      "client 22 (epoch %" PRIu64 ") at t=%s, without FENCE_ACK, while node 1, quorate "
		      "on its own (two_node), keeps client 11's lease on x valid (lease_valid() = %d at "
		      "t=%s)",
		      g2 ? g2->ev.epoch : 0, g2 ? evs_t(g2->at) : "-", evs_lease_valid(b, 1, 11, "x"),
		      evs_t(evs_now(b)));
	safety_expect(&s, !g1,
		      "node 1 likewise granted y to its client 12 (epoch %" PRIu64 ") at t=%s while "
		      "node 2's client 21 holds y (lease_valid() = %d)",
		      g1 ? g1->ev.epoch : 0, g1 ? evs_t(g1->at) : "-", evs_lease_valid(b, 2, 21, "y"));
	safety_expect_checks(&s, true, false);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(two_node_split_frees_other_side);
}
