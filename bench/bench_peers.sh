#!/bin/bash
# bench_peers.sh - corolease beside Redis and etcd, with ratios (issue 9).
# Run by hand, as root, from the source tree after './dev build' (or 'make bench-peers'):
#
#   bench/bench_peers.sh [SECS]          (default 5; the whole run takes about 3 minutes)
#
# It builds a 3-node corosync cluster with tests/integration/cluster.sh (network
# and mount namespaces; prefix clpe, subnet 10.81.0, dir /tmp/corolease-peers),
# starts coroleased on every node (defaults: linger 5 s, SCHED_RR 50) and prints:
#   a. local cycle, one client, in node 1: corolease acquire + release of one name
#      (after the first, the fast path; the release does not wait for an answer)
#      against Redis SET k v NX PX 10000 + DEL k (two round trips) over a Unix
#      socket and over TCP on 127.0.0.1, one redis-server in node 1 (no
#      persistence: --save "" --appendonly no, as corolease keeps none);
#      bench-peers times both with the same loop; p50, p99 (the medians of
#      ROUNDS (3) interleaved rounds), ratios;
#   b. 16 and 64 clients, each its own process, connection and name: cycles/s,
#      the median of ROUNDS (3) interleaved rounds of SECS each;
#   c. etcd: one member per node on 10.81.0.I:2379 (default fsync; data dir on a
#      tmpfs mounted at $CLUSTER_DIR/nI/etcd in node I's mount namespace, so an
#      fsync costs no disk flush; ETCD_DISK=1 keeps it on the disk of
#      $CLUSTER_DIR instead); clients in Python (bench/etcd_bench.py, JSON gateway,
#      HTTP/1.1 keep-alive) whose per-request overhead is measured first:
#      (i) lease grant + txn put-if-absent (create_revision == 0) + delete from
#          node 1, against corolease acquire + release of a new name every cycle
#          from node 1 (a cluster grant each);
#      (ii) lock handover: a holder on node 1 or 2 holds 20 ms (then 150 ms;
#          HOLDS), writes its CLOCK_MONOTONIC stamp to a file and unlocks; the
#          waiter on the other node notes its lock's return; against bench-ipc
#          handover (corolease, the same protocol) in the same run;
#   d. the machine (nproc, load before and after) and the versions;
# then the Markdown table of README.md "Benchmarks", made from the lines above.
# A peer that is not installed is skipped with a message.  Figures only, no
# assertions.  Env: BUILD (default _build), ROUNDS (3), ITERS (single-client
# cycles per round, 20000), XITERS (cross-node cycles, 1000), HOLDS ("20 150"),
# PEERS (the peers to run when installed, "redis etcd"),
# PEER_RT (SCHED_RR priority for redis-server and etcd, default 50 as
# coroleased's realtime_priority; 0: normal scheduling), ETCD_DISK,
# TOKEN / TOKEN_COEFFICIENT (cluster.sh; default 1000 / 0).
set -u -o pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/_build}
SECS=${1:-5}
ITERS=${ITERS:-20000}
XITERS=${XITERS:-1000}
PEER_RT=${PEER_RT:-50}
HOLDS=${HOLDS:-20 150}
ROUNDS=${ROUNDS:-3}
PEERS=${PEERS-redis etcd}
ETCD_DISK=${ETCD_DISK:-0}
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/corolease-peers} CLUSTER_PREFIX=${CLUSTER_PREFIX:-clpe}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-10.81.0} TOKEN=${TOKEN:-1000} TOKEN_COEFFICIENT=${TOKEN_COEFFICIENT:-0}
C=$SRC/tests/integration/cluster.sh
EB=$SRC/bench/etcd_bench.py
BP=$BUILD/bench/bench-peers
for b in lockd/coroleased tools/corolease bench/bench-ipc bench/bench-peers; do
	[[ -x $BUILD/$b ]] || { echo "bench_peers.sh: $BUILD/$b not built (./dev build)"; exit 1; }
