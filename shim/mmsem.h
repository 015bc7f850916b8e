/* SPDX-License-Identifier: MIT */
/*
 * mmsem.h - per-mm locks shared by every process of a traced tree (and the
 * supervisor): the cross-process half of the shadow mmap_sem.  Whoever runs
 * an mm-level rmapcore operation on an mm it does not own (a checkpoint
 * reconciling another process, the supervisor reaping a dead one) takes
 * that mm's slot first.  mmsem.c says how the table is built.
 */
#ifndef RMAPSHIM_MMSEM_H
#define RMAPSHIM_MMSEM_H

#include <stdint.h>
#include <sys/types.h>

#include "rmapcore.h"

/* Map (creating if first) $dir/mmsem; 0 or -errno.  *id: its file identity. */
int shim_mmsem_attach(const char *dir, struct rmap_file_id *id);
void shim_mmsem_lock(rmap_mm_t mm);
int shim_mmsem_trylock(rmap_mm_t mm);	/* 1 = got it (bounded wait) */
void shim_mmsem_unlock(rmap_mm_t mm);
/* Holder of @mm's slot: @child_pid's mm is @child_mm (fork). */
void shim_mmsem_handoff(rmap_mm_t mm, pid_t child_pid, rmap_mm_t child_mm);
/* Under @mm's slot: the mm handed to @child_pid, or 0. */
rmap_mm_t shim_mmsem_handed(rmap_mm_t mm, pid_t child_pid);
/*
 * Where a fork child of @mm called exit() from (a return address; 0 if
 * none yet), for @mm's next fork to warm the unwinder there.  A hint
 * only: any value is safe (shim_stacks_warm).
 */
void shim_mmsem_set_exit_site(rmap_mm_t mm, uint64_t site);
uint64_t shim_mmsem_exit_site(rmap_mm_t mm);

/*
 * The shim's own anonymous memory in a process (reconcile.c's scratch,
 * libunwind's trace caches, an explicit checkpoint's key buffer), kept out
 * of its shadow mm.  Published in the mm's slot so that whoever reconciles
 * the process on its behalf (a checkpoint elsewhere in the tree, the
 * supervisor's sampler) leaves out the same ranges: otherwise a page the
 * process shares with a fork child would be in one shadow mm and not in
 * the other, a mismatch for the oracle.  PR_SET_VMA_ANON_NAME would say
 * it in /proc/<pid>/maps, but the kernels we run on refuse it (EINVAL).
 */
#define SHIM_OWN_RANGES	10

struct shim_own {
	uint32_t n;
	struct { uint64_t start, end; } r[SHIM_OWN_RANGES];	/* sorted, disjoint */
};

/*
 * The list's arithmetic, on page-aligned bounds; 1 if @o changed.
 * shim_own_cut: [lo, hi) is not ours any more; shim_own_insert: [start,
 * end) is, a range of its own or grown onto an adjacent one.  A full list
 * takes no new range, and a cut out of a range's middle keeps the part
 * above only while there is room: what the list leaves out is shadowed,
 * as any memory.
 */
int shim_own_cut(struct shim_own *o, uint64_t lo, uint64_t hi);
int shim_own_insert(struct shim_own *o, uint64_t start, uint64_t end);

/*
 * @own as @pid's list for @mm (NULL: none, at exit, exec and reap).  The
 * caller holds @mm's slot, or creates @mm (a fork parent, before the
 * child runs).  -ENOSPC if @mm has no slot of its own (an arena with
 * more mms than MMSEM_SLOTS).
 */
int shim_mmsem_publish(rmap_mm_t mm, pid_t pid, const struct shim_own *own);
/* Under @mm's slot: @pid's published list into *@own; -ENOENT if none. */
int shim_mmsem_published(rmap_mm_t mm, pid_t pid, struct shim_own *own);

/* The page of the file after the slots (zeroed at creation): wtrack.c's. */
#define SHIM_MMSEM_EXTRA	4096
void *shim_mmsem_extra(void);

#endif /* RMAPSHIM_MMSEM_H */
