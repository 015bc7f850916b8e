/* SPDX-License-Identifier: MIT */
/*
 * run.c - rmapshim-run, the supervisor behind `rmapshim run`.
 *
 * Built from run.c, runopts.c, runshadow.c and runsample.c, with the
 * preload's reconciliation code (onbehalf.c and what it calls).
 *
 * What it does, in order: make the run directory, create the log in it and
 * the arena (a memfd of this process), point LD_PRELOAD and the RMAPSHIM_*
 * variables at them, fork and exec CMD, then wait for the whole tree as a
 * child subreaper while passing signals on, reaping the shadow mms of
 * processes that died without running their exit code, (--reclaim)
 * running the shadow vmscan and (--sample-ms) reconciling every live mm
 * periodically on its owner's behalf.  At the end it checks the invariants and
 * writes the run's totals (RLOG_RUN_END).
 */
#include "mmsem.h"
#include "shim.h"
#include "wtrack.h"
#include "run.h"
#include "shimenv.h"
#include "traceable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAKE_NS (100 * 1000000L)	/* how often dead mms are looked for */
#define MAX_CMDLINE (16 * 1024)		/* RUN_START's share of a 32 KiB segment */

void run_note(struct run *r, enum rlog_note_level level, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rlog_note(r->log, r->self, level, text);
}

void run_warn(struct run *r, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\n", text);
	rlog_note(r->log, r->self, RLOG_NOTE_WARN, text);
}

void *run_grow(void *p, size_t *cap, size_t elem)
{
	size_t n = *cap ? *cap * 2 : 64;
	void *q = realloc(p, n * elem);

	if (!q) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
	*cap = n;
	return q;
}

/* ------------------------------------------------------------------ */
/* Run directory, arena and log                                          */
/* ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * mkdir, then open it with O_NOFOLLOW: from here on every file is created
 * relative to that fd, so swapping the path for a symlink after the check
 * cannot redirect a write outside the directory.
 */
static int make_run_dir(struct run *r)
{
	char def[PATH_MAX], link[64];
	const char *dir = r->o.out_dir;
	ssize_t n;

	if (!dir) {
		snprintf(def, sizeof(def), "rmapshim.%s.%d", base_name(r->o.cmd[0]),
			 (int)r->self);
		dir = def;
	}
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			fprintf(stderr, PROG ": %s already exists: give a new directory "
				"with -o DIR (nothing was written)\n", dir);
		else
			fprintf(stderr, PROG ": cannot create %s: %s: give a writable "
				"place with -o DIR\n", dir, strerror(errno));
		return -1;
	}
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->dirfd < 0) {
		fprintf(stderr, PROG ": %s changed under us (%s): refusing to write "
			"there\n", dir, strerror(errno));
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", r->dirfd);
	n = readlink(link, r->dir, sizeof(r->dir) - 1);
	if (n <= 0) {
		fprintf(stderr, PROG ": cannot resolve %s: %s\n", dir, strerror(errno));
		return -1;
	}
	r->dir[n] = '\0';
	return 0;
}

/* RMAPSHIM_LOG_MB: the log's size; one segment per thread at least. */
static int log_geometry(uint32_t *nseg)
{
	const char *s = getenv("RMAPSHIM_LOG_MB");
	char *end;
	unsigned long mb;

	*nseg = RLOG_DEFAULT_NSEG;
	if (!s || !*s)
		return 0;
	errno = 0;
	mb = strtoul(s, &end, 10);
	if (errno || *end || mb < 1 || mb > 65536) {
		fprintf(stderr, PROG ": RMAPSHIM_LOG_MB=%s: use a size in MiB from 1 "
			"to 65536\n", s);
		return -1;
	}
	*nseg = (uint32_t)(mb * 1024 * 1024 / RLOG_DEFAULT_SEG_SIZE);
	return 0;
}

/*
 * The arena in a memfd that only this process holds (MFD_CLOEXEC: the
 * workload opens its own fd through /proc/<us>/fd/N and closes it once
 * mapped).  tmpfs pages instead of the run directory's filesystem: no
 * page_mkwrite, no writeback re-protecting them, read faults mapped 16 at
 * a time (bench/README.md).  Sealed at its size: a stray ftruncate in the
 * workload cannot SIGBUS the tree.  -ENOSYS: no memfd, use a file.
 */
