#!/bin/bash
# 30. The OCF resource agent packaging/ocf/coroleased on a real one-node
# cluster: ocf-tester with zero failures; then start (under umask 077, a run
# dir of mode 755, the log in log_file) waits for sync and fails
# with a reason when corosync is down, monitor reports a running but
# unquorate daemon as OCF_ERR_GENERIC, stop drains (a client holding a lease
# is revoked and the daemon exits before the drain timeout), validate-all
# rejects bad parameters with OCF_ERR_CONFIGURED and what is wrong on this
# node only (its config file, run_dir's parent, log_file) with OCF_ERR_ARGS,
# and has the operation's timeout for coroleased -t.
. "$(dirname "$0")/lib.sh"
AGENT=$IT_SRCDIR/../../packaging/ocf/coroleased
OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
export OCF_ROOT
command -v ocf-tester >/dev/null || skip "ocf-tester not installed (Debian: apt-get install resource-agents)"
[[ -f $OCF_ROOT/lib/heartbeat/ocf-shellfuncs ]] || skip "ocf-shellfuncs missing under $OCF_ROOT (resource-agents)"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
it_init ocf 100
plain_build_only "the OCF agent is a shell script; the daemon paths it drives run under ASan in other tests"

RUN=/run/corolease-ocf
OPTS="${DAEMON_OPTS[*]}"
LOG=$CLUSTER_DIR/n1/coroleased-ocf.log
# The operations' timeout (OCF_RESKEY_CRM_meta_timeout): 60 s, as a
# Pacemaker configuration would give a start that waits for sync.  With 20 s,
# beside stress-ng --cpu 8 and another test's realtime daemons, the agent's
# shell (normal priority) did not get coroleased -t done within the start.
OP_MS=60000
# agent ACTION [KEY=VALUE...]: the agent in node 1 (under umask 077: a
# cluster manager's may be strict); prints nothing, returns its rc
agent() {
	local action=$1; shift
	cluster exec 1 sh -c 'umask 077 && exec "$@"' sh env OCF_ROOT="$OCF_ROOT" OCF_RESOURCE_INSTANCE=coroleased \
		OCF_RESKEY_binary="$DAEMON" OCF_RESKEY_cli="$CLI" OCF_RESKEY_config=/dev/null \
		OCF_RESKEY_run_dir="$RUN" OCF_RESKEY_options="$OPTS" OCF_RESKEY_log_file="$LOG" \
		OCF_RESKEY_CRM_meta_timeout=$OP_MS "$@" "$AGENT" "$action" >"$CLUSTER_DIR/agent-$action.out" 2>&1
}
# stop whatever the agent started, before the cluster goes down
ocf_cleanup() {
	local rc=$?
	[[ -e $CLUSTER_DIR/N ]] && agent stop OCF_RESKEY_drain_timeout=5 >/dev/null 2>&1
	(exit "$rc")
	it_cleanup
}
trap ocf_cleanup EXIT

check "meta-data validates against the OCF RELAX NG schema" \
	bash -c "'$AGENT' meta-data | xmllint --noout --relaxng /usr/share/resource-agents/metadata.rng - 2>/dev/null"
for p in binary cli config run_dir options sync_timeout drain_timeout log_file; do
	check "meta-data describes parameter $p" bash -c "'$AGENT' meta-data | grep -q '<parameter name=\"$p\"'"
done

cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }

out=$(cluster exec 1 ocf-tester -n coroleased -o binary="$DAEMON" -o cli="$CLI" -o config=/dev/null \
	-o run_dir="$RUN" -o options="$OPTS" "$AGENT" 2>&1); rc=$?
echo "$out"
check "ocf-tester exits 0" [ $rc = 0 ]
check "ocf-tester reports zero failures" grep -q 'passed all tests$' <<<"$out"
check "ocf-tester printed no error" bash -c "! grep -qi 'error\\|failed' <<<\"\$1\"" _ "$out"

agent monitor; rc=$?
check "monitor after ocf-tester: not running (7, got $rc)" [ $rc = 7 ]
cluster exec 1 rm -rf "$RUN"
agent start; rc=$?
check "start: 0 (got $rc)" [ $rc = 0 ]
check "the run dir the daemon made under umask 077 is mode 755 (clients of any uid open it)" \
	bash -c "[[ \$('$CLUSTER_SH' exec 1 stat -c %a '$RUN') == 755 ]]"
check "the daemon logs to log_file" grep -q 'coroleased .* starting (pid' "$LOG"
check "after start the daemon is synced and quorate" bash -c "'$CLUSTER_SH' exec 1 env COROLEASE_RUN_DIR='$RUN' '$CLI' --json status | grep -q '\"synced\":true'"
agent monitor; rc=$?
check "monitor: running, synced, quorate (0, got $rc)" [ $rc = 0 ]

