/*
 * check_confchg.c - unit tests for lockd/confchg.c: how CPG group and totem
 * configuration changes are merged into the changes the node sees.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each change handed on is recorded as one line,
 *   "ring REP/SEQ members A B left C joined D"
 * (lists as given), and log lines are kept apart, so each test states the
 * exact sequence corosync would produce and the exact result.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "confchg.h"

#define SELF 1u
#define SELF_PID 100u

struct rec {
	char changes[16][256];
	int nchanges;
	char logs[16][320];
	int levels[16];
	int nlogs;
};

static struct rec R;
static struct cld_confchg M;

static void put_list(char *buf, size_t cap, const char *label, const uint32_t *ids, size_t n)
{
	size_t off = strlen(buf);
	off += (size_t)snprintf(buf + off, cap - off, " %s", label);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off, " %u", ids[i]);
}

static void on_change(void *ctx, const struct cld_change *ch)
{
	struct rec *r = ctx;
	ck_assert_int_lt(r->nchanges, 16);
	char *b = r->changes[r->nchanges++];
	snprintf(b, 256, "ring %u/%llu", ch->ring.rep, (unsigned long long)ch->ring.seq);
	put_list(b, 256, "members", ch->members, ch->nmembers);
	put_list(b, 256, "left", ch->left, ch->nleft);
	put_list(b, 256, "joined", ch->joined, ch->njoined);
}

static void on_log(void *ctx, int level, const char *msg)
{
	struct rec *r = ctx;
	if (r->nlogs < 16) {
		r->levels[r->nlogs] = level;
		snprintf(r->logs[r->nlogs++], 320, "%s", msg);
	}
}

static const struct cld_confchg_ops ops = { .change = on_change, .log = on_log };

static void setup(void)
{
	memset(&R, 0, sizeof(R));
	cld_confchg_init(&M, SELF, SELF_PID, &ops, &R);
}

static void teardown(void)
{
}

/* An address list from "NODE:PID:REASON" triples, e.g. A("1:100:1 2:7:3"). */
static size_t addrs(struct cld_cc_addr *a, const char *spec)
{
	size_t n = 0;
	const char *p = spec;
	unsigned node, pid, reason;
	int used;
	while (sscanf(p, " %u:%u:%u%n", &node, &pid, &reason, &used) == 3) {
		a[n].nodeid = node;
		a[n].pid = pid;
		a[n].reason = reason;
		n++;
		p += used;
	}
	return n;
}

/* A group confchg: members, left, joined as address specs. */
static bool group(const char *members, const char *left, const char *joined)
{
	struct cld_cc_addr m[16], l[16], j[16];
	size_t nm = addrs(m, members), nl = addrs(l, left), nj = addrs(j, joined);
	return cld_confchg_group(&M, m, nm, l, nl, j, nj);
}

static void totem(uint32_t rep, uint64_t seq)
{
	struct cl_ring r = { .rep = rep, .seq = seq };
	cld_confchg_totem(&M, &r);
}

#define JOIN "1"
#define LEAVE "2"
#define NODEDOWN "3"
#define NODEUP "4"
#define PROCDOWN "5"

/* Our own join, then the initial totem confchg: one change for the node. */
static void joined_alone(void)
{
	ck_assert(group("1:100:" JOIN, "", "1:100:" JOIN));
	totem(1, 8);
	ck_assert_int_eq(R.nchanges, 1);
	R.nchanges = 0;
}

START_TEST(own_join_waits_for_initial_totem)
{
	ck_assert(!cld_confchg_deliverable(&M));
	ck_assert(group("1:100:" JOIN " 2:200:" JOIN, "", "1:100:" JOIN));
	ck_assert_int_eq(R.nchanges, 0);   /* held: the initial totem confchg follows */
	struct cl_ring ring = { 9, 9 };
	ck_assert(!cld_confchg_ring(&M, &ring));
	ck_assert_uint_eq(ring.rep, 9);
	totem(2, 16);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 2/16 members 1 2 left joined 1");
	ck_assert(cld_confchg_ring(&M, &ring));
	ck_assert_uint_eq(ring.rep, 2);
	ck_assert_uint_eq(ring.seq, 16);
	ck_assert(cld_confchg_deliverable(&M));
}
END_TEST

