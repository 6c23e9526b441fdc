/*
 * cl-brk.c - hostile local client of coroleased's socket (breaker tests t8N).
 * Standalone: only corolease/ipc.h.  Build:
 *   gcc -O1 -g -Wall -I include -DCOROLEASE_IPC_PEER $(pkg-config --cflags libqb) \
 *       tests/integration/cl-brk.c -o /tmp/brk/cl-brk
 *
 * Modes (socket: $COROLEASE_RUN_DIR or /run/corolease, then corolease.sock):
 *   linger SECS [WHEN]   pass (SCM_RIGHTS) a TCP socket with unsent data and
 *                        SO_LINGER=SECS to the daemon, then drop our copy.
 *                        WHEN: "read" (default: the daemon reads and drops it),
 *                        "close" (we close the connection with it unread) or
 *                        "unread" (an empty packet before it: the daemon
 *                        disconnects us and closes the socket it never read).
 *   warnflood SECS       connect, HELLO, 16 malformed requests (disconnect
 *                        with a WARNING line), again, for SECS; prints cycles
 *   sizes                0, 1, 8, 16 bytes, CLP_MAX_MSG, CLP_MAX_MSG+1 packets
 *   fdpass N             N packets each carrying 250 fds (SCM_RIGHTS)
 *   fdflood N            pass N fds in all, 253 a packet, one packet a
 *                        connection (the daemon disconnects at the first),
 *                        connecting again each time (dups of /dev/null,
 *                        closed here after the send); prints how many went
 *                        and on how many connections
 *   hold N               N HELLO'd connections, held until SIGTERM
 *   burst N              N connections at once: each connects and sends its
 *                        HELLO before any answer is read, then the answers
 *                        (5 s each); prints how many were made, refused
 *                        (with the errors) and unanswered, and the time
 *   spin SECS            one connection sending STATUS back to back (reading answers)
 *   noread N SECS        N connections, each sends STATUS requests for SECS, never reads
 *   mspin N SECS         N connections, each with BRK_DEPTH (default 32) STATUS
 *                        requests outstanding (reading the answers) for SECS;
 *                        BRK_REQ=sync: SYNC requests instead (each one a
 *                        cluster message), BRK_REQ=show:NAME: SHOW NAME;
 *                        prints the answers counted
 *   passconn             connect+HELLO, then pass the socket over stdin (a unix socket) -- unused
 *   useconn FD           use an inherited connected fd: STATUS, print result
 *   stall                send one STATUS, read nothing, keep socket open forever
 *   putflood CONNS SECS BYTES
 *                        CONNS connections, each holding its own name EX and
 *                        keeping BRK_DEPTH (default 1000) INDEX_PUTs of BYTES
 *                        bytes outstanding for SECS (reading the answers)
 *   overlimit sync|acquire N
 *                        one connection: N SYNCs back to back, then reads
 *                        every answer (or N ACQUIREs of distinct names, one
 *                        at a time); counts the answers by error
 *   killlog K            connect, fork, the parent exits (the daemon's pidfd of
 *                        the connection names a gone process); the child holds
 *                        K names there and WAITs for them on a second
 *                        connection, never releasing (kill_on_revoke)
 *   rtt N GAP_MS [NAME]  one connection, N STATUS round trips GAP_MS apart (with
 *                        BRK_REQ=sync: SYNC, a cluster message each; with
 *                        NAME: OWNER NAME, a lookup that costs the daemon
 *                        next to nothing, so the time is the wait for its loop)
 *   listflood CONNS SECS PREFIX
 *                        CONNS connections, each kept with BRK_DEPTH (default
 *                        50) LIST PREFIX requests outstanding (reading the
 *                        answers) for SECS; a connection told busy (-EAGAIN)
 *                        sends nothing more for BRK_BUSY_MS (default 20) ms;
 *                        prints "ready" once connected, then how many LISTs
 *                        were answered and how
 *   nest SECS            stall the daemon's closing thread without a race: a
 *                        TCP socket lingering SECS s, in flight inside a
 *                        socket pair's end that is passed in a packet the
 *                        daemon reads (pass_nested()); then holds
 *   cycle N [BYTES]      N connect()+close(), sending a packet of BYTES first
 *                        (to BRK_SOCK in the run directory, if set)
 *   persist SECS N       nest, with the lingering socket's peer kept alive by
 *                        its listener passed behind it (m_persist()); N
 *                        cycles of a byte; then exits
 *   embryo SECS          connect without HELLO, pass a nested lingering socket
 *   splice               pass a pipe's read end whose mutex a thread of ours
 *                        holds in splice(): the daemon's close() of it waits,
 *                        no signal ends it, as long as we live
 *   emdrop N SECS        connection X; nest; N cycles of 1 byte; then a
 *                        nested lingering socket passed on X; then holds
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corolease/ipc.h"

static uint8_t buf[2 * CLP_MAX_MSG];

static uint64_t ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int sconnect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *dir = getenv("COROLEASE_RUN_DIR");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", dir && dir[0] == '/' ? dir : CLP_DEFAULT_RUN_DIR,
		 CLP_SOCKET_FILE);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0)
		return -1;
	int sb = 1 << 20;   /* capped by wmem_max for non-root */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static ssize_t rd(int fd, int tmo)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, tmo) <= 0)
		return -ETIMEDOUT;
	ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	return r < 0 ? -errno : r;
}

static int hello_tmo = 5000;
/* Sends a HELLO: 0 or -1. */
static int hello_send(int fd)
{
	struct clp_req_hello h;
	memset(&h, 0, sizeof(h));
	h.b.hdr.id = CLP_REQ_HELLO;
	h.b.hdr.size = sizeof(h);
	h.b.cookie = 1;
	h.version = CLP_VERSION;
	return send(fd, &h, sizeof(h), MSG_NOSIGNAL) == sizeof(h) ? 0 : -1;
}

static int hello(int fd)
{
	if (hello_send(fd) < 0)
		return -1;
	ssize_t r = rd(fd, hello_tmo);
	if (r < (ssize_t)sizeof(struct clp_ev_result))
		return r == 0 ? -2 : -1;
	struct clp_ev_result *res = (void *)buf;
	return res->err;
}

/* With BRK_GO: prints "ready" and waits for that file (the test's go). */
static void wait_go(void)
{
	const char *go = getenv("BRK_GO");
	if (!go)
		return;
	printf("ready\n");
	fflush(stdout);
	while (access(go, F_OK) != 0)
		usleep(10000);
}

