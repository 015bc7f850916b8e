/* SPDX-License-Identifier: MIT */
/*
 * memory.c - shadow page tables and the paths of mm/memory.c that call the
 * rmap: faults (anonymous, file, swap, COW), zap_pte_range,
 * copy_page_range with dup_mmap, exit_mmap; and page reference counting
 * with the free path, where N resets a stale anon mapping.
 *
 * Page tables are a 4-level radix tree of 512-entry nodes per mm, all
 * accessed under that mm's page_table_lock.
 */
#include "internal.h"

#define PT_LEVELS	4
#define VA_BITS		48

static unsigned level_shift(int level)
{
	return PAGE_SHIFT + 9 * (unsigned)level;
}

/* Index of @addr in a node of @level. */
static unsigned level_index(uint64_t addr, int level)
{
	return (addr >> level_shift(level)) & (PTRS_PER_NODE - 1);
}

static uint32_t pt_node_alloc(struct rmap_arena *a)
{
	uint32_t n = pool_alloc(a, POOL_PT_NODES);

	if (n) {
		memset(PTN(a, n), 0, sizeof(struct pt_node));
		*pt_present(a, PTN(a, n)->e) = 0;
	}
	return n;
}

/* The pte slot of @addr, allocating intermediate nodes if @alloc. */
uint64_t *pte_lookup(struct rmap_arena *a, struct mm_struct *mm, uint64_t addr, int alloc)
{
	uint32_t node = mm->pgd;
	int level;

	if ((addr >> VA_BITS) || !node)
		return NULL;
	for (level = PT_LEVELS - 1; level > 0; level--) {
		uint64_t *e = &PTN(a, node)->e[level_index(addr, level)];
		if (!*e) {
			uint32_t n = alloc ? pt_node_alloc(a) : 0;
			if (!n)
				return NULL;
			*e = n;
		}
		node = (uint32_t)*e;
	}
	return &PTN(a, node)->e[level_index(addr, 0)];
}

typedef void (*pte_visit_fn)(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte);
/* One pte table (a leaf node) and the part [addr, end) of its span to visit. */
typedef void (*pte_range_fn)(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr, uint64_t end);

/*
 * The first non-empty entry of e[i..last], or last + 1.  Shadow tables are
 * sparse (a process's few pages spread over a 47-bit space): a cache line
 * of eight empty entries is passed with one test.
 */
static inline unsigned next_entry(const uint64_t *e, unsigned i, unsigned last)
{
	for (; i <= last; i++) {
		if (!(i & 7) && i + 7 <= last) {
			const uint64_t *l = &e[i];
			if (!(l[0] | l[1] | l[2] | l[3] | l[4] | l[5] | l[6] | l[7])) {
				i += 7;
				continue;
			}
		}
		if (e[i])
			break;
	}
	return i;
}

/*
 * Call @fn once per pte table under [addr, end), which lies in @node's
 * span, skipping empty subtrees, as walk_page_range's pmd_entry does: the
 * visitors loop over the ptes themselves, no call per empty pte.
 */
static void walk_level(struct rmap_arena *a, uint32_t node, int level, uint64_t addr,
		       uint64_t end, pte_range_fn fn, void *ctx)
{
	const uint64_t *e = PTN(a, node)->e;
	unsigned shift = level_shift(level), last = level_index(end - 1, level);
	uint64_t base = addr & ~((1ull << level_shift(level + 1)) - 1);

	for (unsigned i = level_index(addr, level); (i = next_entry(e, i, last)) <= last; i++) {
		uint64_t lo = base + ((uint64_t)i << shift), hi = lo + (1ull << shift);

		if (lo < addr)
			lo = addr;
		if (hi > end)
			hi = end;
		if (level == 1)
			fn(a, ctx, PTN(a, (uint32_t)e[i])->e, lo, hi);
		else
			walk_level(a, (uint32_t)e[i], level - 1, lo, hi, fn, ctx);
	}
}

/* Visit the pte tables of the pages meeting [start, end). */
static void walk_ptes(struct rmap_arena *a, struct mm_struct *mm, uint64_t start, uint64_t end,
		      pte_range_fn fn, void *ctx)
{
	if (end > (1ull << VA_BITS))
		end = 1ull << VA_BITS;
	if (mm->pgd && start < end)
		walk_level(a, mm->pgd, PT_LEVELS - 1, start & ~(PAGE_SIZE - 1), end, fn, ctx);
}

/* The address of entry @i of the pte table that maps @addr. */
static uint64_t pte_addr(uint64_t addr, unsigned i)
{
	return (addr & ~((1ull << level_shift(1)) - 1)) + ((uint64_t)i << PAGE_SHIFT);
}

/*
 * @visit on each non-empty pte of [addr, end) in table @pte.  Inlined into
 * each pte_range_fn, so that @visit is a direct call.
 */
