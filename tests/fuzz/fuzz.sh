#!/bin/bash
# fuzz.sh - builds and runs the libFuzzer targets of tests/fuzz/ with clang
# (libFuzzer + ASan + UBSan), apart from the gcc build: 'make fuzz' and
# './dev fuzz' call it.  See tests/fuzz/README.md.
#
#   fuzz.sh build OUT          build every target into OUT/
#   fuzz.sh run OUT [SECONDS]  build, then run each target on a copy of its
#                              seeds: for its fixed count (-runs), or for
#                              SECONDS each; fails on the first crash
#   fuzz.sh seeds              rewrite tests/fuzz/seeds/ (the checked-in corpus)
#
# Environment: FUZZ_CC (default clang-14, else clang), FUZZ_TARGETS (a subset),
# FUZZ_KEEP_CORPUS=1 (run: grow OUT/corpus/TARGET across runs, for long runs).
set -euo pipefail

SRC=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
FUZZ_CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang || echo clang)}
ALL_TARGETS="fuzz_wire fuzz_snapshot fuzz_config fuzz_sm fuzz_ipc"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

# fixed counts of 'make fuzz' (a few seconds each on a quiet machine)
declare -A RUNS=([fuzz_wire]=300000 [fuzz_snapshot]=200000 [fuzz_config]=100000
		 [fuzz_sm]=3000 [fuzz_ipc]=20000)

CFLAGS=(-g -O1 -std=gnu11 -fsanitize=address,undefined -fno-sanitize-recover=undefined
	-fno-omit-frame-pointer -Wall -Wextra -Werror -DCOROLEASE_IPC_PEER
	-I"$SRC/include" -I"$SRC/core" -I"$SRC/lockd" -I"$SRC/tests/support" -I"$SRC/tests/fuzz")
LOCKD_IPC="ipc ipc_req ipc_read page proctree killbudget killguard watch hashkey holdquota groups config status"

die() { echo "fuzz.sh: $*" >&2; exit 1; }

# the objects of target $1 besides the core's (relative to the source tree, without .c)
objects() {
	local l
	case $1 in
	fuzz_wire|fuzz_snapshot) ;;
	fuzz_config) echo lockd/config ;;
	fuzz_sm) echo tests/support/evsbus ;;
	fuzz_ipc) for l in $LOCKD_IPC; do echo "lockd/$l"; done ;;
	*) die "unknown target $1" ;;
	esac
	echo "tests/fuzz/$1"
}

build() {
	local out=$1 t s o objs
	command -v "$FUZZ_CC" >/dev/null || die "no clang ($FUZZ_CC); install clang-14 (./dev deps)"
	mkdir -p "$out/obj"
	# every object once, instrumented for libFuzzer (its main comes at the link)
	local all=() core=()
	for s in "$SRC"/core/*.c; do
		s=${s#"$SRC/"}
		core+=("$out/obj/${s//\//_}.o")
		all+=("${s%.c}")
	done
	for t in $TARGETS; do
		for s in $(objects "$t"); do all+=("$s"); done
	done
	for s in $(printf '%s\n' "${all[@]}" | sort -u); do
		o=$out/obj/${s//\//_}.c.o
		"$FUZZ_CC" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link -c "$SRC/$s.c" -o "$o" ||
			die "compiling $s.c failed"
	done
	for t in $TARGETS; do
		objs=()
		for s in $(objects "$t"); do objs+=("$out/obj/${s//\//_}.c.o"); done
		local libs=()
		[[ $t == fuzz_ipc ]] && libs=(-lqb -lpthread)
		"$FUZZ_CC" "${CFLAGS[@]}" -fsanitize=fuzzer "${objs[@]}" "${core[@]}" "${libs[@]}" \
			-o "$out/$t.new" || die "linking $t failed"
		mv "$out/$t.new" "$out/$t"
	done
}

run() {
	local out=$1 secs=${2:-} t rc=0
	build "$out"
	for t in $TARGETS; do
		local corpus=$out/corpus/$t
		[[ ${FUZZ_KEEP_CORPUS:-} == 1 ]] || rm -rf "$corpus"
		mkdir -p "$corpus" "$out/crashes"
		cp -n "$SRC/tests/fuzz/seeds/$t"/* "$corpus/"
		local limit=(-runs="${RUNS[$t]}")
		[[ -n $secs ]] && limit=(-max_total_time="$secs")
		echo "fuzz: $t ${limit[*]}"
		if ! (cd "$out" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			"./$t" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
			-max_len=4096 "$corpus" >"$out/$t.log" 2>&1); then
			echo "fuzz: $t FAILED; its log: $out/$t.log, the input: $out/crashes/" >&2
			grep -E 'ORACLE|ERROR|SUMMARY' "$out/$t.log" | head -5 >&2 || true
			rc=1
			continue
		fi
		grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^Done' "$out/$t.log" |
			sed "s/^/fuzz: $t: /"
	done
	return $rc
}

seeds() {
	local tmp t
	tmp=$(mktemp -d)
	trap "rm -rf '$tmp'" EXIT
	"$FUZZ_CC" -std=gnu11 -Wall -Wextra -Werror -I"$SRC/include" -I"$SRC/core" "$SRC"/core/*.c \
		"$SRC/tests/fuzz/mkseeds.c" -o "$tmp/mkseeds"
	# rewrites the generated files; inputs added by hand (regressions) stay
	for t in $ALL_TARGETS; do
		mkdir -p "$SRC/tests/fuzz/seeds/$t"
	done
	"$tmp/mkseeds" "$SRC/tests/fuzz/seeds"
	cp "$SRC/packaging/corolease.conf" "$SRC/tests/fuzz/seeds/fuzz_config/packaging.conf"
	for t in good-all good-bools good-comments good-empty-groups bad-bool; do
		[[ -e $SRC/tests/config/$t.conf ]] && cp "$SRC/tests/config/$t.conf" "$SRC/tests/fuzz/seeds/fuzz_config/"
	done
	ls -R "$SRC/tests/fuzz/seeds"
}

case ${1:-} in
build) [[ $# == 2 ]] || die "usage: fuzz.sh build OUT"; build "$2" ;;
run) [[ $# == 2 || $# == 3 ]] || die "usage: fuzz.sh run OUT [SECONDS]"; run "$2" "${3:-}" ;;
seeds) seeds ;;
*) die "usage: fuzz.sh build OUT | run OUT [SECONDS] | seeds" ;;
esac
