/* SPDX-License-Identifier: MIT */
/* real.c - lazy dlsym(RTLD_NEXT) resolution of the table in real.h. */
#include <string.h>

#include "real.h"

#define SHIM_REAL_DEF(name) __typeof__(&name) shim_real_##name;
SHIM_REAL_TABLE(SHIM_REAL_DEF)
#undef SHIM_REAL_DEF

void *shim_resolve(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	static const char msg[] = "rmapshim: a libc symbol is missing; aborting\n";

	/* Nothing sensible can be called instead: libc itself is broken. */
	if (!p) {
		if (write(2, msg, sizeof(msg) - 1) < 0)
			abort();
		abort();
	}
	return p;
}

void shim_resolve_all(void)
{
#define SHIM_REAL_RESOLVE(name) (void)REAL(name);
	SHIM_REAL_TABLE(SHIM_REAL_RESOLVE)
#undef SHIM_REAL_RESOLVE
}
