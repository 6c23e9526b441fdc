/*
 * evsbus.h - test support: an in-process bus that hosts up to EVS_MAX_NODES
 * real struct cl_node agents (core/node.c over core/lease.c, index.c,
 * wire.c) and connects them the way corosync's CPG over totem does, step by
 * step, under the test's control.  Deterministic: no randomness, no real
 * clock.  Used by the safety regression tests in tests/safety/.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * ---- The model (corosync exec/totemsrp.c, exec/cpg.c, exec/votequorum.c) ----
 *
 * Rings.  Every live node is attached to at most one component (a ring) with
 * a ring id {rep, seq}: rep is its lowest member, seq comes from one counter
 * that only grows (by 4, as totem's does).  A multicast is *originated* in
 * the sender's ring: appended to the ring's message list, which is the ring's
 * total order.  At that point only the sender has a copy.
 *
 * Regular delivery (agreed order).  A member delivers its ring's messages in
 * order and without gaps.  evs_deliver_all() (and evs_run() for rings not
 * held) delivers every message to every member, the sender included;
 * evs_deliver_to() delivers to some members only: the others have not
 * received them yet (the network broke right after).
 *
 * A ring breaks (evs_break(), or a pause or crash of a member): from then on
 * it delivers nothing in its regular configuration, and a member's new
 * multicasts are accepted (mcast returns 0) but held in "corosync" until the
 * member is in a new ring, where they are originated after its confchg.
 *
 * New rings (evs_form()).  The test gives the new partition of the nodes it
 * names.  For a member p coming from old ring R, its transitional set T is
 * the members of R that go to the same new ring.  Before its confchg, p
 * delivers, in R's order, every message of R it has not delivered that some
 * member of T has a copy of: totem's recovery makes the members of T
 * exchange what they hold, and memb_state_operational_enter() delivers it
 * skipping the holes (messages_deliver_to_app(skip=1)).  So the members of T
 * deliver the same messages; a message reaches a new ring only if one of its
 * members had it; a sender always delivers its own.  Which side gets a
 * message is decided by who had it: evs_deliver_to() and evs_receive() set
 * that before the break.  CPG passes no transitional configuration: p then
 * gets one confchg (lockd/cpg.c merges the group confchgs with the totem
 * confchg that follows them): members, left = its previous view minus the new
 * members, joined = new members not in its previous view (itself on its
 * first join).  A ring that lost members forms no earlier than token +
 * consensus after it broke (failure detection; evs_form() asserts it), so
 * evs_split() breaks, lets that time pass (ticking every node) and forms.  A
 * merge, where every member of each old ring goes to the new ring, forms at
 * once.
 *
 * votequorum.  A verdict (quorate, ring) is an input of its own
 * (cl_node_quorum).  EVS_VQ_AFTER delivers it right after each confchg,
 * EVS_VQ_BEFORE right before it (with the new ring), EVS_VQ_MANUAL leaves it
 * to evs_quorum(), so the votequorum and CPG views may change at different
 * moments, or votequorum may flap with no ring change.  The automatic verdict
 * is votes > expected / 2 (one vote per node); with two_node and two expected
 * votes, one node is quorate (votequorum's two_node: 1), but only once it has
 * been in a ring with the other since its corosync started (wait_for_all,
 * which two_node turns on).  Every verdict comes with votequorum's modes and
 * vote count, as lockd/main.c passes them: cl_node_quorum_mode(n,
 * CL_QMODE_TWO_NODE) on a two_node bus, 0 otherwise, then cl_node_votes()
 * (one vote per node of the node's votequorum view, quorum expected / 2 + 1,
 * or 1 with two_node), then cl_node_quorum().
 *
 * Batching.  evs_batch(node, true): the node's multicasts collect into one
 * CPG message in the wire.h batch format, built as lockd/cpg.c builds it (a
 * lone message goes bare, a large one alone), originated at evs_flush() or at
 * the start of the next delivery step (the daemon flushes once per loop
 * iteration).  Receivers split it and deliver each part.
 *
 * Paused corosync (evs_pause/evs_resume): the node's daemon runs (it ticks,
 * clients call it), its multicasts are accepted but held, it delivers
 * nothing and gets no confchg or quorum verdict; its ring is broken for the
 * others (the token stops at it).  On resume, if the others are still
 * attached to that ring the token simply goes on; otherwise the node's held
 * messages are originated in the ring it still believes in, and it delivers
 * every message of that ring it has -- its own -- before evs_form() gives it
 * its next (usually singleton) ring.
 *
 * Crash and restart: evs_crash() frees the agent and ends its clients; what
 * others received from it stays deliverable.  evs_restart() makes a new
 * agent (next incarnation) with no state and no ring; its corosync starts
 * again too (wait_for_all applies anew).
 *
 * Fresh state.  When no member of a ring has state, the agents start an
 * empty machine in its grace period and grant nothing until a GRACE_END a
 * fence delay later (core/node_sync.c).  evs_boot() waits that out; a test
 * that wants to see it forms the first ring with evs_form().
 *
 * Time.  One global clock (microseconds) that the test advances; each node's
 * clock is global * (1 + drift_ppm / 1e6) + offset.  evs_advance() moves the
 * clock forward, ticking every node at each of its deadlines
 * (cl_node_next_deadline / cl_node_tick), flushing batches and delivering in
 * the rings that run.
 *
 * Clients.  Every event is recorded per node; a client learns GRANTED and
 * REVOKED only when it dispatches (at once by default;
 * evs_client_dispatching(false) makes it a client that keeps working without
 * dispatching).  evs_lease_valid() is corolease_lease_valid(), read from the
 * daemon's shared page without a dispatch: the node's clock below the
 * node-wide valid_until, which is the latest CL_NODE_EV_VALIDITY value
 * (written at once), and, for the hold itself, as the page is laid out
 * (evs_config.page):
 *  - EVS_PAGE_PER_HOLD (default): the page has a slot per client hold that
 *    the daemon clears the moment the agent reports REVOKED, so a revoked
 *    client sees it without dispatching;
 *  - EVS_PAGE_NODE_WIDE: the page holds valid_until only (libcorolease
 *    before the page rework): the hold counts as revoked once the client
 *    has dispatched the REVOKED.
 * Either way the client must have dispatched GRANTED (it has no lease
 * handle before).
 *
 * Checks after every step (every delivered message, confchg, verdict, tick
 * and client call):
 *  - owner: no two clients on different nodes use one name at the same
 *    global instant in conflicting modes.  A client uses a lease while
 *    evs_lease_valid() says so, and, once revoked, until it releases or its
 *    revoke deadline passes (the contract: revoked clients must be done by
 *    then; every correct hand-over waits for that);
 *  - epoch: a grant that starts a new hold on a name carries an epoch above
 *    every epoch granted on that name before, anywhere (further GRANTED
 *    events of a node's current hold repeat its epoch), unless both are
 *    shared holds: SH holds granted together may reach their clients in
 *    another order than the machine granted them (found by
 *    tests/fuzz/fuzz_sm).
 * The first violation of each is kept with its evidence (evs_violation()).
 *
 * Plants.  To show that a safety test notices the defect it is about, the
 * environment can weaken every bus it runs: EVSBUS_UNSAFE=<flags> ORs
 * CL_UNSAFE_* flags (core/lease.h) into the agents' sm.unsafe_flags, and
 * EVSBUS_PAGE=node-wide selects the node-wide client page.  EVSBUS_TRACE=1
 * prints the trace as it goes.
 *
 * Limits (not modelled): message loss inside a running ring other than by a
 * break; -EAGAIN and flow control; CPG process joins and leaves inside one
 * totem ring (a daemon restart while corosync runs); a restarted node
 * joining a ring whose members still list its previous incarnation (CPG
 * would show a leave first); clocks that stop; more than one CPG group.
 * Names are at most EVS_NAME_MAX bytes.
 */
