#!/bin/bash
# 116. (adversarial, issue 11) A second coroleased for a node whose daemon
# is already in the group, with another run dir (so the pid file lock does
# not stop it): what the OCF agent starts when the first daemon's run dir
# was removed (t115), or a second instance started by hand or by the enabled
# systemd unit with another run_dir.  Seen: the second daemon joins the CPG
# group as the same node and either dies of SIGSEGV ~0.2 s after "joining
# group", with no client request (NULL + 0x70 in cl_sm_stats,
# core/lease_query.c:93 by addr2line; in every run of this test) or both loop on
# syncs ("node 1 started a sync ... that this node's view of the group did
# not ask for", "own sync-announce delivered out of order"), logging
# hundreds of MB a second (13 GB in 25 s, 557 MB in 20 s).  Expected: the
# second daemon refuses to run (exits 1 within 10 s, no signal), logging
# little, and the first one stays synced.  Both daemons log through head -c
# (the second 2 MB, the first 50 MB), so a flood stops there (a daemon
# then dies of SIGPIPE).
. "$(dirname "$0")/lib.sh"
it_init second-daemon 116
cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
cat >"$CLUSTER_DIR/second.sh" <<'SH'
#!/bin/bash
# second.sh LOG STATUS DAEMON ARGS...: the daemon's stderr to LOG through
# head -c CAP; its exit status (128+N for signal N) to STATUS
cap=$1 log=$2 status=$3; shift 3
"$@" 2> >(head -c "$cap" >"$log")
echo $? >"$status"
SH
chmod +x "$CLUSTER_DIR/second.sh"
spawn 1 first-wrapper "$CLUSTER_DIR/second.sh" 50000000 "$CLUSTER_DIR/n1/first-daemon.log" \
	"$CLUSTER_DIR/n1/first-daemon.status" "$DAEMON" -f -l stderr -c /dev/null "${DAEMON_OPTS[@]}" >/dev/null ||
	fail "spawn the first daemon"
must_wait 30 "node 1: the first daemon synced, past the grace period" synced 1
LOG2=$CLUSTER_DIR/n1/second-daemon.log
ST2=$CLUSTER_DIR/n1/second-daemon.status
spawn 1 second-wrapper "$CLUSTER_DIR/second.sh" 2000000 "$LOG2" "$ST2" \
	"$DAEMON" -f -l stderr -c /dev/null -o run_dir=/run/corolease-second "${DAEMON_OPTS[@]}" >/dev/null ||
	fail "spawn the second daemon"
# (no client asks it anything: it crashes on its own)
t0=$(now_ms)
wait_until 10 test -s "$ST2"
for p in $(pgrep -f -- "-o run_dir=/run/corolease-second( |\$)"); do
	[[ $(cat "/proc/$p/comm" 2>/dev/null) == coroleased ]] && kill -KILL "$p"
done
must_wait 10 "the second daemon's wrapper recorded its exit" test -s "$ST2"
st=$(cat "$ST2"); size=$(stat -c %s "$LOG2" 2>/dev/null || echo 0)
say "second daemon: exit status $st after $(( $(now_ms) - t0 )) ms, $size bytes of log"
say "its log, without the repeated lines:"
grep -v "out of order\|did not ask for\| info: \| debug: " "$LOG2" | tail -n 8 | sed 's/^/    /'
dmesg 2>/dev/null | grep 'coroleased.*segfault' | tail -n 2 | sed 's/^/    dmesg: /'
check "node 1's first daemon is still synced" synced 1
say "first daemon's log: $(stat -c %s "$CLUSTER_DIR/n1/first-daemon.log") bytes"
check "the second daemon was not killed by a signal (exit status $st)" [ "$st" -lt 128 ]
check "the second daemon refused to run: exit 1 within 10 s (exit status $st)" [ "$st" = 1 ]
check "the second daemon logged less than 1 MB ($size bytes)" [ "$size" -lt 1000000 ]
it_pass
