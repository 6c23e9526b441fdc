/*
 * config.c - coroleased configuration: one table of keys, the file parser,
 * and the effective configuration.  Contract: config.h; keys and defaults:
 * corolease.conf(5).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "corolease/ipc.h"

enum key_type {
	K_STRING,                     /* printable text of min..max bytes */
	K_PATH,                       /* a K_STRING that starts with '/' */
	K_COUNT,                      /* decimal min..max */
	K_MS,                         /* milliseconds min..max; also a node timing */
	K_SIZE,                       /* bytes min..max, with an optional K/M/G (1024-based) */
	K_BOOL,                       /* yes/no, true/false, on/off, 1/0 */
	K_LOG_TARGET,                 /* syslog or stderr */
};

#define NO_FIELD SIZE_MAX

struct key {
	const char *name;
	enum key_type type;
	size_t off;                   /* the field in struct cld_config */
	size_t cap;                   /* K_STRING, K_PATH: sizeof the field */
	size_t given_off;             /* a bool in struct cld_config set when given, or NO_FIELD */
	size_t node_off;              /* K_MS: its uint64_t microseconds in struct cl_node_config */
	uint64_t min, max;            /* numbers: the value; strings: the length */
	bool zero_ok;                 /* numbers: 0 is allowed too (off) */
	const char *def;              /* the default as text; NULL: 0, which the core fills in */
	/* optional, K_SIZE and K_COUNT: the value in effect for v (0: the default) */
	uint64_t (*effective)(const struct cld_config *cfg, uint64_t v);
	const char *want;             /* what a bad value is told it should be */
};

/* 1 hour bounds every timeout: far above any sane value, far below overflow. */
#define MS_MAX 3600000ull

#define FIELD(f) .off = offsetof(struct cld_config, f), .cap = sizeof(((struct cld_config *)0)->f)
#define NOT_GIVEN .given_off = NO_FIELD
#define GIVEN(f) .given_off = offsetof(struct cld_config, f)
#define TIMING(f, node_f)                                                    \
	.type = K_MS, FIELD(f), NOT_GIVEN,                                   \
	.node_off = offsetof(struct cl_node_config, node_f), .min = 1, .max = MS_MAX, \
	.want = "milliseconds, 1..3600000"

static uint64_t effective_index_mem_max(const struct cld_config *cfg, uint64_t v);
static uint64_t effective_per_uid(const struct cld_config *cfg, uint64_t v);
static uint64_t effective_snapshot_max(const struct cld_config *cfg, uint64_t v);
static uint64_t effective_holds_per_uid(const struct cld_config *cfg, uint64_t v);

