/*
 * failalloc.c - test support: see failalloc.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stddef.h>

#include "failalloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static bool armed, suspended;
static unsigned long left, failed, calls;

void failalloc_arm(unsigned long successes)
{
	armed = true;
	left = successes;
	failed = calls = 0;
}

void failalloc_disarm(void)
{
	armed = false;
	suspended = false;
}

void failalloc_suspend(void)
{
	suspended = true;
}

void failalloc_resume(void)
{
	suspended = false;
}

unsigned long failalloc_failed(void)
{
	return failed;
}

unsigned long failalloc_calls(void)
{
	return calls;
}

/* True when this call must fail. */
static bool refuse(void)
{
	if (!armed || suspended)
		return false;
	calls++;
	if (left) {
		left--;
		return false;
	}
	failed++;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return refuse() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return refuse() ? NULL : __real_realloc(p, n);
}

/*
 * The core's records come from its slab (core/slab.h), which calls malloc()
 * only for a new block: each record counts as an allocation of its own.
 */
void *__real_cl_slab_alloc(size_t n);
void *__wrap_cl_slab_alloc(size_t n);

void *__wrap_cl_slab_alloc(size_t n)
{
	return refuse() ? NULL : __real_cl_slab_alloc(n);
}
