#!/bin/sh
# check-test-scripts.sh - no check of the shell tests is cut in two: in
#
#     check "DESC" [ "$rc" = 1 ] && grep -q 'node 1' <<<"$out"
#
# check() runs only `[ "$rc" = 1 ]`; what follows && (or ||) runs after it,
# and its status decides nothing, so that half of the test cannot fail
# (nine checks had this shape, among them t28's "names node 1", t22's "runs
# nothing under a fake lease" and t15's read on node 2).  One check per
# condition, or `[ A -a B ]`, or bash -c '...'.
# Looks at every tests/**/*.sh: a line (continuations joined) that starts
# with `check ` and has && or || outside quotes.  Run by 'make check';
# prints each offending line, exits 1 on any.
set -eu
LC_ALL=C
export LC_ALL
cd "${top_srcdir:-.}"
find tests -name '*.sh' | sort | xargs ${AWK:-awk} '
# open(s): whether s leaves a double-quoted string open (escapes skipped)
function open(s,  t) { t = s; gsub(/\\./, "", t); gsub(/\047[^\047"]*\047/, "", t); return gsub(/"/, "", t) % 2 }
FNR == 1 { joined = "" }
{
	line = $0
	if (joined == "") start = FNR
	if (sub(/\\$/, "", line) || open(joined line)) { joined = joined line " "; next }
	stmt = joined line
	joined = ""
	if (stmt !~ /^[ \t]*check[ \t]/) next
	s = stmt
	gsub(/"([^"\\]|\\.)*"/, "", s)    # double-quoted words (with their $(...))
	gsub(/\047[^\047]*\047/, "", s)   # single-quoted ones
	gsub(/\$\(\([^)]*\)\)/, "", s)  # arithmetic
	if (s ~ /&&|\|\|/) {
		printf "%s:%d: a check with && or || after it: only the first command is checked\n", FILENAME, start
		bad = 1
	}
}
END { exit bad }
' || { echo "check-test-scripts.sh: FAIL (see above)"; exit 1; }
echo "check-test-scripts.sh: every check is whole"
