/*
 * holdquota.h - the node's client hold slots shared out among users.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Every name a local client holds or is acquiring takes one revocation
 * slot of the validity page (page.h).  Of the page's slots, `shared` are
 * for everyone (max_client_holds), and one uid may have at most `per_uid`
 * of them (max_client_holds_per_uid); a privileged client (root, the
 * daemon's own user: the caller says) has no per-uid bound and may also
 * take the `reserve` slots beyond the shared ones, so that root can still
 * take a lease when other users took every shared slot (issue 8, t64).
 * Pure bookkeeping: no logging, no I/O (tests/check_holdquota.c).
 */
#ifndef COROLEASE_HOLDQUOTA_H
#define COROLEASE_HOLDQUOTA_H

#include <stdbool.h>
#include <stdint.h>

/* Slots beyond max_client_holds that only root and the daemon's own user may take. */
#define CLD_HOLD_RESERVE 1024u

struct cld_holdquota;

struct cld_holdquota_stats {
	uint64_t shared, per_uid, reserve;   /* as made */
	uint64_t used;                /* slots taken now, reserve included */
	uint64_t refused_uid;         /* takes refused: the uid had per_uid */
	uint64_t refused_full;        /* takes refused: every slot it may use was taken */
};

/* A quota of shared + reserve slots.  NULL on ENOMEM (or per_uid 0). */
struct cld_holdquota *cld_holdquota_new(uint64_t shared, uint64_t per_uid, uint64_t reserve);
/* Frees q; accepts NULL; returns NULL. */
struct cld_holdquota *cld_holdquota_free(struct cld_holdquota *q);

/*
 * Takes a slot for a client of uid.  0; -EDQUOT when uid already has
 * per_uid (never for a privileged client); -ENOSPC when the slots it may
 * use are all taken (the shared ones; for a privileged client, the reserve
 * too); -ENOMEM.  Counts the refusals.
 */
int cld_holdquota_take(struct cld_holdquota *q, uint32_t uid, bool privileged);
/* Gives back a slot cld_holdquota_take() gave uid. */
void cld_holdquota_put(struct cld_holdquota *q, uint32_t uid);
/* The slots uid has now. */
uint64_t cld_holdquota_of(const struct cld_holdquota *q, uint32_t uid);
void cld_holdquota_stats(const struct cld_holdquota *q, struct cld_holdquota_stats *st_r);

#endif /* COROLEASE_HOLDQUOTA_H */
