/* SPDX-License-Identifier: MIT */
/*
 * vmasilent - vmas created and removed behind the shim's back (raw
 * syscalls, as glibc's malloc makes them) between forks, which no hook
 * sees: a pre-fork reconciliation that reused the vmas it read at the
 * last fork (shim/vmawatch.c) must notice and read them again, or the
 * shadow fork copies the wrong pages.
 *
 *   fork 1, fork 2    nothing in between (the second may reuse the vmas)
 *   fork 3            after a raw mmap of V (PAGES pages, all written)
 *   fork 4            after a raw munmap of V
 *
 * test_shim.py case vmasilent reads the FORK records' page_dup_rmap
 * counts: fork 3 must copy V's pages on top of fork 2's, fork 4 must not.
 *
 * vmasilent FILE also writes, before the first fork, one "START END" line
 * (hex) per vma that no fork copies - file-backed, not writable, not one
 * anonymous page (smaps) - for the test to check that the shadow fork
 * copied no pte there either (the kernel's vma_needs_copy()).
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES	64
#define PG	4096L

/* Read-only file vmas without anonymous pages, from /proc/self/smaps. */
static void print_fault_filled(const char *path)
{
	FILE *f = fopen("/proc/self/smaps", "r"), *out = fopen(path, "w");
	unsigned long lo = 0, hi = 0, ino = 0, anon;
	char line[512], perms[8] = "";

	if (!f || !out)
		_exit(2);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char p[8];

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &a, &b, p, &ino) == 4) {
			lo = a;
			hi = b;
			memcpy(perms, p, sizeof(perms));
			continue;
		}
		if (sscanf(line, "Anonymous: %lu kB", &anon) == 1 && ino && !anon &&
		    perms[1] != 'w')
			fprintf(out, "%lx %lx\n", lo, hi);
	}
	fclose(f);
	fclose(out);
}

static void fork_wait(void)
{
	int st;
	pid_t p = fork();

	if (p < 0)
		_exit(1);
	if (!p)
		_exit(0);
	waitpid(p, &st, 0);
}

int main(int argc, char **argv)
{
	long sum = 0;
	char *v;

	if (argc > 1)
		print_fault_filled(argv[1]);
	fork_wait();
	fork_wait();
	v = (char *)syscall(SYS_mmap, NULL, PAGES * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return 1;
	for (int i = 0; i < PAGES; i++)
		v[i * PG] = (char)(i + 1);
	fork_wait();
	for (int i = 0; i < PAGES; i++)
		sum += v[i * PG];
	if (syscall(SYS_munmap, v, PAGES * PG))
		return 1;
	fork_wait();
	printf("vmasilent: %ld\n", sum);
	return 0;
}
