/*
 * logf.h - formatting for the log callbacks the glue hands the core and
 * its helpers: void log(void *ctx, int level, const char *msg), level a
 * syslog priority.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_LOGF_H
#define COROLEASE_LOGF_H

#include <stdarg.h>
#include <stdio.h>

typedef void cl_log_fn(void *ctx, int level, const char *msg);

/* Formats fmt with ap (cut at 511 bytes) and passes it to log; nothing if log is NULL. */
static inline void cl_vlogf(cl_log_fn *log, void *ctx, int level, const char *fmt, va_list ap)
{
	if (!log)
		return;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log(ctx, level, buf);
}

#endif /* COROLEASE_LOGF_H */
