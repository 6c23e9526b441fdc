#!/bin/bash
# 97. BREAK TEST (fails on the code it was written against; not in TESTS).
# corolease-route serves every login of its node from one thread; one dict
# client that sends lookups and never reads the answers must not stop it.
#
# A process in the socket's group (here the 'dovecot' user, as Dovecot's
# auth processes are; a hung auth-worker does the same) connects to
# /run/corolease-route.sock, sends 10000 lookups in 5 s and reads nothing.
# corolease-route's accepted sockets are blocking, so once that client's
# receive buffer is full corolease-route sleeps in write(2) (wchan
# sock_alloc_send_pskb) and answers nobody: every login on the node then
# waits for Dovecot's 60 s auth timeout and fails with "NO [UNAVAILABLE]
# Temporary authentication failure" (seen: 61.6 s), for as long as the
# stuck client lives.  Fail closed, but a denial of service of the node.
DV_ROUTE=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
id dovecot >/dev/null 2>&1 || skip "no 'dovecot' user to play the stuck dict client"
dv_start dovecot-route-stuck-client 97

out=$(cluster exec 2 timeout 60 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.2" --users u1 --select --seconds 0)
check "before: u1 logs in on node 2 ($out)" grep -q '^SELECT OK' <<<"$out"

cat >"$CLUSTER_DIR/stuck.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect("/run/corolease-route.sock")
s.sendall(b"H2\t3\t0\t0\tstuck\troute\n")
line = b"Lshared/passdb/u1\tu1\n"
s.setblocking(False)
sent, t0, how = 0, time.time(), "reading no answer"
while time.time() - t0 < 5:
    try:
        sent += s.send(line * 1000)
    except BlockingIOError:
        time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        how = "then corolease-route disconnected it"
        break
print("sent %d lookups, %s" % (sent // len(line), how), flush=True)
time.sleep(3600)
EOF
chmod 644 "$CLUSTER_DIR/stuck.py"
# python3 of the system: the 'dovecot' user may not reach a root-only one
spawn 2 stuck setpriv --reuid=dovecot --regid=dovecot --clear-groups /usr/bin/python3 "$CLUSTER_DIR/stuck.py" >/dev/null
must_wait 30 "the stuck client sent its lookups" grep -q '^sent' "$CLUSTER_DIR/n2/stuck.log"
say "$(cat "$CLUSTER_DIR/n2/stuck.log")"
rpid=$(daemon_pid 2 router)
say "corolease-route (pid $rpid): state $(awk '{print $3}' "/proc/$rpid/stat"), wchan $(cat "/proc/$rpid/wchan")"

# another user's login on node 2: answered within 20 s, and served
: >"$CLUSTER_DIR/empty.txt"
t0=$(now_ms)
out=$(cluster exec 2 timeout 90 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/empty.txt")
t=$(($(now_ms) - t0))
grep -E 'a0 (OK|NO|BAD)' <<<"$out" | cut -c1-160
say "u2's login on node 2 with the stuck dict client connected: answered after $t ms"
kill -TERM "$(daemon_pid 2 stuck)"
served=0
grep -q 'S: a0 OK' <<<"$out" && served=1
check "u2's login on node 2 was served (served=$served) within 20 s ($t ms) while one dict client was stuck" \
	[ "$served" = 1 -a "$t" -le 20000 ]
# fixed: the stuck client is disconnected once its unread answers fill its
# output queue (64 KiB); that it may be, is what lets the others through
check "corolease-route dropped the client that read no answer" \
	grep -q 'does not read its answers' "$CLUSTER_DIR/n2/router.log"
it_pass
