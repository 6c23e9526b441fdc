/*
 * corolease.h - public interface of libcorolease: connection, event loop,
 * leases, index cache, errors.  Administration (status, list, show, evict,
 * fence-ack) is in corolease_admin.h.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * Errors: every function that can fail returns a negative errno value
 * (-EBUSY, -ESTALE, ...) or one of the domain codes below, which live in
 * their own negative range so they never collide with errno.  0 is
 * success; a positive value is returned only where a comment says so.
 *
 * Each function names its errors where it is declared.  "The common
 * errors" are those every call that talks to the daemon can return:
 *   -EINVAL                  a NULL handle or an argument out of range
 *   -ENOMEM                  out of memory
 *   COROLEASE_EPROTO         the daemon's answer was malformed
 *   COROLEASE_EDISCONNECTED  the connection to the daemon is lost: returned
 *                            as soon as the daemon is gone (a call waiting
 *                            for an answer polls the connection and sees it
 *                            hang up), never a raw -ENOTCONN or -EPIPE; the
 *                            outcome of a request in flight is unknown
 *
 * Time: every time this library takes or returns (corolease_get_timeout(),
 * corolease_lease_revoke_deadline()) and every deadline it keeps is
 * CLOCK_BOOTTIME in microseconds, which keeps counting while the machine
 * is suspended (CLOCK_MONOTONIC on kernels before Linux 2.6.39, which lack
 * it).
 *
 * Bounds: corolease_connect() returns within 10 s; an acquire with a
 * timeout returns by it (plus 0.5 s with COROLEASE_WAIT, see
 * corolease_acquire()); a call without a timeout of its own waits for the
 * daemon's answer, or returns COROLEASE_EDISCONNECTED once the daemon is
 * gone.
 *
 * Ownership: a corolease_t is the caller's from corolease_connect() to
 * corolease_close(); a lease handle from its acquire to corolease_release()
 * (or, for a failed async acquire, until its `acquired` callback returns).
 * Pointers handed to callbacks and iteration functions are valid only
 * during the call.
 */
#ifndef COROLEASE_H
#define COROLEASE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits shared by the library, the daemon and the wire format. */
#define COROLEASE_NAME_MAX   1024u          /* lease name: 1..1024 opaque bytes */
#define COROLEASE_KEY_MAX    255u           /* index key: 1..255 bytes */
#define COROLEASE_VALUE_MAX  (64u * 1024u)  /* index value: 0..64 KiB */
#define COROLEASE_KEYS_MAX   65536u         /* keys in one name's index */

/* Lease modes. */
enum corolease_mode {
	COROLEASE_EX = 1, /* exclusive: one node */
	COROLEASE_SH = 2, /* shared: any number of nodes */
};

/* Acquire flags. */
#define COROLEASE_WAIT  0x01u  /* queue behind the holder instead of -EBUSY */
/*
 * Share an EX hold with this node's other clients of the same user (uid)
 * that ask for it the same way (several processes of one mail user, say).
 * A client of another uid, root included, never joins such a hold: it waits
 * (COROLEASE_WAIT) or gets -EBUSY as for any EX hold.  Without the flag, EX
 * is exclusive between the clients of one node too, as with flock(2).
 */
#define COROLEASE_NODE_SHARED 0x02u
/*
 * Should this hold still be held past its revoke deadline, the daemon kills
 * this process and what it started (SIGKILL, through pidfds; its tree walked
 * within a budget of /proc reads for each uid, the process kept stopped
 * until it is: libcorolease(3)), whatever kill_on_revoke says: only what this
 * connection's user could kill itself (not a set-user-ID program the
 * process exec'd since, keeping the connection).  For a process that cannot be trusted to stop in
 * time, say one that runs a command under the lease: `corolease acquire`
 * sets it, so that its command dies with it even when it is itself stopped
 * (SIGSTOP).
 */
#define COROLEASE_KILL 0x04u

/*
 * Domain error codes.  X(NAME, value, message).  One list makes the enum,
 * corolease_strerror() and corolease_errname().
 */
