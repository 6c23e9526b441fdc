/*
 * ipc_req.c - requests of corolease/ipc.h: one table indexed by request
 * type validates and dispatches each message; the handlers that change
 * state; node events routed back to the clients.  See ipc_int.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1   /* SCHED_RESET_ON_FORK */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "hashkey.h"
#include "ipc_int.h"
#include "proctree.h"
#include "status.h"

/* ---- the names a client is acquiring ---- */

/* Keyed by the daemon's secret (hashkey.h): the client chooses the names. */
static uint64_t nhash(const void *name, size_t len)
{
	return cl_siphash(cld_hash_key(), name, len);
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

/* Root and the daemon's own user: no per-uid share of hold slots, and the reserve too. */
static bool holds_privileged(const struct conn *c)
{
	return c->uid == 0 || c->uid == getuid();
}

/*
 * Takes a revocation slot of the validity page for a new hold, if the
 * client's uid may have one more (holdquota.h).  0 and *slot; -EDQUOT (its
 * uid's share, max_client_holds_per_uid, is taken), -ENOSPC (every slot it
 * may use is taken: max_client_holds, or the reserve too), or -ENOMEM.
 */
static int hold_slot_take(struct conn *c, uint32_t *slot)
{
	int rc = cld_holdquota_take(c->ip->cfg.holds, (uint32_t)c->uid, holds_privileged(c));
	if (rc < 0)
		return rc;
	rc = cld_page_slot_alloc(c->ip->cfg.page, slot);
	if (rc < 0) {
		cld_holdquota_put(c->ip->cfg.holds, (uint32_t)c->uid);
		return rc == -EDQUOT ? -ENOSPC : rc;   /* the page has room for every quota */
	}
	return 0;
}

/* A hold is over (released, denied, its client gone), or no hold was made. */
static void hold_slot_put(struct cld_ipc *ip, uint32_t slot, uint32_t uid)
{
	cld_page_slot_free(ip->cfg.page, slot);   /* invalid from here on */
	cld_holdquota_put(ip->cfg.holds, uid);
}

/* Adds name as being acquired, or (dropped) as dropped.  0 and *n_r, or -ENOMEM. */
static int cname_add(struct conn *c, const void *name, size_t len, bool dropped,
		     struct cname **n_r)
{
	if (!c->names.nb && cl_htab_init(&c->names, 16) < 0)
		return -ENOMEM;
	struct cname *n = malloc(sizeof(*n) + len);
	if (!n)
		return -ENOMEM;
	n->asked_at = dropped ? 0 : cld_now_us();
	n->namelen = (uint16_t)len;
	n->dropped = dropped;
	memcpy(n->name, name, len);
	cl_htab_add(&c->names, &n->hn, nhash(name, len));
	if (dropped)
		c->ndropped++;
	else
		c->pending++;
	*n_r = n;
	return 0;
}

/*
 * The acquire is answered (granted, denied), or given up (released, the
 * client gone); a dropped hold is released, or its client gone: the share
 * of holdquota it kept goes back (hold_dropped()).
 */
static void cname_del(struct conn *c, struct cname *n)
{
	cl_htab_del(&c->names, &n->hn);
	if (n->dropped) {
		c->ndropped--;
		cld_holdquota_put(c->ip->cfg.holds, (uint32_t)c->uid);
	} else {
		c->pending--;
	}
	free(n);
}

/* What the client is acquiring (not a dropped hold): NULL when none. */
static struct cname *cname_pending(struct conn *c, const void *name, size_t len)
{
	struct cname *n = cname_find(c, name, len);
	return n && !n->dropped ? n : NULL;
}

void ipc_conn_forget(struct conn *c)
{
	ipc_kill_forget(c);   /* first: its pidfd is still open */
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&c->names, &it); e;
	     e = cl_htab_iter_next(&c->names, &it))
		cname_del(c, cl_container_of(e, struct cname, hn));
	cl_htab_fini(&c->names);
	cld_watcher_forget(&c->ip->watches, &c->watch);
	/*
	 * cl_node_client_gone() keeps the node's side of these ops but will
	 * answer them to nobody: freed here, or each would stay in op_tab for
	 * good (found by tests/fuzz/fuzz_ipc: a client that closes with a
	 * SYNC, INDEX_PUT/DEL, EVICT or FENCE_ACK under way).
	 */
	struct cl_list *l;
	while ((l = cl_list_first(&c->ops))) {
		struct op *o = cl_list_entry(l, struct op, clink);
		cl_list_del(&o->clink);
		cl_htab_del(&c->ip->op_tab, &o->hn);
		free(o);
	}
	c->pending = 0;
}

/* ---- requests waiting for the node's answer ---- */

/*
 * Whether the node's own messages not yet delivered back have reached
 * max_backlog_bytes (corosync stopped, or far behind, while clients keep
 * asking; counted).  A request that would add to them is then refused with
 * EAGAIN.  A release is not: it only ends what was taken, so what it adds
 * is bounded by what was let in.  Nor are root's and the daemon user's
 * requests (c->admin): an operator's fence-ack or evict must not wait for
 * other users' flood to drain.
 */
#define BACKLOG_MSG_COST 256   /* per message, for what the node keeps with it (measured: ~215) */

static bool backlog_full(struct cld_ipc *ip, const struct conn *c)
{
	uint64_t msgs = 0;
	if (c->admin || !ip->cfg.node ||
	    cl_node_backlog(ip->cfg.node, &msgs) + msgs * BACKLOG_MSG_COST < ip->cfg.conf->max_backlog_bytes)
		return false;
	ip->refused_backlog++;
	return true;
}

