/*
 * sim.c - corolease-sim, the deterministic cluster simulator (see sim.h).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Invariants, checked as the run goes (the first hard violation ends the seed
 * and prints the last trace lines; a seed replays exactly with --verbose):
 *
 *  a  state:    members of one ring that are synced and at the same lsn
 *               have equal machine stats (after every event that reached an
 *               agent) and equal cl_sm_hash() (at the periodic checks: a
 *               divergence lasts until a sync round, which needs a join)
 *  b  owner:    no client acts as EX owner of a name while a client on
 *               another node acts as any owner of it   (after every event)
 *  c  epoch:    a client's GRANTED epoch is the one its node's machine
 *               granted that node, and among epochs clients use, machine
 *               grant order is epoch order (grants of one input share an
 *               instant and need only differ)               (at GRANTED)
 *  d  index:    every acknowledged write (INDEX_DONE err 0) is visible on
 *               every live, synced node of a stable quorate ring, unless a
 *               later write to that key or an eviction of the name was
 *               applied somewhere, before the ack or after it
 *                                          (periodically and at the end)
 *  e  liveness: a request on a node that stayed in a stable quorate ring
 *               is answered within a bound derived from the timeouts (an
 *               acquire without WAIT: within 2 T, NOWAIT_T),
 *               counted from the request, that ring's forming or the last
 *               fault anywhere, whichever is latest (not while the node is
 *               unsynced and a daemon of its ring's group is stopped
 *               alone: the round needs it); and a synced member of
 *               a stable ring whose members' daemons have all read a
 *               quorate verdict for it sees its machine quorate within that
 *               bound (a DENY NOQUORUM answers a request, so the first
 *               part alone misses a machine stuck non-quorate); and a
 *               live daemon in the group of a running ring is synced
 *               within 4 T of joining it, the ring's forming or the last
 *               fault (check_synced(): the request bound is far longer
 *               than the time between faults, which resync a stuck node),
 *               unless a daemon of that group is stopped alone (a daemon's
 *               resume is a fault: the bounds count from it)
 *                                                            (periodically)
 *  f  converge: after the faults stop and everything heals: one ring, all
 *               synced, one state, d holds everywhere, every request answered
 *  x  proto:    the agent kept its node.h contract (answers only to requests
 *               outstanding, a WAIT acquire never refused EBUSY, no events
 *               after cl_node_client_gone(), no tick
 *               storm, -EALREADY only when deserved, ...), and each lease's
 *               hold moved only along the legal transitions of its state
 *               machine (core/node_hold.c): its illegal_transitions counter
 *               never rises                                (after every event)
 *
 * A client "acts as owner" of a name from receiving GRANTED until it
 * releases or receives REVOKED, and only while now < valid_until (from
 * GRANTED and CL_NODE_EV_VALIDITY).  Straggler clients (a per-seed fraction) keep
 * acting a while after a stop signal -- work they had started: at most
 * revoke_timeout / 2 past valid_until, and never past their revoke deadline.
 * The fence delay (>= validity + revoke timeout) is what covers them, and
 * they are what makes --plant no-orphan-wait visible.
 *
 * Model decisions worth knowing when reading a trace:
 *  - T, the delay between a fault and the new rings ("token timeout"),
 *    stands for token timeout plus consensus; validity_us <= T.  A validity
 *    longer than that lets a grant the majority never saw (self-delivered
 *    just before a partition) outlive the majority's re-grant;
 *  - an INDEX_DONE(0) made while a node delivers transitional messages on
 *    its way into a non-quorate ring is counted but not required to survive:
 *    only that minority applied the write (EVS allows it).  core/node_out.c
 *    therefore confirms a write before answering it, and such an ack is
 *    required to survive like any other (--lax-trans relaxes that);
 *  - without persistence, a majority can form with none of the latest
 *    state (its replicas crashed or are cut off), or a daemon restarts with
 *    no state and nobody to sync from.  When a quorate ring forms, or a
 *    fresh machine is made, and lacks some acknowledged write (for a fresh
 *    machine: no live replica has it, checked again when it leaves its
 *    grace period), the seed is counted as a fork and only those writes
 *    leave d's oracle: no journal keeps what every replica of a quorate
 *    lineage lost.  Every other
 *    invariant stays on: b and c must hold across forks (the fresh state's
 *    grace period, terms, and the fence wait of holds a merge drops), and d
 *    holds for every other write;
 *  - agent events reach clients through a per-client FIFO "IPC" with 10..40
 *    us latency; client calls reach the agent at once, or when it resumes;
 *  - totem and CPG apart: a ring's totem members are running corosyncs, its
 *    CPG group the daemons that joined in it.  A daemon that dies while its
 *    corosync runs leaves the group at once (a group change ordered with
 *    the messages, same ring id), and its restart joins the same way; a
 *    restarted corosync or daemon joins only after the others saw the
 *    previous one leave.  A ring that loses a member re-forms T after it
 *    broke; a merge or a join takes join_us (T/20..T/4);
 *  - with --self-first, a sender delivers its own message when it sends it
 *    (lat_min / 2 later, if it has delivered everything before it), as
 *    totem's agreed delivery lets it, before the others have it; at a break
 *    each member has delivered, in the regular configuration, the run of
 *    undelivered messages it had received.  So a node can apply its own
 *    write and a later message of its own, then be cut off from a majority
 *    that never gets either (core/node_out.c's WRITE_ACK).  Without it every
 *    member delivers a message at the same instant;
 *  - at a break each undelivered message was received by its sender's
 *    corosync and by each other member with probability rcv_ppm; a member
 *    of a new ring delivers transitionally, in the old order, what some
 *    member of its transitional set had, so one side, both or neither may
 *    apply a message.  Partitions often heal within two heartbeats of the
 *    new rings forming (quick_heal_ppm);
 *  - a corosync stall (SIGSTOP of corosync alone): the daemon runs on, its
 *    sends are accepted and held, and the ring breaks for the others.  A
 *    paused or stalled node whose ring re-formed without it wakes believing
 *    in its dead ring: it delivers to itself alone, transitionally, what it
 *    had received there and then what its corosync held when it woke, then
 *    gets a singleton ring; what the daemon sends meanwhile waits for that;
 *  - batching (in 80% of seeds): as lockd/cpg.c, an agent's sends within
 *    one loop iteration -- one event, or batch_window (up to 10 ms) of a
 *    busy daemon -- go out as one CPG message in the wire.h batch format,
 *    split with cl_batch_split() on delivery; a refused flush is retried
 *    1 ms later.  corosync refuses sends at random (eagain_ppm) and, in
 *    congestion faults, for up to T/3 at a time (only in batching seeds:
 *    see fault_congest());
 *  - clocks: every node's daemon reads its own clock (CLOCK_BOOTTIME):
 *    a random offset and a drift of up to drift_ppm (0 or 20..500 ppm per
 *    seed); validity is drawn at most T minus three times the drift's worth.
 *    Pauses are of the daemon and corosync alone (its clients and clock run
 *    on), a suspend (the whole node, clients too, sleeps; CLOCK_BOOTTIME
 *    counts on, so the clock jumps forward on resume), or a VM pause (the
 *    whole node, and its clock stands still).  A stopped clock makes the
 *    node's validity last longer in real time by the stop: that is safe only
 *    within the slack between validity and T, so VM pauses last at most
 *    vm_pause_max = (T - validity - 2 drift) / 2, at most one per 2 T per
 *    node; longer ones need the watchdog and storage-side epoch checks of
 *    doc/state-machine.md, which the simulator does not model.  Every
 *    invariant is judged in real time; the simulator turns node times
 *    (valid_until, deadlines) into real ones only through the node's clock;
 *  - a daemon stopped alone (fault_dstop(): SIGSTOP of coroleased, a hung
 *    daemon; "dstop" in traces) while its corosync runs: the node stays in
 *    its ring, its CPG group and its votequorum; the messages, configuration
 *    changes and votequorum verdicts corosync hands that daemon wait in order
 *    (its dq) and are read when it runs again, with its deferred client
 *    calls and a tick, in random order (node_resume()).  It does not tick,
 *    send or answer clients meanwhile; its clients and its clock run on.
 *    Mostly a few T, some shorter than T, a fifth 6..20 T (a 30 s SIGSTOP);
 *    partitions and crashes can meet it, and the stopped daemon may be killed
 *    (fault_daemon(): kill -9, systemd's watchdog).  The others' grants,
 *    acknowledged writes and sync barriers meanwhile rest on the vote rule
 *    (core/node_out.c votes_suffice()); the summary counts them.  A sync
 *    round needs the stopped daemon: a ring change while it is stopped
 *    leaves its ring unsynced until it resumes (invariant e waits for it).
 *    Its machine stays a replica for the fork rule (oracle_formation());
 *    what waits in its queue does not count there yet.
 *    --no-dstop runs the fault mix, and every seed, as before this fault
 *    existed (the seeds found then replay with it);
 *  - an agent that fails (out of memory, core/node.h) is a daemon crash: the
 *    daemon exits, and systemd restarts it later.  A dying daemon's sends
 *    that corosync held die with it.  The simulator injects no allocation
 *    failures; tests/check_node does.
 *
 * --scenario minority-burst (sc_burst()) makes many of the faults one shape,
 * the schedule of issue 7's defect 1, varied: a node's burst of requests
 * from short-lived clients (SYNC barriers and acquires: the agent sends one
 * ACQUIRE per name) goes out as one batch; the ring splits while it is in
 * flight (or a little before or after); with side_only each side had
 * received only its own side's messages, so only the burst's side delivers
 * it, transitionally, its machine still quorate; the quorate side's clients
 * hurry for a few requests (grants, acknowledged writes); the split heals
 * within two heartbeats of the new rings.  A minority that out-counts the
 * majority's quorate inputs wins the merge if terms are ignored (--plant
 * no-term).  Those seeds are 3..7 nodes, always batch, and run mostly in
 * the standard votequorum mode.  Without the option nothing of it draws from
 * the PRNG: every seed runs as it always did (compare --digest).
 *
 * --scenario asym-view (fault_skip()) makes many of the faults CPG's
 * asymmetric view of one change: a ring's token is lost; a token timeout
 * later some of its nodes (the lossy node alone mostly, else the rest
 * without it, else any proper part) form a ring of their own, see the
 * others leave, and a moment later all form the next ring, in which those
 * see the others join and the others -- which skipped the interim ring --
 * see the same members in a new ring, no one left or joined.  Each side
 * delivers of the old ring's last messages what one of its own side had.
 * Its own stream of seeds too; without it nothing of it draws from the PRNG.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "hash.h"
#include "index.h"
#include "lease.h"
#include "node.h"
#include "wire.h"

#define NEVER UINT64_MAX
#define MS    ((uint64_t)1000)
#define SEC   ((uint64_t)1000000)

/* Default seed count: 'make check' must finish in ~2 minutes on 2 cores. */
#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#endif
#endif
#ifdef SIM_ASAN
#define DEFAULT_SEEDS 4000u
#define BUILD_NOTE    ", ASan build"
#else
#define DEFAULT_SEEDS 10000u
#define BUILD_NOTE    ""
#endif

#define MAX_EVENTS_PER_SEED 20000000ull
#define SIM_VAL_MAX         200    /* longest index value a client writes */
#ifndef NOWAIT_T
#define NOWAIT_T 2
#endif
#define TICK_STORM          2000   /* ticks of one node at one instant */

/* ------------------------------------------------------------------ PRNG */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return res;
}

/* Uniform in [lo, hi] (lo when hi <= lo). */
static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + rng_next(r) % (hi - lo + 1);
}

/* True with probability ppm / 1e6. */
static bool rng_ppm(struct rng *r, uint64_t ppm)
{
	return rng_next(r) % 1000000u < ppm;
}

/* --------------------------------------------------------- data structures */

/*
 * A CPG message, or a change of the CPG group inside a running ring (a
 * daemon's process joins or leaves: grp); shared (refcounted) by every
 * queue that holds it.
 */
struct msg {
	uint32_t refs;
	uint32_t sender;         /* node id */
	uint64_t sender_inc;     /* the sender's (daemon's) incarnation */
	uint64_t sender_cs;      /* the sender's corosync instance */
	uint64_t id;             /* global send order, for traces */
	uint64_t sent;           /* time ops->mcast took it */
	uint32_t rcv;            /* set when its ring breaks: members that had received it */
	uint32_t dlv;            /* members that delivered it ahead of on_deliver(): its
				    sender (on_self()), or at a break (early_deliver()) */
	uint64_t first_at;       /* when some member first delivered it: the instant of
				    its place in the agreed order (invariant c) */
	int8_t grp;              /* 0 a message; GRP_JOIN / GRP_LEAVE of the sender's daemon */
	int8_t batch_ok;         /* a batch: 1 cl_batch_split() took it, -1 refused, 0 not yet split */
	size_t len;
	uint8_t data[];
};

enum { GRP_LEAVE = -1, GRP_JOIN = 1 };

struct msgq_ent {
	struct msg *m;
	uint64_t at;             /* delivery time (in-flight queues) */
};

/* FIFO of messages: entries v[head .. len). */
struct msgq {
	struct msgq_ent *v;
	size_t head, len, cap;
};

/*
 * A totem ring: the corosyncs in mask deliver the same messages in the same
 * order; the daemons in gmask (the CPG group) are the ones that get them.
 */
struct comp {
	bool used;
	bool broken;             /* fault seen: no deliveries, sends held */
	uint64_t gen;            /* bumped on break/unbreak; stale deliveries are dropped */
	struct cl_ring ring;
	uint32_t mask;           /* totem members (node indexes) */
	uint32_t gmask;          /* CPG group members: daemons joined in this ring */
	uint64_t ginc[SIM_MAX_NODES];   /* ... the incarnation of each that joined */
	uint64_t cs_inc[SIM_MAX_NODES]; /* each totem member's corosync instance */
	struct msgq inflight;    /* ordered, not yet delivered (messages and group changes) */
	uint64_t last_at;        /* latest delivery time handed out */
	uint64_t stable_since;   /* NEVER while broken */
	uint64_t broken_at;      /* when it last broke (token lost) */
};

enum call_kind {
	CALL_ACQ = 1, CALL_PUT, CALL_DEL, CALL_SYNC, CALL_EVICT, CALL_FENCE, /* requests */
	CALL_REL, CALL_GONE,
};

/* A client call into the agent, kept while the agent is paused. */
struct call {
	uint8_t kind;
	uint8_t name, key, mode;
	unsigned flags;
	uint32_t target;         /* FENCE: node id */
	uint32_t vallen;
	uint64_t client, cookie, timeout, val_seed;
};

/* One node's votequorum (exec/votequorum.c); see vq_recalc(). */
struct vq {
	unsigned expected;       /* us->expected_votes */
	unsigned quorum;
	bool quorate;            /* cluster_is_quorate */
	bool wfa;                /* wait_for_all_status */
	uint32_t members, prev_members;   /* quorum_members (node indexes) */
	unsigned lowest;         /* lowest_node_id (an index) when last quorate */
	bool qvote;              /* its quorum device casts its vote */
	bool qdev_cut;           /* its qdevice cannot reach the arbiter */
	uint64_t qdev_gen;
	uint64_t lms_gen;        /* matches its last_man_standing timer */
};

/*
 * One input that corosync queued for a stopped daemon (FZ_DAEMON), read when
 * it runs again (dq_drain()): a CPG message (delivered as in_trans /
 * trans_quorate say), a configuration change (the totem and group lists as
 * they were when it came), or a votequorum verdict (gen as vq_notify()).
 */
enum dq_kind { DQ_MSG = 1, DQ_CONFCHG, DQ_VERDICT };

struct dq_ent {
	uint8_t kind;
	bool trans, in_trans, trans_quorate;
	bool quorate;                     /* DQ_VERDICT */
	struct msg *m;                    /* DQ_MSG (a reference) */
	uint64_t gen;                     /* DQ_VERDICT */
	struct cl_ring ring;              /* DQ_CONFCHG, DQ_VERDICT */
	uint8_t nt, nm, nl, nj;           /* DQ_CONFCHG: list lengths */
	uint32_t totem[SIM_MAX_NODES], members[SIM_MAX_NODES];
	uint32_t left[SIM_MAX_NODES], joined[SIM_MAX_NODES];
};

/* What the invariant checks read of one agent (node_view()). */
struct agent_view {
	uint64_t gen;            /* the node's agen when read; 0: never */
	bool failed;             /* cl_node_failed() */
	bool synced;             /* cl_node_synced() */
	bool has_sm;             /* cl_node_sm() != NULL */
	uint64_t illegal;        /* cl_node_illegal_transitions() */
	size_t waiting;          /* cl_node_sync_waiting(): members the round waits for */
	struct cl_sm_stats st;   /* cl_sm_stats() of its machine, when has_sm */
	uint64_t hash_gen;       /* the node's agen when hash was computed; 0: never */
	uint64_t hash;           /* cl_sm_hash() of its machine */
};

struct node {
	struct sim *sim;
	unsigned idx;
	uint32_t id;
	bool on;                 /* powered (off: crashed or fenced) */
	bool up;                 /* its daemon runs (cn) */
	uint8_t cs;              /* enum cs_state: its corosync */
	uint64_t cs_inc;         /* corosync instance: bumped when corosync (re)starts */
	bool cpg_joined;         /* the daemon has its own join confchg (cpg.c's cc.joined) */
	bool join_pending;       /* its daemon's join is on its way in its ring */
	uint8_t freeze;          /* enum freeze: paused, and how */
	bool ghost;              /* its ring dissolved while it was paused */
	uint64_t thaw_at;        /* scheduled end of the freeze */
	uint64_t frozen_at;      /* when the freeze began (FZ_DAEMON) */
	/* its clock (the daemon's CLOCK_BOOTTIME): see clk_at() */
	uint64_t clk_t0;         /* real time of the last rebase */
	uint64_t clk_off;        /* node time at clk_t0 */
	int32_t ppm;             /* drift: node time runs (1e6 + ppm) / 1e6 as fast as real time */
	bool clk_stopped;        /* a VM pause: the clock stands at clk_off */
	uint64_t real_nt, real_t, real_t0, real_off;   /* clk_real(): its last answer */
	uint64_t clk_stop_end;   /* real time its last clock stop ended */
	uint64_t incarnation;    /* bumped on crash, restart and corosync restart */
	uint64_t fault_gen;      /* matches scheduled resume/restart events */
	uint64_t daemon_gen;     /* matches its daemon's scheduled restart */
	uint64_t kept_floor;     /* RUN_DIR/epoch-floor: survives a daemon restart, not a crash */
	struct cl_ring kept_term;/* RUN_DIR/newest-term: likewise */
	uint64_t blocked_at;     /* last seen in a grace period or awaiting fence-ack */
	uint64_t stall_gen;      /* matches the end of a corosync stall */
	struct cl_node *cn;
	/*
	 * The tags of its agent's holds (cl_node_acquire_tagged()), by tag:
	 * each is live from the acquire until its CL_NODE_EV_HOLD_END (or an
	 * error from the acquire), as lockd's revocation slots are; reset when
	 * the agent is freed (check_tag(), check_tag_count())
	 */
	struct tagrec {
		uint64_t client;
		uint32_t uid;
		bool live;
	} *tags;
	size_t ntags, captags;
	struct vq vq;            /* its corosync's votequorum */
	uint64_t vq_ngen;        /* verdicts notified to its daemon ... */
	uint64_t vq_told;        /* ... and the last one it read: */
	bool vq_told_q;          /* ... its verdict (false before any on this connection) */
	struct cl_ring vq_told_ring;
	uint64_t vq_q_since;     /* when its daemon last read quorate after not (or another ring) */
	uint64_t qwant_since;    /* its ring's verdicts all quorate since (0: not now) */
	uint64_t sync_want_since; /* a live member of a stable ring's group since (0: not now) */
	int comp;                /* component index, -1 when none */
	uint32_t view;           /* members (mask) of its last configuration change */
	uint64_t view_inc[SIM_MAX_NODES]; /* ... and their incarnations then */
	bool has_view;
	struct msgq held;        /* sent while its ring was broken or absent */
	uint8_t *batch;          /* the daemon's batch of this loop iteration (CL_BATCH_MAX) */
	size_t blen;
	unsigned bcount;
	bool flush_armed;
	uint64_t flush_gen;
	uint64_t congested_until; /* corosync refuses sends (flow control) until then */
	struct msgq ghostq;      /* its old ring's pending messages (ghost) */
	struct call *calls;      /* client calls made while paused */
	size_t ncalls, capcalls;
	struct dq_ent *dq;       /* FZ_DAEMON: what corosync handed the stopped daemon */
	size_t ndq, capdq;
	uint32_t group;          /* partition group */
	uint64_t cpg_back_at;    /* corosync restarting under the daemon: no ring before */
	uint64_t tick_at, tick_gen;
	uint64_t tick_same_at;   /* storm detection */
	unsigned tick_same;
	bool in_trans;           /* delivering transitional messages */
	bool trans_quorate;      /* ... on the way into a quorate component */
	uint64_t illegal_seen;   /* the agent's illegal_transitions counter, as last checked */
	char last_err[SIM_TRACE_WIDTH]; /* its last LOG_ERR (or worse) line */
	/*
	 * What the checks read of the agent, cached: the agent and its machine
	 * change only inside calls into the agent, and AGENT() bumps agen before
	 * and after each, so av is current while av.gen == agen.
	 */
	uint64_t agen;
	struct agent_view av;
};

/*
 * How a node is paused.  PROC: its daemon and corosync are stopped (SIGSTOP,
 * a host too busy to schedule them); its clients run and its clock counts.
 * SUSPEND: the whole node sleeps, clients too; CLOCK_BOOTTIME counts on, so
 * its clock jumps forward on resume.  VM: the whole virtual machine is paused
 * and its clock stands still meanwhile (bounded: see vm_pause_max).
 * DAEMON: the daemon alone is stopped (SIGSTOP of coroleased, a hung
 * daemon) while its corosync runs: the node stays in its ring and CPG
 * group and keeps its votequorum; what corosync hands the daemon meanwhile
 * (messages, configuration changes, verdicts) waits, in order, in dq
 * (fault_dstop()); its clients and its clock run on.
 */
enum freeze { FZ_NONE = 0, FZ_PROC, FZ_SUSPEND, FZ_VM, FZ_DAEMON };

/*
 * A node's corosync.  STALL: stopped (SIGSTOP, a long scheduling delay)
 * while the daemon runs on: sends are accepted and queued, nothing is
 * delivered, and the ring breaks for the others.  DOWN: restarting under
 * the daemon (cl_node_transport_lost) until cpg_back_at.
 */
enum cs_state { CS_RUN = 0, CS_STALL, CS_DOWN };

enum hold_st { H_NONE = 0, H_PENDING, H_QUEUED, H_HELD };

struct chold {
	uint8_t st;              /* enum hold_st */
	uint8_t mode;            /* mode requested / granted (EX if either is EX) */
	bool wait;               /* requested with CL_ACQ_WAIT */
	bool revoked;
	uint64_t epoch;
	uint64_t stop_at;        /* revoked: acting ends here (straggle) */
	uint64_t since;          /* GRANTED received (real time) */
	uint64_t since_nt;       /* ... in its node's time */
	uint64_t gen;            /* matches release/cancel timers */
	uint64_t release_at;     /* scheduled release, NEVER if none */
};

/* A client event in flight over the simulated IPC. */
struct cev {
	uint8_t type;
	uint8_t mode;
	int8_t name;             /* index in sim_names, -1 if none/unknown */
	int err;
	uint32_t owner;
	uint64_t cookie, epoch, valid_until, deadline, version;
};

struct client {
	bool used;               /* slot occupied by a live client */
	bool alive;              /* process running (false once gone/killed/crashed) */
	bool gone_called;        /* cl_node_client_gone done */
	unsigned slot;
	unsigned node;
	uint64_t id;
	uint64_t next_cookie;
	uint64_t wake_gen;
	uint64_t valid_until;
	uint64_t straggle_v;     /* acts this long past valid_until (stragglers) */
	bool straggler;
	bool burst;              /* one of a burst (minority-burst): ends once it holds nothing */
	unsigned rush;           /* minority-burst: quick requests left on the quorate side */
	struct chold holds[SIM_MAX_NAMES];
	/* the one outstanding request */
	bool req_active;
	struct call req;
	uint64_t req_issued;
	uint64_t cancelled_cookie;
	uint32_t tags_live;      /* its live tags on its node (struct node.tags) */
	/* IPC inbox */
	struct cev *inbox;
	size_t ihead, ilen, icap;
	uint64_t inbox_last;
};

enum oracle_st { O_NONE = 0, O_PUT, O_DEL };

struct oracle {
	uint8_t st;
	uint32_t vallen;
	uint64_t version, val_seed;
	uint8_t val[SIM_VAL_MAX];  /* val_fill(vallen, val_seed): the value acknowledged */
};

/*
 * The writes of one key most recently applied somewhere for the first time,
 * each marked once a later write of the key (a higher version) is applied
 * anywhere after it.  An ack can arrive after that (the agent confirms a
 * write before answering it, and the writer may have released the lease
 * meanwhile): such a write was overwritten, not lost, so it does not enter
 * the oracle (oracle_ack(); seeds 39290 and 67564).  A write no longer
 * remembered here when its ack arrives enters the oracle as usual.
 */
#define SIM_APPLIED_KEEP 8
struct applied {
	struct {
		uint64_t version;          /* 0: unused (versions are lsns, never 0) */
		bool superseded;
	} w[SIM_APPLIED_KEEP];
	unsigned next;                     /* the slot to reuse next */
};

enum ev_type {
	EV_DELIVER = 1, EV_TICK, EV_IPC, EV_WAKE, EV_RELEASE, EV_CANCEL, EV_SPAWN,
	EV_GONE, EV_FAULT, EV_RESUME, EV_RESTART, EV_HEAL, EV_REFORM, EV_CHECK,
	EV_STOP, EV_FINAL, EV_CPG_BACK, EV_FLUSH, EV_DAEMON_BACK, EV_STALL_END, EV_VERDICT,
	EV_LMS, EV_QDEV_LOST, EV_QDEV_BACK, EV_SC_SPLIT, EV_SKIP, EV_SELF,
};

struct ev {
	uint64_t time, seq;
	uint64_t b, c;
	uint32_t a;
	uint8_t type;
};

struct sim {
	const struct sim_opts *o;
	uint64_t deliver_first;            /* during a delivery: its message's first_at */
	struct sim_result *res;
	struct rng rng;
	uint64_t now;
	bool stop;

	unsigned __int128 *heap;           /* ev_push(): keys, each naming its evbody[] slot */
	size_t nheap, capheap;
	uint64_t evseq;
	struct ev_body *evbody;            /* the events' other fields, by slot */
	uint32_t *evfree;                  /* free slots of evbody (a stack) */
	size_t nbody, capbody, nfree;

	/* per-seed configuration */
	unsigned n, nnames, cpn;
	uint64_t token_us;
	uint64_t lat_min, lat_max, ipc_min, ipc_max;
	uint64_t eagain_ppm, straggler_ppm;
	/* votequorum: its modes (vq.c), and when daemons read its verdicts */
	bool vq_two_node, vq_lms, vq_atb, vq_qdev, vq_wfa;
	unsigned qmodes;         /* CL_QMODE_* the daemons report */
	uint64_t lms_window, qdev_timeout;
	uint64_t vq_first_ppm, vq_late_ppm, vq_late_max;
	uint64_t join_us;        /* a membership change that loses nobody (merge, join) */
	uint64_t rcv_ppm;        /* at a break, each member had each undelivered message */
	uint64_t quick_heal_ppm; /* partitions that heal within two heartbeats of forming */
	bool batching;           /* the daemon packs a loop iteration's messages into one */
	uint64_t batch_window;   /* length of a loop iteration (0: one event) */
	uint32_t drift_ppm;      /* bound of every node's clock drift */
	uint64_t vm_pause_max;   /* longest pause with a stopped clock (0: none) */
	uint64_t hold_max, think_max, release_soon;
	uint64_t t_stop, t_final, bound;
	uint64_t nowait_bound;    /* e, for an acquire without WAIT */
	struct cl_node_config cfg;

	bool workload_on, faults_on;
	bool touched;            /* an agent was called during this event */
	uint32_t reap_look;      /* nodes whose agent was called since reap_failed() looked */
	uint32_t owners_grew;    /* names some client may have begun to act as owner of, or
				    as EX owner of, since the last check_owners() */
	uint64_t last_fault;
	uint64_t reform_gen;
	bool reform_pending;
	uint64_t ring_seq;
	uint64_t msg_id;
	uint64_t part_gen;
	uint64_t client_gen;

