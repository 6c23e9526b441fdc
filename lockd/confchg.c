/*
 * confchg.c - merging CPG configuration changes.  Contract and the corosync
 * ordering it relies on: confchg.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "confchg.h"
#include "logf.h"

static void logf_(const struct cld_confchg *m, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void logf_(const struct cld_confchg *m, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cl_vlogf(m->ops->log, m->ctx, level, fmt, ap);
	va_end(ap);
}

const char *cld_cc_reason_name(uint32_t reason)
{
	switch (reason) {
	case CLD_CC_JOIN: return "join";
	case CLD_CC_LEAVE: return "leave";
	case CLD_CC_NODEDOWN: return "nodedown";
	case CLD_CC_NODEUP: return "nodeup";
	case CLD_CC_PROCDOWN: return "procdown";
	default: return "?";
	}
}

void cld_confchg_init(struct cld_confchg *m, uint32_t self_nodeid, uint32_t self_pid,
		      const struct cld_confchg_ops *ops, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->ops = ops;
	m->ctx = ctx;
	m->self_nodeid = self_nodeid;
	m->self_pid = self_pid;
}

static void add_unique(uint32_t *set, size_t *n, uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == id)
			return;
	if (*n < CL_MAX_MEMBERS)
		set[(*n)++] = id;
}

static void remove_id(uint32_t *set, size_t *n, uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == id) {
			set[i] = set[--*n];
			return;
		}
}

static bool is_member(const struct cld_confchg *m, uint32_t id)
{
	for (size_t k = 0; k < m->nmembers; k++)
		if (m->members[k] == id)
			return true;
	return false;
}

static bool membership_reason(uint32_t reason)
{
	return reason == CLD_CC_NODEDOWN || reason == CLD_CC_NODEUP;
}

/* Passes the accumulated change on with the current ring. */
static void flush(struct cld_confchg *m)
{
	m->held = false;
	if (!m->joined) {
		m->nleft = m->njoined = 0;
		return;
	}
	char buf[256];
	int off = 0;
	for (size_t i = 0; i < m->nmembers && off < (int)sizeof(buf) - 12; i++)
		off += snprintf(buf + off, sizeof(buf) - (size_t)off, " %u", m->members[i]);
	logf_(m, LOG_INFO, "configuration ring %u/%llu members:%s (left %zu, joined %zu)",
	      m->ring.rep, (unsigned long long)m->ring.seq, off ? buf : " none", m->nleft,
	      m->njoined);
	struct cld_change ch = {
		.ring = m->ring,
		.members = m->members, .nmembers = m->nmembers,
		.left = m->left, .nleft = m->nleft,
		.joined = m->joined_ids, .njoined = m->njoined,
	};
	m->ops->change(m->ctx, &ch);
	m->nleft = m->njoined = 0;
}

/* The pid that speaks for nodeid, or 0. */
static uint32_t owner_of(const struct cld_confchg *m, uint32_t nodeid)
{
	for (size_t i = 0; i < m->nowner; i++)
		if (m->owner[i].nodeid == nodeid)
			return m->owner[i].pid;
	return 0;
}

static void owner_set(struct cld_confchg *m, uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < m->nowner; i++)
		if (m->owner[i].nodeid == nodeid) {
			m->owner[i].pid = pid;
			return;
		}
	if (m->nowner < CL_MAX_MEMBERS) {
		m->owner[m->nowner].nodeid = nodeid;
		m->owner[m->nowner++].pid = pid;
	}
}

static void owner_drop(struct cld_confchg *m, uint32_t nodeid)
{
	for (size_t i = 0; i < m->nowner; i++)
		if (m->owner[i].nodeid == nodeid) {
			m->owner[i] = m->owner[--m->nowner];
			return;
		}
}

static bool in_list(const struct cld_cc_addr *a, size_t n, uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].nodeid == nodeid && a[i].pid == pid)
			return true;
	return false;
}

/*
 * Who speaks for each node, from a group confchg: a member already known
 * keeps its node; a node's first member is known from this change on (when
 * we join, the members that did not join with us were there first); of
 * several processes of one node that appear together, the lowest pid.
 */
static void learn_owners(struct cld_confchg *m, const struct cld_cc_addr *members, size_t nmembers,
			 const struct cld_cc_addr *joined, size_t njoined)
{
	for (size_t pass = 0; pass < 2; pass++) {   /* the earlier members first, then the joiners */
		for (size_t i = 0; i < nmembers; i++) {
			uint32_t id = members[i].nodeid, pid = members[i].pid, cur = owner_of(m, id);
			if (in_list(joined, njoined, id, pid) != (pass == 1))
				continue;
			if (cur && in_list(members, nmembers, id, cur))
				continue;   /* still there: it keeps the node */
			bool lowest = true;
			for (size_t k = 0; k < nmembers; k++)
				if (members[k].nodeid == id && members[k].pid < pid &&
				    in_list(joined, njoined, id, members[k].pid) == (pass == 1))
					lowest = false;
			if (lowest)
				owner_set(m, id, pid);
		}
	}
}

