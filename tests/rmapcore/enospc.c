/* SPDX-License-Identifier: MIT */
/*
 * enospc.c - a full pool refuses cleanly: with max_pages 16 the 17th frame
 * is refused with -ENOSPC (lookup returns 0), the refusal is counted and
 * nothing else changes, including a COW that needed the new frame; a full
 * mm pool refuses the next fork.  Usage: enospc MODE
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
	REQUIRE_OK(rmap_dup_mmap(a, mm, 501, &child));
	CHECK_EQ(tl_mapcount(a, KEY(0)), 2);
	REQUIRE_OK(rmap_fault(a, mm, ANON, KEY(0), RMAP_FAULT_ANON));

	/* A COW that needs a new frame is refused without touching the old. */
	CHECK_EQ(rmap_fault(a, child, ANON, KEY(MAX_PAGES),
			    RMAP_FAULT_WRITE | RMAP_FAULT_ANON), -ENOSPC);
	CHECK_EQ(tl_pte(a, child, ANON).key, KEY(0));
	CHECK_EQ(tl_mapcount(a, KEY(0)), 2);
	CHECK_EQ(tl_nr_mapped(a), MAX_PAGES);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, child, RMAP_CAUSE_EXIT));
}

static void mms_full(struct rmap_arena *a, rmap_mm_t mm)
{
	rmap_mm_t child[MAX_MMS + 1];
	int n = 0, ret = 0;

	/* @mm is live already: MAX_MMS - 1 forks fit. */
	while (n < MAX_MMS && (ret = rmap_dup_mmap(a, mm, 600 + n,
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
	return tl_exit_status();
}
