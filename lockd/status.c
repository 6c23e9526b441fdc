/*
 * status.c - the STATUS answer of coroleased.  Contract: status.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each field is one line of CLD_STATUS_FIELDS: its key (also its JSON path
 * in 'corolease --json status'), its type and the expression that reads
 * it.  The records go out in that order, so adding a field changes no
 * struct, no protocol version and no library ABI.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "corolease/ipc.h"
#include "index.h"
#include "status.h"

/* What the fields read, gathered once per answer (zero where not known yet). */
struct status_src {
	const struct cld_status_in *in;
	const struct cl_sm *sm;               /* NULL until the node has a replica */
	struct cl_sm_stats st;
	struct cl_node_counters k;
	bool synced;
	uint32_t sync_waiting_for;            /* 0: none, or no round */
	uint32_t ring_rep;
	uint64_t ring_seq;
	int64_t valid_ms;                     /* validity left; < 0: lapsed that long ago; 0: lapsed (or never valid) */
	uint64_t client_holds;
	uint64_t state_hash;
	uint64_t local_leases;                /* live holds of this node */
	uint64_t caller_bytes;                /* index bytes charged to the caller's uid */
	uint64_t member_holds[CL_MAX_MEMBERS]; /* live holds of st.members[i] */
};

/*
 * The fields, in output order.  F(key, type, expression over s), type one
 * of U64, S64, BOOL, HASH (enum corolease_status_type); M(prefix) puts the
 * member list as prefix.I.node and prefix.I.holds.  Documented in
 * libcorolease(3) and corolease(1).
 */
#define CLD_STATUS_FIELDS(F, M, H)                                                \
	F("node",                      U64,  s->in->nodeid)                       \
	F("quorate",                   BOOL, s->st.quorate)                       \
	F("votequorum_quorate",        BOOL, s->in->vq_quorate)                   \
	F("realtime_priority",         U64,  s->in->realtime_priority)            \
	F("memory_locked",             BOOL, s->in->memory_locked)                \
	F("synced",                    BOOL, s->synced)                           \
	F("sync_waiting_for",          U64,  s->sync_waiting_for)                 \
	F("ring.rep",                  U64,  s->ring_rep)                         \
	F("ring.seq",                  U64,  s->ring_seq)                         \
	F("valid_ms",                  S64,  s->valid_ms)                         \
	F("lsn",                       U64,  s->st.lsn)                           \
	F("epoch",                     U64,  s->st.epoch)                         \
	F("term.rep",                  U64,  s->st.term.rep)                      \
	F("term.seq",                  U64,  s->st.term.seq)                      \
	F("grace",                     BOOL, s->st.grace)                         \
	F("split_quorum",              BOOL, s->st.split_mode)                    \
	F("awaiting_fence_ack",        U64,  s->st.nunfenced)                     \
	M("members")                                                              \
	F("leases",                    U64,  s->st.records)                       \
	F("holds",                     U64,  s->st.holds)                         \
	F("orphans",                   U64,  s->st.orphans)                       \
	F("waiters",                   U64,  s->st.waiters)                       \
	F("index_bytes",               U64,  s->st.index_bytes)                   \
	F("index_mem_max",             U64,  s->st.index_mem_max)                 \
	F("index_bytes_per_uid",       U64,  s->st.index_bytes_per_uid)           \
	F("index_uids",                U64,  s->st.index_uids)                    \
	F("caller.uid",                U64,  s->in->caller_uid)                   \
	F("caller.index_bytes",        U64,  s->caller_bytes)                     \
	F("caller.holds",              U64,  s->in->caller_holds)                 \
	F("caller.watches",            U64,  s->in->caller_watches)               \
	F("local_leases",              U64,  s->local_leases)                     \
	F("client_holds",              U64,  s->client_holds)                     \
	F("client_holds_max",          U64,  s->in->holds_max)                    \
	F("client_holds_per_uid",      U64,  s->in->holds_per_uid)                \
	F("client_holds_reserve",      U64,  s->in->holds_reserve)                \
	F("clients",                   U64,  s->in->clients)                      \
	F("connections",               U64,  s->in->connections)                  \
	F("watches",                   U64,  s->in->watches)                      \
	F("watches_all",               U64,  s->in->watches_all)                  \
	F("watches_per_uid",           U64,  s->in->watches_per_uid)              \
	F("handshakes",                U64,  s->in->handshakes)                   \
	F("backlog_bytes",             U64,  s->in->backlog_bytes)                \
	F("backlog_msgs",              U64,  s->in->backlog_msgs)                 \
	F("counters.fastpath_grants",  U64,  s->k.fastpath_grants)                \
	F("counters.cluster_grants",   U64,  s->k.cluster_grants)                 \
	F("counters.mcast_msgs",       U64,  s->k.mcast_msgs)                     \
	F("counters.mcast_bytes",      U64,  s->k.mcast_bytes)                    \
	F("counters.heartbeats",       U64,  s->k.heartbeats)                     \
	F("counters.cpg_msgs",         U64,  s->in->cpg_sent)                     \
	F("counters.cpg_batches_held", U64,  s->in->cpg_held)                     \
	F("counters.syncs",            U64,  s->k.syncs)                          \
	F("counters.sync_msgs",        U64,  s->k.sync_msgs)                      \
	F("counters.bad_msgs",         U64,  s->k.bad_msgs)                       \
	F("counters.version_mismatches", U64, s->k.version_mismatches)            \
	F("counters.snapshots_sent",   U64,  s->k.snapshots_sent)                 \
	F("counters.snapshots_loaded", U64,  s->k.snapshots_loaded)               \
	F("counters.snapshots_refused", U64, s->k.snapshots_refused)              \
	F("counters.connections_refused", U64, s->in->refused_conns)              \
	F("counters.connections_refused_uid", U64, s->in->refused_conns_uid)      \
	F("counters.watches_refused",  U64,  s->in->refused_watches)              \
	F("counters.watches_refused_uid", U64, s->in->refused_watches_uid)        \
	F("counters.lists_refused",    U64,  s->in->refused_lists)                \
	F("counters.client_leases_refused", U64, s->in->refused_client_leases)    \
	F("counters.pending_refused",  U64,  s->in->refused_pending)              \
	F("counters.realtime_budget_spent", U64, s->in->low_holdbacks)             \
	F("counters.descriptors_short", U64, s->in->fds_holds)                    \
	F("counters.passed_fds",       U64,  s->in->passed_fds)                   \
	F("counters.closes_interrupted", U64, s->in->closes_interrupted)          \
	F("counters.handshakes_dropped", U64, s->in->handshakes_dropped)          \
	F("counters.connections_refused_group", U64, s->in->refused_group)        \
	F("counters.queued_refused",   U64,  s->in->refused_queued)               \
	F("counters.backlog_refused",  U64,  s->in->refused_backlog)              \
	F("counters.oversized_requests", U64, s->in->oversized)                   \
	F("counters.leases_refused",   U64,  s->in->refused_leases)               \
	F("counters.holds_refused",    U64,  s->in->refused_holds)                \
	F("counters.holds_refused_uid", U64, s->in->refused_holds_uid)            \
	F("counters.index_quota_refused", U64, s->in->refused_index_quota)        \
	F("counters.index_full_refused", U64, s->in->refused_index_full)          \
	F("counters.revokes",          U64,  s->k.revokes)                        \
	F("counters.kills",            U64,  s->k.kills)                          \
	F("descriptors.used",          U64,  s->in->fds_used)                     \
	F("descriptors.limit",         U64,  s->in->fds_limit)                    \
	F("descriptors.closing",       U64,  s->in->fds_closing)                  \
	F("descriptors.short",         BOOL, s->in->fds_held)                     \
	F("descriptors.close_ms",      U64,  s->in->fds_close_ms)                 \
	H("latency.grant",             s->in->grant_latency)                      \
	H("latency.handover",          &s->k.handover)                            \
	H("latency.sync",              &s->k.sync)                                \
	F("state_hash",                HASH, s->state_hash)

