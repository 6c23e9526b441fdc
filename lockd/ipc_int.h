/*
 * ipc_int.h - private to the IPC service (ipc*.c): its state, a client
 * connection, a decoded request, and what the three parts call of each other.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   ipc.c       the socket service: accepting, authorisation, the connection
 *               table, and each client's outgoing event queue;
 *   ipc_req.c   the request table (validation and dispatch), the handlers
 *               that change state, and node events routed back to clients;
 *   ipc_read.c  answers read from the local replica: OWNER, INDEX_GET, SHOW,
 *               and the streamed LIST / INDEX_LIST.
 *
 * Memory per client stays bounded: leases (max_leases_per_client), pending
 * requests (max_pending_per_client), watches (max_watches_per_client, and
 * max_watches_per_uid for all of a uid's connections but root's), and
 * events the client does not read (a small backlog, CLD_OUTQ_MAX bytes,
 * then the client is disconnected), and list answers (streamed as the
 * client drains them, CLD_LIST_QUEUED bytes queued at most; one list per
 * connection, max_lists_per_uid per uid but root's).  Time is bounded too:
 * a list runs in turns of the loop, CLD_LIST_BUDGET records scanned each,
 * taken round robin with the other lists at its connection's priority
 * (ipc_list_sched()).  Connections are bounded in total
 * (max_connections, plus CLD_ROOT_RESERVE for root and the daemon's user)
 * and per uid (max_connections_per_uid).  Node-wide, every name a client
 * holds or is acquiring owns a revocation slot of the validity page
 * (max_client_holds of them; page.h).
 */
#ifndef COROLEASE_IPC_INT_H
#define COROLEASE_IPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbipc_common.h>
#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "corolease/htab.h"
#include "corolease/ipc.h"
#include "corolease/list.h"
#include "ipc.h"
#include "killguard.h"
#include "killbudget.h"
#include "watch.h"

#define CLD_MAX_BAD      16u
#define CLD_OUTQ_MAX     (4u * 1024u * 1024u)  /* unread event backlog per client */
#define CLD_BATCH_BYTES  (60u * 1024u)        /* ITEMS payload per event */
#define CLD_LIST_QUEUED  (2u * CLD_BATCH_BYTES) /* a list pauses with this much queued */
#define CLD_LIST_BUDGET  1024u                /* records (or keys) a list scans per turn */
#define CLD_LIST_TURN_BYTES CLD_LIST_QUEUED    /* and bytes it sends per turn, about */
#define CLD_ROOT_RESERVE 16u                  /* connections beyond max_connections for root */
#define CLD_REFUSAL_LOG_US 1000000ull         /* at most one refused-connection log line a second */

/*
 * Whether a rate-limited log line is due at now: at most one per
 * CLD_REFUSAL_LOG_US for each *next_at, which it then moves on.  A client
 * must not be able to flood the log.
 */
static inline bool cld_log_due(uint64_t *next_at, uint64_t now)
{
	if (now < *next_at)
		return false;
	*next_at = now + CLD_REFUSAL_LOG_US;
	return true;
}
/*
 * Requests read per connection and poll round.  Root's and the daemon
 * user's (QB_LOOP_MED) are read CLD_REQS_PER_WAKE_MAX at a time until
 * CLD_REQS_PER_ROUND requests in all were read since the daemon last read
 * corosync's deliveries (cld_ipc_deliveries_read()), so a few busy
 * connections put many requests in one batch of cluster messages; past
 * that, and always for other users', CLD_REQS_PER_WAKE.  Few keeps 500 busy
 * connections from starving the loop (t84), and a root flood of 200
 * connections from delaying the deliveries (releases, acknowledgements)
 * behind thousands of requests: 32 a round for every root connection made
 * handovers and root's own requests 5 to 8 times slower (t175, t176).
 */
