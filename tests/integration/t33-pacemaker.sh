#!/bin/bash
# 33. coroleased under a real Pacemaker (Debian's 2.1) on the test cluster:
# pacemakerd in each of 3 nodes (private /var/lib/pacemaker, /var/log/pacemaker,
# /run), configured with cibadmin / crm_attribute / crm_resource only: the OCF
# agent ocf:corolease:coroleased as a clone, an ocf:pacemaker:Dummy clone
# ordered after and colocated with it (both interleaved), a fence device
# (fence_clsn: powers a node off by killing everything in its namespaces),
# stonith-enabled, and the fencing alert agent.  Checks, with crm_mon output in the log:
#  - the clone is started on every node with batch-limit 1 (one start at a
#    time, as Pacemaker's throttle does under load: each fresh daemon's start
#    succeeds after grace_wait while it waits for the others), the Dummy
#    too, after it on each node, from the controllers' logs), every daemon synced;
#  - kill -9 of coroleased on node 2: Pacemaker's monitor notices, restarts
#    it (a new pid, synced) and records the failure; the Dummy restarts on
#    node 2 only, after coroleased;
#  - standby of node 3 while a client there holds a lease and node 1 waits:
#    the stop drains (the lease is handed back, never orphaned; node 3's
#    daemon hands it back before it stops), node 1's waiter is granted long
#    before the fence delay, both clones stop on node 3 only;
#  - fencing (stonith_admin --fence node3) while node 3 holds a lease: the
#    alert agent runs 'corolease fence-ack 3' after the successful fencing,
#    node 1's waiter is granted well before the (30 s) fence delay, and the
#    daemon logs say node 3 was fence-acked.
. "$(dirname "$0")/lib.sh"
command -v pacemakerd >/dev/null || skip "Pacemaker not installed (Debian: apt-get install pacemaker pacemaker-cli-utils)"
command -v cibadmin >/dev/null && command -v crm_mon >/dev/null && command -v stonith_admin >/dev/null ||
	skip "Pacemaker's command line tools missing (pacemaker-cli-utils)"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
[[ -f /usr/lib/ocf/resource.d/pacemaker/Dummy ]] || skip "ocf:pacemaker:Dummy missing (pacemaker-resource-agents)"
id hacluster >/dev/null 2>&1 && getent group haclient >/dev/null || skip "no hacluster user / haclient group (pacemaker)"
it_init pacemaker 36
plain_build_only "Pacemaker drives the shell agent; the daemon paths it drives run under ASan in other tests"

SRC=$IT_SRCDIR/../..
ALERT=$(cd "$SRC/packaging/pacemaker" && pwd)/alert_corolease_fence.sh
# Pacemaker runs alert agents as hacluster: it must reach the agent and the CLI
runuser -u hacluster -- sh -c 'test -r "$1" && "$2" --version' sh "$ALERT" "$CLI" >/dev/null 2>&1 ||
	fail "user hacluster (alert agents run as it) cannot read $ALERT or run $CLI: the source and build trees must be readable by other users"
FENCE_DELAY_MS=30000
RUN=/run/corolease
# the daemons Pacemaker starts: a fence delay long enough to tell a
# fence-ack from it, and a handover timeout that does not end a hold while
# the test waits (the hand-backs here come from the drain and the fencing)
OPTS="-d -o socket_group=haclient -o admin_group=haclient -o fence_delay_ms=$FENCE_DELAY_MS"
OPTS+=" -o revoke_timeout_ms=$REVOKE_MS -o linger_ms=$LINGER_MS -o handover_timeout_ms=120000"

