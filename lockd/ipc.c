/*
 * ipc.c - the libqb IPC service of coroleased: loop glue, authorisation,
 * the connection table and each client's outgoing event queue.  Contract:
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
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "groups.h"
#include "qbpeek.h"
#include "hash.h"
#include "ipc_int.h"

/* ---- loop glue for libqb ---- */

/*
 * The loop the service runs on.  libqb calls its poll handlers
 * (qb_ipcs_poll_handlers) with no context pointer, and libqb's public API
 * has no way to find a loop (qb_loop_default_get() is internal), so the one
 * service of the process keeps its loop, and itself, here.  Everything else
 * reaches the service through the service and connection context pointers.
 */
static qb_loop_t *service_loop;
static struct cld_ipc *service_ip;

/*
 * Half-open connections.  libqb accepts a socket, then waits on it for the
 * client's credentials and connection request with no deadline, before
 * connection_accept is called; anyone may connect to the abstract socket.
 * The poll glue sees those sockets go by: the listening socket's handler
 * runs through accept_tramp(), and a socket libqb adds to the loop from
 * inside it is one in its handshake, until libqb takes it out of the loop
 * again (done, refused, or the client gone).  A handshake gets
 * handshake_timeout_ms; beyond max_handshakes in total or
 * max_handshakes_per_uid for its uid (root's never count and are never
 * refused) it is refused at once.  Refused and late ones are shut down,
 * which libqb sees as the client hanging up and closes.
 */
struct handshake {
	struct cl_list link;          /* in cld_ipc.handshakes, oldest first */
	int fd;
	uid_t uid;
	uint64_t deadline;            /* cld_now_us() */
	bool dropped;                 /* shut down: libqb closes it next */
	bool counted;                 /* in cld_ipc.nhandshakes (not root's, not dropped) */
};

static qb_ipcs_dispatch_fn_t acceptor_fn;
static void *acceptor_data;
static int acceptor_fd = -1;
static bool in_run, in_accept;

static int32_t accept_tramp(int32_t fd, int32_t revents, void *data)
{
	(void)data;
	in_accept = true;
	int32_t rc = acceptor_fn(fd, revents, acceptor_data);
	in_accept = false;
	return rc;
}

static struct handshake *handshake_find(struct cld_ipc *ip, int fd)
{
	struct cl_list *l;
	cl_list_foreach(l, &ip->handshakes) {
		struct handshake *h = cl_list_entry(l, struct handshake, link);
		if (h->fd == fd)
			return h;
	}
	return NULL;
}

static void handshake_drop(struct cld_ipc *ip, struct handshake *h, const char *why)
{
	if (h->dropped)
		return;
	h->dropped = true;
	if (h->counted)
		ip->nhandshakes--;
	h->counted = false;
	ip->handshakes_dropped++;
	qb_log(LOG_DEBUG, "dropping a half-open IPC connection of uid %u: %s", (unsigned)h->uid, why);
	shutdown(h->fd, SHUT_RDWR);
}

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

static void handshake_timer(void *data)
{
	struct cld_ipc *ip = data;
	ip->handshake_armed = false;
	uint64_t now = cld_now_us();
	struct cl_list *l;
	cl_list_foreach(l, &ip->handshakes) {
		struct handshake *h = cl_list_entry(l, struct handshake, link);
		if (now >= h->deadline)
			handshake_drop(ip, h, "handshake_timeout_ms passed");
	}
	handshake_arm(ip);
}

