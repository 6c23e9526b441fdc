/*
 * fakeqb.h - test support: a stand-in for libqb's IPC client calls
 * (qb_ipcc_connect_async, _connect_continue, _auth_get, _sendv,
 * _event_recv, _fd_get, _get_buffer_size, _disconnect), so a unit test
 * links libclient/client.c with this file instead of libqb and plays the
 * daemon itself, in-process and deterministically.
 *
 * Each request the library sends is handed, whole, to the test's handler
 * (fakeqb_set_handler), which answers by queueing events with
 * fakeqb_event(); the library receives them in order, and the connection's
 * fd (a pipe's read end) is readable exactly while events are queued.
 * fakeqb_hangup() makes the "daemon" vanish as a crash does: the pipe's
 * write end is closed, so the fd reports POLLHUP, and sends and receives
 * fail as on a lost connection.  One connection at a time.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_TEST_FAKEQB_H
#define COROLEASE_TEST_FAKEQB_H

#include <stddef.h>

/* Called for each request sent: the bytes as the daemon would read them. */
typedef void (*fakeqb_request_fn)(void *ctx, const void *req, size_t len);

void fakeqb_set_handler(fakeqb_request_fn fn, void *ctx);
/* Queues one event (copied) for the library to receive. */
void fakeqb_event(const void *ev, size_t len);
/* Events queued and not yet received. */
size_t fakeqb_queued(void);
/* The daemon is gone: POLLHUP on the fd; later sends and receives fail with -ENOTCONN. */
void fakeqb_hangup(void);
/* The uid qb_ipcc_auth_get() reports for the "daemon" (default: our own). */
void fakeqb_set_server_uid(unsigned uid);
/* The server pid qb_ipcc_auth_get() reports (default: the caller's own). */
void fakeqb_set_server_pid(int pid);

#endif /* COROLEASE_TEST_FAKEQB_H */
