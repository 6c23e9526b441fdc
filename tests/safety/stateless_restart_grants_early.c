/*
 * stateless_restart_grants_early - issue 7, "Stateless restarts": a
 * majority formed of restarted, empty nodes grants at once.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Issue 7: "The simulator today stops checking safety in 'fork' seeds (a
 * majority formed by restarted empty nodes).  Remove that rule: a node that
 * starts with no state and can sync from nobody must not grant until a
 * grace period (at least fence_delay) has passed, like NFS lock recovery."
 *
 * Here: three nodes.  Node 1's client 1 holds x (lease_valid() = 1, renewed
 * by heartbeats).  Nodes 2 and 3 crash (corosync and daemon) and node 1's
 * link to them fails at the same moment; 0.3 s later 2 and 3 are back with
 * no state and, unable to reach node 1, form a ring of their own -- quorate,
 * 2 of 3.  Nobody in it has state, so they start an empty machine, and node
 * 2's client 2 asks for x.  Node 1 cannot notice anything before its token
 * timeout.  (The restarted nodes need no failure detection: they are in no
 * ring.  With a slower restart the overlap shrinks to node 1's revoke
 * grace, which the fence delay covers for orphans and nothing covers here.)
 *
 * The safe outcome: the empty lineage does not grant x while node 1's
 * client may still use it -- more generally, not before a grace of at
 * least the fence delay -- and it never hands out an epoch that the lost
 * lineage already used.
 *
 * Status: passes since fresh state starts in a grace period: when no
 * member of a ring has state, the members create the empty machine with
 * cl_sm_start_grace(), and it grants nothing until the GRACE_END each of
 * them sends a fence delay later (core/node_sync.c start_fresh(),
 * core/lease.c grant_block(); doc/state-machine.md "Fresh state and the
 * grace period").  Node 2's ACQUIRE is refused with COROLEASE_EGRACE.  Its
 * epochs would be above the lost lineage's anyway: the empty machine's
 * first term is the ring {2,3}, later than every ring before it.
 *
 * Shown to notice the defect: there is no test plant for the grace period.
 * Reverting locally its start -- in core/node_sync.c start_fresh(), no
 * cl_sm_start_grace(n->sm, &n->ring) -- makes it fail with exit 1: the ring
 * {2,3} grants x to node 2's client at the moment it forms, while node 1's
 * client holds x with lease_valid() = 1 (two owners).
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

START_TEST(stateless_restart_grants_early)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);

	PRECONDITION(evs_acquire(b, 1, 1, "x", CL_MODE_EX, 0, 0) == 0, "node 1 asks for x");
	evs_run(b);
	const struct evs_event *g1 = evs_last(b, 1, 1, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g1 != NULL, "node 1's client 1 holds x");
	evs_advance(b, evs_now(b) + 2 * SEC);
	PRECONDITION(evs_lease_valid(b, 1, 1, "x"), "heartbeats keep node 1's client valid");

	uint64_t t0 = evs_now(b);
	evs_note(b, "nodes 2 and 3 crash; node 1's link to them fails");
	evs_crash(b, 2);
	evs_crash(b, 3);
	evs_advance(b, t0 + 300 * MS);
	evs_restart(b, 2);
	evs_restart(b, 3);
	EVS_FORM(b, EVS_N(2) | EVS_N(3));
	evs_run(b);
	fprintf(stderr, "restarted ring {2,3}: synced %d, machine quorate %d\n",
		cl_node_synced(evs_agent(b, 2)), cl_sm_quorate(cl_node_sm(evs_agent(b, 2))));
	PRECONDITION(cl_node_synced(evs_agent(b, 2)) && cl_sm_quorate(cl_node_sm(evs_agent(b, 2))),
		     "the restarted ring {2,3} has (empty) state and is quorate");
	PRECONDITION(evs_acquire(b, 2, 2, "x", CL_MODE_EX, 0, 0) == 0, "node 2 asks for x");
	evs_run(b);
	const struct evs_event *g2 = evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "x");
	const struct evs_event *d2 = evs_last(b, 2, 2, CL_NODE_EV_DENIED, "x");
	if (d2)
		fprintf(stderr, "node 2's client 2 is refused x: err %d\n", d2->ev.err);
	bool v1 = evs_lease_valid(b, 1, 1, "x");
	uint64_t page1 = evs_page(b, 1);

	/* node 1 notices token + consensus after the break, alone */
	evs_advance(b, t0 + c.token_us + c.consensus_us);
	EVS_FORM(b, EVS_N(1));
	evs_run(b);

	fprintf(stderr, "node 1 client 1 holds x epoch %" PRIu64 "; crash at t=%s; restarted ring {2,3} "
		"at t=%s; node 2's client 2 %s x%s%s; node 1's client lease_valid(x) = %d (page %s)\n",
		g1->ev.epoch, evs_t(t0), evs_t(t0 + 300 * MS), g2 ? "granted" : "not granted",
		g2 ? " at t=" : "", g2 ? evs_t(g2->at) : "", v1, evs_t(page1));
	safety_expect(&s, !g2 || g2->at >= t0 + 300 * MS + c.node.fence_delay_us,
		      "the restarted, empty ring {2,3} granted x to node 2's client 2 (epoch %" PRIu64
		      ") at t=%s, %s after it formed with no state (grace: fence delay %s s), while "
		      "node 1's client 1 still holds x (epoch %" PRIu64 ", lease_valid() = %d, page "
		      "valid until %s)",
		      g2 ? g2->ev.epoch : 0, g2 ? evs_t(g2->at) : "-",
		      g2 ? evs_t(g2->at - (t0 + 300 * MS)) : "-", evs_t(c.node.fence_delay_us),
		      g1->ev.epoch, v1, evs_t(page1));
	safety_expect_checks(&s, true, true);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(stateless_restart_grants_early);
}
