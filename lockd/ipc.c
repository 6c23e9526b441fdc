/*
 * ipc.c - the IPC service of coroleased: its socket, authorisation, the
 * connection table and each client's outgoing event queue.  Contract:
 * ipc.h; the parts of the service: ipc_int.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1   /* struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "groups.h"
#include "hash.h"
#include "ipc_int.h"

/* ---- connections ---- */

/*
 * The transport.  coroleased listens on a Unix SOCK_SEQPACKET socket,
 * RUN_DIR/CLP_SOCKET_FILE, which the kernel guards: the file is root's
 * (mode 0660, group socket_group, or 0600 without one) in root's 0755 run
 * directory, so a user outside socket_group cannot even connect, and nobody
 * else can bind the name.  Every message is one packet: the kernel keeps the
 * boundaries and tells its real size, and nothing of a connection lives in
 * memory the client can write (libqb's IPC shares its ring headers with the
 * client, which could then steer the daemon's reads, writes, munmaps and
 * unlinks; its socket transport uses abstract names any local user can send
 * to).  The peer's credentials and groups come from the kernel at accept
 * (SO_PEERCRED, SO_PEERGROUPS).  A second socket, RUN_DIR/CLP_ROOT_SOCKET_FILE
 * (mode 0600), takes root's and the daemon's user's connections only, and
 * is accepted even while the first is not (fds_check()).
 *
 * A connection is closed only from its own poll handler, conn_dispatch(),
 * or by cld_ipc_stop(): ipc_conn_kill() marks it dying and shuts the
 * socket down, which wakes that handler (and shows the client a hang-up at
 * once), so no list being walked loses an entry under its feet.
 */

struct conn *ipc_conn_find(struct cld_ipc *ip, uint64_t id)
{
	uint64_t h = cl_mix64(id);
	for (struct cl_hnode *e = cl_htab_first(&ip->conn_tab, h); e; e = cl_htab_next(e, h)) {
		struct conn *c = cl_container_of(e, struct conn, hn);
		if (c->id == id)
			return c;
	}
	return NULL;
}

void ipc_conn_kill(struct conn *c, const char *why)
{
	if (c->dying)
		return;
	c->dying = true;
	struct cld_ipc *ip = c->ip;
	uint64_t now = why ? cld_now_us() : 0;
	if (why && cld_log_due(&ip->kill_log_at, now)) {
		qb_log(LOG_WARNING, "disconnecting client %" PRIu64 " (pid %d, uid %u): %s (%" PRIu64
		       " more disconnected since the last such line)", c->id, (int)c->pid,
		       (unsigned)c->uid, why, ip->kills_unlogged);
		ip->kills_unlogged = 0;
	} else {
		ip->kills_unlogged += why != NULL;
		qb_log(LOG_DEBUG, "disconnecting client %" PRIu64 " (pid %d): %s", c->id, (int)c->pid,
		       why ? why : "connection already closed");
	}
	shutdown(c->fd, SHUT_RDWR);
}

/* ---- closing what clients may have passed ---- */

/*
 * A client can pass file descriptors with SCM_RIGHTS.  Where the kernel
 * allows (Linux 6.16, SO_PASSRIGHTS), the daemon's socket refuses them at
 * the sender.  Elsewhere the daemon must never hold the last reference to
 * such a file in its loop thread: closing it may block as long as its
 * owner likes (a TCP socket lingering on unsent data, a FUSE file whose
 * flush never returns), and a socket with unread passed files is such a
 * reference too.  So the passed files, and every client socket, are closed
 * by a thread of their own (closer_fd()); the loop only hands them over.
 */
static int closer_pipe[2] = { -1, -1 };
/*
 * Descriptors the pipe had no room for: its reader is blocked in a close()
 * (a file whose owner makes closing it wait) with 16,384 more queued behind
 * it.  The loop never waits for room: they wait here, and POLLOUT on the
 * pipe hands them over (closer_writable()).  Room for all of them is
 * reserved at start (fds_init()): fds_check() bounds them by the
 * descriptor limit.
 */
static struct {
	int *fd;
	size_t n, cap;
} closer_over;
/*
 * Handed to the thread (pipe or list) and not closed yet: each is still a
 * descriptor of the daemon's.  The thread counts down and, when the loop
 * waits for descriptors (closer_wake_at >= 0) and the count reached it,
 * wakes the loop through closer_efd.
 */
static _Atomic long closer_pending;
static _Atomic long closer_wake_at = -1;
static int closer_efd = -1;
/*
 * A close() that still waits after CLD_CLOSE_NUDGE_MS is interrupted by a
 * signal, and again every CLD_CLOSE_NUDGE_MS: a TCP socket lingering on
 * unsent data (nested in a passed socket, where SO_LINGER 0 does not reach
 * it) stops waiting, so no client can keep the thread blocked, nor keep it
 * blocked after it went away (breaker: a listener passed behind the
 * lingering socket kept its peer alive for good).  Short, because each
 * nested socket is a close() of its own (breakers: 160 of them kept
 * unprivileged clients out 160 s after the attacker left, at 1 s each);
 * the thread closes nothing else that should take that long (client
 * sockets, and files clients had no business passing).  A wait no signal
 * ends (a FUSE flush whose server ignores interrupts, a pipe whose mutex
 * another process holds in splice()) lasts as long as its cause: the loop
 * says so (closer_since) and unprivileged clients wait once descriptors
 * run short.
 */
#define CLD_CLOSE_NUDGE_MS 20
#define CLD_CLOSE_STUCK_US 5000000ull   /* a close() this long is logged as stuck */
static int closer_sig = -1;                 /* SIGRTMIN + 4, or -1: not interrupted */
static _Atomic uint64_t closer_nudged;      /* close() calls interrupted */
static _Atomic uint64_t closer_since;       /* cld_now_us() when the running close() began, or 0 */
static volatile sig_atomic_t closer_nudge_seen;

static void closer_nudge(int sig)
{
	(void)sig;
	closer_nudge_seen = 1;
}

/* A timer that sends closer_sig to this thread, or false. */
static bool closer_timer(timer_t *t_r)
{
	if (closer_sig < 0)
		return false;
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, closer_sig);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = closer_sig;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &ev, t_r) < 0)
		return false;
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	return true;
}

static void *closer_main(void *arg)
{
	(void)arg;
	int fd;
	timer_t tm;
	bool timed = closer_timer(&tm);
	const struct timespec every = { 0, CLD_CLOSE_NUDGE_MS * 1000000L };
	const struct itimerspec nudge = { every, every }, off = { 0 };
	for (;;) {
		ssize_t n = read(closer_pipe[0], &fd, sizeof(fd));
		if (n == (ssize_t)sizeof(fd)) {
			if (timed)
				timer_settime(tm, 0, &nudge, NULL);
			atomic_store(&closer_since, cld_now_us());
			close(fd);
			atomic_store(&closer_since, 0);
			if (timed)
				timer_settime(tm, 0, &off, NULL);
			if (closer_nudge_seen) {
				closer_nudge_seen = 0;
				atomic_fetch_add(&closer_nudged, 1);
			}
			long left = atomic_fetch_sub(&closer_pending, 1) - 1;
			long at = atomic_load(&closer_wake_at);
			if (at >= 0 && left <= at &&
			    atomic_compare_exchange_strong(&closer_wake_at, &at, -1)) {
				uint64_t one = 1;
				(void)!write(closer_efd, &one, sizeof(one));
			}
		} else if (n == 0 || (n < 0 && errno != EINTR)) {
			return NULL;
		}
	}
}

static int closer_start(void)
{
	if (closer_pipe[0] >= 0)
		return 0;
	closer_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (closer_efd < 0)
		return -errno;
	if (pipe2(closer_pipe, O_CLOEXEC) < 0) {
		int e = errno;
		close(closer_efd);
		closer_efd = -1;
		return -e;
	}
	/* the loop's end: a full pipe says EAGAIN instead of blocking the loop */
	int rc = fcntl(closer_pipe[1], F_SETFL, O_NONBLOCK) < 0 ? errno : 0;
	/* the nudge: a handler that does nothing, without SA_RESTART; blocked but in the thread */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = closer_nudge;
	sigemptyset(&sa.sa_mask);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGRTMIN + 4);
	if (rc == 0 && SIGRTMIN + 4 <= SIGRTMAX && sigaction(SIGRTMIN + 4, &sa, NULL) == 0 &&
	    pthread_sigmask(SIG_BLOCK, &one, NULL) == 0)
		closer_sig = SIGRTMIN + 4;
	pthread_t t;
	sigset_t all, old;
	if (rc == 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the loop */
		rc = pthread_create(&t, NULL, closer_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc != 0) {
		close(closer_pipe[0]);
		close(closer_pipe[1]);
		close(closer_efd);
		closer_pipe[0] = closer_pipe[1] = closer_efd = -1;
		return -rc;
	}
	pthread_detach(t);
	return 0;
}

/* One descriptor into the pipe: true, or false when it has no room. */
static bool closer_put(int fd)
{
	for (;;) {
		ssize_t w = write(closer_pipe[1], &fd, sizeof(fd));
		if (w == (ssize_t)sizeof(fd))
			return true;
		if (w < 0 && errno == EINTR)
			continue;
		return false;   /* EAGAIN: full (a write of 4 bytes is all or nothing) */
	}
}

