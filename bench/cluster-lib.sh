# cluster-lib.sh - sourced by bench/bench_cluster.sh and bench/bench_peers.sh: a
# 3-node cluster (tests/integration/cluster.sh, its CLUSTER_* settings from the
# environment) with coroleased on every node.  The caller sets C (the path of
# cluster.sh) and BUILD (the build directory), and tears the cluster down.
# BENCH_DAEMON_OPTS: more coroleased options (e.g. "-o batch_inflight=0").
# shellcheck shell=bash

# figure KEY VALUE: one machine-readable line for bench/bench_report.sh (which
# './dev bench' runs over the whole output); nothing when VALUE is empty
figure() { [[ -n ${2:-} ]] && echo "figure: $1 $2"; return 0; }

# bench_wait_status PATTERN TRIES: wait until every node's 'corolease --json
# status' matches PATTERN, at most TRIES times 0.1 s per node
bench_wait_status() {
	local i
	for i in 1 2 3; do
		for _ in $(seq "$2"); do
			"$C" exec $i "$BUILD/tools/corolease" --json status 2>/dev/null | grep -q "$1" && break
			sleep 0.1
		done
	done
}

# bench_cluster_up: cluster.sh up 3, coroleased on each node, wait until synced;
# non-zero (said on stdout) when the cluster does not come up
bench_cluster_up() {
	local i
	"$C" up 3 >/dev/null 2>&1 || { echo "cluster.sh up 3 failed"; return 1; }
	for i in 1 2 3; do
		"$C" spawn $i coroleased "$BUILD/lockd/coroleased" -f -l stderr -c /dev/null \
			-o socket_group= -o admin_group= ${BENCH_DAEMON_OPTS:-} >/dev/null
	done
	bench_wait_status '"synced":true' 200
}
