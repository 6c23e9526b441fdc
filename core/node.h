/*
 * node.h - one node's agent around the replicated machine (pure).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * struct cl_node is everything a coroleased instance decides, with no I/O of
 * its own: the join/merge sync protocol, local client holds and their
 * refcount on the node-level lease (one hold state machine per lease), linger,
 * handover, revocation, the validity deadline, fence-delay timers and the
 * fast path.  The glue (the
 * daemon, or the simulator in tests/sim) gives it time, a multicast and
 * events, and calls cl_node_tick() when cl_node_next_deadline() is due.
 *
 * Time is in microseconds of a monotonic clock chosen by the glue.
 *
 * Safety argument in brief (see doc/state-machine.md):
 *  - a lease is usable by local clients only until `valid_until`, renewed to
 *    send_time + validity_us whenever one of this node's own messages is
 *    delivered while the machine is quorate and the local votequorum agrees;
 *  - a departed node's holds are freed only by an ordered RECOVER_NODE sent
 *    fence_delay_us after the departure (>= validity_us + revoke_timeout_us +
 *    margin), or by FENCE_ACK;
 *  - only a quorate machine grants.
 *
 * Out of memory: stop the node and let the cluster fence it.  An allocation
 * failure that would make this node's replica or its promises to clients
 * wrong -- the machine returning -ENOMEM from an input or a snapshot load, or
 * the agent failing to queue an event or one of its own messages, arm a
 * timer, or record a grant, a request or an unconfirmed index write --
 * puts the agent into a terminal FAILED condition instead of going on with
 * a half state: valid_until drops to 0 at once, nothing more is sent to the
 * cluster, queued events are dropped (and counted in the log), and a last
 * CL_NODE_EV_FATAL is handed out, best effort.  From then on every public
 * call does nothing (requests return -ENOMEM), cl_node_failed() is true,
 * cl_node_valid_until() is 0, cl_node_synced() false, cl_node_sm() NULL and
 * cl_node_next_deadline() CL_TIME_NEVER.  A request that cannot be recorded
 * in the first place is only refused with -ENOMEM; the node goes on.
 *
 * The same FAILED condition (event err COROLEASE_EVERSION) ends a node that
 * has no state yet when a member speaks another wire version: a cluster of
 * mixed versions is refused, and the joiner is the one that stops.
 *
 * The glue must poll cl_node_failed() after every call into the node (it
 * need not rely on the event, which is best effort), and then zero the
 * validity page its clients read, and exit non-zero: the service manager
 * restarts it, and meanwhile the cluster sees a departed node whose holds
 * are orphans that wait out the fence delay (the validity page and the
 * fence delay are what keep its clients' writes safe).
 */
#ifndef COROLEASE_NODE_H
#define COROLEASE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "lease.h"

#define CL_TIME_NEVER UINT64_MAX