	/* --scenario minority-burst (all zero without it) */
	uint64_t sc_ppm;         /* a fault is the scenario's burst and split */
	uint64_t sc_gen;         /* matches the planned split (EV_SC_SPLIT) */
	struct {
		bool armed;          /* the split follows node's next send to corosync */
		bool late;           /* ... after the first deliveries could have come */
		bool side_only;      /* see sc_split() */
		unsigned node;       /* the bursting node's index */
		uint32_t minority;   /* node indexes on the minority side */
	} sc_plan;
	bool sc_side_only;       /* the break now: each side received only its own side's messages */
	uint64_t sc_rush_until;  /* quorate-side clients hurry (rush) until then */
	uint64_t sc_think;       /* ... thinking at most this long */

	/* --scenario asym-view (all zero without it): fault_skip() */
	uint64_t skip_ppm;       /* a fault is the scenario's skipped ring */
	struct {
		uint64_t gen;        /* matches the planned interim ring (EV_SKIP) */
		int ci;              /* the ring whose token was lost */
		uint64_t cgen;       /* ... its gen after the break */
		uint32_t mask;       /* node indexes that form a ring of their own */
	} skip;

	struct node nodes[SIM_MAX_NODES];
	struct comp comps[SIM_MAX_COMPS];
	unsigned nslots;         /* client slots in use: SIM_MAX_CLIENTS, plus a burst's */
	struct client clients[SIM_MAX_CLIENTS + SIM_BURST_MAX];

	/* invariant c: epochs clients used, ordered by when their node's machine granted them */
	struct {
		struct epoch_use { uint64_t t, epoch; uint32_t node; } *v;
		size_t n, cap;
		uint64_t granted[SIM_MAX_NODES];    /* node's machine: its latest grant's epoch */
		uint64_t granted_at[SIM_MAX_NODES]; /* ... and when */
		uint64_t used[SIM_MAX_NODES];       /* latest epoch in v for the node */
	} epochs[SIM_MAX_NAMES];
	struct oracle oracle[SIM_MAX_NAMES][SIM_MAX_KEYS];
	struct applied applied[SIM_MAX_NAMES][SIM_MAX_KEYS];
	/*
	 * Name version at its latest memory eviction: an ack that arrives after
	 * the eviction (the agent confirms writes before answering) for a write at
	 * or below it is not required to survive.
	 */
	uint64_t evicted_upto[SIM_MAX_NAMES];
	uint64_t grace_seen[SIM_MAX_NODES];  /* ring seq of the last fresh machine seen per node */
	uint64_t grace_inc[SIM_MAX_NODES];   /* ... and the node's incarnation then: a daemon
						restarted into the same ring makes a new one */
	bool grace_open[SIM_MAX_NODES];      /* that fresh machine was not yet seen out of grace */

	/* --watch: what each replica last showed of that name */
	char watched[SIM_MAX_NODES][200];

	/* tracing */
	bool tracing;
	char (*ring)[SIM_TRACE_WIDTH];
	unsigned ring_pos, ring_n;
};

static const char *const sim_names[SIM_MAX_NAMES] = {
	"user1", "a", "user10", "mbox/INBOX", "user2", "ab", "b", "zz",
};
static const char *const sim_keys[SIM_MAX_KEYS] = { "k0", "k1", "k2", "key3" };
static size_t sim_name_len[SIM_MAX_NAMES], sim_key_len[SIM_MAX_KEYS];   /* strlen(), set by main() */
static bool self_check;  /* --self-check (o->self_check), for the hottest paths */

/* ------------------------------------------------------------------ trace */

static void trace_(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds one trace line (printed at once with --verbose, else kept in a ring). */
static void trace_(struct sim *s, const char *fmt, ...)
{
	char line[SIM_TRACE_WIDTH];
	int off = snprintf(line, sizeof(line), "%4" PRIu64 ".%06" PRIu64 " ",
			   s->now / SEC, s->now % SEC);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	va_end(ap);
	if (s->o->verbose) {
		puts(line);
		return;
	}
	memcpy(s->ring[s->ring_pos], line, sizeof(line));
	s->ring_pos = (s->ring_pos + 1) % SIM_TRACE_LINES;
	if (s->ring_n < SIM_TRACE_LINES)
		s->ring_n++;
}

#define TR(s, ...) do { if ((s)->tracing) trace_((s), __VA_ARGS__); } while (0)

static void violation(struct sim *s, enum sim_inv inv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The invariants a planted safety bug must break: two owners, a reused or
 * reordered fencing token, a lost acknowledged write. */
static bool safety_inv(enum sim_inv inv)
{
	return inv == SIM_INV_OWNER || inv == SIM_INV_EPOCH || inv == SIM_INV_INDEX;
}

/*
 * Records a violation.  The first hard one stops the seed; in
 * --expect-violation mode only the safety invariants (b, c, d) are hard,
 * the others are counted.
 */
static void violation(struct sim *s, enum sim_inv inv, const char *fmt, ...)
{
	char buf[sizeof(s->res->desc)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	TR(s, "VIOLATION (%c): %s", (char)inv, buf);
	if (s->o->expect && !safety_inv(inv)) {
		s->res->soft++;
		return;
	}
	if (s->res->inv != SIM_OK)
		return;
	s->res->inv = inv;
	s->res->inv_event = s->res->events;
	memcpy(s->res->desc, buf, sizeof(buf));
	s->stop = true;
}

/* ------------------------------------------------------------- event heap */

/*
 * The queue is a 4-ary heap of 128-bit keys (time, seq, slot): time in the
 * high half, then seq, unique, then the slot of evbody[] that holds the rest
 * of the event.  seq is unique, so the order of events is total: the pops
 * are the same as any heap's of (time, seq).  Four 16-byte keys a level
 * fill one cache line, and comparing two keys has no branch to mispredict.
 */
#define EV_ARITY     4
#define EV_SLOT_BITS 24   /* events pending at once: far fewer (about 50) */

typedef unsigned __int128 ev_key;

struct ev_body {
	uint64_t b, c;
	uint32_t a;
	uint8_t type;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "sim: out of memory\n");
		exit(2);
	}
	return p;
}

/* Schedules an event at time t (>= now). */
static void ev_push(struct sim *s, uint64_t t, uint8_t type, uint32_t a, uint64_t b, uint64_t c)
{
	uint64_t seq = s->evseq++;
	uint32_t slot;
	ev_key k;
	size_t i;

	if (s->nfree) {
		slot = s->evfree[--s->nfree];
	} else {
		if (s->nbody == s->capbody) {
			s->capbody = s->capbody ? 2 * s->capbody : 256;
			s->evbody = xrealloc(s->evbody, s->capbody * sizeof(*s->evbody));
			s->evfree = xrealloc(s->evfree, s->capbody * sizeof(*s->evfree));
		}
		slot = (uint32_t)s->nbody++;
	}
	if (slot >> EV_SLOT_BITS || seq >> (64 - EV_SLOT_BITS)) {
		fprintf(stderr, "sim: internal error: event queue beyond its key's range\n");
		abort();
	}
	s->evbody[slot] = (struct ev_body){ .b = b, .c = c, .a = a, .type = type };
	k = (ev_key)(t < s->now ? s->now : t) << 64 | (ev_key)(seq << EV_SLOT_BITS | slot);
	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? 2 * s->capheap : 256;
		s->heap = xrealloc(s->heap, s->capheap * sizeof(*s->heap));
	}
	i = s->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / EV_ARITY;

		if (k >= s->heap[p])
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = k;
}

