/*
 * sim.h - corolease-sim: a deterministic discrete-event simulation of a
 * corolease cluster (the corosync vqsim idea).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * One process hosts N (2..7) real struct cl_node instances (which run the
 * real lease.c / index.c / wire.c) and connects them through a simulated
 * CPG bus that models totem's extended virtual synchrony:
 *
 *  - nodes form components (rings); a multicast in a stable component gets a
 *    total-order position and is delivered to every member at the same
 *    simulated time, self-delivery included;
 *  - a fault (crash, pause, partition, heal, restart, resume) breaks the
 *    components it touches: they deliver nothing and hold new sends until,
 *    a token timeout later, new components form.  Each member of a new
 *    component first delivers the old ring's pending messages whose sender
 *    is in its new component (transitional delivery), then gets the
 *    configuration change and the votequorum verdict, then its held
 *    messages are sent in the new ring;
 *  - a paused node processes nothing; on resume it delivers its old ring's
 *    pending messages, learns it is alone (singleton ring, not quorate) and
 *    merges back a token timeout later;
 *  - a daemon stopped alone (its corosync runs) stays in its ring and group;
 *    what corosync hands it waits, in order, until it runs again.
 *
 * Simulated clients on every node drive random lease and index workloads and
 * the simulator checks, after every event, the invariants listed in sim.c's
 * header comment.  Everything random comes from one seeded PRNG, so a seed
 * replays exactly (--seed S --verbose).
 *
 * Everything here is private to the simulator; nothing in lockd/ includes it.
 */
#ifndef COROLEASE_SIM_H
#define COROLEASE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

#define SIM_MIN_NODES         2
#define SIM_MAX_NODES         7
#define SIM_MAX_NAMES         8   /* lease names in play: few, so contention is high */
#define SIM_MAX_KEYS          4   /* index keys per name */
#define SIM_CLIENTS_PER_NODE  3   /* most client slots a node has */
#define SIM_MAX_CLIENTS       (SIM_MAX_NODES * SIM_CLIENTS_PER_NODE)
#define SIM_BURST_MAX         64  /* short-lived clients of one burst (--scenario minority-burst) */
#define SIM_MAX_COMPS         (2 * SIM_MAX_NODES + 2)
#define SIM_TRACE_LINES       40  /* trace lines kept for a violation report */
#define SIM_TRACE_WIDTH       240

/*
 * A scenario biases the fault schedule toward one dangerous shape; without
 * one (the default) every seed runs exactly as it always has.
 */
enum sim_scenario {
	SIM_SC_NONE = 0,
	/*
	 * A node's burst of requests, batched into one CPG message, is in flight
	 * when the ring splits; only the burst's side delivers it (in the old
	 * ring's transitional configuration, its machine still quorate); the
	 * quorate side grants and acknowledges writes; the split heals within a
	 * heartbeat or two.  The shape of issue 7's defect 1 (--plant no-term).
	 */
	SIM_SC_MINORITY_BURST,
	/*
	 * CPG's asymmetric view of one change (sim.c's fault_skip()): some
	 * nodes form a ring of their own for a moment while the rest of their
	 * ring skip it, in gather, and go straight into the next ring with
	 * everyone; those see a new ring with the same members, no one left or
	 * joined.  The shape of the liveness bug d0b10b9 fixed (a round only
	 * one side asked for).
	 */
	SIM_SC_ASYM_VIEW,
};

/* What the command line asks for. */
struct sim_opts {
	uint64_t seeds;          /* how many seeds to run */
	uint64_t start;          /* first seed */
	unsigned nodes;          /* 0 = random per seed in SIM_MIN_NODES..SIM_MAX_NODES */
	unsigned plant;          /* CL_UNSAFE_* flags set on every node */
	unsigned scenario;       /* enum sim_scenario */
	unsigned jobs;           /* worker processes */
	bool verbose;            /* print the whole trace (use with one seed) */
	bool expect;             /* --expect-violation: succeed iff a safety invariant (b, c, d) breaks */
	bool keep_going;         /* --keep-going: one line per violating seed, run every seed */
	bool strict_trans;       /* acks made in a minority's transitional delivery must survive too */
	bool digest;             /* print one behaviour digest line per seed */
	bool self_check;         /* --self-check: what the checks cache or skip is verified afresh */
	bool congest_unbatched;  /* congestion faults in seeds without batching too */
	bool self_first;              /* a sender delivers its own messages first (--self-first) */
	bool no_dstop;           /* --no-dstop: no daemon stopped alone (the fault mix before it) */
	unsigned watch;          /* --watch: trace this name's holders everywhere (SIM_MAX_NAMES: none) */
	uint64_t key_salt;       /* --key-salt: into every node's table key (cl_sm_config.table_key) */
};

/* Invariant identifiers used in reports. */
enum sim_inv {
	SIM_OK = 0,
	SIM_INV_STATE = 'a',     /* synced ring members at one lsn have one state */
	SIM_INV_OWNER = 'b',     /* no EX owner overlapping another node's owner */
	SIM_INV_EPOCH = 'c',     /* epochs clients use follow machine grant order */
	SIM_INV_INDEX = 'd',     /* acknowledged index writes survive */
	SIM_INV_LIVE = 'e',      /* requests are answered in bounded time */
	SIM_INV_CONVERGE = 'f',  /* after healing: one ring, all synced, same state */
	SIM_INV_PROTO = 'x',     /* agent broke its interface contract (node.h) */
};

/* The outcome of one seed. */
struct sim_result {
	uint64_t seed;
	uint64_t events;         /* events processed */
	uint64_t sim_us;         /* simulated time covered */
	enum sim_inv inv;        /* first (hard) violation, SIM_OK if none */
	uint64_t inv_event;      /* event number at which it was seen */
	char desc[512];
	uint64_t soft;           /* violations of other invariants ignored in --expect-violation mode */
	/* statistics for the summary */
	uint64_t faults, grants, index_acks, trans_acks, forks, batches;
	uint64_t eagains, revokes, kills;
	uint64_t bursts;         /* minority-burst: the scenario's bursts (and splits) */
	uint64_t skips;          /* asym-view: interim rings that the rest of their ring skipped */
	uint64_t dstops;         /* daemons stopped alone (fault_dstop()) */
	uint64_t dstop_grants, dstop_acks, dstop_syncs; /* answered meanwhile: note_dstop_answer() */
};

#endif /* COROLEASE_SIM_H */
