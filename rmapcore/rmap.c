/* SPDX-License-Identifier: MIT */
/*
 * rmap.c - physical to virtual reverse mappings, shadowed.
 *
 * The 2.6.8/2.6.9 object-based rmap on shadow struct pages: the anon
 * methods find a page's ptes through its anon_vma's list of vmas, the file
 * methods through its address_space's i_mmap list.  One binary, five
 * modes (rmapcore.h); every difference between them is a branch here,
 * exactly where spec section 3 puts it.
 *
 * Lock ordering (L and N2 differ where noted):
 *
 *   mm "mmap_sem" (the caller: one mm-level operation per mm at a time)
 *     PG_locked (page lock)
 *       address_space->i_mmap_lock
 *         anon_vma->lock          (N: before page_table_lock in
 *           mm->page_table_lock    anon_vma_prepare; L/N2: inside it,
 *             PG_maplock (L)       so vmscan must trylock)
 *               zone->lru_lock
 *                 arena leaf locks (address_space hash, RCU ring)
 *
 * In L, vmscan holds PG_maplock across page_referenced and try_to_unmap,
 * inverting the order against page_table_lock and i_mmap_lock: hence the
 * trylocks (R10).  The public page_referenced/try_to_unmap take PG_maplock
 * themselves in L, as shrink_list does, so callers need not know the mode.
 */
#include "internal.h"

/* ---- the mapcount in each mode ---- */

/*
 * Increment the lockless mapcount; returns 1 to the one caller whose
 * increment mapped the page, and the old page_mapcount() in *old.
 */
static int mapcount_inc(struct rmap_arena *a, struct page *p, int *old)
{
	int32_t v;

	switch (a->mode) {
	case RMAP_BROKEN_NONATOMIC:
		/* R1: load+store, concurrent updates are lost */
		v = LOAD(&p->_mapcount);
		STORE(&p->_mapcount, v + 1);
		*old = v + 1;
		return v == -1;
	case RMAP_BROKEN_UNBIASED:
		/* R2: from 0, and "was I first?" asked by a separate read */
		__atomic_add_fetch(&p->_mapcount, 1, __ATOMIC_SEQ_CST);
		v = LOAD(&p->_mapcount);
		*old = v - 1;
		return v == 1;
	default:
		/* atomic_inc_and_test: -1 -> 0 is the first mapping */
		v = __atomic_add_fetch(&p->_mapcount, 1, __ATOMIC_SEQ_CST);
		*old = v;
		return v == 0;
	}
}

/* Decrement; returns 1 if the page became unmapped, the new page_mapcount() in *new. */
static int mapcount_dec(struct rmap_arena *a, struct page *p, int *new)
{
	int32_t v;

	switch (a->mode) {
	case RMAP_BROKEN_NONATOMIC:
		v = LOAD(&p->_mapcount) - 1;
		STORE(&p->_mapcount, v);
		*new = v + 1;
		return v < 0;
	case RMAP_BROKEN_UNBIASED:
		__atomic_sub_fetch(&p->_mapcount, 1, __ATOMIC_SEQ_CST);
		v = LOAD(&p->_mapcount);
		*new = v;
		return v <= 0;
	default:
		/* atomic_add_negative(-1): 0 -> -1 is the last unmapping */
		v = __atomic_sub_fetch(&p->_mapcount, 1, __ATOMIC_SEQ_CST);
		*new = v + 1;
		return v < 0;
	}
}

/*
 * L: the plain mapcount, changed only under PG_maplock; relaxed atomic
 * load and store (no RMW) so vmscan's lockless page_mapped() reads are
 * not data races.  Returns the old value.
 */
static int locked_mapcount_add(struct page *p, int delta)
{
	int old = LOAD(&p->mapcount);

	STORE(&p->mapcount, old + delta);
	return old;
}

/* mapping and the anon_vma generation are stored together, after index. */
static void set_anon_mapping(struct rmap_arena *a, struct page *p, uint64_t index, uint32_t av)
{
	uint64_t mg = (uint64_t)LOAD(&AV(a, av)->gen) << 32 | (av << 1 | PAGE_MAPPING_ANON);

	STORE(&p->index, index);
	STORE_REL(&p->mapping_gen, mg);
}

/* L's clear_page_anon, at the last unmap. */
static void clear_page_anon(struct rmap_arena *a, struct page *p, rmap_page_t page)
{
	STORE_REL(&p->mapping_gen, 0);
	emit(a, RMAP_EV_MAPPING_CLEARED, page, 0, 0, 0);
}

