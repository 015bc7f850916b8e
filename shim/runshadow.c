/* SPDX-License-Identifier: MIT */
/*
 * runshadow.c - what the supervisor itself does to the shadow rmap: the
 * shadow vmscan thread (--reclaim) and the stop condition every supervisor
 * thread waits on (runsample.c's too), exit_mmap for processes that died
 * without running their exit code, and the end-of-run totals (invariant
 * check, lock_stat, RLOG_RUN_END, the end line).
 */
#include "mmsem.h"
#include "racelog.h"
#include "run.h"
#include "wtrack.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_VIOLATIONS_LOGGED 8

/* ------------------------------------------------------------------ */
/* Logging what the supervisor itself does                              */
/* ------------------------------------------------------------------ */

/*
 * Events caused by the supervisor's own rmapcore calls (reaping, shadow
 * vmscan) are logged like the shim logs a process's: individually for the
 * --events choice, the rest aggregated into one record per operation.
 */
struct sup_sink {
	struct run *r;
	int32_t pid;			/* reaped pid, or the supervisor's */
	uint32_t cause;
	uint32_t individual;		/* event types logged one by one */
	uint64_t counts[16];
};

static void sup_event(void *ctx, const struct rmap_event *ev)
{
	struct sup_sink *s = ctx;
	struct rlog_transition *t;

	if (ev->type < 16)
		s->counts[ev->type]++;
	rlog_race_hit(s->r->log, s->pid, 0, ev);
	if (!(s->individual & (1u << ev->type)))
		return;
	t = rlog_reserve(s->r->log, RLOG_TRANSITION, sizeof(*t));
	if (!t)
		return;
	t->pid = s->pid;
	t->mm = ev->mm;
	t->type = ev->type;
	t->cause = ev->cause;
	t->old_mapcount = ev->old_mapcount;
	t->new_mapcount = ev->new_mapcount;
	t->frame = ev->frame;
	t->vaddr = ev->vaddr;
	rlog_commit(s->r->log, t);
}

static void sink_begin(struct sup_sink *s, struct run *r, int32_t pid,
		       enum rmap_cause cause)
{
	uint32_t pages = 0;

	for (int t = RMAP_EV_MAP_FIRST; t < RMAP_EV_NR_TYPES; t++)
		if (t != RMAP_EV_RACE && t != RMAP_EV_VIOLATION)
			pages |= 1u << t;
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->pid = pid;
	s->cause = cause;
	s->individual = r->o.events == RUN_EVENTS_PAGES ? pages :
		(1u << RMAP_EV_MAP_FIRST) | (1u << RMAP_EV_UNMAP_LAST);
	rmap_set_sink_mask(pages | 1u << RMAP_EV_RACE);	/* detailed hits: RLOG_RACE */
	rmap_set_sink(sup_event, s);
}

/* Unset the sink; one aggregate record if anything was not logged singly. */
static void sink_end(struct sup_sink *s)
{
	struct rlog_transition_agg *agg;
	uint64_t rest = 0;

	rmap_set_sink(NULL, NULL);
	for (int t = 0; t < 16; t++) {
		if (s->individual & (1u << t))
			s->counts[t] = 0;
		rest += s->counts[t];
	}
	if (!rest)
		return;
	agg = rlog_reserve(s->r->log, RLOG_TRANSITION_AGG, sizeof(*agg));
	if (!agg)
		return;
	agg->pid = s->pid;
	agg->cause = s->cause;
	memcpy(agg->counts, s->counts, sizeof(agg->counts));
	rlog_commit(s->r->log, agg);
}

/* ------------------------------------------------------------------ */
/* Shadow vmscan (--reclaim)                                             */
/* ------------------------------------------------------------------ */

#define RECLAIM_TICK_NS	(10 * 1000000L)

int run_wait_tick(struct run *r, const struct timespec *deadline)
{
	int stop;

	pthread_mutex_lock(&r->stop_lock);
	while (!r->stop &&
	       pthread_cond_timedwait(&r->stop_cond, &r->stop_lock, deadline) != ETIMEDOUT)
		;
	stop = r->stop;
	pthread_mutex_unlock(&r->stop_lock);
	return stop;
}

