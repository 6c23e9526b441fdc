/*
 * node_int.h - the node agent's private layout and internal interfaces,
 * shared by core/node*.c only (the public contract is node.h):
 *
 *   node.c        public API, event delivery, transport inputs, client
 *                 requests, lifecycle
 *   node_lease.c  decisions about one lease: local grants, requests to the
 *                 cluster, handover, linger, revocation, the machine's
 *                 actions for this node, reconciliation with the machine
 *   node_sync.c   sync rounds: announcements, merge winner, snapshots
 *   node_out.c    own messages: queues, transmit and retry, heartbeat,
 *                 QUORUM reports, confirmation of index writes
 *   node_table.c  lease, client and request tables; timer heap; fence timers
 *
 * Internal functions shared between these files carry the nd_ prefix.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_NODE_INT_H
#define COROLEASE_NODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corolease/htab.h"
#include "corolease/list.h"
#include "hash.h"
#include "index.h"
#include "node.h"
#include "slab.h"
#include "wire.h"

/* The longest wait between two tries of messages the transport refused (retry_delay_us). */
#define CL_NODE_RETRY_MAX_US 32000u

/* An own message on one of the queues (pending, retry, inflight, resend). */
struct outmsg {
	struct cl_list link;
	uint64_t sent_at;
	uint64_t seq;                    /* order handed to the transport (0 = not yet) */
	/*
	 * The validity anchor this message confirms when it is delivered: the
	 * send time of the newest own message delivered before this one was
	 * handed to the transport, and the configuration generation of that
	 * delivery (0: none).  See renew() in node.c.
	 */
	uint64_t anchor_at, anchor_gen;
	uint32_t len;
	uint8_t type;
	uint8_t data[];
};

enum ch_state { CH_WAITING, CH_HELD, CH_REVOKED };

struct nl_lease;
struct nl_client;

/* One client's hold on, or pending acquire of, one lease. */
struct chold {
	struct cl_list llink;            /* lease's waiter or holder list */
	struct cl_list clink;            /* client's list */
	struct nl_lease *lease;
	struct nl_client *client;
	uint64_t cookie;
	uint64_t deadline;               /* WAITING: timeout (0 none); REVOKED: must be done by */
	uint32_t tag;                    /* the glue's (cl_node_acquire_tagged()) */
	uint8_t mode;
	uint8_t flags;                   /* CL_NODE_ACQ_FLAGS */
	uint8_t state;                   /* enum ch_state */
	/* two flags in one byte: the hold stays 72 bytes (slab.h) */
	bool queued_told : 1;
	bool wanted_told : 1;            /* told WANTED for a local waiter */
};

enum req_state { REQ_NONE, REQ_SENT, REQ_QUEUED };

/*
 * The node-level hold on one lease name: one state, changed only by
 * nd_lease_to(), which refuses any move not in the table of node_hold.c.
 * doc/state-machine.md draws the machine and says what each state means for
 * local clients.
 *
 * A state is the hold's phase -- held and trusted, lost, being given back --
 * together with what is asked of it -- wanted by another node, its local
 * holders revoked for a handover -- as far as these combinations behave
 * differently; NLP_* name these facts.  Only HELD and LINGER grant to
 * local clients; in WANTED the holders it has may still finish.
 */
enum nl_state {
	NL_NONE,                  /* no node-level hold; local waiters may be asking for one */
	NL_HELD,                  /* held, trusted: local clients hold it or are about to */
	NL_LINGER,                /* held, trusted, unused: given back at linger_at; fast path */
	NL_WANTED,                /* asked for by another node: given back once holders are done */
	NL_REVOKING,              /* holders revoked for a handover: given back once they are gone */
	NL_HANDBACK,              /* REVOKING, re-granted since (a conversion) and not asked for
				     again yet: given back once the holders are gone */
	NL_LOST,                  /* no longer trusted (quorum, validity or transport lost) */
	NL_LOST_WANTED,           /* LOST; WANTED if confirmed again */
	NL_LOST_REVOKING,         /* LOST; REVOKING if confirmed again */
	NL_LOST_HANDBACK,         /* LOST; HANDBACK if confirmed again */
	NL_RELEASING,             /* RELEASE or HANDOVER_DONE sent, not yet applied */
	NL_RELEASING_REVOKED,     /* RELEASING; a re-grant is handed back (HANDBACK) */
	NL_RELEASING_LOST,        /* RELEASING a lost hold: a DENY keeps no waiter */
	NL_RELEASING_LOST_REVOKED,/* both */
	NL_NSTATES
};

