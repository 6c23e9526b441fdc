/*
 * fuzz_sm - libFuzzer target: a stream of inputs into the replicated state
 * machine (core/lease*.c, index.c) and into the node agents (core/node*.c).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The first byte picks the mode:
 *
 * Machines (bit 7 clear): two replicas of struct cl_sm with different
 * table keys take the same inputs, read from the rest of the input:
 * configuration changes of nodes 1..4, messages built from a few fields
 * (small name and key sets, so requests meet), and raw bytes that go
 * through cl_wire_decode() first.  Oracles after every input: both return
 * the same, have the same state hash (determinism whatever the table
 * key), and no lease has two live owners in conflict (fuzz_lease.h); at
 * the end the state survives a snapshot round trip (same hash).
 *
 * Agents (bit 7 set): 2 or 3 real struct cl_node agents on the in-process
 * bus of the safety tests (tests/support/evsbus: corosync's virtual
 * synchrony, votequorum verdicts, pauses, crashes, batching), driven by
 * client requests, time, ring splits and merges, quorum flaps, pauses and
 * restarts, fence-acks.  The bus checks after every step that no two
 * clients on different nodes use a lease in conflicting modes and that
 * epochs only grow.  At the end the network heals, every node is resumed
 * or restarted, time passes, and every node must be synced with the same
 * state hash.  A failed check of the bus (ck_assert) aborts here, which
 * libFuzzer reports as a crash.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>

#include "evsbus.h"
#include "fuzz.h"
#include "fuzz_lease.h"
#include "lease.h"
#include "wire.h"

/*
 * evsbus's checks fail through Check; this target does not link Check's
 * runner but these two, which abort.
 */
void _mark_point(const char *file, int line)
{
	(void)file;
	(void)line;
}

