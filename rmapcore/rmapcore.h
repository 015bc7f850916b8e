/* SPDX-License-Identifier: MIT */
/*
 * rmapcore.h - the public face of the shadow reverse map.
 *
 * rmapcore replays the Linux 2.6.8/2.6.9 object-based reverse map
 * (mm/rmap.c) on shadow state kept in one file-backed MAP_SHARED arena, so
 * that every process and thread of a traced program tree runs the rmap's
 * atomics and locks itself.  See ../shared/rmap-spec.md for the kernel
 * semantics and docs/rmapcore.md for how they are shadowed.
 *
 * Three modes, chosen once when the arena is created (same binary):
 *   RMAP_LOCKED        2.6.8 + rmaplock 1/5: plain mapcount under the
 *                      PG_maplock bit spinlock, vmscan trylocks.
 *   RMAP_LOCKLESS      2.6.8 + rmaplock 2/5 (the seed): atomic _mapcount
 *                      from -1, anon_vma race only narrowed, trylocks.
 *   RMAP_LOCKLESS_RCU  2.6.9: page_lock_anon_vma under an epoch-based
 *                      grace period, type-stable anon_vmas, spin locks,
 *                      anon_vma->lock taken outside page_table_lock.
 * Two more exist only so tests can show why the seed needed atomics and
 * the -1 bias (spec R1, R2); never use them to trace anything:
 *   RMAP_BROKEN_NONATOMIC  lockless, but mapcount updated with load+store.
 *   RMAP_BROKEN_UNBIASED   lockless, count from 0, transitions detected
 *                          by a separate read after the atomic.
 *
 * Lock ordering (as in 2.6.9 mm/rmap.c; L and N2 differ where noted):
 *
 *   mm "mmap_sem" (the caller: one shim operation per mm at a time)
 *     PG_locked (page lock)
 *       address_space->i_mmap_lock
 *         anon_vma->lock            (N: taken before page_table_lock in
 *           mm->page_table_lock      anon_vma_prepare; L/N2: inside it,
 *             PG_maplock (L only)    so vmscan must trylock)
 *               arena allocator locks (leaf)
 *
 * Every handle below is an index into the arena (0 means none), never a
 * pointer: processes map the arena at different addresses after exec.
 *
 * Nothing in rmapcore aborts.  Contract violations and invariant breaks are
 * counted, reported through the event sink, and returned by rmap_check().
 */
#ifndef RMAPCORE_H
#define RMAPCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rmap_arena;		/* opaque; lives at the start of the mapping */

typedef uint32_t rmap_page_t;	/* index of a shadow struct page */
typedef uint32_t rmap_mm_t;	/* index of a shadow mm_struct */
typedef uint32_t rmap_vma_t;	/* index of a shadow vm_area_struct */

enum rmap_mode {
	RMAP_LOCKED = 0,
	RMAP_LOCKLESS = 1,
	RMAP_LOCKLESS_RCU = 2,
	RMAP_BROKEN_NONATOMIC = 3,	/* test only */
	RMAP_BROKEN_UNBIASED = 4,	/* test only */
	RMAP_NR_MODES
};

/* "locked", "lockless", "lockless-rcu", "broken-nonatomic", ... */
const char *rmap_mode_name(enum rmap_mode mode);
/* Returns 0 and sets *mode, or -1 if @name is not a mode. */
int rmap_mode_parse(const char *name, enum rmap_mode *mode);

/* Error returns: negative errno values. */
#define RMAP_OK		0
/* -ENOSPC: a pool (pages, vmas, mms, ...) is full; nothing was changed. */
/* -EINVAL: bad argument or handle; -ENOENT: no such vma / pte. */

/* ------------------------------------------------------------------ */
/* Arena                                                                */
/* ------------------------------------------------------------------ */

