#!/bin/bash
# t26 (breaker's t44). coroleased alone SIGSTOPped (corosync runs on) for 1, 2 and 3 s
# while a client on that node holds a lease and reads lease_valid() without
# ever dispatching (cl-valid -n), and a client on another node waits for
# the name (cl-valid -w).  Round 2 also cuts node 1 off for 1.5 s while its
# daemon is stopped.  Expected: the two clients are never valid at once
# (valid_overlaps), and the waiter gets the name in the end.
. "$(dirname "$0")/lib.sh"
it_init daemon-stop-waiter 30
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
it_up 3

logs=()
for r in 1 2 3; do
	name=ds/x$r
	spawn 1 h$r "$CL_VALID" -n "$name" >/dev/null
	must_wait 15 "round $r: node 1's client holds $name" grep -q "^valid $name 1" "$CLUSTER_DIR/n1/h$r.log"
	spawn 2 w$r "$CL_VALID" -w "$name" >/dev/null
	sleep 0.3
	pid=$(daemon_pid 1 "${DTAG:-coroleased}")
	kill -STOP "$pid"
	if ((r == 2)); then
		ok "$(cluster partition 1)"
		sleep 1.5
		ok "$(cluster heal 1)"
		sleep 0.5
	else
		sleep "$r"
	fi
	kill -CONT "$pid"
	ok "round $r: node 1's coroleased stopped for about $r s"
	must_wait 40 "round $r: node 2's waiter granted $name" grep -q "^granted $name" "$CLUSTER_DIR/n2/w$r.log"
	must_wait 30 "round $r: node 1 synced again" synced 1
	sleep 1
	logs+=(1:"$CLUSTER_DIR/n1/h$r.log" 2:"$CLUSTER_DIR/n2/w$r.log")
	say "round $r: node 1's client: $(grep -c '^valid' "$CLUSTER_DIR/n1/h$r.log") validity changes, last '$(grep '^valid' "$CLUSTER_DIR/n1/h$r.log" | tail -1)'"
done
for f in "$CLUSTER_DIR"/n*/h*.pid "$CLUSTER_DIR"/n*/w*.pid; do kill -TERM "$(awk '{print $1}' "$f")" 2>/dev/null; done
sleep 1
ov=$(valid_overlaps "${logs[@]}")
[[ -z $ov ]] || say "OVERLAP: $ov"
check "no name usable on two nodes at once" [ -z "$ov" ]
for i in 1 2 3; do
	check "node $i: no sanitizer report, abort or assertion in the daemon logs" \
		bash -c "! grep -q 'AddressSanitizer\|runtime error\|Assertion\|Aborted' '$CLUSTER_DIR'/n$i/coroleased*.log"
done
it_pass
