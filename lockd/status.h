/*
 * status.h - the daemon's answer to STATUS: its state as key/value records
 * (struct clp_status_rec, corolease/ipc.h), made from one field list.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_STATUS_H
#define COROLEASE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

/*
 * The parts of a status that walk the whole state (the state hash, each
 * member's live holds) are computed at most once in this many microseconds
 * for callers other than root and the daemon's user: a socket_group member
 * flooding STATUS must not keep the loop walking 50,000 names per request
 * (t85).  Root's are always fresh.
 */
#define CLD_STATUS_CACHE_US 1000000ull

/* Room that always holds the encoded status (members are at most CL_MAX_MEMBERS). */
#define CLD_STATUS_MAX 16384u

/* What the daemon knows beyond its node agent. */
struct cld_status_in {
	struct cl_node *node;         /* NULL until corosync first answered (the state hash is cached in it) */
	uint32_t nodeid;
	bool vq_quorate;              /* the local votequorum view */
	uint32_t realtime_priority;   /* SCHED_RR/FIFO priority of the daemon now, else 0 */
	bool memory_locked;           /* its mlockall() took effect */
	uint32_t ring_rep;            /* the transport's ring, for before the first sync */
	uint64_t ring_seq;
	uint64_t cpg_sent;            /* CPG messages sent (a batch is one) since the daemon started */
	uint64_t cpg_held;            /* batches that waited for an own message back */
	uint64_t clients;             /* connections that said HELLO */
	uint64_t connections;         /* every connection, HELLO or not */
	uint64_t watches;             /* named watches of every connection */
	uint64_t watches_all;         /* connections watching every name */
	uint64_t refused_conns;       /* connections refused: max_connections */
	uint64_t refused_conns_uid;   /* ...: max_connections_per_uid */
	uint64_t refused_watches;     /* watches refused: max_watches_per_client */
	uint64_t refused_watches_uid; /* ...: max_watches_per_uid */
	uint64_t watches_per_uid;     /* the configured max_watches_per_uid */
	uint64_t refused_lists;       /* LIST / INDEX_LIST refused: max_lists_per_uid */
	uint64_t refused_client_leases; /* acquires refused: max_leases_per_client */
	uint64_t refused_pending;     /* requests refused: max_pending_per_client */
	uint64_t low_holdbacks;        /* unprivileged work past its realtime budget */
	uint64_t fds_used, fds_limit;  /* descriptors counted, RLIMIT_NOFILE (ipc_int.h) */
	uint64_t fds_closing;          /* ... of them, waiting for the closing thread */
	bool fds_held;                 /* unprivileged clients wait for descriptors */
	uint64_t fds_holds;            /* times they began to */
	uint64_t passed_fds;           /* disconnected: passed file descriptors */
	uint64_t closes_interrupted;   /* the closing thread's close() calls past CLD_CLOSE_NUDGE_MS */
	uint64_t fds_close_ms;         /* how long its current close() has run, or 0 */
	const struct cl_hist *grant_latency;   /* the IPC service's (NULL: none) */
	uint64_t handshakes;          /* connections without HELLO now (root's not counted) */
	uint64_t handshakes_dropped;  /* ... refused (max_handshakes*) or timed out */
	uint64_t refused_group;       /* connections of users outside socket_group */
	uint64_t refused_queued;      /* disconnected over max_queued_bytes_per_uid */
	uint64_t refused_backlog;     /* requests refused: max_backlog_bytes */
	uint64_t backlog_bytes, backlog_msgs;   /* cl_node_backlog() */
	uint64_t oversized;           /* disconnected for a request over the protocol's size */
	uint64_t refused_leases;      /* acquires of new names refused: max_leases */
	uint64_t refused_index_quota; /* index puts refused: the uid's index_bytes_per_uid */
	uint64_t refused_index_full;  /* ...: index_mem_max (with what they may evict) */
	uint64_t index_mem_max;       /* the configured bound, for before the first sync */
	uint64_t index_bytes_per_uid; /* the configured quota (0: off), likewise */
	uint32_t caller_uid;          /* the uid of the client asking */
	bool fresh;                   /* the caller is root or the daemon's user: no cached part */
	uint64_t caller_holds;        /* the client hold slots of that uid */
	uint64_t caller_watches;      /* the named watches of that uid's connections */
	uint64_t holds_max;           /* client hold slots for everyone (max_client_holds) */
	uint64_t holds_per_uid;       /* ... one uid's share (max_client_holds_per_uid) */
	uint64_t holds_reserve;       /* slots beyond them for root and the daemon's user */
	uint64_t refused_holds;       /* acquires refused: every slot the client may use taken */
	uint64_t refused_holds_uid;   /* ...: its uid's share taken */
	uint64_t now;                 /* the node's clock (cld_now_us()) */
};

/*
 * Encodes the status into buf (cap bytes) as STATUS records.  Returns the
 * length, or -EMSGSIZE when cap is too small (never with CLD_STATUS_MAX).
 * Reads in and the node; changes nothing.
 */
long cld_status_encode(const struct cld_status_in *in, void *buf, size_t cap);

#endif /* COROLEASE_STATUS_H */
