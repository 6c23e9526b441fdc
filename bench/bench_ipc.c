/*
 * bench_ipc.c - client-side latency benchmarks through libcorolease.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   bench-ipc [local] [-n ITER]
 *       Against the local coroleased (e.g. './dev run'):
 *       1. bare socket round trip, the floor of coroleased's transport: this
 *          program forks a tiny echo server on a SOCK_SEQPACKET socket, run
 *          by a libqb loop as coroleased's is; and, for reference, a bare
 *          libqb IPC round trip (a libqb echo server, shared-memory rings,
 *          answering on the event channel with qb_ipcs_event_send());
 *       2. OWNER query through the library (a daemon round trip with a hash
 *          lookup, no cluster message);
 *       3. re-acquire: corolease_acquire() of a name this node already holds
 *          or lingers on (the fast path: IPC only), then corolease_release();
 *          latency of the acquire call, and acquire+release pairs per second.
 *       p50/p99 of each, and ratios against the bare socket round trip (and
 *       the re-acquire's against the bare libqb one, issue 9's target 3).
 *       The four are taken in turn in blocks of 500 (ITER rounded up), so each
 *       sees the same moments of the machine; the echo servers run under
 *       the daemon's own scheduling (its realtime_priority).
 *       Without a daemon it says so and exits 0 (nothing measured).
 *
 *   bench-ipc pingpong NAME SECS
 *       Cross-node handover: run on two nodes at once (bench/bench_cluster.sh).
 *       Loop: acquire NAME EX with WAIT, release it at once; the other node's
 *       waiter gets it next, so each grant is one handover.  Prints grants/s
 *       and the mean grant-to-grant time.
 *
 *   bench-ipc handover NAME SECS FILE [HOLD_MS]
 *       The handover itself, as the issue measures it: the releaser's
 *       timestamp to the waiter's grant.  Run on two nodes at once with the
 *       same FILE (a file both see, e.g. in /tmp).  Loop: acquire NAME EX
 *       with WAIT; on the grant, read the other side's release time from
 *       FILE and record now - then; hold HOLD_MS (default 20, so the other
 *       side's request is queued in the cluster before the release), write
 *       the release time to FILE, release.  CLOCK_MONOTONIC is one clock for
 *       every process of the host, network namespaces or not.  Prints p50,
 *       p99 and the count of the handovers this side received.
 *
 *   bench-ipc load PREFIX COUNT CONNS WINDOW [START_NS]
 *       Throughput of cluster grants (issue 9, target 4): CONNS connections
 *       of this process acquire COUNT new names PREFIX/CONN/I between them,
 *       EX without WAIT, through corolease_acquire_async() with at most
 *       WINDOW outstanding per connection, from START_NS (CLOCK_MONOTONIC,
 *       so several nodes of one host start together; default now) until the
 *       last grant.  Prints the grants, failures and grants/s; the leases are
 *       held until the program exits.  Run on every node at once by
 *       bench/bench_cluster.sh, which adds the rates up.  The acquires each
 *       connection makes in one go are corked (corolease_cork()), so they
 *       reach the daemon many a system call; BENCH_NOCORK=1 sends each
 *       alone, as before corolease_cork() existed.  BENCH_TIMELINE=1 also
 *       prints the grants of each 100 ms from the start (the first 60 s).
 *
 *   bench-ipc puts PREFIX COUNT CONNS [START_NS [WINDOW]]
 *       Throughput of index puts (issue 9, target 4): CONNS processes, each
 *       with its own connection, acquire PREFIX/CONN EX and then write
 *       COUNT/CONNS values (32 bytes, keys k00..k63 in turn, so the index
 *       stays small) from START_NS (as for load; 0: now) on.  WINDOW 0 (the
 *       default): with corolease_index_put(), one at a time per connection;
 *       WINDOW N: with corolease_index_put_async(), at most N in flight per
 *       connection, corked as load's acquires (BENCH_NOCORK=1: not).
 *       Prints the puts, failures (and the first error) and puts/s from
 *       START_NS to the last answer.
 *
 *   bench-ipc now
 *       Prints CLOCK_MONOTONIC in ns (to compute a START_NS).
 *
 * Figures only, no assertions.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include <corolease.h>
#include <corolease_admin.h>

#include "bench_util.h"

struct stats {
	double p50_us, p99_us, mean_us, per_s;
};

static struct stats summarize(uint64_t *v, size_t n, uint64_t total_ns)
{
	struct stats s;
	qsort(v, n, sizeof(*v), cmp_u64);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.p50_us = (double)v[n / 2] / 1e3;
	s.p99_us = (double)v[(n * 99) / 100] / 1e3;
	s.mean_us = (double)sum / (double)n / 1e3;
	s.per_s = (double)n / ((double)total_ns / 1e9);
	return s;
}

static void print_stats(const char *what, struct stats s)
{
	printf("%-34s p50 %8.2f us  p99 %8.2f us  mean %8.2f us  %9.0f ops/s\n", what, s.p50_us,
	       s.p99_us, s.mean_us, s.per_s);
}

/* ---- timing an echo server ---- */

