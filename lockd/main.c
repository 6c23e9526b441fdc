/*
 * main.c - coroleased: options, logging, the loop, and the wiring of the
 * node agent to corosync (cpg.c, quorum.c), clients (ipc*.c) and the shared
 * validity page.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * main owns the one qb_loop and the policy.  The other parts know only what
 * main hands them and report through their ops: the transports' fds are
 * polled here, a dispatch that returns -ENOTCONN makes main revoke every
 * local lease and reconnect, and every input (a corosync dispatch, an IPC
 * request or disconnect, the timer) ends with kick(), which re-arms the
 * node's timer at cl_node_next_deadline().
 */
#define _GNU_SOURCE 1   /* SCHED_RESET_ON_FORK, renameat2 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbloop.h>
#include <qb/qblog.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "clock.h"
#include "config.h"
#include "corolease/ipc.h"
#include "cpg.h"
#include "hashkey.h"
#include "ipc.h"
#include "node.h"
#include "page.h"
#include "quorum.h"
#include "tfd.h"

#define RECONNECT_NS (1000ull * 1000000ull)

struct cld {
	struct cld_config cfg;
	bool memory_locked;           /* lock_memory took effect */
	int exit_code;                /* 1: refused (another daemon of this node) */
	qb_loop_t *loop;
	struct cl_node *node;         /* NULL until corosync first answered */
	struct cl_node_config ncfg;
	uint32_t nodeid;
	pid_t pid;
	bool stopping;
	bool draining;                /* first SIGTERM: handing leases back */
	uint64_t drain_deadline;      /* cld_now_us() */
	uint64_t votes_next;          /* cld_now_us() of the next vote count refresh */

	struct cld_cpg *cpg;
	struct cld_quorum *vq;
	struct cld_ipc *ipc;          /* NULL until corosync first answered */
	int cpg_fd, vq_fd;            /* the transports' fds polled, or -1 */

	/* corosync connection */
	bool connected;
	qb_loop_timer_handle reconnect_timer;
	bool reconnect_armed;

	struct cld_tfd timer;         /* the node's next deadline */

	struct cld_page *page;        /* validity page, NULL until corosync first answered */
	struct cld_holdquota *holds;  /* its slots shared out among uids (holdquota.h) */

	bool ready_notified;
	qb_loop_timer_handle watchdog_timer;
	uint64_t watchdog_ns;         /* WATCHDOG=1 period (half of WATCHDOG_USEC), 0: off */
	int lock_fd;                  /* RUN_DIR/coroleased.pid, flock(2)ed */
	char lock_note[800];          /* what take_lock() replaced, logged once logging is set up */
	int retired;                  /* old validity pages removed at startup, or -errno */
};

static struct cld g_d;

/* ---- node ops ---- */

static uint64_t op_now(void *ctx)
{
	(void)ctx;
	return cld_now_us();
}

static int op_mcast(void *ctx, const void *buf, size_t len)
{
	struct cld *d = ctx;
	return cld_cpg_mcast(d->cpg, buf, len);
}

/*
 * RUN_DIR/epoch-floor keeps the node agent's epoch floor across restarts of
 * the daemon (CL_NODE_EV_EPOCH_FLOOR): with every daemon restarted while
 * corosync runs on, the ring, and so the term, stays the same, and only
 * this floor keeps the fresh state from granting epochs again.  A reboot
 * empties /run, but corosync then starts a ring with a higher seq (it keeps
 * the seq in /var/lib/corosync), which raises every epoch anyway.
 */
static uint64_t read_epoch_floor(const struct cld *d)
{
	char path[512], buf[32];
	snprintf(path, sizeof(path), "%s/epoch-floor", d->cfg.run_dir);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	uint64_t v = strtoull(buf, NULL, 10);
	qb_log(LOG_INFO, "epoch floor %" PRIu64 " kept by a previous run", v);
	return v;
}

