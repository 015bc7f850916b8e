/* SPDX-License-Identifier: MIT */
/*
 * internal.h - layouts of the shadow structures inside the arena and the
 * helpers every rmapcore file shares.  Nothing here is part of the API.
 *
 * All links are 32-bit indices into a pool (0 = none); pool arrays are
 * allocated with capacity + 1 entries so that index 0 is never used.
 * Shared fields are accessed only through the __atomic builtins below.
 */
#ifndef RMAPCORE_INTERNAL_H
#define RMAPCORE_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "rmapcore.h"
#include "locks.h"

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1ull << PAGE_SHIFT)
#define CLUSTER_SIZE	(32 * PAGE_SIZE)
#define CLUSTER_MASK	(~(CLUSTER_SIZE - 1))
#define PAGE_MAPPING_ANON 1u

#define RMAP_MAGIC	"RMAPCORE"
#define RMAP_VERSION	4	/* the arena header layout: bumped when it changes */

/* ---- struct page: the shadow mem_map entry, exactly one cache line ---- */
struct page {
	uint32_t flags;			/* RMAP_PG_* bits, atomic bit ops */
	int32_t _count;			/* page_count() - 1: -1 is free */
	union {
		int32_t _mapcount;	/* N*: atomic, -1 = unmapped */
		int32_t mapcount;	/* L: plain, 0 = unmapped, under PG_maplock */
	};
	uint32_t lru_next;		/* zone LRU, under lru_lock */
	union {
		struct {
			/* anon_vma index << 1 | ANON, or address_space << 1 */
			uint32_t mapping;
			/* anon_vma generation when mapping was stored (R9) */
			uint32_t anon_gen;
		};
		uint64_t mapping_gen;	/* both, read and written at once */
	};
	uint32_t lru_prev;
	uint32_t maplock_owner;		/* last PG_maplock holder: owner_changes */
	uint64_t index;			/* file offset, or anon linear index */
	uint64_t key;			/* the caller's frame key (PFN) */
	uint32_t swap_entry;		/* PG_swapcache: entry (== own index) */
	uint32_t swap_count;		/* swap ptes referring to swap_entry */
	uint32_t pagelock_owner;	/* last PG_locked holder (tid) */
	uint32_t window;		/* perturbation: race windows open now */
};
static_assert(sizeof(struct page) == 64, "struct page must be one cache line");

/* ---- shadow vm_area_struct ---- */
struct vm_area_struct {
	uint64_t vm_start, vm_end;	/* under mmap_sem + i_mmap/anon_vma locks */
	uint64_t vm_pgoff;
	uint64_t vm_private_data;	/* nonlinear swap-out cursor (bytes) */
	uint32_t vm_flags;
	rmap_mm_t vm_mm;
	uint32_t vm_next;		/* mm's sorted list (mmap_sem) */
	uint32_t anon_vma;		/* set under page_table_lock */
	uint32_t av_next, av_prev;	/* anon_vma->head, under anon_vma->lock */
	uint32_t mapping;		/* address_space, 0 = anonymous */
	uint32_t i_next, i_prev;	/* i_mmap or nonlinear, under i_mmap_lock */
	uint32_t free_next;		/* pool free list */
};

/* ---- shadow anon_vma: type-stable, the lock is initialised once ---- */
enum anon_vma_state { AV_FREE = 0, AV_LIVE, AV_POISONED };
struct anon_vma {
	struct rlock lock;
	uint32_t head;			/* first vma, under lock */
	uint32_t free_next;
	union {
		struct {
			uint32_t state;	/* enum anon_vma_state */
			uint32_t gen;	/* bumped at every free */
		};
		uint64_t state_gen;	/* both at once: poisoning is a CAS */
	};
};

/* ---- shadow address_space: one per rmap_file_id, never freed ---- */
struct address_space {
	struct rlock i_mmap_lock;
	uint64_t dev, ino;
	uint32_t i_mmap;		/* linear vmas (replaces the prio tree) */
	uint32_t i_mmap_nonlinear;
	uint32_t hash_next;		/* under arena->mapping_lock */
	uint32_t pad;
};