struct rmap_arena_config {
	enum rmap_mode mode;
	uint32_t max_pages;	/* distinct frames ever seen (mem_map size) */
	uint32_t max_vmas;
	uint32_t max_mms;
	uint32_t max_anon_vmas;
	uint32_t max_mappings;	/* address_spaces (distinct files) */
	uint32_t max_pt_nodes;	/* 4 KiB page-table nodes (pgd..pte) */
	uint32_t max_threads;	/* per-thread lock_stat slots */
	int lockstat_times;	/* 1: measure wait and hold times (default) */
};

/* Fill @cfg with the documented defaults (docs/rmapcore.md "Capacity"). */
void rmap_arena_default_config(struct rmap_arena_config *cfg);

/*
 * rmap_arena_create - create a new arena file at @path (0600,
 * O_EXCL|O_NOFOLLOW) sized for @cfg, and map it MAP_SHARED.
 * Returns 0 and *out, or a negative errno.
 */
int rmap_arena_create(const char *path, const struct rmap_arena_config *cfg,
		      struct rmap_arena **out);
/*
 * rmap_arena_create_fd - the same in an empty file already open read-write
 * (a memfd: sized, not fallocated); the caller keeps or closes @fd.
 */
int rmap_arena_create_fd(int fd, const struct rmap_arena_config *cfg,
			 struct rmap_arena **out);
/* rmap_arena_attach - map an existing arena (after fork+exec, or a reader). */
int rmap_arena_attach(const char *path, struct rmap_arena **out);
/* Same, from an open fd (the fd may be closed afterwards). */
int rmap_arena_attach_fd(int fd, struct rmap_arena **out);
void rmap_arena_detach(struct rmap_arena *a);
/* Base address and length of the mapping (the shim hides it from the shadow). */
void rmap_arena_range(const struct rmap_arena *a, uintptr_t *start, size_t *len);

enum rmap_mode rmap_arena_mode(const struct rmap_arena *a);

/* Global counters, readable at any time. */
struct rmap_counters {
	int64_t nr_mapped;		/* pages with page_mapped() true */
	uint64_t pages_used, pages_max;
	uint64_t vmas_used, vmas_max;
	uint64_t mms_used, mms_max;
	uint64_t anon_vmas_used, anon_vmas_max;
	uint64_t pt_nodes_used, pt_nodes_max;
	uint64_t enospc;		/* operations refused because a pool was full */
	uint64_t violations;		/* contract breaks seen on the fly */
};
void rmap_counters(const struct rmap_arena *a, struct rmap_counters *c);
/* The highest nr_mapped ever reached (report's nr_mapped.peak). */
int64_t rmap_nr_mapped_peak(const struct rmap_arena *a);
/* Locks taken over from an owner thread that had died holding them. */
uint64_t rmap_locks_broken(const struct rmap_arena *a);

/* ------------------------------------------------------------------ */
/* Events: every transition the rmap makes, reported to a sink          */
/* ------------------------------------------------------------------ */

enum rmap_event_type {
	RMAP_EV_MAP_FIRST = 1,		/* -1 -> 0 (L: 0 -> 1): nr_mapped++ */
	RMAP_EV_DUP,			/* page_dup_rmap (fork) */
	RMAP_EV_ADD,			/* add that was not the first map */
	RMAP_EV_REMOVE,			/* remove that was not the last unmap */
	RMAP_EV_UNMAP_LAST,		/* 0 -> -1 (L: 1 -> 0): nr_mapped-- */
	RMAP_EV_ANON_MAPPING_SET,	/* page->mapping = anon_vma | 1 */
	RMAP_EV_MAPPING_RESET_AT_FREE,	/* N: free path cleared a stale anon mapping */
	RMAP_EV_MAPPING_CLEARED,	/* L: clear_page_anon at last unmap */
	RMAP_EV_REFERENCED,		/* page_referenced result in .value */
	RMAP_EV_UNMAP_RESULT,		/* try_to_unmap: SWAP_* in .value */
	RMAP_EV_RACE,			/* a race window observation, see enum rmap_race */
	RMAP_EV_VIOLATION,		/* a contract break (a kernel BUG_ON) */
	RMAP_EV_PAGE_FREED,		/* _count reached 0: page back to the free state */
	RMAP_EV_NR_TYPES
};

