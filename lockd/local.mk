# lockd/: the daemon and its pure core (included from the top-level Makefile.am)

# Pure, deterministic core (no I/O): shared by the daemon, unit tests,
# the simulator and the benchmarks.
noinst_LTLIBRARIES += lockd/libcorecore.la
lockd_libcorecore_la_SOURCES = \
	lockd/lease.c lockd/lease.h \
	lockd/index.c lockd/index.h \
	lockd/wire.c lockd/wire.h \
	lockd/node.c lockd/node.h \
	lockd/hash.h \
	lockd/state.h

# The public client header; not installed yet (libclient is not built yet).
noinst_HEADERS += libclient/corolease.h
