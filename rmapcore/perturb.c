/* SPDX-License-Identifier: MIT */
/*
 * perturb.c - racier equipment (issue 5): at each race window of spec
 * section 5, a seeded random pause (spin or sched_yield) widens the window,
 * and a per-page "window open" bit lets the conflicting side count a real
 * hit: it entered its operation while the window was open.
 *
 * Off (seed 0), every window costs one predictable branch on a read-mostly
 * word of the arena header (WINDOW_* in internal.h).
 */
#include <sched.h>
#include <x86intrin.h>

#include "internal.h"

static __thread uint64_t rng_state, rng_seed;

static uint64_t next_random(struct rmap_arena *a)
{
	uint64_t seed = LOAD(&a->perturb_seed);

	if (rng_seed != seed) {
		rng_seed = seed;
		rng_state = seed ^ ((uint64_t)current_tid() * 0x9e3779b97f4a7c15ull);
		if (!rng_state)
			rng_state = 1;
	}
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * A short pause: yield a quarter of the time, else spin up to ~2000 pauses.
 * Under a spinlock only one window in eight pauses: copy_page_range opens a
 * window per page with two page_table_locks held, and holders paused at
 * every page (descheduled among a hundred runnable processes when they
 * yield) held page_table_lock for 300 ms.  N's vmscan spins where N2
 * trylocks, so it waited 9 s out of 10 and lockless-rcu hit no reclaim
 * window.  The kernel never sleeps there; the few yields left keep the
 * two reclaim threads on the CPU, which the lockless windows need.
 */
static void perturb_delay(struct rmap_arena *a)
{
	uint64_t r = next_random(a);
	unsigned spins = (unsigned)(r >> 8) % 2000;

	if (spinlocks_held() && (r & 0x70) != 0)
		return;
	if ((r & 3) == 0) {
		sched_yield();
		return;
	}
	while (spins--)
		_mm_pause();
}

void perturb_window(struct rmap_arena *a, struct page *p, enum rmap_race race)
{
	__atomic_fetch_or(&p->window, 1u << race, __ATOMIC_SEQ_CST);
	perturb_delay(a);
}

void perturb_close(struct rmap_arena *a, struct page *p, enum rmap_race race)
{
	(void)a;
	__atomic_fetch_and(&p->window, ~(1u << race), __ATOMIC_SEQ_CST);
}

/* The other side of a window: count a hit if it is open on @page right now. */
void perturb_check(struct rmap_arena *a, rmap_page_t page, enum rmap_race race)
{
	if (__atomic_load_n(&PG(a, page)->window, __ATOMIC_SEQ_CST) & (1u << race))
		note_race(a, race, page);
}

void rmap_perturb(struct rmap_arena *a, uint64_t seed)
{
	if (a)
		__atomic_store_n(&a->perturb_seed, seed, __ATOMIC_SEQ_CST);
}