done
((EUID == 0)) || { echo "bench_peers.sh: needs root"; exit 1; }
command -v python3 >/dev/null || { echo "bench_peers.sh: needs python3"; exit 1; }
have_redis=0 have_etcd=0
if [[ " $PEERS " != *" redis "* ]]; then echo "bench_peers.sh: Redis skipped (not in PEERS)"
elif ! command -v redis-server >/dev/null; then echo "bench_peers.sh: redis-server not installed: Redis skipped (apt-get install redis-server)"
else have_redis=1; fi
if [[ " $PEERS " != *" etcd "* ]]; then echo "bench_peers.sh: etcd skipped (not in PEERS)"
elif ! command -v etcd >/dev/null; then echo "bench_peers.sh: etcd not installed: etcd skipped (apt-get install etcd-server)"
else have_etcd=1; fi
rt() { if ((PEER_RT > 0)); then echo chrt -r "$PEER_RT"; fi; }
stop_tag() { # node tag: TERM the process cluster.sh spawn started under tag, wait for it
	local pid
	read -r pid _ <"$CLUSTER_DIR/n$1/$2.pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
	rm -f "$CLUSTER_DIR/n$1/$2.pid"
}
cleanup() {
	FAST_DOWN=1 "$C" down >/dev/null 2>&1
}
trap cleanup EXIT

# ROWS: "figure|corolease|peer|ratio" for the table
ROWS=()
num() { sed -n "s/.*$2 \([0-9.]*\) .*/\1/p" <<<"$1" | head -1; }   # the number after KEY
us() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else if (x < 100) printf "%.1f µs", x; else if (x < 10000) printf "%.0f µs", x; else printf "%.1f ms", x / 1000 }'; }
# ratio A B: how far corolease is ahead: A / B, said as slower below 1
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) { print "-"; exit } r = a / b; printf (r < 1 ? "%.2f× (corolease slower)" : "%.2f×"), r }'; }
lat_cell() { echo "p50 $(us "$1"), p99 $(us "$2")"; }

echo "== d. machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (before)"
echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)$(git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
echo "   $(corosync -v 2>/dev/null | head -1)"
((have_redis)) && echo "   $(redis-server --version)"
((have_etcd)) && echo "   $(etcd --version | head -1), $(python3 --version)"
echo "   peers' scheduling: $( ((PEER_RT > 0)) && echo "SCHED_RR $PEER_RT (chrt), as coroleased's realtime_priority" || echo "normal (PEER_RT=0); coroleased SCHED_RR 50")"

# shellcheck source=bench/cluster-lib.sh
. "$SRC/bench/cluster-lib.sh"
bench_cluster_up || exit 1
echo "== cluster: 3 nodes ($CLUSTER_SUBNET.1-3), token $TOKEN ms, coroleased on each"

# ---------------------------------------------------------------- a, b
N1=$CLUSTER_DIR/n1
RSOCK=$N1/redis.sock
if ((have_redis)); then
	rm -f "$RSOCK"
	# shellcheck disable=SC2046
	"$C" spawn 1 redis $(rt) redis-server --bind 127.0.0.1 --port 6379 --unixsocket "$RSOCK" \
		--unixsocketperm 700 --save "" --appendonly no --dir "$N1" --protected-mode yes >/dev/null
	for _ in $(seq 100); do [[ -S $RSOCK ]] && break; sleep 0.1; done
fi
# a fresh cluster grants nothing for its grace period (fence_delay_ms, about 8 s)
bench_wait_status '"grace":false' 300
# the machine's other work comes and goes: a and b run ROUNDS interleaved rounds
# of every case and take the median of each figure
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
span() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 1) printf " (%s–%s)", lo, hi }'; }
backend() { case $1 in corolease) echo corolease ;; unix) echo "redis-unix:$RSOCK" ;; tcp) echo redis-tcp:127.0.0.1:6379 ;; esac; }
over() { if [[ $1 == unix ]]; then echo "a Unix socket"; else echo "TCP 127.0.0.1"; fi; }
cases=corolease
((have_redis)) && cases+=" unix tcp"