struct echo_req {
	struct qb_ipc_request_header h;
	uint64_t cookie;
	uint32_t x;
};

/* One request and its echo over conn: 0, or -1 when the server is gone. */
typedef int (*round_trip_fn)(void *conn, struct echo_req *rq, uint8_t *rb, size_t cap);

static int qb_round_trip(void *conn, struct echo_req *rq, uint8_t *rb, size_t cap)
{
	struct iovec iov = { rq, sizeof(*rq) };
	return qb_ipcc_sendv(conn, &iov, 1) < 0 || qb_ipcc_event_recv(conn, rb, cap, 5000) < 0 ? -1 : 0;
}

/* As the library does: a non-blocking send, then poll and a non-blocking receive. */
static int sock_round_trip(void *conn, struct echo_req *rq, uint8_t *rb, size_t cap)
{
	int fd = *(int *)conn;
	if (send(fd, rq, sizeof(*rq), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 5000) != 1 || recv(fd, rb, cap, MSG_DONTWAIT) <= 0 ? -1 : 0;
}

/* ---- bare libqb echo server (child process) ---- */

static qb_loop_t *echo_loop;

static int32_t echo_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)c;
	(void)uid;
	(void)gid;
	return 0;
}

static int32_t echo_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct qb_ipc_request_header *rq = data;
	uint8_t buf[64];
	struct qb_ipc_response_header *rs = (void *)buf;
	size_t n = size < sizeof(buf) ? size : sizeof(buf);
	if (n < sizeof(*rs))
		n = sizeof(*rs);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < n ? size : n);
	rs->id = rq->id;
	rs->size = (int32_t)n;
	rs->error = 0;
	qb_ipcs_event_send(c, rs, n);
	return 0;
}

static int32_t echo_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(echo_loop, p, data, fn);
}
static int32_t echo_dpoll_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			      qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(echo_loop, p, fd, evts, data, fn);
}
static int32_t echo_dpoll_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			      qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(echo_loop, p, fd, evts, data, fn);
}
static int32_t echo_dpoll_del(int32_t fd)
{
	return qb_loop_poll_del(echo_loop, fd);
}

static void echo_server(const char *name)
{
	echo_loop = qb_loop_create();
	struct qb_ipcs_service_handlers h = { .connection_accept = echo_accept, .msg_process = echo_msg };
	struct qb_ipcs_poll_handlers ph = {
		.job_add = echo_job_add, .dispatch_add = echo_dpoll_add,
		.dispatch_mod = echo_dpoll_mod, .dispatch_del = echo_dpoll_del,
	};
	qb_ipcs_service_t *s = qb_ipcs_create(name, 0, QB_IPC_SHM, &h);
	if (!s)
		_exit(1);
	qb_ipcs_poll_handlers_set(s, &ph);
	if (qb_ipcs_run(s) != 0)
		_exit(1);
	qb_loop_run(echo_loop);
	_exit(0);
}

/* ---- bare SOCK_SEQPACKET echo server (child process), on a libqb loop ---- */

static int32_t sp_conn(int32_t fd, int32_t revents, void *data)
{
	(void)revents;
	(void)data;
	uint8_t buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close(fd);
		return -1;
	}
	if (n > 0)
		(void)send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return 0;
}

static int32_t sp_accept(int32_t fd, int32_t revents, void *data)
{
	(void)revents;
	(void)data;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c >= 0)
		qb_loop_poll_add(echo_loop, QB_LOOP_HIGH, c, POLLIN, NULL, sp_conn);
	return 0;
}

/*
 * The two echo servers of bench_local, each a child process under the
 * daemon's scheduling (SCHED_RR rtprio when > 0), so that a round trip to
 * them and one to coroleased differ only in what the daemon does.
 */
