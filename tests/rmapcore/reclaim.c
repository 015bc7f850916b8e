/* SPDX-License-Identifier: MIT */
/*
 * reclaim.c - the vmscan side of the rmap (spec §3.7, §3.8, §4.3):
 * page_referenced counts and clears young ptes and keeps its page lock
 * balanced (R7), try_to_unmap's SWAP_SUCCESS / AGAIN / FAIL cases, anon
 * pages swapped out by refill_inactive_zone + shrink_list, and INV-9: the
 * last unmap clears an anon mapping in L and leaves it (stale) in N*.
 * Usage: reclaim MODE
 */
#include "testlib.h"

#define REF	0x90000000ull
#define MLOCK	0x91000000ull
#define ANON	0x92000000ull
#define ANON_LOCKED	0x93000000ull
#define REF_INO		30
#define MLOCK_INO	31
#define NMM		3

#define ANON_KEY(i)	(0xa200000ull + (i))

static enum rmap_mode mode;

static int page_locked(struct rmap_arena *a, uint64_t key)
{
	return !!(tl_info(a, key).flags & RMAP_PG_LOCKED);
}

static uint64_t race_total(struct rmap_arena *a, enum rmap_race r)
{
	uint64_t t[RMAP_RACE_NR];

	rmap_race_totals(a, t);
	return t[r];
}

/* One file page mapped young by NMM mms. */
static void referenced(struct rmap_arena *a, rmap_mm_t mm[NMM])
{
	uint64_t key = tl_file_key(REF_INO, 0);
	rmap_page_t p;
	uint64_t busy0;
	int r;

	for (int m = 0; m < NMM; m++) {
		tl_map_file(a, mm[m], REF, 2, TL_SHARED_FLAGS, REF_INO, 0);
		tl_fault_file(a, mm[m], REF, 0, REF_INO, 0, 0);
	}
	p = rmap_page_find(a, key);
	REQUIRE(p != 0);

	/* +1 per young pte, and perhaps +1 for PG_referenced. */
	r = page_referenced(a, p, 0);
	CHECK(r >= NMM && r <= NMM + 1);
	CHECK_EQ(page_locked(a, key), 0);
	CHECK_EQ(page_referenced(a, p, 0), 0);
	for (int m = 0; m < NMM; m++)
		CHECK_EQ(tl_pte(a, mm[m], REF).young, 0);

	/* An access makes the pte young again. */
	tl_fault_file(a, mm[0], REF, 0, REF_INO, 0, 0);
	CHECK_EQ(tl_pte(a, mm[0], REF).young, 1);

	/*
	 * R7: with the page lock busy, N* counts the page referenced without
	 * walking (the young bit survives); L walks under page_map_lock.
	 */
	busy0 = race_total(a, RMAP_RACE_R7_PAGE_LOCK_BUSY);
	rmap_lock_page(a, p);
	CHECK_EQ(page_referenced(a, p, 0), 1);
	CHECK_EQ(tl_pte(a, mm[0], REF).young, mode == RMAP_LOCKED ? 0 : 1);
	CHECK_EQ(race_total(a, RMAP_RACE_R7_PAGE_LOCK_BUSY) - busy0,
		 mode == RMAP_LOCKED ? 0 : 1);
	CHECK_EQ(page_referenced(a, p, 1), mode == RMAP_LOCKED ? 0 : 1);
	rmap_unlock_page(a, p);
	CHECK_EQ(page_locked(a, key), 0);
	CHECK_EQ(tl_pte(a, mm[0], REF).young, 0);

	/* No young pte left: every mapping goes in one try_to_unmap. */
	CHECK_EQ(tl_unmap_locked(a, key), SWAP_SUCCESS);
	CHECK_EQ(tl_mapcount(a, key), 0);
	for (int m = 0; m < NMM; m++)
		CHECK_EQ(tl_pte(a, mm[m], REF).kind, RMAP_PTE_NONE);
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_CLEAN(a);
}

static void swap_fail_and_again(struct rmap_arena *a, rmap_mm_t mm)
{
	uint64_t young = tl_file_key(REF_INO, 1);
	uint64_t locked = tl_file_key(MLOCK_INO, 0);
	uint64_t missed0;
	rmap_page_t p;
	struct tl_events ev;

	tl_events_start(&ev);
	/* A young pte fails the first time (its young bit is cleared). */
	tl_fault_file(a, mm, REF, 1, REF_INO, 0, 0);
	CHECK_EQ(tl_unmap_locked(a, young), SWAP_FAIL);
	CHECK_EQ(tl_mapcount(a, young), 1);
	CHECK_EQ(tl_pte(a, mm, REF + TL_PAGE).young, 0);
	CHECK_EQ(tl_unmap_locked(a, young), SWAP_SUCCESS);
	CHECK_EQ(tl_mapcount(a, young), 0);

	/* VM_LOCKED always fails. */
	tl_map_file(a, mm, MLOCK, 1, TL_SHARED_FLAGS | RMAP_VM_LOCKED,
		    MLOCK_INO, 0);
	tl_fault_file(a, mm, MLOCK, 0, MLOCK_INO, 0, 0);
	CHECK_EQ(tl_unmap_locked(a, locked), SWAP_FAIL);
	CHECK_EQ(tl_unmap_locked(a, locked), SWAP_FAIL);
	CHECK_EQ(tl_mapcount(a, locked), 1);
	tl_events_stop();
	CHECK_EQ(ev.n[RMAP_EV_UNMAP_RESULT], 4);
	CHECK_EQ(ev.last[RMAP_EV_UNMAP_RESULT].value, SWAP_FAIL);

	/* L and N2 only trylock page_table_lock: a held one means AGAIN. */
	if (mode == RMAP_LOCKLESS_RCU)
		return;
	tl_fault_file(a, mm, REF, 1, REF_INO, 0, 0);
	CHECK_EQ(tl_unmap_locked(a, young), SWAP_FAIL);	/* clears young */
	missed0 = race_total(a, RMAP_RACE_R10_TRYLOCK_MISSED);
	p = rmap_page_find(a, young);
	rmap_lock_page(a, p);
	rmap_pte_lock(a, mm);
	CHECK_EQ(try_to_unmap(a, p), SWAP_AGAIN);
	rmap_pte_unlock(a, mm);
	rmap_unlock_page(a, p);
	CHECK(race_total(a, RMAP_RACE_R10_TRYLOCK_MISSED) > missed0);
	CHECK_EQ(tl_mapcount(a, young), 1);
	CHECK_EQ(tl_unmap_locked(a, young), SWAP_SUCCESS);
	CHECK_CLEAN(a);
}

