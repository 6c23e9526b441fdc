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

bool cld_confchg_group(struct cld_confchg *m,
		       const struct cld_cc_addr *members, size_t nmembers,
		       const struct cld_cc_addr *left, size_t nleft,
		       const struct cld_cc_addr *joined, size_t njoined)
{
	bool membership = false, self_join = false;

	m->nmembers = 0;
	for (size_t i = 0; i < nmembers; i++)
		add_unique(m->members, &m->nmembers, members[i].nodeid);
	for (size_t i = 0; i < nleft; i++) {
		logf_(m, LOG_DEBUG, "group confchg: node %u pid %u left (%s)", left[i].nodeid,
		      left[i].pid, cld_cc_reason_name(left[i].reason));
		membership |= membership_reason(left[i].reason);
		if (left[i].nodeid == m->self_nodeid && left[i].pid == m->self_pid)
			continue;   /* our own leave at shutdown */
		if (!is_member(m, left[i].nodeid)) {
			add_unique(m->left, &m->nleft, left[i].nodeid);
			remove_id(m->joined_ids, &m->njoined, left[i].nodeid);
		}
	}
	for (size_t i = 0; i < njoined; i++) {
		logf_(m, LOG_DEBUG, "group confchg: node %u pid %u joined (%s)", joined[i].nodeid,
		      joined[i].pid, cld_cc_reason_name(joined[i].reason));
		membership |= membership_reason(joined[i].reason);
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