/*
 * Closes fd from the closer thread: through its pipe, or after what waits
 * in closer_over.  Only without the thread, or past the list's room
 * (which fds_check() keeps from happening), here.
 */
static void closer_fd(int fd)
{
	if (fd < 0)
		return;
	if (closer_pipe[1] < 0) {
		close(fd);
		return;
	}
	atomic_fetch_add(&closer_pending, 1);
	if (!closer_over.n && closer_put(fd))
		return;
	if (closer_over.n == closer_over.cap) {
		atomic_fetch_sub(&closer_pending, 1);
		close(fd);
		return;
	}
	closer_over.fd[closer_over.n++] = fd;
}

/* What waits in closer_over into the pipe, in order, as far as it has room. */
static void closer_drain(void)
{
	size_t i = 0;
	while (i < closer_over.n && closer_put(closer_over.fd[i]))
		i++;
	if (i) {
		memmove(closer_over.fd, closer_over.fd + i, (closer_over.n - i) * sizeof(int));
		closer_over.n -= i;
	}
}

static void fds_check(struct cld_ipc *ip);

/* The closer's pipe has room, or it closed what the loop waited for. */
static int32_t closer_writable(int32_t fd, int32_t revents, void *data)
{
	(void)revents;
	if (fd == closer_efd) {
		uint64_t v;
		(void)!read(closer_efd, &v, sizeof(v));
	}
	fds_check(data);
	return 0;
}

static uint64_t fds_pending(void)
{
	long p = atomic_load(&closer_pending);
	return p > 0 ? (uint64_t)p : 0;
}

/* The daemon's own descriptors (those at start, and a slack), without its connections'. */
static uint64_t fds_base(const struct cld_ipc *ip)
{
	return ip->fd_base + CLD_FD_SLACK;
}

/* Those and its connections', all it has besides those waiting for the closer. */
static uint64_t fds_held_open(const struct cld_ipc *ip)
{
	return fds_base(ip) + 2 * ip->nconns + ip->ndeferred;
}

/* The descriptors the daemon has or may have (its own, its connections', the closer's). */
static uint64_t fds_used(const struct cld_ipc *ip)
{
	return fds_held_open(ip) + fds_pending();
}

void ipc_fds(const struct cld_ipc *ip, uint64_t *used_r, uint64_t *closing_r, uint64_t *nudged_r,
	     uint64_t *stuck_ms_r)
{
	*used_r = fds_used(ip);
	*closing_r = fds_pending();
	*nudged_r = atomic_load(&closer_nudged);
	uint64_t since = atomic_load(&closer_since), now = cld_now_us();
	*stuck_ms_r = since && now > since ? (now - since) / 1000u : 0;
}

/* The most it may have before unprivileged clients wait (more: the hysteresis). */
static uint64_t fds_room(const struct cld_ipc *ip, uint64_t more)
{
	uint64_t need = (ip->scm_refused ? 0 : CLD_SCM_MAX_FD) + CLD_FD_ROOT_RESERVE + more;
	return ip->fd_limit > need ? ip->fd_limit - need : 0;
}

/*
 * How many more must be free before unprivileged clients are served
 * again: CLD_FD_HYST, or a quarter of what the limit leaves them, so that
 * a low limit still lets the wait end once they are gone.
 */
static uint64_t fds_hyst(const struct cld_ipc *ip)
{
	uint64_t room = fds_room(ip, 0), own = fds_base(ip);
	uint64_t q = room > own ? (room - own) / 4 : 0;
	return q < CLD_FD_HYST ? q : CLD_FD_HYST;
}

#define CLD_NOFILE_MAX (1u << 20)   /* the kernel's default nr_open */

/* The soft RLIMIT_NOFILE, at most CLD_NOFILE_MAX (RLIM_INFINITY among them); 0 unread. */
static uint64_t nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_cur < CLD_NOFILE_MAX ? (uint64_t)rl.rlim_cur : CLD_NOFILE_MAX;
}

/*
 * The limit, the descriptors open now, and room in closer_over for all the
 * daemon may ever hold.  Once the listening sockets and the closer exist.
 */
static int fds_init(struct cld_ipc *ip)
{
	ip->fd_limit = nofile_limit();
	if (!ip->fd_limit)
		ip->fd_limit = CLD_NOFILE_MAX;
	ip->fd_base = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		while (readdir(d))
			ip->fd_base++;
		closedir(d);
		ip->fd_base = ip->fd_base > 3 ? ip->fd_base - 3 : 0;   /* ., .. and d's own */
	} else {
		for (int fd = 0; fd < 1024; fd++)
			ip->fd_base += fcntl(fd, F_GETFD) >= 0;
	}
	if (!closer_over.fd) {
		closer_over.fd = malloc((size_t)ip->fd_limit * sizeof(int));
		if (!closer_over.fd)
			return -ENOMEM;
		closer_over.cap = (size_t)ip->fd_limit;
	}
	if (ip->fd_limit > closer_over.cap)
		ip->fd_limit = closer_over.cap;   /* a second service in this process */
	const struct cld_config *conf = ip->cfg.conf;
	uint64_t conns = conf->max_connections + CLD_ROOT_RESERVE;
	uint64_t room = fds_room(ip, 0);
	uint64_t own = fds_base(ip);
	if (own + 2 >= room)
		qb_log(LOG_WARNING, "RLIMIT_NOFILE is %" PRIu64 ": with %" PRIu64 " descriptors of the "
		       "daemon's own and %" PRIu64 " in reserve, it leaves no room for the connections "
		       "of unprivileged users, which will wait for good (raise LimitNOFILE)",
		       ip->fd_limit, own, ip->fd_limit - room);
	else if (own + 2 * conns > room)
		qb_log(LOG_WARNING, "RLIMIT_NOFILE is %" PRIu64 ": %" PRIu64 " descriptors of the daemon's "
		       "own and two for each of max_connections (%" PRIu64 ") and root's %u more do not "
		       "fit below it with %" PRIu64 " in reserve; new connections of unprivileged users will wait "
		       "when descriptors run short (raise LimitNOFILE or lower max_connections)",
		       ip->fd_limit, own, conf->max_connections, CLD_ROOT_RESERVE, ip->fd_limit - room);
	else
		qb_log(LOG_INFO, "descriptors: %" PRIu64 " of RLIMIT_NOFILE %" PRIu64 " in use or "
		       "reserved for the daemon; unprivileged clients wait beyond %" PRIu64, own,
		       ip->fd_limit, room);
	return 0;
}

static void conn_events(struct conn *c);
static void listen_events(struct listener *l);
static void deferred_run(struct cld_ipc *ip);

static void fds_tick(void *data)
{
	struct cld_ipc *ip = data;
	ip->fds_timer_armed = false;
	fds_check(ip);
}

/*
 * Once a second, from fds_check(): RLIMIT_NOFILE again (an administrator
 * may change the limit of the running daemon, prlimit(1)), and what the
 * closing thread did that is worth a line.
 */
static void fds_refresh(struct cld_ipc *ip, uint64_t now)
{
	ip->fd_limit_at = now + 1000000u;
	uint64_t lim = nofile_limit();
	if (lim) {
		int *p = lim > closer_over.cap ? realloc(closer_over.fd, (size_t)lim * sizeof(int)) : NULL;
		if (p) {
			closer_over.fd = p;
			closer_over.cap = (size_t)lim;
		}
		ip->fd_limit = lim < closer_over.cap ? lim : closer_over.cap;
	}
	uint64_t nudged = atomic_load(&closer_nudged);
	if (nudged != ip->closes_nudged) {
		qb_log(LOG_NOTICE, "the closing thread interrupted %" PRIu64 " close() call(s) that "
		       "waited over %d ms (a file a client passed whose owner makes closing it "
		       "wait?)", nudged - ip->closes_nudged, CLD_CLOSE_NUDGE_MS);
		ip->closes_nudged = nudged;
	}
	uint64_t since = atomic_load(&closer_since);
	bool stuck = since && now > since && now - since >= CLD_CLOSE_STUCK_US;
	if (stuck && !ip->closer_stuck_told)
		qb_log(LOG_WARNING, "the closing thread has been in one close() for %" PRIu64 " s, "
		       "and signals do not end it (a FUSE file, a pipe another process keeps "
		       "locked?): what it closes waits, and unprivileged clients will wait once "
		       "descriptors run short, until the owner of that file lets go",
		       (now - since) / 1000000u);
	else if (!stuck && ip->closer_stuck_told)
		qb_log(LOG_NOTICE, "the closing thread's close() returned");
	ip->closer_stuck_told = stuck;
}

/*
 * After anything that may have taken descriptors, or handed them to the
 * closer: unprivileged connections are neither read (each packet could
 * pass 253 descriptors, and the kernel drops those it cannot install in
 * the loop's own thread, which may block it as long as their owner likes)
 * nor accepted while fewer than CLD_SCM_MAX_FD + CLD_FD_ROOT_RESERVE would
 * be left; they are again once fds_hyst() more are free.  Root's and the
 * daemon's user's connections are read throughout, and root's socket
 * accepted.  Descriptors are freed by the closing thread, which may be
 * blocked in a close() (a file a client passed whose owner makes closing
 * it wait): it wakes the loop when enough are closed (closer_wake_at).
 */
