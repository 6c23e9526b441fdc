#!/bin/bash
# 141. (breaker 2) A second private namespace leaves the main store
# without its store lease.
# Fixed (in TESTS): the session keeps one store lease per private
# namespace root (cuser->store_holds), not one in all.
# cl_store_hold() keeps ONE "own" store lease per session
# (cuser->store_hold) and, once it is set, skips every later private open,
# whatever that mailbox's root is.  u1 has two private namespaces: the
# inbox one (maildir:/run/cl-mail/%u/Maildir) and "Archive."
# (maildir:/run/cl-mail/%u/Archive).  u1 on node 1 first SELECTs
# Archive.Old (store//run/cl-mail/u1/Archive becomes the session's own
# store lease), then SELECTs Other in the main store and APPENDs/EXPUNGEs
# there in a loop: no store lease for /run/cl-mail/u1/Maildir is taken.
# u2 on node 2 opens shared.u1.Work (ACL-shared), takes
# store//run/cl-mail/u1/Maildir (free), and APPENDs in a loop: both nodes
# write u1's dovecot.list.index* at once (t130's two writers, back).
# Seen (17:40, 20 s): `corolease list` on node 3: store//run/cl-mail/u1/
# Archive owner=1, store//run/cl-mail/u1/Maildir owner=2, mailbox
# .../u1/Maildir/.Other owner=1, .../.Work owner=2; strace: 240 writes to
# /run/cl-mail/u1/Maildir/dovecot.list.index* by node 1's imap(u1), 82 by
# node 2's imap(u2) (first at 17:40:07.684 and 17:40:07.707); 80 APPENDs
# OK on each side, neither session ended.  No Corrupted/fscking line in
# that run (t130's load gave them within seconds before the store lease).
# Second run (17:46, T141_SECS=40): the same owners; 28 writes by node 1,
# 162 by node 2; 160 APPENDs OK each; again no Corrupted/fscking line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk2-second-namespace 141
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
for i in 1 2; do
	cat >>"$CLUSTER_DIR/n$i/dovecot.conf" <<EOF
namespace archive {
  type = private
  separator = .
  prefix = Archive.
  location = maildir:/run/cl-mail/%u/Archive
  list = yes
  subscriptions = yes
}
EOF
	kill -HUP "$(daemon_pid "$i" dovecot)"
done
SECS=${T141_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Other' 'CREATE Archive.Old' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "nodes reloaded: u1 creates Archive.Old" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t3 OK' >/dev/null"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/.Work/dovecot-acl"
printf '%s\n' 'SELECT shared.u1.Work' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"
before=$(dv_corruption)
n=$((SECS * 4))
printf '%s\n' 'SELECT Archive.Old' 'SELECT Other' "WAIT $CLUSTER_DIR/go" "REPEAT $n APPEND Other ; STORE 1:* +FLAGS (\\Deleted) ; EXPUNGE" >"$CLUSTER_DIR/a.txt"
printf '%s\n' "WAIT $CLUSTER_DIR/u1sel" 'SELECT shared.u1.Work' "WAIT $CLUSTER_DIR/go" "REPEAT $n APPEND shared.u1.Work ; NOOP" >"$CLUSTER_DIR/b.txt"
spawn 1 sa python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/a.txt" >/dev/null
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
must_wait 30 "u1 selected Archive.Old, then Other on node 1" grep -q 'took .* t2$' "$SA"
touch "$CLUSTER_DIR/u1sel"
must_wait 30 "u2 selected shared.u1.Work on node 2" grep -q 'took .* t1$' "$SB"
grep -h 'S: t[12] ' "$SA" "$SB"
p1=$(sed -n 's/.*imap(u1)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st1.log" -p "$p1" 2>/dev/null &
st1=$!
strace -tt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
o_store=$(cl 3 owner store//run/cl-mail/u1/Maildir) o_arch=$(cl 3 owner store//run/cl-mail/u1/Archive)
o_other=$(cl 3 owner mailbox//run/cl-mail/u1/Maildir/.Other) o_work=$(cl 3 owner mailbox//run/cl-mail/u1/Maildir/.Work)
say "owners: store u1/Maildir=$o_store store u1/Archive=$o_arch mailbox Other=$o_other Work=$o_work"
cl 3 list | grep -E 'u1' | cut -c1-120
touch "$CLUSTER_DIR/go"
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
grep -h 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" | head -n 1 | cut -c1-160
say "APPEND OK: u1 $(grep -c 'OK \[APPENDUID' "$SA"), u2 $(grep -c 'OK \[APPENDUID' "$SB"); EOF: $(grep -c EOF "$SA" "$SB" | tr '\n' ' ')"
grep -h 'corolease' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | grep -v 'held\|released' | head -n 6
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 5
check "not both: u1's store lease on $o_store, u1's Other on $o_other" [ "$o_store" = "$o_other" -o "$o_store" = 0 -o "$o_other" = 0 ]
check "u1's list index written by one node only (node 1 $w1, node 2 $w2)" [ "$w1" = 0 -o "$w2" = 0 ]
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