/*
 * Starts an op for r (keeping its name and key when keep) and returns its
 * id, never 0.  0 when r was answered already: too many pending (-EAGAIN)
 * or -ENOMEM.
 */
static uint64_t op_begin(struct cld_ipc *ip, struct conn *c, const struct req *r, bool keep)
{
	if (c->pending >= ip->cfg.conf->max_pending_per_client) {
		ip->refused_pending++;
		ipc_result(c, r->cookie, r->type, -EAGAIN, NULL, 0);
		return 0;
	}
	if (backlog_full(ip, c)) {
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
	cl_list_add_tail(&c->ops, &o->clink);
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
		cl_list_del(&o->clink);
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

void ipc_ops_free(struct cld_ipc *ip)
{
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&ip->op_tab, &it); e;
	     e = cl_htab_iter_next(&ip->op_tab, &it)) {
		cl_htab_del(&ip->op_tab, e);
		free(cl_container_of(e, struct op, hn));
	}
}

/*
 * Counts an index put the machine refused for a limit, and logs it (the
 * first and every 1024th of each kind).  c may be NULL (gone meanwhile).
 */
static void index_refused(struct cld_ipc *ip, const struct conn *c, int err)
{
	uint64_t *n = err == -EDQUOT ? &ip->refused_index_quota : &ip->refused_index_full;
	if ((*n)++ && (*n & 1023))
		return;
	const struct cl_sm *sm = cl_node_sm(ip->cfg.node);
	struct cl_sm_stats st = { 0 };
	if (sm)
		cl_sm_stats(sm, &st);
	long uid = c ? (long)c->uid : -1;
	if (err == -EDQUOT)
		qb_log(LOG_NOTICE, "index put of uid %ld refused: it would exceed index_bytes_per_uid "
		       "(%" PRIu64 ") even after evicting its unheld indexes (%" PRIu64 " such "
		       "refusals so far)", uid, st.index_bytes_per_uid, *n);
	else
		qb_log(LOG_NOTICE, "index put of uid %ld refused: index_mem_max (%" PRIu64 ") is full "
		       "of %s (%" PRIu64 " such refusals so far)", uid, st.index_mem_max,
		       st.index_bytes_per_uid ? "held indexes and other uids' (never evicted for it)"
					      : "held indexes", *n);
}