#ifndef COROLEASE_TEST_EVSBUS_H
#define COROLEASE_TEST_EVSBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node.h"

#define EVS_MAX_NODES   7
#define EVS_MAX_CLIENTS 16      /* per node */
#define EVS_MAX_LEASES  16      /* per client */
#define EVS_NAME_MAX    64
#define EVS_KEY_MAX     32

/* The mask of a node id, for groups: EVS_N(1) | EVS_N(2). */
#define EVS_N(id) (1u << (id))

enum evs_vq_mode {
	EVS_VQ_AFTER = 0,   /* verdict right after each confchg (default) */
	EVS_VQ_BEFORE,      /* verdict for the new ring right before each confchg */
	EVS_VQ_MANUAL,      /* only evs_quorum() */
};

enum evs_page {
	EVS_PAGE_PER_HOLD = 0,  /* per-hold slot cleared on REVOKED, plus valid_until */
	EVS_PAGE_NODE_WIDE,     /* valid_until only; a revoke is seen when dispatched */
};

struct evs_config {
	unsigned nodes;             /* ids 1..nodes, at most EVS_MAX_NODES */
	uint64_t token_us;          /* totem token timeout */
	uint64_t consensus_us;      /* totem consensus timeout */
	uint64_t start_us;          /* global clock at creation */
	enum evs_vq_mode vq;
	unsigned expected_votes;    /* 0: nodes */
	bool two_node;              /* votequorum two_node: 1 (with its wait_for_all) */
	enum evs_page page;         /* the client page's layout (see above) */
	struct cl_node_config node; /* template for every agent; nodeid is set per node */
};