/* A connection that said HELLO, or -1 (said on stderr). */
static int connected(void)
{
	int fd = sconnect();
	if (fd < 0 || hello(fd) != 0) {
		perror("connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void status_req(struct clp_req_base *s, uint64_t cookie)
{
	memset(s, 0, sizeof(*s));
	s->hdr.id = CLP_REQ_STATUS;
	s->hdr.size = sizeof(*s);
	s->cookie = cookie;
}

static int send_fds(int fd, const void *data, size_t len, const int *fds, int n)
{
	struct iovec iov = { (void *)data, len };
	char cbuf[CMSG_SPACE(253 * sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (!cm)
		return -EINVAL;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* A TCP socket whose send queue cannot drain: connected to a listener of ours
 * that never accepts/reads, with tiny buffers, filled until EAGAIN. */
static int stuck_tcp_listener(int linger_s, int *l_r)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int small = 4096;
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
		perror("tcp listen");
		return -1;
	}
	socklen_t al = sizeof(a);
	getsockname(l, (struct sockaddr *)&a, &al);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(t, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (connect(t, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("tcp connect");
		return -1;
	}
	fcntl(t, F_SETFL, O_NONBLOCK);
	static char junk[65536];
	size_t sent = 0;
	for (int i = 0; i < 10000; i++) {
		ssize_t r = send(t, junk, sizeof(junk), MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EAGAIN) {
				usleep(20000);
				if (send(t, junk, sizeof(junk), MSG_NOSIGNAL) < 0 && errno == EAGAIN)
					break;
				continue;
			}
			perror("tcp send");
			break;
		}
		sent += (size_t)r;
	}
	struct linger lg = { 1, linger_s };
	setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	fcntl(t, F_SETFL, 0);   /* linger applies to blocking close semantics */
	fprintf(stderr, "tcp socket: %zu bytes queued, linger %d s (listener kept open, never accepts)\n", sent,
		linger_s);
	/* the listener stays open: the peer end lives in its accept queue */
	*l_r = l;
	return t;
}

/* The same, the listener kept open in this process. */
static int stuck_tcp(int linger_s)
{
	int l;
	return stuck_tcp_listener(linger_s, &l);
}

/*
 * BRK_NEST (1 to 253, default 1): how many lingering sockets linger and
 * nest pass in their one packet, t[0] given, the rest made here (the
 * daemon's closing thread interrupts a close() that waits a second: n of
 * them keep it blocked about n seconds).
 */
static int stuck_tcps(int linger_s, int t[253])
{
	int n = getenv("BRK_NEST") ? atoi(getenv("BRK_NEST")) : 1;
	n = n < 1 ? 1 : n > 253 ? 253 : n;
	for (int i = 1; i < n; i++)
		if ((t[i] = stuck_tcp(linger_s)) < 0)
			return i;
	return n;
}

static int m_linger(int secs, const char *when)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	int t = stuck_tcp(secs);
	if (t < 0)
		return 1;
	wait_go();
	/*
	 * The daemon must drop the last reference: we close ours right after
	 * sending.  If the daemon was quicker, our close() is the last and we
	 * linger instead -- so each try runs in a child (BRK_TRIES of them).
	 */
	int rc = 0;
	int tries = getenv("BRK_TRIES") ? atoi(getenv("BRK_TRIES")) : 1;
	for (int k = 0; k < tries; k++) {
		int ts[253];
		ts[0] = k ? stuck_tcp(secs) : t;
		int nt = stuck_tcps(secs, ts);
		pid_t ch = fork();
		if (ch == 0) {
			struct clp_req_base s;
			/* keep the daemon busy for a few ms so that our close() comes first */
			int pre = getenv("BRK_PRELOAD") ? atoi(getenv("BRK_PRELOAD")) : 300;
			if (!strcmp(when, "unread")) {
				/* an empty packet first: the daemon takes it for our close and
				   never reads the next (nor receives the socket in it) */
				send(fd, "", 0, MSG_NOSIGNAL);
				pre = 0;
			}
			for (int q = 0; q < pre; q++) {
				status_req(&s, 100 + (uint64_t)q);
				send(fd, &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT);
			}
			status_req(&s, 7);
			rc = send_fds(fd, &s, sizeof(s), ts, nt);
			uint64_t c0 = ms();
			for (int i = 0; i < nt; i++)
				close(ts[i]);
			printf("try %d: passed %d (rc %d), our close took %llu ms\n", k, nt, rc,
			       (unsigned long long)(ms() - c0));
			_exit(0);
		}
		for (int i = 0; i < nt; i++)
			close(ts[i]);   /* the parent's copies: not the last (the child's, in flight) */
		usleep(200000);
	}
	printf("passed at %llu ms (rc %d)\n", (unsigned long long)ms(), rc);
	if (!strcmp(when, "close")) {
		close(fd);
		printf("closed our connection with the packet unread (daemon closes it)\n");
	} else if (!strcmp(when, "unread")) {
		printf("sent an empty packet, then the socket: the daemon closes the connection unread\n");
	} else {
		uint64_t t0 = ms();
		for (;;) {
			ssize_t r = rd(fd, (secs * tries + 10) * 1000);
			if (r < (ssize_t)sizeof(struct clp_ev_result)) {
				printf("read: %zd\n", r);
				break;
			}
			if (((struct clp_ev_result *)buf)->b.cookie == 7) {
				printf("answer to the fd packet %llu ms after passing\n",
				       (unsigned long long)(ms() - t0));
				break;
			}
		}
	}
	fflush(stdout);
	pause();   /* keep the listener alive */
	return 0;
}

/*
 * Puts each of fds[0..n) in flight inside a socket pair's end of its own
 * (then its only reference: ours are closed); those ends in b.  0, or -1.
 */
static int nest_each(const int *fds, int n, int *b)
{
	char c = 'x';
	for (int i = 0; i < n; i++) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) < 0 || send_fds(sp[0], &c, 1, &fds[i], 1) < 0)
			return -1;
		close(fds[i]);
		close(sp[0]);
		b[i] = sp[1];
	}
	return 0;
}

/* Puts fds[0..n) in flight together inside one pair's end, returned (or -1); ours closed. */
static int nest_all(const int *fds, int n)
{
	char c = 'x';
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) < 0 || send_fds(sp[0], &c, 1, fds, n) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(sp[0]);
	return sp[1];
}

/*
 * On connection fd: BRK_PRELOAD (default 300) STATUS requests, then a
 * STATUS passing fds[0..n), ours closed right after; the send's result,
 * with how many requests went first and how long our closes took.
 */