START_TEST(nothing_before_own_join)
{
	/* another process's join before ours: nothing for the node, no deliveries */
	ck_assert(!group("2:200:" JOIN, "", "2:200:" JOIN));
	ck_assert_int_eq(R.nchanges, 0);
	ck_assert(!cld_confchg_deliverable(&M));
	/* a totem confchg before our join only records the ring */
	totem(1, 4);
	ck_assert_int_eq(R.nchanges, 0);
	ck_assert(!cld_confchg_deliverable(&M));
	/* our join, with the ring known already: passed at once, with what came before */
	ck_assert(group("1:100:" JOIN " 2:200:" JOIN, "", "1:100:" JOIN));
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/4 members 1 2 left joined 2 1");
	ck_assert(cld_confchg_deliverable(&M));
}
END_TEST

START_TEST(process_join_leave_procdown_pass_at_once)
{
	joined_alone();
	ck_assert(!group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" JOIN));
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/8 members 1 2 left joined 2");
	group("1:100:" JOIN, "2:200:" LEAVE, "");
	ck_assert_int_eq(R.nchanges, 2);
	ck_assert_str_eq(R.changes[1], "ring 1/8 members 1 left 2 joined");
	group("1:100:" JOIN " 3:300:" JOIN, "", "3:300:" JOIN);
	group("1:100:" JOIN, "3:300:" PROCDOWN, "");
	ck_assert_int_eq(R.nchanges, 4);
	ck_assert_str_eq(R.changes[2], "ring 1/8 members 1 3 left joined 3");
	ck_assert_str_eq(R.changes[3], "ring 1/8 members 1 left 3 joined");
}
END_TEST

START_TEST(nodedown_held_until_totem)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN " 3:300:" JOIN, "", "2:200:" JOIN " 3:300:" JOIN);
	R.nchanges = 0;
	group("1:100:" JOIN " 3:300:" JOIN, "2:200:" NODEDOWN, "");
	ck_assert_int_eq(R.nchanges, 0);
	totem(1, 12);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/12 members 1 3 left 2 joined");
}
END_TEST

START_TEST(nodeup_held_until_totem)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" NODEUP);
	ck_assert_int_eq(R.nchanges, 0);
	totem(1, 12);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/12 members 1 2 left joined 2");
}
END_TEST

START_TEST(merge_several_group_confchgs_into_one)
{
	/* a merge and a split in one membership change: each group confchg is held */
	joined_alone();
	group("1:100:" JOIN " 3:300:" JOIN, "", "3:300:" JOIN);
	R.nchanges = 0;
	group("1:100:" JOIN, "3:300:" NODEDOWN, "");
	group("1:100:" JOIN " 4:400:" JOIN, "", "4:400:" NODEUP);
	group("1:100:" JOIN " 4:400:" JOIN " 5:500:" JOIN, "", "5:500:" NODEUP);
	ck_assert_int_eq(R.nchanges, 0);
	/* a process join while held waits too, so the order is kept */
	group("1:100:" JOIN " 4:400:" JOIN " 5:500:" JOIN " 6:600:" JOIN, "", "6:600:" JOIN);
	ck_assert_int_eq(R.nchanges, 0);
	totem(4, 20);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 4/20 members 1 4 5 6 left 3 joined 4 5 6");
}
END_TEST

START_TEST(join_then_leave_before_totem)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" NODEUP);
	group("1:100:" JOIN, "2:200:" NODEDOWN, "");
	totem(1, 12);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/12 members 1 left 2 joined");
}
END_TEST

START_TEST(leave_then_rejoin_before_totem)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" JOIN);
	R.nchanges = 0;
	group("1:100:" JOIN, "2:200:" NODEDOWN, "");
	group("1:100:" JOIN " 2:201:" JOIN, "", "2:201:" NODEUP);
	totem(1, 12);
	ck_assert_int_eq(R.nchanges, 1);
	/* the node left (its holds are orphaned) and joined again (it needs the state) */
	ck_assert_str_eq(R.changes[0], "ring 1/12 members 1 2 left 2 joined 2");
}
END_TEST

START_TEST(own_leave_is_ignored)
{
	joined_alone();
	group("", "1:100:" LEAVE, "");
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/8 members left joined");
}
END_TEST

