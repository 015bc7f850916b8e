/* SPDX-License-Identifier: MIT */
/*
 * exitsites - fork children that leave from call sites their parent never
 * runs, for test_shim.py case exitsites: the shim warms its unwinder at
 * such a site once a child has told it (shim_stacks_warm_from), so the
 * later children's exit stacks come from that warmed cache and must be
 * the first child's, frame for frame.  Four sites, round robin: exit()
 * from a small frame, from a frame addressed through %rbp (alloca), from
 * a frame larger than the warm-up's stack of zeroes, and _exit().
 *
 * exitsites [FORKS]: prints how many children exited 0.
 */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void leave_small(int n)
{
	char buf[64];

	buf[n % 64] = 1;
	__asm__ volatile("" : : "r"(buf) : "memory");	/* a frame, kept */
	exit(0);
}

__attribute__((noinline)) static void leave_framed(int n)
{
	volatile char *p = alloca((size_t)n + 16);

	p[0] = 1;
	exit(0);
}

__attribute__((noinline)) static void leave_big(int n)
{
	char buf[100 << 10];

	buf[n] = 1;
	__asm__ volatile("" : : "r"(buf) : "memory");
	exit(0);
}

__attribute__((noinline)) static void leave_now(int n)
{
	volatile int v = n;

	(void)v;
	_exit(0);
}

int main(int argc, char **argv)
{
	void (*const leave[])(int) = { leave_small, leave_framed, leave_big, leave_now };
	int forks = argc > 1 ? atoi(argv[1]) : 24, ok = 0;

	for (int i = 0; i < forks; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			return 2;
		if (pid == 0)
			leave[i % 4](i);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status))
			ok++;
	}
	printf("exitsites: %d of %d children exited 0\n", ok, forks);
	return ok == forks ? 0 : 1;
}