static int page_reserved(const struct page *p)
{
	return page_flag(p, RMAP_PG_RESERVED);
}

/**
 * page_add_anon_rmap - add pte mapping to an anonymous page
 * @page:	the page to add the mapping to
 * @vma:	the vm area in which the mapping is added
 * @address:	the user virtual address mapped
 *
 * The caller holds the mm's page_table_lock and has run anon_vma_prepare.
 */
void page_add_anon_rmap(struct rmap_arena *a, rmap_page_t page, rmap_vma_t vma, uint64_t address)
{
	struct page *p;
	struct vm_area_struct *v;
	uint32_t av, mapping;
	uint64_t index;
	int old, first;

	if (!valid_index(a, POOL_PAGES, page) || !valid_index(a, POOL_VMAS, vma))
		return;
	p = PG(a, page);
	v = VMA(a, vma);
	av = LOAD(&v->anon_vma);
	if (!av || page_reserved(p)) {
		note_violation(a, page, "page_add_anon_rmap: no anon_vma or reserved page");
		return;
	}
	mapping = av << 1 | PAGE_MAPPING_ANON;
	index = linear_page_index(v, address);

	if (mode_locked(a)) {
		page_map_lock(a, p, SITE_PAGE_ADD_ANON_RMAP);
		old = LOAD(&p->mapcount);
		first = old == 0;
		if (first) {
			if (p->mapping)
				note_violation(a, page, "page_add_anon_rmap: first map with mapping set");
			set_anon_mapping(a, p, index, av);
		} else if (p->index != index || p->mapping != mapping) {
			note_violation(a, page, "page_add_anon_rmap: index or mapping mismatch");
		}
		locked_mapcount_add(p, 1);
		page_map_unlock(a, p);
	} else {
		first = mapcount_inc(a, p, &old);
		if (first) {
			uint32_t stale;

			/* R3/R4/R8: mapped, but mapping not stored yet */
			WINDOW_OPEN(a, p, RMAP_RACE_R4_MAPPING_NOT_YET_SET);
			/* R3: the last unmap left its mapping; L would BUG here */
			stale = LOAD(&p->mapping);
			if (PageAnon(stale))
				note_race(a, RMAP_RACE_R3_STALE_MAPPING, page);
			else	/* R8: let a reclaimer find it mapped without mapping */
				STEER(a, page, RMAP_RACE_R4_MAPPING_NOT_YET_SET);
			set_anon_mapping(a, p, index, av);
			WINDOW_CLOSE(a, p, RMAP_RACE_R4_MAPPING_NOT_YET_SET);
		} else if (LOAD_ACQ(&p->mapping) != mapping) {
			/*
			 * R4: the index/mapping checks L does would be racy here:
			 * a hit only if the first mapper is in its window now
			 */
			WINDOW_CHECK(a, page, RMAP_RACE_R4_MAPPING_NOT_YET_SET);
		}
	}
	if (first) {
		nr_mapped_add(a, 1);
		emit(a, RMAP_EV_MAP_FIRST, page, old, old + 1, 0);
		emit(a, RMAP_EV_ANON_MAPPING_SET, page, old, old + 1, (int32_t)av);
	} else {
		emit(a, RMAP_EV_ADD, page, old, old + 1, 0);
	}
}

/**
 * page_add_file_rmap - add pte mapping to a file page
 * @page:	the page to add the mapping to
 *
 * The caller holds the mm's page_table_lock.  mapping and index belong to
 * the page cache and are not touched.
 */
void page_add_file_rmap(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p;
	int old, first;

	if (!valid_index(a, POOL_PAGES, page))
		return;
	p = PG(a, page);
	if (PageAnon(LOAD(&p->mapping))) {
		note_violation(a, page, "page_add_file_rmap: anon page");
		return;
	}
	if (page_reserved(p))
		return;
	if (mode_locked(a)) {
		page_map_lock(a, p, SITE_PAGE_ADD_FILE_RMAP);
		old = locked_mapcount_add(p, 1);
		page_map_unlock(a, p);
		first = old == 0;
	} else {
		first = mapcount_inc(a, p, &old);
	}
	if (first)
		nr_mapped_add(a, 1);
	emit(a, first ? RMAP_EV_MAP_FIRST : RMAP_EV_ADD, page, old, old + 1, 0);
}

