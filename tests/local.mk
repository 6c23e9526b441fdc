# tests/: unit tests (Check), the deterministic simulator, integration harness.
# Run with 'make check' (automake parallel harness; logs in tests/**/*.log).

# --- Check unit tests: link the pure core directly ---------------------------
CHECK_TEST_PROGS = \
	tests/check_lease \
	tests/check_index \
	tests/check_wire \
	tests/check_node \
	tests/check_util \
	tests/check_sm_oom \
	tests/check_confchg \
	tests/check_page \
	tests/check_proctree \
	tests/check_watch \
	tests/check_groups \
	tests/check_holdquota \
	tests/check_killbudget \
	tests/check_killguard \
	tests/check_sendhold \
	tests/check_evsbus
check_PROGRAMS += $(CHECK_TEST_PROGS)
TESTS += $(CHECK_TEST_PROGS)

CHECK_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
# tests/support/: helpers shared by the unit tests
TEST_SUPPORT = tests/support/recorder.c tests/support/recorder.h tests/support/xrand.h
TEST_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/tests/support
CHECK_TEST_LDADD = core/libcorolease-core.la $(CHECK_LIBS)
# Allocation-failure injection (tests/support/failalloc.h): a test linked with
# $(TEST_FAILALLOC_FLAGS) in its _LDFLAGS and $(FAILALLOC_SRC) in its sources
# has every malloc/calloc/realloc of its own objects and of the core library
# routed through failalloc.  (Not named *_LDFLAGS: automake would take
# TEST_FAILALLOC for a program's name.)
FAILALLOC_SRC = tests/support/failalloc.c tests/support/failalloc.h
TEST_FAILALLOC_FLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=cl_slab_alloc

tests_check_lease_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_lease_SOURCES = tests/check_lease.c $(TEST_SUPPORT)
tests_check_lease_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_lease_LDADD = $(CHECK_TEST_LDADD)

tests_check_index_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_index_SOURCES = tests/check_index.c $(TEST_SUPPORT)
tests_check_index_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_index_LDADD = $(CHECK_TEST_LDADD)

# issue 8 (F10): lease names computed to collide in a public hash cost no more
# than others (the name tables' keys are secret)
check_PROGRAMS += tests/check_hashflood
TESTS += tests/check_hashflood
tests_check_hashflood_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_hashflood_SOURCES = tests/check_hashflood.c
tests_check_hashflood_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_hashflood_LDADD = $(CHECK_TEST_LDADD)

tests_check_wire_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_wire_SOURCES = tests/check_wire.c
tests_check_wire_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_wire_LDADD = $(CHECK_TEST_LDADD)

# check_node runs its scenarios under allocation-failure injection too
tests_check_node_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_node_SOURCES = tests/check_node.c $(FAILALLOC_SRC)
tests_check_node_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_node_LDFLAGS = $(TEST_FAILALLOC_FLAGS)
tests_check_node_LDADD = $(CHECK_TEST_LDADD)

# tests/support/evsbus: corosync's extended virtual synchrony, in process,
# with the helpers of the safety tests (tests/safety/safety.c)
check_LTLIBRARIES += tests/libevsbus.la
tests_libevsbus_la_SOURCES = \
	tests/support/evsbus.c tests/support/evsbus.h \
	tests/safety/safety.c tests/safety/safety.h
tests_libevsbus_la_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests/safety
tests_libevsbus_la_CFLAGS = $(CHECK_TEST_CFLAGS)
EVSBUS_LDADD = tests/libevsbus.la $(CHECK_TEST_LDADD)

tests_check_evsbus_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_evsbus_SOURCES = tests/check_evsbus.c
tests_check_evsbus_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_evsbus_LDADD = $(EVSBUS_LDADD)

# the slab itself, also under ASan (where the core's records are calloc()s)
tests_check_util_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/core -DCL_SLAB_ALWAYS
tests_check_util_SOURCES = tests/check_util.c core/slab.c
tests_check_util_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_util_LDADD = $(CHECK_LIBS)

tests_check_sm_oom_CPPFLAGS = $(TEST_CPPFLAGS)
tests_check_sm_oom_SOURCES = tests/check_sm_oom.c $(FAILALLOC_SRC)
tests_check_sm_oom_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_sm_oom_LDFLAGS = $(AM_LDFLAGS) $(TEST_FAILALLOC_FLAGS)
tests_check_sm_oom_LDADD = $(CHECK_TEST_LDADD)

# lockd/'s pure parts, linked from their sources
tests_check_confchg_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd
tests_check_confchg_SOURCES = tests/check_confchg.c lockd/confchg.c lockd/confchg.h
tests_check_confchg_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_confchg_LDADD = $(CHECK_LIBS)

tests_check_page_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/lockd -DCOROLEASE_IPC_PEER
tests_check_page_SOURCES = tests/check_page.c lockd/page.c lockd/page.h
tests_check_page_CFLAGS = $(CHECK_TEST_CFLAGS) $(LIBQB_CFLAGS)
tests_check_page_LDADD = $(CHECK_LIBS)

tests_check_proctree_CPPFLAGS = -I$(top_srcdir)/lockd
tests_check_proctree_SOURCES = tests/check_proctree.c lockd/proctree.c lockd/proctree.h
tests_check_proctree_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_proctree_LDADD = $(CHECK_LIBS)

