/*
 * check_util.c - unit tests for the private helpers in include/corolease/:
 * the intrusive hash table (htab.h) and list (list.h).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corolease/htab.h"
#include "corolease/list.h"
#include "slab.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UTIL_ASAN 1
#endif

struct item {
	struct cl_hnode hn;
	struct cl_list link;
	uint64_t key;
	bool seen;
};

/* A deliberately poor hash, so chains hold several keys with different hashes. */
static uint64_t hash_of(uint64_t key)
{
	return key * 0x9e3779b97f4a7c15ull;
}

static struct item *find(const struct cl_htab *t, uint64_t key)
{
	uint64_t h = hash_of(key);
	for (struct cl_hnode *e = cl_htab_first(t, h); e; e = cl_htab_next(e, h)) {
		struct item *it = cl_container_of(e, struct item, hn);
		if (it->key == key)
			return it;
	}
	return NULL;
}

START_TEST(htab_add_find_del_grow)
{
	enum { N = 5000 };
	struct cl_htab t;
	struct item *v = calloc(N, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(cl_htab_init(&t, 4), 0);
	for (uint64_t i = 0; i < N; i++) {
		v[i].key = i;
		cl_htab_add(&t, &v[i].hn, hash_of(i));
		ck_assert_uint_eq(t.n, i + 1);
		ck_assert_uint_ge(t.nb, 4);
	}
	/* doubled whenever an insert met twice as many entries as buckets */
	ck_assert_uint_eq(t.nb, 4096);
	for (uint64_t i = 0; i < N; i++)
		ck_assert_ptr_eq(find(&t, i), &v[i]);
	ck_assert_ptr_null(find(&t, N + 7));
	for (uint64_t i = 0; i < N; i += 2)
		cl_htab_del(&t, &v[i].hn);
	ck_assert_uint_eq(t.n, N / 2);
	for (uint64_t i = 0; i < N; i++)
		ck_assert_ptr_eq(find(&t, i), i % 2 ? &v[i] : NULL);
	cl_htab_fini(&t);
	ck_assert_ptr_null(t.b);
	ck_assert_uint_eq(t.nb, 0);
	free(v);
}
END_TEST

START_TEST(htab_iterate_and_delete)
{
	enum { N = 300 };
	struct cl_htab t;
	struct item v[N];
	memset(v, 0, sizeof(v));
	ck_assert_int_eq(cl_htab_init(&t, 16), 0);
	struct cl_htab_iter it;
	ck_assert_ptr_null(cl_htab_iter_first(&t, &it));
	for (uint64_t i = 0; i < N; i++) {
		v[i].key = i;
		cl_htab_add(&t, &v[i].hn, hash_of(i % 7));   /* equal hashes share chains */
	}
	unsigned n = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it)) {
		struct item *x = cl_container_of(e, struct item, hn);
		ck_assert(!x->seen);
		x->seen = true;
		n++;
		if (x->key % 3 == 0)
			cl_htab_del(&t, e);   /* the current entry may go */
	}
	ck_assert_uint_eq(n, N);
	ck_assert_uint_eq(t.n, N - (N + 2) / 3);
	n = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it))
		n++;
	ck_assert_uint_eq(n, t.n);
	/* several entries with one hash: first/next walk all of them */
	n = 0;
	for (struct cl_hnode *e = cl_htab_first(&t, hash_of(1)); e; e = cl_htab_next(e, hash_of(1)))
		n++;
	ck_assert_uint_eq(n, 29);   /* keys 1, 8, ..., 295 not divisible by 3: 43 - 14 */
	cl_htab_fini(&t);
}
END_TEST

