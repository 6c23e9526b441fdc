#!/bin/bash
# run-config-tests.sh - golden tests of coroleased's configuration parser.
#
# For every tests/config/NAME.conf: runs 'coroleased -t -c NAME.conf' (plus
# the arguments in NAME.args, if any) from tests/config/, and compares what
# it prints (stdout and stderr) with NAME.ok.  good-* must exit 0, bad-* 1.
# Then checks that every key coroleased knows (the first column of
# 'coroleased -t') is documented in corolease.conf(5), in
# packaging/corolease.conf and in the README.
#
# UPDATE=1 rewrites the .ok files from the current output (review the diff).
set -u -o pipefail

: "${abs_top_builddir:=${top_builddir:-$(dirname "$0")/../../_build}}"
: "${top_srcdir:=$(dirname "$0")/../..}"
DAEMON=$(cd "$abs_top_builddir" && pwd)/lockd/coroleased
SRC=$(cd "$top_srcdir" && pwd)
DIR=$SRC/tests/config

[[ -x $DAEMON ]] || { echo "SKIP: $DAEMON not built"; exit 77; }

fails=0 n=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cd "$DIR" || exit 99
for conf in *.conf; do
	name=${conf%.conf}
	n=$((n + 1))
	args=()
	[[ -f $name.args ]] && read -r -a args <"$name.args"
	out=$("$DAEMON" -t -c "$conf" "${args[@]}" 2>&1)
	rc=$?
	case $name in
	good-*) want=0 ;;
	bad-*) want=1 ;;
	*) fail "$conf: name it good-* or bad-*"; continue ;;
	esac
	[[ $rc == "$want" ]] || fail "$conf: exit status $rc, expected $want"
	if [[ ${UPDATE:-0} == 1 ]]; then
		printf '%s\n' "$out" >"$name.ok"
	elif [[ ! -f $name.ok ]]; then
		fail "$conf: $name.ok is missing"
	elif ! diff -u "$name.ok" <(printf '%s\n' "$out"); then
		fail "$conf: output differs from $name.ok"
	fi
done
echo "$n configurations checked"

# every key is documented
keys=$("$DAEMON" -t -c /dev/null | awk '{print $1}')
[[ -n $keys ]] || fail "coroleased -t -c /dev/null printed no keys"
for key in $keys; do
	grep -q "^\.BR $key " "$SRC/doc/corolease.conf.5" || fail "$key is not in doc/corolease.conf.5"
	grep -q "^#$key = " "$SRC/packaging/corolease.conf" || fail "$key is not in packaging/corolease.conf"
	grep -q "\`$key\`" "$SRC/README.md" || fail "$key is not in README.md"
done
echo "$(wc -w <<<"$keys") keys documented"

if ((fails)); then
	echo "$fails failure(s)"
	exit 1
fi
echo "PASS"