static void keep_epoch_floor(struct cld *d, uint64_t floor)
{
	char path[512], buf[32];
	snprintf(path, sizeof(path), "%s/epoch-floor", d->cfg.run_dir);
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", floor);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
		qb_log(LOG_ERR, "cannot keep the epoch floor %" PRIu64 " in %s: %s (a restart of "
		       "every daemon while corosync runs could grant its epochs again)", floor, path,
		       strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * RUN_DIR/newest-term keeps the newest term this node knows a state had
 * (CL_NODE_EV_NEWEST_TERM, "rep seq"): a daemon restarted while the only
 * replicas of that term are cut off, stalled or paused announces it, and the
 * ring's older or fresh state then waits instead of serving without that
 * term's writes (doc/state-machine.md, "Terms and the merge winner").
 */
static struct cl_ring read_newest_term(const struct cld *d)
{
	char path[512], buf[64];
	struct cl_ring t = { 0, 0 };
	snprintf(path, sizeof(path), "%s/newest-term", d->cfg.run_dir);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return t;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return t;
	buf[n] = '\0';
	unsigned long rep;
	unsigned long long seq;
	if (sscanf(buf, "%lu %llu", &rep, &seq) != 2 || rep > UINT32_MAX)
		return t;
	t.rep = (uint32_t)rep;
	t.seq = seq;
	qb_log(LOG_INFO, "newest term %u/%llu kept by a previous run", t.rep, seq);
	return t;
}

static void keep_newest_term(struct cld *d, uint32_t rep, uint64_t seq)
{
	char path[512], buf[64];
	snprintf(path, sizeof(path), "%s/newest-term", d->cfg.run_dir);
	int len = snprintf(buf, sizeof(buf), "%" PRIu32 " %" PRIu64 "\n", rep, seq);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
		qb_log(LOG_ERR, "cannot keep the newest term %" PRIu32 "/%" PRIu64 " in %s: %s (a "
		       "restarted daemon could let older state serve without that term's writes)",
		       rep, seq, path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void op_event(void *ctx, const struct cl_node_event *ev)
{
	struct cld *d = ctx;
	if (ev->type == CL_NODE_EV_EPOCH_FLOOR) {
		keep_epoch_floor(d, ev->epoch);
		return;
	}
	if (ev->type == CL_NODE_EV_NEWEST_TERM) {
		keep_newest_term(d, ev->owner, ev->epoch);
		return;
	}
	if (ev->type == CL_NODE_EV_VALIDITY && d->page) {
		/*
		 * "Nothing valid" (every hold revoked) is published as the old
		 * deadline, or now if that is later: it reads lapsed all the same,
		 * and a client that cannot stop at once still learns when the
		 * lapse began (corolease_lease_stop_deadline(): the others grant
		 * nothing before it + revoke_timeout).
		 */
		uint64_t t = ev->valid_until, old = cld_page_valid_until(d->page), now = cld_now_us();
		if (!t && old)
			t = old < now ? old : now;
		cld_page_set_valid_until(d->page, t);
		qb_log(LOG_DEBUG, "validity until %" PRIu64 " (%+" PRId64 " ms)", ev->valid_until,
		       ev->valid_until ? ((int64_t)ev->valid_until - (int64_t)cld_now_us()) / 1000 : 0);
	}
	cld_ipc_event(d->ipc, ev);
}

static void op_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	qb_log(level, "%s", msg);
}

/* ---- timer ---- */

/* The node's next deadline: a timerfd (tfd.h says why not a libqb timer). */
static void kick(struct cld *d);

static void timer_fn(void *data)
{
	struct cld *d = data;
	uint64_t now = cld_now_us();   /* the tick's deadlines are those due by now */
	if (d->node)
		cl_node_tick(d->node);
	cld_ipc_loop_ran(d->ipc, now);   /* the kills due by then were made here */
	kick(d);
}

/*
 * After every input: applies the node's out-of-memory policy, re-arms the
 * node timer; also sends READY=1 once synced.
 */
static void kick(struct cld *d)
{
	if (d->node && cl_node_failed(d->node)) {
		/*
		 * core/node.h: out of memory, or a cluster of another wire version
		 * joined; the agent logged why.  Invalidate, exit.
		 */
		qb_log(LOG_CRIT, "node agent stopped (the reason is logged above): validity page "
		       "retired, exiting");
		cld_page_kill(d->page);
		_exit(1);
	}
	if (!d->node || d->stopping)
		return;
	if (!d->ready_notified && cl_node_synced(d->node)) {
		d->ready_notified = true;
		qb_log(LOG_NOTICE, "node %u synced with the cluster; ready", d->nodeid);
#ifdef HAVE_LIBSYSTEMD
		sd_notify(0, "READY=1");
#endif
	}
	uint64_t at = cl_node_next_deadline(d->node);
	if (d->timer.armed ? at == d->timer.at : at == CL_TIME_NEVER)
		return;
	int rc = 0;
	if (at == CL_TIME_NEVER)
		cld_tfd_stop(&d->timer);
	else
		rc = cld_tfd_at(&d->timer, at);
	if (rc < 0)
		qb_log(LOG_ERR, "cannot arm the node timer: %s", strerror(-rc));
}

/* ---- systemd watchdog ---- */

#ifdef HAVE_LIBSYSTEMD
/* Sends WATCHDOG=1 and re-arms itself: a main loop that hangs stops the pings. */
static void watchdog_fn(void *data)
{
	struct cld *d = data;
	sd_notify(0, "WATCHDOG=1");
	if (qb_loop_timer_add(d->loop, QB_LOOP_HIGH, d->watchdog_ns, d, watchdog_fn,
			      &d->watchdog_timer) != 0)
		qb_log(LOG_ERR, "cannot arm the watchdog timer: systemd will stop the daemon");
}
#endif

/*
 * With WatchdogSec= (WATCHDOG_USEC, and WATCHDOG_PID naming this process if
 * set) pings systemd from the main loop at half the interval; else nothing.
 */
static void watchdog_start(struct cld *d)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	d->watchdog_ns = usec * 1000u / 2;
	qb_log(LOG_INFO, "systemd watchdog: WATCHDOG=1 every %" PRIu64 " ms", d->watchdog_ns / 1000000u);
	watchdog_fn(d);
#else
	(void)d;
#endif
}

/* ---- transport and IPC ops ---- */

static void on_deliver(void *ctx, uint32_t sender, const void *msg, size_t len)
{
	struct cld *d = ctx;
	if (!d->node)
		return;
	/*
	 * corosync just handed over our own message, so it runs: read the vote
	 * count again (at most once a second), which a runtime change of a
	 * node's votes does not announce (quorum.h)
	 */
	if (sender == d->nodeid) {
		uint64_t now = cld_now_us();
		if (now >= d->votes_next) {
			d->votes_next = now + 1000000;
			cld_quorum_refresh(d->vq);
		}
	}
	cl_node_deliver(d->node, sender, msg, len);
}

static void on_confchg(void *ctx, const struct cld_change *ch)
{
	struct cld *d = ctx;
	if (d->node)
		cl_node_confchg(d->node, &ch->ring, ch->members, ch->nmembers, ch->left, ch->nleft,
				ch->joined, ch->njoined);
}

static void on_totem(void *ctx, const struct cl_ring *ring, const uint32_t *members, size_t n)
{
	struct cld *d = ctx;
	if (d->node)
		cl_node_totem(d->node, ring, members, n);
}

/* The vote count to the agent (quorum 0: unknown, every member must ack). */
static void on_votes(void *ctx, const struct cl_ring *ring, const struct cld_votes *votes)
{
	struct cld *d = ctx;
	if (d->node)
		cl_node_votes(d->node, ring, votes->known ? votes->quorum : 0, votes->expected, votes->nodes,
			      votes->known ? votes->n : 0);
}

static void on_quorum(void *ctx, bool quorate, const struct cl_ring *ring, unsigned qmodes,
		      const struct cld_votes *votes)
{
	struct cld *d = ctx;
	if (!d->node)
		return;
	cl_node_quorum_mode(d->node, qmodes);
	on_votes(d, ring, votes);
	cl_node_quorum(d->node, quorate, ring);
}

static void on_ipc_input(void *ctx)
{
	kick(ctx);
}

static bool on_vq_quorate(void *ctx)
{
	struct cld *d = ctx;
	return cld_quorum_quorate(d->vq);
}

static void on_ring(void *ctx, uint32_t *rep_r, uint64_t *seq_r)
{
	struct cld *d = ctx;
	cld_cpg_ring(d->cpg, rep_r, seq_r);
}

static void on_cpg_counts(void *ctx, uint64_t *sent_r, uint64_t *held_r)
{
	struct cld *d = ctx;
	cld_cpg_counts(d->cpg, sent_r, held_r);
}

static const struct cld_cpg_ops cpg_ops = {
	.deliver = on_deliver, .confchg = on_confchg, .totem = on_totem,
};
static const struct cld_quorum_ops vq_ops = { .quorum = on_quorum, .votes = on_votes };
static const struct cld_ipc_ops ipc_ops = {
	.input_done = on_ipc_input, .vq_quorate = on_vq_quorate, .ring = on_ring,
	.cpg_counts = on_cpg_counts,
};

/* ---- corosync connection ---- */

static void try_connect(void *data);

static void schedule_reconnect(struct cld *d)
{
	if (d->reconnect_armed || d->stopping)
		return;
	if (qb_loop_timer_add(d->loop, QB_LOOP_LOW, RECONNECT_NS, d, try_connect, &d->reconnect_timer) == 0)
		d->reconnect_armed = true;
}

#ifdef COROLEASE_UNSAFE_TEST_PLANTS
/*
 * TESTS ONLY.  Built only with configure --enable-unsafe-test-plants (a
 * default build has no such option): --unsafe-test-plant=NAME[,NAME...]
 * sets the node agent's CL_UNSAFE_* switches, which remove safety
 * mechanisms, so tests/jepsen can show that its checker catches a broken
 * daemon.  The daemon says so at LOG_CRIT when it starts.
 */
static unsigned unsafe_plants;

/* Adds the plants named in arg (comma-separated) to unsafe_plants; 0 or -1. */
static int parse_plants(const char *arg)
{
	while (*arg) {
		size_t len = strcspn(arg, ",");
		unsigned flag = cl_unsafe_by_name(arg, len);
		if (!flag) {
			fprintf(stderr, "coroleased: unknown plant '%.*s'\n", (int)len, arg);
			return -1;
		}
		unsafe_plants |= flag;
		arg += len + (arg[len] == ',');
	}
	return 0;
}
#endif

/* Builds the node agent from the daemon config and corosync's token.  Exits on bad config. */
static void make_node(struct cld *d)
{
	uint32_t token = 0;
	if (cld_cmap_token_ms(&token) < 0) {
		/* validity is bounded by the token timeout: unknown, nothing is safe */
		qb_log(LOG_CRIT, "cannot read corosync's token timeout (runtime.config.totem.token) "
		       "from cmap, which bounds validity_ms; exiting");
		exit(1);
	}
	char err[512];
	struct cl_node_config *nc = &d->ncfg;
	if (cld_config_node(&d->cfg, d->nodeid, token, nc, err, sizeof(err)) < 0) {
		qb_log(LOG_CRIT, "configuration error: %s", err);
		exit(1);
	}
	nc->epoch_floor = read_epoch_floor(d);
	nc->newest_term = read_newest_term(d);
	nc->sm.table_key = *cld_hash_key();   /* secret, this start's (hashkey.h) */
#ifdef COROLEASE_UNSAFE_TEST_PLANTS
	if (unsafe_plants) {
		nc->sm.unsafe_flags |= unsafe_plants;
		qb_log(LOG_CRIT, "TEST BUILD: unsafe plants 0x%x active: this daemon breaks the lease "
		       "guarantees on purpose", unsafe_plants);
	}
#endif
	static const struct cl_node_ops ops = {
		.now = op_now, .mcast = op_mcast, .event = op_event, .log = op_log,
	};
	d->node = cl_node_new(nc, &ops, d);
	if (!d->node) {
		qb_log(LOG_CRIT, "cannot create the node agent (out of memory)");
		exit(1);
	}
	qb_log(LOG_NOTICE, "node %u: token %u ms, validity %" PRIu64 " ms, revoke timeout %" PRIu64
	       " ms, fence delay %" PRIu64 " ms, heartbeat %" PRIu64 " ms, linger %" PRIu64 " ms",
	       d->nodeid, token, nc->validity_us / 1000, nc->revoke_timeout_us / 1000,
	       nc->fence_delay_us / 1000, nc->heartbeat_us / 1000, nc->linger_us / 1000);
}

/* ---- corosync inputs ---- */

/* Polls fd (a transport's, just connected) with handler fn; *fd_r remembers it.  0 or negative. */
static int watch_fd(struct cld *d, int fd, qb_loop_poll_dispatch_fn fn, int *fd_r)
{
	int rc = fd < 0 ? -ENOTCONN : qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, fn);
	*fd_r = rc == 0 ? fd : -1;
	return rc;
}

/*
 * corosync's cpg_leave(), cpg_finalize() and votequorum_finalize() wait for
 * its answer with no time limit, so a stopped or hung corosync would hold
 * the daemon's exit for as long as it lasts.  At shutdown, once the
 * validity page is retired, a thread ends the process SHUTDOWN_CS_S seconds
 * on if the main thread has not yet.
 */
#define SHUTDOWN_CS_S 5

/* Removes RUN_DIR/coroleased.pid (take_lock() wrote it), at the exit, if it is still ours. */
static void pidfile_unlink(const struct cld *d)
{
	char path[1024];
	struct stat mine, st;
	snprintf(path, sizeof(path), "%s/coroleased.pid", d->cfg.run_dir);
	if (d->lock_fd >= 0 && fstat(d->lock_fd, &mine) == 0 && lstat(path, &st) == 0 &&
	    st.st_dev == mine.st_dev && st.st_ino == mine.st_ino)
		unlink(path);
}

static void *shutdown_guard_main(void *arg)
{
	struct cld *d = arg;
	struct timespec ts = { .tv_sec = SHUTDOWN_CS_S };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	qb_log(LOG_WARNING, "corosync did not answer within %d s at shutdown (stopped or hung?): "
	       "exiting without leaving the group cleanly", SHUTDOWN_CS_S);
	pidfile_unlink(d);
	_exit(d->exit_code);
}

static void shutdown_guard(struct cld *d)
{
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the main thread */
	int rc = pthread_create(&t, NULL, shutdown_guard_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		qb_log(LOG_WARNING, "cannot start the shutdown guard: %s", strerror(rc));
	else
		pthread_detach(t);
}

/* Stops polling *fd_r (-1: nothing polled). */
static void unwatch_fd(struct cld *d, int *fd_r)
{
	if (*fd_r >= 0)
		qb_loop_poll_del(d->loop, *fd_r);
	*fd_r = -1;
}

/* Disconnects CPG, leaving the group first when leave (at shutdown). */
static void cpg_down(struct cld *d, bool leave)
{
	unwatch_fd(d, &d->cpg_fd);
	if (leave)
		cld_cpg_leave(d->cpg);
	else
		cld_cpg_disconnect(d->cpg);
}

static void vq_down(struct cld *d)
{
	unwatch_fd(d, &d->vq_fd);
	cld_quorum_disconnect(d->vq);
}

/* Corosync is gone (dispatch error or hang-up): revoke, disconnect, retry every second. */
static void transport_lost(struct cld *d, const char *why)
{
	if (!d->connected)
		return;
	d->connected = false;
	qb_log(LOG_ERR, "%s: revoking every local lease; reconnecting every second", why);
	/* revoke first: finalizing a dead connection may take a while */
	if (d->node)
		cl_node_transport_lost(d->node);
	cpg_down(d, false);
	vq_down(d);
	schedule_reconnect(d);
}

/* After a corosync dispatch that returned rc: the policy on a lost connection, then kick(). */
static void stop_now(struct cld *d);

static int32_t dispatched(struct cld *d, int rc, const char *lost)
{
	if (rc == -EEXIST) {
		/* another coroleased of this node speaks for it (logged): one per node */
		d->exit_code = 1;
		stop_now(d);
		return 0;
	}
	if (rc < 0)
		transport_lost(d, lost);
	kick(d);
	return 0;
}

static int32_t cpg_ready(int32_t fd, int32_t revents, void *data)
{
	struct cld *d = data;
	(void)fd;
	cld_ipc_deliveries_read(d->ipc);
	return dispatched(d, cld_cpg_dispatch(d->cpg, revents), "CPG connection lost");
}

static int32_t vq_ready(int32_t fd, int32_t revents, void *data)
{
	struct cld *d = data;
	(void)fd;
	return dispatched(d, cld_quorum_dispatch(d->vq, revents), "votequorum connection lost");
}

/* The first time corosync answers: the node, the validity page, the IPC service.  Exits on failure. */
static void start_serving(struct cld *d, uint32_t nodeid)
{
	d->nodeid = nodeid;
	make_node(d);
	char err[256];
	/*
	 * max_client_holds slots for everyone, CLD_HOLD_RESERVE more for root
	 * (taken out of max_client_holds where the page cannot have more)
	 */
	uint64_t shared = d->cfg.max_client_holds;
	if (shared > CLP_SHM_SLOTS_MAX - CLD_HOLD_RESERVE)
		shared = CLP_SHM_SLOTS_MAX - CLD_HOLD_RESERVE;
	d->holds = cld_holdquota_new(shared, cld_config_holds_per_uid(&d->cfg), CLD_HOLD_RESERVE);
	if (!d->holds) {
		qb_log(LOG_CRIT, "cannot start (out of memory)");
		exit(1);
	}
	if (cld_page_create(d->cfg.run_dir, d->nodeid, d->pid, (uint32_t)(shared + CLD_HOLD_RESERVE),
			    &d->page, err, sizeof(err)) < 0) {
		qb_log(LOG_CRIT, "validity page: %s", err);
		exit(1);
	}
	cld_page_set_revoke_us(d->page, d->cfg.revoke_timeout_ms * 1000);
	qb_log(LOG_INFO, "validity page %s (incarnation %016" PRIx64 ", %" PRIu32 " client hold slots: "
	       "%" PRIu64 " for everyone, %" PRIu64 " of them per uid, %u more for root)",
	       cld_page_path(d->page), cld_page_incarnation(d->page), cld_page_nslots(d->page),
	       shared, cld_config_holds_per_uid(&d->cfg), CLD_HOLD_RESERVE);
	struct cld_ipc_config ic = {
		.node = d->node, .conf = &d->cfg, .ncfg = d->ncfg,
		.nodeid = d->nodeid, .pid = d->pid, .page = d->page, .holds = d->holds,
		.memory_locked = d->memory_locked,
	};
	int rc = cld_ipc_start(d->loop, &ic, &ipc_ops, d, &d->ipc);
	if (rc < 0) {
		qb_log(LOG_CRIT, "cannot start the IPC service: %s", strerror(-rc));
		exit(1);
	}
}

static void try_connect(void *data)
{
	struct cld *d = data;
	d->reconnect_armed = false;
	if (d->connected || d->stopping)
		return;
	uint32_t nodeid = 0;
	int rc = cld_cpg_connect(d->cpg, &nodeid);
	if (rc == 0 && watch_fd(d, cld_cpg_fd(d->cpg), cpg_ready, &d->cpg_fd) < 0) {
		cld_cpg_disconnect(d->cpg);
		rc = -EIO;
	}
	if (rc < 0) {
		static unsigned quiet;
		if (quiet++ % 30 == 0)
			qb_log(LOG_NOTICE, "corosync not reachable (CPG); retrying every second");
		schedule_reconnect(d);
		return;
	}
	if (!d->node) {
		start_serving(d, nodeid);
	} else if (nodeid != d->nodeid) {
		qb_log(LOG_CRIT, "corosync node id changed from %u to %u; restart coroleased", d->nodeid,
		       nodeid);
		exit(1);
	}
	rc = cld_quorum_connect(d->vq);
	if (rc == 0 && watch_fd(d, cld_quorum_fd(d->vq), vq_ready, &d->vq_fd) < 0) {
		cld_quorum_disconnect(d->vq);
		rc = -EIO;
	}
	if (rc < 0) {
		qb_log(LOG_NOTICE, "votequorum not reachable; retrying");
		cpg_down(d, false);
		schedule_reconnect(d);
		return;
	}
	if (cld_cpg_join(d->cpg) < 0) {
		vq_down(d);
		cpg_down(d, false);
		schedule_reconnect(d);
		return;
	}
	d->connected = true;
	qb_log(LOG_NOTICE, "connected to corosync as node %u, joining group '%s'", d->nodeid,
	       d->cfg.group_name);
	kick(d);
}

/* ---- startup helpers ---- */

static void stop_now(struct cld *d)
{
	if (d->node && d->connected)
		cl_node_transport_lost(d->node);   /* revoke what is left locally, tell clients */
	d->stopping = true;
	cld_ipc_refuse_new(d->ipc);
	qb_loop_stop(d->loop);
}

/* Polls a graceful drain every 50 ms until done or its deadline. */
static void drain_check(void *data)
{
	struct cld *d = data;
	if (!d->connected || !d->node || cl_node_drained(d->node) || cld_now_us() >= d->drain_deadline) {
		if (d->node && d->connected && !cl_node_drained(d->node))
			qb_log(LOG_WARNING, "drain not finished by its deadline; other nodes will wait "
			       "the fence delay for what is left");
		stop_now(d);
		return;
	}
	qb_loop_timer_handle t;
	qb_loop_timer_add(d->loop, QB_LOOP_HIGH, 50 * QB_TIME_NS_IN_MSEC, d, drain_check, &t);
}

/*
 * First SIGTERM/SIGINT: drain (revoke local clients, hand every lease back
 * through the cluster) for at most revoke_timeout + 3 s, then stop.  A
 * second signal stops at once.
 */
static int32_t on_signal(int32_t sig, void *data)
{
	struct cld *d = data;
	if (d->draining || !d->node || !d->connected) {
		qb_log(LOG_NOTICE, "signal %d: stopping now", sig);
		stop_now(d);
		return 0;
	}
	qb_log(LOG_NOTICE, "signal %d: draining (revoking local clients, releasing leases)", sig);
	d->draining = true;
	d->drain_deadline = cld_now_us() + (d->cfg.revoke_timeout_ms + 3000) * 1000;
	cl_node_drain(d->node);
	kick(d);
	drain_check(d);
	return 0;
}

/*
 * Does a process of this daemon's user that runs coroleased have the file
 * (dev, ino) open?  Its flock(2) lock is then held by a coroleased of an
 * older version (one that kept the pid file readable by all), not by some
 * other user's descriptor.  The holders are read from /proc/locks, whose pid
 * is the process that took the lock: it may have exited (the descriptor
 * passed on) and its pid been reused, hence the look at the descriptors.
 */
static bool lock_held_by_daemon(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	if (!f)
		return true;   /* not known: the careful answer is "running" */
	char self[PATH_MAX], line[256];
	ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sn > 0 ? sn : 0] = '\0';
	const char *self_base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char kind[16];
		int pid;
		unsigned maj, min;
		unsigned long long ino_l;
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters have "->" */
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", kind, &pid, &maj, &min, &ino_l) != 5 ||
		    strcmp(kind, "FLOCK") || ino_l != (unsigned long long)ino ||
		    makedev(maj, min) != dev || pid <= 0)
			continue;
		char p[64], exe[PATH_MAX];
		struct stat st;
		snprintf(p, sizeof(p), "/proc/%d", pid);
		if (stat(p, &st) < 0 || st.st_uid != geteuid())
			continue;
		snprintf(p, sizeof(p), "/proc/%d/exe", pid);
		ssize_t n = readlink(p, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = '\0';
		char *del = strstr(exe, " (deleted)");
		if (del && del[10] == '\0')
			*del = '\0';   /* the binary was upgraded under it */
		const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		if (strcmp(base, self_base))
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fd", pid);
		DIR *fds = opendir(p);
		if (!fds)
			continue;
		for (struct dirent *e; !found && (e = readdir(fds));)
			found = e->d_name[0] != '.' && fstatat(dirfd(fds), e->d_name, &st, 0) == 0 &&
				st.st_dev == dev && st.st_ino == ino;
		closedir(fds);
	}
	fclose(f);
	return found;
}

