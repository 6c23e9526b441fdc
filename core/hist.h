/*
 * hist.h - a latency histogram with fixed bounds, for 'corolease status'
 * (and its Prometheus form): counts per bucket, the sum and the count.
 * Pure: the caller measures the time.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_HIST_H
#define COROLEASE_HIST_H

#include <stdint.h>

/* The upper bounds of the buckets in microseconds (50 us .. 10 s); one more bucket above. */
#define CL_HIST_BOUNDS_US(X) \
	X(50) X(100) X(250) X(500) X(1000) X(2500) X(5000) X(10000) X(25000) X(50000) \
	X(100000) X(250000) X(500000) X(1000000) X(2500000) X(5000000) X(10000000)
#define CL_HIST_ONE_(b) +1
enum { CL_HIST_NB = 0 CL_HIST_BOUNDS_US(CL_HIST_ONE_) };

struct cl_hist {
	uint64_t n[CL_HIST_NB + 1];   /* per bucket, not cumulative; n[CL_HIST_NB]: above the last */
	uint64_t sum_us;
	uint64_t count;
};

static inline void cl_hist_add(struct cl_hist *h, uint64_t us)
{
#define CL_HIST_BOUND_(b) b,
	static const uint64_t bound[CL_HIST_NB] = { CL_HIST_BOUNDS_US(CL_HIST_BOUND_) };
#undef CL_HIST_BOUND_
	unsigned i = 0;
	while (i < CL_HIST_NB && us > bound[i])
		i++;
	h->n[i]++;
	h->sum_us += us;
	h->count++;
}

#endif /* COROLEASE_HIST_H */
