/* SPDX-License-Identifier: MIT */
/*
 * reconcile.c - make the shadow mm say what the kernel says.
 *
 * Most mappings are created behind any preload's back (malloc, ld.so,
 * thread stacks, posix_spawn), so the truth is read from /proc: vmas from
 * <pid>/maps (procmaps.c), ptes from <pid>/pagemap
 * (bit 63 present, bit 56 exclusive, bits 0-54 PFN) and, for frames the
 * shadow has not seen at that address, /proc/kpageflags (anon, zero page).
 * The diff is replayed through rmapcore's mm-level operations:
 *   kernel vma, no shadow vma        -> rmap_mmap_region
 *   shadow vma, no kernel vma        -> rmap_munmap
 *   same vma, other rwx/shared bits  -> rmap_change_flags
 *   present frame, no shadow pte     -> rmap_fault (do_anonymous_page...)
 *   other frame than the shadow's    -> rmap_fault (the core does the COW)
 *   shadow pte, nothing present      -> rmap_zap_page
 * The shim's own files (arena, log, mmsem), its own anonymous memory
 * (shim_own_add) and the kernel's special mappings are never part of the
 * shadow.  Buffers are per process: callers hold mm_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "wtrack.h"

#define MAX_VMAS	16384
#define BATCH		512		/* pagemap entries per read */
#define TRACK_MIN_PAGES	16		/* smaller vmas are read, not tracked */
#define TRACK_MAX_BYTES	(64ull << 30)	/* larger vmas are read (sparse) */
#define READ_GAP	16		/* a tracked chunk's reads bridge shorter gaps */
/*
 * mincore() a window of this many pages at once: per 512-page chunk, a
 * 256 MiB vma took 174 us a pass, in one call 72 (throwaway program).
 */
#define INCORE_PAGES	(16 * BATCH)

#define PM_PRESENT	(1ull << 63)
#define PM_EXCLUSIVE	(1ull << 56)
#define PM_UFFD_WP	(1ull << 57)	/* not written since the last tracked scan */
#define PM_PFN_MASK	((1ull << 55) - 1)
#define PM_FILE		(1ull << 61)	/* a file page, or shared anonymous memory */
#define KPF_NOPAGE	20

/*
 * PAGEMAP_SCAN (Linux 6.7): the present ranges of a span in one ioctl, so
 * the pagemap of sparse vmas (thread stacks, malloc arenas, reservations)
 * is not read page by page; and in a write-tracked vma (wtrack.c) the
 * pages written since the last scan, write-protected again as it walks.
 */
#define SCAN_REGIONS	64

struct scan {
	struct shim_scan_region *r;	/* SCAN_REGIONS of them, in scr */
	int n, i;
	uint64_t known_end;		/* the scan has covered [.., known_end) */
	uint64_t flags, mask;		/* what it asks for */
	int err;			/* errno of a failed scan, else 0 */
};

static int scan_works = 1;		/* cleared once the kernel says ENOTTY */

/* vm_flags the maps text shows; the rest (VM_LOCKED...) is the hooks' to set. */
#define CMP_FLAGS (RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_EXEC | RMAP_VM_SHARED)

struct kvma {
	uint64_t start, end, pgoff;
	uint64_t run_end;		/* end of the run of adjacent vmas it starts */
	uint32_t flags;
	int tracked;			/* write-tracked (wtrack.c): 1 yes, 0 not yet */
	int filled_skip;		/* not read before this fork: fault_filled() */
	struct rmap_file_id file;
};

struct spte {
	uint64_t addr, key;		/* key 0 until read, in a tracked chunk */
	rmap_page_t page;
};

/*
 * The shim's buffers, in a private mapping a fork child gets zero-filled
 * (MADV_WIPEONFORK) rather than in .bss and on the stack: the kernel's
 * fork write-protects every page of those, and the parent then took a
 * copy-on-write fault on each page it wrote next - nine stack and seven
 * .bss faults per fork at 0 MiB, as many as the rest of forkstorm's, and
 * as many COW breaks for the shadow to replay.  Not in the shadow at all
 * (shim_own_add): it is ours, not the workload's, and every pre-fork
 * reconciliation read its 438 pagemap entries and walked its shadow ptes.
 * MADV_WIPEONFORK also keeps it a vma of its own (no merge with the
 * workload's neighbours).  Other files' buffers come from extra[]
 * (shim_scratch_alloc).
 */
#define SCRATCH_EXTRA	(64 << 10)

struct scratch {
	struct kvma kv[MAX_VMAS];
	struct rmap_vma_info sv[MAX_VMAS];
	struct spte sp[BATCH];			/* the chunk's shadow ptes */
	uint64_t pmwin[BATCH];			/* pagemap entries */
	unsigned char incore[INCORE_PAGES];	/* mincore() of tracked chunks */
	/* struct scan's outputs: present, written, and track_now's */
	struct shim_scan_region pr[SCAN_REGIONS], wr[SCAN_REGIONS], track[SCAN_REGIONS];
	/* kv[] entries left by the last pre-fork reconciliation; 0 once any
	 * other reconciliation has reused kv[] (or the pre-fork one failed),
	 * and in a fork child. */
	int nk_prepared;
	struct shim_own theirs;			/* another process's own memory */
	uint64_t extra[SCRATCH_EXTRA / 8] __attribute__((aligned(64)));
	/* Only ever read: its read fault maps the zero page (learn_zero_pfn). */
	char zero_probe[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
};

static struct scratch *scr;
static size_t extra_used;
static uint64_t zero_pfn;		/* the shared zero page, once seen */
static int overflow_said;

/*
 * Mapped once per process image, with raw syscalls: neither our hooks nor
 * the shadow's bookkeeping around them.  Callers hold mm_lock, or are the
 * supervisor's one sampling thread.
 */
static int scratch_map(void)
{
	size_t len = shim_page_up(sizeof(*scr));
	long p;

	if (scr)
		return 0;
	p = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == -1)
		return -errno;
	(void)syscall(SYS_madvise, p, len, MADV_WIPEONFORK);
	shim_own_add((uint64_t)p, (uint64_t)p + len);
	scr = (struct scratch *)p;
	return 0;
}