# a client holds a lease (after the grace period of fresh state); stop
# revokes it and the daemon exits in the drain
must_wait 15 "the grace period of fresh state ended" bash -c "'$CLUSTER_SH' exec 1 env COROLEASE_RUN_DIR='$RUN' '$CLI' --json status | grep -q '\"grace\":false'"
pid=$(spawn 1 holder env COROLEASE_RUN_DIR="$RUN" "$CLI" acquire ocf/held -- sleep 120) || fail "spawn holder"
must_wait 10 "the holder holds ocf/held" bash -c "'$CLUSTER_SH' exec 1 env COROLEASE_RUN_DIR='$RUN' '$CLI' --json show ocf/held | grep -q '\"node\":1'"
t0=$(now_ms)
agent stop OCF_RESKEY_drain_timeout=15; rc=$?
dt=$(( $(now_ms) - t0 ))
check "stop: 0 (got $rc) in $dt ms" [ $rc = 0 ]
check "stop drained without SIGKILL" bash -c "! grep -q SIGKILL '$CLUSTER_DIR/agent-stop.out'"
check "stop took less than the drain timeout (${dt} ms < 15000)" [ $dt -lt 15000 ]
must_wait 5 "the holder of ocf/held was revoked and exited" exited "$pid"
agent monitor; rc=$?
check "monitor after stop: not running (7, got $rc)" [ $rc = 7 ]

# corosync down: the daemon runs but never syncs; start fails within its limit
cluster stop 1 >/dev/null 2>&1 || fail "cluster.sh stop 1"
t0=$(now_ms)
agent start OCF_RESKEY_sync_timeout=3; rc=$?
dt=$(( $(now_ms) - t0 ))
check "start without corosync fails (1, got $rc) after $dt ms" [ $rc = 1 ]
# the reason's "after 3s" shows the sync_timeout ended the wait (the op's
# deadline would say "the start timeout less 2s"); the bound that matters
# is the op timeout, past which Pacemaker kills the agent: a slack of 3 s over
# sync_timeout failed under ASan at -j2 (8.2 s: the agent's shell, at normal
# priority beside other tests' realtime daemons, took 6.5 s to launch coroleased)
check "start failed within the op timeout of $((OP_MS / 1000)) s ($dt ms)" [ $dt -lt $OP_MS ]
check "start gave a reason: $(tail -n 2 "$CLUSTER_DIR/agent-start.out" | tr '\n' ' ')" \
	grep -q 'not synced, quorate and out of its grace period after 3s' "$CLUSTER_DIR/agent-start.out"
agent monitor; rc=$?
check "monitor of a running daemon without corosync: OCF_ERR_GENERIC (1, got $rc)" [ $rc = 1 ]
agent stop OCF_RESKEY_drain_timeout=10; rc=$?
check "stop of the unsynced daemon: 0 (got $rc)" [ $rc = 0 ]

# validate-all has the operation's timeout (OP_MS here), not a second: a
# coroleased -t that takes 2.5 s (ASan on a busy machine took over 1 s) passes
SLOW=$CLUSTER_DIR/slow-coroleased
printf '#!/bin/sh\nsleep 2.5\nexec "%s" "$@"\n' "$DAEMON" >"$SLOW" && chmod 755 "$SLOW" || fail "write $SLOW"
agent validate-all OCF_RESKEY_binary="$SLOW"; rc=$?
check "validate-all with a coroleased -t of 2.5 s: 0 (got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 0 ]
agent validate-all OCF_RESKEY_binary="$SLOW" OCF_RESKEY_options="-o linger_ms=nonsense"; rc=$?
check "validate-all with a slow coroleased -t and a bad option: OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
agent validate-all OCF_RESKEY_options="-o linger_ms=nonsense"; rc=$?
check "validate-all with a bad option: OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
agent validate-all OCF_RESKEY_binary=/nonexistent/coroleased; rc=$?
check "validate-all with a missing binary: OCF_ERR_INSTALLED (5, got $rc)" [ $rc = 5 ]
# What is wrong on this node only is OCF_ERR_ARGS (Pacemaker bans the
# resource from this node), not OCF_ERR_CONFIGURED (fatal on every node):
# helper-106 broke one node's corolease.conf, and the clone stopped
# everywhere, and Dovecot with it
agent validate-all OCF_RESKEY_run_dir=/nonexistent/corolease; rc=$?
check "validate-all with a run_dir whose parent does not exist here: OCF_ERR_ARGS (2, got $rc)" [ $rc = 2 ]
check "validate-all names the missing parent" grep -q 'parent directory /nonexistent of run_dir' "$CLUSTER_DIR/agent-validate-all.out"
BADCONF=$CLUSTER_DIR/bad.conf
printf 'linger_ms = 100\nthis is not a key\n' >"$BADCONF"
agent validate-all OCF_RESKEY_config="$BADCONF"; rc=$?
check "validate-all with a syntax error in this node's config file: OCF_ERR_ARGS (2, got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 2 ]
check "validate-all names the file and the line" grep -q "bad.conf.*2" "$CLUSTER_DIR/agent-validate-all.out"
agent validate-all OCF_RESKEY_config=/nonexistent/corolease.conf; rc=$?
check "validate-all with no config file here: OCF_ERR_ARGS (2, got $rc)" [ $rc = 2 ]
agent validate-all OCF_RESKEY_config="$BADCONF" OCF_RESKEY_options="-o linger_ms=nonsense"; rc=$?
check "validate-all with a bad option and a bad file: the option is the cluster's, OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
agent validate-all OCF_RESKEY_log_file=/nonexistent/coroleased.log; rc=$?
check "validate-all with a log_file it cannot write here: OCF_ERR_ARGS (2, got $rc)" [ $rc = 2 ]
# the daemon gives up a drain after revoke_timeout_ms (1000 here) + 3 s:
# a drain_timeout not above that SIGKILLs at every stop (helper-106)
for d in 0 4; do
	agent validate-all OCF_RESKEY_drain_timeout=$d; rc=$?
	check "validate-all with drain_timeout $d (revoke_timeout_ms 1000): OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
