/*
 * lease.h - the replicated lease + index state machine (pure).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every node feeds the same corosync-ordered inputs to one struct cl_sm and
 * so holds the same state.  The machine does no I/O, reads no clock and
 * knows nothing of corosync: inputs are decoded messages (struct cl_msg) with
 * their sender, and configuration changes; outputs are actions (struct
 * cl_action) handed to a callback.  Every action names the node it concerns;
 * each node's glue acts only on its own, so all nodes may run the callback.
 *
 * Determinism: the resulting state depends only on the input sequence, never
 * on hash-table layout, allocation addresses or the order of an earlier
 * snapshot.  Where several names are affected by one input they are processed
 * in name order.
 */
#ifndef COROLEASE_LEASE_H
#define COROLEASE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corolease.h"
#include "hash.h"

#define CL_NODE_NONE   0u       /* node ids are 1..UINT32_MAX */
#define CL_MAX_MEMBERS 64u      /* corosync rings stay far below this */
#define CL_MAX_UNFENCED 128u    /* departed nodes awaiting FENCE_ACK (split modes) */
/*
 * Epochs: the high 32 bits are the seq of the term's ring, the low bits
 * count grants within it.  corosync raises the ring seq by 4 for every new
 * ring and persists it, so a term has 2^34 epochs before the next term's
 * range; a grant that would leave it fails with -EOVERFLOW.
 */
#define CL_EPOCH_TERM_SHIFT 32u
#define CL_RING_SEQ_STEP    4u

enum cl_mode {
	CL_MODE_NONE = 0,
	CL_MODE_EX = COROLEASE_EX,
	CL_MODE_SH = COROLEASE_SH,
};

/* Message types on the wire.  Values are part of the protocol. */
enum cl_msg_type {
	CL_MSG_ACQUIRE = 1,       /* name, mode, flags, req_id */
	CL_MSG_RELEASE = 2,       /* name, epoch: give up the node-level hold */
	CL_MSG_HANDOVER_DONE = 3, /* name, epoch: release answering a blocking callback or revoke */
	CL_MSG_EVICT = 4,         /* name, req_id: admin forces the holders out */
	CL_MSG_RECOVER_NODE = 5,  /* node, seq: free node's orphans marked at seq or earlier */
	CL_MSG_FENCE_ACK = 6,     /* node, req_id: node is fenced, free all its orphans */
	CL_MSG_INDEX_PUT = 7,     /* name, key, value, epoch, uid, req_id */
	CL_MSG_INDEX_DEL = 8,     /* name, key, epoch, req_id */
	CL_MSG_NOP = 9,           /* req_id: ordering barrier / heartbeat */
	CL_MSG_QUORUM = 10,       /* ring, flags: CL_QUORUM_*: sender's votequorum view */
	CL_MSG_GRACE_END = 11,    /* ring: ends the grace period of fresh state made in ring */
	/* sync protocol, handled by node.c, never given to cl_sm_apply() */
	CL_MSG_SYNC_ANNOUNCE = 32,
	CL_MSG_SYNC_CHUNK = 33,
	CL_MSG_SYNC_HOLDS = 34,   /* a loser's own live holds, chunked like SYNC_CHUNK */
	/*
	 * value: u32 node | u64 req_id per writer (CL_WRITE_ACK_LEN each, at
	 * most CL_MAX_MEMBERS): the sender applied that writer's index write
	 * req_id and everything the writer sent before it (node_out.c); a
	 * req_id with CL_ACK_GRANT set names instead the grant of that epoch to
	 * the node, and says the sender applied that grant and everything
	 * before it
	 */
	CL_MSG_WRITE_ACK = 35,
	CL_MSG_TYPE_MAX = 35,
};

#define CL_ACQ_WAIT      COROLEASE_WAIT
/*
 * ACQUIRE from a node that holds the name: re-grant it under a new epoch
 * (the node hands the lease between its own clients after revoking one, so
 * that a late write of the revoked one is fenced off).
 */
