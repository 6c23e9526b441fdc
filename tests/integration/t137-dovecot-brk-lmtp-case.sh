#!/bin/bash
# 137. BREAK ATTEMPT (not in TESTS; PASSED on 89da8cc, kept as a record): lease-name aliasing by case.  IMAP
# logins are lowercased by auth_username_format (%Lu); does an LMTP RCPT
# TO:<U1> take user/u1 (and wait for node 1's session), or another name?
# u1's session on node 1 has INBOX selected; an LMTP delivery to "U1"
# goes in on node 2.  With mail_location %Ln (lowercased, a common
# layout), a user lease "user/U1" would be a second lease on u1's store.
# Seen: the LMTP process is lmtp(u1), it takes user/u1 (node 1's session
# ends first) and saves to /run/cl-mail/u1: no alias.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk-lmtp-case 137
for i in 1 2; do
	sed -i 's|^mail_location = .*|mail_location = maildir:/run/cl-mail/%Ln/Maildir|' "$CLUSTER_DIR/n$i/dovecot.conf"
	kill -HUP "$(daemon_pid "$i" dovecot)"
done
sleep 3
S1=$CLUSTER_DIR/n1/s1.log
printf '%s\n' 'SELECT INBOX' 'REPEAT 300 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u1's session on node 1 selected INBOX" grep -q 'took .* t1$' "$S1"
out=$(cluster exec 1 python3 "$DV_LOAD" lmtp --hosts "$CLUSTER_SUBNET.2" --users U1 --out "$CLUSTER_DIR/lm"); rc=$?
say "LMTP to U1 through node 2: rc $rc: $out"
grep -h 'lmtp(' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep -E 'corolease|saved' | head -n 6
say "node 1's session: $(grep -cE 'BYE|EOF' "$S1") BYE/EOF lines"
say "stores: $(ls "$DV_STORE" | tr '\n' ' ')"
cl 3 list | grep -i 'user/u1' | cut -c1-100
check "the delivery to U1 did not take a lease other than user/u1" \
	bash -c "! grep -q 'user/U1 held' '$CLUSTER_DIR/n2/dovecot-mail.log'"
it_pass
