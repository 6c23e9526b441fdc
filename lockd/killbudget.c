/*
 * killbudget.c - the /proc reads COROLEASE_KILL tree walks may spend, per
 * uid.  Contract: killbudget.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <string.h>

#include "killbudget.h"

void cld_killbudget_init(struct cld_killbudget *b, uint64_t per_uid, uint64_t window_us)
{
	memset(b, 0, sizeof(*b));
	b->per_uid = per_uid;
	b->window_us = window_us;
}

/*
 * uid's entry: its own, else a free one (never used, or idle: its window
 * and its log line's second both over), else the shared one.
 */
static struct cld_killbudget_ent *ent_of(struct cld_killbudget *b, uint32_t uid, uint64_t now)
{
	struct cld_killbudget_ent *free_e = NULL;
	for (size_t i = 0; i < CLD_KILLBUDGET_UIDS; i++) {
		struct cld_killbudget_ent *e = &b->ent[i];
		if (e->used_ever && e->uid == uid)
			return e;
		if (!free_e && (!e->used_ever || (now >= e->window_end && now >= e->log_at &&
						  !e->unlogged)))
			free_e = e;
	}
	if (!free_e)
		return &b->shared;
	memset(free_e, 0, sizeof(*free_e));
	free_e->uid = uid;
	free_e->used_ever = true;
	return free_e;
}

/* e's window at now: a new one once the last is over. */
static void roll(struct cld_killbudget *b, struct cld_killbudget_ent *e, uint64_t now)
{
	if (now >= e->window_end) {
		e->window_end = now + b->window_us;
		e->spent = 0;
	}
}

size_t cld_killbudget_avail(struct cld_killbudget *b, uint32_t uid, uint64_t now, size_t want)
{
	struct cld_killbudget_ent *e = ent_of(b, uid, now);
	roll(b, e, now);
	uint64_t left = e->spent < b->per_uid ? b->per_uid - e->spent : 0;
	return left < want ? (size_t)left : want;
}

void cld_killbudget_charge(struct cld_killbudget *b, uint32_t uid, uint64_t now, size_t reads)
{
	struct cld_killbudget_ent *e = ent_of(b, uid, now);
	roll(b, e, now);
	e->spent += reads;
}

uint64_t cld_killbudget_next(struct cld_killbudget *b, uint32_t uid, uint64_t now)
{
	struct cld_killbudget_ent *e = ent_of(b, uid, now);
	roll(b, e, now);
	return e->spent < b->per_uid ? now : e->window_end;
}

bool cld_killbudget_log(struct cld_killbudget *b, uint32_t uid, uint64_t now, uint64_t log_us,
			uint64_t *unlogged_r)
{
	struct cld_killbudget_ent *e = ent_of(b, uid, now);
	*unlogged_r = e->unlogged;
	if (now < e->log_at) {
		e->unlogged++;
		return false;
	}
	e->log_at = now + log_us;
	e->unlogged = 0;
	return true;
}
