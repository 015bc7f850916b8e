/* SPDX-License-Identifier: MIT */
/*
 * onbehalf.c - reconciling another process's shadow mm from /proc/<pid>.
 *
 * Two callers: an explicit checkpoint (oracle.c) brings every other live
 * process of the tree up to date, and the supervisor's sampler
 * (runsample.c, --sample-ms) does the same every MS ms, so a process that
 * makes no intercepted call (a compute loop faulting and breaking COWs)
 * is still followed.  Either way the work is done under the mm's mmsem
 * slot, like any mm-level operation, and logged like the owner's own
 * whole-mm reconciliation: one RLOG_MAP_EVENT plus transitions, with the
 * owner's pid, written by the thread acting for it (the record's tid).
 * The ranges of the shim's own memory the owner keeps out of its shadow
 * are read from its mmsem slot (shim_reconcile), so both leave out the same.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define STAT_ARG_START	48		/* proc(5): field 48 of /proc/<pid>/stat */

/*
 * arg_start of the image @pid runs now: an address in its main thread's
 * stack, which ASLR places anew at every exec.  0 if unknown.
 */
static uint64_t image_stack_addr(pid_t pid)
{
	char buf[1024], *p;
	int fd = shim_open_proc(pid, "stat");
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: count from its end. */
	p = strrchr(buf, ')');
	for (int f = 2; f < STAT_ARG_START && p; f++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

struct covers {
	uint64_t addr;
	int found;
};

static void find_addr(void *ctx, const struct rmap_vma_info *v)
{
	struct covers *c = ctx;

	c->found |= v->start <= c->addr && c->addr < v->end;
}

/*
 * Exec race: the exec'ing process drops its slot before execve, and the
 * new image tears the old shadow mm down only in its constructor.  In
 * between, /proc/<pid> already shows the new image: reconciling the old
 * mm from it would replay the new image into the old one.  The kernel's
 * current stack must be one the shadow mm knows.
 */
static int same_image(rmap_mm_t mm, pid_t pid)
{
	struct covers c = { image_stack_addr(pid), 0 };

	if (!c.addr)
		return 1;	/* field hidden: cannot tell, trust the pid */
	rmap_walk_vmas(shim.arena, mm, find_addr, &c);
	return c.found;
}

int shim_reconcile_other(rmap_mm_t mm, pid_t pid, uint32_t op)
{
	struct shim_op o;
	int err;

	/* Gone without its exit path (SIGKILL): the supervisor reaps it. */
	if (kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	/* Busy in its own operation: it reconciles what it touches itself. */
	if (!shim_mmsem_trylock(mm))
		return -EBUSY;
	/* Index reuse (as the reaper checks): under the slot, the pid decides. */
	if (rmap_mm_pid(shim.arena, mm) != pid || !same_image(mm, pid)) {
		shim_mmsem_unlock(mm);
		return -ESTALE;
	}
	shim_op_begin(&o, op, RMAP_CAUSE_NONE, 0);
	o.pid = pid;
	o.mm = mm;
	err = shim_reconcile(&o, pid, mm, SHIM_ALL_LO, SHIM_ALL_HI, SHIM_RECON_PAGES);
	shim_op_end_map(&o, 0, 0, 0, err);
	shim_mmsem_unlock(mm);
	return err;
}

void shim_reconcile_others(uint32_t op)
{
	for (rmap_mm_t m = rmap_mm_next(shim.arena, 0); m; m = rmap_mm_next(shim.arena, m)) {
		pid_t pid = rmap_mm_pid(shim.arena, m);

		if (pid > 0 && pid != shim.pid)
			(void)shim_reconcile_other(m, pid, op);
	}
}