void *shim_scratch_alloc(size_t bytes)
{
	void *p;

	bytes = (bytes + 63) & ~(size_t)63;
	if (scratch_map() || extra_used + bytes > sizeof(scr->extra))
		return NULL;
	p = (char *)scr->extra + extra_used;
	extra_used += bytes;
	return p;
}

struct recon {
	struct shim_op *o;
	rmap_mm_t mm;
	uint64_t lo, hi;
	struct scan pr;			/* present pages: one scan serves many vmas */
	struct scan wr;			/* written pages of the tracked vma at hand */
	int trust;			/* SHIM_RECON_TRUST and write tracking possible */
	int arm;			/* SHIM_RECON_ARM and write tracking possible */
	int verifying;			/* --verify=full's re-read of a tracked vma */
	int registered;			/* vmas registered: park the fd at the end */
	uint64_t missed;		/* ptes it found that tracking did not flag */
	int nk, ns;
	int kpf_fd;
	int own;			/* our own mm: the section's /proc fds */
	const struct shim_own *hidden;	/* the shim's own memory in that mm */
	struct spte *sp;		/* scr->sp */
	int nsp;
	uint64_t chunk;			/* the chunk's first address */
	uint64_t sbits[BATCH / 64];	/* which of its pages have a shadow pte */
	uint64_t win_lo, win_hi;	/* pagemap entries held in scr->pmwin */
	uint64_t inc_lo, inc_hi;	/* pages whose mincore() scr->incore holds */
};

static void proc_path(char *buf, pid_t pid, const char *leaf)
{
	char *p = buf;

	memcpy(p, "/proc/", 6);
	p += 6;
	if (pid) {
		p = shim_utoa(p, (uint64_t)pid);
	} else {
		memcpy(p, "self", 4);
		p += 4;
	}
	*p++ = '/';
	strcpy(p, leaf);
}

int shim_open_proc(pid_t pid, const char *leaf)
{
	char path[64];

	proc_path(path, pid, leaf);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * In .data.shim_child, next to mm_lock: the page the parent writes after a
 * fork anyway.  The inode is checked at each reuse: another thread of the
 * program may have closed the fd, and its number may name another file now.
 */
static SHIM_CHILD_WRITES struct {
	int fd;
	uint64_t ino;
} proc_files[SHIM_PROC_FILES] = { { -1, 0 }, { -1, 0 }, { -1, 0 } };

int shim_proc_fd(enum shim_proc_file f)
{
	static const char *const path[SHIM_PROC_FILES] = {
		"/proc/self/pagemap", "/proc/kpageflags", "/proc/kpagecount",
	};
	struct stat st;

	if (proc_files[f].fd >= 0 &&
	    (fstat(proc_files[f].fd, &st) || st.st_ino != proc_files[f].ino))
		proc_files[f].fd = -1;	/* not ours any more: never close it */
	if (proc_files[f].fd < 0) {
		int fd = open(path[f], O_RDONLY | O_CLOEXEC);

		/* Without its inode a reuse could not be checked: not kept. */
		if (fd >= 0 && fstat(fd, &st)) {
			close(fd);
			fd = -1;
		}
		proc_files[f].fd = fd;
		proc_files[f].ino = fd >= 0 ? st.st_ino : 0;
	}
	return proc_files[f].fd;
}

void shim_proc_fds_close(void)
{
	for (int f = 0; f < SHIM_PROC_FILES; f++)
		if (proc_files[f].fd >= 0) {
			close(proc_files[f].fd);
			proc_files[f].fd = -1;
		}
}

static int is_shim_file(const struct rmap_file_id *f)
{
	const struct rmap_file_id *ours[] = { &shim.arena_id, &shim.log_id, &shim.mmsem_id };

	for (unsigned i = 0; f->ino && i < sizeof(ours) / sizeof(ours[0]); i++)
		if (f->dev == ours[i]->dev && f->ino == ours[i]->ino)
			return 1;
	return 0;
}

/*
 * The shim's own anonymous memory in this process: the scratch above,
 * libunwind's trace caches (stacks.c) and an explicit checkpoint's key
 * buffer (oracle.c).  Like the shim's files it is not the workload's, so
 * not in its shadow: every fork read the scratch's pagemap and walked its
 * shadow ptes, and copied the trace caches' ptes.  A range is added only
 * when it is mapped, before any reconciliation can have seen it, and only
 * while the list has room: a page in the shadow of one process and not of
 * another that shares it since a fork would be an oracle mismatch, so
 * whatever was shadowed once stays shadowed.  A fork child has the same
 * mappings (the scratch zero-filled), so the inherited list is right for
 * it; in .data.shim_child, the page the parent writes after a fork anyway.
 * The mm's mmsem slot holds a copy for those who reconcile this process on
 * its behalf: updated under the slot, which they take too.
 */
static SHIM_CHILD_WRITES struct shim_own own_mem;

/* Callers hold mm_lock, and the slot of shim.mm if there is one. */
static void own_changed(void)
{
	if (scr)
		scr->nk_prepared = 0;	/* kv[] leaves the old list out */
	if (shim.mm)
		(void)shim_mmsem_publish(shim.mm, shim.pid, &own_mem);
}

/* An oracle's key buffer is not a whole number of pages: whole pages here. */
void shim_own_forget(uint64_t lo, uint64_t hi)
{
	if (shim_own_cut(&own_mem, lo, shim_page_up(hi)))
		own_changed();
}

void shim_own_add(uint64_t start, uint64_t end)
{
	/* A mapping there now: whatever the list had there is gone. */
	int cut = shim_own_cut(&own_mem, start, shim_page_up(end));

	if (shim_own_insert(&own_mem, start, shim_page_up(end)) || cut)
		own_changed();
}

int shim_own_publish(rmap_mm_t mm, pid_t pid)
{
	return shim_mmsem_publish(mm, pid, &own_mem);
}

/* [start, end) of @v as one kernel vma for the diff. */
static void add_piece(struct recon *r, const struct shim_maps_vma *v, uint64_t start,
		      uint64_t end)
{
	struct kvma *k;
	uint32_t f = v->prot;

	if (r->nk == MAX_VMAS) {
		if (!overflow_said++)
			shim_say("rmapshim: more than 16384 vmas; the rest are not shadowed");
		return;
	}
	if (f & RMAP_VM_SHARED)
		f |= RMAP_VM_MAYSHARE | (f & RMAP_VM_WRITE ? RMAP_VM_MAYWRITE : 0);
	else
		f |= RMAP_VM_MAYWRITE;
	if (v->stack)
		f |= RMAP_VM_GROWSDOWN;
	/* The kernel's boundaries, even where /proc shows no reason for them. */
	if (v->file.ino)
		f |= RMAP_VM_NOMERGE;
	k = &scr->kv[r->nk++];
	k->file = v->file;
	k->start = start;
	k->end = end;
	k->pgoff = (v->file.ino ? v->offset + (start - v->start) : start) >> PAGE_SHIFT;
	k->flags = f;
	k->tracked = 0;
	k->filled_skip = 0;
}

/*
 * One kernel vma, kept for the diff less the shim's files and own memory
 * (sorted ranges; a neighbour the kernel merged with one keeps the rest).
 */
static void add_kvma(void *ctx, const struct shim_maps_vma *v)
{
	struct recon *r = ctx;
	const struct shim_own *h = r->hidden;
	uint64_t at = v->start;

	if (is_shim_file(&v->file))
		return;
	for (uint32_t i = 0; i < h->n && at < v->end; i++) {
		if (h->r[i].end <= at || h->r[i].start >= v->end)
			continue;
		if (h->r[i].start > at)
			add_piece(r, v, at, h->r[i].start);
		if (h->r[i].end > at)
			at = h->r[i].end;
	}
	if (at < v->end)
		add_piece(r, v, at, v->end);
}

static void collect_vma(void *ctx, const struct rmap_vma_info *v)
{
	struct recon *r = ctx;

	if (v->end <= r->lo || v->start >= r->hi || r->ns == MAX_VMAS)
		return;
	scr->sv[r->ns++] = *v;
}

static int same_file(const struct rmap_file_id *a, const struct rmap_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Covering entry of @addr in a sorted vma array, advancing *i. */
#define COVER(arr, n, i, addr) __extension__ ({				\
	while (*(i) < (n) && (arr)[*(i)].end <= (addr))			\
		(*(i))++;						\
	(*(i) < (n) && (arr)[*(i)].start <= (addr)) ? &(arr)[*(i)] : NULL; })

