#!/bin/bash
# 180. (breaker, helper-86) Where the kernel lets a client pass descriptors
# (before Linux 6.16; emulated by preloading nopassrights.so, as t179), a
# socket_group member stalls the daemon's closing thread (then: a TCP socket
# lingering on unsent data, nested in a passed socket; since t181 such a
# wait ends after 20 ms, so here a pipe whose lock the member holds in
# splice(), as in t183).  Every socket the daemon closes afterwards waits
# behind it, still open.  Two attacks follow, with the daemon's
# RLIMIT_NOFILE at 4096 (as under sysvinit or in a container):
#   1. connect+close churn (cl-brk emdrop's cycles): before, the waiting
#      sockets grew to the limit, accept() failed with EMFILE and root's
#      status failed (4 of 4) until the attacker went away;
#   2. then a nested lingering socket passed on a connection opened before
#      the churn (cl-brk emdrop): before, the daemon read it with no
#      descriptor free, the kernel dropped the socket in the loop's own
#      recvmsg() and the loop lingered (renewals stopped 22 s).
# Now the daemon counts its descriptors: with too few left for a packet's
# 253 and root's reserve, unprivileged connections are neither read nor
# accepted, and root connects through corolease-root.sock.  Passes when,
# during both attacks:
#   a. root's status answers every time (5 s each) and the node's validity
#      is renewed throughout (no gap over 3 s between 'validity until'
#      lines);
#   b. the daemon never runs out of descriptors (no EMFILE from accept, at
#      most the limit open) and says why unprivileged clients wait;
#   c. once the attacker ends, unprivileged clients are served again and
#      the daemon holds no more descriptors than before.
. "$(dirname "$0")/lib.sh"
it_init descriptor-budget 180
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
NOFILE=4096
member_attack_up $NOFILE
say "daemon $d: $(grep 'open files' "/proc/$d/limits" | tr -s ' ')"
check "the daemon serves root on a socket of its own, mode 0600" \
	eval '[ "$(cluster exec 1 stat -c %a:%U /run/corolease/corolease-root.sock 2>/dev/null)" = 600:root ]'
threads() { for t in /proc/$d/task/*; do say "  thread $(basename "$t") $(cat "$t/comm") wchan $(cat "$t/wchan")"; done; }
check "an unprivileged status answers before the attacks" user_status
flood_lock

say "--- the closing thread stalled; connect+close churn; a nested socket passed on a connection from before"
# the daemon stopped while the attacker sends, so that its own close() of
# the pair's end comes first and the one in the packet is the last
# the thread interrupts a close() lingering over 20 ms (t181): first, one no
# signal ends (cl-brk splice, t183), which keeps the thread blocked
s=$(closer_stall "$d" "${AS[@]}")
a=$(spawn 1 em env BRK_PRELOAD=0 BRK_GO="$CLUSTER_DIR/go" "${AS[@]}" "$BRK" emdrop 4300 3600)
must_wait 20 "the attacker is connected" grep -q ready "$CLUSTER_DIR/n1/em.log"
kill -STOP "$d"
touch "$CLUSTER_DIR/go"
wait_until 10 grep -q 'our close took' "$CLUSTER_DIR/n1/em.log"
kill -CONT "$d"
must_wait 1 "the attacker passed its nested lingering socket and closed its copy" \
	grep -q 'our close took' "$CLUSTER_DIR/n1/em.log"
grep -q LOST "$CLUSTER_DIR/n1/em.log" && fail "the attacker's own close was the last: $(cat "$CLUSTER_DIR/n1/em.log")"
tend=$(($(now_ms) + 90000))
while (($(now_ms) < tend)) && ! grep -qE 'emdrop: passed on X|LOST' "$CLUSTER_DIR/n1/em.log" 2>/dev/null; do
	root_status
	sleep 0.3
done
say "attacker: $(tr '\n' ';' <"$CLUSTER_DIR/n1/em.log")"
# LOST here: the daemon read X with the packet before the attacker closed
# its copy, so it read an unprivileged connection short of descriptors
grep -qE 'emdrop: passed on X|LOST' "$CLUSTER_DIR/n1/em.log" || fail "the attacker did not get to pass its second socket"
for _ in 1 2 3 4 5 6; do root_status; sleep 0.5; done
say "daemon fds $(nfd) (were $f0; most seen $maxfd)"
threads
say "root's status during the attacks: $failn of $n failed (5 s), slowest $worst ms; daemon fds at most $maxfd"
check "a: root's status answered throughout ($failn of $n failed)" [ "$failn" = 0 ]
check "a: coroleased (pid $d) still running" alive "$d"
check "b: the daemon said why unprivileged clients wait" grep -q 'descriptors run short' "$LOG"
j=$(cl 1 --json status)
say "status: descriptors used $(jget "$j" .descriptors.used) of $(jget "$j" .descriptors.limit), closing $(jget "$j" .descriptors.closing), short $(jget "$j" .descriptors.short), passed_fds $(jget "$j" .counters.passed_fds)"
check "b: status says descriptors are short" [ "$(jget "$j" .descriptors.short)" = true ]
check "b: status counts the sockets waiting for the closing thread (> 3000)" [ "$(jget "$j" .descriptors.closing)" -gt 3000 ]
user_status && fail "b: an unprivileged status answered while descriptors were short"
ok "b: unprivileged clients wait meanwhile (their status does not answer in 5 s)"
check "b: X was not read while descriptors were short (the attacker's close of its copy came first)" \
	eval "! grep -q LOST '$CLUSTER_DIR/n1/em.log'"
check "b: accept() never ran out of descriptors" eval "! grep -q 'Too many open files' '$LOG'"
check "b: the daemon held at most its limit ($maxfd of $NOFILE)" [ "$maxfd" -le "$NOFILE" ]

say "--- ending the attackers (pids $a $s): the splice() ends, the closes return"
kill "$a" "$s" 2>/dev/null
ns_pkill 61001 cl-brk
must_wait 30 "the daemon says descriptors are free again" grep -q 'descriptors free again' "$LOG"
must_wait 20 "an unprivileged status answers again" user_status
flood_unlock
must_wait 30 "the daemon holds no more descriptors than before ($f0)" eval '[ "$(nfd)" -le "$f0" ]'
j=$(cl 1 --json status)
check "c: status says descriptors are no longer short" [ "$(jget "$j" .descriptors.short)" = false ]
check "c: status counts the connection that passed descriptors" [ "$(jget "$j" .counters.passed_fds)" -ge 1 ]
renewed_throughout "$LOG" "$lines0" 3
it_pass
