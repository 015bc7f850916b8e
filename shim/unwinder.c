/* SPDX-License-Identifier: MIT */
/*
 * unwinder.c - libunwind's unw_backtrace inside someone else's program,
 * without touching its symbols or its file descriptors.
 *
 * Symbols: libunwind.so.8 exports backtrace and _Unwind_*; dlopen'ed
 * RTLD_LOCAL they stay out of the global scope, so the workload's C++
 * exceptions and glibc backtrace() bind exactly as without us.  (Its .a
 * is not PIC: it cannot be linked into librmapshim.so.)
 *
 * Descriptors: libunwind 1.6.2 (Debian 12) validates memory through a
 * pipe: src/x86_64/Gglobal.c tdep_init -> Ginit.c tdep_init_mem_validate
 * -> open_pipe() runs pipe2() at the first unwind, and write_validate()
 * then read()s one byte from its end and syscall(SYS_write)s one byte of
 * the address to it (EFAULT = invalid).  Validation is not rare: Debian
 * builds with CONSERVATIVE_CHECKS (configure.ac's default), so every
 * unw_step of a trace-cache miss validates (Gstep.c), as do DWARF
 * failures and signal frames.  Closing the two fds after init is
 * therefore NOT safe: the next validation would read() and write() the
 * numbers, by then perhaps the workload's own files, and on EBADF
 * open_pipe() close()s both numbers before making a new pipe.  Instead
 * the four calls are redirected in libunwind's own GOT (nobody else's):
 * pipe2 hands out NO_FD, read on it answers like an empty non-blocking
 * pipe, close on it succeeds, and the SYS_write probe becomes a
 * FUTEX_WAIT that cannot sleep on the word holding that byte: the kernel
 * reads it with a plain user access and fails with EFAULT where write()
 * would.  (Not process_vm_readv: its read-only pin of a page shared with
 * a fork child makes the kernel copy the page, a new frame under the
 * shadow's feet with no write to show for it - wtrack.c.)  No fd is ever
 * created.
 *
 * Memory: its mmap is watched in the same GOT, so that the trace cache
 * each thread maps at its first unwind is mostly given back (trim_cache)
 * and kept out of the shadow (the caller's unwinder_own_fn), as are the
 * pools it maps a page at a time (told after the unwind that made them).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#define UNW_LOCAL_ONLY		/* names and types only: nothing is linked */
#include <libunwind.h>

#include "unwinder.h"

#define LIBUNWIND	"libunwind.so.8"
/* The exported name of a libunwind.h function or variable (a macro). */
#define UNW_SYM(name)	UNW_SYM_(name)
#define UNW_SYM_(name)	#name
/* No kernel fd is negative, so every other number passes through. */
#define NO_FD		(-2)

static ssize_t (*real_read)(int, void *, size_t);
static int (*real_close)(int);
static long (*real_syscall)(long, ...);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static unwinder_fn unw_backtrace_fn;
static unwinder_own_fn own_fn;
static int pipe_faked;

/*
 * libunwind 1.6's per-thread trace cache (src/x86_64/Gtrace.c): 2^14
 * frames of 16 bytes, mmapped and written whole when a thread first
 * unwinds, though it then holds a few frames; a frame whose first word
 * (its address) is 0 is free.  Its pages without a frame are given back
 * at once: unmapped, they read as free frames, and fork has nothing there
 * to copy (64 of forkstorm's ~120 anonymous pages were these, copied by
 * every fork and the shadow's, zapped by every exit).  A fork child's
 * insert there faults twice (zero page, then write) instead of one
 * copy-on-write; reading them back as the zero page would save that, but
 * every fork's reconciliation then read their pagemap (present, not in
 * the shadow), and forkstorm was no faster.  The cache is libunwind's
 * memory, not the workload's: own_fn hears of it in the same capture,
 * before any reconciliation can have seen it (libunwind's mmap passes the
 * hooks untraced, shim_busy; the first is mapped in the constructor,
 * before the shadow mm exists), and keeps it out of the shadow.
 */
