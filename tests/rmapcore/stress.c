/* SPDX-License-Identifier: MIT */
/*
 * stress.c - many threads in two processes on one arena.
 *
 * Two processes (the second forked after the arena exists, attaching it
 * by path) each run NTHREADS workers and one reclaimer.  Every worker owns
 * its mms (it is their mmap_sem) but maps the same shared and private file
 * pages as everybody else, and runs a bounded mix of fork-copy, exit, zap,
 * COW and plain faults, page_referenced and try_to_unmap; the reclaimer
 * runs refill_inactive_zone + shrink_list.  Once both processes are done,
 * rmap_check() must be clean and nr_mapped must equal the number of pages
 * whose mapcount (itself equal to the ptes counted by a walk) is > 0.
 *
 * Then the hot phase: four threads hammer four pages with page_dup_rmap /
 * page_remove_rmap pairs (spec R1) and with fault/zap pairs that take the
 * pages through unmapped <-> mapped (R2).  A good mode stays clean; a
 * broken mode (broken-nonatomic, broken-unbiased) must be caught by
 * rmap_check() within a bounded number of rounds.
 *
 * Usage: stress MODE OPS [PROCS]   (OPS per worker; the hot phase runs
 * min(OPS, 100000) pairs per thread and round).  PROCS 1 keeps every
 * thread in one process: ThreadSanitizer sees only its own process, so a
 * happens-before chain through the other process's threads (a pool slot
 * freed here, reused there, locked here again) looks like a data race.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testlib.h"

#define NPROC		2
#define NTHREADS	4
#define MAX_OWN_MMS	3
#define VMA_PAGES	32
#define SHARED		0x40000000ull
#define PRIVATE		0x50000000ull
#define ANON		0x60000000ull
#define SHARED_INO	1
#define PRIVATE_INO	2
#define HOT_INO		3
#define FLIP_INO	4
#define HOT_PAGES	4
#define FLIP_PAGES	1	/* R2 needs collisions on one page */
#define HOT_THREADS	4
#define HOT_ROUNDS	40
#define PLAIN_ROUNDS	25
#define HOT_PAIRS	100000

/* Per-worker anon frame counters, visible to the verifying parent. */
struct shared_state {
	uint64_t anon_keys[NPROC][NTHREADS];
	long errors[NPROC];
};

static struct rmap_arena *arena;
static struct shared_state *shared;
static int ready_pipe[2], go_pipe[2];
static int nr_procs;
static long nr_ops;
static pthread_barrier_t start;

struct worker {
	int proc, id;
	uint64_t rng;
	rmap_mm_t mm[MAX_OWN_MMS];	/* [0] is the base mm, never exits */
	int nmm;
	long errors;
};

static uint64_t rnd(struct worker *w, uint64_t n)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng % n;
}

static uint64_t anon_key(int proc, int id, uint64_t n)
{
	return ((uint64_t)(1 + proc * NTHREADS + id) << 36) | n;
}

static uint64_t new_anon_key(struct worker *w)
{
	return anon_key(w->proc, w->id, shared->anon_keys[w->proc][w->id]++);
}

static void expect_ok(struct worker *w, int ret, const char *what)
{
	if (ret != 0) {
		fprintf(stderr, "[%s] proc %d worker %d: %s returned %d\n",
			tl_mode, w->proc, w->id, what, ret);
		w->errors++;
	}
}

/* The fault the shim would see at @addr of the worker's vma @v. */
static void fault(struct worker *w, rmap_mm_t mm, int v, unsigned i)
{
	static const uint64_t start[] = { SHARED, PRIVATE, ANON };
	uint64_t addr = start[v] + i * TL_PAGE;
	struct rmap_pte_info pte = { 0 };

	rmap_pte_get(arena, mm, addr, &pte);
	if (v == 0)
		expect_ok(w, rmap_fault(arena, mm, addr,
					tl_file_key(SHARED_INO, i),
					rnd(w, 2) ? RMAP_FAULT_WRITE : 0),
			  "shared fault");
	else if (v == 1 && pte.kind == RMAP_PTE_NONE && rnd(w, 2))
		expect_ok(w, rmap_fault(arena, mm, addr,
					tl_file_key(PRIVATE_INO, i), 0),
			  "private read fault");
	else	/* anon fault, swap-in to a new frame, or COW */
		expect_ok(w, rmap_fault(arena, mm, addr, new_anon_key(w),
					RMAP_FAULT_WRITE | RMAP_FAULT_ANON),
			  "anon/cow fault");
}

