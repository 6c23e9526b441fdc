/*
 * hashkey.c - the daemon's secret table key.  Contract: hashkey.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "hashkey.h"

static struct cl_hash_key key;
static bool drawn;

/* Fills len bytes at p from /dev/urandom.  0 or a negative errno. */
static int urandom(void *p, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, p, len);
	int err = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	close(fd);
	return err;
}

int cld_hash_key_init(void)
{
	if (drawn)
		return 0;
	struct cl_hash_key k;
	ssize_t n = getrandom(&k, sizeof(k), 0);
	if (n != (ssize_t)sizeof(k)) {
		int rc = urandom(&k, sizeof(k));
		if (rc < 0)
			return rc;
	}
	key = k;
	drawn = true;
	return 0;
}

const struct cl_hash_key *cld_hash_key(void)
{
	if (!drawn && cld_hash_key_init() < 0)
		abort();   /* unreachable in the daemon: main() draws it first or exits */
	return &key;
}
