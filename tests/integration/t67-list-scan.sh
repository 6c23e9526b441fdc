#!/bin/bash
# 67. (breaker, issue 8 item F9) LIST with a prefix that matches nothing
# scanned the whole replicated state in one go with nothing sent, so nothing
# paced it (the streaming paused only on queued output bytes).  A member of
# socket_group pipelining such LISTs on a few connections kept the daemon
# scanning, and root's requests waited (first run, host at load 20: root's
# 'corolease status' slowest of 5 2.2 s alone, 11.9 s and one failure during
# the flood, which got 6,000 LISTs through in 20 s).
#
# Node 1 holds NAMES (50,000) names (cl-load, root); uid 61001 (group users,
# in socket_group) runs CONNS (20) raw connections, each with 50 LIST
# "zz-no-such-prefix" outstanding, for SECS (20) s (cl-brk listflood; a
# connection told busy holds off 20 ms, so the flood's own CPU does not
# decide the timing: answering refusals fast is t84's subject).
# Root's round trips (cl-brk rtt, own connection) are measured alone and
# during the flood: OWNER of a name, which costs the daemon next to nothing,
# so its time is the wait for the daemon's loop (20 alone, 40 during the
# flood, 50 and 100 ms apart); and STATUS, which walks the state (15-40 ms
# here; 20 alone, 40 during, 100 and 150 ms apart).  Passes when, during
# the flood, every round trip is answered; root's OWNER median stays under
# max(20 x alone, 3 ms) (the previous daemon: 16-32 ms against 0.06-0.07
# alone; this one 0.06); its STATUS slowest under max(3 x alone, 1000 ms)
# (its median is reported: previous up to 51 ms against 16 alone, but it
# moves with the host's other load); the node's validity never lapses (it did lapse
# in 4 runs of 8 of the previous daemon, and its 50,000 holds were
# revoked); the flood's LISTs still
# complete (paced, not refused for ever); and a LIST of 10,000 names made
# by root during the flood returns each of them exactly once.
#
# A sanitizer build of the daemon is several times slower: on a loaded
# host it let the validity of 50,000 holds lapse with no flood at all.  So
# there the test holds 10,000 names, reports the timing and the validity
# without judging them (the plain build does), and checks the rest.  A
# host too loaded to judge (root's STATUS alone over 200 ms at the median,
# several times the usual 20-40 ms, or the validity lapsing before the
# flood) makes the test skip: the daemon's share of the CPU, not its
# loop, would decide the timing then.
. "$(dirname "$0")/lib.sh"
it_init list-scan 67
CONNS=${CONNS:-20}
SECS=${SECS:-20}
brk_up
NAMES=${NAMES:-$([[ $san ]] && echo 10000 || echo 50000)}
per=$((NAMES / 5))
hold_names 1 ls/ "$NAMES" 5

flood_lock
alone=$(cluster exec 1 "$BRK" rtt 20 100)
say "root alone: $alone"
oalone=$(cluster exec 1 "$BRK" rtt 20 50 ls/1/000000)
say "root alone: $oalone"
amed=$(field median "$alone") amax=$(field max "$alone")
[[ -n $amax ]] || fail "root's STATUS round trips alone failed: $alone"
log=$CLUSTER_DIR/n1/coroleased.log
if [[ ! $san ]]; then
	awk -v m="$amed" 'BEGIN { exit !(m > 200) }' && skip "host too loaded: root's STATUS alone $amed ms at the median"
	grep -qE 'revoked .*validity lapsed' "$log" && skip "host too loaded: the validity lapsed before the flood"
fi