struct echo_pair {
	pid_t spid, qpid;
	int sfd;
	qb_ipcc_connection_t *qc;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void echo_sched(int rtprio)
{
	struct sched_param sp = { .sched_priority = rtprio };
	if (rtprio > 0 && sched_setscheduler(0, SCHED_RR, &sp) < 0)
		fprintf(stderr, "bench-ipc: echo server: SCHED_RR %d: %s\n", rtprio, strerror(errno));
}

static void echo_stop(struct echo_pair *e)
{
	if (e->qc)
		qb_ipcc_disconnect(e->qc);
	if (e->sfd >= 0)
		close(e->sfd);
	for (int i = 0; i < 2; i++) {
		pid_t p = i ? e->qpid : e->spid;
		if (p > 0) {
			kill(p, SIGTERM);
			waitpid(p, NULL, 0);
		}
	}
	if (e->path[0])
		unlink(e->path);
}

/* 0, or -1 (nothing left running) */
static int echo_start(struct echo_pair *e, int rtprio)
{
	*e = (struct echo_pair){ .spid = -1, .qpid = -1, .sfd = -1 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/clbench-%d.sock", (int)getpid());
	unlink(a.sun_path);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	memcpy(e->path, a.sun_path, sizeof(e->path));
	e->spid = fork();
	if (e->spid == 0) {
		echo_sched(rtprio);
		echo_loop = qb_loop_create();
		qb_loop_poll_add(echo_loop, QB_LOOP_HIGH, lfd, POLLIN, NULL, sp_accept);
		qb_loop_run(echo_loop);
		_exit(0);
	}
	close(lfd);
	e->sfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (e->spid < 0 || e->sfd < 0 || connect(e->sfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		echo_stop(e);
		return -1;
	}
	char name[64];
	snprintf(name, sizeof(name), "clbench-%d", (int)getpid());
	e->qpid = fork();
	if (e->qpid == 0) {
		echo_sched(rtprio);
		echo_server(name);
	}
	for (int k = 0; k < 200 && e->qpid > 0 && !e->qc; k++) {
		e->qc = qb_ipcc_connect(name, 64 * 1024);
		if (!e->qc)
			usleep(10000);
	}
	if (!e->qc) {
		echo_stop(e);
		return -1;
	}
	return 0;
}

/* Two values of the daemon's status (0 where missing); 0 or an error. */
static int status2(corolease_t *h, const char *k1, uint64_t *v1, const char *k2, uint64_t *v2)
{
	corolease_status_t *st;
	int r = corolease_status_get(h, &st);
	*v1 = *v2 = 0;
	if (r == 0) {
		corolease_status_u64(st, k1, v1);
		corolease_status_u64(st, k2, v2);
		corolease_status_free(st);
	}
	return r;
}

/*
 * The local figures: a bare socket round trip, a bare libqb one, an OWNER
 * query and a re-acquire of a lingering lease (then its release), taken in
 * turn in blocks of LOCAL_BLOCK each, so that every figure sees the same
 * moments of the machine (a VM's wake-ups change speed for seconds at a
 * time: measured one after the other, the same loop gave 0.92x to 1.43x
 * the bare round trip in three runs a minute apart).  One block of each
 * first, not counted.
 */
#define LOCAL_BLOCK 500

enum { LK_SOCK, LK_QB, LK_OWNER, LK_ACQ, LK_PAIR, LK_N };

static int local_block(corolease_t *h, struct echo_pair *e, const char *name, int n,
		       uint64_t *v[LK_N], size_t at, uint64_t took[LK_N])
{
	struct echo_req rq;
	uint8_t rb[256];
	uint32_t node;
	for (int kind = LK_SOCK; kind <= LK_ACQ; kind++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			memset(&rq, 0, sizeof(rq));
			rq.h.id = 12;
			rq.h.size = sizeof(rq);
			rq.cookie = at + (size_t)i;
			uint64_t a = now_ns(), b;
			int r = 0;
			corolease_lease_t *l;
			switch (kind) {
			case LK_SOCK:
				r = sock_round_trip(&e->sfd, &rq, rb, sizeof(rb));
				break;
			case LK_QB:
				r = qb_round_trip(e->qc, &rq, rb, sizeof(rb));
				break;
			case LK_OWNER:
				r = corolease_owner(h, name, strlen(name), &node);
				break;
			default:
				r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, 0, 0, &l, NULL);
				b = now_ns();
				if (r == 0) {
					corolease_release(l);
					if (v[LK_PAIR])
						v[LK_PAIR][at + (size_t)i] = now_ns() - a;
				}
				if (r < 0) {
					printf("bench-ipc: re-acquire: %s\n", corolease_strerror(r));
					return -1;
				}
				if (v[LK_ACQ])
					v[LK_ACQ][at + (size_t)i] = b - a;
				continue;
			}
			if (r < 0) {
				printf("bench-ipc: %s round trip failed\n",
				       kind == LK_SOCK ? "socket" : kind == LK_QB ? "libqb" : "OWNER");
				return -1;
			}
			if (v[kind])
				v[kind][at + (size_t)i] = now_ns() - a;
		}
		took[kind] += now_ns() - t0;
		if (kind == LK_ACQ)
			took[LK_PAIR] += now_ns() - t0;
	}
	return 0;
}

static int bench_local(int iters)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		printf("bench-ipc: no coroleased to measure against (%s); start one with ./dev run\n",
		       corolease_strerror(r));
		return 0;
	}
	uint64_t quorate, synced, rtprio, dummy;
	if (status2(h, "quorate", &quorate, "synced", &synced) == 0 && !(quorate && synced)) {
		printf("bench-ipc: coroleased is not quorate/synced yet; nothing measured\n");
		corolease_close(h);
		return 0;
	}
	status2(h, "realtime_priority", &rtprio, "realtime_priority", &dummy);
	struct echo_pair e;
	if (echo_start(&e, rtprio > 98 ? 98 : (int)rtprio) < 0) {
		printf("bench-ipc: cannot start an echo server\n");
		corolease_close(h);
		return 1;
	}
	const char *name = "bench/reacquire";
	corolease_lease_t *l;
	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, 0, 0, &l, NULL);
	if (r < 0) {
		printf("bench-ipc: first acquire of %s: %s\n", name, corolease_strerror(r));
		echo_stop(&e);
		corolease_close(h);
		return 1;
	}
	corolease_release(l);
	int blocks = (iters + LOCAL_BLOCK - 1) / LOCAL_BLOCK;
	size_t n = (size_t)blocks * LOCAL_BLOCK;
	uint64_t *v[LK_N], *none[LK_N] = { 0 }, took[LK_N] = { 0 }, spare[LK_N] = { 0 };
	bool ok = true;
	for (int k = 0; k < LK_N; k++)
		ok = (v[k] = calloc(n, sizeof(uint64_t))) != NULL && ok;
	uint64_t mc0, fp0, mc1, fp1;
	status2(h, "counters.mcast_msgs", &mc0, "counters.fastpath_grants", &fp0);
	if (ok)
		ok = local_block(h, &e, name, LOCAL_BLOCK, none, 0, spare) == 0;   /* warm-up */
	for (int b = 0; ok && b < blocks; b++)
		ok = local_block(h, &e, name, LOCAL_BLOCK, v, (size_t)b * LOCAL_BLOCK, took) == 0;
	status2(h, "counters.mcast_msgs", &mc1, "counters.fastpath_grants", &fp1);
	echo_stop(&e);
	if (ok) {
		struct stats st[LK_N];
		for (int k = 0; k < LK_N; k++)
			st[k] = summarize(v[k], n, took[k]);
		printf("bench-ipc: %zu iterations each, in %d interleaved blocks of %d; echo servers "
		       "%s%.0d (as coroleased); node %" PRIu32 "\n", n, blocks, LOCAL_BLOCK,
		       rtprio ? "SCHED_RR " : "under the normal policy", (int)rtprio,
		       corolease_nodeid(h));
		print_stats("bare socket round trip", st[LK_SOCK]);
		print_stats("bare libqb IPC round trip (shm)", st[LK_QB]);
		print_stats("OWNER query (library)", st[LK_OWNER]);
		print_stats("re-acquire (fast path)", st[LK_ACQ]);
		print_stats("re-acquire + release", st[LK_PAIR]);
		printf("ratios vs bare socket round trip (p50): OWNER %.2fx, re-acquire %.2fx, libqb %.2fx\n",
		       st[LK_OWNER].p50_us / st[LK_SOCK].p50_us, st[LK_ACQ].p50_us / st[LK_SOCK].p50_us,
		       st[LK_QB].p50_us / st[LK_SOCK].p50_us);
		printf("ratios vs bare socket round trip (p99): OWNER %.2fx, re-acquire %.2fx, libqb %.2fx\n",
		       st[LK_OWNER].p99_us / st[LK_SOCK].p99_us, st[LK_ACQ].p99_us / st[LK_SOCK].p99_us,
		       st[LK_QB].p99_us / st[LK_SOCK].p99_us);
		printf("re-acquire vs bare libqb round trip (p50): %.2fx\n",
		       st[LK_ACQ].p50_us / st[LK_QB].p50_us);
		printf("during the loops: %" PRIu64 " fast-path grants, %" PRIu64
		       " cluster messages (heartbeats and linger expiry only)\n",
		       fp1 - fp0, mc1 - mc0);
	}
	for (int k = 0; k < LK_N; k++)
		free(v[k]);
	corolease_close(h);
	return ok ? 0 : 1;
}

