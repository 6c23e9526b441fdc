# tests/integration/: end-to-end tests against real corosync (included from the
# top-level Makefile.am; fragments only append with +=).
#
# Each script builds its own N-node cluster with cluster.sh (network + mount
# namespaces, own prefix/subnet/dir, so 'make -j' runs them in parallel),
# starts coroleased in the nodes and tears everything down on exit.  They need
# root, 'ip netns' and corosync, and exit 77 (SKIP) without them.  Logs of a
# failed script (corosync + coroleased per node) are printed into its .log;
# the cluster directory is /tmp/corolease-it-NAME (IT_TMPDIR overrides /tmp;
# IT_KEEP=1 keeps the cluster up after the script for inspection).

check_PROGRAMS += tests/integration/cl-load tests/integration/cl-garbage tests/integration/cl-squat \
	tests/integration/cl-limits tests/integration/cl-valid tests/integration/cl-flood \
	tests/integration/cl-brk tests/integration/cl-nshared tests/integration/cl-aput \
	tests/integration/cl-drop tests/integration/cl-kexec tests/integration/cl-setuid \
	tests/integration/cl-block
# preloaded into coroleased by t179: its socket then accepts passed fds (Linux < 6.16)
check_LTLIBRARIES += tests/integration/nopassrights.la
tests_integration_nopassrights_la_SOURCES = tests/integration/nopassrights.c
tests_integration_nopassrights_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_integration_nopassrights_la_LIBADD = -ldl
tests_integration_cl_kexec_SOURCES = tests/integration/cl-kexec.c
tests_integration_cl_kexec_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_kexec_LDADD = libclient/libcorolease.la
tests_integration_cl_setuid_SOURCES = tests/integration/cl-setuid.c
tests_integration_cl_block_SOURCES = tests/integration/cl-block.c tests/integration/clt.h
tests_integration_cl_block_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_block_LDADD = libclient/libcorolease.la
tests_integration_cl_drop_SOURCES = tests/integration/cl-drop.c tests/integration/clt.h
tests_integration_cl_drop_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_drop_LDADD = libclient/libcorolease.la
tests_integration_cl_brk_SOURCES = tests/integration/cl-brk.c
tests_integration_cl_brk_CPPFLAGS = -I$(top_srcdir)/include -DCOROLEASE_IPC_PEER
tests_integration_cl_brk_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS)
tests_integration_cl_load_SOURCES = tests/integration/cl-load.c tests/integration/clt.h
tests_integration_cl_load_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_load_LDADD = libclient/libcorolease.la
tests_integration_cl_squat_SOURCES = tests/integration/cl-squat.c
tests_integration_cl_squat_CFLAGS = $(AM_CFLAGS)
tests_integration_cl_garbage_CPPFLAGS = -I$(top_srcdir)/include -DCOROLEASE_IPC_PEER
tests_integration_cl_garbage_SOURCES = tests/integration/cl-garbage.c tests/integration/clt.h
tests_integration_cl_garbage_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS)
tests_integration_cl_garbage_LDADD = libclient/libcorolease.la $(LIBQB_LIBS)
tests_integration_cl_limits_SOURCES = tests/integration/cl-limits.c tests/integration/clt.h
tests_integration_cl_limits_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_limits_LDADD = libclient/libcorolease.la
tests_integration_cl_flood_SOURCES = tests/integration/cl-flood.c tests/integration/clt.h
tests_integration_cl_flood_CPPFLAGS = -I$(top_srcdir)/include -DCOROLEASE_IPC_PEER
tests_integration_cl_flood_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS)
tests_integration_cl_flood_LDADD = libclient/libcorolease.la $(LIBQB_LIBS)
tests_integration_cl_nshared_SOURCES = tests/integration/cl-nshared.c tests/integration/clt.h
tests_integration_cl_nshared_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_nshared_LDADD = libclient/libcorolease.la
tests_integration_cl_aput_SOURCES = tests/integration/cl-aput.c
tests_integration_cl_aput_CPPFLAGS = -I$(top_srcdir)/include
tests_integration_cl_aput_LDADD = libclient/libcorolease.la
tests_integration_cl_valid_SOURCES = tests/integration/cl-valid.c tests/integration/clt.h
tests_integration_cl_valid_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/lockd
tests_integration_cl_valid_LDADD = libclient/libcorolease.la

