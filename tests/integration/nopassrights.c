/*
 * nopassrights.c - LD_PRELOAD for coroleased in tests: its setsockopt()
 * that refuses passed file descriptors at the sender (SO_PASSRIGHTS, Linux
 * 6.16) fails with ENOPROTOOPT, as on Debian 12's 6.1, so that on a newer
 * kernel its socket accepts passed descriptors as there, and the daemon's
 * own handling of them (closed by a thread of their own, descriptors kept
 * for them) runs.  Every other call is the real one.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

#define NP_SO_PASSRIGHTS 83   /* asm-generic/socket.h */

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	if (level == SOL_SOCKET && name == NP_SO_PASSRIGHTS) {
		errno = ENOPROTOOPT;
		return -1;
	}
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, name, val, len);
}
