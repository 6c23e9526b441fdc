#!/bin/bash
# 113. (adversarial, issue 11) monitor must not report "running" for a
# daemon that is stuck.  Node 1's corosync stalls (SIGSTOP: a corosync hung
# in the kernel, or starved): coroleased gets no message and no membership
# event, so its status keeps "synced":true and "quorate":true while its
# validity lapses ("valid_ms" goes below zero and keeps falling: every
# client's lease is invalid) and it cannot grant ('acquire --nowait' does
# not even answer within 10 s).  The OCF agent's monitor looks at synced and
# quorate only and returns OCF_SUCCESS.  Expected: not OCF_SUCCESS once the
# node's validity has lapsed for several token timeouts; also when a client
# held a lease, whose revoke cut the deadline to 0 (valid_ms falls on).
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
ocf_init ocf-stall 113


cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
ocf_agent start; rc=$?
[[ $rc == 0 ]] || fail "start: $rc ($(tail -n 3 "$CLUSTER_DIR/agent-start.out"))"
must_wait 30 "the grace period of fresh state ended" ocf_grace false
must_wait 10 "a healthy daemon keeps its validity (valid_ms > 0)" ocf_valid_above 0
ocf_agent monitor; rc=$?
check "monitor of the healthy daemon: 0 (got $rc)" [ $rc = 0 ]

# a client holds a lease: the lapse revokes it, and the daemon's validity
# deadline is cut to 0 (helper-107: valid_ms then stayed 0, and the agent
# took that for a lapse of 0 ms and kept returning OCF_SUCCESS)
spawn 1 holder env COROLEASE_RUN_DIR="$OCF_RUN" "$CLI" acquire ocfs/held -- sleep 600 >/dev/null
must_wait 10 "a client holds ocfs/held" bash -c "'$CLUSTER_SH' exec 1 env COROLEASE_RUN_DIR='$OCF_RUN' '$CLI' owner ocfs/held | grep -qx 1"
cpid=$(awk '{print $1}' "$CLUSTER_DIR/n1/corosync.pid")
[[ -n $cpid ]] || fail "no corosync pid"
kill -STOP "$cpid" || fail "SIGSTOP corosync $cpid"
must_wait 30 "node 1's validity lapsed 5 token timeouts ago (valid_ms keeps falling after the revoke)" ocf_valid_below $(( -5 * TOKEN ))
must_wait 10 "the holder was revoked" grep -q 'revoked' "$CLUSTER_DIR/n1/holder.log"
say "status: $(ocf_cli --json status | grep -o '"\(synced\|quorate\|valid_ms\|grace\)":[a-z0-9-]*' | tr '\n' ' ')"
t0=$(now_ms)
out=$(timeout 10 "$CLUSTER_SH" exec 1 env COROLEASE_RUN_DIR="$OCF_RUN" "$CLI" acquire ocfs/x --nowait -- true 2>&1); arc=$?
say "acquire --nowait ocfs/x: exit $arc after $(( $(now_ms) - t0 )) ms: $out"
check "the stuck daemon grants nothing (acquire --nowait fails or hangs)" [ $arc != 0 ]
ocf_agent monitor; rc=$?
say "monitor: rc $rc ($(tail -n 1 "$CLUSTER_DIR/agent-monitor.out" 2>/dev/null))"
kill -CONT "$cpid"
[[ $rc != 0 ]] || fail "monitor returned OCF_SUCCESS (running) for a daemon whose validity lapsed $(( 5 * TOKEN )) ms+ ago and that cannot grant"
it_pass