START_TEST(member_through_another_process_has_not_left)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" JOIN);
	group("1:100:" JOIN " 2:200:" JOIN " 2:201:" JOIN, "", "2:201:" JOIN);
	R.nchanges = 0;
	/* one of node 2's processes goes; node 2 is still a member */
	group("1:100:" JOIN " 2:201:" JOIN, "2:200:" PROCDOWN, "");
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/8 members 1 2 left joined");
	/* another process of our own node leaves: we have not left */
	group("1:100:" JOIN " 1:101:" JOIN " 2:201:" JOIN, "", "1:101:" JOIN);
	group("1:100:" JOIN " 2:201:" JOIN, "1:101:" LEAVE, "");
	ck_assert_int_eq(R.nchanges, 3);
	ck_assert_str_eq(R.changes[2], "ring 1/8 members 1 2 left joined");
}
END_TEST

START_TEST(members_counted_by_node)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN " 2:201:" JOIN " 1:101:" JOIN, "",
	      "2:200:" JOIN " 2:201:" JOIN " 1:101:" JOIN);
	ck_assert_int_eq(R.nchanges, 1);
	/* a second process of our node (a twin, t116) joining is not node 1 joining */
	ck_assert_str_eq(R.changes[0], "ring 1/8 members 1 2 left joined 2");
	/* node 2's first process (the lower pid of the two that came together) speaks for it */
	ck_assert(cld_confchg_from_owner(&M, 2, 200));
	ck_assert(!cld_confchg_from_owner(&M, 2, 201));
	ck_assert(!cld_confchg_from_owner(&M, 1, 101));
	ck_assert(cld_confchg_from_owner(&M, 1, 100));
	ck_assert_uint_eq(cld_confchg_refused(&M), 0);
	/* the owner of node 2 goes: its twin is node 2 now, and node 2 did not leave */
	group("1:100:" JOIN " 2:201:" JOIN " 1:101:" JOIN, "2:200:" PROCDOWN, "");
	ck_assert_str_eq(R.changes[1], "ring 1/8 members 1 2 left joined");
	ck_assert(cld_confchg_from_owner(&M, 2, 201));
}
END_TEST

/* t116: a second daemon of a node that is in the group already must stop, and says so */
START_TEST(second_daemon_of_our_node_is_refused)
{
	ck_assert(!group("1:50:" JOIN " 1:100:" JOIN " 2:200:" JOIN, "", "1:100:" JOIN));
	ck_assert_uint_eq(cld_confchg_refused(&M), 50);
	totem(1, 8);
	ck_assert_int_eq(R.nchanges, 0);   /* the node agent hears nothing */
	ck_assert(!cld_confchg_from_owner(&M, 2, 200));
	bool said = false;
	for (int i = 0; i < R.nlogs; i++)
		said |= strstr(R.logs[i], "another coroleased of node 1 (pid 50) was in the group first") != NULL;
	ck_assert(said);
}
END_TEST

/* two daemons of our node joining together: the lower pid stays, the other stops */
START_TEST(two_daemons_joining_at_once_lower_pid_stays)
{
	ck_assert(!group("1:100:" JOIN " 1:99:" JOIN, "", "1:100:" JOIN " 1:99:" JOIN));
	ck_assert_uint_eq(cld_confchg_refused(&M), 99);
	cld_confchg_init(&M, SELF, 99, &ops, &R);   /* the other one's view */
	ck_assert(group("1:100:" JOIN " 1:99:" JOIN, "", "1:100:" JOIN " 1:99:" JOIN));
	ck_assert_uint_eq(cld_confchg_refused(&M), 0);
	ck_assert(!cld_confchg_from_owner(&M, 1, 100));
}
END_TEST

START_TEST(totem_alone_moves_the_ring)
{
	joined_alone();
	totem(1, 8);   /* the same ring: nothing */
	ck_assert_int_eq(R.nchanges, 0);
	totem(2, 12);  /* a new ring that changes nothing in the group */
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 2/12 members 1 left joined");
}
END_TEST

START_TEST(delivery_before_totem_passes_held_change)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" NODEUP);
	ck_assert_int_eq(R.nchanges, 0);
	R.nlogs = 0;
	ck_assert(cld_confchg_deliverable(&M));
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/8 members 1 2 left joined 2");
	ck_assert_int_ge(R.nlogs, 1);
	ck_assert_int_eq(R.levels[0], LOG_WARNING);
	ck_assert_str_eq(R.logs[0], "delivery before the totem confchg of a membership change");
	/* the totem confchg that follows is a ring change of its own */
	totem(1, 12);
	ck_assert_int_eq(R.nchanges, 2);
	ck_assert_str_eq(R.changes[1], "ring 1/12 members 1 2 left joined");
}
END_TEST