#define CLD_REQS_PER_WAKE     4
#define CLD_REQS_PER_WAKE_MAX 32
#define CLD_REQS_PER_ROUND    128
#define CLD_SCM_MAX_FD   253u                   /* the kernel's SCM_MAX_FD */
#define CLD_FD_SLACK     128u   /* the daemon's own beyond those at start: a tree kill's 64 pidfds, reconnects */
#define CLD_FD_ROOT_RESERVE 128u  /* kept for root's connections (CLD_ROOT_RESERVE, two each) and more */
#define CLD_FD_HYST      256u   /* fds_held ends with this many more free than it began */
#ifndef SO_PASSRIGHTS
#define CLD_SO_PASSRIGHTS 83                    /* Linux 6.16 (asm-generic/socket.h) */
#else
#define CLD_SO_PASSRIGHTS SO_PASSRIGHTS
#endif
#ifndef SO_PEERPIDFD
#define CLD_SO_PEERPIDFD 77                     /* Linux 6.5 */
#else
#define CLD_SO_PEERPIDFD SO_PEERPIDFD
#endif
#define CLD_LOW_WINDOW_US 100000ull            /* ipc_low_begin(): the window, and */
#define CLD_LOW_BUDGET_US 20000ull             /* the realtime CPU of unprivileged work in it, */
#define CLD_LOW_EXTRA_US  10000ull             /* and beyond it for users within their share, */
#define CLD_LOW_LIGHT_US  10000ull             /* and for users that used little of the window: */
#define CLD_LOW_LIGHT_USER_US 500ull           /* under this */
#define CLD_LIST_SKIP_MAX 64u                  /* list_turn(): lists over their share passed */
#define CLD_DEFER_PER_UID 256u                 /* accept_dispatch(): connections of one user, */
#define CLD_DEFER_MAX     1024u                /* and of all, waiting for the window's end */
#define CLD_LISTEN_BACKLOG 128                 /* everybody's socket's (root's: SOMAXCONN) */

/*
 * Where a user's unprivileged work takes the daemon's realtime CPU from in
 * the window (cld_low_pot()), or CLD_LOW_NONE: it waits for the next one.
 */
enum cld_low_pot { CLD_LOW_BUDGET, CLD_LOW_SHARE, CLD_LOW_LIGHT, CLD_LOW_NONE };

/*
 * used: what the budget and share pots gave in the window, light what the
 * light pot gave, used_uid what the user had, nuids the users that had
 * some.  Anyone within CLD_LOW_BUDGET_US; past it, a user within an equal
 * share of it, up to CLD_LOW_EXTRA_US more in all (one user's flood spends
 * the budget early in every window, and must not hold the others back with
 * it: helper-96, t217); then a user that had less than
 * CLD_LOW_LIGHT_USER_US, up to CLD_LOW_LIGHT_US more in all (users that
 * take the share pot together must not shut out one that asks little:
 * helper-100).  So the work of every user together takes at most 40 ms of
 * a window's 100.
 */
static inline enum cld_low_pot cld_low_pot(uint64_t used, uint64_t light, uint64_t used_uid,
					   uint64_t nuids)
{
	if (used < CLD_LOW_BUDGET_US)
		return CLD_LOW_BUDGET;
	if (used < CLD_LOW_BUDGET_US + CLD_LOW_EXTRA_US &&
	    used_uid < CLD_LOW_BUDGET_US / (nuids ? nuids : 1))
		return CLD_LOW_SHARE;
	if (used_uid < CLD_LOW_LIGHT_USER_US && light < CLD_LOW_LIGHT_US)
		return CLD_LOW_LIGHT;
	return CLD_LOW_NONE;
}
#define CLD_ACCEPT_PAUSE_NS (100ull * 1000000ull) /* accepting waits this long after EMFILE */

/*
 * A name the client is acquiring, not granted yet (in conn.names), for
 * latency.grant; or (dropped) a hold of it that was revoked and dropped at
 * its deadline and that the client has not released yet.  A granted name
 * has no record here: the hold is the node agent's, tagged with its
 * revocation slot in the validity page, which the agent's events carry
 * (cl_node_acquire_tagged()); the slot and the hold's share of holdquota go
 * back at CL_NODE_EV_HOLD_END (ipc_req.c).  A dropped one keeps the name
 * taken for the client as long as the client may still release it, so that
 * a late release of the old hold never meets a new one, and the hold's
 * share of holdquota with it (not the slot).
 */
