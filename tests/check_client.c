/*
 * check_client.c - unit tests for libcorolease (libclient/client.c), linked
 * with tests/support/faketp.c instead of libqb: the test plays coroleased,
 * answering each request and injecting events at chosen moments.
 *
 * The main subjects: the callback contract of corolease.h (a synchronous
 * call processes the events that arrive while it waits (state at once) but
 * runs no callback; corolease_get_timeout() is 0 while callbacks are
 * queued; corolease_dispatch() runs them in arrival order; releasing a
 * lease drops its queued callbacks); and corolease_lease_valid() without
 * dispatch (corolease/ipc.h, "The validity page"): the fake daemon keeps a
 * real page file with revocation slots, and clears, frees and reuses slots,
 * retires the page or hangs up as coroleased would.  The library's clock
 * is CLOCK_BOOTTIME: clock_gettime() is wrapped (-Wl,--wrap) so that a test
 * can suspend the machine for the library alone.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corolease.h"
#include "corolease_admin.h"
#include "corolease/ipc.h"
#include "faketp.h"

/* ------------------------------------------------------------------------ */
/* the fake daemon */

#define MAX_ACQ 8
#define NSLOTS  16
#define INCARNATION 0x0123456789abcdefull

static struct {
	uint64_t acq_cookie[MAX_ACQ];     /* ACQUIREs by name 'a' + i */
	uint8_t acq_mode[MAX_ACQ];        /* their modes (a GRANTED tells it back) */
	int releases[MAX_ACQ];            /* RELEASEs by name 'a' + i */
	int quiet_releases;               /* of those, with CLP_RELEASE_QUIET (no answer) */
	uint64_t owner_clock_jump_us;     /* CLOCK_BOOTTIME moves on this much as OWNER is answered */
	uint32_t slot[MAX_ACQ];           /* the revocation slot of name 'a' + i */
	bool grant_at_once;               /* answer ACQUIRE with GRANTED */
	bool answer_acquire;              /* else: never answer an ACQUIRE (when not at once) */
	bool die_on_sync;                 /* the daemon dies when a SYNC arrives */
	bool hung;                        /* HELLO, SYNC, OWNER go unanswered (a stopped daemon) */
	uint64_t late_sync_cookie;        /* the last SYNC left unanswered */
	int refuse;                       /* < 0: refuse connections with it (RESULT, cookie 0) */
	int refuse_first;                 /* > 0: only the first that many HELLOs */
	int hellos;                       /* HELLOs seen */
	void (*on_sync)(void);            /* injects events before a SYNC's answer */
	void (*after_sync)(void);         /* and after it */
	unsigned char status[4096];       /* STATUS payload */
	size_t status_len;
	int owner_calls;
	bool hold_writes;                 /* INDEX_PUT / INDEX_DEL go unanswered, kept below */
	uint64_t write_cookie[16];        /* their cookies, in arrival order */
	uint32_t write_type[16];
	int nwrites;
	char reqs[64];                    /* requests in arrival order: ACQUIRE 'a'+i, RELEASE 'r', SYNC 'S' */
	/* the validity page */
	char dir[64], path[128];
	struct clp_shm_page *page;
	uint64_t *slots;
	uint64_t incarnation;             /* told in HELLO */
} fd_;

/* ---- the clock: CLOCK_BOOTTIME can run ahead of CLOCK_MONOTONIC (a suspend) ---- */

static uint64_t suspended_us;         /* added to CLOCK_BOOTTIME for everyone in this process */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = __real_clock_gettime(id, ts);
	if (r == 0 && id == CLOCK_BOOTTIME && suspended_us) {
		uint64_t ns = (uint64_t)ts->tv_nsec + (suspended_us % 1000000u) * 1000u;
		ts->tv_sec += (time_t)(suspended_us / 1000000u + ns / 1000000000u);
		ts->tv_nsec = (long)(ns % 1000000000u);
	}
	return r;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The protocol's clock, as the daemon reads it. */
static uint64_t now_us(void)
{
	return clock_us(CLOCK_BOOTTIME);
}

/* ---- the fake daemon's validity page (page.c's rules, by hand) ---- */

static void page_create(void)
{
	snprintf(fd_.dir, sizeof(fd_.dir), "/tmp/check_client.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fd_.dir));
	ck_assert_int_eq(chmod(fd_.dir, 0755), 0);
	fd_.incarnation = INCARNATION;
	snprintf(fd_.path, sizeof(fd_.path), "%s/" CLP_SHM_PREFIX "%016" PRIx64, fd_.dir,
		 fd_.incarnation);
	int fd = open(fd_.path, O_RDWR | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)clp_shm_len(NSLOTS)), 0);
	void *m = mmap(NULL, clp_shm_len(NSLOTS), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(m != MAP_FAILED);
	close(fd);
	fd_.page = m;
	fd_.slots = (uint64_t *)((char *)m + CLP_SHM_SLOTS_OFF);
	fd_.page->version = CLP_VERSION;
	fd_.page->incarnation = fd_.incarnation;
	fd_.page->valid_until = now_us() + 3600u * 1000000u;
	fd_.page->nodeid = 1;
	fd_.page->daemon_pid = (uint32_t)getpid();
	fd_.page->daemon_uid = (uint32_t)geteuid();
	fd_.page->nslots = NSLOTS;
	fd_.page->magic = CLP_SHM_MAGIC;
	for (int i = 0; i < MAX_ACQ; i++)
		fd_.slot[i] = (uint32_t)i;
}

static void page_remove(void)
{
	if (!fd_.page)
		return;
	munmap(fd_.page, clp_shm_len(NSLOTS));
	fd_.page = NULL;
	unlink(fd_.path);
	rmdir(fd_.dir);
}

/* Arms name 'a' + i's slot (as GRANTED does) and returns the word. */
static uint64_t slot_arm(int i)
{
	fd_.slots[fd_.slot[i]] |= CLP_SLOT_VALID;
	return fd_.slots[fd_.slot[i]];
}

/* The node agent revoked name 'a' + i: the valid bit goes, nothing is sent. */
static void slot_clear(int i)
{
	fd_.slots[fd_.slot[i]] &= ~(uint64_t)CLP_SLOT_VALID;
}

/* The hold of name 'a' + i ended: next generation, bit clear. */
static void slot_free(int i)
{
	if (fd_.slot[i] >= NSLOTS)
		return;   /* a grant that never had one */
	fd_.slots[fd_.slot[i]] = ((fd_.slots[fd_.slot[i]] >> 1) + 1) << 1;
}

static void ev_result(uint64_t cookie, uint32_t req_type, int err, const void *pl, size_t plen)
{
	unsigned char buf[8192];
	struct clp_ev_result r;
	memset(&r, 0, sizeof(r));
	r.b.hdr.id = CLP_EV_RESULT;
	r.b.hdr.size = (int32_t)(sizeof(r) + plen);
	r.b.cookie = cookie;
	r.err = err;
	r.req_type = req_type;
	memcpy(buf, &r, sizeof(r));
	if (plen)
		memcpy(buf + sizeof(r), pl, plen);
	faketp_event(buf, sizeof(r) + plen);
}

/* A lease event about name 'a' + i (GRANTED, WANTED, REVOKED). */
static void ev_lease(uint32_t type, int i, uint32_t node)
{
	unsigned char buf[sizeof(struct clp_ev_lease) + 1];
	struct clp_ev_lease e;
	memset(&e, 0, sizeof(e));
	e.b.hdr.id = (int32_t)type;
	e.b.hdr.size = (int32_t)sizeof(buf);
	e.b.cookie = fd_.acq_cookie[i];
	e.node = node;
	e.epoch = 100 + (uint64_t)i;
	e.valid_until = now_us() + 3600u * 1000000u;
	e.deadline = now_us() + 1000000u;
	e.slot = CLP_SLOT_NONE;
	if (type == CLP_EV_GRANTED) {
		e.slot = fd_.slot[i];
		e.slot_word = slot_arm(i);
	} else if (type == CLP_EV_REVOKED) {
		slot_clear(i);
	}
	e.mode = fd_.acq_mode[i] ? fd_.acq_mode[i] : COROLEASE_EX;
	e.namelen = 1;
	memcpy(buf, &e, sizeof(e));
	buf[sizeof(e)] = (unsigned char)('a' + i);
	faketp_event(buf, sizeof(buf));
}

static void ev_index(const char *name, const char *key)
{
	unsigned char buf[256];
	struct clp_ev_index e;
	memset(&e, 0, sizeof(e));
	e.b.hdr.id = CLP_EV_INDEX_CHANGED;
	e.version = 9;
	e.writer = 2;
	e.namelen = (uint16_t)strlen(name);
	e.keylen = (uint8_t)strlen(key);
	e.b.hdr.size = (int32_t)(sizeof(e) + e.namelen + e.keylen);
	memcpy(buf, &e, sizeof(e));
	memcpy(buf + sizeof(e), name, e.namelen);
	memcpy(buf + sizeof(e) + e.namelen, key, e.keylen);
	faketp_event(buf, (size_t)e.b.hdr.size);
}

