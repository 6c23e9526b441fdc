#!/bin/bash
# 142. (breaker 2) Listing another user's shared mailboxes writes that
# user's mailbox list index without the store lease.
# Another user's store lease is taken only by an open (and released with
# the mailbox); LIST of the shared namespace opens nothing, yet it
# refreshes the owner's list index (dovecot.list.index*, which the shared
# namespace uses as the owner's own session does) when it finds it stale.
# Seen by the breaker (17:43 UTC, on 6b71d37, 20 s, one long u1 session):
# strace: 61 writes to /run/cl-mail/u1/Maildir/dovecot.list.index* by node
# 1's imap(u1), 27 by node 2's imap(u2) (LIST only), and 19 lines "Warning:
# fscking index file .../dovecot.list.index", "Mailbox list index marked
# corrupted - rescanning" from both.
# Fixed: with the list index on, an iteration of a store's list runs under
# its store lease (another user's for the iteration, the own store's kept
# for the session), taken as an open takes it: node 2's LIST waits for u1's
# store, and u1's session on node 1, told it is wanted, ends.
# Now: u2 on node 2 SELECTs shared.u1.Work and CLOSEs it; then u1 works on
# node 1 session after session (SELECT Other, CREATE, APPEND; each session
# ends when node 2 wants the store) while u2 LISTs "shared.u1.*" in a loop.
# Check: both worked (u1's CREATEs and u2's LISTs answered OK during the
# run) and no Corrupted/fscking/Panic line.  On the plugin before the fix
# (2026-12-02): 51 such lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk2-shared-list 142
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
SECS=${T142_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Other' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t1 OK' >/dev/null"
# u2 may see (lookup) every mailbox of u1
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
for d in "$DV_STORE"/u1/Maildir/.Work; do printf 'user=u2 lrwstipekxa\n' >"$d/dovecot-acl"; done
# the acl plugin's cache of what others may list: rebuilt when missing
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'LIST "" "shared.u1.*"' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects, closes and lists shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'LIST .*shared.u1.Work' >/dev/null"
before=$(dv_corruption)
n=$((SECS * 16))
# u1 on node 1: session after session (each one ended when node 2's LIST
# wants u1's store), each creating a mailbox and appending
cat >"$CLUSTER_DIR/u1-loop.sh" <<EOS
#!/bin/bash
k=0
while [ ! -e '$CLUSTER_DIR/stop' ]; do
	k=\$((k + 1))
	printf '%s\\n' 'SELECT Other' "CREATE T\$k" 'APPEND Other' "CREATE T\$k.a" 'APPEND Other' >'$CLUSTER_DIR/a.txt'
	python3 '$DV_SCRIPT' '$CLUSTER_SUBNET.1' u1 '$CLUSTER_DIR/a.txt'
done
EOS
chmod +x "$CLUSTER_DIR/u1-loop.sh"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' "WAIT $CLUSTER_DIR/go" "REPEAT $n LIST \"\" \"shared.u1.*\" ; SLEEP 0.05" >"$CLUSTER_DIR/b.txt"
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 selected and closed shared.u1.Work on node 2" grep -q 'took .* t2$' "$SB"
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
spawn 1 sa "$CLUSTER_DIR/u1-loop.sh" >/dev/null
must_wait 30 "u1 works on node 1" grep -q 'OK Create' "$SA"
touch "$CLUSTER_DIR/go"
# each LIST may wait for a handover of u1's store: on a loaded machine 0.35 s
# each (seen: the 320 LISTs took 117 s); up to 1 s each is waited for
must_wait $((n + 60)) "u2's LIST loop on node 2 ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
touch "$CLUSTER_DIR/stop"
wait_until 30 bash -c "! pgrep -f 'u1-loo[p].sh' >/dev/null" || true
kill "$st2" 2>/dev/null; wait "$st2" 2>/dev/null
w2=$(grep -c 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" || true)
c1=$(grep -c 'OK Create' "$SA" || true) l2=$(grep -c 'OK List' "$SB" || true)
say "u1 on node 1: $(grep -c 'S: t1 ' "$SA" || true) sessions, CREATE OK $c1, $(grep -c 'wants the mail store' "$SA" || true) ended for node 2; u2 on node 2: LIST OK $l2, $w2 writes to u1's dovecot.list.index*"
grep -h 'corolease' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | grep -v 'held\|released' | tail -n 4
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 5
check "both worked in u1's store during the run (u1 CREATE OK $c1, u2 LIST OK $l2)" [ "$c1" -gt 1 -a "$l2" -gt 1 ]
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
