#!/bin/sh
# sim-long.sh - the long run of corolease-sim (issue 7): SEEDS seeds
# (default 1000000) with every invariant on, in chunks of CHUNK seeds, one
# worker process (JOBS=1 by default: the machine is shared), printing a
# progress line per chunk and one line per violating seed (--keep-going).
#
#     make sim-long                 # from the build directory
#     SEEDS=1000000 JOBS=1 nice -n 10 bench/sim-long.sh _build/tests/sim/corolease-sim
#
# The last line says: seeds run, violations, wall time, and the commit.
# Exit status: 0 clean, 1 a violation was seen.
SIM=${1:-${abs_top_builddir:-.}/tests/sim/corolease-sim}
SEEDS=${SEEDS:-1000000}
CHUNK=${CHUNK:-10000}
JOBS=${JOBS:-1}
START=${START:-1}
top=$(dirname "$0")/..
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -x "$SIM" ] || { echo "sim-long: $SIM not built" >&2; exit 2; }

t0=$(date +%s)
done_=0
bad=0
s=$START
while [ "$done_" -lt "$SEEDS" ]; do
	n=$CHUNK
	[ $((SEEDS - done_)) -lt "$n" ] && n=$((SEEDS - done_))
	out=$(SEEDS= "$SIM" --start "$s" --seeds "$n" --jobs "$JOBS" --keep-going 2>&1)
	v=$(printf '%s\n' "$out" | grep -c 'VIOLATION of invariant')
	printf '%s\n' "$out" | grep 'VIOLATION of invariant'
	bad=$((bad + v))
	done_=$((done_ + n))
	s=$((s + n))
	echo "sim-long: progress: $done_/$SEEDS seeds, $bad violations, $(( $(date +%s) - t0 )) s wall (commit $commit)"
done
echo "sim-long: RESULT: $done_ seeds (from $START), $bad violations, $(( $(date +%s) - t0 )) s wall, commit $commit"
[ "$bad" -eq 0 ]