/* Removes the earliest event into *e_r; false when the queue is empty. */
static bool ev_pop(struct sim *s, struct ev *e_r)
{
	ev_key top, last;
	uint32_t slot;
	size_t i = 0;

	if (s->nheap == 0)
		return false;
	top = s->heap[0];
	last = s->heap[--s->nheap];
	for (;;) {
		size_t l = EV_ARITY * i + 1, end = l + EV_ARITY, m = l;

		if (l >= s->nheap)
			break;
		if (end > s->nheap)
			end = s->nheap;
		for (size_t k = l + 1; k < end; k++)
			if (s->heap[k] < s->heap[m])
				m = k;
		if (s->heap[m] >= last)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	slot = (uint32_t)top & ((1u << EV_SLOT_BITS) - 1);
	*e_r = (struct ev){ .time = (uint64_t)(top >> 64), .seq = (uint64_t)top >> EV_SLOT_BITS,
			    .b = s->evbody[slot].b, .c = s->evbody[slot].c, .a = s->evbody[slot].a,
			    .type = s->evbody[slot].type };
	s->evfree[s->nfree++] = slot;
	return true;
}

/* --------------------------------------------------------------- messages */

static struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

static void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

static void msgq_push(struct msgq *q, struct msg *m, uint64_t at)
{
	if (q->len == q->cap) {
		if (q->head > 0 && q->head >= q->cap / 2) {
			memmove(q->v, q->v + q->head, (q->len - q->head) * sizeof(*q->v));
			q->len -= q->head;
			q->head = 0;
		} else {
			q->cap = q->cap ? 2 * q->cap : 16;
			q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
		}
	}
	q->v[q->len++] = (struct msgq_ent){ .m = m, .at = at };
}

static size_t msgq_count(const struct msgq *q)
{
	return q->len - q->head;
}

/* Takes the first entry's message (the reference moves to the caller). */
static struct msg *msgq_pop(struct msgq *q, uint64_t *at_r)
{
	struct msgq_ent *e;

	if (q->head == q->len)
		return NULL;
	e = &q->v[q->head++];
	if (at_r)
		*at_r = e->at;
	if (q->head == q->len)
		q->head = q->len = 0;
	return e->m;
}

/* Drops every entry and frees the storage. */
static void msgq_clear(struct msgq *q)
{
	for (size_t i = q->head; i < q->len; i++)
		msg_unref(q->v[i].m);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* Returns a message type name for traces (decodes the header only). */
static const char *msg_type(const struct msg *m)
{
	if (m->len >= CL_BATCH_HDR_LEN && m->data[0] == CL_BATCH_MAGIC)
		return "batch";
	return m->len >= CL_WIRE_HDR_LEN ? cl_msg_type_name(m->data[1]) : "?";
}

/* ------------------------------------------------------------ small utils */

static unsigned popcount32(uint32_t x)
{
	return (unsigned)__builtin_popcount(x);
}

static int name_index(const struct sim *s, const uint8_t *name, size_t len)
{
	if (!name)
		return -1;
	for (unsigned i = 0; i < s->nnames; i++)
		if (sim_name_len[i] == len && memcmp(sim_names[i], name, len) == 0)
			return (int)i;
	return -1;
}

static int key_index(const uint8_t *key, size_t len)
{
	if (!key)
		return -1;
	for (unsigned i = 0; i < SIM_MAX_KEYS; i++)
		if (sim_key_len[i] == len && memcmp(sim_keys[i], key, len) == 0)
			return (int)i;
	return -1;
}

static struct node *node_by_id(struct sim *s, uint32_t id)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	return NULL;
}

static struct client *client_by_id(struct sim *s, uint64_t id)
{
	unsigned slot = (unsigned)(id & 0xff);

	if (slot >= s->nslots || !s->clients[slot].used || s->clients[slot].id != id)
		return NULL;
	return &s->clients[slot];
}

/* Fills buf with len deterministic bytes derived from seed. */
static void val_fill(uint8_t *buf, uint32_t len, uint64_t seed)
{
	uint64_t x = seed, r = 0;

	for (uint32_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = splitmix64(&x);
		buf[i] = (uint8_t)(r >> (8 * (i % 8)));
	}
}

/* Writes the ids of mask's nodes, ascending, into ids_r; returns the count. */
static size_t mask_ids(const struct sim *s, uint32_t mask, uint32_t *ids_r)
{
	size_t k = 0;

	for (unsigned i = 0; i < s->n; i++)
		if (mask & (1u << i))
			ids_r[k++] = s->nodes[i].id;
	return k;
}

static bool node_live(const struct node *n)
{
	return n->up && n->freeze == FZ_NONE;
}

/* Whether n's clients are paused with it (the whole node sleeps). */
static bool node_asleep(const struct node *n)
{
	return n->freeze == FZ_SUSPEND || n->freeze == FZ_VM;
}

/* Whether n's daemon is stopped alone (FZ_DAEMON): its corosync runs on. */
static bool daemon_held(const struct node *n)
{
	return n->up && n->freeze == FZ_DAEMON;
}

/* Whether n's daemon process exists and is connected: running, or stopped alone. */
static bool daemon_in(const struct node *n)
{
	return node_live(n) || daemon_held(n);
}

/* Whether n's corosync takes part in totem: powered, running, not paused. */
static bool cs_live(const struct sim *s, const struct node *n)
{
	return n->on && (n->freeze == FZ_NONE || n->freeze == FZ_DAEMON) && n->cs == CS_RUN &&
	       s->now >= n->cpg_back_at;
}

/* ------------------------------------------------------------- node clocks */

/*
 * (int64_t)(((__int128)a * b) / c), for c > 0: the 128-bit quotient
 * (truncated toward zero, as C divides) cut to 64 bits as a cast does.
 * Where a * b fits in 64 signed bits (always, in practice) 64-bit
 * arithmetic gives the very same quotient, without __divti3.
 */
static int64_t muldiv(uint64_t a, int32_t b, int64_t c)
{
	int64_t p;

	if (a <= INT64_MAX && !__builtin_mul_overflow((int64_t)a, (int64_t)b, &p))
		return p / c;
	return (int64_t)(((__int128)a * b) / c);
}

/*
 * A node's clock at real time t: clk_off at clk_t0, then counting (1e6 +
 * ppm) / 1e6 as fast as real time; it stands still while stopped (a VM
 * pause).  Monotonic in t.  Node times never meet real times or other
 * nodes' times except through these two functions.
 */
static uint64_t clk_at(const struct node *n, uint64_t t)
{
	uint64_t d;

	if (n->clk_stopped || t <= n->clk_t0)
		return n->clk_off;
	d = t - n->clk_t0;
	return n->clk_off + d + (uint64_t)muldiv(d, n->ppm, 1000000);
}

static uint64_t node_now(const struct sim *s, const struct node *n)
{
	return clk_at(n, s->now);
}

/* The earliest real time (>= now) at which n's clock reads nt; NEVER while it stands below. */
static uint64_t clk_real_(const struct sim *s, const struct node *n, uint64_t nt)
{
	uint64_t t;

	if (nt <= clk_at(n, s->now))
		return s->now;
	if (n->clk_stopped)
		return NEVER;
	t = n->clk_t0 + (uint64_t)muldiv(nt - n->clk_off, 1000000, 1000000 + n->ppm);
	if (t < s->now)
		t = s->now;
	while (clk_at(n, t) < nt)
		t++;
	while (t > s->now && clk_at(n, t - 1) >= nt)
		t--;
	return t;
}

/*
 * clk_real_(), remembering its last answer.  That is min{t >= now :
 * clk_at(t) >= nt} (clk_at() never decreases; the loops above stop at the
 * first such t), which is max(now, m) with m the first real time the clock
 * reads nt -- fixed while clk_t0, clk_off (ppm never changes) are and the
 * clock runs.  So an answer still ahead of now is the answer again.
 */
static uint64_t clk_real(const struct sim *s, struct node *n, uint64_t nt)
{
	bool hit = nt == n->real_nt && n->real_t > s->now && n->clk_t0 == n->real_t0 &&
		   n->clk_off == n->real_off && !n->clk_stopped;
	uint64_t t;

	if (hit && !s->o->self_check)
		return n->real_t;
	t = clk_real_(s, n, nt);
	if (hit && t != n->real_t)
		violation(n->sim, SIM_INV_PROTO, "self-check: node %u: clk_real() remembered %"
			  PRIu64 " for %" PRIu64 ", not %" PRIu64, n->id, n->real_t, nt, t);
	if (t > s->now && !n->clk_stopped) {
		n->real_nt = nt;
		n->real_t = t;
		n->real_t0 = n->clk_t0;
		n->real_off = n->clk_off;
	}
	return t;
}

/* Stops or restarts n's clock now (a VM pause). */
static void clk_stop(struct sim *s, struct node *n, bool stop)
{
	n->clk_off = clk_at(n, s->now);
	n->clk_t0 = s->now;
	n->clk_stopped = stop;
	if (!stop)
		n->clk_stop_end = s->now;
}

/* True while n is live in a stable quorate component (liveness applies). */
static bool node_ok(const struct sim *s, const struct node *n)
{
	const struct comp *c;

	if (!node_live(n) || n->comp < 0)
		return false;
	c = &s->comps[n->comp];
	return !c->broken && (c->gmask & (1u << n->idx)) && c->ginc[n->idx] == n->incarnation &&
	       n->vq.quorate;
}

/* -------------------------------------------------------------- node glue */

/*
 * Runs `call`, a call into n's agent (n->cn), or its creation or end.  The
 * agent and its machine change only inside such calls, so node_view() may
 * keep what it read until the next one: agen moves on before (callbacks
 * inside the call read afresh) and after it.
 */
#define AGENT(n, call) do { agent_changed(n); call; agent_changed(n); } while (0)

static void agent_changed(struct node *n)
{
	n->agen++;
	n->sim->reap_look |= 1u << n->idx;
}

static void view_read(struct node *n, struct agent_view *v)
{
	const struct cl_sm *sm = cl_node_sm(n->cn);

	v->gen = n->agen;
	v->failed = cl_node_failed(n->cn);
	v->synced = cl_node_synced(n->cn);
	v->has_sm = sm != NULL;
	v->illegal = cl_node_illegal_transitions(n->cn);
	v->waiting = cl_node_sync_waiting(n->cn, NULL, 0);
	if (sm)
		cl_sm_stats(sm, &v->st);
}

/*
 * What the checks read of n's agent (which must exist: n->cn), as of now.
 * With --self-check, a cached view is compared with a fresh read.
 */
static const struct agent_view *node_view(struct node *n)
{
	struct agent_view *v = &n->av;

	if (v->gen != n->agen) {
		view_read(n, v);
	} else if (self_check) {
		struct agent_view f;

		view_read(n, &f);
		if (f.failed != v->failed || f.synced != v->synced || f.has_sm != v->has_sm ||
		    f.illegal != v->illegal || f.waiting != v->waiting || (f.has_sm && memcmp(&f.st, &v->st, sizeof(f.st))))
			violation(n->sim, SIM_INV_PROTO, "self-check: node %u: stale cached view "
				  "of its agent (a call into it without AGENT())", n->id);
	}
	return v;
}

/* cl_sm_hash() of n's machine (n->cn must have one), cached like node_view(). */
static uint64_t node_hash(struct node *n)
{
	struct agent_view *v = &n->av;

	if (v->hash_gen != n->agen) {
		v->hash = cl_sm_hash(cl_node_sm(n->cn));
		v->hash_gen = n->agen;
		if (n->sim->o->self_check && v->hash != cl_sm_hash_full(cl_node_sm(n->cn)))
			violation(n->sim, SIM_INV_PROTO, "self-check: node %u: the running machine "
				  "hash is not the walk's", n->id);
		for (unsigned i = 0; n->sim->o->self_check && i < n->sim->n; i++) {
			uint32_t of = n->sim->nodes[i].id;
			if (cl_sm_live_holds_of(cl_node_sm(n->cn), of) !=
			    cl_sm_live_holds_of_full(cl_node_sm(n->cn), of))
				violation(n->sim, SIM_INV_PROTO, "self-check: node %u: the live hold "
					  "count of node %u is not the walk's", n->id, of);
		}
	} else if (n->sim->o->self_check && v->hash != cl_sm_hash(cl_node_sm(n->cn))) {
		violation(n->sim, SIM_INV_PROTO, "self-check: node %u: stale cached machine hash",
			  n->id);
	}
	return v->hash;
}

static void node_sched_tick(struct sim *s, struct node *n)
{
	uint64_t d;

	s->touched = true;
	if (!node_live(n))
		return;
	d = cl_node_next_deadline(n->cn);
	if (d != CL_TIME_NEVER)
		d = clk_real(s, n, d);   /* the node's time to real time */
	if (d == NEVER) {
		if (n->tick_at != NEVER) {
			n->tick_at = NEVER;
			n->tick_gen++;
		}
		return;
	}
	if (d == n->tick_at)
		return;
	n->tick_at = d;
	n->tick_gen++;
	ev_push(s, d, EV_TICK, n->idx, n->tick_gen, 0);
}

static void on_tick(struct sim *s, const struct ev *e)
{
	struct node *n = &s->nodes[e->a];

	if (!node_live(n) || e->b != n->tick_gen)
		return;
	n->tick_at = NEVER;
	if (n->tick_same_at == s->now) {
		if (++n->tick_same > TICK_STORM) {
			violation(s, SIM_INV_PROTO, "node %u: tick storm: next_deadline stays <= now "
				  "after %u ticks at one instant", n->id, n->tick_same);
			return;
		}
	} else {
		n->tick_same_at = s->now;
		n->tick_same = 0;
	}
	AGENT(n, cl_node_tick(n->cn));
	node_sched_tick(s, n);
}

static void comp_send(struct sim *s, int ci, struct msg *m);
static struct msg *msg_new(struct sim *s, const struct node *n, const void *buf, size_t len);
static void sc_burst_sent(struct sim *s);

static uint64_t op_now(void *ctx)
{
	struct node *n = ctx;

	return node_now(n->sim, n);
}

/*
 * corosync takes (0) or refuses (-EAGAIN: its send queue is full) one CPG
 * message: a batch, or a message sent alone.  Taken, it is originated in the
 * node's ring, or held while that ring is broken or absent.
 */
static int cs_send(struct sim *s, struct node *n, const uint8_t *buf, size_t len)
{
	struct msg *m;

	if (!n->cpg_joined)
		return -ENOTCONN;   /* cpg.c: not joined (yet, or any more) */
	if (s->now < n->congested_until || rng_ppm(&s->rng, s->eagain_ppm)) {
		s->res->eagains++;
		TR(s, "n%u cpg_mcast_joined len %zu: EAGAIN%s", n->id, len,
		   s->now < n->congested_until ? " (congested)" : "");
		return -EAGAIN;
	}
	m = msg_new(s, n, buf, len);
	/* a sender's messages stay in its order: behind any it still holds */
	if (n->comp >= 0 && !s->comps[n->comp].broken && msgq_count(&n->held) == 0) {
		TR(s, "n%u mcast #%" PRIu64 " %s len %zu", n->id, m->id, msg_type(m), len);
		comp_send(s, n->comp, m);
	} else {
		TR(s, "n%u mcast #%" PRIu64 " %s len %zu: held (ring %s)", n->id, m->id,
		   msg_type(m), len, n->comp >= 0 ? "broken" : "none");
		msgq_push(&n->held, m, 0);
	}
	if (s->sc_plan.armed && n->idx == s->sc_plan.node)
		sc_burst_sent(s);
	return 0;
}

/*
 * Sends n's pending batch as lockd/cpg.c's batch_flush() does: a lone
 * message bare, several in the wire.h batch format.  0, or -EAGAIN (kept).
 */
static int batch_flush(struct sim *s, struct node *n)
{
	int rc;

	if (!n->bcount)
		return 0;
	if (n->bcount == 1) {
		rc = cs_send(s, n, n->batch + CL_BATCH_HDR_LEN + 4, n->blen - CL_BATCH_HDR_LEN - 4);
	} else {
		n->batch[0] = CL_BATCH_MAGIC;
		n->batch[1] = 0;
		cl_put_u16(n->batch + 2, (uint16_t)n->bcount);
		rc = cs_send(s, n, n->batch, n->blen);
		if (rc == 0)
			s->res->batches++;
	}
	if (rc == 0)
		n->blen = n->bcount = 0;
	return rc;
}

/* The flush job at the end of the daemon's loop iteration (or its retry). */
static void batch_arm(struct sim *s, struct node *n, uint64_t at)
{
	n->flush_gen++;
	n->flush_armed = true;
	ev_push(s, at, EV_FLUSH, n->idx, n->flush_gen, 0);
}

static void on_flush(struct sim *s, const struct ev *e)
{
	struct node *n = &s->nodes[e->a];

	if (!n->up || !n->flush_armed || e->b != n->flush_gen)
		return;
	if (!node_live(n)) {       /* the job runs when the daemon does */
		batch_arm(s, n, n->thaw_at);
		return;
	}
	n->flush_armed = false;
	if (batch_flush(s, n) == -EAGAIN)
		batch_arm(s, n, s->now + MS);   /* as cpg.c: try again 1 ms later */
}

/*
 * ops->mcast, as lockd/cpg.c's cld_cpg_mcast(): with batching, a message
 * joins the batch that the end of this loop iteration sends (batch_window
 * later: a busy daemon's iteration), a full batch is flushed first, a large
 * message goes alone after it; -EAGAIN only when a flush needed now is
 * refused.  Without batching, every message is its own CPG message.
 */
static int op_mcast(void *ctx, const void *buf, size_t len)
{
	struct node *n = ctx;
	struct sim *s = n->sim;
	size_t need = 4 + len;
	int rc;

	if (!node_live(n)) {
		violation(s, SIM_INV_PROTO, "node %u: mcast while down or paused", n->id);
		return -EAGAIN;
	}
	if (!s->batching)
		return cs_send(s, n, buf, len);
	if (CL_BATCH_HDR_LEN + need > CL_BATCH_MAX) {
		rc = batch_flush(s, n);
		return rc < 0 ? rc : cs_send(s, n, buf, len);
	}
	if (n->blen + need > CL_BATCH_MAX || n->bcount == UINT16_MAX) {
		rc = batch_flush(s, n);
		if (rc < 0)
			return rc;
	}
	if (!n->batch)
		n->batch = xrealloc(NULL, CL_BATCH_MAX);
	if (!n->blen)
		n->blen = CL_BATCH_HDR_LEN;
	cl_put_u32(n->batch + n->blen, (uint32_t)len);
	memcpy(n->batch + n->blen + 4, buf, len);
	n->blen += need;
	n->bcount++;
	if (!n->flush_armed)
		batch_arm(s, n, s->now + s->batch_window);
	return 0;
}

enum client_end_why { END_CRASH, END_DISCONNECT, END_KILLED };

static void client_push(struct sim *s, struct client *c, const struct cl_node_event *ev, int name);
static void client_end(struct sim *s, struct client *c, enum client_end_why why);
static bool client_acting(const struct sim *s, const struct client *c, unsigned name);

/* May an answer of this type answer a request of kind k? */
static bool answers(uint8_t k, enum cl_node_event_type t)
{
	switch (t) {
	case CL_NODE_EV_GRANTED:
	case CL_NODE_EV_DENIED:
	case CL_NODE_EV_QUEUED:       /* interim, but an answer to an acquire */
		return k == CALL_ACQ;
	case CL_NODE_EV_INDEX_DONE:
		return k == CALL_PUT || k == CALL_DEL;
	case CL_NODE_EV_SYNC_DONE:
		return k == CALL_SYNC;
	case CL_NODE_EV_ADMIN_DONE:
		return k == CALL_EVICT || k == CALL_FENCE;
	default:
		return false;
	}
}

static bool is_answer(enum cl_node_event_type t)
{
	return t == CL_NODE_EV_GRANTED || t == CL_NODE_EV_DENIED || t == CL_NODE_EV_QUEUED ||
	       t == CL_NODE_EV_INDEX_DONE || t == CL_NODE_EV_SYNC_DONE || t == CL_NODE_EV_ADMIN_DONE;
}

/*
 * Invariant c at a GRANTED for node n.  The epoch must be the one n's machine
 * granted n, and among the epochs clients use, the order of the machine
 * grants must be the order of the epochs.  Grants of one input (SH waiters
 * granted together) share an instant and only need distinct epochs.  A grant
 * whose valid_until has passed can never be used and is not counted.
 */
static void check_epoch(struct sim *s, struct node *n, int name, const struct cl_node_event *ev)
{
	__typeof__(&s->epochs[0]) e;
	uint64_t t;
	size_t i;

	if (name < 0 || ev->valid_until <= node_now(s, n))
		return;
	e = &s->epochs[name];
	if (ev->epoch != e->granted[n->idx]) {
		violation(s, SIM_INV_EPOCH, "name %s: node %u told a client epoch %" PRIu64
			  ", but its machine last granted it epoch %" PRIu64, sim_names[name],
			  n->id, ev->epoch, e->granted[n->idx]);
		return;
	}
	if (ev->epoch == e->used[n->idx])
		return;          /* the node's current hold, shared by another local client */
	e->used[n->idx] = ev->epoch;
	t = e->granted_at[n->idx];
	for (i = e->n; i > 0; i--) {
		const struct epoch_use *u = &e->v[i - 1];

		if (u->t < t) {
			if (u->epoch >= ev->epoch)
				goto bad;
			break;
		}
		if ((u->t == t && u->epoch == ev->epoch) || (u->t > t && u->epoch <= ev->epoch))
			goto bad;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 64;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	memmove(&e->v[i + 1], &e->v[i], (e->n - i) * sizeof(*e->v));
	e->v[i] = (struct epoch_use){ .t = t, .epoch = ev->epoch, .node = n->id };
	e->n++;
	return;
bad:
	violation(s, SIM_INV_EPOCH, "name %s: node %u uses epoch %" PRIu64 " granted at %" PRIu64
		  ", but node %u used epoch %" PRIu64 " granted at %" PRIu64, sim_names[name],
		  n->id, ev->epoch, t, e->v[i - 1].node, e->v[i - 1].epoch, e->v[i - 1].t);
}

/* Notes that a write of version v to the key of ap was applied on some node. */
static void applied_note(struct applied *ap, uint64_t v)
{
	bool known = false;

	for (unsigned i = 0; i < SIM_APPLIED_KEEP; i++) {
		if (ap->w[i].version == v)
			known = true;
		else if (ap->w[i].version && ap->w[i].version < v)
			ap->w[i].superseded = true;
	}
	if (known)
		return;
	ap->w[ap->next].version = v;
	ap->w[ap->next].superseded = false;
	ap->next = (ap->next + 1) % SIM_APPLIED_KEEP;
}

/* Whether the write of version v to the key of ap is known to be overwritten. */
static bool superseded(const struct applied *ap, uint64_t v)
{
	for (unsigned i = 0; i < SIM_APPLIED_KEEP; i++)
		if (ap->w[i].version == v)
			return ap->w[i].superseded;
	return false;
}

/* Records an acknowledged index write in the oracle. */
static void oracle_ack(struct sim *s, struct node *n, struct client *c, const struct cl_node_event *ev)
{
	struct oracle *o;

	if (c->req.name >= s->nnames || c->req.key >= SIM_MAX_KEYS)
		return;
	s->res->index_acks++;
	if (n->in_trans && !n->trans_quorate) {
		s->res->trans_acks++;
		TR(s, "n%u: INDEX_DONE(0) in a minority's transitional delivery: not required "
		   "to survive", n->id);
		if (!s->o->strict_trans)
			return;
	}
	if (ev->version <= s->evicted_upto[c->req.name])
		return;   /* evicted for memory before the (confirmed) ack arrived */
	if (superseded(&s->applied[c->req.name][c->req.key], ev->version)) {
		TR(s, "n%u: INDEX_DONE(0) version %" PRIu64 " of %s/%s: overwritten before the ack",
		   n->id, ev->version, sim_names[c->req.name], sim_keys[c->req.key]);
		return;
	}
	o = &s->oracle[c->req.name][c->req.key];
	if (o->st != O_NONE && o->version >= ev->version)
		return;
	o->st = c->req.kind == CALL_PUT ? O_PUT : O_DEL;
	o->version = ev->version;
	o->val_seed = c->req.val_seed;
	o->vallen = c->req.vallen;
	val_fill(o->val, o->vallen, o->val_seed);
}

/*
 * A grant, an acknowledged write or a sync barrier -- answers the agent
 * gives only once other members acked them -- handed to a client while the
 * daemon of another member of its node's ring and group is stopped alone
 * (fault_dstop()) and has been since before the client asked, so it cannot
 * have acked: counted, to show the vote rule at work.
 */
static void note_dstop_answer(struct sim *s, struct node *n, const struct client *c,
			      enum cl_node_event_type t)
{
	const struct comp *r;

	if (n->comp < 0)
		return;
	r = &s->comps[n->comp];
	for (unsigned i = 0; i < s->n; i++) {
		const struct node *m = &s->nodes[i];

		if (i == n->idx || !(r->gmask & (1u << i)) || m->comp != n->comp ||
		    r->ginc[i] != m->incarnation || !daemon_held(m) || m->frozen_at >= c->req_issued)
			continue;
		if (t == CL_NODE_EV_GRANTED)
			s->res->dstop_grants++;
		else if (t == CL_NODE_EV_INDEX_DONE)
			s->res->dstop_acks++;
		else
			s->res->dstop_syncs++;
		TR(s, "n%u: answered while n%u's daemon is stopped", n->id, m->id);
		return;
	}
}

/*
 * An event of a tagged hold names a live tag of its client; its HOLD_END
 * (with the client's uid) comes once and last, and the tag is dead after it.
 */
static void check_tag(struct sim *s, struct node *n, const struct cl_node_event *ev)
{
	if (ev->tag == CL_NODE_NO_TAG) {
		if (ev->type == CL_NODE_EV_HOLD_END)
			violation(s, SIM_INV_PROTO, "node %u: HOLD_END without a tag", n->id);
		return;
	}
	struct tagrec *t = ev->tag < n->ntags ? &n->tags[ev->tag] : NULL;
	if (!t || !t->live || t->client != ev->client) {
		violation(s, SIM_INV_PROTO, "node %u: event %d for client %" PRIx64 " names tag %"
			  PRIu32 ", %s", n->id, ev->type, ev->client, ev->tag,
			  !t ? "never given" : !t->live ? "ended already" : "another client's");
		return;
	}
	if (ev->type != CL_NODE_EV_HOLD_END)
		return;
	if (ev->uid != t->uid)
		violation(s, SIM_INV_PROTO, "node %u: HOLD_END of tag %" PRIu32 " with uid %" PRIu32
			  ", acquired with %" PRIu32, n->id, ev->tag, ev->uid, t->uid);
	t->live = false;
	struct client *c = client_by_id(s, ev->client);
	if (c && c->node == n->idx && c->tags_live)
		c->tags_live--;
}

/* What the agent says client c has, and the live tags it was given, agree. */
static void check_tag_count(struct sim *s, struct node *n, const struct client *c)
{
	if (!n->cn || cl_node_failed(n->cn))
		return;
	uint32_t agent = cl_node_client_nholds(n->cn, c->id);
	if (agent != c->tags_live)
		violation(s, SIM_INV_PROTO, "node %u: client %" PRIx64 " has %" PRIu32 " holds and "
			  "acquires in the agent, and %" PRIu32 " live tags (a HOLD_END %s)", n->id,
			  c->id, agent, c->tags_live, agent < c->tags_live ? "missing" : "too many");
}

static void op_event(void *ctx, const struct cl_node_event *ev)
{
	struct node *n = ctx;
	struct sim *s = n->sim;
	int name = name_index(s, ev->name, ev->namelen);
	struct client *c;

	if (s->tracing) {
		static const char *const tn[] = { "?", "GRANTED", "DENIED", "QUEUED", "WANTED",
						  "REVOKED", "KILL", "VALIDITY", "INDEX_DONE",
						  "INDEX_CHANGED", "SYNC_DONE", "ADMIN_DONE", "FATAL",
						  "EPOCH_FLOOR", "NEWEST_TERM" };
		unsigned t = ev->type <= CL_NODE_EV_NEWEST_TERM ? ev->type : 0;

		if (ev->type == CL_NODE_EV_HOLD_END)
			TR(s, "n%u ev HOLD_END client %" PRIx64 " tag %" PRIu32 " uid %" PRIu32,
			   n->id, ev->client, ev->tag, ev->uid);

		if (ev->type != CL_NODE_EV_INDEX_CHANGED)
			TR(s, "n%u ev %s client %" PRIx64 " cookie %" PRIu64 " name %s err %d "
			   "owner %u mode %u epoch %" PRIu64 " valid_until %" PRIu64 " deadline %"
			   PRIu64 " version %" PRIu64, n->id, tn[t], ev->client, ev->cookie,
			   name >= 0 ? sim_names[name] : "-", ev->err, ev->owner, ev->mode,
			   ev->epoch, ev->valid_until, ev->deadline, ev->version);
	}
	if (ev->client && ev->type != CL_NODE_EV_INDEX_DONE && ev->type != CL_NODE_EV_SYNC_DONE &&
	    ev->type != CL_NODE_EV_ADMIN_DONE && ev->type != CL_NODE_EV_INDEX_CHANGED)
		check_tag(s, n, ev);
	if (ev->type == CL_NODE_EV_HOLD_END)
		return;
	if (ev->client == 0) {
		if (ev->type == CL_NODE_EV_EPOCH_FLOOR) {
			n->kept_floor = ev->epoch;   /* the daemon writes RUN_DIR/epoch-floor */
		} else if (ev->type == CL_NODE_EV_NEWEST_TERM) {
			/* the daemon writes RUN_DIR/newest-term */
			n->kept_term = (struct cl_ring){ ev->owner, ev->epoch };
		} else if (ev->type == CL_NODE_EV_VALIDITY) {
			for (unsigned i = 0; i < s->nslots; i++) {
				c = &s->clients[i];
				if (c->used && c->alive && c->node == n->idx)
					client_push(s, c, ev, -1);
			}
		} else if (ev->type != CL_NODE_EV_INDEX_CHANGED && ev->type != CL_NODE_EV_FATAL) {
			/* FATAL: reap_failed() treats the node as crashed after this event */
			violation(s, SIM_INV_PROTO, "node %u: event type %d for client 0",
				  n->id, ev->type);
		}
		return;
	}
	c = client_by_id(s, ev->client);
	if (!c || c->node != n->idx) {
		if (is_answer(ev->type) || ev->type == CL_NODE_EV_GRANTED)
			TR(s, "n%u: event for unknown client %" PRIx64 " dropped", n->id, ev->client);
		return;
	}
	if (c->gone_called) {
		violation(s, SIM_INV_PROTO, "node %u: event %d for client %" PRIx64
			  " after cl_node_client_gone()", n->id, ev->type, ev->client);
		return;
	}
	if (!c->alive)
		return;          /* killed, client_gone() not yet called: the socket is dead */
	if (ev->type == CL_NODE_EV_KILL) {
		/* the daemon kills the process: it stops at once */
		s->res->kills++;
		client_end(s, c, END_KILLED);
		return;
	}
	if (is_answer(ev->type)) {
		bool match = c->req_active && c->req.cookie == ev->cookie;

		if (match && !answers(c->req.kind, ev->type)) {
			violation(s, SIM_INV_PROTO, "node %u: answer type %d to client %" PRIx64
				  " request kind %u cookie %" PRIu64, n->id, ev->type, c->id,
				  c->req.kind, ev->cookie);
			return;
		}
		if (match && c->req.kind == CALL_ACQ && name != c->req.name) {
			violation(s, SIM_INV_PROTO, "node %u: acquire answer for name %s, asked %s",
				  n->id, name >= 0 ? sim_names[name] : "?", sim_names[c->req.name]);
			return;
		}
		if (!match) {
			if (ev->cookie == c->cancelled_cookie) {
				TR(s, "n%u: answer to cancelled request ignored", n->id);
				return;
			}
			violation(s, SIM_INV_PROTO, "node %u: answer type %d cookie %" PRIu64
				  " to client %" PRIx64 " which has no such request outstanding",
				  n->id, ev->type, ev->cookie, c->id);
			return;
		}
		if (ev->type == CL_NODE_EV_GRANTED) {
			s->res->grants++;
			check_epoch(s, n, name, ev);
			if (ev->mode != CL_MODE_EX && ev->mode != CL_MODE_SH)
				violation(s, SIM_INV_PROTO, "node %u: GRANTED mode %u", n->id, ev->mode);
			else if (c->req.mode == CL_MODE_EX && ev->mode != CL_MODE_EX)
				violation(s, SIM_INV_PROTO, "node %u: EX asked, %s granted", n->id,
					  cl_mode_name(ev->mode));
		}
		if (ev->type == CL_NODE_EV_INDEX_DONE && ev->err == 0)
			oracle_ack(s, n, c, ev);
		if (ev->err == 0 && (ev->type == CL_NODE_EV_GRANTED ||
				     ev->type == CL_NODE_EV_INDEX_DONE ||
				     ev->type == CL_NODE_EV_SYNC_DONE))
			note_dstop_answer(s, n, c, ev->type);
		if (ev->type != CL_NODE_EV_QUEUED)
			c->req_active = false;   /* answered: liveness satisfied */
	}
	if (ev->type == CL_NODE_EV_REVOKED)
		s->res->revokes++;
	client_push(s, c, ev, name);
}

static void op_action(void *ctx, const struct cl_action *a)
{
	struct node *n = ctx;
	struct sim *s = n->sim;
	int name = name_index(s, a->name, a->namelen);

	if (s->tracing && a->type != CL_ACT_INDEX_CHANGED)
		TR(s, "n%u act %s node %u owner %u name %s mode %u err %d req %" PRIu64
		   " epoch %" PRIu64 " version %" PRIu64 " count %" PRIu64, n->id,
		   cl_action_type_name(a->type), a->node, a->owner, name >= 0 ? sim_names[name] : "-",
		   a->mode, a->err, a->req_id, a->epoch, a->version, a->count);
	else if (s->tracing)
		TR(s, "n%u act index-changed name %s key %.*s %s version %" PRIu64, n->id,
		   name >= 0 ? sim_names[name] : "-", a->keylen, a->key ? (const char *)a->key : "",
		   a->deleted ? "deleted" : "put", a->version);
	if (name < 0)
		return;
	if (a->type == CL_ACT_GRANT && a->node == n->id &&
	    a->epoch != s->epochs[name].granted[n->idx]) {
		s->epochs[name].granted[n->idx] = a->epoch;
		s->epochs[name].granted_at[n->idx] = s->deliver_first ? s->deliver_first : s->now;
	}
	if (a->type == CL_ACT_INDEX_EVICTED) {
		for (unsigned k = 0; k < SIM_MAX_KEYS; k++)
			s->oracle[name][k].st = O_NONE;
		if (a->version > s->evicted_upto[name])
			s->evicted_upto[name] = a->version;
	} else if (a->type == CL_ACT_INDEX_CHANGED) {
		int k = key_index(a->key, a->keylen);
		struct oracle *o;

		if (k < 0)
			return;
		o = &s->oracle[name][k];
		/*
		 * A later write, acknowledged or not, supersedes the acknowledged
		 * one -- even one applied only by a minority in its transitional
		 * delivery: that lineage may legitimately win the next merge.  It
		 * supersedes a write not yet acknowledged as well (applied).
		 */
		if (o->st != O_NONE && a->version > o->version)
			o->st = O_NONE;
		applied_note(&s->applied[name][k], a->version);
	}
}

static void op_log(void *ctx, int level, const char *msg)
{
	struct node *n = ctx;

	if (level <= LOG_ERR)
		snprintf(n->last_err, sizeof(n->last_err), "%s", msg);
	TR(n->sim, "n%u log<%d> %s", n->id, level, msg);
}

static const struct cl_node_ops sim_ops = {
	.now = op_now,
	.mcast = op_mcast,
	.event = op_event,
	.action = op_action,
	.log = op_log,
};

/* --------------------------------------------------------- client calls */

static void client_req_done(struct sim *s, struct client *c);

/*
 * The uid a client writes the index as: three uids (root among them) by
 * slot, so the per-uid quota of the index-bounded seeds decides puts, and
 * its evictions, on every replica from the uid in the message.
 */
static uint32_t sim_uid(const struct client *c)
{
	return (uint32_t)(c->slot % 3) * 1000u;
}

/* Runs one client call against a live agent. */
static void exec_call(struct sim *s, struct node *n, const struct call *k)
{
	struct client *c = client_by_id(s, k->client);
	const char *nm = sim_names[k->name];
	const char *key = sim_keys[k->key];
	static uint8_t val[COROLEASE_VALUE_MAX];
	uint32_t tag;
	int rc = 0;

	if (k->kind != CALL_GONE && (!c || !c->alive))
		return;          /* the client died while the call waited */
	agent_changed(n);        /* AGENT() around the switch */
	switch (k->kind) {
	case CALL_ACQ:
		/*
		 * as privileged users: a local waiter has the holders in its way
		 * revoked whatever their uid (the policy for other users is
		 * check_node's), so the workload's handovers stay as they were
		 */
		if (n->ntags == n->captags) {
			n->captags = n->captags ? 2 * n->captags : 64;
			n->tags = xrealloc(n->tags, n->captags * sizeof(*n->tags));
		}
		tag = (uint32_t)n->ntags++;
		n->tags[tag] = (struct tagrec){ .client = c->id, .uid = sim_uid(c), .live = true };
		c->tags_live++;
		/* a quarter of the clients ask to be killed past a revoke deadline (COROLEASE_KILL) */
		rc = cl_node_acquire_tagged(n->cn, k->client, k->cookie, sim_uid(c), tag, nm,
					    strlen(nm), k->mode,
					    k->flags | CL_NODE_PRIVILEGED |
					    ((c->id & 3) == 1 ? CL_NODE_KILL : 0), k->timeout);
		if (rc < 0 && n->tags[tag].live) {   /* no hold was made */
			n->tags[tag].live = false;
			c->tags_live--;
		}
		break;
	case CALL_REL:
		rc = cl_node_release(n->cn, k->client, nm, strlen(nm));
		break;
	case CALL_GONE:
		cl_node_client_gone(n->cn, k->client);
		if (c)
			c->gone_called = true;
		break;
	case CALL_PUT:
		val_fill(val, k->vallen, k->val_seed);
		rc = cl_node_index_put(n->cn, k->client, k->cookie, sim_uid(c), nm, strlen(nm),
				       key, strlen(key), val, k->vallen);
		break;
	case CALL_DEL:
		rc = cl_node_index_del(n->cn, k->client, k->cookie, nm, strlen(nm), key,
				       strlen(key));
		break;
	case CALL_SYNC:
		rc = cl_node_sync(n->cn, k->client, k->cookie);
		break;
	case CALL_EVICT:
		rc = cl_node_evict(n->cn, k->client, k->cookie, nm, strlen(nm));
		break;
	case CALL_FENCE:
		rc = cl_node_fence_ack(n->cn, k->client, k->cookie, k->target, false);
		break;
	}
	agent_changed(n);
	if (c && c->node == n->idx)
		check_tag_count(s, n, c);
	TR(s, "n%u call kind %u client %" PRIx64 " cookie %" PRIu64 " name %s key %s mode %u "
	   "flags %u timeout %" PRIu64 " target %u -> %d", n->id, k->kind, k->client, k->cookie,
	   nm, key, k->mode, k->flags, k->timeout, k->target, rc);
	if (rc == -EALREADY)
		violation(s, SIM_INV_PROTO, "node %u: acquire of %s by client %" PRIx64
			  " returned -EALREADY, but the client neither holds nor waits for it",
			  n->id, nm, k->client);
	if (rc < 0 && k->kind <= CALL_FENCE && c && c->req_active && c->req.cookie == k->cookie) {
		/* refused without an event: the request is over */
		if (k->kind == CALL_ACQ)
			c->holds[k->name].st = H_NONE;
		c->req_active = false;
		client_req_done(s, c);
	}
	node_sched_tick(s, n);
}

/* A client call: at once, or queued while the agent is paused. */
static void node_call(struct sim *s, struct node *n, const struct call *k)
{
	if (!n->up)
		return;
	if (n->freeze != FZ_NONE) {
		if (n->ncalls == n->capcalls) {
			n->capcalls = n->capcalls ? 2 * n->capcalls : 8;
			n->calls = xrealloc(n->calls, n->capcalls * sizeof(*n->calls));
		}
		n->calls[n->ncalls++] = *k;
		return;
	}
	exec_call(s, n, k);
}

static void run_deferred_calls(struct sim *s, struct node *n)
{
	/* exec_call never queues (the node is live), so the array is stable */
	for (size_t i = 0; i < n->ncalls && node_live(n); i++)
		exec_call(s, n, &n->calls[i]);
	n->ncalls = 0;
}

/* A new entry at the end of n's dq (its daemon is stopped alone). */
static struct dq_ent *dq_push(struct node *n, uint8_t kind)
{
	struct dq_ent *d;

	if (n->ndq == n->capdq) {
		n->capdq = n->capdq ? 2 * n->capdq : 16;
		n->dq = xrealloc(n->dq, n->capdq * sizeof(*n->dq));
	}
	d = &n->dq[n->ndq++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	return d;
}

/* Drops what waits in n's dq (its daemon died, or the run ends). */
static void dq_clear(struct node *n)
{
	for (size_t i = 0; i < n->ndq; i++)
		msg_unref(n->dq[i].m);
	n->ndq = 0;
}

/* ------------------------------------------------------------ votequorum */

/*
 * Each node's corosync runs a votequorum (exec/votequorum.c): one vote per
 * node, expected_votes of the configuration (plus the quorum device's), and
 * per seed the modes two_node (with its automatic wait_for_all),
 * last_man_standing (with its window), auto_tie_breaker (lowest node id),
 * wait_for_all, or a quorum device (one vote, given by an ffsplit arbiter
 * to the largest partition, the lowest node id on a tie).  A node's state
 * changes at each new ring (sync_init, then recalculate_quorum(0, 0) at
 * sync_activate), when its last_man_standing timer fires
 * (recalculate_quorum(1, 1)) and when its quorum device's vote changes.
 * Only the corosyncs of a ring count, whatever their daemons do.
 */

static unsigned vq_popcount(uint32_t m)
{
	return popcount32(m);
}

/* votequorum_sync_init() for n's ring of members `mask`. */
static void vq_sync_init(struct sim *s, struct node *n, uint32_t mask)
{
	struct vq *v = &n->vq;
	unsigned cnt = vq_popcount(mask);
	bool left = (v->members & ~mask) != 0;

	if (s->vq_lms &&
	    ((cnt >= v->quorum && left) ||
	     (cnt <= v->quorum && s->vq_atb && (mask & (1u << v->lowest))))) {
		v->lms_gen++;
		ev_push(s, s->now + s->lms_window, EV_LMS, n->idx, v->lms_gen, 0);
	}
	v->prev_members = v->members;
	v->members = mask;
}

/*
 * recalculate_quorum() with calculate_quorum() and are_we_quorate(); the
 * members' expected votes are those they sent in their nodeinfo (highest).
 * Returns true when the quorate flag changed.
 */
static bool vq_recalc(struct sim *s, struct node *n, bool allow_decrease, unsigned highest)
{
	struct vq *v = &n->vq;
	unsigned members = vq_popcount(v->members);
	unsigned qdev_cfg = s->vq_qdev ? 1 : 0;
	unsigned total_all = members + qdev_cfg;          /* get_total_votes() */
	unsigned total = members + (s->vq_qdev && v->qvote ? 1 : 0);
	unsigned nodes = total, q1, q2, newq;
	bool was = v->quorate, q;

	if (total_all > v->expected)
		v->expected = total_all;
	if (allow_decrease)
		highest = total_all;    /* by_current_nodes: max_expected = cluster members */
	else if (v->expected > highest)
		highest = v->expected;
	q1 = (highest + 2) / 2;
	q2 = (total + 2) / 2;
	newq = q1 > q2 ? q1 : q2;
	if (!allow_decrease && v->quorum > newq)
		newq = v->quorum;
	if (s->vq_two_node && nodes <= 2)
		newq = 1;
	v->quorum = newq;
	if (allow_decrease)
		v->expected = total_all;   /* update_node_expected_votes() */
	/* are_we_quorate() */
	if (s->vq_wfa && v->wfa) {
		if (total != v->expected)
			return false;   /* waiting for all: stays inquorate */
		v->wfa = false;
	}
	q = v->quorum <= total;
	if (q) {
		for (unsigned i = 0; i < s->n; i++)
			if (v->members & (1u << i)) {
				v->lowest = i;     /* get_lowest_node_id(): ids ascend with i */
				break;
			}
	}
	if (s->vq_atb && total == v->expected / 2 &&
	    (int)vq_popcount(v->prev_members) - (int)members < (int)v->quorum &&
	    (v->members & (1u << v->lowest)))
		q = true;
	if (s->vq_wfa)
		v->wfa = !q;
	v->quorate = q;
	return q != was;
}

/* corosync (re)starts on n: votequorum from its configuration. */
static void vq_boot(struct sim *s, struct node *n)
{
	struct vq *v = &n->vq;

	v->expected = s->n + (s->vq_qdev ? 1 : 0);
	v->quorum = 0;
	v->quorate = false;
	v->wfa = s->vq_wfa;
	v->members = v->prev_members = 0;
	v->lowest = n->idx;
	v->qvote = false;
	v->lms_gen++;
	v->qdev_cut = false;
}

/* The highest expected votes the members of mask sent in their nodeinfo. */
static unsigned vq_highest(const struct sim *s, uint32_t mask)
{
	unsigned h = 0;

	for (unsigned i = 0; i < s->n; i++)
		if ((mask & (1u << i)) && s->nodes[i].vq.expected > h)
			h = s->nodes[i].vq.expected;
	return h;
}

/*
 * The quorum device's arbiter (qnetd, ffsplit): its vote goes to the
 * partition with the most nodes, on a tie to the one with the lowest node
 * id; a node cut off from it keeps the vote it had until its qdevice
 * timeout (qdev_timeout_at), then loses it.
 */
static uint32_t qdev_winner(const struct sim *s)
{
	uint32_t best = 0;

	for (int ci = 0; ci < SIM_MAX_COMPS; ci++) {
		const struct comp *c = &s->comps[ci];

		if (!c->used || c->broken)
			continue;
		if (!best || vq_popcount(c->mask) > vq_popcount(best) ||
		    (vq_popcount(c->mask) == vq_popcount(best) &&
		     __builtin_ctz(c->mask) < __builtin_ctz(best)))
			best = c->mask;
	}
	return best;
}

/* n's daemon reads verdict number gen, unless a later one overtook it. */
static void vq_tell(struct sim *s, struct node *n, uint64_t gen, bool quorate,
		    const struct cl_ring *ring)
{
	if (gen <= n->vq_told || !n->up)
		return;
	n->vq_told = gen;
	if (quorate && (!n->vq_told_q || n->vq_told_ring.rep != ring->rep ||
			n->vq_told_ring.seq != ring->seq))
		n->vq_q_since = s->now;
	n->vq_told_q = quorate;
	n->vq_told_ring = *ring;
	TR(s, "n%u votequorum ring %u.%" PRIu64 ": %squorate%s", n->id, ring->rep, ring->seq,
	   quorate ? "" : "not ", s->qmodes ? " (split-capable mode)" : "");
	/* as lockd/quorum.c: not every expected vote present (total_votes < highest_expected) */
	unsigned qm = s->qmodes;
	if (popcount32(n->vq.members) < s->n)
		qm |= CL_QMODE_INCOMPLETE;
	AGENT(n, cl_node_quorum_mode(n->cn, qm));
	/*
	 * as lockd/quorum.c: the vote count read when the verdict is (one vote
	 * per node; the quorum device's counts in expected, and its mode keeps
	 * the agent from counting votes)
	 */
	struct cl_node_vote votes[SIM_MAX_NODES];
	size_t nv = 0;
	for (unsigned i = 0; i < s->n; i++)
		if (n->vq.members & (1u << i))
			votes[nv++] = (struct cl_node_vote){ s->nodes[i].id, 1 };
	AGENT(n, cl_node_votes(n->cn, ring, n->vq.quorum, n->vq.expected, votes, nv));
	AGENT(n, cl_node_quorum(n->cn, quorate, ring));
	node_sched_tick(s, n);
}

/* Verdict number gen waits in n's dq for its stopped daemon. */
static void dq_verdict(struct sim *s, struct node *n, uint64_t gen, bool quorate,
		       const struct cl_ring *ring)
{
	struct dq_ent *d = dq_push(n, DQ_VERDICT);

	TR(s, "n%u votequorum ring %u.%" PRIu64 ": %squorate: queued (daemon stopped)", n->id,
	   ring->rep, ring->seq, quorate ? "" : "not ");
	d->gen = gen;
	d->quorate = quorate;
	d->ring = *ring;
}

/* The verdict n's daemon is told, now or `delay` later (when it dispatches votequorum). */
static void vq_notify(struct sim *s, struct node *n, bool quorate, const struct cl_ring *ring,
		      uint64_t delay)
{
	uint64_t gen = ++n->vq_ngen;

	if (!delay && daemon_held(n))
		dq_verdict(s, n, gen, quorate, ring);
	else if (delay || !node_live(n))
		ev_push(s, s->now + delay, EV_VERDICT, n->idx, gen,
			(ring->seq << 32) | ((uint64_t)ring->rep << 1) | quorate);
	else
		vq_tell(s, n, gen, quorate, ring);
}

static void on_verdict(struct sim *s, const struct ev *e)
{
	struct node *n = &s->nodes[e->a];
	struct cl_ring ring = { .rep = (uint32_t)(e->c & 0xffffffffu) >> 1, .seq = e->c >> 32 };

	if (e->b <= n->vq_told || !n->up)
		return;           /* overtaken by a later one, or the daemon is gone */
	if (daemon_held(n)) { /* waits behind what corosync queued before it */
		dq_verdict(s, n, e->b, e->c & 1, &ring);
		return;
	}
	if (!node_live(n)) {  /* read when the daemon runs again */
		ev_push(s, n->freeze ? n->thaw_at : s->now + MS, EV_VERDICT, e->a, e->b, e->c);
		return;
	}
	vq_tell(s, n, e->b, e->c & 1, &ring);
}

/* A random dispatch delay for a verdict (0: at once). */
static uint64_t vq_delay(struct sim *s)
{
	return rng_ppm(&s->rng, s->vq_late_ppm) ? rng_range(&s->rng, 1, s->vq_late_max) : 0;
}

/*
 * A ring formed (or n alone woke into one): every member's votequorum runs
 * its sync.  The nodeinfo they exchange carries their expected votes from
 * before it; quorum devices vote for the new partitions.
 */
static void vq_ring_sync(struct sim *s, int ci)
{
	struct comp *c = &s->comps[ci];
	unsigned highest = 0;
	uint32_t win = s->vq_qdev ? qdev_winner(s) : 0;

	highest = vq_highest(s, c->mask);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		if (!(c->mask & (1u << i)))
			continue;
		if (s->vq_qdev && !n->vq.qdev_cut)
			n->vq.qvote = win == c->mask;
		vq_sync_init(s, n, c->mask);
		vq_recalc(s, n, false, highest);
	}
}

/*
 * After new rings formed: a quorum device may move its vote between
 * partitions that did not change; their nodes' votequorum recalculates and
 * tells a changed verdict for the same ring (a flap within one ring).
 */
static void vq_qdev_poll(struct sim *s)
{
	uint32_t win;

	if (!s->vq_qdev)
		return;
	win = qdev_winner(s);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];
		bool vote;

		if (n->vq.qdev_cut || n->comp < 0 || s->comps[n->comp].broken || !cs_live(s, n))
			continue;
		vote = win == s->comps[n->comp].mask;
		if (vote == n->vq.qvote)
			continue;
		n->vq.qvote = vote;
		if (vq_recalc(s, n, false, vq_highest(s, n->vq.members)))
			vq_notify(s, n, n->vq.quorate, &s->comps[n->comp].ring, vq_delay(s));
	}
}