#define COROLEASE_ERRNO_MAP(X)                                                          \
	X(NOQUORUM,  -3001, "cluster partition is not quorate")                           \
	X(ORPHANED,  -3002, "lease is held by a departed node awaiting recovery or fence-ack") \
	X(NOTHELD,   -3003, "lease is not held")                                           \
	X(REVOKED,   -3004, "lease was revoked")                                           \
	X(SYNCING,   -3005, "node is synchronising cluster state")                        \
	X(PROTO,     -3006, "malformed protocol message")                                  \
	X(VERSION,   -3007, "unsupported protocol or snapshot version")                    \
	X(NODEALIVE, -3008, "node is a live cluster member")                               \
	X(DISCONNECTED, -3009, "not connected to coroleased")                             \
	X(FENCING,   -3010, "waiting for fence-ack of a departed node (split-capable quorum mode)") \
	X(GRACE,     -3011, "cluster state was lost: no grants until the grace period ends") \
	X(UNTRUSTED, -3012, "coroleased or its validity page failed the ownership checks") \
	X(NOCLUSTER, -3013, "the node lost its corosync connection before the request was decided")

enum corolease_errno {
#define COROLEASE_ERRNO_ENUM_(name, val, msg) COROLEASE_E##name = (val),
	COROLEASE_ERRNO_MAP(COROLEASE_ERRNO_ENUM_)
#undef COROLEASE_ERRNO_ENUM_
};

/* An opaque connection to the local coroleased. */
typedef struct corolease corolease_t;
/* An opaque handle on one lease this connection holds or is acquiring. */
typedef struct corolease_lease corolease_lease_t;

/* ------------------------------------------------------------------------ */
/* connection */

/*
 * Connects to coroleased and handshakes, blocking for at most 10 s in all.
 * Checks whom it talks to first: the daemon's uid must be root or the
 * caller's effective uid, and the daemon's validity page and its directory
 * must be owned by root or that uid and not writable by group or others.
 * Returns 0 and *h_r, or -ENOENT (daemon not running: no socket, or
 * nobody listening on it), -EAGAIN (too many connections that have not
 * said HELLO yet: max_handshakes or max_handshakes_per_uid; a full
 * backlog is retried until the deadline),
 * -EACCES (not in the socket group), -EUSERS (the daemon's connection
 * limit, in total or for this uid, is reached), -ESHUTDOWN (the daemon is
 * stopping), -ETIMEDOUT (no complete handshake within 10 s),
 * COROLEASE_EUNTRUSTED (the checks above failed: possibly another user's
 * fake daemon),
 * COROLEASE_EVERSION (daemon speaks another protocol version), or a
 * common error (COROLEASE_EDISCONNECTED: the daemon went away during the
 * handshake).
 */
int corolease_connect(corolease_t **h_r);
/*
 * corolease_connect() with the handshake bounded by timeout_ms instead of
 * 10 s (0: the 10 s): -ETIMEDOUT when the daemon has not completed it by
 * then (a hung or stopped daemon).
 */
int corolease_connect_timeout(corolease_t **h_r, unsigned timeout_ms);
/*
 * Bounds every synchronous call of h that has no timeout of its own
 * (corolease_sync(), corolease_owner(), the index and admin calls, an
 * acquire with timeout_ms 0) to timeout_ms: such a call returns -ETIMEDOUT
 * when the daemon has not answered by then (hung, stopped); the request
 * may still take effect at the daemon, and its late answer is dropped.
 * 0 (the default): no bound, the call waits as long as the daemon is
 * connected.  An acquire with a timeout keeps its own bound.  0 or -EINVAL.
 */
int corolease_set_timeout(corolease_t *h, unsigned timeout_ms);
/*
 * Closes the connection (the daemon releases everything it held), frees
 * every lease handle and drops queued callbacks without running them.
 * Accepts NULL; returns NULL.  Not to be called from a callback.
 */
corolease_t *corolease_close(corolease_t *h);

/* ------------------------------------------------------------------------ */
/* callbacks */

/*
 * Callbacks run only inside corolease_dispatch(), never inside any other
 * call.  A synchronous call (corolease_acquire(), corolease_index_put(),
 * ...) that waits for its answer processes every event that arrives
 * meanwhile: the library's state is updated at once (a revoked lease's
 * corolease_lease_valid() is 0 from that moment), but the callbacks are
 * queued, in arrival order, for the next corolease_dispatch(), and
 * corolease_get_timeout() returns 0 while the queue is not empty.
 *
 * A callback may call any function except corolease_close() on the same
 * handle.  Callbacks it causes (for example through a synchronous call) are
 * queued for the next corolease_dispatch(), not run within the current one.
 * Releasing a lease drops the callbacks queued for it (the functions of its
 * asynchronous index writes still run, with a NULL lease).  Any member may be
 * NULL: its events are then not queued (a failed async acquire's handle is
 * still freed, at the next corolease_dispatch()).  `udata` is always the
 * connection's (given to corolease_set_callbacks); a lease's own is
 * corolease_lease_udata().
 */
