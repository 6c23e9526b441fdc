# lockd/: coroleased, thin glue around the core (corosync CPG + votequorum,
# its socket, the validity page).  It sees the core, the public header and
# the IPC protocol.
LOCKD_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/core -I$(top_srcdir)/lockd \
	-DCOROLEASE_IPC_PEER

sbin_PROGRAMS += lockd/coroleased
lockd_coroleased_CPPFLAGS = $(LOCKD_CPPFLAGS)
lockd_coroleased_SOURCES = \
	lockd/main.c lockd/clock.h lockd/pidstat.h \
	lockd/confchg.c lockd/confchg.h \
	lockd/cpg.c lockd/cpg.h lockd/cs.h lockd/sendhold.c lockd/sendhold.h \
	lockd/quorum.c lockd/quorum.h \
	lockd/ipc.c lockd/ipc_req.c lockd/ipc_read.c lockd/ipc.h lockd/ipc_int.h \
	lockd/status.c lockd/status.h \
	lockd/tfd.c lockd/tfd.h \
	lockd/page.c lockd/page.h \
	lockd/proctree.c lockd/proctree.h \
	lockd/killguard.c lockd/killguard.h \
	lockd/killbudget.c lockd/killbudget.h \
	lockd/watch.c lockd/watch.h \
	lockd/groups.c lockd/groups.h \
	lockd/hashkey.c lockd/hashkey.h \
	lockd/holdquota.c lockd/holdquota.h \
	lockd/config.c lockd/config.h
lockd_coroleased_CFLAGS = $(AM_CFLAGS) $(LIBQB_CFLAGS) $(LIBCPG_CFLAGS) \
	$(LIBVOTEQUORUM_CFLAGS) $(LIBCMAP_CFLAGS) $(LIBSYSTEMD_CFLAGS)
lockd_coroleased_LDADD = core/libcorolease-core.la $(LIBQB_LIBS) $(LIBCPG_LIBS) \
	$(LIBVOTEQUORUM_LIBS) $(LIBCMAP_LIBS) $(LIBSYSTEMD_LIBS)
