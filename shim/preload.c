/* SPDX-License-Identifier: MIT */
/*
 * preload.c - librmapshim.so's constructor, its exit paths and the client
 * API (rmapshim_checkpoint_v1).
 *
 * Each process image attaches the run's arena and log (shimenv.h names
 * them), then takes a shadow mm: a new image after exec finds the old
 * image's mm under its own pid and tears it down (cause EXEC); a process
 * spawned through vfork/posix_spawn finds none and starts fresh, linked to
 * the parent named in RMAPSHIM_PARENT; the first process starts the tree.
 * Fork children never get here: their parent copies their mm.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exechooks.h"
#include "real.h"
#include "shim.h"
#include "shimenv.h"

static char lib_path[PATH_MAX];

/* A bad RMAPSHIM_* value is a usage error: say which, exit 2. */
static void bad_value(const char *var, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "rmapshim: %s=%s is invalid: %s", var,
		 getenv(var), what);
	shim_say(msg);
	REAL(_exit)(2);
}

static uint64_t env_uint(const char *var, uint64_t dflt, uint64_t max)
{
	const char *s = getenv(var);
	char *end;
	unsigned long long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v > max || *s == '-')
		bad_value(var, "expected a non-negative integer in range");
	return v;
}

static int env_choice(const char *var, const char *const *names, int dflt)
{
	const char *s = getenv(var);

	if (!s)
		return dflt;
	for (int i = 0; names[i]; i++)
		if (!strcmp(s, names[i]))
			return i;
	bad_value(var, "see docs/shim.md for the accepted words");
	return dflt;
}

static void read_config(void)
{
	static const char *const events[] = { "transitions", "pages", NULL };
	static const char *const verify[] = { "off", "sampled", "full", NULL };

	shim.cfg.stacks = env_uint(RMAPSHIM_ENV_STACKS, 16, 128);
	shim.cfg.events_pages = env_choice(RMAPSHIM_ENV_EVENTS, events, 0);
	shim.cfg.sample_ms = env_uint(RMAPSHIM_ENV_SAMPLE_MS, 0, 3600000);
	shim.cfg.verify = env_choice(RMAPSHIM_ENV_VERIFY, verify, SHIM_VERIFY_SAMPLED);
	shim.cfg.lockwait_ns = env_uint(RMAPSHIM_ENV_LOCKWAIT_NS, RMAPSHIM_LOCKWAIT_DEFAULT_NS, UINT64_MAX);
}

static void join(char *dst, size_t n, const char *dir, const char *leaf)
{
	snprintf(dst, n, "%s/%s", dir, leaf);
}

/* LD_PRELOAD=... RMAPSHIM_OUT=DIR without rmapshim-run: the first process creates the run. */
static int create_run(const char *arena, const char *log)
{
	struct rmap_arena_config cfg;
	const char *mode = getenv(RMAPSHIM_ENV_MODE);
	struct rlog_run_start *rs;

	rmap_arena_default_config(&cfg);
	cfg.mode = RMAP_LOCKLESS;
	if (mode && rmap_mode_parse(mode, &cfg.mode))
		bad_value(RMAPSHIM_ENV_MODE, "expected locked, lockless or lockless-rcu");
	if (rmap_arena_create(arena, &cfg, &shim.arena) ||
	    rlog_create(log, RLOG_DEFAULT_SEG_SIZE, RLOG_DEFAULT_NSEG, &shim.log))
		return -EIO;
	rs = rlog_reserve(shim.log, RLOG_RUN_START, sizeof(*rs) + 2 * rlog_str_size(0));
	if (rs) {
		rs->mode = cfg.mode;
		rs->events = shim.cfg.events_pages;
		rs->stacks = shim.cfg.stacks;
		rs->verify = shim.cfg.verify;
		rs->pid = getpid();
		rs->pfn_access = 1;
		rlog_commit(shim.log, rs);
	}
	return 0;
}

/*
 * Refuse a run directory someone else could have prepared or could swap
 * files in: a symlink, a directory of another user or writable by others,
 * an arena that is not our own regular file.  -EPERM once said (by the
 * first process of the tree only); a value that cannot name a directory
 * at all is a usage error (exit 2) like every other RMAPSHIM_* mistake.
 */
