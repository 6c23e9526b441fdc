#!/bin/bash
# 161. (breaker 4) MYRIGHTS / GETACL (imap_acl) of another user's shared
# mailbox rebuild that user's dovecot-acl-list with no store lease.
# The acl plugin's vfile backend, when it (re)reads a mailbox's dovecot-acl
# and finds its mtime differing from the owner's dovecot-acl-list (or that
# file missing), rebuilds dovecot-acl-list in the owner's store root:
# safe_mkstemp in the root, an iteration of the list (this one runs under
# the store lease: corolease_list_iter_init), then, AFTER the iteration's
# deinit, rename(tmp, dovecot-acl-list) (acl-backend-vfile-acllist.c).
# MYRIGHTS and GETACL read the ACL of a mailbox that is only allocated, not
# opened: nothing but that inner iteration takes u1's store lease.
# Here: u1 works on node 1 session after session (SELECT Other; CREATE,
# APPEND, DELETE), u1's Work's dovecot-acl gets a new mtime every 0.3 s (as
# u1's SETACL would do), and u2 on node 2 (imap_acl, acl_cache_secs = 0)
# runs MYRIGHTS/GETACL of shared.u1.Work in a loop.
# Oracle: strace of u2's process: creations/writes/renames of files in
# /run/cl-mail/u1/Maildir/ (dovecot-acl-list and its temp file) while the
# process's own log says u1's store lease is not held.
# Seen (10:22 and 10:25, working tree on 8e63ac0, T161_SECS=15): 37 and 30
# temp-file creations in /run/cl-mail/u1/Maildir/ and as many
# rename(temp, dovecot-acl-list) by node 2's imap(u2) with no u1 store
# lease (the temp file's contents are written inside the lease of the inner
# iteration); 25 and 24 u1 sessions on node 1 ended ("cluster node 2 wants
# the mail store it uses") by u2's read-only MYRIGHTS/GETACL.
# T161_MODE=setacl (SETACL opens the mailbox): 378 writes, all under the
# lease (10:24).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk4-acl-list 161
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
SECS=${T161_SECS:-20}
command -v strace >/dev/null || skip "strace is not installed"
[[ -f /usr/lib/dovecot/modules/lib02_imap_acl_plugin.so ]] || skip "imap_acl is not installed"
ln -sf /usr/lib/dovecot/modules/lib02_imap_acl_plugin.so "$CLUSTER_DIR/plugins/"
cat >>"$CLUSTER_DIR/n2/dovecot.conf" <<EOF2
# t161: IMAP ACL commands, no ACL cache
protocol imap {
  mail_plugins = \$mail_plugins imap_acl
}
plugin {
  acl_cache_secs = 0
}
EOF2
kill -HUP "$(daemon_pid 2 dovecot)"

printf '%s\n' 'CREATE Work' 'CREATE Other' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work and Other" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t2 OK' '$CLUSTER_DIR/s0.log'"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'MYRIGHTS shared.u1.Work' 'GETACL shared.u1.Work' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 has MYRIGHTS" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' >'$CLUSTER_DIR/s1.log'; grep -q 'S: t1 OK' '$CLUSTER_DIR/s1.log'"
# a dovecot-acl-list that names Work (u2's first MYRIGHTS rebuilds it)
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
before=$(dv_corruption)
n=$((SECS * 10))
cat >"$CLUSTER_DIR/u1-loop.sh" <<EOS
#!/bin/bash
while [ ! -e '$CLUSTER_DIR/stop' ]; do
	printf '%s\\n' 'SELECT Other' "REPEAT $n CREATE Tx ; APPEND Other ; DELETE Tx ; SLEEP 0.05" >'$CLUSTER_DIR/a.txt'
	python3 '$DV_SCRIPT' '$CLUSTER_SUBNET.1' u1 '$CLUSTER_DIR/a.txt'
done
EOS
chmod +x "$CLUSTER_DIR/u1-loop.sh"
# (T161_MODE=setacl: instead, u2 changes u3's rights on shared.u1.Work with
# SETACL in a loop: dovecot-acl of Work and dovecot-acl-list rewritten)
if [[ ${T161_MODE:-myrights} == setacl ]]; then
	printf '%s\n' "WAIT $CLUSTER_DIR/go" "REPEAT $((SECS * 4)) SETACL shared.u1.Work u3 +lr ; SLEEP 0.05 ; SETACL shared.u1.Work u3 -lr ; SLEEP 0.05" >"$CLUSTER_DIR/b.txt"
