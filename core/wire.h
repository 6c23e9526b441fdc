/*
 * wire.h - the versioned little-endian encoding of cluster messages and
 * state snapshots.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Message layout: an 8-byte header
 *     u8 version (CL_WIRE_VERSION) | u8 type | u16 reserved (0) | u32 body length
 * followed by the body of that type, fields in a fixed order, all integers
 * little-endian.  Decoding checks every length against the buffer, the body
 * length against the header, and every field against its bounds; a buffer is
 * either decoded whole or rejected with an error code.  Nothing is read
 * outside [buf, buf + len).
 *
 * Snapshot layout: "CLSN" magic, u16 version, u16 reserved, the machine
 * header, the record count, the records, and a trailing 64-bit checksum of
 * everything before it.
 */
#ifndef COROLEASE_WIRE_H
#define COROLEASE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lease.h"

/*
 * 3: SYNC_ANNOUNCE carries epoch_floor; 4: INDEX_PUT carries the writer's
 * uid, SYNC_ANNOUNCE the sender's index_bytes_per_uid; 5: SYNC_ANNOUNCE,
 * SYNC_CHUNK and SYNC_HOLDS carry the sender's round (after per_uid_max;
 * after vallen, before the data), SYNC_ANNOUNCE may be a confirmation
 * (CL_SYNC_CONFIRM); 6: WRITE_ACK (its entries may name grants,
 * CL_ACK_GRANT); 7: SYNC_ANNOUNCE carries term_seen (after round), the
 * newest term its sender knows a state had; 8: no format change, but an
 * index is charged its name and record too (index.h), so a node of 7
 * would decide puts, evictions and quota refusals apart from one of 8
 */
#define CL_WIRE_VERSION   8u
#define CL_WIRE_HDR_LEN   8u
/* 3: the header carries index_bytes_per_uid, each record its index's uid */
#define CL_SNAP_VERSION   3u
#define CL_SYNC_CHUNK_MAX (512u * 1024u)   /* largest SYNC_CHUNK data */
/* Largest encoded message: a full SYNC_CHUNK (larger than any INDEX_PUT). */
#define CL_WIRE_MSG_MAX   (CL_WIRE_HDR_LEN + 64u + CL_SYNC_CHUNK_MAX)

/*
 * Returns the encoded size of m, or a negative code if m is not encodable
 * (-EINVAL: unknown type, name/key/value out of bounds, bad mode or flags).
 */
long cl_wire_size(const struct cl_msg *m);

/*
 * Encodes m into buf.  Returns the number of bytes written, -ENOSPC if cap is
 * too small, or -EINVAL as cl_wire_size().
 */
long cl_wire_encode(const struct cl_msg *m, uint8_t *buf, size_t cap);

/*
 * Decodes one message occupying exactly buf[0..len).  On success returns 0
 * and fills *m_r, whose pointers refer into buf.  Errors:
 * COROLEASE_EVERSION for another wire version, COROLEASE_EPROTO for anything
 * malformed (short, trailing bytes, unknown type, bounds, mode, flags, node 0).
 */
int cl_wire_decode(const uint8_t *buf, size_t len, struct cl_msg *m_r);

/*
 * Encodes the whole state of sm into a malloc'd buffer (*buf_r, *len_r; the
 * caller frees).  Returns 0, -ENOMEM, or -EINVAL for a machine that cannot
 * be described (more than CL_MAX_MEMBERS members; cannot happen).  Records
 * are written in name order (cl_sm_foreach_record()), so equal states give
 * equal bytes whatever the machines' table keys.
 */
int cl_snap_encode(const struct cl_sm *sm, uint8_t **buf_r, size_t *len_r);

/*
 * cl_snap_encode(), or with name_order false the records in the table's
 * order (cl_sm_scan_records()): the same state, loaded, but not
 * the same bytes on every host, and no sort of every name (most of the
 * encoding's time with a million records).  What a node sends a joiner.
 */
int cl_snap_encode_order(const struct cl_sm *sm, bool name_order, uint8_t **buf_r, size_t *len_r);

/*
 * The same bytes as cl_snap_encode_order(sm, false, ...), encoded a piece at
 * a time as they are read, so that a node sends a large state without
 * stopping its loop to encode all of it.  sm must not change while the
 * stream is read: a read after a change (its serial or lsn moved) fails with
 * -ESTALE, as does one that finds another record count than the header
 * promised.  new: NULL with *err_r (-ENOMEM, -EINVAL) on failure.  read:
 * copies up to cap bytes (cap > 0) to out and returns how many, or a negative
 * code; *last_r is set with the last of them.
 */
struct cl_snap_stream;
struct cl_snap_stream *cl_snap_stream_new(const struct cl_sm *sm, int *err_r);
long cl_snap_stream_read(struct cl_snap_stream *st, uint8_t *out, size_t cap, bool *last_r);
void cl_snap_stream_free(struct cl_snap_stream *st);

/*
 * Loads a snapshot into fresh (new, nothing applied).  Returns 0, or
 * COROLEASE_EVERSION, COROLEASE_EPROTO (truncated, bad magic, checksum,
 * bounds, inconsistent state), -ENOMEM.  After an error fresh must be freed.
 */
int cl_snap_decode(const uint8_t *buf, size_t len, struct cl_sm *fresh);

/*
 * The snapshot's trailing checksum over n bytes: FNV-1a 64, then the
 * murmur3 64-bit finaliser.  Part of the format (tests pin it by value).
 */
uint64_t cl_snap_checksum(const uint8_t *p, size_t n);

/*
 * A batch packs several encoded messages into one CPG message:
 *     u8 CL_BATCH_MAGIC | u8 reserved (0) | u16 count (>= 2) |
 *     count x (u32 length (>= CL_WIRE_HDR_LEN) | that many bytes)
 * The magic is never a wire version, so a receiver tells a batch from a
 * single message by the first byte.  The whole batch must be consumed.
 */
#define CL_BATCH_MAGIC   0xb7u
#define CL_BATCH_HDR_LEN 4u
#define CL_BATCH_MAX     (64u * 1024u)   /* larger messages travel alone */

typedef void (*cl_batch_fn)(void *ctx, const uint8_t *msg, size_t len);
/*
 * Validates the whole batch first, every message in it decoded with
 * cl_wire_decode(), then calls fn for each message in order.  Returns the
 * count, or COROLEASE_EVERSION (a message of another wire version) or
 * COROLEASE_EPROTO (anything else malformed), and then fn was never called:
 * a batch is used whole or not at all.
 */
int cl_batch_split(const uint8_t *buf, size_t len, cl_batch_fn fn, void *ctx);

/*
 * Little-endian helpers, shared with the journal and the client protocol.
 * Byte by byte whatever the host's order and alignment, written as single
 * expressions: compilers make one load or store of each (not of a loop).
 */
static inline void cl_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void cl_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void cl_put_u64(uint8_t *p, uint64_t v)
{
	cl_put_u32(p, (uint32_t)v);
	cl_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t cl_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t cl_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t cl_get_u64(const uint8_t *p)
{
	return (uint64_t)cl_get_u32(p) | (uint64_t)cl_get_u32(p + 4) << 32;
}

#endif /* COROLEASE_WIRE_H */
