#!/bin/bash
# 188. A synchronous call with no time limit waits for its answer in the
# receive itself (one system call where poll(2) and a read took two; issue
# 9, target 3).  It must end as the poll did: an application that set
# O_NONBLOCK on corolease_get_fd() still sleeps through a long wait rather
# than spinning (the library polls then); SIGALRM every millisecond, with
# SA_RESTART or without, neither ends nor breaks the wait; and a daemon
# killed during the wait ends it with EDISCONNECTED at once.  A poll(2)
# that cannot be made (RLIMIT_NOFILE at 0) fails the call, as it did.  An
# answer that came before the daemon closed the connection is returned.  Each wait is
# an EX acquire with COROLEASE_WAIT behind a holder whose command ends 2 s
# after the waiter started (the handover timeout is longer, so the wait
# ends at that release, not at a revoke).
HANDOVER_MS=30000
. "$(dirname "$0")/lib.sh"
it_init client-blocking-wait 188
[[ -x $CL_BLOCK ]] || skip "cl-block not built ($CL_BLOCK)"
it_up 1

# kv KEY LINE: the number after " KEY=" in LINE
kv() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# wait_behind TAG OPTS...: cl-block OPTS waits 2 s behind a holder of blk/TAG
wait_behind() {
	local tag=$1 go=$CLUSTER_DIR/n1/go-$1; shift
	spawn 1 "hold-$tag" "$CLI" acquire "blk/$tag" -- \
		sh -c "echo held; while [ ! -e '$go' ]; do sleep 0.05; done" >/dev/null
	must_wait 10 "blk/$tag held" grep -q '^held' "$CLUSTER_DIR/n1/hold-$tag.log"
	local pid; pid=$(spawn 1 "wait-$tag" "$CL_BLOCK" "$@" "blk/$tag")
	must_wait 10 "cl-block $* waiting" grep -q '^waiting' "$CLUSTER_DIR/n1/wait-$tag.log"
	sleep 2
	touch "$go"
	must_wait 20 "cl-block $* returned" exited "$pid"
	cat "$CLUSTER_DIR/n1/wait-$tag.log"
	check "the holder released blk/$tag when its command ended" \
		bash -c "! grep -q 'revoked' '$CLUSTER_DIR/n1/hold-$tag.log'"
}

wait_behind nb -N
line=$(grep '^granted blk/nb' "$CLUSTER_DIR/n1/wait-nb.log") || fail "O_NONBLOCK: the wait did not end in a grant"
cpu=$(kv cpu_ms "$line"); wall=$(kv wall_ms "$line")
(( wall >= 1500 )) || fail "O_NONBLOCK: waited only $wall ms (the holder kept it 2 s)"
# a spinning wait takes a CPU's share for 2 s, hundreds of ms even on a loaded host
(( cpu < 100 )) || fail "O_NONBLOCK: the wait used $cpu ms of CPU in $wall ms (it spun)"
ok "O_NONBLOCK set by the application: granted after $wall ms, $cpu ms of CPU"

# helper-91: with O_NONBLOCK set and RLIMIT_NOFILE at 0 the fallback's poll
# fails (EINVAL) at once; the call looped on it for as long as the holder
# kept the name (1,612 ms of CPU in 4.9 s).  It must fail, as before the wait
# moved into the receive.
wait_behind rl -N -R
line=$(grep '^failed blk/rl' "$CLUSTER_DIR/n1/wait-rl.log") ||
	fail "-N -R: the call did not fail"
cpu=$(kv cpu_ms "$line")
(( cpu < 100 )) || fail "-N -R: the call used $cpu ms of CPU (it spun)"
ok "O_NONBLOCK and no descriptors left for poll(2): $line"

for o in s S; do
	wait_behind "sig$o" "-$o"
	line=$(grep "^granted blk/sig$o" "$CLUSTER_DIR/n1/wait-sig$o.log") ||
		fail "-$o: the wait did not end in a grant"
	n=$(kv signals "$line"); wall=$(kv wall_ms "$line")
	(( wall >= 1500 && n >= 100 )) || fail "-$o: $wall ms, $n signals: the wait was not interrupted as meant"
	ok "SIGALRM every ms (-$o): granted after $wall ms and $n signals"
done

# helper-91: the daemon answers an OWNER query, then closes the connection
# with requests of the client's unread (40 malformed packets sent during
# the call), all while the client is stopped.  The answer was already in
# the socket; a wait in poll(2) (-b: a call timeout) lost it, POLLERR
# marking the handle dead before the read, where a wait in the receive
# returned it.  Both return it now, and the next call finds the loss.
for b in "" -b; do
	log=$CLUSTER_DIR/n1/own$b.log
	pid=$(spawn 1 "own$b" "$CL_BLOCK" -G $b blk/o)
	must_wait 10 "cl-block -G $b connected" grep -q '^connected' "$log"
	d=$(daemon_pid 1)
	kill -STOP "$d"
	kill -USR1 "$pid"
	must_wait 10 "cl-block -G $b asking" grep -q '^waiting' "$log"
	sleep 0.6   # past the 300 ms at which the client sends its 40 packets
	kill -STOP "$pid"
	kill -CONT "$d"
	must_wait 20 "the daemon dropped cl-block -G $b" \
		grep -q "disconnecting client [0-9]* (pid $pid[,)]" "$CLUSTER_DIR/n1/coroleased.log"
	kill -CONT "$pid"
	must_wait 10 "cl-block -G $b returned" exited "$pid"
	cat "$log"
	check "cl-block -G $b: the answer sent before the close was returned" \
		grep -q '^answered blk/o OK owner=0' "$log"
	check "cl-block -G $b: the next call found the connection lost" grep -q '^after EDISCONNECTED' "$log"
done

# the daemon killed while a call waits in the receive
spawn 1 hold-k "$CLI" acquire blk/k -- sh -c 'echo held; exec sleep 1000' >/dev/null
must_wait 10 "blk/k held" grep -q '^held' "$CLUSTER_DIR/n1/hold-k.log"
pid=$(spawn 1 wait-k "$CL_BLOCK" blk/k)
must_wait 10 "cl-block waiting for blk/k" grep -q '^waiting' "$CLUSTER_DIR/n1/wait-k.log"
sleep 0.5
kill -KILL "$(daemon_pid 1)"
t0=$(now_ms)
must_wait 10 "cl-block returned after the daemon's death" exited "$pid"
took=$(( $(now_ms) - t0 ))
cat "$CLUSTER_DIR/n1/wait-k.log"
check "the wait ended with EDISCONNECTED" grep -q '^failed blk/k EDISCONNECTED' "$CLUSTER_DIR/n1/wait-k.log"
ok "a killed daemon ended the wait within $took ms"
it_pass
