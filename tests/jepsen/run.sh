#!/bin/bash
# run.sh - one run of the black-box fault test (issue 7): a real corosync
# cluster in network namespaces, client processes that take leases, write
# under them, put index keys and make sync reads; a nemesis that kills,
# stops and cuts nodes on a seeded schedule; then the checker.
#
#   tests/jepsen/run.sh             (from the build directory, as root)
#   make jepsen JEPSEN_NODES=5 JEPSEN_SECONDS=600 JEPSEN_SEED=42
#
# Environment:
#   JEPSEN_NODES     cluster size, 3 or more (3); 5 lets a fault hit two nodes
#   JEPSEN_SECONDS   how long the nemesis plays (40)
#   JEPSEN_SEED      the schedule's seed (default: from the clock; printed)
#   JEPSEN_CLIENTS   client processes per node (3)
#   JEPSEN_NAMES     contended lease names (jp/a,jp/b,jp/c); keys k0,k1 each
#   JEPSEN_FAULTS    play at least this many faults, even past JEPSEN_SECONDS (0)
#   JEPSEN_BOUND_MS  the checker's bound on calls without a timeout (15000)
#   JEPSEN_SLACK_MS  the checker's slack past a call's own timeout (2000)
#   JEPSEN_KINDS     fault kinds to deal, comma-separated (all seven; nemesis.sh)
#   JEPSEN_PLANT     TESTS ONLY: start every coroleased with
#                    --unsafe-test-plant=JEPSEN_PLANT (a build configured with
#                    --enable-unsafe-test-plants; see lockd/main.c), and pass
#                    only if the checker finds a violation: it proves the
#                    whole chain sees a broken daemon, e.g.
#                    JEPSEN_PLANT=no-quorum JEPSEN_KINDS=partition
#   JEPSEN_STRICT    1: do not excuse lease_valid() reading true right after a
#                    write that spanned a stop of its client (issue 7 defect
#                    4; see jepsen-check.py --allow-post-pause-valid)
#   JEPSEN_NAME, JEPSEN_NUM   lib.sh test name and number (jepsen-long, 37):
#                    the cluster directory is /tmp/corolease-it[N]-NAME, kept
#                    after the run with every history and log in it
#   JEPSEN_KEEP      where to copy the histories of a run that finds a
#                    violation (default $CLUSTER_DIR.violation-SEED)
#   IT_INSTANCE      as for every integration test (tests/integration/lib.sh)
#
# Timing is lib.sh's: token 1000 ms, validity = token, revoke 1 s, handover
# 2 s, fence delay 4 s.  Every history line carries CLOCK_BOOTTIME times;
# the nemesis stamps its faults with the same clock (nemesis.sh).
#
# Exit: 0 when the checker finds no violation, 1 when it does (or the run
# breaks), 77 without root, corosync or python3.
JEPSEN_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$JEPSEN_SRC/../integration/lib.sh"
. "$JEPSEN_SRC/nemesis.sh"

JEPSEN_NODES=${JEPSEN_NODES:-3}
JEPSEN_SECONDS=${JEPSEN_SECONDS:-40}
JEPSEN_SEED=${JEPSEN_SEED:-$(( $(date +%s%N) / 1000 % 1000000000 ))}
JEPSEN_CLIENTS=${JEPSEN_CLIENTS:-3}
JEPSEN_NAMES=${JEPSEN_NAMES:-jp/a,jp/b,jp/c}
JEPSEN_KEYS=k0,k1
JEPSEN_FAULTS=${JEPSEN_FAULTS:-0}
JEPSEN_BOUND_MS=${JEPSEN_BOUND_MS:-15000}
JEPSEN_SLACK_MS=${JEPSEN_SLACK_MS:-2000}
JEPSEN_STRICT=${JEPSEN_STRICT:-0}
JP=$IT_BUILD/tests/jepsen/jp-client
CHECKER=$JEPSEN_SRC/jepsen-check.py

it_init "${JEPSEN_NAME:-jepsen-long}" "${JEPSEN_NUM:-37}"
command -v python3 >/dev/null || skip "python3 not installed (the checker)"
[[ -x $JP ]] || skip "jp-client not built ($JP)"
# JEPSEN_TWO_NODE=1 allows JEPSEN_NODES=2 (cluster.sh sets votequorum two_node: a split
# leaves both sides quorate and each waits for a fence-ack; the nemesis gives none)
[[ $JEPSEN_NODES =~ ^[0-9]+$ ]] && ((JEPSEN_NODES >= 3 || (JEPSEN_NODES == 2 && ${JEPSEN_TWO_NODE:-0} == 1))) || fail "JEPSEN_NODES must be 3 or more"
[[ $JEPSEN_SEED =~ ^[0-9]+$ ]] || fail "JEPSEN_SEED must be a number"
NEM_LOG=$CLUSTER_DIR/nemesis.log
if [[ -n ${JEPSEN_KINDS:-} ]]; then
	IFS=, read -r -a NEM_KINDS <<<"$JEPSEN_KINDS"
	for k in "${NEM_KINDS[@]}"; do
		[[ " $NEM_ALL_KINDS $NEM_EXTRA_KINDS " == *" $k "* ]] || fail "JEPSEN_KINDS: unknown fault kind '$k' (kinds: $NEM_ALL_KINDS $NEM_EXTRA_KINDS)"
	done
