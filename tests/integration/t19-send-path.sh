#!/bin/bash
# 19. The send path has no delay (issue 9): an idle coroleased hands a
# request to corosync in the loop iteration that received it.  One client
# acquires 100 new names one after the other (window 1, each through the
# cluster), so before every acquire the daemon is idle.  When the batch was
# flushed from a low-priority libqb job, libqb's loop slept 50 ms before
# running it: 100 acquires took over 5 s.  Passes when they take under 2 s
# (about 0.1 s on an idle 2-core machine); a functional check of the send
# path, not a benchmark (bench/ has the figures).
# Then the other side of it: requests already waiting are merged.  A client
# connects, the daemon is stopped (SIGSTOP), the client sends 1,000 acquires
# of new names at once, the daemon is resumed and finds them all waiting.
# Passes when the node's CPG messages (heartbeats included) carry at least
# 1.5 grants each: without merging every ACQUIRE is a message of its own
# (under 1).  How many more depends on the machine: the daemon reads 32 of root's
# requests a round until 128 were read since it last read corosync's
# deliveries, then 4 (lockd/ipc_int.h), so the figure follows how soon the
# deliveries come back.  The test used to require 8 for 5,000 acquires with
# 1,000 outstanding on a running daemon (14.7 on the 2-core VM of
# 2026-12-02); on a fresh VM of 2026-12-03 that gave 1.9 to 2.7, with the
# daemon of fc13f6c as with later ones, idle or not, and this test 2.6 to 5.1.
. "$(dirname "$0")/lib.sh"
it_init send-path 33
[[ -x $CL_LOAD ]] || skip "cl-load not built ($CL_LOAD)"
it_up 1
# the batching figure needs the client to get the CPU: beside another test's
# realtime flood (t177, t85 at -j2) the normal-priority cl-load was starved
flood_lock
spawn 1 seq "$CL_LOAD" -p sp/ -n 100 -W 1 >/dev/null
must_wait 30 "100 acquires, one at a time" grep -q '^took ' "$CLUSTER_DIR/n1/seq.log"
us=$(awk '$1 == "took" {print $2; exit}' "$CLUSTER_DIR/n1/seq.log")
say "100 sequential cluster acquires took $((us / 1000)) ms ($((us / 100)) us each); load $(cut -d' ' -f1 /proc/loadavg)"
check "they took under 2 s (one 50 ms sleep each would be 5 s)" [ "$us" -lt 2000000 ]
j=$(cl 1 --json status)
check "... each went through the cluster ($(jget "$j" .counters.cluster_grants) cluster grants)" [ "$(jget "$j" .counters.cluster_grants)" -ge 100 ]
lp=$(spawn 1 many "$CL_LOAD" -G -p sp2/ -n 1000 -W 1000)
must_wait 30 "the 1,000-acquire client connected" grep -q '^connected' "$CLUSTER_DIR/n1/many.log"
j=$(cl 1 --json status)
g0=$(jget "$j" .counters.cluster_grants) m0=$(jget "$j" .counters.cpg_msgs)
d=$(daemon_pid 1)
kill -STOP "$d" || fail "SIGSTOP coroleased"
kill -USR1 "$lp"
must_wait 10 "the client sent its 1,000 acquires to the stopped daemon" grep -q '^issued 1000' "$CLUSTER_DIR/n1/many.log"
kill -CONT "$d"
must_wait 60 "1000 acquires granted" grep -q '^took ' "$CLUSTER_DIR/n1/many.log"
j=$(cl 1 --json status)
g=$(($(jget "$j" .counters.cluster_grants) - g0)) m=$(($(jget "$j" .counters.cpg_msgs) - m0))
say "1000 acquires waiting for the daemon: $g cluster grants in $m CPG messages ($(jget "$j" .counters.cpg_batches_held) batches held in all)"
flood_unlock
check "they were granted through the cluster" [ "$g" -ge 1000 ]
check "CPG messages carried at least 1.5 grants each ($g grants, $m messages)" [ $((m > 0 && g * 10 / m >= 15)) = 1 ]
kill "$lp"
j=$(cl 1 --json status)
g0=$(jget "$j" .counters.cluster_grants) m0=$(jget "$j" .counters.cpg_msgs)
spawn 1 corked "$CL_LOAD" -C -p sp3/ -n 2000 -W 1000 >/dev/null
must_wait 60 "2000 corked acquires granted" grep -q '^all held 2000' "$CLUSTER_DIR/n1/corked.log"
j=$(cl 1 --json status)
g=$(($(jget "$j" .counters.cluster_grants) - g0)) m=$(($(jget "$j" .counters.cpg_msgs) - m0))
say "2000 corked acquires: $g cluster grants in $m CPG messages"
check "each went through the cluster once ($g cluster grants)" [ "$g" = 2000 ]
must_wait 10 "a progress line of the corked client after it" grep -q '^progress held=2000 ' "$CLUSTER_DIR/n1/corked.log"
check "the corked client saw no error" grep -q '^progress held=2000 .* errors=0$' "$CLUSTER_DIR/n1/corked.log"
n=$(cl 1 list sp3/ | grep -c 'owner=1')
check "node 1 lists the 2000 leases ($n)" [ "$n" = 2000 ]
spawn 1 cycling "$CL_LOAD" -C -l -p sp4/ -n 200 -W 200 >/dev/null
must_wait 30 "the corked client releasing in its callbacks cycled 2000 times" \
	awk '$1 == "progress" { split($4, c, "="); if (c[2] >= 2000) ok = 1 } END { exit !ok }' "$CLUSTER_DIR/n1/cycling.log"
check "... without an error" [ "$(grep -c 'errors=[1-9]' "$CLUSTER_DIR/n1/cycling.log")" = 0 ]
it_pass
