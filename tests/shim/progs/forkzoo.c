/* SPDX-License-Identifier: MIT */
/*
 * forkzoo - every way of making a process the shim interposes: fork,
 * _Fork, vfork+exec, clone without CLONE_VM, posix_spawn, system, popen,
 * a fork from a second thread; then an explicit checkpoint with children
 * parked (mapcount 2 on the shared pages) and one after they are reaped.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rmapshim.h"

#define PAGES 1200

extern char **environ;
static int gate[2];

static int status_of(pid_t p)
{
	int st;

	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A child that keeps the shared pages mapped until the gate opens. */
static void park(void)
{
	char c;

	close(gate[1]);
	if (read(gate[0], &c, 1) < 0)
		_exit(3);
	_exit(7);
}

static int clone_child(void *arg)
{
	(void)arg;
	park();
	return 0;
}

static void *fork_from_thread(void *arg)
{
	pid_t p = fork();

	(void)arg;
	if (p == 0)
		_exit(5);
	return (void *)(long)status_of(p);
}

int main(void)
{
	char *buf = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static char stack[64 * 1024] __attribute__((aligned(16)));
	char *argv_echo[] = { "echo", "spawned", NULL };
	pid_t parked[3], p;
	pthread_t t;
	void *tr;
	FILE *f;
	char line[64];

	madvise(buf, PAGES * 4096, MADV_NOHUGEPAGE);
	memset(buf, 1, PAGES * 4096);
	if (pipe(gate))
		return 1;
	fflush(stdout);
	if ((parked[0] = fork()) == 0)
		park();
	if ((parked[1] = _Fork()) == 0)
		park();
	parked[2] = clone(clone_child, stack + sizeof(stack), SIGCHLD, NULL);
	rmapshim_checkpoint("forkzoo:parked");
	close(gate[1]);
	for (int i = 0; i < 3; i++)
		printf("parked %d: %d\n", i, status_of(parked[i]));

	if ((p = vfork()) == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	printf("vfork+exec: %d\n", status_of(p));
	fflush(stdout);
	if (posix_spawnp(&p, "echo", NULL, NULL, argv_echo, environ) == 0)
		printf("posix_spawn: %d\n", status_of(p));
	fflush(stdout);
	printf("system: %d\n", WEXITSTATUS(system("exit 4")));
	f = popen("echo popen", "r");
	if (f && fgets(line, sizeof(line), f))
		printf("read: %s", line);
	if (f)
		printf("pclose: %d\n", pclose(f));
	pthread_create(&t, NULL, fork_from_thread, NULL);
	pthread_join(t, &tr);
	printf("thread fork: %ld\n", (long)tr);
	buf[0] = 2;
	rmapshim_checkpoint("forkzoo:done");
	return 0;
}
