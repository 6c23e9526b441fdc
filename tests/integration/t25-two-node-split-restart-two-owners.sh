#!/bin/bash
# t25 (breaker's t43). Two owners in a two-node cluster (votequorum two_node), with
# no fence-ack given.  Node 2 holds two/y lingering (linger_ms 8000: its
# client released it, the node keeps it for the fast path) when node 1 is
# cut off.  A lingering hold has no client, so the validity lapse during
# failure detection does not revoke it; once node 2 is alone and quorate
# again it renews, and a new client on node 2 gets two/y at once from the
# linger (no message).  Meanwhile node 1's coroleased is killed and
# restarted (crash + systemd): alone in its CPG group with no member having
# state, it starts an empty lineage, votequorum says quorate (two_node), and
# after the grace period it grants two/y to its own client.
# Expected: no name usable (cl-valid: lease_valid() == 1) on both nodes at once.
# Seen (s7-break, 1 run): holds up -- node 2's new client is refused with
# EFENCING (the lingering hold is not used while node 1 is unfenced); node 1
# grants two/y at 13<<32 + 1 in its fresh lineage; no overlap.  Since
# fresh state in a split-capable mode with nodes missing stays in grace
# (t24), node 1 grants nothing until the heal; after it, node 1's waiting
# client gets two/y once node 2's client is gone.
. "$(dirname "$0")/lib.sh"
it_init two-node-owners 28
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
EXTRA_DAEMON_OPTS=(-o linger_ms=8000)
it_up 2
for i in 1 2; do
	must_wait 10 "node $i: coroleased knows votequorum runs two_node" \
		grep -q "votequorum mode: two_node" "$CLUSTER_DIR/n$i/coroleased.log"
done

cl 2 acquire two/y -- true || fail "node 2 cannot take two/y"
ok "node 2 took and released two/y (it lingers on node 2 for 8 s)"
ok "$(cluster partition 1)"
out=$("$CL_VALID" -K "$(daemon_pid 1)") || fail "cl-valid -K"
ok "node 1's coroleased: $out"
start_daemon 1 coroleased-r
must_wait 20 "node 2: alone, quorate, awaiting fence-ack of node 1" \
	bash -c "j=\$('$CLUSTER_SH' exec 2 '$CLI' --json status) && grep -q '\"quorate\":true' <<<\"\$j\" && grep -q '\"awaiting_fence_ack\":1' <<<\"\$j\""
spawn 2 b "$CL_VALID" two/y >/dev/null
must_wait 10 "node 2's new client: granted two/y or failed" grep -q '^granted\|^failed' "$CLUSTER_DIR/n2/b.log"
say "node 2's client: $(grep -m1 '^granted\|^failed' "$CLUSTER_DIR/n2/b.log")"
must_wait 30 "node 1: restarted coroleased synced and quorate" in_grace 1
say "node 1's restarted daemon: $(grep -o 'no member has state.*' "$CLUSTER_DIR/n1/coroleased-r.log" | head -1)"
spawn 1 a "$CL_VALID" -w two/y >/dev/null
sleep 12   # longer than fence_delay
check "node 1's fresh state is still in grace while node 2 is missing" in_grace 1
check "node 1's waiting client got nothing during the split" bash -c "! grep -q '^granted' '$CLUSTER_DIR/n1/a.log'"
say "node 2's client now: $(tail -1 "$CLUSTER_DIR/n2/b.log")"
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n2/b.pid")" 2>/dev/null
ok "$(cluster heal 1)"
for i in 1 2; do must_wait 30 "node $i synced after the heal" synced "$i"; done
must_wait 30 "node 1's waiting client gets two/y after the heal" grep -q '^granted' "$CLUSTER_DIR/n1/a.log"
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n1/a.pid")" 2>/dev/null
sleep 1
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 2:"$CLUSTER_DIR/n2/b.log")
[[ -z $ov ]] || say "OVERLAP: $ov"
check "no name usable on both nodes at once" [ -z "$ov" ]
it_pass
