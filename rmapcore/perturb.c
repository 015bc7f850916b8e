/* SPDX-License-Identifier: MIT */
/*
 * perturb.c - racier equipment (issue 5): at each race window of spec
 * section 5, a seeded random pause (spin or short sleep) widens the window,
 * and a per-page "window open" bit lets the conflicting side count a real
 * hit: it entered its operation while the window was open.
 *
 * Off (seed 0), every window costs one predictable branch on a read-mostly
 * word of the arena header (WINDOW_* in internal.h).
 */
#include <time.h>
#include <x86intrin.h>

#include "internal.h"

static __thread uint64_t rng_state, rng_seed;

uint64_t perturb_random(struct rmap_arena *a)
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
 * A seeded pause at a window.  Under a spinlock it only spins (up to ~2000
 * pauses) and, in copy_page_range's per-pte R1 window, only one window in
 * eight pauses at all: fork holds two page_table_locks across the copy,
 * and holders descheduled there (by a yield, among a hundred runnable
 * processes) held them for 300 ms while N's vmscan, which spins where N2
 * trylocks, waited 9 s out of 10.  The first map's R4/R8 window and
 * try_to_unmap_one's R6 window spin three times longer: their other sides
 * (a second mapper or vmscan; another mm's remover of that very page) are
 * rare.  With no spinlock held (vmscan's R5/R7/R9
 * windows, truncation's page lock) the kernel may sleep: a quarter of the
 * pauses sleep up to 256 us, and R7's window always sleeps up to 1 ms,
 * since its other side needs a truncation of that very page.
 */
static void pause_in(struct rmap_arena *a, enum rmap_race race)
{
	uint64_t r = perturb_random(a);
	unsigned spins = (unsigned)(r >> 8) % 2000;
	struct timespec ts = { 0, 0 };

	if (spinlocks_held()) {
		if (race == RMAP_RACE_R1_DUP_VS_REMOVE && (r & 0x70) != 0)
			return;
		if (race == RMAP_RACE_R4_MAPPING_NOT_YET_SET || race == RMAP_RACE_R6_REMOVE_DURING_UNMAP)
			spins *= 3;
	} else if (race == RMAP_RACE_R7_PAGE_LOCK_BUSY) {
		ts.tv_nsec = (long)((r >> 32) % 1000) * 1000;
	} else if ((r & 3) == 0) {
		ts.tv_nsec = (long)((r >> 32) % 256) * 1000;
	}
	if (ts.tv_nsec) {
		nanosleep(&ts, NULL);
		return;
	}
	while (spins--)
		_mm_pause();
}

void perturb_pause(struct rmap_arena *a)
{
	pause_in(a, 0);
}

static struct thread_slot *own_slot(struct rmap_arena *a)
{
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);

	return shared ? NULL : s;	/* the overflow slot names nobody */
}

static rmap_page_t page_of(const struct rmap_arena *a, const struct page *p)
{
	return (rmap_page_t)(((const char *)p - (const char *)PG(a, 0)) / sizeof(*p));
}

void perturb_window(struct rmap_arena *a, struct page *p, enum rmap_race race)
{
	struct thread_slot *s = own_slot(a);

	/* who is inside, for the other side's hit detail */
	if (s) {
		STORE(&s->open_race, (uint16_t)race);
		STORE(&s->open_cause, (uint16_t)rmap_cur.cause);
		STORE_REL(&s->open_page, page_of(a, p));
	}
	__atomic_fetch_or(&p->window, 1u << race, __ATOMIC_SEQ_CST);
	pause_in(a, race);
}

void perturb_close(struct rmap_arena *a, struct page *p, enum rmap_race race)
{
	struct thread_slot *s = own_slot(a);

	__atomic_fetch_and(&p->window, ~(1u << race), __ATOMIC_SEQ_CST);
	if (s && LOAD(&s->open_page) == page_of(a, p) && LOAD(&s->open_race) == race)
		STORE(&s->open_page, 0);
}

/* The other side of a window: count a hit if it is open on @page right now. */
void perturb_check(struct rmap_arena *a, rmap_page_t page, enum rmap_race race)
{
	if (__atomic_load_n(&PG(a, page)->window, __ATOMIC_SEQ_CST) & (1u << race))
		note_race(a, race, page);
}

/*
 * What each mode's algorithm does with a hit (docs/races.md, per-race
 * table): N2/N tolerate or check what L serialises; only the broken
 * variants lose counts, and only N2 locks freed anon_vma memory.
 */
static enum rmap_race_outcome race_outcome(const struct rmap_arena *a, enum rmap_race race)
{
	switch (race) {
	case RMAP_RACE_R1_DUP_VS_REMOVE:
		return a->mode == RMAP_BROKEN_NONATOMIC || a->mode == RMAP_BROKEN_UNBIASED
		       ? RMAP_RACE_VIOLATION : RMAP_RACE_BENIGN;
	case RMAP_RACE_R3_STALE_MAPPING:
	case RMAP_RACE_R4_MAPPING_NOT_YET_SET:
	case RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN:
	case RMAP_RACE_R10_TRYLOCK_MISSED:
		return RMAP_RACE_BENIGN;
	case RMAP_RACE_R9_ANON_VMA_FREED:
	case RMAP_RACE_R9_STALE_REMAP_FREED:
		return RMAP_RACE_VIOLATION;
	default:	/* R6, R7, R8, R9 recheck and reuse: a check backs off */
		return RMAP_RACE_CAUGHT;
	}
}

/* The thread, other than the caller, with a window open on @page; or NULL. */
static const struct thread_slot *window_holder(struct rmap_arena *a, rmap_page_t page,
					       const struct thread_slot *self)
{
	uint32_t n = LOAD(&a->threads_claimed);

	if (n > a->cfg.max_threads)
		n = a->cfg.max_threads;
	for (uint32_t i = 1; i <= n; i++) {
		const struct thread_slot *s = (const struct thread_slot *)
			((const char *)a + a->off_threads + (uint64_t)i * sizeof(*s));
		if (s != self && LOAD_ACQ(&s->open_page) == page)
			return s;
	}
	return NULL;
}

/*
 * Fill @ev's outcome, and for the first RMAP_RACE_DETAILS hits of @race
 * its other side; returns 1 if the hit is one of those.
 */
int perturb_detail(struct rmap_arena *a, enum rmap_race race, rmap_page_t page, struct rmap_event *ev)
{
	const struct thread_slot *o;

	ev->outcome = (uint16_t)race_outcome(a, race);
	if (!perturb_on(a) || LOAD(&a->race_detailed[race]) >= RMAP_RACE_DETAILS ||
	    __atomic_fetch_add(&a->race_detailed[race], 1, __ATOMIC_RELAXED) >= RMAP_RACE_DETAILS)
		return 0;
	ev->detailed = 1;
	o = page ? window_holder(a, page, own_slot(a)) : NULL;
	if (o) {
		ev->other.pid = LOAD(&o->pid);
		ev->other.tid = LOAD(&o->tid);
		ev->other.stack = LOAD(&o->stack);
		ev->other.cause = LOAD(&o->open_cause);
		ev->other.window = LOAD(&o->open_race);
	} else if (page && race == RMAP_RACE_R7_PAGE_LOCK_BUSY) {
		/* no window: at least the page lock's holder */
		ev->other.tid = (int32_t)LOAD(&PG(a, page)->pagelock_owner);
	}
	return 1;
}

void rmap_set_caller_stack(struct rmap_arena *a, uint32_t stack)
{
	struct thread_slot *s;

	if (a && perturb_on(a) && (s = own_slot(a)))
		STORE(&s->stack, stack);
}

void rmap_perturb(struct rmap_arena *a, uint64_t seed)
{
	if (a)
		__atomic_store_n(&a->perturb_seed, seed, __ATOMIC_SEQ_CST);
}
