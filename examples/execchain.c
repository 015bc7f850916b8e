/* SPDX-License-Identifier: MIT */
/*
 * execchain - a process tree built by every way a program starts another:
 * fork+exec, posix_spawn, system() and vfork+exec, each running this
 * program one level down.  Every level touches its own pages and
 * checkpoints, so each new image must be traced with a fresh mm linked to
 * its parent, and each exec must tear the old mm down.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char usage[] =
"usage: execchain [-d DEPTH]\n"
"Run this program DEPTH levels deep; every level starts the next one four\n"
"times: fork+exec, posix_spawn, system() and vfork+exec (4^DEPTH leaves).\n"
"Every process touches 6 MiB of anonymous memory and checkpoints.\n"
"  -d, --depth N   levels below this one, 0..4 (default 2)\n"
"  -h, --help      this text\n"
"Prints \"execchain: depth D reached R processes P\".\n";

#define TOUCH_PAGES	1536	/* 6 MiB: the oracle's >= 1000 anon pages */
#define MAX_DEPTH	4

enum how { HOW_FORK_EXEC, HOW_POSIX_SPAWN, HOW_SYSTEM, HOW_VFORK_EXEC, HOW_NR };
static const char *const how_name[HOW_NR] = {
	"fork-exec", "posix-spawn", "system", "vfork-exec"
};

/* What a subtree reports to its parent through the report pipe. */
struct subtree {
	unsigned long reached;		/* levels below the root of the subtree */
	unsigned long processes;
};

struct level {
	char self[PATH_MAX];		/* this program, for the children */
	unsigned long depth;
};

struct child_args {
	char depth[24], fd[24];
	char *argv[6];
};

static void build_args(struct child_args *a, struct level *lv, int wfd)
{
	snprintf(a->depth, sizeof(a->depth), "%lu", lv->depth - 1);
	snprintf(a->fd, sizeof(a->fd), "%d", wfd);
	a->argv[0] = lv->self;
	a->argv[1] = "-d";
	a->argv[2] = a->depth;
	a->argv[3] = "-r";
	a->argv[4] = a->fd;
	a->argv[5] = NULL;
}

/* vfork's child borrows this frame: exec or _exit, nothing else. */
static pid_t vfork_exec(char *const argv[])
{
	pid_t pid = vfork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void run_system(const struct child_args *a)
{
	char cmd[PATH_MAX + 64];
	int status;

	if (strchr(a->argv[0], '\''))
		ex_die("cannot quote the path %s for system()", a->argv[0]);
	snprintf(cmd, sizeof(cmd), "'%s' -d %s -r %s", a->argv[0], a->depth, a->fd);
	status = system(cmd);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
		ex_die("system(%s) failed (status %d)", cmd, status);
}

static void start_child(enum how how, struct child_args *a)
{
	pid_t pid = -1;
	int err;

	switch (how) {
	case HOW_FORK_EXEC:
		pid = ex_fork();
		if (pid == 0) {
			execv(a->argv[0], a->argv);
			_exit(127);
		}
		break;
	case HOW_POSIX_SPAWN:
		err = posix_spawn(&pid, a->argv[0], NULL, NULL, a->argv, environ);
		if (err)
			ex_die("posix_spawn: %s", strerror(err));
		break;
	case HOW_SYSTEM:
		run_system(a);
		return;
	case HOW_VFORK_EXEC:
		fflush(NULL);
		pid = vfork_exec(a->argv);
		if (pid < 0)
			ex_die_errno("vfork");
		break;
	default:
		ex_die("bad spawn kind %d", how);
	}
	ex_wait_ok(pid, how_name[how]);
}

static struct subtree read_report(int fd, enum how how)
{
	struct subtree t;
	char buf[64];
	ssize_t n, len = 0;

	/* Every writer has exited: read to EOF. */
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - (size_t)len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ex_die_errno("read report");
		len += n;
	}
	buf[len] = '\0';
	if (sscanf(buf, "%lu %lu", &t.reached, &t.processes) != 2)
		ex_die("the %s child sent no report", how_name[how]);
	return t;
}

static struct subtree run_children(struct level *lv)
{
	struct subtree me = { 0, 1 };
	char label[64];

	for (enum how how = 0; how < HOW_NR; how++) {
		struct child_args a;
		struct subtree t;
		int fd[2];

		/* Only the write end may reach the child. */
		if (pipe(fd) || fcntl(fd[0], F_SETFD, FD_CLOEXEC))
			ex_die_errno("pipe");
		build_args(&a, lv, fd[1]);
		start_child(how, &a);
		close(fd[1]);
		t = read_report(fd[0], how);
		close(fd[0]);
		if (t.reached + 1 > me.reached)
			me.reached = t.reached + 1;
		me.processes += t.processes;
		snprintf(label, sizeof(label), "execchain:after-%s", how_name[how]);
		rmapshim_checkpoint(label);
	}
	return me;
}

static void report_up(int fd, struct subtree t)
{
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "%lu %lu\n", t.reached, t.processes);

	if (write(fd, buf, (size_t)len) != len)
		ex_die_errno("write report");
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "depth", required_argument, NULL, 'd' },
		{ "report-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct level lv = { .depth = 2 };
	struct subtree me = { 0, 1 };
	int report_fd = -1, c;
	ssize_t n;
	void *mem;

	ex_cli_init("execchain", usage);
	while ((c = ex_getopt(argc, argv, ":d:r:h", longopts)) != -1) {
		switch (c) {
		case 'd':
			lv.depth = ex_parse_ulong("-d", optarg, 0, MAX_DEPTH);
			break;
		case 'r':	/* internal: how a child reports to its parent */
			report_fd = (int)ex_parse_ulong("-r", optarg, 3, INT_MAX);
			if (fcntl(report_fd, F_SETFD, FD_CLOEXEC))
				ex_usage_error("-r %d is not an open fd", report_fd);
			break;
		}
	}
	ex_no_operands(argc, argv);
	n = readlink("/proc/self/exe", lv.self, sizeof(lv.self) - 1);
	if (n < 0)
		ex_die_errno("readlink /proc/self/exe");
	lv.self[n] = '\0';

	rmapshim_checkpoint("execchain:start");
	mem = ex_map_anon(TOUCH_PAGES);
	ex_fill(mem, TOUCH_PAGES, 1 + lv.depth);
	rmapshim_checkpoint("execchain:touched");
	if (lv.depth)
		me = run_children(&lv);
	if (ex_count_bad(mem, TOUCH_PAGES, 1 + lv.depth))
		ex_die("own pages changed while the children ran");
	rmapshim_checkpoint("execchain:done");

	if (report_fd >= 0)
		report_up(report_fd, me);
	else
		printf("execchain: depth %lu reached %lu processes %lu\n",
		       lv.depth, me.reached, me.processes);
	return 0;
}
