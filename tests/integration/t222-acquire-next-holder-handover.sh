#!/bin/bash
# 222. (helper-105) Three `corolease acquire NAME -- CMD` on one node: A
# holds, B queues, C queues a while later.  When A's command ended, B got
# the lease, and was revoked (its command killed, exit 143) handover_timeout
# after B *began to wait*, not after its own grant: the daemon's local
# handover timer, armed for A when B queued, was not started again for B.
# Under steady contention one holder was killed every handover_timeout.
# Here (handover_timeout_ms 4000): A holds 2.5 s, B queues at once and then
# holds 2.5 s, C queues 1 s in.  Before the fix B was revoked about 4 s after
# it queued, 1.5 s into its hold; now B's command runs to its end (within
# 4 s of its grant), and C gets the lease after it.
HANDOVER_MS=4000
. "$(dirname "$0")/lib.sh"
it_init acquire-next-holder 222
it_up 1

run() {   # run TAG HOLD_S: an acquire whose command stamps its start and end
	spawn 1 "$1" "$CLI" acquire ho/x --wait 30 -- sh -c "echo \"start \$(date +%s%N)\"; sleep $2; echo \"end \$(date +%s%N)\"" >/dev/null
}
gone() { ! kill -0 "$(daemon_pid 1 "$1")" 2>/dev/null; }
run A 2.5
must_wait 10 "A holds ho/x" grep -q '^start' "$CLUSTER_DIR/n1/A.log"
run B 2.5
# local waiters are the daemon's, not in 'show': A's wrapper says it is wanted
must_wait 10 "B waits for ho/x (A is told it is wanted)" grep -q 'wanted by node 1' "$CLUSTER_DIR/n1/A.log"
sleep 1
run C 0.1
for t in A B C; do
	must_wait 30 "$t's acquire ended" gone "$t"
done
for t in A B C; do say "$t: $(tr '\n' ' ' <"$CLUSTER_DIR/n1/$t.log")"; done
check "C waited while B held the lease (B was told it is wanted)" grep -q 'wanted by node 1' "$CLUSTER_DIR/n1/B.log"
check "B's command ran to its end (not killed by the handover timer armed for A)" grep -q '^end' "$CLUSTER_DIR/n1/B.log"
check "B was not told its lease was revoked" bash -c "! grep -q 'revoked' '$CLUSTER_DIR/n1/B.log'"
bend=$(sed -n 's/^end //p' "$CLUSTER_DIR/n1/B.log")
cstart=$(sed -n 's/^start //p' "$CLUSTER_DIR/n1/C.log")
check "C ran after B (C's start ${cstart:-none} > B's end ${bend:-none})" [ "${cstart:-0}" -gt "${bend:-0}" ]
check "C ran its command" [ -n "$cstart" ]
it_pass
