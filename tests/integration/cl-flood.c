/*
 * cl-flood.c - integration-test client that costs coroleased memory and
 * connections the way a hostile local user could (issue 8, items 1 and 5).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-flood fill NAME KEYS BYTES
 *                     takes NAME exclusively (libcorolease) and writes KEYS
 *                     keys of BYTES bytes each into its index
 *   cl-flood list N index|list NAME [hold]
 *                     N raw connections, each HELLO, then INDEX_LIST
 *                     NAME (or LIST with prefix NAME), never reading the
 *                     answer; then exits at once (the connections close with
 *                     the process), or with "hold" keeps them until SIGTERM
 *   cl-flood names PREFIX N
 *                     creates names PREFIX0 .. PREFIX(N-1), each with one key
 *   cl-flood slowread index|list NAME SECS
 *                     one raw connection asks for the list, sleeps SECS
 *                     (the daemon must pause the answer), then reads it all
 *                     and prints "items K distinct D result ERRNAME total T"
 *   cl-flood halfopen N
 *                     N raw connections to the daemon's socket that never
 *                     say HELLO, kept until SIGTERM (or until
 *                     the daemon drops them)
 *
 *   cl-flood noread N NAME KEY K
 *                     N raw connections, each HELLO, then K INDEX_GETs of
 *                     NAME's KEY, never reading; kept until SIGTERM
 *   cl-flood connflood SECS
 *                     connects to the daemon's socket and closes, in a loop,
 *                     for SECS seconds; prints "connects K failed F (ERR)"
 *
 * Lines on stdout (line-buffered): "filled K", "sent K" (list), "open K"
 * (halfopen), "ready", and for halfopen at SIGTERM "dropped D" (how many
 * the daemon had closed).  Exit 0, or 1 on a setup failure.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>

#include "corolease/ipc.h"
#include "clt.h"

static int fill(const char *name, long keys, long bytes)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "connect: %s\n", corolease_strerror(r));
		return 1;
	}
	corolease_lease_t *l;
	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 10000, &l, NULL);
	if (r < 0) {
		fprintf(stderr, "acquire: %s\n", corolease_strerror(r));
		return 1;
	}
	char *val = malloc((size_t)bytes);
	if (!val)
		return 1;
	memset(val, 'v', (size_t)bytes);
	long k = 0;
	for (; k < keys; k++) {
		char key[32];
		int kl = snprintf(key, sizeof(key), "k%06ld", k);
		if ((r = corolease_index_put(l, key, (size_t)kl, val, (size_t)bytes, NULL)) < 0) {
			fprintf(stderr, "index put %s: %s\n", key, corolease_strerror(r));
			break;
		}
	}
	printf("filled %ld\n", k);
	free(val);
	corolease_release(l);
	corolease_close(h);
	return k == keys ? 0 : 1;
}

static int send_msg(clt_conn_t *c, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	return clt_sendv(c, &iov, 1) < 0 ? -1 : 0;
}

/* A raw connection that said HELLO (its answer read into buf), or NULL. */
static clt_conn_t *raw_open(uint8_t *buf, size_t cap)
{
	clt_conn_t *c = clt_connect();
	if (!c)
		return NULL;
	struct clp_req_hello hm;
	memset(&hm, 0, sizeof(hm));
	hm.b.hdr.id = CLP_REQ_HELLO;
	hm.b.hdr.size = sizeof(hm);
	hm.b.cookie = 1;
	hm.version = CLP_VERSION;
	if (send_msg(c, &hm, sizeof(hm)) < 0 || clt_recv(c, buf, cap, 5000) < 0) {
		clt_close(c);
		return NULL;
	}
	return c;
}

