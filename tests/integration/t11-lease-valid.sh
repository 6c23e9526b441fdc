#!/bin/bash
# 11. corolease_lease_valid() without dispatch (issue 7, defect 4).  Clients
# on node 1 (cl-valid -n) hold leases and call corolease_lease_valid() in a
# tight loop, never dispatching; last1 is the CLOCK_BOOTTIME time (the
# daemon's clock) just before the last call that returned 1, so "last1 < R"
# means no call started after R said yes:
#  (a) a lease is evicted, by the client itself through a second connection
#      right after the grant, and by 'corolease evict' on node 2 while the
#      loop runs: no call started after the daemon cleared the hold's slot
#      (its debug log has the time) or after the evict was answered returns 1;
#  (b) one hold among several is evicted: it turns 0 at once, the others
#      stay 1;
#  (c) coroleased is SIGSTOPped: no call started after the page's last
#      deadline returns 1;
#  (d) coroleased is SIGKILLed (just after the client dispatched, as a
#      client does now and then): no call started after the daemon was gone
#      returns 1;
#  (e) a new coroleased starts on node 1: the old clients never read 1
#      again, the old incarnation's page is gone, and the new page is root's,
#      mode 0644, in a directory only root may write, and another local user
#      can neither write it nor add a file next to it;
#  (f) node 1 is cut off and comes back (its votequorum flaps) while another
#      client keeps a lease of node 1 renewed and node 2 takes the revoked
#      lease: the revoked lease stays invalid.
. "$(dirname "$0")/lib.sh"
it_init leasevalid 31
[[ -x $CL_VALID ]] || skip "cl-valid not built ($CL_VALID)"
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
it_up 3

vlog() { echo "$CLUSTER_DIR/n1/$1.log"; }
now_us() { "$CL_VALID" -t; }
# progress fields of client TAG's last progress line for NAME (default: TAG)
progress() { grep "^progress ${2:-$1} " "$(vlog "$1")" | tail -1; }
progress_at() { progress "$@" | sed 's/.* at \([0-9]*\)$/\1/'; }
last1() { progress "$@" | sed 's/.*last1=\([0-9]*\).*/\1/'; }
valid_now() { progress "$@" | sed 's/.*valid=\([01]\).*/\1/'; }
# progress_after TAG T [NAME]: the client's loop has logged progress at a time > T
progress_after() { local t; t=$(progress_at "$1" "${3:-$1}"); [[ -n $t ]] && ((t > $2)); }
# ones TAG [NAME]: how many times NAME turned valid in client TAG's log
ones() { grep -c "^valid ${2:-$1} 1 " "$(vlog "$1")"; }
# first0 TAG [NAME]: when NAME first read 0 after being 1, in the daemon's clock
first0() {
	awk -v n="${2:-$1}" '$1 == "clock" { b = $2; r = $3 }
		$1 == "valid" && $2 == n && $3 == 0 { printf "%.0f\n", b + ($4 - r) / 1000; exit }' "$(vlog "$1")"
}
# cleared_at DAEMONTAG NAME: when node 1's daemon cleared NAME's slot (its debug log)
cleared_at() {
	grep -o "hold of '$2' revoked, slot [0-9]* cleared at [0-9]* us" "$CLUSTER_DIR/n1/$1.log" 2>/dev/null |
		tail -1 | sed 's/.* at \([0-9]*\) us/\1/'
}
has_cleared() { [[ -n $(cleared_at "$1" "$2") ]]; }

# hold TAG [-e] NAME...: a cl-valid -n on node 1 holding NAME..., calling lease_valid()
hold() {
	local tag=$1; shift
	spawn 1 "$tag" "$CL_VALID" -n "$@" >/dev/null
	must_wait 30 "client $tag on node 1 holds ${*: -1} and calls lease_valid()" \
		grep -q "^progress ${*: -1} " "$(vlog "$tag")"
}

# dispatch TAG: client TAG dispatches once (and not again), as clients do now and then
dispatch() {
	local n; n=$(grep -c '^dispatched' "$(vlog "$1")")
	kill -USR1 "$(awk '{print $1}' "$CLUSTER_DIR/n1/$1.pid")"
	must_wait 10 "client $1 dispatched" bash -c "[ \$(grep -c '^dispatched' '$(vlog "$1")') -gt $n ]"
}

# settle TAG T [NAME]: wait until client TAG's loop has run 300 ms past T
settle() {
	must_wait 10 "client $1 kept calling lease_valid() for 300 ms after $2" \
		progress_after "$1" $(($2 + 300000)) "${3:-$1}"
}

