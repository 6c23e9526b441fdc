/*
 * node.c - one node's agent around the replicated machine.  Contract: node.h;
 * protocol and safety argument: doc/state-machine.md.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Re-entrancy: events for the glue are queued and handed out only when the
 * outermost public call returns, after all internal state is consistent, so
 * an event handler may call back into the node.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "corolease/htab.h"
#include "corolease/list.h"
#include "hash.h"
#include "index.h"
#include "node.h"
#include "wire.h"

/* ---- private types ---- */

/* An own message on one of the queues (pending, retry, inflight, resend). */
struct outmsg {
	struct cl_list link;
	uint64_t sent_at;
	uint64_t seq;                    /* order handed to the transport (0 = not yet) */
	uint32_t len;
	uint8_t type;
	uint8_t data[];
};

enum ch_state { CH_WAITING, CH_HELD, CH_REVOKED };

struct nl_lease;
struct nl_client;

/* One client's hold on, or pending acquire of, one lease. */
struct chold {
	struct cl_list llink;            /* lease's waiter or holder list */
	struct cl_list clink;            /* client's list */
	struct nl_lease *lease;
	struct nl_client *client;
	uint64_t cookie;
	uint64_t deadline;               /* WAITING: timeout (0 none); REVOKED: must be done by */
	uint8_t mode;
	uint8_t flags;
	uint8_t state;                   /* enum ch_state */
	bool queued_told;
};

struct chlist {
	struct cl_list list;             /* of struct chold via llink */
	uint32_t n;
};

enum req_state { REQ_NONE, REQ_SENT, REQ_QUEUED };

/* This node's view of one lease name. */
struct nl_lease {
	struct cl_hnode hn;              /* in cl_node.leases */
	struct chlist holders;           /* CH_HELD and CH_REVOKED */
	struct chlist waiters;           /* CH_WAITING, FIFO */
	uint64_t epoch;                  /* of the node-level hold */
	uint64_t linger_at;              /* 0 = not lingering */
	uint64_t handover_at;            /* 0 = no handover pending */
	uint64_t renew_at;               /* earliest next validity-renewing ACQUIRE */
	uint64_t next_deadline;          /* key in the timer heap */
	size_t heap_idx;                 /* SIZE_MAX = not in heap */
	uint32_t wanted_by;
	uint8_t mode;                    /* of the node-level hold */
	uint8_t req;                     /* enum req_state */
	uint8_t req_mode;
	bool held;                       /* machine granted us a hold (epoch) */
	bool releasing;                  /* RELEASE/HANDOVER_DONE for epoch sent */
	bool wanted;                     /* someone else asked for it */
	bool revoking;                   /* holders revoked; hand over when they are gone */
	bool lost;                       /* hold no longer trusted (quorum/validity loss) */
	uint16_t namelen;
	uint8_t name[];
};

struct nl_client {
	struct cl_hnode hn;              /* in cl_node.clients */
	uint64_t id;
	struct cl_list holds;            /* client's cholds via clink, newest first */
	uint32_t nholds;                 /* length of that list */
};

enum op_kind { OP_INDEX, OP_SYNC, OP_ADMIN };

struct pending_op {
	struct cl_hnode hn;              /* in cl_node.requests */
	uint64_t req_id;
	uint64_t client;
	uint64_t cookie;
	uint8_t kind;
};

/*
 * An applied index write whose answer waits for confirmation that it was not
 * delivered only in a transitional configuration (see confirm_writes()).
 */
struct unconfirmed {
	struct cl_list link;             /* in cl_node.unconf, FIFO */
	uint64_t client, cookie, version;
	uint64_t sent_mark;              /* own messages handed to the transport when applied */
	uint64_t departures;             /* departure generation when applied */
	bool deleted;
	uint16_t namelen;
	uint8_t keylen;
	uint8_t buf[];                   /* name then key */
};

struct fence_timer {
	uint32_t node;
	uint64_t seq;
	uint64_t deadline;
};

struct qevent {
	struct cl_list link;             /* in cl_node.evq */
	struct cl_node_event ev;
	uint8_t buf[];                   /* name then key */
};

struct announce {
	bool got, has_state;
	uint64_t lsn, q_lsn, hash;
};

struct cl_node {
	struct cl_node_config cfg;
	struct cl_node_ops ops;
	void *ctx;
	uint32_t me;

	struct cl_sm *sm;                /* NULL until the first sync completes */
	struct cl_ring ring;             /* of the last confchg */
	uint32_t nmembers;
	uint32_t members[CL_MAX_MEMBERS];

	/* sync round */
	struct {
		bool active, decided, need_load, loaded;
		uint32_t winner;
		uint64_t win_hash;
		uint64_t next_chunk;
		uint8_t *buf;
		size_t len, cap;
		struct announce ann[CL_MAX_MEMBERS];
	} sync;

	/* quorum */
	bool vq_quorate;
	struct cl_ring vq_ring;
	bool quorum_sent;                /* QUORUM sent for ring */
	struct cl_ring quorum_sent_ring;
	bool quorum_sent_yes;

	/* validity */
	uint64_t valid_until;
	uint64_t valid_told;             /* last value reported in an event */
	uint64_t last_send;

	/* own messages: waiting for sync to end, for the transport, for delivery, for re-send */
	struct cl_list pending, retry, inflight, resend;
	uint64_t next_req;

	/* local leases: struct nl_lease by name (256 buckets from the start) */
	struct cl_htab leases;
	struct nl_lease **heap;
	size_t heap_n, heap_cap;
	uint64_t nheld;                  /* leases with held == true */
	uint64_t client_holds;

	struct cl_htab clients;          /* struct nl_client by id (64 buckets at first use) */
	struct cl_htab requests;         /* struct pending_op by req_id (256 at first use) */

	struct fence_timer *fences;
	size_t nfences, cap_fences;

	bool need_reconcile;
	bool draining;
	struct cl_list unconf;           /* struct unconfirmed, oldest first */
	uint64_t sent_seq;               /* own messages handed to the transport */
	uint64_t own_delivered_seq;      /* seq of the last own message delivered */
	uint64_t departures;             /* configuration changes with departures, and loads */
	uint64_t recover_self_seq;       /* highest self-recover seq sent */
	uint64_t started_at;

	/* events */
	struct cl_list evq;              /* struct qevent, oldest first */
	int depth;

	/* out of memory where it would make the replica or a promise wrong (node.h) */
	bool failed;
	bool fatal_told;                 /* CL_NODE_EV_FATAL handed out */

	struct cl_node_counters c;
};

/* ---- small helpers ---- */

static uint64_t now_us(struct cl_node *n)
{
	return n->ops.now(n->ctx);
}

static void nlog(struct cl_node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void nlog(struct cl_node *n, int level, const char *fmt, ...)
{
	if (!n->ops.log)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n->ops.log(n->ctx, level, buf);
}

static bool ring_eq(const struct cl_ring *a, const struct cl_ring *b)
{
	return a->rep == b->rep && a->seq == b->seq;
}

static bool mode_covers(uint8_t held, uint8_t want)
{
	return held == CL_MODE_EX || want == CL_MODE_SH;
}

/* ---- a lease's lists of client holds ---- */

static void chl_push(struct chlist *l, struct chold *c)
{
	cl_list_add_tail(&l->list, &c->llink);
	l->n++;
}

static void chl_remove(struct chlist *l, struct chold *c)
{
	cl_list_del(&c->llink);
	l->n--;
}

/* The first hold of l / the one after c, or NULL. */
static struct chold *ch_first(const struct chlist *l)
{
	struct cl_list *e = cl_list_first(&l->list);
	return e ? cl_list_entry(e, struct chold, llink) : NULL;
}

static struct chold *ch_next(const struct chlist *l, const struct chold *c)
{
	struct cl_list *e = cl_list_next(&l->list, &c->llink);
	return e ? cl_list_entry(e, struct chold, llink) : NULL;
}

/* ---- out of memory: the agent stops (node.h) ---- */

/*
 * Puts the agent into its terminal FAILED condition: validity 0 at once,
 * nothing more is sent or handed out but CL_NODE_EV_FATAL (leave()), and
 * every later public call does nothing.  Allocates nothing.
 */
static void node_fail(struct cl_node *n, const char *what)
{
	if (n->failed)
		return;
	n->failed = true;
	n->valid_until = 0;
	nlog(n, LOG_CRIT, "out of memory %s: the node agent stops; its leases are invalid from now",
	     what);
}

/* ---- events ---- */

static void ev_push(struct cl_node *n, const struct cl_node_event *ev)
{
	if (n->failed)
		return;
	size_t extra = (size_t)ev->namelen + ev->keylen;
	struct qevent *q = malloc(sizeof(*q) + extra);
	if (!q) {
		node_fail(n, "queueing an event");
		return;
	}
	q->ev = *ev;
	if (ev->namelen)
		memcpy(q->buf, ev->name, ev->namelen);
	if (ev->keylen)
		memcpy(q->buf + ev->namelen, ev->key, ev->keylen);
	q->ev.name = ev->namelen ? q->buf : NULL;
	q->ev.key = ev->keylen ? q->buf + ev->namelen : NULL;
	cl_list_add_tail(&n->evq, &q->link);
}

static void reconcile(struct cl_node *n);
static void confirm_writes(struct cl_node *n);

static void enter(struct cl_node *n)
{
	n->depth++;
}

/* Frees every entry of list (each embeds its cl_list link at offset off); returns how many. */
static size_t free_links(struct cl_list *list, size_t off)
{
	size_t k = 0;
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, list) {
		free((char *)e - off);
		k++;
	}
	cl_list_init(list);
	return k;
}