struct cname {
	struct cl_hnode hn;
	uint64_t asked_at;            /* cld_now_us() of the acquire; 0 when dropped */
	uint16_t namelen;
	bool dropped;
	uint8_t name[];
};

struct outbuf {
	struct cl_list link;          /* in conn.outq */
	size_t len;
	uint8_t data[];
};

/*
 * A LIST or INDEX_LIST answer being produced as its client drains it
 * (ipc_read.c): a turn at a time, paused while CLD_LIST_QUEUED bytes wait
 * in the client's queue, resumed from where it stopped.
 */
struct listing {
	uint32_t type;
	uint64_t cookie;
	uint64_t cursor;              /* LIST: cl_sm_scan() position */
	uint64_t sm_serial;           /* LIST: of the replica the cursor walks (cl_sm_serial()) */
	uint64_t total;               /* items sent so far */
	uint16_t prefixlen;           /* LIST: the prefix; INDEX_LIST: the name */
	uint8_t lastlen;              /* INDEX_LIST: the last key sent (0: none yet) */
	uint8_t last[COROLEASE_KEY_MAX];
	uint8_t prefix[COROLEASE_NAME_MAX];
};

struct conn {
	struct cl_list link;          /* in cld_ipc.conns */
	struct cl_hnode hn;           /* in cld_ipc.conn_tab, by id */
	struct cld_ipc *ip;
	int fd;                       /* its socket (SOCK_SEQPACKET) */
	uint64_t id;
	pid_t pid;
	int pidfd;                    /* kill_on_revoke, COROLEASE_KILL: the client process, or -1 */
	bool tree_killed;             /* COROLEASE_KILL: what it started was killed (once) */
	bool tree_pending;            /* COROLEASE_KILL: its walk was cut: a struct tree_retry waits */
	uid_t uid;
	gid_t gid;
	bool hello, admin, dying;
	bool want_out;                /* its socket is polled for POLLOUT too */
	enum qb_loop_priority prio;   /* its socket's level in the loop */
	bool in_handshake;            /* no HELLO yet: on cld_ipc.handshakes */
	struct cl_list hs_link;
	uint64_t hs_deadline;         /* cld_now_us(): HELLO by then */
	unsigned bad;
	uint64_t pending;             /* acquires not granted yet, and ops */
	struct cl_list ops;           /* its struct op waiting for the node (op.clink) */
	struct cl_htab names;         /* struct cname: acquires not granted yet, and
					 dropped holds not released; no buckets until the first */
	uint32_t ndropped;            /* dropped ones in names */
	struct cld_watcher watch;     /* in cld_ipc.watches */
	struct cl_list outq;          /* struct outbuf, oldest first */
	size_t oq_bytes;              /* every queued byte, lists included: <= CLD_OUTQ_MAX */
	struct listing *listing;      /* the list being answered, or NULL */
	bool list_queued;             /* listing waits for a turn: on cld_ipc.list_turns[prio] */
	struct cl_list list_link;
	bool low_paused;              /* over the realtime budget: not read until the window ends */
	struct cl_list pause_link;    /* in cld_ipc.low_paused */
};

/* The lists waiting for a turn at one loop priority, and the one timer that gives them. */
struct list_turns {
	struct cld_ipc *ip;
	enum qb_loop_priority prio;
	struct cl_list q;             /* struct conn (list_link), next turn first */
	bool armed;                   /* th is in the loop */
	qb_loop_timer_handle th;      /* expires at once: the next turn */
};

/* A request waiting for the node's answer (INDEX_PUT/DEL, SYNC, EVICT, FENCE_ACK). */
struct op {
	struct cl_hnode hn;           /* in cld_ipc.op_tab, by id */
	struct cl_list clink;         /* in its conn.ops */
	uint64_t id;
	uint64_t conn_id;
	uint64_t cookie;
	uint32_t req_type;
	uint16_t namelen;
	uint8_t keylen;
	uint8_t data[];               /* INDEX_GET|SYNC: name then key */
};