bool cld_confchg_from_owner(const struct cld_confchg *m, uint32_t nodeid, uint32_t pid)
{
	uint32_t o = owner_of(m, nodeid);
	return !m->refused_by && (!o || o == pid);
}

uint32_t cld_confchg_refused(const struct cld_confchg *m)
{
	return m->refused_by;
}

bool cld_confchg_group(struct cld_confchg *m,
		       const struct cld_cc_addr *members, size_t nmembers,
		       const struct cld_cc_addr *left, size_t nleft,
		       const struct cld_cc_addr *joined, size_t njoined)
{
	bool membership = false, self_join = false;

	if (m->refused_by)
		return false;
	learn_owners(m, members, nmembers, joined, njoined);
	uint32_t mine = owner_of(m, m->self_nodeid);
	if (mine && mine != m->self_pid && in_list(members, nmembers, m->self_nodeid, m->self_pid)) {
		m->refused_by = mine;
		logf_(m, LOG_CRIT, "another coroleased of node %u (pid %u) was in the group first: "
		      "one daemon per node, this one (pid %u) stops", m->self_nodeid, mine, m->self_pid);
		return false;
	}
	for (size_t i = 0; i < nmembers; i++) {
		uint32_t o = owner_of(m, members[i].nodeid);
		if (o && o != members[i].pid && m->twin_logged != members[i].pid) {
			m->twin_logged = members[i].pid;
			logf_(m, LOG_ERR, "a second coroleased of node %u (pid %u) is in the group: "
			      "ignored (node %u is pid %u's); stop it", members[i].nodeid,
			      members[i].pid, members[i].nodeid, o);
		}
	}
	for (size_t i = 0; i < nleft; i++)
		if (owner_of(m, left[i].nodeid) == left[i].pid &&
		    !(left[i].nodeid == m->self_nodeid && left[i].pid == m->self_pid) &&
		    !in_list(members, nmembers, left[i].nodeid, left[i].pid))
			owner_drop(m, left[i].nodeid);

	m->nmembers = 0;
	for (size_t i = 0; i < nmembers; i++)
		if (cld_confchg_from_owner(m, members[i].nodeid, members[i].pid))
			add_unique(m->members, &m->nmembers, members[i].nodeid);
	for (size_t i = 0; i < nleft; i++) {
		logf_(m, LOG_DEBUG, "group confchg: node %u pid %u left (%s)", left[i].nodeid,
		      left[i].pid, cld_cc_reason_name(left[i].reason));
		membership |= membership_reason(left[i].reason);
		if (left[i].nodeid == m->self_nodeid && left[i].pid == m->self_pid)
			continue;   /* our own leave at shutdown */
		uint32_t o = owner_of(m, left[i].nodeid);
		if (o && o != left[i].pid)
			continue;   /* a twin left: its node did not */
		if (!is_member(m, left[i].nodeid)) {
			add_unique(m->left, &m->nleft, left[i].nodeid);
			remove_id(m->joined_ids, &m->njoined, left[i].nodeid);
		}
	}
	for (size_t i = 0; i < njoined; i++) {
		logf_(m, LOG_DEBUG, "group confchg: node %u pid %u joined (%s)", joined[i].nodeid,
		      joined[i].pid, cld_cc_reason_name(joined[i].reason));
		membership |= membership_reason(joined[i].reason);
		if (!cld_confchg_from_owner(m, joined[i].nodeid, joined[i].pid))
			continue;   /* a twin joined: its node did not */
		if (joined[i].nodeid == m->self_nodeid && joined[i].pid == m->self_pid) {
			self_join = true;
			m->joined = true;
		}
		add_unique(m->joined_ids, &m->njoined, joined[i].nodeid);
	}
	if (!m->joined)
		return false;
	if (membership || !m->have_ring || m->held)
		m->held = true;   /* the totem confchg follows in this dispatch */
	else
		flush(m);
	return self_join;
}

void cld_confchg_totem(struct cld_confchg *m, const struct cl_ring *ring)
{
	bool changed = !m->have_ring || m->ring.rep != ring->rep || m->ring.seq != ring->seq;
	m->ring = *ring;
	m->have_ring = true;
	if (m->joined && (changed || m->held))
		flush(m);
}

bool cld_confchg_deliverable(struct cld_confchg *m)
{
	if (!m->joined)
		return false;
	if (m->held) {
		logf_(m, LOG_WARNING, "delivery before the totem confchg of a membership change");
		flush(m);
	}
	return true;
}

bool cld_confchg_ring(const struct cld_confchg *m, struct cl_ring *ring_r)
{
	if (!m->have_ring)
		return false;
	*ring_r = m->ring;
	return true;
}
