/* SPDX-License-Identifier: MIT */
/*
 * check.c - rmap_check: the invariants of spec section 6.1, at quiescence.
 *
 * One pass over every live mm's page tables counts, per page, the present
 * and swap ptes and checks each against its vma (INV-5, INV-6, INV-11),
 * and each pte table's count of its present ptes (pt_present);
 * one pass over the anon_vma and i_mmap lists checks list membership
 * (INV-6, INV-7); one pass over the mem_map checks the per-page invariants
 * (INV-1..4, INV-8..10, INV-12).  Scratch arrays are calloc'ed: the checker
 * runs outside any hot path.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct check {
	struct rmap_arena *a;
	struct rmap_violation *out;
	long max, found;
	int32_t *ptes;		/* present ptes per page */
	uint32_t *swap_ptes;	/* swap ptes per swap entry (page) */
	uint8_t *vma_live;	/* vma belongs to a live mm's list */
	uint8_t *on_av;		/* times found on an anon_vma list */
	uint8_t *on_i;		/* times found on an i_mmap list */
	rmap_mm_t mm;
	int64_t rss;
};

static void violation(struct check *c, int inv, rmap_page_t page, rmap_mm_t mm, uint64_t vaddr,
		      int64_t expected, int64_t found, const char *what)
{
	if (c->out && c->found < c->max) {
		struct rmap_violation *v = &c->out[c->found];
		v->inv = inv;
		v->page = page;
		v->mm = mm;
		v->key = page ? PG(c->a, page)->key : 0;
		v->vaddr = vaddr;
		v->expected = expected;
		v->found = found;
		snprintf(v->what, sizeof(v->what), "%s", what);
	}
	c->found++;
}

/* INV-5 / INV-6 for one present pte at @addr of c->mm. */
static void check_pte_coherence(struct check *c, rmap_page_t page, uint64_t addr)
{
	struct rmap_arena *a = c->a;
	const struct page *p = PG(a, page);
	rmap_vma_t vma = rmap_find_vma(a, c->mm, addr);
	const struct vm_area_struct *v;
	uint32_t m = p->mapping;

	if (!vma) {
		violation(c, 11, page, c->mm, addr, 0, 1, "present pte outside every vma");
		return;
	}
	v = VMA(a, vma);
	if (PageAnon(m)) {
		if (v->anon_vma != mapping_index(m))
			violation(c, 5, page, c->mm, addr, mapping_index(m), v->anon_vma, "vma->anon_vma differs from page's");
		else if (linear_page_index(v, addr) != p->index)
			violation(c, 5, page, c->mm, addr, (int64_t)p->index, (int64_t)linear_page_index(v, addr),
				  "anon page index does not match its address");
	} else if (m) {
		if (v->mapping != mapping_index(m))
			violation(c, 6, page, c->mm, addr, mapping_index(m), v->mapping, "vma maps another file");
		else if (!(v->vm_flags & RMAP_VM_NONLINEAR) && linear_page_index(v, addr) != p->index)
			violation(c, 6, page, c->mm, addr, (int64_t)p->index, (int64_t)linear_page_index(v, addr),
				  "file page index does not match its address");
	} else {
		violation(c, 6, page, c->mm, addr, 1, 0, "mapped page without mapping");
	}
}

static void count_pte(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte)
{
	struct check *c = ctx;
	rmap_page_t page = (rmap_page_t)pte_payload(*pte);

	if (pte_kind(*pte) == RMAP_PTE_SWAP && valid_index(a, POOL_PAGES, page)) {
		c->swap_ptes[page]++;
	} else if (pte_kind(*pte) == RMAP_PTE_PRESENT) {
		if (!valid_index(a, POOL_PAGES, page)) {
			violation(c, 1, 0, c->mm, addr, 0, page, "pte maps no page");
			return;
		}
		if (page_flag(PG(a, page), RMAP_PG_RESERVED))
			return;
		c->ptes[page]++;
		c->rss++;
		check_pte_coherence(c, page, addr);
	}
}

static void check_mms(struct check *c)
{
	struct rmap_arena *a = c->a;
	uint64_t addr;
	long n;

	for (rmap_mm_t mm = rmap_mm_next(a, 0); mm; mm = rmap_mm_next(a, mm)) {
		for (rmap_vma_t v = MM(a, mm)->mmap; v; v = VMA(a, v)->vm_next)
			c->vma_live[v] = 1;
		c->mm = mm;
		c->rss = 0;
		for_each_pte(a, mm, count_pte, c);
		if (c->rss != MM(a, mm)->rss)
			violation(c, 11, 0, mm, 0, c->rss, MM(a, mm)->rss, "rss differs from present ptes");
		/* rmap_pte_bitmap trusts the count a pte table keeps of its present ptes */
		n = pt_present_mismatches(a, mm, &addr);
		if (n)
			violation(c, 11, 0, mm, addr, 0, n, "pte tables whose present count is wrong");
	}
}

