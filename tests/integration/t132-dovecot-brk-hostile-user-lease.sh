#!/bin/bash
# 132. BREAK TEST (fails on the code it was written against; not in TESTS).
# Lease names are not owned by users (README "Security model"), and the
# plugin's leases are plain names: any other member of socket_group (here
# uid 61001 with group mail, not the mail user) can take user/u1 with the
# CLI.  The mail processes (uid mail) then only wait for it on that node
# (another uid's local waiter never revokes), and with routing every node
# sends u1's logins to the node where the hostile hold is: u1 cannot log in
# anywhere for as long as uid 61001 likes.  A hold of u1's INBOX lease
# (mailbox//run/cl-mail/u1/Maildir) does the same to SELECT INBOX.
# Promise (README, Dovecot section): a login waits at most
# corolease_user_wait for "another node to let the user go"; the claim
# tested here is that a local non-mail user cannot lock a mail user out.
# Seen on the current code (89da8cc): with uid 61001's `corolease acquire
# user/u1 -- sleep 120` on node 1, u1's logins on nodes 2 and 3 were
# proxied to node 1 ("proxy(u1,10.85.132.1:143): Started proxying ...
# (8.0 secs)") and refused there, as was one on node 1 itself, each after
# about 9 s: "OK Logged in, but initialization failed", log "corolease:
# user/u1: User u1 is in use on cluster node 1: session refused"; 3 of 3
# failed, user/u1 still node 1's.
HANDOVER_MS=2000
DV_ROUTE=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail)
it_init dovecot-brk-hostile-user-lease 132
dv_prereq
[[ -x $DV_ROUTER ]] || skip "corolease-route not built"
getent group dovecot >/dev/null || skip "no dovecot group"
dv_up 3 1
AS=(setpriv --reuid=61001 --regid="$(id -g mail)" --clear-groups)

spawn 1 hostile "${AS[@]}" "$CLI" acquire user/u1 -- sleep 120 >/dev/null
must_wait 10 "uid 61001 holds user/u1 on node 1" bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner user/u1)\" = 1 ]"
fails=0
for i in 2 3 1; do
	t0=$(date +%s.%N)
	out=$(dv_imap "$i" u1 select 2>&1); rc=$?
	t1=$(date +%s.%N)
	say "u1's login+SELECT on node $i: rc $rc after $(echo "$t1 - $t0" | bc) s: $(echo "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
	((rc != 0)) && fails=$((fails + 1))
done
grep -h 'corolease' "$CLUSTER_DIR"/n1/dovecot-mail.log | grep -v ' held \| released' | tail -n 3
grep -h 'Started proxying\|proxy(u1' "$CLUSTER_DIR"/n[23]/dovecot-mail.log | tail -n 2
say "owner of user/u1 after: $(cl 2 owner user/u1)"
check "u1 can log in while uid 61001 (not the mail user) holds user/u1 ($fails of 3 failed)" [ "$fails" = 0 ]
it_pass
