#!/bin/bash
# t24 (breaker's t42, fixed). A two-node cluster (votequorum two_node) splits; nobody gives
# a fence-ack.  Node 2's client keeps its lease two/y (each side stays
# quorate and keeps its existing holds usable, doc/state-machine.md
# "Split-capable quorum modes").  Then node 1's coroleased is killed and
# restarted (a crash and systemd's restart) while the split lasts.  The new
# daemon is alone in its CPG group, no member has state, so it starts an
# empty lineage; votequorum says quorate (two_node), and after the grace
# period it grants.  Expected: nothing is granted on node 1 that node 2 may
# hold until a fence-ack; no name usable on both nodes at once (cl-valid).
# Then the heal: the fresh lineage has the newer term, so it wins the merge
# and node 2's state (with an index write acknowledged before the split) is
# dropped.  Expected: no acknowledged index write lost.
#
# Seen before the fix (s7-break, 2 runs): the restarted daemon logs "no member has state:
# starting empty in ring 1/13", grants two/y at 13<<32 + 1 during the split,
# and at the heal node 2 logs "sync in ring 1/17: node 1's state wins (term
# 1/13, q_lsn 5, lsn 5)": node 2's state (term 1/9) with the acknowledged
# two/w k=v1 is dropped; 'index get two/w k' on node 2 then says ENOENT.
# The lease part holds: node 2's client was revoked at the split (validity
# lapses during failure detection) and node 2 grants nothing while it waits.
# The fix: fresh state in a split-capable quorum mode with nodes missing
# (votequorum's total votes below the highest expected) stays in grace until
# the missing nodes return or are fence-acked, and takes no term; so node 1
# grants nothing during the split and node 2's state wins the heal.
. "$(dirname "$0")/lib.sh"
it_init two-node-restart 26
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
it_up 2
for i in 1 2; do
	must_wait 10 "node $i: coroleased knows votequorum runs two_node" \
		grep -q "votequorum mode: two_node" "$CLUSTER_DIR/n$i/coroleased.log"
done

# an acknowledged index write under two/w, taken on node 2 and released
cl 2 index put two/w k v1 >"$CLUSTER_DIR/put.out" 2>&1 || fail "index put on node 2: $(cat "$CLUSTER_DIR/put.out")"
ok "node 2 wrote two/w k=v1 (acknowledged): $(cat "$CLUSTER_DIR/put.out")"
check "node 1 reads two/w k=v1" bash -c "'$CLUSTER_SH' exec 1 '$CLI' index get two/w k | grep -q v1"

spawn 2 b "$CL_VALID" two/y >/dev/null
must_wait 10 "node 2's client holds two/y" grep -q '^valid two/y 1' "$CLUSTER_DIR/n2/b.log"

ok "$(cluster partition 1)"
for i in 1 2; do
	must_wait 20 "node $i: alone, quorate, awaiting fence-ack of the other" \
		bash -c "j=\$('$CLUSTER_SH' exec $i '$CLI' --json status) && grep -q '\"quorate\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":1' <<<\"\$j\""
done
check "node 2's client still may use two/y during the split" bash -c "tail -1 '$CLUSTER_DIR/n2/b.log' | grep -qv '^valid two/y 0'"

# node 1's daemon crashes and systemd restarts it, during the split
out=$("$CL_VALID" -K "$(daemon_pid 1)") || fail "cl-valid -K"
ok "node 1's coroleased: $out"
start_daemon 1 coroleased-r
must_wait 30 "node 1: restarted coroleased synced and quorate" in_grace 1
say "node 1's restarted daemon: $(grep -o 'no member has state.*' "$CLUSTER_DIR/n1/coroleased-r.log" | head -1)"
spawn 1 a "$CL_VALID" -w two/y >/dev/null
sleep 12   # longer than fence_delay, the grace of fresh state with nobody missing
check "node 1's fresh state is still in grace while node 2 is missing" in_grace 1
check "node 1 granted nothing during the split" bash -c "! grep -q '^granted' '$CLUSTER_DIR/n1/a.log'"
say "node 1's client: $(grep -m1 '^granted\|^failed' "$CLUSTER_DIR/n1/a.log")"
say "node 2's client: $(tail -1 "$CLUSTER_DIR/n2/b.log")"
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 2:"$CLUSTER_DIR/n2/b.log")
[[ -z $ov ]] || say "OVERLAP during the split: $ov"
ov_split=$ov

ok "$(cluster heal 1)"
for i in 1 2; do must_wait 30 "node $i synced after the heal" synced "$i"; done
say "node 2 after the heal: $(grep -o "sync in ring.*wins.*\|state lost the merge.*" "$CLUSTER_DIR/n2/coroleased.log" | tail -2 | tr '\n' ';')"
got=$(cl 2 index get two/w k 2>&1)
say "node 2 reads two/w k after the heal: '$got'"
sleep 2
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n1/a.pid")" "$(awk '{print $1}' "$CLUSTER_DIR/n2/b.pid")" 2>/dev/null
sleep 1
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 2:"$CLUSTER_DIR/n2/b.log")
[[ -z $ov ]] || say "OVERLAP: $ov"
check "no name usable on both nodes at once" [ -z "$ov_split$ov" ]
check "the acknowledged write two/w k=v1 survives the heal (got '$got')" grep -q v1 <<<"$got"
it_pass
