#!/bin/bash
# installed.sh - the cluster half of the installed-package smoke test, run by
# tests/package/smoke.sh while the .debs are installed (not on its own):
# IT_DAEMON=/usr/sbin/coroleased, IT_CLI=/usr/bin/corolease,
# IT_ROUTER=/usr/sbin/corolease-route, SMOKE_CLIENT=a program built with
# 'pkg-config --cflags --libs corolease' from smoke-client.c.
#
# Two corosync nodes in network namespaces (tests/integration/cluster.sh),
# each with the INSTALLED coroleased reading the INSTALLED
# /etc/corolease/corolease.conf (socket_group corolease, admin_group
# corolease-admin, every other key at its default):
#  - status on both nodes: quorate, synced, two members;
#  - the CLI takes a lease (acquire -- CMD), writes an index key on node 1,
#    node 2 reads it from its replica;
#  - the groups made by the packages decide who may connect and who may
#    administer (nobody: refused; nobody in corolease: status, but no evict;
#    nobody also in corolease-admin: evict);
#  - SMOKE_CLIENT on node 2: lease, index put/get, status through the
#    installed library;
#  - Dovecot on node 1 configured with the installed examples
#    (90-corolease.conf: mail_access_groups, mail_plugins, plugin settings;
#    dovecot-dict-route.conf.ext with the installed corolease-route): the
#    plugin is loaded from Dovecot's module dir and takes user/alice for an
#    IMAP login; a login of a user held on node 2 is proxied there.
. "$(dirname "$0")/../integration/lib.sh"
it_init pkg-installed 103
[[ -x ${SMOKE_CLIENT:-} ]] || fail "SMOKE_CLIENT is not set: run tests/package/smoke.sh"
[[ $DAEMON == /usr/sbin/coroleased && $CLI == /usr/bin/corolease ]] ||
	fail "IT_DAEMON/IT_CLI are not the installed binaries ($DAEMON, $CLI): run tests/package/smoke.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"

cluster up 2 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 2"; }
for i in 1 2; do
	# no -c, no -o: the installed configuration file as it stands
	spawn "$i" coroleased "$DAEMON" -f -l stderr >/dev/null || fail "cannot spawn coroleased in node $i"
done
for i in 1 2; do
	must_wait 60 "node $i: the installed coroleased is synced, quorate, past the grace period" synced "$i"
done

# ---- status, lease, index through the installed CLI
for i in 1 2; do
	j=$(cl "$i" --json status) || fail "node $i: status --json"
	check "node $i: status says node $i, 2 members" \
		[ "$(jget "$j" .node)" = "$i" -a "$(jget "$j" '.members|length')" = 2 ]
done
check "status (text) says quorate yes" bash -c "'$CLUSTER_SH' exec 1 '$CLI' status | grep -q '^quorate: *yes'"
out=$(cl 1 acquire smoke/cli -- sh -c 'echo "$COROLEASE_NAME $COROLEASE_EPOCH"') || fail "acquire smoke/cli -- sh (rc $?)"
read -r n e <<<"$out"
check "acquire -- CMD ran holding $n (epoch $e)" [ "$n" = smoke/cli -a "$e" -ge 1 ]
cl 1 index put smoke/cli note from-node-1 || fail "node 1: index put smoke/cli note (rc $?)"
ok "node 1: index put smoke/cli note from-node-1"
must_wait 10 "node 2 reads smoke/cli note = from-node-1 from its replica" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' index get smoke/cli note)\" = from-node-1 ]"

# ---- the groups the packages created: socket_group and admin_group
g_user=$(getent group corolease | cut -d: -f3)
g_admin=$(getent group corolease-admin | cut -d: -f3)
[[ -n $g_user && -n $g_admin ]] || fail "the groups corolease and corolease-admin do not exist"
# as_nobody GROUPS-OPTION CLI-ARGS...: the CLI on node 1 as nobody; its
# stderr in $CLUSTER_DIR/nobody.err
as_nobody() {
	local groups=$1; shift
	cluster exec 1 setpriv --reuid=65534 --regid=65534 "$groups" "$CLI" "$@" >/dev/null 2>"$CLUSTER_DIR/nobody.err"
}
as_nobody --clear-groups status; rc=$?
check "nobody outside the group corolease may not connect (rc $rc: $(<"$CLUSTER_DIR/nobody.err"))" \
	grep -q EACCES "$CLUSTER_DIR/nobody.err"
check "nobody in the group corolease may (status)" as_nobody --groups="$g_user" status
as_nobody --groups="$g_user" evict smoke/cli; rc=$?
check "nobody in corolease but not corolease-admin may not evict (rc $rc: $(<"$CLUSTER_DIR/nobody.err"))" \
	grep -q EPERM "$CLUSTER_DIR/nobody.err"
