/*
 * node_sync.c - the node agent's sync rounds: announcements, the merge
 * winner, and sending and loading the snapshot (doc/state-machine.md).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "node_int.h"

/* ---- sync rounds ---- */

void nd_sync_reset_buf(struct cl_node *n)
{
	free(n->sync.buf);
	n->sync.buf = NULL;
	n->sync.len = n->sync.cap = 0;
	for (uint32_t i = 0; i < CL_MAX_MEMBERS; i++) {
		free(n->sync.ann[i].holds);
		n->sync.ann[i].holds = NULL;
		n->sync.ann[i].holds_len = n->sync.ann[i].holds_cap = 0;
	}
}

/* Appends len bytes to *buf (len_r, cap_r).  0 or -ENOMEM. */
static int buf_append(uint8_t **buf, size_t *len_r, size_t *cap_r, const void *p, size_t len)
{
	if (*len_r + len > *cap_r) {
		size_t cap = *cap_r ? *cap_r : 4096;
		while (cap < *len_r + len)
			cap *= 2;
		uint8_t *b = realloc(*buf, cap);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap_r = cap;
	}
	memcpy(*buf + *len_r, p, len);
	*len_r += len;
	return 0;
}

/* ---- own live holds, for SYNC_HOLDS: u16 namelen | name | u8 mode | u64 epoch ---- */

struct holds_enc {
	uint8_t *buf;
	size_t len, cap;
	uint64_t n;
	bool oom;
};

static void enc_hold(void *ctx, const uint8_t *name, uint16_t namelen, const struct cl_hold_info *h)
{
	struct holds_enc *e = ctx;
	if (h->orphan_seq || e->oom)
		return;
	uint8_t hdr[2], tail[9];
	cl_put_u16(hdr, namelen);
	tail[0] = h->mode;
	cl_put_u64(tail + 1, h->epoch);
	if (buf_append(&e->buf, &e->len, &e->cap, hdr, 2) < 0 ||
	    buf_append(&e->buf, &e->len, &e->cap, name, namelen) < 0 ||
	    buf_append(&e->buf, &e->len, &e->cap, tail, sizeof(tail)) < 0)
		e->oom = true;
	e->n++;
}

/*
 * Rounds and their messages.  A round restarts at every configuration
 * change during it, and a member's messages sent before it processed that
 * change may be delivered after it, in the restarted round (its corosync
 * or its own retry queue held them): an ANNOUNCE describing the state
 * before the change (a departed daemon's holds not yet orphaned: sim seed
 * 354234, where the winner's snapshot then failed the losers' hash check),
 * or the chunks and hold lists of the round before.  So:
 *
 * - Every round a node starts has a round id of its own, larger than all
 *   its earlier ones (and above the boot clock's microseconds, so a daemon
 *   restarted on the node cannot reuse one of its predecessor's), carried by
 *   its ANNOUNCE and by every SYNC_CHUNK and SYNC_HOLDS it sends for it.
 * - An ANNOUNCE counts only once its sender has confirmed it: when the
 *   sender delivers its own ANNOUNCE and that is the announce of the round it
 *   is in (no round of its own began since it was sent), it sends the same
 *   ANNOUNCE again with CL_SYNC_CONFIRM.  A receiver keeps each member's
 *   latest ANNOUNCE of the round (a later one replaces it), marks it
 *   confirmed when a confirmation of that round id from that member comes,
 *   and decides when every member's is confirmed.
 *
 * Why this is enough, on every member alike: a configuration change C is in
 * the same place of the agreed order for every member of the group after
 * it, and every member restarts its round there (cl_node_confchg(); a
 * member that had none joins at the first announce, below).  Take the
 * announce a counts for member X after C, and X's confirmation of it.  X
 * sent the confirmation on delivering a, so a was delivered after C, and X
 * had processed C before that delivery (X delivers in the same order); X
 * confirms only the announce of the round it is in, and its round began
 * at C or later, so a was sent after X processed C: a describes X's state
 * after C.  A confirmation sent before C is of an announce delivered before
 * C (X confirms at delivery), which no member still has after C: the
 * receivers' rounds restarted there and a later announce of X has another
 * id.  Nothing here depends on what a member saw before it joined, so a
 * member that joined mid-ring, or a daemon that left and came back (its
 * earlier incarnation's messages are all delivered before its leave), judges
 * like the others; a member that processes several changes late sends an
 * announce for each, and only the last one, of the round it ends up in, is
 * confirmed.  A single announce could not be enough: a daemon that joins
 * knows nothing from before its join, so it cannot tell an announce a
 * member sent for an earlier round (say, before this daemon's previous
 * incarnation left) from one sent for this one; only the sender can, once
 * it delivers it, hence the confirmation.
 *
 * The state a member announced does not change before the round is decided
 * (ordinary messages are dropped during a round; a change restarts it), so
 * the winner's snapshot has the hash it announced.  The chunks and hold
 * lists of a round carry the round id of their sender's counted announce,
 * and a receiver takes only those: ones sent for an earlier round (before
 * a restart) carry an older id.
 */

