# core/: the pure, deterministic core (no I/O, no clock, no corosync): the
# replicated lease + index machine (lease.c, index.c), the wire codec
# (wire.c) and one node's agent around them (node*.c).  Shared by the
# daemon, the unit tests, the simulator and the benchmarks.
#
# Include path: the core sees only itself and the public header (limits and
# error codes); it never sees the daemon, the library or the IPC protocol.
CORE_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/core

noinst_LTLIBRARIES += core/libcorolease-core.la
core_libcorolease_core_la_CPPFLAGS = $(CORE_CPPFLAGS)
core_libcorolease_core_la_SOURCES = \
	core/lease.c core/lease.h \
	core/lease_query.c core/lease_snap.c \
	core/index.c core/index.h \
	core/wire.c core/wire.h \
	core/node.c core/node.h core/node_int.h \
	core/node_hold.c core/node_lease.c core/node_sync.c core/node_out.c core/node_table.c \
	core/hash.h core/hist.h \
	core/slab.c core/slab.h \
	core/logf.h \
	core/state.h
