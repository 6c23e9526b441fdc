#!/bin/bash
# 63. BREAKER FINDING (issue 8, README "Security model"): a local user
# revokes another user's (root's) hold and has its command killed.
#
# README: "What it cannot do: ... release, revoke or see the events of
# another client's holds".  corolease(1) calls acquire "like flock(1)".
# Yet a WAIT acquire of a name held by a local client of another user tells
# the holder WANTED and revokes it after handover_timeout_ms (core/node.h,
# local_handover), whoever the users are: root runs 'corolease acquire
# shared/job -- sleep 60'; uid 61001 (socket_group users) runs 'corolease
# acquire --wait 20 shared/job -- true'; root's sleep gets SIGTERM after
# the 2 s handover timeout and uid 61001 gets the lease.  With
# kill_on_revoke=yes the daemon itself SIGKILLs a holder that does not give
# up in revoke_timeout_ms, so any member of socket_group can have any
# lease-holding process of any user killed, by naming its lease.
#
# Failed before the fix ("root's command ran to its end").  The fix: a local
# waiter of another uid that is neither root nor in admin_group does not
# start the local handover (core/node_lease.c, may_force()): root's job is
# told WANTED and runs to its end, and uid 61001 gets the lease after it.
. "$(dirname "$0")/lib.sh"
it_init revoke-other-user 63
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o kill_on_revoke=yes)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)

spawn 1 rootjob sh -c "'$CLI' acquire shared/job -- sleep 8; echo \"root's job exit \$?\"" >/dev/null
must_wait 10 "root holds shared/job" bash -c "'$CLUSTER_SH' exec 1 '$CLI' show shared/job | grep -qi holder"
t0=$(now_ms)
out=$(cluster exec 1 "${AS[@]}" "$CLI" acquire --wait 20 shared/job -- sh -c 'echo "uid $(id -u) got the lease"' 2>&1); rc=$?
t=$(( $(now_ms) - t0 ))
say "uid 61001's acquire (rc $rc, after $t ms): $(echo "$out" | tr '\n' ' ')"
must_wait 20 "root's corolease acquire ended" grep -q "root's job exit" "$CLUSTER_DIR/n1/rootjob.log"
say "root's side: $(tr '\n' ' ' < "$CLUSTER_DIR/n1/rootjob.log")"
check "root's command ran to its end (exit 0), uid 61001 waited for it" grep -q "root's job exit 0" "$CLUSTER_DIR/n1/rootjob.log"
check "coroleased (pid $d) still running" alive "$d"
it_pass
