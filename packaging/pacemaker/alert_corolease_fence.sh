#!/bin/sh
#
# alert_corolease_fence.sh - Pacemaker alert agent: after a SUCCESSFUL fencing
# of a node, 'corolease fence-ack NODEID', so coroleased recovers that node's
# orphaned leases at once instead of after the fence delay (and, in quorum
# modes where both sides of a split may stay quorate, at all).
#
# Acts only on CRM_alert_kind=fencing with CRM_alert_rc=0 whose action was a
# fence (off or reboot); every other alert is ignored (exit 0).  Pacemaker
# sends the fencing alert for every fencer event, an unfencing ("on") too,
# and 2.1.5 sets CRM_alert_task to st_notify_fence for all of them: only
# CRM_alert_desc, "Operation ACTION of TARGET by EXECUTIONER for
# CLIENT@ORIGIN: RESULT (ref=ID)", names the action.  It is parsed strictly:
# ACTION off or reboot and TARGET the alert's node, else nothing is acked
# (an unfencing silently, any other form with a log line).
# The target's corosync node id comes from CRM_alert_nodeid if Pacemaker set
# it, else from 'crm_node -l' (id name state), the name matched without
# regard to case as the fencer does.
# Never --force: a node that is a member again is refused by the daemon.
#
# Configure (pcs):
#   pcs alert create id=corolease-fence \
#       path=/usr/share/corolease/alert_corolease_fence.sh
#   pcs alert recipient add corolease-fence value=corolease
# Optional environment (alert meta or instance attributes):
#   COROLEASE_CLI       the corolease tool (default: corolease in PATH)
#   COROLEASE_RUN_DIR   coroleased's run directory, as for the CLI
#   COROLEASE_FENCE_WAIT  seconds to retry while the fenced node is still a
#                       corosync member (default 20; keep it below the alert's
#                       timeout, 30 s by default)
#
# Pacemaker runs alert agents as the hacluster user, which must be in the
# daemon's socket_group and admin_group to fence-ack:
#   usermod -a -G corolease,corolease-admin hacluster

CLI=${COROLEASE_CLI:-corolease}

log() { logger -t corolease-fence-alert -- "$*" 2>/dev/null; echo "corolease-fence-alert: $*" >&2; }

[ "${CRM_alert_kind:-}" = fencing ] || exit 0
if [ "${CRM_alert_rc:-}" != 0 ]; then
	log "fencing of ${CRM_alert_node:-?} did not succeed (rc ${CRM_alert_rc:-?}: ${CRM_alert_desc:-}): no fence-ack"
	exit 0
fi
node=${CRM_alert_node:-}
[ -n "$node" ] || { log "fencing alert without CRM_alert_node: no fence-ack"; exit 1; }

lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

# the action, from "Operation ACTION of TARGET by ...": exactly that form
desc=${CRM_alert_desc:-}
action=
case "$desc" in
"Operation "*" of "*" by "*)
	rest=${desc#Operation }
	action=${rest%% *}
	rest=${rest#"$action" of }
	target=${rest%% by *}
	# the target must be the alert's node (one word, any case)
	[ "$(lower "$target")" = "$(lower "$node")" ] || action=
	;;
esac
case "$action" in
off|reboot) ;;
on)	log "unfencing (on) of $node: nothing was fenced, no fence-ack"
	exit 0 ;;
*)	log "fencing alert for $node with an unknown description '$desc' (task ${CRM_alert_task:-?}): no fence-ack"
	exit 0 ;;
esac

id=${CRM_alert_nodeid:-}
case "$id" in
''|*[!0-9]*)
	id=$(crm_node -l 2>/dev/null | awk -v n="$node" 'tolower($2) == tolower(n) { print $1; exit }')
	;;
esac
case "$id" in
''|*[!0-9]*|0)
	log "no corosync node id for fenced node '$node' (crm_node -l): no fence-ack"
	exit 1
	;;
esac

# The fencer may report success before corosync has noticed that the node is
# gone (a power switch is faster than the token timeout), and the daemon
# resynchronises when it has: while the ack is refused because the node is
# still a member (ENODEALIVE) or the daemon is not quorate or synchronising
# (exit 4), try again once a second, for at most COROLEASE_FENCE_WAIT seconds.
wait_s=${COROLEASE_FENCE_WAIT:-20}
case "$wait_s" in ''|*[!0-9]*) wait_s=20 ;; esac
tries=0
while :; do
	out=$("$CLI" fence-ack "$id" 2>&1)
	rc=$?
	case "$rc:$out" in
	4:*|6:*ENODEALIVE*) [ $tries -lt "$wait_s" ] || break ;;
	*) break ;;
	esac
	tries=$((tries + 1))
	sleep 1
done
[ $tries -gt 0 ] && log "fence-ack of node $node (id $id) tried again for ${tries}s: $(echo "$out" | head -n 1)"
if [ $rc -eq 0 ]; then
	log "node $node (id $id) fenced ($action): fence-ack sent"
	exit 0
fi
log "corolease fence-ack $id for fenced node $node failed (exit $rc): $out"
exit "$rc"