/* Drops own sync messages not yet handed to the transport: a new round makes them stale. */
static void drop_queued_sync(struct cl_node *n)
{
	struct cl_list keep = CL_LIST_INIT(keep);
	struct outmsg *m;
	nd_snap_stop(n);   /* and what it has not encoded yet */
	while ((m = q_pop(&n->retry))) {
		if (is_sync_type(m->type))
			nd_outmsg_free(n, m);
		else
			q_push(&keep, m);
	}
	cl_list_splice_tail(&n->retry, &keep);   /* (dst, src) */
}

/* Starts a round; with_carry: the announces members made after the last decision are its first. */
static void sync_begin(struct cl_node *n, bool with_carry)
{
	if (!n->sync.active) {
		n->sync.started_at = now_us(n);   /* a round restarted in a new ring: from the first */
		n->sync.slow_logged = false;
	}
	n->sync.active = true;
	nd_sync_reset_buf(n);   /* before the announces are cleared: it frees their buffers */
	n->sync.decided = n->sync.need_load = n->sync.loaded = false;
	n->sync.snap_due = n->sync.snap_done = n->sync.again = false;
	n->sync.winner = CL_NODE_NONE;
	n->sync.next_chunk = 0;
	if (with_carry)
		memcpy(n->sync.ann, n->sync.carry, sizeof(n->sync.ann));
	else
		memset(n->sync.ann, 0, sizeof(n->sync.ann));
	memset(n->sync.carry, 0, sizeof(n->sync.carry));
	uint64_t now = now_us(n);
	n->sync.round = n->sync.round + 1 > now ? n->sync.round + 1 : now;
	struct cl_msg m = { .type = CL_MSG_SYNC_ANNOUNCE, .ring = n->ring, .round = n->sync.round,
			    .mem_max = n->cfg.sm.index_mem_max ? n->cfg.sm.index_mem_max : 64u << 20,
			    .per_uid_max = n->cfg.sm.index_bytes_per_uid,
			    .epoch_floor = n->epoch_kept, .term_seen = n->term_known };
	if (n->sm) {
		struct cl_sm_stats st;
		cl_sm_stats(n->sm, &st);
		m.lsn = st.lsn;
		m.q_lsn = st.q_lsn;
		m.term = st.term;
		m.hash = cl_sm_hash(n->sm);
		if (st.epoch > m.epoch_floor)
			m.epoch_floor = st.epoch;
		if (cl_ring_after(&st.term, &m.term_seen))
			m.term_seen = st.term;
		m.flags = CL_SYNC_HAS_STATE;
		if (n->stale)
			m.flags |= CL_SYNC_STALE;
		if (cl_sm_live_holds_of(n->sm, n->me))
			m.flags |= CL_SYNC_HAS_HOLDS;
	}
	if (nd_totem_gap(n))
		m.flags |= CL_SYNC_TOTEM_GAP;
	n->sync.mine = m;
	nd_send_msg(n, &m);
}

