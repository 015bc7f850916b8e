/* SPDX-License-Identifier: MIT */
/* staticprog - linked with -static: ld.so never runs, LD_PRELOAD cannot apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char *p = malloc(1 << 20);

	memset(p, 1, 1 << 20);
	printf("static program ran, sum %d\n", p[0] + p[(1 << 20) - 1]);
	free(p);
	return 0;
}
