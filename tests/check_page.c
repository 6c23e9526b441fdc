/*
 * check_page.c - unit tests for the daemon's validity page (lockd/page.c),
 * linked from its source: run dir checks, one fresh file per incarnation,
 * retiring a previous incarnation's pages, the revocation slots'
 * generations (corolease/ipc.h, "The validity page"), and that another
 * local user can read the page but neither write it nor add a page.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corolease/ipc.h"
#include "page.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_page.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Maps path read-only as a client does; the length of clp_shm_len(nslots). */
static const struct clp_shm_page *client_map(const char *path, uint32_t nslots)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ck_assert_int_ge(fd, 0);
	void *m = mmap(NULL, clp_shm_len(nslots), PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(m != MAP_FAILED);
	close(fd);
	return m;
}

static int count_files(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "exit $(ls -A '%s' | wc -l)", dir);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

START_TEST(run_dir_must_be_ours_and_closed)
{
	char err[256];
	ck_assert_int_eq(cld_page_check_dir(dir, err, sizeof(err)), 0);
	ck_assert_int_eq(chmod(dir, 0775), 0);
	ck_assert_int_eq(cld_page_check_dir(dir, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not writable by group or others"));
	ck_assert_int_eq(chmod(dir, 0757), 0);
	ck_assert_int_eq(cld_page_check_dir(dir, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	char link[80];
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_lt(cld_page_check_dir(link, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "symlink"));
	snprintf(link, sizeof(link), "%s/missing", dir);
	ck_assert_int_eq(cld_page_check_dir(link, err, sizeof(err)), -ENOENT);
}
END_TEST

START_TEST(a_fresh_file_per_incarnation)
{
	char err[256];
	struct cld_page *a, *b;
	ck_assert_int_eq(cld_page_create(dir, 7, 1234, 1000, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(cld_page_create(dir, 7, 1234, 1000, &b, err, sizeof(err)), 0);
	ck_assert_str_ne(cld_page_path(a), cld_page_path(b));
	ck_assert_uint_ne(cld_page_incarnation(a), cld_page_incarnation(b));
	ck_assert_uint_ne(cld_page_incarnation(a), 0);

	struct stat st;
	ck_assert_int_eq(lstat(cld_page_path(a), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_uint_eq((uint64_t)st.st_size, clp_shm_len(1000));
	ck_assert_uint_eq(st.st_uid, geteuid());

	const struct clp_shm_page *pg = client_map(cld_page_path(a), 1000);
	ck_assert_uint_eq(pg->magic, CLP_SHM_MAGIC);
	ck_assert_uint_eq(pg->version, CLP_VERSION);
	ck_assert_uint_eq(pg->incarnation, cld_page_incarnation(a));
	ck_assert_uint_eq(pg->nodeid, 7);
	ck_assert_uint_eq(pg->daemon_pid, 1234);
	ck_assert_uint_eq(pg->daemon_uid, geteuid());
	ck_assert_uint_eq(pg->nslots, 1000);
	ck_assert_uint_eq(pg->valid_until, 0);
	cld_page_set_valid_until(a, 99);
	ck_assert_uint_eq(pg->valid_until, 99);

	/* a clean stop: the client's mapping reads dead, the file is gone */
	char path[128];
	snprintf(path, sizeof(path), "%s", cld_page_path(a));
	ck_assert_ptr_null(cld_page_close(a));
	ck_assert_uint_eq(pg->magic, 0);
	ck_assert_uint_eq(pg->valid_until, 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_ptr_null(cld_page_close(b));
	ck_assert_ptr_null(cld_page_close(NULL));
	ck_assert_int_eq(count_files(), 0);

	ck_assert_int_eq(cld_page_create(dir, 7, 1, 0, &a, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cld_page_create(dir, 7, 1, CLP_SHM_SLOTS_MAX + 1, &a, err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(a_new_daemon_retires_the_old_pages)
{
	char err[256];
	struct cld_page *old;
	ck_assert_int_eq(cld_page_create(dir, 3, 1, 64, &old, err, sizeof(err)), 0);
	cld_page_set_valid_until(old, UINT64_MAX);
	uint32_t s;
	ck_assert_int_eq(cld_page_slot_alloc(old, &s), 0);
	cld_page_slot_arm(old, s);
	const struct clp_shm_page *pg = client_map(cld_page_path(old), 64);
	/* the old daemon crashes: nothing retired its page */

	/* the format before version 3, and things that are not pages */
	char p[128];
	snprintf(p, sizeof(p), "%s/corolease.3.state", dir);
	int fd = open(p, O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	uint32_t v2[6] = { 0x434c5348u, 2, 0xffffffffu, 0xffffffffu, 3, 1 };
	ck_assert_int_eq(pwrite(fd, v2, sizeof(v2), 0), (ssize_t)sizeof(v2));
	close(fd);
	snprintf(p, sizeof(p), "%s/coroleased.pid", dir);
	ck_assert_int_ge(fd = open(p, O_RDWR | O_CREAT, 0644), 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/" CLP_SHM_PREFIX "notahexnumber!!!", dir);
	ck_assert_int_ge(fd = open(p, O_RDWR | O_CREAT, 0644), 0);
	close(fd);

	ck_assert_int_eq(cld_page_retire_old(dir), 2);
	ck_assert_uint_eq(pg->magic, 0);
	ck_assert_uint_eq(pg->valid_until, 0);
	ck_assert_int_eq(count_files(), 2);   /* the pid file and the odd name stay */
	munmap((void *)pg, clp_shm_len(64));
	cld_page_close(old);                  /* (in real life: a dead process's) */

	struct cld_page *now;
	ck_assert_int_eq(cld_page_create(dir, 3, 2, 64, &now, err, sizeof(err)), 0);
	ck_assert_int_eq(cld_page_retire_old("/nonexistent/dir"), -ENOENT);
	cld_page_close(now);
}
END_TEST

START_TEST(slots_have_generations)
{
	char err[256];
	struct cld_page *pg;
	ck_assert_int_eq(cld_page_create(dir, 1, 1, 100, &pg, err, sizeof(err)), 0);
	uint32_t s[100], extra;
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(cld_page_slot_alloc(pg, &s[i]), 0);
		ck_assert_uint_eq(cld_page_slot_word(pg, s[i]) & CLP_SLOT_VALID, 0);
	}
	ck_assert_uint_eq(cld_page_slots_used(pg), 100);
	ck_assert_int_eq(cld_page_slot_alloc(pg, &extra), -EDQUOT);

	/* grant, revoke: the word the client expects is gone, the slot still taken */
	uint64_t w = cld_page_slot_arm(pg, s[5]);
	ck_assert_uint_eq(w & CLP_SLOT_VALID, CLP_SLOT_VALID);
	ck_assert_uint_eq(cld_page_slot_word(pg, s[5]), w);
	cld_page_slot_clear(pg, s[5]);
	ck_assert_uint_ne(cld_page_slot_word(pg, s[5]), w);
	ck_assert_int_eq(cld_page_slot_alloc(pg, &extra), -EDQUOT);

	/* the hold ends; the slot's next holder never shows the old word */
	cld_page_slot_free(pg, s[5]);
	ck_assert_uint_eq(cld_page_slots_used(pg), 99);
	ck_assert_int_eq(cld_page_slot_alloc(pg, &extra), 0);
	ck_assert_uint_eq(extra, s[5]);
	uint64_t w2 = cld_page_slot_arm(pg, extra);
	ck_assert_uint_ne(w2, w);
	ck_assert_uint_eq(w2 >> 1, (w >> 1) + 1);

	/* freed while armed (released without a revoke): invalid at once */
	cld_page_slot_free(pg, extra);
	ck_assert_uint_eq(cld_page_slot_word(pg, extra) & CLP_SLOT_VALID, 0);
	ck_assert_uint_ne(cld_page_slot_word(pg, extra), w2);

	for (int i = 0; i < 100; i++)
		if (s[i] != extra)
			cld_page_slot_free(pg, s[i]);
	ck_assert_uint_eq(cld_page_slots_used(pg), 0);
	cld_page_close(pg);
}
END_TEST

/*
 * In a child running as user nobody (65534): what a hostile local user can
 * do to path in dir.  Exit status: 0 if it could read the page and could
 * neither write nor map it writable nor create a file in dir, else the
 * number of the first step that went wrong.
 */
static int as_nobody(const char *path)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		int fd = open(path, O_RDONLY | O_NOFOLLOW);
		if (fd < 0)
			_exit(1);
		if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED ||
		    errno != EACCES)
			_exit(2);
		close(fd);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(3);
		if (chmod(path, 0666) == 0 || errno != EPERM)
			_exit(4);
		char other[128];
		snprintf(other, sizeof(other), "%s/" CLP_SHM_PREFIX "0000000000000001", dir);
		if (open(other, O_RDWR | O_CREAT | O_EXCL, 0644) >= 0 || errno != EACCES)
			_exit(5);
		if (unlink(path) == 0 || errno != EACCES)
			_exit(6);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(other_users_cannot_write_the_page)
{
	char err[256];
	struct cld_page *pg;
	/* whatever the daemon's umask: 0644 */
	mode_t old = umask(0);
	ck_assert_int_eq(cld_page_create(dir, 1, 1, 16, &pg, err, sizeof(err)), 0);
	if (geteuid() == 0)   /* the hostile user's view first, then the mode */
		ck_assert_int_eq(as_nobody(cld_page_path(pg)), 0);
	struct stat st;
	ck_assert_int_eq(stat(cld_page_path(pg), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	cld_page_close(pg);
	umask(0777);
	ck_assert_int_eq(cld_page_create(dir, 1, 1, 16, &pg, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(cld_page_path(pg), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	umask(old);
	cld_page_close(pg);
	if (geteuid() != 0)
		fprintf(stderr, "other_users_cannot_write_the_page: not root, no user switch\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("page");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, run_dir_must_be_ours_and_closed);
	tcase_add_test(tc, a_fresh_file_per_incarnation);
	tcase_add_test(tc, a_new_daemon_retires_the_old_pages);
	tcase_add_test(tc, slots_have_generations);
	tcase_add_test(tc, other_users_cannot_write_the_page);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
