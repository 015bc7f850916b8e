/* SPDX-License-Identifier: MIT */
/*
 * lifecycle.c - entering the shim from a hook, and the process events that
 * change which shadow mm a process owns: fork (parent and child side),
 * forks nobody announced, and exit.
 *
 * Fork: the parent reconciles itself in the atfork prepare handler (which
 * runs last, right before the real fork, so the app's own prepare handlers
 * have already taken their locks), keeps mm_lock across the fork so no
 * other thread changes the shadow mm meanwhile, then runs the shadow
 * dup_mmap for the child's pid.  The child owns no shadow state until its
 * mm exists: it finds it with rmap_mm_find_pid, waiting if the parent is
 * still copying.
 */
#include <errno.h>
#include <signal.h>
#include <linux/kcmp.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"
#include "wtrack.h"

SHIM_CHILD_WRITES struct shim_proc shim = { .mm_lock = PTHREAD_MUTEX_INITIALIZER };
__thread int shim_busy;
__thread int shim_fork_wrapped;
__thread int shim_vforking;
static __thread int t_fork_held;	/* prepare took mm_lock for this fork */
static __thread rmap_mm_t t_locked_mm;	/* whose mmsem slot this thread holds */
static __thread uint64_t t_saved_mask;	/* the workload's mask, while ours blocks all */
static __thread int t_sigs_blocked;

#define MM_WAIT_NS	5000000000ull	/* a fork child's longest wait for its mm */
static __thread uint64_t t_fork_t0;
/* exit()'s stack, taken at the call (shim_exit_note) for shim_exit. */
static __thread uint32_t t_exit_stack;
static __thread int t_exit_stack_taken;
static __thread uint32_t t_fork_stack;	/* the fork's, taken before it */

void shim_log_proc(uint16_t type, pid_t pid, pid_t ppid, rmap_mm_t mm,
		   rmap_mm_t parent_mm, uint32_t how, const char *exe)
{
	size_t n = strlen(exe);
	struct rlog_proc *p = rlog_reserve(shim.log, type, sizeof(*p) + rlog_str_size(n));

	if (!p)
		return;
	p->pid = pid;
	p->ppid = ppid;
	p->mm = mm;
	p->parent_mm = parent_mm;
	p->how = how;
	rlog_put_str(p + 1, exe, n);
	rlog_commit(shim.log, p);
}

void shim_log_fork(pid_t parent, pid_t child, rmap_mm_t child_mm,
		   uint32_t kind, uint64_t pages, uint64_t rmap_ns,
		   uint64_t fork_ns, uint32_t stack)
{
	struct rlog_fork *f = rlog_reserve(shim.log, RLOG_FORK, sizeof(*f));

	if (!f)
		return;
	f->parent_pid = parent;
	f->child_pid = child;
	f->parent_mm = shim.mm;
	f->child_mm = child_mm;
	f->kind = kind;
	f->stack = stack;
	f->pages = pages;
	f->rmap_ns = rmap_ns;
	f->fork_ns = fork_ns;
	rlog_commit(shim.log, f);
}

int shim_in_shared_vm(void)
{
	pid_t me = getpid();
	long r;

	if (me == shim.pid)
		return 0;
	r = syscall(SYS_kcmp, me, shim.pid, KCMP_VM, 0, 0);
	/* No kcmp (CONFIG_KCMP off): trust the vfork note, which shares our TLS. */
	return r >= 0 ? r == 0 : shim_vforking;
}

/* Whole-mm reconciliation of our own mm, logged as one map event. */
static void reconcile_self(uint32_t op, uint32_t cause, unsigned flags)
{
	struct shim_op o;

	shim_op_begin(&o, op, cause, 0);
	(void)shim_reconcile(&o, 0, shim.mm, SHIM_ALL_LO, SHIM_ALL_HI,
			     SHIM_RECON_PAGES | flags);
	shim_op_end_map(&o, 0, 0, 0, 0);
	shim.last_sample_ns = rlog_now_ns();
}

