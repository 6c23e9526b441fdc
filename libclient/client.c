/*
 * client.c - libcorolease: the client side of the coroleased IPC protocol.
 * Contracts: corolease.h and corolease_admin.h.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * One corolease_t is one connection to coroleased's socket (transport.h).
 * Requests go out as packets; every answer and notification comes back on
 * the same socket (see include/corolease/ipc.h), so the whole library is driven by
 * reading events in process(): from corolease_dispatch() for the embedding
 * event loop, and from wait_until() for the synchronous calls, which poll
 * the same fd until their own answer is in.
 *
 * Callbacks, the sd-bus way: handling an event updates the library's state
 * at once but only queues the user's callback (h->cbq, oldest first);
 * corolease_dispatch() runs the queue.  No user code runs inside process(),
 * so it is never re-entered and receives into one buffer.  The functions a
 * list call hands its records to run in the waiting call itself, between
 * two rounds of process() (struct batch).
 *
 * A lease's callbacks are embedded in the lease (one of each kind queued
 * at a time), so queuing them cannot fail and releasing the lease unlinks
 * them.  An index change is queued as a malloc'd copy; when that fails the
 * connection is given up and reported lost, rather than the notification
 * dropped silently.
 *
 * Every event is length-checked against corolease/ipc.h before use; a
 * malformed answer fails its request with COROLEASE_EPROTO, anything else
 * malformed is dropped.
 *
 * Validity without dispatch: corolease_lease_valid() reads the daemon's
 * validity page (its deadline and the lease's revocation slot) and polls
 * the fd for a hang-up; see "The validity page" in corolease/ipc.h.
 *
 * Bounded calls: connecting (socket and HELLO) takes at
 * most CONNECT_TIMEOUT_US (or what corolease_connect_timeout() says); an
 * acquire with a timeout returns by it (plus ACQUIRE_GRACE_US with
 * COROLEASE_WAIT); every other synchronous call by the handle's call
 * timeout (corolease_set_timeout(), none by default); every wait polls
 * the fd, whose POLLHUP ends it with COROLEASE_EDISCONNECTED as soon as
 * the daemon dies.  A call given up on leaves its request behind: the
 * late answer's cookie is unknown by then and dropped.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "corolease.h"
#include "corolease_admin.h"
#include "transport.h"
#include "corolease/htab.h"
#include "corolease/ipc.h"
#include "corolease/list.h"

#define CL_PUBLIC __attribute__((visibility("default")))

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Time corolease_connect() may take in all (libqb's handshake and HELLO). */
#define CONNECT_TIMEOUT_US   (10u * 1000000u)
/* the longest pause between connects refused with -EAGAIN (corolease_connect_timeout()) */
#define CONNECT_RETRY_MAX_US (50u * 1000u)
/*
 * Grace added to a WAIT acquire's timeout for the library's own deadline:
 * the daemon times the wait out itself (and names the holder), the
 * library's deadline only guards against a daemon that never answers.
 */
#define ACQUIRE_GRACE_US     500000u
/* Retry interval for requests the daemon's flow control turned away. */
#define OUTQ_RETRY_US        10000u
/* Events one process() round receives at most: the embedding loop breathes. */
#define PROCESS_MAX_EVENTS   1024

enum lease_state {
	LS_PENDING,     /* ACQUIRE sent, no answer yet */
	LS_GRANTED,
	LS_FAILED,      /* denied, timed out or disconnected; freed soon */
};

enum cb_kind { CB_ACQUIRED, CB_WANTED, CB_REVOKED, CB_DISCONNECTED, CB_INDEX, CB_WRITE };

/* One queued callback.  Not queued, its link is a list of its own. */
struct cbq {
	struct cl_list link;          /* h->cbq */
	uint64_t seq;                 /* queue order: dispatch runs what came before it */
	enum cb_kind kind;
};

/* A queued index_changed, with copies of the name and key in data[]. */
struct index_cb {
	struct cbq q;
	uint64_t version;
	uint32_t writer;
	bool deleted;
	uint16_t namelen;
	uint8_t keylen;
	unsigned char data[];
};

/*
 * An asynchronous index write (corolease_index_put_async()): in h->writes
 * (by cookie) until its RESULT comes, then queued on h->cbq until its
 * function runs.  It names its lease by the lease's cookie, so a lease
 * released meanwhile is simply not found (the function gets NULL).
 */
struct write_cb {
	struct cbq q;
	struct cl_hnode hn;           /* h->writes, hashed by cookie, while unanswered */
	struct cl_list link;          /* h->write_order, while unanswered: cookie order */
	uint64_t cookie;              /* of the INDEX_PUT / INDEX_DEL */
	uint64_t lease_cookie;
	uint64_t version;
	corolease_write_fn fn;
	void *ctx;
	uint32_t req_type;
	int err;
};

struct corolease_lease {
	corolease_t *h;
	struct cl_hnode hn;           /* h->by_cookie, hashed by cookie */
	struct cl_list link;          /* h->leases */
	struct cbq cb_acquired, cb_wanted, cb_revoked;
	uint64_t cookie;              /* of the ACQUIRE */
	enum lease_state state;
	bool revoked;
	bool sync;            /* a synchronous acquire waits on it: no callback */
	bool in_cb;           /* inside its failing `acquired` callback */
	int err;              /* LS_FAILED: why */
	uint32_t owner;       /* holder named by a denial or QUEUED */
	uint32_t wanted_by;   /* node of the last WANTED */
	uint64_t epoch;
	uint32_t slot;        /* LS_GRANTED: its revocation slot in the page */
	uint64_t slot_word;   /* LS_GRANTED: the slot's word while the hold is valid */
	uint64_t deadline;    /* library's acquire deadline (us), 0 = none */
	uint64_t revoke_deadline;
	int mode;
	void *udata;
	size_t namelen;
	unsigned char name[]; /* namelen bytes + NUL */
};

/* ITEMS records received for a list call, not yet handed to its function. */
struct batch {
	struct cl_list link;          /* pending->batches */
	uint32_t count;
	size_t len;
	unsigned char rec[];
};

/* A synchronous request waiting for its RESULT. */
struct pending {
	struct cl_list link;          /* h->pending */
	uint64_t cookie;
	uint32_t req_type;
	bool done;
	int err;
	unsigned char *payload;       /* malloc'd copy of the RESULT payload */
	size_t len;
	/* LIST / INDEX_LIST: each record of the ITEMS events */
	struct cl_list batches;
	int (*item)(struct pending *p, const unsigned char *rec, size_t len, size_t *used_r);
	void *fn;
	void *ctx;
	uint64_t nitems;
	int fn_ret;                   /* first non-zero return of the user's fn */
	int item_err;                 /* malformed records, or no memory for them */
};

/*
 * A request not sent yet: one the daemon's flow control refused (sent again
 * from dispatch), or one made while dispatch runs callbacks (sent with the
 * others they made when they are done).
 */
struct outmsg {
	struct cl_list link;          /* h->outq */
	size_t len;
	unsigned char data[];
};

struct corolease {
	int fd;                       /* the socket (transport.h), or -1 */
	uint32_t nodeid;
	bool dead;                    /* connection lost (or never usable) */
	bool dead_reported;           /* pending calls failed, `disconnected` queued */
	uint64_t call_timeout_us;     /* corolease_set_timeout(); 0: none */
	uint64_t next_cookie;
	size_t bufsize;               /* largest event */
	unsigned char *rx;            /* receive buffer (process() never nests) */

	/* the validity page (mapped read-only), as the HELLO described it */
	const struct clp_shm_page *page;
	const uint64_t *slots;
	size_t page_len;
	uint64_t incarnation;
	uint32_t nslots;
	uid_t server_uid;             /* the daemon's, checked at connect */

	struct corolease_callbacks cb;
	void *udata;

	struct cl_htab by_cookie;     /* every lease handle */
	struct cl_htab writes;        /* async index writes awaiting their RESULT */
	struct cl_list write_order;   /* the same writes, oldest first */
	struct cl_list leases;        /* the same, in acquire order */
	struct cl_list pending;
	struct cl_list outq;
	unsigned user_corks;          /* corolease_cork() less corolease_uncork(): requests wait in outq */
	unsigned in_callbacks;        /* dispatch is running callbacks: what they ask waits until it is done */
	bool outq_fresh;              /* outq has requests no send has tried yet */
	struct cl_list cbq;           /* queued callbacks, oldest first */
	uint64_t cb_seq;              /* seq of the next queued callback */
	struct cbq cb_disconnected;
};

/* ------------------------------------------------------------------------ */
/* small helpers */

/* The protocol's clock (corolease/ipc.h): CLOCK_BOOTTIME in microseconds. */
static uint64_t now_us(void)
{
	return clp_now_us();
}

/*
 * True when the fd reports the connection gone (POLLHUP, POLLERR,
 * POLLNVAL), or cannot be asked: the daemon crashed or closed it.  One
 * poll(2) with no events and no wait.
 */
