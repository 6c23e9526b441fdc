/*
 * imap-corolease-plugin.c - the IMAP side of the corolease plugin
 * (lib95_imap_corolease_plugin, module imap_corolease; needs corolease
 * loaded first, imap only):
 *
 *   protocol imap {
 *     mail_plugins = $mail_plugins imap_corolease
 *   }
 *
 * When the mail plugin ends a session (another node wants the user or a
 * mailbox, a lease revoked or no longer valid, coroleased lost), it stops
 * the process; Dovecot would then end the session with its generic
 * "* BYE Server shutting down.".  With this module loaded, the client gets
 * "* BYE <reason>" instead (e.g. "* BYE [UNAVAILABLE] Session moved:
 * cluster node 2 wants this user") and the connection is closed; the
 * command in progress, if any, gets no tagged answer.  Without it the old
 * behaviour stays.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#include "imap-common.h"
#include "imap-client.h"

#include "corolease-plugin.h"

const char *imap_corolease_plugin_version = DOVECOT_ABI_VERSION;
const char *imap_corolease_plugin_dependencies[] = { "corolease", NULL };
const char imap_corolease_plugin_binary_dependency[] = "imap";

void imap_corolease_plugin_init(struct module *module);
void imap_corolease_plugin_deinit(void);

static corolease_stop_hook_t *imap_cl_prev_hook;

/*
 * Every session of the process (one with client_limit = 1) gets the BYE
 * and is disconnected: client_disconnect_with_error() closes the streams at
 * once and frees the client from the ioloop later, so this is safe from
 * within a command.  Clients already disconnected (a LOGOUT or the
 * client's close being handled) are left alone; when no session was told,
 * the log says why, so that every "ending the session" line has either a
 * "Disconnected: <reason>" line or this one.
 */
static void imap_cl_stop(const char *reason)
{
	struct client *client;
	unsigned told = 0, ending = 0;

	for (client = imap_clients; client != NULL; client = client->next) {
		if (client->disconnected) {
			ending++;
			continue;
		}
		client_disconnect_with_error(client, reason);
		told++;
	}
	if (told == 0)
		i_info("corolease: no IMAP session to tell why: %s",
		       ending > 0 ? "it was already disconnecting" : "none created yet");
	if (imap_cl_prev_hook != NULL)
		imap_cl_prev_hook(reason);
}

void imap_corolease_plugin_init(struct module *module ATTR_UNUSED)
{
	imap_cl_prev_hook = corolease_plugin_set_stop_hook(imap_cl_stop);
}

void imap_corolease_plugin_deinit(void)
{
	(void)corolease_plugin_set_stop_hook(imap_cl_prev_hook);
	imap_cl_prev_hook = NULL;
}