#define CL_ACQ_NEW_EPOCH 0x80u
#define CL_ACQ_FLAGS_ALL (CL_ACQ_WAIT | CL_ACQ_NEW_EPOCH)
#define CL_QUORUM_YES    0x01u
/*
 * QUORUM: the sender's votequorum runs in a mode where a split can leave
 * both sides quorate (two_node, last_man_standing, auto_tie_breaker,
 * qdevice): a departed node's holds are then freed only by FENCE_ACK.
 */
#define CL_QUORUM_SPLIT  0x02u
#define CL_QUORUM_FLAGS_ALL (CL_QUORUM_YES | CL_QUORUM_SPLIT)
#define CL_FENCE_FORCE   0x01u     /* FENCE_ACK: also for a current member */
#define CL_SYNC_HAS_STATE  0x01u   /* SYNC_ANNOUNCE: the sender has state */
#define CL_SYNC_HAS_HOLDS  0x02u   /* SYNC_ANNOUNCE: ... with live holds of its own */
#define CL_WRITE_ACK_LEN 12u        /* one WRITE_ACK entry: u32 node, u64 req_id */
/*
 * SYNC_ANNOUNCE: the sender's confirmation of its announce `round`: it
 * delivered that announce in the round it sent it for (core/node_sync.c)
 */
#define CL_SYNC_CONFIRM    0x04u
/*
 * SYNC_ANNOUNCE: the sender's state was not quorate when this ring began (it
 * was cut off, or paused, since its term: others may have gone on)
 */
#define CL_SYNC_STALE      0x08u
/* SYNC_ANNOUNCE: a node of the sender's totem ring has no daemon in the group */
#define CL_SYNC_TOTEM_GAP  0x10u
#define CL_SYNC_ANNOUNCE_FLAGS (CL_SYNC_HAS_STATE | CL_SYNC_HAS_HOLDS | CL_SYNC_CONFIRM | \
				CL_SYNC_STALE | CL_SYNC_TOTEM_GAP)
#define CL_ACK_GRANT (UINT64_C(1) << 63)  /* WRITE_ACK entry: the rest is a grant's epoch */
/*
 * WRITE_ACK entry of node 0: the sender has no state and is in no round, so
 * no state it gives can lack what any member applied: everything counts as
 * acked by it (node_out.c)
 */
#define CL_ACK_ALL UINT64_MAX
#define CL_SYNC_LAST_CHUNK 0x01u   /* SYNC_CHUNK, SYNC_HOLDS: the last chunk */

/* A totem ring id: the representative node and the ring sequence. */
struct cl_ring {
	uint32_t rep;
	uint64_t seq;
};

/*
 * A decoded message.  Pointers refer into the buffer that was decoded (or
 * that the sender owns); the machine copies what it keeps.
 */
struct cl_msg {
	uint8_t type;            /* enum cl_msg_type */
	uint8_t mode;            /* ACQUIRE */
	uint8_t flags;           /* ACQUIRE: CL_ACQ_*; QUORUM: CL_QUORUM_*; FENCE_ACK: CL_FENCE_*;
				    SYNC_ANNOUNCE: CL_SYNC_HAS_STATE; SYNC_CHUNK: CL_SYNC_LAST_CHUNK */
	uint8_t keylen;          /* INDEX_*: 1..255 */
	uint16_t namelen;        /* 1..1024 where a name is carried */
	uint32_t node;           /* RECOVER_NODE, FENCE_ACK: target node */
	uint32_t uid;            /* INDEX_PUT: the writing client's uid, charged for the index */
	uint32_t vallen;         /* INDEX_PUT: 0..64 KiB; SYNC_CHUNK: data length */
	uint64_t req_id;         /* sender-chosen request id, echoed in actions */
	uint64_t epoch;          /* RELEASE, HANDOVER_DONE, INDEX_*: holder's epoch */
	uint64_t seq;            /* RECOVER_NODE: orphan seq; SYNC_CHUNK: chunk index */
	struct cl_ring ring;     /* QUORUM, GRACE_END, SYNC_ANNOUNCE, SYNC_CHUNK */
	uint64_t lsn;            /* SYNC_ANNOUNCE: applied count */
	struct cl_ring term;     /* SYNC_ANNOUNCE: the sender's term */
	struct cl_ring term_seen;/* SYNC_ANNOUNCE: the newest term the sender knows a state had
				    (its own, any member's announced, or kept by an earlier run) */
	uint64_t mem_max;        /* SYNC_ANNOUNCE: the sender's index bound (fresh state uses
				    the lowest member's) */
	uint64_t per_uid_max;    /* SYNC_ANNOUNCE: the sender's index_bytes_per_uid (0: off;
				    fresh state uses the lowest member's, like mem_max) */
	uint64_t q_lsn;          /* SYNC_ANNOUNCE: applied count at last quorate apply */
	uint64_t epoch_floor;    /* SYNC_ANNOUNCE: no epoch at or below it was ever free to grant
				    again as far as the sender knows (fresh state starts above) */
	uint64_t hash;           /* SYNC_ANNOUNCE: state hash */
	uint64_t round;          /* SYNC_*: the sender's sync round (its announce's id; for
				    SYNC_CHUNK and SYNC_HOLDS, the announce they belong to) */
	const uint8_t *name;
	const uint8_t *key;
	const uint8_t *value;    /* INDEX_PUT value, SYNC_CHUNK data */
};

