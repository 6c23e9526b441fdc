#!/bin/bash
# 183. (breaker, helper-88) A close() that no signal ends.  Where clients can
# pass descriptors (before Linux 6.16; emulated by nopassrights.so, as
# t179), a socket_group member passes a pipe's read end while a thread of
# its own holds the pipe's mutex in splice() from an empty socket (cl-brk
# splice): the daemon's closing thread waits in pipe_release(), in a sleep
# its 20 ms interrupts (t181) do not end, as long as the member lives (a
# FUSE file whose server ignores interrupts does the same).  The member then
# churns 4,000 connections, each a socket the thread must close.  The daemon
# cannot free what waits behind that close; it must say so and keep the
# rest going.  Passes when, with RLIMIT_NOFILE at 4,096:
#   a. root's status answers throughout (5 s each) and the node's validity
#      is renewed (no gap over 3 s);
#   b. the daemon logs that its closing thread is stuck in a close(), and
#      status shows it (descriptors.close_ms of 5 s or more, descriptors
#      short); unprivileged clients wait;
#   c. once the member is gone, the close returns (a NOTICE), unprivileged
#      clients are served again and the daemon holds no more descriptors
#      than before.
. "$(dirname "$0")/lib.sh"
it_init closer-uninterruptible 183
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
member_attack_up 4096
check "an unprivileged status answers before the attack" user_status
flood_lock
a=$(closer_stall "$d" "${AS[@]}")
ok "the member passed the pipe and the daemon ended its connection"
spawn 1 cy "${AS[@]}" "$BRK" cycle 4000 1 >/dev/null
must_wait 60 "the member's 4,000 connect+close cycles are done" grep -q '^cycle:' "$CLUSTER_DIR/n1/cy.log"
say "member: $(tr '\n' ';' <"$CLUSTER_DIR/n1/stall.log") $(cat "$CLUSTER_DIR/n1/cy.log")"
tend=$(($(now_ms) + 8000))
while (($(now_ms) < tend)); do root_status; sleep 0.5; done
for t in /proc/$d/task/*; do say "  thread $(basename "$t") $(cat "$t/comm") state $(awk '{print $3}' "$t/stat") wchan $(cat "$t/wchan")"; done
j=$(cl 1 --json status)
say "status: descriptors used $(jget "$j" .descriptors.used) of $(jget "$j" .descriptors.limit), closing $(jget "$j" .descriptors.closing), short $(jget "$j" .descriptors.short), close_ms $(jget "$j" .descriptors.close_ms)"
check "b: status shows the close that does not return (descriptors.close_ms >= 5000)" \
	[ "$(jget "$j" .descriptors.close_ms)" -ge 5000 ]
check "b: status says descriptors are short" [ "$(jget "$j" .descriptors.short)" = true ]
must_wait 5 "b: the daemon logged that its closing thread is stuck" grep -q 'has been in one close()' "$LOG"
user_status && fail "b: an unprivileged status answered while descriptors were short"
ok "b: unprivileged clients wait (their status does not answer in 5 s)"
check "a: root's status answered throughout ($failn of $n failed)" [ "$failn" = 0 ]
say "--- ending the member (pid $a): its splice() ends, the close returns"
kill "$a" 2>/dev/null
ns_pkill 61001 cl-brk
must_wait 20 "c: the daemon says the close returned" grep -q "closing thread's close() returned" "$LOG"
must_wait 20 "c: an unprivileged status answers again" user_status
flood_unlock
must_wait 20 "c: the daemon holds no more descriptors than before ($f0)" eval '[ "$(nfd)" -le "$f0" ]'
check "a: coroleased (pid $d) still running" alive "$d"
renewed_throughout "$LOG" "$lines0" 3
it_pass
