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
 * Here: node 1 batches, as lockd/cpg.c does, so the 11 ACQUIREs (names
 * m00..m10, not x) are one CPG message; only node 1 has it when the ring
 * breaks, so {1,2} deliver it transitionally and {3,4,5} never do.  {3,4,5}
 * forms quorate; node 4's client 41 gets x, puts x/k and its INDEX_DONE
 * arrives; then it keeps writing without dispatching (a busy client).  The
 * network heals at once: one ring {1..5}, a sync round.  Node 3's client 31
 * then asks for x.
 *
 * The safe outcome: the acknowledged write x/k survives on every node, and
 * node 3 is not granted x while node 4's client may still use it (its
 * lease_valid() says yes, or it was revoked and its revoke deadline has not
 * passed).
 *
 * Why it fails today: the transitional deliveries are applied while {1,2}'s
 * machine still believes it is quorate (no confchg yet), and lease.c's
 * cl_sm_apply() raises q_lsn for every input applied while quorate, so
 * {1,2}'s q_lsn grows by 11 -- more than {3,4,5}'s short quorate run adds
 * (confchg, 3 QUORUM, ACQUIRE, INDEX_PUT, the confirming NOP).  node.c's
 * sync_decide() picks the winner by raw (q_lsn, lsn), so node 1 sends its
 * snapshot and 3, 4, 5 load it: x/k is gone, node 4's hold on x is dropped
 * by reconcile() (a revoke, but no fence wait anywhere) and x is free, so
 * node 3 is granted x at once, inside node 4's validity and revoke deadline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "index.h"
#include "safety.h"

START_TEST(merge_loads_minority_state)
{
	struct evs_bus *b = safety_minority_batch("m000", 11, false);
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
	uint64_t heal = evs_now(b);
	evs_note(b, "the network heals");
	EVS_FORM(b, EVS_N(1) | EVS_N(2) | EVS_N(3) | EVS_N(4) | EVS_N(5));
	evs_run(b);
	for (uint32_t id = 1; id <= 5; id++)
		PRECONDITION(cl_node_synced(evs_agent(b, id)), "node %u synced after the merge", id);
	const struct evs_announce *a1 = evs_announce(b, 3, 1), *a3 = evs_announce(b, 3, 3);
	struct cl_node_counters c3;
	cl_node_counters(evs_agent(b, 3), &c3);
	fprintf(stderr, "merge at t=%s: node 1 announced q_lsn %" PRIu64 " lsn %" PRIu64
		", node 3 q_lsn %" PRIu64 " lsn %" PRIu64 "; node 3 loaded %" PRIu64 " snapshot(s)\n",
		evs_t(heal), a1->q_lsn, a1->lsn, a3->q_lsn, a3->lsn, c3.snapshots_loaded);

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
