/* SPDX-License-Identifier: MIT */
/*
 * vma.c - vma geometry against the rmap: munmap splitting a vma in the
 * middle, mremap moving ptes without touching index/mapping/mapcount
 * (spec §4 move_one_page), remap_file_pages making a vma nonlinear and
 * try_to_unmap's nonlinear cluster scan (§3.8) clearing it; pte walks
 * and fork's copy over ranges that cross every page-table level.
 * Usage: vma MODE
 */
#include "testlib.h"

#define SPLIT	0x60000000ull
#define FSPLIT	0x64000000ull
#define MOVE	0x70000000ull
#define MOVED	0x78000000ull
#define NONLIN	0x80000000ull
#define FSPLIT_INO	20
#define NONLIN_INO	21
#define CLUSTER_PAGES	32	/* CLUSTER_SIZE = 32 pages (< PMD_SIZE) */

#define KEY(i)	(0xa100000ull + (i))

/* Ptes at the edges of tables (2 MiB), pmds (1 GiB) and pgd entries (512 GiB). */
#define GIB	0x40000000ull
#define PGDIR	0x8000000000ull
#define VA_TOP	0x800000000000ull	/* 2^47 */
#define WKEY(i)	(0xa200000ull + (i))

static void munmap_splits(struct rmap_arena *a, rmap_mm_t mm)
{
	struct tl_vmas v;
	struct tl_events ev;

	tl_map_anon(a, mm, SPLIT, 8, 0);
	tl_map_file(a, mm, FSPLIT, 8, TL_SHARED_FLAGS, FSPLIT_INO, 100);
	for (unsigned i = 0; i < 8; i++) {
		REQUIRE_OK(rmap_fault(a, mm, SPLIT + i * TL_PAGE, KEY(i),
				      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
		tl_fault_file(a, mm, FSPLIT, i, FSPLIT_INO, 100, 0);
	}
	CHECK_EQ(tl_nr_mapped(a), 16);

	tl_events_start(&ev);
	REQUIRE_OK(rmap_munmap(a, mm, SPLIT + 3 * TL_PAGE, SPLIT + 5 * TL_PAGE,
			       RMAP_CAUSE_MUNMAP));
	REQUIRE_OK(rmap_munmap(a, mm, FSPLIT + 2 * TL_PAGE,
			       FSPLIT + 7 * TL_PAGE, RMAP_CAUSE_MUNMAP));
	tl_events_stop();
	CHECK_EQ(ev.by_cause[RMAP_EV_UNMAP_LAST][RMAP_CAUSE_MUNMAP], 2 + 5);

	v = tl_vmas(a, mm);
	REQUIRE(v.n == 4);
	CHECK_EQ(v.v[0].start, SPLIT);
	CHECK_EQ(v.v[0].end, SPLIT + 3 * TL_PAGE);
	CHECK_EQ(v.v[0].pgoff, SPLIT / TL_PAGE);
	CHECK_EQ(v.v[1].start, SPLIT + 5 * TL_PAGE);
	CHECK_EQ(v.v[1].end, SPLIT + 8 * TL_PAGE);
	CHECK_EQ(v.v[1].pgoff, SPLIT / TL_PAGE + 5);
	CHECK_EQ(v.v[2].end, FSPLIT + 2 * TL_PAGE);
	CHECK_EQ(v.v[3].start, FSPLIT + 7 * TL_PAGE);
	CHECK_EQ(v.v[3].pgoff, 107);
	CHECK_EQ(v.v[3].file.ino, FSPLIT_INO);

	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(tl_mapcount(a, KEY(i)), i == 3 || i == 4 ? 0 : 1);
	CHECK_EQ(tl_mapcount(a, tl_file_key(FSPLIT_INO, 101)), 1);
	CHECK_EQ(tl_mapcount(a, tl_file_key(FSPLIT_INO, 104)), 0);
	CHECK_EQ(tl_mapcount(a, tl_file_key(FSPLIT_INO, 107)), 1);
	CHECK_EQ(tl_count_ptes(a, mm, SPLIT, SPLIT + 8 * TL_PAGE), 6);
	CHECK_EQ(tl_nr_mapped(a), 9);
	CHECK_EQ(rmap_mm_rss(a, mm), 9);
	CHECK_CLEAN(a);
}

static void mremap_keeps_index(struct rmap_arena *a, rmap_mm_t mm)
{
	struct tl_events ev;
	struct tl_vmas v;
	rmap_mm_t child;
	int64_t nr;

	tl_map_anon(a, mm, MOVE, 4, 0);
	REQUIRE_OK(rmap_fault(a, mm, MOVE + TL_PAGE, KEY(20),
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	REQUIRE_OK(rmap_fault(a, mm, MOVE + 3 * TL_PAGE, KEY(21),
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	nr = tl_nr_mapped(a);

	tl_events_start(&ev);
	REQUIRE_OK(rmap_mremap(a, mm, MOVE, 4 * TL_PAGE, MOVED, 4 * TL_PAGE));
	tl_events_stop();
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST] + ev.n[RMAP_EV_UNMAP_LAST] +
		 ev.n[RMAP_EV_ADD] + ev.n[RMAP_EV_REMOVE], 0);
	CHECK_EQ(tl_count_ptes(a, mm, MOVE, MOVE + 4 * TL_PAGE), 0);
	CHECK_EQ(tl_pte(a, mm, MOVED + TL_PAGE).key, KEY(20));
	CHECK_EQ(tl_pte(a, mm, MOVED + 3 * TL_PAGE).key, KEY(21));
	CHECK_EQ(tl_info(a, KEY(20)).index, MOVE / TL_PAGE + 1);
	CHECK_EQ(tl_info(a, KEY(21)).index, MOVE / TL_PAGE + 3);
	CHECK_EQ(tl_mapcount(a, KEY(20)), 1);
	CHECK_EQ(tl_nr_mapped(a), nr);
	v = tl_vmas(a, mm);
	REQUIRE(tl_vma_at(&v, MOVED) != NULL);
	CHECK_EQ(tl_vma_at(&v, MOVED)->pgoff, MOVE / TL_PAGE);
	CHECK(tl_vma_at(&v, MOVE) == NULL);
	CHECK_CLEAN(a);

	/* A COW page born after the move lands in the vma's old frame. */
	REQUIRE_OK(rmap_dup_mmap(a, mm, 301, 0, &child));
	REQUIRE_OK(rmap_fault(a, child, MOVED + TL_PAGE, KEY(22),
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	CHECK_EQ(tl_info(a, KEY(22)).index, MOVE / TL_PAGE + 1);
	CHECK_EQ(tl_mapcount(a, KEY(20)), 1);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, child, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), nr);
	CHECK_CLEAN(a);
}

/*
 * The first scan only clears the young bits of the cluster (SWAP_AGAIN),
 * the second unmaps the whole cluster and leaves a file pte where the
 * page sat at a nonlinear offset; the next cluster is not touched once
 * the target page is unmapped.
 */
static void nonlinear_cluster_unmap(struct rmap_arena *a, rmap_mm_t mm)
{
	uint64_t target = tl_file_key(NONLIN_INO, 40);
	struct tl_vmas v;
	struct tl_events ev;

	tl_map_file(a, mm, NONLIN, 2 * CLUSTER_PAGES, TL_SHARED_FLAGS,
		    NONLIN_INO, 0);
	REQUIRE_OK(rmap_remap_file_pages(a, mm, NONLIN, TL_PAGE, 40));
	v = tl_vmas(a, mm);
	REQUIRE(tl_vma_at(&v, NONLIN) != NULL);
	CHECK(tl_vma_at(&v, NONLIN)->flags & RMAP_VM_NONLINEAR);
	REQUIRE_OK(rmap_fault(a, mm, NONLIN, target, 0));
	for (unsigned i = 1; i < 8; i++)
		tl_fault_file(a, mm, NONLIN, i, NONLIN_INO, 0, 0);
	tl_fault_file(a, mm, NONLIN, CLUSTER_PAGES + 1, NONLIN_INO, 0, 0);
	CHECK_EQ(tl_pte(a, mm, NONLIN).young, 1);
	CHECK_CLEAN(a);

	tl_events_start(&ev);
	CHECK_EQ(tl_unmap_locked(a, target), SWAP_AGAIN);
	CHECK_EQ(tl_mapcount(a, target), 1);
	CHECK_EQ(tl_pte(a, mm, NONLIN).young, 0);
	CHECK_EQ(tl_unmap_locked(a, target), SWAP_SUCCESS);
	tl_events_stop();
	CHECK_EQ(ev.n[RMAP_EV_UNMAP_RESULT], 2);
	CHECK_EQ(ev.last[RMAP_EV_UNMAP_RESULT].value, SWAP_SUCCESS);

	CHECK_EQ(tl_mapcount(a, target), 0);
	CHECK_EQ(tl_pte(a, mm, NONLIN).kind, RMAP_PTE_FILE);
	CHECK_EQ(tl_pte(a, mm, NONLIN + TL_PAGE).kind, RMAP_PTE_NONE);
	CHECK_EQ(tl_mapcount(a, tl_file_key(NONLIN_INO, 1)), 0);
	CHECK_EQ(tl_count_ptes(a, mm, NONLIN, NONLIN + CLUSTER_PAGES * TL_PAGE),
		 0);
	CHECK_EQ(tl_mapcount(a, tl_file_key(NONLIN_INO, CLUSTER_PAGES + 1)), 1);
	CHECK_CLEAN(a);

	/* Faulting the file pte brings the same offset back. */
	REQUIRE_OK(rmap_fault(a, mm, NONLIN, target, 0));
	CHECK_EQ(tl_mapcount(a, target), 1);
	CHECK_EQ(tl_pte(a, mm, NONLIN).kind, RMAP_PTE_PRESENT);
	CHECK_CLEAN(a);
}

struct walk_seen {
	uint64_t addr[64];
	int n, unordered;
};

static void walk_record(void *ctx, uint64_t addr, const struct rmap_pte_info *pte)
{
	struct walk_seen *w = ctx;

	(void)pte;
	if (w->n && addr <= w->addr[w->n - 1])
		w->unordered = 1;
	if (w->n < 64)
		w->addr[w->n] = addr;
	w->n++;
}

#define BITMAP_PAGES	2048

/* rmap_pte_bitmap over the same range (if a bitmap can hold it): @want bits, theirs. */
static void check_bitmap(struct rmap_arena *a, rmap_mm_t mm, const uint64_t *pte, int n,
			 uint64_t start, uint64_t end, int want)
{
	uint64_t bits[BITMAP_PAGES / 64 + 1], base = start & ~(TL_PAGE - 1);
	long got;
	int set = 0, ok = 1;

	if (start >= end || end - base > BITMAP_PAGES * TL_PAGE)
		return;
	got = rmap_pte_bitmap(a, mm, start, end, bits);
	for (uint64_t i = 0; i < (end - base + TL_PAGE - 1) / TL_PAGE; i++)
		set += (bits[i / 64] >> (i % 64)) & 1;
	for (int i = 0; i < n; i++)
		if (pte[i] + TL_PAGE > start && pte[i] < end)
			ok &= (bits[(pte[i] - base) / TL_PAGE / 64] >> ((pte[i] - base) / TL_PAGE % 64)) & 1;
	if (got != want || set != want || !ok)
		TL_FAIL("bitmap [%#llx, %#llx): %ld counted, %d bits set, %d expected",
			(unsigned long long)start, (unsigned long long)end, got, set, want);
}

/*
 * rmap_walk_ptes(start, end) must see exactly the ptes of @pte[] whose page
 * meets [start, end), in address order; none if start >= end; and
 * rmap_pte_bitmap must mark the same.
 */
static void check_walk(struct rmap_arena *a, rmap_mm_t mm, const uint64_t *pte, int n,
		       uint64_t start, uint64_t end)
{
	struct walk_seen w = { .n = 0 };
	int want = 0, ok = 1;

	CHECK_EQ(rmap_walk_ptes(a, mm, start, end, walk_record, &w), w.n);
	for (int i = 0; i < n && start < end; i++) {
		if (pte[i] + TL_PAGE <= start || pte[i] >= end)
			continue;
		ok &= want < w.n && want < 64 && w.addr[want] == pte[i];
		want++;
	}
	if (!ok || w.n != want || w.unordered)
		TL_FAIL("walk [%#llx, %#llx): %d ptes seen, %d expected",
			(unsigned long long)start, (unsigned long long)end, w.n, want);
	check_bitmap(a, mm, pte, n, start, end, want);
}

/* An mm of its own: only these ptes may show up. */
static void walk_ranges(struct rmap_arena *a)
{
	static const int gib_off[] = { -520, -513, -512, -511, -9, -8, -7, -1,
				       0, 1, 7, 8, 15, 16, 511, 512, 519 };
	uint64_t pte[32], pt[200];
	int n = 0, npt = 0;
	rmap_mm_t mm = tl_mm(a, 301), child;
	uint64_t rnd = 1;

	tl_map_anon(a, mm, GIB - 520 * TL_PAGE, 1040, 0);
	tl_map_anon(a, mm, PGDIR - 8 * TL_PAGE, 16, 0);
	tl_map_anon(a, mm, VA_TOP - 16 * TL_PAGE, 16, 0);
	for (unsigned i = 0; i < sizeof(gib_off) / sizeof(gib_off[0]); i++)
		pte[n++] = GIB + gib_off[i] * (int64_t)TL_PAGE;
	pte[n++] = PGDIR - 8 * TL_PAGE;
	pte[n++] = PGDIR - TL_PAGE;
	pte[n++] = PGDIR;
	pte[n++] = PGDIR + 7 * TL_PAGE;
	pte[n++] = VA_TOP - 16 * TL_PAGE;
	pte[n++] = VA_TOP - TL_PAGE;
	for (int i = 0; i < n; i++)
		REQUIRE_OK(rmap_fault(a, mm, pte[i], WKEY(i), RMAP_FAULT_WRITE | RMAP_FAULT_ANON));

	/* range ends at and around every pte, level boundary and the limits */
	for (int i = 0; i < n; i++) {
		pt[npt++] = pte[i];
		pt[npt++] = pte[i] + 1;
		pt[npt++] = pte[i] + TL_PAGE - 1;
		pt[npt++] = pte[i] + TL_PAGE;
		pt[npt++] = pte[i] - 1;
	}
	pt[npt++] = 0;
	pt[npt++] = GIB - 512 * TL_PAGE;
	pt[npt++] = GIB;
	pt[npt++] = PGDIR;
	pt[npt++] = VA_TOP;
	pt[npt++] = 1ull << 48;
	pt[npt++] = UINT64_MAX;
	for (int i = 0; i < npt; i++)
		for (int j = 0; j < npt; j++)
			if (i == j || (rnd = rnd * 6364136223846793005ull + 1) >> 61 == 0)
				check_walk(a, mm, pte, n, pt[i], pt[j]);

	/* fork copies every pte, and only those */
	REQUIRE_OK(rmap_dup_mmap(a, mm, 302, 0, &child));
	check_walk(a, child, pte, n, 0, UINT64_MAX);
	for (int i = 0; i < n; i++)
		CHECK_EQ(tl_mapcount(a, WKEY(i)), 2);
	CHECK_EQ(rmap_mm_rss(a, child), n);
	REQUIRE_OK(rmap_exit_mmap(a, child, RMAP_CAUSE_EXIT));

	REQUIRE_OK(rmap_munmap(a, mm, GIB - 520 * TL_PAGE, GIB + 520 * TL_PAGE, RMAP_CAUSE_MUNMAP));
	REQUIRE_OK(rmap_munmap(a, mm, PGDIR - 8 * TL_PAGE, PGDIR + 8 * TL_PAGE, RMAP_CAUSE_MUNMAP));
	REQUIRE_OK(rmap_munmap(a, mm, VA_TOP - 16 * TL_PAGE, VA_TOP, RMAP_CAUSE_MUNMAP));
	check_walk(a, mm, pte, 0, 0, UINT64_MAX);
	REQUIRE_OK(rmap_exit_mmap(a, mm, RMAP_CAUSE_EXIT));
	CHECK_CLEAN(a);
}

int main(int argc, char **argv)
{
	struct tl_arena t;
	struct rmap_arena *a = tl_arena_open(&t, tl_mode_arg(argc, argv));
	rmap_mm_t mm = tl_mm(a, 300);

	munmap_splits(a, mm);
	mremap_keeps_index(a, mm);
	nonlinear_cluster_unmap(a, mm);
	walk_ranges(a);
	REQUIRE_OK(rmap_exit_mmap(a, mm, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_CLEAN(a);
	tl_arena_close(&t);
	return tl_exit_status();
}