struct corolease_callbacks {
	/* An async acquire finished: err 0 (lease granted) or negative (the
	 * errors of corolease_acquire).  On error the lease handle is freed
	 * right after the callback returns. */
	void (*acquired)(corolease_t *h, corolease_lease_t *lease, int err, void *udata);
	/* Node `node` wants a lease we hold: release it when done.  Queued
	 * at most once per lease at a time (a later want updates the node).
	 * When that node waits (COROLEASE_WAIT), the lease is revoked after
	 * the daemon's handover_timeout_ms; a NOWAIT try was denied and only
	 * tells. */
	void (*wanted)(corolease_t *h, corolease_lease_t *lease, uint32_t node, void *udata);
	/* The lease was revoked: stop using it at once, then release it. */
	void (*revoked)(corolease_t *h, corolease_lease_t *lease, void *udata);
	/* The connection to the daemon is gone; every lease is invalid.  Runs
	 * once, after the `acquired` callbacks of the acquires it failed. */
	void (*disconnected)(corolease_t *h, void *udata);
	/* A watched name's key changed (deleted != 0 if removed). */
	void (*index_changed)(corolease_t *h, const void *name, size_t namelen,
			      const void *key, size_t keylen, uint64_t version,
			      int deleted, uint32_t writer_node, void *udata);
};

/* Copies *cb (NULL clears every callback) and udata.  No error. */
void corolease_set_callbacks(corolease_t *h, const struct corolease_callbacks *cb, void *udata);

/* ------------------------------------------------------------------------ */
/* event-loop integration (sd-bus style) */

/* The fd to poll, or -EINVAL for a NULL handle. */
int corolease_get_fd(const corolease_t *h);
/* poll(2) events to wait for on that fd: POLLIN (0 for a NULL handle). */
int corolease_get_events(const corolease_t *h);
/*
 * When corolease_dispatch() must be called even if the fd is not readable:
 * an absolute CLOCK_BOOTTIME time in microseconds (an acquire deadline, a
 * send retry), 0 for "now" (callbacks are queued, or a lost connection is
 * not reported yet), or UINT64_MAX for no deadline (also for a NULL
 * handle).  An event loop must honour it: queued callbacks do not make the
 * fd readable.  Ask again after every call into the library.  (The fd also
 * reports POLLHUP when the daemon dies; dispatch then reports the loss.)
 */
uint64_t corolease_get_timeout(const corolease_t *h);
/*
 * Never blocks.  Runs the callbacks queued so far, then receives whatever
 * has arrived (up to 1024 events), handles due deadlines, and runs the
 * callbacks of those events.  Returns the number of events received plus
 * callbacks run (0: nothing to do), -EINVAL for a NULL handle, or
 * COROLEASE_EDISCONNECTED once the connection is lost (on every call from
 * then on; queued callbacks, `disconnected` among them, still run).
 */
int corolease_dispatch(corolease_t *h);
/*
 * Corks and uncorks h, as TCP_CORK does a socket.  While h is corked, the
 * requests made on it wait in the library; corolease_uncork() sends them,
 * in order, up to 64 in one system call, so the daemon reads them at one
 * wake-up and puts them in one cluster message.  For a client that makes
 * many asynchronous calls at once.  A synchronous call sends what waits
 * with its own request.  corolease_dispatch() corks h while it runs
 * callbacks: what they ask is sent when they are done, or earlier by a
 * synchronous call or a corolease_dispatch() of a callback.  Corks nest:
 * the requests go at the last uncork (inside a callback, when the dispatch
 * is done).  An async acquire that times out before it was sent is never
 * sent.  Both return 0, -EINVAL (a NULL handle; an uncork without a cork),
 * or COROLEASE_EDISCONNECTED once the connection is lost (a cork still
 * counts then).
 */
int corolease_cork(corolease_t *h);
int corolease_uncork(corolease_t *h);
/* The node id of the local daemon (0 for a NULL handle). */
uint32_t corolease_nodeid(const corolease_t *h);

/* ------------------------------------------------------------------------ */
/* leases */