/* After node_fail(): drops the queued events and hands out CL_NODE_EV_FATAL, once. */
static void leave_failed(struct cl_node *n)
{
	size_t dropped = free_links(&n->evq, offsetof(struct qevent, link));
	if (n->fatal_told)
		return;
	n->fatal_told = true;
	nlog(n, LOG_CRIT, "node agent failed; %zu queued events dropped", dropped);
	struct cl_node_event ev = { .type = CL_NODE_EV_FATAL, .err = -ENOMEM };
	if (n->ops.event)
		n->ops.event(n->ctx, &ev);
}

/*
 * Leaves a public call.  The outermost one first reconciles with the machine
 * if an input asked for it, then hands out queued events.
 */
static void leave(struct cl_node *n)
{
	if (n->depth > 1) {
		n->depth--;
		return;
	}
	if (n->need_reconcile && !n->failed)
		reconcile(n);
	if (!cl_list_empty(&n->unconf) && !n->failed)
		confirm_writes(n);
	if (n->failed) {
		leave_failed(n);
		n->depth--;
		return;
	}
	struct cl_list *e;
	while ((e = cl_list_first(&n->evq))) {
		struct qevent *q = cl_list_entry(e, struct qevent, link);
		cl_list_del(e);
		if (n->ops.event)
			n->ops.event(n->ctx, &q->ev);
		free(q);
	}
	n->depth--;
}

static void ev_lease(struct cl_node *n, enum cl_node_event_type type, const struct chold *ch,
		     int err, uint32_t owner)
{
	const struct nl_lease *l = ch->lease;
	struct cl_node_event ev = {
		.type = type, .client = ch->client->id, .cookie = ch->cookie, .err = err,
		.owner = owner, .mode = ch->mode, .epoch = l->epoch,
		.valid_until = n->valid_until, .deadline = ch->deadline,
		.name = l->name, .namelen = l->namelen,
	};
	ev_push(n, &ev);
}

static void set_valid_until(struct cl_node *n, uint64_t t)
{
	if (n->failed)
		return;
	n->valid_until = t;
	uint64_t step = n->cfg.heartbeat_us / 2;
	if (t < n->valid_told || t >= n->valid_told + step || t == 0) {
		if (t == n->valid_told)
			return;
		n->valid_told = t;
		struct cl_node_event ev = { .type = CL_NODE_EV_VALIDITY, .valid_until = t };
		ev_push(n, &ev);
	}
}

/* ---- message queues and sending ---- */

static void q_push(struct cl_list *q, struct outmsg *m)
{
	cl_list_add_tail(q, &m->link);
}

/* The oldest / newest message of q, or NULL. */
static struct outmsg *q_first(const struct cl_list *q)
{
	struct cl_list *e = cl_list_first(q);
	return e ? cl_list_entry(e, struct outmsg, link) : NULL;
}

static struct outmsg *q_last(const struct cl_list *q)
{
	struct cl_list *e = cl_list_last(q);
	return e ? cl_list_entry(e, struct outmsg, link) : NULL;
}

/* Unlinks and returns the oldest message of q, or NULL. */
static struct outmsg *q_pop(struct cl_list *q)
{
	struct outmsg *m = q_first(q);
	if (m)
		cl_list_del(&m->link);
	return m;
}

static void q_free(struct cl_list *q)
{
	struct outmsg *m;
	while ((m = q_pop(q)))
		free(m);
}

static bool is_sync_type(uint8_t t)
{
	return t == CL_MSG_SYNC_ANNOUNCE || t == CL_MSG_SYNC_CHUNK;
}

/* Ordinary messages may be sent once the node has state and no sync round runs. */
static bool ready(const struct cl_node *n)
{
	return n->sm && !n->sync.active;
}

/* Hands m to the transport; false (m untouched) when it is congested. */
static bool mcast_one(struct cl_node *n, struct outmsg *m)
{
	if (n->ops.mcast(n->ctx, m->data, m->len) < 0) {
		n->c.mcast_eagain++;
		return false;
	}
	m->sent_at = now_us(n);
	m->seq = ++n->sent_seq;
	n->last_send = m->sent_at;
	n->c.mcast_msgs++;
	n->c.mcast_bytes += m->len;
	q_push(&n->inflight, m);
	return true;
}

/* Hands m to the transport now, or queues it for retry behind earlier ones. */
static void transmit(struct cl_node *n, struct outmsg *m)
{
	if (n->failed) {
		free(m);
		return;
	}
	if (!cl_list_empty(&n->retry) || !mcast_one(n, m))
		q_push(&n->retry, m);
}

static void flush_retry(struct cl_node *n)
{
	struct outmsg *m;
	while ((m = q_first(&n->retry))) {
		cl_list_del(&m->link);
		if (!mcast_one(n, m)) {
			cl_list_add_head(&n->retry, &m->link);
			return;
		}
	}
}

/* msg encoded in a new outgoing message, or NULL with *err_r: -ENOMEM or the codec's error. */
static struct outmsg *outmsg_new(const struct cl_msg *msg, int *err_r)
{
	long len = cl_wire_size(msg);
	if (len < 0) {
		*err_r = (int)len;
		return NULL;
	}
	struct outmsg *m = malloc(sizeof(*m) + (size_t)len);
	if (!m) {
		*err_r = -ENOMEM;
		return NULL;
	}
	*m = (struct outmsg){ .len = (uint32_t)len, .type = msg->type };
	if (cl_wire_encode(msg, m->data, (size_t)len) != len) {
		free(m);
		*err_r = -EINVAL;
		return NULL;
	}
	return m;
}

/*
 * Encodes and sends m, or queues it until the sync round ends.  Returns 0,
 * or -ENOMEM (nothing queued, the node is unchanged: the caller refuses a
 * request with it) or the codec's error.
 */
static int queue_msg(struct cl_node *n, const struct cl_msg *msg)
{
	int rc;
	struct outmsg *m = outmsg_new(msg, &rc);
	if (!m)
		return rc;
	if (!is_sync_type(msg->type) && !ready(n))
		q_push(&n->pending, m);
	else
		transmit(n, m);
	return 0;
}

/*
 * queue_msg() for the agent's own messages, which it cannot do without:
 * -ENOMEM fails the node (node_fail()).  Returns 0 or a negative code.
 */
static int send_msg(struct cl_node *n, const struct cl_msg *msg)
{
	int rc = queue_msg(n, msg);
	if (rc == -ENOMEM)
		node_fail(n, "queueing a message");
	return rc;
}

/*
 * A NOP that renews validity while the node holds leases (lingering ones
 * too, so the fast path stays usable).  It goes out even during a sync
 * round, where ordinary messages wait: its delivery is dropped like any
 * other, but still renews (renew()), and it is not re-sent afterwards.
 */
static void send_heartbeat(struct cl_node *n)
{
	struct cl_msg msg = { .type = CL_MSG_NOP, .req_id = 0 };
	int rc;
	struct outmsg *m = outmsg_new(&msg, &rc);
	if (m)
		transmit(n, m);
	else if (rc == -ENOMEM)
		node_fail(n, "queueing a heartbeat");
}

/* ---- local lease table ---- */

static uint64_t lname_hash(const void *name, size_t len)
{
	return cl_hash_bytes(0x6e6f6465ULL, name, len);
}

static struct nl_lease *lease_find(const struct cl_node *n, const void *name, size_t len)
{
	uint64_t h = lname_hash(name, len);
	for (struct cl_hnode *e = cl_htab_first(&n->leases, h); e; e = cl_htab_next(e, h)) {
		struct nl_lease *l = cl_container_of(e, struct nl_lease, hn);
		if (l->namelen == len && !memcmp(l->name, name, len))
			return l;
	}
	return NULL;
}

/* name's lease, created (with nothing in it) if new; NULL on ENOMEM. */
static struct nl_lease *lease_get(struct cl_node *n, const void *name, size_t len)
{
	struct nl_lease *l = lease_find(n, name, len);
	if (l)
		return l;
	l = calloc(1, sizeof(*l) + len);
	if (!l)
		return NULL;
	cl_list_init(&l->holders.list);
	cl_list_init(&l->waiters.list);
	l->namelen = (uint16_t)len;
	memcpy(l->name, name, len);
	l->heap_idx = SIZE_MAX;
	l->next_deadline = CL_TIME_NEVER;
	cl_htab_add(&n->leases, &l->hn, lname_hash(name, len));
	return l;
}

/*
 * Iteration over every lease in table order; the current one may be freed
 * (lease_settle) inside the loop, no other, and none may be created.
 */
static struct nl_lease *lease_next(const struct cl_node *n, struct cl_htab_iter *it)
{
	struct cl_hnode *e = cl_htab_iter_next(&n->leases, it);
	return e ? cl_container_of(e, struct nl_lease, hn) : NULL;
}

static struct nl_lease *lease_first(const struct cl_node *n, struct cl_htab_iter *it)
{
	struct cl_hnode *e = cl_htab_iter_first(&n->leases, it);
	return e ? cl_container_of(e, struct nl_lease, hn) : NULL;
}

/* ---- timer heap over leases (min next_deadline) ---- */

static void heap_swap(struct cl_node *n, size_t a, size_t b)
{
	struct nl_lease *t = n->heap[a];
	n->heap[a] = n->heap[b];
	n->heap[b] = t;
	n->heap[a]->heap_idx = a;
	n->heap[b]->heap_idx = b;
}

static void heap_up(struct cl_node *n, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (n->heap[p]->next_deadline <= n->heap[i]->next_deadline)
			break;
		heap_swap(n, i, p);
		i = p;
	}
}

static void heap_down(struct cl_node *n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n->heap_n && n->heap[l]->next_deadline < n->heap[m]->next_deadline)
			m = l;
		if (r < n->heap_n && n->heap[r]->next_deadline < n->heap[m]->next_deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(n, i, m);
		i = m;
	}
}

