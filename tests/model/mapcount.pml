/*
 * mapcount.pml - the 2004 map count protocol for three actors on one anon
 * page (spec §5 R1, R2, R3).  Mode switches: see rmap_page.pml.
 *
 * Start: the page is mapped once, by the exiter's pte (an anon page of a
 * fork family sharing anon_vma AV, also in swap cache).  Three mms act on
 * it at once, each under its own page_table_lock, so nothing but the rmap
 * itself orders them:
 *   exiter  - zaps its pte (the exit that may be the last unmap),
 *   forker  - faults the page in, forks, its child exits, then it exits
 *             (first map, dup, two removes, racing both ways),
 *   swapin  - faults the page back in from swap cache and keeps it.
 * At the end exactly one pte maps the page: swapin's.
 *
 * Properties, checked when all actors are done:
 *   R1  page_mapcount == number of ptes (no lost update),
 *   R2  nr_mapped == (page_mapped ? 1 : 0) (each transition counted once),
 *   R3  a mapped anon page has a mapping (no stale-mapping overwrite).
 */
#include "rmap_page.pml"

#define AV	1	/* the fork family's anon_vma (with the anon bit) */

hidden byte R1_mapcount_exact, R2_nr_mapped_once, R3_mapped_page_has_mapping;

/* exit_mmap -> zap_pte_range: page_remove_rmap of a pte present at start */
proctype exiter()
{
	RMAP_LOCALS;
	page_remove_rmap()
}

/*
 * do_swap_page (page_add_anon_rmap), then fork (copy_page_range ->
 * page_dup_rmap), the child's exit and its own (zap_pte_range ->
 * page_remove_rmap, twice).
 */
proctype forker()
{
	RMAP_LOCALS;
	page_add_anon_rmap(AV);
	page_dup_rmap();
	page_remove_rmap();
	page_remove_rmap()
}

/* do_swap_page: page_add_anon_rmap on the swap-cache page, kept mapped */
proctype swapin()
{
	RMAP_LOCALS;
	page_add_anon_rmap(AV)
}

init
{
	d_step {
		_mapcount = UNMAPPED + 1;
		mapping = AV;
		nr_mapped = 1
	};
	atomic {
		run exiter();
		run forker();
		run swapin()
	};
	_nr_pr == 1;	/* quiescence: every actor has finished */
	CHECK(R1_mapcount_exact, page_mapcount() == 1);
	CHECK(R2_nr_mapped_once, nr_mapped == (page_mapped() -> 1 : 0));
	CHECK(R3_mapped_page_has_mapping, !page_mapped() || mapping != NULL)
}