/* Why the caller is operating: set once per mm-level operation. */
enum rmap_cause {
	RMAP_CAUSE_NONE = 0,
	RMAP_CAUSE_FAULT,
	RMAP_CAUSE_FORK,
	RMAP_CAUSE_COW,
	RMAP_CAUSE_MUNMAP,
	RMAP_CAUSE_MADVISE,
	RMAP_CAUSE_MREMAP,
	RMAP_CAUSE_EXIT,
	RMAP_CAUSE_EXEC,
	RMAP_CAUSE_RECLAIM,
	RMAP_CAUSE_NR
};
const char *rmap_cause_name(enum rmap_cause cause);

/*
 * Race windows of spec section 5 that rmapcore can observe (and, with
 * perturbation on, widen).  Names start with the spec id.
 */
enum rmap_race {
	RMAP_RACE_R1_DUP_VS_REMOVE = 1,		/* dup and remove on one page at once */
	RMAP_RACE_R3_STALE_MAPPING,		/* first map found a stale anon mapping */
	RMAP_RACE_R4_MAPPING_NOT_YET_SET,	/* second mapper saw mapping not yet stored */
	RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN,	/* try_to_unmap found it already unmapped */
	RMAP_RACE_R6_REMOVE_DURING_UNMAP,	/* another remover ran inside try_to_unmap_one */
	RMAP_RACE_R7_PAGE_LOCK_BUSY,		/* TestSetPageLocked failed in page_referenced */
	RMAP_RACE_R7_MAPPING_GONE,		/* mapping NULL after taking the page lock */
	RMAP_RACE_R8_MAPPED_NO_MAPPING,		/* page_mapped but mapping still NULL */
	RMAP_RACE_R9_RECHECK_UNMAPPED,		/* mapcount found 0 after reading mapping */
	RMAP_RACE_R9_ANON_VMA_REUSED,		/* locked an anon_vma reused since mapping was set */
	RMAP_RACE_R9_ANON_VMA_FREED,		/* locked freed memory (N2 only, the bug) */
	RMAP_RACE_R10_TRYLOCK_MISSED,		/* vmscan trylock failed (L, N2) */
	/*
	 * N's residual window: a stale anon mapping read just before a
	 * swap-in re-map stored the new one, locking a long-freed anon_vma
	 * that no grace period covered (docs/rmapcore.md "Residual window").
	 */
	RMAP_RACE_R9_STALE_REMAP_FREED,
	RMAP_RACE_NR
};
const char *rmap_race_name(enum rmap_race race);	/* "R9_anon_vma_reuse"... */

/* What the algorithm made of a race hit (RMAP_EV_RACE's .outcome). */
enum rmap_race_outcome {
	RMAP_RACE_BENIGN = 0,		/* nothing to do: the protocol tolerates it */
	RMAP_RACE_CAUGHT,		/* a check of the algorithm saw it and backed off */
	RMAP_RACE_VIOLATION,		/* the state went wrong (N2's R9, broken modes) */
};

/*
 * The other side of a race hit, filled for the first RMAP_RACE_DETAILS
 * hits of each race while perturbation is on (.detailed = 1): the thread
 * that had a conflicting window open on the page, or held its page lock.
 */
#define RMAP_RACE_DETAILS 4
struct rmap_race_other {
	int32_t pid, tid;	/* 0 if no other actor was identified */
	uint32_t stack;		/* its caller's stack id (rmap_set_caller_stack) */
	uint16_t cause;		/* enum rmap_cause of its operation */
	uint16_t window;	/* enum rmap_race of the window it had open, 0 none */
};

struct rmap_event {
	uint16_t type;		/* enum rmap_event_type */
	uint16_t cause;		/* enum rmap_cause */
	uint16_t race;		/* enum rmap_race, for RMAP_EV_RACE */
	uint16_t anon;		/* 1 if the page is anon */
	int32_t old_mapcount;	/* page_mapcount() before, -1-biased values never leak */
	int32_t new_mapcount;	/* ... and after (0 = unmapped) */
	int32_t value;		/* REFERENCED count, SWAP_* result, ... */
	rmap_page_t page;
	rmap_mm_t mm;
	uint16_t outcome;	/* RMAP_EV_RACE: enum rmap_race_outcome */
	uint16_t detailed;	/* RMAP_EV_RACE: @other is filled */
	uint64_t frame;		/* the caller's frame key (PFN) */
	uint64_t vaddr;		/* address in @mm, 0 if none */
	struct rmap_race_other other;
};