enum cl_action_type {
	CL_ACT_GRANT = 1,     /* node got name in mode with epoch (req_id answered) */
	CL_ACT_QUEUED,        /* node's WAIT request is queued; owner = a current holder */
	CL_ACT_DENY,          /* node's request failed: err (-EBUSY with owner, NOQUORUM, ...) */
	CL_ACT_BLOCKING,      /* holder `node` is asked to give up name; wanted_by/want_mode */
	CL_ACT_REVOKE,        /* holder `node` must revoke name now (admin evict) and hand over */
	CL_ACT_RELEASED,      /* node's hold on name (epoch) ended by its release */
	CL_ACT_RECOVERED,     /* departed node's orphaned hold on name was freed */
	CL_ACT_INDEX_DONE,    /* answer to node's put/del: err, version */
	CL_ACT_INDEX_CHANGED, /* name's key changed at version (for watches; every node) */
	CL_ACT_INDEX_EVICTED, /* name's index was dropped to stay under the memory bound */
	CL_ACT_ADMIN_DONE,    /* answer to node's evict / fence-ack / nop: err, count */
	CL_ACT_QUORUM,        /* machine's quorate flag changed to `mode` (1 yes, 0 no) */
};

struct cl_action {
	enum cl_action_type type;
	uint32_t node;          /* node concerned (requester / holder) */
	uint32_t owner;         /* DENY(EBUSY)/QUEUED/BLOCKING: a current holder */
	uint32_t wanted_by;     /* BLOCKING: requesting node */
	bool waits;             /* BLOCKING: the requester is queued (WAIT), not a NOWAIT try */
	uint8_t mode;           /* GRANT: granted mode; BLOCKING: wanted mode */
	bool deleted;           /* INDEX_CHANGED, INDEX_DONE: a delete */
	int err;                /* DENY, INDEX_DONE, ADMIN_DONE: 0 or negative code */
	uint64_t req_id;
	uint64_t epoch;         /* GRANT, BLOCKING, REVOKE, RELEASED, RECOVERED */
	uint64_t version;       /* INDEX_*: name's version after the write */
	uint64_t count;         /* ADMIN_DONE: holds freed / holders told */
	uint16_t namelen;
	uint8_t keylen;
	const uint8_t *name;
	const uint8_t *key;
};

typedef void (*cl_action_fn)(void *ctx, const struct cl_action *a);

/*
 * Test-only switches that remove a safety mechanism, so the simulator can
 * prove it notices.  The daemon never sets them.
 */
#define CL_UNSAFE_NO_QUORUM_CHECK 0x01u  /* grant while not quorate */
#define CL_UNSAFE_NO_ORPHAN_WAIT  0x02u  /* free a departed node's holds at once */
#define CL_UNSAFE_NO_TERM         0x04u  /* merge winner by (q_lsn, lsn) alone (node agent) */
#define CL_UNSAFE_EPOCH_NO_TERM   0x08u  /* epochs do not jump at a new term */
#define CL_UNSAFE_SPLIT_TIMER     0x10u  /* ignore split-capable quorum modes */
#define CL_UNSAFE_ANCHOR_OWN      0x20u  /* renew validity from the delivered message's own
					    send time (node agent) */
