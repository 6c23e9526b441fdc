#!/bin/bash
# 95. BREAK TEST (fails on the code it was written against; not in TESTS).
# A holder node whose coroleased hangs (SIGSTOP) and is then cut off: its
# Dovecot session must stop touching the mailbox once its validity lapses,
# before the majority gives the user to another node.
#
# Node 1 holds user/u3 and u3's INBOX for an IMAP session that NOOPs every
# 0.1 s.  Node 1's coroleased is stopped (SIGSTOP: it can neither send the
# `revoked` event nor kill the process) and node 1 is partitioned away.  The
# validity page stops being renewed, so corolease_lease_valid() reads 0
# about 1 s later; nodes 2 and 3 recover node 1's leases after the fence
# delay (4 s) and a session on node 2 APPENDs to u3's INBOX.
#
# Promise (README, issue 10): "on revoked (quorum or validity lost) stop all
# storage access at once and disconnect"; "no two nodes ever work on the
# same mailbox at once".  Seen on the current code: node 1's session goes on
# answering NOOPs and syncing INBOX (it reports the message node 2 appended
# as "* N EXISTS", and strace shows it writing u3's index files) until node
# 1's coroleased is resumed: the plugin acts only on events from the daemon
# and checks validity only in transaction_commit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-stopped-daemon 95
GO=$CLUSTER_DIR/go
S1=$CLUSTER_DIR/n1/s1.log

printf '%s\n' 'SELECT INBOX' "WAIT $GO" 'REPEAT 1200 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u3's session on node 1 selected INBOX" grep -q 'took .* t1$' "$S1"
check "node 1 holds user/u3" [ "$(cl 2 owner user/u3)" = 1 ]
imap_pid=$(sed -n 's/.*imap(u3)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
say "node 1's imap process for u3: $imap_pid"

dpid=$(daemon_pid 1)
kill -STOP "$dpid"
say "SIGSTOP to node 1's coroleased ($dpid); $(cluster partition 1)"
resumed=0
resume() { ((resumed)) && return; resumed=1; kill -CONT "$dpid"; cluster heal 1 >/dev/null; }
touch "$GO"
must_wait 30 "nodes 2 and 3 recovered node 1's hold of user/u3" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner user/u3)\" != 1 ]"

# node 2 takes u3 and appends one message
TRACE=$CLUSTER_DIR/n1/imap-strace.log
if command -v strace >/dev/null; then
	strace -f -y -qq -e trace=write,pwrite64,rename,renameat,renameat2,unlink,unlinkat \
		-o "$TRACE" -p "$imap_pid" 2>/dev/null &
	strace_pid=$!
fi
printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' >"$CLUSTER_DIR/s2.txt"
out=$(cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s2.txt"); rc=$?
echo "$out" | grep -E 'took|message-id|NO|BAD'
t_append=$(awk '/took .* t2$/ { print $1 }' <<<"$out")
[[ $rc == 0 && -n $t_append ]] || { resume; fail "node 2 could not append to u3's INBOX (rc $rc)"; }
say "node 2 appended to u3's INBOX at $t_append (while node 1 is cut off, its daemon stopped)"

# node 1's validity lapsed more than the fence delay ago: its session must
# be gone by now; give it 5 s more
wait_until 5 grep -q 'EOF' "$S1"
[[ -n ${strace_pid:-} ]] && { kill "$strace_pid" 2>/dev/null; wait "$strace_pid" 2>/dev/null; }
after=$(awk -v t="$t_append" '$1 > t && / S: t[0-9]+ OK NOOP/' "$S1" | wc -l)
exists=$(awk -v t="$t_append" '$1 > t && / S: \* [0-9]+ EXISTS/' "$S1" | head -n 3)
writes=0
[[ -f $TRACE ]] && writes=$(grep -E '/run/cl-mail/u3' "$TRACE" | grep -cvE '^[0-9]+ +(read|pread)' || true)
say "after node 2's APPEND, node 1's session answered $after NOOPs OK; EXISTS seen there: ${exists:-none}"
say "node 1's imap process made $writes write/rename/unlink calls on u3's files after node 2 took over (strace)"
[[ -f $TRACE ]] && grep -E '/run/cl-mail/u3' "$TRACE" | head -n 8
ended=0
grep -q 'EOF' "$S1" && ended=1
# a session that did not end: where its process is, before the resume
# changes it (fail() would show it only after)
((ended)) || { it_on_fail; IT_IN_FAIL=1; }
resume
must_wait 30 "node 1 synced again" synced 1

check "node 1's session ended before node 2 wrote u3's INBOX (validity lapsed, no NOOP answered after)" \
	[ "$ended" = 1 -a "$after" = 0 ]
check "node 1's session did not see node 2's message (it no longer reads the mailbox)" [ -z "$exists" ]
check "node 1's imap process wrote none of u3's files after node 2 took over ($writes)" [ "$writes" = 0 ]
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
