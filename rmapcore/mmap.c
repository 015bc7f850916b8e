/* SPDX-License-Identifier: MIT */
/*
 * mmap.c - vmas: the per-mm sorted list, mmap_region, do_munmap,
 * split/merge (vma_adjust), flag changes, mremap and remap_file_pages,
 * and the address_space lists.
 *
 * The caller serializes operations on one mm (mmap_sem), so the mm's list
 * needs no lock.  What rmap walkers see - a vma's geometry and its place
 * on an anon_vma list or an i_mmap list - only changes under that
 * anon_vma->lock and i_mmap_lock, so vmscan never sees a torn vma.
 *
 * i_mmap is a plain list here instead of the kernel's prio tree: walkers
 * filter the vmas by pgoff range, which answers the same query.
 */
#include "internal.h"

#define PAGE_MASK	(~(PAGE_SIZE - 1))

/*
 * A new vma with @src's mm-owned fields.  Never a struct copy: rmap
 * walkers of other mms rewrite src's list links and cursor under their
 * locks while we read.
 */
void vma_copy(struct vm_area_struct *dst, const struct vm_area_struct *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->vm_start = src->vm_start;
	dst->vm_end = src->vm_end;
	dst->vm_pgoff = src->vm_pgoff;
	dst->vm_flags = LOAD(&src->vm_flags);
	dst->vm_mm = src->vm_mm;
	dst->vm_next = src->vm_next;
	dst->anon_vma = LOAD(&src->anon_vma);
	dst->mapping = src->mapping;
}

static uint64_t vma_pages(const struct vm_area_struct *v)
{
	return (v->vm_end - v->vm_start) >> PAGE_SHIFT;
}

rmap_vma_t find_vma(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr)
{
	struct mm_struct *m = MM(a, mm);
	rmap_vma_t c = LOAD(&m->mmap_cache), v;

	if (c && VMA(a, c)->vm_mm == mm && VMA(a, c)->vm_start <= addr && addr < VMA(a, c)->vm_end)
		return c;
	for (v = m->mmap; v; v = VMA(a, v)->vm_next) {
		if (VMA(a, v)->vm_end > addr) {
			STORE(&m->mmap_cache, v);
			return v;
		}
	}
	return 0;
}

rmap_vma_t rmap_find_vma(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr)
{
	rmap_vma_t v;

	if (!valid_index(a, POOL_MMS, mm))
		return 0;
	v = find_vma(a, mm, addr);
	return v && VMA(a, v)->vm_start <= addr ? v : 0;
}

/* ---- address_space lists, under i_mmap_lock ---- */
static uint32_t *i_mmap_head(struct rmap_arena *a, const struct vm_area_struct *v)
{
	struct address_space *as = AS(a, v->mapping);
	return (v->vm_flags & RMAP_VM_NONLINEAR) ? &as->i_mmap_nonlinear : &as->i_mmap;
}

static void __i_mmap_insert(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);
	uint32_t *head = i_mmap_head(a, v);

	v->i_prev = 0;
	v->i_next = *head;
	if (*head)
		VMA(a, *head)->i_prev = vma;
	STORE(head, vma);	/* page_mapping_inuse peeks without the lock */
}

static void __i_mmap_remove(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);

	if (v->i_prev)
		VMA(a, v->i_prev)->i_next = v->i_next;
	else
		STORE(i_mmap_head(a, v), v->i_next);
	if (v->i_next)
		VMA(a, v->i_next)->i_prev = v->i_prev;
	v->i_next = v->i_prev = 0;
}

static struct rlock *i_mmap_lock_of(struct rmap_arena *a, const struct vm_area_struct *v)
{
	return v->mapping ? &AS(a, v->mapping)->i_mmap_lock : NULL;
}

void i_mmap_insert(struct rmap_arena *a, rmap_vma_t vma)
{
	struct rlock *l = i_mmap_lock_of(a, VMA(a, vma));

	rl_lock(a, l, RMAP_LC_I_MMAP, SITE_I_MMAP);
	__i_mmap_insert(a, vma);
	rl_unlock(a, l, RMAP_LC_I_MMAP);
}

