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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <qb/qbipcs.h>
#include <qb/qblog.h>

#include "clock.h"
#include "corolease/htab.h"
#include "corolease/ipc.h"
#include "corolease/list.h"
#include "hash.h"
#include "index.h"
#include "ipc.h"

#define CLD_MAX_BAD      16u
#define CLD_OUTQ_MAX     (4u * 1024u * 1024u)  /* unread event backlog per client */
#define CLD_BATCH_BYTES  (60u * 1024u)        /* ITEMS payload per event */
#define CLD_FLUSH_NS     (5ull * 1000000ull)

/* A name the client holds or is acquiring (in conn.names). */
enum { CN_PENDING = 1, CN_HELD = 2 };

struct cname {
	struct cl_hnode hn;
	uint8_t state;
	uint16_t namelen;
	uint8_t name[];
};

struct watch {
	struct cl_list link;          /* in conn.watches */
	uint16_t namelen;
	uint8_t name[];
};

struct outbuf {
	struct cl_list link;          /* in conn.outq */
	size_t len;
	bool bulk;                    /* part of a LIST / INDEX_LIST answer */
	uint8_t data[];
};

struct conn {
	struct cl_list link;          /* in cld_ipc.conns */
	struct cl_hnode hn;           /* in cld_ipc.conn_tab, by id */
	struct cld_ipc *ip;
	qb_ipcs_connection_t *qc;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool hello, admin, dying;
	unsigned bad;
	uint64_t pending;             /* acquires not granted yet, and ops */
	struct cl_htab names;         /* struct cname; no buckets until the first */
	bool watch_all;
	struct cl_list watches;
	struct cl_list outq;          /* struct outbuf, oldest first */
	size_t oq_bytes;
	size_t bulk_bytes;            /* queued list output, exempt from CLD_OUTQ_MAX */
	bool bulk;                    /* a list is being produced now */
};

/* A request waiting for the node's answer (INDEX_PUT/DEL, SYNC, EVICT, FENCE_ACK). */
struct op {
	struct cl_hnode hn;           /* in cld_ipc.op_tab, by id */
	uint64_t id;
	uint64_t conn_id;
	uint64_t cookie;
	uint32_t req_type;
	uint16_t namelen;
	uint8_t keylen;
	uint8_t data[];               /* INDEX_GET|SYNC: name then key */
};

struct cld_ipc {
	qb_loop_t *loop;
	struct cld_ipc_config cfg;
	const struct cld_ipc_ops *ops;
	void *ctx;
	qb_ipcs_service_t *s;
	struct cl_list conns;         /* struct conn, newest first */
	struct cl_htab conn_tab;
	struct cl_htab op_tab;
	uint64_t nconns, nhello;
	uint64_t next_op, next_id;
	bool refuse_new;
	bool sock_gid_ok, admin_gid_ok;
	gid_t sock_gid, admin_gid;
	qb_loop_timer_handle flush_timer;
	bool flush_armed;
	/* event scratch, and a copy of a request that libqb hands over misaligned */
	uint8_t buf[CLP_MAX_MSG] __attribute__((aligned(64)));
	uint8_t req[CLP_MAX_MSG] __attribute__((aligned(64)));
};

/* A request after validation: every pointer lies inside the message. */
struct req {
	uint32_t type;
	uint64_t cookie;
	const void *msg;              /* the fixed part (struct clp_req_*), 8-byte aligned */
	const uint8_t *name;
	uint16_t namelen;
	const uint8_t *key;
	uint8_t keylen;
	const uint8_t *val;
	uint32_t vallen;
	uint8_t flags;
};

/* ---- below, in order: the service, the requests, the replica reads ---- */

/* The connection with id, or NULL (gone). */
static struct conn *ipc_conn_find(struct cld_ipc *ip, uint64_t id);
/* Disconnects c from the loop, never from inside libqb's own call chain; why NULL: quietly. */
static void ipc_conn_kill(struct conn *c, const char *why);
/*
 * Sends one event (buf with its header's id filled in; the size is set
 * here), queueing a short backlog; a client that lets it grow past
 * CLD_OUTQ_MAX is disconnected.  Output of a list (c->bulk) is exempt.
 */
static void ipc_send(struct conn *c, void *buf, size_t len);
/* Sends the RESULT of request type with cookie: err and plen bytes of payload. */
static void ipc_result(struct conn *c, uint64_t cookie, uint32_t type, int err,
		const void *payload, size_t plen);


/* Validates and handles one request of size bytes (8-byte aligned) from c. */
static void ipc_request(struct cld_ipc *ip, struct conn *c, const uint8_t *data, size_t size);
/* Frees what the request side keeps per connection (names, watches). */
static void ipc_conn_forget(struct conn *c);
/* Frees every op still waiting (the service is stopping). */
static void ipc_ops_free(struct cld_ipc *ip);


static void ipc_do_owner(struct cld_ipc *ip, struct conn *c, const struct req *r);
static void ipc_do_list(struct cld_ipc *ip, struct conn *c, const struct req *r);
static void ipc_do_show(struct cld_ipc *ip, struct conn *c, const struct req *r);
/* The answer to INDEX_GET (at once, or once its sync barrier passed). */
static void ipc_index_get_answer(struct cld_ipc *ip, struct conn *c, uint64_t cookie,
			  const uint8_t *name, size_t namelen, const uint8_t *key, size_t keylen);

/* ---- loop glue for libqb ---- */

