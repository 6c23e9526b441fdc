/*
 * page.c - the daemon's validity page.  Contract: page.h; format:
 * corolease/ipc.h, "The validity page".
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corolease/ipc.h"
#include "page.h"

/* The file name of the format before version 3: corolease.NODEID.state. */
#define OLD_PREFIX "corolease."
#define OLD_SUFFIX ".state"

struct cld_page {
	struct clp_shm_page *hdr;     /* the whole mapping starts here */
	size_t len;
	uint64_t *slots;              /* nslots words */
	uint32_t nslots;
	uint32_t next_unused;         /* slots [next_unused, nslots) never allocated */
	uint32_t *free;               /* freed slots, a stack; room for next_unused */
	uint32_t nfree, free_cap;
	char path[128];
};

static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

int cld_page_check_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		errf(err, errlen, "run_dir %s: %s%s", dir, strerror(e),
		     e == ELOOP || e == ENOTDIR ? " (must be a directory, not a symlink)" : "");
		return -e;
	}
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		errf(err, errlen, "run_dir %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!owner_ok(st.st_uid) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		errf(err, errlen, "run_dir %s is owned by uid %u with mode %04o: it holds the validity "
		     "page, so it must be owned by root (or this daemon's user) and not writable by "
		     "group or others (e.g. mode 0755)", dir, (unsigned)st.st_uid,
		     (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Is name one of our page files (this format's or the one before)? */
static bool page_name(const char *name)
{
	size_t n = strlen(name), p = strlen(CLP_SHM_PREFIX);
	if (n == p + 16 && !strncmp(name, CLP_SHM_PREFIX, p))
		return strspn(name + p, "0123456789abcdef") == 16;
	size_t op = strlen(OLD_PREFIX), os = strlen(OLD_SUFFIX);
	return n > op + os && !strncmp(name, OLD_PREFIX, op) && !strcmp(name + n - os, OLD_SUFFIX) &&
	       strspn(name + op, "0123456789") == n - op - os;
}

/*
 * Marks one old page file dead: both formats start with a 32-bit magic,
 * and both had valid_until at offset 8 (version 2) or 16 (this one); each
 * is zeroed where the file has it.
 */
static void retire_file(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    st.st_size >= 24) {
		void *m = mmap(NULL, 24, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED) {
			uint32_t *magic = m;
			uint64_t *w = m;
			__atomic_store_n(&w[1], 0, __ATOMIC_RELEASE);   /* version 2's valid_until */
			__atomic_store_n(&w[2], 0, __ATOMIC_RELEASE);   /* this version's */
			__atomic_store_n(magic, 0, __ATOMIC_RELEASE);
			munmap(m, 24);
		}
	}
	close(fd);
}

int cld_page_retire_old(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!page_name(e->d_name))
			continue;
		retire_file(dfd, e->d_name);
		if (unlinkat(dfd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

/* A random incarnation id, never 0. */
static uint64_t new_incarnation(void)
{
	uint64_t id = 0;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id)) {
		/* no entropy yet (early boot): unique is what matters, O_EXCL checks it */
		struct timespec a, b;
		clock_gettime(CLOCK_REALTIME, &a);
		clock_gettime(CLOCK_MONOTONIC, &b);
		id = ((uint64_t)a.tv_sec << 32) ^ (uint64_t)a.tv_nsec ^ ((uint64_t)b.tv_nsec << 20) ^
		     ((uint64_t)getpid() << 44);
	}
	return id ? id : 1;
}

int cld_page_create(const char *dir, uint32_t nodeid, pid_t pid, uint32_t nslots,
		    struct cld_page **pg_r, char *err, size_t errlen)
{
	*pg_r = NULL;
	if (nslots == 0 || nslots > CLP_SHM_SLOTS_MAX) {
		errf(err, errlen, "slot count %" PRIu32 " out of 1..%u", nslots, CLP_SHM_SLOTS_MAX);
		return -EINVAL;
	}
	struct cld_page *pg = calloc(1, sizeof(*pg));
	if (!pg) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	uint64_t inc = 0;
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		inc = new_incarnation();
		int n = snprintf(pg->path, sizeof(pg->path), "%s/" CLP_SHM_PREFIX "%016" PRIx64, dir, inc);
		if (n < 0 || (size_t)n >= sizeof(pg->path)) {
			errf(err, errlen, "run_dir %s too long for the validity page path", dir);
			free(pg);
			return -ENAMETOOLONG;
		}
		fd = open(pg->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int e = errno;
		errf(err, errlen, "cannot create %s: %s", pg->path, strerror(e));
		free(pg);
		return -e;
	}
	pg->len = clp_shm_len(nslots);
	void *m = MAP_FAILED;
	int rc = 0;
	/* the mode 0644 whatever the umask: clients must read it, nobody else write it */
	if (fchmod(fd, 0644) < 0 || ftruncate(fd, (off_t)pg->len) < 0 ||
	    (m = mmap(NULL, pg->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		rc = -errno;
	close(fd);
	if (rc < 0) {
		errf(err, errlen, "cannot size or map %s (%zu bytes): %s", pg->path, pg->len,
		     strerror(-rc));
		unlink(pg->path);
		free(pg);
		return rc;
	}
	pg->hdr = m;
	pg->slots = (uint64_t *)((char *)m + CLP_SHM_SLOTS_OFF);
	pg->nslots = nslots;
	pg->hdr->version = CLP_VERSION;
	pg->hdr->incarnation = inc;
	pg->hdr->valid_until = 0;
	pg->hdr->nodeid = nodeid;
	pg->hdr->daemon_pid = (uint32_t)pid;
	pg->hdr->daemon_uid = (uint32_t)geteuid();
	pg->hdr->nslots = nslots;
	__atomic_store_n(&pg->hdr->magic, CLP_SHM_MAGIC, __ATOMIC_RELEASE);
	*pg_r = pg;
	return 0;
}

void cld_page_kill(struct cld_page *pg)
{
	if (!pg || !pg->hdr)
		return;
	__atomic_store_n(&pg->hdr->valid_until, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&pg->hdr->magic, 0, __ATOMIC_RELEASE);
	unlink(pg->path);
}

struct cld_page *cld_page_close(struct cld_page *pg)
{
	if (!pg)
		return NULL;
	cld_page_kill(pg);
	munmap(pg->hdr, pg->len);
	free(pg->free);
	free(pg);
	return NULL;
}

void cld_page_set_valid_until(struct cld_page *pg, uint64_t valid_until)
{
	__atomic_store_n(&pg->hdr->valid_until, valid_until, __ATOMIC_RELEASE);
}

uint64_t cld_page_valid_until(const struct cld_page *pg)
{
	return __atomic_load_n(&pg->hdr->valid_until, __ATOMIC_ACQUIRE);
}

void cld_page_set_revoke_us(struct cld_page *pg, uint64_t revoke_us)
{
	__atomic_store_n(&pg->hdr->revoke_us, revoke_us, __ATOMIC_RELEASE);
}

const char *cld_page_path(const struct cld_page *pg)
{
	return pg->path;
}

uint64_t cld_page_incarnation(const struct cld_page *pg)
{
	return pg->hdr->incarnation;
}

uint32_t cld_page_nslots(const struct cld_page *pg)
{
	return pg->nslots;
}

uint32_t cld_page_slots_used(const struct cld_page *pg)
{
	return pg->next_unused - pg->nfree;
}

int cld_page_slot_alloc(struct cld_page *pg, uint32_t *slot_r)
{
	if (pg->nfree) {
		*slot_r = pg->free[--pg->nfree];
		return 0;
	}
	if (pg->next_unused >= pg->nslots)
		return -EDQUOT;
	/* room to free every slot ever handed out, so that freeing never fails */
	if (pg->free_cap <= pg->next_unused) {
		uint32_t cap = pg->free_cap ? pg->free_cap * 2 : 64;
		if (cap > pg->nslots)
			cap = pg->nslots;
		uint32_t *f = realloc(pg->free, (size_t)cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		pg->free = f;
		pg->free_cap = cap;
	}
	*slot_r = pg->next_unused++;
	return 0;
}

uint64_t cld_page_slot_arm(struct cld_page *pg, uint32_t slot)
{
	uint64_t w = __atomic_load_n(&pg->slots[slot], __ATOMIC_RELAXED) | CLP_SLOT_VALID;
	__atomic_store_n(&pg->slots[slot], w, __ATOMIC_RELEASE);
	return w;
}

void cld_page_slot_clear(struct cld_page *pg, uint32_t slot)
{
	uint64_t w = __atomic_load_n(&pg->slots[slot], __ATOMIC_RELAXED) & ~(uint64_t)CLP_SLOT_VALID;
	__atomic_store_n(&pg->slots[slot], w, __ATOMIC_RELEASE);
}

void cld_page_slot_free(struct cld_page *pg, uint32_t slot)
{
	uint64_t gen = __atomic_load_n(&pg->slots[slot], __ATOMIC_RELAXED) >> 1;
	__atomic_store_n(&pg->slots[slot], (gen + 1) << 1, __ATOMIC_RELEASE);
	pg->free[pg->nfree++] = slot;
}

uint64_t cld_page_slot_word(const struct cld_page *pg, uint32_t slot)
{
	return __atomic_load_n(&pg->slots[slot], __ATOMIC_ACQUIRE);
}
