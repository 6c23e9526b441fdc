/*
 * two_node_transitional_write_acked - in a split-capable quorum mode a write
 * that only one side of a split applied (delivered in its transitional
 * configuration) must not be acknowledged while that side awaits a
 * fence-ack: both sides stay quorate, and the heal may keep the other's state.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Found by corolease-sim (seed 109 at commit "Merge s7-sim"): two_node; node
 * 32's corosync stalled with an INDEX_PUT queued; node 33 formed a ring
 * alone; node 32 delivered its put in the old ring's transitional
 * configuration, became quorate alone (two_node) and answered the put as
 * done, since "after a departure, once the machine is quorate, a write
 * stands if its entry is in the state" (core/node_out.c); at the heal node
 * 33's state won and the acknowledged write was gone.
 *
 * Here: two nodes, two_node.  Node 1's client 11 holds x and puts x/k=v1;
 * the put reaches only node 1 before the ring breaks, so node 1 alone
 * applies it (transitionally).  The sides split; each is quorate alone and
 * waits for a fence-ack of the other.  Node 2 applies a few inputs of its
 * own, so its state wins at the heal.
 *
 * The safe outcome: the put is not answered as done during the split, and
 * any put answered as done can be read on both nodes after the heal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "safety.h"

START_TEST(two_node_transitional_write_acked)
{
	struct evs_bus *b = evs_new_booted(2, true);
	struct safety s;
	safety_init(&s, b);

	PRECONDITION(evs_acquire(b, 1, 11, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x");
	evs_run(b);
	PRECONDITION(evs_lease_valid(b, 1, 11, "x"), "node 1's client 11 holds x");

	/* the put reaches node 1 only: the ring breaks before node 2 receives it */
	evs_ring_hold(b, 1, true);
	PRECONDITION(evs_put(b, 1, 11, "x", "k", "v1") == 0, "client 11 puts x/k=v1");
	evs_flush(b, 1);
	uint64_t put = evs_last_sent(b, 1);
	evs_receive(b, 1, EVS_N(1));
	evs_note(b, "the link between the two nodes fails");
	EVS_SPLIT(b, EVS_N(1), EVS_N(2));
	uint64_t split = evs_now(b);
	PRECONDITION(evs_delivered_by(b, put) == EVS_N(1), "only node 1 delivered the put");
	PRECONDITION(cl_sm_quorate(cl_node_sm(evs_agent(b, 1))) &&
		     cl_sm_quorate(cl_node_sm(evs_agent(b, 2))), "both nodes are quorate alone (two_node)");

	/* node 2 goes on alone: heartbeats, a few requests of its own */
	for (unsigned i = 0; i < 5; i++)
		evs_acquire(b, 2, 21 + i, "y", CL_MODE_SH, 0, 0);
	evs_advance(b, split + 2 * SEC);
	const struct evs_event *d = evs_last(b, 1, 11, CL_NODE_EV_INDEX_DONE, "x");
	bool acked_in_split = d && d->ev.err == 0;
	uint64_t heal = safety_heal(b, 2);
	evs_advance(b, heal + 2 * SEC);
	d = evs_last(b, 1, 11, CL_NODE_EV_INDEX_DONE, "x");
	char v1[32] = "", v2[32] = "";
	int r1 = evs_read(b, 1, "x", "k", v1, sizeof(v1), NULL);
	int r2 = evs_read(b, 2, "x", "k", v2, sizeof(v2), NULL);
	fprintf(stderr, "split at t=%s, heal at t=%s; the put's answer: %s (err %d) at t=%s; after "
		"the heal node 1 reads %s, node 2 reads %s\n", evs_t(split), evs_t(heal),
		d ? "INDEX_DONE" : "none yet", d ? d->ev.err : 0, d ? evs_t(d->at) : "-",
		r1 == 0 ? v1 : "nothing", r2 == 0 ? v2 : "nothing");
	safety_expect(&s, !acked_in_split,
		      "node 1 answered the put of x/k=v1 as done at t=%s during the split, while it "
		      "awaited a fence-ack of node 2 (quorate too, two_node)", d ? evs_t(d->at) : "-");
	bool acked = d && d->ev.err == 0;
	safety_expect(&s, !acked || (r1 == 0 && r2 == 0 && !strcmp(v1, "v1") && !strcmp(v2, "v1")),
		      "the put of x/k=v1 was acknowledged, but after the heal node 1 reads %s and "
		      "node 2 reads %s", r1 == 0 ? v1 : "nothing", r2 == 0 ? v2 : "nothing");
	safety_expect_checks(&s, true, true);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(two_node_transitional_write_acked);
}
