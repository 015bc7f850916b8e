/* SPDX-License-Identifier: MIT */
/*
 * shimenv.h - the environment contract between rmapshim-run (or a user
 * running LD_PRELOAD by hand) and librmapshim.so.  docs/shim.md documents
 * every variable for users; this header is the one place the names live.
 *
 * The run directory holds the log (and, by hand, the arena) under fixed
 * names, so one variable locates them and the preload never takes a file
 * path from anywhere else.  Under rmapshim-run the arena is a memfd of the
 * supervisor, reached as /proc/<pid>/fd/<fd>: tmpfs pages, no file.
 */
#ifndef RMAPSHIM_SHIMENV_H
#define RMAPSHIM_SHIMENV_H

#define RMAPSHIM_ENV_OUT	"RMAPSHIM_OUT"		/* run directory (required) */
#define RMAPSHIM_ENV_MODE	"RMAPSHIM_MODE"		/* only used when the preload creates the arena itself */
#define RMAPSHIM_ENV_STACKS	"RMAPSHIM_STACKS"	/* frames per stack, 0 = none (default 16) */
#define RMAPSHIM_ENV_EVENTS	"RMAPSHIM_EVENTS"	/* transitions | pages */
#define RMAPSHIM_ENV_SAMPLE_MS	"RMAPSHIM_SAMPLE_MS"	/* periodic whole-mm reconciliation, 0 = off */
#define RMAPSHIM_ENV_VERIFY	"RMAPSHIM_VERIFY"	/* off | sampled | full */
#define RMAPSHIM_ENV_LOCKWAIT_NS "RMAPSHIM_LOCKWAIT_NS"	/* log lock waits longer than this */
#define RMAPSHIM_LOCKWAIT_DEFAULT_NS 20000
#define RMAPSHIM_ENV_ARENA	"RMAPSHIM_ARENA"	/* internal: "<pid>:<fd>" of rmapshim-run's memfd arena */
#define RMAPSHIM_ENV_PARENT	"RMAPSHIM_PARENT"	/* internal: "<pid>:<mm>" of the process that exec'd */

#define RMAPSHIM_ARENA_NAME	"arena"		/* $RMAPSHIM_OUT/arena */
#define RMAPSHIM_LOG_NAME	"events.rlog"	/* $RMAPSHIM_OUT/events.rlog */
#define RMAPSHIM_MMSEM_NAME	"mmsem"		/* $RMAPSHIM_OUT/mmsem: per-mm locks (shim/mmsem.c) */

#endif /* RMAPSHIM_SHIMENV_H */
