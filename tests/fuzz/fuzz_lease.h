/*
 * fuzz_lease.h - the lease invariant the fuzz targets check on a machine's
 * state (fuzz_snapshot, fuzz_sm).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * No two live owners in conflict: a live EX hold is the only live hold of
 * its name.  Orphaned holds are left out on purpose: a merge adds a loser's
 * live holds as orphans beside whatever the winner's state has
 * (cl_sm_orphan_dropped(), doc/state-machine.md), and nothing is granted
 * until they are recovered.
 */
#ifndef COROLEASE_FUZZ_LEASE_H
#define COROLEASE_FUZZ_LEASE_H

#include "fuzz.h"
#include "lease.h"

#define FZ_MAX_HOLDS 64

static inline void fz_check_live_ex(const struct cl_sm *sm, const struct cl_lease_info *info)
{
	struct cl_hold_info h[FZ_MAX_HOLDS];
	struct cl_lease_info li;
	FZ_CHECK(cl_sm_lookup(sm, info->name, info->namelen, &li, h, FZ_MAX_HOLDS, NULL, 0) == 0,
		 "a visited lease is not found");
	size_t n = li.nholders < FZ_MAX_HOLDS ? li.nholders : FZ_MAX_HOLDS;
	unsigned live = 0, live_ex = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i].orphan_seq)
			continue;
		live++;
		live_ex += h[i].mode == CL_MODE_EX;
	}
	FZ_CHECK(live_ex == 0 || live == 1, "lease %.*s: %u live holds, %u of them EX",
		 (int)info->namelen, (const char *)info->name, live, live_ex);
}

#endif /* COROLEASE_FUZZ_LEASE_H */
