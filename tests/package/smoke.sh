#!/bin/bash
# smoke.sh - installed-package smoke test: installs the .debs that
# './dev package' built, checks what they installed, builds a program
# against the installed libcorolease with pkg-config, runs
# tests/package/installed.sh (a two-node corosync cluster with the installed
# coroleased, CLI, library, corolease-route and Dovecot plugin), then purges
# the packages again.
#
#   tests/package/smoke.sh [DEB-DIR]     (default: _build-deb of this checkout)
#
# Exit status: 0 pass, 1 fail (also when a corolease package is already
# installed: purging it at the end would not leave the machine as it was),
# 77 skip (not root, or not Debian).  The machine is left as before: the
# packages are purged, and
# the groups corolease and corolease-admin, which Debian's purge keeps (as
# it keeps every system group), are deleted if this test's install created
# them.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKGS=(coroleased libcorolease0 libcorolease-dev corolease-tools dovecot-corolease)
GROUPS_MADE=()
TMP=
INSTALLED=0

say() { echo "[smoke $(date +%T.%3N)] $*"; }
ok() { say "ok: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else fail "$desc (command: $*)"; fi
}
pkg_state() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null; }

((EUID == 0)) || skip "needs root (installs and purges packages)"
if ! [[ -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
	skip "not a Debian system (the test installs .debs)"
fi
DEBDIR=$(cd "${1:-$ROOT/_build-deb}" 2>/dev/null && pwd) || fail "no directory ${1:-$ROOT/_build-deb} (run ./dev package)"
for p in "${PKGS[@]}"; do
	st=$(pkg_state "$p")
	[[ -z $st || $st == not-installed ]] ||
		fail "package $p is already on this machine ($st): the test installs and purges the packages, purge it first (apt-get purge ${PKGS[*]})"
done
# files the packages would overwrite and the purge remove (e.g. from 'make install')
LEFT_CHECK=(/usr/sbin/coroleased /usr/bin/corolease /usr/sbin/corolease-route /etc/corolease
	/usr/lib/dovecot/modules/lib90_corolease_plugin.so /usr/lib/dovecot/modules/lib95_imap_corolease_plugin.so)
for f in "${LEFT_CHECK[@]}"; do
	[[ ! -e $f ]] || fail "$f exists although no corolease package is installed: the install would overwrite it and the purge remove it"
done
debs=()
for p in "${PKGS[@]}"; do
	f=("$DEBDIR/${p}"_*_*.deb)
	[[ ${#f[@]} == 1 && -f ${f[0]} ]] || fail "expected one ${p}_*.deb in $DEBDIR, found: ${f[*]} (run ./dev package)"
	debs+=("${f[0]}")
done
version=$(dpkg-deb -f "${debs[0]}" Version)

cleanup() {
	local rc=$? p left=()
	trap - EXIT INT TERM
	set +e
	if ((INSTALLED)); then
		say "apt-get purge ${PKGS[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 "${PKGS[@]}" \
			>"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log" >&2; say "FAIL: apt-get purge"; rc=1; }
		for p in "${PKGS[@]}"; do
			[[ -z $(pkg_state "$p") || $(pkg_state "$p") == not-installed ]] || left+=("$p")
		done
		((${#left[@]} == 0)) || { say "FAIL: still installed after the purge: ${left[*]}"; rc=1; }
		for f in "${LEFT_CHECK[@]}"; do
			[[ ! -e $f ]] || { say "FAIL: $f is left after the purge"; rc=1; }
		done
	fi
	for g in "${GROUPS_MADE[@]}"; do
		groupdel "$g" && say "deleted the group $g (made by this test's install)"
	done
	[[ -n $TMP ]] && rm -rf "$TMP"
	case $rc in
	0) say "PASS" ;;
	77) ;;
	*) say "FAIL (rc $rc)" ;;
	esac
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
TMP=$(mktemp -d /tmp/corolease-smoke.XXXXXX)

# ---- install
had_group=()
for g in corolease corolease-admin; do getent group "$g" >/dev/null && had_group+=("$g"); done
say "apt-get install ${debs[*]##*/}"
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
	"${debs[@]}" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "apt-get install"; }
for g in corolease corolease-admin; do
	[[ " ${had_group[*]} " == *" $g "* ]] || ! getent group "$g" >/dev/null || GROUPS_MADE+=("$g")
done
for p in "${PKGS[@]}"; do
	check "$p $version installed" [ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$p")" = "installed $version" ]
done

# ---- what the packages put on the machine
for g in corolease corolease-admin; do
	check "group $g exists ($(getent group "$g"))" getent group "$g"
done
for f in /usr/sbin/coroleased /usr/bin/corolease /usr/sbin/corolease-route \
	/usr/lib/dovecot/modules/lib90_corolease_plugin.so /usr/lib/dovecot/modules/lib95_imap_corolease_plugin.so \
	/usr/include/corolease.h \
	/usr/include/corolease_admin.h /usr/lib/ocf/resource.d/corolease/coroleased \
	/usr/share/corolease/alert_corolease_fence.sh; do
	check "installed: $f" test -f "$f"
done
check "installed: /etc/corolease/corolease.conf, a conffile of coroleased" \
	grep -qx /etc/corolease/corolease.conf /var/lib/dpkg/info/coroleased.conffiles
check "coroleased -t accepts the installed /etc/corolease/corolease.conf" \
	bash -c '/usr/sbin/coroleased -t >/dev/null'
check "the unit coroleased.service is installed and enabled (not started)" \
	bash -c '[ -f /lib/systemd/system/coroleased.service ] && systemctl is-enabled coroleased.service >/dev/null'
# dh_installsystemd --no-start writes no stop: 'apt-get remove' left the daemon running (helper-106)
check "removing coroleased stops the daemon (its prerm stops coroleased.service on remove)" \
	grep -q 'deb-systemd-invoke stop coroleased.service' /var/lib/dpkg/info/coroleased.prerm
for m in 8:coroleased 8:corolease-route 5:corolease.conf 1:corolease 3:libcorolease; do
	f=/usr/share/man/man${m%%:*}/${m#*:}.${m%%:*}.gz
	check "man page ${m#*:}(${m%%:*}) installed ($f)" test -f "$f"
	if command -v man >/dev/null; then
		check "man -w ${m%%:*} ${m#*:} finds it" [ "$(man -w "${m%%:*}" "${m#*:}" 2>/dev/null)" = "$f" ]
	fi
done

# ---- a program built against the installed library with pkg-config
check "pkg-config --modversion corolease = $version" [ "$(pkg-config --modversion corolease)" = "$version" ]
flags=$(pkg-config --cflags --libs corolease) || fail "pkg-config --cflags --libs corolease"
say "cc -Wall -Wextra -Werror smoke-client.c $flags"
# shellcheck disable=SC2086 # flags are words
cc -Wall -Wextra -Werror -o "$TMP/smoke-client" "$HERE/smoke-client.c" $flags ||
	fail "smoke-client.c does not build against the installed libcorolease"
lib=$(ldd "$TMP/smoke-client" | awk '$1 == "libcorolease.so.0" { print $3 }')
check "smoke-client uses the installed library ($lib)" \
	bash -c "[ \"\$(dpkg -S '$(readlink -f "$lib")' 2>/dev/null | cut -d: -f1)\" = libcorolease0 ]"

# ---- the installed binaries in a corosync cluster
IT_DAEMON=/usr/sbin/coroleased IT_CLI=/usr/bin/corolease IT_ROUTER=/usr/sbin/corolease-route \
	SMOKE_CLIENT=$TMP/smoke-client bash "$HERE/installed.sh"
rc=$?
((rc == 0)) || exit "$rc"
