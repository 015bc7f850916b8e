/* SPDX-License-Identifier: MIT */
/*
 * anon_vma.c - the anon_vma: a locked list of the related private vmas
 * that may map an anonymous page, with no reference count (freed when the
 * list empties), and the lifetime rules that make R9 what it is.
 *
 * Type stability (SLAB_DESTROY_BY_RCU): an anon_vma slot is only ever an
 * anon_vma, its lock is initialised once and never again, so a stale
 * reader may always take the lock.  What differs by mode is when a freed
 * slot's memory counts as "returned to the page allocator" (POISONED):
 *   N2 (and L, broken): at once, as with a plain slab cache;
 *   N: only after a grace period of the epoch scheme below, so a reader
 *      inside rcu_read_lock never meets POISONED memory.
 * POISONED is a state, not a scribble: the lock word stays usable, so a
 * walker that locked freed memory is counted, never corrupting the arena.
 *
 * The epoch scheme: readers increment rcu_readers[gp & 1] (rechecking gp,
 * else retrying) and decrement on unlock.  gp may advance g -> g+1 only when
 * the parity g+1 reuses has drained, so an object freed at gp == f is
 * unreachable by readers once gp >= f + 2.  Nobody ever waits: a dead
 * reader (SIGKILL in a read section) only stops poisoning, which is safe.
 */
#include "internal.h"

static __thread int rcu_parity;

static void rcu_read_lock(struct rmap_arena *a)
{
	for (;;) {
		int p = (int)(__atomic_load_n(&a->rcu_gp, __ATOMIC_SEQ_CST) & 1);
		__atomic_add_fetch(&a->rcu_readers[p], 1, __ATOMIC_SEQ_CST);
		if ((int)(__atomic_load_n(&a->rcu_gp, __ATOMIC_SEQ_CST) & 1) == p) {
			rcu_parity = p;
			return;
		}
		__atomic_sub_fetch(&a->rcu_readers[p], 1, __ATOMIC_SEQ_CST);
	}
}

static void rcu_read_unlock(struct rmap_arena *a)
{
	__atomic_sub_fetch(&a->rcu_readers[rcu_parity], 1, __ATOMIC_RELEASE);
}

