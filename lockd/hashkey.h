/*
 * hashkey.h - the daemon's secret key for the buckets of its in-memory
 * tables of names (core/hash.h, cl_siphash()).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * One key per process, drawn from the kernel at start-up and never written
 * anywhere: local clients choose lease names, and with a key they cannot
 * know they cannot choose names that share a chain (issue 8).  The node
 * agent and the replica take it through cl_sm_config.table_key; the IPC
 * service's per-client name tables and the watch registry read it here.
 */
#ifndef COROLEASE_HASHKEY_H
#define COROLEASE_HASHKEY_H

#include "hash.h"

/*
 * Draws the key (getrandom(), else /dev/urandom) if not done yet.  0, or a
 * negative errno when the kernel gives no randomness: the daemon must not
 * start then.
 */
int cld_hash_key_init(void);
/*
 * The key; draws it first if cld_hash_key_init() was not called (and
 * aborts if that fails: call cld_hash_key_init() at start-up to fail
 * cleanly instead).
 */
const struct cl_hash_key *cld_hash_key(void);

#endif /* COROLEASE_HASHKEY_H */