static int check_run_dir(const char *dir, const char *arena, int first)
{
	const char *why = NULL;
	struct stat st;
	char msg[PATH_MAX + 128];

	if (lstat(dir, &st)) {
		if (!first)
			return -errno;
		if (errno != ENOENT || mkdir(dir, 0700)) {
			snprintf(msg, sizeof(msg), "cannot create that directory (%s)", strerror(errno));
			bad_value(RMAPSHIM_ENV_OUT, msg);
		}
		return 0;
	}
	if (S_ISLNK(st.st_mode))
		why = "is a symlink: refusing to write through it";
	else if (!S_ISDIR(st.st_mode))
		bad_value(RMAPSHIM_ENV_OUT, "not a directory");
	else if (st.st_uid != geteuid() || (st.st_mode & 022))
		why = "is another user's or writable by others: its files could be swapped";
	else if (!lstat(arena, &st) && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))
		why = "holds an arena that is not ours: refusing to attach it";
	if (!why)
		return 0;
	if (first) {
		snprintf(msg, sizeof(msg), "rmapshim: RMAPSHIM_OUT=%s %s; running untraced", dir, why);
		shim_say(msg);
	}
	return -EPERM;
}

/*
 * rmapshim-run's arena: its memfd, reopened through /proc/<pid>/fd/<fd>
 * (a magic link: no O_NOFOLLOW) and closed once mapped, so the workload
 * keeps no fd.  Only a regular file of ours is attached.
 */