/*
 * rt_sigprocmask without libc: sigfillset's and then pthread_sigmask's
 * libc pages were a fault in every fork child, which runs nothing else
 * there.  glibc's internal signals (SIGCANCEL, SIGSETXID: 32 and 33) stay
 * unblocked, as pthread_sigmask keeps them; the kernel's set is 64 bits.
 */
static void set_sigmask(int how, const uint64_t *set, uint64_t *old)
{
	register long size __asm__("r10") = sizeof(*set);
	long ret = SYS_rt_sigprocmask;

	__asm__ volatile("syscall"
			 : "+a"(ret)
			 : "D"((long)how), "S"(set), "d"(old), "r"(size)
			 : "rcx", "r11", "memory");
}

/*
 * A process killed inside rmapcore would leave an arena lock (anon_vma,
 * page_table_lock...) held for the whole tree: SIGTERM from
 * multiprocessing's terminate() did exactly that.  Every shim section runs
 * with the blockable signals blocked; SIGKILL remains the supervisor's.
 */
void shim_block_signals(void)
{
	const uint64_t all = ~(3ull << (32 - 1));

	set_sigmask(SIG_BLOCK, &all, &t_saved_mask);
	t_sigs_blocked = 1;
}

int shim_signals_blocked(void)
{
	return t_sigs_blocked;
}

void shim_restore_signals(void)
{
	if (t_sigs_blocked) {
		t_sigs_blocked = 0;
		set_sigmask(SIG_SETMASK, &t_saved_mask, NULL);
	}
}

void shim_fork_child(int dup_pending)
{
	shim.ppid = shim.pid;
	shim.pid = getpid();
	shim.parent_mm = shim.mm;
	shim.mm = 0;
	shim.pending_ppid = dup_pending ? shim.ppid : 0;
	shim.reconciled = 0;
	shim_proc_fds_close();		/* the parent's section's */
	pthread_mutex_init(&shim.mm_lock, NULL);
	shim_busy = 0;
	shim_oracle_budget_start(1);
	t_fork_held = 0;
	t_exit_stack_taken = 0;		/* an id of the parent's stack table */
	t_locked_mm = 0;		/* the parent's thread owns that slot */
	shim_fork_wrapped = 0;
	shim_restore_signals();		/* blocked by the parent's prepare */
	rlog_thread_reset(dup_pending ? shim.pid : 0);	/* our fork's: tid == pid */
	shim_stacks_reset();
	shim_wtrack_forget();
	shim_vmawatch_reset();
}

/*
 * A fork nobody announced (raw clone/syscall, or the parent died before
 * copying): build our mm from the kernel's view, as fresh faults.
 */
static int adopt_unannounced(void)
{
	rmap_mm_t parent = rmap_mm_find_pid(shim.arena, shim.ppid);
	rmap_mm_t mm;

	if (rmap_mm_create(shim.arena, shim.pid, parent, &mm)) {
		shim_say("rmapshim: shadow arena full: this process runs untraced");
		shim.traced = 0;
		return 0;
	}
	shim.mm = mm;
	shim_log_fork(shim.ppid, shim.pid, mm, RLOG_FORK_UNSEEN, 0, 0, 0, 0);
	shim_log_proc(RLOG_PROC_START, shim.pid, shim.ppid, mm, parent,
		      RLOG_HOW_FORK, shim.exe);
	shim_mmsem_lock(mm);
	(void)shim_own_publish(mm, shim.pid);	/* our parent's own memory is ours */
	reconcile_self(RLOG_OP_RECONCILE, RMAP_CAUSE_FORK, 0);
	shim_mmsem_unlock(mm);
	return 1;
}

static int take_mm(rmap_mm_t m)
{
	shim.mm = m;
	shim.pending_ppid = 0;
	return 1;
}

