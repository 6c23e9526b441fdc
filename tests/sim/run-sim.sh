#!/bin/sh
# run-sim.sh - the 'make check' driver of corolease-sim (tests/sim/sim.c).
#
# 1. runs ${SEEDS:-<the binary's default>} seeds of the deterministic cluster
#    simulation with every safety mechanism on, each sender delivering its
#    own messages first as totem does (--self-first: before the others have
#    them; without WRITE_ACK a node answered a write that only it had
#    applied, and lost it at the heal -- seed 27 of this stream before
#    dstop): any invariant violation fails;
# 2. replays the seeds that long runs (bench/sim-long.sh) found beyond the
#    default range, each once (REGRESSION_SEEDS below);
# 3. runs up to ${PLANT_SEEDS:-1000} seeds (epoch-no-term: 2-node seeds,
#    ${EPOCH_PLANT_SEEDS:-10 x PLANT_SEEDS}) with each planted bug (a safety
#    mechanism switched off, core/lease.h CL_UNSAFE_*): the simulator must
#    notice a safety violation (b owner, c epoch, d index), else the test
#    fails, because a checker that misses a planted bug proves nothing.
#    The four defects of issue 7 are no-term, epoch-no-term, split-timer and
#    anchor-own; no-quorum and no-orphan-wait are the older two; no-grant-ack
#    is grant confirmation switched off; votes-own is the vote rule
#    (core/node_out.c votes_suffice()) confirming on the writer's own votes
#    with no other member having applied the write (see the loop below for
#    the options each runs with).
#    no-term (a merge won by (q_lsn, lsn), the term ignored) needs a minority
#    that out-counts a newer quorate lineage, which the default stream of
#    seeds does not make (not within 4,000 seeds): the simulator must notice
#    it in its scenario minority-burst (--scenario minority-burst, the fault
#    schedule biased toward that shape; seed 7 at the time of writing, with
#    dstop and before it), and,
#    as a second, independent check, the safety test
#    tests/safety/merge_loads_minority_state (the schedule by hand over the
#    EVS bus) must fail with it;
# 3. runs ${SCENARIO_SEEDS:-2000} seeds of the scenario minority-burst with
#    every safety mechanism on: any invariant violation fails;
# 4. runs ${ASYM_SEEDS:-2000} seeds of the scenario asym-view (CPG's
#    asymmetric view of one change: some nodes form a ring of their own for
#    a moment, the others skip it and see no one leave or join) with every
#    safety mechanism on, after replaying the seeds of it that caught the
#    two defects it was made for (ASYM_REGRESSION_SEEDS): any invariant
#    violation fails.  Without d0b10b9 (a member's announce starts a round
#    on a member with none) most of its seeds leave a node unsynced
#    (invariant e, check_synced()); without a round in every new ring
#    (core/node.c cl_node_confchg) about 8% lose an acknowledged write (d).
#
# The fault mix has included "dstop" (a daemon stopped alone while its
# corosync runs, sim.c fault_dstop()) since the commit that added it: that
# changed every seed's schedule.  --no-dstop runs the old mix, every seed as
# before it; the seeds found before it (REGRESSION_SEEDS,
# ASYM_REGRESSION_SEEDS) replay both ways.  Seed numbers quoted below are of
# the current mix unless they say otherwise.
#
# The binary's default seed count is 10000 (4000 in an ASan build); SEEDS=N
# overrides it.  Every failure names its seed; replay it with
#     tests/sim/corolease-sim --seed S --verbose [--scenario ...] [--plant ...]
#
# Exit status: 0 pass, 1 fail, 77 skip (binary missing), as automake expects.

SIM=${abs_top_builddir:-.}/tests/sim/corolease-sim
[ -x "$SIM" ] || SIM=./corolease-sim
if [ ! -x "$SIM" ]; then
	echo "run-sim.sh: corolease-sim not found (looked in ${abs_top_builddir:-.}/tests/sim and .)" >&2
	exit 77
fi

PLANT_SEEDS=${PLANT_SEEDS:-1000}
status=0

# replay SEED [OPTION...]: one seed, quietly; a failure is reported and counted
replay() {
	seed=$1
	shift
	if ! SEEDS= "$SIM" --seed "$seed" --jobs 1 "$@" >/dev/null; then
		echo "run-sim.sh: FAIL: seed $seed: replay with $SIM --seed $seed --verbose $*"
		status=1
	fi
}

echo "run-sim.sh: $SIM ${SEEDS:+(SEEDS=$SEEDS)}"
# SEEDS, if set, reaches the binary through the environment
if ! "$SIM" --self-first; then
	echo "run-sim.sh: FAIL: invariant violation (seed above)"
	status=1
fi

# seeds found by long runs: 39290 and 67564 (d: a put overwritten before its
# ack), 513423 and 542349 (x: a tick storm, heartbeats due with the send
# window full), 189357 (c: fresh state still in its grace period ignored the
# epoch floor of a node of a lost lineage that joined meanwhile, and granted
# that lineage's epochs again when its term began in the same ring), 423061
# (d, the simulator's oracle: the last replica of a lineage crashed while a
# fresh machine waited out its grace period; its writes are a fork, not a
# loss the agent could have prevented), 354234 (a segfault: a node whose
# announced state was dropped before the round was decided sent its holds
# from no machine; the snapshot of that round was rejected because the
# restarted round counted announces sent before a daemon's leave -- fixed:
# announces count once confirmed, core/node_sync.c)
# (all found before dstop: each replays in the old mix and in the new)
REGRESSION_SEEDS="39290 67564 513423 542349 189357 423061 354234"
echo "run-sim.sh: seeds found by long runs: $REGRESSION_SEEDS"
for seed in $REGRESSION_SEEDS; do
	replay "$seed" --no-dstop
	replay "$seed"
