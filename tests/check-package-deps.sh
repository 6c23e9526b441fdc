#!/bin/bash
# check-package-deps.sh - (adversarial, issue 11) the package that ships the
# OCF agent and the fencing alert agent must pull in what they run: both run
# the corolease CLI (/usr/bin/corolease, the agent's default cli=; the alert
# agent's 'corolease fence-ack'), which is in corolease-tools.  coroleased
# only Suggests corolease-tools (Debian) and does not Require it (RPM), so
# 'apt-get install coroleased' installs no CLI: validate-all and so start
# fail with OCF_ERR_INSTALLED ("corolease CLI /usr/bin/corolease is not
# executable") on every node, monitor reports a running daemon as failed,
# and the alert agent's fence-ack is "command not found" (no fence-ack).
# Checks packaging/debian (control, coroleased.install), corolease.spec, and
# the built coroleased .deb when './dev package' left one in _build-deb
# (newer than packaging/debian/control: an older one predates its Depends).
set -u
src=${top_srcdir:-.}
pkg=$src/packaging
bad=0
say() { echo "$1: $2"; [[ $1 == ok ]] || bad=1; }
# corolease-tools as a word of a Depends/Requires line
named() { grep -Eq '(^|[ ,:])corolease-tools([ ,(]|$)' <<<"$1"; }

# the CLI the agents run by default
grep -q '^OCF_RESKEY_cli_default=/usr/bin/corolease$' "$pkg/ocf/coroleased" ||
	say FAIL "the OCF agent's default cli is no longer /usr/bin/corolease: update this test"
grep -q 'CLI=${COROLEASE_CLI:-corolease}' "$pkg/pacemaker/alert_corolease_fence.sh" ||
	say FAIL "the alert agent no longer runs corolease from PATH: update this test"
grep -q '^usr/bin/corolease$' "$pkg/debian/corolease-tools.install" ||
	say FAIL "corolease-tools no longer ships usr/bin/corolease: update this test"

# Debian: coroleased ships both agents, so its Depends must name corolease-tools
grep -q '^usr/lib/ocf/resource.d/corolease/coroleased$' "$pkg/debian/coroleased.install" &&
grep -q 'alert_corolease_fence.sh' "$pkg/debian/coroleased.install" ||
	say FAIL "coroleased no longer ships the agents: update this test"
deps=$(awk '/^[A-Z][a-zA-Z-]*:/{d=0} /^Package: /{p=$2} p=="coroleased" && /^Depends:/{d=1} d' "$pkg/debian/control" | tr '\n' ' ')
if named "$deps"; then
	say ok "debian: coroleased Depends on corolease-tools"
else
	say FAIL "debian: coroleased ships the OCF and alert agents, which run /usr/bin/corolease, but its Depends ($deps) lacks corolease-tools"
fi

# RPM: the coroleased subpackage
req=$(awk '/^%package/{p=($0 ~ /-n coroleased$/)} /^%description/{p=0} p && /^Requires:/' "$pkg/corolease.spec" | tr '\n' ' ')
if named "$req"; then
	say ok "rpm: coroleased Requires corolease-tools"
else
	say FAIL "rpm: coroleased ships the OCF and alert agents but Requires only: $req"
fi

# the built package, if any
deb=$(ls "$src"/_build-deb/coroleased_*.deb 2>/dev/null | head -n 1)
# (only a .deb built since the control file last changed says anything about it)
if [[ -n $deb && $deb -nt $pkg/debian/control ]] && command -v dpkg-deb >/dev/null; then
	d=$(dpkg-deb -f "$deb" Depends)
	if named "$d"; then
		say ok "$(basename "$deb"): Depends on corolease-tools"
	else
		say FAIL "$(basename "$deb"): Depends: $d (no corolease-tools)"
	fi
fi
exit $bad
