#!/bin/bash
# 91. The same three Dovecot nodes and load as t90 (one maildir tree,
# per-node bindfs mounts without shared POSIX locks), now with the corolease
# plugin: a user lease user/NAME and a lease per opened mailbox, node-shared
# between the mail processes of one node; another node's login waits (the
# holder's sessions end on `wanted`) or is refused.  Pass only with no
# "Corrupted", "fscking", "Panic" or "Fatal" line in any node's Dovecot log,
# every keep message the load appended (APPEND OK) present exactly once
# with unique UIDs, and the same (UID, Message-ID) list read from every node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
# a mail process that does not stop within revoke_timeout after a revoke is killed
# the mail processes run as mail:mail: let that group connect
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail)
it_init dovecot-plugin 91
dv_prereq
dv_up 3 1

dv_load 40 12
n_app=$(wc -l <"$DV_APPENDED")
check "the load appended messages through the plugin ($n_app)" [ "$n_app" -gt 20 ]
check "the plugin's leases were taken (corolease: lines in the logs)" \
	grep -q 'corolease:' "$CLUSTER_DIR"/n1/dovecot-mail.log "$CLUSTER_DIR"/n2/dovecot-mail.log \
	"$CLUSTER_DIR"/n3/dovecot-mail.log
say "sessions ended for another node: $(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants')"
out=$(dv_check); rc=$?
echo "$out"
check "every appended message present exactly once, unique UIDs, same list on every node" [ $rc = 0 ]
n=$(dv_corruption)
f=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'Fatal' || true)
say "corruption lines with the plugin: $n, Fatal lines: $f"
grep -hE 'Corrupted|fscking|Panic|Fatal' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -5
check "no Corrupted/fscking/Panic line with the plugin" [ "$n" = 0 ]
check "no Fatal line with the plugin" [ "$f" = 0 ]
it_pass
