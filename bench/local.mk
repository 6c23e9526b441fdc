# bench/: benchmarks that print figures and ratios. 'make bench' runs them.

noinst_PROGRAMS += bench/bench-sm
bench_bench_sm_SOURCES = bench/bench_sm.c
bench_bench_sm_CPPFLAGS = $(CORE_CPPFLAGS)
bench_bench_sm_LDADD = core/libcorolease-core.la

noinst_PROGRAMS += bench/bench-node
bench_bench_node_SOURCES = bench/bench_node.c
bench_bench_node_CPPFLAGS = $(CORE_CPPFLAGS)
bench_bench_node_LDADD = core/libcorolease-core.la

# BENCH_ARGS is passed to bench-sm, BENCH_NODE_ARGS to bench-node (--leases N)
BENCH_ARGS =
BENCH_NODE_ARGS =
bench: bench/bench-sm$(EXEEXT) bench/bench-node$(EXEEXT)
	./bench/bench-sm$(EXEEXT) $(BENCH_ARGS)
	./bench/bench-node$(EXEEXT) $(BENCH_NODE_ARGS)
.PHONY: bench

# --- IPC and cluster latency (bench/bench_ipc.c, bench/cpg_ping.c) -----------
# 'make bench' also runs bench-ipc against a local coroleased if one answers
# ('./dev run'); without one it says so.  The cross-node figures come from
# bench/bench_cluster.sh (root; builds a 3-node cluster; run by hand).
# bench/bench_dovecot.sh (root, run by hand): the Dovecot plugin's login latency and
# lease messages per session on the 3-node cluster of the Dovecot tests.
# bench/bench_join.sh [COUNT] (root, run by hand): COUNT (1,000,000) leases on a 3-node
# cluster, then a joining node: load rate, bytes per lease, join time, validity lapses.
noinst_PROGRAMS += bench/bench-ipc bench/cpg-ping
bench_bench_ipc_SOURCES = bench/bench_ipc.c bench/bench_util.h
bench_bench_ipc_CPPFLAGS = -I$(top_srcdir)/include
bench_bench_ipc_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS)
bench_bench_ipc_LDADD = libclient/libcorolease.la $(LIBQB_LIBS)
bench_cpg_ping_SOURCES = bench/cpg_ping.c
bench_cpg_ping_CFLAGS = $(AM_CFLAGS) $(LIBCPG_CFLAGS)
bench_cpg_ping_LDADD = $(LIBCPG_LIBS)
EXTRA_DIST += bench/bench_cluster.sh bench/bench_dovecot.sh bench/cluster-lib.sh bench/bench_join.sh
bench: bench-ipc-run
bench-ipc-run: bench/bench-ipc$(EXEEXT)
	./bench/bench-ipc$(EXEEXT) local
.PHONY: bench-ipc-run

# --- peers: Redis and etcd beside corolease (issue 9) --------------------------
# bench/bench_peers.sh [SECS] (root, after './dev build'; run by hand or with
# 'make bench-peers'): bench-peers times corolease and Redis with one harness,
# bench/etcd_bench.py times etcd (lease + txn, the lock recipe) over its JSON
# gateway; each peer that is not installed is skipped with a message.  It ends
# with the Markdown table of README.md "Benchmarks".
noinst_PROGRAMS += bench/bench-peers
bench_bench_peers_SOURCES = bench/bench_peers.c bench/bench_util.h
bench_bench_peers_CPPFLAGS = -I$(top_srcdir)/include
bench_bench_peers_LDADD = libclient/libcorolease.la
EXTRA_DIST += bench/bench_peers.sh bench/etcd_bench.py
BENCH_SECS = 5
bench-peers: bench/bench-peers$(EXEEXT) bench/bench-ipc$(EXEEXT) lockd/coroleased$(EXEEXT) tools/corolease$(EXEEXT)
	BUILD=$(abs_builddir) $(srcdir)/bench/bench_peers.sh $(BENCH_SECS)
.PHONY: bench-peers

# --- the long simulator run (issue 7) -----------------------------------------
# 'make sim-long' runs SEEDS (default 1000000) corolease-sim seeds with every
# invariant on, split over JOBS processes (default: the online CPUs), at
# nice 10, with a progress line per CHUNK seeds and the merged result (seeds,
# violations, CPU and wall time) at the end; see bench/sim-long.sh.  Its
# result is quoted in README.md.
EXTRA_DIST += bench/sim-long.sh bench/bench_all.sh bench/bench_report.sh
sim-long: tests/sim/corolease-sim$(EXEEXT)
	nice -n 10 $(srcdir)/bench/sim-long.sh ./tests/sim/corolease-sim$(EXEEXT)
.PHONY: sim-long
