/*
 * fakeqb.c - test support: a stand-in for libqb's IPC client.  Contract:
 * fakeqb.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <qb/qbipcc.h>

#include "fakeqb.h"

#define FAKEQB_BUFSIZE (256 * 1024)

struct fake_ev {
	struct fake_ev *next;
	size_t len;
	unsigned char data[];
};

static struct {
	bool open, hung_up;
	bool uid_set;
	uid_t uid;                    /* the server's, for qb_ipcc_auth_get */
	int pipe[2];                  /* one byte per queued event */
	struct fake_ev *head, **tail;
	size_t n;
	fakeqb_request_fn fn;
	void *ctx;
} fq;

static char fake_conn;                /* the handle: any non-NULL pointer */

void fakeqb_set_handler(fakeqb_request_fn fn, void *ctx)
{
	fq.fn = fn;
	fq.ctx = ctx;
}

void fakeqb_event(const void *ev, size_t len)
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

size_t fakeqb_queued(void)
{
	return fq.n;
}

void fakeqb_hangup(void)
{
	if (fq.hung_up)
		return;
	fq.hung_up = true;
	close(fq.pipe[1]);   /* the read end now reports POLLHUP, as a dead daemon's socket */
	fq.pipe[1] = -1;
}

void fakeqb_set_server_uid(unsigned uid)
{
	fq.uid_set = true;
	fq.uid = (uid_t)uid;
}

/* The handshake is done at once: the connect fd is readable from the start. */
qb_ipcc_connection_t *qb_ipcc_connect_async(const char *name, size_t max_msg_size, int *connect_fd)
{
	(void)name;
	(void)max_msg_size;
	if (fq.open || pipe2(fq.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return NULL;
	fq.open = true;
	fq.hung_up = false;
	fq.head = NULL;
	fq.tail = &fq.head;
	fq.n = 0;
	*connect_fd = fq.pipe[0];
	if (write(fq.pipe[1], "c", 1) != 1)
		abort();
	return (qb_ipcc_connection_t *)(void *)&fake_conn;
}

int qb_ipcc_connect_continue(qb_ipcc_connection_t *c)
{
	(void)c;
	char b;
	if (read(fq.pipe[0], &b, 1) != 1)
		abort();
	return 0;
}

static pid_t server_pid;

void fakeqb_set_server_pid(int pid)
{
	server_pid = (pid_t)pid;
}

int32_t qb_ipcc_auth_get(qb_ipcc_connection_t *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	(void)c;
	if (pid)
		*pid = server_pid ? server_pid : getpid();
	if (uid)
		*uid = fq.uid_set ? fq.uid : geteuid();
	if (gid)
		*gid = getegid();
	return 0;
}

int32_t qb_ipcc_get_buffer_size(qb_ipcc_connection_t *c)
{
	(void)c;
	return FAKEQB_BUFSIZE;
}

int32_t qb_ipcc_fd_get(qb_ipcc_connection_t *c, int32_t *fd)
{
	(void)c;
	*fd = fq.pipe[0];
	return 0;
}

ssize_t qb_ipcc_sendv(qb_ipcc_connection_t *c, const struct iovec *iov, size_t iov_len)
{
	(void)c;
	if (fq.hung_up)
		return -ENOTCONN;
	size_t total = 0;
	for (size_t i = 0; i < iov_len; i++)
		total += iov[i].iov_len;
	unsigned char *buf = malloc(total ? total : 1);
	if (!buf)
		return -ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < iov_len; i++) {
		if (iov[i].iov_len)
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (fq.fn)
		fq.fn(fq.ctx, buf, total);
	free(buf);
	return (ssize_t)total;
}

ssize_t qb_ipcc_event_recv(qb_ipcc_connection_t *c, void *msg_ptr, size_t msg_len,
			   int32_t ms_timeout)
{
	(void)c;
	(void)ms_timeout;
	if (fq.hung_up)
		return -ENOTCONN;
	struct fake_ev *e = fq.head;
	if (!e)
		return -EAGAIN;
	if (e->len > msg_len)
		return -EMSGSIZE;
	char b;
	if (read(fq.pipe[0], &b, 1) != 1)
		abort();
	fq.head = e->next;
	if (!fq.head)
		fq.tail = &fq.head;
	fq.n--;
	memcpy(msg_ptr, e->data, e->len);
	ssize_t len = (ssize_t)e->len;
	free(e);
	return len;
}

void qb_ipcc_disconnect(qb_ipcc_connection_t *c)
{
	(void)c;
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