/*
 * The loop the service runs on.  libqb calls its poll handlers
 * (qb_ipcs_poll_handlers) with no context pointer, and libqb's public API
 * has no way to find a loop (qb_loop_default_get() is internal), so the one
 * service of the process keeps its loop here.  Everything else reaches the
 * service through the service and connection context pointers.
 */
static qb_loop_t *service_loop;

static int32_t ph_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(service_loop, p, data, fn);
}

static int32_t ph_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(service_loop, p, fd, events, data, fn);
}

static int32_t ph_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(service_loop, p, fd, events, data, fn);
}

static int32_t ph_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(service_loop, fd);
}

/* ---- connections ---- */

static struct conn *ipc_conn_find(struct cld_ipc *ip, uint64_t id)
{
	uint64_t h = cl_mix64(id);
	for (struct cl_hnode *e = cl_htab_first(&ip->conn_tab, h); e; e = cl_htab_next(e, h)) {
		struct conn *c = cl_container_of(e, struct conn, hn);
		if (c->id == id)
			return c;
	}
	return NULL;
}

static void disconnect_job(void *data)
{
	qb_ipcs_connection_t *qc = data;
	qb_ipcs_disconnect(qc);
	qb_ipcs_connection_unref(qc);
}

static void ipc_conn_kill(struct conn *c, const char *why)
{
	if (c->dying)
		return;
	c->dying = true;
	qb_log(why ? LOG_WARNING : LOG_DEBUG, "disconnecting client %" PRIu64 " (pid %d): %s", c->id, (int)c->pid,
	       why ? why : "connection already closed");
	qb_ipcs_connection_ref(c->qc);
	if (qb_loop_job_add(c->ip->loop, QB_LOOP_HIGH, c->qc, disconnect_job) != 0) {
		qb_ipcs_connection_unref(c->qc);
		qb_ipcs_disconnect(c->qc);
	}
}

/* ---- sending ---- */

static void flush_all(void *data);

/* Log reason for a failed event send; NULL (quiet) when the peer just left. */
static const char *send_err_reason(ssize_t rc)
{
	if (rc == -ENOTCONN || rc == -EPIPE || rc == -ESHUTDOWN || rc == -ECONNRESET)
		return NULL;
	return rc == -EMSGSIZE ? "event larger than the client's buffer" : "event send failed";
}

static bool send_would_block(ssize_t rc)
{
	return rc == -EAGAIN || rc == -ENOBUFS || rc == -ETIMEDOUT;
}

static void arm_flush(struct cld_ipc *ip)
{
	if (ip->flush_armed)
		return;
	if (qb_loop_timer_add(ip->loop, QB_LOOP_MED, CLD_FLUSH_NS, ip, flush_all, &ip->flush_timer) == 0)
		ip->flush_armed = true;
}

static void outbuf_free(struct conn *c, struct outbuf *b)
{
	cl_list_del(&b->link);
	c->oq_bytes -= b->len;
	if (b->bulk)
		c->bulk_bytes -= b->len;
	free(b);
}

