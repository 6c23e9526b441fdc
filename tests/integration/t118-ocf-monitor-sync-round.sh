#!/bin/bash
# 118. The OCF agent's monitor must not fail a healthy daemon that is in a
# sync round.  Every membership change of the CPG group (a daemon on another
# node starting or stopping) runs a sync round, and while it runs status
# says "synced":false on every node.  Pacemaker monitors every few seconds
# (t33: 2 s): a monitor that came at that moment and returned
# OCF_ERR_GENERIC had Pacemaker restart a healthy coroleased, and restart
# whatever is ordered after it.  And a round needs every member's state: a
# daemon hung while its corosync runs holds every node unsynced.  Restarting
# the healthy ones would not end that round (each restart's start would
# wait for the hung one, fail, and ban the clone from a healthy node).
# Here the round is held open on purpose: node 2's coroleased is stopped
# (SIGSTOP) while node 3's restarts, so it cannot end until node 2 runs.
#  - status on node 1 names node 2 (sync_waiting_for);
#  - monitor on node 1 during a round that ends 1.5 s later: OCF_SUCCESS;
#  - monitor during a round that does not end: OCF_SUCCESS after the
#    agent's 3 s of patience, with a warning that names node 2;
#  - the same monitor run against node 2's stopped daemon: OCF_ERR_GENERIC
#    (no answer), Pacemaker's cue to recover it;
#  - after the round: OCF_SUCCESS, and sync_waiting_for 0; node 1's daemon
#    logged the round held over 5 s once, naming node 2, and its end.
# And a held round must not hide what is wrong on node 1 itself (the
# breaker helper-77 found both):
#  - node 1's own corosync stopped (SIGSTOP) during a held round: its status
#    stays as it was, naming node 2; monitor: OCF_ERR_GENERIC (the local
#    corosync does not answer corosync-quorumtool);
#  - nodes 1 and 2 cut off from 3 and 4 (2 votes of 4) with node 2's daemon
#    stopped: monitor: OCF_ERR_GENERIC, not quorate.
# And what helper-78 found under Pacemaker:
#  - the agent's patience is the totem token plus consensus when longer
#    than 3 s (a peer's failure lapses validity everywhere for about the
#    consensus timeout): token 2000 here, so 4400 ms, in its reasons, also
#    when corosync-cmapctl does not answer (the last value it told is kept);
#  - node 1's daemon stopped for 12 s (over the CLI's 10 s to connect) and
#    run again, within the monitor's 20 s: OCF_SUCCESS, not a restart;
#  - stop of a stopped daemon: it is run again and drains (no SIGKILL);
#  - start into a round held by node 2's stopped daemon: OCF_SUCCESS with a
#    warning (Pacemaker recovers node 2 only once the start returned; one
#    that waited for the round failed after 115 s and banned the clone).
export TOKEN=${TOKEN:-2000}
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
ocf_init ocf-sync-round 118
plain_build_only "the shell agent's waits; the daemon's sync rounds run under ASan in other tests"
# the agent's daemon on node 1, lib.sh's on nodes 2 to 4 (node 1 fence-acked
# by it_up until the agent's daemon joins)
ocf_up 4

ocf_synced() { ocf_cli --json status 2>/dev/null | grep -q "\"synced\":$1"; }
# hold_round TAG: node 2's daemon stopped, node 3's restarted as TAG: a sync
# round starts that node 2 holds open (PREV3: node 3's daemon's tag)
p2=$(daemon_pid 2)
OCF_AT_EXIT='kill -CONT "$p2" ${cpid:+"$cpid"} 2>/dev/null'
hold_round() {
	local p3
	kill -STOP "$p2" || fail "SIGSTOP node 2's coroleased ($p2)"
	p3=$(daemon_pid 3 "$PREV3")
	kill -TERM "$p3" || fail "SIGTERM node 3's coroleased ($p3)"
	must_wait 20 "node 3's coroleased ($p3) exited" exited "$p3"
	start_daemon 3 "$1"
	PREV3=$1
	must_wait 20 "node 1 is in a sync round (synced false) that node 2 holds open" ocf_synced false
	check "node 1's status names node 2 as what the round waits for" waits_for 2
}
waits_for() { ocf_cli --json status 2>/dev/null | grep -q "\"sync_waiting_for\":$1[,}]"; }
PREV3=coroleased

