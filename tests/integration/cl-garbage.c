/*
 * cl-garbage.c - raw protocol client that sends coroleased malformed
 * requests (include/corolease/ipc.h) and checks the answers.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * 1. Before HELLO: a well-formed ACQUIRE -> RESULT COROLEASE_EPROTO.
 * 2. HELLO with a wrong version -> COROLEASE_EVERSION; right one -> 0.
 * 3. One malformed request of each kind (unknown type, short, lying sizes,
 *    bad lengths/modes/flags, oversized value) -> RESULT COROLEASE_EPROTO
 *    each, cookie echoed where the header carried one; fewer than the
 *    daemon's limit (16), so the connection stays up and STATUS answers 0.
 * 3b. On a second connection, headers that lie consistently (size and
 *    declared lengths agree, fewer or more bytes sent) -> EPROTO.
 * 3c. On a third: a RELEASE with CLP_RELEASE_QUIET gets no answer, one
 *    without it does, one with an unknown flag gets EPROTO.
 * 4. A packet larger than CLP_MAX_MSG (sent with a send buffer forced
 *    large enough, as root): the daemon closes that connection, and only it.
 * 5. More garbage until the daemon disconnects us (must happen by 64).
 * 6. A flood of garbage without reading the answers: disconnected.
 * 7. A new connection (HELLO + STATUS) is served normally.
 * Exit 0 if all held; prints one "ok:" or "FAIL:" line per check.
 * "note:" lines report behaviour that is informative rather than wrong.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "corolease/ipc.h"
#include "clt.h"

static int failures;
static uint8_t rbuf[CLP_MAX_MSG];

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (cond) {                                           \
			printf("ok: ");                               \
		} else {                                              \
			printf("FAIL: ");                             \
			failures++;                                   \
		}                                                     \
		printf(__VA_ARGS__);                                  \
		putchar('\n');                                        \
	} while (0)

static clt_conn_t *conn(void)
{
	clt_conn_t *c = clt_connect();
	if (!c) {
		printf("FAIL: connect: %s\n", strerror(errno));
		exit(1);
	}
	return c;
}

static int send_raw(clt_conn_t *c, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	ssize_t r = clt_sendv(c, &iov, 1);
	return r < 0 ? (int)r : 0;
}

/* Next RESULT (skipping other events); returns err, or 1 on no answer / disconnect. */
static int recv_result(clt_conn_t *c, uint64_t *cookie_r, uint32_t *type_r, int timeout_ms,
		       void **payload, size_t *plen)
{
	for (;;) {
		ssize_t n = clt_recv(c, rbuf, sizeof(rbuf), timeout_ms);
		if (n < 0)
			return 1;
		if ((size_t)n < sizeof(struct clp_ev_result))
			continue;
		const struct clp_ev_result *res = (const void *)rbuf;
		if (res->b.hdr.id != CLP_EV_RESULT)
			continue;
		if (cookie_r)
			*cookie_r = res->b.cookie;
		if (type_r)
			*type_r = res->req_type;
		if (payload) {
			*payload = rbuf + sizeof(*res);
			*plen = (size_t)n - sizeof(*res);
		}
		return res->err;
	}
}

static void hdr(void *buf, int32_t id, int32_t size, uint64_t cookie)
{
	struct clp_req_base *b = buf;
	b->hdr.id = id;
	b->hdr.size = size;
	b->cookie = cookie;
}

/* A well-formed ACQUIRE of a 4-byte name, EX, no flags. */
struct acq4 {
	struct clp_req_acquire a;
	char name[4];
};

static void acq4_init(struct acq4 *m, const char *name, uint64_t cookie)
{
	memset(m, 0, sizeof(*m));
	hdr(m, CLP_REQ_ACQUIRE, sizeof(m->a) + 4, cookie);
	m->a.mode = COROLEASE_EX;
	m->a.namelen = 4;
	memcpy(m->name, name, 4);
}

static int hello(clt_conn_t *c, uint32_t version, uint64_t cookie)
{
	struct clp_req_hello m;
	memset(&m, 0, sizeof(m));
	hdr(&m, CLP_REQ_HELLO, sizeof(m), cookie);
	m.version = version;
	if (send_raw(c, &m, sizeof(m)) < 0)
		return 1;
	return recv_result(c, NULL, NULL, 5000, NULL, NULL);
}

