# lockd/: the daemon and its pure core (included from the top-level Makefile.am)

# Pure, deterministic core (no I/O): shared by the daemon, unit tests,
# the simulator and the benchmarks.
noinst_LTLIBRARIES += lockd/libcorecore.la
lockd_libcorecore_la_SOURCES = \
	lockd/lease.c lockd/lease.h \
	lockd/index.c lockd/index.h \
	lockd/wire.c lockd/wire.h \
	lockd/node.c lockd/node.h \
	lockd/hash.h lockd/proto.h \
	lockd/state.h


# The daemon: thin glue around the core (corosync CPG + votequorum, libqb IPC).
sbin_PROGRAMS += lockd/coroleased
lockd_coroleased_SOURCES = \
	lockd/main.c lockd/daemon.h \
	lockd/cpg.c lockd/cpg.h \
	lockd/quorum.c lockd/quorum.h \
	lockd/ipc.c lockd/ipc.h \
	lockd/config.c lockd/config.h
lockd_coroleased_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS) $(LIBCPG_CFLAGS) \
	$(LIBVOTEQUORUM_CFLAGS) $(LIBCMAP_CFLAGS) $(LIBSYSTEMD_CFLAGS)
lockd_coroleased_LDADD = lockd/libcorecore.la $(LIBQB_LIBS) $(LIBCPG_LIBS) \
	$(LIBVOTEQUORUM_LIBS) $(LIBCMAP_LIBS) $(LIBSYSTEMD_LIBS)