static uint64_t next_edge(uint64_t p, uint64_t hi, const struct kvma *k,
			  const struct rmap_vma_info *s, int ki, int nk,
			  int si, int ns)
{
	uint64_t e = hi;

	if (k)
		e = k->end < e ? k->end : e;
	else if (ki < nk && scr->kv[ki].start < e)
		e = scr->kv[ki].start;
	if (s)
		e = s->end < e ? s->end : e;
	else if (si < ns && scr->sv[si].start < e)
		e = scr->sv[si].start;
	return e > p ? e : hi;
}

static uint64_t file_pgoff(const struct kvma *k, uint64_t at)
{
	return k->pgoff + ((at - k->start) >> PAGE_SHIFT);
}

/* One piece [p, q) where the kernel vma @k and shadow vma @s are constant. */
static void diff_piece(struct recon *r, uint64_t p, uint64_t q,
		       const struct kvma *k, const struct rmap_vma_info *s)
{
	struct shim_op *o = r->o;
	struct rmap_arena *a = shim.arena;
	enum rmap_cause gone = o->cause == RMAP_CAUSE_MREMAP ? RMAP_CAUSE_MREMAP
							     : RMAP_CAUSE_MUNMAP;

	if (!k && s) {
		(void)SHIM_RMAP(o, rmap_munmap(a, r->mm, p, q, gone));
		return;
	}
	if (!k)
		return;
	if (s && same_file(&k->file, &s->file) &&
	    (!k->file.ino || s->pgoff + ((p - s->start) >> PAGE_SHIFT) == file_pgoff(k, p))) {
		uint32_t set = k->flags & CMP_FLAGS & ~s->flags;
		uint32_t clear = s->flags & CMP_FLAGS & ~k->flags;

		if (set || clear)
			(void)SHIM_RMAP(o, rmap_change_flags(a, r->mm, p, q, set, clear));
		return;
	}
	(void)SHIM_RMAP(o, rmap_mmap_region(a, r->mm, p, q, k->flags,
					    k->file.ino ? file_pgoff(k, p) : p >> PAGE_SHIFT,
					    k->file.ino ? &k->file : NULL));
}

static void diff_vmas(struct recon *r)
{
	int ki = 0, si = 0;
	uint64_t p = r->lo;

	while (p < r->hi && (ki < r->nk || si < r->ns)) {
		const struct kvma *k = COVER(scr->kv, r->nk, &ki, p);
		const struct rmap_vma_info *s = COVER(scr->sv, r->ns, &si, p);
		uint64_t q = next_edge(p, r->hi, k, s, ki, r->nk, si, r->ns);

		if (k || s)
			diff_piece(r, p, q, k, s);
		p = q;
	}
}

static void collect_pte(void *ctx, uint64_t addr, const struct rmap_pte_info *pte)
{
	struct recon *r = ctx;

	if (pte->kind == RMAP_PTE_PRESENT && r->nsp < BATCH) {
		size_t i = (addr - r->chunk) >> PAGE_SHIFT;

		r->sp[r->nsp].addr = addr;
		r->sp[r->nsp].key = pte->key;
		r->sp[r->nsp].page = pte->page;
		r->sbits[i / 64] |= 1ull << (i % 64);
		r->nsp++;
	}
}

static int64_t kpageflags(struct recon *r, uint64_t pfn)
{
	uint64_t v;

	if (r->kpf_fd < 0)
		r->kpf_fd = r->own ? shim_proc_fd(SHIM_PROC_KPAGEFLAGS)
				       : open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (r->kpf_fd < 0 || pread(r->kpf_fd, &v, 8, pfn * 8) != 8)
		return -1;
	return (int64_t)v;
}

/*
 * The zero page's PFN, from a page of our own that is only ever read, once
 * per process image (the first own reconciliation to meet a new page).
 */
