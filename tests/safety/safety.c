/*
 * safety.c - see safety.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

void safety_init(struct safety *s, struct evs_bus *b)
{
	memset(s, 0, sizeof(*s));
	s->b = b;
}

void safety_expect(struct safety *s, bool ok, const char *fmt, ...)
{
	if (ok)
		return;
	s->n++;
	if (s->len + 8 >= sizeof(s->buf))
		return;
	s->len += (size_t)snprintf(s->buf + s->len, sizeof(s->buf) - s->len, "\n  (%u) ", s->n);
	va_list ap;
	va_start(ap, fmt);
	if (s->len < sizeof(s->buf))
		vsnprintf(s->buf + s->len, sizeof(s->buf) - s->len, fmt, ap);
	va_end(ap);
	s->len = strlen(s->buf);
}

void safety_expect_checks(struct safety *s, bool owner, bool epoch)
{
	const char *v;
	if (owner && (v = evs_violation(s->b, EVS_CHECK_OWNER)))
		safety_expect(s, false, "two owners: %s", v);
	if (epoch && (v = evs_violation(s->b, EVS_CHECK_EPOCH)))
		safety_expect(s, false, "fencing token not increasing: %s", v);
}

void safety_verdict(struct safety *s)
{
	if (!s->n)
		return;
	fprintf(stderr, "%s:%s\n", SAFETY_TAG, s->buf);
	evs_dump_trace(s->b, stderr, 120);
	evs_free(s->b);      /* the test ends here */
	s->b = NULL;
	ck_abort_msg("%s:%s", SAFETY_TAG, s->buf);
}

int safety_main(const TTest *test)
{
	Suite *su = suite_create("safety");
	TCase *tc = tcase_create("schedule");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_VERBOSE);
	int rc = 0;
	if (srunner_ntests_failed(sr)) {
		TestResult **tr = srunner_failures(sr);
		const char *msg = tr[0] ? tr_msg(tr[0]) : NULL;
		bool expected = tr[0] && tr_rtype(tr[0]) == CK_FAILURE && msg &&
				!strncmp(msg, SAFETY_TAG, strlen(SAFETY_TAG));
		free(tr);
		rc = expected ? 1 : 99;
		printf("%s: %s\n", test->name,
		       expected ? "fails as expected (the defect is there)"
				: "ERROR: did not fail for the reason it names (exit 99)");
	} else {
		printf("%s: the safe outcome held\n", test->name);
	}
	srunner_free(sr);
	return rc;
}

struct evs_bus *safety_minority_batch(const char *first, unsigned count, bool regular,
				      unsigned unsafe)
{
	struct evs_config c;
	evs_config_default(&c, 5);
	c.node.sm.unsafe_flags |= unsafe;
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	evs_batch(b, 1, true);
	evs_ring_hold(b, 1, true);
	PRECONDITION(count >= 1 && count <= SAFETY_BATCH_MAX, "a batch of 1..%u ACQUIREs", SAFETY_BATCH_MAX);
	for (unsigned i = 0; i < count; i++) {
		char name[16];
		snprintf(name, sizeof(name), "m%03u", i);
		const char *nm = i ? name : first;
		PRECONDITION(evs_acquire(b, 1, 101 + i % 11, nm, CL_MODE_EX, 0, 0) == 0,
			     "node 1 takes the acquire of %s", nm);
	}
	evs_flush(b, 1);
	evs_batch(b, 1, false);
	PRECONDITION(evs_pending(b, 1) == 1, "one CPG message carries the %u ACQUIREs", count);
	uint64_t batch = evs_last_sent(b, 1);
	if (regular)
		evs_deliver_to(b, 1, EVS_N(1) | EVS_N(2));
	evs_note(b, "the ring breaks; node 1's batch reached node 2 only");
	EVS_SPLIT(b, EVS_N(1) | EVS_N(2), EVS_N(3) | EVS_N(4) | EVS_N(5));
	PRECONDITION(evs_delivered_by(b, batch) == (EVS_N(1) | EVS_N(2)),
		     "{1,2} delivered node 1's batch and {3,4,5} did not");
	PRECONDITION(cl_sm_quorate(cl_node_sm(evs_agent(b, 3))), "{3,4,5} is the quorate side");
	return b;
}

uint64_t safety_heal(struct evs_bus *b, uint32_t n)
{
	uint64_t heal = evs_now(b);
	uint32_t all = 0;
	for (uint32_t id = 1; id <= n; id++)
		all |= EVS_N(id);
	evs_note(b, "the network heals");
	evs_form(b, &all, 1);
	evs_run(b);
	for (uint32_t id = 1; id <= n; id++)
		PRECONDITION(cl_node_synced(evs_agent(b, id)), "node %u synced after the merge", id);
	return heal;
}