# where Pacemaker looks: the OCF agent under /usr/lib/ocf/resource.d/corolease
# and the fence agent in /usr/sbin, both overlaid from this test's directory
# in every node; the alert agent runs from the source tree
mkdir -p "$CLUSTER_DIR/ocf/corolease" "$CLUSTER_DIR/sbin"
install -m 755 "$SRC/packaging/ocf/coroleased" "$CLUSTER_DIR/ocf/corolease/coroleased"
install -m 755 "$IT_SRCDIR/fence_clsn" "$CLUSTER_DIR/sbin/fence_clsn"
export NODE_PRIVATE_DIRS="/var/lib/pacemaker /var/log/pacemaker"
export NODE_OVERLAYS="/usr/sbin=$CLUSTER_DIR/sbin /usr/lib/ocf/resource.d=$CLUSTER_DIR/ocf"

# at exit: power every node off first (pacemakerd's orderly shutdown would
# stop every resource, and cluster.sh leaves alone what it did not start),
# then the usual teardown
pcmk_cleanup() {
	local rc=$? i
	if [[ -e $CLUSTER_DIR/N && $IT_KEEP != 1 ]]; then
		if ((rc != 0)); then
			for ((i = 1; i <= 3; i++)); do
				echo "-------- node $i: crm_mon -1 --------"
				cluster exec "$i" timeout 20 crm_mon -1 2>&1
			done >&2
		fi
		for ((i = 1; i <= 3; i++)); do cluster poweroff "$i" >/dev/null 2>&1; done
	fi
	(exit "$rc")
	it_cleanup
}
trap pcmk_cleanup EXIT

# pcl I ARGS...: the CLI in node I, against the daemon Pacemaker runs
pcl() { local i=$1; shift; cluster exec "$i" env COROLEASE_RUN_DIR=$RUN "$CLI" "$@"; }
psynced() {
	local j; j=$(pcl "$1" --json status 2>/dev/null) || return 1
	[[ $(jget "$j" .synced) == true && $(jget "$j" .quorate) == true && $(jget "$j" .grace) == false ]]
}
psynced_or_grace() {
	local j; j=$(pcl "$1" --json status 2>/dev/null) || return 1
	[[ $(jget "$j" .synced) == true && $(jget "$j" .quorate) == true ]]
}
pdaemon_pid() { cluster exec "$1" cat "$RUN/coroleased.pid" 2>/dev/null; }
mon() { cluster exec "${2:-1}" timeout 20 crm_mon -1 "${@:3}"; }
# mon_xpath XPATH [NODE]: an XPath value of 'crm_mon --output-as=xml'
mon_xpath() {
	local x; x=$(cluster exec "${2:-1}" timeout 20 crm_mon -1 --output-as=xml 2>/dev/null) || return 1
	xmllint --xpath "$1" - <<<"$x" 2>/dev/null
}
# show_mon TITLE: crm_mon -1 into the log
show_mon() {
	say "crm_mon -1 ($1):"
	mon 1 1 2>&1 | sed 's/^/    /'
}
dc_and_online() { # N: a DC, N nodes online (seen from node 1)
	[[ $(mon_xpath 'string(//current_dc/@present)') == true &&
	   $(mon_xpath 'count(//nodes/node[@online="true"])') == "$1" ]]
}
# running_on RSC: the sorted names of the nodes where RSC (a primitive or
# a clone) is started, active and not failed, from crm_mon
running_on() {
	mon_xpath "//*[@id='$1']/descendant-or-self::resource[@role='Started'][@active='true'][@failed='false'][not(@pending)]/node/@name" |
		grep -o 'node[0-9]*' | sort | tr '\n' ' ' | sed 's/ $//'
}
is_running_on() { [[ $(running_on "$1") == "$2" ]]; }
# holder_is I NAME NODE: node I's view: NODE holds NAME (not orphaned)
holder_is() { local j; j=$(pcl "$1" --json show "$2" 2>/dev/null) || return 1; [[ $j == *"\"holders\":[{\"node\":$3,"* && $j != *'"orphaned":true'* ]]; }
# dummy_starts I: how often node I's controller started the Dummy
dummy_starts() { grep -c 'Requesting local execution of start operation for dummy on' "$CLUSTER_DIR/n$1/pacemaker.log"; }
# dummy_ordered I: in node I's Pacemaker log, every start of the Dummy
# follows a successful start of coroleased there that no earlier Dummy start
# followed (the order constraint, interleaved: per node)
dummy_ordered() {
	awk -v node="node$1" '
		index($0, "Result of start operation for corolease on " node ": ok") { ready = 1 }
		index($0, "Requesting local execution of start operation for dummy on " node) {
			if (!ready) { bad = 1; print "dummy started at line " NR " with no new start of corolease before it" }
			ready = 0; n++ }
		END { exit bad || !n }' "$CLUSTER_DIR/n$1/pacemaker.log"
}
waiter_is() { local j; j=$(pcl "$1" --json show "$2" 2>/dev/null) || return 1; [[ $j == *"\"waiters\":[{\"node\":$3"* ]]; }