/* Take the rmap-visible locks of @v: i_mmap_lock, then anon_vma->lock. */
static void vma_lock_rmap(struct rmap_arena *a, const struct vm_area_struct *v, uint32_t av)
{
	if (v->mapping)
		rl_lock(a, i_mmap_lock_of(a, v), RMAP_LC_I_MMAP, SITE_VMA_ADJUST);
	if (av)
		anon_vma_lock(a, av, SITE_VMA_ADJUST);
}

static void vma_unlock_rmap(struct rmap_arena *a, const struct vm_area_struct *v, uint32_t av)
{
	if (av)
		anon_vma_unlock(a, av);
	if (v->mapping)
		rl_unlock(a, i_mmap_lock_of(a, v), RMAP_LC_I_MMAP);
}

/* vma_adjust: new geometry, published under the walkers' locks. */
static void vma_adjust(struct rmap_arena *a, rmap_vma_t vma, uint64_t start, uint64_t end, uint64_t pgoff)
{
	struct vm_area_struct *v = VMA(a, vma);

	vma_lock_rmap(a, v, v->anon_vma);
	STORE(&v->vm_start, start);
	STORE(&v->vm_end, end);
	STORE(&v->vm_pgoff, pgoff);
	vma_unlock_rmap(a, v, v->anon_vma);
}

/* ---- the mm's list ---- */
static rmap_vma_t vma_prev(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t vma)
{
	rmap_vma_t p = 0, v;

	for (v = MM(a, mm)->mmap; v && v != vma; v = VMA(a, v)->vm_next)
		p = v;
	return p;
}

/* vma_link: into the mm's sorted list, its anon_vma and its address_space. */
static void vma_link(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);
	rmap_vma_t prev = 0, n;

	for (n = MM(a, mm)->mmap; n && VMA(a, n)->vm_start < v->vm_start; n = VMA(a, n)->vm_next)
		prev = n;
	v->vm_next = n;
	if (prev)
		VMA(a, prev)->vm_next = vma;
	else
		MM(a, mm)->mmap = vma;
	anon_vma_link(a, vma);
	if (v->mapping)
		i_mmap_insert(a, vma);
}

static void vma_unlink_list(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t vma)
{
	rmap_vma_t prev = vma_prev(a, mm, vma);

	if (prev)
		VMA(a, prev)->vm_next = VMA(a, vma)->vm_next;
	else
		MM(a, mm)->mmap = VMA(a, vma)->vm_next;
	STORE(&MM(a, mm)->mmap_cache, 0);
}

/* remove_vm_struct: leave the address_space and the anon_vma, then free. */
void remove_vm_struct(struct rmap_arena *a, rmap_vma_t vma)
{
	struct vm_area_struct *v = VMA(a, vma);

	if (v->mapping) {
		struct rlock *l = i_mmap_lock_of(a, v);
		rl_lock(a, l, RMAP_LC_I_MMAP, SITE_I_MMAP);
		__i_mmap_remove(a, vma);
		rl_unlock(a, l, RMAP_LC_I_MMAP);
	}
	anon_vma_unlink(a, vma);
	pool_free(a, POOL_VMAS, vma);
}

/* split_vma: @vma keeps [start, addr), a new vma gets [addr, end). */
static rmap_vma_t split_vma(struct rmap_arena *a, rmap_vma_t vma, uint64_t addr)
{
	struct vm_area_struct *v = VMA(a, vma), *n;
	rmap_vma_t ni = pool_alloc(a, POOL_VMAS);

	if (!ni)
		return 0;
	n = VMA(a, ni);
	vma_copy(n, v);
	n->vm_start = addr;
	n->vm_pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
	vma_lock_rmap(a, v, v->anon_vma);
	STORE(&v->vm_end, addr);
	if (v->mapping)
		__i_mmap_insert(a, ni);
	if (v->anon_vma)
		__anon_vma_link(a, ni);
	vma_unlock_rmap(a, v, v->anon_vma);
	v->vm_next = ni;
	return ni;
}