/*
 * Acquires name (1..COROLEASE_NAME_MAX bytes) in mode with flags
 * (COROLEASE_WAIT, COROLEASE_NODE_SHARED, COROLEASE_KILL), blocking until granted or refused.  timeout_ms (0 =
 * none) bounds the call: with COROLEASE_WAIT the daemon gives up the wait
 * after timeout_ms and names the holder, and the library itself 0.5 s
 * later if the daemon does not answer; without it the library gives up
 * after timeout_ms.  Returns 0 and *lease_r, or
 *   -EBUSY                held elsewhere (also by a departed node awaiting
 *                         recovery); *owner_r = the holder if owner_r != NULL
 *   -ETIMEDOUT            timeout_ms ran out (*owner_r set when known)
 *                         while quorate; a wait that ends while the
 *                         partition is not quorate: COROLEASE_ENOQUORUM
 *   -EALREADY             this connection holds or is acquiring name
 *   -EDQUOT               lease quota reached: this connection's
 *                         (max_leases_per_client), its user's share of the
 *                         node's (max_client_holds_per_uid) or the node's
 *                         (max_client_holds)
 *   -EAGAIN               too many requests of this connection pending
 *   COROLEASE_ENOQUORUM   the node's partition is not quorate
 *   COROLEASE_ESYNCING    the node is still synchronising (without WAIT)
 *   COROLEASE_EFENCING    a departed node awaits fence-ack in a split-capable
 *                         quorum mode (without WAIT; a WAIT request queues)
 *   COROLEASE_EGRACE      fresh cluster state in its grace period (without
 *                         WAIT; a WAIT request queues)
 *   -ENOSPC               the cluster's state holds max_leases names and name
 *                         is not one of them
 *   COROLEASE_ENOCLUSTER  the node lost its corosync connection before a
 *                         decision
 *   -ESHUTDOWN            the daemon is stopping
 * or a common error.
 */
int corolease_acquire(corolease_t *h, const void *name, size_t namelen, int mode,
		      unsigned flags, unsigned timeout_ms, corolease_lease_t **lease_r,
		      uint32_t *owner_r);
/*
 * Starts an acquire and returns at once with 0 and *lease_r (not yet
 * granted); the `acquired` callback reports the outcome (the errors of
 * corolease_acquire), from a later corolease_dispatch().  Fails at once
 * only with a common error.
 */
int corolease_acquire_async(corolease_t *h, const void *name, size_t namelen, int mode,
			    unsigned flags, unsigned timeout_ms, void *lease_udata,
			    corolease_lease_t **lease_r);
/*
 * Releases the lease (or cancels a pending acquire), drops its queued
 * callbacks (not its asynchronous writes' functions: they get a NULL lease)
 * and frees the handle; accepts NULL.  Inside the `acquired`
 * callback of a failed acquire it does nothing (the library frees that
 * handle after the callback).  Does not wait: returns 0, or
 * COROLEASE_EDISCONNECTED (the handle is freed anyway).
 */
int corolease_release(corolease_lease_t *lease);

/* Accessors on a lease handle; no errors (NULL gives 0 / NULL). */
uint64_t corolease_lease_epoch(const corolease_lease_t *lease);   /* fencing token, 0 until granted */
int corolease_lease_mode(const corolease_lease_t *lease);
/* The name (NUL-terminated for convenience) and its length in *namelen_r. */
const void *corolease_lease_name(const corolease_lease_t *lease, size_t *namelen_r);
void *corolease_lease_udata(const corolease_lease_t *lease);
/*
 * After a revoke has been dispatched: when the daemon stops waiting for
 * this release (CLOCK_BOOTTIME microseconds); then it hands the lease over,
 * and kills the process if kill_on_revoke is set.  0 if not revoked.
 */
uint64_t corolease_lease_revoke_deadline(const corolease_lease_t *lease);
/*
 * The latest time (CLOCK_BOOTTIME microseconds) by which this process must
 * have stopped using the lease, as things stand now, with no IPC: the
 * node's validity deadline (from the daemon's validity page, as
 * corolease_lease_valid() reads it) plus the daemon's revoke_timeout_ms,
 * and no later than corolease_lease_revoke_deadline() once a revoke has been
 * dispatched.  The other nodes never grant the lease before it.  It moves
 * on while the node renews its validity, and stays put once the daemon is
 * stopped, cut off or gone (a connection lost keeps its page mapped); a
 * time already past (1) once the daemon retired its page (a clean stop or a
 * restart).  For a holder that cannot stop at once, like the command
 * `corolease acquire` runs: once corolease_lease_valid() is 0, stop, or be
 * killed, by this time.  0 for a NULL lease or one not granted.
 */