/*
 * A round started by a configuration change, at which every member in a
 * round restarts it: what this node still has queued of an earlier round is
 * of use to no one.  (Not so for a round joined at an announce, below: the
 * others may still wait for the hold list of a round this node gave up.)
 */
void nd_sync_start(struct cl_node *n)
{
	drop_queued_sync(n);
	sync_begin(n, false);
}

/* The round id of member index i's counted announce (this round's). */
static uint64_t round_of(const struct cl_node *n, int i)
{
	return i >= 0 ? n->sync.ann[i].round : 0;
}

/* Stops sending the snapshot (a new round, a lost transport, the state gone). */
void nd_snap_stop(struct cl_node *n)
{
	cl_snap_stream_free(n->sync.stream);
	free(n->sync.stream_buf);
	n->sync.stream = NULL;
	n->sync.stream_buf = NULL;
}

/*
 * Sends the next chunks of the snapshot while nothing of this node waits for
 * the transport or the send window (node_out.c): each is encoded when it can
 * go, so a large state never stops the loop for long, and heartbeats and
 * acks go out between chunks.  Called when the snapshot is due, when an own
 * message comes back (the window moved on) and at each tick.  The machine
 * does not change while a round is open (inputs wait); should it have (a
 * round joined at an announce and completed meanwhile: every member has
 * moved on from this one), the rest is not sent.
 */
void nd_snap_pump(struct cl_node *n)
{
	while (n->sync.stream && !n->failed && cl_list_empty(&n->retry)) {
		if (!n->sm || cl_sm_serial(n->sm) != n->sync.stream_serial) {
			nd_snap_stop(n);   /* the machine it reads is gone: never touch it */
			return;
		}
		bool last;
		long got = cl_snap_stream_read(n->sync.stream, n->sync.stream_buf, n->cfg.sync_chunk,
					       &last);
		if (got < 0) {
			nd_snap_stop(n);
			if (got == -ENOMEM)
				nd_fail(n, "encoding a snapshot");
			else
				nd_log(n, LOG_NOTICE, "sync: the state changed while its snapshot was "
				       "sent (%ld); the rest is not sent", got);
			return;
		}
		struct cl_msg m = { .type = CL_MSG_SYNC_CHUNK, .ring = n->ring,
				    .seq = n->sync.stream_idx++, .round = n->sync.stream_round,
				    .flags = last ? CL_SYNC_LAST_CHUNK : 0, .value = n->sync.stream_buf,
				    .vallen = (uint32_t)got };
		nd_send_msg(n, &m);
		if (last) {
			nd_snap_stop(n);
			n->c.snapshots_sent++;
		}
	}
}

static void sync_send_snapshot(struct cl_node *n)
{
	int rc = -ENOMEM;
	nd_snap_stop(n);
	n->sync.stream = cl_snap_stream_new(n->sm, &rc);
	n->sync.stream_buf = malloc(n->cfg.sync_chunk);
	if (!n->sync.stream || !n->sync.stream_buf) {
		nd_snap_stop(n);
		nd_fail(n, "encoding a snapshot");
		return;
	}
	n->sync.stream_serial = cl_sm_serial(n->sm);
	n->sync.stream_round = round_of(n, nd_member_index(n, n->me));
	n->sync.stream_idx = 0;
	nd_snap_pump(n);
}

/* GRACE_END for fresh state made in ring, due a fence delay from now (node.c). */
static void arm_grace(struct cl_node *n, const struct cl_ring *ring)
{
	n->grace_armed = true;
	n->grace_at = now_us(n) + n->cfg.fence_delay_us;
	n->grace_ring = *ring;
}

/*
 * Sends this loser's own live holds (SYNC_HOLDS chunks) from its state as it
 * was before the round, so that every node can give those the loaded state
 * drops the fence wait of orphans.
 */