/* ---- shadow mm_struct ---- */
/*
 * MM_NEW: a dup_mmap child still being copied.  Lookups (find_pid, next,
 * pid, rss) and mm-level operations see only MM_LIVE, so nobody else (an
 * exec'ed image looking for its old mm, a sibling's checkpoint, the
 * supervisor's reaper) can operate on a half-built copy.
 */
enum mm_state { MM_FREE = 0, MM_LIVE, MM_NEW };
struct mm_struct {
	struct rlock page_table_lock;
	uint32_t state;
	int32_t pid;
	rmap_mm_t parent;
	uint32_t mmap;			/* first vma, sorted by vm_start */
	uint32_t mmap_cache;		/* last find_vma result */
	uint32_t pgd;			/* page-table root node */
	int64_t rss;			/* under page_table_lock; read racily by vmscan */
	uint32_t free_next;
	uint32_t pad;
};

/* A 4 KiB page-table node: upper levels hold child node indices. */
#define PTRS_PER_NODE	512
struct pt_node {
	uint64_t e[PTRS_PER_NODE];
};

/*
 * pte encoding: kind in bits 0-1, young/dirty/writable in 2-4, payload
 * (page index, swap entry, or file pgoff) from bit 8 up.
 */
#define PTE_KIND_MASK	3ull
#define PTE_YOUNG	(1ull << 2)
#define PTE_DIRTY	(1ull << 3)
#define PTE_WRITE	(1ull << 4)
#define PTE_SHIFT	8
static inline uint64_t mk_pte(enum rmap_pte_kind kind, uint64_t payload, uint64_t bits)
{
	return (payload << PTE_SHIFT) | bits | (uint64_t)kind;
}
static inline enum rmap_pte_kind pte_kind(uint64_t pte) { return (enum rmap_pte_kind)(pte & PTE_KIND_MASK); }
static inline uint64_t pte_payload(uint64_t pte) { return pte >> PTE_SHIFT; }

/* ---- per-thread statistics slot (lock_stat, event and race totals) ---- */
struct lockstat_class {
	uint64_t acquisitions, contentions;
	uint64_t wmin, wmax, wtotal;
	uint64_t hmin, hmax, htotal;
	uint64_t owner_changes, trylock_failures;
};
struct thread_slot {
	int32_t pid, tid;
	uint64_t ev[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR];
	uint64_t race[RMAP_RACE_NR];
	struct lockstat_class ls[RMAP_LC_NR];
	uint64_t site_cont[RMAP_LC_NR][RMAP_LOCK_SITES];
	/*
	 * Perturbation only: the window this thread has open and its caller's
	 * stack id, read by the other side of a hit (perturb.c).
	 */
	uint32_t open_page;
	uint16_t open_race, open_cause;
	uint32_t stack;
	uint32_t free_next;		/* next released slot (rmap_thread_release) */
};

/* ---- pools: a bump pointer plus a free list ---- */
enum { POOL_PAGES, POOL_VMAS, POOL_MMS, POOL_ANON_VMAS, POOL_MAPPINGS, POOL_PT_NODES, POOL_NR };
struct pool {
	uint64_t off;			/* byte offset of element 0 in the arena */
	uint32_t elem_size;
	uint32_t max;			/* usable indices are 1..max */
	uint32_t bump;			/* highest index ever handed out */
	uint32_t used;
	struct rlock lock;		/* free list (leaf) */
	uint32_t free_head, free_tail;	/* FIFO */
	uint32_t free_link_off;		/* offset of the free_next field in an element */
	uint32_t pad;
};

/* Deferred anon_vma poisoning (SLAB_DESTROY_BY_RCU's delayed page free). */
#define RCU_PENDING	256
struct rcu_pending {
	uint32_t av, gen;
	uint64_t gp;			/* grace-period counter at free time */
};

/* Perturbation: a page published by an actor inside a window (steer.c). */
#define STEER_SLOTS	3	/* R8's publisher, R7's, R9's */
struct steer_slot {
	uint32_t page;			/* 0: free; claimed by compare-and-swap */
	uint32_t gen;			/* publications of this slot */
	uint32_t ready;			/* gen once published, 0 while being set */
	uint32_t arrived;		/* != gen once a reclaimer examined it */
	uint32_t race;			/* the publisher's window */
	uint32_t pad;
};

