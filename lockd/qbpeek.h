/*
 * qbpeek.h - the bytes a client really sent in the request libqb hands
 * msg_process (qbpeek.c).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_QBPEEK_H
#define COROLEASE_QBPEEK_H

#include <errno.h>
#include <sys/types.h>

/*
 * The size of the ring chunk libqb last read, if data is where it starts
 * (the request msg_process was handed), else -1 (unknown).
 */
ssize_t cld_qb_chunk_size(const void *data);

#endif /* COROLEASE_QBPEEK_H */
