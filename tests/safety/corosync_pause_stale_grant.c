/*
 * corosync_pause_stale_grant - issue 7, defect 5: a corosync pause of about
 * token + consensus gives the paused node stale grants.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7, seen on a real 3-node cluster with token 1000): "one
 * node's corosync SIGSTOPped for 2.2 s; the majority forms a new ring just
 * before it resumes; on SIGCONT its daemon applies its own queued acquires
 * on state it still believes quorate and renews validity.  Result: epoch
 * 1909 granted twice (to node 3 on one name and node 2 on another), an SH
 * grant on node 3 for a name node 2 held EX, and a write on node 3 with
 * lease_valid() == 1 on a name the majority had given away."
 *
 * Here: three nodes, token 1 s, consensus 1.2 s, validity 1 s.  At t0 node
 * 3's corosync is paused; its daemon runs on.  Token + consensus later
 * (t0 + 2.2 s) nodes 1 and 2 form a ring without it, quorate, and node 2's
 * client 2 takes x in EX.  At t0 + 2.25 s node 3's client 7 asks for x in
 * SH: node 3 still believes its old ring and its quorum (it has heard
 * nothing), so the agent sends an ACQUIRE, which the paused corosync
 * accepts and holds.  At t0 + 2.3 s corosync resumes: it still has the
 * token of the old ring, originates the held ACQUIRE there and delivers it
 * to node 3 alone -- before node 3 learns, a little later, that it is
 * alone (singleton ring, not quorate).
 *
 * The safe outcome: node 3 grants its client nothing usable from that
 * delivery (x is node 2's, in EX), and its validity is not renewed past
 * what the ring it last saw alive can vouch for: every message node 3
 * delivered in that ring's regular configuration was sent before t0, so no
 * page later than t0 + validity is justified -- and t0 + validity <= t0 +
 * token, before {1,2} can form without it.  (Until the validity anchor, the
 * safe outcome was stated as "the page does not move past its value at the
 * pause"; under the anchor rule a held heartbeat delivered on resume may
 * confirm the send time of the last message delivered before the pause,
 * which moves the page, but not past t0 + validity: here from 6.25 to 6.5
 * with t0 = 5.5, both in the past by then.)
 *
 * Status: passes since validity is renewed to the anchor -- the send time
 * of the own message delivered before the one now delivered was sent, with
 * no configuration change between -- instead of the delivered message's
 * own send time (core/node.c anchor_of(), renew(); doc/state-machine.md
 * "The validity anchor").  The held ACQUIRE was sent at t0 + 2.25 s, but
 * it, like every heartbeat held with it, confirms only the send time of the
 * last own message delivered before it was sent -- one delivered before the
 * pause, sent at t0 at most; the page stays in the past, the agent does not
 * trust the grant, and client 7 is not granted.
 *
 * Shown to notice the defect: with the plant CL_UNSAFE_ANCHOR_OWN (renew
 * from the delivered message's own send time), EVSBUS_UNSAFE=0x20, it fails
 * with exit 1: node 3's page jumps to t0 + 3.25 s and client 7 is granted x
 * SH while node 2's client 2 holds x EX (two owners).
 */
#include <inttypes.h>
#include <stdio.h>

#include "safety.h"

START_TEST(corosync_pause_stale_grant)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);
	evs_advance(b, evs_now(b) + SEC / 2);

	uint64_t t0 = evs_now(b);
	uint64_t page_at_pause = evs_page(b, 3);
	evs_note(b, "node 3's corosync is SIGSTOPped");
	evs_pause(b, 3);
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2));
	uint64_t formed = evs_now(b);
	PRECONDITION(cl_sm_quorate(cl_node_sm(evs_agent(b, 2))), "{1,2} is quorate without node 3");
	PRECONDITION(evs_acquire(b, 2, 2, "x", CL_MODE_EX, 0, 0) == 0, "node 2 asks for x");
	evs_run(b);
	const struct evs_event *g2 = evs_last(b, 2, 2, CL_NODE_EV_GRANTED, "x");
	PRECONDITION(g2 != NULL, "node 2's client 2 holds x in EX");

	evs_advance(b, t0 + 2250 * MS);
	PRECONDITION(evs_acquire(b, 3, 7, "x", CL_MODE_SH, 0, 0) == 0,
		     "node 3 (corosync paused) takes its client's acquire of x");
	evs_advance(b, t0 + 2300 * MS);
	evs_note(b, "node 3's corosync is SIGCONTed");
	evs_resume(b, 3);
	uint64_t resumed = evs_now(b);
	uint64_t page_after = evs_page(b, 3);
	const struct evs_event *g3 = evs_last(b, 3, 7, CL_NODE_EV_GRANTED, "x");
	bool v3 = evs_lease_valid(b, 3, 7, "x"), v2 = evs_lease_valid(b, 2, 2, "x");
	evs_advance(b, resumed + 100 * MS);
	EVS_FORM(b, EVS_N(3));
	evs_run(b);
	PRECONDITION(!cl_sm_quorate(cl_node_sm(evs_agent(b, 3))), "node 3 alone is not quorate");

	fprintf(stderr, "pause at t=%s, {1,2} formed at t=%s, node 2 got x EX epoch %" PRIu64
		" at t=%s; resume at t=%s: node 3 page %s -> %s, client 7 %s\n", evs_t(t0),
		evs_t(formed), g2->ev.epoch, evs_t(g2->at), evs_t(resumed), evs_t(page_at_pause),
		evs_t(page_after), g3 ? "GRANTED x SH" : "not granted");
	safety_expect(&s, !(g3 && v3),
		      "node 3's client 7 was granted x SH (epoch %" PRIu64 ") at t=%s from its own "
		      "ACQUIRE, delivered in the ring nodes 1 and 2 left at t=%s, while node 2's client 2 "
		      "holds x EX (epoch %" PRIu64 ", lease_valid() = %d): client 7's lease_valid() = %d",
		      g3 ? g3->ev.epoch : 0, g3 ? evs_t(g3->at) : "-", evs_t(formed), g2->ev.epoch, v2,
		      v3);
	safety_expect(&s, page_after <= t0 + c.node.validity_us,
		      "node 3 renewed its validity from %s to %s at t=%s, past t0 + validity = %s, from "
		      "messages sent into a paused corosync (at t=%s the ACQUIRE) and delivered after "
		      "the others had formed a ring without it (t=%s)",
		      evs_t(page_at_pause), evs_t(page_after), evs_t(resumed),
		      evs_t(t0 + c.node.validity_us), evs_t(t0 + 2250 * MS), evs_t(formed));
	safety_expect_checks(&s, true, true);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(corosync_pause_stale_grant);
}
