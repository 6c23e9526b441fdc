/*
 * cpg_ping.c - bare corosync CPG round trip, the baseline for the cross-node
 * handover figure of bench/bench_cluster.sh.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cpg-ping echo             join group "clbench-ping"; answer every PING
 *                             from another node with a PONG (agreed order)
 *   cpg-ping ping N [PEERS [GAP_MS]]
 *                             send N PINGs one at a time, each waiting for
 *                             the PONG from a peer; prints p50/p99 round trip
 *                             (wait for PEERS other members first, default 1)
 *                             and the one-way time, PING sent to its delivery
 *                             at the peer (the PONG carries the peer's
 *                             CLOCK_MONOTONIC, one clock for the whole host).
 *                             GAP_MS (default 0) sleeps before each PING:
 *                             back to back, a PING is sent just after the
 *                             PONG's delivery, while the token is near; after
 *                             a gap it starts at a random point of the
 *                             token's rotation, as a lease release does.
 */
#define _GNU_SOURCE 1
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>

struct msg {
	uint32_t type;   /* 1 PING, 2 PONG */
	uint32_t from;
	uint64_t seq;
	uint64_t echo_rx_ns;   /* PONG: when the echo got the PING */
};

static cpg_handle_t H;
static uint32_t me;
static int echo_mode;
static uint64_t got_pong = UINT64_MAX, pong_rx_ns;
static uint32_t nmembers;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void send_msg(uint32_t type, uint64_t seq, uint64_t rx)
{
	struct msg m = { type, me, seq, rx };
	struct iovec iov = { &m, sizeof(m) };
	while (cpg_mcast_joined(H, CPG_TYPE_AGREED, &iov, 1) == CS_ERR_TRY_AGAIN)
		usleep(100);
}

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
		    void *data, size_t len)
{
	(void)h;
	(void)g;
	(void)pid;
	if (len < sizeof(struct msg))
		return;
	const struct msg *m = data;
	if (nodeid == me)
		return;
	if (echo_mode && m->type == 1) {
		send_msg(2, m->seq, now_ns());
	} else if (!echo_mode && m->type == 2) {
		got_pong = m->seq;
		pong_rx_ns = m->echo_rx_ns;
	}
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *mem,
		    size_t nmem, const struct cpg_address *left, size_t nleft,
		    const struct cpg_address *joined, size_t njoined)
{
	(void)h;
	(void)g;
	(void)mem;
	(void)left;
	(void)nleft;
	(void)joined;
	(void)njoined;
	nmembers = (uint32_t)nmem;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "echo") && strcmp(argv[1], "ping"))) {
		fprintf(stderr, "usage: cpg-ping echo | cpg-ping ping N [PEERS [GAP_MS]]\n");
		return 2;
	}
	echo_mode = !strcmp(argv[1], "echo");
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	uint32_t peers = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;
	int gap_ms = argc > 4 ? atoi(argv[4]) : 0;
	cpg_callbacks_t cb = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
	if (cpg_initialize(&H, &cb) != CS_OK) {
		fprintf(stderr, "cpg-ping: cpg_initialize failed (corosync running?)\n");
		return 3;
	}
	cpg_local_get(H, &me);
	struct cpg_name g;
	snprintf(g.value, sizeof(g.value), "clbench-ping");
	g.length = (uint32_t)strlen(g.value);
	if (cpg_join(H, &g) != CS_OK) {
		fprintf(stderr, "cpg-ping: cpg_join failed\n");
		return 3;
	}
	int fd;
	cpg_fd_get(H, &fd);
	if (echo_mode) {
		for (;;) {
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, -1) > 0 && cpg_dispatch(H, CS_DISPATCH_ALL) != CS_OK)
				return 1;
		}
	}
	uint64_t deadline = now_ns() + 20000000000ull;
	while (nmembers < peers + 1 && now_ns() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 100) > 0)
			cpg_dispatch(H, CS_DISPATCH_ALL);
	}
	if (nmembers < peers + 1) {
		fprintf(stderr, "cpg-ping: only %u members in the group\n", nmembers);
		return 1;
	}
	uint64_t *v = calloc((size_t)n, sizeof(*v)), *ow = calloc((size_t)n, sizeof(*ow));
	uint64_t t0 = now_ns();
	int done = 0;
	for (; done < n; done++) {
		if (gap_ms > 0) {
			struct timespec ts = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
		uint64_t a = now_ns();
		send_msg(1, (uint64_t)done, 0);
		while (got_pong != (uint64_t)done) {
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, 2000) <= 0) {
				fprintf(stderr, "cpg-ping: no PONG for %d\n", done);
				goto out;
			}
			cpg_dispatch(H, CS_DISPATCH_ALL);
		}
		v[done] = now_ns() - a;
		ow[done] = pong_rx_ns > a ? pong_rx_ns - a : 0;
	}
out:
	if (done > 10) {
		uint64_t tot = now_ns() - t0;
		qsort(v, (size_t)done, sizeof(*v), cmp_u64);
		qsort(ow, (size_t)done, sizeof(*ow), cmp_u64);
		printf("cpg ping-pong (node %u, %u members, gap %d ms): %d round trips, p50 %.0f us, p99 %.0f us, "
		       "%.0f/s; one way p50 %.0f us\n",
		       me, nmembers, gap_ms, done, (double)v[done / 2] / 1e3, (double)v[done * 99 / 100] / 1e3,
		       done / ((double)tot / 1e9), (double)ow[done / 2] / 1e3);
	}
	cpg_finalize(H);
	free(v);
	free(ow);
	return 0;
}