static int attach_memfd_arena(const char *spec)
{
	char path[64], *end;
	long pid, fd;
	struct stat st;
	int afd, err;

	pid = strtol(spec, &end, 10);
	fd = *end == ':' ? strtol(end + 1, &end, 10) : -1;
	if (*end || pid <= 0 || fd < 0 || pid > INT_MAX || fd > INT_MAX)
		bad_value(RMAPSHIM_ENV_ARENA, "expected <pid>:<fd> (set by rmapshim run)");
	snprintf(path, sizeof(path), "/proc/%ld/fd/%ld", pid, fd);
	afd = open(path, O_RDWR | O_CLOEXEC);
	if (afd < 0)
		return -errno;
	if (fstat(afd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		err = -EACCES;
	else
		err = rmap_arena_attach_fd(afd, &shim.arena);
	if (!err) {
		shim.arena_id.dev = st.st_dev;
		shim.arena_id.ino = st.st_ino;
	}
	close(afd);
	return err;
}

static int attach_run(int first)
{
	const char *dir = getenv(RMAPSHIM_ENV_OUT);
	const char *memfd = getenv(RMAPSHIM_ENV_ARENA);
	char arena[PATH_MAX], log[PATH_MAX];
	int err;

	if (!dir || !*dir)
		return -ENOENT;
	join(arena, sizeof(arena), dir, RMAPSHIM_ARENA_NAME);
	join(log, sizeof(log), dir, RMAPSHIM_LOG_NAME);
	err = check_run_dir(dir, arena, first);
	if (err)
		return err;
	err = memfd ? attach_memfd_arena(memfd) : rmap_arena_attach(arena, &shim.arena);
	if (err == -ENOENT && !memfd)
		err = create_run(arena, log);
	else if (!err)
		err = rlog_attach(log, &shim.log);
	if (err)
		return err;
	if (!memfd)
		shim_file_id(AT_FDCWD, arena, -1, &shim.arena_id);
	shim_file_id(AT_FDCWD, log, -1, &shim.log_id);
	if (shim_mmsem_attach(dir, &shim.mmsem_id))
		rlog_note(shim.log, getpid(), RLOG_NOTE_WARN,
			  "no mmsem table: checkpoints reconcile only their own process");
	return 0;
}

/* The mm that the image which exec'ed us named for @pid, or 0. */
static rmap_mm_t mm_from_env(pid_t pid)
{
	const char *s = getenv(RMAPSHIM_ENV_PARENT);
	char *end;

	if (!s || strtol(s, &end, 10) != pid || *end != ':')
		return 0;
	return (rmap_mm_t)strtoul(end + 1, NULL, 10);
}

/*
 * Our old mm: the one our previous image named (exact even if our pid
 * was reused), else a search by pid (it exec'ed outside our hooks).
 */
static rmap_mm_t old_image_mm(void)
{
	rmap_mm_t m = mm_from_env(shim.pid);

	if (m && rmap_mm_pid(shim.arena, m) == shim.pid)
		return m;
	return rmap_mm_find_pid(shim.arena, shim.pid);
}

/* exec: the image that called execve is gone; its mm goes with it. */
static void exec_teardown(rmap_mm_t old)
{
	struct shim_op o;
	struct rlog_exit *e;

	shim_op_begin(&o, 0, RMAP_CAUSE_EXEC, 0);
	o.mm = old;
	/* The old image's own memory is gone with it; so is its list. */
	(void)shim_mmsem_publish(old, shim.pid, NULL);
	(void)SHIM_RMAP(&o, rmap_exit_mmap(shim.arena, old, RMAP_CAUSE_EXEC));
	shim_op_end(&o);
	e = rlog_reserve(shim.log, RLOG_EXIT, sizeof(*e));
	if (!e)
		return;
	e->pid = shim.pid;
	e->mm = old;
	e->how = RLOG_EXIT_EXEC;
	e->pages = o.counts[RMAP_EV_REMOVE] + o.counts[RMAP_EV_UNMAP_LAST];
	e->rmap_ns = o.rmap_ns;
	rlog_commit(shim.log, e);
}

static int adopt_image(void)
{
	rmap_mm_t parent = rmap_mm_find_pid(shim.arena, shim.ppid);
	rmap_mm_t spawner = mm_from_env(shim.ppid);
	struct shim_op o;
	rmap_mm_t old;

	/*
	 * A forking parent holds its mmsem slot from before fork() until our
	 * shadow copy is whole.  If our previous image exec'ed without a
	 * traced call first, that copy may still be under way: wait for it,
	 * or it would outlive us as a second mm for our pid.
	 */
	if (parent) {
		shim_mmsem_lock(parent);
		shim_mmsem_unlock(parent);
	}
	old = old_image_mm();
	if (old) {
		shim_mmsem_lock(old);
		exec_teardown(old);
		shim_mmsem_unlock(old);
	}
	if (rmap_mm_create(shim.arena, shim.pid, parent ? parent : spawner, &shim.mm)) {
		shim_say("rmapshim: shadow arena full: this process runs untraced");
		return 0;
	}
	if (old)
		shim_log_proc(RLOG_EXEC, shim.pid, shim.ppid, shim.mm, old,
			      RLOG_HOW_EXEC, shim.exe);
	else
		shim_log_proc(RLOG_PROC_START, shim.pid, shim.ppid, shim.mm,
			      parent ? parent : spawner,
			      spawner || parent ? RLOG_HOW_EXEC : RLOG_HOW_INITIAL,
			      shim.exe);
	shim_modules_refresh(1);
	shim_mmsem_lock(shim.mm);
	/* Before the first reconciliation: the trace cache our stacks_init made. */
	(void)shim_own_publish(shim.mm, shim.pid);
	shim_op_begin(&o, RLOG_OP_RECONCILE, old ? RMAP_CAUSE_EXEC : RMAP_CAUSE_NONE, 0);
	(void)shim_reconcile(&o, 0, shim.mm, SHIM_ALL_LO, SHIM_ALL_HI, SHIM_RECON_PAGES);
	shim_op_end_map(&o, 0, 0, 0, 0);
	shim_mmsem_unlock(shim.mm);
	shim.last_sample_ns = rlog_now_ns();
	return 1;
}

static void at_exit(int status, void *arg)
{
	(void)arg;
	shim_exit(status, RLOG_EXIT_NORMAL);
}

static void find_self(void)
{
	Dl_info info;
	ssize_t n;

	if (dladdr((void *)&find_self, &info) && info.dli_fname &&
	    !realpath(info.dli_fname, lib_path))
		lib_path[0] = 0;
	n = readlink("/proc/self/exe", shim.exe, sizeof(shim.exe) - 1);
	shim.exe[n > 0 ? n : 0] = 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	int err, first = getenv(RMAPSHIM_ENV_PARENT) == NULL;

	shim_busy = 1;			/* our own mappings are not the workload's */
	shim_resolve_all();
	read_config();
	find_self();
	shim.pid = getpid();
	shim.ppid = getppid();
	shim_oracle_budget_start(0);
	shim_env_save(lib_path[0] ? lib_path : NULL);
	err = attach_run(first);
	if (err) {
		if (first && err != -EPERM)
			shim_say(err == -ENOENT ? "rmapshim: RMAPSHIM_OUT is not set: running untraced"
						: "rmapshim: cannot open the run's arena or log: running untraced");
		shim_busy = 0;
		return;
	}
	if (!shim_pfn_access()) {
		if (first)
			shim_say("rmapshim: /proc/self/pagemap shows no PFNs (needs root or "
				 "CAP_SYS_ADMIN): running untraced");
		shim_busy = 0;
		return;
	}
	pthread_atfork(shim_fork_prepare, shim_atfork_parent, shim_atfork_child);
	on_exit(at_exit, NULL);
	shim_stacks_init();
	(void)shim_dl_changed();
	shim_events_thread_init();
	shim_block_signals();
	pthread_mutex_lock(&shim.mm_lock);
	shim.traced = adopt_image();
	shim_proc_fds_close();
	pthread_mutex_unlock(&shim.mm_lock);
	shim_restore_signals();
	shim_busy = 0;
}

SHIM_API void rmapshim_checkpoint_v1(const char *label)
{
	if (!shim_enter())
		return;
	shim_oracle(label ? label : "", 1);
	shim_leave();
}
