/* SPDX-License-Identifier: MIT */
/*
 * steer.c - directed perturbation (issue 5): an actor that opens a window
 * whose other side is vmscan (the first map's R8 window, a truncation's
 * R7) publishes the page in the arena's open-windows table and waits,
 * bounded, until a reclaimer really examines it; the reclaim thread,
 * instead of sleeping between its batches, serves that table.  Random
 * pauses alone rarely line the two up: refill meets a page only after it
 * crossed the whole active list.  Every hit stays real: the reclaimer is
 * inside page_referenced while the other actor is inside its operation.
 *
 * Deadlocks: a waiter may hold page_table_lock (page_add_anon_rmap) but
 * never the page lock or a lock vmscan takes before it reports arrival,
 * and its wait is bounded anyway.  Off (perturbation off, or no reclaimer
 * serving), publishing costs one branch.
 */
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "internal.h"

/* How long an actor waits for a reclaimer (ns): under a spinlock, less. */
#define STEER_WAIT_SPINLOCK_NS	300000
#define STEER_WAIT_NS		2000000
/* How long try_to_unmap_one's R6 window waits for another remover. */
#define STEER_AWAIT_REMOVE_NS	1000000
/* How long the reclaimer's R7 window waits for the truncation's lock. */
#define STEER_FOLLOW_NS		2000000

static __thread int serving;	/* this thread is in rmap_steer_serve */

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	/* not FUTEX_PRIVATE: the arena is shared by every traced process */
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* Spin (under a spinlock) or yield until @done or @deadline. */
static void wait_until(uint64_t deadline, int (*done)(struct page *, const void *),
		       struct page *p, const void *arg)
{
	int spin = spinlocks_held();

	while (!done(p, arg) && mono_ns() < deadline) {
		if (spin)
			for (int i = 0; i < 64; i++)
				_mm_pause();
		else
			sched_yield();
	}
}

static int arrived(struct page *p, const void *arg)
{
	const struct steer_slot *s = arg;

	(void)p;
	return LOAD_ACQ(&s->arrived) != LOAD(&s->gen);
}

