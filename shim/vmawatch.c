/* SPDX-License-Identifier: MIT */
/*
 * vmawatch.c - "no vma of ours changed since": when the pre-fork
 * reconciliation may skip reading the vmas.
 *
 * Reading the vmas (a PROCMAP_QUERY per vma) was the largest item of a
 * pre-fork reconciliation at 0 MiB: ~30 us of forkstorm's fork.  Every
 * change to a vma - mmap, munmap, mprotect, mremap, brk, madvise that
 * splits, stack growth, a userfaultfd registration - takes the mm's
 * mmap_lock for writing, and the kernel has a tracepoint there
 * (mmap_lock:mmap_lock_acquire_returned, with the mm and a write flag).
 * A perf event on it, for this thread, filtered to successful write
 * locks, writes one PERF_RECORD_SAMPLE per lock into a ring mapped
 * read-only (the kernel then overwrites the oldest) and the fd is closed
 * at once (the mapping keeps the event alive; no fd for the workload to
 * see or close).  Reading data_head and the few records since the last
 * check is a load and a loop, no syscall.
 *
 * The only write lock of our mm a fork takes is dup_mmap's (measured: one
 * per fork on 6.18, the child's mm is another).  So the vmas are as the
 * last read found them if, since the last check, the ring holds exactly one
 * write lock of our mm per fork the parent side noted, and no more.
 * Anything else - another count, a lapped ring, no event - reads them.
 *
 * Only while the process is single-threaded (glibc's
 * __libc_single_threaded): the event is per thread, and a thread's mmap
 * is seen by its own event only.  Root (CAP_PERFMON) and tracefs are
 * needed for a tracepoint's raw fields; without them nothing changes.
 * What it does not see: another process taking our mmap_lock for writing
 * (writing /proc/<pid>/clear_refs, process_madvise collapsing); threads
 * made with a raw clone syscall.  A program that turns off the counters
 * attached to it (prctl PR_TASK_PERF_EVENTS_DISABLE) is safe: our forks'
 * own locks are not recorded either, so every check fails.  Fork children
 * inherit neither the event nor the ring (VM_DONTCOPY): they start their
 * own at their first fork.
 */
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#define RING_PAGES	1		/* data pages: ~85 records */
#define TP_ID_PATH	"/sys/kernel/tracing/events/mmap_lock/mmap_lock_acquire_returned/id"
/* The tracepoint's raw record: common fields (8 bytes), then the mm. */
#define RAW_MM_OFF	8

/* Reset by every fork child: in the page it writes anyway. */
static SHIM_CHILD_WRITES struct {
	struct perf_event_mmap_page *pg;	/* NULL: not watching */
	uint64_t mm;			/* our mm's address, as the records give it */
	uint64_t mark;			/* data_head the last check read up to */
	uint32_t forks;			/* forks noted since */
	int given_up;			/* no tracepoint here: never try again */
} vw;

/* @n bytes at @pos of the ring's data, wrapping around its end. */
static void ring_load(const char *data, uint64_t pos, void *out, size_t n)
{
	uint64_t size = vw.pg->data_size;

	for (size_t i = 0; i < n; i++)
		((char *)out)[i] = data[(pos + i) % size];
}

/*
 * Write locks of our mm recorded in [from, head), or -1 if the ring lost
 * some (lapped) or holds something else.  *last_mm: the last record's mm.
 */
static long count_ours(uint64_t from, uint64_t head, uint64_t *last_mm)
{
	const char *data = (const char *)vw.pg + vw.pg->data_offset;
	long ours = 0;

	if (head - from > vw.pg->data_size)
		return -1;
	while (from < head) {
		struct perf_event_header h;
		uint64_t mm;

		ring_load(data, from, &h, sizeof(h));
		if (h.type != PERF_RECORD_SAMPLE || h.size < sizeof(h) + 4 + RAW_MM_OFF + 8)
			return -1;
		/* header, u32 raw size, raw data */
		ring_load(data, from + sizeof(h) + 4 + RAW_MM_OFF, &mm, sizeof(mm));
		*last_mm = mm;
		ours += mm == vw.mm;
		from += h.size;
	}
	return ours;
}

static uint64_t head_now(void)
{
	return __atomic_load_n(&vw.pg->data_head, __ATOMIC_ACQUIRE);
}

static int tracepoint_id(void)
{
	char buf[16] = "";
	int fd = open(TP_ID_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* A perf event on the tracepoint for the calling thread, filtered; -1 if none. */
static int open_event(void)
{
	struct perf_event_attr at = {
		.size = sizeof(at), .type = PERF_TYPE_TRACEPOINT,
		.sample_period = 1, .sample_type = PERF_SAMPLE_RAW,
		.remove_on_exec = 1,
	};
	int id = tracepoint_id(), fd;

	if (id < 0)
		return -1;
	at.config = (uint64_t)id;
	fd = (int)syscall(SYS_perf_event_open, &at, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, "write == 1 && success == 1")) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * The supervisor's, for the whole run, never read: the first perf event
 * on a tracepoint switches it on (a static key: code patched on every
 * cpu, 1.1 ms measured) and the last one's close switches it off again.
 * With one held, a process's start() costs ~10 us, and nothing at its
 * exit.  The fd is rmapshim-run's (close-on-exec), -1 without the
 * tracepoint.
 */
int shim_vmawatch_hold(void)
{
	return open_event();
}

/* Open the event and its ring; learn our mm from a write lock of our own. */
static void start(void)
{
	size_t len = (1 + RING_PAGES) * PAGE_SIZE;
	uint64_t before, mm = 0;
	long pg;
	int fd;

	vw.given_up = 1;		/* unless all goes well */
	fd = open_event();
	if (fd < 0)
		return;
	/* Raw syscalls: not our own hooks (the supervisor links this too). */
	pg = syscall(SYS_mmap, NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (pg == -1)
		return;
	vw.pg = (struct perf_event_mmap_page *)pg;
	/* An mprotect to the same protection takes the write lock. */
	before = head_now();
	if (syscall(SYS_mprotect, pg, PAGE_SIZE, PROT_READ) ||
	    count_ours(before, head_now(), &mm) != 0 || !mm) {
		(void)syscall(SYS_munmap, pg, len);
		vw.pg = NULL;
		return;
	}
	vw.mm = mm;
	/* Ours, not the workload's: never in the shadow. */
	shim_own_add((uint64_t)pg, (uint64_t)pg + len);
	vw.given_up = 0;
}

/*
 * Before a pre-fork reconciliation reads the vmas: 1 if none can have
 * changed since the last call (the caller may reuse what it read then).
 * The next call judges from the head this one read up to, so a record
 * written meanwhile (our own stack growing, say) is not skipped; after a
 * 0 the caller reads the vmas from now on.
 */
int shim_vmawatch_unchanged(void)
{
	uint64_t head, last;
	int same;

	if (!__libc_single_threaded)
		return 0;
	if (!vw.pg) {
		if (!vw.given_up)
			start();
		same = 0;
		head = vw.pg ? head_now() : 0;
	} else {
		head = head_now();
		same = count_ours(vw.mark, head, &last) == vw.forks;
	}
	vw.mark = head;
	vw.forks = 0;
	return same;
}

void shim_vmawatch_forked(void)
{
	vw.forks++;
}

void shim_vmawatch_reset(void)
{
	/* The ring is not ours any more (VM_DONTCOPY): never touch it. */
	memset(&vw, 0, sizeof(vw));
}
