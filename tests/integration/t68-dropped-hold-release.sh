#!/bin/bash
# 68. A revoked hold that its client never released is dropped by the daemon
# at its revoke deadline; the name stays taken for that connection until the
# client releases the old hold: acquiring it again, plain or WAIT, is
# EALREADY, so the late release of the old handle can never end a new hold
# (breaker of 4554f3f: it released the new hold silently, or cancelled a
# WAIT acquire that was then never answered).  The dropped hold keeps its
# share of the user's hold quota until that release (a second breaker: it
# did not, so one user could keep any number of them).  After the release
# the client acquires the name and holds it.  The client is an unprivileged
# user; root evicts.
. "$(dirname "$0")/lib.sh"
it_init dropped-hold 68
[[ -x $CL_DROP ]] || skip "cl-drop not built ($CL_DROP)"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
pid=$(spawn 1 drop setpriv --reuid=61001 --regid=100 --clear-groups "$CL_DROP" drop/x)
must_wait 10 "uid 61001 holds drop/x" grep -q '^held drop/x' "$CLUSTER_DIR/n1/drop.log"
ok "evict: $(cl 1 evict drop/x)"
must_wait 30 "cl-drop is done" exited "$pid"
cat "$CLUSTER_DIR/n1/drop.log"
check "cl-drop passed every check" grep -q '^done' "$CLUSTER_DIR/n1/drop.log"
holds_back() { [ "$(st 1 .client_holds)" = 0 ]; }
must_wait 10 "no client hold left" holds_back
it_pass