struct cld_ipc {
	struct cld_killguard *guard;   /* the revoke-deadline kills, should the loop be stuck */
	bool guard_full_told;          /* its CLD_KILLGUARD_MAX was logged */
	/*
	 * Realtime CPU for unprivileged work (requests of QB_LOOP_LOW
	 * connections and their list turns): at most CLD_LOW_BUDGET_US in a
	 * window of CLD_LOW_WINDOW_US (ipc_low_begin/end); beyond it their
	 * sockets are not polled for requests, nor their lists turned, until
	 * the window ends (low_paused), so a member's flood cannot turn the
	 * SCHED_RR daemon into a CPU taken from the host, and the daemon's own
	 * timers never wait behind it.
	 */
	bool realtime;                /* the daemon ran SCHED_RR/FIFO when the service started */
	uint64_t low_window_at, low_used_us;
	uint64_t low_light_us;        /* what the light pot gave in the window (cld_low_pot()) */
	uint64_t low_over_us;         /* the work of users over their share in it (ipc_low_end()) */
	/*
	 * Connections accepted from users over their share (ipc_low_over()):
	 * taken from the socket's backlog at once, so that other users' come
	 * next, and made connections when the window ends (accept_dispatch()).
	 */
	struct cl_list deferred;      /* of struct deferred_fd, oldest first */
	uint64_t ndeferred, deferred_refused;
	uint64_t low_uids;            /* users that did unprivileged work in the window */
	struct cl_list low_paused;    /* of struct conn via pause_link */
	bool resume_armed;
	qb_loop_timer_handle resume_th;
	/*
	 * Descriptors (fds_check()): the daemon's own (fd_base, counted at
	 * start, plus CLD_FD_SLACK), two a connection (its socket and pidfd),
	 * and those handed to the closing thread and not yet closed.  When
	 * fewer than CLD_SCM_MAX_FD + CLD_FD_ROOT_RESERVE of fd_limit would be
	 * left, unprivileged connections are neither read (a packet may pass
	 * 253) nor accepted (fds_held), so the kernel never has to drop a
	 * passed file in the loop thread for want of a descriptor, and root's
	 * socket (listen[1]) always has room.
	 */
	uint64_t fd_limit, fd_base;
	uint64_t fd_limit_at;         /* cld_now_us(): when to read RLIMIT_NOFILE again */
	bool scm_refused;             /* the kernel refuses passed descriptors (SO_PASSRIGHTS) */
	bool closer_stuck_told;       /* a WARNING said the closing thread is stuck in a close() */
	uint64_t closes_nudged;       /* close() calls the closing thread interrupted, as logged */
	bool fds_timer_armed;         /* while fds_held: fds_check() each second besides */
	qb_loop_timer_handle fds_timer;
	bool fds_held;
	uint64_t fds_holds;           /* times fds_held began */
	uint64_t fds_holds_told, fds_log_at;   /* as of the last line saying so; the next one at most then */
	bool fds_short_told;          /* that line was the last word: one saying it ended is due */
	bool closer_watched;          /* POLLOUT on the closer's full pipe (closer_over) */
	unsigned round_reads;          /* requests read since corosync's deliveries were (CLD_REQS_PER_ROUND) */
	/*
	 * [0]: RUN_DIR/CLP_SOCKET_FILE, for every client; [1]:
	 * RUN_DIR/CLP_ROOT_SOCKET_FILE, mode 0600, for root and the daemon's
	 * user only, accepted even while fds_held (libcorolease prefers it
	 * where it may connect).
	 */
	struct listener {
		struct cld_ipc *ip;
		int fd;                   /* or -1 */
		bool root;
		bool paused;              /* accept() ran out of descriptors: retried after a pause */
		qb_loop_timer_handle pause_th;   /* that pause (while paused) */
		bool low_paused;          /* everybody's: accepting spent the window (accept_dispatch()) */
		char path[108];           /* a sun_path */
	} listen[2];
	qb_loop_t *loop;
	struct cld_ipc_config cfg;
	const struct cld_ipc_ops *ops;
	void *ctx;
	struct cl_list conns;         /* struct conn, newest first */
	struct cl_htab conn_tab;
	struct cl_htab op_tab;
	struct cld_watch_reg watches;
	struct cl_htab uid_tab;       /* struct uid_conns: connections per uid */
	uint64_t nconns, nhello;
	/* refusals, for STATUS */
	uint64_t refused_conns, refused_conns_uid, refused_watches, refused_leases, refused_lists;
	uint64_t refused_watches_uid; /* watches refused: max_watches_per_uid */
	uint64_t refused_client_leases, refused_pending;   /* max_leases/max_pending_per_client */
	uint64_t low_holdbacks;        /* unprivileged work held back: its realtime budget spent */
	struct cl_hist grant_latency; /* an acquire to its GRANTED, fast path or through the cluster */
	uint64_t refused_index_quota, refused_index_full;   /* puts: -EDQUOT, -ENOSPC */
	uint64_t refused_not_member;  /* connections of users outside socket_group */
	uint64_t refused_queued;      /* disconnected: max_queued_bytes_per_uid */
	uint64_t refused_backlog;     /* requests refused: max_backlog_bytes */
	uint64_t oversized;           /* disconnected: a request over CLP_MAX_MSG */
	uint64_t passed_fds;          /* disconnected: passed file descriptors */
	uint64_t kill_log_at, kills_unlogged;   /* disconnect warnings: a line a second */
	uint64_t sigkill_log_at, sigkills_unlogged;   /* kill_on_revoke's: a line a second */
	struct cld_killbudget kill_budget;   /* COROLEASE_KILL: /proc reads a second, per uid */
	struct cl_list tree_retries;  /* struct tree_retry: kills whose walk was cut, next first */
	bool tree_armed;              /* tree_th is in the loop */
	qb_loop_timer_handle tree_th; /* the next retry */
	/*
	 * per limit (0: max_connections, 1: max_connections_per_uid, 2: not a
	 * member, 3: the others: handshake limits, memory, credentials)
	 */
	uint64_t refusal_log_at[4];   /* cld_now_us(): the next refusal worth a log line */
	uint64_t deferred_log_at;     /* likewise, for defer_fd()'s */
	uint64_t refusals_unlogged[4];
	uint64_t next_op, next_id;
	bool refuse_new;
	uint64_t holds_refused;       /* acquires refused: max_client_holds reached */
	uint64_t holds_refused_told;  /* when that was last logged (cld_now_us()) */
	bool sock_gid_ok, admin_gid_ok;
	gid_t sock_gid, admin_gid;
	struct cl_list handshakes;    /* struct conn (hs_link): no HELLO yet, oldest first */
	uint64_t nhandshakes;         /* of them, counted against the limits (not root's) */
	uint64_t handshakes_dropped;  /* refused or timed out, for STATUS */
	qb_loop_timer_handle handshake_tmr;
	bool handshake_armed;
	struct list_turns list_turns[QB_LOOP_HIGH + 1];   /* by connection priority */
	uint64_t accept_failures, accept_log_at;
	/* event scratch, and the request being read (one packet) */
	uint8_t buf[CLP_MAX_MSG] __attribute__((aligned(64)));
	uint8_t req[CLP_MAX_MSG] __attribute__((aligned(64)));
};

