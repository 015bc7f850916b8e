/* SPDX-License-Identifier: MIT */
/*
 * threadchurn - one mm, many threads changing it at once while another
 * thread forks.  Each churn thread maps a small region, fills it, makes it
 * read-only and writable again, discards part with MADV_DONTNEED (a zap
 * without munmap), splits a vma by unmapping its middle, and unmaps it;
 * the forker's children write one page of a resident buffer (a COW break
 * in the child) and exit.  All threads meet at a barrier halfway, where
 * the main thread checkpoints.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] =
"usage: threadchurn [-t THREADS] [-n ITERS]\n"
"THREADS threads each run ITERS rounds of mmap, fill, mprotect,\n"
"madvise(MADV_DONTNEED), partial munmap and munmap, while one more thread\n"
"forks ITERS/4 children that write a page and exit.\n"
"  -t, --threads N   churn threads (default 4)\n"
"  -n, --iters N     rounds per thread, at least 2 (default 200)\n"
"  -h, --help        this text\n"
"Prints \"threadchurn: threads=T iters=N forks=F ok\".\n";

#define CHURN_PAGES	16	/* one region per round: 64 KiB */
#define SPLIT_EVERY	8	/* every 8th round also splits a vma */
#define MAX_THREADS	64
#define RESIDENT_PAGES	2048	/* 8 MiB: the oracle's >= 1000 anon pages */

struct churn {
	pthread_barrier_t halfway;
	unsigned long iters, forks;
	void *resident;
	unsigned long errors;	/* atomic */
};

struct worker {
	struct churn *ch;
	unsigned long id;
	pthread_t thread;
};

static void count_error(struct churn *ch)
{
	__atomic_fetch_add(&ch->errors, 1, __ATOMIC_RELAXED);
}

/* Arrive at the halfway barrier, then wait for the main thread's checkpoint. */
static void meet_halfway(struct churn *ch)
{
	pthread_barrier_wait(&ch->halfway);
	pthread_barrier_wait(&ch->halfway);
}

static void churn_round(struct churn *ch, uint64_t tag)
{
	size_t ps = ex_page_size();
	char *p = ex_map_anon(CHURN_PAGES);

	ex_fill(p, CHURN_PAGES, tag);
	if (mprotect(p, CHURN_PAGES / 2 * ps, PROT_READ))
		ex_die_errno("mprotect");
	if (ex_count_bad(p, CHURN_PAGES, tag))
		count_error(ch);
	if (mprotect(p, CHURN_PAGES / 2 * ps, PROT_READ | PROT_WRITE))
		ex_die_errno("mprotect");
	if (madvise(p + 4 * ps, 4 * ps, MADV_DONTNEED))
		ex_die_errno("madvise(MADV_DONTNEED)");
	/* DONTNEED on private anon: the next read faults in the zero page. */
	for (size_t i = 4; i < 8; i++)
		if (ex_word(p, i))
			count_error(ch);
	ex_fill(p, CHURN_PAGES, tag + 1);
	if (ex_count_bad(p, CHURN_PAGES, tag + 1))
		count_error(ch);
	if ((tag >> 1) % SPLIT_EVERY == 0) {
		ex_unmap(p + 6 * ps, 4);
		ex_unmap(p, 6);
		ex_unmap(p + 10 * ps, CHURN_PAGES - 10);
	} else {
		ex_unmap(p, CHURN_PAGES);
	}
}

static void *churn_thread(void *arg)
{
	struct worker *w = arg;
	unsigned long n = w->ch->iters;

	for (unsigned long i = 0; i < n; i++) {
		if (i == n / 2)
			meet_halfway(w->ch);
		churn_round(w->ch, (w->id + 1) << 32 | i << 1);
	}
	return NULL;
}

static void fork_one(struct churn *ch, unsigned long i)
{
	pid_t pid = fork();

	if (pid < 0)
		ex_die_errno("fork");
	if (pid == 0) {
		/* Only async-signal-safe work in the child of a threaded parent. */
		ex_set_word(ch->resident, i % RESIDENT_PAGES, ~0ull);
		_exit(0);
	}
	ex_wait_ok(pid, "forked child");
}

static void *fork_thread(void *arg)
{
	struct churn *ch = arg;

	for (unsigned long i = 0; i < ch->forks; i++) {
		if (i == ch->forks / 2)
			meet_halfway(ch);
		fork_one(ch, i);
	}
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err)
		ex_die("pthread_create: %s", strerror(err));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "iters", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct worker workers[MAX_THREADS];
	struct churn ch = { .iters = 200 };
	unsigned long threads = 4;
	pthread_t forker;
	int c;

	ex_cli_init("threadchurn", usage);
	while ((c = ex_getopt(argc, argv, ":t:n:h", longopts)) != -1) {
		switch (c) {
		case 't':
			threads = ex_parse_ulong("-t", optarg, 1, MAX_THREADS);
			break;
		case 'n':
			ch.iters = ex_parse_ulong("-n", optarg, 2, 10000000);
			break;
		}
	}
	ex_no_operands(argc, argv);
	ch.forks = ch.iters / 4 < 2 ? 2 : ch.iters / 4;

	ch.resident = ex_map_anon(RESIDENT_PAGES);
	ex_fill(ch.resident, RESIDENT_PAGES, 1);
	rmapshim_checkpoint("threadchurn:start");

	/* churn threads + forker + main */
	pthread_barrier_init(&ch.halfway, NULL, (unsigned)threads + 2);
	for (unsigned long i = 0; i < threads; i++) {
		workers[i] = (struct worker){ .ch = &ch, .id = i };
		start(&workers[i].thread, churn_thread, &workers[i]);
	}
	start(&forker, fork_thread, &ch);
	pthread_barrier_wait(&ch.halfway);
	rmapshim_checkpoint("threadchurn:halfway");
	pthread_barrier_wait(&ch.halfway);
	for (unsigned long i = 0; i < threads; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_join(forker, NULL);
	pthread_barrier_destroy(&ch.halfway);
	rmapshim_checkpoint("threadchurn:joined");

	if (ch.errors)
		ex_die("%lu rounds read back wrong values", ch.errors);
	/* The children's writes were COW breaks: none may reach the parent. */
	if (ex_count_bad(ch.resident, RESIDENT_PAGES, 1))
		ex_die("a forked child's write reached the parent");
	printf("threadchurn: threads=%lu iters=%lu forks=%lu ok\n",
	       threads, ch.iters, ch.forks);
	return 0;
}
