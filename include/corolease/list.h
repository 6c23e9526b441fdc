/*
 * corolease/list.h - the one intrusive doubly linked list of the tree
 * (private, header only; used by the core, the daemon and the library).
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 *
 * A list is a struct cl_list head; entries embed a struct cl_list link.  The
 * head is circular (an empty list points at itself), so every operation is
 * O(1) and branch-free, and a link can be removed knowing only itself.  A
 * head must be initialised (cl_list_init or CL_LIST_INIT) before use;
 * copying a non-empty head breaks it.
 */
#ifndef COROLEASE_PRIVATE_LIST_H
#define COROLEASE_PRIVATE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "corolease/htab.h"   /* cl_container_of */

struct cl_list {
	struct cl_list *next, *prev;
};

#define CL_LIST_INIT(head) { &(head), &(head) }

static inline void cl_list_init(struct cl_list *head)
{
	head->next = head->prev = head;
}

static inline bool cl_list_empty(const struct cl_list *head)
{
	return head->next == head;
}

static inline void cl_list_insert_(struct cl_list *e, struct cl_list *prev, struct cl_list *next)
{
	e->prev = prev;
	e->next = next;
	prev->next = e;
	next->prev = e;
}

/* Appends e (FIFO order). */
static inline void cl_list_add_tail(struct cl_list *head, struct cl_list *e)
{
	cl_list_insert_(e, head->prev, head);
}

/* Prepends e. */
static inline void cl_list_add_head(struct cl_list *head, struct cl_list *e)
{
	cl_list_insert_(e, head, head->next);
}

/* Unlinks e from whatever list holds it; e becomes a list of its own. */
static inline void cl_list_del(struct cl_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = e;
}

/* The first / last link, or NULL when empty. */
static inline struct cl_list *cl_list_first(const struct cl_list *head)
{
	return head->next == head ? NULL : head->next;
}

static inline struct cl_list *cl_list_last(const struct cl_list *head)
{
	return head->prev == head ? NULL : head->prev;
}

/* The link after e, or NULL at the end. */
static inline struct cl_list *cl_list_next(const struct cl_list *head, const struct cl_list *e)
{
	return e->next == head ? NULL : e->next;
}

/* Moves every entry of src to the end of dst, in order; src ends empty. */
static inline void cl_list_splice_tail(struct cl_list *dst, struct cl_list *src)
{
	if (cl_list_empty(src))
		return;
	struct cl_list *first = src->next, *last = src->prev;
	first->prev = dst->prev;
	dst->prev->next = first;
	last->next = dst;
	dst->prev = last;
	cl_list_init(src);
}

#define cl_list_entry(link, type, member) cl_container_of(link, type, member)

/* Walks the entries; `it` may be unlinked (and freed) inside the loop. */
#define cl_list_foreach_safe(it, nx, head)                                     \
	for ((it) = (head)->next, (nx) = (it)->next; (it) != (head);         \
	     (it) = (nx), (nx) = (it)->next)

#define cl_list_foreach(it, head) \
	for ((it) = (head)->next; (it) != (head); (it) = (it)->next)

#endif /* COROLEASE_PRIVATE_LIST_H */
