/*
 * recorder.h - test support: records the machine's actions (cl_action_fn)
 * with copies of their names and keys, and prints them for failure
 * messages.  Shared by check_lease.c and check_index.c.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_TEST_RECORDER_H
#define COROLEASE_TEST_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "lease.h"

#define CL_RECORDER_MAX 256

struct cl_recorded {
	struct cl_action a;   /* a.name / a.key point at the copies below */
	uint8_t name[COROLEASE_NAME_MAX];
	uint8_t key[COROLEASE_KEY_MAX];
};

struct cl_recorder {
	size_t n;
	size_t lost;          /* actions past CL_RECORDER_MAX */
	struct cl_recorded r[CL_RECORDER_MAX];
};

/* A cl_action_fn: ctx is the struct cl_recorder. */
void cl_recorder_action(void *ctx, const struct cl_action *a);
void cl_recorder_clear(struct cl_recorder *rc);
/* Every recorded action, one per line (a static buffer, overwritten by the next call). */
const char *cl_recorder_dump(const struct cl_recorder *rc);

#endif /* COROLEASE_TEST_RECORDER_H */
