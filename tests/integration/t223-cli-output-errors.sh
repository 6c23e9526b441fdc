#!/bin/bash
# 223. (helper-105) What the CLI prints must be whole or fail:
#  - a write error on standard output (a full disk, here /dev/full) was
#    ignored: 'corolease --json list > FILE' left a cut file and exited 0;
#    now exit 6 and "write error on standard output" on stderr (status,
#    status --prometheus, list, index get, index list, index watch);
#  - 'index watch' prints "NAME KEY VERSION put|del WRITER", separated by
#    spaces, and printed spaces in names and keys as they were: any writer
#    could forge a line ('index put "jobs/a x 999 del 7" y v' read as key
#    x, version 999, deleted by node 7); now a space in a name or key is
#    \x20, so every line has five fields;
#  - 'evict' of a name nobody holds said "No such file or directory".
. "$(dirname "$0")/lib.sh"
it_init cli-output 223
it_up 1

cl 1 index put out/n k v >/dev/null || fail "index put out/n"
for c in "status" "status --prometheus" "--json status" "list" "--json list" "index get out/n k" "index list out/n"; do
	# shellcheck disable=SC2086 # c is words
	err=$(cl 1 $c 2>&1 >/dev/full); rc=$?
	check "corolease $c > /dev/full: exit 6 (got $rc) and says so ($err)" [ $rc = 6 ]
	check "corolease $c > /dev/full: the message names the write error" grep -q 'write error on standard output' <<<"$err"
done
# evict of a name nobody holds said "No such file or directory" (helper-105)
err=$(cl 1 evict out/n 2>&1 >/dev/null); rc=$?
check "evict of a name nobody holds: exit 1 (got $rc), saying so ($err)" [ $rc = 1 ]
check "... nobody holds it" grep -q 'nobody holds it' <<<"$err"
err=$(cl 1 list 2>&1 >/dev/null); rc=$?
check "corolease list > /dev/null: exit 0 (got $rc; $err)" [ $rc = 0 ]

spawn 1 watch "$CLI" index watch >/dev/null
sleep 0.5
spawn 1 wfull sh -c "exec '$CLI' index watch --count 5 >/dev/full" >/dev/null
# the watchers' registration is not observable: put until the first line is there
must_wait 10 "the watch has begun" bash -c "'$CLUSTER_SH' exec 1 '$CLI' index put out/w k v >/dev/null; grep -q 'out/w' '$CLUSTER_DIR/n1/watch.log'"
cl 1 index put 'jobs/a x 999 del 7' y v >/dev/null || fail "index put with spaces in the name"
cl 1 index put jobs/a 'x 999 del 7' v >/dev/null || fail "index put with spaces in the key"
must_wait 10 "the watch printed the key's change" grep -q '^jobs/a x' "$CLUSTER_DIR/n1/watch.log"
cat "$CLUSTER_DIR/n1/watch.log"
check "every line of the watch has 5 fields" awk 'NF != 5 { exit 1 }' "$CLUSTER_DIR/n1/watch.log"
check "the name's spaces are \\x20" grep -qF 'jobs/a\x20x\x20999\x20del\x207 y ' "$CLUSTER_DIR/n1/watch.log"
check "the key's spaces are \\x20" grep -qF 'jobs/a x\x20999\x20del\x207 ' "$CLUSTER_DIR/n1/watch.log"
gone() { ! kill -0 "$(daemon_pid 1 wfull)" 2>/dev/null; }
must_wait 10 "the watch into /dev/full ended at its first line" gone
check "it said why" grep -q 'write error on standard output' "$CLUSTER_DIR/n1/wfull.log"
it_pass