# 1. a round that ends while the monitor waits
hold_round coroleased-r1
t0=$(now_ms)
ocf_agent monitor & mp=$!
sleep 1.5
kill -CONT "$p2"
wait "$mp"; rc=$?
t1=$(now_ms)
say "monitor: rc $rc after $((t1 - t0)) ms ($(tail -n 1 "$CLUSTER_DIR/agent-monitor.out" 2>/dev/null))"
check "monitor during a sync round that ended 1.5 s later: 0 (got $rc)" [ $rc = 0 ]
must_wait 20 "node 1 synced again" ocf_synced true

# 2. a round that does not end: the monitor waits its 3 s, then keeps the
# daemon with a warning that names node 2
hold_round coroleased-r2
: >"$CLUSTER_DIR/agent-monitor.out"
t0=$(now_ms)
ocf_agent monitor; rc=$?
t1=$(now_ms)
why=$(grep -o 'WARN.*' "$CLUSTER_DIR/agent-monitor.out" | tail -n 1)
say "monitor: rc $rc after $((t1 - t0)) ms: $why"
check "monitor during a round held by node 2's stopped daemon: 0 (got $rc)" [ $rc = 0 ]
check "it waited the agent's 3 s first (took $((t1 - t0)) ms)" [ $((t1 - t0)) -ge 3000 ]
check "its warning names node 2" grep -q "waits for node 2's coroleased" <<<"$why"
patience=$((TOKEN + TOKEN * 12 / 10))
((patience > 3000)) || patience=3000
check "its patience: token + consensus, $patience ms" grep -q "(patience $patience ms)" <<<"$why"
# the agent's monitor against node 2's stopped daemon (its run dir): no answer
: >"$CLUSTER_DIR/agent-monitor.out"
t0=$(now_ms)
"$CLUSTER_SH" exec 2 env OCF_ROOT="$OCF_ROOT" OCF_RESOURCE_INSTANCE=coroleased-n2 \
	OCF_RESKEY_CRM_meta_timeout=10000 OCF_RESKEY_binary="$DAEMON" OCF_RESKEY_cli="$CLI" \
	OCF_RESKEY_config=/dev/null OCF_RESKEY_run_dir=/run/corolease \
	"$OCF_AGENT" monitor >>"$CLUSTER_DIR/agent-monitor.out" 2>&1; rc=$?
say "monitor of node 2's stopped daemon: rc $rc after $(( $(now_ms) - t0 )) ms ($(grep -o 'ocf-exit-reason:.*' "$CLUSTER_DIR/agent-monitor.out" | tail -n 1))"
check "monitor of node 2's stopped daemon: 1 (got $rc)" [ $rc = 1 ]
kill -CONT "$p2"
must_wait 20 "node 1 synced again" ocf_synced true
check "node 1's status names nobody now" waits_for 0
# held over 5 s: node 1's daemon logged the round once, naming node 2
check "node 1's log: $(grep -m1 'still running after' "$OCF_LOG" | cut -c1-150)" \
	grep -q 'sync in ring .* still running after [0-9]* ms, waiting for node(s) 2 (' "$OCF_LOG"
check "node 1's log: $(grep -m1 'sync in ring .* done after' "$OCF_LOG" | cut -c1-100)" \
	grep -q 'sync in ring .* done after [0-9]* ms' "$OCF_LOG"
ocf_agent monitor; rc=$?
check "monitor after the round: 0 (got $rc)" [ $rc = 0 ]

# monitor_fails WHAT PATTERN: node 1's monitor returns 1, its reason matching PATTERN
monitor_fails() {
	local rc why
	: >"$CLUSTER_DIR/agent-monitor.out"
	ocf_agent monitor; rc=$?
	why=$(grep -o 'WARNING.*\|ocf-exit-reason:.*' "$CLUSTER_DIR/agent-monitor.out" | tail -n 1)
	say "monitor: rc $rc: $why"
	check "monitor $1: 1 (got $rc)" [ $rc = 1 ]
	check "its reason: $2" grep -q "$2" <<<"$why"
	MON_WHY=$why
}