/* A recorded agent event, with copies of its name and key. */
struct evs_event {
	uint64_t at;                /* global time */
	uint64_t node_at;           /* the node's clock */
	struct cl_node_event ev;         /* ev.name / ev.key are NULL: see name, key */
	char name[EVS_NAME_MAX + 1];
	uint8_t key[EVS_KEY_MAX];
};

/* The last SYNC_ANNOUNCE a node delivered from a sender (evidence for merges). */
struct evs_announce {
	bool seen;
	bool has_state;
	struct cl_ring ring;
	struct cl_ring term;        /* the ring in which its state's lineage last became quorate */
	uint64_t lsn, q_lsn, hash;
};

struct evs_bus;

/*
 * Defaults: token 1 s, consensus 1.2 s, start at t = 1 s, verdict after the
 * confchg; agents with validity 1 s (the daemon passes the token timeout),
 * heartbeat 250 ms, revoke timeout 1 s, fence delay validity + revoke + 2 s,
 * handover timeout 3 s, linger 5 s, 4 KiB sync chunks; a per-hold client page.
 */
void evs_config_default(struct evs_config *c, unsigned nodes);

/* Creates the bus and its agents (no ring yet).  Fails the test on error. */
struct evs_bus *evs_new(const struct evs_config *c);
void evs_free(struct evs_bus *b);
/*
 * Forms one ring of every node, runs it until quiet (everyone synced), and
 * waits until the grace period of the fresh state has ended on every node
 * (a fence delay, ticking every node).
 */
void evs_boot(struct evs_bus *b);
/* evs_new() with the default config of nodes (votequorum two_node if asked), then evs_boot(). */
struct evs_bus *evs_new_booted(unsigned nodes, bool two_node);

/* ---- rings ---- */

