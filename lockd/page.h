/*
 * page.h - the daemon's validity page: one file per incarnation, with the
 * node-wide validity deadline and a revocation slot per client hold.  The
 * format and what clients do with it: corolease/ipc.h, "The validity page".
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * No logging here: every failure is returned, with a one-line reason in
 * err where a function takes one, so that tests/check_page.c can host this
 * file alone.
 */
#ifndef COROLEASE_PAGE_H
#define COROLEASE_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cld_page;

/*
 * Checks that dir (the run dir) is a directory, not a symlink, owned by
 * root or the daemon's effective uid and not writable by group or others:
 * the validity page lives there.  0, or a negative errno with the reason in
 * err (-EPERM for a wrong owner or mode).
 */
int cld_page_check_dir(const char *dir, char *err, size_t errlen);

/*
 * Retires the page files a previous incarnation left in dir (ours and those
 * of the format before version 3): each regular file of the daemon's uid is
 * marked dead (magic 0, valid_until 0, so a client that still maps it reads
 * it invalid) and unlinked.  Returns how many were removed, or a negative
 * errno if dir cannot be read.
 */
int cld_page_retire_old(const char *dir);

/*
 * Creates this incarnation's page in dir: a fresh file (O_EXCL, O_NOFOLLOW)
 * named after a random incarnation id, sized for nslots slots
 * (1..CLP_SHM_SLOTS_MAX), mapped read-write, header filled in, valid_until
 * 0.  Returns 0 and *pg_r, or a negative errno with the reason in err.
 */
int cld_page_create(const char *dir, uint32_t nodeid, pid_t pid, uint32_t nslots,
		    struct cld_page **pg_r, char *err, size_t errlen);

/*
 * Stops serving: stores valid_until 0 and magic 0 (so clients that still map
 * the page read every lease invalid), unlinks the file and frees pg.
 * Accepts NULL; returns NULL.
 */
struct cld_page *cld_page_close(struct cld_page *pg);

/*
 * For a daemon that must exit at once (out of memory): valid_until 0 and
 * magic 0, and the file unlinked; nothing freed.  Accepts NULL.
 */
void cld_page_kill(struct cld_page *pg);

/* Publishes the node-wide deadline (clp_now_us(); 0 = nothing valid). */
void cld_page_set_valid_until(struct cld_page *pg, uint64_t valid_until);
uint64_t cld_page_valid_until(const struct cld_page *pg);
/* States revoke_timeout (microseconds) in the header; once, before serving. */
void cld_page_set_revoke_us(struct cld_page *pg, uint64_t revoke_us);

/* The file's path, incarnation and slot count, for the HELLO. */
const char *cld_page_path(const struct cld_page *pg);
uint64_t cld_page_incarnation(const struct cld_page *pg);
uint32_t cld_page_nslots(const struct cld_page *pg);
/* Slots allocated now. */
uint32_t cld_page_slots_used(const struct cld_page *pg);

/*
 * Takes a free slot for a client hold (its valid bit clear).  0 and
 * *slot_r, -EDQUOT when all nslots are taken, or -ENOMEM.
 */
int cld_page_slot_alloc(struct cld_page *pg, uint32_t *slot_r);
/* Sets slot's valid bit (the hold is granted); returns the word the client expects. */
uint64_t cld_page_slot_arm(struct cld_page *pg, uint32_t slot);
/* Clears slot's valid bit (the hold is revoked); the slot stays allocated. */
void cld_page_slot_clear(struct cld_page *pg, uint32_t slot);
/* The hold ended: the slot gets the next generation, valid bit clear, and is free again. */
void cld_page_slot_free(struct cld_page *pg, uint32_t slot);
/* The slot's current word. */
uint64_t cld_page_slot_word(const struct cld_page *pg, uint32_t slot);

#endif /* COROLEASE_PAGE_H */
