/* SPDX-License-Identifier: MIT */
/*
 * threadslots - many short-lived threads, for test_shim.py case
 * threadslots: each thread's statistics slot in the arena must go back
 * when the thread ends (lifecycle.c release_slot_at_exit), so that the
 * arena's claimed slots stay near the number of threads alive at once.
 *
 * threadslots FILE: THREADS threads, BATCH at a time, each mapping,
 * writing and unmapping 64 KiB (rmapcore work, so a slot); half return,
 * half call pthread_exit.  Then, traced, it attaches the run's arena
 * (RMAPSHIM_ARENA, "<pid>:<fd>") and writes rmap_threads_claimed to FILE;
 * natively it writes "untraced".  stdout is the same either way.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rmapcore.h"

#define THREADS	200
#define BATCH	4
#define BYTES	(64 << 10)

static void *churn(void *arg)
{
	char *p = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, BYTES);
	munmap(p, BYTES);
	if ((uintptr_t)arg & 1)
		pthread_exit(p);
	return p;
}

static void write_claimed(const char *path)
{
	const char *spec = getenv("RMAPSHIM_ARENA");
	FILE *f = fopen(path, "w");
	struct rmap_arena *a;
	char arena[64];
	long pid, fd;
	int afd = -1;

	if (!f)
		exit(2);
	/* The supervisor's memfd, through its magic link (as the preload does). */
	if (spec && sscanf(spec, "%ld:%ld", &pid, &fd) == 2 &&
	    snprintf(arena, sizeof(arena), "/proc/%ld/fd/%ld", pid, fd) > 0)
		afd = open(arena, O_RDWR | O_CLOEXEC);
	if (afd >= 0 && !rmap_arena_attach_fd(afd, &a)) {
		fprintf(f, "%u\n", rmap_threads_claimed(a));
		rmap_arena_detach(a);
	} else {
		fprintf(f, "untraced\n");
	}
	if (afd >= 0)
		close(afd);
	fclose(f);
}

int main(int argc, char **argv)
{
	int done = 0;

	if (argc != 2)
		return 2;
	for (int i = 0; i < THREADS; i += BATCH) {
		pthread_t t[BATCH];
		void *r;

		for (int j = 0; j < BATCH; j++)
			if (pthread_create(&t[j], NULL, churn, (void *)(uintptr_t)(i + j)))
				return 2;
		for (int j = 0; j < BATCH; j++)
			done += !pthread_join(t[j], &r) && r;
	}
	write_claimed(argv[1]);
	printf("threadslots: %d of %d threads mapped and unmapped\n", done, THREADS);
	return done == THREADS ? 0 : 1;
}
