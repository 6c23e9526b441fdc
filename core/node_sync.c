/*
 * node_sync.c - the node agent's sync rounds: announcements, the merge
 * winner, and sending and loading the snapshot (doc/state-machine.md).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "node_int.h"

/* ---- sync rounds ---- */

static int member_index(const struct cl_node *n, uint32_t node)
{
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->members[i] == node)
			return (int)i;
	return -1;
}

void nd_sync_reset_buf(struct cl_node *n)
{
	free(n->sync.buf);
	n->sync.buf = NULL;
	n->sync.len = n->sync.cap = 0;
}

void nd_sync_start(struct cl_node *n)
{
	n->sync.active = true;
	n->sync.decided = n->sync.need_load = n->sync.loaded = false;
	n->sync.winner = CL_NODE_NONE;
	n->sync.next_chunk = 0;
	memset(n->sync.ann, 0, sizeof(n->sync.ann));
	nd_sync_reset_buf(n);
	struct cl_msg m = { .type = CL_MSG_SYNC_ANNOUNCE, .ring = n->ring,
			    .mem_max = n->cfg.sm.index_mem_max ? n->cfg.sm.index_mem_max : 64u << 20 };
	if (n->sm) {
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		m.lsn = st.lsn;
		m.q_lsn = st.q_lsn;
		m.term = st.term;
		m.hash = cl_sm_hash(n->sm);
		m.flags = CL_SYNC_HAS_STATE;
	}
	nd_send_msg(n, &m);
}

static void sync_send_snapshot(struct cl_node *n)
{
	uint8_t *buf;
	size_t len;
	if (cl_snap_encode(n->sm, &buf, &len) < 0) {
		nd_fail(n, "encoding a snapshot");
		return;
	}
	size_t chunk = n->cfg.sync_chunk, off = 0;
	uint64_t idx = 0;
	do {
		size_t part = len - off < chunk ? len - off : chunk;
		struct cl_msg m = { .type = CL_MSG_SYNC_CHUNK, .ring = n->ring, .seq = idx++,
				    .flags = off + part == len ? CL_SYNC_LAST_CHUNK : 0, .value = buf + off,
				    .vallen = (uint32_t)part };
		nd_send_msg(n, &m);
		off += part;
	} while (off < len);
	free(buf);
	n->c.snapshots_sent++;
}

/* GRACE_END for fresh state made in ring, due a fence delay from now (node.c). */
static void arm_grace(struct cl_node *n, const struct cl_ring *ring)
{
	n->grace_armed = true;
	n->grace_at = now_us(n) + n->cfg.fence_delay_us;
	n->grace_ring = *ring;
}

static void sync_complete(struct cl_node *n)
{
	n->sync.active = false;
	nd_sync_reset_buf(n);
	n->c.syncs++;
	n->quorum_sent = false;
	if (n->sync.loaded) {
		nd_arm_all_orphans(n);
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		if (st.grace)
			arm_grace(n, &st.grace_ring);   /* a fallback to the creators' timers */
	}
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
		nd_transmit(n, m);
	nd_reconcile(n);
	nd_maybe_send_quorum(n);
}

