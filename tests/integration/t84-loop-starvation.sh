#!/bin/bash
# 84. (breaker) One socket_group member keeps CONNS connections each with 32
# STATUS requests outstanding (it reads the answers, so no queue cap ever
# hits).  The daemon serves every ready connection up to 32 requests per
# wakeup, all at QB_LOOP_HIGH like its corosync fds and its own timers, and
# STATUS walks the whole replicated state (cl_sm_hash) each time.  NAMES
# names (each with one index key) are created first to make the state as
# large as a user may.  Root's STATUS round trip (raw socket) and the gaps
# between the daemon's 'validity until' refreshes (every ~250 ms) are
# measured during the flood.  Passes when root's median RTT < 100 ms and no
# moment of expired validity in the page (sampled every 5 ms by a reader).
. "$(dirname "$0")/lib.sh"
it_init loop-starve 84
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
CONNS=${CONNS:-500}
NAMES=${NAMES:-0}
SECS=${SECS:-20}
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
if ((NAMES)); then
	t0=$(now_ms)
	cluster exec 1 "${AS[@]}" "$CL_FLOOD" names brk/ "$NAMES" >/dev/null 2>&1
	say "created $NAMES names with an index key in $(( $(now_ms) - t0 )) ms; records: $(st 1 .counts.records 2>/dev/null || st 1 .records)"
fi
flood_lock
say "idle: $(cluster exec 1 "$BRK" rtt 20 50); $(cluster exec 1 "${AS[@]}" "$BRK" page 3); run dir: $(cluster exec 1 ls /run/corolease | tr "\n" " ")"
log=$CLUSTER_DIR/n1/coroleased.log
l0=$(wc -l < "$log")
spawn 1 ms "${AS[@]}" "$BRK" mspin "$CONNS" "$SECS" >/dev/null
spawn 1 pg "${AS[@]}" "$BRK" page "$SECS" >/dev/null
sleep 3
r=$(cluster exec 1 "$BRK" rtt 20 200)
say "during the flood: $r"
pgworst=$(flood_page_worst 1 ms pg "$SECS")
gap=$(tail -n +"$l0" "$log" | awk '/validity until/ { split($3, t, ":"); s = t[1]*3600 + t[2]*60 + t[3]; if (p && s - p > g) g = s - p; p = s } END { print g + 0 }')
say "longest gap between 'validity until' log lines during the flood: ${gap} s (1 s granularity)"
tail -n +"$l0" "$log" | grep -iE 'warning|lost|expired|revok|quorum' | head -5 | sed 's/^/    /'
flood_unlock
med=$(sed -n 's/.*median \([0-9.]*\).*/\1/p' <<<"$r")
check "coroleased (pid $d) still running" alive "$d"
check "root's median STATUS RTT under 100 ms during the flood (got ${med:-none})" awk -v m="${med:-999999}" 'BEGIN { exit !(m < 100) }'
check "the node's validity never expired during the flood (longest ${pgworst:-?} ms)" [ "${pgworst:-1}" = 0 ]
it_pass
