#!/bin/bash
# 71. (breaker, issue 8/9) coroleased runs SCHED_RR 50, so whatever CPU it
# spends on a member's requests is taken from every normal process on its
# CPU (they get what RT throttling leaves them: 5%).  A member of
# socket_group at nice 19 -- it gets next to no CPU of its own -- sends
# STATUS requests, each of which walks the replicated state (t85), and so
# turns a little of its own CPU into a whole CPU of realtime work.
# Here root holds NAMES (20,000) names (cl-load, as a deployment's users
# would); the daemon and a probe (a busy loop, SCHED_OTHER, nice 0) share
# one CPU (taskset: the measure then does not depend on where the
# scheduler puts them); the probe's CPU time over WIN (8) s is measured
# alone, during uid 61001's nice-19 STATUS flood (cl-brk mspin CONNS=16),
# and alone again.
# First seen (50,000 names, host at load ~20 from other work): the probe
# got 369 ticks in 10 s alone and 47 during the flood (13%), the daemon
# 804 ticks (80% of the CPU) for one nice-19 user.
# Passes when the probe keeps at least half of what it got alone (a daemon
# under the normal policy would share the CPU with it about equally) and
# the daemon spends at most half a CPU on that one user's requests.
# Not in TESTS: it measures CPU shares (a probe pinned next to the daemon), which other
# tests running alongside under make -j2 would disturb; run it alone.
. "$(dirname "$0")/lib.sh"
it_init rt-cpu-hog 71
CONNS=${CONNS:-16}
WIN=${WIN:-8}
command -v taskset >/dev/null || skip "taskset (util-linux) needed"
brk_up
[[ $(chrt -p "$d") == *SCHED_RR* ]] || skip "the daemon does not run SCHED_RR here: $(chrt -p "$d" | tr '\n' ' ')"
NAMES=${NAMES:-$([[ $san ]] && echo 5000 || echo 20000)}
hold_names 1 hog/ "$NAMES" 4

cpu=$(( $(nproc) - 1 ))
taskset -a -p -c "$cpu" "$d" >/dev/null || fail "cannot pin the daemon to CPU $cpu"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# probe: a nice-0 busy loop on the daemon's CPU; its CPU ticks over WIN s
probe() {
	local p a b
	taskset -c "$cpu" sh -c 'while :; do :; done' &
	p=$!
	sleep 0.3
	a=$(ticks "$p")
	sleep "$WIN"
	b=$(ticks "$p")
	kill "$p"; wait "$p" 2>/dev/null
	echo $((b - a))
}
alone1=$(probe)
say "probe alone on CPU $cpu: $alone1 ticks in $WIN s"
spawn 1 ms nice -n 19 "${AS[@]}" "$BRK" mspin "$CONNS" $((WIN + 6)) >/dev/null
must_wait 30 "uid 61001's STATUS flood connected" grep -q '^connections' "$CLUSTER_DIR/n1/ms.log"
sleep 1
d0=$(ticks "$d") t0=$(now_ms)
during=$(probe)
d1=$(ticks "$d") t1=$(now_ms)
dpct=$(( (d1 - d0) * 10 * 100 / (t1 - t0) ))
say "probe during uid 61001's nice-19 STATUS flood: $during ticks in $WIN s; the daemon: $((d1 - d0)) ticks ($dpct% of the CPU)"
must_wait $((WIN + 60)) "flooder done" grep -q '^mspin' "$CLUSTER_DIR/n1/ms.log"
say "flooder: $(tr '\n' ';' < "$CLUSTER_DIR/n1/ms.log")"
alone2=$(probe)
say "probe alone again: $alone2 ticks in $WIN s"
alone=$(( (alone1 + alone2) / 2 ))
((alone > 0)) || skip "the probe got no CPU at all alone (host too loaded)"
check "coroleased (pid $d) still running" alive "$d"
check "the probe kept at least half its CPU during the flood ($during of $alone ticks)" [ $((during * 2)) -ge "$alone" ]
check "the daemon spent at most half a CPU on one nice-19 user's requests (${dpct}%)" [ "$dpct" -le 50 ]
it_pass