/* Sends what is queued for c.  Returns true when the queue is empty. */
static bool conn_flush(struct conn *c)
{
	struct cl_list *l;
	while ((l = cl_list_first(&c->outq))) {
		struct outbuf *b = cl_list_entry(l, struct outbuf, link);
		ssize_t rc = qb_ipcs_event_send(c->qc, b->data, b->len);
		if (send_would_block(rc))
			return false;
		outbuf_free(c, b);
		if (rc < 0) {
			ipc_conn_kill(c, send_err_reason(rc));
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
	struct cl_list *l;
	cl_list_foreach(l, &ip->conns) {
		struct conn *c = cl_list_entry(l, struct conn, link);
		if (!c->dying && !cl_list_empty(&c->outq) && !conn_flush(c))
			more = true;
	}
	if (more)
		arm_flush(ip);
}

static void ipc_send(struct conn *c, void *buf, size_t len)
{
	if (c->dying)
		return;
	struct qb_ipc_response_header *h = buf;
	h->size = (int32_t)len;
	h->error = 0;
	if (cl_list_empty(&c->outq)) {
		ssize_t rc = qb_ipcs_event_send(c->qc, buf, len);
		if (rc >= 0)
			return;
		if (!send_would_block(rc)) {
			ipc_conn_kill(c, send_err_reason(rc));
			return;
		}
	}
	/*
	 * A list answer may be as large as the replica; it is queued whole (one
	 * per client at a time).  Everything else counts against CLD_OUTQ_MAX.
	 */
	if (!c->bulk && c->oq_bytes - c->bulk_bytes + len > CLD_OUTQ_MAX) {
		ipc_conn_kill(c, "client does not read its events");
		return;
	}
	struct outbuf *b = malloc(sizeof(*b) + len);
	if (!b) {
		ipc_conn_kill(c, "out of memory queueing an event");
		return;
	}
	b->len = len;
	b->bulk = c->bulk;
	if (b->bulk)
		c->bulk_bytes += len;
	memcpy(b->data, buf, len);
	cl_list_add_tail(&c->outq, &b->link);
	c->oq_bytes += len;
	arm_flush(c->ip);
}

static void ipc_result(struct conn *c, uint64_t cookie, uint32_t type, int err,
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
	struct cld_ipc *ip = qb_ipcs_connection_service_context_get(qc);
	struct qb_ipcs_connection_stats st;
	memset(&st, 0, sizeof(st));
	qb_ipcs_connection_stats_get(qc, &st, 0);
	pid_t pid = st.client_pid;
	if (!ip || ip->refuse_new)
		return -ESHUTDOWN;
	bool ok = uid == 0 || uid == getuid() ||
		  (ip->sock_gid_ok && in_group(pid, gid, ip->sock_gid));
	if (!ok) {
		qb_log(LOG_NOTICE, "refused IPC connection from uid %u gid %u pid %d: not in socket_group '%s'",
		       (unsigned)uid, (unsigned)gid, (int)pid, ip->cfg.conf->socket_group);
		return -EACCES;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ip = ip;
	c->qc = qc;
	c->id = ++ip->next_id;
	c->pid = pid;
	c->uid = uid;
	c->gid = gid;
	c->admin = uid == 0 || (ip->admin_gid_ok && in_group(pid, gid, ip->admin_gid));
	cl_list_init(&c->watches);
	cl_list_init(&c->outq);
	cl_list_add_head(&ip->conns, &c->link);
	cl_htab_add(&ip->conn_tab, &c->hn, cl_mix64(c->id));
	ip->nconns++;
	qb_ipcs_context_set(qc, c);
	qb_log(LOG_DEBUG, "client %" PRIu64 " connected: pid %d uid %u%s", c->id, (int)pid,
	       (unsigned)uid, c->admin ? " (admin)" : "");
	return 0;
}

static void conn_free(struct cld_ipc *ip, struct conn *c)
{
	cl_list_del(&c->link);
	cl_htab_del(&ip->conn_tab, &c->hn);
	ip->nconns--;
	if (c->hello)
		ip->nhello--;
	ipc_conn_forget(c);
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &c->outq)
		outbuf_free(c, cl_list_entry(l, struct outbuf, link));
	free(c);
}

/* The client is gone: drop its holds without blocking, forget it. */
static void conn_gone(qb_ipcs_connection_t *qc)
{
	struct cld_ipc *ip = qb_ipcs_connection_service_context_get(qc);
	struct conn *c = qb_ipcs_context_get(qc);
	if (!c || !ip)
		return;
	qb_ipcs_context_set(qc, NULL);
	uint64_t id = c->id;
	qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d) gone with %" PRIu64 " leases", id, (int)c->pid,
	       (uint64_t)c->names.n);
	conn_free(ip, c);
	cl_node_client_gone(ip->cfg.node, id);
	/* its ops stay in the table until answered, then are dropped */
	ip->ops->input_done(ip->ctx);
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

static int32_t msg_fn(qb_ipcs_connection_t *qc, void *data, size_t size)
{
	struct cld_ipc *ip = qb_ipcs_connection_service_context_get(qc);
	struct conn *c = qb_ipcs_context_get(qc);
	if (!c || c->dying || !ip)
		return 0;
	if (((uintptr_t)data & 7u) && size <= sizeof(ip->req)) {
		/* libqb's rings are 4-byte aligned; the structs need 8 */
		memcpy(ip->req, data, size);
		data = ip->req;
	}
	ipc_request(ip, c, data, size);
	ip->ops->input_done(ip->ctx);
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

int cld_ipc_start(qb_loop_t *loop, const struct cld_ipc_config *cfg,
		  const struct cld_ipc_ops *ops, void *ctx, struct cld_ipc **ip_r)
{
	if (service_loop)
		return -EBUSY;   /* one service per process */
	struct cld_ipc *ip = calloc(1, sizeof(*ip));
	if (!ip)
		return -ENOMEM;
	ip->loop = loop;
	ip->cfg = *cfg;
	ip->ops = ops;
	ip->ctx = ctx;
	cl_list_init(&ip->conns);
	const struct cld_config *dc = cfg->conf;
	int rc = resolve_group(dc->socket_group, dc->socket_group_set, &ip->sock_gid,
			       &ip->sock_gid_ok);
	if (rc == 0)
		rc = resolve_group(dc->admin_group, dc->admin_group_set, &ip->admin_gid,
				   &ip->admin_gid_ok);
	if (rc == 0 && (cl_htab_init(&ip->conn_tab, 1024) < 0 || cl_htab_init(&ip->op_tab, 1024) < 0))
		rc = -ENOMEM;
	if (rc < 0)
		goto fail;
	qb_log(LOG_INFO, "IPC access: root%s%s; admin: root%s%s", ip->sock_gid_ok ? " and group " : " only",
	       ip->sock_gid_ok ? dc->socket_group : "",
	       ip->admin_gid_ok ? " and group " : " only", ip->admin_gid_ok ? dc->admin_group : "");
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
	qb_ipcs_service_context_set(ip->s, ip);
	qb_ipcs_enforce_buffer_size(ip->s, CLP_MAX_MSG);
	qb_ipcs_poll_handlers_set(ip->s, &ph);
	service_loop = loop;
	rc = qb_ipcs_run(ip->s);
	if (rc < 0) {
		ip->s = NULL;   /* qb_ipcs_run() already dropped the service on failure */
		service_loop = NULL;
		goto fail;
	}
	*ip_r = ip;
	return 0;
fail:
	cl_htab_fini(&ip->conn_tab);
	cl_htab_fini(&ip->op_tab);
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
	if (ip->flush_armed)
		qb_loop_timer_del(ip->loop, ip->flush_timer);
	ip->flush_armed = false;
	ip->refuse_new = true;
	if (ip->s)
		qb_ipcs_destroy(ip->s);   /* disconnects every client: conn_gone frees them */
	struct cl_list *l;
	while ((l = cl_list_first(&ip->conns)))
		conn_free(ip, cl_list_entry(l, struct conn, link));
	ipc_ops_free(ip);
	cl_htab_fini(&ip->conn_tab);
	cl_htab_fini(&ip->op_tab);
	service_loop = NULL;
	free(ip);
	return NULL;
}

/* ---- the names a client holds or is acquiring ---- */

static uint64_t nhash(const void *name, size_t len)
{
	return cl_hash_bytes(0x69706321ULL, name, len);
}

static struct cname *cname_find(struct conn *c, const void *name, size_t len)
{
	uint64_t h = nhash(name, len);
	for (struct cl_hnode *e = cl_htab_first(&c->names, h); e; e = cl_htab_next(e, h)) {
		struct cname *n = cl_container_of(e, struct cname, hn);
		if (n->namelen == len && !memcmp(n->name, name, len))
			return n;
	}
	return NULL;
}

/* Adds name as pending.  NULL on ENOMEM. */
static struct cname *cname_add(struct conn *c, const void *name, size_t len)
{
	if (!c->names.nb && cl_htab_init(&c->names, 16) < 0)
		return NULL;
	struct cname *n = malloc(sizeof(*n) + len);
	if (!n)
		return NULL;
	n->state = CN_PENDING;
	n->namelen = (uint16_t)len;
	memcpy(n->name, name, len);
	cl_htab_add(&c->names, &n->hn, nhash(name, len));
	c->pending++;
	return n;
}

static void cname_del(struct conn *c, struct cname *n)
{
	cl_htab_del(&c->names, &n->hn);
	if (n->state == CN_PENDING)
		c->pending--;
	free(n);
}

/* ---- the names a client watches ---- */

static struct watch *watch_find(struct conn *c, const uint8_t *name, size_t namelen)
{
	struct cl_list *l;
	cl_list_foreach(l, &c->watches) {
		struct watch *w = cl_list_entry(l, struct watch, link);
		if (w->namelen == namelen && !memcmp(w->name, name, namelen))
			return w;
	}
	return NULL;
}

static bool watches(struct conn *c, const uint8_t *name, size_t namelen)
{
	return c->watch_all || watch_find(c, name, namelen);
}

static void ipc_conn_forget(struct conn *c)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&c->names, &it); e;
	     e = cl_htab_iter_next(&c->names, &it))
		cname_del(c, cl_container_of(e, struct cname, hn));
	cl_htab_fini(&c->names);
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &c->watches) {
		cl_list_del(l);
		free(cl_list_entry(l, struct watch, link));
	}
}