/* NAME EX with WAIT (2 s): 0, -ETIMEDOUT, or another error (said on stderr) */
static int acquire_ex_wait(corolease_t *h, const char *name, corolease_lease_t **l)
{
	int r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 2000, l, NULL);
	if (r < 0 && r != -ETIMEDOUT)
		fprintf(stderr, "bench-ipc: acquire: %s\n", corolease_strerror(r));
	return r;
}

static int bench_pingpong(const char *name, double secs)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "bench-ipc: connect: %s\n", corolease_strerror(r));
		return 3;
	}
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), t0 = now_ns(), last = 0;
	unsigned grants = 0;
	uint64_t *gaps = calloc(1000000, sizeof(*gaps));
	size_t ngaps = 0;
	while (now_ns() < end) {
		corolease_lease_t *l;
		r = acquire_ex_wait(h, name, &l);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			break;
		uint64_t t = now_ns();
		if (last && ngaps < 1000000)
			gaps[ngaps++] = t - last;
		last = t;
		grants++;
		corolease_release(l);
		/* let the lease go: process the WANTED/linger traffic before asking again */
		corolease_dispatch(h);
	}
	uint64_t tot = now_ns() - t0;
	printf("node %" PRIu32 ": %u grants of %s in %.1f s (%.1f/s)", corolease_nodeid(h), grants,
	       name, (double)tot / 1e9, grants / ((double)tot / 1e9));
	if (ngaps > 10) {
		struct stats s = summarize(gaps, ngaps, tot);
		printf("; between own grants p50 %.0f us p99 %.0f us (fast-path re-grants included)", s.p50_us,
		       s.p99_us);
	}
	printf("\n");
	free(gaps);
	corolease_close(h);
	return 0;
}

