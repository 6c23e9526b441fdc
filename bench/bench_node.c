/*
 * bench_node.c - the node agent's longest stall while a fresh node joins a
 * loaded cluster (issue 9, target 5), without corosync or a daemon.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Three agents (core/node.h) on an in-process bus that delivers every
 * message to every member in one order, on the real monotonic clock: nodes
 * 1 and 2 form a cluster, node 1's clients take N leases (default
 * 1,000,000), then node 3 joins.  Every call into node 1's agent is timed
 * (deliveries, ticks, the configuration change); the figures are the
 * longest single call and what it was, how many took a quarter of the
 * validity or more, node 1's validity lapses (its own "validity lapsed"
 * lines), the join time (node 3's configuration change to synced) and the
 * load rate.  The bus adds no latency, so the stalls are the agent's own
 * CPU time: what a loaded machine stretches and what makes a holder lapse
 * in bench/bench_join.sh.  Figures only, no assertions on timing; a broken
 * run (a grant missing, an agent failed) stops with exit status 1.
 *
 * usage: bench-node [--leases N] [--validity MS]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "lease.h"
#include "node.h"

#define NODES 3

struct msg {
	struct msg *next;
	uint32_t sender;
	size_t len;
	uint8_t data[];
};

struct bnode {
	uint32_t id;
	struct cl_node *n;
	bool member;
	uint64_t granted, lapses, failed;
};

static struct bnode nodes[NODES + 1];
static struct msg *head, *tail;
static uint32_t members[NODES];
static size_t nmembers;
static uint64_t ring_seq;

/* the longest call into node 1 */
static uint64_t worst_us, slow_calls, slow_us;
static const char *worst_what = "none";

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t b_now(void *ctx)
{
	(void)ctx;
	return mono_us();
}

static int b_mcast(void *ctx, const void *buf, size_t len)
{
	struct bnode *b = ctx;
	struct msg *m = malloc(sizeof(*m) + len);
	if (!m) {
		fprintf(stderr, "bench-node: out of memory\n");
		exit(1);
	}
	m->next = NULL;
	m->sender = b->id;
	m->len = len;
	memcpy(m->data, buf, len);
	if (tail)
		tail->next = m;
	else
		head = m;
	tail = m;
	return 0;
}

static void b_event(void *ctx, const struct cl_node_event *ev)
{
	struct bnode *b = ctx;
	if (ev->type == CL_NODE_EV_GRANTED)
		b->granted++;
	if (ev->type == CL_NODE_EV_FATAL)
		b->failed++;
}

static void b_log(void *ctx, int level, const char *msg)
{
	struct bnode *b = ctx;
	if (strstr(msg, "validity lapsed"))
		b->lapses++;
	if (level <= LOG_WARNING && getenv("BENCH_NODE_LOG"))
		fprintf(stderr, "n%u: %s\n", b->id, msg);
}

static const struct cl_node_ops ops = { .now = b_now, .mcast = b_mcast, .event = b_event,
					.log = b_log };

/* Times a call into node id (only node 1's are counted). */
#define TIMED(id, what, call)                                                           \
	do {                                                                            \
		uint64_t t0_ = mono_us();                                               \
		call;                                                                   \
		uint64_t d_ = mono_us() - t0_;                                          \
		if ((id) == 1) {                                                        \
			if (d_ > worst_us) {                                            \
				worst_us = d_;                                          \
				worst_what = (what);                                    \
			}                                                               \
			if (d_ >= validity_us / 4) {                                    \
				slow_calls++;                                           \
				slow_us += d_;                                          \
			}                                                               \
		}                                                                       \
	} while (0)

static uint64_t validity_us = 1000000;

static bool is_member(uint32_t id)
{
	for (size_t i = 0; i < nmembers; i++)
		if (members[i] == id)
			return true;
	return false;
}