void run_tick_add(struct timespec *t, long ns)
{
	t->tv_sec += ns / 1000000000L;
	t->tv_nsec += ns % 1000000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* Deadlines on CLOCK_MONOTONIC: pacing must not jump with the wall clock. */
void run_threads_init(struct run *r)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->stop_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&r->stop_lock, NULL);
}

/* Wake every supervisor thread to stop (they all wait on stop_cond). */
void run_threads_stop(struct run *r)
{
	pthread_mutex_lock(&r->stop_lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->stop_cond);
	pthread_mutex_unlock(&r->stop_lock);
}

/*
 * Two reclaimers, as the kernel has (kswapd and direct reclaim on another
 * CPU): one ages the active list (refill_inactive_zone, page lock tried),
 * the other shrinks the inactive one (shrink_list, page lock held).  Only
 * with both can refill's TestSetPageLocked find a page busy (R7).
 */
static void *reclaim_thread(void *arg)
{
	struct run *r = *(struct run **)arg;
	int shrinker = arg == &r->reclaim_arg[1];
	uint64_t rate = r->o.reclaim_rate;
	/* RATE pages/s as batches every 10 ms, or one page per tick below 100/s. */
	unsigned long batch = rate >= 100 ? (unsigned long)(rate / 100) : 1;
	long tick = rate >= 100 ? RECLAIM_TICK_NS : (long)(1000000000 / rate);
	struct rmap_scan_result res;
	struct sup_sink sink;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	do {
		sink_begin(&sink, r, r->self, RMAP_CAUSE_RECLAIM);
		memset(&res, 0, sizeof(res));
		if (shrinker)
			shrink_list(r->arena, batch, &res);
		else
			refill_inactive_zone(r->arena, batch, &res);
		sink_end(&sink);
		run_tick_add(&next, tick);
	} while (!run_wait_tick(r, &next));
	return NULL;
}

/*
 * With --perturb, a third one (a reclaimer on another CPU) only looks at
 * the pages actors publish while inside a window whose other side is
 * vmscan (rmapcore/steer.c): the LRU scans are too slow to meet them, in
 * lockless-rcu most of all (they wait on preempted lock holders).
 */
static void *steer_thread(void *arg)
{
	struct run *r = *(struct run **)arg;
	struct sup_sink sink;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	do {
		run_tick_add(&next, RECLAIM_TICK_NS);
		sink_begin(&sink, r, r->self, RMAP_CAUSE_RECLAIM);
		rmap_steer_serve(r->arena, &next);
		sink_end(&sink);
	} while (!run_wait_tick(r, &next));
	return NULL;
}

void run_start_reclaim(struct run *r)
{
	int err;

	if (!r->o.reclaim_rate || !r->arena)
		return;
	for (int i = 0; i < (r->o.perturb_seed ? 3 : 2); i++) {
		r->reclaim_arg[i] = r;
		err = pthread_create(&r->reclaimer[i], NULL, i == 2 ? steer_thread : reclaim_thread,
				     &r->reclaim_arg[i]);
		if (err) {
			run_warn(r, "cannot start a shadow vmscan thread (%s): "
				 "--reclaim runs with %d", strerror(err), i);
			break;
		}
		r->reclaim_running = i + 1;
	}
}

void run_stop_reclaim(struct run *r)
{
	if (!r->reclaim_running)
		return;
	run_threads_stop(r);
	for (int i = 0; i < r->reclaim_running; i++)
		pthread_join(r->reclaimer[i], NULL);
	r->reclaim_running = 0;
}

/* ------------------------------------------------------------------ */
/* Processes that died without running their exit code                  */
/* ------------------------------------------------------------------ */

