/* SPDX-License-Identifier: MIT */
/*
 * runsample.c - --sample-ms: the supervisor reconciles every live traced mm
 * every MS ms on its owner's behalf (onbehalf.c, the code an explicit
 * checkpoint uses), so a process that makes no intercepted call is
 * followed all the same, with no thread, timer or signal added to it.
 *
 * The thread runs the preload's reconciliation code, which reads its
 * identity from `shim`: here the supervisor's pid, no mm of its own, the
 * run's arena and log, and the shim's files to keep out of the shadow.
 * An mm busy in its owner's operation (slot held) waits for the next
 * sample; MM_NEW mms (a fork being copied) are not listed by
 * rmap_mm_next; dead, reused and exec'ing ones are left alone
 * (shim_reconcile_other).  The thread stops before the final reap.
 */
#include "run.h"
#include "shim.h"
#include "shimenv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

struct shim_proc shim;

/* The supervisor's own call stacks say nothing about the workload. */
uint32_t shim_stack(void)
{
	return 0;
}

static void become_shim(struct run *r)
{
	shim.pid = r->self;
	shim.arena = r->arena;
	shim.log = r->log;
	shim.cfg.events_pages = r->o.events == RUN_EVENTS_PAGES;
	/* RMAPSHIM_LOCKWAIT_NS is the workload's (validated by the preload). */
	shim.cfg.lockwait_ns = RMAPSHIM_LOCKWAIT_DEFAULT_NS;
	(void)shim_file_id(r->dirfd, RMAPSHIM_ARENA_NAME, r->arena_fd, &shim.arena_id);
	(void)shim_file_id(r->dirfd, RMAPSHIM_LOG_NAME, -1, &shim.log_id);
	shim.mmsem_id = r->mmsem_id;
}

static void *sample_thread(void *arg)
{
	struct run *r = arg;
	struct timespec next;

	shim_events_thread_init();
	/* MS from the end of one sample: a slow one delays, never bunches, the next. */
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &next);
		run_tick_add(&next, (long)r->o.sample_ms * 1000000L);
		if (run_wait_tick(r, &next))
			return NULL;
		shim_reconcile_others(RLOG_OP_SAMPLE);	/* shim.pid: the supervisor */
	}
}

void run_start_sample(struct run *r)
{
	int err;

	if (!r->o.sample_ms || !r->arena)
		return;
	become_shim(r);
	err = pthread_create(&r->sampler, NULL, sample_thread, r);
	if (err) {
		run_warn(r, "cannot start the --sample-ms thread (%s): each process "
			 "samples itself at its intercepted calls", strerror(err));
		return;
	}
	r->sampling = 1;
}

void run_stop_sample(struct run *r)
{
	if (!r->sampling)
		return;
	run_threads_stop(r);
	pthread_join(r->sampler, NULL);
	r->sampling = 0;
}
