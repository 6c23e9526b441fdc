/*
 * lease_valid_after_revoke - issue 7, defect 4: corolease_lease_valid()
 * says yes after a revoke.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7): "client 1 on node 1 holds x and loops 'lease_valid,
 * write' without dispatching; node 1's votequorum flaps; the client is
 * revoked and the page goes to 0; client 9 takes y and the page moves
 * forward; node 2 gets x; client 1 reads lease_valid(x) = 1 from then on."
 *
 * Here: three nodes.  Node 1's client 1 holds x, then stops dispatching (it
 * is busy writing, checking lease_valid() before each write).  Node 1's
 * votequorum says "not quorate" and then "quorate" again for the same ring,
 * with no CPG change.  Node 1's client 9 takes y; the node-wide validity is
 * in the future again (a precondition: the schedule needs it).  Node 2's
 * client 2 waits for x and gets it once node 1 gives x up (client 1 never
 * releases: node 1 hands x over at client 1's revoke deadline).
 *
 * The safe outcome: from the revoke on, client 1's lease_valid(x) is 0,
 * without a dispatch -- in particular after the page moves forward for
 * another lease, and when node 2 holds x.
 *
 * The defect was in the client page, not in the agent: a revoke reached a
 * client only through its event queue (CL_NODE_EV_REVOKED), and what it
 * could read without dispatching was one node-wide deadline, which the next
 * delivery of any own message while quorate moves forward again (here
 * already node 1's QUORUM message when votequorum comes back).  The page
 * rework (daemon and library, done apart from core/) gives each client hold
 * a slot in the shared page that the daemon clears the moment the agent
 * reports REVOKED, next to the node-wide valid_until.
 *
 * Status: passes against the bus's model of the reworked page
 * (EVS_PAGE_PER_HOLD, the default; tests/support/evsbus.h "Clients"): it
 * checks that the agent reports REVOKED at the revoke itself, so that the
 * daemon can clear the slot before the page moves forward.  It says nothing
 * about the daemon and library code itself; their own tests must show that
 * they clear the slot at once and that corolease_lease_valid() reads it.
 *
 * Shown to notice the defect: with the node-wide page of the library before
 * the rework, EVSBUS_PAGE=node-wide, it fails with exit 1: client 1's
 * lease_valid(x) is 1 again from node 1's QUORUM delivery on, and still 1
 * when node 2's client 2 holds x (two owners).
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

START_TEST(lease_valid_after_revoke)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);

	PRECONDITION(evs_acquire(b, 1, 1, "x", CL_MODE_EX, 0, 0) == 0, "client 1 asks for x");
	evs_run(b);
	PRECONDITION(evs_lease_valid(b, 1, 1, "x"), "client 1 holds x");
	evs_client_dispatching(b, 1, 1, false);    /* "lease_valid, write" in a loop, no dispatch */
	evs_advance(b, evs_now(b) + SEC / 2);

	evs_note(b, "node 1's votequorum flaps");
	evs_quorum(b, 1, false);
	evs_run(b);
	const struct evs_event *rv = evs_last(b, 1, 1, CL_NODE_EV_REVOKED, "x");
	PRECONDITION(rv != NULL, "the flap revokes client 1's hold on x");
	uint64_t revoked_at = rv->at;
	bool v_revoked = evs_lease_valid(b, 1, 1, "x");
	uint64_t page_revoked = evs_page(b, 1);
	evs_advance(b, evs_now(b) + 50 * MS);
	evs_quorum(b, 1, true);
	evs_run(b);
	bool v_back = evs_lease_valid(b, 1, 1, "x");
	uint64_t page_back = evs_page(b, 1), t_back = evs_now(b);
	evs_advance(b, evs_now(b) + 50 * MS);

	PRECONDITION(evs_acquire(b, 1, 9, "y", CL_MODE_EX, 0, 0) == 0, "client 9 asks for y");
	evs_run(b);
	PRECONDITION(evs_last(b, 1, 9, CL_NODE_EV_GRANTED, "y") != NULL, "client 9 gets y");
	bool v_y = evs_lease_valid(b, 1, 1, "x");
	uint64_t page_y = evs_page(b, 1), t_y = evs_now(b);
	PRECONDITION(page_y > evs_node_now(b, 1), "node 1's validity page is in the future again "
		     "(page %s at t=%s)", evs_t(page_y), evs_t(t_y));

	PRECONDITION(evs_acquire(b, 2, 2, "x", CL_MODE_EX, CL_ACQ_WAIT, 0) == 0, "node 2 waits for x");
	evs_run(b);
	evs_advance(b, revoked_at + c.node.revoke_timeout_us + SEC / 10);
	const struct evs_event *g2 = evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "x");
	bool v_x2 = evs_lease_valid(b, 1, 1, "x");
	uint64_t t_x2 = g2 ? g2->at : evs_now(b), e_x2 = g2 ? g2->ev.epoch : 0;
	evs_advance(b, evs_now(b) + 5 * SEC);
	bool v_later = evs_lease_valid(b, 1, 1, "x");

	fprintf(stderr, "client 1's lease_valid(x): %d after the revoke at t=%s (page %s), %d after "
		"client 9 took y at t=%s (page %s), %d when node 2 %s x at t=%s (epoch %" PRIu64
		"), %d at t=%s\n", v_revoked, evs_t(revoked_at), evs_t(page_revoked), v_y, evs_t(t_y),
		evs_t(page_y), v_x2, g2 ? "got" : "still waited for", evs_t(t_x2), e_x2, v_later,
		evs_t(evs_now(b)));
	safety_expect(&s, !v_revoked, "client 1's lease_valid(x) = 1 right after its revoke at t=%s",
		      evs_t(revoked_at));
	safety_expect(&s, !v_back,
		      "client 1's lease_valid(x) = 1 again at t=%s, after its revoke at t=%s: when "
		      "votequorum came back, node 1's own QUORUM delivery moved the validity page from "
		      "%s to %s",
		      evs_t(t_back), evs_t(revoked_at), evs_t(page_revoked), evs_t(page_back));
	safety_expect(&s, !v_y,
		      "client 1's lease_valid(x) = 1 at t=%s, after client 9 took y: the page is at %s",
		      evs_t(t_y), evs_t(page_y));
	safety_expect(&s, !v_x2 && !v_later,
		      "client 1's lease_valid(x) = %d when node 2's client 2 %s x at t=%s (epoch %"
		      PRIu64 ") and = %d at t=%s",
		      v_x2, g2 ? "got" : "still waited for", evs_t(t_x2), e_x2, v_later,
		      evs_t(evs_now(b)));
	safety_expect_checks(&s, true, false);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(lease_valid_after_revoke);
}
