/*
 * recorder.c - test support: see recorder.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "recorder.h"

void cl_recorder_clear(struct cl_recorder *rc)
{
	rc->n = 0;
	rc->lost = 0;
}

void cl_recorder_action(void *ctx, const struct cl_action *a)
{
	struct cl_recorder *rc = ctx;

	if (rc->n == CL_RECORDER_MAX) {
		rc->lost++;
		return;
	}
	struct cl_recorded *r = &rc->r[rc->n++];
	r->a = *a;
	r->a.name = NULL;
	r->a.key = NULL;
	if (a->namelen > 0 && a->name != NULL && a->namelen <= COROLEASE_NAME_MAX) {
		memcpy(r->name, a->name, a->namelen);
		r->a.name = r->name;
	}
	if (a->keylen > 0 && a->key != NULL) {
		memcpy(r->key, a->key, a->keylen);
		r->a.key = r->key;
	}
}

const char *cl_recorder_dump(const struct cl_recorder *rc)
{
	static char buf[16384];
	size_t off = 0;

	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\n  recorded %zu action(s):", rc->n);
	for (size_t i = 0; i < rc->n && off < sizeof(buf) - 256; i++) {
		const struct cl_action *a = &rc->r[i].a;
		char nm[48];
		size_t k = 0;

		for (size_t j = 0; j < a->namelen && k < sizeof(nm) - 5; j++) {
			uint8_t c = rc->r[i].name[j];
			if (c >= 0x20 && c < 0x7f)
				nm[k++] = (char)c;
			else
				k += (size_t)snprintf(nm + k, sizeof(nm) - k, "\\x%02x", c);
		}
		nm[k] = '\0';
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			"\n  #%zu %s node=%" PRIu32 " owner=%" PRIu32 " wanted_by=%" PRIu32
			" mode=%u err=%d req=%" PRIu64 " epoch=%" PRIu64 " version=%" PRIu64
			" count=%" PRIu64 " name='%s'(%u) keylen=%u deleted=%d",
			i, cl_action_type_name(a->type), a->node, a->owner, a->wanted_by, a->mode,
			a->err, a->req_id, a->epoch, a->version, a->count, nm, a->namelen,
			a->keylen, a->deleted);
	}
	return buf;
}
