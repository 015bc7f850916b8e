/* SPDX-License-Identifier: MIT */
/*
 * sigprog - a workload for test_run.py's signal cases.
 *
 *   sigprog wait    print "ready", wait for SIGINT/TERM/HUP/QUIT, print
 *                   "got SIG<name>" and exit 42.
 *   sigprog orphan  the same in a grandchild whose parent exits at once, so
 *                   it is reparented to the supervisor (a child subreaper);
 *                   "ready" comes only once that happened.  The main
 *                   process ignores the signals and exits 0 after its child.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_signal(int sig)
{
	got = sig;
}

static int wait_for_signal(void)
{
	sigset_t block, old;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (!got)
		sigsuspend(&old);
	printf("got SIG%s\n", sigabbrev_np(got));
	fflush(stdout);
	return 42;
}

/*
 * The parent-death signal is sent after the kernel picked the new parent,
 * so once it arrived (or the parent is already another process) the
 * supervisor is our parent.
 */
static int wait_orphaned(pid_t parent)
{
	sigset_t usr1;
	int sig;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	if (getppid() == parent)
		sigwait(&usr1, &sig);
	return wait_for_signal();
}

int main(int argc, char **argv)
{
	pid_t pid;

	if (argc == 2 && !strcmp(argv[1], "wait"))
		return wait_for_signal();
	if (argc == 2 && !strcmp(argv[1], "orphan")) {
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		pid = fork();
		if (pid == 0) {
			/* Not getppid() in the grandchild: we may be gone already. */
			pid_t parent = getpid();

			if (fork() == 0)
				exit(wait_orphaned(parent));
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		return 0;
	}
	fprintf(stderr, "usage: sigprog wait|orphan\n");
	return 2;
}