/* ---- requests waiting for the node's answer ---- */

/*
 * Starts an op for r (keeping its name and key when keep) and returns its
 * id, never 0.  0 when r was answered already: too many pending (-EAGAIN)
 * or -ENOMEM.
 */
static uint64_t op_begin(struct cld_ipc *ip, struct conn *c, const struct req *r, bool keep)
{
	if (c->pending >= ip->cfg.conf->max_pending_per_client) {
		ipc_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
		return 0;
	}
	size_t namelen = keep ? r->namelen : 0, keylen = keep ? r->keylen : 0;
	struct op *o = malloc(sizeof(*o) + namelen + keylen);
	if (!o) {
		ipc_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
		return 0;
	}
	o->id = ++ip->next_op;
	o->conn_id = c->id;
	o->cookie = r->cookie;
	o->req_type = r->type;
	o->namelen = (uint16_t)namelen;
	o->keylen = (uint8_t)keylen;
	if (namelen)
		memcpy(o->data, r->name, namelen);
	if (keylen)
		memcpy(o->data + namelen, r->key, keylen);
	cl_htab_add(&ip->op_tab, &o->hn, cl_mix64(o->id));
	c->pending++;
	return o->id;
}

/* Unlinks the op (caller frees) and settles its client's pending count. */
static struct op *op_take(struct cld_ipc *ip, uint64_t id)
{
	uint64_t h = cl_mix64(id);
	for (struct cl_hnode *e = cl_htab_first(&ip->op_tab, h); e; e = cl_htab_next(e, h)) {
		struct op *o = cl_container_of(e, struct op, hn);
		if (o->id != id)
			continue;
		cl_htab_del(&ip->op_tab, &o->hn);
		struct conn *c = ipc_conn_find(ip, o->conn_id);
		if (c && c->pending)
			c->pending--;
		return o;
	}
	return NULL;
}

/* After the node call for op id: when it refused at once (rc < 0), drop the op and answer r. */
static void op_end(struct cld_ipc *ip, struct conn *c, const struct req *r, uint64_t id, int rc)
{
	if (rc >= 0)
		return;
	free(op_take(ip, id));
	ipc_result(c, r->cookie, r->type, rc, NULL, 0);
}

static void ipc_ops_free(struct cld_ipc *ip)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&ip->op_tab, &it); e;
	     e = cl_htab_iter_next(&ip->op_tab, &it)) {
		cl_htab_del(&ip->op_tab, e);
		free(cl_container_of(e, struct op, hn));
	}
}