#define TRACE_CACHE_BYTES	((size_t)16 << 14)
static __thread uint64_t *fresh_cache;	/* made by this thread's last unwind */
/* libunwind's anonymous memory not told to own_fn yet (its cache, its pools). */
#define FRESH_MAX	8
static __thread struct { uintptr_t lo, hi; } fresh[FRESH_MAX];
static __thread int nfresh;

static void *fake_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = real_mmap(addr, len, prot, flags, fd, off);

	if (!(flags & MAP_ANONYMOUS) || p == MAP_FAILED)
		return p;
	if (len == TRACE_CACHE_BYTES)
		fresh_cache = p;
	if (nfresh < FRESH_MAX) {
		fresh[nfresh].lo = (uintptr_t)p;
		fresh[nfresh++].hi = (uintptr_t)p + len;
	}
	return p;
}

/* madvise by syscall, not through our hook: the cache is libunwind's. */
static void trim_cache(uint64_t *frames)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE) / sizeof(*frames);
	size_t n = TRACE_CACHE_BYTES / sizeof(*frames), run = n;

	for (size_t at = 0; at <= n; at += page) {
		size_t i = 0;

		while (at < n && i < page && !frames[at + i])
			i += 2;		/* the first word of each frame */
		if (at < n && i >= page) {
			if (run == n)
				run = at;
			continue;
		}
		if (run != n)
			(void)real_syscall(SYS_madvise, frames + run,
					   (at - run) * sizeof(*frames), MADV_DONTNEED);
		run = n;
	}
}

/* unw_backtrace, then the trim of the cache it made (once per thread). */
static int backtrace_trimmed(void **ip, int n)
{
	int got = unw_backtrace_fn(ip, n);

	if (__builtin_expect(fresh_cache != NULL, 0)) {
		trim_cache(fresh_cache);
		fresh_cache = NULL;
	}
	for (; nfresh > 0; nfresh--)
		if (own_fn)
			own_fn(fresh[nfresh - 1].lo, fresh[nfresh - 1].hi);
	return got;
}

static int fake_pipe2(int fd[2], int flags)
{
	(void)flags;
	fd[0] = fd[1] = NO_FD;
	pipe_faked = 1;
	return 0;
}

/* An empty O_NONBLOCK pipe: EAGAIN is what write_validate takes as "open". */
static ssize_t fake_read(int fd, void *buf, size_t n)
{
	if (fd != NO_FD)
		return real_read(fd, buf, n);
	errno = EAGAIN;
	return -1;
}

static int fake_close(int fd)
{
	return fd == NO_FD ? 0 : real_close(fd);
}

/*
 * Can we read the byte at @addr?  As write() to a pipe would tell: EAGAIN
 * (another value) and ETIMEDOUT (the same, no wait) both mean it was read.
 */
static long probe_readable(const void *addr, size_t n)
{
	static const struct timespec now = { 0, 0 };
	uint32_t *word = (uint32_t *)((uintptr_t)addr & ~(uintptr_t)3);

	if (real_syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0u, &now, NULL, 0) == 0 ||
	    errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
		return n < 8 ? (long)n : 8;
	errno = EFAULT;
	return -1;
}

/* Six arguments read and forwarded whatever @nr takes, as syscall() does. */
static long fake_syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_write && (int)a[0] == NO_FD)
		return probe_readable((const void *)a[1], (size_t)a[2]);
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/*
 * libunwind blocks every signal around each lock it takes and each
 * dl_iterate_phdr of a trace-cache miss: two sigprocmask syscalls a time,
 * 16 of them in a fork child's exit.  When the caller says every signal is
 * blocked already (a shim section), they would change nothing: answered
 * here, with "everything blocked" as the old mask, which libunwind gives
 * back to the same no-op.
 */