static int mm_ready(void)
{
	if (shim.mm)
		return 1;
	/*
	 * The parent copies our mm after its fork() returns, holding its own
	 * mmsem slot from before the fork until the copy is complete: once we
	 * get that slot, our mm is whole, and the slot names it (searching by
	 * pid, the fallback if another fork reused the slot meanwhile, could
	 * return it half-copied).  Without mmsem, poll: until it appears, the
	 * parent dies, or MM_WAIT_NS pass (it could create no mm for us at all).
	 */
	if (shim.pending_ppid) {
		rmap_mm_t m;

		shim_mmsem_lock(shim.parent_mm);
		m = shim_mmsem_handed(shim.parent_mm, shim.pid);
		shim_mmsem_unlock(shim.parent_mm);
		if (m && rmap_mm_pid(shim.arena, m) == shim.pid)
			return take_mm(m);
	}
	for (uint64_t t0 = rlog_now_ns(); shim.pending_ppid;) {
		rmap_mm_t m = rmap_mm_find_pid(shim.arena, shim.pid);

		if (m)
			return take_mm(m);
		if (getppid() != shim.pending_ppid || rlog_now_ns() - t0 > MM_WAIT_NS)
			shim.pending_ppid = 0;
		else
			sched_yield();
	}
	return adopt_unannounced();
}

/* Memory shared with shim.pid (vfork, CLONE_VM): nothing of ours to touch. */
static int own_process(void)
{
	if (getpid() == shim.pid) {
		shim_vforking = 0;	/* a vfork of this thread has returned */
		return 1;
	}
	if (shim_in_shared_vm())
		return 0;
	shim_fork_child(0);
	shim_busy = 1;
	return 1;
}

static void maybe_sample(void)
{
	uint64_t now;

	if (!shim.cfg.sample_ms)
		return;
	now = rlog_now_ns();
	if (now - shim.last_sample_ns >= shim.cfg.sample_ms * 1000000ull)
		reconcile_self(RLOG_OP_SAMPLE, RMAP_CAUSE_NONE, 0);
}

/*
 * A thread's statistics slot in the arena goes back when the thread ends
 * (rmap_thread_release), not only with its process: a program starting a
 * thread per task used up the arena's slots, after which every new thread
 * shared the overflow slot through atomics.  A key's destructor is the
 * one hook every thread exit runs, by return or pthread_exit.
 */
static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;

static void slot_release(void *unused)
{
	(void)unused;
	rmap_thread_release(shim.arena);
}

static void slot_key_create(void)
{
	(void)pthread_key_create(&slot_key, slot_release);
}

static void release_slot_at_exit(void)
{
	static __thread int armed;

	if (armed)
		return;
	armed = 1;
	pthread_once(&slot_key_once, slot_key_create);
	(void)pthread_setspecific(slot_key, &armed);	/* any non-NULL value */
}

int shim_enter(void)
{
	if (shim_busy || !shim.traced)
		return 0;
	shim_busy = 1;
	if (!own_process()) {
		shim_busy = 0;
		return 0;
	}
	shim_block_signals();
	pthread_mutex_lock(&shim.mm_lock);
	/* Another thread may have run exit_mmap while we waited. */
	if (!shim.traced || !mm_ready()) {
		pthread_mutex_unlock(&shim.mm_lock);
		shim_restore_signals();
		shim_busy = 0;
		return 0;
	}
	t_locked_mm = shim.mm;
	shim_mmsem_lock(t_locked_mm);
	rlog_thread_trust_pid(shim.pid);	/* own_process() just checked */
	shim_events_thread_init();
	release_slot_at_exit();
	/* dlopen, and libc's own (iconv, NSS), map behind our back. */
	if (shim_dl_changed()) {
		shim_modules_refresh(0);
		reconcile_self(RLOG_OP_DLOPEN, RMAP_CAUSE_NONE, 0);
	}
	maybe_sample();
	return 1;
}

void shim_leave_shared(void)
{
	rlog_thread_trust_pid(0);
	shim_mmsem_unlock(t_locked_mm);
	t_locked_mm = 0;
}

void shim_leave(void)
{
	shim_leave_shared();
	shim_proc_fds_close();
	pthread_mutex_unlock(&shim.mm_lock);
	shim_restore_signals();
	shim_busy = 0;
}

static void exit_entered(int status, uint32_t how);