static void heap_remove(struct cl_node *n, struct nl_lease *l)
{
	size_t i = l->heap_idx;
	if (i == SIZE_MAX)
		return;
	n->heap_n--;
	if (i != n->heap_n) {
		n->heap[i] = n->heap[n->heap_n];
		n->heap[i]->heap_idx = i;
		heap_down(n, i);
		heap_up(n, i);
	}
	l->heap_idx = SIZE_MAX;
}

/* Recomputes l's earliest timer and its place in the heap. */
static void lease_resched(struct cl_node *n, struct nl_lease *l)
{
	uint64_t d = CL_TIME_NEVER;
	if (l->linger_at && l->linger_at < d)
		d = l->linger_at;
	if (l->handover_at && l->handover_at < d)
		d = l->handover_at;
	for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
		if (c->state == CH_REVOKED && c->deadline < d)
			d = c->deadline;
	for (struct chold *c = ch_first(&l->waiters); c; c = ch_next(&l->waiters, c))
		if (c->deadline && c->deadline < d)
			d = c->deadline;
	l->next_deadline = d;
	if (d == CL_TIME_NEVER) {
		heap_remove(n, l);
		return;
	}
	if (l->heap_idx == SIZE_MAX) {
		if (n->heap_n == n->heap_cap) {
			size_t cap = n->heap_cap ? n->heap_cap * 2 : 64;
			struct nl_lease **h = realloc(n->heap, cap * sizeof(*h));
			if (!h) {
				node_fail(n, "arming a lease timer");
				return;
			}
			n->heap = h;
			n->heap_cap = cap;
		}
		l->heap_idx = n->heap_n;
		n->heap[n->heap_n++] = l;
		heap_up(n, l->heap_idx);
	} else {
		heap_up(n, l->heap_idx);
		heap_down(n, l->heap_idx);
	}
}

/* Frees l when nothing refers to it any more.  l may be gone after. */
static void lease_settle(struct cl_node *n, struct nl_lease *l)
{
	lease_resched(n, l);
	if (l->held || l->req != REQ_NONE || l->releasing || l->holders.n || l->waiters.n)
		return;
	heap_remove(n, l);
	cl_htab_del(&n->leases, &l->hn);
	free(l);
}

static void set_held(struct cl_node *n, struct nl_lease *l, bool held)
{
	if (l->held == held)
		return;
	l->held = held;
	if (held)
		n->nheld++;
	else
		n->nheld--;
}

/* ---- clients and their holds ---- */

static struct nl_client *client_find(const struct cl_node *n, uint64_t id)
{
	uint64_t h = cl_mix64(id);
	for (struct cl_hnode *e = cl_htab_first(&n->clients, h); e; e = cl_htab_next(e, h)) {
		struct nl_client *c = cl_container_of(e, struct nl_client, hn);
		if (c->id == id)
			return c;
	}
	return NULL;
}

/* Client id's entry, created if new; NULL on ENOMEM. */
static struct nl_client *client_get(struct cl_node *n, uint64_t id)
{
	struct nl_client *c = client_find(n, id);
	if (c)
		return c;
	if (!n->clients.nb && cl_htab_init(&n->clients, 64) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	cl_list_init(&c->holds);
	cl_htab_add(&n->clients, &c->hn, cl_mix64(id));
	return c;
}

/* Frees c once it has no holds left. */
static void client_maybe_free(struct cl_node *n, struct nl_client *c)
{
	if (!cl_list_empty(&c->holds))
		return;
	cl_htab_del(&n->clients, &c->hn);
	free(c);
}

/* client c's hold or pending acquire of l: walks the shorter of the two lists. */
static struct chold *chold_of(struct nl_client *c, const struct nl_lease *l)
{
	if (c->nholds > l->holders.n + l->waiters.n) {
		for (struct chold *h = ch_first(&l->holders); h; h = ch_next(&l->holders, h))
			if (h->client == c)
				return h;
		for (struct chold *h = ch_first(&l->waiters); h; h = ch_next(&l->waiters, h))
			if (h->client == c)
				return h;
		return NULL;
	}
	struct cl_list *e;
	cl_list_foreach(e, &c->holds) {
		struct chold *h = cl_list_entry(e, struct chold, clink);
		if (h->lease == l)
			return h;
	}
	return NULL;
}

/* Unlinks and frees ch (from its lease list and its client). */
static void chold_free(struct cl_node *n, struct chold *ch)
{
	struct nl_lease *l = ch->lease;
	if (ch->state == CH_WAITING) {
		chl_remove(&l->waiters, ch);
	} else {
		chl_remove(&l->holders, ch);
		n->client_holds--;
		if (ch->state == CH_REVOKED)
			n->need_reconcile = true;   /* a self-recover may be due */
	}
	cl_list_del(&ch->clink);
	ch->client->nholds--;
	free(ch);
}

/* Denies every local waiter of l with err. */
static void deny_waiters(struct cl_node *n, struct nl_lease *l, int err)
{
	struct chold *c = ch_first(&l->waiters), *cn;
	for (; c; c = cn) {
		cn = ch_next(&l->waiters, c);
		ev_lease(n, CL_NODE_EV_DENIED, c, err, 0);
		chold_free(n, c);
	}
}

/* ---- lease decisions ---- */

static uint64_t new_req(struct cl_node *n)
{
	return ++n->next_req;
}

/*
 * The machine is quorate and the local votequorum agrees, for this ring.
 * The simulator's CL_UNSAFE_NO_QUORUM_CHECK plant switches this off too, so
 * that it removes every quorum check, not only the machine's.
 */
static bool quorum_ok(const struct cl_node *n)
{
	if (n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK)
		return true;
	return cl_sm_quorate(n->sm) && n->vq_quorate && ring_eq(&n->vq_ring, &n->ring);
}

/* Local clients may use leases: synced, quorum_ok, validity. */
static bool trusted(struct cl_node *n)
{
	return ready(n) && quorum_ok(n) && now_us(n) < n->valid_until;
}

static void send_release(struct cl_node *n, struct nl_lease *l, bool handover)
{
	struct cl_msg m = { .type = handover ? CL_MSG_HANDOVER_DONE : CL_MSG_RELEASE,
			    .epoch = l->epoch, .name = l->name, .namelen = l->namelen };
	if (send_msg(n, &m) == 0)
		l->releasing = true;
	l->linger_at = 0;
}

static void send_acquire(struct cl_node *n, struct nl_lease *l, uint8_t mode, bool wait)
{
	struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = mode,
			    .flags = wait ? CL_ACQ_WAIT : 0, .req_id = new_req(n),
			    .name = l->name, .namelen = l->namelen };
	if (send_msg(n, &m) == 0) {
		l->req = REQ_SENT;
		l->req_mode = mode;
	}
}

static void revoke_holders(struct cl_node *n, struct nl_lease *l)
{
	uint64_t deadline = now_us(n) + n->cfg.revoke_timeout_us;
	for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c)) {
		if (c->state == CH_REVOKED)
			continue;
		c->state = CH_REVOKED;
		c->deadline = deadline;
		n->c.revokes++;
		ev_lease(n, CL_NODE_EV_REVOKED, c, COROLEASE_EREVOKED, 0);
	}
	l->handover_at = 0;
}

/*
 * Brings l forward after any change: grants what local waiters can have,
 * asks the cluster for the rest, hands the lease over or lingers.
 * l may be freed.
 */
static void pump(struct cl_node *n, struct nl_lease *l)
{
	uint64_t now = now_us(n);

	/* holders gone while revoking or wanted: hand the lease over */
	if (l->held && !l->holders.n && !l->releasing) {
		if (l->lost) {
			if (ready(n) && cl_sm_quorate(n->sm) &&
			    cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) == l->epoch)
				send_release(n, l, false);
			else {
				set_held(n, l, false);   /* reconcile releases it later */
				l->lost = false;
				l->wanted = false;
				l->handover_at = 0;
			}
			l->revoking = false;
		} else if (l->wanted || l->revoking) {
			send_release(n, l, true);
		}
	}

	if (!ready(n)) {
		lease_settle(n, l);
		return;
	}

	/* grant local waiters covered by the node-level hold */
	bool usable = l->held && !l->lost && !l->wanted && !l->revoking && !l->releasing &&
		      trusted(n);
	if (usable) {
		struct chold *c = ch_first(&l->waiters), *next;
		for (; c; c = next) {
			next = ch_next(&l->waiters, c);
			if (!mode_covers(l->mode, c->mode))
				continue;
			chl_remove(&l->waiters, c);
			c->state = CH_HELD;
			c->deadline = 0;
			chl_push(&l->holders, c);
			n->client_holds++;
			ev_lease(n, CL_NODE_EV_GRANTED, c, 0, n->me);
		}
		if (l->holders.n)
			l->linger_at = 0;
	}

	/* what the remaining waiters need from the cluster */
	if (l->waiters.n && l->req == REQ_NONE && !l->releasing && !l->wanted && !l->revoking &&
	    !l->lost) {
		uint8_t want = CL_MODE_SH;
		bool wait = false;
		for (struct chold *c = ch_first(&l->waiters); c; c = ch_next(&l->waiters, c)) {
			if (c->mode == CL_MODE_EX)
				want = CL_MODE_EX;
			if (c->flags & CL_ACQ_WAIT)
				wait = true;
		}
		if (!l->held || !mode_covers(l->mode, want)) {
			send_acquire(n, l, want, wait);
		} else if (quorum_ok(n) && now >= l->renew_at) {
			/*
			 * Held and covering, but validity lapsed: one ACQUIRE (answered
			 * with the existing epoch) renews it.  Rate-limited so a hold
			 * that stays untrusted cannot turn into a message storm; quorum
			 * and validity changes pump again.
			 */
			send_acquire(n, l, l->mode, wait);
			l->renew_at = now + n->cfg.validity_us / 2;
		}
	}

	/* unused and not wanted (a wanted one was handed over above): linger */
	if (l->held && !l->holders.n && !l->releasing && !l->lost && !l->wanted &&
	    l->req == REQ_NONE && !l->waiters.n && !l->linger_at)
		l->linger_at = now + n->cfg.linger_us;
	lease_settle(n, l);
}

