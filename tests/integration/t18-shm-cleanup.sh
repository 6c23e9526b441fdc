#!/bin/bash
# 18. At start coroleased removes libqb IPC leftovers of a dead coroleased
# from /dev/shm, and nothing else: a daemon killed with -9 under a client
# leaves its connection directory; planted look-alikes that point elsewhere
# (a symlink named like a leftover, a leftover directory holding a symlink
# to a file outside) must not make it delete anything outside /dev/shm.
# An empty directory of the dead daemon (what a client that saw it die
# leaves) goes too.
. "$(dirname "$0")/lib.sh"
it_init shm-cleanup 35
it_up 1
spawn 1 holder "$CL_VALID" shm/x >/dev/null
must_wait 10 "the client holds shm/x" grep -q '^valid shm/x 1' "$CLUSTER_DIR/n1/holder.log"
d=$(daemon_pid 1)
left=$("$CLUSTER_SH" exec 1 sh -c "ls -d /dev/shm/qb-$d-* 2>/dev/null" | wc -l)
check "the daemon's connection directories are in /dev/shm ($left)" [ "$left" -ge 1 ]
kill -KILL "$d"
must_wait 10 "coroleased is gone" exited "$d"
# the traps: a victim directory outside /dev/shm, a symlink to it named like
# a leftover, and a leftover directory holding a symlink to the victim's file
victim=$CLUSTER_DIR/victim
mkdir -p "$victim"
echo keep >"$victim/file"
"$CLUSTER_SH" exec 1 sh -c "ln -s '$victim' /dev/shm/qb-$d-1-1-trap1 &&
	mkdir /dev/shm/qb-$d-2-2-trap2 && : >/dev/shm/qb-$d-2-2-trap2/qb-request-corolease-header &&
	ln -s '$victim/file' /dev/shm/qb-$d-2-2-trap2/qb-event-corolease-data &&
	mkdir /dev/shm/qb-$d-3-3-empty" || fail "planting the traps"
# the client dies too, before it can unlink its ring files (a client that
# exits cleanly unlinks them itself and leaves the directory empty: the
# planted empty directory stands for that case)
kill -KILL "$(awk '{print $1}' "$CLUSTER_DIR/n1/holder.pid")" 2>/dev/null
must_wait 10 "the client is gone" exited "$(awk '{print $1}' "$CLUSTER_DIR/n1/holder.pid")"
start_daemon 1
must_wait 30 "node 1: coroleased synced again" synced 1
rest=$("$CLUSTER_SH" exec 1 sh -c "ls -d /dev/shm/qb-$d-* 2>/dev/null" | tr '\n' ' ')
say "left in /dev/shm after the restart: ${rest:-nothing}"
check "the dead daemon's leftovers are gone, the look-alike and the empty directory too; only the symlink (not a leftover) stays" \
	[ "$rest" = "/dev/shm/qb-$d-1-1-trap1 " ]
check "the victim directory outside /dev/shm is intact" [ "$(cat "$victim/file")" = keep ]
check "coroleased logged the clean-up" grep -q "removed [0-9]* stale libqb IPC leftovers" "$CLUSTER_DIR/n1/coroleased.log"
it_pass
