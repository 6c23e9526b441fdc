#!/bin/bash
# 114. (adversarial, issue 11) start must honour its operation timeout and
# fail with a reason, never run into Pacemaker's kill.  The agent's start
# waits sync_timeout (default: the op timeout less 5 s), but checks that
# deadline only between status calls, and each 'corolease status' to a
# stuck daemon (SIGSTOP: the kernel accepts the connection, nobody answers)
# takes the CLI's whole 10 s connect timeout.  Here the daemon runs but is
# stuck when start is called (as after a probe found it, or a daemon that
# hangs in its start-up): start asks monitor first (10 s), only then sets
# its deadline (sync_timeout from now), and the wait loop's last status call
# runs up to 10 s past that deadline.  With an op timeout of 16 s
# (sync_timeout 11 s) start returned after 30.4 s; with the default 120 s it
# would return after 10 + 115 + up to 10 s, after Pacemaker killed it at 120.
# Expected: start returns non-zero within its op timeout.
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
ocf_init ocf-stuck 114

cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
ocf_agent start; rc=$?
[[ $rc == 0 ]] || fail "first start: $rc ($(tail -n 3 "$CLUSTER_DIR/agent-start.out"))"
pid=$(cluster exec 1 cat "$OCF_RUN/coroleased.pid" | awk '{print $1}')
[[ -n $pid ]] || fail "no daemon pid in $OCF_RUN/coroleased.pid"
kill -STOP "$pid" || fail "SIGSTOP $pid"
must_wait 10 "the daemon is stopped (state T)" bash -c "[[ \$(awk '{print \$3}' /proc/$pid/stat) == T ]]"
t0=$(now_ms)
ocf_agent start OCF_RESKEY_CRM_meta_timeout=16000; rc=$?
dt=$(( $(now_ms) - t0 ))
say "start with a stuck daemon, op timeout 16000 ms: rc $rc after $dt ms: $(tail -n 1 "$CLUSTER_DIR/agent-start.out")"
kill -CONT "$pid"
check "start did not report success for a stuck daemon (rc $rc)" [ $rc != 0 ]
[[ $dt -lt 16000 ]] || fail "start took $dt ms, past its 16000 ms op timeout (Pacemaker would have killed it: a timeout, not a failure with a reason)"
it_pass
