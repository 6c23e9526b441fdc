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
	latency.*) k=${k#latency.}; name=corolease_${k%%.*}_latency_seconds ;;
	counters.*) name=corolease_${k#counters.}_total ;;
	state_hash) name=corolease_state_info ;;
	*_ms) name=corolease_${k%_ms}_seconds; name=${name//./_} ;;
	*) name=corolease_${k//./_} ;;
	esac
	grep -q "^# TYPE $name " "$m" || missing+=" $k"
done
check "every status --json record is a metric (missing:${missing:- none})" [ -z "$missing" ]
check "status --prometheus --json is not a mix: plain metrics" bash -c "! grep -q '^{' '$m'"
# the histograms: grant latency counts every grant (three acquires of
# new names here), sync counts the completed rounds, handover (this node
# letting another have a lease) has none on one node; each is cumulative
cl 1 acquire prom/a -- true && cl 1 acquire prom/b -- true && cl 1 acquire prom/c -- true || fail "acquire"
j=$(cl 1 --json status) || fail "status --json"
cl 1 status --prometheus >"$m" || fail "status --prometheus"
out=$(python3 "$CHECKER" "$m" 2>&1)
check "check-prometheus.py: clean with the histograms${out:+ ($out)}" [ -z "$out" ]
for h in grant handover sync; do
	check "histogram corolease_${h}_latency_seconds typed" grep -qx "# TYPE corolease_${h}_latency_seconds histogram" "$m"
	check "corolease_${h}_latency_seconds_count is status's latency.$h.count" \
		grep -qx "corolease_${h}_latency_seconds_count $(jget "$j" .latency.$h.count)" "$m"
done
g=$(jget "$j" .latency.grant.count) s=$(jget "$j" .latency.sync.count)
check "grant latency counted the 3 grants (count $g >= 3)" [ "${g:-0}" -ge 3 ]
check "sync latency counted the syncs (count $s = counters.syncs $(jget "$j" .counters.syncs))" [ "$s" = "$(jget "$j" .counters.syncs)" ]
check "no handover on one node (count $(jget "$j" .latency.handover.count))" [ "$(jget "$j" .latency.handover.count)" = 0 ]
check "the text status shows the grant latency's median bound" bash -c "'$CLUSTER_SH' exec 1 '$CLI' status | grep -qE '^ +p50_le_us: +[0-9]+$'"
# the checker catches a histogram whose +Inf bucket is not its count
sed 's/^\(corolease_grant_latency_seconds_bucket{le="+Inf"}\) .*/\1 999999/' "$m" | python3 "$CHECKER" >/dev/null
check "check-prometheus.py rejects a +Inf bucket that is not the count" [ $? = 1 ]
it_pass
