# lib.sh - shared helpers for the integration tests (sourced, not run).
#
# Every test script:
#   . "$(dirname "$0")/lib.sh"
#   it_init NAME NNODES [corosync-late-nodes...]   # skips (77) without root / netns / corosync
#   ... assertions ...
#   it_pass
#
# Each script has its own CLUSTER_PREFIX / CLUSTER_SUBNET / CLUSTER_DIR so
# scripts run in parallel (make -j); IT_INSTANCE=1..99 shifts them all, so two
# checkouts can run the suite at once.  EXIT is trapped: the cluster is torn
# down (cluster.sh down stops every spawned process from its pidfile) and, on
# failure, the corosync and coroleased logs are printed.
#
# Timing: corosync TOKEN=1000, TOKEN_COEFFICIENT=0; coroleased with
# revoke_timeout_ms=1000 linger_ms=1000 handover_timeout_ms=2000, validity
# = token (1000 ms), so fence delay = validity + revoke + 2 s = 4000 ms.
set -u -o pipefail

IT_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${abs_top_builddir:=${top_builddir:-$IT_SRCDIR/../../_build}}"
IT_BUILD=$(cd "$abs_top_builddir" 2>/dev/null && pwd) || IT_BUILD=$abs_top_builddir
CLUSTER_SH=$IT_SRCDIR/cluster.sh
# marks the suite's processes for foreign-cpu.py (host_busy)
export COROLEASE_IT=1
# IT_DAEMON, IT_CLI: other binaries than the build's (tests/package/smoke.sh
# runs the installed /usr/sbin/coroleased and /usr/bin/corolease)
DAEMON=${IT_DAEMON:-$IT_BUILD/lockd/coroleased}
CLI=${IT_CLI:-$IT_BUILD/tools/corolease}
CL_LOAD=$IT_BUILD/tests/integration/cl-load
CL_GARBAGE=$IT_BUILD/tests/integration/cl-garbage
CL_LIMITS=$IT_BUILD/tests/integration/cl-limits
CL_VALID=$IT_BUILD/tests/integration/cl-valid
CL_DROP=$IT_BUILD/tests/integration/cl-drop
CL_BLOCK=$IT_BUILD/tests/integration/cl-block
CL_SQUAT=$IT_BUILD/tests/integration/cl-squat
CL_FLOOD=$IT_BUILD/tests/integration/cl-flood

export TOKEN=${TOKEN:-1000}
export TOKEN_COEFFICIENT=${TOKEN_COEFFICIENT:-0}
# cluster.sh up/wait: how long a node may take to be quorate (cluster.sh's
# own default is 30 s).  Beside stress-ng --cpu 8 and t177's flood under
# packet loss, t65's set-up (ip netns, veth, tc of the other test) took
# 2.5 min and corosync-quorumtool answered nothing for a minute while its
# corosync was ready: a wait, so a long bound costs nothing when all is well.
export UP_TIMEOUT=${UP_TIMEOUT:-120}

# daemon timing (ms); fence delay default = validity (= token) + revoke + 2000
REVOKE_MS=1000
LINGER_MS=1000
HANDOVER_MS=${HANDOVER_MS:-2000}   # a script may set it before sourcing this file
VALIDITY_MS=$TOKEN
FENCE_MS=$((VALIDITY_MS + REVOKE_MS + 2000))
DAEMON_OPTS=(-o revoke_timeout_ms=$REVOKE_MS -o linger_ms=$LINGER_MS
	-o handover_timeout_ms=$HANDOVER_MS -o socket_group= -o admin_group=)

EXTRA_DAEMON_OPTS=()   # a script may add -o key=value for every daemon it starts
IT_NAME=
IT_T0=
IT_OK=0
IT_KEEP=${IT_KEEP:-0}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ts() { date +%T.%3N; }
say() { echo "[$IT_NAME $(ts)] $*"; }
skip() { echo "SKIP: $*"; exit 77; }

# A script (or a library it sources) may define it_on_fail: it runs once,
# before the FAIL line, so that what it prints (the state of the processes
# a failure is about) is among the lines 'dev test' quotes above a FAIL.
fail() {
	if [[ -z ${IT_IN_FAIL:-} ]] && declare -F it_on_fail >/dev/null; then
		IT_IN_FAIL=1
		it_on_fail >&2 2>&1 || true
	fi
	echo "[$IT_NAME $(ts)] FAIL: $*" >&2
	exit 1
}

# A command or function that the test script's own bash (or a subshell of
# it) looks up and does not find, once it_init ran, fails the test at its
# end, even where the call's status decides nothing (a call in a
# condition, a helper lost in an edit: 0d06199 lost it_host_share so, and
# every test passed saying "command not found").  Not seen: a name with a
# slash, `exec NAME`, and what runs in another bash (bash -c, cluster.sh).
# bash runs this in the child it forked; it records the caller's file:line.
command_not_found_handle() {
	local at="${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}"
	echo "[$IT_NAME $(ts)] $at: '$1': command not found" >&2
	[[ -n ${IT_T0:-} && -n ${CLUSTER_DIR:-} && -d $CLUSTER_DIR ]] &&
		echo "'$1' ($at)" >>"$CLUSTER_DIR/not-found"
	return 127
}

