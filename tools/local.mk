# tools/: the corolease command-line tool (included from the top-level
# Makefile.am; fragments only append with +=).  It is built only on the
# public library: corolease.h and libcorolease.la, nothing from lockd/.

bin_PROGRAMS += tools/corolease
tools_corolease_SOURCES = tools/corolease.c
tools_corolease_CPPFLAGS = -I$(top_srcdir)/include
tools_corolease_LDADD = libclient/libcorolease.la -lm

dist_man_MANS += doc/corolease.1
