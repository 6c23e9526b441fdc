/*
 * merge_loads_minority_state - issue 7, defect 1: a merge can load a
 * minority's state.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7): "node 1 sends 11 ACQUIREs; the ring splits
 * {1,2}|{3,4,5}; {1,2} deliver them transitionally (q_lsn 17); {3,4,5}
 * become quorate, node 4 gets x at epoch 1, writes x/k and gets INDEX_DONE
 * (q_lsn 13); a quick heal loads {1,2}'s state everywhere: x/k is gone, and
 * when node 3 asks for x right after the merge it is granted at once while
 * node 4's client is still inside its validity."
 *
 * Here: node 1 batches, as lockd/cpg.c does, so BATCH (100) ACQUIREs (names
 * m000..m099, not x) are one CPG message; only node 1 has it when the ring
 * breaks, so {1,2} deliver it transitionally and {3,4,5} never do.  {3,4,5}
 * forms quorate; node 4's client 41 gets x, puts x/k and its INDEX_DONE
 * arrives; then it keeps writing without dispatching (a busy client).  The
 * network heals at once: one ring {1..5}, a sync round.  Node 3's client 31
 * then asks for x.
 *
 * The batch is larger than the 11 (the issue: "one batched CPG
 * message can carry thousands of inputs"): the agents now heartbeat
 * whenever they have state, so {3,4,5}'s short quorate run applies some 30
 * inputs (held heartbeats, QUORUM, ACQUIRE, INDEX_PUT, the confirming NOP),
 * and the minority must out-count it for the schedule to be the dangerous
 * one.  A precondition checks that it does: at the merge node 1 announces a
 * higher q_lsn than node 3, so a winner picked by (q_lsn, lsn) alone would
 * be the minority.
 *
 * The safe outcome: the acknowledged write x/k survives on every node, and
 * node 3 is not granted x while node 4's client may still use it (its
 * lease_valid() says yes, or it was revoked and its revoke deadline has not
 * passed).
 *
 * Status: passes since the merge winner is chosen by term first
 * (core/node_sync.c better(); doc/state-machine.md "Terms and the merge
 * winner"): {3,4,5} became quorate in a later ring than the term {1,2} still
 * has, so node 3's state wins however much {1,2} applied transitionally.
 *
 * Shown to notice the defect: with the plant CL_UNSAFE_NO_TERM (winner by
 * (q_lsn, lsn) alone), EVSBUS_UNSAFE=0x04, it fails with exit 1: node 1's
 * snapshot is loaded everywhere, x/k is gone on all five nodes, and node 3's
 * client is granted x at the merge while node 4's revoked client is inside
 * its revoke deadline (an owner violation).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "index.h"
#include "safety.h"

#define BATCH 100

START_TEST(merge_loads_minority_state)
{
	struct evs_bus *b = safety_minority_batch("m000", BATCH, false, 0);
	struct safety s;
	safety_init(&s, b);

	/* the quorate side: node 4 gets x, writes x/k, the write is acknowledged */
	PRECONDITION(evs_acquire(b, 4, 41, "x", CL_MODE_EX, 0, 0) == 0, "node 4 asks for x");
	evs_run(b);
	const struct evs_event *g4 = evs_last(b, 4, 41, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g4 != NULL, "node 4's client 41 is granted x");
	uint64_t epoch4 = g4->ev.epoch;
	PRECONDITION(evs_put(b, 4, 41, "x", "k", "v4") == 0, "node 4 writes x/k");
	evs_run(b);
	const struct evs_event *d4 = evs_last(b, 4, 41, CL_NODE_EV_INDEX_DONE, "x");
	PRECONDITION(d4 && d4->ev.err == 0, "node 4's write x/k is acknowledged");
	uint64_t ver4 = d4->ev.version, acked_at = d4->at;
	evs_client_dispatching(b, 4, 41, false);     /* busy writing: checks lease_valid(), no dispatch */

	struct cl_sm_stats st1, st3;
	cl_sm_stats(cl_node_sm(evs_agent(b, 1)), &st1);
	cl_sm_stats(cl_node_sm(evs_agent(b, 3)), &st3);
	fprintf(stderr, "before the heal: {1,2} lsn %" PRIu64 " q_lsn %" PRIu64 " epoch %" PRIu64
		" (not quorate); {3,4,5} lsn %" PRIu64 " q_lsn %" PRIu64 " epoch %" PRIu64 " (quorate)\n",
		st1.lsn, st1.q_lsn, st1.epoch, st3.lsn, st3.q_lsn, st3.epoch);

	/* a quick heal */
	uint64_t heal = safety_heal(b, 5);
	const struct evs_announce *a1 = evs_announce(b, 3, 1), *a3 = evs_announce(b, 3, 3);
	struct cl_node_counters c3;
	cl_node_counters(evs_agent(b, 3), &c3);
	fprintf(stderr, "merge at t=%s: node 1 announced term %u/%" PRIu64 " q_lsn %" PRIu64 " lsn %"
		PRIu64 ", node 3 term %u/%" PRIu64 " q_lsn %" PRIu64 " lsn %" PRIu64 "; node 3 loaded %"
		PRIu64 " snapshot(s)\n", evs_t(heal), a1->term.rep, a1->term.seq, a1->q_lsn, a1->lsn,
		a3->term.rep, a3->term.seq, a3->q_lsn, a3->lsn, c3.snapshots_loaded);
	PRECONDITION(a1->seen && a3->seen && a1->q_lsn > a3->q_lsn,
		     "the minority out-counts the majority: node 1 announced q_lsn %" PRIu64
		     ", node 3 q_lsn %" PRIu64, a1->q_lsn, a3->q_lsn);

	/* node 3 asks for x right after the merge */
	PRECONDITION(evs_acquire(b, 3, 31, "x", CL_MODE_EX, 0, 0) == 0, "node 3 asks for x");
	evs_run(b);
	const struct evs_event *g3 = evs_last(b, 3, 31, CL_NODE_EV_GRANTED, "x");
	const struct evs_event *r4 = evs_last(b, 4, 41, CL_NODE_EV_REVOKED, "x");

	char lost[64] = "";
	size_t off = 0;
	for (uint32_t id = 1; id <= 5; id++) {
		char v[16] = "";
		uint64_t ver = 0;
		if (evs_read(b, id, "x", "k", v, sizeof(v), &ver) != 0 || strcmp(v, "v4") || ver < ver4)
			off += (size_t)snprintf(lost + off, sizeof(lost) - off, " %u", id);
	}
	safety_expect(&s, !off,
		      "x/k = v4 (version %" PRIu64 "), acknowledged to node 4's client at t=%s in the "
		      "quorate ring {3,4,5}, is gone after the merge on nodes%s: the merge loaded the "
		      "minority's state (node 1 announced q_lsn %" PRIu64 " lsn %" PRIu64 ", node 3 q_lsn %"
		      PRIu64 " lsn %" PRIu64 ")",
		      ver4, evs_t(acked_at), lost, a1->q_lsn, a1->lsn, a3->q_lsn, a3->lsn);
	/* all clocks agree in this schedule: global and node times are one */
	bool early = g3 && (g3->at < evs_page(b, 4) || (r4 && g3->at < r4->ev.deadline));
	if (early)
		safety_expect(&s, false,
			      "node 3's client 31 is granted x (epoch %" PRIu64 ") at t=%s, %s after the "
			      "merge, while node 4's client 41 (epoch %" PRIu64 ") %s: lease_valid() = %d, "
			      "page valid until %s%s%s",
			      g3->ev.epoch, evs_t(g3->at), evs_t(g3->at - heal), epoch4,
			      r4 ? "was revoked by the merge but not given any time" : "still holds it",
			      evs_lease_valid(b, 4, 41, "x"), evs_t(evs_page(b, 4)),
			      r4 ? ", revoke deadline " : "", r4 ? evs_t(r4->ev.deadline) : "");
	safety_expect_checks(&s, true, false);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(merge_loads_minority_state);
}