enum cl_node_event_type {
	CL_NODE_EV_GRANTED = 1,  /* client's acquire granted: mode, epoch, valid_until */
	CL_NODE_EV_DENIED,       /* client's acquire failed: err (-EBUSY + owner, -ETIMEDOUT, ...) */
	CL_NODE_EV_QUEUED,       /* client's WAIT acquire is queued behind owner */
	CL_NODE_EV_WANTED,       /* a lease the client holds is wanted by node `owner` */
	CL_NODE_EV_REVOKED,      /* the client's hold is revoked: stop now; release by `deadline` */
	CL_NODE_EV_KILL,         /* client ignored a revoke past its deadline (kill_on_revoke, CL_NODE_KILL) */
	CL_NODE_EV_VALIDITY,     /* node-wide validity deadline moved to valid_until (client = 0) */
	CL_NODE_EV_INDEX_DONE,   /* client's put/del answered: err, version */
	CL_NODE_EV_INDEX_CHANGED,/* name/key changed (client = 0: for every watcher) */
	CL_NODE_EV_SYNC_DONE,    /* client's sync barrier passed */
	CL_NODE_EV_ADMIN_DONE,   /* client's evict / fence-ack answered: err, count */
	CL_NODE_EV_FATAL,        /* the agent failed: err (-ENOMEM, COROLEASE_EVERSION); client = 0 */
	CL_NODE_EV_EPOCH_FLOOR,  /* keep `epoch` past this run (cl_node_config.epoch_floor of the
				    next): every epoch granted so far is below it; client = 0.
				    Handed out before the grant that needs it is. */
	CL_NODE_EV_NEWEST_TERM,  /* keep the term ring {owner, epoch} (rep, seq) past this run
				    (cl_node_config.newest_term of the next): the newest term
				    this node knows a state had; client = 0 */
	CL_NODE_EV_HOLD_END,     /* a tagged hold or acquire (cl_node_acquire_tagged()) is gone
				    from the agent, however it ended: tag, uid, client (which
				    may be gone); after every other event of the hold.  err:
				    COROLEASE_EREVOKED for a revoked hold dropped at its
				    deadline, which its client has not released (then with
				    the name), else 0 */
};

/* cl_node_acquire(): a hold without a tag, whose end is not reported */
#define CL_NODE_NO_TAG UINT32_MAX

struct cl_node_event {
	enum cl_node_event_type type;
	uint64_t client;
	uint64_t cookie;        /* the client's request id */
	int err;
	uint32_t owner;
	uint8_t mode;
	bool deleted;
	uint64_t epoch;
	uint64_t valid_until;   /* GRANTED, VALIDITY */
	uint64_t deadline;      /* REVOKED */
	uint64_t version;
	uint64_t count;
	const uint8_t *name;
	uint16_t namelen;
	const uint8_t *key;
	uint8_t keylen;
	uint32_t tag;           /* the hold's (cl_node_acquire_tagged()), or CL_NODE_NO_TAG */
	uint32_t uid;           /* HOLD_END: the client's user */
	uint8_t flags;          /* lease events: the hold's acquire flags (KILL: CL_NODE_KILL) */
};

struct cl_node_ops {
	/* Monotonic time in microseconds. */
	uint64_t (*now)(void *ctx);
	/*
	 * Multicasts buf with agreed order to the current configuration.
	 * Returns 0 when the transport took it (its delivery will follow), or
	 * -EAGAIN when the transport is congested: the node keeps the message
	 * and retries on the next cl_node_tick().  Other errors are treated
	 * like -EAGAIN.
	 */
	int (*mcast)(void *ctx, const void *buf, size_t len);
	/* Reports an event to the glue; runs inside the node's calls. */
	void (*event)(void *ctx, const struct cl_node_event *ev);
	/* Optional: every machine action, for logging and tests.  May be NULL. */
	void (*action)(void *ctx, const struct cl_action *a);
	/* Optional: a log line (level as syslog).  May be NULL. */
	void (*log)(void *ctx, int level, const char *msg);
};

struct cl_node_config {
	uint32_t nodeid;
	uint64_t linger_us;          /* keep an unused lease this long; default 5 s */
	uint64_t handover_timeout_us;/* wanted lease: revoke local users after; default 10 s */
	uint64_t revoke_timeout_us;  /* revoked clients must be done by; default 5 s */
	uint64_t validity_us;        /* validity after a confirmed send; default 2 s (the
					daemon passes corosync's token timeout) */
	uint64_t heartbeat_us;       /* NOP when nothing was sent this long; default validity/4 */
	uint64_t fence_delay_us;     /* wait before recover-node; default validity+revoke+2 s */
	uint32_t sync_chunk;         /* snapshot chunk size; default 256 KiB */
	uint32_t reconcile_slice;    /* a reconcile with more local leases or machine records
					than this is spread over passes of the loop, this many
					a pass (nd_reconcile()); default 16384 */
	uint32_t send_window;        /* bytes of own messages handed to the transport and not
					yet delivered back; more wait (their send time, the
					renewal anchor, stays recent under a bulk transfer);
					default 4 sync chunks */
	uint64_t snapshot_max;       /* a snapshot to load larger than this is refused; default
					CL_SNAPSHOT_MAX_DEFAULT */
	bool kill_on_revoke;         /* emit CL_NODE_EV_KILL for clients late on revoke */
	uint64_t epoch_floor;        /* the last CL_NODE_EV_EPOCH_FLOOR a previous run of the
				        daemon on this node kept (0: none) */
	struct cl_ring newest_term;  /* the last CL_NODE_EV_NEWEST_TERM a previous run kept
					(zero: none) */
	struct cl_sm_config sm;
};

