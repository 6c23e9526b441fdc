/*
 * corolease/ipc.h - the local IPC protocol between libcorolease and coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * Transport: a Unix SOCK_SEQPACKET socket, RUN_DIR/CLP_SOCKET_FILE, one
 * message per packet.  Client -> daemon messages are requests; every answer
 * and notification travels daemon -> client on the same socket, so the
 * client has one fd to poll.  The daemon creates the socket in its run
 * directory (root's, 0755) with mode 0660 and group socket_group (0600
 * without one), so the kernel keeps everybody else out and nobody can take
 * the name first.  A client trusts the run directory only when root (or its
 * own uid) owns it and nobody else may write it, and the server only when
 * SO_PEERCRED says root or the client's own uid.  A connection refused by
 * the daemon (limits, stopping) gets one RESULT of type HELLO with cookie 0
 * and the reason in err, then the socket closes.
 *
 * Both ends run on one host, so fields are native-endian fixed-width
 * integers in structs with the host's natural layout (both ends are built
 * from this header); variable data (name, key, value) follows sizeof() of
 * the fixed part, in that order.  Every message starts with libqb's header
 * layout, struct qb_ipc_request_header / qb_ipc_response_header (id =
 * message type, size = total bytes, which must equal the packet's).  The receiver checks size against the
 * fixed part plus the declared lengths exactly, and the bounds of every
 * length, before using anything; a mismatch is a protocol error.
 *
 * Flow: the client sends HELLO first (protocol version); the daemon answers
 * with a RESULT carrying its node id and its validity page (path,
 * incarnation, slot count; see "The validity page" below).  Each request
 * carries a client-chosen cookie, echoed in its answer.
 *
 * Clock: every time on this protocol, in the page and in the library's API
 * (valid_until, revoke deadlines, corolease_get_timeout()) is clp_now_us():
 * CLOCK_BOOTTIME in microseconds, which keeps counting while the machine is
 * suspended (CLOCK_MONOTONIC does not, so a deadline read from it would
 * survive a suspend).  On a kernel without CLOCK_BOOTTIME (before Linux
 * 2.6.39) both ends fall back to CLOCK_MONOTONIC alike.  Neither covers a
 * whole-VM pause that stops the guest's clocks: see doc/state-machine.md.
 */
#ifndef COROLEASE_PRIVATE_IPC_H
#define COROLEASE_PRIVATE_IPC_H

/*
 * Only the two ends of the protocol (libclient/, lockd/ and the tests that
 * play one of them) define COROLEASE_IPC_PEER; the core, the CLI and any
 * program built on the public API cannot include this header by accident.
 */
#ifndef COROLEASE_IPC_PEER
#error "corolease/ipc.h is private to libcorolease and coroleased (see include/local.mk)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <qb/qbipc_common.h>

#include "corolease.h"
#include "corolease_admin.h"

/* The socket in the run directory ($COROLEASE_RUN_DIR, else CLP_DEFAULT_RUN_DIR). */
#define COROLEASE_IPC_NAME     "corolease"   /* (older daemons' libqb service) */
#define CLP_SOCKET_FILE        "corolease.sock"
/*
 * A second socket, mode 0600, that only root and the daemon's own user can
 * reach.  The daemon accepts it even when it stops accepting other users'
 * connections to keep descriptors in reserve, so an administrator's status,
 * evict or fence-ack still gets through.  libcorolease connects here first
 * when its effective uid is root or owns the socket, and falls back to
 * CLP_SOCKET_FILE (an older daemon has no such socket).
 */
#define CLP_ROOT_SOCKET_FILE   "corolease-root.sock"
#define CLP_DEFAULT_RUN_DIR    "/run/corolease"
#define CLP_VERSION            4u   /* 2: STATUS as key/value records; 3: page per
					   incarnation with revocation slots; 4: own socket */
#define CLP_MAX_MSG            (256u * 1024u)   /* the largest packet, either way */
#define CLP_MAX_LIST_BATCH     512u             /* leases per LIST_ITEMS event */

