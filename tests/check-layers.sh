#!/bin/sh
# check-layers.sh - every #include of the production code stays in its layer:
#
#   core/       core/ and include/ (not corolease/ipc.h)
#   lockd/      lockd/, core/ and include/
#   libclient/  include/ (client.c: corolease/ipc.h too; example.c: the
#               installed headers only)
#   tools/      the installed headers (corolease.h, corolease_admin.h), and
#               lockd/proctree.h alone of lockd/ (the process-tree walk that
#               `corolease acquire` shares with the daemon: no daemon state)
#   include/    include/ (the installed headers: not corolease/ipc.h)
#
# The include paths in the local.mk files (and automake's nostdinc) make a
# wrong include fail to compile; this catches what a compiler cannot: a path
# with "..", or a header of another layer reached relative to the file.
# Run by 'make check'; prints each offending line, exits 1 on any.
set -eu
LC_ALL=C
export LC_ALL

src=${top_srcdir:-.}
cd "$src"
failed=0

# allowed FILE: the directories FILE may include from, and whether the
# private headers of include/corolease/ are allowed (all|htab|none)
allowed() {
	case $1 in
	core/*) echo "core include|no-ipc" ;;
	lockd/*) echo "lockd core include|all" ;;
	libclient/example.c) echo "include|public" ;;
	libclient/*) echo "libclient include|all" ;;
	tools/*) echo "include|public" ;;
	include/corolease/*) echo "include|all" ;;
	include/*) echo "include|public" ;;
	esac
}

check_file() {
	f=$1
	rule=$(allowed "$f")
	dirs=${rule%|*}
	priv=${rule#*|}
	own=$(dirname "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" | while IFS= read -r line; do
		n=${line%%:*}
		inc=$(printf '%s\n' "${line#*:}" | sed 's/^[^<"]*[<"]\([^>"]*\)[>"].*/\1/')
		case $inc in
		*..*)
			echo "FAIL: $f:$n: #include \"$inc\" climbs out with ..: use the include path"
			echo x >>"$tmp/bad"
			continue ;;
		esac
		# a tree header? (found in the file's directory or an include directory)
		where=
		for d in "$own" core lockd libclient include; do
			if [ -f "$d/$inc" ]; then where=$d; break; fi
		done
		[ -n "$where" ] || continue   # a system header
		ok=0
		for d in $dirs; do
			[ "$where" = "$d" ] && ok=1
		done
		[ "$where" = "$own" ] && case " $dirs " in *" $own "*) ok=1 ;; esac
		case $own/$where/$inc in tools/lockd/proctree.h) ok=1 ;; esac
		if [ "$where" = include ]; then
			case $priv/$inc in
			public/corolease.h | public/corolease_admin.h) ;;
			public/*) ok=0 ;;
			no-ipc/corolease/ipc.h) ok=0 ;;
			esac
		fi
		if [ "$ok" = 0 ]; then
			echo "FAIL: $f:$n: #include \"$inc\" ($where/$inc) is outside the layer of $own"
			echo x >>"$tmp/bad"
		fi
	done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/bad"
nfiles=0
for f in core/*.[ch] lockd/*.[ch] libclient/*.[ch] tools/*.[ch] include/*.h include/corolease/*.h; do
	[ -f "$f" ] || continue
	nfiles=$((nfiles + 1))
	check_file "$f"
done
[ -s "$tmp/bad" ] && failed=1
echo "$nfiles files checked"
[ "$failed" = 0 ] && echo "PASS: every include stays in its layer"
exit "$failed"