/*
 * Anon pages reach try_to_unmap through the LRU: refill_inactive_zone
 * deactivates them once their young bits are gone, shrink_list adds them
 * to swap cache and unmaps them into swap ptes.  The mlocked one fails.
 */
static void swap_out_anon(struct rmap_arena *a, rmap_mm_t mm)
{
	struct rmap_scan_result total = { 0 };
	struct tl_events ev;
	int round;

	tl_map_anon(a, mm, ANON, 2, 0);
	tl_map_anon(a, mm, ANON_LOCKED, 1, RMAP_VM_LOCKED);
	for (unsigned i = 0; i < 2; i++)
		REQUIRE_OK(rmap_fault(a, mm, ANON + i * TL_PAGE, ANON_KEY(i),
				      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	REQUIRE_OK(rmap_fault(a, mm, ANON_LOCKED, ANON_KEY(2),
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));

	tl_events_start(&ev);
	for (round = 0; round < 8; round++) {
		struct rmap_scan_result r = { 0 }, s = { 0 };

		refill_inactive_zone(a, 1024, &r);
		shrink_list(a, 1024, &s);
		total.unmap_success += s.unmap_success;
		total.unmap_fail += s.unmap_fail;
		total.swapped_out += s.swapped_out;
		if (tl_pte(a, mm, ANON).kind == RMAP_PTE_SWAP &&
		    tl_pte(a, mm, ANON + TL_PAGE).kind == RMAP_PTE_SWAP &&
		    total.unmap_fail > 0)
			break;
	}
	tl_events_stop();
	REQUIRE(round < 8);
	CHECK(total.swapped_out >= 2);
	CHECK(total.unmap_success >= 2);
	CHECK_EQ(tl_pte(a, mm, ANON_LOCKED).kind, RMAP_PTE_PRESENT);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(2)), 1);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(0)), 0);
	CHECK_EQ(tl_nr_mapped(a), 2);	/* the mlocked anon + the mlocked file */

	/* INV-9: L clears the anon mapping at the last unmap, N* does not. */
	CHECK_EQ(ev.n[RMAP_EV_MAPPING_CLEARED], mode == RMAP_LOCKED ? 2 : 0);
	for (unsigned i = 0; i < 2; i++) {
		struct rmap_page_info pi = tl_info(a, ANON_KEY(i));

		/* Unmapped but alive: the swap pte keeps it in swap cache. */
		CHECK(pi.count > 0);
		CHECK(pi.flags & RMAP_PG_SWAPCACHE);
		CHECK_EQ(pi.mapcount, 0);
		CHECK_EQ(pi.anon, mode == RMAP_LOCKED ? 0 : 1);
		CHECK_EQ(pi.mapping != 0, mode == RMAP_LOCKED ? 0 : 1);
	}
	CHECK_CLEAN(a);

	/* do_swap_page: the same frame comes back, mapping and index set. */
	REQUIRE_OK(rmap_fault(a, mm, ANON, ANON_KEY(0), RMAP_FAULT_ANON));
	CHECK_EQ(tl_mapcount(a, ANON_KEY(0)), 1);
	CHECK_EQ(tl_info(a, ANON_KEY(0)).anon, 1);
	CHECK_EQ(tl_info(a, ANON_KEY(0)).index, ANON / TL_PAGE);
	CHECK_EQ(tl_pte(a, mm, ANON).kind, RMAP_PTE_PRESENT);
	CHECK_CLEAN(a);
}

int main(int argc, char **argv)
{
	struct tl_arena t;
	struct rmap_arena *a;
	rmap_mm_t mm[NMM];

	mode = tl_mode_arg(argc, argv);
	a = tl_arena_open(&t, mode);
	for (int m = 0; m < NMM; m++)
		mm[m] = tl_mm(a, 400 + m);
	referenced(a, mm);
	swap_fail_and_again(a, mm[0]);
	swap_out_anon(a, mm[1]);
	for (int m = 0; m < NMM; m++)
		REQUIRE_OK(rmap_exit_mmap(a, mm[m], RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	/* The swap pte died, the page was freed: N* reset its stale mapping. */
	CHECK(tl_info(a, ANON_KEY(1)).count <= 0);
	CHECK_EQ(tl_info(a, ANON_KEY(1)).mapping, 0);
	CHECK_EQ(tl_total(a, RMAP_EV_MAPPING_RESET_AT_FREE) > 0,
		 mode != RMAP_LOCKED);
	CHECK_CLEAN(a);
	tl_arena_close(&t);
	return tl_exit_status();
}
