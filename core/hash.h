/*
 * hash.h - the hashes of the tree: a public one for state hashes and
 * checksums, and a keyed one for the buckets of in-memory tables.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * cl_hash_bytes() and friends depend only on the bytes (read
 * little-endian), never on the host, so every node computes the same value:
 * for what is compared between nodes (state hashes, checksums).  They are
 * not cryptographic, and anyone can compute inputs with one and the same
 * value, so they must never place keys an outsider chooses (lease names)
 * in the buckets of a table: N such keys cost O(N^2) (issue 8,
 * tests/check_hashflood.c).
 *
 * cl_siphash() is SipHash-1-3 (Aumasson and Bernstein; the variant Python
 * and Rust use for their tables) under a 128-bit key: without the key, an
 * outsider cannot choose names that share buckets.  Tables of names take it
 * with a key that is secret and local to the process (the daemon draws one
 * at each start); its values never leave the process, so nothing that does
 * (a message, a snapshot, a state hash, a listing) may follow a table's
 * order either.
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

/* The key of cl_siphash(): 128 bits; all zero is a fixed, public key (tests only). */
struct cl_hash_key {
	uint64_t k0, k1;
};

static inline uint64_t cl_rotl64_(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void cl_sipround_(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = cl_rotl64_(v[1], 13) ^ v[0];
	v[0] = cl_rotl64_(v[0], 32);
	v[2] += v[3];
	v[3] = cl_rotl64_(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = cl_rotl64_(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = cl_rotl64_(v[1], 17) ^ v[2];
	v[2] = cl_rotl64_(v[2], 32);
}

/*
 * SipHash-c-d of n bytes at p under key (c rounds per 8-byte block, d at
 * the end).  cl_siphash() is SipHash-1-3; tests check this against the
 * published SipHash-2-4 vectors.
 */
static inline uint64_t cl_siphash_cd(const struct cl_hash_key *key, const void *p, size_t n,
				     unsigned c, unsigned d)
{
	const uint8_t *b = p;
	uint64_t v[4] = { key->k0 ^ 0x736f6d6570736575ULL, key->k1 ^ 0x646f72616e646f6dULL,
			  key->k0 ^ 0x6c7967656e657261ULL, key->k1 ^ 0x7465646279746573ULL };
	uint64_t last = (uint64_t)n << 56;
	for (; n >= 8; b += 8, n -= 8) {
		uint64_t m = cl_hash_le64_(b);
		v[3] ^= m;
		for (unsigned i = 0; i < c; i++)
			cl_sipround_(v);
		v[0] ^= m;
	}
	for (size_t i = 0; i < n; i++)
		last |= (uint64_t)b[i] << (8 * i);
	v[3] ^= last;
	for (unsigned i = 0; i < c; i++)
		cl_sipround_(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (unsigned i = 0; i < d; i++)
		cl_sipround_(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The keyed bucket hash of n bytes at p (SipHash-1-3): see the top of this file. */
static inline uint64_t cl_siphash(const struct cl_hash_key *key, const void *p, size_t n)
{
	return cl_siphash_cd(key, p, n, 1, 3);
}

#endif /* COROLEASE_HASH_H */