struct cl_node_counters {
	uint64_t mcast_msgs;         /* messages handed to ops->mcast */
	uint64_t heartbeats;         /* of which heartbeat NOPs */
	uint64_t mcast_bytes;
	uint64_t mcast_eagain;
	uint64_t fastpath_grants;    /* local acquires granted without a message */
	uint64_t cluster_grants;     /* acquires that went through the cluster */
	uint64_t delivered;
	uint64_t bad_msgs;           /* deliveries that failed to decode (a batch counts once) */
	uint64_t version_mismatches; /* of which: another wire version (a member of another release) */
	uint64_t dropped_in_sync;    /* ordinary messages dropped during a sync round */
	uint64_t syncs;              /* sync rounds completed */
	uint64_t sync_msgs;          /* sync messages delivered (announces, snapshot chunks, hold lists) */
	uint64_t snapshots_sent;
	uint64_t snapshots_loaded;
	uint64_t snapshots_refused;  /* larger than snapshot_max: the node stays unsynced */
	uint64_t revokes;            /* client holds revoked */
	uint64_t kills;
	uint64_t recover_sent;
	uint64_t illegal_transitions;/* lease hold moves refused (a bug; logged at LOG_ERR) */
	struct cl_hist handover;     /* another node asked (WANTED) to this node's release */
	struct cl_hist sync;         /* sync rounds: start to completion */
};

struct cl_node;

#define CL_SNAPSHOT_MAX_DEFAULT (4ull << 30)

/*
 * The one place the timing defaults live (and snapshot_max's).  Fills every zero field of cfg
 * (nodeid excepted) with its default, derived from validity_us where the
 * default depends on it, then checks the timings: fence_delay_us >=
 * validity_us + revoke_timeout_us, heartbeat_us < validity_us.  Returns 0,
 * or -EINVAL with a one-line reason naming the daemon's keys in err (err may
 * be NULL).
 */
int cl_node_config_finish(struct cl_node_config *cfg, char *err, size_t errlen);

/*
 * Creates the agent.  It has no state until its first configuration change
 * and sync complete.  Returns NULL on ENOMEM, or for a config or ops it
 * cannot take: nodeid 0, no ops->now or ops->mcast, or timings that
 * cl_node_config_finish() refuses.
 */
struct cl_node *cl_node_new(const struct cl_node_config *cfg,
			    const struct cl_node_ops *ops, void *ctx);
/* Frees the agent; accepts NULL; returns NULL.  Emits no events. */
struct cl_node *cl_node_free(struct cl_node *n);

/* ---- transport inputs ---- */

/* An ordered delivery of len bytes from sender. */
void cl_node_deliver(struct cl_node *n, uint32_t sender, const void *buf, size_t len);
/* An ordered configuration change (joined includes this node on first join). */
void cl_node_confchg(struct cl_node *n, const struct cl_ring *ring,
		     const uint32_t *members, size_t nmembers,
		     const uint32_t *left, size_t nleft,
		     const uint32_t *joined, size_t njoined);