static void build_base_mm(struct worker *w)
{
	rmap_mm_t mm;

	REQUIRE_OK(rmap_mm_create(arena, 10000 + w->proc * 100 + w->id, 0,
				  &mm));
	tl_map_file(arena, mm, SHARED, VMA_PAGES, TL_SHARED_FLAGS,
		    SHARED_INO, 0);
	tl_map_file(arena, mm, PRIVATE, VMA_PAGES, TL_PRIV_FLAGS,
		    PRIVATE_INO, 0);
	tl_map_anon(arena, mm, ANON, VMA_PAGES, 0);
	for (unsigned i = 0; i < VMA_PAGES; i++)
		for (int v = 0; v < 3; v++)
			fault(w, mm, v, i);
	w->mm[0] = mm;
	w->nmm = 1;
}

/* page_referenced, or try_to_unmap under the page lock, on a shared page. */
static void scan_one(struct worker *w)
{
	uint64_t key = tl_file_key(rnd(w, 2) ? SHARED_INO : PRIVATE_INO,
				   rnd(w, VMA_PAGES));
	rmap_page_t p = rmap_page_find(arena, key);

	if (!p)
		return;
	if (rnd(w, 2)) {
		page_referenced(arena, p, 0);
	} else if (rmap_trylock_page(arena, p)) {
		/* as shrink_list: only a mapped page goes to try_to_unmap */
		if (rmap_page_mapcount(arena, p) > 0)
			try_to_unmap(arena, p);
		rmap_unlock_page(arena, p);
	}
}

static void worker_step(struct worker *w)
{
	int k = (int)rnd(w, w->nmm);
	rmap_mm_t mm = w->mm[k];
	uint64_t r = rnd(w, 100);

	if (r < 10 && w->nmm < MAX_OWN_MMS) {
		expect_ok(w, rmap_dup_mmap(arena, mm, 20000, 0, &w->mm[w->nmm]),
			  "dup_mmap");
		w->nmm++;
	} else if (r < 20 && k > 0) {
		expect_ok(w, rmap_exit_mmap(arena, mm, RMAP_CAUSE_EXIT),
			  "exit_mmap");
		w->mm[k] = w->mm[--w->nmm];
	} else if (r < 35) {
		static const uint64_t start[] = { SHARED, PRIVATE, ANON };
		uint64_t s = start[rnd(w, 3)] + rnd(w, VMA_PAGES) * TL_PAGE;

		expect_ok(w, rmap_zap_range(arena, mm, s,
					    s + (1 + rnd(w, 4)) * TL_PAGE,
					    RMAP_CAUSE_MADVISE), "zap");
	} else if (r < 90) {
		fault(w, mm, (int)rnd(w, 3), (unsigned)rnd(w, VMA_PAGES));
	} else {
		scan_one(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	build_base_mm(w);
	pthread_barrier_wait(&start);
	for (long i = 0; i < nr_ops; i++)
		worker_step(w);
	return NULL;
}

static void *reclaimer_main(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (long i = 0; i < nr_ops / 20; i++) {
		struct rmap_scan_result r;

		refill_inactive_zone(arena, 64, &r);
		shrink_list(arena, 64, &r);
	}
	return NULL;
}

/* Neither process starts before both have their threads (no sleeps). */
static void handshake(int proc)
{
	char c = 0;

	if (nr_procs == 1)
		return;
	if (proc) {
		REQUIRE(write(ready_pipe[1], &c, 1) == 1);
		REQUIRE(read(go_pipe[0], &c, 1) == 1);
	} else {
		REQUIRE(read(ready_pipe[0], &c, 1) == 1);
		REQUIRE(write(go_pipe[1], &c, 1) == 1);
	}
}

/* One process's share: NTHREADS workers and a reclaimer. */
static void run_process(int proc)
{
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS + 1];

	pthread_barrier_init(&start, NULL, NTHREADS + 2);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .proc = proc, .id = i,
					.rng = 0x9e3779b97f4a7c15ull *
					       (uint64_t)(1 + proc * 16 + i) };
		REQUIRE(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
	}
	REQUIRE(pthread_create(&th[NTHREADS], NULL, reclaimer_main, NULL) == 0);
	handshake(proc);
	pthread_barrier_wait(&start);
	for (int i = 0; i <= NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NTHREADS; i++)
		shared->errors[proc] += w[i].errors;
}

/* ---- verification at quiescence ---------------------------------------- */