/* An ITEMS batch of LIST records, names from names[]. */
static void ev_list_items(uint64_t cookie, const char *const *names, uint32_t n)
{
	unsigned char buf[1024];
	struct clp_ev_items e;
	memset(&e, 0, sizeof(e));
	e.b.hdr.id = CLP_EV_ITEMS;
	e.b.cookie = cookie;
	e.count = n;
	size_t off = sizeof(e);
	for (uint32_t k = 0; k < n; k++) {
		struct clp_item_lease it;
		memset(&it, 0, sizeof(it));
		it.owner = 1;
		it.mode = COROLEASE_EX;
		it.namelen = (uint16_t)strlen(names[k]);
		memcpy(buf + off, &it, sizeof(it));
		memcpy(buf + off + sizeof(it), names[k], it.namelen);
		off += sizeof(it) + it.namelen;
	}
	e.b.hdr.size = (int32_t)off;
	memcpy(buf, &e, sizeof(e));
	faketp_event(buf, off);
}

static void daemon_request(void *ctx, const void *req, size_t len)
{
	(void)ctx;
	struct clp_req_base b;
	ck_assert_uint_ge(len, sizeof(b));
	memcpy(&b, req, sizeof(b));
	const unsigned char *p = req;
	size_t nr = strlen(fd_.reqs);
	char rc = b.hdr.id == CLP_REQ_ACQUIRE ? (char)p[sizeof(struct clp_req_acquire)]
		  : b.hdr.id == CLP_REQ_RELEASE ? 'r' : b.hdr.id == CLP_REQ_SYNC ? 'S' : 0;
	if (rc && nr + 1 < sizeof(fd_.reqs))
		fd_.reqs[nr] = rc;
	switch (b.hdr.id) {
	case CLP_REQ_HELLO: {
		if (fd_.hung)
			break;
		fd_.hellos++;
		if (fd_.refuse < 0 && (fd_.refuse_first == 0 || fd_.hellos <= fd_.refuse_first)) {
			/* as coroleased refuses: a RESULT of HELLO with cookie 0, then it closes */
			ev_result(0, CLP_REQ_HELLO, fd_.refuse, NULL, 0);
			faketp_hangup();
			break;
		}
		struct clp_hello_payload hp;
		memset(&hp, 0, sizeof(hp));
		hp.version = CLP_VERSION;
		hp.nodeid = 1;
		hp.incarnation = fd_.incarnation;
		hp.nslots = NSLOTS;
		snprintf(hp.shm_path, sizeof(hp.shm_path), "%s", fd_.path);
		ev_result(b.cookie, CLP_REQ_HELLO, 0, &hp, sizeof(hp));
		break;
	}
	case CLP_REQ_ACQUIRE: {
		int i = p[sizeof(struct clp_req_acquire)] - 'a';
		ck_assert(i >= 0 && i < MAX_ACQ);
		fd_.acq_cookie[i] = b.cookie;
		fd_.acq_mode[i] = ((const struct clp_req_acquire *)req)->mode;
		if (fd_.grant_at_once)
			ev_lease(CLP_EV_GRANTED, i, 1);
		break;
	}
	case CLP_REQ_RELEASE: {
		int i = p[sizeof(struct clp_req_name)] - 'a';
		fd_.releases[i]++;
		slot_free(i);
		/* as coroleased: a quiet release gets no answer */
		if (((const struct clp_req_name *)req)->flags & CLP_RELEASE_QUIET)
			fd_.quiet_releases++;
		else
			ev_result(b.cookie, CLP_REQ_RELEASE, 0, NULL, 0);
		break;
	}
	case CLP_REQ_SYNC:
		if (fd_.hung) {
			fd_.late_sync_cookie = b.cookie;
			break;
		}
		if (fd_.die_on_sync) {
			faketp_hangup();
			break;
		}
		if (fd_.on_sync)
			fd_.on_sync();
		ev_result(b.cookie, CLP_REQ_SYNC, 0, NULL, 0);
		if (fd_.after_sync)
			fd_.after_sync();
		break;
	case CLP_REQ_STATUS:
		ev_result(b.cookie, CLP_REQ_STATUS, 0, fd_.status, fd_.status_len);
		break;
	case CLP_REQ_OWNER: {
		uint32_t owner = 1;
		if (fd_.hung)
			break;
		fd_.owner_calls++;
		suspended_us += fd_.owner_clock_jump_us;   /* the caller loses the CPU after its send */
		ev_result(b.cookie, CLP_REQ_OWNER, 0, &owner, sizeof(owner));
		break;
	}
	case CLP_REQ_INDEX_PUT:
	case CLP_REQ_INDEX_DEL:
		if (fd_.hold_writes) {
			ck_assert_int_lt(fd_.nwrites, 16);
			fd_.write_type[fd_.nwrites] = (uint32_t)b.hdr.id;
			fd_.write_cookie[fd_.nwrites++] = b.cookie;
		} else {
			uint64_t v = 1000 + b.cookie;
			ev_result(b.cookie, (uint32_t)b.hdr.id, 0, &v, sizeof(v));
		}
		break;
	case CLP_REQ_LIST: {
		static const char *const first[] = { "x1", "x2" }, *const second[] = { "x3" };
		uint64_t count = 3;
		ev_list_items(b.cookie, first, 2);
		ev_list_items(b.cookie, second, 1);
		ev_result(b.cookie, CLP_REQ_LIST, 0, &count, sizeof(count));
		break;
	}
	default:
		ev_result(b.cookie, (uint32_t)b.hdr.id, 0, NULL, 0);
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* the application: callbacks that log what they saw */

static char cb_log[512];
static corolease_lease_t *leases[MAX_ACQ];
static void (*in_acquired)(corolease_t *h);

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(cb_log);
	va_start(ap, fmt);
	vsnprintf(cb_log + n, sizeof(cb_log) - n, fmt, ap);
	va_end(ap);
}

static char lease_letter(const corolease_lease_t *l)
{
	size_t len;
	const char *name = corolease_lease_name(l, &len);
	ck_assert_uint_eq(len, 1);
	return name[0];
}

static void on_acquired(corolease_t *h, corolease_lease_t *l, int err, void *udata)
{
	(void)udata;
	logf_("acquired %c %s;", lease_letter(l), corolease_errname(err));
	if (err) {
		/* harmless inside the callback: the library frees the handle after it */
		ck_assert_int_eq(corolease_release(l), 0);
		leases[lease_letter(l) - 'a'] = NULL;
	}
	if (in_acquired)
		in_acquired(h);
}

static void on_wanted(corolease_t *h, corolease_lease_t *l, uint32_t node, void *udata)
{
	(void)h;
	(void)udata;
	logf_("wanted %c by %u;", lease_letter(l), node);
}

static void on_revoked(corolease_t *h, corolease_lease_t *l, void *udata)
{
	(void)h;
	(void)udata;
	ck_assert(!corolease_lease_valid(l));
	logf_("revoked %c;", lease_letter(l));
}

static void on_disconnected(corolease_t *h, void *udata)
{
	(void)h;
	(void)udata;
	logf_("disconnected;");
}

static void on_index(corolease_t *h, const void *name, size_t namelen, const void *key,
		     size_t keylen, uint64_t version, int deleted, uint32_t writer, void *udata)
{
	(void)h;
	(void)udata;
	logf_("index %.*s/%.*s v%llu %s by %u;", (int)namelen, (const char *)name, (int)keylen,
	      (const char *)key, (unsigned long long)version, deleted ? "del" : "put", writer);
}

/* A fresh fake daemon with its page; the connection is the test's to open. */
static void fake_daemon(void)
{
	memset(&fd_, 0, sizeof(fd_));
	memset(leases, 0, sizeof(leases));
	cb_log[0] = '\0';
	in_acquired = NULL;
	suspended_us = 0;
	faketp_set_handler(daemon_request, NULL);
	page_create();
}

static corolease_t *open_conn(void)
{
	fake_daemon();
	corolease_t *h;
	ck_assert_int_eq(corolease_connect(&h), 0);
	static const struct corolease_callbacks cb = {
		.acquired = on_acquired, .wanted = on_wanted, .revoked = on_revoked,
		.disconnected = on_disconnected, .index_changed = on_index,
	};
	corolease_set_callbacks(h, &cb, NULL);
	return h;
}

static void acquire_async(corolease_t *h, char name)
{
	ck_assert_int_eq(corolease_acquire_async(h, &name, 1, COROLEASE_EX, COROLEASE_WAIT, 0, NULL,
						 &leases[name - 'a']), 0);
}

static bool fd_readable(corolease_t *h)
{
	struct pollfd pfd = { .fd = corolease_get_fd(h), .events = POLLIN };
	return poll(&pfd, 1, 0) == 1;
}

/* ------------------------------------------------------------------------ */
/* tests */

/* During the SYNC: a granted, b denied, c revoked, a wanted, an index change. */
static void events_during_sync(void)
{
	ev_lease(CLP_EV_GRANTED, 0, 1);
	uint32_t owner = 2;
	ev_result(fd_.acq_cookie[1], CLP_REQ_ACQUIRE, -EBUSY, &owner, sizeof(owner));
	ev_lease(CLP_EV_REVOKED, 2, 1);
	ev_lease(CLP_EV_WANTED, 0, 3);
	ev_index("u", "k");
}

START_TEST(sync_call_runs_no_callback)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	acquire_async(h, 'b');
	fd_.grant_at_once = true;
	ck_assert_int_eq(corolease_acquire(h, "c", 1, COROLEASE_EX, 0, 0, &leases[2], NULL), 0);
	fd_.grant_at_once = false;
	ck_assert(corolease_lease_valid(leases[2]));
	ck_assert_uint_eq(corolease_get_timeout(h), UINT64_MAX);

	fd_.on_sync = events_during_sync;
	ck_assert_int_eq(corolease_sync(h), 0);

	/* nothing ran inside the sync call, but the state is current */
	ck_assert_str_eq(cb_log, "");
	ck_assert(corolease_lease_granted(leases[0]));
	ck_assert_uint_eq(corolease_lease_epoch(leases[0]), 100);
	ck_assert(!corolease_lease_valid(leases[2]));
	ck_assert_uint_ne(corolease_lease_revoke_deadline(leases[2]), 0);
	/* queued: dispatch now, although the fd has nothing to read */
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
	ck_assert(!fd_readable(h));

	ck_assert_int_eq(corolease_dispatch(h), 5);
	ck_assert_str_eq(cb_log, "acquired a OK;acquired b EBUSY;revoked c;wanted a by 3;"
				 "index u/k v9 put by 2;");
	ck_assert_ptr_null(leases[1]);   /* b was freed after its callback */
	ck_assert_uint_eq(corolease_get_timeout(h), UINT64_MAX);
	ck_assert_int_eq(corolease_dispatch(h), 0);

	corolease_release(leases[0]);
	corolease_release(leases[2]);
	corolease_close(h);
}
END_TEST

