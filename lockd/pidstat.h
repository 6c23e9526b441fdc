/*
 * pidstat.h - a process's state, from /proc/PID/stat.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_PIDSTAT_H
#define COROLEASE_PIDSTAT_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/*
 * The state letter of pid in /proc/PID/stat ('R', 'S', 'Z' for a zombie
 * that exited and is not yet reaped, ...), or 0 when it has no entry or
 * the entry cannot be read.  The state follows the last ')' of
 * "pid (comm) S ...", since comm may hold anything.  A pid number can be
 * reused at any time; this says nothing about which process has it.
 */
static inline char cld_pid_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

#endif /* COROLEASE_PIDSTAT_H */
