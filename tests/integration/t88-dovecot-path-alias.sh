#!/bin/bash
# 88. BREAK TEST (fails on the code it was written against; not in TESTS).
# A mailbox lease is named by the mailbox's directory as Dovecot spells it
# ("mailbox/" + mailbox_get_path_to()), not by the directory itself.  Two
# spellings of one directory are two leases: no exclusion between them.
#
# Node 2 has an ACL-shared namespace whose location spells the store with
# a "./" (maildir:/run/cl-mail/./%%u/Maildir: the same directories).  u1's
# own session on node 1 has INBOX selected (lease
# mailbox//run/cl-mail/u1/Maildir, node 1).  u2 on node 2 SELECTs
# shared.u1.INBOX and APPENDs: the plugin takes
# mailbox//run/cl-mail/./u1/Maildir, granted at once, and both nodes work
# on u1's INBOX.  Promise: "no two nodes ever work on the same mailbox at
# once"; "shared/public namespaces protected by mailbox leases".  Any
# spelling does it: a trailing or doubled slash, a symlinked mail root, a
# home given as %h on one side and spelled out on the other.
# Fixed: the lease is named by the canonical path (realpath of the longest
# existing prefix, the rest normalised lexically).  The session's end is
# judged by the lease (node 2 waits for node 1's release under the same
# name) and by node 1 answering nothing after node 2's write: the client's
# EOF time is when it next reads, up to its 0.1 s sleep after the server
# ended the session.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-path-alias 88
S1=$CLUSTER_DIR/n1/s1.log
dv_shared_ns "maildir:/run/cl-mail/./%%u/Maildir" 2

out=$(dv_imap 1 u1 select) || fail "u1's first login on node 1: $out"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/dovecot-acl"
printf '%s\n' 'SELECT shared.u1.INBOX' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 2 reloaded: u2 can select shared.u1.INBOX" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s0.txt' | grep 'S: t1 OK' >/dev/null"
# the linger of that check's hold
must_wait 10 "nobody holds u1's INBOX" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u1/Maildir)\" = 0 ]"

# u1's own session on node 1 has INBOX selected
printf '%s\n' 'SELECT INBOX' 'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u1's session on node 1 selected INBOX" grep -q 'took .* t1$' "$S1"
# (node 2's daemon applies the grant when it has read it: under load a
# moment after node 1's session was told)
must_wait 10 "node 1 holds u1's INBOX, as node 2 sees it" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner mailbox//run/cl-mail/u1/Maildir)\" = 1 ]"

# u2 on node 2 writes u1's INBOX through the shared namespace
printf '%s\n' 'SELECT shared.u1.INBOX' 'APPEND shared.u1.INBOX' >"$CLUSTER_DIR/s2.txt"
out=$(cluster exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/s2.txt")
grep -E 'S: t[12] |took .* t[12]$' <<<"$out"
t_app=$(awk '/ S: t2 OK/ { print $1 }' <<<"$out")
grep 'corolease: mailbox/' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 2
# node 1's client sees the BYE only at its next read (0.1 s sleeps): wait for it
wait_until 10 grep -q ' EOF$' "$S1"
t_end=$(awk '/ EOF$/ { print $1 }' "$S1")
alive=0
[[ -z $t_end ]] && alive=1
noops=$(awk -v t="${t_app:-0}" '$1 > t && / S: t[0-9]+ OK NOOP/' "$S1" | wc -l)
say "node 2's APPEND to shared.u1.INBOX: ${t_app:-refused}; node 1's session ended at ${t_end:-never (still running)}, NOOPs answered after the APPEND: $noops"
if [[ -z $t_app ]]; then
	ok "node 2's write to u1's INBOX was refused while node 1 had it selected"
else
	# the client sees the BYE only when it next reads (it sleeps 0.1 s
	# between NOOPs), so its EOF time may follow the APPEND although the
	# server ended the session first; what shows the exclusion: node 2 took
	# the very lease node 1 held, node 1 was told, and node 1's session
	# answered nothing after node 2's write
	# (Dovecot's log process writes these lines a moment after the
	# session logged them: waited for, up to 10 s under load)
	must_wait 10 "node 2 took u1's INBOX under the same lease name as node 1" \
		grep -q 'corolease: mailbox//run/cl-mail/u1/Maildir held' "$CLUSTER_DIR/n2/dovecot-mail.log"
	# (the store lease, taken before the mailbox's, is the first asked for)
	must_wait 10 "node 1 was asked for u1's INBOX or u1's store by node 2" \
		grep -Eq 'corolease: node 2 wants (mailbox|store)//run/cl-mail/u1/Maildir' "$CLUSTER_DIR/n1/dovecot-mail.log"
	check "node 1's session on u1's INBOX had ended (EOF) and answered no NOOP after node 2's write ($noops)" \
		[ -n "$t_end" -a "$noops" = 0 ]
fi
it_pass
