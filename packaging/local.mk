# packaging/: see the top-level Makefile.am (fragments only append with +=)

# coroleased's man pages
dist_man_MANS += doc/coroleased.8 doc/corolease.conf.5

# Sample configuration (every key commented out, with its default) and the
# systemd unit.  The unit names /usr/sbin/coroleased: distributions install it
# into their unit directory; the sample goes to docdir.
dist_doc_DATA += packaging/corolease.conf
EXTRA_DIST += packaging/coroleased.service packaging/corolease.sysusers packaging/corolease.tmpfiles packaging/corolease.spec \
	packaging/corolease.rpmlintrc

# OCF resource agent ocf:corolease:coroleased (Pacemaker looks under
# /usr/lib/ocf whatever libdir is)
ocfdir = $(prefix)/lib/ocf/resource.d/corolease
dist_ocf_SCRIPTS = packaging/ocf/coroleased

# Pacemaker alert agent: fence-ack after a successful fencing
alertdir = $(datadir)/corolease
dist_alert_SCRIPTS = packaging/pacemaker/alert_corolease_fence.sh

# the installed-package smoke test (./dev smoke, after ./dev package)
EXTRA_DIST += tests/package/smoke.sh tests/package/installed.sh tests/package/smoke-client.c
