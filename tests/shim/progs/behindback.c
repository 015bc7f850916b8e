/* SPDX-License-Identifier: MIT */
/*
 * behindback - change frames behind the shim's back between forks, the
 * way glibc's own malloc and free do (raw syscalls, no interposable call):
 * the pre-fork reconciliation's write tracking (shim/wtrack.c) must still
 * see every change.  Under --verify=full every tracked pass is followed by
 * a full pagemap read, which must find nothing left to change.
 *
 * Region R (64 pages) is mapped and written; two forks let the shim
 * register R and read it once; then, between forks:
 *   A  MADV_DONTNEED and rewrite      (new frames, written)
 *   B  munmap + mmap MAP_FIXED, write (a new, unregistered vma)
 *   C  MADV_DONTNEED only             (ptes gone, nothing written)
 *   D  MADV_DONTNEED, then read       (the zero page)
 *   E  written while a child shares R (COW breaks)
 *   F  mremap of A's pages elsewhere  (ptes moved to a new vma)
 * Prints the sum of R's bytes, so the traced run's output can be compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rmapshim.h"

#define PAGES	64
#define PG	4096L

static char *page(char *r, int i)
{
	return r + i * PG;
}

static void fork_wait(void (*in_parent)(char *), char *r)
{
	int fds[2], st;
	char c;
	pid_t p;

	if (pipe(fds))
		exit(1);
	p = fork();
	if (p < 0)
		exit(1);
	if (!p) {
		/* Hold R shared until the parent is done with it. */
		close(fds[1]);
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	if (in_parent)
		in_parent(r);
	close(fds[1]);
	waitpid(p, &st, 0);
}

static void write_e(char *r)
{
	for (int i = 48; i < 56; i++)
		page(r, i)[1] = (char)(i + 3);
}

int main(void)
{
	char *r = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink = 0;
	long sum = 0;
	void *b;

	if (r == MAP_FAILED)
		return 1;
	for (int i = 0; i < PAGES; i++)
		page(r, i)[0] = (char)i;
	fork_wait(NULL, r);		/* registers R */
	fork_wait(NULL, r);		/* reads R once, write-protects it */
	rmapshim_checkpoint("armed");

	syscall(SYS_madvise, page(r, 0), 8 * PG, MADV_DONTNEED);		/* A */
	for (int i = 0; i < 8; i++)
		page(r, i)[0] = (char)(i + 1);
	b = (void *)syscall(SYS_munmap, page(r, 16), 8 * PG);			/* B */
	b = (void *)syscall(SYS_mmap, page(r, 16), 8 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (b != page(r, 16))
		return 1;
	for (int i = 16; i < 24; i++)
		page(r, i)[0] = (char)(i + 2);
	syscall(SYS_madvise, page(r, 32), 8 * PG, MADV_DONTNEED);		/* C */
	syscall(SYS_madvise, page(r, 40), 8 * PG, MADV_DONTNEED);		/* D */
	for (int i = 40; i < 48; i++)
		sink += page(r, i)[0];
	fork_wait(write_e, r);							/* E */
	fork_wait(NULL, r);		/* the tracked pass sees A-E */
	rmapshim_checkpoint("after-a-e");

	b = (void *)syscall(SYS_mremap, page(r, 0), 4 * PG, 4 * PG,		/* F */
			    MREMAP_MAYMOVE | MREMAP_FIXED, page(r, 60));
	if (b != page(r, 60))
		return 1;
	fork_wait(NULL, r);
	rmapshim_checkpoint("after-f");

	for (int i = 4; i < PAGES; i++)
		sum += page(r, i)[0] + page(r, i)[1];
	printf("sum %ld %d\n", sum, sink);
	return 0;
}
