/* SPDX-License-Identifier: MIT */
/*
 * vmscan.c - a shadow zone: active and inactive LRU lists under lru_lock,
 * refill_inactive_zone and shrink_list as in spec section 4.3, and a
 * shadow swap cache (add_to_swap gives an anon page a swap entry, here
 * its own page index, so try_to_unmap_one can write swap ptes).
 *
 * Nothing is written out: a page unmapped to swap stays in the swap
 * cache until its last swap pte is zapped or faulted back (swap_free), so
 * the real page the tracer still sees can be re-faulted as do_swap_page.
 */
#include "internal.h"

#define SCAN_BATCH	32	/* SWAP_CLUSTER_MAX */

static void list_add_head(struct rmap_arena *a, uint32_t *head, uint32_t *tail, rmap_page_t page)
{
	struct page *p = PG(a, page);

	p->lru_prev = 0;
	p->lru_next = *head;
	if (*head)
		PG(a, *head)->lru_prev = page;
	else
		*tail = page;
	*head = page;
}

static void list_del(struct rmap_arena *a, uint32_t *head, uint32_t *tail, rmap_page_t page)
{
	struct page *p = PG(a, page);

	if (p->lru_prev)
		PG(a, p->lru_prev)->lru_next = p->lru_next;
	else
		*head = p->lru_next;
	if (p->lru_next)
		PG(a, p->lru_next)->lru_prev = p->lru_prev;
	else
		*tail = p->lru_prev;
	p->lru_next = p->lru_prev = 0;
}

/* Put @page on the list its PG_active says; lru_lock held. */
static void add_page_to_lru(struct rmap_arena *a, rmap_page_t page)
{
	if (page_flag(PG(a, page), RMAP_PG_ACTIVE)) {
		list_add_head(a, &a->active_head, &a->active_tail, page);
		a->nr_active++;
	} else {
		list_add_head(a, &a->inactive_head, &a->inactive_tail, page);
		a->nr_inactive++;
	}
	set_page_flag(PG(a, page), RMAP_PG_LRU);
}

static void del_page_from_lru(struct rmap_arena *a, rmap_page_t page)
{
	if (page_flag(PG(a, page), RMAP_PG_ACTIVE)) {
		list_del(a, &a->active_head, &a->active_tail, page);
		a->nr_active--;
	} else {
		list_del(a, &a->inactive_head, &a->inactive_tail, page);
		a->nr_inactive--;
	}
	clear_page_flag(PG(a, page), RMAP_PG_LRU);
}

/* Move @page from the tail to the head of its list; lru_lock held. */
static void lru_rotate(struct rmap_arena *a, int active, rmap_page_t page)
{
	uint32_t *head = active ? &a->active_head : &a->inactive_head;
	uint32_t *tail = active ? &a->active_tail : &a->inactive_tail;

	list_del(a, head, tail, page);
	list_add_head(a, head, tail, page);
}

/*
 * A frame the kernel freed and reused can come back while the shadow
 * vmscan still has its page isolated (the kernel's isolation reference
 * would have kept it): then putback_lru_pages re-adds it, not us, or both
 * reclaimers would work on one page at once.
 */
void lru_cache_add_active(struct rmap_arena *a, rmap_page_t page)
{
	rl_lock(a, &a->lru_lock, RMAP_LC_LRU, SITE_LRU_CACHE_ADD);
	if (!page_flag(PG(a, page), RMAP_PG_LRU | RMAP_PG_ISOLATED) &&
	    LOAD(&PG(a, page)->_count) >= 0) {
		set_page_flag(PG(a, page), RMAP_PG_ACTIVE);
		add_page_to_lru(a, page);
	}
	rl_unlock(a, &a->lru_lock, RMAP_LC_LRU);
}

/* The free path: the page leaves its list. */
void lru_del(struct rmap_arena *a, rmap_page_t page)
{
	rl_lock(a, &a->lru_lock, RMAP_LC_LRU, SITE_FREE_PAGE);
	if (page_flag(PG(a, page), RMAP_PG_LRU))
		del_page_from_lru(a, page);
	rl_unlock(a, &a->lru_lock, RMAP_LC_LRU);
}

/*
 * Take up to @nr pages from the tail of a list, each with a reference;
 * a page whose count already reached 0 is being freed: leave it alone.
 */
static unsigned isolate_lru_pages(struct rmap_arena *a, int active, unsigned nr, rmap_page_t *out,
				  unsigned site)
{
	unsigned n = 0, scanned = 0;

	rl_lock(a, &a->lru_lock, RMAP_LC_LRU, site);
	while (n < nr && scanned++ < 2 * nr) {
		rmap_page_t page = active ? a->active_tail : a->inactive_tail;
		struct page *p;

		if (!page)
			break;
		p = PG(a, page);
		if (!get_page_unless_free(p)) {
			/*
			 * Being freed: its freer waits for lru_lock to take it
			 * off.  PG_lru must stay set meanwhile: the freer tested
			 * it without the lock.
			 */
			lru_rotate(a, active, page);
			continue;
		}
		del_page_from_lru(a, page);
		set_page_flag(p, RMAP_PG_ISOLATED);
		out[n++] = page;
	}
	rl_unlock(a, &a->lru_lock, RMAP_LC_LRU);
	return n;
}

/* Back on the LRU (active if PG_active), then drop the isolation reference. */
static void putback_lru_pages(struct rmap_arena *a, const rmap_page_t *pages, unsigned n, unsigned site)
{
	unsigned i;

	rl_lock(a, &a->lru_lock, RMAP_LC_LRU, site);
	for (i = 0; i < n; i++) {
		clear_page_flag(PG(a, pages[i]), RMAP_PG_ISOLATED);
		add_page_to_lru(a, pages[i]);
	}
	rl_unlock(a, &a->lru_lock, RMAP_LC_LRU);
	for (i = 0; i < n; i++)
		put_page(a, pages[i]);
}