/* The node answered an op (INDEX_DONE, SYNC_DONE, ADMIN_DONE). */
static void op_done(struct cld_ipc *ip, const struct cl_event *ev)
{
	struct op *o = op_take(ip, ev->cookie);
	if (!o)
		return;
	struct conn *c = ipc_conn_find(ip, o->conn_id);
	if (c) {
		uint64_t v = ev->type == CL_EV_ADMIN_DONE ? ev->count : ev->version;
		if (o->req_type == CLP_REQ_INDEX_GET && ev->err == 0)
			ipc_index_get_answer(ip, c, o->cookie, o->data, o->namelen, o->data + o->namelen,
					     o->keylen);
		else if (o->req_type == CLP_REQ_SYNC || ev->err)
			ipc_result(c, o->cookie, o->req_type, ev->err, NULL, 0);
		else
			ipc_result(c, o->cookie, o->req_type, 0, &v, sizeof(v));
	}
	free(o);
}

/* ---- handlers ---- */

static void do_hello(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct clp_req_hello *h = r->msg;
	if (h->version != CLP_VERSION) {
		ipc_result(c, r->cookie, r->type, COROLEASE_EVERSION, NULL, 0);
		return;
	}
	if (!c->hello)
		ip->nhello++;
	c->hello = true;
	struct clp_hello_payload p;
	memset(&p, 0, sizeof(p));
	p.version = CLP_VERSION;
	p.nodeid = ip->cfg.nodeid;
	snprintf(p.shm_path, sizeof(p.shm_path), "%s", ip->cfg.shm_path);
	ipc_result(c, r->cookie, r->type, 0, &p, sizeof(p));
}

static void do_acquire(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct clp_req_acquire *a = r->msg;
	const struct cld_config *conf = ip->cfg.conf;
	uint32_t owner = 0;
	struct cname *n;
	int rc;
	if (cname_find(c, r->name, r->namelen))
		rc = -EALREADY;
	else if (c->names.n >= conf->max_leases_per_client)
		rc = -EDQUOT;
	else if (c->pending >= conf->max_pending_per_client)
		rc = -EAGAIN;
	else if (!(n = cname_add(c, r->name, r->namelen)))
		rc = -ENOMEM;
	else if ((rc = cl_node_acquire(ip->cfg.node, c->id, r->cookie, r->name, r->namelen, a->mode,
				       r->flags, (uint64_t)a->timeout_ms * 1000)) < 0)
		cname_del(c, n);
	if (rc < 0)
		ipc_result(c, r->cookie, r->type, rc, &owner, sizeof(owner));
}

static void do_release(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	int rc = COROLEASE_ENOTHELD;
	struct cname *n = cname_find(c, r->name, r->namelen);
	if (n) {
		cname_del(c, n);
		cl_node_release(ip->cfg.node, c->id, r->name, r->namelen);
		rc = 0;
	}
	ipc_result(c, r->cookie, r->type, rc, NULL, 0);
}

static void do_index_get(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	if (!(r->flags & CLP_GET_SYNC)) {
		ipc_index_get_answer(ip, c, r->cookie, r->name, r->namelen, r->key, r->keylen);
		return;
	}
	/* a barrier first: the answer follows its SYNC_DONE (op_done) */
	uint64_t id = op_begin(ip, c, r, true);
	if (id)
		op_end(ip, c, r, id, cl_node_sync(ip->cfg.node, c->id, id));
}

static void do_sync(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	uint64_t id = op_begin(ip, c, r, false);
	if (id)
		op_end(ip, c, r, id, cl_node_sync(ip->cfg.node, c->id, id));
}

static void do_index_put(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	uint64_t id = op_begin(ip, c, r, false);
	if (id)
		op_end(ip, c, r, id, cl_node_index_put(ip->cfg.node, c->id, id, r->name, r->namelen,
						       r->key, r->keylen, r->val, r->vallen));
}

static void do_index_del(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	uint64_t id = op_begin(ip, c, r, false);
	if (id)
		op_end(ip, c, r, id, cl_node_index_del(ip->cfg.node, c->id, id, r->name, r->namelen,
						       r->key, r->keylen));
}

static void do_evict(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	uint64_t id = op_begin(ip, c, r, false);
	if (id)
		op_end(ip, c, r, id, cl_node_evict(ip->cfg.node, c->id, id, r->name, r->namelen));
}

static void do_fence_ack(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	uint64_t id = op_begin(ip, c, r, false);
	if (id)
		op_end(ip, c, r, id, cl_node_fence_ack(ip->cfg.node, c->id, id,
						       ((const struct clp_req_node *)r->msg)->node));
}

/* WATCH / UNWATCH name; namelen 0: every name. */
static void do_watch(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	(void)ip;
	int rc = 0;
	bool on = r->type == CLP_REQ_WATCH;
	if (!r->namelen) {
		c->watch_all = on;
	} else {
		struct watch *w = watch_find(c, r->name, r->namelen);
		if (on && !w) {
			w = malloc(sizeof(*w) + r->namelen);
			if (!w) {
				rc = -ENOMEM;
			} else {
				w->namelen = r->namelen;
				memcpy(w->name, r->name, r->namelen);
				cl_list_add_tail(&c->watches, &w->link);
			}
		} else if (!on && w) {
			cl_list_del(&w->link);
			free(w);
		}
	}
	ipc_result(c, r->cookie, r->type, rc, NULL, 0);
}

static void count_hold(void *ctx, const uint8_t *name, uint16_t namelen, const struct cl_hold_info *h)
{
	(void)name;
	(void)namelen;
	uint64_t *cnt = ctx;
	if (!h->orphan_seq)
		(*cnt)++;
}