/* A replacement takes the old entry's place in its chain: the iteration order stays. */
START_TEST(htab_replace_keeps_order)
{
	enum { N = 40 };
	struct cl_htab t;
	struct item v[N], r;
	uint64_t before[N], after[N];
	memset(v, 0, sizeof(v));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(cl_htab_init(&t, 8), 0);
	for (uint64_t i = 0; i < N; i++) {
		v[i].key = i;
		cl_htab_add(&t, &v[i].hn, hash_of(i % 5));   /* chains of several entries */
	}
	struct cl_htab_iter it;
	unsigned n = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it))
		before[n++] = cl_container_of(e, struct item, hn)->key;
	r.key = 17;
	cl_htab_replace(&t, &v[17].hn, &r.hn);
	ck_assert_uint_eq(t.n, N);
	n = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it)) {
		struct item *x = cl_container_of(e, struct item, hn);
		ck_assert_ptr_ne(x, &v[17]);
		after[n++] = x->key;
	}
	ck_assert_uint_eq(n, N);
	ck_assert_mem_eq(before, after, sizeof(before));
	ck_assert_uint_eq(r.hn.hash, hash_of(17 % 5));
	cl_htab_del(&t, &r.hn);   /* and it is an ordinary entry since */
	ck_assert_uint_eq(t.n, N - 1);
	cl_htab_fini(&t);
}
END_TEST

/*
 * A sparse table: iteration walks the chains in bucket order, each from its
 * head (the order the core's determinism rests on), stops after the last
 * entry, and reaches one in the very last bucket.
 */
START_TEST(htab_iterate_sparse)
{
	enum { NB = 1024 };
	static const uint64_t buckets[] = { 0, 5, 5, 700, NB - 1 };
	struct item v[5];
	struct cl_htab t;
	memset(v, 0, sizeof(v));
	ck_assert_int_eq(cl_htab_init(&t, NB), 0);
	for (unsigned i = 0; i < 5; i++)
		cl_htab_add(&t, &v[i].hn, buckets[i] + (uint64_t)i * NB);   /* no growth: n < nb */
	static const unsigned order[] = { 0, 2, 1, 3, 4 };   /* bucket 5: newest first */
	struct cl_htab_iter it;
	unsigned k = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it)) {
		ck_assert_uint_lt(k, 5);
		ck_assert_ptr_eq(e, &v[order[k++]].hn);
	}
	ck_assert_uint_eq(k, 5);
	ck_assert_ptr_null(cl_htab_iter_next(&t, &it));   /* stays at the end */
	cl_htab_del(&t, &v[4].hn);
	k = 0;
	for (struct cl_hnode *e = cl_htab_iter_first(&t, &it); e; e = cl_htab_iter_next(&t, &it))
		ck_assert_ptr_eq(e, &v[order[k++]].hn);
	ck_assert_uint_eq(k, 4);
	cl_htab_fini(&t);
}
END_TEST

START_TEST(htab_order_is_insert_history)
{
	/* two tables fed the same history iterate in the same order */
	struct cl_htab a, b;
	struct item x[64], y[64];
	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	ck_assert_int_eq(cl_htab_init(&a, 2), 0);
	ck_assert_int_eq(cl_htab_init(&b, 2), 0);
	for (int i = 0; i < 64; i++) {
		x[i].key = y[i].key = (uint64_t)i * 13;
		cl_htab_add(&a, &x[i].hn, hash_of(x[i].key));
		cl_htab_add(&b, &y[i].hn, hash_of(y[i].key));
	}
	struct cl_htab_iter ia, ib;
	struct cl_hnode *ea = cl_htab_iter_first(&a, &ia), *eb = cl_htab_iter_first(&b, &ib);
	for (; ea && eb; ea = cl_htab_iter_next(&a, &ia), eb = cl_htab_iter_next(&b, &ib))
		ck_assert_uint_eq(cl_container_of(ea, struct item, hn)->key,
				  cl_container_of(eb, struct item, hn)->key);
	ck_assert(!ea && !eb);
	cl_htab_fini(&a);
	cl_htab_fini(&b);
}
END_TEST

