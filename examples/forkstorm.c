/* SPDX-License-Identifier: MIT */
/*
 * forkstorm - lmbench "lat_proc fork" with a resident anon region: fork,
 * the child exits at once, the parent waits.  Every fork copies one pte
 * per resident page (page_dup_rmap) and every exit zaps them again
 * (page_remove_rmap), so the cost per fork grows with -m.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
"usage: forkstorm [-n FORKS] [-m RESIDENT_MIB] [--timing]\n"
"Touch RESIDENT_MIB MiB of anonymous memory (4 KiB pages), then FORKS times:\n"
"fork, the child exits at once (_exit and exit alternately), the parent waits.\n"
"  -n, --forks N     forks to time (default 200)\n"
"  -m, --mib M       resident anonymous MiB (default 8)\n"
"  -t, --timing      also print forks/s and us/fork (not deterministic)\n"
"  -h, --help        this text\n"
"Prints \"forks: N\".  Checkpoints: resident, child-alive, done.\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fork_loop(unsigned long forks)
{
	for (unsigned long i = 0; i < forks; i++) {
		pid_t pid = ex_fork();

		if (pid == 0) {
			/* Both exit paths: exit() runs atexit/destructors, _exit() does not. */
			if (i & 1)
				exit(0);
			_exit(0);
		}
		ex_wait_ok(pid, "child");
	}
}

/* Checkpoint with a child alive, parked on a pipe: every page has mapcount 2. */
static void checkpoint_with_child(void)
{
	struct ex_chan go;
	pid_t pid;

	ex_chan_open(&go);
	pid = ex_fork();
	if (pid == 0) {
		ex_chan_keep_rd(&go);
		ex_chan_recv(&go);
		_exit(0);
	}
	ex_chan_keep_wr(&go);
	rmapshim_checkpoint("forkstorm:child-alive");
	ex_chan_send(&go, 1);
	ex_chan_close(&go);
	ex_wait_ok(pid, "parked child");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "forks", required_argument, NULL, 'n' },
		{ "mib", required_argument, NULL, 'm' },
		{ "timing", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long forks = 200, mib = 8;
	int timing = 0, c;
	size_t pages;
	void *region;
	double t0, dt;

	ex_cli_init("forkstorm", usage);
	while ((c = ex_getopt(argc, argv, ":n:m:th", longopts)) != -1) {
		switch (c) {
		case 'n':
			forks = ex_parse_ulong("-n", optarg, 1, 100000000);
			break;
		case 'm':
			mib = ex_parse_ulong("-m", optarg, 0, 1 << 20);
			break;
		case 't':
			timing = 1;
			break;
		}
	}
	ex_no_operands(argc, argv);

	pages = mib * (1024 * 1024 / ex_page_size());
	region = ex_map_anon(pages);
	ex_fill(region, pages, 1);
	rmapshim_checkpoint("forkstorm:resident");

	t0 = now_s();
	fork_loop(forks);
	dt = now_s() - t0;

	checkpoint_with_child();
	if (ex_count_bad(region, pages, 1))
		ex_die("resident region changed under the forks");
	rmapshim_checkpoint("forkstorm:done");

	printf("forks: %lu\n", forks);
	if (timing)
		printf("forks_per_s: %.1f\nus_per_fork: %.2f\n",
		       forks / dt, dt * 1e6 / forks);
	ex_unmap(region, pages);
	return 0;
}