static void sync_send_holds(struct cl_node *n)
{
	struct holds_enc e = { 0 };
	/*
	 * The state announced may be gone by the time the round is decided
	 * (sim seed 354234: a snapshot of the round before was rejected and
	 * sync_give_up() dropped it between this node's ANNOUNCE and the
	 * others'): its clients were revoked then, and an empty list still
	 * ends this node's part of the round for everyone.
	 */
	if (n->sm)
		cl_sm_foreach_hold_of(n->sm, n->me, enc_hold, &e);
	else
		nd_log(n, LOG_WARNING, "sync in ring %u/%llu: the state this node announced was "
		       "dropped since; it reports no live holds", n->ring.rep,
		       (unsigned long long)n->ring.seq);
	if (e.oom) {
		free(e.buf);
		nd_fail(n, "encoding the holds a load drops");
		return;
	}
	size_t chunk = n->cfg.sync_chunk, off = 0;
	uint64_t idx = 0;
	do {
		size_t part = e.len - off < chunk ? e.len - off : chunk;
		struct cl_msg m = { .type = CL_MSG_SYNC_HOLDS, .ring = n->ring, .seq = idx++,
				    .round = round_of(n, nd_member_index(n, n->me)),
				    .flags = off + part == e.len ? CL_SYNC_LAST_CHUNK : 0,
				    .value = e.buf ? e.buf + off : NULL, .vallen = (uint32_t)part };
		nd_send_msg(n, &m);
		off += part;
	} while (off < e.len);
	free(e.buf);
	nd_log(n, LOG_NOTICE, "this node's state lost the merge: its %llu live holds not in the "
	       "winner's state become orphans until it recovers them", (unsigned long long)e.n);
}

/*
 * Gives every hold a loser had and the loaded state dropped the fence wait
 * of an orphan (doc/state-machine.md), on every node in the same order.
 * A malformed list is used up to its first bad record, alike everywhere.
 */
static void apply_dropped(struct cl_node *n)
{
	bool any = false;
	for (uint32_t i = 0; i < n->nmembers; i++)
		any |= n->sync.ann[i].holds_due;
	if (!any)
		return;
	uint64_t seq = cl_sm_begin_dropped(n->sm);
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		if (!a->holds_due)
			continue;
		size_t off = 0;
		while (off + 2 <= a->holds_len) {
			uint16_t namelen = cl_get_u16(a->holds + off);
			if (off + 2 + namelen + 9 > a->holds_len)
				break;
			const uint8_t *name = a->holds + off + 2;
			uint8_t mode = name[namelen];
			uint64_t epoch = cl_get_u64(name + namelen + 1);
			int rc = cl_sm_orphan_dropped(n->sm, n->members[i], name, namelen, mode, epoch, seq);
			if (rc == -ENOMEM) {
				nd_fail(n, "orphaning the holds a load dropped");
				return;
			}
			if (rc < 0)
				break;
			off += 2 + namelen + 9;
		}
		if (off != a->holds_len)
			nd_log(n, LOG_ERR, "malformed hold list from node %u ignored after %zu bytes",
			       n->members[i], off);
	}
}

/*
 * State in its grace period has granted nothing yet, and the term it begins
 * when the grace period ends may be the very ring in which a lost lineage
 * granted (every daemon that had that lineage died while corosync ran on).
 * So at the end of every round, whether the state was made in it, loaded or
 * kept, state still in grace raises its epoch counter to the highest epoch
 * floor a member announced: a node of the lost lineage may join while the
 * grace period runs.  Every member does so at the same point, with the same
 * announcements, so the replicas stay alike.  And this node's grace period
 * no longer waits for those members, should their daemons leave again
 * (grace_tick()).
 */
static void take_epoch_floors(struct cl_node *n)
{
	struct cl_sm_stats st;
	cl_sm_stats(n->sm, &st);
	if (!st.grace)
		return;
	uint64_t floor = 0;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		if (n->sync.ann[i].epoch_floor > floor)
			floor = n->sync.ann[i].epoch_floor;
		/* its floor is in: the grace period need not wait for it (node.c) */
		nd_grace_excuse(n, &st.grace_ring, n->members[i]);
	}
	cl_sm_raise_epoch(n->sm, floor);
}