static int anon_vmas_compatible(uint32_t x, uint32_t y)
{
	return !x || !y || x == y;
}

static int can_merge(const struct vm_area_struct *p, const struct vm_area_struct *n)
{
	return p->vm_end == n->vm_start && p->mapping == n->mapping && p->vm_flags == n->vm_flags &&
	       !(p->vm_flags & (RMAP_VM_NONLINEAR | RMAP_VM_NOMERGE)) &&
	       p->vm_pgoff + vma_pages(p) == n->vm_pgoff &&
	       anon_vmas_compatible(p->anon_vma, n->anon_vma);
}

/* Absorb @next into @prev if they became one mapping (vma_merge); 1 if merged. */
static int vma_merge_pair(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t prev, rmap_vma_t next)
{
	struct vm_area_struct *p, *n;
	uint32_t av;

	if (!prev || !next || !can_merge(VMA(a, prev), VMA(a, next)))
		return 0;
	p = VMA(a, prev);
	n = VMA(a, next);
	av = n->anon_vma ? n->anon_vma : p->anon_vma;
	vma_lock_rmap(a, p, av);
	STORE(&p->vm_end, n->vm_end);
	if (n->anon_vma) {
		/* __anon_vma_merge: prev imports next's anon_vma */
		if (!p->anon_vma) {
			STORE(&p->anon_vma, av);
			__anon_vma_link(a, prev);
		}
		__anon_vma_unlink(a, next);
		n->anon_vma = 0;
	}
	if (n->mapping)
		__i_mmap_remove(a, next);
	vma_unlock_rmap(a, p, av);
	n->mapping = 0;
	vma_unlink_list(a, mm, next);
	remove_vm_struct(a, next);
	return 1;
}

/* Merge @vma with its neighbours where possible. */
static void vma_merge_around(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t vma)
{
	rmap_vma_t prev = vma_prev(a, mm, vma);

	if (vma_merge_pair(a, mm, prev, vma))
		vma = prev;
	vma_merge_pair(a, mm, vma, VMA(a, vma)->vm_next);
}

/* Split so that a vma boundary falls at @addr; -ENOSPC if no vma was free. */
static int split_at(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr)
{
	rmap_vma_t v = find_vma(a, mm, addr);

	if (!v || VMA(a, v)->vm_start >= addr)
		return 0;
	return split_vma(a, v, addr) ? 0 : -ENOSPC;
}

static int do_munmap(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end)
{
	rmap_vma_t v, next, doomed = 0, *tail = &doomed;
	int err;

	if ((err = split_at(a, mm, start)) || (err = split_at(a, mm, end)))
		return err;
	for (v = find_vma(a, mm, start); v && VMA(a, v)->vm_start < end; v = next) {
		next = VMA(a, v)->vm_next;
		vma_unlink_list(a, mm, v);
		VMA(a, v)->vm_next = 0;
		*tail = v;
		tail = &VMA(a, v)->vm_next;
	}
	/* detached from the mm, still on the rmap lists while their ptes die */
	zap_pte_range(a, mm, start, end);
	for (v = doomed; v; v = next) {
		next = VMA(a, v)->vm_next;
		remove_vm_struct(a, v);
	}
	return 0;
}

static int range_ok(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end)
{
	return mm_live(a, mm) && !(start & ~PAGE_MASK) && start < end && end <= (1ull << 48);
}

int rmap_munmap(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end, enum rmap_cause cause)
{
	int err;

	end = (end + PAGE_SIZE - 1) & PAGE_MASK;
	if (!range_ok(a, mm, start, end))
		return -EINVAL;
	set_current_op(cause, mm, start);
	err = do_munmap(a, mm, start, end);
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	return err;
}

