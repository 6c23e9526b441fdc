/*
 * mkseeds - writes the seed corpus of the fuzz targets (tests/fuzz/seeds/),
 * made with the core's own encoders: tests/fuzz/fuzz.sh seeds.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "wire.h"

static const char *dir;

static void put(const char *target, const char *name, const void *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static size_t enc(const struct cl_msg *m, uint8_t *buf, size_t cap)
{
	long n = cl_wire_encode(m, buf, cap);
	if (n < 0) {
		fprintf(stderr, "mkseeds: cannot encode type %u\n", m->type);
		exit(1);
	}
	return (size_t)n;
}

static void no_action(void *ctx, const struct cl_action *a)
{
	(void)ctx;
	(void)a;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	dir = argv[1];
	uint8_t a[512], b[512], batch[1100];
	struct cl_msg acq = { .type = CL_MSG_ACQUIRE, .mode = CL_MODE_EX, .flags = CL_ACQ_WAIT,
			      .req_id = 7, .namelen = 10, .name = (const uint8_t *)"user/alice" };
	struct cl_msg put_m = { .type = CL_MSG_INDEX_PUT, .namelen = 10, .name = (const uint8_t *)"user/alice",
				.keylen = 5, .key = (const uint8_t *)"route", .vallen = 6,
				.value = (const uint8_t *)"node-2", .epoch = 1ull << 32 | 1, .uid = 1000,
				.req_id = 8 };
	struct cl_msg ann = { .type = CL_MSG_SYNC_ANNOUNCE, .flags = CL_SYNC_HAS_STATE,
			      .ring = { 1, 8 }, .term = { 1, 4 }, .lsn = 12, .q_lsn = 12,
			      .mem_max = 1 << 20, .hash = 0x1234, .round = 5 };
	size_t na = enc(&acq, a, sizeof(a)), nb = enc(&put_m, b, sizeof(b));
	put("fuzz_wire", "acquire", a, na);
	put("fuzz_wire", "index_put", b, nb);
	size_t nn = enc(&ann, batch, sizeof(batch));
	put("fuzz_wire", "sync_announce", batch, nn);
	/* node 2 applied node 1's request 8 and node 3's request 5 */
	static const uint8_t acks[2 * CL_WRITE_ACK_LEN] = { 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
							    3, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0 };
	struct cl_msg wack = { .type = CL_MSG_WRITE_ACK, .value = acks, .vallen = sizeof(acks) };
	nn = enc(&wack, batch, sizeof(batch));
	put("fuzz_wire", "write_ack", batch, nn);
	batch[0] = CL_BATCH_MAGIC;
	batch[1] = 0;
	cl_put_u16(batch + 2, 2);
	cl_put_u32(batch + 4, (uint32_t)na);
	memcpy(batch + 8, a, na);
	cl_put_u32(batch + 8 + na, (uint32_t)nb);
	memcpy(batch + 12 + na, b, nb);
	put("fuzz_wire", "batch", batch, 12 + na + nb);

	/* a small state: three members, a held lease, a waiter, an orphan, an index */
	struct cl_sm_config cfg = { 0 };
	struct cl_sm *sm = cl_sm_new(&cfg, no_action, NULL);
	struct cl_ring r = { 1, 4 };
	uint32_t mem[3] = { 1, 2, 3 };
	cl_sm_confchg(sm, &r, mem, 3, NULL, 0);
	struct cl_msg q = { .type = CL_MSG_QUORUM, .ring = r, .flags = CL_QUORUM_YES };
	for (uint32_t i = 1; i <= 3; i++)
		cl_sm_apply(sm, i, &q);
	cl_sm_apply(sm, 1, &acq);
	put_m.epoch = cl_sm_hold_epoch(sm, "user/alice", 10, 1, NULL);
	cl_sm_apply(sm, 1, &put_m);
	cl_sm_apply(sm, 2, &acq);
	struct cl_msg sh = { .type = CL_MSG_ACQUIRE, .mode = CL_MODE_SH, .req_id = 9, .namelen = 1,
			     .name = (const uint8_t *)"s" };
	cl_sm_apply(sm, 3, &sh);
	sh.req_id = 10;
	cl_sm_apply(sm, 1, &sh);
	sh.req_id = 11;
	cl_sm_apply(sm, 2, &sh);   /* "s": SH by 1, 2 and 3 (orphaned below) */
	struct cl_ring r2 = { 1, 8 };
	uint32_t left = 3;
	cl_sm_confchg(sm, &r2, mem, 2, &left, 1);
	uint8_t *snap;
	size_t len;
	if (cl_snap_encode(sm, &snap, &len) != 0)
		return 1;
	uint8_t *s1 = malloc(len + 1);
	s1[0] = 1;   /* fuzz_snapshot: fix the checksum */
	memcpy(s1 + 1, snap, len);
	put("fuzz_snapshot", "state", s1, len + 1);
	s1[0] = 0;
	put("fuzz_snapshot", "state-checksum-kept", s1, len + 1);
	free(s1);
	free(snap);
	cl_sm_free(sm);

	/* fuzz_sm: machines (confchg, quorum, acquires), agents (requests, split, heal) */
	static const uint8_t sm1[] = { 0x00, 0x00, 0x0e, 0x02, 0x09, 0x01, 0x00, 0x02, 0x00, 0x04, 0x02,
				       0x02, 0x00, 0x05, 0x05, 0x06, 0x02, 0x00, 0x00, 0x08, 0x04 };
	static const uint8_t sm2[] = { 0x80, 0x00, 0x05, 0x01, 0x86, 0x07, 0x01, 0x09, 0x02, 0x07, 0x00,
				       0x03, 0x05 };
	static const uint8_t sm3[] = { 0x83, 0x00, 0x01, 0x0b, 0x02, 0x07, 0x01, 0x0c, 0x01, 0x0d, 0x00 };
	put("fuzz_sm", "machines", sm1, sizeof(sm1));
	put("fuzz_sm", "agents-split", sm2, sizeof(sm2));
	put("fuzz_sm", "agents-two-node", sm3, sizeof(sm3));

	/* fuzz_ipc: connect, HELLO, LIST (type 13) and INDEX_LIST (7) of the large index, close unread */
	static const uint8_t ipc1[] = { 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x02, 0x05, 0x00, 0x00, 0x07 };
	static const uint8_t ipc2[] = { 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x01, 0x06,
					0x09, 0x02, 0x08, 0x01, 0x00, 0x07, 0x09, 0x0b };
	put("fuzz_ipc", "list-close-unread", ipc1, sizeof(ipc1));
	put("fuzz_ipc", "acquire-sync-close-held", ipc2, sizeof(ipc2));
	return 0;
}
