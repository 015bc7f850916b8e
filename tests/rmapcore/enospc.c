/* SPDX-License-Identifier: MIT */
/*
 * enospc.c - a full pool refuses cleanly: with max_pages 16 the 17th frame
 * is refused with -ENOSPC (lookup returns 0), the refusal is counted and
 * nothing else changes, except that a COW that needed the new frame still
 * unmaps the old page; a full mm pool refuses the next fork; a fork that
 * runs out of page-table nodes half-way leaves nothing of the child behind.
 * Usage: enospc MODE
 */
#include "testlib.h"

#define MAX_PAGES	16
#define MAX_MMS		4
#define ANON		0x40000000ull
#define KEY(i)		(0xa300000ull + (i))

static void pages_full(struct rmap_arena *a, rmap_mm_t mm)
{
	struct rmap_counters c;
	rmap_mm_t child;

	tl_map_anon(a, mm, ANON, 2 * MAX_PAGES, 0);
	for (unsigned i = 0; i < MAX_PAGES; i++)
		REQUIRE_OK(rmap_fault(a, mm, ANON + i * TL_PAGE, KEY(i),
				      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	CHECK_EQ(rmap_fault(a, mm, ANON + MAX_PAGES * TL_PAGE, KEY(MAX_PAGES),
			    RMAP_FAULT_WRITE | RMAP_FAULT_ANON), -ENOSPC);
	CHECK_EQ(rmap_page_lookup(a, KEY(MAX_PAGES + 1)), 0);
	CHECK_EQ(rmap_page_find(a, KEY(MAX_PAGES)), 0);
	CHECK_EQ(tl_pte(a, mm, ANON + MAX_PAGES * TL_PAGE).kind, RMAP_PTE_NONE);
	rmap_counters(a, &c);
	CHECK(c.enospc >= 2);
	CHECK_EQ(c.pages_used, MAX_PAGES);
	CHECK_EQ(c.pages_max, MAX_PAGES);
	CHECK_EQ(c.nr_mapped, MAX_PAGES);
	CHECK_CLEAN(a);

	/* Known frames still work: fork dups them, re-faults refresh. */
	REQUIRE_OK(rmap_dup_mmap(a, mm, 501, 0, &child));
	CHECK_EQ(tl_mapcount(a, KEY(0)), 2);
	REQUIRE_OK(rmap_fault(a, mm, ANON, KEY(0), RMAP_FAULT_ANON));

	/*
	 * A COW that needs a new frame is refused, but the kernel's pte left
	 * the old page all the same: unmapped, or its mapcount stays too high.
	 */
	CHECK_EQ(rmap_fault(a, child, ANON, KEY(MAX_PAGES),
			    RMAP_FAULT_WRITE | RMAP_FAULT_ANON), -ENOSPC);
	CHECK_EQ(tl_pte(a, child, ANON).kind, RMAP_PTE_NONE);
	CHECK_EQ(tl_mapcount(a, KEY(0)), 1);
	CHECK_EQ(tl_nr_mapped(a), MAX_PAGES);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, child, RMAP_CAUSE_EXIT));
}

static void mms_full(struct rmap_arena *a, rmap_mm_t mm)
{
	rmap_mm_t child[MAX_MMS + 1];
	int n = 0, ret = 0;

	/* @mm is live already: MAX_MMS - 1 forks fit. */
	while (n < MAX_MMS && (ret = rmap_dup_mmap(a, mm, 600 + n, 0,
						   &child[n])) == 0)
		n++;
	CHECK_EQ(n, MAX_MMS - 1);
	CHECK_EQ(ret, -ENOSPC);
	CHECK_EQ(tl_mapcount(a, KEY(1)), MAX_MMS);
	CHECK_CLEAN(a);
	while (n-- > 0)
		REQUIRE_OK(rmap_exit_mmap(a, child[n], RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_mapcount(a, KEY(1)), 1);
}

/*
 * Page-table nodes run out in the middle of dup_mmap: the first vma is
 * copied with its ptes, the second is linked but cannot be.  The error
 * must tear the partial child down (no mm, vma, anon_vma link or dup'ed
 * mapcount left), and it must never have been visible as a live mm.
 */
#define FAR		(1ull << 40)	/* another pgd entry: 3 more nodes */
#define DUP_PT_NODES	12		/* parent 1 + 3 + 3, child 1 + 3 + 2 */

static void dup_fails_half_way(enum rmap_mode mode)
{
	struct rmap_arena_config cfg;
	struct rmap_counters before, after;
	struct tl_arena t;
	struct rmap_arena *a;
	rmap_mm_t mm, child = 0;

	tl_default_config(&cfg, mode);
	cfg.max_pt_nodes = DUP_PT_NODES;
	a = tl_arena_create(&t, &cfg);
	mm = tl_mm(a, 700);
	tl_map_anon(a, mm, ANON, 4, 0);
	tl_map_anon(a, mm, FAR, 4, 0);
	for (unsigned i = 0; i < 4; i++) {
		REQUIRE_OK(rmap_fault(a, mm, ANON + i * TL_PAGE, KEY(i),
				      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
		REQUIRE_OK(rmap_fault(a, mm, FAR + i * TL_PAGE, KEY(8 + i),
				      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	}
	rmap_counters(a, &before);
	CHECK_EQ(rmap_dup_mmap(a, mm, 701, 0, &child), -ENOSPC);
	CHECK_EQ(child, 0);
	rmap_counters(a, &after);
	CHECK_EQ(after.mms_used, before.mms_used);
	CHECK_EQ(after.vmas_used, before.vmas_used);
	CHECK_EQ(after.pt_nodes_used, before.pt_nodes_used);
	CHECK_EQ(after.nr_mapped, before.nr_mapped);
	CHECK_EQ(tl_mapcount(a, KEY(0)), 1);
	CHECK_EQ(rmap_mm_find_pid(a, 701), 0);
	CHECK_EQ(rmap_mm_next(a, mm), 0);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, mm, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_CLEAN(a);
	tl_arena_close(&t);
}

int main(int argc, char **argv)
{
	struct rmap_arena_config cfg;
	struct tl_arena t;
	struct rmap_arena *a;
	rmap_mm_t mm;

	tl_default_config(&cfg, tl_mode_arg(argc, argv));
	cfg.max_pages = MAX_PAGES;
	cfg.max_mms = MAX_MMS;
	a = tl_arena_create(&t, &cfg);
	mm = tl_mm(a, 500);
	pages_full(a, mm);
	mms_full(a, mm);
	REQUIRE_OK(rmap_exit_mmap(a, mm, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	/* mem_map keeps every frame it has seen: still full. */
	CHECK_EQ(rmap_page_lookup(a, KEY(MAX_PAGES)), 0);
	CHECK_CLEAN(a);
	tl_arena_close(&t);
	dup_fails_half_way(tl_mode_arg(argc, argv));
	return tl_exit_status();
}
