/* SPDX-License-Identifier: MIT */
/*
 * racelog.h - a detailed race hit (rmapcore's RMAP_EV_RACE with .detailed)
 * as an RLOG_RACE record; shared by the preload's sink and the
 * supervisor's (its reclaim threads are one side of most hits).
 */
#ifndef RMAPSHIM_RACELOG_H
#define RMAPSHIM_RACELOG_H

#include "log.h"
#include "logfmt.h"
#include "rmapcore.h"

static inline void rlog_race_hit(struct rlog *log, int32_t pid, uint32_t stack,
				 const struct rmap_event *ev)
{
	struct rlog_race *r;

	if (ev->type != RMAP_EV_RACE || !ev->detailed)
		return;
	r = rlog_reserve(log, RLOG_RACE, sizeof(*r));
	if (!r)
		return;
	r->pid = pid;
	r->race = ev->race;
	r->outcome = ev->outcome;
	r->stack = stack;
	r->other_stack = ev->other.stack;
	r->frame = ev->frame;
	r->other_pid = ev->other.pid;
	r->other_tid = ev->other.tid;
	r->cause = ev->cause;
	r->other_cause = ev->other.cause;
	r->other_window = ev->other.window;
	r->pad = 0;
	rlog_commit(log, r);
}

#endif /* RMAPSHIM_RACELOG_H */