# ok DESC: print one checked assertion
ok() { echo "[$IT_NAME $(ts)] ok: $*"; }

# check DESC CMD...: run CMD, ok/fail with DESC
check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else fail "$desc (command: $*)"; fi
}

# wait_until SECS CMD...: poll CMD every 50 ms until it succeeds; 1 on timeout
wait_until() {
	local secs=$1; shift
	local deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		(( $(date +%s%N) >= deadline )) && return 1
		sleep 0.05
	done
}

# must_wait SECS DESC CMD...: wait_until or fail
must_wait() {
	local secs=$1 desc=$2 t0; shift 2
	t0=$(now_ms)
	if wait_until "$secs" "$@"; then
		ok "$desc (after $(( $(now_ms) - t0 )) ms)"
	else
		fail "$desc: not true after ${secs}s (command: $*)"
	fi
}

cluster() { "$CLUSTER_SH" "$@"; }
# cl I ARGS...: the CLI in node I
cl() { local i=$1; shift; "$CLUSTER_SH" exec "$i" "$CLI" "$@"; }

# jget JSON FILTER: a jq filter on JSON text (python3 fallback for simple .a.b paths)
jget() {
	if [[ -n $IT_JQ ]]; then
		jq -r "$2" <<<"$1"
	else
		python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for p in sys.argv[2].lstrip(".").split("."):
    if p: v = v[int(p)] if isinstance(v, list) else v[p]
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
	fi
}

# holders I NAME: one line "NODE EPOCH ORPHANED(true|false)" per holder in 'show --json';
# when show fails, its exit code, with the CLI's message on stderr
holders() {
	local j; j=$(cl "$1" --json show "$2") || return
	if [[ -n $IT_JQ ]]; then
		jq -r '.holders[] | "\(.node) \(.epoch) \(.orphaned)"' <<<"$j"
	else
		python3 -c '
import json, sys
for h in json.loads(sys.argv[1])["holders"]:
    print(h["node"], h["epoch"], str(h["orphaned"]).lower())' "$j"
	fi
}

# st I FILTER: field of 'status --json' on node I
st() { local j; j=$(cl "$1" --json status 2>/dev/null) || return 1; jget "$j" "$2"; }

# synced I: node I is synced, quorate, and past the grace period of fresh state
# (a cluster that starts with no state grants nothing for a fence delay)
synced() {
	local j; j=$(cl "$1" --json status 2>/dev/null) || return 1
	[[ $(jget "$j" .synced) == true && $(jget "$j" .quorate) == true && $(jget "$j" .grace) == false ]]
}
# daemon_asan: the coroleased under test is an ASan build (its allocator
# keeps freed memory in a quarantine and runs several times slower)
# (ldd's output is read whole: 'ldd | grep -q' under pipefail fails when
# grep exits at the first match and ldd dies of SIGPIPE)
daemon_asan() { local l; l=$(ldd "$DAEMON" 2>/dev/null); [[ $l == *libasan* ]]; }
# plain_build_only WHY: skip under a sanitizer build.  For the long tests of
# timing under faults and of the shell agents, whose daemon code paths the
# other tests run under ASan too: './dev test' runs make check twice, and
# these ~14 minutes of test time (about 7 of wall time at -j2) are kept
# out of the second run to bound CI's time.  They run in the plain build.
plain_build_only() {
	daemon_asan && skip "plain build only: $* (./dev test runs it in its plain phase)"
	return 0
}

# synced_or_in_grace I: node I is synced and quorate, in a grace period or not
synced_or_in_grace() { synced "$1" || in_grace "$1"; }

# in_grace I: node I is synced and quorate but its fresh state is in grace
in_grace() {
	local j; j=$(cl "$1" --json status 2>/dev/null) || return 1
	[[ $(jget "$j" .synced) == true && $(jget "$j" .quorate) == true && $(jget "$j" .grace) == true ]]
}
state_hash() { st "$1" .state_hash; }

# hashes_equal I J...: the listed nodes report the same state_hash at the
# same lsn.  Every node with state sends a heartbeat NOP whenever it was
# silent for heartbeat_ms (validity/4), so lsn moves on several times a
# second even when nothing else happens, and only states at one lsn compare:
# each node is sampled 4 times in a row, the samplers start together (a
# barrier), and the states are compared at every lsn that all of them saw.
# Fails (for must_wait to retry) when no lsn was seen by all, or when two
# states at one lsn differ (also logged in divergence.log).
hashes_equal() {
	local i d=$CLUSTER_DIR/.hash.$$ k all pids=() out
	rm -rf "$d"
	mkdir -p "$d"
	for i in "$@"; do
		"$CLUSTER_SH" exec "$i" sh -c ': >"$1.ready"; while [ ! -e "$2" ]; do sleep 0.005; done
			for k in 1 2 3 4; do "$3" --json status; done' sh "$d/$i" "$d/go" "$CLI" \
			>"$d/$i" 2>/dev/null &
		pids+=($!)
	done
	for ((k = 0; k < 1000; k++)); do
		all=1
		for i in "$@"; do [[ -e $d/$i.ready ]] || all=0; done
		((all)) && break
		sleep 0.01
	done
	: >"$d/go"
	wait "${pids[@]}"
	out=$(for i in "$@"; do
		awk -v node="$i" 'match($0, /"lsn":[0-9]+/) { l = substr($0, RSTART + 6, RLENGTH - 6)
			if (match($0, /"state_hash":"[0-9a-f]+"/)) print l, substr($0, RSTART + 14, RLENGTH - 15), node }' "$d/$i"
	done | awk -v n=$# '
		!(($1, $3) in seen) { seen[$1, $3] = 1; count[$1]++
			if (!($1 in hash)) { hash[$1] = $2; first[$1] = $3 }
			else if (hash[$1] != $2) bad[$1] = bad[$1] sprintf(" node %s %s != node %s %s;", first[$1], hash[$1], $3, $2) }
		END { for (l in count) if (count[l] == n) { common++; if (l in bad) print "lsn " l ":" bad[l] }
		      if (!common) print "none" }')
	[[ -z $out ]] && return 0
	[[ $out != none ]] && echo "$(ts) nodes $*: $out" >>"$CLUSTER_DIR/divergence.log"
	return 1
}

