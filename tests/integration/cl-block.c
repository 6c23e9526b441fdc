/*
 * cl-block.c - integration-test client of libcorolease: a synchronous call
 * with no time limit waits for its answer in the receive itself (no poll
 * first), and must still end as a poll would have (t188).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-block [-N] [-R] [-s|-S] NAME
 *
 * Acquires NAME EX with COROLEASE_WAIT and no timeout, waiting for as long
 * as the holder keeps it, then releases it.
 *   -N  first sets O_NONBLOCK on corolease_get_fd(), as an application's
 *       event loop may: the wait must still sleep, not spin
 *   -R  then sets RLIMIT_NOFILE to 0, as a sandbox may, so that poll(2)
 *       fails (EINVAL): the call must fail at once, not spin (helper-91)
 *   -s  a SIGALRM every millisecond during the wait, its handler installed
 *       with SA_RESTART
 *   -S  the same without SA_RESTART
 *
 *   cl-block -G [-b] NAME
 *
 * An OWNER query of NAME (with -b under a call timeout of 60 s, so that
 * it waits in poll(2)) whose connection the daemon closes right after it
 * answers: prints "connected", waits for SIGUSR1 (the test stops the
 * daemon meanwhile), prints "waiting" and asks; 300 ms into the call a
 * SIGALRM handler sends 40 one-byte packets, which the daemon refuses as
 * malformed after 16, closing with the rest unread.  The answer sent
 * before the close must be returned (helper-91):
 *   answered NAME ERRNAME owner=N     then "after ERRNAME" for a second query
 *
 * Prints one line when the call returns:
 *   granted NAME cpu_ms=C wall_ms=W signals=N
 *   failed NAME ERRNAME cpu_ms=C wall_ms=W signals=N
 * where C is the CPU time the process used during the call (user and
 * system) and W the call's length.  Exits 0 when granted, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "corolease.h"
#include "clt.h"

static volatile sig_atomic_t signals, go;
static int garbage_fd = -1;

static void on_alarm(int sig)
{
	(void)sig;
	signals++;
	if (garbage_fd >= 0) {
		char c = 0;
		for (int i = 0; i < 40; i++)
			(void)send(garbage_fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

/* -G: see above */
static int owner_dropped(corolease_t *h, const char *name, bool bounded)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	if (bounded)
		corolease_set_timeout(h, 60000);
	printf("connected\n");
	while (!go)
		usleep(10000);
	garbage_fd = corolease_get_fd(h);
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	printf("waiting %s\n", name);
	uint32_t owner = 0;
	int r = corolease_owner(h, name, strlen(name), &owner);
	printf("answered %s %s owner=%u\n", name, r < 0 ? corolease_errname(r) : "OK", owner);
	int r2 = corolease_owner(h, name, strlen(name), &owner);
	printf("after %s\n", r2 < 0 ? corolease_errname(r2) : "OK");
	corolease_close(h);
	return r == 0 ? 0 : 1;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int usage(void)
{
	fprintf(stderr, "usage: cl-block [-N] [-R] [-s|-S] NAME | -G [-b] NAME\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool nonblock = false, nofile = false, garbage = false, bounded = false;
	int sigflags = -1;
	int opt;
	while ((opt = getopt(argc, argv, "NRsSGb")) != -1) {
		switch (opt) {
		case 'G':
			garbage = true;
			break;
		case 'b':
			bounded = true;
			break;
		case 'N':
			nonblock = true;
			break;
		case 'R':
			nofile = true;
			break;
		case 's':
			sigflags = SA_RESTART;
			break;
		case 'S':
			sigflags = 0;
			break;
		default:
			return usage();
		}
	}
	if (optind + 1 != argc) {
		return usage();
	}
	const char *name = argv[optind];
	clt_start();
	corolease_t *h;
	int r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "cl-block: connect: %s\n", corolease_strerror(r));
		return 1;
	}
	if (garbage)
		return owner_dropped(h, name, bounded);
	if (nonblock) {
		int fd = corolease_get_fd(h);
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			perror("cl-block: O_NONBLOCK");
			return 1;
		}
	}
	if (nofile) {
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = 0;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			perror("cl-block: RLIMIT_NOFILE");
			return 1;
		}
	}
	if (sigflags >= 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sa.sa_flags = sigflags;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
	}
	printf("waiting %s\n", name);
	uint64_t c0 = cpu_us(), t0 = mono_us();
	corolease_lease_t *l;
	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 0, &l, NULL);
	uint64_t c1 = cpu_us(), t1 = mono_us();
	if (sigflags >= 0) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
	}
	if (r == 0)
		printf("granted %s", name);
	else
		printf("failed %s %s", name, corolease_errname(r));
	printf(" cpu_ms=%llu wall_ms=%llu signals=%d\n", (unsigned long long)(c1 - c0) / 1000,
	       (unsigned long long)(t1 - t0) / 1000, (int)signals);
	if (r == 0)
		corolease_release(l);
	corolease_close(h);
	return r == 0 ? 0 : 1;
}
