#!/bin/bash
# 170. (breaker, batch hold) Node 1 keeps its own CPG messages in flight
# (root's cl-brk mspin, BRK_REQ=sync: 8 connections with 32 SYNCs each
# outstanding, every SYNC a cluster message, so batches are held for
# batch_inflight (2) own messages) while its corosync is faulted:
#   A: SIGSTOP 300 ms (under the token: no ring change, deliveries late), x3
#   B: SIGSTOP 3 s (over the token: a ring change, sent messages never back)
#   C: SIGKILL corosync, restart it under the running daemon
# A cl-valid on node 1 holds one name the whole time, one on node 2 waits
# for it.  Afterwards the load stops and one connection on node 1 sends 40
# SYNCs 10 ms apart (each a cluster message, never two in flight): if the
# daemon's count of own messages in flight stuck high (a delivery not
# recognised, a reset missed), every one of them is held 20 ms.
# Passes when: no batch held during the idle SYNCs after every phase (the
# hold's own count: a stuck count holds every one of them), their median
# under 100 ms (a gross bound only: in the CI of 264766a it was 15.9 ms
# after C with no batch held, the reconnected daemon busy; a timing window
# of 10 ms failed there for reasons that are not the hold), no 'validity lapsed' on node 1 once the faults are
# over, no two nodes' cl-valid clients could use the name at once, and the
# state hashes converge.
. "$(dirname "$0")/lib.sh"
it_init hold-faults 170
plain_build_only "timing of the batch hold under corosync faults (t20 and t13 run faults under ASan)"
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
[[ -x $CL_LOAD && -x $CL_VALID && -x $BRK ]] || skip "cl-load / cl-valid / cl-brk not built"
it_up 3
flood_lock
d1=$(daemon_pid 1)
log1=$CLUSTER_DIR/n1/coroleased.log
S=it/hold-safety

spawn 1 a "$CL_VALID" "$S" >/dev/null
must_wait 10 "node 1's client A may use $S" grep -q "^valid $S 1" "$CLUSTER_DIR/n1/a.log"
spawn 2 w "$CL_VALID" -w "$S" >/dev/null

load_on() { spawn 1 load env BRK_REQ=sync BRK_DEPTH=32 "$BRK" mspin 8 600 >/dev/null; sleep 2; }
load_off() {
	local p; p=$(awk '{print $1}' "$CLUSTER_DIR/n1/load.pid")
	kill -TERM "$p" 2>/dev/null; wait_until 10 exited "$p" || fail "cl-load did not stop"
}
# idle_probe PHASE: the load is off; 40 SYNCs 10 ms apart on node 1
idle_probe() {
	local h0 h1 r med
	sleep 1.5
	h0=$(st 1 .counters.cpg_batches_held)
	r=$(BRK_REQ=sync cluster exec 1 "$BRK" rtt 40 10)
	h1=$(st 1 .counters.cpg_batches_held)
	med=$(field median "$r")
	say "$1: idle SYNC on node 1: $r; batches held during it: $((h1 - h0)); cpg_msgs $(st 1 .counters.cpg_msgs)"
	check "$1: idle SYNC median on node 1 under 100 ms (got ${med:-none})" awk -v m="${med:-999}" 'BEGIN { exit !(m < 100) }'
	check "$1: no batch held while idle ($((h1 - h0)))" [ "$((h1 - h0))" -le 1 ]
}

idle_probe "before any fault"
load_on
say "under load: SYNC on node 1: $(BRK_REQ=sync cluster exec 1 "$BRK" rtt 40 10); held so far $(st 1 .counters.cpg_batches_held)"

# A: short pauses, no ring change
la=$(wc -l <"$log1")
for k in 1 2 3; do
	h0=$(st 1 .counters.cpg_batches_held)
	cluster pause 1 >/dev/null; sleep 0.3; cluster resume 1 >/dev/null; sleep 2
	say "A$k: batches held around the pause: $(( $(st 1 .counters.cpg_batches_held) - h0 ))"
done
load_off
lapses=$(tail -n +"$la" "$log1" | grep -c 'validity lapsed' || true)
check "A: no 'validity lapsed' on node 1 around 300 ms pauses ($lapses)" [ "$lapses" = 0 ]
idle_probe "A (3 x 300 ms SIGSTOP)"
must_wait 30 "node 1 synced after A" synced 1

# B: long pause, ring change
load_on
ok "$(cluster pause 1)"; sleep 3; ok "$(cluster resume 1)"
must_wait 30 "node 1 synced after B" synced 1
sleep 2
load_off
idle_probe "B (3 s SIGSTOP)"

# C: corosync killed and restarted under the daemon
load_on
ok "$(cluster kill 1)"; sleep 0.5
cluster start 1 >/dev/null 2>&1 || fail "restart corosync on node 1"
must_wait 60 "node 1 synced after C" synced 1
sleep 2
load_off
l0=$(wc -l <"$log1")
idle_probe "C (corosync killed, restarted)"
check "coroleased (pid $d1) still running" alive "$d1"
lapses=$(tail -n +"$l0" "$log1" | grep -c 'validity lapsed' || true)
check "no 'validity lapsed' on node 1 after the faults ($lapses)" [ "$lapses" = 0 ]
flood_unlock
say "'validity lapsed' in node 1's log over the whole run: $(grep -c 'validity lapsed' "$log1" || true)"

quiesce
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 2:"$CLUSTER_DIR/n2/w.log")
[[ -n $ov ]] && say "$ov"
check "no moment at which node 1's and node 2's clients could both use $S" [ -z "$ov" ]
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
