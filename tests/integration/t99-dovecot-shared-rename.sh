#!/bin/bash
# 99. BREAK TEST (fails on the code it was written against; not in TESTS).
# A mailbox shared through ACLs is protected by its mailbox lease (README:
# "in any namespace (so another user's mailbox shared through ACLs is
# covered too)").  But the plugin wraps only open/close/free/commit:
# RENAME (mailbox_rename) does not open the mailbox, so it takes no lease.
#
# u1 shares its folder Work with u2 (acl = vfile, a shared namespace
# shared.%%u.).  u2 on node 2 SELECTs shared.u1.Work and keeps NOOPing:
# node 2 holds mailbox//run/cl-mail/u1/Maildir/.Work.  u1 on node 1
# (which holds user/u1) RENAMEs Work to Work2: the rename of the maildir
# directory under node 2's open mailbox must wait for node 2 to let go (or
# be refused with NO [INUSE]).  Seen on the current code: "RENAME OK" in
# 0.11 s without asking node 2; node 2 still held the lease, and its
# session ended with Dovecot's "* BYE IMAP session state is inconsistent,
# please relogin." as the directory vanished under it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-shared-rename 99
S2=$CLUSTER_DIR/n2/s2.log
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2

# u1 creates Work (a session of its own, logged out again) and shares it
printf '%s\n' 'CREATE Work' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t1 OK' >/dev/null"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
chown mail:mail "$DV_STORE/u1/Maildir/.Work/dovecot-acl"
printf '%s\n' 'SELECT shared.u1.Work' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'S: t1 OK' >/dev/null"

# u2's session on node 2 keeps shared.u1.Work open
printf '%s\n' 'SELECT shared.u1.Work' 'REPEAT 600 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s2.txt"
spawn 2 s2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/s2.txt" >/dev/null
must_wait 20 "u2's session on node 2 selected shared.u1.Work" grep -q 'took .* t1$' "$S2"
must_wait 10 "node 2 holds u1's Work" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u1/Maildir/.Work)\" = 2 ]"

# u1 on node 1 renames Work
printf '%s\n' 'RENAME Work Work2' >"$CLUSTER_DIR/s3.txt"
out=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s3.txt")
grep -E 'S: t1 |took .* t1$' <<<"$out"
t_ok=$(awk '/ S: t1 OK/ { print $1 }' <<<"$out")
owner=$(cl 1 owner mailbox//run/cl-mail/u1/Maildir/.Work)
t_end=$(awk '/ EOF$/ { print $1 }' "$S2")
say "RENAME answered OK at ${t_ok:-never}; node 2's session ended at ${t_end:-never}; Work's lease owner after the RENAME: $owner"
say "node 2's session after the rename: $(tail -n 2 "$S2" | tr '\n' ' ')"
grep 'corolease: ' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep -v ' held \| released' | tail -n 3
if [[ -z $t_ok ]]; then
	ok "the RENAME was refused while node 2 had the mailbox open"
else
	# the rename may go ahead only once node 2 was told (wanted) and let go;
	# Dovecot noticing its mailbox vanish is the rename running under it
	check "node 2's session was not cut by the mailbox vanishing under it (no 'session state is inconsistent')" \
		bash -c "! grep -q 'inconsistent' '$S2'"
	# (u1's store lease, which node 2's open of the shared Work took too,
	# is the first the rename asks for)
	check "node 2 was asked for u1's Work or u1's store (corolease: node 1 wants ...) before the RENAME went ahead" \
		grep -Eq 'corolease: node 1 wants (mailbox//run/cl-mail/u1/Maildir/.Work|store//run/cl-mail/u1/Maildir)' "$CLUSTER_DIR/n2/dovecot-mail.log"
fi
it_pass
