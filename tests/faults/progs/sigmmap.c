/* SPDX-License-Identifier: MIT */
/*
 * sigmmap - SIGALRM handlers that mmap, touch and munmap while the main
 * loop does the same: the shim's hooks must be re-entrant from a signal
 * (its recursion guard, not a deadlock on its own mm lock).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#define SIGNALS 200

static volatile sig_atomic_t handled, failed;

static int map_touch_unmap(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	return munmap(p, len);
}

static void on_alarm(int sig)
{
	(void)sig;
	if (map_touch_unmap(3 * 4096))
		failed = 1;
	handled++;
}

int main(void)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	sigset_t block, old;
	unsigned long loops = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (handled < SIGNALS) {
		if (map_touch_unmap(16 * 4096))
			failed = 1;
		loops++;
	}
	/* Stop the timer with the signal blocked so no handler runs after it. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("handlers: %d, failures: %d, main loop ran: %s\n", SIGNALS,
	       (int)failed, loops > 0 ? "yes" : "no");
	return failed;
}
