#!/bin/bash
# bench_cluster.sh - cross-node figures on a real 3-node corosync cluster.
# Run by hand, as root, from the source tree after './dev build':
#
#   bench/bench_cluster.sh [SECS]        (default 10 s per measurement)
#
# It builds a 3-node cluster with tests/integration/cluster.sh (network and
# mount namespaces; prefix clbn, subnet 10.79.0, dir /tmp/corolease-bench),
# starts coroleased on every node and prints:
#   1. bare CPG round trip between two nodes (bench/cpg-ping: PING from node
#      1, PONG from node 2, agreed order) - the baseline: back to back, and
#      with a 20 ms gap before each PING (like-for-like with 2b: the message
#      starts at a random point of the token's rotation), with its one way;
#   1b. the send path when idle (issue 9, target 1): bench-peers cycle
#      corolease-fresh on node 1, one client acquiring a new name and
#      releasing it, one at a time, so the daemon is idle before each request;
#      p50 against the gapped round trip of 1 (a 50 ms sleep on the send path
#      would be 25 times it);
#   2. cross-node handover: bench-ipc pingpong on nodes 1 and 2 at once, both
#      acquiring one name EX with WAIT and releasing it at once, so every
#      grant is a handover; grants/s and the time per handover;
#   2b. the handover itself, as issue 9 measures it: bench-ipc handover on
#      nodes 1 and 2, each holding one name 20 ms per grant; the releaser's
#      CLOCK_MONOTONIC stamp (in a file both see) to the waiter's grant, p50;
#   3. the local figures of bench-ipc (fast path vs a bare socket round trip, and
#      a bare libqb one for reference) inside node 1;
#   4. throughput of cluster grants (issue 9, target 4): bench-ipc load, LOADN
#      (default 30000) new names EX through 16 async connections (window
#      1000 each), first on node 1 alone, then on all three nodes at once
#      (one CLOCK_MONOTONIC start); grants/s per node and in aggregate
#      against the target of 100,000, the CPG messages per grant, the
#      batches the daemons held for one of their messages back (cpg_batches_held),
#      the CPU the corosyncs and the coroleaseds took meanwhile, and node 1's
#      corosync token visits and totem frames sent (corosync-cmapctl -m
#      stats: srp.orf_token_rx, srp.mcast_tx).  LOAD_CHRT (e.g.
#      "chrt -r 40") runs the load clients with it; LOADN=0 skips 4a and 4b.
#      4c. index puts (the same target's 50,000 puts/s): bench-ipc puts,
#      PUTN (default 20000) puts per node through PUTC (default 16)
#      connections of one lease each, synchronous (corolease_index_put()),
#      on all three nodes at once; PUTN=0 skips 4c and 4d.
#      4d. the same through corolease_index_put_async(), at most PUTW
#      (default 64) in flight per connection; PUTW=0 skips it.
# BENCH_DAEMON_OPTS passes options to every coroleased (bench/cluster-lib.sh).
# Then the ratio handover / CPG round trip.  Figures only, no assertions; the
# "figure: KEY VALUE" lines are for bench/bench_report.sh ('./dev bench').
# TOKEN / TOKEN_COEFFICIENT / TRANSPORT pass through to cluster.sh.
set -u -o pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/_build}
SECS=${1:-10}
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/corolease-bench} CLUSTER_PREFIX=${CLUSTER_PREFIX:-clbn}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-10.79.0} TOKEN=${TOKEN:-1000} TOKEN_COEFFICIENT=${TOKEN_COEFFICIENT:-0}
C=$SRC/tests/integration/cluster.sh
for b in lockd/coroleased tools/corolease bench/bench-ipc bench/bench-peers bench/cpg-ping; do
	[[ -x $BUILD/$b ]] || { echo "bench_cluster.sh: $BUILD/$b not built (make -C _build)"; exit 1; }