# valid_intervals NODE LOG: from a cl-valid log, one line "NAME NODE FROM TO" (CLOCK_REALTIME
# microseconds) per interval in which the client could use NAME: from "valid NAME 1 T" to LAST
# of the "valid NAME 0 T LAST" or "end NAME LAST" after it; still open at the end of the log
# (the client died): TO is 9e15, forever.
valid_intervals() {
	awk -v node="$1" '
		function us(t) { return substr(t, 1, length(t) - 3) + 0 }
		function out(n, to) { printf "%s %s %.0f %.0f\n", n, node, from[n], to; delete from[n] }
		$1 == "valid" && $3 == 1 { from[$2] = us($4) }
		$1 == "valid" && $3 == 0 && ($2 in from) { out($2, us($5)) }
		$1 == "end" && ($2 in from) { out($2, us($3)) }
		END { for (n in from) out(n, 9e15) }' "$2"
}

# holder_and_waiter H W NAME...: cl-valid client a on node H holds every NAME, client w on
# node W waits for them (-w) behind node H; sets boot0 and real0 from a's clock line.
holder_and_waiter() {
	local h=$1 w=$2 nm cond=
	shift 2
	local last=${*: -1}
	spawn "$h" a "$CL_VALID" "$@" >/dev/null
	for nm in "$@"; do cond+="grep -q '^valid $nm 1' '$CLUSTER_DIR/n$h/a.log' && "; done
	must_wait 10 "node $h's client A may use $*" bash -c "${cond% && }"
	spawn "$w" w "$CL_VALID" -w "$@" >/dev/null
	must_wait 10 "node $w's client W is queued behind node $h" \
		bash -c "'$CLUSTER_SH' exec $w '$CLI' --json show $last | grep -q '\"waiters\":\[{\"node\":$w'"
	read -r _ boot0 real0 < <(grep '^clock' "$CLUSTER_DIR/n$h/a.log")
}

# nopassrights_daemon [NOFILE]: from now on DAEMON is a wrapper that preloads
# tests/integration/nopassrights.so, so that the daemon's socket accepts passed
# descriptors as before Linux 6.16 (t179, t180), with RLIMIT_NOFILE at NOFILE if given.
# nopassrights_loaded PID: fail unless the shim is in that daemon.
nopassrights_daemon() {
	local shim=$IT_BUILD/tests/integration/.libs/nopassrights.so real=$DAEMON
	[[ -f $shim ]] || skip "$shim not built (make check builds it)"
	DAEMON=$CLUSTER_DIR/coroleased-nopassrights
	cat >"$DAEMON" <<EOF
#!/bin/sh
# an ASan daemon would refuse a preload that comes before its runtime
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
${1:+ulimit -n $1 || exit 1}
LD_PRELOAD=$shim exec $real "\$@"
EOF
	chmod 755 "$DAEMON"
}
# closer_stall PID SETPRIV...: blocks the closing thread of node 1's daemon PID in a close()
# that no signal ends (cl-brk splice, run with SETPRIV: a pipe whose lock a thread of the
# attacker holds), the daemon stopped while the attacker passes it so that the attacker's own
# close comes first; prints the attacker's pid (it holds the stall until killed)
closer_stall() {
	local d=$1 a; shift
	rm -f "$CLUSTER_DIR/stall-go"
	a=$(spawn 1 stall env BRK_GO="$CLUSTER_DIR/stall-go" "$@" "$IT_BUILD/tests/integration/cl-brk" splice)
	wait_until 20 grep -q ready "$CLUSTER_DIR/n1/stall.log" || fail "the staller did not connect"
	kill -STOP "$d"
	touch "$CLUSTER_DIR/stall-go"
	wait_until 10 grep -q 'passed the pipe' "$CLUSTER_DIR/n1/stall.log"
	kill -CONT "$d"
	wait_until 20 grep -q 'the daemon ended the connection' "$CLUSTER_DIR/n1/stall.log" ||
		fail "the staller's pipe was not taken: $(cat "$CLUSTER_DIR/n1/stall.log")"
	echo "$a"
}
# member_attack_up [NOFILE]: node 1 with a daemon that takes passed descriptors
# (nopassrights_daemon NOFILE) and socket_group=users, and for the closing-thread
# tests (t179 to t183): d (its pid), LOG, AS (the attacker, uid 61001) and AS2
# (another member), nfd (the daemon's descriptors), f0 and lines0 (before),
# user_status (AS2's status, 5 s), root_status (counted in n, failures in failn,
# the slowest in worst ms, the most descriptors seen meanwhile in maxfd)
member_attack_up() {
	nopassrights_daemon "${1:-}"
	EXTRA_DAEMON_OPTS=(-o socket_group=users)
	it_up 1
	d=$(daemon_pid 1)
	LOG=$CLUSTER_DIR/n1/coroleased.log
	nopassrights_loaded "$d"
	AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
	AS2=(setpriv --reuid=61002 --regid=100 --clear-groups)
	failn=0 n=0 worst=0 maxfd=0
	f0=$(nfd)
	lines0=$(wc -l <"$LOG")
}
nfd() { find "/proc/$d/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
user_status() { timeout 5 "$CLUSTER_SH" exec 1 "${AS2[@]}" "$CLI" status >/dev/null 2>&1; }
root_status() {
	local t0 t f
	t0=$(now_ms)
	n=$((n + 1))
	timeout 5 "$CLUSTER_SH" exec 1 "$CLI" status >/dev/null 2>&1 || failn=$((failn + 1))
	t=$(($(now_ms) - t0))
	((t > worst)) && worst=$t
	f=$(nfd)
	((f > maxfd)) && maxfd=$f
	return 0
}
nopassrights_loaded() {
	grep -q nopassrights "/proc/$1/maps" ||
		fail "nopassrights.so is not loaded in coroleased (pid $1): its socket would refuse passed descriptors"
}

# renewal_gap LOG MARK: the longest time, in whole seconds of the log's clock, between two
# "validity until" lines a daemon logged in LOG from line MARK on (its renewals; debug log)
renewal_gap() {
	tail -n +"$2" "$1" | awk '/validity until/ { split($3, t, ":"); s = t[1]*3600 + t[2]*60 + t[3]
		if (p && s - p > g) g = s - p; p = s } END { print g + 0 }'
}

