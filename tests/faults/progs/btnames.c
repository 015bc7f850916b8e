/* SPDX-License-Identifier: MIT */
/*
 * btnames - glibc backtrace() from a 12-deep recursion in 3 threads; prints
 * each frame's symbol name (backtrace_symbols, addresses stripped) so a run
 * under the shim can be compared with a native one line by line.
 * Linked with -rdynamic, and the functions are global, so they have names.
 */
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define DEPTH 12
#define THREADS 3

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* "prog(name+0x1f) [0x...]" -> "name"; "" when the frame has no name. */
static void frame_name(const char *sym, char *name, size_t len)
{
	const char *open = strchr(sym, '('), *end;

	name[0] = 0;
	if (!open)
		return;
	end = open + 1 + strcspn(open + 1, "+)");
	snprintf(name, len, "%.*s", (int)(end - open - 1), open + 1);
}

void __attribute__((noinline)) print_stack(long who)
{
	void *ip[64];
	int n = backtrace(ip, 64);
	char **syms = backtrace_symbols(ip, n);
	char name[128];

	pthread_mutex_lock(&out_lock);
	printf("thread %ld: %d frames:", who, n);
	for (int i = 0; syms && i < n; i++) {
		frame_name(syms[i], name, sizeof(name));
		printf(" %s", name[0] ? name : "?");
	}
	printf("\n");
	pthread_mutex_unlock(&out_lock);
}

int __attribute__((noinline)) recurse(int depth, long who)
{
	if (depth == 0) {
		print_stack(who);
		return 0;
	}
	int r = recurse(depth - 1, who);

	/* Keeps the call a real frame (no tail-recursion elimination). */
	__asm__ volatile("" : : "r"(r) : "memory");
	return r + 1;
}

void *thread_main(void *arg)
{
	recurse(DEPTH, (long)arg);
	return NULL;
}

int main(void)
{
	pthread_t t;

	recurse(DEPTH, 0);
	/* One thread at a time: the output order is deterministic. */
	for (long i = 1; i <= THREADS; i++) {
		pthread_create(&t, NULL, thread_main, (void *)i);
		pthread_join(t, NULL);
	}
	return 0;
}
