#!/bin/bash
# 192. helper-95: coroleased calls corosync's client libraries from its
# loop, and they wait without a bound.  Node 1's corosync is killed and
# started again, and the new one hangs (SIGSTOP) once it listens: the
# daemon, which revoked its holds when corosync went, reconnects a second
# later and is stuck in cpg_model_initialize().  Its `corolease acquire
# hc/x -- CMD` is stopped, so only the daemon's kill at the revoke deadline
# ends CMD; the loop never made it, and node 2's CMD wrote beside node 1's
# for 14 s once nodes 2 and 3 had fenced node 1 (two owners).  The kill
# guard (lockd/killguard.c) makes it from its own thread: node 1's acquire
# must die while corosync is still stopped, and node 1's CMD must write
# nothing once node 2's has begun.  helper-99: the guard must check, as the
# loop does (t38), that the client's user may still signal the process: an
# unprivileged COROLEASE_KILL client that exec'd a set-user-ID root program
# is left alone, while one running its own program is killed.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
CL_KEXEC=$IT_BUILD/tests/integration/cl-kexec
[[ -x $CL_KEXEC && -x $IT_BUILD/tests/integration/cl-setuid ]] || skip "cl-kexec, cl-setuid not built"
it_init revoke-kill-hung-corosync 192
EXTRA_DAEMON_OPTS=(-o revoke_timeout_ms=5000 -o socket_group=users)
it_up 3
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
install -m 4755 -o root -g root "$IT_BUILD/tests/integration/cl-setuid" "$CLUSTER_DIR/cl-setuid" ||
	fail "install the set-user-ID helper"
spawn 1 own "${AS[@]}" "$CL_KEXEC" hc/own /bin/sleep 600 >/dev/null
must_wait 10 "uid 61001's client holds hc/own" grep -q '^granted hc/own' "$CLUSTER_DIR/n1/own.log"
own=$(awk '{ print $1 }' "$CLUSTER_DIR/n1/own.pid")
# this one execs the set-user-ID program once its lease is revoked: after the
# daemon armed its kill, before the deadline
spawn 1 suid env CL_KEXEC_AFTER_REVOKE=1 "${AS[@]}" "$CL_KEXEC" hc/suid "$CLUSTER_DIR/cl-setuid" >/dev/null
must_wait 10 "uid 61001's client holds hc/suid" grep -q '^granted hc/suid' "$CLUSTER_DIR/n1/suid.log"
suid=$(awk '{ print $1 }' "$CLUSTER_DIR/n1/suid.pid")
W=$CLUSTER_DIR/storage.log
: >"$W"
CMD='while :; do echo "$NODE $(date +%s.%N)" >>'"$W"'; sleep 0.1; done'
spawn 1 acq1 env NODE=n1 "$CLI" acquire hc/x -- sh -c "$CMD" >/dev/null
must_wait 20 "node 1's command writes under hc/x" grep -q '^n1 ' "$W"
apid=$(awk '{ print $1 }' "$CLUSTER_DIR/n1/acq1.pid")
d=$(daemon_pid 1)
kill -STOP "$apid" || fail "SIGSTOP $apid"
spawn 2 acq2 env NODE=n2 "$CLI" acquire --wait 90 hc/x -- sh -c "$CMD" >/dev/null
sleep 1
cluster kill 1 KILL >/dev/null
say "node 1's corosync killed"
sleep 0.2
# stopped the moment it listens, by a watcher inside node 1's namespace (the
# daemon's reconnect, once a second, must not get through first: helper-99
# saw it do so once when this polled through 'cluster exec' every 20 ms)
pf=$CLUSTER_DIR/n1/corosync.pid
cluster exec 1 timeout 30 bash -c 'rm -f "$1"; until [[ -s $1 ]] && grep -q "@cpg" /proc/net/unix; do
	sleep 0.002; done; kill -STOP "$(cut -d" " -f1 "$1")"' _ "$pf" &
watcher=$!
cluster start 1 >/dev/null 2>&1 &
wait "$watcher" || fail "node 1's corosync did not start again and listen"
cp=$(awk '{ print $1 }' "$pf")
[[ $(awk '{ print $3 }' "/proc/$cp/stat") == T ]] || fail "node 1's new corosync $cp is not stopped"
say "node 1's new corosync (pid $cp) stopped once it listened"
# the daemon's reconnect (once a second) now waits in poll() on corosync's answer
in_poll() { [[ $(cut -d' ' -f1 "/proc/$d/syscall" 2>/dev/null) == 7 ]]; }
must_wait 10 "node 1's coroleased is stuck in a call to the hung corosync (poll)" in_poll
wait_until 10 grep -q '^root pid' "$CLUSTER_DIR/n1/suid.log" ||
	skip "the set-user-ID helper did not become root ($(tail -n 1 "$CLUSTER_DIR/n1/suid.log"); a nosuid mount?)"
"${AS[@]}" kill -0 "$suid" 2>/dev/null && fail "uid 61001 can signal the root process $suid: the test proves nothing"
must_wait 20 "node 1's acquire is killed at its revoke deadline, corosync still stopped" \
	exited "$apid"
check "node 1's coroleased is still stuck (the guard made the kill, not the loop)" in_poll
must_wait 5 "uid 61001's client of its own program is killed too" exited "$own"
check "the set-user-ID root process is not killed on behalf of uid 61001" alive "$suid"
check "nor left stopped" [ "$(awk '{ print $3 }' "/proc/$suid/stat")" != T ]
must_wait 60 "node 2's command writes under hc/x" grep -q '^n2 ' "$W"
sleep 1
late=$(awk '$1 == "n2" && !f { f = $2 }
	{ t[NR] = $2; n[NR] = $1 }
	END { c = 0; for (i = 1; i <= NR; i++) if (n[i] == "n1" && t[i] >= f) c++; print c }' "$W")
check "node 1's command wrote nothing once node 2's had begun (one owner)" [ "$late" = 0 ]
kill -CONT "$cp"
must_wait 30 "node 1's coroleased logs the guard's kills once corosync answers" \
	grep -q "the kill guard killed 2 client" "$CLUSTER_DIR/n1/coroleased.log"
kill -KILL "$suid"
it_pass