START_TEST(list_fifo_and_remove)
{
	struct cl_list head = CL_LIST_INIT(head);
	struct item v[10];
	memset(v, 0, sizeof(v));
	ck_assert(cl_list_empty(&head));
	ck_assert_ptr_null(cl_list_first(&head));
	ck_assert_ptr_null(cl_list_last(&head));
	for (int i = 0; i < 10; i++) {
		v[i].key = (uint64_t)i;
		cl_list_add_tail(&head, &v[i].link);
	}
	cl_list_del(&v[0].link);
	cl_list_del(&v[5].link);
	cl_list_del(&v[9].link);
	cl_list_del(&v[9].link);   /* a removed link is a list of its own: harmless */
	uint64_t want[] = { 1, 2, 3, 4, 6, 7, 8 };
	size_t k = 0;
	struct cl_list *it, *nx;
	cl_list_foreach(it, &head)
		ck_assert_uint_eq(cl_list_entry(it, struct item, link)->key, want[k++]);
	ck_assert_uint_eq(k, 7);
	ck_assert_uint_eq(cl_list_entry(cl_list_first(&head), struct item, link)->key, 1);
	ck_assert_uint_eq(cl_list_entry(cl_list_last(&head), struct item, link)->key, 8);
	ck_assert_ptr_null(cl_list_next(&head, &v[8].link));
	ck_assert_ptr_eq(cl_list_next(&head, &v[4].link), &v[6].link);
	cl_list_add_head(&head, &v[0].link);
	ck_assert_ptr_eq(cl_list_first(&head), &v[0].link);
	cl_list_foreach_safe(it, nx, &head)
		if (cl_list_entry(it, struct item, link)->key % 2 == 0)
			cl_list_del(it);
	k = 0;
	cl_list_foreach(it, &head) {
		ck_assert_uint_eq(cl_list_entry(it, struct item, link)->key % 2, 1);
		k++;
	}
	ck_assert_uint_eq(k, 3);   /* 1 3 7 */
}
END_TEST

START_TEST(list_splice)
{
	struct cl_list a, b;
	cl_list_init(&a);
	cl_list_init(&b);
	struct item v[6];
	memset(v, 0, sizeof(v));
	for (int i = 0; i < 6; i++) {
		v[i].key = (uint64_t)i;
		cl_list_add_tail(i < 2 ? &a : &b, &v[i].link);
	}
	cl_list_splice_tail(&a, &b);
	ck_assert(cl_list_empty(&b));
	uint64_t k = 0;
	struct cl_list *it;
	cl_list_foreach(it, &a)
		ck_assert_uint_eq(cl_list_entry(it, struct item, link)->key, k++);
	ck_assert_uint_eq(k, 6);
	cl_list_splice_tail(&a, &b);   /* empty source: no change */
	ck_assert_ptr_eq(cl_list_last(&a), &v[5].link);
}
END_TEST

/* ---- core/slab.c ---- */

