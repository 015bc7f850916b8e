/* SPDX-License-Identifier: MIT */
/*
 * forkhooks.c - the process-creating calls: fork, _Fork, daemon, clone,
 * vfork, posix_spawn/posix_spawnp, system, popen, and pthread_create.
 *
 * fork and daemon run glibc's atfork handlers (lifecycle.c does the work
 * there); _Fork and a fork-like clone do not, so their wrappers call the
 * same steps themselves.  A child that shares our memory (vfork, CLONE_VM,
 * posix_spawn's internal clone) gets no shadow mm: in the kernel it has
 * none of its own until exec, whose new image creates one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "real.h"
#include "shim.h"

#include "exechooks.h"

static pid_t fork_with_atfork(uint32_t kind)
{
	pid_t p;

	shim_fork_wrapped = 1;
	p = REAL(fork)();
	shim_fork_wrapped = 0;
	if (p != 0)
		shim_fork_parent(p, kind);
	return p;
}

SHIM_API pid_t fork(void)
{
	return fork_with_atfork(RLOG_FORK_FORK);
}

/* The steps of lifecycle.c's atfork handlers, for forks that skip them. */
static pid_t fork_without_atfork(pid_t (*call)(void *), void *arg, uint32_t kind)
{
	pid_t p;

	shim_fork_prepare();
	shim_fork_wrapped = 1;
	p = call(arg);
	if (p == 0) {
		shim_atfork_child();
		shim_fork_wrapped = 0;
		return 0;
	}
	shim_fork_wrapped = 0;
	shim_fork_parent(p, kind);
	return p;
}

static pid_t call_ufork(void *arg)
{
	(void)arg;
	return REAL(_Fork)();
}

SHIM_API pid_t _Fork(void)
{
	return fork_without_atfork(call_ufork, NULL, RLOG_FORK_UFORK);
}

/*
 * glibc's daemon() forks through its hidden __fork and _exit()s in the
 * parent, out of our sight: do its few steps here so the fork is a
 * shadowed one and the parent's exit is logged.
 */
SHIM_API int daemon(int nochdir, int noclose)
{
	pid_t p;
	int fd;
	struct stat st;

	if (!shim.traced)
		return REAL(daemon)(nochdir, noclose);
	p = fork_with_atfork(RLOG_FORK_DAEMON);
	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (!nochdir && chdir("/") < 0)
		return -1;
	if (noclose)
		return 0;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}

struct clone_call {
	int (*fn)(void *);
	void *stack, *arg, *ptid, *tls, *ctid;
	int flags;
};

/* First code of a fork-like clone child (a private copy of our memory). */
static int clone_child(void *arg)
{
	struct clone_call *c = arg;

	shim_atfork_child();
	shim_fork_wrapped = 0;
	return c->fn(c->arg);
}

static pid_t call_clone(void *arg)
{
	struct clone_call *c = arg;

	return REAL(clone)(clone_child, c->stack, c->flags, c, c->ptid, c->tls,
			   c->ctid);
}

SHIM_API int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	struct clone_call c = { .fn = fn, .stack = stack, .arg = arg, .flags = flags };
	va_list ap;

	/* glibc's own wrapper reads these three whatever the flags say. */
	va_start(ap, arg);
	c.ptid = va_arg(ap, void *);
	c.tls = va_arg(ap, void *);
	c.ctid = va_arg(ap, void *);
	va_end(ap);
	if ((flags & CLONE_VM) || !shim.traced)
		return REAL(clone)(fn, stack, flags, arg, c.ptid, c.tls, c.ctid);
	return fork_without_atfork(call_clone, &c, RLOG_FORK_CLONE);
}

/*
 * vfork.S jumps here first, then tail-jumps to the real vfork: no C frame
 * of ours may be live across vfork, since the child returns through the
 * caller's frame while the parent is suspended.
 */
void *shim_vfork_note(void)
{
	if (shim.traced && !shim_busy && !shim_in_shared_vm()) {
		shim_log_fork(shim.pid, 0, 0, RLOG_FORK_VFORK, 0, 0, 0, 0);
		shim_vforking = 1;
	}
	return (void *)REAL(vfork);
}

static void log_spawn(pid_t child)
{
	if (shim.traced && !shim_busy && !shim_in_shared_vm())
		shim_log_fork(shim.pid, child, 0, RLOG_FORK_SPAWN, 0, 0, 0, 0);
}

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);

static int spawn(spawn_fn real, pid_t *pid, const char *path,
		 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
		 char *const argv[], char *const envp[])
{
	size_t nslots = shim_env_slots(envp);
	const char *slots[nslots];
	char strs[SHIM_ENV_STRBYTES];
	pid_t child = 0;
	int r;

	r = real(&child, path, fa, at, argv,
		 shim_env_build(envp, slots, nslots, strs, sizeof(strs)));
	if (pid)
		*pid = child;
	if (r == 0)
		log_spawn(child);
	return r;
}

SHIM_API int posix_spawn(pid_t *pid, const char *path,
			 const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *at, char *const argv[],
			 char *const envp[])
{
	return spawn(REAL(posix_spawn), pid, path, fa, at, argv, envp);
}

SHIM_API int posix_spawnp(pid_t *pid, const char *file,
			  const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *at, char *const argv[],
			  char *const envp[])
{
	return spawn(REAL(posix_spawnp), pid, file, fa, at, argv, envp);
}

/* system/popen spawn with environ, which still carries our variables. */
SHIM_API int system(const char *cmd)
{
	int r = REAL(system)(cmd);

	if (cmd)
		log_spawn(0);
	return r;
}

SHIM_API FILE *popen(const char *cmd, const char *mode)
{
	FILE *f = REAL(popen)(cmd, mode);

	if (f)
		log_spawn(0);
	return f;
}

/* The new thread's stack came from glibc's internal mmap: pick it up. */
SHIM_API int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			    void *(*fn)(void *), void *arg)
{
	int r = REAL(pthread_create)(t, attr, fn, arg);
	pthread_attr_t a;
	void *lo;
	size_t size, guard;
	struct shim_op o;

	int detached = 0;

	/* A detached thread may be gone already: its handle is dead. */
	if (attr)
		pthread_attr_getdetachstate(attr, &detached);
	if (r || detached == PTHREAD_CREATE_DETACHED || !shim_enter())
		return r;
	if (!pthread_getattr_np(*t, &a)) {
		if (!pthread_attr_getstack(&a, &lo, &size) &&
		    !pthread_attr_getguardsize(&a, &guard)) {
			uint64_t start = (uintptr_t)lo - guard;

			shim_op_begin(&o, RLOG_OP_MMAP, RMAP_CAUSE_NONE, shim_stack());
			(void)shim_reconcile(&o, 0, shim.mm, start, (uintptr_t)lo + size,
					     SHIM_RECON_PAGES);
			shim_op_end_map(&o, start, (uintptr_t)lo + size, 0, 0);
		}
		pthread_attr_destroy(&a);
	}
	shim_leave();
	return r;
}