echo "== a. local cycle, one client, node 1 ($ROUNDS rounds of $ITERS cycles each)"
ipc=$("$C" exec 1 "$BUILD/bench/bench-ipc" local -n "$ITERS")
while IFS= read -r l; do echo "   bench-ipc: $l"; done <<<"$ipc"
declare -A p50s=() p99s=()
for r in $(seq "$ROUNDS"); do
	for t in $cases; do
		l=$("$C" exec 1 "$BP" cycle "$(backend "$t")" "$ITERS")
		echo "   round $r: $l"
		p50s[$t]+=" $(num "$l" p50)" p99s[$t]+=" $(num "$l" p99)"
	done
done
c50=$(median "${p50s[corolease]}") c99=$(median "${p99s[corolease]}")
echo "   median corolease: p50 $c50 us$(span "${p50s[corolease]}") p99 $c99 us$(span "${p99s[corolease]}")"
figure peers "redis $have_redis etcd $have_etcd"
figure cycle_us "$c50"
if ((have_redis)); then
	for t in unix tcp; do
		r50=$(median "${p50s[$t]}") r99=$(median "${p99s[$t]}")
		figure "redis_${t}_cycle_us" "$r50"
		echo "   median Redis ($t): p50 $r50 us$(span "${p50s[$t]}") p99 $r99 us$(span "${p99s[$t]}"); ratio Redis / corolease: p50 $(ratio "$r50" "$c50"), p99 $(ratio "$r99" "$c99")"
		ROWS+=("a. local cycle, one client: acquire + release / SET NX PX + DEL, Redis over $(over "$t") (medians of $ROUNDS rounds)|$(lat_cell "$c50" "$c99")|$(lat_cell "$r50" "$r99")|p50 $(ratio "$r50" "$c50"), p99 $(ratio "$r99" "$c99")")
	done
else
	ROWS+=("a. local cycle, one client (medians of $ROUNDS rounds)|$(lat_cell "$c50" "$c99")|Redis skipped (said above)|-")
fi

echo "== b. throughput, N clients (own process, connection and name each), $ROUNDS rounds of $SECS s each, node 1"
tput() { sed -n 's/.*= \([0-9]*\) cycles\/s.*/\1/p' <<<"$1"; }
for n in 16 64; do
	declare -A got=()
	for r in $(seq "$ROUNDS"); do
		for t in $cases; do
			l=$("$C" exec 1 "$BP" clients "$(backend "$t")" "$n" "$SECS")
			echo "   round $r: $l"
			got[$t]+=" $(tput "$l")"
		done
	done
	ct=$(median "${got[corolease]}")
	echo "   median corolease $n clients: $ct cycles/s$(span "${got[corolease]}")"
	if ((have_redis)); then
		for t in unix tcp; do
			rtp=$(median "${got[$t]}")
			echo "   median Redis ($t) $n clients: $rtp cycles/s$(span "${got[$t]}"); ratio corolease / Redis: $(ratio "$ct" "$rtp")"
			ROWS+=("b. $n clients, cycles/s (median of $ROUNDS rounds, range), Redis over $(over "$t")|$ct/s$(span "${got[corolease]}")|$rtp/s$(span "${got[$t]}")|$(ratio "$ct" "$rtp")")
		done
	else
		ROWS+=("b. $n clients, cycles/s (median of $ROUNDS rounds)|$ct/s$(span "${got[corolease]}")|Redis skipped (said above)|-")
	fi
	unset got
done
((have_redis)) && stop_tag 1 redis