#define CL_UNSAFE_NO_GRANT_ACK    0x40u  /* hand a grant to clients before the other members
					    acknowledge it (node agent) */
#define CL_UNSAFE_VOTES_OWN       0x80u  /* vote rule: this node's own votes may confirm a
					    write with no other member having applied it
					    (node agent, votes_suffice()) */
#define CL_UNSAFE_ALL             0xffu

/* The CL_UNSAFE_* switch named name (len bytes: "no-quorum", "no-orphan-wait",
 * "no-term", "epoch-no-term", "split-timer", "anchor-own", "no-grant-ack",
 * "votes-own"), or 0. */
unsigned cl_unsafe_by_name(const char *name, size_t len);
/* The name of the one CL_UNSAFE_* switch flag, or NULL. */
const char *cl_unsafe_name(unsigned flag);

struct cl_sm_config {
	size_t index_mem_max;    /* bytes of index data kept; 0 = 64 MiB.  Only a fresh
				    machine takes it: a loaded one keeps its lineage's */
	uint64_t index_bytes_per_uid; /* per-uid quota of index bytes; 0 = off (index.h).
				    Only a fresh machine takes it, like index_mem_max */
	unsigned unsafe_flags;   /* CL_UNSAFE_*; 0 in production */
	/*
	 * The key of the name tables' buckets (hash.h, cl_siphash()): the
	 * replica's and the node agent's.  Secret and local: the daemon draws
	 * one at each start, and it never leaves the process (nothing
	 * replicated, sent or shown depends on it).  All zero: a fixed, public
	 * key, for tests and the simulator, which give each node its own.
	 */
	struct cl_hash_key table_key;
};

struct cl_sm;

/*
 * Returns a new empty machine (no members, not quorate, no term), or NULL on
 * ENOMEM.  A machine that starts a lineage (nobody had state) must be put in
 * its grace period with cl_sm_start_grace() before its first input.
 */
struct cl_sm *cl_sm_new(const struct cl_sm_config *cfg, cl_action_fn fn, void *ctx);
/*
 * Marks a fresh machine as the start of a lineage made in ring: nothing is
 * granted until a GRACE_END for that ring is applied (the node agent sends
 * one a fence delay later), so clients of a lost earlier state are past
 * their validity before its names are handed out again.
 */
void cl_sm_start_grace(struct cl_sm *sm, const struct cl_ring *ring);
/* Frees sm; accepts NULL.  Returns NULL. */
struct cl_sm *cl_sm_free(struct cl_sm *sm);

/*
 * Applies one ordered message from `sender`.  The message must already be
 * validated by cl_wire_decode() (lengths, mode, type).  Returns 0, or a
 * negative code when the message was rejected as a whole (-EINVAL for a type
 * the machine does not take); a rejection of a request is reported as an
 * action, not a return value.  Every call counts one in the lsn, whether or
 * not it changed anything, so lsn is identical on every node.
 *
 * Out of memory: -ENOMEM means an allocation failed while the input was
 * being applied.  Actions may already have been emitted for it and the
 * state may be half-applied, so the machine is poisoned: it no longer equals
 * the other replicas, every later call of cl_sm_apply() and cl_sm_confchg()
 * returns -ENOMEM at once, and cl_sm_failed() is true.  The owner must stop
 * trusting it (the node agent stops the node; the cluster then treats the
 * node as departed).  No allocation failure is ever swallowed silently.
 */
int cl_sm_apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m);

/*
 * Applies an ordered configuration change: members is the full new member
 * list (any order, no duplicates), left the nodes that departed.  Holds of
 * departed nodes become orphaned with a new orphan seq; their queued requests
 * are dropped; if anyone left, the machine stops being quorate until a
 * CL_MSG_QUORUM for the new ring arrives.  Returns 0, -EINVAL, or -ENOMEM
 * (the machine is poisoned, as for cl_sm_apply()).
 */
