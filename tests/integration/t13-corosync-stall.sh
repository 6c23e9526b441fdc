#!/bin/bash
# 13. Node 3's corosync stalls (SIGSTOP) while its coroleased runs, for about
# token + consensus: exactly until the majority has formed a ring without it,
# then SIGCONT (issue 7, finding 5).  Node 3's client A holds two names that
# node 1's client W waits for; during the stall node 3's client B asks for
# three free names, which node 1's client C asks for too, so the acquires
# coroleased handed to the stalled corosync may come back as deliveries of
# the dead ring.  Shown:
# - no name is ever usable (cl-valid: lease_valid() == 1) on node 3 and on
#   node 1 at once, and the majority's epochs are above node 3's;
# - node 3's validity is not renewed by deliveries after the stall: every
#   deadline its coroleased announces ("validity until ...", debug log) from
#   the stall until it is back in a ring with the others is at most the
#   stall's start + validity;
# - the majority gets node 3's names, and the states converge.
# Before that: coroleased refuses a validity_ms above corosync's token
# timeout, naming both.
. "$(dirname "$0")/lib.sh"
it_init corosync-stall 23
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
# W must not take A's names by a handover before the stall
EXTRA_DAEMON_OPTS=(-o handover_timeout_ms=60000)
it_up 3 3

# ---- validity_ms is bounded by the token timeout
out=$("$CLUSTER_SH" exec 3 timeout 30 "$DAEMON" -f -l stderr -c /dev/null "${DAEMON_OPTS[@]}" \
	-o validity_ms=$((TOKEN + 500)) 2>&1); rc=$?
check "coroleased with validity_ms=$((TOKEN + 500)) > token $TOKEN exits 1 (got $rc)" [ $rc = 1 ]
check "... naming both values: $(grep -o 'validity_ms ([0-9]*) exceeds.*ms, runtime.config.totem.token)' <<<"$out")" \
	grep -q "validity_ms ($((TOKEN + 500))) exceeds corosync's token timeout ($TOKEN ms" <<<"$out"
start_daemon 3
must_wait 30 "node 3: coroleased synced, quorate, past the grace period" synced 3

# ---- A on node 3 holds stall/a1 and stall/a2; W on node 1 waits for them
holder_and_waiter 3 1 stall/a1 stall/a2
LOG1=$CLUSTER_DIR/n1/coroleased.log
LOG3=$CLUSTER_DIR/n3/coroleased.log
mark1=$(wc -l <"$LOG1")
mark=$(wc -l <"$LOG3")

# ---- the stall
out=$(cluster pause 3) || fail "pause"
ok "$out"
tp_ns=$(awk '{print $NF}' <<<"$out" | tr -d .)
tp_ns=${tp_ns:0:19}
tp=${tp_ns:0:13}
spawn 3 b "$CL_VALID" -w stall/b1 stall/b2 stall/b3 >/dev/null
must_wait 5 "node 3's client B connected (its acquires go to the stalled corosync)" grep -q '^clock' "$CLUSTER_DIR/n3/b.log"
spawn 1 c "$CL_VALID" -w stall/b1 stall/b2 stall/b3 >/dev/null
must_wait 20 "the majority formed a ring without node 3" \
	bash -c "tail -n +$((mark1 + 1)) '$LOG1' | grep -q 'totem confchg: .*, 2 nodes'"
out=$(cluster resume 3) || fail "resume"
ok "$out"
t_resume=$(awk '{print $NF}' <<<"$out" | tr -d . | cut -c1-13)
say "node 3's corosync was stopped for $((t_resume - tp)) ms (token $TOKEN ms, consensus $((TOKEN * 12 / 10)) ms)"

# ---- the majority gets every name; node 3 comes back
must_wait 30 "node 1's client C may use stall/b1..b3" \
	bash -c "for n in b1 b2 b3; do grep -q \"^valid stall/\$n 1\" '$CLUSTER_DIR/n1/c.log' || exit 1; done"
must_wait 30 "node 1's client W may use stall/a1 and stall/a2" \
	bash -c "grep -q '^valid stall/a1 1' '$CLUSTER_DIR/n1/w.log' && grep -q '^valid stall/a2 1' '$CLUSTER_DIR/n1/w.log'"
read -r _ _ _ tw < <(grep '^granted stall/a1' "$CLUSTER_DIR/n1/w.log")
say "the majority granted stall/a1 $(( ${tw:0:13} - tp )) ms after the stall began (fence delay $FENCE_MS ms)"
must_wait 40 "node 3 synced and quorate in a ring with the others" \
	bash -c "j=\$('$CLUSTER_SH' exec 3 '$CLI' --json status) && grep -q '\"synced\":true' <<<\"\$j\" && grep -q '\"quorate\":true' <<<\"\$j\" && [ \$(grep -o '\"node\":[0-9]*,\"holds\"' <<<\"\$j\" | wc -l) = 3 ]"
say "node 3's client A: $(grep -E '^(revoked|valid)' "$CLUSTER_DIR/n3/a.log" | tr '\n' ';')"
say "node 3's client B: $(grep -vE '^clock' "$CLUSTER_DIR/n3/b.log" | tr '\n' ';')"

# ---- no name usable on both sides at once; epochs only grow
ov=$(valid_overlaps 3:"$CLUSTER_DIR/n3/a.log" 3:"$CLUSTER_DIR/n3/b.log" \
	1:"$CLUSTER_DIR/n1/w.log" 1:"$CLUSTER_DIR/n1/c.log")
check "no name was usable on node 3 and node 1 at once${ov:+: $ov}" [ -z "$ov" ]
grants=$(for f in n3/a n3/b n1/w n1/c; do
	awk -v who="${f%%/*}" '$1 == "granted" { print $2, $4, $3, who }' "$CLUSTER_DIR/$f.log"
done | sort -k1,1 -k2,2n)
say "grants (name, time, epoch, node): $(tr '\n' ';' <<<"$grants")"
bad=$(awk '$1 == name && $3 <= epoch { print } { name = $1; epoch = $3 }' <<<"$grants")
check "per name, every grant has a higher epoch than the one before it${bad:+: $bad}" [ -z "$bad" ]
nb=$(grep -c '^granted' "$CLUSTER_DIR/n3/b.log")
nbv=$(grep -c '^valid' "$CLUSTER_DIR/n3/b.log")
say "node 3 granted its client B $nb of the names it asked for during the stall; B saw $nbv lease_valid() changes"

# ---- node 3's validity was not renewed by deliveries after the stall
# The deadlines are the daemon's clock (CLOCK_BOOTTIME microseconds); A's "clock" line maps them
# to CLOCK_REALTIME.
tp_boot=$(( (tp_ns / 1000) - (real0 / 1000 - boot0) ))
bound=$((tp_boot + VALIDITY_MS * 1000))
check "node 3's log shows the ring with all 3 nodes again" grep -q "totem confchg: .* 3 nodes" <(tail -n +"$((mark + 1))" "$LOG3")
deadlines_within "$LOG3" "$mark" "$bound" "the stall"

quiesce
must_wait 120 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