/**
 * page_dup_rmap - duplicate pte mapping to a page (fork)
 * @page:	the page to add the mapping to
 *
 * The source pte still maps the page under the source mm's page_table_lock,
 * so this is never the first mapping.  L: two locked RMWs on page->flags
 * around a plain increment; N*: one atomic increment.
 */
void page_dup_rmap(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p;
	int old, first;

	if (!valid_index(a, POOL_PAGES, page))
		return;
	p = PG(a, page);
	if (mode_locked(a)) {
		page_map_lock(a, p, SITE_PAGE_DUP_RMAP);
		old = locked_mapcount_add(p, 1);
		page_map_unlock(a, p);
		first = old == 0;
	} else {
		/* R1: a remover on another mm may be decrementing this page now */
		WINDOW_OPEN(a, p, RMAP_RACE_R1_DUP_VS_REMOVE);
		first = mapcount_inc(a, p, &old);
		WINDOW_CLOSE(a, p, RMAP_RACE_R1_DUP_VS_REMOVE);
	}
	if (unlikely(first))
		note_violation(a, page, "page_dup_rmap: page was not mapped");
	emit(a, RMAP_EV_DUP, page, old, old + 1, 0);
}

/**
 * page_remove_rmap - take down pte mapping from a page
 * @page:	page to remove mapping from
 *
 * The caller holds the mm's page_table_lock and has cleared the pte.  The
 * last unmap decrements nr_mapped; L also clears an anon mapping, N* keep
 * it until the page is freed (R3).
 */
void page_remove_rmap(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p;
	int new, last, anon = 0;

	if (!valid_index(a, POOL_PAGES, page))
		return;
	p = PG(a, page);
	if (page_reserved(p))
		return;
	if (mode_locked(a)) {
		page_map_lock(a, p, SITE_PAGE_REMOVE_RMAP);
		if (LOAD(&p->mapcount) == 0) {
			page_map_unlock(a, p);
			note_violation(a, page, "page_remove_rmap: mapcount already 0");
			return;
		}
		new = locked_mapcount_add(p, -1) - 1;
		last = new == 0;
		anon = last && PageAnon(p->mapping);
		if (anon)
			clear_page_anon(a, p, page);
		page_map_unlock(a, p);
	} else {
		WINDOW_CHECK(a, page, RMAP_RACE_R1_DUP_VS_REMOVE);
		WINDOW_CHECK(a, page, RMAP_RACE_R6_REMOVE_DURING_UNMAP);
		/* R9: let a reclaimer read the mapping before this last unmap */
		if (perturb_on(a) && LOAD(&p->_mapcount) == 0 && PageAnon(LOAD(&p->mapping)))
			perturb_steer(a, page, RMAP_RACE_R9_RECHECK_UNMAPPED);
		last = mapcount_dec(a, p, &new);
		if (unlikely(new < 0)) {
			note_violation(a, page, "page_remove_rmap: mapcount underflow");
			return;
		}
	}
	if (last)
		nr_mapped_add(a, -1);
	emit(a, last ? RMAP_EV_UNMAP_LAST : RMAP_EV_REMOVE, page, new + 1, new, 0);
}

/* ---- vmscan's side: page_referenced ---- */

/* page_table_lock or i_mmap_lock from vmscan: trylock in L/N2 (R10), lock in N. */
static int vmscan_lock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c,
		       unsigned site, rmap_page_t page)
{
	if (!mode_trylocks(a)) {
		rl_lock(a, l, c, site);
		return 1;
	}
	if (rl_trylock(a, l, c, site))
		return 1;
	note_race(a, RMAP_RACE_R10_TRYLOCK_MISSED, page);
	return 0;
}

/*
 * Where @page would be in @vma's mm, with that mm's page_table_lock taken;
 * the transitions that follow are reported against that mm and address.
 */
static uint64_t *page_check_address(struct rmap_arena *a, rmap_page_t page, struct vm_area_struct *v,
				    unsigned site, int *locked)
{
	struct mm_struct *mm = MM(a, LOAD(&v->vm_mm));
	uint64_t addr, *pte;

	*locked = 0;
	if (LOAD(&mm->rss) == 0)
		return NULL;
	addr = vma_address(v, LOAD(&PG(a, page)->index));
	if (addr == VMA_EFAULT)
		return NULL;
	if (!vmscan_lock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE, site, page))
		return NULL;
	*locked = 1;
	rmap_cur.mm = LOAD(&v->vm_mm);
	rmap_cur.addr = addr;
	pte = pte_lookup(a, mm, addr, 0);
	if (!pte || pte_kind(*pte) != RMAP_PTE_PRESENT || pte_payload(*pte) != page)
		return NULL;
	return pte;
}