/* INV-7: anon_vma lists; INV-6: i_mmap lists. */
static void check_lists(struct check *c)
{
	struct rmap_arena *a = c->a;
	uint32_t nav = LOAD(&a->pool[POOL_ANON_VMAS].bump), nas = LOAD(&a->pool[POOL_MAPPINGS].bump);
	uint32_t nvma = LOAD(&a->pool[POOL_VMAS].bump), i, v, n;

	for (i = 1; i <= nav && i <= a->pool[POOL_ANON_VMAS].max; i++) {
		if (AV(a, i)->state != AV_LIVE)
			continue;
		if (!AV(a, i)->head)
			violation(c, 7, 0, 0, 0, 1, 0, "live anon_vma with an empty list");
		for (v = AV(a, i)->head, n = 0; v && n <= nvma; v = VMA(a, v)->av_next, n++) {
			if (c->on_av[v] < 255)
				c->on_av[v]++;
			if (VMA(a, v)->anon_vma != i || !c->vma_live[v])
				violation(c, 7, 0, VMA(a, v)->vm_mm, VMA(a, v)->vm_start, i, VMA(a, v)->anon_vma,
					  "anon_vma lists a dead or foreign vma");
		}
	}
	for (i = 1; i <= nas && i <= a->pool[POOL_MAPPINGS].max; i++) {
		for (int nl = 0; nl < 2; nl++) {
			uint32_t head = nl ? AS(a, i)->i_mmap_nonlinear : AS(a, i)->i_mmap;
			for (v = head, n = 0; v && n <= nvma; v = VMA(a, v)->i_next, n++) {
				if (c->on_i[v] < 255)
					c->on_i[v]++;
				if (VMA(a, v)->mapping != i || !c->vma_live[v] ||
				    !(VMA(a, v)->vm_flags & RMAP_VM_NONLINEAR) != !nl)
					violation(c, 6, 0, VMA(a, v)->vm_mm, VMA(a, v)->vm_start, i,
						  VMA(a, v)->mapping, "i_mmap lists a dead, foreign or misfiled vma");
			}
		}
	}
	for (v = 1; v <= nvma && v <= a->pool[POOL_VMAS].max; v++) {
		if (!c->vma_live[v])
			continue;
		if (c->on_av[v] != (VMA(a, v)->anon_vma ? 1 : 0))
			violation(c, 7, 0, VMA(a, v)->vm_mm, VMA(a, v)->vm_start, VMA(a, v)->anon_vma ? 1 : 0,
				  c->on_av[v], "vma not on its anon_vma list exactly once");
		if (c->on_i[v] != (VMA(a, v)->mapping ? 1 : 0))
			violation(c, 6, 0, VMA(a, v)->vm_mm, VMA(a, v)->vm_start, VMA(a, v)->mapping ? 1 : 0,
				  c->on_i[v], "file vma not on its i_mmap list exactly once");
	}
}

static void check_page(struct check *c, rmap_page_t i, int64_t *mapped)
{
	struct rmap_arena *a = c->a;
	const struct page *p = PG(a, i);
	int mc = page_mapcount(a, p), count = p->_count + 1;
	uint32_t m = p->mapping, f = p->flags;
	int cached = (m && !PageAnon(m)) || (f & RMAP_PG_SWAPCACHE);

	if (mc != c->ptes[i])
		violation(c, 1, i, 0, 0, c->ptes[i], mc, "mapcount differs from present ptes");
	if (mc < 0)
		violation(c, 3, i, 0, 0, 0, mc, "mapcount out of range");
	*mapped += mc > 0;
	if (f & (RMAP_PG_MAPLOCK | RMAP_PG_LOCKED))
		violation(c, 4, i, 0, 0, 0, f & (RMAP_PG_MAPLOCK | RMAP_PG_LOCKED), "lock bit left set");
	if (count == 0 && (mc || m || (f & (RMAP_PG_LRU | RMAP_PG_ACTIVE | RMAP_PG_SWAPCACHE))))
		violation(c, 8, i, 0, 0, 0, f, "free page with rmap state");
	if (mode_locked(a) && mc == 0 && PageAnon(m))
		violation(c, 9, i, 0, 0, 0, mapping_index(m), "L: unmapped page keeps an anon mapping");
	if (count != mc + cached)
		violation(c, 10, i, 0, 0, mc + cached, count, "page_count differs from ptes + cache");
	if ((f & RMAP_PG_SWAPCACHE) ? p->swap_count != c->swap_ptes[i] : c->swap_ptes[i] != 0)
		violation(c, 12, i, 0, 0, c->swap_ptes[i], p->swap_count, "swap count differs from swap ptes");
}

long rmap_check(struct rmap_arena *a, struct rmap_violation *out, long max)
{
	uint32_t npages = LOAD(&a->pool[POOL_PAGES].bump), nvma = a->pool[POOL_VMAS].max;
	struct check c = { .a = a, .out = out, .max = out ? max : 0 };
	int64_t mapped = 0;

	if (npages > a->pool[POOL_PAGES].max)
		npages = a->pool[POOL_PAGES].max;
	c.ptes = calloc(npages + 1, sizeof(*c.ptes));
	c.swap_ptes = calloc(npages + 1, sizeof(*c.swap_ptes));
	c.vma_live = calloc(nvma + 1, 1);
	c.on_av = calloc(nvma + 1, 1);
	c.on_i = calloc(nvma + 1, 1);
	if (!c.ptes || !c.swap_ptes || !c.vma_live || !c.on_av || !c.on_i) {
		c.found = -ENOMEM;
		goto out;
	}
	check_mms(&c);
	check_lists(&c);
	for (rmap_page_t i = 1; i <= npages; i++)
		check_page(&c, i, &mapped);
	if (mapped != LOAD(&a->nr_mapped))
		violation(&c, 2, 0, 0, 0, mapped, LOAD(&a->nr_mapped), "nr_mapped differs from mapped pages");
out:
	free(c.ptes);
	free(c.swap_ptes);
	free(c.vma_live);
	free(c.on_av);
	free(c.on_i);
	return c.found;
}
