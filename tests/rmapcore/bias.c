/* SPDX-License-Identifier: MIT */
/*
 * bias.c - the -1 bias and exactly-once transition detection (spec R2):
 * a new page is unmapped, the first map and the last unmap are each
 * reported exactly once however many ptes come and go in between, and
 * nr_mapped follows them up and down.  Usage: bias MODE
 */
#include "testlib.h"

#define FILE_INO	7
#define NPAGES		4
#define NMM		3
#define VMA_START	0x40000000ull
#define ANON_START	0x50000000ull

static rmap_mm_t mms[NMM];

static void map_all(struct rmap_arena *a)
{
	for (int m = 0; m < NMM; m++) {
		mms[m] = tl_mm(a, 100 + m);
		tl_map_file(a, mms[m], VMA_START, NPAGES, TL_SHARED_FLAGS,
			    FILE_INO, 0);
	}
}

/* A page the rmap has never seen is unmapped, whatever its encoding. */
static void new_page_is_unmapped(struct rmap_arena *a)
{
	uint64_t key = tl_file_key(FILE_INO, 0);
	rmap_page_t p = rmap_page_lookup(a, key);
	struct rmap_page_info pi;

	REQUIRE(p != 0);
	CHECK_EQ(rmap_page_find(a, key), p);
	CHECK_EQ(rmap_page_lookup(a, key), p);
	CHECK_EQ(rmap_page_mapcount(a, p), 0);
	REQUIRE_OK(rmap_page_info(a, p, &pi));
	CHECK_EQ(pi.mapcount, 0);
	CHECK_EQ(pi.key, key);
	CHECK_EQ(pi.anon, 0);
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_EQ(tl_total(a, RMAP_EV_MAP_FIRST), 0);
	CHECK_CLEAN(a);
}

/* Three ptes come and go: one MAP_FIRST, one UNMAP_LAST. */
static void first_and_last_once(struct rmap_arena *a)
{
	uint64_t key = tl_file_key(FILE_INO, 0);
	struct tl_events ev;

	tl_events_start(&ev);
	tl_fault_file(a, mms[0], VMA_START, 0, FILE_INO, 0, 0);
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST], 1);
	CHECK_EQ(ev.last[RMAP_EV_MAP_FIRST].old_mapcount, 0);
	CHECK_EQ(ev.last[RMAP_EV_MAP_FIRST].new_mapcount, 1);
	CHECK_EQ(ev.last[RMAP_EV_MAP_FIRST].frame, key);
	CHECK_EQ(ev.by_cause[RMAP_EV_MAP_FIRST][RMAP_CAUSE_FAULT], 1);
	CHECK_EQ(tl_nr_mapped(a), 1);

	for (int m = 1; m < NMM; m++)
		tl_fault_file(a, mms[m], VMA_START, 0, FILE_INO, 0, 0);
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST], 1);
	CHECK_EQ(ev.n[RMAP_EV_ADD], NMM - 1);
	CHECK_EQ(ev.last[RMAP_EV_ADD].new_mapcount, NMM);
	CHECK_EQ(tl_mapcount(a, key), NMM);
	CHECK_EQ(tl_nr_mapped(a), 1);
	CHECK_CLEAN(a);

	for (int m = NMM - 1; m > 0; m--)
		REQUIRE_OK(rmap_zap_page(a, mms[m], VMA_START,
					 RMAP_CAUSE_MUNMAP));
	CHECK_EQ(ev.n[RMAP_EV_REMOVE], NMM - 1);
	CHECK_EQ(ev.n[RMAP_EV_UNMAP_LAST], 0);
	CHECK_EQ(tl_mapcount(a, key), 1);
	CHECK_EQ(tl_nr_mapped(a), 1);

	REQUIRE_OK(rmap_zap_page(a, mms[0], VMA_START, RMAP_CAUSE_MUNMAP));
	CHECK_EQ(ev.n[RMAP_EV_UNMAP_LAST], 1);
	CHECK_EQ(ev.by_cause[RMAP_EV_UNMAP_LAST][RMAP_CAUSE_MUNMAP], 1);
	CHECK_EQ(ev.last[RMAP_EV_UNMAP_LAST].old_mapcount, 1);
	CHECK_EQ(ev.last[RMAP_EV_UNMAP_LAST].new_mapcount, 0);
	CHECK_EQ(tl_mapcount(a, key), 0);
	CHECK_EQ(tl_nr_mapped(a), 0);
	tl_events_stop();

	/* The arena-wide totals saw what this thread's sink saw. */
	CHECK_EQ(tl_total(a, RMAP_EV_MAP_FIRST), 1);
	CHECK_EQ(tl_total(a, RMAP_EV_UNMAP_LAST), 1);
	CHECK_EQ(tl_cause_total(a, RMAP_EV_UNMAP_LAST, RMAP_CAUSE_MUNMAP), 1);
	CHECK_CLEAN(a);
}

static uint64_t maplock_acquisitions(const struct rmap_arena *a)
{
	struct rmap_lock_stat ls[RMAP_LC_NR];

	rmap_lock_stats(a, ls);
	return ls[RMAP_LC_PG_MAPLOCK].acquisitions;
}

/*
 * page_dup_rmap/page_remove_rmap pairs on a mapped page never transition;
 * L takes PG_maplock for each, N* never touch it.
 */
