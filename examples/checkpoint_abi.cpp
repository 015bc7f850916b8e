// SPDX-License-Identifier: MIT
/*
 * checkpoint_abi - the client header from C++: rmapshim_checkpoint()
 * must find rmapshim_checkpoint_v1 through dlsym(RTLD_DEFAULT) when some
 * loaded object exports it (here: this executable, built with
 * ENABLE_EXPORTS, standing in for librmapshim.so), look it up once, and
 * pass every label through unchanged.
 */
#include "rmapshim.h"

#include <cstdio>
#include <cstring>

static int calls;
static char last[64];

extern "C" __attribute__((visibility("default"))) void
rmapshim_checkpoint_v1(const char *label)
{
	calls++;
	std::snprintf(last, sizeof(last), "%s", label);
}

int main()
{
	rmapshim_checkpoint("one");
	rmapshim_checkpoint("two");
	rmapshim_checkpoint(nullptr);
	if (calls != 3 || std::strcmp(last, "") != 0) {
		std::printf("checkpoint_abi: FAIL calls=%d last='%s'\n", calls, last);
		return 1;
	}
	std::printf("checkpoint_abi: calls=%d ok\n", calls);
	return 0;
}
