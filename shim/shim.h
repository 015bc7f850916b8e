/* SPDX-License-Identifier: MIT */
/*
 * shim.h - librmapshim.so's internal interfaces.
 *
 * Data flows one way: a hook (forkhooks.c, exechooks.c, mmhooks.c) enters
 * the shim (lifecycle.c), learns what the kernel did from /proc
 * (reconcile.c), replays it on the shadow rmap (rmapcore), and the sink
 * (events.c) logs what rmapcore did, with the call stack (stacks.c).
 *
 * Locking: shim.mm_lock and the mm's slot in mmsem.c (taken in that order)
 * are the shadow mmap_sem: every mm-level rmapcore operation on an mm runs
 * under both (the slot alone when a checkpoint reconciles another
 * process's mm).  shim_busy is the per-thread recursion guard: set, every
 * hook passes straight through.
 */
#ifndef RMAPSHIM_SHIM_H
#define RMAPSHIM_SHIM_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "mmsem.h"
#include "rmapcore.h"

#define SHIM_API __attribute__((visibility("default")))
/*
 * Private state a fork child writes between fork and exit: together in
 * .data (one page, copied once at the child's first write) where .bss
 * scattered it over four pages, each a copy-on-write fault in every child.
 */
#define SHIM_CHILD_WRITES __attribute__((section(".data.shim_child")))
#define PAGE_SHIFT	12
#define PAGE_SIZE	(1ull << PAGE_SHIFT)

static inline uint64_t shim_page_up(uint64_t x)
{
	return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

enum shim_verify { SHIM_VERIFY_OFF = 0, SHIM_VERIFY_SAMPLED = 1, SHIM_VERIFY_FULL = 2 };

struct shim_cfg {
	unsigned stacks;		/* frames per stack, 0 = none */
	int events_pages;		/* 1: every transition individually */
	unsigned sample_ms;		/* whole-mm reconciliation period */
	enum shim_verify verify;
	uint64_t lockwait_ns;
};

struct shim_proc {
	int traced;			/* 0: pass every call straight through */
	pid_t pid;			/* whose private state this is */
	pid_t ppid;
	rmap_mm_t mm;			/* 0 until created or adopted */
	pid_t pending_ppid;		/* fork child: this parent is creating mm */
	rmap_mm_t parent_mm;		/* fork child: the parent's mm (its mmsem slot) */
	struct rmap_arena *arena;
	struct rlog *log;
	struct rmap_file_id arena_id, log_id, mmsem_id;	/* hidden from the shadow */
	struct shim_cfg cfg;
	pthread_mutex_t mm_lock;
	uint64_t last_sample_ns;
	int reconciled;			/* reconciled itself (a fork child: since the fork) */
	char exe[512];
};

extern struct shim_proc shim;
extern __thread int shim_busy;

/* ---- lifecycle.c: entering the shim, fork children, exit ---- */

/*
 * shim_enter - 1 if this call must be shadowed: then shim_busy is set,
 * mm_lock held and shim.mm valid; shim_leave undoes it.  0: pass through
 * (untraced, nested, a vfork/CLONE_VM child sharing its parent's memory).
 */
int shim_enter(void);
void shim_leave(void);
/* Drop only the mm's mmsem slot (before exec; shim_leave then skips it). */
void shim_leave_shared(void);
/* Block every blockable signal for a shim section (lifecycle.c says why). */
void shim_block_signals(void);
/* The workload's signal mask back (before exec: the new image inherits it). */
void shim_restore_signals(void);
/* 1 between the two: this thread has every blockable signal blocked. */
int shim_signals_blocked(void);
/* 1 if the caller runs in memory shared with shim.pid (vfork, CLONE_VM). */
int shim_in_shared_vm(void);
extern __thread int shim_vforking;	/* set by the vfork note, parent side */

void shim_fork_prepare(void);			/* atfork prepare, _Fork, clone */
void shim_fork_parent(pid_t child, uint32_t kind);	/* after the real call */
void shim_fork_child(int dup_pending);		/* first thing in the child */
extern __thread int shim_fork_wrapped;		/* a wrapper will call shim_fork_parent */
void shim_atfork_parent(void);
void shim_atfork_child(void);

void shim_exit(int status, uint32_t how);	/* enum rlog_exit_how */
void *shim_exit_note(int status, int kind, uint64_t site);	/* exit, _exit, _Exit */
void shim_exit_trampoline(void);	/* exit's entry (trampolines.S), for a warm-up */
void shim_log_proc(uint16_t type, pid_t pid, pid_t ppid, rmap_mm_t mm,
		   rmap_mm_t parent_mm, uint32_t how, const char *exe);
void shim_log_fork(pid_t parent, pid_t child, rmap_mm_t child_mm,
		   uint32_t kind, uint64_t pages, uint64_t rmap_ns,
		   uint64_t fork_ns, uint32_t stack);

/* ---- events.c: the rmap sink and per-operation accounting ---- */

struct shim_op {
	int32_t pid;
	rmap_mm_t mm;
	uint32_t op;			/* enum rlog_map_op, 0 for fork/exit */
	uint32_t cause;			/* enum rmap_cause */
	uint32_t stack;
	uint64_t counts[RMAP_EV_NR_TYPES];
	uint64_t seen[RMAP_EV_NR_TYPES];	/* the thread's counts when it last ran */
	uint64_t pages;			/* ptes changed by the shim's calls */
	uint64_t rmap_ns;		/* time inside rmapcore */
	struct shim_op *prev;
};

/* Start accounting on this thread; @stack 0 means none. */
void shim_op_begin(struct shim_op *o, uint32_t op, uint32_t cause, uint32_t stack);
/* Stop; logs RLOG_TRANSITION_AGG for what was not logged one by one. */
void shim_op_end(struct shim_op *o);
/* shim_op_end plus the operation's RLOG_MAP_EVENT. */
void shim_op_end_map(struct shim_op *o, uint64_t start, uint64_t end,
		     uint32_t vm_flags, int64_t ret);
/* Sink and lock-wait hook for the calling thread (idempotent). */
void shim_events_thread_init(void);

/* Time an rmapcore call into the current op. */
#define SHIM_RMAP(o, call) __extension__ ({				\
	uint64_t t0_ = rlog_now_ns();					\
	__typeof__(call) r_ = (call);					\
	(o)->rmap_ns += rlog_now_ns() - t0_;				\
	r_; })