/*
 * The newest term a member of this round knows a state had, and the newest
 * term of the states present: when the first is newer, the replica of that
 * term is absent (cut off, stalled, paused, or every daemon that had it
 * restarted), and state of an older term, or fresh state, must not serve:
 * writes acknowledged in that term would be lost, and the term this state
 * would take here would outrank that lineage at the heal.  So the state the
 * round ends with waits in grace (grants, index writes and recovery are
 * refused, and no term begins) until a member with state of that term joins
 * (its state wins the next round) or grace_tick() finds that state gone
 * everywhere or fence-acked (node.c).  From the announces alone, before any
 * merge of terms, at the same point on every member, so the replicas stay
 * alike.
 */
static void await_newest_term(struct cl_node *n)
{
	if (!n->sm || (n->cfg.sm.unsafe_flags & CL_UNSAFE_NO_TERM))
		return;
	struct cl_ring known = { 0, 0 }, have = { 0, 0 };
	bool gap = false;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		if (cl_ring_after(&a->term_seen, &known))
			known = a->term_seen;
		if (a->has_state && cl_ring_after(&a->term, &have))
			have = a->term;
		gap |= a->totem_gap;
	}
	int w = nd_member_index(n, n->sync.winner);
	/*
	 * The winner's state was not serving when this ring began (cut off or
	 * paused since its term), it would begin a term here, and a node of the
	 * corosync ring has no daemon in the group: that daemon may have died
	 * with a newer term before announcing it (sim seed 444452 on b02f31a:
	 * node 4, back from a pause, formed a ring with node 3, whose daemon
	 * died 4 ms later; node 4 alone began a term over node 3's).  Wait for
	 * it as fresh state does (grace_awaited()).
	 */
	bool stale_gap = w >= 0 && n->sync.ann[w].stale && gap && cl_ring_after(&n->ring, &have);
	if (!cl_ring_after(&known, &have) && !stale_gap)
		return;
	struct cl_sm_stats st;
	cl_sm_stats(n->sm, &st);
	if (st.grace)
		return;   /* fresh state, or it waits already */
	cl_sm_start_grace(n->sm, &n->ring);
	arm_grace(n, &n->ring);
	if (cl_ring_after(&known, &have))
		nd_log(n, LOG_WARNING, "sync in ring %u/%llu: a member knows of term %u/%llu, newer "
		       "than every state present (the newest: term %u/%llu): the state waits in "
		       "grace, granting nothing, until a node with state of that term joins",
		       n->ring.rep, (unsigned long long)n->ring.seq, known.rep,
		       (unsigned long long)known.seq, have.rep, (unsigned long long)have.seq);
	else
		nd_log(n, LOG_WARNING, "sync in ring %u/%llu: the state (term %u/%llu) was not "
		       "quorate when the ring began, and a node of the corosync ring has no "
		       "coroleased in the group: the state waits in grace, granting nothing, for that "
		       "node's coroleased (it may have a newer term) or a fence-ack", n->ring.rep,
		       (unsigned long long)n->ring.seq, have.rep, (unsigned long long)have.seq);
}