static int list(long n, const char *what, const char *name, int hold)
{
	size_t namelen = strlen(name);
	if (namelen > COROLEASE_NAME_MAX)
		return 1;
	/* static: the connections are left open at exit on purpose, not leaked */
	static clt_conn_t **cs;
	cs = calloc((size_t)n, sizeof(*cs));
	static uint8_t buf[CLP_MAX_MSG];
	if (!cs)
		return 1;
	long k = 0;
	for (; k < n; k++) {
		clt_conn_t *c = raw_open(buf, sizeof(buf));
		if (!c)
			break;
		cs[k] = c;
		struct clp_req_name *m = (struct clp_req_name *)buf;
		memset(m, 0, sizeof(*m));
		m->b.hdr.id = !strcmp(what, "list") ? CLP_REQ_LIST : CLP_REQ_INDEX_LIST;
		m->b.hdr.size = (int32_t)(sizeof(*m) + namelen);
		m->b.cookie = 2;
		m->namelen = (uint16_t)namelen;
		memcpy(buf + sizeof(*m), name, namelen);
		if (send_msg(c, buf, sizeof(*m) + namelen) < 0)
			break;
	}
	printf("sent %ld\n", k);
	printf("ready\n");
	if (hold)
		while (!clt_stop)
			pause();
	/* never read, never disconnect cleanly: the process just goes */
	return k ? 0 : 1;
}

static int names(const char *prefix, long n)
{
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0)
		return 1;
	long k = 0;
	for (; k < n; k++) {
		char name[256];
		int len = snprintf(name, sizeof(name), "%s%ld", prefix, k);
		corolease_lease_t *l;
		if ((r = corolease_acquire(h, name, (size_t)len, COROLEASE_EX, COROLEASE_WAIT, 10000, &l,
					   NULL)) < 0 ||
		    (r = corolease_index_put(l, "k", 1, "v", 1, NULL)) < 0) {
			fprintf(stderr, "%s: %s\n", name, corolease_strerror(r));
			break;
		}
		corolease_release(l);
	}
	printf("filled %ld\n", k);
	corolease_close(h);
	return k == n ? 0 : 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int slowread(const char *what, const char *name, long secs)
{
	static uint8_t buf[CLP_MAX_MSG];
	size_t namelen = strlen(name);
	clt_conn_t *c = raw_open(buf, sizeof(buf));
	if (!c)
		return 1;
	bool index = strcmp(what, "list") != 0;
	struct clp_req_name *m = (struct clp_req_name *)buf;
	memset(m, 0, sizeof(*m));
	m->b.hdr.id = index ? CLP_REQ_INDEX_LIST : CLP_REQ_LIST;
	m->b.hdr.size = (int32_t)(sizeof(*m) + namelen);
	m->b.cookie = 7;
	m->namelen = (uint16_t)namelen;
	memcpy(buf + sizeof(*m), name, namelen);
	if (send_msg(c, buf, sizeof(*m) + namelen) < 0)
		return 1;
	sleep((unsigned)secs);
	size_t cap = 1024, n = 0;
	char **items = malloc(cap * sizeof(*items));
	int err = 1;
	uint64_t total = 0;
	for (;;) {
		ssize_t len = clt_recv(c, buf, sizeof(buf), 5000);
		if (len < (ssize_t)sizeof(struct clp_ev_base))
			break;
		const struct clp_ev_base *b = (const void *)buf;
		if (b->hdr.id == CLP_EV_RESULT) {
			const struct clp_ev_result *r = (const void *)buf;
			err = r->err;
			if ((size_t)len >= sizeof(*r) + sizeof(total))
				memcpy(&total, buf + sizeof(*r), sizeof(total));
			break;
		}
		if (b->hdr.id != CLP_EV_ITEMS)
			continue;
		const struct clp_ev_items *e = (const void *)buf;
		size_t off = sizeof(*e);
		for (uint32_t i = 0; i < e->count; i++) {
			char *it;
			if (index) {
				struct clp_item_key k;
				memcpy(&k, buf + off, sizeof(k));
				it = strndup((const char *)buf + off + sizeof(k), k.keylen);
				off += sizeof(k) + k.keylen + k.vallen;
			} else {
				struct clp_item_lease l;
				memcpy(&l, buf + off, sizeof(l));
				it = strndup((const char *)buf + off + sizeof(l), l.namelen);
				off += sizeof(l) + l.namelen;
			}
			if (n == cap)
				items = realloc(items, (cap *= 2) * sizeof(*items));
			items[n++] = it;
		}
	}
	qsort(items, n, sizeof(*items), cmp_str);
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(items[i], items[i - 1]))
			distinct++;
	printf("items %zu distinct %zu result %s total %llu\n", n, distinct,
	       err == 1 ? "none" : err ? corolease_errname(err) : "0", (unsigned long long)total);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	clt_close(c);
	return 0;
}

