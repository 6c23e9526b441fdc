/*
 * epoch_reused_across_partition - issue 7, defect 2: the same fencing token
 * twice on one name.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7): "In that run node 1's client gets x at epoch 1 in the
 * minority and node 4's at epoch 1 in the majority; storage that accepts
 * epoch >= last takes node 1's late write."
 *
 * Here: defect 1's opening with x first among node 1's 11 batched ACQUIREs,
 * and the batch delivered by nodes 1 and 2 in the ring's regular
 * configuration just before the break (agreed delivery needs nobody's
 * acknowledgement; nodes 3, 4 and 5 never received it).  Node 1's client 101
 * is granted x with a valid lease.  The ring breaks; token + consensus
 * later {1,2} and {3,4,5} form, {3,4,5} quorate, and node 4's client 41
 * asks for x.
 *
 * The timing is the safe one: node 1's client stops trusting x by its
 * validity (the validity anchor -- the send time of node 1's own message
 * delivered before the batch was sent -- + 1 s) before {3,4,5} even forms
 * (2.2 s after the break), so the two leases never overlap in time.  The
 * defect is the token alone: node 4's grant must carry an epoch above every
 * epoch granted on x before, so that storage fencing on epochs rejects a
 * write of node 1's client that arrives late.
 *
 * Status: passes since epochs carry the term (core/lease.c apply_quorum()
 * and next_epoch(); doc/state-machine.md "Epochs"): node 1's epoch is in the
 * old term's range (ring 4 << 32 + n), node 4's in the range of the ring
 * {3,4,5} became quorate in, which is at least 4 ring seqs later.
 *
 * Since grant confirmation (core/node_out.c nd_await_grant()) node 1's
 * client is never handed a grant that only {1,2} delivered: nodes 3, 4 and
 * 5 never acknowledge it.  That closes this path to the late write, so the
 * schedule runs with grant confirmation switched off
 * (CL_UNSAFE_NO_GRANT_ACK) to check the epochs on their own: each layer
 * must hold where the other fails (check_node's
 * a_grant_only_its_node_delivered_goes_to_no_client checks that one).
 *
 * Shown to notice the defect: with the plant CL_UNSAFE_EPOCH_NO_TERM (one
 * per-lineage counter, no jump at a new term), EVSBUS_UNSAFE=0x08, it fails
 * with exit 1: both clients get x with epoch 1.
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

START_TEST(epoch_reused_across_partition)
{
	struct evs_bus *b = safety_minority_batch("x", 11, true, CL_UNSAFE_NO_GRANT_ACK);
	struct safety s;
	safety_init(&s, b);

	const struct evs_event *g1 = evs_last(b, 1, 101, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g1 != NULL, "node 1's client 101 was granted x before the break");
	uint64_t e1 = g1->ev.epoch, t1 = g1->at, v1 = g1->ev.valid_until;

	PRECONDITION(evs_acquire(b, 4, 41, "x", CL_MODE_EX, 0, 0) == 0, "node 4 asks for x");
	evs_run(b);
	const struct evs_event *g4 = evs_last(b, 4, 41, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g4 != NULL, "node 4's client 41 is granted x in the quorate ring");
	PRECONDITION(g4->at >= v1, "the leases do not overlap in time (node 1 valid until %s, "
		     "node 4 granted at %s)", evs_t(v1), evs_t(g4->at));
	fprintf(stderr, "x: node 1 client 101 epoch %" PRIu64 " at t=%s (valid until %s, minority); "
		"node 4 client 41 epoch %" PRIu64 " at t=%s (quorate majority)\n",
		e1, evs_t(t1), evs_t(v1), g4->ev.epoch, evs_t(g4->at));

	safety_expect(&s, g4->ev.epoch > e1,
		      "x granted to node 4's client 41 at t=%s with epoch %" PRIu64 ", not above epoch %"
		      PRIu64 " that node 1's client 101 got on x at t=%s in the minority {1,2}: a "
		      "storage that accepts epoch >= last takes node 1's late write",
		      evs_t(g4->at), g4->ev.epoch, e1, evs_t(t1));
	safety_expect_checks(&s, false, true);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(epoch_reused_across_partition);
}
