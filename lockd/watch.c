/*
 * watch.c - the watch registry of coroleased.  Contract: watch.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashkey.h"
#include "watch.h"

/* A watched name and its watchers (in cld_watch_reg.names while it has any). */
struct wname {
	struct cl_hnode hn;
	struct cl_list watchers;      /* struct wentry, by link */
	uint16_t namelen;
	uint8_t name[];
};

/* One watcher's watch of one name. */
struct wentry {
	struct cl_hnode hn;           /* in cld_watcher.mine */
	struct cl_list link;          /* in wname.watchers */
	struct wname *wn;
	struct cld_watcher *w;
};

/* Keyed by the daemon's secret (hashkey.h): clients choose the names. */
static uint64_t whash(const void *name, size_t len)
{
	return cl_siphash(cld_hash_key(), name, len);
}

static bool same(const struct wname *wn, const void *name, size_t len)
{
	return wn->namelen == len && !memcmp(wn->name, name, len);
}

static struct wname *wname_find(const struct cld_watch_reg *r, const void *name, size_t len,
				uint64_t h)
{
	for (struct cl_hnode *e = cl_htab_first(&r->names, h); e; e = cl_htab_next(e, h)) {
		struct wname *wn = cl_container_of(e, struct wname, hn);
		if (same(wn, name, len))
			return wn;
	}
	return NULL;
}

static struct wentry *wentry_find(const struct cld_watcher *w, const void *name, size_t len,
				  uint64_t h)
{
	for (struct cl_hnode *e = cl_htab_first(&w->mine, h); e; e = cl_htab_next(e, h)) {
		struct wentry *we = cl_container_of(e, struct wentry, hn);
		if (same(we->wn, name, len))
			return we;
	}
	return NULL;
}

int cld_watch_reg_init(struct cld_watch_reg *r)
{
	memset(r, 0, sizeof(*r));
	cl_list_init(&r->all);
	return cl_htab_init(&r->names, 64);
}

void cld_watch_reg_fini(struct cld_watch_reg *r)
{
	cl_htab_fini(&r->names);
}

void cld_watcher_init(struct cld_watcher *w)
{
	memset(w, 0, sizeof(*w));
	cl_list_init(&w->all_link);
}

int cld_watch_add(struct cld_watch_reg *r, struct cld_watcher *w, const void *name, size_t len,
		  uint64_t max)
{
	if (!len || len > UINT16_MAX)
		return -EINVAL;
	uint64_t h = whash(name, len);
	if (wentry_find(w, name, len, h))
		return 0;
	if (w->n >= max)
		return -EDQUOT;
	if (!w->mine.nb && cl_htab_init(&w->mine, 16) < 0)
		return -ENOMEM;
	struct wentry *we = malloc(sizeof(*we));
	if (!we)
		return -ENOMEM;
	struct wname *wn = wname_find(r, name, len, h);
	if (!wn) {
		wn = malloc(sizeof(*wn) + len);
		if (!wn) {
			free(we);
			return -ENOMEM;
		}
		cl_list_init(&wn->watchers);
		wn->namelen = (uint16_t)len;
		memcpy(wn->name, name, len);
		cl_htab_add(&r->names, &wn->hn, h);
	}
	we->wn = wn;
	we->w = w;
	cl_list_add_tail(&wn->watchers, &we->link);
	cl_htab_add(&w->mine, &we->hn, h);
	w->n++;
	r->nwatches++;
	return 0;
}

uint64_t cld_watch_quota(uint64_t per_client, uint64_t mine, uint64_t uid_n, uint64_t per_uid,
			 bool exempt, bool *uid_bound_r)
{
	*uid_bound_r = false;
	if (exempt)
		return per_client;
	uint64_t left = uid_n < per_uid ? per_uid - uid_n : 0;
	if (mine + left >= per_client)
		return per_client;
	*uid_bound_r = true;
	return mine + left;
}

/* Unlinks and frees we, and its name once nobody watches it. */
static void wentry_drop(struct cld_watch_reg *r, struct wentry *we)
{
	struct wname *wn = we->wn;
	cl_list_del(&we->link);
	cl_htab_del(&we->w->mine, &we->hn);
	we->w->n--;
	r->nwatches--;
	free(we);
	if (cl_list_empty(&wn->watchers)) {
		cl_htab_del(&r->names, &wn->hn);
		free(wn);
	}
}

void cld_watch_del(struct cld_watch_reg *r, struct cld_watcher *w, const void *name, size_t len)
{
	struct wentry *we = wentry_find(w, name, len, whash(name, len));
	if (we)
		wentry_drop(r, we);
}

void cld_watch_all(struct cld_watch_reg *r, struct cld_watcher *w, bool on)
{
	if (on == w->all)
		return;
	w->all = on;
	if (on) {
		cl_list_add_tail(&r->all, &w->all_link);
		r->nall++;
	} else {
		cl_list_del(&w->all_link);
		cl_list_init(&w->all_link);
		r->nall--;
	}
}

void cld_watcher_forget(struct cld_watch_reg *r, struct cld_watcher *w)
{
	cld_watch_all(r, w, false);
	struct cl_htab_iter it;
	for (struct cl_hnode *e = cl_htab_iter_first(&w->mine, &it); e;
	     e = cl_htab_iter_next(&w->mine, &it))
		wentry_drop(r, cl_container_of(e, struct wentry, hn));
	cl_htab_fini(&w->mine);
}

size_t cld_watch_foreach(const struct cld_watch_reg *r, const void *name, size_t len,
			 void (*fn)(void *ctx, struct cld_watcher *w), void *ctx)
{
	size_t calls = 0;
	struct cl_list *l;
	cl_list_foreach(l, &r->all) {
		fn(ctx, cl_list_entry(l, struct cld_watcher, all_link));
		calls++;
	}
	struct wname *wn = len ? wname_find(r, name, len, whash(name, len)) : NULL;
	if (!wn)
		return calls;
	cl_list_foreach(l, &wn->watchers) {
		struct wentry *we = cl_list_entry(l, struct wentry, link);
		if (we->w->all)
			continue;
		fn(ctx, we->w);
		calls++;
	}
	return calls;
}
