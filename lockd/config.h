/*
 * config.h - coroleased configuration: defaults, the key = value file and
 * -o overrides.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CONFIG_H
#define COROLEASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLD_DEFAULT_CONFIG   "/etc/corolease/corolease.conf"
#define CLD_DEFAULT_RUN_DIR  "/run/corolease"
#define CLD_DEFAULT_GROUP    "corolease"
#define CLD_DEFAULT_SOCKET_GROUP "corolease"

enum cld_log_target { CLD_LOG_SYSLOG = 0, CLD_LOG_STDERR = 1 };

struct cld_config {
	char group_name[128];         /* CPG group */
	char socket_group[64];        /* may connect; "" = root (and our uid) only */
	char admin_group[64];         /* may evict / fence-ack */
	bool socket_group_set;        /* given explicitly: must exist */
	bool admin_group_set;
	/* milliseconds; 0 = derived default (see coroleased(8)) */
	uint64_t linger_ms, handover_timeout_ms, revoke_timeout_ms;
	uint64_t validity_ms, fence_delay_ms, heartbeat_ms;
	bool kill_on_revoke;
	uint64_t index_mem_max;       /* bytes; 0 = 64 MiB */
	uint64_t max_leases_per_client;
	uint64_t max_pending_per_client;
	enum cld_log_target log_target;
	bool debug;
	char run_dir[256];
};

/* Fills cfg with the built-in defaults. */
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

/* Parses "key=value" (an -o argument).  Returns 0 or -1 with err. */
int cld_config_override(struct cld_config *cfg, const char *kv, char *err, size_t errlen);

#endif /* COROLEASE_CONFIG_H */
