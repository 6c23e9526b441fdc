#!/bin/bash
# t18. One coroleased hangs (SIGSTOP of coroleased alone; its corosync runs
# on, so the daemon stays in the group and acknowledges nothing) and the
# other two nodes keep serving: an index put on node 1 (a new grant, a write,
# a release), a sync read and an acquire on node 2, each answered while node
# 3's daemon is still stopped.  Before the vote rule every one of them waited
# for node 3's WRITE_ACK until it resumed (a 30 s SIGSTOP: a put took 30 s).
# On node 3 the CLI gives up after --timeout (exit 3) instead of hanging.
# Node 3 then resumes, applies what it missed and shows the same state.
# The timeouts below only keep a failure from hanging the suite: node 3
# stays stopped until all three calls have returned.
. "$(dirname "$0")/lib.sh"
it_init hung-daemon-others-serve 47
it_up 3

pid=$(daemon_pid 3 "${DTAG:-coroleased}")
[[ -n $pid ]] || fail "no pid of node 3's coroleased"
kill -STOP "$pid" || fail "SIGSTOP node 3's coroleased ($pid)"
trap 'rc=$?; kill -CONT "$pid" 2>/dev/null; (exit $rc); it_cleanup' EXIT
t0=$(now_ms)
ok "node 3's coroleased stopped (pid $pid); its corosync runs"

# each call must return while node 3 is stopped (it stays stopped until all have)
out=$(timeout 60 "$CLUSTER_SH" exec 1 "$CLI" index put hd/a k v1 2>&1) ||
	fail "index put on node 1 while node 3's daemon is stopped: exit $?: $out"
t1=$(now_ms)
ok "node 1: index put hd/a k v1 answered in $((t1 - t0)) ms: $out"
got=$(timeout 60 "$CLUSTER_SH" exec 2 "$CLI" index get hd/a k --sync 2>&1) ||
	fail "sync read on node 2 while node 3's daemon is stopped: exit $?: $got"
check "node 2's sync read sees v1 (got '$got')" [ "$got" = v1 ]
out=$(timeout 60 "$CLUSTER_SH" exec 2 "$CLI" acquire hd/b -- echo held 2>&1) ||
	fail "acquire hd/b on node 2 while node 3's daemon is stopped: exit $?: $out"
check "node 2 ran its command under hd/b (got '$out')" [ "$out" = held ]
t2=$(now_ms)
# on node 3 itself the CLI does not hang: it gives up after --timeout
out=$(timeout 60 "$CLUSTER_SH" exec 3 "$CLI" --timeout 1500 status 2>&1); rc=$?
check "status on node 3 exits 3 (daemon not answering) (got $rc: $out)" [ $rc = 3 ]
check "and says coroleased did not answer" grep -q 'did not answer within 1500 ms' <<<"$out"
out=$(timeout 60 "$CLUSTER_SH" exec 3 "$CLI" --timeout 1500 index put hd/c k v 2>&1); rc=$?
check "index put on node 3 exits 3 too (got $rc: $out)" [ $rc = 3 ]
check "node 3's coroleased was still stopped through all three" \
	bash -c "[ \"\$(awk '{print \$3}' /proc/$pid/stat)\" = T ]"
say "put, sync read and acquire done $((t2 - t0)) ms after the stop"

kill -CONT "$pid"
ok "node 3's coroleased resumed"
must_wait 30 "node 3 synced again" synced 3
must_wait 30 "node 3 reads hd/a k = v1" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 3 '$CLI' index get hd/a k 2>/dev/null)\" = v1 ]"
must_wait 30 "the three nodes' state hashes agree" hashes_equal 1 2 3
for i in 1 2 3; do
	check "node $i: no sanitizer report, abort or assertion in the daemon logs" \
		bash -c "! grep -q 'AddressSanitizer\|runtime error\|Assertion\|Aborted' '$CLUSTER_DIR'/n$i/coroleased*.log"
done
it_pass