/* The local votequorum view: quorate or not, for ring. */
void cl_node_quorum(struct cl_node *n, bool quorate, const struct cl_ring *ring);
/*
 * The totem membership of ring: every node whose corosync is in the ring,
 * whether or not its daemon is in the group (CPG's totem confchg).  It
 * only decides when this node SENDS the GRACE_END of fresh state
 * (doc/state-machine.md, "Fresh state and the grace period"): not while a
 * node of the ring has no daemon in the group, has not announced its epoch
 * floor to this state, and was not fence-acked, nor while the last
 * membership given is not of the group's ring.  A glue that never calls it
 * gets no such wait (the daemon and the simulator call it on every totem
 * change, before the group change of that ring).  Members beyond
 * CL_MAX_MEMBERS are ignored (logged).
 */
void cl_node_totem(struct cl_node *n, const struct cl_ring *ring, const uint32_t *members,
		   size_t nmembers);

/*
 * votequorum modes in which a split can leave both sides quorate (the
 * daemon reads them from votequorum_getinfo()'s flags).  With any of them
 * set, a departed node's holds are freed only by FENCE_ACK (or its return),
 * and nothing is granted meanwhile (doc/state-machine.md).
 */
#define CL_QMODE_TWO_NODE          0x01u
#define CL_QMODE_LAST_MAN_STANDING 0x02u
#define CL_QMODE_AUTO_TIE_BREAKER  0x04u
#define CL_QMODE_QDEVICE           0x08u
#define CL_QMODE_ALL               0x0fu
/*
 * Not a mode: not every expected vote is present (votequorum's total_votes
 * below highest_expected).  In a split-capable mode fresh state then stays
 * in its grace period until the others are back or a fence-ack ends it.
 */
#define CL_QMODE_INCOMPLETE        0x10u
/* The local votequorum's modes (CL_QMODE_*); reported to the machine with the verdict. */
void cl_node_quorum_mode(struct cl_node *n, unsigned qmodes);
/*
 * The local votequorum's vote count for ring (give it before that ring's
 * verdict, cl_node_quorum()): quorum, the votes a partition needs;
 * expected, the votes of the whole cluster (votequorum's highest expected,
 * or its total votes if more); and the votes of each node it counts (at most
 * CL_MAX_MEMBERS; a node not listed counts 0).  With it, in the standard
 * mode (no CL_QMODE_* split-capable mode, here or in the machine), a write,
 * a sync barrier or a grant of this node is confirmed once this node and
 * the members that applied it (a WRITE_ACK entry naming it) hold enough
 * votes that the rest of the cluster cannot make a quorum without one of
 * them, and at least one other member applied it: a member whose daemon
 * hangs while its corosync runs then holds nothing back.  Without it (a
 * glue that never calls this, or another ring), every other member must
 * acknowledge (doc/state-machine.md, "Index writes and sync reads").
 */
struct cl_node_vote {
	uint32_t nodeid;
	uint32_t votes;
};
void cl_node_votes(struct cl_node *n, const struct cl_ring *ring, uint32_t quorum, uint32_t expected,
		   const struct cl_node_vote *nodes, size_t nnodes);
/* The transport is gone (corosync died): revoke everything, forget state. */
void cl_node_transport_lost(struct cl_node *n);
/* Runs due timers and retries congested sends. */
void cl_node_tick(struct cl_node *n);
/* Earliest time cl_node_tick() has work, or CL_TIME_NEVER. */
uint64_t cl_node_next_deadline(const struct cl_node *n);

/*
 * Starts a graceful shutdown: new acquires fail with -ESHUTDOWN, pending
 * ones are denied with it, every local client hold is revoked, and each
 * node-level hold is handed back through the cluster once its clients are
 * done (or their revoke deadline passed), so other nodes need not wait out
 * the fence delay.  Keep delivering and ticking until cl_node_drained().
 */
void cl_node_drain(struct cl_node *n);
/* True once a drain has nothing left to give back (or cannot: no quorum, not synced). */
bool cl_node_drained(const struct cl_node *n);