# ---- (a) eviction ----
# cl-valid evicts its own lease through a second connection right after the
# grant: node 1 applies the EVICT and revokes the hold (clearing its slot)
# before it answers the evict, so not one call after the answer may say 1.
hold va -e va
E=$(awk '$1 == "evicted" && $2 == "va" && $3 == 1 { print $4 }' "$(vlog va)")
[[ -n $E ]] || fail "(a) client va did not evict va: $(cat "$(vlog va)")"
settle va "$E"
L1=$(last1 va)
check "(a) evict: no lease_valid() = 1 from a call started after the evict returned (last1 $L1 < evict answered $E)" [ "$L1" -lt "$E" ]
must_wait 5 "(a) node 1's daemon logged clearing va's slot" has_cleared coroleased va
R=$(cleared_at coroleased va)
check "(a) evict: the last 1 started before the daemon cleared the slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
say "(a) evict: daemon cleared va's slot at $R us, the evict was answered at $E us; last 1 at $L1 us (0: never)"

# The same with the loop running: 'corolease evict' from node 2, just after
# the client dispatched (as a client does now and then).
hold va2 va2
must_wait 10 "client va2 reads va2 valid" grep -q '^valid va2 1 ' "$(vlog va2)"
dispatch va2
t0=$(now_ms)
cl 2 evict va2 >/dev/null || fail "(a) corolease evict va2 on node 2"
say "(a) 'corolease evict va2' on node 2 took $(($(now_ms) - t0)) ms"
must_wait 10 "(a) node 1's daemon logged clearing va2's slot" has_cleared coroleased va2
R=$(cleared_at coroleased va2)
settle va2 "$R"
L1=$(last1 va2)
T0=$(first0 va2)
check "(a) evict: no lease_valid() = 1 from a call started after the daemon cleared va2's slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
say "(a) evict: daemon cleared va2's slot at $R us; the client read 0 from about $T0 us, last 1 at $L1 us ($((R - L1)) us before)"

# ---- (b) one hold among several ----
hold vm m1 m2 m3
must_wait 10 "client vm reads m1, m2 and m3 valid" \
	bash -c "for n in m1 m2 m3; do grep -q \"^valid \$n 1 \" '$(vlog vm)' || exit 1; done"
cl 2 evict m2 >/dev/null || fail "(b) corolease evict m2 on node 2"
must_wait 10 "(b) node 1's daemon logged clearing m2's slot" has_cleared coroleased m2
R=$(cleared_at coroleased m2)
settle vm "$R" m1
settle vm "$R" m2
settle vm "$R" m3
L1=$(last1 vm m2)
check "(b) the evicted m2: no 1 from a call started after its slot was cleared (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
check "(b) m1 and m3 still read 1 ($(valid_now vm m1), $(valid_now vm m3)), each turned 1 once ($(ones vm m1), $(ones vm m3))" \
	[ "$(valid_now vm m1)$(valid_now vm m3)$(ones vm m1)$(ones vm m3)" = 1111 ]
check "(b) m2 turned 1 once ($(ones vm m2)) and reads 0 now ($(valid_now vm m2))" \
	[ "$(ones vm m2)$(valid_now vm m2)" = 10 ]
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n1/vm.pid")"

# ---- (c) coroleased SIGSTOPped ----
# Its corosync runs on, so the node stays in the ring and its holds stay
# its own, but nothing renews the page: every lease reads 0 once the last
# deadline it published has passed, with no hang-up for the client to see.
hold vs vs
must_wait 10 "client vs reads vs valid" grep -q '^valid vs 1 ' "$(vlog vs)"
pid=$(daemon_pid 1)
page=$(cluster exec 1 sh -c 'ls -d /run/corolease/validity.*')
kill -STOP "$pid"
# the deadline as the stopped daemon left it: valid_until, at offset 16 of the page
D=$(cluster exec 1 od -An -t u8 -j 16 -N 8 "$page" | tr -d ' ')
[[ -n $D && $D != 0 ]] || { kill -CONT "$pid"; fail "(c) no validity deadline in node 1's page ($page)"; }
settle vs "$D"
kill -CONT "$pid"
L1=$(last1 vs)
check "(c) SIGSTOP: no lease_valid() = 1 from a call started after the last deadline (last1 $L1 < $D)" [ "$L1" -lt "$D" ]
say "(c) SIGSTOP: last deadline $D us; vs read 0 from about $(first0 vs) us, last 1 at $L1 us"
must_wait 10 "(c) after SIGCONT node 1 is synced again" synced 1
kill -TERM "$(awk '{print $1}' "$CLUSTER_DIR/n1/vs.pid")"