/* Delivers one queued message to every member; false when none is queued. */
static bool step(void)
{
	struct msg *m = head;
	if (!m)
		return false;
	head = m->next;
	if (!head)
		tail = NULL;
	for (size_t i = 0; i < nmembers; i++) {
		uint32_t id = members[i];
		TIMED(id, "a delivery", cl_node_deliver(nodes[id].n, m->sender, m->data, m->len));
	}
	free(m);
	return true;
}

/* Ticks every member whose deadline is due. */
static void ticks(void)
{
	uint64_t now = mono_us();
	for (size_t i = 0; i < nmembers; i++) {
		uint32_t id = members[i];
		if (cl_node_next_deadline(nodes[id].n) <= now)
			TIMED(id, "a tick", cl_node_tick(nodes[id].n));
	}
}

/* Runs the bus and the timers until done() or the deadline (real time). */
static bool run_until(bool (*done)(void), uint64_t within_us)
{
	uint64_t end = mono_us() + within_us;
	while (!done()) {
		if (mono_us() > end)
			return false;
		for (int i = 0; i < 64 && step(); i++)
			;
		ticks();
		for (uint32_t id = 1; id <= NODES; id++)
			if (nodes[id].n && (nodes[id].failed || cl_node_failed(nodes[id].n))) {
				fprintf(stderr, "bench-node: node %u's agent failed\n", id);
				exit(1);
			}
	}
	return true;
}

static void config(const uint32_t *ids, size_t n)
{
	uint32_t left[NODES], joined[NODES];
	size_t nl = 0, nj = 0;
	for (size_t i = 0; i < nmembers; i++) {
		bool stays = false;
		for (size_t j = 0; j < n; j++)
			stays |= ids[j] == members[i];
		if (!stays)
			left[nl++] = members[i];
	}
	for (size_t j = 0; j < n; j++)
		if (!is_member(ids[j]))
			joined[nj++] = ids[j];
	memcpy(members, ids, n * sizeof(*ids));
	nmembers = n;
	ring_seq += 4;
	struct cl_ring ring = { ids[0], ring_seq };
	for (size_t i = 0; i < n; i++)
		TIMED(ids[i], "a configuration change",
		      cl_node_confchg(nodes[ids[i]].n, &ring, ids, n, left, nl, joined, nj));
	for (size_t i = 0; i < n; i++)
		TIMED(ids[i], "a quorum verdict", cl_node_quorum(nodes[ids[i]].n, true, &ring));
}

static void add_node(uint32_t id)
{
	struct cl_node_config c = { .nodeid = id, .validity_us = validity_us };
	nodes[id].id = id;
	nodes[id].n = cl_node_new(&c, &ops, &nodes[id]);
	if (!nodes[id].n) {
		fprintf(stderr, "bench-node: cl_node_new failed\n");
		exit(1);
	}
}

static uint64_t want;
static bool past_grace(void)
{
	if (!cl_node_synced(nodes[1].n) || !cl_node_synced(nodes[2].n))
		return false;
	struct cl_sm_stats st;
	cl_sm_stats(cl_node_sm(nodes[1].n), &st);
	return !st.grace;
}
static bool all_granted(void)
{
	return nodes[1].granted >= want;
}
static bool all_replicated(void)
{
	if (!cl_node_sm(nodes[2].n))
		return false;
	struct cl_sm_stats st;
	cl_sm_stats(cl_node_sm(nodes[2].n), &st);
	return st.holds >= want && !head;
}
static bool n3_synced(void)
{
	return cl_node_synced(nodes[3].n);
}
static bool quiet(void)
{
	return !head;
}

