/*
 * qbpeek.c - the real size of each request libqb hands coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * libqb's server takes a request out of the client's shared-memory ring
 * with qb_rb_chunk_peek(), which returns the chunk's size, and then calls
 * msg_process with the size written in the message's own header by the
 * client (libqb 2.0, lib/ipcs.c, _process_request_).  A client that claims
 * more than it sent would have the daemon parse whatever follows its chunk
 * in the ring.  This file defines qb_rb_chunk_peek: libqb calls it through
 * its PLT, so this definition runs, calls libqb's own (dlsym RTLD_NEXT) and
 * remembers the chunk it returned; msg_fn (ipc.c) compares.  Should a libqb
 * ever bypass it, cld_qb_chunk_size() answers -1 and ipc.c says so in the
 * log once (and falls back to the header's size, bounded by the buffer).
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stddef.h>

#include <qb/qbrb.h>

#include "qbpeek.h"

typedef ssize_t (*peek_fn)(qb_ringbuffer_t *rb, void **data_out, int32_t timeout);

static peek_fn real_peek;
static const void *last_data;
static ssize_t last_size;

ssize_t qb_rb_chunk_peek(qb_ringbuffer_t *rb, void **data_out, int32_t timeout)
{
	if (!real_peek) {
		real_peek = (peek_fn)dlsym(RTLD_NEXT, "qb_rb_chunk_peek");
		if (!real_peek)
			return -ENOSYS;
	}
	ssize_t n = real_peek(rb, data_out, timeout);
	if (n > 0) {
		last_data = *data_out;
		last_size = n;
	}
	return n;
}

ssize_t cld_qb_chunk_size(const void *data)
{
	return data && data == last_data ? last_size : -1;
}
