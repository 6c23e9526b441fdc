#!/bin/bash
# bench_report.sh LOG - the issue 9 targets as a Markdown table, from the
# "figure: KEY VALUE" lines a './dev bench' run (bench/bench_all.sh) wrote to
# LOG: each figure of this run, its ratio against the baseline or target it is
# measured by, the goal, and whether this run met it ("-" where a figure is
# missing: its benchmark was skipped or failed; the log says why).  The
# "run:" lines of the log head the table.  It computes; it measures nothing.
set -u -o pipefail
LOG=${1:?usage: bench_report.sh LOG}
[[ -r $LOG ]] || { echo "bench_report.sh: cannot read $LOG" >&2; exit 2; }
awk '
/^figure: / { k = $2; v = $0; sub(/^figure: [^ ]+ /, "", v); f[k] = v ~ /^-?[0-9]+(\.[0-9]+)?$/ ? v + 0 : v; next }
/^run: / { sub(/^run: /, ""); hdr[++nh] = $0; next }
function has(k) { return (k in f) && f[k] != "" }
function us(x) { return x < 100 ? sprintf("%.1f µs", x) : x < 10000 ? sprintf("%.0f µs", x) : sprintf("%.1f ms", x / 1000) }
function r2(a, b) { return sprintf("%.2f×", a / b) }
function yn(c) { return c ? "yes" : "**no**" }
function row(t, fig, ratio, goal, met) { printf "| %s | %s | %s | %s | %s |\n", t, fig, ratio, goal, met }
function miss(t, goal, what) { row(t, "- (" what " not run or failed)", "-", goal, "-") }
END {
	for (i = 1; i <= nh; i++) printf "%s  \n", hdr[i]
	print ""
	print "| target | figure in this run | ratio | goal | met |"
	print "|---|---|---|---|---|"
	# 1. no delay on the send path
	if (has("idle_cycle_us") && has("cpg_rtt_gap_us")) {
		a = f["idle_cycle_us"]; c = f["cpg_rtt_gap_us"]
		row("1. send path of an idle daemon: a new name acquired and released, one at a time (node 1)",
		    "p50 " us(a) "; CPG round trip after a 20 ms gap " us(c), r2(a, c) " the gapped round trip",
		    "no timer or job delay: within 2× the gapped round trip (a 50 ms sleep would be " sprintf("%.0f", 50000 / c) "×)", yn(a <= 2 * c))
	} else miss("1. send path of an idle daemon", "within 2× the gapped round trip", "bench_cluster.sh 1b")
	# 2. handover against the CPG round trip, and against etcd
	for (n = 1; n <= 2; n++) {
		k = "handover_to_n" n "_us"
		if (has(k) && has("cpg_rtt_us") && has("cpg_rtt_gap_us")) {
			h = f[k]; b = f["cpg_rtt_us"]; g = f["cpg_rtt_gap_us"]
			row("2. cross-node handover to node " n " (release to grant, 20 ms holds)",
			    "p50 " us(h) "; CPG round trip back to back " us(b) ", after a 20 ms gap " us(g),
			    r2(h, b) " back to back, " r2(h, g) " gapped", "≤ 1.2× a bare CPG round trip",
			    "back to back " yn(h <= 1.2 * b) ", gapped " yn(h <= 1.2 * g))
		} else miss("2. cross-node handover to node " n, "≤ 1.2× a bare CPG round trip", "bench_cluster.sh 2b")
	}
	nhold = split("20 150", holds, " ")
	for (hi = 1; hi <= nhold; hi++)
		for (n = 1; n <= 2; n++) {
			hold = holds[hi]
			k = "handover" hold "_to_n" n "_us"; e = "etcd_" k
			if (has(k) && has(e))
				row("2. handover to node " n " against the etcd lock recipe, " hold " ms holds",
				    "corolease p50 " us(f[k]) ", etcd " us(f[e]), r2(f[e], f[k]) " (etcd / corolease)",
				    "ahead of etcd by ≥ 10×", yn(f[e] >= 10 * f[k]))
			else if (has(k))
				row("2. handover to node " n " against etcd, " hold " ms holds", "corolease p50 " us(f[k]) "; etcd not run",
				    "-", "ahead of etcd by ≥ 10×", "-")
		}
	# 3. the local fast path
	if (has("reacquire_us") && has("libqb_rtt_us"))
		row("3. local re-acquire of a held or lingering lease (node 1)",
		    "p50 " us(f["reacquire_us"]) "; bare libqb IPC round trip " us(f["libqb_rtt_us"]) \
		    (has("socket_rtt_us") ? ", bare socket round trip " us(f["socket_rtt_us"]) : ""),
		    r2(f["reacquire_us"], f["libqb_rtt_us"]) " the libqb round trip", "≤ 1.0× a bare libqb round trip",
		    yn(f["reacquire_us"] <= f["libqb_rtt_us"]))
	else miss("3. local re-acquire", "≤ 1.0× a bare libqb round trip", "bench_cluster.sh 3")
	for (t = 1; t <= 2; t++) {
		k = t == 1 ? "redis_unix_cycle_us" : "redis_tcp_cycle_us"
		if (has("cycle_us") && has(k))
			row("3. acquire + release against Redis SET NX PX + DEL (" (t == 1 ? "Unix socket" : "TCP") ", one client)",
			    "corolease p50 " us(f["cycle_us"]) ", Redis " us(f[k]), r2(f[k], f["cycle_us"]) " (Redis / corolease)",
			    "ahead of Redis", yn(f[k] > f["cycle_us"]))
	}
	# 4. throughput on 3 nodes
	if (has("load_b_nodes_3_per_s"))
		row("4. cluster grants per second, all three nodes loading (async API)",
		    f["load_b_nodes_3_per_s"] "/s" (has("load_a_nodes_1_per_s") ? " (node 1 alone: " f["load_a_nodes_1_per_s"] "/s)" : ""),
		    r2(f["load_b_nodes_3_per_s"], 100000) " the goal", "≥ 100,000/s", yn(f["load_b_nodes_3_per_s"] >= 100000))
	else miss("4. cluster grants per second", "≥ 100,000/s", "bench_cluster.sh 4b")
	if (has("aputs_d_nodes_3_per_s"))
		row("4. index puts per second, all three nodes (async; synchronous: " (has("puts_c_nodes_3_per_s") ? f["puts_c_nodes_3_per_s"] "/s" : "-") ")",
		    f["aputs_d_nodes_3_per_s"] "/s", r2(f["aputs_d_nodes_3_per_s"], 50000) " the goal", "≥ 50,000/s",
		    yn(f["aputs_d_nodes_3_per_s"] >= 50000))
	else miss("4. index puts per second", "≥ 50,000/s", "bench_cluster.sh 4d")
	# 5. a million leases and a joining node
	if (has("join_synced_ms")) {
		row("5. " f["join_count"] " leases on node 1, a fresh node joins: start to synced",
		    sprintf("%.2f s (%s leases on the new node)", f["join_synced_ms"] / 1000, f["join_leases"]),
		    r2(f["join_synced_ms"], 5000) " the goal", "≤ 5 s", yn(f["join_synced_ms"] <= 5000 && f["join_leases"] == f["join_count"]))
		row("5. validity lapses of the holder and a replica, during the load and the join",
		    f["lapses_load"] " and " f["lapses_join"], "-", "none", yn(f["lapses_load"] == 0 && f["lapses_join"] == 0))
		row("5. memory on the holder per lease (VmRSS growth / leases)",
		    f["holder_bytes_per_lease"] " B (a replica: " f["replica_bytes_per_lease"] " B)",
		    r2(f["holder_bytes_per_lease"], 300) " the goal", "≤ 300 B", yn(f["holder_bytes_per_lease"] <= 300))
	} else miss("5. join of a fresh node", "≤ 5 s", "bench_join.sh")
	# 6. deadlines on a loaded machine: what a run can show
	if (has("realtime_priority") && has("memory_locked"))
		row("6. coroleased scheduling and memory (its status)",
		    "SCHED_RR " f["realtime_priority"] ", memory locked: " f["memory_locked"] \
		    (has("disconnected_load") ? "; clients disconnected during the load and the join of bench_join.sh: " f["disconnected_load"] " and " f["disconnected_join"] : ""),
		    "-", "SCHED_RR and mlockall; no client disconnected",
		    yn(f["realtime_priority"] > 0 && f["memory_locked"] == "true" && f["disconnected_load"] + f["disconnected_join"] == 0))
	# 7. peers
	if (has("peers")) {
		split(f["peers"], p, " ")
		row("7. peers run beside corolease", "Redis " (p[2] ? "yes" : "no (not installed)") ", etcd " (p[4] ? "yes" : "no (not installed)"),
		    "-", "Redis and a 3-node etcd when installed", p[2] && p[4] ? "yes" : "only what is installed")
	} else miss("7. peers", "Redis and etcd when installed", "bench_peers.sh")
}' "$LOG"
