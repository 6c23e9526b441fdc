#!/bin/bash
# 136. BREAK TEST (fails on the code it was written against; not in TESTS).
# A paused mail process: the plugin's check before a commit
# (corolease_lease_valid() in corolease_transaction_commit) and the
# commit's writes are not one step.  A process paused between them (here
# stopped by a debugger at Dovecot's index_transaction_commit, which the
# plugin calls right after its check: the same as SIGSTOP, swap-in or CPU
# starvation at that instant) writes when it resumes, whoever holds the
# lease by then.  The one fault besides the pause: node 1's coroleased is
# killed (SIGKILL), so nothing kills the paused process (kill_on_revoke
# needs the daemon) and nodes 2 and 3 recover node 1's leases after the
# fence delay.
#
# u3's session on node 1 has INBOX selected (one message) and sends STORE
# 1 +FLAGS (\Flagged); gdb stops the imap process at
# index_transaction_commit.  Node 1's coroleased is killed; node 2 takes
# u3, APPENDs and sets \Seen on message 1.  Then the imap process on node
# 1 is let go.  Promise (README): "a commit after it fails, nothing is
# written", "never two writers"; the brief's: a paused client must not
# write after it resumes once another node took over.
# Seen on the current code (89da8cc): imap(u3) stopped at
# index_transaction_commit at 17:05:22.25; coroleased SIGKILLed at 22.31;
# nodes 2 and 3 recovered user/u3 at 26.34 (fence delay 4 s); node 2's
# APPEND and STORE \Seen answered by 26.660 (dovecot.index.log 1068 bytes,
# mtime 26.652); node 1's process let go at 26.695: "t4 OK Store completed
# (4.541 + ...)" at 26.740, dovecot.index.log 1088 bytes, mtime 26.732, and
# message 1 reads FLAGS (\Flagged \Seen) on node 2; only then did node 1
# log "corolease: mailbox//run/cl-mail/u3/Maildir no longer valid".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk-paused-commit 136
command -v gdb >/dev/null || skip "gdb is not installed"
GO=$CLUSTER_DIR/go HIT=$CLUSTER_DIR/hit REL=$CLUSTER_DIR/rel
S1=$CLUSTER_DIR/n1/s1.log
IDX=$DV_STORE/u3/Maildir/dovecot.index.log

printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'NOOP' "WAIT $GO" 'STORE 1 +FLAGS (\Flagged)' \
	'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u3's session on node 1 appended and waits" grep -q 'took .* t3$' "$S1"
check "node 1 holds user/u3" [ "$(cl 2 owner user/u3)" = 1 ]
imap_pid=$(sed -n 's/.*imap(u3)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
say "node 1's imap process for u3: $imap_pid"
gdb -p "$imap_pid" -batch -ex 'break index_transaction_commit' -ex 'continue' \
	-ex "shell touch $HIT" -ex "shell while [ ! -e $REL ]; do sleep 0.1; done" -ex 'detach' \
	>"$CLUSTER_DIR/gdb.log" 2>&1 &
gdb_pid=$!
must_wait 60 "gdb attached, breakpoint set" grep -q '^Breakpoint 1 at' "$CLUSTER_DIR/gdb.log"
sleep 1
touch "$GO"
must_wait 20 "the imap process stopped in index_transaction_commit (after the plugin's check)" test -e "$HIT"
grep -E 'Breakpoint 1,|STORE' "$CLUSTER_DIR/gdb.log" "$S1" | tail -n 2

dpid=$(daemon_pid 1)
kill -KILL "$dpid"
say "SIGKILL to node 1's coroleased ($dpid)"
must_wait 30 "nodes 2 and 3 recovered node 1's hold of user/u3" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner user/u3)\" != 1 ]"
printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'STORE 1 +FLAGS (\Seen)' 'FETCH 1:* (UID FLAGS)' >"$CLUSTER_DIR/s2.txt"
out=$(cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s2.txt"); rc=$?
echo "$out" | grep -E 'took|FETCH|NO|BAD'
t_node2=$(awk '/took .* t4$/ { print $1 }' <<<"$out")
[[ $rc == 0 && -n $t_node2 ]] || { touch "$REL"; fail "node 2 could not write u3's INBOX (rc $rc)"; }
st_before=$(stat -c '%s bytes, mtime %y' "$IDX")
say "node 2 wrote u3's INBOX (last answer at $t_node2); u3's dovecot.index.log: $st_before"

touch "$REL"
say "node 1's imap process let go (node 1's coroleased still dead)"
wait "$gdb_pid"
sleep 3
st_after=$(stat -c '%s bytes, mtime %y' "$IDX")
say "u3's dovecot.index.log after: $st_after"
grep -E 'STORE|t4 |BYE|EOF' "$S1" | tail -n 4
grep 'corolease: ' "$CLUSTER_DIR/n1/dovecot-mail.log" | grep -v ' held \| released' | tail -n 4
printf '%s\n' 'SELECT INBOX' 'FETCH 1:* (UID FLAGS)' >"$CLUSTER_DIR/s3.txt"
flags=$(cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s3.txt" | grep 'FETCH (UID 1 ')
say "message 1 on node 2 now: $flags"
check "node 1's paused STORE was not answered OK after node 2 took over" \
	bash -c "! awk -v t=$t_node2 '\$1 > t' '$S1' | grep -q 'S: t4 OK'"
check "u3's index log unchanged after node 1's process resumed" [ "$st_before" = "$st_after" ]
check "node 1's \\Flagged did not land after node 2 took over" bash -c "! grep -q Flagged <<<'$flags'"
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
