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

/* The page of the file after the slots (zeroed at creation): wtrack.c's. */
#define SHIM_MMSEM_EXTRA	4096
void *shim_mmsem_extra(void);

#endif /* RMAPSHIM_MMSEM_H */
