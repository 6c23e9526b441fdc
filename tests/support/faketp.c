/*
 * faketp.c - test support: a stand-in for libcorolease's transport
 * (libclient/transport.h).  Contract: faketp.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"
#include "faketp.h"

#define FAKETP_BUFSIZE (256 * 1024)

struct fake_ev {
	struct fake_ev *next;
	size_t len;
	unsigned char data[];
};

static struct {
	bool open, hung_up;
	bool uid_set;
	uid_t uid;                    /* the server's, for cltp_peer */
	int pipe[2];                  /* one byte per queued event */
	struct fake_ev *head, **tail;
	size_t n;
	faketp_request_fn fn;
	void *ctx;
	unsigned send_calls;
	unsigned empty_recvs;         /* cltp_recv calls that found nothing */
	int room;                     /* packets that still fit, < 0: no limit */
	uint64_t full_until;          /* CLOCK_MONOTONIC us: no room before it */
} fq = { .room = -1 };

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void faketp_full_for_us(unsigned us)
{
	fq.full_until = mono_us() + us;
}

unsigned faketp_send_calls(void)
{
	return fq.send_calls;
}

unsigned faketp_empty_recvs(void)
{
	return fq.empty_recvs;
}

void faketp_set_room(int n)
{
	fq.room = n;
}

/* One packet to the handler, as the daemon would read it. */
static ssize_t deliver(const struct iovec *iov, unsigned niov)
{
	if (fq.hung_up)
		return -ENOTCONN;
	if (fq.room == 0 || (fq.full_until && mono_us() < fq.full_until))
		return -EAGAIN;
	if (fq.room > 0)
		fq.room--;
	size_t total = 0;
	for (size_t i = 0; i < niov; i++)
		total += iov[i].iov_len;
	unsigned char *buf = malloc(total ? total : 1);
	if (!buf)
		return -ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < niov; i++) {
		if (iov[i].iov_len)
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (fq.fn)
		fq.fn(fq.ctx, buf, total);
	free(buf);
	return (ssize_t)total;
}

void faketp_set_handler(faketp_request_fn fn, void *ctx)
{
	fq.fn = fn;
	fq.ctx = ctx;
}

void faketp_event(const void *ev, size_t len)
{
	struct fake_ev *e = malloc(sizeof(*e) + len);
	if (!e || !fq.open)
		abort();
	e->next = NULL;
	e->len = len;
	memcpy(e->data, ev, len);
	*fq.tail = e;
	fq.tail = &e->next;
	fq.n++;
	if (write(fq.pipe[1], "e", 1) != 1)
		abort();
}

size_t faketp_queued(void)
{
	return fq.n;
}

void faketp_hangup(void)
{
	if (fq.hung_up)
		return;
	fq.hung_up = true;
	close(fq.pipe[1]);   /* the read end now reports POLLHUP, as a dead daemon's socket */
	fq.pipe[1] = -1;
}

void faketp_set_server_uid(unsigned uid)
{
	fq.uid_set = true;
	fq.uid = (uid_t)uid;
}

/* Connecting succeeds at once when the socket file exists (the test's stand-in for a daemon). */
int cltp_connect(const char *path, uint64_t deadline, int *fd_r)
{
	(void)deadline;
	if (access(path, F_OK) < 0)
		return -ENOENT;
	if (fq.open || pipe2(fq.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -EMFILE;
	fq.open = true;
	fq.hung_up = false;
	fq.room = -1;
	fq.full_until = 0;
	fq.head = NULL;
	fq.tail = &fq.head;
	fq.n = 0;
	*fd_r = fq.pipe[0];
	return 0;
}

int cltp_peer(int fd, uid_t *uid_r, pid_t *pid_r)
{
	(void)fd;
	*pid_r = getpid();
	*uid_r = fq.uid_set ? fq.uid : geteuid();
	return 0;
}

ssize_t cltp_sendv(int fd, const struct iovec *iov, unsigned niov)
{
	(void)fd;
	fq.send_calls++;
	return deliver(iov, niov);
}

int cltp_sendmany(int fd, const struct iovec *pkt, unsigned n)
{
	(void)fd;
	fq.send_calls++;
	unsigned i;
	for (i = 0; i < n && i < CLTP_SENDMANY_MAX; i++) {
		ssize_t r = deliver(&pkt[i], 1);
		if (r < 0)
			return i ? (int)i : (int)r;
	}
	return (int)i;
}

ssize_t cltp_recv(int fd, void *buf, size_t cap)
{
	(void)fd;
	struct fake_ev *e = fq.head;
	if (!e) {
		fq.empty_recvs++;
		return fq.hung_up ? -ENOTCONN : -EAGAIN;
	}
	char b;
	if (read(fq.pipe[0], &b, 1) != 1)
		abort();
	fq.head = e->next;
	if (!fq.head)
		fq.tail = &fq.head;
	fq.n--;
	ssize_t len = (ssize_t)e->len;
	if (e->len <= cap)
		memcpy(buf, e->data, e->len);
	else
		len = -EMSGSIZE;
	free(e);
	return len;
}

ssize_t cltp_recv_wait(int fd, void *buf, size_t cap)
{
	if (!fq.head && !fq.hung_up) {
		struct pollfd p = { .fd = fq.pipe[0], .events = POLLIN };
		if (poll(&p, 1, -1) < 0)
			return -EAGAIN;
	}
	return cltp_recv(fd, buf, cap);
}

void cltp_close(int fd)
{
	if (fd < 0 || !fq.open)
		return;
	while (fq.head) {
		struct fake_ev *e = fq.head;
		fq.head = e->next;
		free(e);
	}
	fq.tail = &fq.head;
	fq.n = 0;
	close(fq.pipe[0]);
	if (fq.pipe[1] >= 0)
		close(fq.pipe[1]);
	fq.open = false;
}
