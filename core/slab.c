/*
 * slab.c - the core's record allocator: see slab.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif

#define GRAIN 8

static size_t nblocks, nlive, live_bytes;

static size_t class_bytes(size_t size)
{
	return ((size ? size : 1) + GRAIN - 1) & ~(size_t)(GRAIN - 1);
}

#if defined(SLAB_ASAN) && !defined(CL_SLAB_ALWAYS)

/*
 * Under AddressSanitizer every record is a malloc() of its own, so that the
 * sanitizer's red zones, quarantine and leak checker see each one (a leaked
 * record inside a slab block would look reachable).  check_util builds the
 * slab itself with CL_SLAB_ALWAYS and tests it under ASan too.
 */
void *cl_slab_alloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p && size <= CL_SLAB_MAX) {
		nlive++;
		live_bytes += class_bytes(size);
	}
	return p;
}

void cl_slab_free(void *p, size_t size)
{
	if (p && size <= CL_SLAB_MAX) {
		nlive--;
		live_bytes -= class_bytes(size);
	}
	free(p);
}

#else

#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define RED_ZONE 16                  /* poisoned bytes after every object */
#define QUARANTINE 256               /* freed objects of a class held back before reuse */
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define RED_ZONE 0
#define QUARANTINE 0
#endif

#define NCLASSES (CL_SLAB_MAX / GRAIN)
/*
 * A block's bytes: large enough that its malloc() header does not matter,
 * small enough that the unused end of each class's last block does not
 * either (only the pages carved are ever touched).
 */
#define BLOCK_BYTES (1u << 20)

/* A free object: the first 8 bytes link it into its class's queue. */
struct free_obj {
	struct free_obj *next;
};

/*
 * One size class: a FIFO of freed objects (under ASan at least QUARANTINE
 * of them stay there, so a use after free is caught for a while), then the
 * rest of the class's current block.
 */
struct size_class {
	struct free_obj *head, *tail;
	size_t nfree;
	char *next, *end;
};

/* Every block starts with a link to the previous one (they stay reachable). */
struct block {
	struct block *prev;
	uint64_t pad;                /* objects start 16-byte aligned */
};

static struct size_class classes[NCLASSES];
static struct block *blocks;

static void *carve(struct size_class *c, size_t bytes)
{
	size_t stride = bytes + RED_ZONE;
	if (!c->next || (size_t)(c->end - c->next) < stride) {
		struct block *b = malloc(BLOCK_BYTES);
		if (!b)
			return NULL;
		b->prev = blocks;
		blocks = b;
		nblocks++;
		POISON(b, sizeof(*b));       /* the header is a red zone too */
		c->next = (char *)(b + 1);
		c->end = (char *)b + BLOCK_BYTES;
		POISON(c->next, (size_t)(c->end - c->next));
		/* the end of the last block stays unused: at most one object's worth */
	}
	void *p = c->next;
	c->next += stride;
	return p;
}

void *cl_slab_alloc(size_t size)
{
	if (size > CL_SLAB_MAX)
		return calloc(1, size);
	size_t bytes = class_bytes(size);
	struct size_class *c = &classes[bytes / GRAIN - 1];
	void *p;
	if (c->head && c->nfree > QUARANTINE) {
		struct free_obj *f = c->head;
		UNPOISON(f, sizeof(*f));
		c->head = f->next;
		if (!c->head)
			c->tail = NULL;
		c->nfree--;
		p = f;
	} else {
		p = carve(c, bytes);
		if (!p) {
			errno = ENOMEM;
			return NULL;
		}
	}
	POISON(p, bytes);
	UNPOISON(p, size ? size : 1);        /* the rounding is a red zone as well */
	memset(p, 0, size ? size : 1);
	nlive++;
	live_bytes += bytes;
	return p;
}

void cl_slab_free(void *p, size_t size)
{
	if (!p)
		return;
	if (size > CL_SLAB_MAX) {
		free(p);
		return;
	}
	size_t bytes = class_bytes(size);
	struct size_class *c = &classes[bytes / GRAIN - 1];
	struct free_obj *f = p;
	UNPOISON(f, sizeof(*f));
	f->next = NULL;
	POISON(f, bytes);
	if (c->tail) {
		UNPOISON(c->tail, sizeof(*c->tail));
		c->tail->next = f;
		POISON(c->tail, sizeof(*c->tail));
	} else {
		c->head = f;
	}
	c->tail = f;
	c->nfree++;
	nlive--;
	live_bytes -= bytes;
}

#endif

void cl_slab_stats(struct cl_slab_stats *st)
{
	st->blocks = nblocks;
	st->live = nlive;
	st->live_bytes = live_bytes;
}
