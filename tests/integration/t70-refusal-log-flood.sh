#!/bin/bash
# 70. Issue 8, breaker finding F12: a user outside socket_group wrote to the
# daemon's log as fast as it could connect (a refusal line each time, plus
# libqb's).  The kernel now refuses such a user at connect(), so the daemon
# never sees it: uid 61001 (not a member) connects in a loop for 10 s, and
# the daemon's log gains at most 20 refusal lines.
. "$(dirname "$0")/lib.sh"
it_init refusal-log-flood 70
[[ -x $CL_FLOOD ]] || skip "cl-flood not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
log=$CLUSTER_DIR/n1/coroleased.log
n0=$(grep -c 'refused IPC connection' "$log")
spawn 1 af setpriv --reuid=61001 --regid=61001 --clear-groups "$CL_FLOOD" connflood 10 >/dev/null
must_wait 60 "uid 61001's loop ended" grep -q '^connects' "$CLUSTER_DIR/n1/af.log"
n1=$(grep -c 'refused IPC connection' "$log")
say "cl-flood: $(tail -1 "$CLUSTER_DIR/n1/af.log"); refusal lines in the daemon's log: $((n1 - n0)) ($(du -k "$log" | cut -f1) KiB log)"
check "coroleased (pid $d) still running" alive "$d"
check "the daemon logged at most 20 refusal lines in 10 s ($((n1 - n0)))" [ $((n1 - n0)) -le 20 ]
it_pass