/* The node answered an op (INDEX_DONE, SYNC_DONE, ADMIN_DONE). */
static void op_done(struct cld_ipc *ip, const struct cl_node_event *ev)
{
	struct op *o = op_take(ip, ev->cookie);
	if (!o)
		return;
	struct conn *c = ipc_conn_find(ip, o->conn_id);
	if (o->req_type == CLP_REQ_INDEX_PUT && (ev->err == -EDQUOT || ev->err == -ENOSPC))
		index_refused(ip, c, ev->err);
	if (c) {
		uint64_t v = ev->type == CL_NODE_EV_ADMIN_DONE ? ev->count : ev->version;
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
	p.incarnation = cld_page_incarnation(ip->cfg.page);
	p.nslots = cld_page_nslots(ip->cfg.page);
	snprintf(p.shm_path, sizeof(p.shm_path), "%s", cld_page_path(ip->cfg.page));
	ipc_result(c, r->cookie, r->type, 0, &p, sizeof(p));
}

/*
 * max_leases: the replicated state already has that many names and name is
 * not among them.  Checked where a request enters, on the node, so the
 * replicas never disagree; acquires in flight on other nodes may overshoot
 * it by their number.
 */
static bool machine_full(struct cld_ipc *ip, const uint8_t *name, size_t namelen)
{
	const struct cl_sm *sm = cl_node_sm(ip->cfg.node);
	if (!sm)
		return false;
	struct cl_sm_stats st;
	cl_sm_stats(sm, &st);
	if (st.records < ip->cfg.conf->max_leases ||
	    cl_sm_lookup(sm, name, namelen, &(struct cl_lease_info){ 0 }, NULL, 0, NULL, 0) == 0)
		return false;
	if (!ip->refused_leases++ || !(ip->refused_leases & 1023))
		qb_log(LOG_WARNING, "acquire of a new name refused: max_leases (%" PRIu64 ") names "
		       "in the cluster's state (%" PRIu64 " refusals so far)",
		       ip->cfg.conf->max_leases, ip->refused_leases);
	return true;
}

/*
 * Logs (at most every 10 s, with the counts) that the client hold slots
 * turned an acquire away: err -EDQUOT, its uid's share; -ENOSPC, every slot
 * it may use.  The client gets -EDQUOT either way.
 */
static void holds_refused(struct cld_ipc *ip, struct conn *c, int err)
{
	uint64_t now = cld_now_us();
	ip->holds_refused++;
	if (ip->holds_refused_told && now < ip->holds_refused_told + 10000000u)
		return;
	ip->holds_refused_told = now;
	struct cld_holdquota_stats st;
	cld_holdquota_stats(ip->cfg.holds, &st);
	if (err == -EDQUOT)
		qb_log(LOG_WARNING, "client %" PRIu64 " (pid %d, uid %u): acquire refused with EDQUOT: "
		       "its uid holds its share of the client hold slots (max_client_holds_per_uid, "
		       "%" PRIu64 "); %" PRIu64 " refused for a uid's share, %" PRIu64 " for a full node "
		       "so far", c->id, (int)c->pid, (unsigned)c->uid, st.per_uid, st.refused_uid,
		       st.refused_full);
	else
		qb_log(LOG_WARNING, "client %" PRIu64 " (pid %d, uid %u): acquire refused with EDQUOT: "
		       "the node's client hold slots are taken (max_client_holds %" PRIu64 ", %" PRIu64
		       " in use, %" PRIu64 " more for root); %" PRIu64 " refused for a full node, "
		       "%" PRIu64 " for a uid's share so far", c->id, (int)c->pid, (unsigned)c->uid,
		       st.shared, st.used, st.reserve, st.refused_full, st.refused_uid);
}

static void do_acquire(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct clp_req_acquire *a = r->msg;
	const struct cld_config *conf = ip->cfg.conf;
	uint32_t owner = 0, slot;
	struct cname *n;
	int rc;
	/* a dropped hold not released yet counts as held (struct cname) */
	if (cname_find(c, r->name, r->namelen) ||
	    cl_node_client_has(ip->cfg.node, c->id, r->name, r->namelen))
		rc = -EALREADY;
	else if ((uint64_t)cl_node_client_nholds(ip->cfg.node, c->id) + c->ndropped >=
		 conf->max_leases_per_client)
		rc = -EDQUOT, ip->refused_client_leases++;
	else if (c->pending >= conf->max_pending_per_client)
		rc = -EAGAIN, ip->refused_pending++;
	else if (backlog_full(ip, c))
		rc = -EAGAIN;
	else if (machine_full(ip, r->name, r->namelen))
		rc = -ENOSPC;
	else if ((rc = hold_slot_take(c, &slot)) < 0) {
		if (rc == -EDQUOT || rc == -ENOSPC) {
			holds_refused(ip, c, rc);
			rc = -EDQUOT;
		}
	} else if ((rc = cname_add(c, r->name, r->namelen, false, &n)) < 0) {
		hold_slot_put(ip, slot, (uint32_t)c->uid);
	} else if ((r->flags & COROLEASE_KILL) && c->pidfd < 0 && c->pid > 1 &&
		   c->pid != ip->cfg.pid && (c->pidfd = cld_conn_peer_pidfd(c->fd, c->pid)) < 0) {
		/* it would not be killed: say so now rather than at the deadline */
		rc = -errno;
		qb_log(LOG_WARNING, "client %" PRIu64 " pid %d: acquire with COROLEASE_KILL refused: no "
		       "pidfd of the process (%s)", c->id, (int)c->pid, strerror(-rc));
		cname_del(c, n);
		hold_slot_put(ip, slot, (uint32_t)c->uid);
	} else if ((rc = cl_node_acquire_tagged(ip->cfg.node, c->id, r->cookie, (uint32_t)c->uid,
						slot, r->name, r->namelen, a->mode,
						r->flags | (c->admin ? CL_NODE_PRIVILEGED : 0),
						(uint64_t)a->timeout_ms * 1000)) < 0) {
		/* no hold was made: the slot is still ours */
		cname_del(c, n);
		hold_slot_put(ip, slot, (uint32_t)c->uid);
	}
	if (rc < 0)
		ipc_result(c, r->cookie, r->type, rc, &owner, sizeof(owner));
}

static void do_release(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	struct cname *n = cname_find(c, r->name, r->namelen);
	int rc;
	if (n && n->dropped) {
		/* the hold was dropped at its deadline: released now, as far as the client goes */
		cname_del(c, n);
		rc = 0;
	} else {
		if (n)
			cname_del(c, n);
		/* the slot goes back at the hold's CL_NODE_EV_HOLD_END, which this hands out */
		rc = cl_node_release(ip->cfg.node, c->id, r->name, r->namelen);
		cld_killguard_disarm(ip->guard, c->id, r->name, r->namelen);
		if (rc < 0 && rc != COROLEASE_ENOTHELD)
			rc = -ENOMEM;   /* the agent has failed */
	}
	if (!(r->flags & CLP_RELEASE_QUIET))
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
		op_end(ip, c, r, id, cl_node_index_put(ip->cfg.node, c->id, id, (uint32_t)c->uid,
						       r->name, r->namelen, r->key, r->keylen,
						       r->val, r->vallen));
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
						       ((const struct clp_req_node *)r->msg)->node,
						       r->flags & COROLEASE_FENCE_FORCE));
}

/*
 * WATCH / UNWATCH name; namelen 0: every name.  A named watch counts
 * against max_watches_per_client and, but for root's, against its uid's
 * max_watches_per_uid (each is some locked memory: a uid's many
 * connections must not lock hundreds of MB); -EDQUOT beyond either.
 */
static void do_watch(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	int rc = 0;
	bool on = r->type == CLP_REQ_WATCH;
	const struct cld_config *conf = ip->cfg.conf;
	uint64_t n0 = c->watch.n;
	if (!r->namelen) {
		cld_watch_all(&ip->watches, &c->watch, on);
	} else if (!on) {
		cld_watch_del(&ip->watches, &c->watch, r->name, r->namelen);
	} else {
		bool uid_bound;
		uint64_t max = cld_watch_quota(conf->max_watches_per_client, n0,
					       ipc_uid_watches(ip, c->uid), conf->max_watches_per_uid,
					       c->uid == 0, &uid_bound);
		rc = cld_watch_add(&ip->watches, &c->watch, r->name, r->namelen, max);
		if (rc == -EDQUOT && uid_bound) {
			ip->refused_watches_uid++;
			qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d): watch refused, max_watches_per_uid "
			       "(%" PRIu64 ") reached for uid %u", c->id, (int)c->pid,
			       conf->max_watches_per_uid, (unsigned)c->uid);
		} else if (rc == -EDQUOT) {
			ip->refused_watches++;
			qb_log(LOG_DEBUG, "client %" PRIu64 " (pid %d): watch refused, "
			       "max_watches_per_client (%" PRIu64 ") reached", c->id, (int)c->pid,
			       conf->max_watches_per_client);
		}
	}
	ipc_uid_watches_add(c, (int64_t)c->watch.n - (int64_t)n0);
	ipc_result(c, r->cookie, r->type, rc, NULL, 0);
}

