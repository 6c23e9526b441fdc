#!/bin/bash
# check-docs.sh - the man pages and the sample config say what the programs do:
#   * every command in 'corolease --help' has a synopsis line "corolease CMD"
#     and an entry in COMMANDS of corolease(1), every option its usage line
#     names is in corolease(1), and every COMMANDS entry is a command of
#     --help;
#   * every key 'coroleased -t' prints is described in corolease.conf(5)
#     (".BR key (default: ...)") and present in packaging/corolease.conf
#     ("#key = value"), with the same default where both give a plain value;
#     and neither documents a key coroleased does not know.
# Run by 'make check' from the top build directory; prints every difference.
set -u -o pipefail
LC_ALL=C
export LC_ALL
src=${top_srcdir:-.}
build=${top_builddir:-.}
CLI=$build/tools/corolease
DAEMON=$build/lockd/coroleased
MAN1=$src/doc/corolease.1
MAN5=$src/doc/corolease.conf.5
SAMPLE=$src/packaging/corolease.conf
[[ -x $CLI && -x $DAEMON ]] || { echo "SKIP: corolease or coroleased not built"; exit 77; }
bad=0
err() { echo "check-docs: $*"; bad=1; }

# roff source to plain words: font escapes, \- and quotes out
plain() { sed -e 's/\\f[BIRP]//g; s/\\-/-/g; s/\\(dq/"/g; s/"//g; s/  */ /g; s/ ,/,/g; s/^\.\(B\|I\|BR\|BI\|IR\|RB\|IB\|RI\) //'; }
# tag lines: the line after each .TP / .TQ
tags() { awk 'tag { print; tag = 0 } /^\.T[PQ]/ { tag = 1 }' "$1" | plain; }

# ---- corolease(1) against corolease --help
help=$("$CLI" --help) || err "corolease --help failed"
cmds=$(awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ {
	w = $1; if ($2 ~ /^[a-z][a-z-]*$/ && $1 == "index") w = w " " $2; print w }' <<<"$help")
[[ -n $cmds ]] || err "no commands found in corolease --help"
man1_tags=$(tags "$MAN1")
man1_text=$(plain <"$MAN1")
while IFS= read -r c; do
	grep -q "^corolease $c\b" <<<"$man1_text" || err "corolease(1) SYNOPSIS lacks 'corolease $c'"
	grep -q "^$c\b" <<<"$man1_tags" || err "corolease(1) COMMANDS has no entry for '$c'"
	# options of the command's own usage (corolease CMD --help)
	usage=$("$CLI" $c --help 2>&1 | head -n 3)
	for o in $(grep -o -- '--[a-z][a-z-]*' <<<"$usage" | sort -u); do
		[[ $o == --help || $o == --json ]] && continue
		grep -q -- "$o" <<<"$man1_text" || err "corolease(1) lacks option $o of '$c' ($usage)"
	done
done <<<"$cmds"
for o in --json --help --version; do
	grep -q -- "$o" <<<"$help" || err "corolease --help lacks $o"
	grep -q -- "^$o\|, $o" <<<"$man1_tags" || err "corolease(1) OPTIONS has no entry for $o"
done
# COMMANDS entries (between .SH COMMANDS and the next .SH) that --help lacks
while read -r w1 w2 _; do
	c=$w1; [[ $w1 == index ]] && c="$w1 $w2"
	[[ $c == -* ]] && continue
	grep -qx "$c" <<<"$cmds" || err "corolease(1) COMMANDS has '$c', which corolease --help does not list"
done < <(awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH/ { on = 0 } on' "$MAN1" |
	awk 'tag { print; tag = 0 } /^\.T[PQ]/ { tag = 1 }' | plain)

# ---- corolease.conf(5) and the sample against coroleased -t
conf=$("$DAEMON" -t -c /dev/null) || err "coroleased -t -c /dev/null failed"
keys=$(sed -n 's/^\([a-z_]*\) = .*/\1/p' <<<"$conf")
[[ -n $keys ]] || err "no keys in coroleased -t output"
man5_tags=$(tags "$MAN5")
for k in $keys; do
	v=$(sed -n "s/^$k = //p" <<<"$conf")
	line=$(grep "^$k (default: " <<<"$man5_tags")
	if [[ -z $line ]]; then
		err "corolease.conf(5) has no entry '.BR $k \" (default: ...)\"'"
	else
		d=${line#*(default: }; d=${d%)}; d=${d%%,*}
		if [[ $d != *" "* && $v != '<'* && $d != "$v" ]]; then
			err "corolease.conf(5) says $k defaults to '$d', coroleased -t says '$v'"
		fi
	fi
	s=$(sed -n "s/^#$k = //p" "$SAMPLE")
	if [[ -z $s ]]; then
		err "packaging/corolease.conf lacks '#$k = ...'"
	elif [[ $v != '<'* && $s != "$v" ]]; then
		err "packaging/corolease.conf says $k = '$s', coroleased -t says '$v'"
	fi
done
for k in $(sed -n 's/^\([a-z_]*\) (default: .*/\1/p' <<<"$man5_tags") $(sed -n 's/^#\([a-z_]*\) = .*/\1/p' "$SAMPLE"); do
	grep -qx "$k" <<<"$keys" || err "'$k' is documented (corolease.conf(5) or the sample) but coroleased -t does not know it"
done
n=$(wc -l <<<"$cmds"); m=$(wc -w <<<"$keys")
((bad)) && exit 1
echo "check-docs: $n commands and $m configuration keys agree with corolease(1), corolease.conf(5) and packaging/corolease.conf"