static inline __attribute__((always_inline))
void visit_pte_range(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr, uint64_t end,
		     pte_visit_fn visit)
{
	unsigned last = level_index(end - 1, 0);

	for (unsigned i = level_index(addr, 0); (i = next_entry(pte, i, last)) <= last; i++)
		visit(a, ctx, pte_addr(addr, i), &pte[i]);
}

static void free_level(struct rmap_arena *a, uint32_t node, int level)
{
	uint64_t *e = PTN(a, node)->e;

	for (unsigned i = 0; (i = next_entry(e, i, PTRS_PER_NODE - 1)) < PTRS_PER_NODE; i++) {
		uint32_t child = (uint32_t)e[i];

		if (level > 1)
			free_level(a, child, level - 1);
		e[i] = 0;
		pool_free(a, POOL_PT_NODES, child);
	}
}

/* Free every page-table node below the root; caller holds page_table_lock. */
static void free_pgtables(struct rmap_arena *a, struct mm_struct *mm)
{
	if (mm->pgd)
		free_level(a, mm->pgd, PT_LEVELS - 1);
}

/* ---- page references and the free path ---- */

/* A reference unless the page is being freed (2.6's get_page_testone). */
int get_page_unless_free(struct page *p)
{
	if (__atomic_add_fetch(&p->_count, 1, __ATOMIC_SEQ_CST) > 0)
		return 1;
	__atomic_sub_fetch(&p->_count, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void get_page(struct page *p)
{
	__atomic_add_fetch(&p->_count, 1, __ATOMIC_SEQ_CST);
}

/* free_pages_check: a page going free must carry no rmap state. */
static void free_pages_check(struct rmap_arena *a, rmap_page_t page, struct page *p)
{
	if (page_mapped(a, p) || LOAD(&p->mapping) ||
	    page_flag(p, RMAP_PG_LOCKED | RMAP_PG_SWAPCACHE | RMAP_PG_LRU | RMAP_PG_MAPLOCK))
		note_violation(a, page, "free_pages_check: bad page state");
	clear_page_flag(p, RMAP_PG_DIRTY | RMAP_PG_REFERENCED | RMAP_PG_ACTIVE);
}

/* free_hot_cold_page: the count reached 0. */
static void free_page(struct rmap_arena *a, rmap_page_t page, struct page *p)
{
	uint32_t m = LOAD(&p->mapping);

	if (page_flag(p, RMAP_PG_LRU))
		lru_del(a, page);
	if (!mode_locked(a) && PageAnon(m)) {
		/* N*: the last unmap left the anon mapping; nobody can map us now */
		STORE_REL(&p->mapping_gen, 0);
		emit(a, RMAP_EV_MAPPING_RESET_AT_FREE, page, 0, 0, (int32_t)mapping_index(m));
	}
	free_pages_check(a, page, p);
	emit(a, RMAP_EV_PAGE_FREED, page, 0, 0, 0);
}

void put_page(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	int32_t v = __atomic_sub_fetch(&p->_count, 1, __ATOMIC_SEQ_CST);

	if (likely(v >= 0))
		return;
	if (v == -1) {
		free_page(a, page, p);
	} else {
		__atomic_add_fetch(&p->_count, 1, __ATOMIC_SEQ_CST);
		note_violation(a, page, "put_page: count underflow");
	}
}

/* Drop one swap pte's hold on the swap entry of @page; the last leaves swap cache. */
static void swap_free(struct rmap_arena *a, rmap_page_t page)
{
	struct page *p = PG(a, page);
	int drop;

	if (__atomic_sub_fetch(&p->swap_count, 1, __ATOMIC_SEQ_CST) != 0 || page_mapped(a, p))
		return;
	/* vmscan may hold the page lock: then it stays in swap cache for now */
	if (!trylock_page(a, p, SITE_ZAP_PTE_RANGE))
		return;
	drop = remove_exclusive_swap_page(a, page);
	unlock_page(a, p);
	if (drop)
		put_page(a, page);
}

/* ---- faults ---- */

/* A file page seen for the first time enters the "page cache" of its address_space. */
static int add_to_page_cache(struct rmap_arena *a, rmap_page_t page, uint32_t as, uint64_t index)
{
	struct page *p = PG(a, page);
	uint64_t none = 0;

	if (!__atomic_compare_exchange_n(&p->mapping_gen, &none, (uint64_t)(as << 1), 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;	/* already cached (possibly by a racing fault) */
	STORE(&p->index, index);
	get_page(p);
	return 1;
}

/* A fault that met a busy page lock or a stale page cache page retries. */
#define FAULT_TRIES	3

struct fault {
	rmap_mm_t mm;
	rmap_vma_t vma;
	uint64_t addr;
	rmap_page_t page;
	int anon;
	uint64_t bits;		/* young/dirty/writable for the new pte */
	/* a page that left the page cache: rmap_fault truncates it unlocked */
	rmap_page_t truncated;
	uint32_t trunc_mapping;
	uint64_t trunc_index;
};

/* Hand @page, page cache page of (@m, @index), to rmap_fault's truncation. */
static void defer_truncate(struct fault *f, rmap_page_t page, uint32_t m, uint64_t index)
{
	f->truncated = page;
	f->trunc_mapping = m;
	f->trunc_index = index;
}

/*
 * The frame is faulted in as other contents than the page cache page the
 * shadow holds: the kernel truncated or evicted it unseen and reused the
 * frame.  Drop the stale cache entry (and its reference) if nothing maps
 * it.  If ptes of other processes still map it (their view is older), it
 * must be truncated first, which takes locks above page_table_lock:
 * returns -EAGAIN with the truncation deferred to rmap_fault, which then
 * retries the fault.
 */
static int evict_stale_cache(struct rmap_arena *a, struct fault *f, uint32_t want, uint64_t index)
{
	struct page *p = PG(a, f->page);
	uint64_t mg = LOAD_ACQ(&p->mapping_gen);
	uint32_t m = (uint32_t)mg;

	if (!m || PageAnon(m) || (m == want && LOAD(&p->index) == index))
		return 0;
	if (page_mapped(a, p)) {
		get_page(p);
		defer_truncate(f, f->page, m, LOAD(&p->index));
		return -EAGAIN;
	}
	if (__atomic_compare_exchange_n(&p->mapping_gen, &mg, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		put_page(a, f->page);
	return 0;
}

/*
 * The frame becomes a page cache page.  add_to_page_cache works on a locked
 * page: vmscan's shrink_page, which holds the page lock, may be between
 * its PageAnon test and add_to_swap (the page would end up in both caches,
 * INV-10).  A swap cache entry the frame still has, unmapped and with no
 * swap pte left (swap_free could not take the lock), is stale: the kernel
 * freed the page.  Returns 1 if the page cache took a reference.
 */
static int file_page_enters_cache(struct rmap_arena *a, struct fault *f, uint32_t as,
				  uint64_t index)
{
	struct page *p = PG(a, f->page);
	int fresh, stale_swap;

	if (!trylock_page(a, p, SITE_HANDLE_MM_FAULT))
		return -EAGAIN;	/* page_table_lock held: rmap_fault waits unlocked */
	stale_swap = remove_exclusive_swap_page(a, f->page);
	if (PageAnon(LOAD(&p->mapping)))	/* a stale N mapping */
		STORE(&p->mapping_gen, 0);
	fresh = add_to_page_cache(a, f->page, as, index);
	unlock_page(a, p);
	if (stale_swap)
		put_page(a, f->page);
	return fresh;
}

/*
 * Install f->page at the pte and add its rmap.  A new page goes on the LRU
 * first, as do_anonymous_page's pagevec does: vmscan may meet it mapped
 * before its anon mapping is stored (R8).
 */
static int install_page(struct rmap_arena *a, struct fault *f, uint64_t *pte, uint64_t file_pgoff)
{
	struct vm_area_struct *v = VMA(a, f->vma);
	struct page *p = PG(a, f->page);
	uint32_t m;
	int fresh = 0, err;

	err = evict_stale_cache(a, f, f->anon ? 0 : v->mapping << 1, file_pgoff);
	if (err)
		return err;
	m = LOAD(&p->mapping);
	if (f->anon) {
		fresh = LOAD(&p->_count) < 0;
	} else if (PageAnon(m) && page_mapped(a, p)) {
		note_violation(a, f->page, "fault: file vma maps a live anon page");
		return -EINVAL;
	} else if (!m || PageAnon(m)) {
		fresh = file_page_enters_cache(a, f, v->mapping, file_pgoff);
		if (fresh < 0)
			return fresh;
	}
	get_page(p);
	if (fresh)
		lru_cache_add_active(a, f->page);
	pte_set(a, pte, mk_pte(RMAP_PTE_PRESENT, f->page, f->bits));
	STORE(&MM(a, f->mm)->rss, MM(a, f->mm)->rss + 1);
	if (f->anon)
		page_add_anon_rmap(a, f->page, f->vma, f->addr);
	else
		page_add_file_rmap(a, f->page);
	return 0;
}

/*
 * do_wp_page's copy: the pte moves from the old page to the new one.  A
 * file page replaced by another file page at the same file index is no COW:
 * the kernel truncated (or invalidated) the old one and the new one is the
 * page cache's now; rmap_fault truncates the old one in the shadow too,
 * keeping our pte's reference for it.
 */
static int do_wp_page(struct rmap_arena *a, struct fault *f, uint64_t *pte)
{
	rmap_page_t old = (rmap_page_t)pte_payload(*pte);
	struct vm_area_struct *v = VMA(a, f->vma);
	uint64_t index = linear_page_index(v, f->addr);
	int err;

	set_current_op(RMAP_CAUSE_COW, f->mm, f->addr);
	page_remove_rmap(a, old);
	pte_set(a, pte, 0);
	STORE(&MM(a, f->mm)->rss, MM(a, f->mm)->rss - 1);
	err = install_page(a, f, pte, index);
	if (!err && !f->anon && v->mapping && LOAD(&PG(a, old)->mapping) == v->mapping << 1 &&
	    LOAD(&PG(a, old)->index) == index)
		defer_truncate(f, old, v->mapping << 1, index);
	else
		put_page(a, old);
	return err;
}

static int handle_pte_fault(struct rmap_arena *a, struct fault *f, uint64_t *pte)
{
	uint64_t old = *pte;
	struct vm_area_struct *v = VMA(a, f->vma);
	int err;

	switch (pte_kind(old)) {
	case RMAP_PTE_PRESENT:
		if (pte_payload(old) != f->page)
			return do_wp_page(a, f, pte);
		*pte = (old & ~PTE_WRITE) | f->bits;
		return 0;
	case RMAP_PTE_SWAP:
		/* do_swap_page: always anon; may meet a stale mapping (R3/R4) */
		f->anon = 1;
		pte_set(a, pte, 0);
		err = install_page(a, f, pte, 0);
		swap_free(a, (rmap_page_t)pte_payload(old));
		return err;
	case RMAP_PTE_FILE:
		/* do_file_page: the nonlinear offset decides the page-cache index */
		pte_set(a, pte, 0);
		return install_page(a, f, pte, pte_payload(old));
	default:
		return install_page(a, f, pte, linear_page_index(v, f->addr));
	}
}

int rmap_fault(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr, uint64_t key, unsigned fault_flags)
{
	struct fault f = { .mm = mm, .addr = addr & ~(PAGE_SIZE - 1) };
	struct vm_area_struct *v;
	struct mm_struct *m;
	uint64_t *pte;
	int err;

	if (!mm_live(a, mm))
		return -EINVAL;
	f.vma = find_vma(a, mm, addr);
	if (!f.vma || VMA(a, f.vma)->vm_start > addr)
		return -ENOENT;
	f.page = rmap_page_lookup(a, key);
	if (!f.page) {
		/*
		 * No room for the new frame: it goes untracked (counted), but a
		 * page it replaced (COW) is unmapped all the same, or that
		 * page's mapcount would stay one too high for ever.
		 */
		rmap_zap_page(a, mm, addr, RMAP_CAUSE_COW);
		return -ENOSPC;
	}
	v = VMA(a, f.vma);
	m = MM(a, mm);
	/* shmem and shared file pages are page cache, whatever the flag says */
	f.anon = !v->mapping || ((fault_flags & RMAP_FAULT_ANON) && !(v->vm_flags & RMAP_VM_SHARED));
	f.bits = PTE_YOUNG | ((fault_flags & RMAP_FAULT_WRITE) ? PTE_WRITE | PTE_DIRTY : 0);
	set_current_op(RMAP_CAUSE_FAULT, mm, f.addr);
	if (f.anon && anon_vma_prepare(a, f.vma))
		return -ENOSPC;
	for (int tries = 0; tries < FAULT_TRIES; tries++) {
		rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_HANDLE_MM_FAULT);
		pte = pte_lookup(a, m, f.addr, 1);
		err = pte ? handle_pte_fault(a, &f, pte) : -ENOSPC;
		rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
		/* page lock and i_mmap_lock rank above page_table_lock: now */
		if (f.truncated) {
			truncate_inode_page(a, f.truncated, f.trunc_mapping, f.trunc_index);
			put_page(a, f.truncated);
			f.truncated = 0;
		} else if (err == -EAGAIN) {
			/* wait_on_page_locked: vmscan had the page entering the cache */
			lock_page(a, PG(a, f.page), SITE_HANDLE_MM_FAULT);
			unlock_page(a, PG(a, f.page));
		}
		if (err != -EAGAIN)
			break;
		set_current_op(RMAP_CAUSE_FAULT, mm, f.addr);	/* again */
	}
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	return err;
}

/* ---- zap ---- */

/* zap_one without pt_present: the table's count is the caller's. */
static void zap_entry(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte)
{
	struct mm_struct *mm = ctx;
	uint64_t old = *pte;
	rmap_page_t page;

	*pte = 0;
	switch (pte_kind(old)) {
	case RMAP_PTE_PRESENT:
		page = (rmap_page_t)pte_payload(old);
		rmap_cur.addr = addr;
		/*
		 * set_page_dirty tests before it sets, and so do we: the bit
		 * stays until the page is freed, and a read first lets a fork
		 * child's fault on the shared arena map 16 pages of struct page
		 * (fault-around) where a locked RMW first faulted each 4 KiB.
		 */
		if ((old & PTE_DIRTY) && !page_flag(PG(a, page), RMAP_PG_DIRTY))
			set_page_flag(PG(a, page), RMAP_PG_DIRTY);
		if ((old & PTE_YOUNG) && !PageAnon(LOAD(&PG(a, page)->mapping)))
			set_page_flag(PG(a, page), RMAP_PG_REFERENCED);	/* mark_page_accessed */
		page_remove_rmap(a, page);
		STORE(&mm->rss, mm->rss - 1);
		put_page(a, page);
		break;
	case RMAP_PTE_SWAP:
		swap_free(a, (rmap_page_t)pte_payload(old));	/* free_swap_and_cache */
		break;
	default:
		break;
	}
}

void zap_one(struct rmap_arena *a, void *mm, uint64_t addr, uint64_t *pte)
{
	if (pte_kind(*pte) == RMAP_PTE_PRESENT)
		(*pt_present(a, pte))--;
	zap_entry(a, mm, addr, pte);
}

/* The present ptes of entries first..last of table @pte, read one by one. */
static unsigned present_in(const uint64_t *pte, unsigned first, unsigned last)
{
	unsigned n = 0;

	for (unsigned i = first; i <= last; i++)
		n += pte_kind(pte[i]) == RMAP_PTE_PRESENT;
	return n;
}

/*
 * The table's count drops once, not per pte (at exit, every pte of every
 * table): to 0 if the zap covers it all, else by the present ptes counted
 * in the range first.
 */
static void zap_pte_table(struct rmap_arena *a, void *mm, uint64_t *pte, uint64_t addr, uint64_t end)
{
	unsigned first = level_index(addr, 0), last = level_index(end - 1, 0);
	unsigned gone = first == 0 && last == PTRS_PER_NODE - 1 ? *pt_present(a, pte)
								 : present_in(pte, first, last);

	visit_pte_range(a, mm, pte, addr, end, zap_entry);
	*pt_present(a, pte) -= (uint16_t)gone;
}

/* zap_pte_range over [start, end) of @mm, under its page_table_lock. */
void zap_pte_range(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end)
{
	struct mm_struct *m = MM(a, mm);

	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_ZAP_PTE_RANGE);
	walk_ptes(a, m, start, end, zap_pte_table, m);
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
}

int rmap_zap_range(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end, enum rmap_cause cause)
{
	if (!mm_live(a, mm) || start > end)
		return -EINVAL;
	set_current_op(cause, mm, start);
	zap_pte_range(a, mm, start & ~(PAGE_SIZE - 1), end);
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	return 0;
}

int rmap_zap_page(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr, enum rmap_cause cause)
{
	return rmap_zap_range(a, mm, addr, (addr & ~(PAGE_SIZE - 1)) + PAGE_SIZE, cause);
}

/* ---- fork ---- */

struct copy_ctx {
	struct mm_struct *dst;
	int cow, shared, err;
};

/*
 * @dst is the child's pte slot of @addr, empty (a new mm); 1 if it now
 * maps a page, for the caller's count of the table.
 */
static int copy_one_pte(struct rmap_arena *a, struct copy_ctx *c, uint64_t addr, uint64_t *src,
			uint64_t *dst)
{
	uint64_t e = *src;
	rmap_page_t page;

	switch (pte_kind(e)) {
	case RMAP_PTE_SWAP:
		__atomic_add_fetch(&PG(a, (rmap_page_t)pte_payload(e))->swap_count, 1,
				   __ATOMIC_SEQ_CST);	/* swap_duplicate */
		*dst = e;
		return 0;
	case RMAP_PTE_PRESENT:
		break;
	default:
		*dst = e;
		return 0;
	}
	page = (rmap_page_t)pte_payload(e);
	/* ptep_set_wrprotect only where writable: the next fork's walk stays a read */
	if (c->cow && (e & PTE_WRITE)) {
		e &= ~PTE_WRITE;
		*src = e;
	}
	if (c->shared)
		e &= ~PTE_DIRTY;
	e &= ~PTE_YOUNG;
	get_page(PG(a, page));
	STORE(&c->dst->rss, c->dst->rss + 1);
	*dst = e;
	rmap_cur.addr = addr;
	page_dup_rmap(a, page);
	return 1;
}

/*
 * copy_pte_range: one table of the parent's; the child's table is looked
 * up (allocated) once, at the first pte to copy, not once per pte, and its
 * present count raised once.
 */
static void copy_pte_table(struct rmap_arena *a, void *ctx, uint64_t *src, uint64_t addr, uint64_t end)
{
	struct copy_ctx *c = ctx;
	unsigned last = level_index(end - 1, 0), present = 0;
	uint64_t *dst = NULL;

	for (unsigned i = level_index(addr, 0); (i = next_entry(src, i, last)) <= last; i++) {
		if (!dst) {
			dst = pte_lookup(a, c->dst, pte_addr(addr, i), 1);
			if (!dst) {
				c->err = -ENOSPC;
				return;
			}
			dst -= i;
		}
		present += (unsigned)copy_one_pte(a, c, pte_addr(addr, i), &src[i], &dst[i]);
	}
	if (dst)
		*pt_present(a, dst) += (uint16_t)present;
}

/* copy_page_range: child's page_table_lock, then the parent's. */
static int copy_page_range(struct rmap_arena *a, rmap_mm_t dst, rmap_mm_t src, const struct vm_area_struct *v)
{
	struct copy_ctx c = {
		.dst = MM(a, dst),
		.cow = (v->vm_flags & (RMAP_VM_SHARED | RMAP_VM_MAYWRITE)) == RMAP_VM_MAYWRITE,
		.shared = (v->vm_flags & RMAP_VM_SHARED) != 0,
	};
	struct mm_struct *s = MM(a, src);

	rl_lock(a, &c.dst->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_COPY_PAGE_RANGE);
	rl_lock(a, &s->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_COPY_PAGE_RANGE);
	walk_ptes(a, s, v->vm_start, v->vm_end, copy_pte_table, &c);
	rl_unlock(a, &s->page_table_lock, RMAP_LC_PAGE_TABLE);
	rl_unlock(a, &c.dst->page_table_lock, RMAP_LC_PAGE_TABLE);
	return c.err;
}

/* mm_alloc: a new, empty mm published in @state. */
static int mm_alloc(struct rmap_arena *a, int32_t pid, rmap_mm_t parent,
		    enum mm_state state, rmap_mm_t *out)
{
	rmap_mm_t i;
	struct mm_struct *m;
	uint32_t pgd;

	if (!out)
		return -EINVAL;
	i = pool_alloc(a, POOL_MMS);
	if (!i)
		return -ENOSPC;
	pgd = pt_node_alloc(a);
	if (!pgd) {
		pool_free(a, POOL_MMS, i);
		return -ENOSPC;
	}
	m = MM(a, i);
	m->pid = pid;
	m->parent = parent;
	m->mmap = m->mmap_cache = 0;
	m->pgd = pgd;
	STORE(&m->rss, 0);
	STORE_REL(&m->state, state);
	*out = i;
	return 0;
}

int rmap_mm_create(struct rmap_arena *a, int32_t pid, rmap_mm_t parent, rmap_mm_t *out)
{
	return mm_alloc(a, pid, parent, MM_LIVE, out);
}

/* Copy one parent vma into @child's list after @tail; returns the new vma or 0. */
static rmap_vma_t dup_vma(struct rmap_arena *a, rmap_mm_t child, rmap_vma_t pv, rmap_vma_t tail)
{
	rmap_vma_t n = pool_alloc(a, POOL_VMAS);
	struct vm_area_struct *v;

	if (!n)
		return 0;
	v = VMA(a, n);
	vma_copy(v, VMA(a, pv));
	v->vm_mm = child;
	v->vm_flags &= ~RMAP_VM_LOCKED;
	v->vm_next = 0;
	/* joins the parent's anon_vma before any pte is copied */
	anon_vma_link(a, n);
	if (v->mapping)
		i_mmap_insert(a, n);
	rl_lock(a, &MM(a, child)->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_COPY_PAGE_RANGE);
	if (tail)
		VMA(a, tail)->vm_next = n;
	else
		MM(a, child)->mmap = n;
	rl_unlock(a, &MM(a, child)->page_table_lock, RMAP_LC_PAGE_TABLE);
	return n;
}

/* exit_mmap's work, for a live mm or a dup_mmap child that failed half-way. */
static void mm_teardown(struct rmap_arena *a, rmap_mm_t mm, enum rmap_cause cause)
{
	struct mm_struct *m = MM(a, mm);
	rmap_vma_t v, next;

	set_current_op(cause, mm, 0);
	for (v = m->mmap; v; v = VMA(a, v)->vm_next)
		zap_pte_range(a, mm, VMA(a, v)->vm_start, VMA(a, v)->vm_end);
	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_EXIT_MMAP);
	free_pgtables(a, m);
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
	/* the ptes died first; only now may the vmas leave their lists */
	for (v = m->mmap; v; v = next) {
		next = VMA(a, v)->vm_next;
		remove_vm_struct(a, v);
	}
	m->mmap = m->mmap_cache = 0;
	pool_free(a, POOL_PT_NODES, m->pgd);
	m->pgd = 0;
	STORE_REL(&m->state, MM_FREE);
	pool_free(a, POOL_MMS, mm);
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
}

int rmap_dup_mmap(struct rmap_arena *a, rmap_mm_t parent, int32_t child_pid,
		  unsigned flags, rmap_mm_t *child_out)
{
	rmap_mm_t child;
	rmap_vma_t pv, tail = 0;
	int err;

	if (!mm_live(a, parent) || !child_out)
		return -EINVAL;
	/* MM_NEW until the copy is whole: see enum mm_state */
	err = mm_alloc(a, child_pid, parent, MM_NEW, &child);
	if (err)
		return err;
	set_current_op(RMAP_CAUSE_FORK, child, 0);
	for (pv = MM(a, parent)->mmap; pv; pv = VMA(a, pv)->vm_next) {
		const struct vm_area_struct *v = VMA(a, pv);
		if (v->vm_flags & RMAP_VM_DONTCOPY)
			continue;
		tail = dup_vma(a, child, pv, tail);
		if (!tail) {
			err = -ENOSPC;
			break;
		}
		if (v->vm_flags & RMAP_VM_WIPEONFORK)
			continue;
		if ((flags & RMAP_DUP_FAULT_FILLS) && !LOAD(&v->anon_vma))
			continue;
		err = copy_page_range(a, child, parent, v);
		if (err)
			break;
	}
	if (err) {
		/* nothing half-built survives a failed fork */
		mm_teardown(a, child, RMAP_CAUSE_EXIT);
		return err;
	}
	STORE_REL(&MM(a, child)->state, MM_LIVE);
	set_current_op(RMAP_CAUSE_NONE, 0, 0);
	*child_out = child;
	return 0;
}

int rmap_exit_mmap(struct rmap_arena *a, rmap_mm_t mm, enum rmap_cause cause)
{
	if (!mm_live(a, mm))
		return -EINVAL;
	mm_teardown(a, mm, cause);
	return 0;
}

long rmap_reap_unfinished_forks(struct rmap_arena *a)
{
	uint32_t bump = LOAD(&a->pool[POOL_MMS].bump);
	long n = 0;

	for (rmap_mm_t i = 1; i <= bump && i <= a->pool[POOL_MMS].max; i++)
		if (LOAD_ACQ(&MM(a, i)->state) == MM_NEW) {
			mm_teardown(a, i, RMAP_CAUSE_EXIT);
			n++;
		}
	return n;
}

/* ---- lookups for callers ---- */

rmap_mm_t rmap_mm_find_pid(const struct rmap_arena *a, int32_t pid)
{
	for (rmap_mm_t i = rmap_mm_next(a, 0); i; i = rmap_mm_next(a, i))
		if (MM(a, i)->pid == pid)
			return i;
	return 0;
}

rmap_mm_t rmap_mm_next(const struct rmap_arena *a, rmap_mm_t prev)
{
	uint32_t bump = LOAD(&a->pool[POOL_MMS].bump);

	for (rmap_mm_t i = prev + 1; i <= bump && i <= a->pool[POOL_MMS].max; i++)
		if (mm_live(a, i))
			return i;
	return 0;
}

int32_t rmap_mm_pid(const struct rmap_arena *a, rmap_mm_t mm)
{
	return mm_live(a, mm) ? MM(a, mm)->pid : -1;
}

int64_t rmap_mm_rss(const struct rmap_arena *a, rmap_mm_t mm)
{
	return mm_live(a, mm) ? LOAD(&MM(a, mm)->rss) : 0;
}

static void pte_info(const struct rmap_arena *a, uint64_t e, struct rmap_pte_info *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = pte_kind(e);
	out->young = (e & PTE_YOUNG) != 0;
	out->dirty = (e & PTE_DIRTY) != 0;
	out->writable = (e & PTE_WRITE) != 0;
	if (out->kind == RMAP_PTE_PRESENT) {
		out->page = (rmap_page_t)pte_payload(e);
		out->key = PG(a, out->page)->key;
	}
}

int rmap_pte_get(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr, struct rmap_pte_info *out)
{
	struct mm_struct *m;
	uint64_t *pte;

	if (!mm_live(a, mm) || !out)
		return -EINVAL;
	m = MM(a, mm);
	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_WALK_PTES);
	pte = pte_lookup(a, m, addr, 0);
	pte_info(a, pte ? *pte : 0, out);
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
	return out->kind == RMAP_PTE_NONE ? -ENOENT : 0;
}

struct walk_ctx {
	rmap_pte_fn fn;
	void *ctx;
	long n;
};

static void walk_present(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte)
{
	struct walk_ctx *w = ctx;
	struct rmap_pte_info info;

	if (pte_kind(*pte) != RMAP_PTE_PRESENT)
		return;
	pte_info(a, *pte, &info);
	w->fn(w->ctx, addr, &info);
	w->n++;
}

static void walk_present_table(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr, uint64_t end)
{
	visit_pte_range(a, ctx, pte, addr, end, walk_present);
}

long rmap_walk_ptes(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end,
		    rmap_pte_fn fn, void *ctx)
{
	struct walk_ctx w = { fn, ctx, 0 };
	struct mm_struct *m;

	if (!mm_live(a, mm) || !fn)
		return -EINVAL;
	m = MM(a, mm);
	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_WALK_PTES);
	walk_ptes(a, m, start, end, walk_present_table, &w);
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
	return w.n;
}

struct bitmap_ctx {
	uint64_t start, *bits;
	long n;
};

static void bitmap_one(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte)
{
	struct bitmap_ctx *b = ctx;
	uint64_t bit = (addr - b->start) >> PAGE_SHIFT;

	(void)a;
	if (pte_kind(*pte) != RMAP_PTE_PRESENT)
		return;
	b->bits[bit / 64] |= 1ull << (bit % 64);
	b->n++;
}

/* A table wholly present or empty is known from its count, not its ptes. */
static void bitmap_table(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr,
			 uint64_t end)
{
	struct bitmap_ctx *b = ctx;
	unsigned present = *pt_present(a, pte);
	uint64_t from, to;

	if (present == 0)
		return;
	if (present != PTRS_PER_NODE) {
		visit_pte_range(a, ctx, pte, addr, end, bitmap_one);
		return;
	}
	from = (addr - b->start) >> PAGE_SHIFT;
	to = (end - b->start + PAGE_SIZE - 1) >> PAGE_SHIFT;
	b->n += (long)(to - from);
	for (; from < to && from % 64; from++)
		b->bits[from / 64] |= 1ull << (from % 64);
	for (; from + 64 <= to; from += 64)
		b->bits[from / 64] = ~0ull;
	for (; from < to; from++)
		b->bits[from / 64] |= 1ull << (from % 64);
}

long rmap_pte_bitmap(struct rmap_arena *a, rmap_mm_t mm, uint64_t start, uint64_t end,
		     uint64_t *bits)
{
	struct bitmap_ctx b = { start & ~(PAGE_SIZE - 1), bits, 0 };
	struct mm_struct *m;

	if (!mm_live(a, mm) || !bits)
		return -EINVAL;
	m = MM(a, mm);
	memset(bits, 0, ((((end - b.start) >> PAGE_SHIFT) + 63) / 64) * sizeof(*bits));
	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_WALK_PTES);
	walk_ptes(a, m, b.start, end, bitmap_table, &b);
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
	return b.n;
}

