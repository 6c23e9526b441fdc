/*
 * evsbus.c - test support: see evsbus.h for the model.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evsbus.h"
#include "index.h"
#include "wire.h"

#define MAX_COMPS   (4 * EVS_MAX_NODES)
#define TRACE_LINES 512
#define TRACE_WIDTH 200
#define STORM_MAX   10000     /* steps at one instant before the bus gives up */

struct evs_msg {
	uint64_t id;              /* bus-wide number, for traces */
	uint32_t sender;
	uint32_t inc;             /* the sender's incarnation */
	uint32_t have;            /* nodes holding a copy */
	uint32_t delivered;       /* nodes that delivered it */
	uint64_t at;              /* global time it was originated */
	size_t len;
	uint8_t data[];
};

struct comp {
	bool used;
	bool broken;              /* no regular delivery; members' sends are held */
	bool forming;             /* inside evs_form(): sends are held */
	bool hold;                /* no automatic delivery (evs_ring_hold) */
	struct cl_ring ring;
	uint32_t mask;            /* members when it formed */
	uint64_t formed_at, broken_at;
	struct evs_msg **msgs;
	size_t n, cap;
};

struct heldmsg {
	uint8_t *data;
	size_t len;
};

struct lease {
	bool used;
	char name[EVS_NAME_MAX + 1];
	uint8_t mode;
	uint64_t epoch;
	/* what the agent told (ground truth) */
	bool granted, revoked;
	uint64_t granted_at;      /* global */
	uint64_t revoked_at;      /* global */
	uint64_t deadline;        /* node clock */
	/* what the client knows (dispatched) */
	bool seen_granted, seen_revoked;
	bool released;
};

struct client {
	bool used;
	uint64_t id;
	bool manual;              /* does not dispatch as events come */
	struct lease leases[EVS_MAX_LEASES];
};

struct node {
	struct evs_bus *b;
	uint32_t id;
	bool up, paused, batching;
	uint32_t inc;
	uint64_t starts;          /* cl_node_new() calls, for its table key */
	struct cl_node *n;
	uint32_t vq_members;      /* the members of the ring of its latest verdict */
	int comp;                 /* attached ring, -1 none */
	size_t cursor;            /* first message of the ring not delivered in order */
	uint32_t view;            /* members of its last confchg */
	uint32_t view_inc[EVS_MAX_NODES + 1];  /* their incarnations then */
	struct cl_ring ring;      /* of its last confchg */
	struct heldmsg *held;     /* accepted by "corosync", not yet originated */
	size_t nheld, capheld;
	uint8_t box[CL_BATCH_MAX];
	size_t boxlen;
	unsigned boxcount;
	int64_t off;
	int32_t ppm;
	uint64_t page;
	struct evs_event *evs;
	size_t nev, capev;
	struct client clients[EVS_MAX_CLIENTS];
	struct evs_announce ann[EVS_MAX_NODES + 1];
	uint64_t last_msg;        /* id of the last CPG message it originated */
	bool seen_all;            /* two_node: was in a ring of all nodes (wait_for_all over) */
};

/* What the bus remembers of every CPG message, by id, after its ring is gone. */
struct msglog {
	uint32_t sender;
	uint32_t delivered;       /* nodes that delivered it */
	uint64_t at;              /* global time it was originated */
};

struct name_epochs {
	char name[EVS_NAME_MAX + 1];
	uint64_t max_epoch;
	uint32_t max_node;
	uint8_t max_mode;                   /* the mode max_epoch was granted in */
	uint64_t max_at;
	uint64_t last[EVS_MAX_NODES + 1];   /* each node's epoch of its current hold */
};

struct evs_bus {
	struct evs_config cfg;
	uint64_t now;
	uint64_t ring_seq;
	uint64_t msg_ids;
	uint64_t cookies;
	struct node nodes[EVS_MAX_NODES + 1];
	struct comp comps[MAX_COMPS];
	struct name_epochs *names;
	size_t nnames, capnames;
	struct msglog *mlog;      /* by message id */
	size_t capmlog;
	char *violation[2];
	bool tracing;
	char trace[TRACE_LINES][TRACE_WIDTH];
	size_t ntrace;
};

/* ---- small helpers ---- */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	ck_assert_msg(q != NULL, "evsbus: out of memory");
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xrealloc(NULL, n);
	memcpy(p, s, n);
	return p;
}

const char *evs_t(uint64_t us)
{
	static char buf[8][32];
	static unsigned i;
	char *p = buf[i++ % 8];
	if (us == CL_TIME_NEVER)
		snprintf(p, 32, "never");
	else
		snprintf(p, 32, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
	return p;
}

static void trace(struct evs_bus *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct evs_bus *b, const char *fmt, ...)
{
	char *line = b->trace[b->ntrace++ % TRACE_LINES];
	int off = snprintf(line, TRACE_WIDTH, "[%s] ", evs_t(b->now));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + off, TRACE_WIDTH - (size_t)off, fmt, ap);
	va_end(ap);
	if (b->tracing)
		fprintf(stderr, "evsbus %s\n", line);
}

void evs_note(struct evs_bus *b, const char *fmt, ...)
{
	char buf[TRACE_WIDTH];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	trace(b, "TEST: %s", buf);
}

void evs_dump_trace(const struct evs_bus *b, FILE *f, size_t lines)
{
	size_t n = b->ntrace < TRACE_LINES ? b->ntrace : TRACE_LINES;
	if (lines < n)
		n = lines;
	fprintf(f, "---- evsbus trace, last %zu of %zu lines ----\n", n, b->ntrace);
	for (size_t i = b->ntrace - n; i < b->ntrace; i++)
		fprintf(f, "%s\n", b->trace[i % TRACE_LINES]);
	fprintf(f, "---- end of trace ----\n");
}

static struct node *node_of(const struct evs_bus *b, uint32_t id)
{
	ck_assert_msg(id >= 1 && id <= b->cfg.nodes, "evsbus: no node %u", id);
	return (struct node *)&b->nodes[id];
}

static unsigned popcount(uint32_t x)
{
	return (unsigned)__builtin_popcount(x);
}

static size_t mask_ids(uint32_t mask, uint32_t *ids)
{
	size_t n = 0;
	for (uint32_t id = 1; id <= EVS_MAX_NODES; id++)
		if (mask & EVS_N(id))
			ids[n++] = id;
	return n;
}

static const char *mask_str(uint32_t mask)
{
	static char buf[4][40];
	static unsigned k;
	char *p = buf[k++ % 4];
	size_t off = 0;
	p[off++] = '{';
	for (uint32_t id = 1; id <= EVS_MAX_NODES; id++)
		if (mask & EVS_N(id))
			off += (size_t)snprintf(p + off, 40 - off, off > 1 ? ",%u" : "%u", id);
	snprintf(p + off, 40 - off, "}");
	return p;
}

/* ---- clocks ---- */

static uint64_t node_clock(const struct node *nd, uint64_t g)
{
	int64_t t = (int64_t)((g * (uint64_t)(1000000 + (int64_t)nd->ppm)) / 1000000) + nd->off;
	return t < 0 ? 0 : (uint64_t)t;
}

/* The earliest global time at which nd's clock reads t (or later). */
static uint64_t to_global(const struct node *nd, uint64_t t)
{
	if (t == CL_TIME_NEVER)
		return CL_TIME_NEVER;
	int64_t x = (int64_t)t - nd->off;
	if (x <= 0)
		return 0;
	uint64_t den = (uint64_t)(1000000 + (int64_t)nd->ppm);
	uint64_t g = ((uint64_t)x * 1000000 + den - 1) / den;
	while (g > 0 && node_clock(nd, g - 1) >= t)
		g--;
	while (node_clock(nd, g) < t)
		g++;
	return g;
}

uint64_t evs_now(const struct evs_bus *b)
{
	return b->now;
}

