/*
 * transport.h - libcorolease's socket to coroleased (corolease/ipc.h,
 * "Transport"): connecting, checking who serves, one packet in or out.
 * client.c speaks the protocol over these calls only, so a unit test can
 * link a stand-in (tests/support/faketp.c) and play the daemon in-process.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#ifndef COROLEASE_CLIENT_TRANSPORT_H
#define COROLEASE_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Connects to the daemon's socket at path by deadline (clp_now_us()).  0
 * with *fd_r (close-on-exec; left blocking, every call here but
 * cltp_recv_wait() passes MSG_DONTWAIT), or -ENOENT (no daemon: no
 * socket, or nobody listening), -EACCES (not allowed to connect: not in
 * socket_group), -ETIMEDOUT, or another -errno.
 */
int cltp_connect(const char *path, uint64_t deadline, int *fd_r);
/* The server's uid and pid (SO_PEERCRED): 0, or -errno. */
int cltp_peer(int fd, uid_t *uid_r, pid_t *pid_r);
/* Sends one packet: its size, -EAGAIN (no room now), -ENOTCONN (gone) or -errno. */
ssize_t cltp_sendv(int fd, const struct iovec *iov, unsigned niov);
/* The most packets cltp_sendmany() sends in one call. */
#define CLTP_SENDMANY_MAX 64

/*
 * Sends n packets, pkt[i] each, in order and in one system call where it
 * can: how many went (1..n), or -EAGAIN (none had room), -ENOTCONN or
 * -errno when the first could not go.
 */
int cltp_sendmany(int fd, const struct iovec *pkt, unsigned n);
/*
 * Receives one packet into buf: its size, -EAGAIN (none now), -ENOTCONN
 * (the daemon closed or is gone), -EMSGSIZE (larger than cap: dropped).
 */
ssize_t cltp_recv(int fd, void *buf, size_t cap);
/*
 * As cltp_recv(), but waits for the packet, with no time limit, in the
 * receive itself: one system call where poll(2) and a read take two.
 * -EAGAIN when a signal ended the wait.  Where somebody else set
 * O_NONBLOCK on the descriptor it polls first, as it must; a poll that
 * fails is -ENOMEM, or -ENOTCONN (the descriptor cannot be waited on).
 */
ssize_t cltp_recv_wait(int fd, void *buf, size_t cap);
void cltp_close(int fd);

#endif /* COROLEASE_CLIENT_TRANSPORT_H */
