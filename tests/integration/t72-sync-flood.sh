#!/bin/bash
# 72. (breaker, issue 8/9) Every SYNC request is a cluster message (a NOP
# barrier), and nothing bounds how many a socket_group member sends but
# max_pending_per_client (1000) x max_connections_per_uid (512).  corosync
# runs SCHED_RR 99 on every node, so a member on one node, at nice 19,
# makes corosync on every other node spend CPU at the highest realtime
# priority, taken from everything else there.
# Two nodes; uid 61001 (group users) on node 1 keeps CONNS (400)
# connections each with 1000 SYNC outstanding (cl-brk mspin, BRK_REQ=sync)
# for WIN + 6 s.  The CPU of node 2's corosync and coroleased is measured
# over WIN (8) s idle and during the flood; root's SYNC round trip on node 2
# is reported.
# First seen (host at load ~15 from other work): in 10 s, node 2's
# corosync 34 ticks idle, 507 ticks (51% of a CPU) during the flood; node
# 1's 33 and 611; the flood got 24,414 SYNC answers a second.  Root's SYNC
# round trips stayed fast (median 1.0 ms against 1.5 alone): the daemon
# batches and orders fairly; the cost is the CPU.
# Passes when node 2's corosync and coroleased together spend at most
# max(25%, 3 x idle) of one CPU during the flood.
# Not in TESTS: a CPU-share measurement of 100 s. Before the realtime budget
# for unprivileged work (ipc_low_begin) it failed (63-66%); with it: 20% (one
# run at host load 18), under the 25% bound. SYNCs are not coalesced yet.
. "$(dirname "$0")/lib.sh"
it_init sync-flood 72
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
CONNS=${CONNS:-400}
WIN=${WIN:-8}
[[ -x $BRK ]] || skip "cl-brk not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 2
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
cs2=$(awk '{ print $1 }' "$CLUSTER_DIR/n2/corosync.pid")
d2=$(daemon_pid 2)
alive "$cs2" || fail "node 2's corosync pid"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# node 2's corosync + coroleased, in % of one CPU over WIN s
node2_cpu() {
	local a b t0 t1
	a=$(( $(ticks "$cs2") + $(ticks "$d2") )) t0=$(now_ms)
	sleep "$WIN"
	b=$(( $(ticks "$cs2") + $(ticks "$d2") )) t1=$(now_ms)
	echo $(( (b - a) * 10 * 100 / (t1 - t0) ))
}
say "root's SYNC on node 2 alone: $(BRK_REQ=sync cluster exec 2 "$BRK" rtt 30 50)"
idle=$(node2_cpu)
say "node 2's corosync + coroleased idle: $idle% of a CPU"
spawn 1 ms env BRK_REQ=sync BRK_DEPTH=1000 nice -n 19 "${AS[@]}" "$BRK" mspin "$CONNS" $((WIN + 6)) >/dev/null
must_wait 60 "uid 61001's SYNC flood connected" grep -q '^connections' "$CLUSTER_DIR/n1/ms.log"
sleep 1
during=$(node2_cpu)
say "node 2's corosync + coroleased during uid 61001's SYNC flood on node 1: $during% of a CPU"
say "root's SYNC on node 2 during the flood: $(BRK_REQ=sync cluster exec 2 "$BRK" rtt 30 50)"
# at nice 19 on a loaded host the flooder may take long to print its count:
# what it cost node 2 is measured above, its count is only reported
wait_until $((WIN + 20)) grep -q '^mspin' "$CLUSTER_DIR/n1/ms.log" ||
	say "the flooder (nice 19) has not ended yet; the teardown stops it"
say "flooder: $(tr '\n' ';' < "$CLUSTER_DIR/n1/ms.log")"
bound=$(( 3 * idle > 25 ? 3 * idle : 25 ))
check "node 1's coroleased still running" alive "$(daemon_pid 1)"
check "node 2's corosync and coroleased spent at most $bound% of a CPU on one nice-19 user's SYNCs on node 1 (got $during%, idle $idle%)" [ "$during" -le "$bound" ]
it_pass