/* ---- mremap's pte move and remap_file_pages' file ptes ---- */

struct move_ctx {
	struct mm_struct *mm;
	uint64_t delta;		/* new - old, modulo 2^64 */
	int err;
};

static void move_one_pte(struct rmap_arena *a, void *ctx, uint64_t addr, uint64_t *pte)
{
	struct move_ctx *c = ctx;
	uint64_t *dst = pte_lookup(a, c->mm, addr + c->delta, 1);

	if (!dst) {
		c->err = -ENOSPC;
		return;
	}
	pte_set(a, dst, *pte);
	pte_set(a, pte, 0);
}

static void move_pte_table(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr, uint64_t end)
{
	visit_pte_range(a, ctx, pte, addr, end, move_one_pte);
}

/* move_page_tables: ptes move, index/mapping/mapcount stay (no rmap call). */
int move_page_tables(struct rmap_arena *a, rmap_mm_t mm, uint64_t old_start, uint64_t new_start, uint64_t len)
{
	struct move_ctx c = { MM(a, mm), new_start - old_start, 0 };

	rl_lock(a, &c.mm->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_MOVE_PAGE_TABLES);
	walk_ptes(a, c.mm, old_start, old_start + len, move_pte_table, &c);
	rl_unlock(a, &c.mm->page_table_lock, RMAP_LC_PAGE_TABLE);
	return c.err;
}

