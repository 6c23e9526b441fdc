#!/bin/bash
# 17. kill_on_revoke: a client that keeps a revoked lease past its revoke
# deadline is killed, through a pidfd taken when it connected (never by a
# pid number that may be reused).  Here the client is stopped (SIGSTOP), so
# it neither reads the revocation nor releases.
. "$(dirname "$0")/lib.sh"
it_init kill-on-revoke 29
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes)
it_up 1
pid=$(spawn 1 holder "$CL_VALID" kor/x)
must_wait 10 "the holder has kor/x" grep -q '^valid kor/x 1' "$CLUSTER_DIR/n1/holder.log"
kill -STOP "$pid" || fail "SIGSTOP $pid"
t0=$(now_ms)
ok "evict: $(cl 1 evict kor/x)"
must_wait 10 "the holder is killed after its revoke deadline" exited "$pid"
say "killed $(( $(now_ms) - t0 )) ms after the eviction (revoke timeout $REVOKE_MS ms)"
check "coroleased logged the kill" grep -q "killing client .* pid $pid: still using revoked lease kor/x" "$CLUSTER_DIR/n1/coroleased.log"
check "kor/x can be had again" cl 1 acquire kor/x -- true
it_pass
