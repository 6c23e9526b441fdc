/*
 * config.h - coroleased configuration: the key = value file, -o overrides,
 * the node configuration built from it, and the effective configuration
 * that coroleased -t prints.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every key is one entry of the table in config.c (name, type, field,
 * bounds, default, expected-value text); corolease.conf(5) and
 * packaging/corolease.conf document each of them (a test checks that).
 * Timing defaults are not here: they are cl_node_config_finish()'s.
 */
#ifndef COROLEASE_CONFIG_H
#define COROLEASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node.h"

#define CLD_DEFAULT_CONFIG   "/etc/corolease/corolease.conf"
#define CLD_DEFAULT_RUN_DIR  "/run/corolease"   /* = CLP_DEFAULT_RUN_DIR, corolease/ipc.h */
#define CLD_DEFAULT_GROUP    "corolease"
#define CLD_DEFAULT_SOCKET_GROUP "corolease"
#define CLD_DEFAULT_ADMIN_GROUP  "corolease-admin"

enum cld_log_target { CLD_LOG_SYSLOG = 0, CLD_LOG_STDERR = 1 };

struct cld_config {
	char group_name[128];         /* CPG group */
	char socket_group[64];        /* may connect; "" = root (and our uid) only */
	char admin_group[64];         /* may evict / fence-ack */
	bool socket_group_set;        /* given explicitly: must exist */
	bool admin_group_set;
	/* milliseconds; 0 = the core's default (cl_node_config_finish) */
	uint64_t linger_ms, handover_timeout_ms, revoke_timeout_ms;
	uint64_t validity_ms, fence_delay_ms, heartbeat_ms;
	bool kill_on_revoke;
	uint64_t index_mem_max;       /* bytes; 0 = the core's default */
	uint64_t index_bytes_per_uid; /* bytes; 0 = off; unset: half the index bound */
	bool index_bytes_per_uid_set;
	uint64_t max_leases_per_client;
	uint64_t max_pending_per_client;
	uint64_t max_client_holds;    /* node-wide: the validity page's shared revocation slots */
	uint64_t max_client_holds_per_uid;  /* of them, one uid's; unset: a quarter */
	bool max_client_holds_per_uid_set;
	uint64_t max_watches_per_client;
	uint64_t max_watches_per_uid; /* named watches of one uid's connections (root's: no limit) */
	uint64_t max_lists_per_uid;   /* LIST / INDEX_LIST under way per uid (root's: no limit) */
	uint64_t max_leases;            /* names in the replicated state a new acquire may add to */
	uint64_t max_connections;     /* in total (root may open CLD_ROOT_RESERVE more) */
	uint64_t max_connections_per_uid;
	uint64_t max_queued_bytes_per_uid;   /* events queued for one uid's clients, all together */
	uint64_t max_backlog_bytes;   /* the node's own messages not delivered back (cl_node_backlog()) */
	/* connections that have not said HELLO yet; root's never count */
	uint64_t handshake_timeout_ms;
	uint64_t max_handshakes;
	uint64_t max_handshakes_per_uid;
	uint64_t max_snapshot_bytes;  /* 0 = the core's default (CL_SNAPSHOT_MAX_DEFAULT) */
	enum cld_log_target log_target;
	bool debug;
	uint64_t realtime_priority;   /* SCHED_RR at this priority; 0: the normal scheduler */
	bool lock_memory;             /* mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) */
	char run_dir[256];
	/* own CPG messages in flight before a batch waits for one back (cpg.h); 0: never */
	uint64_t batch_inflight;
};

/* Fills cfg with the built-in defaults (the table's). */
void cld_config_defaults(struct cld_config *cfg);

/*
 * Sets one key from its text value.  Returns 0, or -1 with a message in
 * err (unknown key, bad value).
 */
int cld_config_set(struct cld_config *cfg, const char *key, const char *value,
		   char *err, size_t errlen);

/*
 * Reads path.  A missing file is 0 when !must_exist.  Returns 0, or -1 with
 * "path:line: message" in err.
 */
int cld_config_load(struct cld_config *cfg, const char *path, bool must_exist,
		    char *err, size_t errlen);

/*
 * The file's parser: reads f (named path in messages) to its end, as
 * cld_config_load().  0, or -1 with "path:line: message" in err.  f stays
 * open (the caller's).
 */
int cld_config_read(struct cld_config *cfg, FILE *f, const char *path, char *err, size_t errlen);

/* Parses "key=value" (an -o argument).  Returns 0 or -1 with err. */
int cld_config_override(struct cld_config *cfg, const char *kv, char *err, size_t errlen);

/*
 * The node configuration for node nodeid: validity defaults to token_ms
 * (corosync's token timeout) when the file leaves it unset; every other
 * default, and the timing checks, are cl_node_config_finish()'s.  With
 * token_ms known (not 0), a validity_ms above it is refused too
 * (doc/state-machine.md, "The validity anchor").  Returns 0, or -EINVAL with
 * the reason in err (which may be NULL); nc is filled in either way.
 */
int cld_config_node(const struct cld_config *cfg, uint32_t nodeid, uint64_t token_ms,
		    struct cl_node_config *nc, char *err, size_t errlen);

/*
 * The client hold slots one uid may take (max_client_holds_per_uid): the
 * value given, else a quarter of max_client_holds (at least 1).
 */
uint64_t cld_config_holds_per_uid(const struct cld_config *cfg);

/*
 * The checks before start-up that need no corosync: the timings when
 * validity_ms is set (the others are checked once the token timeout is
 * known), that max_snapshot_bytes holds index_mem_max, and that an
 * explicitly configured group exists.  0, or -1 with the reason in err.
 */
int cld_config_check(const struct cld_config *cfg, char *err, size_t errlen);

/*
 * Writes the effective configuration to f, one "key = value" line per key
 * in the table's order: the value given, else the default in effect.  With
 * validity_ms unset, the timings that follow corosync's token timeout print
 * as "<token timeout>" (validity) or "<derived from the token timeout>"; a
 * validity_ms given is followed by a comment stating its bound (the token
 * timeout, checked at start-up).
 */
void cld_config_print(const struct cld_config *cfg, FILE *f);

#endif /* COROLEASE_CONFIG_H */
