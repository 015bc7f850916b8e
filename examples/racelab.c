/* SPDX-License-Identifier: MIT */
/*
 * racelab - a workload that keeps every race window of spec section 5
 * busy (issue 5), meant for `rmapshim run --perturb --reclaim`.
 *
 * The main process maps an anon region, a shared anon (shmem) region and
 * a shared file, then forks PROCS workers that inherit all three: the
 * first WORKER_PAGES anon pages are then mapped by every worker at once
 * (workers unmap the rest).  Each worker runs
 * two threads until the deadline:
 *   storm thread: forks children (page_dup_rmap on the shared pages)
 *     that COW-write, fault fresh anon pages (a new anon_vma that dies
 *     with them: R9), munmap part of the shared region and exit, with up
 *     to 4 children alive, so dup races remove (R1) and exits race the
 *     reclaimer (R5, R6); COW-writes its own slice; DONTNEEDs and refaults.
 *   map thread: maps, fills and unmaps fresh anon regions while the storm
 *     thread forks (first map racing vmscan: R4, R8), maps the shared file
 *     (file rmap on pages others map), and truncates and re-extends the
 *     worker's own file, which it and its storm children keep mapped; a
 *     fork right after the refill shows the shadow the new page cache pages,
 *     so it truncates the old ones while vmscan may be testing them (R7).
 * Re-reading pages the shadow reclaimer swapped out refaults them (R3).
 * Halfway, every worker parks so the main process checkpoints a quiet tree.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
"usage: racelab [-t SECONDS] [-s SEED] [-p PROCS] [-v]\n"
"Concurrent fork, exit, COW, munmap, file-map and truncate storms on pages\n"
"shared by PROCS worker processes (two threads each) for SECONDS seconds.\n"
"Meant for: rmapshim run --perturb --reclaim -- racelab\n"
"  -t, --seconds T   run time (default 5; 0 = one round of everything)\n"
"  -s, --seed S      seed of the workers' random choices (default 1)\n"
"  -p, --procs N     worker processes (default 4)\n"
"  -v, --verbose     also print operation counts (they depend on timing)\n"
"  -h, --help        this text\n"
"Prints \"racelab: done\".\n";

#define INHERITED_PAGES	2048	/* private anon, shared by all over fork */
/*
 * Workers keep only the start of it: under --perturb a fork costs a delay
 * per pte, and more forks and exits per second open more race windows
 * than more pages per fork do.
 */
#define WORKER_PAGES	128
#define SHMEM_PAGES	256
#define FILE_PAGES	256
#define SLICE_PAGES	32	/* each worker's own COW slice of the region */
#define MAX_PROCS	32
#define MAX_CHILDREN	4
#define CHURN_PAGES	32
#define TRUNC_PAGES	64

enum op { OP_FORK, OP_COW, OP_DONTNEED, OP_ANON, OP_FILE, OP_SHARED_WRITE,
	  OP_TRUNCATE, OP_NR };
static const char *const op_name[OP_NR] = {
	"forks", "cow", "dontneed", "anon_maps", "file_maps", "shared_writes",
	"truncates"
};