enum {
	NLP_HELD = 1 << 0,        /* the machine granted this node `epoch` (all but NONE) */
	NLP_LOST = 1 << 1,        /* not trusted any more */
	NLP_RELEASING = 1 << 2,   /* our RELEASE / HANDOVER_DONE for epoch is on its way */
	NLP_WANTED = 1 << 3,      /* another node asked for it (not kept while releasing) */
	NLP_REVOKING = 1 << 4,    /* holders revoked for a handover: give it back after them */
};

struct nl_state_info {
	const char *name;
	uint8_t props;                   /* NLP_* */
	uint16_t next;                   /* legal successors, one bit per state */
};

/* The table of node_hold.c, indexed by enum nl_state. */
extern const struct nl_state_info nd_hold_table[NL_NSTATES];

/*
 * This node's view of one lease name.  One per name this node holds or its
 * clients ask for (a million on a busy holder), so it is kept small: the
 * fields go widest first, with no padding between them, the small ones are
 * bit-fields, and it is allocated up to its name (offsetof(name) + namelen).
 */
struct nl_lease {
	struct cl_hnode hn;              /* in cl_node.leases */
	struct cl_list order;            /* in cl_node.lease_order */
	struct cl_list holders;          /* struct chold via llink: CH_HELD and CH_REVOKED */
	struct cl_list waiters;          /* struct chold via llink: CH_WAITING, FIFO */
	uint32_t nholders, nwaiters;     /* the lengths of those lists */
	uint64_t epoch;                  /* of the node-level hold */
	uint64_t linger_at;              /* set exactly in NL_LINGER */
	uint64_t next_deadline;          /* key in the timer heap */
	uint32_t heap_idx;               /* NL_NOT_IN_HEAP = not in heap */
	uint16_t namelen;
	uint8_t mode : 2;                /* of the node-level hold (enum cl_mode) */
	uint8_t req_mode : 2;
	/*
	 * The machine granted this node `epoch` and not every member is known
	 * to have applied that grant yet: no local client gets it until then
	 * (nd_confirm_writes(), nd_grant_confirmed()).  Cleared whenever epoch
	 * changes; nd_unconfirmed() is the test.
	 */
	bool unconf : 1;
	uint8_t state : 4;               /* enum nl_state; only nd_lease_to() changes it */
	uint8_t req : 2;                 /* enum req_state */
	bool has_rare : 1;               /* it has a struct nl_rare (cl_node.rare) */
	bool new_epoch_due : 1;          /* a local holder was revoked: next local grant re-stamps */
	uint8_t name[];                  /* allocated with offsetof(struct nl_lease, name) */
};

_Static_assert(NL_NSTATES <= 16, "nl_lease.state is a 4-bit field");
_Static_assert(CL_MODE_EX < 4 && CL_MODE_SH < 4, "nl_lease.mode is a 2-bit field");
/*
 * A million held leases carry one each (issue 9): from the slab (slab.h),
 * it takes its fixed part plus the name, rounded up to 8 bytes (names of
 * up to CL_SLAB_MAX - 104 bytes; longer ones are a calloc()).
 */
_Static_assert(offsetof(struct nl_lease, name) <= 104, "nl_lease grew: issue 9's memory budget");

/* The bytes of the lease record of a name of len bytes (cl_slab_alloc()). */
static inline size_t nd_lease_bytes(size_t len)
{
	return offsetof(struct nl_lease, name) + len;
}

/*
 * Not every member is known to have applied the grant of the lease's epoch
 * (a lease never granted has epoch 0 and counts as unconfirmed, as it
 * always did: nobody is granted it anyway).
 */
static inline bool nd_unconfirmed(const struct nl_lease *l)
{
	return l->unconf || !l->epoch;
}

/*
 * What only a lease another node asked for, or whose local waiters wait for
 * its local holders, needs: kept beside it (cl_node.rare, by the lease's
 * address) while any of it is set, so that the million leases of a busy
 * holder do not carry it (node_table.c: nd_rare_*()).
 */
