/* SPDX-License-Identifier: MIT */
/*
 * mmhooks.c - the address-space calls: mmap family, brk, SysV shm, mlock,
 * remap_file_pages, dlopen/dlclose.
 *
 * Every hook has the same shape: enter (mm_lock is the shadow mmap_sem,
 * held across the real syscall as the kernel holds mmap_sem), make the
 * real call, replay what changed in [lo, hi) from /proc, log one
 * RLOG_MAP_EVENT.  Only what /proc cannot show is applied directly:
 * mremap's move of ptes, and VM_LOCKED / VM_DONTCOPY / VM_WIPEONFORK.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/ipc.h>

#include "real.h"
#include "shim.h"

#define PAGE_MASK_	4095ull

struct mmcall {
	struct shim_op o;
	int held;
	int err;
	uint32_t vm_flags;		/* for the map event, when the call sets them */
};

static void mm_begin(struct mmcall *c, uint32_t op, uint32_t cause)
{
	c->held = shim_enter();
	c->vm_flags = 0;
	if (c->held)
		shim_op_begin(&c->o, op, cause, shim_stack());
}

/* Reconcile [lo, hi) if the call succeeded, log, leave; errno kept. */
static void mm_end(struct mmcall *c, int ok, uint64_t lo, uint64_t hi,
		   unsigned recon, int64_t ret)
{
	c->err = errno;
	if (!c->held)
		return;
	if (ok && hi > lo)
		(void)shim_reconcile(&c->o, 0, shim.mm, lo, hi, recon);
	shim_op_end_map(&c->o, lo, hi, c->vm_flags, ok ? ret : -c->err);
	shim_leave();
	errno = c->err;
}

static uint64_t page_end(const void *addr, size_t len)
{
	return shim_page_up((uintptr_t)addr + len);
}

/*
 * [addr, addr + len) is unmapped, or mapped anew: whatever of the shim's
 * own memory was there is not any more (libunwind's trace cache, which
 * its thread-exit destructor munmaps through us), and the workload's
 * mapping there must be shadowed.
 */
static void own_gone(const struct mmcall *c, const void *addr, size_t len)
{
	if (c->held)
		shim_own_forget((uintptr_t)addr, page_end(addr, len));
}

/* A fresh mapping has no ptes yet unless it replaced one or was populated. */
static unsigned mmap_recon(int flags)
{
	return (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_LOCKED))
	       ? SHIM_RECON_PAGES : 0;
}

/* PROT_READ/WRITE/EXEC have VM_READ/WRITE/EXEC's values. */
static uint32_t vm_flags_of(int prot, int flags)
{
	return (prot & (RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_EXEC)) |
	       ((flags & MAP_SHARED) ? RMAP_VM_SHARED | RMAP_VM_MAYSHARE : 0);
}

static void *do_mmap(__typeof__(&mmap) real, void *addr, size_t len, int prot,
		     int flags, int fd, off_t off)
{
	struct mmcall c;
	void *r;

	mm_begin(&c, RLOG_OP_MMAP, RMAP_CAUSE_NONE);
	c.vm_flags = vm_flags_of(prot, flags);
	r = real(addr, len, prot, flags, fd, off);
	if (r != MAP_FAILED)
		own_gone(&c, r, len);
	mm_end(&c, r != MAP_FAILED, (uintptr_t)r, page_end(r, len),
	       mmap_recon(flags), (intptr_t)r);
	return r;
}

SHIM_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(REAL(mmap), addr, len, prot, flags, fd, off);
}

SHIM_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(REAL(mmap64), addr, len, prot, flags, fd, off);
}

SHIM_API int munmap(void *addr, size_t len)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_MUNMAP, RMAP_CAUSE_MUNMAP);
	r = REAL(munmap)(addr, len);
	if (r == 0)
		own_gone(&c, addr, len);
	mm_end(&c, r == 0, (uintptr_t)addr, page_end(addr, len), 0, r);
	return r;
}

