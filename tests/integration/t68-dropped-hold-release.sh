#!/bin/bash
# 68. A revoked hold that its client never released is dropped by the daemon
# at its revoke deadline; the name stays taken for that connection until the
# client releases the old hold: acquiring it again, plain or WAIT, is
# EALREADY, so the late release of the old handle can never end a new hold
# (breaker of 4554f3f: it released the new hold silently, or cancelled a
# WAIT acquire that was then never answered).  After the release the client
# acquires the name and holds it.  Then the hold slots and the per-uid quota
# are all back: the drop and the release each give back nothing twice.
. "$(dirname "$0")/lib.sh"
it_init dropped-hold 68
[[ -x $CL_DROP ]] || skip "cl-drop not built ($CL_DROP)"
it_up 1
out=$(cluster exec 1 "$CL_DROP" drop/x 2>&1) || fail "cl-drop: $out"
echo "$out"
check "the daemon dropped the revoked hold (it logged the revoke)" \
	grep -q "revoked" "$CLUSTER_DIR/n1/coroleased.log"
holds_back() { [ "$(st 1 .client_holds)" = 0 ]; }
must_wait 10 "no client hold left" holds_back
check "root's share of the hold quota is all back" test "$(st 1 .caller.holds)" = 0
it_pass