struct nl_rare {
	struct cl_hnode hn;              /* in cl_node.rare */
	const struct nl_lease *lease;
	uint64_t handover_at;            /* revoke holders then (0 = no handover timer) */
	uint64_t local_handover_at;      /* revoke local holders a local waiter waits for */
	uint64_t wanted_at;              /* another node asked for it (0: nobody, or measured) */
	/*
	 * Another node asked for the hold of epoch blocked_epoch while it was
	 * unconfirmed and local waiters wait for it: the BLOCKING is acted on
	 * once the grant is confirmed and they have it (as it would have been
	 * had they had it at once); 0 = none.
	 */
	uint64_t blocked_epoch, blocked_at;
	uint32_t blocked_by;
	bool blocked_waits;
	/*
	 * Earliest next validity-renewing ACQUIRE while the node is not
	 * trusted and local waiters wait (nd_pump()); cleared once trusted
	 * and past.
	 */
	uint64_t renew_at;
};

/* nl_lease.heap_idx of a lease with no timer; the heap holds fewer leases (heap_reserve()). */
#define NL_NOT_IN_HEAP UINT32_MAX

struct nl_client {
	struct cl_hnode hn;              /* in cl_node.clients */
	uint64_t id;
	struct cl_list holds;            /* client's cholds via clink, newest first */
	uint32_t nholds;                 /* length of that list */
	uint32_t uid;                    /* the client's user (cl_node_acquire()) */
};

enum op_kind { OP_INDEX, OP_SYNC, OP_ADMIN };

struct pending_op {
	struct cl_hnode hn;              /* in cl_node.requests */
	uint64_t req_id;
	uint64_t client;
	uint64_t cookie;
	uint8_t kind;
};

/*
 * An applied index write whose answer waits for confirmation that it was not
 * delivered only in a transitional configuration (see nd_confirm_writes()),
 * or a grant to this node that no local client gets until then.
 */
struct unconfirmed {
	struct cl_list link;             /* in cl_node.unconf, FIFO */
	struct cl_hnode hn;              /* in cl_node.unconf_req, by req_id */
	uint64_t useq;                   /* its place in the FIFO: larger is later (nd_unconf_add()) */
	bool barrier;                    /* a sync barrier (no name, key or version) */
	bool grant;                      /* a grant: name, version = its epoch, no client */
	bool marker;                     /* only a place: an own write or barrier applied whose
					    answer went already (refused), or whose client has
					    gone; a WRITE_ACK naming it still stands for those
					    before it, and nobody is answered */
	uint64_t client, cookie, version;
	uint64_t departures;             /* departure generation when applied */
	uint64_t req_id;                 /* a write: its request, which WRITE_ACKs name;
					    a grant: CL_ACK_GRANT | epoch */
	bool all_acked;                  /* a write: every member has it (a round kept this
					    node's state) */
	bool deleted;
	bool have_val;                   /* a put: valhash is its value's cl_hash_bytes() */
	uint64_t valhash;
	uint16_t namelen;
	uint8_t keylen;
	uint8_t buf[];                   /* name then key */
};

struct fence_timer {
	uint32_t node;
	uint64_t seq;
	uint64_t deadline;
	bool told;                       /* logged that it awaits fence-ack */
};

struct qevent {
	struct cl_list link;             /* in cl_node.evq */
	struct cl_node_event ev;
	uint8_t buf[];                   /* name then key */
};

/*
 * One member's announce, and (a loser with live holds) the holds it sends.
 * got: an announce of the member was delivered in this round (a later one
 * replaces it); confirmed: the member's confirmation of that very announce
 * followed (node_sync.c: only confirmed announces count).
 */
struct announce {
	bool got, confirmed, has_state, has_holds;
	bool stale, totem_gap;           /* CL_SYNC_STALE, CL_SYNC_TOTEM_GAP */
	uint64_t round;                  /* the announce's round id (its sender's) */
	bool holds_due;                  /* its SYNC_HOLDS must arrive before the round ends */
	bool holds_done;                 /* their last chunk arrived */
	uint64_t holds_next;             /* next chunk index expected */
	uint8_t *holds;                  /* the records received so far */
	size_t holds_len, holds_cap;
	uint64_t lsn, q_lsn, hash;
	struct cl_ring term;
	uint64_t mem_max;
	uint64_t per_uid_max;
	uint64_t epoch_floor;
	struct cl_ring term_seen;
};

struct cl_node {
	struct cl_node_config cfg;
	struct cl_node_ops ops;
	void *ctx;
	uint32_t me;

