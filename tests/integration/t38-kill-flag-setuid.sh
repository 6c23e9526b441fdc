#!/bin/bash
# 38. COROLEASE_KILL is the client's own request: coroleased kills on its
# behalf only what its user could kill itself (helper-72).  An unprivileged
# client acquires with COROLEASE_KILL and execs, keeping its connection, a
# set-user-ID root program that takes every uid of root (as sudo would):
# past the revoke deadline coroleased does not kill (nor stop) that root
# process, and says so.  The same client exec'ing a program of its own is
# killed (the control: the kill itself works).
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
CL_KEXEC=$IT_BUILD/tests/integration/cl-kexec
[[ -x $CL_KEXEC && -x $IT_BUILD/tests/integration/cl-setuid ]] || skip "cl-kexec, cl-setuid not built"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_init kill-flag-setuid 50
it_up 1
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
# the set-user-ID copy lives in the cluster dir (not nosuid: checked below)
install -m 4755 -o root -g root "$IT_BUILD/tests/integration/cl-setuid" "$CLUSTER_DIR/cl-setuid" ||
	fail "install the set-user-ID helper"

# control: a program of the user's own is killed at the revoke deadline
spawn 1 own "${AS[@]}" "$CL_KEXEC" kfs/own /bin/sleep 600 >/dev/null
must_wait 10 "the user's client holds kfs/own" grep -q '^granted kfs/own' "$CLUSTER_DIR/n1/own.log"
own=$(awk '{print $1}' "$CLUSTER_DIR/n1/own.pid")
spawn 1 ownw "${AS[@]}" "$CLI" acquire kfs/own --wait 30 -- true >/dev/null
must_wait 20 "the client of the user's own program is killed past its revoke deadline" exited "$own"
check "coroleased logged that kill" grep -q "killing client .* pid $own: still using revoked lease kfs/own (it asked for it" \
	"$CLUSTER_DIR/n1/coroleased.log"

# a set-user-ID root program: not killed on the user's behalf
spawn 1 suid "${AS[@]}" "$CL_KEXEC" kfs/suid "$CLUSTER_DIR/cl-setuid" >/dev/null
wait_until 10 grep -q '^root pid' "$CLUSTER_DIR/n1/suid.log" ||
	skip "the set-user-ID helper did not become root ($(tail -n 1 "$CLUSTER_DIR/n1/suid.log"); a nosuid mount?)"
p=$(awk '{print $1}' "$CLUSTER_DIR/n1/suid.pid")
"${AS[@]}" kill -0 "$p" 2>/dev/null && fail "uid 61001 can signal the root process $p: the test proves nothing"
spawn 1 suidw "${AS[@]}" "$CLI" acquire kfs/suid --wait 30 -- true >/dev/null
must_wait 20 "coroleased refuses to kill root's process for uid 61001" \
	grep -q "not killing client .* pid $p, still using revoked lease kfs/suid (COROLEASE_KILL): its uid 61001 may not signal it" \
	"$CLUSTER_DIR/n1/coroleased.log"
must_wait 20 "the waiter is granted kfs/suid (the hold was dropped all the same)" exited "$(awk '{print $1}' "$CLUSTER_DIR/n1/suidw.pid")"
alive "$p" || fail "the root process $p was killed on behalf of uid 61001"
[[ $(awk '{print $3}' "/proc/$p/stat") != T ]] || fail "the root process $p was left stopped"
ok "root's process $p runs on, neither killed nor stopped"
kill -KILL "$p"
it_pass