int cl_sm_confchg(struct cl_sm *sm, const struct cl_ring *ring,
		  const uint32_t *members, size_t nmembers,
		  const uint32_t *left, size_t nleft);

/* ---- queries (local, read-only, no action) ---- */

struct cl_hold_info {
	uint32_t node;
	uint8_t mode;
	uint64_t epoch;
	uint64_t orphan_seq;     /* 0 = live hold; else the orphaning seq */
};

struct cl_waiter_info {
	uint32_t node;
	uint8_t mode;
	uint64_t req_id;
};

struct cl_lease_info {
	const uint8_t *name;
	uint16_t namelen;
	uint8_t mode;            /* mode of the current holders, NONE if free */
	bool owner_orphaned;     /* the owner below is an orphaned hold */
	uint32_t owner;          /* as cl_sm_owner(): first live holder, else first orphan, else 0 */
	uint64_t owner_epoch;    /* that hold's epoch */
	uint32_t nholders;
	uint32_t nwaiters;
	uint64_t version;        /* index version, 0 if no index data */
	uint32_t nkeys;
	uint32_t index_uid;      /* the uid its index is charged to (0 if no index data) */
	uint64_t lru_tick;       /* 0 unless on the eviction list */
};

struct cl_sm_stats {
	struct cl_ring term;     /* see struct cl_sm_header */
	bool grace, split_mode;
	struct cl_ring grace_ring;
	uint32_t nunfenced;
	uint64_t lsn;            /* ordered inputs applied */
	uint64_t q_lsn;          /* lsn of the last input applied while quorate */
	uint64_t epoch;          /* last epoch handed out */
	uint64_t orphan_seq;     /* last orphan seq handed out */
	uint64_t records;        /* names known (held, queued or indexed) */
	uint64_t holds;
	uint64_t orphans;
	uint64_t waiters;
	uint64_t index_bytes;
	uint64_t index_mem_max;
	uint64_t index_bytes_per_uid;  /* 0: off */
	uint64_t index_uids;     /* uids charged for index bytes */
	uint64_t index_evictions;
	bool quorate;
	struct cl_ring ring;
	uint32_t nmembers;
	uint32_t members[CL_MAX_MEMBERS];  /* sorted */
};

void cl_sm_stats(const struct cl_sm *sm, struct cl_sm_stats *st_r);
/* True once an input failed for lack of memory (see cl_sm_apply()). */
bool cl_sm_failed(const struct cl_sm *sm);
/* The order of names everywhere: memcmp, shorter first on a common prefix. */
int cl_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* The number of live (not orphaned) holds of node, kept as holds change: no walk. */
uint64_t cl_sm_live_holds_of(const struct cl_sm *sm, uint32_t node);
/* The same by a walk of every record: what the above must always equal (the tests check it). */
uint64_t cl_sm_live_holds_of_full(const struct cl_sm *sm, uint32_t node);
/* True while node, departed in a split-capable quorum mode, awaits FENCE_ACK. */
bool cl_sm_unfenced(const struct cl_sm *sm, uint32_t node);
bool cl_sm_quorate(const struct cl_sm *sm);
/*
 * 0 when the machine may grant, else the code it denies an ACQUIRE without
 * WAIT with: COROLEASE_ENOQUORUM, COROLEASE_EGRACE or COROLEASE_EFENCING.
 */
int cl_sm_grant_block(const struct cl_sm *sm);
/* Departed nodes awaiting FENCE_ACK (split-capable quorum modes). */
uint32_t cl_sm_nunfenced(const struct cl_sm *sm);
/* True while some departed node awaits FENCE_ACK (split-capable quorum modes). */
bool cl_sm_awaiting_fence(const struct cl_sm *sm);
/* The ring of the last configuration change applied. */
const struct cl_ring *cl_sm_ring(const struct cl_sm *sm);
bool cl_sm_is_member(const struct cl_sm *sm, uint32_t node);

