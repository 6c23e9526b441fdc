#!/bin/bash
# 69. BREAKER FINDING (issue 8, item 4): COROLEASE_NODE_SHARED lets any
# local user join another user's exclusive hold.
#
# Issue 8 asked for an explicit flag for node-shared EX holds "which the
# Dovecot plugin will use for several imap processes of one user on one
# node".  The node arbitrates local clients without knowing their users
# (core/node_lease.c, local_compatible): an EX NODE_SHARED request is
# granted beside any EX NODE_SHARED holder.  uid 61002 holds mbox/alice
# EX NODE_SHARED and writes its index; uid 61001 (another member of
# socket_group) asks for mbox/alice EX NODE_SHARED: granted at once, with
# the same fencing token, while 61002 still holds it, and its index write
# under that token succeeds.
#
# Failed before the fix ("uid 61001 cannot join uid 61002's exclusive
# hold").  The fix: node-shared holds are shared between clients of one uid
# only (core/node_lease.c, local_compatible()); uid 61001 gets EBUSY.
. "$(dirname "$0")/lib.sh"
it_init node-shared-users 69
CL_NS=$IT_BUILD/tests/integration/cl-nshared
[[ -x $CL_NS ]] || skip "cl-nshared not built"
[[ $(getent group users | cut -d: -f3) == 100 ]] || skip "group users (100) needed"
EXTRA_DAEMON_OPTS=(-o socket_group=users)
it_up 1
d=$(daemon_pid 1)
A=(setpriv --reuid=61001 --regid=100 --clear-groups)
V=(setpriv --reuid=61002 --regid=100 --clear-groups)

spawn 1 victim "${V[@]}" "$CL_NS" mbox/alice owner alice >/dev/null
must_wait 20 "uid 61002 holds mbox/alice EX NODE_SHARED" grep -q '^ready' "$CLUSTER_DIR/n1/victim.log"
spawn 1 intruder "${A[@]}" "$CL_NS" mbox/alice owner mallory >/dev/null
must_wait 20 "uid 61001's request was answered" grep -qE '^(ready|refused)' "$CLUSTER_DIR/n1/intruder.log"
say "uid 61002: $(tr '\n' ' ' < "$CLUSTER_DIR/n1/victim.log")"
say "uid 61001: $(tr '\n' ' ' < "$CLUSTER_DIR/n1/intruder.log")"
say "index of mbox/alice now: $(cl 1 index get mbox/alice owner 2>&1 | tr '\n' ' ')"
check "coroleased (pid $d) still running" alive "$d"
check "uid 61001 cannot join uid 61002's exclusive hold" grep -q '^refused' "$CLUSTER_DIR/n1/intruder.log"
it_pass
