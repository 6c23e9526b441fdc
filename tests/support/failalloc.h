/*
 * failalloc.h - test support: allocation-failure injection for the unit
 * tests.  A test binary linked with
 *     -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=cl_slab_alloc
 * and failalloc.c gets every malloc/calloc/realloc call of the objects in
 * that link (the core library included), and every record the core takes
 * from its slab (core/slab.h), routed through here.  Once armed,
 * the call after `successes` more successful ones fails (returns NULL with
 * errno ENOMEM), and so does every later one until failalloc_disarm().
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_TEST_FAILALLOC_H
#define COROLEASE_TEST_FAILALLOC_H

#include <stdbool.h>

/* Lets `successes` more allocations succeed, then fails all the rest. */
void failalloc_arm(unsigned long successes);
void failalloc_disarm(void);
/*
 * Suspends injection (and counting) without forgetting where it was, e.g.
 * around test assertions, whose framework allocates too; resume continues.
 */
void failalloc_suspend(void);
void failalloc_resume(void);
/* Allocations refused since the last arm. */
unsigned long failalloc_failed(void);
/* Allocations made (successful or not) since the last arm. */
unsigned long failalloc_calls(void);

#endif /* COROLEASE_TEST_FAILALLOC_H */
