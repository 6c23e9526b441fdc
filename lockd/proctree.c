/*
 * proctree.c - the processes descended from one process.  Contract:
 * proctree.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proctree.h"

#define FREEZE_ROUNDS 8

static int proc_cmp(const void *a, const void *b)
{
	int32_t x = ((const struct cld_proc *)a)->pid, y = ((const struct cld_proc *)b)->pid;
	return x < y ? -1 : x > y;
}

void cld_proc_sort(struct cld_proc *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), proc_cmp);
}

static struct cld_proc *proc_find(struct cld_proc *v, size_t n, int32_t pid)
{
	struct cld_proc key = { .pid = pid };
	return n ? bsearch(&key, v, n, sizeof(*v), proc_cmp) : NULL;
}

size_t cld_proc_mark(struct cld_proc *v, size_t n, int32_t root)
{
	size_t marked = 0;
	for (size_t i = 0; i < n; i++)
		v[i].mark = false;
	/* to a fixed point: each round marks at least one more, or ends */
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < n; i++) {
			if (v[i].mark || v[i].pid == root)
				continue;
			const struct cld_proc *p = NULL;
			if (v[i].ppid == root || ((p = proc_find(v, n, v[i].ppid)) && p->mark)) {
				v[i].mark = true;
				marked++;
				more = true;
			}
		}
	}
	return marked;
}

/* Reads up to len-1 bytes of /proc/pid/what, NUL-terminated.  false if gone. */
static bool read_proc(int32_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t got = read(fd, buf, len - 1);
	close(fd);
	if (got <= 0)
		return false;
	buf[got] = '\0';
	return true;
}

/* The parent and state of pid.  false if gone. */
static bool proc_stat(int32_t pid, int32_t *ppid, bool *zombie)
{
	char buf[512];
	if (!read_proc(pid, "stat", buf, sizeof(buf)))
		return false;
	const char *p = strrchr(buf, ')');   /* the name may hold ')' and spaces */
	char state;
	int pp;
	if (!p || sscanf(p + 1, " %c %d", &state, &pp) != 2)
		return false;
	*ppid = pp;
	*zombie = state == 'Z' || state == 'X';
	return true;
}

/* Whether uid may signal pid as kill(2) would let it: real or saved uid. */
static bool uid_may_signal(int32_t pid, uint32_t uid)
{
	if (uid == 0 || uid == CLD_PROC_ANY_UID)
		return true;
	char buf[2048];
	if (!read_proc(pid, "status", buf, sizeof(buf)))
		return false;
	const char *u = strstr(buf, "\nUid:");
	unsigned long r, e, s;
	if (!u || sscanf(u + 5, "%lu %lu %lu", &r, &e, &s) != 3)
		return false;
	return r == uid || s == uid;
}

bool cld_proc_may_signal(int32_t pid, int pidfd, uint32_t uid)
{
	if (!uid_may_signal(pid, uid))
		return false;
	/* the pidfd's process is still alive, so /proc/pid was read of it */
	return pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

/* Every process in /proc, sorted by pid, marked from root.  -errno if unreadable. */
static int scan(int32_t root, struct cld_proc **v_r, size_t *n_r)
{
	*v_r = NULL;
	*n_r = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct cld_proc *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT32_MAX)
			continue;
		struct cld_proc e = { .pid = (int32_t)pid };
		if (!proc_stat(e.pid, &e.ppid, &e.zombie))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 512;
			struct cld_proc *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = e;
	}
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	cld_proc_sort(v, n);
	cld_proc_mark(v, n, root);
	*v_r = v;
	*n_r = n;
	return 0;
}

/* Whether the kernel lists each thread's children (CONFIG_PROC_CHILDREN). */
static bool have_children_files(void)
{
	static int have = -1;
	if (have < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
		have = access(path, R_OK) == 0;
	}
	return have;
}

/*
 * Reads all of /proc/PID/WHAT into *buf (grown as needed, up to 4 MiB; a
 * children file has no bound of its own).  false if gone or unreadable.
 */
static bool read_all(int32_t pid, const char *what, char **buf, size_t *cap)
{
	char path[340];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	for (;;) {
		if (len + 1 >= *cap) {
			size_t nc = *cap ? *cap * 2 : 4096;
			char *nb = nc <= (4u << 20) ? realloc(*buf, nc) : NULL;
			if (!nb) {
				close(fd);
				return false;
			}
			*buf = nb;
			*cap = nc;
		}
		ssize_t got = read(fd, *buf + len, *cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	(*buf)[len] = '\0';
	return true;
}

/*
 * The live children of pid, from each of its threads' children file,
 * appended to v up to max entries (a process gone meanwhile has none;
 * zombies are left out: they have no children and take no signal).
 */
static void children_of(int32_t pid, struct cld_proc *v, size_t *n, size_t max,
			size_t *reads_left, bool *truncated)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	char *buf = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) && *n < max) {
		if (de->d_name[0] == '.')
			continue;
		char what[300];
		if (!*reads_left) {   /* a process of many threads: one file each */
			*truncated = true;
			break;
		}
		(*reads_left)--;
		snprintf(what, sizeof(what), "task/%s/children", de->d_name);
		if (!read_all(pid, what, &buf, &cap))
			continue;
		for (char *p = buf, *end; *n < max; p = end) {
			long c = strtol(p, &end, 10);
			if (end == p)
				break;
			if (!*reads_left) {   /* each child's stat is a read too */
				*truncated = true;
				break;
			}
			(*reads_left)--;
			int32_t pp;
			bool z;
			if (c > 0 && c <= INT32_MAX && proc_stat((int32_t)c, &pp, &z) && !z)
				v[(*n)++] = (struct cld_proc){ .pid = (int32_t)c, .ppid = pid, .mark = true };
		}
	}
	free(buf);
	closedir(d);
}

