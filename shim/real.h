/* SPDX-License-Identifier: MIT */
/*
 * real.h - the functions librmapshim.so interposes, as one X-macro table.
 *
 * Each entry names a libc symbol; REAL(name) is the next definition after
 * ours (dlsym(RTLD_NEXT)), resolved on first use so that hooks called
 * before our constructor (from another library's constructor) work.
 */
#ifndef RMAPSHIM_REAL_H
#define RMAPSHIM_REAL_H

#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>

/* X(name): every symbol we interpose and need to call through. */
#define SHIM_REAL_TABLE(X) \
	X(fork) X(_Fork) X(vfork) X(daemon) X(clone) \
	X(posix_spawn) X(posix_spawnp) X(system) X(popen) \
	X(execve) X(execvpe) X(fexecve) \
	X(exit) X(_exit) X(_Exit) X(pthread_create) \
	X(mmap) X(mmap64) X(munmap) X(mremap) X(mprotect) X(madvise) \
	X(brk) X(sbrk) X(shmat) X(shmdt) \
	X(mlock) X(mlock2) X(munlock) X(mlockall) X(munlockall) \
	X(remap_file_pages) X(dlopen) X(dlclose)

#define SHIM_REAL_DECL(name) extern __typeof__(&name) shim_real_##name;
SHIM_REAL_TABLE(SHIM_REAL_DECL)
#undef SHIM_REAL_DECL

void *shim_resolve(const char *name);

#define SHIM_REAL_GETTER(name)						\
static inline __typeof__(&name) shim_get_##name(void)			\
{									\
	__typeof__(&name) p = __atomic_load_n(&shim_real_##name, __ATOMIC_RELAXED); \
									\
	if (__builtin_expect(!p, 0)) {					\
		p = (__typeof__(&name))shim_resolve(#name);		\
		__atomic_store_n(&shim_real_##name, p, __ATOMIC_RELAXED); \
	}								\
	return p;							\
}
SHIM_REAL_TABLE(SHIM_REAL_GETTER)
#undef SHIM_REAL_GETTER

#define REAL(name) (shim_get_##name())

/* Resolve the whole table now (constructor: before any fork can race it). */
void shim_resolve_all(void);

#endif /* RMAPSHIM_REAL_H */
