/*
 * groups.c - the supplementary groups line of /proc/PID/status, parsed as
 * whole numbers however long it is.  Contract: ipc_int.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "groups.h"

int cld_parse_groups(const char *p, gid_t **g_r, size_t *n_r)
{
	size_t n = 0, cap = 0;
	gid_t *g = NULL;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		if (*p < '0' || *p > '9')
			goto bad;
		uint64_t v = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > UINT32_MAX)
				goto bad;
		}
		if (*p && *p != ' ' && *p != '\t' && *p != '\n')
			goto bad;
		if (n == cap) {
			gid_t *ng = realloc(g, (cap = cap ? cap * 2 : 64) * sizeof(*g));
			if (!ng)
				goto bad;
			g = ng;
		}
		g[n++] = (gid_t)v;
	}
	*g_r = g;
	*n_r = n;
	return 0;
bad:
	free(g);
	return -EINVAL;
}

