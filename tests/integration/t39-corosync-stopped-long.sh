#!/bin/bash
# 39. corosync stopped (SIGSTOP) for long while coroleased runs.  libqb's
# client IPC tells corosync of each request by one byte on a socket, and
# retries that send in a busy loop, with no sleep, while the socket is full
# (qb_ipcc_sendv).  The socket fills once corosync has not read it for some
# 300 requests.  Heartbeats alone filled it after about a minute with the
# default heartbeat, before coroleased kept one queued while nothing comes
# back (check_node's one_heartbeat_queued_while_nothing_is_delivered); here
# a client's acquires fill it within a second or two.  coroleased then ran one CPU
# flat at its real-time priority and served nothing until corosync ran
# again.  It must not hand corosync a request while the socket is not
# writable (lockd/cs.h), and it waits for its deadlines on timerfds, not on
# libqb timers that poll without waiting for their last millisecond.
# Shown on a one-node cluster:
# - while corosync is stopped and no client asks anything, the heartbeats
#   do not pile up (counters.heartbeats grows by at most one in 2 s);
# - coroleased logs that corosync does not read its socket (the state above
#   was reached);
# - for 6 s after that it answers `corolease status` (each within 3 s) and
#   uses less than a third of one CPU;
# - clients that keep coming and going, each asking for 20,000 leases, meet
#   max_backlog_bytes (1M here): the daemon's own messages waiting for
#   corosync stay bounded, and the rest are refused (EAGAIN, counted), but
#   not root's;
# - a lease asked for during the stop is granted after SIGCONT, and
#   coroleased logs that corosync takes its messages again;
# - stopped again, SIGTERM ends coroleased within 15 s (it skips the
#   cpg_leave() that would wait for corosync forever);
# - a coroleased with the default heartbeat, whose corosync is stopped just
#   before SIGTERM (its socket not yet full, so cpg_leave() and
#   cpg_finalize() are tried and wait), exits within 15 s too (the drain,
#   then at most 5 s for corosync's answers), and says why.
. "$(dirname "$0")/lib.sh"
it_init corosync-stopped-long 51
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o heartbeat_ms=5 -o batch_inflight=0 -o max_backlog_bytes=1M -o socket_group=users)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
it_up 1
pid=$(daemon_pid 1)
LOG=$CLUSTER_DIR/n1/coroleased.log
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

spawn 1 holder "$CLI" acquire stopped/held -- sleep 1000 >/dev/null
must_wait 10 "node 1 holds stopped/held" bash -c "'$CLUSTER_SH' exec 1 '$CLI' --json show stopped/held | grep -q '\"node\":1'"

ok "$(cluster pause 1)"
# nothing comes back: one heartbeat queued, not one per 5 ms (before: 400 in 2 s)
hb0=$(st 1 .counters.heartbeats) || fail "status"
sleep 2
hb1=$(st 1 .counters.heartbeats) || fail "status"
check "at most one heartbeat queued in 2 s of the stop ($hb0 -> $hb1)" [ $((hb1 - hb0)) -le 1 ]
spawn 1 late "$CLI" acquire --wait 120 stopped/late -- sh -c 'echo "granted $(date +%s%N)"' >/dev/null
spawn 1 fill "${AS[@]}" "$CL_LOAD" -1 -p fill/ -n 2000 -W 2000 >/dev/null
must_wait 30 "coroleased logs that corosync does not read its socket" \
	grep -q "corosync does not read its IPC socket" "$LOG"
kill "$(daemon_pid 1 fill)" 2>/dev/null
t0=$(now_ms); c0=$(cpu); worst=0
while (( $(now_ms) < t0 + 6000 )); do
	a=$(now_ms)
	timeout 3 "$CLUSTER_SH" exec 1 "$CLI" status >/dev/null 2>&1 ||
		fail "corolease status got no answer within 3 s while corosync is stopped"
	b=$(now_ms); (( b - a > worst )) && worst=$((b - a))
	sleep 0.2
done
c1=$(cpu); t1=$(now_ms)
pct=$(( (c1 - c0) * 100000 / hz / (t1 - t0) ))
say "with corosync stopped: status answered in at most $worst ms; coroleased used $pct% of a CPU over $((t1 - t0)) ms"
check "coroleased used less than a third of a CPU ($pct%)" [ "$pct" -lt 33 ]
check "the lease asked for meanwhile is not granted yet" bash -c "! grep -q '^granted' '$CLUSTER_DIR/n1/late.log'"

