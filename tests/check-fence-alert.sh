#!/bin/bash
# check-fence-alert.sh - packaging/pacemaker/alert_corolease_fence.sh runs
# 'corolease fence-ack ID' only after a successful fencing alert: with stub
# corolease and crm_node in PATH it acks node2 as id 2 on kind=fencing rc=0
# whose CRM_alert_desc (as Pacemaker writes it) names a reboot or off of
# node2, and does nothing for a failed fencing (rc 1), an unfencing (on), a
# description of another form or another target, a node alert, or a node
# crm_node does not know; the CLI's failure is passed on; a node still a
# member (ENODEALIVE: fenced faster than corosync noticed) or a daemon
# synchronising (exit 4) is retried for COROLEASE_FENCE_WAIT seconds.
set -u
src=${top_srcdir:-.}
AGENT=$src/packaging/pacemaker/alert_corolease_fence.sh
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/corolease" <<'STUB'
#!/bin/sh
# STUB_FIRST=N STUB_FIRST_RC=RC: the first N calls fail with RC (6: as
# for a node still a member, ENODEALIVE); then STUB_RC
echo "$*" >>"$STUB_LOG"
if [ "$(wc -l <"$STUB_LOG")" -le "${STUB_FIRST:-0}" ]; then
	[ "$STUB_FIRST_RC" = 6 ] && echo "corolease: fence-ack node 2: node is alive (ENODEALIVE)" >&2
	exit "$STUB_FIRST_RC"
fi
exit "${STUB_RC:-0}"
STUB
cat >"$tmp/crm_node" <<'STUB'
#!/bin/sh
printf '1 node1 member\n2 node2 lost\n3 node3 member\n'
STUB
chmod +x "$tmp/corolease" "$tmp/crm_node"
export PATH="$tmp:$PATH" STUB_LOG=$tmp/calls
bad=0
# CRM_alert_desc as Pacemaker's controller writes it: desc ACTION TARGET
desc() { echo "CRM_alert_desc=Operation $1 of $2 by node1 for pacemaker-controld.1234@node1: OK (ref=0f4c2a9e-1b7d-4e62-8a3f-5d9c0b1e2a77)"; }
R2=$(desc reboot node2)
# run EXPECTED-RC EXPECTED-CALLS DESC ENV...
run() {
	local want_rc=$1 want=$2 desc=$3; shift 3
	: >"$STUB_LOG"
	env -i PATH="$PATH" STUB_LOG="$STUB_LOG" "$@" sh "$AGENT" 2>/dev/null; local rc=$?
	local got; got=$(cat "$STUB_LOG")
	if [[ $rc == "$want_rc" && $got == "$want" ]]; then
		echo "ok: $desc"
	else
		echo "FAIL: $desc: rc $rc (want $want_rc), calls '$got' (want '$want')"; bad=1
	fi
}
run 0 "fence-ack 2" "successful fencing of node2: fence-ack 2" CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 CRM_alert_task=st_notify_fence "$R2"
run 0 "fence-ack 7" "CRM_alert_nodeid wins over crm_node" CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 CRM_alert_nodeid=7 "$R2"
run 0 "" "failed fencing: no fence-ack" CRM_alert_kind=fencing CRM_alert_rc=1 CRM_alert_node=node2
run 0 "" "node alert: ignored" CRM_alert_kind=node CRM_alert_rc=0 CRM_alert_node=node2
run 0 "" "resource alert: ignored" CRM_alert_kind=resource CRM_alert_node=node2
run 1 "" "unknown node: no fence-ack, exit 1" CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=nodeX "$(desc off nodeX)"
run 3 "fence-ack 2" "the CLI's failure is passed on" CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 STUB_RC=3 "$R2"
# (adversarial, issue 11) Pacemaker's controller sends the fencing alert for
# every fencer event, unfencing ("on") too: it alerts before it looks at the
# action.  Pacemaker 2.1.5 sets CRM_alert_task to st_notify_fence for all of
# them (seen in t33's run: "fenced (st_notify_fence)"); only CRM_alert_desc,
# "Operation ACTION of TARGET by EXECUTIONER for CLIENT@ORIGIN: RESULT
# (ref=ID)", names the action.  A successful unfencing (fence_scsi or
# fence_mpath with provides=unfencing when the node joins, or
# 'stonith_admin --unfence NODE') lets a node back at the storage: nothing
# was fenced, so nothing may be fence-acked.
run 0 "" "successful unfencing (Operation on) of node2: no fence-ack" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 CRM_alert_task=st_notify_fence \
	"CRM_alert_desc=Operation on of node2 by node1 for stonith_admin.4242@node1: OK (ref=5bd3a8e4-7f1c-4d0e-9c55-3e2a1b0c9d11)"
# (adversarial, issue 11) Pacemaker matches node names without regard to
# case (its peer cache and fence targets), so 'stonith_admin --fence NODE2'
# fences node2 and the alert names the target as typed.  crm_node -l lists
# node2: the agent finds no id, exits 1 and acks nothing, and in the
# split-capable quorum modes (two_node) node 2's leases then stay held until
# someone runs fence-ack by hand.
run 0 "fence-ack 2" "fencing of NODE2 (node2 in another case): fence-ack 2" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=NODE2 CRM_alert_task=st_notify_fence "$(desc reboot NODE2)"
run 0 "fence-ack 2" "off of node2: fence-ack 2" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 CRM_alert_task=st_notify_fence "$(desc off node2)"
run 0 "" "no CRM_alert_desc: the action is unknown, no fence-ack" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 CRM_alert_task=st_notify_fence
run 0 "" "a description of another form: no fence-ack" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 "CRM_alert_desc=node2 was rebooted"
run 0 "" "a description naming another target: no fence-ack" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 "$(desc reboot node3)"
run 0 "" "an unknown action (status): no fence-ack" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 "$(desc status node2)"
two=$'fence-ack 2\nfence-ack 2'
run 0 "$two"$'\nfence-ack 2' "fenced node still a member twice (ENODEALIVE): retried until acked" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 STUB_FIRST=2 STUB_FIRST_RC=6 COROLEASE_FENCE_WAIT=5 "$R2"
run 0 "$two" "daemon synchronising once (exit 4): retried" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 STUB_FIRST=1 STUB_FIRST_RC=4 COROLEASE_FENCE_WAIT=5 "$R2"
run 6 "$two" "still a member after COROLEASE_FENCE_WAIT=1: exit 6 after 2 tries" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 STUB_FIRST=9 STUB_FIRST_RC=6 COROLEASE_FENCE_WAIT=1 "$R2"
run 6 "fence-ack 2" "another error (exit 6, not ENODEALIVE): not retried" \
	CRM_alert_kind=fencing CRM_alert_rc=0 CRM_alert_node=node2 STUB_RC=6 COROLEASE_FENCE_WAIT=5 "$R2"
exit $bad
