#!/bin/bash
# 80. (breaker) A socket_group member passes, with SCM_RIGHTS, a TCP socket
# that has unsent data and SO_LINGER=LINGER s to coroleased, and drops its
# own copy.  The daemon's recv() without a control buffer makes the kernel
# drop the passed fd in the daemon's own context: the last fput() of the TCP
# socket runs tcp_close() with the linger timeout, which blocks the daemon's
# only thread until the data is acked (never) or the linger expires.
# Passes when root's status still answers within 2 s during the attack.
. "$(dirname "$0")/lib.sh"
it_init scm-linger 80
BRK=${BRK:-/tmp/brk/cl-brk}
LINGER=${LINGER:-20}
WHEN=${WHEN:-read}
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
t0=$(now_ms); cl 1 status >/dev/null || fail "root's status"; say "root's status before: $(( $(now_ms) - t0 )) ms"
spawn 1 lg "${AS[@]}" "$BRK" linger "$LINGER" "$WHEN" >/dev/null
sleep 1
say "attacker: $(tr '\n' ';' < "$CLUSTER_DIR/n1/lg.log")"
say "daemon wchan: $(cat /proc/$d/wchan); state $(awk '{print $3}' /proc/$d/stat)"
grep -E 'tcp_close|sk_stream_wait_close|inet_release|__fput|task_work' /proc/$d/stack 2>/dev/null | sed 's/^/    stack: /'
worst=0 failn=0
for i in 1 2 3; do
	t0=$(now_ms)
	if ! timeout 5 "$CLUSTER_SH" exec 1 "$CLI" status >/dev/null 2>&1; then failn=$((failn + 1)); fi
	t=$(( $(now_ms) - t0 )); ((t > worst)) && worst=$t
	say "root's status #$i: $t ms"
done
# how long until it answers again
t0=$(now_ms)
wait_until $((LINGER + 10)) cl 1 status && say "root's status answers again $(( $(now_ms) - t0 )) ms later"
j=$(cl 1 --json status) && say "synced $(jget "$j" .synced) quorate $(jget "$j" .quorate)"
say "attacker: $(tr '\n' ';' < "$CLUSTER_DIR/n1/lg.log")"
check "coroleased (pid $d) still running" alive "$d"
check "root's status answered within 2 s during the attack (worst $worst ms, $failn timeouts)" [ $failn = 0 -a $worst -lt 2000 ]
it_pass