struct lab {
	char *inherited, *shmem, *file_map;
	int file_fd;
	double deadline;
	unsigned long seed, procs, worker;
	uint64_t counts[OP_NR];		/* atomic: both threads add */
	int stop;			/* atomic: the storm thread is done forking */
	int trunc_fd;			/* the worker's own file ... */
	char *trunc_map;		/* ... mapped shared for the worker's life */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t next_rand(uint64_t *state)
{
	*state = ex_mix64(*state + 0x9e3779b97f4a7c15ull);
	return *state;
}

static void count(struct lab *lab, enum op op)
{
	__atomic_fetch_add(&lab->counts[op], 1, __ATOMIC_RELAXED);
}

static int running(const struct lab *lab, unsigned long round)
{
	return round == 0 || now_s() < lab->deadline;
}

/* A child: only memory accesses and raw syscalls (its parent is threaded). */
static void storm_child(struct lab *lab, uint64_t r)
{
	size_t ps = ex_page_size(), chunk;
	unsigned cows = 1 + r % 16;
	char *fresh;

	for (unsigned i = 0; i < cows; i++)
		ex_set_word(lab->inherited, next_rand(&r) % WORKER_PAGES, r);
	for (unsigned i = 0; i < 64; i++)
		(void)ex_word(lab->inherited, next_rand(&r) % WORKER_PAGES);
	fresh = mmap(NULL, 16 * ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh != MAP_FAILED)
		memset(fresh, 1, 16 * ps);
	if (r & 1) {
		chunk = next_rand(&r) % (WORKER_PAGES / 16) * 16;
		munmap(lab->inherited + chunk * ps, 16 * ps);
	}
	_exit(0);
}

static void reap_oldest(pid_t *kids, unsigned *n)
{
	ex_wait_ok(kids[0], "storm child");
	memmove(kids, kids + 1, --*n * sizeof(*kids));
}

static void storm_round(struct lab *lab, uint64_t *r, pid_t *kids, unsigned *n)
{
	size_t ps = ex_page_size();
	char *slice = lab->inherited + lab->worker % (WORKER_PAGES / SLICE_PAGES) *
				       SLICE_PAGES * ps;
	uint64_t x = next_rand(r);
	pid_t pid;

	switch (x % 3) {
	case 0:
		if (*n == MAX_CHILDREN)
			reap_oldest(kids, n);
		pid = fork();
		if (pid < 0)
			ex_die_errno("fork");
		if (pid == 0)
			storm_child(lab, x);
		kids[(*n)++] = pid;
		count(lab, OP_FORK);
		break;
	case 1:
		ex_set_word(slice, x % SLICE_PAGES, x);
		count(lab, OP_COW);
		break;
	case 2:
		if (madvise(slice, SLICE_PAGES / 2 * ps, MADV_DONTNEED))
			ex_die_errno("madvise(MADV_DONTNEED)");
		ex_fill(slice, SLICE_PAGES / 2, x);
		count(lab, OP_DONTNEED);
		break;
	}
}

/*
 * Truncation zaps the mapped pages in every process; growing back and
 * refilling gives fresh ones.  Storm children inherit the mapping but never
 * touch it (it is briefly beyond EOF here).
 */
static void truncate_round(struct lab *lab, uint64_t x)
{
	size_t len = TRUNC_PAGES * ex_page_size();
	pid_t pid;

	if (ftruncate(lab->trunc_fd, 0) || ftruncate(lab->trunc_fd, (off_t)len))
		ex_die_errno("ftruncate");
	ex_fill(lab->trunc_map, TRUNC_PAGES, x);
	/* the tracer reads our pages at a fork: it meets the new page cache pages */
	pid = fork();
	if (pid < 0)
		ex_die_errno("fork");
	if (pid == 0)
		_exit(ex_word(lab->trunc_map, x % TRUNC_PAGES) !=
		      ex_page_value(x, x % TRUNC_PAGES));
	ex_wait_ok(pid, "truncate child");
	count(lab, OP_TRUNCATE);
}

static void map_round(struct lab *lab, uint64_t *r)
{
	size_t ps = ex_page_size();
	uint64_t x = next_rand(r);
	char *p;

	switch (x % 4) {
	case 0:
		p = ex_map_anon(CHURN_PAGES);
		ex_fill(p, CHURN_PAGES, x);
		ex_unmap(p + 8 * ps, 8);	/* split the vma first */
		ex_unmap(p, 8);
		ex_unmap(p + 16 * ps, CHURN_PAGES - 16);
		count(lab, OP_ANON);
		break;
	case 1:
		p = mmap(NULL, FILE_PAGES * ps, PROT_READ | PROT_WRITE, MAP_SHARED,
			 lab->file_fd, 0);
		if (p == MAP_FAILED)
			ex_die_errno("mmap of the shared file");
		for (size_t i = x % 8; i < FILE_PAGES; i += 8)
			(void)ex_word(p, i);
		ex_set_word(p, x % FILE_PAGES, x);
		ex_unmap(p, FILE_PAGES);
		count(lab, OP_FILE);
		break;
	case 2:
		ex_set_word(lab->shmem, x % SHMEM_PAGES, x);
		ex_set_word(lab->file_map, x % FILE_PAGES, x);
		count(lab, OP_SHARED_WRITE);
		break;
	case 3:
		truncate_round(lab, x);
		break;
	}
}

static void *map_thread(void *arg)
{
	struct lab *lab = arg;
	uint64_t r = ex_mix64(lab->seed ^ (lab->worker << 8 | 2));

	for (unsigned long round = 0;
	     round == 0 || !__atomic_load_n(&lab->stop, __ATOMIC_ACQUIRE); round++)
		map_round(lab, &r);
	return NULL;
}

/* One phase of a worker: both threads until the deadline, children reaped. */
static void worker_phase(struct lab *lab, double deadline, uint64_t *r)
{
	pid_t kids[MAX_CHILDREN];
	unsigned n = 0;
	pthread_t mapper;
	int err;

	lab->deadline = deadline;
	lab->stop = 0;
	err = pthread_create(&mapper, NULL, map_thread, lab);
	if (err)
		ex_die("pthread_create: %s", strerror(err));
	for (unsigned long round = 0; running(lab, round); round++)
		storm_round(lab, r, kids, &n);
	/*
	 * The mapper outlives the last fork: a child forked after a thread
	 * finished but before it was joined inherits a zombie thread, which
	 * ThreadSanitizer reports as a leak at the child's exit.
	 */
	__atomic_store_n(&lab->stop, 1, __ATOMIC_RELEASE);
	pthread_join(mapper, NULL);
	while (n)
		reap_oldest(kids, &n);
}

static void worker(struct lab *lab, double t0, double seconds,
		   struct ex_chan *up, struct ex_chan *down)
{
	char path[4096];
	uint64_t r = ex_mix64(lab->seed ^ (lab->worker << 8 | 1));