done

# no-term: the scenario that makes its schedule, and the schedule by hand
echo "run-sim.sh: planted bug 'no-term' must be noticed within $PLANT_SEEDS seeds of --scenario minority-burst"
if ! SEEDS= "$SIM" --seeds "$PLANT_SEEDS" --scenario minority-burst --plant no-term --expect-violation; then
	echo "run-sim.sh: FAIL: planted bug 'no-term' went unnoticed in the scenario minority-burst"
	status=1
fi
MLMS=${abs_top_builddir:-..}/tests/safety/merge_loads_minority_state
if [ -x "$MLMS" ]; then
	echo "run-sim.sh: planted bug 'no-term' must make tests/safety/merge_loads_minority_state fail"
	EVSBUS_UNSAFE=0x04 "$MLMS" >/dev/null 2>&1
	rc=$?
	if [ $rc -ne 1 ]; then
		echo "run-sim.sh: FAIL: planted bug 'no-term' went unnoticed (exit $rc, 1 expected)"
		status=1
	fi
else
	echo "run-sim.sh: FAIL: $MLMS not built"
	status=1
fi

# epoch-no-term breaks an invariant in few seeds of the default stream (4
# of seeds 1..6000 at the merge of grant confirmation, the first at 1022,
# before dstop; every change of the messages moves them), most often where
# the same epoch is given on both sides of a split or after every daemon
# lost its state: it runs 2-node seeds (two_node, both halves quorate; 4 of
# seeds 1..2000 before dstop; with it the first at 201) and ten times the
# seeds, so that a miss by chance is far rarer than 1 in 1,000 runs (the
# run stops at the first violation: seconds on average).
# no-grant-ack (a grant handed to clients before the other members ack it)
# needs a sender's own delivery ahead of the others and a split right after
# it: the scenario minority-burst with --self-first (seed 70; 12 before
# dstop).  anchor-own is checked with no-grant-ack too: grant confirmation
# alone stops most of what a wrong validity anchor lets through (anchor-own
# by itself: 1 of seeds 1..5000 before dstop; with no-grant-ack: seed 51,
# 10 before dstop), and the anchor rule must still hold where it does not
# (holds granted before the fault).
# votes-own (the vote rule confirms on the writer's own votes, no other
# member having applied the write) shows on 2-node seeds in the standard
# quorum mode, where one node's vote leaves the other short of a quorum,
# with --self-first: the writer applies its own write first and answers at
# once, and the next check finds the acknowledged write missing on the
# other member (invariant d); seed 77, and 20 of seeds 1..1010 (without
# --self-first none of 3,000 default seeds; with it in the default stream
# the first is 582).
for plant in no-quorum no-orphan-wait epoch-no-term split-timer anchor-own no-grant-ack \
	votes-own; do
	budget=$PLANT_SEEDS
	extra=
	case $plant in
	epoch-no-term)
		budget=${EPOCH_PLANT_SEEDS:-$((PLANT_SEEDS * 10))}
		extra="--nodes 2" ;;
	anchor-own) extra="--plant no-grant-ack" ;;
	no-grant-ack) extra="--scenario minority-burst --self-first" ;;
	votes-own) extra="--nodes 2 --self-first" ;;
	esac
	echo "run-sim.sh: planted bug '$plant' must be noticed within $budget seeds $extra"
	# shellcheck disable=SC2086 # extra is empty or options split on spaces
	if ! SEEDS= "$SIM" --seeds "$budget" --plant "$plant" $extra --expect-violation; then
		echo "run-sim.sh: FAIL: planted bug '$plant' went unnoticed"
		status=1
	fi
done

# scenario NAME COUNT: COUNT seeds of --scenario NAME, every safety mechanism on
scenario() {
	echo "run-sim.sh: $2 seeds of --scenario $1, every safety mechanism on"
	if ! SEEDS= "$SIM" --seeds "$2" --scenario "$1"; then
		echo "run-sim.sh: FAIL: invariant violation in the scenario $1 (seed above)"
		status=1
	fi
}

scenario minority-burst "${SCENARIO_SEEDS:-2000}"

# asym-view: seed 2 left nodes unsynced without d0b10b9; 17 and 50 lost an
# acknowledged write (d) before every new ring had a round (before dstop:
# each replays in the old mix and in the new)
ASYM_REGRESSION_SEEDS="2 17 50"
echo "run-sim.sh: seeds of --scenario asym-view that caught its defects: $ASYM_REGRESSION_SEEDS"
for seed in $ASYM_REGRESSION_SEEDS; do
	replay "$seed" --scenario asym-view --no-dstop
	replay "$seed" --scenario asym-view
done
scenario asym-view "${ASYM_SEEDS:-2000}"

[ $status -eq 0 ] && echo "run-sim.sh: PASS"
exit $status