/*
 * A sink receives events synchronously, in the thread that caused them, and
 * possibly with rmap locks held: it must not call back into rmapcore and
 * must not block.  The sink is per thread; NULL (the default) costs one
 * predictable branch.
 */
typedef void (*rmap_sink_fn)(void *ctx, const struct rmap_event *ev);
void rmap_set_sink(rmap_sink_fn fn, void *ctx);
/*
 * Which event types reach the sink (bit 1 << type).  The shim's default
 * --events transitions passes only MAP_FIRST/UNMAP_LAST individually.
 */
void rmap_set_sink_mask(uint32_t mask);
/*
 * The calling thread's events so far, per type, whatever the mask: whoever
 * only needs counts takes the difference of two reads instead of having
 * every event built and delivered (half the cost of a shadow fork's ptes).
 */
const uint64_t *rmap_thread_event_counts(void);

/* Per-type totals kept in the arena (all threads, all processes). */
void rmap_event_totals(const struct rmap_arena *a,
		       uint64_t totals[RMAP_EV_NR_TYPES]);
/* Per-(type, cause) totals: what `report --json` calls by_cause. */
void rmap_event_cause_totals(const struct rmap_arena *a,
			     uint64_t totals[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR]);
void rmap_race_totals(const struct rmap_arena *a, uint64_t totals[RMAP_RACE_NR]);

/* ------------------------------------------------------------------ */
/* Locks and lock_stat                                                  */
/* ------------------------------------------------------------------ */

enum rmap_lock_class {
	RMAP_LC_PG_MAPLOCK = 0,		/* bit spinlock, L only */
	RMAP_LC_PG_LOCKED,		/* page lock */
	RMAP_LC_ANON_VMA,		/* anon_vma->lock */
	RMAP_LC_I_MMAP,			/* address_space->i_mmap_lock */
	RMAP_LC_PAGE_TABLE,		/* mm->page_table_lock */
	RMAP_LC_LRU,			/* zone->lru_lock */
	RMAP_LC_NR
};
const char *rmap_lock_class_name(enum rmap_lock_class c);	/* "PG_maplock", "&anon_vma->lock" ... */

/* lock_stat's quantities for one class (times in ns). */
struct rmap_lock_stat {
	uint64_t acquisitions;
	uint64_t contentions;
	uint64_t waittime_min, waittime_max, waittime_total;
	uint64_t holdtime_min, holdtime_max, holdtime_total;
	uint64_t owner_changes;		/* acquirer differs from the previous one */
	uint64_t trylock_failures;	/* vmscan trylocks that gave up (R10) */
};

/* Acquisition sites: the rmapcore function that took the lock. */
#define RMAP_LOCK_SITES 32
const char *rmap_lock_site_name(unsigned site);	/* "page_dup_rmap", ... or NULL */

/* Sum over every thread slot. */
void rmap_lock_stats(const struct rmap_arena *a,
		     struct rmap_lock_stat out[RMAP_LC_NR]);
/* Contentions per (class, site): lock_stat's "contention points". */
void rmap_lock_site_contentions(const struct rmap_arena *a,
				uint64_t out[RMAP_LC_NR][RMAP_LOCK_SITES]);
/*
 * The calling thread makes no more rmapcore calls on @a (it, or its
 * process, is ending): its statistics slot goes back to be claimed by the
 * next new thread, which keeps adding to the same sums.
 */
void rmap_thread_release(struct rmap_arena *a);
/* Statistics slots ever claimed (a released one is claimed again first). */
uint32_t rmap_threads_claimed(const struct rmap_arena *a);

