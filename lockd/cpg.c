/*
 * cpg.c - CPG transport: join the group, hand deliveries and merged
 * configuration changes (confchg.c) to the owner, multicast the node's
 * messages in batches.  Contract: cpg.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <corosync/cpg.h>
#include <qb/qblog.h>

#include "cpg.h"
#include "cs.h"
#include "sendhold.h"
#include "tfd.h"
#include "wire.h"

struct cld_cpg {
	qb_loop_t *loop;
	const struct cld_cpg_ops *ops;
	void *ctx;
	struct cpg_name name;
	cpg_handle_t h;
	struct cld_confchg cc;
	/* messages of this loop iteration, sent as one CPG message (wire.h batch) */
	uint8_t batch[CL_BATCH_MAX];
	size_t blen;
	unsigned bcount;
	bool flush_pending;           /* a flush is due: flush_th (at once) or flush_tfd (later) */
	bool flush_held;              /* ... later: a held batch's fallback, or a retry */
	qb_loop_timer_handle flush_th;
	struct cld_tfd flush_tfd;     /* tfd.h: a libqb timer would spin until due */
	/*
	 * Own CPG messages sent and not yet delivered back.  While
	 * batch_inflight are (cld_cpg_set_inflight()), a new batch waits for
	 * the next own delivery (or a full batch, or CLD_CPG_HOLD_MS): under load the node then sends
	 * few large messages instead of one per loop iteration, and corosync's
	 * cost is per message.  Idle, nothing is in flight and a message goes
	 * in the iteration it was made.
	 */
	struct cld_sendhold hold;
	uint64_t batches, batched_msgs;
	uint64_t sent, held;          /* CPG messages sent; flushes that waited for one back */
	uint64_t stalled;             /* sends not tried: corosync not reading (cld_cs_writable()) */
	bool stalling;                /* ... the last one was not tried */
	unsigned retry_ms;            /* the next retry of a refused flush; 0: the last one went */
};

static int batch_flush(struct cld_cpg *c);
static void flush_arm(struct cld_cpg *c, unsigned ms);
static void flush_cancel(struct cld_cpg *c);
static void flush_job(void *data);

static struct cld_cpg *cpg_of(cpg_handle_t h)
{
	void *ctx = NULL;
	if (cpg_context_get(h, &ctx) != CS_OK)
		return NULL;
	return ctx;
}

static void cc_change(void *ctx, const struct cld_change *ch)
{
	struct cld_cpg *c = ctx;
	c->ops->confchg(c->ctx, ch);
}

static void cc_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	qb_log(level, "%s", msg);
}

static const struct cld_confchg_ops cc_ops = { .change = cc_change, .log = cc_log };

static void deliver_fn(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
		       uint32_t pid, void *msg, size_t len)
{
	(void)group;
	struct cld_cpg *c = cpg_of(h);
	if (!c)
		return;
	if (nodeid == c->cc.self_nodeid && pid == c->cc.self_pid) {
		/* one of ours is back: a batch held for it goes after this dispatch */
		if (cld_sendhold_back(&c->hold) && c->bcount && c->flush_held)
			flush_arm(c, 0);
	}
	if (!cld_confchg_deliverable(&c->cc))
		return;
	if (!cld_confchg_from_owner(&c->cc, nodeid, pid))
		return;   /* a second daemon of a node (confchg.h): not the node's */
	/* a batch too: the node agent splits it (cl_node_deliver) */
	c->ops->deliver(c->ctx, nodeid, msg, len);
}

_Static_assert((int)CPG_REASON_JOIN == (int)CLD_CC_JOIN &&
	       (int)CPG_REASON_LEAVE == (int)CLD_CC_LEAVE &&
	       (int)CPG_REASON_NODEDOWN == (int)CLD_CC_NODEDOWN &&
	       (int)CPG_REASON_NODEUP == (int)CLD_CC_NODEUP &&
	       (int)CPG_REASON_PROCDOWN == (int)CLD_CC_PROCDOWN, "confchg.h's reasons are corosync's");

/* Copies corosync's addresses (at most CPG_MEMBERS_MAX, corosync's own bound) to out. */
static size_t addrs(struct cld_cc_addr *out, const struct cpg_address *a, size_t n)
{
	if (n > CPG_MEMBERS_MAX)
		n = CPG_MEMBERS_MAX;
	for (size_t i = 0; i < n; i++) {
		out[i].nodeid = a[i].nodeid;
		out[i].pid = a[i].pid;
		out[i].reason = a[i].reason;
	}
	return n;
}

