/*
 * rmap_page.pml - one shadow struct page and the rmap entry points that
 * change its map count (spec §3.1, §3.3, §3.4), shared by mapcount.pml and
 * anon_vma.pml.  Included after the mode switches are known:
 *
 *   -DLOCKED                 L: plain mapcount from 0 under PG_maplock
 *                            (2.6.8 + rmaplock 1/5); clear_page_anon at
 *                            the last unmap, inside the lock.
 *   (default)                N2/N: atomic _mapcount from -1 (the seed);
 *                            -DN2 and -DRCU only matter in anon_vma.pml.
 *   -DBROKEN_NONATOMIC       lockless, _mapcount updated by load + store.
 *   -DBROKEN_UNBIASED        lockless, count from 0, atomic add and then a
 *                            separate read to decide first / last.
 *   -DCLEAR_AT_UNMAP_UNLOCKED  lockless, but the last page_remove_rmap
 *                            clears the anon mapping as L did, unlocked.
 *
 * Granularity: one Promela statement is one indivisible machine step.  An
 * atomic RMW (atomic_inc_and_test, atomic_add_negative) is one statement;
 * a plain load and the store after it are two.  inc/dec_page_state run
 * with interrupts off on their own CPU's counter, so nr_mapped++ is one
 * statement too (the per-CPU sum is only read at quiescence).
 *
 * Each proctype using these inlines declares RMAP_LOCALS.
 */
#ifndef RMAP_PAGE_PML
#define RMAP_PAGE_PML

#define NULL	0

#if defined(LOCKED) || defined(BROKEN_UNBIASED)
#define UNMAPPED	0	/* mapcount == 0: not mapped */
#else
#define UNMAPPED	(-1)	/* _mapcount == -1: not mapped (the -1 bias) */
#endif

#define page_mapped()		(_mapcount > UNMAPPED)
#define page_mapcount()		(_mapcount - UNMAPPED)

short _mapcount = UNMAPPED;	/* L: mapcount; N: _mapcount */
byte mapping = NULL;		/* anon_vma id with the anon bit, or NULL */
short nr_mapped = 0;		/* global page_state.nr_mapped */
#ifdef LOCKED
bit PG_maplock = 0;		/* the page_map_lock bit spinlock */
#endif

/*
 * CHECK(label, cond): pan prints the asserted expression, here the name of
 * a hidden (not state-stored) flag, so every violation names its race id.
 */
#define CHECK(label, cond)	d_step { label = (cond); assert(label) }

#ifdef LOCKED
hidden byte R4_L_first_map_mapping_null, R4_L_mapping_matches;
#endif

/* Locals every actor needs: the value read and the transition seen. */
#define RMAP_LOCALS	short old; bool edge

#ifdef LOCKED
inline page_map_lock()
{
	atomic { PG_maplock == 0 -> PG_maplock = 1 }
}

inline page_map_unlock()
{
	PG_maplock = 0
}
#endif

/*
 * count_up / count_down: change _mapcount by one and set edge iff this
 * actor made the unmapped->mapped (resp. mapped->unmapped) transition.
 * L calls them under page_map_lock, where plain arithmetic is exact.
 */
inline count_up()
{
#if defined(LOCKED)
	_mapcount++;
	edge = (_mapcount == 1)
#elif defined(BROKEN_NONATOMIC)
	old = _mapcount;
	_mapcount = old + 1;	/* R1: a racing update between load and store is lost */
	edge = (old == UNMAPPED)
#elif defined(BROKEN_UNBIASED)
	_mapcount++;
	edge = (_mapcount == 1)	/* R2: a racing add may already have moved it on */
#else
	d_step { _mapcount++; edge = (_mapcount == 0) }	/* atomic_inc_and_test */
#endif
}

inline count_down()
{
#if defined(LOCKED)
	_mapcount--;
	edge = (_mapcount == 0)
#elif defined(BROKEN_NONATOMIC)
	old = _mapcount;
	_mapcount = old - 1;	/* R1: a racing update between load and store is lost */
	edge = (old == UNMAPPED + 1)
#elif defined(BROKEN_UNBIASED)
	_mapcount--;
	edge = (_mapcount == 0)	/* R2: a racing remove may also read 0 */
#else
	d_step { _mapcount--; edge = (_mapcount < 0) }	/* atomic_add_negative(-1) */
#endif
}

/*
 * page_add_anon_rmap(page, vma->anon_vma): the first mapper stores the
 * mapping and counts nr_mapped.  In N the count is visible before the
 * mapping store (spec §3.1 step 4): the R3/R4/R8 window.
 */
inline page_add_anon_rmap(av)
{
#ifdef LOCKED
	page_map_lock();
	count_up();
	/* L's BUG_ONs: exact under the lock, false positives without (R4) */
	if
	:: edge ->
		CHECK(R4_L_first_map_mapping_null, mapping == NULL);
		mapping = av;
		nr_mapped++
	:: else ->
		CHECK(R4_L_mapping_matches, mapping == av)
	fi;
	page_map_unlock()
#else
	count_up();
	if
	:: edge ->
		mapping = av;
		nr_mapped++
	:: else -> skip	/* no index/mapping check: racy (R4b) */
	fi
#endif
}

/* page_dup_rmap: fork's copy_page_range; the source pte pins mapcount >= 1. */
inline page_dup_rmap()
{
#ifdef LOCKED
	page_map_lock();
	_mapcount++;
	page_map_unlock()
#elif defined(BROKEN_NONATOMIC)
	old = _mapcount;
	_mapcount = old + 1
#else
	_mapcount++	/* atomic_inc */
#endif
}

/*
 * page_remove_rmap: the last unmapper uncounts nr_mapped.  L also clears
 * the anon mapping (clear_page_anon) under page_map_lock; N leaves it to
 * free_hot_cold_page, because of R3.
 */
inline page_remove_rmap()
{
#ifdef LOCKED
	page_map_lock();
	count_down();
	if
	:: edge ->
		mapping = NULL;
		nr_mapped--
	:: else -> skip
	fi;
	page_map_unlock()
#else
	count_down();
	if
	:: edge ->
		nr_mapped--
#ifdef CLEAR_AT_UNMAP_UNLOCKED
		;
		mapping = NULL	/* R3: may wipe a racing first mapper's store */
#endif
	:: else -> skip
	fi
#endif
}

#endif /* RMAP_PAGE_PML */