/* Milliseconds from now to until (negative once passed); 0 if until is 0. */
static int64_t ms_left(uint64_t until, uint64_t now)
{
	if (until == 0)
		return 0;
	if (until >= now)
		return (int64_t)((until - now) / 1000u);
	return -(int64_t)((now - until) / 1000u);
}

static void gather(const struct cld_status_in *in, struct status_src *s)
{
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->st.index_mem_max = in->index_mem_max;
	s->st.index_bytes_per_uid = in->index_bytes_per_uid;
	if (in->node) {
		s->synced = cl_node_synced(in->node);
		/* this node itself if it waits for its own messages, else the first */
		uint32_t w[CL_MAX_MEMBERS];
		size_t nw = cl_node_sync_waiting(in->node, w, CL_MAX_MEMBERS);
		for (size_t i = 0; i < nw && i < CL_MAX_MEMBERS; i++)
			if (i == 0 || w[i] == in->nodeid)
				s->sync_waiting_for = w[i];
		s->client_holds = cl_node_client_holds(in->node);
		s->valid_ms = ms_left(cl_node_valid_until(in->node), in->now);
		/* revoked (the deadline cut to 0): how long ago, as for one that passed */
		uint64_t since = s->valid_ms ? 0 : cl_node_invalid_since(in->node);
		if (since)
			s->valid_ms = ms_left(since, in->now);
		cl_node_counters(in->node, &s->k);
		s->sm = cl_node_sm(in->node);
	}
	if (!s->sm) {
		s->ring_rep = in->ring_rep;
		s->ring_seq = in->ring_seq;
		return;
	}
	cl_sm_stats(s->sm, &s->st);
	s->caller_bytes = cl_index_uid_bytes(s->sm, in->caller_uid);
	s->ring_rep = s->st.ring.rep;
	s->ring_seq = s->st.ring.seq;

	/* the walks of the whole state: cached for unprivileged callers */
	static struct {
		const struct cl_sm *sm;
		uint64_t at, serial, lsn, hash, local;
		uint32_t nmembers, members[CL_MAX_MEMBERS];
		uint64_t holds[CL_MAX_MEMBERS];
	} cache;
	uint32_t nm = s->st.nmembers < CL_MAX_MEMBERS ? s->st.nmembers : CL_MAX_MEMBERS;
	uint64_t serial = cl_sm_serial(s->sm);
	bool usable = cache.sm == s->sm && cache.nmembers == nm &&
		      memcmp(cache.members, s->st.members, nm * sizeof(uint32_t)) == 0 &&
		      ((cache.serial == serial && cache.lsn == s->st.lsn) ||
		       (!in->fresh && in->now - cache.at < CLD_STATUS_CACHE_US));
	if (!usable) {
		cache.sm = s->sm;
		cache.at = in->now;
		cache.serial = serial;
		cache.lsn = s->st.lsn;
		cache.nmembers = nm;
		cache.local = 0;
		memcpy(cache.members, s->st.members, nm * sizeof(uint32_t));
		for (uint32_t i = 0; i < nm; i++) {
			cache.holds[i] = cl_sm_live_holds_of(s->sm, s->st.members[i]);
			if (s->st.members[i] == in->nodeid)
				cache.local = cache.holds[i];
		}
		cache.hash = cl_node_state_hash(in->node);
	}
	memcpy(s->member_holds, cache.holds, nm * sizeof(uint64_t));
	s->local_leases = cache.local;
	s->state_hash = cache.hash;
}

