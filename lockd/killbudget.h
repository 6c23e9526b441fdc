/*
 * killbudget.h - the /proc reads COROLEASE_KILL tree walks may spend, per uid.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each read of a /proc file costs the daemon's loop some microseconds, so
 * the walks of the trees it kills (lockd/proctree.c) are bounded: a uid
 * may spend `per_uid` reads in a window of `window_us`, charged to the uid
 * of the client killed.  One uid's kills (many clients killed at once,
 * processes of many threads) cannot use up what another uid's kill needs
 * (the breaker's F2: the old budget was one for all clients).  Up to
 * CLD_KILLBUDGET_UIDS uids have a budget of their own at a time; when more
 * have spent reads in their current window, the others share one more
 * (only then can one uid's kills cut another's).  An entry outlives the
 * uid's connections, so reconnecting does not refill it.  Each uid also
 * has a line a second for its warnings, with the count of those left out.
 * Pure bookkeeping: no logging, no I/O (tests/check_killbudget.c).
 */
#ifndef COROLEASE_KILLBUDGET_H
#define COROLEASE_KILLBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLD_KILLBUDGET_UIDS 64u

struct cld_killbudget_ent {
	uint32_t uid;
	bool used_ever;               /* this entry has held a uid */
	uint64_t window_end;          /* its window ends (the caller's clock, us) */
	uint64_t spent;               /* reads in it */
	uint64_t log_at;              /* its next warning line, at the earliest */
	uint64_t unlogged;            /* warnings left out since its last line */
};

struct cld_killbudget {
	uint64_t per_uid, window_us;
	struct cld_killbudget_ent ent[CLD_KILLBUDGET_UIDS];
	struct cld_killbudget_ent shared;   /* the uids beyond ent[] */
};

/* Sets b up: per_uid reads a window of window_us for each uid. */
void cld_killbudget_init(struct cld_killbudget *b, uint64_t per_uid, uint64_t window_us);

/* The reads uid may spend at now, at most want (0: its window's are spent). */
size_t cld_killbudget_avail(struct cld_killbudget *b, uint32_t uid, uint64_t now, size_t want);

/* Charges reads to uid at now (after the walk: what it spent). */
void cld_killbudget_charge(struct cld_killbudget *b, uint32_t uid, uint64_t now, size_t reads);

/* When uid may spend reads again: now if it may, else its window's end. */
uint64_t cld_killbudget_next(struct cld_killbudget *b, uint32_t uid, uint64_t now);

/*
 * Whether a warning about uid's kills may be logged at now (a line each
 * log_us per uid); false counts it as left out.  *unlogged_r: those left
 * out before this one (reset when true).
 */
bool cld_killbudget_log(struct cld_killbudget *b, uint32_t uid, uint64_t now, uint64_t log_us,
			uint64_t *unlogged_r);

#endif
