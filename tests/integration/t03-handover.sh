#!/bin/bash
# 3. Handover: while node 1 holds, node 2 WAITs.
#   a. node 1's client (cl-load, ignores WANTED) gets the WANTED callback naming
#      node 2; after handover_timeout it is revoked and node 2 is granted.
#   b. the same with the CLI holding (acquire -- sleep): it prints the WANTED
#      notice naming node 2, then its CMD gets SIGTERM.
#   c. a client that releases on WANTED (cl-load -H) hands over at once.
. "$(dirname "$0")/lib.sh"
it_init handover 13
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
it_up 2

# --- a. library client ignoring WANTED
N=it/handover-a
spawn 1 loadA "$CL_LOAD" -v -1 -x "$N" >/dev/null
must_wait 10 "node 1's cl-load holds $N" grep -q "^all held 1" "$CLUSTER_DIR/n1/loadA.log"
t0=$(now_ms)
spawn 2 waitA "$CLI" acquire "$N" --wait 30 -- sh -c 'echo "epoch $COROLEASE_EPOCH"' >/dev/null
must_wait 5 "node 1's client got WANTED by node 2" grep -q "^wanted $N by node 2" "$CLUSTER_DIR/n1/loadA.log"
tw=$(now_ms)
must_wait 10 "node 1's client revoked after the handover timeout" grep -q "^revoked $N" "$CLUSTER_DIR/n1/loadA.log"
tr=$(now_ms)
must_wait 10 "node 2 granted" grep -q '^epoch' "$CLUSTER_DIR/n2/waitA.log"
tg=$(now_ms)
say "wait started +0, wanted seen +$((tw - t0)) ms, revoked seen +$((tr - t0)) ms, node 2 granted seen +$((tg - t0)) ms (handover_timeout $HANDOVER_MS ms)"
check "revocation not before handover_timeout - 300 ms ($((tr - t0)) ms >= $((HANDOVER_MS - 300)))" [ $((tr - t0)) -ge $((HANDOVER_MS - 300)) ]
check "node 2 granted not before the revocation" [ $tg -ge $tr ]

# --- b. the CLI holding: its command is terminated
N=it/handover-b
spawn 1 holdB "$CLI" acquire "$N" --kill-after 1 -- sh -c 'trap "echo got-SIGTERM; exit 143" TERM; echo held; while :; do sleep 0.1; done' >/dev/null
must_wait 10 "node 1's CLI holds $N" grep -q '^held' "$CLUSTER_DIR/n1/holdB.log"
hpid=$(daemon_pid 1 holdB)
t0=$(now_ms)
spawn 2 waitB "$CLI" acquire "$N" --wait 30 -- sh -c 'echo "epoch $COROLEASE_EPOCH"' >/dev/null
must_wait 10 "node 1's CMD got SIGTERM (lease revoked)" grep -q '^got-SIGTERM' "$CLUSTER_DIR/n1/holdB.log"
tr=$(now_ms)
check "node 1's CLI said why: $(grep -m1 'lease revoked' "$CLUSTER_DIR/n1/holdB.log")" grep -q 'lease revoked' "$CLUSTER_DIR/n1/holdB.log"
must_wait 10 "node 2 granted" grep -q '^epoch' "$CLUSTER_DIR/n2/waitB.log"
tg=$(now_ms)
say "CMD terminated +$((tr - t0)) ms, node 2 granted +$((tg - t0)) ms"
check "CMD not terminated before handover_timeout - 300 ms ($((tr - t0)) ms)" [ $((tr - t0)) -ge $((HANDOVER_MS - 300)) ]
must_wait 5 "node 1's CLI exited" exited "$hpid"
notice="corolease: lease $N wanted by node 2; sh keeps it until it exits, or until the handover timeout if the waiter may take it"
check "node 1's CLI printed the WANTED notice: $(grep -m1 'wanted by' "$CLUSTER_DIR/n1/holdB.log")" \
	grep -qxF "$notice" "$CLUSTER_DIR/n1/holdB.log"
check "the notice came before the revocation" \
	awk -v n="$notice" '$0 == n { w = NR } /lease revoked/ && !r { r = NR } END { exit !(w && r && w < r) }' \
	"$CLUSTER_DIR/n1/holdB.log"

# --- c. cooperative client: releases on WANTED
N=it/handover-c
spawn 1 loadC "$CL_LOAD" -v -H -x "$N" >/dev/null
must_wait 10 "node 1's cl-load -H holds $N" grep -q "^all held 1" "$CLUSTER_DIR/n1/loadC.log"
t0=$(now_ms)
spawn 2 waitC "$CLI" acquire "$N" --wait 30 -- sh -c 'echo "epoch $COROLEASE_EPOCH"' >/dev/null
must_wait 5 "node 2 granted" grep -q '^epoch' "$CLUSTER_DIR/n2/waitC.log"
tg=$(now_ms)
say "cooperative handover: node 2 granted +$((tg - t0)) ms (handover_timeout $HANDOVER_MS ms)"
check "node 1's client released on WANTED, was not revoked" bash -c "grep -q '^released $N' '$CLUSTER_DIR/n1/loadC.log' && ! grep -q '^revoked' '$CLUSTER_DIR/n1/loadC.log'"
must_wait 5 "state hashes equal" hashes_equal 1 2
it_pass