/* install_file_pte: zap what is there, leave a file pte holding @pgoff. */
int install_file_pte(struct rmap_arena *a, rmap_mm_t mm, uint64_t addr, uint64_t pgoff)
{
	struct mm_struct *m = MM(a, mm);
	uint64_t *pte;
	int err = 0;

	rl_lock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_REMAP_FILE_PAGES);
	pte = pte_lookup(a, m, addr, 1);
	if (pte) {
		if (*pte)
			zap_one(a, m, addr, pte);
		pte_set(a, pte, mk_pte(RMAP_PTE_FILE, pgoff, 0));
	} else {
		err = -ENOSPC;
	}
	rl_unlock(a, &m->page_table_lock, RMAP_LC_PAGE_TABLE);
	return err;
}

struct each_ctx {
	pte_visit_fn fn;
	void *ctx;
};

static void each_pte_table(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr, uint64_t end)
{
	struct each_ctx *c = ctx;

	visit_pte_range(a, c->ctx, pte, addr, end, c->fn);
}

struct present_ctx {
	long bad;
	uint64_t first;
};

static void present_table(struct rmap_arena *a, void *ctx, uint64_t *pte, uint64_t addr,
			  uint64_t end)
{
	struct present_ctx *c = ctx;

	(void)end;
	if (present_in(pte, 0, PTRS_PER_NODE - 1) != *pt_present(a, pte) && !c->bad++)
		c->first = addr;
}

/* For rmap_check: the pte tables of @mm whose pt_present is wrong (the first in *first). */
long pt_present_mismatches(struct rmap_arena *a, rmap_mm_t mm, uint64_t *first)
{
	struct present_ctx c = { 0, 0 };

	walk_ptes(a, MM(a, mm), 0, 1ull << VA_BITS, present_table, &c);
	*first = c.first;
	return c.bad;
}

/* For rmap_check: visit every pte of @mm (at quiescence, no lock needed). */
void for_each_pte(struct rmap_arena *a, rmap_mm_t mm, pte_visit_fn fn, void *ctx)
{
	struct each_ctx c = { fn, ctx };

	walk_ptes(a, MM(a, mm), 0, 1ull << VA_BITS, each_pte_table, &c);
}
