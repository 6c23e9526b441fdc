/*
 * fuzz_snapshot - libFuzzer target: the snapshot decoder (core/wire.c
 * cl_snap_decode() and the machine's restore path in core/lease*.c) on
 * arbitrary bytes, loaded into a fresh machine.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Input: one flags byte, then the snapshot.  Flag 0x01 overwrites the
 * snapshot's trailing checksum with the right one, so the fuzzer gets past
 * it to the records (without it, the checksum check itself is fuzzed).
 *
 * Oracles: the decoder either refuses (COROLEASE_EPROTO / EVERSION /
 * -ENOMEM, and the machine is only freed) or loads a state that
 *  - re-encodes, and that encoding loads into another fresh machine with
 *    the same state hash and encodes to the same bytes again;
 *  - has no two live owners in conflict (fuzz_lease.h);
 *  - evolves the same in both machines under the same inputs (a
 *    configuration change that drops the first member, a quorum verdict,
 *    its recovery, an acquire of some loaded names): equal hashes after.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "fuzz_lease.h"
#include "lease.h"
#include "wire.h"

#define FZ_NAMES 8

static void no_action(void *ctx, const struct cl_action *a)
{
	(void)ctx;
	(void)a;
}

struct names {
	const struct cl_sm *sm;
	size_t n;
	uint16_t len[FZ_NAMES];
	uint8_t name[FZ_NAMES][COROLEASE_NAME_MAX];
};

static int visit(void *ctx, const struct cl_lease_info *info)
{
	struct names *ns = ctx;
	fz_check_live_ex(ns->sm, info);
	FZ_CHECK(info->mode != CL_MODE_NONE || info->nholders == 0,
		 "a loaded free lease has %u holders", info->nholders);
	if (ns->n < FZ_NAMES && info->namelen <= COROLEASE_NAME_MAX) {
		memcpy(ns->name[ns->n], info->name, info->namelen);
		ns->len[ns->n++] = info->namelen;
	}
	return 0;
}

/* Applies m (validated by an encode/decode round) to both machines. */
static void apply2(struct cl_sm *a, struct cl_sm *b, uint32_t sender, const struct cl_msg *m)
{
	uint8_t buf[CL_WIRE_HDR_LEN + 64 + COROLEASE_NAME_MAX];
	long n = cl_wire_encode(m, buf, sizeof(buf));
	if (n < 0)
		return;
	struct cl_msg d;
	FZ_CHECK(cl_wire_decode(buf, (size_t)n, &d) == 0, "a message of the script does not decode");
	int ra = cl_sm_apply(a, sender, &d), rb = cl_sm_apply(b, sender, &d);
	FZ_CHECK(ra == rb, "the same input gave %d and %d", ra, rb);
}

static void evolve(struct cl_sm *a, struct cl_sm *b, const struct names *ns)
{
	struct cl_sm_stats st;
	cl_sm_stats(a, &st);
	struct cl_ring ring = { .rep = 1, .seq = st.ring.seq + CL_RING_SEQ_STEP };
	uint32_t members[CL_MAX_MEMBERS], left[1];
	size_t nm = 0, nl = 0;
	for (uint32_t i = 0; i < st.nmembers; i++) {
		if (i == 0)
			left[nl++] = st.members[i];
		else
			members[nm++] = st.members[i];
	}
	if (nm == 0)
		members[nm++] = st.nmembers && st.members[0] == 1 ? 2 : 1;
	ring.rep = members[0];
	int ra = cl_sm_confchg(a, &ring, members, nm, left, nl);
	int rb = cl_sm_confchg(b, &ring, members, nm, left, nl);
	FZ_CHECK(ra == rb, "the same confchg gave %d and %d", ra, rb);
	uint32_t me = members[0];
	struct cl_msg q = { .type = CL_MSG_QUORUM, .ring = ring, .flags = CL_QUORUM_YES };
	for (size_t i = 0; i < nm; i++)
		apply2(a, b, members[i], &q);
	struct cl_msg g = { .type = CL_MSG_GRACE_END, .ring = st.grace_ring };
	if (st.grace && st.grace_ring.rep)
		apply2(a, b, me, &g);
	if (nl) {
		struct cl_msg r = { .type = CL_MSG_RECOVER_NODE, .node = left[0], .seq = st.orphan_seq + 1,
				    .req_id = 1 };
		apply2(a, b, me, &r);
		struct cl_msg f = { .type = CL_MSG_FENCE_ACK, .node = left[0], .req_id = 2 };
		apply2(a, b, me, &f);
	}
	for (size_t i = 0; i < ns->n; i++) {
		struct cl_msg m = { .type = CL_MSG_ACQUIRE, .mode = i & 1 ? CL_MODE_SH : CL_MODE_EX,
				    .flags = CL_ACQ_WAIT, .req_id = 10 + i, .namelen = ns->len[i],
				    .name = ns->name[i] };
		apply2(a, b, me, &m);
		struct cl_msg e = { .type = CL_MSG_EVICT, .req_id = 100 + i, .namelen = ns->len[i],
				    .name = ns->name[i] };
		if (i % 3 == 2)
			apply2(a, b, me, &e);
	}
	FZ_CHECK(cl_sm_failed(a) == cl_sm_failed(b), "one machine failed, the other not");
	FZ_CHECK(cl_sm_hash(a) == cl_sm_hash(b), "equal loaded states diverged under equal inputs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	size_t len = size - 1;
	uint8_t *snap = malloc(len ? len : 1);
	FZ_CHECK(snap != NULL, "out of memory");
	memcpy(snap, data + 1, len);
	if ((flags & 1) && len >= 8)
		cl_put_u64(snap + len - 8, cl_snap_checksum(snap, len - 8));

	struct cl_sm_config cfg = { 0 };
	struct cl_sm *sm = cl_sm_new(&cfg, no_action, NULL);
	FZ_CHECK(sm != NULL, "out of memory");
	int rc = cl_snap_decode(snap, len, sm);
	FZ_CHECK(rc == 0 || rc == COROLEASE_EPROTO || rc == COROLEASE_EVERSION || rc == -ENOMEM,
		 "cl_snap_decode returned %d", rc);
	if (rc == 0) {
		struct names ns = { .sm = sm };
		cl_sm_foreach(sm, visit, &ns);
		uint64_t h = cl_sm_hash(sm);
		uint8_t *e1, *e2;
		size_t l1, l2;
		FZ_CHECK(cl_snap_encode(sm, &e1, &l1) == 0, "a loaded state does not encode");
		struct cl_sm *sm2 = cl_sm_new(&cfg, no_action, NULL);
		FZ_CHECK(sm2 != NULL, "out of memory");
		rc = cl_snap_decode(e1, l1, sm2);
		FZ_CHECK(rc == 0, "the re-encoding of a loaded state does not load: %d", rc);
		FZ_CHECK(cl_sm_hash(sm2) == h, "state hash changed across encode/decode");
		FZ_CHECK(cl_snap_encode(sm2, &e2, &l2) == 0, "a reloaded state does not encode");
		FZ_CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0, "the second encoding differs from the first");
		evolve(sm, sm2, &ns);
		free(e1);
		free(e2);
		cl_sm_free(sm2);
	}
	cl_sm_free(sm);
	free(snap);
	return 0;
}