/*
 * Puts a new, empty, flock(2)ed file of mode 0600 at path in place of what
 * is there if that is still old (lstat), so that a descriptor another
 * process has open on the old one no longer refers to the lock file.  A
 * file made aside and exchanged atomically (renameat2): another daemon
 * starting at the same moment may have put its own file there first, and
 * that one is never removed.  The new file's descriptor, -EAGAIN (path
 * changed: look again) or negative errno.
 */
static int replace_lock_file(const char *path, const struct stat *old)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.new.%d", path, (int)getpid());
	(void)unlink(tmp);
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (fchmod(fd, 0600) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = -errno;
	else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) < 0) {
		rc = -errno;
		if (rc == -EINVAL || rc == -ENOSYS)   /* no exchange on this file system */
			rc = rename(tmp, path) < 0 ? -errno : 0;
		else if (rc == -ENOENT)   /* removed meanwhile (by its daemon's exit) */
			rc = -EAGAIN;
	} else {
		struct stat st;
		if (lstat(tmp, &st) == 0 && st.st_dev == old->st_dev && st.st_ino == old->st_ino) {
			if (unlink(tmp) < 0)
				rc = -errno;
		} else {
			/* not what we looked at: put it back */
			(void)renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE);
			rc = -EAGAIN;
		}
	}
	if (rc < 0) {
		(void)unlink(tmp);
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * The lock: an exclusive flock(2) on RUN_DIR/coroleased.pid, a regular file
 * of this daemon's user with mode 0600.  flock(2) works on a descriptor
 * open for reading, so only a file nobody else can open keeps other users
 * from holding the lock (and the next start from starting).  Anything else
 * there (an older version's file readable by all, another owner, not a
 * regular file) is replaced, unless a coroleased holds its lock.  The
 * locked descriptor, or -1 (reported on stderr).
 */
static int lock_pidfile(struct cld *d, const char *path)
{
	for (int tries = 0; tries < 20; tries++) {
		struct stat st;
		int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 && errno == EEXIST)
				continue;   /* another daemon starting: look again */
			if (fd >= 0 && fchmod(fd, 0600) < 0) {
				fprintf(stderr, "coroleased: cannot chmod %s: %s\n", path, strerror(errno));
				close(fd);
				return -1;
			}
		}
		if (fd < 0) {
			int e = errno;
			/* a symlink (ELOOP), socket (ENXIO) or directory (EISDIR) */
			if (lstat(path, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
				fprintf(stderr, "coroleased: cannot open %s: %s\n", path, strerror(e));
				return -1;
			}
		} else if (fstat(fd, &st) < 0) {
			fprintf(stderr, "coroleased: cannot stat %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
		bool own = fd >= 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
			   (st.st_mode & 07777) == 0600;
		bool locked = fd >= 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0;
		if (fd >= 0 && S_ISREG(st.st_mode) && !locked &&
		    (own || errno != EWOULDBLOCK || lock_held_by_daemon(st.st_dev, st.st_ino))) {
			int e = errno;
			if (e != EWOULDBLOCK) {
				fprintf(stderr, "coroleased: cannot lock %s: %s\n", path, strerror(e));
			} else {
				char buf[32] = "";
				ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
				buf[n > 0 ? n : 0] = '\0';
				buf[strcspn(buf, "\n")] = '\0';
				fprintf(stderr, "coroleased: already running (pid %s, lock %s)\n",
					buf[0] ? buf : "?", path);
			}
			close(fd);
			return -1;
		}
		if (locked) {
			/* removed or replaced before we had it (a daemon's exit): look again */
			struct stat now;
			if (lstat(path, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
				close(fd);
				continue;
			}
			if (own)
				return fd;
		}
		/* not ours to keep: an older version's, or held by what is not coroleased */
		int nfd = replace_lock_file(path, &st);
		if (fd >= 0)
			close(fd);
		if (nfd == -EAGAIN)
			continue;
		if (nfd < 0) {
			fprintf(stderr, "coroleased: cannot replace %s: %s\n", path, strerror(-nfd));
			return -1;
		}
		snprintf(d->lock_note, sizeof(d->lock_note), "replaced %s (%s, owner uid %u, mode %04o%s) "
			 "by a file of mode 0600", path, S_ISREG(st.st_mode) ? "a regular file" :
			 "not a regular file", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 S_ISREG(st.st_mode) && !locked ? "; its lock was held by a process that is not "
			 "coroleased, which was not signalled" : "");
		return nfd;
	}
	fprintf(stderr, "coroleased: cannot lock %s: it was replaced again and again\n", path);
	return -1;
}

/*
 * Creates and checks the run dir (it holds the validity page: root's, not
 * writable by others), takes the pid file lock (lock_pidfile()), writes the
 * pid there, then retires the validity pages a previous incarnation left.
 * 0 or -1 (reported on stderr).
 */
static int take_lock(struct cld *d)
{
	if (mkdir(d->cfg.run_dir, 0755) == 0) {
		/* 0755 whatever the umask (started by Pacemaker it came out 0751): a
		 * client of any uid opens the directory to map the validity page */
		if (chmod(d->cfg.run_dir, 0755) < 0) {
			fprintf(stderr, "coroleased: cannot chmod %s: %s\n", d->cfg.run_dir,
				strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		fprintf(stderr, "coroleased: cannot create %s: %s\n", d->cfg.run_dir, strerror(errno));
		return -1;
	}
	char err[512];
	if (cld_page_check_dir(d->cfg.run_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "coroleased: %s\n", err);
		return -1;
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/coroleased.pid", d->cfg.run_dir);
	int fd = lock_pidfile(d, path);
	if (fd < 0)
		return -1;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		fprintf(stderr, "coroleased: cannot write %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	d->lock_fd = fd;
	/* only now: a running daemon's page is never touched by a second one */
	d->retired = cld_page_retire_old(d->cfg.run_dir);
	return 0;
}

/*
 * Each client connection is a descriptor: the soft RLIMIT_NOFILE goes up to
 * the hard one (the unit file sets 65536), so max_connections is what
 * bounds them, not a default of 1024 descriptors.
 */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Like corosync: the renewal and revoke paths must not wait behind other
 * processes or page faults on a loaded host.  SCHED_RR below corosync's
 * (99, which must run first: no delivery, no renewal), reset in any child;
 * memory locked as it is touched (MCL_ONFAULT: the sparse validity page and
 * the allocator's reservations are not faulted in).  A failure is logged
 * and the daemon runs on without.  Before any thread starts, so they all
 * inherit the policy.
 */
static void setup_realtime(struct cld *d)
{
	const struct cld_config *cfg = &d->cfg;
	if (cfg->realtime_priority) {
		struct sched_param sp = { .sched_priority = (int)cfg->realtime_priority };
		if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) < 0)
			qb_log(LOG_WARNING, "cannot run at realtime priority %" PRIu64 " (SCHED_RR): %s; "
			       "under load, renewals may be late (realtime_priority = 0 says so in the "
			       "configuration)", cfg->realtime_priority, strerror(errno));
		else
			qb_log(LOG_INFO, "scheduling: SCHED_RR, priority %" PRIu64, cfg->realtime_priority);
	}
	if (cfg->lock_memory) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
			qb_log(LOG_WARNING, "cannot lock the daemon's memory (mlockall): %s; under "
			       "memory pressure, renewals may wait for paging (lock_memory = no says so "
			       "in the configuration)", strerror(errno));
		else
			d->memory_locked = true;
	}
}

static void setup_logging(const struct cld_config *cfg)
{
	qb_log_init("coroleased", LOG_DAEMON, LOG_INFO);
	int level = LOG_INFO;
	bool to_stderr = cfg->log_target == CLD_LOG_STDERR;
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, !to_stderr);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, to_stderr);
	qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	if (cfg->debug) {
		/* our own debug lines only: libqb's are too chatty */
		qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX, "lockd/", LOG_DEBUG);
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX, "lockd/", LOG_DEBUG);
	}
	qb_log_format_set(QB_LOG_STDERR, "%t %N[%P] %p: %b");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: coroleased [-f] [-d] [-t] [-c FILE] [-l stderr|syslog] [-o KEY=VALUE]...\n"
		"  -c FILE        configuration file (default " CLD_DEFAULT_CONFIG ")\n"
		"  -f, --foreground\n"
		"                 stay in the foreground\n"
		"  -l TARGET      log to stderr or syslog (default syslog)\n"
		"  -d             debug logging\n"
		"  -o KEY=VALUE   override a configuration key (repeatable)\n"
		"  -t, --test-config\n"
		"                 check the configuration, print it as in effect, and exit\n"
		"  -h, --help     this text\n"
		"  -V, --version  print the version\n"
		"See coroleased(8) and corolease.conf(5).\n");
}