static void fds_check(struct cld_ipc *ip)
{
	closer_drain();
	uint64_t now = cld_now_us();
	if (now >= ip->fd_limit_at)
		fds_refresh(ip, now);
	bool watch = closer_over.n > 0;
	if (watch != ip->closer_watched) {
		if (!watch)
			qb_loop_poll_del(ip->loop, closer_pipe[1]);
		if (!watch || qb_loop_poll_add(ip->loop, QB_LOOP_HIGH, closer_pipe[1], POLLOUT, ip,
					      closer_writable) == 0)
			ip->closer_watched = watch;
	}
	uint64_t room = fds_room(ip, ip->fds_held ? fds_hyst(ip) : 0);
	bool held = fds_used(ip) > room;
	if (held) {
		/* the count of pending closes at which the thread wakes us, then a second look */
		uint64_t other = fds_held_open(ip);
		atomic_store(&closer_wake_at, other < room ? (long)(room - other) : -1);
		held = fds_used(ip) > room;
	}
	if (!held)
		atomic_store(&closer_wake_at, -1);
	/*
	 * and each second while held (a raised limit, a wake-up that never
	 * came) or while closes wait (a close() that does not return)
	 */
	bool tick = held || fds_pending() > 0;
	if (tick && !ip->fds_timer_armed &&
	    qb_loop_timer_add(ip->loop, QB_LOOP_HIGH, 1000000000ull, ip, fds_tick, &ip->fds_timer) == 0)
		ip->fds_timer_armed = true;
	if (!tick && ip->fds_timer_armed) {
		qb_loop_timer_del(ip->loop, ip->fds_timer);
		ip->fds_timer_armed = false;
	}
	/* a line when it begins, at most one a second (each says how often since), and when it ends */
	if (held && !ip->fds_short_told && cld_log_due(&ip->fds_log_at, now)) {
		ip->fds_short_told = true;
		qb_log(LOG_WARNING, "descriptors run short (%" PRIu64 " of RLIMIT_NOFILE %" PRIu64 " held: "
		       "%" PRIu64 " connections, %" PRIu64 " passed files and client sockets the closing "
		       "thread has not closed%s; %" PRIu64 " time(s) since the last such line): "
		       "unprivileged clients are neither read nor accepted until %" PRIu64 " more are "
		       "free; root's socket %s is served", fds_used(ip), ip->fd_limit, ip->nconns,
		       fds_pending(), closer_over.n ? ", it is blocked in a close()" : "",
		       ip->fds_holds + (held != ip->fds_held) - ip->fds_holds_told, fds_hyst(ip),
		       ip->listen[1].path);
		ip->fds_holds_told = ip->fds_holds + (held != ip->fds_held);
	} else if (!held && ip->fds_short_told) {
		ip->fds_short_told = false;
		qb_log(LOG_NOTICE, "descriptors free again (%" PRIu64 " of %" PRIu64 " held): "
		       "unprivileged clients are read and accepted again", fds_used(ip), ip->fd_limit);
	}
	if (held == ip->fds_held)
		return;
	ip->fds_held = held;
	ip->fds_holds += held;
	listen_events(&ip->listen[0]);
	const struct cl_list *it;
	cl_list_foreach(it, &ip->conns) {
		struct conn *c = cl_list_entry(it, struct conn, link);
		if (c->prio == QB_LOOP_LOW && !c->dying)
			conn_events(c);
	}
}

/* Hands every descriptor of an SCM_RIGHTS message in mh to the closer; how many. */
static unsigned passed_fds(struct msghdr *mh)
{
	unsigned n = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			/* a socket lingering on unsent data: reset at close, not waited for */
			struct linger no = { .l_onoff = 1, .l_linger = 0 };
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &no, sizeof(no));
			closer_fd(fd);
			n++;
		}
	}
	return n;
}

/* ---- the HELLO deadline ---- */

/*
 * A connection must say HELLO within handshake_timeout_ms.  Connections
 * that have not said it yet count against max_handshakes in total and
 * max_handshakes_per_uid (root's never count, and are never refused).
 */
static void handshake_timer(void *data);

static void handshake_arm(struct cld_ipc *ip)
{
	if (ip->handshake_armed || cl_list_empty(&ip->handshakes))
		return;
	uint64_t ns = ip->cfg.conf->handshake_timeout_ms * 1000000ull / 4;
	if (qb_loop_timer_add(ip->loop, QB_LOOP_HIGH, ns ? ns : 1, ip, handshake_timer,
			      &ip->handshake_tmr) == 0)
		ip->handshake_armed = true;
}

static void handshake_end(struct cld_ipc *ip, struct conn *c)
{
	if (!c->in_handshake)
		return;
	c->in_handshake = false;
	cl_list_del(&c->hs_link);
	if (c->uid != 0)
		ip->nhandshakes--;
}

static void handshake_timer(void *data)
{
	struct cld_ipc *ip = data;
	ip->handshake_armed = false;
	uint64_t now = cld_now_us();
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &ip->handshakes) {
		struct conn *c = cl_list_entry(l, struct conn, hs_link);
		if (now >= c->hs_deadline) {
			handshake_end(ip, c);
			ip->handshakes_dropped++;
			ipc_conn_kill(c, "no HELLO within handshake_timeout_ms");
		}
	}
	handshake_arm(ip);
}

/* 0, or a reason to refuse a new connection of uid before its HELLO. */
static const char *handshake_limit(struct cld_ipc *ip, uid_t uid)
{
	if (uid == 0)
		return NULL;
	if (ip->nhandshakes >= ip->cfg.conf->max_handshakes)
		return "max_handshakes reached";
	uint64_t mine = 0;
	struct cl_list *l;
	cl_list_foreach(l, &ip->handshakes) {
		const struct conn *o = cl_list_entry(l, struct conn, hs_link);
		mine += o->uid == uid;
	}
	return mine >= ip->cfg.conf->max_handshakes_per_uid ? "max_handshakes_per_uid reached" : NULL;
}

/* ---- per-uid accounting ---- */

/* One uid's connections and queued bytes (in cld_ipc.uid_tab while it has a connection). */
struct uid_conns {
	struct cl_hnode hn;
	uid_t uid;
	uint64_t n;
	uint64_t queued;              /* bytes waiting in its connections' queues */
	uint64_t lists;               /* lists under way on its connections */
	uint64_t watches;             /* named watches of its connections (max_watches_per_uid) */
	uint64_t deferred;            /* its connections waiting in cld_ipc.deferred */
	uint64_t low_window;          /* the window low_used_us is of (cld_ipc.low_window_at) */
	uint64_t low_used_us;         /* its realtime CPU in that window (ipc_low_over()) */
};

static struct uid_conns *uid_conns_find(struct cld_ipc *ip, uid_t uid)
{
	uint64_t h = cl_mix64(uid);
	for (struct cl_hnode *e = cl_htab_first(&ip->uid_tab, h); e; e = cl_htab_next(e, h)) {
		struct uid_conns *u = cl_container_of(e, struct uid_conns, hn);
		if (u->uid == uid)
			return u;
	}
	return NULL;
}

/* Counts a connection of uid.  0, or -ENOMEM. */
/* uid's entry, made (with no connection) if it has none; NULL on ENOMEM. */
static struct uid_conns *uid_conns_get(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (!u && (u = calloc(1, sizeof(*u)))) {
		u->uid = uid;
		cl_htab_add(&ip->uid_tab, &u->hn, cl_mix64(uid));
	}
	return u;
}

static int uid_conns_add(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_get(ip, uid);
	if (!u)
		return -ENOMEM;
	u->n++;
	return 0;
}

static void uid_conns_free(struct cld_ipc *ip, struct uid_conns *u)
{
	cl_htab_del(&ip->uid_tab, &u->hn);
	free(u);
}

/*
 * Uncounts a connection of uid.  A uid that used realtime CPU in the window
 * keeps its entry until the window ends (low_window()), so that closing its
 * connections does not give it a fresh share (helper-100).
 */
static void uid_conns_drop(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (u && --u->n == 0 && !u->deferred && !(u->low_window == ip->low_window_at && u->low_used_us))
		uid_conns_free(ip, u);
}

/* Frees the entries of uids with neither connections nor deferred ones (all: every entry). */
static void uid_conns_sweep(struct cld_ipc *ip, bool all)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&ip->uid_tab, &it); e;
	     e = cl_htab_iter_next(&ip->uid_tab, &it)) {
		struct uid_conns *u = cl_container_of(e, struct uid_conns, hn);
		if (all || (!u->n && !u->deferred))
			uid_conns_free(ip, u);
	}
}

uint64_t ipc_uid_watches(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	return u ? u->watches : 0;
}

void ipc_uid_watches_add(struct conn *c, int64_t delta)
{
	struct uid_conns *u = uid_conns_find(c->ip, c->uid);
	if (u)
		u->watches += (uint64_t)delta;
}

static void uid_queued(struct cld_ipc *ip, uid_t uid, int64_t delta)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (u)
		u->queued += (uint64_t)delta;
}

/* ---- sending ---- */

static int32_t conn_dispatch(int32_t fd, int32_t revents, void *data);
static void conn_events(struct conn *c);

