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
 *   logstress populate PATH NPROC NTHREADS NREC
 *	The same with a populator thread in the parent (the supervisor's,
 *	rlog_populate) while the writers claim.  Once they are done it waits
 *	(at most 10 s) for the populator to sleep past the last claim, which
 *	a lost wake-up never does, then stops it and prints "populated NEXT
 *	WAKE STATE RESIDENT BEYOND ERR": the first page of each segment from
 *	NEXT up to the frontier resident (RESIDENT 1), the one past it not
 *	(BEYOND 0), the state after the stop and rlog_populate's return.
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
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

#define POP_AHEAD	8	/* small: many wake-ups in a short run */
#define POP_LOW		4
#define SEG_SIZE	16384u

static void *populator(void *arg)
{
	(void)arg;
	return (void *)(long)rlog_populate(lg, POP_AHEAD, POP_LOW, 1);
}

static int resident(uint64_t s)
{
	const struct rlog_file_header *h = rlog_header(lg);
	unsigned char vec;

	if (s >= h->nseg)
		return 0;
	if (mincore((uint8_t *)h + RLOG_HDR_SIZE + s * SEG_SIZE, 4096, &vec) < 0)
		die("mincore", errno);
	return vec & 1;
}

/* Asleep past every claim, or 10 s gone: a test's bounded poll. */
static void populator_settled(void)
{
	const struct rlog_file_header *h = rlog_header(lg);
	const struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		if (__atomic_load_n(&h->pop_state, __ATOMIC_SEQ_CST) == RLOG_POP_SLEEPING &&
		    __atomic_load_n(&h->next_seg, __ATOMIC_SEQ_CST) <=
		    __atomic_load_n(&h->pop_wake_seg, __ATOMIC_RELAXED))
			return;
		nanosleep(&ms, NULL);
	}
}

static void populated(pthread_t t)
{
	const struct rlog_file_header *h = rlog_header(lg);
	uint64_t next, wake, front;
	int all = 1;
	void *ret;

	populator_settled();
	next = h->next_seg;
	wake = h->pop_wake_seg;
	front = wake == UINT64_MAX ? h->nseg : wake + POP_LOW;
	for (uint64_t s = next; s < front; s++)
		all &= resident(s);
	rlog_populate_stop(lg);
	pthread_join(t, &ret);
	printf("populated %" PRIu64 " %" PRIu64 " %u %d %d %ld\n", next, wake,
	       h->pop_state, all, resident(front), (long)ret);
}

static int stress(const char *path, int nproc, int nthreads, int populate)
{
	pid_t pids[64] = { 0 };
	int pfd[2], status, err;
	pthread_t pop;
	char c;

	err = rlog_create(path, SEG_SIZE, 4096, &lg);

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
	/*
	 * The populator starts once the writers are forked: a thread that is
	 * still starting when another forks can leave the child a held
	 * allocator lock (ASan's: the children's pthread_create hung).
	 */
	if (populate && (err = pthread_create(&pop, NULL, populator, NULL)))
		die("pthread_create", err);
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
	if (populate)
		populated(pop);
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
	if (argc == 6 && (!strcmp(argv[1], "stress") || !strcmp(argv[1], "populate")) &&
	    nproc >= 1 && nproc <= 64)
		return stress(argv[2], nproc, nthreads, !strcmp(argv[1], "populate"));
	if (argc == 5 && !strcmp(argv[1], "full"))
		return full(argv[2], nthreads);
	fprintf(stderr, "usage: logstress stress|populate PATH NPROC NTHREADS NREC | "
		"full PATH NTHREADS NREC\n");
	return 2;
}
