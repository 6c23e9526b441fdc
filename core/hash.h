/*
 * hash.h - the 64-bit hash used for names, state hashes and checksums.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The result depends only on the bytes (read little-endian), never on the
 * host, so every node computes the same value.  Not cryptographic.
 */
#ifndef COROLEASE_HASH_H
#define COROLEASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The xorshift-multiply finaliser shape: x ^= x >> s1; x *= m1; x ^= x >> s2;
 * x *= m2; x ^= x >> s3.  Bijective for odd multipliers.
 */
static inline uint64_t cl_xsmul(uint64_t x, unsigned s1, uint64_t m1, unsigned s2, uint64_t m2,
				unsigned s3)
{
	x = (x ^ (x >> s1)) * m1;
	x = (x ^ (x >> s2)) * m2;
	return x ^ (x >> s3);
}

/* A bijective 64-bit finaliser (splitmix64's). */
static inline uint64_t cl_mix64(uint64_t x)
{
	return cl_xsmul(x, 30, 0xbf58476d1ce4e5b9ULL, 27, 0x94d049bb133111ebULL, 31);
}

/* murmur3's 64-bit finaliser (fmix64). */
static inline uint64_t cl_fmix64(uint64_t x)
{
	return cl_xsmul(x, 33, 0xff51afd7ed558ccdULL, 33, 0xc4ceb9fe1a85ec53ULL, 33);
}

/* Folds v into the running hash h. */
static inline uint64_t cl_hash_u64(uint64_t h, uint64_t v)
{
	return cl_mix64(h ^ cl_mix64(v + 0x9e3779b97f4a7c15ULL));
}

/* The 8 bytes at b, little-endian: one expression, which compilers make one load. */
static inline uint64_t cl_hash_le64_(const uint8_t *b)
{
	return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
	       (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
	       (uint64_t)b[7] << 56;
}

/* Folds n bytes at p into the running hash h. */
static inline uint64_t cl_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	h = cl_hash_u64(h, n);
	while (n >= 8) {
		uint64_t v = cl_hash_le64_(b);
		h = cl_mix64(h ^ v) + 0x632be59bd9b4e019ULL;
		b += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = 0;
		for (size_t i = n; i > 0; i--)
			v = (v << 8) | b[i - 1];
		h = cl_mix64(h ^ v ^ ((uint64_t)n << 59));
	}
	return h;
}

#endif /* COROLEASE_HASH_H */