static int bench_handover(const char *name, double secs, const char *file, int hold_ms)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "bench-ipc: connect: %s\n", corolease_strerror(r));
		return 3;
	}
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "bench-ipc: %s: %s\n", file, strerror(errno));
		corolease_close(h);
		return 3;
	}
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), t0 = now_ns();
	uint64_t *lat = calloc(100000, sizeof(*lat));
	size_t nlat = 0;
	unsigned grants = 0;
	while (lat && now_ns() < end) {
		corolease_lease_t *l;
		r = acquire_ex_wait(h, name, &l);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			break;
		uint64_t t = now_ns(), rel = 0;
		grants++;
		/* the other side's release time: stamp (8 bytes) + its node id (4) */
		unsigned char b[12];
		if (pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b)) {
			uint32_t who;
			memcpy(&rel, b, 8);
			memcpy(&who, b + 8, 4);
			if (who != corolease_nodeid(h) && rel && rel < t && nlat < 100000)
				lat[nlat++] = t - rel;
		}
		struct timespec ts = { hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		corolease_dispatch(h);
		uint64_t now = now_ns();
		uint32_t me = corolease_nodeid(h);
		memcpy(b, &now, 8);
		memcpy(b + 8, &me, 4);
		if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
			break;
		corolease_release(l);
	}
	uint64_t tot = now_ns() - t0;
	printf("node %" PRIu32 ": %u grants of %s in %.1f s, hold %d ms", corolease_nodeid(h), grants, name,
	       (double)tot / 1e9, hold_ms);
	if (nlat > 2) {
		struct stats s = summarize(lat, nlat, tot);
		printf("; handover (other node's release to this grant) n %zu p50 %.0f us p99 %.0f us mean %.0f us",
		       nlat, s.p50_us, s.p99_us, s.mean_us);
	}
	printf("\n");
	free(lat);
	close(fd);
	corolease_close(h);
	return 0;
}

