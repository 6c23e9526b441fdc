#!/bin/bash
# 73. (breaker, issue 8) "Every limit answers a clear error and is counted in
# corolease status": two per-client limits are not counted anywhere.
# max_leases_per_client refuses an acquire with EDQUOT and max_pending_per_client
# refuses a request with EAGAIN (ipc_req.c, do_acquire() and op_begin()), but
# neither moves any counters.*_refused (leases_refused counts max_leases, the
# cluster's names, only), so an operator sees a user's refusals in no status.
# First seen: one connection of uid 61001 acquiring 10,100 names got 100
# EDQUOT answers (the default 10,000 per client); 'corolease --json status'
# before and after differed in cluster_grants and mcast_msgs only.
# Here: max_leases_per_client=20 and max_pending_per_client=2; uid 61001
# (group users) acquires 30 names on one connection, one at a time (cl-brk
# overlimit acquire: 10 EDQUOT expected) and sends 200 SYNCs back to back on another
# (cl-brk overlimit sync, with corosync stopped until the daemon has refused
# some: the first two stay pending, so the others find 2 pending and get
# EAGAIN).  Passes when the refusals were seen and the sum
# of the status counters named *_refused grew by at least their number.
# Seen before the fix: 10 EDQUOT and 111 EAGAIN; counters.*_refused 0 before and after
# (now, with corosync stopped: 10 EDQUOT, 198 EAGAIN, all counted).
# Failed before the fix (counters.client_leases_refused, counters.pending_refused).
. "$(dirname "$0")/lib.sh"
it_init uncounted-limits 73
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
[[ -x $BRK ]] || skip "cl-brk not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
command -v python3 >/dev/null || skip "python3 needed to add up the counters"
EXTRA_DAEMON_OPTS=(-o socket_group=users -o max_leases_per_client=20 -o max_pending_per_client=2)
it_up 1
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
# the sum of every counters.*_refused of node 1's status
refused_sum() {
	cl 1 --json status | python3 -c 'import json, sys
c = json.load(sys.stdin).get("counters", {})
print(sum(v for k, v in c.items() if "refused" in k and isinstance(v, int)))'
}
r0=$(refused_sum) || fail "root's status"
a=$(cluster exec 1 "${AS[@]}" "$BRK" overlimit acquire 30)
say "uid 61001, 30 acquires on one connection: $a"
# corosync stopped while they go, so the first two stay pending whatever the
# machine's speed (with it running, a fast daemon may see each SYNC back
# before it reads the next one)
ok "$(cluster pause 1)"
spawn 1 sync "${AS[@]}" "$BRK" overlimit sync 200 >/dev/null
must_wait 20 "the daemon refused SYNCs while corosync is stopped" \
	bash -c "(( \$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"pending_refused\":[0-9]*' | cut -d: -f2) > 0 ))"
ok "$(cluster resume 1)"
must_wait 20 "the SYNC flood was answered" grep -q '^overlimit:' "$CLUSTER_DIR/n1/sync.log"
s=$(grep '^overlimit:' "$CLUSTER_DIR/n1/sync.log")
say "uid 61001, 200 SYNCs back to back on one connection, corosync stopped: $s"
r1=$(refused_sum) || fail "root's status"
num() { sed -n "s/.* \([0-9]*\) $1.*/\1/p" <<<"$2"; }
edquot=$(num EDQUOT "$a") eagain=$(num EAGAIN "$s")
say "refusals seen: $edquot EDQUOT (max_leases_per_client), $eagain EAGAIN (max_pending_per_client); counters.*_refused: $r0 before, $r1 after"
check "max_leases_per_client refused the 10 acquires beyond 20 (got ${edquot:-none})" [ "${edquot:-0}" = 10 ]
check "max_pending_per_client refused some SYNCs (got ${eagain:-none})" [ "${eagain:-0}" -gt 0 ]
check "every refusal was counted in status (counters.*_refused grew by $((r1 - r0)), refusals $((edquot + eagain)))" [ $((r1 - r0)) -ge $((edquot + eagain)) ]
it_pass