int rmap_mmap_region(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end,
		     uint32_t vm_flags, uint64_t pgoff, const struct rmap_file_id *file)
{
	rmap_vma_t vma;
	struct vm_area_struct *v;
	uint32_t mapping = 0;
	int err;

	end = (end + PAGE_SIZE - 1) & PAGE_MASK;
	if (!range_ok(a, mm, start, end))
		return -EINVAL;
	if (file && !(mapping = mapping_lookup(a, file)))
		return -ENOSPC;
	set_current_op(RMAP_CAUSE_MUNMAP, mm, start);
	err = do_munmap(a, mm, start, end);
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	if (err)
		return err;
	vma = pool_alloc(a, POOL_VMAS);
	if (!vma)
		return -ENOSPC;
	v = VMA(a, vma);
	memset(v, 0, sizeof(*v));
	v->vm_start = start;
	v->vm_end = end;
	/* anonymous private: pgoff is the virtual page number (spec section 1) */
	v->vm_pgoff = file ? pgoff : start >> PAGE_SHIFT;
	v->vm_flags = vm_flags & ~RMAP_VM_NONLINEAR;
	v->vm_mm = mm;
	v->mapping = mapping;
	vma_link(a, mm, vma);
	vma_merge_around(a, mm, vma);
	return 0;
}

int rmap_change_flags(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end,
		      uint32_t set, uint32_t clear)
{
	rmap_vma_t v, next;
	int err;

	end = (end + PAGE_SIZE - 1) & PAGE_MASK;
	if (!range_ok(a, mm, start, end))
		return -EINVAL;
	if ((err = split_at(a, mm, start)) || (err = split_at(a, mm, end)))
		return err;
	for (v = find_vma(a, mm, start); v && VMA(a, v)->vm_start < end; v = next) {
		struct vm_area_struct *x = VMA(a, v);
		uint32_t f = (x->vm_flags | set) & ~clear;
		next = x->vm_next;
		/* NONLINEAR decides which i_mmap list the vma is on: never here */
		STORE(&x->vm_flags, (f & ~RMAP_VM_NONLINEAR) | (x->vm_flags & RMAP_VM_NONLINEAR));
	}
	/* merge from the vma before the range up to the one after it */
	v = find_vma(a, mm, start);
	if (v && vma_prev(a, mm, v))
		v = vma_prev(a, mm, v);
	while (v && VMA(a, v)->vm_start < end)
		if (!vma_merge_pair(a, mm, v, VMA(a, v)->vm_next))
			v = VMA(a, v)->vm_next;
	return 0;
}

/* mremap growing in place: the vma simply extends. */
static int mremap_expand(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t v, uint64_t new_end)
{
	int err = do_munmap(a, mm, VMA(a, v)->vm_end, new_end);

	if (err)
		return err;
	vma_adjust(a, v, VMA(a, v)->vm_start, new_end, VMA(a, v)->vm_pgoff);
	vma_merge_around(a, mm, v);
	return 0;
}

/* mremap moving: copy_vma at the new place, move the ptes, drop the old vma. */
static int mremap_move(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_t v, uint64_t old_start,
		       uint64_t len, uint64_t new_start, uint64_t new_len)
{
	rmap_vma_t n;
	int err;

	if (new_start < old_start + len && old_start < new_start + new_len)
		return -EINVAL;
	if ((err = do_munmap(a, mm, new_start, new_start + new_len)))
		return err;
	n = pool_alloc(a, POOL_VMAS);
	if (!n)
		return -ENOSPC;
	vma_copy(VMA(a, n), VMA(a, v));
	VMA(a, n)->vm_start = new_start;
	VMA(a, n)->vm_end = new_start + new_len;
	vma_link(a, mm, n);
	err = move_page_tables(a, mm, old_start, new_start, len);
	/*
	 * Ptes that could not move (a pool ran out) must not outlive their vma:
	 * its anon_vma may be freed under their pages (INV-5), as the kernel's
	 * mremap failure path zaps them.
	 */
	if (err)
		zap_pte_range(a, mm, old_start, old_start + len);
	vma_unlink_list(a, mm, v);
	remove_vm_struct(a, v);
	vma_merge_around(a, mm, n);
	return err;
}