uint64_t evs_node_now(const struct evs_bus *b, uint32_t id)
{
	return node_clock(node_of(b, id), b->now);
}

void evs_clock(struct evs_bus *b, uint32_t id, int64_t offset_us, int32_t drift_ppm)
{
	struct node *nd = node_of(b, id);
	ck_assert(drift_ppm > -1000000);
	nd->off = offset_us;
	nd->ppm = drift_ppm;
}

/* ---- message descriptions for the trace ---- */

static void describe_part(const uint8_t *p, size_t len, char *out, size_t cap)
{
	struct cl_msg m;
	if (cl_wire_decode(p, len, &m) < 0) {
		snprintf(out, cap, "undecodable(%zu)", len);
		return;
	}
	char name[40] = "";
	if (m.name && m.namelen) {
		size_t n = m.namelen < sizeof(name) - 1 ? m.namelen : sizeof(name) - 1;
		memcpy(name, m.name, n);
		name[n] = 0;
	}
	const char *t = cl_msg_type_name(m.type);
	switch (m.type) {
	case CL_MSG_ACQUIRE:
		snprintf(out, cap, "%s %s %s%s", t, name, cl_mode_name(m.mode),
			 m.flags & CL_ACQ_WAIT ? " WAIT" : "");
		break;
	case CL_MSG_RELEASE:
	case CL_MSG_HANDOVER_DONE:
	case CL_MSG_INDEX_PUT:
	case CL_MSG_INDEX_DEL:
		snprintf(out, cap, "%s %s epoch %" PRIu64, t, name, m.epoch);
		break;
	case CL_MSG_EVICT:
		snprintf(out, cap, "%s %s", t, name);
		break;
	case CL_MSG_RECOVER_NODE:
		snprintf(out, cap, "%s node %u seq %" PRIu64, t, m.node, m.seq);
		break;
	case CL_MSG_FENCE_ACK:
		snprintf(out, cap, "%s node %u%s", t, m.node, m.flags & CL_FENCE_FORCE ? " (force)" : "");
		break;
	case CL_MSG_NOP:
		snprintf(out, cap, "%s%s", t, m.req_id ? "" : " (heartbeat)");
		break;
	case CL_MSG_QUORUM:
		snprintf(out, cap, "%s %s ring %u/%" PRIu64 "%s", t, m.flags & CL_QUORUM_YES ? "yes" : "no",
			 m.ring.rep, m.ring.seq, m.flags & CL_QUORUM_SPLIT ? " (split-capable)" : "");
		break;
	case CL_MSG_GRACE_END:
		snprintf(out, cap, "%s ring %u/%" PRIu64, t, m.ring.rep, m.ring.seq);
		break;
	case CL_MSG_SYNC_ANNOUNCE:
		snprintf(out, cap, "%s ring %u/%" PRIu64 " term %u/%" PRIu64 " lsn %" PRIu64 " q_lsn %"
			 PRIu64 "%s%s", t, m.ring.rep, m.ring.seq, m.term.rep, m.term.seq, m.lsn, m.q_lsn,
			 m.flags & CL_SYNC_HAS_STATE ? "" : " (no state)",
			 m.flags & CL_SYNC_CONFIRM ? " (confirm)" : "");
		break;
	case CL_MSG_SYNC_CHUNK:
		snprintf(out, cap, "%s #%" PRIu64 "%s", t, m.seq,
			 m.flags & CL_SYNC_LAST_CHUNK ? " (last)" : "");
		break;
	default:
		snprintf(out, cap, "%s", t);
		break;
	}
}

struct desc_ctx {
	char *out;
	size_t cap, off;
	unsigned n;
};

static void describe_one(void *ctx, const uint8_t *p, size_t len)
{
	struct desc_ctx *d = ctx;
	if (d->off + 4 >= d->cap)
		return;
	if (d->n++)
		d->off += (size_t)snprintf(d->out + d->off, d->cap - d->off, "; ");
	if (d->off < d->cap)
		describe_part(p, len, d->out + d->off, d->cap - d->off);
	d->off += strlen(d->out + d->off);
}

static void describe(const uint8_t *p, size_t len, char *out, size_t cap)
{
	out[0] = 0;
	if (len && p[0] == CL_BATCH_MAGIC) {
		int off = snprintf(out, cap, "batch of %u: ", len >= 4 ? (unsigned)cl_get_u16(p + 2) : 0u);
		struct desc_ctx d = { out, cap, (size_t)off, 0 };
		if (cl_batch_split(p, len, describe_one, &d) < 0)
			snprintf(out, cap, "malformed batch(%zu)", len);
		return;
	}
	describe_part(p, len, out, cap);
}

/* ---- checks ---- */