/*
 * A waiter that spun longer than @threshold_ns is reported to this per-
 * thread callback after it got the lock (the shim logs it with a stack).
 * Called with the lock held: must not call into rmapcore.
 */
typedef void (*rmap_lockwait_fn)(void *ctx, enum rmap_lock_class c,
				 unsigned site, uint64_t wait_ns);
void rmap_set_lockwait_hook(rmap_lockwait_fn fn, void *ctx,
			    uint64_t threshold_ns);

/* ------------------------------------------------------------------ */
/* Pages (the shadow mem_map)                                           */
/* ------------------------------------------------------------------ */

/*
 * rmap_page_lookup - the shadow struct page for frame @key (a PFN), created
 * on first sight and kept for the arena's lifetime, like mem_map.  Safe
 * from many processes at once.  Returns 0 if the page pool is full.
 */
rmap_page_t rmap_page_lookup(struct rmap_arena *a, uint64_t key);
/* Same, but never creates: 0 if @key was never seen. */
rmap_page_t rmap_page_find(const struct rmap_arena *a, uint64_t key);

/* page_mapcount(): number of ptes mapping the page, in every mode. */
int rmap_page_mapcount(const struct rmap_arena *a, rmap_page_t page);

struct rmap_page_info {
	uint64_t key;
	uint32_t flags;		/* RMAP_PG_* */
	int32_t count;		/* page_count() */
	int32_t mapcount;	/* page_mapcount() */
	int anon;		/* PageAnon */
	uint32_t mapping;	/* anon_vma or address_space index, 0 if NULL */
	uint64_t index;
};
#define RMAP_PG_LOCKED		(1u << 0)
#define RMAP_PG_REFERENCED	(1u << 2)
#define RMAP_PG_DIRTY		(1u << 4)
#define RMAP_PG_LRU		(1u << 5)
#define RMAP_PG_ACTIVE		(1u << 6)
#define RMAP_PG_RESERVED	(1u << 11)
#define RMAP_PG_MAPLOCK		(1u << 15)	/* L only */
#define RMAP_PG_SWAPCACHE	(1u << 16)
#define RMAP_PG_ISOLATED	(1u << 17)	/* off the LRU in a vmscan batch */
int rmap_page_info(const struct rmap_arena *a, rmap_page_t page,
		   struct rmap_page_info *out);

/* ------------------------------------------------------------------ */
/* mm-level operations: what the shim calls for each observed event    */
/* ------------------------------------------------------------------ */

/*
 * The caller serializes mm-level operations on one mm (the kernel's
 * mmap_sem); different mms may be operated on concurrently from any
 * process.  rmapcore takes page_table_lock, anon_vma->lock, i_mmap_lock
 * and the page locks itself.
 */

/* vm_flags, the kernel's values. */
#define RMAP_VM_READ		0x00000001u
#define RMAP_VM_WRITE		0x00000002u
#define RMAP_VM_EXEC		0x00000004u
#define RMAP_VM_SHARED		0x00000008u
#define RMAP_VM_MAYWRITE	0x00000020u
#define RMAP_VM_MAYSHARE	0x00000080u
#define RMAP_VM_GROWSDOWN	0x00000100u
#define RMAP_VM_LOCKED		0x00002000u
#define RMAP_VM_IO		0x00004000u
#define RMAP_VM_DONTCOPY	0x00020000u
#define RMAP_VM_RESERVED	0x00080000u
#define RMAP_VM_NONLINEAR	0x00800000u
#define RMAP_VM_WIPEONFORK	0x02000000u	/* modern; 2.6.9 had none */
/*
 * Not the kernel's: a tracer's vma whose boundaries come from the kernel's
 * vma list, never merged by the shadow.  The kernel keeps apart file vmas
 * that look the same in /proc (a relro, once writable, keeps VM_ACCOUNT
 * next to .rodata); merged, .rodata shared the relro's anon_vma and the
 * shadow fork copied its file ptes, which the kernel's does not.
 */
#define RMAP_VM_NOMERGE		0x40000000u

