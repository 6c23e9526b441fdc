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
# nothing once node 2's has begun.
. "$(dirname "$0")/lib.sh"
it_init revoke-kill-hung-corosync 192
EXTRA_DAEMON_OPTS=(-o revoke_timeout_ms=5000)
it_up 3
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
cluster start 1 >/dev/null 2>&1 &
cp=
for ((k = 0; k < 500; k++)); do
	cp=$(awk '{ print $1 }' "$CLUSTER_DIR/n1/corosync.pid" 2>/dev/null)
	[[ -n $cp ]] && cluster exec 1 ss -xl 2>/dev/null | grep -q '@cpg' && break
	sleep 0.02
done
[[ -n $cp ]] || fail "node 1's corosync did not start again"
kill -STOP "$cp" || fail "SIGSTOP corosync $cp"
say "node 1's new corosync (pid $cp) stopped once it listened"
# the daemon's reconnect (once a second) now waits in poll() on corosync's answer
in_poll() { [[ $(cut -d' ' -f1 "/proc/$d/syscall" 2>/dev/null) == 7 ]]; }
must_wait 10 "node 1's coroleased is stuck in a call to the hung corosync (poll)" in_poll
must_wait 20 "node 1's acquire is killed at its revoke deadline, corosync still stopped" \
	exited "$apid"
check "node 1's coroleased is still stuck (the guard made the kill, not the loop)" in_poll
must_wait 60 "node 2's command writes under hc/x" grep -q '^n2 ' "$W"
sleep 1
late=$(awk '$1 == "n2" && !f { f = $2 }
	{ t[NR] = $2; n[NR] = $1 }
	END { c = 0; for (i = 1; i <= NR; i++) if (n[i] == "n1" && t[i] >= f) c++; print c }' "$W")
check "node 1's command wrote nothing once node 2's had begun (one owner)" [ "$late" = 0 ]
kill -CONT "$cp"
must_wait 30 "node 1's coroleased logs the guard's kill once corosync answers" \
	grep -q "the kill guard killed 1 client" "$CLUSTER_DIR/n1/coroleased.log"
it_pass
