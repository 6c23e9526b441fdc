#!/bin/bash
# 138. BREAK TEST (fails on the code it was written against; not in TESTS): a holder node's coroleased hangs (SIGSTOP)
# while node 1 stays in the ring (no partition, unlike t95).  The plugin
# on node 1 ends its session once the validity lapses (t95's fix); can
# another node then serve the user, or is the user locked out of the
# whole cluster for as long as the daemon is hung?
#
# u3's session on node 1 holds user/u3 and INBOX.  Node 1's coroleased is
# stopped.  Logins of u3 on node 2 are tried every few seconds for 60 s.
# README: a node that is paused "stops by the deadline"; the majority
# frees a departed node's leases after fence_delay_ms.  The check: u3 can
# log in on node 2 within 60 s (fence delay here: 4 s).
# Seen on the current code (89da8cc): node 1's session ended 0.8 s after
# the SIGSTOP (the plugin's validity check works), but every login of u3
# on node 2 for 61 s was refused after the 8 s wait ("corolease: user/u3:
# User u3 is in use on cluster node 1: session refused"); node 3 still
# saw user/u3 owned by node 1; node 2's coroleased logged node 1's
# daemon leaving only when the test's cleanup ended it.  Liveness: one
# hung daemon locks its users out of the whole cluster for as long as it
# hangs (no fence, since node 1's corosync stays in the ring).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk-stopped-daemon-lockout 138
S1=$CLUSTER_DIR/n1/s1.log
printf '%s\n' 'SELECT INBOX' 'REPEAT 1200 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u3 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u3's session on node 1 selected INBOX" grep -q 'took .* t1$' "$S1"
dpid=$(daemon_pid 1)
kill -STOP "$dpid"
t0=$SECONDS
say "SIGSTOP to node 1's coroleased ($dpid); node 1 stays in the ring"
trap 'rc=$?; kill -CONT $dpid 2>/dev/null; (exit $rc); dv_cleanup' EXIT
must_wait 10 "node 1's session ended (validity lapsed)" grep -q EOF "$S1"
served=0
while ((SECONDS - t0 < 60)); do
	out=$(dv_imap 2 u3 select 2>&1); rc=$?
	say "u3 on node 2 at +$((SECONDS - t0)) s: rc $rc: $(echo "$out" | tail -n 1 | cut -c1-150)"
	((rc == 0)) && { served=1; break; }
	sleep 2
done
say "owner of user/u3 seen from node 3: $(cl 3 owner user/u3)"
grep -h 'u3' "$CLUSTER_DIR/n2/dovecot-mail.log" | grep corolease | grep -v released | tail -n 2
kill -CONT "$dpid"
check "u3 could log in on node 2 within 60 s of node 1's coroleased hanging" [ "$served" = 1 ]
it_pass
