/*
 * ipc.c - libqb IPC server: authorises clients, validates every request of
 * corolease/ipc.h, hands requests to the node agent and turns its events into
 * protocol events.  Contract: ipc.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Memory per client stays bounded: leases (max_leases_per_client), pending
 * requests (max_pending_per_client), and events the client does not read
 * (a small backlog, CLD_OUTQ_MAX bytes, then the client is disconnected).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbipcs.h>

#include "index.h"
#include "ipc.h"
#include "hash.h"
#include "status.h"

#define CLD_MAX_BAD      16u
#define CLD_OUTQ_MAX     (4u * 1024u * 1024u)  /* unread event backlog per client */
#define CLD_BATCH_BYTES  (60u * 1024u)        /* ITEMS payload per event */
#define CLD_FLUSH_NS     (5ull * 1000000ull)
#define NBUCKETS         1024u

enum { CN_PENDING = 1, CN_HELD = 2 };

struct cname {
	struct cname *next;
	uint8_t state;
	uint16_t namelen;
	uint8_t name[];
};

struct watch {
	struct watch *next;
	uint16_t namelen;
	uint8_t name[];
};

struct outbuf {
	struct outbuf *next;
	size_t len;
	bool bulk;                    /* part of a LIST / INDEX_LIST answer */
	uint8_t data[];
};

struct conn {
	struct conn *next, *prev;
	struct conn *hnext;
	qb_ipcs_connection_t *qc;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool hello, admin, dying;
	unsigned bad;
	uint64_t nleases, pending;
	struct cname **nb;
	size_t nnb;
	bool watch_all;
	struct watch *watches;
	struct outbuf *oq_head, *oq_tail;
	size_t oq_bytes;
	size_t bulk_bytes;            /* queued list output, exempt from CLD_OUTQ_MAX */
	bool bulk;                    /* a list is being produced now */
};

struct op {
	struct op *next;
	uint64_t id;
	uint64_t conn_id;
	uint64_t cookie;
	uint32_t req_type;
	uint16_t namelen;
	uint8_t keylen;
	uint8_t data[];               /* INDEX_GET|SYNC: name then key */
};

struct cld_ipc {
	struct cld *d;
	qb_ipcs_service_t *s;
	struct conn *conns;
	uint64_t nconns, nhello;
	struct conn *hash[NBUCKETS];
	struct op *ops[NBUCKETS];
	uint64_t next_op, next_id;
	bool sock_gid_ok, admin_gid_ok;
	gid_t sock_gid, admin_gid;
	qb_loop_timer_handle flush_timer;
	bool flush_armed;
	/* event scratch, and a copy of a request that libqb hands over misaligned */
	uint8_t buf[CLP_MAX_MSG] __attribute__((aligned(64)));
	uint8_t req[CLP_MAX_MSG] __attribute__((aligned(64)));
};

static qb_loop_t *g_loop;         /* for the libqb poll handlers, which get no context */
static struct cld_ipc *g_ipc;

/* ---- loop glue for libqb ---- */

static int32_t ph_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(g_loop, p, data, fn);
}

static int32_t ph_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(g_loop, p, fd, events, data, fn);
}

static int32_t ph_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(g_loop, p, fd, events, data, fn);
}

static int32_t ph_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(g_loop, fd);
}

/* ---- helpers ---- */

