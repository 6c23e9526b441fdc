#!/bin/bash
# bench_join.sh - issue 9, target 5: COUNT leases (default 1,000,000) held
# on node 1 of a real 3-node corosync cluster, then a fresh coroleased joins
# on node 3.  Run by hand, as root, after './dev build':
#
#   bench/bench_join.sh [COUNT]          (CLIENTS=100 cl-load connections)
#
# Prints, figures only (no assertions, no exit status from the figures):
#   - the load: COUNT acquires through CLIENTS async connections (window 500
#     each), its time and rate;
#   - memory: the holder's (node 1) and a replica's (node 2) VmRSS before and
#     after the load, in bytes per lease, and the holder's split by mapping
#     (brk heap, other anonymous mappings, files and shared memory);
#   - the join: coroleased started on node 3 to "synced", and the snapshot
#     counters;
#   - validity: "validity lapsed" lines in node 1's and node 2's logs, and
#     disconnections seen by the load clients, during the load
#     and during the join (the target: none);
#   - the machine: CPUs and load average before and after;
#   - "figure: KEY VALUE" lines of these for bench/bench_report.sh ('./dev bench').
# PERF=FILE records node 1's daemon with perf (call graphs) from node 3's
# start until 3 s after it synced, into FILE (perf report -i FILE).
# Uses the integration harness (tests/integration/lib.sh: namespaces, token
# 1000 ms, validity = the token); IT_INSTANCE (default 8) separates it from
# a test run.  The cluster is torn down at the end.
export IT_INSTANCE=${IT_INSTANCE:-8}
SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${abs_top_builddir:=$SRC/_build}"
export abs_top_builddir
. "$SRC/tests/integration/lib.sh"
COUNT=${1:-1000000}
CLIENTS=${CLIENTS:-100}
[[ $COUNT =~ ^[0-9]+$ && $CLIENTS =~ ^[0-9]+$ ]] && ((COUNT >= CLIENTS && CLIENTS > 0)) ||
	{ echo "usage: bench_join.sh [COUNT] (COUNT >= CLIENTS > 0)" >&2; exit 2; }
PER=$((COUNT / CLIENTS))
COUNT=$((PER * CLIENTS))
it_init bench-join 89
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
EXTRA_DAEMON_OPTS=(-o max_leases_per_client=$((PER + 1000)) -o max_client_holds=$((COUNT + 1000))
	-o max_client_holds_per_uid=$((COUNT + 1000)) -o max_pending_per_client=1000)
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$(daemon_pid "$1")/status"; }
# rss_parts NODE: "heap anon file" kB of resident memory: the brk heap, the
# other anonymous mappings (large allocations, libqb's buffers, thread
# arenas) and file mappings (the validity page, libraries, libqb's shm)
rss_parts() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { k = NF >= 6 ? ($6 == "[heap]" ? "h" : "f") : "a"; if ($6 ~ /^\[/ && $6 != "[heap]") k = "a"; next }
	     /^Rss:/ { r[k] += $2 } END { print r["h"] + 0, r["a"] + 0, r["f"] + 0 }' "/proc/$(daemon_pid "$1")/smaps"
}
lapses() { grep -c 'validity lapsed' "$CLUSTER_DIR/n$1/coroleased.log"; }
trouble() { cat "$CLUSTER_DIR"/n1/load*.log | grep -c '^disconnected'; }
say "bench-join: $COUNT leases through $CLIENTS connections; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
it_up 3 3
r1a=$(rss_kb 1) r2a=$(rss_kb 2)
read -r h1a a1a f1a < <(rss_parts 1)
t0=$(now_ms)
for ((c = 0; c < CLIENTS; c++)); do
	spawn 1 load$c "$CL_LOAD" -p "join/$(printf %03d $c)/" -n "$PER" -W 500 >/dev/null
done
all_loaded() { [ "$(grep -l "^all held $PER" "$CLUSTER_DIR"/n1/load*.log | wc -l)" = "$CLIENTS" ]; }
must_wait $((COUNT / 500 + 120)) "node 1's $CLIENTS cl-load clients hold $COUNT leases" all_loaded
t1=$(now_ms)
n2_has_all() { [ "$(st 2 .leases)" = "$COUNT" ]; }
must_wait 60 "node 2 sees $COUNT leases" n2_has_all
sleep 2
r1b=$(rss_kb 1) r2b=$(rss_kb 2)
read -r h1b a1b f1b < <(rss_parts 1)
l1a=$(lapses 1) l2a=$(lapses 2) tra=$(trouble)
per() { echo $((($2 - $1) * 1024 / COUNT)); }
rate=$((COUNT * 1000 / (t1 - t0 + 1))) hb=$(per "$r1a" "$r1b") rb=$(per "$r2a" "$r2b")
echo "load: $COUNT leases in $((t1 - t0)) ms: $rate grants/s"
echo "memory: holder (node 1) $hb B/lease (VmRSS $r1a -> $r1b kB); replica (node 2) $rb B/lease ($r2a -> $r2b kB)"
echo "memory: the holder's by mapping, B/lease: brk heap $(per "$h1a" "$h1b"), other anonymous $(per "$a1a" "$a1b"), files and shm $(per "$f1a" "$f1b")"
echo "during the load: 'validity lapsed' node 1 $l1a, node 2 $l2a; load clients disconnected: $tra"
echo "figure: join_count $COUNT"
echo "figure: join_load_per_s $rate"
echo "figure: holder_bytes_per_lease $hb"
echo "figure: replica_bytes_per_lease $rb"
echo "figure: lapses_load $((l1a + l2a))"
echo "figure: disconnected_load $tra"

t2=$(now_ms)
perf_pid=
if [[ -n ${PERF:-} ]] && command -v perf >/dev/null; then
	perf record -q -F 499 -g -o "$PERF" -p "$(daemon_pid 1)" >/dev/null 2>&1 &
	perf_pid=$!
fi
start_daemon 3
must_wait 300 "node 3's coroleased synced" synced 3
t3=$(now_ms)
sleep 3
[[ -n $perf_pid ]] && { kill -INT "$perf_pid"; wait "$perf_pid"; echo "perf: node 1 during the join in $PERF"; }
j=$(cl 3 --json status)
echo "join: node 3 synced $((t3 - t2)) ms after its start, leases $(jget "$j" .leases), snapshots loaded $(jget "$j" .counters.snapshots_loaded); node 1 sent $(st 1 .counters.snapshots_sent)"
lj1=$(($(lapses 1) - l1a)) lj2=$(($(lapses 2) - l2a)) trj=$(($(trouble) - tra))
echo "during the join: 'validity lapsed' node 1 $lj1, node 2 $lj2; load clients disconnected: $trj"
echo "figure: join_synced_ms $((t3 - t2))"
echo "figure: join_leases $(jget "$j" .leases)"
echo "figure: lapses_join $((lj1 + lj2))"
echo "figure: disconnected_join $trj"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)"
it_pass
