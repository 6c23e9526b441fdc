/*
 * killguard.h - the revoke-deadline kill, kept by a thread of its own.
 *
 * kill_on_revoke and COROLEASE_KILL promise that a client still holding a
 * revoked lease at its revoke deadline is killed then, before any other
 * node may grant the name.  The daemon's loop makes that kill (ipc_req.c's
 * kill_client()), but the loop can be stuck: corosync's client libraries
 * wait without a bound, and a corosync that hangs (stopped, or hung while
 * starting) holds the loop in cpg_model_initialize() or
 * votequorum_getinfo() for as long as it hangs, while the other nodes fence
 * this one and grant (a breaker's helper-95: 26 s of two owners).
 *
 * So every kill the loop owes is armed here too, when the hold is revoked.
 * The guard's thread wakes at each deadline plus CLD_KILLGUARD_SLACK_US; if
 * the loop has not run its timers since the deadline (cld_killguard_ran()),
 * it sends the kill itself (the process tree too for COROLEASE_KILL), else
 * the loop has made it or the hold ended, and the entry goes.  The loop
 * disarms an entry when the client releases the hold, when it makes the
 * kill, and all of a client's when it disconnects (before its pidfd is
 * closed: the guard signals through the connection's own pidfd, under the
 * guard's lock).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_KILLGUARD_H
#define COROLEASE_KILLGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long after a deadline the guard waits for the loop (well below the
 * fence delay's margin over validity + revoke timeout: 2 s by default). */
#define CLD_KILLGUARD_SLACK_US 100000u
/*
 * Connections with a kill armed, at most; the last CLD_KILLGUARD_ROOT of
 * them for root's.  One entry per connection (the kill goes to its
 * process, once), so a user's thousands of revoked holds take one entry,
 * and one user (max_connections_per_uid) cannot fill it for another.
 * Beyond it a kill is left to the loop alone (logged).
 */
#define CLD_KILLGUARD_MAX 4096u
#define CLD_KILLGUARD_ROOT 256u

struct cld_killguard;

/* Starts the guard's thread; NULL with errno set when it cannot. */
struct cld_killguard *cld_killguard_start(void);
/* Stops the thread and frees everything (entries are dropped, not fired); accepts NULL. */
void cld_killguard_stop(struct cld_killguard *g);

/*
 * Arms (or re-arms) the kill of client's hold of name at deadline
 * (cld_now_us()): pidfd (the connection's, valid until disarmed) names
 * process pid of uid; tree: COROLEASE_KILL, its descendants too; check:
 * only if uid may still signal it then (not kill_on_revoke: the client may
 * have exec'd a set-user-ID program since, as kill_client() checks).  0,
 * -ENOSPC (full) or -ENOMEM.
 */
int cld_killguard_arm(struct cld_killguard *g, uint64_t client, const void *name, size_t namelen,
		      int pidfd, int32_t pid, uint32_t uid, bool tree, bool check, uint64_t deadline);
/* The hold ended or the loop killed: forget it. */
void cld_killguard_disarm(struct cld_killguard *g, uint64_t client, const void *name, size_t namelen);
/* The client is gone: forget all of its entries (call before closing its pidfd). */
void cld_killguard_disarm_client(struct cld_killguard *g, uint64_t client);
/* The loop ran its timers at now (cld_now_us()). */
void cld_killguard_ran(struct cld_killguard *g, uint64_t now);
/* Kills the guard made (the loop was stuck), and connections armed now. */
void cld_killguard_counts(struct cld_killguard *g, uint64_t *kills_r, size_t *armed_r);
/*
 * Kills made since the last call, for the loop to log (0: none): the
 * newest one's pid and how late the loop was, in ms.
 */
uint64_t cld_killguard_take_news(struct cld_killguard *g, int32_t *pid_r, uint64_t *late_ms_r);

#endif /* COROLEASE_KILLGUARD_H */