/* The last_man_standing window passed: expected votes come down to the members. */
static void on_lms(struct sim *s, const struct ev *e)
{
	struct node *n = &s->nodes[e->a];

	if (e->b != n->vq.lms_gen || !cs_live(s, n) || !n->vq.quorate || n->comp < 0)
		return;
	TR(s, "n%u votequorum: last_man_standing window over; expected votes %u -> %u", n->id,
	   n->vq.expected, vq_popcount(n->vq.members));
	if (vq_recalc(s, n, true, 0))
		vq_notify(s, n, n->vq.quorate, &s->comps[n->comp].ring, vq_delay(s));
}

/* n's quorum device loses its vote (its qdevice timeout after being cut off). */
static void on_qdev_lost(struct sim *s, const struct ev *e)
{
	struct node *n = &s->nodes[e->a];

	if (e->b != n->vq.qdev_gen || !n->vq.qdev_cut || !n->vq.qvote)
		return;
	n->vq.qvote = false;
	TR(s, "n%u votequorum: lost contact with the quorum device", n->id);
	if (cs_live(s, n) && n->comp >= 0 && vq_recalc(s, n, false, vq_highest(s, n->vq.members)))
		vq_notify(s, n, n->vq.quorate, &s->comps[n->comp].ring, vq_delay(s));
}

/* ----------------------------------------------------------------- the bus */

struct split_ctx {
	struct node *n;
	uint32_t sender;
};

static void deliver_part(void *ctx, const uint8_t *msg, size_t len)
{
	struct split_ctx *x = ctx;

	AGENT(x->n, cl_node_deliver(x->n->cn, x->sender, msg, len));
}

/*
 * Calls fn for each message of batch m, which cl_batch_split() already took
 * (batch_ok): its second pass, without decoding every message again to
 * validate the batch -- the answer for the same bytes is the same.
 */
static void batch_parts(const struct msg *m, cl_batch_fn fn, void *ctx)
{
	size_t pos = CL_BATCH_HDR_LEN;

	for (unsigned i = cl_get_u16(m->data + 2); i > 0; i--) {
		uint32_t ml = cl_get_u32(m->data + pos);

		fn(ctx, m->data + pos + 4, ml);
		pos += 4 + ml;
	}
}

/* One CPG message to n: a batch is split as lockd/cpg.c's deliver_fn() does. */
static void deliver_one(struct sim *s, struct node *n, const struct msg *m, bool trans)
{
	if (daemon_held(n)) {    /* corosync keeps it for the stopped daemon */
		struct dq_ent *d = dq_push(n, DQ_MSG);

		TR(s, "n%u deliver%s #%" PRIu64 " %s from n%u: queued (daemon stopped)", n->id,
		   trans ? " (transitional)" : "", m->id, msg_type(m), m->sender);
		if (!m->first_at)
			((struct msg *)m)->first_at = s->now;
		d->m = msg_ref((struct msg *)m);
		d->trans = trans;
		d->in_trans = n->in_trans;
		d->trans_quorate = n->trans_quorate;
		return;
	}
	TR(s, "n%u deliver%s #%" PRIu64 " %s from n%u", n->id, trans ? " (transitional)" : "",
	   m->id, msg_type(m), m->sender);
	if (!m->first_at)
		((struct msg *)m)->first_at = s->now;
	s->deliver_first = m->first_at;
	if (m->len && m->data[0] == CL_BATCH_MAGIC) {
		struct split_ctx x = { n, m->sender };

		if (m->batch_ok > 0)
			batch_parts(m, deliver_part, &x);
		else if (!m->batch_ok)
			((struct msg *)m)->batch_ok = cl_batch_split(m->data, m->len, deliver_part,
								      &x) < 0 ? -1 : 1;
		if (m->batch_ok < 0)
			violation(s, SIM_INV_PROTO, "node %u: malformed batch #%" PRIu64 " from node %u",
				  n->id, m->id, m->sender);
	} else {
		AGENT(n, cl_node_deliver(n->cn, m->sender, m->data, m->len));
	}
	s->deliver_first = 0;
	node_sched_tick(s, n);
}

/* Whether n's daemon is in ring ci's CPG group, live, and the process that joined it. */
static bool group_live(const struct sim *s, int ci, const struct node *n)
{
	const struct comp *c = &s->comps[ci];

	return (c->gmask & (1u << n->idx)) && node_live(n) && n->comp == ci &&
	       c->ginc[n->idx] == n->incarnation;
}

/*
 * Whether n's daemon is in ring ci's group and gets what the group gets:
 * group_live(), or stopped alone (FZ_DAEMON: it waits in its dq).
 */
static bool group_in(const struct sim *s, int ci, const struct node *n)
{
	const struct comp *c = &s->comps[ci];

	return (c->gmask & (1u << n->idx)) && daemon_in(n) && n->comp == ci &&
	       c->ginc[n->idx] == n->incarnation;
}

/* Whether some member's votequorum finds ring c quorate (in split modes, one may not). */
static bool ring_quorate(const struct sim *s, const struct comp *c)
{
	for (unsigned i = 0; i < s->n; i++)
		if ((c->mask & (1u << i)) && s->nodes[i].vq.quorate)
			return true;
	return false;
}

/* n's daemon gets the configuration change of ring ci: its group as it is now. */
static void node_confchg(struct sim *s, struct node *n, int ci)
{
	struct comp *c = &s->comps[ci];
	uint32_t members[SIM_MAX_NODES], left[SIM_MAX_NODES], joined[SIM_MAX_NODES];
	uint32_t totem[SIM_MAX_NODES];
	uint32_t oldview = n->has_view ? n->view : 0;
	size_t nm, nl, nj, nt;

	nt = mask_ids(s, c->mask, totem);
	nm = mask_ids(s, c->gmask, members);
	nl = mask_ids(s, oldview & ~c->gmask, left);
	nj = mask_ids(s, c->gmask & ~oldview, joined);
	TR(s, "n%u confchg ring %u.%" PRIu64 " members %#x left %#x joined %#x (totem %#x)",
	   n->id, c->ring.rep, c->ring.seq, c->gmask, oldview & ~c->gmask, c->gmask & ~oldview,
	   c->mask);
	n->view = c->gmask;
	for (unsigned i = 0; i < s->n; i++)
		n->view_inc[i] = c->ginc[i];
	n->has_view = true;
	n->cpg_joined = true;
	if (daemon_held(n)) {    /* corosync keeps it for the stopped daemon */
		struct dq_ent *d = dq_push(n, DQ_CONFCHG);

		TR(s, "n%u: confchg queued (daemon stopped)", n->id);
		d->ring = c->ring;
		d->nt = (uint8_t)nt;
		d->nm = (uint8_t)nm;
		d->nl = (uint8_t)nl;
		d->nj = (uint8_t)nj;
		memcpy(d->totem, totem, sizeof(totem));
		memcpy(d->members, members, sizeof(members));
		memcpy(d->left, left, sizeof(left));
		memcpy(d->joined, joined, sizeof(joined));
		return;
	}
	/* lockd/cpg.c: the totem confchg's membership, before the group change of the ring */
	AGENT(n, cl_node_totem(n->cn, &c->ring, totem, nt));
	AGENT(n, cl_node_confchg(n->cn, &c->ring, members, nm, left, nl, joined, nj));
	node_sched_tick(s, n);
}

/* n's daemon gets its votequorum's verdict for ring ci, after `delay`. */
static void node_verdict(struct sim *s, struct node *n, int ci, uint64_t delay)
{
	vq_notify(s, n, n->vq.quorate, &s->comps[ci].ring, delay);
}

/*
 * When a daemon reads votequorum's verdict for a new ring: before even the
 * transitional deliveries (it dispatched votequorum first), right after the
 * confchg, or a while later.
 */
enum vq_when { VQ_FIRST, VQ_AFTER, VQ_LATE };

static enum vq_when vq_when(struct sim *s)
{
	if (rng_ppm(&s->rng, s->vq_first_ppm))
		return VQ_FIRST;
	return rng_ppm(&s->rng, s->vq_late_ppm) ? VQ_LATE : VQ_AFTER;
}

/* Queues a message or group change in ring ci: delivered in order, or kept while it is broken. */
static void comp_send(struct sim *s, int ci, struct msg *m)
{
	struct comp *c = &s->comps[ci];
	uint64_t at = s->now + rng_range(&s->rng, s->lat_min, s->lat_max);

	if (c->broken) {
		msgq_push(&c->inflight, m, 0);   /* comp_unbreak() sends it on */
		return;
	}
	if (at < c->last_at)
		at = c->last_at;
	c->last_at = at;
	msgq_push(&c->inflight, m, at);
	ev_push(s, at, EV_DELIVER, (uint32_t)ci, c->gen, 0);
	if (!m->grp && s->o->self_first)
		ev_push(s, s->now + s->lat_min / 2, EV_SELF, (uint32_t)ci, c->gen, m->id);
}

/*
 * The sender delivers its own message when the token lets it send it
 * (totem's agreed delivery needs only the messages before it), before the
 * others receive it -- if it has delivered everything before it in the
 * ring, which the only messages before it being its own early ones stands
 * for.  Everyone else gets it at on_deliver().
 */
static void on_self(struct sim *s, const struct ev *e)
{
	struct comp *c = &s->comps[e->a];
	struct node *n;
	struct msg *m = NULL;
	uint32_t bit;

	if (!c->used || c->broken || c->gen != e->b)
		return;
	for (size_t k = c->inflight.head; k < c->inflight.len; k++) {
		struct msg *x = c->inflight.v[k].m;

		if (x->id == e->c) {
			m = x;
			break;
		}
		if (x->grp)
			return;   /* a group change before it: in its place in the order */
	}
	if (!m || !(n = node_by_id(s, m->sender)) || m->sender_inc != n->incarnation)
		return;
	bit = 1u << n->idx;
	for (size_t k = c->inflight.head; c->inflight.v[k].m != m; k++)
		if (!(c->inflight.v[k].m->dlv & bit))
			return;   /* an earlier message it has not delivered yet */
	if ((m->dlv & bit) || !group_in(s, (int)e->a, n) || n->cs != CS_RUN)
		return;
	m->dlv |= bit;
	deliver_one(s, n, m, false);
}

static struct msg *msg_new(struct sim *s, const struct node *n, const void *buf, size_t len)
{
	struct msg *m = xrealloc(NULL, sizeof(*m) + len);

	memset(m, 0, sizeof(*m));
	m->refs = 1;
	m->sender = n->id;
	m->sender_inc = n->incarnation;
	m->sender_cs = n->cs_inc;
	m->id = ++s->msg_id;
	m->sent = s->now;
	m->len = len;
	if (len)
		memcpy(m->data, buf, len);
	return m;
}

/*
 * Whether node j's daemon may be in ring ci's CPG group: under CPG the
 * others first see a previous process of it leave (a confchg of their
 * own), and only then the new one join.
 */
static bool group_joinable(const struct sim *s, int ci, const struct node *j)
{
	const struct comp *c = &s->comps[ci];

	if (!j->up || ((c->gmask & (1u << j->idx)) && c->ginc[j->idx] != j->incarnation))
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		const struct node *ni = &s->nodes[i];

		if (ni != j && (c->mask & (1u << i)) && ni->up && ni->has_view &&
		    (ni->view & (1u << j->idx)) && ni->view_inc[j->idx] != j->incarnation)
			return false;
	}
	return true;
}

/*
 * A daemon whose corosync is in a running ring but which is not in its
 * group joins it (its cpg_join): a group change ordered with the messages.
 */
static void try_joins(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];
		struct msg *m;

		if (!node_live(n) || n->cpg_joined || n->join_pending || n->comp < 0 ||
		    s->comps[n->comp].broken || n->cs != CS_RUN ||
		    (s->comps[n->comp].gmask & (1u << i)) || !group_joinable(s, n->comp, n))
			continue;
		m = msg_new(s, n, NULL, 0);
		m->grp = GRP_JOIN;
		n->join_pending = true;
		TR(s, "n%u's daemon joins the group of ring %u.%" PRIu64 " (#%" PRIu64 ")", n->id,
		   s->comps[n->comp].ring.rep, s->comps[n->comp].ring.seq, m->id);
		comp_send(s, n->comp, m);
	}
}

/* A group change reaches the group of running ring ci, in its place in the order. */
static void group_deliver(struct sim *s, int ci, const struct msg *m)
{
	struct comp *c = &s->comps[ci];
	struct node *j = node_by_id(s, m->sender);
	enum vq_when when;
	uint32_t bit;

	if (!j)
		return;
	bit = 1u << j->idx;
	if (m->grp == GRP_LEAVE) {
		if (!(c->gmask & bit) || c->ginc[j->idx] != m->sender_inc)
			return;
		c->gmask &= ~bit;
		TR(s, "ring %u.%" PRIu64 ": n%u's daemon left the group", c->ring.rep, c->ring.seq, j->id);
		for (unsigned i = 0; i < s->n && !s->stop; i++)
			if (group_in(s, ci, &s->nodes[i]))
				node_confchg(s, &s->nodes[i], ci);
		try_joins(s);
		return;
	}
	if (j->incarnation != m->sender_inc)
		return;
	j->join_pending = false;
	if (!daemon_in(j) || j->comp != ci || (c->gmask & bit) || j->cs != CS_RUN ||
	    !group_joinable(s, ci, j)) {
		try_joins(s);
		return;
	}
	c->gmask |= bit;
	c->ginc[j->idx] = j->incarnation;
	TR(s, "ring %u.%" PRIu64 ": n%u's daemon joined the group", c->ring.rep, c->ring.seq, j->id);
	for (unsigned i = 0; i < s->n && !s->stop; i++)
		if (i != j->idx && group_in(s, ci, &s->nodes[i]))
			node_confchg(s, &s->nodes[i], ci);
	if (s->stop)
		return;
	/* votequorum_trackstart: the current verdict, read before or after the confchg */
	when = vq_when(s);
	if (when == VQ_FIRST)
		node_verdict(s, j, ci, 0);
	if (!s->stop && daemon_in(j))
		node_confchg(s, j, ci);
	if (!s->stop && daemon_in(j) && when != VQ_FIRST)
		node_verdict(s, j, ci, when == VQ_LATE ? rng_range(&s->rng, 1, s->vq_late_max) : 0);
}

static void on_deliver(struct sim *s, const struct ev *e)
{
	struct comp *c = &s->comps[e->a];
	struct msg *m;
	uint64_t at;

	if (!c->used || c->broken || c->gen != e->b)
		return;
	m = msgq_pop(&c->inflight, &at);
	if (!m || at > s->now) {
		fprintf(stderr, "sim: internal error: delivery queue out of step\n");
		abort();
	}
	if (m->grp) {
		group_deliver(s, (int)e->a, m);
	} else {
		for (unsigned i = 0; i < s->n && !s->stop; i++)
			if (group_in(s, (int)e->a, &s->nodes[i]) && !(m->dlv & (1u << i)))
				deliver_one(s, &s->nodes[i], m, false);
	}
	msg_unref(m);
}

static int comp_alloc(struct sim *s, uint32_t mask)
{
	for (int i = 0; i < SIM_MAX_COMPS; i++) {
		struct comp *c = &s->comps[i];

		if (!c->used) {
			uint64_t gen = c->gen + 1;

			memset(c, 0, sizeof(*c));
			c->used = true;
			c->gen = gen;
			c->mask = mask;
			for (unsigned j = 0; j < s->n; j++)
				c->cs_inc[j] = s->nodes[j].cs_inc;
			s->ring_seq += 4;
			c->ring.seq = s->ring_seq;
			c->ring.rep = s->nodes[__builtin_ctz(mask)].id;
			c->stable_since = s->now;
			return i;
		}
	}
	fprintf(stderr, "sim: internal error: out of components\n");
	abort();
}

static void comp_free(struct sim *s, int ci)
{
	struct comp *c = &s->comps[ci];

	msgq_clear(&c->inflight);
	c->used = false;
	c->gen++;
}

/*
 * Totem's agreed delivery waits only for the messages before one, not for
 * the others to have it: before the ring broke, each member had delivered,
 * in the regular configuration, the unbroken run of undelivered messages it
 * had received -- a sender its own at once, the moment the token let it
 * send them.  So a sender may apply its message, and an own message sent
 * after it, while no other member ever gets either (they form a ring
 * without it).  What a member delivered here it never delivers again
 * (m->dlv): not transitionally (join_ring()), not when the ring resumes.
 */
static void early_deliver(struct sim *s, int ci)
{
	struct comp *c = &s->comps[ci];

	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];
		uint32_t bit = 1u << i;

		if (!group_in(s, ci, n) || n->cs != CS_RUN)
			continue;
		for (size_t k = c->inflight.head; k < c->inflight.len; k++) {
			struct msg *m = c->inflight.v[k].m;

			if (m->grp || !(m->rcv & bit))
				break;
			if (m->dlv & bit)
				continue;
			m->dlv |= bit;
			deliver_one(s, n, m, false);
			if (s->stop || !group_in(s, ci, n))
				break;
		}
	}
}

/*
 * The token is lost: no more deliveries in the ring, sends are held.  Of its
 * undelivered messages, the sender's corosync has each (unless it died) and
 * every other member received it with probability rcv_ppm: what each
 * member's new ring delivers transitionally follows from that (join_ring).
 */
static void comp_break(struct sim *s, int ci)
{
	struct comp *c = &s->comps[ci];

	if (c->broken)
		return;
	TR(s, "ring %u.%" PRIu64 " (mask %#x) broken", c->ring.rep, c->ring.seq, c->mask);
	c->broken = true;
	c->gen++;
	c->stable_since = NEVER;
	c->broken_at = s->now;
	for (size_t k = c->inflight.head; k < c->inflight.len; k++) {
		struct msg *m = c->inflight.v[k].m;
		struct node *snd = node_by_id(s, m->sender);

		if (m->grp || !snd)
			continue;
		m->rcv = 0;
		if (snd->on && snd->cs_inc == m->sender_cs)
			m->rcv |= 1u << snd->idx;
		for (unsigned i = 0; i < s->n; i++)
			if ((c->mask & (1u << i)) && i != snd->idx &&
			    !(s->sc_side_only && s->nodes[i].group != snd->group) &&
			    rng_ppm(&s->rng, s->rcv_ppm))
				m->rcv |= 1u << i;
	}
	if (s->o->self_first)
		early_deliver(s, ci);
}

/* Sends everything n held while it had no working ring. */
static void send_held(struct sim *s, struct node *n)
{
	struct msg *m;

	while (n->comp >= 0 && !s->comps[n->comp].broken && (m = msgq_pop(&n->held, NULL))) {
		TR(s, "n%u sends held #%" PRIu64 " %s", n->id, m->id, msg_type(m));
		comp_send(s, n->comp, m);
	}
}

/* The token comes back: the same ring resumes, no configuration change. */
static void comp_unbreak(struct sim *s, int ci)
{
	struct comp *c = &s->comps[ci];
	struct msgq old = c->inflight;
	struct msg *m;

	TR(s, "ring %u.%" PRIu64 " (mask %#x) resumes", c->ring.rep, c->ring.seq, c->mask);
	c->broken = false;
	c->gen++;
	c->stable_since = s->now;
	memset(&c->inflight, 0, sizeof(c->inflight));
	c->last_at = 0;
	while ((m = msgq_pop(&old, NULL)))
		comp_send(s, ci, m);
	msgq_clear(&old);
	for (unsigned i = 0; i < s->n; i++)
		if (c->mask & (1u << i))
			send_held(s, &s->nodes[i]);
}

/*
 * Whether node j's corosync may be in a new ring now.  A restarted corosync
 * whose previous instance is still in a ring a reachable node believes in
 * waits: under CPG the others first see the old one leave.
 */
static bool totem_joinable(const struct sim *s, unsigned j)
{
	const struct node *nj = &s->nodes[j];

	if (!cs_live(s, nj))
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		const struct node *ni = &s->nodes[i];

		if (i != j && cs_live(s, ni) && ni->group == nj->group && ni->comp >= 0 &&
		    (s->comps[ni->comp].mask & (1u << j)) &&
		    s->comps[ni->comp].cs_inc[j] != nj->cs_inc)
			return false;
	}
	return true;
}

/* The rings that should be: connected, running, joinable corosyncs. */
static size_t desired_groups(const struct sim *s, uint32_t *groups_r)
{
	size_t k = 0;
	uint32_t done = 0;

	for (unsigned i = 0; i < s->n; i++) {
		uint32_t g = 0;

		if (!totem_joinable(s, i) || (done & (1u << i)))
			continue;
		for (unsigned j = 0; j < s->n; j++)
			if (totem_joinable(s, j) && s->nodes[j].group == s->nodes[i].group)
				g |= 1u << j;
		done |= g;
		groups_r[k++] = g;
	}
	return k;
}

/* True if every member of comp ci is running and still attached to it. */
static bool comp_intact(const struct sim *s, int ci)
{
	const struct comp *c = &s->comps[ci];

	for (unsigned i = 0; i < s->n; i++)
		if ((c->mask & (1u << i)) &&
		    (!cs_live(s, &s->nodes[i]) || s->nodes[i].comp != ci ||
		     c->cs_inc[i] != s->nodes[i].cs_inc))
			return false;
	return true;
}

/* Whether broken ring c lost members (not all of them go on together). */
static bool comp_lossy(const struct comp *c, const uint32_t *groups, size_t ng)
{
	for (size_t g = 0; g < ng; g++)
		if (groups[g] & c->mask)
			return (c->mask & ~groups[g]) != 0;
	return true;
}

/*
 * After any fault: breaks every running ring that is no longer a desired
 * group, resumes broken rings that are whole again, and schedules the
 * membership change: a token timeout (T: token + consensus) after a ring
 * lost a member, join_us after a change that only merges or adds.
 */
static void apply_faults(struct sim *s)
{
	uint32_t groups[SIM_MAX_NODES];
	size_t ng = desired_groups(s, groups);
	uint64_t at = 0;
	bool need = false;

	s->last_fault = s->now;
	for (int ci = 0; ci < SIM_MAX_COMPS; ci++) {
		struct comp *c = &s->comps[ci];
		bool want = false;

		if (!c->used)
			continue;
		for (size_t g = 0; g < ng; g++)
			if (groups[g] == c->mask)
				want = comp_intact(s, ci);
		if (!want)
			comp_break(s, ci);
		else if (c->broken)
			comp_unbreak(s, ci);
		if (!c->broken)
			continue;
		need = true;
		if (comp_lossy(c, groups, ng) && c->broken_at + s->token_us > at)
			at = c->broken_at + s->token_us;
	}
	for (unsigned i = 0; i < s->n; i++)
		if (cs_live(s, &s->nodes[i]) && s->nodes[i].comp < 0)
			need = true;
	if (need) {
		if (s->now + s->join_us > at)
			at = s->now + s->join_us;
		s->reform_pending = true;
		s->reform_gen++;
		ev_push(s, at, EV_REFORM, 0, s->reform_gen, 0);
	}
	try_joins(s);
}

/*
 * One member's passage into the new ring ci from old ring oci: if its daemon
 * was in the old group, it first delivers, in the old order, the old ring's
 * undelivered messages that some member of its transitional set (the old
 * members going to the same new ring) had received; then the configuration
 * change and the votequorum verdict; then what it held goes out.
 */
static void join_ring(struct sim *s, struct node *n, int ci, int oci)
{
	struct comp *c = &s->comps[ci];
	enum vq_when when = vq_when(s);

	if (when == VQ_FIRST)
		node_verdict(s, n, ci, 0);
	if (oci >= 0 && (s->comps[oci].gmask & (1u << n->idx)) &&
	    s->comps[oci].ginc[n->idx] == n->incarnation) {
		const struct msgq *old = &s->comps[oci].inflight;
		uint32_t trans = s->comps[oci].mask & c->mask;

		n->in_trans = true;
		n->trans_quorate = ring_quorate(s, c);
		for (size_t i = old->head; i < old->len && daemon_in(n) && !s->stop; i++) {
			const struct msg *m = old->v[i].m;

			if (!m->grp && (m->rcv & trans) && !(m->dlv & (1u << n->idx)))
				deliver_one(s, n, m, true);
		}
		n->in_trans = false;
	}
	if (s->stop || !daemon_in(n))
		return;
	node_confchg(s, n, ci);
	if (!s->stop && daemon_in(n) && when != VQ_FIRST)
		node_verdict(s, n, ci, when == VQ_LATE ? rng_range(&s->rng, 1, s->vq_late_max) : 0);
	if (!s->stop && daemon_in(n))
		send_held(s, n);
}

static void oracle_formation(struct sim *s, uint32_t mask, const char *what);

