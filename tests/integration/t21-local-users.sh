#!/bin/bash
# 21. Issue 8, findings 3 and 5: what a local user can do before and around
# authorisation.
# - group checks read every supplementary group: with socket_group=users
#   (gid 100) and admin_group=nogroup (65534), users holding 1,100+ groups
#   (setpriv, numeric ids, nothing added to /etc) are judged by all of them:
#   one whose /proc Groups: line, cut at 4096 bytes, would end in "100" or
#   "65534" gets neither access nor admin, and a real member of nogroup whose
#   gid comes after 1,100 others is an admin (the old fgets parsing had it
#   the other way round); the kernel itself judges socket_group (the
#   socket is 0660, group users), by every group;
# - 1,000 raw connections of one user that never say HELLO are
#   closed (max_handshakes_per_uid, handshake_timeout_ms) and counted, and
#   root's 'corolease status' stays fast meanwhile (the time is reported).
. "$(dirname "$0")/lib.sh"
it_init local-users 42
[[ -x $CL_FLOOD ]] || skip "cl-flood not built ($CL_FLOOD)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
[[ $(getent group users | cut -d: -f3) == 100 && $(getent group nogroup | cut -d: -f3) == 65534 ]] ||
	skip "groups users (100) and nogroup (65534) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o admin_group=nogroup -o handshake_timeout_ms=1000)
it_up 1
d=$(daemon_pid 1)

# ids from START: "Groups:\t" is 8 bytes and fgets kept 4095: 4087 bytes of
# "N " items, so leading items of LEAD bytes then 10-byte items leave the
# first PREFIXLEN digits of a nine-digit gid at the cut
seq_csv() { seq -s, "$1" "$2"; }
as() { local uid=$1 gid=$2 groups=$3; shift 3; cluster exec 1 setpriv --reuid="$uid" --regid="$gid" --groups="$groups" "$@"; }

# A: primary group users; 7, then 655340000.. (lead 2 + 408 x 10 + "65534" cut)
GA="7,$(seq_csv 655340000 655341099)"
as 60001 100 "$GA" cat /proc/self/status | grep '^Groups:' | head -c 4095 | tail -c 12 | sed "s/^/[$IT_NAME] A's Groups: line at byte 4095: .../"; echo
as 60001 100 "$GA" "$CLI" status >/dev/null 2>&1; rc=$?
check "A (1,101 groups, in socket_group by its primary group) connects (rc $rc)" [ $rc = 0 ]
as 60001 100 "$GA" "$CLI" evict it/x >/dev/null 2>"$CLUSTER_DIR/a-evict.err"; rc=$?
check "A is no admin: evict exits 5 (rc $rc: $(cat "$CLUSTER_DIR/a-evict.err"))" [ $rc = 5 ]

# B: primary group 60002; 7, 1000..2099, 65534 last: a real member of nogroup
GB="7,$(seq_csv 1000 2099),65534"
as 60002 60002 "$GB,100" "$CLI" evict it/x >/dev/null 2>"$CLUSTER_DIR/b-evict.err"; rc=$?
check "B (1,103 groups, users and nogroup past byte 4096) is an admin: evict is not refused (rc $rc: $(cat "$CLUSTER_DIR/b-evict.err"))" [ $rc != 5 -a $rc != 3 ]

# D: primary group 60003, not in users; 7, 8, then 100000000.. (lead 4 + 408 x 10 + "100" cut)
GD="7,8,$(seq_csv 100000000 100001099)"
as 60003 60003 "$GD" "$CLI" status >/dev/null 2>"$CLUSTER_DIR/d-status.err"; rc=$?
check "D (1,102 groups, none of them users) is refused: status exits 5 (rc $rc: $(cat "$CLUSTER_DIR/d-status.err"))" [ $rc = 5 ]
check "the kernel refused D at connect (the socket is 0660, group users): EACCES" grep -q EACCES "$CLUSTER_DIR/d-status.err"
check "nothing of D reached the daemon (no refusal to log)" bash -c "! grep -q 'refused IPC connection from uid 60003' '$CLUSTER_DIR/n1/coroleased.log'"

# ---- half-open connections
t0=$(now_ms); cl 1 status >/dev/null || fail "status"; base=$(( $(now_ms) - t0 ))
spawn 1 half setpriv --reuid=60004 --regid=100 --clear-groups "$CL_FLOOD" halfopen 1000 >/dev/null
must_wait 30 "1,000 raw connections of uid 60004 (group users) opened" grep -q '^ready' "$CLUSTER_DIR/n1/half.log"
check "all 1,000 connected: $(head -1 "$CLUSTER_DIR/n1/half.log")" grep -qx 'open 1000' "$CLUSTER_DIR/n1/half.log"
t0=$(now_ms); j=$(cl 1 --json status) || fail "root's status failed with 1,000 half-open connections"
t=$(( $(now_ms) - t0 ))
say "root's 'corolease status': $base ms alone, $t ms with 1,000 half-open connections of another user; handshakes $(jget "$j" .handshakes), dropped $(jget "$j" .counters.handshakes_dropped)"
check "at most max_handshakes_per_uid (8) of them are waiting" [ "$(jget "$j" .handshakes)" -le 8 ]
# at once, or (a user past its share of the realtime budget: its connections
# wait for the window's end, ASan's slower daemon) within a window or two
dropped() { local v; v=$(jget "$(cl 1 --json status)" .counters.handshakes_dropped); [ "${v:-0}" -ge 992 ]; }
must_wait 5 "the rest were dropped (counters.handshakes_dropped >= 992)" dropped
must_wait 10 "the last 8 are dropped after handshake_timeout_ms" bash -c "'$CLUSTER_SH' exec 1 '$CLI' --json status | grep -q '\"handshakes\":0'"
as 60001 100 "$GA" "$CLI" status >/dev/null 2>&1; rc=$?
check "a member still connects meanwhile (rc $rc)" [ $rc = 0 ]
kill -TERM "$(daemon_pid 1 half)"
must_wait 10 "the raw client exited" exited "$(daemon_pid 1 half)"
say "raw client: $(tail -1 "$CLUSTER_DIR/n1/half.log")"
check "the daemon closed all 1,000" grep -qx 'dropped 1000' "$CLUSTER_DIR/n1/half.log"
check "coroleased (pid $d) still running" alive "$d"
it_pass