/* Identity of a mapped file: one address_space per (dev, ino). */
struct rmap_file_id {
	uint64_t dev, ino;
};

/* mm_alloc: a new, empty mm for @pid (first process, or after exec). */
int rmap_mm_create(struct rmap_arena *a, int32_t pid, rmap_mm_t parent,
		   rmap_mm_t *out);
/*
 * dup_mmap + copy_page_range: create @child_pid's mm as a copy of @parent.
 * VM_DONTCOPY vmas are skipped, VM_WIPEONFORK vmas copied without ptes,
 * VM_LOCKED cleared in the child; one page_dup_rmap per present pte of
 * an ordinary page.  COW vmas get their parent ptes write-protected.
 *
 * 2.6.9 copies every pte.  With RMAP_DUP_FAULT_FILLS, a vma without an
 * anon_vma is copied without its ptes, as Linux does from 2.6.14 on
 * (vma_needs_copy()): they are file pages that the child's faults map
 * again when it touches them, so a shadow of a newer kernel's process
 * gets no page_dup_rmap that kernel never did.
 */
#define RMAP_DUP_FAULT_FILLS	0x1u
int rmap_dup_mmap(struct rmap_arena *a, rmap_mm_t parent, int32_t child_pid,
		  unsigned flags, rmap_mm_t *child_out);
/* exit_mmap: zap every pte, unlink every vma, free the mm. @cause is
 * RMAP_CAUSE_EXIT or RMAP_CAUSE_EXEC (old image torn down). */
int rmap_exit_mmap(struct rmap_arena *a, rmap_mm_t mm, enum rmap_cause cause);

/*
 * rmap_reap_unfinished_forks - tear down dup_mmap children whose copy never
 * completed (the forking process was SIGKILLed half-way): their page_dup_rmap
 * counts would otherwise stay.  Only at quiescence, when no process can
 * still be copying.  Returns how many were torn down.
 */
long rmap_reap_unfinished_forks(struct rmap_arena *a);
/*
 * rmap_reap_orphan_pages - give the free state back to struct pages whose
 * inserter was SIGKILLed inside rmap_page_lookup, after taking the index and
 * before publishing it (never found, never initialised: they would read as
 * mapped).  Only at quiescence.  Returns how many, or -ENOMEM.
 */
long rmap_reap_orphan_pages(struct rmap_arena *a);

/* Look an mm up by pid among live mms (0 if none); for the supervisor. */
rmap_mm_t rmap_mm_find_pid(const struct rmap_arena *a, int32_t pid);
/* Iterate live mms: returns the next live mm after @prev (0 starts), 0 at end. */
rmap_mm_t rmap_mm_next(const struct rmap_arena *a, rmap_mm_t prev);
int32_t rmap_mm_pid(const struct rmap_arena *a, rmap_mm_t mm);
int64_t rmap_mm_rss(const struct rmap_arena *a, rmap_mm_t mm);

/*
 * mmap_region: map [start, end) with @vm_flags.  @file NULL means
 * anonymous (MAP_PRIVATE anon gets vm_pgoff = start >> PAGE_SHIFT; MAP_SHARED
 * anon is shmem and needs a @file identity invented by the caller).
 * Anything already mapped in the range is unmapped first, as MAP_FIXED does.
 */
int rmap_mmap_region(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		     uint64_t end, uint32_t vm_flags, uint64_t pgoff,
		     const struct rmap_file_id *file);
/* do_munmap: split at the edges, zap ptes, unlink and free the vmas. */
int rmap_munmap(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		uint64_t end, enum rmap_cause cause);
/* zap_page_range: drop the ptes only (MADV_DONTNEED/FREE/REMOVE). */
int rmap_zap_range(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		   uint64_t end, enum rmap_cause cause);
/*
 * Change vm_flags on [start, end): mprotect, mlock (VM_LOCKED),
 * MADV_DONTFORK/DOFORK (VM_DONTCOPY), MADV_WIPEONFORK.  Splits vmas at the
 * edges and merges neighbours that became identical (vma_adjust).
 */