/* ---- requests (client -> daemon): header.id ---- */
enum clp_req_type {
	CLP_REQ_HELLO = 1,       /* clp_req_hello */
	CLP_REQ_ACQUIRE,         /* clp_req_acquire + name */
	CLP_REQ_RELEASE,         /* clp_req_name + name */
	CLP_REQ_INDEX_GET,       /* clp_req_index + name + key */
	CLP_REQ_INDEX_PUT,       /* clp_req_index + name + key + value */
	CLP_REQ_INDEX_DEL,       /* clp_req_index + name + key */
	CLP_REQ_INDEX_LIST,      /* clp_req_name + name: all keys (ITEMS events, then RESULT) */
	CLP_REQ_WATCH,           /* clp_req_name + name; namelen 0 = every name */
	CLP_REQ_UNWATCH,         /* clp_req_name + name */
	CLP_REQ_SYNC,            /* clp_req_base: ordering barrier */
	CLP_REQ_OWNER,           /* clp_req_name + name */
	CLP_REQ_STATUS,          /* clp_req_base */
	CLP_REQ_LIST,            /* clp_req_name + prefix: ITEMS events, then RESULT */
	CLP_REQ_SHOW,            /* clp_req_name + name */
	CLP_REQ_EVICT,           /* clp_req_name + name (admin) */
	CLP_REQ_FENCE_ACK,       /* clp_req_node (admin) */
	CLP_REQ_TYPE_MAX = CLP_REQ_FENCE_ACK,
};

/* ---- events (daemon -> client): header.id ---- */
enum clp_ev_type {
	CLP_EV_RESULT = 1,       /* clp_ev_result [+ payload]: answer to a request */
	CLP_EV_GRANTED,          /* clp_ev_lease + name */
	CLP_EV_QUEUED,           /* clp_ev_lease + name */
	CLP_EV_WANTED,           /* clp_ev_lease + name: node `node` wants it */
	CLP_EV_REVOKED,          /* clp_ev_lease + name: stop using it now */
	CLP_EV_RESERVED_6,       /* was VALIDITY (version 2): the page carries it */
	CLP_EV_INDEX_CHANGED,    /* clp_ev_index + name + key */
	CLP_EV_ITEMS,            /* clp_ev_items + records: a batch of LIST/INDEX_LIST output */
	CLP_EV_TYPE_MAX = CLP_EV_ITEMS,
};

/* Every request: libqb header, then the cookie. */
struct clp_req_base {
	struct qb_ipc_request_header hdr;
	uint64_t cookie;
};

struct clp_req_hello {
	struct clp_req_base b;
	uint32_t version;        /* CLP_VERSION */
};

struct clp_req_acquire {
	struct clp_req_base b;
	uint8_t mode;            /* COROLEASE_EX / COROLEASE_SH */
	uint8_t flags;           /* COROLEASE_WAIT */
	uint16_t namelen;        /* 1..COROLEASE_NAME_MAX */
	uint32_t timeout_ms;     /* WAIT bound, 0 = none */
};

struct clp_req_name {
	struct clp_req_base b;
	uint16_t namelen;        /* 1..NAME_MAX (0 allowed for WATCH/LIST) */
	uint8_t flags;           /* RELEASE: CLP_RELEASE_QUIET; 0 for every other type */
};

/*
 * RELEASE: send no RESULT.  The library's corolease_release() waits for no
 * answer, so the daemon need not write one and the client need not read it
 * (older daemons ignore the flag and answer anyway; the answer is dropped).
 */
#define CLP_RELEASE_QUIET 0x01u

struct clp_req_index {
	struct clp_req_base b;
	uint16_t namelen;
	uint8_t keylen;          /* 1..255 */
	uint8_t flags;           /* INDEX_GET: CLP_GET_SYNC = barrier first */
	uint32_t vallen;         /* INDEX_PUT only, 0..COROLEASE_VALUE_MAX */
};

#define CLP_GET_SYNC 0x01u

struct clp_req_node {
	struct clp_req_base b;
	uint32_t node;
	uint8_t flags;           /* FENCE_ACK: COROLEASE_FENCE_FORCE */
	uint8_t pad[3];
};

/* Every event: libqb response header (error unused, 0), then the cookie (0 if unsolicited). */
struct clp_ev_base {
	struct qb_ipc_response_header hdr;
	uint64_t cookie;
};

/*
 * Answer to any request (a RELEASE with CLP_RELEASE_QUIET gets none).  err:
 * 0 or negative code.  Payload by request:
 *   HELLO: clp_hello_payload;  OWNER: u32 node;  STATUS: clp_status_rec records;
 *   SHOW: clp_show + holders + waiters + keys (see below);
 *   INDEX_GET: u64 version (the key's, when last written) + value bytes;
 *   INDEX_PUT/DEL: u64 version (the name's after the write);
 *   EVICT/FENCE_ACK: u64 count;  LIST/INDEX_LIST: u64 items sent;
 *   ACQUIRE: only on failure (the grant is a GRANTED event): u32 owner node
 *            (0 if unknown), so -EBUSY can name the holder.
 */