/* The defaults, then the file, then the -o overrides in order.  0, or -1 with err. */
static int load_config(struct cld_config *cfg, const char *path, bool must_exist,
		       char *const *overrides, int noverrides, char *err, size_t errlen)
{
	cld_config_defaults(cfg);
	if (cld_config_load(cfg, path, must_exist, err, errlen) < 0)
		return -1;
	for (int i = 0; i < noverrides; i++)
		if (cld_config_override(cfg, overrides[i], err, errlen) < 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct cld *d = &g_d;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test-config", no_argument, NULL, 't' },
#ifdef COROLEASE_UNSAFE_TEST_PLANTS
		{ "unsafe-test-plant", required_argument, NULL, 'P' + 256 },
#endif
		{ NULL, 0, NULL, 0 },
	};
	const char *config = CLD_DEFAULT_CONFIG;
	bool config_given = false, foreground = false, debug = false, test_config = false;
	const char *log_target = NULL;
	char **overrides = calloc((size_t)argc + 1, sizeof(char *));
	int noverrides = 0, opt;
	if (!overrides)
		return 1;
	while ((opt = getopt_long(argc, argv, "c:fl:do:thV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; config_given = true; break;
		case 'f': foreground = true; break;
		case 'l': log_target = optarg; break;
		case 'd': debug = true; break;
		case 'o': overrides[noverrides++] = optarg; break;
		case 't': test_config = true; break;
		case 'h': usage(stdout); free(overrides); return 0;
		case 'V': printf("coroleased %s\n", PACKAGE_VERSION); free(overrides); return 0;
#ifdef COROLEASE_UNSAFE_TEST_PLANTS
		case 'P' + 256:
			if (parse_plants(optarg) < 0) {
				free(overrides);
				return 1;
			}
			break;
#endif
		default: usage(stderr); free(overrides); return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "coroleased: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(overrides);
		return 1;
	}

	char err[600];
	int rc = load_config(&d->cfg, config, config_given, overrides, noverrides, err, sizeof(err));
	free(overrides);
	if (rc < 0) {
		fprintf(stderr, "coroleased: %s\n", err);
		return 1;
	}
	if (log_target && cld_config_set(&d->cfg, "log_target", log_target, err, sizeof(err)) < 0) {
		fprintf(stderr, "coroleased: -l: %s\n", err);
		return 1;
	}
	if (debug)
		d->cfg.debug = true;
	if (cld_config_check(&d->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "coroleased: %s\n", err);
		return 1;
	}
	if (test_config) {
		cld_config_print(&d->cfg, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}

	int krc = cld_hash_key_init();
	if (krc < 0) {
		fprintf(stderr, "coroleased: no randomness from the kernel for the table key "
			"(getrandom, /dev/urandom): %s\n", strerror(-krc));
		return 1;
	}
	if (!foreground && daemon(0, 0) < 0) {
		perror("coroleased: daemon");
		return 1;
	}
	d->pid = getpid();
	d->lock_fd = -1;
	d->cpg_fd = d->vq_fd = -1;
	if (take_lock(d) < 0)
		return 1;
	setup_logging(&d->cfg);
	setup_realtime(d);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	d->loop = qb_loop_create();
	if (!d->loop) {
		qb_log(LOG_CRIT, "cannot create the event loop");
		return 1;
	}
	rc = cld_tfd_open(&d->timer, d->loop, timer_fn, d);
	if (rc < 0) {
		qb_log(LOG_CRIT, "cannot create the node timer (timerfd): %s", strerror(-rc));
		return 1;
	}
	d->cpg = cld_cpg_new(d->loop, d->cfg.group_name, &cpg_ops, d);
	d->vq = cld_quorum_new(&vq_ops, d);
	if (!d->cpg || !d->vq) {
		qb_log(LOG_CRIT, "cannot start (out of memory)");
		return 1;
	}
	cld_cpg_set_inflight(d->cpg, (unsigned)d->cfg.batch_inflight);
	qb_loop_signal_handle sh;
	qb_loop_signal_add(d->loop, QB_LOOP_HIGH, SIGTERM, d, on_signal, &sh);
	qb_loop_signal_add(d->loop, QB_LOOP_HIGH, SIGINT, d, on_signal, &sh);
	qb_log(LOG_NOTICE, "coroleased %s starting (pid %d, run dir %s, group %s)", PACKAGE_VERSION,
	       (int)d->pid, d->cfg.run_dir, d->cfg.group_name);
	if (d->lock_note[0])
		qb_log(LOG_WARNING, "%s", d->lock_note);
	if (d->retired > 0)
		qb_log(LOG_NOTICE, "retired %d validity page(s) of a previous incarnation", d->retired);
	else if (d->retired < 0)
		qb_log(LOG_WARNING, "cannot read %s to retire old validity pages: %s", d->cfg.run_dir,
		       strerror(-d->retired));

	watchdog_start(d);
	try_connect(d);
	qb_loop_run(d->loop);

	/* shutdown: clear the validity page, leave the group, drop clients */
	d->stopping = true;
	cld_tfd_close(&d->timer);
	if (d->reconnect_armed)
		qb_loop_timer_del(d->loop, d->reconnect_timer);
	cld_page_kill(d->page);              /* every lease invalid before anything can hang */
	shutdown_guard(d);
	cpg_down(d, true);
	vq_down(d);
	d->ipc = cld_ipc_stop(d->ipc);
	d->page = cld_page_close(d->page);   /* after the IPC: its clients' slots live there */
	d->holds = cld_holdquota_free(d->holds);
	d->cpg = cld_cpg_free(d->cpg);
	d->vq = cld_quorum_free(d->vq);
	d->node = cl_node_free(d->node);
	qb_loop_destroy(d->loop);
	pidfile_unlink(d);
	qb_log(d->exit_code ? LOG_ERR : LOG_NOTICE, "coroleased stopped%s",
	       d->exit_code ? ": another coroleased of this node is in the group" : "");
	qb_log_fini();
	return d->exit_code;
}