# ---------------------------------------------------------------- c
echo "== c. 3 nodes: etcd beside corolease"
if ((have_etcd)); then
	ic=
	for i in 1 2 3; do ic+="${ic:+,}n$i=http://$CLUSTER_SUBNET.$i:2380"; done
	for i in 1 2 3; do
		d=$CLUSTER_DIR/n$i/etcd
		mkdir -p "$d"
		if [[ $ETCD_DISK != 1 ]]; then
			"$C" exec $i mount -t tmpfs -o size=512m,mode=700 "$CLUSTER_PREFIX-etcd" "$d" ||
				{ echo "cannot mount a tmpfs on $d in node $i"; exit 1; }
		else
			rm -rf "$d/data"
		fi
		# shellcheck disable=SC2046
		"$C" spawn $i etcd $(rt) etcd --name n$i --data-dir "$d/data" \
			--listen-client-urls "http://$CLUSTER_SUBNET.$i:2379" --advertise-client-urls "http://$CLUSTER_SUBNET.$i:2379" \
			--listen-peer-urls "http://$CLUSTER_SUBNET.$i:2380" --initial-advertise-peer-urls "http://$CLUSTER_SUBNET.$i:2380" \
			--initial-cluster "$ic" --initial-cluster-token "$CLUSTER_PREFIX" --initial-cluster-state new \
			--logger zap --log-outputs stderr --log-level warn >/dev/null
	done
	for i in 1 2 3; do
		for _ in $(seq 300); do
			st=$("$C" exec $i python3 "$EB" status "$CLUSTER_SUBNET.$i:2379" 2>/dev/null) && [[ $st != *"leader 0 "* ]] && break
			st=; sleep 0.1
		done
		[[ -n $st ]] || { echo "etcd on node $i did not come up; see $CLUSTER_DIR/n$i/etcd.log"; exit 1; }
		echo "   node $i: $st"
		read -r mem lead < <(sed -n 's/.*member \([0-9]*\) leader \([0-9]*\) .*/\1 \2/p' <<<"$st")
		[[ $mem == "$lead" ]] && echo "   the etcd leader is node $i"
	done
	echo "   data dirs: $([[ $ETCD_DISK == 1 ]] && echo "$CLUSTER_DIR/nI/etcd/data on $(findmnt -n -o FSTYPE -T "$CLUSTER_DIR") (disk)" || echo "$CLUSTER_DIR/nI/etcd/data on tmpfs"), default fsync (no --unsafe-no-fsync)"
	oh=$("$C" exec 1 python3 "$EB" overhead 2000)
	echo "   $oh"
	oh50=$(num "$oh" p50) ohcpu=$(sed -n 's/.*client CPU \([0-9.]*\) us.*/\1/p' <<<"$oh")
fi

