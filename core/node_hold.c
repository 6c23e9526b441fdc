/*
 * node_hold.c - the node-level hold on one lease as one state machine: the
 * states, the table of legal transitions, and the one function that moves a
 * lease along it (nd_lease_to()).  doc/state-machine.md draws it.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdio.h>
#include <syslog.h>

#include "node_int.h"

#define TO(s) (1u << NL_##s)

/*
 * Per state: its name, its facts (NLP_*), and the states it may move to.
 * A move to the same state is no transition and always allowed.
 */
const struct nl_state_info nd_hold_table[NL_NSTATES] = {
	[NL_NONE] = { "NONE", 0,
		TO(HELD) | TO(RELEASING) },
	[NL_HELD] = { "HELD", NLP_HELD,
		TO(LINGER) | TO(WANTED) | TO(REVOKING) | TO(LOST) | TO(NONE) },
	[NL_LINGER] = { "LINGER", NLP_HELD,
		TO(HELD) | TO(WANTED) | TO(REVOKING) | TO(LOST) | TO(RELEASING) | TO(NONE) },
	[NL_WANTED] = { "WANTED", NLP_HELD | NLP_WANTED,
		TO(HELD) | TO(REVOKING) | TO(LOST_WANTED) | TO(RELEASING) | TO(NONE) },
	[NL_REVOKING] = { "REVOKING", NLP_HELD | NLP_WANTED | NLP_REVOKING,
		TO(HANDBACK) | TO(LOST_REVOKING) | TO(RELEASING_REVOKED) | TO(NONE) },
	[NL_HANDBACK] = { "HANDBACK", NLP_HELD | NLP_REVOKING,
		TO(REVOKING) | TO(LOST_HANDBACK) | TO(RELEASING_REVOKED) | TO(NONE) },
	[NL_LOST] = { "LOST", NLP_HELD | NLP_LOST,
		TO(HELD) | TO(LOST_WANTED) | TO(LOST_REVOKING) | TO(RELEASING_LOST) | TO(NONE) },
	[NL_LOST_WANTED] = { "LOST_WANTED", NLP_HELD | NLP_LOST | NLP_WANTED,
		TO(HELD) | TO(WANTED) | TO(LOST_REVOKING) | TO(RELEASING_LOST) | TO(NONE) },
	[NL_LOST_REVOKING] = { "LOST_REVOKING", NLP_HELD | NLP_LOST | NLP_WANTED | NLP_REVOKING,
		TO(REVOKING) | TO(HANDBACK) | TO(RELEASING_LOST) | TO(NONE) },
	[NL_LOST_HANDBACK] = { "LOST_HANDBACK", NLP_HELD | NLP_LOST | NLP_REVOKING,
		TO(HANDBACK) | TO(LOST_REVOKING) | TO(RELEASING_LOST) | TO(NONE) },
	[NL_RELEASING] = { "RELEASING", NLP_HELD | NLP_RELEASING,
		TO(HELD) | TO(RELEASING_REVOKED) | TO(RELEASING_LOST) | TO(NONE) },
	[NL_RELEASING_REVOKED] = { "RELEASING_REVOKED", NLP_HELD | NLP_RELEASING | NLP_REVOKING,
		TO(HANDBACK) | TO(RELEASING_LOST_REVOKED) | TO(NONE) },
	[NL_RELEASING_LOST] = { "RELEASING_LOST", NLP_HELD | NLP_RELEASING | NLP_LOST,
		TO(HELD) | TO(RELEASING_LOST_REVOKED) | TO(NONE) },
	[NL_RELEASING_LOST_REVOKED] = { "RELEASING_LOST_REVOKED",
		NLP_HELD | NLP_RELEASING | NLP_LOST | NLP_REVOKING,
		TO(HANDBACK) | TO(NONE) },
};

const char *nd_hold_name(unsigned s)
{
	return s < NL_NSTATES ? nd_hold_table[s].name : "?";
}

bool nd_hold_legal(unsigned from, unsigned to)
{
	return from < NL_NSTATES && to < NL_NSTATES &&
	       (from == to || (nd_hold_table[from].next & (1u << to)));
}

/*
 * The state with exactly these facts (LINGER is HELD's: only HELD is
 * returned for them).  While releasing, WANTED is not tracked.
 */
static enum nl_state hold_with(unsigned props)
{
	if (props & NLP_RELEASING)
		props &= ~(unsigned)NLP_WANTED;
	for (unsigned s = 0; s < NL_NSTATES; s++)
		if (s != NL_LINGER && nd_hold_table[s].props == props)
			return (enum nl_state)s;
	return NL_NONE;   /* no such combination: nd_lease_to() refuses the move */
}

enum nl_state nd_hold_granted(enum nl_state s, bool same_epoch)
{
	if (s == NL_LINGER)
		return NL_LINGER;
	unsigned p = (nd_hold_table[s].props | NLP_HELD) & ~(unsigned)(NLP_LOST | NLP_RELEASING);
	if (!same_epoch)
		p &= ~(unsigned)NLP_WANTED;   /* a new epoch: earlier requests for it are moot */
	return hold_with(p);
}

enum nl_state nd_hold_wanted(enum nl_state s)
{
	return hold_with(nd_hold_table[s].props | NLP_WANTED);
}

enum nl_state nd_hold_revoked(enum nl_state s)
{
	return hold_with(nd_hold_table[s].props | NLP_REVOKING);
}

enum nl_state nd_hold_lost(enum nl_state s)
{
	return s == NL_NONE ? NL_NONE : hold_with(nd_hold_table[s].props | NLP_LOST);
}

enum nl_state nd_hold_releasing(enum nl_state s)
{
	return hold_with(nd_hold_table[s].props | NLP_HELD | NLP_RELEASING);
}

/* name, printable, for a log line */
static void name_for_log(const struct nl_lease *l, char *buf, size_t size)
{
	size_t k = 0;
	for (size_t i = 0; i < l->namelen && k + 1 < size; i++) {
		uint8_t c = l->name[i];
		buf[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[k] = 0;
}

bool nd_lease_to(struct cl_node *n, struct nl_lease *l, enum nl_state to, const char *why)
{
	enum nl_state from = l->state;
	if (from == to)
		return true;
	if (!nd_hold_legal(from, to)) {
		char name[64];
		name_for_log(l, name, sizeof(name));
		n->c.illegal_transitions++;
		nd_log(n, LOG_ERR, "lease %s: illegal hold transition %s -> %s (%s) refused", name,
		       nd_hold_name(from), nd_hold_name(to), why);
		return false;
	}
	if (from == NL_NONE)
		n->nheld++;
	if (from == NL_LINGER)
		l->linger_at = 0;
	l->state = to;
	if (to == NL_NONE) {
		n->nheld--;
		nd_rare_clear(n, l, RARE_HANDOVER | RARE_WANTED | RARE_LOCAL_HANDOVER);
		l->new_epoch_due = false;
	} else if (to == NL_LINGER) {
		l->linger_at = now_us(n) + n->cfg.linger_us;
	}
	return true;
}