static void want_a_by_3(void)
{
	ev_lease(CLP_EV_WANTED, 0, 3);
}

/*
 * A synchronous call stops receiving at its answer: it does not make the
 * receive that would find the socket empty (a system call for nothing on
 * every call), and what the daemon sent after the answer stays queued,
 * the fd readable, for the caller's loop to dispatch.
 */
START_TEST(sync_call_stops_receiving_at_its_answer)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	ev_lease(CLP_EV_GRANTED, 0, 1);
	ck_assert_int_ge(corolease_dispatch(h), 1);
	ck_assert_str_eq(cb_log, "acquired a OK;");
	cb_log[0] = '\0';

	unsigned empty = faketp_empty_recvs();
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_eq(faketp_empty_recvs(), empty);
	ck_assert(!fd_readable(h));

	fd_.after_sync = want_a_by_3;
	empty = faketp_empty_recvs();
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_eq(faketp_empty_recvs(), empty);
	ck_assert_uint_eq(faketp_queued(), 1);
	ck_assert(fd_readable(h));
	ck_assert_str_eq(cb_log, "");
	/* a second call finds it first, and still answers */
	fd_.after_sync = NULL;
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_eq(faketp_queued(), 0);
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
	ck_assert_int_eq(corolease_dispatch(h), 1);
	ck_assert_str_eq(cb_log, "wanted a by 3;");

	corolease_release(leases[0]);
	corolease_close(h);
}
END_TEST

static void grant_a_deny_b(void)
{
	uint32_t owner = 2;
	ev_result(fd_.acq_cookie[0], CLP_REQ_ACQUIRE, -EBUSY, &owner, sizeof(owner));
	ev_lease(CLP_EV_GRANTED, 1, 1);
	ev_lease(CLP_EV_WANTED, 1, 2);
}

START_TEST(release_drops_queued_callbacks)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	acquire_async(h, 'b');
	fd_.on_sync = grant_a_deny_b;
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_eq(corolease_get_timeout(h), 0);

	/* the application lets go of both before it dispatches */
	ck_assert_int_eq(corolease_release(leases[0]), 0);   /* failed: freed, nothing sent */
	ck_assert_int_eq(corolease_release(leases[1]), 0);   /* granted: released */
	ck_assert_uint_eq(corolease_get_timeout(h), UINT64_MAX);
	/* nothing: a release is sent quiet (no answer to read), and no callback runs */
	ck_assert_int_eq(corolease_dispatch(h), 0);
	ck_assert_str_eq(cb_log, "");
	ck_assert_int_eq(fd_.releases[0], 0);
	ck_assert_int_eq(fd_.releases[1], 1);
	ck_assert_int_eq(fd_.quiet_releases, 1);
	corolease_close(h);
}
END_TEST

static void want_a(void)
{
	ev_lease(CLP_EV_WANTED, 0, 4);
}

static void sync_from_callback(corolease_t *h)
{
	in_acquired = NULL;
	fd_.on_sync = want_a;
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
}

START_TEST(callback_caused_callbacks_wait_for_next_dispatch)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	ev_lease(CLP_EV_GRANTED, 0, 1);
	ck_assert(fd_readable(h));
	in_acquired = sync_from_callback;
	ck_assert_int_eq(corolease_dispatch(h), 2);   /* one event, one callback */
	ck_assert_str_eq(cb_log, "acquired a OK;");
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
	ck_assert_int_eq(corolease_dispatch(h), 1);
	ck_assert_str_eq(cb_log, "acquired a OK;wanted a by 4;");
	corolease_release(leases[0]);
	corolease_close(h);
}
END_TEST

START_TEST(disconnect_fails_acquires_then_reports)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	faketp_hangup();
	ck_assert(fd_readable(h));
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, "acquired a EDISCONNECTED;disconnected;");
	ck_assert_int_eq(corolease_sync(h), COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, "acquired a EDISCONNECTED;disconnected;");
	corolease_close(h);
}
END_TEST

/* ---- status ---- */

static void status_put(const char *key, uint8_t type, uint64_t value)
{
	struct clp_status_rec r;
	memset(&r, 0, sizeof(r));
	r.value = value;
	r.type = type;
	r.keylen = (uint8_t)strlen(key);
	memcpy(fd_.status + fd_.status_len, &r, sizeof(r));
	memcpy(fd_.status + fd_.status_len + sizeof(r), key, r.keylen);
	fd_.status_len += sizeof(r) + r.keylen;
}

