/*
 * xrand.h - test support: the tests' xorshift64 generator (reproducible
 * random inputs from a seed; never for anything but tests).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_TEST_XRAND_H
#define COROLEASE_TEST_XRAND_H

#include <stdint.h>

/* The next value of the generator whose state is *s (never 0). */
static inline uint64_t xrand_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

#endif /* COROLEASE_TEST_XRAND_H */