	struct cl_sm *sm;                /* NULL until the first sync completes */
	struct cl_ring ring;             /* of the last confchg */
	uint32_t nmembers;
	uint32_t members[CL_MAX_MEMBERS];

	/* sync round */
	struct {
		bool active, decided, need_load, loaded;
		/*
		 * A state was loaded since the last round completed (loaded
		 * is cleared when a round restarts; this is not): the local
		 * view has not been reconciled with it yet (nd_reconcile_now()).
		 */
		bool load_unreconciled;
		bool snap_due, snap_done;    /* a snapshot is sent this round / it arrived */
		bool again;                  /* a member announced after the decision: one more round */
		/*
		 * what members announced (and confirmed) after the decision:
		 * the first announces of that next round (node_sync.c)
		 */
		struct announce carry[CL_MAX_MEMBERS];
		uint64_t started_at;         /* when this node's round began (counters.sync) */
		bool slow_logged;            /* this round was logged as slow (ND_SYNC_SLOW_US) */
		uint64_t round;              /* this node's round id: that of its last announce */
		struct cl_msg mine;          /* that announce (no pointers), for its confirmation */
		uint32_t winner;
		uint64_t win_hash;
		uint64_t next_chunk;
		/*
		 * The snapshot this node is sending (the winner), encoded a
		 * chunk at a time as the send window opens (nd_snap_pump());
		 * of the machine with serial stream_serial, for round
		 * stream_round; NULL when none is being sent.
		 */
		struct cl_snap_stream *stream;
		uint8_t *stream_buf;         /* one chunk (cfg.sync_chunk) */
		uint64_t stream_serial, stream_round, stream_idx;
		uint8_t *buf;
		size_t len, cap;
		struct announce ann[CL_MAX_MEMBERS];
	} sync;

	/* quorum */
	unsigned vq_modes;               /* CL_QMODE_* of the local votequorum */
	bool vq_quorate;
	struct cl_ring vq_ring;
	bool quorum_sent;                /* QUORUM sent for ring */
	struct cl_ring quorum_sent_ring;
	bool quorum_sent_yes;
	bool quorum_sent_split;
	bool quorum_recheck;             /* an applied QUORUM changed the machine's flag */
	/* cl_node_votes(): the vote count of votes_ring (votes_known) */
	bool votes_known;
	struct cl_ring votes_ring;
	uint32_t votes_quorum, votes_expected;
	uint32_t nvotes;
	struct cl_node_vote votes[CL_MAX_MEMBERS];

	/* validity */
	uint64_t valid_until;
	uint64_t lapsed_at;              /* when valid_until last lapsed or was cut to 0 (0: valid, or never was) */
	uint64_t valid_told;             /* last value reported in an event */
	uint64_t last_send;
	uint64_t conf_gen;               /* configuration changes seen (and transport losses) */
	uint64_t own_sent_at, own_gen;   /* send time and conf_gen of the newest own delivery */
	bool renew_asap;                 /* that delivery was the first of its configuration: a
					    message sent now renews validity when it comes back,
					    so a heartbeat is due at once (a configuration change
					    needs two own deliveries to renew; waiting a heartbeat
					    period for the second lapsed holders at joins, t05) */
	bool wait_over_round;            /* the machine stopped being quorate at a return that
					    ended its wait for a fence-ack, with no departure since,
					    and that round is still open: it renews (renew());
					    cleared when the round ends */

	/* grace period of fresh state (lease.h): GRACE_END for grace_ring due at grace_at */
	bool grace_armed;
	uint64_t grace_at;
	struct cl_ring grace_ring;

	/*
	 * The totem membership (cl_node_totem()), and the nodes the grace
	 * period of the state made in excused_ring no longer waits for: their
	 * floor was announced to it, or they were fence-acked (node.c)
	 */
	bool totem_known;
	struct cl_ring totem_ring;
	uint32_t ntotem;
	uint32_t totem[CL_MAX_MEMBERS];
	struct cl_ring excused_ring;
	uint32_t nexcused;
	uint32_t excused[CL_MAX_MEMBERS];
	uint64_t awaited_hash;           /* of the awaited set last logged (0: none) */
	uint64_t awaited_told_at;

