/* SPDX-License-Identifier: MIT */
/*
 * events.c - where every transition goes: the calling thread's sink (mask
 * filtered) and the per-thread totals in the arena, summed on read so the
 * hot path never touches a shared counter line.
 */
#include "internal.h"

__thread struct rmap_current rmap_cur;

static __thread rmap_sink_fn sink_fn;
static __thread void *sink_ctx;
static __thread uint32_t sink_mask = ~0u;
__thread uint32_t rmap_sink_wants;	/* sink_fn ? sink_mask : 0 */
/* Not in rmap_cur: rmap.c saves and restores that around page walks. */
__thread uint64_t rmap_thread_counts[RMAP_EV_NR_TYPES];

static const char *const cause_names[RMAP_CAUSE_NR] = {
	[RMAP_CAUSE_NONE] = "none",
	[RMAP_CAUSE_FAULT] = "fault",
	[RMAP_CAUSE_FORK] = "fork",
	[RMAP_CAUSE_COW] = "cow",
	[RMAP_CAUSE_MUNMAP] = "munmap",
	[RMAP_CAUSE_MADVISE] = "madvise",
	[RMAP_CAUSE_MREMAP] = "mremap",
	[RMAP_CAUSE_EXIT] = "exit",
	[RMAP_CAUSE_EXEC] = "exec",
	[RMAP_CAUSE_RECLAIM] = "reclaim",
};

const char *rmap_cause_name(enum rmap_cause cause)
{
	return (unsigned)cause < RMAP_CAUSE_NR ? cause_names[cause] : "unknown";
}

static const char *const race_names[RMAP_RACE_NR] = {
	[RMAP_RACE_R1_DUP_VS_REMOVE] = "R1_dup_vs_remove",
	[RMAP_RACE_R3_STALE_MAPPING] = "R3_stale_mapping",
	[RMAP_RACE_R4_MAPPING_NOT_YET_SET] = "R4_mapping_not_yet_set",
	[RMAP_RACE_R5_UNMAPPED_UNDER_VMSCAN] = "R5_unmapped_under_vmscan",
	[RMAP_RACE_R6_REMOVE_DURING_UNMAP] = "R6_remove_during_unmap",
	[RMAP_RACE_R7_PAGE_LOCK_BUSY] = "R7_page_lock_busy",
	[RMAP_RACE_R7_MAPPING_GONE] = "R7_mapping_gone",
	[RMAP_RACE_R8_MAPPED_NO_MAPPING] = "R8_mapped_no_mapping",
	[RMAP_RACE_R9_RECHECK_UNMAPPED] = "R9_recheck_unmapped",
	[RMAP_RACE_R9_ANON_VMA_REUSED] = "R9_anon_vma_reuse",
	[RMAP_RACE_R9_ANON_VMA_FREED] = "R9_anon_vma_freed",
	[RMAP_RACE_R10_TRYLOCK_MISSED] = "R10_trylock_missed",
	[RMAP_RACE_R9_STALE_REMAP_FREED] = "R9_stale_remap_freed",
};

const char *rmap_race_name(enum rmap_race race)
{
	return (unsigned)race < RMAP_RACE_NR && race_names[race] ? race_names[race] : "unknown";
}

void rmap_set_sink(rmap_sink_fn fn, void *ctx)
{
	sink_fn = fn;
	sink_ctx = ctx;
	rmap_sink_wants = fn ? sink_mask : 0;
}

void rmap_set_sink_mask(uint32_t mask)
{
	sink_mask = mask;
	rmap_sink_wants = sink_fn ? mask : 0;
}

const uint64_t *rmap_thread_event_counts(void)
{
	return rmap_thread_counts;
}

static void deliver(struct rmap_arena *a, const struct rmap_event *ev)
{
	(void)a;
	if (sink_fn && (sink_mask & (1u << ev->type)))
		sink_fn(sink_ctx, ev);
}

