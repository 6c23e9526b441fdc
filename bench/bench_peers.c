/*
 * bench_peers.c - corolease and Redis timed by one harness (bench/bench_peers.sh).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   bench-peers cycle BACKEND ITERS
 *       One client, ITERS cycles (after ITERS/10 of warm-up), each timed:
 *       p50, p99, mean and cycles/s.
 *   bench-peers clients BACKEND N SECS
 *       N processes, each with its own connection and its own name, cycling
 *       for SECS from a common start; total cycles/s and the p50/p99 of one
 *       cycle over all of them.
 *
 * BACKEND and its cycle:
 *   corolease        corolease_acquire() of one name EX (no WAIT), then
 *                    corolease_release() (which does not wait for an answer);
 *                    after the first, each acquire takes the local fast path
 *   corolease-fresh  the same with a new name every cycle: each acquire is a
 *                    cluster grant (one agreed CPG delivery)
 *   redis-unix:PATH  SET k v NX PX 10000, then DEL k, over a Unix socket: two
 *   redis-tcp:HOST:PORT round trips (RESP written by hand, no hiredis)
 * A cycle that fails (a refused SET or acquire) is counted, not timed.
 * Figures only, no assertions.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>

#include "bench_util.h"

/* ---- backends ---- */

enum kind { K_COROLEASE, K_COROLEASE_FRESH, K_REDIS };

struct client {
	enum kind kind;
	corolease_t *h;
	int fd;
	char name[96];
	unsigned long seq;
	char cmd_set[256], cmd_del[128];
	size_t set_len, del_len;
};

/* Connects to a Redis "unix:PATH" or "tcp:HOST:PORT": fd, or -1 (said on stderr). */
static int redis_connect(const char *spec)
{
	int fd = -1;
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", spec + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
	} else if (strncmp(spec, "tcp:", 4) == 0) {
		char host[128];
		snprintf(host, sizeof(host), "%s", spec + 4);
		char *port = strrchr(host, ':');
		if (!port)
			return -1;
		*port++ = 0;
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
		if (getaddrinfo(host, port, &hints, &ai) != 0)
			return -1;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd >= 0 && (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
				connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
	}
	if (fd < 0)
		fprintf(stderr, "bench-peers: cannot connect to redis %s: %s\n", spec, strerror(errno));
	return fd;
}

