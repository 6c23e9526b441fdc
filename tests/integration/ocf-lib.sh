# ocf-lib.sh - for the adversarial OCF agent tests (t110, t112-t115, t118;
# sourced after lib.sh).  ocf_init NAME NUM: skips without resource-agents'
# ocf-shellfuncs, then it_init NAME NUM.  ocf_agent ACTION [KEY=VALUE...]
# runs packaging/ocf/coroleased in node 1 with the build's binaries, run dir
# $OCF_RUN, daemon options $OCF_OPTS and log $OCF_LOG (set any of them
# before ocf_init to change them); its output is appended to
# $CLUSTER_DIR/agent-ACTION.out and its rc returned.  At exit, whatever it
# started is stopped before lib.sh tears the cluster down (after the
# commands in $OCF_AT_EXIT, if set: e.g. a SIGCONT of what a test stopped).
OCF_AGENT=$IT_SRCDIR/../../packaging/ocf/coroleased
export OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
ocf_init() {
	[[ -f $OCF_ROOT/lib/heartbeat/ocf-shellfuncs ]] || skip "ocf-shellfuncs missing under $OCF_ROOT (resource-agents)"
	it_init "$1" "$2"
	: "${OCF_RUN:=/run/corolease-$CLUSTER_PREFIX}" "${OCF_OPTS:=${DAEMON_OPTS[*]}}"
	: "${OCF_LOG:=$CLUSTER_DIR/n1/coroleased-ocf.log}"
	trap 'ocf_rc=$?; eval "${OCF_AT_EXIT:-}"; [[ -e $CLUSTER_DIR/N ]] && ocf_agent stop OCF_RESKEY_drain_timeout=5 >/dev/null 2>&1; (exit $ocf_rc); it_cleanup' EXIT
}
ocf_agent() {
	local action=$1; shift
	local -a env=(OCF_ROOT="$OCF_ROOT" OCF_RESOURCE_INSTANCE=coroleased OCF_RESKEY_CRM_meta_timeout=20000
		OCF_RESKEY_binary="$DAEMON" OCF_RESKEY_cli="$CLI" OCF_RESKEY_config=/dev/null
		OCF_RESKEY_run_dir="$OCF_RUN" OCF_RESKEY_options="$OCF_OPTS" OCF_RESKEY_log_file="$OCF_LOG")
	"$CLUSTER_SH" exec 1 env "${env[@]}" "$@" "$OCF_AGENT" "$action" >>"$CLUSTER_DIR/agent-$action.out" 2>&1
}
# the corolease CLI in node 1, for the agent's run dir
ocf_cli() { "$CLUSTER_SH" exec 1 env COROLEASE_RUN_DIR="$OCF_RUN" "$CLI" "$@"; }
# ocf_grace true|false: node 1's daemon answers, with "grace" that value
ocf_grace() { ocf_cli --json status 2>/dev/null | grep -q "\"grace\":$1"; }
# ocf_valid_ms: node 1's daemon's valid_ms (fails if it does not answer);
# ocf_valid_below MS, ocf_valid_above MS: it, compared
ocf_valid_ms() { ocf_cli --json status 2>/dev/null | grep -o '"valid_ms":-\?[0-9]*' | cut -d: -f2 | grep .; }
ocf_valid_below() { local v; v=$(ocf_valid_ms) && (( v < $1 )); }
ocf_valid_above() { local v; v=$(ocf_valid_ms) && (( v > $1 )); }
# ocf_up N: N nodes (it_up N 1: lib.sh's daemons on nodes 2..N), the agent's
# daemon started on node 1 and out of the grace period, and its monitor 0
ocf_up() {
	local rc
	it_up "$1" 1
	ocf_agent start; rc=$?
	[[ $rc == 0 ]] || fail "start: $rc ($(tail -n 3 "$CLUSTER_DIR/agent-start.out"))"
	must_wait 60 "node 1 (the agent's daemon): the grace period of fresh state ended" ocf_grace false
	ocf_agent monitor; rc=$?
	check "monitor of the healthy daemon: 0 (got $rc)" [ $rc = 0 ]
}