static int page_referenced_one(struct rmap_arena *a, rmap_page_t page, rmap_vma_t vma, int *mapcount)
{
	struct vm_area_struct *v = VMA(a, vma);
	int locked, referenced = 0;
	uint64_t *pte = page_check_address(a, page, v, SITE_PAGE_REFERENCED_ONE, &locked);

	if (pte) {
		if (*pte & PTE_YOUNG) {
			*pte &= ~PTE_YOUNG;
			referenced++;
		}
		/* only a pte that really maps the page lowers the hint */
		(*mapcount)--;
	}
	if (locked)
		rl_unlock(a, &MM(a, v->vm_mm)->page_table_lock, RMAP_LC_PAGE_TABLE);
	return referenced;
}

/*
 * Lock the anon_vma @page's mapping names, the way each mode dares to.
 * Returns the anon_vma locked, or 0; *gen is the generation the page saw.
 */
static uint32_t lock_page_anon_vma(struct rmap_arena *a, rmap_page_t page, unsigned site, uint32_t *gen)
{
	struct page *p = PG(a, page);
	uint64_t mg;
	uint32_t av;

	if (mode_rcu(a))
		return page_lock_anon_vma(a, page, site, gen);
	mg = LOAD_ACQ(&p->mapping_gen);
	av = mapping_index((uint32_t)mg);
	*gen = (uint32_t)(mg >> 32);
	if (!PageAnon((uint32_t)mg) || !valid_index(a, POOL_ANON_VMAS, av))
		return 0;
	if (!mode_locked(a)) {
		/*
		 * Recheck mapcount: it is not safe to take anon_vma->lock after
		 * the last page_remove_rmap, since the anon_vma might be freed
		 * and reused.  This only narrows the window (R9); N closes it.
		 */
		WINDOW_OPEN(a, p, RMAP_RACE_R9_RECHECK_UNMAPPED);
		WINDOW_CLOSE(a, p, RMAP_RACE_R9_RECHECK_UNMAPPED);
		if (!page_mapped(a, p)) {
			note_race(a, RMAP_RACE_R9_RECHECK_UNMAPPED, page);
			return 0;
		}
		/* ... and between the recheck and the lock, the window stays open */
		WINDOW_OPEN(a, p, RMAP_RACE_R9_ANON_VMA_FREED);
		WINDOW_CLOSE(a, p, RMAP_RACE_R9_ANON_VMA_FREED);
	}
	anon_vma_lock(a, av, site);
	return av;
}

/* Walk an anon_vma's list defensively: a reused one may change shape under a stale reader. */
#define for_each_anon_vma_vma(a, av, v, n) \
	for ((v) = AV(a, av)->head, (n) = 0; (v) && valid_index(a, POOL_VMAS, (v)) && \
	     (n) <= (a)->pool[POOL_VMAS].max; (v) = VMA(a, v)->av_next, (n)++)

static int page_referenced_anon(struct rmap_arena *a, rmap_page_t page)
{
	uint32_t av, gen, v, n;
	int mapcount, referenced = 0;

	av = lock_page_anon_vma(a, page, SITE_PAGE_REFERENCED_ANON, &gen);
	if (!av)
		return 0;
	if (mode_locked(a) && !AV(a, av)->head)
		note_violation(a, page, "page_referenced_anon: empty anon_vma list");
	if (anon_vma_check_locked(a, av, gen, page)) {
		mapcount = page_mapcount(a, PG(a, page));
		for_each_anon_vma_vma(a, av, v, n) {
			referenced += page_referenced_one(a, page, v, &mapcount);
			if (mapcount <= 0)
				break;
		}
	}
	anon_vma_unlock(a, av);
	return referenced;
}

/* Linear vmas of @as covering file page @pgoff (the prio-tree query, by list). */
#define for_each_i_mmap_vma(a, as, pgoff, v) \
	for ((v) = (as)->i_mmap; (v); (v) = VMA(a, v)->i_next) \
		if ((pgoff) >= VMA(a, v)->vm_pgoff && \
		    (pgoff) < VMA(a, v)->vm_pgoff + ((VMA(a, v)->vm_end - VMA(a, v)->vm_start) >> PAGE_SHIFT))

