/*
 * tfd.h - a timerfd polled by the daemon's libqb loop, for deadlines that
 * must not cost CPU while they wait (main.c's node timer, cpg.c's delayed
 * flush).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Why not a libqb timer: libqb's loop waits for its next timer a whole
 * number of milliseconds, rounded down, then polls without waiting until
 * the timer is due.  Every timer so costs up to 1 ms of busy CPU, and a
 * deadline retried every millisecond (corosync refusing sends) all of it.
 * A timerfd wakes the loop at the time itself.  The clock is that of
 * cld_now_us() (clp_now_us(): CLOCK_BOOTTIME, else CLOCK_MONOTONIC).
 */
#ifndef COROLEASE_TFD_H
#define COROLEASE_TFD_H

#include <stdbool.h>
#include <stdint.h>

#include <qb/qbloop.h>

struct cld_tfd {
	qb_loop_t *loop;
	int fd;                       /* -1: not open */
	void (*fn)(void *data);       /* run when it fires, after the fd was read */
	void *data;
	bool armed;
	uint64_t at;                  /* when armed: the deadline (cld_now_us()) */
};

/* Opens the timerfd and polls it (QB_LOOP_HIGH); 0 or -errno. */
int cld_tfd_open(struct cld_tfd *t, qb_loop_t *loop, void (*fn)(void *data), void *data);
/* Stops polling and closes; safe when not open. */
void cld_tfd_close(struct cld_tfd *t);
/* Fires at at (cld_now_us(); at or before now: at once); 0 or -errno. */
int cld_tfd_at(struct cld_tfd *t, uint64_t at);
/* Fires in ms milliseconds; 0 or -errno. */
int cld_tfd_in(struct cld_tfd *t, unsigned ms);
/* Disarms. */
void cld_tfd_stop(struct cld_tfd *t);

#endif /* COROLEASE_TFD_H */
