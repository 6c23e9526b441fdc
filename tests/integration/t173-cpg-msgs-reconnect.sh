#!/bin/bash
# 173. (breaker, status counters) libcorolease(3) says counters.cpg_msgs
# counts the CPG messages since the daemon started, across reconnections to
# corosync (it once said "since the daemon last connected", which the code
# never did).  Node 1 sends a few hundred SYNCs (each a cluster message),
# then its corosync is killed and restarted under the running daemon, which
# reconnects.  Passes when the daemon is the same process and cpg_msgs after
# the reconnect is above what it was before (kept, and counting again).
. "$(dirname "$0")/lib.sh"
it_init cpg-msgs-reconnect 173
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
[[ -x $BRK ]] || skip "cl-brk not built"
it_up 1
d=$(daemon_pid 1)
say "$(BRK_REQ=sync cluster exec 1 "$BRK" rtt 300 0)"
b=$(st 1 .counters.cpg_msgs); hb=$(st 1 .counters.cpg_batches_held); mb=$(st 1 .counters.mcast_bytes)
say "before: cpg_msgs $b cpg_batches_held $hb mcast_bytes $mb"
ok "$(cluster kill 1)"
sleep 1
cluster start 1 >/dev/null 2>&1 || fail "restart corosync on node 1"
must_wait 60 "node 1 synced again" synced 1
a=$(st 1 .counters.cpg_msgs); ha=$(st 1 .counters.cpg_batches_held); ma=$(st 1 .counters.mcast_bytes)
say "after the reconnect: cpg_msgs $a cpg_batches_held $ha mcast_bytes $ma"
grep -E 'reconnect|connected to corosync|joined CPG' "$CLUSTER_DIR/n1/coroleased.log" | tail -3 | sed 's/^/    /'
check "coroleased (pid $d) is the same process" alive "$d"
check "cpg_msgs after the reconnect ($a) above the $b before it (counted since the start)" [ "$a" -gt "$b" ]
it_pass