static int page_referenced_file(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	uint32_t m = LOAD(&p->mapping), v;
	struct address_space *as = AS(a, mapping_index(m));
	uint64_t pgoff = LOAD(&p->index);
	int mapcount = page_mapcount(a, p), referenced = 0;

	if (!mode_locked(a)) {
		/* the page lock keeps mapping from truncation while we take i_mmap_lock (R7) */
		if (PageAnon(m) || !page_flag(p, RMAP_PG_LOCKED))
			note_violation(a, page, "page_referenced_file: anon or unlocked page");
	}
	if (!valid_index(a, POOL_MAPPINGS, mapping_index(m)) ||
	    !vmscan_lock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP, SITE_PAGE_REFERENCED_FILE, page))
		return 0;
	if (!mode_locked(a))
		mapcount = page_mapcount(a, p);	/* a later snapshot is likelier right */
	for_each_i_mmap_vma(a, as, pgoff, v) {
		uint32_t f = LOAD(&VMA(a, v)->vm_flags);
		if ((f & (RMAP_VM_LOCKED | RMAP_VM_MAYSHARE)) == (RMAP_VM_LOCKED | RMAP_VM_MAYSHARE)) {
			referenced++;
			break;
		}
		referenced += page_referenced_one(a, page, v, &mapcount);
		if (mapcount <= 0)
			break;
	}
	rl_unlock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP);
	return referenced;
}

/* N*: a file page seen from refill_inactive_zone, without the page lock. */
static int page_referenced_file_unlocked(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	int referenced = 0;

	/* R7: truncation may lock the page and clear mapping in this window */
	WINDOW_OPEN(a, p, RMAP_RACE_R7_PAGE_LOCK_BUSY);
	STEER_FOLLOW(a, page, RMAP_RACE_R7_MAPPING_GONE);
	if (!trylock_page(a, p, SITE_PAGE_REFERENCED)) {
		WINDOW_CLOSE(a, p, RMAP_RACE_R7_PAGE_LOCK_BUSY);
		note_race(a, RMAP_RACE_R7_PAGE_LOCK_BUSY, page);
		return 1;	/* busy: count it referenced, the page stays active */
	}
	WINDOW_CLOSE(a, p, RMAP_RACE_R7_PAGE_LOCK_BUSY);
	if (LOAD_ACQ(&p->mapping))
		referenced = page_referenced_file(a, page);
	else
		note_race(a, RMAP_RACE_R7_MAPPING_GONE, page);
	/* unconditionally: the seed leaked the lock here (Nick Piggin's fix) */
	unlock_page(a, p);
	return referenced;
}

/* page_referenced with PG_maplock already held in L (shrink_list, refill). */
int __page_referenced(struct rmap_arena *a, rmap_page_t page, int is_locked)
{
	struct page *p = PG(a, page);
	struct rmap_current saved = rmap_cur;
	int referenced = 0, mapped;
	uint32_t m;

	if (test_clear_page_flag(p, RMAP_PG_REFERENCED))
		referenced++;
	mapped = page_mapped(a, p);
	m = LOAD_ACQ(&p->mapping);
	STEER_ARRIVE(a, page);	/* seen: a steered actor may go on */
	if (mapped && !m && !mode_locked(a)) {
		/* R8: inc_and_test done, mapping not stored yet: not a file page */
		note_race(a, RMAP_RACE_R8_MAPPED_NO_MAPPING, page);
	} else if (mapped && m) {
		if (PageAnon(m))
			referenced += page_referenced_anon(a, page);
		else if (is_locked || mode_locked(a))
			referenced += page_referenced_file(a, page);
		else
			referenced += page_referenced_file_unlocked(a, page);
	}
	rmap_cur = saved;	/* the outcome is the page's, not one mm's */
	emit(a, RMAP_EV_REFERENCED, page, page_mapcount(a, p), page_mapcount(a, p), referenced);
	return referenced;
}

/**
 * page_referenced - test if the page was referenced
 * @page:	the page to test
 * @is_locked:	caller holds the page lock (shrink_list) or not (refill)
 *
 * Returns the number of ptes that referenced the page, plus one for
 * PG_referenced.  Quick test_and_clear of each pte's young bit.
 */
