/* SPDX-License-Identifier: MIT */
/*
 * stack-bench - what one call stack costs the shim: ns per 16-frame
 * capture with libunwind's unw_backtrace, loaded exactly as the shim loads
 * it (shim/unwinder.c: private, fd-free validation), against glibc's
 * backtrace(), from the same call site, rounds interleaved.  Not a test:
 * it prints medians and their ratio (README.md), and what loading
 * libunwind costs (once per process image: the shim's constructor).
 *
 * usage: stack-bench [--reps N] [--iters N] [--json]
 */
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unwinder.h"

#define FRAMES	16
#define DEPTH	(FRAMES + 8)	/* deeper than captured: every capture is full */
#define MAXREPS	31

struct bench {
	unwinder_fn unw;
	int reps, iters;
	double ns[2][MAXREPS];		/* [0] libunwind, [1] glibc */
	int frames[2];
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double capture_ns(struct bench *b, int which)
{
	void *ip[FRAMES];
	double t0 = now_ns();

	for (int i = 0; i < b->iters; i++)
		b->frames[which] = which ? backtrace(ip, FRAMES) : b->unw(ip, FRAMES);
	return (now_ns() - t0) / b->iters;
}

static void measure(struct bench *b)
{
	for (int r = 0; r < b->reps; r++) {
		/* Alternate which goes first, so drift hits both alike. */
		int first = r & 1;

		b->ns[first][r] = capture_ns(b, first);
		b->ns[!first][r] = capture_ns(b, !first);
	}
}

/* Real frames under the capture: no inlining, no tail calls. */
static int __attribute__((noinline)) descend(struct bench *b, int depth)
{
	if (depth == 0)
		measure(b);
	else
		descend(b, depth - 1);
	__asm__ volatile("" ::: "memory");
	return depth;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	struct bench b = { .reps = 7, .iters = 20000 };
	const char *why;
	void *ip[FRAMES];
	int json = 0;
	double unw, glibc, load_us;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			b.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			b.iters = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--reps N] [--iters N] [--json]\n", argv[0]);
			return 2;
		}
	}
	if (b.reps < 1 || b.reps > MAXREPS || b.iters < 1) {
		fprintf(stderr, "%s: --reps 1..%d, --iters >= 1\n", argv[0], MAXREPS);
		return 2;
	}
	load_us = now_ns();
	b.unw = unwinder_load(&why, NULL, NULL);
	load_us = (now_ns() - load_us) / 1e3;
	if (why) {
		fprintf(stderr, "%s: %s\n", argv[0], why);
		return 1;
	}
	(void)backtrace(ip, FRAMES);	/* loads libgcc_s outside the timing */
	descend(&b, DEPTH);
	unw = median(b.ns[0], b.reps);
	glibc = median(b.ns[1], b.reps);
	if (json) {
		printf("{\"frames\": %d, \"reps\": %d, \"iters\": %d, \"libunwind_ns\": %.1f, "
		       "\"glibc_ns\": %.1f, \"glibc_over_libunwind\": %.2f, "
		       "\"libunwind_load_us\": %.0f}\n",
		       FRAMES, b.reps, b.iters, unw, glibc, glibc / unw, load_us);
		return 0;
	}
	printf("stack capture, ns per %d-frame stack, median of %d rounds x %d\n",
	       FRAMES, b.reps, b.iters);
	printf("  libunwind unw_backtrace (shim's private copy)  %8.1f  (%d frames)\n",
	       unw, b.frames[0]);
	printf("  glibc backtrace()                              %8.1f  (%d frames)\n",
	       glibc, b.frames[1]);
	printf("  glibc/libunwind                                %8.2f\n", glibc / unw);
	printf("libunwind dlopen + GOT redirect + first unwind: %.0f us (once per image)\n",
	       load_us);
	return 0;
}
