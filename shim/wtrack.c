/* SPDX-License-Identifier: MIT */
/*
 * wtrack.c - write tracking for the pre-fork reconciliation.
 *
 * Before each fork the shadow must know every present pte's frame, and
 * reading it all back from /proc/self/pagemap costs 35-55 ns a page, half
 * of the kernel's own fork.  An anonymous page's frame changes only when
 * it is written (COW break, a fault after a zap) or zapped; so registering
 * the private anonymous vmas with userfaultfd in write-protect *async* mode
 * (Linux 6.7: the kernel resolves the fault itself, nobody reads the fd)
 * lets PAGEMAP_SCAN report which pages were written since the last scan
 * and write-protect them again in the same walk (1-2 ns a page), and only
 * those, plus the new and vanished ones mincore() finds, are read.  No
 * CONFIG_MEM_SOFT_DIRTY here; this is what CRIU uses instead.
 *
 * The registration lives as long as the userfaultfd file: the workload
 * must not keep an fd (it would show in /proc/self/fd, and a daemon's
 * close-all would silently end the tracking), so rmapshim-run takes a copy
 * with pidfd_getfd() and the workload closes its own ("parking").  The
 * mailbox is a page of the shared mmsem file.  Whatever fails - no
 * supervisor, an old kernel, a program with its own userfaultfd on the
 * range, the supervisor gone - ends in the safe state: registration absent
 * or dropped, every page then reads as written, and the reconciliation
 * reads the pagemap as it did before.
 *
 * What it does not see: frames the kernel moves on its own without a
 * write (compaction, migration, swap-in, KSM).  Those are found at the
 * next full reconciliation (checkpoints, exit, mm-level hooks), as any
 * change between two reconciliations always was.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "wtrack.h"

#define UFFD_WP_ASYNC		(1ull << 15)	/* UFFD_FEATURE_WP_ASYNC */
#define PARK_REQS		32
#define PARK_WAIT_NS		200000000ull	/* the longest a workload waits */
#define HELD_MAX		400		/* 2 fds each, under the usual 1024 */

enum { REQ_FREE, REQ_CLAIMED, REQ_ASKED, REQ_TAKEN, REQ_DONE, REQ_FAILED };

struct park_box {
	_Atomic uint32_t gen;		/* bumped per request: the server's futex */
	_Atomic int32_t server;		/* pid of the serving rmapshim-run, 0: none */
	struct park_req {
		_Atomic uint32_t state;
		int32_t pid, fd;	/* the requester and its userfaultfd */
		int32_t got;		/* the supervisor's copy */
	} req[PARK_REQS];
};
_Static_assert(sizeof(struct park_box) <= SHIM_MMSEM_EXTRA, "mailbox too big");

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	/* Shared (not _PRIVATE): the word is in a MAP_SHARED file. */
	return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

static struct park_box *box(void)
{
	return shim_mmsem_extra();
}

/* ------------------------------------------------------------------ */
/* The workload's side (state is per process image; callers hold mm_lock) */
/* ------------------------------------------------------------------ */

static struct {
	int fd;				/* our userfaultfd while registering */
	int parked;			/* the supervisor holds it as fd `held` */
	int32_t held, server;
	int broken;			/* gave up for this process */
} wt = { .fd = -1 };

int shim_wtrack_possible(void)
{
	struct park_box *b = box();

	return !wt.broken && b && atomic_load(&b->server) > 0;
}

static int uffd_create(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_WP_ASYNC };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Our copy of the parked userfaultfd, from the supervisor's fd table. */
static int uffd_fetch(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, wt.server, 0);
	int fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, wt.held, 0);

	if (pidfd >= 0)
		close(pidfd);
	return fd;
}