# renewed_throughout LOG MARK SECS: check that renewal_gap is at most SECS
renewed_throughout() {
	local gap
	gap=$(renewal_gap "$1" "$2")
	say "longest gap between 'validity until' refreshes: ${gap} s"
	check "the node's validity was renewed throughout (longest gap ${gap} s, at most $3)" [ "$gap" -le "$3" ]
}

# deadlines_within LOG MARK BOUND WHAT: every "validity until T" (T not 0) a daemon logged in LOG
# after line MARK, until it was back in a 3-node ring, is at most BOUND (a CLOCK_BOOTTIME us).
deadlines_within() {
	local log=$1 mark=$2 bound=$3 what=$4 vals v
	vals=$(tail -n +"$((mark + 1))" "$log" | awk '/totem confchg: .* 3 nodes/ { exit } { print }' |
		grep -o 'validity until [0-9]*' | awk '$3 != 0 {print $3}')
	say "$(wc -w <<<"$vals") deadline(s) other than 0 from $what until back in a 3-node ring: $(tr '\n' ' ' <<<"$vals")(bound $bound)"
	for v in $vals; do
		check "deadline $v is at most $what + validity ($bound; over by $(( (v - bound) / 1000 )) ms)" [ "$v" -le "$bound" ]
	done
}

# valid_overlaps NODE:LOG...: the intervals of every cl-valid log given (each with the node its
# client ran on) in which clients of two different nodes could use one name at the same time;
# prints one line per overlap, nothing when there is none.
valid_overlaps() {
	local a
	for a in "$@"; do valid_intervals "${a%%:*}" "${a#*:}"; done | awk '
		{ name[NR] = $1; node[NR] = $2; from[NR] = $3; to[NR] = $4 }
		END {
			for (i = 1; i <= NR; i++)
				for (j = i + 1; j <= NR; j++)
					if (name[i] == name[j] && node[i] != node[j] &&
					    from[i] <= to[j] && from[j] <= to[i])
						printf "%s: node %s [%.0f, %.0f] overlaps node %s [%.0f, %.0f]\n", name[i],
						       node[i], from[i], to[i], node[j], from[j], to[j]
		}'
}