/* The daemon's realtime priority now (whoever set it), 0 under a normal policy. */
static uint32_t realtime_priority(void)
{
	int pol = sched_getscheduler(0);
	struct sched_param sp;
	if ((pol & ~SCHED_RESET_ON_FORK) != SCHED_RR && (pol & ~SCHED_RESET_ON_FORK) != SCHED_FIFO)
		return 0;
	return sched_getparam(0, &sp) == 0 && sp.sched_priority > 0 ? (uint32_t)sp.sched_priority : 0;
}

/*
 * COROLEASE_KILL: what the client started, killed before the client, at
 * most CLD_KILL_TREE_MAX of its descendants a walk, each walk with at most
 * CLD_KILL_TREE_READS children and stat files (one children file per
 * thread), and CLD_KILL_TREE_BUDGET files a second for each uid, charged to
 * the uid of the client killed (killbudget.h): each file costs the loop
 * some microseconds, and many clients killed at once, or processes of many
 * threads, must not stall it; nor may one user's kills spend what another
 * user's kill needs.  The client is stopped first so it starts nothing
 * more, and stays stopped, not killed, while its tree is not all walked
 * (the walk was cut: its uid's budget spent, or more than a walk's worth):
 * killing it would hand what it started to init, out of the walk's reach.
 * Such a kill is retried (struct tree_retry) each time its uid has a
 * walk's worth of reads again, until a walk ends uncut (all killed, or
 * nothing left); only after CLD_KILL_TREE_TRIES cut walks in a row that
 * killed nothing (a client of more threads than a walk may read) is the
 * client killed with the rest of its tree left, and that is a WARNING.
 */
#define CLD_KILL_TREE_BUDGET 1024
#define CLD_KILL_TREE_TRIES 8
#define CLD_KILL_TREE_TRIES_S "8"
#define CLD_KILL_RETRY_NS (100 * QB_TIME_NS_IN_MSEC)

/* A COROLEASE_KILL whose walk was cut: its client (stopped) waits to be killed. */
struct tree_retry {
	struct cl_list link;          /* in cld_ipc.tree_retries */
	uint64_t conn_id;
	uint32_t uid;
	pid_t pid;
	bool asked;                   /* COROLEASE_KILL (else kill_on_revoke) */
	int killed;                   /* processes its walks killed so far */
	unsigned idle;                /* cut walks in a row that killed none */
	uint16_t namelen;
	uint8_t name[];               /* the revoked lease */
};

/*
 * One walk of c's tree, c stopped first: the processes killed, or -ESRCH
 * when c is gone.  *cut: not all of it was walked (its uid's budget was
 * spent, or the walk's own bounds were reached).
 */
static int kill_tree(struct cld_ipc *ip, struct conn *c, uint64_t now, bool *cut)
{
	*cut = false;
	if (c->pidfd < 0)
		return 0;
	size_t reads = cld_killbudget_avail(&ip->kill_budget, (uint32_t)c->uid, now,
					    CLD_KILL_TREE_READS);
	size_t used = 0;
	int n = cld_proc_kill_tree(c->pidfd, c->pid, (uint32_t)c->uid, reads, cut, &used);
	if (n >= 0 && reads)
		cld_killbudget_charge(&ip->kill_budget, (uint32_t)c->uid, now, used ? used : 1);
	return n;
}

/*
 * SIGKILL to c, logged at most a line a second, with the number of kills
 * since the last line (t86); a kill that leaves some of its tree (cut_why:
 * why) is a WARNING at most a line a second for each uid, whatever other
 * users' kills logged.
 */
static void sigkill_conn(struct cld_ipc *ip, struct conn *c, const uint8_t *name, size_t namelen,
			 bool asked, int tree, const char *cut_why)
{
	bool cut = cut_why != NULL;
	uint64_t now = cld_now_us();
	int err = c->pidfd < 0 ? ENOSYS : 0;
	if (!err && syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) < 0)
		err = errno;
	uint64_t left_out;
	if (cut && !err && cld_killbudget_log(&ip->kill_budget, (uint32_t)c->uid, now,
					      CLD_REFUSAL_LOG_US, &left_out)) {
		qb_log(LOG_WARNING, "killing client %" PRIu64 " pid %d (uid %u): still using revoked "
		       "lease %.*s (%s); %d processes it started killed too, NOT all: %s; the rest "
		       "may live on (%" PRIu64 " more such kills of uid %u since the last such line)",
		       c->id, (int)c->pid, (unsigned)c->uid, (int)namelen, (const char *)name,
		       asked ? "it asked for it" : "kill_on_revoke", tree, cut_why, left_out,
		       (unsigned)c->uid);
		return;
	}
	if ((cut && !err) || !cld_log_due(&ip->sigkill_log_at, now)) {
		ip->sigkills_unlogged++;
		qb_log(LOG_DEBUG, "killing client %" PRIu64 " pid %d (revoked lease %.*s) and %d "
		       "processes it started%s: %s", c->id, (int)c->pid, (int)namelen,
		       (const char *)name, tree, cut ? " (not all)" : "",
		       err ? strerror(err) : "sent");
		return;
	}
	if (!err)
		qb_log(LOG_WARNING, "killing client %" PRIu64 " pid %d: still using revoked lease %.*s "
		       "(%s; %d processes it started killed too; %" PRIu64 " more kills since the "
		       "last such line)", c->id, (int)c->pid, (int)namelen, (const char *)name,
		       asked ? "it asked for it" : "kill_on_revoke", tree, ip->sigkills_unlogged);
	else
		qb_log(LOG_ERR, "cannot kill client %" PRIu64 " pid %d, still using revoked lease %.*s: %s "
		       "(%" PRIu64 " more kills since the last such line)", c->id, (int)c->pid,
		       (int)namelen, (const char *)name,
		       err == ENOSYS ? "no pidfd (pidfd_open failed at connect)" : strerror(err),
		       ip->sigkills_unlogged);
	ip->sigkills_unlogged = 0;
}

