#!/bin/bash
# 115. (adversarial, issue 11) The OCF agent knows a running daemon only by
# the flock(2) lock on RUN_DIR/coroleased.pid.  When the run directory is
# removed under a running daemon (an admin's cleanup; systemd removed
# RuntimeDirectory= /run/corolease whenever coroleased.service, which the
# package enables on install, stopped or failed, until the unit set
# RuntimeDirectoryPreserve=yes), the daemon keeps running and serving its
# clients, but:
#  - monitor returns OCF_NOT_RUNNING (7) for it: Pacemaker then "recovers"
#    the resource by starting it;
#  - start launches a second coroleased for the same node.  In this test's
#    runs the second one exited at once; in one probe run it stayed: both
#    joined the CPG group as node 1 and looped on syncs ("own sync-announce
#    delivered out of order", a 13 GB log in 25 s), the new one answering no
#    status; so this test logs to /dev/null and kills a second daemon at once;
#  - stop then reports success while the first daemon still runs.
# Expected: monitor does not report a running daemon as not running, a
# start never leaves two coroleased running for one node, and stop does not
# report success while the daemon runs.
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
OCF_LOG=/dev/null
ocf_init ocf-rundir 115

# pids of the coroleased processes with this test's run dir
daemons() { pgrep -f -- "-o run_dir=$OCF_RUN( |\$)" | tr '\n' ' '; }
bad=0
cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
ocf_agent start; rc=$?
[[ $rc == 0 ]] || fail "start: $rc ($(tail -n 3 "$CLUSTER_DIR/agent-start.out"))"
pid=$(cluster exec 1 cat "$OCF_RUN/coroleased.pid" | awk '{print $1}')
[[ -n $pid ]] || fail "no daemon pid"
say "daemon pid $pid; daemons: $(daemons)"
cluster exec 1 rm -rf "$OCF_RUN" || fail "rm -rf $OCF_RUN"
check "the daemon still runs after its run dir was removed" alive "$pid"
ocf_agent monitor; rc=$?
say "monitor: rc $rc"
if [[ $rc == 7 ]]; then
	echo "[$IT_NAME $(ts)] FAIL: monitor returned OCF_NOT_RUNNING while coroleased (pid $pid) runs" >&2
	bad=1
fi
# what Pacemaker does after that monitor: start (a short sync_timeout: the
# two daemons loop on syncs meanwhile)
ocf_agent start OCF_RESKEY_sync_timeout=3; rc=$?
running=$(daemons)
say "second start: rc $rc ($(tail -n 1 "$CLUSTER_DIR/agent-start.out")); daemons: $running"
n=$(wc -w <<<"$running")
# stop the sync loop at once
for p in $running; do [[ $p == "$pid" ]] || kill -KILL "$p" 2>/dev/null; done
if (( n > 1 )); then
	echo "[$IT_NAME $(ts)] FAIL: after start, $n coroleased run for node 1 ($running)" >&2
	bad=1
fi
ocf_agent stop OCF_RESKEY_drain_timeout=5; rc=$?
if [[ $rc == 0 ]] && alive "$pid"; then
	echo "[$IT_NAME $(ts)] FAIL: stop returned OCF_SUCCESS while coroleased (pid $pid) still runs" >&2
	bad=1
fi
kill -KILL "$pid" 2>/dev/null
((bad == 0)) || fail "the agent lost track of a running daemon whose run dir was removed"
it_pass
