#!/bin/bash
# 31. The systemd unit and snippets in packaging/: 'systemd-analyze verify'
# is clean, sysusers creates groups corolease and corolease-admin; and the
# daemon as the unit runs it (Type=notify, WatchdogSec=, its
# CapabilityBoundingSet= and NoNewPrivileges=, applied with setpriv since
# systemd need not be PID 1 here) on a one-node cluster: READY=1 once
# synced, WATCHDOG=1 at half of WATCHDOG_USEC, status answers, the socket
# gets its socket_group (CAP_CHOWN).
. "$(dirname "$0")/lib.sh"
PKG=$IT_SRCDIR/../../packaging
UNIT=$PKG/coroleased.service
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (systemd)"
command -v setpriv >/dev/null || skip "setpriv missing (util-linux)"
it_init systemd 101

# ---- static checks
mkdir -p "$CLUSTER_DIR/unit"
sed "s|^ExecStart=/usr/sbin/coroleased|ExecStart=$DAEMON|" "$UNIT" >"$CLUSTER_DIR/unit/coroleased.service"
out=$(cd "$CLUSTER_DIR/unit" && systemd-analyze verify --man=no ./coroleased.service 2>&1); rc=$?
check "systemd-analyze verify: rc 0 and no output (rc $rc: $out)" [ $rc = 0 -a -z "$out" ]
for kv in Type=notify NotifyAccess=main Requires=corosync.service After=corosync.service \
	ProtectSystem=strict ReadWritePaths=/run/corolease PrivateTmp=yes NoNewPrivileges=yes \
	RuntimeDirectory=corolease RuntimeDirectoryMode=0755 RuntimeDirectoryPreserve=yes "CapabilityBoundingSet=CAP_KILL CAP_CHOWN CAP_SYS_PTRACE CAP_SYS_NICE CAP_IPC_LOCK"; do
	check "unit sets $kv" grep -Eq "^$kv( |\$)" "$UNIT"
done
if command -v systemd-sysusers >/dev/null; then
	out=$(systemd-sysusers --dry-run "$PKG/corolease.sysusers" 2>&1)
	for g in corolease corolease-admin; do
		check "sysusers creates (or has) group $g" grep -Eq "group '$g'|^g $g" <<<"$out$(getent group $g >/dev/null && echo "group '$g'")"
	done
fi
if command -v systemd-tmpfiles >/dev/null; then
	check "tmpfiles snippet parses" bash -c "systemd-tmpfiles --root='$CLUSTER_DIR/root' --create '$PKG/corolease.tmpfiles' && [ \$(stat -c %a '$CLUSTER_DIR/root/run/corolease') = 755 ]"
fi

# ---- the daemon as the unit runs it
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
say "bounding set from the unit: -all,$caps"
NSOCK=$CLUSTER_DIR/notify.sock
python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    m = s.recv(4096).decode()
    for l in m.split("\n"):
        print("%.3f %s" % (time.time(), l), flush=True)' "$NSOCK" >"$CLUSTER_DIR/notify.log" 2>&1 &
LISTENER=$!
sd_cleanup() { local rc=$?; kill "$LISTENER" 2>/dev/null; (exit "$rc"); it_cleanup; }
trap sd_cleanup EXIT
must_wait 60 "notify listener bound" test -S "$NSOCK"   # python3 starting: slow beside realtime floods

cluster up 1 >"$CLUSTER_DIR/cluster-up.log" 2>&1 || { cat "$CLUSTER_DIR/cluster-up.log" >&2; fail "cluster.sh up 1"; }
getent group daemon >/dev/null || fail "no group 'daemon' to give the socket"
spawn 1 coroleased env NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=400000 \
	setpriv --bounding-set="-all,$caps" --inh-caps=-all --no-new-privs \
	"$DAEMON" -f -l stderr -c /dev/null -o debug=yes "${DAEMON_OPTS[@]}" -o socket_group=daemon >/dev/null ||
	fail "cannot spawn coroleased"
IT_DAEMON_LOGS+=("$CLUSTER_DIR/n1/coroleased.log")
pid=$(daemon_pid 1)
# the spawned pid is setpriv's until it execs the daemon: its bounding set
# is the full one before that (seen on a loaded host)
must_wait 10 "setpriv has exec'd the daemon (pid $pid)" bash -c "[ \"\$(cat /proc/$pid/comm 2>/dev/null)\" = coroleased ]"
# CAP_CHOWN 0, CAP_KILL 5, CAP_IPC_LOCK 14, CAP_SYS_PTRACE 19, CAP_SYS_NICE 23
bnd=$(awk '/^CapBnd/{print $2}' "/proc/$pid/status")
check "the daemon's bounding set is the unit's: CapBnd $bnd = 0000000000884021" [ "$bnd" = 0000000000884021 ]
check "no_new_privs is set" [ "$(awk '/^NoNewPrivs/{print $2}' /proc/$pid/status)" = 1 ]
must_wait 30 "node 1: synced and quorate under the unit's capabilities" synced 1
must_wait 5 "READY=1 was sent" grep -q ' READY=1$' "$CLUSTER_DIR/notify.log"
n0=$(grep -c ' WATCHDOG=1$' "$CLUSTER_DIR/notify.log")
sleep 2
n1=$(grep -c ' WATCHDOG=1$' "$CLUSTER_DIR/notify.log")
# by the listener's own stamps, not the 2 s of sleep: on a loaded host the
# greps around it started late and counted 16 pings in "2 s" (a79c488)
med=$(grep ' WATCHDOG=1$' "$CLUSTER_DIR/notify.log" | sed -n "$((n0 + 1)),${n1}p" |
	awk 'NR > 1 { print int(($1 - p) * 1000) } { p = $1 }' | sort -n |
	awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }')
check "WATCHDOG=1 every 200 ms: $((n1 - n0)) pings, median gap ${med:-none} ms (100..300 expected, allowing load)" \
	[ $((n1 - n0)) -ge 6 -a "${med:-0}" -ge 100 -a "${med:-0}" -le 300 ]
sock=/run/corolease/corolease.sock
check "socket $sock has group daemon (chown under CAP_CHOWN only)" [ "$(cluster exec 1 stat -c %G "$sock")" = daemon ]
rsock=/run/corolease/corolease-root.sock
check "socket $rsock is root's alone (mode 0600, group root)" \
	[ "$(cluster exec 1 stat -c %a:%U:%G "$rsock")" = 600:root:root ]
check "acquire -- true works" cl 1 acquire sd/one -- true
# realtime_priority and lock_memory (defaults 50, yes) under the unit's capabilities
j=$(cl 1 --json status)
check "status: realtime_priority 50 (SCHED_RR under CAP_SYS_NICE)" [ "$(jget "$j" .realtime_priority)" = 50 ]
check "the kernel agrees: policy RR, priority 50" [ "$(awk '{ print $41, $18 }' "/proc/$pid/stat")" = "2 -51" ]
check "status: memory_locked (mlockall under CAP_IPC_LOCK)" [ "$(jget "$j" .memory_locked)" = true ]
if ! daemon_asan; then   # ASan's mlockall() does nothing
	check "the kernel agrees: VmLck > 0" [ "$(awk '/^VmLck/ { print $2 }' "/proc/$pid/status")" -gt 0 ]
fi
it_pass