daemon_pid() { cat "$CLUSTER_DIR/n$1/${2:-coroleased}.pid" 2>/dev/null | awk '{print $1}'; }
alive() { [[ -n ${1:-} && -d /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
exited() { ! alive "$1"; }

# quiesce: stop every spawned client (all pidfiles but corosync and
# coroleased*) and wait until they are gone.  With no client holding a lease
# and linger over, lsn stands still (heartbeats are not machine inputs), so the
# state hashes of all nodes can be compared even when the host is slow.
quiesce() {
	local f pid pids=() tag
	for f in "$CLUSTER_DIR"/n*/*.pid; do
		[[ -f $f ]] || continue
		tag=$(basename "$f" .pid)
		[[ $tag == corosync || $tag == coroleased* ]] && continue
		pid=$(awk '{print $1}' "$f")
		alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		wait_until 10 exited "$pid" || fail "spawned pid $pid did not exit on SIGTERM"
	done
	ok "stopped ${#pids[@]} spawned client(s) so the nodes quiesce"
}

# start_daemon I [TAG] [extra -o ...]: spawn coroleased in node I (log nI/TAG.log)
start_daemon() {
	local i=$1 tag=${2:-coroleased}; shift; (($#)) && shift
	"$CLUSTER_SH" spawn "$i" "$tag" "$DAEMON" -f -l stderr -c /dev/null -o debug=yes \
		"${DAEMON_OPTS[@]}" ${EXTRA_DAEMON_OPTS[@]+"${EXTRA_DAEMON_OPTS[@]}"} "$@" >/dev/null || fail "cannot spawn coroleased in node $i"
	IT_DAEMON_LOGS+=("$CLUSTER_DIR/n$i/$tag.log")
}

# spawn I TAG CMD...: background process in node I; prints its pid
spawn() { "$CLUSTER_SH" spawn "$@"; }

# grant_epoch I TAG NAME: a cl-valid on node I takes NAME (waiting up to
# 20 s) and is stopped again; prints the epoch it was granted (nothing if none)
grant_epoch() {
	local i=$1 tag=$2 name=$3 e
	spawn "$i" "$tag" "$CL_VALID" "$name" >/dev/null
	must_wait 20 "client $tag on node $i granted $name" grep -q "^granted $name " "$CLUSTER_DIR/n$i/$tag.log" >&2
	e=$(awk -v n="$name" '$1 == "granted" && $2 == n { print $3; exit }' "$CLUSTER_DIR/n$i/$tag.log")
	kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n$i/$tag.pid")"
	wait_until 10 exited "$(awk '{print $1}' "$CLUSTER_DIR/n$i/$tag.pid")"
	echo "$e"
}

# flood_lock: waits until no other flood on this host (any IT_INSTANCE) is
# running, then holds the host's flood lock until flood_unlock or the
# script's end.  Floods run the daemons SCHED_RR on 2 CPUs: two at once (say
# t177's three nodes under packet loss beside t85's STATUS flood, ASan)
# starve each other's realtime daemons, and the victim's validity lapses for
# a reason that is not its own flood.  On a host busy with other work
# (host_busy: stress-ng --cpu 8 beside the suite) a flood also runs alone: its
# realtime corosyncs and daemons left the other test's shell and tools
# (normal priority) next to no CPU, t65's and t73's corosync-quorumtool
# answered nothing for 2 minutes during t170's and t177's floods, t30's OCF
# start missed its 20 s.  Every test holds the host's share lock shared from
# it_init to its end (it_host_share); such a flood takes it exclusively, so
# it waits for the running tests and no test starts during it.  On an idle
# host that would serialise the suite around each flood (the CI grew past
# its 90 minutes), so there a flood only excludes other floods.
# IT_FLOOD_ALONE=1 makes every flood run alone, 0 none, auto (the default)
# decides by host_busy.  A test takes the lock after its set-up and before
# its baseline, giving up its share first (no two floods wait on each
# other's share), and flood_unlock takes the share again.  The locks are
# held by small shells that end when the script does (kill -9 included);
# nothing the test spawns inherits them (host_lock).
flood_lock() {
	local t0 alone=${IT_FLOOD_ALONE:-auto}
	[[ -z ${IT_FLOOD_HOLDER:-} ]] || return 0
	t0=$(now_ms)
	it_host_unshare
	host_lock flood
	IT_FLOOD_HOLDER=$IT_LOCK_HOLDER
	if [[ $alone == auto ]]; then
		if host_busy; then alone=1; else alone=0; fi
	fi
	if [[ $alone == 1 ]]; then
		host_lock alone
		IT_ALONE_HOLDER=$IT_LOCK_HOLDER
		say "flood window: waited $(( $(now_ms) - t0 )) ms for other tests to end (other work on the host: ${IT_FOREIGN:-?}% of a CPU; it runs alone)"
	else
		say "flood window: waited $(( $(now_ms) - t0 )) ms for other floods to end (other work on the host: ${IT_FOREIGN:-?}% of a CPU)"
	fi
}

# host_busy: true when processes outside the suite used over a quarter of
# a CPU in the last second (foreign-cpu.py: beside stress-ng --cpu 8 40% to
# 180%, the less the more CPU the suite's realtime processes take; during
# the suite's CI on an idle host 0 to 13%); sets IT_FOREIGN to that figure.
# The kernel's CPU pressure cannot tell the two apart: the suite alone
# pushes PSI's "some avg10" to 99% at times (t08 beside another test), as
# stress-ng does.
host_busy() {
	if ! command -v python3 >/dev/null; then
		say "no python3 to run foreign-cpu.py: the host is taken as busy"
		IT_FOREIGN=?
		return 0
	fi
	if ! IT_FOREIGN=$(python3 "$IT_SRCDIR/foreign-cpu.py" 1); then
		say "foreign-cpu.py failed: the host is taken as busy"
		IT_FOREIGN=?
		return 0
	fi
	((IT_FOREIGN > 25))
}

# host_lock KIND: takes one of the host's locks (files in /run/lock/corolease-it,
# or in IT_TMPDIR or /tmp where that cannot be made; IT_LOCK_DIR for
# tests/check-host-locks.sh) in a small shell that
# holds it while this script lives; sets IT_LOCK_HOLDER to that shell's pid
# (kill it to let go; its pid file is CLUSTER_DIR/KIND.holder).
#   flood  the flood lock, exclusively (floods exclude each other)
#   share  the share lock, shared (every test, from it_init)
#   alone  the share lock, exclusively (a flood on a busy host)
# share and alone pass the gate lock first, and alone keeps it: a test that
# starts while a flood waits to run alone waits behind it.  Without the
# gate, shared holders could follow one another with no gap (make starts
# the next test before the last one's holder has seen its end) and the
# flood would wait for ever.  The shell is not this script's child (a bare
# `wait` in a test would wait for it for ever: t118 did, and the CI of
# 1cc374f ran out of time); it checks each second while it waits, and every
# 0.2 s while it holds, that this script (pid and start time) still runs.
host_lock() {
	local d=${IT_LOCK_DIR:-/run/lock/corolease-it} f=$CLUSTER_DIR/$1.holder st
	mkdir -p "$d" 2>/dev/null && [[ -w $d ]] || d=${IT_TMPDIR:-/tmp}
	rm -f "$f" "$f.err"
	# shellcheck disable=SC2016
	( sh -c 'F=$1 P=$2 K=$3 D=$4
		started() {   # the start time of P (field 22 of its stat); no fork
			read -r l <"/proc/$P/stat" 2>/dev/null || return 1
			set -f; set -- ${l##*) }; set +f
			echo "${20:-}"
		}
		S=$(started) || exit 0   # (the test waits for this shell: P is P)
		alive() { [ "$(started)" = "$S" ]; }
		take() {
			while :; do
				flock "$1" -w 1 -E 75 "$2"
				case $? in
				0) return 0 ;;
				75) alive || exit 0 ;;
				*) echo "flock $1 $2 failed" >"$F.err"; exit 1 ;;
				esac
			done
		}
		case $K in flood) L=flood ;; *) L=share ;; esac
		if ! true 2>/dev/null >>"$D/corolease-it-$L.lock" || ! true 2>/dev/null >>"$D/corolease-it-gate.lock"; then
			echo "cannot open the lock files in $D" >"$F.err"
			exit 1
		fi
		exec 8>>"$D/corolease-it-gate.lock" 9>>"$D/corolease-it-$L.lock"
		case $K in
		flood) take -x 9 ;;
		share) take -x 8; take -s 9; flock -u 8 ;;
		alone) take -x 8; take -x 9 ;;
		esac
		echo $$ >"$F.tmp" && mv "$F.tmp" "$F"
		while alive; do sleep 0.2; done' sh "$f" "$$" "$1" "$d" </dev/null >/dev/null 2>&1 & )
	wait_until 3600 test -s "$f" -o -e "$f.err" || fail "the host's $1 lock in $d was not free within an hour"
	[[ ! -e $f.err ]] || fail "the host's $1 lock in $d: $(cat "$f.err")"
	IT_LOCK_HOLDER=$(cat "$f")
}

# it_host_share: holds the host's share lock shared until the script ends
# (it_init): no flood that runs alone starts meanwhile (flood_lock)
it_host_share() {
	local t0 w
	[[ -z ${IT_SHARE_HOLDER:-} ]] || return 0
	t0=$(now_ms)
	host_lock share
	IT_SHARE_HOLDER=$IT_LOCK_HOLDER
	w=$(( $(now_ms) - t0 ))
	((w < 1000)) || say "waited $w ms for the host's share lock (a flood running alone holds it; or the machine is slow)"
}

# it_host_unshare: gives the share of it_host_share up (the lock is freed
# within 0.2 s of the holder's end)
it_host_unshare() {
	[[ -n ${IT_SHARE_HOLDER:-} ]] || return 0
	kill "$IT_SHARE_HOLDER" 2>/dev/null
	IT_SHARE_HOLDER=
}

# flood_unlock: ends the flood window (the locks are freed within 0.2 s)
# and takes the test's share again for the rest of it
flood_unlock() {
	[[ -n ${IT_FLOOD_HOLDER:-} ]] || return 0
	[[ -n ${IT_ALONE_HOLDER:-} ]] && kill "$IT_ALONE_HOLDER" 2>/dev/null
	IT_ALONE_HOLDER=
	kill "$IT_FLOOD_HOLDER" 2>/dev/null
	IT_FLOOD_HOLDER=
	it_host_share
}

# brk_up: a one-node cluster whose daemon lets group users (100) connect,
# for a breaker test; sets BRK (cl-brk), AS (the command prefix that runs
# as uid 61001 of group users), d (the daemon's pid), san (1 under a
# sanitizer build)
brk_up() {
	BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
	[[ -x $BRK && -x $CL_LOAD ]] || skip "cl-brk / cl-load not built"
	[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
	EXTRA_DAEMON_OPTS+=(-o socket_group=users)
	it_up 1
	d=$(daemon_pid 1)
	san=
	if daemon_asan; then san=1; fi
	AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
}

# ns_pkill UID PATTERN: SIGTERM to the processes of UID whose command line
# has PATTERN, in this test's node namespaces only (a host-wide pkill -u
# killed another instance's flooder: t217 of a CI run beside t180)
ns_pkill() {
	local ns p
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^${CLUSTER_PREFIX:-none}-"); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			[[ $(awk '/^Uid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) == "$1" ]] || continue
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" && kill "$p" 2>/dev/null
		done
	done
	return 0
}

# field WORD LINE: the number after WORD in a cl-brk rtt line
# ("rtt: connect+hello C ms; N STATUS: min A median M max X ms")
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p" <<<"$2"; }

# hold_names I PREFIX N CLIENTS: CLIENTS cl-load clients on node I (tags
# load1..) hold N names between them (PREFIX<c>/000000 ...) until the test
# ends; waits (up to 300 s) until every one is held
hold_names() {
	local i=$1 prefix=$2 n=$3 k=$4 c per=$(($3 / $4))
	for ((c = 1; c <= k; c++)); do spawn "$i" load$c "$CL_LOAD" -p "$prefix$c/" -n "$per" -W 1000 >/dev/null; done
	# shellcheck disable=SC2317
	all_held() { local c; for ((c = 1; c <= k; c++)); do grep -q "^all held $per" "$CLUSTER_DIR/n$i/load$c.log" || return 1; done; }
	must_wait 300 "$n names held on node $i" all_held
}

# flood_page_worst I FLOODTAG PAGETAG SECS: waits for the flooder FLOODTAG
# (cl-brk, a line starting with its mode) and the page sampler PAGETAG
# (cl-brk page) on node I, reports both, prints the sampler's longest
# expired stretch in ms
flood_page_worst() {
	local i=$1 pgl
	must_wait $(($4 + 30)) "flooder done" grep -q '^mspin' "$CLUSTER_DIR/n$i/$2.log" >&2
	say "flooder: $(tr '\n' ';' < "$CLUSTER_DIR/n$i/$2.log")" >&2
	must_wait 30 "page sampler done" grep -q '^page' "$CLUSTER_DIR/n$i/$3.log" >&2
	pgl=$(cat "$CLUSTER_DIR/n$i/$3.log"); say "$pgl" >&2
	sed -n 's/.*longest \([0-9]*\) ms.*/\1/p' <<<"$pgl"
}

it_dump_logs() {
	local f
	echo "======== logs of $IT_NAME ($CLUSTER_DIR) ========"
	"$CLUSTER_SH" status 2>&1 || true
	for f in "$CLUSTER_DIR"/n*/*.log; do
		[[ -f $f ]] || continue
		echo "-------- $f (last 150 lines) --------"
		tail -n 150 "$f"
	done
}

it_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if ((rc != 0 && rc != 77)); then
		it_dump_logs >&2
	fi
	if [[ -n ${CLUSTER_DIR:-} && -e $CLUSTER_DIR/N && $IT_KEEP != 1 ]]; then
		# processes the test left in its nodes' namespaces that cluster.sh
		# did not start (it leaves those alone): killed once it is down
		local ns p left=()
		for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^${CLUSTER_PREFIX:-none}-"); do
			for p in $(ip netns pids "$ns" 2>/dev/null); do
				left+=("$p:$(awk '{ print $22 }' "/proc/$p/stat" 2>/dev/null)")
			done
		done
		FAST_DOWN=1 "$CLUSTER_SH" down >/dev/null 2>&1
		for p in "${left[@]}"; do
			[[ $(awk '{ print $22 }' "/proc/${p%%:*}/stat" 2>/dev/null) == "${p#*:}" ]] &&
				kill -KILL "${p%%:*}" 2>/dev/null
		done
	fi
	# a sanitizer build: any report of a daemon (during the test or at its exit) fails it
	if ((rc == 0)) && [[ -n ${CLUSTER_DIR:-} ]] &&
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$CLUSTER_DIR"/n*/coroleased*.log 2>/dev/null; then
		echo "[$IT_NAME] FAIL: a sanitizer report in a daemon's log:"
		grep -hE -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$CLUSTER_DIR"/n*/coroleased*.log | head -80
		rc=1
	fi
	if [[ -n ${CLUSTER_DIR:-} && -s $CLUSTER_DIR/not-found ]]; then
		echo "[$IT_NAME] FAIL: the test called what does not exist: $(sort -u "$CLUSTER_DIR/not-found" | tr '\n' ' ')"
		((rc != 0)) || rc=1
	fi
	if ((rc == 0)); then
		echo "[$IT_NAME] PASS in $(( $(now_ms) - IT_T0 )) ms"
	elif ((rc != 77)); then
		echo "[$IT_NAME] FAIL (rc $rc) after $(( $(now_ms) - IT_T0 )) ms; logs kept in $CLUSTER_DIR"
	fi
	exit "$rc"
}

# it_take_stale_lock LOCK NUM INST: the number's lock is held.  Every process
# a test starts inherits the lock's descriptor, so a process that outlived
# its test (one the cluster's teardown did not reach) keeps the number held
# after that test ended.  When no test script holds it, those leftovers are
# killed and the lock taken; when one does, the numbers collide: fail.
it_take_stale_lock() {
	local lock=$1 num=$2 inst=$3 fd pid holders=() scripts=() cmd
	for fd in /proc/[0-9]*/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$lock" ]] || continue
		pid=${fd#/proc/}; pid=${pid%%/*}
		((pid == $$ || pid == BASHPID)) && continue
		[[ " ${holders[*]} " == *" $pid "* ]] && continue
		holders+=("$pid")
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
		[[ $cmd =~ (^|/)bash\ .*/t[0-9]+[-a-z0-9]*\.sh|run\.sh ]] && scripts+=("$pid: $cmd")
	done
	((${#scripts[@]} == 0)) ||
		fail "test number $num (instance $inst) is in use by another running test (${scripts[*]}): give each script its own it_init number"
	for pid in "${holders[@]}"; do
		echo "[$IT_NAME] test number $num was still held by pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)), left over from an earlier run: killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	done
	local i
	for ((i = 0; i < 100; i++)); do
		flock -n "$IT_NUM_FD" && return 0
		sleep 0.1
	done
	fail "test number $num (instance $inst): the lock $lock is still held 10 s after killing its holders (${holders[*]})"
}

# it_init NAME NUM: checks prerequisites, sets the per-script cluster
# environment (prefix/subnet/dir from NUM, 1..99) and the EXIT trap.
it_init() {
	IT_NAME=$1
	local num=$2
	IT_T0=$(now_ms)
	((EUID == 0)) || skip "needs root (network and mount namespaces)"
	command -v corosync >/dev/null || skip "corosync not installed"
	command -v nsenter >/dev/null && command -v unshare >/dev/null || skip "util-linux nsenter/unshare missing"
	ip netns list >/dev/null 2>&1 || skip "'ip netns' not available"
	[[ -x $DAEMON ]] || skip "coroleased not built ($DAEMON)"
	[[ -x $CLI ]] || skip "corolease CLI not built ($CLI)"
	IT_JQ=$(command -v jq || true)
	[[ -n $IT_JQ ]] || command -v python3 >/dev/null || skip "neither jq nor python3 to parse --json"
	# IT_INSTANCE (0..99, default 0) separates concurrent runs of the suite
	# from different checkouts: its own prefixes, subnets (10.78+inst) and
	# directories
	local inst=${IT_INSTANCE:-0}
	[[ $inst =~ ^([0-9]|[1-9][0-9])$ ]] || fail "IT_INSTANCE must be 0..99"
	if [[ $inst == 0 ]]; then
		export CLUSTER_PREFIX=cit$num CLUSTER_DIR=${IT_TMPDIR:-/tmp}/corolease-it-$IT_NAME
	else
		export CLUSTER_PREFIX=c${inst}t$num CLUSTER_DIR=${IT_TMPDIR:-/tmp}/corolease-it$inst-$IT_NAME
	fi
	export CLUSTER_SUBNET=10.$((78 + inst)).$num
	# two scripts with one number would tear down each other's namespaces:
	# the number is held (flock) for the script's lifetime
	local lock=${IT_TMPDIR:-/tmp}/corolease-it$inst-num$num.lock
	exec {IT_NUM_FD}>"$lock"
	flock -n "$IT_NUM_FD" || it_take_stale_lock "$lock" "$num" "$inst"
	IT_DAEMON_LOGS=()
	# a previous run that was killed hard: tear its leftovers down
	if [[ -e $CLUSTER_DIR/N ]]; then "$CLUSTER_SH" down >/dev/null 2>&1; fi
	rm -rf "$CLUSTER_DIR"
	mkdir -p "$CLUSTER_DIR"
	trap it_cleanup EXIT
	trap 'exit 130' INT TERM
	say "cluster dir $CLUSTER_DIR prefix $CLUSTER_PREFIX subnet $CLUSTER_SUBNET.0/24 (token $TOKEN ms, fence delay $FENCE_MS ms)"
	it_host_share
}

# it_up N [LATE...]: cluster of N corosync nodes; coroleased on every node
# not listed in LATE; waits until those are synced and quorate.
it_up() {
	local n=$1 i; shift
	local late=" $* "
	cluster up "$n" >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up $n"; }
	for ((i = 1; i <= n; i++)); do
		[[ $late == *" $i "* ]] && continue
		start_daemon "$i"
	done
	if [[ -n ${late// /} ]]; then
		# Fresh state ends its grace period only once every node of the
		# corosync ring has a coroleased in the group, or was fence-acked
		# (a daemon that died there may keep the epoch floor of a lost
		# lineage).  The LATE nodes have none yet: as an operator would,
		# fence-ack them from the first node that runs one.
		local first=
		for ((i = 1; i <= n; i++)); do
			[[ $late == *" $i "* ]] && continue
			[[ -n $first ]] || first=$i
			must_wait 30 "node $i: coroleased synced and quorate" synced_or_in_grace "$i"
		done
		# (with every daemon late, there is no one to ask yet)
		for i in $late; do
			[[ -n $first ]] || break
			"$CLUSTER_SH" exec "$first" "$CLI" fence-ack "$i" >/dev/null ||
				fail "fence-ack of node $i (no coroleased yet) from node $first"
		done
	fi
	for ((i = 1; i <= n; i++)); do
		[[ $late == *" $i "* ]] && continue
		must_wait 30 "node $i: coroleased synced, quorate, past the grace period" synced "$i"
	done
}

it_pass() { exit 0; }
