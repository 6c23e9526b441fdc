#!/bin/bash
# 81. (breaker) Log flooding by a socket_group member: each connection that
# says HELLO and then sends 16 malformed requests is closed with a WARNING
# line ("disconnecting client N (pid P): too many malformed requests");
# nothing rate-limits these, so one process loops connect/HELLO/junk/close.
# Also an oversized packet ("request larger than the protocol allows") and
# the HELLO deadline give one WARNING per connection.  With the daemon at
# the default log level (no debug) the lines are counted over SECS.
# Passes when the attacker gets fewer than 100 lines into the log.
. "$(dirname "$0")/lib.sh"
it_init warn-flood 81
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
SECS=${SECS:-10}
EXTRA_DAEMON_OPTS=(-o socket_group=users -o debug=no)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
log=$CLUSTER_DIR/n1/coroleased.log
l0=$(wc -l < "$log"); b0=$(wc -c < "$log")
cluster exec 1 "${AS[@]}" "$BRK" warnflood "$SECS" > "$CLUSTER_DIR/wf.out" 2>&1
l1=$(wc -l < "$log"); b1=$(wc -c < "$log")
w=$(tail -n +$((l0 + 1)) "$log" | grep -c 'too many malformed requests')
say "attacker: $(cat "$CLUSTER_DIR/wf.out"); daemon log +$((l1 - l0)) lines (+$(( (b1 - b0) / 1024 )) KiB) in ${SECS}s, $w of them 'too many malformed requests'"
tail -n +$((l0 + 1)) "$log" | sort -k5 | awk '{$1=$2=$3=$4=""; sub(/client [0-9]+ \(pid [0-9]+\)/, "client N (pid P)"); print}' | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
check "coroleased (pid $d) still running" alive "$d"
check "the attacker got fewer than 100 lines into the log (got $((l1 - l0)))" [ $((l1 - l0)) -lt 100 ]
it_pass
