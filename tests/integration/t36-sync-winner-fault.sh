#!/bin/bash
# 36. A fault hits the sync winner while it sends its snapshot (issue 9's
# streamed snapshot, and own sync messages renewing validity: 3a897ee).
# Node 1 holds BIG leases (cl-load) and client A holds stall/a1; node 2's
# client W waits for it.  coroleased starts on node 3: a join round whose
# winner is node 1 (equal states, lowest id), which streams a snapshot of
# many chunks.  FAULT hits node 1 (default fastpause: its corosync SIGSTOPped
# the moment its daemon logs the round's decision, so mid-transfer; pause,
# partition, dstop-partition (its coroleased stopped, then cut off),
# fastdstop-partition) until the majority {2,3} formed a ring, plus
# EXTRA_MS; then undone.  With the default 20,000 leases the transfer is
# often over when the fault lands (the log says how many 'synced' lines node
# 3 had); BIG=150000 lands it mid-transfer.  Checked:
#  - stall/a1 never usable on node 1 (A) and node 2 (W) at once;
#  - every deadline node 1 announces from the fault until it is back in a
#    3-node ring is at most the fault's start + validity;
#  - the three states agree afterwards.
# Written by a breaker (helper-54), which ran it 12 times with 40,000 to
# 150,000 leases and every FAULT: no overlap, every deadline in bound.
#   IT_INSTANCE=62 FAULT=partition BIG=40000 bash t36-sync-winner-fault.sh
. "$(dirname "$0")/lib.sh"
it_init sync-winner-fault 38
[[ -x $CL_VALID && -x $CL_LOAD ]] || skip "cl-valid/cl-load not built"
FAULT=${FAULT:-fastpause}
BIG=${BIG:-20000}
NLOAD=${NLOAD:-4}
EXTRA_MS=${EXTRA_MS:-0}
DELAY_MS=${DELAY_MS:-0}
PER=$((BIG / NLOAD))
EXTRA_DAEMON_OPTS=(-o handover_timeout_ms=60000 -o max_leases_per_client=$((PER + 1000))
	-o max_client_holds=$((BIG + 1000)) -o max_client_holds_per_uid=$((BIG + 1000))
	-o max_pending_per_client=1000)
it_up 3 3

for ((c = 0; c < NLOAD; c++)); do
	spawn 1 load$c "$CL_LOAD" -p "big/$c/" -n "$PER" -W 500 >/dev/null
done
all_loaded() { [ "$(grep -l "^all held $PER" "$CLUSTER_DIR"/n1/load*.log | wc -l)" = "$NLOAD" ]; }
must_wait 300 "node 1 holds $BIG leases" all_loaded
holder_and_waiter 1 2 stall/a1
LOG1=$CLUSTER_DIR/n1/coroleased.log
LOG2=$CLUSTER_DIR/n2/coroleased.log
mark1=$(wc -l <"$LOG1")
mark2=$(wc -l <"$LOG2")

if [[ $FAULT == fastdstop-partition ]]; then
	# SIGSTOP node 1's coroleased the moment it logs the round's decision, then cut node 1 off
	dpid1=$(daemon_pid 1)
	( tail -n 0 -F "$LOG1" 2>/dev/null | grep -m 1 -q "state wins"; kill -STOP "$dpid1"
	  "$CLUSTER_SH" partition 1 >"$CLUSTER_DIR/fastpause" ) &
fi
if [[ $FAULT == fastpause ]]; then
	# SIGSTOP node 1's corosync the moment its coroleased logs the round's decision
	cpid1=$(awk '{print $1}' "$CLUSTER_DIR/n1/corosync.pid")
	( tail -n 0 -F "$LOG1" 2>/dev/null | grep -m 1 -q "state wins"; kill -STOP "$cpid1"
	  echo "paused node 1 pid $cpid1 at $(date +%s.%N)" >"$CLUSTER_DIR/fastpause" ) &