static void fill(struct rmap_event *ev, struct rmap_arena *a, enum rmap_event_type type,
		 rmap_page_t page)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint16_t)type;
	ev->cause = (uint16_t)rmap_cur.cause;
	ev->page = page;
	ev->mm = rmap_cur.mm;
	ev->vaddr = rmap_cur.addr;
	if (page) {
		const struct page *p = PG(a, page);
		ev->frame = p->key;
		ev->anon = (uint16_t)PageAnon(LOAD(&p->mapping));
	}
}

/* emit's slow path: the sink takes events of @type. */
void emit_to_sink(struct rmap_arena *a, enum rmap_event_type type, rmap_page_t page,
		  int old_mc, int new_mc, int32_t value)
{
	struct rmap_event ev;

	fill(&ev, a, type, page);
	ev.old_mapcount = old_mc;
	ev.new_mapcount = new_mc;
	ev.value = value;
	deliver(a, &ev);
}

void note_race(struct rmap_arena *a, enum rmap_race race, rmap_page_t page)
{
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);

	slot_add(&s->race[race], 1, shared);
	slot_add(&s->ev[RMAP_EV_RACE][rmap_cur.cause], 1, shared);
	rmap_thread_counts[RMAP_EV_RACE]++;
	if (!sink_fn)
		return;
	struct rmap_event ev;
	fill(&ev, a, RMAP_EV_RACE, page);
	ev.race = (uint16_t)race;
	perturb_detail(a, race, page, &ev);
	ev.old_mapcount = ev.new_mapcount = page ? page_mapcount(a, PG(a, page)) : 0;
	deliver(a, &ev);
}

/* A kernel BUG_ON that fired: counted and reported, never fatal. */
void note_violation(struct rmap_arena *a, rmap_page_t page, const char *what)
{
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);

	(void)what;
	__atomic_fetch_add(&a->violations, 1, __ATOMIC_RELAXED);
	slot_add(&s->ev[RMAP_EV_VIOLATION][rmap_cur.cause], 1, shared);
	rmap_thread_counts[RMAP_EV_VIOLATION]++;
	if (!sink_fn)
		return;
	struct rmap_event ev;
	fill(&ev, a, RMAP_EV_VIOLATION, page);
	ev.old_mapcount = ev.new_mapcount = page ? page_mapcount(a, PG(a, page)) : 0;
	deliver(a, &ev);
}

/* The global nr_mapped (a per-cpu page_state in the kernel) and its peak. */
void nr_mapped_add(struct rmap_arena *a, int delta)
{
	int64_t v = __atomic_add_fetch(&a->nr_mapped, delta, __ATOMIC_RELAXED);
	int64_t peak = LOAD(&a->nr_mapped_peak);

	while (v > peak && !__atomic_compare_exchange_n(&a->nr_mapped_peak, &peak, v, 0,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void sum_slots(const struct rmap_arena *a, size_t off, size_t n, uint64_t *out)
{
	uint32_t claimed = LOAD(&a->threads_claimed), i;
	size_t k;

	memset(out, 0, n * sizeof(uint64_t));
	if (claimed > a->cfg.max_threads)
		claimed = a->cfg.max_threads;
	for (i = 0; i <= claimed; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)a + a->off_threads +
						       (uint64_t)i * sizeof(struct thread_slot) + off);
		for (k = 0; k < n; k++)
			out[k] += LOAD(&v[k]);
	}
}

void rmap_event_cause_totals(const struct rmap_arena *a, uint64_t totals[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR])
{
	sum_slots(a, offsetof(struct thread_slot, ev), RMAP_EV_NR_TYPES * RMAP_CAUSE_NR, &totals[0][0]);
}

void rmap_event_totals(const struct rmap_arena *a, uint64_t totals[RMAP_EV_NR_TYPES])
{
	uint64_t by[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR];

	rmap_event_cause_totals(a, by);
	for (int t = 0; t < RMAP_EV_NR_TYPES; t++) {
		totals[t] = 0;
		for (int c = 0; c < RMAP_CAUSE_NR; c++)
			totals[t] += by[t][c];
	}
}

void rmap_race_totals(const struct rmap_arena *a, uint64_t totals[RMAP_RACE_NR])
{
	sum_slots(a, offsetof(struct thread_slot, race), RMAP_RACE_NR, totals);
}
