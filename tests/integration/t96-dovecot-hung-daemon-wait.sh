#!/bin/bash
# 96. A break test (it failed on the code it was written against), now in TESTS.
# A hung coroleased (SIGSTOP, corosync running) must not hang Dovecot: the
# plugin promises to block the ioloop at most corolease_mailbox_wait for a
# mailbox open and corolease_user_wait for a login, and to refuse as
# unavailable (fail closed) when coroleased does not answer.
#
#  a. A session on node 1 that is already connected to coroleased SELECTs
#     a mailbox it holds no lease for while node 1's coroleased is stopped.
#     corolease_acquire() returns -ETIMEDOUT with no owner after the wait
#     (1 s + the library's 0.5 s grace); the plugin then calls
#     corolease_sync(), which has no deadline (call_bare: UINT64_MAX) and
#     blocks in poll(fd, -1) until the daemon runs again: seen hanging for
#     as long as the daemon was stopped (35 s in the first run).
#  b. A new login on node 1 while its coroleased is stopped takes
#     corolease_connect()'s 10 s HELLO timeout whatever corolease_user_wait
#     says (2 s here), and is refused as "User u2 is in use on another
#     cluster node": -ETIMEDOUT from the connect is taken for a busy lease,
#     so the log misnames the cause and corolease_fail_mode=open would not
#     apply either (cl_unavailable() does not list -ETIMEDOUT).
#
# Both parts need node 1's holds to stay valid while its coroleased is
# stopped: once validity lapses the plugin ends u1's session (rightly) before
# it sends the SELECT, and part a tests nothing.  Validity follows the token,
# so the token is 8 s here: under a load of four busy processes per core the
# script took 0.8 s to see its go file, and u1's session had ended at 1 s
# (token 1000).  Part b's bound is checked on imap-load.py's own clock (its
# "ELAPSED"): under that load python's start-up and 'cluster exec' took
# seconds before the login began.
DV_MAILBOX_WAIT=1s
DV_USER_WAIT=2s
export TOKEN=${T96_TOKEN:-8000}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-hung-daemon-wait 96
GO=$CLUSTER_DIR/go
S1=$CLUSTER_DIR/n1/s1.log
# the configured wait, the library's grace, and room for a loaded machine
SLACK=5

dv_fresh_waiter "$GO"

dpid=$(daemon_pid 1)
kill -STOP "$dpid"
say "SIGSTOP to node 1's coroleased ($dpid)"
t0=$(now_ms)
touch "$GO"
# a. the SELECT must be answered within the mailbox wait (+ slack)
bound_a=$((1000 + 500 + SLACK * 1000))
wait_until $((bound_a / 1000 + 1)) grep -q 'took .* t2$' "$S1"
t_a=$(($(now_ms) - t0))
answered_a=0
grep -q 'took .* t2$' "$S1" && answered_a=1
say "SELECT Fresh with node 1's coroleased stopped: answered=$answered_a after ${t_a} ms (bound ${bound_a} ms)"
# b. a new login: refused within the user wait (+ slack), as unavailable
t1=$(now_ms)
out=$(cluster exec 1 timeout 60 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u2 --select --seconds 0 --timed)
t_wall=$(($(now_ms) - t1))
t_b=$(awk '/^ELAPSED / { printf "%d", $2 * 1000 }' <<<"$out")
[[ -n $t_b ]] || fail "imap-load.py session printed no ELAPSED: $out"
bound_b=$((2000 + 500 + SLACK * 1000))
say "login of u2 on node 1 with its coroleased stopped: $(tr '\n' ' ' <<<"$out")after ${t_b} ms (bound ${bound_b} ms; ${t_wall} ms with python's start-up)"
sleep 0.5 # the log line is written by the mail process as it ends
grep 'corolease: user/u2' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 2

kill -CONT "$dpid"
must_wait 30 "SELECT Fresh answered once coroleased runs again" grep -q 'took .* t2$' "$S1"
say "node 1's session: $(grep -E 'S: t2 |took .* t2$' "$S1" | tr '\n' ' ')"

check "a: SELECT of a mailbox was answered within corolease_mailbox_wait + ${SLACK} s while coroleased hung (${t_a} ms)" \
	[ "$answered_a" = 1 ]
check "b: a login refused within corolease_user_wait + ${SLACK} s while coroleased hung (${t_b} ms)" \
	[ "$t_b" -le "$bound_b" ]
check "b: the refusal names the cause (cluster lease unavailable), not a lease in use elsewhere" \
	grep -q 'corolease: user/u2: User u2: cluster lease unavailable' "$CLUSTER_DIR/n1/dovecot-mail.log"
it_pass
