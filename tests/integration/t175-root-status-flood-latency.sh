#!/bin/bash
# 175. (breaker, 32 requests a round for root; t171 with STATUS)
# Defaults here: 200 root connections, STATUS (no cluster message: what
# the loop round costs is the reading alone).  At e4825ec (4 a round) root's
# lone OWNER waits one round of 200 x 4 requests; at 29891dc one of 200 x 32. Root keeps CONNS connections
# each with 32 requests outstanding (cl-brk mspin; REQ=sync: every request a
# SYNC, a cluster message, so the batch hold and the CPG send path are busy
# too; REQ=status: STATUS).  Root's connections are now read 32 requests
# per poll round (CLD_REQS_PER_WAKE), eight times the 4 of before, so one
# round of the loop serves up to CONNS*32 requests before the daemon's
# corosync fds, timers and other users' connections get their turn.
# During the flood: root's and an unprivileged user's OWNER round trips
# (a lookup that costs nothing: the time is the wait for the loop), and the
# validity page sampled every few ms (cl-brk page).  Passes when both
# medians are under 100 ms, everyone got every answer, and the node's
# validity never expired.  NAMES: names (each with one index key) created
# first (cl-flood names, as in t84) to make STATUS's walk of the state long.
. "$(dirname "$0")/lib.sh"
# cnt FIELD: a counter of node 1 (0 when this build has none)
cnt() { local v; v=$(st 1 "$1"); [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0; }
it_init root-status-flood 175
CONNS=${CONNS:-200}
SECS=${SECS:-15}
REQ=${REQ:-status}
NAMES=${NAMES:-0}
brk_up
if ((NAMES)); then
	t0=$(now_ms)
	cluster exec 1 "$CL_FLOOD" names brk/ "$NAMES" >/dev/null 2>&1
	say "created $NAMES names with an index key in $(( $(now_ms) - t0 )) ms; records: $(st 1 .counts.records 2>/dev/null || st 1 .records)"
fi
log=$CLUSTER_DIR/n1/coroleased.log
flood_lock
say "idle: root $(cluster exec 1 "$BRK" rtt 20 20 it/x); user $(cluster exec 1 "${AS[@]}" "$BRK" rtt 20 20 it/x)"
l0=$(wc -l <"$log")
h0=$(cnt .counters.cpg_batches_held); m0=$(cnt .counters.cpg_msgs)
spawn 1 ms env BRK_REQ="$REQ" BRK_DEPTH=32 "$BRK" mspin "$CONNS" "$SECS" >/dev/null
spawn 1 pg "$BRK" page "$SECS" >/dev/null
sleep 3
spawn 1 rr "$BRK" rtt 40 100 it/x >/dev/null
spawn 1 ru "${AS[@]}" "$BRK" rtt 40 100 it/x >/dev/null
must_wait $((SECS + 60)) "root's rtt done" grep -q '^rtt' "$CLUSTER_DIR/n1/rr.log"
must_wait $((SECS + 60)) "user's rtt done" grep -q '^rtt' "$CLUSTER_DIR/n1/ru.log"
rr=$(cat "$CLUSTER_DIR/n1/rr.log"); ru=$(cat "$CLUSTER_DIR/n1/ru.log")
say "during the flood ($CONNS root connections x 32 $REQ): root $rr"
say "during the flood: user $ru"
pgworst=$(flood_page_worst 1 ms pg "$SECS")
flood_unlock
say "CPG messages $(( $(cnt .counters.cpg_msgs) - m0 )), batches held $(( $(cnt .counters.cpg_batches_held) - h0 )), mcast_bytes $(cnt .counters.mcast_bytes)"
tail -n +"$l0" "$log" | grep -iE 'warning|lapsed|expired|revok|quorum' | head -5 | sed 's/^/    /'
mr=$(field median "$rr"); mu=$(field median "$ru")
check "coroleased (pid $d) still running" alive "$d"
check "root's OWNER round trips all answered" bash -c "! grep -q unanswered <<<'$rr'"
check "the user's OWNER round trips all answered" bash -c "! grep -q unanswered <<<'$ru'"
check "root's median OWNER RTT under 100 ms during the flood (got ${mr:-none})" awk -v m="${mr:-999999}" 'BEGIN { exit !(m < 100) }'
check "the user's median OWNER RTT under 100 ms during the flood (got ${mu:-none})" awk -v m="${mu:-999999}" 'BEGIN { exit !(m < 100) }'
check "the node's validity never expired during the flood (longest ${pgworst:-?} ms)" [ "${pgworst:-1}" = 0 ]
it_pass