void _ck_assert_failed(const char *file, int line, const char *expr, const char *msg, ...)
{
	fprintf(stderr, "FUZZ ORACLE FAILED: %s:%d: %s", file, line, expr);
	if (msg) {
		va_list ap;
		va_start(ap, msg);
		fputs(": ", stderr);
		vfprintf(stderr, msg, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	abort();
}

/* ---------------------------------------------------------------- machines */

#define SM_NODES 4u
static const char *const names[] = { "a", "b", "user/alice", "user/bob" };
static const char *const keys[] = { "k", "route", "x" };

static void no_action(void *ctx, const struct cl_action *a)
{
	(void)ctx;
	(void)a;
}

static int ex_check(void *ctx, const struct cl_lease_info *info)
{
	fz_check_live_ex(ctx, info);
	return 0;
}

struct pair {
	struct cl_sm *a, *b;
	struct cl_ring ring;
	uint32_t members;   /* mask of node ids */
};

static void pair_check(struct pair *p, int ra, int rb, const char *what)
{
	FZ_CHECK(ra == rb, "%s: the replicas returned %d and %d", what, ra, rb);
	FZ_CHECK(cl_sm_failed(p->a) == cl_sm_failed(p->b), "%s: one replica failed", what);
	FZ_CHECK(cl_sm_hash(p->a) == cl_sm_hash(p->b), "%s: the replicas' states differ", what);
	cl_sm_foreach(p->a, ex_check, p->a);
}

static void sm_confchg(struct pair *p, uint32_t mask)
{
	uint32_t mem[SM_NODES], left[SM_NODES];
	size_t nm = 0, nl = 0;
	for (uint32_t id = 1; id <= SM_NODES; id++) {
		if (mask & (1u << id))
			mem[nm++] = id;
		else if (p->members & (1u << id))
			left[nl++] = id;
	}
	if (nm == 0)
		return;
	p->ring.seq += CL_RING_SEQ_STEP;
	p->ring.rep = mem[0];
	p->members = mask;
	int ra = cl_sm_confchg(p->a, &p->ring, mem, nm, left, nl);
	int rb = cl_sm_confchg(p->b, &p->ring, mem, nm, left, nl);
	pair_check(p, ra, rb, "confchg");
}

static void sm_apply(struct pair *p, uint32_t sender, const struct cl_msg *m)
{
	int ra = cl_sm_apply(p->a, sender, m);
	int rb = cl_sm_apply(p->b, sender, m);
	pair_check(p, ra, rb, "apply");
}

/* A message from a few fields, through the encoder and decoder as the daemon's would go. */
static void sm_built(struct pair *p, struct fz *f)
{
	uint8_t t = fz_u8(f), x = fz_u8(f), y = fz_u8(f);
	uint32_t sender = 1 + x % SM_NODES;
	const char *name = names[(x >> 2) % 4], *key = keys[(x >> 4) % 3];
	struct cl_msg m = {
		.type = (uint8_t)(1 + t % CL_MSG_GRACE_END),
		.mode = y & 1 ? CL_MODE_SH : CL_MODE_EX,
		.flags = (uint8_t)((y >> 1) & 3 ? (y >> 1) & 3 : 0),
		.namelen = (uint16_t)strlen(name), .name = (const uint8_t *)name,
		.keylen = (uint8_t)strlen(key), .key = (const uint8_t *)key,
		.value = (const uint8_t *)"value-8", .vallen = (y >> 3) & 7,
		.uid = (y >> 6) + 1000u,
		.req_id = t,
		.node = 1 + (y >> 3) % SM_NODES,
		.ring = p->ring,
	};
	if (m.type == CL_MSG_ACQUIRE)
		m.flags = (uint8_t)((y & 2 ? CL_ACQ_WAIT : 0) | (y & 4 ? CL_ACQ_NEW_EPOCH : 0));
	else if (m.type == CL_MSG_QUORUM)
		m.flags = (uint8_t)(y & CL_QUORUM_FLAGS_ALL);
	else if (m.type == CL_MSG_FENCE_ACK)
		m.flags = (uint8_t)(y & CL_FENCE_FORCE);
	else
		m.flags = 0;
	/* epochs: the holder's own when it has one (else a guess) */
	uint64_t e = cl_sm_hold_epoch(p->a, name, m.namelen, sender, NULL);
	m.epoch = e && !(y & 0x80) ? e : (uint64_t)fz_u8(f);
	struct cl_sm_stats st;
	cl_sm_stats(p->a, &st);
	m.seq = st.orphan_seq - (y & 1);
	if (m.type == CL_MSG_GRACE_END && (y & 0x40))
		m.ring = st.grace_ring;
	uint8_t buf[512];
	long n = cl_wire_encode(&m, buf, sizeof(buf));
	if (n < 0)
		return;
	struct cl_msg d;
	FZ_CHECK(cl_wire_decode(buf, (size_t)n, &d) == 0, "an encoded message does not decode");
	sm_apply(p, sender, &d);
}

/* Raw bytes as a message: only what decodes reaches the machines, as in the daemon. */
static void sm_raw(struct pair *p, struct fz *f)
{
	uint32_t sender = 1 + fz_u8(f) % SM_NODES;
	size_t len;
	const uint8_t *q = fz_bytes(f, fz_u8(f), &len);
	struct cl_msg m;
	if (cl_wire_decode(q, len, &m) != 0 || m.type >= CL_MSG_SYNC_ANNOUNCE)
		return;
	sm_apply(p, sender, &m);
}

static void run_machines(struct fz *f, uint8_t mode)
{
	struct cl_sm_config ca = { .index_mem_max = 4096, .index_bytes_per_uid = mode & 1 ? 1024 : 0 };
	struct cl_sm_config cb = ca;
	cb.table_key.k0 = 0x0123456789abcdefull;
	cb.table_key.k1 = 0xfedcba9876543210ull;
	struct pair p = { .ring = { .rep = 1, .seq = 4 } };
	p.a = cl_sm_new(&ca, no_action, NULL);
	p.b = cl_sm_new(&cb, no_action, NULL);
	FZ_CHECK(p.a && p.b, "out of memory");
	if (mode & 2) {
		cl_sm_start_grace(p.a, &p.ring);
		cl_sm_start_grace(p.b, &p.ring);
	}
	for (unsigned steps = 0; fz_more(f) && steps < 4096; steps++) {
		uint8_t op = fz_u8(f);
		switch (op % 8) {
		case 0:
			sm_confchg(&p, (uint32_t)(fz_u8(f) & 0x1e));
			break;
		case 1:
			sm_raw(&p, f);
			break;
		default:
			sm_built(&p, f);
			break;
		}
		if (cl_sm_failed(p.a))
			break;
	}
	if (!cl_sm_failed(p.a)) {
		uint8_t *buf;
		size_t len;
		FZ_CHECK(cl_snap_encode(p.a, &buf, &len) == 0, "snapshot encode failed");
		struct cl_sm *c = cl_sm_new(&ca, no_action, NULL);
		FZ_CHECK(c != NULL, "out of memory");
		int rc = cl_snap_decode(buf, len, c);
		FZ_CHECK(rc == 0, "a machine's own snapshot does not load: %d", rc);
		FZ_CHECK(cl_sm_hash(c) == cl_sm_hash(p.a), "state hash changed across a snapshot");
		cl_sm_free(c);
		free(buf);
	}
	cl_sm_free(p.a);
	cl_sm_free(p.b);
}

/* ---------------------------------------------------------------- agents */

#define AG_CLIENTS 4u
#define SEC 1000000ull
#define MS  1000ull

struct agents {
	struct evs_bus *b;
	unsigned n;
	bool up[EVS_MAX_NODES + 1], paused[EVS_MAX_NODES + 1];
	uint64_t fence_us;
};

static bool all_running(const struct agents *g, uint32_t mask)
{
	for (uint32_t id = 1; id <= g->n; id++)
		if ((mask & EVS_N(id)) && (!g->up[id] || g->paused[id]))
			return false;
	return true;
}

static bool any_paused(const struct agents *g)
{
	for (uint32_t id = 1; id <= g->n; id++)
		if (g->paused[id])
			return true;
	return false;
}

/* A ring change: mask's bits give each running node one of two groups. */
static void ag_split(struct agents *g, uint8_t bits)
{
	uint32_t grp[2] = { 0, 0 };
	for (uint32_t id = 1; id <= g->n; id++)
		if (g->up[id] && !g->paused[id])
			grp[(bits >> id) & 1] |= EVS_N(id);
	uint32_t groups[2];
	size_t n = 0;
	for (int i = 0; i < 2; i++)
		if (grp[i])
			groups[n++] = grp[i];
	if (n)
		evs_split(g->b, groups, n);
}

static void ag_step(struct agents *g, struct fz *f)
{
	uint8_t op = fz_u8(f), x = fz_u8(f);
	uint32_t node = 1 + x % g->n;
	uint64_t client = 1 + (x >> 2) % AG_CLIENTS;
	const char *name = names[(x >> 4) % 4];
	bool running = g->up[node] && !g->paused[node];
	switch (op % 14) {
	case 0:
	case 1:
	case 2:
		if (g->up[node])
			(void)evs_acquire(g->b, node, client, name, x & 0x40 ? CL_MODE_SH : CL_MODE_EX,
					  x & 0x80 ? CL_ACQ_WAIT : 0, (uint64_t)(op >> 4) * 500 * MS);
		break;
	case 3:
	case 4:
		if (g->up[node])
			(void)evs_release(g->b, node, client, name);
		break;
	case 5:
		if (g->up[node])
			(void)evs_put(g->b, node, client, name, keys[op % 3], x & 0x40 ? "v1" : "v2");
		break;
	case 6:
		if (g->up[node])
			(void)evs_sync(g->b, node, client);
		break;
	case 7:
	case 8:
		evs_advance(g->b, evs_now(g->b) + (uint64_t)(1 + (op >> 4)) * (x & 1 ? 500 : 50) * MS);
		break;
	case 9:
		ag_split(g, x);
		break;
	case 10:
		if (running && evs_ring(g->b, node).rep)
			evs_quorum(g->b, node, x & 0x80);
		break;
	case 11:
		/*
		 * One paused node at a time: the bus lets a node resumed while
		 * another member of its ring is still paused deliver its own
		 * messages alone in that ring, as if the others had left it
		 * (evs_resume()), where totem would deliver nothing until a new
		 * ring forms; two such nodes then both hold a lease.
		 */
		if (g->paused[node]) {
			evs_resume(g->b, node);
			g->paused[node] = false;
		} else if (g->up[node] && !any_paused(g)) {
			evs_pause(g->b, node);
			g->paused[node] = true;
		}
		break;
	case 12:
		/*
		 * The bus does not model a restarted node joining members that
		 * still list its previous incarnation: the others form a ring
		 * without it at once, and nobody is paused meanwhile.
		 */
		if (any_paused(g))
			break;
		if (g->up[node]) {
			evs_crash(g->b, node);
			g->up[node] = false;
			ag_split(g, 0);
		} else {
			evs_restart(g->b, node);
			g->up[node] = true;
		}
		break;
	case 13:
		if (g->up[node])
			(void)evs_fence_ack(g->b, node, client, 1 + (op >> 4) % g->n, x & 0x80);
		break;
	}
}

static void run_agents(struct fz *f, uint8_t mode)
{
	struct evs_config c;
	struct agents g = { .n = mode & 1 ? 2 : 3 };
	evs_config_default(&c, g.n);
	c.two_node = g.n == 2 && (mode & 2);
	g.b = evs_new(&c);
	evs_boot(g.b);
	for (uint32_t id = 1; id <= g.n; id++) {
		g.up[id] = true;
		if (mode & 4)
			evs_batch(g.b, id, true);
	}
	for (unsigned steps = 0; fz_more(f) && steps < 200; steps++)
		ag_step(&g, f);

	/* heal: everyone back, one ring, time enough for every timer */
	uint32_t all = 0;
	for (uint32_t id = 1; id <= g.n; id++) {
		if (g.paused[id])
			evs_resume(g.b, id);
		g.paused[id] = false;
	}
	for (uint32_t id = 1; id <= g.n; id++) {
		if (!g.up[id])
			evs_restart(g.b, id);
		g.up[id] = true;
		all |= EVS_N(id);
	}
	FZ_CHECK(all_running(&g, all), "a node is not running after the heal");
	evs_split(g.b, &all, 1);
	for (int i = 0; i < 4; i++) {
		evs_advance(g.b, evs_now(g.b) + 10 * SEC);
		evs_run(g.b);
	}
	const struct cl_sm *first = NULL;
	for (uint32_t id = 1; id <= g.n; id++) {
		struct cl_node *n = evs_agent(g.b, id);
		FZ_CHECK(!cl_node_failed(n), "node %u failed", id);
		FZ_CHECK(cl_node_synced(n), "node %u is not synced 40 s after the heal", id);
		const struct cl_sm *sm = cl_node_sm(n);
		cl_sm_foreach(sm, ex_check, (void *)sm);
		if (!first)
			first = sm;
		else
			FZ_CHECK(cl_sm_hash(sm) == cl_sm_hash(first),
				 "node %u's replica differs from node 1's after a quiet flush", id);
	}
	const char *v = evs_violation(g.b, EVS_CHECK_OWNER);
	FZ_CHECK(v == NULL, "owner check: %s", v);
	v = evs_violation(g.b, EVS_CHECK_EPOCH);
	FZ_CHECK(v == NULL, "epoch check: %s", v);
	evs_free(g.b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { .p = data, .len = size };
	uint8_t mode = fz_u8(&f);
	if (mode & 0x80)
		run_agents(&f, mode);
	else
		run_machines(&f, mode);
	return 0;
}
