#!/bin/bash
# 92. What the plugin shows, one case at a time, on three Dovecot nodes:
#  - a session's leases are in 'corolease list' (user/u1 and the mailbox,
#    held by its node);
#  - a login on another node for the same user waits, the holder's session
#    ends ("corolease: node 2 wants user/u1: ending the session"; its client
#    gets "* BYE [UNAVAILABLE] Session moved: cluster node 2 wants this
#    user" from imap_corolease), and the new node takes the lease;
#  - an LMTP delivery on a third node moves the user lease there; the raw
#    storage of the incoming message takes none;
#  - a mailbox held elsewhere (here by a root CLI on node 2, not
#    node-shared) gives SELECT "NO [INUSE]" after corolease_mailbox_wait;
#  - on a node that is not quorate, a login is refused as unavailable;
#  - with coroleased stopped, a session there ends with "* BYE [UNAVAILABLE]
#    Cluster lease lost: session ended", a login is refused (fail closed)
#    and the log says why; with corolease_fail_mode = open it is served,
#    with a warning.
# The handover timeout is long: sessions must end because the plugin ends
# them on `wanted`, not because the daemon revokes them.
HANDOVER_MS=60000
DV_MAILBOX_WAIT=1s
DV_USER_WAIT=10s
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail)
it_init dovecot-refusals 92
dv_prereq
dv_up 3 1
mlog() { cat "$CLUSTER_DIR/n$1/dovecot-mail.log"; }

# 1. a session on node 1 holds user/u1 and its INBOX
spawn 1 sess1 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u1 --select --seconds 60 >/dev/null
must_wait 20 "u1's session on node 1 selected INBOX" grep -q '^SELECT OK' "$CLUSTER_DIR/n1/sess1.log"
list=$(cl 2 list)
echo "$list"
check "corolease list on node 2 shows user/u1" grep -q 'user/u1' <<<"$list"
check "corolease list on node 2 shows u1's INBOX as a mailbox lease" grep -q 'mailbox//run/cl-mail/u1/Maildir' <<<"$list"
check "node 1 holds user/u1" [ "$(cl 2 owner user/u1)" = 1 ]

# 2. u1 logs in on node 2: node 1's session ends, node 2 serves
out=$(dv_imap 2 u1 select); rc=$?
echo "$out"
check "u1's login on node 2 is served once node 1 let go (rc $rc)" [ $rc = 0 ]
check "node 1's session was told why it ended" grep -q 'corolease: node 2 wants user/u1: ending the session' <(mlog 1)
must_wait 10 "node 1's client saw its session end" grep -q '^ERROR' "$CLUSTER_DIR/n1/sess1.log"
grep '^ERROR' "$CLUSTER_DIR/n1/sess1.log"
# imap_corolease: the BYE says why (Dovecot's own is "Server shutting down.")
check "node 1's client got '* BYE [UNAVAILABLE] Session moved: cluster node 2 wants this user'" \
	grep -q '^ERROR .*\[UNAVAILABLE\] Session moved: cluster node 2 wants this user$' "$CLUSTER_DIR/n1/sess1.log"

# 2b. LMTP delivery to u1 on node 3 (u1 last held on node 2): the user lease
# moves to node 3, the raw storage of the incoming message takes no lease,
# and the message is in u1's INBOX as read from node 1
DV_APPENDED=$CLUSTER_DIR/appended
: >"$DV_APPENDED"
mid=$(cluster exec 1 python3 "$DV_LOAD" lmtp --hosts "$CLUSTER_SUBNET.3" --users u1 --out "$DV_APPENDED"); rc=$?
check "LMTP delivery to u1 on node 3 accepted (rc $rc: $mid)" [ $rc = 0 ]
check "node 3's LMTP took user/u1 and u1's INBOX" \
	bash -c "grep -q 'lmtp(u1).*corolease: user/u1 held' '$CLUSTER_DIR/n3/dovecot-mail.log' &&
		grep -q 'lmtp(u1).*corolease: mailbox//run/cl-mail/u1/Maildir held' '$CLUSTER_DIR/n3/dovecot-mail.log'"
