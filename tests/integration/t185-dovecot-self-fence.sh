#!/bin/bash
# 185. A step that outlasts the lease: the mail process fences itself.
#
# The plugin checks its leases between Dovecot's steps (sync, save, commit,
# and every 100 ms from the ioloop).  The first SELECT of a maildir with
# many messages in new/ is one long step: Dovecot renames them to cur/ and
# indexes them without coming back.  Node 1's session SELECTs u3's INBOX
# with N (20,000) new messages; once it holds INBOX's lease, node 1's
# coroleased is stopped (SIGSTOP: it can neither revoke nor kill) and node
# 1 is partitioned.  Nodes 2 and 3 recover node 1's leases after the fence
# delay and a session on node 2 SELECTs INBOX and APPENDs.
#
# Before (1f1e57e; helper-89's tbrk-long-sync): node 1's sync ran on for
# 24 s (40,000 messages) and its imap process made 35,156 writes and
# renames of u3's files after node 2 held INBOX.  Now the plugin's
# self-fence timer kills the process (SIGKILL) 200 ms before the lease's
# stop deadline (its validity deadline plus revoke_timeout_ms), before
# which no other node grants it: no write of node 1's after node 2 holds
# INBOX (strace), the self-fence's line in node 1's log, and the kill
# before node 2's grant.
N=${T185_N:-20000}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
dv_start dovecot-self-fence 185
GO=$CLUSTER_DIR/go
S1=$CLUSTER_DIR/n1/s1.log
MLOG1=$CLUSTER_DIR/n1/dovecot-mail.log
MLOG2=$CLUSTER_DIR/n2/dovecot-mail.log
BOX=mailbox//run/cl-mail/u3/Maildir

# u3's Maildir exists (a first session), then N messages in new/
printf '%s\n' 'SELECT INBOX' >"$CLUSTER_DIR/s0.txt"
out0=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s0.txt")
grep -q 'S: t1 OK' <<<"$out0" || fail "u3's first session: $out0"
python3 - "$DV_STORE/u3/Maildir/new" "$N" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t = int(time.time())
for i in range(n):
    with open(os.path.join(d, "%d.M%dP1.t185" % (t, i)), "w") as f:
        f.write("From: a@it\r\nSubject: m%d\r\nMessage-ID: <m%d@t185>\r\n\r\nbody %d\r\n" % (i, i, i))
PY
chown -R mail:mail "$DV_STORE/u3"
say "$N messages in u3's new/"
must_wait 30 "nobody holds u3's INBOX" bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner $BOX)\" = 0 ]"

printf '%s\n' "WAIT $GO" 'SELECT INBOX' 'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u3 logged in on node 1" grep -q 'took .* a0$' "$S1"
imap_pid=$(sed -n 's/.*imap(u3)<\([0-9]*\)>.*/\1/p' "$MLOG1" | tail -n 1)
say "node 1's imap process for u3: $imap_pid"
TRACE=$CLUSTER_DIR/n1/imap-strace.log
strace -f -ttt -y -qq -e trace=write,pwrite64,rename,renameat,renameat2,unlink,unlinkat,link,linkat \
	-o "$TRACE" -p "$imap_pid" 2>/dev/null &
strace_pid=$!
sleep 0.5
n0=$(grep -c "$BOX held" "$MLOG1")
touch "$GO"
must_wait 20 "node 1 holds u3's INBOX lease (its SELECT syncing)" \
	bash -c "[ \$(grep -c '$BOX held' '$MLOG1') -gt $n0 ]"
sleep 0.3
grep -q 'took .* t1$' "$S1" && skip "node 1's SELECT finished before the stop (a fast machine; raise T185_N): nothing tested"
dpid=$(daemon_pid 1)
kill -STOP "$dpid"
say "SIGSTOP to node 1's coroleased ($dpid); $(cluster partition 1)"
resumed=0
resume() { ((resumed)) && return; resumed=1; kill -CONT "$dpid"; cluster heal 1 >/dev/null; }
trap 'rc=$?; resume; kill $strace_pid 2>/dev/null; (exit $rc); dv_cleanup' EXIT
must_wait 30 "nodes 2 and 3 recovered node 1's hold of user/u3" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner user/u3)\" != 1 ]"
printf '%s\n' 'SELECT INBOX' 'APPEND INBOX' 'NOOP' >"$CLUSTER_DIR/s2.txt"
spawn 2 s2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u3 "$CLUSTER_DIR/s2.txt" >/dev/null
must_wait 120 "node 2 holds u3's INBOX" grep -q "$BOX held" "$MLOG2"
t_n2=$(date +%s.%N)
must_wait 120 "node 1's session is gone" grep -q 'EOF' "$S1"
must_wait 120 "node 2's session ended" grep -qE 'EOF|took .* z$' "$CLUSTER_DIR/n2/s2.log"
gone=0
wait_until 10 exited "$imap_pid" && gone=1
kill "$strace_pid" 2>/dev/null; wait "$strace_pid" 2>/dev/null
grep -E 'self-fence|killed with signal|corolease: .*(valid|ending)' "$MLOG1" | tail -n 4 | cut -c1-200
grep -E 'took|NO|BAD|BYE|EOF' "$CLUSTER_DIR/n2/s2.log" | head -n 6 | cut -c1-150
total=$(grep -c '/run/cl-mail/u3' "$TRACE" || true)
after=$(awk -v t="$t_n2" '$2+0 > t+0 && /\/run\/cl-mail\/u3/' "$TRACE" | wc -l)
say "node 1's imap process: $total writes/renames of u3's files in all, $after after node 2 held INBOX"
awk -v t="$t_n2" '$2+0 > t+0 && /\/run\/cl-mail\/u3/' "$TRACE" | head -n 3 | cut -c1-200
resume
must_wait 30 "node 1 synced again" synced 1

check "node 1's imap process fenced itself (its log says so)" grep -q 'corolease: self-fence' "$MLOG1"
check "node 1's imap process is gone (killed, $imap_pid)" [ "$gone" = 1 ]
check "node 1's imap process wrote none of u3's files after node 2 held INBOX ($after of $total)" [ "$after" = 0 ]
check "node 2's session appended to u3's INBOX" grep -q 'OK \[APPENDUID' "$CLUSTER_DIR/n2/s2.log"
n=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 3
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
