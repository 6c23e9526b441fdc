/*
 * naming.c - lease names and settings of the Dovecot plugin (see naming.h).
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#include "naming.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cld_user_lease_name(const char *username, char *buf, size_t bufsize)
{
	size_t n;

	if (username == NULL || username[0] == '\0')
		return -1;
	n = strlen("user/") + strlen(username);
	if (n > CLD_NAME_MAX || n + 1 > bufsize)
		return -1;
	memcpy(buf, "user/", 5);
	memcpy(buf + 5, username, n - 5 + 1);
	return (int)n;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* "<prefix><path>", or "<prefix>#<hash>:<tail>" when too long (naming.h) */
static int cl_path_lease_name(const char *prefix, const char *path, char *buf, size_t bufsize)
{
	size_t n, plen, tail, pre = strlen(prefix);

	if (path == NULL || path[0] == '\0' || bufsize < CLD_NAME_MAX + 1)
		return -1;
	plen = strlen(path);
	n = pre + plen;
	if (n <= CLD_NAME_MAX) {
		memcpy(buf, prefix, pre);
		memcpy(buf + pre, path, plen + 1);
		return (int)n;
	}
	/* prefix + "#" + 16 hex + ":", then the path's tail */
	n = (size_t)snprintf(buf, bufsize, "%s#%016llx:", prefix, (unsigned long long)fnv1a64(path));
	tail = CLD_NAME_MAX - n;
	memcpy(buf + n, path + plen - tail, tail + 1);
	return (int)CLD_NAME_MAX;
}

int cld_mailbox_lease_name(const char *path, char *buf, size_t bufsize)
{
	return cl_path_lease_name("mailbox/", path, buf, bufsize);
}

int cld_store_lease_name(const char *path, char *buf, size_t bufsize)
{
	return cl_path_lease_name("store/", path, buf, bufsize);
}

int cld_path_lexical(const char *path, char *out, size_t outsize)
{
	size_t n = 0, clen;
	const char *p = path, *c;

	if (path == NULL || path[0] != '/' || outsize < 2)
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		c = p;
		while (*p != '\0' && *p != '/')
			p++;
		clen = (size_t)(p - c);
		if (clen == 0 || (clen == 1 && c[0] == '.'))
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the '/' before the removed component */
			continue;
		}
		if (n + 1 + clen + 1 > outsize)
			return -1;
		out[n++] = '/';
		memcpy(out + n, c, clen);
		n += clen;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return (int)n;
}

int cld_path_canonical(const char *path, cld_realpath_fn *resolve, void *ctx,
		       char *out, size_t outsize)
{
	char *lex, *prefix;
	size_t len, cut, rlen;
	int n, ret = -1;

	if (path == NULL || path[0] != '/' || outsize < 2)
		return -1;
	len = strlen(path) + 1;
	lex = malloc(len);
	prefix = malloc(outsize);
	if (lex == NULL || prefix == NULL)
		goto out;
	/* runs of '/' and "." only: ".." may follow a symlink, resolve it */
	{
		const char *p = path;
		size_t m = 0;

		while (*p != '\0') {
			if (*p == '/' && m > 0 && lex[m - 1] == '/') {
				p++;
			} else if (*p == '.' && m > 0 && lex[m - 1] == '/' &&
				   (p[1] == '/' || p[1] == '\0')) {
				p++;
			} else {
				lex[m++] = *p++;
			}
		}
		while (m > 1 && lex[m - 1] == '/')
			m--;
		lex[m] = '\0';
		len = m;
	}
	/* the longest existing prefix, cut at component boundaries */
	for (cut = len;; ) {
		if (cut < outsize) {
			memcpy(prefix, lex, cut);
			prefix[cut] = '\0';
			if (cut == 0)
				strcpy(prefix, "/");
			if (resolve(prefix, out, outsize, ctx) == 0 && out[0] == '/')
				break;
		}
		if (cut == 0)
			goto out; /* not even "/" resolves */
		while (cut > 0 && lex[cut - 1] != '/')
			cut--;
		if (cut > 0)
			cut--;
	}
	/* resolved prefix + the rest, then the rest's ".." lexically */
	rlen = strlen(out);
	if (rlen + (len - cut) + 1 > outsize)
		goto out;
	memcpy(prefix, out, rlen);
	memcpy(prefix + rlen, lex + cut, len - cut + 1);
	n = cld_path_lexical(prefix, out, outsize); /* also "/" + "/rest" */
	ret = n;
out:
	free(lex);
	free(prefix);
	return ret;
}

static int parse_bool(const char *s, int *v_r)
{
	static const char *const yes[] = { "yes", "y", "true", "1" };
	static const char *const no[] = { "no", "n", "false", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = 0;
			return 0;
		}
	}
	return -1;
}

