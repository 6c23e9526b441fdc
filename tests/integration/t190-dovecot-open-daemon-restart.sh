#!/bin/bash
# 190. helper-93: with corolease_fail_mode = open, a coroleased killed and
# restarted within the second after an unanswered question let a take skip
# its question on the lost connection and serve u1 without the lease while
# node 2 held u1 and node 1's new daemon was synced and answering (3 of 3
# runs on 0ad617b; cb2eb5d did the same).  Node 1's LMTP process keeps one
# connection: a refused take of z1 (held on node 2) leaves it connected with
# no lease; then its daemon is stopped, x1 and x2 are delivered (a bound,
# then an unanswered question), the daemon is SIGKILLed and started
# again, and u1 is delivered in the same LMTP session at once: it must go
# through the new daemon (user/u1 held on node 1, node 2's session handing
# it over), not be served without the lease.
DV_FAIL_MODE=open
DV_USER_WAIT=1s
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
dv_start dovecot-open-daemon-restart 190
LOG=$CLUSTER_DIR/n1/dovecot-mail.log
# user leases only on node 1: a delivery then makes one take a recipient,
# so x1,x2 end right after x2's unanswered question, and u1 comes well
# inside the second after it (with mailbox leases a recipient's dozen
# takes put a random part of that second between them)
sed -i 's/corolease_mailbox_lease = yes/corolease_mailbox_lease = no/' "$CLUSTER_DIR/n1/dovecot.conf"
kill -HUP "$(daemon_pid 1 dovecot)"
must_wait 20 "node 1's Dovecot reloaded its configuration" grep -q "SIGHUP received" "$LOG"
must_wait 10 "LMTP delivers to w0 after the reload" dv_deliver 1 w0
spawn 2 hz "$CL_VALID" user/z1 >/dev/null
must_wait 20 "node 2 holds user/z1" grep -q "^granted user/z1 " "$CLUSTER_DIR/n2/hz.log"
printf '%s\n' 'SELECT INBOX' 'IDLE 120' 'NOOP' >"$CLUSTER_DIR/s2.txt"
spawn 2 s2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u1 "$CLUSTER_DIR/s2.txt" >/dev/null
must_wait 20 "u1's session on node 2 selected INBOX" grep -q 'took .* t1$' "$CLUSTER_DIR/n2/s2.log"
O=$CLUSTER_DIR/steps.out
cluster exec 1 python3 "$DV_LMTP" "$CLUSTER_SUBNET.1" z1 "wait:$CLUSTER_DIR/go1" x1,x2 "wait:$CLUSTER_DIR/go2" u1 >"$O" 2>&1 &
lp=$!
must_wait 30 "z1 refused on node 1 (node 2 holds it)" grep -qE '^(REPLY|DATA|RCPT) z1 [45]' "$O"
mark=$(wc -l <"$LOG")
dv_stop_daemon 1
touch "$CLUSTER_DIR/go1"
must_wait 60 "x1 and x2 answered" grep -qE '^(REPLY x2|DATA x1,x2) ' "$O"
kill -KILL "$dpid"
DV_STOPPED=
start_daemon 1
must_wait 30 "node 1's new coroleased synced" synced 1
touch "$CLUSTER_DIR/go2"
wait "$lp"
cat "$O"
tail -n +$((mark + 1)) "$LOG" | grep -E 'corolease:' | cut -c1-200
if tail -n +$((mark + 1)) "$LOG" | grep -q 'user/u1: .*serving without the lease'; then
	fail "u1 was served without the lease while node 1's new coroleased answered and node 2 held u1"
fi
grep -q '^REPLY u1 250' "$O" || fail "u1 was not delivered on node 1"
check "node 1 took user/u1 from its new coroleased" bash -c "tail -n +$((mark + 1)) '$LOG' | grep -q 'user/u1 held'"
must_wait 10 "node 2's u1 session ended (it handed user/u1 over)" grep -qE 'BYE|EOF' "$CLUSTER_DIR/n2/s2.log"
it_pass