fi
if [[ -n ${JEPSEN_PLANT:-} ]]; then
	"$DAEMON" --unsafe-test-plant="$JEPSEN_PLANT" -t -c /dev/null >/dev/null 2>&1 ||
		skip "coroleased has no --unsafe-test-plant=$JEPSEN_PLANT (configure --enable-unsafe-test-plants)"
	EXTRA_DAEMON_OPTS+=(--unsafe-test-plant="$JEPSEN_PLANT")
	say "PLANTED: every coroleased runs with --unsafe-test-plant=$JEPSEN_PLANT; the checker must find a violation"
fi
say "seed $JEPSEN_SEED: $JEPSEN_NODES nodes, $JEPSEN_CLIENTS clients each, nemesis for ${JEPSEN_SECONDS}s (rerun with JEPSEN_SEED=$JEPSEN_SEED)"
nem_log "ev=run phase=start plant=${JEPSEN_PLANT:-none} kinds=${NEM_KINDS[*]// /,} seed=$JEPSEN_SEED nodes=$JEPSEN_NODES seconds=$JEPSEN_SECONDS clients=$JEPSEN_CLIENTS t=$(mono)"

it_up "$JEPSEN_NODES"
for ((i = 1; i <= JEPSEN_NODES; i++)); do
	for ((c = 1; c <= JEPSEN_CLIENTS; c++)); do
		spawn "$i" "jp-c$c" "$JP" run -N "$i" -n "$JEPSEN_NAMES" -k "$JEPSEN_KEYS" \
			-s "$((JEPSEN_SEED * 100 + i * 10 + c))" >/dev/null
	done
done
nem_log "ev=run phase=clients-started t=$(mono)"
sleep 2
nemesis_run "$JEPSEN_SEED" "$JEPSEN_SECONDS" "$JEPSEN_FAULTS"

# heal whatever is left, let the cluster settle with the clients running,
# then stop the clients and read the final state from every node
nem_heal_all
for ((i = 1; i <= JEPSEN_NODES; i++)); do
	must_wait 60 "node $i synced after the faults" synced "$i"
done
nem_log "ev=run phase=healed t=$(mono)"
sleep 3
nem_log "ev=run phase=clients-stop t=$(mono)"
pids=()
for f in "$CLUSTER_DIR"/n*/jp-c*.pid; do
	pid=$(awk '{print $1}' "$f")
	alive "$pid" && kill -TERM "$pid" && pids+=("$pid")
done
for pid in "${pids[@]}"; do
	# a client ends its current call first: an acquire waits up to 3.5 s
	wait_until 20 exited "$pid" || { say "client $pid did not exit on SIGTERM: SIGKILL"; kill -KILL "$pid"; }
done
ok "stopped ${#pids[@]} clients"
for ((i = 1; i <= JEPSEN_NODES; i++)); do
	cluster exec "$i" "$JP" final -N "$i" -n "$JEPSEN_NAMES" -k "$JEPSEN_KEYS" -d 30 >"$CLUSTER_DIR/n$i/final.log" 2>&1 ||
		say "node $i: final reads incomplete (see n$i/final.log)"
done
nem_log "ev=run phase=end t=$(mono)"

opts=(--bound-ms "$JEPSEN_BOUND_MS" --slack-ms "$JEPSEN_SLACK_MS")
[[ $JEPSEN_STRICT == 1 ]] || opts+=(--allow-post-pause-valid)
say "nemesis: $NEM_FID faults; $NEM_UNSYNCED times a node was not synced 60 s after its fault"
say "checker: $CHECKER ${opts[*]} $CLUSTER_DIR"
python3 "$CHECKER" "${opts[@]}" "$CLUSTER_DIR" | tee "$CLUSTER_DIR/checker.out"
rc=${PIPESTATUS[0]}
# the replicas must converge too (after the checker, which says more)
hashes=ok
if wait_until 30 hashes_equal $(seq 1 "$JEPSEN_NODES"); then
	ok "state hashes equal on every node"
else
	hashes=bad
	say "state hashes differ between the nodes 30 s after the run (see $CLUSTER_DIR/divergence.log)"
fi
if [[ -n ${JEPSEN_PLANT:-} ]]; then
	((rc == 1)) || fail "planted $JEPSEN_PLANT, but the checker found no violation (exit $rc, seed $JEPSEN_SEED)"
	say "planted $JEPSEN_PLANT: the checker found the violations (seed $JEPSEN_SEED)"
	it_pass
fi
if ((rc != 0)); then
	keep=${JEPSEN_KEEP:-$CLUSTER_DIR.violation-$JEPSEN_SEED}
	rm -rf "$keep" && mkdir -p "$keep" && cp -a "$CLUSTER_DIR"/n* "$CLUSTER_DIR"/*.log "$CLUSTER_DIR/checker.out" "$keep"/ 2>/dev/null
	fail "the checker found violations (seed $JEPSEN_SEED); histories kept in $keep"
fi
[[ $hashes == ok ]] || fail "the nodes' states did not converge (seed $JEPSEN_SEED)"
((NEM_UNSYNCED == 0)) || fail "a node did not come back within 60 s of a fault ($NEM_UNSYNCED times)"
say "seed $JEPSEN_SEED: VALID"
it_pass