static void set_violation(struct evs_bus *b, enum evs_check which, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_violation(struct evs_bus *b, enum evs_check which, const char *fmt, ...)
{
	if (b->violation[which])
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	b->violation[which] = xstrdup(buf);
	trace(b, "VIOLATION (%s): %s", which == EVS_CHECK_OWNER ? "owner" : "epoch", buf);
}

const char *evs_violation(const struct evs_bus *b, enum evs_check which)
{
	return b->violation[which];
}

/*
 * corolease_lease_valid() at global time g.  The revocation it sees: with
 * per-hold slots the daemon's, at once; with the node-wide page only what
 * the client has dispatched.
 */
static bool lease_valid_at(const struct node *nd, const struct lease *l, uint64_t g)
{
	bool revoked = nd->b->cfg.page == EVS_PAGE_PER_HOLD ? l->revoked : l->seen_revoked;
	return l->used && l->seen_granted && !revoked && !l->released && node_clock(nd, g) < nd->page;
}

/* The client may be using the lease: it knows it has it, and is valid or revoked but not yet due. */
static bool in_use(const struct node *nd, const struct lease *l, uint64_t g)
{
	if (!l->used || !l->seen_granted || l->released)
		return false;
	if (lease_valid_at(nd, l, g))
		return true;
	return l->revoked && node_clock(nd, g) < l->deadline;
}

static void describe_use(const struct evs_bus *b, const struct node *nd, const struct client *c,
			 const struct lease *l, char *out, size_t cap)
{
	int off = snprintf(out, cap, "node %u client %" PRIu64 " %s epoch %" PRIu64 " granted t=%s",
			   nd->id, c->id, cl_mode_name(l->mode), l->epoch, evs_t(l->granted_at));
	if (l->revoked && (size_t)off < cap)
		off += snprintf(out + off, cap - (size_t)off, ", revoked t=%s%s (deadline %s)",
				evs_t(l->revoked_at), l->seen_revoked ? "" : " (not dispatched)",
				evs_t(to_global(nd, l->deadline)));
	if ((size_t)off < cap)
		snprintf(out + off, cap - (size_t)off, ", page valid until %s, lease_valid()=%d",
			 evs_t(to_global(nd, nd->page)), lease_valid_at(nd, l, b->now));
}

static void check_owners(struct evs_bus *b)
{
	if (b->violation[EVS_CHECK_OWNER])
		return;
	for (uint32_t i = 1; i <= b->cfg.nodes; i++) {
		const struct node *a = &b->nodes[i];
		for (unsigned ca = 0; ca < EVS_MAX_CLIENTS; ca++) {
			const struct client *cla = &a->clients[ca];
			if (!cla->used)
				continue;
			for (unsigned la = 0; la < EVS_MAX_LEASES; la++) {
				const struct lease *x = &cla->leases[la];
				if (!in_use(a, x, b->now))
					continue;
				for (uint32_t j = i + 1; j <= b->cfg.nodes; j++) {
					const struct node *o = &b->nodes[j];
					for (unsigned cb = 0; cb < EVS_MAX_CLIENTS; cb++) {
						const struct client *clb = &o->clients[cb];
						if (!clb->used)
							continue;
						for (unsigned lb = 0; lb < EVS_MAX_LEASES; lb++) {
							const struct lease *y = &clb->leases[lb];
							if (!y->used || strcmp(x->name, y->name) ||
							    (x->mode != CL_MODE_EX && y->mode != CL_MODE_EX) ||
							    !in_use(o, y, b->now))
								continue;
							char d1[400], d2[400];
							describe_use(b, a, cla, x, d1, sizeof(d1));
							describe_use(b, o, clb, y, d2, sizeof(d2));
							set_violation(b, EVS_CHECK_OWNER,
								      "t=%s: \"%s\" in use by two nodes: [%s] and [%s]",
								      evs_t(b->now), x->name, d1, d2);
							return;
						}
					}
				}
			}
		}
	}
}

static struct name_epochs *name_epochs(struct evs_bus *b, const char *name)
{
	for (size_t i = 0; i < b->nnames; i++)
		if (!strcmp(b->names[i].name, name))
			return &b->names[i];
	if (b->nnames == b->capnames) {
		b->capnames = b->capnames ? 2 * b->capnames : 16;
		b->names = xrealloc(b->names, b->capnames * sizeof(*b->names));
	}
	struct name_epochs *e = &b->names[b->nnames++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	return e;
}

static void check_epoch(struct evs_bus *b, struct node *nd, const struct evs_event *r)
{
	struct name_epochs *e = name_epochs(b, r->name);
	uint64_t ep = r->ev.epoch;
	if (ep == e->last[nd->id])
		return;                     /* the node's current hold, again */
	/*
	 * Shared holds granted by one round of inputs may reach their clients
	 * in another order than their epochs (one node's client hears first);
	 * the machine granted them in epoch order and they do not conflict.
	 */
	bool both_shared = r->ev.mode == CL_MODE_SH && e->max_mode == CL_MODE_SH;
	if (ep <= e->max_epoch && !both_shared)
		set_violation(b, EVS_CHECK_EPOCH,
			      "t=%s: \"%s\" granted to node %u client %" PRIu64 " with epoch %" PRIu64
			      ", not above epoch %" PRIu64 " granted on it to node %u at t=%s",
			      evs_t(b->now), r->name, nd->id, r->ev.client, ep, e->max_epoch, e->max_node,
			      evs_t(e->max_at));
	e->last[nd->id] = ep;
	if (ep > e->max_epoch) {
		e->max_epoch = ep;
		e->max_mode = r->ev.mode;
		e->max_node = nd->id;
		e->max_at = b->now;
	}
}

static void post_step(struct evs_bus *b)
{
	check_owners(b);
}

/* ---- clients ---- */

static struct client *client_get(struct node *nd, uint64_t id, bool create)
{
	for (unsigned i = 0; i < EVS_MAX_CLIENTS; i++)
		if (nd->clients[i].used && nd->clients[i].id == id)
			return &nd->clients[i];
	if (!create)
		return NULL;
	for (unsigned i = 0; i < EVS_MAX_CLIENTS; i++)
		if (!nd->clients[i].used) {
			memset(&nd->clients[i], 0, sizeof(nd->clients[i]));
			nd->clients[i].used = true;
			nd->clients[i].id = id;
			return &nd->clients[i];
		}
	ck_abort_msg("evsbus: more than %d clients on node %u", EVS_MAX_CLIENTS, nd->id);
	return NULL;
}

static struct lease *lease_get(struct client *c, const char *name, bool create)
{
	for (unsigned i = 0; i < EVS_MAX_LEASES; i++)
		if (c->leases[i].used && !strcmp(c->leases[i].name, name))
			return &c->leases[i];
	if (!create)
		return NULL;
	for (unsigned i = 0; i < EVS_MAX_LEASES; i++)
		if (!c->leases[i].used) {
			memset(&c->leases[i], 0, sizeof(c->leases[i]));
			c->leases[i].used = true;
			snprintf(c->leases[i].name, sizeof(c->leases[i].name), "%s", name);
			return &c->leases[i];
		}
	ck_abort_msg("evsbus: more than %d leases for client %" PRIu64, EVS_MAX_LEASES, c->id);
	return NULL;
}

static void client_dispatch(struct client *c)
{
	for (unsigned i = 0; i < EVS_MAX_LEASES; i++) {
		struct lease *l = &c->leases[i];
		if (!l->used)
			continue;
		l->seen_granted = l->granted;
		l->seen_revoked = l->revoked;
	}
}

/* ---- agent callbacks ---- */

static uint64_t op_now(void *ctx)
{
	struct node *nd = ctx;
	return node_clock(nd, nd->b->now);
}

static void originate(struct evs_bus *b, struct node *nd, int ci, const uint8_t *data, size_t len)
{
	struct comp *c = &b->comps[ci];
	struct evs_msg *m = xrealloc(NULL, sizeof(*m) + len);
	m->id = ++b->msg_ids;
	m->sender = nd->id;
	m->inc = nd->inc;
	m->have = EVS_N(nd->id);
	m->delivered = 0;
	m->at = b->now;
	m->len = len;
	memcpy(m->data, data, len);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->msgs = xrealloc(c->msgs, c->cap * sizeof(*c->msgs));
	}
	c->msgs[c->n++] = m;
	if (m->id >= b->capmlog) {
		size_t cap = b->capmlog ? 2 * b->capmlog : 1024;
		while (cap <= m->id)
			cap *= 2;
		b->mlog = xrealloc(b->mlog, cap * sizeof(*b->mlog));
		memset(b->mlog + b->capmlog, 0, (cap - b->capmlog) * sizeof(*b->mlog));
		b->capmlog = cap;
	}
	b->mlog[m->id] = (struct msglog){ .sender = nd->id, .at = m->at };
	nd->last_msg = m->id;
	char d[TRACE_WIDTH];
	describe(data, len, d, sizeof(d));
	trace(b, "n%u originates #%" PRIu64 " in ring %u/%" PRIu64 ": %s", nd->id, m->id, c->ring.rep,
	      c->ring.seq, d);
}

static void hold_msg(struct evs_bus *b, struct node *nd, const uint8_t *data, size_t len)
{
	if (nd->nheld == nd->capheld) {
		nd->capheld = nd->capheld ? 2 * nd->capheld : 16;
		nd->held = xrealloc(nd->held, nd->capheld * sizeof(*nd->held));
	}
	uint8_t *p = xrealloc(NULL, len);
	memcpy(p, data, len);
	nd->held[nd->nheld++] = (struct heldmsg){ p, len };
	char d[TRACE_WIDTH];
	describe(data, len, d, sizeof(d));
	trace(b, "n%u sends, held by corosync%s: %s", nd->id, nd->paused ? " (paused)" : "", d);
}

/* A CPG message leaves the daemon: originated now, or held by corosync. */
static void cpg_send(struct evs_bus *b, struct node *nd, const uint8_t *data, size_t len)
{
	if (nd->paused || nd->comp < 0 || b->comps[nd->comp].broken || b->comps[nd->comp].forming)
		hold_msg(b, nd, data, len);
	else
		originate(b, nd, nd->comp, data, len);
}

static void send_held(struct evs_bus *b, struct node *nd, int ci)
{
	for (size_t i = 0; i < nd->nheld; i++) {
		originate(b, nd, ci, nd->held[i].data, nd->held[i].len);
		free(nd->held[i].data);
	}
	nd->nheld = 0;
}

static void box_flush(struct evs_bus *b, struct node *nd)
{
	if (!nd->boxcount)
		return;
	if (nd->boxcount == 1) {
		cpg_send(b, nd, nd->box + CL_BATCH_HDR_LEN + 4, nd->boxlen - CL_BATCH_HDR_LEN - 4);
	} else {
		nd->box[0] = CL_BATCH_MAGIC;
		nd->box[1] = 0;
		cl_put_u16(nd->box + 2, (uint16_t)nd->boxcount);
		cpg_send(b, nd, nd->box, nd->boxlen);
	}
	nd->boxlen = 0;
	nd->boxcount = 0;
}

static int op_mcast(void *ctx, const void *buf, size_t len)
{
	struct node *nd = ctx;
	struct evs_bus *b = nd->b;
	if (!nd->batching) {
		cpg_send(b, nd, buf, len);
		return 0;
	}
	size_t need = 4 + len;
	if (CL_BATCH_HDR_LEN + need > CL_BATCH_MAX) {
		box_flush(b, nd);
		cpg_send(b, nd, buf, len);
		return 0;
	}
	if (nd->boxlen + need > CL_BATCH_MAX || nd->boxcount == UINT16_MAX)
		box_flush(b, nd);
	if (!nd->boxcount)
		nd->boxlen = CL_BATCH_HDR_LEN;
	cl_put_u32(nd->box + nd->boxlen, (uint32_t)len);
	memcpy(nd->box + nd->boxlen + 4, buf, len);
	nd->boxlen += need;
	nd->boxcount++;
	return 0;
}

static const char *ev_name(enum cl_node_event_type t)
{
	switch (t) {
	case CL_NODE_EV_GRANTED: return "GRANTED";
	case CL_NODE_EV_DENIED: return "DENIED";
	case CL_NODE_EV_QUEUED: return "QUEUED";
	case CL_NODE_EV_WANTED: return "WANTED";
	case CL_NODE_EV_REVOKED: return "REVOKED";
	case CL_NODE_EV_KILL: return "KILL";
	case CL_NODE_EV_VALIDITY: return "VALIDITY";
	case CL_NODE_EV_INDEX_DONE: return "INDEX_DONE";
	case CL_NODE_EV_INDEX_CHANGED: return "INDEX_CHANGED";
	case CL_NODE_EV_SYNC_DONE: return "SYNC_DONE";
	case CL_NODE_EV_ADMIN_DONE: return "ADMIN_DONE";
	case CL_NODE_EV_FATAL: return "FATAL";
	case CL_NODE_EV_EPOCH_FLOOR: return "EPOCH_FLOOR";
	case CL_NODE_EV_NEWEST_TERM: return "NEWEST_TERM";
	case CL_NODE_EV_HOLD_END: return "HOLD_END";
	}
	return "?";
}

static void op_event(void *ctx, const struct cl_node_event *ev)
{
	struct node *nd = ctx;
	struct evs_bus *b = nd->b;
	if (nd->nev == nd->capev) {
		nd->capev = nd->capev ? 2 * nd->capev : 256;
		nd->evs = xrealloc(nd->evs, nd->capev * sizeof(*nd->evs));
	}
	struct evs_event *r = &nd->evs[nd->nev++];
	memset(r, 0, sizeof(*r));
	r->at = b->now;
	r->node_at = node_clock(nd, b->now);
	r->ev = *ev;
	r->ev.name = NULL;
	r->ev.key = NULL;
	if (ev->name && ev->namelen) {
		size_t n = ev->namelen < EVS_NAME_MAX ? ev->namelen : EVS_NAME_MAX;
		memcpy(r->name, ev->name, n);
		r->name[n] = 0;
	}
	if (ev->key && ev->keylen) {
		size_t n = ev->keylen < EVS_KEY_MAX ? ev->keylen : EVS_KEY_MAX;
		memcpy(r->key, ev->key, n);
		r->ev.keylen = (uint8_t)n;
	}
	switch (ev->type) {
	case CL_NODE_EV_VALIDITY:
		nd->page = ev->valid_until;      /* the daemon writes the shared page at once */
		trace(b, "n%u VALIDITY page := %s", nd->id, evs_t(to_global(nd, ev->valid_until)));
		return;
	case CL_NODE_EV_INDEX_CHANGED:
		return;
	case CL_NODE_EV_GRANTED:
		trace(b, "n%u client %" PRIu64 " GRANTED %s %s epoch %" PRIu64 " valid until %s", nd->id,
		      ev->client, r->name, cl_mode_name(ev->mode), ev->epoch,
		      evs_t(to_global(nd, ev->valid_until)));
		break;
	case CL_NODE_EV_REVOKED:
		trace(b, "n%u client %" PRIu64 " REVOKED %s epoch %" PRIu64 " deadline %s", nd->id,
		      ev->client, r->name, ev->epoch, evs_t(to_global(nd, ev->deadline)));
		break;
	default:
		trace(b, "n%u client %" PRIu64 " %s %s err %d owner %u version %" PRIu64, nd->id,
		      ev->client, ev_name(ev->type), r->name, ev->err, ev->owner, ev->version);
		break;
	}
	if (!ev->client)
		return;
	struct client *c = client_get(nd, ev->client, true);
	if (ev->type == CL_NODE_EV_GRANTED) {
		struct lease *l = lease_get(c, r->name, true);
		if (!l->granted || l->revoked || l->released || l->epoch != ev->epoch) {
			/* a new hold (a repeat of the current one keeps its record) */
			memset(l, 0, sizeof(*l));
			l->used = true;
			snprintf(l->name, sizeof(l->name), "%s", r->name);
			l->granted = true;
			l->granted_at = b->now;
		}
		l->epoch = ev->epoch;
		l->mode = ev->mode;
		check_epoch(b, nd, r);
	} else if (ev->type == CL_NODE_EV_REVOKED) {
		struct lease *l = lease_get(c, r->name, false);
		if (l && l->granted && !l->revoked && !l->released) {
			l->revoked = true;
			l->revoked_at = b->now;
			l->deadline = ev->deadline;
		}
	}
	if (!c->manual)
		client_dispatch(c);
}

static void op_action(void *ctx, const struct cl_action *a)
{
	struct node *nd = ctx;
	if (a->type == CL_ACT_QUORUM) {
		trace(nd->b, "n%u machine: quorate := %d", nd->id, a->mode);
		return;
	}
	if (a->node != nd->id || (a->type != CL_ACT_GRANT && a->type != CL_ACT_RECOVERED &&
				  a->type != CL_ACT_RELEASED && a->type != CL_ACT_DENY))
		return;
	char name[EVS_NAME_MAX + 1] = "";
	if (a->name && a->namelen) {
		size_t n = a->namelen < EVS_NAME_MAX ? a->namelen : EVS_NAME_MAX;
		memcpy(name, a->name, n);
		name[n] = 0;
	}
	trace(nd->b, "n%u machine: %s %s to n%u epoch %" PRIu64 " err %d", nd->id,
	      cl_action_type_name(a->type), name, a->node, a->epoch, a->err);
}

static void op_log(void *ctx, int level, const char *msg)
{
	struct node *nd = ctx;
	trace(nd->b, "n%u log(%d): %s", nd->id, level, msg);
}

static const struct cl_node_ops evs_ops = {
	.now = op_now, .mcast = op_mcast, .event = op_event, .action = op_action, .log = op_log,
};

/* ---- delivery ---- */

struct part_ctx {
	struct evs_bus *b;
	struct node *nd;
	uint32_t sender;
};

static void deliver_part(void *ctx, const uint8_t *p, size_t len)
{
	struct part_ctx *pc = ctx;
	struct node *nd = pc->nd;
	struct cl_msg m;
	if (cl_wire_decode(p, len, &m) == 0 && m.type == CL_MSG_SYNC_ANNOUNCE &&
	    pc->sender <= EVS_MAX_NODES) {
		struct evs_announce *a = &nd->ann[pc->sender];
		a->seen = true;
		a->has_state = m.flags & CL_SYNC_HAS_STATE;
		a->ring = m.ring;
		a->term = m.term;
		a->lsn = m.lsn;
		a->q_lsn = m.q_lsn;
		a->hash = m.hash;
	}
	cl_node_deliver(nd->n, pc->sender, p, len);
	post_step(pc->b);
}

static void deliver_msg(struct evs_bus *b, struct node *nd, struct evs_msg *m, const char *how)
{
	char d[TRACE_WIDTH];
	describe(m->data, m->len, d, sizeof(d));
	trace(b, "n%u delivers%s #%" PRIu64 " from n%u: %s", nd->id, how, m->id, m->sender, d);
	m->have |= EVS_N(nd->id);
	m->delivered |= EVS_N(nd->id);
	b->mlog[m->id].delivered |= EVS_N(nd->id);
	struct part_ctx pc = { b, nd, m->sender };
	if (m->len && m->data[0] == CL_BATCH_MAGIC) {
		int rc = cl_batch_split(m->data, m->len, deliver_part, &pc);
		ck_assert_msg(rc >= 2, "evsbus: malformed batch #%" PRIu64, m->id);
	} else {
		deliver_part(&pc, m->data, m->len);
	}
}

/* Delivers, in regular order, node nd's next message of its ring; false if none. */
static bool deliver_next(struct evs_bus *b, struct node *nd)
{
	if (!nd->up || nd->paused || nd->comp < 0)
		return false;
	struct comp *c = &b->comps[nd->comp];
	while (nd->cursor < c->n && (c->msgs[nd->cursor]->delivered & EVS_N(nd->id)))
		nd->cursor++;
	if (nd->cursor >= c->n)
		return false;
	struct evs_msg *m = c->msgs[nd->cursor++];
	deliver_msg(b, nd, m, "");
	return true;
}

static int comp_of(const struct evs_bus *b, uint32_t id)
{
	const struct node *nd = node_of(b, id);
	ck_assert_msg(nd->comp >= 0, "evsbus: node %u has no ring", id);
	return nd->comp;
}

/*
 * Delivers ring ci's messages below upto to the attached members in mask,
 * message by message, until none has more; true if any was delivered.
 */
static bool deliver_ring(struct evs_bus *b, int ci, uint32_t mask, size_t upto)
{
	bool any = false;
	for (;;) {
		bool step = false;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			struct node *nd = &b->nodes[id];
			if (!(mask & EVS_N(id)) || nd->comp != ci)
				continue;
			const struct comp *c = &b->comps[ci];
			while (nd->cursor < c->n && nd->cursor < upto &&
			       (c->msgs[nd->cursor]->delivered & EVS_N(id)))
				nd->cursor++;
			if (nd->cursor < upto && deliver_next(b, nd))
				step = any = true;
		}
		if (!step)
			return any;
	}
}