/* exit_mmap on behalf of a process that cannot run its own any more. */
static void reap_mm(struct run *r, rmap_mm_t mm, int32_t pid)
{
	struct rlog_exit *e;
	struct sup_sink sink;
	uint64_t t0, pages = (uint64_t)rmap_mm_rss(r->arena, mm);
	int err;

	sink_begin(&sink, r, pid, RMAP_CAUSE_EXIT);
	t0 = rlog_now_ns();
	shim_mmsem_lock(mm);
	/*
	 * Index reuse: since we read @pid, its owner may have exited and the
	 * slot gone to another process's mm.  Under the slot, the pid decides.
	 */
	err = rmap_mm_pid(r->arena, mm) == pid ? rmap_exit_mmap(r->arena, mm, RMAP_CAUSE_EXIT) : -ESTALE;
	/* Its list of the shim's own memory must not pass to the index's next mm. */
	if (err != -ESTALE)
		(void)shim_mmsem_publish(mm, pid, NULL);
	shim_mmsem_unlock(mm);
	if (err == -ESTALE) {
		sink_end(&sink);
		return;
	}
	t0 = rlog_now_ns() - t0;
	sink_end(&sink);
	if (err) {
		run_note(r, RLOG_NOTE_ERROR, "exit_mmap of mm %u (pid %d) failed: %s",
			 mm, pid, strerror(-err));
		return;
	}
	r->reaped++;
	e = rlog_reserve(r->log, RLOG_EXIT, sizeof(*e));
	if (e) {
		e->pid = pid;
		e->status = run_waited_status(r, pid);
		e->mm = mm;
		e->how = RLOG_EXIT_REAPED;
		e->pages = pages;
		e->rmap_ns = t0;
		rlog_commit(r->log, e);
	}
	run_note(r, RLOG_NOTE_INFO, "pid %d died without running its exit code: "
		 "its mm %u (%" PRIu64 " ptes) was reaped by the supervisor", pid, mm,
		 pages);
}

static int was_suspect(const struct run *r, rmap_mm_t mm, int32_t pid)
{
	for (size_t i = 0; i < r->nsuspect; i++)
		if (r->suspect[i].mm == mm && r->suspect[i].pid == pid)
			return 1;
	return 0;
}

/*
 * Reap live shadow mms whose pid is gone.  While the tree runs, an mm is
 * reaped only if it already looked dead one wake earlier: a parent may
 * still be building the shadow copy of a child that died at once, and the
 * supervisor must not operate on an mm another process is operating on.
 * With @final the tree is gone and every live mm is an orphan.
 */
