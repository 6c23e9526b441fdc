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
# for the linger (an hour; since t181, a second, so here 30 connections do
# it, each a close of its own).  Then the member passes /dev/null
# descriptors, 253 a connection.  The thread's pipe held 16,384 of them; after that the
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
nopassrights_daemon
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
nopassrights_loaded "$d"
nfd() { find "/proc/$d/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
f0=$(nfd)
lines0=$(wc -l <"$CLUSTER_DIR/n1/coroleased.log")
check "an unprivileged status answers before the attack" eval "cluster exec 1 ${AS[*]} $CLI status >/dev/null"
flood_lock
# the daemon stopped while the attacker sends, so that the attacker's own
# close() of its copy comes first and the one in the packet is the last;
# 30 such connections, each a close() of its own for the thread, which
# interrupts one that waits a second (t181): 30 s of it blocked
NL=30
a=""
for ((i = 1; i <= NL; i++)); do
	a+=" $(spawn 1 lg$i env BRK_TRIES=1 BRK_GO="$CLUSTER_DIR/go" "${AS[@]}" "$BRK" linger 3600 unread)"
done
all_logs() { local i; for ((i = 1; i <= NL; i++)); do grep -q "$1" "$CLUSTER_DIR/n1/lg$i.log" 2>/dev/null || return 1; done; }
must_wait 30 "the $NL attackers are connected" all_logs ready
kill -STOP "$d"
touch "$CLUSTER_DIR/go"
wait_until 10 all_logs 'our close took'
kill -CONT "$d"
must_wait 1 "the attackers passed their lingering sockets and closed their copies" all_logs 'our close took'
sleep 0.5   # the daemon disconnects them and hands the sockets to its closing thread
say "attacker 1: $(tr '\n' ';' <"$CLUSTER_DIR/n1/lg1.log")"
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
say "ending the attackers: their listeners go, the lingering connections are reset"
kill $a 2>/dev/null
pkill -u 61001 -f cl-brk 2>/dev/null
must_wait 30 "the daemon has descriptors again" \
	grep -q 'descriptors free again' "$CLUSTER_DIR/n1/coroleased.log"
must_wait 20 "an unprivileged status answers again" \
	eval "timeout 5 $CLUSTER_SH exec 1 ${AS[*]} $CLI status >/dev/null 2>&1"
flood_unlock
must_wait 20 "the daemon holds no more descriptors than before ($f0)" eval '[ "$(nfd)" -le "$f0" ]'
renewed_throughout "$CLUSTER_DIR/n1/coroleased.log" "$lines0" 3
it_pass