/* ---- the arena header, at offset 0 of the mapping ---- */
struct rmap_arena {
	char magic[8];
	uint32_t version;
	uint32_t mode;
	uint64_t size;
	uint64_t id;			/* random: tells arenas at one address apart */
	struct rmap_arena_config cfg;
	struct pool pool[POOL_NR];
	uint64_t off_hash, off_mapping_hash, off_threads;
	uint64_t off_pt_present;	/* uint16_t per pt node: its present ptes */
	uint32_t hash_mask, mapping_hash_mask;

	int64_t nr_mapped;
	int64_t nr_mapped_peak;
	uint64_t enospc, violations, locks_broken;
	uint64_t tsc_mult;		/* ns = tsc * tsc_mult >> 32; 0: no TSC */

	uint32_t threads_claimed;	/* slot 0 is the shared overflow slot */
	uint32_t pad0;
	uint64_t threads_free;		/* released slots: ABA tag << 32 | first slot */

	struct rlock mapping_lock;	/* address_space hash (leaf) */
	struct rlock lru_lock;		/* zone->lru_lock */
	uint32_t active_head, active_tail, inactive_head, inactive_tail;
	uint64_t nr_active, nr_inactive;

	/* epoch RCU for N: see anon_vma.c */
	uint64_t rcu_gp;
	uint64_t rcu_readers[2];
	struct rlock rcu_lock;		/* the pending ring (leaf) */
	uint32_t rcu_head, rcu_tail;
	struct rcu_pending rcu_pending[RCU_PENDING];

	uint64_t perturb_seed;		/* 0: off (read-mostly, own line) */
	uint32_t race_detailed[RMAP_RACE_NR];	/* hits logged with both sides */
	uint32_t steer_seq;		/* futex: bumped at each publication */
	uint32_t steer_serving;		/* reclaimers in rmap_steer_serve */
	struct steer_slot steer[STEER_SLOTS];
} __attribute__((aligned(64)));

/* ---- pool element access ---- */
static inline void *pool_elem(const struct rmap_arena *a, int p, uint32_t i)
{
	return (char *)a + a->pool[p].off + (uint64_t)i * a->pool[p].elem_size;
}
static inline struct page *PG(const struct rmap_arena *a, rmap_page_t i) { return pool_elem(a, POOL_PAGES, i); }
static inline struct vm_area_struct *VMA(const struct rmap_arena *a, rmap_vma_t i) { return pool_elem(a, POOL_VMAS, i); }
static inline struct mm_struct *MM(const struct rmap_arena *a, rmap_mm_t i) { return pool_elem(a, POOL_MMS, i); }
static inline struct anon_vma *AV(const struct rmap_arena *a, uint32_t i) { return pool_elem(a, POOL_ANON_VMAS, i); }
static inline struct address_space *AS(const struct rmap_arena *a, uint32_t i) { return pool_elem(a, POOL_MAPPINGS, i); }
static inline struct pt_node *PTN(const struct rmap_arena *a, uint32_t i) { return pool_elem(a, POOL_PT_NODES, i); }

/*
 * The present ptes of the pte table holding @pte (nodes are 4 KiB aligned,
 * so the table is found from any of its slots).  Kept by pte_set under the
 * mm's page_table_lock: a table wholly present or empty is then known
 * without reading its 512 ptes (rmap_pte_bitmap, before every fork).
 */
static inline uint16_t *pt_present(const struct rmap_arena *a, const uint64_t *pte)
{
	uint64_t node = ((uintptr_t)pte - (uintptr_t)PTN(a, 0)) >> 12;

	return (uint16_t *)((char *)a + a->off_pt_present) + node;
}

/*
 * A pte store that may change its kind goes through here, so that
 * pt_present stays true; fork's copy and a zap of a range count a whole
 * table at once instead.
 */
