/* SPDX-License-Identifier: MIT */
/* unwinder.h - libunwind's unw_backtrace, loaded privately (unwinder.c). */
#ifndef RMAPSHIM_UNWINDER_H
#define RMAPSHIM_UNWINDER_H

#include <stdint.h>

typedef int (*unwinder_fn)(void **ip, int n);
/* Told of each anonymous mapping libunwind makes, after the unwind that made it. */
typedef void (*unwinder_own_fn)(uint64_t start, uint64_t end);

/*
 * unwinder_load - dlopen libunwind.so.8 RTLD_LOCAL, move its memory
 * validation off file descriptors, warm it up.  Call once, before main
 * (not in a vfork child, not in a signal handler).
 * @all_signals_blocked (may be NULL): 1 when the calling thread has every
 * signal blocked already; libunwind's own sigprocmask calls are then
 * skipped.
 * Returns unw_backtrace with *@why NULL; or glibc's backtrace() (libc's
 * own, whatever "backtrace" binds to in the global scope) with *@why
 * saying why not libunwind (nothing of libunwind was then run).  @own
 * hears of libunwind's anonymous memory (per-thread trace caches, pools:
 * its, not the workload's), the first from within this call.
 */
unwinder_fn unwinder_load(const char **why, int (*all_signals_blocked)(void),
			   unwinder_own_fn own);

#endif