void evs_deliver_to(struct evs_bus *b, uint32_t node, uint32_t mask)
{
	int ci = comp_of(b, node);
	ck_assert_msg(!b->comps[ci].broken, "evsbus: ring of node %u is broken", node);
	deliver_ring(b, ci, mask, b->comps[ci].n);
}

void evs_deliver_all(struct evs_bus *b, uint32_t node)
{
	int ci = comp_of(b, node);
	ck_assert_msg(!b->comps[ci].broken, "evsbus: ring of node %u is broken", node);
	for (;;) {
		for (uint32_t id = 1; id <= b->cfg.nodes; id++)
			if (b->nodes[id].up && !b->nodes[id].paused && b->nodes[id].comp == ci)
				box_flush(b, &b->nodes[id]);
		if (!deliver_ring(b, ci, ~0u, SIZE_MAX))
			return;
	}
}

void evs_receive(struct evs_bus *b, uint32_t node, uint32_t mask)
{
	struct comp *c = &b->comps[comp_of(b, node)];
	for (size_t i = 0; i < c->n; i++)
		c->msgs[i]->have |= mask & c->mask;
}

uint64_t evs_last_sent(const struct evs_bus *b, uint32_t node)
{
	return node_of(b, node)->last_msg;
}

uint32_t evs_delivered_by(const struct evs_bus *b, uint64_t msg)
{
	return msg && msg < b->capmlog ? b->mlog[msg].delivered : 0;
}