	/* own messages: waiting for sync to end, for the transport, for delivery, for re-send */
	struct cl_list pending, retry, inflight, resend;
	/*
	 * While retry holds messages the transport refused, cl_node_tick() tries
	 * again this long after now: 1 ms (0 reads so), doubling while every
	 * try is refused, up to CL_NODE_RETRY_MAX_US (a stopped corosync
	 * need not wake the daemon a thousand times a second).  Back to 1 ms
	 * when the queue empties.  An own delivery tries at once anyway.
	 */
	uint64_t retry_delay_us;
	/*
	 * Own messages made and not yet freed (waiting for sync to end, for
	 * the transport, in flight, for re-send), and their bytes: the
	 * backlog that grows while corosync does not take or deliver them
	 * (cl_node_backlog()).
	 */
	uint64_t out_msgs, out_bytes;
	uint64_t next_req;

	/*
	 * local leases: struct nl_lease by name (256 buckets from the start),
	 * and the same in the order they were created, the order in which every
	 * walk over them goes (the table's order depends on its key)
	 */
	struct cl_htab leases;
	struct cl_list lease_order;
	struct nl_lease **heap;
	size_t heap_n, heap_cap;
	uint64_t nheld;                  /* leases in a state other than NL_NONE */
	uint64_t client_holds;
	/*
	 * cl_node_acquire()'s new hold while it pumps its lease, and whether
	 * the pump granted it locally with nothing asked of the cluster (the
	 * fast path): the pump may free both the hold (a NOWAIT denial) and the
	 * lease, so the answer is noted in the pump, not read after it.
	 */
	const struct chold *fast_ch;
	bool fast_granted;

	struct cl_htab clients;          /* struct nl_client by id (64 buckets at first use) */
	struct cl_htab rare;             /* struct nl_rare by lease address (64 at first use) */
	struct cl_htab requests;         /* struct pending_op by req_id (256 at first use) */

	struct fence_timer *fences;
	size_t nfences, cap_fences;

	bool need_reconcile;
	/*
	 * A reconcile spread over passes of the loop (nd_reconcile_step()),
	 * reconcile_slice at a time: the local leases from rc_next on, then
	 * (rc_in_machine) the machine's holds of this node from scan cursor
	 * rc_scan of machine rc_serial.  rc_again: asked for again meanwhile
	 * (it starts over when done).  rc_due: when the next part runs (a
	 * microsecond after the last: the loop handles what came meanwhile first).
	 */
	bool rc_active, rc_again, rc_in_machine;
	struct cl_list *rc_next;
	uint64_t rc_scan, rc_serial, rc_max_orphan, rc_due;
	bool draining;
	struct cl_list unconf;           /* struct unconfirmed, oldest first */
	struct cl_htab unconf_req;       /* the same, by req_id (nd_on_write_ack()) */
	uint64_t unconf_seq;             /* the last useq given */
	/*
	 * WRITE_ACKs gathered, as a place in the FIFO: members[i] acked every
	 * entry of the current departure generation with useq <= ack_upto[i]
	 * (an entry naming it, or CL_ACK_ALL), and applied those up to
	 * applied_upto[i] (an entry naming it: a CL_ACK_ALL member has no
	 * state).  A WRITE_ACK stands for everything before what it names, so
	 * a place says all; 0 = none (nd_writes_reindex()).
	 */
	uint64_t ack_upto[CL_MAX_MEMBERS], applied_upto[CL_MAX_MEMBERS];
	uint64_t sent_seq;               /* own messages handed to the transport */
	uint64_t inflight_bytes;         /* their bytes on the inflight queue */
	uint64_t departures;             /* configuration changes with departures or a new ring,
					    and loads */
	/* WRITE_ACK to send: per writer, the last of its index writes delivered here */
	struct { uint32_t node; uint64_t req_id; } acks[CL_MAX_MEMBERS];
	uint32_t nacks;
	bool ack_all;                    /* without state: the next WRITE_ACK says CL_ACK_ALL */
	uint64_t recover_self_seq;       /* highest self-recover seq sent */
	uint64_t started_at;

	/* events */
	struct cl_list evq;              /* struct qevent, oldest first */
	int depth;
	const char *call_what;           /* the outermost public call, for the log (enter()) */
	uint64_t call_at;                /* when it began */
	uint64_t slow_logged_at;         /* the last "busy for" line (note_slow_call()) */

