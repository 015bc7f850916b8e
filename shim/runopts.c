/* SPDX-License-Identifier: MIT */
/*
 * runopts.c - parse the command line of `rmapshim run`.  Every mistake is
 * one line on stderr that names the option and says what to do instead.
 */
#include "runopts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "rmapshim run"

static const char usage[] =
"usage: rmapshim run [options] -- CMD [ARGS...]\n"
"\n"
"Run CMD with librmapshim.so preloaded: every process and thread of its tree\n"
"drives one shadow 2.6.8/2.6.9 reverse map; transitions, lock waits and the\n"
"kernel oracle (/proc/kpagecount) go to a run directory for `rmapshim report`.\n"
"\n"
"  -o DIR               run directory (default ./rmapshim.<cmd>.<pid>/);\n"
"                       must not exist yet\n"
"  --mode MODE          locked | lockless | lockless-rcu (default lockless)\n"
"  --stacks N           call-stack frames per event, 0-128 (default 16)\n"
"  --events KIND        transitions: nr_mapped changes one by one, the rest\n"
"                       aggregated per call site (default); pages: every\n"
"                       page-level transition\n"
"  --reclaim[=RATE]     run the shadow vmscan at RATE pages/s (default 10000)\n"
"  --sample-ms MS       also reconcile every live process every MS milliseconds,\n"
"                       from a supervisor thread (default off)\n"
"  --verify=sampled|full  kernel oracle at implicit checkpoints (default sampled)\n"
"  --no-verify          no kernel oracle\n"
"  --no-write-tracking  read every page's frame before each fork instead of\n"
"                       tracking writes with userfaultfd (for programs that\n"
"                       use userfaultfd themselves)\n"
"  --perturb[=SEED]     widen the spec's race windows, seeded (default 1)\n"
"  --arena-pages N      frames the shadow can track, 16 to 2^24 (default\n"
"                       2^20); past it new pages are counted, not tracked\n"
"  -q, --quiet          no start and end lines on stderr\n"
"  -h, --help           this text\n"
"\n"
"Exit status: CMD's (128+N if CMD was killed by signal N); 2 for a usage\n"
"error.  SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to CMD.\n";

/* @val is the rejected value, NULL when it is missing. */
static int bad(const char *opt, const char *val, const char *what)
{
	if (val)
		fprintf(stderr, PROG ": %s: bad value '%s': %s (see rmapshim run "
			"--help)\n", opt, val, what);
	else
		fprintf(stderr, PROG ": %s: %s (see rmapshim run --help)\n", opt, what);
	return -2;
}

/* A decimal in [lo, hi], the whole string. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	uintmax_t v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoumax(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * "--name=value" or "--name value": the value, advancing *i in the second
 * form; NULL if @arg is not @name.  *missing is set when the value is absent.
 */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
			     int *missing)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	*missing = 0;
	if (strncmp(arg, name, n))
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n])
		return NULL;
	/* "--mode -- CMD": the value is missing, not "--". */
	if (*i + 1 >= argc || !strcmp(argv[*i + 1], "--")) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* "--name" or "--name=value" (a value only with '='): 1 if it matched. */
static int opt_optional(const char *arg, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) || (arg[n] && arg[n] != '='))
		return 0;
	*val = arg[n] ? arg + n + 1 : NULL;
	return 1;
}

static int parse_keyword(const char *opt, const char *v, const char *const *names,
			 int nnames, const char *hint, int *out)
{
	for (int k = 0; k < nnames; k++) {
		if (!strcmp(v, names[k])) {
			*out = k;
			return 0;
		}
	}
	return bad(opt, v, hint);
}

static const char *const verify_names[] = { "off", "sampled", "full" };
static const char *const events_names[] = { "transitions", "pages" };

const char *run_verify_name(enum run_verify v)
{
	return verify_names[v];
}

const char *run_events_name(enum run_events e)
{
	return events_names[e];
}