struct clp_ev_result {
	struct clp_ev_base b;
	int32_t err;
	uint32_t req_type;       /* the clp_req_type answered */
};

struct clp_hello_payload {
	uint32_t version;
	uint32_t nodeid;
	uint64_t incarnation;    /* the page's (never 0) */
	uint32_t nslots;         /* revocation slots in the page */
	uint32_t pad;
	char shm_path[128];      /* validity page to mmap read-only, NUL-terminated */
};

/*
 * ---- The validity page ----
 *
 * What corolease_lease_valid() reads without a round trip.  One file per
 * daemon incarnation, RUN_DIR/CLP_SHM_PREFIX + 16 hex digits of a random
 * 64-bit incarnation id, created with O_CREAT|O_EXCL|O_NOFOLLOW (never an
 * existing file, never through a symlink), mode 0644, owned by the daemon's
 * user, in a run dir that the daemon checks is not writable by group or
 * others.  At startup the daemon retires every page file a previous
 * incarnation left there (stores magic 0 and valid_until 0 in it, then
 * unlinks it); a client of the dead daemon keeps its old mapping, which
 * nobody writes again.  At a clean stop it retires its own page the same way.
 *
 * Layout: a clp_shm_page header at offset 0, then, at CLP_SHM_SLOTS_OFF,
 * nslots 64-bit revocation slots.  The file is clp_shm_len(nslots) bytes
 * and sparse: nslots is max_client_holds (default 262144, 2 MiB), and only
 * slots in use take memory.
 *
 * A slot word is generation << 1 | CLP_SLOT_VALID.  The daemon gives each
 * client hold a slot when it accepts the acquire (-EDQUOT when none is
 * free), sets the valid bit just before it sends GRANTED, which carries the
 * slot index and the word (clp_ev_lease.slot, .slot_word), and clears the
 * bit the moment the node agent reports the hold REVOKED (eviction, handover
 * timeout, reconciliation, quorum, validity or transport lost, drain).  When
 * the hold ends (release, denial, the client gone) the slot is freed with
 * the next generation, bit clear, so a stale handle never finds its word in
 * a reused slot.  Stores are release stores; readers use acquire loads.
 *
 * The library's corolease_lease_valid(lease) is 1 only while all hold:
 * the lease was granted and no REVOKED was processed; the connection is not
 * known dead; the page's magic, version, incarnation and node id are those
 * of the HELLO; clp_now_us() < valid_until; the slot's word equals the one
 * GRANTED carried; and poll(2) of the connection's fd (no events asked)
 * reports no POLLHUP/POLLERR/POLLNVAL, so a daemon that crashed (its socket
 * closed by the kernel) reads as invalid from the crash on, before anything
 * is retired or dispatched.
 *
 * revoke_us is the daemon's revoke_timeout: the other nodes never take a
 * lease of this node before valid_until + revoke_us (fence_delay_ms is at
 * least validity_ms + revoke_timeout_ms, counted from a departure the rest
 * sees after this node's last confirmed message), so a holder that cannot
 * stop at once (corolease acquire's command) has that long after the lapse
 * to be stopped; corolease_lease_stop_deadline() returns it.  The daemon
 * stores it once, before it serves any client; 0 (not stated) leaves no
 * time after the lapse.
 *
 * Before mapping the page the library checks whom it talks to: the daemon's
 * uid (libqb's qb_ipcc_auth_get(), and SO_PEERCRED of the fd) is root or the
 * client's own; the page's directory and the page itself (opened with
 * O_NOFOLLOW, a regular file of exactly clp_shm_len(nslots) bytes) are owned
 * by root or that uid and not writable by group or others.  Otherwise
 * corolease_connect() fails with COROLEASE_EUNTRUSTED.
 */
struct clp_shm_page {
	uint32_t magic;          /* CLP_SHM_MAGIC while the incarnation serves; 0 once retired */
	uint32_t version;        /* CLP_VERSION */
	uint64_t incarnation;    /* random, never 0; also in the file name and the HELLO */
	uint64_t valid_until;    /* node-wide deadline (clp_now_us()); 0 = nothing valid yet, or
				    retired; once every hold is revoked, the time the node
				    lapsed (or its revoke, if before the deadline) */
	uint32_t nodeid;
	uint32_t daemon_pid;
	uint32_t daemon_uid;
	uint32_t nslots;         /* slots at CLP_SHM_SLOTS_OFF */
	uint64_t revoke_us;      /* revoke_timeout_ms in microseconds; 0 = not stated */
} __attribute__((aligned(64)));

