#!/bin/bash
# 9. Daemon restart under load: cl-load loops acquire/release on node 1 (and
# holds a few leases) while node 1's coroleased is SIGKILLed and restarted,
# then SIGTERMed and restarted: the daemon comes back, the load client
# reconnects and carries on, and the states converge.
. "$(dirname "$0")/lib.sh"
it_init restart 19
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
it_up 2

spawn 1 loop "$CL_LOAD" -l -r -p loop/ -n 50 -W 50 >/dev/null
spawn 1 hold "$CL_LOAD" -r -p hold/ -n 20 >/dev/null
spawn 2 loop2 "$CL_LOAD" -l -r -p loop2/ -n 50 -W 50 >/dev/null
must_wait 10 "node 1's holding client holds 20 leases" grep -q '^all held 20' "$CLUSTER_DIR/n1/hold.log"
cycles() { grep '^progress' "$CLUSTER_DIR/n1/$1.log" | tail -1 | sed 's/.*cycles=\([0-9]*\).*/\1/'; }
must_wait 10 "node 1's loop client is cycling" bash -c "[ \"\$(grep '^progress' '$CLUSTER_DIR/n1/loop.log' | tail -1 | sed 's/.*cycles=\([0-9]*\).*/\1/')\" -gt 100 ]"

restart() { # SIG TAG
	local sig=$1 tag=$2 pid c0 t0
	pid=$(daemon_pid 1 "$3")
	c0=$(grep -c '^reconnected' "$CLUSTER_DIR/n1/loop.log")
	t0=$(now_ms)
	kill -"$sig" "$pid" || fail "kill -$sig $pid"
	must_wait 15 "node 1's coroleased (pid $pid) exited on SIG$sig" exited "$pid"
	must_wait 10 "the load client noticed the disconnect" bash -c "[ \$(grep -c '^disconnected' '$CLUSTER_DIR/n1/loop.log') -gt $c0 ]"
	start_daemon 1 "$tag"
	must_wait 30 "restarted coroleased ($tag) synced" synced 1
	must_wait 15 "the loop client reconnected" bash -c "[ \$(grep -c '^reconnected' '$CLUSTER_DIR/n1/loop.log') -gt $c0 ]"
	must_wait 15 "the holding client holds its 20 leases again" bash -c "tail -n 3 '$CLUSTER_DIR/n1/hold.log' | grep -q 'held=20 '"
	local c1; c1=$(cycles loop)
	must_wait 10 "the loop client makes progress after the restart" bash -c "[ \"\$(grep '^progress' '$CLUSTER_DIR/n1/loop.log' | tail -1 | sed 's/.*cycles=\([0-9]*\).*/\1/')\" -gt $((c1 + 50)) ]"
	say "SIG$sig restart: back to work after $(( $(now_ms) - t0 )) ms"
	check "node 2's loop client never disconnected" bash -c "! grep -q disconnected '$CLUSTER_DIR/n2/loop2.log'"
}
restart KILL coroleased-r1 coroleased
restart TERM coroleased-r2 coroleased-r1
j=$(cl 1 --json status)
say "node 1 after two restarts: holds $(jget "$j" .holds) local_leases $(jget "$j" .local_leases) client_holds $(jget "$j" .client_holds) clients $(jget "$j" .clients)"
check "node 1's status counts >= 20 client holds (hold client)" [ "$(jget "$j" .client_holds)" -ge 20 ]
check "node 1's status counts >= 20 node-level leases" [ "$(jget "$j" .local_leases)" -ge 20 ]
check "node 2 sees node 1 as the owner of all 20 hold/* leases" bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' list hold/ | grep -c 'owner=1')\" = 20 ]"
quiesce
must_wait 30 "state hashes equal on nodes 1-2" hashes_equal 1 2
it_pass