START_TEST(status_records)
{
	corolease_t *h = open_conn();
	status_put("node", COROLEASE_STATUS_U64, 7);
	status_put("quorate", COROLEASE_STATUS_BOOL, 1);
	status_put("valid_ms", COROLEASE_STATUS_S64, (uint64_t)-5);
	status_put("members.0.node", COROLEASE_STATUS_U64, 7);
	status_put("members.0.holds", COROLEASE_STATUS_U64, 2);
	status_put("future.kind", 99, 1);   /* a newer daemon's type: skipped */
	status_put("state_hash", COROLEASE_STATUS_HASH, 0xfeedull);

	corolease_status_t *st;
	ck_assert_int_eq(corolease_status_get(h, &st), 0);
	uint64_t v;
	ck_assert_int_eq(corolease_status_u64(st, "members.0.holds", &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(corolease_status_u64(st, "valid_ms", &v), 0);
	ck_assert_int_eq((int64_t)v, -5);
	ck_assert_int_eq(corolease_status_u64(st, "future.kind", &v), -ENOENT);
	ck_assert_int_eq(corolease_status_u64(st, "lsn", &v), -ENOENT);

	static const char *const keys[] = { "node", "quorate", "valid_ms", "members.0.node",
					    "members.0.holds", "state_hash" };
	size_t it = 0, n = 0;
	const char *key;
	int type;
	while (corolease_status_next(st, &it, &key, &type, &v) == 0) {
		ck_assert_uint_lt(n, 6);
		ck_assert_str_eq(key, keys[n]);
		n++;
	}
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(type, COROLEASE_STATUS_HASH);
	ck_assert_uint_eq(v, 0xfeed);
	ck_assert_int_eq(corolease_status_next(st, &it, NULL, NULL, NULL), -ENOENT);
	ck_assert_ptr_null(corolease_status_free(st));
	ck_assert_ptr_null(corolease_status_free(NULL));

	status_put("Bad..key", COROLEASE_STATUS_U64, 1);   /* malformed key */
	ck_assert_int_eq(corolease_status_get(h, &st), COROLEASE_EPROTO);
	ck_assert_ptr_null(st);
	fd_.status_len -= 3;                                 /* truncated record */
	ck_assert_int_eq(corolease_status_get(h, &st), COROLEASE_EPROTO);
	corolease_close(h);
}
END_TEST

/* ---- list: fn runs in the call, outside event processing ---- */

static corolease_t *list_h;

static int list_fn(void *ctx, const struct corolease_lease_summary *s)
{
	int *n = ctx;
	uint32_t node;
	ck_assert_uint_eq(s->namelen, 2);
	ck_assert_int_eq(memcmp(s->name, (char[]){ 'x', (char)('1' + *n) }, 2), 0);
	/* a synchronous call from inside the listing */
	ck_assert_int_eq(corolease_owner(list_h, "x", 1, &node), 0);
	ck_assert_uint_eq(node, 1);
	(*n)++;
	return 0;
}

START_TEST(list_fn_may_call_the_library)
{
	corolease_t *h = open_conn();
	list_h = h;
	int n = 0;
	ck_assert_int_eq(corolease_list(h, NULL, 0, list_fn, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(fd_.owner_calls, 3);
	corolease_close(h);
}
END_TEST

/* ---- corolease_lease_valid() without dispatch ---- */

static corolease_lease_t *grant(corolease_t *h, char name)
{
	corolease_lease_t *l;
	fd_.grant_at_once = true;
	ck_assert_int_eq(corolease_acquire(h, &name, 1, COROLEASE_EX, 0, 0, &l, NULL), 0);
	fd_.grant_at_once = false;
	ck_assert(corolease_lease_valid(l));
	ck_assert(corolease_lease_granted(l));
	return l;
}

START_TEST(revoke_invalidates_without_dispatch)
{
	corolease_t *h = open_conn();
	corolease_lease_t *a = grant(h, 'a'), *b = grant(h, 'b');
	/* the daemon revokes a: its slot is cleared; the REVOKED event is not read yet */
	slot_clear(0);
	ck_assert(!corolease_lease_valid(a));
	ck_assert(!corolease_lease_granted(a));
	ck_assert(corolease_lease_valid(b));   /* the node-wide page is untouched */
	uint64_t v;
	ck_assert_int_eq(corolease_index_put(a, "k", 1, "v", 1, &v), COROLEASE_EREVOKED);
	/* the page moving forward for another lease changes nothing for a */
	fd_.page->valid_until = now_us() + 7200u * 1000000u;
	ck_assert(!corolease_lease_valid(a));
	ck_assert_str_eq(cb_log, "");
	corolease_release(a);
	corolease_release(b);
	corolease_close(h);
}
END_TEST

START_TEST(reused_slot_stays_invalid_for_a_stale_handle)
{
	corolease_t *h = open_conn();
	corolease_lease_t *a = grant(h, 'a');
	/* a's hold ends at the daemon (revoked, its deadline passed, the slot freed) and
	 * the slot goes to b's grant: armed again, with the next generation */
	slot_clear(0);
	slot_free(0);
	fd_.slot[1] = fd_.slot[0];
	corolease_lease_t *b = grant(h, 'b');
	ck_assert(!corolease_lease_valid(a));
	ck_assert(corolease_lease_valid(b));
	corolease_release(b);
	corolease_release(a);
	corolease_close(h);
}
END_TEST

START_TEST(page_deadline_and_incarnation)
{
	corolease_t *h = open_conn();
	corolease_lease_t *a = grant(h, 'a');
	uint64_t until = fd_.page->valid_until;
	fd_.page->valid_until = now_us();        /* the node's validity ran out */
	ck_assert(!corolease_lease_valid(a));
	ck_assert(corolease_lease_granted(a));   /* granted, but not usable */
	fd_.page->valid_until = until;
	ck_assert(corolease_lease_valid(a));
	fd_.page->magic = 0;                     /* retired by a new daemon */
	ck_assert(!corolease_lease_valid(a));
	fd_.page->magic = CLP_SHM_MAGIC;
	fd_.page->incarnation++;                 /* not the page the HELLO named */
	ck_assert(!corolease_lease_valid(a));
	fd_.page->incarnation--;
	ck_assert(corolease_lease_valid(a));
	corolease_release(a);
	corolease_close(h);
}
END_TEST

/* corolease_valid_until(): the node's deadlines from the page alone */
START_TEST(valid_until_reads_the_page)
{
	uint64_t stop = 7;
	ck_assert_uint_eq(corolease_valid_until(NULL, &stop), 0);
	ck_assert_uint_eq(stop, 0);
	corolease_t *h = open_conn();
	corolease_lease_t *a = grant(h, 'a');
	fd_.page->revoke_us = 1500000u;
	uint64_t until = fd_.page->valid_until;
	ck_assert_uint_eq(corolease_valid_until(h, &stop), until);
	ck_assert_uint_eq(stop, until + 1500000u);
	ck_assert_uint_eq(corolease_lease_stop_deadline(a), stop);
	ck_assert_uint_eq(corolease_valid_until(h, NULL), until);
	fd_.page->valid_until = 0;               /* nothing valid yet */
	ck_assert_uint_eq(corolease_valid_until(h, &stop), 0);
	ck_assert_uint_eq(stop, 0);
	ck_assert_uint_eq(corolease_lease_stop_deadline(a), 1);
	fd_.page->valid_until = until;
	fd_.page->magic = 0;                     /* retired */
	ck_assert_uint_eq(corolease_valid_until(h, &stop), 1);
	ck_assert_uint_eq(stop, 1);
	fd_.page->magic = CLP_SHM_MAGIC;
	fd_.page->incarnation++;                 /* another daemon's page */
	ck_assert_uint_eq(corolease_valid_until(h, &stop), 1);
	ck_assert_uint_eq(stop, 1);
	fd_.page->incarnation--;
	fd_.page->revoke_us = 0;
	corolease_release(a);
	corolease_close(h);
}
END_TEST

START_TEST(suspend_counts_against_validity)
{
	corolease_t *h = open_conn();
	fd_.page->valid_until = now_us() + 2000000u;
	corolease_lease_t *a = grant(h, 'a');
	/* a library deadline: a WAIT acquire of 3 s (+0.5 s grace) */
	corolease_lease_t *q;
	ck_assert_int_eq(corolease_acquire_async(h, "c", 1, COROLEASE_EX, COROLEASE_WAIT, 3000, NULL,
						 &q), 0);
	uint64_t t = corolease_get_timeout(h), boot = now_us();
	ck_assert_uint_ge(t, boot + 3400000u);
	ck_assert_uint_le(t, boot + 3500000u);
	/* the machine sleeps 5 s: CLOCK_BOOTTIME moves, CLOCK_MONOTONIC does not */
	suspended_us = 5000000u;
	ck_assert_uint_lt(clock_us(CLOCK_MONOTONIC) + 4000000u, now_us());
	ck_assert(!corolease_lease_valid(a));
	ck_assert_uint_lt(corolease_get_timeout(h), now_us());   /* the acquire is overdue */
	ck_assert_int_eq(corolease_dispatch(h), 1);              /* its timeout callback */
	ck_assert_str_eq(cb_log, "acquired c ETIMEDOUT;");
	corolease_release(a);
	corolease_close(h);
}
END_TEST

START_TEST(hangup_invalidates_at_once)
{
	corolease_t *h = open_conn();
	corolease_lease_t *a = grant(h, 'a');
	acquire_async(h, 'b');
	faketp_hangup();   /* the daemon crashes: nothing retired, slot and page still armed */
	ck_assert(!corolease_lease_valid(a));
	ck_assert(!corolease_lease_granted(a));
	ck_assert_int_eq(corolease_sync(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, "");
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, "acquired b EDISCONNECTED;disconnected;");
	ck_assert(!corolease_lease_valid(a));
	corolease_release(a);
	corolease_close(h);
}
END_TEST

START_TEST(daemon_dies_during_a_call)
{
	corolease_t *h = open_conn();
	fd_.die_on_sync = true;
	uint64_t t0 = now_us();
	ck_assert_int_eq(corolease_sync(h), COROLEASE_EDISCONNECTED);
	ck_assert_uint_lt(now_us() - t0, 1000000u);
	ck_assert_int_eq(corolease_owner(h, "x", 1, NULL), COROLEASE_EDISCONNECTED);
	corolease_close(h);
}
END_TEST

START_TEST(acquire_timeout_bounds_the_call)
{
	corolease_t *h = open_conn();
	corolease_lease_t *l = NULL;
	uint32_t owner;
	/* the daemon never answers: without WAIT the timeout is the library's alone */
	uint64_t t0 = now_us();
	ck_assert_int_eq(corolease_acquire(h, "c", 1, COROLEASE_EX, 0, 200, &l, &owner), -ETIMEDOUT);
	uint64_t took = now_us() - t0;
	ck_assert_uint_ge(took, 200000u);
	ck_assert_uint_lt(took, 400000u);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(fd_.releases[2], 1);   /* cancelled at the daemon */
	/* WAIT: the daemon's own timeout comes first; the library's backs it up */
	t0 = now_us();
	ck_assert_int_eq(corolease_acquire(h, "d", 1, COROLEASE_EX, COROLEASE_WAIT, 200, &l, &owner),
			 -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_uint_ge(took, 700000u);
	ck_assert_uint_lt(took, 900000u);
	ck_assert_int_eq(fd_.releases[3], 1);
	corolease_close(h);
}
END_TEST

START_TEST(call_timeout_bounds_calls_without_their_own)
{
	corolease_t *h = open_conn();
	corolease_lease_t *l = NULL;
	uint32_t owner, node = 0;
	uint64_t t0, took;

	ck_assert_int_eq(corolease_set_timeout(NULL, 200), -EINVAL);
	ck_assert_int_eq(corolease_set_timeout(h, 200), 0);
	/* the daemon answers: the bound changes nothing */
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_int_eq(corolease_owner(h, "x", 1, &node), 0);
	ck_assert_uint_eq(node, 1);
	/* the daemon stops answering (hung, SIGSTOP): every call ends at the bound */
	fd_.hung = true;
	t0 = now_us();
	ck_assert_int_eq(corolease_sync(h), -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_uint_ge(took, 200000u);
	ck_assert_uint_lt(took, 400000u);
	t0 = now_us();
	ck_assert_int_eq(corolease_owner(h, "x", 1, &node), -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_uint_ge(took, 200000u);
	ck_assert_uint_lt(took, 400000u);
	/* an acquire without a timeout of its own: the bound, then cancelled */
	t0 = now_us();
	ck_assert_int_eq(corolease_acquire(h, "c", 1, COROLEASE_EX, 0, 0, &l, &owner), -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_uint_ge(took, 200000u);
	ck_assert_uint_lt(took, 400000u);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(fd_.releases[2], 1);
	/* an acquire with a timeout keeps its own (longer) bound */
	t0 = now_us();
	ck_assert_int_eq(corolease_acquire(h, "d", 1, COROLEASE_EX, 0, 500, &l, &owner), -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_uint_ge(took, 500000u);
	ck_assert_uint_lt(took, 700000u);
	/* the daemon runs again: the late answer to a given-up SYNC is dropped */
	fd_.hung = false;
	ck_assert_uint_ne(fd_.late_sync_cookie, 0);
	ev_result(fd_.late_sync_cookie, CLP_REQ_SYNC, 0, NULL, 0);
	ck_assert_int_eq(corolease_sync(h), 0);
	node = 0;
	ck_assert_int_eq(corolease_owner(h, "x", 1, &node), 0);
	ck_assert_uint_eq(node, 1);
	/* 0: no bound again (a healthy daemon answers as before) */
	ck_assert_int_eq(corolease_set_timeout(h, 0), 0);
	ck_assert_int_eq(corolease_sync(h), 0);
	corolease_close(h);
}
END_TEST

/*
 * The answer came at once, but the caller was descheduled past its call
 * timeout before it looked (helper-64: -ETIMEDOUT with the answer waiting
 * in the socket, after the first round of wait_until() stopped reading
 * first): the answer counts.
 */
START_TEST(call_timeout_counts_an_answer_already_there)
{
	corolease_t *h = open_conn();
	uint32_t node = 0;
	ck_assert_int_eq(corolease_set_timeout(h, 200), 0);
	fd_.owner_clock_jump_us = 300000u;
	ck_assert_int_eq(corolease_owner(h, "x", 1, &node), 0);
	ck_assert_uint_eq(node, 1);
	ck_assert_int_eq(fd_.owner_calls, 1);
	fd_.owner_clock_jump_us = 0;
	corolease_close(h);
}
END_TEST

START_TEST(connect_timeout_bounds_the_handshake)
{
	corolease_t *h = NULL;
	uint64_t t0, took;

	fake_daemon();
	fd_.hung = true;
	t0 = now_us();
	ck_assert_int_eq(corolease_connect_timeout(&h, 200), -ETIMEDOUT);
	took = now_us() - t0;
	ck_assert_ptr_null(h);
	ck_assert_uint_ge(took, 200000u);
	ck_assert_uint_lt(took, 400000u);
	ck_assert_int_eq(corolease_connect_timeout(NULL, 200), -EINVAL);
	fd_.hung = false;
	ck_assert_int_eq(corolease_connect_timeout(&h, 200), 0);
	ck_assert_uint_eq(corolease_nodeid(h), 1);
	corolease_close(h);
}
END_TEST

START_TEST(grant_without_slot_is_refused)
{
	corolease_t *h = open_conn();
	acquire_async(h, 'a');
	fd_.slot[0] = NSLOTS;
	struct clp_ev_lease e;   /* ev_lease() would arm a slot */
	unsigned char buf[sizeof(e) + 1];
	memset(&e, 0, sizeof(e));
	e.b.hdr.id = CLP_EV_GRANTED;
	e.b.hdr.size = (int32_t)sizeof(buf);
	e.b.cookie = fd_.acq_cookie[0];
	e.slot = CLP_SLOT_NONE;
	e.mode = COROLEASE_EX;
	e.namelen = 1;
	memcpy(buf, &e, sizeof(e));
	buf[sizeof(e)] = 'a';
	faketp_event(buf, sizeof(buf));
	ck_assert_int_eq(corolease_dispatch(h), 2);   /* GRANTED, callback (the RELEASE is quiet) */
	ck_assert_str_eq(cb_log, "acquired a EPROTO;");
	ck_assert_int_eq(fd_.releases[0], 1);
	corolease_close(h);
}
END_TEST

/* ---- whom the library trusts (issue 8, item 2) ---- */

static int try_connect(void)
{
	corolease_t *h = NULL;
	int r = corolease_connect(&h);
	if (r == 0)
		corolease_close(h);
	else
		ck_assert_ptr_null(h);
	return r;
}

/*
 * The daemon's socket is believed only in a run directory of root (or of
 * this uid) that nobody else may write: nobody else can have put it there.
 * No socket there: no daemon.
 */
START_TEST(connect_trusts_only_a_safe_run_dir)
{
	fake_daemon();
	const char *dir = getenv("COROLEASE_RUN_DIR");
	char path[64];
	snprintf(path, sizeof(path), "%s/%s", dir, CLP_SOCKET_FILE);
	ck_assert_int_eq(try_connect(), 0);

	ck_assert_int_eq(chmod(dir, 0777), 0);              /* anyone may replace the socket */
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	ck_assert_int_eq(chmod(dir, 0770), 0);              /* a group may */
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	if (geteuid() == 0) {                               /* another user's directory */
		ck_assert_int_eq(chown(dir, 4242, 0), 0);
		ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
		ck_assert_int_eq(chown(dir, 0, 0), 0);
	}
	ck_assert_int_eq(unlink(path), 0);                  /* no daemon */
	ck_assert_int_eq(try_connect(), -ENOENT);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(try_connect(), 0);
}
END_TEST

/* A connection the daemon refuses fails with the daemon's reason, not as a lost connection. */
START_TEST(connect_reports_why_it_was_refused)
{
	fake_daemon();
	fd_.refuse = -EUSERS;
	ck_assert_int_eq(try_connect(), -EUSERS);
	fd_.refuse = 0;
	ck_assert_int_eq(try_connect(), 0);
}
END_TEST

/*
 * -EAGAIN (the handshake limits) is the daemon's "try again": the connect
 * does, with pauses, until its time is up (helper-102: a burst of one
 * user's connections saw most refused).
 */
START_TEST(connect_tries_again_after_eagain)
{
	fake_daemon();
	fd_.refuse = -EAGAIN;
	fd_.refuse_first = 3;
	fd_.hellos = 0;
	ck_assert_int_eq(try_connect(), 0);
	ck_assert_int_eq(fd_.hellos, 4);

	fd_.refuse_first = 0;   /* refused for good: -EAGAIN once the time is up */
	fd_.hellos = 0;
	corolease_t *h = NULL;
	uint64_t t0 = clp_now_us();
	ck_assert_int_eq(corolease_connect_timeout(&h, 300), -EAGAIN);
	uint64_t took = clp_now_us() - t0;
	ck_assert_ptr_null(h);
	ck_assert_int_ge(fd_.hellos, 3);
	ck_assert_uint_ge(took, 150000);
	ck_assert_uint_lt(took, 5000000);

	fd_.refuse = -EUSERS;   /* the others are final: one try */
	fd_.hellos = 0;
	ck_assert_int_eq(try_connect(), -EUSERS);
	ck_assert_int_eq(fd_.hellos, 1);
	fd_.refuse = 0;
}
END_TEST

START_TEST(connect_checks_the_daemon_and_its_page)
{
	fake_daemon();
	ck_assert_int_eq(try_connect(), 0);

	faketp_set_server_uid(geteuid() == 4242 ? 4243 : 4242);   /* a user's fake daemon */
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	faketp_set_server_uid(geteuid());

	ck_assert_int_eq(chmod(fd_.path, 0664), 0);                /* group-writable page */
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	ck_assert_int_eq(chmod(fd_.path, 0644), 0);

	ck_assert_int_eq(chmod(fd_.dir, 0777), 0);                 /* anyone may replace it */
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	ck_assert_int_eq(chmod(fd_.dir, 0755), 0);

	if (geteuid() == 0) {                                      /* another user's page */
		ck_assert_int_eq(chown(fd_.path, 4242, 0), 0);
		ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
		ck_assert_int_eq(chown(fd_.path, 0, 0), 0);
	}

	char real[160];                                            /* a symlink to a real page */
	snprintf(real, sizeof(real), "%s.real", fd_.path);
	ck_assert_int_eq(rename(fd_.path, real), 0);
	ck_assert_int_eq(symlink(real, fd_.path), 0);
	ck_assert_int_eq(try_connect(), COROLEASE_EUNTRUSTED);
	ck_assert_int_eq(unlink(fd_.path), 0);
	ck_assert_int_eq(rename(real, fd_.path), 0);

	fd_.incarnation++;                                         /* another incarnation's page */
	ck_assert_int_eq(try_connect(), COROLEASE_EPROTO);
	fd_.incarnation--;
	ck_assert_int_eq(truncate(fd_.path, (off_t)clp_shm_len(NSLOTS) - 8), 0);   /* wrong size */
	ck_assert_int_eq(try_connect(), COROLEASE_EPROTO);
	ck_assert_int_eq(truncate(fd_.path, (off_t)clp_shm_len(NSLOTS)), 0);
	ck_assert_int_eq(try_connect(), 0);
}
END_TEST


/* ---- asynchronous index writes ---- */

static char tag_1[] = "1", tag_2[] = "2", tag_3[] = "3", tag_4[] = "4", tag_x[] = "x";

/* An async write's function: logs "write CTX LEASE ERR vVERSION;" (LEASE '-' for NULL). */
static void on_write(corolease_t *h, corolease_lease_t *l, int err, uint64_t version, void *ctx)
{
	(void)h;
	logf_("write %s %c %s v%llu;", (const char *)ctx, l ? lease_letter(l) : '-',
	      corolease_errname(err), (unsigned long long)version);
}

/* The fake daemon answers held write k: err, and the version when given. */
static void answer_write(int k, int err, uint64_t version, bool with_version)
{
	ck_assert_int_lt(k, fd_.nwrites);
	ev_result(fd_.write_cookie[k], fd_.write_type[k], err, with_version ? &version : NULL,
		  with_version ? sizeof(version) : 0);
}

static corolease_t *open_with_a(void)
{
	corolease_t *h = open_conn();
	fd_.grant_at_once = true;
	ck_assert_int_eq(corolease_acquire(h, "a", 1, COROLEASE_EX, 0, 0, &leases[0], NULL), 0);
	fd_.grant_at_once = false;
	return h;
}

static void answer_first_two(void)
{
	answer_write(1, -ESTALE, 0, false);   /* answers may come in any order */
	answer_write(0, 0, 7, true);
}

START_TEST(async_writes_report_at_dispatch)
{
	corolease_t *h = open_with_a();
	fd_.hold_writes = true;
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "v", 1, on_write, tag_1), 0);
	ck_assert_int_eq(corolease_index_del_async(leases[0], "k", 1, on_write, tag_2), 0);
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "w", 1, on_write, tag_3), 0);
	ck_assert_int_eq(fd_.nwrites, 3);
	ck_assert_uint_eq(fd_.write_type[1], CLP_REQ_INDEX_DEL);
	ck_assert_uint_eq(corolease_get_timeout(h), UINT64_MAX);

	/* answered during a synchronous call: queued, not run */
	fd_.on_sync = answer_first_two;
	ck_assert_int_eq(corolease_sync(h), 0);
	fd_.on_sync = NULL;
	ck_assert_str_eq(cb_log, "");
	ck_assert_uint_eq(corolease_get_timeout(h), 0);
	ck_assert_int_eq(corolease_dispatch(h), 2);
	ck_assert_str_eq(cb_log, "write 2 a ESTALE v0;write 1 a OK v7;");

	/* a success without its version is malformed */
	answer_write(2, 0, 0, false);
	ck_assert_int_eq(corolease_dispatch(h), 2);   /* one event, one function */
	ck_assert_str_eq(cb_log, "write 2 a ESTALE v0;write 1 a OK v7;write 3 a EPROTO v0;");
	ck_assert_int_eq(corolease_dispatch(h), 0);

	/* the synchronous put still works beside them, and answers come by cookie */
	fd_.hold_writes = false;
	uint64_t v = 0;
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "x", 1, on_write, tag_4), 0);
	ck_assert_int_eq(corolease_index_put(leases[0], "k", 1, "y", 1, &v), 0);
	ck_assert_uint_gt(v, 1000);
	ck_assert_int_eq(corolease_dispatch(h), 1);   /* queued during the put: no event left */
	ck_assert_ptr_nonnull(strstr(cb_log, ";write 4 a OK v10"));   /* 1000 + its cookie */
	corolease_release(leases[0]);
	corolease_close(h);
}
END_TEST

START_TEST(async_write_refusals_call_nothing)
{
	corolease_t *h = open_with_a();
	ck_assert_int_eq(corolease_index_put_async(leases[0], "", 0, "v", 1, on_write, tag_x), -EINVAL);
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, NULL, 1, on_write, tag_x), -EINVAL);
	ck_assert_int_eq(corolease_index_put_async(NULL, "k", 1, "v", 1, on_write, tag_x), -EINVAL);
	acquire_async(h, 'b');   /* not granted yet */
	ck_assert_int_eq(corolease_index_put_async(leases[1], "k", 1, "v", 1, on_write, tag_x),
			 COROLEASE_ENOTHELD);
	ck_assert_int_eq(corolease_sync(h), 0);
	ev_lease(CLP_EV_REVOKED, 0, 1);
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_int_eq(corolease_index_del_async(leases[0], "k", 1, on_write, tag_x),
			 COROLEASE_EREVOKED);
	/* held SH: the daemon would refuse it; the library knows it at once (helper-62) */
	fd_.grant_at_once = true;
	ck_assert_int_eq(corolease_acquire(h, "c", 1, COROLEASE_SH, 0, 0, &leases[2], NULL), 0);
	fd_.grant_at_once = false;
	ck_assert_int_eq(corolease_index_put_async(leases[2], "k", 1, "v", 1, on_write, tag_x),
			 COROLEASE_ENOTHELD);
	ck_assert_int_eq(corolease_index_del_async(leases[2], "k", 1, on_write, tag_x),
			 COROLEASE_ENOTHELD);
	ck_assert_int_eq(fd_.nwrites, 0);
	corolease_dispatch(h);
	ck_assert_ptr_null(strstr(cb_log, "write"));
	corolease_release(leases[0]);
	corolease_release(leases[1]);
	corolease_release(leases[2]);
	corolease_close(h);
}
END_TEST

/* Lease a granted; two puts on it left unanswered: "1" (on_write), then one with fn2 and ctx2. */
static corolease_t *open_with_two_writes(corolease_write_fn fn2, void *ctx2)
{
	corolease_t *h = open_with_a();
	fd_.hold_writes = true;
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "v", 1, on_write, tag_1), 0);
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "w", 1, fn2, ctx2), 0);
	return h;
}