static int send_behind(int fd, const int *fds, int n, int *pre_r, uint64_t *took_r)
{
	int pre = getenv("BRK_PRELOAD") ? atoi(getenv("BRK_PRELOAD")) : 300;
	struct clp_req_base s;
	for (int q = 0; q < pre; q++) {
		status_req(&s, 100 + (uint64_t)q);
		send(fd, &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	status_req(&s, 7);
	int rc = send_fds(fd, &s, sizeof(s), fds, n);
	uint64_t c0 = ms();
	for (int i = 0; i < n; i++)
		close(fds[i]);
	*pre_r = pre;
	*took_r = ms() - c0;
	return rc;
}

/*
 * The child that passed and closed: 0 once it exits, or -1 when it still
 * runs after 3 s (its close was the last one, and blocks: killed).
 */
static int wait_passer(pid_t ch)
{
	uint64_t t0 = ms();
	int st = 0;
	while (waitpid(ch, &st, WNOHANG) == 0) {
		if (ms() - t0 > 3000) {
			printf("LOST: our close of the pair's end was the last one (it blocks)\n");
			kill(ch, SIGKILL);
			waitpid(ch, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	return 0;
}

/*
 * nest: a stall of the daemon's closing thread that does not race.  A TCP
 * socket T lingering on unsent data goes in flight inside one end B of a
 * socket pair (the only reference to T), and B is passed to the daemon in
 * an ordinary packet behind BRK_PRELOAD (default 300) requests, which the
 * daemon reads: it resets B at close (SO_LINGER 0), but closing B drops T,
 * which lingers.  The send and our close of B run in a child; if that
 * close is the last (the daemon was quicker) it blocks, and the try is
 * reported lost.  With wait_drop, waits for the daemon to end fd.  With
 * BRK_GO, prints "ready" and waits for that file first (the test stops the
 * daemon meanwhile, and BRK_PRELOAD=0 then: our close comes first).
 */
static int pass_nested(int fd, int secs, bool wait_drop)
{
	int t[253];
	if ((t[0] = stuck_tcp(secs)) < 0)
		return -1;
	int nt = stuck_tcps(secs, t);
	wait_go();
	pid_t ch = fork();
	if (ch == 0) {
		int b[253], pre;
		uint64_t took;
		if (nest_each(t, nt, b) < 0)
			_exit(3);
		int rc = send_behind(fd, b, nt, &pre, &took);
		printf("passed %d nested lingering socket(s) (rc %d) behind %d requests; our close took %llu ms\n",
		       nt, rc, pre, (unsigned long long)took);
		_exit(rc < 0 ? 4 : 0);
	}
	for (int i = 0; i < nt; i++)
		close(t[i]);
	if (wait_passer(ch) < 0)
		return -1;
	if (wait_drop) {
		ssize_t r;
		while ((r = rd(fd, 5000)) > 0)
			;
		printf("the daemon ended the connection (%zd)\n", r);
	}
	return 0;
}

static int m_nest(int secs)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	if (pass_nested(fd, secs, true) < 0)
		return 1;
	close(fd);
	printf("holding\n");
	fflush(stdout);
	pause();   /* keep T's listener alive */
	return 0;
}

/*
 * cycle: n connect()s, each closed at once (after a packet of `bytes` bytes
 * when bytes > 0), none longer than 3 s; stops after 5 failures.
 */
static long cycle(long n, long bytes)
{
	long ok = 0, fail = 0;
	uint64_t t0 = ms();
	static uint8_t junk[64];
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		const char *dir = getenv("COROLEASE_RUN_DIR");
		snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s",
			 dir && dir[0] == '/' ? dir : CLP_DEFAULT_RUN_DIR,
			 getenv("BRK_SOCK") ? getenv("BRK_SOCK") : CLP_SOCKET_FILE);
		struct timeval tv = { 3, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			if (++fail >= 5) {
				printf("cycle: connect failed (%s) after %ld\n", strerror(e), ok);
				break;
			}
			continue;
		}
		if (bytes > 0)
			send(fd, junk, (size_t)(bytes < 64 ? bytes : 64), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		ok++;
	}
	printf("cycle: %ld connect+close in %llu ms (%ld failures)\n", ok,
	       (unsigned long long)(ms() - t0), fail);
	fflush(stdout);
	return ok;
}

/*
 * emdrop: a connection X, HELLO'd; a nested stall of the closing thread
 * (pass_nested()); n connect+close cycles (each a socket for the stalled
 * thread to close); then a nested lingering socket passed on X.  Where the
 * daemon read X with no descriptor free, the kernel would drop that socket
 * in the loop's own recvmsg(), and the loop would linger.
 */
static int m_emdrop(long n, int secs)
{
	int x = connected();
	if (x < 0)
		return 1;
	int fd = connected();
	if (fd < 0)
		return 1;
	if (pass_nested(fd, secs, true) < 0)
		return 1;
	close(fd);
	usleep(300000);
	cycle(n, 1);
	usleep(500000);
	if (pass_nested(x, secs, false) < 0)
		return 1;
	printf("emdrop: passed on X\nholding\n");
	fflush(stdout);
	pause();
	return 0;
}

/*
 * persist SECS N: a stall of the closing thread that outlives us.  Like
 * nest (BRK_NEST lingering sockets, each in a pair's end B of its own), but
 * the listeners of their peers go in flight too, inside a last pair's end D
 * passed in the same packet right after the Bs:
 * while the thread is blocked closing B, D waits behind it and keeps the
 * peer alive (a zero window), so nothing of ours has to live on.  Then N
 * connect+close cycles of a byte each, and we exit.
 */
static int m_persist(int secs, long n)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	int k = getenv("BRK_NEST") ? atoi(getenv("BRK_NEST")) : 1;
	k = k < 1 ? 1 : k > 252 ? 252 : k;
	int t[252], l[252];
	for (int i = 0; i < k; i++)
		if ((t[i] = stuck_tcp_listener(secs, &l[i])) < 0)
			return 1;
	wait_go();
	pid_t ch = fork();
	if (ch == 0) {
		int b[253], pre;
		uint64_t took;
		if (nest_each(t, k, b) < 0 || (b[k] = nest_all(l, k)) < 0)
			_exit(3);
		int rc = send_behind(fd, b, k + 1, &pre, &took);
		printf("persist: passed %d B (a lingering socket inside each) and D (their peers' listeners "
		       "inside) (rc %d) behind %d requests; our close took %llu ms\n", k, rc, pre,
		       (unsigned long long)took);
		_exit(rc < 0 ? 4 : 0);
	}
	for (int i = 0; i < k; i++) {
		close(t[i]);
		close(l[i]);
	}
	if (wait_passer(ch) < 0)
		return 1;
	ssize_t r;
	while ((r = rd(fd, 5000)) > 0)
		;
	printf("the daemon ended the connection (%zd)\n", r);
	close(fd);
	usleep(300000);
	if (n > 0)
		cycle(n, 1);
	printf("persist: exiting\n");
	return 0;
}

/*
 * embryo SECS: connects without HELLO (the daemon may not accept us yet)
 * and passes a pair's end B holding a socket lingering SECS s; holds.
 */
static int m_embryo(int secs)
{
	int fd = sconnect();
	if (fd < 0) {
		perror("connect");
		return 1;
	}
	int l;
	int t = stuck_tcp_listener(secs, &l);
	if (t < 0)
		return 1;
	int b;
	if (nest_each(&t, 1, &b) < 0)
		return 3;
	struct clp_req_base s;
	status_req(&s, 7);
	int rc = send_fds(fd, &s, sizeof(s), &b, 1);
	close(b);
	printf("embryo: passed B (rc %d) on a connection not accepted yet\nholding\n", rc);
	fflush(stdout);
	pause();
	return 0;
}

/*
 * splice: a close() no signal ends.  A thread of ours blocks in splice()
 * from an empty socket into a pipe, holding the pipe's mutex; we pass the
 * pipe's read end to the daemon and close our copy, so the daemon's is the
 * last: its close() waits in pipe_release() for that mutex, uninterruptibly,
 * as long as we live.  Then holds.
 */
static int splice_sp[2], splice_pp[2];

static void *splice_thread(void *arg)
{
	(void)arg;
	ssize_t r = splice(splice_sp[0], NULL, splice_pp[1], NULL, 4096, 0);
	fprintf(stderr, "splice returned %zd\n", r);
	return NULL;
}

static int m_splice(void)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	pthread_t th;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, splice_sp) < 0 || pipe(splice_pp) < 0 ||
	    pthread_create(&th, NULL, splice_thread, NULL) != 0) {
		perror("splice set-up");
		return 1;
	}
	usleep(200000);   /* the thread is in splice(), the pipe's mutex held */
	wait_go();        /* the test stops the daemon meanwhile: our close must come first */
	struct clp_req_base s;
	status_req(&s, 7);
	int rc = send_fds(fd, &s, sizeof(s), &splice_pp[0], 1);
	close(splice_pp[0]);
	printf("splice: passed the pipe's read end (rc %d); a thread of ours holds its mutex\n", rc);
	ssize_t r;
	while ((r = rd(fd, 5000)) > 0)
		;
	printf("the daemon ended the connection (%zd)\nholding\n", r);
	fflush(stdout);
	pause();
	return 0;
}

