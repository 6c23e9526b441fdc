#!/bin/bash
# 82. (breaker) Odd packet sizes and passed fds from a socket_group member:
# 0, 1, 8, 16, 24 bytes, exactly CLP_MAX_MSG, CLP_MAX_MSG+1, 300000 bytes
# (wmem_max lets a user's socket send that); then 200 packets carrying 250
# pipe fds each (SCM_RIGHTS).  The daemon must stay up, keep answering root,
# and keep its descriptor count (no passed fd installed or leaked).
. "$(dirname "$0")/lib.sh"
it_init odd-packets 82
BRK=${BRK:-$IT_BUILD/tests/integration/cl-brk}
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
nfd() { ls /proc/$d/fd | wc -l; }
anon() { awk '/^RssAnon:/ {print $2}' "/proc/$d/status"; }
say "daemon: $(nfd) fds, RssAnon $(anon) kB, limits: $(grep 'open files' /proc/$d/limits | tr -s ' ')"
cluster exec 1 "${AS[@]}" "$BRK" sizes 2>&1 | sed 's/^/    /'
check "coroleased alive after odd sizes" alive "$d"
f0=$(nfd)
cluster exec 1 "${AS[@]}" "$BRK" fdpass 200 2>&1 | sed 's/^/    /'
sleep 1
say "daemon after fdpass: $(nfd) fds (was $f0), RssAnon $(anon) kB"
check "coroleased alive after fd passing" alive "$d"
check "no fd leaked" [ "$(nfd)" -le "$f0" ]
check "root's status" eval "cl 1 status >/dev/null"
grep -cE 'warning|error' "$CLUSTER_DIR/n1/coroleased.log" | sed 's/^/    warning+error lines: /'
it_pass
