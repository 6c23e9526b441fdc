#!/bin/bash
# 64. BREAKER FINDING (issue 8, item 5): one user takes every client hold
# slot of the node (max_client_holds) and nobody else, root included, can
# acquire anything.
#
# max_client_holds bounds the holds of all local clients together, with no
# share per uid and no reserve for root (as max_connections has); each of a
# user's connections may hold max_leases_per_client.  Defaults: 262144
# slots, 10000 per connection, 512 connections per uid: 27 connections of
# one user take them all.  Scaled down here: max_client_holds=300,
# max_leases_per_client=100; uid 61001 (socket_group users) runs three
# cl-load clients of 100 leases each.
#
# FAILS on current code: "root can still take a lease" (EDQUOT).
. "$(dirname "$0")/lib.sh"
it_init hold-slots 64
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o max_client_holds=300 -o max_leases_per_client=100)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)

for k in 1 2 3; do
	spawn 1 hog$k "${AS[@]}" "$CL_LOAD" -p "hog$k/" -n 100 -W 50 -1 >/dev/null
done
for k in 1 2 3; do
	must_wait 60 "uid 61001's client $k holds 100 leases" grep -q '^all held 100' "$CLUSTER_DIR/n1/hog$k.log"
done
out=$(cl 1 acquire root/x -- true 2>&1); rc=$?
say "root's 'corolease acquire root/x -- true': rc $rc: $out"
check "root can still take a lease" [ $rc = 0 ]
out=$(cluster exec 1 setpriv --reuid=61002 --regid=100 --clear-groups "$CLI" acquire other/x -- true 2>&1); rc=$?
check "another user (61002) can still take a lease (rc $rc: $out)" [ $rc = 0 ]
check "coroleased (pid $d) still running" alive "$d"
it_pass
