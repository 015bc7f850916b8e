/* SPDX-License-Identifier: MIT */
/*
 * fork.c - dup_mmap/copy_page_range and the COW sequences around it
 * (spec §4.1): +1 mapcount per child pte for anon, private-file and
 * shared-file pages; COW ptes write-protected in the parent; VM_DONTCOPY
 * not copied; wipe-on-fork copied without ptes; VM_LOCKED cleared in the
 * child; a write in the child or parent replaces the page (remove old, add
 * new, cause COW); a write after the other side exited reuses the page;
 * a child mm is invisible to lookups until its copy is whole; with
 * RMAP_DUP_FAULT_FILLS, vmas without an anon_vma are copied without ptes.
 * Usage: fork MODE
 */
#include "testlib.h"

#define ANON	0x10000000ull
#define PRIV	0x20000000ull
#define SHARED	0x30000000ull
#define DONTCP	0x11000000ull
#define WIPE	0x12000000ull
#define LOCKED	0x13000000ull
#define PRIV_INO	11
#define SHARED_INO	12

#define ANON_KEY(i)	(0xa000000ull + (i))
#define NEW_KEY(i)	(0xb000000ull + (i))

/* Every frame the scenario ever maps, to recount nr_mapped independently. */
static uint64_t keys[64];
static int nkeys;

static void fault_anon(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr,
		       uint64_t key)
{
	REQUIRE_OK(rmap_fault(a, mm, addr, key,
			      RMAP_FAULT_WRITE | RMAP_FAULT_ANON));
	for (int i = 0; i < nkeys; i++)
		if (keys[i] == key)
			return;
	keys[nkeys++] = key;
}

static void fault_file(struct rmap_arena *a, rmap_mm_t mm, uint64_t start,
		       unsigned i, uint64_t ino, unsigned flags)
{
	tl_fault_file(a, mm, start, i, ino, 0, flags);
	keys[nkeys++] = tl_file_key(ino, i);
}

static int64_t count_mapped(struct rmap_arena *a)
{
	int64_t n = 0;

	for (int i = 0; i < nkeys; i++)
		n += tl_mapcount(a, keys[i]) > 0;
	return n;
}

static rmap_mm_t build_parent(struct rmap_arena *a)
{
	rmap_mm_t p = tl_mm(a, 200);

	tl_map_anon(a, p, ANON, 4, 0);
	tl_map_file(a, p, PRIV, 4, TL_PRIV_FLAGS, PRIV_INO, 0);
	tl_map_file(a, p, SHARED, 4, TL_SHARED_FLAGS, SHARED_INO, 0);
	tl_map_anon(a, p, DONTCP, 2, RMAP_VM_DONTCOPY);
	tl_map_anon(a, p, WIPE, 2, RMAP_VM_WIPEONFORK);
	tl_map_anon(a, p, LOCKED, 1, RMAP_VM_LOCKED);
	for (unsigned i = 0; i < 4; i++) {
		fault_anon(a, p, ANON + i * TL_PAGE, ANON_KEY(i));
		fault_file(a, p, PRIV, i, PRIV_INO, 0);
		fault_file(a, p, SHARED, i, SHARED_INO, RMAP_FAULT_WRITE);
	}
	for (unsigned i = 0; i < 2; i++) {
		fault_anon(a, p, DONTCP + i * TL_PAGE, ANON_KEY(10 + i));
		fault_anon(a, p, WIPE + i * TL_PAGE, ANON_KEY(20 + i));
	}
	fault_anon(a, p, LOCKED, ANON_KEY(30));
	CHECK_EQ(tl_pte(a, p, ANON).writable, 1);
	CHECK_EQ(tl_pte(a, p, SHARED).writable, 1);
	CHECK_EQ(tl_nr_mapped(a), 17);
	CHECK_EQ(rmap_mm_rss(a, p), 17);
	CHECK_CLEAN(a);
	return p;
}

static void check_copy(struct rmap_arena *a, rmap_mm_t p, rmap_mm_t c)
{
	struct tl_vmas pv = tl_vmas(a, p), cv = tl_vmas(a, c);

	CHECK_EQ(pv.n, 6);
	CHECK_EQ(cv.n, 5);
	CHECK(tl_vma_at(&cv, DONTCP) == NULL);
	REQUIRE(tl_vma_at(&cv, WIPE) != NULL);
	REQUIRE(tl_vma_at(&cv, LOCKED) != NULL && tl_vma_at(&pv, LOCKED) != NULL);
	CHECK(tl_vma_at(&pv, LOCKED)->flags & RMAP_VM_LOCKED);
	CHECK(!(tl_vma_at(&cv, LOCKED)->flags & RMAP_VM_LOCKED));
	CHECK_EQ(tl_vma_at(&cv, PRIV)->file.ino, PRIV_INO);
	CHECK_EQ(tl_vma_at(&cv, ANON)->pgoff, ANON / TL_PAGE);

	CHECK_EQ(tl_count_ptes(a, c, WIPE, WIPE + 2 * TL_PAGE), 0);
	CHECK_EQ(tl_count_ptes(a, c, DONTCP, DONTCP + 2 * TL_PAGE), 0);
	CHECK_EQ(tl_count_ptes(a, c, 0, 1ull << 47), 13);
	CHECK_EQ(rmap_mm_rss(a, c), 13);

	/* copy_page_range write-protects the parent's COW ptes only. */
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(tl_pte(a, p, ANON + i * TL_PAGE).writable, 0);
		CHECK_EQ(tl_pte(a, p, PRIV + i * TL_PAGE).writable, 0);
		CHECK_EQ(tl_pte(a, p, SHARED + i * TL_PAGE).writable, 1);
		CHECK_EQ(tl_pte(a, c, ANON + i * TL_PAGE).young, 0);
		CHECK_EQ(tl_pte(a, c, ANON + i * TL_PAGE).key, ANON_KEY(i));
	}
}