static int (*real_sigprocmask)(int, const sigset_t *, sigset_t *);
static int (*signals_blocked)(void);

static int quiet_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (how == SIG_UNBLOCK || !signals_blocked || !signals_blocked())
		return real_sigprocmask(how, set, old);
	if (old)
		memset(old, 0xff, sizeof(*old));
	return 0;
}

static const struct redirect {
	const char *name;
	void *stand_in;
	void **real;			/* where the displaced target goes */
	int optional;			/* without it: no trim, still no fd */
} redirects[] = {
	{ "pipe2", (void *)fake_pipe2, NULL, 0 },
	{ "read", (void *)fake_read, (void **)&real_read, 0 },
	{ "close", (void *)fake_close, (void **)&real_close, 0 },
	{ "syscall", (void *)fake_syscall, (void **)&real_syscall, 0 },
	{ "mmap", (void *)fake_mmap, (void **)&real_mmap, 1 },
	{ "sigprocmask", (void *)quiet_sigprocmask, (void **)&real_sigprocmask, 1 },
};
#define NR_REDIRECTS	(sizeof(redirects) / sizeof(redirects[0]))

struct got {
	const struct link_map *lm;
	uintptr_t relro_lo, relro_hi;
	void **slot[NR_REDIRECTS];
};

static int relro_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct got *g = arg;

	(void)sz;
	if (info->dlpi_addr != g->lm->l_addr)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_GNU_RELRO) {
			g->relro_lo = info->dlpi_addr + ph->p_vaddr;
			g->relro_hi = g->relro_lo + ph->p_memsz;
		}
	}
	return 1;
}

/* ld.so relocates these d_ptr in place on x86-64; accept either form. */
static uintptr_t dyn_addr(const struct link_map *lm, ElfW(Addr) v)
{
	return v < lm->l_addr ? lm->l_addr + v : v;
}

/* Find the GOT slots of the redirects; 0 if all required are there and writable. */
static int find_slots(struct got *g)
{
	const ElfW(Rela) *rel = NULL;
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	size_t relsz = 0, missing = 0;

	for (const ElfW(Dyn) *d = g->lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_JMPREL)
			rel = (const void *)dyn_addr(g->lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_PLTRELSZ)
			relsz = d->d_un.d_val;
		else if (d->d_tag == DT_PLTREL && d->d_un.d_val != DT_RELA)
			return -1;
		else if (d->d_tag == DT_SYMTAB)
			sym = (const void *)dyn_addr(g->lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			str = (const void *)dyn_addr(g->lm, d->d_un.d_ptr);
	}
	if (!rel || !sym || !str)
		return -1;
	dl_iterate_phdr(relro_cb, g);
	for (size_t i = 0; i < relsz / sizeof(*rel); i++) {
		const char *name = str + sym[ELF64_R_SYM(rel[i].r_info)].st_name;
		uintptr_t slot = g->lm->l_addr + rel[i].r_offset;

		if (ELF64_R_TYPE(rel[i].r_info) != R_X86_64_JUMP_SLOT)
			continue;
		for (size_t r = 0; r < NR_REDIRECTS; r++) {
			if (strcmp(name, redirects[r].name) || g->slot[r])
				continue;
			/* Full RELRO (-z now): read-only after load; not ours to mprotect. */
			if (slot >= g->relro_lo && slot < g->relro_hi)
				return -1;
			g->slot[r] = (void **)slot;
		}
	}
	for (size_t r = 0; r < NR_REDIRECTS; r++)
		missing += !g->slot[r] && !redirects[r].optional;
	return missing ? -1 : 0;
}

/*
 * libc.so.6's own backtrace (libgcc_s's unwinder, which libc loads
 * privately): a program linked with libunwind has "backtrace" bound to
 * libunwind's, whose first use would open the pipe in its fd table.
 */