# (ii) first: the cross-node cycles of (i) leave lingering leases whose expiry
# (5 s later) sends cluster messages.  etcd's lock waits on a watch that starts
# at the revision it has just read; etcd serves such a watcher from a loop that
# runs every 100 ms (mvcc/watchable_store.go), hence the 150 ms holds as well.
HS=$((SECS * 2))
for hold in $HOLDS; do
	echo "== c(ii). lock handover, holds of $hold ms, nodes 1 and 2, $HS s each"
	rm -f "$CLUSTER_DIR/handover.ts"
	"$C" spawn 2 ho2 "$BUILD/bench/bench-ipc" handover "bench/ho$hold" "$HS" "$CLUSTER_DIR/handover.ts" "$hold" >/dev/null
	ho1=$("$C" exec 1 "$BUILD/bench/bench-ipc" handover "bench/ho$hold" "$HS" "$CLUSTER_DIR/handover.ts" "$hold")
	for _ in $(seq 100); do grep -q grants "$CLUSTER_DIR/n2/ho2.log" && break; sleep 0.1; done
	ho2=$(cat "$CLUSTER_DIR/n2/ho2.log")
	echo "   corolease $ho1"
	echo "   corolease $ho2"
	ch1=$(num "$ho1" p50) ch1x=$(num "$ho1" p99) ch2=$(num "$ho2" p50) ch2x=$(num "$ho2" p99)
	figure "handover${hold}_to_n1_us" "$ch1"
	figure "handover${hold}_to_n2_us" "$ch2"
	if ((have_etcd)); then
		rm -f "$CLUSTER_DIR/etcd-handover.ts"
		"$C" spawn 2 eho2 python3 "$EB" handover "$CLUSTER_SUBNET.2:2379" "bench/ho$hold" "$HS" "$CLUSTER_DIR/etcd-handover.ts" 2 "$hold" >/dev/null
		eh1=$("$C" exec 1 python3 "$EB" handover "$CLUSTER_SUBNET.1:2379" "bench/ho$hold" "$HS" "$CLUSTER_DIR/etcd-handover.ts" 1 "$hold")
		for _ in $(seq 100); do grep -q locks "$CLUSTER_DIR/n2/eho2.log" && break; sleep 0.1; done
		eh2=$(cat "$CLUSTER_DIR/n2/eho2.log")
		echo "   $eh1"
		echo "   $eh2"
		e1=$(num "$eh1" p50) e1x=$(num "$eh1" p99) e2=$(num "$eh2" p50) e2x=$(num "$eh2" p99)
		figure "etcd_handover${hold}_to_n1_us" "$e1"
		figure "etcd_handover${hold}_to_n2_us" "$e2"
		echo "   ratio etcd / corolease, handover to node 1: p50 $(ratio "$e1" "$ch1"), p99 $(ratio "$e1x" "$ch1x"); to node 2: p50 $(ratio "$e2" "$ch2"), p99 $(ratio "$e2x" "$ch2x")"
		for n in 1 2; do
			if [[ $n == 1 ]]; then set -- "$ch1" "$ch1x" "$e1" "$e1x"; else set -- "$ch2" "$ch2x" "$e2" "$e2x"; fi
			ROWS+=("c(ii). lock handover to node $n: release on node $((3 - n)) after a $hold ms hold, to the grant|$(lat_cell "$1" "$2")|$(lat_cell "$3" "$4")|p50 $(ratio "$3" "$1"), p99 $(ratio "$4" "$2")")
		done
	else
		ROWS+=("c(ii). lock handover to node 1, $hold ms holds|$(lat_cell "$ch1" "$ch1x")|etcd skipped (said above)|-")
		ROWS+=("c(ii). lock handover to node 2, $hold ms holds|$(lat_cell "$ch2" "$ch2x")|etcd skipped (said above)|-")
	fi
done

echo "== c(i). cross-node cycle of a new name, one client on node 1 ($XITERS cycles each)"
# etcd first: corolease's released names linger 5 s, then their expiry sends cluster messages
if ((have_etcd)); then
	ec=$("$C" exec 1 python3 "$EB" cycle "$CLUSTER_SUBNET.1:2379" "$XITERS")
	echo "   $ec"
	x50=$(num "$ec" p50) x99=$(num "$ec" p99) xcpu=$(sed -n 's/.*client CPU \([0-9.]*\) us.*/\1/p' <<<"$ec")
fi
cf=$("$C" exec 1 "$BP" cycle corolease-fresh "$XITERS")
echo "   $cf"
f50=$(num "$cf" p50) f99=$(num "$cf" p99)
if ((have_etcd)); then
	echo "   ratio etcd / corolease: p50 $(ratio "$x50" "$f50"), p99 $(ratio "$x99" "$f99")"
	ROWS+=("c(i). cross-node cycle, one client on node 1: acquire + release of a new name / lease grant + txn put-if-absent + delete|$(lat_cell "$f50" "$f99")|$(lat_cell "$x50" "$x99") (of which the client's CPU $(us "$xcpu"))|p50 $(ratio "$x50" "$f50"), p99 $(ratio "$x99" "$f99")")
	ROWS+=("c. the etcd client's own cost (Python, HTTP/1.1 on a socket): one request to a canned responder; CPU per request|-|p50 $(us "$oh50"); $(us "$ohcpu") CPU|-")
else
	ROWS+=("c(i). cross-node cycle of a new name|$(lat_cell "$f50" "$f99")|etcd skipped (said above)|-")
fi

echo "== d. load average $(cut -d' ' -f1-3 /proc/loadavg) (after)"
echo "== table (README.md Benchmarks)"
peer=
((have_redis)) && peer=Redis
((have_etcd)) && peer+="${peer:+ / }etcd"
echo "| figure | corolease | ${peer:-peer} | corolease ahead by |"
echo "|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