static void do_status(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cld_ipc_config *d = &ip->cfg;
	struct clp_status s;
	memset(&s, 0, sizeof(s));
	s.nodeid = d->nodeid;
	s.vq_quorate = ip->ops->vq_quorate(ip->ctx);
	s.now = cld_now_us();
	s.clients = ip->nhello;
	s.index_mem_max = d->ncfg.sm.index_mem_max;
	if (d->node) {
		s.synced = cl_node_synced(d->node);
		s.valid_until = cl_node_valid_until(d->node);
		s.client_holds = cl_node_client_holds(d->node);
		struct cl_node_counters k;
		cl_node_counters(d->node, &k);
		s.mcast_msgs = k.mcast_msgs;
		s.fastpath_grants = k.fastpath_grants;
		s.cluster_grants = k.cluster_grants;
		s.syncs = k.syncs;
		s.snapshots_sent = k.snapshots_sent;
		s.snapshots_loaded = k.snapshots_loaded;
		s.revokes = k.revokes;
		s.kills = k.kills;
	}
	const struct cl_sm *sm = d->node ? cl_node_sm(d->node) : NULL;
	if (sm) {
		struct cl_sm_stats st;
		cl_sm_stats(sm, &st);
		s.quorate = st.quorate;
		s.ring_rep = st.ring.rep;
		s.ring_seq = st.ring.seq;
		s.lsn = st.lsn;
		s.epoch = st.epoch;
		s.leases = st.records;
		s.holds = st.holds;
		s.orphans = st.orphans;
		s.waiters = st.waiters;
		s.index_bytes = st.index_bytes;
		s.index_mem_max = st.index_mem_max;
		s.state_hash = cl_sm_hash(sm);
		s.nmembers = st.nmembers < 64 ? st.nmembers : 64;
		for (uint32_t i = 0; i < s.nmembers; i++) {
			s.members[i] = st.members[i];
			cl_sm_foreach_hold_of(sm, st.members[i], count_hold, &s.member_holds[i]);
			if (st.members[i] == d->nodeid)
				s.local_leases = s.member_holds[i];
		}
	} else {
		ip->ops->ring(ip->ctx, &s.ring_rep, &s.ring_seq);
	}
	ipc_result(c, r->cookie, r->type, 0, &s, sizeof(s));
}

/* ---- the request table ---- */

/* Checks a type's own fields beyond the lengths: 0 or COROLEASE_EPROTO. */
typedef int (*check_fn)(const void *msg);

static int check_acquire(const void *msg)
{
	const struct clp_req_acquire *a = msg;
	return a->mode == COROLEASE_EX || a->mode == COROLEASE_SH ? 0 : COROLEASE_EPROTO;
}

static int check_fence_ack(const void *msg)
{
	return ((const struct clp_req_node *)msg)->node ? 0 : COROLEASE_EPROTO;
}

enum name_rule {
	NAME_NONE,                    /* the type carries no name */
	NAME_REQUIRED,                /* 1..COROLEASE_NAME_MAX bytes */
	NAME_MAY_BE_EMPTY,            /* 0..COROLEASE_NAME_MAX (empty: every name) */
};

typedef void (*handler_fn)(struct cld_ipc *ip, struct conn *c, const struct req *r);

/*
 * One request type.  The lengths and flags the checks need are read from
 * the fixed part at the offsets given (0: the type has no such field; the
 * header is at offset 0); a handler reads the rest of its fixed part itself,
 * through req.msg.
 */
struct req_type {
	size_t fixed;                 /* sizeof the fixed part; 0: no such request */
	enum name_rule name;
	size_t namelen_at;            /* uint16_t */
	size_t keylen_at;             /* uint8_t; the key (1..255 bytes) follows the name */
	size_t vallen_at;             /* uint32_t; the value follows the key */
	size_t flags_at;              /* uint8_t */
	bool value;                   /* a value (0..COROLEASE_VALUE_MAX) is allowed */
	uint8_t flags;                /* the flags the type allows */
	check_fn check;               /* NULL: nothing more to check */
	bool before_hello;            /* allowed before HELLO */
	bool admin;                   /* root or admin_group only (else -EPERM) */
	handler_fn handle;
};

#define FIXED(type) .fixed = sizeof(struct type)
#define NAMED(type, rule) FIXED(type), .name = (rule), .namelen_at = offsetof(struct type, namelen)
#define INDEX(rule)                                                              \
	NAMED(clp_req_index, rule), .keylen_at = offsetof(struct clp_req_index, keylen), \
	.vallen_at = offsetof(struct clp_req_index, vallen), .flags_at = offsetof(struct clp_req_index, flags)

