/*
 * bench_sm.c - microbenchmark of the replicated lease + index state machine.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Loads N leases (default 1,000,000 names "user%07d/INBOX", EX, held by
 * nodes 1..3), reports load time and resident memory per lease, then, with
 * that state loaded, the rate of: an uncontended acquire+release, a
 * contended handover (WAIT, release, grant to the waiter), an index put, an
 * index get, a name lookup, and the time of cl_sm_hash() over the whole
 * state.  It prints figures only; nothing is asserted about timing.  The
 * machine's answers are checked, so a broken machine stops the run.
 *
 * usage: bench-sm [--leases N] [--time SECONDS]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index.h"
#include "lease.h"
#include "wire.h"

#define MAX_NODE 8

struct bench_ctx {
	uint64_t actions;
	uint64_t grants;
	uint64_t denies;
	uint64_t index_errs;
	uint64_t grant_epoch[MAX_NODE + 1];   /* last GRANT epoch per node */
};

static void on_action(void *ctx, const struct cl_action *a)
{
	struct bench_ctx *b = ctx;

	b->actions++;
	switch (a->type) {
	case CL_ACT_GRANT:
		b->grants++;
		if (a->node <= MAX_NODE)
			b->grant_epoch[a->node] = a->epoch;
		break;
	case CL_ACT_DENY:
		b->denies++;
		break;
	case CL_ACT_INDEX_DONE:
		if (a->err != 0)
			b->index_errs++;
		break;
	default:
		break;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes from /proc/self/status, or 0 if unknown. */
static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtoull(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb * 1024;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-sm: %s failed: %d\n", what, rc);
	exit(1);
}

static void apply(struct cl_sm *sm, uint32_t sender, const struct cl_msg *m)
{
	int rc = cl_sm_apply(sm, sender, m);

	if (rc != 0)
		die("cl_sm_apply", rc);
}

static void acquire(struct cl_sm *sm, uint32_t node, const void *name, size_t len,
		    uint8_t mode, uint8_t flags, uint64_t req)
{
	struct cl_msg m = {
		.type = CL_MSG_ACQUIRE, .mode = mode, .flags = flags,
		.namelen = (uint16_t)len, .name = name, .req_id = req,
	};
	apply(sm, node, &m);
}

static void release(struct cl_sm *sm, uint32_t node, const void *name, size_t len,
		    uint64_t epoch)
{
	struct cl_msg m = {
		.type = CL_MSG_RELEASE, .namelen = (uint16_t)len, .name = name, .epoch = epoch,
	};
	apply(sm, node, &m);
}

/* "2.13M" / "874.2k" / "12.0" */
static const char *fmt_rate(double r, char *buf, size_t cap)
{
	if (r >= 1e6)
		snprintf(buf, cap, "%.2fM", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, cap, "%.1fk", r / 1e3);
	else
		snprintf(buf, cap, "%.1f", r);
	return buf;
}

struct figure {
	const char *tag;         /* short name for the summary line */
	double ops_per_s;
};

static struct figure figs[8];
static size_t nfigs;

static void report(const char *label, const char *tag, uint64_t ops, double secs)
{
	char buf[32];
	double rate = (double)ops / secs;

	printf("%s: %s ops/s (%.0f ns/op)\n", label, fmt_rate(rate, buf, sizeof(buf)),
	       secs * 1e9 / (double)ops);
	figs[nfigs].tag = tag;
	figs[nfigs].ops_per_s = rate;
	nfigs++;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-sm [--leases N] [--time SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t nleases = 1000000;
	double budget = 1.0;     /* seconds per measured figure */
	struct bench_ctx bc;
	struct cl_sm_config cfg = { .index_mem_max = 0 };
	struct cl_sm *sm;
	const uint32_t members[] = { 1, 2, 3 };
	const struct cl_ring ring = { .rep = 1, .seq = 1 };
	struct cl_sm_stats st;
	char name[64];
	uint64_t rss0, rss1, ops, req = 1;
	double t0, t, load_s, hash_best = 1e30;
	uint64_t hash = 0;
	char buf[32];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--leases") == 0 && i + 1 < argc) {
			char *end;
			nleases = strtoull(argv[++i], &end, 10);
			if (*end != '\0' || nleases == 0 || nleases > 100000000)
				usage();
		} else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			budget = strtod(argv[++i], NULL);
			if (!(budget > 0.0 && budget <= 60.0))
				usage();
		} else {
			usage();
		}
	}

	memset(&bc, 0, sizeof(bc));
	rss0 = rss_bytes();
	sm = cl_sm_new(&cfg, on_action, &bc);
	if (sm == NULL)
		die("cl_sm_new", -ENOMEM);
	if (cl_sm_confchg(sm, &ring, members, 3, NULL, 0) != 0)
		die("cl_sm_confchg", -EINVAL);
	{
		struct cl_msg q = { .type = CL_MSG_QUORUM, .flags = CL_QUORUM_YES, .ring = ring };
		apply(sm, 1, &q);
	}
	if (!cl_sm_quorate(sm))
		die("quorum", -1);

	/* ---- load ---- */
	t0 = now_s();
	for (uint64_t i = 0; i < nleases; i++) {
		int n = snprintf(name, sizeof(name), "user%07" PRIu64 "/INBOX", i);
		acquire(sm, (uint32_t)(i % 3) + 1, name, (size_t)n, CL_MODE_EX, 0, req++);
	}
	load_s = now_s() - t0;
	rss1 = rss_bytes();
	cl_sm_stats(sm, &st);
	if (st.holds != nleases || bc.grants != nleases) {
		fprintf(stderr, "bench-sm: load: %" PRIu64 " holds, %" PRIu64 " grants, expected %"
			PRIu64 "\n", st.holds, bc.grants, nleases);
		return 1;
	}
	printf("load %" PRIu64 " leases: %.2f s (%s leases/s)\n", nleases, load_s,
	       fmt_rate((double)nleases / load_s, buf, sizeof(buf)));
	printf("RSS per lease: %.1f bytes (VmRSS %.1f MiB -> %.1f MiB)\n",
	       (double)(rss1 - rss0) / (double)nleases, (double)rss0 / 1048576.0,
	       (double)rss1 / 1048576.0);

	/* ---- acquire + release on a free name ---- */
	{
		static const char nm[] = "bench/free";
		uint64_t g0 = bc.grants;

		ops = 0;
		t0 = now_s();
		do {
			for (int k = 0; k < 1000; k++) {
				acquire(sm, 1, nm, sizeof(nm) - 1, CL_MODE_EX, 0, req++);
				release(sm, 1, nm, sizeof(nm) - 1, bc.grant_epoch[1]);
			}
			ops += 1000;
		} while ((t = now_s() - t0) < budget);
		if (bc.grants - g0 != ops || cl_sm_owner(sm, nm, sizeof(nm) - 1) != CL_NODE_NONE)
			die("uncontended acquire+release (grants)", -1);
		report("acquire+release uncontended", "acq+rel", ops, t);
	}

	/* ---- contended handover: holder h, waiter w; w WAITs, h releases -> grant to w ---- */
	{
		static const char nm[] = "bench/hot";
		uint32_t h = 1, w = 2;
		uint64_t he;

		acquire(sm, h, nm, sizeof(nm) - 1, CL_MODE_EX, 0, req++);
		he = bc.grant_epoch[h];
		ops = 0;
		t0 = now_s();
		do {
			for (int k = 0; k < 1000; k++) {
				uint64_t before = bc.grant_epoch[w];
				uint32_t x;

				acquire(sm, w, nm, sizeof(nm) - 1, CL_MODE_EX, CL_ACQ_WAIT, req++);
				release(sm, h, nm, sizeof(nm) - 1, he);
				if (bc.grant_epoch[w] <= before)
					die("contended handover (no grant to the waiter)", -1);
				he = bc.grant_epoch[w];
				x = h;
				h = w;
				w = x;
			}
			ops += 1000;
		} while ((t = now_s() - t0) < budget);
		report("contended handover (WAIT + release + grant)", "handover", ops, t);
	}

	/* ---- index put / get by the EX holder ---- */
	{
		static const char nm[] = "bench/idx";
		uint8_t val[64];
		char key[16];
		uint64_t e, errs0 = bc.index_errs;
		volatile uint64_t sink = 0;

		memset(val, 'v', sizeof(val));
		acquire(sm, 1, nm, sizeof(nm) - 1, CL_MODE_EX, 0, req++);
		e = bc.grant_epoch[1];
		ops = 0;
		t0 = now_s();
		do {
			for (unsigned k = 0; k < 1000; k++) {
				int n = snprintf(key, sizeof(key), "k%03u", k & 255);
				struct cl_msg m = {
					.type = CL_MSG_INDEX_PUT, .namelen = sizeof(nm) - 1,
					.name = (const uint8_t *)nm, .keylen = (uint8_t)n,
					.key = (const uint8_t *)key, .vallen = sizeof(val),
					.value = val, .epoch = e, .req_id = req++,
				};
				val[0] = (uint8_t)k;
				apply(sm, 1, &m);
			}
			ops += 1000;
		} while ((t = now_s() - t0) < budget);
		if (bc.index_errs != errs0)
			die("index put (errors)", -1);
		report("index put (64-byte value)", "put", ops, t);

		ops = 0;
		t0 = now_s();
		do {
			for (unsigned k = 0; k < 1000; k++) {
				int n = snprintf(key, sizeof(key), "k%03u", k & 255);
				const uint8_t *v;
				uint32_t vl;
				int rc = cl_index_get(sm, nm, sizeof(nm) - 1, key, (size_t)n, &v,
						      &vl, NULL);
				if (rc != 0 || vl != sizeof(val))
					die("cl_index_get", rc);
				sink += v[1];
			}
			ops += 1000;
		} while ((t = now_s() - t0) < budget);
		(void)sink;
		report("index get", "get", ops, t);
	}

	/* ---- owner lookup over the loaded names ---- */
	{
		uint64_t i = 0;
		volatile uint32_t sink = 0;

		ops = 0;
		t0 = now_s();
		do {
			for (int k = 0; k < 1000; k++) {
				int n;

				i = (i + 7919) % nleases;
				n = snprintf(name, sizeof(name), "user%07" PRIu64 "/INBOX", i);
				sink += cl_sm_owner(sm, name, (size_t)n);
			}
			ops += 1000;
		} while ((t = now_s() - t0) < budget);
		(void)sink;
		report("cl_sm_owner lookup (random name)", "owner", ops, t);
	}

	/* ---- hash of the whole state ---- */
	for (int k = 0; k < 3; k++) {
		t0 = now_s();
		hash = cl_sm_hash(sm);
		t = now_s() - t0;
		if (t < hash_best)
			hash_best = t;
	}
	cl_sm_stats(sm, &st);
	printf("cl_sm_hash over %" PRIu64 " records: %.1f ms (%.1f ns/record, hash %016" PRIx64
	       ")\n", st.records, hash_best * 1e3, hash_best * 1e9 / (double)st.records, hash);

	/*
	 * ---- the snapshot a joiner gets: encoded by the sender and decoded and
	 * hashed by the joiner, each in one pass of its loop today ----
	 */
	double enc_s = 0, dec_s = 0;
	size_t snap_len = 0;
	{
		uint8_t *snap = NULL;
		/* a joiner's table has its own key (hashkey.c), as every node's has */
		struct cl_sm_config jcfg = cfg;
		jcfg.table_key = (struct cl_hash_key){ 0x6a6f696e6572ull, 0x6b6579ull };
		struct cl_sm *fresh = cl_sm_new(&jcfg, NULL, NULL);
		t0 = now_s();
		if (!fresh || cl_snap_encode_order(sm, false, &snap, &snap_len) < 0) {
			fprintf(stderr, "bench-sm: encoding the snapshot failed\n");
			return 1;
		}
		enc_s = now_s() - t0;
		t0 = now_s();
		if (cl_snap_decode(snap, snap_len, fresh) < 0 || cl_sm_hash(fresh) != hash) {
			fprintf(stderr, "bench-sm: the snapshot did not load back\n");
			return 1;
		}
		dec_s = now_s() - t0;
		printf("snapshot: %zu bytes (%.0f B/lease); encode %.1f ms, decode and hash %.1f ms\n",
		       snap_len, (double)snap_len / (double)nleases, enc_s * 1e3, dec_s * 1e3);
		free(snap);
		cl_sm_free(fresh);
	}

	/* ---- summary ---- */
	printf("summary: leases=%" PRIu64 " load=%.2fs rss/lease=%.0fB",
	       nleases, load_s, (double)(rss1 - rss0) / (double)nleases);
	for (size_t i = 0; i < nfigs; i++)
		printf(" %s=%s/s", figs[i].tag, fmt_rate(figs[i].ops_per_s, buf, sizeof(buf)));
	printf(" hash=%.0fms snap=%zuB encode=%.0fms decode=%.0fms records=%" PRIu64 " epoch=%"
	       PRIu64 " lsn=%" PRIu64 "\n", hash_best * 1e3, snap_len, enc_s * 1e3, dec_s * 1e3,
	       st.records, st.epoch, st.lsn);

	cl_sm_free(sm);
	return 0;
}