static void sync_complete(struct cl_node *n)
{
	take_epoch_floors(n);
	{
		struct cl_sm_stats ts;
		cl_sm_stats(n->sm, &ts);
		nd_note_term(n, &ts.term);
	}
	if (!n->sync.loaded)
		nd_writes_kept(n);   /* every member now has this node's state */
	n->sync.active = false;
	n->wait_over_round = false;   /* that round's own: a later one is not such a round */
	nd_sync_reset_buf(n);
	n->c.syncs++;
	uint64_t now = now_us(n);
	uint64_t took = now > n->sync.started_at ? now - n->sync.started_at : 0;
	cl_hist_add(&n->c.sync, took);
	if (n->sync.slow_logged)
		nd_log(n, LOG_NOTICE, "sync in ring %u/%llu done after %llu ms", n->ring.rep,
		       (unsigned long long)n->ring.seq, (unsigned long long)(took / 1000u));
	n->quorum_sent = false;
	bool dropped = false;
	for (uint32_t i = 0; i < n->nmembers; i++)
		dropped |= n->sync.ann[i].holds_due;
	if (n->sync.loaded || dropped) {
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
			nd_outmsg_free(n, m);   /* stale by nature: re-derived below */
		else
			q_push(&keep, m);
	}
	cl_list_splice_tail(&keep, &n->pending);
	while ((m = q_pop(&keep)))
		nd_transmit(n, m);
	/*
	 * A state loaded (or holds dropped) may disagree with the local view
	 * anywhere: the whole reconcile now.  One kept changed only through
	 * actions this node saw, and may be reconciled over the loop.
	 */
	if (n->sync.loaded || n->sync.load_unreconciled || dropped)
		nd_reconcile_now(n);
	else
		nd_reconcile(n);
	n->sync.load_unreconciled = false;
	nd_maybe_send_quorum(n);
	if (n->sync.again && !n->failed) {
		nd_log(n, LOG_NOTICE, "a member announced again during the sync in ring %u/%llu: "
		       "another round", n->ring.rep, (unsigned long long)n->ring.seq);
		sync_begin(n, true);
	}
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
	n->sync.load_unreconciled = true;
	n->departures++;   /* writes applied before the load are checked against it */
	n->c.snapshots_loaded++;
	/* the index limits are the lineage's (fixed when its fresh state was made) */
	struct cl_sm_stats st;
	cl_sm_stats(fresh, &st);
	uint64_t mem_max = n->cfg.sm.index_mem_max ? n->cfg.sm.index_mem_max : 64u << 20;
	if (st.index_mem_max != mem_max || st.index_bytes_per_uid != n->cfg.sm.index_bytes_per_uid)
		nd_log(n, LOG_NOTICE, "the cluster's state keeps index_mem_max %llu and "
		       "index_bytes_per_uid %llu, not this node's %llu and %llu: every replica "
		       "applies the limits the state was made with (restart every node to change them)",
		       (unsigned long long)st.index_mem_max, (unsigned long long)st.index_bytes_per_uid,
		       (unsigned long long)mem_max,
		       (unsigned long long)n->cfg.sm.index_bytes_per_uid);
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
 * lowest member's index bound and per-uid quota, in its grace period (lease.h), and arms the
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
	cfg.index_bytes_per_uid = n->sync.ann[low].per_uid_max;
	n->sm = cl_sm_free(n->sm);
	n->sm = cl_sm_new(&cfg, nd_on_action, n);
	if (!n->sm || cl_sm_confchg(n->sm, &n->ring, n->members, n->nmembers, NULL, 0) == -ENOMEM) {
		nd_fail(n, "creating the state machine");
		return;
	}
	cl_sm_start_grace(n->sm, &n->ring);   /* sync_complete() raises it to the floors */
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
	nd_log(n, LOG_INFO, "sync in ring %u/%llu: node %u's state wins (term %u/%llu, q_lsn %llu, "
	       "lsn %llu)", n->ring.rep, (unsigned long long)n->ring.seq, n->sync.winner,
	       n->sync.ann[w].term.rep, (unsigned long long)n->sync.ann[w].term.seq,
	       (unsigned long long)n->sync.ann[w].q_lsn, (unsigned long long)n->sync.ann[w].lsn);
	bool any_need = false;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		struct announce *a = &n->sync.ann[i];
		if (!a->has_state || a->hash != n->sync.win_hash)
			any_need = true;
		/* a loser with live holds of its own tells which (the load drops them) */
		a->holds_due = a->has_state && a->hash != n->sync.win_hash && a->has_holds;
	}
	int me = nd_member_index(n, n->me);
	n->sync.need_load = me >= 0 &&
		(!n->sync.ann[me].has_state || n->sync.ann[me].hash != n->sync.win_hash);
	n->sync.snap_due = any_need;
	if (!any_need) {
		await_newest_term(n);
		sync_complete(n);
		return;
	}
	if (n->sync.winner == n->me)
		sync_send_snapshot(n);
	if (me >= 0 && n->sync.ann[me].holds_due && !n->failed)
		sync_send_holds(n);
}