tests_check_groups_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd
tests_check_groups_SOURCES = tests/check_groups.c lockd/groups.c lockd/groups.h
tests_check_groups_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_groups_LDADD = $(CHECK_LIBS)
tests_check_holdquota_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd
tests_check_holdquota_SOURCES = tests/check_holdquota.c lockd/holdquota.c lockd/holdquota.h
tests_check_holdquota_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_holdquota_LDADD = $(CHECK_LIBS)
tests_check_killbudget_CPPFLAGS = -I$(top_srcdir)/lockd
tests_check_killbudget_SOURCES = tests/check_killbudget.c lockd/killbudget.c lockd/killbudget.h
tests_check_killbudget_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_killbudget_LDADD = $(CHECK_LIBS)
tests_check_killguard_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd -DCOROLEASE_IPC_PEER
tests_check_killguard_SOURCES = tests/check_killguard.c lockd/killguard.c lockd/killguard.h \
	lockd/proctree.c lockd/proctree.h
tests_check_killguard_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_killguard_LDADD = $(CHECK_LIBS) -lpthread
tests_check_sendhold_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd
tests_check_sendhold_SOURCES = tests/check_sendhold.c lockd/sendhold.c lockd/sendhold.h
tests_check_sendhold_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_sendhold_LDADD = $(CHECK_LIBS)
tests_check_watch_CPPFLAGS = $(CORE_CPPFLAGS) -I$(top_srcdir)/lockd
tests_check_watch_SOURCES = tests/check_watch.c lockd/watch.c lockd/watch.h \
	lockd/hashkey.c lockd/hashkey.h
tests_check_watch_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_check_watch_LDADD = $(CHECK_LIBS)

# --- the layers: every #include of the production code stays in its layer ---
TESTS += tests/check-layers.sh tests/check-docs.sh tests/check-fence-alert.sh tests/check-package-deps.sh \
	tests/check-bench-report.sh tests/check-test-scripts.sh tests/check-host-locks.sh
EXTRA_DIST += tests/check-layers.sh tests/check-docs.sh tests/check-fence-alert.sh tests/check-package-deps.sh \
	tests/check-bench-report.sh tests/check-test-scripts.sh tests/check-host-locks.sh

# --- configuration golden tests: coroleased -t on tests/config/*.conf -------
TESTS += tests/config/run-config-tests.sh
EXTRA_DIST += tests/config

# --- safety regression tests (issue 7) ---------------------------------------
# One binary per schedule, over tests/support/evsbus.  Each asserts the SAFE
# outcome, so it fails on code that has the defect: exit 1 (XFAIL) when the
# safety assertion fails, 99 (a hard ERROR even here) when it fails for any
# other reason.  The fix of a defect removes its test from XFAIL_TESTS.  Each
# test's header names the plant (EVSBUS_UNSAFE, EVSBUS_PAGE; see
# tests/support/evsbus.h) or the local revert that makes it fail again.
SAFETY_TESTS = \
	tests/safety/merge_loads_minority_state \
	tests/safety/epoch_reused_across_partition \
	tests/safety/two_node_split_frees_other_side \
	tests/safety/lease_valid_after_revoke \
	tests/safety/corosync_pause_stale_grant \
	tests/safety/sync_read_stale_on_minority \
	tests/safety/stateless_restart_grants_early \
	tests/safety/merge_drops_loser_hold \
	tests/safety/two_node_transitional_write_acked
check_PROGRAMS += $(SAFETY_TESTS)
TESTS += $(SAFETY_TESTS)

SAFETY_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests/safety

tests_safety_merge_loads_minority_state_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_merge_loads_minority_state_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_merge_loads_minority_state_LDADD = $(EVSBUS_LDADD)

tests_safety_epoch_reused_across_partition_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_epoch_reused_across_partition_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_epoch_reused_across_partition_LDADD = $(EVSBUS_LDADD)

tests_safety_two_node_split_frees_other_side_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_two_node_split_frees_other_side_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_two_node_split_frees_other_side_LDADD = $(EVSBUS_LDADD)

tests_safety_lease_valid_after_revoke_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_lease_valid_after_revoke_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_lease_valid_after_revoke_LDADD = $(EVSBUS_LDADD)

tests_safety_corosync_pause_stale_grant_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_corosync_pause_stale_grant_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_corosync_pause_stale_grant_LDADD = $(EVSBUS_LDADD)

tests_safety_sync_read_stale_on_minority_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_sync_read_stale_on_minority_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_sync_read_stale_on_minority_LDADD = $(EVSBUS_LDADD)

tests_safety_stateless_restart_grants_early_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_stateless_restart_grants_early_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_stateless_restart_grants_early_LDADD = $(EVSBUS_LDADD)

tests_safety_merge_drops_loser_hold_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_merge_drops_loser_hold_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_merge_drops_loser_hold_LDADD = $(EVSBUS_LDADD)
tests_safety_two_node_transitional_write_acked_CPPFLAGS = $(SAFETY_CPPFLAGS)
tests_safety_two_node_transitional_write_acked_CFLAGS = $(CHECK_TEST_CFLAGS)
tests_safety_two_node_transitional_write_acked_LDADD = $(EVSBUS_LDADD)

# --- deterministic cluster simulator ----------------------------------------
# The binary is driven by tests/sim/run-sim.sh (seeds, scenarios); it is not a
# TESTS entry on its own.
check_PROGRAMS += tests/sim/corolease-sim
tests_sim_corolease_sim_SOURCES = tests/sim/sim.c tests/sim/sim.h
tests_sim_corolease_sim_CPPFLAGS = $(CORE_CPPFLAGS)
tests_sim_corolease_sim_LDADD = core/libcorolease-core.la

# Test scripts: must be executable and find binaries via $top_builddir
TESTS += tests/sim/run-sim.sh
EXTRA_DIST += tests/sim/run-sim.sh

# --- integration harness (real corosync in network namespaces; needs root) ---
EXTRA_DIST += tests/integration/cluster.sh