/* A socket libqb starts a handshake on (fd: accepted a moment ago). */
static void handshake_begin(struct cld_ipc *ip, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		cr.uid = (uid_t)-1;
	struct handshake *h = calloc(1, sizeof(*h));
	if (!h) {
		shutdown(fd, SHUT_RDWR);
		return;
	}
	h->fd = fd;
	h->uid = cr.uid;
	h->deadline = cld_now_us() + ip->cfg.conf->handshake_timeout_ms * 1000u;
	cl_list_add_tail(&ip->handshakes, &h->link);
	if (cr.uid == 0)
		return;
	uint64_t total = 0, mine = 0;
	struct cl_list *l;
	cl_list_foreach(l, &ip->handshakes) {
		const struct handshake *o = cl_list_entry(l, struct handshake, link);
		if (o == h || o->dropped || o->uid == 0)
			continue;
		total++;
		mine += o->uid == cr.uid;
	}
	if (total >= ip->cfg.conf->max_handshakes)
		handshake_drop(ip, h, "max_handshakes reached");
	else if (mine >= ip->cfg.conf->max_handshakes_per_uid)
		handshake_drop(ip, h, "max_handshakes_per_uid reached");
	else {
		h->counted = true;
		ip->nhandshakes++;
	}
	handshake_arm(ip);
}

/* libqb took fd out of the loop: a handshake on it is over (last_auth_fd: see accept_fn). */
static void handshake_end(struct cld_ipc *ip, int fd)
{
	struct handshake *h = handshake_find(ip, fd);
	if (!h)
		return;
	if (h->counted)
		ip->nhandshakes--;
	ip->last_auth_fd = h->dropped ? -1 : fd;
	cl_list_del(&h->link);
	free(h);
}

static int32_t ph_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(service_loop, p, data, fn);
}

static int32_t ph_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	if (in_run && acceptor_fd < 0) {
		/* the listening socket (qb_ipcs_run): its handler runs through accept_tramp */
		acceptor_fd = fd;
		acceptor_fn = fn;
		acceptor_data = data;
		return qb_loop_poll_add(service_loop, p, fd, events, NULL, accept_tramp);
	}
	int32_t rc = qb_loop_poll_add(service_loop, p, fd, events, data, fn);
	if (rc == 0 && in_accept && service_ip)
		handshake_begin(service_ip, fd);
	return rc;
}

static int32_t ph_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			       qb_ipcs_dispatch_fn_t fn)
{
	if (fd == acceptor_fd)
		return qb_loop_poll_mod(service_loop, p, fd, events, NULL, accept_tramp);
	return qb_loop_poll_mod(service_loop, p, fd, events, data, fn);
}

static int32_t ph_dispatch_del(int32_t fd)
{
	if (fd == acceptor_fd)
		acceptor_fd = -1;
	else if (service_ip)
		handshake_end(service_ip, fd);
	return qb_loop_poll_del(service_loop, fd);
}

/* ---- connections ---- */

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

/*
 * A disconnect queued as a job, holding a reference on qc.  Kept in
 * ip->kills so that cld_ipc_stop() can run it before qb_ipcs_destroy():
 * libqb's destroy disconnects every connection still on its list, which
 * for one it already closed drops a reference again -- ours -- so the job
 * would later touch a freed connection (and an unrun job leaks).
 */
struct kill_job {
	struct cl_list link;
	qb_ipcs_connection_t *qc;
};

static void disconnect_job(void *data)
{
	struct kill_job *k = data;
	qb_ipcs_connection_t *qc = k->qc;
	cl_list_del(&k->link);
	free(k);
	/*
	 * libqb may have closed the connection itself since the job was queued
	 * (the client left): conn_gone() then cleared its context, and a second
	 * qb_ipcs_disconnect() would drop libqb's own reference again (its
	 * "ref:0 state:3" assertion).  Our reference kept qc alive till here.
	 */
	if (qb_ipcs_context_get(qc))
		qb_ipcs_disconnect(qc);
	qb_ipcs_connection_unref(qc);
}

void ipc_conn_kill(struct conn *c, const char *why)
{
	if (c->dying)
		return;
	c->dying = true;
	qb_log(why ? LOG_WARNING : LOG_DEBUG, "disconnecting client %" PRIu64 " (pid %d): %s", c->id, (int)c->pid,
	       why ? why : "connection already closed");
	qb_ipcs_connection_ref(c->qc);
	struct kill_job *k = malloc(sizeof(*k));
	if (k) {
		k->qc = c->qc;
		cl_list_add_tail(&c->ip->kills, &k->link);
	}
	if (!k || qb_loop_job_add(c->ip->loop, QB_LOOP_HIGH, k, disconnect_job) != 0) {
		if (k) {
			cl_list_del(&k->link);
			free(k);
		}
		qb_ipcs_connection_unref(c->qc);
		qb_ipcs_disconnect(c->qc);
	}
}