/* poll(2) ms until h's corolease_get_timeout() (a CLOCK_BOOTTIME time in us; 0: now), at most max_ms. */
static int lib_wait_ms(const corolease_t *h, int max_ms)
{
	uint64_t t = corolease_get_timeout(h);
	if (t == UINT64_MAX)
		return max_ms;
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (t <= now)
		return 0;
	uint64_t ms = (t - now + 999) / 1000;
	return ms < (uint64_t)max_ms ? (int)ms : max_ms;
}

struct ld_conn {
	corolease_t *h;
	unsigned next, pending, granted, failed, count, idx;
};

static uint64_t ld_last_grant, ld_t0;
static unsigned ld_tl[600];   /* BENCH_TIMELINE=1: grants per 100 ms from the start */
static bool ld_cork;   /* load and puts: corolease_cork() each burst (BENCH_NOCORK=1: no) */

static void ld_acquired(corolease_t *h, corolease_lease_t *lease, int err, void *udata)
{
	(void)h;
	(void)lease;
	struct ld_conn *c = udata;
	c->pending--;
	if (err)
		c->failed++;
	else
		c->granted++;
	ld_last_grant = now_ns();
	if (ld_t0 && (ld_last_grant - ld_t0) / 100000000u < 600)
		ld_tl[(ld_last_grant - ld_t0) / 100000000u]++;
}

static const struct corolease_callbacks ld_cbs = { .acquired = ld_acquired };

