/*
 * naming.h - the Dovecot plugin's pure parts: lease names and settings.
 * No Dovecot and no I/O: tests/check_dovecot.c links naming.c directly.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#ifndef COROLEASE_DOVECOT_NAMING_H
#define COROLEASE_DOVECOT_NAMING_H

#include <stddef.h>

/* Longest lease name the plugin builds (the daemon's COROLEASE_NAME_MAX). */
#define CLD_NAME_MAX 1024u

/*
 * "user/<username>" into buf (NUL-terminated).  Returns its length, or -1
 * when username is empty or the name would not fit in bufsize or in
 * CLD_NAME_MAX bytes (a user name that long is refused, not hashed, so
 * that `corolease list` always shows the real user name).
 */
int cld_user_lease_name(const char *username, char *buf, size_t bufsize);

/*
 * "mailbox/<path>" into buf, path being the mailbox's directory in the mail
 * store.  A path too long for CLD_NAME_MAX becomes "mailbox/#<16 hex digits
 * of FNV-1a 64>:<the path's last bytes>": a collision can only make two
 * mailboxes share one lease (coarser, never unsafe).  Returns the length, or
 * -1 for an empty path or bufsize < CLD_NAME_MAX + 1.
 */
int cld_mailbox_lease_name(const char *path, char *buf, size_t bufsize);

/*
 * "store/<path>" into buf, path being the root directory of a mail store
 * (a namespace's mail root: the owner's Maildir, with its mailbox list
 * index, subscriptions and every mailbox under it), hashed as above when
 * too long.  Returns the length, or -1 as above.
 */
int cld_store_lease_name(const char *path, char *buf, size_t bufsize);

/*
 * The lexical normal form of an absolute path into out (outsize bytes):
 * runs of '/' become one, "." components go, ".." removes the component
 * before it (never above "/"), no trailing '/' (except "/" itself).
 * Returns the length, or -1 for a path not starting with '/' or an out
 * too small.
 */
int cld_path_lexical(const char *path, char *out, size_t outsize);

/*
 * Resolves an existing path (as realpath(3)) into out (outsize bytes,
 * at least 2): 0, or -1 when it does not exist or cannot be resolved.
 */
typedef int cld_realpath_fn(const char *path, char *out, size_t outsize, void *ctx);

/*
 * The canonical spelling of an absolute path, so that every spelling of
 * one directory names one lease: the resolved (realpath) form of its
 * longest existing prefix, then the lexically normalised rest (a mailbox
 * being created does not exist yet).  The rest is normalised lexically
 * only: its components do not exist, so none is a symlink.  Returns the
 * length, or -1 (a relative path, out too small).
 */
int cld_path_canonical(const char *path, cld_realpath_fn *resolve, void *ctx,
		       char *out, size_t outsize);

enum cld_fail_mode {
	CLD_FAIL_CLOSED = 0, /* no daemon, no quorum, syncing: refuse */
	CLD_FAIL_OPEN = 1,   /* then serve without a lease (single-node use) */
};

struct cld_settings {
	int user_lease;             /* corolease_user_lease (yes) */
	int mailbox_lease;          /* corolease_mailbox_lease (yes) */
	unsigned user_wait_ms;      /* corolease_user_wait (10s) */
	unsigned mailbox_wait_ms;   /* corolease_mailbox_wait (5s) */
	enum cld_fail_mode fail_mode; /* corolease_fail_mode (closed) */
};

/* Returns the value of a plugin setting, or NULL when it is not set. */
typedef const char *cld_getenv_fn(const char *key, void *ctx);

/*
 * Fills *set from getenv (defaults for unset keys).  Returns 0, or -1 with
 * a message in err (errlen bytes) naming the key and the bad value.
 * Booleans: yes/no (also y/n, true/false, 1/0).  Durations: a number with
 * an optional unit ms, s, sec, secs, m, min, mins (no unit: seconds, as
 * Dovecot's own time settings), at most 1 hour.
 */
int cld_settings_parse(struct cld_settings *set, cld_getenv_fn *getenv, void *ctx,
		       char *err, size_t errlen);

/* Duration text to milliseconds as above: 0, or -1 if malformed. */
int cld_parse_duration_ms(const char *s, unsigned *ms_r);

/*
 * The routing passdb's answer (a JSON object of passdb fields, for
 * Dovecot's dict passdb) for a user whose lease user/NAME is held by node
 * `owner` (0: nobody), asked on node `self`:
 *   owner 0 or self:  {"noauthenticate":"y"}            serve it here
 *   another node:     {"noauthenticate":"y","proxy_maybe":"y","host":"ADDR"}
 * ("noauthenticate": the passdb before it checked the password).  Returns
 * the length, or -1 when another node holds the user but owner_addr is
 * NULL or not a plain address (letters, digits, '.', ':', '-' only), or
 * the answer does not fit: the lookup must then fail, never serve locally.
 */
int cld_route_answer(unsigned owner, unsigned self, const char *owner_addr,
		     char *buf, size_t bufsize);

/* Why the plugin ends a session (the text of the IMAP "* BYE"). */
enum cld_stop_cause {
	CLD_STOP_WANTED = 0, /* another node waits for a lease this process holds */
	CLD_STOP_LOST = 1,   /* a lease revoked, no longer valid, or the daemon gone */
};

/*
 * The client-facing reason a session ends for, into buf (NUL-terminated):
 * the text after "* BYE ", an IMAP response code first, no CR or LF, no
 * lease name or path (a mailbox lease names a server directory).
 *   CLD_STOP_WANTED, lease "user/...":
 *     "[UNAVAILABLE] Session moved: cluster node N wants this user"
 *   CLD_STOP_WANTED, lease "store/...":
 *     "[UNAVAILABLE] Session ended: cluster node N wants the mail store it uses"
 *   CLD_STOP_WANTED, any other lease:
 *     "[UNAVAILABLE] Session ended: cluster node N wants a mailbox open in it"
 *   CLD_STOP_LOST:
 *     "[UNAVAILABLE] Cluster lease lost: session ended"
 * (node 0: "another cluster node" instead of "cluster node N").  Returns
 * the length, or -1 when it does not fit in bufsize (buf then empty if
 * bufsize > 0).
 */
int cld_bye_reason(enum cld_stop_cause cause, unsigned node, const char *lease_name,
		   char *buf, size_t bufsize);

/*
 * 1 if a session of node self that waits for a lease, and is told that node
 * wanter wants one it holds, gives up its wait (and then ends, as told), 0
 * if it waits on.  Two sessions that each hold what the other waits for
 * are on two nodes (a node's mail processes share their holds): exactly
 * one of them gives up, so that the other is served.  A cycle through more
 * nodes has at least one step to a lower node id, and its session gives
 * up.  A session that gives up was told to go anyway.
 */
int cld_wait_yields(unsigned self, unsigned wanter);

/*
 * 1 if vname is a descendant of the mailbox parent in a namespace whose
 * hierarchy separator is sep ("a.b" and "a.b.c" of "a" with '.'), else 0.
 * A listing with the pattern "<parent><sep>*" can also return names that
 * only match because parent itself holds '*' or '%'; this filters them.
 */
int cld_mailbox_is_child(const char *parent, char sep, const char *vname);

#endif
