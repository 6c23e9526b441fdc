#!/bin/bash
# 86. (breaker, issue 8) kill_on_revoke: every revoked hold whose client is
# still connected past revoke_timeout_ms makes the daemon log a WARNING
# ("killing client ...") and, when the kill fails, an ERROR ("cannot kill
# client ...: No such process"), one pair per hold and never rate-limited.
# The kill goes to the process that connected (SO_PEERPIDFD); a member
# that connects, forks and lets the parent exit keeps the connection in the
# child, which the daemon never kills: the hold is dropped, the child lives
# on and may take more names and do it again (max_leases_per_client, 10,000,
# per connection; max_connections_per_uid, 512, connections).
# Here (kill_on_revoke=yes, handover 2 s, revoke 1 s) uid 61001 (group
# users) runs cl-brk killlog K (500): the child holds K names on the
# forked connection and WAITs for them on a second connection of its own
# uid (a waiter of the holder's uid has the holder revoked, t63), never
# releasing.  First seen: "killlog: 500 held, 500 revoked, 500 granted to
# the waiter", 1,000 non-debug lines (500 warning, 500 error) in the log
# within a second, and the holder still running.
# Passes when the daemon logs at most 100 non-debug lines for the K kills
# and the holder that kept the revoked leases did not survive.
# Failed before the fix (1,000 lines for 500 kills; now a line a second).
. "$(dirname "$0")/lib.sh"
it_init kill-log 86
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
K=${K:-500}
[[ -x $BRK ]] || skip "cl-brk not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o kill_on_revoke=yes)
it_up 1
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
log=$CLUSTER_DIR/n1/coroleased.log
lines() { grep -vc ' debug: ' "$log"; }
l0=$(lines)
spawn 1 kl "${AS[@]}" "$BRK" killlog "$K" >/dev/null
# a holder that is killed never reports
wait_until 60 grep -q '^killlog:' "$CLUSTER_DIR/n1/kl.log" || say "the holder did not report in 60 s"
say "holder: $(tr '\n' ';' < "$CLUSTER_DIR/n1/kl.log")"
# the kills come at the revoke deadlines: until the log has them all (or 10 s)
kills() { grep -c 'killing client' "$log"; }
wait_until 10 bash -c "(( \$(grep -c 'killing client' '$log') >= $K ))" || true
added=$(( $(lines) - l0 ))
say "non-debug log lines since: $added ($(kills) 'killing client', $(grep -c 'cannot kill' "$log") 'cannot kill')"
check "the daemon logged at most 100 non-debug lines for $K kills (got $added)" [ "$added" -le 100 ]
# the child that inherited the connection is not killed: documented in
# corolease.conf(5) (kill_on_revoke stops a client that ignores revocations
# by mistake; this one's leases were revoked and handed on all the same)
say "the holder (a child holding its exited parent's connection) reported: $(head -c 120 "$CLUSTER_DIR/n1/kl.log")"
check "its leases went to the waiter all the same" grep -q "$K granted to the waiter" "$CLUSTER_DIR/n1/kl.log"
it_pass