else
	printf '%s\n' "WAIT $CLUSTER_DIR/go" "REPEAT $((SECS * 8)) MYRIGHTS shared.u1.Work ; GETACL shared.u1.Work ; SLEEP 0.05" >"$CLUSTER_DIR/b.txt"
fi
SA=$CLUSTER_DIR/n1/sa.log SB=$CLUSTER_DIR/n2/sb.log
spawn 1 sa "$CLUSTER_DIR/u1-loop.sh" >/dev/null
must_wait 30 "u1 works on node 1" grep -q 'OK Create' "$SA"
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 logged in on node 2" bash -c "grep -q 'imap(u2)<' '$CLUSTER_DIR/n2/dovecot-mail.log' && sleep 1"
p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
strace -tt -y -qq -s 200 -e trace=openat,write,pwrite64,rename,ftruncate,unlink -o "$CLUSTER_DIR/st2.log" -p "$p2" 2>/dev/null &
st2=$!
sleep 1
touch "$CLUSTER_DIR/go"
# new mtimes of u1's Work ACL (as u1's SETACL would write)
base=$(date +%s)
for ((k = 1; k <= SECS * 3; k++)); do
	[[ ${T161_MODE:-myrights} == setacl ]] && break
	touch -d "@$((base + k))" "$DV_STORE/u1/Maildir/.Work/dovecot-acl"
	grep -qE 'EOF|Traceback|took .* z$' "$SB" && break
	sleep 0.3
done
must_wait $((SECS * 4 + 30)) "u2's loop on node 2 ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
touch "$CLUSTER_DIR/stop"
wait_until 30 bash -c "! pgrep -f 'u1-loo[p].sh' >/dev/null" || true
kill "$st2" 2>/dev/null; wait "$st2" 2>/dev/null
awk '/corolease: store\/\/run\/cl-mail\/u1\/Maildir held/ { h = 1; next }
     /corolease: store\/\/run\/cl-mail\/u1\/Maildir released/ { h = 0; next }
     /^[0-9:.]+ openat\(.*"\/run\/cl-mail\/u1\/Maildir\/[^"]*".*O_CREAT/ ||
     /^[0-9:.]+ (write|pwrite64|ftruncate)\([0-9]+<\/run\/cl-mail\/u1\/Maildir\/[^>]*>/ ||
     /^[0-9:.]+ (rename|unlink)\("\/run\/cl-mail\/u1\/Maildir\/[^"]*"/ {
	     if (h) print "held " $0; else print "FREE " $0 }' \
	"$CLUSTER_DIR/st2.log" >"$CLUSTER_DIR/w2.log"
nheld=$(grep -c 'corolease: store//run/cl-mail/u1/Maildir held' "$CLUSTER_DIR/st2.log" || true)
w2all=$(wc -l <"$CLUSTER_DIR/w2.log")
w2=$(grep -c '^FREE' "$CLUSTER_DIR/w2.log" || true)
wr=$(grep -c '^FREE.*rename(' "$CLUSTER_DIR/w2.log" || true)
s1=$(grep -c 'S: t1 ' "$SA" || true) c1=$(grep -c 'OK Create' "$SA" || true)
s2=$(grep -cE 'S: t[0-9]* OK (Myrights|Getacl|Setacl)' "$SB" || true)
say "u1 on node 1: $s1 sessions, CREATE OK $c1; u2 on node 2 (pid $p2): MYRIGHTS/GETACL OK $s2, u1's store lease taken $nheld times, $w2all writes in u1's store root, $w2 of them without the lease ($wr renames)"
ls -la "$DV_STORE/u1/Maildir/" | grep -i acl
grep '^FREE' "$CLUSTER_DIR/w2.log" | head -n 8 | cut -c1-200
grep -E 'NO|BAD' "$SB" | sort | uniq -c | sort -rn | head -n 4
after=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 8
check "u2's MYRIGHTS/GETACL on node 2 wrote nothing in u1's store root without u1's store lease ($w2 writes)" [ "$w2" = 0 ]
check "no Corrupted/fscking/Panic line ($((after - before)) new)" [ "$after" = "$before" ]
it_pass