START_TEST(async_write_outlives_its_lease)
{
	corolease_t *h = open_with_two_writes(NULL, NULL);
	ck_assert_int_eq(corolease_release(leases[0]), 0);
	leases[0] = NULL;
	answer_write(0, 0, 5, true);
	answer_write(1, 0, 6, true);
	ck_assert_int_ge(corolease_dispatch(h), 2);
	ck_assert_str_eq(cb_log, "write 1 - OK v5;");   /* the NULL function: nothing */
	corolease_close(h);
}
END_TEST

START_TEST(async_writes_fail_on_disconnect)
{
	corolease_t *h = open_with_two_writes(on_write, tag_2);
	/* more, so that the order is not the hash table's by chance */
	static char tags[12][4];
	for (int k = 0; k < 12; k++) {
		snprintf(tags[k], sizeof(tags[k]), "%d", k + 3);
		ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "v", 1, on_write, tags[k]), 0);
	}
	faketp_hangup();
	char want[512] = "";
	for (int k = 1; k <= 14; k++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "write %d a EDISCONNECTED v0;", k);
	strcat(want, "disconnected;");
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, want);
	ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "v", 1, on_write, tag_3),
			 COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, want);
	corolease_release(leases[0]);
	corolease_close(h);
}
END_TEST

START_TEST(close_drops_async_writes)
{
	corolease_t *h = open_with_a();
	fd_.hold_writes = true;
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(corolease_index_put_async(leases[0], "k", 1, "v", 1, on_write, tag_1), 0);
	answer_write(0, 0, 1, true);
	ck_assert_int_eq(corolease_sync(h), 0);   /* the first answered and queued, two unanswered */
	corolease_close(h);   /* frees all three (the ASan run checks), calls none */
	ck_assert_str_eq(cb_log, "");
}
END_TEST

