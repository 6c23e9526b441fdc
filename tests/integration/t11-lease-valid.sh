#!/bin/bash
# 11. corolease_lease_valid() without dispatch (issue 7, defect 4).  Clients
# on node 1 (cl-valid) hold a lease each and call corolease_lease_valid() in
# a tight loop, never dispatching, logging every change with CLOCK_BOOTTIME
# times and the start of the last call that returned 1 (last1):
#  (a) the lease is evicted, by corolease_evict() from a second connection of
#      the client right after the grant, and by 'corolease evict' on node 2
#      while the loop runs: no call started after the evict was answered, or
#      after the daemon cleared the lease's slot (its debug log has the
#      time), returns 1;
#  (b) coroleased is SIGKILLed (just after the client dispatched, as a
#      client does now and then): no call started after the daemon was gone
#      returns 1;
#  (c) a new coroleased starts on node 1: the old clients never read 1 again,
#      and the old incarnation's page is gone;
#  (d) node 1 is cut off and comes back (its votequorum flaps) while another
#      client keeps a lease of node 1 renewed and node 2 takes the revoked
#      lease: the revoked lease stays invalid.
. "$(dirname "$0")/lib.sh"
it_init leasevalid 31
CL_VALID=$IT_BUILD/tests/integration/cl-valid
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
it_up 3

vlog() { echo "$CLUSTER_DIR/n1/$1.log"; }
now_us() { "$CL_VALID" now; }
progress_at() { grep '^progress' "$1" | tail -1 | sed 's/.* at \([0-9]*\)$/\1/'; }
# progress_after LOG T: the client's loop has logged progress at a time > T
progress_after() { local t; t=$(progress_at "$1"); [[ -n $t ]] && ((t > $2)); }
last1() { grep '^progress' "$1" | tail -1 | sed 's/.*last1=\([0-9]*\).*/\1/'; }
# first_at LOG 'valid 0': the time of the first such line
first_at() { grep "^$2 at " "$1" | head -1 | sed 's/^.* at \([0-9]*\) .*/\1/'; }
# cleared_at DAEMONTAG NAME: when node 1's daemon cleared NAME's slot (its debug log)
cleared_at() {
	grep -o "hold of '$2' revoked, slot [0-9]* cleared at [0-9]* us" "$CLUSTER_DIR/n1/$1.log" 2>/dev/null |
		tail -1 | sed 's/.* at \([0-9]*\) us/\1/'
}
has_cleared() { [[ -n $(cleared_at "$1" "$2") ]]; }

# hold TAG NAME [-e]: a cl-valid on node 1 holding NAME, reading it valid (-e: evicted at once)
hold() {
	spawn 1 "$1" "$CL_VALID" hold "$2" ${3:-} >/dev/null
	must_wait 30 "client $1 on node 1 holds $2 and called lease_valid()" grep -q '^valid ' "$(vlog "$1")"
}

# dispatch TAG: client TAG dispatches once (and not again), as clients do now and then
dispatch() {
	local n; n=$(grep -c '^dispatched' "$(vlog "$1")")
	kill -USR1 "$(cat "$CLUSTER_DIR/n1/$1.pid" | awk '{print $1}')"
	must_wait 10 "client $1 dispatched" bash -c "[ \$(grep -c '^dispatched' '$(vlog "$1")') -gt $n ]"
}

# settle TAG T: wait until client TAG's loop has run 300 ms past T
settle() {
	must_wait 10 "client $1 kept calling lease_valid() for 300 ms after $2" progress_after "$(vlog "$1")" $(($2 + 300000))
}

# ---- (a) eviction ----
# cl-valid evicts its own lease through a second connection right after the
# grant: node 1 applies the EVICT and revokes the hold (clearing its slot)
# before it answers the evict, so not one call after the answer may say 1.
hold va va -e
E=$(grep '^evicted va count 1 at' "$(vlog va)" | sed 's/.* at //')
[[ -n $E ]] || fail "(a) client va did not evict va: $(cat "$(vlog va)")"
settle va "$E"
L1=$(last1 "$(vlog va)")
check "(a) evict: no lease_valid() = 1 from a call started after the evict returned (last1 $L1 < evict answered $E)" [ "$L1" -lt "$E" ]
must_wait 5 "(a) node 1's daemon logged clearing va's slot" has_cleared coroleased va
R=$(cleared_at coroleased va)
T0=$(first_at "$(vlog va)" 'valid 0')
check "(a) evict: the last 1 started before the daemon cleared the slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
if [[ $L1 == 0 ]]; then
	say "(a) evict: daemon cleared va's slot at $R us, before the client's first call at $T0 us: it never read 1"
else
	say "(a) evict: daemon cleared va's slot at $R us; the client read 0 from $T0 us (+$((T0 - R)) us), last 1 at $L1 us ($((R - L1)) us before)"
fi