/* Polls c's socket for room to send too (want), or not. */
static void conn_want_out(struct conn *c, bool want)
{
	if (c->want_out == want || c->dying)
		return;
	c->want_out = want;
	conn_events(c);
}

/* One packet to c's socket: its size, or -errno (-EAGAIN: no room now). */
static ssize_t sock_send(const struct conn *c, const void *buf, size_t len)
{
	ssize_t rc = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return rc < 0 ? -errno : rc;
}

/* Log reason for a failed event send; NULL (quiet) when the peer just left. */
static const char *send_err_reason(ssize_t rc)
{
	if (rc == -ENOTCONN || rc == -EPIPE || rc == -ESHUTDOWN || rc == -ECONNRESET)
		return NULL;
	return rc == -EMSGSIZE ? "event larger than the socket's buffer" : "event send failed";
}

static bool send_would_block(ssize_t rc)
{
	return rc == -EAGAIN || rc == -ENOBUFS;
}

static void outbuf_free(struct conn *c, struct outbuf *b)
{
	cl_list_del(&b->link);
	c->oq_bytes -= b->len;
	uid_queued(c->ip, c->uid, -(int64_t)b->len);
	free(b);
}

/*
 * Sends what is queued for c, and gives its listing a turn once the queue
 * drained.  Returns true when the queue is empty.
 */
static bool conn_flush(struct conn *c)
{
	struct cl_list *l;
	while ((l = cl_list_first(&c->outq))) {
		struct outbuf *b = cl_list_entry(l, struct outbuf, link);
		ssize_t rc = sock_send(c, b->data, b->len);
		if (send_would_block(rc)) {
			conn_want_out(c, true);
			return false;
		}
		outbuf_free(c, b);
		if (rc < 0) {
			ipc_conn_kill(c, send_err_reason(rc));
			return true;
		}
	}
	conn_want_out(c, false);
	ipc_list_sched(c);
	return true;
}

void ipc_send(struct conn *c, void *buf, size_t len)
{
	if (c->dying)
		return;
	struct qb_ipc_response_header *h = buf;
	h->size = (int32_t)len;
	h->error = 0;
	if (cl_list_empty(&c->outq)) {
		ssize_t rc = sock_send(c, buf, len);
		if (rc >= 0)
			return;
		if (!send_would_block(rc)) {
			ipc_conn_kill(c, send_err_reason(rc));
			return;
		}
	}
	/* every byte counts, list answers too (they pause at CLD_LIST_QUEUED) */
	if (c->oq_bytes + len > CLD_OUTQ_MAX) {
		ipc_conn_kill(c, "client does not read its events");
		return;
	}
	struct cld_ipc *ip = c->ip;
	struct uid_conns *u = uid_conns_find(ip, c->uid);
	if (c->uid != 0 && u && u->queued + len > ip->cfg.conf->max_queued_bytes_per_uid) {
		ip->refused_queued++;
		ipc_conn_kill(c, "its uid's clients do not read their events (max_queued_bytes_per_uid)");
		return;
	}
	struct outbuf *b = malloc(sizeof(*b) + len);
	if (!b) {
		ipc_conn_kill(c, "out of memory queueing an event");
		return;
	}
	b->len = len;
	memcpy(b->data, buf, len);
	cl_list_add_tail(&c->outq, &b->link);
	c->oq_bytes += len;
	uid_queued(ip, c->uid, (int64_t)len);
	conn_want_out(c, true);
}

void ipc_result(struct conn *c, uint64_t cookie, uint32_t type, int err,
		const void *payload, size_t plen)
{
	struct cld_ipc *ip = c->ip;
	struct clp_ev_result *r = (struct clp_ev_result *)ip->buf;
	memset(r, 0, sizeof(*r));
	r->b.hdr.id = CLP_EV_RESULT;
	r->b.cookie = cookie;
	r->err = err;
	r->req_type = type;
	if (plen)
		memcpy(ip->buf + sizeof(*r), payload, plen);
	ipc_send(c, ip->buf, sizeof(*r) + plen);
}

/* ---- lists, in turns ---- */

/*
 * A LIST scans the replica and an INDEX_LIST a name's keys; either may
 * send nothing for a long time (a prefix that matches nothing), so the
 * pause on queued bytes alone would never pace it.  Each runs in turns of
 * CLD_LIST_BUDGET records or keys: one expired timer per loop priority
 * gives one turn each time the loop runs it, to the list first in its
 * queue, which goes to the back if it wants more.  (A timer, not a libqb
 * job: qb_loop_job_del() of a job already queued to run does not free it.)  So lists take turns round robin,
 * among themselves and with every other item of their level (a client's
 * requests, up to CLD_REQS_PER_WAKE of them), and root's (QB_LOOP_MED)
 * before other users' (QB_LOOP_LOW), whatever the number of lists.
 */
static void list_turn(void *data);

static void list_arm(struct list_turns *t)
{
	if (t->armed || cl_list_empty(&t->q))
		return;
	/* on failure (no memory) the next ipc_list_sched() at this level tries again */
	t->armed = qb_loop_timer_add(t->ip->loop, t->prio, 0, t, list_turn, &t->th) == 0;
}

static void low_window(struct cld_ipc *ip, uint64_t now)
{
	if (now - ip->low_window_at >= CLD_LOW_WINDOW_US) {
		ip->low_window_at = now;
		ip->low_used_us = 0;
		ip->low_light_us = 0;
		ip->low_over_us = 0;
		if (ip->low_uids)
			uid_conns_sweep(ip, false);   /* those kept for the window by uid_conns_drop() */
		ip->low_uids = 0;
	}
}

/* What uid used of this window (0 for a uid with no connection). */
static uint64_t low_used_by(struct cld_ipc *ip, uid_t uid)
{
	const struct uid_conns *u = uid_conns_find(ip, uid);
	return u && u->low_window == ip->low_window_at ? u->low_used_us : 0;
}

uint64_t ipc_low_begin(struct cld_ipc *ip)
{
	uint64_t now = cld_now_us();
	low_window(ip, now);
	return now;
}

static enum cld_low_pot low_pot(struct cld_ipc *ip, uid_t uid)
{
	return cld_low_pot(ip->low_used_us, ip->low_light_us, low_used_by(ip, uid), ip->low_uids);
}

void ipc_low_end(struct cld_ipc *ip, uid_t uid, uint64_t t0)
{
	uint64_t used = cld_now_us() - t0;
	/*
	 * The pot it came from, as the window stood when it began.  The work
	 * of users over their share (their connections deferred or paused, a
	 * hung-up one read) is counted apart: charged to the budget and the
	 * share pot, one user's 2,000 connects in a window closed the share
	 * pot to everyone else (helper-102).
	 */
	switch (low_pot(ip, uid)) {
	case CLD_LOW_LIGHT:
		ip->low_light_us += used;
		break;
	case CLD_LOW_NONE:
		ip->low_over_us += used;
		break;
	default:
		ip->low_used_us += used;
	}
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (!u)
		return;   /* its last connection went with the work, unused in the window */
	if (u->low_window != ip->low_window_at) {
		u->low_window = ip->low_window_at;
		u->low_used_us = 0;
		ip->low_uids++;
	}
	u->low_used_us += used;
}

bool ipc_low_over(struct cld_ipc *ip, uid_t uid)
{
	if (!ip->realtime)
		return false;
	low_window(ip, cld_now_us());
	return low_pot(ip, uid) == CLD_LOW_NONE;
}

/* Whether c's requests wait: its realtime budget spent, or descriptors short (unprivileged). */
static bool conn_held(const struct conn *c)
{
	return c->low_paused || (c->ip->fds_held && c->prio == QB_LOOP_LOW);
}

static void conn_events(struct conn *c)
{
	qb_loop_poll_mod(c->ip->loop, c->prio, c->fd, (conn_held(c) ? 0 : POLLIN) |
			 (c->want_out ? POLLOUT : 0), c, conn_dispatch);
}

/* The window is over: the held-back connections are polled again, their lists turned. */
static void low_resume(void *data)
{
	struct cld_ipc *ip = data;
	ip->resume_armed = false;
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &ip->low_paused) {
		struct conn *c = cl_list_entry(l, struct conn, pause_link);
		cl_list_del(&c->pause_link);
		c->low_paused = false;
		if (!c->dying)
			conn_events(c);
	}
	for (size_t i = 0; i < sizeof(ip->listen) / sizeof(ip->listen[0]); i++)
		if (ip->listen[i].low_paused) {
			ip->listen[i].low_paused = false;
			listen_events(&ip->listen[i]);
		}
	deferred_run(ip);
	list_arm(&ip->list_turns[QB_LOOP_LOW]);
}

/*
 * The window's end resumes what waits for it: true when that is armed.
 * False only when libqb could not add the timer (no memory): then nothing
 * may wait for it, or it would wait for good (helper-102).
 */
static bool low_resume_arm(struct cld_ipc *ip)
{
	if (ip->resume_armed)
		return true;
	uint64_t now = cld_now_us(), end = ip->low_window_at + CLD_LOW_WINDOW_US;
	uint64_t ns = (end > now ? end - now : 1) * 1000u;
	ip->resume_armed = qb_loop_timer_add(ip->loop, QB_LOOP_HIGH, ns, ip, low_resume,
					     &ip->resume_th) == 0;
	if (ip->resume_armed)
		ip->low_holdbacks++;
	return ip->resume_armed;
}

