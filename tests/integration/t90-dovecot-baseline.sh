#!/bin/bash
# 90. Baseline, without the plugin: three nodes, each with its own Dovecot,
# serve one maildir tree through per-node bindfs mounts (no shared POSIX
# locks: NFS without lockd, a cluster file system without DLM).  The IMAP
# load client (imap-load.py: APPEND, STORE, FETCH, EXPUNGE for three users
# on random nodes) runs against all of them; Dovecot then finds its indexes
# corrupted.  The test passes when the logs show it ("Corrupted", "fscking",
# "Panic" lines > 0): this is what t91 runs with the plugin and must not see.
# It fails, rather than passes quietly, if four 40 s rounds of load show no
# corruption.
# It also reports (without checking) what t91 checks: lost or doubled
# messages and differing UID lists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
it_init dovecot-baseline 90
dv_prereq
dv_up 3 0

# 40 s rounds until the logs show corruption, at most 4: a loaded machine
# (the suite beside stress-ng) may get through too few operations in one
# (seen: 77 operations in 40 s, no corruption yet)
for round in 1 2 3 4; do
	dv_load 40 12
	n=$(dv_corruption)
	(( n > 0 )) && break
	say "no corruption after load round $round"
done
say "corruption lines in the Dovecot logs without the plugin: $n"
grep -hE 'Corrupted|fscking|Panic' "$CLUSTER_DIR"/n*/dovecot-mail.log | head -5
check "Dovecot without the plugin reports corruption ($n lines)" [ "$n" -gt 0 ]
# what became of the messages is reported, not checked: the damage varies
say "messages read back without the plugin (report only; the appends of the last round):"
dv_check 3 || true
it_pass