done
check "validate-all says why" grep -q 'drain_timeout 4s is not above revoke_timeout_ms (1000) plus 3 s' "$CLUSTER_DIR/agent-validate-all.out"
agent validate-all OCF_RESKEY_drain_timeout=5; rc=$?
check "validate-all with drain_timeout 5: 0 (got $rc)" [ $rc = 0 ]
# judged on the configuration the daemon will have, the node's file with the
# options: the file may make valid what the built-in defaults refuse
# (helper-107: both refused as OCF_ERR_CONFIGURED, fatal on every node)
NOREV="-o socket_group= -o admin_group="
printf 'revoke_timeout_ms = 1000\n' >"$CLUSTER_DIR/fast.conf"
agent validate-all OCF_RESKEY_config="$CLUSTER_DIR/fast.conf" OCF_RESKEY_options="$NOREV" OCF_RESKEY_drain_timeout=5; rc=$?
check "validate-all, drain_timeout 5 with this node's revoke_timeout_ms 1000 (the default is 5000): 0 (got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 0 ]
printf 'index_mem_max = 16M\n' >"$CLUSTER_DIR/small.conf"
agent validate-all OCF_RESKEY_config="$CLUSTER_DIR/small.conf" OCF_RESKEY_options="$OPTS -o max_snapshot_bytes=32M"; rc=$?
check "validate-all, max_snapshot_bytes 32M in options with index_mem_max 16M in the file: 0 (got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 0 ]
printf 'revoke_timeout_ms = 7000\n' >"$CLUSTER_DIR/slow.conf"
agent validate-all OCF_RESKEY_config="$CLUSTER_DIR/slow.conf" OCF_RESKEY_options="$NOREV" OCF_RESKEY_drain_timeout=9; rc=$?
check "validate-all, drain_timeout 9 with this node's revoke_timeout_ms 7000: this node's, OCF_ERR_ARGS (2, got $rc)" [ $rc = 2 ]
# nor is the cluster at fault when this node's file lacks what another
# node's may have (helper-108): the default revoke_timeout_ms (5000) here,
# and a rule between keys the options alone break
agent validate-all OCF_RESKEY_options="$NOREV" OCF_RESKEY_drain_timeout=6; rc=$?
check "validate-all, drain_timeout 6, revoke_timeout_ms by default here: OCF_ERR_ARGS (2, got $rc)" [ $rc = 2 ]
agent validate-all OCF_RESKEY_options="$OPTS -o max_snapshot_bytes=32M"; rc=$?
check "validate-all, max_snapshot_bytes 32M without this node's index_mem_max: OCF_ERR_ARGS (2, got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 2 ]
# seconds with a leading zero are decimal, not octal (sh failed on 08)
agent validate-all OCF_RESKEY_drain_timeout=08; rc=$?
check "validate-all with drain_timeout 08: 0 (got $rc; $(tail -n 1 "$CLUSTER_DIR/agent-validate-all.out"))" [ $rc = 0 ]
agent validate-all OCF_RESKEY_drain_timeout=004; rc=$?
check "validate-all with drain_timeout 004 (4 s, not above 1 + 3): OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
# options are words, not patterns: '/*' reaches coroleased as it is
agent validate-all OCF_RESKEY_options="$OPTS /*"; rc=$?
check "validate-all with a stray '/*' in options: OCF_ERR_CONFIGURED (6, got $rc)" [ $rc = 6 ]
check "the reason names '/*', not a file it matched" grep -q "'/\*'" "$CLUSTER_DIR/agent-validate-all.out"
it_pass