static const struct req_type req_types[CLP_REQ_TYPE_MAX + 1] = {
	[CLP_REQ_HELLO] = { FIXED(clp_req_hello), .before_hello = true, .handle = do_hello },
	[CLP_REQ_ACQUIRE] = { NAMED(clp_req_acquire, NAME_REQUIRED),
			      .flags_at = offsetof(struct clp_req_acquire, flags),
			      .flags = COROLEASE_WAIT, .check = check_acquire, .handle = do_acquire },
	[CLP_REQ_RELEASE] = { NAMED(clp_req_name, NAME_REQUIRED), .handle = do_release },
	[CLP_REQ_INDEX_GET] = { INDEX(NAME_REQUIRED), .flags = CLP_GET_SYNC, .handle = do_index_get },
	[CLP_REQ_INDEX_PUT] = { INDEX(NAME_REQUIRED), .value = true, .handle = do_index_put },
	[CLP_REQ_INDEX_DEL] = { INDEX(NAME_REQUIRED), .handle = do_index_del },
	[CLP_REQ_INDEX_LIST] = { NAMED(clp_req_name, NAME_REQUIRED), .handle = ipc_do_list },
	[CLP_REQ_WATCH] = { NAMED(clp_req_name, NAME_MAY_BE_EMPTY), .handle = do_watch },
	[CLP_REQ_UNWATCH] = { NAMED(clp_req_name, NAME_MAY_BE_EMPTY), .handle = do_watch },
	[CLP_REQ_SYNC] = { FIXED(clp_req_base), .handle = do_sync },
	[CLP_REQ_OWNER] = { NAMED(clp_req_name, NAME_REQUIRED), .handle = ipc_do_owner },
	[CLP_REQ_STATUS] = { FIXED(clp_req_base), .handle = do_status },
	[CLP_REQ_LIST] = { NAMED(clp_req_name, NAME_MAY_BE_EMPTY), .handle = ipc_do_list },
	[CLP_REQ_SHOW] = { NAMED(clp_req_name, NAME_REQUIRED), .handle = ipc_do_show },
	[CLP_REQ_EVICT] = { NAMED(clp_req_name, NAME_REQUIRED), .admin = true, .handle = do_evict },
	[CLP_REQ_FENCE_ACK] = { FIXED(clp_req_node), .check = check_fence_ack, .admin = true,
				.handle = do_fence_ack },
};

/* The unsigned field of width bytes at offset at of data; 0 when at is 0 (no such field). */
static uint32_t field_at(const uint8_t *data, size_t at, size_t width)
{
	if (!at)
		return 0;
	uint8_t b1;
	uint16_t b2;
	uint32_t b4;
	switch (width) {
	case 1: memcpy(&b1, data + at, 1); return b1;
	case 2: memcpy(&b2, data + at, 2); return b2;
	default: memcpy(&b4, data + at, 4); return b4;
	}
}

/*
 * Checks the message against its type's entry before anything is used: the
 * type exists, the header's size is the size received, the fixed part is
 * there, every declared length is in bounds, and the size is exactly the
 * fixed part plus the declared lengths.  0 with *t_r and r filled, or
 * COROLEASE_EPROTO (r->type and r->cookie still filled, for the answer).
 */
static int parse_req(const uint8_t *data, size_t size, struct req *r, const struct req_type **t_r)
{
	const struct clp_req_base *b = (const void *)data;
	r->type = (uint32_t)b->hdr.id;
	r->cookie = b->cookie;
	const struct req_type *t = r->type <= CLP_REQ_TYPE_MAX ? &req_types[r->type] : NULL;
	if (!t || !t->fixed || size < t->fixed || (size_t)b->hdr.size != size)
		return COROLEASE_EPROTO;
	r->namelen = (uint16_t)field_at(data, t->namelen_at, sizeof(uint16_t));
	r->keylen = (uint8_t)field_at(data, t->keylen_at, sizeof(uint8_t));
	r->vallen = field_at(data, t->vallen_at, sizeof(uint32_t));
	r->flags = (uint8_t)field_at(data, t->flags_at, sizeof(uint8_t));
	if (r->namelen > COROLEASE_NAME_MAX || (!r->namelen && t->name == NAME_REQUIRED) ||
	    (t->keylen_at && !r->keylen) || r->vallen > COROLEASE_VALUE_MAX ||
	    (r->vallen && !t->value) || (r->flags & ~t->flags) || (t->check && t->check(data) < 0))
		return COROLEASE_EPROTO;
	if (size != t->fixed + r->namelen + r->keylen + r->vallen)
		return COROLEASE_EPROTO;
	r->msg = data;
	r->name = data + t->fixed;
	r->key = r->name + r->namelen;
	r->val = r->key + r->keylen;
	*t_r = t;
	return 0;
}

static void ipc_request(struct cld_ipc *ip, struct conn *c, const uint8_t *data, size_t size)
{
	struct req r;
	memset(&r, 0, sizeof(r));
	const struct req_type *t = NULL;
	int rc = COROLEASE_EPROTO;
	if (size > sizeof(ip->req))
		size = 0;   /* larger than any request: malformed */
	else if (size >= sizeof(struct clp_req_base))
		rc = parse_req(data, size, &r, &t);
	else if (size >= sizeof(struct qb_ipc_request_header))
		r.type = (uint32_t)((const struct qb_ipc_request_header *)data)->id;
	if (rc == 0 && !c->hello && !t->before_hello)
		rc = COROLEASE_EPROTO;
	if (rc < 0) {
		ipc_result(c, r.cookie, r.type <= CLP_REQ_TYPE_MAX ? r.type : 0, rc, NULL, 0);
		if (++c->bad >= CLD_MAX_BAD)
			ipc_conn_kill(c, "too many malformed requests");
		else
			qb_log(LOG_DEBUG, "client %" PRIu64 ": malformed request (type %u, %zu bytes)",
			       c->id, r.type, size);
		return;
	}
	if (t->admin && !c->admin) {
		ipc_result(c, r.cookie, r.type, -EPERM, NULL, 0);
		return;
	}
	t->handle(ip, c, &r);
}

/* ---- node events ---- */

static void send_lease_ev(struct conn *c, uint32_t type, const struct cl_event *ev, uint32_t node)
{
	uint8_t *buf = c->ip->buf;
	struct clp_ev_lease *e = (struct clp_ev_lease *)buf;
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
	memcpy(buf + sizeof(*e), ev->name, ev->namelen);
	ipc_send(c, buf, sizeof(*e) + ev->namelen);
}

