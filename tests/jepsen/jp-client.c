/*
 * jp-client.c - the client of the black-box fault test (tests/jepsen/).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Uses libcorolease through include/corolease.h only.  Three modes:
 *
 *   jp-client now
 *       prints CLOCK_BOOTTIME in microseconds, the library's clock (the
 *       nemesis stamps its faults with it: every network namespace shares
 *       the host's clock).
 *
 *   jp-client run -N NODE -n NAME,NAME... -k KEY,KEY... [-s SEED] [-S SH_PCT]
 *       until SIGTERM: takes leases on the names (EX, sometimes SH, mostly
 *       with WAIT and a timeout), "writes" while holding them, puts index
 *       keys of names it holds EX, and makes sync reads of any name's keys.
 *       Survives the daemon going away: reconnects and carries on.
 *
 *   jp-client final -N NODE -n NAMES -k KEYS [-d SECS]
 *       after the faults: a sync read of every key of every name, retried
 *       while the node is not ready, for the checker's "nothing lost".
 *
 * History: one line per event on stdout, line-buffered (so a SIGKILL loses
 * nothing already logged), each "J ev=KIND n=NODE p=PID" followed by
 * key=value fields; times are CLOCK_BOOTTIME microseconds.  The checker
 * (jepsen-check.py) reads only lines starting with "J ".
 *
 *   ev=start   names= keys= seed=
 *   ev=req     id= op=connect|acquire|put|get t= [name= mode= wait= timeout= key= val= epoch=]
 *   ev=ans     id= op= t= res=OK|ERRNAME [epoch= owner= version= val= node=]
 *   ev=write   name= mode= epoch= tc0= v0= t0= t1= v1= tc1=
 *              tc0 is taken before the lease_valid() call whose result is
 *              v0, t0 after it; the write (a short sleep standing for I/O to
 *              shared storage) runs from t0 to t1; v1 is lease_valid()
 *              between t1 and tc1.  With v0=0 nothing is written (skip=1).
 *   ev=cb      kind=wanted|revoked|disconnected [name= epoch= by=] t=
 *   ev=release name= epoch= res= t=
 *   ev=lost    name= epoch= t=   (a held lease gone with the connection)
 *   ev=final   name= key= res= [val= version=] t=
 *   ev=end     t=
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>

#define MAX_NAMES 16
#define NAME_LEN  64

static char names[MAX_NAMES][NAME_LEN], keys[MAX_NAMES][NAME_LEN];
static unsigned n_names, n_keys;
static unsigned node_id;
static long my_pid;
static uint64_t req_seq, put_seq;
static uint64_t rng_state;
static unsigned sh_pct = 25;
static volatile sig_atomic_t stop;

static corolease_t *h;
static bool dead;

/* The lease this client holds or uses, and what its callbacks said. */
static corolease_lease_t *cur;
static bool cur_wanted, cur_revoked;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* uniform in [lo, hi] */
static unsigned rnd_in(unsigned lo, unsigned hi)
{
	return lo + (unsigned)(rnd() % (uint64_t)(hi - lo + 1u));
}

static bool chance(unsigned pct)
{
	return rnd() % 100u < pct;
}

__attribute__((format(printf, 2, 3)))
static void hist(const char *ev, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("J ev=%s n=%u p=%ld %s\n", ev, node_id, my_pid, buf);
}

static const char *modename(int mode)
{
	return mode == COROLEASE_SH ? "SH" : "EX";
}

static const char *res(int r)
{
	return r == 0 ? "OK" : corolease_errname(r);
}

