/* SPDX-License-Identifier: MIT */
/*
 * rmapcore-bench - what the seed patch buys, measured on the shadow rmap.
 *
 * 1. The fork+exit pair: page_dup_rmap (copy_page_range) then
 *    page_remove_rmap (zap_pte_range) over a run of mapped pages, per mode,
 *    with page_table_lock taken per 512-pte batch as the kernel does (and
 *    bare, without it): 1 worker; 2 workers as threads and as processes on
 *    one shared arena, on the same pages and on different pages.
 * 2. Fork-copy + zap of an mm with 262,144 present pages (rmap_dup_mmap,
 *    then rmap_exit_mmap of the child), per mode, in ns/page, next to the
 *    real kernel's fork + _exit + waitpid of a process with 1 GiB resident
 *    in 4 KiB pages, measured in the same run.
 * 3. Fork-copy + zap of a sparse mm shaped like a small process (forkstorm
 *    at 0 MiB): 40 vmas over the 47-bit space holding 1,000 present
 *    pages, in us/fork: what the page-table walks cost where most entries
 *    they pass are empty.
 *
 * Every measurement is repeated, interleaved across modes, and the median
 * is reported.  Usage: rmapcore-bench [--quick] [--json] [--reps N]
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rmapcore.h"

#define PAGE		4096ull
#define BATCH		512	/* ptes per page-table page: one ptl hold */
#define NMODES		3
#define MAX_REPS	15
#define OWNER_START	0x100000000ull
#define SPARSE_VMAS	40
#define SPARSE_PAGES	25	/* present per vma */
#define SPARSE_FORKS	50	/* per measurement */

enum pair_cfg { ONE, THR_SAME, THR_DIFF, PROC_SAME, PROC_DIFF, NCFG };
static const char *const cfg_name[NCFG] = {
	"1 thread", "2 threads, same pages", "2 threads, different pages",
	"2 processes, same pages", "2 processes, different pages" };
static const char *const cfg_key[NCFG] = {
	"one", "threads_same", "threads_diff", "procs_same", "procs_diff" };

static struct {
	int quick, json, reps;
	unsigned mm_pages;	/* the forked mm: 262,144 = 1 GiB */
	unsigned run_pages;	/* pages one pair worker walks */
	int passes;		/* pair walks per measurement */
} opt = { .reps = 5, .mm_pages = 262144, .run_pages = 131072, .passes = 4 };

struct mode_bench {
	enum rmap_mode mode;
	char dir[64], path[96];
	struct rmap_arena *a;
	rmap_mm_t owner;	/* maps mm_pages anon pages */
	rmap_mm_t sparse;	/* SPARSE_VMAS vmas, SPARSE_PAGES present each */
	rmap_page_t *pages;	/* the owner's pages, in address order */
	double pair[2][NCFG][MAX_REPS];	/* [ptl][cfg][rep] ns/pair */
	double forkzap[MAX_REPS];	/* ns/page */
	double sparse_fz[MAX_REPS];	/* us/fork */
};