SHIM_API void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct mmcall c;
	void *want = NULL, *r;
	va_list ap;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		want = va_arg(ap, void *);
	va_end(ap);
	mm_begin(&c, RLOG_OP_MREMAP, RMAP_CAUSE_MREMAP);
	r = REAL(mremap)(old, old_len, new_len, flags, want);
	/* ptes move with the vma: /proc would show an unmap and a new map. */
	if (c.held && r != MAP_FAILED) {
		own_gone(&c, old, old_len);
		own_gone(&c, r, new_len);
		(void)SHIM_RMAP(&c.o, rmap_mremap(shim.arena, shim.mm, (uintptr_t)old,
						  old_len, (uintptr_t)r, new_len));
		(void)shim_reconcile(&c.o, 0, shim.mm, (uintptr_t)old,
				     page_end(old, old_len), SHIM_RECON_PAGES);
	}
	mm_end(&c, r != MAP_FAILED, (uintptr_t)r, page_end(r, new_len),
	       SHIM_RECON_PAGES, (intptr_t)r);
	return r;
}

SHIM_API int mprotect(void *addr, size_t len, int prot)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_MPROTECT, RMAP_CAUSE_NONE);
	c.vm_flags = vm_flags_of(prot, 0);
	r = REAL(mprotect)(addr, len, prot);
	mm_end(&c, r == 0, (uintptr_t)addr, page_end(addr, len), 0, r);
	return r;
}

/* madvise advice that changes vm_flags the maps text does not show. */
static int fork_flags(int advice, uint32_t *set, uint32_t *clear)
{
	*set = *clear = 0;
	switch (advice) {
	case MADV_DONTFORK:
		*set = RMAP_VM_DONTCOPY;
		return 1;
	case MADV_DOFORK:
		*clear = RMAP_VM_DONTCOPY;
		return 1;
	case MADV_WIPEONFORK:
		*set = RMAP_VM_WIPEONFORK;
		return 1;
	case MADV_KEEPONFORK:
		*clear = RMAP_VM_WIPEONFORK;
		return 1;
	}
	return 0;
}

SHIM_API int madvise(void *addr, size_t len, int advice)
{
	struct mmcall c;
	uint32_t set, clear;
	int r, flags_only = fork_flags(advice, &set, &clear);

	mm_begin(&c, RLOG_OP_MADVISE, RMAP_CAUSE_MADVISE);
	r = REAL(madvise)(addr, len, advice);
	if (c.held && r == 0 && flags_only)
		(void)SHIM_RMAP(&c.o, rmap_change_flags(shim.arena, shim.mm, (uintptr_t)addr,
							page_end(addr, len), set, clear));
	mm_end(&c, r == 0 && !flags_only, (uintptr_t)addr, page_end(addr, len),
	       SHIM_RECON_PAGES, r);
	return r;
}

SHIM_API int brk(void *addr)
{
	struct mmcall c;
	uintptr_t old;
	int r;

	mm_begin(&c, RLOG_OP_BRK, RMAP_CAUSE_NONE);
	old = (uintptr_t)REAL(sbrk)(0);
	r = REAL(brk)(addr);
	mm_end(&c, r == 0, old < (uintptr_t)addr ? old : (uintptr_t)addr,
	       page_end((void *)(old > (uintptr_t)addr ? old : (uintptr_t)addr), 0),
	       SHIM_RECON_PAGES, r);
	return r;
}

SHIM_API void *sbrk(intptr_t inc)
{
	struct mmcall c;
	char *r;

	mm_begin(&c, RLOG_OP_BRK, RMAP_CAUSE_NONE);
	r = REAL(sbrk)(inc);
	mm_end(&c, r != (void *)-1 && inc,
	       (uintptr_t)(inc < 0 ? r + inc : r),
	       page_end(inc < 0 ? r : r + inc, 0), SHIM_RECON_PAGES, (intptr_t)r);
	return r;
}