/* ---- stacks.c: deduplicated call stacks and the module map ---- */

void shim_stacks_init(void);		/* warm libunwind up */
void shim_stacks_reset(void);		/* fork child: ids restart per pid */
uint32_t shim_stack(void);		/* 0 if stacks are off */
/*
 * Unwind through @path's shim_stack call, caching its frames, logging
 * none; with @ra, as if @path were called from there (a frame this thread
 * never ran).
 */
void shim_stacks_warm(void (*path)(void), uint64_t ra);
int shim_stacks_warming(void);
/* trampolines.S: @fn on @stack, as if called from @ra. */
void shim_call_from(void *ra, void *stack, void (*fn)(void));
void shim_modules_refresh(int force);	/* RLOG_MODULES if the set changed */
int shim_dl_changed(void);		/* loads/unloads since the last call */

/* ---- reconcile.c: /proc -> shadow ---- */

#define SHIM_ALL_LO	0ull
#define SHIM_ALL_HI	(~0ull)
#define SHIM_RECON_PAGES	0x1	/* ptes too, not only vmas */
#define SHIM_RECON_EXTEND	0x2	/* widen to the shadow vmas met (shmdt) */
#define SHIM_RECON_TRUST	0x4	/* write tracking may spare pagemap reads */
#define SHIM_RECON_ARM		0x8	/* start write tracking, read in full (checkpoints) */
/*
 * Bring the shadow mm @mm of process @pid (0: this process) in line with
 * the kernel's view over [lo, hi).  Caller holds that mm's mmap_sem
 * (mm_lock for our own, quiescence for another process's).
 */
int shim_reconcile(struct shim_op *o, pid_t pid, rmap_mm_t mm, uint64_t lo,
		   uint64_t hi, unsigned flags);
/*
 * Whole-mm reconciliation of another process's @mm from /proc/<pid>, under
 * the mm's mmsem slot if it is free (onbehalf.c); logged as @op.  0, or
 * -ESRCH (gone), -EBUSY (slot held), -ESTALE (mm reused, pid exec'ing),
 * -EAGAIN (its own memory not published yet: a new mm).
 */
int shim_reconcile_other(rmap_mm_t mm, pid_t pid, uint32_t op);
/*
 * shim_reconcile_other on every live mm of the tree but our own; one busy
 * in its own operation or checkpoint is left as it is.
 */
void shim_reconcile_others(uint32_t op);
/* Right after a fork, before the dup: pages other threads changed since
 * the pre-fork reconciliation that the child got (reconcile.c). */
