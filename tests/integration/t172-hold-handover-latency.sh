#!/bin/bash
# 172. (breaker, batch hold) The handover latency on a lightly loaded
# cluster.  bench-ipc handover on nodes 1 and 2 (each holds one name 20 ms
# per grant and releases it to the other; release-to-grant p50/p99), first
# idle, then with BG root connections on each of nodes 1 and 2 keeping one
# SYNC each outstanding (cl-brk mspin, BRK_DEPTH=1: every SYNC a cluster
# message, so the node often has batch_inflight (2) own messages in flight
# when the release is made, and the release's batch is held until one of
# them is back).  Passes when the loaded handover p50 stays under the idle
# one + 10 ms (half CLD_CPG_HOLD_MS) on both nodes: a release that routinely
# waited for the hold's 20 ms timeout instead of an own message back would
# not.  (The loaded p50 is about 2x the idle one at the parent e4825ec too.)
. "$(dirname "$0")/lib.sh"
# cnt FIELD: a counter of node 1 (0 when this build has none)
cnt() { local v; v=$(st 1 "$1"); [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0; }
it_init hold-handover 172
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
BI=$IT_BUILD/bench/bench-ipc
[[ -x $BRK && -x $BI ]] || skip "cl-brk / bench-ipc not built"
SECS=${SECS:-8}
BG=${BG:-2}
it_up 3
ho() {   # ho TAG: prints "p50_node1 p50_node2"; logs the lines
	local f=$CLUSTER_DIR/ho.$1.ts a b
	rm -f "$f"
	spawn 2 "ho2$1" "$BI" handover it/ho "$SECS" "$f" >/dev/null
	a=$(cluster exec 1 "$BI" handover it/ho "$SECS" "$f")
	must_wait 30 "node 2's handover bench done" grep -q grants "$CLUSTER_DIR/n2/ho2$1.log" >&2
	b=$(cat "$CLUSTER_DIR/n2/ho2$1.log")
	say "$1: node 1: $a" >&2; say "$1: node 2: $b" >&2
	echo "$(sed -n 's/.* p50 \([0-9]*\) us p99.*/\1/p' <<<"$a") $(sed -n 's/.* p50 \([0-9]*\) us p99.*/\1/p' <<<"$b")"
}
read -r i1 i2 < <(ho idle)
h0=$(cnt .counters.cpg_batches_held); m0=$(cnt .counters.cpg_msgs)
spawn 1 bg1 env BRK_REQ=sync BRK_DEPTH=1 "$BRK" mspin "$BG" $((SECS + 20)) >/dev/null
spawn 2 bg2 env BRK_REQ=sync BRK_DEPTH=1 "$BRK" mspin "$BG" $((SECS + 20)) >/dev/null
sleep 1
read -r l1 l2 < <(ho loaded)
say "node 1 during the loaded run: CPG messages $(( $(cnt .counters.cpg_msgs) - m0 )), batches held $(( $(cnt .counters.cpg_batches_held) - h0 ))"
say "handover p50 idle: node 1 $i1 us, node 2 $i2 us; with $BG SYNC connections per node: node 1 $l1 us, node 2 $l2 us"
for n in 1 2; do
	i=i$n l=l$n
	check "node $n: loaded handover p50 ${!l} us under idle ${!i} us + 10 ms" \
		awk -v i="${!i:-0}" -v l="${!l:-999999999}" 'BEGIN { exit !(i > 0 && l <= i + 10000) }'
done
it_pass
