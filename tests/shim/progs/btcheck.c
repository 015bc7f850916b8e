/* SPDX-License-Identifier: MIT */
/*
 * btcheck - glibc backtrace() must still be glibc's under the shim: the
 * shim uses libunwind, whose own backtrace/_Unwind_* must stay invisible.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>

static int __attribute__((noinline)) frames(void)
{
	void *ip[64];

	return backtrace(ip, 64);
}

int main(void)
{
	Dl_info info;
	const char *lib = "?";
	int n = frames();

	if (dladdr((void *)&backtrace, &info) && info.dli_fname)
		lib = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1
						  : info.dli_fname;
	printf("backtrace from %s, deep enough: %s\n", lib, n >= 2 ? "yes" : "no");
	printf("_Unwind_Backtrace visible: %s\n",
	       dlsym(RTLD_DEFAULT, "_Unwind_Backtrace") ? "yes" : "no");
	return 0;
}
