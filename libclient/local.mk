# libclient/: the client library libcorolease (included from the top-level
# Makefile.am; fragments only append with +=).
#
# Only the public functions are exported: everything is built with
# -fvisibility=hidden, they are marked visible in client.c, and the version
# script lists each of them under the COROLEASE_0.1 node.
# libclient/libcorolease.symbols is the Debian symbols file;
# tests/check-symbols.sh keeps both in step with the library, the headers
# and libcorolease(3).
#
# Include path: include/ only; the library never sees the core or the
# daemon.  It is one end of the IPC protocol (COROLEASE_IPC_PEER, see
# include/corolease/ipc.h); the example, like any user, is not.

lib_LTLIBRARIES += libclient/libcorolease.la
LIBCLIENT_CPPFLAGS = -I$(top_srcdir)/include
libclient_libcorolease_la_CPPFLAGS = $(LIBCLIENT_CPPFLAGS) -DCOROLEASE_IPC_PEER
libclient_libcorolease_la_SOURCES = libclient/client.c libclient/transport.c \
	libclient/transport.h
libclient_libcorolease_la_CFLAGS = $(AM_CFLAGS) $(VISIBILITY_CFLAGS) $(LIBQB_CFLAGS) \
	-DCOROLEASE_BUILDING
libclient_libcorolease_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 -no-undefined \
	-Wl,--version-script=$(srcdir)/libclient/libcorolease.map
EXTRA_libclient_libcorolease_la_DEPENDENCIES = $(srcdir)/libclient/libcorolease.map
EXTRA_DIST += libclient/libcorolease.map libclient/libcorolease.symbols \
	libclient/corolease.pc.in

# The example quoted in README.md and libcorolease(3): compiled (and linked)
# by 'make check' so it cannot rot; it is not run (it needs a daemon).
check_PROGRAMS += libclient/example
libclient_example_CPPFLAGS = $(LIBCLIENT_CPPFLAGS)
libclient_example_SOURCES = libclient/example.c
libclient_example_LDADD = libclient/libcorolease.la

dist_man_MANS += doc/libcorolease.3

# Unit tests of the library: client.c linked with a stand-in for its
# transport (tests/support/faketp.c), the test playing the daemon.
check_PROGRAMS += tests/check_client
TESTS += tests/check_client
tests_check_client_SOURCES = tests/check_client.c libclient/client.c \
	tests/support/faketp.c tests/support/faketp.h
tests_check_client_CPPFLAGS = $(LIBCLIENT_CPPFLAGS) -DCOROLEASE_IPC_PEER \
	-I$(top_srcdir)/tests/support -I$(top_srcdir)/libclient
tests_check_client_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBQB_CFLAGS)
# the test moves CLOCK_BOOTTIME ahead of CLOCK_MONOTONIC (a suspend)
tests_check_client_LDFLAGS = -Wl,--wrap=clock_gettime
tests_check_client_LDADD = $(CHECK_LIBS)

# The exported symbols against the version script, the Debian symbols file,
# the public headers and libcorolease(3).
TESTS += tests/check-symbols.sh
EXTRA_DIST += tests/check-symbols.sh
