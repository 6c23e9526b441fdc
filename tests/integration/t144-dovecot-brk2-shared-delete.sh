#!/bin/bash
# 144. (breaker 2) DELETE of another user's shared mailbox removes it and
# writes the owner's mailbox list index after the leases are released.
# Fixed (in TESTS): delete_box runs under the store and mailbox leases.
# Dovecot's DELETE opens the mailbox (so the plugin takes store/<owner's
# root> and the mailbox lease), marks it deleted, CLOSES it and only then
# deletes the directory and the record in the owner's dovecot.list.index*
# (index_storage_mailbox_delete: mailbox_close() before
# index_storage_mailbox_delete_post()).  For another user's store the
# store lease is released with the mailbox (corolease_mailbox_close), so
# the removal and the list-index write run with no lease on that store.
# The check needs no race: strace of u2's mail process (node 2), deleting
# shared.u1.Tmp, orders its log line "store//run/cl-mail/u1/Maildir
# released" against its writes to u1's Maildir (rename/rmdir of .Tmp,
# dovecot.list.index.log).
# Check: no write to u1's store after the store lease is released.
# Fixed by wrapping delete_box (and create_box, update_box,
# set_subscribed) in the store and mailbox leases (cl_with_leases()).
# Seen (17:45 UTC, on 6b71d37): u2's imap process 24436 on node 2 logged
# at 17:45:12.451027 "corolease: mailbox//run/cl-mail/u1/Maildir/.Tmp
# released" and at .451256 "store//run/cl-mail/u1/Maildir released", then
# .453082 rename(".../u1/Maildir/.Tmp", ".../u1/Maildir/..DOVECOT-TRASHED"),
# rmdir of its new/cur/tmp and of ..DOVECOT-TRASHED (.459737), write(
# .../u1/Maildir/dovecot.list.index.log) at .464117 and .467545, write(
# .../u1/Maildir/dovecot.mailbox.log) at .466719 and .468547, and only then
# "t1 OK Delete completed": 7 writes to u1's store with no lease on it
# (no other session ran, so nothing collided in that run).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk2-shared-delete 144
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Tmp' 'SELECT Work' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Tmp" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t2 OK' >/dev/null"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Tmp/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/.Tmp/dovecot-acl"
printf '%s\n' 'STATUS shared.u1.Tmp (MESSAGES)' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 sees shared.u1.Tmp" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"
printf '%s\n' "WAIT $CLUSTER_DIR/go" 'DELETE shared.u1.Tmp' >"$CLUSTER_DIR/b.txt"
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
SB=$CLUSTER_DIR/n2/sb.log
must_wait 30 "u2 logged in on node 2" grep -q 'took .* a0$' "$SB"
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -s 80 -e trace=write,rename,rmdir,unlink,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
must_wait 30 "u2's DELETE answered" grep -q 'took .* t1$' "$SB"
sleep 1
kill "$st2" 2>/dev/null; wait "$st2" 2>/dev/null
grep 'S: t1 ' "$SB" | cut -c1-120
say "u2's process (node 2), in order:"
grep -E 'corolease: (store|mailbox)//run/cl-mail/u1|u1/Maildir' "$CLUSTER_DIR/st2.log" | grep -v 'write(2<.*held' |
	sed 's/"\\[0-9][^"]*"/"..."/' | cut -c1-170 | head -n 20
rel=$(grep -n 'corolease: store//run/cl-mail/u1/Maildir released' "$CLUSTER_DIR/st2.log" | head -n 1 | cut -d: -f1)
# Dovecot's release of its own mailbox-list lock (unlink of
# .../Maildir/mailboxes.lock) follows the DELETE, outside the delete_box
# vfunc the plugin wraps (mailbox_delete() unlocks the list after it): it
# writes no mail data or index and is not counted; everything else is
after=$(awk -v r="${rel:-999999}" 'NR > r && /u1\/Maildir/ && !/corolease/ && !/unlink\("[^"]*\/mailboxes\.lock"\)/' "$CLUSTER_DIR/st2.log" | wc -l)
say "writes to u1's store after 'store//run/cl-mail/u1/Maildir released': $after"
check "u2 deleted shared.u1.Tmp" test ! -d "$DV_STORE/u1/Maildir/.Tmp"
check "the store lease was released (line ${rel:-none})" [ -n "$rel" ]
check "no write to u1's store after its store lease was released ($after)" [ "$after" = 0 ]
it_pass
