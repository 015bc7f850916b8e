/* SPDX-License-Identifier: MIT */
/*
 * quietloop PAGES - one mmap, then write PAGES pages of it without any
 * call the shim intercepts, say "ready" and block reading stdin: only the
 * supervisor's --sample-ms thread can show those pages to the shadow.
 * Exits when stdin closes (the test's go-ahead), with the pages' sum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long pages = argc > 1 ? atol(argv[1]) : 256, psz = sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, (size_t)(pages * psz), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char c;
	long sum = 0;

	if (p == MAP_FAILED)
		return 1;
	/* Faults only from here on: write(2) and read(2) are not intercepted. */
	for (long i = 0; i < pages; i++)
		p[i * psz] = (char)(i | 1);
	if (write(1, "ready\n", 6) != 6)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	for (long i = 0; i < pages; i++)
		sum += p[i * psz];
	printf("%ld\n", sum);
	return 0;
}
