#!/bin/bash
# 186. A login that waits for its user lease while its coroleased stops
# takes the wait and one bound, not a bound more for each follow-up call.
#
# Node 3's `corolease acquire` holds user/u3 (handover timeout 60 s, so
# nothing revokes it); u3 logs in on node 1 and waits for it
# (corolease_user_wait = 8s); 1 s into the wait node 1's coroleased is
# stopped (SIGSTOP).  README: a login blocks at most corolease_user_wait,
# and a coroleased that does not answer stretches that by at most the
# bound (the wait, at least 1 s, at most 10 s).
#
# Before (7854782; helper-89's tbrk-login-wait-stop): 25.5 s.  The wait
# ran to the library's deadline (8.5 s), then corolease_owner() waited out
# the bound (8 s), then corolease_sync() did too (8 s).  Now the sync comes
# first, with one bound, and its timeout ends the take; the owner query
# (only to name the holder) gets what is left: at most 8 + 8 s (plus slack
# for a loaded machine), refused as "coroleased did not answer in time".
export HANDOVER_MS=60000
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-login-wait-bound 186
# room for a loaded machine (the old code took 24.5 s)
SLACK=5
spawn 3 hold "$CLI" acquire user/u3 -- sleep 300 >/dev/null
must_wait 10 "node 3 holds user/u3" bash -c "[ \"\$('$CLUSTER_SH' exec 1 '$CLI' owner user/u3)\" = 3 ]"
OUT=$CLUSTER_DIR/login.out
DLOG=$CLUSTER_DIR/n1/coroleased.log
mail_conn="connected: pid [0-9]* uid $(id -u mail)\$"
n0=$(grep -c "$mail_conn" "$DLOG")
cluster exec 1 timeout 120 python3 "$DV_LOAD" session --hosts "$CLUSTER_SUBNET.1" --users u3 --seconds 0 --timed >"$OUT" 2>&1 &
lp=$!
# the login has begun its wait: node 1's Dovecot connected to coroleased for u3
must_wait 20 "u3's login on node 1 connected to coroleased" \
	bash -c "[ \$(grep -c '$mail_conn' '$DLOG') -gt $n0 ]"
sleep 1 # into the wait
dv_stop_daemon 1
say "SIGSTOP to node 1's coroleased ($dpid) during the login's wait"
wait "$lp"
t=$(awk '/^ELAPSED / { printf "%d", $2 * 1000 }' "$OUT")
[[ -n $t ]] || fail "imap-load.py printed no ELAPSED: $(cat "$OUT")"
say "the login: $(tr '\n' ' ' <"$OUT" | cut -c1-200) after $t ms"
dv_resume
grep -hE 'corolease: user/u3' "$CLUSTER_DIR/n1/dovecot-mail.log" | tail -n 2 | cut -c1-170
bound=$((8000 + 8000 + SLACK * 1000))
check "the login took at most corolease_user_wait + one bound + ${SLACK} s ($t ms, at most $bound)" [ "$t" -le "$bound" ]
check "it was refused as unavailable (coroleased did not answer in time), not in use" \
	grep -q 'corolease: user/u3: .*coroleased did not answer in time' "$CLUSTER_DIR/n1/dovecot-mail.log"
it_pass
