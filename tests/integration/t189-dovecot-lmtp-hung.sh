#!/bin/bash
# 189. One LMTP transaction with R recipients to a node whose coroleased is
# stopped.  Each recipient's mail user takes its user lease at DATA; each
# take used to wait out its whole bound (corolease_user_wait, 8 s here), so
# the DATA took R bounds (helper-89: 32 s for 4 recipients; with enough
# recipients the MTA's own timeout ends the transaction and it delivers
# again to those already served).  Now the first unanswered take makes the
# process's next ones ask one question bounded by 1 s first, and the takes
# of the second after such a question go unanswered fail without asking:
# about one bound and one or two short questions in all.  Every recipient is still refused with a temporary
# error (fail_mode closed: no delivery without the lease), and once the
# daemon is resumed the same LMTP service delivers under the lease again.
# With fail_mode open every recipient is served without the lease, the
# first after its whole bound and the others after their short question;
# but not once the daemon answers again, even within that second.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
R=6
dv_start dovecot-lmtp-hung 189
out=$(cluster exec 1 python3 "$DV_LMTP" "$CLUSTER_SUBNET.1" v1)
grep -q '^REPLY v1 250' <<<"$out" || fail "warm-up delivery to v1 failed: $out"
ok "warm-up delivery to v1 saved"

# lmtp_stopped P N: one LMTP transaction to P1..PN while node 1's
# coroleased is stopped; its lines in out, the DATA's length (ms) in el
lmtp_stopped() {
	local k rcpts=""
	for ((k = 1; k <= $2; k++)); do rcpts+="${rcpts:+,}$1$k"; done
	dv_stop_daemon 1
	say "SIGSTOP to node 1's coroleased ($dpid); LMTP with $2 recipients"
	out=$(cluster exec 1 python3 "$DV_LMTP" "$CLUSTER_SUBNET.1" "$rcpts")
	echo "$out"
	grep -E 'corolease:' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n $(($2 + 3)) | cut -c1-200
	dv_resume
	el=$(sed -n 's/^DATA_MS //p' <<<"$out")
	[[ -n $el ]] || fail "the LMTP transaction to $rcpts did not finish"
}

lmtp_stopped v "$R"
refused=$(grep -c '^REPLY v[0-9]* 4[0-9][0-9]$' <<<"$out")
(( refused == R )) || fail "$refused of $R recipients refused with a temporary error (none may be saved without the lease)"
ok "all $R recipients refused with a temporary error"
check "the log says the next takes first ask one question of at most 1000 ms" \
	grep -q 'coroleased did not answer in time; for 60 s a take first asks it one question of at most 1000 ms' "$CLUSTER_DIR/n1/dovecot-mail.log"
# one bound (8 s) and a question or two of 1 s; R bounds took 48 s
limit=$(( 8000 + 2 * 2500 + 5000 ))
(( el < limit )) || fail "the DATA took $el ms on a hung daemon (limit $limit ms: one bound, short questions)"
ok "the DATA took $el ms on a hung daemon ($R bounds would be $((R * 8000)) ms)"

must_wait 30 "node 1 synced again" synced 1
# within a second of the last unanswered question a take is refused
# without asking (the 10:26 run of the Dovecot group): the MTA tries again
must_wait 10 "after the resume LMTP delivers to v2" dv_deliver 1 v2
check "v2's delivery took its user lease" grep -q 'user/v2 held' "$CLUSTER_DIR/n1/dovecot-mail.log"
ok "after the resume LMTP delivers under the lease again"

# corolease_fail_mode = open: the first recipient is served without the
# lease after its whole bound, as before; its store and mailbox takes and
# the other recipients each after a question of 1 s (one unanswered bound
# in the last 60 s is what lets a 1 s silence count), not 8 s each.  A
# recipient makes about a dozen takes (nothing is held to count on), and
# with no connection left to wait on fail-open skips no question.
sed -i 's/corolease_fail_mode = closed/corolease_fail_mode = open/' "$CLUSTER_DIR/n1/dovecot.conf"
kill -HUP "$(daemon_pid 1 dovecot)"
must_wait 20 "node 1's Dovecot reloaded its configuration" grep -q "SIGHUP received" "$CLUSTER_DIR/n1/dovecot-mail.log"
must_wait 10 "LMTP delivers to w0 after the reload" dv_deliver 1 w0
R=2
lmtp_stopped w "$R"
saved=$(grep -c '^REPLY w[0-9]* 250$' <<<"$out")
(( saved == R )) || fail "fail_mode open: $saved of $R recipients saved"
# one warning a second at most, counting the rest (helper-92: 452 in a
# second of STATUS commands)
check "fail_mode open: the log warns of serving without the lease" \
	grep -q 'corolease_fail_mode=open: serving without the lease' "$CLUSTER_DIR/n1/dovecot-mail.log"
# a bound, then a second or so a take (the warnings are one a second at
# most, so they undercount the takes: 20 a recipient is generous); a bound
# a take would be 8 s each
limit=$(( 8000 + R * 20 * 1500 + 5000 ))
(( el < limit )) || fail "fail_mode open: the DATA took $el ms (limit $limit ms)"
ok "fail_mode open: $R recipients served without the lease in $el ms"

# helper-92: fail_mode open served u1 without the lease, and without asking,
# 143 ms after the daemon was resumed and answering, while node 2 held u1:
# the take came within the second after an unanswered question, which let
# it skip its own.  A late answer to that question now shows the daemon
# back, and fail-open skips only while that question still waits.
printf '%s\n' 'SELECT INBOX' 'IDLE 60' 'NOOP' >"$CLUSTER_DIR/s2.txt"
spawn 2 s2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u1 "$CLUSTER_DIR/s2.txt" >/dev/null
must_wait 20 "u1's session on node 2 selected INBOX" grep -q 'took .* t1$' "$CLUSTER_DIR/n2/s2.log"
LOG=$CLUSTER_DIR/n1/dovecot-mail.log
mark=$(wc -l <"$LOG")
dv_stop_daemon 1
cluster exec 1 python3 "$DV_LMTP" "$CLUSTER_SUBNET.1" x1 >"$CLUSTER_DIR/x1.out" &
lp=$!
# x1's store take: the first one after its user take's bound, a question that goes unanswered
store_x1() { tail -n +$((mark + 1)) "$LOG" | grep -q 'store//run/cl-mail/x1/Maildir'; }
must_wait 30 "x1's store take went unanswered" store_x1
dv_resume
must_wait 10 "node 1's coroleased answers" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --timeout 2000 owner user/u1)\" = 2 ]"
wait "$lp"
out=$(cluster exec 1 python3 "$DV_LMTP" "$CLUSTER_SUBNET.1" u1)
echo "$out"
tail -n +$((mark + 1)) "$LOG" | grep -E 'corolease:' | cut -c1-200
if tail -n +$((mark + 1)) "$LOG" | grep -q 'user/u1: .*serving without the lease'; then
	fail "fail_mode open served u1 without the lease while coroleased answered and node 2 held it"
fi
if grep -q '^REPLY u1 250' <<<"$out"; then
	check "node 1 took user/u1 for the delivery" bash -c "tail -n +$((mark + 1)) '$LOG' | grep -q 'user/u1 held'"
fi
ok "u1 on node 1 went through coroleased: $(grep '^REPLY' <<<"$out")"
it_pass