/* The membership protocol finishes: new rings form from broken ones. */
static void on_reform(struct sim *s, const struct ev *e)
{
	uint32_t groups[SIM_MAX_NODES];
	size_t ng;
	int newc[SIM_MAX_NODES];
	int oldc[SIM_MAX_NODES];
	size_t nnew = 0;

	if (e->b != s->reform_gen)
		return;
	s->reform_pending = false;
	ng = desired_groups(s, groups);
	for (int ci = 0; ci < SIM_MAX_COMPS; ci++) {
		bool want = false;

		if (!s->comps[ci].used || s->comps[ci].broken)
			continue;
		for (size_t g = 0; g < ng; g++)
			if (groups[g] == s->comps[ci].mask)
				want = comp_intact(s, ci);
		if (!want)
			comp_break(s, ci);
	}
	for (size_t g = 0; g < ng; g++) {
		int match = -1;

		for (int ci = 0; ci < SIM_MAX_COMPS; ci++)
			if (s->comps[ci].used && s->comps[ci].mask == groups[g] && comp_intact(s, ci))
				match = ci;
		if (match >= 0) {
			if (s->comps[match].broken)
				comp_unbreak(s, match);
			continue;
		}
		newc[nnew++] = comp_alloc(s, groups[g]);
	}
	/* remember each member's old ring before anyone moves */
	for (unsigned i = 0; i < s->n; i++)
		oldc[i] = s->nodes[i].comp;
	for (size_t k = 0; k < nnew; k++) {
		struct comp *c = &s->comps[newc[k]];

		for (unsigned i = 0; i < s->n; i++)
			if (c->mask & (1u << i))
				s->nodes[i].comp = newc[k];
		/* the group: members' running daemons that CPG lets in */
		for (unsigned i = 0; i < s->n; i++) {
			struct node *n = &s->nodes[i];

			if (!(c->mask & (1u << i)))
				continue;
			n->join_pending = false;
			if (daemon_in(n) && group_joinable(s, newc[k], n)) {
				c->gmask |= 1u << i;
				c->ginc[i] = n->incarnation;
			}
		}
		TR(s, "ring %u.%" PRIu64 " forms: mask %#x group %#x", c->ring.rep, c->ring.seq,
		   c->mask, c->gmask);
	}
	for (size_t k = 0; k < nnew; k++)
		vq_ring_sync(s, newc[k]);
	for (size_t k = 0; k < nnew && !s->stop; k++) {
		for (unsigned i = 0; i < s->n && !s->stop; i++) {
			struct node *n = &s->nodes[i];

			if (s->comps[newc[k]].gmask & (1u << i))
				join_ring(s, n, newc[k], oldc[i]);
		}
		if (!s->stop && ring_quorate(s, &s->comps[newc[k]]))
			oracle_formation(s, s->comps[newc[k]].gmask, "quorate ring");
	}
	/* dissolve the old rings; a paused or stalled member keeps what it had received */
	for (int ci = 0; ci < SIM_MAX_COMPS; ci++) {
		struct comp *c = &s->comps[ci];
		bool still = false;

		if (!c->used || !c->broken)
			continue;
		for (unsigned i = 0; i < s->n; i++) {
			struct node *n = &s->nodes[i];

			if (n->comp != ci)
				continue;
			if (n->on && ((n->freeze != FZ_NONE && n->freeze != FZ_DAEMON) ||
				      n->cs == CS_STALL)) {
				msgq_clear(&n->ghostq);
				for (size_t j = c->inflight.head; j < c->inflight.len; j++)
					if (!c->inflight.v[j].m->grp &&
					    (c->inflight.v[j].m->rcv & (1u << i)) &&
					    !(c->inflight.v[j].m->dlv & (1u << i)))
						msgq_push(&n->ghostq, msg_ref(c->inflight.v[j].m), 0);
				n->ghost = true;
				n->comp = -1;
				TR(s, "n%u (paused) loses ring %u.%" PRIu64 "; %zu messages pending",
				   n->id, c->ring.rep, c->ring.seq, msgq_count(&n->ghostq));
			} else {
				still = true;
			}
		}
		if (!still)
			comp_free(s, ci);
	}
	vq_qdev_poll(s);
	/* corosyncs held back above join in a later change; daemons join their group */
	for (unsigned i = 0; i < s->n; i++)
		if (cs_live(s, &s->nodes[i]) && s->nodes[i].comp < 0 && !s->reform_pending) {
			TR(s, "n%u joins with the next configuration change", s->nodes[i].id);
			s->reform_pending = true;
			s->reform_gen++;
			ev_push(s, s->now + s->join_us, EV_REFORM, 0, s->reform_gen, 0);
		}
	try_joins(s);
}

/*
 * A paused or stalled node wakes to find its ring gone: its corosync still
 * believes in it, originates there what it held, and delivers to itself
 * alone, transitionally, what it had of that ring and then its own held
 * messages -- before it learns it is alone (a singleton ring, not quorate).
 */
static void ghost_wake(struct sim *s, struct node *n)
{
	struct msgq held = n->held;
	struct msg *m;
	int ci;

	if (!n->ghost || n->cs != CS_RUN || n->freeze != FZ_NONE)
		return;
	n->ghost = false;
	ci = comp_alloc(s, 1u << n->idx);
	n->comp = ci;
	vq_ring_sync(s, ci);
	/*
	 * Only what corosync held when it woke is originated in the dead ring
	 * (it had the token then); what the daemon sends from now on waits for
	 * the next ring (sent there after the confchg below).
	 */
	memset(&n->held, 0, sizeof(n->held));
	if (!n->up || !n->cpg_joined) {
		msgq_clear(&n->ghostq);
		msgq_clear(&held);
		return;
	}
	s->comps[ci].gmask = 1u << n->idx;
	s->comps[ci].ginc[n->idx] = n->incarnation;
	n->in_trans = true;
	n->trans_quorate = false;
	while (node_live(n) && !s->stop && (m = msgq_pop(&n->ghostq, NULL))) {
		deliver_one(s, n, m, true);
		msg_unref(m);
	}
	while (node_live(n) && !s->stop && (m = msgq_pop(&held, NULL))) {
		TR(s, "n%u originates held #%" PRIu64 " in its dead ring", n->id, m->id);
		deliver_one(s, n, m, true);
		msg_unref(m);
	}
	n->in_trans = false;
	msgq_clear(&n->ghostq);
	msgq_clear(&held);
	if (s->stop || !node_live(n))
		return;
	join_ring(s, n, ci, -1);
}

/* ------------------------------------------------------------- lifecycle */

static void client_spawn(struct sim *s, unsigned slot);

/* The daemon starts (again): a new agent with no state, a new CPG process. */
static void daemon_start(struct sim *s, struct node *n)
{
	struct cl_node_config cfg = s->cfg;

	cfg.nodeid = n->id;
	cfg.epoch_floor = n->kept_floor;
	cfg.newest_term = n->kept_term;
	/*
	 * A table key of its own for each node and start, as every daemon draws
	 * one (cl_sm_config.table_key); from the seed, the node, its start and
	 * --key-salt, never from the rng: runs with other salts behave alike,
	 * or the tables' order leaks somewhere.
	 */
	cfg.sm.table_key.k0 = cl_hash_u64(cl_hash_u64(s->o->key_salt, s->res->seed), n->id);
	cfg.sm.table_key.k1 = cl_hash_u64(cfg.sm.table_key.k0, n->incarnation);
	AGENT(n, n->cn = cl_node_new(&cfg, &sim_ops, n));
	if (!n->cn) {
		violation(s, SIM_INV_PROTO, "cl_node_new failed for node %u", n->id);
		return;
	}
	n->up = true;
	n->incarnation++;
	n->vq_told = n->vq_ngen;   /* a new votequorum connection: nothing of the old one */
	n->vq_told_q = false;
	n->cpg_joined = false;
	n->join_pending = false;
	n->has_view = false;
	n->view = 0;
	n->tick_at = NEVER;
	n->tick_gen++;
	n->illegal_seen = 0;
	n->last_err[0] = 0;
	for (unsigned j = 0; j < s->cpn; j++)
		if (!s->clients[n->idx * SIM_CLIENTS_PER_NODE + j].used)
			client_spawn(s, n->idx * SIM_CLIENTS_PER_NODE + j);
	node_sched_tick(s, n);
}

/* The node powers on: corosync (a new instance) and the daemon start. */
static void node_start(struct sim *s, struct node *n)
{
	n->on = true;
	n->cs = CS_RUN;
	n->cs_inc++;
	vq_boot(s, n);
	n->cpg_back_at = 0;
	n->freeze = FZ_NONE;
	n->ghost = false;
	n->comp = -1;
	daemon_start(s, n);
}

/* What dies with the daemon process. */
static void daemon_gone(struct sim *s, struct node *n)
{
	for (unsigned i = 0; i < s->nslots; i++) {
		struct client *c = &s->clients[i];

		if (c->used && c->node == n->idx)
			client_end(s, c, END_CRASH);
	}
	AGENT(n, n->cn = cl_node_free(n->cn));
	n->ntags = 0;            /* its holds died with it, told to nobody */
	dq_clear(n);             /* what corosync kept for a stopped daemon dies with it */
	if (n->freeze == FZ_DAEMON) {
		n->freeze = FZ_NONE;
		n->fault_gen++;      /* no resume */
	}
	n->up = false;
	n->cpg_joined = false;
	n->join_pending = false;
	n->has_view = false;
	n->tick_gen++;
	n->tick_at = NEVER;
	n->ncalls = 0;
	n->blen = n->bcount = 0;   /* the batch died with the daemon */
	n->flush_armed = false;
	msgq_clear(&n->held);      /* simplification: its queued sends die with it */
}

/* The node loses power (a crash, or fencing): everything on it stops. */
static void node_crash(struct sim *s, struct node *n)
{
	TR(s, "FAULT: crash n%u", n->id);
	daemon_gone(s, n);
	n->on = false;
	if (n->clk_stopped)
		clk_stop(s, n, false);   /* power cycled: the clock runs again */
	n->freeze = FZ_NONE;
	n->cs = CS_RUN;
	n->ghost = false;
	n->comp = -1;
	n->kept_floor = 0;       /* /run is gone with the power */
	n->kept_term = (struct cl_ring){ 0, 0 };
	n->incarnation++;
	n->fault_gen++;
	msgq_clear(&n->ghostq);
}

/*
 * The daemon dies (kill -9, out of memory) while the node and its corosync
 * run on: CPG tells the group at once (a process leave, ordered with the
 * messages of the running ring); systemd restarts it a little later.
 */
static void daemon_crash(struct sim *s, struct node *n, uint64_t restart_in)
{
	TR(s, "FAULT: n%u's daemon dies (restart in %" PRIu64 " us)", n->id, restart_in);
	daemon_gone(s, n);
	if (n->comp >= 0 && (s->comps[n->comp].gmask & (1u << n->idx))) {
		struct msg *m = msg_new(s, n, NULL, 0);

		m->sender_inc = s->comps[n->comp].ginc[n->idx];
		m->grp = GRP_LEAVE;
		comp_send(s, n->comp, m);
	}
	n->daemon_gen++;
	ev_push(s, s->now + restart_in, EV_DAEMON_BACK, n->idx, n->daemon_gen, 0);
	apply_faults(s);
}

/*
 * The daemon reads, in order, what corosync kept for it while it was
 * stopped alone: messages, configuration changes, verdicts.
 */
static void dq_drain(struct sim *s, struct node *n)
{
	size_t i;

	for (i = 0; i < n->ndq && node_live(n) && !s->stop; i++) {
		struct dq_ent *d = &n->dq[i];

		switch (d->kind) {
		case DQ_MSG:
			n->in_trans = d->in_trans;
			n->trans_quorate = d->trans_quorate;
			deliver_one(s, n, d->m, d->trans);
			n->in_trans = false;
			break;
		case DQ_CONFCHG:
			TR(s, "n%u confchg ring %u.%" PRIu64 " (queued): %u members, %u left, "
			   "%u joined", n->id, d->ring.rep, d->ring.seq, d->nm, d->nl, d->nj);
			AGENT(n, cl_node_totem(n->cn, &d->ring, d->totem, d->nt));
			AGENT(n, cl_node_confchg(n->cn, &d->ring, d->members, d->nm, d->left, d->nl,
						 d->joined, d->nj));
			node_sched_tick(s, n);
			break;
		case DQ_VERDICT:
			vq_tell(s, n, d->gen, d->quorate, &d->ring);
			break;
		}
	}
	dq_clear(n);
}

static void node_resume(struct sim *s, struct node *n)
{
	unsigned order = (unsigned)rng_range(&s->rng, 0, 5);
	static const uint8_t perms[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};

	if (n->freeze == FZ_DAEMON)
		TR(s, "FAULT: n%u's daemon runs again (%zu inputs, %zu calls waiting)", n->id,
		   n->ndq, n->ncalls);
	else
		TR(s, "FAULT: resume n%u (ghost %d, %zu calls waiting)", n->id, n->ghost,
		   n->ncalls);
	if (n->clk_stopped)
		clk_stop(s, n, false);
	n->freeze = FZ_NONE;
	n->fault_gen++;
	n->tick_at = NEVER;
	n->tick_gen++;
	if (n->flush_armed)
		batch_arm(s, n, s->now);
	/* the woken daemon finds cpg, ipc and timers ready, in some order */
	for (unsigned k = 0; k < 3 && !s->stop && node_live(n); k++) {
		switch (perms[order][k]) {
		case 0:
			dq_drain(s, n);
			ghost_wake(s, n);
			break;
		case 1:
			run_deferred_calls(s, n);
			break;
		case 2:
			AGENT(n, cl_node_tick(n->cn));
			break;
		}
		node_sched_tick(s, n);
	}
	if (!s->stop)
		apply_faults(s);
}

/* corosync runs again after a stall (SIGCONT). */
static void stall_end(struct sim *s, struct node *n)
{
	TR(s, "FAULT: n%u's corosync runs again (ghost %d, %zu held)", n->id, n->ghost,
	   msgq_count(&n->held));
	n->cs = CS_RUN;
	if (node_live(n))
		ghost_wake(s, n);
	if (!s->stop)
		apply_faults(s);
}

static unsigned count_down(const struct sim *s)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->n; i++)
		k += !s->nodes[i].on;
	return k;
}

static bool partitioned(const struct sim *s)
{
	for (unsigned i = 1; i < s->n; i++)
		if (s->nodes[i].group != s->nodes[0].group)
			return true;
	return false;
}

/*
 * corosync dies under a running daemon: cl_node_transport_lost(), the node
 * leaves its ring at once (the others notice after the token timeout), its
 * clients live on and must stop by themselves, and a restarted corosync lets
 * it join again -- as a new CPG member -- after downtime.
 */
static void node_transport_restart(struct sim *s, struct node *n, uint64_t downtime)
{
	TR(s, "FAULT: corosync restarts under n%u (%" PRIu64 " us)", n->id, downtime);
	AGENT(n, cl_node_transport_lost(n->cn));
	n->comp = -1;
	n->ghost = false;
	n->has_view = false;
	n->view = 0;
	n->cpg_joined = false;
	n->join_pending = false;
	n->cs = CS_DOWN;
	n->cs_inc++;
	vq_boot(s, n);
	n->incarnation++;        /* a new CPG member to the others */
	n->blen = n->bcount = 0; /* cpg.c drops its batch with the connection */
	n->flush_armed = false;
	msgq_clear(&n->held);
	msgq_clear(&n->ghostq);
	n->cpg_back_at = s->now + downtime;
	ev_push(s, n->cpg_back_at, EV_CPG_BACK, n->idx, n->cs_inc, 0);
	node_sched_tick(s, n);
}

/* crash; usually restart later */
static void fault_crash(struct sim *s, struct node *n)
{
	uint64_t T = s->token_us;

	if (!n->up || count_down(s) + 1 >= s->n)
		return;
	node_crash(s, n);
	if (rng_ppm(&s->rng, 800000))
		ev_push(s, s->now + rng_range(&s->rng, T / 2, 10 * T), EV_RESTART, n->idx,
			n->fault_gen, 0);
	apply_faults(s);
}

/* a crash and restart in quick succession (a reboot) */
static void fault_reboot(struct sim *s, struct node *n)
{
	if (!n->up || count_down(s) + 1 >= s->n)
		return;
	node_crash(s, n);
	ev_push(s, s->now + rng_range(&s->rng, 1000, s->token_us / 2), EV_RESTART, n->idx,
		n->fault_gen, 0);
	apply_faults(s);
}

/*
 * A pause: sometimes shorter than the token timeout, mostly longer.  Of the
 * daemon and corosync alone (PROC), or of the whole node: a suspend
 * (CLOCK_BOOTTIME counts on), or a VM pause whose clock stands still
 * (short: vm_pause_max), at most one per 2 T a node.
 */
static void fault_pause(struct sim *s, struct node *n)
{
	static const char *const how[] = { "", "daemon and corosync", "suspend", "VM" };
	uint64_t T = s->token_us;
	uint64_t d = rng_ppm(&s->rng, 300000) ? rng_range(&s->rng, T / 10, T * 9 / 10)
					    : rng_range(&s->rng, T + T / 5, 6 * T);
	unsigned r = (unsigned)rng_range(&s->rng, 0, 99);
	uint8_t fz = r < 55 ? FZ_PROC : r < 80 ? FZ_SUSPEND : FZ_VM;

	if (!node_live(n))
		return;
	if (fz == FZ_VM && (!s->vm_pause_max || n->clk_stop_end + 2 * T > s->now))
		fz = FZ_SUSPEND;
	if (fz == FZ_VM)
		d = rng_range(&s->rng, s->vm_pause_max / 4, s->vm_pause_max);
	TR(s, "FAULT: pause n%u (%s) for %" PRIu64 " us", n->id, how[fz], d);
	n->freeze = fz;
	if (fz == FZ_VM)
		clk_stop(s, n, true);
	n->thaw_at = s->now + d;
	n->fault_gen++;
	n->tick_gen++;
	n->tick_at = NEVER;
	ev_push(s, n->thaw_at, EV_RESUME, n->idx, n->fault_gen, 0);
	apply_faults(s);
}

/*
 * The daemon dies; corosync and the node run on (restart: systemd).  A
 * daemon stopped alone dies too (kill -9, systemd's watchdog).
 */
static void fault_daemon(struct sim *s, struct node *n)
{
	if (!daemon_in(n))
		return;
	daemon_crash(s, n, rng_range(&s->rng, s->token_us / 10, 5 * s->token_us));
}

/*
 * corosync stalls while the daemon runs (SIGSTOP of corosync alone, a long
 * scheduling delay): mostly a little longer than the token timeout, so the
 * others form a ring without it just before it resumes.
 */
static void fault_stall(struct sim *s, struct node *n)
{
	uint64_t T = s->token_us;
	uint64_t d = rng_ppm(&s->rng, 250000) ? rng_range(&s->rng, T / 10, T * 9 / 10)
					    : rng_range(&s->rng, T + T / 50, 2 * T);

	if (!node_live(n) || n->cs != CS_RUN || n->comp < 0)
		return;
	TR(s, "FAULT: n%u's corosync stalls for %" PRIu64 " us", n->id, d);
	n->cs = CS_STALL;
	n->stall_gen++;
	ev_push(s, s->now + d, EV_STALL_END, n->idx, n->stall_gen, 0);
	apply_faults(s);
}

/*
 * The daemon alone stops (SIGSTOP of coroleased, a hung daemon) while its
 * corosync runs: the node stays in its ring, its CPG group and votequorum;
 * what corosync hands the daemon waits in its dq (deliver_one(),
 * node_confchg(), vq_notify()) and is read, in order, when it runs again
 * (node_resume()).  It does not tick, send or answer meanwhile; its clients
 * and its clock run on.  Short (T/10..0.9 T), mostly a few T, sometimes
 * long (6..20 T: a 30 s SIGSTOP).  Other faults can meet it: a partition,
 * a crash, the daemon killed (fault_daemon()).
 */
static void fault_dstop(struct sim *s, struct node *n)
{
	uint64_t T = s->token_us;
	unsigned r = (unsigned)rng_range(&s->rng, 0, 99);
	uint64_t d = r < 30 ? rng_range(&s->rng, T / 10, T * 9 / 10)
		   : r < 80 ? rng_range(&s->rng, T + T / 5, 6 * T)
			    : rng_range(&s->rng, 6 * T, 20 * T);

	if (!node_live(n) || n->cs != CS_RUN || n->ghost)
		return;
	TR(s, "FAULT: n%u's daemon stops (corosync runs on) for %" PRIu64 " us", n->id, d);
	s->res->dstops++;
	n->freeze = FZ_DAEMON;
	n->frozen_at = s->now;
	n->thaw_at = s->now + d;
	n->fault_gen++;
	n->tick_gen++;
	n->tick_at = NEVER;
	ev_push(s, n->thaw_at, EV_RESUME, n->idx, n->fault_gen, 0);
	s->last_fault = s->now;
}

/*
 * votequorum flaps within one ring (a quorum device's vote lost and back, an
 * administrator changing expected votes): on one node or every member, the
 * verdict says not quorate, then quorate again for the same ring.
 */
static void fault_flap(struct sim *s, struct node *n)
{
	uint64_t d = rng_range(&s->rng, MS, s->token_us / 2);
	bool all = rng_ppm(&s->rng, 300000);
	const struct comp *c;

	if (!node_live(n) || n->comp < 0 || s->comps[n->comp].broken || !n->vq.quorate)
		return;
	c = &s->comps[n->comp];
	TR(s, "FAULT: votequorum flaps for %" PRIu64 " us on %s of ring %u.%" PRIu64, d,
	   all ? "every member" : "one member", c->ring.rep, c->ring.seq);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *m = &s->nodes[i];

		if ((i == n->idx || (all && (c->mask & (1u << i)))) && m->vq.quorate && m->up) {
			vq_notify(s, m, false, &c->ring, all ? vq_delay(s) : 0);
			vq_notify(s, m, true, &c->ring, d + (all ? vq_delay(s) : 0));
		}
	}
}

/* A node's quorum device loses the arbiter for a while (qdevice seeds). */
static void fault_qdev(struct sim *s, struct node *n)
{
	uint64_t d = rng_range(&s->rng, s->token_us / 2, 3 * s->qdev_timeout);

	if (!s->vq_qdev || !n->on || n->vq.qdev_cut)
		return;
	TR(s, "FAULT: n%u's quorum device cannot reach the arbiter for %" PRIu64 " us", n->id, d);
	n->vq.qdev_cut = true;
	n->vq.qdev_gen++;
	ev_push(s, s->now + s->qdev_timeout, EV_QDEV_LOST, n->idx, n->vq.qdev_gen, 0);
	ev_push(s, s->now + d, EV_QDEV_BACK, n->idx, n->vq.qdev_gen, 0);
}

static void fault_transport(struct sim *s, struct node *n)
{
	if (!node_live(n) || n->comp < 0)
		return;
	node_transport_restart(s, n, rng_range(&s->rng, s->token_us / 10, 4 * s->token_us));
	apply_faults(s);
}

/* partition into 2 or 3 groups, often leaving a minority */
static void fault_partition(struct sim *s, struct node *n)
{
	uint64_t T = s->token_us;
	unsigned ngroups = rng_ppm(&s->rng, 750000) ? 2 : 3;
	bool split = false;

	(void)n;
	if (partitioned(s))
		return;
	while (!split) {
		for (unsigned i = 0; i < s->n; i++) {
			s->nodes[i].group = (uint32_t)rng_range(&s->rng, 0, ngroups - 1);
			if (s->nodes[i].group != s->nodes[0].group)
				split = true;
		}
	}
	if (s->tracing) {
		char buf[64];
		size_t off = 0;

		for (unsigned i = 0; i < s->n; i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u:%u",
						i ? " " : "", s->nodes[i].id, s->nodes[i].group);
		TR(s, "FAULT: partition %s", buf);
	}
	s->part_gen++;
	/* a quick heal: the new rings run a heartbeat or two, then merge again */
	if (rng_ppm(&s->rng, s->quick_heal_ppm))
		ev_push(s, s->now + T + rng_range(&s->rng, 0, 2 * s->cfg.heartbeat_us), EV_HEAL, 0,
			s->part_gen, 0);
	else
		ev_push(s, s->now + rng_range(&s->rng, 2 * T, 15 * T), EV_HEAL, 0, s->part_gen, 0);
	apply_faults(s);
}

/*
 * corosync's send queue fills (flow control): every send is refused with
 * -EAGAIN for a while.  The agent and the daemon's batch keep what they
 * could not send, and it all goes out at once when the queue drains.
 */
static void fault_congest(struct sim *s, struct node *n)
{
	uint64_t d = rng_range(&s->rng, MS, s->token_us / 3);

	/*
	 * Only where the daemon batches, as lockd/cpg.c always does (its mcast
	 * fails only once a 64 KiB batch is full).  --congest-unbatched
	 * congests the other seeds too: the agent's own mcast refused for long
	 * (it used to tick without end there, queueing a heartbeat per tick).
	 */
	if (!node_live(n) || (!s->batching && !s->o->congest_unbatched))
		return;
	TR(s, "FAULT: n%u: corosync's send queue is full for %" PRIu64 " us", n->id, d);
	n->congested_until = s->now + d;
}

/*
 * --scenario asym-view: CPG's asymmetric view of one membership change, as
 * corosync gives it under packet loss (d0b10b9; jepsen seed 20, 31% loss on
 * node 1).  The token of ring ci is lost: nobody delivers anything more in
 * it, sends are held (comp_break(), as for any break).  A token timeout
 * later (T: token + consensus) the nodes of `mask` form a ring of their own
 * -- the lossy node alone, or the rest without it -- because their consensus
 * timeout ran out before they heard the others' join messages.  The others
 * are still in gather, where they keep those nodes in their set; when the
 * join messages of both meet, all form the next ring together, a moment
 * later, without the others ever having formed a ring of their own.
 *
 * What each side delivers follows from totem's recovery: a new ring
 * recovers the old ring's messages among the members that come from that
 * same old ring.  So the nodes of mask deliver, on their way into the
 * interim ring, what one of them had received (join_ring(), trans = mask),
 * and the others, on their way into the next ring, what one of them had
 * (ci's mask loses `mask` below, so their trans set is the others alone):
 * one side, both or neither may apply a message, as at any split.  What
 * differs from a split is the configuration change: totem's transitional
 * list is the old ring's members that are in the new one (my_memb_list and
 * my_new_memb_list), so the others get a transitional and a regular
 * configuration that leave no one out and add no one, and CPG, which
 * computes the left list from the old and new member lists, tells them of
 * no one leaving or joining (cpg.c: "left 0, joined 0", a new ring id).
 * The nodes of mask see the others leave in the interim ring and join in
 * the next.  node_confchg() computes each node's lists from its own view,
 * which gives exactly that.
 *
 * The interim ring's votequorum is recalculated as at any ring; a quorum
 * device's arbiter gives it no vote (qnetd's ffsplit waits for every node's
 * membership report, and the others report none).  A variant that corosync
 * does not produce, not modelled: the others seeing a node leave and not
 * seeing it join again (CPG's join lists are exchanged at every ring).
 * False, doing nothing, if n is not in a running ring of two or more, or a
 * membership change is under way: a random fault instead.
 */
static bool fault_skip(struct sim *s, struct node *n)
{
	uint64_t T = s->token_us;
	struct comp *c;
	uint32_t mask, others;
	unsigned r;

	if (!node_live(n) || !cs_live(s, n) || n->comp < 0 || s->comps[n->comp].broken ||
	    popcount32(s->comps[n->comp].mask) < 2 || s->reform_pending)
		return false;
	c = &s->comps[n->comp];
	others = c->mask & ~(1u << n->idx);
	r = (unsigned)rng_range(&s->rng, 0, 99);
	if (r < 60) {
		mask = 1u << n->idx;            /* the lossy node alone (the jepsen case) */
	} else if (r < 80) {
		mask = others;                  /* the rest, without the lossy node */
	} else {                                /* any proper part of the ring */
		do {
			mask = (uint32_t)rng_next(&s->rng) & c->mask;
		} while (!mask || mask == c->mask);
	}
	TR(s, "FAULT: ring %u.%" PRIu64 " loses its token; in a token timeout %#x form a ring of "
	   "their own, the others (%#x) skip it", c->ring.rep, c->ring.seq, mask, c->mask & ~mask);
	s->res->skips++;
	s->last_fault = s->now;
	comp_break(s, n->comp);
	s->skip.gen++;
	s->skip.ci = n->comp;
	s->skip.cgen = c->gen;
	s->skip.mask = mask;
	ev_push(s, s->now + T, EV_SKIP, 0, s->skip.gen, 0);
	return true;
}

/*
 * The interim ring of fault_skip() forms, unless anything else moved ring
 * ci on meanwhile (any fault's apply_faults() resumes it, or re-forms it:
 * then this is an ordinary break); the next ring, with everyone, follows
 * join_us / 4 .. 2 join_us later, through on_reform().
 */