static const struct key keys[] = {
	{ .name = "group_name", .type = K_STRING, FIELD(group_name), NOT_GIVEN, .min = 1, .max = 127,
	  .def = CLD_DEFAULT_GROUP, .want = "1..127 printable characters" },
	{ .name = "socket_group", .type = K_STRING, FIELD(socket_group), GIVEN(socket_group_set),
	  .min = 0, .max = 63, .def = CLD_DEFAULT_SOCKET_GROUP,
	  .want = "a group name (empty: root only)" },
	{ .name = "admin_group", .type = K_STRING, FIELD(admin_group), GIVEN(admin_group_set),
	  .min = 0, .max = 63, .def = CLD_DEFAULT_ADMIN_GROUP,
	  .want = "a group name (empty: root only)" },
	{ .name = "linger_ms", TIMING(linger_ms, linger_us) },
	{ .name = "handover_timeout_ms", TIMING(handover_timeout_ms, handover_timeout_us) },
	{ .name = "revoke_timeout_ms", TIMING(revoke_timeout_ms, revoke_timeout_us) },
	{ .name = "validity_ms", TIMING(validity_ms, validity_us) },
	{ .name = "fence_delay_ms", TIMING(fence_delay_ms, fence_delay_us) },
	{ .name = "heartbeat_ms", TIMING(heartbeat_ms, heartbeat_us) },
	{ .name = "kill_on_revoke", .type = K_BOOL, FIELD(kill_on_revoke), NOT_GIVEN, .def = "no",
	  .want = "yes or no" },
	{ .name = "index_mem_max", .type = K_SIZE, FIELD(index_mem_max), NOT_GIVEN, .min = 1024,
	  .max = 64ull << 30, .effective = effective_index_mem_max,
	  .want = "bytes, optionally with K, M or G (1 K .. 64 G)" },
	{ .name = "index_bytes_per_uid", .type = K_SIZE, FIELD(index_bytes_per_uid),
	  GIVEN(index_bytes_per_uid_set), .min = 1024, .max = 64ull << 30, .zero_ok = true,
	  .effective = effective_per_uid,
	  .want = "0 (off), or bytes, optionally with K, M or G (1 K .. 64 G)" },
	{ .name = "max_leases", .type = K_COUNT, FIELD(max_leases), NOT_GIVEN,
	  .min = 1, .max = 100000000, .def = "4000000", .want = "1..100000000" },
	{ .name = "max_leases_per_client", .type = K_COUNT, FIELD(max_leases_per_client), NOT_GIVEN,
	  .min = 1, .max = 10000000, .def = "10000", .want = "1..10000000" },
	{ .name = "max_pending_per_client", .type = K_COUNT, FIELD(max_pending_per_client), NOT_GIVEN,
	  .min = 1, .max = 1000000, .def = "1000", .want = "1..1000000" },
	{ .name = "max_client_holds", .type = K_COUNT, FIELD(max_client_holds), NOT_GIVEN,
	  .min = 1, .max = CLP_SHM_SLOTS_MAX, .def = "262144", .want = "1..16777216" },
	{ .name = "max_client_holds_per_uid", .type = K_COUNT, FIELD(max_client_holds_per_uid),
	  GIVEN(max_client_holds_per_uid_set), .min = 1, .max = CLP_SHM_SLOTS_MAX,
	  .effective = effective_holds_per_uid, .want = "1..16777216" },
	{ .name = "max_watches_per_client", .type = K_COUNT, FIELD(max_watches_per_client), NOT_GIVEN,
	  .min = 1, .max = 1000000, .def = "1000", .want = "1..1000000" },
	{ .name = "max_watches_per_uid", .type = K_COUNT, FIELD(max_watches_per_uid), NOT_GIVEN,
	  .min = 1, .max = 100000000, .def = "10000", .want = "1..100000000" },
	{ .name = "max_lists_per_uid", .type = K_COUNT, FIELD(max_lists_per_uid), NOT_GIVEN,
	  .min = 1, .max = 1024, .def = "4", .want = "1..1024" },
	{ .name = "max_connections", .type = K_COUNT, FIELD(max_connections), NOT_GIVEN,
	  .min = 1, .max = 100000, .def = "1024", .want = "1..100000" },
	{ .name = "max_connections_per_uid", .type = K_COUNT, FIELD(max_connections_per_uid),
	  NOT_GIVEN, .min = 1, .max = 100000, .def = "512", .want = "1..100000" },
	{ .name = "max_queued_bytes_per_uid", .type = K_SIZE, FIELD(max_queued_bytes_per_uid),
	  NOT_GIVEN, .min = 1ull << 20, .max = 1ull << 40, .def = "64M",
	  .want = "bytes, optionally with K, M or G (1 M .. 1024 G)" },
	{ .name = "max_backlog_bytes", .type = K_SIZE, FIELD(max_backlog_bytes),
	  NOT_GIVEN, .min = 1ull << 20, .max = 1ull << 40, .def = "16M",
	  .want = "bytes, optionally with K, M or G (1 M .. 1024 G)" },
	{ .name = "handshake_timeout_ms", .type = K_COUNT, FIELD(handshake_timeout_ms), NOT_GIVEN,
	  .min = 10, .max = 60000, .def = "2000", .want = "10..60000" },
	{ .name = "max_handshakes", .type = K_COUNT, FIELD(max_handshakes), NOT_GIVEN,
	  .min = 1, .max = 100000, .def = "64", .want = "1..100000" },
	{ .name = "max_handshakes_per_uid", .type = K_COUNT, FIELD(max_handshakes_per_uid),
	  NOT_GIVEN, .min = 1, .max = 100000, .def = "8", .want = "1..100000" },
	{ .name = "max_snapshot_bytes", .type = K_SIZE, FIELD(max_snapshot_bytes), NOT_GIVEN,
	  .min = 1ull << 20, .max = 1ull << 40, .effective = effective_snapshot_max,
	  .want = "bytes, optionally with K, M or G (1 M .. 1024 G)" },
	{ .name = "log_target", .type = K_LOG_TARGET, FIELD(log_target), NOT_GIVEN, .def = "syslog",
	  .want = "syslog or stderr" },
	{ .name = "debug", .type = K_BOOL, FIELD(debug), NOT_GIVEN, .def = "no", .want = "yes or no" },
	{ .name = "realtime_priority", .type = K_COUNT, FIELD(realtime_priority), NOT_GIVEN,
	  .min = 0, .max = 98, .def = "50", .want = "0 (off) .. 98" },
	{ .name = "lock_memory", .type = K_BOOL, FIELD(lock_memory), NOT_GIVEN, .def = "yes",
	  .want = "yes or no" },
	{ .name = "run_dir", .type = K_PATH, FIELD(run_dir), NOT_GIVEN, .min = 1, .max = 80,
	  .def = CLD_DEFAULT_RUN_DIR, .want = "an absolute path of at most 80 characters (a socket path)" },
	{ .name = "batch_inflight", .type = K_COUNT, FIELD(batch_inflight), NOT_GIVEN,
	  .min = 0, .max = 64, .def = "2", .want = "0 (never hold a batch) .. 64" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const log_targets[] = { [CLD_LOG_SYSLOG] = "syslog", [CLD_LOG_STDERR] = "stderr" };

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static void *field(struct cld_config *cfg, size_t off)
{
	return (char *)cfg + off;
}

static const void *cfield(const struct cld_config *cfg, size_t off)
{
	return (const char *)cfg + off;
}

/* ---- values ---- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Unsigned decimal with an optional K/M/G (1024-based) suffix when sized. */
static int parse_u64(const char *v, bool sized, uint64_t max, uint64_t *out)
{
	if (!*v || *v == '-' || *v == '+')
		return -1;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v)
		return -1;
	uint64_t mul = 1;
	if (sized && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mul = 1ull << 10; break;
		case 'M': mul = 1ull << 20; break;
		case 'G': mul = 1ull << 30; break;
		default: return -1;
		}
		end++;
		if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
			return -1;
	}
	if (*end)
		return -1;
	if (x > max / mul)
		return -1;
	*out = x * mul;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_string(const struct key *k, const char *v, char *dst)
{
	size_t n = strlen(v);
	if (n < k->min || n > k->max || n >= k->cap || (k->type == K_PATH && v[0] != '/'))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)v[i]))
			return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* Sets k's field from v.  0, or -1 (the field may be left changed). */
