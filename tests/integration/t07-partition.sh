#!/bin/bash
# 7. Partition node 3 from a 3-node cluster: node 3 revokes its clients and
# refuses grants (acquire exits 4, NOQUORUM); the majority keeps granting
# (node 3's lease after the fence delay); after heal node 3 converges.
. "$(dirname "$0")/lib.sh"
it_init partition 17
it_up 3

N=it/minority
spawn 3 holder "$CLI" acquire "$N" --kill-after 3 -- sh -c 'trap "echo got-SIGTERM \$(date +%s%N); exit 143" TERM; echo "held $COROLEASE_EPOCH"; while :; do sleep 0.05; done' >/dev/null
must_wait 10 "node 3 holds $N" grep -q '^held' "$CLUSTER_DIR/n3/holder.log"
read -r _ e3 < <(grep '^held' "$CLUSTER_DIR/n3/holder.log")

out=$(cluster partition 3) || fail "partition"
ok "$out"
tp=$(awk '{print $NF}' <<<"$out" | tr -d . | cut -c1-13)
must_wait 10 "node 3's CMD got SIGTERM (lease revoked)" grep -q '^got-SIGTERM' "$CLUSTER_DIR/n3/holder.log"
read -r _ tr < <(grep '^got-SIGTERM' "$CLUSTER_DIR/n3/holder.log")
say "node 3's CMD got SIGTERM $(( ${tr:0:13} - tp )) ms after the partition"
must_wait 10 "node 3 reports not quorate" bash -c "[ \"\$(cd / && '$CLUSTER_SH' exec 3 '$CLI' --json status | grep -o '\"quorate\":[a-z]*')\" = '\"quorate\":false' ]"
cl 3 acquire it/minority-new -- true 2>"$CLUSTER_DIR/acq3.err"; rc=$?
check "acquire on node 3 exits 4 (got $rc: $(cat "$CLUSTER_DIR/acq3.err"))" [ $rc = 4 ]
check "... with NOQUORUM" grep -q 'NOQUORUM' "$CLUSTER_DIR/acq3.err"
t0w=$(now_ms)
cl 3 acquire it/minority-new --wait 2 -- true 2>"$CLUSTER_DIR/acq3w.err"; rc=$?
tw=$(( $(now_ms) - t0w ))
# a WAIT acquire waits for quorum to come back, bounded by its --wait; at its
# end the partition is still not quorate, and it says so (exit 4, NOQUORUM)
check "WAIT acquire on node 3 exits 4 (got $rc after $tw ms: $(cat "$CLUSTER_DIR/acq3w.err"))" [ $rc = 4 ]
check "after it waited out its 2 s (got $tw ms)" [ $tw -ge 1900 ]
check "... with NOQUORUM" grep -q 'NOQUORUM' "$CLUSTER_DIR/acq3w.err"
# a fence-ack in the minority said "recovered" and exited 0 (helper-105):
# what it frees only a quorate partition may grant again
cl 3 fence-ack 1 >"$CLUSTER_DIR/fa3.out" 2>&1; rc=$?
check "fence-ack on node 3 (not quorate) exits 4 (got $rc: $(cat "$CLUSTER_DIR/fa3.out"))" [ $rc = 4 ]
check "... with NOQUORUM" grep -q 'NOQUORUM' "$CLUSTER_DIR/fa3.out"

must_wait 10 "majority: nodes 1 and 2 quorate with 2 members" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"members\":\[[^]]*\]' | grep -o node | wc -l)\" = 2 ]"
cl 1 acquire it/majority -- true; rc=$?
check "acquire on node 1 (majority) works (rc $rc)" [ $rc = 0 ]
cl 2 acquire it/majority --wait 5 -- true; rc=$?
check "acquire on node 2 (majority) works (rc $rc)" [ $rc = 0 ]
spawn 1 taker "$CLI" acquire "$N" --wait 60 -- sh -c 'echo "granted $COROLEASE_EPOCH $(date +%s%N)"; exec sleep 1000' >/dev/null
must_wait 20 "node 1 granted node 3's old lease $N" grep -q '^granted' "$CLUSTER_DIR/n1/taker.log"
read -r _ e1 tg < <(grep '^granted' "$CLUSTER_DIR/n1/taker.log")
say "node 1 granted $N (epoch $e1) $(( ${tg:0:13} - tp )) ms after the partition (fence delay $FENCE_MS ms)"
check "granted not before fence delay after the partition" [ $(( ${tg:0:13} - tp )) -ge $FENCE_MS ]
check "node 3's CMD ended before node 1's grant" [ "${tr:0:13}" -lt "${tg:0:13}" ]

ok "$(cluster heal 3)"
must_wait 30 "node 3 synced and quorate after heal" synced 3
h=$(holders 3 "$N")
if [[ -z $h ]] && grep -q "hold of '$N' revoked" "$CLUSTER_DIR/n1/coroleased.log"; then
	# node 1's own validity may lapse during the heal's sync round on a
	# loaded host (ASan, load 8; 2026-12-01: "revoked 1 local holds:
	# validity lapsed" at the heal): it revokes its client, which releases,
	# and nobody holds the name; what must not happen is node 3 showing
	# anything but node 1's grant or nothing
	say "node 1 revoked its grant of $N at the heal (validity lapsed): no holder"
	ok "node 3 shows no stale holder of $N (node 1 revoked its own grant)"
else
	check "node 3 shows node 1 (epoch $e1) as the holder of $N: '$h'" [ "$h" = "1 $e1 false" ]
fi
quiesce
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
