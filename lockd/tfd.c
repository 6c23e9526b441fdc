/*
 * tfd.c - a timerfd polled by the daemon's loop.  Contract: tfd.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "clock.h"
#include "tfd.h"

static int ready(int fd, int revents, void *data)
{
	struct cld_tfd *t = data;
	(void)revents;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		qb_log(LOG_WARNING, "timerfd: read: %s", strerror(errno));
	if (!t->armed || cld_now_us() < t->at)
		return 0;   /* disarmed, or set again, after it fired and before this dispatch */
	t->armed = false;
	t->fn(t->data);
	return 0;
}

int cld_tfd_open(struct cld_tfd *t, qb_loop_t *loop, void (*fn)(void *data), void *data)
{
	*t = (struct cld_tfd){ .loop = loop, .fd = -1, .fn = fn, .data = data };
	t->fd = timerfd_create(clp_clock_id(), TFD_NONBLOCK | TFD_CLOEXEC);   /* cld_now_us()'s clock */
	if (t->fd < 0)
		return -errno;
	int rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, t->fd, POLLIN, t, ready);
	if (rc < 0) {
		close(t->fd);
		t->fd = -1;
		return rc;
	}
	return 0;
}

void cld_tfd_close(struct cld_tfd *t)
{
	if (t->fd < 0)
		return;
	qb_loop_poll_del(t->loop, t->fd);
	close(t->fd);
	t->fd = -1;
	t->armed = false;
}

int cld_tfd_at(struct cld_tfd *t, uint64_t at)
{
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(at / 1000000u);
	its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	if (!at)
		its.it_value.tv_nsec = 1;   /* an it_value of 0 disarms */
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	t->armed = true;
	t->at = at;
	return 0;
}

int cld_tfd_in(struct cld_tfd *t, unsigned ms)
{
	return cld_tfd_at(t, cld_now_us() + (uint64_t)ms * 1000u);
}

void cld_tfd_stop(struct cld_tfd *t)
{
	if (!t->armed)
		return;
	struct itimerspec its = { 0 };
	timerfd_settime(t->fd, 0, &its, NULL);
	t->armed = false;
}
