/* SPDX-License-Identifier: MIT */
/*
 * events.c - what rmapcore did, into the log.
 *
 * rmapcore reports transitions to a per-thread sink, synchronously and
 * possibly with its locks held, so the sink only appends (the log is
 * lock-free).  MAP_FIRST and UNMAP_LAST change nr_mapped and are logged
 * one by one (every type with --events pages), so only they (and race
 * hits) reach the sink; the rest is counted by rmapcore per thread, and
 * the difference over an intercepted operation is written once as
 * RLOG_TRANSITION_AGG.  Nested operations: the innermost one running gets
 * the counts, as the sink gave them before.
 */
#include <string.h>

#include "racelog.h"
#include "shim.h"

static __thread struct shim_op *t_op;
static __thread int t_sink_set;

static int logged_individually(uint16_t type)
{
	return shim.cfg.events_pages || type == RMAP_EV_MAP_FIRST ||
	       type == RMAP_EV_UNMAP_LAST;
}

static void sink(void *ctx, const struct rmap_event *ev)
{
	struct shim_op *o = t_op;
	struct rlog_transition *t;

	(void)ctx;
	if (!o || ev->type >= RMAP_EV_NR_TYPES)
		return;
	rlog_race_hit(shim.log, o->pid, o->stack, ev);
	if (!logged_individually(ev->type))
		return;
	t = rlog_reserve(shim.log, RLOG_TRANSITION, sizeof(*t));
	if (!t)
		return;
	t->pid = o->pid;
	t->mm = ev->mm ? ev->mm : o->mm;
	t->type = ev->type;
	t->cause = ev->cause;
	t->old_mapcount = ev->old_mapcount;
	t->new_mapcount = ev->new_mapcount;
	t->stack = o->stack;
	t->frame = ev->frame;
	t->vaddr = ev->vaddr;
	rlog_commit(shim.log, t);
}

/* Called with the lock held: only the stack walk and a log append. */
static void lockwait(void *ctx, enum rmap_lock_class c, unsigned site,
		     uint64_t wait_ns)
{
	struct rlog_lock_wait *w;
	uint32_t stack = shim_stack();

	(void)ctx;
	w = rlog_reserve(shim.log, RLOG_LOCK_WAIT, sizeof(*w));
	if (!w)
		return;
	w->pid = shim.pid;
	w->lock_class = c;
	w->site = site;
	w->stack = stack;
	w->wait_ns = wait_ns;
	rlog_commit(shim.log, w);
}

void shim_events_thread_init(void)
{
	if (t_sink_set)
		return;
	t_sink_set = 1;
	rmap_set_sink(sink, NULL);
	rmap_set_sink_mask(shim.cfg.events_pages ? ~0u :
			   1u << RMAP_EV_MAP_FIRST | 1u << RMAP_EV_UNMAP_LAST |
			   1u << RMAP_EV_RACE | 1u << RMAP_EV_VIOLATION);
	rmap_set_lockwait_hook(lockwait, NULL, shim.cfg.lockwait_ns);
}

/* What the thread did since @o last ran goes to @o. */
static void op_take(struct shim_op *o)
{
	const uint64_t *now = rmap_thread_event_counts();

	for (unsigned i = 0; i < RMAP_EV_NR_TYPES; i++)
		o->counts[i] += now[i] - o->seen[i];
}

static void op_resume(struct shim_op *o)
{
	memcpy(o->seen, rmap_thread_event_counts(), sizeof(o->seen));
}

void shim_op_begin(struct shim_op *o, uint32_t op, uint32_t cause,
		   uint32_t stack)
{
	if (t_op)
		op_take(t_op);
	memset(o, 0, sizeof(*o));
	op_resume(o);
	o->pid = shim.pid;
	o->mm = shim.mm;
	o->op = op;
	o->cause = cause;
	o->stack = stack;
	o->prev = t_op;
	t_op = o;
	rmap_set_caller_stack(shim.arena, stack);	/* the other side of a race hit */
}

void shim_op_end(struct shim_op *o)
{
	struct rlog_transition_agg *g;
	int any = 0;

	op_take(o);
	t_op = o->prev;
	if (t_op)
		op_resume(t_op);
	rmap_set_caller_stack(shim.arena, t_op ? t_op->stack : 0);
	for (unsigned i = 0; i < RMAP_EV_NR_TYPES; i++)
		if (o->counts[i] && !logged_individually(i))
			any = 1;
	if (!any)
		return;
	g = rlog_reserve(shim.log, RLOG_TRANSITION_AGG, sizeof(*g));
	if (!g)
		return;
	g->pid = o->pid;
	g->stack = o->stack;
	g->cause = o->cause;
	g->op = o->op;
	for (unsigned i = 0; i < RMAP_EV_NR_TYPES && i < 16; i++)
		if (!logged_individually(i))
			g->counts[i] = o->counts[i];
	rlog_commit(shim.log, g);
}

void shim_op_end_map(struct shim_op *o, uint64_t start, uint64_t end,
		     uint32_t vm_flags, int64_t ret)
{
	struct rlog_map_event *m;

	shim_op_end(o);
	m = rlog_reserve(shim.log, RLOG_MAP_EVENT, sizeof(*m));
	if (!m)
		return;
	m->pid = o->pid;
	m->mm = o->mm;
	m->op = o->op;
	m->cause = o->cause;
	m->start = start;
	m->end = end;
	m->prot_flags = vm_flags;
	m->stack = o->stack;
	m->pages = o->pages;
	m->rmap_ns = o->rmap_ns;
	m->ret = ret;
	rlog_commit(shim.log, m);
}