/*
 * Looks name up.  Returns 0 and fills info_r, or -ENOENT.  holds_r/waiters_r
 * may be NULL; otherwise up to max entries are copied (holders in grant
 * order, waiters FIFO) and the totals are in info_r.
 */
int cl_sm_lookup(const struct cl_sm *sm, const void *name, size_t namelen,
		 struct cl_lease_info *info_r,
		 struct cl_hold_info *holds_r, size_t max_holds,
		 struct cl_waiter_info *waiters_r, size_t max_waiters);

/*
 * The node a request would be told about: the first live holder, else the
 * first orphaned holder, else CL_NODE_NONE.
 */
uint32_t cl_sm_owner(const struct cl_sm *sm, const void *name, size_t namelen);

/* The epoch of node's live hold on name, 0 if it holds none.  mode_r may be NULL. */
uint64_t cl_sm_hold_epoch(const struct cl_sm *sm, const void *name, size_t namelen,
			  uint32_t node, uint8_t *mode_r);

/*
 * Calls fn for every record, in no particular order (the table's, which
 * depends on its key: it differs between hosts and runs, so nothing that
 * leaves the process may follow it), until fn returns non-zero (which is
 * then returned).  fn must not change sm.
 */
typedef int (*cl_sm_iter_fn)(void *ctx, const struct cl_lease_info *info);
int cl_sm_foreach(const struct cl_sm *sm, cl_sm_iter_fn fn, void *ctx);
/*
 * One step of a scan that may be resumed after sm changed: calls fn for
 * the records of the bucket cursor designates (start with 0) and returns
 * the next cursor, 0 when the scan is over.  Every record present for the
 * whole scan is visited exactly once; records created or freed meanwhile
 * may or may not be (corolease/htab.h).  fn's return value is ignored.
 * The order is the table's, as cl_sm_foreach()'s.
 */
uint64_t cl_sm_scan(const struct cl_sm *sm, uint64_t cursor, cl_sm_iter_fn fn, void *ctx);
/*
 * Steps of cl_sm_scan() (the same cursor) until about budget units of work
 * are spent: each record visited costs one, an empty bucket one.  A bucket
 * is never split (the cursor designates buckets), so a step may go over by
 * its chain's length less one; at least one bucket is scanned whatever the
 * budget.  Stops early after a bucket in which fn returned non-zero (the
 * caller's batch is full).  Returns the next cursor, 0 when the scan is
 * over; *spent_r (may be NULL) gets the units spent.
 */
uint64_t cl_sm_scan_some(const struct cl_sm *sm, uint64_t cursor, uint32_t budget,
			 cl_sm_iter_fn fn, void *ctx, uint32_t *spent_r);
/*
 * An identity no other state machine of this process had: a scan cursor
 * (cl_sm_scan()) means something only for the machine it came from, and a
 * resynchronisation replaces the machine, maybe at the same address.
 */
uint64_t cl_sm_serial(const struct cl_sm *sm);

/* Calls fn for every hold of node (orphaned ones included), in name order. */
typedef void (*cl_sm_hold_fn)(void *ctx, const uint8_t *name, uint16_t namelen,
			      const struct cl_hold_info *h);
void cl_sm_foreach_hold_of(const struct cl_sm *sm, uint32_t node,
			   cl_sm_hold_fn fn, void *ctx);
/*
 * The same for the holds of node that pick (called for each, in no
 * particular order; it must not change sm) says true to: only those are
 * sorted, so a caller that acts on few of many holds does not sort them all.
 * fn then sees them in name order and may change sm.  On ENOMEM the machine
 * is poisoned (cl_sm_failed()) and fn is not called.
 */
typedef bool (*cl_sm_hold_pick_fn)(void *ctx, const uint8_t *name, uint16_t namelen,
				   const struct cl_hold_info *h);
void cl_sm_foreach_hold_of_picked(const struct cl_sm *sm, uint32_t node, cl_sm_hold_pick_fn pick,
				  cl_sm_hold_fn fn, void *ctx);
/*
 * A step of a resumable walk of node's holds, as cl_sm_scan_some() (the
 * same cursors and budget; start with 0, 0 back when the walk is over):
 * calls pick for each hold of node in the buckets scanned, in table order.
 * pick must not change sm; its return value is ignored.
 */
