#!/bin/bash
# 2. Three nodes: node 1 holds NAME (corolease acquire NAME -- sleep 1000);
# NOWAIT from node 2 exits 1 naming owner 1; WAIT from node 2 is granted once
# node 1's command ends (CLI releases), with a larger epoch.
# The handover timeout is long here: with the suite's 2 s, node 1's command
# is revoked 2 s after node 2 asks, and on a loaded machine the checks below
# (each a process in the node's namespace) can miss the queued waiter.
HANDOVER_MS=60000
. "$(dirname "$0")/lib.sh"
it_init contention 12
it_up 3

N=it/contended
spawn 1 holder "$CLI" acquire "$N" -- sh -c 'echo "epoch $COROLEASE_EPOCH"; exec sleep 1000' >/dev/null
must_wait 10 "node 1 holds $N (owner seen from node 2)" bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner $N)\" = 1 ]"
e1=$(awk '/^epoch/{print $2}' "$CLUSTER_DIR/n1/holder.log")
check "node 1's command got epoch '$e1'" [ -n "$e1" ]

out=$(cl 2 acquire "$N" -- true 2>&1); rc=$?
check "NOWAIT from node 2 exits 1 (got $rc: $out)" [ $rc = 1 ]
check "NOWAIT message names owner node 1" grep -q 'node 1' <<<"$out"

spawn 2 waiter "$CLI" acquire "$N" --wait 30 -- sh -c 'echo "epoch $COROLEASE_EPOCH"' >/dev/null
must_wait 10 "node 2's WAIT is queued (show lists node 2 as waiter)" \
	bash -c "'$CLUSTER_SH' exec 1 '$CLI' --json show $N | grep -q '\"waiters\":\[{\"node\":2'"
check "node 2 not granted while node 1 holds" bash -c "! grep -q '^epoch' '$CLUSTER_DIR/n2/waiter.log'"

# end node 1's command: kill the sleep (CMD: as root the child of the init of
# its pid namespace, itself the CLI's child), the CLI then releases
hpid=$(daemon_pid 1 holder)
t0=$(now_ms)
pkill -TERM -P "$hpid,$(pgrep -d, -P "$hpid")" sleep || fail "no sleep under holder pid $hpid"
must_wait 10 "node 2 granted after node 1's command ended" grep -q '^epoch' "$CLUSTER_DIR/n2/waiter.log"
say "handover took $(( $(now_ms) - t0 )) ms"
e2=$(awk '/^epoch/{print $2}' "$CLUSTER_DIR/n2/waiter.log")
check "node 2's epoch $e2 > node 1's epoch $e1" [ "$e2" -gt "$e1" ]
must_wait 5 "node 1's holder CLI exited" exited "$hpid"
must_wait 5 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
