#!/bin/bash
# t20-jepsen.sh - the short black-box fault test of 'make check': 3 nodes, 3
# clients each, the nemesis for 30 s and at least 7 faults on a fixed seed
# (so every fault kind comes up once: nemesis.sh deals them in decks of 7),
# then the checker.  About 100 s.  JEPSEN_SEED, JEPSEN_SECONDS, JEPSEN_NODES override; longer
# runs: 'make jepsen' (tests/jepsen/run.sh, README.md).
export JEPSEN_NAME=jepsen JEPSEN_NUM=21
export JEPSEN_NODES=${JEPSEN_NODES:-3}
export JEPSEN_SECONDS=${JEPSEN_SECONDS:-30}
export JEPSEN_FAULTS=${JEPSEN_FAULTS:-7}
export JEPSEN_SEED=${JEPSEN_SEED:-20}
exec "$(dirname "$0")/run.sh"
