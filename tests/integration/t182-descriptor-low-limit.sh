#!/bin/bash
# 182. (breaker, helper-87) A low RLIMIT_NOFILE (700 here).  Where clients
# can pass descriptors (emulated by nopassrights.so, as t179), the daemon
# keeps 253 (one packet's worth) and 128 for root below the limit, and
# stops reading and accepting unprivileged connections beyond that.
#   1. Before, it let them in again only with 256 more free than that,
#      which the daemon's own descriptors never left below a limit of
#      about 783: after 100 idle connections of one member (cl-brk hold),
#      unprivileged clients were refused for good.  Now the margin is a
#      quarter of what the limit leaves them.  Passes when, with the
#      member's connections gone, the daemon says descriptors are free
#      again and an unprivileged status answers (within 20 s).
#   2. While unprivileged connections are not accepted, a member leaves one
#      in the backlog carrying a socket pair's end with a TCP socket inside
#      that lingers on unsent data (cl-brk embryo).  Before, SIGTERM closed
#      the listening socket in the loop, which waited on that socket until
#      the shutdown guard fired (6.4 s, "corosync did not answer within 5
#      s").  Passes when the daemon stops within 3 s and says it stopped,
#      without that line.
. "$(dirname "$0")/lib.sh"
it_init descriptor-low-limit 182
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
member_attack_up 700
check "an unprivileged status answers before" user_status

say "--- 1. 100 idle connections of one member, then none"
h=$(spawn 1 h1 "${AS[@]}" "$BRK" hold 100)
must_wait 30 "the daemon says descriptors run short" grep -q 'descriptors run short' "$LOG"
check "root's status answers meanwhile" timeout 5 "$CLUSTER_SH" exec 1 "$CLI" status
kill "$h"
ns_pkill 61001 cl-brk
must_wait 20 "the daemon says descriptors are free again" grep -q 'descriptors free again' "$LOG"
must_wait 20 "an unprivileged status answers again" user_status

say "--- 2. a connection in the backlog with a lingering socket inside, then SIGTERM"
h=$(spawn 1 h2 "${AS[@]}" "$BRK" hold 100)
must_wait 30 "descriptors run short again" eval "[ \$(grep -c 'descriptors run short' '$LOG') -ge 2 ]"
spawn 1 em "${AS[@]}" "$BRK" embryo 3600 >/dev/null
must_wait 20 "the member passed its socket on a connection not accepted" grep -q '^embryo: passed B (rc 0)' "$CLUSTER_DIR/n1/em.log"
sleep 0.5
t0=$(now_ms)
kill -TERM "$d"
must_wait 10 "coroleased (pid $d) exits on SIGTERM" exited "$d"
t=$(( $(now_ms) - t0 ))
say "it stopped $t ms after SIGTERM: $(grep -E 'coroleased stopped|did not answer' "$LOG" | tail -2 | tr '\n' ';')"
check "it stopped within 3 s ($t ms)" [ "$t" -le 3000 ]
check "it says it stopped" grep -q 'coroleased stopped' "$LOG"
check "... not by its shutdown guard" eval "! grep -q 'did not answer within' '$LOG'"
kill "$h" 2>/dev/null
ns_pkill 61001 cl-brk
it_pass
