/* SPDX-License-Identifier: MIT */
/*
 * equivalence.c - the three modes are one rmap.  A seeded random
 * single-threaded sequence of mm-level operations (mmap anon / private
 * file / shared file, faults, COW, fork, exit, munmap, zap, mremap,
 * mprotect) is applied in lockstep to one arena per mode; every return
 * code must agree, and at the end every frame's mapcount, nr_mapped, the
 * transition totals, every mm's vmas and every mm's pte set must be
 * identical.  Usage: equivalence [NR_OPS [SEED]]
 */
#include "testlib.h"

#define NMODES		3
#define MAX_MM		16
#define WINDOW		0x10000000ull
#define WINDOW_PAGES	512
#define NFILES		4
#define MAX_PGOFF	64
#define FILE_PAGES	(MAX_PGOFF + WINDOW_PAGES)
#define ANON_BASE	(1ull << 40)	/* above every file key */

static struct rmap_arena *arena[NMODES];
static rmap_mm_t mms[NMODES][MAX_MM];	/* 0: slot free */
static uint64_t next_anon = ANON_BASE;
static uint64_t rng_state;
static long op_no, nr_ok;

static uint64_t rnd(uint64_t n)
{
	/* xorshift64*: deterministic across runs and machines */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 0x2545F4914F6CDD1Dull) % n;
}

static uint64_t rnd_addr(void)
{
	return WINDOW + rnd(WINDOW_PAGES) * TL_PAGE;
}

static int live_slot(void)
{
	int s = (int)rnd(MAX_MM);

	for (int i = 0; i < MAX_MM; i++, s = (s + 1) % MAX_MM)
		if (mms[0][s])
			return s;
	return -1;
}

static int nr_live(void)
{
	int n = 0;

	for (int s = 0; s < MAX_MM; s++)
		n += mms[0][s] != 0;
	return n;
}

/* Every mode must answer an operation the same way. */
static void agree(const char *what, const int ret[NMODES])
{
	for (int m = 1; m < NMODES; m++)
		if (ret[m] != ret[0]) {
			TL_FAIL("op %ld %s: %s returned %d, %s returned %d",
				op_no, what, rmap_mode_name(0), ret[0],
				rmap_mode_name(m), ret[m]);
			exit(tl_exit_status());
		}
}

#define ALL_MODES(what, call)						\
	do {								\
		int ret_[NMODES];					\
		for (int m = 0; m < NMODES; m++) {			\
			struct rmap_arena *a = arena[m];		\
			(void)a;					\
			ret_[m] = (call);				\
		}							\
		agree(what, ret_);					\
		nr_ok += ret_[0] == 0;					\
	} while (0)

/* The vma of slot @s covering @addr, seen in the first arena. */
struct vma_find {
	uint64_t addr;
	int found;
	struct rmap_vma_info vma;
};

static void vma_find_cb(void *ctx, const struct rmap_vma_info *v)
{
	struct vma_find *f = ctx;

	if (v->start <= f->addr && f->addr < v->end) {
		f->vma = *v;
		f->found = 1;
	}
}

static int find_vma(int s, uint64_t addr, struct rmap_vma_info *out)
{
	struct vma_find f = { .addr = addr };

	rmap_walk_vmas(arena[0], mms[0][s], vma_find_cb, &f);
	*out = f.vma;
	return f.found;
}

static void op_mmap(int s)
{
	uint64_t start = rnd_addr(), npages = 1 + rnd(32);
	uint64_t end = start + npages * TL_PAGE, pgoff = rnd(MAX_PGOFF);
	struct rmap_file_id f = tl_file(1 + rnd(NFILES));
	unsigned kind = (unsigned)rnd(3);
	uint32_t flags = kind == 2 ? TL_SHARED_FLAGS : TL_PRIV_FLAGS;

	if (end > WINDOW + WINDOW_PAGES * TL_PAGE)
		end = WINDOW + WINDOW_PAGES * TL_PAGE;
	if (kind == 0)
		pgoff = start / TL_PAGE;
	ALL_MODES("mmap", rmap_mmap_region(a, mms[m][s], start, end, flags,
					   pgoff, kind ? &f : NULL));
}

/*
 * A fault as the shim would observe it: a new anon frame, the file page
 * at the vma's offset, or (private vma, pte present) a COW copy.
 */