# longest first, so 'make -j2' overlaps them well.  The flood tests (t67,
# t84, t85, t170, t174-t177) and t19 (batching, which a starved client
# defeats) take the host's flood lock (lib.sh flood_lock) for their measured
# window, one at a time, so they are spread among the others: a flood test
# next in line waits with its make slot held.
INTEGRATION_TESTS = \
	tests/integration/t91-dovecot-plugin.sh \
	tests/integration/t90-dovecot-baseline.sh \
	tests/integration/t92-dovecot-refusals.sh \
	tests/integration/t93-dovecot-routing.sh \
	tests/integration/t94-dovecot-faults.sh \
	tests/integration/t33-pacemaker.sh \
	tests/integration/t95-dovecot-stopped-daemon.sh \
	tests/integration/t88-dovecot-path-alias.sh \
	tests/integration/t99-dovecot-shared-rename.sh \
	tests/integration/t117-dovecot-rename-children.sh \
	tests/integration/t130-dovecot-brk-shared-list-index.sh \
	tests/integration/t135-dovecot-brk-username-alias.sh \
	tests/integration/t133-dovecot-brk-rename-children.sh \
	tests/integration/t140-dovecot-brk2-owner-no-open.sh \
	tests/integration/t141-dovecot-brk2-second-namespace.sh \
	tests/integration/t144-dovecot-brk2-shared-delete.sh \
	tests/integration/t143-dovecot-brk2-mutual-share.sh \
	tests/integration/t142-dovecot-brk2-shared-list.sh \
	tests/integration/t150-dovecot-brk3-shared-status.sh \
	tests/integration/t151-dovecot-brk3-refused-list.sh \
	tests/integration/t152-dovecot-brk3-deferred-waits.sh \
	tests/integration/t153-dovecot-brk3-three-cycle.sh \
	tests/integration/t162-dovecot-brk4-daemon-lost-mid-list.sh \
	tests/integration/t96-dovecot-hung-daemon-wait.sh \
	tests/integration/t87-dovecot-route-hung-daemon.sh \
	tests/integration/t97-dovecot-route-stuck-client.sh \
	tests/integration/t98-dovecot-create-keeps-lease.sh \
	tests/integration/t184-dovecot-wait-validity.sh \
	tests/integration/t185-dovecot-self-fence.sh \
	tests/integration/t186-dovecot-login-wait-bound.sh \
	tests/integration/t187-dovecot-open-slow-owner.sh \
	tests/integration/t189-dovecot-lmtp-hung.sh \
	tests/integration/t190-dovecot-open-daemon-restart.sh \
	tests/integration/t08-snapshot-100k.sh \
	tests/integration/t11-lease-valid.sh \
	tests/integration/t09-daemon-restart.sh \
	tests/integration/t07-partition.sh \
	tests/integration/t12-two-node-split.sh \
	tests/integration/t13-corosync-stall.sh \
	tests/integration/t15-two-node-merge-after-fence-ack.sh \
	tests/integration/t05-kill-fence.sh \
	tests/integration/t06-pause.sh \
	tests/integration/t03-handover.sh \
	tests/integration/t04-fastpath.sh \
	tests/integration/t02-contention.sh \
	tests/integration/t10-garbage.sh \
	tests/integration/t14-client-limits.sh \
	tests/integration/t20-list-flood.sh \
	tests/integration/t21-local-users.sh \
	tests/integration/t16-max-leases.sh \
	tests/integration/t17-kill-on-revoke.sh \
	tests/integration/t18-hung-daemon-others-serve.sh \
	tests/integration/t35-join-during-hang.sh \
	tests/integration/t36-sync-winner-fault.sh \
	tests/integration/t37-acquire-wrapper-bounds.sh \
	tests/integration/t38-kill-flag-setuid.sh \
	tests/integration/t215-kill-budget-per-uid.sh \
	tests/integration/t216-watches-per-uid.sh \
	tests/integration/t217-user-flood-fairness.sh \
	tests/integration/t218-connect-bursts.sh \
	tests/integration/t219-dovecot-brk5-deferred-list-refresh.sh \
	tests/integration/t220-dovecot-deinit-order.sh \
	tests/integration/t221-ocf-monitor-large-token.sh \
	tests/integration/t222-acquire-next-holder-handover.sh \
	tests/integration/t223-cli-output-errors.sh \
	tests/integration/t39-corosync-stopped-long.sh \
	tests/integration/t192-revoke-kill-hung-corosync.sh \
	tests/integration/t34-runtime-votes-stale.sh \
	tests/integration/t19-send-path.sh \
	tests/integration/t22-squat.sh \
	tests/integration/t23-epoch-after-all-daemons-restart.sh \
	tests/integration/t29-grace-waits-for-daemonless-node.sh \
	tests/integration/t24-two-node-split-daemon-restart.sh \
	tests/integration/t25-two-node-split-restart-two-owners.sh \
	tests/integration/t26-daemon-stop-waiter.sh \
	tests/integration/t27-index-quota.sh \
	tests/integration/t28-nowait-try.sh \
	tests/integration/t60-no-shared-rings.sh tests/integration/t177-hold-loss.sh \
	tests/integration/t61-descriptor-exhaustion.sh tests/integration/t65-uid-memory.sh \
	tests/integration/t66-connect-flood.sh tests/integration/t70-refusal-log-flood.sh \
	tests/integration/t80-scm-linger.sh tests/integration/t81-warn-flood.sh \
	tests/integration/t82-odd-packets.sh tests/integration/t170-hold-faults-liveness.sh \
	tests/integration/t173-cpg-msgs-reconnect.sh tests/integration/t73-uncounted-limits.sh \
	tests/integration/t86-kill-log.sh tests/integration/t116-second-daemon-same-node.sh \
	tests/integration/t63-revoke-other-user.sh tests/integration/t64-hold-slots.sh \
	tests/integration/t176-root-flood-handover.sh tests/integration/t69-node-shared-users.sh \
	tests/integration/t30-ocf-agent.sh tests/integration/t174-hold-minority-partition.sh \
	tests/integration/t31-systemd-unit.sh tests/integration/t110-ocf-stop-undrained.sh \
	tests/integration/t84-loop-starvation.sh tests/integration/t112-ocf-grace-not-running.sh \
	tests/integration/t67-list-scan.sh tests/integration/t113-ocf-corosync-stall-monitor.sh \
	tests/integration/t114-ocf-start-stuck-timeout.sh tests/integration/t175-root-status-flood-latency.sh \
	tests/integration/t115-ocf-run-dir-removed.sh tests/integration/t85-status-scan.sh \
	tests/integration/t118-ocf-monitor-sync-round.sh \
	tests/integration/t32-prometheus.sh tests/integration/t01-single-node.sh \
	tests/integration/t178-async-puts.sh tests/integration/t68-dropped-hold-release.sh \
	tests/integration/t179-closer-blocked.sh tests/integration/t180-descriptor-budget.sh \
	tests/integration/t181-closer-persistent-stall.sh tests/integration/t182-descriptor-low-limit.sh \
	tests/integration/t183-closer-uninterruptible.sh tests/integration/t188-client-blocking-wait.sh \
	tests/integration/t191-pidfile-lock-user.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/check-prometheus.py \
	tests/integration/dovecot-lib.sh tests/integration/ocf-lib.sh tests/integration/imap-load.py \
	tests/integration/imap-script.py tests/integration/lmtp-steps.py tests/integration/foreign-cpu.py tests/integration/fence_clsn