/* Revokes every local hold: quorum, transport or validity lost. */
static void revoke_all(struct cl_node *n, const char *why)
{
	uint64_t revoked = n->c.revokes;
	struct cl_htab_iter it;
	for (struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it)) {
		if (l->held)
			l->lost = true;
		l->linger_at = 0;
		l->handover_at = 0;
		revoke_holders(n, l);
		lease_settle(n, l);
	}
	if (n->c.revokes != revoked)
		nlog(n, LOG_WARNING, "revoked %llu local holds: %s",
		     (unsigned long long)(n->c.revokes - revoked), why);
	set_valid_until(n, 0);
}

/* ---- pending request table (index, sync, admin) ---- */

/* Records a request awaiting its answer.  0 or -ENOMEM. */
static int op_add(struct cl_node *n, uint64_t req_id, uint64_t client, uint64_t cookie, uint8_t kind)
{
	if (!n->requests.nb && cl_htab_init(&n->requests, 256) < 0)
		return -ENOMEM;
	struct pending_op *o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct pending_op){ .req_id = req_id, .client = client, .cookie = cookie, .kind = kind };
	cl_htab_add(&n->requests, &o->hn, cl_mix64(req_id));
	return 0;
}

/* Removes and returns the op for req_id (caller frees), or NULL. */
static struct pending_op *op_take(struct cl_node *n, uint64_t req_id)
{
	uint64_t h = cl_mix64(req_id);
	for (struct cl_hnode *e = cl_htab_first(&n->requests, h); e; e = cl_htab_next(e, h)) {
		struct pending_op *o = cl_container_of(e, struct pending_op, hn);
		if (o->req_id == req_id) {
			cl_htab_del(&n->requests, e);
			return o;
		}
	}
	return NULL;
}

/* ---- machine actions ---- */

static void on_grant(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = lease_get(n, a->name, a->namelen);
	if (!l) {
		node_fail(n, "recording a grant");
		return;
	}
	if (l->held && l->releasing && l->epoch == a->epoch) {
		/*
		 * The echo of a re-ask for a hold we are already giving back: the
		 * RELEASE behind it ends this epoch, so nobody may use it now.
		 */
		l->req = REQ_NONE;
		return;
	}
	bool new_hold = !l->held || l->epoch != a->epoch;
	set_held(n, l, true);
	if (l->epoch != a->epoch) {
		/* a fresh grant or a conversion: earlier requests for it are moot */
		l->wanted = false;
		l->handover_at = 0;
	}
	l->epoch = a->epoch;
	l->mode = a->mode;
	l->req = REQ_NONE;
	l->releasing = false;
	l->lost = false;
	if (new_hold)
		n->c.cluster_grants++;
	pump(n, l);
}

static void on_queued(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = lease_find(n, a->name, a->namelen);
	if (!l)
		return;
	l->req = REQ_QUEUED;
	struct chold *c = ch_first(&l->waiters), *next;
	for (; c; c = next) {
		next = ch_next(&l->waiters, c);
		if (!(c->flags & CL_ACQ_WAIT)) {
			ev_lease(n, CL_NODE_EV_DENIED, c, -EBUSY, a->owner);
			chold_free(n, c);
		} else if (!c->queued_told) {
			c->queued_told = true;
			ev_lease(n, CL_NODE_EV_QUEUED, c, 0, a->owner);
		}
	}
	lease_settle(n, l);
}

static void on_deny(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = lease_find(n, a->name, a->namelen);
	if (!l)
		return;
	l->req = REQ_NONE;
	struct chold *c = ch_first(&l->waiters), *next;
	for (; c; c = next) {
		next = ch_next(&l->waiters, c);
		if (l->held && !l->lost && mode_covers(l->mode, c->mode))
			continue;
		ev_lease(n, CL_NODE_EV_DENIED, c, a->err, a->owner);
		chold_free(n, c);
	}
	pump(n, l);
}

static void on_blocking(struct cl_node *n, const struct cl_action *a, bool revoke)
{
	struct nl_lease *l = lease_find(n, a->name, a->namelen);
	if (!l || !l->held || l->epoch != a->epoch || l->releasing)
		return;
	if (!l->wanted) {
		l->wanted = true;
		l->wanted_by = a->wanted_by;
		for (struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
			if (c->state == CH_HELD)
				ev_lease(n, CL_NODE_EV_WANTED, c, 0, a->wanted_by);
		if (l->holders.n && !revoke)
			l->handover_at = now_us(n) + n->cfg.handover_timeout_us;
	}
	if (revoke) {
		l->revoking = true;
		revoke_holders(n, l);
	}
	pump(n, l);
}

static void on_hold_gone(struct cl_node *n, const struct cl_action *a)
{
	struct nl_lease *l = lease_find(n, a->name, a->namelen);
	if (!l || !l->held || l->epoch != a->epoch)
		return;
	set_held(n, l, false);
	l->releasing = false;
	l->wanted = false;
	l->lost = false;
	l->revoking = false;
	l->linger_at = 0;
	l->handover_at = 0;
	if (l->holders.n) {
		/* recovered under live clients (fence-ack of ourselves): cut them off */
		revoke_holders(n, l);
	}
	pump(n, l);
}

static void on_op_done(struct cl_node *n, const struct cl_action *a, enum cl_node_event_type type)
{
	if (!a->req_id)
		return;            /* heartbeat */
	struct pending_op *o = op_take(n, a->req_id);
	if (!o)
		return;
	if (o->client && o->kind == OP_INDEX && a->err == 0) {
		/* applied: the answer waits until the write cannot be lost */
		struct unconfirmed *u = malloc(sizeof(*u) + a->namelen + a->keylen);
		if (u) {
			*u = (struct unconfirmed){ .client = o->client, .cookie = o->cookie,
						   .version = a->version, .sent_mark = n->sent_seq,
						   .departures = n->departures, .deleted = a->deleted,
						   .namelen = a->namelen, .keylen = a->keylen };
			memcpy(u->buf, a->name, a->namelen);
			memcpy(u->buf + a->namelen, a->key, a->keylen);
			cl_list_add_tail(&n->unconf, &u->link);
		} else {
			node_fail(n, "recording an index write");   /* no early answer */
		}
		free(o);
		return;
	}
	if (o->client) {
		struct cl_node_event ev = { .type = type, .client = o->client, .cookie = o->cookie,
				       .err = a->err, .version = a->version, .count = a->count,
				       .name = a->name, .namelen = a->namelen,
				       .key = a->key, .keylen = a->keylen };
		if (o->kind == OP_SYNC)
			ev.type = CL_NODE_EV_SYNC_DONE;
		ev_push(n, &ev);
	}
	free(o);
}

static void on_action(void *ctx, const struct cl_action *a)
{
	struct cl_node *n = ctx;
	if (n->ops.action)
		n->ops.action(n->ctx, a);
	if (a->type == CL_ACT_INDEX_CHANGED) {
		struct cl_node_event ev = { .type = CL_NODE_EV_INDEX_CHANGED, .deleted = a->deleted,
				       .version = a->version, .owner = a->node,
				       .name = a->name, .namelen = a->namelen,
				       .key = a->key, .keylen = a->keylen };
		ev_push(n, &ev);
		return;
	}
	if (a->type == CL_ACT_QUORUM) {
		n->need_reconcile = true;
		n->recover_self_seq = 0;   /* an earlier self-recover may have met no quorum */
		return;
	}
	if (a->node != n->me)
		return;
	switch (a->type) {
	case CL_ACT_GRANT: on_grant(n, a); break;
	case CL_ACT_QUEUED: on_queued(n, a); break;
	case CL_ACT_DENY: on_deny(n, a); break;
	case CL_ACT_BLOCKING: on_blocking(n, a, false); break;
	case CL_ACT_REVOKE: on_blocking(n, a, true); break;
	case CL_ACT_RELEASED:
	case CL_ACT_RECOVERED: on_hold_gone(n, a); break;
	case CL_ACT_INDEX_DONE: on_op_done(n, a, CL_NODE_EV_INDEX_DONE); break;
	case CL_ACT_ADMIN_DONE: on_op_done(n, a, CL_NODE_EV_ADMIN_DONE); break;
	default: break;
	}
}

/* ---- quorum, validity, fencing ---- */

static void maybe_send_quorum(struct cl_node *n)
{
	if (!ready(n) || !ring_eq(&n->vq_ring, &n->ring))
		return;
	bool want = n->vq_quorate;
	if (n->quorum_sent && ring_eq(&n->quorum_sent_ring, &n->ring) && n->quorum_sent_yes == want)
		return;
	if (want == cl_sm_quorate(n->sm) && ring_eq(cl_sm_ring(n->sm), &n->ring))
		return;
	struct cl_msg m = { .type = CL_MSG_QUORUM, .flags = want ? CL_QUORUM_YES : 0, .ring = n->ring };
	if (send_msg(n, &m) == 0) {
		n->quorum_sent = true;
		n->quorum_sent_ring = n->ring;
		n->quorum_sent_yes = want;
	}
}

static void fence_arm(struct cl_node *n, uint32_t node, uint64_t seq, uint64_t deadline)
{
	for (size_t i = 0; i < n->nfences; i++) {
		if (n->fences[i].node == node) {
			if (seq > n->fences[i].seq)
				n->fences[i].seq = seq;
			if (deadline > n->fences[i].deadline)
				n->fences[i].deadline = deadline;
			return;
		}
	}
	if (n->nfences == n->cap_fences) {
		size_t cap = n->cap_fences ? n->cap_fences * 2 : 8;
		struct fence_timer *f = realloc(n->fences, cap * sizeof(*f));
		if (!f) {
			node_fail(n, "arming a fence timer");
			return;
		}
		n->fences = f;
		n->cap_fences = cap;
	}
	n->fences[n->nfences++] = (struct fence_timer){ node, seq, deadline };
}

struct orphan_scan {
	struct cl_node *n;
	uint64_t deadline;
};

static void arm_for_orphan(void *ctx, const uint8_t *name, uint16_t namelen,
			   const struct cl_hold_info *h)
{
	(void)name;
	(void)namelen;
	struct orphan_scan *s = ctx;
	if (h->orphan_seq && h->node != s->n->me)
		fence_arm(s->n, h->node, h->orphan_seq, s->deadline);
}

/* After loading a snapshot: arm fence timers for every orphan in it, from now. */
static void arm_all_orphans(struct cl_node *n)
{
	struct orphan_scan s = { n, now_us(n) + n->cfg.fence_delay_us };
	cl_sm_foreach_orphan(n->sm, arm_for_orphan, &s);
}

struct reconcile {
	struct cl_node *n;
	uint64_t max_orphan;
};

static void reconcile_hold(void *ctx, const uint8_t *name, uint16_t namelen,
			   const struct cl_hold_info *h)
{
	struct reconcile *r = ctx;
	struct cl_node *n = r->n;
	if (h->orphan_seq) {
		if (h->orphan_seq > r->max_orphan)
			r->max_orphan = h->orphan_seq;
		return;
	}
	struct nl_lease *l = lease_find(n, name, namelen);
	if (l && l->held && l->epoch == h->epoch)
		return;
	if (l && l->releasing)
		return;   /* its RELEASED is on its way */
	/*
	 * A live hold we do not know about: adopt it and give it back, marked
	 * releasing so that the echo of any re-ask in flight is not taken for
	 * a usable grant (on_grant).
	 */
	l = lease_get(n, name, namelen);
	if (!l) {
		node_fail(n, "recording a hold to give back");
		return;
	}
	set_held(n, l, true);
	l->epoch = h->epoch;
	l->mode = h->mode;
	l->wanted = l->revoking = l->lost = false;
	l->linger_at = l->handover_at = 0;
	send_release(n, l, false);
	lease_settle(n, l);
}

static bool revocation_pending(const struct cl_node *n)
{
	struct cl_htab_iter it;
	for (const struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it))
		for (const struct chold *c = ch_first(&l->holders); c; c = ch_next(&l->holders, c))
			if (c->state == CH_REVOKED)
				return true;
	return false;
}