int rmap_mremap(struct rmap_arena *a, rmap_mm_t mm, uint64_t old_start, uint64_t old_len,
		uint64_t new_start, uint64_t new_len)
{
	uint64_t old_end;
	rmap_vma_t v;
	int err;

	old_len = (old_len + PAGE_SIZE - 1) & PAGE_MASK;
	new_len = (new_len + PAGE_SIZE - 1) & PAGE_MASK;
	old_end = old_start + old_len;
	if (!range_ok(a, mm, old_start, old_end) || !range_ok(a, mm, new_start, new_start + new_len))
		return -EINVAL;
	set_current_op(RMAP_CAUSE_MREMAP, mm, old_start);
	if (new_len < old_len) {
		if ((err = do_munmap(a, mm, old_start + new_len, old_end)))
			goto out;
		old_len = new_len;
		old_end = old_start + old_len;
	}
	v = find_vma(a, mm, old_start);
	err = -EINVAL;
	if (!v || VMA(a, v)->vm_start > old_start || VMA(a, v)->vm_end < old_end)
		goto out;
	if (new_start == old_start) {
		err = new_len == old_len ? 0 :
		      VMA(a, v)->vm_end == old_end ? mremap_expand(a, mm, v, old_start + new_len) : -EINVAL;
		goto out;
	}
	if ((err = split_at(a, mm, old_start)) || (err = split_at(a, mm, old_end)))
		goto out;
	err = mremap_move(a, mm, find_vma(a, mm, old_start), old_start, old_len, new_start, new_len);
out:
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	return err;
}

int rmap_remap_file_pages(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t len, uint64_t pgoff)
{
	uint64_t end = start + ((len + PAGE_SIZE - 1) & PAGE_MASK), addr;
	struct vm_area_struct *v;
	rmap_vma_t vma;
	int err = 0;

	if (!range_ok(a, mm, start, end))
		return -EINVAL;
	vma = find_vma(a, mm, start);
	if (!vma)
		return -EINVAL;
	v = VMA(a, vma);
	if (v->vm_start > start || v->vm_end < end || !v->mapping || !(v->vm_flags & RMAP_VM_SHARED))
		return -EINVAL;
	set_current_op(RMAP_CAUSE_MUNMAP, mm, start);
	if (!(v->vm_flags & RMAP_VM_NONLINEAR) && pgoff != linear_page_index(v, start)) {
		/* the vma moves from i_mmap to i_mmap_nonlinear */
		struct rlock *l = i_mmap_lock_of(a, v);
		rl_lock(a, l, RMAP_LC_I_MMAP, SITE_REMAP_FILE_PAGES);
		__i_mmap_remove(a, vma);
		STORE(&v->vm_flags, v->vm_flags | RMAP_VM_NONLINEAR);
		__i_mmap_insert(a, vma);
		rl_unlock(a, l, RMAP_LC_I_MMAP);
	}
	for (addr = start; addr < end && !err; addr += PAGE_SIZE)
		err = install_file_pte(a, mm, addr, pgoff + ((addr - start) >> PAGE_SHIFT));
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	return err;
}

long rmap_walk_vmas(struct rmap_arena *a, rmap_mm_t mm, rmap_vma_fn fn, void *ctx)
{
	long n = 0;

	if (!valid_index(a, POOL_MMS, mm) || !fn)
		return -EINVAL;
	for (rmap_vma_t i = MM(a, mm)->mmap; i; i = VMA(a, i)->vm_next, n++) {
		const struct vm_area_struct *v = VMA(a, i);
		struct rmap_vma_info info = {
			.start = v->vm_start, .end = v->vm_end, .pgoff = v->vm_pgoff,
			.flags = v->vm_flags, .anon_vma = v->anon_vma != 0,
		};
		if (v->mapping) {
			info.file.dev = AS(a, v->mapping)->dev;
			info.file.ino = AS(a, v->mapping)->ino;
		}
		fn(ctx, &info);
	}
	return n;
}
