/* SPDX-License-Identifier: MIT */
/*
 * run.h - the supervisor's state, shared by run.c (the process tree),
 * runshadow.c (the supervisor's own work on the shadow rmap and the log)
 * and runsample.c (--sample-ms).
 */
#ifndef RMAPSHIM_RUN_H
#define RMAPSHIM_RUN_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "log.h"
#include "rmapcore.h"
#include "runopts.h"

#define PROG "rmapshim run"

/* Statuses of the processes this supervisor waited for (it is their reaper). */
struct waited {
	pid_t pid;
	int status;
};

struct run {
	struct run_opts o;
	int dirfd;
	char dir[PATH_MAX];		/* absolute, as the children see it */
	struct rmap_arena *arena;	/* NULL: running untraced */
	int arena_fd;			/* its memfd (-1: a file in dir) */
	struct rlog *log;		/* NULL: no log at all */
	int traced;			/* LD_PRELOAD set for CMD */
	int pfn_access;			/* pagemap shows PFNs here (root) */
	pid_t self, child;
	int child_status, child_done;
	uint64_t t0;
	uint64_t reaped;
	struct waited *waited;
	size_t nwaited, waited_cap;
	struct run_suspect { rmap_mm_t mm; int32_t pid; } *suspect; /* dead-looking at the previous wake */
	size_t nsuspect;
	/* refill_inactive_zone, shrink_list; with --perturb rmap_steer_serve */
	pthread_t reclaimer[3];
	struct run *reclaim_arg[3];	/* which one a thread is: &reclaim_arg[i] */
	int reclaim_running;		/* threads started */
	pthread_mutex_t stop_lock;	/* wakes the vmscan thread to stop */
	pthread_cond_t stop_cond;
	int stop;			/* under stop_lock */
	pthread_t sampler;		/* --sample-ms (runsample.c) */
	int sampling;			/* it runs: the workload does not sample itself */
	struct rmap_file_id mmsem_id;	/* kept out of the shadow by the sampler */
	pthread_t populator;		/* log pages ahead of the claims (run.c) */
	int populating;			/* it was started */
	int vmawatch_fd;		/* shim_vmawatch_hold's event, or -1 */
};

/* run.c */
void run_note(struct run *r, enum rlog_note_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* One line on stderr and the same as a warning note in the log. */
void run_warn(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* realloc doubling *cap (exits on ENOMEM: the supervisor has nothing to save). */
void *run_grow(void *p, size_t *cap, size_t elem);
int run_exit_code(int status);
/* The status this supervisor collected for @pid, or -1 if it never saw it. */
int run_waited_status(const struct run *r, pid_t pid);

/* runshadow.c */
/* The stop condition every supervisor thread waits on (before starting any). */
void run_threads_init(struct run *r);
/* Wake them all to stop; each stop function then joins its own. */
void run_threads_stop(struct run *r);
/* Sleep until @deadline (CLOCK_MONOTONIC); 1 if asked to stop meanwhile. */
int run_wait_tick(struct run *r, const struct timespec *deadline);
void run_tick_add(struct timespec *t, long ns);
void run_start_reclaim(struct run *r);
void run_stop_reclaim(struct run *r);
/* @final: the tree is gone, every live mm is an orphan. */
void run_reap_dead_mms(struct run *r, int final);
/* Invariants, lock_stat, RLOG_RUN_END and the end line. */
void run_finish(struct run *r, int status);

/* runsample.c: the --sample-ms thread (sets r->sampling if it runs). */
void run_start_sample(struct run *r);
void run_stop_sample(struct run *r);

#endif /* RMAPSHIM_RUN_H */
