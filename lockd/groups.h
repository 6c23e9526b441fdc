/*
 * groups.h - parsing the Groups: line of /proc/PID/status (groups.c).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_GROUPS_H
#define COROLEASE_GROUPS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Parses the text after "Groups:" (space- or tab-separated decimal gids up
 * to a newline or the end): 0 with *g_r (malloc'd, NULL when none) and
 * *n_r, or -EINVAL for anything else (a sign, a letter, a number above
 * UINT32_MAX) and -ENOMEM.
 */
int cld_parse_groups(const char *p, gid_t **g_r, size_t *n_r);

#endif /* COROLEASE_GROUPS_H */