static int m_warnflood(int secs)
{
	uint64_t end = ms() + (uint64_t)secs * 1000;
	long cycles = 0, fails = 0;
	uint8_t bad[8] = { 0 };
	while (ms() < end) {
		int fd = sconnect();
		if (fd < 0) {
			fails++;
			usleep(1000);
			continue;
		}
		if (hello(fd) != 0) {
			fails++;
			close(fd);
			continue;
		}
		for (int i = 0; i < 16; i++)
			send(fd, bad, sizeof(bad), MSG_NOSIGNAL | MSG_DONTWAIT);
		/* wait for the daemon to hang up */
		for (int i = 0; i < 40; i++) {
			ssize_t r = rd(fd, 1000);
			if (r == 0 || r == -ECONNRESET || r == -ETIMEDOUT)
				break;
		}
		close(fd);
		cycles++;
	}
	printf("cycles %ld fails %ld\n", cycles, fails);
	return 0;
}

static int m_sizes(void)
{
	size_t sizes[] = { 0, 1, 8, 16, sizeof(struct clp_req_base), CLP_MAX_MSG, CLP_MAX_MSG + 1, 300000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fd = sconnect();
		if (fd < 0) {
			perror("connect");
			return 1;
		}
		int hr = hello(fd);
		memset(buf, 0, sizes[i]);
		if (sizes[i] >= sizeof(struct qb_ipc_request_header)) {
			struct qb_ipc_request_header *h = (void *)buf;
			h->id = CLP_REQ_STATUS;
			h->size = (int32_t)sizes[i];
		}
		ssize_t s = send(fd, buf, sizes[i], MSG_NOSIGNAL);
		int se = errno;
		ssize_t r = rd(fd, 2000);
		int err = r >= (ssize_t)sizeof(struct clp_ev_result) ? ((struct clp_ev_result *)buf)->err : 0;
		printf("size %zu: hello %d, send %zd (%s), answer %zd err %d\n", sizes[i], hr, s,
		       s < 0 ? strerror(se) : "ok", r, err);
		close(fd);
	}
	return 0;
}

static int m_fdflood(long n)
{
	int fds[253], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		perror("/dev/null");
		return 1;
	}
	long sent = 0, conns = 0;
	struct clp_req_base s;
	while (sent < n) {
		int fd = sconnect();
		if (fd < 0 || hello(fd) != 0) {
			printf("connect/HELLO failed after %ld fds on %ld connections\n", sent, conns);
			if (fd >= 0)
				close(fd);
			break;
		}
		conns++;
		int k = n - sent < 253 ? (int)(n - sent) : 253;
		for (int i = 0; i < k; i++)
			fds[i] = dup(null);
		status_req(&s, 2);
		int rc = send_fds(fd, &s, sizeof(s), fds, k);
		for (int i = 0; i < k; i++)
			close(fds[i]);
		if (rc < 0) {
			printf("send: %s after %ld fds\n", strerror(-rc), sent);
			close(fd);
			break;
		}
		sent += k;
		while (rd(fd, 2000) > 0)   /* until the daemon disconnects (or 2 s pass) */
			;
		close(fd);
	}
	printf("passed %ld fds on %ld connections\n", sent, conns);
	return 0;
}

static int m_fdpass(long n)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	int fds[250];
	int p[2];
	for (int i = 0; i < 250; i += 2) {
		if (pipe(p) < 0) {
			perror("pipe");
			return 1;
		}
		fds[i] = p[0];
		fds[i + 1] = p[1];
	}
	struct clp_req_base s;
	long ok = 0, answered = 0;
	for (long k = 0; k < n; k++) {
		status_req(&s, (uint64_t)k + 2);
		int rc = send_fds(fd, &s, sizeof(s), fds, 250);
		if (rc < 0) {
			printf("send %ld: %s\n", k, strerror(-rc));
			break;
		}
		ok++;
		while (rd(fd, 0) > 0)
			answered++;
	}
	while (rd(fd, 500) > 0)
		answered++;
	printf("sent %ld packets with 250 fds each, %ld answers\n", ok, answered);
	fflush(stdout);
	if (getenv("BRK_HOLD"))
		pause();
	return 0;
}

static int m_hold(long n)
{
	long k = 0;
	for (; k < n; k++) {
		int fd = sconnect();
		if (fd < 0) {
			printf("connect %ld: %s\n", k, strerror(errno));
			break;
		}
		int h = hello(fd);
		if (h != 0) {
			printf("hello %ld: %d\n", k, h);
			close(fd);
			break;
		}
	}
	printf("held %ld\n", k);
	fflush(stdout);
	pause();
	return 0;
}