/*
 * exit(), _exit() and _Exit() through the PLT (trampolines.S, @kind 0, 1,
 * 2, called from @site): the stack is taken here, at the call, with the
 * caller as its first frame.  exit()'s teardown stays in at_exit, after
 * the program's own atexit handlers (which may still map or fork,
 * traced); the others tear down now.  NULL only for a warm-up; else the
 * real function.
 */
void *shim_exit_note(int status, int kind, uint64_t site)
{
	uint32_t id;

	if (!shim_stacks_warming() && !shim_enter())
		goto real;
	id = shim_stack();		/* the one call: see shim_exit_warm */
	if (shim_stacks_warming())
		return NULL;
	shim_mmsem_set_exit_site(shim.parent_mm, site);
	t_exit_stack = id;
	t_exit_stack_taken = 1;
	if (kind)
		exit_entered(status, RLOG_EXIT_UNDERSCORE);
	else
		shim_leave();
real:
	return kind == 0 ? (void *)REAL(exit) : kind == 1 ? (void *)REAL(_exit)
							   : (void *)REAL(_Exit);
}

/*
 * libunwind's trace cache knows a frame by its return address; a fork
 * child unwinding its exit() met three it had never seen (the trampoline's,
 * shim_exit_note's, shim_stack's callee's) and the call site, each a
 * DWARF lookup with copy-on-write faults on the cache and libunwind's
 * pools.  Once per forking thread, before its first fork, the parent runs
 * the same path up to the trampoline's own return; the call site, which
 * only the children run, once they have told it (their parent's mmsem
 * slot holds the last one).  Its children then miss nothing there.
 */
