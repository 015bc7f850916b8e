/* SPDX-License-Identifier: MIT */
#include "ex_mem.h"
#include "ex_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

size_t ex_page_size(void)
{
	static size_t size;

	if (!size)
		size = (size_t)sysconf(_SC_PAGESIZE);
	return size;
}

static void *map_pages(size_t pages, int flags)
{
	void *p;

	if (!pages)
		return NULL;
	p = mmap(NULL, pages * ex_page_size(), PROT_READ | PROT_WRITE,
		 flags | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ex_die_errno("mmap of %zu pages", pages);
	/* THP would make one "page" of 512 and hide them from the oracle. */
	if (madvise(p, pages * ex_page_size(), MADV_NOHUGEPAGE))
		ex_die_errno("madvise(MADV_NOHUGEPAGE)");
	return p;
}

void *ex_map_anon(size_t pages)
{
	return map_pages(pages, MAP_PRIVATE);
}

void *ex_map_shared_anon(size_t pages)
{
	return map_pages(pages, MAP_SHARED);
}

void ex_unmap(void *p, size_t pages)
{
	if (p && munmap(p, pages * ex_page_size()))
		ex_die_errno("munmap");
}

int ex_temp_file(const char *name, size_t pages, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/%s.XXXXXX", dir && *dir ? dir : "/tmp", name);
	fd = mkstemp(path);
	if (fd < 0)
		ex_die_errno("mkstemp %s", path);
	if (ftruncate(fd, (off_t)(pages * ex_page_size()))) {
		unlink(path);
		ex_die_errno("ftruncate %s", path);
	}
	return fd;
}

uint64_t ex_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t ex_word(const void *base, size_t i)
{
	return *(const volatile uint64_t *)((const char *)base + i * ex_page_size());
}

void ex_set_word(void *base, size_t i, uint64_t v)
{
	*(volatile uint64_t *)((char *)base + i * ex_page_size()) = v;
}

void ex_fill(void *base, size_t pages, uint64_t tag)
{
	for (size_t i = 0; i < pages; i++)
		ex_set_word(base, i, ex_page_value(tag, i));
}

size_t ex_count_bad(const void *base, size_t pages, uint64_t tag)
{
	size_t bad = 0;

	for (size_t i = 0; i < pages; i++)
		bad += ex_word(base, i) != ex_page_value(tag, i);
	return bad;
}