done
((EUID == 0)) || { echo "bench_cluster.sh: needs root"; exit 1; }
trap 'FAST_DOWN=1 "$C" down >/dev/null 2>&1' EXIT
# shellcheck source=bench/cluster-lib.sh
. "$SRC/bench/cluster-lib.sh"
bench_cluster_up || exit 1
echo "== cluster: 3 nodes, token $TOKEN ms,${BENCH_DAEMON_OPTS:+ coroleased $BENCH_DAEMON_OPTS,} $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$C" spawn 2 cpgecho "$BUILD/bench/cpg-ping" echo >/dev/null
cpg=$("$C" exec 1 "$BUILD/bench/cpg-ping" ping 5000 1)
echo "== 1. $cpg"
# the same after a 20 ms gap each: a PING then starts at a random point of
# the token's rotation, as a release after a 20 ms hold does (2b)
cpgs=$("$C" exec 1 "$BUILD/bench/cpg-ping" ping $((SECS * 20)) 1 20)
echo "   $cpgs"
cpg50=$(sed -n 's/.*round trips, p50 \([0-9]*\) us.*/\1/p' <<<"$cpg")
cpgs50=$(sed -n 's/.*round trips, p50 \([0-9]*\) us.*/\1/p' <<<"$cpgs")
cpgs1w=$(sed -n 's/.*one way p50 \([0-9]*\) us.*/\1/p' <<<"$cpgs")
figure cpg_rtt_us "$cpg50"
figure cpg_rtt_gap_us "$cpgs50"
figure cpg_oneway_gap_us "$cpgs1w"
# a fresh cluster grants nothing for its grace period (fence_delay_ms)
bench_wait_status '"grace":false' 300
idle=$("$C" exec 1 "$BUILD/bench/bench-peers" cycle corolease-fresh $((SECS * 30)))
echo "== 1b. idle send path, node 1: $idle"
idle50=$(sed -n 's/.* p50 \([0-9.]*\) us.*/\1/p' <<<"$idle")
[[ -n $idle50 && -n $cpgs50 ]] && awk -v a="$idle50" -v c="$cpgs50" 'BEGIN {
	printf "   a new name acquired and released at p50 %.0f us = %.2f x the CPG round trip after a 20 ms gap (%d us)\n", a, a / c, c }'
figure idle_cycle_us "$idle50"
ctr() { "$C" exec "$1" "$BUILD/tools/corolease" --json status | sed -n 's/.*"fastpath_grants":\([0-9]*\),"cluster_grants":\([0-9]*\).*/\1 \2/p'; }
read -r f1a c1a < <(ctr 1); read -r f2a c2a < <(ctr 2)
"$C" spawn 2 pp2 "$BUILD/bench/bench-ipc" pingpong bench/pp "$SECS" >/dev/null
pp1=$("$C" exec 1 "$BUILD/bench/bench-ipc" pingpong bench/pp "$SECS")
for k in $(seq 100); do grep -q grants "$CLUSTER_DIR/n2/pp2.log" && break; sleep 0.1; done
pp2=$(cat "$CLUSTER_DIR/n2/pp2.log")
echo "== 2. handover ping-pong: $pp1"
echo "                          $pp2"
read -r f1b c1b < <(ctr 1); read -r f2b c2b < <(ctr 2)
echo "   daemon counters: node 1 cluster grants +$((c1b - c1a)) fast-path +$((f1b - f1a)); node 2 cluster grants +$((c2b - c2a)) fast-path +$((f2b - f2a))"
echo "   (cluster_grants is cluster-wide; a fast-path grant re-grants a lingering lease locally: no handover)"
# handovers = node-level grants; cluster_grants is a replicated count (the
# same on every node); client grants also include fast-path re-grants
g1=$((c1b - c1a)); g2=0
if [[ -n $g1 && -n $g2 && $((g1 + g2)) -gt 0 && -n $cpg50 ]]; then
	awk -v g=$((g1 + g2)) -v s="$SECS" -v c="$cpg50" 'BEGIN {
		h = s * 1e6 / g;
		printf "   %d handovers in %s s: %.0f us per handover = %.1f x the CPG round trip p50 (%d us)\n", g, s, h, h / c, c }'
