/* SPDX-License-Identifier: MIT */
#include "ex_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog_name = "example";
static const char *usage_text = "";

void ex_cli_init(const char *prog, const char *usage)
{
	prog_name = prog;
	usage_text = usage;
	opterr = 0;	/* ex_getopt prints the one line itself */
}

static void vmessage(const char *fmt, va_list ap, const char *suffix)
{
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "%s\n", suffix);
}

void ex_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, " (try --help)");
	va_end(ap);
	exit(EX_EXIT_USAGE);
}

void ex_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, "");
	va_end(ap);
	exit(1);
}

void ex_die_errno(const char *fmt, ...)
{
	char suffix[160];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	vmessage(fmt, ap, suffix);
	va_end(ap);
	exit(1);
}

/* The option as the user typed it: "-x" for short ones, argv for long ones. */
static const char *bad_option_text(char *const argv[], char *buf, size_t len)
{
	if (optopt) {
		snprintf(buf, len, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

int ex_getopt(int argc, char *const argv[], const char *optstring,
	      const struct option *longopts)
{
	char buf[8];
	int c = getopt_long(argc, argv, optstring, longopts, NULL);

	switch (c) {
	case 'h':
		fputs(usage_text, stdout);
		exit(0);
	case ':':
		ex_usage_error("option %s needs an argument",
			       bad_option_text(argv, buf, sizeof(buf)));
	case '?':
		ex_usage_error("unknown option %s",
			       bad_option_text(argv, buf, sizeof(buf)));
	default:
		return c;
	}
}

void ex_no_operands(int argc, char *const argv[])
{
	if (optind < argc)
		ex_usage_error("unexpected argument '%s'", argv[optind]);
}

unsigned long ex_parse_ulong(const char *opt, const char *arg,
			     unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	/* strtoul accepts "-1" and wraps it; a count is never negative. */
	if (errno || end == arg || *end || arg[strspn(arg, " \t")] == '-' ||
	    v < min || v > max)
		ex_usage_error("%s wants an integer in [%lu, %lu], not '%s'",
			       opt, min, max, arg);
	return v;
}

double ex_parse_double(const char *opt, const char *arg, double min, double max)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < min || v > max)
		ex_usage_error("%s wants a number in [%g, %g], not '%s'",
			       opt, min, max, arg);
	return v;
}
