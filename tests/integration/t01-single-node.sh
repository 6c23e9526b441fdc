#!/bin/bash
# 1. One node: status is quorate and synced, acquire -- true works, --json parses.
. "$(dirname "$0")/lib.sh"
it_init single 11
it_up 1

j=$(cl 1 --json status) || fail "status --json"
# a prefix whose fields are not together in the daemon's table opens a second object of that name
dups=$(python3 -c '
import json, sys
def pairs(kv):
    seen = set()
    for k, _ in kv:
        if k in seen:
            print(k)
        seen.add(k)
    return dict(kv)
json.loads(sys.stdin.read(), object_pairs_hook=pairs)' <<<"$j")
check "status --json names each key once (twice: ${dups:-none})" [ -z "$dups" ]
check "status --json parses (node $(jget "$j" .node))" jget "$j" .node
check "status: quorate" [ "$(jget "$j" .quorate)" = true ]
check "status: votequorum quorate" [ "$(jget "$j" .votequorum_quorate)" = true ]
check "status: synced" [ "$(jget "$j" .synced)" = true ]
check "status: one member" [ "$(jget "$j" '.members|length')" = 1 ]
check "status (text) says quorate yes" bash -c "'$CLUSTER_SH' exec 1 '$CLI' status | grep -q '^quorate: *yes'"

out=$(cl 1 acquire it/one -- sh -c 'echo "$COROLEASE_NAME $COROLEASE_EPOCH $COROLEASE_NODE"') || fail "acquire it/one -- sh (rc $?)"
read -r n e node <<<"$out"
check "acquire -- CMD ran with COROLEASE_NAME=$n EPOCH=$e NODE=$node" [ "$n" = it/one -a "$e" -ge 1 -a "$node" = 1 ]
cl 1 acquire it/one -- true; rc=$?
check "acquire it/one -- true exits 0" [ $rc = 0 ]
cl 1 acquire it/one -- false; rc=$?
check "acquire it/one -- false passes the exit status through (1)" [ $rc = 1 ]

# an index key keeps it/one known after its linger (1 s) ends, so the reads
# below do not race it on a loaded host
cl 1 index put it/one note t01 || fail "index put it/one note (rc $?)"
for cmd in "list" "show it/one" "owner it/one"; do
	j=$(cl 1 --json $cmd) || fail "--json $cmd (rc $?)"
	if [[ -n $IT_JQ ]]; then
		check "--json $cmd parses: $j" jq -e . >/dev/null <<<"$j"
	else
		check "--json $cmd parses: $j" python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$j"
	fi
done
j=$(cl 1 --json owner it/one)
check "owner it/one is node 1 (lingering) or 0: $(jget "$j" .owner)" [ "$(jget "$j" .owner)" -le 1 ]
e=$(cl 1 show no/such/name 2>&1 >/dev/null); rc=$?
check "show of an unknown name exits 1 (got $rc)" [ $rc = 1 ]
check "show of an unknown name says so: '$e'" grep -q 'no/such/name: unknown name: .*(ENOENT)' <<<"$e"
cl 1 bogus-command >/dev/null 2>&1; rc=$?
check "unknown command exits 2 (got $rc)" [ $rc = 2 ]
it_pass
