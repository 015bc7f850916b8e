/* SPDX-License-Identifier: MIT */
/*
 * runopts.h - the command line of `rmapshim run` (rmapshim-run).
 */
#ifndef RMAPSHIM_RUNOPTS_H
#define RMAPSHIM_RUNOPTS_H

#include <stdint.h>

#include "rmapcore.h"

enum run_verify { RUN_VERIFY_OFF = 0, RUN_VERIFY_SAMPLED = 1, RUN_VERIFY_FULL = 2 };
enum run_events { RUN_EVENTS_TRANSITIONS = 0, RUN_EVENTS_PAGES = 1 };

struct run_opts {
	const char *out_dir;		/* NULL: rmapshim.<cmd>.<pid> in the cwd */
	enum rmap_mode mode;
	unsigned stacks;
	enum run_events events;
	uint64_t reclaim_rate;		/* pages/s, 0 off */
	unsigned sample_ms;		/* 0 off */
	enum run_verify verify;
	uint64_t perturb_seed;		/* 0 off */
	uint32_t arena_pages;		/* shadow struct pages; 0: the default */
	int quiet;
	int no_write_tracking;		/* no userfaultfd parking (wtrack.c) */
	char **cmd;			/* NULL-terminated, cmd[0] != NULL */
};

#define RUN_DEFAULT_STACKS	16
#define RUN_MAX_STACKS		128
#define RUN_DEFAULT_RECLAIM	10000

/*
 * Parse argv[1..].  Returns -1 after printing the usage (--help: exit 0),
 * -2 after one line on stderr naming the bad option (exit 2), 0 otherwise.
 */
int run_parse_opts(int argc, char **argv, struct run_opts *o);

const char *run_verify_name(enum run_verify v);
const char *run_events_name(enum run_events e);

#endif /* RMAPSHIM_RUNOPTS_H */
