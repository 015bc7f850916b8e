/* SPDX-License-Identifier: MIT */
/*
 * exechooks.c - every exec variant, plus the environment they pass on.
 *
 * glibc's execv/execl/execle call its hidden __execve and execvp/execlp its
 * hidden __execvpe, so each public variant is wrapped, not just execve.
 * The old shadow mm is torn down by the new image's constructor (only an
 * exec that succeeded gets there); until then mm_lock is held so no other
 * thread, killed by the exec, can die inside rmapcore holding an arena
 * lock.  A vfork child only builds an envp on its stack and execs.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "exechooks.h"
#include "real.h"
#include "shim.h"
#include "shimenv.h"
#include "traceable.h"

#define SAVED_MAX	16

static char saved_buf[4096];
static const char *saved[SAVED_MAX];	/* "RMAPSHIM_X=..." entries */
static int nsaved;
static const char *lib_path;		/* our own path, for LD_PRELOAD */
static int inject;

static int has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

void shim_env_save(const char *libpath)
{
	char *p = saved_buf, *end = saved_buf + sizeof(saved_buf);

	for (char **e = environ; e && *e; e++) {
		size_t n = strlen(*e) + 1;

		if (!has_prefix(*e, "RMAPSHIM_") ||
		    has_prefix(*e, RMAPSHIM_ENV_PARENT "=") ||
		    nsaved == SAVED_MAX || p + n > end)
			continue;
		memcpy(p, *e, n);
		saved[nsaved++] = p;
		p += n;
	}
	lib_path = libpath;
	inject = libpath != NULL;
}

size_t shim_env_slots(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n + SAVED_MAX + 3;
}

/* Is @lib one of the colon/space separated entries of @list? */
static int listed(const char *list, const char *lib)
{
	size_t n = strlen(lib);

	for (const char *p = list; (p = strstr(p, lib)); p += n)
		if ((p == list || p[-1] == ':' || p[-1] == ' ') &&
		    (p[n] == 0 || p[n] == ':' || p[n] == ' '))
			return 1;
	return 0;
}

static char *put(char *dst, char *end, const char *s)
{
	size_t n = strlen(s);

	if (!dst || dst + n >= end)
		return NULL;
	memcpy(dst, s, n);
	return dst + n;
}

char *const *shim_env_build(char *const envp[], const char **slots,
			    size_t nslots, char *strs, size_t strcap)
{
	const char *ld = NULL, *ld_entry = NULL;
	char *p = strs, *end = strs + strcap, num[24];
	size_t n = 0;

	if (!inject || nslots < shim_env_slots(envp))
		return envp;
	for (size_t i = 0; envp && envp[i]; i++) {
		if (has_prefix(envp[i], "LD_PRELOAD=")) {
			ld_entry = envp[i];
			ld = envp[i] + 11;
		} else if (!has_prefix(envp[i], "RMAPSHIM_")) {
			slots[n++] = envp[i];
		}
	}
	if (ld && listed(ld, lib_path)) {
		slots[n++] = ld_entry;
	} else {
		slots[n++] = p;
		p = put(p, end, "LD_PRELOAD=");
		p = put(p, end, lib_path);
		if (ld && *ld) {
			p = put(p, end, ":");
			p = put(p, end, ld);
		}
		if (!p)
			return envp;
		*p++ = 0;
	}
	for (int i = 0; i < nsaved; i++)
		slots[n++] = saved[i];
	slots[n++] = p;
	p = put(p, end, RMAPSHIM_ENV_PARENT "=");
	if (!p)
		return envp;
	*shim_utoa(num, (uint64_t)shim.pid) = 0;
	p = put(p, end, num);
	p = put(p, end, ":");
	if (p)
		*shim_utoa(num, shim.mm) = 0;
	p = put(p, end, num);
	if (!p)
		return envp;
	*p = 0;
	slots[n] = NULL;
	return (char *const *)slots;
}

enum exec_kind { EXEC_PATH, EXEC_SEARCH, EXEC_FD };

/*
 * Say once, in the log, that the new image will not load us.  Its old mm
 * stays until the process exits and the supervisor reaps it.
 */
static void note_untraceable(enum exec_kind kind, const char *path, int fd)
{
	const char *why = NULL;
	char msg[160] = "exec of an untraceable program (";

	if (!shim.traced)
		return;
	if (kind == EXEC_FD)
		why = shim_untraceable_fd(fd);
	else if (kind == EXEC_PATH || strchr(path, '/'))
		why = shim_untraceable(path);
	if (!why)
		return;
	strncat(msg, why, 64);
	strcat(msg, "): it runs untraced");
	rlog_note(shim.log, getpid(), RLOG_NOTE_WARN, msg);
}

static int do_exec(enum exec_kind kind, const char *path, int fd,
		   char *const argv[], char *const envp[])
{
	size_t nslots = shim_env_slots(envp);
	const char *slots[nslots];
	char strs[SHIM_ENV_STRBYTES];
	int held = shim_enter();
	char *const *env = shim_env_build(envp, slots, nslots, strs, sizeof(strs));
	int err;

	/*
	 * A robust mutex held across exec would read as its owner's death, and
	 * the new image inherits the signal mask.
	 */
	if (held) {
		shim_leave_shared();
		shim_restore_signals();
	}
	note_untraceable(kind, path, fd);
	if (kind == EXEC_PATH)
		REAL(execve)(path, argv, env);
	else if (kind == EXEC_SEARCH)
		REAL(execvpe)(path, argv, env);
	else
		REAL(fexecve)(fd, argv, env);
	err = errno;
	if (held)
		shim_leave();
	errno = err;
	return -1;
}

SHIM_API int execve(const char *path, char *const argv[], char *const envp[])
{
	return do_exec(EXEC_PATH, path, -1, argv, envp);
}

SHIM_API int execv(const char *path, char *const argv[])
{
	return do_exec(EXEC_PATH, path, -1, argv, environ);
}

SHIM_API int execvp(const char *file, char *const argv[])
{
	return do_exec(EXEC_SEARCH, file, -1, argv, environ);
}

SHIM_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return do_exec(EXEC_SEARCH, file, -1, argv, envp);
}

SHIM_API int fexecve(int fd, char *const argv[], char *const envp[])
{
	return do_exec(EXEC_FD, NULL, fd, argv, envp);
}

/* The execl family: the argument list as an argv on the stack. */
#define EXECL_BODY(kind, path, arg0, want_envp) __extension__ ({	\
	va_list ap, cp;							\
	size_t n = 1;							\
	char *const *envp_ = environ;					\
									\
	va_start(ap, arg0);						\
	va_copy(cp, ap);						\
	while (va_arg(cp, char *))					\
		n++;							\
	va_end(cp);							\
	char *argv_[n + 1];						\
	argv_[0] = (char *)(arg0);					\
	for (size_t i = 1; i <= n; i++)					\
		argv_[i] = va_arg(ap, char *);				\
	if (want_envp)							\
		envp_ = va_arg(ap, char *const *);			\
	va_end(ap);							\
	do_exec(kind, path, -1, argv_, envp_); })

SHIM_API int execl(const char *path, const char *arg, ...)
{
	return EXECL_BODY(EXEC_PATH, path, arg, 0);
}

SHIM_API int execle(const char *path, const char *arg, ...)
{
	return EXECL_BODY(EXEC_PATH, path, arg, 1);
}

SHIM_API int execlp(const char *file, const char *arg, ...)
{
	return EXECL_BODY(EXEC_SEARCH, file, arg, 0);
}