static void tree_retry_run(void *data);

static const char TREE_GONE[] = "gone before its tree was all walked; the rest of what it "
				"started may live on";

static void tree_retry_arm(struct cld_ipc *ip)
{
	if (!ip->tree_armed && !cl_list_empty(&ip->tree_retries))
		ip->tree_armed = qb_loop_timer_add(ip->loop, QB_LOOP_HIGH, CLD_KILL_RETRY_NS, ip,
						   tree_retry_run, &ip->tree_th) == 0;
}

/* A WARNING (a line a second for uid) about t, a kill whose walk was cut. */
static void tree_retry_log(struct cld_ipc *ip, const struct tree_retry *t, uint64_t now,
			   const char *what)
{
	uint64_t left_out;
	if (!cld_killbudget_log(&ip->kill_budget, t->uid, now, CLD_REFUSAL_LOG_US, &left_out)) {
		qb_log(LOG_DEBUG, "client %" PRIu64 " pid %d (uid %u), revoked lease %.*s: %s",
		       t->conn_id, (int)t->pid, (unsigned)t->uid, (int)t->namelen,
		       (const char *)t->name, what);
		return;
	}
	qb_log(LOG_WARNING, "client %" PRIu64 " pid %d (uid %u), still using revoked lease %.*s "
	       "(%s): %s; %d processes it started killed so far (%" PRIu64 " more such lines of "
	       "uid %u left out)", t->conn_id, (int)t->pid, (unsigned)t->uid, (int)t->namelen,
	       (const char *)t->name, t->asked ? "it asked for it" : "kill_on_revoke", what,
	       t->killed, left_out, t->uid);
}

static void tree_retry_free(struct tree_retry *t)
{
	cl_list_del(&t->link);
	free(t);
}

/* Each kill waiting whose uid has a walk's worth of reads: walked again. */
static void tree_retry_run(void *data)
{
	struct cld_ipc *ip = data;
	ip->tree_armed = false;
	uint64_t now = cld_now_us();
	struct cl_list later, *l, *nx;
	cl_list_init(&later);
	cl_list_foreach_safe(l, nx, &ip->tree_retries) {
		struct tree_retry *t = cl_list_entry(l, struct tree_retry, link);
		struct conn *c = ipc_conn_find(ip, t->conn_id);
		if (!c) {
			tree_retry_log(ip, t, now, TREE_GONE);
			tree_retry_free(t);
			continue;
		}
		if (cld_killbudget_avail(&ip->kill_budget, t->uid, now, CLD_KILL_TREE_READS) <
		    CLD_KILL_TREE_READS)
			continue;   /* its uid's second is spent: a walk would be cut short */
		bool cut;
		int n = kill_tree(ip, c, now, &cut);
		if (n == -ESRCH) {
			c->tree_pending = false;
			tree_retry_log(ip, t, now, TREE_GONE);
			tree_retry_free(t);
			continue;
		}
		t->killed += n;
		t->idle = n > 0 ? 0 : t->idle + 1;
		if (cut && t->idle < CLD_KILL_TREE_TRIES) {
			cl_list_del(&t->link);   /* behind the others: each has its turn */
			cl_list_add_tail(&later, &t->link);
			continue;
		}
		c->tree_pending = false;
		c->tree_killed = true;
		sigkill_conn(ip, c, t->name, t->namelen, t->asked, t->killed,
			     cut ? "its tree was not all walked in " CLD_KILL_TREE_TRIES_S " tries "
			     "(more threads than a walk reads)" : NULL);
		if (!cut)
			tree_retry_log(ip, t, now, "its tree walked at last: killed, then the client");
		tree_retry_free(t);
	}
	cl_list_splice_tail(&ip->tree_retries, &later);
	tree_retry_arm(ip);
}

/* Queues c's kill for retries (tree_retry_run()).  0, or -ENOMEM. */
static int tree_retry_add(struct cld_ipc *ip, struct conn *c, const struct cl_node_event *ev,
			  int killed)
{
	struct tree_retry *t = calloc(1, sizeof(*t) + ev->namelen);
	if (!t)
		return -ENOMEM;
	t->conn_id = c->id;
	t->uid = (uint32_t)c->uid;
	t->pid = c->pid;
	t->asked = ev->flags & CL_NODE_KILL;
	t->killed = killed;
	t->namelen = ev->namelen;
	memcpy(t->name, ev->name, ev->namelen);
	cl_list_add_tail(&ip->tree_retries, &t->link);
	c->tree_pending = true;
	tree_retry_arm(ip);
	return 0;
}

void ipc_kill_init(struct cld_ipc *ip)
{
	cld_killbudget_init(&ip->kill_budget, CLD_KILL_TREE_BUDGET, 1000000);
	cl_list_init(&ip->tree_retries);
}

/* Kills c (t's client, or NULL: gone) now, the rest of its tree left (why), and frees t. */
static void tree_retry_abandon(struct cld_ipc *ip, struct tree_retry *t, struct conn *c,
			       const char *why)
{
	if (c) {
		c->tree_pending = false;
		c->tree_killed = true;
		sigkill_conn(ip, c, t->name, t->namelen, t->asked, t->killed, why);
	}
	tree_retry_free(t);
}

