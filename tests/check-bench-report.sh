#!/bin/bash
# check-bench-report.sh - bench/bench_report.sh judges the figures of a run
# right: numbers compare as numbers (not as strings: "5000" >= "100000" is
# true for awk's string order), each goal's boundary is met and one past it
# is not, and a figure missing from the log says so instead of passing.
# It feeds the script logs written here; no benchmark runs.
set -u -o pipefail
src=${top_srcdir:-.}
R=$src/bench/bench_report.sh
bad=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# met LOG ROWPREFIX: the "met" cell of the first row starting with ROWPREFIX
met() { "$R" "$1" | awk -F' [|] ' -v p="| $2" 'index($0, p) == 1 { sub(/ [|]$/, "", $5); print $5; exit }'; }
want() { # LOG ROWPREFIX EXPECTED
	local got
	got=$(met "$1" "$2")
	[[ $got == "$3" ]] || { echo "check-bench-report: row '$2': met '$got', want '$3'"; bad=1; }
}
base() {
	cat <<'F'
run: fixture
figure: cpg_rtt_us 700
figure: cpg_rtt_gap_us 1800
figure: handover_to_n1_us 840
figure: handover_to_n2_us 2200
figure: handover150_to_n1_us 300
figure: etcd_handover150_to_n1_us 3000
figure: handover150_to_n2_us 301
figure: etcd_handover150_to_n2_us 3000
figure: reacquire_us 13.0
figure: libqb_rtt_us 13.0
figure: cycle_us 25.6
figure: redis_unix_cycle_us 25.5
figure: join_count 1000000
figure: join_leases 1000000
figure: lapses_load 0
figure: lapses_join 0
figure: replica_bytes_per_lease 87
figure: realtime_priority 50
figure: memory_locked true
figure: disconnected_load 0
figure: disconnected_join 0
figure: peers redis 1 etcd 0
F
}
{ base; echo "figure: idle_cycle_us 3600"; echo "figure: load_b_nodes_3_per_s 5000"
  echo "figure: aputs_d_nodes_3_per_s 50000"; echo "figure: join_synced_ms 5000"
  echo "figure: holder_bytes_per_lease 300"; } >"$tmp/a.log"
want "$tmp/a.log" "1. send path" yes
want "$tmp/a.log" "2. cross-node handover to node 1" "back to back yes, gapped yes"
want "$tmp/a.log" "2. cross-node handover to node 2" "back to back **no**, gapped **no**"
want "$tmp/a.log" "2. handover to node 1 against the etcd lock recipe, 150" yes
want "$tmp/a.log" "2. handover to node 2 against the etcd lock recipe, 150" "**no**"
want "$tmp/a.log" "3. local re-acquire" yes
want "$tmp/a.log" "3. acquire + release against Redis" "**no**"
want "$tmp/a.log" "4. cluster grants per second" "**no**"
want "$tmp/a.log" "4. index puts per second" yes
want "$tmp/a.log" "5. 1000000 leases" yes
want "$tmp/a.log" "5. validity lapses" yes
want "$tmp/a.log" "5. memory on the holder" yes
want "$tmp/a.log" "6. coroleased scheduling" yes
want "$tmp/a.log" "7. peers" "only what is installed"
{ base | sed 's/^figure: lapses_join 0/figure: lapses_join 1/; s/^figure: memory_locked true/figure: memory_locked false/'
  echo "figure: idle_cycle_us 3601"; echo "figure: load_b_nodes_3_per_s 100000"
  echo "figure: join_synced_ms 5001"; echo "figure: holder_bytes_per_lease 301"; } >"$tmp/b.log"
want "$tmp/b.log" "1. send path" "**no**"
want "$tmp/b.log" "4. cluster grants per second" yes
want "$tmp/b.log" "4. index puts per second" "-"
want "$tmp/b.log" "5. 1000000 leases" "**no**"
want "$tmp/b.log" "5. validity lapses" "**no**"
want "$tmp/b.log" "5. memory on the holder" "**no**"
want "$tmp/b.log" "6. coroleased scheduling" "**no**"
# a join that synced in time but lost leases is not met
{ base | sed 's/^figure: join_leases 1000000/figure: join_leases 999999/'; echo "figure: join_synced_ms 100"; } >"$tmp/c.log"
want "$tmp/c.log" "5. 1000000 leases" "**no**"
# nothing measured: every row says so
echo "run: empty" >"$tmp/d.log"
n=$("$R" "$tmp/d.log" | grep -c 'not run or failed')
[[ $n -ge 7 ]] || { echo "check-bench-report: an empty log gave $n rows saying 'not run or failed', want 7 or more"; bad=1; }
"$R" "$tmp/none.log" >/dev/null 2>&1 && { echo "check-bench-report: a missing log was not an error"; bad=1; }
exit "$bad"