struct status_enc {
	unsigned char *p;
	size_t off, cap;
	bool full;
};

static void put(struct status_enc *e, const char *key, uint8_t type, uint64_t value)
{
	struct clp_status_rec r;
	size_t keylen = strlen(key);
	if (e->full || keylen > COROLEASE_STATUS_KEY_MAX ||
	    e->cap - e->off < sizeof(r) + keylen) {
		e->full = true;
		return;
	}
	memset(&r, 0, sizeof(r));
	r.value = value;
	r.type = type;
	r.keylen = (uint8_t)keylen;
	memcpy(e->p + e->off, &r, sizeof(r));
	memcpy(e->p + e->off + sizeof(r), key, keylen);
	e->off += sizeof(r) + keylen;
}

static void put_members(struct status_enc *e, const char *prefix, const struct status_src *s)
{
	char key[COROLEASE_STATUS_KEY_MAX + 1];
	for (uint32_t i = 0; i < s->st.nmembers && i < CL_MAX_MEMBERS; i++) {
		snprintf(key, sizeof(key), "%s.%" PRIu32 ".node", prefix, i);
		put(e, key, COROLEASE_STATUS_U64, s->st.members[i]);
		snprintf(key, sizeof(key), "%s.%" PRIu32 ".holds", prefix, i);
		put(e, key, COROLEASE_STATUS_U64, s->member_holds[i]);
	}
}

/*
 * A histogram as prefix.le_B (cumulative counts of samples up to B
 * microseconds, for each bound B), prefix.count (every sample, the +Inf
 * bucket) and prefix.sum_us, in this order: Prometheus's histogram, which
 * the CLI prints as one.  h NULL: all zero.
 */
static void put_hist(struct status_enc *e, const char *prefix, const struct cl_hist *h)
{
	static const struct cl_hist none;
	char key[COROLEASE_STATUS_KEY_MAX + 1];
	uint64_t cum = 0;
	unsigned i = 0;
	if (!h)
		h = &none;
#define STATUS_BUCKET_(b)                                                   \
	cum += h->n[i++];                                                   \
	snprintf(key, sizeof(key), "%s.le_%u", prefix, (unsigned)(b));     \
	put(e, key, COROLEASE_STATUS_U64, cum);
	CL_HIST_BOUNDS_US(STATUS_BUCKET_)
#undef STATUS_BUCKET_
	snprintf(key, sizeof(key), "%s.count", prefix);
	put(e, key, COROLEASE_STATUS_U64, h->count);
	snprintf(key, sizeof(key), "%s.sum_us", prefix);
	put(e, key, COROLEASE_STATUS_U64, h->sum_us);
}

long cld_status_encode(const struct cld_status_in *in, void *buf, size_t cap)
{
	struct status_src src;
	const struct status_src *s = &src;
	struct status_enc e = { buf, 0, cap, false };

	gather(in, &src);
#define STATUS_PUT_(key, type, expr) put(&e, key, COROLEASE_STATUS_##type, (uint64_t)(expr));
#define STATUS_MEMBERS_(prefix) put_members(&e, prefix, s);
#define STATUS_HIST_(prefix, h) put_hist(&e, prefix, h);
	CLD_STATUS_FIELDS(STATUS_PUT_, STATUS_MEMBERS_, STATUS_HIST_)
#undef STATUS_PUT_
#undef STATUS_MEMBERS_
#undef STATUS_HIST_
	return e.full ? -EMSGSIZE : (long)e.off;
}