static long vm_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	uint64_t count = 1000000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--leases") && i + 1 < argc) {
			count = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--validity") && i + 1 < argc) {
			validity_us = strtoull(argv[++i], NULL, 10) * 1000;
		} else {
			fprintf(stderr, "usage: bench-node [--leases N] [--validity MS]\n");
			return 2;
		}
	}
	if (!count || validity_us < 100000) {
		fprintf(stderr, "bench-node: --leases >= 1, --validity >= 100\n");
		return 2;
	}
	add_node(1);
	add_node(2);
	uint32_t two[] = { 1, 2 }, three[] = { 1, 2, 3 };
	config(two, 2);
	if (!run_until(past_grace, 60000000)) {
		fprintf(stderr, "bench-node: nodes 1 and 2 not synced past the grace period\n");
		return 1;
	}

	/* the load: 100 clients, at most 5,000 acquires outstanding */
	uint64_t t0 = mono_us();
	long rss0 = vm_rss_kb();
	char name[64];
	for (uint64_t i = 0; i < count; i++) {
		int len = snprintf(name, sizeof(name), "join/%03" PRIu64 "/%07" PRIu64, i % 100, i / 100);
		int rc;
		TIMED(1, "an acquire", rc = cl_node_acquire(nodes[1].n, 1 + i % 100, i, 0, name,
							   (size_t)len, CL_MODE_EX, 0, 0));
		if (rc != 0) {
			fprintf(stderr, "bench-node: acquire %s: %d\n", name, rc);
			return 1;
		}
		if (i % 5000 == 4999) {
			want = i + 1 - 5000;
			if (!run_until(all_granted, 60000000)) {
				fprintf(stderr, "bench-node: grants stopped at %" PRIu64 "\n",
					nodes[1].granted);
				return 1;
			}
		}
	}
	want = count;
	if (!run_until(all_granted, 120000000) || !run_until(all_replicated, 120000000)) {
		fprintf(stderr, "bench-node: %" PRIu64 " of %" PRIu64 " granted\n", nodes[1].granted,
			count);
		return 1;
	}
	uint64_t t1 = mono_us();
	long rss1 = vm_rss_kb();
	printf("load: %" PRIu64 " leases on node 1 in %.0f ms: %.0f grants/s (in-process bus, "
	       "3 agents in one process: VmRSS +%ld B/lease for the holder and a replica)\n",
	       count, (t1 - t0) / 1e3, count * 1e6 / (double)(t1 - t0), (rss1 - rss0) * 1024 / (long)count);
	printf("during the load: node 1's longest call %.1f ms (%s), %" PRIu64 " calls >= %.0f ms, "
	       "validity lapses %" PRIu64 "\n", worst_us / 1e3, worst_what, slow_calls,
	       validity_us / 4e3, nodes[1].lapses);

	/* the join */
	worst_us = slow_calls = slow_us = 0;
	worst_what = "none";
	uint64_t lapses0 = nodes[1].lapses;
	add_node(3);
	uint64_t t2 = mono_us();
	config(three, 3);
	bool ok = run_until(n3_synced, 600000000);
	uint64_t t3 = mono_us();
	if (ok)
		ok = run_until(quiet, 60000000);
	/* some time after, for the ticks of a round's end */
	uint64_t settle = mono_us() + 2 * validity_us;
	while (mono_us() < settle) {
		while (step())
			;
		ticks();
	}
	if (!ok) {
		fprintf(stderr, "bench-node: node 3 did not sync\n");
		return 1;
	}
	struct cl_sm_stats st;
	cl_sm_stats(cl_node_sm(nodes[3].n), &st);
	printf("join: node 3 synced %.0f ms after its configuration change, %" PRIu64 " holds\n",
	       (t3 - t2) / 1e3, st.holds);
	printf("during the join: node 1's longest call %.1f ms (%s), %" PRIu64 " calls >= %.0f ms "
	       "(%.0f ms in all), validity %" PRIu64 "ms, lapses %" PRIu64 "\n", worst_us / 1e3,
	       worst_what, slow_calls, validity_us / 4e3, slow_us / 1e3, validity_us / 1000,
	       nodes[1].lapses - lapses0);
	for (uint32_t id = 1; id <= NODES; id++)
		cl_node_free(nodes[id].n);
	return 0;
}