/*
 * Makes the local view agree with the machine: local holds the machine does
 * not show (as live, same epoch) are revoked; machine holds we do not know
 * are released; our own orphans are recovered once no revocation is pending.
 */
static void reconcile(struct cl_node *n)
{
	n->need_reconcile = false;
	if (!ready(n))
		return;
	struct cl_htab_iter it;
	for (struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it)) {
		if (l->held && !l->releasing &&
		    cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) != l->epoch) {
			set_held(n, l, false);
			l->wanted = l->revoking = l->lost = false;
			l->linger_at = l->handover_at = 0;
			revoke_holders(n, l);
		}
		if (l->req == REQ_QUEUED) {
			struct cl_lease_info info;
			struct cl_waiter_info w[CL_MAX_MEMBERS];
			bool found = false;
			if (cl_sm_lookup(n->sm, l->name, l->namelen, &info, NULL, 0, w,
					 CL_MAX_MEMBERS) == 0)
				for (uint32_t i = 0; i < info.nwaiters && i < CL_MAX_MEMBERS; i++)
					if (w[i].node == n->me)
						found = true;
			if (!found)
				l->req = REQ_NONE;
		}
		pump(n, l);
	}
	if (!cl_sm_quorate(n->sm))
		return;
	struct reconcile r = { n, 0 };
	cl_sm_foreach_hold_of(n->sm, n->me, reconcile_hold, &r);
	/*
	 * Our own orphans: safe to free once no revocation is pending here and
	 * a previous incarnation's clients (if we restarted) are past validity
	 * and revoke timeout; until then the fence timers of the others apply.
	 */
	if (r.max_orphan && r.max_orphan > n->recover_self_seq && !revocation_pending(n) &&
	    now_us(n) >= n->started_at + n->cfg.validity_us + n->cfg.revoke_timeout_us) {
		struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = n->me, .seq = r.max_orphan };
		if (send_msg(n, &m) == 0) {
			n->recover_self_seq = r.max_orphan;
			n->c.recover_sent++;
		}
	}
}

/* ---- confirming index writes ---- */

static void answer_write(struct cl_node *n, struct unconfirmed *u, int err)
{
	struct cl_node_event ev = { .type = CL_NODE_EV_INDEX_DONE, .client = u->client, .cookie = u->cookie,
			       .err = err, .version = err ? 0 : u->version, .deleted = u->deleted,
			       .name = u->buf, .namelen = u->namelen,
			       .key = u->buf + u->namelen, .keylen = u->keylen };
	if (u->client)
		ev_push(n, &ev);
}

/*
 * An applied write is answered only once it cannot be lost:
 *  - an own message handed to the transport after the write was applied
 *    has been delivered, with no departure in between.  Had the write been
 *    delivered in a transitional configuration (the ring already broken),
 *    that message could only arrive after the departure; so the write was
 *    delivered in a regular configuration and every surviving member has it;
 *  - after a departure (or a snapshot load), once the machine is quorate:
 *    the write stands if its entry (or, for a delete, its absence or a later
 *    write) is in the quorate state, else it was lost with a minority and the
 *    client gets -ESTALE.
 * Sends one NOP when nothing of ours is in flight to confirm with.
 */
static void confirm_writes(struct cl_node *n)
{
	bool need_nop = false;
	const struct outmsg *newest = q_last(&n->inflight);
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		int verdict = 1;            /* 1 = wait, 0 = done, <0 = lost */
		if (u->departures == n->departures) {
			if (n->own_delivered_seq > u->sent_mark)
				verdict = 0;
			else if (!(newest && newest->seq > u->sent_mark))
				need_nop = true;
		} else if (ready(n) && cl_sm_quorate(n->sm)) {
			uint64_t ver = 0;
			int rc = cl_index_entry_version(n->sm, u->buf, u->namelen, u->buf + u->namelen,
							u->keylen, &ver);
			bool stands = u->deleted ? (rc < 0 || ver > u->version) : (rc == 0 && ver >= u->version);
			verdict = stands ? 0 : -ESTALE;
		}
		if (verdict > 0)
			continue;
		answer_write(n, u, verdict);
		cl_list_del(e);
		free(u);
	}
	if (need_nop && ready(n) && cl_list_empty(&n->retry) && cl_list_empty(&n->pending)) {
		struct cl_msg m = { .type = CL_MSG_NOP, .req_id = 0 };
		send_msg(n, &m);
	}
}

/* Answers every unconfirmed write of client (0 = all) with err, or drops them silently. */
static void drop_unconfirmed(struct cl_node *n, uint64_t client, int err, bool tell)
{
	struct cl_list *e, *nx;
	cl_list_foreach_safe(e, nx, &n->unconf) {
		struct unconfirmed *u = cl_list_entry(e, struct unconfirmed, link);
		if (client && u->client != client)
			continue;
		if (tell)
			answer_write(n, u, err);
		cl_list_del(e);
		free(u);
	}
}

/* ---- sync rounds ---- */

static int member_index(const struct cl_node *n, uint32_t node)
{
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->members[i] == node)
			return (int)i;
	return -1;
}

static void sync_reset_buf(struct cl_node *n)
{
	free(n->sync.buf);
	n->sync.buf = NULL;
	n->sync.len = n->sync.cap = 0;
}

static void sync_start(struct cl_node *n)
{
	n->sync.active = true;
	n->sync.decided = n->sync.need_load = n->sync.loaded = false;
	n->sync.winner = CL_NODE_NONE;
	n->sync.next_chunk = 0;
	memset(n->sync.ann, 0, sizeof(n->sync.ann));
	sync_reset_buf(n);
	struct cl_msg m = { .type = CL_MSG_SYNC_ANNOUNCE, .ring = n->ring };
	if (n->sm) {
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		m.lsn = st.lsn;
		m.q_lsn = st.q_lsn;
		m.hash = cl_sm_hash(n->sm);
		m.flags = CL_SYNC_HAS_STATE;
	}
	send_msg(n, &m);
}

static void sync_send_snapshot(struct cl_node *n)
{
	uint8_t *buf;
	size_t len;
	if (cl_snap_encode(n->sm, &buf, &len) < 0) {
		node_fail(n, "encoding a snapshot");
		return;
	}
	size_t chunk = n->cfg.sync_chunk, off = 0;
	uint64_t idx = 0;
	do {
		size_t part = len - off < chunk ? len - off : chunk;
		struct cl_msg m = { .type = CL_MSG_SYNC_CHUNK, .ring = n->ring, .seq = idx++,
				    .flags = off + part == len ? CL_SYNC_LAST_CHUNK : 0, .value = buf + off,
				    .vallen = (uint32_t)part };
		send_msg(n, &m);
		off += part;
	} while (off < len);
	free(buf);
	n->c.snapshots_sent++;
}