static int create_arena(struct run *r, const struct rmap_arena_config *cfg)
{
	int err;

	r->arena_fd = memfd_create("rmapshim-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->arena_fd < 0)
		return errno == ENOSYS || errno == EINVAL ? -ENOSYS : -errno;
	/* Only processes that may ptrace us can open it through /proc anyway. */
	err = fchmod(r->arena_fd, 0600) ? -errno : rmap_arena_create_fd(r->arena_fd, cfg, &r->arena);
	if (!err && fcntl(r->arena_fd, F_ADD_SEALS,
			  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		err = -errno;
	if (err) {
		rmap_arena_detach(r->arena);
		r->arena = NULL;
		close(r->arena_fd);
		r->arena_fd = -1;
	}
	return err;
}

/* Log in the run directory, arena in a memfd; failing either means untraced. */
static void create_state(struct run *r, uint32_t nseg)
{
	struct rmap_arena_config cfg;
	char path[64];
	int err;

	err = rlog_create_at(r->dirfd, RMAPSHIM_LOG_NAME, RLOG_DEFAULT_SEG_SIZE, nseg,
			     &r->log);
	if (err) {
		fprintf(stderr, PROG ": cannot reserve the event log in %s (%s): "
			"running the command untraced\n", r->dir, strerror(-err));
		r->log = NULL;
		return;
	}
	rmap_arena_default_config(&cfg);
	cfg.mode = r->o.mode;
	if (r->o.arena_pages)
		cfg.max_pages = r->o.arena_pages;
	err = create_arena(r, &cfg);
	if (err == -ENOSYS) {
		/* The arena API takes a path: reach the directory through its fd. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d/" RMAPSHIM_ARENA_NAME, r->dirfd);
		err = rmap_arena_create(path, &cfg, &r->arena);
	}
	if (err) {
		run_warn(r, "cannot create the arena (%s): running the command "
			 "untraced", strerror(-err));
		r->arena = NULL;
		return;
	}
	/* Reaping takes a dead process's mm slot like any other mm operation. */
	err = shim_mmsem_attach(r->dir, &r->mmsem_id);
	if (err) {
		run_warn(r, "cannot create the mm lock table in %s (%s): running "
			 "the command untraced", r->dir, strerror(-err));
		rmap_arena_detach(r->arena);
		r->arena = NULL;
	}
}

static void log_run_start(struct run *r)
{
	struct rlog_run_start *rs;
	char cwd[PATH_MAX];
	size_t cmdlen = 0, cwdlen;
	char **end;
	uint8_t *p;

	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	cwdlen = strlen(cwd);
	/* Whole arguments only, and few enough to fit in one segment. */
	for (end = r->o.cmd; *end && cmdlen + strlen(*end) + 1 <= MAX_CMDLINE; end++)
		cmdlen += strlen(*end) + 1;
	rs = rlog_reserve(r->log, RLOG_RUN_START, sizeof(*rs) +
			  rlog_str_size(cmdlen) + rlog_str_size(cwdlen));
	if (!rs)
		return;
	rs->mode = (uint32_t)r->o.mode;
	rs->events = (uint32_t)r->o.events;
	rs->stacks = r->o.stacks;
	rs->verify = (uint32_t)r->o.verify;
	rs->pid = r->self;
	rs->pfn_access = (uint32_t)r->pfn_access;
	rs->reclaim_rate = r->o.reclaim_rate;
	rs->perturb_seed = r->o.perturb_seed;
	/* argv joined by NUL: the string's bytes, each argument NUL-ended. */
	p = (uint8_t *)(rs + 1);
	memcpy(p, &(uint32_t){ (uint32_t)cmdlen }, 4);
	p += 4;
	for (char **a = r->o.cmd; a < end; a++) {
		size_t n = strlen(*a) + 1;

		memcpy(p, *a, n);
		p += n;
	}
	p = (uint8_t *)(rs + 1) + rlog_str_size(cmdlen);
	rlog_put_str(p, cwd, cwdlen);
	rlog_commit(r->log, rs);
}

/* ------------------------------------------------------------------ */
/* What CMD is, and the environment it gets                             */
/* ------------------------------------------------------------------ */

/* Where execvp will find @cmd (the first executable on PATH), or 0 if nowhere. */
static int find_cmd(const char *cmd, char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p, *colon;
	size_t n;

	if (strchr(cmd, '/')) {
		snprintf(out, outlen, "%s", cmd);
		return access(out, X_OK) == 0;
	}
	for (p = path ? path : "/bin:/usr/bin"; ; p = colon + 1) {
		colon = strchrnul(p, ':');
		n = (size_t)(colon - p);
		snprintf(out, outlen, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd);
		if (access(out, X_OK) == 0)
			return 1;
		if (!*colon)
			return 0;
	}
}

/* ../lib/librmapshim.so next to this executable's bin/. */
static int find_shim(char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (snprintf(out, outlen, "%s/../lib/librmapshim.so", exe) >= (int)outlen ||
	    !realpath(out, exe))
		return -1;
	snprintf(out, outlen, "%s", exe);
	return 0;
}

static void setenv_u(const char *name, unsigned long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lu", v);
	setenv(name, buf, 1);
}

/*
 * Length of the sanitizer runtimes (libasan, libtsan) leading @list: the
 * shim goes in front of every other preload, but behind those, which must
 * be the first library of the process (a sanitized shim's tests).
 */
static size_t sanitizer_runtimes(const char *list)
{
	size_t keep = 0;

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " :");
		const char *base = memrchr(p, '/', n);

		base = base ? base + 1 : p;
		if (strncmp(base, "libasan.", 8) && strncmp(base, "libtsan.", 8))
			break;
		keep = (size_t)(p + n - list);
		p += n + (p[n] != 0);
	}
	return keep;
}

/* LD_PRELOAD and the RMAPSHIM_* variables of shimenv.h (docs/shim.md). */
static int set_environment(struct run *r)
{
	char shim[PATH_MAX], *pre;
	const char *old = getenv("LD_PRELOAD");

	if (find_shim(shim, sizeof(shim)) < 0) {
		run_warn(r, "librmapshim.so not found next to this program "
			 "(../lib/): running the command untraced");
		return 0;
	}
	/* ld.so splits LD_PRELOAD at spaces and colons. */
	if (strpbrk(shim, " :")) {
		run_warn(r, "%s has a space or colon in its path, which "
			 "LD_PRELOAD cannot express: running the command untraced",
			 shim);
		return 0;
	}
	if (old && *old) {
		size_t keep = sanitizer_runtimes(old);
		const char *rest = old + keep + (keep && old[keep]);	/* past the separator */

		if (asprintf(&pre, "%.*s%s%s%s%s", (int)keep, old, keep ? ":" : "", shim,
			     *rest ? ":" : "", rest) < 0)
			return 0;
		setenv("LD_PRELOAD", pre, 1);
		free(pre);
	} else {
		setenv("LD_PRELOAD", shim, 1);
	}
	/* The preload finds the log by its fixed name in it, the arena memfd here. */
	setenv(RMAPSHIM_ENV_OUT, r->dir, 1);
	if (r->arena_fd >= 0) {
		char arena[48];

		snprintf(arena, sizeof(arena), "%d:%d", (int)r->self, r->arena_fd);
		setenv(RMAPSHIM_ENV_ARENA, arena, 1);
	}
	setenv_u(RMAPSHIM_ENV_STACKS, r->o.stacks);
	setenv(RMAPSHIM_ENV_EVENTS, run_events_name(r->o.events), 1);
	setenv(RMAPSHIM_ENV_VERIFY, run_verify_name(r->o.verify), 1);
	/* The supervisor's sampler replaces the call-time check (docs/shim.md). */
	setenv_u(RMAPSHIM_ENV_SAMPLE_MS, r->sampling ? 0 : r->o.sample_ms);
	return 1;
}

/* Decide whether CMD runs traced; say why not, once, when it does not. */
static void prepare_cmd(struct run *r)
{
	char path[PATH_MAX];
	const char *why;

	if (!r->arena)
		return;
	if (find_cmd(r->o.cmd[0], path, sizeof(path)) &&
	    (why = shim_untraceable(path))) {
		run_warn(r, "%s is %s: it cannot be traced; running it anyway", path, why);
		return;
	}
	r->traced = set_environment(r);
}

/* ------------------------------------------------------------------ */
/* The process tree: waiting for it, passing signals on                 */
/* ------------------------------------------------------------------ */

int run_exit_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int run_waited_status(const struct run *r, pid_t pid)
{
	for (size_t i = r->nwaited; i-- > 0; )
		if (r->waited[i].pid == pid)
			return run_exit_code(r->waited[i].status);
	return -1;
}

/* Collect every exited child; returns 0 once none is left. */
static int wait_children(struct run *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
		if (r->nwaited == r->waited_cap)
			r->waited = run_grow(r->waited, &r->waited_cap, sizeof(*r->waited));
		r->waited[r->nwaited++] = (struct waited){ pid, status };
		if (pid == r->child) {
			r->child_status = status;
			r->child_done = 1;
		}
	}
	return !(pid < 0 && errno == ECHILD);
}

/* Pass @sig to every child of this process (the workload and any orphans). */
static void forward_children(struct run *r, int sig)
{
	char path[320], buf[4096];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	int sent = 0;

	while (d && (de = readdir(d))) {
		char *p, *end;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (p = buf; ; p = end) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			sent += kill((pid_t)pid, sig) == 0;
		}
	}
	if (d)
		closedir(d);
	if (!sent && !r->child_done)
		kill(r->child, sig);
}

