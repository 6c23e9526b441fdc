/*
 * status.h - the daemon's answer to STATUS: its state as key/value records
 * (struct clp_status_rec, corolease/ipc.h), made from one field list.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_STATUS_H
#define COROLEASE_STATUS_H

#include <stddef.h>

#include "daemon.h"

/* Room that always holds the encoded status (members are at most CL_MAX_MEMBERS). */
#define CLD_STATUS_MAX 16384u

/*
 * Encodes d's status into buf (cap bytes) as STATUS records.  Returns the
 * length, or -EMSGSIZE when cap is too small (never with CLD_STATUS_MAX).
 * Reads d, its node and the corosync views; changes nothing.
 */
long cld_status_encode(const struct cld *d, void *buf, size_t cap);

#endif /* COROLEASE_STATUS_H */