cluster up 3 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 3"; }
for ((i = 1; i <= 3; i++)); do
	check "node $i has its own /var/lib/pacemaker" cluster exec "$i" sh -c \
		"findmnt -n /var/lib/pacemaker | grep -q '$CLUSTER_DIR/n$i/priv/var/lib/pacemaker'"
	install -o hacluster -g haclient -m 660 /dev/null "$CLUSTER_DIR/n$i/pacemaker.log"
	# the daemon's log (log_file of the agent), where the log dump and the
	# sanitizer check of it_cleanup look
	ln -s "priv/var/log/pacemaker/coroleased.log" "$CLUSTER_DIR/n$i/coroleased.log"
	spawn "$i" pacemakerd env PCMK_logfile="$CLUSTER_DIR/n$i/pacemaker.log" PCMK_logfacility=none \
		pacemakerd >/dev/null || fail "spawn pacemakerd in node $i"
done
must_wait 120 "Pacemaker: a DC and 3 nodes online" dc_and_online 3
show_mon "Pacemaker up, nothing configured"

# ---- configuration (cibadmin, crm_attribute)
# attrs ID NAME=VALUE...: an instance_attributes block (ids ID-ia, ID-NAME)
attrs() {
	local id=$1 kv; shift
	echo "<instance_attributes id=\"$id-ia\">"
	for kv in "$@"; do echo "  <nvpair id=\"$id-${kv%%=*}\" name=\"${kv%%=*}\" value=\"${kv#*=}\"/>"; done
	echo "</instance_attributes>"
}
cat >"$CLUSTER_DIR/resources.xml" <<EOF
<resources>
  <primitive id="fence-clsn" class="stonith" type="fence_clsn">
    $(attrs fence-clsn cluster_sh="$CLUSTER_SH" cluster_dir="$CLUSTER_DIR" pcmk_host_list="node1 node2 node3")
    <operations>
      <op id="fence-clsn-monitor" name="monitor" interval="60s" timeout="30s"/>
    </operations>
  </primitive>
  <clone id="corolease-clone">
    <meta_attributes id="corolease-clone-meta">
      <nvpair id="corolease-clone-interleave" name="interleave" value="true"/>
    </meta_attributes>
    <primitive id="corolease" class="ocf" provider="corolease" type="coroleased">
      $(attrs corolease binary="$DAEMON" cli="$CLI" config=/dev/null run_dir="$RUN" \
	      log_file=/var/log/pacemaker/coroleased.log options="$OPTS" grace_wait=35)
      <operations>
        <op id="corolease-start" name="start" interval="0s" timeout="120s"/>
        <op id="corolease-stop" name="stop" interval="0s" timeout="60s"/>
        <op id="corolease-monitor" name="monitor" interval="2s" timeout="30s"/>
      </operations>
    </primitive>
  </clone>
  <clone id="dummy-clone">
    <meta_attributes id="dummy-clone-meta">
      <nvpair id="dummy-clone-interleave" name="interleave" value="true"/>
    </meta_attributes>
    <primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy">
      <operations>
        <op id="dummy-monitor" name="monitor" interval="10s" timeout="30s"/>
      </operations>
    </primitive>
  </clone>