static inline void pte_set(struct rmap_arena *a, uint64_t *pte, uint64_t val)
{
	int d = (pte_kind(val) == RMAP_PTE_PRESENT) - (pte_kind(*pte) == RMAP_PTE_PRESENT);

	*pte = val;
	if (d)
		*pt_present(a, pte) += (uint16_t)d;
}

static inline int valid_index(const struct rmap_arena *a, int p, uint32_t i)
{
	return i != 0 && i <= LOAD_ACQ(&a->pool[p].bump);
}

/* arena.c */
uint32_t pool_alloc(struct rmap_arena *a, int p);
void pool_free(struct rmap_arena *a, int p, uint32_t i);
uint32_t mapping_lookup(struct rmap_arena *a, const struct rmap_file_id *file);
void arena_prepare_thread_state(void);
/*
 * The page hash: a slot holds a page index, 0 (empty), or HASH_BUSY_BIT |
 * the tid of the inserter that claimed it and has not published it yet.
 * Page indices stay below 2^30 (config_valid in arena.c).
 */
#define HASH_BUSY_BIT	0x80000000u
uint32_t page_alloc_index(struct rmap_arena *a);
uint32_t *page_hash_home(struct rmap_arena *a, uint64_t key);	/* first probe of @key */

static inline int mm_live(const struct rmap_arena *a, rmap_mm_t mm)
{
	return valid_index(a, POOL_MMS, mm) && LOAD_ACQ(&MM(a, mm)->state) == MM_LIVE;
}