# ---- clients keep coming and going: the backlog stays bounded
# (helper-74: before max_backlog_bytes, 150 s of this grew the daemon by 46 MB)
backlog() { local j; j=$(cl 1 --json status) && echo "$(jget "$j" .backlog_bytes) $(jget "$j" .backlog_msgs) $(jget "$j" .counters.backlog_refused)"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
rss0=$(rss)
for k in 1 2 3 4 5 6; do
	spawn 1 churn$k "${AS[@]}" "$CL_LOAD" -1 -p "churn$k/" -n 20000 -W 20000 >/dev/null
	sleep 1.5
	kill "$(daemon_pid 1 churn$k)" 2>/dev/null
	read -r bb bm br < <(backlog) || fail "status during the churn"
	say "churn $k: backlog $bb bytes in $bm messages, $br requests refused for it, rss $(rss) kB"
done
cost=$((bb + 256 * bm))
check "the backlog stays within max_backlog_bytes (1 MiB) and the releases of what was let in ($cost)" \
	[ "$cost" -lt $((2 * 1048576)) ]
check "requests past it were refused (counters.backlog_refused $br)" [ "$br" -gt 0 ]
say "coroleased's rss: $rss0 kB before the churn, $(rss) kB after"
# root's requests are not refused for it (an operator's fence-ack must go)
spawn 1 rootreq "$CL_LOAD" -1 -p rootreq/ -n 5 -W 5 >/dev/null
root_in() { local b m r; read -r b m r < <(backlog) && (( m >= bm + 5 )); }
must_wait 10 "root's five acquires joined the backlog" root_in
read -r _ _ br2 < <(backlog) || fail "status"
check "none was refused for it (counters.backlog_refused $br -> $br2)" [ "$br2" = "$br" ]

ok "$(cluster resume 1)"
must_wait 30 "the lease asked for during the stop is granted" grep -q '^granted' "$CLUSTER_DIR/n1/late.log"
must_wait 10 "coroleased logs that corosync takes its messages again" grep -q "corosync takes CPG messages again" "$LOG"
must_wait 30 "node 1 synced and quorate" synced 1
backlog_empty() { [[ $(st 1 .backlog_msgs) == 0 ]]; }
must_wait 30 "the backlog is delivered (0 messages left)" backlog_empty

# ---- stopped again: SIGTERM still ends the daemon
mark=$(wc -l <"$LOG")
ok "$(cluster pause 1)"
spawn 1 fill2 "${AS[@]}" "$CL_LOAD" -1 -p fill2/ -n 2000 -W 2000 >/dev/null
must_wait 30 "corosync does not read its socket again" \
	bash -c "tail -n +$((mark + 1)) '$LOG' | grep -q 'corosync does not read its IPC socket'"
kill -TERM "$pid"
must_wait 15 "coroleased (pid $pid) exits on SIGTERM while corosync is stopped" exited "$pid"
check "its log says it stopped" grep -q "coroleased stopped" "$LOG"
check "... without leaving the group" grep -q "not leaving group .* cleanly" "$LOG"
ok "$(cluster resume 1)"

# ---- corosync stopped just before SIGTERM: the shutdown guard
EXTRA_DAEMON_OPTS=()
start_daemon 1 d2
pid=$(daemon_pid 1 d2)
LOG=$CLUSTER_DIR/n1/d2.log
must_wait 30 "node 1's second coroleased synced" synced 1
spawn 1 v2 "$CL_VALID" stopped/v2 >/dev/null
must_wait 10 "a client of it holds stopped/v2" grep -q '^valid stopped/v2 1' "$CLUSTER_DIR/n1/v2.log"
ok "$(cluster pause 1)"
kill -TERM "$pid"
must_wait 15 "coroleased (pid $pid) exits on SIGTERM while corosync is stopped" exited "$pid"
check "its log says corosync did not answer at shutdown" \
	grep -q "corosync did not answer within 5 s at shutdown" "$LOG"
check "corosync's socket was not full (the guard, not the skip, ended it)" \
	bash -c "! grep -q 'corosync does not read its IPC socket' '$LOG'"
ok "$(cluster resume 1)"
it_pass
