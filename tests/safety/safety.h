/*
 * safety.h - shared by the safety regression tests in tests/safety/.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Each test in this directory replays one schedule of issue 7 over the EVS
 * bus (tests/support/evsbus.h) and asserts the SAFE outcome, so it fails on
 * the code that has the defect.  They are automake XFAIL_TESTS (see
 * tests/local.mk): the fix of a defect removes its test from that list.
 *
 * Exit status, so that an expected failure is exactly the named one:
 *   0  the safe outcome held (XPASS while the test is in XFAIL_TESTS);
 *   1  the safety assertion failed (the expected failure: XFAIL);
 *   99 anything else (a crash, or the schedule did not happen as written:
 *      a precondition failed): a hard ERROR even in XFAIL_TESTS.
 */
#ifndef COROLEASE_TEST_SAFETY_H
#define COROLEASE_TEST_SAFETY_H

#include <check.h>
#include <stdbool.h>

#include "evsbus.h"

#define SAFETY_TAG "SAFETY VIOLATION"
#define SEC 1000000ull
#define MS  1000ull

/* Findings of one test: every unsafe outcome it saw, with its evidence. */
struct safety {
	struct evs_bus *b;
	unsigned n;
	size_t len;
	char buf[3072];
};

void safety_init(struct safety *s, struct evs_bus *b);
/* Adds a finding when ok is false. */
void safety_expect(struct safety *s, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds the bus's owner and epoch check results. */
void safety_expect_checks(struct safety *s, bool owner, bool epoch);
/*
 * If there are findings: prints them and the trace, frees the bus and fails
 * the test with SAFETY_TAG and every finding.
 */
void safety_verdict(struct safety *s);
/* A precondition of the schedule: fails with a hard error (exit 99), not the expected failure. */
#define PRECONDITION(cond, ...) ck_assert_msg((cond), "precondition: " __VA_ARGS__)

/* Runs one test; returns the exit status described above. */
int safety_main(const TTest *test);

/*
 * The opening of issue 7's five-node schedule (defects 1 and 2): the ring
 * {1..5} is booted (and out of its grace period); node 1 batches (as
 * lockd/cpg.c does) and its clients 101..111 ask for count names in EX
 * (first, then m001, m002, ...; name i by client 101 + i % 11): one CPG
 * message of count ACQUIREs, which no other node has received when the ring
 * breaks.  With regular, nodes 1 and 2 deliver it in the ring's regular
 * configuration just before the break (agreed order needs no
 * acknowledgement); otherwise they deliver it transitionally.  Either way
 * {3,4,5} never gets it.  The split {1,2} | {3,4,5} forms token + consensus
 * after the break; {3,4,5} is quorate.
 */
/*
 * A quick heal: one ring of nodes 1..n forms at once and runs until quiet;
 * every node must be synced after it (a precondition).  Returns the time it
 * formed.
 */
uint64_t safety_heal(struct evs_bus *b, uint32_t n);

#define SAFETY_BATCH_MAX (11 * EVS_MAX_LEASES)
/*
 * unsafe: CL_UNSAFE_* switches for every agent (besides EVSBUS_UNSAFE); a
 * schedule that needs node 1's client to hold a grant only {1,2} delivered
 * passes CL_UNSAFE_NO_GRANT_ACK, since grant confirmation keeps that grant
 * from every client (its own layer is checked apart, by the layer below)
 */
struct evs_bus *safety_minority_batch(const char *first, unsigned count, bool regular,
				      unsigned unsafe);

#endif /* COROLEASE_TEST_SAFETY_H */
