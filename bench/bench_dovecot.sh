#!/bin/bash
# bench_dovecot.sh - the Dovecot plugin's cost (issue 10, item 5).
# Run by hand, as root, from the source tree after './dev build':
#
#   bench/bench_dovecot.sh [N]        (default 200 sessions per measurement)
#
# It builds the 3-node cluster of the Dovecot integration tests (t91, t93:
# corosync in namespaces, coroleased and a Dovecot per node, one maildir tree
# seen by every node through its own bindfs) with tests/integration/
# dovecot-lib.sh, under its own prefix cldv, subnet 10.90.0 and directory
# /tmp/corolease-bench-dovecot, and prints:
#   1. login-to-SELECT latency for user u1: N sessions of LOGIN, SELECT INBOX,
#      LOGOUT, each on a new connection, from a client in node 3 (python3
#      imaplib, one loop for every case):
#        a. Dovecot without the plugin, on node 1;
#        b. with the plugin, on node 1, which holds user/u1 (a session of u1
#           stays logged in there with INBOX selected);
#        b2. the same with routing configured (the dict passdb asks
#           corolease-route, which answers "serve it here");
#        c. with the plugin and routing, on node 2, which proxies to node 1;
#        a'. a again at the end (how much the figures drift over the run);
#      p50, p99 and the ratios b/a, b2/a, c/a (p50, against a).
#   2. lease messages per session: user u2 logs in (LOGIN, SELECT, LOGOUT)
#      N times on node 1 with the plugin; the CPG messages multicast by all
#      three daemons (counters.mcast_msgs minus counters.heartbeats) and the
#      cluster grants, for the first session and for the other N-1 (the
#      leases linger between sessions: linger_ms 5000, the daemon's default),
#      then what the linger expiry sends once the loop is over.
# Figures only, no assertions.  The EXIT trap stops Dovecot, unmounts the
# bindfs views and takes the cluster down.
set -u -o pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export abs_top_builddir=${BUILD:-$SRC/_build}
N=${1:-200}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 2)) || { echo "bench_dovecot.sh: N must be a number >= 2"; exit 1; }
((EUID == 0)) || { echo "bench_dovecot.sh: needs root"; exit 1; }
. "$SRC/tests/integration/lib.sh"
DV_ROUTE=0
. "$SRC/tests/integration/dovecot-lib.sh"
[[ -x $DAEMON && -x $CLI && -x $DV_ROUTER ]] || { echo "bench_dovecot.sh: not built (./dev build)"; exit 1; }
# as t91/t93; linger at the daemon's default (lib.sh shortens it to 1 s)
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail -o linger_ms=5000)
IT_NAME=bench-dovecot
IT_T0=$(now_ms)
export CLUSTER_PREFIX=${CLUSTER_PREFIX:-cldv} CLUSTER_SUBNET=${CLUSTER_SUBNET:-10.90.0}
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/corolease-bench-dovecot}
LOG=$CLUSTER_DIR/bench.log
command -v jq >/dev/null && IT_JQ=$(command -v jq) || IT_JQ=
dv_prereq
getent group dovecot >/dev/null || skip "no dovecot group (the routing socket)"

# the EXIT trap (dv_up sets 'trap dv_cleanup EXIT'): Dovecot, bindfs, cluster
dv_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	((rc == 0)) || { echo "bench_dovecot.sh: failed (rc $rc); the end of $LOG:"; tail -20 "$LOG"; } >&2
	dv_down
	[[ -e $CLUSTER_DIR/N ]] && FAST_DOWN=1 cluster down >/dev/null 2>&1
	exit "$rc"
}
trap dv_cleanup EXIT
trap 'exit 130' INT TERM
if [[ -e $CLUSTER_DIR/N ]]; then cluster down >/dev/null 2>&1; fi
rm -rf "$CLUSTER_DIR"
mkdir -p "$CLUSTER_DIR"

# the client: N x (connect, LOGIN, SELECT INBOX, LOGOUT), after WARM not timed
CLIENT='
import imaplib, sys, time
host, user, n, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lat, fails = [], 0
for i in range(n + warm):
    t0 = time.perf_counter()
    try:
        c = imaplib.IMAP4(host, 143, timeout=30)
        c.login(user, "pass")
        typ, _ = c.select("INBOX")
        c.logout()
        ok = typ == "OK"
    except Exception:
        ok = False
    dt = time.perf_counter() - t0
    if i < warm:
        continue
    if ok:
        lat.append(dt * 1000)
    else:
        fails += 1
lat.sort()
if not lat:
    print("0 0 0 %d" % fails)
else:
    print("%.2f %.2f %d %d" % (lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], len(lat), fails))
'
# lat NODE USER N [WARM]: prints "p50 p99 n failed" (ms), the client in node 3
lat() { cluster exec 3 python3 -c "$CLIENT" "$CLUSTER_SUBNET.$1" "$2" "$3" "${4:-3}"; }

# dv_restart PLUGIN: every node's Dovecot (and router) stopped, reconfigured
# (PLUGIN 0/1, routing as $DV_ROUTE), started again
dv_restart() {
	local i pid
	for i in 1 2 3; do
		for t in dovecot router; do
			pid=$(daemon_pid "$i" "$t")
			alive "$pid" && kill -TERM "$pid" && wait_until 15 exited "$pid"
		done
		dv_conf "$i" "$1"
		if ((DV_ROUTE)); then
			spawn "$i" router "$DV_ROUTER" -s /run/corolease-route.sock -g dovecot >/dev/null
			must_wait 10 "node $i: corolease-route listening" cluster exec "$i" test -S /run/corolease-route.sock
		fi
		spawn "$i" dovecot dovecot -F -c "$CLUSTER_DIR/n$i/dovecot.conf" >/dev/null
	done
	for i in 1 2 3; do
		must_wait 20 "node $i: Dovecot answers IMAP" cluster exec 3 python3 -c '
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], 143, timeout=5); c.logout()' "$CLUSTER_SUBNET.$i"
	done
}

