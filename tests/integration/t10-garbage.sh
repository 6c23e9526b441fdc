#!/bin/bash
# 10. Garbage, short, lying-size, unknown-type and oversized client messages
# (cl-garbage, a raw libqb client): each gets a COROLEASE_EPROTO result, the
# client is disconnected after repeated garbage, and the daemon survives and
# serves a normal client afterwards.
. "$(dirname "$0")/lib.sh"
it_init garbage 20
[[ -x $CL_GARBAGE ]] || skip "cl-garbage not built ($CL_GARBAGE)"
it_up 1
d=$(daemon_pid 1)
cluster exec 1 "$CL_GARBAGE" | sed "s/^/[$IT_NAME] cl-garbage: /"
rc=${PIPESTATUS[0]}
check "cl-garbage: every check passed (rc $rc)" [ "$rc" = 0 ]
check "coroleased (pid $d) still running" alive "$d"
check "a normal client is served: acquire -- true" cl 1 acquire it/after-garbage -- true
check "status still quorate and synced" synced 1
grep -E 'disconnecting client|malformed' "$CLUSTER_DIR/n1/coroleased.log" | head -3 | sed "s/^/[$IT_NAME] daemon log: /"
it_pass