static void confchg_fn(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t nmembers,
		       const struct cpg_address *left, size_t nleft,
		       const struct cpg_address *joined, size_t njoined)
{
	(void)group;
	struct cld_cpg *c = cpg_of(h);
	if (!c)
		return;
	struct cld_cc_addr m[CPG_MEMBERS_MAX], l[CPG_MEMBERS_MAX], j[CPG_MEMBERS_MAX];
	nmembers = addrs(m, members, nmembers);
	nleft = addrs(l, left, nleft);
	njoined = addrs(j, joined, njoined);
	if (cld_confchg_group(&c->cc, m, nmembers, l, nleft, j, njoined))
		qb_log(LOG_INFO, "joined CPG group %.*s", (int)c->name.length, c->name.value);
}

static void totem_confchg_fn(cpg_handle_t h, struct cpg_ring_id ring, uint32_t nmembers,
			     const uint32_t *members)
{
	struct cld_cpg *c = cpg_of(h);
	if (!c)
		return;
	qb_log(LOG_DEBUG, "totem confchg: ring %u/%llu, %u nodes", ring.nodeid,
	       (unsigned long long)ring.seq, nmembers);
	struct cl_ring r = { .rep = ring.nodeid, .seq = ring.seq };
	/*
	 * A new ring: what we sent may come back in it, or never (we were cut
	 * off).  Count nothing in flight rather than hold a batch for it.
	 */
	cld_sendhold_reset(&c->hold);
	if (c->bcount && c->flush_held)
		flush_arm(c, 0);
	if (c->ops->totem)
		c->ops->totem(c->ctx, &r, members, nmembers);
	cld_confchg_totem(&c->cc, &r);
}

int cld_cpg_dispatch(struct cld_cpg *c, int revents)
{
	if (!c->h)
		return -ENOTCONN;
	cs_error_t rc = (revents & POLLIN) ? cpg_dispatch(c->h, CS_DISPATCH_ALL) : CS_OK;
	if (cld_confchg_refused(&c->cc))
		return -EEXIST;
	return cld_cs_dispatched(rc, revents);
}

struct cld_cpg *cld_cpg_new(qb_loop_t *loop, const char *group_name,
			    const struct cld_cpg_ops *ops, void *ctx)
{
	struct cld_cpg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t len = strlen(group_name);
	if (len > sizeof(c->name.value))
		len = sizeof(c->name.value);   /* config.c allows far less */
	c->loop = loop;
	c->ops = ops;
	c->ctx = ctx;
	c->name.length = (uint32_t)len;
	memcpy(c->name.value, group_name, len);
	cld_confchg_init(&c->cc, 0, 0, &cc_ops, c);
	cld_sendhold_init(&c->hold, 0);   /* until cld_cpg_set_inflight() */
	int rc = cld_tfd_open(&c->flush_tfd, loop, flush_job, c);
	if (rc < 0) {
		qb_log(LOG_CRIT, "cannot create the CPG flush timer (timerfd): %s", strerror(-rc));
		free(c);
		return NULL;
	}
	return c;
}

void cld_cpg_set_inflight(struct cld_cpg *c, unsigned n)
{
	cld_sendhold_init(&c->hold, n);
}

int cld_cpg_connect(struct cld_cpg *c, uint32_t *nodeid_r)
{
	cld_cpg_disconnect(c);
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = deliver_fn,
		.cpg_confchg_fn = confchg_fn,
		.cpg_totem_confchg_fn = totem_confchg_fn,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	cs_error_t rc = cpg_model_initialize(&c->h, CPG_MODEL_V1, (cpg_model_data_t *)&model, c);
	if (rc != CS_OK) {
		c->h = 0;
		return -ENOTCONN;
	}
	unsigned int nodeid = 0;
	if (cpg_local_get(c->h, &nodeid) != CS_OK) {
		cpg_finalize(c->h);
		c->h = 0;
		return -ENOTCONN;
	}
	c->batches = c->batched_msgs = 0;   /* counted per connection */
	cld_sendhold_reset(&c->hold);
	cld_confchg_init(&c->cc, nodeid, (uint32_t)getpid(), &cc_ops, c);
	*nodeid_r = nodeid;
	return 0;
}

int cld_cpg_fd(const struct cld_cpg *c)
{
	return cld_cs_fd(c->h, cpg_fd_get);
}