int page_referenced(struct rmap_arena *a, rmap_page_t page, int is_locked)
{
	int r;

	if (!valid_index(a, POOL_PAGES, page))
		return 0;
	if (!mode_locked(a))
		return __page_referenced(a, page, is_locked);
	page_map_lock(a, PG(a, page), SITE_PAGE_REFERENCED);
	r = __page_referenced(a, page, is_locked);
	page_map_unlock(a, PG(a, page));
	return r;
}

/* ---- vmscan's side: try_to_unmap ---- */

/*
 * L: try_to_unmap_one took the count to 0 by hand, so try_to_unmap owes
 * the last-unmap bookkeeping.  If instead the nonlinear cluster scan's
 * page_remove_rmap unmapped the page, it already did it: 2.6.8 would
 * decrement nr_mapped a second time there; we do not.
 */
static __thread int unmapped_by_hand;

static int try_to_unmap_one(struct rmap_arena *a, rmap_page_t page, rmap_vma_t vma)
{
	struct page *p = PG(a, page);
	struct vm_area_struct *v = VMA(a, vma);
	struct mm_struct *mm = MM(a, v->vm_mm);
	int locked, ret = SWAP_AGAIN;
	uint64_t *pte = page_check_address(a, page, v, SITE_TRY_TO_UNMAP_ONE, &locked), old;

	if (!pte)
		goto out;
	/* mlocked, reserved or recently used: unswappable now */
	if ((LOAD(&v->vm_flags) & (RMAP_VM_LOCKED | RMAP_VM_RESERVED)) || (*pte & PTE_YOUNG)) {
		*pte &= ~PTE_YOUNG;
		ret = SWAP_FAIL;
		goto out;
	}
	/* an extra reference beyond ptes, swap cache and ours: get_user_pages or swapoff */
	if (page_flag(p, RMAP_PG_SWAPCACHE) &&
	    LOAD(&p->_count) + 1 != page_mapcount(a, p) + 2) {
		ret = SWAP_FAIL;
		goto out;
	}
	old = *pte;
	if (old & PTE_DIRTY)
		set_page_flag(p, RMAP_PG_DIRTY);
	if (PageAnon(LOAD(&p->mapping))) {
		if (!page_flag(p, RMAP_PG_SWAPCACHE))
			note_violation(a, page, "try_to_unmap_one: anon page not in swap cache");
		__atomic_fetch_add(&p->swap_count, 1, __ATOMIC_RELAXED);	/* swap_duplicate */
		pte_set(a, pte, mk_pte(RMAP_PTE_SWAP, page, 0));
	} else {
		pte_set(a, pte, 0);
	}
	STORE(&mm->rss, mm->rss - 1);
	if (mode_locked(a)) {
		/* PG_maplock is held by our caller: decrement by hand */
		int old_mc = LOAD(&p->mapcount);
		if (old_mc == 0)
			note_violation(a, page, "try_to_unmap_one: mapcount already 0");
		else if (locked_mapcount_add(p, -1) > 1)
			emit(a, RMAP_EV_REMOVE, page, old_mc, old_mc - 1, 0);
		else
			unmapped_by_hand = 1;
	} else {
		/* R6: a concurrent page_remove_rmap here is why the decrement is not by hand */
		WINDOW_OPEN(a, p, RMAP_RACE_R6_REMOVE_DURING_UNMAP);
		AWAIT_REMOVE(a, p);
		WINDOW_CLOSE(a, p, RMAP_RACE_R6_REMOVE_DURING_UNMAP);
		page_remove_rmap(a, page);
	}
	put_page(a, page);
out:
	if (locked)
		rl_unlock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE);
	return ret;
}

static int try_to_unmap_anon(struct rmap_arena *a, rmap_page_t page)
{
	uint32_t av, gen, v, n;
	int ret = SWAP_AGAIN;

	av = lock_page_anon_vma(a, page, SITE_TRY_TO_UNMAP_ANON, &gen);
	if (!av)
		return SWAP_AGAIN;
	if (mode_locked(a) && !AV(a, av)->head)
		note_violation(a, page, "try_to_unmap_anon: empty anon_vma list");
	if (anon_vma_check_locked(a, av, gen, page)) {
		for_each_anon_vma_vma(a, av, v, n) {
			ret = try_to_unmap_one(a, page, v);
			if (ret == SWAP_FAIL || !page_mapped(a, PG(a, page)))
				break;
		}
	}
	anon_vma_unlock(a, av);
	return ret;
}

