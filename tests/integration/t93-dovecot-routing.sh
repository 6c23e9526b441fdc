#!/bin/bash
# 93. Routing logins to the lease holder: every node's Dovecot checks the
# password in its first passdb, then asks corolease-route (a dict passdb
# over a Unix socket) where user/NAME is held; another node's answer is
# proxy_maybe=y host=ADDR, so imap-login proxies there instead of taking
# the user over.  Checked: a login on node 2 for a user held on node 1 is
# proxied (node 1 keeps the lease, no session ends); the load of t91 runs
# with routing, with no corruption and every message once; an LMTP delivery
# on a node that does not hold the user is proxied to the one that does; a login on a
# node whose corolease-route is down fails (it is not served locally).
HANDOVER_MS=60000
DV_ROUTE=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
EXTRA_DAEMON_OPTS=(-o kill_on_revoke=yes -o socket_group=mail)
it_init dovecot-routing 93
dv_prereq
[[ -x $DV_ROUTER ]] || skip "corolease-route not built"
getent group dovecot >/dev/null || skip "no dovecot group (the routing socket is for Dovecot's auth process)"
dv_up 3 1
mlog() { cat "$CLUSTER_DIR/n$1/dovecot-mail.log"; }

spawn 1 sess1 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u1 --select --seconds 60 >/dev/null
must_wait 20 "u1's session on node 1 selected INBOX" grep -q '^SELECT OK' "$CLUSTER_DIR/n1/sess1.log"
out=$(dv_imap 2 u1 select); rc=$?
echo "$out"
check "u1's login on node 2 is served (rc $rc)" [ $rc = 0 ]
check "node 2 proxied it to node 1" grep -q "proxy(u1,$CLUSTER_SUBNET.1:143): Started proxying" <(mlog 2)
check "node 1 still holds user/u1" [ "$(cl 3 owner user/u1)" = 1 ]
check "no session on node 1 was ended" bash -c "! grep -q 'corolease: node [0-9]* wants user/u1' '$CLUSTER_DIR/n1/dovecot-mail.log'"
kill -TERM "$(daemon_pid 1 sess1)"

dv_load 30 12
wants=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants' || true)
proxied=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'Started proxying' || true)
say "with routing: $proxied logins proxied, $wants sessions ended for another node"
out=$(dv_check); rc=$?
echo "$out"
check "every appended message present exactly once, unique UIDs, same list on every node" [ $rc = 0 ]
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]

# LMTP is routed the same way (lmtp_proxy = yes): a delivery on another node
# for a user held on node H (wherever the routed session landed) goes to H
spawn 1 sess2 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u2 --select --seconds 60 >/dev/null
must_wait 20 "u2's session selected INBOX" grep -q '^SELECT OK' "$CLUSTER_DIR/n1/sess2.log"
holder=$(cl 3 owner user/u2)
check "some node holds user/u2 ($holder)" [ "${holder:-0}" -gt 0 ]
other=$((holder % 3 + 1))
wants0=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants user/u2' || true)
mid=$(cluster exec 1 python3 "$DV_LOAD" lmtp --hosts "$CLUSTER_SUBNET.$other" --users u2 --out "$DV_APPENDED"); rc=$?
check "LMTP delivery to u2 on node $other accepted (rc $rc: $mid)" [ $rc = 0 ]
check "node $holder delivered it" grep -q "lmtp(u2).*msgid=$mid.*saved mail to INBOX" <(mlog "$holder")
check "node $holder still holds user/u2" [ "$(cl 3 owner user/u2)" = "$holder" ]
wants1=$(cat "$CLUSTER_DIR"/n*/dovecot-mail.log | grep -c 'corolease: node [0-9]* wants user/u2' || true)
check "no session of u2 was ended ($wants0 -> $wants1)" [ "$wants0" = "$wants1" ]
kill -TERM "$(daemon_pid 1 sess2)"
out=$(DV_USERS=u2 dv_check); rc=$?
echo "$out"
check "the delivered message is in u2's INBOX once, same list from every node" [ $rc = 0 ]

kill -TERM "$(daemon_pid 3 router)"
must_wait 10 "node 3's corolease-route stopped" exited "$(daemon_pid 3 router)"
before=$(wc -l <"$CLUSTER_DIR/n3/dovecot-mail.log")
out=$(dv_imap 3 u3 select); rc=$?
echo "$out"
check "a login on node 3 without its router fails (rc $rc)" [ $rc = 1 ]
check "and was not served there" bash -c "! tail -n +$((before + 1)) '$CLUSTER_DIR/n3/dovecot-mail.log' | grep -q 'imap(u3)'"
it_pass
