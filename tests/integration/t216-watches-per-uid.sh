#!/bin/bash
# 216. (breaker F6) Watches were bounded per connection only
# (max_watches_per_client), so one user could have max_connections_per_uid
# x max_watches_per_client = 512,000 of them, each about 1.2 KiB of the
# daemon's locked memory with 1 KiB names (VmLck 33 MB -> 605 MB).  Now one
# user id's connections watch at most max_watches_per_uid names in all
# (default 10000; root has no limit), -EDQUOT beyond, counted in status.
# uid 61021 opens 12 connections each watching 1,000 names of its own: 10
# of them get their 1,000, the 11th and 12th none (EDQUOT); uid 61022 and
# root still watch 1,000 each; status shows caller.watches,
# watches_per_uid and counters.watches_refused_uid; the CLI names the
# limit; once one of uid 61021's connections closes, its watches are freed
# for the uid.  Failed before the fix (12,000 watches for uid 61021).
. "$(dirname "$0")/lib.sh"
[[ -x $CL_LIMITS ]] || skip "cl-limits not built ($CL_LIMITS)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_init watches-per-uid 216
it_up 1
A=(setpriv --reuid=61021 --regid=100 --clear-groups)
B=(setpriv --reuid=61022 --regid=100 --clear-groups)
dir=$CLUSTER_DIR/n1
made() { awk '/^connected/ {print $2}' "$dir/$1.log"; }

total=0
for ((i = 1; i <= 12; i++)); do
	spawn 1 a$i "${A[@]}" "$CL_LIMITS" watch 1000 "wpu/a$i/" >/dev/null
	must_wait 20 "uid 61021's connection $i is done watching" grep -q '^ready' "$dir/a$i.log"
	total=$((total + $(made a$i)))
done
say "uid 61021's connections watch $(for ((i = 1; i <= 12; i++)); do printf '%s ' "$(made a$i)"; done)"
check "uid 61021 watches 10000 names in all (got $total)" [ "$total" -eq 10000 ]
check "its 11th connection's first watch was refused with EDQUOT" grep -qx 'refused EDQUOT' "$dir/a11.log"
check "its 12th connection watches nothing" [ "$(made a12)" -eq 0 ]

# another user, and root, are not held back by it
spawn 1 b "${B[@]}" "$CL_LIMITS" watch 1000 "wpu/b/" >/dev/null
must_wait 20 "uid 61022's connection is done watching" grep -q '^ready' "$dir/b.log"
check "uid 61022 watches its 1000" [ "$(made b)" -eq 1000 ]
spawn 1 r "$CL_LIMITS" watch 1000 "wpu/r/" >/dev/null
must_wait 20 "root's connection is done watching" grep -q '^ready' "$dir/r.log"
check "root watches its 1000" [ "$(made r)" -eq 1000 ]

j=$("$CLUSTER_SH" exec 1 "${A[@]}" "$CLI" --json status) || fail "status as uid 61021"
say "status: watches $(jget "$j" .watches) caller.watches $(jget "$j" .caller.watches) watches_per_uid $(jget "$j" .watches_per_uid) watches_refused_uid $(jget "$j" .counters.watches_refused_uid) watches_refused $(jget "$j" .counters.watches_refused)"
check "status: watches 12000" [ "$(jget "$j" .watches)" = 12000 ]
check "status: caller.watches 10000 for uid 61021" [ "$(jget "$j" .caller.watches)" = 10000 ]
check "status: watches_per_uid 10000" [ "$(jget "$j" .watches_per_uid)" = 10000 ]
check "status: counters.watches_refused_uid counts the 2 refusals" [ "$(jget "$j" .counters.watches_refused_uid)" = 2 ]
check "status: counters.watches_refused (per connection) counts none" [ "$(jget "$j" .counters.watches_refused)" = 0 ]

# the CLI says which limit
out=$("$CLUSTER_SH" exec 1 timeout 5 "${A[@]}" "$CLI" index watch wpu/cli 2>&1) && fail "index watch past the uid's bound succeeded"
say "corolease index watch: $(tr '\n' '|' <<<"$out")"
check "the CLI names EDQUOT" grep -q EDQUOT <<<"$out"
check "the CLI names max_watches_per_uid" grep -q max_watches_per_uid <<<"$out"

# a connection of the uid closes: its 1,000 watches are the uid's again
a1=$(awk '{print $1}' "$dir/a1.pid")
kill "$a1"
must_wait 10 "uid 61021's first connection is gone" exited "$a1"
spawn 1 a13 "${A[@]}" "$CL_LIMITS" watch 1000 "wpu/a13/" >/dev/null
must_wait 20 "uid 61021's 13th connection is done watching" grep -q '^ready' "$dir/a13.log"
check "once a connection closed, the uid watches 1000 more" [ "$(made a13)" -eq 1000 ]
it_pass
