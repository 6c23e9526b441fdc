#!/bin/bash
# 29. Fresh state waits for a node whose corosync is in the ring but whose
# coroleased is not in the group (doc/state-machine.md, "The node agent and
# sync").  Three corosyncs run throughout, so the ring, and so the term,
# never changes.  Nodes 2's and 3's daemons stop; node 1's alone grants
# gw/x (epochs E); node 1's stops too, and node 2's starts again with fresh
# state in that same ring.  Only node 1's epoch floor (in its run dir) knows
# E.  Expected: node 2's fresh state stays in its grace period well past the
# fence delay, logging that it waits for nodes 1 and 3; once node 1's (and
# 3's) coroleased is back, it takes node 1's floor and ends the grace
# period; the next grant of gw/x is above every E.  (Before, node 1's
# daemon alone was refused with ENOQUORUM: the others' leave inside the
# ring left its machine unquorate for good.)
. "$(dirname "$0")/lib.sh"
it_init grace-wait 34
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
it_up 3

stop_daemon() {
	local pid; pid=$(daemon_pid "$1" "${2:-coroleased}")
	kill -TERM "$pid"
	must_wait 15 "node $1's coroleased exited" exited "$pid"
}

for i in 2 3; do stop_daemon "$i"; done
old=()
for k in 1 2 3; do
	old+=("$(grant_epoch 1 a$k gw/x)")
	sleep 1.2   # past linger: a new epoch each time
done
max=0
for e in "${old[@]}"; do
	# (a daemon's leave inside the ring once left the rest unquorate: ENOQUORUM here)
	[[ -n $e ]] || fail "node 1's daemon alone, the others stopped, was not granted gw/x"
	((e > max)) && max=$e
done
say "node 1's daemon alone granted gw/x epochs ${old[*]}"
stop_daemon 1

start_daemon 2 coroleased-r
must_wait 20 "node 2's new coroleased synced and quorate, in grace" in_grace 2
t0=$(now_ms)
sleep $(( (2 * FENCE_MS + 999) / 1000 ))
check "node 2 still in grace $(( $(now_ms) - t0 )) ms later (fence delay $FENCE_MS ms)" in_grace 2
must_wait 10 "node 2 logs that it waits for nodes 1 and 3" \
	grep -q "while nodes 1 3 are in the corosync ring with no coroleased" "$CLUSTER_DIR/n2/coroleased-r.log"
grep -o "fresh state grants nothing.*" "$CLUSTER_DIR/n2/coroleased-r.log" | head -1 | sed 's/^/    /'

start_daemon 3 coroleased-r
must_wait 20 "node 3's new coroleased synced and quorate" in_grace 3
sleep $(( (FENCE_MS + 999) / 1000 ))
check "node 2 still in grace with node 3's daemon back (node 1's is not)" in_grace 2

start_daemon 1 coroleased-r
for i in 1 2 3; do
	must_wait 30 "node $i: synced, quorate, past the grace period" synced "$i"
done
new=$(grant_epoch 2 b1 gw/x)
say "after node 1's daemon came back: gw/x granted epoch $new (largest before: $max)"
check "the epoch after the wait ($new) is above every epoch node 1's lineage granted (max $max)" \
	[ "$new" -gt "$max" ]
it_pass