static double kernel_forkexit[MAX_REPS];	/* ns/page */
static struct mode_bench modes[NMODES];
static pid_t bench_pid;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Arena files go even when die() exits; forked workers leave them be. */
static void remove_arenas(void)
{
	if (getpid() != bench_pid)
		return;
	for (int m = 0; m < NMODES; m++)
		if (modes[m].path[0]) {
			unlink(modes[m].path);
			rmdir(modes[m].dir);
		}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "rmapcore-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- setup --------------------------------------------------------------- */

/*
 * Like a small process: 10 vmas near the program, 20 near the libraries,
 * 10 near the stack; every fifth 8 MiB with its pages 200 KiB apart, the
 * others 256 KiB with theirs 8 KiB apart.
 */
static void setup_sparse(struct mode_bench *mb)
{
	uint64_t key = 0x10000000;
	int ret;

	if ((ret = rmap_mm_create(mb->a, 3, 0, &mb->sparse)))
		die("sparse mm", -ret);
	for (uint64_t v = 0; v < SPARSE_VMAS; v++) {
		uint64_t start = v < 10 ? 0x555555554000ull + v * 0x600000 :
				 v < 30 ? 0x7f0000000000ull + (v - 10) * 0x1000000 :
					  0x7ffd00000000ull + (v - 30) * 0x40000000;
		uint64_t pages = v % 5 ? 64 : 2048, stride = v % 5 ? 2 : 50;

		ret = rmap_mmap_region(mb->a, mb->sparse, start, start + pages * PAGE,
				       RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_MAYWRITE,
				       start / PAGE, NULL);
		for (uint64_t i = 0; !ret && i < SPARSE_PAGES; i++)
			ret = rmap_fault(mb->a, mb->sparse, start + i * stride * PAGE,
					 key++, RMAP_FAULT_WRITE | RMAP_FAULT_ANON);
		if (ret)
			die("sparse mm", -ret);
	}
}

static void setup_mode(struct mode_bench *mb, enum rmap_mode mode)
{
	struct rmap_arena_config cfg;
	const char *tmp = getenv("TMPDIR");
	uint64_t end = OWNER_START + opt.mm_pages * PAGE;
	int ret;

	mb->mode = mode;
	snprintf(mb->dir, sizeof(mb->dir), "%s/rmapcore-bench.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(mb->dir))
		die("mkdtemp", errno);
	snprintf(mb->path, sizeof(mb->path), "%s/arena", mb->dir);
	if (!bench_pid) {
		bench_pid = getpid();
		atexit(remove_arenas);
	}
	rmap_arena_default_config(&cfg);
	cfg.mode = mode;
	cfg.lockstat_times = 0;	/* measure the rmap, not the stopwatch */
	if ((ret = rmap_arena_create(mb->path, &cfg, &mb->a)))
		die("rmap_arena_create", -ret);
	if ((ret = rmap_mm_create(mb->a, 1, 0, &mb->owner)) ||
	    (ret = rmap_mmap_region(mb->a, mb->owner, OWNER_START, end,
				    RMAP_VM_READ | RMAP_VM_WRITE |
				    RMAP_VM_MAYWRITE, OWNER_START / PAGE,
				    NULL)))
		die("owner mm", -ret);
	mb->pages = calloc(opt.mm_pages, sizeof(*mb->pages));
	for (unsigned i = 0; i < opt.mm_pages; i++) {
		ret = rmap_fault(mb->a, mb->owner, OWNER_START + i * PAGE,
				 0x100000 + i, RMAP_FAULT_WRITE |
				 RMAP_FAULT_ANON);
		if (ret)
			die("owner fault", -ret);
		mb->pages[i] = rmap_page_find(mb->a, 0x100000 + i);
	}
	setup_sparse(mb);
}

static void teardown_mode(struct mode_bench *mb)
{
	rmap_exit_mmap(mb->a, mb->sparse, RMAP_CAUSE_EXIT);
	rmap_exit_mmap(mb->a, mb->owner, RMAP_CAUSE_EXIT);
	rmap_arena_detach(mb->a);
	free(mb->pages);
}

/* ---- the fork+exit pair -------------------------------------------------- */

struct pair_worker {
	struct rmap_arena *a;
	rmap_page_t *pages;	/* run_pages of them */
	rmap_mm_t mm;		/* whose page_table_lock stands for the child's */
	int ptl;
	pthread_barrier_t *start;
	int go_fd;		/* processes: wait for a byte instead */
	double ns;
};

/*
 * One fork (dup every page) then one exit (remove every page), passes
 * times; the ptl is held per BATCH ptes as copy_page_range and
 * zap_pte_range hold it per page-table page.
 */
static void pair_walk(struct pair_worker *w)
{
	for (int pass = 0; pass < opt.passes; pass++)
		for (int remove = 0; remove < 2; remove++)
			for (unsigned b = 0; b < opt.run_pages; b += BATCH) {
				if (w->ptl)
					rmap_pte_lock(w->a, w->mm);
				for (unsigned i = b; i < b + BATCH; i++) {
					if (remove)
						page_remove_rmap(w->a, w->pages[i]);
					else
						page_dup_rmap(w->a, w->pages[i]);
				}
				if (w->ptl)
					rmap_pte_unlock(w->a, w->mm);
			}
}

static void *pair_thread(void *arg)
{
	struct pair_worker *w = arg;
	double t0;

	if (w->start)
		pthread_barrier_wait(w->start);
	t0 = now_ns();
	pair_walk(w);
	w->ns = (now_ns() - t0) / ((double)opt.passes * opt.run_pages);
	return NULL;
}

static void pair_worker_init(struct pair_worker *w, struct mode_bench *mb,
			     int idx, int diff, int ptl)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->a = mb->a;
	w->pages = mb->pages + (diff ? idx * opt.run_pages : 0);
	w->ptl = ptl;
	if ((ret = rmap_mm_create(mb->a, 100 + idx, 0, &w->mm)))
		die("worker mm", -ret);
}

/* The worker mms are empty: drop them so the mm pool never fills. */
static void pair_workers_done(struct mode_bench *mb, struct pair_worker *w,
			      int n)
{
	for (int i = 0; i < n; i++)
		rmap_exit_mmap(mb->a, w[i].mm, RMAP_CAUSE_EXIT);
}

/* Two worker processes attached by path, released together by a pipe. */
static double pair_processes(struct mode_bench *mb, int diff, int ptl)
{
	struct pair_worker w[2];
	int go[2], res[2];
	pid_t pid[2];
	double worst = 0;

	if (pipe(go) || pipe(res))
		die("pipe", errno);
	for (int i = 0; i < 2; i++) {
		char c;

		pair_worker_init(&w[i], mb, i, diff, ptl);
		if ((pid[i] = fork()) < 0)
			die("fork", errno);
		if (pid[i])
			continue;
		if (rmap_arena_attach(mb->path, &w[i].a))
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		pair_thread(&w[i]);
		_exit(write(res[1], &w[i].ns, sizeof(double)) != sizeof(double));
	}
	if (write(go[1], "gg", 2) != 2)
		die("write", errno);
	for (int i = 0; i < 2; i++) {
		double ns;

		if (read(res[0], &ns, sizeof(ns)) != sizeof(ns))
			die("worker process", EIO);
		worst = ns > worst ? ns : worst;
		waitpid(pid[i], NULL, 0);
	}
	close(go[0]), close(go[1]), close(res[0]), close(res[1]);
	pair_workers_done(mb, w, 2);
	return worst;
}

static double pair_threads(struct mode_bench *mb, int n, int diff, int ptl)
{
	struct pair_worker w[2];
	pthread_t th[2];
	pthread_barrier_t start;
	double worst = 0;

	pthread_barrier_init(&start, NULL, n);
	for (int i = 0; i < n; i++) {
		pair_worker_init(&w[i], mb, i, diff, ptl);
		w[i].start = &start;
		pthread_create(&th[i], NULL, pair_thread, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		worst = w[i].ns > worst ? w[i].ns : worst;
	}
	pthread_barrier_destroy(&start);
	pair_workers_done(mb, w, n);
	return worst;
}

static double pair_measure(struct mode_bench *mb, enum pair_cfg c, int ptl)
{
	switch (c) {
	case ONE:	return pair_threads(mb, 1, 0, ptl);
	case THR_SAME:	return pair_threads(mb, 2, 0, ptl);
	case THR_DIFF:	return pair_threads(mb, 2, 1, ptl);
	case PROC_SAME:	return pair_processes(mb, 0, ptl);
	default:	return pair_processes(mb, 1, ptl);
	}
}

/* ---- fork-copy + zap, shadow and kernel ------------------------------------ */

static double forkzap_measure(struct mode_bench *mb)
{
	rmap_mm_t child;
	double t0 = now_ns(), t1;
	int ret;

	if ((ret = rmap_dup_mmap(mb->a, mb->owner, 2, 0, &child)))
		die("rmap_dup_mmap", -ret);
	if ((ret = rmap_exit_mmap(mb->a, child, RMAP_CAUSE_EXIT)))
		die("rmap_exit_mmap", -ret);
	t1 = now_ns();
	return (t1 - t0) / opt.mm_pages;
}

static double sparse_measure(struct mode_bench *mb)
{
	double t0 = now_ns();
	rmap_mm_t child;
	int ret;

	for (int i = 0; i < SPARSE_FORKS; i++)
		if ((ret = rmap_dup_mmap(mb->a, mb->sparse, 4, 0, &child)) ||
		    (ret = rmap_exit_mmap(mb->a, child, RMAP_CAUSE_EXIT)))
			die("sparse fork", -ret);
	return (now_ns() - t0) / SPARSE_FORKS / 1000;
}

/*
 * A helper process holding mm_pages resident 4 KiB pages forks, the child
 * _exits, the helper reaps it: one request byte in, one ns/page out.
 */
static pid_t kernel_helper(int *req_fd, int *res_fd)
{
	int req[2], res[2];
	pid_t pid;

	if (pipe(req) || pipe(res))
		die("pipe", errno);
	if ((pid = fork()) < 0)
		die("fork", errno);
	if (pid == 0) {
		size_t len = (size_t)opt.mm_pages * PAGE;
		char c, *mem;

		/* our own copy of the write end would keep read() from EOF */
		close(req[1]), close(res[0]);
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || madvise(mem, len, MADV_NOHUGEPAGE))
			_exit(1);
		memset(mem, 1, len);
		while (read(req[0], &c, 1) == 1) {
			double t0 = now_ns(), ns;
			pid_t kid = fork();

			if (kid == 0)
				_exit(0);
			waitpid(kid, NULL, 0);
			ns = (now_ns() - t0) / opt.mm_pages;
			if (write(res[1], &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
		}
		_exit(0);
	}
	close(req[0]), close(res[1]);
	*req_fd = req[1];
	*res_fd = res[0];
	return pid;
}

static double kernel_measure(int req_fd, int res_fd)
{
	double ns;

	if (write(req_fd, "f", 1) != 1 ||
	    read(res_fd, &ns, sizeof(ns)) != sizeof(ns))
		die("kernel helper", EIO);
	return ns;
}

/* ---- report ------------------------------------------------------------------ */

static void report(struct mode_bench mb[NMODES])
{
	double pair[NMODES][2][NCFG], fz[NMODES], sp[NMODES], kern;
	int n = opt.reps;

	for (int m = 0; m < NMODES; m++) {
		for (int p = 0; p < 2; p++)
			for (int c = 0; c < NCFG; c++)
				pair[m][p][c] = median(mb[m].pair[p][c], n);
		fz[m] = median(mb[m].forkzap, n);
		sp[m] = median(mb[m].sparse_fz, n);
	}
	kern = median(kernel_forkexit, n);

	if (opt.json) {
		printf("{\"reps\": %d, \"quick\": %s, \"run_pages\": %u, "
		       "\"mm_pages\": %u, \"pair_ns\": {", n,
		       opt.quick ? "true" : "false", opt.run_pages,
		       opt.mm_pages);
		for (int m = 0; m < NMODES; m++) {
			printf("%s\"%s\": {", m ? ", " : "",
			       rmap_mode_name(mb[m].mode));
			for (int p = 0; p < 2; p++) {
				printf("%s\"%s\": {", p ? ", " : "",
				       p ? "ptl" : "bare");
				for (int c = 0; c < NCFG; c++)
					printf("%s\"%s\": %.2f", c ? ", " : "",
					       cfg_key[c], pair[m][p][c]);
				printf("}");
			}
			printf("}");
		}
		printf("}, \"forkzap_ns_per_page\": {");
		for (int m = 0; m < NMODES; m++)
			printf("%s\"%s\": %.2f", m ? ", " : "",
			       rmap_mode_name(mb[m].mode), fz[m]);
		printf("}, \"sparse_forkzap_us\": {");
		for (int m = 0; m < NMODES; m++)
			printf("%s\"%s\": %.2f", m ? ", " : "",
			       rmap_mode_name(mb[m].mode), sp[m]);
		printf("}, \"kernel_forkexit_ns_per_page\": %.2f, "
		       "\"ratios\": {\"pair_locked_over_lockless\": %.3f, "
		       "\"pair_locked_over_lockless_rcu\": %.3f, "
		       "\"pair_bare_locked_over_lockless\": %.3f, "
		       "\"contention_2way_same_lockless\": %.3f, "
		       "\"contention_2way_same_locked\": %.3f, "
		       "\"contention_2way_diff_lockless\": %.3f, "
		       "\"forkzap_lockless_over_kernel\": %.3f, "
		       "\"forkzap_locked_over_kernel\": %.3f, "
		       "\"forkzap_lockless_rcu_over_kernel\": %.3f}}\n",
		       kern, pair[0][1][ONE] / pair[1][1][ONE],
		       pair[0][1][ONE] / pair[2][1][ONE],
		       pair[0][0][ONE] / pair[1][0][ONE],
		       pair[1][1][THR_SAME] / pair[1][1][ONE],
		       pair[0][1][THR_SAME] / pair[0][1][ONE],
		       pair[1][1][THR_DIFF] / pair[1][1][ONE],
		       fz[1] / kern, fz[0] / kern, fz[2] / kern);
		return;
	}

	printf("fork+exit pair (page_dup_rmap + page_remove_rmap), ns/pair, "
	       "median of %d, %u pages per worker\n", n, opt.run_pages);
	printf("%-30s", "");
	for (int m = 0; m < NMODES; m++)
		printf(" %17s", rmap_mode_name(mb[m].mode));
	printf("\n%-30s", "");
	for (int m = 0; m < NMODES; m++)
		printf(" %8s %8s", "ptl", "bare");
	printf("\n");
	for (int c = 0; c < NCFG; c++) {
		printf("%-30s", cfg_name[c]);
		for (int m = 0; m < NMODES; m++)
			printf(" %8.2f %8.2f", pair[m][1][c], pair[m][0][c]);
		printf("\n");
	}
	printf("\nlocked/lockless, 1 thread, ptl:   %.3f  (goal >= 1.10)\n",
	       pair[0][1][ONE] / pair[1][1][ONE]);
	printf("locked/lockless-rcu, 1 thread, ptl: %.3f\n",
	       pair[0][1][ONE] / pair[2][1][ONE]);
	printf("locked/lockless, 1 thread, bare:  %.3f\n",
	       pair[0][0][ONE] / pair[1][0][ONE]);
	for (int m = 0; m < NMODES; m++)
		printf("2-way contention (%s, ptl): same pages %.2fx, "
		       "different pages %.2fx of 1 thread\n",
		       rmap_mode_name(mb[m].mode),
		       pair[m][1][THR_SAME] / pair[m][1][ONE],
		       pair[m][1][THR_DIFF] / pair[m][1][ONE]);

	printf("\nfork-copy + zap of %u present pages, ns/page, median of %d\n",
	       opt.mm_pages, n);
	printf("  kernel fork+_exit+waitpid (%u MiB resident): %8.2f\n",
	       (unsigned)(opt.mm_pages * PAGE >> 20), kern);
	for (int m = 0; m < NMODES; m++)
		printf("  shadow %-13s %8.2f  shadow/kernel %.3f%s\n",
		       rmap_mode_name(mb[m].mode), fz[m], fz[m] / kern,
		       mb[m].mode == RMAP_LOCKLESS ? "  (goal <= 0.3)" : "");
	printf("\nfork-copy + zap of a sparse mm (%d vmas over 47 bits, %d "
	       "present pages), us/fork, median of %d\n", SPARSE_VMAS,
	       SPARSE_VMAS * SPARSE_PAGES, n);
	for (int m = 0; m < NMODES; m++)
		printf("  shadow %-13s %8.2f\n", rmap_mode_name(mb[m].mode), sp[m]);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt.quick = 1;
		} else if (!strcmp(argv[i], "--json")) {
			opt.json = 1;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			opt.reps = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--quick] [--json] "
				"[--reps N]\n", argv[0]);
			exit(2);
		}
	}
	if (opt.quick) {
		opt.mm_pages = 16384;
		opt.run_pages = 8192;
		opt.passes = 2;
		if (opt.reps > 3)
			opt.reps = 3;
	}
	if (opt.reps < 1 || opt.reps > MAX_REPS)
		opt.reps = opt.reps < 1 ? 1 : MAX_REPS;
}

int main(int argc, char **argv)
{
	int req_fd, res_fd;
	pid_t helper;

	parse_args(argc, argv);
	helper = kernel_helper(&req_fd, &res_fd);
	for (int m = 0; m < NMODES; m++)
		setup_mode(&modes[m], (enum rmap_mode)m);

	/* Interleave modes within each repetition: drift hits all alike. */
	for (int r = 0; r < opt.reps; r++) {
		for (int c = 0; c < NCFG; c++)
			for (int p = 0; p < 2; p++)
				for (int m = 0; m < NMODES; m++)
					modes[m].pair[p][c][r] =
						pair_measure(&modes[m], c, p);
		kernel_forkexit[r] = kernel_measure(req_fd, res_fd);
		for (int m = 0; m < NMODES; m++)
			modes[m].forkzap[r] = forkzap_measure(&modes[m]);
		for (int m = 0; m < NMODES; m++)
			modes[m].sparse_fz[r] = sparse_measure(&modes[m]);
	}
	close(req_fd);
	close(res_fd);
	waitpid(helper, NULL, 0);
	report(modes);
	for (int m = 0; m < NMODES; m++)
		teardown_mode(&modes[m]);
	return 0;
}
