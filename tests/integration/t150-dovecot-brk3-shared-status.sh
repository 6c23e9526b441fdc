#!/bin/bash
# 150. (breaker 3) STATUS of another user's shared mailbox refreshes (and
# syncs) that user's mailbox list index with no store lease.
# 8e63ac0 puts every *iteration* of a store's list under the store lease,
# but the list index is also refreshed outside an iteration: STATUS of a
# mailbox answers from the list index (index_list_get_status ->
# index_list_open_view -> mailbox_list_index_refresh), and the refresh
# syncs (writes dovecot.list.index.log / dovecot.list.index) when the
# index is flagged for refresh (a CREATE/DELETE by the owner flags it) or
# not yet read by the process.  Neither opens the mailbox, so neither takes
# u1's store lease.
# Here: u1 works on node 1 in ONE long session (holding its store lease for
# the whole run: CREATE/DELETE/APPEND in a loop), while u2 on node 2 STATUSes
# shared.u1.Work in a loop.  Check: u2's process writes none of u1's
# dovecot.list.index* while u1's session lives (strace), and no
# Corrupted/fscking/Panic line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk3-shared-status 150
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
SECS=${T150_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Other' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work and Other" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t2 OK' '$CLUSTER_DIR/s0.log'"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'STATUS shared.u1.Work (MESSAGES UIDNEXT UNSEEN)' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t3 OK' >/dev/null"
before=$(dv_corruption)
n=$((SECS * 10))
# u1 on node 1: session after session (a session ends when node 2 takes
# u1's store), each holding u1's store lease while it works
cat >"$CLUSTER_DIR/u1-loop.sh" <<EOS
#!/bin/bash
while [ ! -e '$CLUSTER_DIR/stop' ]; do
	printf '%s\\n' 'SELECT Other' "REPEAT $n CREATE Tx ; APPEND Other ; DELETE Tx ; SLEEP 0.05" >'$CLUSTER_DIR/a.txt'
	python3 '$DV_SCRIPT' '$CLUSTER_SUBNET.1' u1 '$CLUSTER_DIR/a.txt'
done
EOS
chmod +x "$CLUSTER_DIR/u1-loop.sh"
# u2 on node 2: STATUS of u1's Work (no SELECT, no LIST)
# (T150_MODE=notify: instead, NOTIFY on u1's shared mailboxes and IDLE,
# the list index refreshed from a timer, no command at all)
if [[ ${T150_MODE:-status} == notify ]]; then
	printf '%s\n' 'STATUS shared.u1.Work (MESSAGES)' "WAIT $CLUSTER_DIR/go" \
		'NOTIFY SET STATUS (subtree (shared.u1) (MessageNew MessageExpunge MailboxName SubscriptionChange))' \
		"IDLE $SECS" 'NOOP' >"$CLUSTER_DIR/b.txt"
else
	printf '%s\n' "WAIT $CLUSTER_DIR/go" "REPEAT $((n * 2)) STATUS shared.u1.Work (MESSAGES UIDNEXT UNSEEN) ; SLEEP 0.03" >"$CLUSTER_DIR/b.txt"
fi
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
spawn 1 sa "$CLUSTER_DIR/u1-loop.sh" >/dev/null
must_wait 30 "u1 works on node 1" grep -q 'OK Create' "$SA"
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 logged in on node 2" bash -c "grep -q 'imap(u2)<' '$CLUSTER_DIR/n2/dovecot-mail.log' && sleep 1"
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -s 200 -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
must_wait $((SECS * 4 + 30)) "u2's STATUS loop on node 2 ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
touch "$CLUSTER_DIR/stop"
wait_until 30 bash -c "! pgrep -f 'u1-loo[p].sh' >/dev/null" || true
kill "$st2" 2>/dev/null; wait "$st2" 2>/dev/null
# node 2's writes to u1's list index while node 2 does not hold u1's store
# lease (its own log lines "corolease: store//... held/released", written by
# the same process, are in the strace too, in order)
awk '/corolease: store\/\/run\/cl-mail\/u1\/Maildir held/ { h = 1; next }
     /corolease: store\/\/run\/cl-mail\/u1\/Maildir released/ { h = 0; next }
     /^[0-9:.]+ (write|pwrite64|ftruncate)\([0-9]+<\/run\/cl-mail\/u1\/Maildir\/dovecot.list.index|^[0-9:.]+ rename\("\/run\/cl-mail\/u1\/Maildir\/dovecot.list.index/ {
	     if (h) print "held " $0; else print "FREE " $0 }' \
	"$CLUSTER_DIR/st2.log" >"$CLUSTER_DIR/w2.log"
nheld=$(grep -c 'corolease: store//run/cl-mail/u1/Maildir held' "$CLUSTER_DIR/st2.log" || true)
w2all=$(wc -l <"$CLUSTER_DIR/w2.log")
w2=$(grep -c '^FREE' "$CLUSTER_DIR/w2.log" || true)
s1=$(grep -c 'S: t1 ' "$SA" || true) e1=$(grep -c 'wants the mail store' "$SA" || true)
s2=$(grep -cE 'S: t[0-9]* OK (Status|NOTIFY|Idle)' "$SB" || true) c1=$(grep -c 'OK Create' "$SA" || true)
say "u1 on node 1: $s1 sessions, CREATE OK $c1, $e1 ended for node 2; u2 on node 2 (pid $p2): STATUS/NOTIFY/IDLE OK $s2, $(grep -c 'S: \* ' "$SB" || true) untagged, u1's store lease taken $nheld times, $w2all writes to u1's dovecot.list.index*, $w2 of them without the lease"
grep '^FREE' "$CLUSTER_DIR/w2.log" | head -n 6 | cut -c1-130
grep -h 'corolease' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | grep -v 'held\|released' | tail -n 6
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 8
check "u2's STATUS on node 2 wrote none of u1's list index without u1's store lease ($w2 writes)" [ "$w2" = 0 ]
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