static void dup_remove_pairs(struct rmap_arena *a, enum rmap_mode mode)
{
	uint64_t key = tl_file_key(FILE_INO, 1);
	uint64_t first0, last0, maplocks0;
	rmap_page_t p;
	struct tl_events ev;

	tl_fault_file(a, mms[0], VMA_START, 1, FILE_INO, 0, 0);
	p = rmap_page_find(a, key);
	REQUIRE(p != 0);
	first0 = tl_total(a, RMAP_EV_MAP_FIRST);
	last0 = tl_total(a, RMAP_EV_UNMAP_LAST);
	maplocks0 = maplock_acquisitions(a);

	tl_events_start(&ev);
	rmap_pte_lock(a, mms[0]);
	for (int i = 0; i < 1000; i++)
		page_dup_rmap(a, p);
	rmap_pte_unlock(a, mms[0]);
	CHECK_EQ(rmap_page_mapcount(a, p), 1001);
	rmap_pte_lock(a, mms[0]);
	for (int i = 0; i < 1000; i++)
		page_remove_rmap(a, p);
	rmap_pte_unlock(a, mms[0]);
	tl_events_stop();

	CHECK_EQ(maplock_acquisitions(a) - maplocks0,
		 mode == RMAP_LOCKED ? 2000 : 0);
	CHECK_EQ(ev.n[RMAP_EV_DUP], 1000);
	CHECK_EQ(ev.n[RMAP_EV_REMOVE], 1000);
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST] + ev.n[RMAP_EV_UNMAP_LAST], 0);
	CHECK_EQ(rmap_page_mapcount(a, p), 1);
	CHECK_EQ(tl_total(a, RMAP_EV_MAP_FIRST), first0);
	CHECK_EQ(tl_total(a, RMAP_EV_UNMAP_LAST), last0);
	CHECK_EQ(tl_nr_mapped(a), 1);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_zap_page(a, mms[0], VMA_START + TL_PAGE,
				 RMAP_CAUSE_MADVISE));
	CHECK_EQ(tl_nr_mapped(a), 0);
}

/* Many map/unmap cycles of several pages by several mms: exactly once each. */
static void cycles(struct rmap_arena *a)
{
	uint64_t first0 = tl_total(a, RMAP_EV_MAP_FIRST);
	uint64_t last0 = tl_total(a, RMAP_EV_UNMAP_LAST);
	const int rounds = 100;

	for (int r = 0; r < rounds; r++) {
		for (int m = 0; m < NMM; m++)
			for (unsigned i = 0; i < NPAGES; i++)
				tl_fault_file(a, mms[m], VMA_START, i,
					      FILE_INO, 0, 0);
		CHECK_EQ(tl_nr_mapped(a), NPAGES);
		for (int m = 0; m < NMM; m++)
			REQUIRE_OK(rmap_zap_range(a, mms[m], VMA_START,
						  VMA_START + NPAGES * TL_PAGE,
						  RMAP_CAUSE_MADVISE));
		CHECK_EQ(tl_nr_mapped(a), 0);
	}
	CHECK(rmap_nr_mapped_peak(a) >= NPAGES);
	CHECK_EQ(tl_total(a, RMAP_EV_MAP_FIRST) - first0, rounds * NPAGES);
	CHECK_EQ(tl_total(a, RMAP_EV_UNMAP_LAST) - last0, rounds * NPAGES);
	CHECK_CLEAN(a);
}

/* An anon first map also sets mapping and index (page_add_anon_rmap). */
static void anon_first_map(struct rmap_arena *a)
{
	uint64_t key = 0xa000001;
	uint64_t addr = ANON_START + 2 * TL_PAGE;
	struct rmap_page_info pi;
	struct tl_events ev;

	tl_map_anon(a, mms[0], ANON_START, 4, 0);
	tl_events_start(&ev);
	REQUIRE_OK(rmap_fault(a, mms[0], addr, key,
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	tl_events_stop();
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST], 1);
	CHECK_EQ(ev.n[RMAP_EV_ANON_MAPPING_SET], 1);
	CHECK_EQ(ev.last[RMAP_EV_MAP_FIRST].anon, 1);
	CHECK_EQ(ev.last[RMAP_EV_MAP_FIRST].vaddr, addr);
	pi = tl_info(a, key);
	CHECK_EQ(pi.anon, 1);
	CHECK(pi.mapping != 0);
	CHECK_EQ(pi.index, addr / TL_PAGE);
	CHECK_EQ(pi.mapcount, 1);
	CHECK_EQ(tl_nr_mapped(a), 1);
	CHECK_EQ(rmap_mm_rss(a, mms[0]), 1);
	CHECK_CLEAN(a);
}

static void exit_all(struct rmap_arena *a)
{
	for (int m = 0; m < NMM; m++)
		REQUIRE_OK(rmap_exit_mmap(a, mms[m], RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_EQ(rmap_mm_next(a, 0), 0);
	CHECK_CLEAN(a);
}

int main(int argc, char **argv)
{
	enum rmap_mode mode = tl_mode_arg(argc, argv);
	struct tl_arena t;
	struct rmap_arena *a = tl_arena_open(&t, mode);

	new_page_is_unmapped(a);
	map_all(a);
	first_and_last_once(a);
	dup_remove_pairs(a, mode);
	cycles(a);
	anon_first_map(a);
	exit_all(a);
	tl_arena_close(&t);
	return tl_exit_status();
}
