# dovecot/: the Dovecot 2.3 mail plugin (included from the top-level
# Makefile.am; fragments only append with +=).  Built only when configure
# finds dovecot-config and Dovecot's headers (Debian: dovecot-dev); installed
# into Dovecot's module dir (--with-dovecot-moduledir overrides), so that
# 'mail_plugins = $mail_plugins corolease' loads it (and imap_corolease, in
# protocol imap, the IMAP module next to it).
#
# No sanitizers: Dovecot's binaries are not built with them, and an ASan
# object cannot be loaded into a process whose ASan runtime does not come
# first.  In a --with-sanitizers build the plugin still links the sanitized
# libcorolease, which Dovecot then cannot load: the Dovecot integration
# tests (t90, t91) skip there, saying so.
#
# The pure parts (naming.c: lease names, settings) have no Dovecot
# dependency and are unit-tested in every build (tests/check_dovecot).

if HAVE_DOVECOT
dovecot_moduledir = $(DOVECOT_MODULEDIR)
dovecot_module_LTLIBRARIES = dovecot/lib90_corolease_plugin.la
dovecot_lib90_corolease_plugin_la_SOURCES = dovecot/corolease-plugin.c dovecot/naming.c
dovecot_lib90_corolease_plugin_la_CPPFLAGS = -I$(top_srcdir)/include $(DOVECOT_CPPFLAGS)
dovecot_lib90_corolease_plugin_la_CFLAGS = $(WARN_CFLAGS)
dovecot_lib90_corolease_plugin_la_LDFLAGS = -module -avoid-version -shared
dovecot_lib90_corolease_plugin_la_LIBADD = libclient/libcorolease.la
# imap only ('protocol imap { mail_plugins = $mail_plugins imap_corolease }'):
# the IMAP "* BYE <reason>" when the plugin ends a session.  Its undefined
# symbols are resolved at load time from the imap binary and from
# lib90_corolease_plugin (loaded before it, RTLD_GLOBAL).
dovecot_module_LTLIBRARIES += dovecot/lib95_imap_corolease_plugin.la
dovecot_lib95_imap_corolease_plugin_la_SOURCES = dovecot/imap-corolease-plugin.c
dovecot_lib95_imap_corolease_plugin_la_CPPFLAGS = -I$(top_srcdir)/dovecot $(DOVECOT_CPPFLAGS)
dovecot_lib95_imap_corolease_plugin_la_CFLAGS = $(WARN_CFLAGS)
dovecot_lib95_imap_corolease_plugin_la_LDFLAGS = -module -avoid-version -shared
endif
noinst_HEADERS += dovecot/naming.h dovecot/corolease-plugin.h
EXTRA_DIST += dovecot/corolease-plugin.c dovecot/naming.c dovecot/imap-corolease-plugin.c
# configuration examples, shipped by the packages (dovecot-corolease)
EXTRA_DIST += dovecot/examples/90-corolease.conf dovecot/examples/auth-corolease-route.conf.ext \
	dovecot/examples/dovecot-dict-route.conf.ext

check_PROGRAMS += tests/check_dovecot
TESTS += tests/check_dovecot
tests_check_dovecot_SOURCES = tests/check_dovecot.c dovecot/naming.c
tests_check_dovecot_CPPFLAGS = -I$(top_srcdir)/dovecot
tests_check_dovecot_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_dovecot_LDADD = $(CHECK_LIBS)

# The routing passdb's answering side: a dict-protocol server linked with
# libcorolease (and libcmap for the node addresses); no Dovecot dependency,
# so it is built everywhere.
sbin_PROGRAMS += dovecot/corolease-route
dovecot_corolease_route_SOURCES = dovecot/corolease-route.c dovecot/naming.c
dovecot_corolease_route_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/dovecot
dovecot_corolease_route_CFLAGS = $(AM_CFLAGS) $(LIBCMAP_CFLAGS)
dovecot_corolease_route_LDADD = libclient/libcorolease.la $(LIBCMAP_LIBS)
dist_man_MANS += doc/corolease-route.8
