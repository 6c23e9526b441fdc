/*
 * transport.c - libcorolease's socket to coroleased; see transport.h.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#define _GNU_SOURCE 1   /* struct ucred, sendmmsg() */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "corolease/ipc.h"
#include "transport.h"

int cltp_connect(const char *path, uint64_t deadline, int *fd_r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* room for one largest request (the kernel doubles it) */
	int sb = (int)(CLP_MAX_MSG / 2 + 4096);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	for (;;) {
		/* a full listen backlog makes a blocking connect wait, at most until the deadline */
		uint64_t now = clp_now_us();
		if (now >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		uint64_t left = deadline - now;
		struct timeval tv = { .tv_sec = (time_t)(left / 1000000u),
				      .tv_usec = (suseconds_t)(left % 1000000u) };
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		if (e == EINTR || e == EAGAIN)
			continue;   /* the deadline decides */
		close(fd);
		if (e == ECONNREFUSED || e == ENOENT)
			return -ENOENT;
		return -e;
	}
	struct timeval zero = { 0, 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
	*fd_r = fd;
	return 0;
}

int cltp_peer(int fd, uid_t *uid_r, pid_t *pid_r)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	*uid_r = cr.uid;
	*pid_r = cr.pid;
	return 0;
}

static ssize_t gone(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == ESHUTDOWN ? -ENOTCONN : -e;
}

ssize_t cltp_sendv(int fd, const struct iovec *iov, unsigned niov)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = niov };
	for (;;) {
		ssize_t r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return errno == EAGAIN || errno == ENOBUFS ? -EAGAIN : gone(errno);
	}
}

int cltp_sendmany(int fd, const struct iovec *pkt, unsigned n)
{
	struct mmsghdr mm[CLTP_SENDMANY_MAX];
	if (n > CLTP_SENDMANY_MAX)
		n = CLTP_SENDMANY_MAX;
	memset(mm, 0, n * sizeof(mm[0]));
	for (unsigned i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_iov = (struct iovec *)&pkt[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		int r = sendmmsg(fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0)
			return r;
		if (r == 0)
			return -EAGAIN;
		if (errno != EINTR)
			return errno == EAGAIN || errno == ENOBUFS ? -EAGAIN : (int)gone(errno);
	}
}

/* One recv(2) with flags; a blocking one (no MSG_DONTWAIT) returns -EINTR. */
static ssize_t recv_one(int fd, void *buf, size_t cap, int flags)
{
	bool reset = false;
	for (;;) {
		ssize_t r = recv(fd, buf, cap, flags | MSG_TRUNC);
		if (r == 0)
			return -ENOTCONN;
		if (r > 0)
			return (size_t)r > cap ? -EMSGSIZE : r;
		if (errno == ECONNRESET && !reset) {
			/*
			 * The daemon closed with our requests unread; the kernel reports
			 * that once, and what the daemon sent before may still be queued.
			 */
			reset = true;
			flags |= MSG_DONTWAIT;
			continue;
		}
		if (errno == EINTR && !(flags & MSG_DONTWAIT))
			return -EINTR;
		if (errno != EINTR)
			return errno == EAGAIN && !reset ? -EAGAIN : gone(errno == EAGAIN ? ECONNRESET : errno);
	}
}

ssize_t cltp_recv(int fd, void *buf, size_t cap)
{
	return recv_one(fd, buf, cap, MSG_DONTWAIT);
}

ssize_t cltp_recv_wait(int fd, void *buf, size_t cap)
{
	ssize_t r = recv_one(fd, buf, cap, 0);
	if (r == -EINTR)
		return -EAGAIN;
	if (r == -EAGAIN) {
		/* at once, with no receive timeout set: O_NONBLOCK is on */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0) {
			/* EINVAL, RLIMIT_NOFILE at 0: -EAGAIN would loop at once (helper-91) */
			return errno == EINTR ? -EAGAIN : errno == ENOMEM ? -ENOMEM : -ENOTCONN;
		}
		return cltp_recv(fd, buf, cap);
	}
	return r;
}

void cltp_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
