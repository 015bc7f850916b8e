/* Symbolization fixture: records its own return addresses and module
 * biases so that test_symbolize.py can check names and lines.  The lines
 * marked LINE: are what the test expects. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) void rec(const char *tag)
{
	printf("R %s %p\n", tag, __builtin_return_address(0));
	__asm__ volatile("");
}

static inline __attribute__((always_inline)) void helper(void)
{
	rec("inlined"); /* LINE:inlined */
}

__attribute__((noinline)) void work(void)
{
	helper(); /* LINE:work */
	__asm__ volatile("");
}

__attribute__((noinline)) void direct(void)
{
	rec("direct"); /* LINE:direct */
	__asm__ volatile("");
}

/* "M bias lo hi path": the load bias and the PT_LOAD address range. */
static int module(struct dl_phdr_info *info, size_t size, void *data)
{
	unsigned long lo = ~0ul, hi = 0;
	char exe[4096];
	const char *name = info->dlpi_name;
	ssize_t n;
	int i;

	(void)size;
	(void)data;
	if (!*name) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		name = exe;
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (*name == '/')
		printf("M %lx %lx %lx %s\n", (unsigned long)info->dlpi_addr, lo, hi, name);
	return 0;
}

int main(int argc, char **argv)
{
	void (*entry)(void (*)(const char *));
	void *h;

	if (argc < 2)
		return 2;
	work();
	direct();
	h = dlopen(argv[1], RTLD_NOW);
	if (!h)
		return 1;
	entry = (void (*)(void (*)(const char *)))dlsym(h, "lib_entry");
	entry(rec);
	dl_iterate_phdr(module, NULL);
	return 0;
}