/* ---- corking (corolease_cork) ---- */

/* Requests made while corked wait; the uncork sends them in order, in one transport call. */
START_TEST(corked_requests_go_at_uncork_together)
{
	corolease_t *h = open_conn();
	unsigned calls = faketp_send_calls();
	ck_assert_int_eq(corolease_cork(h), 0);
	acquire_async(h, 'a');
	acquire_async(h, 'b');
	acquire_async(h, 'c');
	ck_assert_str_eq(fd_.reqs, "");
	ck_assert_uint_eq(faketp_send_calls(), calls);
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "abc");
	ck_assert_uint_eq(faketp_send_calls(), calls + 1);
	/* uncorked, a request goes at once, alone */
	acquire_async(h, 'd');
	ck_assert_str_eq(fd_.reqs, "abcd");
	ck_assert_uint_eq(faketp_send_calls(), calls + 2);
	corolease_close(h);
}
END_TEST

/* Corks nest; an uncork without a cork, and a NULL handle, are -EINVAL. */
START_TEST(corks_nest)
{
	corolease_t *h = open_conn();
	ck_assert_int_eq(corolease_cork(NULL), -EINVAL);
	ck_assert_int_eq(corolease_uncork(NULL), -EINVAL);
	ck_assert_int_eq(corolease_uncork(h), -EINVAL);
	ck_assert_int_eq(corolease_cork(h), 0);
	ck_assert_int_eq(corolease_cork(h), 0);
	acquire_async(h, 'a');
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "");
	acquire_async(h, 'b');
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "ab");
	ck_assert_int_eq(corolease_uncork(h), -EINVAL);
	corolease_close(h);
}
END_TEST