static bool hung_up(const corolease_t *h)
{
	struct pollfd p = { .fd = h->fd, .events = 0 };
	int n = poll(&p, 1, 0);
	if (n < 0)
		return errno != EINTR;
	return n > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static bool is_disconnect(long err)
{
	return err < 0 && err != -EAGAIN && err != -ETIMEDOUT && err != -EINTR &&
	       err != -EMSGSIZE && err != -ENOMSG && err != -EINVAL;
}

static uint64_t new_cookie(corolease_t *h)
{
	uint64_t c = h->next_cookie++;
	if (c == 0)   /* 0 means "unsolicited"; skip it on wrap */
		c = h->next_cookie++;
	return c;
}

/* ---- the callback queue ---- */

static void cbq_init(struct cbq *q, enum cb_kind kind)
{
	cl_list_init(&q->link);
	q->seq = 0;
	q->kind = kind;
}

/* Queues q at the tail unless it is queued already (then it keeps its place). */
static void cbq_push(corolease_t *h, struct cbq *q)
{
	if (!cl_list_empty(&q->link))
		return;
	q->seq = h->cb_seq++;
	cl_list_add_tail(&h->cbq, &q->link);
}

/* ---- lease handles ---- */

static void lease_link(corolease_t *h, struct corolease_lease *l)
{
	cl_htab_add(&h->by_cookie, &l->hn, l->cookie);
	cl_list_add_tail(&h->leases, &l->link);
}

/* Unlinks and frees a linked lease handle, dropping its queued callbacks. */
static void lease_free(struct corolease_lease *l)
{
	cl_htab_del(&l->h->by_cookie, &l->hn);
	cl_list_del(&l->link);
	cl_list_del(&l->cb_acquired.link);
	cl_list_del(&l->cb_wanted.link);
	cl_list_del(&l->cb_revoked.link);
	free(l);
}

static struct corolease_lease *lease_by_cookie(const corolease_t *h, uint64_t cookie)
{
	if (cookie == 0)
		return NULL;
	for (struct cl_hnode *e = cl_htab_first(&h->by_cookie, cookie); e;
	     e = cl_htab_next(e, cookie)) {
		struct corolease_lease *l = cl_container_of(e, struct corolease_lease, hn);
		if (l->cookie == cookie)
			return l;
	}
	return NULL;
}

#define lease_of(l) cl_list_entry(l, struct corolease_lease, link)

/* A granted lease by name, for notifications without a cookie. */
static struct corolease_lease *lease_by_name(const corolease_t *h, const void *name, size_t len)
{
	const struct cl_list *it;
	cl_list_foreach(it, &h->leases) {
		struct corolease_lease *l = lease_of(it);
		if (l->state == LS_GRANTED && l->namelen == len && memcmp(l->name, name, len) == 0)
			return l;
	}
	return NULL;
}

/* ---- pending calls ---- */

static void pending_init(struct pending *p)
{
	memset(p, 0, sizeof(*p));
	cl_list_init(&p->link);
	cl_list_init(&p->batches);
}

static struct pending *pending_by_cookie(const corolease_t *h, uint64_t cookie)
{
	const struct cl_list *it;
	cl_list_foreach(it, &h->pending) {
		struct pending *p = cl_list_entry(it, struct pending, link);
		if (p->cookie == cookie)
			return p;
	}
	return NULL;
}

/*
 * Hands p's received records to its function, outside process(): the
 * function may call into the library (and so receive further batches).
 */
static void pending_run_batches(struct pending *p)
{
	struct cl_list *first;
	while ((first = cl_list_first(&p->batches))) {
		struct batch *b = cl_list_entry(first, struct batch, link);
		cl_list_del(first);
		const unsigned char *rec = b->rec;
		size_t left = b->len;
		for (uint32_t i = 0; i < b->count && !p->item_err; i++) {
			size_t used;
			if (p->item(p, rec, left, &used) < 0) {
				p->item_err = COROLEASE_EPROTO;
				break;
			}
			rec += used;
			left -= used;
			p->nitems++;
		}
		if (left && !p->item_err)
			p->item_err = COROLEASE_EPROTO;
		free(b);
	}
}

/* ------------------------------------------------------------------------ */
/* sending */

/*
 * Sends what waits in outq, in order, up to CLTP_SENDMANY_MAX packets a
 * system call.  0, or negative on a dead link.
 */
static int outq_flush(corolease_t *h)
{
	h->outq_fresh = false;
	while (!cl_list_empty(&h->outq)) {
		struct iovec pkt[CLTP_SENDMANY_MAX];
		struct outmsg *m[CLTP_SENDMANY_MAX];
		unsigned n = 0;
		struct cl_list *it;
		cl_list_foreach(it, &h->outq) {
			m[n] = cl_list_entry(it, struct outmsg, link);
			pkt[n].iov_base = m[n]->data;
			pkt[n].iov_len = m[n]->len;
			if (++n == CLTP_SENDMANY_MAX)
				break;
		}
		int r = cltp_sendmany(h->fd, pkt, n);
		if (r == -EAGAIN)
			return 0;
		/* what went, or the first when it could not go (as one at a time dropped it) */
		unsigned done = r > 0 ? (unsigned)r : 1;
		for (unsigned i = 0; i < done; i++) {
			cl_list_del(&m[i]->link);
			free(m[i]);
		}
		if (r < 0 && is_disconnect(r)) {
			h->dead = true;
			return COROLEASE_EDISCONNECTED;
		}
		if (r > 0 && done < n)
			return 0;   /* the rest had no room: dispatch sends them again */
	}
	return 0;
}

/*
 * Sends a request: iov[0] starts with struct clp_req_base, whose header and
 * cookie are filled in here.  Queues it when flow control says -EAGAIN, so
 * the order of requests is always kept, while the user corked h, and while
 * dispatch runs callbacks (what they ask goes when they are done): queued
 * requests go many a system call.  Returns 0, -EMSGSIZE, -ENOMEM or
 * COROLEASE_EDISCONNECTED (dispatch reports the loss).
 */
static int send_req(corolease_t *h, uint32_t type, uint64_t cookie,
		    struct iovec *iov, unsigned niov)
{
	size_t total = 0;
	struct clp_req_base *b = iov[0].iov_base;

	if (h->dead)
		return COROLEASE_EDISCONNECTED;
	for (unsigned i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (total > CLP_MAX_MSG || total > (size_t)INT32_MAX)
		return -EMSGSIZE;
	b->hdr.id = (int32_t)type;
	b->hdr.size = (int32_t)total;
	b->cookie = cookie;

	bool tried = cl_list_empty(&h->outq) && !h->user_corks && !h->in_callbacks;
	if (tried) {
		ssize_t r = cltp_sendv(h->fd, iov, niov);
		if (r >= 0)
			return 0;
		if (r != -EAGAIN) {
			if (is_disconnect(r)) {
				h->dead = true;
				return COROLEASE_EDISCONNECTED;
			}
			return (int)r;
		}
	}
	struct outmsg *m = malloc(sizeof(*m) + total);
	if (!m)
		return -ENOMEM;
	m->len = total;
	size_t off = 0;
	for (unsigned i = 0; i < niov; i++) {
		if (iov[i].iov_len)
			memcpy(m->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	cl_list_add_tail(&h->outq, &m->link);
	if (!tried)
		h->outq_fresh = true;   /* refused by flow control, it waits for the resend */
	return 0;
}

/* Drops the request with cookie from outq, if no send has taken it yet; true if it did. */
static bool outq_drop(corolease_t *h, uint32_t type, uint64_t cookie)
{
	struct cl_list *it;
	cl_list_foreach(it, &h->outq) {
		struct outmsg *m = cl_list_entry(it, struct outmsg, link);
		struct clp_req_base b;
		memcpy(&b, m->data, sizeof(b));
		if ((uint32_t)b.hdr.id == type && b.cookie == cookie) {
			cl_list_del(&m->link);
			free(m);
			return true;
		}
	}
	return false;
}

static int send_release(corolease_t *h, const struct corolease_lease *l)
{
	struct clp_req_name r;
	memset(&r, 0, sizeof(r));
	r.namelen = (uint16_t)l->namelen;
	r.flags = CLP_RELEASE_QUIET;   /* nothing waits for its answer */
	struct iovec iov[2] = { { &r, sizeof(r) }, { (void *)l->name, l->namelen } };
	return send_req(h, CLP_REQ_RELEASE, new_cookie(h), iov, 2);
}

/* ------------------------------------------------------------------------ */
/* receiving: update the state, queue the callbacks */

/*
 * Fails a pending acquire: a synchronous caller picks the result up; an
 * async one gets its `acquired` callback queued (the handle is freed after
 * it runs).
 */
static void fail_pending_acquire(corolease_t *h, struct corolease_lease *l, int err,
				 uint32_t owner)
{
	l->state = LS_FAILED;
	l->err = err;
	l->deadline = 0;
	if (owner)
		l->owner = owner;
	if (!l->sync)
		cbq_push(h, &l->cb_acquired);
}

static void complete(struct pending *p, int err, const unsigned char *payload, size_t len)
{
	if (p->done)
		return;
	p->done = true;
	p->err = err;
	if (len && !err) {
		p->payload = malloc(len);
		if (!p->payload) {
			p->err = -ENOMEM;
			return;
		}
		memcpy(p->payload, payload, len);
		p->len = len;
	}
}

/* ---- async index writes ---- */

static struct write_cb *write_by_cookie(const corolease_t *h, uint64_t cookie)
{
	if (cookie == 0 || cl_list_empty(&h->write_order))
		return NULL;
	for (struct cl_hnode *e = cl_htab_first(&h->writes, cookie); e; e = cl_htab_next(e, cookie)) {
		struct write_cb *w = cl_container_of(e, struct write_cb, hn);
		if (w->cookie == cookie)
			return w;
	}
	return NULL;
}

/* w's answer came (or never will: err): out of h->writes, its function queued. */
static void write_done(corolease_t *h, struct write_cb *w, int err, const unsigned char *pl,
		       size_t plen)
{
	cl_htab_del(&h->writes, &w->hn);
	cl_list_del(&w->link);
	w->err = err;
	if (err == 0) {
		if (plen == sizeof(w->version))
			memcpy(&w->version, pl, sizeof(w->version));
		else
			w->err = COROLEASE_EPROTO;
	}
	cbq_push(h, &w->q);
}

/* The daemon's refusal of a new connection (corolease/ipc.h): a RESULT of HELLO with cookie 0. */
static bool refused(const struct clp_ev_result *r)
{
	return r->b.hdr.id == CLP_EV_RESULT && r->b.cookie == 0 && r->req_type == CLP_REQ_HELLO &&
	       r->err < 0;
}

static void on_result(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_result r;
	if (len < sizeof(r))
		return;
	memcpy(&r, buf, sizeof(r));
	const unsigned char *pl = buf + sizeof(r);
	size_t plen = len - sizeof(r);

	if (refused(&r)) {
		/* the daemon refused the connection (corolease/ipc.h): the HELLO fails with why */
		const struct cl_list *it;
		cl_list_foreach(it, &h->pending) {
			struct pending *hp = cl_list_entry(it, struct pending, link);
			if (hp->req_type == CLP_REQ_HELLO) {
				complete(hp, r.err, NULL, 0);
				break;
			}
		}
		return;
	}
	struct pending *p = pending_by_cookie(h, r.b.cookie);
	if (p) {
		if (r.req_type != p->req_type)
			complete(p, COROLEASE_EPROTO, NULL, 0);
		else
			complete(p, r.err, pl, plen);
		return;
	}
	struct write_cb *w = write_by_cookie(h, r.b.cookie);
	if (w) {
		write_done(h, w, r.req_type != w->req_type ? COROLEASE_EPROTO : r.err, pl, plen);
		return;
	}
	struct corolease_lease *l = lease_by_cookie(h, r.b.cookie);
	if (!l || l->state != LS_PENDING)
		return;    /* answers to fire-and-forget requests, stale answers */
	uint32_t owner = 0;
	if (plen == sizeof(owner))
		memcpy(&owner, pl, sizeof(owner));
	if (r.req_type != CLP_REQ_ACQUIRE || r.err >= 0 || (plen != 0 && plen != sizeof(owner))) {
		/* an ACQUIRE is answered by GRANTED, or by a RESULT with an error */
		send_release(h, l);
		fail_pending_acquire(h, l, COROLEASE_EPROTO, 0);
		return;
	}
	fail_pending_acquire(h, l, r.err, owner);
}

/*
 * Decodes a clp_ev_lease event; returns the lease it is about (checked
 * against the name) or NULL.  *e_r gets the fixed part.
 */
static struct corolease_lease *ev_lease_target(corolease_t *h, const unsigned char *buf,
					       size_t len, struct clp_ev_lease *e_r,
					       bool *bad_r)
{
	*bad_r = false;
	if (len < sizeof(*e_r))
		return NULL;
	memcpy(e_r, buf, sizeof(*e_r));
	const unsigned char *name = buf + sizeof(*e_r);
	struct corolease_lease *l = lease_by_cookie(h, e_r->b.cookie);
	if (len != sizeof(*e_r) + e_r->namelen || e_r->namelen > COROLEASE_NAME_MAX) {
		*bad_r = true;
		return l;
	}
	if (!l && e_r->b.cookie == 0)
		return lease_by_name(h, name, e_r->namelen);
	if (l && (l->namelen != e_r->namelen || memcmp(l->name, name, l->namelen) != 0))
		*bad_r = true;
	return l;
}

static void on_granted(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_lease e;
	bool bad;
	struct corolease_lease *l = ev_lease_target(h, buf, len, &e, &bad);
	if (!l || l->state != LS_PENDING)
		return;
	if (bad || (e.mode != COROLEASE_EX && e.mode != COROLEASE_SH)) {
		send_release(h, l);
		fail_pending_acquire(h, l, COROLEASE_EPROTO, 0);
		return;
	}
	if (e.slot >= h->nslots || !(e.slot_word & CLP_SLOT_VALID)) {
		/* a grant without a usable slot could never be valid */
		send_release(h, l);
		fail_pending_acquire(h, l, COROLEASE_EPROTO, 0);
		return;
	}
	l->state = LS_GRANTED;
	l->epoch = e.epoch;
	l->mode = e.mode;
	l->slot = e.slot;
	l->slot_word = e.slot_word;
	l->deadline = 0;
	if (!l->sync)
		cbq_push(h, &l->cb_acquired);
}

static void on_queued(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_lease e;
	bool bad;
	struct corolease_lease *l = ev_lease_target(h, buf, len, &e, &bad);
	if (l && !bad && l->state == LS_PENDING)
		l->owner = e.node;
}

static void on_wanted(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_lease e;
	bool bad;
	struct corolease_lease *l = ev_lease_target(h, buf, len, &e, &bad);
	if (!l || bad || l->state != LS_GRANTED || l->revoked)
		return;
	l->wanted_by = e.node;
	if (h->cb.wanted)
		cbq_push(h, &l->cb_wanted);
}

static void on_revoked(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_lease e;
	bool bad;
	struct corolease_lease *l = ev_lease_target(h, buf, len, &e, &bad);
	if (!l || l->state != LS_GRANTED || l->revoked)
		return;
	/* even a malformed revoke is a revoke: safety first */
	l->revoked = true;
	l->revoke_deadline = bad ? 0 : e.deadline;
	if (h->cb.revoked)
		cbq_push(h, &l->cb_revoked);
}

static void on_index_changed(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_index e;
	if (len < sizeof(e) || !h->cb.index_changed)
		return;
	memcpy(&e, buf, sizeof(e));
	if (e.namelen > COROLEASE_NAME_MAX || e.keylen == 0 ||
	    len != sizeof(e) + e.namelen + e.keylen)
		return;
	struct index_cb *x = malloc(sizeof(*x) + e.namelen + e.keylen);
	if (!x) {
		h->dead = true;   /* never lose a notification silently */
		return;
	}
	cbq_init(&x->q, CB_INDEX);
	x->version = e.version;
	x->writer = e.writer;
	x->deleted = e.deleted != 0;
	x->namelen = e.namelen;
	x->keylen = e.keylen;
	memcpy(x->data, buf + sizeof(e), (size_t)e.namelen + e.keylen);
	cbq_push(h, &x->q);
}

/* Keeps an ITEMS batch for its list call; true if one was kept. */
static bool on_items(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_items e;
	if (len < sizeof(e))
		return false;
	memcpy(&e, buf, sizeof(e));
	struct pending *p = pending_by_cookie(h, e.b.cookie);
	if (!p || p->done || !p->item || p->item_err)
		return false;
	struct batch *b = malloc(sizeof(*b) + len - sizeof(e));
	if (!b) {
		p->item_err = -ENOMEM;
		return false;
	}
	b->count = e.count;
	b->len = len - sizeof(e);
	memcpy(b->rec, buf + sizeof(e), b->len);
	cl_list_add_tail(&p->batches, &b->link);
	return true;
}

/* Handles one event; true when a list batch waits for its call (stop receiving). */
static bool process_event(corolease_t *h, const unsigned char *buf, size_t len)
{
	struct clp_ev_base b;
	if (len < sizeof(b))
		return false;
	memcpy(&b, buf, sizeof(b));
	if (b.hdr.size < 0 || (size_t)b.hdr.size != len)
		return false;
	switch (b.hdr.id) {
	case CLP_EV_RESULT:        on_result(h, buf, len); break;
	case CLP_EV_GRANTED:       on_granted(h, buf, len); break;
	case CLP_EV_QUEUED:        on_queued(h, buf, len); break;
	case CLP_EV_WANTED:        on_wanted(h, buf, len); break;
	case CLP_EV_REVOKED:       on_revoked(h, buf, len); break;
	case CLP_EV_INDEX_CHANGED: on_index_changed(h, buf, len); break;
	case CLP_EV_ITEMS:         return on_items(h, buf, len);
	default:                   break;   /* unknown: newer daemon, ignore */
	}
	return false;
}

/* Acquires whose library deadline passed: -ETIMEDOUT and cancel. */
static void run_timeouts(corolease_t *h)
{
	uint64_t now = now_us();
	const struct cl_list *it;
	cl_list_foreach(it, &h->leases) {
		struct corolease_lease *l = lease_of(it);
		if (l->state == LS_PENDING && l->deadline && l->deadline <= now) {
			/* an ACQUIRE still queued here never reached the daemon: nothing to cancel */
			if (!h->dead && !outq_drop(h, CLP_REQ_ACQUIRE, l->cookie))
				send_release(h, l);
			fail_pending_acquire(h, l, -ETIMEDOUT, 0);
		}
	}
}

/* The connection is gone: fail everything pending, queue `disconnected` once. */
static void report_disconnect(corolease_t *h)
{
	h->dead = true;
	if (h->dead_reported)
		return;
	h->dead_reported = true;
	const struct cl_list *it;
	cl_list_foreach(it, &h->pending)
		complete(cl_list_entry(it, struct pending, link), COROLEASE_EDISCONNECTED, NULL, 0);
	cl_list_foreach(it, &h->leases) {
		struct corolease_lease *l = lease_of(it);
		if (l->state == LS_PENDING)
			fail_pending_acquire(h, l, COROLEASE_EDISCONNECTED, 0);
	}
	/* in the order they were made in */
	struct cl_list *first;
	while ((first = cl_list_first(&h->write_order)))
		write_done(h, cl_list_entry(first, struct write_cb, link), COROLEASE_EDISCONNECTED,
			   NULL, 0);
	if (h->cb.disconnected)
		cbq_push(h, &h->cb_disconnected);
}

/*
 * Receives and handles the events available now (no callback runs), runs
 * due timeouts and sends what waits in outq unless the user corked h (a
 * dispatch or a call from a callback sends what earlier callbacks asked).
 * With done, stops receiving once done(arg) holds: a synchronous call whose
 * answer has come reads no further, so the usual last receive, the one that
 * finds the socket empty, is not made (what follows the answer stays
 * queued in the socket, whose fd the caller's loop sees readable).  With
 * wait, the first receive waits for an event, with no time limit
 * (cltp_recv_wait()).  Returns the number of events,
 * COROLEASE_EDISCONNECTED, or -ENOMEM (that wait could not be made).
 */
static int process_until(corolease_t *h, bool (*done)(const void *arg), const void *arg,
			 bool wait)
{
	int n = 0;

	if (!h->dead && !h->user_corks)
		outq_flush(h);
	while (!h->dead && n < PROCESS_MAX_EVENTS && !(done && done(arg))) {
		ssize_t r = wait && n == 0 ? cltp_recv_wait(h->fd, h->rx, h->bufsize)
					   : cltp_recv(h->fd, h->rx, h->bufsize);
		if (r == -EMSGSIZE)
			continue;   /* no event is that large: dropped, as malformed */
		if (r < 0) {
			if (is_disconnect(r))
				h->dead = true;
			else if (r == -ENOMEM && wait)
				n = -ENOMEM;   /* the wait itself failed: the caller's error */
			break;
		}
		n++;
		if (process_event(h, h->rx, (size_t)r))
			break;   /* let the waiting list call take its records first */
	}
	run_timeouts(h);
	if (h->dead) {
		report_disconnect(h);
		return COROLEASE_EDISCONNECTED;
	}
	return n;
}

static int process(corolease_t *h)
{
	return process_until(h, NULL, NULL, false);
}

/* Runs one queued callback (already unlinked). */
static void run_callback(corolease_t *h, struct cbq *q)
{
	struct corolease_lease *l;
	struct index_cb *x;

	switch (q->kind) {
	case CB_ACQUIRED:
		l = cl_container_of(q, struct corolease_lease, cb_acquired);
		if (l->state == LS_GRANTED) {
			if (h->cb.acquired)
				h->cb.acquired(h, l, 0, h->udata);
			return;
		}
		l->in_cb = true;   /* corolease_release() leaves it to us */
		if (h->cb.acquired)
			h->cb.acquired(h, l, l->err, h->udata);
		lease_free(l);
		return;
	case CB_WANTED:
		l = cl_container_of(q, struct corolease_lease, cb_wanted);
		if (h->cb.wanted)
			h->cb.wanted(h, l, l->wanted_by, h->udata);
		return;
	case CB_REVOKED:
		l = cl_container_of(q, struct corolease_lease, cb_revoked);
		if (h->cb.revoked)
			h->cb.revoked(h, l, h->udata);
		return;
	case CB_DISCONNECTED:
		if (h->cb.disconnected)
			h->cb.disconnected(h, h->udata);
		return;
	case CB_WRITE: {
		struct write_cb *w = cl_container_of(q, struct write_cb, q);
		if (w->fn)
			w->fn(h, lease_by_cookie(h, w->lease_cookie), w->err, w->err ? 0 : w->version,
			      w->ctx);
		free(w);
		return;
	}
	case CB_INDEX:
		x = cl_container_of(q, struct index_cb, q);
		if (h->cb.index_changed)
			h->cb.index_changed(h, x->data, x->namelen, x->data + x->namelen, x->keylen,
					    x->version, x->deleted, x->writer, h->udata);
		free(x);
		return;
	}
}

/*
 * Runs, oldest first, the callbacks queued before seq end; those they
 * queue themselves wait for the next dispatch.  Returns how many ran.
 */
static int run_callbacks(corolease_t *h, uint64_t end)
{
	int n = 0;
	struct cl_list *first;
	while ((first = cl_list_first(&h->cbq))) {
		struct cbq *q = cl_list_entry(first, struct cbq, link);
		if (q->seq >= end)
			break;
		cl_list_del(first);
		run_callback(h, q);
		n++;
	}
	return n;
}

/* The earliest library deadline (acquire timeout, send retry), or UINT64_MAX. */
static uint64_t next_deadline(const corolease_t *h)
{
	uint64_t t = UINT64_MAX;
	const struct cl_list *it;
	cl_list_foreach(it, &h->leases) {
		const struct corolease_lease *l = lease_of(it);
		if (l->state == LS_PENDING && l->deadline && l->deadline < t)
			t = l->deadline;
	}
	if (!cl_list_empty(&h->outq) && !h->dead && !h->user_corks) {
		/* what callbacks asked and a dispatch in one of them has not sent yet: now */
		uint64_t r = h->outq_fresh ? now_us() : now_us() + OUTQ_RETRY_US;
		if (r < t)
			t = r;
	}
	return t;
}

/*
 * Processes events until done(arg) or deadline (us, UINT64_MAX = none);
 * done may do work of its own between rounds.  answered(arg), which only
 * looks (process_until() asks it after each event), says the answer is in:
 * receiving stops there.  Runs no callback.  Returns 0, -ETIMEDOUT,
 * COROLEASE_EDISCONNECTED or a poll(2) error.
 */
static int wait_until(corolease_t *h, bool (*done)(void *arg),
		      bool (*answered)(const void *arg), void *arg, uint64_t deadline)
{
	/*
	 * Every caller has just sent its request, whose answer cannot be here
	 * before the daemon has run: the first round waits before it reads (a
	 * read first would find the socket empty, one system call for nothing,
	 * on every call), in poll(2), or with no time limit in the next read.
	 * What did arrive meanwhile ends the wait at once.  With requests held
	 * back by flow control (or the link lost), the first round reads, which
	 * resends them, as before.
	 */
	bool read = !cl_list_empty(&h->outq) || h->dead, wait = false, pollerr = false;
	for (;; read = true) {
		if (read && h->user_corks && !h->dead)
			outq_flush(h);   /* corked: the call sends what waits, its own request last */
		int r = read ? process_until(h, answered, arg, wait) : 0;
		if (pollerr && r == 0 && !h->dead)
			h->dead = true;   /* the error left nothing to read: the next round reports it */
		wait = pollerr = false;
		if (done(arg))
			return 0;
		if (r < 0)
			return r;
		uint64_t now = now_us();
		/*
		 * Only after a read: a caller descheduled past its deadline
		 * between the send and here must still find an answer that came
		 * in time (the poll below then waits 0 ms, and the next round
		 * reads).
		 */
		if (read && now >= deadline)
			return -ETIMEDOUT;
		uint64_t t = next_deadline(h);
		/* corked or not, this call's own request may wait in outq: try again soon */
		if (!cl_list_empty(&h->outq) && !h->dead && now + OUTQ_RETRY_US < t)
			t = now + OUTQ_RETRY_US;
		if (deadline < t)
			t = deadline;
		int ms = -1;
		if (t != UINT64_MAX) {
			uint64_t d = t > now ? (t - now + 999) / 1000 : 0;
			ms = d > INT_MAX ? INT_MAX : (int)d;
		}
		if (ms < 0) {
			/*
			 * Nothing to wake for but the socket: the next round's first
			 * read waits in the kernel, one system call where the poll
			 * and the read took two (a limited wait stays a poll, whose
			 * timer is exact where a socket's receive timeout is not).
			 */
			wait = true;
			continue;
		}
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
			if (errno == ENOMEM)
				return -ENOMEM;
			h->dead = true;   /* the fd cannot be waited on: give the connection up */
		}
		if (pfd.revents & POLLNVAL)
			h->dead = true;   /* not a descriptor: the next round reports it */
		/*
		 * POLLHUP, POLLERR (the daemon closed with requests of ours
		 * unread): the next round reads what it sent before it went, as
		 * a wait in the receive does (helper-91: an answer already here
		 * was lost), then ENOTCONN.
		 */
		pollerr = pfd.revents & POLLERR;
	}
}

static bool pending_settled(void *arg)
{
	struct pending *p = arg;
	pending_run_batches(p);
	return p->done;
}

static bool pending_answered(const void *arg)
{
	return ((const struct pending *)arg)->done;
}

/* The deadline of a synchronous call that has none of its own. */
static uint64_t call_deadline(const corolease_t *h)
{
	return h->call_timeout_us ? now_us() + h->call_timeout_us : UINT64_MAX;
}

/*
 * Sends a request and waits for its RESULT.  p comes from pending_init()
 * (with item/fn/ctx set for a list); on return p->err holds the daemon's
 * err (or a local error) and p->payload the payload, which the caller frees.
 */
static int call(corolease_t *h, struct pending *p, uint32_t type,
		struct iovec *iov, unsigned niov, uint64_t deadline)
{
	if (h->dead)
		return p->err = COROLEASE_EDISCONNECTED;
	p->cookie = new_cookie(h);
	p->req_type = type;
	int r = send_req(h, type, p->cookie, iov, niov);
	if (r < 0)
		return p->err = r;
	cl_list_add_tail(&h->pending, &p->link);
	r = wait_until(h, pending_settled, pending_answered, p, deadline);
	cl_list_del(&p->link);   /* its batches all ran: done() runs them after each round */
	if (!p->done) {
		p->done = true;
		p->err = r ? r : COROLEASE_EDISCONNECTED;
	}
	if (!p->err && p->item_err)
		p->err = p->item_err;
	if (p->err) {
		free(p->payload);
		p->payload = NULL;
		p->len = 0;
	}
	return p->err;
}

static int check_name(const void *name, size_t namelen, bool allow_empty)
{
	if (namelen > COROLEASE_NAME_MAX || (namelen && !name) || (!namelen && !allow_empty))
		return -EINVAL;
	return 0;
}

/* A request with just a (possibly empty) name. */
static int call_name(corolease_t *h, struct pending *p, uint32_t type,
		     const void *name, size_t namelen, bool allow_empty)
{
	if (!h)
		return -EINVAL;
	int r = check_name(name, namelen, allow_empty);
	if (r)
		return r;
	struct clp_req_name req;
	memset(&req, 0, sizeof(req));
	req.namelen = (uint16_t)namelen;
	struct iovec iov[2] = { { &req, sizeof(req) }, { (void *)name, namelen } };
	return call(h, p, type, iov, namelen ? 2 : 1, call_deadline(h));
}

/* A request without arguments. */
static int call_bare(corolease_t *h, struct pending *p, uint32_t type)
{
	if (!h)
		return -EINVAL;
	struct clp_req_base req;
	memset(&req, 0, sizeof(req));
	struct iovec iov = { &req, sizeof(req) };
	return call(h, p, type, &iov, 1, call_deadline(h));
}

/*
 * Finishes a call whose successful answer is exactly size bytes (0: none):
 * copies it to out (if non-NULL) or fails with COROLEASE_EPROTO.  Frees
 * the payload; returns r otherwise.
 */
static int fixed_result(struct pending *p, int r, void *out, size_t size)
{
	if (r == 0) {
		if (p->len != size)
			r = COROLEASE_EPROTO;
		else if (out && size)
			memcpy(out, p->payload, size);
	}
	free(p->payload);
	return r;
}

/* ------------------------------------------------------------------------ */
/* connection */

/* Owned by root or the daemon's user, and not writable by group or others. */
static bool trusted_file(const corolease_t *h, const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == h->server_uid) &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * Who serves the connection: the kernel's word (SO_PEERCRED) must be root
 * or our own effective uid.  0 or COROLEASE_EUNTRUSTED.
 */
static int check_server(corolease_t *h)
{
	uid_t uid;
	pid_t pid;
	if (cltp_peer(h->fd, &uid, &pid) < 0 || (uid != 0 && uid != geteuid()))
		return COROLEASE_EUNTRUSTED;
	h->server_uid = uid;
	return 0;
}

/*
 * Maps the validity page the HELLO named (hp), after checking its directory
 * and the file (see corolease/ipc.h).  0, COROLEASE_EUNTRUSTED (owner or
 * mode), COROLEASE_EPROTO (missing, or not the page described), or -ENOMEM.
 */
static int map_page(corolease_t *h, const struct clp_hello_payload *hp)
{
	const char *path = hp->shm_path, *slash = strrchr(path, '/');
	if (path[0] != '/' || !slash || !slash[1] || hp->incarnation == 0 || hp->nslots == 0 ||
	    hp->nslots > CLP_SHM_SLOTS_MAX)
		return COROLEASE_EPROTO;
	char dir[sizeof(hp->shm_path)];
	size_t dlen = slash == path ? 1 : (size_t)(slash - path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return COROLEASE_EPROTO;
	struct stat st;
	int r = 0, fd = -1;
	if (fstat(dfd, &st) < 0)
		r = COROLEASE_EPROTO;
	else if (!trusted_file(h, &st))
		r = COROLEASE_EUNTRUSTED;
	else if ((fd = openat(dfd, slash + 1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		r = errno == ELOOP ? COROLEASE_EUNTRUSTED : COROLEASE_EPROTO;   /* a symlink */
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = COROLEASE_EUNTRUSTED;
	else if (!trusted_file(h, &st))
		r = COROLEASE_EUNTRUSTED;
	else if ((uint64_t)st.st_size != clp_shm_len(hp->nslots))
		r = COROLEASE_EPROTO;
	close(dfd);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	size_t len = clp_shm_len(hp->nslots);
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return errno == ENOMEM ? -ENOMEM : COROLEASE_EPROTO;
	const struct clp_shm_page *pg = m;
	if (__atomic_load_n(&pg->magic, __ATOMIC_ACQUIRE) != CLP_SHM_MAGIC ||
	    pg->version != CLP_VERSION || pg->incarnation != hp->incarnation ||
	    pg->nodeid != hp->nodeid || pg->nslots != hp->nslots) {
		munmap(m, len);
		return COROLEASE_EPROTO;
	}
	h->page = pg;
	h->slots = (const uint64_t *)((const char *)m + CLP_SHM_SLOTS_OFF);
	h->page_len = len;
	h->incarnation = hp->incarnation;
	h->nslots = hp->nslots;
	return 0;
}

/* The HELLO answer: node id and validity page.  0 or a connect error. */
static int hello_result(corolease_t *h, const struct pending *p)
{
	struct clp_hello_payload hp;
	if (p->len != sizeof(hp))
		return COROLEASE_EPROTO;
	memcpy(&hp, p->payload, sizeof(hp));
	if (hp.version != CLP_VERSION)
		return COROLEASE_EVERSION;
	if (hp.nodeid == 0 || !memchr(hp.shm_path, '\0', sizeof(hp.shm_path)))
		return COROLEASE_EPROTO;
	h->nodeid = hp.nodeid;
	return map_page(h, &hp);
}

/*
 * The daemon's socket RUN_DIR/file ($COROLEASE_RUN_DIR, else
 * CLP_DEFAULT_RUN_DIR), trusted only in a directory of root or of our
 * effective uid that nobody else may write (corolease/ipc.h): 0, -ENOENT
 * (no run directory: no daemon), COROLEASE_EUNTRUSTED or -ENAMETOOLONG.
 */
static int socket_path(char *path, size_t cap, const char *file)
{
	const char *dir = getenv("COROLEASE_RUN_DIR");
	if (!dir || dir[0] != '/')
		dir = CLP_DEFAULT_RUN_DIR;
	struct stat st;
	if (stat(dir, &st) < 0)
		return -ENOENT;
	if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return COROLEASE_EUNTRUSTED;
	int n = snprintf(path, cap, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * Connects to the daemon: through its socket for root (CLP_ROOT_SOCKET_FILE,
 * which it serves even while other users' connections wait for
 * descriptors) when we are root or own that socket, else, or when that
 * fails (an older daemon has none), through everybody's.
 */
static int connect_daemon(uint64_t deadline, int *fd_r)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	if (socket_path(path, sizeof(path), CLP_ROOT_SOCKET_FILE) == 0 && lstat(path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && (geteuid() == 0 || st.st_uid == geteuid()) &&
	    cltp_connect(path, deadline, fd_r) == 0)
		return 0;
	int r = socket_path(path, sizeof(path), CLP_SOCKET_FILE);
	return r < 0 ? r : cltp_connect(path, deadline, fd_r);
}

/*
 * The daemon's reason for closing a new connection (corolease/ipc.h: a
 * RESULT of type HELLO with cookie 0), when it said one before it closed
 * and our HELLO found the socket shut; else err.
 */
static int refusal(corolease_t *h, int err)
{
	for (int i = 0; i < 8; i++) {
		ssize_t n = cltp_recv(h->fd, h->rx, h->bufsize);
		if (n < 0)
			break;
		struct clp_ev_result rs;
		if ((size_t)n < sizeof(rs))
			continue;
		memcpy(&rs, h->rx, sizeof(rs));
		if (refused(&rs))
			return rs.err;
	}
	return err;
}

/* One connection and handshake, in a handle of its own: 0 and *h_r, or the error. */
static int connect_once(uint64_t deadline, corolease_t **h_r)
{
	corolease_t *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->next_cookie = 1;
	h->fd = -1;
	cl_list_init(&h->leases);
	cl_list_init(&h->pending);
	cl_list_init(&h->outq);
	cl_list_init(&h->cbq);
	cl_list_init(&h->write_order);
	cbq_init(&h->cb_disconnected, CB_DISCONNECTED);
	if (cl_htab_init(&h->by_cookie, 16) < 0) {
		free(h);
		return -ENOMEM;
	}
	if (cl_htab_init(&h->writes, 16) < 0) {
		cl_htab_fini(&h->by_cookie);
		free(h);
		return -ENOMEM;
	}
	h->bufsize = CLP_MAX_MSG;
	h->rx = malloc(h->bufsize);
	if (!h->rx) {
		corolease_close(h);
		return -ENOMEM;
	}
	/* close-on-exec: a child that execs must not keep the connection (and its leases) alive */
	int r = connect_daemon(deadline, &h->fd);
	if (r == 0)
		r = check_server(h);
	if (r == 0) {
		struct clp_req_hello req;
		memset(&req, 0, sizeof(req));
		req.version = CLP_VERSION;
		struct iovec iov = { &req, sizeof(req) };
		struct pending p;
		pending_init(&p);
		r = call(h, &p, CLP_REQ_HELLO, &iov, 1, deadline);
		if (r == 0)
			r = hello_result(h, &p);
		else if (r == COROLEASE_EDISCONNECTED)
			r = refusal(h, r);
		free(p.payload);
	}
	if (r < 0) {
		corolease_close(h);
		return r;
	}
	*h_r = h;
	return 0;
}

CL_PUBLIC int corolease_connect(corolease_t **h_r)
{
	return corolease_connect_timeout(h_r, 0);
}

CL_PUBLIC int corolease_connect_timeout(corolease_t **h_r, unsigned timeout_ms)
{
	if (!h_r)
		return -EINVAL;
	*h_r = NULL;
	uint64_t deadline = now_us() +
		(timeout_ms ? (uint64_t)timeout_ms * 1000u : CONNECT_TIMEOUT_US);
	/*
	 * A refusal with -EAGAIN (the handshake limits: too many connections
	 * of this user, or of all, have not said HELLO yet; or this user is
	 * over its share of the daemon's time and too many of its connections
	 * wait) passes: connecting again after a pause, 1 ms doubling to
	 * CONNECT_RETRY_MAX_US, until the deadline.  Without it, a burst of
	 * more than max_handshakes_per_uid connections of one user while the
	 * daemon was busy (a login storm of mail processes) saw most of them
	 * refused (helper-102's burst: 29 of 40).
	 */
	uint64_t pause_us = 1000;
	for (;;) {
		int r = connect_once(deadline, h_r);
		if (r != -EAGAIN || now_us() + pause_us >= deadline)
			return r;   /* -EAGAIN: still refused when the time was up */
		struct timespec ts = { .tv_sec = (time_t)(pause_us / 1000000u),
				       .tv_nsec = (long)(pause_us % 1000000u) * 1000 };
		(void)nanosleep(&ts, NULL);
		pause_us = pause_us * 2 > CONNECT_RETRY_MAX_US ? CONNECT_RETRY_MAX_US : pause_us * 2;
	}
}

CL_PUBLIC corolease_t *corolease_close(corolease_t *h)
{
	if (!h)
		return NULL;
	struct cl_list *first;
	while ((first = cl_list_first(&h->leases)))
		lease_free(lease_of(first));
	while ((first = cl_list_first(&h->cbq))) {   /* left: index changes, disconnected */
		struct cbq *q = cl_list_entry(first, struct cbq, link);
		cl_list_del(first);
		if (q->kind == CB_INDEX)
			free(cl_container_of(q, struct index_cb, q));
		else if (q->kind == CB_WRITE)
			free(cl_container_of(q, struct write_cb, q));
	}
	while ((first = cl_list_first(&h->write_order))) {   /* unanswered */
		struct write_cb *w = cl_list_entry(first, struct write_cb, link);
		cl_list_del(first);
		free(w);   /* the table's buckets go with it below */
	}
	while ((first = cl_list_first(&h->outq))) {
		cl_list_del(first);
		free(cl_list_entry(first, struct outmsg, link));
	}
	if (h->page)
		munmap((void *)h->page, h->page_len);
	cltp_close(h->fd);
	free(h->rx);
	cl_htab_fini(&h->by_cookie);
	cl_htab_fini(&h->writes);
	free(h);
	return NULL;
}

CL_PUBLIC int corolease_set_timeout(corolease_t *h, unsigned timeout_ms)
{
	if (!h)
		return -EINVAL;
	h->call_timeout_us = (uint64_t)timeout_ms * 1000u;
	return 0;
}

CL_PUBLIC void corolease_set_callbacks(corolease_t *h, const struct corolease_callbacks *cb,
				       void *udata)
{
	if (!h)
		return;
	if (cb)
		h->cb = *cb;
	else
		memset(&h->cb, 0, sizeof(h->cb));
	h->udata = udata;
}

/* ------------------------------------------------------------------------ */
/* event loop */

CL_PUBLIC int corolease_get_fd(const corolease_t *h)
{
	return h ? h->fd : -EINVAL;
}

CL_PUBLIC int corolease_get_events(const corolease_t *h)
{
	return h ? POLLIN : 0;
}

CL_PUBLIC uint64_t corolease_get_timeout(const corolease_t *h)
{
	if (!h)
		return UINT64_MAX;
	/* queued callbacks, or a death not reported yet: dispatch now */
	if (!cl_list_empty(&h->cbq) || (h->dead && !h->dead_reported))
		return 0;
	return next_deadline(h);
}

CL_PUBLIC int corolease_dispatch(corolease_t *h)
{
	if (!h)
		return -EINVAL;
	int n = process(h);
	h->in_callbacks++;
	int ran = run_callbacks(h, h->cb_seq);
	if (--h->in_callbacks == 0 && !h->user_corks && !h->dead)
		outq_flush(h);
	return n < 0 ? n : n + ran;
}

CL_PUBLIC int corolease_cork(corolease_t *h)
{
	if (!h)
		return -EINVAL;
	h->user_corks++;
	return h->dead ? COROLEASE_EDISCONNECTED : 0;
}

CL_PUBLIC int corolease_uncork(corolease_t *h)
{
	if (!h || !h->user_corks)
		return -EINVAL;
	h->user_corks--;
	if (h->dead)
		return COROLEASE_EDISCONNECTED;
	/* inside a callback, what waits goes when the dispatch is done */
	if (h->user_corks || h->in_callbacks)
		return 0;
	return outq_flush(h);
}

CL_PUBLIC uint32_t corolease_nodeid(const corolease_t *h)
{
	return h ? h->nodeid : 0;
}

/* ------------------------------------------------------------------------ */
/* leases */

static int start_acquire(corolease_t *h, const void *name, size_t namelen, int mode,
			 unsigned flags, unsigned timeout_ms, bool sync, void *udata,
			 struct corolease_lease **lease_r)
{
	if (!h || !lease_r)
		return -EINVAL;
	*lease_r = NULL;
	if (!name || namelen == 0 || namelen > COROLEASE_NAME_MAX ||
	    (mode != COROLEASE_EX && mode != COROLEASE_SH) ||
	    (flags & ~(COROLEASE_WAIT | COROLEASE_NODE_SHARED | COROLEASE_KILL)))
		return -EINVAL;
	if (h->dead)
		return COROLEASE_EDISCONNECTED;

	struct corolease_lease *l = calloc(1, sizeof(*l) + namelen + 1);
	if (!l)
		return -ENOMEM;
	l->h = h;
	cl_list_init(&l->link);
	cbq_init(&l->cb_acquired, CB_ACQUIRED);
	cbq_init(&l->cb_wanted, CB_WANTED);
	cbq_init(&l->cb_revoked, CB_REVOKED);
	l->cookie = new_cookie(h);
	l->state = LS_PENDING;
	l->sync = sync;
	l->mode = mode;
	l->udata = udata;
	l->namelen = namelen;
	memcpy(l->name, name, namelen);
	/* a WAIT is timed out by the daemon, which names the holder; the library backs it up */
	if (timeout_ms)
		l->deadline = now_us() + (uint64_t)timeout_ms * 1000u +
			      ((flags & COROLEASE_WAIT) ? ACQUIRE_GRACE_US : 0);

	struct clp_req_acquire req;
	memset(&req, 0, sizeof(req));
	req.mode = (uint8_t)mode;
	req.flags = (uint8_t)(flags & (COROLEASE_WAIT | COROLEASE_NODE_SHARED | COROLEASE_KILL));
	req.namelen = (uint16_t)namelen;
	req.timeout_ms = (flags & COROLEASE_WAIT) ? timeout_ms : 0;
	struct iovec iov[2] = { { &req, sizeof(req) }, { l->name, namelen } };
	int r = send_req(h, CLP_REQ_ACQUIRE, l->cookie, iov, 2);
	if (r < 0) {
		free(l);
		return r;
	}
	lease_link(h, l);
	*lease_r = l;
	return 0;
}

static bool lease_answered(const void *arg)
{
	return ((const struct corolease_lease *)arg)->state != LS_PENDING;
}

static bool lease_settled(void *arg)
{
	return lease_answered(arg);
}

CL_PUBLIC int corolease_acquire(corolease_t *h, const void *name, size_t namelen, int mode,
				unsigned flags, unsigned timeout_ms,
				corolease_lease_t **lease_r, uint32_t *owner_r)
{
	struct corolease_lease *l;
	if (owner_r)
		*owner_r = 0;
	int r = start_acquire(h, name, namelen, mode, flags, timeout_ms, true, NULL, &l);
	if (r < 0)
		return r;
	/* a timeout of its own (l->deadline) ends it in process() */
	r = wait_until(h, lease_settled, lease_answered, l,
		       l->deadline ? UINT64_MAX : call_deadline(h));
	if (l->state == LS_GRANTED) {
		l->sync = false;
		*lease_r = l;
		return 0;
	}
	if (l->state == LS_PENDING) {   /* wait_until failed (poll error, the call timeout) */
		if (!h->dead)
			send_release(h, l);
		l->err = r < 0 ? r : COROLEASE_EDISCONNECTED;
	}
	r = l->err;
	if (owner_r)
		*owner_r = l->owner;
	lease_free(l);
	*lease_r = NULL;
	return r;
}

CL_PUBLIC int corolease_acquire_async(corolease_t *h, const void *name, size_t namelen,
				      int mode, unsigned flags, unsigned timeout_ms,
				      void *lease_udata, corolease_lease_t **lease_r)
{
	return start_acquire(h, name, namelen, mode, flags, timeout_ms, false, lease_udata,
			     lease_r);
}

CL_PUBLIC int corolease_release(corolease_lease_t *lease)
{
	if (!lease || lease->in_cb)
		return 0;   /* a failed acquire's callback: the library frees it after */
	corolease_t *h = lease->h;
	int r = 0;
	if (lease->state != LS_FAILED) {   /* a failed one holds nothing at the daemon */
		if (h->dead || send_release(h, lease) == COROLEASE_EDISCONNECTED)
			r = COROLEASE_EDISCONNECTED;
	}
	lease_free(lease);
	return r;
}

CL_PUBLIC uint64_t corolease_lease_epoch(const corolease_lease_t *lease)
{
	return lease && lease->state == LS_GRANTED ? lease->epoch : 0;
}

CL_PUBLIC int corolease_lease_mode(const corolease_lease_t *lease)
{
	return lease ? lease->mode : 0;
}

CL_PUBLIC const void *corolease_lease_name(const corolease_lease_t *lease, size_t *namelen_r)
{
	if (namelen_r)
		*namelen_r = lease ? lease->namelen : 0;
	return lease ? lease->name : NULL;
}

CL_PUBLIC void *corolease_lease_udata(const corolease_lease_t *lease)
{
	return lease ? lease->udata : NULL;
}

CL_PUBLIC uint64_t corolease_lease_revoke_deadline(const corolease_lease_t *lease)
{
	return lease ? lease->revoke_deadline : 0;
}

/* h's validity page if it is still this connection's daemon's, else NULL */
static const struct clp_shm_page *own_page(const corolease_t *h)
{
	const struct clp_shm_page *pg = h->page;
	if (!pg || __atomic_load_n(&pg->magic, __ATOMIC_ACQUIRE) != CLP_SHM_MAGIC ||
	    pg->incarnation != h->incarnation || pg->nodeid != h->nodeid)
		return NULL;
	return pg;
}

/*
 * The node's validity deadline and stop deadline from h's page: reads only
 * the page (mapped from connect to close), so it is async-signal-safe.
 * Returns the validity deadline: 1 once the page is retired (or another
 * daemon's), 0 while nothing is valid yet; *stop_r that plus revoke_us
 * (1 when retired, 0 with nothing valid yet).
 */
static uint64_t page_deadlines(const corolease_t *h, uint64_t *stop_r)
{
	const struct clp_shm_page *pg = own_page(h);
	*stop_r = 1;
	if (!pg)
		return 1;
	uint64_t until = __atomic_load_n(&pg->valid_until, __ATOMIC_ACQUIRE);
	uint64_t grace = __atomic_load_n(&pg->revoke_us, __ATOMIC_ACQUIRE);
	*stop_r = until == 0 ? 0 : grace <= UINT64_MAX - until ? until + grace : UINT64_MAX;
	return until;
}

/*
 * The page's valid_until + revoke_us (never before the lapse), capped by a
 * dispatched revoke's deadline; 1 (past) once the page is not this
 * connection's daemon's or is retired.  0 for a lease not granted.
 */
CL_PUBLIC uint64_t corolease_lease_stop_deadline(const corolease_lease_t *lease)
{
	if (!lease || lease->state != LS_GRANTED)
		return 0;
	uint64_t t;
	(void)page_deadlines(lease->h, &t);
	if (t == 0)
		t = 1;   /* granted with nothing valid: as a retired page */
	if (lease->revoked && lease->revoke_deadline && lease->revoke_deadline < t)
		t = lease->revoke_deadline;
	return t;
}

CL_PUBLIC uint64_t corolease_valid_until(const corolease_t *h, uint64_t *stop_deadline_r)
{
	uint64_t stop = 0, until = 0;
	if (h)
		until = page_deadlines(h, &stop);
	if (stop_deadline_r)
		*stop_deadline_r = stop;
	return until;
}

/* The daemon has not revoked the granted lease: its slot still holds the granted word. */
static bool slot_armed(const corolease_lease_t *lease)
{
	const corolease_t *h = lease->h;
	return lease->slot < h->nslots &&
	       __atomic_load_n(&h->slots[lease->slot], __ATOMIC_ACQUIRE) == lease->slot_word;
}

/* Granted and not revoked, as far as this process can tell without dispatching. */
static bool lease_live(const corolease_lease_t *lease)
{
	return lease && lease->state == LS_GRANTED && !lease->revoked && !lease->h->dead &&
	       slot_armed(lease);
}

CL_PUBLIC int corolease_lease_granted(const corolease_lease_t *lease)
{
	return lease_live(lease) && !hung_up(lease->h);
}

CL_PUBLIC int corolease_lease_valid(const corolease_lease_t *lease)
{
	if (!lease_live(lease))
		return 0;
	const corolease_t *h = lease->h;
	const struct clp_shm_page *pg = own_page(h);
	if (!pg || now_us() >= __atomic_load_n(&pg->valid_until, __ATOMIC_ACQUIRE))
		return 0;
	/* last, the one system call: a crashed daemon's socket hangs up at once */
	return !hung_up(h);
}

CL_PUBLIC int corolease_owner(corolease_t *h, const void *name, size_t namelen,
			      uint32_t *node_r)
{
	struct pending p;
	pending_init(&p);
	if (node_r)
		*node_r = 0;
	int r = call_name(h, &p, CLP_REQ_OWNER, name, namelen, false);
	return fixed_result(&p, r, node_r, sizeof(*node_r));
}

/* ------------------------------------------------------------------------ */
/* index */

CL_PUBLIC int corolease_index_get(corolease_t *h, const void *name, size_t namelen,
				  const void *key, size_t keylen, unsigned flags,
				  void *buf, size_t bufsize, size_t *vallen_r,
				  uint64_t *version_r)
{
	if (vallen_r)
		*vallen_r = 0;
	if (version_r)
		*version_r = 0;
	if (!h || check_name(name, namelen, false) || !key || keylen == 0 ||
	    keylen > COROLEASE_KEY_MAX || (flags & ~COROLEASE_GET_SYNC) || (bufsize && !buf))
		return -EINVAL;
	struct clp_req_index req;
	memset(&req, 0, sizeof(req));
	req.namelen = (uint16_t)namelen;
	req.keylen = (uint8_t)keylen;
	req.flags = (flags & COROLEASE_GET_SYNC) ? CLP_GET_SYNC : 0;
	struct iovec iov[3] = { { &req, sizeof(req) }, { (void *)name, namelen },
				{ (void *)key, keylen } };
	struct pending p;
	pending_init(&p);
	int r = call(h, &p, CLP_REQ_INDEX_GET, iov, 3, call_deadline(h));
	if (r == 0) {
		uint64_t version;
		if (p.len < sizeof(version) || p.len - sizeof(version) > COROLEASE_VALUE_MAX) {
			r = COROLEASE_EPROTO;
		} else {
			size_t vallen = p.len - sizeof(version);
			memcpy(&version, p.payload, sizeof(version));
			if (vallen && bufsize)
				memcpy(buf, p.payload + sizeof(version),
				       vallen < bufsize ? vallen : bufsize);
			if (vallen_r)
				*vallen_r = vallen;
			if (version_r)
				*version_r = version;
		}
	}
	free(p.payload);
	return r;
}

/*
 * The local refusals of an index write; else fills *req and iov[4] (the
 * request, the lease's name, key, value) and returns how many iov to send.
 */
static int write_prepare(corolease_lease_t *lease, const void *key, size_t keylen,
			 const void *val, size_t vallen, struct clp_req_index *req,
			 struct iovec iov[4])
{
	if (!lease || !key || keylen == 0 || keylen > COROLEASE_KEY_MAX ||
	    vallen > COROLEASE_VALUE_MAX || (vallen && !val))
		return -EINVAL;
	if (lease->h->dead)
		return COROLEASE_EDISCONNECTED;
	if (lease->state != LS_GRANTED || lease->mode != COROLEASE_EX)
		return COROLEASE_ENOTHELD;   /* a write needs the lease EX (the daemon says so too) */
	if (lease->revoked || !slot_armed(lease))
		return COROLEASE_EREVOKED;
	memset(req, 0, sizeof(*req));
	req->namelen = (uint16_t)lease->namelen;
	req->keylen = (uint8_t)keylen;
	req->vallen = (uint32_t)vallen;
	iov[0] = (struct iovec){ req, sizeof(*req) };
	iov[1] = (struct iovec){ lease->name, lease->namelen };
	iov[2] = (struct iovec){ (void *)key, keylen };
	iov[3] = (struct iovec){ (void *)val, vallen };
	return vallen ? 4 : 3;
}

static int index_write(corolease_lease_t *lease, uint32_t type, const void *key,
		       size_t keylen, const void *val, size_t vallen, uint64_t *version_r)
{
	if (version_r)
		*version_r = 0;
	struct clp_req_index req;
	struct iovec iov[4];
	int niov = write_prepare(lease, key, keylen, val, vallen, &req, iov);
	if (niov < 0)
		return niov;
	corolease_t *h = lease->h;
	struct pending p;
	pending_init(&p);
	int r = call(h, &p, type, iov, (unsigned)niov, call_deadline(h));
	return fixed_result(&p, r, version_r, sizeof(*version_r));
}

CL_PUBLIC int corolease_index_put(corolease_lease_t *lease, const void *key, size_t keylen,
				  const void *val, size_t vallen, uint64_t *version_r)
{
	return index_write(lease, CLP_REQ_INDEX_PUT, key, keylen, val, vallen, version_r);
}

CL_PUBLIC int corolease_index_del(corolease_lease_t *lease, const void *key, size_t keylen,
				  uint64_t *version_r)
{
	return index_write(lease, CLP_REQ_INDEX_DEL, key, keylen, NULL, 0, version_r);
}

/* Sends an INDEX_PUT / INDEX_DEL and keeps a write_cb for its RESULT. */
static int index_write_async(corolease_lease_t *lease, uint32_t type, const void *key,
			     size_t keylen, const void *val, size_t vallen, corolease_write_fn fn,
			     void *ctx)
{
	struct clp_req_index req;
	struct iovec iov[4];
	int niov = write_prepare(lease, key, keylen, val, vallen, &req, iov);
	if (niov < 0)
		return niov;
	corolease_t *h = lease->h;
	struct write_cb *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	cbq_init(&w->q, CB_WRITE);
	w->cookie = new_cookie(h);
	w->lease_cookie = lease->cookie;
	w->fn = fn;
	w->ctx = ctx;
	w->req_type = type;
	int r = send_req(h, type, w->cookie, iov, (unsigned)niov);
	if (r < 0) {
		free(w);
		return r;
	}
	cl_htab_add(&h->writes, &w->hn, w->cookie);
	cl_list_add_tail(&h->write_order, &w->link);
	return 0;
}

CL_PUBLIC int corolease_index_put_async(corolease_lease_t *lease, const void *key, size_t keylen,
					const void *val, size_t vallen, corolease_write_fn fn,
					void *ctx)
{
	return index_write_async(lease, CLP_REQ_INDEX_PUT, key, keylen, val, vallen, fn, ctx);
}

CL_PUBLIC int corolease_index_del_async(corolease_lease_t *lease, const void *key, size_t keylen,
					corolease_write_fn fn, void *ctx)
{
	return index_write_async(lease, CLP_REQ_INDEX_DEL, key, keylen, NULL, 0, fn, ctx);
}

/* One INDEX_LIST record: clp_item_key + key + value. */
static int key_item(struct pending *p, const unsigned char *rec, size_t len, size_t *used_r)
{
	struct clp_item_key k;
	if (len < sizeof(k))
		return -1;
	memcpy(&k, rec, sizeof(k));
	if (k.keylen == 0 || k.vallen > COROLEASE_VALUE_MAX ||
	    len - sizeof(k) < (size_t)k.keylen + k.vallen)
		return -1;
	*used_r = sizeof(k) + k.keylen + k.vallen;
	if (p->fn_ret == 0) {
		corolease_index_fn fn = (corolease_index_fn)p->fn;
		p->fn_ret = fn(p->ctx, rec + sizeof(k), k.keylen, rec + sizeof(k) + k.keylen,
			       k.vallen, k.version);
	}
	return 0;
}

/*
 * A LIST / INDEX_LIST call: sends it with item as the record decoder and
 * returns the fn's abort value, or the call's result with a count check.
 */
static int list_call(corolease_t *h, uint32_t type, const void *name, size_t namelen,
		     bool allow_empty,
		     int (*item)(struct pending *, const unsigned char *, size_t, size_t *),
		     void *fn, void *ctx)
{
	if (!fn)
		return -EINVAL;
	struct pending p;
	pending_init(&p);
	p.item = item;
	p.fn = fn;
	p.ctx = ctx;
	int r = call_name(h, &p, type, name, namelen, allow_empty);
	uint64_t count = 0;
	r = fixed_result(&p, r, &count, sizeof(count));
	if (p.fn_ret)
		return p.fn_ret;
	if (r == 0 && count != p.nitems)
		r = COROLEASE_EPROTO;
	return r;
}

CL_PUBLIC int corolease_index_list(corolease_t *h, const void *name, size_t namelen,
				   corolease_index_fn fn, void *ctx)
{
	return list_call(h, CLP_REQ_INDEX_LIST, name, namelen, false, key_item, (void *)fn, ctx);
}

CL_PUBLIC int corolease_watch(corolease_t *h, const void *name, size_t namelen)
{
	struct pending p;
	pending_init(&p);
	int r = call_name(h, &p, CLP_REQ_WATCH, name, namelen, true);
	return fixed_result(&p, r, NULL, 0);
}

CL_PUBLIC int corolease_unwatch(corolease_t *h, const void *name, size_t namelen)
{
	struct pending p;
	pending_init(&p);
	int r = call_name(h, &p, CLP_REQ_UNWATCH, name, namelen, true);
	return fixed_result(&p, r, NULL, 0);
}

CL_PUBLIC int corolease_sync(corolease_t *h)
{
	struct pending p;
	pending_init(&p);
	int r = call_bare(h, &p, CLP_REQ_SYNC);
	return fixed_result(&p, r, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* status */

struct status_rec {
	const char *key;
	uint64_t value;
	int type;
};

struct corolease_status {
	size_t n;
	struct status_rec recs[];     /* then the keys, NUL-terminated */
};

/* A key of [a-z0-9_] words joined by single dots. */
static bool status_key_ok(const unsigned char *k, size_t len)
{
	if (len == 0 || len > COROLEASE_STATUS_KEY_MAX || k[0] == '.' || k[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = k[i];
		if (c == '.' ? k[i - 1] == '.' :
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool status_type_known(uint8_t type)
{
	return type >= COROLEASE_STATUS_U64 && type <= COROLEASE_STATUS_HASH;
}

/*
 * Walks a STATUS payload: calls put(st, i, rec, key) for each record of a
 * known type (i counting those), if st is non-NULL.  Returns that count, or
 * COROLEASE_EPROTO for a malformed payload; *keybytes_r gets the key bytes.
 */
static long status_walk(const unsigned char *pl, size_t len, corolease_status_t *st,
			size_t *keybytes_r)
{
	size_t n = 0, keybytes = 0;
	char *keys = st ? (char *)&st->recs[st->n] : NULL;
	while (len) {
		struct clp_status_rec r;
		if (len < sizeof(r))
			return COROLEASE_EPROTO;
		memcpy(&r, pl, sizeof(r));
		if (len - sizeof(r) < r.keylen || !status_key_ok(pl + sizeof(r), r.keylen))
			return COROLEASE_EPROTO;
		if (status_type_known(r.type)) {
			if (st) {
				memcpy(keys + keybytes, pl + sizeof(r), r.keylen);
				keys[keybytes + r.keylen] = '\0';
				st->recs[n] = (struct status_rec){ keys + keybytes, r.value, r.type };
			}
			n++;
			keybytes += (size_t)r.keylen + 1;
		}
		pl += sizeof(r) + r.keylen;
		len -= sizeof(r) + r.keylen;
	}
	*keybytes_r = keybytes;
	return (long)n;
}

CL_PUBLIC int corolease_status_get(corolease_t *h, corolease_status_t **st_r)
{
	if (!st_r)
		return -EINVAL;
	*st_r = NULL;
	struct pending p;
	pending_init(&p);
	int r = call_bare(h, &p, CLP_REQ_STATUS);
	size_t keybytes = 0;
	long n = r == 0 ? status_walk(p.payload, p.len, NULL, &keybytes) : r;
	if (n >= 0) {
		corolease_status_t *st = malloc(sizeof(*st) + (size_t)n * sizeof(st->recs[0]) +
						keybytes);
		if (st) {
			st->n = (size_t)n;
			status_walk(p.payload, p.len, st, &keybytes);
			*st_r = st;
		}
		n = st ? 0 : -ENOMEM;
	}
	free(p.payload);
	return (int)n;
}

CL_PUBLIC corolease_status_t *corolease_status_free(corolease_status_t *st)
{
	free(st);
	return NULL;
}

CL_PUBLIC int corolease_status_u64(const corolease_status_t *st, const char *key,
				   uint64_t *value_r)
{
	if (!st || !key || !value_r)
		return -EINVAL;
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->recs[i].key, key) == 0) {
			*value_r = st->recs[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

CL_PUBLIC int corolease_status_next(const corolease_status_t *st, size_t *iter,
				    const char **key_r, int *type_r, uint64_t *value_r)
{
	if (!st || !iter)
		return -EINVAL;
	if (*iter >= st->n)
		return -ENOENT;
	const struct status_rec *r = &st->recs[(*iter)++];
	if (key_r)
		*key_r = r->key;
	if (type_r)
		*type_r = r->type;
	if (value_r)
		*value_r = r->value;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* list, show, administration */

/* One LIST record: clp_item_lease + name. */
static int lease_item(struct pending *p, const unsigned char *rec, size_t len, size_t *used_r)
{
	struct clp_item_lease it;
	if (len < sizeof(it))
		return -1;
	memcpy(&it, rec, sizeof(it));
	if (it.namelen == 0 || it.namelen > COROLEASE_NAME_MAX || len - sizeof(it) < it.namelen)
		return -1;
	*used_r = sizeof(it) + it.namelen;
	if (p->fn_ret == 0) {
		struct corolease_lease_summary s = {
			.name = rec + sizeof(it), .namelen = it.namelen, .owner = it.owner,
			.mode = it.mode, .orphaned = it.orphaned != 0, .nholders = it.nholders,
			.nwaiters = it.nwaiters, .nkeys = it.nkeys, .epoch = it.epoch,
			.version = it.version,
		};
		corolease_list_fn fn = (corolease_list_fn)p->fn;
		p->fn_ret = fn(p->ctx, &s);
	}
	return 0;
}

CL_PUBLIC int corolease_list(corolease_t *h, const void *prefix, size_t prefixlen,
			     corolease_list_fn fn, void *ctx)
{
	return list_call(h, CLP_REQ_LIST, prefix, prefixlen, true, lease_item, (void *)fn, ctx);
}

/* Decodes a SHOW payload into d (allocating); 0 or COROLEASE_EPROTO / -ENOMEM. */
static int parse_show(const unsigned char *pl, size_t len, size_t namelen,
		      struct corolease_detail *d)
{
	struct clp_show s;
	if (len < sizeof(s))
		return COROLEASE_EPROTO;
	memcpy(&s, pl, sizeof(s));
	if (s.namelen != namelen)
		return COROLEASE_EPROTO;
	pl += sizeof(s);
	len -= sizeof(s);
	/* counts are bounded by the payload, which a message bounds */
	if (s.nholders > len / sizeof(struct clp_show_holder) ||
	    s.nwaiters > len / sizeof(struct clp_show_waiter) ||
	    s.nkeys > len / (sizeof(struct clp_item_key) + 1))
		return COROLEASE_EPROTO;
	size_t fixed = (size_t)s.nholders * sizeof(struct clp_show_holder) +
		       (size_t)s.nwaiters * sizeof(struct clp_show_waiter);
	if (fixed > len)
		return COROLEASE_EPROTO;
	d->mode = s.mode;
	d->version = s.version;
	d->holders = calloc(s.nholders ? s.nholders : 1, sizeof(*d->holders));
	d->waiters = calloc(s.nwaiters ? s.nwaiters : 1, sizeof(*d->waiters));
	d->keys = calloc(s.nkeys ? s.nkeys : 1, sizeof(*d->keys));
	d->keylens = calloc(s.nkeys ? s.nkeys : 1, sizeof(*d->keylens));
	if (!d->holders || !d->waiters || !d->keys || !d->keylens)
		return -ENOMEM;
	for (uint32_t i = 0; i < s.nholders; i++) {
		struct clp_show_holder sh;
		memcpy(&sh, pl, sizeof(sh));
		pl += sizeof(sh);
		len -= sizeof(sh);
		d->holders[i] = (struct corolease_holder){ .node = sh.node, .mode = sh.mode,
							   .epoch = sh.epoch,
							   .orphan_seq = sh.orphan_seq };
		d->nholders = i + 1;
	}
	for (uint32_t i = 0; i < s.nwaiters; i++) {
		struct clp_show_waiter sw;
		memcpy(&sw, pl, sizeof(sw));
		pl += sizeof(sw);
		len -= sizeof(sw);
		d->waiters[i] = (struct corolease_waiter){ .node = sw.node, .mode = sw.mode };
		d->nwaiters = i + 1;
	}
	for (uint32_t i = 0; i < s.nkeys; i++) {
		struct clp_item_key k;
		if (len < sizeof(k))
			return COROLEASE_EPROTO;
		memcpy(&k, pl, sizeof(k));
		if (k.keylen == 0 || len - sizeof(k) < k.keylen)
			return COROLEASE_EPROTO;
		d->keys[i] = malloc((size_t)k.keylen + 1);
		if (!d->keys[i])
			return -ENOMEM;
		memcpy(d->keys[i], pl + sizeof(k), k.keylen);
		d->keys[i][k.keylen] = '\0';
		d->keylens[i] = k.keylen;
		d->nkeys = i + 1;
		pl += sizeof(k) + k.keylen;
		len -= sizeof(k) + k.keylen;
	}
	return len ? COROLEASE_EPROTO : 0;
}

CL_PUBLIC int corolease_show(corolease_t *h, const void *name, size_t namelen,
			     struct corolease_detail **d_r)
{
	if (!d_r)
		return -EINVAL;
	*d_r = NULL;
	struct pending p;
	pending_init(&p);
	int r = call_name(h, &p, CLP_REQ_SHOW, name, namelen, false);
	if (r == 0) {
		struct corolease_detail *d = calloc(1, sizeof(*d));
		r = d ? parse_show(p.payload, p.len, namelen, d) : -ENOMEM;
		if (r == 0)
			*d_r = d;
		else
			corolease_detail_free(d);
	}
	free(p.payload);
	return r;
}

CL_PUBLIC struct corolease_detail *corolease_detail_free(struct corolease_detail *d)
{
	if (!d)
		return NULL;
	if (d->keys)
		for (uint32_t i = 0; i < d->nkeys; i++)
			free(d->keys[i]);
	free(d->keys);
	free(d->keylens);
	free(d->holders);
	free(d->waiters);
	free(d);
	return NULL;
}

CL_PUBLIC int corolease_evict(corolease_t *h, const void *name, size_t namelen,
			      uint64_t *count_r)
{
	if (count_r)
		*count_r = 0;
	struct pending p;
	pending_init(&p);
	int r = call_name(h, &p, CLP_REQ_EVICT, name, namelen, false);
	return fixed_result(&p, r, count_r, sizeof(*count_r));
}

CL_PUBLIC int corolease_fence_ack(corolease_t *h, uint32_t node, unsigned flags,
				  uint64_t *count_r)
{
	if (count_r)
		*count_r = 0;
	if (!h || node == 0 || (flags & ~COROLEASE_FENCE_FORCE))
		return -EINVAL;
	struct clp_req_node req;
	memset(&req, 0, sizeof(req));
	req.node = node;
	req.flags = (uint8_t)flags;
	struct iovec iov = { &req, sizeof(req) };
	struct pending p;
	pending_init(&p);
	int r = call(h, &p, CLP_REQ_FENCE_ACK, &iov, 1, call_deadline(h));
	return fixed_result(&p, r, count_r, sizeof(*count_r));
}

/* ------------------------------------------------------------------------ */
/* errors */

#define ERRNO_NAMES(X) \
	X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(EBADF) \
	X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(ENODEV) \
	X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOSPC) X(EPIPE) \
	X(ERANGE) X(EDEADLK) X(ENAMETOOLONG) X(ENOSYS) X(ENOTEMPTY) X(ELOOP) \
	X(ENOMSG) X(EPROTO) X(EBADMSG) X(EOVERFLOW) X(EMSGSIZE) X(EPROTONOSUPPORT) \
	X(EOPNOTSUPP) X(EADDRINUSE) X(ENETDOWN) X(ECONNABORTED) X(ECONNRESET) \
	X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ESHUTDOWN) X(ETIMEDOUT) X(ECONNREFUSED) \
	X(EHOSTUNREACH) X(EALREADY) X(EINPROGRESS) X(ESTALE) X(EDQUOT) X(ECANCELED) X(EFBIG) \
	X(EOWNERDEAD) X(ENOTRECOVERABLE) X(ENOTSUP) X(ENOTSOCK) X(ENODATA) X(ETIME) \
	X(EUSERS)

/* The symbolic name of errno value e, or NULL (aliases give the first name). */
static const char *errno_name(int e)
{
#define ERRNO_CASE_(n) if (e == n) return #n;
	ERRNO_NAMES(ERRNO_CASE_)
#undef ERRNO_CASE_
	return NULL;
}

CL_PUBLIC const char *corolease_strerror(int err)
{
	static __thread char buf[128];

	switch (err) {
#define ERR_MSG_(name, val, msg) case val: return msg;
	COROLEASE_ERRNO_MAP(ERR_MSG_)
#undef ERR_MSG_
	default: break;
	}
	if (err == 0)
		return "success";
	int e = err < 0 ? -err : err;
	return strerror_r(e, buf, sizeof(buf));
}

CL_PUBLIC const char *corolease_errname(int err)
{
	switch (err) {
#define ERR_NAME_(name, val, msg) case val: return "E" #name;
	COROLEASE_ERRNO_MAP(ERR_NAME_)
#undef ERR_NAME_
	default: break;
	}
	if (err == 0)
		return "OK";
	int e = err < 0 ? -err : err;
	const char *n = errno_name(e);
	return n ? n : "EUNKNOWN";
}

CL_PUBLIC const char *corolease_version(void)
{
	return PACKAGE_VERSION;
}