int cld_cpg_join(struct cld_cpg *c)
{
	for (int tries = 0; tries < 50; tries++) {
		cs_error_t rc = cpg_join(c->h, &c->name);
		if (rc == CS_OK)
			return 0;
		if (rc != CS_ERR_TRY_AGAIN) {
			qb_log(LOG_ERR, "cpg_join(%.*s) failed: %d", (int)c->name.length, c->name.value,
			       rc);
			return -EIO;
		}
		poll(NULL, 0, 20);
	}
	return -EAGAIN;
}

void cld_cpg_disconnect(struct cld_cpg *c)
{
	if (!c->h)
		return;
	cpg_finalize(c->h);
	c->h = 0;
	c->blen = 0;
	c->bcount = 0;
	cld_sendhold_reset(&c->hold);
	cld_confchg_init(&c->cc, 0, 0, &cc_ops, c);
}

void cld_cpg_leave(struct cld_cpg *c)
{
	if (!c->h)
		return;
	if (c->cc.joined && !c->stalling && cld_cs_writable(cld_cpg_fd(c))) {
		for (int tries = 0; tries < 25 && batch_flush(c) == -EAGAIN; tries++)
			poll(NULL, 0, 20);
		qb_log(LOG_NOTICE, "leaving group %.*s: %llu batched CPG messages carried %llu messages",
		       (int)c->name.length, c->name.value, (unsigned long long)c->batches,
		       (unsigned long long)c->batched_msgs);
		/* each try checks first: cpg_leave() would spin on a full socket (cs.h) */
		for (int tries = 0; tries < 25 && cld_cs_writable(cld_cpg_fd(c)) &&
				    cpg_leave(c->h, &c->name) == CS_ERR_TRY_AGAIN; tries++)
			poll(NULL, 0, 20);
	}
	if (c->stalling || !cld_cs_writable(cld_cpg_fd(c))) {
		/*
		 * corosync does not read our requests: leaving, even
		 * finalizing, would spin, then wait for its answer for as long
		 * as it is stopped.  The process exits; corosync sees the
		 * connection go.
		 */
		qb_log(LOG_WARNING, "corosync does not read its IPC socket: not leaving group %.*s "
		       "cleanly", (int)c->name.length, c->name.value);
		c->h = 0;
		return;
	}
	cld_cpg_disconnect(c);
}

struct cld_cpg *cld_cpg_free(struct cld_cpg *c)
{
	if (!c)
		return NULL;
	cld_cpg_disconnect(c);
	flush_cancel(c);
	cld_tfd_close(&c->flush_tfd);
	free(c);
	return NULL;
}

static int send_raw(struct cld_cpg *c, const void *buf, size_t len)
{
	if (!cld_cs_writable(cld_cpg_fd(c))) {
		/* corosync does not read its socket: libqb would spin (cs.h) */
		c->stalled++;
		if (!c->stalling)
			qb_log(LOG_WARNING, "corosync does not read its IPC socket (stopped or hung?): "
			       "CPG messages wait");
		c->stalling = true;
		return -EAGAIN;
	}
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	cs_error_t rc = cpg_mcast_joined(c->h, CPG_TYPE_AGREED, &iov, 1);
	if (rc == CS_OK) {
		if (c->stalling)
			qb_log(LOG_NOTICE, "corosync takes CPG messages again (%llu sends deferred in all)",
			       (unsigned long long)c->stalled);
		c->stalling = false;
		cld_sendhold_sent(&c->hold);
		c->sent++;
		return 0;
	}
	if (rc == CS_ERR_TRY_AGAIN)
		return -EAGAIN;
	/* a dropped batch says so (batch_flush()); the core retries a lone message */
	qb_log(LOG_DEBUG, "cpg_mcast_joined: error %d", rc);
	return -ENOTCONN;
}

/* Sends the pending batch (a lone message bare).  0, -EAGAIN (kept) or -ENOTCONN. */
static int batch_flush(struct cld_cpg *c)
{
	if (!c->bcount)
		return 0;
	int rc;
	if (c->bcount == 1) {
		rc = send_raw(c, c->batch + CL_BATCH_HDR_LEN + 4, c->blen - CL_BATCH_HDR_LEN - 4);
	} else {
		c->batch[0] = CL_BATCH_MAGIC;
		c->batch[1] = 0;
		cl_put_u16(c->batch + 2, (uint16_t)c->bcount);
		rc = send_raw(c, c->batch, c->blen);
		if (rc == 0) {
			c->batches++;
			c->batched_msgs += c->bcount;
		}
	}
	if (rc != -EAGAIN) {
		if (rc < 0)   /* no such error is known while connected; say what it costs */
			qb_log(LOG_ERR, "%u own CPG message(s) dropped: they will not come back, and the "
			       "node's validity renews again only once corosync's connection is renewed",
			       (unsigned)c->bcount);
		c->blen = 0;
		c->bcount = 0;
	}
	return rc;
}

