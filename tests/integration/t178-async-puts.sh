#!/bin/bash
# 178. corolease_index_put_async() against real coroleaseds on 3 nodes
# (cl-aput):
#  1. 3,000 puts to one key, 64 in flight: every write's function runs
#     once, all succeed, their versions rise in the order the writes were
#     made, and node 2 reads the last value ("v2999") at the last version;
#  2. 64 puts in flight, then the lease released at once: all 64 functions
#     run, each with a NULL lease;
#  3. node 1's corosync stopped (SIGSTOP), 64 puts sent (none can be
#     confirmed), then node 1's coroleased killed: all 64 functions run,
#     with COROLEASE_EDISCONNECTED.
. "$(dirname "$0")/lib.sh"
it_init async-puts 178
AP=$IT_BUILD/tests/integration/cl-aput
[[ -x $AP ]] || skip "cl-aput not built"
it_up 3
field_of() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

r=$(cluster exec 1 "$AP" it/ap 3000 64 run | tail -1)
say "1: $r"
check "1: 3000 functions ran, 3000 puts succeeded" [ "$(field_of calls "$r")/$(field_of ok "$r")" = 3000/3000 ]
check "1: versions rose in the order of the writes" [ "$(field_of ordered "$r")" = 1 ]
j=$(cl 2 --json index get --sync it/ap k)
say "1: node 2 reads $j"
check "1: node 2 reads the last value at the last version" \
	[ "$(jget "$j" .value)/$(jget "$j" .version)" = "v2999/$(field_of last "$r")" ]

r=$(cluster exec 1 "$AP" it/ap2 64 64 release | tail -1)
say "2: $r"
check "2: all 64 functions ran after the release, each with a NULL lease" \
	[ "$(field_of calls "$r")/$(field_of nulllease "$r")" = 64/64 ]

spawn 1 hold "$AP" it/ap3 64 64 hold >/dev/null
must_wait 30 "3: the client holds it/ap3" grep -q '^ready' "$CLUSTER_DIR/n1/hold.log"
ok "$(cluster pause 1)"
kill -USR1 "$(awk '{print $1}' "$CLUSTER_DIR/n1/hold.pid")"
must_wait 10 "3: 64 puts sent" grep -q '^sent 64' "$CLUSTER_DIR/n1/hold.log"
sleep 0.5
kill -KILL "$(daemon_pid 1)"
must_wait 60 "3: the client's functions all ran" grep -q '^done' "$CLUSTER_DIR/n1/hold.log"
r=$(grep '^done' "$CLUSTER_DIR/n1/hold.log")
say "3: $r"
check "3: all 64 functions ran, with EDISCONNECTED" \
	[ "$(field_of calls "$r")/$(field_of failed "$r")/$(field_of first "$r")" = 64/64/EDISCONNECTED ]
ok "$(cluster resume 1)"
it_pass
