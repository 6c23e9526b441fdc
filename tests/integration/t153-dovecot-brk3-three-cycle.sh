#!/bin/bash
# 153. (breaker 3) Three users on three nodes in a wait cycle.
# u1 on node 1, u2 on node 2, u3 on node 3 each SELECT INBOX (own store
# held for the session), then at the same moment u1 SELECTs shared.u2.Work,
# u2 shared.u3.Work, u3 shared.u1.Work: each waits for a store the next
# holds.  cld_wait_yields(): a wait gives way to a `wanted` from a lower
# node id (node 2 to node 1, node 3 to node 2); node 1 waits on.
# Check, every round: at least one SELECT served, nothing killed, no
# Fatal; shown: how many of the three were served/refused and how long.
# A round's three INBOX SELECTs (its set-up) get 90 s: on a loaded machine
# a login alone took 27 s, and 30 s failed a round (local CI, 2026-12-04).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk3-three-cycle 153
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2 3

printf '%s\n' 'CREATE Work' >"$CLUSTER_DIR/s0.txt"
for u in u1 u2 u3; do
	must_wait 30 "node 1 reloaded: $u creates Work" bash -c \
		"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 $u '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t1 OK' '$CLUSTER_DIR/s0.log'"
done
echo 'user=u3 lrwstipekxa' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
echo 'user=u1 lrwstipekxa' >"$DV_STORE/u2/Maildir/.Work/dovecot-acl"
echo 'user=u2 lrwstipekxa' >"$DV_STORE/u3/Maildir/.Work/dovecot-acl"
chown mail:mail "$DV_STORE"/u[123]/Maildir/.Work/dovecot-acl
must_wait 30 "node 3 reloaded" bash -c "printf '%s\n' 'SELECT shared.u1.Work' >'$CLUSTER_DIR/s3.txt'; '$CLUSTER_SH' exec 3 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.3 u3 '$CLUSTER_DIR/s3.txt' >'$CLUSTER_DIR/s3.log'; grep -q 'S: t1 OK' '$CLUSTER_DIR/s3.log'"
ROUNDS=${T153_ROUNDS:-10}
served=0 allthree=0 tot=0
for ((r = 1; r <= ROUNDS; r++)); do
	L=()
	for i in 1 2 3; do
		o=$(( i % 3 + 1 ))
		printf '%s\n' 'SELECT INBOX' "WAIT $CLUSTER_DIR/go$r" "SELECT shared.u$o.Work" 'NOOP' >"$CLUSTER_DIR/a$i-$r.txt"
		spawn $i s$i-$r python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.$i" u$i "$CLUSTER_DIR/a$i-$r.txt" >/dev/null
		L+=("$CLUSTER_DIR/n$i/s$i-$r.log")
	done
	wait_until 90 bash -c "grep -q 'took .* t1\$' '${L[0]}' && grep -q 'took .* t1\$' '${L[1]}' && grep -q 'took .* t1\$' '${L[2]}'" || { say "round $r: no INBOX select"; continue; }
	touch "$CLUSTER_DIR/go$r"
	wait_until 40 bash -c "grep -qE 'EOF|Traceback|took .* z\$' '${L[0]}' && grep -qE 'EOF|Traceback|took .* z\$' '${L[1]}' && grep -qE 'EOF|Traceback|took .* z\$' '${L[2]}'" || true
	line="round $r:" ok=0
	for i in 1 2 3; do
		a=$(grep -E 'S: t2 ' "${L[$((i-1))]}" | cut -c19-90) t=$(grep -E 'took .* t2$' "${L[$((i-1))]}" | awk '{print $3}')
		line="$line | u$i: ${a:-(no answer) $(grep -oE 'BYE.*|EOF' "${L[$((i-1))]}" | head -n 1 | cut -c1-80)} ${t:+($t s)}"
		grep -q 'S: t2 OK' "${L[$((i-1))]}" && ok=$((ok + 1))
	done
	say "$line"
	((ok >= 1)) && served=$((served + 1)); tot=$((tot + ok))
	sleep 1
done
killed=$(cat "$CLUSTER_DIR"/n[123]/coroleased.log | grep -c 'killing client' || true)
grep -hE 'killed with signal|Panic|Fatal' "$CLUSTER_DIR"/n[123]/dovecot-mail.log | tail -n 4
say "waits given up: $(cat "$CLUSTER_DIR"/n[123]/dovecot-mail.log | grep -c 'giving up the wait' || true); not waited for: $(cat "$CLUSTER_DIR"/n[123]/dovecot-mail.log | grep -c 'not waited for' || true); revoked: $(cat "$CLUSTER_DIR"/n[123]/dovecot-mail.log | grep -c 'revoked (not let go' || true); SELECTs served $tot of $((3 * ROUNDS))"
check "every round, at least one SELECT served ($served of $ROUNDS)" [ "$served" = "$ROUNDS" ]
check "no mail process killed ($killed)" [ "$killed" = 0 ]
check "Dovecot saw no child killed" bash -c "! grep -hE 'killed with signal|Panic|Fatal' '$CLUSTER_DIR'/n[123]/dovecot-mail.log"
it_pass
