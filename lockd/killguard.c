/*
 * killguard.c - the revoke-deadline kill, kept by a thread of its own.
 * Contract: killguard.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "killguard.h"
#include "proctree.h"

/* a revoked hold of the connection: its name's hash, and its deadline */
struct armed {
	uint64_t hash;
	uint64_t deadline;
};

/* a connection with kills armed: one kill, at the earliest deadline */
struct entry {
	uint64_t client;
	int pidfd;
	int32_t pid;
	uint32_t uid;
	bool tree, check;
	uint64_t deadline;            /* the earliest of v[] */
	struct armed *v;
	size_t n, cap;
};

struct cld_killguard {
	pthread_mutex_t mu;
	pthread_t thread;
	int tfd, efd;
	bool stop;
	struct entry *v;
	size_t n, cap;
	uint64_t ran_at;              /* the loop ran its timers from then */
	uint64_t kills;
	uint64_t news;                /* kills not yet taken by the loop */
	int32_t news_pid;
	uint64_t news_late_us;
};

static void wake(struct cld_killguard *g)
{
	uint64_t one = 1;
	ssize_t rc = write(g->efd, &one, sizeof(one));
	(void)rc;   /* a full counter wakes the thread all the same */
}

static uint64_t name_hash(const void *name, size_t namelen)
{
	return cl_hash_bytes(0x6b696c6c67756172ULL, name, namelen);
}

static int find(const struct cld_killguard *g, uint64_t client)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].client == client)
			return (int)i;
	return -1;
}

static void drop(struct cld_killguard *g, size_t i)
{
	free(g->v[i].v);
	g->v[i] = g->v[--g->n];
}

static void earliest(struct entry *e)
{
	e->deadline = UINT64_MAX;
	for (size_t k = 0; k < e->n; k++)
		if (e->v[k].deadline < e->deadline)
			e->deadline = e->v[k].deadline;
}

/* What the loop would have done (ipc_req.c's kill_client()), under the lock. */
static void fire(struct cld_killguard *g, const struct entry *e, uint64_t now)
{
	if (e->check && !cld_proc_may_signal(e->pid, e->pidfd, e->uid))
		return;   /* a set-user-ID program now, or gone: never a kill on its behalf */
	bool cut;
	if (e->tree)   /* one walk's worth, as the loop's kill_tree() */
		(void)cld_proc_kill_tree(e->pidfd, e->pid, e->uid, CLD_KILL_TREE_READS, &cut, NULL);
	if (syscall(SYS_pidfd_send_signal, e->pidfd, SIGKILL, NULL, 0) == 0) {
		g->kills++;
		g->news++;
		g->news_pid = e->pid;
		g->news_late_us = now - e->deadline;
	}
}

static void *guard_main(void *arg)
{
	struct cld_killguard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		uint64_t now = cld_now_us(), next = UINT64_MAX;
		for (size_t i = 0; i < g->n;) {
			struct entry *e = &g->v[i];
			uint64_t due = e->deadline + CLD_KILLGUARD_SLACK_US;
			if (due > now) {
				if (due < next)
					next = due;
				i++;
				continue;
			}
			if (g->ran_at < e->deadline) {
				fire(g, e, now);   /* the loop is stuck since before the deadline */
				drop(g, i);        /* one kill per connection */
				continue;
			}
			/* the loop ran since: what was due by then is its own */
			for (size_t k = 0; k < e->n;)
				if (e->v[k].deadline <= g->ran_at)
					e->v[k] = e->v[--e->n];
				else
					k++;
			if (!e->n)
				drop(g, i);
			else
				earliest(e);   /* looked at again in this pass */
		}
		struct itimerspec its = { 0 };
		if (next != UINT64_MAX) {
			its.it_value.tv_sec = (time_t)(next / 1000000);
			its.it_value.tv_nsec = (long)(next % 1000000) * 1000;
		}
		(void)timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL);
		pthread_mutex_unlock(&g->mu);
		struct pollfd p[2] = { { .fd = g->tfd, .events = POLLIN }, { .fd = g->efd, .events = POLLIN } };
		if (poll(p, 2, -1) > 0) {
			uint64_t x;
			if (p[0].revents & POLLIN)
				(void)!read(g->tfd, &x, sizeof(x));
			if (p[1].revents & POLLIN)
				(void)!read(g->efd, &x, sizeof(x));
		}
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct cld_killguard *cld_killguard_start(void)
{
	struct cld_killguard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->tfd = timerfd_create(clp_clock_id(), TFD_NONBLOCK | TFD_CLOEXEC);   /* cld_now_us()'s */
	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = g->tfd < 0 || g->efd < 0 ? errno : pthread_mutex_init(&g->mu, NULL);
	if (rc == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the main thread */
		rc = pthread_create(&g->thread, NULL, guard_main, g);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0)
			pthread_mutex_destroy(&g->mu);
	}
	if (rc != 0) {
		if (g->tfd >= 0)
			close(g->tfd);
		if (g->efd >= 0)
			close(g->efd);
		free(g);
		errno = rc;
		return NULL;
	}
	return g;
}

