#!/bin/bash
# 181. (breaker, helper-87) A stall of the daemon's closing thread that
# outlives the attacker.  Where clients can pass descriptors (before Linux
# 6.16; emulated by nopassrights.so, as t179), a socket_group member passes,
# in one packet the daemon reads, 160 socket pairs' ends B, each holding a
# TCP socket that lingers on unsent data (100,000 s), and a last end D
# holding the listeners that keep those sockets' peers alive with a zero
# window.  The thread blocks closing each B; D waits behind them, so the
# peers never go.  The member then does 4,000 connect+close cycles and
# exits (cl-brk persist, BRK_NEST=160).
# Before: with RLIMIT_NOFILE at 4,096, unprivileged clients were refused for
# good after the attacker was gone (descriptors short, no NOTICE), and every
# later connection, root's included, left one more descriptor behind: about
# 510 of root's status calls later, root's accept failed with EMFILE.
# Now a close() still waiting after 20 ms is interrupted by a signal, each
# 20 ms, and root's own sockets are closed by the loop (interrupted each
# second instead, 525cd61, the 160 Bs kept unprivileged clients out for
# 160 s after the attacker's exit: helper-88).  Passes when:
#   a. root's status answers throughout (5 s each);
#   b. within 20 s of the attacker's exit, an unprivileged status answers,
#      the daemon holds no more descriptors than before, and status counts
#      an interrupted close (counters.closes_interrupted);
#   c. 700 of root's connect+close cycles leave the daemon's descriptors
#      where they were.
. "$(dirname "$0")/lib.sh"
it_init closer-persistent-stall 181
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
member_attack_up 4096
check "an unprivileged status answers before the attack" user_status
flood_lock
# the daemon stopped while the attacker sends, so that its own closes come first
a=$(spawn 1 ps env BRK_PRELOAD=0 BRK_NEST=160 BRK_GO="$CLUSTER_DIR/go" "${AS[@]}" "$BRK" persist 100000 4000)
must_wait 20 "the attacker is connected" grep -q ready "$CLUSTER_DIR/n1/ps.log"
kill -STOP "$d"
touch "$CLUSTER_DIR/go"
wait_until 10 grep -q 'our close took' "$CLUSTER_DIR/n1/ps.log"
kill -CONT "$d"
must_wait 1 "the attacker passed B and D and closed its copies" grep -q 'our close took' "$CLUSTER_DIR/n1/ps.log"
tend=$(($(now_ms) + 60000))
while (($(now_ms) < tend)) && alive "$a"; do
	root_status
	sleep 0.3
done
say "attacker: $(tr '\n' ';' <"$CLUSTER_DIR/n1/ps.log")"
grep -q 'persist: exiting' "$CLUSTER_DIR/n1/ps.log" || fail "the attacker did not finish"
grep -q LOST "$CLUSTER_DIR/n1/ps.log" && fail "the attacker's own close was the last"
t_exit=$(now_ms)
say "the attacker is gone; daemon fds $(nfd) (were $f0)"
must_wait 20 "b: an unprivileged status answers again" user_status
say "$(( $(now_ms) - t_exit )) ms after the attacker's exit"
root_status
must_wait 20 "b: the daemon holds no more descriptors than before ($f0)" eval '[ "$(nfd)" -le "$f0" ]'
j=$(cl 1 --json status)
say "status: descriptors used $(jget "$j" .descriptors.used) of $(jget "$j" .descriptors.limit), closing $(jget "$j" .descriptors.closing), closes_interrupted $(jget "$j" .counters.closes_interrupted)"
check "b: status counts the interrupted closes (160 sockets)" [ "$(jget "$j" .counters.closes_interrupted)" -ge 100 ]
check "b: the daemon said it interrupted a close" grep -q 'closing thread interrupted' "$LOG"
f1=$(nfd)
spawn 1 rc env BRK_SOCK=corolease-root.sock "$BRK" cycle 700 >/dev/null
must_wait 60 "root's 700 connect+close cycles are done" grep -q '^cycle:' "$CLUSTER_DIR/n1/rc.log"
say "root: $(cat "$CLUSTER_DIR/n1/rc.log")"
root_status
must_wait 10 "c: the daemon holds no more descriptors than before root's cycles ($f1)" eval '[ "$(nfd)" -le "$f1" ]'
flood_unlock
check "a: root's status answered throughout ($failn of $n failed)" [ "$failn" = 0 ]
check "a: coroleased (pid $d) still running" alive "$d"
renewed_throughout "$LOG" "$lines0" 3
it_pass
