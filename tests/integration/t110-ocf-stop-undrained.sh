#!/bin/bash
# 110. (adversarial, issue 11) The OCF agent's stop must drain or fail
# clearly.  A client on node 1 holds a lease and ignores its revocation
# (SIGSTOP, kill_on_revoke off, the default); the daemon's own drain lasts
# revoke_timeout_ms (8000 here) + 3 s at most, the agent's drain_timeout is
# 2 s (a stop timeout shorter than the drain).  The agent SIGKILLs the
# daemon, logs "its leases wait for fencing" and reports OCF_SUCCESS: Pacemaker
# takes the stop as clean, so nothing fences the node, and the lease was
# never handed back (the other nodes wait the fence delay for it).  The test
# expects a stop that did not drain to be reported as failed.
# (With drain_timeout above the daemon's drain, a stopped holder is revoked
# and the daemon finishes its drain after revoke_timeout_ms: that case holds.)
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
OCF_OPTS="${DAEMON_OPTS[*]} -o revoke_timeout_ms=8000"
ocf_init ocf-undrained 110

cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
bad=0
for drain in 2; do
	ocf_agent start; rc=$?
	[[ $rc == 0 ]] || fail "start: $rc ($(tail -n 3 "$CLUSTER_DIR/agent-start.out"))"
	must_wait 40 "the grace period of fresh state ended" ocf_grace false
	: >"$CLUSTER_DIR/n1/holder$drain.log"
	pid=$(spawn 1 "holder$drain" env COROLEASE_RUN_DIR="$OCF_RUN" "$CL_VALID" "ocfu/x$drain") || fail "spawn holder"
	must_wait 10 "the holder has ocfu/x$drain" grep -q "^valid ocfu/x$drain 1" "$CLUSTER_DIR/n1/holder$drain.log"
	kill -STOP "$pid" || fail "SIGSTOP $pid"
	: >"$CLUSTER_DIR/agent-stop.out"
	t0=$(now_ms)
	ocf_agent stop OCF_RESKEY_drain_timeout=$drain; rc=$?
	say "drain_timeout=$drain: stop rc $rc after $(( $(now_ms) - t0 )) ms; agent said: $(tr '\n' ' ' <"$CLUSTER_DIR/agent-stop.out")"
	check "the agent had to SIGKILL the daemon" grep -q SIGKILL "$CLUSTER_DIR/agent-stop.out"
	if [[ $rc == 0 ]]; then
		echo "[$IT_NAME $(ts)] FAIL: drain_timeout=$drain: stop reported OCF_SUCCESS although ocfu/x$drain was never handed back" >&2
		bad=1
	else
		ok "drain_timeout=$drain: stop failed ($rc) as the drain did not finish"
	fi
	kill -KILL "$pid" 2>/dev/null
	must_wait 10 "the holder is gone" exited "$pid"
done
((bad == 0)) || fail "a stop that did not drain reported success"
it_pass
