#!/bin/bash
# bench_all.sh [--quick] - every benchmark of issue 9 in one run, and its report
# ('./dev bench' runs it after a build; root, from the source tree):
#
#   1. bench/bench-sm: the state machine alone, 1,000,000 leases;
#   2. bench/bench_cluster.sh SECS (default 10): the 3-node figures, the load
#      clients under LOAD_CHRT (default "chrt -r 40", below coroleased's 50);
#   3. bench/bench_peers.sh PSECS (default 5): Redis and a 3-node etcd beside
#      corolease, each when installed (said and skipped when not);
#   4. bench/bench_join.sh COUNT (default 1,000,000): the million leases and a
#      joining node.
#
# Everything printed goes to OUT/run-DATE.log (OUT: BENCH_OUT, default
# _build/bench-report), headed and ended by "run:" lines (the date, commit,
# machine, versions and load average); then bench/bench_report.sh turns its
# "figure:" lines into the table of the issue 9 targets, printed and kept as
# OUT/summary.md (what './dev bench --readme' puts into README.md).
# --quick: SECS 3, PSECS 2 with one round, COUNT 100,000, 10,000 grants and
# 5,000 puts per node: minutes instead of about 15, for trying it out.
# A benchmark that fails is said in the log and its figures are missing from
# the table; the exit status is non-zero then.  Figures only, no assertions.
set -u -o pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/_build}
export BUILD
QUICK=0
case ${1:-} in
--quick) QUICK=1 ;;
"") ;;
*) echo "usage: bench_all.sh [--quick]" >&2; exit 2 ;;
esac
((EUID == 0)) || { echo "bench_all.sh: needs root (the benchmarks build clusters in namespaces)" >&2; exit 1; }
for b in bench/bench-sm lockd/coroleased tools/corolease bench/bench-ipc bench/bench-peers bench/cpg-ping; do
	[[ -x $BUILD/$b ]] || { echo "bench_all.sh: $BUILD/$b not built (./dev build)" >&2; exit 1; }
done
if ((QUICK)); then
	SECS=${SECS:-3} PSECS=${PSECS:-2} COUNT=${COUNT:-100000}
	export LOADN=${LOADN:-10000} PUTN=${PUTN:-5000} ROUNDS=${ROUNDS:-1} ITERS=${ITERS:-5000} XITERS=${XITERS:-300}
else
	SECS=${SECS:-10} PSECS=${PSECS:-5} COUNT=${COUNT:-1000000}
fi
export LOAD_CHRT=${LOAD_CHRT-chrt -r 40}
OUT=${BENCH_OUT:-$BUILD/bench-report}
mkdir -p "$OUT" || exit 1
LOG=$OUT/run-$(date -u +%Y%m%d-%H%M%S).log
: >"$LOG" || exit 1
log() { echo "$*" | tee -a "$LOG"; }
ver() { "$@" 2>/dev/null | head -1; }
rc=0
log "run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)$( ((QUICK)) && echo ', --quick')"
log "run: machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
log "run: $(ver corosync -v | sed 's/ *Copyright.*//'), Redis: $(ver redis-server --version || echo 'not installed'), etcd: $(ver etcd --version || echo 'not installed')"
log "run: load average before: $(cut -d' ' -f1-3 /proc/loadavg); load clients under '${LOAD_CHRT:-normal scheduling}'"
step() {
	local what=$1 r; shift
	log "=== $what"
	"$@" 2>&1 | tee -a "$LOG"
	r=${PIPESTATUS[0]}
	((r == 0)) || { log "run: $what exited $r"; rc=1; }
}
step "bench-sm (the state machine alone)" "$BUILD/bench/bench-sm"
step "bench_cluster.sh $SECS" "$SRC/bench/bench_cluster.sh" "$SECS"
step "bench_peers.sh $PSECS" "$SRC/bench/bench_peers.sh" "$PSECS"
step "bench_join.sh $COUNT" "$SRC/bench/bench_join.sh" "$COUNT"
log "run: load average after: $(cut -d' ' -f1-3 /proc/loadavg); the log: ${LOG#"$SRC"/}"
"$SRC/bench/bench_report.sh" "$LOG" >"$OUT/summary.md" || rc=1
echo
cat "$OUT/summary.md"
echo
echo "bench_all.sh: the table is in $OUT/summary.md, the whole run in $LOG"
exit "$rc"