/* Runs the queued disconnects now (at shutdown, before libqb's destroy). */
static void run_kills(struct cld_ipc *ip)
{
	struct cl_list *l;
	while ((l = cl_list_first(&ip->kills))) {
		struct kill_job *k = cl_list_entry(l, struct kill_job, link);
		qb_loop_job_del(ip->loop, QB_LOOP_HIGH, k, disconnect_job);
		disconnect_job(k);
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
	free(b);
}

/*
 * Sends what is queued for c, and goes on with its listing once the queue
 * drained.  Returns true when the queue is empty.
 */
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
	if (c->listing && !c->dying)
		ipc_list_pump(c->ip, c);
	return cl_list_empty(&c->outq);
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

void ipc_send(struct conn *c, void *buf, size_t len)
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
	/* every byte counts, list answers too (they pause at CLD_LIST_QUEUED) */
	if (c->oq_bytes + len > CLD_OUTQ_MAX) {
		ipc_conn_kill(c, "client does not read its events");
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
	arm_flush(c->ip);
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

/* ---- authorisation ---- */

/*
 * Group membership of a connecting client: gid is its primary group (from
 * libqb's credentials).  The supplementary groups come from the kernel with
 * SO_PEERGROUPS on the client's socket (the one whose handshake just ended,
 * checked by SO_PEERCRED to be this client's), as they were at connect();
 * else from the whole Groups: line of /proc/PID/status, read as whole
 * numbers however long it is.  Either way a client with any number of
 * groups (65536 at most) is judged by all of them, and a number cut in two
 * is never a gid.
 */
struct groups {
	gid_t primary;
	gid_t *g;
	size_t n;
};

static int peer_groups(int fd, pid_t pid, uid_t uid, gid_t gid, struct groups *gr)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid != pid ||
	    cr.uid != uid || cr.gid != gid)
		return -ESRCH;
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

/* How many connections one uid has (in cld_ipc.uid_tab while it has any). */
struct uid_conns {
	struct cl_hnode hn;
	uid_t uid;
	uint64_t n;
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
static int uid_conns_add(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		u->uid = uid;
		cl_htab_add(&ip->uid_tab, &u->hn, cl_mix64(uid));
	}
	u->n++;
	return 0;
}

static void uid_conns_drop(struct cld_ipc *ip, uid_t uid)
{
	struct uid_conns *u = uid_conns_find(ip, uid);
	if (u && --u->n == 0) {
		cl_htab_del(&ip->uid_tab, &u->hn);
		free(u);
	}
}

/*
 * Refuses a connection over limit `which` (0: max_connections, 1:
 * max_connections_per_uid): counts it, logs why (at most one line a second
 * per limit, saying how many went unlogged), and returns the error the
 * client gets from corolease_connect().
 */
static int32_t refuse(struct cld_ipc *ip, int which, uid_t uid, pid_t pid)
{
	static const char *const limit[2] = { "max_connections", "max_connections_per_uid" };
	const struct cld_config *conf = ip->cfg.conf;
	uint64_t value = which ? conf->max_connections_per_uid : conf->max_connections;
	(*(which ? &ip->refused_conns_uid : &ip->refused_conns))++;
	uint64_t now = cld_now_us();
	if (now < ip->refusal_log_at[which]) {
		ip->refusals_unlogged[which]++;
		return -EUSERS;
	}
	ip->refusal_log_at[which] = now + CLD_REFUSAL_LOG_US;
	qb_log(LOG_WARNING, "refused IPC connection from uid %u pid %d: %s (%" PRIu64 ") reached, "
	       "%" PRIu64 " connections open (%" PRIu64 " more refused by it, unlogged, since the "
	       "last such line)", (unsigned)uid, (int)pid, limit[which], value, ip->nconns,
	       ip->refusals_unlogged[which]);
	ip->refusals_unlogged[which] = 0;
	return -EUSERS;
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

static int32_t accept_fn(qb_ipcs_connection_t *qc, uid_t uid, gid_t gid)
{
	struct cld_ipc *ip = qb_ipcs_connection_service_context_get(qc);
	struct qb_ipcs_connection_stats st;
	memset(&st, 0, sizeof(st));
	qb_ipcs_connection_stats_get(qc, &st, 0);
	pid_t pid = st.client_pid;
	if (!ip || ip->refuse_new)
		return -ESHUTDOWN;
	struct groups gr = { .primary = gid };
	int fd = ip->last_auth_fd;
	ip->last_auth_fd = -1;
	if (uid != 0 && (ip->sock_gid_ok || ip->admin_gid_ok) &&
	    peer_groups(fd, pid, uid, gid, &gr) < 0 && proc_groups(pid, &gr) < 0)
		qb_log(LOG_NOTICE, "cannot read the groups of pid %d (uid %u): judged by its primary "
		       "group %u alone", (int)pid, (unsigned)uid, (unsigned)gid);
	bool ok = uid == 0 || uid == getuid() || in_groups(&gr, ip->sock_gid_ok, ip->sock_gid);
	bool admin = uid == 0 || in_groups(&gr, ip->admin_gid_ok, ip->admin_gid);
	free(gr.g);
	if (!ok) {
		qb_log(LOG_NOTICE, "refused IPC connection from uid %u gid %u pid %d: not in socket_group '%s'",
		       (unsigned)uid, (unsigned)gid, (int)pid, ip->cfg.conf->socket_group);
		return -EACCES;
	}
	int32_t rc = over_limit(ip, uid, pid);
	if (rc < 0)
		return rc;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c || uid_conns_add(ip, uid) < 0) {
		free(c);
		return -ENOMEM;
	}
	c->ip = ip;
	c->qc = qc;
	c->id = ++ip->next_id;
	c->pid = pid;
	/*
	 * kill_on_revoke kills through a pidfd taken now, never by a pid
	 * number that may be reused once the client is gone.
	 */
	c->pidfd = ip->cfg.conf->kill_on_revoke && pid > 1 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	c->uid = uid;
	c->gid = gid;
	c->admin = admin;
	cld_watcher_init(&c->watch);
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
	uid_conns_drop(ip, c->uid);
	if (c->hello)
		ip->nhello--;
	ipc_conn_forget(c);
	struct cl_list *l, *nx;
	cl_list_foreach_safe(l, nx, &c->outq)
		outbuf_free(c, cl_list_entry(l, struct outbuf, link));
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c->listing);
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
	/*
	 * size is what the client wrote in the header; the bytes it really sent
	 * are the ring chunk's (qbpeek.c).  The request is parsed from a private
	 * copy of those bytes, never beyond them, and never from the ring the
	 * client can still write.  A header that disagrees is malformed.
	 */
	ssize_t real = cld_qb_chunk_size(data);
	if (real < 0) {
		if (!ip->sizes_unchecked++)
			qb_log(LOG_WARNING, "libqb did not report the size of a request read: "
			       "judging requests by their headers' sizes");
		real = (ssize_t)size;
	}
	size_t n = (size_t)real < sizeof(ip->req) ? (size_t)real : sizeof(ip->req);
	memcpy(ip->req, data, n);
	ipc_request(ip, c, ip->req, (size_t)real);
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

/* A service name of its own for this start (corolease/ipc.h). */
static int new_service_name(struct cld_ipc *ip)
{
	uint64_t r;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return errno ? -errno : -EIO;
	snprintf(ip->service, sizeof(ip->service), "%s-%016" PRIx64, COROLEASE_IPC_NAME, r);
	return 0;
}

/*
 * Publishes the service name and this pid in RUN_DIR/CLP_SERVICE_FILE:
 * written to a new file beside it (never following a link), then renamed
 * over the old one, so a client reads either the old or the new whole.
 */
static int publish_service(struct cld_ipc *ip)
{
	const char *dir = ip->cfg.conf->run_dir;
	char tmp[sizeof(ip->service_path) + 16], line[CLP_SERVICE_NAME_MAX + 32];
	int n = snprintf(ip->service_path, sizeof(ip->service_path), "%s/%s", dir, CLP_SERVICE_FILE);
	int t = snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, CLP_SERVICE_FILE, (int)getpid());
	int len = snprintf(line, sizeof(line), "%s %d\n", ip->service, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(ip->service_path) || t < 0 || (size_t)t >= sizeof(tmp)) {
		ip->service_path[0] = '\0';
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0 || fchmod(fd, 0644) < 0 || write(fd, line, (size_t)len) != len)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, ip->service_path) < 0)
		rc = -errno;
	if (rc < 0) {
		qb_log(LOG_CRIT, "cannot publish the IPC service name in %s: %s", ip->service_path,
		       strerror(-rc));
		unlink(tmp);
		ip->service_path[0] = '\0';
		return rc;
	}
	qb_log(LOG_INFO, "IPC service %s published in %s", ip->service, ip->service_path);
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
	ip->last_auth_fd = -1;
	cl_list_init(&ip->conns);
	cl_list_init(&ip->handshakes);
	cl_list_init(&ip->kills);
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
	rc = new_service_name(ip);
	if (rc < 0)
		goto fail;
	ip->s = qb_ipcs_create(ip->service, 0, QB_IPC_NATIVE, &sh);
	if (!ip->s) {
		rc = -errno ? -errno : -ENOMEM;
		goto fail;
	}
	qb_ipcs_service_context_set(ip->s, ip);
	qb_ipcs_enforce_buffer_size(ip->s, CLP_MAX_MSG);
	qb_ipcs_poll_handlers_set(ip->s, &ph);
	service_loop = loop;
	service_ip = ip;
	in_run = true;
	rc = qb_ipcs_run(ip->s);
	in_run = false;
	if (rc < 0) {
		ip->s = NULL;   /* qb_ipcs_run() already dropped the service on failure */
		service_loop = NULL;
		service_ip = NULL;
		goto fail;
	}
	rc = publish_service(ip);
	if (rc < 0) {
		qb_ipcs_destroy(ip->s);
		ip->s = NULL;
		service_loop = NULL;
		service_ip = NULL;
		goto fail;
	}
	*ip_r = ip;
	return 0;
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
	if (ip->flush_armed)
		qb_loop_timer_del(ip->loop, ip->flush_timer);
	ip->flush_armed = false;
	if (ip->handshake_armed)
		qb_loop_timer_del(ip->loop, ip->handshake_tmr);
	ip->handshake_armed = false;
	ip->refuse_new = true;
	if (ip->service_path[0])
		unlink(ip->service_path);   /* no new client is sent to a name about to go */
	run_kills(ip);
	if (ip->s)
		qb_ipcs_destroy(ip->s);   /* disconnects every client: conn_gone frees them */
	struct cl_list *l;
	while ((l = cl_list_first(&ip->conns)))
		conn_free(ip, cl_list_entry(l, struct conn, link));
	ipc_ops_free(ip);
	while ((l = cl_list_first(&ip->handshakes))) {
		cl_list_del(l);
		free(cl_list_entry(l, struct handshake, link));
	}
	service_ip = NULL;
	acceptor_fd = -1;
	cl_htab_fini(&ip->conn_tab);
	cl_htab_fini(&ip->op_tab);
	cl_htab_fini(&ip->uid_tab);
	cld_watch_reg_fini(&ip->watches);
	service_loop = NULL;
	free(ip);
	return NULL;
}
