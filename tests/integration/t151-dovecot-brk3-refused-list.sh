#!/bin/bash
# 151. (breaker 3) A listing refused for its store lease (the plugin's own
# failed iteration context, cl_iters), then more commands in the session.
# u1's store lease is held on node 3 by a `corolease acquire ... -- sleep`
# (it ignores `wanted`; with corolease_mailbox_wait 1s, shorter than the
# daemon's handover timeout, it is never revoked).  u2 on node 2 then runs
# a series of listings that touch u1's store (LIST of shared.u1.*, LIST of
# everything, LIST-EXTENDED with several patterns and RETURN (STATUS ...),
# LSUB, STATUS, SELECT), each refused in turn, and then normal work in its
# own store (CREATE, RENAME with children, LIST).
# Check: a refused listing's answer names the refusal, Dovecot logs no
# Panic/Fatal/signal.  Seen (09:56, 8e63ac0): LIST "" "shared.u1.*" and
# LIST "" ("Mine*" "shared.u1.*" "INBOX") refused answer "NO [SERVERBUG]
# BUG: Unknown internal list error" (the plugin's message is set on u1's
# list, IMAP reports the namespace list's); no Panic.
DV_MAILBOX_WAIT=${DV_MAILBOX_WAIT:-1s}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk3-refused-list 151
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2

printf '%s\n' 'CREATE Work' 'CREATE Work.Sub' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t2 OK' '$CLUSTER_DIR/s0.log'"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.Work.Sub/dovecot-acl"
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'LIST "" "shared.u1.*"' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 lists shared.u1.*" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' >'$CLUSTER_DIR/s1.log'; grep -q 'LIST .*shared.u1.Work' '$CLUSTER_DIR/s1.log'"
# u1's store held on node 3 by a lease holder that does not give it up
# (the daemon revokes it after its handover timeout: it takes it again)
cat >"$CLUSTER_DIR/holder.sh" <<EOS
#!/bin/bash
while [ ! -e '$CLUSTER_DIR/stop' ]; do '$CLI' acquire store//run/cl-mail/u1/Maildir --wait 30 -- sleep 600; done
EOS
chmod +x "$CLUSTER_DIR/holder.sh"
SB=$CLUSTER_DIR/n2/sb.log
# u2's session autocreates u1's shared namespace first (SELECT, CLOSE)
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'LIST "" "shared.u1.*"' "WAIT $CLUSTER_DIR/go" >"$CLUSTER_DIR/b.txt"
cat >>"$CLUSTER_DIR/b.txt" <<'EOS'
CREATE Mine
CREATE Mine.Child
LIST "" "shared.u1.*"
LIST "" "shared.u1.*"
NOOP
LIST "" "*"
LIST "" "%"
LIST "" "shared.%"
LIST "" "shared.u1.Work.%"
LIST (SUBSCRIBED) "" "*"
LSUB "" "*"
LIST "" ("Mine*" "shared.u1.*" "INBOX") RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))
LIST (REMOTE RECURSIVEMATCH SUBSCRIBED) "" ("shared.u1.*" "*")
STATUS shared.u1.Work (MESSAGES UIDNEXT)
SELECT shared.u1.Work
SELECT shared.u1.Work.Sub
EXAMINE shared.u1.Work
CREATE shared.u1.New
DELETE shared.u1.Work.Sub
RENAME shared.u1.Work shared.u1.Work2
SUBSCRIBE shared.u1.Work
REPEAT 10 LIST "" "*" ; LIST "" "shared.u1.*"
RENAME Mine Mine2
LIST "" "Mine*"
SELECT INBOX
APPEND INBOX
SEARCH ALL
NAMESPACE
LIST "" "*"
NOOP
EOS
spawn 2 sb python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
must_wait 30 "u2 listed shared.u1.* on node 2" grep -q 'took .* t3$' "$SB"
spawn 3 holder "$CLUSTER_DIR/holder.sh" >/dev/null
must_wait 25 "node 3 holds u1's store" bash -c "'$CLUSTER_SH' exec 1 '$CLI' owner store//run/cl-mail/u1/Maildir | grep -q 3"
touch "$CLUSTER_DIR/go"
must_wait 240 "u2's session on node 2 ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
touch "$CLUSTER_DIR/stop"
# each command's tagged answer, and its time
awk '/ C: /{c=$0; sub(/^[0-9.]+ C: /,"",c)} / S: t[0-9]+ /{a=$0; sub(/^[0-9.]+ S: /,"",a); print substr(c,1,60) "  =>  " substr(a,1,150)}' "$SB" | sort -t' ' -k1.2,1n | head -n 70
grep -h 'corolease' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep -v 'held\|released' | sort | uniq -c | sort -rn | head -n 10
grep -hE 'Panic|Fatal|signal|Error' "$CLUSTER_DIR"/n[12]/dovecot-mail.log | head -n 10
nans=$(grep -cE 'S: t[0-9]+ (OK|NO|BAD)' "$SB" || true) ncmd=$(grep -c ' C: t' "$SB" || true)
# the session may be ended by node 3's holder wanting u1's store back
# while u2 holds it (by design): then only the commands sent so far count
bug=$(grep -c 'SERVERBUG' "$SB" || true) ref=$(grep -c 'corolease: store//run/cl-mail/u1/Maildir: The mail store' "$CLUSTER_DIR/n2/dovecot-mail.log" || true)
say "u2: $ncmd commands, $nans answered, $ref refusals of u1's store logged, $bug answers [SERVERBUG]; ended: $(grep -oE 'BYE \[.*|EOF' "$SB" | head -n 1)"
check "a refused listing says why ([INUSE] ... in use on cluster node 3), not [SERVERBUG] ($bug SERVERBUG answers)" [ "$bug" = 0 ]
check "no Panic/Fatal/signal in Dovecot's logs" bash -c "! grep -hE 'Panic|Fatal|signal' '$CLUSTER_DIR'/n[12]/dovecot-mail.log"
it_pass
