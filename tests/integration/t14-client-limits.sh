#!/bin/bash
# 14. Limits a local client could otherwise exhaust (issue 7, "Also fix"):
# - watches: a connection gets max_watches_per_client names, the next watch
#   fails with EDQUOT; an index change reaches only the watchers of its name,
#   among 100 other connections each watching another name; counted in
#   'corolease status';
# - connections: per uid (max_connections_per_uid) and in total
#   (max_connections) a connection beyond the limit is refused in the
#   handshake with EUSERS, logged and counted; root still connects (its
#   reserve); a uid that closes its connections may connect again.
. "$(dirname "$0")/lib.sh"
it_init client-limits 24
[[ -x $CL_LIMITS ]] || skip "cl-limits not built ($CL_LIMITS)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
getent group nogroup >/dev/null || skip "no group 'nogroup'"
getent passwd nobody bin >/dev/null || skip "no users nobody and bin"

EXTRA_DAEMON_OPTS=(-o max_watches_per_client=5)
it_up 1

# ---- watches
spawn 1 w "$CL_LIMITS" watch 8 lim/w >/dev/null
must_wait 10 "a connection watches names until its quota" grep -q '^ready' "$CLUSTER_DIR/n1/w.log"
check "5 watches made" grep -qx 'connected 5' "$CLUSTER_DIR/n1/w.log"
check "the 6th is refused with EDQUOT" grep -qx 'refused EDQUOT' "$CLUSTER_DIR/n1/w.log"
spawn 1 each "$CL_LIMITS" watch-each 100 lim/e >/dev/null
must_wait 30 "100 more connections, each watching a name of its own" grep -q '^ready' "$CLUSTER_DIR/n1/each.log"
check "all 100 made" grep -qx 'connected 100' "$CLUSTER_DIR/n1/each.log"
j=$(cl 1 --json status) || fail "status"
say "status: connections $(jget "$j" .connections) watches $(jget "$j" .watches) watches_refused $(jget "$j" .counters.watches_refused)"
check "status counts 105 watches" [ "$(jget "$j" .watches)" = 105 ]
check "status counts 1 refused watch" [ "$(jget "$j" .counters.watches_refused)" = 1 ]
check "status counts >= 102 connections" [ "$(jget "$j" .connections)" -ge 102 ]
cl 1 index put lim/e42 k v || fail "index put lim/e42"
cl 1 index put lim/w3 k v || fail "index put lim/w3"
must_wait 10 "the watcher of lim/e42 is told" grep -qx 'changed lim/e42 k' "$CLUSTER_DIR/n1/each.log"
must_wait 10 "the watcher of lim/w3 is told" grep -qx 'changed lim/w3 k' "$CLUSTER_DIR/n1/w.log"
cl 1 index put lim/e43 k v || fail "index put lim/e43"
must_wait 10 "the watcher of lim/e43 is told" grep -qx 'changed lim/e43 k' "$CLUSTER_DIR/n1/each.log"
check "no other connection of the 100 was told of anything" [ "$(grep -c '^changed' "$CLUSTER_DIR/n1/each.log")" = 2 ]
check "the 5-name watcher was told of lim/w3 only" [ "$(grep -c '^changed' "$CLUSTER_DIR/n1/w.log")" = 1 ]
quiesce
# (status .watches through jget: caller.watches is a "watches" key too)
watches_now() { local j; j=$(cl 1 --json status) && [ "$(jget "$j" .watches)" = 0 ]; }
must_wait 10 "watches dropped with their connections" watches_now

d1=$(daemon_pid 1)
check "coroleased survived 101 connections closing at once" alive "$d1"

# ---- connections: restart the daemon with small limits, open to group nogroup
kill -TERM "$d1"
must_wait 15 "coroleased stopped" exited "$d1"
start_daemon 1 coroleased2 -o max_connections=6 -o max_connections_per_uid=3 -o socket_group=nogroup
must_wait 30 "coroleased restarted with max_connections=6, max_connections_per_uid=3" synced 1
LOG=$CLUSTER_DIR/n1/coroleased2.log

spawn 1 nobody1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$CL_LIMITS" connect 5 >/dev/null
must_wait 10 "uid nobody: connections until its per-uid limit" grep -q '^ready' "$CLUSTER_DIR/n1/nobody1.log"
check "uid nobody: 3 connections" grep -qx 'connected 3' "$CLUSTER_DIR/n1/nobody1.log"
check "uid nobody: the 4th refused with EUSERS" grep -qx 'refused EUSERS' "$CLUSTER_DIR/n1/nobody1.log"
must_wait 5 "the daemon logs the per-uid refusal" grep -q "refused IPC connection from uid 65534 .*max_connections_per_uid (3) reached" "$LOG"
"$CLUSTER_SH" exec 1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$CLI" status >/dev/null 2>"$CLUSTER_DIR/nobody-status.err"; rc=$?
check "uid nobody: 'corolease status' exits 6 (got $rc)" [ $rc = 6 ]
check "... saying the connection limit is reached: $(tr '\n' ' ' <"$CLUSTER_DIR/nobody-status.err")" grep -q "connection limit is reached" "$CLUSTER_DIR/nobody-status.err"

spawn 1 bin1 setpriv --reuid=bin --regid=nogroup --clear-groups "$CL_LIMITS" connect 5 >/dev/null
must_wait 10 "uid bin: connections until the total limit" grep -q '^ready' "$CLUSTER_DIR/n1/bin1.log"
check "uid bin: 3 connections (6 in total)" grep -qx 'connected 3' "$CLUSTER_DIR/n1/bin1.log"
check "uid bin: the next refused with EUSERS" grep -qx 'refused EUSERS' "$CLUSTER_DIR/n1/bin1.log"
must_wait 5 "the daemon logs the total refusal" grep -q "refused IPC connection from uid 2 .*max_connections (6) reached" "$LOG"

j=$(cl 1 --json status) || fail "root cannot connect beyond max_connections (its reserve)"
ok "root still connects with every connection of the others taken"
say "status: connections $(jget "$j" .connections) refused $(jget "$j" .counters.connections_refused) refused_uid $(jget "$j" .counters.connections_refused_uid)"
check "status: 7 connections (6 + this one)" [ "$(jget "$j" .connections)" = 7 ]
check "status: counters.connections_refused >= 1" [ "$(jget "$j" .counters.connections_refused)" -ge 1 ]
check "status: counters.connections_refused_uid >= 2" [ "$(jget "$j" .counters.connections_refused_uid)" -ge 2 ]

kill -TERM "$(daemon_pid 1 nobody1)"
must_wait 10 "uid nobody's client exited" exited "$(daemon_pid 1 nobody1)"
must_wait 10 "its connections are gone" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' --json status | grep -o '\"connections\":[0-9]*')\" = '\"connections\":4' ]"
spawn 1 nobody2 setpriv --reuid=nobody --regid=nogroup --clear-groups "$CL_LIMITS" connect 3 >/dev/null
must_wait 10 "uid nobody connects again" grep -q '^ready' "$CLUSTER_DIR/n1/nobody2.log"
check "uid nobody: 3 connections again" grep -qx 'connected 3' "$CLUSTER_DIR/n1/nobody2.log"
check "coroleased survived" alive "$(daemon_pid 1 coroleased2)"
it_pass