/* VALIDITY to every client that said HELLO. */
static void broadcast_validity(struct cld_ipc *ip, const struct cl_event *ev)
{
	struct clp_ev_validity *e = (struct clp_ev_validity *)ip->buf;
	struct cl_list *l;
	cl_list_foreach(l, &ip->conns) {
		struct conn *c = cl_list_entry(l, struct conn, link);
		if (!c->hello)
			continue;
		memset(e, 0, sizeof(*e));
		e->b.hdr.id = CLP_EV_VALIDITY;
		e->valid_until = ev->valid_until;
		ipc_send(c, ip->buf, sizeof(*e));
	}
}

/* INDEX_CHANGED to every client that said HELLO and watches the name. */
static void broadcast_index_changed(struct cld_ipc *ip, const struct cl_event *ev)
{
	struct cl_list *l;
	cl_list_foreach(l, &ip->conns) {
		struct conn *c = cl_list_entry(l, struct conn, link);
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
		ipc_send(c, ip->buf, sizeof(*e) + ev->namelen + ev->keylen);
	}
}

void cld_ipc_event(struct cld_ipc *ip, const struct cl_event *ev)
{
	if (!ip)
		return;
	if (ev->type == CL_EV_VALIDITY) {
		broadcast_validity(ip, ev);
		return;
	}
	if (ev->type == CL_EV_INDEX_CHANGED && !ev->client) {
		broadcast_index_changed(ip, ev);
		return;
	}
	if (ev->type == CL_EV_INDEX_DONE || ev->type == CL_EV_SYNC_DONE ||
	    ev->type == CL_EV_ADMIN_DONE) {
		op_done(ip, ev);
		return;
	}
	struct conn *c = ipc_conn_find(ip, ev->client);
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
		send_lease_ev(c, CLP_EV_GRANTED, ev, ip->cfg.nodeid);
		break;
	case CL_EV_DENIED: {
		uint32_t owner = ev->owner;
		n = cname_find(c, ev->name, ev->namelen);
		if (n)
			cname_del(c, n);
		ipc_result(c, ev->cookie, CLP_REQ_ACQUIRE, ev->err, &owner, sizeof(owner));
		break;
	}
	case CL_EV_QUEUED:
		send_lease_ev(c, CLP_EV_QUEUED, ev, ev->owner);
		break;
	case CL_EV_WANTED:
		send_lease_ev(c, CLP_EV_WANTED, ev, ev->owner);
		break;
	case CL_EV_REVOKED:
		send_lease_ev(c, CLP_EV_REVOKED, ev, ip->cfg.nodeid);
		break;
	case CL_EV_KILL:
		if (ip->cfg.conf->kill_on_revoke && c->pid > 1 && c->pid != ip->cfg.pid) {
			qb_log(LOG_WARNING, "killing client %" PRIu64 " pid %d: still using revoked lease %.*s",
			       c->id, (int)c->pid, (int)ev->namelen, (const char *)ev->name);
			kill(c->pid, SIGKILL);
		}
		break;
	default:
		break;
	}
}

/* The replica, or NULL after answering the request with COROLEASE_ESYNCING (not synced yet). */
static const struct cl_sm *replica(struct cld_ipc *ip, struct conn *c, uint64_t cookie, uint32_t type)
{
	const struct cl_sm *sm = cl_node_sm(ip->cfg.node);
	if (!sm)
		ipc_result(c, cookie, type, COROLEASE_ESYNCING, NULL, 0);
	return sm;
}

static void ipc_do_owner(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	uint32_t owner = cl_sm_owner(sm, r->name, r->namelen);
	ipc_result(c, r->cookie, r->type, 0, &owner, sizeof(owner));
}

static void ipc_index_get_answer(struct cld_ipc *ip, struct conn *c, uint64_t cookie,
			  const uint8_t *name, size_t namelen, const uint8_t *key, size_t keylen)
{
	const struct cl_sm *sm = replica(ip, c, cookie, CLP_REQ_INDEX_GET);
	if (!sm)
		return;
	const uint8_t *val = NULL;
	uint32_t vallen = 0;
	uint64_t version = 0;
	/* the key's own version (when it was last written), as INDEX_LIST reports */
	int rc = cl_index_get(sm, name, namelen, key, keylen, &val, &vallen, NULL);
	if (rc == 0)
		rc = cl_index_entry_version(sm, name, namelen, key, keylen, &version);
	if (rc < 0) {
		ipc_result(c, cookie, CLP_REQ_INDEX_GET, rc, NULL, 0);
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
	ipc_send(c, ip->buf, sizeof(*res) + sizeof(version) + vallen);
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
	ipc_send(b->c, b->ip->buf, b->off);
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

static void ipc_do_list(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	if (c->bulk_bytes) {
		/* the previous list is still being delivered */
		ipc_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
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
	ipc_result(c, r->cookie, r->type, 0, &b.total, sizeof(b.total));
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

static void ipc_do_show(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cl_sm *sm = replica(ip, c, r->cookie, r->type);
	if (!sm)
		return;
	struct cl_lease_info li;
	if (cl_sm_lookup(sm, r->name, r->namelen, &li, NULL, 0, NULL, 0) < 0) {
		ipc_result(c, r->cookie, r->type, -ENOENT, NULL, 0);
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
		ipc_result(c, r->cookie, r->type, -ENOMEM, NULL, 0);
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
	ipc_result(c, r->cookie, r->type, 0, p, k.off);
	free(h);
	free(w);
	free(p);
}
