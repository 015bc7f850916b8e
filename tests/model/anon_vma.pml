/*
 * anon_vma.pml - R9: vmscan takes anon_vma->lock of an anon page while
 * the page's last mm exits and its anon_vma is freed and reused
 * (spec §3.7, §3.9, §3.10, §5 R9).
 *
 *   -DLOCKED  L:  page_referenced runs under page_map_lock.
 *   -DN2      N2: page_referenced_anon rechecks page_mapcount after
 *                 reading page->mapping, then locks (rmaplock 2/5).
 *   -DRCU     N:  page_lock_anon_vma: mapping read, page_mapped check and
 *                 lock inside one RCU read section; the anon_vma cache is
 *                 SLAB_DESTROY_BY_RCU (rmaplock 3/5, 2.6.9).
 *   -DRCU -DBROKEN_NO_GRACE_PERIOD  page_lock_anon_vma over a plain
 *                 slab: shows the grace period, not the reordered checks,
 *                 is what closes R9.
 *   -DSTALE_REMAP  after X is freed, another family re-maps the page (a
 *                 new anon_vma Y): impossible in the kernel, whose swap
 *                 ptes of the page all lie in X's family, but what a frame
 *                 reused behind the shim's back looks like.  Shows what the
 *                 RCU argument rests on (rmapcore's R9_stale_remap_freed).
 * Coverage probes (expected to fail, proving the pass is not vacuous):
 *   -DCOVER_WALK   vmscan does reach anon_vma->lock,
 *   -DCOVER_REUSE  vmscan does lock X after X was reused by another
 *                  family (legal in N: _one's pfn check finds nothing).
 *
 * Only one anon_vma, X, is modelled: the page's.  Its memory goes
 *   AV_LIVE --free--> AV_FREE (object on the slab free list: still a
 *   struct anon_vma with a constructed lock) --> AV_LIVE again (reused by
 *   another family's anon_vma_prepare) or AV_PAGE_FREED (the slab page
 *   went back to the page allocator and now holds anything at all).
 * Without SLAB_DESTROY_BY_RCU the slab may release the page at once; with
 * it, only after a grace period: once no reader that was inside an RCU
 * read section at the free has left it.
 *
 * Property: R9  vmscan never takes anon_vma->lock in AV_PAGE_FREED memory.
 */
#include "rmap_page.pml"

#define X	1	/* the page's anon_vma (with the anon bit) */
#define Y	2	/* STALE_REMAP: the re-mapping family's live anon_vma */

mtype = { AV_LIVE, AV_FREE, AV_PAGE_FREED };

mtype av_mem = AV_LIVE;		/* what X's memory holds */
byte av_gen = 1;		/* owner family of X, bumped on reuse */
bit av_lock = 0;		/* X->lock */
byte av_vmas = 1;		/* vmas on X->head: the exiter's */
bit x_family_gone = 0;		/* ghost: X was freed at least once */
#ifdef RCU
bit rcu_reader = 0;		/* vmscan is inside rcu_read_lock() */
bit gp_pending = 0;		/* X's slab page waits for that reader */
#endif

hidden byte R9_locks_live_anon_vma_memory;
#ifdef COVER_WALK
hidden byte COVER_vmscan_never_locks_anon_vma;
#endif
#ifdef COVER_REUSE
hidden byte COVER_vmscan_never_locks_reused_anon_vma;
#endif

inline anon_vma_lock()
{
	atomic { av_lock == 0 -> av_lock = 1 }
}

inline anon_vma_unlock()
{
	av_lock = 0
}

/* kmem_cache_free(anon_vma_cachep, X): starts X's grace period under RCU */
inline anon_vma_free()
{
	d_step {
		av_mem = AV_FREE;
		x_family_gone = 1
#ifdef RCU
		;
		gp_pending = rcu_reader
#endif
	}
}

/*
 * exit_mmap of the only mm mapping the page: zap_pte_range ->
 * page_remove_rmap, then remove_vm_struct -> anon_vma_unlink, which frees
 * X when its list becomes empty.  Takes no page lock: the page lock
 * cannot hold X for vmscan.
 */
proctype exiter()
{
	RMAP_LOCALS;
	page_remove_rmap();
	anon_vma_lock();
	av_vmas--;
	edge = (av_vmas == 0);
	anon_vma_unlock();
	if
	:: edge -> anon_vma_free()
	:: else -> skip
	fi
}

/*
 * The rest of the kernel: either another family's anon_vma_prepare gets X
 * from the slab (kmem_cache_alloc), or the slab releases X's page to the
 * page allocator (under RCU only once X's grace period has elapsed).
 */