/*
 * The node's own messages made and not yet delivered back (queued for sync
 * to end or for the transport, in flight, or waiting to be sent again):
 * bytes, and in *msgs_r (if not NULL) their number.  It grows while
 * corosync takes or delivers nothing (stopped); the daemon refuses new
 * requests beyond max_backlog_bytes.
 */
uint64_t cl_node_backlog(const struct cl_node *n, uint64_t *msgs_r);
/* For tests: whether that count equals what the node's queues hold now. */
bool cl_node_backlog_consistent(const struct cl_node *n);

/* ---- client requests (answers come as events, possibly from inside the call) ---- */

/* cl_node_acquire(): share an EX hold with other such local clients of its uid (COROLEASE_NODE_SHARED). */
#define CL_NODE_SHARED    COROLEASE_NODE_SHARED
/*
 * cl_node_acquire(): the client may have any local holder revoked for its
 * WAIT request (the glue sets it for root and admin_group; never a client's
 * own flag).
 */
#define CL_NODE_PRIVILEGED 0x10u
/*
 * cl_node_acquire(): the hold's client is killed (CL_NODE_EV_KILL) should it
 * still hold it past its revoke deadline, as with kill_on_revoke
 * (COROLEASE_KILL: the client's own choice).
 */
#define CL_NODE_KILL      COROLEASE_KILL
#define CL_NODE_ACQ_FLAGS (CL_ACQ_WAIT | CL_NODE_SHARED | CL_NODE_PRIVILEGED | CL_NODE_KILL)

/*
 * Acquires name for client, whose user is uid, in mode (CL_MODE_EX/SH) with
 * flags (CL_ACQ_WAIT, CL_NODE_SHARED, CL_NODE_PRIVILEGED, CL_NODE_KILL).  Local clients are
 * arbitrated like nodes: SH with SH, EX alone unless the request and every
 * EX holder are CL_NODE_SHARED and of the request's uid (no other uid joins,
 * privileged or not); a request that conflicts only with local holders is
 * denied -EBUSY naming this node, or (WAIT) queued: the holders in its way
 * are told WANTED by this node, and the head of the local queue has them
 * revoked after handover_timeout_us if it may: it is CL_NODE_PRIVILEGED, or
 * every holder in its way is of its uid.  Otherwise nobody is revoked for it
 * and it waits for them to release (or for its timeout).  A request for a
 * hold another node must give up (node-level arbitration) is handed over as
 * ever, whoever the local holders are.  A lease passed to another local
 * client after a clean release keeps its epoch; after a revoke it gets a
 * new one first.  timeout_us bounds a WAIT (0 = no bound).  Returns 0 when
 * the request was taken (the answer is an event: GRANTED, QUEUED then
 * GRANTED/DENIED, or DENIED), or an immediate error without event:
 * -EINVAL (bad name/mode/flags), -EALREADY (client holds or is acquiring
 * name), -ESHUTDOWN (draining), -ENOMEM (not recorded, or the agent failed).
 */
int cl_node_acquire(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
		    const void *name, size_t namelen, uint8_t mode, unsigned flags,
		    uint64_t timeout_us);
/*
 * The same, with a tag the glue keeps for the hold (lockd: its revocation
 * slot): every event of the hold carries it, and CL_NODE_EV_HOLD_END (tag,
 * uid) follows its end, whatever ends it: a release, the client's end, a
 * denial, a revoked hold's deadline, a drain.  The glue owns what the tag
 * stands for until then (or until a call that returns an error: then no
 * hold was made).  A client has one uid: an acquire by a client that holds
 * or waits for a name under another uid is -EINVAL.
 */
int cl_node_acquire_tagged(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
			   uint32_t tag, const void *name, size_t namelen, uint8_t mode,
			   unsigned flags, uint64_t timeout_us);