int shim_wtrack_register(uint64_t start, uint64_t end)
{
	struct uffdio_register reg = { .range = { start, end - start },
				       .mode = UFFDIO_REGISTER_MODE_WP };

	if (!shim_wtrack_possible())
		return -ENOTSUP;
	if (wt.fd < 0)
		wt.fd = wt.parked ? uffd_fetch() : uffd_create();
	if (wt.fd < 0) {
		wt.broken = 1;
		return -ENOTSUP;
	}
	/* EBUSY: the program registered this range itself; it keeps it. */
	return ioctl(wt.fd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

static struct park_req *claim(struct park_box *b)
{
	for (int i = 0; i < PARK_REQS; i++) {
		uint32_t free_ = REQ_FREE;

		if (atomic_compare_exchange_strong(&b->req[i].state, &free_, REQ_CLAIMED))
			return &b->req[i];
	}
	return NULL;
}

/* Ask the supervisor to take a copy of our fd; 1 once it holds it. */
static int ask_park(struct park_box *b)
{
	struct park_req *q = claim(b);
	const struct timespec step = { 0, 20000000 };
	uint32_t s = REQ_ASKED;
	uint64_t t0, waited;

	if (!q)
		return 0;
	q->pid = getpid();
	q->fd = wt.fd;
	atomic_store(&q->state, REQ_ASKED);
	atomic_fetch_add(&b->gen, 1);
	futex(&b->gen, FUTEX_WAKE, 1, NULL);
	t0 = rlog_now_ns();
	for (;;) {
		s = atomic_load(&q->state);
		if (s == REQ_DONE || s == REQ_FAILED)
			break;
		waited = rlog_now_ns() - t0;
		if (waited > PARK_WAIT_NS) {
			uint32_t asked = REQ_ASKED;

			/* Not picked up: withdraw.  Taken meanwhile: it answers soon... */
			if (atomic_compare_exchange_strong(&q->state, &asked, REQ_FREE))
				return 0;
			/* ...unless the supervisor died holding it: the slot is lost. */
			if (waited > 5 * PARK_WAIT_NS)
				return 0;
		}
		futex(&q->state, FUTEX_WAIT, s, &step);
	}
	wt.held = q->got;
	atomic_store(&q->state, REQ_FREE);
	return s == REQ_DONE;
}

void shim_wtrack_park(void)
{
	struct park_box *b = box();

	if (wt.fd < 0)
		return;
	if (!wt.parked) {
		wt.server = b ? atomic_load(&b->server) : 0;
		wt.parked = wt.server > 0 && ask_park(b);
		/* Closing the only copy ends the registration: safe, untracked. */
		wt.broken = !wt.parked;
		if (wt.parked)
			rlog_note(shim.log, shim.pid, RLOG_NOTE_INFO,
				  "write tracking armed: userfaultfd parked in the supervisor");
	}
	close(wt.fd);
	wt.fd = -1;
}

void shim_wtrack_forget(void)
{
	if (wt.fd >= 0)
		close(wt.fd);
	wt.fd = -1;
	wt.parked = wt.broken = 0;
}

/* ------------------------------------------------------------------ */
/* The supervisor's side                                                */
/* ------------------------------------------------------------------ */

static struct {
	pthread_t thread;
	int running;
	atomic_int stop;
	struct pollfd owner[HELD_MAX];	/* pidfds: readable once the process exits */
	int fd[HELD_MAX];
	int n;
} srv;

static void serve(struct park_req *q)
{
	int pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
	int fd = -1;

	if (pidfd >= 0 && srv.n < HELD_MAX)
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, q->fd, 0);
	if (fd < 0) {
		if (pidfd >= 0)
			close(pidfd);
		atomic_store(&q->state, REQ_FAILED);
	} else {
		srv.owner[srv.n] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		srv.fd[srv.n++] = fd;
		q->got = fd;
		atomic_store(&q->state, REQ_DONE);
	}
	futex(&q->state, FUTEX_WAKE, 1, NULL);
}

/* A dead process's registration goes with its mm: drop our copy. */
static void close_dead(void)
{
	if (srv.n <= 0 || poll(srv.owner, srv.n, 0) <= 0)
		return;
	for (int i = srv.n; i-- > 0;) {
		if (!srv.owner[i].revents)
			continue;
		close(srv.owner[i].fd);
		close(srv.fd[i]);
		srv.n--;
		srv.owner[i] = srv.owner[srv.n];
		srv.fd[i] = srv.fd[srv.n];
	}
}

static void *serve_thread(void *arg)
{
	struct park_box *b = arg;
	const struct timespec tick = { 0, 250000000 };

	while (!atomic_load(&srv.stop)) {
		uint32_t seen = atomic_load(&b->gen);

		for (int i = 0; i < PARK_REQS; i++) {
			uint32_t asked = REQ_ASKED;

			if (atomic_compare_exchange_strong(&b->req[i].state, &asked, REQ_TAKEN))
				serve(&b->req[i]);
		}
		close_dead();
		futex(&b->gen, FUTEX_WAIT, seen, &tick);
	}
	return NULL;
}

int shim_wtrack_serve_start(void)
{
	struct park_box *b = box();
	int err;

	if (!b)
		return -ENOENT;
	err = pthread_create(&srv.thread, NULL, serve_thread, b);
	if (err)
		return -err;
	srv.running = 1;
	atomic_store(&b->server, getpid());
	return 0;
}

void shim_wtrack_serve_stop(void)
{
	struct park_box *b = box();

	if (!srv.running)
		return;
	atomic_store(&b->server, 0);
	atomic_store(&srv.stop, 1);
	atomic_fetch_add(&b->gen, 1);
	futex(&b->gen, FUTEX_WAKE, 1, NULL);
	pthread_join(srv.thread, NULL);
	srv.running = 0;
	for (int i = 0; i < srv.n; i++) {
		close(srv.owner[i].fd);
		close(srv.fd[i]);
	}
	srv.n = 0;
}
