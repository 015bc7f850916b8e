/* SPDX-License-Identifier: MIT */
/*
 * rmapshim.h - the client API of rmapshim, header only, for C and C++.
 *
 *   #include <rmapshim.h>
 *   ...
 *   rmapshim_checkpoint("after-fork");
 *
 * rmapshim_checkpoint() asks librmapshim.so, when it is preloaded, to
 * reconcile every live process of the traced tree and compare each
 * compared page's shadow mapcount with /proc/kpagecount (a full compare,
 * never sampled).  Call it at quiescent points of the program: no other
 * thread of the tree should be mapping, unmapping, forking or exiting
 * while it runs, or the oracle compares a moving target.
 *
 * Without the shim it does nothing: no link-time dependency on rmapshim,
 * so a program built with this header runs unchanged anywhere.
 *
 * The symbol is looked up with dlsym(RTLD_DEFAULT, ...) once per process
 * image and cached.  dlsym lives in libc from glibc 2.34 on; with an older
 * glibc link the program with -ldl.
 *
 * The library exports (the ABI this header relies on; bump _v1 on change):
 *   void rmapshim_checkpoint_v1(const char *label);
 * @label is copied into the log; this header never passes NULL.
 */
#ifndef RMAPSHIM_H
#define RMAPSHIM_H

#include <dlfcn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* glibc defines RTLD_DEFAULT only under _GNU_SOURCE; its value is NULL. */
#ifdef RTLD_DEFAULT
#define RMAPSHIM_RTLD_DEFAULT RTLD_DEFAULT
#else
#define RMAPSHIM_RTLD_DEFAULT ((void *)0)
#endif

typedef void (*rmapshim_checkpoint_fn)(const char *label);

/*
 * rmapshim_checkpoint - run an explicit oracle checkpoint named @label.
 *
 * Thread-safe: two threads resolving at once both call dlsym and store
 * the same answer.  A forked child inherits the cache, which stays right
 * (fork keeps the preload); exec starts a new image with a fresh cache.
 */
static inline void rmapshim_checkpoint(const char *label)
{
	/* 0: not looked up yet; 1: looked up, the shim is not loaded. */
	static void *cached;
	void *sym = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);

	if (!sym) {
		sym = dlsym(RMAPSHIM_RTLD_DEFAULT, "rmapshim_checkpoint_v1");
		if (!sym)
			sym = (void *)1;
		__atomic_store_n(&cached, sym, __ATOMIC_RELEASE);
	}
	if (sym != (void *)1) {
		rmapshim_checkpoint_fn fn;

		/* POSIX guarantees dlsym's object pointer converts to a function pointer. */
		fn = __extension__ (rmapshim_checkpoint_fn)sym;
		fn(label ? label : "");
	}
}

#ifdef __cplusplus
}
#endif
#endif /* RMAPSHIM_H */
