#!/bin/bash
# 174. (breaker, batch hold) Node 3 is cut off (a minority of one) for 6 s
# (over the fence delay) while its root flood keeps own CPG messages in
# flight (cl-brk mspin, BRK_REQ=sync, 8 connections x 32 SYNCs: batches are
# held for batch_inflight (2) own messages).  A cl-valid on node 3 holds a
# name, one on node 1 waits for it.  After the heal the flood stops and one
# connection on node 3 sends 40 SYNCs 10 ms apart: if the count of own
# messages in flight stuck high across the partition, each is held 20 ms.
# Passes when node 1 is granted the name, no moment exists at which both
# clients could use it, node 3's idle SYNC median is under 100 ms (a gross bound) with no
# batch held, and the states converge.
# node 1's wait must not end node 3's hold by the handover timeout before the cut
HANDOVER_MS=60000
. "$(dirname "$0")/lib.sh"
it_init hold-minority 174
plain_build_only "timing of the batch hold under a partition (t20 runs partitions under ASan)"
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
[[ -x $CL_VALID && -x $BRK ]] || skip "cl-valid / cl-brk not built"
it_up 3
flood_lock
S=it/minority
spawn 3 a "$CL_VALID" "$S" >/dev/null
must_wait 10 "node 3's client A may use $S" grep -q "^valid $S 1" "$CLUSTER_DIR/n3/a.log"
spawn 1 w "$CL_VALID" -w "$S" >/dev/null
must_wait 10 "node 1's client W is queued behind node 3" \
	bash -c "'$CLUSTER_SH' exec 1 '$CLI' --json show $S | grep -q '\"waiters\":\[{\"node\":1'"
tq=$(now_ms)
spawn 3 load env BRK_REQ=sync BRK_DEPTH=32 "$BRK" mspin 8 600 >/dev/null
must_wait 20 "node 3's flood connected" grep -q '^connections 8' "$CLUSTER_DIR/n3/load.log"
sleep 2
# W's wait revokes A after HANDOVER_MS: on a host so loaded that the set-up
# took half of that, the partition would no longer be what decides.  No CLI
# call here: beside node 3's realtime flood, starting a process at normal
# priority (cluster.sh exec, nsenter, the CLI) took 0.6-1 s on the idle
# 2-core VM and 15 s each beside other tests (two status calls here once
# took 93 s beside stress-ng --cpu 8); the counters are read after the heal.
(($(now_ms) - tq < HANDOVER_MS / 2)) ||
	skip "host too loaded: the set-up under the flood took $(($(now_ms) - tq)) ms, over half the handover timeout"
check "node 1's client W not yet granted before the cut" bash -c "! grep -q '^valid $S 1' '$CLUSTER_DIR/n1/w.log'"
ok "$(cluster partition 3)"
sleep 6
must_wait 20 "node 1's client W granted $S while node 3 is cut off" grep -q "^valid $S 1" "$CLUSTER_DIR/n1/w.log"
ok "$(cluster heal 3)"
must_wait 60 "node 3 synced after the heal" synced 3
say "node 3 after the flood and the cut: batches held $(st 3 .counters.cpg_batches_held), cpg_msgs $(st 3 .counters.cpg_msgs)"
sleep 2
p=$(awk '{print $1}' "$CLUSTER_DIR/n3/load.pid"); kill -TERM "$p"; wait_until 10 exited "$p"
sleep 1.5
h0=$(st 3 .counters.cpg_batches_held)
r=$(BRK_REQ=sync cluster exec 3 "$BRK" rtt 40 10)
h1=$(st 3 .counters.cpg_batches_held)
med=$(field median "$r")
flood_unlock
say "after the heal, idle: node 3 SYNC $r; batches held during it $((h1 - h0))"
grep -E 'validity lapsed|revok' "$CLUSTER_DIR/n3/coroleased.log" | head -3 | sed 's/^/    /'
check "node 3's idle SYNC median under 100 ms after the heal, a gross bound (got ${med:-none})" awk -v m="${med:-999}" 'BEGIN { exit !(m < 100) }'
check "no batch held on idle node 3 ($((h1 - h0)))" [ "$((h1 - h0))" -le 1 ]
quiesce
ov=$(valid_overlaps 3:"$CLUSTER_DIR/n3/a.log" 1:"$CLUSTER_DIR/n1/w.log")
[[ -n $ov ]] && say "$ov"
check "no moment at which node 3's and node 1's clients could both use $S" [ -z "$ov" ]
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