/*
 * When members brought state of different terms (diverged lineages: a split
 * whose sides were both fence-acked, say), the merged lineage starts a new
 * term in this ring, so that no epoch the losing side gave out is reused.
 */
static void merge_terms(struct cl_node *n)
{
	int w = nd_member_index(n, n->sync.winner);
	if (w < 0)
		return;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		if (a->has_state && !ring_eq(&a->term, &n->sync.ann[w].term)) {
			cl_sm_merge_term(n->sm, &n->ring);
			struct cl_sm_stats st;
			cl_sm_stats(n->sm, &st);
			/*
			 * Info, not notice: an ordinary heal gets here too (the side
			 * that was cut off and could not grant kept an older term)
			 */
			if (ring_eq(&st.term, &n->ring))
				nd_log(n, LOG_INFO, "sync: the members' states were of different terms; "
				       "term %u/%llu begins (epochs go above both sides')", n->ring.rep,
				       (unsigned long long)n->ring.seq);
			return;
		}
	}
}

size_t cl_node_sync_waiting(const struct cl_node *n, uint32_t *out, size_t max)
{
	size_t k = 0;
	if (!n->sync.active)
		return 0;
	for (uint32_t i = 0; i < n->nmembers; i++) {
		const struct announce *a = &n->sync.ann[i];
		bool waits = n->sync.decided
			? (a->holds_due && !a->holds_done) ||
			  (n->sync.snap_due && !n->sync.snap_done && n->members[i] == n->sync.winner)
			: !a->got || !a->confirmed;
		if (!waits)
			continue;
		if (k < max)
			out[k] = n->members[i];
		k++;
	}
	return k;
}

uint64_t nd_sync_slow_at(const struct cl_node *n)
{
	if (!n->sync.active || n->sync.slow_logged)
		return CL_TIME_NEVER;
	return n->sync.started_at + ND_SYNC_SLOW_US;
}

void nd_sync_slow_check(struct cl_node *n, uint64_t now)
{
	if (now < nd_sync_slow_at(n))
		return;
	n->sync.slow_logged = true;
	uint32_t w[8];
	size_t k = cl_node_sync_waiting(n, w, 8);
	char who[8 * 12 + 8] = "";
	size_t off = 0;
	for (size_t i = 0; i < k && i < 8; i++)
		off += (size_t)snprintf(who + off, sizeof(who) - off, "%s%u", i ? ", " : "", w[i]);
	if (k > 8)
		snprintf(who + off, sizeof(who) - off, ", ...");
	nd_log(n, LOG_WARNING, "sync in ring %u/%llu still running after %llu ms, waiting for "
	       "node(s) %s%s (a coroleased hung while its corosync runs holds every node's round "
	       "until it runs again or leaves)", n->ring.rep, (unsigned long long)n->ring.seq,
	       (unsigned long long)((now - n->sync.started_at) / 1000u), k ? who : "(none)",
	       k == 1 && w[0] == n->me ? ": this node's own messages have not come back" : "");
}

/* Ends the round once the snapshot (if any) and every due hold list are in. */
static void sync_try_complete(struct cl_node *n)
{
	if (n->sync.snap_due && !n->sync.snap_done)
		return;
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->sync.ann[i].holds_due && !n->sync.ann[i].holds_done)
			return;
	await_newest_term(n);
	merge_terms(n);
	apply_dropped(n);
	if (!n->failed)
		sync_complete(n);
}

/* Decides the round once every member's announce is in and confirmed. */
static void sync_try_decide(struct cl_node *n)
{
	for (uint32_t j = 0; j < n->nmembers; j++)
		if (!n->sync.ann[j].got || !n->sync.ann[j].confirmed)
			return;
	sync_decide(n);
}

/*
 * An announce opens a round on every member that receives it, in the same
 * place of the agreed order.  CPG does not give every member the same view
 * of a membership change: a node cut off for a moment can see the others
 * leave and join again while they see nothing (no joiner: no round of their
 * own).  So a member's announce in the current ring starts a round here
 * when none is active (its round needs this node's announce), and one that
 * comes after this round's decision asks for one more round, whose first
 * announce it is (kept in carry with its confirmation, if that comes too
 * before the next round begins).  Only confirmed announces count (see the
 * top of this file).
 */
