#!/bin/bash
# 217. (helper-96, a hostile local user) One unprivileged user (uid 61001)
# keeps CONNS connections (default 500, near max_connections_per_uid) each
# with 32 requests outstanding (cl-brk mspin: STATUS, which walks the
# state).  Another unprivileged user (uid 61002, the mail server's, say)
# and root time their OWNER round trips meanwhile (a lookup that costs
# nothing: the time is the wait for the loop).  Unprivileged work shares a
# realtime budget (20 ms of CPU in every 100 ms window); before each uid
# had a share of it, the flooder spent it all early in each window and the
# other user's requests waited for the next one behind the flooder's 500
# connections: a median of 224 ms (helper-96; 209 ms here).  Passes
# when the other user's median is under 20 ms and its worst under 250 ms,
# root's median under 50 ms, every request was answered, the flooder was
# served too, and the node's validity never expired.  Then the same with
# two flooding users (61001 and 61003, 250 connections each), and with one
# flooding from 500 and two more (61003, 61004) from 4 connections each
# (helper-100: they took the pot past the budget that the first fix kept
# for users within an equal share, and the other user's median was 52 ms);
# then three users connecting and closing in a loop (helper-101: with the
# listening socket paused, others' connect+hello took 266 to 685 ms).
. "$(dirname "$0")/lib.sh"
it_init user-flood-fairness 217
CONNS=${CONNS:-500}
SECS=${SECS:-15}
brk_up
AS2=(setpriv --reuid=61002 --regid=100 --clear-groups)
log=$CLUSTER_DIR/n1/coroleased.log
say "idle: root $(cluster exec 1 "$BRK" rtt 20 20 it/x); other user $(cluster exec 1 "${AS2[@]}" "$BRK" rtt 20 20 it/x)"
# round TAG UID:CONNS...: each UID floods from CONNS connections; the round trips meanwhile
round() {
	local tag=$1 u k=0 rr ru mr mu xu got pgworst l0 b0 c0 t0 cpu
	shift
	l0=$(wc -l <"$log"); b0=$(st 1 .counters.realtime_budget_spent)
	flood_lock
	for u in "$@"; do
		spawn 1 "ms$tag$k" setpriv --reuid="${u%:*}" --regid=100 --clear-groups \
			env BRK_REQ=status BRK_DEPTH=32 "$BRK" mspin "${u#*:}" "$SECS" >/dev/null
		k=$((k + 1))
	done
	c0=$(awk '{ print $14 + $15 }' "/proc/$d/stat"); t0=$(now_ms)
	spawn 1 "pg$tag" "$BRK" page "$SECS" >/dev/null
	sleep 3
	spawn 1 "rr$tag" "$BRK" rtt 60 50 it/x >/dev/null
	spawn 1 "ru$tag" "${AS2[@]}" "$BRK" rtt 60 50 it/x >/dev/null
	must_wait $((SECS + 60)) "root's rtt done" grep -q '^rtt' "$CLUSTER_DIR/n1/rr$tag.log"
	must_wait $((SECS + 60)) "the other user's rtt done" grep -q '^rtt' "$CLUSTER_DIR/n1/ru$tag.log"
	# the daemon's CPU over the flood's first seconds (ticks of 10 ms)
	cpu=$(( ($(awk '{ print $14 + $15 }' "/proc/$d/stat") - c0) * 1000 / ($(now_ms) - t0 + 1) ))
	rr=$(cat "$CLUSTER_DIR/n1/rr$tag.log"); ru=$(cat "$CLUSTER_DIR/n1/ru$tag.log")
	say "during the flood (uid $*: $CONNS connections x 32 STATUS): root $rr"
	say "during the flood: uid 61002 $ru"
	pgworst=$(flood_page_worst 1 "ms${tag}0" "pg$tag" "$SECS")
	flood_unlock
	got=0
	for ((k = 0; k < $#; k++)); do
		must_wait 30 "flooder $k done" grep -q '^mspin' "$CLUSTER_DIR/n1/ms$tag$k.log"
		u=$(sed -n 's/.* got \([0-9]*\) answers.*/\1/p' "$CLUSTER_DIR/n1/ms$tag$k.log")
		check "flooder $k was served too (${u:-no} answers)" [ "${u:-0}" -gt 1000 ]
		got=$((got + ${u:-0}))
	done
	say "flooders: $got answers; the budget was spent $(( $(st 1 .counters.realtime_budget_spent) - b0 )) times; the daemon took ${cpu}% of a CPU"
	tail -n +"$l0" "$log" | grep -iE 'warning|lapsed|expired|revok|quorum' | head -5 | sed 's/^/    /'
	mr=$(field median "$rr"); mu=$(field median "$ru"); xu=$(field max "$ru")
	check "coroleased (pid $d) still running" alive "$d"
	check "root's OWNER round trips all answered" bash -c "! grep -q unanswered <<<'$rr'"
	check "the other user's OWNER round trips all answered" bash -c "! grep -q unanswered <<<'$ru'"
	check "the other user's median OWNER RTT under 20 ms during the flood (got ${mu:-none})" awk -v m="${mu:-999999}" 'BEGIN { exit !(m < 20) }'
	check "the other user's worst OWNER RTT under 250 ms during the flood (got ${xu:-none})" awk -v m="${xu:-999999}" 'BEGIN { exit !(m < 250) }'
	check "root's median OWNER RTT under 50 ms during the flood (got ${mr:-none})" awk -v m="${mr:-999999}" 'BEGIN { exit !(m < 50) }'
	check "the node's validity never expired during the flood (longest ${pgworst:-?} ms)" [ "${pgworst:-1}" = 0 ]
}
say "---- one user floods"
round a 61001:500
say "---- two users flood together (each gets a share; the other user's is kept)"
round b 61001:250 61003:250
# helper-100: the light flooders took the share pot that the first fix kept
# for everyone past the budget, and the other user waited again (52 ms)
say "---- one user floods, and two users with 4 connections each take what is left"
round c 61001:500 61003:4 61004:4

# ---- helper-101: three users connecting and closing as fast as they can
# (a cl-brk cycle loop each).  Pausing everybody's socket once the window was
# spent left the other user's connections behind the churners' in the
# backlog: connect+hello 266 to 685 ms (one churning user: a median of
# about 180).  Now a connection of a user over its share waits for the
# window's end out of the backlog, which is short.  The bound is for a
# loaded host: here 49 ms idle and 134 ms beside stress-ng --cpu 8, so it
# catches a gross regression only (the paused socket of 2aebdff gave 182 ms
# idle with these three loops, 266 to 685 ms with three loops per user).
say "---- three users connect and close in a loop"
flood_lock
k=0
for u in 61001 61003 61004; do
	k=$((k + 1))
	spawn 1 "cy$k" setpriv --reuid="$u" --regid=100 --clear-groups \
		timeout "$SECS" "$BRK" cycle 100000000 0 >/dev/null
done
spawn 1 pgd "$BRK" page "$SECS" >/dev/null
sleep 3
c0=$(awk '{ print $14 + $15 }' "/proc/$d/stat"); t0=$(now_ms)
conns=()
for k in $(seq 20); do
	conns+=("$(cluster exec 1 "${AS2[@]}" "$BRK" rtt 1 0 it/x | sed -n 's/.*connect+hello \([0-9]*\) ms.*/\1/p')")
done
cpu=$(( ($(awk '{ print $14 + $15 }' "/proc/$d/stat") - c0) * 1000 / ($(now_ms) - t0 + 1) ))
pgworst=$(must_wait $((SECS + 30)) "page sampler done" grep -q '^page' "$CLUSTER_DIR/n1/pgd.log" >&2;
	  sed -n 's/.*longest \([0-9]*\) ms.*/\1/p' "$CLUSTER_DIR/n1/pgd.log")
flood_unlock
sorted=$(printf '%s\n' "${conns[@]}" | sort -n | tr '\n' ' ')
say "uid 61002's connect+hello during the churn (ms, sorted): $sorted; the daemon took ${cpu}% of a CPU"
med=$(printf '%s\n' "${conns[@]}" | sort -n | sed -n 10p)
check "the other user's connects were all made (${#conns[@]} of 20 timed)" [ "$(printf '%s\n' "${conns[@]}" | grep -c '^[0-9]')" = 20 ]
check "the other user's median connect+hello under 200 ms during the churn (got ${med:-none})" [ "${med:-99999}" -lt 200 ]
check "the node's validity never expired during the churn (longest ${pgworst:-?} ms)" [ "${pgworst:-1}" = 0 ]
check "coroleased (pid $d) still running" alive "$d"
it_pass
