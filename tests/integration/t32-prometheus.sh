#!/bin/bash
# 32. 'corolease status --prometheus' on a one-node cluster: promtool check
# metrics (if installed) and tests/check-prometheus.py (strict format check)
# pass; every record of 'status --json' appears as a metric; counters are
# corolease_*_total; the member list is corolease_member_holds{node=...}.
. "$(dirname "$0")/lib.sh"
CHECKER=$IT_SRCDIR/../check-prometheus.py
it_init prometheus 102
it_up 1

cl 1 status --prometheus >"$CLUSTER_DIR/metrics.txt"; rc=$?
check "status --prometheus exits 0 (got $rc)" [ $rc = 0 ]
sed 's/^/    /' "$CLUSTER_DIR/metrics.txt" | head -n 12
out=$(python3 "$CHECKER" "$CLUSTER_DIR/metrics.txt" 2>&1)
check "check-prometheus.py: clean${out:+ ($out)}" [ -z "$out" ]
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$CLUSTER_DIR/metrics.txt" 2>&1); rc=$?
	check "promtool check metrics: rc 0 and no complaint (rc $rc${out:+: $out})" [ $rc = 0 -a -z "$out" ]
else
	say "promtool not installed: only the checker script ran"
fi
# the checker must catch what it claims to: a sample with no TYPE
printf '# HELP x y\nx 1\n' | python3 "$CHECKER" >/dev/null
check "check-prometheus.py rejects a family with no TYPE" [ $? = 1 ]

m=$CLUSTER_DIR/metrics.txt
check "corolease_quorate 1" grep -qx 'corolease_quorate 1' "$m"
check "corolease_synced 1" grep -qx 'corolease_synced 1' "$m"
check "corolease_node 1" grep -qx 'corolease_node 1' "$m"
check "corolease_members 1" grep -qx 'corolease_members 1' "$m"
check "corolease_member_holds{node=\"1\"}" grep -q '^corolease_member_holds{node="1"} [0-9]*$' "$m"
check "counter corolease_syncs_total typed counter" grep -qx '# TYPE corolease_syncs_total counter' "$m"
# every status record is in the metrics
j=$(cl 1 --json status) || fail "status --json"
keys=$(python3 -c '
import json, sys
def walk(p, v):
    if isinstance(v, dict):
        for k, x in v.items(): walk(p + [k], x)
    elif isinstance(v, list):
        pass   # members: checked above
    else:
        print(".".join(p))
walk([], json.loads(sys.argv[1]))' "$j")
missing=
for k in $keys; do
	case $k in
	counters.*) name=corolease_${k#counters.}_total ;;
	state_hash) name=corolease_state_info ;;
	*_ms) name=corolease_${k%_ms}_seconds; name=${name//./_} ;;
	*) name=corolease_${k//./_} ;;
	esac
	grep -q "^# TYPE $name " "$m" || missing+=" $k"
done
check "every status --json record is a metric (missing:${missing:- none})" [ -z "$missing" ]
check "status --prometheus --json is not a mix: plain metrics" bash -c "! grep -q '^{' '$m'"
it_pass
