#!/bin/bash
# 66. Issue 8, breaker finding F4: a user outside socket_group could lock
# root out by connecting and closing in a loop (the abstract socket's
# backlog held everybody's connections alike).  The daemon's socket is now
# 0660, group socket_group: the kernel refuses such a user at connect()
# (EACCES), so nothing of it reaches the backlog.  Two processes of uid
# 61001 (NOT in socket_group) loop for 15 s; root runs 'corolease status'
# ten times meanwhile, and all ten must work.
. "$(dirname "$0")/lib.sh"
it_init connect-flood 66
[[ -x $CL_FLOOD ]] || skip "cl-flood not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=61001 --clear-groups)

t0=$(now_ms); cl 1 status >/dev/null || fail "root's status"; say "root's status alone: $(( $(now_ms) - t0 )) ms"
for k in 1 2; do spawn 1 cf$k "${AS[@]}" "$CL_FLOOD" connflood 15 >/dev/null; done
sleep 2
okn=0 failn=0 err= worst=0
for i in $(seq 10); do
	t0=$(now_ms)
	if out=$(cl 1 status 2>&1 >/dev/null); then okn=$((okn + 1)); else failn=$((failn + 1)); err=$out; fi
	t=$(( $(now_ms) - t0 )); ((t > worst)) && worst=$t
done
say "root's status during the flood: $okn ok, $failn failed (last error: ${err:-none}), slowest $worst ms"
for k in 1 2; do must_wait 30 "flooder $k done" grep -q '^connects' "$CLUSTER_DIR/n1/cf$k.log"; done
say "flooders: $(grep -h '^connects' "$CLUSTER_DIR"/n1/cf*.log | tr '\n' ';')"
check "the flooders never got in (0 connects)" [ "$(grep -h '^connects' "$CLUSTER_DIR"/n1/cf*.log | awk '{s += $2} END {print s + 0}')" = 0 ]
check "coroleased (pid $d) still running" alive "$d"
check "root's status works during the flood ($failn of 10 failed)" [ $failn = 0 ]
it_pass
