/* SPDX-License-Identifier: MIT */
/*
 * stackprobe - call sites the report must name: a plain function, one in a
 * dlopen'ed library (so the module map must be re-emitted after dlopen),
 * and one after that library's dlclose.  It prints how many fds it has
 * open at the end: under the shim, whatever unwinder it uses, the same as
 * natively.  usage: stackprobe LIB
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>

#include "stackprobe.h"

/* Different sizes: identical bodies would be folded into one (-fipa-icf). */
static void __attribute__((noinline)) stackprobe_before_dlopen(void)
{
	stackprobe_touch(PROBE_PAGES);
	__asm__ volatile("");
}

static void __attribute__((noinline)) stackprobe_after_dlclose(void)
{
	stackprobe_touch(PROBE_PAGES + 1);
	__asm__ volatile("");
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n - 3;		/* ".", ".." and the DIR's own fd */
}

int main(int argc, char **argv)
{
	void (*lib_touch)(void);
	void *h;

	if (argc != 2)
		return 2;
	stackprobe_before_dlopen();
	h = dlopen(argv[1], RTLD_NOW);
	lib_touch = h ? (void (*)(void))dlsym(h, "stacklib_touch") : NULL;
	if (!lib_touch) {
		fprintf(stderr, "stackprobe: %s\n", dlerror());
		return 1;
	}
	lib_touch();
	dlclose(h);
	stackprobe_after_dlclose();
	printf("stackprobe: 3 call sites, %d fds open\n", open_fds());
	return 0;
}
