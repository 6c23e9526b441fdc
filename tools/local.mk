# tools/: the corolease command-line tool (included from the top-level
# Makefile.am; fragments only append with +=).  It is built on the public
# library (corolease.h and libcorolease.la) and, from lockd/, only the
# process-tree walk that `acquire` shares with the daemon (proctree.c).

bin_PROGRAMS += tools/corolease
tools_corolease_SOURCES = tools/corolease.c lockd/proctree.c lockd/proctree.h
tools_corolease_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/lockd
tools_corolease_LDADD = libclient/libcorolease.la -lm

dist_man_MANS += doc/corolease.1