uint64_t corolease_lease_stop_deadline(const corolease_lease_t *lease);
/*
 * The node's part of those deadlines, for every lease of h at once: the
 * validity deadline (CLOCK_BOOTTIME microseconds) from the daemon's validity
 * page, and in *stop_deadline_r (if not NULL) that plus the daemon's
 * revoke_timeout_ms.  Both are 1 (past) once the daemon retired its page or
 * the page is not this connection's daemon's, and 0 while the node has
 * nothing valid yet, or for a NULL h.  It reads only the page, which stays
 * mapped until corolease_close(): unlike every other call, it may be made
 * from a signal handler (a process's own watchdog, like the Dovecot
 * plugin's self-fence), as long as h is not being closed.
 */
uint64_t corolease_valid_until(const corolease_t *h, uint64_t *stop_deadline_r);
/*
 * 1 once granted and while not revoked (by the daemon, dispatched or not)
 * and connected, else 0.  Like corolease_lease_valid() without the
 * deadline: 1 does not mean the lease may be used.
 */
int corolease_lease_granted(const corolease_lease_t *lease);
/*
 * 1 if the lease may be used right now, else 0: granted; not revoked, as
 * the daemon marks it in its validity page the moment it revokes the hold
 * (no dispatch needed); the node's validity deadline, read from the same
 * page, not passed; the page is the one of the daemon this connection
 * talks to (a restarted daemon never revives an old connection's leases);
 * and the connection not hung up (one poll(2): a crashed daemon's leases
 * read 0 from the crash on).  No IPC and no dispatch; call it before each
 * write to shared storage, and stamp the write with the epoch: a process
 * paused between the check and the write can only be stopped by storage
 * that checks the epoch.
 */
int corolease_lease_valid(const corolease_lease_t *lease);

/*
 * Which node holds name, from the local replica: 0 and *node_r (0 =
 * nobody), or COROLEASE_ESYNCING (no replica yet), or a common error.
 */
int corolease_owner(corolease_t *h, const void *name, size_t namelen, uint32_t *node_r);

/* ------------------------------------------------------------------------ */
/* index cache */

#define COROLEASE_GET_SYNC 0x01u  /* barrier first: linearizable read */
/*
 * Reads key of name from the local replica.  Copies up to bufsize bytes of
 * the value into buf; *vallen_r gets the full length; *version_r the
 * version at which this key was last written (as corolease_index_list
 * reports it).  Returns 0, or -ENOENT (no such key), COROLEASE_ESYNCING;
 * with COROLEASE_GET_SYNC also -EAGAIN (too many requests pending),
 * COROLEASE_ENOQUORUM (the read would not be linearizable here) and
 * COROLEASE_ENOCLUSTER (the node lost its corosync connection before the
 * barrier); or a common error.
 */
int corolease_index_get(corolease_t *h, const void *name, size_t namelen,
			const void *key, size_t keylen, unsigned flags,
			void *buf, size_t bufsize, size_t *vallen_r, uint64_t *version_r);
/*
 * Writes (or deletes) key of the lease's name; the lease must be held EX.
 * Blocks until the write is applied in agreed order and confirmed to
 * survive a partition (see doc/state-machine.md).  Returns 0 and the new
 * version (the name's, which is also the key's), or
 *   -ESTALE               the epoch is no longer current, or the write was
 *                         lost with a minority partition
 *   COROLEASE_ENOTHELD    the lease is not granted, or not EX
 *   COROLEASE_EREVOKED    the lease was revoked (refused locally)
 *   -ENOSPC               put: the index memory bound (index_mem_max) cannot
 *                         fit the value, even after evicting what the put may
 *                         evict (with per-uid quotas on, only indexes of the
 *                         caller's uid: another uid's are never evicted for it)
 *   -EDQUOT               put: the caller's uid would exceed its index quota
 *                         (index_bytes_per_uid) even after evicting its own
 *                         indexes of names nobody holds; root has none
 *   -EFBIG                put of a new key: the name's index has
 *                         COROLEASE_KEYS_MAX keys already
 *   -ENOENT               del: no such key
 *   -EAGAIN               too many requests of this connection pending
 *   COROLEASE_ENOQUORUM   the partition is not quorate
 *   COROLEASE_EFENCING    a departed node awaits fence-ack (split-capable
 *                         quorum mode): nothing is written until then
 *   COROLEASE_ENOCLUSTER  the node lost its corosync connection before the
 *                         write was confirmed: its outcome is unknown
 * or a common error (with COROLEASE_EDISCONNECTED, too, the outcome of a
 * write in flight is unknown).
 */