static void op_fault(int s)
{
	uint64_t addr = rnd_addr(), key;
	struct rmap_vma_info v;
	struct rmap_pte_info pte;
	unsigned flags = 0;

	if (!find_vma(s, addr, &v)) {
		ALL_MODES("fault outside", rmap_fault(a, mms[m][s], addr,
						     next_anon, 0));
		return;
	}
	pte = tl_pte(arena[0], mms[0][s], addr);
	if (v.flags & RMAP_VM_SHARED) {
		key = tl_file_key(v.file.ino,
				  v.pgoff + (addr - v.start) / TL_PAGE);
		flags = rnd(2) ? RMAP_FAULT_WRITE : 0;
	} else if (pte.kind == RMAP_PTE_PRESENT && rnd(4) == 0) {
		/* same frame: do_wp_page reuse (anon) or a read refresh */
		key = pte.key;
		if (tl_info(arena[0], key).anon)
			flags = RMAP_FAULT_WRITE | RMAP_FAULT_ANON;
	} else if (v.file.ino && pte.kind != RMAP_PTE_PRESENT && rnd(2)) {
		key = tl_file_key(v.file.ino,
				  v.pgoff + (addr - v.start) / TL_PAGE);
	} else {
		key = next_anon++;
		flags = RMAP_FAULT_WRITE | RMAP_FAULT_ANON;
	}
	ALL_MODES("fault", rmap_fault(a, mms[m][s], addr, key, flags));
}

static void op_fork(int s)
{
	int c = 0;

	while (c < MAX_MM && mms[0][c])
		c++;
	if (c == MAX_MM)
		return;
	ALL_MODES("fork", rmap_dup_mmap(a, mms[m][s], 1000 + (int)op_no, 0,
					&mms[m][c]));
}

static void op_exit(int s)
{
	if (nr_live() <= 2)
		return;
	ALL_MODES("exit", rmap_exit_mmap(a, mms[m][s], RMAP_CAUSE_EXIT));
	for (int m = 0; m < NMODES; m++)
		mms[m][s] = 0;
}

static void op_range(int s, int zap)
{
	uint64_t start = rnd_addr(), end = start + (1 + rnd(8)) * TL_PAGE;

	if (zap)
		ALL_MODES("zap", rmap_zap_range(a, mms[m][s], start, end,
						RMAP_CAUSE_MADVISE));
	else
		ALL_MODES("munmap", rmap_munmap(a, mms[m][s], start, end,
						RMAP_CAUSE_MUNMAP));
}

static void op_mremap(int s)
{
	uint64_t addr = rnd_addr(), to = rnd_addr();
	struct rmap_vma_info v;

	if (!find_vma(s, addr, &v))
		return;
	if (to + (v.end - v.start) > WINDOW + WINDOW_PAGES * TL_PAGE)
		return;
	ALL_MODES("mremap", rmap_mremap(a, mms[m][s], v.start,
					v.end - v.start, to, v.end - v.start));
}

static void op_flags(int s)
{
	static const uint32_t bits[] = { RMAP_VM_WRITE, RMAP_VM_DONTCOPY,
					 RMAP_VM_LOCKED };
	uint64_t start = rnd_addr(), end = start + (1 + rnd(8)) * TL_PAGE;
	uint32_t bit = bits[rnd(3)];
	int set = (int)rnd(2);

	ALL_MODES("change_flags", rmap_change_flags(a, mms[m][s], start, end,
						    set ? bit : 0,
						    set ? 0 : bit));
}

static void step(void)
{
	int s = live_slot();
	uint64_t r = rnd(100);

	if (r < 10)
		op_mmap(s);
	else if (r < 70)
		op_fault(s);
	else if (r < 76)
		op_fork(s);
	else if (r < 80)
		op_exit(s);
	else if (r < 85)
		op_range(s, 0);
	else if (r < 90)
		op_range(s, 1);
	else if (r < 95)
		op_mremap(s);
	else
		op_flags(s);
}

/* ---- end state comparison --------------------------------------------- */

struct pte_entry {
	uint64_t addr, key;
	int writable, dirty, young;
};

struct pte_set {
	long n, cap;
	struct pte_entry *e;
};

static int pte_same(const struct pte_entry *x, const struct pte_entry *y)
{
	return x->addr == y->addr && x->key == y->key &&
	       x->writable == y->writable && x->dirty == y->dirty &&
	       x->young == y->young;
}

static void pte_collect(void *ctx, uint64_t addr,
			const struct rmap_pte_info *pte)
{
	struct pte_set *ps = ctx;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 1024;
		ps->e = realloc(ps->e, ps->cap * sizeof(*ps->e));
		REQUIRE(ps->e != NULL);
	}
	ps->e[ps->n].addr = addr;
	ps->e[ps->n].key = pte->key;
	ps->e[ps->n].writable = pte->writable;
	ps->e[ps->n].dirty = pte->dirty;
	ps->e[ps->n].young = pte->young;
	ps->n++;
}

static long compare_ptes(int s)
{
	struct pte_set ps[NMODES] = { 0 };

	for (int m = 0; m < NMODES; m++)
		rmap_walk_ptes(arena[m], mms[m][s], 0, UINT64_MAX >> 16,
			       pte_collect, &ps[m]);
	for (int m = 1; m < NMODES; m++) {
		CHECK_EQ(ps[m].n, ps[0].n);
		for (long i = 0; i < ps[0].n && i < ps[m].n; i++)
			if (!pte_same(&ps[m].e[i], &ps[0].e[i])) {
				TL_FAIL("slot %d pte %#llx differs in %s", s,
					(unsigned long long)ps[0].e[i].addr,
					rmap_mode_name(m));
				break;
			}
	}
	for (int m = 0; m < NMODES; m++)
		free(ps[m].e);
	return ps[0].n;
}