static void rcu_try_advance(struct rmap_arena *a)
{
	uint64_t g = __atomic_load_n(&a->rcu_gp, __ATOMIC_SEQ_CST);

	if (__atomic_load_n(&a->rcu_readers[(g + 1) & 1], __ATOMIC_SEQ_CST) == 0)
		__atomic_compare_exchange_n(&a->rcu_gp, &g, g + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Poison every deferred anon_vma whose grace period has elapsed. */
void rcu_poll(struct rmap_arena *a)
{
	rl_lock_raw(&a->rcu_lock);
	rcu_try_advance(a);
	while (a->rcu_head != a->rcu_tail) {
		struct rcu_pending *e = &a->rcu_pending[a->rcu_head % RCU_PENDING];
		uint64_t expect = (uint64_t)e->gen << 32 | AV_FREE;

		if (e->gp + 2 > __atomic_load_n(&a->rcu_gp, __ATOMIC_SEQ_CST))
			break;
		/* fails harmlessly if the slot was reused meanwhile */
		__atomic_compare_exchange_n(&AV(a, e->av)->state_gen, &expect,
					    (uint64_t)e->gen << 32 | AV_POISONED, 0,
					    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
		a->rcu_head++;
	}
	rl_unlock_raw(&a->rcu_lock);
}

static void rcu_defer_poison(struct rmap_arena *a, uint32_t av, uint32_t gen)
{
	rl_lock_raw(&a->rcu_lock);
	if (a->rcu_tail - a->rcu_head < RCU_PENDING) {
		struct rcu_pending *e = &a->rcu_pending[a->rcu_tail % RCU_PENDING];
		e->av = av;
		e->gen = gen;
		e->gp = __atomic_load_n(&a->rcu_gp, __ATOMIC_SEQ_CST);
		a->rcu_tail++;
	}	/* ring full: this one simply stays type-stable for ever */
	rl_unlock_raw(&a->rcu_lock);
	rcu_poll(a);
}

static uint32_t anon_vma_alloc(struct rmap_arena *a)
{
	uint32_t i = pool_alloc(a, POOL_ANON_VMAS);
	struct anon_vma *x;
	uint64_t sg;

	if (!i)
		return 0;
	x = AV(a, i);
	/* head is already 0: a slot is freed only with an empty list */
	sg = LOAD(&x->state_gen);
	STORE_REL(&x->state_gen, (sg & ~0xffffffffull) | AV_LIVE);
	return i;
}

/* The list is empty: give the slot back (see the header for what "back" means). */
static void anon_vma_free(struct rmap_arena *a, uint32_t av)
{
	struct anon_vma *x = AV(a, av);
	uint32_t gen = (uint32_t)(LOAD(&x->state_gen) >> 32) + 1;

	if (mode_rcu(a)) {
		STORE_REL(&x->state_gen, (uint64_t)gen << 32 | AV_FREE);
		rcu_defer_poison(a, av, gen);
	} else {
		STORE_REL(&x->state_gen, (uint64_t)gen << 32 | AV_POISONED);
	}
	pool_free(a, POOL_ANON_VMAS, av);
}

void anon_vma_lock(struct rmap_arena *a, uint32_t av, unsigned site)
{
	rl_lock(a, &AV(a, av)->lock, RMAP_LC_ANON_VMA, site);
}

void anon_vma_unlock(struct rmap_arena *a, uint32_t av)
{
	rl_unlock(a, &AV(a, av)->lock, RMAP_LC_ANON_VMA);
}

/**
 * page_lock_anon_vma - lock the anon_vma of a mapped anon page (N only)
 * @page:	the page
 * @gen:	out: the anon_vma generation the page recorded
 *
 * Inside the read section the slot cannot be poisoned, so its lock is an
 * anon_vma's lock even if the anon_vma has been freed and reused since:
 * the caller's pte checks make walking someone else's list harmless.
 */
uint32_t page_lock_anon_vma(struct rmap_arena *a, rmap_page_t page, unsigned site, uint32_t *gen)
{
	struct page *p = PG(a, page);
	uint32_t av = 0, m;
	uint64_t mg;

	rcu_read_lock(a);
	mg = LOAD_ACQ(&p->mapping_gen);
	m = (uint32_t)mg;
	*gen = (uint32_t)(mg >> 32);
	if (PageAnon(m) && valid_index(a, POOL_ANON_VMAS, mapping_index(m))) {
		/* R9: page_mapped says the anon_vma is in use, given barriers */
		WINDOW_OPEN(a, p, RMAP_RACE_R9_RECHECK_UNMAPPED);
		STEER_FOLLOW(a, page, RMAP_RACE_R9_RECHECK_UNMAPPED);
		WINDOW_CLOSE(a, p, RMAP_RACE_R9_RECHECK_UNMAPPED);
		if (page_mapped(a, p)) {
			WINDOW_OPEN(a, p, RMAP_RACE_R9_ANON_VMA_REUSED);
			WINDOW_CLOSE(a, p, RMAP_RACE_R9_ANON_VMA_REUSED);
			av = mapping_index(m);
			anon_vma_lock(a, av, site);
		} else {
			note_race(a, RMAP_RACE_R9_RECHECK_UNMAPPED, page);
		}
	}
	rcu_read_unlock(a);
	return av;
}

/*
 * With @av locked on behalf of @page: classify what we hold.  Returns 0 if
 * the walk must stop (freed memory), 1 if the list may be walked.
 */
int anon_vma_check_locked(struct rmap_arena *a, uint32_t av, uint32_t gen, rmap_page_t page)
{
	uint64_t sg = LOAD_ACQ(&AV(a, av)->state_gen);
	uint32_t state = (uint32_t)sg;

	if (state == AV_POISONED) {
		/*
		 * L: PG_maplock with mapcount > 0 pins a pte, hence a vma on this
		 * anon_vma's list, so it cannot have been freed (R9 is impossible):
		 * a pte that outlived its vma broke INV-5.  Not a race to count.
		 */
		if (mode_locked(a))
			note_violation(a, page, "anon_vma freed under a mapped page (pte outlived its vma)");
		else	/* N2: the bug 2/5 only narrows; N: the residual stale-remap window */
			note_race(a, mode_rcu(a) ? RMAP_RACE_R9_STALE_REMAP_FREED : RMAP_RACE_R9_ANON_VMA_FREED, page);
		return 0;
	}
	if (state != AV_LIVE || (uint32_t)(sg >> 32) != gen)
		note_race(a, RMAP_RACE_R9_ANON_VMA_REUSED, page);
	return 1;
}

/* ---- the vma list, under anon_vma->lock ---- */
void __anon_vma_link(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);
	struct anon_vma *x = AV(a, v->anon_vma);

	v->av_prev = 0;
	v->av_next = x->head;
	if (x->head)
		VMA(a, x->head)->av_prev = vma;
	x->head = vma;
}

void __anon_vma_unlink(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);
	struct anon_vma *x = AV(a, v->anon_vma);

	if (v->av_prev)
		VMA(a, v->av_prev)->av_next = v->av_next;
	else
		x->head = v->av_next;
	if (v->av_next)
		VMA(a, v->av_next)->av_prev = v->av_prev;
	v->av_next = v->av_prev = 0;
}

void anon_vma_link(struct rmap_arena *a, rmap_vma_t vma)
{
	uint32_t av = VMA(a, vma)->anon_vma;

	if (!av)
		return;
	anon_vma_lock(a, av, SITE_ANON_VMA_LINK);
	__anon_vma_link(a, vma);
	anon_vma_unlock(a, av);
}

void anon_vma_unlink(struct rmap_arena *a, rmap_vma_t vma)
{
	uint32_t av = VMA(a, vma)->anon_vma;
	int empty;

	if (!av)
		return;
	anon_vma_lock(a, av, SITE_ANON_VMA_UNLINK);
	__anon_vma_unlink(a, vma);
	empty = AV(a, av)->head == 0;
	anon_vma_unlock(a, av);
	if (empty)
		anon_vma_free(a, av);
}

/* Flags that may differ between vmas sharing an anon_vma (mprotect). */
#define VM_MERGE_IGNORE	(RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_EXEC)

static int anon_vma_compatible(const struct vm_area_struct *a1, const struct vm_area_struct *b)
{
	return a1->vm_end == b->vm_start && a1->mapping == b->mapping &&
	       ((a1->vm_flags ^ b->vm_flags) & ~VM_MERGE_IGNORE) == 0 &&
	       a1->vm_pgoff + ((a1->vm_end - a1->vm_start) >> PAGE_SHIFT) == b->vm_pgoff;
}

/* The anon_vma of an adjacent vma this one could later merge with. */
static uint32_t find_mergeable_anon_vma(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);
	uint32_t prev = 0, i;

	for (i = MM(a, v->vm_mm)->mmap; i && i != vma; i = VMA(a, i)->vm_next)
		prev = i;
	if (v->vm_next && VMA(a, v->vm_next)->anon_vma && anon_vma_compatible(v, VMA(a, v->vm_next)))
		return VMA(a, v->vm_next)->anon_vma;
	if (prev && VMA(a, prev)->anon_vma && anon_vma_compatible(VMA(a, prev), v))
		return VMA(a, prev)->anon_vma;
	return 0;
}