/*
 * Looks the child up at every page_dup_rmap of its copy: an exec'ed image
 * or a checkpoint that found the half-built mm would operate on it
 * concurrently with the copy.
 */
struct dup_watch {
	struct tl_events ev;
	struct rmap_arena *a;
	int32_t pid;
	unsigned dups, visible;
};

static void dup_watch_sink(void *ctx, const struct rmap_event *e)
{
	struct dup_watch *w = ctx;

	tl_sink(&w->ev, e);
	if (e->type != RMAP_EV_DUP)
		return;
	w->dups++;
	if (rmap_mm_find_pid(w->a, w->pid) || rmap_mm_pid(w->a, e->mm) >= 0)
		w->visible++;
}

static void fork_two_children(struct rmap_arena *a, rmap_mm_t p,
			      rmap_mm_t c[2])
{
	struct dup_watch w = { .a = a };
	struct tl_events ev;

	rmap_set_sink(dup_watch_sink, &w);
	rmap_set_sink_mask(~0u);
	for (int i = 0; i < 2; i++) {
		w.pid = 201 + i;
		REQUIRE_OK(rmap_dup_mmap(a, p, w.pid, 0, &c[i]));
	}
	tl_events_stop();
	ev = w.ev;
	CHECK_EQ(w.dups, 2 * 13);
	CHECK_EQ(w.visible, 0);
	REQUIRE(c[0] && c[1] && c[0] != c[1]);
	CHECK_EQ(rmap_mm_find_pid(a, 202), c[1]);
	CHECK_EQ(ev.n[RMAP_EV_DUP], 2 * 13);
	CHECK_EQ(ev.by_cause[RMAP_EV_DUP][RMAP_CAUSE_FORK], 2 * 13);
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST] + ev.n[RMAP_EV_UNMAP_LAST], 0);

	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(tl_mapcount(a, ANON_KEY(i)), 3);
		CHECK_EQ(tl_mapcount(a, tl_file_key(PRIV_INO, i)), 3);
		CHECK_EQ(tl_mapcount(a, tl_file_key(SHARED_INO, i)), 3);
	}
	CHECK_EQ(tl_mapcount(a, ANON_KEY(10)), 1);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(20)), 1);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(30)), 3);
	CHECK_EQ(tl_nr_mapped(a), 17);
	check_copy(a, p, c[0]);
	CHECK_CLEAN(a);
}

/*
 * A write fault that brings a new frame: remove old, add new, cause COW.
 * The new anon page's index is linear in the vma's frame: @index.
 */
static void cow(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr,
		uint64_t old_key, uint64_t new_key, uint64_t index)
{
	int old_count = tl_mapcount(a, old_key);
	int64_t nr = tl_nr_mapped(a);
	struct rmap_page_info pi;
	struct tl_events ev;

	tl_events_start(&ev);
	fault_anon(a, mm, addr, new_key);
	tl_events_stop();
	CHECK_EQ(ev.by_cause[RMAP_EV_REMOVE][RMAP_CAUSE_COW], 1);
	CHECK_EQ(ev.by_cause[RMAP_EV_MAP_FIRST][RMAP_CAUSE_COW], 1);
	CHECK_EQ(ev.n[RMAP_EV_UNMAP_LAST], 0);
	CHECK_EQ(tl_mapcount(a, old_key), old_count - 1);
	CHECK_EQ(tl_mapcount(a, new_key), 1);
	CHECK_EQ(tl_nr_mapped(a), nr + 1);
	CHECK_EQ(tl_pte(a, mm, addr).key, new_key);
	CHECK_EQ(tl_pte(a, mm, addr).writable, 1);
	pi = tl_info(a, new_key);
	CHECK_EQ(pi.anon, 1);
	CHECK_EQ(pi.index, index);
}

/*
 * RMAP_DUP_FAULT_FILLS (Linux >= 2.6.14): only vmas with an anon_vma get
 * their ptes copied.  @mm's PRIV vma has one iff it took a COW (@priv_cow);
 * SHARED never has one.  The copy is torn down again at once.
 */
