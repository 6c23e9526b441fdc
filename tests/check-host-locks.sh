#!/bin/bash
# check-host-locks.sh - the host locks of the integration tests (lib.sh's
# host_lock, flood_lock, flood_unlock, it_host_share), in a lock directory of
# their own (IT_LOCK_DIR), with small scripts standing for tests:
#  1. a bare `wait` in a test that holds a lock returns (the holders are not
#     its children: t118's hung for ever, and the CI ran out of time);
#  2. a flood that runs alone waits for a running test's share, and a test
#     that starts meanwhile waits behind the flood (the gate), not beside it;
#     a flood that does not run alone waits for no test, only for floods;
#  3. a test killed -9 while it waits to run alone lets the tests after it
#     start before the running test ends;
#  4. a lock file that cannot be opened fails the test at once, saying why;
#  5. flood_lock twice is one window; flood_unlock takes the share again
#     (a lone flood after it waits for the test's end).
# And one check of lib.sh beside the locks:
#  6. a test that calls a function that does not exist fails, even where the
#     call's status decides nothing (0d06199 lost it_host_share so).
# Order is judged by the events the scripts log; where two scripts race,
# the holds leave seconds of slack (8 and 12 s).
set -u
src=${top_srcdir:-.}
LIB=$(cd "$src/tests/integration" && pwd)/lib.sh
tmp=$(mktemp -d) || exit 99
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
export IT_LOCK_DIR=$tmp/locks IT_FLOOD_ALONE=1
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
good() { echo "ok: $*"; }

# a test: T NAME KIND SECS: takes KIND (share, alone, flood: flood_lock's
# window), logs "NAME got", holds SECS, runs a bare wait, logs "NAME end"
cat >"$tmp/T" <<'T'
. "$LIB"
name=$1 kind=$2 secs=$3
CLUSTER_DIR=$TMPD/$name; mkdir -p "$CLUSTER_DIR"
say() { :; }
case $kind in
share) it_host_share ;;
alone) IT_FLOOD_ALONE=1 flood_lock ;;
flood) IT_FLOOD_ALONE=0 flood_lock ;;
twice) it_host_share; IT_FLOOD_ALONE=1 flood_lock; IT_FLOOD_ALONE=1 flood_lock ;;
esac
echo "$name got $(date +%s%N)" >>"$TMPD/events"
(sleep 0.1) &
wait
sleep "$secs"
if [[ $kind == twice ]]; then
	echo "$name unlocking $(date +%s%N)" >>"$TMPD/events"
	flood_unlock
	echo "$name unlocked $(date +%s%N)" >>"$TMPD/events"
	sleep 2
fi
echo "$name end $(date +%s%N)" >>"$TMPD/events"
T
export LIB TMPD=$tmp
at() { awk -v n="$1" -v e="$2" '$1 == n && $2 == e { print $3; exit }' "$tmp/events"; }
run() { timeout 60 bash "$tmp/T" "$@" >"$tmp/$1.out" 2>&1 & pids+=($!); }
wait_for() { local i; for ((i = 0; i < 300; i++)); do [[ -n $(at "$1" "$2") ]] && return 0; sleep 0.1; done; return 1; }
# gate_held: someone holds the gate (a flood waiting to run alone: a share
# passes it at once); waited for up to 30 s
gate_held() {
	local i
	for ((i = 0; i < 300; i++)); do
		mkdir -p "$IT_LOCK_DIR"
		flock -n "$IT_LOCK_DIR/corolease-it-gate.lock" true || return 0
		sleep 0.1
	done
	return 1
}
before() {   # before DESC N1 E1 N2 E2: N1's E1 came before N2's E2
	local a b
	a=$(at "$2" "$3"); b=$(at "$4" "$5")
	if [[ -n $a && -n $b ]] && ((a < b)); then good "$1"; else bad "$1 ($2 $3 ${a:-never}, $4 $5 ${b:-never})"; fi
}

# 1, 2
: >"$tmp/events"
run A share 3; wait_for A got
run F alone 1; gate_held
run B share 1
wait "${pids[@]}"
before "a bare wait returns (A ended)" A got A end
before "the lone flood F waited for A's share" A end F got
before "B, started while F waited, waited behind F" F end B got
: >"$tmp/events"; pids=()
run A share 8; wait_for A got
run G flood 1; wait_for G got
run H flood 0
wait "${pids[@]}"
before "the flood G (not alone) waited for no test" G end A end
before "the flood H waited for the flood G" G end H got

# 3
: >"$tmp/events"; pids=()
run A share 12; wait_for A got
run F alone 1; fp=$!; gate_held
{ pkill -9 -P "$fp"; kill -9 "$fp"; } 2>/dev/null   # the test's bash, and timeout
run B share 0
wait "${pids[@]}" 2>/dev/null
before "with F killed while it waited, B started before A ended" B got A end

# 4
: >"$tmp/events"; pids=()
mkdir -p "$IT_LOCK_DIR" && rm -f "$IT_LOCK_DIR/corolease-it-flood.lock" && mkdir "$IT_LOCK_DIR/corolease-it-flood.lock"
t0=$(date +%s)
timeout 60 bash "$tmp/T" X flood 0 >"$tmp/X.out" 2>&1; rc=$?
if [[ $rc != 0 && $rc != 124 ]] && grep -q 'cannot open the lock files' "$tmp/X.out" && (($(date +%s) - t0 < 30)); then
	good "an unopenable lock file fails the test at once ($(grep -o 'FAIL.*' "$tmp/X.out"))"
else
	bad "an unopenable lock file: rc $rc after $(($(date +%s) - t0)) s: $(cat "$tmp/X.out")"
fi
rmdir "$IT_LOCK_DIR/corolease-it-flood.lock"

# 5
: >"$tmp/events"; pids=()
run W twice 3; wait_for W got
run C share 0
wait_for W unlocked
run F alone 0
wait "${pids[@]}"
before "flood_lock twice is one window (W ran)" W got W unlocking
before "C waited for W's window" W unlocking C got
before "after flood_unlock W holds its share again: a lone flood waits for W's end" W end F got
# 6
cat >"$tmp/N" <<'N'
. "$LIB"
IT_NAME=nf IT_T0=$(now_ms)
CLUSTER_DIR=$TMPD/nf; mkdir -p "$CLUSTER_DIR"
trap it_cleanup EXIT
if no_such_helper_x 2>/dev/null; then :; fi
exit 0
N
timeout 60 bash "$tmp/N" >"$tmp/N.out" 2>&1; rc=$?
if [[ $rc == 1 ]] && grep -q "FAIL: the test called what does not exist: 'no_such_helper_x' (N:5)" "$tmp/N.out"; then
	good "a call to a function that does not exist fails the test"
else
	bad "a call to a function that does not exist: rc $rc: $(cat "$tmp/N.out")"
fi

if ((fails)); then
	for f in "$tmp"/*.out; do echo "== $f"; cat "$f"; done
	exit 1
fi
echo "check-host-locks: the host locks behave"
