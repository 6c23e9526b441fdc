/*
 * quorum.h - the local votequorum view and cmap look-ups of coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_QUORUM_H
#define COROLEASE_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

/*
 * Connects to votequorum, starts tracking changes and registers the fd.
 * Notifications go to cl_node_quorum() once d->node exists.  0 or negative.
 */
int cld_quorum_connect(struct cld *d);
/* Disconnects; safe when not connected. */
void cld_quorum_disconnect(struct cld *d);
/* The last local votequorum verdict (false while disconnected). */
bool cld_quorum_quorate(const struct cld *d);
/* Frees the state; accepts d->vq == NULL. */
void cld_quorum_free(struct cld *d);

/*
 * Reads the effective totem token timeout (runtime.config.totem.token, ms)
 * from cmap.  0 or negative (corosync unreachable, key missing).
 */
int cld_cmap_token_ms(uint32_t *token_ms_r);

#endif /* COROLEASE_QUORUM_H */