static void learn_zero_pfn(struct recon *r)
{
	static int tried;
	uint64_t pm, addr;
	int64_t kf;
	int fd;

	if (tried || zero_pfn || !r->own || !scr)
		return;
	tried = 1;
	addr = (uintptr_t)scr->zero_probe;
	(void)*(volatile const char *)scr->zero_probe;
	fd = shim_proc_fd(SHIM_PROC_PAGEMAP);
	if (fd < 0 || pread(fd, &pm, 8, (off_t)((addr >> PAGE_SHIFT) * 8)) != 8 ||
	    !(pm & PM_PRESENT) || !(pm & PM_PFN_MASK))
		return;
	kf = kpageflags(r, pm & PM_PFN_MASK);
	if (kf >= 0 && (kf & (1ll << KPF_ZERO_PAGE)))
		zero_pfn = pm & PM_PFN_MASK;
}

/*
 * The frame now mapped at @addr, new to the shadow there.  1 if it is no
 * page to count after all: the zero page (its PFN learnt here, the first
 * time it is met) or a PFN with no struct page.  In an anonymous vma a
 * page the pagemap does not call a file page is an anonymous one (no
 * device memory there) unless it is the zero page: once that is known,
 * such pages cost no kpageflags read - a syscall a new page, 65,536 of
 * them to fill 256 MiB, and the two or three a fork's copy-on-write
 * breaks bring.
 */
static int fault_in(struct recon *r, const struct kvma *k, uint64_t addr,
		    uint64_t pm)
{
	uint64_t pfn = pm & PM_PFN_MASK;
	unsigned ff = 0;
	int64_t kf;

	learn_zero_pfn(r);
	if (!k->file.ino && !(pm & PM_FILE) && zero_pfn && pfn != zero_pfn)
		kf = 1ll << KPF_ANON;
	else
		kf = kpageflags(r, pfn);

	/* The zero page is PG_reserved: the kernel never counts it. */
	if (kf >= 0 && (kf & ((1ll << KPF_ZERO_PAGE) | (1ll << KPF_NOPAGE)))) {
		if (kf & (1ll << KPF_ZERO_PAGE))
			zero_pfn = pfn;
		return 1;
	}
	if (kf >= 0 && (kf & (1ll << KPF_ANON)))
		ff |= RMAP_FAULT_ANON;
	if ((pm & PM_EXCLUSIVE) && (k->flags & RMAP_VM_WRITE))
		ff |= RMAP_FAULT_WRITE;
	if (SHIM_RMAP(r->o, rmap_fault(shim.arena, r->mm, addr, pfn, ff)) == 0)
		r->o->pages++;
	return 0;
}

static void scan_from(struct scan *p, int pm_fd, uint64_t start, uint64_t end)
{
	struct shim_scan_arg a = {
		.size = sizeof(a), .flags = p->flags, .start = start, .end = end,
		.vec = (uintptr_t)p->r, .vec_len = SCAN_REGIONS,
		.category_mask = p->mask, .return_mask = p->mask,
	};
	long n = scan_works ? ioctl(pm_fd, SHIM_SCAN_IOCTL, &a) : -1;

	p->err = n < 0 ? (scan_works ? errno : ENOTTY) : 0;
	if (n < 0) {
		if (p->err == ENOTTY)
			scan_works = 0;	/* older kernel: read() the pagemap from now on */
		p->n = p->i = 0;
		p->known_end = start;	/* nothing known: read the pagemap */
		return;
	}
	p->n = (int)n;
	p->i = 0;
	p->known_end = a.walk_end > start ? a.walk_end : start;
}

/*
 * May [cs, ce) hold a present page?  Rescans past what is known, up to
 * @hi, the end of the vma: a scan running on would walk the ptes of the
 * next vmas, whose chunks the shadow maps are read without asking (and
 * the arena's, hundreds of pages, which are never read).
 */
static int maybe_present(struct scan *p, int pm_fd, uint64_t cs, uint64_t ce,
			 uint64_t hi)
{
	if (cs >= p->known_end)
		scan_from(p, pm_fd, cs, hi);
	while (p->i < p->n && p->r[p->i].end <= cs)
		p->i++;
	return (p->i < p->n && p->r[p->i].start < ce) || ce > p->known_end;
}

/*
 * The pagemap entries of [cs, ce).  One read runs on to @run_end, the end
 * of the run of adjacent vmas (within BATCH pages), so the segments of a
 * library or a malloc arena cost one pread, not one each.
 */
static const uint64_t *pagemap_window(struct recon *r, int pm_fd, uint64_t cs,
				      uint64_t ce, uint64_t run_end)
{
	uint64_t hi = cs + BATCH * PAGE_SIZE;
	size_t bytes;

	if (cs >= r->win_lo && ce <= r->win_hi)
		return scr->pmwin + ((cs - r->win_lo) >> PAGE_SHIFT);
	if (run_end > r->hi)
		run_end = r->hi;
	if (run_end < hi)
		hi = run_end > ce ? run_end : ce;
	bytes = ((hi - cs) >> PAGE_SHIFT) * 8;
	r->win_lo = r->win_hi = 0;
	if (pread(pm_fd, scr->pmwin, bytes, (cs >> PAGE_SHIFT) * 8) != (ssize_t)bytes)
		return NULL;
	r->win_lo = cs;
	r->win_hi = hi;
	return scr->pmwin;
}

static void first_pte(void *ctx, uint64_t addr, const struct rmap_pte_info *pte)
{
	uint64_t *first = ctx;

	(void)pte;
	if (addr < *first)
		*first = addr;
}

/*
 * After a chunk empty on both sides, where either side may next have a
 * page: the kernel's next present region (the scan), or the shadow's first
 * pte before it.  Huge, sparse reservations (a sanitizer's shadow memory,
 * terabytes) are then crossed in a few steps, not 2 MiB at a time.
 */
static uint64_t next_busy(struct recon *r, const struct scan *p, uint64_t from,
			  uint64_t hi)
{
	uint64_t kn = p->i < p->n ? p->r[p->i].start : p->known_end;

	if (kn <= from)
		return from;
	if (kn > hi)
		kn = hi;
	rmap_walk_ptes(shim.arena, r->mm, from, kn, first_pte, &kn);
	return kn;
}