void ipc_kill_forget(struct conn *c)
{
	if (!c->tree_pending)
		return;
	struct cl_list *l;
	cl_list_foreach(l, &c->ip->tree_retries) {
		struct tree_retry *t = cl_list_entry(l, struct tree_retry, link);
		if (t->conn_id == c->id) {
			/* no SIGKILL line of its own: it may be exiting, or gone */
			bool sent = c->pidfd >= 0 &&
				    syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) == 0;
			tree_retry_log(c->ip, t, cld_now_us(), sent ?
				       "its connection closed before its tree was all walked: "
				       "SIGKILL sent to it, the rest of what it started may live on" :
				       TREE_GONE);
			c->tree_pending = false;
			tree_retry_free(t);
			return;
		}
	}
	c->tree_pending = false;
}

void ipc_kill_stop(struct cld_ipc *ip)
{
	if (ip->tree_armed)
		qb_loop_timer_del(ip->loop, ip->tree_th);
	ip->tree_armed = false;
	struct cl_list *l;
	while ((l = cl_list_first(&ip->tree_retries))) {
		struct tree_retry *t = cl_list_entry(l, struct tree_retry, link);
		tree_retry_abandon(ip, t, ipc_conn_find(ip, t->conn_id),
				   "the daemon stops before its tree was all walked");
	}
}

/*
 * kill_on_revoke, or a hold acquired with COROLEASE_KILL: SIGKILL to the
 * process that connected (its pidfd: never a reused pid), once per hold
 * past its revoke deadline; with COROLEASE_KILL also to what it started
 * (kill_tree()), once per connection, the client then killed once its tree
 * is.  Logged at most a line a second, with the number of kills since the
 * last line: a user with thousands of revoked holds, or whose connecting
 * process handed the connection to a child and exited (the kill then finds
 * nobody, and the child is not killed: corolease.conf(5)), must not flood
 * the log (t86).  A walk cut short is a WARNING for its uid (a line a
 * second for each uid), whatever other users' kills are logged.
 */
static void kill_client(struct cld_ipc *ip, struct conn *c, const struct cl_node_event *ev)
{
	uint64_t now = cld_now_us();
	if (c->tree_pending)
		return;   /* stopped; killed once its tree is (tree_retry_run()) */
	/*
	 * Asked for by the client alone (not kill_on_revoke): only if its user
	 * could kill the process itself.  It may have exec'd a set-user-ID
	 * program since, keeping the connection: never a kill on its behalf.
	 */
	if (!ip->cfg.conf->kill_on_revoke && c->pidfd >= 0 &&
	    !cld_proc_may_signal(c->pid, c->pidfd, (uint32_t)c->uid)) {
		if (cld_log_due(&ip->sigkill_log_at, now))
			qb_log(LOG_WARNING, "not killing client %" PRIu64 " pid %d, still using revoked "
			       "lease %.*s (COROLEASE_KILL): its uid %u may not signal it (a set-user-ID "
			       "program, or gone)", c->id, (int)c->pid, (int)ev->namelen,
			       (const char *)ev->name, (unsigned)c->uid);
		return;
	}
	bool asked = ev->flags & CL_NODE_KILL, cut = false;
	int tree = 0;
	if (asked && !c->tree_killed) {
		tree = kill_tree(ip, c, now, &cut);
		if (tree < 0)
			tree = 0;   /* gone: the SIGKILL below says so */
		else if (cut && tree_retry_add(ip, c, ev, tree) == 0) {
			const struct tree_retry *t = cl_container_of(cl_list_last(&ip->tree_retries),
								     struct tree_retry, link);
			tree_retry_log(ip, t, now, tree ? "its tree not all walked (its uid's /proc "
				       "budget spent, or more than a walk's worth): kept stopped, walked "
				       "again as its uid's budget allows, killed once its tree is" :
				       "its tree not walked yet (its uid's /proc budget spent): kept "
				       "stopped, walked as its uid's budget allows, killed once its tree is");
			return;
		}
		c->tree_killed = true;
	}
	sigkill_conn(ip, c, ev->name, ev->namelen, asked, tree,
		     cut ? "its tree was not all walked (no memory to walk it again later)" : NULL);
}

/*
 * A revoked hold whose client kill_client() would kill at the deadline: the
 * kill guard makes it should the loop be stuck then (killguard.h).
 */
static void guard_kill(struct cld_ipc *ip, struct conn *c, const struct cl_node_event *ev)
{
	bool kill = ip->cfg.conf->kill_on_revoke || (ev->flags & CL_NODE_KILL);
	if (!kill || c->pid == ip->cfg.pid || c->pidfd < 0 || !ev->deadline ||
	    ev->deadline == CL_TIME_NEVER)
		return;
	if (!ip->cfg.conf->kill_on_revoke && !cld_proc_may_signal(c->pid, c->pidfd, (uint32_t)c->uid))
		return;   /* kill_client() refuses it too */
	int rc = cld_killguard_arm(ip->guard, c->id, ev->name, ev->namelen, c->pidfd, c->pid,
				   (uint32_t)c->uid, ev->flags & CL_NODE_KILL,
				   !ip->cfg.conf->kill_on_revoke, ev->deadline);
	if (rc == 0) {
		ip->guard_full_told = false;   /* the next time it is full is logged again */
	} else if (!ip->guard_full_told) {
		ip->guard_full_told = true;
		qb_log(LOG_WARNING, "the kill guard is full (%u connections with revoked holds await "
		       "their deadline, the last %u for root's): client %" PRIu64 " (pid %d, uid %u) is "
		       "killed by the loop alone", CLD_KILLGUARD_MAX, CLD_KILLGUARD_ROOT, c->id,
		       (int)c->pid, (unsigned)c->uid);
	}
}

