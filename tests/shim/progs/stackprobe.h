/* SPDX-License-Identifier: MIT */
/* stackprobe.h - the page toucher both halves of stackprobe use. */
#ifndef STACKPROBE_H
#define STACKPROBE_H

#include <stddef.h>
#include <sys/mman.h>

#define PROBE_PAGES	64

/*
 * Map, fault in, madvise and unmap @pages: faults are no events, so the
 * madvise (whose range the shim reconciles page by page) is where the
 * shim finds the pages, and munmap where they go:
 * enough transitions that the caller is among the report's top call
 * sites.  Inline, so the caller's own frame is the one making the calls.
 */
static inline __attribute__((always_inline)) void stackprobe_touch(size_t pages)
{
	char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < pages; i++)
		((volatile char *)p)[i * 4096] = 1;
	madvise(p, pages * 4096, MADV_NORMAL);
	munmap(p, pages * 4096);
}

#endif