static void sync_complete(struct cl_node *n)
{
	n->sync.active = false;
	sync_reset_buf(n);
	n->c.syncs++;
	n->quorum_sent = false;
	if (n->sync.loaded)
		arm_all_orphans(n);
	/* our ordinary messages dropped during the round go out again, first */
	struct cl_list keep = CL_LIST_INIT(keep);
	struct outmsg *m;
	while ((m = q_pop(&n->resend))) {
		if (m->type == CL_MSG_QUORUM ||
		    (m->type == CL_MSG_NOP && m->len >= CL_WIRE_HDR_LEN + 8 &&
		     cl_get_u64(m->data + CL_WIRE_HDR_LEN) == 0))
			free(m);   /* stale by nature: re-derived below */
		else
			q_push(&keep, m);
	}
	cl_list_splice_tail(&keep, &n->pending);
	while ((m = q_pop(&keep)))
		transmit(n, m);
	reconcile(n);
	maybe_send_quorum(n);
}

/* Loads the assembled snapshot.  Returns 0 or a negative code (-ENOMEM among them). */
static int sync_load(struct cl_node *n)
{
	struct cl_sm *fresh = cl_sm_new(&n->cfg.sm, on_action, n);
	if (!fresh)
		return -ENOMEM;
	int rc = cl_snap_decode(n->sync.buf, n->sync.len, fresh);
	if (rc == 0 && cl_sm_hash(fresh) != n->sync.win_hash)
		rc = COROLEASE_EPROTO;
	if (rc < 0) {
		cl_sm_free(fresh);
		return rc;
	}
	cl_sm_free(n->sm);
	n->sm = fresh;
	n->sync.loaded = true;
	n->departures++;   /* writes applied before the load are checked against it */
	n->c.snapshots_loaded++;
	return 0;
}

static void sync_decide(struct cl_node *n)
{
	int w = -1;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		if (!a->has_state)
			continue;
		if (w < 0) {
			w = (int)i;
			continue;
		}
		const struct announce *b = &n->sync.ann[w];
		if (a->q_lsn > b->q_lsn || (a->q_lsn == b->q_lsn && a->lsn > b->lsn) ||
		    (a->q_lsn == b->q_lsn && a->lsn == b->lsn && n->members[i] < n->members[w]))
			w = (int)i;
	}
	n->sync.decided = true;
	if (w < 0) {
		/* nobody has state: everyone starts the same empty machine */
		if (!n->sm)
			n->sm = cl_sm_new(&n->cfg.sm, on_action, n);
		if (!n->sm || cl_sm_confchg(n->sm, &n->ring, n->members, n->nmembers, NULL, 0) == -ENOMEM) {
			node_fail(n, "creating the state machine");
			return;
		}
		sync_complete(n);
		return;
	}
	n->sync.winner = n->members[w];
	n->sync.win_hash = n->sync.ann[w].hash;
	bool any_need = false;
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (!n->sync.ann[i].has_state || n->sync.ann[i].hash != n->sync.win_hash)
			any_need = true;
	int me = member_index(n, n->me);
	n->sync.need_load = me >= 0 &&
		(!n->sync.ann[me].has_state || n->sync.ann[me].hash != n->sync.win_hash);
	if (!any_need) {
		sync_complete(n);
		return;
	}
	if (n->sync.winner == n->me)
		sync_send_snapshot(n);
}

static void on_announce(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	int i = member_index(n, sender);
	if (!n->sync.active || n->sync.decided || i < 0 || !ring_eq(&m->ring, &n->ring))
		return;
	struct announce *a = &n->sync.ann[i];
	a->got = true;
	a->has_state = m->flags & CL_SYNC_HAS_STATE;
	a->lsn = m->lsn;
	a->q_lsn = m->q_lsn;
	a->hash = m->hash;
	for (uint32_t j = 0; j < n->nmembers; j++)
		if (!n->sync.ann[j].got)
			return;
	sync_decide(n);
}

static void on_chunk(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	if (!n->sync.active || !n->sync.decided || sender != n->sync.winner ||
	    !ring_eq(&m->ring, &n->ring) || m->seq != n->sync.next_chunk)
		return;
	n->sync.next_chunk++;
	if (n->sync.need_load && m->vallen) {
		if (n->sync.len + m->vallen > n->sync.cap) {
			size_t cap = n->sync.cap ? n->sync.cap : 1u << 20;
			while (cap < n->sync.len + m->vallen)
				cap *= 2;
			uint8_t *b = realloc(n->sync.buf, cap);
			if (!b) {
				node_fail(n, "receiving a snapshot");
				return;
			}
			n->sync.buf = b;
			n->sync.cap = cap;
		}
		memcpy(n->sync.buf + n->sync.len, m->value, m->vallen);
		n->sync.len += m->vallen;
	}
	if (!(m->flags & CL_SYNC_LAST_CHUNK))
		return;
	if (n->sync.need_load) {
		int rc = sync_load(n);
		if (rc == -ENOMEM) {
			node_fail(n, "loading a snapshot");
			return;
		}
		if (rc < 0) {
			/*
			 * Cannot happen with a correct peer.  Keep no state rather
			 * than a wrong one: the next round (any confchg) retries.
			 */
			nlog(n, LOG_CRIT, "snapshot from node %u rejected (%d); state dropped",
			     sender, rc);
			n->sm = cl_sm_free(n->sm);
			n->sync.active = false;
			revoke_all(n, "snapshot rejected");
			return;
		}
	}
	sync_complete(n);
}

/* ---- transport inputs ---- */

/* Renews validity for one of our own messages sent at sent_at. */
/*
 * Also during a sync round: the machine is then frozen, grants nothing, and
 * is quorate only on a side that has seen no departure since it was
 * confirmed, so a long snapshot transfer does not make every holder lapse.
 */
static void renew(struct cl_node *n, uint64_t sent_at)
{
	if (!n->sm || !quorum_ok(n) || !ring_eq(cl_sm_ring(n->sm), &n->ring))
		return;
	uint64_t t = sent_at + n->cfg.validity_us;
	if (t <= n->valid_until)
		return;
	uint64_t now = now_us(n);
	if (n->valid_until <= now && t > now)
		n->need_reconcile = true;   /* valid again: waiters held back by the lapse can go */
	set_valid_until(n, t);
}

/* After our own RELEASE is applied: the hold is gone unless re-granted since. */
static void after_own_release(struct cl_node *n, const struct cl_msg *m)
{
	struct nl_lease *l = lease_find(n, m->name, m->namelen);
	if (!l || !l->releasing || l->epoch != m->epoch)
		return;
	if (cl_sm_hold_epoch(n->sm, l->name, l->namelen, n->me, NULL) == l->epoch)
		return;
	set_held(n, l, false);
	l->releasing = l->wanted = l->revoking = l->lost = false;
	pump(n, l);
}

void cl_node_deliver(struct cl_node *n, uint32_t sender, const void *buf, size_t len)
{
	if (n->failed)
		return;
	struct cl_msg m;
	enter(n);
	n->c.delivered++;
	if (cl_wire_decode(buf, len, &m) < 0) {
		n->c.bad_msgs++;
		nlog(n, LOG_WARNING, "undecodable message of %zu bytes from node %u ignored", len, sender);
		leave(n);
		return;
	}
	uint64_t sent_at = 0;
	struct outmsg *own = NULL;
	if (sender == n->me) {
		struct outmsg *h = q_first(&n->inflight);
		if (h && h->len == len && !memcmp(h->data, buf, len)) {
			own = q_pop(&n->inflight);
			sent_at = own->sent_at;
			n->own_delivered_seq = own->seq;
		} else {
			nlog(n, LOG_WARNING, "own %s delivered out of order; ignored for renewal",
			     cl_msg_type_name(m.type));
		}
	}
	if (m.type == CL_MSG_SYNC_ANNOUNCE) {
		on_announce(n, sender, &m);
	} else if (m.type == CL_MSG_SYNC_CHUNK) {
		on_chunk(n, sender, &m);
	} else if (!ready(n)) {
		n->c.dropped_in_sync++;
		if (own) {
			renew(n, sent_at);
			q_push(&n->resend, own);
			own = NULL;
		}
	} else {
		if (own)
			renew(n, sent_at);
		int rc = cl_sm_apply(n->sm, sender, &m);
		if (rc == -ENOMEM)
			node_fail(n, "applying a delivered message");
		else if (rc < 0)
			nlog(n, LOG_ERR, "%s from node %u not applied: %d", cl_msg_type_name(m.type),
			     sender, rc);
		if (own) {
			renew(n, sent_at);
			if (m.type == CL_MSG_RELEASE || m.type == CL_MSG_HANDOVER_DONE)
				after_own_release(n, &m);
		}
	}
	free(own);
	leave(n);
}

void cl_node_confchg(struct cl_node *n, const struct cl_ring *ring,
		     const uint32_t *members, size_t nmembers,
		     const uint32_t *left, size_t nleft,
		     const uint32_t *joined, size_t njoined)
{
	(void)joined;
	if (n->failed)
		return;
	enter(n);
	if (nmembers > CL_MAX_MEMBERS) {
		nlog(n, LOG_CRIT, "configuration of %zu members exceeds %u; ignored", nmembers,
		     CL_MAX_MEMBERS);
		leave(n);
		return;
	}
	n->ring = *ring;
	n->nmembers = (uint32_t)nmembers;
	memcpy(n->members, members, nmembers * sizeof(*members));
	if (n->sm) {
		int rc = cl_sm_confchg(n->sm, ring, members, nmembers, left, nleft);
		if (rc == -ENOMEM)
			node_fail(n, "applying a configuration change");
		else if (rc < 0)
			nlog(n, LOG_ERR, "invalid configuration change ignored by the machine");
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		uint64_t deadline = now_us(n) + n->cfg.fence_delay_us;
		for (size_t i = 0; i < nleft; i++)
			if (left[i] != n->me)
				fence_arm(n, left[i], st.orphan_seq, deadline);
	}
	if (nleft)
		n->departures++;
	if (nleft && now_us(n) >= n->valid_until)
		revoke_all(n, "members left and validity has lapsed");
	if (njoined || n->sync.active || !n->sm)
		sync_start(n);
	else
		n->need_reconcile = true;
	maybe_send_quorum(n);
	leave(n);
}