check "nobody in corolease and corolease-admin may evict" as_nobody --groups="$g_user,$g_admin" evict smoke/cli

# ---- the installed library, through a program built with pkg-config
out=$(cluster exec 2 "$SMOKE_CLIENT" smoke/lib from-the-library) || fail "smoke-client on node 2 (rc $?): $out"
say "smoke-client: $(tr '\n' ' ' <<<"$out")"
check "smoke-client: granted, read its write back, quorate, node 2" \
	grep -qzE 'epoch=[1-9][0-9]*.value=from-the-library.version=[0-9]+.quorate=1.node=2' <<<"$out"
must_wait 10 "node 1 reads the library's write (smoke/lib smoke = from-the-library)" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' index get smoke/lib smoke)\" = from-the-library ]"

# ---- Dovecot with the installed plugin, examples and corolease-route
EX=/usr/share/doc/dovecot-corolease/examples
command -v dovecot >/dev/null || fail "dovecot is not installed although dovecot-corolease depends on it"
id mail >/dev/null 2>&1 || skip "no 'mail' user for the mail processes"
command -v python3 >/dev/null || skip "python3 missing (the IMAP client)"
DV_ROUTE=1
. "$IT_SRCDIR/dovecot-lib.sh"
d=$CLUSTER_DIR/n1
dv_conf 1 0   # no plugin lines: they come from the installed example
cp "$EX/dovecot-dict-route.conf.ext" "$d/dict-route.conf.ext" || fail "no $EX/dovecot-dict-route.conf.ext"
printf '%s\n' 'mail_debug = yes' "!include $EX/90-corolease.conf" >>"$d/dovecot.conf"
plugins=$(doveconf -c "$d/dovecot.conf" -h mail_plugins 2>&1) || fail "doveconf rejects the configuration: $plugins"
check "doveconf with 90-corolease.conf: mail_plugins = $plugins" grep -qw corolease <<<"$plugins"
groups=$(doveconf -c "$d/dovecot.conf" -h mail_access_groups 2>&1)
check "doveconf with 90-corolease.conf: mail_access_groups = $groups" [ "$groups" = corolease ]
cluster exec 1 sh -c 'mkdir -p /run/cl-mail && chown mail:mail /run/cl-mail' || fail "mail store in node 1"
spawn 1 router "$DV_ROUTER" -s /run/corolease-route.sock -g dovecot >/dev/null
must_wait 10 "node 1: the installed corolease-route listens" cluster exec 1 test -S /run/corolease-route.sock
spawn 1 dovecot dovecot -F -c "$d/dovecot.conf" >/dev/null
trap dv_cleanup EXIT
must_wait 20 "node 1: Dovecot answers IMAP" cluster exec 1 python3 -c '
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], 143, timeout=5); c.logout()' "$CLUSTER_SUBNET.1"

log=$d/dovecot-mail.log
out=$(dv_imap 1 alice select) || fail "IMAP login and SELECT as alice on node 1: $out"
ok "IMAP login and SELECT INBOX as alice on node 1"
must_wait 10 "Dovecot loaded the plugin from its module dir" \
	grep -q 'Module loaded: /usr/lib/dovecot/modules/lib90_corolease_plugin.so' "$log"
must_wait 10 "imap loaded imap_corolease (90-corolease.conf's protocol imap) from its module dir" \
	grep -q 'Module loaded: /usr/lib/dovecot/modules/lib95_imap_corolease_plugin.so' "$log"
must_wait 10 "the plugin took user/alice from the installed coroleased" grep -qE 'corolease: user/alice held \(epoch [0-9]+\)' "$log"
must_wait 10 "the plugin released user/alice after the logout" grep -q 'corolease: user/alice released' "$log"

# routing: user/bob held on node 2 -> corolease-route on node 1 answers
# node 2's address, and Dovecot proxies the login there (where no Dovecot
# listens: the login fails, and the log shows where it went)
spawn 2 holdbob "$CLI" acquire user/bob -- sleep 600 >/dev/null
must_wait 20 "node 1 sees user/bob held by node 2" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner user/bob)\" = 2 ]"
out=$(dv_imap 1 bob); rc=$?
check "a login as bob on node 1 is not served there (rc $rc)" [ $rc != 0 ]
must_wait 10 "corolease-route answered bob's lookup with node 2's address" \
	grep -qF "bob: held by node 2: {\"noauthenticate\":\"y\",\"proxy_maybe\":\"y\",\"host\":\"$CLUSTER_SUBNET.2\"}" "$d/router.log"
must_wait 10 "Dovecot on node 1 proxied bob's login to node 2 ($CLUSTER_SUBNET.2:143)" \
	grep -qF "proxy(bob,$CLUSTER_SUBNET.2:143)" "$log"
it_pass
