#!/bin/bash
# 37. `corolease acquire NAME -- CMD` never lets CMD run on once another node
# may hold NAME, whatever happens to the wrapper's daemon or to the wrapper:
#  a. node 1's coroleased is stopped (SIGSTOP), then node 1 is cut off: no
#     revoke can come, the connection stays open; the wrapper sees the lease
#     lapse in the validity page and kills CMD (which ignores SIGTERM, with
#     --kill-after 10) before node 2 is granted NAME;
#  b. node 3's coroleased is killed (kill -9): SIGKILL comes before the
#     lease's stop deadline (validity + revoke timeout), not --kill-after 10;
#  c. the wrapper itself is killed (kill -9): CMD dies with it;
#  d. CMD exits leaving a process behind: the lease stays until it exits;
#  e. the wrapper is stopped (SIGSTOP) while another node waits: the daemon
#     kills it and its tree at the revoke deadline (COROLEASE_KILL);
#  f. as an unprivileged user (no pid namespace: the tree is walked), the
#     lease revoked for a waiter on another node.
# As root CMD runs in a pid namespace of its own, which the kernel kills
# whole with its init; e checks that it did.
# In a, b and e the ticks come from a process CMD started, which ignores
# SIGTERM: the wrapper kills the whole tree, not only CMD.
# CMD writes a wall-clock tick every 50 ms; the waiter on node 2 writes the
# wall-clock time of its grant; all on one host, so the clocks are one.
. "$(dirname "$0")/lib.sh"
it_init acquire-wrapper 48
# f connects as uid 61001 of group users (100)
users=0
[[ $(getent group users | cut -d: -f3) == 100 ]] && command -v setpriv >/dev/null && users=1
((users)) && EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 3

# holder I TAG NAME HOW [PREFIX...]: `corolease acquire NAME --kill-after 10` on node I;
# its CMD (a shell) starts a ticker that ignores SIGTERM and waits for it;
# HOW=ignore: the shell ignores SIGTERM too; HOW=exit: it dies of SIGTERM and
# leaves the ticker behind.  Waits until the ticker runs.
holder() {
	local i=$1 tag=$2 name=$3 trap=
	[[ $4 == ignore ]] && trap='trap "" TERM;'
	shift 4
	# shellcheck disable=SC2016
	spawn "$i" "$tag" "$@" "$CLI" acquire "$name" --kill-after 10 -- sh -c "$trap"' echo "held $COROLEASE_EPOCH $$"
		sh -c '\''trap "" TERM; while :; do echo "tick $(date +%s%N)"; sleep 0.05; done'\'' &
		wait' >/dev/null
	local log=$CLUSTER_DIR/n$i/$tag.log t0
	t0=$(now_ms)
	if wait_until 10 grep -q '^tick' "$log"; then
		ok "node $i's CMD holds $name (after $(( $(now_ms) - t0 )) ms)"
		return
	fi
	# what the brief of a failed CI run shows: the lines before the FAIL
	say "node $i's $tag.log: $(tail -n 5 "$log" | tr '\n' '|')"
	say "node $i's coroleased on $name: $(grep -F "$name" "$CLUSTER_DIR/n$i/coroleased.log" | tail -n 5 | tr '\n' '|')"
	say "node $i's processes: $(ps -eo pid,stat,etimes,args | grep -F -e "$name" -e 'tick' | grep -v grep | tr -s ' ' | tr '\n' '|')"
	fail "node $i's CMD holds $name: no tick after 10 s"
}

# waiter I TAG NAME: `corolease acquire --wait 60 NAME` on node I, whose CMD
# writes the time it starts and sleeps
waiter() {
	# shellcheck disable=SC2016
	spawn "$1" "$2" "$CLI" acquire "$3" --wait 60 -- sh -c 'echo "granted $(date +%s%N) $COROLEASE_EPOCH"; exec sleep 600' >/dev/null
}

# no_overlap I TAG J WTAG WHAT: node I's CMD (log TAG) ticked last before
# node J's waiter (log WTAG) was granted, and the wrapper said it killed CMD
no_overlap() {
	local hl=$CLUSTER_DIR/n$1/$2.log wl=$CLUSTER_DIR/n$3/$4.log g last
	must_wait 60 "node $3 granted ($5)" grep -q '^granted' "$wl"
	g=$(awk '/^granted/ { print $2; exit }' "$wl")
	last=$(awk '/^tick/ { t = $2 } END { print t + 0 }' "$hl")
	# a tick after the grant can only be written before CMD died: wait for the wrapper
	wait_until 30 exited "$(awk '{print $1}' "$CLUSTER_DIR/n$1/$2.pid")" ||
		fail "$5: node $1's wrapper and CMD still run 30 s after node $3's grant"
	last=$(awk '/^tick/ { t = $2 } END { print t + 0 }' "$hl")
	say "$5: node $1's CMD ticked last at $last, node $3 granted at $g ($(( (g - last) / 1000000 )) ms later)"
	((last > 0 && last < g)) || fail "$5: node $1's CMD ran on $(( (last - g) / 1000000 )) ms after node $3's grant"
	[[ ${6:-} == nokillmsg ]] ||
		check "$5: the wrapper on node $1 killed what ignores SIGTERM" grep -q 'killing it' "$hl"
}

