/*
 * check_client.c - unit tests for libcorolease (libclient/client.c), linked
 * with tests/support/fakeqb.c instead of libqb: the test plays coroleased,
 * answering each request and injecting events at chosen moments.
 *
 * The main subject is the callback contract of corolease.h: a synchronous
 * call processes the events that arrive while it waits (state at once) but
 * runs no callback; corolease_get_timeout() is 0 while callbacks are
 * queued; corolease_dispatch() runs them in arrival order; releasing a
 * lease drops its queued callbacks.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corolease.h"
#include "corolease_admin.h"
#include "corolease/ipc.h"
#include "fakeqb.h"

/* ------------------------------------------------------------------------ */
/* the fake daemon */

#define MAX_ACQ 8

static struct {
	uint64_t acq_cookie[MAX_ACQ];     /* ACQUIREs by name 'a' + i */
	int releases[MAX_ACQ];            /* RELEASEs by name 'a' + i */
	bool grant_at_once;               /* answer ACQUIRE with GRANTED */
	void (*on_sync)(void);            /* injects events before a SYNC's answer */
	unsigned char status[4096];       /* STATUS payload */
	size_t status_len;
	int owner_calls;
} fd_;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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
	fakeqb_event(buf, sizeof(r) + plen);
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
	e.mode = COROLEASE_EX;
	e.namelen = 1;
	memcpy(buf, &e, sizeof(e));
	buf[sizeof(e)] = (unsigned char)('a' + i);
	fakeqb_event(buf, sizeof(buf));
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
	fakeqb_event(buf, (size_t)e.b.hdr.size);
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
	fakeqb_event(buf, off);
}

static void daemon_request(void *ctx, const void *req, size_t len)
{
	(void)ctx;
	struct clp_req_base b;
	ck_assert_uint_ge(len, sizeof(b));
	memcpy(&b, req, sizeof(b));
	const unsigned char *p = req;
	switch (b.hdr.id) {
	case CLP_REQ_HELLO: {
		struct clp_hello_payload hp;
		memset(&hp, 0, sizeof(hp));
		hp.version = CLP_VERSION;
		hp.nodeid = 1;
		ev_result(b.cookie, CLP_REQ_HELLO, 0, &hp, sizeof(hp));
		break;
	}
	case CLP_REQ_ACQUIRE: {
		int i = p[sizeof(struct clp_req_acquire)] - 'a';
		ck_assert(i >= 0 && i < MAX_ACQ);
		fd_.acq_cookie[i] = b.cookie;
		if (fd_.grant_at_once)
			ev_lease(CLP_EV_GRANTED, i, 1);
		break;
	}
	case CLP_REQ_RELEASE:
		fd_.releases[p[sizeof(struct clp_req_name)] - 'a']++;
		ev_result(b.cookie, CLP_REQ_RELEASE, 0, NULL, 0);
		break;
	case CLP_REQ_SYNC:
		if (fd_.on_sync)
			fd_.on_sync();
		ev_result(b.cookie, CLP_REQ_SYNC, 0, NULL, 0);
		break;
	case CLP_REQ_STATUS:
		ev_result(b.cookie, CLP_REQ_STATUS, 0, fd_.status, fd_.status_len);
		break;
	case CLP_REQ_OWNER: {
		uint32_t owner = 1;
		fd_.owner_calls++;
		ev_result(b.cookie, CLP_REQ_OWNER, 0, &owner, sizeof(owner));
		break;
	}
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

static corolease_t *open_conn(void)
{
	memset(&fd_, 0, sizeof(fd_));
	memset(leases, 0, sizeof(leases));
	cb_log[0] = '\0';
	in_acquired = NULL;
	fakeqb_set_handler(daemon_request, NULL);
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
	ck_assert_int_eq(corolease_dispatch(h), 1);   /* the RELEASE's answer; no callback */
	ck_assert_str_eq(cb_log, "");
	ck_assert_int_eq(fd_.releases[0], 0);
	ck_assert_int_eq(fd_.releases[1], 1);
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
	fakeqb_hangup();
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

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("callbacks");
	tcase_add_test(tc, sync_call_runs_no_callback);
	tcase_add_test(tc, release_drops_queued_callbacks);
	tcase_add_test(tc, callback_caused_callbacks_wait_for_next_dispatch);
	tcase_add_test(tc, disconnect_fails_acquires_then_reports);
	suite_add_tcase(s, tc);
	tc = tcase_create("admin");
	tcase_add_test(tc, status_records);
	tcase_add_test(tc, list_fn_may_call_the_library);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
