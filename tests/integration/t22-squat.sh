#!/bin/bash
# 22. A local user cannot squat the daemon's IPC name nor pass for the daemon
# (issue 8, item 2).  libqb serves abstract sockets, which any user may bind
# first: user nobody serves the old fixed name "corolease" before coroleased
# starts, and the daemon still starts (its name is new at each start and
# published in /run/corolease/service).  After a kill -9 of the daemon the
# file names a free socket: nobody serves it, and root's corolease refuses
# that server (not root, not the pid in the file) with EUNTRUSTED.  A
# restarted daemon serves again while the squatter still runs.
. "$(dirname "$0")/lib.sh"
it_init squat 39
[[ -x $CL_SQUAT ]] || skip "cl-squat not built ($CL_SQUAT)"
SQ=(setpriv --reuid=65534 --regid=65534 --clear-groups)
it_up 1 1
spawn 1 sq1 "${SQ[@]}" "$CL_SQUAT" corolease >/dev/null
must_wait 10 "user nobody serves 'corolease'" grep -q '^serving corolease' "$CLUSTER_DIR/n1/sq1.log"
start_daemon 1
must_wait 30 "node 1: coroleased starts and syncs all the same" synced 1
read -r name pid < <("$CLUSTER_SH" exec 1 cat /run/corolease/service)
say "the daemon serves $name (pid $pid)"
check "its name is not the squatted one" [ "$name" != corolease ]
check "the service file is root's, 0644, in root's 0755 run dir" \
	[ "$("$CLUSTER_SH" exec 1 stat -c '%u %a' /run/corolease /run/corolease/service | tr '\n' ' ')" = "0 755 0 644 " ]
check "corolease acquire works" cl 1 acquire sq/x -- true

kill -KILL "$(daemon_pid 1)"
must_wait 10 "coroleased is gone" exited "$pid"
spawn 1 sq2 "${SQ[@]}" "$CL_SQUAT" "$name" >/dev/null
must_wait 10 "user nobody serves the stale name $name" grep -q "^serving $name" "$CLUSTER_DIR/n1/sq2.log"
out=$(cl 1 status 2>&1); rc=$?
check "root's corolease status refuses the fake daemon (exit $rc: $out)" [ $rc != 0 ]
check "... with EUNTRUSTED" grep -q EUNTRUSTED <<<"$out"
out=$(cl 1 acquire sq/x -- echo RAN 2>&1); rc=$?
check "root's corolease acquire runs nothing under a fake lease (exit $rc)" [ $rc != 0 ] && ! grep -q RAN <<<"$out"

start_daemon 1
must_wait 30 "node 1: a restarted coroleased syncs, squatters still running" synced 1
check "corolease acquire works again" cl 1 acquire sq/x -- true
it_pass