/*
 * c's requests wait for the next window (c is unprivileged and the budget
 * spent); false when they cannot (low_resume_arm()) and are read now.
 */
static bool low_pause(struct conn *c)
{
	if (!low_resume_arm(c->ip))
		return false;
	if (!c->low_paused) {
		c->low_paused = true;
		cl_list_add_tail(&c->ip->low_paused, &c->pause_link);
		conn_events(c);
	}
	return true;
}

static void list_turn(void *data)
{
	struct list_turns *t = data;
	t->armed = false;
	struct cl_list *l = cl_list_first(&t->q);
	struct conn *c = NULL;
	/*
	 * The first list whose user is within its share of the realtime
	 * budget (ipc_low_over()) takes the turn, looking at no more than
	 * CLD_LIST_SKIP_MAX of those before it that are over theirs.
	 */
	for (unsigned skipped = 0; l; l = cl_list_next(&t->q, l)) {
		struct conn *x = cl_list_entry(l, struct conn, list_link);
		if (x->prio != QB_LOOP_LOW || !ipc_low_over(t->ip, x->uid)) {
			c = x;
			break;
		}
		if (++skipped == CLD_LIST_SKIP_MAX)
			break;
	}
	if (!c) {
		if (cl_list_empty(&t->q) || low_resume_arm(t->ip))
			return;   /* the window's end arms this level again */
		/* nothing would (no memory for the timer): the first takes the turn */
		c = cl_list_entry(cl_list_first(&t->q), struct conn, list_link);
	}
	bool low = c->prio == QB_LOOP_LOW;
	cl_list_del(&c->list_link);
	c->list_queued = false;
	uint64_t t0 = low ? ipc_low_begin(t->ip) : 0;
	bool more = ipc_list_pump(t->ip, c);
	if (low)
		ipc_low_end(t->ip, c->uid, t0);
	if (more)
		ipc_list_sched(c);
	list_arm(t);
}

void ipc_list_sched(struct conn *c)
{
	if (!c->listing || c->dying || c->list_queued)
		return;
	struct list_turns *t = &c->ip->list_turns[c->prio];
	cl_list_add_tail(&t->q, &c->list_link);
	c->list_queued = true;
	list_arm(t);
}

int ipc_list_start(struct conn *c, struct listing *l)
{
	struct uid_conns *u = uid_conns_find(c->ip, c->uid);
	if (c->uid != 0 && u && u->lists >= c->ip->cfg.conf->max_lists_per_uid) {
		c->ip->refused_lists++;
		qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d): list refused, max_lists_per_uid (%" PRIu64
		       ") reached for uid %u", c->id, (int)c->pid, c->ip->cfg.conf->max_lists_per_uid,
		       (unsigned)c->uid);
		return -EAGAIN;
	}
	if (u)
		u->lists++;
	c->listing = l;
	ipc_list_sched(c);
	return 0;
}

void ipc_list_end(struct conn *c)
{
	if (c->list_queued) {
		cl_list_del(&c->list_link);
		c->list_queued = false;
	}
	if (!c->listing)
		return;
	struct uid_conns *u = uid_conns_find(c->ip, c->uid);
	if (u && u->lists)
		u->lists--;
	free(c->listing);
	c->listing = NULL;
}

/* ---- authorisation ---- */

/*
 * Group membership of a connecting client: gid is its primary group
 * (SO_PEERCRED).  The supplementary groups come from the kernel with
 * SO_PEERGROUPS on the accepted socket, as they were at connect(); else
 * from the whole Groups: line of /proc/PID/status, read as whole numbers
 * however long it is.  Either way a client with any number of
 * groups (65536 at most) is judged by all of them, and a number cut in two
 * is never a gid.
 */
struct groups {
	gid_t primary;
	gid_t *g;
	size_t n;
};

static int peer_groups(int fd, struct groups *gr)
{
	socklen_t sz = 64 * sizeof(gid_t);
	for (int tries = 0; tries < 3; tries++) {
		gid_t *g = malloc(sz ? sz : sizeof(gid_t));
		if (!g)
			return -ENOMEM;
		socklen_t got = sz;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
			gr->g = g;
			gr->n = got / sizeof(gid_t);
			return 0;
		}
		int e = errno;
		free(g);
		if (e != ERANGE)
			return -e;
		sz = got;   /* the kernel says how much it needs */
	}
	return -EAGAIN;
}