static int bench_load(const char *prefix, unsigned count, unsigned conns, unsigned window,
		      uint64_t start)
{
	if (!count || !conns || !window || conns > 4096) {
		fprintf(stderr, "bench-ipc load: COUNT, CONNS (at most 4096) and WINDOW must be > 0\n");
		return 2;
	}
	struct ld_conn *c = calloc(conns, sizeof(*c));
	struct pollfd *p = calloc(conns, sizeof(*p));
	if (!c || !p)
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		int r = corolease_connect(&c[i].h);
		if (r < 0) {
			fprintf(stderr, "bench-ipc: connect: %s\n", corolease_strerror(r));
			return 3;
		}
		corolease_set_callbacks(c[i].h, &ld_cbs, &c[i]);
		c[i].idx = i;
		c[i].count = count / conns + (i < count % conns);
	}
	uint64_t now = now_ns();
	if (start > now) {
		struct timespec ts = { (time_t)((start - now) / 1000000000u),
				       (long)((start - now) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
	uint64_t t0 = now_ns();
	ld_t0 = t0;
	unsigned done = 0, granted = 0, failed = 0;
	while (done < conns) {
		done = 0;
		for (unsigned i = 0; i < conns; i++) {
			struct ld_conn *k = &c[i];
			if (ld_cork)
				corolease_cork(k->h);
			while (k->next < k->count && k->pending < window) {
				char nm[300];
				int n = snprintf(nm, sizeof(nm), "%s/%u/%u", prefix, k->idx, k->next);
				corolease_lease_t *l;
				int r = corolease_acquire_async(k->h, nm, (size_t)n, COROLEASE_EX, 0, 0,
								NULL, &l);
				if (r < 0) {
					fprintf(stderr, "bench-ipc: acquire_async: %s\n", corolease_strerror(r));
					return 3;
				}
				k->next++;
				k->pending++;
			}
			if (ld_cork)
				corolease_uncork(k->h);
			if (k->next == k->count && !k->pending)
				done++;
			p[i].fd = corolease_get_fd(k->h);
			p[i].events = (short)corolease_get_events(k->h);
		}
		if (done == conns)
			break;
		int ms = 1000;
		for (unsigned i = 0; i < conns; i++) {
			int w = lib_wait_ms(c[i].h, ms);   /* callbacks queued, requests to resend */
			if (w < ms)
				ms = w;
		}
		if (poll(p, conns, ms) < 0 && errno != EINTR)
			return 1;
		/* every connection: the library may hold callbacks its fd no longer shows */
		for (unsigned i = 0; i < conns; i++) {
			int r = corolease_dispatch(c[i].h);
			if (r < 0 && r != -EAGAIN) {
				fprintf(stderr, "bench-ipc: dispatch: %s\n", corolease_strerror(r));
				return 3;
			}
		}
	}
	for (unsigned i = 0; i < conns; i++) {
		granted += c[i].granted;
		failed += c[i].failed;
	}
	double secs = (double)(ld_last_grant > t0 ? ld_last_grant - t0 : 1) / 1e9;
	printf("node %" PRIu32 ": load %u grants (%u failed) through %u connections, window %u, in %.3f s: %.0f grants/s\n",
	       corolease_nodeid(c[0].h), granted, failed, conns, window, secs, granted / secs);
	if (getenv("BENCH_TIMELINE")) {
		unsigned last = 0;
		for (unsigned i = 0; i < 600; i++)
			if (ld_tl[i])
				last = i;
		printf("grants per 100 ms:");
		for (unsigned i = 0; i <= last; i++)
			printf(" %u", ld_tl[i]);
		printf("\n");
	}
	for (unsigned i = 0; i < conns; i++)
		corolease_close(c[i].h);
	free(c);
	free(p);
	return 0;
}

struct put_tally {
	unsigned ok, failed, inflight;
	int first_err;
	bool stop;
};

static const char put_val[32] = "0123456789abcdef0123456789abcdef";

/* The key of put i: k00..k63 in turn, so the index stays small. */
static int put_key(char key[8], unsigned i)
{
	return snprintf(key, 8, "k%02u", i % 64);
}

/* Counts one put's outcome. */
static void put_count(struct put_tally *t, int err)
{
	if (err < 0) {
		t->failed++;
		if (!t->first_err)
			t->first_err = err;
		if (err == COROLEASE_EDISCONNECTED || err == COROLEASE_EREVOKED || err == -ESTALE)
			t->stop = true;   /* nothing more will be written */
	} else {
		t->ok++;
	}
}

static void put_done(corolease_t *h, corolease_lease_t *lease, int err, uint64_t version, void *ctx)
{
	(void)h;
	(void)lease;
	(void)version;
	struct put_tally *t = ctx;
	t->inflight--;
	put_count(t, err);
}

/* N puts through corolease_index_put(), one at a time. */
static void puts_sync(corolease_lease_t *l, unsigned n, struct put_tally *t)
{
	for (unsigned i = 0; i < n && !t->stop; i++) {
		char key[8];
		uint64_t version;
		put_count(t, corolease_index_put(l, key, (size_t)put_key(key, i), put_val, sizeof(put_val),
						 &version));
	}
}

/* N puts through corolease_index_put_async(), at most window in flight. */
static void puts_async(corolease_t *h, corolease_lease_t *l, unsigned n, unsigned window,
		       struct put_tally *t)
{
	unsigned issued = 0;
	while ((issued < n && !t->stop) || t->inflight) {
		if (ld_cork)
			corolease_cork(h);
		while (issued < n && !t->stop && t->inflight < window) {
			char key[8];
			int kl = put_key(key, issued++);
			int r = corolease_index_put_async(l, key, (size_t)kl, put_val, sizeof(put_val),
							  put_done, t);
			if (r < 0) {   /* refused at once: counted as a failed put */
				put_count(t, r);
				break;
			}
			t->inflight++;
		}
		if (ld_cork)
			corolease_uncork(h);
		struct pollfd pfd = { .fd = corolease_get_fd(h), .events = POLLIN };
		int ms = lib_wait_ms(h, 1000);
		if (ms && poll(&pfd, 1, ms) < 0 && errno != EINTR)
			break;
		if (corolease_dispatch(h) < 0)
			break;   /* disconnected: that dispatch ran every write's function */
	}
}

/* One puts process: connect, PREFIX/IDX EX, N puts from start; "OK FAILED LAST_NS ERR" on fd. */
static int puts_child(const char *prefix, unsigned idx, unsigned n, uint64_t start, unsigned window,
		      int fd)
{
	corolease_t *h;
	corolease_lease_t *l = NULL;
	char nm[300], line[128];
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "bench-ipc puts: connect: %s\n", corolease_strerror(r));
		return 3;
	}
	snprintf(nm, sizeof(nm), "%s/%u", prefix, idx);
	if (acquire_ex_wait(h, nm, &l) < 0) {
		fprintf(stderr, "bench-ipc puts: could not acquire %s\n", nm);
		return 3;
	}
	uint64_t now = now_ns();
	if (start > now) {
		struct timespec ts = { (time_t)((start - now) / 1000000000u),
				       (long)((start - now) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
	struct put_tally t = { 0 };
	if (window)
		puts_async(h, l, n, window, &t);
	else
		puts_sync(l, n, &t);
	uint64_t last = now_ns();
	int len = snprintf(line, sizeof(line), "%u %u %" PRIu64 " %d\n", t.ok, t.failed, last,
			   t.first_err);
	if (write(fd, line, (size_t)len) != len)
		return 1;
	corolease_release(l);
	corolease_close(h);
	return 0;
}

static int bench_puts(const char *prefix, unsigned count, unsigned conns, uint64_t start,
		      unsigned window)
{
	if (!count || !conns || conns > 1024) {
		fprintf(stderr, "bench-ipc puts: COUNT and CONNS (at most 1024) must be > 0\n");
		return 2;
	}
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;
	uint64_t t0 = start ? start : now_ns() + 500000000u;   /* time for the acquires */
	for (unsigned i = 0; i < conns; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench-ipc puts: fork");
			return 1;
		}
		if (pid == 0) {
			close(pfd[0]);
			_exit(puts_child(prefix, i, count / conns + (i < count % conns), t0, window, pfd[1]));
		}
	}
	close(pfd[1]);
	FILE *f = fdopen(pfd[0], "r");
	unsigned ok = 0, failed = 0, lines = 0, a, b;
	uint64_t last = 0, l;
	int e, err = 0;
	while (f && fscanf(f, "%u %u %" SCNu64 " %d", &a, &b, &l, &e) == 4) {
		ok += a;
		failed += b;
		last = l > last ? l : last;
		if (e && !err)
			err = e;
		lines++;
	}
	int bad = 0, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	corolease_t *h;
	uint32_t node = 0;
	if (corolease_connect(&h) == 0) {
		node = corolease_nodeid(h);
		corolease_close(h);
	}
	double secs = (double)(last > t0 ? last - t0 : 1) / 1e9;
	char how[64];
	if (window)
		snprintf(how, sizeof(how), "asynchronous, window %u", window);
	else
		snprintf(how, sizeof(how), "synchronous");
	printf("node %" PRIu32 ": index puts %u (%u failed%s%s) through %u connections of %u, one lease each, %s, in %.3f s: %.0f puts/s\n",
	       node, ok, failed, err ? ", first: " : "", err ? corolease_errname(err) : "",
	       lines, conns, how, secs, ok / secs);
	return bad || lines != conns ? 3 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	ld_cork = !getenv("BENCH_NOCORK");
	int iters = 20000;
	if (argc >= 2 && strcmp(argv[1], "pingpong") == 0) {
		if (argc < 4) {
			fprintf(stderr, "usage: bench-ipc pingpong NAME SECS\n");
			return 2;
		}
		return bench_pingpong(argv[2], atof(argv[3]));
	}
	if (argc >= 2 && strcmp(argv[1], "handover") == 0) {
		if (argc < 5) {
			fprintf(stderr, "usage: bench-ipc handover NAME SECS FILE [HOLD_MS]\n");
			return 2;
		}
		return bench_handover(argv[2], atof(argv[3]), argv[4], argc > 5 ? atoi(argv[5]) : 20);
	}
	if (argc >= 2 && strcmp(argv[1], "now") == 0) {
		printf("%" PRIu64 "\n", now_ns());   /* for load's START_NS */
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "load") == 0) {
		if (argc < 6) {
			fprintf(stderr, "usage: bench-ipc load PREFIX COUNT CONNS WINDOW [START_NS]\n");
			return 2;
		}
		return bench_load(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
				  (unsigned)strtoul(argv[4], NULL, 10), (unsigned)strtoul(argv[5], NULL, 10),
				  argc > 6 ? strtoull(argv[6], NULL, 10) : 0);
	}
	if (argc >= 2 && strcmp(argv[1], "puts") == 0) {
		if (argc < 5) {
			fprintf(stderr, "usage: bench-ipc puts PREFIX COUNT CONNS [START_NS [WINDOW]]\n");
			return 2;
		}
		return bench_puts(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
				  (unsigned)strtoul(argv[4], NULL, 10),
				  argc > 5 ? strtoull(argv[5], NULL, 10) : 0,
				  argc > 6 ? (unsigned)strtoul(argv[6], NULL, 10) : 0);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			iters = atoi(argv[++i]);
		else if (strcmp(argv[i], "local") != 0) {
			fprintf(stderr, "usage: bench-ipc [local] [-n ITER] | pingpong NAME SECS | handover NAME SECS FILE [HOLD_MS] | load PREFIX COUNT CONNS WINDOW [START_NS] | puts PREFIX COUNT CONNS [START_NS [WINDOW]] | now\n");
			return 2;
		}
	}
	if (iters < 100)
		iters = 100;
	return bench_local(iters);
}