static void set_active(struct rmap_arena *a, rmap_page_t page, int active)
{
	if (active)
		set_page_flag(PG(a, page), RMAP_PG_ACTIVE);
	else
		clear_page_flag(PG(a, page), RMAP_PG_ACTIVE);
}

void refill_inactive_zone(struct rmap_arena *a, unsigned long nr, struct rmap_scan_result *res)
{
	rmap_page_t pages[SCAN_BATCH];
	unsigned n, i;

	rcu_poll(a);
	set_current_op(RMAP_CAUSE_RECLAIM, 0, 0);
	while (nr && (n = isolate_lru_pages(a, 1, nr < SCAN_BATCH ? (unsigned)nr : SCAN_BATCH, pages,
					    SITE_REFILL_INACTIVE_ZONE))) {
		nr -= n;
		for (i = 0; i < n; i++) {
			/* a mapped page recently referenced stays active (swap always exists here) */
			int keep = page_mapped(a, PG(a, pages[i])) && page_referenced(a, pages[i], 0);
			set_active(a, pages[i], keep);
			if (res) {
				res->scanned++;
				res->referenced += keep;
				res->deactivated += !keep;
			}
		}
		putback_lru_pages(a, pages, n, SITE_REFILL_INACTIVE_ZONE);
	}
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
}

static int page_mapping_inuse(struct rmap_arena *a, const struct page *p)
{
	uint32_t m = LOAD(&p->mapping);

	if (page_mapped(a, p) || page_flag(p, RMAP_PG_SWAPCACHE))
		return 1;
	return m && !PageAnon(m) && (LOAD(&AS(a, mapping_index(m))->i_mmap) ||
				     LOAD(&AS(a, mapping_index(m))->i_mmap_nonlinear));
}

/* add_to_swap: the shadow swap slot of a page is its own index. */
static void add_to_swap(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);

	p->swap_entry = page;
	STORE(&p->swap_count, 0);
	get_page(p);		/* the swap cache's reference */
	set_page_flag(p, RMAP_PG_SWAPCACHE);
}

/*
 * remove_exclusive_swap_page: no swap pte left and unmapped, so leave swap
 * cache.  The caller holds the page lock, and drops the swap cache's
 * reference (put_page) when this returns 1: after unlock_page if it holds
 * no reference of its own, or the free would find the page still locked.
 */
int remove_exclusive_swap_page(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);

	return page_flag(p, RMAP_PG_SWAPCACHE) && LOAD(&p->swap_count) == 0 &&
	       !page_mapped(a, p) && test_clear_page_flag(p, RMAP_PG_SWAPCACHE);
}

/* One locked page of shrink_list; returns 1 to activate it. */
static int shrink_page(struct rmap_arena *a, rmap_page_t page, struct rmap_scan_result *res)
{
	struct page *p = PG(a, page);
	int activate = 0, ret;

	if (mode_locked(a))
		page_map_lock(a, p, SITE_SHRINK_LIST);
	if (__page_referenced(a, page, 1) && page_mapping_inuse(a, p)) {
		activate = 1;
		goto out;
	}
	if (PageAnon(LOAD(&p->mapping)) && !page_flag(p, RMAP_PG_SWAPCACHE)) {
		if (mode_locked(a))
			page_map_unlock(a, p);
		add_to_swap(a, page);
		if (mode_locked(a))
			page_map_lock(a, p, SITE_SHRINK_LIST);
	}
	if (page_mapped(a, p) && LOAD(&p->mapping)) {
		int anon = PageAnon(LOAD(&p->mapping));
		/* R5: the last pte may go between that test and try_to_unmap */
		if (!mode_locked(a)) {
			WINDOW_OPEN(a, p, RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN);
			WINDOW_CLOSE(a, p, RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN);
		}
		ret = __try_to_unmap(a, page);
		if (res) {
			res->unmap_fail += ret == SWAP_FAIL;
			res->unmap_again += ret == SWAP_AGAIN;
			res->unmap_success += ret == SWAP_SUCCESS;
			res->swapped_out += ret == SWAP_SUCCESS && anon;
		}
		activate = ret == SWAP_FAIL;
	}
out:
	if (mode_locked(a))
		page_map_unlock(a, p);
	if (!activate)
		if (remove_exclusive_swap_page(a, page))
			put_page(a, page);	/* isolated: our reference keeps it */
	return activate;
}

void shrink_list(struct rmap_arena *a, unsigned long nr, struct rmap_scan_result *res)
{
	rmap_page_t pages[SCAN_BATCH];
	unsigned n, i;

	rcu_poll(a);
	set_current_op(RMAP_CAUSE_RECLAIM, 0, 0);
	while (nr && (n = isolate_lru_pages(a, 0, nr < SCAN_BATCH ? (unsigned)nr : SCAN_BATCH, pages,
					    SITE_SHRINK_LIST))) {
		nr -= n;
		for (i = 0; i < n; i++) {
			struct page *p = PG(a, pages[i]);
			int activate = 0;

			if (res)
				res->scanned++;
			if (trylock_page(a, p, SITE_SHRINK_LIST)) {
				activate = shrink_page(a, pages[i], res);
				unlock_page(a, p);
			}
			set_active(a, pages[i], activate);
			if (res)
				res->activated += activate;
		}
		putback_lru_pages(a, pages, n, SITE_SHRINK_LIST);
	}
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
}
