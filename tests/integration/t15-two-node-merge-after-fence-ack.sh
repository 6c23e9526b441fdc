#!/bin/bash
# 15. A two_node split where only one side is fence-acked.  Node 1
# fence-acks node 2, then grants split/x and acknowledges an index write
# under it; node 2 granted nothing (it waits for its own fence-ack).  After
# the heal the merge must keep node 1's state, the only side that made
# progress: the acknowledged write survives, and the next grant of split/x
# has a higher epoch.
#
# Both sides' rings have the same seq after the split.  Once, both began a
# term there and the tie went to the higher ring representative, node 2:
# node 1's acknowledged write was lost and split/x was granted again with
# node 1's epoch.  Now a term begins only when the side may grant (after the
# fence-ack), and a merge of different terms starts a new one
# (doc/state-machine.md, "Terms and the merge winner").
. "$(dirname "$0")/lib.sh"
# until the safety assertions at the end, a failure is a hard error (99), not
# the expected failure
fail() { echo "[$IT_NAME $(ts)] ERROR: $*" >&2; exit 99; }
it_init two-node-merge 25
it_up 2
cl 1 index put split/x k v0 || fail "index put split/x k v0"
ok "$(cluster partition 2)"
for i in 1 2; do
	must_wait 20 "node $i: alone, quorate, awaiting fence-ack of the other" \
		bash -c "j=\$('$CLUSTER_SH' exec $i '$CLI' --json status) && grep -q '\"quorate\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":1' <<<\"\$j\""
done
ok "node 1: $(cl 1 fence-ack 2)"
e1=$(cl 1 acquire split/x -- sh -c 'echo $COROLEASE_EPOCH') || fail "acquire split/x on node 1"
ok "node 1 granted split/x at epoch $e1"
cl 1 index put split/x k v1 || fail "index put split/x k v1 on node 1"
check "node 1 acknowledged v1 and reads it back" [ "$(cl 1 index get --sync split/x k)" = v1 ]
say "terms: node 1 $(st 1 .term.rep)/$(st 1 .term.seq) lsn $(st 1 .lsn); node 2 $(st 2 .term.rep)/$(st 2 .term.seq) lsn $(st 2 .lsn)"
ok "$(cluster heal 2)"
for i in 1 2; do
	must_wait 40 "node $i: synced with 2 members, awaiting no fence-ack" \
		bash -c "j=\$('$CLUSTER_SH' exec $i '$CLI' --json status) && grep -q '\"synced\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":0' <<<\"\$j\" && [ \$(grep -o '\"node\":[0-9]*,\"holds\"' <<<\"\$j\" | wc -l) = 2 ]"
done
e2=$(cl 2 acquire split/x -- sh -c 'echo $COROLEASE_EPOCH') || fail "acquire split/x on node 2"
v1=$(cl 1 index get --sync split/x k 2>&1)
v2=$(cl 2 index get --sync split/x k 2>&1)
say "after the heal: node 1 reads '$v1', node 2 reads '$v2'; node 2 grants split/x at epoch $e2"
fail() { echo "[$IT_NAME $(ts)] FAIL: $*" >&2; exit 1; }
check "the next grant of split/x ($e2) has a higher epoch than node 1's during the split ($e1)" [ "$e2" -gt "$e1" ]
check "node 1's acknowledged write survives the merge: node 1 reads it ('$v1')" [ "$v1" = v1 ]
check "and node 2 reads it ('$v2')" [ "$v2" = v1 ]
it_pass