#define CLP_SHM_MAGIC      0x434c5033u        /* "CLP3" */
#define CLP_SHM_PREFIX     "validity."        /* + 16 lowercase hex digits */
#define CLP_SHM_SLOTS_OFF  4096u              /* the slots' offset in the file */
#define CLP_SHM_SLOTS_MAX  (1u << 24)         /* bound on nslots (128 MiB of slots) */
#define CLP_SLOT_VALID     1u                 /* bit 0 of a slot word */
#define CLP_SLOT_NONE      UINT32_MAX         /* GRANTED without a slot: never valid */

/* Bytes of a page file with nslots slots. */
static inline size_t clp_shm_len(uint32_t nslots)
{
	return CLP_SHM_SLOTS_OFF + (size_t)nslots * sizeof(uint64_t);
}

/*
 * The protocol's clock (see "Clock" above): CLOCK_BOOTTIME in microseconds,
 * or CLOCK_MONOTONIC where the kernel lacks CLOCK_BOOTTIME.  The daemon's
 * cld_now_us() and the library's now_us() are this; clp_clock_id() names
 * the clock, for a timer set in it (the daemon's timerfds).
 */
static inline clockid_t clp_clock_id(void)
{
#ifdef CLOCK_BOOTTIME
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		return CLOCK_BOOTTIME;
#endif
	return CLOCK_MONOTONIC;
}

static inline uint64_t clp_now_us(void)
{
	struct timespec ts;
#ifdef CLOCK_BOOTTIME
	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
#endif
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct clp_ev_lease {
	struct clp_ev_base b;
	int32_t err;             /* DENIED rides on RESULT; here 0 or REVOKED reason */
	uint32_t node;           /* GRANTED: this node; QUEUED/WANTED: the other node */
	uint64_t epoch;
	uint64_t valid_until;    /* GRANTED: node validity at grant (informational) */
	uint64_t deadline;       /* REVOKED: release by (clp_now_us()) */
	uint64_t slot_word;      /* GRANTED: the slot's word while the hold is valid */
	uint32_t slot;           /* GRANTED: the hold's revocation slot, or CLP_SLOT_NONE */
	uint8_t mode;
	uint8_t pad;
	uint16_t namelen;
};

struct clp_ev_index {
	struct clp_ev_base b;
	uint64_t version;
	uint32_t writer;         /* node that wrote */
	uint8_t deleted;
	uint8_t keylen;
	uint16_t namelen;
};

/*
 * A batch of list output: count records, each either
 *   LIST:       clp_item_lease + name
 *   INDEX_LIST: clp_item_key + key + value
 */
struct clp_ev_items {
	struct clp_ev_base b;
	uint32_t count;
	uint32_t pad;
};

struct clp_item_lease {
	uint32_t owner;          /* first live holder, else first orphan, else 0 */
	uint8_t mode;
	uint8_t orphaned;        /* the shown owner is orphaned */
	uint16_t namelen;
	uint32_t nholders;
	uint32_t nwaiters;
	uint64_t epoch;          /* owner's epoch */
	uint64_t version;        /* index version */
	uint32_t nkeys;
};

struct clp_item_key {
	uint8_t keylen;
	uint8_t pad[3];
	uint32_t vallen;
	uint64_t version;
};

/*
 * STATUS payload: a sequence of records, each a clp_status_rec followed by
 * keylen key bytes (no NUL), nothing after the last.  A key is 1 to
 * COROLEASE_STATUS_KEY_MAX bytes of [a-z0-9_] words joined by '.', type an
 * enum corolease_status_type.  The daemon makes them from one field list
 * (lockd/status.c); a client skips records of a type it does not know.
 */
struct clp_status_rec {
	uint64_t value;
	uint8_t type;
	uint8_t keylen;
	uint8_t pad[6];
};

/* SHOW payload: clp_show, then nholders x clp_show_holder, nwaiters x clp_show_waiter,
 * then nkeys x (clp_item_key + key) (values omitted; INDEX_LIST has them). */
struct clp_show {
	uint16_t namelen;        /* echo */
	uint8_t mode;
	uint8_t pad;
	uint32_t nholders, nwaiters, nkeys;
	uint64_t version;
};

struct clp_show_holder {
	uint32_t node;
	uint8_t mode;
	uint8_t pad[3];
	uint64_t epoch;
	uint64_t orphan_seq;
};

struct clp_show_waiter {
	uint32_t node;
	uint8_t mode;
	uint8_t pad[3];
};

#endif /* COROLEASE_PRIVATE_IPC_H */
