/*
 * corolease-plugin.h - what the corolease mail plugin (lib90_corolease_plugin)
 * offers the protocol modules loaded after it (lib95_imap_corolease_plugin).
 * Dovecot loads plugins with RTLD_GLOBAL, in name order, and a module that
 * declares "corolease" among its <name>_plugin_dependencies is loaded only
 * with this one, so it can call these functions directly.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#ifndef COROLEASE_DOVECOT_PLUGIN_H
#define COROLEASE_DOVECOT_PLUGIN_H

/*
 * Called once when the plugin ends the mail process's sessions (another
 * node wants a lease, a lease was revoked or is no longer valid, the daemon
 * was lost), before it stops the process's ioloop.  reason is for the
 * client: one line, an IMAP response code first (e.g. "[UNAVAILABLE]
 * Session moved: cluster node 2 wants this user"), valid only during the
 * call.  The hook may be called from within a command (a storage access
 * found the lease invalid): it must not free the session, only disconnect
 * it (the process ends after the current ioloop callback anyway).
 */
typedef void corolease_stop_hook_t(const char *reason);

/*
 * Sets the hook (NULL: none, the default; the process then just stops and
 * Dovecot says why in its own words).  Returns the previous hook.
 */
corolease_stop_hook_t *corolease_plugin_set_stop_hook(corolease_stop_hook_t *hook);

#endif