static void on_skip(struct sim *s, const struct ev *e)
{
	int ci = s->skip.ci, ni;
	struct comp *c = &s->comps[ci], *nc;
	uint32_t mask = s->skip.mask;

	if (e->b != s->skip.gen || !c->used || !c->broken || c->gen != s->skip.cgen ||
	    s->reform_pending || !s->faults_on)
		return;
	if (!comp_intact(s, ci)) {              /* cannot happen without apply_faults(); be safe */
		apply_faults(s);
		return;
	}
	s->last_fault = s->now;
	ni = comp_alloc(s, mask);
	nc = &s->comps[ni];
	c = &s->comps[ci];
	for (unsigned i = 0; i < s->n; i++) {
		struct node *m = &s->nodes[i];

		if (!(mask & (1u << i)))
			continue;
		m->comp = ni;
		m->join_pending = false;
		if (daemon_in(m) && group_joinable(s, ni, m)) {
			nc->gmask |= 1u << i;
			nc->ginc[i] = m->incarnation;
		}
	}
	TR(s, "ring %u.%" PRIu64 " forms: mask %#x group %#x (the others skip it, still in ring "
	   "%u.%" PRIu64 ")", nc->ring.rep, nc->ring.seq, nc->mask, nc->gmask, c->ring.rep,
	   c->ring.seq);
	/* vq_ring_sync(), but the arbiter votes for no one yet */
	for (unsigned i = 0; i < s->n; i++) {
		struct node *m = &s->nodes[i];

		if (!(mask & (1u << i)))
			continue;
		if (s->vq_qdev && !m->vq.qdev_cut)
			m->vq.qvote = false;
		vq_sync_init(s, m, mask);
		vq_recalc(s, m, false, vq_highest(s, mask));
	}
	for (unsigned i = 0; i < s->n && !s->stop; i++)
		if (nc->gmask & (1u << i))
			join_ring(s, &s->nodes[i], ni, ci);
	if (s->stop)
		return;
	if (ring_quorate(s, nc))
		oracle_formation(s, nc->gmask, "quorate ring");
	/* they left ring ci for good: the others recover its messages among themselves */
	c->mask &= ~mask;
	c->gmask &= ~mask;
	s->reform_pending = true;
	s->reform_gen++;
	ev_push(s, s->now + rng_range(&s->rng, s->join_us / 4, 2 * s->join_us), EV_REFORM, 0,
		s->reform_gen, 0);
	try_joins(s);
}

static bool sc_burst(struct sim *s);
static void sc_split(struct sim *s, uint32_t minority, bool side_only);

static const struct fault_kind {
	const char *name;
	unsigned weight;
	void (*fn)(struct sim *s, struct node *n);
} fault_kinds[] = {
	{ "crash", 16, fault_crash },
	{ "reboot", 6, fault_reboot },
	{ "pause", 22, fault_pause },
	{ "daemon", 10, fault_daemon },
	{ "stall", 12, fault_stall },
	{ "transport", 5, fault_transport },
	{ "partition", 24, fault_partition },
	{ "congest", 5, fault_congest },
	{ "flap", 6, fault_flap },
	{ "qdevice", 4, fault_qdev },
	{ "dstop", 12, fault_dstop },   /* last: --no-dstop draws as before it existed */
};

/* A fault kind's weight: with --no-dstop, the mix before fault_dstop() existed. */
static unsigned fault_weight(const struct sim *s, size_t k)
{
	return s->o->no_dstop && fault_kinds[k].fn == fault_dstop ? 0 : fault_kinds[k].weight;
}

static void on_fault(struct sim *s)
{
	uint64_t T = s->token_us;
	unsigned total = 0, r;
	size_t k;

	if (!s->faults_on)
		return;
	ev_push(s, s->now + rng_range(&s->rng, 2 * T, 12 * T), EV_FAULT, 0, 0, 0);
	if (s->o->scenario == SIM_SC_MINORITY_BURST && rng_ppm(&s->rng, s->sc_ppm) && sc_burst(s)) {
		s->res->faults++;
		return;
	}
	if (s->o->scenario == SIM_SC_ASYM_VIEW && rng_ppm(&s->rng, s->skip_ppm) &&
	    fault_skip(s, &s->nodes[rng_range(&s->rng, 0, s->n - 1)])) {
		s->res->faults++;
		return;
	}
	for (k = 0; k < sizeof(fault_kinds) / sizeof(fault_kinds[0]); k++)
		total += fault_weight(s, k);
	r = (unsigned)rng_range(&s->rng, 0, total - 1);
	for (k = 0; r >= fault_weight(s, k); k++)
		r -= fault_weight(s, k);
	s->res->faults++;
	fault_kinds[k].fn(s, &s->nodes[rng_range(&s->rng, 0, s->n - 1)]);
}

static void heal_all(struct sim *s)
{
	TR(s, "FAULT: heal");
	for (unsigned i = 0; i < s->n; i++)
		s->nodes[i].group = 0;
	s->part_gen++;
}

/* ----------------------------------------------------------------- clients */

static void client_wake_at(struct sim *s, struct client *c, uint64_t t)
{
	c->wake_gen++;
	ev_push(s, t, EV_WAKE, c->slot, c->id, c->wake_gen);
}

/* minority-burst: whether client c is one of the quorate side's, hurrying. */
static bool client_rushing(const struct sim *s, const struct client *c)
{
	return c->rush && s->now < s->sc_rush_until;
}

static void client_req_done(struct sim *s, struct client *c)
{
	client_wake_at(s, c, s->now + rng_range(&s->rng, 0, client_rushing(s, c) ? s->sc_think
										: s->think_max));
}

/* A new client process in slot on node index ni; it has not decided anything yet. */
static struct client *client_start(struct sim *s, unsigned slot, unsigned ni)
{
	struct client *c = &s->clients[slot];
	struct node *n = &s->nodes[ni];
	struct cev *inbox = c->inbox;

	memset(c, 0, sizeof(*c));
	c->inbox = inbox;
	c->used = true;
	c->alive = true;
	c->slot = slot;
	c->node = n->idx;
	c->id = (++s->client_gen << 8) | slot;
	c->next_cookie = 1;
	c->straggler = rng_ppm(&s->rng, s->straggler_ppm);
	c->straggle_v = c->straggler ? rng_range(&s->rng, s->cfg.revoke_timeout_us / 8,
						 s->cfg.revoke_timeout_us / 2) : 0;
	c->cancelled_cookie = 0;
	for (unsigned i = 0; i < SIM_MAX_NAMES; i++)
		c->holds[i].release_at = NEVER;
	TR(s, "n%u client %" PRIx64 " starts%s", n->id, c->id, c->straggler ? " (straggler)" : "");
	return c;
}

/* One of the node's own client slots gets a new client, which thinks first. */
static void client_spawn(struct sim *s, unsigned slot)
{
	struct client *c = client_start(s, slot, slot / SIM_CLIENTS_PER_NODE);

	client_wake_at(s, c, s->now + rng_range(&s->rng, 0, s->think_max));
}

/*
 * The client process ends: it stops acting at once.  Unless its node crashed
 * with it, the daemon notices the closed socket shortly (cl_node_client_gone)
 * and a new client takes the slot later.
 */
static void client_end(struct sim *s, struct client *c, enum client_end_why why)
{
	static const char *const whys[] = { "node crashed", "disconnects", "killed" };
	struct node *n = &s->nodes[c->node];

	TR(s, "n%u client %" PRIx64 " ends: %s", n->id, c->id, whys[why]);
	c->alive = false;
	c->req_active = false;
	c->ihead = c->ilen = 0;
	for (unsigned i = 0; i < SIM_MAX_NAMES; i++)
		c->holds[i].st = H_NONE;
	c->wake_gen++;
	if (why == END_CRASH) {
		c->used = false;
		return;
	}
	ev_push(s, s->now + rng_range(&s->rng, s->ipc_min, s->ipc_max), EV_GONE, c->node, c->id,
		n->incarnation);
	if (!c->burst)
		ev_push(s, s->now + s->ipc_max + rng_range(&s->rng, 0, s->think_max), EV_SPAWN,
			c->slot, c->id, n->incarnation);
}

static void client_push(struct sim *s, struct client *c, const struct cl_node_event *ev, int name)
{
	uint64_t at = s->now + rng_range(&s->rng, s->ipc_min, s->ipc_max);
	struct cev *e;

	if (at < c->inbox_last)
		at = c->inbox_last;
	c->inbox_last = at;
	if (c->ilen == c->icap) {
		if (c->ihead > 0) {
			memmove(c->inbox, c->inbox + c->ihead, (c->ilen - c->ihead) * sizeof(*c->inbox));
			c->ilen -= c->ihead;
			c->ihead = 0;
		}
		if (c->ilen == c->icap) {
			c->icap = c->icap ? 2 * c->icap : 16;
			c->inbox = xrealloc(c->inbox, c->icap * sizeof(*c->inbox));
		}
	}
	e = &c->inbox[c->ilen++];
	*e = (struct cev){ .type = (uint8_t)ev->type, .mode = ev->mode, .name = (int8_t)name,
			   .err = ev->err, .owner = ev->owner, .cookie = ev->cookie,
			   .epoch = ev->epoch, .valid_until = ev->valid_until,
			   .deadline = ev->deadline, .version = ev->version };
	ev_push(s, at, EV_IPC, c->slot, c->id, 0);
}

/*
 * Whether client c acts as owner of name now: it holds the grant, has not
 * finished stopping after REVOKED, and is within validity -- a straggler
 * finishes work it started before valid_until up to straggle_v later, but
 * never starts on a grant that arrived after valid_until.
 */
static bool client_acting(const struct sim *s, const struct client *c, unsigned name)
{
	const struct chold *h = &c->holds[name];

	if (!c->alive || h->st != H_HELD)
		return false;
	uint64_t nt = node_now(s, &s->nodes[c->node]);

	if (h->revoked && s->now >= h->stop_at)
		return false;
	if (nt < c->valid_until)
		return true;
	return h->since_nt < c->valid_until && nt < c->valid_until + c->straggle_v;
}

/* The client stops acting on name (if it still does) at time t at the latest. */
static void hold_schedule_release(struct sim *s, struct client *c, unsigned name, uint64_t t)
{
	struct chold *h = &c->holds[name];

	if (h->st != H_HELD || t >= h->release_at)
		return;
	h->release_at = t;
	TR(s, "n%u client %" PRIx64 " will release %s at %" PRIu64, s->nodes[c->node].id, c->id,
	   sim_names[name], t);
	ev_push(s, t, EV_RELEASE, c->slot, c->id, ((uint64_t)name << 32) | (uint32_t)h->gen);
}

static void client_issue(struct sim *s, struct client *c, struct call *k)
{
	k->client = c->id;
	k->cookie = c->next_cookie++;
	c->req = *k;
	c->req_active = true;
	c->req_issued = s->now;
	node_call(s, &s->nodes[c->node], k);
}

/* Client c writes (or deletes) one of name's keys, which it acts as EX owner of. */
static void client_write(struct sim *s, struct client *c, unsigned name)
{
	struct call k = { .name = (uint8_t)name };

	k.key = (uint8_t)rng_range(&s->rng, 0, SIM_MAX_KEYS - 1);
	if (rng_ppm(&s->rng, 250000)) {
		k.kind = CALL_DEL;
	} else {
		k.kind = CALL_PUT;
		k.val_seed = rng_next(&s->rng);
		k.vallen = (uint32_t)(s->cfg.sm.index_mem_max ? rng_range(&s->rng, 0, SIM_VAL_MAX)
							 : rng_range(&s->rng, 0, 48));
	}
	client_issue(s, c, &k);
}

/* An acquire's mode and flags, as clients draw them: mostly EX, often WAIT, some with a timeout. */
static void acquire_draw(struct sim *s, struct call *k)
{
	k->mode = rng_ppm(&s->rng, 650000) ? CL_MODE_EX : CL_MODE_SH;
	if (rng_ppm(&s->rng, 600000)) {
		k->flags = CL_ACQ_WAIT;
		if (rng_ppm(&s->rng, 400000))
			k->timeout = rng_range(&s->rng, s->token_us / 10, 3 * s->token_us);
	}
}

/* Client c asks for k->name (mode, flags and timeout set in k); it holds nothing of it. */
static void client_acquire(struct sim *s, struct client *c, struct call *k)
{
	k->kind = CALL_ACQ;
	c->holds[k->name].st = H_PENDING;
	c->holds[k->name].mode = k->mode;
	c->holds[k->name].wait = k->flags & CL_ACQ_WAIT;
	c->holds[k->name].gen++;
	client_issue(s, c, k);
}

/*
 * minority-burst: a quorate-side client's quick request, the little work
 * that side does before the heal: mostly a write to a name it acts as EX
 * owner of, else an EX acquire, mostly without WAIT (a busy name is refused
 * at once, and the next try comes soon).
 */
static void client_rush(struct sim *s, struct client *c, unsigned held, const unsigned *exheld,
			unsigned nex)
{
	struct call k = { 0 };

	c->rush--;
	if (nex > 0 && rng_ppm(&s->rng, 800000)) {
		client_write(s, c, exheld[rng_range(&s->rng, 0, nex - 1)]);
		return;
	}
	k.name = (uint8_t)rng_range(&s->rng, 0, s->nnames - 1);
	if (held >= 2 || c->holds[k.name].st != H_NONE) {
		client_req_done(s, c);
		return;
	}
	k.mode = CL_MODE_EX;
	if (rng_ppm(&s->rng, 300000)) {
		k.flags = CL_ACQ_WAIT;
		k.timeout = rng_range(&s->rng, s->token_us / 20, s->token_us / 2);
	}
	client_acquire(s, c, &k);
}

/* Picks the next thing a client does. */
static void on_wake(struct sim *s, const struct ev *e)
{
	struct client *c = &s->clients[e->a];
	struct call k = { 0 };
	unsigned r, held = 0, exheld[SIM_MAX_NAMES], nex = 0;

	if (!c->used || c->id != e->b || c->wake_gen != e->c || !c->alive || c->req_active)
		return;
	if (!s->workload_on)
		return;
	for (unsigned i = 0; i < s->nnames; i++) {
		if (c->holds[i].st != H_NONE)
			held++;
		if (c->holds[i].st == H_HELD && c->holds[i].mode == CL_MODE_EX &&
		    client_acting(s, c, i))
			exheld[nex++] = i;
	}
	if (c->burst) {
		/* one of a burst: it leaves once it holds (or waits for) nothing */
		if (held)
			client_req_done(s, c);
		else
			client_end(s, c, END_DISCONNECT);
		return;
	}
	if (client_rushing(s, c)) {
		client_rush(s, c, held, exheld, nex);
		return;
	}
	r = (unsigned)rng_range(&s->rng, 0, 999);
	if (r < 6) {
		unsigned down[SIM_MAX_NODES], nd = 0;

		for (unsigned i = 0; i < s->n; i++)
			if (!s->nodes[i].up)
				down[nd++] = i;
		if (nd == 0) {
			client_req_done(s, c);
			return;
		}
		k.kind = CALL_FENCE;
		k.target = s->nodes[down[rng_range(&s->rng, 0, nd - 1)]].id;
		client_issue(s, c, &k);
	} else if (r < 14) {
		k.kind = CALL_EVICT;
		k.name = (uint8_t)rng_range(&s->rng, 0, s->nnames - 1);
		client_issue(s, c, &k);
	} else if (r < 18) {
		/* disconnect; a new client takes the slot later */
		client_end(s, c, END_DISCONNECT);
	} else if (r < 60) {
		k.kind = CALL_SYNC;
		client_issue(s, c, &k);
	} else if (r < 500 && nex > 0) {
		client_write(s, c, exheld[rng_range(&s->rng, 0, nex - 1)]);
	} else if (held < 2) {
		unsigned name = (unsigned)rng_range(&s->rng, 0, s->nnames - 1);

		if (c->holds[name].st != H_NONE) {
			client_req_done(s, c);
			return;
		}
		k.name = (uint8_t)name;
		acquire_draw(s, &k);
		client_acquire(s, c, &k);
	} else {
		client_req_done(s, c);
	}
}

/*
 * The client learns the node-wide validity deadline (its node's time).  A
 * deadline already past counts from now, when the client learns it must
 * stop -- unless it knew an earlier one: it stopped then.
 */
static void client_set_valid(struct sim *s, struct client *c, uint64_t t)
{
	uint64_t nt = node_now(s, &s->nodes[c->node]);

	if (t < nt)   /* learnt only now; never later than it already knew */
		t = c->valid_until < nt ? c->valid_until : nt;
	if (t > c->valid_until)
		for (unsigned i = 0; i < s->nnames; i++)
			if (c->holds[i].st == H_HELD)
				s->owners_grew |= 1u << i;
	c->valid_until = t;
}

/* A client handles one event that reached it over the IPC. */
static void client_on_event(struct sim *s, struct client *c, const struct cev *e)
{
	struct chold *h = e->name >= 0 ? &c->holds[e->name] : NULL;

	switch (e->type) {
	case CL_NODE_EV_GRANTED:
		if (!h || (h->st != H_PENDING && h->st != H_QUEUED) || e->cookie == c->cancelled_cookie)
			break;
		h->st = H_HELD;
		s->owners_grew |= 1u << e->name;
		if (e->mode == CL_MODE_EX)
			h->mode = CL_MODE_EX;
		h->epoch = e->epoch;
		h->revoked = false;
		h->since = s->now;
		h->since_nt = node_now(s, &s->nodes[c->node]);
		h->gen++;
		h->release_at = NEVER;
		client_set_valid(s, c, e->valid_until);
		hold_schedule_release(s, c, (unsigned)e->name,
				      s->now + rng_range(&s->rng, MS, s->hold_max));
		client_req_done(s, c);
		break;
	case CL_NODE_EV_DENIED:
		if (!h || (h->st != H_PENDING && h->st != H_QUEUED) || e->cookie == c->cancelled_cookie)
			break;
		/*
		 * a WAIT acquire is queued, never refused as busy (helper-80;
		 * the request is no longer active here: helper-81)
		 */
		if (h->wait && e->err == -EBUSY)
			violation(s, SIM_INV_PROTO, "node %u client %" PRIx64 ": a WAIT acquire of %s "
				  "refused EBUSY", s->nodes[c->node].id, c->id, sim_names[e->name]);
		h->st = H_NONE;
		h->gen++;
		client_req_done(s, c);
		break;
	case CL_NODE_EV_QUEUED:
		if (!h || h->st != H_PENDING || e->cookie == c->cancelled_cookie)
			break;
		h->st = H_QUEUED;
		if (rng_ppm(&s->rng, 100000))
			ev_push(s, s->now + rng_range(&s->rng, 0, s->token_us), EV_CANCEL, c->slot,
				c->id, ((uint64_t)e->name << 32) | (uint32_t)h->gen);
		break;
	case CL_NODE_EV_WANTED:
		if (h && h->st == H_HELD)
			hold_schedule_release(s, c, (unsigned)e->name,
					      s->now + rng_range(&s->rng, 0, s->release_soon));
		break;
	case CL_NODE_EV_REVOKED:
		if (h && h->st == H_HELD && !h->revoked) {
			uint64_t nt = node_now(s, &s->nodes[c->node]);
			uint64_t left = e->deadline > nt ? e->deadline - nt : 0;
			/*
			 * a straggler finishes work it started: none if the grant just
			 * came, or if it was not using the lease any more
			 */
			uint64_t straggle = c->straggler && h->since < s->now &&
					    client_acting(s, c, (unsigned)e->name) ?
					    rng_range(&s->rng, 0, left / 2) : 0;
			uint64_t rel;

			h->revoked = true;
			h->stop_at = s->now + straggle;
			if (rng_ppm(&s->rng, 30000))    /* late: cleans up after the deadline */
				rel = s->now + left + rng_range(&s->rng, 0, s->token_us);
			else
				rel = h->stop_at + rng_range(&s->rng, 0, (left - straggle) / 2);
			h->release_at = NEVER;
			hold_schedule_release(s, c, (unsigned)e->name, rel);
		}
		break;
	case CL_NODE_EV_VALIDITY:
		client_set_valid(s, c, e->valid_until);
		break;
	case CL_NODE_EV_INDEX_DONE:
	case CL_NODE_EV_SYNC_DONE:
	case CL_NODE_EV_ADMIN_DONE:
		client_req_done(s, c);
		break;
	default:
		break;
	}
}

static void on_ipc(struct sim *s, const struct ev *e)
{
	struct client *c = &s->clients[e->a];
	struct cev ce;

	if (!c->used || c->id != e->b || !c->alive || c->ihead == c->ilen)
		return;
	ce = c->inbox[c->ihead++];
	if (c->ihead == c->ilen)
		c->ihead = c->ilen = 0;
	TR(s, "n%u client %" PRIx64 " receives event %u cookie %" PRIu64 " name %s",
	   s->nodes[c->node].id, c->id, ce.type, ce.cookie, ce.name >= 0 ? sim_names[ce.name] : "-");
	client_on_event(s, c, &ce);
}

static void on_release(struct sim *s, const struct ev *e, bool cancel)
{
	struct client *c = &s->clients[e->a];
	unsigned name = (unsigned)(e->c >> 32);
	struct chold *h;
	struct call k = { .kind = CALL_REL };

	if (!c->used || c->id != e->b || !c->alive)
		return;
	h = &c->holds[name];
	if ((uint32_t)h->gen != (uint32_t)e->c)
		return;
	if (cancel) {
		if (h->st != H_QUEUED || !c->req_active || c->req.kind != CALL_ACQ ||
		    c->req.name != name)
			return;
		c->cancelled_cookie = c->req.cookie;
		c->req_active = false;
		client_req_done(s, c);
	} else if (h->st != H_HELD || h->release_at != s->now) {
		return;
	}
	h->st = H_NONE;
	h->gen++;
	h->release_at = NEVER;
	k.client = c->id;
	k.name = (uint8_t)name;
	node_call(s, &s->nodes[c->node], &k);
}

/* ------------------------------------------------ scenario: minority-burst */

/*
 * The split of the scenario: the nodes of mask minority on one side, the
 * rest on the other.  It heals within two heartbeats of the new rings
 * forming (a token timeout from now), mostly, or much later; until the
 * merge the quorate side's clients hurry (client_rush()), from about when
 * their ring forms.  With side_only, each member of the breaking ring had
 * received, of its undelivered messages, only those sent from its own side:
 * each side delivers its own messages transitionally, and only those.
 */
static void sc_split(struct sim *s, uint32_t minority, bool side_only)
{
	uint64_t T = s->token_us, hb = s->cfg.heartbeat_us;
	uint64_t heal = rng_ppm(&s->rng, 850000) ? s->now + T + rng_range(&s->rng, 0, 2 * hb)
						 : s->now + rng_range(&s->rng, 2 * T, 15 * T);

	for (unsigned i = 0; i < s->n; i++)
		s->nodes[i].group = (minority >> i) & 1u;
	TR(s, "FAULT: partition (minority-burst): minority %#x%s, heal at %" PRIu64, minority,
	   side_only ? ", each side received only its own side's messages" : "", heal);
	s->part_gen++;
	ev_push(s, heal, EV_HEAL, 0, s->part_gen, 0);
	s->sc_rush_until = heal + s->join_us;
	for (unsigned i = 0; i < s->nslots; i++) {
		struct client *c = &s->clients[i];

		if (!c->used || !c->alive || c->burst || (minority & (1u << c->node)))
			continue;
		c->rush = (unsigned)rng_range(&s->rng, 1, 3);
		if (!c->req_active)
			client_wake_at(s, c, s->now + T + rng_range(&s->rng, 0, hb / 2));
	}
	s->sc_side_only = side_only;
	apply_faults(s);
	s->sc_side_only = false;
}

/*
 * The scenario's fault, in place of a random one (sc_ppm of them): a burst
 * on one node of 4..SIM_BURST_MAX requests, each from a short-lived client
 * of its own, made in one event, so that the daemon sends them as one CPG
 * message (scenario seeds always batch): acquires of random names (the agent
 * sends one ACQUIRE per name, so they are few inputs) and SYNC barriers (one
 * NOP input each).  Then the split: mostly while that message is in flight
 * (sc_burst_sent()), else a little later, or just before the burst.  The
 * bursting node is in the minority (1 .. (n - 1) / 2 nodes) mostly, in the
 * majority sometimes.  False, doing nothing, if the cluster is split
 * already or no node is in a running ring: a random fault instead.
 */
static bool sc_burst(struct sim *s)
{
	unsigned cand[SIM_MAX_NODES], nc = 0, nmin, want, made = 0, when;
	uint32_t minority = 0;
	bool side_only;
	struct node *b;

	if (partitioned(s))
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		if (node_live(n) && n->cpg_joined && n->comp >= 0 && !s->comps[n->comp].broken)
			cand[nc++] = i;
	}
	if (!nc)
		return false;
	b = &s->nodes[cand[rng_range(&s->rng, 0, nc - 1)]];
	nmin = (unsigned)rng_range(&s->rng, 1, (s->n - 1) / 2);
	if (rng_ppm(&s->rng, 800000))
		minority = 1u << b->idx;
	while (popcount32(minority) < nmin) {
		unsigned i = (unsigned)rng_range(&s->rng, 0, s->n - 1);

		if (i != b->idx)
			minority |= 1u << i;
	}
	side_only = rng_ppm(&s->rng, 750000);
	want = (unsigned)rng_range(&s->rng, 4, SIM_BURST_MAX);
	when = (unsigned)rng_range(&s->rng, 0, 99);
	s->res->bursts++;
	TR(s, "FAULT: n%u bursts %u requests (%s side), then the ring splits (minority %#x)", b->id,
	   want, (minority & (1u << b->idx)) ? "minority" : "majority", minority);
	if (when < 10) {
		sc_split(s, minority, side_only);
	} else {
		s->sc_plan.armed = true;
		s->sc_plan.late = when >= 80;
		s->sc_plan.side_only = side_only;
		s->sc_plan.node = b->idx;
		s->sc_plan.minority = minority;
		/* if the burst is not sent soon (refused, held back), the split comes anyway */
		s->sc_gen++;
		ev_push(s, s->now + s->batch_window + 10 * MS, EV_SC_SPLIT, minority, s->sc_gen,
			side_only);
	}
	for (unsigned slot = SIM_MAX_CLIENTS; slot < s->nslots && made < want && node_live(b);
	     slot++) {
		struct client *c = &s->clients[slot];
		struct call k = { .kind = CALL_SYNC };

		if (c->used && c->alive)
			continue;
		c = client_start(s, slot, b->idx);
		c->burst = true;
		made++;
		if (rng_ppm(&s->rng, 600000)) {
			client_issue(s, c, &k);
			continue;
		}
		k.name = (uint8_t)rng_range(&s->rng, 0, s->nnames - 1);
		acquire_draw(s, &k);
		client_acquire(s, c, &k);
	}
	return true;
}

/*
 * corosync took a message of the bursting node (its burst, unless the agent
 * held that back): the split comes before any member can have delivered it
 * (within lat_min), or a little later (sc_plan.late).
 */
static void sc_burst_sent(struct sim *s)
{
	uint64_t d = s->sc_plan.late ? rng_range(&s->rng, s->lat_min, s->lat_max + 2 * MS)
				     : rng_range(&s->rng, 1, s->lat_min - 1);

	s->sc_plan.armed = false;
	s->sc_gen++;
	ev_push(s, s->now + d, EV_SC_SPLIT, s->sc_plan.minority, s->sc_gen, s->sc_plan.side_only);
}

/* -------------------------------------------------------------- invariants */

/* Whether two machines' scalar stats agree (the member list aside). */
static bool stats_equal(const struct cl_sm_stats *a, const struct cl_sm_stats *b)
{
	return a->lsn == b->lsn && a->q_lsn == b->q_lsn && a->epoch == b->epoch &&
	       a->orphan_seq == b->orphan_seq && a->records == b->records &&
	       a->holds == b->holds && a->orphans == b->orphans && a->waiters == b->waiters &&
	       a->index_bytes == b->index_bytes && a->index_evictions == b->index_evictions &&
	       a->quorate == b->quorate && a->ring.rep == b->ring.rep &&
	       a->ring.seq == b->ring.seq && a->nmembers == b->nmembers;
}

/*
 * a: one state per ring among synced members at one lsn.  After every event
 * the members' stats are compared; with full, also cl_sm_hash() (costly, so
 * only at the periodic checks: a divergence persists until a sync round,
 * which needs a join, so it is still seen).
 */
static void check_state(struct sim *s, bool full)
{
	uint32_t live[SIM_MAX_COMPS], rings = 0;

	/* a node is group-live in its own ring only (group_live()): the rings with any, in order */
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		if (n->comp < 0 || !group_live(s, n->comp, n))
			continue;
		if (!(rings & (1u << n->comp)))
			live[n->comp] = 0;
		rings |= 1u << n->comp;
		live[n->comp] |= 1u << i;
	}
	for (; rings && !s->stop; rings &= rings - 1) {
		int ci = __builtin_ctz(rings);
		const struct comp *c = &s->comps[ci];
		struct node *ref = NULL;
		const struct cl_sm_stats *ref_st = NULL;

		if (!c->used)
			continue;
		for (unsigned i = 0; i < s->n; i++) {
			struct node *n = &s->nodes[i];
			const struct agent_view *v;

			if (!(live[ci] & (1u << i)) || !(v = node_view(n))->synced || !v->has_sm)
				continue;
			if (!ref) {
				ref = n;
				ref_st = &v->st;
				continue;
			}
			/* hashes only where the stats agree: a report names the stats first */
			if (v->st.lsn == ref_st->lsn &&
			    (!stats_equal(&v->st, ref_st) || (full && node_hash(n) != node_hash(ref)))) {
				violation(s, SIM_INV_STATE, "ring %u.%" PRIu64 ": nodes %u and %u "
					  "both synced at lsn %" PRIu64 " but their states differ (%s)",
					  c->ring.rep, c->ring.seq, ref->id, n->id, v->st.lsn,
					  !stats_equal(&v->st, ref_st) ? "stats" : "cl_sm_hash");
				return;
			}
		}
	}
}

