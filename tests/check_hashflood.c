/*
 * check_hashflood.c - BREAKER FINDING (issue 8): lease names that collide
 * in the state machine's name hash, made by any client.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The replicated state keeps its records in a chained hash table keyed by
 * cl_hash_bytes(NAME_HASH_SEED, name) (core/lease.c).  That hash is a chain
 * of bijective mixes with a public seed, so anyone can compute names with
 * one and the same 64-bit hash: for 16-byte names, the first 8 bytes are
 * free and the last 8 follow by inverting cl_mix64.  Such names share one
 * chain at every table size, and every lookup of them walks it: N names
 * cost O(N^2) on every node that applies them, and again, in one go, on
 * every node that loads them from a snapshot at join or restart.  Any
 * socket_group member may acquire any name (and a name with an index
 * record stays in the state after its release), so one local user slows
 * the whole cluster down.
 *
 * The test loads N such names and N ordinary names of the same length
 * into a machine and compares the times.  It failed before the fix (x23 at
 * N = 40,000).  The fix: the name tables hash with SipHash-1-3 under a key
 * that is secret and local to each process (cl_sm_config.table_key, drawn
 * by the daemon at each start; core/hash.h), so names computed for any
 * public hash are ordinary names to them.  Here the machine gets a fixed
 * key, as tests do; the attacker does not know it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "hash.h"
#include "lease.h"

#define NAME_HASH_SEED 0x636f726f6c656173ULL   /* core/lease.c's public seed before the fix */
#define N 40000u

/* x ^= x >> s, inverted. */
static uint64_t unxorshift(uint64_t y, unsigned s)
{
	uint64_t x = y;
	for (unsigned i = 0; i < 64 / s + 1; i++)
		x = y ^ (x >> s);
	return x;
}

/* The multiplicative inverse of odd m modulo 2^64 (Newton). */
static uint64_t inv(uint64_t m)
{
	uint64_t x = m;
	for (int i = 0; i < 6; i++)
		x *= 2 - m * x;
	return x;
}

static uint64_t unmix64(uint64_t x)
{
	x = unxorshift(x, 31);
	x *= inv(0x94d049bb133111ebULL);
	x = unxorshift(x, 27);
	x *= inv(0xbf58476d1ce4e5b9ULL);
	return unxorshift(x, 30);
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The i-th 16-byte name whose cl_hash_bytes(NAME_HASH_SEED) is target:
 * bytes 0..7 "f%07u", bytes 8..15 computed.  0, or -1 when the computed
 * half has a NUL byte (names are C strings for the CLI; skip those).
 */
static int colliding_name(uint32_t i, uint64_t target, uint8_t name[16])
{
	char first[9];
	snprintf(first, sizeof(first), "f%07u", i);
	memcpy(name, first, 8);
	uint64_t v1 = 0;
	for (int k = 7; k >= 0; k--)
		v1 = (v1 << 8) | name[k];
	uint64_t h = cl_hash_u64(NAME_HASH_SEED, 16);
	h = cl_mix64(h ^ v1) + 0x632be59bd9b4e019ULL;
	uint64_t v2 = unmix64(target - 0x632be59bd9b4e019ULL) ^ h;
	put_le(name + 8, v2);
	return memchr(name + 8, 0, 8) ? -1 : 0;
}

static void on_action(void *ctx, const struct cl_action *a)
{
	(void)ctx;
	(void)a;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: the host may be loaded */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct cl_sm *new_sm(void)
{
	struct cl_sm_config cfg = { .index_mem_max = 0,
				    .table_key = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL } };
	struct cl_sm *sm = cl_sm_new(&cfg, on_action, NULL);
	ck_assert_ptr_nonnull(sm);
	const uint32_t members[] = { 1, 2, 3 };
	const struct cl_ring ring = { .rep = 1, .seq = 1 };
	ck_assert_int_eq(cl_sm_confchg(sm, &ring, members, 3, NULL, 0), 0);
	struct cl_msg q = { .type = CL_MSG_QUORUM, .flags = CL_QUORUM_YES, .ring = ring };
	ck_assert_int_eq(cl_sm_apply(sm, 1, &q), 0);
	return sm;
}

/* Seconds to acquire the n names (16 bytes each, back to back in names). */
static double load(const uint8_t *names, uint32_t n)
{
	struct cl_sm *sm = new_sm();
	double t0 = now_s();
	for (uint32_t i = 0; i < n; i++) {
		struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, .namelen = 16,
				    .name = names + 16 * i, .req_id = i + 1 };
		ck_assert_int_eq(cl_sm_apply(sm, 1 + i % 3, &m), 0);
	}
	double t = now_s() - t0;
	struct cl_sm_stats st;
	cl_sm_stats(sm, &st);
	ck_assert_uint_eq(st.holds, n);
	cl_sm_free(sm);
	return t;
}

START_TEST(colliding_names_cost_like_others)
{
	uint8_t *col = malloc(16u * N), *plain = malloc(16u * N);
	ck_assert_ptr_nonnull(col);
	ck_assert_ptr_nonnull(plain);
	uint32_t n = 0;
	const uint64_t target = 0x0123456789abcdefULL;
	for (uint32_t i = 0; n < N; i++)
		if (colliding_name(i, target, col + 16 * n) == 0)
			n++;
	for (uint32_t i = 0; i < N; i++) {
		ck_assert_uint_eq(cl_hash_bytes(NAME_HASH_SEED, col + 16 * i, 16), target);
		char s[17];
		snprintf(s, sizeof(s), "plain/%010u", i);
		memcpy(plain + 16 * i, s, 16);
	}
	double tp = load(plain, N), tc = load(col, N);
	fprintf(stderr, "check_hashflood: %u ordinary 16-byte names: %.3f s; %u names with one hash: %.3f s (x%.0f)\n",
	       N, tp, N, tc, tc / (tp > 1e-6 ? tp : 1e-6));
	/* the keyed (per-process) table hash makes them cost alike */
	ck_assert_msg(tc < 10 * tp + 0.05, "%u colliding names took %.3f s, ordinary ones %.3f s", N, tc, tp);
	free(col);
	free(plain);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hashflood");
	TCase *tc = tcase_create("names");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, colliding_names_cost_like_others);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
