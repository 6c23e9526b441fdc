#!/bin/bash
# t34 (breaker brk7). The vote rule must wait for a member that holds enough
# votes to make a quorum without the writer and its ackers.  Votes moved at
# runtime with 'corosync-quorumtool -v' without changing the expected votes
# raise no votequorum notification, so coroleased kept an old count (it
# re-read it only in quorum_fn and expected_fn); it now also re-reads it at
# most once a second after its own message is delivered:
#   1. -v 3 -n 3: node 3 has 3 of 5 votes (expected 1->5: expected_fn, re-read)
#   2. -v 1 -n 3, then -v 3 -n 2: node 2 has 3 of 5 (expected stays 5: no
#      notification); nodes 1 and 3 must come to count that
#   3. SIGSTOP node 2's coroleased; put on node 1.  Node 1 + node 3 hold 2 of
#      5 votes, node 2 alone holds quorum (3): the put must wait for node 2.
# Fails if the put (or a sync read on node 3) is answered while node 2's
# daemon is stopped.
. "$(dirname "$0")/lib.sh"
it_init runtime-votes-stale 37
it_up 3

cl 1 index put rv/a k v0 >/dev/null || fail "put v0"
cluster exec 1 corosync-quorumtool -v 3 -n 3 >/dev/null || fail "quorumtool -v 3 -n 3"
must_wait 10 "node 1's coroleased saw expected votes 5" \
	grep -q 'expected votes now 5' "$CLUSTER_DIR/n1/coroleased.log"
sleep 1
cluster exec 1 corosync-quorumtool -v 1 -n 3 >/dev/null || fail "quorumtool -v 1 -n 3"
sleep 1
cluster exec 1 corosync-quorumtool -v 3 -n 2 >/dev/null || fail "quorumtool -v 3 -n 2"
# coroleased re-reads the count at most once a second, after its own message
# came back (lib: cld_quorum_refresh()); it logs each new count
last_count() { grep 'votequorum count:' "$CLUSTER_DIR/n$1/coroleased.log" | tail -1; }
for i in 1 3; do
	must_wait 20 "node $i's coroleased counts 3 votes for node 2" \
		bash -c "grep 'votequorum count:' '$CLUSTER_DIR/n$i/coroleased.log' | tail -1 | grep -q ' 2:3'"
	say "node $i: $(last_count $i)"
done
q=$(cluster exec 1 corosync-quorumtool -s)
say "votequorum now: $(tr -s ' \n' ' ' <<<"$q" | sed 's/.*Expected/Expected/')"
grep -Eq '^ +2 +3 node2' <<<"$q" || fail "node 2 does not hold 3 votes"
grep -Eq '^ +3 +1 node3' <<<"$q" || fail "node 3 does not hold 1 vote"

pid=$(daemon_pid 2)
kill -STOP "$pid" || fail "SIGSTOP node 2's coroleased"
trap 'rc=$?; kill -CONT "$pid" 2>/dev/null; (exit $rc); it_cleanup' EXIT
ok "node 2 (3 of 5 votes) has its coroleased stopped"
t0=$(now_ms)
if out=$(timeout 8 "$CLUSTER_SH" exec 1 "$CLI" index put rv/a k v1 2>&1); then
	fail "put on node 1 answered in $(( $(now_ms) - t0 )) ms with node 2's daemon stopped: node 1 + node 3 hold 2 of 5 votes and node 2 alone makes a quorum (3): the vote rule used a stale count ($out)"
fi
ok "the put waited while node 2 was stopped"
if got=$(timeout 5 "$CLUSTER_SH" exec 3 "$CLI" index get rv/a k --sync 2>&1); then
	fail "sync read on node 3 answered ('$got') with node 2's daemon stopped"
fi
kill -CONT "$pid"
it_pass
