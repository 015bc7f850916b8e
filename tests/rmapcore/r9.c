/* SPDX-License-Identifier: MIT */
/*
 * r9.c - race R9 (spec section 5) at the rmapcore level, bounded in time.
 *
 * Exiter threads each map one fresh anon page in a fresh mm and exit that
 * mm at once (the last page_remove_rmap, then anon_vma_unlink frees the
 * anon_vma), over and over on a few frames; a vmscan thread runs
 * page_referenced on the page an exiter published, with perturbation on,
 * which widens the window between its read of page->mapping (and the 2/5
 * mapcount recheck) and spin_lock(&anon_vma->lock).
 *
 * lockless (2/5) must lock an anon_vma that was freed (its memory
 * poisoned) at least once before the time is up; lockless-rcu and locked
 * never may, and every mode must end with rmap_check() clean.  racelab
 * under the shim shows the same race end to end, but too rarely to assert
 * in a bounded ctest on a shared 2-core machine (docs/races.md).
 *
 * Usage: r9 MODE [SECONDS]   (default 8; lockless stops at its first hit)
 */
#include <pthread.h>
#include <time.h>

#include "testlib.h"

#define EXITERS		2
#define FRAMES		4	/* per exiter: the frame comes back to a new family */
#define ANON		0x70000000ull

static struct rmap_arena *arena;
static rmap_page_t published;	/* atomic: the page an exiter has mapped */
static int stop;		/* atomic */

static void *exiter(void *arg)
{
	long id = (long)arg;

	for (unsigned long i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		rmap_mm_t mm = tl_mm(arena, (int32_t)(1000 + id));
		uint64_t key = 0x100000 + (uint64_t)id * FRAMES + i % FRAMES;

		tl_map_anon(arena, mm, ANON, 1, 0);
		REQUIRE_OK(rmap_fault(arena, mm, ANON, key, RMAP_FAULT_ANON | RMAP_FAULT_WRITE));
		__atomic_store_n(&published, rmap_page_find(arena, key), __ATOMIC_RELEASE);
		REQUIRE_OK(rmap_exit_mmap(arena, mm, RMAP_CAUSE_EXIT));
	}
	return NULL;
}

static void *vmscan(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		rmap_page_t page = __atomic_load_n(&published, __ATOMIC_ACQUIRE);

		if (page)
			(void)page_referenced(arena, page, 0);
	}
	return NULL;
}

/*
 * The anon_vma free list is FIFO: with many free slots, a freed anon_vma
 * stays freed (poisoned, in 2/5) for many allocations instead of being
 * reused by the very next anon_vma_prepare.
 */
static void fill_free_list(unsigned n)
{
	rmap_mm_t mm[256];

	REQUIRE(n <= 256);
	for (unsigned i = 0; i < n; i++) {
		mm[i] = tl_mm(arena, (int32_t)(2000 + i));
		tl_map_anon(arena, mm[i], ANON, 1, 0);
		REQUIRE_OK(rmap_fault(arena, mm[i], ANON, 0x200000 + i, RMAP_FAULT_ANON));
	}
	for (unsigned i = 0; i < n; i++)
		REQUIRE_OK(rmap_exit_mmap(arena, mm[i], RMAP_CAUSE_EXIT));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t race_total(enum rmap_race race)
{
	uint64_t t[RMAP_RACE_NR];

	rmap_race_totals(arena, t);
	return t[race];
}

int main(int argc, char **argv)
{
	enum rmap_mode mode = tl_mode_arg(argc, argv);
	double seconds = argc > 2 ? atof(argv[2]) : 8, deadline = now_s() + seconds;
	pthread_t ex[EXITERS], scan;
	struct tl_arena t;

	arena = tl_arena_open(&t, mode);
	fill_free_list(256);
	rmap_perturb(arena, 0x2004);
	for (long i = 0; i < EXITERS; i++)
		REQUIRE(pthread_create(&ex[i], NULL, exiter, (void *)i) == 0);
	REQUIRE(pthread_create(&scan, NULL, vmscan, NULL) == 0);
	while (now_s() < deadline &&
	       !(mode == RMAP_LOCKLESS && race_total(RMAP_RACE_R9_ANON_VMA_FREED)))
		usleep(10000);	/* a poll of the counters, not a synchronization */
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < EXITERS; i++)
		pthread_join(ex[i], NULL);
	pthread_join(scan, NULL);
	rmap_perturb(arena, 0);

	printf("[%s] R9 recheck_unmapped %llu, reused %llu, freed_memory %llu, stale_remap_freed %llu\n",
	       tl_mode, (unsigned long long)race_total(RMAP_RACE_R9_RECHECK_UNMAPPED),
	       (unsigned long long)race_total(RMAP_RACE_R9_ANON_VMA_REUSED),
	       (unsigned long long)race_total(RMAP_RACE_R9_ANON_VMA_FREED),
	       (unsigned long long)race_total(RMAP_RACE_R9_STALE_REMAP_FREED));
	if (mode == RMAP_LOCKLESS)
		CHECK(race_total(RMAP_RACE_R9_ANON_VMA_FREED) >= 1);
	else
		CHECK_EQ(race_total(RMAP_RACE_R9_ANON_VMA_FREED), 0);
	CHECK_CLEAN(arena);
	tl_arena_close(&t);
	return tl_exit_status();
}
