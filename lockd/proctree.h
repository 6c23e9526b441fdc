/*
 * proctree.h - the processes descended from one process, read from /proc,
 * and signalled through pidfds.  Used by coroleased (a hold acquired with
 * COROLEASE_KILL: the client and what it started are killed past the
 * revoke deadline) and by `corolease acquire` (CMD and what it started).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef CLD_PROCTREE_H
#define CLD_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cld_proc {
	int32_t pid, ppid;
	bool zombie;
	bool mark;              /* cld_proc_mark(): descended from the root */
};

/* Sorts v by pid, as cld_proc_mark() needs. */
void cld_proc_sort(struct cld_proc *v, size_t n);

/*
 * Pure: marks the entries of v (sorted by pid) descended from root -- a
 * child of root, or of a marked entry -- and clears the others' marks; root
 * itself is not marked.  Returns how many were marked (zombies included).
 */
size_t cld_proc_mark(struct cld_proc *v, size_t n, int32_t root);

#define CLD_PROC_ANY_UID UINT32_MAX

/*
 * Whether uid could signal pid with kill(2) (its real or saved uid is uid;
 * any with uid 0 or CLD_PROC_ANY_UID), pid being the process pidfd names
 * (checked alive after the read, so not a successor; -1: no check).
 */
bool cld_proc_may_signal(int32_t pid, int pidfd, uint32_t uid);

/*
 * Sends sig to the live processes descended from root (not root itself)
 * that uid could signal with kill(2): their real or saved uid is uid (any,
 * with uid 0 or CLD_PROC_ANY_UID).  The tree is walked through the
 * kernel's children files (/proc/PID/task/TID/children), or, where the
 * kernel has none and allow_scan is set, a scan of all of /proc; at most max
 * live processes (zombies are skipped) and max_reads files (a children
 * file per thread of each process, and a stat file per child, over all
 * rounds: a process of many threads or zombies costs many reads);
 * *truncated_r says whether more were left, *reads_r how many files were
 * read (either NULL allowed).  Each
 * one through a pidfd, checked once opened to be the process read from
 * /proc and still a child of root or of another descendant, so never a
 * process that took a freed pid number.  With freeze, each is sent SIGSTOP
 * first and the tree read again, until a round finds no new descendant (at
 * most 8 rounds): a stopped process forks no more, so a fork racing the
 * walk is caught; then all get sig (and SIGCONT after a sig other than
 * SIGKILL).  Returns how many got sig, or a negative errno (-ENOENT: no
 * children files and no scan allowed).
 */
int cld_proc_signal_tree(int32_t root, int sig, uint32_t uid, bool freeze, size_t max,
			 size_t max_reads, bool allow_scan, bool *truncated_r, size_t *reads_r);

/*
 * COROLEASE_KILL's walk (the loop's kill_client() and the kill guard's):
 * the client pidfd names (pid, of uid) is stopped first, so it starts
 * nothing more, then at most CLD_KILL_TREE_MAX of its descendants are
 * killed, read with at most max_reads files (at most CLD_KILL_TREE_READS a
 * walk; none: the client only stopped, and *cut_r) as
 * cld_proc_signal_tree() with freeze.  Returns how many were killed, or
 * -ESRCH when the client is gone (not stopped).
 */
#define CLD_KILL_TREE_MAX 64
#define CLD_KILL_TREE_READS 256
int cld_proc_kill_tree(int pidfd, int32_t pid, uint32_t uid, size_t max_reads, bool *cut_r,
		       size_t *reads_r);

#endif
