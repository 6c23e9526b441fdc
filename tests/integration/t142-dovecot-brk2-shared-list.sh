#!/bin/bash
# 142. (breaker 2) Listing another user's shared mailboxes writes that
# user's mailbox list index without the store lease.
# Another user's store lease is taken only by an open (and released with
# the mailbox); LIST of the shared namespace opens nothing, yet it
# refreshes the owner's list index (dovecot.list.index*, which the shared
# namespace uses as the owner's own session does) when it finds it stale.
# u2 on node 2 SELECTs shared.u1.Work and CLOSEs it (the store lease is
# released); then u1 on node 1 holds its own store lease (SELECT Other) and
# CREATEs mailboxes and APPENDs in a loop while u2 LISTs "shared.u1.*" in a
# loop.
# Check: u1's list index written by one node only; no Corrupted/fscking.
# Seen (17:43 UTC, on 6b71d37, 20 s): `corolease list` on node 3:
# store//run/cl-mail/u1/Maildir owner=1 (u1's session) and no u1 lease on
# node 2; strace: 61 writes to /run/cl-mail/u1/Maildir/dovecot.list.index*
# by node 1's imap(u1), 27 by node 2's imap(u2) (LIST only; first at
# 17:43:55.673436, node 1's at 55.668792); 19 lines "Warning: fscking
# index file /run/cl-mail/u1/Maildir/dovecot.list.index", "Error: Mailbox
# list index was marked as fsck'd", "Mailbox list index marked corrupted -
# rescanning" (11 from node 1's imap(u1), 8 from node 2's imap(u2));
# u1: 80 CREATE OK, u2: 320 LIST OK, neither session ended.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk2-shared-list 142
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
SECS=${T142_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Other' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep -q 'S: t1 OK'"
# u2 may see (lookup) every mailbox of u1
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
for d in "$DV_STORE"/u1/Maildir/.Work; do printf 'user=u2 lrwstipekxa\n' >"$d/dovecot-acl"; done
# the acl plugin's cache of what others may list: rebuilt when missing
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'LIST "" "shared.u1.*"' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects, closes and lists shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep -q 'LIST .*shared.u1.Work'"
before=$(dv_corruption)
n=$((SECS * 4))
{ echo 'SELECT Other'; echo "WAIT $CLUSTER_DIR/go"; for ((k = 1; k <= n; k++)); do echo "CREATE T$k"; echo "APPEND Other"; done; } >"$CLUSTER_DIR/a.txt"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' "WAIT $CLUSTER_DIR/go" "REPEAT $((n * 4)) LIST \"\" \"shared.u1.*\" ; SLEEP 0.05" >"$CLUSTER_DIR/b.txt"
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 selected and closed shared.u1.Work on node 2" grep -q 'took .* t2$' "$SB"
spawn 1 sa python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/a.txt" >/dev/null
must_wait 30 "u1 selected Other on node 1, u2 logged in on node 2" bash -c "grep -q 'took .* t1\$' '$SA' && grep -q 'took .* t2\$' '$SB'"
p1=$(sed -n 's/.*imap(u1)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st1.log" -p "$p1" 2>/dev/null &
st1=$!
strace -tt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
sleep 2
o_store=$(cl 3 owner store//run/cl-mail/u1/Maildir)
say "owners: store u1=$o_store"
cl 3 list | grep -E 'u1' | cut -c1-120
end=$((SECONDS + SECS))
while ((SECONDS < end)); do
	sleep 2
	grep -q EOF "$SA" && grep -q EOF "$SB" && break
	(($(dv_corruption) > before + 20)) && break
done
sleep 1
kill "$st1" "$st2" 2>/dev/null; wait "$st1" "$st2" 2>/dev/null
w1=$(grep -c 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st1.log" || true)
w2=$(grep -c 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" || true)
say "writes to u1/Maildir/dovecot.list.index*: node 1 imap(u1) $w1, node 2 imap(u2) $w2"
grep -h 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st1.log" | head -n 1 | cut -c1-160
grep -h 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" | head -n 2 | cut -c1-160
say "u1 CREATE OK $(grep -c 'OK Create' "$SA"); u2 LIST OK $(grep -c 'OK List' "$SB"); EOF: $(grep -c EOF "$SA" "$SB" | tr '\n' ' ')"
grep -h 'corolease' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | grep -v 'held\|released' | head -n 6
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 5
check "u1's list index written by one node only (node 1 $w1, node 2 $w2)" [ "$w1" = 0 -o "$w2" = 0 ]
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