static void do_status(struct cld_ipc *ip, struct conn *c, const struct req *r)
{
	const struct cld_ipc_config *d = &ip->cfg;
	struct cld_status_in in = {
		.node = d->node, .nodeid = d->nodeid, .vq_quorate = ip->ops->vq_quorate(ip->ctx),
		.realtime_priority = realtime_priority(), .memory_locked = d->memory_locked,
		.clients = ip->nhello, .index_mem_max = d->ncfg.sm.index_mem_max,
		.now = cld_now_us(), .connections = ip->nconns, .watches = ip->watches.nwatches,
		.watches_all = ip->watches.nall, .refused_conns = ip->refused_conns,
		.refused_conns_uid = ip->refused_conns_uid, .refused_watches = ip->refused_watches,
		.refused_leases = ip->refused_leases, .refused_lists = ip->refused_lists,
		.refused_client_leases = ip->refused_client_leases, .refused_pending = ip->refused_pending,
		.low_holdbacks = ip->low_holdbacks,
		.fds_limit = ip->fd_limit, .fds_held = ip->fds_held, .fds_holds = ip->fds_holds,
		.passed_fds = ip->passed_fds,
		.grant_latency = &ip->grant_latency,
		.refused_index_quota = ip->refused_index_quota,
		.refused_index_full = ip->refused_index_full,
		.index_bytes_per_uid = d->ncfg.sm.index_bytes_per_uid, .caller_uid = (uint32_t)c->uid,
		.caller_holds = cld_holdquota_of(d->holds, (uint32_t)c->uid),
		.caller_watches = ipc_uid_watches(ip, c->uid),
		.watches_per_uid = ip->cfg.conf->max_watches_per_uid,
		.refused_watches_uid = ip->refused_watches_uid,
		.handshakes = ip->nhandshakes, .handshakes_dropped = ip->handshakes_dropped,
		.refused_group = ip->refused_not_member, .refused_queued = ip->refused_queued,
		.refused_backlog = ip->refused_backlog,
		.oversized = ip->oversized, .fresh = holds_privileged(c),
	};
	if (d->node)
		in.backlog_bytes = cl_node_backlog(d->node, &in.backlog_msgs);
	ipc_fds(ip, &in.fds_used, &in.fds_closing, &in.closes_interrupted, &in.fds_close_ms);
	struct cld_holdquota_stats hq;
	cld_holdquota_stats(d->holds, &hq);
	in.refused_holds = hq.refused_full;
	in.refused_holds_uid = hq.refused_uid;
	in.holds_max = hq.shared;
	in.holds_per_uid = hq.per_uid;
	in.holds_reserve = hq.reserve;
	ip->ops->ring(ip->ctx, &in.ring_rep, &in.ring_seq);
	if (ip->ops->cpg_counts)
		ip->ops->cpg_counts(ip->ctx, &in.cpg_sent, &in.cpg_held);
	unsigned char p[CLD_STATUS_MAX];
	long len = cld_status_encode(&in, p, sizeof(p));
	if (len < 0)
		ipc_result(c, r->cookie, r->type, (int)len, NULL, 0);
	else
		ipc_result(c, r->cookie, r->type, 0, p, (size_t)len);
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
	const struct clp_req_node *f = msg;
	return f->node && !f->pad[0] && !f->pad[1] && !f->pad[2] ? 0 : COROLEASE_EPROTO;
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
			      .flags = COROLEASE_WAIT | COROLEASE_NODE_SHARED | COROLEASE_KILL,
			      .check = check_acquire,
			      .handle = do_acquire },
	[CLP_REQ_RELEASE] = { NAMED(clp_req_name, NAME_REQUIRED),
			      .flags_at = offsetof(struct clp_req_name, flags),
			      .flags = CLP_RELEASE_QUIET, .handle = do_release },
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
	[CLP_REQ_FENCE_ACK] = { FIXED(clp_req_node), .flags_at = offsetof(struct clp_req_node, flags),
				.flags = COROLEASE_FENCE_FORCE, .check = check_fence_ack, .admin = true,
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
 * type exists, the header's size is the size received (the ring chunk's,
 * qbpeek.c, not the header's own claim), the fixed part is
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

void ipc_request(struct cld_ipc *ip, struct conn *c, const uint8_t *data, size_t size)
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

/* A lease event to c; slot and word (GRANTED) are the hold's revocation slot. */
static void send_lease_ev(struct conn *c, uint32_t type, const struct cl_node_event *ev, uint32_t node,
			  uint32_t slot, uint64_t word)
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
	e->slot = slot;
	e->slot_word = word;
	e->mode = ev->mode;
	e->namelen = ev->namelen;
	memcpy(buf + sizeof(*e), ev->name, ev->namelen);
	ipc_send(c, buf, sizeof(*e) + ev->namelen);
}

struct index_changed {
	void *buf;
	size_t len;
};

static void send_index_changed(void *ctx, struct cld_watcher *w)
{
	struct index_changed *x = ctx;
	struct conn *c = cl_container_of(w, struct conn, watch);
	if (c->hello)
		ipc_send(c, x->buf, x->len);   /* never changes a watch (a kill is deferred) */
}

/* INDEX_CHANGED to the clients that watch the name, or every name (watch.h). */
static void broadcast_index_changed(struct cld_ipc *ip, const struct cl_node_event *ev)
{
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
	struct index_changed x = { ip->buf, sizeof(*e) + ev->namelen + ev->keylen };
	cld_watch_foreach(&ip->watches, ev->name, ev->namelen, send_index_changed, &x);
}