	ex_chan_keep_wr(up);
	ex_chan_keep_rd(down);
	ex_unmap(lab->inherited + WORKER_PAGES * ex_page_size(),
		 INHERITED_PAGES - WORKER_PAGES);
	lab->trunc_fd = ex_temp_file("racelab-trunc", TRUNC_PAGES, path, sizeof(path));
	unlink(path);
	lab->trunc_map = mmap(NULL, TRUNC_PAGES * ex_page_size(), PROT_READ | PROT_WRITE,
			      MAP_SHARED, lab->trunc_fd, 0);
	if (lab->trunc_map == MAP_FAILED)
		ex_die_errno("mmap of the truncate file");
	ex_fill(lab->trunc_map, TRUNC_PAGES, 0);
	worker_phase(lab, t0 + seconds / 2, &r);
	ex_chan_send(up, 0);		/* parked: the main process checkpoints */
	ex_chan_recv(down);
	worker_phase(lab, t0 + seconds, &r);
	for (int op = 0; op < OP_NR; op++)
		ex_chan_send(up, lab->counts[op]);
	_exit(0);
}

/* Start the workers, checkpoint while they are parked, collect their counts. */
static void run_workers(struct lab *lab, double seconds, uint64_t totals[OP_NR])
{
	struct ex_chan up[MAX_PROCS], down[MAX_PROCS];
	pid_t pid[MAX_PROCS];
	double t0 = now_s();
	unsigned long w;

	for (w = 0; w < lab->procs; w++) {
		ex_chan_open(&up[w]);
		ex_chan_open(&down[w]);
		lab->worker = w;
		pid[w] = ex_fork();
		if (pid[w] == 0)
			worker(lab, t0, seconds, &up[w], &down[w]);
		ex_chan_keep_rd(&up[w]);
		ex_chan_keep_wr(&down[w]);
	}
	for (w = 0; w < lab->procs; w++)
		ex_chan_recv(&up[w]);
	rmapshim_checkpoint("racelab:midpoint");
	for (w = 0; w < lab->procs; w++)
		ex_chan_send(&down[w], 0);
	for (w = 0; w < lab->procs; w++) {
		for (int op = 0; op < OP_NR; op++)
			totals[op] += ex_chan_recv(&up[w]);
		ex_chan_close(&up[w]);
		ex_chan_close(&down[w]);
		ex_wait_ok(pid[w], "worker");
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lab lab = { .seed = 1, .procs = 4 };
	uint64_t totals[OP_NR] = { 0 };
	double seconds = 5;
	char path[4096];
	int verbose = 0, c;

	ex_cli_init("racelab", usage);
	while ((c = ex_getopt(argc, argv, ":t:s:p:vh", longopts)) != -1) {
		switch (c) {
		case 't':
			seconds = ex_parse_double("-t", optarg, 0, 86400);
			break;
		case 's':
			lab.seed = ex_parse_ulong("-s", optarg, 0, ~0ul);
			break;
		case 'p':
			lab.procs = ex_parse_ulong("-p", optarg, 1, MAX_PROCS);
			break;
		case 'v':
			verbose = 1;
			break;
		}
	}
	ex_no_operands(argc, argv);

	lab.inherited = ex_map_anon(INHERITED_PAGES);
	ex_fill(lab.inherited, INHERITED_PAGES, 1);
	lab.shmem = ex_map_shared_anon(SHMEM_PAGES);
	ex_fill(lab.shmem, SHMEM_PAGES, 2);
	lab.file_fd = ex_temp_file("racelab", FILE_PAGES, path, sizeof(path));
	unlink(path);	/* nothing to clean up, whatever happens */
	lab.file_map = mmap(NULL, FILE_PAGES * ex_page_size(),
			    PROT_READ | PROT_WRITE, MAP_SHARED, lab.file_fd, 0);
	if (lab.file_map == MAP_FAILED)
		ex_die_errno("mmap of the shared file");
	ex_fill(lab.file_map, FILE_PAGES, 3);
	rmapshim_checkpoint("racelab:setup");

	run_workers(&lab, seconds, totals);
	rmapshim_checkpoint("racelab:end");
	/* Workers and children only ever wrote their own COW copies. */
	if (ex_count_bad(lab.inherited, INHERITED_PAGES, 1))
		ex_die("a COW write leaked into the main process");

	printf("racelab: done\n");
	if (verbose)
		for (int op = 0; op < OP_NR; op++)
			printf("racelab: %s=%llu\n", op_name[op],
			       (unsigned long long)totals[op]);
	return 0;
}