/* One option at argv[*i]; 0 handled, -1 help, -2 error. */
static int parse_one(int argc, char **argv, int *i, struct run_opts *o)
{
	const char *arg = argv[*i], *v;
	uint64_t n;
	int missing, k;

	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		fputs(usage, stdout);
		return -1;
	}
	if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
		o->quiet = 1;
		return 0;
	}
	if (!strcmp(arg, "--no-verify")) {
		o->verify = RUN_VERIFY_OFF;
		return 0;
	}
	if (!strcmp(arg, "--no-write-tracking")) {
		o->no_write_tracking = 1;
		return 0;
	}
	if (!strncmp(arg, "-o", 2)) {
		if (arg[2])
			v = arg + 2;
		else if (*i + 1 < argc && strcmp(argv[*i + 1], "--"))
			v = argv[++*i];
		else
			return bad("-o", NULL, "needs a directory");
		if (!*v)
			return bad("-o", NULL, "needs a non-empty directory name");
		o->out_dir = v;
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--output", &missing)) || missing) {
		if (!v || !*v)
			return bad("--output", NULL, "needs a directory");
		o->out_dir = v;
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--mode", &missing)) || missing) {
		if (!v || rmap_mode_parse(v, &o->mode) || o->mode > RMAP_LOCKLESS_RCU)
			return bad("--mode", v, "use locked, lockless or lockless-rcu");
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--stacks", &missing)) || missing) {
		if (parse_u64(v, 0, RUN_MAX_STACKS, &n))
			return bad("--stacks", v, "use a number of frames from 0 to 128");
		o->stacks = (unsigned)n;
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--events", &missing)) || missing) {
		if (!v)
			return bad("--events", NULL, "use transitions or pages");
		if (parse_keyword("--events", v, events_names, 2, "use transitions or pages",
				  &k))
			return -2;
		o->events = (enum run_events)k;
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--sample-ms", &missing)) || missing) {
		if (parse_u64(v, 1, 3600000, &n))
			return bad("--sample-ms", v, "use milliseconds from 1 to 3600000");
		o->sample_ms = (unsigned)n;
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--verify", &missing)) || missing) {
		if (!v)
			return bad("--verify", NULL,
				   "use --verify=sampled, --verify=full or --no-verify");
		if (parse_keyword("--verify", v, verify_names + 1, 2,
				  "use sampled or full (or --no-verify)", &k))
			return -2;
		o->verify = (enum run_verify)(k + 1);
		return 0;
	}
	if ((v = opt_value(argc, argv, i, "--arena-pages", &missing)) || missing) {
		if (parse_u64(v, 16, 1u << 24, &n))
			return bad("--arena-pages", v, "use a number of pages from 16 to 16777216");
		o->arena_pages = (uint32_t)n;
		return 0;
	}
	if (opt_optional(arg, "--reclaim", &v)) {
		if (!v)
			n = RUN_DEFAULT_RECLAIM;
		else if (parse_u64(v, 1, 1000000000, &n))
			return bad("--reclaim", v, "RATE is pages per second, 1 to 1000000000");
		o->reclaim_rate = n;
		return 0;
	}
	if (opt_optional(arg, "--perturb", &v)) {
		if (!v)
			n = 1;
		else if (parse_u64(v, 1, UINT64_MAX, &n))
			return bad("--perturb", v, "SEED is a number from 1 to 2^64-1");
		o->perturb_seed = n;
		return 0;
	}
	fprintf(stderr, PROG ": unknown option '%s' (see rmapshim run --help; put the "
		"command after --)\n", arg);
	return -2;
}

int run_parse_opts(int argc, char **argv, struct run_opts *o)
{
	int i, err;

	memset(o, 0, sizeof(*o));
	o->mode = RMAP_LOCKLESS;
	o->stacks = RUN_DEFAULT_STACKS;
	o->verify = RUN_VERIFY_SAMPLED;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		/* The first word that is not an option starts the command. */
		if (argv[i][0] != '-' || !argv[i][1])
			break;
		err = parse_one(argc, argv, &i, o);
		if (err)
			return err;
	}
	if (i >= argc)
		return bad("CMD", NULL,
			   "no command given: rmapshim run [options] -- CMD [ARGS...]");
	o->cmd = argv + i;
	return 0;
}
