/*
 * clt.h - what the integration-test clients (cl-*.c) share: line-buffered
 * output for the test scripts, a clean stop on SIGTERM or SIGINT, and (after
 * corolease/ipc.h) a raw connection to the daemon's socket.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CLT_H
#define COROLEASE_CLT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by SIGTERM or SIGINT: the client's loop ends and it exits 0. */
static volatile sig_atomic_t clt_stop __attribute__((unused));

static inline void clt_on_signal(int sig)
{
	(void)sig;
	clt_stop = 1;
}

/* Line-buffers stdout, sets clt_stop on SIGTERM and SIGINT, ignores SIGPIPE. */
static inline void clt_start(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = clt_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

#ifdef CLP_SOCKET_FILE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * A raw connection to the daemon's socket, for clients that talk the
 * protocol themselves (corolease/ipc.h): one packet per message.
 */
typedef struct clt_conn {
	int fd;
} clt_conn_t;

/*
 * The daemon's socket: $COROLEASE_RUN_DIR or CLP_DEFAULT_RUN_DIR, then
 * $CLT_SOCKET_FILE (e.g. CLP_ROOT_SOCKET_FILE) or CLP_SOCKET_FILE.
 */
static inline void clt_socket_addr(struct sockaddr_un *a)
{
	const char *dir = getenv("COROLEASE_RUN_DIR");
	const char *file = getenv("CLT_SOCKET_FILE");
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s",
		 dir && dir[0] == '/' ? dir : CLP_DEFAULT_RUN_DIR, file && file[0] ? file : CLP_SOCKET_FILE);
}

/* Connects (blocking); NULL with errno set on failure. */
static inline clt_conn_t *clt_connect(void)
{
	struct sockaddr_un a;
	clt_socket_addr(&a);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int sb = (int)(CLP_MAX_MSG / 2 + 4096);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	clt_conn_t *c = malloc(sizeof(*c));
	if (!c || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		free(c);
		close(fd);
		errno = e;
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* Sends one packet: its size, or -errno (-EAGAIN: no room now). */
static inline ssize_t clt_sendv(clt_conn_t *c, const struct iovec *iov, size_t n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	return r < 0 ? -errno : r;
}

/*
 * Receives one packet within timeout_ms (-1: no limit): its size, or
 * -ETIMEDOUT, -ENOTCONN (the daemon closed), -EMSGSIZE (larger than len).
 */
static inline ssize_t clt_recv(clt_conn_t *c, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	ssize_t r = recv(c->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
	if (r == 0)
		return -ENOTCONN;
	if (r < 0)
		return errno == ECONNRESET ? -ENOTCONN : -errno;
	return (size_t)r > len ? -EMSGSIZE : r;
}

static inline void clt_close(clt_conn_t *c)
{
	if (c) {
		close(c->fd);
		free(c);
	}
}
#endif

#endif /* COROLEASE_CLT_H */
