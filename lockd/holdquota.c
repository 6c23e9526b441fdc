/*
 * holdquota.c - the node's client hold slots shared out among users.
 * Contract: holdquota.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>

#include "corolease/htab.h"
#include "hash.h"
#include "holdquota.h"

/* The slots one uid has (in cld_holdquota.uids while it has any). */
struct uid_holds {
	struct cl_hnode hn;           /* by cl_mix64(uid) */
	uint32_t uid;
	uint64_t n;
};

struct cld_holdquota {
	uint64_t shared, per_uid, reserve;
	struct cl_htab uids;
	struct cld_holdquota_stats st;
};

static struct uid_holds *uid_find(const struct cld_holdquota *q, uint32_t uid)
{
	uint64_t h = cl_mix64(uid);
	for (struct cl_hnode *e = cl_htab_first(&q->uids, h); e; e = cl_htab_next(e, h)) {
		struct uid_holds *u = cl_container_of(e, struct uid_holds, hn);
		if (u->uid == uid)
			return u;
	}
	return NULL;
}

struct cld_holdquota *cld_holdquota_new(uint64_t shared, uint64_t per_uid, uint64_t reserve)
{
	if (!per_uid)
		return NULL;
	struct cld_holdquota *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->shared = shared;
	q->per_uid = per_uid;
	q->reserve = reserve;
	if (cl_htab_init(&q->uids, 64) < 0) {
		free(q);
		return NULL;
	}
	return q;
}

struct cld_holdquota *cld_holdquota_free(struct cld_holdquota *q)
{
	if (!q)
		return NULL;
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&q->uids, &it); e;
	     e = cl_htab_iter_next(&q->uids, &it)) {
		cl_htab_del(&q->uids, e);
		free(cl_container_of(e, struct uid_holds, hn));
	}
	cl_htab_fini(&q->uids);
	free(q);
	return NULL;
}

int cld_holdquota_take(struct cld_holdquota *q, uint32_t uid, bool privileged)
{
	struct uid_holds *u = uid_find(q, uid);
	if (!privileged && u && u->n >= q->per_uid) {
		q->st.refused_uid++;
		return -EDQUOT;
	}
	if (q->st.used >= q->shared + (privileged ? q->reserve : 0)) {
		q->st.refused_full++;
		return -ENOSPC;
	}
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		u->uid = uid;
		cl_htab_add(&q->uids, &u->hn, cl_mix64(uid));
	}
	u->n++;
	q->st.used++;
	return 0;
}

void cld_holdquota_put(struct cld_holdquota *q, uint32_t uid)
{
	struct uid_holds *u = uid_find(q, uid);
	if (!u)
		return;   /* not taken: nothing to give back */
	q->st.used--;
	if (--u->n == 0) {
		cl_htab_del(&q->uids, &u->hn);
		free(u);
	}
}

uint64_t cld_holdquota_of(const struct cld_holdquota *q, uint32_t uid)
{
	const struct uid_holds *u = uid_find(q, uid);
	return u ? u->n : 0;
}

void cld_holdquota_stats(const struct cld_holdquota *q, struct cld_holdquota_stats *st_r)
{
	*st_r = q->st;
	st_r->shared = q->shared;
	st_r->per_uid = q->per_uid;
	st_r->reserve = q->reserve;
}