static int parse_value(struct cld_config *cfg, const struct key *k, const char *v)
{
	void *p = field(cfg, k->off);
	uint64_t x;
	switch (k->type) {
	case K_STRING:
	case K_PATH:
		return parse_string(k, v, p);
	case K_COUNT:
	case K_MS:
	case K_SIZE:
		if (parse_u64(v, k->type == K_SIZE, k->max, &x) < 0 ||
		    (x < k->min && !(x == 0 && k->zero_ok)))
			return -1;
		*(uint64_t *)p = x;
		return 0;
	case K_BOOL:
		return parse_bool(v, p);
	case K_LOG_TARGET:
		for (size_t i = 0; i < sizeof(log_targets) / sizeof(log_targets[0]); i++) {
			if (!strcmp(v, log_targets[i])) {
				*(enum cld_log_target *)p = (enum cld_log_target)i;
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

void cld_config_defaults(struct cld_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def && parse_value(cfg, &keys[i], keys[i].def) < 0)
			abort();   /* the table contradicts itself */
	}
}

int cld_config_set(struct cld_config *cfg, const char *key, const char *v,
		   char *err, size_t errlen)
{
	const struct key *k = key_find(key);
	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (k->given_off != NO_FIELD)
		*(bool *)field(cfg, k->given_off) = true;
	if (parse_value(cfg, k, v) < 0) {
		snprintf(err, errlen, "bad value '%s' for %s: expected %s", v, key, k->want);
		return -1;
	}
	return 0;
}

/* ---- the file and -o ---- */

int cld_config_load(struct cld_config *cfg, const char *path, bool must_exist,
		    char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = cld_config_read(cfg, f, path, err, errlen);
	fclose(f);
	return rc;
}

int cld_config_read(struct cld_config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[1024], msg[512];
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n' && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (cld_config_set(cfg, key, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	return rc;
}

int cld_config_override(struct cld_config *cfg, const char *kv, char *err, size_t errlen)
{
	char buf[512], msg[400];
	if (strlen(kv) >= sizeof(buf)) {
		snprintf(err, errlen, "-o %.40s...: too long", kv);
		return -1;
	}
	strcpy(buf, kv);
	char *eq = strchr(buf, '=');
	if (!eq) {
		snprintf(err, errlen, "-o %s: expected key=value", kv);
		return -1;
	}
	*eq = '\0';
	if (cld_config_set(cfg, trim(buf), trim(eq + 1), msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "-o %s: %s", kv, msg);
		return -1;
	}
	return 0;
}

/* ---- the node configuration and the checks ---- */

static uint64_t timing_of(const struct cl_node_config *nc, const struct key *k)
{
	uint64_t v;
	memcpy(&v, (const char *)nc + k->node_off, sizeof(v));
	return v;
}

static void timing_set(struct cl_node_config *nc, const struct key *k, uint64_t v)
{
	memcpy((char *)nc + k->node_off, &v, sizeof(v));
}

int cld_config_node(const struct cld_config *cfg, uint32_t nodeid, uint64_t token_ms,
		    struct cl_node_config *nc, char *err, size_t errlen)
{
	memset(nc, 0, sizeof(*nc));
	nc->nodeid = nodeid;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == K_MS)
			timing_set(nc, &keys[i], *(const uint64_t *)cfield(cfg, keys[i].off) * 1000);
	if (!nc->validity_us)
		nc->validity_us = token_ms * 1000;
	nc->kill_on_revoke = cfg->kill_on_revoke;
	nc->sm.index_mem_max = cfg->index_mem_max;
	nc->sm.index_bytes_per_uid = effective_per_uid(cfg, cfg->index_bytes_per_uid);
	nc->snapshot_max = effective_snapshot_max(cfg, cfg->max_snapshot_bytes);
	int rc = cl_node_config_finish(nc, err, errlen);
	if (rc == 0 && token_ms && cfg->validity_ms > token_ms) {
		/* doc/state-machine.md, "The validity anchor" */
		if (err)
			snprintf(err, errlen, "validity_ms (%" PRIu64 ") exceeds corosync's token timeout "
				 "(%" PRIu64 " ms, runtime.config.totem.token): the rest of the cluster may "
				 "form a new ring one token timeout after it last saw this node, and this "
				 "node's clients must have stopped using their leases by then; lower "
				 "validity_ms, or leave it unset to follow the token timeout",
				 cfg->validity_ms, token_ms);
		rc = -EINVAL;
	}
	return rc;
}

int cld_config_check(const struct cld_config *cfg, char *err, size_t errlen)
{
	/* timings fixed in the file are checked now; token-derived ones once corosync answers */
	if (cfg->validity_ms) {
		struct cl_node_config nc;
		if (cld_config_node(cfg, 1, 0, &nc, err, errlen) < 0)
			return -1;
	}
	/* a snapshot carries the whole index: one that cannot would never load */
	uint64_t snap = effective_snapshot_max(cfg, cfg->max_snapshot_bytes);
	uint64_t index = effective_index_mem_max(cfg, cfg->index_mem_max);
	if (snap < index) {
		snprintf(err, errlen, "max_snapshot_bytes (%" PRIu64 ") must be at least index_mem_max "
			 "(%" PRIu64 "): a snapshot carries the whole index", snap, index);
		return -1;
	}
	const char *groups[2] = { cfg->socket_group_set ? cfg->socket_group : "",
				  cfg->admin_group_set ? cfg->admin_group : "" };
	for (int i = 0; i < 2; i++) {
		if (groups[i][0] && !getgrnam(groups[i])) {
			snprintf(err, errlen, "%s '%s' does not exist", i ? "admin_group" : "socket_group",
				 groups[i]);
			return -1;
		}
	}
	return 0;
}

/* ---- the effective configuration ---- */

/* The index memory bound the core applies for index_mem_max (0: its default). */
static uint64_t effective_index_mem_max(const struct cld_config *cfg, uint64_t index_mem_max)
{
	(void)cfg;
	struct cl_sm_config smc = { .index_mem_max = index_mem_max };
	struct cl_sm *sm = cl_sm_new(&smc, NULL, NULL);
	if (!sm)
		return index_mem_max;   /* out of memory: say what was given */
	struct cl_sm_stats st;
	cl_sm_stats(sm, &st);
	cl_sm_free(sm);
	return st.index_mem_max;
}

/*
 * The per-uid index quota for index_bytes_per_uid: the value given, else
 * half the bound, but never below the key's least value (1 K), so that what
 * coroleased -t prints loads again (tests/fuzz/fuzz_config found
 * index_mem_max = 1K printing index_bytes_per_uid = 512, which the parser
 * refuses).
 */
static uint64_t effective_per_uid(const struct cld_config *cfg, uint64_t index_bytes_per_uid)
{
	if (cfg->index_bytes_per_uid_set)
		return index_bytes_per_uid;
	uint64_t half = effective_index_mem_max(cfg, cfg->index_mem_max) / 2;
	return half < 1024 ? 1024 : half;
}

/*
 * The snapshot bound for max_snapshot_bytes: the value given, else the
 * core's default (CL_SNAPSHOT_MAX_DEFAULT), or twice index_mem_max when that
 * is larger, as a snapshot carries the whole index.
 */
static uint64_t effective_snapshot_max(const struct cld_config *cfg, uint64_t max_snapshot_bytes)
{
	if (max_snapshot_bytes)
		return max_snapshot_bytes;
	struct cl_node_config nc = { .snapshot_max = 0 };
	cl_node_config_finish(&nc, NULL, 0);
	uint64_t twice = 2 * effective_index_mem_max(cfg, cfg->index_mem_max);
	return twice > nc.snapshot_max ? twice : nc.snapshot_max;
}

/* The per-uid share of the client hold slots: the value given, else a quarter (at least 1). */
static uint64_t effective_holds_per_uid(const struct cld_config *cfg, uint64_t v)
{
	if (cfg->max_client_holds_per_uid_set)
		return v;
	return cfg->max_client_holds / 4 ? cfg->max_client_holds / 4 : 1;
}

uint64_t cld_config_holds_per_uid(const struct cld_config *cfg)
{
	return effective_holds_per_uid(cfg, cfg->max_client_holds_per_uid);
}

static void print_size(FILE *f, uint64_t v)
{
	static const char suffix[] = "GMK";
	for (int i = 0; i < 3; i++) {
		uint64_t unit = 1ull << (10 * (3 - i));
		if (v && v % unit == 0) {
			fprintf(f, "%" PRIu64 "%c", v / unit, suffix[i]);
			return;
		}
	}
	fprintf(f, "%" PRIu64, v);
}

/*
 * Probes: the node configuration for two token timeouts.  A timing that
 * differs between them follows the token (validity_ms unset).
 */
#define PROBE_TOKEN_A 1000u
#define PROBE_TOKEN_B 3000u

static void print_timing(FILE *f, const struct key *k, const struct cl_node_config *a,
			 const struct cl_node_config *b)
{
	uint64_t va = timing_of(a, k), vb = timing_of(b, k);
	/*
	 * Whole milliseconds, rounded up: a default derived in microseconds
	 * (heartbeat: validity / 4) printed as 0 for validity_ms = 2, which no
	 * file may say (found by tests/fuzz/fuzz_config).
	 */
	if (va == vb)
		fprintf(f, "%" PRIu64, (va + 999) / 1000);
	else if (va == PROBE_TOKEN_A * 1000ull && vb == PROBE_TOKEN_B * 1000ull)
		fputs("<token timeout>", f);
	else
		fputs("<derived from the token timeout>", f);
}

void cld_config_print(const struct cld_config *cfg, FILE *f)
{
	struct cl_node_config a, b;
	/* the values are filled in before the checks, so they are there either way */
	cld_config_node(cfg, 1, PROBE_TOKEN_A, &a, NULL, 0);
	cld_config_node(cfg, 1, PROBE_TOKEN_B, &b, NULL, 0);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *p = cfield(cfg, k->off);
		fprintf(f, "%s =", k->name);
		if (k->type != K_STRING && k->type != K_PATH)
			fputc(' ', f);
		switch (k->type) {
		case K_STRING:
		case K_PATH:
			if (*(const char *)p)
				fprintf(f, " %s", (const char *)p);
			break;
		case K_COUNT:
			fprintf(f, "%" PRIu64, k->effective ? k->effective(cfg, *(const uint64_t *)p) :
							      *(const uint64_t *)p);
			break;
		case K_MS:
			print_timing(f, k, &a, &b);
			if (k->node_off == offsetof(struct cl_node_config, validity_us) &&
			    cfg->validity_ms)
				fputs("  # at most corosync's token timeout, checked at start-up", f);
			break;
		case K_SIZE:
			print_size(f, k->effective ? k->effective(cfg, *(const uint64_t *)p) :
						     *(const uint64_t *)p);
			break;
		case K_BOOL:
			fputs(*(const bool *)p ? "yes" : "no", f);
			break;
		case K_LOG_TARGET:
			fputs(log_targets[*(const enum cld_log_target *)p], f);
			break;
		}
		fputc('\n', f);
	}
}