/* Unmap one CLUSTER_SIZE window of a nonlinear vma, whatever pages it maps. */
static int try_to_unmap_cluster(struct rmap_arena *a, uint64_t cursor, int *mapcount, rmap_vma_t vma,
				rmap_page_t target)
{
	struct vm_area_struct *v = VMA(a, vma);
	struct mm_struct *mm = MM(a, v->vm_mm);
	uint64_t addr, end;

	if (!vmscan_lock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_TRY_TO_UNMAP_CLUSTER, target))
		return SWAP_FAIL;
	addr = (v->vm_start + cursor) & CLUSTER_MASK;
	end = addr + CLUSTER_SIZE;
	if (addr < v->vm_start)
		addr = v->vm_start;
	if (end > v->vm_end)
		end = v->vm_end;
	for (; addr < end; addr += PAGE_SIZE) {
		uint64_t *pte = pte_lookup(a, mm, addr, 0), old;
		rmap_page_t page;
		struct page *p;

		if (!pte || pte_kind(*pte) != RMAP_PTE_PRESENT)
			continue;
		page = (rmap_page_t)pte_payload(*pte);
		p = PG(a, page);
		if (page_reserved(p))
			continue;
		if (PageAnon(LOAD(&p->mapping))) {
			note_violation(a, page, "try_to_unmap_cluster: anon page in nonlinear vma");
			continue;
		}
		if (*pte & PTE_YOUNG) {
			*pte &= ~PTE_YOUNG;
			continue;
		}
		old = *pte;
		rmap_cur.mm = v->vm_mm;
		rmap_cur.addr = addr;
		pte_set(a, pte, p->index != linear_page_index(v, addr) ? mk_pte(RMAP_PTE_FILE, p->index, 0) : 0);
		if (old & PTE_DIRTY)
			set_page_flag(p, RMAP_PG_DIRTY);
		page_remove_rmap(a, page);
		put_page(a, page);
		STORE(&mm->rss, mm->rss - 1);
		(*mapcount)--;
	}
	rl_unlock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE);
	return SWAP_AGAIN;
}

#define for_each_nonlinear_vma(a, as, v) \
	for ((v) = (as)->i_mmap_nonlinear; (v); (v) = VMA(a, v)->i_next) \
		if (!(VMA(a, v)->vm_flags & (RMAP_VM_LOCKED | RMAP_VM_RESERVED)))

/* The nonlinear phase of try_to_unmap_file: sweep every vma by clusters. */
static int try_to_unmap_nonlinear(struct rmap_arena *a, rmap_page_t page, struct address_space *as, int ret)
{
	struct page *p = PG(a, page);
	uint64_t max_nl_cursor = 0, max_nl_size = 0, cursor;
	int mapcount, r = SWAP_AGAIN;
	uint32_t v;

	for_each_nonlinear_vma(a, as, v) {
		struct vm_area_struct *vm = VMA(a, v);
		if (vm->vm_private_data > max_nl_cursor)
			max_nl_cursor = vm->vm_private_data;
		if (vm->vm_end - vm->vm_start > max_nl_size)
			max_nl_size = vm->vm_end - vm->vm_start;
	}
	if (max_nl_size == 0)	/* all nonlinear vmas locked or reserved */
		return mode_rcu(a) ? SWAP_FAIL : ret;

	mapcount = page_mapcount(a, p);		/* not exact: an effort budget */
	if (mode_locked(a))
		/* R11: the clusters page_remove_rmap this very page too */
		page_map_unlock(a, p);
	else if (mapcount == 0)
		return ret;

	max_nl_size = (max_nl_size + CLUSTER_SIZE - 1) & CLUSTER_MASK;
	if (max_nl_cursor == 0)
		max_nl_cursor = CLUSTER_SIZE;
	do {
		for_each_nonlinear_vma(a, as, v) {
			struct vm_area_struct *vm = VMA(a, v);
			cursor = vm->vm_private_data;
			while (LOAD(&MM(a, vm->vm_mm)->rss) && cursor < max_nl_cursor &&
			       cursor < vm->vm_end - vm->vm_start) {
				r = try_to_unmap_cluster(a, cursor, &mapcount, v, page);
				cursor += CLUSTER_SIZE;
				vm->vm_private_data = cursor;
				if (mapcount <= 0)
					goto relock;
			}
			if (!mode_locked(a) || r != SWAP_FAIL)
				vm->vm_private_data = max_nl_cursor;
			if (mode_locked(a))
				ret = SWAP_AGAIN;
		}
		max_nl_cursor += CLUSTER_SIZE;
	} while (max_nl_cursor <= max_nl_size);

	/* forget progress: the next scan starts again from the beginning */
	for (v = as->i_mmap_nonlinear; v; v = VMA(a, v)->i_next)
		if (!(VMA(a, v)->vm_flags & RMAP_VM_RESERVED))
			VMA(a, v)->vm_private_data = 0;
relock:
	if (mode_locked(a))
		page_map_lock(a, p, SITE_TRY_TO_UNMAP_FILE);
	return ret;
}

