#!/bin/bash
# 117. A RENAME moves the source mailbox's children too: with Maildir++
# (the harness's layout) "a", "a.b" and "a.b.c" are the directories .a,
# .a.b and .a.b.c, and RENAME a c renames all three.  Another node with a
# child open must not keep working on a directory that moved, so the rename
# takes the lease of every child (and of its new name), waiting as an open
# does.  Written against a plugin that took only the leases of "a" and "c":
# RENAME OK at once while node 2 held a.b.
#
# Node 2 holds a.b's mailbox lease through a root CLI (not node-shared, as
# t92 section 3 does), which does not let go on `wanted`:
#   1. held past corolease_mailbox_wait: RENAME a c is refused with
#      "NO [INUSE] Mailbox a.b is in use on cluster node 2", nothing moved,
#      and node 1 keeps none of the leases it took for it;
#   2. held 1.5 s: the RENAME waits, answers OK only after node 2 let go,
#      and everything moved.
# The handover timeout is long: a holder that ignores `wanted` keeps the
# lease past the wait (the daemon would otherwise revoke it and let the
# rename go ahead, correctly, after the handover timeout).
HANDOVER_MS=60000
DV_MAILBOX_WAIT=4s
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-rename-children 117
MD=$DV_STORE/u1/Maildir
CHILD=mailbox//run/cl-mail/u1/Maildir/.a.b
owner_is() { [ "$(cl 1 owner "$1")" = "$2" ]; }

# u1 creates a, a.b and a.b.c (a session on node 1, logged out again)
printf '%s\n' 'CREATE a' 'CREATE a.b' 'CREATE a.b.c' >"$CLUSTER_DIR/s0.txt"
out=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s0.txt")
check "u1 created a, a.b and a.b.c on node 1" [ "$(grep -c ' S: t[123] OK' <<<"$out")" = 3 ]
check "Maildir++: .a, .a.b, .a.b.c are directories of u1's Maildir" \
	bash -c "[ -d '$MD/.a' ] && [ -d '$MD/.a.b' ] && [ -d '$MD/.a.b.c' ]"

must_wait 10 "the session's leases on a.b are gone (it logged out)" owner_is "$CHILD" 0

# 1. node 2 holds a.b and does not let go: refused
spawn 2 childholder "$CLI" acquire "$CHILD" -- sleep 120 >/dev/null
must_wait 10 "node 2 holds a.b's mailbox lease" owner_is "$CHILD" 2
printf '%s\n' 'RENAME a c' >"$CLUSTER_DIR/s1.txt"
out=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt")
grep -E ' S: t1 |took .* t1$' <<<"$out"
check "RENAME a c is refused with NO [INUSE] naming a.b and node 2" \
	grep -q ' S: t1 NO \[INUSE\] Mailbox a.b is in use on cluster node 2' <<<"$out"
check "nothing moved: .a, .a.b, .a.b.c are there, no .c, .c.b, .c.b.c" \
	bash -c "[ -d '$MD/.a' ] && [ -d '$MD/.a.b' ] && [ -d '$MD/.a.b.c' ] &&
		[ ! -e '$MD/.c' ] && [ ! -e '$MD/.c.b' ] && [ ! -e '$MD/.c.b.c' ]"
must_wait 10 "node 1 released the leases it took for the RENAME (a, c)" \
	bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u1/Maildir/.a)\" = 0 ] &&
		[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner mailbox//run/cl-mail/u1/Maildir/.c)\" = 0 ]"
check "node 2 still holds a.b" owner_is "$CHILD" 2
kill -TERM "$(daemon_pid 2 childholder)"
must_wait 10 "node 2 let a.b go" owner_is "$CHILD" 0

# 2. node 2 holds a.b for 1.5 s: the RENAME waits for it, then moves everything
# (the holder writes the time just before it ends, and the lease goes after)
spawn 2 childholder2 "$CLI" acquire "$CHILD" -- \
	sh -c "sleep 1.5; date +%s.%N >'$CLUSTER_DIR/released'" >/dev/null
must_wait 10 "node 2 holds a.b's mailbox lease again" owner_is "$CHILD" 2
out=$(cluster exec 1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt")
grep -E ' S: t1 |took .* t1$' <<<"$out"
t_ok=$(awk '/ S: t1 OK/ { print $1 }' <<<"$out")
t_rel=$(cat "$CLUSTER_DIR/released" 2>/dev/null)
say "RENAME answered OK at ${t_ok:-never}; node 2's holder ended at ${t_rel:-never}"
check "RENAME a c answered OK once node 2 let go" [ -n "$t_ok" ]
check "... not before node 2's holder ended" \
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) > float(sys.argv[1]) else 1)' "${t_rel:-9e99}" "${t_ok:-0}"
check "everything moved: .c, .c.b, .c.b.c, no .a, .a.b, .a.b.c" \
	bash -c "[ -d '$MD/.c' ] && [ -d '$MD/.c.b' ] && [ -d '$MD/.c.b.c' ] &&
		[ ! -e '$MD/.a' ] && [ ! -e '$MD/.a.b' ] && [ ! -e '$MD/.a.b.c' ]"
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
