#!/bin/bash
# 139. BREAK ATTEMPT (not in TESTS; PASSED on 89da8cc, kept as a record): t131 with a healthy coroleased on node 1 (only the partition and the store stall; kill_on_revoke=yes must SIGKILL the stalled process before nodes 2 and 3 recover). Header of t131 follows.
# t139 seen (89da8cc): PASS.  Node 1's coroleased: "killing client 9 pid
# 565: still using revoked lease user/u3" at 17:09:48, strace "+++ killed
# by SIGKILL +++" (the process was blocked in FUSE), Dovecot "child 565
# killed with signal 9"; node 2 wrote at 17:09:53; no write by node 1
# after.  (The "Seen" text and messages below about a stopped coroleased
# are t131's.)
# The plugin checks corolease_lease_valid() before a commit and every
# 100 ms from the ioloop, but nothing between that check and the writes
# the commit makes: a mail process stalled inside a commit (here: its
# node's view of the store stops answering, as an NFS hard mount does when
# the node is cut off) goes on writing once it resumes, whoever holds the
# lease by then.  With the node's coroleased hung (SIGSTOP, as in t95) and
# the node cut off, nobody kills the stalled process (kill_on_revoke needs
# a running daemon), and the majority recovers the leases after the fence
# delay.
#
# u3's session on node 1 has INBOX selected (one message).  Node 1's
# bindfs is stopped, then the session sends STORE 1 +FLAGS (\Flagged): the
# imap process passes the plugin's check and blocks inside the commit.
# Node 1's coroleased is stopped and node 1 partitioned; nodes 2 and 3
# recover user/u3; a session on node 2 APPENDs to u3's INBOX and sets
# \Seen on message 1.  Then node 1's bindfs is resumed (node 1 still cut
# off, its coroleased still stopped).  Promise (README): "A node that is
# paused or cut off stops by the deadline"; "a commit after it fails,
# nothing is written"; "never two writers".  Seen on the current code
# (89da8cc): node 2 APPENDed and set \Seen at 16:58:17.7; node 1's bindfs
# resumed at 16:58:19.66, and 0.3 s later node 1's imap process wrote
# u3's dovecot.index.log (strace: write(14</run/cl-mail/u3/Maildir/
# dovecot.index.log>, ..., 20) = 20) and answered "t4 OK Store completed
# (16.752 + ...)"; only then did its 100 ms check log "no longer valid".
# Message 1 ends up \Flagged \Seen: node 1's flag change landed after node 2
# took u3 over.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk-stalled-commit-live 139
GO=$CLUSTER_DIR/go
S1=$CLUSTER_DIR/n1/s1.log

printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'NOOP' "WAIT $GO" 'STORE 1 +FLAGS (\Flagged)' \
	'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u3's session on node 1 appended and waits" grep -q 'took .* t3$' "$S1"
check "node 1 holds user/u3" [ "$(cl 2 owner user/u3)" = 1 ]
imap_pid=$(sed -n 's/.*imap(u3)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 1)
say "node 1's imap process for u3: $imap_pid"
TRACE=$CLUSTER_DIR/n1/imap-strace.log
command -v strace >/dev/null || skip "strace is not installed"
strace -f -tt -y -qq -e trace=write,pwrite64,rename,renameat,renameat2,unlink,unlinkat,ftruncate \
	-o "$TRACE" -p "$imap_pid" 2>/dev/null &
strace_pid=$!
sleep 1

bpid=$(daemon_pid 1 z-bindfs)
kill -STOP "$bpid"
say "SIGSTOP to node 1's bindfs ($bpid): node 1's view of the store stalls"
touch "$GO"
sleep 2
say "imap process $imap_pid: state $(awk '/^State/ {print $2}' /proc/$imap_pid/status), wchan $(cat /proc/$imap_pid/wchan)"
grep 'STORE' "$S1" | tail -n 2

dpid=$(daemon_pid 1)
: # coroleased left running
say "node 1 partitioned, its coroleased running ($dpid): $(cluster partition 1)"
resumed=0
resume() { ((resumed)) && return; resumed=1; kill -CONT "$bpid" "$dpid"; cluster heal 1 >/dev/null; }
must_wait 30 "nodes 2 and 3 recovered node 1's hold of user/u3" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner user/u3)\" != 1 ]"
printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'STORE 1 +FLAGS (\Seen)' 'FETCH 1:* (UID FLAGS)' >"$CLUSTER_DIR/s2.txt"
out=$(cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s2.txt"); rc=$?
echo "$out" | grep -E 'took|FETCH|NO|BAD'
t_node2=$(awk '/took .* t4$/ { print $1 }' <<<"$out")
[[ $rc == 0 && -n $t_node2 ]] || { resume; fail "node 2 could not write u3's INBOX (rc $rc)"; }
say "node 2 wrote u3's INBOX; its last command answered at $t_node2"
tn2=$(date +%H:%M:%S.%N)

kill -CONT "$bpid"
say "SIGCONT to node 1's bindfs at $tn2 (node 1 still cut off, its coroleased still stopped)"
sleep 4
kill "$strace_pid" 2>/dev/null; wait "$strace_pid" 2>/dev/null
grep -E 'STORE|took .* t4$|EOF' "$S1" | tail -n 4
writes=$(awk -v t="${tn2:0:15}" '$2 >= t' "$TRACE" | grep -E '/run/cl-mail/u3' | grep -vE ' (read|pread64)\(' | wc -l)
say "node 1's imap process: $writes write/rename/unlink calls on u3's files after node 2 wrote (strace)"
awk -v t="${tn2:0:15}" '$2 >= t' "$TRACE" | grep -E '/run/cl-mail/u3' | cut -c1-200 | head -n 12
grep 'corolease: ' "$CLUSTER_DIR/n1/dovecot-mail.log" | grep -v ' held \| released' | tail -n 4
resume
must_wait 30 "node 1 synced again" synced 1
printf '%s\n' 'SELECT INBOX' 'FETCH 1:* (UID FLAGS)' >"$CLUSTER_DIR/s3.txt"
cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s3.txt" | grep -E 'FETCH|NO|BAD'
check "node 1's stalled STORE was not answered OK after node 2 took over" \
	bash -c "! awk -v t=$t_node2 '\$1 > t' '$S1' | grep -q 'S: t4 OK'"
check "node 1's imap process wrote none of u3's files after node 2 took over ($writes)" [ "$writes" = 0 ]
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
