/*
 * watch.h - which client connections watch which names, indexed by name
 * (pure: no libqb, no I/O; unit-tested in tests/check_watch.c).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * A change of one name must cost O(watchers of that name), not a walk over
 * every connection: the registry maps each watched name to the list of its
 * watchers, and keeps the watchers of every name on a list of their own.
 * Each watcher (embedded in a connection) also finds its own watches by
 * name, for WATCH / UNWATCH and for its disconnect.
 *
 * Ownership: the registry owns the entries; a watcher's memory is its
 * owner's, and must be forgotten (cld_watcher_forget) before it is freed.
 */
#ifndef COROLEASE_WATCH_H
#define COROLEASE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corolease/htab.h"
#include "corolease/list.h"

struct cld_watch_reg {
	struct cl_htab names;         /* struct wname (watch.c), by name hash */
	struct cl_list all;           /* struct cld_watcher that watch every name */
	uint64_t nwatches;            /* named watches of every watcher */
	uint64_t nall;                /* watchers of every name */
};

struct cld_watcher {
	struct cl_htab mine;          /* this watcher's named watches; no buckets until the first */
	struct cl_list all_link;      /* in cld_watch_reg.all while `all` */
	bool all;                     /* watches every name */
	uint64_t n;                   /* named watches */
};

/* 0, or -ENOMEM. */
int cld_watch_reg_init(struct cld_watch_reg *r);
/* Frees the registry; every watcher must have been forgotten.  Accepts a zeroed one. */
void cld_watch_reg_fini(struct cld_watch_reg *r);

void cld_watcher_init(struct cld_watcher *w);
/* Drops every watch of w (named and every-name); w may then be freed or reused. */
void cld_watcher_forget(struct cld_watch_reg *r, struct cld_watcher *w);

/*
 * w watches name (1 to 65535 bytes).  0 (also when it already did), -EDQUOT
 * when w already has max named watches, -EINVAL (len out of range), or
 * -ENOMEM; nothing changes on error.
 */
int cld_watch_add(struct cld_watch_reg *r, struct cld_watcher *w, const void *name, size_t len,
		  uint64_t max);
/*
 * The max for cld_watch_add() of a watcher that has mine named watches,
 * whose uid's watchers have uid_n in all (mine among them): per_client, or
 * less when the uid's per_uid leaves less room (never for an exempt uid:
 * root).  *uid_bound_r: the uid's bound is the lower (an -EDQUOT is then
 * the uid's).
 */
uint64_t cld_watch_quota(uint64_t per_client, uint64_t mine, uint64_t uid_n, uint64_t per_uid,
			 bool exempt, bool *uid_bound_r);
/* w stops watching name; nothing when it did not. */
void cld_watch_del(struct cld_watch_reg *r, struct cld_watcher *w, const void *name, size_t len);
/* w watches every name (on) or stops (off); its named watches stay.  Costs no quota. */
void cld_watch_all(struct cld_watch_reg *r, struct cld_watcher *w, bool on);

/*
 * Calls fn once for each watcher of name: those watching every name, then
 * those watching name itself (a watcher of both only once).  fn must not
 * add or drop watches.  Returns the number of calls.  The work done is
 * proportional to the watchers of name plus those of every name, whatever
 * the number of other watchers and names.
 */
size_t cld_watch_foreach(const struct cld_watch_reg *r, const void *name, size_t len,
			 void (*fn)(void *ctx, struct cld_watcher *w), void *ctx);

#endif /* COROLEASE_WATCH_H */
