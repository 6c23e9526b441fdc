#!/bin/bash
# 94. The load of t91 (plugin, three Dovecot nodes, one maildir tree through
# per-node bindfs mounts) under faults.  Phase 1 (16 s, all nodes): 8 s in,
# node 3's corosync is killed with SIGKILL (its coroleased revokes its
# leases, its sessions end, the others take its users after the fence
# delay).  Phase 2 (20 s, nodes 1 and 2): 8 s in, node 2's coroleased gets
# SIGTERM (it drains: revokes local clients, hands its leases back) and is
# started again.  Then node 3's corosync comes back.  Phase 3 (20 s, all
# nodes): 6 s in, node 3 is partitioned away for 10 s, then healed.
# Pass only with no "Corrupted", "fscking" or "Panic" line in any node's
# log, every message whose APPEND was answered OK present exactly once with
# unique UIDs, and the same list read from every node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail)
it_init dovecot-faults 94
dv_prereq
dv_up 3 1

DV_APPENDED=$CLUSTER_DIR/appended
: >"$DV_APPENDED"
# load_phase TAG SECONDS HOSTS: the load in the background (node 1)
load_phase() {
	spawn 1 "$1" python3 "$DV_LOAD" load --hosts "$3" --users "$DV_USERS" --seconds "$2" \
		--workers 12 --out "$DV_APPENDED" >/dev/null
}

# phase 1: all three nodes; node 3's corosync killed 8 s in
load_phase load1 16 "$DV_HOSTS"
lpid=$(daemon_pid 1 load1)
sleep 8
say "$(cluster kill 3)"
must_wait 60 "phase 1 of the load ended" exited "$lpid"
say "phase 1: $(tail -n 1 "$CLUSTER_DIR/n1/load1.log")"

# phase 2: nodes 1 and 2 (a login on node 3, not quorate, waits out
# corolease_user_wait before it is refused); node 2's coroleased drained 8 s in
n2_lines=$(wc -l <"$CLUSTER_DIR/n2/dovecot-mail.log")
load_phase load2 20 "$CLUSTER_SUBNET.1,$CLUSTER_SUBNET.2"
lpid=$(daemon_pid 1 load2)
sleep 8
say "SIGTERM to node 2's coroleased"
kill -TERM "$(daemon_pid 2)"
must_wait 20 "node 2's coroleased drained and exited" exited "$(daemon_pid 2)"
start_daemon 2 coroleased
must_wait 30 "node 2's coroleased synced again" synced 2
must_wait 60 "phase 2 of the load ended" exited "$lpid"
say "phase 2: $(tail -n 1 "$CLUSTER_DIR/n1/load2.log")"
# every session node 2's plugin ended on the drain (revoke, daemon gone) was
# told why, or had nobody to tell.  imap_corolease sends "* BYE [UNAVAILABLE]
# Cluster lease lost: session ended", which Dovecot logs as the disconnect
# reason (old: "Server shutting down.").  A session still logging in (the
# revoke came while its user lease was being taken: no IMAP client yet) or
# already disconnecting (its LOGOUT or the client's close being handled) has
# nobody to tell, and imap_corolease logs "no IMAP session to tell why"
# instead.  CI once saw 2 sessions ended and neither told, when this test
# did not know about those (a run beside stress-ng showed the first kind on
# node 3's corosync kill).  A process blocked in a waiting acquire is killed
# instead (kill_on_revoke) and logs none of these.  The load client's own
# count (bye_lost) is only shown: about one session in five, with or without
# imap_corolease, sees a reset or EOF instead of the BYE (t91 runs: 236 of
# 1120, 289 of 1310), which t92 does not depend on.
phase2_log() { tail -n +"$((n2_lines + 1))" "$CLUSTER_DIR/n2/dovecot-mail.log"; }
lost2=$(phase2_log | grep -cE 'corolease: (lease revoked|coroleased gone|lease no longer valid): ending the session' || true)
disc2=$(phase2_log | grep -c 'Disconnected: \[UNAVAILABLE\] Cluster lease lost: session ended' || true)
untold2=$(phase2_log | grep -c 'corolease: no IMAP session to tell why' || true)
bye_lost2=$(tail -n 1 "$CLUSTER_DIR/n1/load2.log" | awk '{ for (i = 1; i < NF; i++) if ($i == "bye_lost") print $(i + 1) }')
say "phase 2: node 2 ended $lost2 sessions on the drain: $disc2 disconnected with the reason, $untold2 with nobody to tell; clients that read it: ${bye_lost2:-0}"
check "phase 2: each session node 2 ended on the drain was disconnected with '[UNAVAILABLE] Cluster lease lost: session ended' or had nobody to tell ($disc2 + $untold2 of $lost2)" \
	[ "$((disc2 + untold2))" = "$lost2" ]
cluster start 3 >/dev/null 2>&1
must_wait 60 "node 3 back: coroleased synced and quorate" synced 3

# phase 3 (20 s, all nodes): 6 s in, node 3 is cut off from the others for
# 10 s (its leases are revoked on the quorum loss, the majority takes its
# users after the fence delay), then healed
load_phase load3 20 "$DV_HOSTS"
lpid=$(daemon_pid 1 load3)
sleep 6
say "$(cluster partition 3)"
sleep 10
say "$(cluster heal 3)"
must_wait 90 "phase 3 of the load ended" exited "$lpid"
say "phase 3: $(tail -n 1 "$CLUSTER_DIR/n1/load3.log")"
must_wait 60 "node 3 synced and quorate after the partition" synced 3
say "sessions ended on wanted: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants'), on revoke: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: .* revoked'), daemon lost: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: lost the connection'), refused: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'session refused')"
# a process blocked in a waiting acquire when its other lease is revoked
# acts on the revoke only after that wait: coroleased kills it (kill_on_revoke)
say "mail processes killed by coroleased (kill_on_revoke): $(cat "$CLUSTER_DIR"/n*/coroleased*.log | grep -c 'killing client')"
n_app=$(wc -l <"$DV_APPENDED")
check "the load appended messages ($n_app)" [ "$n_app" -gt 20 ]
out=$(dv_check); rc=$?
echo "$out"
check "every appended message present exactly once, unique UIDs, same list on every node" [ $rc = 0 ]
n=$(dv_corruption)
grep -hE 'Corrupted|fscking|Panic' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -5
check "no Corrupted/fscking/Panic line under faults ($n)" [ "$n" = 0 ]
it_pass
