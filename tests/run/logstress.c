/* SPDX-License-Identifier: MIT */
/*
 * logstress - drive the log writer for test_log.py, which reads the result
 * back with its own reader (rlogread.py).
 *
 *   logstress stress PATH NPROC NTHREADS NREC
 *	The parent logs, then forks NPROC writers (inheriting its mapping, so
 *	the pid check must keep them out of the parent's segment); each runs
 *	NTHREADS threads appending NREC numbered notes, and also logs from a
 *	signal handler while they do.  Before that a vfork child logs one
 *	note through the parent's TLS.  Writer 0 never stops: once it has
 *	committed records it is SIGKILLed.  Prints one line per writer:
 *	"writer PID NTHREADS NREC" (NREC -1 for the killed one).
 *
 *   logstress full PATH NTHREADS NREC
 *	A 4-segment log: every thread appends NREC records, far more than
 *	fit.  The writer must stay alive; prints "kept N dropped D flags F
 *	full_at F" from the header afterwards.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct rlog *lg;
static long nrec;
static int ready_fd = -1;	/* writer 0 reports progress here */

static void die(const char *what, int err)
{
	fprintf(stderr, "logstress: %s: %s\n", what, strerror(err));
	exit(1);
}

/* "t <tid> <i>": the reader checks every thread's numbers run 0..n-1. */
static int put(long i)
{
	char text[64];

	snprintf(text, sizeof(text), "t %ld %ld", (long)syscall(SYS_gettid), i);
	return rlog_note(lg, getpid(), RLOG_NOTE_INFO, text);
}

static void on_usr1(int sig)
{
	(void)sig;
	/* Async-signal-safe by contract: lands in this thread's segment too. */
	rlog_note(lg, getpid(), RLOG_NOTE_WARN, "signal");
}

static void *writer_thread(void *arg)
{
	long kept = 0;

	(void)arg;
	for (long i = 0; nrec < 0 || i < nrec; i++) {
		if (put(i) == 0)
			kept++;
		if (ready_fd >= 0 && i == 1000 && write(ready_fd, "x", 1) != 1)
			die("write", errno);
	}
	return (void *)kept;
}

static long run_threads(int n)
{
	pthread_t t[64];
	long kept = 0;
	void *k;

	for (int i = 0; i < n; i++) {
		int err = pthread_create(&t[i], NULL, writer_thread, NULL);

		if (err)
			die("pthread_create", err);
		/* Interrupt the writers in the middle of their reservations. */
		pthread_kill(t[i], SIGUSR1);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], &k);
		kept += (long)k;
	}
	return kept;
}

/*
 * A vfork child shares the parent's TLS: its record must land in a segment
 * of its own pid, and the parent's next one must not follow it there.
 */
static void vfork_child(void)
{
	pid_t pid = vfork();

	if (pid == 0) {
		rlog_note(lg, getpid(), RLOG_NOTE_INFO, "vfork child");
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		die("vfork", errno);
}

static int stress(const char *path, int nproc, int nthreads)
{
	pid_t pids[64] = { 0 };
	int pfd[2], status, err;
	char c;

	err = rlog_create(path, 16384, 4096, &lg);

	if (err)
		die(path, -err);
	signal(SIGUSR1, on_usr1);
	put(0);	/* the parent now owns a segment the children must not use */
	vfork_child();
	put(1);	/* after the vfork child wrote through the parent's TLS */
	if (pipe(pfd) < 0)
		die("pipe", errno);
	for (int p = 0; p < nproc; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			die("fork", errno);
		if (pids[p] == 0) {
			if (p == 0) {
				ready_fd = pfd[1];
				nrec = -1;
			}
			run_threads(nthreads);
			_exit(0);
		}
	}
	/* Writer 0 has committed 1000 records per thread at least once. */
	for (int t = 0; t < nthreads; t++)
		if (read(pfd[0], &c, 1) != 1)
			die("read", errno);
	kill(pids[0], SIGKILL);
	for (int p = 0; p < nproc; p++) {
		if (waitpid(pids[p], &status, 0) < 0)
			die("waitpid", errno);
		if (p && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			die("writer failed", EIO);
		printf("writer %d %d %ld\n", (int)pids[p], nthreads, p ? nrec : -1L);
	}
	printf("parent %d\n", (int)getpid());
	return 0;
}

static int full(const char *path, int nthreads)
{
	const struct rlog_file_header *h;
	long kept;
	int err = rlog_create(path, 4096, 4, &lg);

	if (err)
		die(path, -err);
	signal(SIGUSR1, on_usr1);
	kept = run_threads(nthreads);
	h = rlog_header(lg);
	printf("kept %ld dropped %" PRIu64 " flags %u full_at %" PRIu64 "\n", kept,
	       h->dropped, h->flags, h->full_at_ns);
	return 0;
}

int main(int argc, char **argv)
{
	int nproc = argc == 6 ? atoi(argv[3]) : 0;
	int nthreads = argc >= 5 ? atoi(argv[argc - 2]) : 0;

	nrec = argc >= 5 ? atol(argv[argc - 1]) : 0;
	if (nthreads < 1 || nthreads > 64 || nrec < 1)
		argc = 0;
	if (argc == 6 && !strcmp(argv[1], "stress") && nproc >= 1 && nproc <= 64)
		return stress(argv[2], nproc, nthreads);
	if (argc == 5 && !strcmp(argv[1], "full"))
		return full(argv[2], nthreads);
	fprintf(stderr, "usage: logstress stress PATH NPROC NTHREADS NREC | "
		"full PATH NTHREADS NREC\n");
	return 2;
}