int rmap_change_flags(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		      uint64_t end, uint32_t set, uint32_t clear);
/* mremap move: vma moved with its ptes; index/mapping/mapcount untouched. */
int rmap_mremap(struct rmap_arena *a, rmap_mm_t mm, uint64_t old_start,
		uint64_t old_len, uint64_t new_start, uint64_t new_len);
/* remap_file_pages: make the vma nonlinear and set one page's file offset. */
int rmap_remap_file_pages(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
			  uint64_t len, uint64_t pgoff);

/*
 * rmap_fault - the pte at @addr now maps frame @key (observed from
 * pagemap).  Dispatches like the kernel's fault paths:
 *   - no pte before: do_anonymous_page / do_no_page (anon or file rmap,
 *     @anon says which the kernel reports for the frame);
 *   - a swap pte before: do_swap_page (page_add_anon_rmap, may find a
 *     stale mapping: R3/R4);
 *   - a different page present: do_wp_page copy (COW: remove old, add new);
 *     a file page replaced by a file page at the same index was truncated
 *     by the kernel: the old one is truncated here too (truncate.c, R7);
 *   - the same page: only pte bits (@writable) are refreshed.
 * Returns 0, -ENOENT if no vma covers @addr, -ENOSPC if a pool is full,
 * -EAGAIN (rarely: after waiting for it twice) if the frame must enter the
 * page cache while vmscan holds its page lock (nothing installed: fault it
 * again later).
 */
#define RMAP_FAULT_WRITE	0x1	/* pte writable and dirty */
#define RMAP_FAULT_ANON		0x2	/* the frame is anonymous memory */
int rmap_fault(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr,
	       uint64_t key, unsigned fault_flags);
/* The pte at @addr vanished (zap of one page). */
int rmap_zap_page(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr,
		  enum rmap_cause cause);

/* Read the shadow pte at @addr. */
enum rmap_pte_kind { RMAP_PTE_NONE = 0, RMAP_PTE_PRESENT, RMAP_PTE_SWAP, RMAP_PTE_FILE };
struct rmap_pte_info {
	enum rmap_pte_kind kind;
	rmap_page_t page;	/* PRESENT */
	uint64_t key;		/* PRESENT: the frame key */
	int young, dirty, writable;
};
int rmap_pte_get(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr,
		 struct rmap_pte_info *out);
/*
 * Walk present ptes of [start, end) in address order, under page_table_lock
 * per pte page; @fn must not call rmapcore.  Returns the number visited.
 */
typedef void (*rmap_pte_fn)(void *ctx, uint64_t addr, const struct rmap_pte_info *pte);
long rmap_walk_ptes(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		    uint64_t end, rmap_pte_fn fn, void *ctx);
/*
 * Which pages of [start, end) have a present pte: bit i of @bits (cleared
 * first) for the page at start + i pages; returns how many.  No callback,
 * no struct page read: a write-tracked reconciliation needs only this for
 * all but the few pages that changed (rmap_pte_get reads those; ~1 ns a
 * pte against ~7 for a walk, nothing a pte for a pte table wholly present
 * or empty: each table counts its present ptes).
 */
long rmap_pte_bitmap(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end,
		     uint64_t *bits);

