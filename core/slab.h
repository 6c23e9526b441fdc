/*
 * slab.h - the allocator of the core's per-name records (issue 9: a holder
 * of a million leases keeps three records for each, and glibc's malloc
 * would round each up to its 16-byte chunk classes plus an 8-byte header).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Objects of up to CL_SLAB_MAX bytes are carved, in 8-byte size classes
 * without a header, from blocks taken with malloc() and kept for the life
 * of the process; a freed object goes to the back of its class's free
 * list, and the oldest one there is given out first.  Larger objects go to
 * calloc()/free().  The caller passes the size again to cl_slab_free().
 *
 * Not thread-safe: the core runs on one thread (the daemon's loop; each
 * test and simulator process).  Under AddressSanitizer every object is a
 * calloc() of its own (so the sanitizer's red zones, quarantine and leak
 * checker see each record), unless built with CL_SLAB_ALWAYS: then the
 * slab poisons free objects, block headers and the bytes past each size,
 * and keeps 256 freed objects a class before reuse (check_util tests it so).
 */
#ifndef COROLEASE_CORE_SLAB_H
#define COROLEASE_CORE_SLAB_H

#include <stddef.h>

#define CL_SLAB_MAX 512

/* size bytes, zeroed; NULL (errno ENOMEM) without memory.  size > 0. */
void *cl_slab_alloc(size_t size);
/* Frees p (NULL: nothing), given by cl_slab_alloc(size) with the same size. */
void cl_slab_free(void *p, size_t size);

struct cl_slab_stats {
	size_t blocks;               /* blocks taken from malloc() */
	size_t live;                 /* objects given out and not freed (small ones) */
	size_t live_bytes;           /* their sizes, rounded to the class */
};
void cl_slab_stats(struct cl_slab_stats *st);

#endif /* COROLEASE_CORE_SLAB_H */