</resources>
EOF
# the alert agent, for fencing events only, with the CLI and run dir as
# environment (instance attributes)
cat >"$CLUSTER_DIR/alerts.xml" <<EOF
<alerts>
  <alert id="corolease-fence" path="$ALERT">
    <select>
      <select_fencing/>
    </select>
    $(attrs corolease-fence COROLEASE_CLI="$CLI" COROLEASE_RUN_DIR="$RUN")
    <recipient id="corolease-fence-recipient" value="corolease"/>
  </alert>
</alerts>
EOF
pcmk() { local out; out=$(cluster exec 1 "$@" 2>&1) || fail "$* failed: $out"; ok "$*"; }
pcmk crm_attribute --type crm_config --name stonith-enabled --update true
# one action at a time for the first start, as Pacemaker's throttle does
# under load (a CI run at load 11 started the clone on node 2 alone; that
# fresh daemon waited in its grace period for the other nodes' coroleased,
# which Pacemaker started only after it: the start failed after 115 s and
# banned the clone from node 2).  grace_wait (35 s, over the fence delay of
# 30 s) lets each start succeed in the grace period.
pcmk crm_attribute --type crm_config --name batch-limit --update 1
pcmk cibadmin --replace --scope resources --xml-file "$CLUSTER_DIR/resources.xml"
pcmk cibadmin --create --scope constraints --xml-text \
	'<rsc_order id="dummy-after-corolease" first="corolease-clone" then="dummy-clone" kind="Mandatory"/>'
pcmk cibadmin --create --scope constraints --xml-text \
	'<rsc_colocation id="dummy-with-corolease" rsc="dummy-clone" with-rsc="corolease-clone" score="INFINITY"/>'
pcmk cibadmin --create --scope configuration --xml-file "$CLUSTER_DIR/alerts.xml"
check "crm_verify: the configuration is valid" cluster exec 1 crm_verify --live-check

must_wait 180 "corolease-clone started on every node, one start at a time (batch-limit 1)" is_running_on corolease-clone "node1 node2 node3"
pcmk crm_attribute --type crm_config --name batch-limit --delete
must_wait 60 "dummy-clone (ordered after it) started on every node" is_running_on dummy-clone "node1 node2 node3"
fence_started() { [[ $(running_on fence-clsn) == node[123] ]]; }
must_wait 30 "the fence device is started" fence_started
show_mon "configured"
for ((i = 1; i <= 3; i++)); do
	check "node $i: the Dummy started after coroleased there (order constraint)" dummy_ordered "$i"
done
say "crm_resource --resource corolease-clone --locate:"
cluster exec 1 crm_resource --resource corolease-clone --locate 2>&1 | sed 's/^/    /'
for ((i = 1; i <= 3; i++)); do
	must_wait 30 "node $i: the daemon Pacemaker started is synced and quorate" psynced_or_grace "$i"
done
check "the run dir is mode 755 under Pacemaker's umask (clients of any uid open it)" \
	bash -c "[[ \$('$CLUSTER_SH' exec 1 stat -c %a $RUN) == 755 ]]"

# ---- kill -9 of coroleased on node 2: Pacemaker recovers it
p2=$(pdaemon_pid 2)
alive "$p2" || fail "no coroleased pid on node 2 ($p2)"
starts=("" "$(dummy_starts 1)" "$(dummy_starts 2)" "$(dummy_starts 3)")
kill -KILL "$p2"
ok "kill -9 of node 2's coroleased (pid $p2)"
new_pid_on_2() { local p; p=$(pdaemon_pid 2) && [[ -n $p && $p != "$p2" ]] && alive "$p"; }
must_wait 60 "Pacemaker restarted coroleased on node 2 (a new pid)" new_pid_on_2
must_wait 60 "node 2's new coroleased is synced and quorate" psynced_or_grace 2
must_wait 30 "Pacemaker recorded the failure (fail-count of corolease on node2 is 1)" \
	bash -c "'$CLUSTER_SH' exec 1 crm_failcount --query --resource corolease --node node2 | grep -q 'value=1$'"