# ---- (d) coroleased SIGKILLed ----
hold vb vb
must_wait 10 "client vb reads vb valid" grep -q '^valid vb 1 ' "$(vlog vb)"
dispatch vb   # its last news from the daemon, just before the crash
out=$("$CL_VALID" -K "$(daemon_pid 1)") || fail "cl-valid -K"
ok "$out"
read -r _ _ _ K _ _ _ G <<<"${out//../ }"   # killed PID at B0..B1 gone at B2
settle vb "$G"
L1=$(last1 vb)
check "(d) kill -9: no lease_valid() = 1 from a call started after the daemon was gone (last1 $L1 < gone $G)" [ "$L1" -lt "$G" ]
say "(d) kill -9: kill() at $K us, daemon gone at $G us; the client read 0 from about $(first0 vb) us, last 1 at $L1 us"

# ---- (e) a new coroleased ----
start_daemon 1 coroleased-r
must_wait 30 "(e) the new coroleased on node 1 is synced" synced 1
hold vc vc   # a client of the new daemon: its page is live
must_wait 10 "client vc of the new daemon reads vc valid" grep -q '^valid vc 1 ' "$(vlog vc)"
N=$(now_us)
settle va2 "$N"
settle vb "$N"
check "(e) client va never read 1 ($(ones va) '1' line)" [ "$(ones va)" = 0 ]
check "(e) client va2 read 1 only before its eviction ($(ones va2) '1' line)" [ "$(ones va2)" = 1 ]
check "(e) client vb read 1 only before the crash ($(ones vb) '1' line)" [ "$(ones vb)" = 1 ]
check "(e) client vb's last 1 is still before the crash ($(last1 vb) < $G)" [ "$(last1 vb)" -lt "$G" ]
pages=$(cluster exec 1 sh -c 'ls /run/corolease | grep -c "^validity\."')
check "(e) node 1's run dir has one validity page, the new incarnation's (found $pages)" [ "$pages" = 1 ]
check "(e) the new daemon retired the old incarnation's page" grep -q 'retired 1 validity page' "$CLUSTER_DIR/n1/coroleased-r.log"
page=$(cluster exec 1 sh -c 'ls -d /run/corolease/validity.*')
modes=$(cluster exec 1 stat -c '%a %u' /run/corolease "$page" | tr '\n' ' ')
check "(e) run dir and page: mode and owner '$modes' = '755 0 644 0 '" [ "$modes" = "755 0 644 0 " ]
if command -v setpriv >/dev/null; then
	as_nobody() { cluster exec 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$@" 2>/dev/null; }
	not() { ! "$@"; }
	check "(e) user nobody can read the page" as_nobody sh -c "head -c 8 '$page' >/dev/null"
	check "(e) user nobody cannot open the page for writing" not as_nobody sh -c "exec 3<>'$page'"
	check "(e) user nobody cannot add a file to the run dir" \
		not as_nobody sh -c "exec 3>/run/corolease/validity.0000000000000001"
	check "(e) client vc still reads vc valid ($(valid_now vc))" [ "$(valid_now vc)" = 1 ]
else
	say "(e) no setpriv: the hostile-user checks are skipped"
fi

# ---- (f) node 1's votequorum flaps; another lease of node 1 is renewed ----
hold vd x
must_wait 10 "client vd reads x valid" grep -q '^valid x 1 ' "$(vlog vd)"
spawn 1 holdy "$CL_LOAD" -v -x y >/dev/null
must_wait 15 "(f) cl-load on node 1 holds y" grep -q '^all held 1' "$(vlog holdy)"
ok "$(cluster partition 1)"
must_wait 15 "(f) node 1's daemon revoked x (slot cleared)" has_cleared coroleased-r x
R=$(cleared_at coroleased-r x)
ok "$(cluster heal 1)"
must_wait 30 "(f) node 1 is back: synced and quorate" synced 1
must_wait 30 "(f) cl-load on node 1 holds y again (its lease renewed since)" bash -c "[ \$(grep -c '^granted y' '$(vlog holdy)') -ge 2 ]"
must_wait 10 "(f) node 1's validity runs again" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"valid_ms\":[0-9]*' | cut -d: -f2)\" -gt 0 ]"
cl 2 acquire x --wait 30 -- true || fail "(f) node 2 cannot take x"
X=$(now_us)
ok "(f) node 2 got x and released it"
settle vd "$X" x
L1=$(last1 vd x)
check "(f) client vd read 1 only before its revoke ($(ones vd x) '1' line)" [ "$(ones vd x)" = 1 ]
check "(f) vd's last 1 started before the daemon cleared x's slot (last1 $L1 < $R)" [ "$L1" -lt "$R" ]
say "(f) flap: slot of x cleared at $R us; vd read 0 from about $(first0 vd x) us, never 1 again while y was renewed and node 2 took x"

quiesce
must_wait 30 "state hashes equal on nodes 1-3" hashes_equal 1 2 3
it_pass