/* A request after validation: every pointer lies inside the message. */
struct req {
	uint32_t type;
	uint64_t cookie;
	const void *msg;              /* the fixed part (struct clp_req_*), 8-byte aligned */
	const uint8_t *name;
	uint16_t namelen;
	const uint8_t *key;
	uint8_t keylen;
	const uint8_t *val;
	uint32_t vallen;
	uint8_t flags;
};

/* ---- ipc.c ---- */

/* The connection with id, or NULL (gone). */
struct conn *ipc_conn_find(struct cld_ipc *ip, uint64_t id);
/* Disconnects c: shuts its socket down now, frees it from its poll handler; why NULL: quietly. */
void ipc_conn_kill(struct conn *c, const char *why);
/*
 * The descriptors counted (fds_check()), those of them the closing thread
 * has yet to close, the close() calls it interrupted, and how long its
 * current close() has run (0: none).
 */
void ipc_fds(const struct cld_ipc *ip, uint64_t *used_r, uint64_t *closing_r, uint64_t *nudged_r,
	     uint64_t *stuck_ms_r);
/*
 * Sends one event (buf with its header's id filled in; the size is set
 * here), queueing a short backlog; a client that lets it grow past
 * CLD_OUTQ_MAX is disconnected.  Lists count too (they pause long before).
 */
