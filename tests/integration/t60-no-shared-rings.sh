#!/bin/bash
# 60. Issue 8, breaker findings F1-F3: a client shares no writable memory
# with the daemon.  libqb's IPC kept each connection's ring headers (file
# paths, word size, write pointer) in /dev/shm files the client maps
# read-write, and the daemon (root) trusted them: a socket_group member
# could make it unlink files of its choice, munmap at random, write out of
# bounds, take SIGBUS (a truncated ring), or fill /dev/shm by asking for
# huge rings.  Over its own socket the only file a client maps is the
# validity page, read-only.  (The daemon itself is a libqb client of
# corosync; those rings are corosync's.)  Here 20 connections of a member (uid 61001,
# group users) are open, each holding a lease: the daemon maps nothing
# beyond the validity page in /dev/shm or the run dir, no file appears in
# /dev/shm, and the daemon's shared memory does not grow with them.
. "$(dirname "$0")/lib.sh"
it_init no-shared-rings 60
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
AS=(setpriv --reuid=61001 --regid=100 --clear-groups)
shmem() { awk '/^RssShmem:/ {print $2}' "/proc/$1/status"; }
shm_files() { "$CLUSTER_SH" exec 1 sh -c 'find /dev/shm -mindepth 1 | wc -l'; }

files0=$(shm_files) shm0=$(shmem "$d")
for k in $(seq 20); do
	spawn 1 c$k "${AS[@]}" "$CL_VALID" rings/x$k >/dev/null
done
for k in $(seq 20); do
	must_wait 20 "member client $k holds rings/x$k" grep -q "^valid rings/x$k 1" "$CLUSTER_DIR/n1/c$k.log"
done
files1=$(shm_files) shm1=$(shmem "$d")
maps=$(grep -E '/dev/shm|/run/corolease' "/proc/$d/maps" | awk '{print $2, $6}' | sort -u)
say "files in /dev/shm: $files0 -> $files1; daemon RssShmem $shm0 -> $shm1 kB; its shared mappings:"
sed "s/^/[$IT_NAME]   /" <<<"$maps"
check "no file appeared in /dev/shm for 20 connections" [ "$files1" -le "$files0" ]
# (its own connections to corosync, as a libqb client, are qb-COROSYNCPID-DAEMONPID-*)
check "the daemon serves no ring in /dev/shm (no qb-$d-* mapping)" bash -c "! grep -q '/dev/shm/qb-$d-' <<<'$maps'"
check "in the run dir it maps one file, the validity page, read-only for clients" \
	[ "$(grep -c ' /run/corolease/' <<<"$maps")" = 1 ]
check "the daemon's shared memory did not grow by 20 connections' rings (< 1 MiB)" [ $((shm1 - shm0)) -lt 1024 ]
for k in $(seq 20); do kill -TERM "$(daemon_pid 1 c$k)" 2>/dev/null; done
check "coroleased (pid $d) still running" alive "$d"
it_pass