struct pte_tally {
	uint32_t *per_page;
	long ptes;
};

static void tally(void *ctx, uint64_t addr, const struct rmap_pte_info *pte)
{
	struct pte_tally *t = ctx;

	(void)addr;
	t->per_page[pte->page]++;
	t->ptes++;
}

static long tally_key(struct pte_tally *t, uint64_t key, long *mapped)
{
	rmap_page_t p = rmap_page_find(arena, key);
	int mc;

	if (!p)
		return 0;
	mc = rmap_page_mapcount(arena, p);
	if (mc != (int)t->per_page[p])
		TL_FAIL("key %#llx: mapcount %d, %u ptes",
			(unsigned long long)key, mc, t->per_page[p]);
	*mapped += mc > 0;
	return t->per_page[p];
}

/* nr_mapped == pages with mapcount > 0, and mapcount == ptes, per page. */
static void verify_counts(void)
{
	struct rmap_counters c;
	struct pte_tally t = { 0 };
	long mapped = 0, seen = 0;

	rmap_counters(arena, &c);
	t.per_page = calloc(c.pages_max + 2, sizeof(*t.per_page));
	REQUIRE(t.per_page != NULL);
	for (rmap_mm_t mm = rmap_mm_next(arena, 0); mm;
	     mm = rmap_mm_next(arena, mm))
		rmap_walk_ptes(arena, mm, 0, 1ull << 47, tally, &t);
	for (uint64_t i = 0; i < VMA_PAGES; i++) {
		seen += tally_key(&t, tl_file_key(SHARED_INO, i), &mapped);
		seen += tally_key(&t, tl_file_key(PRIVATE_INO, i), &mapped);
	}
	for (int p = 0; p < NPROC; p++)
		for (int i = 0; i < NTHREADS; i++)
			for (uint64_t n = 0; n < shared->anon_keys[p][i]; n++)
				seen += tally_key(&t, anon_key(p, i, n),
						  &mapped);
	CHECK_EQ(seen, t.ptes);
	CHECK_EQ(c.nr_mapped, mapped);	/* the reclaimer may have left 0 */
	printf("[%s] %ld ptes on %ld mapped pages, %llu pages seen, "
	       "%llu on-the-fly violations\n", tl_mode, t.ptes, mapped,
	       (unsigned long long)c.pages_used,
	       (unsigned long long)c.violations);
	free(t.per_page);
}

static void exit_everything(void)
{
	rmap_mm_t mm;

	while ((mm = rmap_mm_next(arena, 0)) != 0)
		REQUIRE_OK(rmap_exit_mmap(arena, mm, RMAP_CAUSE_EXIT));
}

/* ---- the hot phase: few pages, four threads, many pairs ------------------ */

struct hot {
	rmap_mm_t mm;
	rmap_page_t page[HOT_PAGES];
	long pairs;
	long errors;
};

/* R1: dup/remove pairs on pages that stay mapped by an owner. */
static void *hot_dup_remove(void *arg)
{
	struct hot *h = arg;

	pthread_barrier_wait(&start);
	for (long i = 0; i < h->pairs; i++) {
		rmap_page_t p = h->page[i % HOT_PAGES];

		rmap_pte_lock(arena, h->mm);
		page_dup_rmap(arena, p);
		rmap_pte_unlock(arena, h->mm);
		rmap_pte_lock(arena, h->mm);
		page_remove_rmap(arena, p);
		rmap_pte_unlock(arena, h->mm);
	}
	return NULL;
}

/* R2: fault/zap pairs that take pages through unmapped <-> mapped. */
static void *hot_fault_zap(void *arg)
{
	struct hot *h = arg;

	pthread_barrier_wait(&start);
	for (long i = 0; i < h->pairs; i++) {
		unsigned j = (unsigned)(i % FLIP_PAGES);
		uint64_t addr = SHARED + j * TL_PAGE;

		h->errors += rmap_fault(arena, h->mm, addr,
					tl_file_key(FLIP_INO, j), 0) != 0;
		h->errors += rmap_zap_page(arena, h->mm, addr,
					   RMAP_CAUSE_MADVISE) != 0;
	}
	return NULL;
}

static void run_hot(void *(*fn)(void *), struct hot h[HOT_THREADS])
{
	pthread_t th[HOT_THREADS];

	pthread_barrier_init(&start, NULL, HOT_THREADS);
	for (int i = 0; i < HOT_THREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, fn, &h[i]) == 0);
	for (int i = 0; i < HOT_THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(h[i].errors, 0);
	}
	pthread_barrier_destroy(&start);
}

