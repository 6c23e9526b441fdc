#!/bin/sh
# sim-long.sh - the long run of corolease-sim (issue 7): SEEDS seeds
# (default 1000000) from START (default 1) with every invariant on, split
# into JOBS contiguous slices (default: the online CPUs), one process each,
# each running its slice in chunks of CHUNK seeds with --keep-going: every
# violating seed is printed as it is found, and a progress line after each
# chunk.  The results are merged at the end: seeds, violations, the CPU time
# of all the processes and the wall time.
#
#     make sim-long                  # from the build directory (nice -n 10)
#     SEEDS=1000000 JOBS=2 bench/sim-long.sh _build/tests/sim/corolease-sim
#
# SIM_FLAGS (default --self-first, the model make check runs) are given to
# every run; SIM_FLAGS= runs the plain stream, SIM_FLAGS='--scenario
# minority-burst --self-first' a scenario.
#
# A seed's run does not depend on how the range is split, so any JOBS gives
# the same verdicts; replay a seed with corolease-sim --seed S --verbose.
# The last line says: seeds run, violations, CPU and wall time, the commit.
# Exit status: 0 clean, 1 a violation was seen, 2 a run failed (or usage).
SIM=${1:-${abs_top_builddir:-.}/tests/sim/corolease-sim}
# the simulator's options for every seed: by default the model make check runs
# (a sender delivers its own messages first); SIM_FLAGS= runs the plain stream
SIM_FLAGS=${SIM_FLAGS---self-first}
SEEDS=${SEEDS:-1000000}
START=${START:-1}
CHUNK=${CHUNK:-10000}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
top=$(dirname "$0")/..
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

die() { echo "sim-long: $*" >&2; exit 2; }
[ -x "$SIM" ] || die "$SIM not built"
x=
for v in SEEDS START CHUNK JOBS; do
	eval "x=\$$v"
	case $x in '' | *[!0-9]*) die "$v=$x: not a number" ;; esac
done
if [ "$CHUNK" -lt 1 ] || [ "$JOBS" -lt 1 ] || [ "$SEEDS" -lt 1 ]; then
	die "SEEDS, CHUNK and JOBS must be at least 1"
fi
[ "$JOBS" -gt "$SEEDS" ] && JOBS=$SEEDS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim-long.XXXXXX") || die "mktemp failed"
pids=
trap '[ -n "$pids" ] && kill $pids 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP

# slice W FIRST COUNT: seeds FIRST .. FIRST+COUNT-1, CHUNK at a time.  Each
# chunk's "seeds violations" goes to $tmp/done.W; a failed run ends the
# slice and leaves $tmp/failed.W.
slice() {
	w=$1 s=$2 left=$3
	while [ "$left" -gt 0 ]; do
		n=$CHUNK
		[ "$left" -lt "$n" ] && n=$left
		# shellcheck disable=SC2086
		SEEDS='' "$SIM" --start "$s" --seeds "$n" --jobs 1 --keep-going $SIM_FLAGS >"$tmp/out.$w" 2>&1
		rc=$?
		grep 'VIOLATION of invariant' "$tmp/out.$w"
		# "sim: N seeds, E events, V violations (...)"; word splitting wanted here
		# shellcheck disable=SC2046
		set -- $(sed -n 's/^sim: \([0-9]*\) seeds, [0-9]* events, \([0-9]*\) violations.*/\1 \2/p' \
			"$tmp/out.$w")
		if [ $rc -gt 1 ] || [ "${1:-x}" != "$n" ]; then
			echo "sim-long: seeds $s..$((s + n - 1)) did not run through (exit $rc); its output:"
			sed 's/^/    /' "$tmp/out.$w"
			: >"$tmp/failed.$w"
			return
		fi
		echo "$1 $2" >>"$tmp/done.$w"
		s=$((s + n))
		left=$((left - n))
		# shellcheck disable=SC2046
		set -- $(cat "$tmp"/done.* | awk '{n += $1; v += $2} END {print n + 0, v + 0}')
		echo "sim-long: progress: $1/$SEEDS seeds, $2 violations, $(($(date +%s) - t0)) s wall"
	done
}

t0=$(date +%s)
echo "sim-long: seeds $START..$((START + SEEDS - 1)) in $JOBS processes, $CHUNK seeds a chunk," \
	"$SIM ${SIM_FLAGS:-(no options)} (commit $commit)"
s=$START
w=1
while [ "$w" -le "$JOBS" ]; do
	# contiguous slices; the first SEEDS % JOBS get one seed more
	n=$((SEEDS / JOBS + (w <= SEEDS % JOBS)))
	slice "$w" "$s" "$n" &
	pids="$pids $!"
	s=$((s + n))
	w=$((w + 1))
done
wait
pids=
t1=$(date +%s)

# CPU time of every waited-for descendant: the second line of `times` (run
# by this shell itself, not in a command substitution's subshell)
times >"$tmp/times"
cpu=$(sed -n 2p "$tmp/times" | awk '
	function sec(x) { sub(/s$/, "", x); split(x, p, "m"); return p[1] * 60 + p[2] }
	{ printf "%.1f %.1f", sec($1), sec($2) }')
# shellcheck disable=SC2046
set -- $(cat "$tmp"/done.* 2>/dev/null | awk '{n += $1; v += $2} END {print n + 0, v + 0}')
ran=$1 bad=$2
# shellcheck disable=SC2086
set -- $cpu
perseed=$(awk -v u="$1" -v s="$2" -v n="$ran" 'BEGIN { if (n) printf "%.2f", (u + s) * 1000 / n; else print "-" }')
failed=0
for f in "$tmp"/failed.*; do
	[ -e "$f" ] && failed=$((failed + 1))
done
note=
[ "$failed" -gt 0 ] && note=", $failed slices FAILED"
echo "sim-long: RESULT: $ran of $SEEDS seeds ($START..$((START + SEEDS - 1))), $bad violations," \
	"$JOBS processes, CPU $1 s user + $2 s sys ($perseed ms/seed), $((t1 - t0)) s wall," \
	"options '${SIM_FLAGS}', commit $commit$note"
if [ "$failed" -gt 0 ] || [ "$ran" -ne "$SEEDS" ]; then
	exit 2
fi
[ "$bad" -eq 0 ]