/*
 * A terminal's ^C, ^\ or hangup already went to the whole foreground
 * process group: sending it again would run CMD's handler twice.  Anything
 * sent to this process alone (kill, a service manager) is passed on.
 */
static void forward_signal(struct run *r, const siginfo_t *si)
{
	if (si->si_code == SI_KERNEL && !r->child_done &&
	    getpgid(r->child) == getpgrp())
		return;
	forward_children(r, si->si_signo);
}

/*
 * The workload's processes park their userfaultfds with us (wtrack.c): the
 * pre-fork reconciliation then reads only the pages written since.
 */
static void start_write_tracking(struct run *r)
{
	int err;

	if (!r->arena || r->o.no_write_tracking || !r->pfn_access)
		return;
	err = shim_wtrack_serve_start();
	if (err)
		run_warn(r, "no write tracking (%s): every fork reads the whole "
			 "pagemap", strerror(-err));
	else
		run_note(r, RLOG_NOTE_INFO, "write tracking: userfaultfd-wp async, "
			 "fds parked in the supervisor; frames the kernel moves "
			 "without a write are seen at the next full reconciliation");
}

/*
 * Log pages populated ahead of the claims (log.h): a fork child's first
 * record then finds its page in the page cache, dirty.  The first page of
 * 64 segments ahead (256 KiB), woken every 32 claims: forkstorm -n 2000
 * costs this thread ~14 ms (~6.5 us a segment, a wake ~35 us), 16/8 21 ms;
 * whole segments 72 ms, for the parent's few pages past the first.
 */
