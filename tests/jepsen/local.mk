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

TESTS += tests/jepsen/t21-checker.sh
EXTRA_DIST += tests/jepsen/t21-checker.sh tests/jepsen/jepsen-check.py