void nd_on_announce(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	int i = nd_member_index(n, sender);
	if (i < 0 || !ring_eq(&m->ring, &n->ring))
		return;
	if (m->flags & CL_SYNC_CONFIRM) {
		if (!n->sync.active)
			return;
		struct announce *a = n->sync.decided ? &n->sync.carry[i] : &n->sync.ann[i];
		if (!a->got || a->round != m->round)
			return;   /* of an announce this round does not count (an earlier one's) */
		a->confirmed = true;
		if (!n->sync.decided)
			sync_try_decide(n);
		return;
	}
	if (!n->sync.active) {
		nd_log(n, LOG_NOTICE, "node %u started a sync in ring %u/%llu that this node's view of "
		       "the group did not ask for: joining it", sender, n->ring.rep,
		       (unsigned long long)n->ring.seq);
		sync_begin(n, false);
		if (n->failed)
			return;
	}
	struct announce *a = &n->sync.ann[i];
	if (n->sync.decided) {
		n->sync.again = true;
		a = &n->sync.carry[i];
	}
	if (a->got && a->round != m->round)
		nd_log(n, LOG_INFO, "sync in ring %u/%llu: node %u announced round %llu, replacing its "
		       "%s round %llu", n->ring.rep, (unsigned long long)n->ring.seq, sender,
		       (unsigned long long)m->round, a->confirmed ? "confirmed" : "unconfirmed",
		       (unsigned long long)a->round);
	a->got = true;
	a->confirmed = false;
	a->round = m->round;
	a->has_state = m->flags & CL_SYNC_HAS_STATE;
	a->has_holds = m->flags & CL_SYNC_HAS_HOLDS;
	a->stale = m->flags & CL_SYNC_STALE;
	a->totem_gap = m->flags & CL_SYNC_TOTEM_GAP;
	a->lsn = m->lsn;
	a->q_lsn = m->q_lsn;
	a->hash = m->hash;
	a->term = m->term;
	a->mem_max = m->mem_max ? m->mem_max : 64u << 20;
	a->per_uid_max = m->per_uid_max;
	a->epoch_floor = m->epoch_floor;
	a->term_seen = m->term_seen;
	/* a member had (or knew of) state of these terms: keep the newest */
	nd_note_term(n, &m->term_seen);
	if (a->has_state)
		nd_note_term(n, &m->term);
	/* our own announce of the round we are in: confirm it (its answer decides) */
	if (sender == n->me && !n->sync.decided && m->round == n->sync.round) {
		struct cl_msg c = n->sync.mine;
		c.flags |= CL_SYNC_CONFIRM;
		nd_send_msg(n, &c);
	}
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
	n->wait_over_round = false;
	nd_sync_reset_buf(n);
	nd_revoke_all(n, why);
}

void nd_on_chunk(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	if (!n->sync.active || !n->sync.decided || sender != n->sync.winner ||
	    !ring_eq(&m->ring, &n->ring) || m->round != round_of(n, nd_member_index(n, sender)) ||
	    m->seq != n->sync.next_chunk)
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
	n->sync.snap_done = true;
	sync_try_complete(n);
}

void nd_on_holds(struct cl_node *n, uint32_t sender, const struct cl_msg *m)
{
	int i = nd_member_index(n, sender);
	if (!n->sync.active || !n->sync.decided || i < 0 || !ring_eq(&m->ring, &n->ring))
		return;
	struct announce *a = &n->sync.ann[i];
	if (!a->holds_due || a->holds_done || m->round != a->round || m->seq != a->holds_next)
		return;
	a->holds_next++;
	if (m->vallen && buf_append(&a->holds, &a->holds_len, &a->holds_cap, m->value, m->vallen) < 0) {
		nd_fail(n, "receiving the holds a load drops");
		return;
	}
	if (!(m->flags & CL_SYNC_LAST_CHUNK))
		return;
	a->holds_done = true;
	sync_try_complete(n);
}