/* Forms new rings: groups[i] is a mask of node ids (EVS_N).  See above. */
void evs_form(struct evs_bus *b, const uint32_t *groups, size_t ngroups);
#define EVS_FORM(b, ...) \
	evs_form((b), (const uint32_t[]){ __VA_ARGS__ }, \
		 sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
/*
 * Breaks the rings of the named nodes now, advances token + consensus
 * (ticking every node; their sends are held), forms the groups, and runs
 * until quiet.
 */
void evs_split(struct evs_bus *b, const uint32_t *groups, size_t ngroups);
#define EVS_SPLIT(b, ...) \
	evs_split((b), (const uint32_t[]){ __VA_ARGS__ }, \
		  sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
/* Breaks node's ring now (token lost): no more regular delivery in it. */
void evs_break(struct evs_bus *b, uint32_t node);
/* Holds (or releases) automatic delivery in node's ring. */
void evs_ring_hold(struct evs_bus *b, uint32_t node, bool hold);
/*
 * Delivers the messages pending in node's ring now (not those sent meanwhile)
 * to the members in mask, in order; the others have not received them.
 */
void evs_deliver_to(struct evs_bus *b, uint32_t node, uint32_t mask);
/* Delivers node's ring's pending messages to every member until quiet. */
void evs_deliver_all(struct evs_bus *b, uint32_t node);
/* Marks the pending messages of node's ring as received (not delivered) by mask. */
void evs_receive(struct evs_bus *b, uint32_t node, uint32_t mask);
/* The id of the last CPG message node originated (0: none), and who delivered it so far. */
uint64_t evs_last_sent(const struct evs_bus *b, uint32_t node);
uint32_t evs_delivered_by(const struct evs_bus *b, uint64_t msg);
/*
 * The global time msg was originated: the sender agent's send time, unless
 * corosync held it (a broken ring, a pause) or it was batched.
 */
uint64_t evs_msg_at(const struct evs_bus *b, uint64_t msg);
/* Messages originated in node's ring that some member has not delivered. */
size_t evs_pending(const struct evs_bus *b, uint32_t node);
/* node's current ring (its last confchg's ring; {0,0} before any). */
struct cl_ring evs_ring(const struct evs_bus *b, uint32_t node);

/* ---- votequorum ---- */

/* Gives node the verdict quorate for its current ring. */
void evs_quorum(struct evs_bus *b, uint32_t node, bool quorate);
void evs_quorum_ring(struct evs_bus *b, uint32_t node, bool quorate, const struct cl_ring *ring);

/* ---- nodes ---- */

void evs_batch(struct evs_bus *b, uint32_t node, bool on);
/* Originates node's batch now (a CPG message of its own). */
void evs_flush(struct evs_bus *b, uint32_t node);
void evs_pause(struct evs_bus *b, uint32_t node);
void evs_resume(struct evs_bus *b, uint32_t node);
void evs_crash(struct evs_bus *b, uint32_t node);
void evs_restart(struct evs_bus *b, uint32_t node);
void evs_clock(struct evs_bus *b, uint32_t node, int64_t offset_us, int32_t drift_ppm);
struct cl_node *evs_agent(const struct evs_bus *b, uint32_t node);
bool evs_up(const struct evs_bus *b, uint32_t node);

/* ---- time ---- */

uint64_t evs_now(const struct evs_bus *b);
uint64_t evs_node_now(const struct evs_bus *b, uint32_t node);
/* Advances the global clock to t (see above). */
void evs_advance(struct evs_bus *b, uint64_t t);
/* Flushes batches and delivers in every running ring until quiet. */
void evs_run(struct evs_bus *b);

/* ---- clients ---- */

/* Requests: the agent's return code; answers arrive as events. */
int evs_acquire(struct evs_bus *b, uint32_t node, uint64_t client, const char *name,
		uint8_t mode, unsigned flags, uint64_t timeout_us);
int evs_release(struct evs_bus *b, uint32_t node, uint64_t client, const char *name);
int evs_put(struct evs_bus *b, uint32_t node, uint64_t client, const char *name,
	    const char *key, const char *val);
int evs_sync(struct evs_bus *b, uint32_t node, uint64_t client);
int evs_fence_ack(struct evs_bus *b, uint32_t node, uint64_t client, uint32_t target, bool force);
/* Whether client dispatches its events as they come (default true). */
void evs_client_dispatching(struct evs_bus *b, uint32_t node, uint64_t client, bool on);
/* Dispatches client's pending events now. */
void evs_dispatch(struct evs_bus *b, uint32_t node, uint64_t client);
/* corolease_lease_valid() of client's lease on name, now. */
bool evs_lease_valid(const struct evs_bus *b, uint32_t node, uint64_t client, const char *name);
/* The node-wide valid_until of node's page (latest CL_NODE_EV_VALIDITY value). */
uint64_t evs_page(const struct evs_bus *b, uint32_t node);
/* The last event of type for client (0: node-wide) about name (NULL: any), or NULL. */
const struct evs_event *evs_last(const struct evs_bus *b, uint32_t node, uint64_t client,
				 enum cl_node_event_type type, const char *name);
/* Number of events of type for client (0: node-wide; CL_NODE_EV_* 0: any). */
size_t evs_count(const struct evs_bus *b, uint32_t node, uint64_t client, enum cl_node_event_type type);
/* The last SYNC_ANNOUNCE node delivered from sender. */
const struct evs_announce *evs_announce(const struct evs_bus *b, uint32_t node, uint32_t sender);

/* Reads key of name from node's replica: 0 and a copy in val (NUL-terminated), or -ENOENT. */
int evs_read(const struct evs_bus *b, uint32_t node, const char *name, const char *key,
	     char *val, size_t cap, uint64_t *version_r);

/* ---- checks and evidence ---- */

enum evs_check { EVS_CHECK_OWNER, EVS_CHECK_EPOCH };
/* The first violation of that check, or NULL. */
const char *evs_violation(const struct evs_bus *b, enum evs_check which);
/* Adds a line of the test's own to the trace. */
void evs_note(struct evs_bus *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the last lines of the trace (EVSBUS_TRACE=1 prints it as it goes). */
void evs_dump_trace(const struct evs_bus *b, FILE *f, size_t lines);
/* "12.345678": a time in seconds, in one of 8 rotating static buffers. */
const char *evs_t(uint64_t us);

#endif /* COROLEASE_TEST_EVSBUS_H */