void cld_killguard_stop(struct cld_killguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_mutex_unlock(&g->mu);
	wake(g);
	pthread_join(g->thread, NULL);
	while (g->n)
		drop(g, g->n - 1);
	free(g->v);
	pthread_mutex_destroy(&g->mu);
	close(g->tfd);
	close(g->efd);
	free(g);
}

int cld_killguard_arm(struct cld_killguard *g, uint64_t client, const void *name, size_t namelen,
		      int pidfd, int32_t pid, uint32_t uid, bool tree, bool check, uint64_t deadline)
{
	if (!g)
		return 0;
	uint64_t h = name_hash(name, namelen);
	pthread_mutex_lock(&g->mu);
	int i = find(g, client);
	if (i < 0) {
		size_t max = uid == 0 ? CLD_KILLGUARD_MAX : CLD_KILLGUARD_MAX - CLD_KILLGUARD_ROOT;
		if (g->n >= max) {
			pthread_mutex_unlock(&g->mu);
			return -ENOSPC;
		}
		if (g->n == g->cap) {
			size_t cap = g->cap ? 2 * g->cap : 16;
			struct entry *v = realloc(g->v, cap * sizeof(*v));
			if (!v) {
				pthread_mutex_unlock(&g->mu);
				return -ENOMEM;
			}
			g->v = v;
			g->cap = cap;
		}
		i = (int)g->n++;
		memset(&g->v[i], 0, sizeof(g->v[i]));
		g->v[i].client = client;
	}
	struct entry *e = &g->v[i];
	size_t k = 0;
	while (k < e->n && e->v[k].hash != h)
		k++;
	if (k == e->n) {
		if (e->n == e->cap) {
			size_t cap = e->cap ? 2 * e->cap : 4;
			struct armed *v = realloc(e->v, cap * sizeof(*v));
			if (!v) {
				if (!e->n)
					drop(g, (size_t)i);
				pthread_mutex_unlock(&g->mu);
				return -ENOMEM;
			}
			e->v = v;
			e->cap = cap;
		}
		e->v[e->n++].hash = h;
	}
	e->v[k].deadline = deadline;
	e->pidfd = pidfd;
	e->pid = pid;
	e->uid = uid;
	e->tree |= tree;
	e->check = check;
	earliest(e);
	pthread_mutex_unlock(&g->mu);
	wake(g);
	return 0;
}

void cld_killguard_disarm(struct cld_killguard *g, uint64_t client, const void *name, size_t namelen)
{
	if (!g)
		return;
	uint64_t h = name_hash(name, namelen);
	pthread_mutex_lock(&g->mu);
	int i = find(g, client);
	if (i >= 0) {
		struct entry *e = &g->v[i];
		for (size_t k = 0; k < e->n; k++)
			if (e->v[k].hash == h) {
				e->v[k] = e->v[--e->n];
				break;
			}
		if (e->n)
			earliest(e);
		else
			drop(g, (size_t)i);
	}
	pthread_mutex_unlock(&g->mu);
}

void cld_killguard_disarm_client(struct cld_killguard *g, uint64_t client)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	int i = find(g, client);
	if (i >= 0)
		drop(g, (size_t)i);
	pthread_mutex_unlock(&g->mu);
}

void cld_killguard_ran(struct cld_killguard *g, uint64_t now)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->ran_at = now;
	pthread_mutex_unlock(&g->mu);
}

void cld_killguard_counts(struct cld_killguard *g, uint64_t *kills_r, size_t *armed_r)
{
	*kills_r = 0;
	*armed_r = 0;
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	*kills_r = g->kills;
	*armed_r = g->n;
	pthread_mutex_unlock(&g->mu);
}

uint64_t cld_killguard_take_news(struct cld_killguard *g, int32_t *pid_r, uint64_t *late_ms_r)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->mu);
	uint64_t n = g->news;
	*pid_r = g->news_pid;
	*late_ms_r = g->news_late_us / 1000;
	g->news = 0;
	pthread_mutex_unlock(&g->mu);
	return n;
}
