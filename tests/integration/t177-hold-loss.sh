#!/bin/bash
# 177. (breaker, batch hold) 15% packet loss in node 1 for 10 s while
# node 1's root flood (cl-brk mspin, BRK_REQ=sync, 8 connections x 32
# SYNCs) keeps own CPG messages in flight: retransmissions stretch the CPG
# round trip, held batches hit the 20 ms timeout and more than
# batch_inflight (2) messages go in flight.  After the loss is cleared and the
# flood stopped: one connection's 40 SYNCs 10 ms apart on node 1 (median
# under 100 ms, a gross bound; no batch held: the in-flight count came back down), no
# 'validity lapsed' after the loss, and the states converge.
. "$(dirname "$0")/lib.sh"
it_init hold-loss 177
plain_build_only "timing of the batch hold under packet loss (t20 runs loss under ASan)"
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
[[ -x $BRK ]] || skip "cl-brk not built"
PCT=${PCT:-15}
it_up 3
flood_lock
log1=$CLUSTER_DIR/n1/coroleased.log
spawn 1 load env BRK_REQ=sync BRK_DEPTH=32 "$BRK" mspin 8 600 >/dev/null
sleep 2
h0=$(st 1 .counters.cpg_batches_held)
ok "$(cluster loss 1 "$PCT" 2>&1 | tail -1)"
sleep 3
say "during the loss: node 1 SYNC $(BRK_REQ=sync cluster exec 1 "$BRK" rtt 20 10)"
sleep 5
cluster loss-clear 1 >/dev/null 2>&1 || fail "loss-clear"
say "batches held during the loss: $(( $(st 1 .counters.cpg_batches_held) - h0 ))"
# (a wait, not a bound: beside stress-ng --cpu 8 node 1's corosync rejoined
# the other two 71 s after the loss ended, while the flood went on).  When
# corosync itself has not re-formed one ring by then, what this test is
# about (the daemon after the loss) cannot be seen: a skip that says so.
# In the idle CI of 203b900 node 1's corosync formed ring 1.59 with all
# three at the loss's end, then logged 'Retransmit List: 9' every 180 ms
# for two minutes, while nodes 2 and 3 stayed in their consensus wait (no
# new membership) and kept a ring of two (corosync/knet; not coroleased).
t0=$(now_ms)
if wait_until "$UP_TIMEOUT" synced 1; then
	ok "node 1 synced after the loss (after $(( $(now_ms) - t0 )) ms)"
else
	qs=
	for i in 1 2 3; do
		q=$(timeout 10 "$CLUSTER_SH" exec "$i" corosync-quorumtool -s 2>/dev/null)
		((i == 1)) && q1=$q
		qs+="node $i: $(awk '/^(Ring ID|Nodes|Quorate):/' <<<"$q" | tr -s ' ' | tr '\n' ' ')| "
	done
	say "corosync after the loss: $qs"
	say "node 1's corosync, its last lines: $(tail -n 3 "$CLUSTER_DIR/n1/corosync.log" | tr '\n' '|')"
	if awk '/^Nodes:/ { n = $2 } /^Quorate:/ { q = $2 } END { exit !(n == 3 && q == "Yes") }' <<<"$q1"; then
		fail "node 1 synced after the loss: not true after ${UP_TIMEOUT}s, although node 1's corosync is back in a quorate ring of 3"
	fi
	skip "node 1's corosync did not re-form a quorate ring of 3 within ${UP_TIMEOUT}s after the loss ended (corosync, not coroleased: see above); the daemon after the loss was not seen"
fi
sleep 2
p=$(awk '{print $1}' "$CLUSTER_DIR/n1/load.pid"); kill -TERM "$p"; wait_until 10 exited "$p"
say "flooder: $(cat "$CLUSTER_DIR/n1/load.log" | tr '\n' ';')"
l0=$(wc -l <"$log1")
sleep 1.5
h0=$(st 1 .counters.cpg_batches_held)
r=$(BRK_REQ=sync cluster exec 1 "$BRK" rtt 40 10)
h1=$(st 1 .counters.cpg_batches_held)
med=$(field median "$r")
say "after the loss, idle: node 1 SYNC $r; batches held during it $((h1 - h0))"
say "'validity lapsed' in node 1's log over the run: $(grep -c 'validity lapsed' "$log1" || true); ring changes: $(grep -c 'totem confchg' "$log1" || true)"
check "node 1's idle SYNC median under 100 ms after the loss, a gross bound (got ${med:-none})" awk -v m="${med:-999}" 'BEGIN { exit !(m < 100) }'
check "no batch held on idle node 1 ($((h1 - h0)))" [ "$((h1 - h0))" -le 1 ]
lapses=$(tail -n +"$l0" "$log1" | grep -c 'validity lapsed' || true)
flood_unlock
check "no 'validity lapsed' on node 1 after the loss ($lapses)" [ "$lapses" = 0 ]
quiesce
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
