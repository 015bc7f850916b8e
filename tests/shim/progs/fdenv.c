/* SPDX-License-Identifier: MIT */
/*
 * fdenv - print the open fds and the environment (minus LD_PRELOAD and
 * RMAPSHIM_*), in this process, in its fork child and in an exec'd copy of
 * itself: under the shim all must read exactly as natively (nothing leaked,
 * nothing added).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* _ is the shell's record of the command it ran: the supervisor here */
static int ours(const char *e)
{
	return !strncmp(e, "LD_PRELOAD=", 11) || !strncmp(e, "RMAPSHIM_", 9);
}

static void dump(const char *who)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	extern char **environ;

	while (d && (de = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		/* pipes and ttys differ per run; the fd number and kind do not */
		printf("%s fd %s %.5s\n", who, de->d_name, target);
	}
	if (d)
		closedir(d);
	for (char **e = environ; *e; e++)
		if (!ours(*e) && strncmp(*e, "_=", 2))
			printf("%s env %s\n", who, *e);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	pid_t p;
	int st;

	if (argc > 1) {
		dump("exec");
		return 0;
	}
	dump("main");
	p = fork();
	if (p == 0) {
		/* the shim keeps /proc files open across its fork section */
		dump("fork");
		execl("/proc/self/exe", argv[0], "child", (char *)NULL);
		_exit(127);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
