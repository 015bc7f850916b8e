/* SPDX-License-Identifier: MIT */
/*
 * forkmix SCENARIO - the process-creation corners a preload must survive
 * (issue 6): each scenario prints a deterministic line and exits 0.
 *   threads-fork  threads mmap/munmap while the main thread forks
 *   malloc-fork   threads malloc/free (holding arena locks) during forks
 *   vfork-exec    vfork + execl
 *   spawn         posix_spawn
 *   clone-vm      clone(CLONE_VM) outside pthreads; the child mmaps
 *   mt-exit       _exit from a child of a multithreaded parent
 *   raw-mmap      syscall(SYS_mmap): no hook, reconciliation finds it
 */
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rmapshim.h"

#define FORKS 20
#define THREADS 3

extern char **environ;
static atomic_int stop;

static int reap(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *mapper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		char *p = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		memset(p, 7, 8 * 4096);
		munmap(p, 8 * 4096);
	}
	return NULL;
}

static void *mallocer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *a = malloc(100), *b = malloc(70000);
		free(a);
		free(b);
	}
	return NULL;
}

/* Fork FORKS children while THREADS threads run @fn; each child runs @child. */
static int fork_under_threads(void *(*fn)(void *), int (*child)(void))
{
	pthread_t t[THREADS];
	int bad = 0;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, fn, NULL);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(child());
		bad += reap(pid) != 0;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return bad;
}

static int child_touch(void)
{
	char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	memset(p, 1, 4 * 4096);
	return 0;
}

/* malloc in the child needs every malloc lock released by fork's handlers. */
static int child_malloc(void)
{
	char *p = malloc(1 << 20);

	if (!p)
		return 1;
	memset(p, 1, 1 << 20);
	free(p);
	return 0;
}

static int threads_fork(void)
{
	int bad = fork_under_threads(mapper, child_touch);

	printf("threads-fork: %d forks, %d bad\n", FORKS, bad);
	return bad;
}

static int malloc_fork(void)
{
	int bad = fork_under_threads(mallocer, child_malloc);

	printf("malloc-fork: %d forks, %d bad\n", FORKS, bad);
	return bad;
}

static int vfork_exec(void)
{
	pid_t pid = vfork();

	if (pid == 0) {
		execl("/bin/echo", "echo", "vfork-exec: child ran", (char *)NULL);
		_exit(127);
	}
	return reap(pid);
}

static int spawn(void)
{
	char *argv[] = { "echo", "spawn: child ran", NULL };
	pid_t pid;

	if (posix_spawn(&pid, "/bin/echo", NULL, NULL, argv, environ))
		return 1;
	return reap(pid);
}

static volatile int clone_wrote;

static int clone_child(void *arg)
{
	(void)arg;
	clone_wrote = child_touch() == 0;
	return 0;
}

static int clone_vm(void)
{
	size_t len = 256 * 1024;
	char *stack = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int rc;

	if (stack == MAP_FAILED)
		return 1;
	pid = clone(clone_child, stack + len, CLONE_VM | SIGCHLD, NULL);
	rc = reap(pid);
	printf("clone-vm: status %d, child wrote shared memory: %s\n", rc,
	       clone_wrote ? "yes" : "no");
	munmap(stack, len);
	return rc || !clone_wrote;
}

static int mt_exit(void)
{
	pthread_t t[THREADS];
	pid_t pid;
	int rc;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, mapper, NULL);
	pid = fork();
	if (pid == 0)
		_exit(child_touch() + 3);
	rc = reap(pid);
	atomic_store(&stop, 1);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("mt-exit: child status %d\n", rc);
	return rc != 3;
}

static int raw_mmap(void)
{
	size_t len = 64 * 4096;
	char *p = (char *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	memset(p, 5, len);
	/* The oracle reconciles first: the raw mapping must show up there. */
	rmapshim_checkpoint("raw-mmap");
	printf("raw-mmap: %zu pages touched\n", len / 4096);
	return (int)syscall(SYS_munmap, p, len);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} scenarios[] = {
		{ "threads-fork", threads_fork }, { "malloc-fork", malloc_fork },
		{ "vfork-exec", vfork_exec }, { "spawn", spawn }, { "clone-vm", clone_vm },
		{ "mt-exit", mt_exit }, { "raw-mmap", raw_mmap },
	};

	for (size_t i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(argv[1], scenarios[i].name)) {
			int rc = scenarios[i].fn();

			fflush(stdout);
			return rc;
		}
	fprintf(stderr, "usage: forkmix SCENARIO (see the source)\n");
	return 2;
}
