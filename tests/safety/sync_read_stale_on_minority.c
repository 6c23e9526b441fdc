/*
 * sync_read_stale_on_minority - issue 7, defect 6: "sync" index reads are
 * not linearizable on a minority.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Schedule (issue 7): "put v1; partition node 1; put v2 on node 2
 * (acknowledged); a sync read on node 1 returns v1."  Seen on a real cluster
 * 4 ms to 15 s after the newer write was acknowledged, with exit 0.
 *
 * Here: three nodes.  Node 2's client 2 holds u and puts u/k = v1
 * (acknowledged).  The ring breaks; token + consensus later node 1 is alone
 * (not quorate) and {2,3} is quorate.  Node 2's client 3 takes u and puts
 * u/k = v2 (acknowledged).  Node 1's client 1 then does what lockd/ipc.c
 * does for COROLEASE_GET_SYNC: cl_node_sync() -- a NOP through the ring as
 * a barrier -- and, on SYNC_DONE with err 0, a read of the local replica.
 *
 * The safe outcome: a sync read succeeds only where it is linearizable
 * (quorate, synced, after a barrier in the current ring): node 1 must
 * answer COROLEASE_ENOQUORUM (or, were it able to, v2) -- never v1.
 *
 * Status: passes since a sync barrier is answered only where the read after
 * it is linearizable: its NOP must be delivered while the machine is quorate
 * and the local votequorum agrees, and be confirmed like an index write;
 * otherwise SYNC_DONE carries COROLEASE_ENOQUORUM (core/node_lease.c
 * on_op_done(), core/node_out.c nd_confirm_writes()).  Node 1, alone, gets
 * COROLEASE_ENOQUORUM.
 *
 * Shown to notice the defect: there is no test plant for it.  Reverting
 * locally the barrier handling of df9d877 -- in core/node_lease.c
 * on_op_done(), `bool barrier = false;` instead of `o->kind == OP_SYNC`, so
 * that SYNC_DONE is answered at the NOP's ADMIN_DONE as before -- makes it
 * fail with exit 1: node 1 answers 4 ms after v2 was acknowledged, rc 0,
 * and reads v1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "safety.h"

START_TEST(sync_read_stale_on_minority)
{
	struct evs_config c;
	evs_config_default(&c, 3);
	struct evs_bus *b = evs_new(&c);
	evs_boot(b);
	struct safety s;
	safety_init(&s, b);

	PRECONDITION(evs_acquire(b, 2, 2, "u", CL_MODE_EX, 0, 0) == 0, "node 2 asks for u");
	evs_run(b);
	PRECONDITION(evs_put(b, 2, 2, "u", "k", "v1") == 0, "node 2 puts u/k = v1");
	evs_run(b);
	const struct evs_event *d1 = evs_last(b, 2, 2, CL_NODE_EV_INDEX_DONE, "u");
	PRECONDITION(d1 && d1->ev.err == 0, "u/k = v1 is acknowledged");
	PRECONDITION(evs_release(b, 2, 2, "u") == 0, "node 2's client 2 is done with u");
	evs_run(b);

	evs_note(b, "node 1 is cut off");
	EVS_SPLIT(b, EVS_N(1), EVS_N(2) | EVS_N(3));
	PRECONDITION(evs_acquire(b, 2, 3, "u", CL_MODE_EX, 0, 0) == 0, "node 2 asks for u again");
	evs_run(b);
	PRECONDITION(evs_last(b, 2, 3, CL_NODE_EV_GRANTED, "u") != NULL, "node 2's client 3 holds u");
	PRECONDITION(evs_put(b, 2, 3, "u", "k", "v2") == 0, "node 2 puts u/k = v2");
	evs_run(b);
	const struct evs_event *d2 = evs_last(b, 2, 3, CL_NODE_EV_INDEX_DONE, "u");
	PRECONDITION(d2 && d2->ev.err == 0, "u/k = v2 is acknowledged on the quorate side");
	uint64_t acked = d2->at;

	/* the sync read on node 1, as lockd/ipc.c does COROLEASE_GET_SYNC */
	evs_advance(b, evs_now(b) + 4 * MS);
	uint64_t asked = evs_now(b);
	int rc = evs_sync(b, 1, 1);
	evs_run(b);
	evs_advance(b, asked + SEC);
	const struct evs_event *sd = evs_last(b, 1, 1, CL_NODE_EV_SYNC_DONE, NULL);
	PRECONDITION(rc < 0 || sd != NULL, "node 1 answers the sync read within 1 s");
	char v[16] = "";
	uint64_t ver = 0;
	if (rc == 0)
		rc = sd->ev.err ? sd->ev.err : evs_read(b, 1, "u", "k", v, sizeof(v), &ver);
	uint64_t answered = sd ? sd->at : asked;
	fprintf(stderr, "v2 acknowledged on node 2 at t=%s (version %" PRIu64 "); node 1's sync read "
		"answered at t=%s: rc %d, read \"%s\" (version %" PRIu64 ")\n", evs_t(acked),
		d2->ev.version, evs_t(answered), rc, v, ver);
	safety_expect(&s, rc == COROLEASE_ENOQUORUM || (rc == 0 && !strcmp(v, "v2")),
		      "node 1, alone and not quorate, answered a sync read of u/k at t=%s, %s after "
		      "v2 was acknowledged on node 2, with %s%s (version %" PRIu64 "), rc %d: expected "
		      "COROLEASE_ENOQUORUM (%d)",
		      evs_t(answered), evs_t(answered - acked), rc ? "an error" : "the older value ",
		      rc ? "" : v, ver, rc, COROLEASE_ENOQUORUM);
	safety_verdict(&s);
	evs_free(b);
}
END_TEST

int main(void)
{
	return safety_main(sync_read_stale_on_minority);
}
