#!/bin/bash
# t35 (from the breaker's brk7).  A daemon restart while another coroleased
# is stopped (SIGSTOP, its corosync runs): the restarted daemon's sync round
# needs every member's state, the stopped one's included, so until it
# resumes the cluster is synchronising (README, "One hung daemon holds
# nothing back": not through a ring change).  What must hold meanwhile:
#   - requests are answered, not left hanging: a put on node 1 fails with
#     ESYNCING (exit 4), and a sync read on the restarted node 2 is answered
#     ESYNCING at once (it waited for the round before, so for the whole stop;
#     for a daemon hung for good, for ever);
#   - once node 3 resumes, the round ends: a put on node 1 succeeds, node 2's
#     sync read sees it, and the three state hashes agree.
. "$(dirname "$0")/lib.sh"
it_init join-during-hang 35
it_up 3

cl 1 index put jh/a k v0 >/dev/null || fail "put v0"
pid=$(daemon_pid 3)
kill -STOP "$pid" || fail "SIGSTOP node 3's coroleased"
trap 'rc=$?; kill -CONT "$pid" 2>/dev/null; (exit $rc); it_cleanup' EXIT
out=$(timeout 20 "$CLUSTER_SH" exec 1 "$CLI" index put jh/a k v1 2>&1) ||
	fail "put with node 3's daemon stopped, before the restart: $out"
ok "put on node 1 with node 3's daemon stopped (the vote rule)"
kill -9 "$(daemon_pid 2)"
must_wait 10 "node 2's coroleased gone" exited "$(daemon_pid 2)"
start_daemon 2 coroleased-r1
ok "node 2's coroleased restarted; node 3's still stopped"
sleep 1
out=$(timeout 20 "$CLUSTER_SH" exec 1 "$CLI" index put jh/a k v2 2>&1); rc=$?
check "a put on node 1 is answered, ESYNCING (exit 4; got $rc: $out)" [ $rc = 4 ]
t0=$(now_ms)
out=$(timeout 20 "$CLUSTER_SH" exec 2 "$CLI" index get jh/a k --sync 2>&1); rc=$?
check "a sync read on node 2 is answered ESYNCING, not left waiting (got $rc in $(( $(now_ms) - t0 )) ms: $out)" \
	[ $rc = 4 ]
check "node 3's coroleased was stopped throughout" bash -c "[ \"\$(awk '{print \$3}' /proc/$pid/stat)\" = T ]"
kill -CONT "$pid"
ok "node 3's coroleased resumed"
for i in 1 2 3; do must_wait 30 "node $i synced" synced $i; done
must_wait 30 "a put on node 1 succeeds" bash -c "'$CLUSTER_SH' exec 1 '$CLI' index put jh/a k v3 >/dev/null 2>&1"
got=$(timeout 20 "$CLUSTER_SH" exec 2 "$CLI" index get jh/a k --sync 2>&1)
check "node 2's sync read sees v3 (got '$got')" [ "$got" = v3 ]
must_wait 30 "the three nodes' state hashes agree" hashes_equal 1 2 3
it_pass
