/*
 * faketp.h - test support: a stand-in for libcorolease's transport
 * (libclient/transport.h: cltp_connect, _peer, _sendv, _sendmany, _recv,
 * _close), so a
 * unit test links libclient/client.c with this file instead of
 * libclient/transport.c and plays the daemon itself, in-process and
 * deterministically.  A connect succeeds when the socket path exists.
 *
 * Each request the library sends is handed, whole, to the test's handler
 * (faketp_set_handler), which answers by queueing events with
 * faketp_event(); the library receives them in order, and the connection's
 * fd (a pipe's read end) is readable exactly while events are queued.
 * faketp_hangup() makes the "daemon" vanish as a crash does: the pipe's
 * write end is closed, so the fd reports POLLHUP, and sends and receives
 * fail as on a lost connection.  One connection at a time.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_TEST_FAKETP_H
#define COROLEASE_TEST_FAKETP_H

#include <stddef.h>

/* Called for each request sent: the bytes as the daemon would read them. */
typedef void (*faketp_request_fn)(void *ctx, const void *req, size_t len);

void faketp_set_handler(faketp_request_fn fn, void *ctx);
/* Queues one event (copied) for the library to receive. */
void faketp_event(const void *ev, size_t len);
/* Events queued and not yet received. */
size_t faketp_queued(void);
/* The daemon is gone: POLLHUP on the fd; later sends and receives fail with -ENOTCONN. */
void faketp_hangup(void);
/* Transport send calls so far (cltp_sendv, cltp_sendmany), each counted once. */
unsigned faketp_send_calls(void);
/* Receives (cltp_recv) that found no event queued, so far. */
unsigned faketp_empty_recvs(void);
/* Room for n more packets, then -EAGAIN until it is set again; n < 0: no limit (the default). */
void faketp_set_room(int n);
/* No room (-EAGAIN) for us microseconds of CLOCK_MONOTONIC from now, then no limit. */
void faketp_full_for_us(unsigned us);
/* The uid cltp_peer() reports for the "daemon" (default: our own). */
void faketp_set_server_uid(unsigned uid);

#endif /* COROLEASE_TEST_FAKETP_H */
