/* SPDX-License-Identifier: MIT */
/* stacklib - stackprobe's dlopen'ed half: a call site inside a library. */
#include "stackprobe.h"

__attribute__((visibility("default"))) void stacklib_touch(void)
{
	stackprobe_touch(PROBE_PAGES);
	__asm__ volatile("");
}
