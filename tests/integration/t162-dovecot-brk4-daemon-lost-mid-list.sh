#!/bin/bash
# 162. (breaker 4) coroleased of node 2 killed (SIGKILL) while u2's
# LIST "" "shared.u1.*" RETURN (STATUS ...) over many shared mailboxes runs
# under u1's store lease (held by the iteration).
# Check: no Panic/Fatal/signal in node 2's Dovecot log; the session ends
# (or the command fails) instead of going on; strace of u2's process: no
# write to u1's files after the plugin logged the loss of the daemon.
# Seen (10:28, 10:31; T162_DELAY 3 and 05): the validity check ended the
# session within ms ("* BYE [UNAVAILABLE] Cluster lease lost"), mid-LIST
# (112 / 12 STATUS lines of the second LIST), no Panic, no write after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk4-daemon-lost-mid-list 162
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
N=${T162_N:-150}
command -v strace >/dev/null || skip "strace is not installed"
{ for ((k = 1; k <= N; k++)); do printf 'CREATE M%03d\n' "$k"; done; } >"$CLUSTER_DIR/s0.txt"
must_wait 90 "node 1 reloaded: u1 creates $N mailboxes" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t$N OK' '$CLUSTER_DIR/s0.log'"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
for ((k = 1; k <= N; k++)); do printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.$(printf 'M%03d' "$k")/dovecot-acl"; done
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.M001' 'CLOSE' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.M001" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"
printf '%s\n' 'SELECT shared.u1.M001' 'CLOSE' 'SELECT INBOX' "WAIT $CLUSTER_DIR/go" \
	'REPEAT 400 LIST "" "shared.u1.*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))' >"$CLUSTER_DIR/b.txt"
SB=$CLUSTER_DIR/n2/sb.log
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 logged in on node 2" bash -c "grep -q 'imap(u2)<' '$CLUSTER_DIR/n2/dovecot-mail.log' && sleep 1"
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -s 200 -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
must_wait 30 "u2's first LIST answered" grep -q 'OK List' "$SB"
sleep 0.${T162_DELAY:-3}
kill -KILL "$(daemon_pid 2)"
say "node 2's coroleased killed"
must_wait 60 "u2's session on node 2 ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
sleep 1
kill "$st2" 2>/dev/null; wait "$st2" 2>/dev/null
awk '/corolease: lost the connection|corolease: .*no longer valid|revoked/ { lost = 1 }
     /^[0-9:.]+ (write|pwrite64|ftruncate)\([0-9]+<\/run\/cl-mail\/u1\// || /^[0-9:.]+ rename\("\/run\/cl-mail\/u1\// {
	     if (lost) print "AFTER " $0 }' "$CLUSTER_DIR/st2.log" >"$CLUSTER_DIR/w2.log"
after=$(wc -l <"$CLUSTER_DIR/w2.log")
say "u2: $(grep -c 'OK List' "$SB" || true) LIST OK, $(grep -c 'NO ' "$SB" || true) NO, $(grep -c 'S: \* STATUS' "$SB" || true) STATUS lines; $after writes to u1's files after the loss"
grep -E ' NO |BYE|EOF' "$SB" | head -n 4 | cut -c1-200
grep -h 'corolease' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep -v 'held\|released' | tail -n 5 | cut -c1-200
head -n 5 "$CLUSTER_DIR/w2.log" | cut -c1-200
grep -hE 'Panic|Fatal|signal|Corrupted|fscking' "$CLUSTER_DIR"/n2/dovecot-mail.log | grep -v 'Killed with signal 15' | head -n 5
check "no Panic/Fatal/signal in node 2's Dovecot log" bash -c "! grep -hE 'Panic|Fatal|killed by signal' '$CLUSTER_DIR/n2/dovecot-mail.log'"
check "no write to u1's files by u2's process after the daemon was lost ($after)" [ "$after" = 0 ]
it_pass