owner_is() { [[ $(cl 3 owner "$1") == "$2" ]]; }

# hold_u1: a session of u1 on node 1, INBOX selected, until it is killed
hold_u1() {
	spawn 1 hold python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u1 --select --seconds 3600 >/dev/null
	must_wait 20 "u1's session on node 1 selected INBOX" grep -q '^SELECT OK' "$CLUSTER_DIR/n1/hold.log"
	must_wait 5 "node 1 holds user/u1" owner_is user/u1 1
}

# msgs: "M G F": CPG messages of the 3 daemons without heartbeats, cluster
# grants (replicated: node 1's count), node 1's fast-path grants
msgs() {
	local i j m=0 g f
	for i in 1 2 3; do
		j=$(cl "$i" --json status) || { echo "? ? ?"; return; }
		m=$((m + $(jget "$j" .counters.mcast_msgs) - $(jget "$j" .counters.heartbeats)))
		if ((i == 1)); then g=$(jget "$j" .counters.cluster_grants); f=$(jget "$j" .counters.fastpath_grants); fi
	done
	echo "$m $g $f"
}

proxied() { grep -c 'Started proxying' "$CLUSTER_DIR/n2/dovecot-mail.log" || true; }

dv_up 3 0 >>"$LOG" 2>&1 || exit 1
echo "== Dovecot bench: 3 nodes, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(dovecot --version | cut -d' ' -f1), N=$N"
echo "== 1. login-to-SELECT latency, user u1, client in node 3 (p50 p99 ms, n, failed)"
read -r a50 a99 an af < <(lat 1 u1 "$N")
echo "   a.  no plugin, node 1:                         p50 $a50  p99 $a99  n $an  failed $af"

dv_restart 1 >>"$LOG" 2>&1 || exit 1
hold_u1 >>"$LOG" 2>&1 || exit 1
read -r b50 b99 bn bf < <(lat 1 u1 "$N")
echo "   b.  plugin, node 1 (holder):                   p50 $b50  p99 $b99  n $bn  failed $bf"

# 2. on this configuration (plugin, no routing): u2, held nowhere, on node 1
read -r m0 g0 f0 < <(msgs)
read -r s1 _ _ s1f < <(lat 1 u2 1 0)
read -r m1 g1 f1 < <(msgs)
read -r r50 _ rn rf < <(lat 1 u2 $((N - 1)) 0)
read -r m2 g2 f2 < <(msgs)
sleep 7 # the linger (5 s) expires
read -r m3 g3 f3 < <(msgs)

DV_ROUTE=1
kill -TERM "$(daemon_pid 1 hold)"
dv_restart 1 >>"$LOG" 2>&1 || exit 1
hold_u1 >>"$LOG" 2>&1 || exit 1
read -r d50 d99 dn df < <(lat 1 u1 "$N")
echo "   b2. plugin + routing, node 1 (holder):         p50 $d50  p99 $d99  n $dn  failed $df"
p0=$(proxied)
read -r c50 c99 cn cf < <(lat 2 u1 "$N")
p1=$(proxied)
echo "   c.  plugin + routing, node 2 -> node 1:        p50 $c50  p99 $c99  n $cn  failed $cf  (node 2 proxied $((p1 - p0)) logins)"
echo "   user/u1 held by node $(cl 3 owner user/u1) at the end"

# a again, to see how far the figures drift over the run (the load moves)
DV_ROUTE=0
kill -TERM "$(daemon_pid 1 hold)"
dv_restart 0 >>"$LOG" 2>&1 || exit 1
read -r e50 e99 en ef < <(lat 1 u1 "$N")
echo "   a'. no plugin, node 1, again at the end:       p50 $e50  p99 $e99  n $en  failed $ef"

awk -v a="$a50" -v b="$b50" -v d="$d50" -v c="$c50" -v e="$e50" 'BEGIN {
	if (a > 0) printf "   ratios (p50): b/a %.2f  b2/a %.2f  c/a %.2f\n", b / a, d / a, c / a;
	if (e > 0) printf "   against a'\'': b/a'\'' %.2f  b2/a'\'' %.2f  c/a'\'' %.2f\n", b / e, d / e, c / e }'

echo "== 2. lease messages per session, user u2 on node 1 (plugin; LOGIN, SELECT, LOGOUT; linger 5 s)"
echo "   (CPG messages of the 3 daemons without heartbeats; cluster grants)"
echo "   first session:          $((m1 - m0)) messages, $((g1 - g0)) cluster grants ($s1 ms, failed $s1f)"
awk -v m=$((m2 - m1)) -v g=$((g2 - g1)) -v n="$rn" -v f="$rf" -v p="$r50" -v fp=$((f2 - f1)) 'BEGIN {
	printf "   next %d sessions:    %d messages (%.3f per session), %d cluster grants, %d fast-path grants (p50 %s ms, failed %d)\n", n, m, n ? m / n : 0, g, fp, p, f }'
echo "   linger expiry after:    $((m3 - m2)) messages, $((g3 - g2)) cluster grants"
echo "== load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