void perturb_steer(struct rmap_arena *a, rmap_page_t page, enum rmap_race race)
{
	/* one publication per window at a time: an R8 storm never starves R7 */
	struct steer_slot *s = &a->steer[race == RMAP_RACE_R4_MAPPING_NOT_YET_SET ? 0 :
					 race == RMAP_RACE_R7_MAPPING_GONE ? 1 : 2];
	uint32_t zero = 0, gen;

	if (!LOAD(&a->steer_serving) ||	/* no reclaimer would come */
	    (race != RMAP_RACE_R7_MAPPING_GONE && (perturb_random(a) & 7)) || /* frequent ones: 1 in 8 */
	    !__atomic_compare_exchange_n(&s->page, &zero, page, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	/* arrived == gen until the reclaimer has examined this publication */
	gen = __atomic_add_fetch(&s->gen, 1, __ATOMIC_SEQ_CST);
	STORE(&s->arrived, gen);
	STORE(&s->race, (uint32_t)race);
	STORE_REL(&s->ready, gen);
	__atomic_add_fetch(&a->steer_seq, 1, __ATOMIC_SEQ_CST);
	futex(&a->steer_seq, FUTEX_WAKE, INT_MAX, NULL);
	wait_until(mono_ns() + (spinlocks_held() ? STEER_WAIT_SPINLOCK_NS : STEER_WAIT_NS),
		   arrived, PG(a, page), s);
	STORE(&s->ready, 0);
	STORE_REL(&s->page, 0);
}

/* The steered slot publishing @page, or NULL; only in the serving thread. */
static struct steer_slot *steered(struct rmap_arena *a, rmap_page_t page)
{
	if (!serving)
		return NULL;
	for (int i = 0; i < STEER_SLOTS; i++)
		if (LOAD(&a->steer[i].page) == page && LOAD(&a->steer[i].ready))
			return &a->steer[i];
	return NULL;
}

/* page_referenced read mapcount and mapping: let the waiting actor go on. */
void perturb_steer_arrive(struct rmap_arena *a, rmap_page_t page)
{
	struct steer_slot *s = steered(a, page);

	if (s)
		__atomic_add_fetch(&s->arrived, 1, __ATOMIC_SEQ_CST);
}

static int lock_or_mapping_gone(struct page *p, const void *arg)
{
	(void)arg;
	return page_flag(p, RMAP_PG_LOCKED) || !LOAD(&p->mapping);
}

static int unmapped(struct page *p, const void *arg)
{
	(void)arg;
	return LOAD(&p->_mapcount) < 0;
}

/*
 * vmscan's side, inside window @race of a page an actor published: R7,
 * between the mapping check and TestSetPageLocked, wait for the truncation
 * to lock the page (or be done); R9, between the mapping read and the
 * mapcount recheck, for the last unmap.  Never under a spinlock.
 */
void perturb_steer_follow(struct rmap_arena *a, rmap_page_t page, enum rmap_race race)
{
	struct steer_slot *s = steered(a, page);

	if (!s || LOAD(&s->race) != (uint32_t)race || spinlocks_held())
		return;
	wait_until(mono_ns() + STEER_FOLLOW_NS,
		   race == RMAP_RACE_R7_MAPPING_GONE ? lock_or_mapping_gone : unmapped, PG(a, page), s);
}

static int mapcount_moved(struct page *p, const void *arg)
{
	return LOAD(&p->_mapcount) != *(const int32_t *)arg;
}

/*
 * R6, try_to_unmap_one before its page_remove_rmap: another mm's remover
 * is the other side and cannot be summoned, so wait for one, bounded,
 * when other ptes map the page (the count moves when it comes).
 */
void perturb_await_remove(struct rmap_arena *a, struct page *p)
{
	int32_t mc = LOAD(&p->_mapcount);

	(void)a;
	if (mc > 0)
		wait_until(mono_ns() + STEER_AWAIT_REMOVE_NS, mapcount_moved, p, &mc);
}

/* refill_inactive_zone's look at one published page, off the LRU order. */
static void serve_slot(struct rmap_arena *a, struct steer_slot *s, uint32_t *seen)
{
	uint32_t ready = LOAD_ACQ(&s->ready);
	rmap_page_t page = LOAD(&s->page);

	if (!ready || ready == *seen || !page || !valid_index(a, POOL_PAGES, page))
		return;
	*seen = ready;
	if (!get_page_unless_free(PG(a, page)))
		return;
	set_current_op(RMAP_CAUSE_RECLAIM, 0, 0);
	if (page_mapped(a, PG(a, page)))
		page_referenced(a, page, 0);	/* arrives inside */
	else
		__atomic_add_fetch(&s->arrived, 1, __ATOMIC_SEQ_CST);	/* refill would skip it */
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	put_page(a, page);
}

void rmap_steer_serve(struct rmap_arena *a, const struct timespec *until)
{
	uint32_t seen[STEER_SLOTS] = { 0 };
	uint64_t end = (uint64_t)until->tv_sec * 1000000000ull + (uint64_t)until->tv_nsec, t;

	if (!perturb_on(a) || mode_locked(a))
		return;	/* L has no window whose other side is vmscan */
	serving = 1;
	__atomic_add_fetch(&a->steer_serving, 1, __ATOMIC_SEQ_CST);
	while ((t = mono_ns()) < end) {
		uint32_t seq = LOAD_ACQ(&a->steer_seq);
		struct timespec left = { (time_t)((end - t) / 1000000000ull),
					 (long)((end - t) % 1000000000ull) };

		for (int i = 0; i < STEER_SLOTS; i++)
			serve_slot(a, &a->steer[i], &seen[i]);
		futex(&a->steer_seq, FUTEX_WAIT, seq, &left);
	}
	__atomic_sub_fetch(&a->steer_serving, 1, __ATOMIC_SEQ_CST);
	serving = 0;
}
