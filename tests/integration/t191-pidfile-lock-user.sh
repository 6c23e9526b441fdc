#!/bin/bash
# 191. (adversarial) The "already running" lock is a flock(2) on
# RUN_DIR/coroleased.pid, and flock(2) works on a descriptor open for
# reading: with the file mode 0644, any local user could take the lock
# (flock -x /run/corolease/coroleased.pid sleep 3000) and, once the daemon
# died without removing the file (SIGKILL, a crash, the OOM killer), keep it
# from starting again ("already running").  And the OCF agent took the lock's
# holder from /proc/locks and sent it SIGTERM, SIGCONT and SIGKILL as root.
# Expected, as uid 61001:
#  - the pid file is mode 0600, so the user cannot open it to lock it;
#  - an older version's file (mode 0644) locked by the user after a SIGKILL
#    does not keep coroleased from starting: it replaces the file (logged)
#    and leaves the user's process alone;
#  - the OCF agent (where resource-agents is installed) does not take such a
#    holder for coroleased: monitor fails naming it, stop does not signal it
#    and start runs a coroleased that replaces the file.
. "$(dirname "$0")/lib.sh"
. "$IT_SRCDIR/ocf-lib.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
command -v flock >/dev/null || skip "flock (util-linux) missing"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
it_init pidlock-user 191
it_up 1
PIDF=/run/corolease/coroleased.pid

# the mode of node 1's FILE ("600"), from inside the node (private /run)
fmode() { cluster exec 1 stat -c %a "$1"; }
# pid of the flock(1) that uid 61001 runs in node 1 (tag TAG) once it holds
# FILE's lock, by /proc/locks
user_holds() {
	local key
	key=$(cluster exec 1 stat -L -c '%D %i' "$1" 2>/dev/null) || return 1
	set -- $key
	awk -v ino="$2" '$2 == "FLOCK" && $6 ~ (":" ino "$")' /proc/locks | grep -q .
}
flock_pid() { awk '{print $1}' "$CLUSTER_DIR/n1/$1.pid"; }

# 1. the running daemon's file: mode 0600, the user cannot open it
check "node 1's $PIDF is mode 0600" [ "$(fmode "$PIDF")" = 600 ]
out=$(cluster exec 1 "${AS[@]}" flock -n -x "$PIDF" true 2>&1); rc=$?
say "uid 61001: flock -n -x $PIDF: rc $rc: $out"
check "uid 61001 cannot lock $PIDF of the running daemon" [ "$rc" != 0 ]
check "uid 61001 is refused at open, not by the lock" grep -qi 'permission denied' <<<"$out"

# 2. SIGKILL: the file stays; the user tries to lock it, and on an older
# version's file (mode 0644) succeeds; the daemon starts all the same
pid=$(daemon_pid 1)
kill -KILL "$pid" || fail "kill -KILL $pid"
must_wait 15 "node 1's coroleased (pid $pid) exited on SIGKILL" exited "$pid"
spawn 1 grab "${AS[@]}" flock -x "$PIDF" sleep 3000 >/dev/null
sleep 1
check "uid 61001 could not lock the file the killed daemon left" exited "$(flock_pid grab)"
cluster exec 1 chmod 0644 "$PIDF" || fail "chmod 0644 $PIDF"
spawn 1 old "${AS[@]}" flock -x "$PIDF" sleep 3000 >/dev/null
must_wait 10 "uid 61001 holds the lock of an older version's file (mode 0644)" user_holds "$PIDF"
holder=$(flock_pid old)
start_daemon 1 coroleased-r1
must_wait 30 "coroleased restarted and synced while uid 61001 held the old file's lock" synced 1
log=$CLUSTER_DIR/n1/coroleased-r1.log
check "the restarted daemon did not say 'already running'" bash -c "! grep -q 'already running' '$log'"
check "it logged the replaced file and its foreign lock holder" \
	grep -q "replaced $PIDF (a regular file, owner uid 0, mode 0644; its lock was held by a process that is not coroleased" "$log"
check "uid 61001's process was not signalled" alive "$holder"
check "the new $PIDF is mode 0600" [ "$(fmode "$PIDF")" = 600 ]
check "it holds the new daemon's pid" [ "$(cluster exec 1 cat "$PIDF")" = "$(daemon_pid 1 coroleased-r1)" ]
kill -KILL "$holder"

# 3. the OCF agent and a lock held by what is not coroleased
if [[ ! -f $OCF_ROOT/lib/heartbeat/ocf-shellfuncs ]]; then
	say "ocf-shellfuncs missing under $OCF_ROOT (resource-agents): the OCF agent's part is skipped"
	it_pass
fi
# one coroleased per node: the cluster's goes, the agent's comes
pid=$(daemon_pid 1 coroleased-r1)
kill -TERM "$pid"
must_wait 20 "node 1's coroleased (pid $pid) stopped" exited "$pid"
OCF_RUN=/run/corolease-ocf OCF_OPTS="${DAEMON_OPTS[*]}" OCF_LOG=$CLUSTER_DIR/n1/coroleased-ocf.log
trap 'ocf_rc=$?; [[ -e $CLUSTER_DIR/N ]] && ocf_agent stop OCF_RESKEY_drain_timeout=5 >/dev/null 2>&1; (exit $ocf_rc); it_cleanup' EXIT
OPF=$OCF_RUN/coroleased.pid
# an older version's run dir and file, the file locked by uid 61001
cluster exec 1 install -d -m 0755 "$OCF_RUN" || fail "mkdir $OCF_RUN"
cluster exec 1 install -m 0644 /dev/null "$OPF" || fail "create $OPF"
spawn 1 ocfgrab "${AS[@]}" flock -x "$OPF" sleep 3000 >/dev/null
must_wait 10 "uid 61001 holds the lock of $OPF" user_holds "$OPF"
holder=$(flock_pid ocfgrab)
ocf_agent monitor; rc=$?
say "monitor: rc $rc: $(tail -n 2 "$CLUSTER_DIR/agent-monitor.out")"
check "monitor: OCF_ERR_GENERIC (1)" [ "$rc" = 1 ]
check "monitor names the holder as not coroleased" grep -q "locked by pid $holder .*which is not coroleased" "$CLUSTER_DIR/agent-monitor.out"
ocf_agent stop OCF_RESKEY_drain_timeout=3; rc=$?
say "stop: rc $rc: $(tail -n 2 "$CLUSTER_DIR/agent-stop.out")"
check "stop: OCF_SUCCESS (no coroleased ran)" [ "$rc" = 0 ]
check "stop did not signal uid 61001's process" alive "$holder"
check "the holder is not left stopped" [ "$(awk '{print $3}' "/proc/$holder/stat")" != T ]
ocf_agent start; rc=$?
say "start: rc $rc: $(tail -n 2 "$CLUSTER_DIR/agent-start.out")"
check "start: OCF_SUCCESS, the daemon replaced the old file" [ "$rc" = 0 ]
check "the agent's daemon logged the replacement" grep -q "replaced $OPF " "$OCF_LOG"
check "uid 61001's process still runs" alive "$holder"
ocf_agent monitor; rc=$?
check "monitor after start: OCF_SUCCESS" [ "$rc" = 0 ]
ocf_agent stop OCF_RESKEY_drain_timeout=5; rc=$?
check "stop of the agent's daemon: OCF_SUCCESS" [ "$rc" = 0 ]
check "uid 61001's process still runs after the stops" alive "$holder"
kill -KILL "$holder"
it_pass