#define POP_AHEAD	64
#define POP_LOW		32
#define POP_PAGES	1

static void *populate_thread(void *arg)
{
	struct run *r = arg;
	int err = rlog_populate(r->log, POP_AHEAD, POP_LOW, POP_PAGES);

	if (err)
		run_note(r, RLOG_NOTE_INFO, "log pages not populated ahead (%s): "
			 "writers fault them in", strerror(-err));
	return NULL;
}

static void start_log_populate(struct run *r)
{
	int err;

	if (!r->traced)
		return;
	err = pthread_create(&r->populator, NULL, populate_thread, r);
	if (err) {
		run_note(r, RLOG_NOTE_INFO, "no log populating thread (%s): writers "
			 "fault the log's pages in", strerror(err));
		return;
	}
	/* Its CPU is a cost of the run: let top -H and perf name it. */
	pthread_setname_np(r->populator, "rmapshim-logpop");
	r->populating = 1;
}

/* Wait for the whole tree, reaping dead mms and passing signals meanwhile. */
static void supervise(struct run *r, const sigset_t *set)
{
	const struct timespec wake = { 0, WAKE_NS };
	siginfo_t si;
	int sig;

	for (;;) {
		sig = sigtimedwait(set, &si, &wake);
		if (sig > 0 && sig != SIGCHLD)
			forward_signal(r, &si);
		if (!wait_children(r))
			return;
		run_reap_dead_mms(r, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Starting the command                                                 */
/* ------------------------------------------------------------------ */

static pid_t spawn(struct run *r, const sigset_t *orig)
{
	pid_t pid = fork();
	int err;

	if (pid)
		return pid;
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(r->o.cmd[0], r->o.cmd);
	err = errno;
	fprintf(stderr, PROG ": cannot run %s: %s\n", r->o.cmd[0], strerror(err));
	/* The shell's convention: 127 not found, 126 found but not runnable. */
	_exit(err == ENOENT ? 127 : 126);
}

static void start_line(const struct run *r)
{
	if (r->o.quiet)
		return;
	if (r->traced)
		fprintf(stderr, "rmapshim: tracing %s in %s mode, writing %s/\n",
			r->o.cmd[0], rmap_mode_name(r->o.mode), r->dir);
	else
		fprintf(stderr, "rmapshim: running %s untraced, writing %s/\n",
			r->o.cmd[0], r->dir);
}

/* Every writer is gone: give back what the run reserved but did not use. */
static void release(struct run *r)
{
	int err;

	/* Before the trim unmaps what it populates through. */
	if (r->populating) {
		rlog_populate_stop(r->log);
		pthread_join(r->populator, NULL);
	}
	err = r->log ? rlog_trim_at(r->log, r->dirfd, RMAPSHIM_LOG_NAME) : 0;
	if (err)
		fprintf(stderr, PROG ": cannot trim %s/%s: %s\n", r->dir,
			RMAPSHIM_LOG_NAME, strerror(-err));
	if (r->arena)
		rmap_arena_detach(r->arena);
	if (r->arena_fd >= 0)
		close(r->arena_fd);
	if (r->vmawatch_fd >= 0)
		close(r->vmawatch_fd);
	close(r->dirfd);
	free(r->waited);
	free(r->suspect);
}

int main(int argc, char **argv)
{
	struct run r = { .dirfd = -1, .arena_fd = -1, .vmawatch_fd = -1 };
	sigset_t set, orig;
	uint32_t nseg;
	int err, status;

	err = run_parse_opts(argc, argv, &r.o);
	if (err)
		return err == -1 ? 0 : 2;
	if (log_geometry(&nseg) < 0)
		return 2;
	r.self = getpid();
	r.pfn_access = shim_pfn_access();
	r.t0 = rlog_now_ns();
	if (make_run_dir(&r) < 0)
		return 2;
	create_state(&r, nseg);
	log_run_start(&r);
	if (r.arena && r.o.perturb_seed)
		rmap_perturb(r.arena, r.o.perturb_seed);
	/* Blocked before any thread starts: every one inherits the mask, and
	 * these signals reach only sigtimedwait in supervise(). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &orig);
	run_threads_init(&r);
	/* Before the environment: a running sampler turns the call-time one off. */
	run_start_sample(&r);
	start_write_tracking(&r);
	/* Each forking process's first fork then opens its vmawatch event cheaply. */
	if (r.arena && r.pfn_access)
		r.vmawatch_fd = shim_vmawatch_hold();
	prepare_cmd(&r);
	start_log_populate(&r);
	start_line(&r);
	/* Orphans of the tree come to us, so their exits are seen too. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	run_start_reclaim(&r);
	r.child = spawn(&r, &orig);
	if (r.child < 0) {
		run_warn(&r, "fork failed: %s", strerror(errno));
		r.child_status = 1 << 8;
		r.child_done = 1;
	} else {
		supervise(&r, &set);
	}
	status = run_exit_code(r.child_status);
	run_finish(&r, status);
	release(&r);
	return status;
}
