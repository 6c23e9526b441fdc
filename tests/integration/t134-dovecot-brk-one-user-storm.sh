#!/bin/bash
# 134. BREAK ATTEMPT (not in TESTS; PASSED on 89da8cc, kept as a record): many concurrent sessions of ONE user on
# two nodes, with LMTP deliveries to that user on both nodes at once.
# t91 spreads 12 workers over three users and three nodes; here 16 IMAP
# workers (APPEND, STORE, FETCH, EXPUNGE of their own victims) all log in
# as u1, on node 1 or node 2 at random, and two LMTP loops deliver to u1
# through node 1 and node 2.  Every login or delivery on the node that
# does not hold user/u1 moves the user.  Promise (README): never two
# writers; t91's criterion: every APPEND answered OK and every delivery
# answered OK present exactly once, unique UIDs, the same list on every
# node, no Corrupted/fscking/Panic and no Fatal line.
# Seen on 89da8cc: PASS; "load: appended 25 failed_logins 0 no 0 bye 1014
# ops 86" in 40 s with 16 workers, 36 LMTP deliveries, 1016 "node N
# wants" session ends: safe, but the user ping-pongs (about 2 operations
# a second for 16 clients) without routing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
DV_USERS=u1
dv_start dovecot-brk-one-user-storm 134
SECS=${T134_SECS:-40}
H12="$CLUSTER_SUBNET.1,$CLUSTER_SUBNET.2"
LM=$CLUSTER_DIR/lmtp-appended
: >"$LM.1"; : >"$LM.2"
for i in 1 2; do
	spawn 1 lmtp$i bash -c "end=\$((SECONDS + $SECS)); while ((SECONDS < end)); do
		python3 '$DV_LOAD' lmtp --hosts $CLUSTER_SUBNET.$i --users u1 --out '$LM.$i' || echo 'lmtp failed'; done" >/dev/null
done
summary=$(cluster exec 1 python3 "$DV_LOAD" load --hosts "$H12" --users u1 \
	--seconds "$SECS" --workers 16 --out "$CLUSTER_DIR/appended") || fail "the load client failed: $summary"
say "load: $summary"
sleep 5
DV_APPENDED=$CLUSTER_DIR/appended
n_lm=$(cat "$LM.1" "$LM.2" | wc -l)
say "LMTP deliveries answered OK: $n_lm (failed: $(cat "$CLUSTER_DIR"/n1/lmtp*.log | grep -c 'lmtp failed' || true))"
cat "$LM.1" "$LM.2" >>"$DV_APPENDED"
say "sessions ended for another node: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants')"
out=$(dv_check); rc=$?
echo "$out" | tail -n 15
n=$(dv_corruption)
f=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'Fatal' || true)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 8
check "every appended or delivered message present exactly once, unique UIDs, same list on every node" [ $rc = 0 ]
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
check "no Fatal line ($f)" [ "$f" = 0 ]
it_pass
