/* SPDX-License-Identifier: MIT */
/*
 * locks.h - instrumented spinlocks living in the arena.
 *
 * A lock word holds the owner's tid (0 = free) so a waiter can tell a
 * dead owner (a SIGKILLed traced process) from a slow one.  Waiters spin
 * briefly with pause, then sched_yield(): 2 cores, many threads.
 */
#ifndef RMAPCORE_LOCKS_H
#define RMAPCORE_LOCKS_H

#include <stdint.h>

#include "rmapcore.h"

struct rmap_arena;

struct rlock {
	uint32_t owner;		/* tid of the holder, 0 = unlocked */
	uint32_t last;		/* previous holder: owner_changes */
};

/* Acquisition sites, named by rmap_lock_site_name(). */
enum lock_site {
	SITE_PAGE_ADD_ANON_RMAP = 0,
	SITE_PAGE_ADD_FILE_RMAP,
	SITE_PAGE_DUP_RMAP,
	SITE_PAGE_REMOVE_RMAP,
	SITE_PAGE_REFERENCED,
	SITE_PAGE_REFERENCED_ANON,
	SITE_PAGE_REFERENCED_FILE,
	SITE_PAGE_REFERENCED_ONE,
	SITE_TRY_TO_UNMAP,
	SITE_TRY_TO_UNMAP_ANON,
	SITE_TRY_TO_UNMAP_FILE,
	SITE_TRY_TO_UNMAP_ONE,
	SITE_TRY_TO_UNMAP_CLUSTER,
	SITE_ANON_VMA_PREPARE,
	SITE_ANON_VMA_LINK,
	SITE_ANON_VMA_UNLINK,
	SITE_VMA_ADJUST,
	SITE_HANDLE_MM_FAULT,
	SITE_ZAP_PTE_RANGE,
	SITE_COPY_PAGE_RANGE,
	SITE_EXIT_MMAP,
	SITE_MOVE_PAGE_TABLES,
	SITE_REMAP_FILE_PAGES,
	SITE_I_MMAP,
	SITE_SHRINK_LIST,
	SITE_REFILL_INACTIVE_ZONE,
	SITE_FREE_PAGE,
	SITE_LRU_CACHE_ADD,
	SITE_API,		/* rmap_pte_lock / rmap_lock_page from a caller */
	SITE_WALK_PTES,
	SITE_ARENA,		/* allocator-internal leaf locks */
	SITE_TRUNCATE,		/* truncate_inode_pages (truncate.c) */
	SITE_NR
};

void rl_lock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c, unsigned site);
/* Returns 1 if taken; a miss counts as a trylock failure (R10 in vmscan). */
int rl_trylock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c, unsigned site);
void rl_unlock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c);
/* Plain leaf lock without statistics (allocators). */
void rl_lock_raw(struct rlock *l);
void rl_unlock_raw(struct rlock *l);

#endif /* RMAPCORE_LOCKS_H */
