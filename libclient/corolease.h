/*
 * corolease.h - public interface of libcorolease.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * Errors: every function that can fail returns a negative errno value
 * (-EBUSY, -ESTALE, ...) or one of the domain codes below, which live in
 * their own negative range so they never collide with errno.  0 is
 * success; some functions return a positive count.
 */
#ifndef COROLEASE_H
#define COROLEASE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits shared by the library, the daemon and the wire format. */
#define COROLEASE_NAME_MAX   1024u          /* lease name: 1..1024 opaque bytes */
#define COROLEASE_KEY_MAX    255u           /* index key: 1..255 bytes */
#define COROLEASE_VALUE_MAX  (64u * 1024u)  /* index value: 0..64 KiB */

/* Lease modes. */
enum corolease_mode {
	COROLEASE_EX = 1, /* exclusive: one node */
	COROLEASE_SH = 2, /* shared: any number of nodes */
};

/* Acquire flags. */
#define COROLEASE_WAIT  0x01u  /* queue behind the holder instead of -EBUSY */

/*
 * Domain error codes.  X(NAME, value, message).  One list makes the enum,
 * corolease_strerror() and corolease_errname().
 */
#define COROLEASE_ERRNO_MAP(X)                                                          \
	X(NOQUORUM,  -3001, "cluster partition is not quorate")                           \
	X(ORPHANED,  -3002, "lease is held by a departed node awaiting recovery or fence-ack") \
	X(NOTHELD,   -3003, "lease is not held")                                           \
	X(REVOKED,   -3004, "lease was revoked")                                           \
	X(SYNCING,   -3005, "node is synchronising cluster state")                        \
	X(PROTO,     -3006, "malformed protocol message")                                  \
	X(VERSION,   -3007, "unsupported protocol or snapshot version")                    \
	X(NODEALIVE, -3008, "node is a live cluster member")                               \
	X(DISCONNECTED, -3009, "not connected to coroleased")

enum corolease_errno {
#define COROLEASE_ERRNO_ENUM_(name, val, msg) COROLEASE_E##name = (val),
	COROLEASE_ERRNO_MAP(COROLEASE_ERRNO_ENUM_)
#undef COROLEASE_ERRNO_ENUM_
};

#ifdef __cplusplus
}
#endif
#endif /* COROLEASE_H */
