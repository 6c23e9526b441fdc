#!/bin/bash
# 133. (breaker, issue 10; in TESTS: fixed by the child leases of RENAME,
# t117, and the store lease, which here is the first lease node 2 is asked
# for.)  What it showed before the fixes:
# A RENAME takes the leases of the source and the destination mailbox
# (README; t99), but renaming a mailbox renames its children too (IMAP
# RENAME; in Maildir++ .Work.Sub becomes .Work2.Sub), and their leases are
# not taken: a child another node has open is moved from under it.
#
# u1 has Work and Work.Sub and shares Work.Sub with u2 (acl = vfile, a
# shared namespace shared.%%u.).  u2 on node 2 SELECTs shared.u1.Work.Sub
# and keeps NOOPing (node 2 holds mailbox//run/cl-mail/u1/Maildir/.Work.Sub).
# u1 on node 1 RENAMEs Work to Work2.  Promise (README): "A RENAME takes
# the leases of both the source and the destination mailbox (waiting as an
# open does, so another node that has either open is told and lets go
# first)"; "no two nodes ever work on one mailbox at once".  The check: the
# RENAME is refused, or node 2 was told (corolease: node 1 wants
# .../.Work.Sub) before it, and node 2's session was not cut by the
# directory vanishing ("IMAP session state is inconsistent").
# Seen on the current code (89da8cc): "t1 OK Rename completed (0.034 + ...)"
# at 17:00:58.568 without node 2 being asked; node 2 never logged "node 1
# wants"; the store then held .Work2 and .Work2.Sub; 30 ms later node 2's
# session ended with "* BYE IMAP session state is inconsistent, please
# relogin." (its log: "Disconnected: IMAP session state is inconsistent").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk-rename-children 133
S2=$CLUSTER_DIR/n2/s2.log
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2

printf '%s\n' 'CREATE Work' 'CREATE Work.Sub' 'APPEND Work.Sub' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work and Work.Sub" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t3 OK' >/dev/null"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Work.Sub/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/.Work.Sub/dovecot-acl"
printf '%s\n' 'SELECT shared.u1.Work.Sub' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.Work.Sub" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"

printf '%s\n' 'SELECT shared.u1.Work.Sub' 'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s2.txt"
spawn 2 s2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/s2.txt" >/dev/null
must_wait 20 "u2's session on node 2 selected shared.u1.Work.Sub" grep -q 'took .* t1$' "$S2"
must_wait 10 "node 2 holds u1's Work.Sub" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u1/Maildir/.Work.Sub)\" = 2 ]"

printf '%s\n' 'RENAME Work Work2' 'LIST "" "*"' >"$CLUSTER_DIR/s3.txt"
out=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s3.txt")
grep -E 'S: t1 |took .* t1$|LIST' <<<"$out"
t_ok=$(awk '/ S: t1 OK/ { print $1 }' <<<"$out")
sleep 2
say "RENAME answered OK at ${t_ok:-never}; Work.Sub's lease owner after: $(cl 1 owner mailbox//run/cl-mail/u1/Maildir/.Work.Sub)"
say "the store after: $(ls -a "$DV_STORE/u1/Maildir" | grep '^\.W' | tr '\n' ' ')"
say "node 2's session after the rename: $(tail -n 2 "$S2" | tr '\n' ' ')"
grep 'corolease: \|inconsistent' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep -v ' held \| released' | tail -n 3
if [[ -z $t_ok ]]; then
	ok "the RENAME was refused while node 2 had the child open"
else
	check "node 2's session was not cut by its mailbox vanishing under it (no 'session state is inconsistent')" \
		bash -c "! grep -q 'inconsistent' '$S2'"
	# (u1's store lease, which node 2's open of the shared Work.Sub took
	# too, is the first the rename asks for; then the children's)
	check "node 2 was asked for u1's Work.Sub or u1's store (corolease: node 1 wants ...) before the RENAME went ahead" \
		grep -Eq 'corolease: node 1 wants (mailbox//run/cl-mail/u1/Maildir/.Work.Sub|store//run/cl-mail/u1/Maildir)' "$CLUSTER_DIR/n2/dovecot-mail.log"
fi
it_pass
