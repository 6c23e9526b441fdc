#!/bin/bash
# 12. A two-node cluster (cluster.sh sets votequorum two_node: 1) splits: both
# halves stay quorate.  Neither side frees the other's holds or grants
# anything (acquires answer EFENCING, WAIT acquires stay queued) for well
# past the fence delay, and the daemons log the fence-ack hint.  Before the
# split, fence-ack of the live node 2 is refused, saying what --force does,
# and --force frees none of its live holds.  'corolease fence-ack 2' on node 1
# then frees node 2's holds there and grants resume on node 1 (node 2 keeps
# waiting for its own fence-ack).  After the heal the states converge.  No
# name is ever usable (cl-valid: lease_valid() == 1) on both nodes at once.
. "$(dirname "$0")/lib.sh"
it_init two-node-split 22
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
it_up 2
for i in 1 2; do
	must_wait 10 "node $i: coroleased knows votequorum runs two_node" \
		grep -q "votequorum mode: two_node" "$CLUSTER_DIR/n$i/coroleased.log"
	check "node $i: status says split_quorum" [ "$(st "$i" .split_quorum)" = true ]
done

spawn 1 a "$CL_VALID" split/a >/dev/null
spawn 2 b "$CL_VALID" split/b >/dev/null
must_wait 10 "node 1's client holds split/a" grep -q '^valid split/a 1' "$CLUSTER_DIR/n1/a.log"
must_wait 10 "node 2's client holds split/b" grep -q '^valid split/b 1' "$CLUSTER_DIR/n2/b.log"
read -r _ _ eb _ < <(grep '^granted split/b' "$CLUSTER_DIR/n2/b.log")

# ---- fence-ack of a live member
cl 1 fence-ack 2 >"$CLUSTER_DIR/fa-live.out" 2>&1; rc=$?
check "fence-ack of the live node 2 is refused (exit $rc, want 6)" [ $rc = 6 ]
check "... with ENODEALIVE" grep -q ENODEALIVE "$CLUSTER_DIR/fa-live.out"
check "... saying what --force does: $(tail -1 "$CLUSTER_DIR/fa-live.out")" \
	grep -q -- "--force acknowledges it anyway" "$CLUSTER_DIR/fa-live.out"
out=$(cl 1 fence-ack --force 2) || fail "fence-ack --force 2 failed"
check "fence-ack --force of the live node 2 frees none of its live holds: '$out'" \
	[ "$out" = "node 2: recovered 0 leases" ]
check "node 1 still shows node 2 holding split/b live (epoch $eb)" \
	[ "$(holders 1 split/b)" = "2 $eb false" ]
check "node 2's client still may use split/b" bash -c "! grep -q '^valid split/b 0' '$CLUSTER_DIR/n2/b.log'"

# ---- the split
out=$(cluster partition 2) || fail "partition"
ok "$out"
tp=$(awk '{print $NF}' <<<"$out" | tr -d . | cut -c1-13)
for i in 1 2; do
	must_wait 20 "node $i: alone, quorate, awaiting fence-ack of the other" \
		bash -c "j=\$('$CLUSTER_SH' exec $i '$CLI' --json status) && grep -q '\"quorate\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":1' <<<\"\$j\""
done
# each side waits for the other, from now on, in the background too
spawn 1 wb "$CL_VALID" -w split/b >/dev/null
spawn 2 wa "$CL_VALID" -w split/a >/dev/null

# nothing is freed or granted, up to the hint (logged at the fence delay) and a fence delay beyond
side_waits() { # I OTHER OTHERS_NAME
	local i=$1 o=$2 name=$3 h rc
	h=$(holders "$i" "$name") || fail "show $name on node $i"
	[[ $h == "$o "*" true" ]] || fail "node $i: $name should stay held by the departed node $o (orphaned): '$h'"
	cl "$i" acquire "split/new$i" -- true 2>"$CLUSTER_DIR/acq$i.err"; rc=$?
	[[ $rc == 6 ]] && grep -q EFENCING "$CLUSTER_DIR/acq$i.err" ||
		fail "node $i: a new acquire should fail with EFENCING (exit $rc: $(cat "$CLUSTER_DIR/acq$i.err"))"
	! grep -q '^granted' "$CLUSTER_DIR/n$i/w${name#split/}.log" ||
		fail "node $i granted $name to its waiter during the split"
}
for i in 1 2; do
	o=$((3 - i))
	must_wait $((FENCE_MS / 1000 + 20)) "node $i logs the fence-ack hint for node $o" \
		grep -q "node $o left .* only 'corolease fence-ack $o'" "$CLUSTER_DIR/n$i/coroleased.log"
done
t_hint=$(now_ms)
say "both hints logged $((t_hint - tp)) ms after the partition (fence delay $FENCE_MS ms)"
n=0
while (( $(now_ms) < t_hint + FENCE_MS )); do
	side_waits 1 2 split/b
	side_waits 2 1 split/a
	n=$((n + 1))
done
ok "for $(( $(now_ms) - tp )) ms after the partition ($n rounds on both sides): each side shows the other's hold orphaned, refuses new acquires with EFENCING and grants its waiter nothing"
cl 1 acquire split/b --wait 1 -- true 2>"$CLUSTER_DIR/wait1.err"; rc=$?
check "a WAIT acquire on node 1 stays queued and times out (exit $rc: $(cat "$CLUSTER_DIR/wait1.err"))" [ $rc = 1 ]
for i in 1 2; do
	check "node $i's client was revoked when validity lapsed during failure detection" \
		grep -q "^revoked" "$CLUSTER_DIR/n$i/$([ $i = 1 ] && echo a || echo b).log"
done

# ---- fence-ack on node 1
out=$(cl 1 fence-ack 2) || fail "fence-ack 2 on node 1"
ok "node 1: 'corolease fence-ack 2': $out"
check "it recovered node 2's hold of split/b" [ "$out" = "node 2: recovered 1 lease" ]
must_wait 10 "node 1's waiter is granted split/b" grep -q '^valid split/b 1' "$CLUSTER_DIR/n1/wb.log"
cl 1 acquire split/new1 -- true; rc=$?
check "node 1 grants new acquires again (exit $rc)" [ $rc = 0 ]
check "node 1 awaits no fence-ack" [ "$(st 1 .awaiting_fence_ack)" = 0 ]
side_waits 2 1 split/a
ok "node 2 still waits for its own fence-ack of node 1"

# ---- heal
ok "$(cluster heal 2)"
for i in 1 2; do
	must_wait 40 "node $i: synced, quorate, with 2 members, awaiting no fence-ack" \
		bash -c "j=\$('$CLUSTER_SH' exec $i '$CLI' --json status) && grep -q '\"synced\":true' <<<\"\$j\" && grep -q '\"quorate\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":0' <<<\"\$j\" && [ \$(grep -o '\"node\":[0-9]*,\"holds\"' <<<\"\$j\" | wc -l) = 2 ]"
done
h=$(holders 2 split/b)
say "after the heal, split/b on node 2: $(tr '\n' ';' <<<"$h")"
quiesce
must_wait 120 "state hashes equal on nodes 1 and 2" hashes_equal 1 2
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 1:"$CLUSTER_DIR/n1/wb.log" \
	2:"$CLUSTER_DIR/n2/b.log" 2:"$CLUSTER_DIR/n2/wa.log")
check "no name was usable on both nodes at once${ov:+: $ov}" [ -z "$ov" ]
it_pass