static void compare_vmas(int s)
{
	struct tl_vmas v0 = tl_vmas(arena[0], mms[0][s]);

	for (int m = 1; m < NMODES; m++) {
		struct tl_vmas v = tl_vmas(arena[m], mms[m][s]);

		CHECK_EQ(v.n, v0.n);
		for (long i = 0; i < v.n && i < v0.n && i < 16; i++)
			CHECK(!memcmp(&v.v[i], &v0.v[i], sizeof(v.v[i])));
	}
}

static long compare_key(uint64_t key)
{
	rmap_page_t p0 = rmap_page_find(arena[0], key);
	int c0 = p0 ? rmap_page_mapcount(arena[0], p0) : 0;

	for (int m = 1; m < NMODES; m++) {
		rmap_page_t p = rmap_page_find(arena[m], key);

		CHECK_EQ(p != 0, p0 != 0);
		if (p && rmap_page_mapcount(arena[m], p) != c0)
			TL_FAIL("key %#llx mapcount %d in %s, %d in %s",
				(unsigned long long)key,
				rmap_page_mapcount(arena[m], p),
				rmap_mode_name(m), c0, rmap_mode_name(0));
	}
	return c0;
}

static void compare_end_state(void)
{
	static const enum rmap_event_type transitions[] = {
		RMAP_EV_MAP_FIRST, RMAP_EV_DUP, RMAP_EV_ADD, RMAP_EV_REMOVE,
		RMAP_EV_UNMAP_LAST };
	long mapcounts = 0, ptes = 0, mapped = 0;

	for (uint64_t k = ANON_BASE; k < next_anon; k++) {
		long c = compare_key(k);

		mapcounts += c;
		mapped += c > 0;
	}
	for (uint64_t ino = 1; ino <= NFILES; ino++)
		for (uint64_t off = 0; off < FILE_PAGES; off++) {
			long c = compare_key(tl_file_key(ino, off));

			mapcounts += c;
			mapped += c > 0;
		}
	for (int s = 0; s < MAX_MM; s++)
		if (mms[0][s]) {
			compare_vmas(s);
			ptes += compare_ptes(s);
		}
	for (int m = 0; m < NMODES; m++)
		CHECK_EQ(tl_nr_mapped(arena[m]), mapped);
	CHECK_EQ(mapcounts, ptes);
	for (unsigned i = 0; i < sizeof(transitions) / sizeof(*transitions); i++)
		for (int m = 1; m < NMODES; m++)
			CHECK_EQ(tl_total(arena[m], transitions[i]),
				 tl_total(arena[0], transitions[i]));
	printf("%ld ops, %ld succeeded; end state: %d mms, %ld ptes, %ld mapped "
	       "pages, %llu anon frames, %llu first maps, %llu dups\n", op_no,
	       nr_ok, nr_live(), ptes, mapped,
	       (unsigned long long)(next_anon - ANON_BASE),
	       (unsigned long long)tl_total(arena[0], RMAP_EV_MAP_FIRST),
	       (unsigned long long)tl_total(arena[0], RMAP_EV_DUP));
	CHECK(ptes > 100);
}

int main(int argc, char **argv)
{
	long nr_ops = argc > 1 ? atol(argv[1]) : 100000;
	struct tl_arena t[NMODES];

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed2004;
	tl_mode = "equivalence";
	for (int m = 0; m < NMODES; m++) {
		struct rmap_arena_config cfg;

		tl_default_config(&cfg, (enum rmap_mode)m);
		cfg.max_pages = 1u << 18;
		arena[m] = tl_arena_create(&t[m], &cfg);
		REQUIRE_OK(rmap_mm_create(arena[m], 1, 0, &mms[m][0]));
		REQUIRE_OK(rmap_mm_create(arena[m], 2, 0, &mms[m][1]));
	}
	for (op_no = 0; op_no < nr_ops; op_no++) {
		step();
		if ((op_no + 1) % 25000 == 0)
			for (int m = 0; m < NMODES; m++) {
				tl_mode = rmap_mode_name(m);
				CHECK_CLEAN(arena[m]);
			}
		tl_mode = "equivalence";
	}
	compare_end_state();
	for (int m = 0; m < NMODES; m++) {
		for (int s = 0; s < MAX_MM; s++)
			if (mms[m][s])
				REQUIRE_OK(rmap_exit_mmap(arena[m], mms[m][s],
							  RMAP_CAUSE_EXIT));
		tl_mode = rmap_mode_name(m);
		CHECK_EQ(tl_nr_mapped(arena[m]), 0);
		CHECK_CLEAN(arena[m]);
		tl_arena_close(&t[m]);
	}
	return tl_exit_status();
}