/*
 * The descendants of root, breadth first, at most max (sorted by pid, all
 * marked): through the children files, or a scan of all of /proc where the
 * kernel has none (allow_scan).  -errno when neither works.
 */
static int descendants(int32_t root, size_t max, bool allow_scan, size_t *reads_left,
		       struct cld_proc **v_r, size_t *n_r, bool *truncated)
{
	*truncated = false;
	struct cld_proc *v = malloc((max ? max : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	if (have_children_files()) {
		children_of(root, v, &n, max, reads_left, truncated);
		for (size_t i = 0; i < n && n < max && *reads_left; i++)
			children_of(v[i].pid, v, &n, max, reads_left, truncated);
		if (n >= max)
			*truncated = true;
	} else {
		free(v);
		if (!allow_scan)
			return -ENOENT;
		int rc = scan(root, &v, &n);
		if (rc < 0)
			return rc;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].mark && k < max)
				v[k++] = v[i];
			else if (v[i].mark)
				*truncated = true;
		n = k;
	}
	cld_proc_sort(v, n);
	*v_r = v;
	*n_r = n;
	return 0;
}

struct member {
	int32_t pid;
	int pidfd;              /* -1: no pidfd (kernel before 5.3): the pid */
};

static int send_sig(const struct member *m, int sig)
{
	if (m->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, m->pidfd, sig, NULL, 0);
	return kill(m->pid, sig);
}

/*
 * Opens a pidfd for e, one of the descendants v, and checks, after the
 * reads, that the process is the one read: alive, still a child of root or
 * of one of v, signallable by uid.
 */
static bool take(struct cld_proc *v, size_t n, int32_t root, const struct cld_proc *e,
		 uint32_t uid, struct member *m)
{
	m->pid = e->pid;
	m->pidfd = (int)syscall(SYS_pidfd_open, e->pid, 0);
	if (m->pidfd < 0 && errno != ENOSYS)
		return false;   /* gone */
	int32_t pp;
	bool z;
	bool ok = proc_stat(e->pid, &pp, &z) && !z &&
		  (pp == root || proc_find(v, n, pp)) &&
		  uid_may_signal(e->pid, uid) &&
		  send_sig(m, 0) == 0;   /* still the process the pidfd names: read it, not a successor */
	if (!ok && m->pidfd >= 0)
		close(m->pidfd);
	return ok;
}

static int member_cmp(const void *a, const void *b)
{
	int32_t x = ((const struct member *)a)->pid, y = ((const struct member *)b)->pid;
	return x < y ? -1 : x > y;
}

/* Whether pid is among ms[0..nm), sorted by pid (a walk may take 65,536). */
static bool known(const struct member *ms, size_t nm, int32_t pid)
{
	struct member key = { .pid = pid };
	return nm && bsearch(&key, ms, nm, sizeof(*ms), member_cmp);
}

int cld_proc_signal_tree(int32_t root, int sig, uint32_t uid, bool freeze, size_t max,
			 size_t max_reads, bool allow_scan, bool *truncated_r, size_t *reads_r)
{
	size_t reads_left = max_reads;
	struct member *ms = calloc(max ? max : 1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	size_t nm = 0;
	int rc = 0;
	bool truncated = false;
	for (int round = 0; round < (freeze ? FREEZE_ROUNDS : 1); round++) {
		struct cld_proc *v;
		size_t n;
		bool t;
		rc = descendants(root, max, allow_scan, &reads_left, &v, &n, &t);
		if (rc < 0)
			break;
		truncated |= t;
		/*
		 * a round's candidates are distinct (v holds each pid once), so
		 * only the members of earlier rounds are looked up, sorted
		 */
		size_t earlier = nm;
		qsort(ms, earlier, sizeof(*ms), member_cmp);
		size_t fresh = 0;
		for (size_t i = 0; i < n && nm < max; i++) {
			if (v[i].zombie || known(ms, earlier, v[i].pid))
				continue;
			if (!take(v, n, root, &v[i], uid, &ms[nm]))
				continue;
			if (freeze)
				send_sig(&ms[nm], SIGSTOP);
			nm++;
			fresh++;
		}
		free(v);
		if (!fresh || nm >= max || !reads_left)
			break;
	}
	int sent = 0;
	for (size_t i = 0; i < nm; i++) {
		if (send_sig(&ms[i], sig) == 0)
			sent++;
		if (freeze && sig != SIGKILL)
			send_sig(&ms[i], SIGCONT);   /* to act on sig */
		if (ms[i].pidfd >= 0)
			close(ms[i].pidfd);
	}
	free(ms);
	if (truncated_r)
		*truncated_r = truncated || nm >= max;
	if (reads_r)
		*reads_r = max_reads - reads_left;
	return rc < 0 && !sent ? rc : sent;
}

int cld_proc_kill_tree(int pidfd, int32_t pid, uint32_t uid, size_t max_reads, bool *cut_r,
		       size_t *reads_r)
{
	*cut_r = false;
	if (reads_r)
		*reads_r = 0;
	/* pid still names the client (alive, so its pid was not given away) */
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, NULL, 0) < 0)
		return -ESRCH;
	if (!max_reads) {
		*cut_r = true;   /* stopped, and nothing walked */
		return 0;
	}
	int n = cld_proc_signal_tree(pid, SIGKILL, uid, true, CLD_KILL_TREE_MAX, max_reads, false,
				     cut_r, reads_r);
	return n > 0 ? n : 0;
}