/* Whether client holds, or is acquiring, name; and how many of those it has. */
bool cl_node_client_has(const struct cl_node *n, uint64_t client, const void *name,
			size_t namelen);
uint32_t cl_node_client_nholds(const struct cl_node *n, uint64_t client);
/* Releases client's hold or pending acquire of name.  0, COROLEASE_ENOTHELD, -ENOMEM (failed agent). */
int cl_node_release(struct cl_node *n, uint64_t client, const void *name, size_t namelen);
/* Drops everything client holds or waits for, without events to it. */
void cl_node_client_gone(struct cl_node *n, uint64_t client);

/*
 * Index writes by a client holding name in EX.  0 (answer: INDEX_DONE event)
 * or immediately -EINVAL, COROLEASE_ENOTHELD, -ENOMEM (not recorded, or the
 * agent failed).  The same -ENOMEM applies to sync, evict and fence-ack.
 * A put is charged to uid, the client's (index.h: per-uid quota), and may
 * be answered -EDQUOT or -ENOSPC.
 */
int cl_node_index_put(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t uid,
		      const void *name, size_t namelen, const void *key, size_t keylen,
		      const void *val, size_t vallen);
int cl_node_index_del(struct cl_node *n, uint64_t client, uint64_t cookie,
		      const void *name, size_t namelen, const void *key, size_t keylen);
/* Ordering barrier: SYNC_DONE once a NOP sent now is delivered. */
int cl_node_sync(struct cl_node *n, uint64_t client, uint64_t cookie);
/* Admin: evict name's holders / declare node fenced.  Answer: ADMIN_DONE. */
int cl_node_evict(struct cl_node *n, uint64_t client, uint64_t cookie,
		  const void *name, size_t namelen);
/*
 * FENCE_ACK for node: it is fenced, free its holds.  A current member is
 * refused (ADMIN_DONE with COROLEASE_ENODEALIVE) unless force.
 */
int cl_node_fence_ack(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t node,
		      bool force);

/* ---- queries ---- */

/* True once the agent failed for good (out of memory; see the top of this file). */
bool cl_node_failed(const struct cl_node *n);

/* The replica, for local reads (owner, index).  NULL until first synced. */
const struct cl_sm *cl_node_sm(const struct cl_node *n);
/* cl_sm_hash() of the replica (0 without one), remembered until it changes (cl_sm_hash_cached()). */
uint64_t cl_node_state_hash(struct cl_node *n);
/* True while the agent has state and no sync round runs (ordinary messages flow). */
bool cl_node_synced(const struct cl_node *n);
/*
 * While a sync round runs: the members it still waits for (their announce
 * or its confirmation; once decided, the winner's snapshot and the hold
 * lists due), in member order, up to max of them into out (NULL with max
 * 0 counts only); returns how many there are.  0 outside a round.  A
 * member that stays in this list is what holds every node of the ring
 * unsynced (a daemon hung while its corosync runs); this node itself in it
 * means its own messages do not come back.
 */
size_t cl_node_sync_waiting(const struct cl_node *n, uint32_t *out, size_t max);
/* The node-wide validity deadline: local clients may use their leases while now < it (0: not). */
uint64_t cl_node_valid_until(const struct cl_node *n);
/*
 * While the deadline is 0 (cut: quorum, corosync or a ring lost, holds
 * revoked), since when validity is over: the old deadline if it had passed
 * by then, else the cut; 0 otherwise (a deadline that passed is itself
 * the answer), and for an agent that was never valid.
 */
uint64_t cl_node_invalid_since(const struct cl_node *n);
void cl_node_counters(const struct cl_node *n, struct cl_node_counters *c_r);
/* Its counters' illegal_transitions, without copying them all (the simulator reads it often). */
uint64_t cl_node_illegal_transitions(const struct cl_node *n);
/* Number of local client holds. */
uint64_t cl_node_client_holds(const struct cl_node *n);

#endif /* COROLEASE_NODE_H */