void shim_reconcile_forked(struct shim_op *o, pid_t child);
/*
 * @bytes of zeroed memory for good, that a fork child gets zero-filled
 * (MADV_WIPEONFORK): buffers the parent rewrites after every fork without
 * a copy-on-write fault.  NULL if there is no room (64 KiB in all) or no
 * mapping.  Caller holds mm_lock (reconcile.c).
 */
void *shim_scratch_alloc(size_t bytes);
/*
 * The shim's own anonymous memory, kept out of the shadow (reconcile.c):
 * add a range as soon as it is mapped, forget it when it is unmapped (or
 * the address is mapped anew); callers hold mm_lock and the slot of
 * shim.mm, whose published copy they update.  A full list (SHIM_OWN_RANGES)
 * adds nothing: the range is shadowed like the workload's memory.
 */
void shim_own_add(uint64_t start, uint64_t end);
void shim_own_forget(uint64_t lo, uint64_t hi);
/* Publish this process's list as @pid's for @mm (a new mm: fork, exec). */
int shim_own_publish(rmap_mm_t mm, pid_t pid);
/* open(/proc/<pid>/<leaf>), pid 0 meaning self; O_RDONLY | O_CLOEXEC. */
int shim_open_proc(pid_t pid, const char *leaf);
/*
 * /proc files a shim section opens at most once (reconcile.c): a fork's
 * section (prepare, the kernel's fork, the parent's repair, dup and check)
 * opened our pagemap twice and kpageflags twice, 2-3.5 us an open.  The fd
 * (-1 if it cannot be opened) stays open until shim_proc_fds_close, which
 * shim_leave calls, and a fork child first thing (the copies it inherited).
 */
enum shim_proc_file { SHIM_PROC_PAGEMAP, SHIM_PROC_KPAGEFLAGS, SHIM_PROC_KPAGECOUNT,
		      SHIM_PROC_FILES };
int shim_proc_fd(enum shim_proc_file f);
void shim_proc_fds_close(void);
/* 1 if pagemap gives PFNs here (root / CAP_SYS_ADMIN). */
int shim_pfn_access(void);
/* kpageflags of @pfn (cached zero page); -1 on error. */
#define KPF_ANON	12
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE	17
#define KPF_THP		22
#define KPF_ZERO_PAGE	24

/* ---- vmawatch.c: may a pre-fork reconciliation reuse the vmas it read? ---- */

int shim_vmawatch_unchanged(void);	/* since the last call: before reading them */
void shim_vmawatch_forked(void);	/* a fork's own write lock of our mm */
void shim_vmawatch_reset(void);		/* fork child: the ring is not ours */
int shim_vmawatch_hold(void);		/* rmapshim-run: keeps the tracepoint on */

/* ---- procmaps.c: the kernel's vmas ---- */

struct shim_maps_vma {
	uint64_t start, end, offset;
	uint32_t prot;			/* RMAP_VM_READ/WRITE/EXEC/SHARED */
	int stack;			/* the main thread's [stack] */
	struct rmap_file_id file;	/* {0, 0} if anonymous */
};
typedef void (*shim_maps_fn)(void *ctx, const struct shim_maps_vma *v);
/*
 * Call @fn for each vma of process @pid (0: this one) meeting [lo, hi), in
 * address order, except the kernel's special mappings ([vdso]...).
 * Returns 0 or a negative errno.
 */
int shim_read_maps(pid_t pid, uint64_t lo, uint64_t hi, shim_maps_fn fn,
		   void *ctx);
/* The (dev, ino) maps name a file by: of @fd if >= 0, else of @path at @dirfd. */
int shim_file_id(int dirfd, const char *path, int fd, struct rmap_file_id *id);

/* ---- oracle.c: /proc/kpagecount as the judge ---- */

/* Compare; @explicit_cp: every page of every live mm after reconciling all. */
void shim_oracle(const char *label, int explicit_cp);
/* An implicit checkpoint (fork, exit), within this process's time budget. */
void shim_oracle_implicit(const char *label, int at_exit);
/* A new process: a fork child (@fork_child) or a new image. */
void shim_oracle_budget_start(int fork_child);

/* ---- small helpers (say.c) ---- */
char *shim_utoa(char *dst, uint64_t v);	/* returns the end (no NUL) */
void shim_say(const char *msg);		/* one line to stderr, raw write */

#endif /* RMAPSHIM_SHIM_H */