/* ---- modes ---- */
static inline int mode_locked(const struct rmap_arena *a) { return a->mode == RMAP_LOCKED; }
static inline int mode_rcu(const struct rmap_arena *a) { return a->mode == RMAP_LOCKLESS_RCU; }
/* Modes whose vmscan trylocks page_table_lock and i_mmap_lock (L, N2, broken). */
static inline int mode_trylocks(const struct rmap_arena *a) { return a->mode != RMAP_LOCKLESS_RCU; }
/* Stored counter value of an unmapped page: 0 for L and unbiased, -1 else. */
static inline int32_t mapcount_reset_value(const struct rmap_arena *a)
{
	return (a->mode == RMAP_LOCKED || a->mode == RMAP_BROKEN_UNBIASED) ? 0 : -1;
}
static inline int page_mapcount(const struct rmap_arena *a, const struct page *p)
{
	return LOAD(&p->_mapcount) - mapcount_reset_value(a);
}
static inline int page_mapped(const struct rmap_arena *a, const struct page *p)
{
	return page_mapcount(a, p) > 0;
}
static inline int PageAnon(uint32_t mapping) { return mapping & PAGE_MAPPING_ANON; }
static inline uint32_t mapping_index(uint32_t mapping) { return mapping >> 1; }
static inline int page_flag(const struct page *p, uint32_t bit) { return (LOAD(&p->flags) & bit) != 0; }
static inline void set_page_flag(struct page *p, uint32_t bit) { __atomic_fetch_or(&p->flags, bit, __ATOMIC_SEQ_CST); }
static inline void clear_page_flag(struct page *p, uint32_t bit) { __atomic_fetch_and(&p->flags, ~bit, __ATOMIC_SEQ_CST); }
static inline int test_clear_page_flag(struct page *p, uint32_t bit)
{
	return (__atomic_fetch_and(&p->flags, ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

/* vma_address: where @p would sit in @v, or -EFAULT (as uint64_t) if outside. */
#define VMA_EFAULT	((uint64_t)-EFAULT)
static inline uint64_t vma_address(const struct vm_area_struct *v, uint64_t index)
{
	uint64_t addr = LOAD(&v->vm_start) + ((index - LOAD(&v->vm_pgoff)) << PAGE_SHIFT);
	if (addr < LOAD(&v->vm_start) || addr >= LOAD(&v->vm_end))
		return VMA_EFAULT;
	return addr;
}
static inline uint64_t linear_page_index(const struct vm_area_struct *v, uint64_t addr)
{
	return ((addr - v->vm_start) >> PAGE_SHIFT) + v->vm_pgoff;
}

/* ---- events.c: the current mm-level operation and reporting ---- */
struct rmap_current {
	enum rmap_cause cause;
	rmap_mm_t mm;
	uint64_t addr;
};
extern __thread struct rmap_current rmap_cur;
static inline void set_current_op(enum rmap_cause cause, rmap_mm_t mm, uint64_t addr)
{
	rmap_cur.cause = cause;
	rmap_cur.mm = mm;
	rmap_cur.addr = addr;
}
void note_race(struct rmap_arena *a, enum rmap_race race, rmap_page_t page);
void note_violation(struct rmap_arena *a, rmap_page_t page, const char *what);
void nr_mapped_add(struct rmap_arena *a, int delta);

/* ---- locks.c: the thread slot and the lock set used by rmap ---- */
struct tls_cache {
	const struct rmap_arena *a;
	uint64_t id;			/* tells arenas mapped at one address apart */
	struct thread_slot *slot;
	int shared;			/* the overflow slot: update with atomics */
};
extern __thread struct tls_cache rmap_tcache[4];
struct thread_slot *thread_slot_slow(struct rmap_arena *a, int *shared);

/* The calling thread's statistics slot in @a (claimed on first use). */
static inline struct thread_slot *thread_slot(struct rmap_arena *a, int *shared)
{
	if (likely(rmap_tcache[0].a == a && rmap_tcache[0].id == a->id)) {
		*shared = rmap_tcache[0].shared;
		return rmap_tcache[0].slot;
	}
	return thread_slot_slow(a, shared);
}

static inline void slot_add(uint64_t *p, uint64_t v, int shared)
{
	if (likely(!shared))
		STORE(p, LOAD(p) + v);	/* one writer: no locked RMW */
	else
		__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

int32_t current_tid(void);
int dead_owner_since(uint64_t *start, uint32_t owner);
void tsc_calibrate(struct rmap_arena *a);

/* page lock and page_map_lock (bit spinlocks in page->flags) */
int trylock_page(struct rmap_arena *a, struct page *p, unsigned site);
void lock_page(struct rmap_arena *a, struct page *p, unsigned site);
void unlock_page(struct rmap_arena *a, struct page *p);
void page_map_lock(struct rmap_arena *a, struct page *p, unsigned site);
void page_map_unlock(struct rmap_arena *a, struct page *p);

/* ---- events.c: a transition's counting, inline (fork and exit emit per pte) ---- */
extern __thread uint64_t rmap_thread_counts[RMAP_EV_NR_TYPES];
extern __thread uint32_t rmap_sink_wants;	/* types the sink takes; 0: no sink */
void emit_to_sink(struct rmap_arena *a, enum rmap_event_type type, rmap_page_t page,
		  int old_mc, int new_mc, int32_t value);

/* A transition or outcome: count it in this thread's slot, then tell the sink. */
static inline void emit(struct rmap_arena *a, enum rmap_event_type type, rmap_page_t page,
			int old_mc, int new_mc, int32_t value)
{
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);

	slot_add(&s->ev[type][rmap_cur.cause], 1, shared);
	rmap_thread_counts[type]++;
	if (unlikely(rmap_sink_wants & (1u << type)))
		emit_to_sink(a, type, page, old_mc, new_mc, value);
}

/* ---- memory.c ---- */
uint64_t *pte_lookup(struct rmap_arena *a, struct mm_struct *mm, uint64_t addr, int alloc);
void get_page(struct page *p);
int get_page_unless_free(struct page *p);
uint64_t mono_ns(void);		/* CLOCK_MONOTONIC (locks.c) */
void put_page(struct rmap_arena *a, rmap_page_t page);
void zap_pte_range(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end);
void zap_one(struct rmap_arena *a, void *mm, uint64_t addr, uint64_t *pte);

/* ---- truncate.c ---- */
void truncate_inode_page(struct rmap_arena *a, rmap_page_t page, uint32_t mapping, uint64_t index);
int move_page_tables(struct rmap_arena *a, rmap_mm_t mm, uint64_t old_start, uint64_t new_start, uint64_t len);
int install_file_pte(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr, uint64_t pgoff);
long pt_present_mismatches(struct rmap_arena *a, rmap_mm_t mm, uint64_t *first);
void for_each_pte(struct rmap_arena *a, rmap_mm_t mm,
		  void (*fn)(struct rmap_arena *, void *, uint64_t, uint64_t *), void *ctx);

/* ---- mmap.c ---- */
rmap_vma_t find_vma(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr);
void remove_vm_struct(struct rmap_arena *a, rmap_vma_t v);
void i_mmap_insert(struct rmap_arena *a, rmap_vma_t v);
void vma_copy(struct vm_area_struct *dst, const struct vm_area_struct *src);

/* ---- anon_vma.c ---- */
void anon_vma_link(struct rmap_arena *a, rmap_vma_t v);
void __anon_vma_link(struct rmap_arena *a, rmap_vma_t v);
void __anon_vma_unlink(struct rmap_arena *a, rmap_vma_t v);
void anon_vma_unlink(struct rmap_arena *a, rmap_vma_t v);
uint32_t page_lock_anon_vma(struct rmap_arena *a, rmap_page_t page, unsigned site, uint32_t *gen);
int anon_vma_check_locked(struct rmap_arena *a, uint32_t av, uint32_t gen, rmap_page_t page);
void rcu_poll(struct rmap_arena *a);
void anon_vma_lock(struct rmap_arena *a, uint32_t av, unsigned site);
void anon_vma_unlock(struct rmap_arena *a, uint32_t av);

/* ---- vmscan.c ---- */
void lru_cache_add_active(struct rmap_arena *a, rmap_page_t page);
int remove_exclusive_swap_page(struct rmap_arena *a, rmap_page_t page);
void lru_del(struct rmap_arena *a, rmap_page_t page);

/* ---- rmap.c internals used by vmscan ---- */
int __page_referenced(struct rmap_arena *a, rmap_page_t page, int is_locked);
int __try_to_unmap(struct rmap_arena *a, rmap_page_t page);

/* ---- perturb.c: race windows ---- */
int spinlocks_held(void);
void perturb_window(struct rmap_arena *a, struct page *p, enum rmap_race race);
void perturb_close(struct rmap_arena *a, struct page *p, enum rmap_race race);
void perturb_check(struct rmap_arena *a, rmap_page_t page, enum rmap_race race);
void perturb_pause(struct rmap_arena *a);
uint64_t perturb_random(struct rmap_arena *a);	/* seeded, per thread */
int perturb_detail(struct rmap_arena *a, enum rmap_race race, rmap_page_t page, struct rmap_event *ev);
static inline int perturb_on(const struct rmap_arena *a)
{
	return unlikely(LOAD(&a->perturb_seed) != 0);
}
/* Open a window (delay inside), run nothing, caller closes it later. */
#define WINDOW_OPEN(a, p, r)	do { if (perturb_on(a)) perturb_window(a, p, r); } while (0)
#define WINDOW_CLOSE(a, p, r)	do { if (perturb_on(a)) perturb_close(a, p, r); } while (0)
#define WINDOW_CHECK(a, i, r)	do { if (perturb_on(a)) perturb_check(a, i, r); } while (0)

/* ---- steer.c: directed perturbation, vmscan as the other side ---- */
void perturb_steer(struct rmap_arena *a, rmap_page_t page, enum rmap_race race);
void perturb_steer_arrive(struct rmap_arena *a, rmap_page_t page);
void perturb_steer_follow(struct rmap_arena *a, rmap_page_t page, enum rmap_race race);
void perturb_await_remove(struct rmap_arena *a, struct page *p);
/* Publish @page open in window @r and wait, bounded, for a reclaimer. */
#define STEER(a, i, r)		do { if (perturb_on(a)) perturb_steer(a, i, r); } while (0)
#define STEER_ARRIVE(a, i)	do { if (perturb_on(a)) perturb_steer_arrive(a, i); } while (0)
#define AWAIT_REMOVE(a, p)	do { if (perturb_on(a)) perturb_await_remove(a, p); } while (0)
/* vmscan, inside window @r: wait, bounded, for the steered actor to act */
#define STEER_FOLLOW(a, i, r)	do { if (perturb_on(a)) perturb_steer_follow(a, i, r); } while (0)

#endif /* RMAPCORE_INTERNAL_H */
