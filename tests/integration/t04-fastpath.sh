#!/bin/bash
# 4. Fast path: node 1 acquires and releases NAME, then re-acquires it within
# linger_ms: the re-acquire costs no cluster message (mcast_msgs less
# heartbeats unchanged) and counts as a fast-path grant.  After linger the
# lease is released.
. "$(dirname "$0")/lib.sh"
it_init fastpath 14
# linger 20 s: eleven CLI calls take up to a few seconds each under ASan on a
# loaded host, and must all land within it
EXTRA_DAEMON_OPTS=(-o linger_ms=20000)
it_up 2

N=it/fast
# counters MCAST FAST CLUSTER: one status call; MCAST counts the messages
# other than heartbeats (the node sends one whenever it was silent a while)
counters() {
	local j; j=$(cl 1 --json status) || return 1
	echo "$(( $(jget "$j" .counters.mcast_msgs) - $(jget "$j" .counters.heartbeats) ))" \
		"$(jget "$j" .counters.fastpath_grants) $(jget "$j" .counters.cluster_grants)"
}
cnt() { st 1 ".counters.$1"; }
requests() { local j; j=$(cl 1 --json status) || return 1; echo $(( $(jget "$j" .counters.mcast_msgs) - $(jget "$j" .counters.heartbeats) )); }
cl 1 acquire "$N" -- true || fail "first acquire"
ok "first acquire of $N on node 1 (cluster grant)"
read -r m0 f0 g0 < <(counters)
cl 1 acquire "$N" -- true || fail "re-acquire"
read -r m1 f1 g1 < <(counters)
say "re-acquire within linger: mcast_msgs $m0 -> $m1, fastpath_grants $f0 -> $f1, cluster_grants $g0 -> $g1"
check "fastpath_grants increased" [ "$f1" -gt "$f0" ]
check "cluster_grants unchanged" [ "$g1" = "$g0" ]
check "mcast_msgs unchanged by the re-acquire" [ "$m1" = "$m0" ]

# ten more in a row: all fast path
for k in 1 2 3 4 5 6 7 8 9 10; do cl 1 acquire "$N" -- true || fail "re-acquire $k"; done
read -r m2 f2 g2 < <(counters)
say "10 more re-acquires: mcast_msgs $m1 -> $m2, fastpath_grants $f1 -> $f2"
check "10 re-acquires: 10 fast-path grants" [ $((f2 - f1)) -ge 10 ]
check "10 re-acquires: no mcast" [ "$m2" = "$m1" ]

# linger expiry releases the node's lease (seen from node 2 too)
must_wait 40 "after linger (20000 ms) node 2 sees $N free" bash -c "[ \"\$('$CLUSTER_SH' exec 2 '$CLI' owner $N)\" = 0 ]"
m3=$(requests)
check "linger expiry sent a release ($m2 -> $m3 mcasts besides heartbeats)" [ "$m3" -gt "$m2" ]
g3=$(cnt cluster_grants)
cl 1 acquire "$N" -- true || fail "acquire after linger"
g4=$(cnt cluster_grants)
check "acquire after linger expiry is a cluster grant ($g3 -> $g4)" [ "$g4" -gt "$g3" ]
must_wait 5 "state hashes equal" hashes_equal 1 2
it_pass
