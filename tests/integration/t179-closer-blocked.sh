#!/bin/bash
# 179. (breaker, helper-85) Where the kernel lets a client pass file
# descriptors (before Linux 6.16, so Debian 12's 6.1; emulated here by
# preloading nopassrights.so into the daemon), the daemon hands every passed
# descriptor, and every client socket, to a thread of its own to close.
# A socket_group member stalls that thread: it sends an empty packet (the
# daemon takes it for a close and reads no further), then a packet passing
# a TCP socket that lingers on unsent data, and closes its own copy (the
# daemon is stopped meanwhile, so that the copy in the packet is the last).
# The thread's close() of the connection then drops that socket and waits
# for the linger (an hour; since t181 such a wait is interrupted after 20 ms,
# so here the thread is blocked by a pipe whose lock the member holds in
# splice(), as in t183).  Then the member passes /dev/null descriptors, 253
# a connection.  The thread's pipe held 16,384 of them; after that the
# loop thread blocked in write(2) until the attacker went away: no renewal,
# no answer to root (this test before the fix: 5 of 6 of root's status
# calls timed out, the loop in anon_pipe_write).
# Now the pipe's write end does not block: what it cannot take waits in a
# list; and once too few descriptors would be left for a packet's 253 and
# root's reserve, unprivileged connections are neither read nor accepted,
# while root's are (t180).  Passes when, with the thread stalled and 30,000
# descriptors tried:
#   a. root's status answers throughout, and the node's validity is renewed
#      (no gap over 3 s between 'validity until' lines);
#   b. the daemon says why unprivileged clients wait (one WARNING);
#   c. once the attacker ends (its listener goes, the lingering connection
#      is reset, the close returns), the list drains, an unprivileged status
#      answers again, and the daemon holds no more descriptors than before.
. "$(dirname "$0")/lib.sh"
it_init closer-blocked 179
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
member_attack_up
check "an unprivileged status answers before the attack" eval "cluster exec 1 ${AS[*]} $CLI status >/dev/null"
flood_lock
# the thread blocked in a close() no signal ends (lingering sockets are
# interrupted after 20 ms since t181: cl-brk splice, t183)
a=$(closer_stall "$d" "${AS[@]}")
ok "the closing thread is blocked: $(tr '\n' ';' <"$CLUSTER_DIR/n1/stall.log")"
for t in /proc/$d/task/*; do say "  thread $(basename "$t") $(cat "$t/comm") wchan $(cat "$t/wchan")"; done
# the flood, with root's status asked every 0.5 s meanwhile
spawn 1 fl "${AS[@]}" "$BRK" fdflood 30000 >/dev/null
failn=0 n=0 worst=0
tend=$(($(now_ms) + 40000))
while (($(now_ms) < tend)); do
	t0=$(now_ms)
	n=$((n + 1))
	timeout 5 "$CLUSTER_SH" exec 1 "$CLI" status >/dev/null 2>&1 || failn=$((failn + 1))
	t=$(($(now_ms) - t0))
	((t > worst)) && worst=$t
	grep -q 'passed .* fds on' "$CLUSTER_DIR/n1/fl.log" 2>/dev/null && break
	sleep 0.5
done
say "flood: $(tr '\n' ';' <"$CLUSTER_DIR/n1/fl.log")"
# and with the flood over (the closer still blocked, descriptors waiting)
for _ in 1 2 3; do
	n=$((n + 1))
	timeout 5 "$CLUSTER_SH" exec 1 "$CLI" status >/dev/null 2>&1 || failn=$((failn + 1))
	sleep 0.5
done
say "root's status during the flood: $failn of $n failed (5 s), slowest $worst ms; daemon fds $(nfd) (were $f0)"
for t in /proc/$d/task/*; do say "  thread $(basename "$t") $(cat "$t/comm") wchan $(cat "$t/wchan")"; done
check "a: root's status answered throughout the flood ($failn of $n failed)" [ "$failn" = 0 ]
check "a: coroleased (pid $d) still running" alive "$d"
check "b: the daemon said why unprivileged clients wait" \
	grep -q 'descriptors run short' "$CLUSTER_DIR/n1/coroleased.log"
say "ending the attackers: the staller's splice() ends, the close returns"
kill $a 2>/dev/null
ns_pkill 61001 cl-brk
must_wait 30 "the daemon has descriptors again" \
	grep -q 'descriptors free again' "$CLUSTER_DIR/n1/coroleased.log"
must_wait 20 "an unprivileged status answers again" \
	eval "timeout 5 $CLUSTER_SH exec 1 ${AS[*]} $CLI status >/dev/null 2>&1"
flood_unlock
must_wait 20 "the daemon holds no more descriptors than before ($f0)" eval '[ "$(nfd)" -le "$f0" ]'
renewed_throughout "$CLUSTER_DIR/n1/coroleased.log" "$lines0" 3
it_pass
