/* SPDX-License-Identifier: MIT */
/*
 * ex_cli.h - command-line conventions shared by the example programs:
 * getopt_long with --help, one-line errors and exit status 2 for bad
 * usage, exit status 1 for a failed scenario.
 */
#ifndef EX_CLI_H
#define EX_CLI_H

#include <getopt.h>

#define EX_EXIT_USAGE	2

/* Name the program (for messages) and give the text --help prints. */
void ex_cli_init(const char *prog, const char *usage);

/*
 * getopt_long that handles --help/-h itself (prints the usage, exits 0)
 * and turns unknown options and missing arguments into one line on stderr
 * and exit 2.  @optstring must start with ':' and contain "h".
 */
int ex_getopt(int argc, char *const argv[], const char *optstring,
	      const struct option *longopts);
/* Reject operands left after the options. */
void ex_no_operands(int argc, char *const argv[]);

/* Parse @arg of option @opt as an integer in [min, max], or exit 2. */
unsigned long ex_parse_ulong(const char *opt, const char *arg,
			     unsigned long min, unsigned long max);
/* Parse @arg of option @opt as a number in [min, max], or exit 2. */
double ex_parse_double(const char *opt, const char *arg, double min, double max);

/* "prog: message" on stderr and exit 2 (usage) or 1 (scenario failed). */
void ex_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void ex_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* Same as ex_die, with ": strerror(errno)" appended. */
void ex_die_errno(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif /* EX_CLI_H */
