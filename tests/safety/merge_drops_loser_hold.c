/*
 * merge_drops_loser_hold - a merge drops the losing side's hold without the
 * fence wait doc/state-machine.md promises for it.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * doc/state-machine.md, "Terms and the merge winner": "Holds dropped by
 * loading another side's state (the loser's own live holds that the
 * winner's state does not show) get the fence wait of orphans: during the
 * round each loser multicasts them (SYNC_HOLDS), and every node adds them to
 * the loaded state as orphaned holds of the loser, in the same order.  The
 * loser revokes its clients of them and frees them itself once they are
 * gone; the others free them after the fence delay."
 *
 * Here: five nodes with the daemon's default revoke timeout (5 s; fence
 * delay validity + revoke + 2 s).  Node 1's client 101 asks for x; the
 * ACQUIRE is delivered by nodes 1 and 2 in the ring's regular configuration
 * just before the ring breaks (nodes 3, 4 and 5 never receive it), so
 * client 101 holds x with a valid lease.  Node 3 batches 20 ACQUIREs
 * (n000..n019) that only it has when the ring breaks.  The ring splits three
 * ways, {1,2} | {3,4} | {5}: no side is quorate, nobody starts a new term;
 * {3,4} deliver node 3's batch transitionally, while their machine still
 * believes it is quorate, so their q_lsn is above {1,2}'s.  Node 1's
 * validity lapses during the failure detection, and client 101 is revoked:
 * it must have stopped using x by its revoke deadline, 5 s later
 * (corolease.conf(5), revoke_timeout_ms).  The network heals at once: one
 * ring {1..5}, quorate, a sync round.  Node 5's client 51 then asks for x.
 *
 * The schedule needs (preconditions): the sides share the term, {3,4}'s
 * q_lsn is the higher, so node 3's state wins and does not show node 1's
 * hold on x; client 101 was revoked and its deadline is after the heal.
 *
 * The safe outcome: node 5 is not granted x while node 1's client 101 may
 * still use it (before its revoke deadline): the dropped hold waits like an
 * orphan of node 1.
 *
 * What fixed it: SYNC_HOLDS (core/node_sync.c).  Node 1 lost the merge, so
 * during the round it multicasts its own live holds; every node adds x as an
 * orphaned hold of node 1 to the loaded state, and node 5 waits the fence
 * delay.  With the send of SYNC_HOLDS disabled (cl_sm_foreach_hold_of() not
 * called in sync_send_holds()) the test fails again: node 5 is granted x at
 * the merge, 3.8 s inside client 101's revoke deadline.
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

#define BATCH 20

START_TEST(merge_drops_loser_hold)
{
	struct evs_config c;
	evs_config_default(&c, 5);
	c.node.revoke_timeout_us = 5 * SEC;
	c.node.fence_delay_us = c.node.validity_us + c.node.revoke_timeout_us + 2 * SEC;
	/*
	 * Grant confirmation would keep the grant only {1,2} delivered from node
	 * 1's client (nodes 3-5 never ack it); switched off here, so that the
	 * merge's handling of a loser's holds is checked on its own
	 */
	c.node.sm.unsafe_flags |= CL_UNSAFE_NO_GRANT_ACK;
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);

	/* node 1's ACQUIRE of x reaches {1,2} only, in the regular configuration */
	evs_ring_hold(b, 1, true);
	PRECONDITION(evs_acquire(b, 1, 101, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x");
	uint64_t acq = evs_last_sent(b, 1);
	evs_deliver_to(b, 1, EVS_N(1) | EVS_N(2));
	const struct evs_event *g1 = evs_last(b, 1, 101, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g1 && evs_lease_valid(b, 1, 101, "x"), "node 1's client 101 holds x");

	/* node 3's batch: only node 3 has it when the ring breaks */
	evs_batch(b, 3, true);
	for (unsigned i = 0; i < BATCH; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%03u", i);
		PRECONDITION(evs_acquire(b, 3, 301 + i % 10, name, CL_MODE_EX, 0, 0) == 0,
			     "node 3 takes the acquire of %s", name);
	}
	evs_flush(b, 3);
	evs_batch(b, 3, false);
	uint64_t batch = evs_last_sent(b, 3);

	uint64_t brk = evs_now(b);
	evs_note(b, "the ring splits three ways");
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2), EVS_N(3) | EVS_N(4), EVS_N(5));
	PRECONDITION(evs_delivered_by(b, acq) == (EVS_N(1) | EVS_N(2)), "only {1,2} delivered x's ACQUIRE");
	PRECONDITION(evs_delivered_by(b, batch) == (EVS_N(3) | EVS_N(4)),
		     "only {3,4} delivered node 3's batch (transitionally)");
	for (uint32_t id = 1; id <= 5; id++)
		PRECONDITION(!cl_sm_quorate(cl_node_sm(evs_agent(b, id))), "node %u is not quorate", id);
	const struct evs_event *r1 = evs_last(b, 1, 101, CL_NODE_EV_REVOKED, "x");
	PRECONDITION(r1 != NULL, "client 101 was revoked when node 1's validity lapsed");
	uint64_t deadline = r1->ev.deadline;     /* all clocks agree: node time is global time */

	/* a quick heal */
	uint64_t heal = safety_heal(b, 5);
	const struct evs_announce *a1 = evs_announce(b, 5, 1), *a3 = evs_announce(b, 5, 3);
	struct cl_node_counters c1;
	cl_node_counters(evs_agent(b, 1), &c1);
	fprintf(stderr, "break at t=%s; heal at t=%s: node 1 announced term %u/%" PRIu64 " q_lsn %"
		PRIu64 ", node 3 term %u/%" PRIu64 " q_lsn %" PRIu64 "; node 1 loaded %" PRIu64
		" snapshot(s); client 101 revoked at t=%s, deadline %s\n", evs_t(brk), evs_t(heal),
		a1->term.rep, a1->term.seq, a1->q_lsn, a3->term.rep, a3->term.seq, a3->q_lsn,
		c1.snapshots_loaded, evs_t(r1->at), evs_t(deadline));
	PRECONDITION(a1->seen && a3->seen && a1->term.rep == a3->term.rep &&
		     a1->term.seq == a3->term.seq && a3->q_lsn > a1->q_lsn,
		     "{1,2} and {3,4} share the term and {3,4} applied more while quorate");
	PRECONDITION(c1.snapshots_loaded >= 1, "node 1 loaded node 3's state");
	PRECONDITION(deadline > heal, "client 101's revoke deadline is after the heal");

	uint32_t owner = cl_sm_owner(cl_node_sm(evs_agent(b, 5)), "x", 1);
	PRECONDITION(evs_acquire(b, 5, 51, "x", CL_MODE_EX, 0, 0) == 0, "node 5 asks for x");
	evs_run(b);
	const struct evs_event *g5 = evs_last(b, 5, 51, CL_NODE_EV_GRANTED, "x");
	safety_expect(&s, !g5 || g5->at >= deadline,
		      "node 5's client 51 is granted x (epoch %" PRIu64 ") at t=%s, %s after the merge, "
		      "while node 1's client 101 (epoch %" PRIu64 "), revoked at t=%s, may use x until "
		      "its deadline %s: the merge loaded node 3's state, which does not show node 1's "
		      "hold on x, and nothing kept it as an orphan of node 1 (owner of x after the "
		      "merge: node %u)",
		      g5 ? g5->ev.epoch : 0, g5 ? evs_t(g5->at) : "-", g5 ? evs_t(g5->at - heal) : "-",
		      g1->ev.epoch, evs_t(r1->at), evs_t(deadline), owner);
	safety_expect_checks(&s, true, true);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(merge_drops_loser_hold);
}