/* Returns how many new violations rmap_check() found (0: not caught). */
static long hot_phase(int rounds)
{
	struct hot h[HOT_THREADS];
	rmap_mm_t owner = tl_mm(arena, 30000);
	long before = rmap_check(arena, NULL, 0), found = 0;

	tl_map_file(arena, owner, SHARED, HOT_PAGES, TL_SHARED_FLAGS,
		    HOT_INO, 0);
	for (unsigned j = 0; j < HOT_PAGES; j++)
		tl_fault_file(arena, owner, SHARED, j, HOT_INO, 0, 0);
	for (int i = 0; i < HOT_THREADS; i++) {
		h[i] = (struct hot){ .mm = tl_mm(arena, 30001 + i),
				     .pairs = nr_ops < HOT_PAIRS ?
					      nr_ops : HOT_PAIRS };
		tl_map_file(arena, h[i].mm, SHARED, HOT_PAGES, TL_SHARED_FLAGS,
			    FLIP_INO, 0);
		for (unsigned j = 0; j < HOT_PAGES; j++)
			h[i].page[j] = rmap_page_find(arena,
						tl_file_key(HOT_INO, j));
	}
	for (int r = 0; r < rounds && !found; r++) {
		/*
		 * Plain contention needs two threads on CPUs at once; on a
		 * busy machine, widen the race windows with perturbation
		 * (yields and delays: much slower, so fewer pairs).
		 */
		if (r == PLAIN_ROUNDS) {
			rmap_perturb(arena, 0x2004);
			for (int i = 0; i < HOT_THREADS; i++)
				h[i].pairs /= 20;
		}
		run_hot(hot_dup_remove, h);
		run_hot(hot_fault_zap, h);
		found = rmap_check(arena, NULL, 0) - before;
		printf("[%s] hot round %d: %ld violation(s), nr_mapped %lld\n",
		       tl_mode, r, found, (long long)tl_nr_mapped(arena));
	}
	rmap_perturb(arena, 0);
	return found;
}

/* The second process attaches the arena by path, as an exec'd one would. */
static pid_t start_second_process(const char *path)
{
	pid_t child = fork();

	REQUIRE(child >= 0);
	if (child)
		return child;
	tl_forget_arenas();
	rmap_arena_detach(arena);
	REQUIRE_OK(rmap_arena_attach(path, &arena));
	run_process(1);
	rmap_arena_detach(arena);
	_exit(shared->errors[1] || tl_failures ? 1 : 0);
}

int main(int argc, char **argv)
{
	enum rmap_mode mode = tl_mode_arg(argc, argv);
	int broken = mode == RMAP_BROKEN_NONATOMIC ||
		     mode == RMAP_BROKEN_UNBIASED;
	struct tl_arena t;
	pid_t child = 0;
	int status;

	nr_ops = argc > 2 ? atol(argv[2]) : 30000;
	nr_procs = argc > 3 ? atoi(argv[3]) : NPROC;
	REQUIRE(nr_procs == 1 || nr_procs == NPROC);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(shared != MAP_FAILED);
	arena = tl_arena_open(&t, mode);
	REQUIRE(pipe(ready_pipe) == 0 && pipe(go_pipe) == 0);

	if (broken) {
		/* The broken modes exist to be caught, not to be stressed. */
		CHECK(hot_phase(HOT_ROUNDS) >= 1);
		exit_everything();
		tl_arena_close(&t);
		return tl_exit_status();
	}

	if (nr_procs > 1)
		child = start_second_process(t.path);
	run_process(0);
	if (nr_procs > 1) {
		REQUIRE(waitpid(child, &status, 0) == child);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ(shared->errors[0] + shared->errors[1], 0);

	CHECK_CLEAN(arena);
	/* Nobody died holding a lock: none may have been taken over. */
	CHECK_EQ(rmap_locks_broken(arena), 0);
	verify_counts();
	exit_everything();
	CHECK_EQ(tl_nr_mapped(arena), 0);
	CHECK_CLEAN(arena);

	/* The control for the broken modes: the same hammering stays clean. */
	CHECK_EQ(hot_phase(1), 0);
	exit_everything();
	CHECK_EQ(tl_nr_mapped(arena), 0);
	CHECK_CLEAN(arena);
	tl_arena_close(&t);
	return tl_exit_status();
}