void cl_node_quorum(struct cl_node *n, bool quorate, const struct cl_ring *ring)
{
	if (n->failed)
		return;
	enter(n);
	n->vq_quorate = quorate;
	n->vq_ring = *ring;
	if (!quorate && !(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK))
		revoke_all(n, "quorum lost");
	else
		n->need_reconcile = true;
	maybe_send_quorum(n);
	leave(n);
}

void cl_node_transport_lost(struct cl_node *n)
{
	if (n->failed)
		return;
	enter(n);
	revoke_all(n, "transport lost");
	n->sm = cl_sm_free(n->sm);
	n->sync.active = false;
	sync_reset_buf(n);
	n->vq_quorate = false;
	q_free(&n->retry);
	q_free(&n->inflight);
	q_free(&n->resend);
	q_free(&n->pending);
	n->nfences = 0;
	/* requests cannot be answered any more */
	struct cl_htab_iter it;
	for (struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it)) {
		deny_waiters(n, l, -ENOTCONN);
		set_held(n, l, false);
		l->req = REQ_NONE;
		l->releasing = l->wanted = l->lost = l->revoking = false;
		lease_settle(n, l);
	}
	struct cl_hnode *e;
	for (e = cl_htab_iter_first(&n->requests, &it); e; e = cl_htab_iter_next(&n->requests, &it)) {
		struct pending_op *o = cl_container_of(e, struct pending_op, hn);
		if (o->client) {
			struct cl_node_event ev = { .type = o->kind == OP_SYNC ? CL_NODE_EV_SYNC_DONE :
							    o->kind == OP_INDEX ? CL_NODE_EV_INDEX_DONE :
										  CL_NODE_EV_ADMIN_DONE,
						    .client = o->client, .cookie = o->cookie,
						    .err = -ENOTCONN };
			ev_push(n, &ev);
		}
		cl_htab_del(&n->requests, e);
		free(o);
	}
	drop_unconfirmed(n, 0, -ENOTCONN, true);
	leave(n);
}

/* ---- timers ---- */

struct orphan_count {
	uint32_t node;
	uint64_t upto, n;
};

static void count_orphan(void *ctx, const uint8_t *name, uint16_t namelen,
			 const struct cl_hold_info *h)
{
	(void)name;
	(void)namelen;
	struct orphan_count *oc = ctx;
	if (h->node == oc->node && h->orphan_seq <= oc->upto)
		oc->n++;
}

/* Number of node's orphaned holds with orphan seq <= upto. */
static uint64_t orphans_of(struct cl_node *n, uint32_t node, uint64_t upto)
{
	struct orphan_count oc = { node, upto, 0 };
	cl_sm_foreach_orphan(n->sm, count_orphan, &oc);
	return oc.n;
}

static void lease_timers(struct cl_node *n, struct nl_lease *l, uint64_t now)
{
	if (l->linger_at && l->linger_at <= now) {
		l->linger_at = 0;
		if (l->held && !l->holders.n && !l->releasing && l->req == REQ_NONE && !l->waiters.n)
			send_release(n, l, false);
	}
	if (l->handover_at && l->handover_at <= now) {
		l->handover_at = 0;
		l->revoking = true;
		revoke_holders(n, l);
	}
	struct chold *c, *next;
	for (c = ch_first(&l->holders); c; c = next) {
		next = ch_next(&l->holders, c);
		if (c->state == CH_REVOKED && c->deadline <= now) {
			if (n->cfg.kill_on_revoke) {
				n->c.kills++;
				ev_lease(n, CL_NODE_EV_KILL, c, COROLEASE_EREVOKED, 0);
			}
			struct nl_client *cl = c->client;
			chold_free(n, c);
			client_maybe_free(n, cl);
		}
	}
	for (c = ch_first(&l->waiters); c; c = next) {
		next = ch_next(&l->waiters, c);
		if (c->deadline && c->deadline <= now) {
			ev_lease(n, CL_NODE_EV_DENIED, c, -ETIMEDOUT, l->wanted_by);
			struct nl_client *cl = c->client;
			chold_free(n, c);
			client_maybe_free(n, cl);
		}
	}
	pump(n, l);
}

void cl_node_tick(struct cl_node *n)
{
	if (n->failed)
		return;
	enter(n);
	uint64_t now = now_us(n);
	flush_retry(n);
	while (n->heap_n && n->heap[0]->next_deadline <= now) {
		struct nl_lease *l = n->heap[0];
		heap_remove(n, l);
		l->next_deadline = CL_TIME_NEVER;
		lease_timers(n, l, now);
	}
	for (size_t i = 0; i < n->nfences;) {
		struct fence_timer *f = &n->fences[i];
		if (f->deadline > now) {
			i++;
			continue;
		}
		if (ready(n) && !orphans_of(n, f->node, f->seq)) {
			n->fences[i] = n->fences[--n->nfences];
			continue;
		}
		if (ready(n) && cl_sm_quorate(n->sm)) {
			struct cl_msg m = { .type = CL_MSG_RECOVER_NODE, .node = f->node, .seq = f->seq };
			if (send_msg(n, &m) == 0)
				n->c.recover_sent++;
		}
		/* until the orphans are gone: the message may meet a non-quorate machine */
		f->deadline = now + n->cfg.validity_us / 2;
		i++;
	}
	if (n->client_holds && n->valid_until && now >= n->valid_until)
		revoke_all(n, "validity lapsed");
	if (n->nheld && n->sm && now >= n->last_send + n->cfg.heartbeat_us)
		send_heartbeat(n);
	leave(n);
}

uint64_t cl_node_next_deadline(const struct cl_node *n)
{
	uint64_t d = CL_TIME_NEVER;
	if (n->failed)
		return d;
	if (n->heap_n)
		d = n->heap[0]->next_deadline;
	for (size_t i = 0; i < n->nfences; i++)
		if (n->fences[i].deadline < d)
			d = n->fences[i].deadline;
	if (n->client_holds && n->valid_until && n->valid_until < d)
		d = n->valid_until;
	if (n->nheld && n->sm && n->last_send + n->cfg.heartbeat_us < d)
		d = n->last_send + n->cfg.heartbeat_us;
	if (!cl_list_empty(&n->retry)) {
		uint64_t r = n->ops.now(n->ctx) + 1000;
		if (r < d)
			d = r;
	}
	return d;
}

/* ---- client requests ---- */

static bool name_ok(const void *name, size_t len)
{
	return name && len >= 1 && len <= COROLEASE_NAME_MAX;
}

int cl_node_acquire(struct cl_node *n, uint64_t client, uint64_t cookie,
		    const void *name, size_t namelen, uint8_t mode, unsigned flags,
		    uint64_t timeout_us)
{
	if (n->failed)
		return -ENOMEM;
	if (!name_ok(name, namelen) || (mode != CL_MODE_EX && mode != CL_MODE_SH) ||
	    (flags & ~CL_ACQ_FLAGS_ALL) || client == 0)
		return -EINVAL;
	if (n->draining)
		return -ESHUTDOWN;
	enter(n);
	int rc = 0;
	struct nl_client *c = client_get(n, client);
	struct nl_lease *l = c ? lease_get(n, name, namelen) : NULL;
	struct chold *ch = NULL;
	if (!c || !l) {
		rc = -ENOMEM;
		goto out;
	}
	if (chold_of(c, l)) {
		rc = -EALREADY;
		goto out;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		rc = -ENOMEM;
		goto out;
	}
	ch->lease = l;
	ch->client = c;
	ch->cookie = cookie;
	ch->mode = mode;
	ch->flags = (uint8_t)flags;
	ch->state = CH_WAITING;
	ch->deadline = timeout_us ? now_us(n) + timeout_us : 0;
	cl_list_add_head(&c->holds, &ch->clink);
	c->nholds++;
	chl_push(&l->waiters, ch);
	if (!ready(n) && !(flags & CL_ACQ_WAIT)) {
		ev_lease(n, CL_NODE_EV_DENIED, ch, COROLEASE_ESYNCING, 0);
		chold_free(n, ch);
	} else if (ready(n) && !(n->vq_quorate && cl_sm_quorate(n->sm)) && !(flags & CL_ACQ_WAIT) &&
		   !(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_QUORUM_CHECK)) {
		ev_lease(n, CL_NODE_EV_DENIED, ch, COROLEASE_ENOQUORUM, 0);
		chold_free(n, ch);
	} else {
		uint64_t before = n->client_holds;
		pump(n, l);
		if (n->client_holds > before && ch->state == CH_HELD)
			n->c.fastpath_grants += l->req == REQ_NONE;
		l = NULL;
	}
out:
	if (l)
		lease_settle(n, l);
	if (c)
		client_maybe_free(n, c);
	leave(n);
	return rc;
}

int cl_node_release(struct cl_node *n, uint64_t client, const void *name, size_t namelen)
{
	if (n->failed)
		return -ENOMEM;
	struct nl_client *c = client_find(n, client);
	struct nl_lease *l = name_ok(name, namelen) ? lease_find(n, name, namelen) : NULL;
	struct chold *ch = c && l ? chold_of(c, l) : NULL;
	if (!ch)
		return COROLEASE_ENOTHELD;
	enter(n);
	chold_free(n, ch);
	client_maybe_free(n, c);
	pump(n, l);
	leave(n);
	return 0;
}