static unwinder_fn glibc_backtrace(void)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	unwinder_fn fn = libc ? (unwinder_fn)dlsym(libc, "backtrace") : NULL;

	if (libc)
		dlclose(libc);
	return fn ? fn : backtrace;	/* no libc.so.6: a libc we do not know */
}

/*
 * No DWARF register-state cache.  Its lock and buckets are libunwind's
 * .bss, written at every miss of the per-thread trace cache, which is
 * where every fork child misses: the parent never unwound the child's exit
 * path.  That was two copy-on-write faults per child (forkstorm: 3.0 -> 1.0
 * on that .bss).  A miss parses the FDE either way (the child's new IPs
 * miss this cache too), and unw_backtrace's hits never reach it.  Without
 * the symbol the cache stays on: a cost, not an error.
 */
static void no_rs_cache(void *h)
{
	int (*set_policy)(unw_addr_space_t, unw_caching_policy_t) =
		(int (*)(unw_addr_space_t, unw_caching_policy_t))
		dlsym(h, UNW_SYM(unw_set_caching_policy));
	unw_addr_space_t *local = dlsym(h, UNW_SYM(unw_local_addr_space));

	if (set_policy && local)
		(void)set_policy(*local, UNW_CACHE_NONE);
}

static unwinder_fn load(const char **why)
{
	struct got g = { 0 };
	struct link_map *lm;
	unwinder_fn fn;
	void *ip[4];
	void *h;

#ifdef __SANITIZE_THREAD__
	/*
	 * Its trace cache's key destructor munmaps at thread exit, after
	 * TSan has finished the thread: our munmap hook's mutex then crashes
	 * TSan's interceptor (make test-tsan, threadchurn).
	 */
	*why = "a TSan build (libunwind's thread-exit munmap runs after TSan's thread end)";
	return NULL;
#endif
	/* The program's own libunwind: its pipe and GOT are its business. */
	h = dlopen(LIBUNWIND, RTLD_LAZY | RTLD_NOLOAD);
	if (h) {
		dlclose(h);
		*why = LIBUNWIND " is the program's own (already loaded)";
		return NULL;
	}
	h = dlopen(LIBUNWIND, RTLD_LOCAL | RTLD_NOW);
	if (!h) {
		*why = LIBUNWIND " not found (Debian package libunwind8)";
		return NULL;
	}
	fn = (unwinder_fn)dlsym(h, "unw_backtrace");
	if (!fn || dlinfo(h, RTLD_DI_LINKMAP, &lm)) {
		*why = LIBUNWIND " has no unw_backtrace";
		goto refuse;
	}
	g.lm = lm;
	if (find_slots(&g)) {
		*why = LIBUNWIND " has no writable pipe2/read/close/syscall PLT slots";
		goto refuse;
	}
	for (size_t r = 0; r < NR_REDIRECTS; r++) {
		if (!g.slot[r])
			continue;
		if (redirects[r].real)
			*redirects[r].real = *g.slot[r];
		__atomic_store_n(g.slot[r], redirects[r].stand_in, __ATOMIC_RELEASE);
	}
	no_rs_cache(h);		/* after the redirects: it runs tdep_init */
	/*
	 * The first unwind runs tdep_init (the pipe) and maps its caches.
	 * From here on libunwind stays loaded whatever happens: its trace
	 * cache registered a pthread key destructor in its own text.
	 */
	unw_backtrace_fn = fn;
	(void)backtrace_trimmed(ip, 4);
	if (!pipe_faked) {
		*why = LIBUNWIND " made no validation pipe through pipe2 (another version?)";
		return NULL;
	}
	*why = NULL;
	return backtrace_trimmed;
refuse:
	dlclose(h);		/* nothing of it ran yet */
	return NULL;
}

unwinder_fn unwinder_load(const char **why, int (*all_signals_blocked)(void),
			   unwinder_own_fn own)
{
	unwinder_fn fn;

	signals_blocked = all_signals_blocked;
	own_fn = own;
	fn = load(why);

	return fn ? fn : glibc_backtrace();
}