uint64_t evs_msg_at(const struct evs_bus *b, uint64_t msg)
{
	ck_assert_msg(msg && msg < b->capmlog && b->mlog[msg].sender, "evsbus: no message #%" PRIu64, msg);
	return b->mlog[msg].at;
}

size_t evs_pending(const struct evs_bus *b, uint32_t node)
{
	int ci = comp_of(b, node);
	const struct comp *c = &b->comps[ci];
	uint32_t att = 0;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		if (b->nodes[id].up && b->nodes[id].comp == ci)
			att |= EVS_N(id);
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += (c->msgs[i]->delivered & att) != att;
	return n;
}

struct cl_ring evs_ring(const struct evs_bus *b, uint32_t node)
{
	return node_of(b, node)->ring;
}

void evs_run(struct evs_bus *b)
{
	for (unsigned guard = 0;; guard++) {
		ck_assert_msg(guard < STORM_MAX, "evsbus: message storm at t=%s", evs_t(b->now));
		bool any = false;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			struct node *nd = &b->nodes[id];
			if (nd->up && nd->boxcount && !nd->paused) {
				box_flush(b, nd);
				any = true;
			}
		}
		for (int ci = 0; ci < MAX_COMPS; ci++) {
			struct comp *c = &b->comps[ci];
			if (c->used && !c->broken && !c->forming && !c->hold &&
			    deliver_ring(b, ci, ~0u, SIZE_MAX))
				any = true;
		}
		if (!any)
			return;
	}
}

/* ---- rings ---- */

static int comp_alloc(struct evs_bus *b, uint32_t mask)
{
	for (int ci = 0; ci < MAX_COMPS; ci++) {
		struct comp *c = &b->comps[ci];
		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->mask = mask;
		b->ring_seq += 4;
		c->ring.seq = b->ring_seq;
		c->ring.rep = (uint32_t)__builtin_ctz(mask);
		c->formed_at = b->now;
		return ci;
	}
	ck_abort_msg("evsbus: out of rings");
	return -1;
}

static void comp_gc(struct evs_bus *b, int ci)
{
	if (ci < 0)
		return;   /* no ring (a crash before any): nothing to collect, no comps[-1] */
	struct comp *c = &b->comps[ci];
	if (!c->used)
		return;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		if (b->nodes[id].up && b->nodes[id].comp == ci)
			return;
	for (size_t i = 0; i < c->n; i++)
		free(c->msgs[i]);
	free(c->msgs);
	memset(c, 0, sizeof(*c));
}

static void comp_break(struct evs_bus *b, int ci)
{
	struct comp *c = &b->comps[ci];
	if (c->broken)
		return;
	c->broken = true;
	c->broken_at = b->now;
	trace(b, "ring %u/%" PRIu64 " %s breaks", c->ring.rep, c->ring.seq, mask_str(c->mask));
}

void evs_break(struct evs_bus *b, uint32_t node)
{
	comp_break(b, comp_of(b, node));
}

void evs_ring_hold(struct evs_bus *b, uint32_t node, bool hold)
{
	b->comps[comp_of(b, node)].hold = hold;
}

static unsigned expected_votes(const struct evs_bus *b)
{
	return b->cfg.expected_votes ? b->cfg.expected_votes : b->cfg.nodes;
}

/*
 * votequorum's verdict for a ring of members.  two_node (with two expected
 * votes): one vote is enough, but only once the nodes have seen each other
 * since their corosync started (wait_for_all, which two_node turns on).
 */
static bool verdict(const struct evs_bus *b, uint32_t members)
{
	unsigned expected = expected_votes(b);
	unsigned votes = popcount(members);
	if (b->cfg.two_node && expected == 2) {
		if (votes >= 2)
			return true;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++)
			if ((members & EVS_N(id)) && !b->nodes[id].seen_all)
				return false;
		return votes >= 1;
	}
	return 2 * votes > expected;
}

