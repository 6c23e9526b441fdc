#!/bin/bash
# 23 (found by a breaker run as its t41). Epochs after every coroleased of the cluster restarts while
# corosync keeps running (a simultaneous 'systemctl restart coroleased', a
# crash of every daemon on one bad input, the OOM policy on every node).
# The totem ring does not change, so the fresh lineage's first term is the
# same ring as the old lineage's term, and its epochs start again at
# ring seq << 32.  Expected (issue 7 defect 2, doc/state-machine.md "Epochs"):
# per name, epochs only grow, also across full-cluster restarts.
. "$(dirname "$0")/lib.sh"
it_init epoch-restart-all 43
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
it_up 3

old=()
for k in 1 2 3 4 5; do
	old+=("$(grant_epoch $(( (k % 3) + 1 )) a$k ep/x)")
	sleep 1.2   # past linger, so the next node's grant is a new epoch
done
say "epochs of ep/x before the restart: ${old[*]}"
max=0
for e in "${old[@]}"; do ((e > max)) && max=$e; done
say "node 1's ring before: $(grep -o 'configuration ring [0-9/]*' "$CLUSTER_DIR/n1/coroleased.log" | tail -1)"

# every coroleased stops (SIGTERM: drains, hands its leases back), corosync runs on
for i in 1 2 3; do
	pid=$(daemon_pid "$i")
	kill -TERM "$pid"
	must_wait 15 "node $i's coroleased exited" exited "$pid"
done
for i in 1 2 3; do start_daemon "$i" coroleased-r; done
for i in 1 2 3; do
	must_wait 60 "node $i: restarted coroleased synced, quorate, past the grace period" synced "$i"
done
say "node 1's restarted daemon: $(grep -o 'configuration ring [0-9/]*\|no member has state.*' "$CLUSTER_DIR/n1/coroleased-r.log" | head -2 | tr '\n' ';')"
new=()
for k in 1 2 3; do
	new+=("$(grant_epoch $(( (k % 3) + 1 )) b$k ep/x)")
	sleep 1.2
done
say "epochs of ep/x after the restart: ${new[*]} (largest before: $max)"
for e in "${new[@]}"; do
	for o in "${old[@]}"; do
		[[ $e == "$o" ]] && say "epoch $e of ep/x granted again after the restart (it was granted before)"
	done
done
check "every epoch of ep/x after the restart (${new[*]}) is above every epoch before it (max $max)" \
	[ "${new[0]}" -gt "$max" ]
it_pass
