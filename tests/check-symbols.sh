#!/bin/sh
# check-symbols.sh - the symbols libcorolease.so exports are exactly those
# listed in its version script (libclient/libcorolease.map, no wildcard), in
# its Debian symbols file (libclient/libcorolease.symbols), declared in its
# public headers (include/corolease.h, include/corolease_admin.h), and
# declared and described in libcorolease(3).  Any difference fails, naming
# the symbols and where they are missing.  Run by 'make check' from the top
# build directory; exit 77 (skip) without a shared library or nm.
set -eu
LC_ALL=C
export LC_ALL

src=${top_srcdir:-.}
build=${top_builddir:-.}
so=$build/libclient/.libs/libcorolease.so
node=COROLEASE_0.1
map=$src/libclient/libcorolease.map
debsyms=$src/libclient/libcorolease.symbols
man=$src/doc/libcorolease.3

[ -f "$so" ] || { echo "SKIP: $so not built (static-only build?)"; exit 77; }
command -v nm >/dev/null 2>&1 || { echo "SKIP: no nm"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# C comments removed, so names in prose do not count
strip_comments() {
	awk '{
		out = ""; s = $0
		while (length(s)) {
			if (inc) {
				i = index(s, "*/"); if (!i) { s = ""; break }
				s = substr(s, i + 2); inc = 0
			} else {
				i = index(s, "/*"); if (!i) { out = out s; break }
				out = out substr(s, 1, i - 1); s = substr(s, i + 2); inc = 1
			}
		}
		print out
	}' "$@"
}

# 1. what the library exports: every defined dynamic symbol but the version node
nm -D --defined-only "$so" | awk -v node="$node" '$3 != node { print $3 }' >"$tmp/raw"
sed 's/@.*//' "$tmp/raw" | sort -u >"$tmp/exported"
if grep -v "@@$node\$" "$tmp/raw" >"$tmp/badver"; then
	echo "FAIL: exported outside the default version node $node: $(tr '\n' ' ' <"$tmp/badver")"
	failed=1
fi
nm -D --defined-only "$so" | awk -v node="$node" '$3 == node' | grep -q . || {
	echo "FAIL: $so defines no version node $node"
	failed=1
}
echo "libcorolease.so exports $(wc -l <"$tmp/exported") functions under $node"

# 2. the version script: names between 'global:' and 'local:', no wildcard
strip_comments "$map" | awk '/global:/ { g = 1; next } /local:/ { g = 0 } g' |
	tr -d ' \t;' | grep -v '^$' | sort >"$tmp/map"
if grep -q '[*?]' "$tmp/map"; then
	echo "FAIL: $map exports by wildcard: $(grep '[*?]' "$tmp/map" | tr '\n' ' ')"
	failed=1
fi

# 3. the Debian symbols file: ' NAME@NODE VERSION' lines, the node itself aside
awk -v node="$node" '/^ / { sub(/^ /, ""); split($1, a, "@"); if (a[1] != node) print a[1] }' \
	"$debsyms" | sort >"$tmp/debian"

# 4. the public headers: function declarations (a name directly followed by '(')
strip_comments "$src/include/corolease.h" "$src/include/corolease_admin.h" |
	grep -v '^[[:space:]]*#' | grep -o 'corolease_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/headers"

# 5. libcorolease(3): declared in SYNOPSIS, and described (.B/.BR NAME ()) after it
awk '/^\.SH SYNOPSIS/ { s = 1; next } /^\.SH/ { s = 0 } s' "$man" |
	grep -o 'corolease_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/synopsis"
awk '/^\.SH/ { s = ($0 !~ /SYNOPSIS/) } s' "$man" |
	sed -n 's/^\.BR* \(corolease_[a-z0-9_]*\) ().*/\1/p' | sort -u >"$tmp/described"

# compare NAME FILE WHERE
compare() {
	if ! cmp -s "$tmp/exported" "$tmp/$1"; then
		missing=$(comm -23 "$tmp/exported" "$tmp/$1" | tr '\n' ' ')
		extra=$(comm -13 "$tmp/exported" "$tmp/$1" | tr '\n' ' ')
		[ -n "$missing" ] && echo "FAIL: exported by libcorolease.so but not $2: $missing"
		[ -n "$extra" ] && echo "FAIL: $2 but not exported by libcorolease.so: $extra"
		failed=1
	else
		echo "ok: $2 ($(wc -l <"$tmp/$1") names)"
	fi
}
compare map "listed in libclient/libcorolease.map"
compare debian "listed in libclient/libcorolease.symbols"
compare headers "declared in include/corolease.h or include/corolease_admin.h"
compare synopsis "declared in the SYNOPSIS of doc/libcorolease.3"
compare described "described (.BR NAME ()) in doc/libcorolease.3"

[ "$failed" = 0 ] && echo "PASS: exports, version script, symbols file, headers and man page agree"
exit "$failed"