void evs_quorum_ring(struct evs_bus *b, uint32_t node, bool quorate, const struct cl_ring *ring)
{
	struct node *nd = node_of(b, node);
	ck_assert_msg(nd->up && !nd->paused, "evsbus: quorum verdict for a node that is down or paused");
	trace(b, "n%u votequorum: %s, ring %u/%" PRIu64 "%s", node, quorate ? "quorate" : "NOT quorate",
	      ring->rep, ring->seq, b->cfg.two_node ? " (two_node)" : "");
	/* as lockd/main.c's on_quorum(): the modes, the vote count, then the verdict */
	uint32_t mem = nd->vq_members ? nd->vq_members : nd->view;
	unsigned qm = b->cfg.two_node ? CL_QMODE_TWO_NODE : 0;
	if (popcount(mem) < expected_votes(b))
		qm |= CL_QMODE_INCOMPLETE;
	cl_node_quorum_mode(nd->n, qm);
	/* and the vote count: one vote per node, votequorum's quorum for expected */
	struct cl_node_vote votes[EVS_MAX_NODES];
	size_t nv = 0;
	for (uint32_t id = 1; id <= b->cfg.nodes && nv < EVS_MAX_NODES; id++)
		if (mem & EVS_N(id))
			votes[nv++] = (struct cl_node_vote){ id, 1 };
	unsigned expected = expected_votes(b);
	cl_node_votes(nd->n, ring, b->cfg.two_node && expected == 2 ? 1 : expected / 2 + 1, expected,
		      votes, nv);
	cl_node_quorum(nd->n, quorate, ring);
	post_step(b);
}

void evs_quorum(struct evs_bus *b, uint32_t node, bool quorate)
{
	struct cl_ring r = node_of(b, node)->ring;
	evs_quorum_ring(b, node, quorate, &r);
}

/* Member nd's passage from old ring oc into new ring ci (members g, transitional set t). */
static void pass_into(struct evs_bus *b, struct node *nd, int oc, int ci, uint32_t g, uint32_t t)
{
	struct comp *c = &b->comps[ci];
	if (oc >= 0) {
		struct comp *o = &b->comps[oc];
		for (size_t i = 0; i < o->n; i++) {
			struct evs_msg *m = o->msgs[i];
			if (!(m->delivered & EVS_N(nd->id)) && (m->have & t))
				deliver_msg(b, nd, m, " (transitional)");
		}
	}
	for (uint32_t j = 1; j <= b->cfg.nodes; j++)
		ck_assert_msg(!(nd->view & g & EVS_N(j)) || nd->view_inc[j] == b->nodes[j].inc,
			      "evsbus: limit: node %u still lists the previous incarnation of restarted "
			      "node %u (CPG would show it leave first)", nd->id, j);
	if (popcount(g) >= expected_votes(b))
		nd->seen_all = true;
	bool q = verdict(b, g);
	nd->vq_members = g;
	if (b->cfg.vq == EVS_VQ_BEFORE)
		evs_quorum_ring(b, nd->id, q, &c->ring);
	uint32_t members[EVS_MAX_NODES], left[EVS_MAX_NODES], joined[EVS_MAX_NODES];
	size_t nm = mask_ids(g, members);
	size_t nl = mask_ids(nd->view & ~g, left);
	size_t nj = mask_ids(g & ~nd->view, joined);
	trace(b, "n%u confchg ring %u/%" PRIu64 " members %s left %s joined %s", nd->id, c->ring.rep,
	      c->ring.seq, mask_str(g), mask_str(nd->view & ~g), mask_str(g & ~nd->view));
	nd->view = g;
	for (uint32_t j = 1; j <= EVS_MAX_NODES; j++)
		nd->view_inc[j] = b->nodes[j].inc;
	nd->ring = c->ring;
	cl_node_confchg(nd->n, &c->ring, members, nm, left, nl, joined, nj);
	post_step(b);
	if (b->cfg.vq == EVS_VQ_AFTER)
		evs_quorum_ring(b, nd->id, q, &c->ring);
}

void evs_form(struct evs_bus *b, const uint32_t *groups, size_t ngroups)
{
	uint32_t all = 0;
	int oldc[EVS_MAX_NODES + 1];
	int newc[EVS_MAX_NODES];
	ck_assert(ngroups >= 1 && ngroups <= EVS_MAX_NODES);
	for (size_t g = 0; g < ngroups; g++) {
		ck_assert_msg(groups[g] && !(all & groups[g]) && !(groups[g] & 1u) &&
			      groups[g] < EVS_N(b->cfg.nodes + 1), "evsbus: bad groups");
		all |= groups[g];
	}
	for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
		struct node *nd = &b->nodes[id];
		oldc[id] = nd->comp;
		if (!(all & EVS_N(id)))
			continue;
		ck_assert_msg(nd->up && !nd->paused, "evsbus: node %u is down or paused", id);
	}
	for (size_t g = 0; g < ngroups; g++) {
		newc[g] = -1;
		/* an intact running ring with exactly these members stays */
		for (int ci = 0; ci < MAX_COMPS; ci++) {
			struct comp *c = &b->comps[ci];
			if (!c->used || c->broken || c->mask != groups[g])
				continue;
			bool intact = true;
			for (uint32_t id = 1; id <= b->cfg.nodes; id++)
				if ((c->mask & EVS_N(id)) && oldc[id] != ci)
					intact = false;
			if (intact)
				newc[g] = -2;
		}
		if (newc[g] == -2)
			continue;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			if (!(groups[g] & EVS_N(id)) || oldc[id] < 0)
				continue;
			struct comp *o = &b->comps[oldc[id]];
			comp_break(b, oldc[id]);
			uint64_t t = b->cfg.token_us + b->cfg.consensus_us;
			ck_assert_msg(!(o->mask & ~groups[g]) || b->now >= o->broken_at + t,
				      "evsbus: ring %u/%" PRIu64 " %s broke at %s: node %u cannot be in a "
				      "ring without %s before token + consensus have passed (%s)",
				      o->ring.rep, o->ring.seq, mask_str(o->mask), evs_t(o->broken_at), id,
				      mask_str(o->mask & ~groups[g]), evs_t(o->broken_at + t));
		}
	}
	for (size_t g = 0; g < ngroups; g++) {
		if (newc[g] == -2)
			continue;
		newc[g] = comp_alloc(b, groups[g]);
		b->comps[newc[g]].forming = true;
		trace(b, "ring %u/%" PRIu64 " forms: %s", b->comps[newc[g]].ring.rep,
		      b->comps[newc[g]].ring.seq, mask_str(groups[g]));
		for (uint32_t id = 1; id <= b->cfg.nodes; id++)
			if (groups[g] & EVS_N(id)) {
				b->nodes[id].comp = newc[g];
				b->nodes[id].cursor = 0;
			}
	}
	for (size_t g = 0; g < ngroups; g++) {
		if (newc[g] == -2)
			continue;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			if (!(groups[g] & EVS_N(id)))
				continue;
			uint32_t t = 0;
			for (uint32_t j = 1; j <= b->cfg.nodes; j++)
				if ((groups[g] & EVS_N(j)) && oldc[j] >= 0 && oldc[j] == oldc[id])
					t |= EVS_N(j);
			pass_into(b, &b->nodes[id], oldc[id], newc[g], groups[g], t);
		}
	}
	for (size_t g = 0; g < ngroups; g++) {
		if (newc[g] == -2)
			continue;
		b->comps[newc[g]].forming = false;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++)
			if (groups[g] & EVS_N(id))
				send_held(b, &b->nodes[id], newc[g]);
	}
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		if (oldc[id] >= 0)
			comp_gc(b, oldc[id]);
}

void evs_split(struct evs_bus *b, const uint32_t *groups, size_t ngroups)
{
	for (size_t g = 0; g < ngroups; g++)
		for (uint32_t id = 1; id <= b->cfg.nodes; id++)
			if ((groups[g] & EVS_N(id)) && b->nodes[id].comp >= 0)
				comp_break(b, b->nodes[id].comp);
	evs_advance(b, b->now + b->cfg.token_us + b->cfg.consensus_us);
	evs_form(b, groups, ngroups);
	evs_run(b);
}

