#!/bin/bash
# 187. With corolease_fail_mode = open, a login refused "in use" stays
# refused when the daemon is slow to name the holder.
#
# Node 3's `corolease acquire` holds user/u3 (handover timeout 60 s);
# u3 logs in on node 1 with corolease_user_wait = 3s and
# corolease_fail_mode = open.  The daemon answers the wait (still held
# after 3 s), then stalls 4.5 s in the owner query that follows (a gdb
# breakpoint on ipc_do_owner, in a daemon otherwise healthy).
#
# Found by helper-90 against cf9ce3b: the follow-ups then shared one
# bound, the owner query timed out, the take became "coroleased did not
# answer" (unavailable) and fail-open served the session without the
# lease while node 3 held it: LOGIN OK, SELECT, APPEND OK.  Now only the
# sync, with a whole bound of its own, may turn "in use" into
# "unavailable"; the owner query only names the holder: refused.
export HANDOVER_MS=60000
export DV_FAIL_MODE=open DV_USER_WAIT=3s
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
command -v gdb >/dev/null || skip "gdb is not installed (the stall is a breakpoint)"
dv_start dovecot-open-slow-owner 187
spawn 3 hold "$CLI" acquire user/u3 -- sleep 300 >/dev/null
must_wait 10 "node 3 holds user/u3" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner user/u3)\" = 3 ]"
dpid=$(daemon_pid 1)
MLOG=$CLUSTER_DIR/n1/dovecot-mail.log
GLOG=$CLUSTER_DIR/gdb.log
printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'NOOP' >"$CLUSTER_DIR/s.txt"
gdb -p "$dpid" -batch -nx -ex 'set pagination off' -ex 'break ipc_do_owner' -ex 'continue' \
	-ex 'shell sleep 4.5' -ex 'delete' -ex 'detach' -ex 'quit' >"$GLOG" 2>&1 &
gp=$!
trap 'rc=$?; kill -INT $gp 2>/dev/null; kill -CONT $dpid 2>/dev/null; (exit $rc); dv_cleanup' EXIT
must_wait 20 "gdb waits at ipc_do_owner in node 1's coroleased" grep -q 'Breakpoint 1 at' "$GLOG"
sleep 1 # past gdb's continue
out=$(cluster exec 1 timeout 60 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s.txt" 2>&1)
echo "$out" >"$CLUSTER_DIR/s.out"
grep -E 'took|NO|BAD|BYE|EOF|OK \[APPENDUID' "$CLUSTER_DIR/s.out" | cut -c1-150
wait_until 20 exited "$gp" || kill -INT "$gp"
stalled=0
grep -q 'ipc_do_owner' "$GLOG" && grep -qE 'Breakpoint 1, ' "$GLOG" && stalled=1
grep -E 'corolease: user/u3' "$MLOG" | tail -n 2 | cut -c1-200
((stalled)) || skip "the owner query never reached the breakpoint (nothing was tested): $(tail -n 3 "$GLOG" | tr '\n' ' ')"
check "the login was not served without the lease (no fail-open warning)" \
	bash -c "! grep -q 'corolease: user/u3: .*serving without the lease' '$MLOG'"
check "it was refused as in use" grep -q 'corolease: user/u3: User u3 is in use on .*session refused' "$MLOG"
check "no APPEND went through" bash -c "! grep -q 'OK \[APPENDUID' '$CLUSTER_DIR/s.out'"
check "node 3 still holds user/u3" [ "$(cl 2 owner user/u3)" = 3 ]
it_pass
