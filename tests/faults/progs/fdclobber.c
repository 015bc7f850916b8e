/* SPDX-License-Identifier: MIT */
/*
 * fdclobber MODE FILE - a workload that is hostile to a preload's fds, then
 * writes FILE through a low, recycled fd while doing what the shim hooks
 * (mmap, fork, exit).  The test compares FILE with what we wrote: the shim
 * must never write into a workload's file.
 *   close-all  close_range(3, ~0U): every fd a preload may hold is gone
 *   dup2       FILE dup2'ed over fds 3..63 before the hooked calls
 *   rlimit     RLIMIT_NOFILE of 4: the shim cannot open /proc files
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINES 50

static int hooked_work(void)
{
	char *p = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	if (p == MAP_FAILED)
		return -1;
	memset(p, 3, 16 * 4096);
	pid = fork();
	if (pid == 0) {
		p[0] = 4;	/* a COW in the child */
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
		return -1;
	return munmap(p, 16 * 4096);
}

/* Our lines through @fd, with hooked calls in between. */
static int write_lines(int fd)
{
	char line[64];

	for (int i = 0; i < LINES; i++) {
		int n = snprintf(line, sizeof(line), "workload line %d\n", i);

		if (write(fd, line, n) != n || hooked_work())
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 4, 4 };
	int fd;

	if (argc != 3)
		return 2;
	if (!strcmp(argv[1], "close-all"))
		close_range(3, ~0U, 0);
	else if (!strcmp(argv[1], "rlimit") && setrlimit(RLIMIT_NOFILE, &rl))
		return 3;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 4;
	if (!strcmp(argv[1], "dup2"))
		for (int i = 3; i < 64; i++)
			if (i != fd)
				dup2(fd, i);
	if (write_lines(fd))
		return 5;
	printf("%s: fd %d, %d lines written\n", argv[1], fd, LINES);
	return 0;
}