static void shim_exit_warm(void)
{
	static __thread int warm;
	static __thread uint64_t sites[16];	/* warmed call sites, a ring */
	static __thread unsigned nsites;
	uint64_t site;

	if (!shim.cfg.stacks)
		return;
	if (!warm) {
		warm = 1;
		shim_stacks_warm(shim_exit_trampoline, 0);
	}
	site = shim_mmsem_exit_site(shim.mm);
	if (!site)
		return;
	for (unsigned i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		if (sites[i] == site)
			return;
	sites[nsites++ % (sizeof(sites) / sizeof(sites[0]))] = site;
	shim_stacks_warm(shim_exit_trampoline, site);
}

void shim_fork_prepare(void)
{
	t_fork_held = shim_enter();
	if (!t_fork_held)
		return;
	/*
	 * Before the reconciliation: a warm-up may touch memory the program
	 * sees (a sanitizer's shadow of the stack it runs on), which the fork
	 * must copy as the shadow's fork does.
	 */
	shim_exit_warm();
	reconcile_self(RLOG_OP_RECONCILE, RMAP_CAUSE_FORK, SHIM_RECON_TRUST);
	/*
	 * The child would inherit the /proc fds, only to close them; with one
	 * thread nothing after the fork reads them (shim_fork_parent).
	 */
	if (__libc_single_threaded)
		shim_proc_fds_close();
	/*
	 * Unwinding writes our stack and libunwind's state: after the fork
	 * each page of those was a copy-on-write fault while the child lives,
	 * and a COW break the shadow then replays.  Before it, nothing.
	 */
	t_fork_stack = shim_stack();
	t_fork_t0 = rlog_now_ns();
}

/* The copy failed: an empty mm still lets the child stop waiting. */
static rmap_mm_t dup_failed(pid_t child, int err)
{
	char msg[96] = "shadow dup_mmap failed (errno ";
	rmap_mm_t mm = 0;
	char *p = shim_utoa(msg + strlen(msg), (uint64_t)-err);

	strcpy(p, "): the child is traced from an empty mm");
	rlog_note(shim.log, shim.pid, RLOG_NOTE_WARN, msg);
	if (rmap_mm_create(shim.arena, child, shim.mm, &mm))
		mm = 0;
	return mm;
}

void shim_fork_parent(pid_t child, uint32_t kind)
{
	uint64_t fork_ns = rlog_now_ns() - t_fork_t0;
	struct shim_op o;
	rmap_mm_t cmm = 0;
	int err;

	if (!t_fork_held)
		return;
	t_fork_held = 0;
	if (child > 0) {
		shim_vmawatch_forked();
		shim_op_begin(&o, 0, RMAP_CAUSE_FORK, t_fork_stack);
		/*
		 * Other threads may change frames between the prepare and the
		 * kernel's fork; with none, only glibc's fork ran, writing pages
		 * it already had (locks, the stack): no new frame to repair.
		 */
		if (!__libc_single_threaded)
			shim_reconcile_forked(&o, child);
		err = SHIM_RMAP(&o, rmap_dup_mmap(shim.arena, shim.mm, child,
						 RMAP_DUP_FAULT_FILLS, &cmm));
		shim_op_end(&o);
		if (err)
			cmm = dup_failed(child, err);
		/*
		 * The child has our mappings, the shim's own memory with them:
		 * its list is published before anyone reconciles it (it waits
		 * for our slot; on its behalf, nobody does without a list).
		 */
		if (cmm)
			(void)shim_own_publish(cmm, child);
		shim_mmsem_handoff(shim.mm, child, cmm);
		shim_log_fork(shim.pid, child, cmm, kind, o.counts[RMAP_EV_DUP],
			      o.rmap_ns, fork_ns, o.stack);
		shim_log_proc(RLOG_PROC_START, child, shim.pid, cmm, shim.mm,
			      RLOG_HOW_FORK, shim.exe);
		if (shim.cfg.verify != SHIM_VERIFY_OFF)
			shim_oracle_implicit("fork", 0);
	}
	shim_leave();
}

/* atfork handlers: registered first, so prepare runs last and child first. */
void shim_atfork_parent(void)
{
	if (t_fork_held && !shim_fork_wrapped) {
		/* A fork inside libc (forkpty...): the child adopts itself. */
		t_fork_held = 0;
		shim_leave();
	}
}

void shim_atfork_child(void)
{
	if (t_fork_held)
		shim_fork_child(shim_fork_wrapped);
}

void shim_exit(int status, uint32_t how)
{
	if (shim_enter())
		exit_entered(status, how);
}

/* The rest of shim_exit, in a section it leaves. */
static void exit_entered(int status, uint32_t how)
{
	struct shim_op o;
	struct rlog_exit *e;

	/*
	 * Pages faulted since our last intercepted call are seen only by a
	 * reconciliation here.  It reads pagemap over the whole mm (3.5 ms at
	 * 256 MiB, 1.4x a fork+exit natively), so it is --verify=full's; by
	 * default exit tears down what the shadow knows (docs/shim.md).
	 */
	if (shim.cfg.verify == SHIM_VERIFY_FULL)
		reconcile_self(RLOG_OP_RECONCILE, RMAP_CAUSE_EXIT, 0);
	if (shim.cfg.verify != SHIM_VERIFY_OFF)
		shim_oracle_implicit("exit", 1);
	shim_op_begin(&o, 0, RMAP_CAUSE_EXIT, t_exit_stack_taken ? t_exit_stack : shim_stack());
	t_exit_stack_taken = 0;
	/* The index goes to another mm next: our list must not come with it. */
	(void)shim_mmsem_publish(shim.mm, shim.pid, NULL);
	(void)SHIM_RMAP(&o, rmap_exit_mmap(shim.arena, shim.mm, RMAP_CAUSE_EXIT));
	shim_op_end(&o);
	e = rlog_reserve(shim.log, RLOG_EXIT, sizeof(*e));
	if (e) {
		e->pid = shim.pid;
		e->status = status;
		e->mm = shim.mm;
		e->how = how;
		e->pages = o.counts[RMAP_EV_REMOVE] + o.counts[RMAP_EV_UNMAP_LAST];
		e->rmap_ns = o.rmap_ns;
		rlog_commit(shim.log, e);
	}
	rmap_thread_release(shim.arena);
	shim.mm = 0;
	shim.traced = 0;
	shim_leave();
}