/**
 * anon_vma_prepare - attach an anon_vma to a memory region
 * @vma:	the memory region in question
 *
 * Reuses a mergeable neighbour's anon_vma or allocates one, then installs
 * it under page_table_lock (another thread of the mm may race us).  N
 * takes anon_vma->lock outside page_table_lock (4/5), L/N2 inside it.
 * Returns 0, or -ENOSPC if the anon_vma pool is full.
 */
int anon_vma_prepare(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v;
	struct rlock *ptl;
	uint32_t av, allocated = 0;

	if (!valid_index(a, POOL_VMAS, vma))
		return -EINVAL;
	v = VMA(a, vma);
	if (LOAD(&v->anon_vma))
		return 0;
	av = find_mergeable_anon_vma(a, vma);
	if (!av) {
		av = allocated = anon_vma_alloc(a);
		if (!av)
			return -ENOSPC;
	}
	ptl = &MM(a, v->vm_mm)->page_table_lock;
	if (mode_rcu(a)) {
		anon_vma_lock(a, av, SITE_ANON_VMA_PREPARE);
		rl_lock(a, ptl, RMAP_LC_PAGE_TABLE, SITE_ANON_VMA_PREPARE);
	} else {
		rl_lock(a, ptl, RMAP_LC_PAGE_TABLE, SITE_ANON_VMA_PREPARE);
		anon_vma_lock(a, av, SITE_ANON_VMA_PREPARE);
	}
	if (!v->anon_vma) {
		STORE(&v->anon_vma, av);
		__anon_vma_link(a, vma);
		allocated = 0;
	}
	if (mode_rcu(a)) {
		rl_unlock(a, ptl, RMAP_LC_PAGE_TABLE);
		anon_vma_unlock(a, av);
	} else {
		anon_vma_unlock(a, av);
		rl_unlock(a, ptl, RMAP_LC_PAGE_TABLE);
	}
	if (allocated)
		anon_vma_free(a, allocated);
	return 0;
}