/* One pte: the pagemap entry @pm at @addr against the shadow's pte @s. */
static void diff_pte(struct recon *r, const struct kvma *k, uint64_t addr,
		     uint64_t pm, const struct spte *s, enum rmap_cause zap)
{
	int kp = (pm & PM_PRESENT) && (pm & PM_PFN_MASK) &&
		 (pm & PM_PFN_MASK) != zero_pfn;

	/*
	 * A change still write-protected is one the tracked pass missed; one
	 * written since was made by another thread meanwhile.
	 */
	if ((kp && (!s || s->key != (pm & PM_PFN_MASK))) || (!kp && s))
		r->missed += r->verifying && (pm & PM_UFFD_WP);
	/* A zero page met first where the shadow has a page: that one is gone. */
	if (kp && (!s || s->key != (pm & PM_PFN_MASK)))
		kp = !fault_in(r, k, addr, pm);
	if (!kp && s &&
	    SHIM_RMAP(r->o, rmap_zap_page(shim.arena, r->mm, addr, zap)) == 0)
		r->o->pages++;
}

/*
 * The shadow's present pte at @addr, looked up alone into *@sp, or NULL:
 * a write-tracked pass needs the ptes of its few changed pages only.
 */
static const struct spte *shadow_pte(struct recon *r, uint64_t addr, struct spte *sp)
{
	struct rmap_pte_info pi;

	if (rmap_pte_get(shim.arena, r->mm, addr, &pi) || pi.kind != RMAP_PTE_PRESENT)
		return NULL;
	sp->addr = addr;
	sp->key = pi.key;
	sp->page = pi.page;
	return sp;
}

/* The shadow pte at @addr, if any; *j walks r->sp in address order. */
static const struct spte *spte_at(struct recon *r, int *j, uint64_t addr)
{
	while (*j < r->nsp && r->sp[*j].addr < addr)
		(*j)++;
	return *j < r->nsp && r->sp[*j].addr == addr ? &r->sp[*j] : NULL;
}

/*
 * Mark in @bits the pages of [cs, ce) written since the last
 * write-protecting scan (protected again if @w asks for it); 1 if any, -1
 * if the scan failed.  It runs on to @hi, the vma's end, SCAN_REGIONS at
 * a time.
 */
static int scan_bits(struct scan *w, int pm_fd, uint64_t cs, uint64_t ce,
		     uint64_t hi, uint64_t *bits)
{
	uint64_t base = cs;
	int any = 0;

	memset(bits, 0, BATCH / 8);
	for (;;) {
		if (cs >= w->known_end) {
			scan_from(w, pm_fd, cs, hi);
			if (w->err || w->known_end <= cs)
				return -1;
		}
		while (w->i < w->n && w->r[w->i].end <= cs)
			w->i++;
		for (int x = w->i; x < w->n && w->r[x].start < ce; x++) {
			uint64_t a = w->r[x].start > cs ? w->r[x].start : cs;
			uint64_t b = w->r[x].end < ce ? w->r[x].end : ce;

			for (; a < b; a += PAGE_SIZE) {
				size_t i = (a - base) >> PAGE_SHIFT;

				bits[i / 64] |= 1ull << (i % 64);
			}
			any = 1;
		}
		if (ce <= w->known_end)
			return any;
		cs = w->known_end;
	}
}

/* Widen [*first, *last] to the set bits of @word, the @w-th of a chunk's bitmap. */
static void bits_span(uint64_t word, size_t w, size_t *first, size_t *last, size_t none)
{
	if (!word)
		return;
	if (*first == none)
		*first = w * 64 + (size_t)__builtin_ctzll(word);
	*last = w * 64 + 63 - (size_t)__builtin_clzll(word);
}

/*
 * mincore()'s bytes for up to 64 pages (bit 0: resident) as a bitmap word,
 * eight at a time (a multiply gathers each byte's low bit): a byte at a
 * time, the loop was a fifth of a 256 MiB pre-fork reconciliation.
 */