proctype slab()
{
	if
	:: d_step { av_mem == AV_FREE -> av_mem = AV_LIVE; av_gen++; av_vmas = 1 }
#if defined(RCU) && !defined(BROKEN_NO_GRACE_PERIOD)
	:: d_step { av_mem == AV_FREE && !gp_pending -> av_mem = AV_PAGE_FREED }
#else
	:: d_step { av_mem == AV_FREE -> av_mem = AV_PAGE_FREED }
#endif
	fi
}

/*
 * spin_lock(&anon_vma->lock) for page_referenced_anon's list walk, on the
 * anon_vma @av read from page->mapping.  page_referenced_one checks each
 * pte's pfn, so walking a reused X finds nothing and changes nothing:
 * only the lock's memory matters.  Y is live and not at stake.
 */
inline page_anon_vma_lock(av, seen_gen)
{
	if
	:: av == X ->
		/* the checks see the memory in the very step that takes the lock */
		atomic {
			av_lock == 0 ->
			/* R9: spin_lock on a freed slab page corrupts what lives there now */
			CHECK(R9_locks_live_anon_vma_memory, av_mem != AV_PAGE_FREED);
#ifdef COVER_WALK
			CHECK(COVER_vmscan_never_locks_anon_vma, false);
#endif
#ifdef COVER_REUSE
			CHECK(COVER_vmscan_never_locks_reused_anon_vma, av_gen == seen_gen);
#endif
			av_lock = 1
		}
	:: else -> skip
	fi
}

inline page_anon_vma_unlock(av)
{
	if
	:: av == X -> anon_vma_unlock()
	:: else -> skip
	fi
}

#ifdef STALE_REMAP
/* do_swap_page -> page_add_anon_rmap in a family that never shared X */
proctype remapper()
{
	RMAP_LOCALS;
	x_family_gone;
	page_add_anon_rmap(Y)
}
#endif

#ifdef RCU
inline rcu_read_lock()
{
	rcu_reader = 1
}

/* The reader leaves: a grace period waiting for it ends (one reader). */
inline rcu_read_unlock()
{
	d_step { rcu_reader = 0; gp_pending = 0 }
}
#endif

/*
 * shrink_list -> page_referenced(page, 1) -> page_referenced_anon.
 * vmscan holds the page lock and a page reference; neither pins X.
 */
proctype vmscan()
{
	RMAP_LOCALS;
	byte seen_gen;	/* ghost: X's owner when page->mapping was read */
#if defined(LOCKED)
	/* L: page_map_lock with page_mapped pins a pte, a vma, hence X */
	page_map_lock();
	d_step { old = mapping; seen_gen = av_gen };
	if
	:: page_mapped() && old != NULL ->
		page_anon_vma_lock(old, seen_gen);
		page_anon_vma_unlock(old)
	:: else -> skip
	fi;
	page_map_unlock()
#elif defined(N2)
	edge = page_mapped();
	if
	:: edge && mapping != NULL ->
		d_step { old = mapping; seen_gen = av_gen };
		/*
		 * The 2/5 recheck: not safe to lock X after the last
		 * page_remove_rmap.  It only narrows R9: the exit can
		 * unmap, unlink and free X right after this read.
		 */
		if
		:: page_mapcount() == 0 -> skip
		:: else ->
			page_anon_vma_lock(old, seen_gen);
			page_anon_vma_unlock(old)
		fi
	:: else -> skip
	fi
#elif defined(RCU)
	edge = page_mapped();
	if
	:: edge && mapping != NULL ->
		/*
		 * page_lock_anon_vma: mapped after the mapping read means X
		 * was live inside this read section, so its slab page stays
		 * until rcu_read_unlock and a reused X has a sane lock (R9).
		 */
		rcu_read_lock();
		d_step { old = mapping; seen_gen = av_gen };
		if
		:: old != NULL && page_mapped() ->
			page_anon_vma_lock(old, seen_gen);
			rcu_read_unlock();
			page_anon_vma_unlock(old)
		:: else ->
			rcu_read_unlock()
		fi
	:: else -> skip
	fi
#else
#error "anon_vma.pml needs -DLOCKED, -DN2 or -DRCU"
#endif
}

init
{
	d_step {
		_mapcount = UNMAPPED + 1;
		mapping = X;
		nr_mapped = 1
	};
	atomic {
		run exiter();
		run slab();
		run vmscan()
#ifdef STALE_REMAP
		;
		run remapper()
#endif
	}
}
