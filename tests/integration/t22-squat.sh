#!/bin/bash
# 22. A local user can neither take the daemon's socket nor pass for the
# daemon (issue 8, item 2).  coroleased listens on /run/corolease/
# corolease.sock in root's 0755 run dir: user nobody cannot bind that name,
# before the daemon starts or after a kill -9 left the socket file behind.
# A fake daemon nobody serves from a directory of its own is refused by
# root's corolease (EUNTRUSTED: the directory is not root's), and nothing
# runs under a fake lease.  A restarted daemon replaces the stale socket.
. "$(dirname "$0")/lib.sh"
it_init squat 39
[[ -x $CL_SQUAT ]] || skip "cl-squat not built ($CL_SQUAT)"
SQ=(setpriv --reuid=65534 --regid=65534 --clear-groups)
SOCK=/run/corolease/corolease.sock
it_up 1 1
"$CLUSTER_SH" exec 1 mkdir -p -m 0755 /run/corolease
spawn 1 sq1 "${SQ[@]}" "$CL_SQUAT" "$SOCK" >/dev/null
must_wait 10 "user nobody tried to serve $SOCK" grep -q '^ready' "$CLUSTER_DIR/n1/sq1.log"
check "user nobody cannot bind $SOCK before the daemon starts" grep -q "^taken $SOCK" "$CLUSTER_DIR/n1/sq1.log"
start_daemon 1
must_wait 30 "node 1: coroleased starts and syncs" synced 1
pid=$(daemon_pid 1)
perm=$("$CLUSTER_SH" exec 1 stat -c '%u %a %F' /run/corolease "$SOCK" | tr '\n' ' ')
say "run dir and socket: $perm"
check "the socket is root's, 0660 or 0600, in root's 0755 run dir" \
	grep -Eq '^0 755 directory 0 6[06]0 socket $' <<<"$perm"
check "corolease acquire works" cl 1 acquire sq/x -- true

kill -KILL "$pid"
must_wait 10 "coroleased is gone" exited "$pid"
spawn 1 sq2 "${SQ[@]}" "$CL_SQUAT" "$SOCK" >/dev/null
"$CLUSTER_SH" exec 1 rm -rf /tmp/sq-nobody
"$CLUSTER_SH" exec 1 "${SQ[@]}" sh -c 'mkdir -m 0755 /tmp/sq-nobody'
spawn 1 sq3 "${SQ[@]}" "$CL_SQUAT" /tmp/sq-nobody/corolease.sock >/dev/null
must_wait 10 "user nobody serves its own fake socket" grep -q '^serving /tmp/sq-nobody' "$CLUSTER_DIR/n1/sq3.log"
check "user nobody cannot take over the stale $SOCK" grep -q "^taken $SOCK" "$CLUSTER_DIR/n1/sq2.log"
out=$(cl 1 status 2>&1); rc=$?
check "root's corolease status fails while no daemon runs (exit $rc: $out)" [ $rc != 0 ]
out=$(cluster exec 1 env COROLEASE_RUN_DIR=/tmp/sq-nobody "$CLI" status 2>&1); rc=$?
check "root's corolease refuses nobody's fake daemon (exit $rc: $out)" [ $rc != 0 ]
check "... with EUNTRUSTED" grep -q EUNTRUSTED <<<"$out"
out=$(cluster exec 1 env COROLEASE_RUN_DIR=/tmp/sq-nobody "$CLI" acquire sq/x -- echo RAN 2>&1); rc=$?
check "root's corolease acquire under a fake lease fails (exit $rc)" [ $rc != 0 ]
check "and runs nothing (output: $out)" bash -c '! grep -q RAN' <<<"$out"

start_daemon 1
must_wait 30 "node 1: a restarted coroleased replaces the stale socket and syncs" synced 1
check "corolease acquire works again" cl 1 acquire sq/x -- true
it_pass
