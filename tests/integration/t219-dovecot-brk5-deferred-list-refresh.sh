#!/bin/bash
# 219. (helper-103) Dovecot puts off the refresh of a mailbox list index
# after a CREATE, DELETE or RENAME (and some listings): a 1 s timer
# (mailbox_list_index_refresh_later()).  In another user's store (a shared
# namespace) the plugin takes that store's lease for the command and
# releases it after; the timer then wrote the owner's dovecot.list.index*
# a second later with no lease held, maybe while the owner's session on
# another node held it.  Now the refresh runs before the store lease goes
# (or not at all once the leases are lost).
# u2 on node 2 creates shared.u1.Work.New (the ACL lets it), idles 3 s,
# deletes it, then idles 3 s; its
# process is traced: no write to u1's dovecot.list.index* may come after the
# CREATE's answer.  Before the fix: writes about a second after it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-brk5-deferred-list-refresh 219
dv_shared_ns "maildir:/run/cl-mail/%%u/Maildir" 1 2
command -v strace >/dev/null || skip "strace is not installed"

printf '%s\n' 'CREATE Work' >"$CLUSTER_DIR/s0.txt"
must_wait 30 "node 1 reloaded: u1 creates Work" bash -c \
	"'$CLUSTER_SH' exec 1 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.1 u1 '$CLUSTER_DIR/s0.txt' | grep 'S: t1 OK' >/dev/null"
# u2 may see, read and create in every mailbox of u1
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/dovecot-acl"
printf 'user=u2 lrwstipekxa\n' >"$DV_STORE/u1/Maildir/.Work/dovecot-acl"
rm -f "$DV_STORE/u1/Maildir/dovecot-acl-list"
chown -R mail:mail "$DV_STORE/u1"
printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' 'LIST "" "shared.u1.*"' >"$CLUSTER_DIR/s1.txt"
must_wait 30 "node 2 reloaded: u2 selects, closes and lists shared.u1.Work" bash -c \
	"'$CLUSTER_SH' exec 2 python3 '$DV_SCRIPT' $CLUSTER_SUBNET.2 u2 '$CLUSTER_DIR/s1.txt' | grep 'LIST .*shared.u1.Work' >/dev/null"

for round in 1 2; do
	rm -f "$CLUSTER_DIR/go"
	printf '%s\n' 'SELECT shared.u1.Work' 'CLOSE' "WAIT $CLUSTER_DIR/go" "CREATE shared.u1.Work.New$round" 'SLEEP 3' \
		"DELETE shared.u1.Work.New$round" 'SLEEP 3' >"$CLUSTER_DIR/b.txt"
	SB=$CLUSTER_DIR/n2/sb$round.log
	spawn 2 "sb$round" python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.2" u2 "$CLUSTER_DIR/b.txt" >/dev/null
	must_wait 30 "round $round: u2 selected and closed shared.u1.Work on node 2" grep -q 'took .* t2$' "$SB"
	p2=$(sed -n 's/.*imap(u2)<\([0-9]*\)>.*/\1/p' "$CLUSTER_DIR/n2/dovecot-mail.log" | tail -n 1)
	ST=$CLUSTER_DIR/st$round.log
	strace -ttt -y -qq -e trace=write,pwrite64,rename,ftruncate -o "$ST" -p "$p2" 2>/dev/null &
	st=$!
	sleep 0.5
	touch "$CLUSTER_DIR/go"
	must_wait 40 "round $round: u2's session ended" grep -qE 'EOF|Traceback|took .* z$' "$SB"
	kill "$st" 2>/dev/null; wait "$st" 2>/dev/null
	grep -q 'OK Create' "$SB" || fail "round $round: u2's CREATE shared.u1.Work.New$round failed: $(grep 't3 ' "$SB" | tail -n 1)"
	# the unix times of the CREATE's and the DELETE's answers
	tc=$(awk '/S: t3 OK/ { print $1; exit }' "$SB"); td=$(awk '/S: t4 OK/ { print $1; exit }' "$SB")
	all=$(grep -c 'u1/Maildir/dovecot.list.index' "$ST" || true)
	late=$(awk -v c="$tc" -v d="${td:-0}" '/u1\/Maildir\/dovecot.list.index/ { t = $1 + 0; if ((t > c + 0.2 && (d == 0 || t < d - 0.5)) || (d > 0 && t > d + 0.2)) n++ } END { print n + 0 }' "$ST")
	say "round $round: u2's process wrote u1's dovecot.list.index* $all times, $late of them more than 0.2 s after the CREATE's or the DELETE's answer"
	grep 'u1/Maildir/dovecot.list.index' "$ST" | awk -v c="$tc" '$1 > c + 0.2' | head -n 3 | cut -c1-160
	check "round $round: no write to u1's list index after the store lease was released ($late)" [ "$late" = 0 ]
done
n=$(dv_corruption)
check "no Corrupted/fscking/Panic line ($n)" [ "$n" = 0 ]
it_pass
