#!/bin/bash
# 16. max_leases, the cluster-wide bound on names in the replicated state:
# with max_leases=5, five names with index records fill it; a new name is
# refused with ENOSPC (clear message, counted in status), a name already in
# the state can still be acquired, and a freed name makes room again.
. "$(dirname "$0")/lib.sh"
it_init max-leases 27
EXTRA_DAEMON_OPTS=(-o max_leases=5)
it_up 1
for i in 1 2 3 4 5; do
	cl 1 index put "cap/$i" k "v$i" || fail "index put cap/$i"
done
check "5 names in the state" [ "$(st 1 .leases)" = 5 ]
cl 1 acquire cap/6 -- true 2>"$CLUSTER_DIR/acq6.err"; rc=$?
check "a 6th name is refused (exit $rc: $(cat "$CLUSTER_DIR/acq6.err"))" [ $rc != 0 ]
check "... with ENOSPC" grep -q ENOSPC "$CLUSTER_DIR/acq6.err"
check "... naming max_leases" grep -q "max_leases names" "$CLUSTER_DIR/acq6.err"
check "status counts the refusal" [ "$(st 1 .counters.leases_refused)" -ge 1 ]
check "a name in the state can still be acquired" cl 1 acquire cap/3 -- true
check "... and its index read" [ "$(cl 1 index get cap/3 k)" = v3 ]
cl 1 index del cap/5 k || fail "index del cap/5 k"
must_wait 10 "cap/5 leaves the state" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"leases\":[0-9]*')\" = '\"leases\":4' ]"
check "then a new name fits" cl 1 acquire cap/6 -- true
it_pass