static int status(clt_conn_t *c, uint32_t *node_r)
{
	struct clp_req_base m;
	hdr(&m, CLP_REQ_STATUS, sizeof(m), 4242);
	if (send_raw(c, &m, sizeof(m)) < 0)
		return 1;
	void *p;
	size_t pl;
	uint64_t ck = 0;
	int r = recv_result(c, &ck, NULL, 5000, &p, &pl);
	/* the records (struct clp_status_rec + key); the node id is key "node" */
	for (size_t off = 0; r == 0 && off + sizeof(struct clp_status_rec) <= pl;) {
		struct clp_status_rec rec;
		memcpy(&rec, (const char *)p + off, sizeof(rec));
		const char *key = (const char *)p + off + sizeof(rec);
		if (rec.keylen == 4 && off + sizeof(rec) + 4 <= pl && memcmp(key, "node", 4) == 0)
			*node_r = (uint32_t)rec.value;
		off += sizeof(rec) + rec.keylen;
	}
	if (r == 0 && ck != 4242)
		return 2;
	return r;
}

/* One garbage message: send len bytes of buf; expect EPROTO (cookie check if want_cookie). */
static void garbage(clt_conn_t *c, const char *what, const void *buf, size_t len,
		    uint64_t want_cookie)
{
	int s = send_raw(c, buf, len);
	if (s < 0) {
		CHECK(0, "%s: sent (%s)", what, strerror(-s));
		return;
	}
	uint64_t ck = 0;
	int r = recv_result(c, &ck, NULL, 3000, NULL, NULL);
	CHECK(r == COROLEASE_EPROTO && (!want_cookie || ck == want_cookie),
	      "%s (%zu bytes) -> %s%s, cookie %" PRIu64, what, len,
	      r == 1 ? "no answer" : corolease_errname(r), r == COROLEASE_EPROTO ? "" : " (want EPROTO)", ck);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	static uint8_t big[CLP_MAX_MSG + 4096];
	clt_conn_t *c = conn();
	int sent_bad = 0;

	/* 1. before HELLO */
	struct acq4 acq;
	acq4_init(&acq, "gbg1", 11);
	garbage(c, "ACQUIRE before HELLO", &acq, sizeof(acq.a) + 4, 11);
	sent_bad++;

	/* 2. HELLO */
	int r = hello(c, CLP_VERSION + 7, 12);
	CHECK(r == COROLEASE_EVERSION, "HELLO version %u -> %s", CLP_VERSION + 7,
	      r == 1 ? "no answer" : corolease_errname(r));
	r = hello(c, CLP_VERSION, 13);
	CHECK(r == 0, "HELLO version %u -> %s", CLP_VERSION, r == 1 ? "no answer" : corolease_errname(r));
	if (r != 0)
		return 1;

	/* 3. malformed requests */
	struct clp_req_base base;
	hdr(&base, 99, sizeof(base), 21);
	garbage(c, "unknown type 99", &base, sizeof(base), 21);
	hdr(&base, CLP_REQ_TYPE_MAX + 1, sizeof(base), 22);
	garbage(c, "unknown type TYPE_MAX+1", &base, sizeof(base), 22);
	hdr(&base, 0, sizeof(base), 23);
	garbage(c, "type 0", &base, sizeof(base), 23);
	hdr(&base, CLP_REQ_ACQUIRE, sizeof(struct qb_ipc_request_header), 0);
	garbage(c, "short ACQUIRE (header only)", &base, sizeof(struct qb_ipc_request_header), 0);
	hdr(&base, CLP_REQ_ACQUIRE, sizeof(base), 24);
	garbage(c, "short ACQUIRE (no fixed part)", &base, sizeof(base), 24);
	sent_bad += 5;

	/* lying sizes: header claims more / less than the declared lengths */
	hdr(&acq, CLP_REQ_ACQUIRE, sizeof(acq.a) + 4 + 100, 25);
	garbage(c, "ACQUIRE hdr.size > fixed+namelen", &acq, sizeof(acq.a) + 4, 25);
	hdr(&acq, CLP_REQ_ACQUIRE, sizeof(acq.a) + 2, 26);
	garbage(c, "ACQUIRE hdr.size < fixed+namelen", &acq, sizeof(acq.a) + 4, 26);
	hdr(&acq, CLP_REQ_ACQUIRE, -5, 27);
	garbage(c, "ACQUIRE negative hdr.size (cookie not checked)", &acq, sizeof(acq.a) + 4, 0);
	hdr(&acq, CLP_REQ_ACQUIRE, sizeof(acq.a) + 4, 28);
	acq.a.namelen = 0;
	garbage(c, "ACQUIRE namelen 0", &acq, sizeof(acq.a) + 4, 28);
	acq.a.namelen = 4;
	acq.a.mode = 7;
	garbage(c, "ACQUIRE mode 7", &acq, sizeof(acq.a) + 4, 28);
	acq.a.mode = COROLEASE_EX;
	acq.a.flags = 0x80;
	garbage(c, "ACQUIRE flags 0x80", &acq, sizeof(acq.a) + 4, 28);
	acq.a.flags = 0;
	sent_bad += 6;

	/*
	 * 3b. headers that lie consistently (issue 8, finding 8), on a second
	 * connection: the size in the header and the declared lengths agree,
	 * but fewer bytes were sent.  The daemon must judge by the packet's
	 * size, and parse none beyond.
	 */
	{
		clt_conn_t *l = conn();
		CHECK(hello(l, CLP_VERSION, 14) == 0, "HELLO on a second connection");
		struct { struct clp_req_acquire a; char name[100]; } la;
		memset(&la, 0, sizeof(la));
		hdr(&la, CLP_REQ_ACQUIRE, (int32_t)(sizeof(la.a) + 100), 41);
		la.a.mode = COROLEASE_EX;
		la.a.namelen = 100;
		memcpy(la.name, "lie1", 4);
		garbage(l, "ACQUIRE of a 100-byte name, header and namelen agree, 4 name bytes sent", &la,
			sizeof(la.a) + 4, 41);
		struct { struct clp_req_index i; char nk[5]; char val[1000]; } lp;
		memset(&lp, 'v', sizeof(lp));
		memset(&lp.i, 0, sizeof(lp.i));
		hdr(&lp, CLP_REQ_INDEX_PUT, (int32_t)(sizeof(lp.i) + 5 + 1000), 42);
		lp.i.namelen = 4;
		lp.i.keylen = 1;
		lp.i.vallen = 1000;
		memcpy(lp.nk, "lie2k", 5);
		garbage(l, "INDEX_PUT of a 1000-byte value, header and vallen agree, 10 value bytes sent",
			&lp, sizeof(lp.i) + 5 + 10, 42);
		hdr(&lp, CLP_REQ_INDEX_PUT, 64, 43);
		garbage(l, "a 1,045-byte INDEX_PUT whose header says 64", &lp, sizeof(lp.i) + 5 + 1000, 43);
		clt_close(l);
	}

	/*
	 * 3c. RELEASE's flags, on a third connection: with CLP_RELEASE_QUIET
	 * (as the library sends it) no answer, so the next RESULT is that of
	 * the STATUS sent after it; without it an answer (ENOTHELD for a name
	 * no longer held); any other flag is EPROTO.
	 */
	{
		clt_conn_t *q = conn();
		CHECK(hello(q, CLP_VERSION, 15) == 0, "HELLO on a third connection");
		struct acq4 qa;
		acq4_init(&qa, "qrl1", 61);
		int granted = send_raw(q, &qa, sizeof(qa.a) + 4) == 0 ? 0 : -1;
		while (granted == 0) {
			ssize_t n = clt_recv(q, rbuf, sizeof(rbuf), 5000);
			if (n < (ssize_t)sizeof(struct clp_ev_base))
				granted = -1;
			else if (((const struct clp_ev_base *)rbuf)->hdr.id == CLP_EV_GRANTED)
				granted = 1;
			else if (((const struct clp_ev_base *)rbuf)->hdr.id == CLP_EV_RESULT)
				granted = -1;   /* the acquire failed */
		}
		CHECK(granted == 1, "ACQUIRE qrl1 on the third connection: GRANTED");
		struct { struct clp_req_name n; char name[4]; } rl;
		memset(&rl, 0, sizeof(rl));
		hdr(&rl, CLP_REQ_RELEASE, sizeof(rl.n) + 4, 62);
		rl.n.namelen = 4;
		rl.n.flags = CLP_RELEASE_QUIET;
		memcpy(rl.name, "qrl1", 4);
		send_raw(q, &rl, sizeof(rl.n) + 4);
		struct clp_req_base st;
		hdr(&st, CLP_REQ_STATUS, sizeof(st), 63);
		send_raw(q, &st, sizeof(st));
		uint64_t ck = 0;
		uint32_t ty = 0;
		r = recv_result(q, &ck, &ty, 5000, NULL, NULL);
		CHECK(r == 0 && ck == 63 && ty == CLP_REQ_STATUS,
		      "a quiet RELEASE gets no answer: the next RESULT is the STATUS's (got cookie %" PRIu64
		      ", type %u, %s)", ck, ty, r == 1 ? "no answer" : corolease_errname(r));
		hdr(&rl, CLP_REQ_RELEASE, sizeof(rl.n) + 4, 64);
		rl.n.flags = 0;
		send_raw(q, &rl, sizeof(rl.n) + 4);
		r = recv_result(q, &ck, &ty, 5000, NULL, NULL);
		CHECK(r == COROLEASE_ENOTHELD && ck == 64 && ty == CLP_REQ_RELEASE,
		      "a RELEASE without the flag is answered: ENOTHELD, the name was released (got %s, cookie %" PRIu64 ")",
		      r == 1 ? "no answer" : corolease_errname(r), ck);
		hdr(&rl, CLP_REQ_RELEASE, sizeof(rl.n) + 4, 65);
		rl.n.flags = 0x80;
		garbage(q, "RELEASE flags 0x80", &rl, sizeof(rl.n) + 4, 65);
		clt_close(q);
	}

	/* oversized value (INDEX_PUT vallen > 64 KiB, really sent) */
	memset(big, 'v', sizeof(big));
	struct clp_req_index *x = (void *)big;
	size_t vlen = COROLEASE_VALUE_MAX + 1000;
	size_t xlen = sizeof(*x) + 4 + 3 + vlen;
	hdr(x, CLP_REQ_INDEX_PUT, (int32_t)xlen, 31);
	x->namelen = 4;
	x->keylen = 3;
	x->flags = 0;
	x->vallen = (uint32_t)vlen;
	garbage(c, "INDEX_PUT value of 65 KiB+", big, xlen, 31);
	/* namelen above COROLEASE_NAME_MAX */
	struct clp_req_name *nm = (void *)big;
	size_t nlen = sizeof(*nm) + COROLEASE_NAME_MAX + 1;
	hdr(nm, CLP_REQ_SHOW, (int32_t)nlen, 32);
	nm->namelen = COROLEASE_NAME_MAX + 1;
	garbage(c, "SHOW namelen 1025", big, nlen, 32);
	/* FENCE_ACK node 0 */
	struct clp_req_node fa;
	memset(&fa, 0, sizeof(fa));
	hdr(&fa, CLP_REQ_FENCE_ACK, sizeof(fa), 33);
	garbage(c, "FENCE_ACK node 0", &fa, sizeof(fa), 33);
	sent_bad += 3;

	uint32_t node = 0;
	r = status(c, &node);
	CHECK(r == 0, "after %d malformed requests the connection still serves STATUS (node %u, %s)",
	      sent_bad, node, r == 1 ? "no answer" : r == 2 ? "bad cookie" : corolease_errname(r));

	/* 4. larger than CLP_MAX_MSG, on a connection of its own */
	{
		clt_conn_t *o = conn();
		CHECK(hello(o, CLP_VERSION, 15) == 0, "HELLO on the oversized connection");
		int sb = (int)sizeof(big) + 65536;
		bool forced = setsockopt(o->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof(sb)) == 0;
		hdr(big, CLP_REQ_STATUS, (int32_t)sizeof(big), 41);
		int s = send_raw(o, big, sizeof(big));
		if (!forced || s < 0) {
			printf("note: a %zu-byte packet could not be sent (%s): not root?\n", sizeof(big),
			       s < 0 ? strerror(-s) : "SO_SNDBUFFORCE refused");
		} else {
			r = recv_result(o, NULL, NULL, 3000, NULL, NULL);
			CHECK(r == 1, "a %zu-byte packet (> %u): the daemon closed that connection (%s)",
			      sizeof(big), CLP_MAX_MSG, r == 1 ? "closed" : corolease_errname(r));
		}
		clt_close(o);
	}
	r = status(c, &node);
	CHECK(r == 0, "the other connection still serves STATUS after the oversized packet");

	/* 5. keep sending garbage until disconnected */
	int k;
	bool gone = false;
	for (k = 0; k < 64; k++) {
		hdr(&base, 77, sizeof(base), 100 + (uint64_t)k);
		if (send_raw(c, &base, sizeof(base)) < 0) {
			gone = true;
			break;
		}
		r = recv_result(c, NULL, NULL, 2000, NULL, NULL);
		if (r == 1) {
			gone = true;
			break;
		}
		if (r != COROLEASE_EPROTO) {
			CHECK(0, "garbage #%d answered %s", k, corolease_errname(r));
			break;
		}
	}
	CHECK(gone, "disconnected after %d malformed requests in total (limit 16)", sent_bad + k + 1);
	clt_close(c);

	/* 6. flood without reading */
	c = conn();
	if (hello(c, CLP_VERSION, 1) != 0) {
		CHECK(0, "second connection HELLO");
		return 1;
	}
	int sent = 0;
	for (k = 0; k < 2000; k++) {
		memset(big, 0xA5, 512);
		hdr(big, 1000 + k, 512, (uint64_t)k);
		if (send_raw(c, big, 512) < 0)
			break;
		sent++;
	}
	gone = false;
	for (k = 0; k < 2200; k++) {
		if (recv_result(c, NULL, NULL, 2000, NULL, NULL) == 1) {
			gone = true;
			break;
		}
	}
	CHECK(gone, "flood of %d random-type 512-byte messages: disconnected (%d answers read)", sent, k);
	clt_close(c);

	/* a size larger than the bytes really sent: the packet's size decides (EPROTO) */
	c = conn();
	if (hello(c, CLP_VERSION, 1) == 0) {
		struct clp_req_acquire a2;
		memset(&a2, 0, sizeof(a2));
		hdr(&a2, CLP_REQ_SHOW, sizeof(struct clp_req_name) + 10, 51);
		((struct clp_req_name *)&a2)->namelen = 10;
		send_raw(c, &a2, sizeof(struct clp_req_name));
		r = recv_result(c, NULL, NULL, 3000, NULL, NULL);
		CHECK(r == COROLEASE_EPROTO, "SHOW whose hdr.size claims 10 name bytes that were not "
		      "sent -> %s", r == 1 ? "no answer" : corolease_errname(r));
	}
	clt_close(c);

	/* 7. a fresh, well-behaved connection */
	c = conn();
	r = hello(c, CLP_VERSION, 2);
	CHECK(r == 0, "fresh connection: HELLO -> %s", r == 1 ? "no answer" : corolease_errname(r));
	r = status(c, &node);
	CHECK(r == 0, "fresh connection: STATUS -> %s (node %u)",
	      r == 1 ? "no answer" : r == 2 ? "bad cookie" : corolease_errname(r), node);
	clt_close(c);

	/* 8. FENCE_ACK with a flag it does not know, or its padding set */
	c = conn();
	if (hello(c, CLP_VERSION, 3) != 0) {
		CHECK(0, "third connection HELLO");
		return 1;
	}
	memset(&fa, 0, sizeof(fa));
	hdr(&fa, CLP_REQ_FENCE_ACK, sizeof(fa), 61);
	fa.node = 5;
	fa.flags = 0x80;
	garbage(c, "FENCE_ACK flags 0x80", &fa, sizeof(fa), 61);
	fa.flags = COROLEASE_FENCE_FORCE;
	fa.pad[1] = 1;
	garbage(c, "FENCE_ACK padding not zero", &fa, sizeof(fa), 61);
	clt_close(c);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
