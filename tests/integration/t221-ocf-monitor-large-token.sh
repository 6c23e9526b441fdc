#!/bin/bash
# 221. (helper-106) With a large corosync token the OCF agent's monitor
# failed every survivor when one node died.  When a node fails, corosync
# forms a new ring only a token plus a consensus timeout later, and the
# others' validity (at most the token) lapses until then: the agent waits
# that long (its patience, token + consensus) before it calls a lapse a
# failure.  But a monitor may take only its operation timeout (20 s in the
# meta-data and the README's example), and when that ran out first it
# failed all the same: with token 20000 (consensus 24000: patience 44 s)
# and node 3 powered off, monitors on nodes 1 and 2 returned
# OCF_ERR_GENERIC, "validity lapsed (valid_ms -27648) ... (patience 44000
# ms)", and Pacemaker restarts coroleased on every survivor.  Guides for
# clouds set token 30000.  Now a monitor whose time runs out while the lapse
# (by the daemon's own valid_ms, which keeps falling across monitors) is
# still under the patience succeeds with a warning; the next one judges
# again (t113: a lapse past the patience still fails).
export TOKEN=20000 TOKEN_COEFFICIENT=0
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
ocf_init ocf-large-token 221
plain_build_only "the shell agent's waits; the daemon's validity runs under ASan in other tests"
ocf_up 3

# a client holds a lease on node 1: the lapse revokes it and cuts the
# validity deadline to 0; valid_ms must still tell how long ago (helper-107)
spawn 1 holder env COROLEASE_RUN_DIR="$OCF_RUN" "$CLI" acquire ho/held -- sleep 600 >/dev/null
must_wait 10 "a client on node 1 holds ho/held" bash -c "'$CLUSTER_SH' exec 1 env COROLEASE_RUN_DIR='$OCF_RUN' '$CLI' owner ho/held | grep -qx 1"
cluster poweroff 3 >/dev/null
t0=$(now_ms)
# validity (the token, 20 s) lapses about 20 s after node 3's last message
must_wait 40 "node 1's validity lapsed (node 3 gone, no new ring yet)" ocf_valid_below 0
must_wait 10 "node 1's holder was revoked" grep -q 'revoked' "$CLUSTER_DIR/n1/holder.log"
say "lapsed $(( $(now_ms) - t0 )) ms after the poweroff; status: $(ocf_cli --json status | grep -o '"\(synced\|quorate\|valid_ms\)":[a-z0-9-]*' | tr '\n' ' ')"
: >"$CLUSTER_DIR/agent-monitor.out"
ocf_agent monitor; rc=$?
t1=$(now_ms)
v=$(ocf_valid_ms)
say "monitor: rc $rc after $(( t1 - t0 )) ms from the poweroff, valid_ms then ${v:-?}: $(tail -n 2 "$CLUSTER_DIR/agent-monitor.out" | tr '\n' ' ')"
check "the ring had not re-formed when the monitor ended (valid_ms ${v:-?} < 0): the case this test is about" [ "${v:-0}" -lt 0 ]
check "monitor during a lapse shorter than token + consensus, its 20 s used up: 0 (got $rc)" [ $rc = 0 ]
check "the monitor warned that the lapse was not judged yet" grep -q 'under the patience' "$CLUSTER_DIR/agent-monitor.out"
must_wait 60 "node 1's validity came back (the ring re-formed without node 3)" ocf_valid_above 0
ocf_agent monitor; rc=$?
check "monitor after the new ring: 0 (got $rc)" [ $rc = 0 ]
it_pass