static int halfopen(long n)
{
	int *fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		return 1;
	long k = 0;
	for (; k < n; k++) {
		struct sockaddr_un a;
		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		clt_socket_addr(&a);
		socklen_t alen = sizeof(a);
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, alen) < 0) {
			fprintf(stderr, "connection %ld: %s\n", k, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		fds[k] = fd;
	}
	printf("open %ld\n", k);
	printf("ready\n");
	while (!clt_stop)
		pause();
	long dropped = 0;
	for (long i = 0; i < k; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN | POLLRDHUP };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))
			dropped++;
		close(fds[i]);
	}
	printf("dropped %ld\n", dropped);
	free(fds);
	return 0;
}

/*
 * n raw connections, each asking k times for NAME's KEY and never reading
 * the answers; kept until SIGTERM.
 */
static int noread(long n, const char *name, const char *key, long k)
{
	static uint8_t buf[CLP_MAX_MSG];
	size_t nl = strlen(name), kl = strlen(key);
	if (nl > COROLEASE_NAME_MAX || kl > COROLEASE_KEY_MAX)
		return 1;
	long ok = 0;
	for (; ok < n; ok++) {
		clt_conn_t *c = raw_open(buf, sizeof(buf));   /* left open at exit on purpose */
		if (!c)
			break;
		struct clp_req_index *r = (struct clp_req_index *)buf;
		memset(r, 0, sizeof(*r));
		r->b.hdr.id = CLP_REQ_INDEX_GET;
		r->b.hdr.size = (int32_t)(sizeof(*r) + nl + kl);
		r->namelen = (uint16_t)nl;
		r->keylen = (uint8_t)kl;
		memcpy(buf + sizeof(*r), name, nl);
		memcpy(buf + sizeof(*r) + nl, key, kl);
		for (long j = 0; j < k; j++) {
			r->b.cookie = 10 + (uint64_t)j;
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			if (poll(&p, 1, 2000) != 1 || send_msg(c, buf, sizeof(*r) + nl + kl) < 0)
				break;
		}
	}
	printf("sent %ld\n", ok);
	printf("ready\n");
	while (!clt_stop)
		pause();
	return 0;
}

/* Connects to the daemon's socket and closes, in a loop for secs seconds. */
static int connflood(long secs)
{
	struct sockaddr_un a;
	clt_socket_addr(&a);
	time_t end = time(NULL) + secs;
	long k = 0, fails = 0;
	int err = 0;
	printf("ready\n");
	while (!clt_stop && time(NULL) < end) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			fails++;
			err = errno;
		} else {
			k++;
		}
		close(fd);
	}
	printf("connects %ld failed %ld (%s)\n", k, fails, err ? strerror(err) : "-");
	return 0;
}

int main(int argc, char **argv)
{
	clt_start();
	if (argc == 5 && !strcmp(argv[1], "fill"))
		return fill(argv[2], strtol(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
	if ((argc == 5 || (argc == 6 && !strcmp(argv[5], "hold"))) && !strcmp(argv[1], "list"))
		return list(strtol(argv[2], NULL, 10), argv[3], argv[4], argc == 6);
	if (argc == 4 && !strcmp(argv[1], "names"))
		return names(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "slowread"))
		return slowread(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "halfopen"))
		return halfopen(strtol(argv[2], NULL, 10));
	if (argc == 6 && !strcmp(argv[1], "noread"))
		return noread(strtol(argv[2], NULL, 10), argv[3], argv[4], strtol(argv[5], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "connflood"))
		return connflood(strtol(argv[2], NULL, 10));
	fprintf(stderr, "usage: cl-flood fill NAME KEYS BYTES | list N index|list NAME [hold] | "
		"names PREFIX N | slowread index|list NAME SECS | halfopen N | noread N NAME KEY K | "
		"connflood SECS\n");
	return 2;
}