static int proc_groups(pid_t pid, struct groups *gr)
{
	if (pid <= 0)
		return -ESRCH;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	while (getline(&line, &cap, f) >= 0) {
		if (!strncmp(line, "Groups:", 7)) {
			rc = cld_parse_groups(line + 7, &gr->g, &gr->n);
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

static bool in_groups(const struct groups *gr, bool ok, gid_t target)
{
	if (!ok)
		return false;
	if (gr->primary == target)
		return true;
	for (size_t i = 0; i < gr->n; i++)
		if (gr->g[i] == target)
			return true;
	return false;
}

/* ---- connection limits ---- */

/*
 * Refuses a connection over limit `which` (0: max_connections, 1:
 * max_connections_per_uid): counts it, logs why (at most one line a second
 * per limit, saying how many went unlogged), and returns the error the
 * client gets from corolease_connect().
 */
/*
 * Whether a refusal counted under `which` (cld_ipc.refusal_log_at) is worth
 * a log line now: at most one a second; the others are counted unlogged.
 */
static bool refusal_log_due(struct cld_ipc *ip, int which)
{
	if (cld_log_due(&ip->refusal_log_at[which], cld_now_us()))
		return true;
	ip->refusals_unlogged[which]++;
	return false;
}

static int32_t refuse(struct cld_ipc *ip, int which, uid_t uid, pid_t pid)
{
	static const char *const limit[2] = { "max_connections", "max_connections_per_uid" };
	const struct cld_config *conf = ip->cfg.conf;
	uint64_t value = which ? conf->max_connections_per_uid : conf->max_connections;
	(*(which ? &ip->refused_conns_uid : &ip->refused_conns))++;
	if (!refusal_log_due(ip, which))
		return -EUSERS;
	qb_log(LOG_WARNING, "refused IPC connection from uid %u pid %d: %s (%" PRIu64 ") reached, "
	       "%" PRIu64 " connections open (%" PRIu64 " more refused by it, unlogged, since the "
	       "last such line)", (unsigned)uid, (int)pid, limit[which], value, ip->nconns,
	       ip->refusals_unlogged[which]);
	ip->refusals_unlogged[which] = 0;
	return -EUSERS;
}

/*
 * Logs a refused connection of uid (before its HELLO; the client is told
 * the error): at most one line a second, saying how many went unlogged.
 */
static void refusal_note(struct cld_ipc *ip, uid_t uid, pid_t pid, const char *why)
{
	if (!refusal_log_due(ip, 3))
		return;
	qb_log(LOG_NOTICE, "refused IPC connection from uid %u pid %d: %s (%" PRIu64 " more "
	       "refused so, unlogged, since the last such line)", (unsigned)uid, (int)pid, why,
	       ip->refusals_unlogged[3]);
	ip->refusals_unlogged[3] = 0;
}

/*
 * The connection limits: 0, or the refusal.  Root and the daemon's own
 * user may open CLD_ROOT_RESERVE connections beyond max_connections, so an
 * administrator can still connect when other users took them all.
 */
static int32_t over_limit(struct cld_ipc *ip, uid_t uid, pid_t pid)
{
	const struct cld_config *conf = ip->cfg.conf;
	uint64_t total = conf->max_connections;
	if (uid == 0 || uid == getuid())
		total += CLD_ROOT_RESERVE;
	if (ip->nconns >= total)
		return refuse(ip, 0, uid, pid);
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (u && u->n >= conf->max_connections_per_uid)
		return refuse(ip, 1, uid, pid);
	return 0;
}

/*
 * The connecting process as a pidfd: from the kernel at connect time
 * (SO_PEERPIDFD, Linux 6.5), so a process that exited before the accept
 * cannot lend its pid number to another; else pidfd_open() of the pid.
 */
int cld_conn_peer_pidfd(int fd, pid_t pid)
{
	int pfd = -1;
	socklen_t len = sizeof(pfd);
	if (getsockopt(fd, SOL_SOCKET, CLD_SO_PEERPIDFD, &pfd, &len) == 0 && pfd >= 0)
		return pfd;
	/*
	 * By pid only where the kernel lacks the option: an error of the
	 * option itself (the peer gone) must not open whoever has the pid now
	 */
	if (errno != ENOPROTOOPT && errno != EINVAL)
		return -1;
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Tells a refused client why (a RESULT of its HELLO-to-be, cookie 0) and
 * closes the socket.
 */
static void refuse_fd(int fd, int err)
{
	struct clp_ev_result r;
	memset(&r, 0, sizeof(r));
	r.b.hdr.id = CLP_EV_RESULT;
	r.b.hdr.size = (int32_t)sizeof(r);
	r.err = err;
	r.req_type = CLP_REQ_HELLO;
	(void)send(fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL);
	closer_fd(fd);
}

/*
 * Authorises a socket just accepted from l, whose peer is cr (SO_PEERCRED,
 * read by accept_dispatch()), and makes it a connection: 0,
 * or the error the client is told (-EACCES, -EUSERS, -EAGAIN, -ESHUTDOWN,
 * -ENOMEM).
 */
static int conn_new(struct cld_ipc *ip, const struct listener *l, int fd, const struct ucred *cr)
{
	if (ip->refuse_new)
		return -ESHUTDOWN;
	uid_t uid = cr->uid;
	gid_t gid = cr->gid;
	pid_t pid = cr->pid;
	struct groups gr = { .primary = gid };
	if (uid != 0 && (ip->sock_gid_ok || ip->admin_gid_ok) && peer_groups(fd, &gr) < 0 &&
	    proc_groups(pid, &gr) < 0)
		qb_log(LOG_NOTICE, "cannot read the groups of pid %d (uid %u): judged by its primary "
		       "group %u alone", (int)pid, (unsigned)uid, (unsigned)gid);
	bool ok = uid == 0 || uid == getuid() ||
		  (!l->root && in_groups(&gr, ip->sock_gid_ok, ip->sock_gid));
	bool admin = uid == 0 || in_groups(&gr, ip->admin_gid_ok, ip->admin_gid);
	free(gr.g);
	if (!ok) {
		/* the socket's mode keeps them out; reaching here, someone loosened it */
		ip->refused_not_member++;
		if (cld_log_due(&ip->refusal_log_at[2], cld_now_us()))
			qb_log(LOG_NOTICE, "refused IPC connection from uid %u gid %u pid %d: %s (%s "
			       "should be mode %s)", (unsigned)uid, (unsigned)gid, (int)pid,
			       l->root ? "not root" : "not in socket_group", l->path,
			       l->root ? "0600" : "0660 or 0600");
		return -EACCES;
	}
	int32_t rc = over_limit(ip, uid, pid);
	if (rc < 0)
		return rc;
	const char *hs = handshake_limit(ip, uid);
	if (hs) {
		ip->handshakes_dropped++;
		refusal_note(ip, uid, pid, hs);
		return -EAGAIN;
	}
	/* room for one largest event; the kernel doubles it for its bookkeeping */
	int sb = (int)(CLP_MAX_MSG / 2 + 4096);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	struct conn *c = calloc(1, sizeof(*c));
	if (!c || uid_conns_add(ip, uid) < 0) {
		free(c);
		refusal_note(ip, uid, pid, "out of memory");
		return -ENOMEM;
	}
	c->ip = ip;
	c->fd = fd;
	c->id = ++ip->next_id;
	c->pid = pid;
	/*
	 * kill_on_revoke kills through a pidfd taken now, never by a pid
	 * number that may be reused once the client is gone (without it, the
	 * first acquire with COROLEASE_KILL takes it).
	 */
	c->pidfd = ip->cfg.conf->kill_on_revoke && pid > 1 ? cld_conn_peer_pidfd(fd, pid) : -1;
	c->uid = uid;
	c->gid = gid;
	c->admin = admin;
	cld_watcher_init(&c->watch);
	cl_list_init(&c->outq);
	cl_list_init(&c->ops);
	/*
	 * Clients below corosync and the timers, root's (and the daemon's
	 * user's) above other users': libqb runs a handful of ready items per
	 * level and loop round, so however many connections are busy, the
	 * node's own work runs every round (breaker: 500 connections of one
	 * user let the node's validity lapse when they shared its level).
	 */
	c->prio = uid == 0 || uid == getuid() ? QB_LOOP_MED : QB_LOOP_LOW;
	if (qb_loop_poll_add(ip->loop, c->prio, fd, conn_held(c) ? 0 : POLLIN, c, conn_dispatch) != 0) {
		uid_conns_drop(ip, uid);
		if (c->pidfd >= 0)
			close(c->pidfd);
		free(c);
		refusal_note(ip, uid, pid, "its socket could not be added to the loop");
		return -ENOMEM;
	}
	cl_list_add_head(&ip->conns, &c->link);
	cl_htab_add(&ip->conn_tab, &c->hn, cl_mix64(c->id));
	ip->nconns++;
	c->in_handshake = true;
	c->hs_deadline = cld_now_us() + ip->cfg.conf->handshake_timeout_ms * 1000u;
	cl_list_add_tail(&ip->handshakes, &c->hs_link);
	if (uid != 0)
		ip->nhandshakes++;
	handshake_arm(ip);
	qb_log(LOG_DEBUG, "client %" PRIu64 " connected: pid %d uid %u%s%s", c->id, (int)pid,
	       (unsigned)uid, c->admin ? " (admin)" : "", l->root ? ", on root's socket" : "");
	return 0;
}

static int32_t accept_dispatch(int32_t fd, int32_t revents, void *data);

/* A connection waiting for the window's end (cld_ipc.deferred). */
struct deferred_fd {
	struct cl_list link;
	uint64_t since;               /* cld_now_us() when deferred */
	int fd;
	struct ucred cr;              /* its peer's (SO_PEERCRED, when accepted) */
	const struct listener *l;
};

/* cfd, of a user over its share, waits for the window's end; beyond the bounds it is refused. */
static void defer_fd(struct cld_ipc *ip, const struct listener *l, int cfd, const struct ucred *cr)
{
	uid_t uid = cr->uid;
	struct uid_conns *u = ip->ndeferred < CLD_DEFER_MAX ? uid_conns_get(ip, uid) : NULL;
	struct deferred_fd *d = u && u->deferred < CLD_DEFER_PER_UID && low_resume_arm(ip)
					? malloc(sizeof(*d)) : NULL;
	if (!d) {
		ip->deferred_refused++;
		ip->handshakes_dropped++;   /* refused before its handshake, as past max_handshakes */
		if (cld_log_due(&ip->deferred_log_at, cld_now_us()))
			qb_log(LOG_NOTICE, "refused a connection of uid %u (EAGAIN): it is over its share "
			       "of the realtime budget, and %" PRIu64 " of its connections (%" PRIu64
			       " of everyone's, at most %u) wait for the window's end already (%" PRIu64
			       " such refusals so far)", (unsigned)uid, u ? u->deferred : 0,
			       ip->ndeferred, (unsigned)CLD_DEFER_MAX, ip->deferred_refused);
		refuse_fd(cfd, -EAGAIN);
		return;
	}
	d->since = cld_now_us();
	d->fd = cfd;
	d->cr = *cr;
	d->l = l;
	cl_list_add_tail(&ip->deferred, &d->link);
	u->deferred++;
	ip->ndeferred++;
}

/* Takes d off the list and its user's count; returns its socket. */
static int deferred_take(struct cld_ipc *ip, struct deferred_fd *d)
{
	int fd = d->fd;
	cl_list_del(&d->link);
	ip->ndeferred--;
	struct uid_conns *u = uid_conns_find(ip, d->cr.uid);
	if (u)
		u->deferred--;
	free(d);
	return fd;
}

/*
 * Takes d off the list and makes it a connection, or refuses it (why: with
 * EAGAIN, counted and logged as a dropped handshake).
 */
static void deferred_make(struct cld_ipc *ip, struct deferred_fd *d, const char *why)
{
	const struct listener *l = d->l;
	struct ucred cr = d->cr;
	int fd = deferred_take(ip, d);
	if (why) {
		ip->handshakes_dropped++;
		refusal_note(ip, cr.uid, cr.pid, why);
	}
	int rc = why ? -EAGAIN : conn_new(ip, l, fd, &cr);
	if (rc < 0)
		refuse_fd(fd, rc);
}

/*
 * The window ended: the connections that waited for it are made (in a new
 * window, counted).  One that the handshake limits would refuse (its
 * user's connections made before it have not said HELLO yet) waits for the
 * next window instead: made all at once, all but max_handshakes_per_uid of
 * a user's were refused (helper-102).
 */
static void deferred_run(struct cld_ipc *ip)
{
	struct cl_list *e, *nx;
	uint64_t now = cld_now_us(), max_wait = ip->cfg.conf->handshake_timeout_ms * 1000u;
	low_window(ip, now);
	cl_list_foreach_safe(e, nx, &ip->deferred) {
		struct deferred_fd *d = cl_list_entry(e, struct deferred_fd, link);
		/*
		 * One that waited handshake_timeout_ms, or while descriptors are
		 * short (its socket is one: helper-104), is refused with EAGAIN,
		 * which the client's connect takes as "try again"
		 */
		const char *why = ip->fds_held ? "deferred while descriptors are short"
				  : now - d->since >= max_wait ? "deferred for handshake_timeout_ms"
				  : NULL;
		if (!why && !ip->refuse_new && handshake_limit(ip, d->cr.uid))
			continue;
		uid_t uid = d->cr.uid;
		uint64_t t0 = ipc_low_begin(ip);
		deferred_make(ip, d, why);
		ipc_low_end(ip, uid, t0);
	}
	/* without the timer (no memory) they are made, or refused, now */
	if (!cl_list_empty(&ip->deferred) && !low_resume_arm(ip))
		while ((e = cl_list_first(&ip->deferred)))
			deferred_make(ip, cl_list_entry(e, struct deferred_fd, link), NULL);
	fds_check(ip);
}

/* l is polled while neither paused, nor (everybody's socket) descriptors short. */
static void listen_events(struct listener *l)
{
	if (l->fd >= 0)
		qb_loop_poll_mod(l->ip->loop, QB_LOOP_HIGH, l->fd,
				 l->paused || l->low_paused || (!l->root && l->ip->fds_held) ? 0 : POLLIN,
				 l, accept_dispatch);
}

static void accept_resume(void *data)
{
	struct listener *l = data;
	l->paused = false;
	listen_events(l);
}

/*
 * accept() failed for want of descriptors or memory: the waiting connection
 * stays in the backlog and the socket stays readable, so accepting pauses
 * for CLD_ACCEPT_PAUSE_NS instead of spinning (and logging) until one is
 * free; logged at most once a second.
 */
static void accept_pause(struct listener *l, int err)
{
	struct cld_ipc *ip = l->ip;
	ip->accept_failures++;
	if (cld_log_due(&ip->accept_log_at, cld_now_us()))
		qb_log(LOG_WARNING, "accept on %s: %s (%" PRIu64 " such failures so far); pausing new "
		       "connections for %llu ms", l->path, strerror(err), ip->accept_failures,
		       CLD_ACCEPT_PAUSE_NS / 1000000ull);
	if (l->paused)
		return;
	if (qb_loop_timer_add(ip->loop, QB_LOOP_HIGH, CLD_ACCEPT_PAUSE_NS, l, accept_resume,
			      &l->pause_th) == 0) {
		l->paused = true;
		listen_events(l);
	}
}

/* A listening socket is readable: accepts what waits, a bounded number at a time. */
static int32_t accept_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct listener *l = data;
	struct cld_ipc *ip = l->ip;
	(void)revents;
	for (int i = 0; i < 64 && !l->paused && !l->low_paused && (l->root || !ip->fds_held); i++) {
		uint64_t t0 = ipc_low_begin(ip);
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				accept_pause(l, errno);
			break;
		}
		/*
		 * An unprivileged user's connection costs that user's realtime
		 * CPU too (helper-100: connecting and closing 7,000 times a
		 * second kept the daemon at 65% of a CPU, none of it counted).
		 * One of a user over its share waits for the window's end, out
		 * of the backlog, so that other users' connections behind it are
		 * made at once (helper-101: pausing the socket instead left them
		 * behind the churner's for 150 to 700 ms).
		 */
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
			ip->handshakes_dropped++;
			refusal_note(ip, (uid_t)-1, 0, "its credentials could not be read (SO_PEERCRED)");
			refuse_fd(cfd, -EACCES);
			fds_check(ip);
			continue;
		}
		bool low = !l->root && ip->realtime && cr.uid != 0 && cr.uid != getuid();
		if (low && ipc_low_over(ip, cr.uid)) {
			defer_fd(ip, l, cfd, &cr);
		} else {
			int rc = conn_new(ip, l, cfd, &cr);
			if (rc < 0)
				refuse_fd(cfd, rc);
		}
		fds_check(ip);   /* a deferred socket is the daemon's descriptor too */
		if (!low)
			continue;
		ipc_low_end(ip, cr.uid, t0);
		/*
		 * Once the budget and the share pot are spent, everybody's
		 * socket waits for the window's end; its backlog is short
		 * (CLD_LISTEN_BACKLOG), so a connection made then waits behind
		 * few others, and a churner's connect(2) blocks meanwhile
		 * (helper-101: 10 ms more for accepting took the daemon's loop
		 * from 43% to 59% of a CPU under one user's churn).
		 */
		if (ip->low_used_us + ip->low_over_us >= CLD_LOW_BUDGET_US + CLD_LOW_EXTRA_US &&
		    low_resume_arm(ip)) {
			l->low_paused = true;
			listen_events(l);
			break;
		}
	}
	return 0;
}

static void conn_free(struct cld_ipc *ip, struct conn *c)
{
	handshake_end(ip, c);
	cl_list_del(&c->link);
	cl_htab_del(&ip->conn_tab, &c->hn);
	ip->nconns--;
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &c->outq)
		outbuf_free(c, cl_list_entry(l, struct outbuf, link));
	ipc_list_end(c);
	if (c->low_paused)
		cl_list_del(&c->pause_link);
	ipc_uid_watches_add(c, -(int64_t)c->watch.n);   /* ipc_conn_forget() drops them below */
	uid_conns_drop(ip, c->uid);
	if (c->hello)
		ip->nhello--;
	ipc_conn_forget(c);
	qb_loop_poll_del(ip->loop, c->fd);
	/*
	 * packets it never read may hold passed files; only root's (and the
	 * daemon's user's) own, closed here, which keeps them from waiting
	 * behind a blocked closer and spending root's reserve
	 */
	if (c->prio == QB_LOOP_LOW)
		closer_fd(c->fd);
	else
		close(c->fd);
	cld_killguard_disarm_client(ip->guard, c->id);   /* before its pidfd goes */
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c);
}