static void fork_fault_fills(struct rmap_arena *a, rmap_mm_t mm, int32_t pid,
			     int priv_cow)
{
	int64_t nr = tl_nr_mapped(a);
	int shared = tl_mapcount(a, tl_file_key(SHARED_INO, 1));
	int anon = tl_mapcount(a, ANON_KEY(3));
	rmap_mm_t c;

	REQUIRE_OK(rmap_dup_mmap(a, mm, pid, RMAP_DUP_FAULT_FILLS, &c));
	CHECK_EQ(tl_count_ptes(a, c, ANON, ANON + 4 * TL_PAGE), 4);
	CHECK_EQ(tl_count_ptes(a, c, PRIV, PRIV + 4 * TL_PAGE), priv_cow ? 4 : 0);
	CHECK_EQ(tl_count_ptes(a, c, SHARED, SHARED + 4 * TL_PAGE), 0);
	CHECK_EQ(tl_count_ptes(a, c, LOCKED, LOCKED + TL_PAGE), 1);
	CHECK_EQ(tl_vmas(a, c).n, 5);	/* the vmas are all there */
	CHECK_EQ(tl_mapcount(a, tl_file_key(SHARED_INO, 1)), shared);
	CHECK_EQ(tl_mapcount(a, tl_file_key(PRIV_INO, 1)),
		 tl_mapcount(a, tl_file_key(PRIV_INO, 2)));
	CHECK_EQ(tl_mapcount(a, ANON_KEY(3)), anon + 1);
	CHECK_EQ(tl_nr_mapped(a), nr);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, c, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_mapcount(a, ANON_KEY(3)), anon);
	CHECK_EQ(tl_nr_mapped(a), nr);
}

static void cow_and_exit(struct rmap_arena *a, rmap_mm_t p, rmap_mm_t c[2])
{
	struct tl_events ev;
	struct tl_vmas cv;

	cow(a, c[0], ANON, ANON_KEY(0), NEW_KEY(0), ANON / TL_PAGE);
	cow(a, c[0], PRIV, tl_file_key(PRIV_INO, 0), NEW_KEY(1), 0);
	cv = tl_vmas(a, c[0]);
	REQUIRE(tl_vma_at(&cv, PRIV) != NULL);
	CHECK(tl_vma_at(&cv, PRIV)->anon_vma);	/* the first COW prepared it */
	cow(a, p, ANON + TL_PAGE, ANON_KEY(1), NEW_KEY(2), ANON / TL_PAGE + 1);
	CHECK_EQ(tl_nr_mapped(a), 20);
	CHECK_EQ(count_mapped(a), 20);
	CHECK_CLEAN(a);
	fork_fault_fills(a, c[0], 203, 1);
	fork_fault_fills(a, p, 204, 0);

	REQUIRE_OK(rmap_exit_mmap(a, c[0], RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_mapcount(a, NEW_KEY(0)), 0);
	CHECK_EQ(tl_mapcount(a, NEW_KEY(1)), 0);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(1)), 1);
	CHECK_EQ(tl_nr_mapped(a), 18);
	CHECK_CLEAN(a);
	REQUIRE_OK(rmap_exit_mmap(a, c[1], RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_mapcount(a, ANON_KEY(1)), 0);
	CHECK_EQ(tl_nr_mapped(a), 17);
	CHECK_EQ(count_mapped(a), 17);
	CHECK_EQ(rmap_mm_find_pid(a, 201), 0);
	CHECK_CLEAN(a);

	/* The child is gone: do_wp_page reuses the page, no rmap change. */
	tl_events_start(&ev);
	fault_anon(a, p, ANON + 2 * TL_PAGE, ANON_KEY(2));
	tl_events_stop();
	CHECK_EQ(ev.n[RMAP_EV_MAP_FIRST] + ev.n[RMAP_EV_ADD] +
		 ev.n[RMAP_EV_REMOVE] + ev.n[RMAP_EV_UNMAP_LAST], 0);
	CHECK_EQ(tl_pte(a, p, ANON + 2 * TL_PAGE).writable, 1);
	CHECK_EQ(tl_mapcount(a, ANON_KEY(2)), 1);

	REQUIRE_OK(rmap_exit_mmap(a, p, RMAP_CAUSE_EXIT));
	CHECK_EQ(tl_nr_mapped(a), 0);
	CHECK_EQ(count_mapped(a), 0);
	CHECK_CLEAN(a);
}

int main(int argc, char **argv)
{
	struct tl_arena t;
	struct rmap_arena *a = tl_arena_open(&t, tl_mode_arg(argc, argv));
	rmap_mm_t p, c[2];

	p = build_parent(a);
	fork_two_children(a, p, c);
	cow_and_exit(a, p, c);
	tl_arena_close(&t);
	return tl_exit_status();
}