void cl_node_client_gone(struct cl_node *n, uint64_t client)
{
	if (n->failed)
		return;
	struct nl_client *c = client_find(n, client);
	enter(n);
	struct cl_list *e;
	while (c && (e = cl_list_first(&c->holds))) {
		struct chold *ch = cl_list_entry(e, struct chold, clink);
		struct nl_lease *l = ch->lease;
		chold_free(n, ch);
		pump(n, l);
	}
	if (c)
		client_maybe_free(n, c);
	drop_unconfirmed(n, client, 0, false);
	struct cl_htab_iter it;
	for (struct cl_hnode *h = cl_htab_iter_first(&n->requests, &it); h;
	     h = cl_htab_iter_next(&n->requests, &it)) {
		struct pending_op *o = cl_container_of(h, struct pending_op, hn);
		if (o->client == client)
			o->client = 0;   /* answer arrives later; nobody to tell */
	}
	leave(n);
}

/*
 * Sends m as a request of client answered by an op of kind.  0, or a
 * negative code with nothing changed (-ENOMEM refuses the request only).
 */
static int send_op(struct cl_node *n, uint64_t client, uint64_t cookie, uint8_t kind, struct cl_msg *m)
{
	if (n->failed)
		return -ENOMEM;
	m->req_id = new_req(n);
	int rc = op_add(n, m->req_id, client, cookie, kind);
	if (rc < 0)
		return rc;
	rc = queue_msg(n, m);
	if (rc < 0)
		free(op_take(n, m->req_id));
	return rc;
}

static int index_write(struct cl_node *n, uint64_t client, uint64_t cookie, struct cl_msg *m)
{
	if (n->failed)
		return -ENOMEM;
	if (!name_ok(m->name, m->namelen) || !m->key || m->keylen < 1)
		return -EINVAL;
	struct nl_client *c = client_find(n, client);
	struct nl_lease *l = c ? lease_find(n, m->name, m->namelen) : NULL;
	struct chold *ch = l ? chold_of(c, l) : NULL;
	if (!ch || ch->state != CH_HELD || ch->mode != CL_MODE_EX || !l->held || l->mode != CL_MODE_EX)
		return COROLEASE_ENOTHELD;
	m->epoch = l->epoch;
	enter(n);
	int rc = send_op(n, client, cookie, OP_INDEX, m);
	leave(n);
	return rc;
}

int cl_node_index_put(struct cl_node *n, uint64_t client, uint64_t cookie,
		      const void *name, size_t namelen, const void *key, size_t keylen,
		      const void *val, size_t vallen)
{
	if (vallen > COROLEASE_VALUE_MAX || (vallen && !val) || keylen > COROLEASE_KEY_MAX ||
	    namelen > COROLEASE_NAME_MAX)
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_INDEX_PUT, .name = name, .namelen = (uint16_t)namelen,
			    .key = key, .keylen = (uint8_t)keylen, .value = val,
			    .vallen = (uint32_t)vallen };
	return index_write(n, client, cookie, &m);
}

int cl_node_index_del(struct cl_node *n, uint64_t client, uint64_t cookie,
		      const void *name, size_t namelen, const void *key, size_t keylen)
{
	if (keylen > COROLEASE_KEY_MAX || namelen > COROLEASE_NAME_MAX)
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_INDEX_DEL, .name = name, .namelen = (uint16_t)namelen,
			    .key = key, .keylen = (uint8_t)keylen };
	return index_write(n, client, cookie, &m);
}

int cl_node_sync(struct cl_node *n, uint64_t client, uint64_t cookie)
{
	struct cl_msg m = { .type = CL_MSG_NOP };
	enter(n);
	int rc = send_op(n, client, cookie, OP_SYNC, &m);
	leave(n);
	return rc;
}

int cl_node_evict(struct cl_node *n, uint64_t client, uint64_t cookie,
		  const void *name, size_t namelen)
{
	if (!name_ok(name, namelen))
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_EVICT, .name = name, .namelen = (uint16_t)namelen };
	enter(n);
	int rc = send_op(n, client, cookie, OP_ADMIN, &m);
	leave(n);
	return rc;
}

int cl_node_fence_ack(struct cl_node *n, uint64_t client, uint64_t cookie, uint32_t node)
{
	if (node == CL_NODE_NONE)
		return -EINVAL;
	struct cl_msg m = { .type = CL_MSG_FENCE_ACK, .node = node };
	enter(n);
	int rc = send_op(n, client, cookie, OP_ADMIN, &m);
	leave(n);
	return rc;
}

void cl_node_drain(struct cl_node *n)
{
	if (n->failed)
		return;
	enter(n);
	n->draining = true;
	struct cl_htab_iter it;
	for (struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it)) {
		deny_waiters(n, l, -ESHUTDOWN);
		if (l->held && !l->releasing) {
			l->wanted = true;   /* give it up as soon as the holders are gone */
			l->linger_at = 0;
			l->handover_at = 0;
			revoke_holders(n, l);
		}
		pump(n, l);
	}
	leave(n);
}

bool cl_node_drained(const struct cl_node *n)
{
	if (n->failed || !ready(n) || !cl_sm_quorate(n->sm))
		return true;        /* nothing more can be handed back now */
	return n->nheld == 0 && cl_list_empty(&n->inflight) && cl_list_empty(&n->retry) &&
	       cl_list_empty(&n->pending);
}

/* ---- lifecycle and queries ---- */

int cl_node_config_finish(struct cl_node_config *cfg, char *err, size_t errlen)
{
	if (!cfg->linger_us)
		cfg->linger_us = 5000000;
	if (!cfg->handover_timeout_us)
		cfg->handover_timeout_us = 10000000;
	if (!cfg->revoke_timeout_us)
		cfg->revoke_timeout_us = 5000000;
	if (!cfg->validity_us)
		cfg->validity_us = 2000000;
	if (!cfg->heartbeat_us)
		cfg->heartbeat_us = cfg->validity_us / 4;
	if (!cfg->fence_delay_us)
		cfg->fence_delay_us = cfg->validity_us + cfg->revoke_timeout_us + 2000000;
	if (!cfg->sync_chunk)
		cfg->sync_chunk = 256u * 1024u;
	if (cfg->sync_chunk > CL_SYNC_CHUNK_MAX)
		cfg->sync_chunk = CL_SYNC_CHUNK_MAX;
	if (cfg->fence_delay_us < cfg->validity_us + cfg->revoke_timeout_us) {
		if (err)
			snprintf(err, errlen, "fence_delay_ms (%llu) must be at least validity_ms (%llu) "
				 "+ revoke_timeout_ms (%llu)",
				 (unsigned long long)(cfg->fence_delay_us / 1000),
				 (unsigned long long)(cfg->validity_us / 1000),
				 (unsigned long long)(cfg->revoke_timeout_us / 1000));
		return -EINVAL;
	}
	if (cfg->heartbeat_us >= cfg->validity_us) {
		if (err)
			snprintf(err, errlen, "heartbeat_ms (%llu) must be below validity_ms (%llu)",
				 (unsigned long long)(cfg->heartbeat_us / 1000),
				 (unsigned long long)(cfg->validity_us / 1000));
		return -EINVAL;
	}
	return 0;
}

struct cl_node *cl_node_new(const struct cl_node_config *cfg, const struct cl_node_ops *ops, void *ctx)
{
	if (!cfg || !ops || !ops->now || !ops->mcast || cfg->nodeid == CL_NODE_NONE)
		return NULL;
	struct cl_node_config c = *cfg;
	if (cl_node_config_finish(&c, NULL, 0) < 0)
		return NULL;
	struct cl_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cfg = c;
	n->ops = *ops;
	n->ctx = ctx;
	n->me = c.nodeid;
	n->started_at = ops->now(ctx);
	cl_list_init(&n->pending);
	cl_list_init(&n->retry);
	cl_list_init(&n->inflight);
	cl_list_init(&n->resend);
	cl_list_init(&n->unconf);
	cl_list_init(&n->evq);
	if (cl_htab_init(&n->leases, 256) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

/* Frees every entry of t (each embeds its cl_hnode at offset off), then t's buckets. */
static void free_entries(struct cl_htab *t, size_t off)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(t, &it); e; e = cl_htab_iter_next(t, &it))
		free((char *)e - off);
	cl_htab_fini(t);
}

struct cl_node *cl_node_free(struct cl_node *n)
{
	if (!n)
		return NULL;
	struct cl_htab_iter it;
	for (struct nl_lease *l = lease_first(n, &it); l; l = lease_next(n, &it)) {
		struct chold *c, *cn;
		for (c = ch_first(&l->holders); c; c = cn) {
			cn = ch_next(&l->holders, c);
			free(c);
		}
		for (c = ch_first(&l->waiters); c; c = cn) {
			cn = ch_next(&l->waiters, c);
			free(c);
		}
		free(l);
	}
	cl_htab_fini(&n->leases);
	free_entries(&n->clients, offsetof(struct nl_client, hn));
	free_entries(&n->requests, offsetof(struct pending_op, hn));
	free_links(&n->evq, offsetof(struct qevent, link));
	free_links(&n->pending, offsetof(struct outmsg, link));
	free_links(&n->retry, offsetof(struct outmsg, link));
	free_links(&n->inflight, offsetof(struct outmsg, link));
	free_links(&n->resend, offsetof(struct outmsg, link));
	free_links(&n->unconf, offsetof(struct unconfirmed, link));
	free(n->heap);
	free(n->fences);
	sync_reset_buf(n);
	cl_sm_free(n->sm);
	free(n);
	return NULL;
}

const struct cl_sm *cl_node_sm(const struct cl_node *n)
{
	return n->failed ? NULL : n->sm;
}

bool cl_node_synced(const struct cl_node *n)
{
	return !n->failed && ready(n);
}

bool cl_node_failed(const struct cl_node *n)
{
	return n->failed;
}

uint64_t cl_node_valid_until(const struct cl_node *n)
{
	return n->valid_until;
}

void cl_node_counters(const struct cl_node *n, struct cl_node_counters *c_r)
{
	*c_r = n->c;
}

uint64_t cl_node_client_holds(const struct cl_node *n)
{
	return n->client_holds;
}