	/* out of memory where it would make the replica or a promise wrong (node.h) */
	bool failed;
	int fail_err;                    /* why: -ENOMEM or COROLEASE_EVERSION */
	bool vq_incomplete;              /* CL_QMODE_INCOMPLETE from the last verdict */
	struct cl_ring grace_told;       /* the grace ring whose wait was logged */
	uint64_t epoch_kept;             /* the last CL_NODE_EV_EPOCH_FLOOR (or cfg.epoch_floor) */
	/*
	 * The newest term this node knows a state had (its own, one a member
	 * announced, or cfg.newest_term): state of an older term waits in
	 * grace (node_sync.c); newest_acked: a fence-ack applied while state in
	 * grace of that ring waited for it
	 */
	struct cl_ring term_known;
	bool stale;                      /* the state was not quorate when this ring began */
	struct cl_ring newest_acked;
	struct cl_ring newest_told;      /* the grace ring whose wait for term_known was logged */
	uint64_t newest_told_at;
	uint32_t mismatch_from;           /* the last member heard speaking another wire version */
	bool fatal_told;                 /* CL_NODE_EV_FATAL handed out */

	struct cl_node_counters c;
};

/* ---- small helpers ---- */

static inline uint64_t now_us(struct cl_node *n)
{
	return n->ops.now(n->ctx);
}

static inline bool ring_eq(const struct cl_ring *a, const struct cl_ring *b)
{
	return a->rep == b->rep && a->seq == b->seq;
}

static inline bool mode_covers(uint8_t held, uint8_t want)
{
	return held == CL_MODE_EX || want == CL_MODE_SH;
}

/* Appends c to the lease's list l (holders or waiters) of length *n. */
static inline void chl_push(struct cl_list *l, uint32_t *n, struct chold *c)
{
	cl_list_add_tail(l, &c->llink);
	(*n)++;
}

static inline void chl_remove(struct cl_list *l, uint32_t *n, struct chold *c)
{
	(void)l;
	cl_list_del(&c->llink);
	(*n)--;
}

/* The first hold of the lease's list l / the one after c, or NULL. */
static inline struct chold *ch_first(const struct cl_list *l)
{
	struct cl_list *e = cl_list_first(l);
	return e ? cl_list_entry(e, struct chold, llink) : NULL;
}

static inline struct chold *ch_next(const struct cl_list *l, const struct chold *c)
{
	struct cl_list *e = cl_list_next(l, &c->llink);
	return e ? cl_list_entry(e, struct chold, llink) : NULL;
}

static inline void q_push(struct cl_list *q, struct outmsg *m)
{
	cl_list_add_tail(q, &m->link);
}

/* The oldest / newest message of q, or NULL. */
static inline struct outmsg *q_first(const struct cl_list *q)
{
	struct cl_list *e = cl_list_first(q);
	return e ? cl_list_entry(e, struct outmsg, link) : NULL;
}

static inline struct outmsg *q_last(const struct cl_list *q)
{
	struct cl_list *e = cl_list_last(q);
	return e ? cl_list_entry(e, struct outmsg, link) : NULL;
}

/* Unlinks and returns the oldest message of q, or NULL. */
static inline struct outmsg *q_pop(struct cl_list *q)
{
	struct outmsg *m = q_first(q);
	if (m)
		cl_list_del(&m->link);
	return m;
}

static inline bool is_sync_type(uint8_t t)
{
	return t == CL_MSG_SYNC_ANNOUNCE || t == CL_MSG_SYNC_CHUNK || t == CL_MSG_SYNC_HOLDS;
}

/* node's index in the current member list, or -1. */
static inline int nd_member_index(const struct cl_node *n, uint32_t node)
{
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->members[i] == node)
			return (int)i;
	return -1;
}

/*
 * A round still running this long after it began is logged once, with the
 * members it waits for (a daemon hung while its corosync runs holds it).
 */
#define ND_SYNC_SLOW_US (5u * 1000u * 1000u)

/* Ordinary messages may be sent once the node has state and no sync round runs. */
static inline bool ready(const struct cl_node *n)
{
	return n->sm && !n->sync.active;
}

static inline bool hold_is(const struct nl_lease *l, unsigned props)
{
	return (nd_hold_table[l->state].props & props) != 0;
}

/* ---- node.c ---- */