# The same with the loop running: 'corolease evict' from node 2, just after
# the client dispatched (as a client does now and then).
hold va2 va2
must_wait 10 "client va2 reads va2 valid" grep -q '^valid 1' "$(vlog va2)"
dispatch va2
t0=$(now_ms)
cl 2 evict va2 >/dev/null || fail "(a) corolease evict va2 on node 2"
say "(a) 'corolease evict va2' on node 2 took $(($(now_ms) - t0)) ms"
must_wait 10 "(a) node 1's daemon logged clearing va2's slot" has_cleared coroleased va2
R=$(cleared_at coroleased va2)
settle va2 "$R"
L1=$(last1 "$(vlog va2)")
T0=$(first_at "$(vlog va2)" 'valid 0')
check "(a) evict: no lease_valid() = 1 from a call started after the daemon cleared va2's slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
say "(a) evict: daemon cleared va2's slot at $R us; the client read 0 from $T0 us (+$((T0 - R)) us), last 1 at $L1 us ($((R - L1)) us before)"

# ---- (b) coroleased SIGKILLed ----
hold vb vb
must_wait 10 "client vb reads vb valid" grep -q '^valid 1' "$(vlog vb)"
dispatch vb   # its last news from the daemon, just before the crash
pid=$(daemon_pid 1)
out=$("$CL_VALID" kill "$pid") || fail "cl-valid kill $pid"
ok "$out"
read -r _ _ _ K _ _ _ G <<<"${out//../ }"   # killed PID at T0..T1 gone at T2
settle vb "$G"
L1=$(last1 "$(vlog vb)")
T0=$(first_at "$(vlog vb)" 'valid 0')
check "(b) kill -9: no lease_valid() = 1 from a call started after the daemon was gone (last1 $L1 < gone $G)" [ "$L1" -lt "$G" ]
say "(b) kill -9: kill() at $K us, daemon gone at $G us; the client read 0 from $T0 us (+$(((T0 - K))) us after kill()), last 1 at $L1 us"

# ---- (c) a new coroleased ----
start_daemon 1 coroleased-r
must_wait 30 "(c) the new coroleased on node 1 is synced" synced 1
hold vc vc   # a client of the new daemon: its page is live
must_wait 10 "client vc of the new daemon reads vc valid" grep -q '^valid 1' "$(vlog vc)"
N=$(now_us)
settle va2 "$N"
settle vb "$N"
check "(c) client va never read 1 ($(grep -c '^valid 1' "$(vlog va)") '1' line)" [ "$(grep -c '^valid 1' "$(vlog va)")" = 0 ]
check "(c) client va2 read 1 only before its eviction ($(grep -c '^valid 1' "$(vlog va2)") '1' line)" [ "$(grep -c '^valid 1' "$(vlog va2)")" = 1 ]
check "(c) client vb read 1 only before the crash ($(grep -c '^valid 1' "$(vlog vb)") '1' line)" [ "$(grep -c '^valid 1' "$(vlog vb)")" = 1 ]
check "(c) client vb's last 1 is still before the crash ($(last1 "$(vlog vb)") < $G)" [ "$(last1 "$(vlog vb)")" -lt "$G" ]
pages=$(cluster exec 1 sh -c 'ls /run/corolease | grep -c "^validity\."')
check "(c) node 1's run dir has one validity page, the new incarnation's (found $pages)" [ "$pages" = 1 ]
check "(c) the new daemon retired the old incarnation's page" grep -q 'retired 1 validity page' "$CLUSTER_DIR/n1/coroleased-r.log"

# ---- (d) node 1's votequorum flaps; another lease of node 1 is renewed ----
hold vd x
must_wait 10 "client vd reads x valid" grep -q '^valid 1' "$(vlog vd)"
spawn 1 holdy "$CL_LOAD" -v -x y >/dev/null
must_wait 15 "(d) cl-load on node 1 holds y" grep -q '^all held 1' "$(vlog holdy)"
ok "$(cluster partition 1)"
must_wait 15 "(d) node 1's daemon revoked x (slot cleared)" has_cleared coroleased-r x
R=$(cleared_at coroleased-r x)
ok "$(cluster heal 1)"
must_wait 30 "(d) node 1 is back: synced and quorate" synced 1
must_wait 30 "(d) cl-load on node 1 holds y again (its lease renewed since)" bash -c "[ \$(grep -c '^granted y' '$(vlog holdy)') -ge 2 ]"
must_wait 10 "(d) node 1's validity runs again" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"valid_ms\":[0-9]*' | cut -d: -f2)\" -gt 0 ]"
cl 2 acquire x --wait 30 -- true || fail "(d) node 2 cannot take x"
X=$(now_us)
ok "(d) node 2 got x and released it"
settle vd "$X"
L1=$(last1 "$(vlog vd)")
check "(d) client vd read 1 only before its revoke ($(grep -c '^valid 1' "$(vlog vd)") '1' line)" [ "$(grep -c '^valid 1' "$(vlog vd)")" = 1 ]
check "(d) vd's last 1 started before the daemon cleared x's slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
T0=$(first_at "$(vlog vd)" 'valid 0')
say "(d) flap: slot of x cleared at $R us; vd read 0 from $T0 us (+$(((T0 - R))) us), never 1 again while y was renewed and node 2 took x"

quiesce
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