must_wait 60 "corolease-clone runs on every node again" is_running_on corolease-clone "node1 node2 node3"
must_wait 60 "dummy-clone runs on every node again" is_running_on dummy-clone "node1 node2 node3"
check "node 2's Dummy was restarted after its coroleased (interleaved order)" \
	bash -c '(( $1 == $2 + 1 ))' _ "$(dummy_starts 2)" "${starts[2]}"
check "node 2: the Dummy's restart came after coroleased's" dummy_ordered 2
check "the Dummies of nodes 1 and 3 were not restarted (interleave)" \
	bash -c '(( $1 == $2 && $3 == $4 ))' _ "$(dummy_starts 1)" "${starts[1]}" "$(dummy_starts 3)" "${starts[3]}"
show_mon "after kill -9 of coroleased on node 2 ($(pdaemon_pid 2) now)"
pcmk crm_resource --cleanup --resource corolease --node node2

# the grace period of fresh state (one fence delay) ends before anything is granted
must_wait $((FENCE_DELAY_MS / 1000 + 60)) "node 1: past the grace period of fresh state" psynced 1

# ---- standby of node 3 while a client there holds a lease: the stop drains
# contend NAME HOLDER WAITER: client HOLDER on node 3 holds NAME, client
# WAITER on node 1 queues for it (its log: "granted EPOCH NS" once granted)
contend() {
	spawn 3 "$2" env COROLEASE_RUN_DIR=$RUN "$CLI" acquire "$1" -- sh -c 'echo held; exec sleep 1000' >/dev/null
	must_wait 20 "node 3 holds $1" holder_is 1 "$1" 3
	spawn 1 "$3" env COROLEASE_RUN_DIR=$RUN "$CLI" acquire "$1" --wait 0 -- \
		sh -c 'echo "granted $COROLEASE_EPOCH $(date +%s%N)"; exec sleep 1000' >/dev/null
	must_wait 20 "node 1 waits for $1" waiter_is 1 "$1" 1
}
# granted_ms WAITER: when node 1's client WAITER was granted (ms)
granted_ms() { awk '$1 == "granted" { print substr($3, 1, 13); exit }' "$CLUSTER_DIR/n1/$1.log"; }

N=pcmk/standby
contend "$N" holder waiter
t0=$(now_ms)
pcmk crm_attribute --node node3 --name standby --update on
must_wait 30 "node 1's waiter granted $N (node 3 handed it back)" grep -q '^granted' "$CLUSTER_DIR/n1/waiter.log"
tg=$(granted_ms waiter)
check "granted $((tg - t0)) ms after the standby, well before the fence delay ($FENCE_DELAY_MS ms)" \
	[ $((tg - t0)) -lt $((FENCE_DELAY_MS / 2)) ]
# Had node 3's daemon left the group with the hold, node 1 would have
# kept it as an orphan until the fence delay: it was released while node
# 3 was still a member, i.e. by the drain, before the stop finished.
no_orphans() { local j; j=$(pcl 1 --json status) && [[ $(jget "$j" .orphans) == 0 ]]; }
check "node 1: no orphaned hold (handed back by the drain, not left to fencing)" no_orphans
must_wait 60 "standby: corolease-clone stopped on node 3 only" is_running_on corolease-clone "node1 node2"
must_wait 60 "standby: dummy-clone (colocated) stopped on node 3 only" is_running_on dummy-clone "node1 node2"
must_wait 10 "node 3's holder was revoked and exited" exited "$(daemon_pid 3 holder)"
log3=$CLUSTER_DIR/n3/coroleased.log
check "node 3's daemon drained on SIGTERM: $(grep -m1 'draining' "$log3" | cut -c1-120)" grep -q 'signal 15: draining' "$log3"
# in node 3's log: the client's hold revoked, the group left, then stopped
rev=$(grep -n "hold of '$N' revoked" "$log3" | tail -n 1 | cut -d: -f1)
lft=$(grep -n 'leaving group' "$log3" | tail -n 1 | cut -d: -f1)
stp=$(grep -n 'coroleased stopped' "$log3" | tail -n 1 | cut -d: -f1)
check "node 3's log: $N revoked (line ${rev:-none}), group left (${lft:-none}), stopped (${stp:-none})" \
	bash -c '[[ -n $1 && -n $2 && -n $3 ]] && (($1 < $2 && $2 < $3))' _ "$rev" "$lft" "$stp"