check "node 3's LMTP took u1's store lease (store//run/cl-mail/u1/Maildir)" \
	grep -q 'lmtp(u1).*corolease: store//run/cl-mail/u1/Maildir held' "$CLUSTER_DIR/n3/dovecot-mail.log"
check "no lease for the raw storage (only user/, /run/cl-mail/ store and mailbox leases)" \
	bash -c "! grep 'corolease: .* held' '$CLUSTER_DIR/n3/dovecot-mail.log' | grep -v 'corolease: user/u[0-9] held\|corolease: \(mailbox\|store\)//run/cl-mail/u[0-9]/Maildir held'"
out=$(DV_USERS=u1 dv_check); rc=$?
echo "$out"
check "the delivered message is in u1's INBOX once, as read from every node" grep -q '^check u1: .* missing 0, more than once 0, duplicate uids 0, same list on all 3 hosts: yes' <<<"$out"

# 3. a mailbox held by another node: NO [INUSE]
spawn 2 boxholder "$CLI" acquire mailbox//run/cl-mail/u2/Maildir -- sleep 60 >/dev/null
must_wait 10 "node 2's CLI holds u2's INBOX lease" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u2/Maildir)\" = 2 ]"
out=$(dv_imap 1 u2 select); rc=$?
echo "$out"
check "SELECT of a mailbox held on node 2 fails (rc $rc)" [ $rc = 1 ]
check "the answer is NO [INUSE] naming node 2" grep -q '^SELECT NO \[INUSE\] Mailbox INBOX is in use on cluster node 2' <<<"$out"
kill -TERM "$(daemon_pid 2 boxholder)"

# 4. a node that is not quorate: refused as unavailable (not "in use") after
# corolease_user_wait (a waiting acquire there times out instead of
# answering ENOQUORUM; the plugin then asks the daemon with a sync)
cluster partition 2 >/dev/null
must_wait 15 "node 2 not quorate" bash -c "! '$CLUSTER_SH' exec 2 '$CLI' --json status | grep -q '\"quorate\":true'"
out=$(DV_FROM=2 dv_imap 2 u2 select); rc=$?
echo "$out"
check "u2 on the non-quorate node 2 is refused (rc $rc)" [ $rc = 1 ]
check "node 2's log says the partition is not quorate" \
	grep -q 'corolease: user/u2: User u2: cluster lease unavailable (cluster partition is not quorate)' <(mlog 2)
cluster heal 2 >/dev/null
must_wait 30 "node 2 synced and quorate again" synced 2

# 5. no daemon: a session there ends, saying why; a login is refused (fail closed)
spawn 1 sess3 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.3" --users u3 --select --seconds 60 >/dev/null
must_wait 20 "u3's session on node 3 selected INBOX" grep -q '^SELECT OK' "$CLUSTER_DIR/n1/sess3.log"
kill -TERM "$(daemon_pid 3)"
must_wait 15 "node 3's coroleased stopped" exited "$(daemon_pid 3)"
must_wait 10 "u3's session on node 3 ended" grep -q '^ERROR' "$CLUSTER_DIR/n1/sess3.log"
grep '^ERROR' "$CLUSTER_DIR/n1/sess3.log"
check "u3's client got '* BYE [UNAVAILABLE] Cluster lease lost: session ended'" \
	grep -q '^ERROR .*\[UNAVAILABLE\] Cluster lease lost: session ended$' "$CLUSTER_DIR/n1/sess3.log"
out=$(dv_imap 3 u3 select); rc=$?
echo "$out"
check "u3 on node 3 without coroleased is refused (rc $rc)" [ $rc = 1 ]
check "node 3's log says the lease is unavailable" grep -q 'corolease: user/u3: User u3: cluster lease unavailable' <(mlog 3)

# 6. corolease_fail_mode = open: served without the lease
sed -i 's/corolease_fail_mode = closed/corolease_fail_mode = open/' "$CLUSTER_DIR/n3/dovecot.conf"
kill -HUP "$(daemon_pid 3 dovecot)"
must_wait 20 "node 3 serves u3 with fail_mode open" dv_imap 3 u3 select
check "node 3's log warns that it serves without the lease" grep -q 'corolease_fail_mode=open: serving without the lease' <(mlog 3)

n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
