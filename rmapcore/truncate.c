/* SPDX-License-Identifier: MIT */
/*
 * truncate.c - a page leaves the page cache: 2.6.9's vmtruncate for one
 * page, when the shadow learns that the kernel truncated or invalidated
 * it (a fault found another frame at the same file index, memory.c).
 *
 * As in the kernel: unmap_mapping_range first (every pte of the page, under
 * i_mmap_lock and each mm's page_table_lock, no page lock), then
 * truncate_inode_pages' per-page part under the page lock: the mapping is
 * cleared and the page cache's reference dropped.  vmscan's
 * refill_inactive_zone tests page->mapping without the page lock before it
 * TestSetPageLocks a mapped file page: that is race R7, which this path is
 * the other side of (page lock busy, or mapping gone once it gets it).
 */
#include <sched.h>

#include "internal.h"

/* lock_page may wait on a holder that is descheduled: give up after this. */
#define LOCK_TRIES	1000

/* unmap_mapping_range for one page: zap each pte of @page under its ptl. */
static void unmap_mapping_page(struct rmap_arena *a, rmap_page_t page, struct address_space *as,
			       uint64_t index)
{
	uint32_t v;

	rl_lock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP, SITE_TRUNCATE);
	for (v = as->i_mmap; v; v = VMA(a, v)->i_next) {
		struct vm_area_struct *vm = VMA(a, v);
		struct mm_struct *mm = MM(a, vm->vm_mm);
		uint64_t addr = vma_address(vm, index), *pte;

		if (addr == VMA_EFAULT)
			continue;
		rl_lock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_TRUNCATE);
		pte = pte_lookup(a, mm, addr, 0);
		/* another mm may already map the new page here: leave that pte */
		if (pte && pte_kind(*pte) == RMAP_PTE_PRESENT && pte_payload(*pte) == page) {
			rmap_cur.mm = vm->vm_mm;
			zap_one(a, mm, addr, pte);
		}
		rl_unlock(a, &mm->page_table_lock, RMAP_LC_PAGE_TABLE);
	}
	rl_unlock(a, &as->i_mmap_lock, RMAP_LC_I_MMAP);
}

/* TestSetPageLocked, then lock_page's wait, as truncate_inode_pages' two passes. */
static int truncate_lock_page(struct rmap_arena *a, struct page *p)
{
	for (int i = 0; i < LOCK_TRIES; i++) {
		if (trylock_page(a, p, SITE_TRUNCATE))
			return 1;
		sched_yield();
	}
	return 0;
}

/*
 * Truncate @page, which was the page cache page of (@mapping, @index); the
 * caller holds a reference and no lock.  A page remapped meanwhile (a stale
 * view of another process) stays in the cache: clearing its mapping would
 * leave a mapped file page without one.
 */
void truncate_inode_page(struct rmap_arena *a, rmap_page_t page, uint32_t mapping, uint64_t index)
{
	struct page *p = PG(a, page);
	uint64_t mg = mapping;
	struct rmap_current saved = rmap_cur;

	if (PageAnon(mapping) || !valid_index(a, POOL_MAPPINGS, mapping_index(mapping)))
		return;
	/* R7: a reclaimer past its mapping check meets this truncation */
	if (page_mapped(a, p))
		STEER(a, page, RMAP_RACE_R7_MAPPING_GONE);
	/* unmap_mapping_range's zaps are unmaps like munmap's */
	set_current_op(RMAP_CAUSE_MUNMAP, 0, 0);
	unmap_mapping_page(a, page, AS(a, mapping_index(mapping)), index);
	rmap_cur = saved;
	if (!truncate_lock_page(a, p))
		return;	/* the stale cache entry is evicted when the frame turns up again */
	/* R7: refill_inactive_zone may be between its mapping test and the lock */
	WINDOW_OPEN(a, p, RMAP_RACE_R7_MAPPING_GONE);
	if (mode_locked(a))
		page_map_lock(a, p, SITE_TRUNCATE);
	if (!page_mapped(a, p) && LOAD(&p->index) == index &&
	    __atomic_compare_exchange_n(&p->mapping_gen, &mg, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		put_page(a, page);	/* the page cache's reference; ours keeps it alive */
	if (mode_locked(a))
		page_map_unlock(a, p);
	/* ... and holds the lock a while after the clear, so both outcomes occur */
	if (perturb_on(a))
		perturb_pause(a);
	WINDOW_CLOSE(a, p, RMAP_RACE_R7_MAPPING_GONE);
	unlock_page(a, p);
}