/* A dispatch while corked receives, and sends nothing; nor is a resend due. */
START_TEST(dispatch_while_corked_keeps_the_requests)
{
	corolease_t *h = open_conn();
	fd_.grant_at_once = true;
	acquire_async(h, 'a');
	ck_assert_int_eq(corolease_cork(h), 0);
	acquire_async(h, 'b');
	ck_assert_uint_eq(corolease_get_timeout(h), UINT64_MAX);
	ck_assert_int_gt(corolease_dispatch(h), 0);   /* a's grant */
	ck_assert_str_eq(cb_log, "acquired a OK;");
	ck_assert_str_eq(fd_.reqs, "a");
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "ab");
	corolease_close(h);
}
END_TEST

/* A synchronous call while corked sends what waits, then its own request, and returns. */
START_TEST(sync_call_while_corked_sends_what_waits_first)
{
	corolease_t *h = open_conn();
	ck_assert_int_eq(corolease_cork(h), 0);
	acquire_async(h, 'a');
	acquire_async(h, 'b');
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_str_eq(fd_.reqs, "abS");
	acquire_async(h, 'c');
	ck_assert_str_eq(fd_.reqs, "abS");
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "abSc");
	corolease_close(h);
}
END_TEST

/* An acquired callback that asks for the next two names not asked yet. */
static void acquire_two_more(corolease_t *h)
{
	for (int k = 0; k < 2; k++)
		for (char c = 'a'; c < 'a' + MAX_ACQ; c++)
			if (!strchr(fd_.reqs, c) && !leases[c - 'a']) {
				acquire_async(h, c);
				break;
			}
}

/* What callbacks ask during a dispatch goes when they are done, in one transport call. */
START_TEST(dispatch_sends_what_callbacks_ask_together)
{
	corolease_t *h = open_conn();
	fd_.grant_at_once = true;
	acquire_async(h, 'a');
	ck_assert_str_eq(fd_.reqs, "a");
	in_acquired = acquire_two_more;
	unsigned calls = faketp_send_calls();
	ck_assert_int_gt(corolease_dispatch(h), 0);   /* a's callback asks b and c */
	ck_assert_str_eq(fd_.reqs, "abc");
	ck_assert_uint_eq(faketp_send_calls(), calls + 1);
	ck_assert_int_gt(corolease_dispatch(h), 0);   /* b's asks d and e, c's f and g */
	ck_assert_str_eq(fd_.reqs, "abcdefg");
	ck_assert_uint_eq(faketp_send_calls(), calls + 2);
	in_acquired = NULL;
	corolease_close(h);
}
END_TEST

/* With no room for all, the rest stay queued, in order, and a dispatch sends them. */
START_TEST(uncork_without_room_keeps_the_rest_in_order)
{
	corolease_t *h = open_conn();
	ck_assert_int_eq(corolease_cork(h), 0);
	for (char c = 'a'; c <= 'e'; c++)
		acquire_async(h, c);
	faketp_set_room(2);
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "ab");
	/* a resend is due: the library asks to be called back */
	ck_assert_uint_ne(corolease_get_timeout(h), UINT64_MAX);
	acquire_async(h, 'f');   /* behind the queued ones, never ahead */
	ck_assert_str_eq(fd_.reqs, "ab");
	faketp_set_room(-1);
	corolease_dispatch(h);
	ck_assert_str_eq(fd_.reqs, "abcdef");
	corolease_close(h);
}
END_TEST

