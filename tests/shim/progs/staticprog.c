/* SPDX-License-Identifier: MIT */
/* staticprog - a static binary in a traced tree: ld.so never loads the shim. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *p = malloc(1 << 20);

	for (int i = 0; i < (1 << 20); i += 4096)
		p[i] = (char)i;
	printf("static ran: %d\n", p[4096 * 3]);
	return 5;
}
