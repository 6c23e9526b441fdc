/*
 * clock.h - the daemon's clock.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CLOCK_H
#define COROLEASE_CLOCK_H

#include <stdint.h>

#include "corolease/ipc.h"

/*
 * The node's clock, the validity page's and every deadline sent to clients:
 * the protocol's clp_now_us() (CLOCK_BOOTTIME in microseconds, counting
 * across suspend).  qb_loop timers count CLOCK_MONOTONIC, so after a
 * suspend the node timer fires late by the time suspended; clients read the
 * page against this clock themselves, so no lease outlives its deadline.
 */
static inline uint64_t cld_now_us(void)
{
	return clp_now_us();
}

#endif /* COROLEASE_CLOCK_H */