uint64_t cl_sm_scan_holds_of(const struct cl_sm *sm, uint64_t cursor, uint32_t budget,
			     uint32_t node, cl_sm_hold_pick_fn pick, void *ctx);

/*
 * Calls fn for every orphaned hold, in no particular order (as
 * cl_sm_foreach()'s: a caller whose effects leave the process sorts).  fn
 * must not change sm.
 */
void cl_sm_foreach_orphan(const struct cl_sm *sm, cl_sm_hold_fn fn, void *ctx);

/*
 * Order-independent 64-bit hash of the whole replicated state (leases,
 * waiters, index and the uid each index is charged to, counters, members,
 * quorate flag, index limits).  Equal states give equal
 * hashes on every node and after a snapshot round trip.
 */
uint64_t cl_sm_hash(const struct cl_sm *sm);
/* The same by a walk of every record: what cl_sm_hash() must always equal (the tests check it). */
uint64_t cl_sm_hash_full(const struct cl_sm *sm);
/*
 * cl_sm_hash(), remembered until the machine changes: every change of a
 * record moves the header (lsn, or the whole header at a restore), so an
 * unchanged header and record, hold and index counts give the same hash
 * without walking the records.  For answers a client may ask for at will
 * (STATUS): they must not cost a walk of a million records each.
 */
uint64_t cl_sm_hash_cached(struct cl_sm *sm);

/* ---- snapshot support (used by wire.c) ---- */

/* Whole-machine scalars carried in a snapshot. */
struct cl_sm_header {
	uint64_t lsn, q_lsn, epoch, orphan_seq, lru_clock, index_evictions;
	bool quorate;
	struct cl_ring ring;
	uint32_t nmembers;
	uint32_t members[CL_MAX_MEMBERS];   /* sorted */
	/*
	 * The term: the ring in which this lineage last became quorate ({0,0}:
	 * never).  A merge loads the state of the newest term (doc/state-machine.md).
	 */
	struct cl_ring term;
	bool split_mode;           /* the last QUORUM report had CL_QUORUM_SPLIT */
	bool grace;                /* fresh state: no grants until GRACE_END(grace_ring) */
	struct cl_ring grace_ring;
	uint64_t index_mem_max;    /* the index bound, replicated so every replica evicts alike */
	uint64_t index_bytes_per_uid;  /* the per-uid quota (0: off), replicated likewise */
	uint32_t nunfenced;        /* departed in split mode, awaiting FENCE_ACK */
	uint32_t unfenced[CL_MAX_UNFENCED];   /* sorted */
};

/* One index entry of a record. */
struct cl_entry_info {
	const uint8_t *key;
	uint8_t keylen;
	const uint8_t *value;
	uint32_t vallen;
	uint64_t version;        /* name version when this key was last written */
};

/* One record, whole. Arrays are owned by whoever fills the struct. */
struct cl_record_info {
	const uint8_t *name;
	uint16_t namelen;
	uint64_t version;        /* index version */
	uint64_t lru_tick;       /* 0 = not on the eviction list */
	uint32_t uid;            /* the uid the index is charged to (0 when it has no entries) */
	uint32_t nholds, nwaiters, nentries;
	const struct cl_hold_info *holds;      /* grant order */
	const struct cl_waiter_info *waiters;  /* FIFO */
	const struct cl_entry_info *entries;   /* key order */
};

void cl_sm_get_header(const struct cl_sm *sm, struct cl_sm_header *h_r);

/* Arrays for describing records one at a time, reused across records. */
struct cl_record_scratch {
	struct cl_hold_info *holds;
	struct cl_waiter_info *waiters;
	struct cl_entry_info *entries;
	size_t cap_holds, cap_waiters, cap_entries;
};

/* Grows sc's arrays to at least these counts.  0 or -ENOMEM (sc stays valid). */
int cl_record_scratch_fit(struct cl_record_scratch *sc, size_t nholds, size_t nwaiters,
			  size_t nentries);
/* Frees the arrays; sc may be reused after (zeroed). */
void cl_record_scratch_free(struct cl_record_scratch *sc);