/* Loads the assembled snapshot.  Returns 0 or a negative code (-ENOMEM among them). */
static int sync_load(struct cl_node *n)
{
	struct cl_sm *fresh = cl_sm_new(&n->cfg.sm, nd_on_action, n);
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

/*
 * Is announcement a a better merge winner than b?  The latest term first (a
 * side that lacks the newest quorate lineage never wins, however much it
 * applied), then q_lsn, then lsn, then the lower node id (ia < ib).
 */
static bool better(const struct cl_node *n, const struct announce *a, uint32_t ia,
		   const struct announce *b, uint32_t ib)
{
	if (!(n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_TERM)) {
		if (cl_ring_after(&a->term, &b->term))
			return true;
		if (cl_ring_after(&b->term, &a->term))
			return false;
	}
	if (a->q_lsn != b->q_lsn)
		return a->q_lsn > b->q_lsn;
	if (a->lsn != b->lsn)
		return a->lsn > b->lsn;
	return ia < ib;
}

/*
 * Nobody has state: every member starts the same empty machine, with the
 * lowest member's index bound, in its grace period (lease.h), and arms the
 * GRACE_END that ends it.
 */
static void start_fresh(struct cl_node *n)
{
	uint32_t low = 0;
	for (uint32_t i = 1; i < n->nmembers; i++)
		if (n->members[i] < n->members[low])
			low = i;
	struct cl_sm_config cfg = n->cfg.sm;
	cfg.index_mem_max = n->sync.ann[low].mem_max;
	n->sm = cl_sm_free(n->sm);
	n->sm = cl_sm_new(&cfg, nd_on_action, n);
	if (!n->sm || cl_sm_confchg(n->sm, &n->ring, n->members, n->nmembers, NULL, 0) == -ENOMEM) {
		nd_fail(n, "creating the state machine");
		return;
	}
	cl_sm_start_grace(n->sm, &n->ring);
	arm_grace(n, &n->ring);
	nd_log(n, LOG_NOTICE, "no member has state: starting empty in ring %u/%llu; nothing is "
	       "granted for the grace period (%llu ms)", n->ring.rep, (unsigned long long)n->ring.seq,
	       (unsigned long long)(n->cfg.fence_delay_us / 1000));
	sync_complete(n);
}

static void sync_decide(struct cl_node *n)
{
	int w = -1;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		if (!a->has_state)
			continue;
		if (w < 0 || better(n, a, n->members[i], &n->sync.ann[w], n->members[w]))
			w = (int)i;
	}
	n->sync.decided = true;
	if (w < 0) {
		start_fresh(n);
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

void nd_on_announce(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
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
	a->term = m->term;
	a->mem_max = m->mem_max ? m->mem_max : 64u << 20;
	for (uint32_t j = 0; j < n->nmembers; j++)
		if (!n->sync.ann[j].got)
			return;
	sync_decide(n);
}

/*
 * Ends the round for this node with no state (logged by the caller): it
 * revokes its clients and stays unsynced, dropping ordinary messages, until
 * a later round (a configuration change with a joiner) gives it state.
 */
static void sync_give_up(struct cl_node *n, const char *why)
{
	n->sm = cl_sm_free(n->sm);
	n->sync.active = false;
	nd_sync_reset_buf(n);
	nd_revoke_all(n, why);
}

void nd_on_chunk(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	if (!n->sync.active || !n->sync.decided || sender != n->sync.winner ||
	    !ring_eq(&m->ring, &n->ring) || m->seq != n->sync.next_chunk)
		return;
	n->sync.next_chunk++;
	if (n->sync.need_load && m->vallen) {
		if (m->vallen > n->cfg.snapshot_max - n->sync.len) {
			/* the buffer never grows past snapshot_max (max_snapshot_bytes) */
			nd_log(n, LOG_ERR, "snapshot from node %u refused: larger than max_snapshot_bytes "
			       "(%llu bytes; chunk %llu would make %llu); this node stays unsynced, with "
			       "no state, until a node joins (raise max_snapshot_bytes and restart "
			       "coroleased)", sender, (unsigned long long)n->cfg.snapshot_max,
			       (unsigned long long)m->seq,
			       (unsigned long long)n->sync.len + m->vallen);
			n->c.snapshots_refused++;
			sync_give_up(n, "snapshot too large");
			return;
		}
		if (n->sync.len + m->vallen > n->sync.cap) {
			size_t cap = n->sync.cap ? n->sync.cap : 1u << 20;
			while (cap < n->sync.len + m->vallen)
				cap *= 2;
			if (cap > n->cfg.snapshot_max)
				cap = (size_t)n->cfg.snapshot_max;
			uint8_t *b = realloc(n->sync.buf, cap);
			if (!b) {
				nd_fail(n, "receiving a snapshot");
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
			nd_fail(n, "loading a snapshot");
			return;
		}
		if (rc < 0) {
			/*
			 * Cannot happen with a correct peer.  Keep no state rather
			 * than a wrong one: the next round (any confchg) retries.
			 */
			nd_log(n, LOG_CRIT, "snapshot from node %u rejected (%d); state dropped",
			     sender, rc);
			sync_give_up(n, "snapshot rejected");
			return;
		}
	}
	sync_complete(n);
}