# c. the wrapper dies: CMD must not run on without the lease
# shellcheck disable=SC2016
w=$(spawn 2 orphan "$CLI" acquire wrap/c -- sh -c 'echo cmd; exec sleep 6001')
must_wait 10 "node 2's CMD runs" pgrep -f '^sleep 6001$'
# (as root CMD runs in a pid namespace of its own: its $$ is not the host's pid)
cmd=$(pgrep -f '^sleep 6001$')
alive "$cmd" || fail "CMD (pid $cmd) is not running"
kill -KILL "$w"
must_wait 10 "CMD (pid $cmd) dies with its killed wrapper" exited "$cmd"
check "wrap/c is free again" cl 2 acquire --wait 10 wrap/c -- true

# d. CMD exits and leaves a process behind: that process keeps the lease
# (as flock(1)'s lock stays with the descriptor it inherited) until it exits
# shellcheck disable=SC2016
w=$(spawn 2 leaver "$CLI" acquire wrap/d -- sh -c 'sleep 6002 </dev/null >/dev/null 2>&1 & echo bg')
must_wait 10 "node 2's CMD started its background process" pgrep -f '^sleep 6002$'
bg=$(pgrep -f '^sleep 6002$')
must_wait 10 "the wrapper says the process it left keeps the lease" \
	grep -q 'still run and keep the lease' "$CLUSTER_DIR/n2/leaver.log"
alive "$w" || fail "the wrapper exited while process $bg still runs"
if cl 3 acquire --nowait wrap/d -- true >/dev/null 2>&1; then
	fail "node 3 took wrap/d while the process CMD left on node 2 runs"
fi
ok "node 3 cannot take wrap/d while CMD's background process runs"
kill -TERM "$bg"
must_wait 10 "the wrapper exits once the process CMD left is gone" exited "$w"
check "wrap/d is free again" cl 3 acquire --wait 10 wrap/d -- true

# e. the wrapper itself is stopped (SIGSTOP) while it holds the lease, and
# node 3 wants it: after the handover timeout the lease is revoked, and at
# the revoke deadline the daemon (kill_on_revoke is off) kills the wrapper
# and what it started, which it asked for (COROLEASE_KILL), then hands over
holder 2 he wrap/e exit
w=$(awk '{print $1}' "$CLUSTER_DIR/n2/he.pid")
kill -STOP "$w" || fail "SIGSTOP the wrapper on node 2"
say "e: the wrapper on node 2 (pid $w) stopped"
waiter 3 we wrap/e
no_overlap 2 he 3 we "e (the wrapper stopped)" nokillmsg
check "e: coroleased on node 2 killed the wrapper and what it started" \
	grep -q "killing client .* pid $w: still using revoked lease wrap/e (it asked for it; [1-9][0-9]* processes it started killed too" \
	"$CLUSTER_DIR/n2/coroleased.log"

check "e: as root, CMD ran in a pid namespace of its own (its \$\$ is 2)" \
	grep -q '^held [0-9]* 2$' "$CLUSTER_DIR/n2/he.log"

# f. the same as an unprivileged user, whom unshare(CLONE_NEWPID) refuses:
# the wrapper walks CMD's tree itself when node 3's waiter has the lease
# revoked (handover timeout); CMD dies of SIGTERM, the ticker it left does not
if ((users)); then
	holder 2 hf wrap/f exit setpriv --reuid=61001 --regid=100 --clear-groups
	grep -q '^held [0-9]* 2$' "$CLUSTER_DIR/n2/hf.log" &&
		fail "f: an unprivileged user's CMD ran in a pid namespace (its \$\$ is 2)"
	waiter 3 wf wrap/f
	no_overlap 2 hf 3 wf "f (unprivileged, revoked)"
else
	say "f skipped: no group users (100) or no setpriv"
fi

# a. node 1: daemon stopped, then node 1 cut off
holder 1 ha wrap/a ignore
d1=$(daemon_pid 1)
kill -STOP "$d1" || fail "SIGSTOP coroleased on node 1"
sleep 0.3
cluster partition 1 >/dev/null || fail "partition node 1"
say "a: node 1's coroleased stopped and node 1 cut off"
waiter 2 wa wrap/a
no_overlap 1 ha 2 wa "a (daemon stopped, node cut off)"
check "a: the wrapper saw the lapse" grep -q 'lease no longer valid' "$CLUSTER_DIR/n1/ha.log"
cluster heal 1 >/dev/null || fail "heal node 1"
kill -CONT "$d1"
must_wait 60 "node 1: coroleased synced again" synced 1

# b. node 3: daemon killed, the wrapper's --kill-after 10 is too late
holder 3 hb wrap/b exit
kill -KILL "$(daemon_pid 3)" || fail "kill -9 coroleased on node 3"
say "b: node 3's coroleased killed"
waiter 2 wb wrap/b
no_overlap 3 hb 2 wb "b (daemon killed)"
check "b: the wrapper saw the connection go" grep -q 'connection to coroleased lost' "$CLUSTER_DIR/n3/hb.log"
it_pass