# 3. node 1's corosync stops in a held round: its status still names node 2
hold_round coroleased-r3
cpid=$(awk '{print $1}' "$CLUSTER_DIR/n1/corosync.pid")
[[ -n $cpid ]] || fail "no pid of node 1's corosync"
kill -STOP "$cpid" || fail "SIGSTOP node 1's corosync ($cpid)"
check "node 1's status (its corosync stopped) still names node 2" waits_for 2
monitor_fails "with node 1's own corosync stopped" 'local corosync does not answer'
# corosync-cmapctl gets no answer either: the patience it told before
check "the patience corosync told before ($patience ms), kept for when it does not answer" \
	grep -q "(patience $patience ms)" <<<"$MON_WHY"
kill -CONT "$cpid"
kill -CONT "$p2"
must_wait 60 "node 1 synced again" ocf_synced true
must_wait 30 "node 1: monitor 0 again" ocf_agent monitor

# 4. nodes 1 and 2 cut off from 3 and 4 (2 votes of 4), node 2's daemon stopped
kill -STOP "$p2" || fail "SIGSTOP node 2's coroleased ($p2)"
cluster partition 3 >/dev/null && cluster partition 4 >/dev/null || fail "partition of nodes 3 and 4"
not_quorate() { ocf_cli --json status 2>/dev/null | grep -q '"votequorum_quorate":false'; }
must_wait 30 "node 1's votequorum: not quorate" not_quorate
must_wait 20 "node 1 in a round that node 2 holds" waits_for 2
monitor_fails "in the minority, node 2's daemon stopped" 'not quorate'
kill -CONT "$p2"
cluster heal 3 >/dev/null && cluster heal 4 >/dev/null || fail "heal of nodes 3 and 4"
must_wait 60 "node 1 synced again" ocf_synced true
must_wait 30 "node 1: monitor 0 again" ocf_agent monitor

# 5. node 1's daemon stopped for 12 s: the monitor (20 s) waits it out
p1=$("$CLUSTER_SH" exec 1 cat "$OCF_RUN/coroleased.pid" | awk '{print $1}')
alive "$p1" || fail "no pid of node 1's coroleased ($p1)"
OCF_AT_EXIT='kill -CONT "$p1" "$p2" ${cpid:+"$cpid"} 2>/dev/null'
kill -STOP "$p1"
(sleep 12; kill -CONT "$p1") &
cont=$!
: >"$CLUSTER_DIR/agent-monitor.out"
t0=$(now_ms)
ocf_agent monitor; rc=$?
say "monitor over a 12 s stop: rc $rc after $(( $(now_ms) - t0 )) ms ($(grep -o 'WARNING.*\|ocf-exit-reason:.*' "$CLUSTER_DIR/agent-monitor.out" | tail -n 1))"
check "monitor over a 12 s stop of the daemon: 0 (got $rc)" [ $rc = 0 ]
wait "$cont"

# 6. stop of a stopped daemon: run again, it drains
kill -STOP "$p1"
t0=$(now_ms)
ocf_agent stop OCF_RESKEY_drain_timeout=15; rc=$?
say "stop of the stopped daemon: rc $rc after $(( $(now_ms) - t0 )) ms"
check "stop of a stopped daemon: 0 (got $rc)" [ $rc = 0 ]
check "it drained, not killed, in under 10 s" [ $(( $(now_ms) - t0 )) -lt 10000 ]
check "node 1's daemon log: drained on SIGTERM" grep -q 'signal 15: draining' "$OCF_LOG"

# 7. start into a round that node 2's stopped daemon holds
kill -STOP "$p2" || fail "SIGSTOP node 2's coroleased ($p2)"
: >"$CLUSTER_DIR/agent-start.out"
t0=$(now_ms)
ocf_agent start; rc=$?
say "start in a held round: rc $rc after $(( $(now_ms) - t0 )) ms ($(grep -o 'WARNING.*' "$CLUSTER_DIR/agent-start.out" | tail -n 1 | cut -c1-160))"
check "start into a round held by node 2's stopped daemon: 0 (got $rc)" [ $rc = 0 ]
check "its warning: started anyway" grep -q 'started anyway' "$CLUSTER_DIR/agent-start.out"
check "node 1's new daemon waits for node 2" waits_for 2
kill -CONT "$p2"
must_wait 60 "node 1 synced after node 2 ran again" ocf_synced true
must_wait 30 "node 1: monitor 0 again" ocf_agent monitor
it_pass