/*
 * x: every lease hold of every agent moved only along legal transitions;
 * and an agent with a machine that is not synced (in a sync round) names a
 * member the round waits for (status's sync_waiting_for: the OCF agent's
 * monitor and an operator go by it).
 */
static void check_transitions(struct sim *s)
{
	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];
		const struct agent_view *v;
		uint64_t illegal;

		if (!n->cn)
			continue;
		v = node_view(n);
		if (v->has_sm && !v->failed && !v->synced && v->waiting == 0) {
			violation(s, SIM_INV_PROTO, "node %u: in a sync round that names no member "
				  "it waits for", n->id);
			return;
		}
		illegal = v->illegal;
		if (illegal == n->illegal_seen)
			continue;
		violation(s, SIM_INV_PROTO, "node %u: %" PRIu64 " illegal lease hold transition(s) "
			  "refused; last: %s", n->id, illegal - n->illegal_seen, n->last_err);
		n->illegal_seen = illegal;
	}
}

/*
 * b: no EX owner overlapping an owner on another node.  Checked after every
 * event, but only for the names in owners_grew: for the others it held at
 * the previous event and still holds.  Proof: b fails for a name only if
 * some node has an acting EX owner and another node any acting owner of
 * it; the acting (client, name, mode) triples only shrink except where
 * owners_grew is marked.  client_acting() is true only for a held hold and
 * falls with time alone (node clocks never go back, and it compares them
 * and now with fixed bounds), and the client state it reads changes only
 * in ways that can end acting -- a hold let go, a revoke (stop_at >= now),
 * a client ending -- except a GRANTED (the hold becomes held, maybe EX, with
 * a new since_nt) and a later valid_until, both of which mark the names
 * they concern.  A subset of a non-violating set of acting owners does not
 * violate b: if a node's EX owner acts, it was the only node with EX and no
 * other node had any owner before.  --self-check checks every name anyway
 * and reports a violating name that was not marked.
 */
static void check_owners(struct sim *s)
{
	uint32_t any[SIM_MAX_NAMES], ex[SIM_MAX_NAMES];
	uint32_t grew = s->owners_grew;
	uint32_t names = s->o->self_check ? (1u << s->nnames) - 1 : grew;

	s->owners_grew = 0;
	if (!names)
		return;
	memset(any, 0, sizeof(any));
	memset(ex, 0, sizeof(ex));
	for (unsigned i = 0; i < s->nslots; i++) {
		const struct client *c = &s->clients[i];

		if (!c->used || !c->alive)
			continue;
		for (unsigned name = 0; name < s->nnames; name++) {
			if (!(names & (1u << name)) || c->holds[name].st != H_HELD ||
			    !client_acting(s, c, name))
				continue;
			any[name] |= 1u << c->node;
			if (c->holds[name].mode == CL_MODE_EX)
				ex[name] |= 1u << c->node;
		}
	}
	for (unsigned name = 0; name < s->nnames; name++) {
		if (ex[name] && (popcount32(ex[name]) > 1 || (any[name] & ~ex[name]))) {
			if (!(grew & (1u << name))) {
				violation(s, SIM_INV_PROTO, "self-check: double owner of %s, which "
					  "check_owners() would not have checked", sim_names[name]);
				return;
			}
			char buf[256];
			size_t off = 0;

			for (unsigned i = 0; i < s->nslots; i++) {
				const struct client *c = &s->clients[i];

				if (!c->used || !client_acting(s, c, name))
					continue;
				off += (size_t)snprintf(buf + off, sizeof(buf) - off,
							" n%u/%" PRIx64 ":%s:e%" PRIu64 ":vu%" PRIu64 "%s",
							s->nodes[c->node].id, c->id,
							cl_mode_name(c->holds[name].mode),
							c->holds[name].epoch, c->valid_until,
							c->holds[name].revoked ? ":revoked" : "");
				if (off >= sizeof(buf))
					break;
			}
			violation(s, SIM_INV_OWNER, "double owner of %s:%s", sim_names[name], buf);
			return;
		}
	}
}

/* What one replica has of one name's keys (replica_keys()). */
struct replica_keys {
	bool found[SIM_MAX_KEYS];
	struct cl_entry_info e[SIM_MAX_KEYS];   /* pointing into the machine: read at once */
};

static int replica_key(void *ctx, const struct cl_entry_info *e)
{
	struct replica_keys *rk = ctx;
	int k = key_index(e->key, e->keylen);

	if (k >= 0 && !rk->found[k]) {
		rk->found[k] = true;
		rk->e[k] = *e;
	}
	return 0;
}

/* Reads the entries machine sm has for name i's keys into *rk. */
static void replica_keys(const struct cl_sm *sm, unsigned i, struct replica_keys *rk)
{
	memset(rk->found, 0, sizeof(rk->found));   /* e[k] is read only where found[k] */
	cl_index_foreach(sm, sim_names[i], sim_name_len[i], replica_key, rk);
}

/*
 * Whether a replica at lsn whose entry for the key is f (NULL: none)
 * reflects acknowledged write o: a put is there (with its value) or was
 * overwritten later; a delete is not undone by an entry of its version or
 * older, and an empty or short machine never saw it.
 */
static bool replica_has(const struct oracle *o, uint64_t lsn, const struct cl_entry_info *f)
{
	if (o->st == O_DEL)
		return lsn >= o->version && (!f || f->version > o->version);
	if (!f || f->version < o->version)
		return false;
	if (f->version > o->version)
		return true;
	return f->vallen == o->vallen && memcmp(f->value, o->val, o->vallen) == 0;
}

/* d: acknowledged writes are visible on node n. */
static void check_index_node(struct sim *s, struct node *n, const char *when)
{
	const struct agent_view *v = node_view(n);

	if (!v->has_sm) {
		violation(s, SIM_INV_PROTO, "node %u synced but has no machine", n->id);
		return;
	}
	if (v->st.grace)
		return;   /* fresh state waiting (grace): it serves nothing; a lineage with the
			     writes may still be out there (a split-capable split) */
	for (unsigned i = 0; i < s->nnames && !s->stop; i++) {
		struct replica_keys rk;
		bool read = false;

		for (unsigned k = 0; k < SIM_MAX_KEYS && !s->stop; k++) {
			const struct oracle *o = &s->oracle[i][k];

			if (o->st == O_NONE)
				continue;
			if (!read) {
				replica_keys(cl_node_sm(n->cn), i, &rk);
				read = true;
			}
			if (replica_has(o, v->st.lsn, rk.found[k] ? &rk.e[k] : NULL))
				continue;
			violation(s, SIM_INV_INDEX, "%s: node %u: acknowledged %s of %s/%s at version %"
				  PRIu64 " is lost (entry version %" PRIu64 ")", when, n->id,
				  o->st == O_PUT ? "put" : "delete", sim_names[i], sim_keys[k],
				  o->version, rk.found[k] ? rk.e[k].version : 0);
		}
	}
}

/*
 * A quorate ring formed with members mask.  If no member's machine has
 * reached the highest epoch clients used, or holds some acknowledged write,
 * then every replica of the latest state crashed (or is cut off) and this
 * majority starts from a stale or empty one.  Without persistence that is
 * expected, and both lineages may yet win a later merge -- which drops the
 * loser's holds without any fence wait -- so from here on invariants b, c
 * and d cannot be judged for this seed: it is counted as a fork.
 */
static void oracle_formation(struct sim *s, uint32_t mask, const char *what)
{
	unsigned lost = 0;

	for (unsigned i = 0; i < s->nnames; i++) {
		struct replica_keys rk[SIM_MAX_NODES];
		uint32_t read = 0;

		for (unsigned k = 0; k < SIM_MAX_KEYS; k++) {
			struct oracle *o = &s->oracle[i][k];
			bool have = false;

			if (o->st == O_NONE)
				continue;
			for (unsigned j = 0; j < s->n && !have; j++) {
				struct node *m = &s->nodes[j];
				const struct agent_view *v;

				/* a daemon stopped alone keeps its replica (daemon_in()) */
				if (!(mask & (1u << j)) || !daemon_in(m) || !(v = node_view(m))->has_sm)
					continue;
				if (!(read & (1u << j))) {
					replica_keys(cl_node_sm(m->cn), i, &rk[j]);
					read |= 1u << j;
				}
				have = replica_has(o, v->st.lsn, rk[j].found[k] ? &rk[j].e[k] : NULL);
			}
			if (have)
				continue;
			TR(s, "FORK: %s %#x has no replica of %s/%s version %" PRIu64 ": the write "
			   "was lost with every replica of its lineage (no persistence)", what, mask,
			   sim_names[i], sim_keys[k], o->version);
			memset(o, 0, sizeof(*o));
			lost++;
		}
	}
	if (lost)
		s->res->forks++;
}

/*
 * A node whose machine is fresh (in the grace period of a ring it has not
 * been seen in): a new lineage, made by members that had no state.  The
 * writes no live replica anywhere has are gone for good.  The same holds
 * when that machine is first seen out of its grace period (it serves from
 * then on): the last replicas of the old lineage may have crashed while it
 * waited (seed 423061: in a split-capable mode the other side, cut off
 * when the fresh machine was made, crashed, and a fence-ack ended the wait).
 */
static void check_fresh(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];
		const struct agent_view *v;

		if (!n->up || !(v = node_view(n))->has_sm)
			continue;
		if (!v->st.grace) {
			if (s->grace_open[i]) {
				s->grace_open[i] = false;
				oracle_formation(s, (1u << s->n) - 1,
						 "fresh machine out of grace; the live replicas");
			}
			continue;
		}
		if (v->st.grace_ring.seq == s->grace_seen[i] && n->incarnation == s->grace_inc[i])
			continue;
		s->grace_seen[i] = v->st.grace_ring.seq;
		s->grace_inc[i] = n->incarnation;
		s->grace_open[i] = true;
		/* lost only if no live replica anywhere has it: nothing brings it back */
		oracle_formation(s, (1u << s->n) - 1, "fresh machine; the live replicas");
	}
}

static void check_index(struct sim *s)
{
	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];

		if (node_ok(s, n) && node_view(n)->synced)
			check_index_node(s, n, "check");
	}
}

static const char *call_name(uint8_t kind)
{
	static const char *const names[] = { "?", "acquire", "put", "del", "sync", "evict",
					     "fence-ack", "release", "gone" };

	return kind <= CALL_GONE ? names[kind] : "?";
}

/* Writes what n's replica shows of name (holders, orphans, waiters) into buf, for reports. */
static const char *lease_desc(const struct sim *s, const struct node *n, unsigned name, char *buf,
			      size_t cap)
{
	struct cl_lease_info li;
	struct cl_hold_info h[8];
	struct cl_waiter_info w[8];
	size_t off = 0;

	buf[0] = 0;
	if (!n->up || !cl_node_sm(n->cn) ||
	    cl_sm_lookup(cl_node_sm(n->cn), sim_names[name], strlen(sim_names[name]), &li, h, 8,
			 w, 8) < 0)
		return "no record";
	{
		struct cl_sm_stats st;

		cl_sm_stats(cl_node_sm(n->cn), &st);
		off += (size_t)snprintf(buf + off, cap - off, "%s%s%s%s; ",
					st.quorate ? "quorate" : "not quorate",
					st.grace ? ", grace" : "", st.nunfenced ? ", awaiting fence-ack" : "",
					st.split_mode ? ", split mode" : "");
	}
	off += (size_t)snprintf(buf + off, cap - off, "holders");
	for (uint32_t i = 0; i < li.nholders && i < 8 && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, " n%u:%s:e%" PRIu64 "%s", h[i].node,
					cl_mode_name(h[i].mode), h[i].epoch,
					h[i].orphan_seq ? ":orphan" : "");
	if (off < cap)
		off += (size_t)snprintf(buf + off, cap - off, "; waiters");
	for (uint32_t i = 0; i < li.nwaiters && i < 8 && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, " n%u:%s", w[i].node,
					cl_mode_name(w[i].mode));
	(void)s;
	return buf;
}

/* --watch NAME: traces every change of what a replica shows of NAME. */
static void watch_name(struct sim *s)
{
	char d[200];

	for (unsigned i = 0; i < s->n; i++) {
		lease_desc(s, &s->nodes[i], s->o->watch, d, sizeof(d));
		if (strcmp(d, s->watched[i])) {
			TR(s, "WATCH n%u %s: %s", s->nodes[i].id, sim_names[s->o->watch], d[0] ? d : "no record");
			memcpy(s->watched[i], d, sizeof(d));
		}
	}
}

/*
 * e, the machine's quorum: a synced member of a stable ring whose every
 * member's daemon has read a quorate verdict for that ring must see its
 * machine quorate within the bound (a report in flight, lost in a flap, must
 * not leave it non-quorate for good: core defect F3).
 */
static void check_machine_quorum(struct sim *s)
{
	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *m = &s->nodes[i];
		int ci = m->comp;
		const struct comp *c = ci >= 0 ? &s->comps[ci] : NULL;
		bool all = c && c->used && !c->broken && c->gmask == c->mask;
		uint64_t since;

		uint64_t told = 0;

		for (unsigned j = 0; j < s->n && all; j++) {
			const struct node *o = &s->nodes[j];

			if (c->mask & (1u << j)) {
				all = o->comp == ci && node_live(o) && group_live(s, ci, o) &&
				      o->vq_told_q && o->vq_told_ring.rep == c->ring.rep &&
				      o->vq_told_ring.seq == c->ring.seq && cl_node_synced(o->cn);
				if (o->vq_q_since > told)
					told = o->vq_q_since;
			}
		}
		if (!all) {
			m->qwant_since = 0;
			continue;
		}
		if (!m->qwant_since)
			m->qwant_since = s->now;
		/*
		 * From the latest of: this sample's start, the last fault, and the
		 * last member's return to quorate -- a flap shorter than the
		 * sampling period (fault_flap()) restarts the bound too.
		 */
		since = m->qwant_since > s->last_fault ? m->qwant_since : s->last_fault;
		if (told > since)
			since = told;
		if (!cl_sm_quorate(cl_node_sm(m->cn)) && s->now > since + s->bound)
			violation(s, SIM_INV_LIVE, "node %u: every member of ring %u.%" PRIu64
				  " has read a quorate verdict since %" PRIu64 ", but its machine "
				  "is not quorate", m->id, c->ring.rep, c->ring.seq, since);
	}
}

/*
 * Whether a daemon of ring ci's group is stopped alone (fault_dstop()): a
 * sync round needs its announce, so the group's members wait for it to run
 * again (its resume is a fault: the bounds count from it).
 */
static bool group_held(const struct sim *s, int ci)
{
	const struct comp *c = &s->comps[ci];

	for (unsigned i = 0; i < s->n; i++)
		if ((c->gmask & (1u << i)) && s->nodes[i].comp == ci && daemon_held(&s->nodes[i]))
			return true;
	return false;
}

/*
 * e, sync: a live daemon in the group of a running ring is synced within
 * 4 T of joining it, of the ring's forming or of the last fault, whichever
 * is latest.  A round needs one announce from each member, and a snapshot
 * and hold lists when states differ: messages, not timers.  A member whose
 * view of a change asked for no round must still take part in one that
 * another member's view asked for (d0b10b9), or it waits for the next
 * fault -- which the request bound, far longer than the time between
 * faults, seldom sees.
 */
static void check_synced(struct sim *s)
{
	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];
		const struct comp *c = n->comp >= 0 ? &s->comps[n->comp] : NULL;
		uint64_t since;

		if (!c || c->broken || !group_live(s, n->comp, n) || !cs_live(s, n) ||
		    node_view(n)->failed || group_held(s, n->comp)) {
			n->sync_want_since = 0;
			continue;
		}
		if (!n->sync_want_since)
			n->sync_want_since = s->now;
		since = n->sync_want_since;
		if (c->stable_since > since)
			since = c->stable_since;
		if (s->last_fault > since)
			since = s->last_fault;
		if (!node_view(n)->synced && s->now > since + 4 * s->token_us)
			violation(s, SIM_INV_LIVE, "node %u: in the group of ring %u.%" PRIu64
				  " (members %#x) since %" PRIu64 " but not synced %" PRIu64
				  " us after it, its forming or the last fault", n->id, c->ring.rep,
				  c->ring.seq, c->gmask, n->sync_want_since, s->now - since);
	}
}

/*
 * Whether the vote rule (nd_confirm_writes()) lets n's ring confirm a write,
 * barrier or grant without the daemons stopped alone in its group: standard
 * mode (none split-capable, here or in n's machine) and the members whose
 * daemons run, one vote each, hold so many that the rest cannot make a
 * quorum, with one besides the writer.  Where it cannot, a request waits
 * for the stopped daemon's ack: a documented limit ("One hung daemon holds
 * nothing back" in README.md), not a liveness defect.
 */
static bool votes_cover_held(const struct sim *s, struct node *n)
{
	const struct comp *c = &s->comps[n->comp];
	const struct agent_view *v = node_view(n);
	unsigned have = 0, total = vq_popcount(n->vq.members);

	if (s->qmodes || !v->has_sm || v->st.split_mode)
		return false;
	for (unsigned i = 0; i < s->n; i++)
		if ((c->gmask & (1u << i)) && s->nodes[i].comp == n->comp &&
		    !daemon_held(&s->nodes[i]))
			have++;
	if (n->vq.expected > total)
		total = n->vq.expected;
	return have >= 2 && total - have < n->vq.quorum;
}

/* e: answered within the bound while the node stays healthy. */
static void check_live(struct sim *s, bool final)
{
	check_machine_quorum(s);
	check_synced(s);
	/*
	 * Waits the design imposes do not count: the grace period of fresh
	 * state, and a departed node awaiting fence-ack in a split-capable
	 * quorum mode (the fencing hook may be late).
	 */
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];
		const struct agent_view *v;

		if (n->up && (v = node_view(n))->has_sm && (v->st.grace || v->st.nunfenced))
			n->blocked_at = s->now;
	}
	for (unsigned i = 0; i < s->nslots && !s->stop; i++) {
		struct client *c = &s->clients[i];
		struct node *n;
		uint64_t since;

		if (!c->used || !c->alive || !c->req_active)
			continue;
		n = &s->nodes[c->node];
		if (final) {
			violation(s, SIM_INV_CONVERGE, "after settling, node %u client %" PRIx64
				  " %s cookie %" PRIu64 " of %s issued at %" PRIu64
				  " is unanswered", n->id, c->id, call_name(c->req.kind),
				  c->req.cookie, sim_names[c->req.name], c->req_issued);
			return;
		}
		if (!node_ok(s, n) || (group_held(s, n->comp) &&
					(!node_view(n)->synced || !votes_cover_held(s, n))))
			continue;
		since = c->req_issued;
		if (s->comps[n->comp].stable_since > since)
			since = s->comps[n->comp].stable_since;
		if (s->last_fault > since)
			since = s->last_fault;
		if (n->blocked_at > since)
			since = n->blocked_at;
		uint64_t bound = s->bound;
		if (c->req.kind == CALL_ACQ && !(c->req.flags & CL_ACQ_WAIT))
			bound = s->nowait_bound;
		if (s->now > since + bound) {
			char d[200];

			violation(s, SIM_INV_LIVE, "node %u client %" PRIx64 " %s cookie %" PRIu64
				  " name %s issued at %" PRIu64 ": no answer after %" PRIu64
				  " us of healthy ring (bound %" PRIu64 "); its replica: %s", n->id, c->id,
				  call_name(c->req.kind), c->req.cookie, sim_names[c->req.name],
				  c->req_issued, s->now - since, bound,
				  lease_desc(s, n, c->req.name, d, sizeof(d)));
		}
	}
}

/* f: the healed cluster converged. */
static void check_final(struct sim *s)
{
	int ci = s->nodes[0].comp;
	uint64_t hash0 = 0, lsn0 = 0;

	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];
		struct cl_sm_stats st;

		if (ci < 0 || !group_live(s, ci, n) || s->comps[ci].broken) {
			violation(s, SIM_INV_CONVERGE, "node %u is not in one stable ring and group with "
				  "node %u", n->id, s->nodes[0].id);
			return;
		}
		if (!cl_node_synced(n->cn) || !cl_node_sm(n->cn)) {
			violation(s, SIM_INV_CONVERGE, "node %u is not synced after settling", n->id);
			return;
		}
		cl_sm_stats(cl_node_sm(n->cn), &st);
		if (i == 0) {
			hash0 = cl_sm_hash(cl_node_sm(n->cn));
			lsn0 = st.lsn;
		} else if (st.lsn != lsn0 || cl_sm_hash(cl_node_sm(n->cn)) != hash0) {
			violation(s, SIM_INV_CONVERGE, "node %u differs from node %u after settling "
				  "(lsn %" PRIu64 " vs %" PRIu64 ")", n->id, s->nodes[0].id, st.lsn, lsn0);
			return;
		}
		check_index_node(s, n, "final");
		if (!cl_node_backlog_consistent(n->cn))
			violation(s, SIM_INV_CONVERGE, "node %u: its count of own messages waiting "
				  "(cl_node_backlog) differs from its queues", n->id);
	}
	check_live(s, true);
}

/* ------------------------------------------------------------------- a run */

static void setup(struct sim *s, uint64_t seed)
{
	struct rng *r = &s->rng;
	uint64_t T;
	uint32_t ids[SIM_MAX_NODES];
	uint64_t active;
	bool burst = s->o->scenario == SIM_SC_MINORITY_BURST;

	rng_seed(r, seed);
	s->nslots = burst ? SIM_MAX_CLIENTS + SIM_BURST_MAX : SIM_MAX_CLIENTS;
	if (s->o->nodes)
		s->n = s->o->nodes;
	else if (burst)   /* a split with a minority and a quorate majority */
		s->n = (unsigned)rng_range(r, 3, SIM_MAX_NODES);
	else
		s->n = rng_ppm(r, 120000) ? 2 : (unsigned)rng_range(r, 3, SIM_MAX_NODES);
	s->nnames = (unsigned)rng_range(r, 4, SIM_MAX_NAMES);
	s->cpn = (unsigned)rng_range(r, 1, SIM_CLIENTS_PER_NODE);
	T = s->token_us = rng_range(r, 300 * MS, 1000 * MS);
	s->lat_min = 50;
	s->lat_max = 500;
	s->ipc_min = 10;
	s->ipc_max = 40;
	s->eagain_ppm = rng_ppm(r, 300000) ? 0 : rng_range(r, 1000, 30000);
	s->join_us = rng_range(r, T / 20, T / 4);
	/*
	 * votequorum modes: two_node (with its automatic wait_for_all) in most
	 * 2-node seeds; else standard, last_man_standing, auto_tie_breaker
	 * (with wait_for_all where the node count is odd, as votequorum
	 * demands), both, or a quorum device.  The daemons report the modes
	 * in which a split can leave both sides quorate (CL_QMODE_*).
	 */
	{
		unsigned m = (unsigned)rng_range(r, 0, 99);

		if (s->n == 2) {
			s->vq_two_node = m < 70;
			s->vq_wfa = s->vq_two_node;
			s->vq_qdev = m >= 85;
		} else {
			s->vq_lms = m >= 50 && m < 70;
			s->vq_atb = (m >= 62 && m < 80 && (s->n % 2 == 0 || !s->vq_lms));
			s->vq_qdev = m >= 80;
			s->vq_wfa = (s->vq_atb && s->n % 2) || (s->vq_lms && rng_ppm(r, 500000));
		}
		/* scenario seeds: mostly the standard mode, where only a majority is quorate */
		if (burst && rng_ppm(r, 750000))
			s->vq_two_node = s->vq_lms = s->vq_atb = s->vq_qdev = s->vq_wfa = false;
		s->qmodes = (s->vq_two_node ? CL_QMODE_TWO_NODE : 0) |
			    (s->vq_lms ? CL_QMODE_LAST_MAN_STANDING : 0) |
			    (s->vq_atb ? CL_QMODE_AUTO_TIE_BREAKER : 0) |
			    (s->vq_qdev ? CL_QMODE_QDEVICE : 0);
		s->lms_window = rng_range(r, T, 8 * T);
		s->qdev_timeout = rng_range(r, T, 6 * T);
		s->vq_first_ppm = rng_range(r, 0, 300000);
		s->vq_late_ppm = rng_range(r, 0, 400000);
		s->vq_late_max = rng_range(r, 100, T / 4);
	}
	s->rcv_ppm = rng_ppm(r, 300000) ? 0 : rng_range(r, 100000, 900000);
	s->quick_heal_ppm = rng_range(r, 0, 700000);
	s->batching = !rng_ppm(r, 200000) || burst;   /* scenario seeds: as lockd/cpg.c */
	s->batch_window = !s->batching || rng_ppm(r, 400000) ? 0 : rng_range(r, 100, 10 * MS);
	s->straggler_ppm = rng_ppm(r, 200000) ? 0 : rng_range(r, 200000, 800000);
	s->hold_max = rng_range(r, T / 4, 2 * T);
	s->think_max = rng_range(r, T / 20, T / 2);
	s->release_soon = T / 4;
	if (burst) {
		s->sc_ppm = rng_range(r, 300000, 800000);
		s->sc_think = rng_range(r, MS, 10 * MS);
	}
	if (s->o->scenario == SIM_SC_ASYM_VIEW)
		s->skip_ppm = rng_range(r, 200000, 600000);

	memset(&s->cfg, 0, sizeof(s->cfg));
	/*
	 * Clocks: each node's drifts by at most drift_ppm.  Validity stays
	 * below T by the drift's worth (the daemon's default, the token
	 * timeout, is far below token + consensus); what is left is the slack
	 * a stopped clock may eat: vm_pause_max.
	 */
	s->drift_ppm = rng_ppm(r, 250000) ? 0 : (uint32_t)rng_range(r, 20, 500);
	s->cfg.validity_us = rng_range(r, T / 2, T - T * 3 * s->drift_ppm / 1000000 - MS);
	s->vm_pause_max = (T - s->cfg.validity_us - T * 2 * s->drift_ppm / 1000000) / 2;
	if (s->vm_pause_max < MS)
		s->vm_pause_max = 0;
	s->cfg.revoke_timeout_us = rng_range(r, T, 3 * T);
	s->cfg.handover_timeout_us = rng_range(r, T, 4 * T);
	s->cfg.linger_us = rng_range(r, 1000, 2 * T);
	s->cfg.fence_delay_us = s->cfg.validity_us + s->cfg.revoke_timeout_us +
				rng_range(r, 50 * MS, T);
	s->cfg.sync_chunk = rng_ppm(r, 500000) ? 0 : (uint32_t)rng_range(r, 256, 4096);
	s->cfg.kill_on_revoke = rng_ppm(r, 500000);
	s->cfg.sm.index_mem_max = rng_ppm(r, 200000) ? rng_range(r, 300, 1500) : 0;
	/* seeds with a small index bound have a per-uid quota too (no draw: schedules unchanged) */
	s->cfg.sm.index_bytes_per_uid = s->cfg.sm.index_mem_max / 2;
	/*
	 * One seed in four spreads every reconcile over ticks, 1 to 5 leases
	 * and records a part (the daemon's 16384 is far above a simulated
	 * state): by the seed, no draw, so the other seeds' schedules stay.
	 */
	s->cfg.reconcile_slice = seed % 4 == 1 ? (uint32_t)(1 + seed / 4 % 5) : 0;
	s->cfg.sm.unsafe_flags = s->o->plant;
	cl_node_config_finish(&s->cfg, NULL, 0);

	s->bound = 4 * T + s->cfg.fence_delay_us + s->cfg.linger_us +
		   (s->n + 1) * (s->cfg.handover_timeout_us + s->cfg.revoke_timeout_us + T);
	s->nowait_bound = NOWAIT_T * T;
	s->now = SEC;
	active = rng_range(r, 20 * T, 50 * T);
	s->t_stop = s->now + active;
	s->t_final = s->t_stop + s->bound + 4 * T;

	/* distinct, sorted node ids; not always 1..n */
	for (unsigned i = 0; i < s->n; i++) {
		bool dup;

		do {
			ids[i] = (uint32_t)rng_range(r, 1, rng_ppm(r, 500000) ? s->n : 40);
			dup = false;
			for (unsigned j = 0; j < i; j++)
				dup |= ids[j] == ids[i];
		} while (dup);
	}
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = i + 1; j < s->n; j++)
			if (ids[j] < ids[i]) {
				uint32_t t = ids[i];

				ids[i] = ids[j];
				ids[j] = t;
			}
	TR(s, "seed %" PRIu64 ": %u nodes, %u names, %u clients/node, token %" PRIu64
	   " validity %" PRIu64 " revoke %" PRIu64 " handover %" PRIu64 " linger %" PRIu64
	   " fence %" PRIu64 " chunk %u kill %d mem %zu per-uid %" PRIu64 " eagain %" PRIu64
	   "ppm stragglers %" PRIu64 "ppm stop %" PRIu64 " bound %" PRIu64, seed, s->n, s->nnames,
	   s->cpn, T, s->cfg.validity_us, s->cfg.revoke_timeout_us, s->cfg.handover_timeout_us,
	   s->cfg.linger_us, s->cfg.fence_delay_us, s->cfg.sync_chunk, s->cfg.kill_on_revoke,
	   s->cfg.sm.index_mem_max, s->cfg.sm.index_bytes_per_uid, s->eagain_ppm,
	   s->straggler_ppm, s->t_stop, s->bound);

	s->workload_on = true;
	s->faults_on = true;
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		n->sim = s;
		n->idx = i;
		n->id = ids[i];
		n->comp = -1;
		n->tick_at = NEVER;
		n->clk_t0 = s->now;
		n->clk_off = rng_range(r, SEC, 1000000 * SEC);
		n->ppm = (int32_t)rng_range(r, 0, 2 * s->drift_ppm) - (int32_t)s->drift_ppm;
		TR(s, "node n%u starts (clock %" PRIu64 ", drift %d ppm)", n->id, n->clk_off, n->ppm);
		node_start(s, n);
	}
	apply_faults(s);   /* the first ring forms a token timeout after start */
	ev_push(s, s->now + rng_range(r, 2 * T, 8 * T), EV_FAULT, 0, 0, 0);
	ev_push(s, s->now + T / 2, EV_CHECK, 0, 0, 0);
	ev_push(s, s->t_stop, EV_STOP, 0, 0, 0);
	ev_push(s, s->t_final, EV_FINAL, 0, 0, 0);
}