/* The client is gone (or was disconnected): drop its holds without blocking, forget it. */
static void conn_gone(struct cld_ipc *ip, struct conn *c)
{
	uint64_t id = c->id;
	qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d) gone with %" PRIu32 " leases", id, (int)c->pid,
	       cl_node_client_nholds(ip->cfg.node, id));
	conn_free(ip, c);
	cl_node_client_gone(ip->cfg.node, id);
	/* its ops stay in the table until answered, then are dropped */
	ip->ops->input_done(ip->ctx);
}

void cld_ipc_deliveries_read(struct cld_ipc *ip)
{
	if (ip)
		ip->round_reads = 0;
}

/*
 * c's socket is readable, writable, hung up, or shut down by
 * ipc_conn_kill().  Reads a bounded number of requests (each one whole
 * packet, parsed from the daemon's own buffer and never beyond the bytes
 * the kernel says arrived), sends what waits, and closes the connection
 * when it is over -- the only place besides cld_ipc_stop() that does.
 */
static int32_t conn_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct conn *c = data;
	struct cld_ipc *ip = c->ip;
	bool low = c->prio == QB_LOOP_LOW;
	uid_t uid = c->uid;
	/* all of it counts, sending and closing too (helper-100) */
	uint64_t t0 = low ? ipc_low_begin(ip) : 0;
	if (!c->dying && (revents & POLLOUT))
		conn_flush(c);
	if (low && !c->dying && ip->fds_held) {
		/* not read while descriptors are short (fds_check()); a hung-up one goes unread */
		if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
			conn_gone(ip, c);
			fds_check(ip);
		}
		ipc_low_end(ip, uid, t0);
		return 0;
	}
	/*
	 * Over its share, it waits for the window's end; a hung-up one is read
	 * now (its hang-up cannot be masked, and what it sent before it
	 * closed, index writes say, is applied as from any client that
	 * closes), within CLD_REQS_PER_WAKE a dispatch.
	 */
	if (low && !c->dying && !(revents & (POLLHUP | POLLERR | POLLNVAL)) &&
	    ipc_low_over(ip, c->uid) && low_pause(c)) {
		ipc_low_end(ip, uid, t0);
		return 0;
	}
	unsigned per_wake = !low && ip->round_reads < CLD_REQS_PER_ROUND ? CLD_REQS_PER_WAKE_MAX
									  : CLD_REQS_PER_WAKE;
	for (unsigned i = 0; i < per_wake && !c->dying; i++) {
		union {
			struct cmsghdr align;
			uint8_t b[CMSG_SPACE(CLD_SCM_MAX_FD * sizeof(int))];
		} ctl;
		struct iovec iov = { ip->req, sizeof(ip->req) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
		/* MSG_CTRUNC: files the kernel could not hand us (it dropped them) */
		if (n >= 0 && ((mh.msg_controllen && passed_fds(&mh)) || (mh.msg_flags & MSG_CTRUNC))) {
			ip->passed_fds++;
			ipc_conn_kill(c, "it passed file descriptors (not part of the protocol)");
			break;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			ipc_conn_kill(c, errno == ECONNRESET ? NULL : "receive failed");
			break;
		}
		if (n == 0) {
			ipc_conn_kill(c, NULL);   /* the client closed its end */
			break;
		}
		if ((size_t)n > sizeof(ip->req)) {
			ip->oversized++;
			ipc_conn_kill(c, "request larger than the protocol allows");
			break;
		}
		ip->round_reads++;
		ipc_request(ip, c, ip->req, (size_t)n);
		if (c->hello)
			handshake_end(ip, c);
		ip->ops->input_done(ip->ctx);
	}
	if (c->dying || (revents & (POLLHUP | POLLERR | POLLNVAL) && !(revents & POLLIN)))
		conn_gone(ip, c);
	fds_check(ip);
	if (low)
		ipc_low_end(ip, uid, t0);
	return 0;
}

/* ---- service ---- */

static int resolve_group(const char *name, bool must_exist, gid_t *gid_r, bool *ok_r)
{
	*ok_r = false;
	if (!name[0])
		return 0;
	struct group *g = getgrnam(name);
	if (!g) {
		if (must_exist) {
			qb_log(LOG_ERR, "group '%s' does not exist", name);
			return -ENOENT;
		}
		return 0;
	}
	*gid_r = g->gr_gid;
	*ok_r = true;
	return 0;
}

