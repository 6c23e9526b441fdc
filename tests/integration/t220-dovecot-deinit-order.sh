#!/bin/bash
# 220. An imap process released its store and user leases before Dovecot's
# own deinit of the user, which frees the namespaces and with them the
# storages: the index files of the user's mailboxes (kept open in Dovecot's
# index cache after each mailbox's close) were closed after the leases went.
# On NFS a close writes back what the client still caches, so the next
# holder could read the mailbox's transaction log before it had it.  Seen
# with strace -y: close(17</run/cl-mail/u1/Maildir/dovecot.index.log>) after
# "corolease: store//run/cl-mail/u1/Maildir released".  Now the user's
# leases go after Dovecot's deinit.
# u1 on node 1 creates Bar, selects it and INBOX, and logs out; its process
# is traced: after the store lease's release, no system call may name a
# file under the mail root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-deinit-order 220
command -v strace >/dev/null || skip "strace is not installed"

read -r master _ <"$CLUSTER_DIR/n1/dovecot.pid"
ST=$CLUSTER_DIR/strace.log
# the master and every process it starts (the imap process of the session)
strace -f -ttt -y -q -s 256 -o "$ST" -e trace=close,write,pwrite64,writev,rename,renameat2,unlink,unlinkat,ftruncate,fsync,fdatasync \
	-p "$master" 2>/dev/null &
st=$!
must_wait 10 "strace attached to node 1's Dovecot" grep -q "TracerPid:[[:space:]]*$st\$" "/proc/$master/status"

printf '%s\n' 'CREATE Bar' 'SELECT Bar' 'SELECT INBOX' 'NOOP' >"$CLUSTER_DIR/s1.txt"
"$CLUSTER_SH" exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt" >"$CLUSTER_DIR/s1.out"
check "u1's session created Bar and logged out" grep -q 'S: z OK' "$CLUSTER_DIR/s1.out"
must_wait 10 "u1's process released its user lease" grep -q 'corolease: user/u1 released' "$ST"
# the process's exit follows the release at once; give strace a moment to write it
must_wait 10 "u1's process exited" grep -q 'exited with\|+++ exited' "$ST"
kill "$st" 2>/dev/null
wait "$st" 2>/dev/null

pid=$(sed -n 's/^\([0-9]*\) .*corolease: store\/\/run\/cl-mail\/u1\/Maildir released.*/\1/p' "$ST" | head -n 1)
check "the trace shows the store lease's release" [ -n "$pid" ]
# the process's calls from the store lease's release on that name the mail root
after=$(awk -v p="$pid" '$1 == p && /corolease: store\/\/run\/cl-mail\/u1\/Maildir released/ { on = 1 }
	on && $1 == p && /\/run\/cl-mail\// && !/corolease: / { print }' "$ST")
[ -z "$after" ] || printf '%s\n' "$after" | head -n 20
check "no call of u1's process names a mail file after its store lease went ($(grep -c . <<<"$after") did)" [ -z "$after" ]
before=$(awk -v p="$pid" '$1 == p && /corolease: store\/\/run\/cl-mail\/u1\/Maildir released/ { exit }
	$1 == p && /^[0-9]+ [0-9.]+ close\([0-9]+<\/run\/cl-mail\/u1\/Maildir\/.*dovecot\.index\.log>/ { n++ } END { print n + 0 }' "$ST")
check "the session's index logs were closed before it ($before closes)" [ "$before" -gt 0 ]
it_pass