START_TEST(logs_each_process_and_change)
{
	ck_assert(group("1:100:" JOIN, "", "1:100:" JOIN));
	totem(1, 8);
	ck_assert_int_eq(R.nlogs, 2);
	ck_assert_int_eq(R.levels[0], LOG_DEBUG);
	ck_assert_str_eq(R.logs[0], "group confchg: node 1 pid 100 joined (join)");
	ck_assert_int_eq(R.levels[1], LOG_INFO);
	ck_assert_str_eq(R.logs[1], "configuration ring 1/8 members: 1 (left 0, joined 1)");
	group("1:100:" JOIN, "2:200:" PROCDOWN, "");
	ck_assert_str_eq(R.logs[2], "group confchg: node 2 pid 200 left (procdown)");
	group("", "", "");
	ck_assert_str_eq(R.logs[R.nlogs - 1], "configuration ring 1/8 members: none (left 0, joined 0)");
}
END_TEST

START_TEST(reinit_forgets_everything)
{
	joined_alone();
	group("1:100:" JOIN " 2:200:" JOIN, "", "2:200:" NODEUP);
	cld_confchg_init(&M, SELF, SELF_PID, &ops, &R);   /* reconnect */
	ck_assert(!cld_confchg_deliverable(&M));
	struct cl_ring ring;
	ck_assert(!cld_confchg_ring(&M, &ring));
	ck_assert(group("1:100:" JOIN " 2:200:" JOIN, "", "1:100:" JOIN));
	ck_assert_int_eq(R.nchanges, 0);
	totem(1, 9);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_str_eq(R.changes[0], "ring 1/9 members 1 2 left joined 1");
}
END_TEST

START_TEST(no_log_callback)
{
	static const struct cld_confchg_ops quiet = { .change = on_change };
	cld_confchg_init(&M, SELF, SELF_PID, &quiet, &R);
	ck_assert(group("1:100:" JOIN, "", "1:100:" JOIN));
	totem(1, 8);
	ck_assert_int_eq(R.nchanges, 1);
	ck_assert_int_eq(R.nlogs, 0);
}
END_TEST

START_TEST(reason_names)
{
	ck_assert_str_eq(cld_cc_reason_name(CLD_CC_JOIN), "join");
	ck_assert_str_eq(cld_cc_reason_name(CLD_CC_LEAVE), "leave");
	ck_assert_str_eq(cld_cc_reason_name(CLD_CC_NODEDOWN), "nodedown");
	ck_assert_str_eq(cld_cc_reason_name(CLD_CC_NODEUP), "nodeup");
	ck_assert_str_eq(cld_cc_reason_name(CLD_CC_PROCDOWN), "procdown");
	ck_assert_str_eq(cld_cc_reason_name(0), "?");
	ck_assert_str_eq(cld_cc_reason_name(6), "?");
}
END_TEST

static Suite *confchg_suite(void)
{
	Suite *s = suite_create("confchg");
	TCase *tc = tcase_create("single");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, own_join_waits_for_initial_totem);
	tcase_add_test(tc, nothing_before_own_join);
	tcase_add_test(tc, process_join_leave_procdown_pass_at_once);
	tcase_add_test(tc, nodedown_held_until_totem);
	tcase_add_test(tc, nodeup_held_until_totem);
	tcase_add_test(tc, own_leave_is_ignored);
	tcase_add_test(tc, member_through_another_process_has_not_left);
	tcase_add_test(tc, members_counted_by_node);
	tcase_add_test(tc, second_daemon_of_our_node_is_refused);
	tcase_add_test(tc, two_daemons_joining_at_once_lower_pid_stays);
	tcase_add_test(tc, totem_alone_moves_the_ring);
	tcase_add_test(tc, reason_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("sequences");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, merge_several_group_confchgs_into_one);
	tcase_add_test(tc, join_then_leave_before_totem);
	tcase_add_test(tc, leave_then_rejoin_before_totem);
	tcase_add_test(tc, delivery_before_totem_passes_held_change);
	tcase_add_test(tc, logs_each_process_and_change);
	tcase_add_test(tc, reinit_forgets_everything);
	tcase_add_test(tc, no_log_callback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(confchg_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