fi
rm -f "$CLUSTER_DIR/handover.ts"
"$C" spawn 2 ho2 "$BUILD/bench/bench-ipc" handover bench/ho "$SECS" "$CLUSTER_DIR/handover.ts" >/dev/null
ho1=$("$C" exec 1 "$BUILD/bench/bench-ipc" handover bench/ho "$SECS" "$CLUSTER_DIR/handover.ts")
for k in $(seq 100); do grep -q grants "$CLUSTER_DIR/n2/ho2.log" && break; sleep 0.1; done
ho2=$(cat "$CLUSTER_DIR/n2/ho2.log")
echo "== 2b. handover, release to grant: $ho1"
echo "                                   $ho2"
for ho in "$ho1" "$ho2"; do
	hp50=$(sed -n 's/.*node \([0-9]*\):.* p50 \([0-9]*\) us p99.*/\1 \2/p' <<<"$ho")
	[[ -n $hp50 && -n $cpg50 && -n $cpgs50 && -n $cpgs1w ]] &&
		awk -v n="${hp50% *}" -v h="${hp50#* }" -v c="$cpg50" -v cs="$cpgs50" -v ow="$cpgs1w" 'BEGIN {
		printf "   handover to node %d: p50 %d us = %.2f x the CPG round trip after a 20 ms gap (%d us), %.2f x its one way (%d us), %.2f x the back-to-back round trip (%d us)\n",
			n, h, h / cs, cs, h / ow, ow, h / c, c }'
	[[ -n $hp50 ]] && figure "handover_to_n${hp50% *}_us" "${hp50#* }"
done
echo "== 3. local (node 1):"
loc=$("$C" exec 1 "$BUILD/bench/bench-ipc" local -n 20000)
sed 's/^/   /' <<<"$loc"
lp50() { sed -n "s/^$1 *p50 *\([0-9.]*\) us.*/\1/p" <<<"$loc"; }
figure socket_rtt_us "$(lp50 'bare socket round trip')"
figure libqb_rtt_us "$(lp50 'bare libqb IPC round trip (shm)')"
figure reacquire_us "$(lp50 're-acquire (fast path)')"
# target 6: coroleased's scheduling and locked memory, as its status says
j=$("$C" exec 1 "$BUILD/tools/corolease" --json status)
figure realtime_priority "$(sed -n 's/.*"realtime_priority":\([0-9]*\).*/\1/p' <<<"$j")"
figure memory_locked "$(sed -n 's/.*"memory_locked":\([a-z]*\).*/\1/p' <<<"$j")"