static struct conn *conn_find(struct cld_ipc *ip, uint64_t id)
{
	for (struct conn *c = ip->hash[cl_mix64(id) & (NBUCKETS - 1)]; c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static uint64_t nhash(const void *name, size_t len)
{
	return cl_hash_bytes(0x69706321ULL, name, len);
}

static struct cname **cname_slot(struct conn *c, const void *name, size_t len)
{
	if (!c->nnb)
		return NULL;
	struct cname **pp = &c->nb[nhash(name, len) & (c->nnb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->namelen == len && !memcmp((*pp)->name, name, len))
			return pp;
	return pp;
}

static struct cname *cname_find(struct conn *c, const void *name, size_t len)
{
	struct cname **pp = cname_slot(c, name, len);
	return pp ? *pp : NULL;
}

static int cname_add(struct conn *c, const void *name, size_t len)
{
	if (c->nleases >= c->nnb) {
		size_t nb = c->nnb ? c->nnb * 2 : 16;
		struct cname **b = calloc(nb, sizeof(*b));
		if (!b)
			return -ENOMEM;
		for (size_t i = 0; i < c->nnb; i++) {
			struct cname *x = c->nb[i], *next;
			for (; x; x = next) {
				next = x->next;
				struct cname **s = &b[nhash(x->name, x->namelen) & (nb - 1)];
				x->next = *s;
				*s = x;
			}
		}
		free(c->nb);
		c->nb = b;
		c->nnb = nb;
	}
	struct cname *n = malloc(sizeof(*n) + len);
	if (!n)
		return -ENOMEM;
	n->state = CN_PENDING;
	n->namelen = (uint16_t)len;
	memcpy(n->name, name, len);
	struct cname **s = &c->nb[nhash(name, len) & (c->nnb - 1)];
	n->next = *s;
	*s = n;
	c->nleases++;
	c->pending++;
	return 0;
}

static void cname_del(struct conn *c, const void *name, size_t len)
{
	struct cname **pp = cname_slot(c, name, len);
	if (!pp || !*pp)
		return;
	struct cname *n = *pp;
	*pp = n->next;
	if (n->state == CN_PENDING)
		c->pending--;
	c->nleases--;
	free(n);
}

static struct op *op_new(struct cld_ipc *ip, struct conn *c, uint64_t cookie, uint32_t type,
			 const void *name, size_t namelen, const void *key, size_t keylen)
{
	struct op *o = malloc(sizeof(*o) + namelen + keylen);
	if (!o)
		return NULL;
	o->id = ++ip->next_op;
	o->conn_id = c->id;
	o->cookie = cookie;
	o->req_type = type;
	o->namelen = (uint16_t)namelen;
	o->keylen = (uint8_t)keylen;
	if (namelen)
		memcpy(o->data, name, namelen);
	if (keylen)
		memcpy(o->data + namelen, key, keylen);
	struct op **s = &ip->ops[cl_mix64(o->id) & (NBUCKETS - 1)];
	o->next = *s;
	*s = o;
	c->pending++;
	return o;
}

/* Unlinks the op (caller frees) and settles its client's pending count. */
static struct op *op_take(struct cld_ipc *ip, uint64_t id)
{
	struct op **pp = &ip->ops[cl_mix64(id) & (NBUCKETS - 1)];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct op *o = *pp;
			*pp = o->next;
			struct conn *c = conn_find(ip, o->conn_id);
			if (c && c->pending)
				c->pending--;
			return o;
		}
	}
	return NULL;
}

/* ---- sending ---- */

static void disconnect_job(void *data)
{
	qb_ipcs_connection_t *qc = data;
	qb_ipcs_disconnect(qc);
	qb_ipcs_connection_unref(qc);
}

/* Disconnects c from the loop (never from inside libqb's own call chain). */
static void conn_kill(struct conn *c, const char *why)
{
	if (c->dying)
		return;
	c->dying = true;
	qb_log(why ? LOG_WARNING : LOG_DEBUG, "disconnecting client %" PRIu64 " (pid %d): %s", c->id, (int)c->pid,
	       why ? why : "connection already closed");
	qb_ipcs_connection_ref(c->qc);
	if (qb_loop_job_add(g_loop, QB_LOOP_HIGH, c->qc, disconnect_job) != 0) {
		qb_ipcs_connection_unref(c->qc);
		qb_ipcs_disconnect(c->qc);
	}
}

static void flush_all(void *data);

/* Log reason for a failed event send; NULL (quiet) when the peer just left. */
static const char *send_err_reason(ssize_t rc)
{
	if (rc == -ENOTCONN || rc == -EPIPE || rc == -ESHUTDOWN || rc == -ECONNRESET)
		return NULL;
	return rc == -EMSGSIZE ? "event larger than the client's buffer" : "event send failed";
}

static void arm_flush(struct cld_ipc *ip)
{
	if (ip->flush_armed)
		return;
	if (qb_loop_timer_add(g_loop, QB_LOOP_MED, CLD_FLUSH_NS, ip, flush_all, &ip->flush_timer) == 0)
		ip->flush_armed = true;
}

/* Sends what is queued for c.  Returns true when the queue is empty. */
static bool conn_flush(struct conn *c)
{
	while (c->oq_head) {
		struct outbuf *b = c->oq_head;
		ssize_t rc = qb_ipcs_event_send(c->qc, b->data, b->len);
		if (rc == -EAGAIN || rc == -ENOBUFS || rc == -ETIMEDOUT)
			return false;
		c->oq_head = b->next;
		if (!c->oq_head)
			c->oq_tail = NULL;
		c->oq_bytes -= b->len;
		if (b->bulk)
			c->bulk_bytes -= b->len;
		free(b);
		if (rc < 0) {
			conn_kill(c, send_err_reason(rc));
			return true;
		}
	}
	return true;
}

static void flush_all(void *data)
{
	struct cld_ipc *ip = data;
	ip->flush_armed = false;
	bool more = false;
	for (struct conn *c = ip->conns; c; c = c->next)
		if (!c->dying && c->oq_head && !conn_flush(c))
			more = true;
	if (more)
		arm_flush(ip);
}

/* Sends one event (buf with its header filled in), queueing a short backlog. */
static void send_ev(struct conn *c, void *buf, size_t len)
{
	if (c->dying)
		return;
	struct qb_ipc_response_header *h = buf;
	h->size = (int32_t)len;
	h->error = 0;
	if (!c->oq_head) {
		ssize_t rc = qb_ipcs_event_send(c->qc, buf, len);
		if (rc >= 0)
			return;
		if (rc != -EAGAIN && rc != -ENOBUFS && rc != -ETIMEDOUT) {
			conn_kill(c, send_err_reason(rc));
			return;
		}
	}
	/*
	 * A list answer may be as large as the replica; it is queued whole (one
	 * per client at a time).  Everything else counts against CLD_OUTQ_MAX.
	 */
	if (!c->bulk && c->oq_bytes - c->bulk_bytes + len > CLD_OUTQ_MAX) {
		conn_kill(c, "client does not read its events");
		return;
	}
	struct outbuf *b = malloc(sizeof(*b) + len);
	if (!b) {
		conn_kill(c, "out of memory queueing an event");
		return;
	}
	b->next = NULL;
	b->len = len;
	b->bulk = c->bulk;
	if (b->bulk)
		c->bulk_bytes += len;
	memcpy(b->data, buf, len);
	if (c->oq_tail)
		c->oq_tail->next = b;
	else
		c->oq_head = b;
	c->oq_tail = b;
	c->oq_bytes += len;
	arm_flush(g_ipc);
}

static void send_result(struct conn *c, uint64_t cookie, uint32_t type, int err,
			const void *payload, size_t plen)
{
	struct cld_ipc *ip = g_ipc;
	struct clp_ev_result *r = (struct clp_ev_result *)ip->buf;
	memset(r, 0, sizeof(*r));
	r->b.hdr.id = CLP_EV_RESULT;
	r->b.cookie = cookie;
	r->err = err;
	r->req_type = type;
	if (plen)
		memcpy(ip->buf + sizeof(*r), payload, plen);
	send_ev(c, ip->buf, sizeof(*r) + plen);
}

static void send_lease_ev(struct conn *c, uint32_t type, const struct cl_event *ev, uint32_t node)
{
	struct cld_ipc *ip = g_ipc;
	struct clp_ev_lease *e = (struct clp_ev_lease *)ip->buf;
	memset(e, 0, sizeof(*e));
	e->b.hdr.id = (int32_t)type;
	e->b.cookie = ev->cookie;
	e->err = type == CLP_EV_REVOKED ? ev->err : 0;
	e->node = node;
	e->epoch = ev->epoch;
	e->valid_until = ev->valid_until;
	e->deadline = ev->deadline;
	e->mode = ev->mode;
	e->namelen = ev->namelen;
	memcpy(ip->buf + sizeof(*e), ev->name, ev->namelen);
	send_ev(c, ip->buf, sizeof(*e) + ev->namelen);
}

/* ---- authorisation ---- */

/* True when pid (primary gid gid) is a member of target, by /proc/PID/status. */
static bool in_group(pid_t pid, gid_t gid, gid_t target)
{
	if (gid == target)
		return true;
	if (pid <= 0)
		return false;
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7))
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == target)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static int32_t accept_fn(qb_ipcs_connection_t *qc, uid_t uid, gid_t gid)
{
	struct cld_ipc *ip = g_ipc;
	struct qb_ipcs_connection_stats st;
	memset(&st, 0, sizeof(st));
	qb_ipcs_connection_stats_get(qc, &st, 0);
	pid_t pid = st.client_pid;
	if (ip->d->stopping)
		return -ESHUTDOWN;
	bool ok = uid == 0 || uid == getuid() ||
		  (ip->sock_gid_ok && in_group(pid, gid, ip->sock_gid));
	if (!ok) {
		qb_log(LOG_NOTICE, "refused IPC connection from uid %u gid %u pid %d: not in socket_group '%s'",
		       (unsigned)uid, (unsigned)gid, (int)pid, ip->d->cfg.socket_group);
		return -EACCES;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->qc = qc;
	c->id = ++ip->next_id;
	c->pid = pid;
	c->uid = uid;
	c->gid = gid;
	c->admin = uid == 0 || (ip->admin_gid_ok && in_group(pid, gid, ip->admin_gid));
	c->next = ip->conns;
	if (ip->conns)
		ip->conns->prev = c;
	ip->conns = c;
	struct conn **s = &ip->hash[cl_mix64(c->id) & (NBUCKETS - 1)];
	c->hnext = *s;
	*s = c;
	ip->nconns++;
	qb_ipcs_context_set(qc, c);
	qb_log(LOG_DEBUG, "client %" PRIu64 " connected: pid %d uid %u%s", c->id, (int)pid,
	       (unsigned)uid, c->admin ? " (admin)" : "");
	return 0;
}

static void conn_free(struct cld_ipc *ip, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		ip->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	struct conn **pp = &ip->hash[cl_mix64(c->id) & (NBUCKETS - 1)];
	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	ip->nconns--;
	if (c->hello)
		ip->nhello--;
	for (size_t i = 0; i < c->nnb; i++) {
		struct cname *n = c->nb[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(c->nb);
	struct watch *w, *wn;
	for (w = c->watches; w; w = wn) {
		wn = w->next;
		free(w);
	}
	struct outbuf *b, *bn;
	for (b = c->oq_head; b; b = bn) {
		bn = b->next;
		free(b);
	}
	free(c);
}

/* The client is gone: drop its holds without blocking, forget it. */
static void conn_gone(qb_ipcs_connection_t *qc)
{
	struct cld_ipc *ip = g_ipc;
	struct conn *c = qb_ipcs_context_get(qc);
	if (!c || !ip)
		return;
	qb_ipcs_context_set(qc, NULL);
	uint64_t id = c->id;
	qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d) gone with %" PRIu64 " leases", id, (int)c->pid,
	       c->nleases);
	conn_free(ip, c);
	if (ip->d->node)
		cl_node_client_gone(ip->d->node, id);
	/* its ops stay in the table until answered, then are dropped */
	cld_kick(ip->d);
}

static int32_t closed_fn(qb_ipcs_connection_t *qc)
{
	conn_gone(qc);
	return 0;
}

static void destroyed_fn(qb_ipcs_connection_t *qc)
{
	conn_gone(qc);
}

/* ---- requests ---- */

/* Fixed part of each request type. */
static size_t fixed_size(uint32_t type)
{
	switch (type) {
	case CLP_REQ_HELLO: return sizeof(struct clp_req_hello);
	case CLP_REQ_ACQUIRE: return sizeof(struct clp_req_acquire);
	case CLP_REQ_RELEASE:
	case CLP_REQ_INDEX_LIST:
	case CLP_REQ_WATCH:
	case CLP_REQ_UNWATCH:
	case CLP_REQ_OWNER:
	case CLP_REQ_LIST:
	case CLP_REQ_SHOW:
	case CLP_REQ_EVICT: return sizeof(struct clp_req_name);
	case CLP_REQ_INDEX_GET:
	case CLP_REQ_INDEX_PUT:
	case CLP_REQ_INDEX_DEL: return sizeof(struct clp_req_index);
	case CLP_REQ_SYNC:
	case CLP_REQ_STATUS: return sizeof(struct clp_req_base);
	case CLP_REQ_FENCE_ACK: return sizeof(struct clp_req_node);
	default: return 0;
	}
}

struct req {
	uint32_t type;
	uint64_t cookie;
	const uint8_t *name;
	uint16_t namelen;
	const uint8_t *key;
	uint8_t keylen;
	const uint8_t *val;
	uint32_t vallen;
	uint8_t mode, flags;
	uint32_t timeout_ms, node, version;
};

/* Checks lengths and bounds.  0 or COROLEASE_EPROTO. */
static int parse_req(const uint8_t *data, size_t size, struct req *r)
{
	const struct clp_req_base *b = (const void *)data;
	r->type = (uint32_t)b->hdr.id;
	r->cookie = b->cookie;
	size_t fixed = fixed_size(r->type);
	if (!fixed || size < fixed || (size_t)b->hdr.size != size)
		return COROLEASE_EPROTO;
	size_t var = 0;
	switch (r->type) {
	case CLP_REQ_HELLO:
		r->version = ((const struct clp_req_hello *)data)->version;
		break;
	case CLP_REQ_ACQUIRE: {
		const struct clp_req_acquire *a = (const void *)data;
		r->namelen = a->namelen;
		r->mode = a->mode;
		r->flags = a->flags;
		r->timeout_ms = a->timeout_ms;
		if (r->namelen < 1 || r->namelen > COROLEASE_NAME_MAX ||
		    (r->mode != COROLEASE_EX && r->mode != COROLEASE_SH) || (r->flags & ~COROLEASE_WAIT))
			return COROLEASE_EPROTO;
		var = r->namelen;
		break;
	}
	case CLP_REQ_RELEASE:
	case CLP_REQ_INDEX_LIST:
	case CLP_REQ_WATCH:
	case CLP_REQ_UNWATCH:
	case CLP_REQ_OWNER:
	case CLP_REQ_LIST:
	case CLP_REQ_SHOW:
	case CLP_REQ_EVICT: {
		r->namelen = ((const struct clp_req_name *)data)->namelen;
		bool zero_ok = r->type == CLP_REQ_WATCH || r->type == CLP_REQ_UNWATCH ||
			       r->type == CLP_REQ_LIST;
		if ((!r->namelen && !zero_ok) || r->namelen > COROLEASE_NAME_MAX)
			return COROLEASE_EPROTO;
		var = r->namelen;
		break;
	}
	case CLP_REQ_INDEX_GET:
	case CLP_REQ_INDEX_PUT:
	case CLP_REQ_INDEX_DEL: {
		const struct clp_req_index *x = (const void *)data;
		r->namelen = x->namelen;
		r->keylen = x->keylen;
		r->flags = x->flags;
		r->vallen = x->vallen;
		if (r->namelen < 1 || r->namelen > COROLEASE_NAME_MAX || r->keylen < 1 ||
		    r->vallen > COROLEASE_VALUE_MAX ||
		    (r->type != CLP_REQ_INDEX_PUT && r->vallen) ||
		    (r->flags & ~(r->type == CLP_REQ_INDEX_GET ? CLP_GET_SYNC : 0u)))
			return COROLEASE_EPROTO;
		var = (size_t)r->namelen + r->keylen + r->vallen;
		break;
	}
	case CLP_REQ_FENCE_ACK:
		r->node = ((const struct clp_req_node *)data)->node;
		if (!r->node)
			return COROLEASE_EPROTO;
		break;
	default:
		break;
	}
	if (size != fixed + var)
		return COROLEASE_EPROTO;
	r->name = data + fixed;
	r->key = r->name + r->namelen;
	r->val = r->key + r->keylen;
	return 0;
}

static void do_hello(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	if (r->version != CLP_VERSION) {
		send_result(c, r->cookie, r->type, COROLEASE_EVERSION, NULL, 0);
		return;
	}
	if (!c->hello)
		ip->nhello++;
	c->hello = true;
	struct clp_hello_payload p;
	memset(&p, 0, sizeof(p));
	p.version = CLP_VERSION;
	p.nodeid = ip->d->nodeid;
	snprintf(p.shm_path, sizeof(p.shm_path), "%s", ip->d->shm_path);
	send_result(c, r->cookie, r->type, 0, &p, sizeof(p));
}

static void do_acquire(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	struct cld *d = ip->d;
	uint32_t owner = 0;
	int rc;
	if (cname_find(c, r->name, r->namelen))
		rc = -EALREADY;
	else if (c->nleases >= d->cfg.max_leases_per_client)
		rc = -EDQUOT;
	else if (c->pending >= d->cfg.max_pending_per_client)
		rc = -EAGAIN;
	else if ((rc = cname_add(c, r->name, r->namelen)) == 0) {
		rc = cl_node_acquire(d->node, c->id, r->cookie, r->name, r->namelen, r->mode,
				     r->flags, (uint64_t)r->timeout_ms * 1000);
		if (rc < 0)
			cname_del(c, r->name, r->namelen);
	}
	if (rc < 0)
		send_result(c, r->cookie, r->type, rc, &owner, sizeof(owner));
}

static void do_release(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	int rc = COROLEASE_ENOTHELD;
	if (cname_find(c, r->name, r->namelen)) {
		cname_del(c, r->name, r->namelen);
		cl_node_release(ip->d->node, c->id, r->name, r->namelen);
		rc = 0;
	}
	send_result(c, r->cookie, r->type, rc, NULL, 0);
}

static void index_get_answer(struct cld_ipc *ip, struct conn *c, uint64_t cookie,
			     const uint8_t *name, size_t namelen, const uint8_t *key, size_t keylen)
{
	const struct cl_sm *sm = cl_node_sm(ip->d->node);
	if (!sm) {
		send_result(c, cookie, CLP_REQ_INDEX_GET, COROLEASE_ESYNCING, NULL, 0);
		return;
	}
	const uint8_t *val = NULL;
	uint32_t vallen = 0;
	uint64_t version = 0;
	/* the key's own version (when it was last written), as INDEX_LIST reports */
	int rc = cl_index_get(sm, name, namelen, key, keylen, &val, &vallen, NULL);
	if (rc == 0)
		rc = cl_index_entry_version(sm, name, namelen, key, keylen, &version);
	if (rc < 0) {
		send_result(c, cookie, CLP_REQ_INDEX_GET, rc, NULL, 0);
		return;
	}
	struct clp_ev_result *res = (struct clp_ev_result *)ip->buf;
	memset(res, 0, sizeof(*res));
	res->b.hdr.id = CLP_EV_RESULT;
	res->b.cookie = cookie;
	res->req_type = CLP_REQ_INDEX_GET;
	memcpy(ip->buf + sizeof(*res), &version, sizeof(version));
	if (vallen)
		memcpy(ip->buf + sizeof(*res) + sizeof(version), val, vallen);
	send_ev(c, ip->buf, sizeof(*res) + sizeof(version) + vallen);
}

static void do_op(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	struct cld *d = ip->d;
	if ((r->type == CLP_REQ_EVICT || r->type == CLP_REQ_FENCE_ACK) && !c->admin) {
		send_result(c, r->cookie, r->type, -EPERM, NULL, 0);
		return;
	}
	if (c->pending >= d->cfg.max_pending_per_client) {
		send_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
		return;
	}
	bool keep = r->type == CLP_REQ_INDEX_GET;
	struct op *o = op_new(ip, c, r->cookie, r->type, keep ? r->name : NULL, keep ? r->namelen : 0,
			      keep ? r->key : NULL, keep ? r->keylen : 0);
	if (!o) {
		send_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
		return;
	}
	uint64_t id = o->id;
	int rc;
	switch (r->type) {
	case CLP_REQ_INDEX_PUT:
		rc = cl_node_index_put(d->node, c->id, id, r->name, r->namelen, r->key, r->keylen,
				       r->val, r->vallen);
		break;
	case CLP_REQ_INDEX_DEL:
		rc = cl_node_index_del(d->node, c->id, id, r->name, r->namelen, r->key, r->keylen);
		break;
	case CLP_REQ_EVICT:
		rc = cl_node_evict(d->node, c->id, id, r->name, r->namelen);
		break;
	case CLP_REQ_FENCE_ACK:
		rc = cl_node_fence_ack(d->node, c->id, id, r->node);
		break;
	default: /* SYNC, INDEX_GET with CLP_GET_SYNC */
		rc = cl_node_sync(d->node, c->id, id);
		break;
	}
	if (rc < 0) {
		struct op *x = op_take(ip, id);
		free(x);
		send_result(c, r->cookie, r->type, rc, NULL, 0);
	}
}

static void do_owner(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = cl_node_sm(ip->d->node);
	if (!sm) {
		send_result(c, r->cookie, r->type, COROLEASE_ESYNCING, NULL, 0);
		return;
	}
	uint32_t owner = cl_sm_owner(sm, r->name, r->namelen);
	send_result(c, r->cookie, r->type, 0, &owner, sizeof(owner));
}

static void do_status(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	unsigned char p[CLD_STATUS_MAX];
	long len = cld_status_encode(ip->d, p, sizeof(p));
	if (len < 0)
		send_result(c, r->cookie, r->type, (int)len, NULL, 0);
	else
		send_result(c, r->cookie, r->type, 0, p, (size_t)len);
}

/* ---- streamed lists ---- */

struct batch {
	struct cld_ipc *ip;
	struct conn *c;
	uint64_t cookie;
	size_t off;                    /* bytes used in ip->buf */
	uint32_t count;
	uint64_t total;
	const uint8_t *prefix;
	size_t prefixlen;
};

static void batch_start(struct batch *b)
{
	b->off = sizeof(struct clp_ev_items);
	b->count = 0;
}

static void batch_send(struct batch *b)
{
	if (!b->count)
		return;
	struct clp_ev_items *e = (struct clp_ev_items *)b->ip->buf;
	memset(e, 0, sizeof(*e));
	e->b.hdr.id = CLP_EV_ITEMS;
	e->b.cookie = b->cookie;
	e->count = b->count;
	send_ev(b->c, b->ip->buf, b->off);
	batch_start(b);
}

/* Room for one item of len bytes, sending the current batch first if needed. */
static uint8_t *batch_room(struct batch *b, size_t len)
{
	if (b->count && (b->off + len > CLD_BATCH_BYTES || b->count >= CLP_MAX_LIST_BATCH))
		batch_send(b);
	uint8_t *p = b->ip->buf + b->off;
	b->off += len;
	b->count++;
	b->total++;
	return p;
}

static int list_one(void *ctx, const struct cl_lease_info *info)
{
	struct batch *b = ctx;
	if (b->c->dying)
		return 1;
	if (b->prefixlen && (info->namelen < b->prefixlen || memcmp(info->name, b->prefix, b->prefixlen)))
		return 0;
	struct clp_item_lease it;
	memset(&it, 0, sizeof(it));
	it.owner = info->owner;
	it.orphaned = info->owner_orphaned;
	it.epoch = info->owner_epoch;
	it.mode = info->mode;
	it.namelen = info->namelen;
	it.nholders = info->nholders;
	it.nwaiters = info->nwaiters;
	it.version = info->version;
	it.nkeys = info->nkeys;
	uint8_t *p = batch_room(b, sizeof(it) + info->namelen);
	memcpy(p, &it, sizeof(it));
	memcpy(p + sizeof(it), info->name, info->namelen);
	return 0;
}

/* Size of a clp_item_key record for e, with or without its value. */
static size_t key_item_len(const struct cl_entry_info *e, bool with_value)
{
	return sizeof(struct clp_item_key) + e->keylen + (with_value ? e->vallen : 0);
}

/* Writes that record at p (key_item_len bytes). */
static void key_item_put(uint8_t *p, const struct cl_entry_info *e, bool with_value)
{
	struct clp_item_key it;
	memset(&it, 0, sizeof(it));
	it.keylen = e->keylen;
	it.vallen = e->vallen;
	it.version = e->version;
	memcpy(p, &it, sizeof(it));
	memcpy(p + sizeof(it), e->key, e->keylen);
	if (with_value && e->vallen)
		memcpy(p + sizeof(it) + e->keylen, e->value, e->vallen);
}

static int key_one(void *ctx, const struct cl_entry_info *e)
{
	struct batch *b = ctx;
	if (b->c->dying)
		return 1;
	key_item_put(batch_room(b, key_item_len(e, true)), e, true);
	return 0;
}

static void do_list(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = cl_node_sm(ip->d->node);
	if (!sm) {
		send_result(c, r->cookie, r->type, COROLEASE_ESYNCING, NULL, 0);
		return;
	}
	if (c->bulk_bytes) {
		/* the previous list is still being delivered */
		send_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
		return;
	}
	/* the name is copied: ip->buf is reused for the batches */
	uint8_t prefix[COROLEASE_NAME_MAX];
	memcpy(prefix, r->name, r->namelen);
	struct batch b = { .ip = ip, .c = c, .cookie = r->cookie, .prefix = prefix,
			   .prefixlen = r->namelen };
	batch_start(&b);
	c->bulk = true;
	if (r->type == CLP_REQ_LIST)
		cl_sm_foreach(sm, list_one, &b);
	else
		cl_index_foreach(sm, prefix, r->namelen, key_one, &b);
	batch_send(&b);
	send_result(c, r->cookie, r->type, 0, &b.total, sizeof(b.total));
	c->bulk = false;
}

struct keys_ctx {
	uint8_t *p;
	size_t off, cap;
	uint32_t n;
};

static int show_key(void *ctx, const struct cl_entry_info *e)
{
	struct keys_ctx *k = ctx;
	size_t need = key_item_len(e, false);
	if (k->off + need > k->cap)
		return 1;   /* truncated: nkeys says how many are here */
	key_item_put(k->p + k->off, e, false);
	k->off += need;
	k->n++;
	return 0;
}

static void do_show(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = cl_node_sm(ip->d->node);
	if (!sm) {
		send_result(c, r->cookie, r->type, COROLEASE_ESYNCING, NULL, 0);
		return;
	}
	struct cl_lease_info li;
	if (cl_sm_lookup(sm, r->name, r->namelen, &li, NULL, 0, NULL, 0) < 0) {
		send_result(c, r->cookie, r->type, -ENOENT, NULL, 0);
		return;
	}
	struct cl_hold_info *h = calloc(li.nholders + 1, sizeof(*h));
	struct cl_waiter_info *w = calloc(li.nwaiters + 1, sizeof(*w));
	size_t cap = CLP_MAX_MSG - 1024;
	uint8_t *p = malloc(cap);
	if (!h || !w || !p) {
		free(h);
		free(w);
		free(p);
		send_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
		return;
	}
	cl_sm_lookup(sm, r->name, r->namelen, &li, h, li.nholders, w, li.nwaiters);
	struct clp_show sh;
	memset(&sh, 0, sizeof(sh));
	sh.namelen = r->namelen;
	sh.mode = li.mode;
	sh.version = li.version;
	size_t off = sizeof(sh);
	uint32_t nh = 0, nw = 0;
	for (uint32_t i = 0; i < li.nholders && off + sizeof(struct clp_show_holder) <= cap / 2; i++, nh++) {
		struct clp_show_holder x;
		memset(&x, 0, sizeof(x));
		x.node = h[i].node;
		x.mode = h[i].mode;
		x.epoch = h[i].epoch;
		x.orphan_seq = h[i].orphan_seq;
		memcpy(p + off, &x, sizeof(x));
		off += sizeof(x);
	}
	for (uint32_t i = 0; i < li.nwaiters && off + sizeof(struct clp_show_waiter) <= cap / 2; i++, nw++) {
		struct clp_show_waiter x;
		memset(&x, 0, sizeof(x));
		x.node = w[i].node;
		x.mode = w[i].mode;
		memcpy(p + off, &x, sizeof(x));
		off += sizeof(x);
	}
	struct keys_ctx k = { p, off, cap, 0 };
	cl_index_foreach(sm, r->name, r->namelen, show_key, &k);
	sh.nholders = nh;
	sh.nwaiters = nw;
	sh.nkeys = k.n;
	memcpy(p, &sh, sizeof(sh));
	send_result(c, r->cookie, r->type, 0, p, k.off);
	free(h);
	free(w);
	free(p);
}

static void do_watch(struct conn *c, const struct req *r)
{
	int rc = 0;
	if (!r->namelen) {
		c->watch_all = r->type == CLP_REQ_WATCH;
	} else {
		struct watch **pp = &c->watches;
		for (; *pp; pp = &(*pp)->next)
			if ((*pp)->namelen == r->namelen && !memcmp((*pp)->name, r->name, r->namelen))
				break;
		if (r->type == CLP_REQ_WATCH && !*pp) {
			struct watch *w = malloc(sizeof(*w) + r->namelen);
			if (!w) {
				rc = -ENOMEM;
			} else {
				w->next = NULL;
				w->namelen = r->namelen;
				memcpy(w->name, r->name, r->namelen);
				*pp = w;
			}
		} else if (r->type == CLP_REQ_UNWATCH && *pp) {
			struct watch *w = *pp;
			*pp = w->next;
			free(w);
		}
	}
	send_result(c, r->cookie, r->type, rc, NULL, 0);
}

static int32_t msg_fn(qb_ipcs_connection_t *qc, void *data, size_t size)
{
	struct cld_ipc *ip = g_ipc;
	struct conn *c = qb_ipcs_context_get(qc);
	if (!c || c->dying || !ip)
		return 0;
	struct req r;
	memset(&r, 0, sizeof(r));
	int rc = COROLEASE_EPROTO;
	if (((uintptr_t)data & 7u) && size <= sizeof(ip->req)) {
		/* libqb's rings are 4-byte aligned; the structs need 8 */
		memcpy(ip->req, data, size);
		data = ip->req;
	}
	if (size > sizeof(ip->req))
		size = 0;   /* larger than any request: malformed */
	else if (size >= sizeof(struct clp_req_base))
		rc = parse_req(data, size, &r);
	else if (size >= sizeof(struct qb_ipc_request_header))
		r.type = (uint32_t)((struct qb_ipc_request_header *)data)->id;
	if (rc == 0 && !c->hello && r.type != CLP_REQ_HELLO)
		rc = COROLEASE_EPROTO;
	if (rc < 0) {
		send_result(c, r.cookie, r.type <= CLP_REQ_TYPE_MAX ? r.type : 0, rc, NULL, 0);
		if (++c->bad >= CLD_MAX_BAD)
			conn_kill(c, "too many malformed requests");
		else
			qb_log(LOG_DEBUG, "client %" PRIu64 ": malformed request (type %u, %zu bytes)",
			       c->id, r.type, size);
		return 0;
	}
	switch (r.type) {
	case CLP_REQ_HELLO: do_hello(ip, c, &r); break;
	case CLP_REQ_ACQUIRE: do_acquire(ip, c, &r); break;
	case CLP_REQ_RELEASE: do_release(ip, c, &r); break;
	case CLP_REQ_INDEX_GET:
		if (r.flags & CLP_GET_SYNC)
			do_op(ip, c, &r);
		else
			index_get_answer(ip, c, r.cookie, r.name, r.namelen, r.key, r.keylen);
		break;
	case CLP_REQ_INDEX_PUT:
	case CLP_REQ_INDEX_DEL:
	case CLP_REQ_SYNC:
	case CLP_REQ_EVICT:
	case CLP_REQ_FENCE_ACK: do_op(ip, c, &r); break;
	case CLP_REQ_INDEX_LIST:
	case CLP_REQ_LIST: do_list(ip, c, &r); break;
	case CLP_REQ_WATCH:
	case CLP_REQ_UNWATCH: do_watch(c, &r); break;
	case CLP_REQ_OWNER: do_owner(ip, c, &r); break;
	case CLP_REQ_STATUS: do_status(ip, c, &r); break;
	case CLP_REQ_SHOW: do_show(ip, c, &r); break;
	default: break;
	}
	cld_kick(ip->d);
	return 0;
}

/* ---- node events ---- */

static bool watches(const struct conn *c, const uint8_t *name, size_t namelen)
{
	if (c->watch_all)
		return true;
	for (const struct watch *w = c->watches; w; w = w->next)
		if (w->namelen == namelen && !memcmp(w->name, name, namelen))
			return true;
	return false;
}

static void op_done(struct cld_ipc *ip, const struct cl_event *ev)
{
	struct op *o = op_take(ip, ev->cookie);
	if (!o)
		return;
	struct conn *c = conn_find(ip, o->conn_id);
	if (c) {
		uint64_t v = ev->type == CL_EV_ADMIN_DONE ? ev->count : ev->version;
		if (o->req_type == CLP_REQ_INDEX_GET && ev->err == 0)
			index_get_answer(ip, c, o->cookie, o->data, o->namelen, o->data + o->namelen,
					 o->keylen);
		else if (o->req_type == CLP_REQ_SYNC || ev->err)
			send_result(c, o->cookie, o->req_type, ev->err, NULL, 0);
		else
			send_result(c, o->cookie, o->req_type, 0, &v, sizeof(v));
	}
	free(o);
}

void cld_ipc_event(void *ctx, const struct cl_event *ev)
{
	struct cld *d = ctx;
	struct cld_ipc *ip = d->ipc;
	if (!ip)
		return;
	if (ev->type == CL_EV_VALIDITY || (ev->type == CL_EV_INDEX_CHANGED && !ev->client)) {
		if (ev->type == CL_EV_VALIDITY) {
			struct clp_ev_validity *e = (struct clp_ev_validity *)ip->buf;
			for (struct conn *c = ip->conns; c; c = c->next) {
				if (!c->hello)
					continue;
				memset(e, 0, sizeof(*e));
				e->b.hdr.id = CLP_EV_VALIDITY;
				e->valid_until = ev->valid_until;
				send_ev(c, ip->buf, sizeof(*e));
			}
			return;
		}
		for (struct conn *c = ip->conns; c; c = c->next) {
			if (!c->hello || !watches(c, ev->name, ev->namelen))
				continue;
			struct clp_ev_index *e = (struct clp_ev_index *)ip->buf;
			memset(e, 0, sizeof(*e));
			e->b.hdr.id = CLP_EV_INDEX_CHANGED;
			e->version = ev->version;
			e->writer = ev->owner;
			e->deleted = ev->deleted;
			e->keylen = ev->keylen;
			e->namelen = ev->namelen;
			memcpy(ip->buf + sizeof(*e), ev->name, ev->namelen);
			memcpy(ip->buf + sizeof(*e) + ev->namelen, ev->key, ev->keylen);
			send_ev(c, ip->buf, sizeof(*e) + ev->namelen + ev->keylen);
		}
		return;
	}
	if (ev->type == CL_EV_INDEX_DONE || ev->type == CL_EV_SYNC_DONE ||
	    ev->type == CL_EV_ADMIN_DONE) {
		op_done(ip, ev);
		return;
	}
	struct conn *c = conn_find(ip, ev->client);
	if (!c)
		return;
	struct cname *n;
	switch (ev->type) {
	case CL_EV_GRANTED:
		n = cname_find(c, ev->name, ev->namelen);
		if (n && n->state == CN_PENDING) {
			n->state = CN_HELD;
			c->pending--;
		}
		send_lease_ev(c, CLP_EV_GRANTED, ev, d->nodeid);
		break;
	case CL_EV_DENIED: {
		uint32_t owner = ev->owner;
		cname_del(c, ev->name, ev->namelen);
		send_result(c, ev->cookie, CLP_REQ_ACQUIRE, ev->err, &owner, sizeof(owner));
		break;
	}
	case CL_EV_QUEUED:
		send_lease_ev(c, CLP_EV_QUEUED, ev, ev->owner);
		break;
	case CL_EV_WANTED:
		send_lease_ev(c, CLP_EV_WANTED, ev, ev->owner);
		break;
	case CL_EV_REVOKED:
		send_lease_ev(c, CLP_EV_REVOKED, ev, d->nodeid);
		break;
	case CL_EV_KILL:
		if (d->cfg.kill_on_revoke && c->pid > 1 && c->pid != d->pid) {
			qb_log(LOG_WARNING, "killing client %" PRIu64 " pid %d: still using revoked lease %.*s",
			       c->id, (int)c->pid, (int)ev->namelen, (const char *)ev->name);
			kill(c->pid, SIGKILL);
		}
		break;
	default:
		break;
	}
}

uint64_t cld_ipc_clients(const struct cld *d)
{
	return d->ipc ? d->ipc->nhello : 0;
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

int cld_ipc_start(struct cld *d)
{
	struct cld_ipc *ip = calloc(1, sizeof(*ip));
	if (!ip)
		return -ENOMEM;
	ip->d = d;
	int rc = resolve_group(d->cfg.socket_group, d->cfg.socket_group_set, &ip->sock_gid,
			       &ip->sock_gid_ok);
	if (rc == 0)
		rc = resolve_group(d->cfg.admin_group, d->cfg.admin_group_set, &ip->admin_gid,
				   &ip->admin_gid_ok);
	if (rc < 0) {
		free(ip);
		return rc;
	}
	qb_log(LOG_INFO, "IPC access: root%s%s; admin: root%s%s", ip->sock_gid_ok ? " and group " : " only",
	       ip->sock_gid_ok ? d->cfg.socket_group : "",
	       ip->admin_gid_ok ? " and group " : " only", ip->admin_gid_ok ? d->cfg.admin_group : "");
	g_loop = d->loop;
	g_ipc = ip;
	d->ipc = ip;
	static struct qb_ipcs_service_handlers sh = {
		.connection_accept = accept_fn,
		.connection_created = NULL,
		.msg_process = msg_fn,
		.connection_closed = closed_fn,
		.connection_destroyed = destroyed_fn,
	};
	static struct qb_ipcs_poll_handlers ph = {
		.job_add = ph_job_add,
		.dispatch_add = ph_dispatch_add,
		.dispatch_mod = ph_dispatch_mod,
		.dispatch_del = ph_dispatch_del,
	};
	ip->s = qb_ipcs_create(COROLEASE_IPC_NAME, 0, QB_IPC_NATIVE, &sh);
	if (!ip->s) {
		rc = -errno ? -errno : -ENOMEM;
		goto fail;
	}
	qb_ipcs_enforce_buffer_size(ip->s, CLP_MAX_MSG);
	qb_ipcs_poll_handlers_set(ip->s, &ph);
	rc = qb_ipcs_run(ip->s);
	if (rc < 0) {
		ip->s = NULL;   /* qb_ipcs_run() already dropped the service on failure */
		goto fail;
	}
	return 0;
fail:
	d->ipc = NULL;
	g_ipc = NULL;
	free(ip);
	return rc;
}

void cld_ipc_stop(struct cld *d)
{
	struct cld_ipc *ip = d->ipc;
	if (!ip)
		return;
	if (ip->flush_armed)
		qb_loop_timer_del(g_loop, ip->flush_timer);
	ip->flush_armed = false;
	if (ip->s)
		qb_ipcs_destroy(ip->s);   /* disconnects every client: conn_gone frees them */
	while (ip->conns)
		conn_free(ip, ip->conns);
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct op *o = ip->ops[i], *next;
		for (; o; o = next) {
			next = o->next;
			free(o);
		}
	}
	d->ipc = NULL;
	g_ipc = NULL;
	free(ip);
}