l0=$(wc -l < "$log")
spawn 1 lf "${AS[@]}" "$BRK" listflood "$CONNS" "$SECS" zz-no-such-prefix >/dev/null
must_wait 30 "uid 61001's list flood runs" grep -q '^ready' "$CLUSTER_DIR/n1/lf.log"
sleep 2
t0=$(now_ms)
listed=$(cl 1 list ls/3/ | grep -o 'ls/3/[0-9]*' | sort | uniq -c | awk '{ n++; if ($1 != 1) d++ } END { print n + 0, d + 0 }')
say "root's LIST ls/3/ during the flood: $(( $(now_ms) - t0 )) ms, distinct names and duplicates: $listed"
oduring=$(cluster exec 1 "$BRK" rtt 40 100 ls/1/000000)
say "root during the flood: $oduring"
during=$(cluster exec 1 "$BRK" rtt 40 150)
say "root during the flood: $during"
must_wait $((SECS + 60)) "the flood ended" grep -q '^lists' "$CLUSTER_DIR/n1/lf.log"
say "cl-brk listflood: $(tr '\n' ' ' < "$CLUSTER_DIR/n1/lf.log")"
flood_unlock
check "coroleased (pid $d) still running" alive "$d"
n=$(sed -n 's/.* listed \([0-9]*\) .*/\1/p' "$CLUSTER_DIR/n1/lf.log")
check "the flood's LISTs still complete, paced (${n:-none} in $SECS s)" [ "${n:-0}" -gt 0 ]
# 20 connections of one uid, max_lists_per_uid 4 (the default): the daemon
# refused some for the uid's limit, each of them a "busy" answer of the
# flood (which also counts refusals for a list of the same connection)
busy=$(sed -n 's/.* busy \([0-9]*\) .*/\1/p' "$CLUSTER_DIR/n1/lf.log")
refused=$(jget "$(cl 1 --json status)" .counters.lists_refused)
say "counters.lists_refused ${refused:-none}, the flood's busy answers ${busy:-none}"
check "status counts the uid's refused listings (0 < ${refused:-none} <= ${busy:-none})" \
	[ "${refused:-0}" -gt 0 -a "${refused:-0}" -le "${busy:-0}" ]
lapsed=$(tail -n +"$l0" "$log" | grep -E 'revoked .*validity lapsed' | head -3)
if [[ $san && $lapsed ]]; then
	say "sanitizer build: the validity lapsed ($lapsed); timing and root's LIST (its names revoked) not judged"
	it_pass
fi
check "root's LIST during the flood: $per names, each once (got $listed)" [ "$listed" = "$per 0" ]
if [[ $san ]]; then
	say "sanitizer build: timing not judged"
	it_pass
fi
check "the node's validity never lapsed during the flood${lapsed:+ ($lapsed)}" [ -z "$lapsed" ]
oamed=$(field median "$oalone") odmed=$(field median "$oduring")
olimit=$(awk -v a="${oamed:-0}" 'BEGIN { l = 20 * a; print (l > 3 ? l : 3) }')
check "root's 40 OWNER round trips all answered during the flood" grep -q ' 40 OWNER' <<<"$oduring"
check "root's median OWNER RTT under $olimit ms during the flood (${odmed:-none} ms)" \
	awk -v m="${odmed:-999999}" -v l="$olimit" 'BEGIN { exit !(m < l) }'
dmed=$(field median "$during") dmax=$(field max "$during")
mlimit=$(awk -v a="$amed" 'BEGIN { l = 2 * a; if (a + 20 > l) l = a + 20; print l }')
limit=$(awk -v a="$amax" 'BEGIN { l = 3 * a; print (l > 1000 ? l : 1000) }')
check "root's 40 STATUS round trips all answered during the flood" grep -q ' 40 STATUS' <<<"$during"
# STATUS walks the whole state itself (15-40 ms here), so its median moves
# with whatever else runs on the host (44 ms against a 38 ms bound with
# another test alongside under make -j2): reported, not judged; the wait on
# the loop is judged by OWNER above
say "root's median STATUS RTT during the flood: ${dmed:-none} ms (alone $amed ms; $mlimit ms would be 2 x alone or alone + 20)"
check "root's slowest STATUS RTT under $limit ms during the flood (${dmax:-none} ms)" \
	awk -v m="${dmax:-999999}" -v l="$limit" 'BEGIN { exit !(m < l) }'
it_pass