/*
 * Creates listening socket l, RUN_DIR/file: bound under a temporary name,
 * given its mode and group, then renamed over the name, so the socket is
 * never reachable with looser permissions (the run directory is root's
 * 0755, cld_page_check_dir()).  A socket left by a daemon that died is
 * replaced; a live one (another coroleased) is -EADDRINUSE.
 */
static int listen_socket(struct cld_ipc *ip, struct listener *l, const char *file)
{
	const char *dir = ip->cfg.conf->run_dir;
	char tmp[sizeof(l->path) + 24];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(l->path, sizeof(l->path), "%s/%s", dir, file);
	int t = snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, file, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) || t < 0 || (size_t)t >= sizeof(sa.sun_path)) {
		qb_log(LOG_ERR, "run_dir %s: too long for a socket path", dir);
		return -ENAMETOOLONG;
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* is another daemon serving it? */
	memcpy(sa.sun_path, l->path, (size_t)n + 1);
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		close(fd);
		qb_log(LOG_ERR, "%s: another coroleased answers there", l->path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	memcpy(sa.sun_path, tmp, (size_t)t + 1);
	unlink(tmp);
	int no = 0;   /* inherited by every connection, refused at the sender */
	bool refused = setsockopt(fd, SOL_SOCKET, CLD_SO_PASSRIGHTS, &no, sizeof(no)) == 0;
	if (!l->root) {
		ip->scm_refused = refused;
		if (!refused)
			qb_log(LOG_INFO, "this kernel cannot refuse passed file descriptors (SO_PASSRIGHTS): "
			       "the daemon closes them from a thread of its own");
	}
	bool group = !l->root && ip->sock_gid_ok;
	mode_t mode = group ? 0660 : 0600;
	int rc = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(tmp, mode) < 0 ||
	    (group && chown(tmp, (uid_t)-1, ip->sock_gid) < 0) ||
	    listen(fd, l->root ? SOMAXCONN : CLD_LISTEN_BACKLOG) < 0 || rename(tmp, l->path) < 0)
		rc = -errno;
	if (rc == 0 && qb_loop_poll_add(ip->loop, QB_LOOP_HIGH, fd, POLLIN, l, accept_dispatch) != 0) {
		rc = -ENOMEM;
		unlink(l->path);
	}
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot listen on %s: %s", l->path, strerror(-rc));
		unlink(tmp);
		close(fd);
		return rc;
	}
	l->fd = fd;
	qb_log(LOG_INFO, "IPC socket %s (mode %04o%s%s)", l->path, (unsigned)mode,
	       group ? ", group " : "", group ? ip->cfg.conf->socket_group : "");
	return 0;
}

static void listen_close(struct listener *l)
{
	if (l->paused)
		qb_loop_timer_del(l->ip->loop, l->pause_th);   /* its callback has l */
	l->paused = false;
	if (l->fd < 0)
		return;
	qb_loop_poll_del(l->ip->loop, l->fd);
	unlink(l->path);   /* no new client finds a socket about to go */
	closer_fd(l->fd);  /* connections not accepted yet may hold passed files */
	l->fd = -1;
}

int cld_ipc_start(qb_loop_t *loop, const struct cld_ipc_config *cfg,
		  const struct cld_ipc_ops *ops, void *ctx, struct cld_ipc **ip_r)
{
	struct cld_ipc *ip = calloc(1, sizeof(*ip));
	if (!ip)
		return -ENOMEM;
	ip->loop = loop;
	ip->cfg = *cfg;
	int pol = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
	ip->realtime = pol == SCHED_RR || pol == SCHED_FIFO;
	cl_list_init(&ip->low_paused);
	cl_list_init(&ip->deferred);
	ip->ops = ops;
	ip->ctx = ctx;
	for (int i = 0; i < 2; i++) {
		ip->listen[i].ip = ip;
		ip->listen[i].fd = -1;
		ip->listen[i].root = i == 1;
	}
	cl_list_init(&ip->conns);
	cl_list_init(&ip->handshakes);
	ip->guard = cld_killguard_start();
	if (!ip->guard)
		qb_log(LOG_WARNING, "cannot start the kill guard (%s): a revoke deadline's kill waits "
		       "for the loop, which a hung corosync can stop", strerror(errno));
	ipc_kill_init(ip);
	for (int p = QB_LOOP_LOW; p <= QB_LOOP_HIGH; p++) {
		struct list_turns *t = &ip->list_turns[p];
		t->ip = ip;
		t->prio = (enum qb_loop_priority)p;
		cl_list_init(&t->q);
	}
	const struct cld_config *dc = cfg->conf;
	int rc = resolve_group(dc->socket_group, dc->socket_group_set, &ip->sock_gid,
			       &ip->sock_gid_ok);
	if (rc == 0)
		rc = resolve_group(dc->admin_group, dc->admin_group_set, &ip->admin_gid,
				   &ip->admin_gid_ok);
	if (rc == 0 && (cl_htab_init(&ip->conn_tab, 1024) < 0 || cl_htab_init(&ip->op_tab, 1024) < 0 ||
			cl_htab_init(&ip->uid_tab, 64) < 0 || cld_watch_reg_init(&ip->watches) < 0))
		rc = -ENOMEM;
	if (rc < 0)
		goto fail;
	qb_log(LOG_INFO, "IPC access: root%s%s; admin: root%s%s", ip->sock_gid_ok ? " and group " : " only",
	       ip->sock_gid_ok ? dc->socket_group : "",
	       ip->admin_gid_ok ? " and group " : " only", ip->admin_gid_ok ? dc->admin_group : "");
	rc = closer_start();
	if (rc == 0 && qb_loop_poll_add(loop, QB_LOOP_HIGH, closer_efd, POLLIN, ip, closer_writable) != 0)
		rc = -ENOMEM;
	if (rc < 0)
		goto fail;
	rc = listen_socket(ip, &ip->listen[1], CLP_ROOT_SOCKET_FILE);
	if (rc == 0)
		rc = listen_socket(ip, &ip->listen[0], CLP_SOCKET_FILE);
	if (rc == 0)
		rc = fds_init(ip);
	if (rc < 0)
		goto fail_loop;
	*ip_r = ip;
	return 0;
fail_loop:
	listen_close(&ip->listen[0]);
	listen_close(&ip->listen[1]);
	qb_loop_poll_del(loop, closer_efd);
fail:
	cl_htab_fini(&ip->conn_tab);
	cl_htab_fini(&ip->op_tab);
	cl_htab_fini(&ip->uid_tab);
	cld_watch_reg_fini(&ip->watches);
	free(ip);
	return rc;
}

void cld_ipc_refuse_new(struct cld_ipc *ip)
{
	if (ip)
		ip->refuse_new = true;
}

struct cld_ipc *cld_ipc_stop(struct cld_ipc *ip)
{
	if (!ip)
		return NULL;
	if (ip->handshake_armed)
		qb_loop_timer_del(ip->loop, ip->handshake_tmr);
	ip->handshake_armed = false;
	if (ip->resume_armed)
		qb_loop_timer_del(ip->loop, ip->resume_th);
	ip->resume_armed = false;
	ip->refuse_new = true;
	listen_close(&ip->listen[0]);
	listen_close(&ip->listen[1]);
	if (ip->closer_watched)
		qb_loop_poll_del(ip->loop, closer_pipe[1]);
	ip->closer_watched = false;
	qb_loop_poll_del(ip->loop, closer_efd);
	atomic_store(&closer_wake_at, -1);
	if (ip->fds_timer_armed)
		qb_loop_timer_del(ip->loop, ip->fds_timer);
	ip->fds_timer_armed = false;
	ipc_kill_stop(ip);
	struct cl_list *l;
	while ((l = cl_list_first(&ip->conns)))
		conn_free(ip, cl_list_entry(l, struct conn, link));
	if (ip->ndeferred)
		qb_log(LOG_NOTICE, "stopping: %" PRIu64 " connections of users over their share of the "
		       "realtime budget, deferred to the window's end, closed unmade", ip->ndeferred);
	while ((l = cl_list_first(&ip->deferred)))
		closer_fd(deferred_take(ip, cl_list_entry(l, struct deferred_fd, link)));
	uid_conns_sweep(ip, true);   /* entries kept for the window (uid_conns_drop()) */
	for (int p = QB_LOOP_LOW; p <= QB_LOOP_HIGH; p++)
		if (ip->list_turns[p].armed)
			qb_loop_timer_del(ip->loop, ip->list_turns[p].th);
	ipc_ops_free(ip);
	cl_htab_fini(&ip->conn_tab);
	cl_htab_fini(&ip->op_tab);
	cl_htab_fini(&ip->uid_tab);
	cld_watch_reg_fini(&ip->watches);
	cld_killguard_stop(ip->guard);
	free(ip);
	return NULL;
}

void cld_ipc_loop_ran(struct cld_ipc *ip, uint64_t now)
{
	if (!ip || !ip->guard)
		return;
	cld_killguard_ran(ip->guard, now);
	int32_t pid;
	uint64_t late_ms, n = cld_killguard_take_news(ip->guard, &pid, &late_ms);
	if (n)
		qb_log(LOG_WARNING, "the daemon's loop was stuck past a revoke deadline (a hung "
		       "corosync?): the kill guard killed %" PRIu64 " client(s) still holding a revoked "
		       "lease, the last pid %d, %" PRIu64 " ms after its deadline", n, (int)pid, late_ms);
}