# ---- 4. throughput ----
LOADN=${LOADN:-30000}
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
cpids=$(cat "$CLUSTER_DIR"/n*/corosync.pid 2>/dev/null | awk '{print $1}')
dpids=$(pgrep -f "$BUILD/lockd/.*coroleased" | tr '\n' ' ')
# cpgmsgs: "CPG_MSGS BATCHES_HELD", summed over the three daemons
cpgmsgs() {
	local t=0 h=0 i j v w
	for i in 1 2 3; do
		j=$("$C" exec $i "$BUILD/tools/corolease" --json status)
		v=$(sed -n 's/.*"cpg_msgs":\([0-9]*\).*/\1/p' <<<"$j"); w=$(sed -n 's/.*"cpg_batches_held":\([0-9]*\).*/\1/p' <<<"$j")
		t=$((t + ${v:-0})) h=$((h + ${w:-0}))
	done
	echo "$t $h"
}
# tokens: "TOKENS FRAMES", node 1's corosync: token visits received and
# totem frames it multicast (corosync-cmapctl -m stats; "0 0" without it)
tokens() {
	"$C" exec 1 corosync-cmapctl -m stats 2>/dev/null |
		awk '/srp[.]orf_token_rx /{ t = $NF } /srp[.]mcast_tx /{ f = $NF } END { print t + 0, f + 0 }'
}
# load_round KIND TAG NODES...: KIND "load" (grants, LOADN names through 16
# connections, window 1000), "puts" (PUTN puts through PUTC connections) or
# "aputs" (the same, asynchronous, window PUTW)
load_round() {
	local kind=$1 tag=$2 i; shift 2
	local start=$(( $("$BUILD/bench/bench-ipc" now) + 2000000000 ))
	local m0 h0 c0 d0 t0 k0 f0 tot=0 worst=0 line s g unit target tlabel args
	case $kind in
	load) unit=grants target=100000 tlabel=100,000 ;;
	puts | aputs) unit=puts target=50000 tlabel=50,000 ;;
	esac
	read -r m0 h0 < <(cpgmsgs); read -r k0 f0 < <(tokens); c0=$(ticks $cpids); d0=$(ticks $dpids); t0=$(date +%s%N)
	for i in "$@"; do
		rm -f "$CLUSTER_DIR/n$i/$kind$tag$i.log"
		case $kind in
		load) args=(load "bench/$kind$tag$i" "$LOADN" 16 1000 "$start") ;;
		puts) args=(puts "bench/$kind$tag$i" "$PUTN" "$PUTC" "$start") ;;
		aputs) args=(puts "bench/$kind$tag$i" "$PUTN" "$PUTC" "$start" "$PUTW") ;;
		esac
		"$C" spawn "$i" "$kind$tag$i" ${LOAD_CHRT:-} "$BUILD/bench/bench-ipc" "${args[@]}" >/dev/null
	done
	for i in "$@"; do
		local log=$CLUSTER_DIR/n$i/$kind$tag$i.log
		for _ in $(seq 3000); do grep -q "$unit/s" "$log" 2>/dev/null && break; sleep 0.1; done
		line=$(grep "$unit/s" "$log") || { echo "   node $i: no result (log: $log)"; continue; }
		echo "   $line"
		g=$(sed -n 's/.*\(load\|puts\) \([0-9]*\) .*/\2/p' <<<"$line"); s=$(sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' <<<"$line")
		tot=$((tot + g)); worst=$(awk -v a="$worst" -v b="$s" 'BEGIN { print (b > a) ? b : a }')
	done
	local m1 h1 c1 d1 t1 k1 f1
	read -r m1 h1 < <(cpgmsgs); read -r k1 f1 < <(tokens); c1=$(ticks $cpids); d1=$(ticks $dpids); t1=$(date +%s%N)
	awk -v g="$tot" -v s="$worst" -v m=$((m1 - m0)) -v hb=$((h1 - h0)) -v c=$((c1 - c0)) -v d=$((d1 - d0)) -v w=$(((t1 - t0) / 1000000)) -v k=$((k1 - k0)) -v f=$((f1 - f0)) -v hz="$(getconf CLK_TCK)" -v n="$#" -v u="$unit" -v t="$target" -v tl="$tlabel" 'BEGIN {
		r = s > 0 ? g / s : 0;
		printf "   aggregate, %d node(s) loading: %d %s in %.3f s = %.0f %s/s, %.3f x the target of %s\n", n, g, u, s, r, u, r / t, tl;
		printf "   CPG messages (all nodes, requests, acknowledgements and heartbeats): %d, %.1f %s per CPG message; batches held for one back: %d\n", m, m ? g / m : 0, u, hb;
		printf "   CPU over the %.1f s of the round: corosyncs %.2f s, coroleaseds %.2f s (%d CPUs)\n", w / 1000, c / hz, d / hz, '"$(nproc)"';
		if (k > 0)
			printf "   corosync token (node 1): %d visits, %.0f/s; node 1 multicast %d frames, on %.0f%% of its visits at most\n", k, k / (w / 1000), f, 100 * f / k }'
	figure "${kind}_${tag}_nodes_$#_per_s" "$(awk -v g="$tot" -v s="$worst" 'BEGIN { if (s > 0) printf "%.0f", g / s }')"
}
PUTN=${PUTN:-20000} PUTC=${PUTC:-16} PUTW=${PUTW:-64}
[[ $LOADN == 0 && $PUTN == 0 ]] && exit 0
echo "== 4. throughput${LOAD_CHRT:+, clients under '$LOAD_CHRT'}"
if [[ $LOADN != 0 ]]; then
	echo "   $LOADN new names EX per loading node, 16 async connections, window 1000"
	echo "   4a. node 1 alone:"
	load_round load a 1
	echo "   4b. all three nodes at once:"
	load_round load b 1 2 3
fi
if [[ $PUTN != 0 ]]; then
	echo "   4c. index puts, all three nodes at once: $PUTN puts per node through $PUTC connections (one lease each, synchronous):"
	load_round puts c 1 2 3
	if [[ $PUTW != 0 ]]; then
		echo "   4d. the same, asynchronous (corolease_index_put_async(), at most $PUTW in flight per connection):"
		load_round aputs d 1 2 3
	fi
fi
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
