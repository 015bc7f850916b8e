/* SPDX-License-Identifier: MIT */
/*
 * forkwriter [FORKS] - fork and wait in a loop while another thread keeps
 * giving pages new frames (MADV_DONTNEED by raw syscall, then a write):
 * some land between the shim's pre-fork reconciliation and the kernel's
 * fork, and the child gets them.  shim_reconcile_forked must copy those
 * into the parent's shadow before the dup, or a child's exit checkpoint
 * finds its page mapped twice by the kernel and once by the shadow.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES	256
#define PG	4096L

static char *r;
static atomic_int stop;

static void *writer(void *arg)
{
	unsigned x = 1;

	(void)arg;
	while (!atomic_load(&stop)) {
		long i = (x = x * 1103515245u + 12345u) % PAGES;

		syscall(SYS_madvise, r + i * PG, PG, MADV_DONTNEED);
		r[i * PG] = (char)i;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int forks = argc > 1 ? atoi(argv[1]) : 300;
	pthread_t t;

	r = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (long i = 0; i < PAGES; i++)
		r[i * PG] = 1;
	pthread_create(&t, NULL, writer, NULL);
	for (int n = 0; n < forks; n++) {
		pid_t p = fork();

		if (!p)
			_exit(0);
		waitpid(p, NULL, 0);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("done %d\n", forks);
	return 0;
}
