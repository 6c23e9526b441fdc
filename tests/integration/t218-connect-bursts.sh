#!/bin/bash
# 218. (helper-102) Bursts of connections of one user.  The daemon refuses a
# connection beyond max_handshakes_per_uid (here 2) with EAGAIN before its
# HELLO.  (a) 40 `corolease status` of one user at once: the library takes
# that EAGAIN as "try again" (a pause of 1 ms doubling to 50 ms, within the
# connect's 10 s), so every call succeeds while the counter shows refusals
# did happen (before: 11 to 21 of 40 failed with "Resource temporarily
# unavailable").  (b) A user over its share of the realtime budget (its own
# 300 busy connections) opens 40 raw connections at once, each sending its
# HELLO before reading: they wait out of the backlog for the window's end,
# and a later window once the user's connections made before have not said
# HELLO yet; every one is made (before: all were made at the window's end
# at once, and all but max_handshakes_per_uid refused: 8 of 40 made, with
# the default of 8).
. "$(dirname "$0")/lib.sh"
it_init connect-bursts 218
# a deferred connection waits at most handshake_timeout_ms (then EAGAIN):
# 40 at 2 a window take about 2 s, the default
EXTRA_DAEMON_OPTS=(-o max_handshakes_per_uid=2 -o handshake_timeout_ms=10000)
brk_up
AS2=(setpriv --reuid=61002 --regid=100 --clear-groups)

# par N: N `corolease status` of uid 61002 at once; "FAILED of N: errors"
par() {
	local dir=$CLUSTER_DIR/par
	rm -rf "$dir"; mkdir -p "$dir"; chmod 777 "$dir"
	cluster exec 1 bash -c 'for k in $(seq '"$1"'); do ( '"${AS2[*]}"' '"$CLI"' status >/dev/null 2>'"$dir"'/err.$k; echo $? >'"$dir"'/rc.$k ) & done; wait'
	echo "$(cat "$dir"/rc.* | grep -vc '^0$') of $(ls "$dir"/rc.* | wc -l): $(sort "$dir"/err.* | uniq -c | head -3 | tr '\n' ' ')"
}
say "---- (a) 40 corolease status of one user at once, max_handshakes_per_uid=2"
fails=0 seen=0
for round in 1 2 3; do
	d0=$(st 1 .counters.handshakes_dropped)
	out=$(par 40)
	d1=$(st 1 .counters.handshakes_dropped)
	say "round $round: failed $out; connections refused before their HELLO meanwhile: $((d1 - d0))"
	fails=$((fails + ${out%% *}))
	seen=$((seen + d1 - d0))
done
check "every corolease status succeeded (failures: $fails)" [ "$fails" = 0 ]
check "the daemon refused some of them first (EAGAIN, $seen), so the library's retry was what made them" [ "$seen" -gt 0 ]

say "---- (b) a user over its share opens 40 connections at once"
# the flood under SCHED_RR, so that a loaded host (stress-ng --cpu 8) does not
# keep it from spending the budget: a burst of a user under its share is not
# deferred, and beyond the limit it is refused (a client's to try again)
spawn 1 ms chrt -r 10 setpriv --reuid=61001 --regid=100 --clear-groups env BRK_REQ=status BRK_DEPTH=32 "$BRK" mspin 300 30 >/dev/null
must_wait 20 "the flood of uid 61001 spent the realtime budget" bash -c "[ \$('$CLUSTER_SH' exec 1 '$CLI' --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counters\"][\"realtime_budget_spent\"])') -gt 5 ]"
# A round counts when the user stayed over its share: its connections were
# then deferred, and none refused at the handshake limit (handshakes_dropped
# unchanged).  Under its share for a moment (the flood's windows vary with
# the load: the clean-clone CI of 22115ce, two rounds of 17 and 10 made,
# the rest refused at the limit), the burst is not what this checks, and the
# round is done again; at most 8, and 3 must count.
made=0 bad=0 counted=0
for round in 1 2 3 4 5 6 7 8; do
	d0=$(st 1 .counters.handshakes_dropped)
	out=$(cluster exec 1 "${AS[@]}" "$BRK" burst 40)
	d1=$(st 1 .counters.handshakes_dropped)
	if [[ $out != *"made 40 refused 0"* ]] && ((d1 > d0)); then
		say "round $round: $out; $((d1 - d0)) refused at the handshake limit: the user was under its share, not counted"
		continue
	fi
	say "round $round: $out"
	counted=$((counted + 1))
	m=$(sed -n 's/.* made \([0-9]*\) .*/\1/p' <<<"$out")
	made=$((made + ${m:-0}))
	[[ $out == *"made 40 refused 0 (EAGAIN 0) unanswered 0 not connected 0"* ]] || bad=$((bad + 1))
	((counted < 3)) || break
done
check "3 rounds ran with the user over its share ($counted did)" [ "$counted" = 3 ]
check "every connection of those bursts was made ($made of $((counted * 40)))" [ "$bad" = 0 ]
check "coroleased (pid $d) still running" alive "$d"
it_pass