check "the stop did not need SIGKILL" bash -c "! grep -q 'SIGKILL' '$CLUSTER_DIR/n3/pacemaker.log'"
show_mon "node 3 in standby"
pkill_waiter() { local p; p=$(daemon_pid 1 waiter); kill -TERM "$p" 2>/dev/null; wait_until 10 exited "$p"; }
pkill_waiter || fail "node 1's waiter did not exit on SIGTERM"

pcmk crm_attribute --node node3 --name standby --update off
must_wait 120 "out of standby: corolease-clone started on node 3 again" is_running_on corolease-clone "node1 node2 node3"
must_wait 60 "node 3's daemon synced and quorate" psynced 3
must_wait 60 "out of standby: dummy-clone started on node 3 again" is_running_on dummy-clone "node1 node2 node3"
check "node 3: the Dummy started again after coroleased" dummy_ordered 3

# ---- fencing: the alert agent fence-acks the fenced node
N=pcmk/fenced
contend "$N" holder2 waiter2
t0=$(now_ms)
out=$(cluster exec 1 timeout 120 stonith_admin --fence node3 2>&1) || fail "stonith_admin --fence node3: $out"
ok "stonith_admin --fence node3 (in $(( $(now_ms) - t0 )) ms) $out"
check "the fence agent powered node 3 off" grep -q 'off node3: powered off node 3' "$CLUSTER_DIR/fence_clsn.log"
must_wait $((FENCE_DELAY_MS / 2000)) "node 1's waiter granted $N well before the fence delay ($FENCE_DELAY_MS ms)" \
	grep -q '^granted' "$CLUSTER_DIR/n1/waiter2.log"
tg=$(granted_ms waiter2)
# when fence_clsn cut node 3's power (the fence delay runs from its departure, later)
toff=$(sed -n 's/.*powered off node 3 at \([0-9]*\)\.\([0-9]\{3\}\).*/\1\2/p' "$CLUSTER_DIR/fence_clsn.log" | tail -n 1)
[[ -n $toff ]] || fail "no power-off time of node 3 in fence_clsn.log"
check "granted $((tg - toff)) ms after node 3 was powered off ($((tg - t0)) ms after stonith_admin began), under half the fence delay" \
	[ $((tg - toff)) -lt $((FENCE_DELAY_MS / 2)) ]
acked() { grep -qE "node 3 fence-acked \(from node [12]\): 1 orphaned hold\(s\) freed" "$CLUSTER_DIR/n$1/coroleased.log"; }
check "node 1's daemon log: $(grep -m1 'node 3 fence-acked' "$CLUSTER_DIR/n1/coroleased.log" | cut -c1-140)" acked 1
check "node 2's daemon log says the same" acked 2
check "the controllers sent the fencing alert to corolease-fence" \
	grep -q 'Sending fencing alert via corolease-fence' "$CLUSTER_DIR/n1/pacemaker.log" "$CLUSTER_DIR/n2/pacemaker.log"
# the alert agent runs as hacluster: the fence-ack came from that uid
hauid=$(id -u hacluster)
check "a client of uid $hauid (hacluster: the alert agent) connected as admin after the fencing" \
	grep -q "connected: pid [0-9]* uid $hauid (admin)" "$CLUSTER_DIR/n1/coroleased.log" "$CLUSTER_DIR/n2/coroleased.log"
say "stonith_admin --history node3:"
cluster exec 1 timeout 20 stonith_admin --history node3 2>&1 | sed 's/^/    /'
must_wait 60 "Pacemaker: node 3 offline, 2 nodes online" dc_and_online 2
show_mon "node 3 fenced"
it_pass