/* A log line through ops->log (level as syslog); nothing when there is none. */
void nd_log(struct cl_node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The out-of-memory policy (node.h): the agent fails for good.  Allocates nothing. */
void nd_fail(struct cl_node *n, const char *what);
/* Queues an event for the glue, handed out when the outermost call returns. */
void nd_ev_push(struct cl_node *n, const struct cl_node_event *ev);
/* nd_ev_push() of an event about client hold ch. */
void nd_ev_lease(struct cl_node *n, enum cl_node_event_type type, const struct chold *ch,
		 int err, uint32_t owner);
/* Sets valid_until, telling the glue when it moved enough (or to 0). */
void nd_set_valid_until(struct cl_node *n, uint64_t t);
/*
 * The grace period of the state made in ring stops waiting for node (its
 * epoch floor was announced to that state, or it was fence-acked).
 */
void nd_grace_excuse(struct cl_node *n, const struct cl_ring *ring, uint32_t node);
/* A node of the totem ring of this ring has no daemon in the group (or the totem is in flux). */
bool nd_totem_gap(const struct cl_node *n);
/* Raises term_known to t if t is newer (CL_NODE_EV_NEWEST_TERM). */
void nd_note_term(struct cl_node *n, const struct cl_ring *t);

/* ---- node_hold.c ---- */

const char *nd_hold_name(unsigned s);
/* True when from -> to is in the table (or from == to). */
bool nd_hold_legal(unsigned from, unsigned to);
/*
 * Moves l to `to` (why: for the log) when the table allows it, keeping
 * nheld and the state's timers (linger_at only in LINGER, no handover timer
 * in NONE).  An illegal move leaves l as it is, is logged at LOG_ERR and
 * counted in illegal_transitions; returns false then.
 */
bool nd_lease_to(struct cl_node *n, struct nl_lease *l, enum nl_state to, const char *why);
/* Where a state goes on an event; the caller passes the result to nd_lease_to(). */
enum nl_state nd_hold_granted(enum nl_state s, bool same_epoch);  /* GRANT (or re-GRANT) */
enum nl_state nd_hold_wanted(enum nl_state s);     /* another node asks; or a drain */
enum nl_state nd_hold_revoked(enum nl_state s);    /* holders revoked for a handover */
enum nl_state nd_hold_lost(enum nl_state s);       /* quorum, validity or transport lost */
enum nl_state nd_hold_releasing(enum nl_state s);  /* RELEASE / HANDOVER_DONE sent */

/* ---- node_lease.c ---- */

bool nd_quorum_ok(const struct cl_node *n);
bool nd_authoritative(const struct cl_node *n);
void nd_deny_waiters(struct cl_node *n, struct nl_lease *l, int err);
void nd_revoke_holders(struct cl_node *n, struct nl_lease *l);
void nd_pump(struct cl_node *n, struct nl_lease *l);
void nd_revoke_all(struct cl_node *n, const char *why);
/* The machine's action callback (cl_sm_new()); ctx is the node. */
void nd_on_action(void *ctx, const struct cl_action *a);
void nd_reconcile(struct cl_node *n);
/* A full reconcile now, whatever the size (after a state was loaded). */
void nd_reconcile_now(struct cl_node *n);
/* The next part of a reconcile spread over the loop (n->rc_active). */
void nd_reconcile_step(struct cl_node *n);
void nd_after_own_release(struct cl_node *n, const struct cl_msg *m);
void nd_lease_timers(struct cl_node *n, struct nl_lease *l, uint64_t now);
void nd_grant_confirmed(struct cl_node *n, const uint8_t *name, uint16_t namelen, uint64_t epoch,
			bool stands);

/* ---- node_sync.c ---- */

void nd_sync_start(struct cl_node *n);
void nd_sync_reset_buf(struct cl_node *n);
void nd_snap_pump(struct cl_node *n);
void nd_snap_stop(struct cl_node *n);
/* When a running round is to be logged as slow (CL_TIME_NEVER: none, or logged). */
uint64_t nd_sync_slow_at(const struct cl_node *n);
/* Logs the round as slow, with the members it waits for, once it is due. */
void nd_sync_slow_check(struct cl_node *n, uint64_t now);
void nd_on_announce(struct cl_node *n, uint32_t sender, const struct cl_msg *m);
void nd_on_chunk(struct cl_node *n, uint32_t sender, const struct cl_msg *m);
void nd_on_holds(struct cl_node *n, uint32_t sender, const struct cl_msg *m);

/* ---- node_out.c ---- */

uint64_t nd_new_req(struct cl_node *n);
int nd_queue_msg(struct cl_node *n, const struct cl_msg *msg);
int nd_send_msg(struct cl_node *n, const struct cl_msg *msg);
void nd_transmit(struct cl_node *n, struct outmsg *m);
void nd_flush_retry(struct cl_node *n);
void nd_q_free(struct cl_node *n, struct cl_list *q);
void nd_outmsg_free(struct cl_node *n, struct outmsg *m);
void nd_send_heartbeat(struct cl_node *n);
void nd_maybe_send_quorum(struct cl_node *n);
void nd_confirm_writes(struct cl_node *n);
void nd_note_write(struct cl_node *n, uint32_t writer, const struct cl_msg *m);
void nd_note_grant(struct cl_node *n, uint32_t node, uint64_t epoch);
void nd_note_stateless(struct cl_node *n, const struct cl_msg *m);
void nd_await_grant(struct cl_node *n, struct nl_lease *l);
void nd_send_acks(struct cl_node *n);
void nd_on_write_ack(struct cl_node *n, uint32_t sender, const struct cl_msg *m);
void nd_writes_kept(struct cl_node *n);
void nd_writes_reindex(struct cl_node *n);
void nd_drop_unconfirmed(struct cl_node *n, uint64_t client, int err, bool tell);
/* Appends u (req_id and departures set) to the unconfirmed FIFO and its table. */
void nd_unconf_add(struct cl_node *n, struct unconfirmed *u);

/* ---- node_table.c ---- */

struct nl_lease *nd_lease_find(const struct cl_node *n, const void *name, size_t len);
struct nl_lease *nd_lease_get(struct cl_node *n, const void *name, size_t len);
/* A walk over the leases (nd_lease_first()). */
struct nl_iter {
	struct cl_list *next;
};
struct nl_lease *nd_lease_first(const struct cl_node *n, struct nl_iter *it);
struct nl_lease *nd_lease_next(const struct cl_node *n, struct nl_iter *it);
void nd_lease_settle(struct cl_node *n, struct nl_lease *l);
/*
 * l's rare fields: nd_rare() reads them (all zero when it has none);
 * nd_rare_find() is the record to change, or NULL when it has none;
 * nd_rare_get() makes one (NULL: out of memory, the agent has failed),
 * nd_rare_try() too but leaves the agent running when it cannot;
 * nd_rare_tidy() frees it once all is zero again, nd_rare_drop() at once;
 * nd_rare_clear() zeroes the RARE_* fields named, then tidies.
 */
enum { RARE_HANDOVER = 1, RARE_LOCAL_HANDOVER = 2, RARE_WANTED = 4, RARE_BLOCKED = 8, RARE_RENEW = 16 };
const struct nl_rare *nd_rare(const struct cl_node *n, const struct nl_lease *l);
struct nl_rare *nd_rare_find(struct cl_node *n, const struct nl_lease *l);
struct nl_rare *nd_rare_get(struct cl_node *n, struct nl_lease *l);
struct nl_rare *nd_rare_try(struct cl_node *n, struct nl_lease *l);
void nd_rare_tidy(struct cl_node *n, struct nl_lease *l);
void nd_rare_drop(struct cl_node *n, struct nl_lease *l);
void nd_rare_clear(struct cl_node *n, struct nl_lease *l, unsigned what);
void nd_heap_remove(struct cl_node *n, struct nl_lease *l);
struct nl_client *nd_client_find(const struct cl_node *n, uint64_t id);
/* client id, made for user uid if it is new (an existing one keeps its own) */
struct nl_client *nd_client_get(struct cl_node *n, uint64_t id, uint32_t uid);
void nd_client_maybe_free(struct cl_node *n, struct nl_client *c);
struct chold *nd_chold_of(struct nl_client *c, const struct nl_lease *l);
void nd_chold_free(struct cl_node *n, struct chold *ch);
/* The same for a revoked hold its client never released, dropped at its deadline. */
void nd_chold_drop(struct cl_node *n, struct chold *ch);
int nd_op_add(struct cl_node *n, uint64_t req_id, uint64_t client, uint64_t cookie, uint8_t kind);
struct pending_op *nd_op_take(struct cl_node *n, uint64_t req_id);
void nd_fence_arm(struct cl_node *n, uint32_t node, uint64_t seq, uint64_t deadline);
void nd_arm_all_orphans(struct cl_node *n);
uint64_t nd_orphans_of(struct cl_node *n, uint32_t node, uint64_t upto);

#endif /* COROLEASE_NODE_INT_H */