static void teardown(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		n->cn = cl_node_free(n->cn);
		free(n->tags);
		msgq_clear(&n->held);
		msgq_clear(&n->ghostq);
		free(n->calls);
		free(n->batch);
		dq_clear(n);
		free(n->dq);
	}
	for (int i = 0; i < SIM_MAX_COMPS; i++)
		if (s->comps[i].used)
			comp_free(s, i);
	for (unsigned i = 0; i < s->nslots; i++)
		free(s->clients[i].inbox);
	for (unsigned i = 0; i < SIM_MAX_NAMES; i++)
		free(s->epochs[i].v);
	free(s->heap);
	free(s->evbody);
	free(s->evfree);
}

static void on_stop(struct sim *s)
{
	TR(s, "STOP: faults and new requests end; healing everything");
	s->workload_on = false;
	s->faults_on = false;
	heal_all(s);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];

		if (!n->on) {
			TR(s, "FAULT: restart n%u", n->id);
			node_start(s, n);
			continue;
		}
		if (n->freeze != FZ_NONE)
			node_resume(s, n);
		if (n->cs == CS_STALL)
			stall_end(s, n);
		if (n->vq.qdev_cut) {
			n->vq.qdev_cut = false;
			vq_qdev_poll(s);
		}
		if (!n->up) {
			TR(s, "FAULT: n%u's daemon restarts", n->id);
			daemon_start(s, n);
		}
	}
	apply_faults(s);
}

static void dispatch(struct sim *s, const struct ev *e)
{
	struct node *n;

	if ((e->type == EV_IPC || e->type == EV_WAKE || e->type == EV_RELEASE ||
	     e->type == EV_CANCEL) && node_asleep(&s->nodes[s->clients[e->a].node])) {
		/* the client sleeps with its node: it goes on when the node wakes */
		struct client *c = &s->clients[e->a];

		if (e->type == EV_RELEASE && c->holds[e->c >> 32].release_at == s->now)
			c->holds[e->c >> 32].release_at = s->nodes[c->node].thaw_at;
		ev_push(s, s->nodes[s->clients[e->a].node].thaw_at, e->type, e->a, e->b, e->c);
		return;
	}
	switch (e->type) {
	case EV_DELIVER:
		on_deliver(s, e);
		break;
	case EV_SELF:
		on_self(s, e);
		break;
	case EV_TICK:
		on_tick(s, e);
		break;
	case EV_IPC:
		on_ipc(s, e);
		break;
	case EV_WAKE:
		on_wake(s, e);
		break;
	case EV_RELEASE:
		on_release(s, e, false);
		break;
	case EV_CANCEL:
		on_release(s, e, true);
		break;
	case EV_SPAWN:
		n = &s->nodes[s->clients[e->a].node];
		if (s->clients[e->a].id == e->b && n->up && n->incarnation == e->c)
			client_spawn(s, e->a);
		break;
	case EV_GONE: {
		struct call k = { .kind = CALL_GONE, .client = e->b };

		n = &s->nodes[e->a];
		if (n->up && n->incarnation == e->c)
			node_call(s, n, &k);
		break;
	}
	case EV_FAULT:
		on_fault(s);
		break;
	case EV_RESUME:
		n = &s->nodes[e->a];
		if (n->on && n->freeze != FZ_NONE && n->fault_gen == e->b && s->faults_on)
			node_resume(s, n);
		break;
	case EV_RESTART:
		n = &s->nodes[e->a];
		if (!n->on && n->fault_gen == e->b && s->faults_on) {
			TR(s, "FAULT: restart n%u", n->id);
			node_start(s, n);
			apply_faults(s);
		}
		break;
	case EV_DAEMON_BACK:
		n = &s->nodes[e->a];
		if (n->on && !n->up && n->daemon_gen == e->b && s->faults_on) {
			TR(s, "FAULT: n%u's daemon restarts", n->id);
			daemon_start(s, n);
			apply_faults(s);
		}
		break;
	case EV_STALL_END:
		n = &s->nodes[e->a];
		if (n->on && n->cs == CS_STALL && n->stall_gen == e->b && s->faults_on)
			stall_end(s, n);
		break;
	case EV_SKIP:
		on_skip(s, e);
		break;
	case EV_SC_SPLIT:
		if (e->b != s->sc_gen)
			break;
		s->sc_plan.armed = false;
		if (s->faults_on && !partitioned(s))
			sc_split(s, e->a, e->c != 0);
		break;
	case EV_HEAL:
		if (e->b == s->part_gen && s->faults_on) {
			heal_all(s);
			apply_faults(s);
		}
		break;
	case EV_REFORM:
		on_reform(s, e);
		break;
	case EV_CHECK:
		check_state(s, true);
		check_index(s);
		check_live(s, false);
		if (s->now < s->t_final)
			ev_push(s, s->now + s->token_us / 2, EV_CHECK, 0, 0, 0);
		break;
	case EV_STOP:
		on_stop(s);
		break;
	case EV_FINAL:
		check_final(s);
		s->stop = true;
		break;
	case EV_FLUSH:
		on_flush(s, e);
		break;
	case EV_VERDICT:
		on_verdict(s, e);
		break;
	case EV_LMS:
		on_lms(s, e);
		break;
	case EV_QDEV_LOST:
		on_qdev_lost(s, e);
		break;
	case EV_QDEV_BACK:
		n = &s->nodes[e->a];
		if (n->vq.qdev_cut && n->vq.qdev_gen == e->b) {
			n->vq.qdev_cut = false;    /* polls the arbiter again */
			vq_qdev_poll(s);
		}
		break;
	case EV_CPG_BACK:
		n = &s->nodes[e->a];
		if (n->on && n->cs == CS_DOWN && n->cs_inc == e->b) {
			TR(s, "FAULT: corosync back on n%u", n->id);
			n->cs = CS_RUN;
			apply_faults(s);
		}
		break;
	}
}

/*
 * A node whose agent failed (out of memory, node.h) is what the daemon makes
 * of it: the daemon exits, and systemd restarts it later.  Not a violation
 * by itself; the invariants judge what the others do next.
 */
static void reap_failed(struct sim *s)
{
	uint32_t look = s->reap_look;

	/*
	 * After every event, but only nodes whose agent was called since the
	 * last look, or during this one (a reap calls into others, and the loop
	 * always went on to them): up, cn and failed change only in events that
	 * call the agent, so any other node was judged "not failed" then and
	 * would be now.  --self-check looks at every node.
	 */
	s->reap_look = 0;
	if (!look && !self_check)
		return;   /* nothing to look at: only a look (a crash) calls into an agent here */
	for (unsigned i = 0; i < s->n && !s->stop; i++) {
		struct node *n = &s->nodes[i];
		bool looked = (look | s->reap_look) & (1u << i);

		if ((!looked && !self_check) || !n->up || !n->cn || !node_view(n)->failed)
			continue;
		if (!looked)
			violation(s, SIM_INV_PROTO, "self-check: reap_failed() would have skipped "
				  "node %u", n->id);
		TR(s, "n%u: agent failed: the daemon exits", n->id);
		daemon_crash(s, n, rng_range(&s->rng, s->token_us / 2, 10 * s->token_us));
	}
}

/*
 * --digest: one line per seed that changes whenever the run's behaviour
 * does: the event count, simulated time, the result counters, and every
 * live node's machine hash, lsn and agent counters.  Refactors compare the
 * sorted output before and after (tests/sim/digest.sh).
 */
static void print_digest(struct sim *s)
{
	const struct sim_result *r = s->res;
	uint64_t h = cl_hash_u64(0x64696765ULL, r->events);

	h = cl_hash_u64(h, r->sim_us);
	h = cl_hash_u64(h, (uint64_t)r->inv);
	h = cl_hash_u64(h, r->grants);
	h = cl_hash_u64(h, r->index_acks);
	h = cl_hash_u64(h, r->trans_acks);
	h = cl_hash_u64(h, r->forks);
	h = cl_hash_u64(h, r->faults);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *n = &s->nodes[i];
		struct cl_node_counters k;

		if (!n->cn)
			continue;
		h = cl_hash_u64(h, n->id);
		if (cl_node_sm(n->cn)) {
			struct cl_sm_stats st;

			cl_sm_stats(cl_node_sm(n->cn), &st);
			h = cl_hash_u64(h, st.lsn);
			h = cl_hash_u64(h, cl_sm_hash(cl_node_sm(n->cn)));
		}
		cl_node_counters(n->cn, &k);
		h = cl_hash_bytes(h, &k, sizeof(k));
	}
	printf("digest seed %" PRIu64 " %016" PRIx64 " events %" PRIu64 "\n", r->seed, h, r->events);
	fflush(stdout);
}

/*
 * Runs one seed.  With tracing, keeps the last SIM_TRACE_LINES lines (or
 * prints everything with --verbose) and prints them after a violation.
 * The result (violation, counts) goes to *res.
 */
static const char *plant_args(unsigned flags, char *buf, size_t cap);
static const char *scenario_arg(const struct sim_opts *o, char *buf, size_t cap);

static void run_seed(const struct sim_opts *o, uint64_t seed, bool tracing, struct sim_result *res)
{
	char pl[160], sc[80];

	struct sim *s = calloc(1, sizeof(*s));

	if (!s) {
		fprintf(stderr, "sim: out of memory\n");
		exit(2);
	}
	memset(res, 0, sizeof(*res));
	res->seed = seed;
	s->o = o;
	s->res = res;
	s->tracing = tracing;
	if (tracing && !o->verbose)
		s->ring = calloc(SIM_TRACE_LINES, sizeof(*s->ring));
	setup(s, seed);
	while (!s->stop) {
		struct ev e;

		if (!ev_pop(s, &e))
			break;
		s->now = e.time;
		res->events++;
		s->touched = false;
		dispatch(s, &e);
		if (s->touched) {
			check_transitions(s);
			check_fresh(s);
		}
		if (s->o->watch < SIM_MAX_NAMES && s->tracing && s->touched)
			watch_name(s);
		reap_failed(s);
		if (s->stop)
			break;
		check_owners(s);
		if (!s->stop && s->touched)
			check_state(s, false);
		if (res->events > MAX_EVENTS_PER_SEED)
			violation(s, SIM_INV_PROTO, "runaway: more than %llu events",
				  (unsigned long long)MAX_EVENTS_PER_SEED);
	}
	res->sim_us = s->now;
	if (!tracing && o->keep_going && res->inv != SIM_OK && !(o->expect && safety_inv(res->inv))) {
		printf("sim: seed %" PRIu64 ": VIOLATION of invariant %c at t=%" PRIu64 " us: %s\n",
		       seed, (char)res->inv, s->now, res->desc);
		fflush(stdout);
	}
	if (tracing && res->inv != SIM_OK) {
		printf("sim: seed %" PRIu64 ": VIOLATION of invariant %c at event %" PRIu64
		       ", t=%" PRIu64 " us: %s\n", seed, (char)res->inv, res->inv_event, s->now,
		       res->desc);
		if (!o->verbose && !(o->expect && safety_inv(res->inv))) {
			printf("sim: last %u trace lines:\n", s->ring_n);
			for (unsigned i = 0; i < s->ring_n; i++)
				printf("  %s\n", s->ring[(s->ring_pos + SIM_TRACE_LINES - s->ring_n + i) %
							  SIM_TRACE_LINES]);
		}
		printf("sim: replay with: corolease-sim --seed %" PRIu64 " --verbose%s%s\n", seed,
		       scenario_arg(o, sc, sizeof(sc)), plant_args(o->plant, pl, sizeof(pl)));
		fflush(stdout);
	}
	if (o->digest)
		print_digest(s);
	teardown(s);
	free(s->ring);
	free(s);
}

/* -------------------------------------------------------------------- main */

/* --scenario's names, by enum sim_scenario. */
static const char *const scenario_names[] = {
	[SIM_SC_NONE] = "none",
	[SIM_SC_MINORITY_BURST] = "minority-burst",
	[SIM_SC_ASYM_VIEW] = "asym-view",
};

/* " --scenario X" for o's scenario (none: ""), into buf. */
/* The options a seed's run depends on besides --plant, for a replay line. */
static const char *scenario_arg(const struct sim_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", o->scenario ? " --scenario " : "",
		 o->scenario ? scenario_names[o->scenario] : "", o->self_first ? " --self-first" : "",
		 o->no_dstop ? " --no-dstop" : "", o->nodes ? " --nodes " : "");
	if (o->nodes) {
		size_t off = strlen(buf);

		snprintf(buf + off, cap - off, "%u", o->nodes);
	}
	return buf;
}

/* " --plant X" for each planted switch in flags, into buf. */
static const char *plant_args(unsigned flags, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned f = 1; f & CL_UNSAFE_ALL && off < cap; f <<= 1)
		if (flags & f)
			off += (size_t)snprintf(buf + off, cap - off, " --plant %s", cl_unsafe_name(f));
	return buf;
}

/* What a worker process reports through shared memory. */
struct worker_out {
	uint64_t seeds, events, sim_us, violations, soft, trans_acks, forks, grants, acks;
	uint64_t faults, bursts, skips;
	uint64_t dstops, dstop_grants, dstop_acks, dstop_syncs;
	uint64_t bad_seed;       /* first violating seed (hard) */
	uint64_t owner_seed;     /* --expect-violation: first seed with a double owner */
	bool bad, owner;
};

struct shared {
	volatile int stop;       /* set by any worker that found what ends the run */
	struct worker_out w[];
};

static void worker(const struct sim_opts *o, unsigned wi, struct shared *sh)
{
	struct worker_out *out = &sh->w[wi];
	struct sim_result r;

	for (uint64_t k = wi; k < o->seeds && !sh->stop; k += o->jobs) {
		uint64_t seed = o->start + k;

		run_seed(o, seed, o->verbose, &r);
		out->seeds++;
		out->events += r.events;
		out->sim_us += r.sim_us;
		out->soft += r.soft;
		out->trans_acks += r.trans_acks;
		out->forks += r.forks;
		out->grants += r.grants;
		out->acks += r.index_acks;
		out->faults += r.faults;
		out->bursts += r.bursts;
		out->skips += r.skips;
		out->dstops += r.dstops;
		out->dstop_grants += r.dstop_grants;
		out->dstop_acks += r.dstop_acks;
		out->dstop_syncs += r.dstop_syncs;
		if (r.inv == SIM_OK)
			continue;
		if (o->expect && safety_inv(r.inv)) {
			out->owner = true;
			out->owner_seed = seed;
			if (!o->verbose)
				run_seed(o, seed, true, &r);   /* replay with the trace ring */
			sh->stop = 1;
			break;
		}
		out->violations++;
		if (!out->bad) {
			out->bad = true;
			out->bad_seed = seed;
		}
		if (o->keep_going)
			continue;
		if (!o->verbose)
			run_seed(o, seed, true, &r);
		if (!o->expect) {
			sh->stop = 1;
			break;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: corolease-sim [--seeds N] [--seed S] [--start S] [--nodes N] [--jobs J]\n"
		"                     [--plant no-quorum|no-orphan-wait|no-term|epoch-no-term|\n"
		"                              split-timer|anchor-own|no-grant-ack|votes-own]\n"
		"                     [--verbose]\n"
		"                     [--expect-violation] [--keep-going] [--lax-trans] [--digest]\n"
		"                     [--congest-unbatched] [--self-first] [--watch NAME] [--self-check]\n"
		"                     [--scenario minority-burst|asym-view] [--key-salt K]\n"
		"                     [--no-dstop]\n"
		"  --seeds N            run N seeds (env SEEDS overrides; default %u)\n"
		"  --start S            first seed (default 1)\n"
		"  --seed S             run only seed S (same as --start S --seeds 1)\n"
		"  --nodes N            cluster size %d..%d (default: random per seed)\n"
		"  --jobs J             worker processes (default: online CPUs)\n"
		"  --plant X            disable a safety mechanism on every node\n"
		"  --scenario minority-burst\n"
		"                       bias the faults toward one shape (its own stream of\n"
		"                       seeds; without it every seed runs as it always did):\n"
		"                       a node's burst of 4..%d requests (acquires, barriers)\n"
		"                       batched into one CPG message is in flight as its ring\n"
		"                       splits; only its side delivers it (mostly a minority,\n"
		"                       its machine still quorate); the quorate side grants\n"
		"                       and acknowledges writes; the split heals within two\n"
		"                       heartbeats.  3..7 nodes, mostly standard votequorum.\n"
		"                       It catches --plant no-term (the default stream\n"
		"                       does not)\n"
		"  --scenario asym-view\n"
		"                       many faults are CPG's asymmetric view of one change:\n"
		"                       a ring's token is lost, some of its nodes (the lossy\n"
		"                       one alone, or the rest) form a ring of their own for a\n"
		"                       moment, the others skip it and go straight into the\n"
		"                       next ring with everyone (no one left or joined, as\n"
		"                       they see it).  Its own stream of seeds\n"
		"  --verbose            print the full trace (use with --seed)\n"
		"  --expect-violation   succeed only if some seed breaks a safety invariant\n"
		"                       (b owner, c epoch, d index)\n"
		"  --keep-going         run every seed; one line per violating seed\n"
		"  --lax-trans          do not require acks made in a minority's\n"
		"                       transitional delivery to survive (the node\n"
		"                       agent confirms writes, so by default they must)\n"
		"  --watch NAME         trace each change of what every replica shows of NAME\n"
		"                       (holders, orphans, waiters; with --verbose)\n"
		"  --congest-unbatched  congest corosync's send queue in seeds that do not\n"
		"                       batch as well (the agent's mcast refused for long)\n"
		"  --self-first         a sender delivers its own message when it sends it,\n"
		"                       before the others have it, and at a break each member\n"
		"                       has delivered the run of messages it had received\n"
		"                       (totem's agreed delivery; on_self(), early_deliver())\n"
		"  --no-dstop           no fault stops a daemon alone (fault_dstop()): the\n"
		"                       fault mix, and every seed, as before that fault\n"
		"                       existed (seeds found then replay with it)\n"
		"  --digest             print a behaviour digest line per seed (compare\n"
		"                       sorted output before and after a refactor)\n"
		"  --self-check         verify every cached agent view and every skipped\n"
		"                       invariant check against a fresh one (slow; a\n"
		"                       mismatch is a violation of x)\n"
		"  --key-salt K         another table key for every node (default 0); the\n"
		"                       digests must not change with it (nothing may follow\n"
		"                       a table's order)\n",
		DEFAULT_SEEDS, SIM_MIN_NODES, SIM_MAX_NODES, SIM_BURST_MAX);
}

static bool parse_u64(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*v_r = v;
	return true;
}

int main(int argc, char **argv)
{
	struct sim_opts o = { .start = 1, .strict_trans = true, .watch = SIM_MAX_NAMES };
	uint64_t v;
	const char *env = getenv("SEEDS");
	bool one = false;
	struct shared *sh;
	struct worker_out tot = { 0 };
	struct timespec t0, t1;
	long ncpu;

	o.seeds = DEFAULT_SEEDS;
	for (unsigned i = 0; i < SIM_MAX_NAMES; i++)
		sim_name_len[i] = strlen(sim_names[i]);
	for (unsigned i = 0; i < SIM_MAX_KEYS; i++)
		sim_key_len[i] = strlen(sim_keys[i]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--seeds") && parse_u64(arg, &v)) {
			o.seeds = v;
			i++;
		} else if (!strcmp(a, "--start") && parse_u64(arg, &v)) {
			o.start = v;
			i++;
		} else if (!strcmp(a, "--seed") && parse_u64(arg, &v)) {
			o.start = v;
			one = true;
			i++;
		} else if (!strcmp(a, "--nodes") && parse_u64(arg, &v) && v >= SIM_MIN_NODES &&
			   v <= SIM_MAX_NODES) {
			o.nodes = (unsigned)v;
			i++;
		} else if (!strcmp(a, "--jobs") && parse_u64(arg, &v) && v >= 1 && v <= 64) {
			o.jobs = (unsigned)v;
			i++;
		} else if (!strcmp(a, "--plant") && arg && cl_unsafe_by_name(arg, strlen(arg))) {
			o.plant |= cl_unsafe_by_name(arg, strlen(arg));
			i++;
		} else if (!strcmp(a, "--scenario") && arg) {
			for (o.scenario = 0; o.scenario < sizeof(scenario_names) / sizeof(scenario_names[0]);
			     o.scenario++)
				if (!strcmp(arg, scenario_names[o.scenario]))
					break;
			if (o.scenario == sizeof(scenario_names) / sizeof(scenario_names[0])) {
				usage(stderr);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--keep-going")) {
			o.keep_going = true;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o.verbose = true;
		} else if (!strcmp(a, "--expect-violation")) {
			o.expect = true;
		} else if (!strcmp(a, "--digest")) {
			o.digest = true;
		} else if (!strcmp(a, "--self-check")) {
			o.self_check = self_check = true;
		} else if (!strcmp(a, "--watch") && arg) {
			for (o.watch = 0; o.watch < SIM_MAX_NAMES; o.watch++)
				if (!strcmp(arg, sim_names[o.watch]))
					break;
			i++;
		} else if (!strcmp(a, "--key-salt") && parse_u64(arg, &v)) {
			o.key_salt = v;
			i++;
		} else if (!strcmp(a, "--congest-unbatched")) {
			o.congest_unbatched = true;
		} else if (!strcmp(a, "--self-first")) {
			o.self_first = true;
		} else if (!strcmp(a, "--no-dstop")) {
			o.no_dstop = true;
		} else if (!strcmp(a, "--lax-trans")) {
			o.strict_trans = false;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (env && *env && !one) {
		if (!parse_u64(env, &v)) {
			fprintf(stderr, "sim: bad SEEDS=%s\n", env);
			return 2;
		}
		o.seeds = v;
	}
	if (one)
		o.seeds = 1;
	if (!o.jobs) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o.jobs = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (unsigned)ncpu;
	}
	if (o.jobs > o.seeds)
		o.jobs = o.seeds ? (unsigned)o.seeds : 1;
	if (o.verbose)
		o.jobs = 1;

	sh = mmap(NULL, sizeof(*sh) + o.jobs * sizeof(sh->w[0]), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("sim: mmap");
		return 2;
	}
	memset(sh, 0, sizeof(*sh) + o.jobs * sizeof(sh->w[0]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(stdout);
	if (o.jobs == 1) {
		worker(&o, 0, sh);
	} else {
		pid_t pids[64];

		for (unsigned w = 0; w < o.jobs; w++) {
			pids[w] = fork();
			if (pids[w] < 0) {
				perror("sim: fork");
				return 2;
			}
			if (pids[w] == 0) {
				worker(&o, w, sh);
				fflush(stdout);
				_exit(0);
			}
		}
		for (unsigned w = 0; w < o.jobs; w++) {
			int st;

			if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "sim: worker %u died abnormally (status %d)\n", w, st);
				tot.violations++;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (unsigned w = 0; w < o.jobs; w++) {
		struct worker_out *x = &sh->w[w];

		tot.seeds += x->seeds;
		tot.events += x->events;
		tot.sim_us += x->sim_us;
		tot.violations += x->violations;
		tot.soft += x->soft;
		tot.trans_acks += x->trans_acks;
		tot.forks += x->forks;
		tot.grants += x->grants;
		tot.acks += x->acks;
		tot.faults += x->faults;
		tot.bursts += x->bursts;
		tot.skips += x->skips;
		tot.dstops += x->dstops;
		tot.dstop_grants += x->dstop_grants;
		tot.dstop_acks += x->dstop_acks;
		tot.dstop_syncs += x->dstop_syncs;
		if (x->bad && (!tot.bad || x->bad_seed < tot.bad_seed)) {
			tot.bad = true;
			tot.bad_seed = x->bad_seed;
		}
		if (x->owner && (!tot.owner || x->owner_seed < tot.owner_seed)) {
			tot.owner = true;
			tot.owner_seed = x->owner_seed;
		}
	}
	printf("sim: %" PRIu64 " seeds, %" PRIu64 " events, %" PRIu64 " violations "
	       "(%" PRIu64 " grants, %" PRIu64 " index acks [%" PRIu64 " in a minority's transitional delivery], "
	       "%" PRIu64 " forks, %" PRIu64 " faults, %.0f simulated s, %.1f s wall, %u jobs%s)\n",
	       tot.seeds, tot.events, tot.violations, tot.grants, tot.acks, tot.trans_acks,
	       tot.forks, tot.faults, (double)tot.sim_us / 1e6,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, o.jobs,
	       BUILD_NOTE);
	if (!o.no_dstop)
		printf("sim: %" PRIu64 " daemons stopped alone (dstop); answered on another node of "
		       "the ring to a request made after the stop, before the resume: %" PRIu64
		       " grants, %" PRIu64 " index acks, %" PRIu64 " sync barriers\n", tot.dstops, tot.dstop_grants, tot.dstop_acks,
		       tot.dstop_syncs);
	if (o.scenario == SIM_SC_MINORITY_BURST)
		printf("sim: scenario %s: %" PRIu64 " of the faults were its bursts and splits\n",
		       scenario_names[o.scenario], tot.bursts);
	if (o.scenario == SIM_SC_ASYM_VIEW)
		printf("sim: scenario %s: %" PRIu64 " of the faults were rings that some nodes "
		       "skipped\n", scenario_names[o.scenario], tot.skips);
	if (o.expect) {
		if (tot.owner) {
			printf("sim: expected violation found at seed %" PRIu64
			       " (%" PRIu64 " other invariant reports ignored)\n", tot.owner_seed, tot.soft);
			return 0;
		}
		char pl[160], sc[80];

		printf("sim: expected a safety violation (b, c or d;%s%s) but none of seeds %" PRIu64
		       "..%" PRIu64 " showed one\n", scenario_arg(&o, sc, sizeof(sc)),
		       plant_args(o.plant, pl, sizeof(pl)), o.start, o.start + o.seeds - 1);
		return 1;
	}
	if (tot.bad) {
		char pl[160], sc[80];

		printf("sim: FAILED: first violating seed %" PRIu64 "; replay with "
		       "corolease-sim --seed %" PRIu64 " --verbose%s%s\n", tot.bad_seed, tot.bad_seed,
		       scenario_arg(&o, sc, sizeof(sc)), plant_args(o.plant, pl, sizeof(pl)));
		return 1;
	}
	return tot.violations ? 1 : 0;
}