fi
start_daemon 3
decided() { tail -n +$((mark1 + 1)) "$LOG1" | grep -q "state wins"; }
if [[ $FAULT == fastpause || $FAULT == fastdstop-partition ]]; then
	:
elif [[ -n ${START_DELAY_MS:-} ]]; then
	sleep "$(printf '%d.%03d' $((START_DELAY_MS / 1000)) $((START_DELAY_MS % 1000)))"
else
	wait_until 30 decided || fail "node 1 never decided the join round"
fi
((DELAY_MS > 0)) && sleep "$(printf '%d.%03d' $((DELAY_MS / 1000)) $((DELAY_MS % 1000)))"
case $FAULT in
fastpause|fastdstop-partition) wait_until 30 test -s "$CLUSTER_DIR/fastpause" || fail "fastpause did not fire"; out=$(cat "$CLUSTER_DIR/fastpause") ;;
pause) out=$(cluster pause 1) ;;
partition) out=$(cluster partition 1) ;;
dstop-partition)
	kill -STOP "$(daemon_pid 1)"
	out=$(cluster partition 1) ;;
*) fail "FAULT pause|fastpause|partition|dstop-partition|fastdstop-partition" ;;
esac
ok "$out"
tp_ns=$(awk '{print $NF}' <<<"$out" | tr -d .)
tp_ns=${tp_ns:0:19}
tp=${tp_ns:0:13}
say "node 3 at the fault: $(grep -c 'synced with the cluster' "$CLUSTER_DIR/n3/coroleased.log") 'synced' lines; node 1 decided: $(decided && echo yes || echo no)"
must_wait 30 "the majority formed a ring without node 1" \
	bash -c "tail -n +$((mark2 + 1)) '$LOG2' | grep -q 'totem confchg: .*, 2 nodes'"
((EXTRA_MS > 0)) && sleep "$(printf '%d.%03d' $((EXTRA_MS / 1000)) $((EXTRA_MS % 1000)))"
case $FAULT in
pause|fastpause) out=$(cluster resume 1) ;;
partition) out=$(cluster heal 1) ;;
dstop-partition|fastdstop-partition)
	must_wait 60 "node 2's client W may use stall/a1 (node 1's daemon stopped, cut off)" grep -q '^valid stall/a1 1' "$CLUSTER_DIR/n2/w.log"
	kill -CONT "$(daemon_pid 1)"
	sleep 2
	out=$(cluster heal 1) ;;
esac
ok "$out"
t_end=$(awk '{print $NF}' <<<"$out" | tr -d . | cut -c1-13)
say "node 1's $FAULT lasted $((t_end - tp)) ms (token $TOKEN ms)"
must_wait 60 "node 2's client W may use stall/a1" grep -q '^valid stall/a1 1' "$CLUSTER_DIR/n2/w.log"
read -r _ _ _ tw < <(grep '^granted stall/a1' "$CLUSTER_DIR/n2/w.log")
say "node 2 granted stall/a1 $(( ${tw:0:13} - tp )) ms after the fault began (fence delay $FENCE_MS ms)"
must_wait 120 "node 1 back in a 3-node ring" \
	bash -c "tail -n +$((mark1 + 1)) '$LOG1' | grep -q 'totem confchg: .* 3 nodes'"
say "node 1's client A: $(grep -E '^(revoked|valid)' "$CLUSTER_DIR/n1/a.log" | tr '\n' ';')"
ov=$(valid_overlaps 1:"$CLUSTER_DIR/n1/a.log" 2:"$CLUSTER_DIR/n2/w.log")
check "stall/a1 never usable on node 1 and node 2 at once${ov:+: $ov}" [ -z "$ov" ]

tp_boot=$(( (tp_ns / 1000) - (real0 / 1000 - boot0) ))
bound=$((tp_boot + VALIDITY_MS * 1000))
say "node 1: $(tail -n +"$((mark1 + 1))" "$LOG1" | grep -c 'validity lapsed') 'validity lapsed' after the join began"
deadlines_within "$LOG1" "$mark1" "$bound" "node 1's fault"
quiesce
must_wait 120 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
