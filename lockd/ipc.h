/*
 * ipc.h - the client side of coroleased: libqb IPC server speaking corolease/ipc.h.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_IPC_H
#define COROLEASE_IPC_H

#include <stdint.h>

#include "daemon.h"

/*
 * Resolves socket_group/admin_group and starts the IPC service on d->loop.
 * Returns 0 or negative (-EADDRINUSE: another daemon serves the name;
 * -ENOENT: an explicitly configured group does not exist).
 */
int cld_ipc_start(struct cld *d);
/* Disconnects every client and destroys the service; safe when not started. */
void cld_ipc_stop(struct cld *d);
/* ops.event: routes one node event to its client (or all clients / watchers). */
void cld_ipc_event(void *ctx, const struct cl_node_event *ev);
/* Connected clients that said HELLO. */
uint64_t cld_ipc_clients(const struct cld *d);

#endif /* COROLEASE_IPC_H */