static void flush_cancel(struct cld_cpg *c)
{
	if (c->flush_pending && !c->flush_held)
		qb_loop_timer_del(c->loop, c->flush_th);
	cld_tfd_stop(&c->flush_tfd);
	c->flush_pending = false;
	c->flush_held = false;
}

/*
 * (Re)arms the flush due in ms: 0 at the end of this loop iteration (a
 * libqb timer due at once), else on the timerfd.
 */
static void flush_arm(struct cld_cpg *c, unsigned ms)
{
	flush_cancel(c);
	int rc = ms ? cld_tfd_in(&c->flush_tfd, ms)
		    : qb_loop_timer_add(c->loop, QB_LOOP_HIGH, 0, c, flush_job, &c->flush_th);
	if (rc == 0) {
		c->flush_pending = true;
		c->flush_held = ms > 0;
	} else {
		qb_log(LOG_ERR, "cannot arm the CPG flush: %s", strerror(-rc));
	}
}

/*
 * The flush at the end of a loop iteration (a timer due at once); held while
 * batch_inflight own messages are in flight, until one is back
 * (deliver_fn) or CLD_CPG_HOLD_MS have passed; retried while corosync's
 * queue is full.
 */
static void flush_job(void *data)
{
	struct cld_cpg *c = data;
	if (!c->flush_pending)
		return;
	bool waited = c->flush_held;
	c->flush_pending = false;
	c->flush_held = false;
	if (!c->h || !c->cc.joined || !c->bcount)
		return;
	if (!waited && cld_sendhold_wait(&c->hold)) {
		c->held++;
		flush_arm(c, CLD_CPG_HOLD_MS);
		return;
	}
	if (batch_flush(c) != -EAGAIN) {
		c->retry_ms = 0;
		return;
	}
	/*
	 * corosync's queue is full, or it does not read: again shortly,
	 * keeping the order; 1, 2, 4 .. CLD_CPG_RETRY_MAX_MS while it stays
	 * so (one of our own messages coming back retries at once: deliver_fn)
	 */
	c->retry_ms = c->retry_ms ? c->retry_ms * 2 : 1;
	if (c->retry_ms > CLD_CPG_RETRY_MAX_MS)
		c->retry_ms = CLD_CPG_RETRY_MAX_MS;
	flush_arm(c, c->retry_ms);
}

/*
 * Messages are appended to a batch sent once the current loop iteration is
 * done, so a burst of requests (many clients, a disconnect releasing
 * thousands of leases) costs few CPG messages.  The order of our messages is
 * kept.  A message too large for a batch goes alone after the batch.
 * -EAGAIN when the batch cannot take it and corosync refuses the flush: the
 * node retries on its next tick.
 */
int cld_cpg_mcast(struct cld_cpg *c, const void *buf, size_t len)
{
	if (!c->h || !c->cc.joined)
		return -ENOTCONN;
	size_t need = 4 + len;
	if (CL_BATCH_HDR_LEN + need > CL_BATCH_MAX) {
		int rc = batch_flush(c);
		return rc < 0 ? rc : send_raw(c, buf, len);
	}
	if (c->blen + need > CL_BATCH_MAX || c->bcount == UINT16_MAX) {
		int rc = batch_flush(c);
		if (rc < 0)
			return rc;
	}
	if (!c->blen)
		c->blen = CL_BATCH_HDR_LEN;
	cl_put_u32(c->batch + c->blen, (uint32_t)len);
	memcpy(c->batch + c->blen + 4, buf, len);
	c->blen += need;
	c->bcount++;
	/*
	 * A timer due at once, not a job: libqb's loop sleeps 50 ms before
	 * running jobs when nothing else is pending, but polls without
	 * waiting while a timer is due.  It still fires after the events of
	 * this iteration, so a burst still goes out as one batch.
	 */
	if (!c->flush_pending)
		flush_arm(c, 0);
	return 0;
}

void cld_cpg_counts(const struct cld_cpg *c, uint64_t *sent_r, uint64_t *held_r)
{
	*sent_r = c->sent;
	*held_r = c->held;
}

void cld_cpg_ring(const struct cld_cpg *c, uint32_t *rep_r, uint64_t *seq_r)
{
	struct cl_ring r = { 0, 0 };
	cld_confchg_ring(&c->cc, &r);
	*rep_r = r.rep;
	*seq_r = r.seq;
}
