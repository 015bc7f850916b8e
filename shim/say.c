/* SPDX-License-Identifier: MIT */
/*
 * say.c - numbers and one-line messages without stdio: shared by the
 * preload (no malloc inside a hook) and the supervisor, which runs the
 * same reconciliation code (onbehalf.c).
 */
#include <string.h>
#include <unistd.h>

#include "shim.h"

char *shim_utoa(char *dst, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*dst++ = tmp[--n];
	return dst;
}

void shim_say(const char *msg)
{
	size_t n = strlen(msg);

	if (write(2, msg, n) == (ssize_t)n)
		(void)!write(2, "\n", 1);
}
