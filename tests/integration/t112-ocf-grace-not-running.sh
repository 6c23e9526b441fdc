#!/bin/bash
# 112. (adversarial, issue 11) start and monitor of the OCF agent must not
# report "running" for a daemon that cannot grant.  Corosync runs on nodes 1
# and 2 (node 2 as a node in standby, or one whose clone instance failed or
# was banned: corosync up, no coroleased); the ocf_agent starts coroleased on
# node 1 with fresh state.  The daemon is synced and quorate, but fresh
# state grants nothing for its grace period, and longer, while node 2's
# corosync is in the ring without a coroleased (README, "Fresh state").
# The agent looks at synced and quorate only: start returns OCF_SUCCESS at
# once (so Pacemaker starts the resources ordered after it, e.g. Dovecot),
# monitor returns OCF_SUCCESS, while 'corolease acquire --nowait' is refused
# and status says "grace":true.  Expected: neither start nor monitor reports
# success while the daemon is in its grace period.
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
ocf_init ocf-grace 112

cluster up 2 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 2"; }
bad=0
t0=$(now_ms)
ocf_agent start; rc=$?
say "start: rc $rc after $(( $(now_ms) - t0 )) ms"
if [[ $rc == 0 ]]; then
	echo "[$IT_NAME $(ts)] FAIL: start returned OCF_SUCCESS for a daemon that grants nothing (grace period)" >&2
	bad=1
fi
# whatever start said: while node 1's daemon runs, it stays in its grace
# period well past the fence delay (it waits for node 2's coroleased), and
# monitor must not call it running
if wait_until 10 ocf_cli --json status; then
	sleep_until=$(( $(now_ms) + 2 * FENCE_MS ))
	while (( $(now_ms) < sleep_until )); do
		ocf_grace true || fail "the daemon left its grace period although node 2 has no coroleased"
		sleep 0.5
	done
	check "after twice the fence delay node 1's daemon is still in its grace period" ocf_grace true
	out=$(ocf_cli acquire ocfg/x --nowait -- true 2>&1); arc=$?
	say "acquire --nowait ocfg/x: exit $arc: $out"
	check "the daemon cannot grant: acquire --nowait is refused" [ $arc != 0 ]
	ocf_agent monitor; mrc=$?
	say "monitor: rc $mrc ($(tail -n 1 "$CLUSTER_DIR/agent-monitor.out" 2>/dev/null))"
	if [[ $mrc == 0 ]]; then
		echo "[$IT_NAME $(ts)] FAIL: monitor returned OCF_SUCCESS (running) for a daemon that grants nothing (grace period)" >&2
		bad=1
	fi
else
	ok "no daemon answers after start (rc $rc)"
fi
((bad == 0)) || fail "the agent reported a daemon that cannot grant as running"
it_pass
