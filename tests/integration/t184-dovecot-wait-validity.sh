#!/bin/bash
# 184. A session that waits for a lease while its daemon hangs ends when the
# leases it already holds lapse, not when the wait is over.
#
# The plugin checks the validity of a session's leases every 100 ms from a
# timer of the process's ioloop; a waiting acquire (corolease_mailbox_wait)
# runs a poll loop of its own, in which that timer does not run.  Node 1's
# session holds u1's user, store and INBOX leases; its coroleased is
# stopped (SIGSTOP: it can tell the session nothing) and the session then
# SELECTs Fresh, a mailbox nobody holds, with a wait of 20 s.  The leases
# it holds lapse about one validity (the token, 4 s here) after the stop.
#
# Before (4517ca7): the wait went on to its end (20 s, then the plugin's
# bound of 10 s), the SELECT was refused "coroleased did not answer in
# time", and only then did the session end.  Now the wait checks the
# leases as the timer would: the session ends at the lapse ("the wait for
# ... ends"), with no answer to the SELECT.
DV_MAILBOX_WAIT=20s
export TOKEN=${T184_TOKEN:-4000}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-wait-validity 184
GO=$CLUSTER_DIR/go
S1=$CLUSTER_DIR/n1/s1.log
MLOG=$CLUSTER_DIR/n1/dovecot-mail.log
FRESH=mailbox//run/cl-mail/u1/Maildir/.Fresh

# the creator's hold of Fresh lingers out first: the SELECT must wait for
# the daemon, not find the lease held on this node
dv_fresh_waiter "$GO"

dv_stop_daemon 1
say "SIGSTOP to node 1's coroleased ($dpid)"
touch "$GO"
must_wait 60 "node 1's session ended" grep -q 'EOF' "$S1"
grep -E ' (C|S): t2 |took .* t2$|BYE|EOF' "$S1" | cut -c1-140
grep -E 'corolease: .*(wait for|no longer valid|ending the session)' "$MLOG" | cut -c1-170
lapsed_first=0
grep -q "the wait for $FRESH ends" "$MLOG" || lapsed_first=1
if ((lapsed_first)) && ! grep -q ' C: t2 ' "$S1"; then
	dv_resume
	skip "the leases lapsed before the session sent its SELECT (a loaded machine): nothing was tested"
fi
dv_resume
must_wait 30 "node 1 synced again" synced 1

check "the wait for Fresh ended when the session's leases lapsed" \
	grep -q "the wait for $FRESH ends: the session's leases are no longer valid" "$MLOG"
check "the SELECT got no answer: the session ended during its wait, not after it" \
	bash -c "! grep -q 'took .* t2\$' '$S1'"
check "the client was told why (BYE [UNAVAILABLE])" grep -q 'S: \* BYE \[UNAVAILABLE\]' "$S1"
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
