# tests/jepsen/: the black-box fault test (issue 7), included from the
# top-level Makefile.am; fragments only append with +=.
#
#   jp-client           the clients (libcorolease through corolease.h only)
#   nemesis.sh          faults on a seeded random schedule (cluster.sh)
#   jepsen-check.py     the checker: proves the invariants from the histories
#   run.sh              one run: cluster, clients, nemesis, final reads, checker
#   t20-jepsen.sh       'make check': a short seeded run on 3 nodes
#   t21-checker.sh      'make check': the checker catches each violation kind
#                       in crafted histories (no cluster needed)
#
# 'make jepsen' runs a long one; see README.md and run.sh.

check_PROGRAMS += tests/jepsen/jp-client
tests_jepsen_jp_client_SOURCES = tests/jepsen/jp-client.c
tests_jepsen_jp_client_CPPFLAGS = -I$(top_srcdir)/include
tests_jepsen_jp_client_LDADD = libclient/libcorolease.la

TESTS += tests/jepsen/t21-checker.sh tests/jepsen/t20-jepsen.sh
EXTRA_DIST += tests/jepsen/t20-jepsen.sh tests/jepsen/t21-checker.sh tests/jepsen/run.sh \
	tests/jepsen/nemesis.sh tests/jepsen/jepsen-check.py

# A long run on its own (not part of 'make check'); root, corosync, python3:
#   make jepsen [JEPSEN_NODES=5] [JEPSEN_SECONDS=600] [JEPSEN_SEED=N] [IT_INSTANCE=D]
# Variables given on the command line or in the environment go through;
# the rest are run.sh's defaults, but 5 nodes and 600 s here.
.PHONY: jepsen
jepsen: tests/jepsen/jp-client lockd/coroleased tools/corolease
	$(AM_TESTS_ENVIRONMENT) \
	JEPSEN_NODES="$${JEPSEN_NODES:-5}" JEPSEN_SECONDS="$${JEPSEN_SECONDS:-600}" \
	$(srcdir)/tests/jepsen/run.sh
