/*
 * sendhold.c - when a batch waits for an own CPG message back.  Contract:
 * sendhold.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include "sendhold.h"

void cld_sendhold_init(struct cld_sendhold *h, unsigned max)
{
	h->inflight = 0;
	h->max = max;
}

void cld_sendhold_sent(struct cld_sendhold *h)
{
	if (h->inflight < ~0u)
		h->inflight++;
}

bool cld_sendhold_back(struct cld_sendhold *h)
{
	if (h->inflight)
		h->inflight--;
	return !cld_sendhold_wait(h);
}

void cld_sendhold_reset(struct cld_sendhold *h)
{
	h->inflight = 0;
}

bool cld_sendhold_wait(const struct cld_sendhold *h)
{
	return h->max && h->inflight >= h->max;
}
