#!/bin/bash
# 160. (breaker 4) Cost of the store lease around every STATUS / exists of
# another user's shared mailbox (cl_with_store): each one not under an
# already-held store lease acquires and releases store/<owner root> on the
# cluster (a round trip through coroleased and corosync each way).
# u1 creates N mailboxes shared with u2; u2 creates N own mailboxes.
# Nobody else works: no contention, pure overhead.  u2 on node 2 then runs
#   A: STATUS shared.u1.Mk (MESSAGES UNSEEN) for each k (as clients do)
#   B: LIST "" "shared.u1.*" RETURN (STATUS (MESSAGES UNSEEN))
#   C: STATUS Ok for each own mailbox
#   D: LIST "" "O*" RETURN (STATUS (MESSAGES UNSEEN))
# after a warm-up pass (indexes built), once with the plugin's leases, once
# with corolease_mailbox_lease = no on node 2 (baseline), once with the
# leases again; it sums the "took" times per phase and counts node 2's
# "store//run/cl-mail/u1/Maildir held" lines.  It fails only when phase A
# with the leases (last pass) costs more than T160_RATIO (default 3) times
# the baseline's phase A.
# Seen (10:30, working tree on 8e63ac0, N=60): leased A 0.165 s / 0.083 s,
# baseline A 0.087 s; 61 acquisitions of u1's store per pass: no measurable
# cost.  (Without the warm-up, the first pass took A 3.4-4.1 s: cold
# indexes, not the lease.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk4-status-cost 160
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
N=${T160_N:-60}
RATIO=${T160_RATIO:-3}

{ for ((k = 1; k <= N; k++)); do printf 'CREATE M%03d\n' "$k"; done; } >"$CLUSTER_DIR/s0.txt"
must_wait 60 "node 1 reloaded: u1 creates $N mailboxes" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' >'$CLUSTER_DIR/s0.log'; grep -q 'S: t$N OK' '$CLUSTER_DIR/s0.log'"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
for ((k = 1; k <= N; k++)); do printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.$(printf 'M%03d' "$k")/dovecot-acl"; done
chown -R mail:mail "$DV_STORE/u1"
{ for ((k = 1; k <= N; k++)); do printf 'CREATE O%03d\n' "$k"; done; echo 'SELECT shared.u1.M001'; echo 'CLOSE'; } >"$CLUSTER_DIR/s1.txt"
must_wait 60 "node 2 reloaded: u2 creates $N own mailboxes and selects shared.u1.M001" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' >'$CLUSTER_DIR/s1.log'; grep -q 'S: t$((N + 1)) OK' '$CLUSTER_DIR/s1.log'"

{
	echo 'NOOP'
	for ((k = 1; k <= N; k++)); do printf 'STATUS shared.u1.M%03d (MESSAGES UNSEEN)\n' "$k"; done
	echo 'LIST "" "shared.u1.*" RETURN (STATUS (MESSAGES UNSEEN))'
	for ((k = 1; k <= N; k++)); do printf 'STATUS O%03d (MESSAGES UNSEEN)\n' "$k"; done
	echo 'LIST "" "O*" RETURN (STATUS (MESSAGES UNSEEN))'
} >"$CLUSTER_DIR/b.txt"
L2=$CLUSTER_DIR/n2/dovecot-mail.log
# a warm-up pass (indexes built), not measured
"$CLUSTER_SH" exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >"$CLUSTER_DIR/bw.log"
h0=$(grep -c 'store//run/cl-mail/u1/Maildir held' "$L2" || true)
"$CLUSTER_SH" exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >"$CLUSTER_DIR/b.log"
h1=$(grep -c 'store//run/cl-mail/u1/Maildir held' "$L2" || true)
# phases by tag: t1 NOOP, t2..t(N+1) A, t(N+2) B, t(N+3)..t(2N+2) C, t(2N+3) D
sum() { awk -v lo="$1" -v hi="$2" '$2 == "took" { t = substr($5, 2) + 0; if (t >= lo && t <= hi) s += $3 } END { printf "%.3f", s }' "$CLUSTER_DIR/b.log"; }
A=$(sum 2 $((N + 1))) B=$(sum $((N + 2)) $((N + 2))) C=$(sum $((N + 3)) $((2 * N + 2))) D=$(sum $((2 * N + 3)) $((2 * N + 3)))
okA=$(grep -cE 'S: t[0-9]+ OK Status' "$CLUSTER_DIR/b.log" || true)
say "N=$N: A (STATUS of $N shared) ${A}s, B (LIST-STATUS shared) ${B}s, C (STATUS of $N own) ${C}s, D (LIST-STATUS own) ${D}s; STATUS OK $okA of $((2 * N)); u1's store lease taken $((h1 - h0)) times by node 2 in this session"
grep -E ' NO | BAD ' "$CLUSTER_DIR/b.log" | head -n 5
# the same with corolease_mailbox_lease = no on node 2 (no store or mailbox
# leases: the baseline)
sed -i 's/corolease_mailbox_lease = yes/corolease_mailbox_lease = no/' "$CLUSTER_DIR/n2/dovecot.conf"
kill -HUP "$(daemon_pid 2 dovecot)"
sleep 3
"$CLUSTER_SH" exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >"$CLUSTER_DIR/b0.log"
cp "$CLUSTER_DIR/b.log" "$CLUSTER_DIR/b1.log"; cp "$CLUSTER_DIR/b0.log" "$CLUSTER_DIR/b.log"
A0=$(sum 2 $((N + 1))) B0=$(sum $((N + 2)) $((N + 2))) C0=$(sum $((N + 3)) $((2 * N + 2))) D0=$(sum $((2 * N + 3)) $((2 * N + 3)))
h2=$(grep -c 'store//run/cl-mail/u1/Maildir held' "$L2" || true)
say "baseline (corolease_mailbox_lease = no): A ${A0}s, B ${B0}s, C ${C0}s, D ${D0}s; store lease taken $((h2 - h1)) times"
# and with the leases again (same warm indexes)
sed -i 's/corolease_mailbox_lease = no/corolease_mailbox_lease = yes/' "$CLUSTER_DIR/n2/dovecot.conf"
kill -HUP "$(daemon_pid 2 dovecot)"
sleep 3
"$CLUSTER_SH" exec 2 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >"$CLUSTER_DIR/b.log"
A2=$(sum 2 $((N + 1))) B2=$(sum $((N + 2)) $((N + 2))) C2=$(sum $((N + 3)) $((2 * N + 2))) D2=$(sum $((2 * N + 3)) $((2 * N + 3)))
h3=$(grep -c 'store//run/cl-mail/u1/Maildir held' "$L2" || true)
say "leases again: A ${A2}s, B ${B2}s, C ${C2}s, D ${D2}s; store lease taken $((h3 - h2)) times"
A=$A2 C=$C2
grep -hE 'Panic|Fatal|Corrupted|fscking' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -n 5
check "STATUS of $N shared mailboxes with the store lease (${A}s) costs at most $RATIO x without (${A0}s)" \
	awk -v a="$A" -v c="$A0" -v r="$RATIO" 'BEGIN { exit !(a <= r * c + 0.05) }'
it_pass
