/*
 * cs.h - what cpg.c and quorum.c share about a corosync connection.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_CS_H
#define COROLEASE_CS_H

#include <errno.h>
#include <poll.h>
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

#endif /* COROLEASE_CS_H */