/*
 * Calls fn for every record with full contents, in name order (memcmp,
 * shorter first on a common prefix), so the same state gives the same
 * sequence on every host.  Stops and returns fn's value when it is
 * non-zero; -ENOMEM (sm unchanged) if the sort or scratch space could not
 * be had.
 */
typedef int (*cl_sm_record_fn)(void *ctx, const struct cl_record_info *rec);
int cl_sm_foreach_record(const struct cl_sm *sm, cl_sm_record_fn fn, void *ctx);

/*
 * The records in the table's order (which depends on the table key), a step at a
 * time, resumable while sm does not change: calls fn for
 * the records of the table bucket cursor designates (start with 0), with
 * full contents (sc: scratch the caller keeps), and returns the next cursor,
 * 0 when every record was visited.  A non-zero rc of fn (or -ENOMEM) is put
 * in *rc_r, and 0 returned.
 */
uint64_t cl_sm_scan_records(const struct cl_sm *sm, uint64_t cursor,
			    struct cl_record_scratch *sc, cl_sm_record_fn fn, void *ctx, int *rc_r);

/*
 * Restore path for a fresh machine (cl_sm_new, nothing applied): set the
 * header, then add records.  cl_sm_restore_record() validates everything
 * (name/key/value bounds, modes, node ids, EX exclusivity, duplicate names or
 * keys, key order) and returns -EINVAL on inconsistent input, -ENOMEM on
 * exhaustion.  cl_sm_restore_finish() rebuilds derived structures and checks
 * the totals; after any error the machine must be freed.
 */
int cl_sm_restore_header(struct cl_sm *sm, const struct cl_sm_header *h);
int cl_sm_restore_record(struct cl_sm *sm, const struct cl_record_info *rec);
int cl_sm_restore_finish(struct cl_sm *sm);

/* True when a is a later ring than b (seq, then representative). */
static inline bool cl_ring_after(const struct cl_ring *a, const struct cl_ring *b)
{
	return a->seq > b->seq || (a->seq == b->seq && a->rep > b->rep);
}

/*
 * A sync round joined lineages of different terms (doc/state-machine.md,
 * "Terms and the merge winner"): every node calls this once, at the same
 * point, on the loaded state; if that state may grant (quorate, no fence-ack
 * awaited, out of grace), the merged lineage takes ring (the merge's) as its
 * term, and its epochs jump above every epoch either side gave out; else the
 * next QUORUM begins a term in the usual way.
 */
void cl_sm_merge_term(struct cl_sm *sm, const struct cl_ring *ring);

/*
 * State in its grace period (fresh, or loaded while it waits): at the end
 * of every sync round every member raises the epoch counter to the highest
 * epoch floor announced, at the same point, so no epoch of a lost lineage
 * is granted again (doc/state-machine.md).
 */
void cl_sm_raise_epoch(struct cl_sm *sm, uint64_t floor);

/*
 * Holds dropped by a state load (doc/state-machine.md, "Terms and the merge
 * winner").  Every node of a sync round calls these in the same order on the
 * same state: cl_sm_begin_dropped() once (a fresh orphan seq, returned),
 * then cl_sm_orphan_dropped() for each live hold a loser had: unless node
 * still holds name live with that epoch, the name gets an orphaned hold of
 * node (its own live hold of another epoch becomes orphaned; otherwise an
 * orphaned hold is added beside any others), so nothing is granted on it
 * until node recovers it or the fence delay passes.  0, -EINVAL (bad name,
 * mode or node) or -ENOMEM (the machine is poisoned).
 */
uint64_t cl_sm_begin_dropped(struct cl_sm *sm);
int cl_sm_orphan_dropped(struct cl_sm *sm, uint32_t node, const uint8_t *name, uint16_t namelen,
			 uint8_t mode, uint64_t epoch, uint64_t seq);

/* Names for logs and the CLI. */
const char *cl_msg_type_name(unsigned type);
const char *cl_mode_name(unsigned mode);
const char *cl_action_type_name(unsigned type);

#endif /* COROLEASE_LEASE_H */