static int m_burst(long n)
{
	int *fds = calloc((size_t)n, sizeof(int));
	long made = 0, refused = 0, eagain = 0, unanswered = 0, noconn = 0;
	uint64_t t0 = ms();
	for (long k = 0; k < n; k++) {
		fds[k] = sconnect();
		if (fds[k] >= 0 && hello_send(fds[k]) < 0) {
			close(fds[k]);
			fds[k] = -1;
		}
		noconn += fds[k] < 0;
	}
	for (long k = 0; k < n; k++) {
		if (fds[k] < 0)
			continue;
		ssize_t r = rd(fds[k], 5000);
		if (r < (ssize_t)sizeof(struct clp_ev_result)) {
			unanswered++;
			continue;
		}
		int err = ((struct clp_ev_result *)buf)->err;
		made += err == 0;
		refused += err != 0;
		eagain += err == -EAGAIN;
	}
	printf("burst %ld: made %ld refused %ld (EAGAIN %ld) unanswered %ld not connected %ld in %llu ms\n",
	       n, made, refused, eagain, unanswered, noconn, (unsigned long long)(ms() - t0));
	fflush(stdout);
	for (long k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	free(fds);
	return 0;
}

static int m_spin(int secs)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	uint64_t end = ms() + (uint64_t)secs * 1000;
	long sent = 0, got = 0;
	struct clp_req_base s;
	while (ms() < end) {
		status_req(&s, (uint64_t)sent + 2);
		if (send(fd, &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(s))
			sent++;
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
		if (sent - got > 500) {
			struct pollfd p = { fd, POLLIN, 0 };
			poll(&p, 1, 100);
		}
	}
	printf("spin: sent %ld got %ld\n", sent, got);
	return 0;
}

static int m_noread(long n, int secs)
{
	int *fds = calloc((size_t)n, sizeof(int));
	long k = 0;
	for (; k < n; k++) {
		fds[k] = sconnect();
		if (fds[k] < 0 || hello(fds[k]) != 0)
			break;
	}
	printf("connections %ld\n", k);
	fflush(stdout);
	struct clp_req_base s;
	uint64_t end = ms() + (uint64_t)secs * 1000;
	long sent = 0;
	while (ms() < end) {
		int any = 0;
		for (long i = 0; i < k; i++) {
			if (fds[i] < 0)
				continue;
			status_req(&s, 2);
			ssize_t r = send(fds[i], &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0) {
				sent++;
				any = 1;
			} else if (errno != EAGAIN) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (!any)
			usleep(20000);
	}
	long alive = 0;
	for (long i = 0; i < k; i++)
		alive += fds[i] >= 0;
	printf("sent %ld requests; %ld connections alive\n", sent, alive);
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}

static int m_useconn(int fd)
{
	struct clp_req_base s;
	status_req(&s, 99);
	ssize_t w = send(fd, &s, sizeof(s), MSG_NOSIGNAL);
	ssize_t r = rd(fd, 3000);
	int err = r >= (ssize_t)sizeof(struct clp_ev_result) ? ((struct clp_ev_result *)buf)->err : -999;
	printf("uid %d: send %zd, STATUS answer %zd bytes err %d\n", (int)getuid(), w, r, err);
	return 0;
}

static int m_stall(void)
{
	int fd = connected();
	if (fd < 0)
		return 1;
	printf("stalled connection open\n");
	fflush(stdout);
	pause();
	return 0;
}


/*
 * pin N NAME KEY: N times: connect, HELLO, send INDEX_GET NAME KEY without
 * reading until the daemon hangs up (its queue passed CLD_OUTQ_MAX or the
 * uid's cap), then keep the dead socket open with everything the daemon's
 * socket (SO_SNDBUFFORCE) put in our receive queue.  Prints the bytes pinned.
 */
static int m_pin(long n, const char *name, const char *key)
{
	size_t nl = strlen(name), kl = strlen(key);
	struct clp_req_index *q = (void *)buf;
	static uint8_t req[4096];
	memset(req, 0, sizeof(req));
	q = (void *)req;
	q->b.hdr.id = CLP_REQ_INDEX_GET;
	q->b.hdr.size = (int32_t)(sizeof(*q) + nl + kl);
	q->namelen = (uint16_t)nl;
	q->keylen = (uint8_t)kl;
	memcpy(req + sizeof(*q), name, nl);
	memcpy(req + sizeof(*q) + nl, key, kl);
	size_t qlen = sizeof(*q) + nl + kl;
	long k = 0, hung = 0;
	unsigned long long pinned = 0;
	uint64_t t0 = ms();
	for (; k < n; k++) {
		int fd = sconnect();
		if (fd < 0) {
			printf("connect %ld: %s\n", k, strerror(errno));
			break;
		}
		if (hello(fd) != 0) {
			printf("hello %ld failed\n", k);
			close(fd);
			break;
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		uint64_t end = ms() + 20000;
		for (;;) {
			ssize_t r = send(fd, req, qlen, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN) {
				hung++;
				break;
			}
			if (r < 0) {
				struct pollfd p = { fd, POLLOUT, 0 };
				poll(&p, 1, 50);
				if (p.revents & (POLLHUP | POLLERR)) {
					hung++;
					break;
				}
			}
			if (ms() > end)
				break;
		}
		int inq = 0;
		ioctl(fd, FIONREAD, &inq);   /* first packet only for seqpacket; just a hint */
		pinned += 0;
		if (k % 100 == 0)
			printf("%ld connections pinned so far (%llu ms)\n", k, (unsigned long long)(ms() - t0));
	}
	printf("pinned %ld dead connections (%ld hung up by the daemon) in %llu ms\n", k, hung,
	       (unsigned long long)(ms() - t0));
	printf("ready\n");
	pause();
	return 0;
}

/* mspin CONNS SECS: CONNS connections, each kept with DEPTH STATUS requests outstanding (reading answers). */
static int m_mspin(long n, int secs)
{
	int depth = getenv("BRK_DEPTH") ? atoi(getenv("BRK_DEPTH")) : 32;
	int *fds = calloc((size_t)n, sizeof(int));
	long *out = calloc((size_t)n, sizeof(long));
	long k = 0;
	for (; k < n; k++) {
		fds[k] = sconnect();
		if (fds[k] < 0 || hello(fds[k]) != 0)
			break;
		fcntl(fds[k], F_SETFL, O_NONBLOCK);
	}
	printf("connections %ld\n", k);
	static uint8_t rqb[sizeof(struct clp_req_name) + 1024];
	struct clp_req_base *sb = (struct clp_req_base *)rqb;
	size_t slen = sizeof(*sb);
	status_req(sb, 5);
	const char *rq = getenv("BRK_REQ");
	if (rq && !strcmp(rq, "sync"))
		sb->hdr.id = CLP_REQ_SYNC;   /* an ordering barrier: one cluster message each */
	if (rq && !strncmp(rq, "show:", 5) && strlen(rq + 5) >= 1 && strlen(rq + 5) <= 1024) {
		struct clp_req_name *q = (struct clp_req_name *)rqb;
		size_t nl = strlen(rq + 5);
		memset(q, 0, sizeof(*q));
		q->b.hdr.id = CLP_REQ_SHOW;
		q->b.cookie = 5;
		q->namelen = (uint16_t)nl;
		memcpy(rqb + sizeof(*q), rq + 5, nl);
		slen = sizeof(*q) + nl;
		sb->hdr.size = (int32_t)slen;
	}
	uint64_t end = ms() + (uint64_t)secs * 1000;
	long sent = 0, got = 0;
	struct pollfd *pf = calloc((size_t)k, sizeof(*pf));
	while (ms() < end) {
		for (long i = 0; i < k; i++) {
			while (out[i] < depth && send(fds[i], rqb, slen, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
				out[i]++;
				sent++;
			}
			pf[i].fd = fds[i];
			pf[i].events = POLLIN;
		}
		poll(pf, (nfds_t)k, 100);
		for (long i = 0; i < k; i++)
			while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) > 0) {
				out[i]--;
				got++;
			}
	}
	printf("mspin: %ld connections, sent %ld, got %ld answers in %d s (%ld/s)\n", k, sent, got, secs,
	       got / (secs ? secs : 1));
	free(pf);
	free(out);
	free(fds);
	return 0;
}

/*
 * putflood CONNS SECS BYTES: CONNS connections, each takes its own name
 * brk-put-<pid>-<i> EX, then keeps BRK_DEPTH (default 1000) INDEX_PUTs of a
 * BYTES-byte value outstanding (reading the answers) for SECS; prints
 * "ready" once every name is held, then the answers counted by error
 */
static int m_putflood(long n, int secs, long bytes)
{
	int depth = getenv("BRK_DEPTH") ? atoi(getenv("BRK_DEPTH")) : 1000;
	int *fds = calloc((size_t)n, sizeof(int));
	long *out = calloc((size_t)n, sizeof(long));
	static uint8_t put[sizeof(struct clp_req_index) + 1024 + 255 + 65536];
	char nm[64];
	long k = 0;
	for (; k < n; k++) {
		fds[k] = sconnect();
		if (fds[k] < 0 || hello(fds[k]) != 0)
			break;
		int nl = snprintf(nm, sizeof(nm), "brk-put-%d-%ld", (int)getpid(), k);
		struct clp_req_acquire *a = (struct clp_req_acquire *)put;
		memset(a, 0, sizeof(*a));
		a->b.hdr.id = CLP_REQ_ACQUIRE;
		a->b.hdr.size = (int32_t)(sizeof(*a) + (size_t)nl);
		a->b.cookie = 2;
		a->mode = COROLEASE_EX;
		a->namelen = (uint16_t)nl;
		memcpy(put + sizeof(*a), nm, (size_t)nl);
		if (send(fds[k], put, sizeof(*a) + (size_t)nl, MSG_NOSIGNAL) < 0)
			break;
		/* GRANTED, or a RESULT carrying the refusal */
		ssize_t r = rd(fds[k], 10000);
		if (r < (ssize_t)sizeof(struct clp_ev_base) || ((struct clp_ev_base *)buf)->hdr.id != CLP_EV_GRANTED) {
			printf("acquire %s: %s\n", nm, r < 0 ? strerror((int)-r) : "not granted");
			break;
		}
		fcntl(fds[k], F_SETFL, O_NONBLOCK);
	}
	printf("ready %ld\n", k);
	uint64_t end = ms() + (uint64_t)secs * 1000;
	long sent = 0, got = 0, bad = 0;
	int lasterr = 0;
	struct pollfd *pf = calloc((size_t)(k ? k : 1), sizeof(*pf));
	while (ms() < end) {
		for (long i = 0; i < k; i++) {
			int nl = snprintf(nm, sizeof(nm), "brk-put-%d-%ld", (int)getpid(), i);
			struct clp_req_index *q = (struct clp_req_index *)put;
			memset(q, 0, sizeof(*q));
			q->b.hdr.id = CLP_REQ_INDEX_PUT;
			q->namelen = (uint16_t)nl;
			q->keylen = 1;
			q->vallen = (uint32_t)bytes;
			memcpy(put + sizeof(*q), nm, (size_t)nl);
			size_t len = sizeof(*q) + (size_t)nl;
			put[len++] = (uint8_t)('a' + (sent % 26));
			memset(put + len, 'v', (size_t)bytes);
			len += (size_t)bytes;
			q->b.hdr.size = (int32_t)len;
			while (out[i] < depth) {
				q->b.cookie = (uint64_t)++sent;
				if (send(fds[i], put, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
					sent--;
					break;
				}
				out[i]++;
			}
			pf[i].fd = fds[i];
			pf[i].events = POLLIN;
		}
		poll(pf, (nfds_t)k, 100);
		for (long i = 0; i < k; i++) {
			ssize_t r;
			while ((r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
				const struct clp_ev_result *res = (const void *)buf;
				if (res->b.hdr.id != CLP_EV_RESULT)
					continue;
				out[i]--;
				got++;
				if (res->err) {
					bad++;
					lasterr = res->err;
				}
			}
		}
	}
	printf("putflood: %ld connections, sent %ld, answered %ld (%ld refused, last error %d) in %d s\n", k,
	       sent, got, bad, lasterr, secs);
	for (long i = 0; i < k; i++)
		close(fds[i]);
	free(fds);
	free(out);
	free(pf);
	return 0;
}

/* Reads one event of fd and counts it (an answer: a RESULT or GRANTED); -1 when none came. */
static int classify(int fd, long *answered, long *eagain, long *edquot, long *granted, long *other)
{
	ssize_t r = rd(fd, 10000);
	if (r < (ssize_t)sizeof(struct clp_ev_base))
		return -1;
	const struct clp_ev_result *res = (const void *)buf;
	if (res->b.hdr.id == CLP_EV_GRANTED) {
		++*granted;
		++*answered;
	} else if (res->b.hdr.id == CLP_EV_RESULT) {
		++*answered;
		if (res->err == -EAGAIN)
			++*eagain;
		else if (res->err == -EDQUOT)
			++*edquot;
		else if (res->err)
			++*other;
	}
	return 0;
}

/*
 * overlimit sync|acquire N: one connection sends N SYNCs back to back
 * without reading, then reads every answer (or N ACQUIREs of distinct names
 * brk-ol-<pid>-<i>, each answered before the next); prints "overlimit: N sent, A answered, E EAGAIN,
 * Q EDQUOT, G granted, other O"
 */
static int m_overlimit(const char *what, long n)
{
	bool acq = !strcmp(what, "acquire");
	int fd = sconnect();
	if (fd < 0 || hello(fd) != 0) {
		printf("overlimit: cannot connect\n");
		return 1;
	}
	static uint8_t req[sizeof(struct clp_req_acquire) + 64];
	long sent = 0, answered = 0, eagain = 0, edquot = 0, granted = 0, other = 0;
	for (; sent < n; sent++) {
		size_t len;
		if (acq) {
			struct clp_req_acquire *a = (struct clp_req_acquire *)req;
			memset(a, 0, sizeof(*a));
			a->b.hdr.id = CLP_REQ_ACQUIRE;
			a->mode = COROLEASE_EX;
			int nl = snprintf((char *)req + sizeof(*a), 64, "brk-ol-%d-%ld", (int)getpid(), sent);
			a->namelen = (uint16_t)nl;
			len = sizeof(*a) + (size_t)nl;
		} else {
			status_req((struct clp_req_base *)req, 0);
			((struct clp_req_base *)req)->hdr.id = CLP_REQ_SYNC;
			len = sizeof(struct clp_req_base);
		}
		((struct clp_req_base *)req)->hdr.size = (int32_t)len;
		((struct clp_req_base *)req)->cookie = (uint64_t)sent + 10;
		if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
			break;
		/* acquires one at a time (each answered first), so only max_leases_per_client refuses them */
		while (acq && answered <= sent && classify(fd, &answered, &eagain, &edquot, &granted, &other) == 0)
			;
	}
	while (answered < sent && classify(fd, &answered, &eagain, &edquot, &granted, &other) == 0)
		;
	printf("overlimit: %ld sent, %ld answered, %ld EAGAIN, %ld EDQUOT, %ld granted, other %ld\n", sent,
	       answered, eagain, edquot, granted, other);
	close(fd);
	return 0;
}

/* Sends an ACQUIRE of name (EX, flags) on fd. */
static int send_acquire(int fd, const char *name, uint8_t flags, uint64_t cookie)
{
	static uint8_t req[sizeof(struct clp_req_acquire) + 128];
	struct clp_req_acquire *a = (struct clp_req_acquire *)req;
	size_t nl = strlen(name);
	memset(a, 0, sizeof(*a));
	a->b.hdr.id = CLP_REQ_ACQUIRE;
	a->b.hdr.size = (int32_t)(sizeof(*a) + nl);
	a->b.cookie = cookie;
	a->mode = COROLEASE_EX;
	a->flags = flags;
	a->namelen = (uint16_t)nl;
	memcpy(req + sizeof(*a), name, nl);
	return send(fd, req, sizeof(*a) + nl, MSG_NOSIGNAL) == (ssize_t)(sizeof(*a) + nl) ? 0 : -1;
}

/*
 * killlog K: for kill_on_revoke.  Connects and says HELLO, then forks and
 * the parent exits at once: the daemon's pidfd of this connection now names
 * a process that is gone.  The child keeps the connection, holds K names
 * on it, and WAITs for each of them on a second connection of its own uid
 * (the waiter that may have a holder of its uid revoked); it never
 * releases, so each hold is revoked after handover_timeout_ms and, past
 * revoke_timeout_ms, the daemon tries to kill its holder.  Prints
 * "killlog: K held, R revoked, G granted to the waiter" (the child's line).
 */
static int m_killlog(long k)
{
	int fd = sconnect();
	if (fd < 0 || hello(fd) != 0) {
		printf("killlog: cannot connect\n");
		return 1;
	}
	pid_t ch = fork();
	if (ch < 0)
		return 1;
	if (ch > 0)
		_exit(0);
	usleep(100000);   /* the parent is gone (and reaped by its own parent) */
	char nm[64];
	long held = 0, revoked = 0, granted = 0;
	for (long i = 0; i < k; i++) {
		snprintf(nm, sizeof(nm), "brk-kl-%d-%ld", (int)getpid(), i);
		if (send_acquire(fd, nm, 0, (uint64_t)i + 10) < 0)
			break;
		ssize_t r = rd(fd, 10000);
		if (r < (ssize_t)sizeof(struct clp_ev_base) || ((struct clp_ev_base *)buf)->hdr.id != CLP_EV_GRANTED)
			break;
		held++;
	}
	int fd2 = sconnect();
	if (fd2 < 0 || hello(fd2) != 0) {
		printf("killlog: cannot connect the waiter\n");
		return 1;
	}
	for (long i = 0; i < held; i++) {
		snprintf(nm, sizeof(nm), "brk-kl-%d-%ld", (int)getpid(), i);
		send_acquire(fd2, nm, COROLEASE_WAIT, (uint64_t)i + 10);
	}
	uint64_t end = ms() + 60000;
	while (granted < held && ms() < end) {
		struct pollfd pf[2] = { { fd, POLLIN, 0 }, { fd2, POLLIN, 0 } };
		if (poll(pf, 2, 1000) <= 0)
			continue;
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			revoked += ((struct clp_ev_base *)buf)->hdr.id == CLP_EV_REVOKED;
		while (recv(fd2, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			granted += ((struct clp_ev_base *)buf)->hdr.id == CLP_EV_GRANTED;
	}
	printf("killlog: %ld held, %ld revoked, %ld granted to the waiter\n", held, revoked, granted);
	close(fd2);
	close(fd);
	return 0;
}

/* rtt N GAP_MS [NAME]: one connection, N STATUS (or OWNER NAME) round trips GAP_MS apart: min/median/max ms. */
static int cmpu(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}
static int m_rtt(int n, int gap, const char *owner)
{
	static uint8_t req[sizeof(struct clp_req_name) + 1024];
	size_t qlen = sizeof(struct clp_req_base);
	const char *what = owner ? "OWNER" : "STATUS";
	if (owner) {
		size_t nl = strlen(owner);
		if (nl < 1 || nl > 1024)
			return 2;
		struct clp_req_name *m = (struct clp_req_name *)req;
		memset(m, 0, sizeof(*m));
		m->b.hdr.id = CLP_REQ_OWNER;
		m->namelen = (uint16_t)nl;
		memcpy(req + sizeof(*m), owner, nl);
		qlen = sizeof(*m) + nl;
	} else {
		status_req((struct clp_req_base *)req, 0);
		const char *rq = getenv("BRK_REQ");
		if (rq && !strcmp(rq, "sync")) {
			/* a cluster round trip: the barrier's message must come back */
			((struct clp_req_base *)req)->hdr.id = CLP_REQ_SYNC;
			what = "SYNC";
		}
	}
	((struct clp_req_base *)req)->hdr.size = (int32_t)qlen;
	uint64_t tc = ms();
	hello_tmo = 60000;
	int fd = sconnect();
	int hr = fd < 0 ? -3 : hello(fd);
	if (hr != 0) {
		printf("rtt: connect/hello failed after %llu ms (%s)\n", (unsigned long long)(ms() - tc),
		       hr == -2 ? "the daemon closed the connection" : hr == -1 ? "no answer" : "connect");
		return 1;
	}
	uint64_t tconn = ms() - tc;
	uint64_t *v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v));
	if (!v) {
		close(fd);
		return 1;
	}
	int k = 0;
	for (; k < n; k++) {
		((struct clp_req_base *)req)->cookie = (uint64_t)k + 10;
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		send(fd, req, qlen, MSG_NOSIGNAL);
		ssize_t r = rd(fd, 60000);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (r <= 0)
			break;
		v[k] = (uint64_t)(((int64_t)b.tv_sec - a.tv_sec) * 1000000 + ((int64_t)b.tv_nsec - a.tv_nsec) / 1000);
		usleep((useconds_t)gap * 1000);
	}
	qsort(v, (size_t)k, sizeof(*v), cmpu);
	if (k)
		printf("rtt: connect+hello %llu ms; %d %s: min %.2f median %.2f max %.2f ms\n",
		       (unsigned long long)tconn, k, what, v[0] / 1000.0, v[k / 2] / 1000.0,
		       v[k - 1] / 1000.0);
	if (k < n)
		printf("rtt: %d of %d %s unanswered\n", n - k, n, what);
	free(v);
	close(fd);
	return k == n ? 0 : 1;
}

/*
 * listflood CONNS SECS PREFIX: CONNS connections, each with BRK_DEPTH LIST
 * PREFIX requests outstanding, answers read, for SECS.  A LIST answered
 * with result 0 counts as listed, -EAGAIN (a list of the connection or of
 * the uid still under way) as busy; a connection told busy holds off for
 * BRK_BUSY_MS, as a client would, so the flood tests what the daemon does
 * with the LISTs it takes on, not how many refusals it can send (that is
 * mspin's business).
 */
static int m_listflood(long n, int secs, const char *prefix)
{
	int depth = getenv("BRK_DEPTH") ? atoi(getenv("BRK_DEPTH")) : 50;
	uint64_t busy_ms = getenv("BRK_BUSY_MS") ? (uint64_t)atol(getenv("BRK_BUSY_MS")) : 20;
	size_t plen = strlen(prefix);
	if (n <= 0 || depth <= 0 || plen > 1024)
		return 2;
	int *fds = calloc((size_t)n, sizeof(*fds));
	long *out = calloc((size_t)n, sizeof(*out));
	uint64_t *hold = calloc((size_t)n, sizeof(*hold));   /* told busy: no sends before */
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	static uint8_t req[sizeof(struct clp_req_name) + 1024 + 8];
	if (!fds || !out || !hold || !pf) {
		free(fds);
		free(out);
		free(hold);
		free(pf);
		return 1;
	}
	long k = 0;
	for (; k < n; k++) {
		fds[k] = sconnect();
		if (fds[k] < 0)
			break;
		if (hello(fds[k]) != 0) {
			close(fds[k]);
			break;
		}
		fcntl(fds[k], F_SETFL, O_NONBLOCK);
	}
	printf("connections %ld\n", k);
	printf("ready\n");
	struct clp_req_name *m = (struct clp_req_name *)req;
	memset(req, 0, sizeof(req));
	m->b.hdr.id = CLP_REQ_LIST;
	m->b.hdr.size = (int32_t)(sizeof(*m) + plen);
	m->b.cookie = 3;
	m->namelen = (uint16_t)plen;
	memcpy(req + sizeof(*m), prefix, plen);
	size_t qlen = sizeof(*m) + plen;
	uint64_t t0 = ms(), end = t0 + (uint64_t)secs * 1000;
	long sent = 0, listed = 0, busy = 0, other = 0, items = 0, lost = 0;
	while (ms() < end) {
		uint64_t now = ms();
		for (long i = 0; i < k; i++) {
			pf[i].fd = fds[i];
			pf[i].events = POLLIN;
			while (fds[i] >= 0 && out[i] < depth && now >= hold[i] &&
			       send(fds[i], req, qlen, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)qlen) {
				out[i]++;
				sent++;
			}
		}
		poll(pf, (nfds_t)k, busy_ms && busy_ms < 100 ? (int)busy_ms : 100);
		for (long i = 0; i < k; i++) {
			ssize_t r = -1;
			while (fds[i] >= 0 && (r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
				if (r < 0) {
					if (errno != EAGAIN && errno != EINTR) {
						close(fds[i]);
						fds[i] = -1;
						pf[i].fd = -1;
						lost++;
					}
					break;
				}
				const struct clp_ev_base *e = (const void *)buf;
				if (r >= (ssize_t)sizeof(struct clp_ev_items) && e->hdr.id == CLP_EV_ITEMS) {
					items += ((const struct clp_ev_items *)buf)->count;
				} else if (r >= (ssize_t)sizeof(struct clp_ev_result) &&
					   e->hdr.id == CLP_EV_RESULT) {
					int err = ((const struct clp_ev_result *)buf)->err;
					if (err == 0)
						listed++;
					else if (err == -EAGAIN) {
						busy++;
						hold[i] = ms() + busy_ms;
					}
					else
						other++;
					out[i]--;
				}
			}
			if (fds[i] >= 0 && r == 0) {
				close(fds[i]);
				fds[i] = -1;
				pf[i].fd = -1;
				lost++;
			}
		}
	}
	long alive = 0;
	for (long i = 0; i < k; i++)
		if (fds[i] >= 0) {
			alive++;
			close(fds[i]);
		}
	printf("lists sent %ld answered %ld: listed %ld busy %ld other %ld; items %ld; "
	       "%ld connections alive, %ld lost, in %llu ms\n", sent, listed + busy + other, listed,
	       busy, other, items, alive, lost, (unsigned long long)(ms() - t0));
	free(fds);
	free(out);
	free(hold);
	free(pf);
	return 0;
}

/* page SECS: sample the validity page (the one in the run dir) every 5 ms: time spent expired. */
#include <sys/mman.h>
#include <dirent.h>
static int m_page(int secs)
{
	const char *dir = getenv("COROLEASE_RUN_DIR");
	if (!dir || dir[0] != '/')
		dir = CLP_DEFAULT_RUN_DIR;
	DIR *dd = opendir(dir);
	struct dirent *de;
	char path[512] = "";
	while (dd && (de = readdir(dd)))
		if (!strncmp(de->d_name, CLP_SHM_PREFIX, strlen(CLP_SHM_PREFIX)))
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	if (dd)
		closedir(dd);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("page: cannot open '%s'\n", path);
		return 1;
	}
	const struct clp_shm_page *pg = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	/*
	 * The clock is read before the page: valid_until only grows while the
	 * node is valid, so "now >= valid_until" then means the validity had
	 * ended by "now", however long this reader was descheduled between the
	 * two reads, and now - valid_until is how long it had been over (a lower
	 * bound).  Read the other way round, a reader preempted for 900 ms after
	 * loading the page saw a lapse that the daemon's refreshes never left.
	 * valid_until 0 (node not valid at all) counts the time between samples.
	 */
	uint64_t end = ms() + (uint64_t)secs * 1000, bad_ms = 0, worst = 0, cur = 0, cur_vu = 0;
	uint64_t last = ms();
	while (ms() < end) {
		uint64_t now = clp_now_us();
		uint64_t t = ms();
		uint64_t vu = __atomic_load_n(&pg->valid_until, __ATOMIC_ACQUIRE);
		if (vu == 0 || now >= vu) {
			if (vu != cur_vu) { /* another stretch (cur_vu 0: none, or unset) */
				bad_ms += cur;
				cur = 0;
				cur_vu = vu;
			}
			cur = vu ? (now - vu) / 1000 : cur + (t - last);
			if (cur > worst)
				worst = cur;
		} else {
			bad_ms += cur;
			cur = 0;
			cur_vu = 0;
		}
		last = t;
		usleep(5000);
	}
	bad_ms += cur;
	printf("page: node validity expired for %llu ms of %d s, longest %llu ms\n", (unsigned long long)bad_ms,
	       secs, (unsigned long long)worst);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	if (!strcmp(m, "linger") && argc >= 3)
		return m_linger(atoi(argv[2]), argc > 3 ? argv[3] : "read");
	if (!strcmp(m, "warnflood") && argc >= 3)
		return m_warnflood(atoi(argv[2]));
	if (!strcmp(m, "sizes"))
		return m_sizes();
	if (!strcmp(m, "fdflood") && argc >= 3)
		return m_fdflood(atol(argv[2]));
	if (!strcmp(m, "fdpass") && argc >= 3)
		return m_fdpass(atol(argv[2]));
	if (!strcmp(m, "hold") && argc >= 3)
		return m_hold(atol(argv[2]));
	if (!strcmp(m, "burst") && argc >= 3)
		return m_burst(atol(argv[2]));
	if (!strcmp(m, "spin") && argc >= 3)
		return m_spin(atoi(argv[2]));
	if (!strcmp(m, "noread") && argc >= 4)
		return m_noread(atol(argv[2]), atoi(argv[3]));
	if (!strcmp(m, "useconn") && argc >= 3)
		return m_useconn(atoi(argv[2]));
	if (!strcmp(m, "pin") && argc >= 5)
		return m_pin(atol(argv[2]), argv[3], argv[4]);
	if (!strcmp(m, "mspin") && argc >= 4)
		return m_mspin(atol(argv[2]), atoi(argv[3]));
	if (!strcmp(m, "putflood") && argc >= 5)
		return m_putflood(atol(argv[2]), atoi(argv[3]), atol(argv[4]));
	if (!strcmp(m, "overlimit") && argc >= 4)
		return m_overlimit(argv[2], atol(argv[3]));
	if (!strcmp(m, "killlog") && argc >= 3)
		return m_killlog(atol(argv[2]));
	if (!strcmp(m, "rtt") && argc >= 4)
		return m_rtt(atoi(argv[2]), atoi(argv[3]), argc > 4 ? argv[4] : NULL);
	if (!strcmp(m, "listflood") && argc >= 5)
		return m_listflood(atol(argv[2]), atoi(argv[3]), argv[4]);
	if (!strcmp(m, "page") && argc >= 3)
		return m_page(atoi(argv[2]));
	if (!strcmp(m, "stall"))
		return m_stall();
	if (!strcmp(m, "nest") && argc >= 3)
		return m_nest(atoi(argv[2]));
	if (!strcmp(m, "cycle") && argc >= 3) {
		cycle(atol(argv[2]), argc > 3 ? atol(argv[3]) : 0);
		return 0;
	}
	if (!strcmp(m, "emdrop") && argc >= 4)
		return m_emdrop(atol(argv[2]), atoi(argv[3]));
	if (!strcmp(m, "persist") && argc >= 4)
		return m_persist(atoi(argv[2]), atol(argv[3]));
	if (!strcmp(m, "embryo") && argc >= 3)
		return m_embryo(atoi(argv[2]));
	if (!strcmp(m, "splice"))
		return m_splice();
	fprintf(stderr, "bad mode\n");
	return 2;
}
