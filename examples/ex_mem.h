/* SPDX-License-Identifier: MIT */
/*
 * ex_mem.h - anonymous regions in 4 KiB pages, written with values that
 * can be recomputed, so every example can verify what it reads back.
 */
#ifndef EX_MEM_H
#define EX_MEM_H

#include <stddef.h>
#include <stdint.h>

size_t ex_page_size(void);

/*
 * Map @pages private anonymous pages with MADV_NOHUGEPAGE: the oracle
 * compares order-0 pages only, and fork cost must scale with 4 KiB pages.
 * Exits 1 on failure.  @pages may be 0 (returns NULL).
 */
void *ex_map_anon(size_t pages);
/* Same, MAP_SHARED|MAP_ANONYMOUS: shmem pages shared over fork. */
void *ex_map_shared_anon(size_t pages);
void ex_unmap(void *p, size_t pages);

/*
 * Create a temporary file of @pages zero pages in $TMPDIR (else /tmp),
 * named after @name; its path goes to @path.  Returns the fd, exits 1 on
 * failure (leaving no file).
 */
int ex_temp_file(const char *name, size_t pages, char *path, size_t len);

/* A well-mixed 64-bit hash (splitmix64's finalizer). */
uint64_t ex_mix64(uint64_t x);

/* The value page @page of a region holds after writer @tag wrote it. */
static inline uint64_t ex_page_value(uint64_t tag, uint64_t page)
{
	return ex_mix64(tag * 0x100000001b3ull + page);
}

/* Make every page present and dirty: first word = ex_page_value(tag, i). */
void ex_fill(void *base, size_t pages, uint64_t tag);
/* First word of page @i. */
uint64_t ex_word(const void *base, size_t i);
void ex_set_word(void *base, size_t i, uint64_t v);
/* Number of pages whose first word is not ex_page_value(tag, i). */
size_t ex_count_bad(const void *base, size_t pages, uint64_t tag);

#endif /* EX_MEM_H */
