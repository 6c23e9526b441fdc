#!/bin/bash
# 140. (breaker 2) The owner's session writes its own store without the
# store lease while another node holds it.
# Fixed (in TESTS): create_box runs under the store and mailbox leases
# (cl_with_leases()), so the CREATE waits for the store like an open.
# The own store's lease is taken by the first mailbox open (or rename) of
# the session.  CREATE writes the store's mailbox list index (the new
# mailbox's record in dovecot.list.index.log) and makes the mailbox's
# directories BEFORE it opens the new mailbox, i.e. before the store lease
# (and the new mailbox's lease) is asked for.
# u2 on node 2 has u1's Work open through the ACL-shared namespace (holding
# store//run/cl-mail/u1/Maildir) and APPENDs to it in a loop (each sync
# updates u1's list index); u1 on node 1, having opened nothing yet,
# CREATEs T1, T2, ... (and LISTs).
# Check: u1's list index written by one node only; no Corrupted/fscking.
# Seen (17:40 UTC, on 6b71d37): strace of node 1's
# imap(u1): 17:40:48.156794 mkdir(".../u1/Maildir/.T1"), 48.161520
# write(.../u1/Maildir/dovecot.list.index.log); node 2's imap(u2) wrote
# the same file at 48.226856 and 48.249002, got "node 1 wants
# store//run/cl-mail/u1/Maildir" and released at 48.308; node 1 logged
# "store//run/cl-mail/u1/Maildir held" only at 48.311.  Node 1 then:
# "Error: Log synchronization error at seq=2,offset=1480 for
# /run/cl-mail/u1/Maildir/dovecot.list.index: Append with UID 4, but
# next_uid = 5", "Warning: fscking index file .../dovecot.list.index",
# "Mailbox list index marked corrupted - rescanning".  A first variant
# (CREATE Tmp ; DELETE Tmp loop) showed the same: "fscking index file" at
# the first CREATE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk2-owner-no-open 140
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
SECS=${T140_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' 'CREATE Other' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t1 OK' >/dev/null"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/.Work/dovecot-acl"
printf '%s\n' 'SELECT shared.u1.Work' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"
before=$(dv_corruption)
n=$((SECS * 4))
# u2 first: node 2 holds store/u1 while Work is open
printf '%s\n' 'SELECT shared.u1.Work' "WAIT $CLUSTER_DIR/go" "REPEAT $n APPEND shared.u1.Work ; NOOP" >"$CLUSTER_DIR/b.txt"
# u1: only CREATEs (no open: no store lease), one new mailbox each
{ echo "WAIT $CLUSTER_DIR/go"; for ((k = 1; k <= n; k++)); do echo "CREATE T$k"; echo 'LIST "" "T*"'; done; } >"$CLUSTER_DIR/a.txt"
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
must_wait 30 "u2 selected shared.u1.Work on node 2" grep -q 'took .* t1$' "$SB"
spawn 1 sa python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/a.txt" >/dev/null
must_wait 30 "u1 logged in on node 1" grep -q 'took .* a0$' "$SA"
p1=$(sed -n 's/.*imap(u1)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -f -tt -y -qq -e trace=write,pwrite64,rename,ftruncate,mkdir,rmdir -o "$CLUSTER_DIR/st1.log" -p "$p1" 2>/dev/null &
st1=$!
strace -f -tt -y -qq -e trace=write,pwrite64,rename,ftruncate,mkdir,rmdir -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
sleep 3
o_user=$(cl 3 owner user/u1) o_store=$(cl 3 owner store//run/cl-mail/u1/Maildir)
say "owners while both run: user/u1=$o_user store/u1=$o_store"
cl 3 list | grep -E 'u1' | cut -c1-120
end=$((SECONDS + SECS))
while ((SECONDS < end)); do
	sleep 2
	grep -q EOF "$SA" && grep -q EOF "$SB" && break
	grep -q 'took .* z$' "$SA" && break
done
kill "$st1" "$st2" 2>/dev/null; wait "$st1" "$st2" 2>/dev/null
w1=$(grep -c 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st1.log" || true)
w2=$(grep -c 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" || true)
say "writes to u1's dovecot.list.index*: node 1 imap(u1) $w1, node 2 imap(u2) $w2"
grep -h 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st1.log" | head -n 2 | cut -c1-160
grep -h 'u1/Maildir/dovecot.list.index' "$CLUSTER_DIR/st2.log" | head -n 2 | cut -c1-160
say "u1 answers: OK $(grep -c 'S: t[0-9]* OK' "$SA"), NO $(grep -c 'S: t[0-9]* NO' "$SA"); u2 APPEND OK $(grep -c 'OK \[APPENDUID' "$SB"); EOF: $(grep -c EOF "$SA" "$SB" | tr '\n' ' ')"
grep -h 'corolease' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | grep -v 'held\|released' | head -n 6
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 5
# one node after the other, never interleaved: node 2 may write until it
# lets the store go, node 1 after it took it (strace's clock is the host's)
span() { grep 'u1/Maildir/dovecot.list.index' "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\./) { split($i, t, ":"); printf "%.6f\n", t[1] * 3600 + t[2] * 60 + t[3]; break } }' | sort -n | sed -n '1p;$p' | tr '\n' ' '; }
read -r f1 l1 < <(span "$CLUSTER_DIR/st1.log")
read -r f2 l2 < <(span "$CLUSTER_DIR/st2.log")
say "list index writes: node 1 ${f1:-none}..${l1:-none}, node 2 ${f2:-none}..${l2:-none}"
check "u1's list index written by one node at a time (node 1 $w1 writes, node 2 $w2)" \
	awk -v f1="${f1:-}" -v l1="${l1:-}" -v f2="${f2:-}" -v l2="${l2:-}" 'BEGIN { exit !(f1 == "" || f2 == "" || l2 < f1 || l1 < f2) }'
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