/* A daemon gone while corked: the uncork says so, and the acquires fail at dispatch. */
START_TEST(uncork_after_the_daemon_died)
{
	corolease_t *h = open_conn();
	ck_assert_int_eq(corolease_cork(h), 0);
	acquire_async(h, 'a');
	faketp_hangup();
	ck_assert_int_eq(corolease_uncork(h), COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_str_eq(cb_log, "acquired a EDISCONNECTED;disconnected;");
	ck_assert_int_eq(corolease_cork(h), COROLEASE_EDISCONNECTED);
	corolease_close(h);
}
END_TEST

/* A request flow control refused is resent after the retry interval, not in a busy loop. */
START_TEST(a_refused_request_is_resent_after_the_retry_interval)
{
	corolease_t *h = open_conn();
	faketp_set_room(0);
	acquire_async(h, 'a');   /* tried at once, refused, queued */
	ck_assert_str_eq(fd_.reqs, "");
	ck_assert_uint_gt(corolease_get_timeout(h), now_us() + 5000u);
	faketp_set_room(-1);
	usleep(15000);
	corolease_dispatch(h);
	ck_assert_str_eq(fd_.reqs, "a");
	corolease_close(h);
}
END_TEST

/* helper-82 F1: a synchronous call while corked, the socket full: it sends the rest when there is room. */
START_TEST(sync_call_while_corked_waits_out_a_full_socket)
{
	corolease_t *h = open_conn();
	corolease_set_timeout(h, 3000);
	ck_assert_int_eq(corolease_cork(h), 0);
	for (char c = 'a'; c <= 'e'; c++)
		acquire_async(h, c);
	faketp_full_for_us(100000);   /* the daemon reads what it has for 100 ms */
	uint64_t t0 = now_us();
	ck_assert_int_eq(corolease_sync(h), 0);
	ck_assert_uint_lt(now_us() - t0, 1000000);   /* 3 s (the call timeout) without the retry */
	ck_assert_str_eq(fd_.reqs, "abcdeS");
	ck_assert_int_eq(corolease_uncork(h), 0);
	corolease_close(h);
}
END_TEST

static int sync_in_cb_ret = 1;
static uint64_t sync_in_cb_us;
static void sync_in_callback(corolease_t *h)
{
	uint64_t t0 = now_us();
	sync_in_cb_ret = corolease_sync(h);
	sync_in_cb_us = now_us() - t0;
}

/* helper-82 F2: the same from a callback, where dispatch corks, in an app that never corks. */
START_TEST(sync_call_in_a_callback_waits_out_a_full_socket)
{
	corolease_t *h = open_conn();
	corolease_set_timeout(h, 3000);
	fd_.grant_at_once = true;
	acquire_async(h, 'a');        /* granted at once: its callback waits for the dispatch */
	fd_.grant_at_once = false;
	faketp_set_room(0);
	acquire_async(h, 'b');        /* flow control: b and c wait in the library */
	acquire_async(h, 'c');
	faketp_set_room(-1);
	faketp_full_for_us(100000);
	in_acquired = sync_in_callback;
	sync_in_cb_ret = 1;
	corolease_dispatch(h);
	in_acquired = NULL;
	ck_assert_int_eq(sync_in_cb_ret, 0);
	ck_assert_uint_lt(sync_in_cb_us, 1000000);
	ck_assert_str_eq(fd_.reqs, "abcS");
	corolease_close(h);
}
END_TEST

static int uncork_in_cb_ret = 1;
static void uncork_in_callback(corolease_t *h)
{
	uncork_in_cb_ret = corolease_uncork(h);
}

/* helper-82 F4: an uncork without a cork in a callback is refused and leaves dispatch's own alone. */
START_TEST(uncork_in_a_callback_without_a_cork_is_refused)
{
	corolease_t *h = open_conn();
	fd_.grant_at_once = true;
	acquire_async(h, 'a');
	in_acquired = uncork_in_callback;
	ck_assert_int_gt(corolease_dispatch(h), 0);
	in_acquired = NULL;
	ck_assert_int_eq(uncork_in_cb_ret, -EINVAL);
	acquire_async(h, 'b');   /* the handle is not corked: b goes at once */
	ck_assert_str_eq(fd_.reqs, "ab");
	corolease_close(h);
}
END_TEST

/* helper-82: a cork of a dead handle counts, so its uncork reports the loss as documented. */
START_TEST(cork_of_a_dead_handle_counts)
{
	corolease_t *h = open_conn();
	faketp_hangup();
	ck_assert_int_eq(corolease_dispatch(h), COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_cork(h), COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_uncork(h), COROLEASE_EDISCONNECTED);
	ck_assert_int_eq(corolease_uncork(h), -EINVAL);
	corolease_close(h);
}
END_TEST

/* helper-82 F5: an acquire that timed out while it waited, corked, never reaches the daemon. */
START_TEST(an_acquire_timed_out_before_it_was_sent_never_reaches_the_daemon)
{
	corolease_t *h = open_conn();
	ck_assert_int_eq(corolease_cork(h), 0);
	ck_assert_int_eq(corolease_acquire_async(h, "a", 1, COROLEASE_EX, 0, 50, NULL,
						 &leases[0]), 0);
	ck_assert_uint_ne(corolease_get_timeout(h), UINT64_MAX);   /* its deadline, corked or not */
	usleep(80000);
	corolease_dispatch(h);
	ck_assert_str_eq(cb_log, "acquired a ETIMEDOUT;");
	ck_assert_int_eq(corolease_uncork(h), 0);
	ck_assert_str_eq(fd_.reqs, "");   /* neither the ACQUIRE nor a RELEASE to cancel it */
	corolease_close(h);
}
END_TEST

static bool nested_b_done;
static int nested_rounds;
static void ask_b_then_wait_for_it(corolease_t *h)
{
	if (nested_rounds) {   /* b's callback */
		nested_b_done = true;
		return;
	}
	acquire_async(h, 'b');
	/* the library says when to dispatch: now, since b waits in it */
	ck_assert_uint_le(corolease_get_timeout(h), now_us());
	for (nested_rounds = 1; nested_rounds <= 50 && !nested_b_done; nested_rounds++) {
		struct pollfd pfd = { .fd = corolease_get_fd(h), .events = POLLIN };
		uint64_t t = corolease_get_timeout(h), now = now_us();
		poll(&pfd, 1, t <= now ? 0 : 20);
		corolease_dispatch(h);
	}
}

/* helper-82 F3: a callback that asks, then runs a dispatch loop of its own, gets its answer. */
START_TEST(a_dispatch_loop_in_a_callback_sends_what_it_asked)
{
	corolease_t *h = open_conn();
	fd_.grant_at_once = true;
	acquire_async(h, 'a');
	nested_rounds = 0;
	nested_b_done = false;
	in_acquired = ask_b_then_wait_for_it;
	corolease_dispatch(h);
	in_acquired = NULL;
	ck_assert(nested_b_done);
	ck_assert_int_le(nested_rounds, 3);
	ck_assert_str_eq(fd_.reqs, "ab");
	corolease_close(h);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("callbacks");
	tcase_add_test(tc, sync_call_runs_no_callback);
	tcase_add_test(tc, sync_call_stops_receiving_at_its_answer);
	tcase_add_test(tc, release_drops_queued_callbacks);
	tcase_add_test(tc, callback_caused_callbacks_wait_for_next_dispatch);
	tcase_add_test(tc, disconnect_fails_acquires_then_reports);
	tcase_add_checked_fixture(tc, NULL, page_remove);
	suite_add_tcase(s, tc);
	tc = tcase_create("validity");
	tcase_add_test(tc, revoke_invalidates_without_dispatch);
	tcase_add_test(tc, reused_slot_stays_invalid_for_a_stale_handle);
	tcase_add_test(tc, page_deadline_and_incarnation);
	tcase_add_test(tc, suspend_counts_against_validity);
	tcase_add_test(tc, hangup_invalidates_at_once);
	tcase_add_test(tc, valid_until_reads_the_page);
	tcase_add_test(tc, grant_without_slot_is_refused);
	tcase_add_checked_fixture(tc, NULL, page_remove);
	suite_add_tcase(s, tc);
	tc = tcase_create("bounded");
	tcase_add_test(tc, daemon_dies_during_a_call);
	tcase_add_test(tc, acquire_timeout_bounds_the_call);
	tcase_add_test(tc, call_timeout_bounds_calls_without_their_own);
	tcase_add_test(tc, call_timeout_counts_an_answer_already_there);
	tcase_add_test(tc, connect_timeout_bounds_the_handshake);
	tcase_add_checked_fixture(tc, NULL, page_remove);
	suite_add_tcase(s, tc);
	tc = tcase_create("trust");
	tcase_add_test(tc, connect_checks_the_daemon_and_its_page);
	tcase_add_test(tc, connect_trusts_only_a_safe_run_dir);
	tcase_add_test(tc, connect_reports_why_it_was_refused);
	tcase_add_test(tc, connect_tries_again_after_eagain);
	tcase_add_checked_fixture(tc, NULL, page_remove);
	suite_add_tcase(s, tc);
	tc = tcase_create("admin");
	tcase_add_test(tc, status_records);
	tcase_add_test(tc, async_writes_report_at_dispatch);
	tcase_add_test(tc, async_write_refusals_call_nothing);
	tcase_add_test(tc, async_write_outlives_its_lease);
	tcase_add_test(tc, async_writes_fail_on_disconnect);
	tcase_add_test(tc, close_drops_async_writes);
	tcase_add_test(tc, list_fn_may_call_the_library);
	tcase_add_test(tc, corked_requests_go_at_uncork_together);
	tcase_add_test(tc, corks_nest);
	tcase_add_test(tc, sync_call_while_corked_sends_what_waits_first);
	tcase_add_test(tc, dispatch_while_corked_keeps_the_requests);
	tcase_add_test(tc, dispatch_sends_what_callbacks_ask_together);
	tcase_add_test(tc, uncork_without_room_keeps_the_rest_in_order);
	tcase_add_test(tc, uncork_after_the_daemon_died);
	tcase_add_test(tc, a_refused_request_is_resent_after_the_retry_interval);
	tcase_add_test(tc, sync_call_while_corked_waits_out_a_full_socket);
	tcase_add_test(tc, sync_call_in_a_callback_waits_out_a_full_socket);
	tcase_add_test(tc, uncork_in_a_callback_without_a_cork_is_refused);
	tcase_add_test(tc, cork_of_a_dead_handle_counts);
	tcase_add_test(tc, an_acquire_timed_out_before_it_was_sent_never_reaches_the_daemon);
	tcase_add_test(tc, a_dispatch_loop_in_a_callback_sends_what_it_asked);
	tcase_add_checked_fixture(tc, NULL, page_remove);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * The library finds the daemon's socket in RUN_DIR (corolease/ipc.h): a
 * private run dir whose socket file the transport stand-in takes for a
 * listening daemon.
 */
static pid_t run_dir_owner;

static void fake_run_dir(void)
{
	static char dir[] = "/tmp/check_client.XXXXXX";
	char path[64];
	FILE *f = NULL;
	if (mkdtemp(dir) && chmod(dir, 0755) == 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, CLP_SOCKET_FILE);
		f = fopen(path, "w");
	}
	if (!f) {
		perror("check_client: a run dir in /tmp");
		exit(1);
	}
	fclose(f);
	setenv("COROLEASE_RUN_DIR", dir, 1);
	run_dir_owner = getpid();
}

/* ... removed at exit */
static void rm_run_dir(void)
{
	if (getpid() != run_dir_owner)
		return;         /* a forked test ending */
	const char *dir = getenv("COROLEASE_RUN_DIR");
	char path[64];
	snprintf(path, sizeof(path), "%s/%s", dir, CLP_SOCKET_FILE);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	fake_run_dir();
	atexit(rm_run_dir);
	SRunner *sr = srunner_create(client_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