int cld_parse_duration_ms(const char *s, unsigned *ms_r)
{
	static const struct {
		const char *unit;
		unsigned long long mul;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "msec", 1 }, { "msecs", 1 },
		{ "s", 1000 }, { "sec", 1000 }, { "secs", 1000 },
		{ "m", 60000 }, { "min", 60000 }, { "mins", 60000 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > 3600000ull)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			if (v * units[i].mul > 3600000ull)
				return -1;
			*ms_r = (unsigned)(v * units[i].mul);
			return 0;
		}
	}
	return -1;
}

int cld_settings_parse(struct cld_settings *set, cld_getenv_fn *getenv, void *ctx,
		       char *err, size_t errlen)
{
	const struct {
		const char *key;
		int *flag;
		unsigned *ms;
	} keys[] = {
		{ "corolease_user_lease", &set->user_lease, NULL },
		{ "corolease_mailbox_lease", &set->mailbox_lease, NULL },
		{ "corolease_user_wait", NULL, &set->user_wait_ms },
		{ "corolease_mailbox_wait", NULL, &set->mailbox_wait_ms },
	};
	const char *v;
	size_t i;

	set->user_lease = 1;
	set->mailbox_lease = 1;
	set->user_wait_ms = 10000;
	set->mailbox_wait_ms = 5000;
	set->fail_mode = CLD_FAIL_CLOSED;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((v = getenv(keys[i].key, ctx)) == NULL)
			continue;
		if (keys[i].flag != NULL && parse_bool(v, keys[i].flag) < 0) {
			snprintf(err, errlen, "%s: '%s' is not yes or no", keys[i].key, v);
			return -1;
		}
		if (keys[i].ms != NULL && cld_parse_duration_ms(v, keys[i].ms) < 0) {
			snprintf(err, errlen, "%s: '%s' is not a duration (e.g. 500ms, 10s, 1min; at most 1 hour)",
				 keys[i].key, v);
			return -1;
		}
	}
	if ((v = getenv("corolease_fail_mode", ctx)) != NULL) {
		if (strcasecmp(v, "closed") == 0)
			set->fail_mode = CLD_FAIL_CLOSED;
		else if (strcasecmp(v, "open") == 0)
			set->fail_mode = CLD_FAIL_OPEN;
		else {
			snprintf(err, errlen, "corolease_fail_mode: '%s' is neither closed nor open", v);
			return -1;
		}
	}
	return 0;
}

int cld_route_answer(unsigned owner, unsigned self, const char *owner_addr,
		     char *buf, size_t bufsize)
{
	const char *p;
	int n;

	if (owner == 0 || owner == self)
		n = snprintf(buf, bufsize, "{\"noauthenticate\":\"y\"}");
	else {
		if (owner_addr == NULL || owner_addr[0] == '\0')
			return -1;
		for (p = owner_addr; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != ':' && *p != '-')
				return -1;
		}
		n = snprintf(buf, bufsize,
			     "{\"noauthenticate\":\"y\",\"proxy_maybe\":\"y\",\"host\":\"%s\"}",
			     owner_addr);
	}
	return n < 0 || (size_t)n >= bufsize ? -1 : n;
}

int cld_bye_reason(enum cld_stop_cause cause, unsigned node, const char *lease_name,
		   char *buf, size_t bufsize)
{
	char who[32];
	int n;

	if (node != 0)
		snprintf(who, sizeof(who), "cluster node %u", node);
	else
		snprintf(who, sizeof(who), "another cluster node");
	if (cause == CLD_STOP_LOST)
		n = snprintf(buf, bufsize, "[UNAVAILABLE] Cluster lease lost: session ended");
	else if (lease_name != NULL && strncmp(lease_name, "user/", 5) == 0)
		n = snprintf(buf, bufsize, "[UNAVAILABLE] Session moved: %s wants this user", who);
	else if (lease_name != NULL && strncmp(lease_name, "store/", 6) == 0)
		n = snprintf(buf, bufsize,
			     "[UNAVAILABLE] Session ended: %s wants the mail store it uses", who);
	else
		n = snprintf(buf, bufsize, "[UNAVAILABLE] Session ended: %s wants a mailbox open in it",
			     who);
	if (n < 0 || (size_t)n >= bufsize) {
		if (bufsize > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

int cld_wait_yields(unsigned self, unsigned wanter)
{
	return wanter != 0 && wanter < self;
}

int cld_mailbox_is_child(const char *parent, char sep, const char *vname)
{
	size_t plen;

	if (parent == NULL || vname == NULL || sep == '\0')
		return 0;
	plen = strlen(parent);
	return strncmp(vname, parent, plen) == 0 && vname[plen] == sep && vname[plen + 1] != '\0';
}
