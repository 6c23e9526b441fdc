#!/bin/bash
# 64. BREAKER FINDING (issue 8, item 5): one user takes every client hold
# slot of the node (max_client_holds) and nobody else, root included, can
# acquire anything.
#
# max_client_holds bounded the holds of all local clients together, with no
# share per uid and no reserve for root (as max_connections has); each of a
# user's connections may hold max_leases_per_client.  Defaults: 262144
# slots, 10000 per connection, 512 connections per uid: 27 connections of
# one user took them all.  Scaled down here: max_client_holds=300,
# max_leases_per_client=100; uid 61001 (socket_group users) runs three
# cl-load clients of 100 leases each.  Failed before the fix: "root can
# still take a lease" (EDQUOT), and uid 61001 held all 300 slots.
#
# The fix: max_client_holds_per_uid (default a quarter of max_client_holds:
# 75 here) bounds one uid's clients together, and root (and the daemon's own
# user) has CLD_HOLD_RESERVE (1024) slots beyond max_client_holds and no
# share.  So uid 61001 gets 75 of its 300 acquires (the rest EDQUOT), another
# user still gets leases; four users with 75 each fill the node, and then a
# fifth user is refused while root still gets one.  Counted in
# 'corolease status' (client_holds*, caller.holds, counters.holds_refused*).
. "$(dirname "$0")/lib.sh"
it_init hold-slots 64
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o max_client_holds=300 -o max_leases_per_client=100)
it_up 1
d=$(daemon_pid 1)
as() { local uid=$1; shift; cluster exec 1 setpriv --reuid="$uid" --regid=100 --clear-groups "$@"; }

# settled LOG...: every cl-load client (of 100 leases, -1) had all its answers:
# its last progress line counts 100 granted or refused, nothing pending
settled() {
	local f
	for f in "$@"; do
		grep '^progress' "$f" | tail -n 1 | awk '{ split($2, h, "="); split($3, p, "=");
			split($6, e, "="); exit !(p[2] == 0 && h[2] + e[2] == 100) }' || return 1
	done
}
# held_by LOG...: the leases those clients hold together (their last progress lines)
held_by() { local f n=0 h; for f in "$@"; do h=$(grep '^progress' "$f" | tail -n 1 | sed 's/^progress held=\([0-9]*\).*/\1/'); n=$((n + ${h:-0})); done; echo $n; }

for k in 1 2 3; do
	spawn 1 hog$k setpriv --reuid=61001 --regid=100 --clear-groups "$CL_LOAD" -p "hog$k/" -n 100 -W 50 -1 >/dev/null
done
H=("$CLUSTER_DIR"/n1/hog{1,2,3}.log)
must_wait 60 "uid 61001's three clients got their answers" settled "${H[@]}"
n=$(held_by "${H[@]}")
say "uid 61001's three clients of 100 leases hold $n together"
check "uid 61001 holds its share, 75 of the 300 slots ($n)" [ "$n" = 75 ]
j=$(as 61001 "$CLI" --json status)
check "status: client_holds_per_uid 75, caller.holds 75, client_holds_max 300, reserve 1024" \
	[ "$(jget "$j" .client_holds_per_uid) $(jget "$j" .caller.holds) $(jget "$j" .client_holds_max) $(jget "$j" .client_holds_reserve)" = "75 75 300 1024" ]
check "status: counters.holds_refused_uid counts its 225 refusals" [ "$(jget "$j" .counters.holds_refused_uid)" = 225 ]

out=$(cl 1 acquire root/x -- true 2>&1); rc=$?
say "root's 'corolease acquire root/x -- true': rc $rc: $out"
check "root can still take a lease" [ $rc = 0 ]
out=$(as 61002 "$CLI" acquire other/x -- true 2>&1); rc=$?
check "another user (61002) can still take a lease (rc $rc: $out)" [ $rc = 0 ]

# three more users with 75 each: every shared slot taken
for u in 61002 61003 61004; do
	spawn 1 u$u setpriv --reuid=$u --regid=100 --clear-groups "$CL_LOAD" -p "u$u/" -n 100 -W 50 -1 >/dev/null
done
U=("$CLUSTER_DIR"/n1/u6100{2,3,4}.log)
must_wait 60 "users 61002..61004 got their answers" settled "${U[@]}"
check "the four users hold 300 slots, 75 each" [ "$(held_by "${U[@]}") $(st 1 .client_holds)" = "225 300" ]
out=$(as 61005 "$CLI" acquire fifth/x -- true 2>&1); rc=$?
say "a fifth user (61005) on a full node: rc $rc: $out"
refused() { [[ $rc == 6 ]] && grep -q EDQUOT <<<"$out"; }
check "a fifth user is refused with EDQUOT (exit 6) when every shared slot is taken" refused
check "status: counters.holds_refused counts it" [ "$(st 1 .counters.holds_refused)" -ge 1 ]
out=$(cl 1 acquire root/y -- true 2>&1); rc=$?
check "root still takes a lease from its reserve (rc $rc: $out)" [ $rc = 0 ]
check "coroleased (pid $d) still running" alive "$d"
it_pass
