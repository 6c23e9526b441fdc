# include/: corolease.h and corolease_admin.h are the installed headers (the
# public API: leases and index; administration);
# corolease/ is private to the tree (not installed): ipc.h is the local
# protocol between libcorolease and coroleased (only targets that define
# COROLEASE_IPC_PEER may include it); htab.h and list.h are the one hash
# table and list used everywhere.
include_HEADERS += include/corolease.h include/corolease_admin.h
noinst_HEADERS += include/corolease/ipc.h include/corolease/htab.h include/corolease/list.h