/* ---- nodes ---- */

static void node_start(struct evs_bus *b, struct node *nd)
{
	struct cl_node_config cfg = b->cfg.node;
	cfg.nodeid = nd->id;
	/* a table key of its own at every start, as a daemon draws one (cl_sm_config.table_key) */
	nd->starts++;
	cfg.sm.table_key = (struct cl_hash_key){ cl_mix64(nd->id), cl_mix64(nd->starts) };
	nd->n = cl_node_new(&cfg, &evs_ops, nd);
	ck_assert_msg(nd->n != NULL, "evsbus: cl_node_new failed for node %u", nd->id);
	nd->up = true;
	nd->seen_all = false;     /* votequorum's wait_for_all starts again with corosync */
	nd->paused = false;
	nd->inc++;
	nd->comp = -1;
	nd->cursor = 0;
	nd->view = 0;
	nd->ring = (struct cl_ring){ 0, 0 };
	nd->page = 0;
	memset(nd->clients, 0, sizeof(nd->clients));
	memset(nd->ann, 0, sizeof(nd->ann));
	for (size_t i = 0; i < b->nnames; i++)
		b->names[i].last[nd->id] = 0;     /* a new incarnation holds nothing */
}

void evs_config_default(struct evs_config *c, unsigned nodes)
{
	memset(c, 0, sizeof(*c));
	c->nodes = nodes;
	c->token_us = 1000000;
	c->consensus_us = 1200000;
	c->start_us = 1000000;
	c->vq = EVS_VQ_AFTER;
	c->node.validity_us = 1000000;
	c->node.heartbeat_us = 250000;
	c->node.revoke_timeout_us = 1000000;
	c->node.fence_delay_us = 4000000;
	c->node.handover_timeout_us = 3000000;
	c->node.linger_us = 5000000;
	c->node.sync_chunk = 4096;
}

struct evs_bus *evs_new(const struct evs_config *c)
{
	ck_assert_msg(c->nodes >= 1 && c->nodes <= EVS_MAX_NODES, "evsbus: 1..%d nodes", EVS_MAX_NODES);
	struct evs_bus *b = xrealloc(NULL, sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->cfg = *c;
	b->now = c->start_us;
	const char *tr = getenv("EVSBUS_TRACE");
	b->tracing = tr && *tr && strcmp(tr, "0");
	/* the plants a safety test is shown to notice (see evsbus.h) */
	const char *un = getenv("EVSBUS_UNSAFE"), *pg = getenv("EVSBUS_PAGE");
	if (un && *un) {
		char *end;
		unsigned long f = strtoul(un, &end, 0);
		ck_assert_msg(!*end && f <= UINT_MAX, "evsbus: EVSBUS_UNSAFE=%s is not a number", un);
		b->cfg.node.sm.unsafe_flags |= (unsigned)f;
	}
	if (pg && *pg) {
		ck_assert_msg(!strcmp(pg, "node-wide") || !strcmp(pg, "per-hold"),
			      "evsbus: EVSBUS_PAGE=%s is neither node-wide nor per-hold", pg);
		b->cfg.page = !strcmp(pg, "node-wide") ? EVS_PAGE_NODE_WIDE : EVS_PAGE_PER_HOLD;
	}
	for (uint32_t id = 1; id <= c->nodes; id++) {
		struct node *nd = &b->nodes[id];
		nd->b = b;
		nd->id = id;
		node_start(b, nd);
	}
	trace(b, "bus of %u nodes: token %s s, consensus %s s, validity %s s, fence delay %s s%s, "
	      "%s page, unsafe flags %#x", c->nodes, evs_t(c->token_us), evs_t(c->consensus_us),
	      evs_t(c->node.validity_us), evs_t(c->node.fence_delay_us),
	      c->two_node ? ", votequorum two_node" : "",
	      b->cfg.page == EVS_PAGE_PER_HOLD ? "per-hold" : "node-wide", b->cfg.node.sm.unsafe_flags);
	return b;
}

static void node_forget(struct node *nd)
{
	for (size_t i = 0; i < nd->nheld; i++)
		free(nd->held[i].data);
	nd->nheld = 0;
	nd->boxlen = 0;
	nd->boxcount = 0;
}

void evs_free(struct evs_bus *b)
{
	if (!b)
		return;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
		struct node *nd = &b->nodes[id];
		cl_node_free(nd->n);
		node_forget(nd);
		free(nd->held);
		free(nd->evs);
	}
	for (int ci = 0; ci < MAX_COMPS; ci++) {
		struct comp *c = &b->comps[ci];
		for (size_t i = 0; i < c->n; i++)
			free(c->msgs[i]);
		free(c->msgs);
	}
	free(b->names);
	free(b->mlog);
	free(b->violation[0]);
	free(b->violation[1]);
	free(b);
}

/* Whether any live node's machine is in the grace period of fresh state. */
static bool any_grace(const struct evs_bus *b)
{
	for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
		const struct node *nd = &b->nodes[id];
		const struct cl_sm *sm = nd->up ? cl_node_sm(nd->n) : NULL;
		struct cl_sm_stats st;
		if (!sm)
			continue;
		cl_sm_stats(sm, &st);
		if (st.grace)
			return true;
	}
	return false;
}

void evs_boot(struct evs_bus *b)
{
	uint32_t all = 0;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		all |= EVS_N(id);
	evs_form(b, &all, 1);
	evs_run(b);
	uint64_t formed = b->now;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		ck_assert_msg(cl_node_synced(b->nodes[id].n), "evsbus: node %u not synced after boot", id);
	/* step from deadline to deadline until a GRACE_END is applied everywhere */
	uint64_t limit = formed + 60 * 1000000ull;
	while (any_grace(b)) {
		uint64_t next = CL_TIME_NEVER;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			const struct node *nd = &b->nodes[id];
			uint64_t d = nd->up ? to_global(nd, cl_node_next_deadline(nd->n)) : CL_TIME_NEVER;
			if (d < next)
				next = d;
		}
		ck_assert_msg(next != CL_TIME_NEVER && next <= limit,
			      "evsbus: the grace period of the booted ring did not end by t=%s",
			      evs_t(limit));
		evs_advance(b, next > b->now ? next : b->now + 1);
	}
	trace(b, "boot: the grace period ended %s s after the ring formed", evs_t(b->now - formed));
}

struct evs_bus *evs_new_booted(unsigned nodes, bool two_node)
{
	struct evs_config c;
	evs_config_default(&c, nodes);
	c.two_node = two_node;
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	return b;
}

void evs_batch(struct evs_bus *b, uint32_t node, bool on)
{
	struct node *nd = node_of(b, node);
	if (!on)
		box_flush(b, nd);
	nd->batching = on;
}

void evs_flush(struct evs_bus *b, uint32_t node)
{
	box_flush(b, node_of(b, node));
}

void evs_pause(struct evs_bus *b, uint32_t node)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up && !nd->paused);
	box_flush(b, nd);
	nd->paused = true;
	trace(b, "n%u: corosync paused", node);
	if (nd->comp >= 0)
		comp_break(b, nd->comp);
}