/* Walk vmas of an mm in address order. */
struct rmap_vma_info {
	uint64_t start, end, pgoff;
	uint32_t flags;
	int anon_vma;		/* has an anon_vma */
	struct rmap_file_id file;	/* {0,0} if anonymous */
};
typedef void (*rmap_vma_fn)(void *ctx, const struct rmap_vma_info *vma);
long rmap_walk_vmas(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* The rmap entry points (spec section 3), kernel names and contracts    */
/* ------------------------------------------------------------------ */

/*
 * These take internal handles and are exported for tests and the shadow
 * vmscan; the mm-level operations above are what a tracer calls.  Each
 * must be called as the kernel calls it: with the owning mm's
 * page_table_lock held (rmap_pte_lock / rmap_pte_unlock).
 */
void rmap_pte_lock(struct rmap_arena *a, rmap_mm_t mm);
void rmap_pte_unlock(struct rmap_arena *a, rmap_mm_t mm);
rmap_vma_t rmap_find_vma(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr);

void page_add_anon_rmap(struct rmap_arena *a, rmap_page_t page,
			rmap_vma_t vma, uint64_t address);
void page_add_file_rmap(struct rmap_arena *a, rmap_page_t page);
void page_dup_rmap(struct rmap_arena *a, rmap_page_t page);
void page_remove_rmap(struct rmap_arena *a, rmap_page_t page);
int anon_vma_prepare(struct rmap_arena *a, rmap_vma_t vma);

#define SWAP_SUCCESS	0
#define SWAP_AGAIN	1
#define SWAP_FAIL	2
/* Caller holds the page lock if @is_locked (shrink_list), else not. */
int page_referenced(struct rmap_arena *a, rmap_page_t page, int is_locked);
/* Caller holds the page lock. */
int try_to_unmap(struct rmap_arena *a, rmap_page_t page);

/* Page lock, for callers of page_referenced(.., 1) / try_to_unmap. */
int rmap_trylock_page(struct rmap_arena *a, rmap_page_t page);	/* 1 = got it */
void rmap_lock_page(struct rmap_arena *a, rmap_page_t page);
void rmap_unlock_page(struct rmap_arena *a, rmap_page_t page);

/* ------------------------------------------------------------------ */
/* Shadow vmscan                                                        */
/* ------------------------------------------------------------------ */

struct rmap_scan_result {
	uint64_t scanned, referenced, deactivated, activated;
	uint64_t unmap_success, unmap_again, unmap_fail;
	uint64_t swapped_out;	/* anon pages whose ptes became swap ptes */
};
/*
 * refill_inactive_zone: move up to @nr pages from the active to the
 * inactive list, keeping referenced mapped pages (page_referenced(.., 0)).
 */
void refill_inactive_zone(struct rmap_arena *a, unsigned long nr,
			  struct rmap_scan_result *res);
/*
 * shrink_list: take up to @nr inactive pages, lock them, page_referenced
 * (.., 1), add anon pages to the (shadow) swap cache and try_to_unmap
 * them.  Safe to call concurrently with every mm-level operation.
 */
void shrink_list(struct rmap_arena *a, unsigned long nr,
		 struct rmap_scan_result *res);

/* ------------------------------------------------------------------ */
/* Checker, race perturbation                                           */
/* ------------------------------------------------------------------ */

/* Invariants of spec section 6.1; @inv is 1..12. */
struct rmap_violation {
	int inv;
	rmap_page_t page;
	rmap_mm_t mm;
	uint64_t key, vaddr;
	int64_t expected, found;
	char what[80];
};
/*
 * rmap_check - check INV-1..INV-12 where they apply.  Must run at
 * quiescence (no thread inside an rmapcore operation on this arena).
 * Fills up to @max violations into @out (may be NULL) and returns how many
 * were found in total.
 */
long rmap_check(struct rmap_arena *a, struct rmap_violation *out, long max);

/*
 * Race perturbation (issue 5): when on, rmapcore inserts seeded random
 * delays or sched_yield()s at the race windows of spec section 5 and
 * detects real conflicts.  Off by default; one predictable branch when off.
 * @seed 0 turns it off.
 */
void rmap_perturb(struct rmap_arena *a, uint64_t seed);
/*
 * A reclaim thread's idle time under perturbation: until @until
 * (CLOCK_MONOTONIC), run page_referenced on the pages other actors
 * published while inside a window whose other side is vmscan (R7, R8),
 * as refill_inactive_zone would, so their windows meet a real reclaimer.
 * Returns at once when perturbation is off or in locked mode.
 */
struct timespec;
void rmap_steer_serve(struct rmap_arena *a, const struct timespec *until);
/*
 * The calling thread's caller stack id (the shim's, per process), shown as
 * the other side of a race hit; kept only while perturbation is on.
 */
void rmap_set_caller_stack(struct rmap_arena *a, uint32_t stack);

#ifdef __cplusplus
}
#endif
#endif /* RMAPCORE_H */