/*
 * A revoked hold the client never released was dropped at its deadline
 * (HOLD_END, COROLEASE_EREVOKED): the name stays taken for the client until
 * it releases it (struct cname), as the hold did, and so does the hold's
 * share of its uid's holdquota, so that a user's dropped holds are bounded
 * by max_client_holds_per_uid as its holds are (helper-66: without it, one
 * user kept 17,650 records past a quota of 1,000).  True when such a record
 * now keeps the share.
 */
static bool hold_dropped(struct cld_ipc *ip, const struct cl_node_event *ev)
{
	struct conn *c = ev->err == COROLEASE_EREVOKED ? ipc_conn_find(ip, ev->client) : NULL;
	struct cname *n;
	if (!c || !ev->namelen)
		return false;
	if (cname_add(c, ev->name, ev->namelen, true, &n) < 0) {
		qb_log(LOG_WARNING, "client %" PRIu64 " (pid %d): out of memory keeping its dropped "
		       "hold of '%.*s': it may acquire the name again before it releases the old "
		       "hold", c->id, (int)c->pid, (int)ev->namelen, (const char *)ev->name);
		return false;
	}
	return true;
}

void cld_ipc_event(struct cld_ipc *ip, const struct cl_node_event *ev)
{
	if (!ip)
		return;
	if (ev->type == CL_NODE_EV_VALIDITY)
		return;   /* the owner publishes it in the page; clients read it there */
	if (ev->type == CL_NODE_EV_INDEX_CHANGED && !ev->client) {
		broadcast_index_changed(ip, ev);
		return;
	}
	if (ev->type == CL_NODE_EV_INDEX_DONE || ev->type == CL_NODE_EV_SYNC_DONE ||
	    ev->type == CL_NODE_EV_ADMIN_DONE) {
		op_done(ip, ev);
		return;
	}
	if (ev->type == CL_NODE_EV_HOLD_END) {
		/* its client may be gone: the slot goes back all the same, and the quota share */
		if (ev->tag == CL_NODE_NO_TAG)
			return;
		cld_page_slot_free(ip->cfg.page, ev->tag);   /* invalid from here on */
		if (!hold_dropped(ip, ev))   /* unless its client keeps the name */
			cld_holdquota_put(ip->cfg.holds, ev->uid);
		return;
	}
	struct conn *c = ipc_conn_find(ip, ev->client);
	if (!c)
		return;
	struct cname *n;
	switch (ev->type) {
	case CL_NODE_EV_GRANTED: {
		bool tagged = ev->tag != CL_NODE_NO_TAG;
		n = cname_pending(c, ev->name, ev->namelen);
		if (n) {
			uint64_t now = cld_now_us();
			cl_hist_add(&ip->grant_latency, now > n->asked_at ? now - n->asked_at : 0);
			cname_del(c, n);
			/* valid in the page before the client can hear of it */
			if (tagged)
				cld_page_slot_arm(ip->cfg.page, ev->tag);
		}
		/*
		 * The word the arm gave (a revoke since clears the bit, which the
		 * client's check then sees; a grant again of a hold already
		 * granted is not armed again).  No slot (never: every hold of a
		 * client is tagged): a grant that is never valid.
		 */
		send_lease_ev(c, CLP_EV_GRANTED, ev, ip->cfg.nodeid, tagged ? ev->tag : CLP_SLOT_NONE,
			      tagged ? cld_page_slot_word(ip->cfg.page, ev->tag) | CLP_SLOT_VALID : 0);
		break;
	}
	case CL_NODE_EV_DENIED: {
		uint32_t owner = ev->owner;
		n = cname_pending(c, ev->name, ev->namelen);
		if (n)
			cname_del(c, n);
		ipc_result(c, ev->cookie, CLP_REQ_ACQUIRE, ev->err, &owner, sizeof(owner));
		break;
	}
	case CL_NODE_EV_QUEUED:
		send_lease_ev(c, CLP_EV_QUEUED, ev, ev->owner, CLP_SLOT_NONE, 0);
		break;
	case CL_NODE_EV_WANTED:
		send_lease_ev(c, CLP_EV_WANTED, ev, ev->owner, CLP_SLOT_NONE, 0);
		break;
	case CL_NODE_EV_REVOKED:
		/*
		 * The event first, then the slot: a client that finds the slot
		 * cleared has the event to read, and can tell a revoke from a
		 * lapse (corolease acquire said "no longer valid" for a revoke
		 * when it read the page between the two: t28 in a loaded CI).
		 */
		send_lease_ev(c, CLP_EV_REVOKED, ev, ip->cfg.nodeid, CLP_SLOT_NONE, 0);
		if (ev->tag != CL_NODE_NO_TAG) {
			/* corolease_lease_valid() reads 0 from here on, dispatched or not */
			cld_page_slot_clear(ip->cfg.page, ev->tag);
			qb_log(LOG_DEBUG, "client %" PRIu64 ": hold of '%.*s' revoked, slot %" PRIu32
			       " cleared at %" PRIu64 " us", c->id, (int)ev->namelen,
			       (const char *)ev->name, ev->tag, cld_now_us());
		}
		guard_kill(ip, c, ev);
		break;
	case CL_NODE_EV_KILL:
		if ((ip->cfg.conf->kill_on_revoke || (ev->flags & CL_NODE_KILL)) && c->pid != ip->cfg.pid)
			kill_client(ip, c, ev);
		cld_killguard_disarm(ip->guard, c->id, ev->name, ev->namelen);
		break;
	default:
		break;
	}
}
