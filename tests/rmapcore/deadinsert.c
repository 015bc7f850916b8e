/* SPDX-License-Identifier: MIT */
/*
 * deadinsert.c - a process SIGKILLed inside rmap_page_lookup, after taking
 * a page index and before publishing it in the hash (faults_kill_cowstorm's
 * leftover: a page with key 0 at mapcount 1 and no pte, INV-1 and INV-2).
 * The state such a kill leaves is built by hand, store for store: the index
 * taken from the pool, its struct page never initialised, the hash slot
 * claimed in the name of a thread that is gone.  Then a lookup that meets
 * the claimed slot must take it back (not spin for ever), and
 * rmap_reap_orphan_pages must free the orphan so the checker is clean.
 * White-box: it includes rmapcore's internal.h.  Usage: deadinsert MODE
 */
#include <sys/wait.h>

#include "internal.h"
#include "testlib.h"

#define ANON_START	0x50000000ull
#define KEY_LIVE	0x1000
#define KEY_RACED	0x2000		/* the key the killed inserter was creating */
#define KEY_UNCLAIMED	0x3000		/* killed after the claim, before the index */

/* A tid that no thread has any more: a child that exited and was waited for. */
static uint32_t dead_tid(void)
{
	pid_t p = fork();
	int st;

	REQUIRE(p >= 0);
	if (p == 0)
		_exit(0);
	REQUIRE(waitpid(p, &st, 0) == p);
	return (uint32_t)p;
}

/* The kill point: what page_hash's insert had done when SIGKILL came. */
static void claim_as_dead(struct rmap_arena *a, uint64_t key, uint32_t tid)
{
	uint32_t *home = page_hash_home(a, key);

	REQUIRE(*home == 0);
	*home = HASH_BUSY_BIT | tid;
}

static void fault(struct rmap_arena *a, rmap_mm_t mm, unsigned n, uint64_t key)
{
	REQUIRE_OK(rmap_fault(a, mm, ANON_START + n * TL_PAGE, key,
			      RMAP_FAULT_ANON | RMAP_FAULT_WRITE));
}

int main(int argc, char **argv)
{
	enum rmap_mode mode = tl_mode_arg(argc, argv);
	struct tl_arena t;
	struct rmap_arena *a = tl_arena_open(&t, mode);
	rmap_mm_t mm = tl_mm(a, 100);
	uint32_t tid = dead_tid(), orphan;

	tl_map_anon(a, mm, ANON_START, 4, 0);
	fault(a, mm, 0, KEY_LIVE);
	orphan = page_alloc_index(a);
	REQUIRE(orphan != 0);
	claim_as_dead(a, KEY_RACED, tid);
	/* All zeroes: in the -1-biased modes that reads as one mapping. */
	CHECK_EQ(rmap_page_mapcount(a, orphan), mode == RMAP_LOCKED ? 0 : 1);
	if (mode != RMAP_LOCKED)
		CHECK(rmap_check(a, NULL, 0) > 0);

	/* The same frame faulted in by a live process: waits, then takes the slot. */
	fault(a, mm, 1, KEY_RACED);
	CHECK_EQ(rmap_locks_broken(a), 1);
	CHECK_EQ(tl_mapcount(a, KEY_RACED), 1);
	CHECK_EQ(tl_nr_mapped(a), 2);

	/* At quiescence the supervisor frees the orphan and empties claimed slots. */
	claim_as_dead(a, KEY_UNCLAIMED, tid);
	CHECK_EQ(rmap_reap_orphan_pages(a), 1);
	CHECK_EQ(rmap_page_mapcount(a, orphan), 0);
	CHECK_EQ(*page_hash_home(a, KEY_UNCLAIMED), 0);
	CHECK_EQ(rmap_page_find(a, KEY_UNCLAIMED), 0);
	CHECK_EQ(rmap_reap_orphan_pages(a), 0);
	CHECK_CLEAN(a);

	REQUIRE_OK(rmap_exit_mmap(a, mm, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_CLEAN(a);
	tl_arena_close(&t);
	return tl_exit_status();
}