void evs_resume(struct evs_bus *b, uint32_t node)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up && nd->paused);
	nd->paused = false;
	trace(b, "n%u: corosync resumes", node);
	if (nd->comp < 0)
		return;
	struct comp *c = &b->comps[nd->comp];
	bool others_there = true;
	for (uint32_t id = 1; id <= b->cfg.nodes; id++)
		if ((c->mask & EVS_N(id)) && id != node &&
		    (!b->nodes[id].up || b->nodes[id].comp != nd->comp || b->nodes[id].paused))
			others_there = false;
	if (others_there) {
		/* the token goes round again: the same ring, no configuration change */
		c->broken = false;
		trace(b, "ring %u/%" PRIu64 " resumes", c->ring.rep, c->ring.seq);
		send_held(b, nd, nd->comp);
		return;
	}
	/*
	 * The others have left this ring while we slept.  We still hold the
	 * token of a ring we believe in: what we queued is originated in it and
	 * delivered to us alone, before our next configuration change.
	 */
	send_held(b, nd, nd->comp);
	for (size_t i = 0; i < c->n; i++) {
		struct evs_msg *m = c->msgs[i];
		if ((m->have & EVS_N(node)) && !(m->delivered & EVS_N(node)))
			deliver_msg(b, nd, m, " (in the ring the others left)");
	}
	nd->cursor = c->n;
}

void evs_crash(struct evs_bus *b, uint32_t node)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	trace(b, "n%u crashes", node);
	int ci = nd->comp;
	if (ci >= 0)
		comp_break(b, ci);
	cl_node_free(nd->n);
	nd->n = NULL;
	nd->up = false;
	nd->paused = false;
	nd->comp = -1;
	node_forget(nd);
	memset(nd->clients, 0, sizeof(nd->clients));   /* its clients die with it */
	nd->page = 0;
	comp_gc(b, ci);
	post_step(b);
}

void evs_restart(struct evs_bus *b, uint32_t node)
{
	struct node *nd = node_of(b, node);
	ck_assert(!nd->up);
	node_start(b, nd);
	trace(b, "n%u restarts (incarnation %u, no state)", node, nd->inc);
}

struct cl_node *evs_agent(const struct evs_bus *b, uint32_t node)
{
	return node_of(b, node)->n;
}

bool evs_up(const struct evs_bus *b, uint32_t node)
{
	return node_of(b, node)->up;
}

/* ---- time ---- */

void evs_advance(struct evs_bus *b, uint64_t t)
{
	uint64_t last = b->now;
	unsigned same = 0;
	for (;;) {
		evs_run(b);
		uint64_t next = t;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			const struct node *nd = &b->nodes[id];
			if (!nd->up)
				continue;
			uint64_t d = to_global(nd, cl_node_next_deadline(nd->n));
			if (d < next)
				next = d;
		}
		if (next > b->now)
			b->now = next;
		for (uint32_t id = 1; id <= b->cfg.nodes; id++) {
			struct node *nd = &b->nodes[id];
			if (nd->up && to_global(nd, cl_node_next_deadline(nd->n)) <= b->now) {
				cl_node_tick(nd->n);
				post_step(b);
			}
		}
		evs_run(b);
		if (b->now >= t)
			return;
		same = b->now == last ? same + 1 : 0;
		last = b->now;
		ck_assert_msg(same < STORM_MAX, "evsbus: tick storm at t=%s", evs_t(b->now));
	}
}

/* ---- clients ---- */

int evs_acquire(struct evs_bus *b, uint32_t node, uint64_t client, const char *name,
		uint8_t mode, unsigned flags, uint64_t timeout_us)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	client_get(nd, client, true);
	trace(b, "n%u client %" PRIu64 " acquire %s %s%s", node, client, name, cl_mode_name(mode),
	      flags & CL_ACQ_WAIT ? " WAIT" : "");
	/* every client of one uid: local handovers as ever */
	int rc = cl_node_acquire(nd->n, client, ++b->cookies, 0, name, strlen(name), mode, flags,
				 timeout_us);
	post_step(b);
	return rc;
}

int evs_release(struct evs_bus *b, uint32_t node, uint64_t client, const char *name)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	struct client *c = client_get(nd, client, true);
	struct lease *l = lease_get(c, name, false);
	if (l)
		l->released = true;
	trace(b, "n%u client %" PRIu64 " release %s", node, client, name);
	int rc = cl_node_release(nd->n, client, name, strlen(name));
	post_step(b);
	return rc;
}

int evs_put(struct evs_bus *b, uint32_t node, uint64_t client, const char *name,
	    const char *key, const char *val)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	client_get(nd, client, true);
	trace(b, "n%u client %" PRIu64 " put %s/%s = %s", node, client, name, key, val);
	int rc = cl_node_index_put(nd->n, client, ++b->cookies, 0, name, strlen(name), key,
				   strlen(key), val, strlen(val));
	post_step(b);
	return rc;
}

int evs_sync(struct evs_bus *b, uint32_t node, uint64_t client)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	client_get(nd, client, true);
	trace(b, "n%u client %" PRIu64 " sync", node, client);
	int rc = cl_node_sync(nd->n, client, ++b->cookies);
	post_step(b);
	return rc;
}

int evs_fence_ack(struct evs_bus *b, uint32_t node, uint64_t client, uint32_t target, bool force)
{
	struct node *nd = node_of(b, node);
	ck_assert(nd->up);
	client_get(nd, client, true);
	trace(b, "n%u client %" PRIu64 " fence-ack node %u%s", node, client, target,
	      force ? " (force)" : "");
	int rc = cl_node_fence_ack(nd->n, client, ++b->cookies, target, force);
	post_step(b);
	return rc;
}

void evs_client_dispatching(struct evs_bus *b, uint32_t node, uint64_t client, bool on)
{
	struct client *c = client_get(node_of(b, node), client, true);
	c->manual = !on;
	if (on)
		client_dispatch(c);
	post_step(b);
}

void evs_dispatch(struct evs_bus *b, uint32_t node, uint64_t client)
{
	struct client *c = client_get(node_of(b, node), client, true);
	client_dispatch(c);
	post_step(b);
}

bool evs_lease_valid(const struct evs_bus *b, uint32_t node, uint64_t client, const char *name)
{
	const struct node *nd = node_of(b, node);
	struct client *c = client_get((struct node *)nd, client, false);
	const struct lease *l = c ? lease_get(c, name, false) : NULL;
	return nd->up && l && lease_valid_at(nd, l, b->now);
}

uint64_t evs_page(const struct evs_bus *b, uint32_t node)
{
	return node_of(b, node)->page;
}

const struct evs_event *evs_last(const struct evs_bus *b, uint32_t node, uint64_t client,
				 enum cl_node_event_type type, const char *name)
{
	const struct node *nd = node_of(b, node);
	for (size_t i = nd->nev; i > 0; i--) {
		const struct evs_event *r = &nd->evs[i - 1];
		if (r->ev.type == type && r->ev.client == client && (!name || !strcmp(r->name, name)))
			return r;
	}
	return NULL;
}

size_t evs_count(const struct evs_bus *b, uint32_t node, uint64_t client, enum cl_node_event_type type)
{
	const struct node *nd = node_of(b, node);
	size_t n = 0;
	for (size_t i = 0; i < nd->nev; i++)
		n += nd->evs[i].ev.client == client && (!type || nd->evs[i].ev.type == type);
	return n;
}

const struct evs_announce *evs_announce(const struct evs_bus *b, uint32_t node, uint32_t sender)
{
	ck_assert(sender >= 1 && sender <= EVS_MAX_NODES);
	return &node_of(b, node)->ann[sender];
}

int evs_read(const struct evs_bus *b, uint32_t node, const char *name, const char *key,
	     char *val, size_t cap, uint64_t *version_r)
{
	const struct node *nd = node_of(b, node);
	const struct cl_sm *sm = nd->up ? cl_node_sm(nd->n) : NULL;
	if (!sm)
		return -ENOENT;
	const uint8_t *v;
	uint32_t vl;
	int rc = cl_index_get(sm, name, strlen(name), key, strlen(key), &v, &vl, NULL);
	if (rc < 0)
		return rc;
	if (version_r)
		cl_index_entry_version(sm, name, strlen(name), key, strlen(key), version_r);
	if (cap) {
		size_t n = vl < cap - 1 ? vl : cap - 1;
		memcpy(val, v, n);
		val[n] = 0;
	}
	return 0;
}