/* A value as one token: our own values are [A-Za-z0-9], anything else in hex. */
static void token(const void *v, size_t len, char *out, size_t cap)
{
	const unsigned char *p = v;
	bool plain = len > 0;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			plain = false;
	if (plain && len < cap) {
		memcpy(out, p, len);
		out[len] = 0;
		return;
	}
	size_t o = (size_t)snprintf(out, cap, "x:");
	for (size_t i = 0; i < len && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
	if (!len)
		snprintf(out, cap, "x:");
}

/* Sleeps until an absolute CLOCK_BOOTTIME time, across signals. */
static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000u),
			       .tv_nsec = (long)(t % 1000000u) * 1000 };
	while (clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ------------------------------------------------------------------------ */
/* callbacks: they only note what happened; the loop acts on it */

static void on_wanted(corolease_t *hh, corolease_lease_t *lease, uint32_t by, void *udata)
{
	(void)hh;
	(void)udata;
	size_t nl;
	const char *nm = corolease_lease_name(lease, &nl);
	hist("cb", "kind=wanted name=%s epoch=%" PRIu64 " by=%" PRIu32 " t=%" PRIu64, nm,
	     corolease_lease_epoch(lease), by, now_us());
	if (lease == cur)
		cur_wanted = true;
}

static void on_revoked(corolease_t *hh, corolease_lease_t *lease, void *udata)
{
	(void)hh;
	(void)udata;
	size_t nl;
	const char *nm = corolease_lease_name(lease, &nl);
	hist("cb", "kind=revoked name=%s epoch=%" PRIu64 " t=%" PRIu64, nm,
	     corolease_lease_epoch(lease), now_us());
	if (lease == cur)
		cur_revoked = true;
}

static void on_disconnected(corolease_t *hh, void *udata)
{
	(void)hh;
	(void)udata;
	hist("cb", "kind=disconnected t=%" PRIu64, now_us());
	dead = true;
}

static const struct corolease_callbacks cbs = {
	.wanted = on_wanted,
	.revoked = on_revoked,
	.disconnected = on_disconnected,
};

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

/* ------------------------------------------------------------------------ */
/* connection */

static void note(int r)
{
	if (r == COROLEASE_EDISCONNECTED)
		dead = true;
}

/* Drops the connection's lease and handle after the daemon went away. */
static void drop_connection(void)
{
	if (cur) {
		size_t nl;
		hist("lost", "name=%s epoch=%" PRIu64 " t=%" PRIu64, (const char *)corolease_lease_name(cur, &nl),
		     corolease_lease_epoch(cur), now_us());
		cur = NULL;   /* freed by corolease_close() */
	}
	hist("disconnected", "t=%" PRIu64, now_us());
	h = corolease_close(h);
	dead = false;
}

/* Connects, retrying every 250 ms until it works or stop; false on stop. */
static bool connect_daemon(void)
{
	while (!stop) {
		uint64_t id = ++req_seq;
		hist("req", "id=%" PRIu64 " op=connect t=%" PRIu64, id, now_us());
		int r = corolease_connect(&h);
		if (r == 0) {
			corolease_set_callbacks(h, &cbs, NULL);
			hist("ans", "id=%" PRIu64 " op=connect t=%" PRIu64 " res=OK node=%" PRIu32, id, now_us(),
			     corolease_nodeid(h));
			dead = false;
			return true;
		}
		h = NULL;
		hist("ans", "id=%" PRIu64 " op=connect t=%" PRIu64 " res=%s", id, now_us(), res(r));
		sleep_until(now_us() + 250000);
	}
	return false;
}

/* Waits up to ms for events and dispatches them. */
static void pump(unsigned ms)
{
	uint64_t end = now_us() + (uint64_t)ms * 1000u;
	do {
		uint64_t now = now_us(), t = corolease_get_timeout(h);
		if (t > end)
			t = end;
		int wait = t <= now ? 0 : (int)((t - now + 999) / 1000);
		struct pollfd p = { .fd = corolease_get_fd(h), .events = (short)corolease_get_events(h) };
		if (poll(&p, 1, wait) < 0 && errno != EINTR)
			break;
		note(corolease_dispatch(h));
	} while (!dead && !stop && now_us() < end);
}

/* ------------------------------------------------------------------------ */
/* requests */

static void release_cur(void)
{
	size_t nl;
	char nm[NAME_LEN];
	snprintf(nm, sizeof(nm), "%s", (const char *)corolease_lease_name(cur, &nl));
	uint64_t epoch = corolease_lease_epoch(cur);
	int r = corolease_release(cur);
	cur = NULL;
	note(r);
	hist("release", "name=%s epoch=%" PRIu64 " res=%s t=%" PRIu64, nm, epoch, res(r), now_us());
}

/* One write: lease_valid, the "I/O", lease_valid again. */
static bool write_once(const char *nm, int mode, uint64_t epoch)
{
	uint64_t tc0 = now_us();
	int v0 = corolease_lease_valid(cur);
	uint64_t t0 = now_us();
	if (!v0) {
		hist("write", "name=%s mode=%s epoch=%" PRIu64 " tc0=%" PRIu64 " v0=0 t0=%" PRIu64 " skip=1",
		     nm, modename(mode), epoch, tc0, t0);
		return false;
	}
	sleep_until(t0 + rnd_in(2000, 20000));
	uint64_t t1 = now_us();
	int v1 = corolease_lease_valid(cur);
	uint64_t tc1 = now_us();
	hist("write", "name=%s mode=%s epoch=%" PRIu64 " tc0=%" PRIu64 " v0=1 t0=%" PRIu64 " t1=%" PRIu64
	     " v1=%d tc1=%" PRIu64, nm, modename(mode), epoch, tc0, t0, t1, v1, tc1);
	return true;
}

static void put_once(const char *nm, uint64_t epoch)
{
	const char *key = keys[rnd_in(0, n_keys - 1)];
	char val[64];
	snprintf(val, sizeof(val), "n%up%lds%" PRIu64, node_id, my_pid, ++put_seq);
	uint64_t id = ++req_seq, version = 0;
	hist("req", "id=%" PRIu64 " op=put name=%s key=%s val=%s epoch=%" PRIu64 " t=%" PRIu64, id, nm,
	     key, val, epoch, now_us());
	int r = corolease_index_put(cur, key, strlen(key), val, strlen(val), &version);
	note(r);
	if (r == 0)
		hist("ans", "id=%" PRIu64 " op=put t=%" PRIu64 " res=OK version=%" PRIu64, id, now_us(),
		     version);
	else
		hist("ans", "id=%" PRIu64 " op=put t=%" PRIu64 " res=%s", id, now_us(), res(r));
}

/* A sync read; returns its result.  ev is "ans" (run) or "final". */
static int get_once(const char *nm, const char *key)
{
	char buf[COROLEASE_VALUE_MAX], tok[160];
	size_t vallen = 0;
	uint64_t id = ++req_seq, version = 0;
	hist("req", "id=%" PRIu64 " op=get name=%s key=%s t=%" PRIu64, id, nm, key, now_us());
	int r = corolease_index_get(h, nm, strlen(nm), key, strlen(key), COROLEASE_GET_SYNC, buf,
				    sizeof(buf), &vallen, &version);
	note(r);
	if (r == 0) {
		token(buf, vallen < sizeof(buf) ? vallen : sizeof(buf), tok, sizeof(tok));
		hist("ans", "id=%" PRIu64 " op=get t=%" PRIu64 " res=OK val=%s version=%" PRIu64, id,
		     now_us(), tok, version);
	} else {
		hist("ans", "id=%" PRIu64 " op=get t=%" PRIu64 " res=%s", id, now_us(), res(r));
	}
	return r;
}

/* Holds the granted lease `cur` for a while, writing and putting. */
static void hold(const char *nm, int mode, uint64_t epoch)
{
	/* most holders hand over when asked; some are stubborn and get revoked */
	bool stubborn = chance(10);
	uint64_t until = now_us() + (uint64_t)(stubborn ? rnd_in(2500, 4000) : rnd_in(100, 1200)) * 1000u;
	while (!stop && !dead) {
		note(corolease_dispatch(h));
		if (dead || cur_revoked)
			break;
		if (cur_wanted && !stubborn)
			break;
		if (!write_once(nm, mode, epoch))
			break;
		if (mode == COROLEASE_EX && chance(25)) {
			put_once(nm, epoch);
			if (dead)
				break;
		}
		if (now_us() >= until)
			break;
		pump(rnd_in(1, 10));
	}
}

static void run_loop(void)
{
	while (!stop) {
		if (dead)
			drop_connection();
		if (!h && !connect_daemon())
			break;
		const char *nm = names[rnd_in(0, n_names - 1)];
		int mode = chance(sh_pct) ? COROLEASE_SH : COROLEASE_EX;
		bool wait = chance(85);
		unsigned timeout = wait ? rnd_in(500, 3000) : 0;
		uint64_t id = ++req_seq;
		hist("req", "id=%" PRIu64 " op=acquire name=%s mode=%s wait=%d timeout=%u t=%" PRIu64, id,
		     nm, modename(mode), wait, timeout, now_us());
		corolease_lease_t *l = NULL;
		uint32_t owner = 0;
		int r = corolease_acquire(h, nm, strlen(nm), mode, wait ? COROLEASE_WAIT : 0, timeout, &l,
					  &owner);
		note(r);
		if (r == 0) {
			uint64_t epoch = corolease_lease_epoch(l);
			hist("ans", "id=%" PRIu64 " op=acquire name=%s mode=%s t=%" PRIu64 " res=OK epoch=%" PRIu64,
			     id, nm, modename(mode), now_us(), epoch);
			cur = l;
			cur_wanted = cur_revoked = false;
			hold(nm, mode, epoch);
			if (cur && !dead)
				release_cur();
		} else {
			hist("ans", "id=%" PRIu64 " op=acquire name=%s mode=%s t=%" PRIu64 " res=%s owner=%" PRIu32,
			     id, nm, modename(mode), now_us(), res(r), owner);
		}
		if (dead || stop)
			continue;
		if (chance(50)) {
			get_once(names[rnd_in(0, n_names - 1)], keys[rnd_in(0, n_keys - 1)]);
			if (dead || stop)
				continue;
		}
		pump(rnd_in(5, 150));
	}
	if (dead)
		drop_connection();
	if (cur)
		release_cur();
	h = corolease_close(h);
}

/* Final reads: every key of every name, retried while the node is not ready. */
static int final_reads(unsigned secs)
{
	uint64_t deadline = now_us() + (uint64_t)secs * 1000000u;
	int bad = 0;
	for (unsigned i = 0; i < n_names; i++) {
		for (unsigned k = 0; k < n_keys; k++) {
			for (;;) {
				if (dead)
					drop_connection();
				if (!h && !connect_daemon())
					return 1;
				char buf[COROLEASE_VALUE_MAX], tok[160];
				size_t vallen = 0;
				uint64_t version = 0;
				int r = corolease_index_get(h, names[i], strlen(names[i]), keys[k], strlen(keys[k]),
							    COROLEASE_GET_SYNC, buf, sizeof(buf), &vallen, &version);
				note(r);
				if (r == 0) {
					token(buf, vallen < sizeof(buf) ? vallen : sizeof(buf), tok, sizeof(tok));
					hist("final", "name=%s key=%s res=OK val=%s version=%" PRIu64 " t=%" PRIu64,
					     names[i], keys[k], tok, version, now_us());
					break;
				}
				if (r == -ENOENT) {
					hist("final", "name=%s key=%s res=ENOENT t=%" PRIu64, names[i], keys[k], now_us());
					break;
				}
				if (now_us() >= deadline) {
					hist("final", "name=%s key=%s res=%s gaveup=1 t=%" PRIu64, names[i], keys[k],
					     res(r), now_us());
					bad = 1;
					break;
				}
				sleep_until(now_us() + 200000);
			}
		}
	}
	h = corolease_close(h);
	return bad;
}

static unsigned split(const char *arg, char out[][NAME_LEN])
{
	unsigned n = 0;
	const char *p = arg;
	while (*p && n < MAX_NAMES) {
		size_t len = strcspn(p, ",");
		if (len && len < NAME_LEN) {
			memcpy(out[n], p, len);
			out[n][len] = 0;
			n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

static int usage(void)
{
	fprintf(stderr, "usage: jp-client now\n"
			"       jp-client run -N NODE -n NAMES -k KEYS [-s SEED] [-S SH_PCT]\n"
			"       jp-client final -N NODE -n NAMES -k KEYS [-d SECS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "now")) {
		printf("%" PRIu64 "\n", now_us());
		return 0;
	}
	bool final = !strcmp(cmd, "final");
	if (!final && strcmp(cmd, "run"))
		return usage();
	uint64_t seed = 1;
	unsigned secs = 30;
	int c;
	optind = 2;
	while ((c = getopt(argc, argv, "N:n:k:s:S:d:")) != -1) {
		switch (c) {
		case 'N': node_id = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': n_names = split(optarg, names); break;
		case 'k': n_keys = split(optarg, keys); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'S': sh_pct = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': secs = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return usage();
		}
	}
	if (!n_names || !n_keys || sh_pct > 100)
		return usage();
	my_pid = (long)getpid();
	rng_state = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)my_pid << 17) ^ 0x2545F4914F6CDD1Dull;
	if (!rng_state)
		rng_state = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char nl[MAX_NAMES * NAME_LEN], kl[MAX_NAMES * NAME_LEN];
	size_t o = 0;
	for (unsigned i = 0; i < n_names; i++)
		o += (size_t)snprintf(nl + o, sizeof(nl) - o, "%s%s", i ? "," : "", names[i]);
	o = 0;
	for (unsigned i = 0; i < n_keys; i++)
		o += (size_t)snprintf(kl + o, sizeof(kl) - o, "%s%s", i ? "," : "", keys[i]);
	hist("start", "mode=%s names=%s keys=%s seed=%" PRIu64 " t=%" PRIu64, cmd, nl, kl, seed, now_us());
	int rc = 0;
	if (final)
		rc = final_reads(secs);
	else
		run_loop();
	hist("end", "t=%" PRIu64, now_us());
	return rc;
}