static int try_to_unmap_file(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	uint32_t mi = mapping_index(LOAD(&p->mapping)), v;
	struct address_space *as = AS(a, mi);
	uint64_t pgoff = p->index;
	int ret = SWAP_AGAIN;

	if (!valid_index(a, POOL_MAPPINGS, mi) ||
	    !vmscan_lock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP, SITE_TRY_TO_UNMAP_FILE, page))
		return SWAP_AGAIN;
	for_each_i_mmap_vma(a, as, pgoff, v) {
		ret = try_to_unmap_one(a, page, v);
		if (ret == SWAP_FAIL || !page_mapped(a, p))
			goto out;
	}
	if (as->i_mmap_nonlinear)
		ret = try_to_unmap_nonlinear(a, page, as, ret);
out:
	rl_unlock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP);
	return ret;
}

/* try_to_unmap with PG_maplock already held in L. */
int __try_to_unmap(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	struct rmap_current saved = rmap_cur;
	uint32_t m;
	int ret;

	if (!page_flag(p, RMAP_PG_LOCKED) || page_reserved(p))
		note_violation(a, page, "try_to_unmap: page not locked, or reserved");
	if (mode_locked(a) && !page_mapped(a, p)) {
		note_violation(a, page, "try_to_unmap: page not mapped");
		return SWAP_SUCCESS;
	}
	if (!mode_locked(a) && !page_mapped(a, p))
		/* R5: the last pte went while vmscan was on its way here */
		note_race(a, RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN, page);
	m = LOAD_ACQ(&p->mapping);
	unmapped_by_hand = 0;
	if (!m)
		ret = SWAP_AGAIN;
	else if (PageAnon(m))
		ret = try_to_unmap_anon(a, page);
	else
		ret = try_to_unmap_file(a, page);

	if (mode_locked(a)) {
		/* _one decremented by hand: the last-unmap bookkeeping is ours */
		if (!page_mapped(a, p)) {
			if (unmapped_by_hand) {
				if (PageAnon(p->mapping))
					clear_page_anon(a, p, page);
				nr_mapped_add(a, -1);
				emit(a, RMAP_EV_UNMAP_LAST, page, 1, 0, 0);
			}
			ret = SWAP_SUCCESS;
		}
	} else if (!page_mapped(a, p)) {
		ret = SWAP_SUCCESS;
	}
	rmap_cur = saved;
	emit(a, RMAP_EV_UNMAP_RESULT, page, page_mapcount(a, p), page_mapcount(a, p), ret);
	return ret;
}

/**
 * try_to_unmap - try to remove all page table mappings to a page
 * @page:	the page to get unmapped
 *
 * The caller holds the page lock.  Returns SWAP_SUCCESS if every mapping
 * went, SWAP_AGAIN if one was missed (try again), SWAP_FAIL if the page
 * is unswappable now.
 */
int try_to_unmap(struct rmap_arena *a, rmap_page_t page)
{
	int r;

	if (!valid_index(a, POOL_PAGES, page))
		return SWAP_FAIL;
	if (!mode_locked(a))
		return __try_to_unmap(a, page);
	page_map_lock(a, PG(a, page), SITE_TRY_TO_UNMAP);
	/*
	 * L's "BUG if mapcount == 0" belongs to shrink_list, which tested
	 * page_mapped under this same lock.  A caller of this entry point
	 * could not: the last pte may have gone before we took the lock (R5).
	 */
	if (page_mapped(a, PG(a, page)))
		r = __try_to_unmap(a, page);
	else
		r = SWAP_SUCCESS;
	page_map_unlock(a, PG(a, page));
	return r;
}