/* Whether the n bytes at p all equal c. */
static bool all_bytes(const unsigned char *p, size_t n, unsigned c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

START_TEST(slab_objects_are_zeroed_aligned_and_apart)
{
	struct cl_slab_stats st0, st;
	cl_slab_stats(&st0);
	/* 200-byte objects: enough of them for several blocks */
	enum { N = 20000, SZ = 200 };
	static unsigned char *v[N];
	for (size_t i = 0; i < N; i++) {
		v[i] = cl_slab_alloc(SZ);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_uint_eq((uintptr_t)v[i] % 8, 0);
		ck_assert(all_bytes(v[i], SZ, 0));
		memset(v[i], (int)(i % 251) + 1, SZ);
	}
	cl_slab_stats(&st);
	ck_assert_uint_eq(st.live - st0.live, N);
	ck_assert_uint_eq(st.live_bytes - st0.live_bytes, (size_t)N * SZ);
	ck_assert_uint_ge(st.blocks - st0.blocks, 3);   /* 1 MB blocks */
	for (size_t i = 0; i < N; i++)   /* no object was written over by another */
		ck_assert_msg(all_bytes(v[i], SZ, (unsigned)(i % 251) + 1), "object %zu overwritten", i);
	for (size_t i = 0; i < N; i++)
		cl_slab_free(v[i], SZ);
	cl_slab_stats(&st);
	ck_assert_uint_eq(st.live, st0.live);
	ck_assert_uint_eq(st.live_bytes, st0.live_bytes);
	/* the freed ones come back, zeroed again, without new blocks */
	size_t blocks = st.blocks;
	for (size_t i = 0; i < N; i++) {
		v[i] = cl_slab_alloc(SZ - 3);   /* same 8-byte class */
		ck_assert(all_bytes(v[i], SZ - 3, 0));
	}
	cl_slab_stats(&st);
	ck_assert_uint_le(st.blocks, blocks + 1);   /* ASan holds a few back */
	for (size_t i = 0; i < N; i++)
		cl_slab_free(v[i], SZ - 3);
}
END_TEST

START_TEST(slab_reuses_oldest_free_first_and_sizes_by_class)
{
	enum { N = 300 };            /* more than ASan's quarantine */
	void *v[N];
	struct cl_slab_stats st0, st;
	for (size_t i = 0; i < N; i++)
		v[i] = cl_slab_alloc(104 + 13);
	for (size_t i = 0; i < N; i++)
		cl_slab_free(v[i], 104 + 13);
	/* 120 bytes is the class of 113..120: the first one freed comes back first */
	void *p = cl_slab_alloc(120);
	ck_assert_ptr_eq(p, v[0]);
	void *q = cl_slab_alloc(113);
	ck_assert_ptr_eq(q, v[1]);
	cl_slab_free(p, 120);
	cl_slab_free(q, 113);
	/* a size of another class does not take them */
	void *r = cl_slab_alloc(112);
	for (size_t i = 0; i < N; i++)
		ck_assert_ptr_ne(r, v[i]);
	cl_slab_free(r, 112);
	/* past CL_SLAB_MAX: calloc(), not counted */
	cl_slab_stats(&st0);
	unsigned char *big = cl_slab_alloc(CL_SLAB_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(big[CL_SLAB_MAX], 0);
	cl_slab_stats(&st);
	ck_assert_uint_eq(st.live, st0.live);
	cl_slab_free(big, CL_SLAB_MAX + 1);
	cl_slab_free(NULL, 64);
}
END_TEST

#ifdef UTIL_ASAN
START_TEST(slab_poisons_free_objects_under_asan)
{
	unsigned char *p = cl_slab_alloc(72);
	ck_assert(!__asan_address_is_poisoned(p));
	ck_assert(!__asan_address_is_poisoned(p + 71));
	ck_assert(__asan_address_is_poisoned(p + 72));   /* the red zone */
	cl_slab_free(p, 72);
	ck_assert(__asan_address_is_poisoned(p));
	ck_assert(__asan_address_is_poisoned(p + 40));
	/* a size that is not a multiple of 8: the bytes up to the class's are poisoned */
	unsigned char *q = cl_slab_alloc(97);
	ck_assert(!__asan_address_is_poisoned(q + 96));
	ck_assert(__asan_address_is_poisoned(q + 97));
	cl_slab_free(q, 97);
	/* the first object of a block: its header in front is poisoned */
	unsigned char *r = cl_slab_alloc(CL_SLAB_MAX);   /* a class nothing else used */
	ck_assert(__asan_address_is_poisoned(r - 1));
	cl_slab_free(r, CL_SLAB_MAX);
}
END_TEST
#endif

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("htab");
	tcase_add_test(tc, htab_add_find_del_grow);
	tcase_add_test(tc, htab_iterate_and_delete);
	tcase_add_test(tc, htab_iterate_sparse);
	tcase_add_test(tc, htab_replace_keeps_order);
	tcase_add_test(tc, htab_order_is_insert_history);
	suite_add_tcase(s, tc);
	tc = tcase_create("list");
	tcase_add_test(tc, list_fifo_and_remove);
	tcase_add_test(tc, list_splice);
	suite_add_tcase(s, tc);
	tc = tcase_create("slab");
	tcase_add_test(tc, slab_objects_are_zeroed_aligned_and_apart);
	tcase_add_test(tc, slab_reuses_oldest_free_first_and_sizes_by_class);
#ifdef UTIL_ASAN
	tcase_add_test(tc, slab_poisons_free_objects_under_asan);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
