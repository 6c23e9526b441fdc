# include/: corolease.h is the only installed header (the public API);
# corolease/ is private to the tree (not installed): ipc.h is the local
# protocol between libcorolease and coroleased; htab.h and list.h are the
# one hash table and list used everywhere.
include_HEADERS += include/corolease.h
noinst_HEADERS += include/corolease/ipc.h include/corolease/htab.h include/corolease/list.h