int corolease_index_put(corolease_lease_t *lease, const void *key, size_t keylen,
			const void *val, size_t vallen, uint64_t *version_r);
int corolease_index_del(corolease_lease_t *lease, const void *key, size_t keylen,
			uint64_t *version_r);
/*
 * Asynchronous put and delete: the same write as corolease_index_put() and
 * corolease_index_del(), but the call returns once the request is sent
 * (or queued by flow control), and fn(h, lease, err, version, ctx) reports
 * the outcome from a later corolease_dispatch(), in the order the answers
 * came: err 0 with the new version, or an error of the synchronous call
 * (version 0).  Writes made one after another on a connection are applied
 * in that order; many in flight at once share the daemon's cluster
 * messages, which is where the throughput comes from.
 *
 * The call itself fails, and fn is then never called, with -EINVAL,
 * COROLEASE_ENOTHELD, COROLEASE_EREVOKED (known here), -ENOMEM, -EMSGSIZE or
 * COROLEASE_EDISCONNECTED.  Once it returned 0, fn runs exactly once, unless
 * corolease_close() comes first (it drops them silently):
 *  - lease is the handle the write was made on, or NULL when that was
 *    released (corolease_release()) before fn ran; the write's outcome is
 *    still the daemon's (released after the write was sent, the write came
 *    first);
 *  - COROLEASE_EDISCONNECTED: the connection was lost first; as with the
 *    synchronous call, the write may or may not have been applied;
 *  - -EAGAIN: the connection had too many requests pending at the daemon
 *    (max_pending_per_client, 1,000 by default): keep fewer in flight.
 * The answers are read only by corolease_dispatch() (and synchronous
 * calls): keep a window and dispatch as it fills.  A connection that sends
 * writes without ever reading is disconnected by the daemon once its
 * unread answers pass 4 MiB (about 100,000; "client does not read its
 * events" in the daemon's log), and every write in flight then reports
 * COROLEASE_EDISCONNECTED.  COROLEASE_ENOTHELD also for a lease held SH.
 * fn may be NULL (the outcome is then not reported).  fn may call any
 * function except corolease_close() on the same handle.
 */
typedef void (*corolease_write_fn)(corolease_t *h, corolease_lease_t *lease, int err,
				   uint64_t version, void *ctx);
int corolease_index_put_async(corolease_lease_t *lease, const void *key, size_t keylen,
			      const void *val, size_t vallen, corolease_write_fn fn, void *ctx);
int corolease_index_del_async(corolease_lease_t *lease, const void *key, size_t keylen,
			      corolease_write_fn fn, void *ctx);
/*
 * Calls fn for each key of name in key order, from inside this call (not
 * from an event: fn may call any function but corolease_close()).  A
 * non-zero return from fn stops the calls and is returned.  Returns 0, or
 * fn's value, COROLEASE_ESYNCING, -EAGAIN (a list of this connection is
 * still being delivered), or a common error.
 */
typedef int (*corolease_index_fn)(void *ctx, const void *key, size_t keylen,
				  const void *val, size_t vallen, uint64_t version);
int corolease_index_list(corolease_t *h, const void *name, size_t namelen,
			 corolease_index_fn fn, void *ctx);
/*
 * Watches (unwatches) name for index changes, reported through
 * `index_changed`; namelen 0 means every name.  0 or a common error;
 * corolease_watch() of a name also -EDQUOT (per-connection watch quota
 * reached; watching every name costs none of it).
 */
int corolease_watch(corolease_t *h, const void *name, size_t namelen);
int corolease_unwatch(corolease_t *h, const void *name, size_t namelen);
/*
 * Waits until everything sent to the cluster before it is applied.  0,
 * -EAGAIN (too many requests pending), COROLEASE_ENOQUORUM (not
 * linearizable here), COROLEASE_ESYNCING (the node is joining or
 * resynchronising: it answers that at once; retry), COROLEASE_ENOCLUSTER
 * (the node lost its corosync connection), or a common error.
 */
int corolease_sync(corolease_t *h);

/* ------------------------------------------------------------------------ */
/* errors and version */

/*
 * Message and symbolic name ("EBUSY", "ENOQUORUM", "OK") for any code this
 * library returns, and errno values of either sign.  Static or
 * thread-local strings; never NULL.
 */
const char *corolease_strerror(int err);
const char *corolease_errname(int err);
/* Library version string. */
const char *corolease_version(void);

#ifdef __cplusplus
}
#endif
#endif /* COROLEASE_H */
