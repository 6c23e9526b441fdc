#!/bin/bash
# 215. (breaker F2) COROLEASE_KILL walks the killed client's tree through
# /proc, at most CLD_KILL_TREE_BUDGET (1024) reads a second.  That budget
# was one for all clients, and a kill it cut was never finished: uid 61011
# (the attacker) has clients whose CMD runs 300 threads (a walk reads one
# children file per thread: 256 reads each, cut there) revoked all at once
# by waiters of her own uid; a moment later uid 61012's stopped `corolease
# acquire` is revoked for his own waiter, and its kill walked nothing
# ("and 0 processes it started (not all)", at debug level): the writer his
# CMD left in the background wrote on under the next holder.
# Now each uid has a budget of its own, so the victim's kill kills his
# writer before his waiter is granted; and a kill that was cut keeps its
# client stopped and is walked again as its uid's budget allows, until its
# tree is killed: every one of the attacker's threaded processes dies too.
# Failed before the fix (the writer alive after the grant; 2 or more of the
# attacker's threaded processes left running).
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
command -v python3 >/dev/null || skip "python3 missing"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
[[ -r /proc/self/task/$$/children ]] || skip "no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_init kill-budget-uid 215
it_up 1
A=(setpriv --reuid=61011 --regid=100 --clear-groups)
B=(setpriv --reuid=61012 --regid=100 --clear-groups)
NB=${NB:-6}
dir=$CLUSTER_DIR/n1
log=$dir/coroleased.log
cli_pid() { awk '{print $1}' "$dir/$1.pid"; }

# the attacker's holders: CMD is a process of 300 threads, which says its pid
for ((i = 1; i <= NB; i++)); do
	spawn 1 bait$i "${A[@]}" "$CLI" acquire kb/a$i -- python3 -c '
import os, threading, time
for _ in range(300):
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
print("threads", os.getpid(), flush=True)
time.sleep(600)' >/dev/null
done
# the victim's holder: CMD leaves a writer in the background and waits
# shellcheck disable=SC2016
spawn 1 vic "${B[@]}" "$CLI" acquire kb/v -- sh -c '(while :; do date +%s%N; sleep 0.05; done) & echo "bg $!"; wait' >/dev/null
baits=()
for ((i = 1; i <= NB; i++)); do
	must_wait 20 "attacker's holder $i runs its 300 threads" grep -q '^threads' "$dir/bait$i.log"
	baits+=("$(awk '/^threads/ {print $2}' "$dir/bait$i.log")")
done
must_wait 10 "the victim's CMD started its writer" grep -q '^bg ' "$dir/vic.log"
bg=$(awk '/^bg / {print $2}' "$dir/vic.log")
alive "$bg" || fail "the victim's writer $bg is not running"
# every holder's CLI hangs (stopped): only the daemon's kill can stop its CMD
for ((i = 1; i <= NB; i++)); do kill -STOP "$(cli_pid bait$i)"; done
vcli=$(cli_pid vic)
kill -STOP "$vcli"

# the attacker's waiters at once, the victim's a moment later: his revoke
# deadline comes just after hers, within the second her kills spend
for ((i = 1; i <= NB; i++)); do
	spawn 1 aw$i "${A[@]}" "$CLI" acquire kb/a$i --wait 60 -- sh -c 'echo granted; exec sleep 600' >/dev/null &
done
wait
sleep 0.2
spawn 1 vw "${B[@]}" "$CLI" acquire kb/v --wait 60 -- sh -c 'echo "granted $(date +%s%N)"; exec sleep 600' >/dev/null
must_wait 20 "the victim's waiter is granted kb/v" grep -q '^granted' "$dir/vw.log"
t_grant=$(awk '/^granted/ {print $2}' "$dir/vw.log")
sleep 1   # a writer left running writes 20 lines meanwhile
last=$(tail -n 1 "$dir/vic.log")
say "victim's kill: $(grep -F 'kb/v' "$log" | grep -e 'killing client' -e 'still using' | tail -n 2 | tr '\n' '|')"
# the writer wrote nothing once the waiter held kb/v (a tick a line)
after=$(awk -v g="$t_grant" '$1 ~ /^[0-9]+$/ && $1 > g' "$dir/vic.log" | wc -l)
say "the victim's writer wrote $after lines after the grant (its last line: $last)"
check "the victim's writer wrote nothing after his waiter was granted kb/v (got $after lines)" [ "$after" -eq 0 ]
check "the victim's writer $bg is gone" exited "$bg"
check "the victim's stopped CLI $vcli is gone" exited "$vcli"

# the attacker's kills that were cut are finished, not abandoned
for ((i = 1; i <= NB; i++)); do
	must_wait 15 "attacker's waiter $i is granted kb/a$i" grep -q '^granted' "$dir/aw$i.log"
done
left=0
for p in "${baits[@]}"; do wait_until 10 exited "$p" || left=$((left + 1)); done
say "cut kills logged: $(grep -c 'its tree not' "$log"); finished later: $(grep -c 'its tree walked at last' "$log")"
check "every one of the attacker's threaded processes is killed ($left of $NB left)" [ "$left" -eq 0 ]
check "a cut kill was a WARNING" grep -q ' warning: .*uid 61011.*its tree not' "$log"
for ((i = 1; i <= NB; i++)); do
	check "the attacker's stopped CLI $i is gone" exited "$(cli_pid bait$i)"
done
it_pass