void ipc_send(struct conn *c, void *buf, size_t len);
/* The named watches of uid's connections (0 when it has none). */
uint64_t ipc_uid_watches(struct cld_ipc *ip, uid_t uid);
/* Counts delta more (or fewer) named watches of c's uid. */
void ipc_uid_watches_add(struct conn *c, int64_t delta);
/* Sends the RESULT of request type with cookie: err and plen bytes of payload. */
void ipc_result(struct conn *c, uint64_t cookie, uint32_t type, int err,
		const void *payload, size_t plen);
/*
 * Makes l c's listing (c has none), counted against its uid, and gives it
 * its first turn: 0, or -EAGAIN (the uid has max_lists_per_uid under way;
 * l is the caller's still).
 */
int ipc_list_start(struct conn *c, struct listing *l);
/* Gives c's listing, if any, a turn of the loop after those already waiting at its priority. */
void ipc_list_sched(struct conn *c);
/* Around unprivileged work of uid: its start time (ipc_low_end() counts it against the budget). */
uint64_t ipc_low_begin(struct cld_ipc *ip);
void ipc_low_end(struct cld_ipc *ip, uid_t uid, uint64_t t0);
/* Whether uid's unprivileged work waits for the next window (low_paused): cld_low_share_over(). */
bool ipc_low_over(struct cld_ipc *ip, uid_t uid);
/* Ends c's listing, if any: frees it, uncounts it, takes it off the turns. */
void ipc_list_end(struct conn *c);
/*
 * The connecting process as a pidfd: from the kernel at connect time
 * (SO_PEERPIDFD, Linux 6.5) where it can, else pidfd_open() of pid.  -1 on
 * failure.
 */
int cld_conn_peer_pidfd(int fd, pid_t pid);

/* ---- ipc_req.c ---- */

/* Validates and handles one request of size bytes (8-byte aligned) from c. */
void ipc_request(struct cld_ipc *ip, struct conn *c, const uint8_t *data, size_t size);
/*
 * Frees what the request side keeps per connection (names, watches, and
 * its ops: the node tells nobody of their answers once the client is gone).
 */
void ipc_conn_forget(struct conn *c);
/* Frees every op still waiting (the service is stopping). */
void ipc_ops_free(struct cld_ipc *ip);
/* Sets up COROLEASE_KILL's budget and retries; ipc_kill_stop() frees the retries waiting. */
void ipc_kill_init(struct cld_ipc *ip);
void ipc_kill_stop(struct cld_ipc *ip);
/*
 * c closes: a kill of c waiting for its tree to be walked (tree_pending)
 * kills c now, the rest of its tree left, with a WARNING (else a stopped
 * client would stay stopped for good).
 */
void ipc_kill_forget(struct conn *c);

/* ---- ipc_read.c (handlers of the request table) ---- */

void ipc_do_owner(struct cld_ipc *ip, struct conn *c, const struct req *r);
void ipc_do_list(struct cld_ipc *ip, struct conn *c, const struct req *r);
/*
 * One turn of c's listing: at most CLD_LIST_BUDGET records or keys scanned
 * and about CLD_LIST_TURN_BYTES sent; may end it.  Returns true when it
 * wants another turn at once (it stopped on its budget), false when it
 * ended or waits for its queue to drain (conn_flush() schedules it then).
 */
bool ipc_list_pump(struct cld_ipc *ip, struct conn *c);
void ipc_do_show(struct cld_ipc *ip, struct conn *c, const struct req *r);
/* The answer to INDEX_GET (at once, or once its sync barrier passed). */
void ipc_index_get_answer(struct cld_ipc *ip, struct conn *c, uint64_t cookie,
			  const uint8_t *name, size_t namelen, const uint8_t *key, size_t keylen);

#endif /* COROLEASE_IPC_INT_H */