SHIM_API void *shmat(int id, const void *addr, int flags)
{
	struct mmcall c;
	struct shmid_ds ds;
	void *r;
	size_t len = 0;

	mm_begin(&c, RLOG_OP_SHMAT, RMAP_CAUSE_NONE);
	r = REAL(shmat)(id, addr, flags);
	if (r != (void *)-1 && shmctl(id, IPC_STAT, &ds) == 0)
		len = ds.shm_segsz;
	mm_end(&c, r != (void *)-1, (uintptr_t)r, page_end(r, len),
	       SHIM_RECON_PAGES, (intptr_t)r);
	return r;
}

SHIM_API int shmdt(const void *addr)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_SHMDT, RMAP_CAUSE_MUNMAP);
	r = REAL(shmdt)(addr);
	mm_end(&c, r == 0, (uintptr_t)addr, (uintptr_t)addr + 1,
	       SHIM_RECON_EXTEND, r);
	return r;
}

/* mlock populates and sets VM_LOCKED, which the maps text does not show. */
static int lock_range(int r, struct mmcall *c, const void *addr, size_t len,
		      int lock)
{
	if (c->held && r == 0)
		(void)SHIM_RMAP(&c->o, rmap_change_flags(shim.arena, shim.mm, (uintptr_t)addr,
							 page_end(addr, len),
							 lock ? RMAP_VM_LOCKED : 0,
							 lock ? 0 : RMAP_VM_LOCKED));
	mm_end(c, r == 0, (uintptr_t)addr & ~PAGE_MASK_, page_end(addr, len),
	       SHIM_RECON_PAGES, r);
	return r;
}

SHIM_API int mlock(const void *addr, size_t len)
{
	struct mmcall c;

	mm_begin(&c, RLOG_OP_MLOCK, RMAP_CAUSE_NONE);
	return lock_range(REAL(mlock)(addr, len), &c, addr, len, 1);
}

SHIM_API int mlock2(const void *addr, size_t len, unsigned int flags)
{
	struct mmcall c;

	mm_begin(&c, RLOG_OP_MLOCK, RMAP_CAUSE_NONE);
	return lock_range(REAL(mlock2)(addr, len, flags), &c, addr, len, 1);
}

SHIM_API int munlock(const void *addr, size_t len)
{
	struct mmcall c;

	mm_begin(&c, RLOG_OP_MLOCK, RMAP_CAUSE_NONE);
	return lock_range(REAL(munlock)(addr, len), &c, addr, len, 0);
}

/* Whole-mm calls: the pages they populate are picked up from /proc. */
SHIM_API int mlockall(int flags)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_MLOCK, RMAP_CAUSE_NONE);
	r = REAL(mlockall)(flags);
	mm_end(&c, r == 0, SHIM_ALL_LO, SHIM_ALL_HI, SHIM_RECON_PAGES, r);
	return r;
}

SHIM_API int munlockall(void)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_MLOCK, RMAP_CAUSE_NONE);
	r = REAL(munlockall)();
	mm_end(&c, r == 0, 0, 0, 0, r);
	return r;
}

SHIM_API int remap_file_pages(void *addr, size_t size, int prot, size_t pgoff,
			      int flags)
{
	struct mmcall c;
	int r;

	mm_begin(&c, RLOG_OP_REMAP_FILE_PAGES, RMAP_CAUSE_NONE);
	r = REAL(remap_file_pages)(addr, size, prot, pgoff, flags);
	mm_end(&c, r == 0, (uintptr_t)addr, page_end(addr, size),
	       SHIM_RECON_PAGES | SHIM_RECON_EXTEND, r);
	return r;
}

/*
 * dlopen is trampolines.S's: glibc takes the caller's link map (RPATH,
 * $ORIGIN) from dlopen's return address, so no C frame of ours may sit
 * between.  Its mappings are found by shim_enter's dl counter check.
 */
SHIM_API int dlclose(void *h)
{
	int r = REAL(dlclose)(h);
	int err = errno;
	struct mmcall c;

	mm_begin(&c, RLOG_OP_DLCLOSE, RMAP_CAUSE_MUNMAP);
	errno = err;
	mm_end(&c, r == 0, SHIM_ALL_LO, SHIM_ALL_HI, SHIM_RECON_PAGES, r);
	return r;
}

void *shim_dlopen_note(void)
{
	return (void *)REAL(dlopen);
}
