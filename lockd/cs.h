/*
 * cs.h - what cpg.c and quorum.c share about a corosync connection.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CS_H
#define COROLEASE_CS_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <corosync/corotypes.h>

/*
 * The verdict on one dispatch: rc is what the service's *_dispatch()
 * returned (CS_OK when revents had no POLLIN and nothing was dispatched).
 * 0, or -ENOTCONN when the dispatch failed or the fd hung up.
 */
static inline int cld_cs_dispatched(cs_error_t rc, int revents)
{
	if ((rc != CS_OK && rc != CS_ERR_TRY_AGAIN) ||
	    (!(revents & POLLIN) && (revents & (POLLHUP | POLLERR | POLLNVAL))))
		return -ENOTCONN;
	return 0;
}

/* The fd of handle h (0: not connected) by the service's *_fd_get(), else -1. */
static inline int cld_cs_fd(uint64_t h, cs_error_t (*fd_get)(uint64_t h, int *fd))
{
	int fd = -1;
	if (h && fd_get(h, &fd) != CS_OK)
		fd = -1;
	return fd;
}

/*
 * Whether a request may be handed to corosync on fd (cld_cs_fd()) without
 * the risk of a busy loop.  libqb's client IPC (shared memory on Linux) writes
 * a request into the ring, then tells corosync by one byte on its setup
 * socket, and retries that one-byte send at once, in a loop with no sleep,
 * for as long as the socket answers EAGAIN (qb_ipcc_sendv()).  The socket
 * fills when corosync stops reading it (a SIGSTOPped or hung corosync; about
 * 300 requests of the default 208 KiB send buffer): the caller would spin
 * at full CPU, serving nothing, until corosync runs again.  That socket is
 * the fd *_fd_get() returns.  A unix stream socket polls writable only while
 * at most a quarter of its send buffer is used, so one more byte fits.
 */
static inline bool cld_cs_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
	       !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

#endif /* COROLEASE_CS_H */
