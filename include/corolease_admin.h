/*
 * corolease_admin.h - administration through libcorolease: node status,
 * lease listing and details, eviction and fence acknowledgement.  The
 * connection, errors ("the common errors") and ownership rules are those of
 * corolease.h.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#ifndef COROLEASE_ADMIN_H
#define COROLEASE_ADMIN_H

#include <stdint.h>
#include <stddef.h>

#include <corolease.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The group whose members may evict and fence-ack (besides root). */
#define COROLEASE_ADMIN_GROUP_DEFAULT "corolease-admin"

/* ------------------------------------------------------------------------ */
/* status */

/*
 * The local node's status: an opaque, immutable set of records, each a key,
 * a type and a 64-bit value.  Keys are dot-separated paths of lowercase
 * words ("lsn", "ring.seq", "counters.mcast_msgs"); a numeric component is
 * an array index ("members.0.node", "members.0.holds").  Records come in a
 * stable order, grouped by path prefix.  A key keeps its meaning and type;
 * new keys may appear in any release, so iterate or look up by key and
 * ignore what you do not know.  libcorolease(3) lists the keys.
 */
typedef struct corolease_status corolease_status_t;

/* How to read a record's value. */
enum corolease_status_type {
	COROLEASE_STATUS_U64  = 1,  /* a count, id or size */
	COROLEASE_STATUS_S64  = 2,  /* signed: read the value as (int64_t) */
	COROLEASE_STATUS_BOOL = 3,  /* 0 or 1 */
	COROLEASE_STATUS_HASH = 4,  /* opaque: compare for equality, show in hex */
};

/* Longest key, without its NUL. */
#define COROLEASE_STATUS_KEY_MAX 63u

/*
 * Asks the daemon for its status.  Returns 0 and *st_r (free it with
 * corolease_status_free), or a common error.
 */
int corolease_status_get(corolease_t *h, corolease_status_t **st_r);
/* Frees st; accepts NULL; returns NULL. */
corolease_status_t *corolease_status_free(corolease_status_t *st);
/*
 * The value of key: 0 and *value_r (the raw 64 bits, whatever the type),
 * -ENOENT (no such key), or -EINVAL (NULL argument).
 */
int corolease_status_u64(const corolease_status_t *st, const char *key, uint64_t *value_r);
/*
 * Iterates the records in order: set *iter to 0, then each call returns 0
 * with the next record's key (valid until corolease_status_free), type
 * (enum corolease_status_type) and value, and advances *iter; -ENOENT after
 * the last record; -EINVAL for a NULL st or iter.  key_r, type_r and
 * value_r may be NULL.
 */
int corolease_status_next(const corolease_status_t *st, size_t *iter, const char **key_r,
			  int *type_r, uint64_t *value_r);

/* ------------------------------------------------------------------------ */
/* list and show */

/* One lease of a listing.  Filled by the library; never allocate one. */
struct corolease_lease_summary {
	const void *name;
	size_t namelen;
	uint32_t owner;          /* first live holder, else first orphan, else 0 */
	int mode;
	int orphaned;            /* the owner departed and awaits recovery */
	uint32_t nholders, nwaiters, nkeys;
	uint64_t epoch, version;
};
typedef int (*corolease_list_fn)(void *ctx, const struct corolease_lease_summary *s);
/*
 * Calls fn for each lease whose name starts with prefix (prefixlen 0: all),
 * from inside this call (fn may call any function but corolease_close()),
 * in no particular order (it differs between nodes and daemon starts).
 * A non-zero return from fn stops the calls and is returned.  Returns 0, or
 * fn's value, COROLEASE_ESYNCING, -EAGAIN (a list of this connection is
 * still being delivered), or a common error.
 */
int corolease_list(corolease_t *h, const void *prefix, size_t prefixlen,
		   corolease_list_fn fn, void *ctx);

struct corolease_holder { uint32_t node; int mode; uint64_t epoch; uint64_t orphan_seq; };
struct corolease_waiter { uint32_t node; int mode; };
/* Details of one name.  Allocated by the library; never allocate one. */
struct corolease_detail {
	int mode;
	uint32_t nholders, nwaiters, nkeys;
	uint64_t version;
	struct corolease_holder *holders;   /* nholders, in grant order */
	struct corolease_waiter *waiters;   /* nwaiters, FIFO order */
	char **keys;                        /* nkeys NUL-terminated copies */
	size_t *keylens;
};
/*
 * Details of name: 0 and *d_r (free it with corolease_detail_free), or
 * -ENOENT (unknown name), COROLEASE_ESYNCING, or a common error.
 */
int corolease_show(corolease_t *h, const void *name, size_t namelen,
		   struct corolease_detail **d_r);
/* Frees d; accepts NULL; returns NULL. */
struct corolease_detail *corolease_detail_free(struct corolease_detail *d);

/* ------------------------------------------------------------------------ */
/* administration (root or the admin group) */

/*
 * Revokes name from every live holder; *count_r gets how many.  Returns 0,
 * or -ENOENT (nobody holds name), COROLEASE_EORPHANED (only departed
 * holders: see corolease_fence_ack), -EPERM (not an administrator), -EAGAIN
 * (too many requests pending), COROLEASE_ENOCLUSTER (the node lost its
 * corosync connection first: the outcome is unknown), or a common error.
 */
int corolease_evict(corolease_t *h, const void *name, size_t namelen, uint64_t *count_r);
/* corolease_fence_ack() flags. */
#define COROLEASE_FENCE_FORCE 0x01u  /* also for a node that is a current member */
/*
 * Declares the departed node fenced, so its orphaned leases are recovered
 * now (and, in a split-capable quorum mode, grants resume); *count_r gets
 * how many.  A current member is refused with COROLEASE_ENODEALIVE unless
 * flags has COROLEASE_FENCE_FORCE; forced, only the holds it had before it
 * last left (orphans) are freed, never those it holds now.  Returns 0, or
 * COROLEASE_ENODEALIVE, COROLEASE_ENOQUORUM (this node is not quorate),
 * -EPERM, -EAGAIN, COROLEASE_ENOCLUSTER (as above), or a common error
 * (-EINVAL for node 0 or an unknown flag).
 */
int corolease_fence_ack(corolease_t *h, uint32_t node, unsigned flags, uint64_t *count_r);

#ifdef __cplusplus
}
#endif
#endif /* COROLEASE_ADMIN_H */
