#!/bin/bash
# 176. (breaker, 32 requests a round for root) Does a root flood of plain
# requests on node 1 slow the cluster's handovers to node 1?  bench-ipc
# handover on nodes 1 and 2 (each holds one name 20 ms per grant and
# releases it to the other; release-to-grant p50), first idle, then while
# CONNS root connections on node 1 each keep 32 STATUS requests outstanding
# (cl-brk mspin).  Every poll round of node 1's loop reads up to 32 requests
# of each flooding connection before its corosync fd's deliveries and the
# bench's own connection get their turn.  Passes when the handovers to node
# 1 and to node 2 (node 1's release) during the flood have a p50 under 50 ms
# or under 12 times the same node's idle p50, whichever is more.  The old
# fault (32 a round for every root connection) gave 71-153 ms beside an
# idle p50 of about 2 ms; the fix gives 10-16 ms on an idle VM.  The CI
# runs other tests beside this one: there the idle p50 was 7-8 ms and the
# flood's 24 and 50 ms, so an absolute bound alone failed on load, not on
# the fault.  Plain build only: in the ASan phase of the idle CI clone of
# 203b900 the flood's p50 was 22 and 60 ms beside an idle 1.9 and 2.0 ms,
# ASan's own slowdown; the daemon's paths it drives run under ASan in t175.
. "$(dirname "$0")/lib.sh"
it_init root-flood-handover 176
plain_build_only "timing of handovers under a root flood"
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
BI=$IT_BUILD/bench/bench-ipc
[[ -x $BRK && -x $BI ]] || skip "cl-brk / bench-ipc not built"
SECS=${SECS:-8}
CONNS=${CONNS:-200}
REQ=${REQ:-status}   # or sync (cl-brk BRK_REQ): every request a cluster message
it_up 3
ho() {   # ho TAG: prints "p50_node1 p50_node2"; logs the lines
	local f=$CLUSTER_DIR/ho.$1.ts a b
	rm -f "$f"
	spawn 2 "ho2$1" "$BI" handover it/ho "$SECS" "$f" >/dev/null
	a=$(cluster exec 1 "$BI" handover it/ho "$SECS" "$f")
	must_wait 60 "node 2's handover bench done" grep -q grants "$CLUSTER_DIR/n2/ho2$1.log" >&2
	b=$(cat "$CLUSTER_DIR/n2/ho2$1.log")
	say "$1: node 1: $a" >&2; say "$1: node 2: $b" >&2
	echo "$(sed -n 's/.* p50 \([0-9]*\) us p99.*/\1/p' <<<"$a") $(sed -n 's/.* p50 \([0-9]*\) us p99.*/\1/p' <<<"$b")"
}
flood_lock
read -r i1 i2 < <(ho idle)
spawn 1 ms env BRK_REQ="$REQ" BRK_DEPTH=32 "$BRK" mspin "$CONNS" $((SECS + 15)) >/dev/null
sleep 3
read -r l1 l2 < <(ho flood)
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n1/ms.pid")" 2>/dev/null
flood_unlock
say "handover p50 idle: to node 1 $i1 us, to node 2 $i2 us; during node 1's root flood ($CONNS x 32 $REQ): to node 1 $l1 us, to node 2 $l2 us"
bound() {   # bound IDLE_P50: the larger of 50 ms and 12 x IDLE_P50, in us
	awk -v i="${1:-0}" 'BEGIN { b = 12 * i; print (b > 50000 ? b : 50000) }'
}
b1=$(bound "$i1"); b2=$(bound "$i2")
check "handover to node 1 during the flood: p50 ${l1:-none} us under $b1 us" \
	awk -v l="${l1:-999999999}" -v b="$b1" 'BEGIN { exit !(l > 0 && l < b) }'
check "handover to node 2 (node 1 releasing) during the flood: p50 ${l2:-none} us under $b2 us" \
	awk -v l="${l2:-999999999}" -v b="$b2" 'BEGIN { exit !(l > 0 && l < b) }'
it_pass
