/*
 * index.h - the replicated per-name index cache (pure).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each lease name owns an ordered map key -> value plus a version.  Writes
 * arrive as CL_MSG_INDEX_PUT / CL_MSG_INDEX_DEL through cl_sm_apply() and
 * are accepted only from the current EX holder carrying its epoch, while the
 * machine is quorate; otherwise they are answered with -ESTALE,
 * COROLEASE_ENOQUORUM, COROLEASE_EFENCING, -ENOSPC, -EDQUOT or -ENOENT
 * (delete of a missing key) or -EFBIG (a new key in an index of
 * COROLEASE_KEYS_MAX keys), the same way on every node.  A name's version
 * is the lsn of its last write, so it only grows, even across eviction.
 *
 * Memory: an index costs its name and record (namelen +
 * CL_INDEX_NAME_OVERHEAD, from its first put until it is gone: the record
 * stays for it after the name's release) plus, for each entry, keylen +
 * vallen + CL_INDEX_ENTRY_OVERHEAD.  The sum over indexes stays at or
 * below index_mem_max, and each index's cost is what the quota charges.  To make room, whole indexes of names that
 * nobody holds or waits for are evicted, least recently released first; the
 * order is kept by an ordered counter so eviction is identical everywhere.
 * Local reads do not touch that order.  A put that does not fit even after
 * every eviction it may make is refused before anything is evicted.
 *
 * Per-uid quota: every put carries the writing client's uid (the daemon
 * takes it from the connection's credentials), and a name's whole index is
 * charged to the uid of its last put (a put into an index charged to another
 * uid moves the whole index to the writer); a delete credits that uid.  With
 * index_bytes_per_uid (Q) off (0), the above is all: any put may evict any
 * unheld index, and the bound alone refuses (-ENOSPC).  With Q on:
 *  - a put evicts only indexes charged to its own uid, oldest first: never
 *    another uid's, whatever the bound;
 *  - -EDQUOT: the writer's uid would be charged more than Q even after
 *    evicting every unheld index of its own (what it writes in names it
 *    holds counts in full); uid 0 (root) has no quota;
 *  - -ENOSPC: the bound cannot fit the put even after evicting every unheld
 *    index of the writer's uid;
 *  - evictions are made only for a put that is then applied: to bring the
 *    writer's uid back under Q and the total under the bound.
 * So one uid's writes never evict another's records, and a uid can always
 * write up to Q as long as Q times the number of writing uids (root's
 * writes aside) is at most index_mem_max.  Every replica decides alike: the uid is part of the
 * replicated input, and a snapshot carries each index's uid and Q.
 */
#ifndef COROLEASE_INDEX_H
#define COROLEASE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "lease.h"

#define CL_INDEX_ENTRY_OVERHEAD 32u
/*
 * The record, its extension and the index's own structures, beside the
 * name (about 300 bytes measured on x86-64): without it, an index of one
 * small key under a 1 KiB name was charged 33 bytes for about 1.4 KiB
 * (helper-96: a quota-sized fill took 41 times the quota).
 */
#define CL_INDEX_NAME_OVERHEAD 256u

/*
 * Reads key of name from the local replica.  Returns 0 and points *val_r at
 * the value (valid until the next input to sm), or -ENOENT.  Any of the out
 * parameters may be NULL.  version_r gets the name's version.
 */
int cl_index_get(const struct cl_sm *sm, const void *name, size_t namelen,
		 const void *key, size_t keylen,
		 const uint8_t **val_r, uint32_t *vallen_r, uint64_t *version_r);

/* The version at which key of name was last written: 0 and *ver_r, or -ENOENT. */
int cl_index_entry_version(const struct cl_sm *sm, const void *name, size_t namelen,
			   const void *key, size_t keylen, uint64_t *ver_r);

/*
 * Calls fn for each entry of name in key order until fn returns non-zero,
 * which is returned.  Returns -ENOENT when name has no index.
 */
typedef int (*cl_index_iter_fn)(void *ctx, const struct cl_entry_info *e);
int cl_index_foreach(const struct cl_sm *sm, const void *name, size_t namelen,
		     cl_index_iter_fn fn, void *ctx);

/*
 * Like cl_index_foreach(), from the first key after `after` (afterlen 0:
 * from the first key), so a long walk can be resumed after sm changed.
 */
int cl_index_foreach_after(const struct cl_sm *sm, const void *name, size_t namelen,
			   const void *after, size_t afterlen, cl_index_iter_fn fn, void *ctx);

/* Bytes currently charged against the bound. */
uint64_t cl_index_bytes(const struct cl_sm *sm);

/* Bytes of the indexes charged to uid (0 if none). */
uint64_t cl_index_uid_bytes(const struct cl_sm *sm, uint32_t uid);

#endif /* COROLEASE_INDEX_H */
