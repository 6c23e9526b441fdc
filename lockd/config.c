/*
 * config.c - coroleased configuration file parser.  Contract: config.h;
 * keys and defaults: corolease.conf(5).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void cld_config_defaults(struct cld_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->group_name, sizeof(cfg->group_name), "%s", CLD_DEFAULT_GROUP);
	snprintf(cfg->socket_group, sizeof(cfg->socket_group), "%s", CLD_DEFAULT_SOCKET_GROUP);
	snprintf(cfg->admin_group, sizeof(cfg->admin_group), "%s", "corolease-admin");
	snprintf(cfg->run_dir, sizeof(cfg->run_dir), "%s", CLD_DEFAULT_RUN_DIR);
	cfg->max_leases_per_client = 10000;
	cfg->max_pending_per_client = 1000;
	cfg->log_target = CLD_LOG_SYSLOG;
}

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

static int set_str(char *dst, size_t cap, const char *v, bool allow_empty)
{
	size_t n = strlen(v);
	if ((!n && !allow_empty) || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)v[i]))
			return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* 1 hour bounds every timeout: far above any sane value, far below overflow. */
#define MS_MAX 3600000ull

int cld_config_set(struct cld_config *cfg, const char *key, const char *v,
		   char *err, size_t errlen)
{
	int rc = -1;
	const char *want = "a value";
	uint64_t *ms = NULL;

	if (!strcmp(key, "group_name")) {
		want = "1..127 printable characters";
		rc = set_str(cfg->group_name, sizeof(cfg->group_name), v, false);
	} else if (!strcmp(key, "socket_group")) {
		want = "a group name (empty: root only)";
		rc = set_str(cfg->socket_group, sizeof(cfg->socket_group), v, true);
		cfg->socket_group_set = true;
	} else if (!strcmp(key, "admin_group")) {
		want = "a group name (empty: root only)";
		rc = set_str(cfg->admin_group, sizeof(cfg->admin_group), v, true);
		cfg->admin_group_set = true;
	} else if (!strcmp(key, "linger_ms")) {
		ms = &cfg->linger_ms;
	} else if (!strcmp(key, "handover_timeout_ms")) {
		ms = &cfg->handover_timeout_ms;
	} else if (!strcmp(key, "revoke_timeout_ms")) {
		ms = &cfg->revoke_timeout_ms;
	} else if (!strcmp(key, "validity_ms")) {
		ms = &cfg->validity_ms;
	} else if (!strcmp(key, "fence_delay_ms")) {
		ms = &cfg->fence_delay_ms;
	} else if (!strcmp(key, "heartbeat_ms")) {
		ms = &cfg->heartbeat_ms;
	} else if (!strcmp(key, "kill_on_revoke")) {
		want = "yes or no";
		rc = parse_bool(v, &cfg->kill_on_revoke);
	} else if (!strcmp(key, "index_mem_max")) {
		want = "bytes, optionally with K, M or G (1 K .. 64 G)";
		rc = parse_u64(v, true, 64ull << 30, &cfg->index_mem_max);
		if (rc == 0 && cfg->index_mem_max < 1024)
			rc = -1;
	} else if (!strcmp(key, "max_leases_per_client")) {
		want = "1..10000000";
		rc = parse_u64(v, false, 10000000, &cfg->max_leases_per_client);
		if (rc == 0 && !cfg->max_leases_per_client)
			rc = -1;
	} else if (!strcmp(key, "max_pending_per_client")) {
		want = "1..1000000";
		rc = parse_u64(v, false, 1000000, &cfg->max_pending_per_client);
		if (rc == 0 && !cfg->max_pending_per_client)
			rc = -1;
	} else if (!strcmp(key, "log_target")) {
		want = "syslog or stderr";
		rc = 0;
		if (!strcmp(v, "syslog"))
			cfg->log_target = CLD_LOG_SYSLOG;
		else if (!strcmp(v, "stderr"))
			cfg->log_target = CLD_LOG_STDERR;
		else
			rc = -1;
	} else if (!strcmp(key, "debug")) {
		want = "yes or no";
		rc = parse_bool(v, &cfg->debug);
	} else if (!strcmp(key, "run_dir")) {
		want = "an absolute path of at most 100 characters";
		rc = v[0] == '/' && strlen(v) <= 100 ?
			set_str(cfg->run_dir, sizeof(cfg->run_dir), v, false) : -1;
	} else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (ms) {
		want = "milliseconds, 1..3600000";
		rc = parse_u64(v, false, MS_MAX, ms);
		if (rc == 0 && !*ms)
			rc = -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "bad value '%s' for %s: expected %s", v, key, want);
	return rc;
}

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
	fclose(f);
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