void run_reap_dead_mms(struct run *r, int final)
{
	rmap_mm_t mm = 0;
	struct run_suspect *now = NULL;
	size_t nnow = 0, cap = 0;
	int32_t pid;

	if (!r->arena)
		return;
	while ((mm = rmap_mm_next(r->arena, mm))) {
		pid = rmap_mm_pid(r->arena, mm);
		if (!final && (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		if (!final && !was_suspect(r, mm, pid)) {
			if (nnow == cap)
				now = run_grow(now, &cap, sizeof(*now));
			now[nnow].mm = mm;
			now[nnow++].pid = pid;
			continue;
		}
		reap_mm(r, mm, pid);
	}
	free(r->suspect);
	r->suspect = now;
	r->nsuspect = nnow;
	if (final) {
		/* A parent killed inside its shadow fork copy leaves a child mm nobody sees. */
		long n = rmap_reap_unfinished_forks(r->arena);

		if (n)
			run_note(r, RLOG_NOTE_WARN, "%ld half-copied mm(s) of forks whose parent "
				 "was killed during the shadow copy were torn down", n);
		/* A process killed inside rmap_page_lookup leaves a page that reads as mapped. */
		n = rmap_reap_orphan_pages(r->arena);
		if (n > 0)
			run_note(r, RLOG_NOTE_WARN, "%ld shadow page(s) left uninitialised by a "
				 "process killed while creating them were freed", n);
	}
}

/* ------------------------------------------------------------------ */
/* The end of the run                                                    */
/* ------------------------------------------------------------------ */

static void log_violations(struct run *r)
{
	struct rmap_violation v[MAX_VIOLATIONS_LOGGED];
	struct rlog_violation *rv;
	long n = rmap_check(r->arena, v, MAX_VIOLATIONS_LOGGED);

	for (long i = 0; i < n && i < MAX_VIOLATIONS_LOGGED; i++) {
		rv = rlog_reserve(r->log, RLOG_VIOLATION, sizeof(*rv));
		if (!rv)
			return;
		rv->pid = 0;
		rv->inv = v[i].inv;
		rv->frame = v[i].key;
		rv->vaddr = v[i].vaddr;
		rv->expected = v[i].expected;
		rv->found = v[i].found;
		memcpy(rv->what, v[i].what, sizeof(rv->what));
		rlog_commit(r->log, rv);
	}
	if (n > MAX_VIOLATIONS_LOGGED)
		run_note(r, RLOG_NOTE_ERROR, "rmap_check found %ld violations; the "
			 "first %d are logged", n, MAX_VIOLATIONS_LOGGED);
}

static void log_lockstats(struct run *r)
{
	struct rmap_lock_stat ls[RMAP_LC_NR];
	static uint64_t sites[RMAP_LC_NR][RMAP_LOCK_SITES];
	struct rlog_lockstat *l;

	rmap_lock_stats(r->arena, ls);
	rmap_lock_site_contentions(r->arena, sites);
	for (int c = 0; c < RMAP_LC_NR; c++) {
		l = rlog_reserve(r->log, RLOG_LOCKSTAT, sizeof(*l));
		if (!l)
			return;
		l->pid = 0;
		l->lock_class = (uint32_t)c;
		l->acquisitions = ls[c].acquisitions;
		l->contentions = ls[c].contentions;
		l->waittime_min = ls[c].waittime_min;
		l->waittime_max = ls[c].waittime_max;
		l->waittime_total = ls[c].waittime_total;
		l->holdtime_min = ls[c].holdtime_min;
		l->holdtime_max = ls[c].holdtime_max;
		l->holdtime_total = ls[c].holdtime_total;
		l->owner_changes = ls[c].owner_changes;
		l->trylock_failures = ls[c].trylock_failures;
		memcpy(l->site_contentions, sites[c], sizeof(l->site_contentions));
		rlog_commit(r->log, l);
	}
}

/* What RUN_END and the end line need from the log: processes, oracle totals. */
struct summary {
	pid_t *pids;
	size_t npids, pids_cap;
	uint64_t checkpoints, compared, agreed, mismatched;
};

static void add_pid(struct summary *s, int32_t pid)
{
	if (s->npids == s->pids_cap)
		s->pids = run_grow(s->pids, &s->pids_cap, sizeof(*s->pids));
	s->pids[s->npids++] = pid;
}

static void summarize(void *ctx, const struct rlog_rec *rec)
{
	struct summary *s = ctx;
	const void *p = rec + 1;

	switch (rec->type) {
	case RLOG_PROC_START:
	case RLOG_EXEC:
		add_pid(s, ((const struct rlog_proc *)p)->pid);
		break;
	case RLOG_FORK:
		add_pid(s, ((const struct rlog_fork *)p)->child_pid);
		break;
	case RLOG_ORACLE: {
		const struct rlog_oracle *o = p;

		s->checkpoints++;
		s->compared += o->compared;
		s->agreed += o->agreed;
		s->mismatched += o->mismatched;
		break;
	}
	default:
		break;
	}
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static unsigned distinct_pids(struct summary *s)
{
	unsigned n = 0;

	if (s->npids)	/* qsort's base must not be NULL, even for 0 items */
		qsort(s->pids, s->npids, sizeof(*s->pids), cmp_pid);
	for (size_t i = 0; i < s->npids; i++)
		n += !i || s->pids[i] != s->pids[i - 1];
	return n;
}

static void log_run_end(struct run *r, int status, unsigned processes,
			uint64_t violations)
{
	uint64_t events[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR];
	uint64_t races[RMAP_RACE_NR];
	struct rlog_run_end *e;
	struct rmap_counters c;

	e = rlog_reserve(r->log, RLOG_RUN_END, sizeof(*e));
	if (!e)
		return;
	e->exit_status = status;
	e->processes = processes;
	e->duration_ns = rlog_now_ns() - r->t0;
	e->reaped = r->reaped;
	e->violations = violations;
	if (r->arena) {
		rmap_counters(r->arena, &c);
		e->nr_mapped_final = c.nr_mapped;
		e->nr_mapped_peak = rmap_nr_mapped_peak(r->arena);
		e->enospc = c.enospc;
		e->locks_broken = (uint32_t)rmap_locks_broken(r->arena);
		rmap_event_cause_totals(r->arena, events);
		for (int t = 0; t < RMAP_EV_NR_TYPES && t < 16; t++)
			for (int k = 0; k < RMAP_CAUSE_NR && k < 16; k++)
				e->events[t][k] = events[t][k];
		rmap_race_totals(r->arena, races);
		for (int k = 0; k < RMAP_RACE_NR && k < 16; k++)
			e->races[k] = races[k];
	}
	/* Read last: includes a FULL set by any record before this one. */
	e->log_flags = __atomic_load_n(&rlog_header(r->log)->flags, __ATOMIC_RELAXED);
	rlog_commit(r->log, e);
}

static uint64_t transitions(const struct run *r)
{
	uint64_t totals[RMAP_EV_NR_TYPES], n = 0;

	if (!r->arena)
		return 0;
	rmap_event_totals(r->arena, totals);
	for (int t = RMAP_EV_MAP_FIRST; t <= RMAP_EV_UNMAP_LAST; t++)
		n += totals[t];
	return n;
}

static void end_line(const struct run *r, const struct summary *s,
		     unsigned processes, uint64_t violations)
{
	char oracle[128];
	struct rmap_counters c = { 0 };

	if (r->arena)
		rmap_counters(r->arena, &c);
	if (!r->traced)
		snprintf(oracle, sizeof(oracle), "untraced");
	else if (r->o.verify == RUN_VERIFY_OFF)
		snprintf(oracle, sizeof(oracle), "oracle off");
	else if (!s->checkpoints)
		snprintf(oracle, sizeof(oracle), "oracle: no checkpoint");
	else
		snprintf(oracle, sizeof(oracle), "oracle %" PRIu64 "/%" PRIu64
			 " pages agree at %" PRIu64 " checkpoint%s%s", s->agreed,
			 s->compared, s->checkpoints, s->checkpoints == 1 ? "" : "s",
			 s->mismatched ? " (MISMATCH)" : "");
	fprintf(stderr, "rmapshim: %u process%s, %" PRIu64 " transitions, %s, "
		"nr_mapped final %" PRId64 "%s; rmapshim report %s\n", processes,
		processes == 1 ? "" : "es", transitions(r), oracle, c.nr_mapped,
		violations ? ", INVARIANT VIOLATIONS" : "", r->dir);
}

void run_finish(struct run *r, int status)
{
	struct summary s = { 0 };
	struct rlog_scan_stats st;
	uint64_t violations = 0;
	unsigned processes;

	/* Neither thread may touch an mm the final reap tears down. */
	run_stop_sample(r);
	run_stop_reclaim(r);
	shim_wtrack_serve_stop();
	if (r->arena) {
		run_reap_dead_mms(r, 1);
		violations = (uint64_t)rmap_check(r->arena, NULL, 0);
		if (violations)
			log_violations(r);
		log_lockstats(r);
	}
	if (r->log)
		rlog_scan(r->log, summarize, &s, &st);
	processes = distinct_pids(&s);
	if (processes < r->nwaited)
		processes = (unsigned)r->nwaited;	/* untraced: what we waited for */
	log_run_end(r, status, processes, violations);
	if (!r->o.quiet)
		end_line(r, &s, processes, violations);
	free(s.pids);
}