/* Sends len bytes and reads one single-line reply into buf: its length, or -1. */
static ssize_t redis_call(int fd, const char *cmd, size_t len, char *buf, size_t cap)
{
	if (send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	size_t got = 0;
	while (got < 2 || buf[got - 2] != '\r' || buf[got - 1] != '\n') {
		if (got == cap)
			return -1;
		ssize_t n = recv(fd, buf + got, cap - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Opens client number id of BACKEND: 0, or -1 (said on stderr). */
static int client_open(struct client *c, const char *backend, int id)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	snprintf(c->name, sizeof(c->name), "bench/peers/%d/%d", (int)getpid(), id);
	if (strcmp(backend, "corolease") == 0 || strcmp(backend, "corolease-fresh") == 0) {
		c->kind = backend[9] ? K_COROLEASE_FRESH : K_COROLEASE;
		int r = corolease_connect(&c->h);
		if (r < 0)
			fprintf(stderr, "bench-peers: corolease_connect: %s\n", corolease_strerror(r));
		return r < 0 ? -1 : 0;
	}
	if (strncmp(backend, "redis-", 6) != 0)
		return -1;
	c->kind = K_REDIS;
	c->fd = redis_connect(backend + 6);
	size_t kl = strlen(c->name);
	c->set_len = (size_t)snprintf(c->cmd_set, sizeof(c->cmd_set),
				      "*6\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n10000\r\n",
				      kl, c->name);
	c->del_len = (size_t)snprintf(c->cmd_del, sizeof(c->cmd_del), "*2\r\n$3\r\nDEL\r\n$%zu\r\n%s\r\n", kl,
				      c->name);
	return c->fd < 0 ? -1 : 0;
}

static void client_close(struct client *c)
{
	if (c->h)
		corolease_close(c->h);
	if (c->fd >= 0)
		close(c->fd);
}

/* One acquire/release cycle: 1 done, 0 refused (not timed), -1 connection lost. */
static int client_cycle(struct client *c)
{
	if (c->kind == K_REDIS) {
		char b[64];
		ssize_t n = redis_call(c->fd, c->cmd_set, c->set_len, b, sizeof(b));
		if (n < 0)
			return -1;
		int ok = n >= 3 && memcmp(b, "+OK", 3) == 0;
		if (!ok)
			return 0;
		n = redis_call(c->fd, c->cmd_del, c->del_len, b, sizeof(b));
		return n < 0 ? -1 : n >= 2 && memcmp(b, ":1", 2) == 0;
	}
	char name[128];
	const char *nm = c->name;
	if (c->kind == K_COROLEASE_FRESH) {
		snprintf(name, sizeof(name), "%s/%lu", c->name, c->seq++);
		nm = name;
	}
	corolease_lease_t *l;
	int r = corolease_acquire(c->h, nm, strlen(nm), COROLEASE_EX, 0, 0, &l, NULL);
	if (r == COROLEASE_EDISCONNECTED)
		return -1;
	if (r < 0)
		return 0;
	return corolease_release(l) == 0 ? 1 : -1;
}

/* ---- cycle: one client ---- */

static int bench_cycle(const char *backend, int iters)
{
	struct client c;
	if (client_open(&c, backend, 0) < 0)
		return 1;
	uint64_t *v = calloc((size_t)iters, sizeof(*v));
	int warm = iters / 10, done = 0, failed = 0;
	uint64_t t0 = now_ns();
	for (int i = 0; v && done < iters; i++) {
		if (i == warm)
			t0 = now_ns();
		uint64_t a = now_ns();
		int r = client_cycle(&c);
		uint64_t b = now_ns();
		if (r < 0) {
			fprintf(stderr, "bench-peers: %s: connection lost\n", backend);
			break;
		}
		if (i < warm)
			continue;
		if (r == 0) {
			if (++failed > iters)
				break;
			continue;
		}
		v[done++] = b - a;
	}
	uint64_t tot = now_ns() - t0;
	client_close(&c);
	if (done < 10) {
		free(v);
		return 1;
	}
	qsort(v, (size_t)done, sizeof(*v), cmp_u64);
	uint64_t sum = 0;
	for (int i = 0; i < done; i++)
		sum += v[i];
	printf("cycle %s: n %d p50 %.1f us p99 %.1f us mean %.1f us %.0f cycles/s failed %d\n", backend, done,
	       (double)v[done / 2] / 1e3, (double)v[(size_t)done * 99 / 100] / 1e3,
	       (double)sum / done / 1e3, done / ((double)tot / 1e9), failed);
	free(v);
	return 0;
}

/* ---- clients: N processes ---- */

#define PER_CHILD_MAX 100000u

struct child_result {
	uint64_t cycles, failed, nlat;
	int ok;
};

static void child_run(const char *backend, int id, double secs, int ready_w, int go_r,
		      struct child_result *res, uint64_t *lat)
{
	struct client c;
	if (client_open(&c, backend, id) < 0 || client_cycle(&c) < 0) {
		close(ready_w);
		_exit(1);
	}
	char x = 'r';
	if (write(ready_w, &x, 1) != 1)
		_exit(1);
	close(ready_w);
	uint64_t start;
	/* the parent closes its end to start everyone: EOF carries the start time */
	if (read(go_r, &start, sizeof(start)) != 0)
		_exit(1);
	start = now_ns();
	uint64_t end = start + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t a = now_ns();
		if (a >= end)
			break;
		int r = client_cycle(&c);
		uint64_t b = now_ns();
		if (r < 0)
			break;
		if (r == 0) {
			res->failed++;
			continue;
		}
		res->cycles++;
		if (res->nlat < PER_CHILD_MAX)
			lat[res->nlat++] = b - a;
	}
	res->ok = 1;
	client_close(&c);
	_exit(0);
}

static int bench_clients(const char *backend, int n, double secs)
{
	size_t rsz = sizeof(struct child_result) * (size_t)n;
	size_t lsz = sizeof(uint64_t) * PER_CHILD_MAX * (size_t)n;
	struct child_result *res = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *lat = mmap(NULL, lsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2], go[2];
	if (res == MAP_FAILED || lat == MAP_FAILED || pipe(ready) < 0 || pipe(go) < 0) {
		perror("bench-peers");
		return 1;
	}
	memset(res, 0, rsz);
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			child_run(backend, i, secs, ready[1], go[0], &res[i], lat + (size_t)i * PER_CHILD_MAX);
		}
	}
	close(ready[1]);
	close(go[0]);
	int nready = 0;
	char x;
	while (nready < n && read(ready[0], &x, 1) == 1)
		nready++;
	uint64_t t0 = now_ns();
	close(go[1]);    /* go */
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	uint64_t wall = now_ns() - t0;
	uint64_t cycles = 0, failed = 0, nl = 0;
	int ok = 0;
	for (int i = 0; i < n; i++) {
		cycles += res[i].cycles;
		failed += res[i].failed;
		ok += res[i].ok;
		/* gather every child's latencies at the front */
		memmove(lat + nl, lat + (size_t)i * PER_CHILD_MAX, res[i].nlat * sizeof(*lat));
		nl += res[i].nlat;
	}
	if (nready < n || ok < n)
		fprintf(stderr, "bench-peers: %s: %d of %d clients started, %d finished\n", backend, nready, n, ok);
	double el = secs < (double)wall / 1e9 ? secs : (double)wall / 1e9;
	printf("clients %s %d: %" PRIu64 " cycles in %.2f s = %.0f cycles/s", backend, n, cycles, el,
	       (double)cycles / el);
	if (nl > 10) {
		qsort(lat, nl, sizeof(*lat), cmp_u64);
		printf("; one cycle p50 %.1f us p99 %.1f us", (double)lat[nl / 2] / 1e3,
		       (double)lat[nl * 99 / 100] / 1e3);
	}
	printf("; failed %" PRIu64 "; clients %d/%d\n", failed, ok, n);
	free(pids);
	munmap(res, rsz);
	munmap(lat, lsz);
	return ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "cycle") == 0)
		return bench_cycle(argv[2], atoi(argv[3]) > 100 ? atoi(argv[3]) : 100);
	if (argc == 5 && strcmp(argv[1], "clients") == 0 && atoi(argv[3]) > 0)
		return bench_clients(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: bench-peers cycle BACKEND ITERS | clients BACKEND N SECS\n"
			"  BACKEND: corolease, corolease-fresh, redis-unix:PATH, redis-tcp:HOST:PORT\n");
	return 2;
}