static uint64_t incore_bits(const unsigned char *v, size_t n)
{
	uint64_t bits = 0;

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = 0;

		memcpy(&x, v + i, n - i < 8 ? n - i : 8);
		bits |= (((x & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56) << i;
	}
	return bits;
}

/*
 * mincore() of [cs, ce), a chunk of @k (which ends by the vma's end): read
 * a window ahead, up to that end; NULL if mincore() failed (the vma
 * changed under us).
 */
static const unsigned char *incore_window(struct recon *r, const struct kvma *k,
					  uint64_t cs, uint64_t ce)
{
	uint64_t hi = cs + INCORE_PAGES * PAGE_SIZE < k->end ? cs + INCORE_PAGES * PAGE_SIZE
							     : k->end;

	if (cs < r->inc_lo || ce > r->inc_hi) {
		r->inc_lo = r->inc_hi = 0;
		if (mincore((void *)(uintptr_t)cs, hi - cs, scr->incore))
			return NULL;
		r->inc_lo = cs;
		r->inc_hi = hi;
	}
	return scr->incore + ((cs - r->inc_lo) >> PAGE_SHIFT);
}

/*
 * A chunk of a write-tracked vma, 64 pages at a time.  A page still there
 * and not written keeps the frame the shadow has; the pagemap is read only
 * for written pages and for present ones the shadow lacks (mincore() tells
 * which are there), and only their shadow ptes are read: of the rest, the
 * shadow's presence bitmap (rmap_pte_bitmap) is enough.  With no shadow
 * pte in the chunk only a written page can be new: a fault after a zap
 * writes, or maps the zero page flagged as written.  0, or -1 to read the
 * chunk the usual way (a vma changed under us).
 */
static int tracked_chunk(struct recon *r, int pm_fd, const struct kvma *k,
			 uint64_t cs, uint64_t ce, const uint64_t *wbits,
			 enum rmap_cause zap)
{
	size_t n = (ce - cs) >> PAGE_SHIFT, words = (n + 63) / 64, first = n, last = 0;
	uint64_t need[BATCH / 64];
	const unsigned char *incore = r->nsp ? incore_window(r, k, cs, ce) : NULL;

	if (r->nsp && !incore)
		return -1;
	for (size_t w = 0; w < words; w++) {
		uint64_t there = wbits[w], gone;

		if (r->nsp)
			there = incore_bits(incore + w * 64, n - w * 64);
		need[w] = there & (wbits[w] | ~r->sbits[w]);
		gone = r->sbits[w] & ~there;
		bits_span(need[w], w, &first, &last, n);
		for (; gone; gone &= gone - 1) {
			uint64_t addr = cs + ((w * 64 + (size_t)__builtin_ctzll(gone)) << PAGE_SHIFT);

			if (SHIM_RMAP(r->o, rmap_zap_page(shim.arena, r->mm, addr, zap)) == 0)
				r->o->pages++;
		}
	}
	/* One pread per run of needed pages, gaps under READ_GAP included. */
	r->win_lo = r->win_hi = 0;
	for (size_t i = first, end; i <= last; i = end) {
		size_t bytes;

		for (end = i + 1; end <= last; end++)
			if (((need[end / 64] >> (end % 64)) & 1) == 0) {
				size_t gap = end;

				while (gap <= last && !((need[gap / 64] >> (gap % 64)) & 1))
					gap++;
				if (gap > last || gap - end >= READ_GAP)
					break;
				end = gap;
			}
		bytes = (end - i) * 8;
		if (pread(pm_fd, scr->pmwin, bytes, (((cs >> PAGE_SHIFT) + i) * 8)) != (ssize_t)bytes)
			return -1;
		for (size_t x = i; x < end; x++) {
			uint64_t addr = cs + (x << PAGE_SHIFT);
			struct spte sp;

			if (!((need[x / 64] >> (x % 64)) & 1))
				continue;
			diff_pte(r, k, addr, scr->pmwin[x - i],
				 (r->sbits[x / 64] >> (x % 64)) & 1 ? shadow_pte(r, addr, &sp) : NULL,
				 zap);
		}
		while (end <= last && !((need[end / 64] >> (end % 64)) & 1))
			end++;
	}
	return 0;
}

/*
 * May @k be write-tracked?  Private, anonymous, writable, not tiny and
 * not a huge reservation: a sanitizer's shadow memory (terabytes, written
 * all the time) made every write-protecting scan crawl (ASan forkstorm:
 * 70% of its time in change_pte_range).  Not file-backed: truncation and
 * reclaim replace file pages without a write, and tracking read-only text
 * instead (a PAGEMAP_SCAN for present pages, 10 ns a page of the vma)
 * measured slower at 0 MiB than reading its pagemap (shim-phases prepare
 * 1.23-1.47 kernel forks with it, 1.01-1.30 without).  Not the process
 * stack: every call between two forks writes it, so each fork paid a
 * scan, a write-protect and a fault per page written for a vma of a few
 * present pages, which one pread reads.
 */
static int trackable(const struct kvma *k)
{
	uint64_t len = k->end - k->start;

	return !k->file.ino && len >= TRACK_MIN_PAGES * PAGE_SIZE && len <= TRACK_MAX_BYTES &&
	       (k->flags & (RMAP_VM_SHARED | RMAP_VM_WRITE | RMAP_VM_GROWSDOWN)) == RMAP_VM_WRITE;
}

/*
 * Register @k and write-protect it before it is read in full: from then
 * on writes are seen, also those of other threads before the fork, which
 * shim_reconcile_forked looks for.  1 if it is tracked now.
 */
static int track_now(struct recon *r, int pm_fd, const struct kvma *k)
{
	struct scan p = { .r = scr->track,
			  .flags = SHIM_SCAN_WP_MATCHING | SHIM_SCAN_CHECK_WPASYNC,
			  .mask = SHIM_PAGE_IS_WRITTEN };

	if (shim_wtrack_register(k->start, k->end))
		return 0;
	r->registered = 1;
	for (uint64_t at = k->start; at < k->end; at = p.known_end) {
		scan_from(&p, pm_fd, at, k->end);
		if (p.err || p.known_end <= at)
			return 0;
	}
	return 1;
}

static void diff_pages(struct recon *r, int pm_fd, struct kvma *k, int tracked)
{
	uint64_t lo = k->start > r->lo ? k->start : r->lo;
	uint64_t hi = k->end < r->hi ? k->end : r->hi;
	const uint64_t *pm;
	enum rmap_cause zap = r->o->cause == RMAP_CAUSE_NONE ? RMAP_CAUSE_MADVISE
							     : r->o->cause;
	uint64_t wbits[BATCH / 64];

	if (tracked)
		r->wr.known_end = lo;
	for (uint64_t cs = lo, ce; cs < hi; cs = ce) {
		size_t n;
		int j = 0, w = 0;

		ce = cs + BATCH * PAGE_SIZE < hi ? cs + BATCH * PAGE_SIZE : hi;
		n = (ce - cs) >> PAGE_SHIFT;
		r->nsp = 0;
		r->chunk = cs;
		if (tracked) {
			/* Which pages the shadow has; their ptes only where needed. */
			long np = rmap_pte_bitmap(shim.arena, r->mm, cs, ce, r->sbits);

			r->nsp = np > 0 ? (int)np : 0;
			w = scan_bits(&r->wr, pm_fd, cs, ce, hi, wbits);
			/* Not registered (a new vma): register it, then read it all. */
			if (w < 0 && r->wr.err == EPERM && cs == lo) {
				k->tracked = track_now(r, pm_fd, k);
				tracked = 0;
			}
		}
		if (tracked && w >= 0) {
			if (!r->nsp && !w) {
				ce = next_busy(r, &r->wr, ce, hi);
				continue;
			}
			if (!tracked_chunk(r, pm_fd, k, cs, ce, wbits, zap))
				continue;
		}
		/* Untracked, not tracked after all, or given up (a vma changed under us). */
		r->nsp = 0;
		memset(r->sbits, 0, sizeof(r->sbits));
		rmap_walk_ptes(shim.arena, r->mm, cs, ce, collect_pte, r);
		/*
		 * Where the shadow has ptes the pagemap is read anyway (which of
		 * them are still there?): the scan only spares reading chunks
		 * that are empty on both sides.
		 */
		if (!tracked && !r->nsp && !maybe_present(&r->pr, pm_fd, cs, ce, hi)) {
			ce = next_busy(r, &r->pr, ce, hi);
			continue;
		}
		pm = pagemap_window(r, pm_fd, cs, ce, k->run_end);
		if (!pm)
			return;
		for (size_t i = 0; i < n; i++) {
			uint64_t addr = cs + (i << PAGE_SHIFT);

			diff_pte(r, k, addr, pm[i], spte_at(r, &j, addr), zap);
		}
	}
}

/*
 * --verify=full checks the tracking itself: after the tracked pass, a
 * full read of the same vma must find nothing to change in a page still
 * write-protected (one the kernel moved without a write, or a bug).
 */
static void diff_tracked(struct recon *r, int pm_fd, struct kvma *k)
{
	k->tracked = 1;
	diff_pages(r, pm_fd, k, 1);
	if (!k->tracked || shim.cfg.verify != SHIM_VERIFY_FULL)
		return;
	r->verifying = 1;
	diff_pages(r, pm_fd, k, 0);
	r->verifying = 0;
}

/*
 * Library text and read-only data, shared files: vmas the kernel's fork
 * does not copy (no anon_vma, vma_needs_copy()) and the shadow's does not
 * either (RMAP_DUP_FAULT_FILLS).  A pre-fork reconciliation must get right
 * what the dup copies; these it reads at most once per FILLED_PERIOD_NS,
 * not at every fork (libc's and ld.so's ptes were 540 of forkstorm's 600
 * pagemap entries a fork).  Their faults and zaps in between reach the
 * shadow that much later (or at any other reconciliation); the fork and
 * the child's shadow are the same either way.  Only a vma the shadow had
 * before, unchanged and without an anon_vma, is skipped: a private
 * read-only vma gets anonymous pages only through an mprotect (then it
 * changed) or a FOLL_FORCE write (a debugger's).
 */
#define FILLED_PERIOD_NS	(10 * 1000000ull)

static uint64_t filled_read_ns;		/* the last pre-fork read of them */

static int fault_filled(const struct recon *r, const struct kvma *k, int *si)
{
	const struct rmap_vma_info *s;

	if (!k->file.ino || (k->flags & (RMAP_VM_SHARED | RMAP_VM_WRITE)) == RMAP_VM_WRITE)
		return 0;
	s = COVER(scr->sv, r->ns, si, k->start);
	return s && !s->anon_vma && s->start == k->start && s->end == k->end &&
	       same_file(&s->file, &k->file) && s->pgoff == k->pgoff &&
	       (s->flags & CMP_FLAGS) == (k->flags & CMP_FLAGS);
}

/* Hand the fd to the supervisor if vmas were registered; say what was missed. */
static void finish_tracking(struct recon *r)
{
	char msg[96] = "write tracking missed ";

	if (r->registered)
		shim_wtrack_park();
	if (r->missed) {
		strcpy(shim_utoa(msg + strlen(msg), r->missed),
		       " ptes (found by the --verify=full re-read)");
		rlog_note(shim.log, shim.pid, RLOG_NOTE_WARN, msg);
	}
}

/* The scratch's buffers, one set per process (callers hold mm_lock). */
static void recon_buffers(struct recon *r)
{
	r->sp = scr->sp;
	r->pr.r = scr->pr;
	r->wr.r = scr->wr;
}

int shim_reconcile(struct shim_op *o, pid_t pid, rmap_mm_t mm, uint64_t lo,
		   uint64_t hi, unsigned flags)
{
	struct recon r = { .o = o, .mm = mm, .lo = lo & ~(PAGE_SIZE - 1),
			   .hi = hi, .kpf_fd = -1, .own = !pid, .hidden = &own_mem,
			   .pr = { .mask = SHIM_PAGE_IS_PRESENT },
			   .wr = { .flags = SHIM_SCAN_WP_MATCHING | SHIM_SCAN_CHECK_WPASYNC,
				   .mask = SHIM_PAGE_IS_WRITTEN },
			   .trust = (flags & SHIM_RECON_TRUST) && !pid &&
				    shim_wtrack_possible(),
			   .arm = (flags & SHIM_RECON_ARM) && !pid && shim_wtrack_possible() };
	int err, pm_fd, skip_filled, same;

	if (!mm)
		return -EINVAL;
	if (!pid)
		shim.reconciled = 1;
	if ((err = scratch_map()))
		return err;
	/*
	 * Another process's own memory as it published it, under its slot.
	 * Not published yet (a fork child its parent is still copying, a new
	 * image before its first reconciliation): the same as a busy slot.
	 */
	if (pid) {
		if (shim_mmsem_published(mm, pid, &scr->theirs))
			return -EAGAIN;
		r.hidden = &scr->theirs;
	}
	recon_buffers(&r);
	/*
	 * Before a fork, the vmas the last one read, if none can have changed
	 * since (vmawatch.c): the kernel's are as they were, and the shadow's
	 * were made the same then.
	 */
	same = r.trust && shim_vmawatch_unchanged() && scr->nk_prepared;
	if (same)
		r.nk = scr->nk_prepared;
	scr->nk_prepared = 0;
	rmap_walk_vmas(shim.arena, mm, collect_vma, &r);
	if ((flags & SHIM_RECON_EXTEND) && r.ns) {
		r.lo = scr->sv[0].start < r.lo ? scr->sv[0].start : r.lo;
		r.hi = scr->sv[r.ns - 1].end > r.hi ? scr->sv[r.ns - 1].end : r.hi;
	}
	if (!same) {
		err = shim_read_maps(pid, r.lo, r.hi, add_kvma, &r);
		if (err)
			return err;
		/* Another process with no vma at all is a zombie: the supervisor reaps it. */
		if (pid && !r.nk)
			return -ESRCH;
		diff_vmas(&r);
	}
	for (int i = 0; same && i < r.nk; i++)
		scr->kv[i].tracked = scr->kv[i].filled_skip = 0;
	if (!(flags & SHIM_RECON_PAGES))
		return 0;
	pm_fd = pid ? shim_open_proc(pid, "pagemap") : shim_proc_fd(SHIM_PROC_PAGEMAP);
	if (pm_fd < 0)
		return -errno;
	r.pr.known_end = r.lo;
	skip_filled = r.trust && shim.cfg.verify != SHIM_VERIFY_FULL &&
		      rlog_now_ns() - filled_read_ns < FILLED_PERIOD_NS;
	for (int i = 0, si = 0; skip_filled && i < r.nk; i++)
		scr->kv[i].filled_skip = fault_filled(&r, &scr->kv[i], &si);
	/* A run of adjacent vmas read in one go stops where tracking takes over. */
	for (int i = r.nk; i-- > 0;)
		scr->kv[i].run_end = i + 1 < r.nk && scr->kv[i + 1].start == scr->kv[i].end &&
				!((r.trust || r.arm) && trackable(&scr->kv[i + 1])) &&
				!scr->kv[i + 1].filled_skip
				? scr->kv[i + 1].run_end : scr->kv[i].end;
	for (int i = 0; i < r.nk; i++) {
		if (scr->kv[i].filled_skip)
			continue;
		if (r.trust && trackable(&scr->kv[i])) {
			diff_tracked(&r, pm_fd, &scr->kv[i]);
			continue;
		}
		/* Registered (again) before the full read, as track_now says. */
		if (r.arm && trackable(&scr->kv[i]))
			(void)track_now(&r, pm_fd, &scr->kv[i]);
		diff_pages(&r, pm_fd, &scr->kv[i], 0);
	}
	if (r.trust || r.arm)
		finish_tracking(&r);
	if (r.trust) {
		scr->nk_prepared = r.nk;
		if (!skip_filled)
			filled_read_ns = rlog_now_ns();
	}
	if (pid) {
		close(pm_fd);
		if (r.kpf_fd >= 0)
			close(r.kpf_fd);
	}
	return 0;
}

/*
 * Other threads keep running between the pre-fork reconciliation and the
 * kernel's fork: a page one of them wrote meanwhile (a COW break, a fault
 * after a zap) went to the child with its new frame, while the shadow
 * still has the old one and the dup would copy that.  Right after the
 * fork, before the dup, the tracked vmas are asked which pages were
 * written since the prepare's scan (without write-protecting them: the
 * next fork's scan must still see them); where the frame now differs from
 * the shadow's, the child's pagemap tells whether the change came before
 * the fork (the child has it too: the parent's shadow takes it now) or
 * after (the child has the old frame: left to the parent's next
 * reconciliation).  A no-op without write tracking, and not called in a
 * single-threaded process (shim_fork_parent); scr->kv[] still holds the
 * prepare's vmas (mm_lock has been held since).
 */
void shim_reconcile_forked(struct shim_op *o, pid_t child)
{
	struct recon r = { .o = o, .mm = shim.mm, .lo = 0, .hi = SHIM_ALL_HI, .kpf_fd = -1,
			   .own = 1,
			   .wr = { .mask = SHIM_PAGE_IS_WRITTEN } };
	int pm_fd = -1, child_fd = -1;
	uint64_t wbits[BATCH / 64];

	if (!scr)
		return;
	recon_buffers(&r);
	for (int i = 0; i < scr->nk_prepared; i++) {
		struct kvma *k = &scr->kv[i];

		if (k->tracked != 1)
			continue;
		if (pm_fd < 0 && (pm_fd = shim_proc_fd(SHIM_PROC_PAGEMAP)) < 0)
			return;
		r.wr.known_end = k->start;
		for (uint64_t cs = k->start, ce; cs < k->end; cs = ce) {
			size_t first = BATCH, last = 0, bytes;

			ce = cs + BATCH * PAGE_SIZE < k->end ? cs + BATCH * PAGE_SIZE : k->end;
			if (scan_bits(&r.wr, pm_fd, cs, ce, k->end, wbits) <= 0)
				continue;
			for (size_t w = 0; w < BATCH / 64; w++)
				bits_span(wbits[w], w, &first, &last, BATCH);
			/* One read of the chunk's written span, not one per page. */
			bytes = (last + 1 - first) * 8;
			if (pread(pm_fd, scr->pmwin, bytes, (off_t)(((cs >> PAGE_SHIFT) + first) * 8)) !=
			    (ssize_t)bytes)
				continue;
			for (size_t w = 0; w < BATCH / 64; w++)
				for (uint64_t b = wbits[w]; b; b &= b - 1) {
					size_t x = w * 64 + (size_t)__builtin_ctzll(b);
					uint64_t addr = cs + (x << PAGE_SHIFT), now = scr->pmwin[x - first], then = 0;
					struct spte one;
					const struct spte *sp = shadow_pte(&r, addr, &one);
					off_t off = (off_t)((addr >> PAGE_SHIFT) * 8);

					if ((now & PM_PRESENT) ? sp && sp->key == (now & PM_PFN_MASK) : !sp)
						continue;
					/*
					 * Ours alone: a COW break since the fork (our own
					 * stack, mostly), not a frame the child got.  The
					 * child still maps what it got: it exits only once
					 * the dup below has given it an mm.
					 */
					if ((now & (PM_PRESENT | PM_EXCLUSIVE)) == (PM_PRESENT | PM_EXCLUSIVE))
						continue;
					if (child_fd < 0 && (child_fd = shim_open_proc(child, "pagemap")) < 0)
						goto out;
					if (pread(child_fd, &then, 8, off) != 8 ||
					    (then ^ now) & (PM_PRESENT | PM_PFN_MASK))
						continue;	/* after the fork: not the child's */
					diff_pte(&r, k, addr, now, sp, RMAP_CAUSE_FORK);
				}
		}
	}
out:
	if (child_fd >= 0)
		close(child_fd);
}

int shim_pfn_access(void)
{
	volatile uint64_t probe = 1;
	uint64_t e = 0;
	int fd = shim_open_proc(0, "pagemap");

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, ((uintptr_t)&probe >> PAGE_SHIFT) * 8) != 8)
		e = 0;
	close(fd);
	return (e & PM_PRESENT) && (e & PM_PFN_MASK);
}
