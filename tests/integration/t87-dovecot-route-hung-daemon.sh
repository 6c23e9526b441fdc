#!/bin/bash
# 87. BREAK TEST (fails on the code it was written against; not in TESTS).
# corolease-route with a hung coroleased (SIGSTOP; corosync runs): its
# lookup must fail (F: the login is refused as [UNAVAILABLE]) in bounded
# time.  corolease_owner() has no deadline (call_name: UINT64_MAX), so
# corolease-route sleeps in poll(fd, -1) and answers no lookup at all while
# the daemon is stopped; Dovecot's dict client gives up after 30 s,
# reconnects, the auth request fails after 60 s: every login on the node,
# whatever the user, takes 62 s to be refused (seen: 62.0 s, "NO
# [UNAVAILABLE] Temporary authentication failure").  Fail closed holds;
# the bound does not.
DV_ROUTE=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-route-hung-daemon 87
: >"$CLUSTER_DIR/empty.txt"
out=$(dv_imap 2 u1 select) || fail "before: u1 cannot log in on node 2: $out"

dpid=$(daemon_pid 2)
kill -STOP "$dpid"
say "SIGSTOP to node 2's coroleased ($dpid)"
t0=$(now_ms)
out=$(cluster exec 2 timeout 120 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/empty.txt")
t=$(($(now_ms) - t0))
kill -CONT "$dpid"
grep -E 'S: a0 ' <<<"$out" | cut -c1-160
say "u2's login on node 2 with its coroleased stopped: answered after $t ms"
refused=0
grep -q 'S: a0 NO \[UNAVAILABLE\]' <<<"$out" && refused=1
check "the login was refused as unavailable (refused=$refused)" [ "$refused" = 1 ]
check "the refusal came within 20 s ($t ms)" [ "$t" -le 20000 ]
it_pass
