/* SPDX-License-Identifier: MIT */
/*
 * arena.c - the shared arena: creation and attachment, the object pools,
 * and the shadow mem_map (struct pages found by frame key).
 *
 * Layout: [header][pages][page hash][vmas][mms][anon_vmas][address_spaces]
 * [address_space hash][page-table nodes][thread slots], each 64-byte
 * aligned (page-table nodes 4096).  The file is sparse: untouched capacity
 * costs nothing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define HASH_EMPTY	0u

static const char *const mode_names[RMAP_NR_MODES] = {
	[RMAP_LOCKED] = "locked",
	[RMAP_LOCKLESS] = "lockless",
	[RMAP_LOCKLESS_RCU] = "lockless-rcu",
	[RMAP_BROKEN_NONATOMIC] = "broken-nonatomic",
	[RMAP_BROKEN_UNBIASED] = "broken-unbiased",
};

const char *rmap_mode_name(enum rmap_mode mode)
{
	return (unsigned)mode < RMAP_NR_MODES ? mode_names[mode] : "unknown";
}

int rmap_mode_parse(const char *name, enum rmap_mode *mode)
{
	for (int m = 0; m < RMAP_NR_MODES; m++) {
		if (name && strcmp(name, mode_names[m]) == 0) {
			*mode = (enum rmap_mode)m;
			return 0;
		}
	}
	return -1;
}

void rmap_arena_default_config(struct rmap_arena_config *cfg)
{
	cfg->mode = RMAP_LOCKLESS;
	cfg->max_pages = 1u << 20;
	cfg->max_vmas = 1u << 17;
	cfg->max_mms = 1u << 13;
	cfg->max_anon_vmas = 1u << 17;
	cfg->max_mappings = 1u << 14;
	cfg->max_pt_nodes = 1u << 15;
	cfg->max_threads = 4096;
	cfg->lockstat_times = 1;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static void pool_init(struct pool *p, uint64_t *off, uint32_t max, uint32_t size,
		      uint32_t link_off, uint64_t align)
{
	*off = align_up(*off, align);
	p->off = *off;
	p->elem_size = size;
	p->max = max;
	p->free_link_off = link_off;
	*off += (uint64_t)(max + 1) * size;
}

/* Compute every offset of the layout for @cfg into @h; returns the size. */
static uint64_t layout(struct rmap_arena *h, const struct rmap_arena_config *cfg)
{
	uint64_t off = sizeof(struct rmap_arena);
	uint32_t no_free_list = 0;	/* pools never freed into */

	h->cfg = *cfg;
	h->hash_mask = pow2_at_least(2ull * cfg->max_pages) - 1;
	h->mapping_hash_mask = pow2_at_least(cfg->max_mappings) - 1;
	pool_init(&h->pool[POOL_PAGES], &off, cfg->max_pages, sizeof(struct page), no_free_list, 64);
	off = align_up(off, 64);
	h->off_hash = off;
	off += ((uint64_t)h->hash_mask + 1) * sizeof(uint32_t);
	pool_init(&h->pool[POOL_VMAS], &off, cfg->max_vmas, sizeof(struct vm_area_struct),
		  offsetof(struct vm_area_struct, free_next), 64);
	pool_init(&h->pool[POOL_MMS], &off, cfg->max_mms, sizeof(struct mm_struct),
		  offsetof(struct mm_struct, free_next), 64);
	pool_init(&h->pool[POOL_ANON_VMAS], &off, cfg->max_anon_vmas, sizeof(struct anon_vma),
		  offsetof(struct anon_vma, free_next), 64);
	pool_init(&h->pool[POOL_MAPPINGS], &off, cfg->max_mappings, sizeof(struct address_space), no_free_list, 64);
	off = align_up(off, 64);
	h->off_mapping_hash = off;
	off += ((uint64_t)h->mapping_hash_mask + 1) * sizeof(uint32_t);
	pool_init(&h->pool[POOL_PT_NODES], &off, cfg->max_pt_nodes, sizeof(struct pt_node),
		  0 /* e[0] links free nodes */, 4096);
	h->off_pt_present = off;
	off += ((uint64_t)cfg->max_pt_nodes + 1) * sizeof(uint16_t);
	off = align_up(off, 64);
	h->off_threads = off;
	off += ((uint64_t)cfg->max_threads + 1) * sizeof(struct thread_slot);
	return align_up(off, 4096);
}

static int config_valid(const struct rmap_arena_config *cfg)
{
	return (unsigned)cfg->mode < RMAP_NR_MODES && cfg->max_pages && cfg->max_vmas &&
	       cfg->max_mms && cfg->max_anon_vmas && cfg->max_mappings && cfg->max_pt_nodes > 4 &&
	       cfg->max_pages < (1u << 30) && cfg->max_vmas < (1u << 30) && cfg->max_pt_nodes < (1u << 30);
}

/*
 * Size @fd for @cfg, map it and write the header.  @reserve: fallocate the
 * blocks (a file on a filesystem); a memfd is only sized (shmem allocates
 * at first touch and fails like anonymous memory, never with SIGBUS).
 */
static int arena_init_fd(int fd, const struct rmap_arena_config *cfg, int reserve,
			 struct rmap_arena **out)
{
	struct rmap_arena h, *a;
	uint64_t size;

	if (!cfg || !out || !config_valid(cfg))
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	size = layout(&h, cfg);
	/*
	 * Reserve the blocks now: a store into a page of a sparse MAP_SHARED
	 * file that the filesystem cannot back raises SIGBUS in whichever
	 * traced process touches it.  Filesystems without fallocate get a
	 * sparse file (docs/rmapcore.md says so).
	 */
	if (reserve ? fallocate(fd, 0, 0, (off_t)size) != 0 &&
		      (errno != EOPNOTSUPP || ftruncate(fd, (off_t)size) != 0)
		    : ftruncate(fd, (off_t)size) != 0)
		return -errno;
	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		return -errno;
	h.version = RMAP_VERSION;
	h.mode = cfg->mode;
	h.size = size;
	if (getrandom(&h.id, sizeof(h.id), 0) != sizeof(h.id))
		h.id = (uint64_t)(uintptr_t)a ^ (uint64_t)getpid() << 32;
	memcpy(a, &h, sizeof(h));
	tsc_calibrate(a);
	arena_prepare_thread_state();
	/* Publish the magic last: attachers reject a half-made arena. */
	uint64_t magic;
	memcpy(&magic, RMAP_MAGIC, 8);
	__atomic_store_n((uint64_t *)(void *)a->magic, magic, __ATOMIC_RELEASE);
	*out = a;
	return 0;
}

int rmap_arena_create(const char *path, const struct rmap_arena_config *cfg, struct rmap_arena **out)
{
	int fd, err;

	if (!path || !cfg || !out || !config_valid(cfg))
		return -EINVAL;
	fd = open(path, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = arena_init_fd(fd, cfg, 1, out);
	close(fd);
	if (err)
		unlink(path);
	return err;
}

/* Allocate the shmem pages of [off, off + len) now, in the creator. */
static void populate(struct rmap_arena *a, uint64_t off, uint64_t len)
{
	uint64_t start = off & ~4095ull;

	(void)madvise((char *)a + start, align_up(off + len, 4096) - start, MADV_POPULATE_WRITE);
}

int rmap_arena_create_fd(int fd, const struct rmap_arena_config *cfg, struct rmap_arena **out)
{
	int err = arena_init_fd(fd, cfg, 0, out);
	struct rmap_arena *a = err ? NULL : *out;

	/*
	 * The hashes are hit at random: without this, the first pages keyed
	 * into each 4 KiB of them allocate and zero a shmem page under a
	 * traced process's reconciliation, until all 8 MiB (by default) have
	 * been hit.  Allocated here once, later faults on them are minor and
	 * mapped 16 at a time.  Best effort: before Linux 5.14 they fault.
	 */
	if (a) {
		populate(a, a->off_hash, ((uint64_t)a->hash_mask + 1) * sizeof(uint32_t));
		populate(a, a->off_mapping_hash,
			 ((uint64_t)a->mapping_hash_mask + 1) * sizeof(uint32_t));
	}
	return err;
}

int rmap_arena_attach_fd(int fd, struct rmap_arena **out)
{
	struct rmap_arena h, *a;
	struct stat st;

	if (!out || fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(h))
		return -EINVAL;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	if (memcmp(h.magic, RMAP_MAGIC, 8) != 0 || h.version != RMAP_VERSION || h.size != (uint64_t)st.st_size)
		return -EINVAL;
	a = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		return -errno;
	arena_prepare_thread_state();
	*out = a;
	return 0;
}

int rmap_arena_attach(const char *path, struct rmap_arena **out)
{
	int fd, err;

	if (!path)
		return -EINVAL;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = rmap_arena_attach_fd(fd, out);
	close(fd);
	return err;
}

void rmap_arena_detach(struct rmap_arena *a)
{
	if (a)
		munmap(a, a->size);
}

void rmap_arena_range(const struct rmap_arena *a, uintptr_t *start, size_t *len)
{
	*start = (uintptr_t)a;
	*len = a->size;
}

enum rmap_mode rmap_arena_mode(const struct rmap_arena *a)
{
	return (enum rmap_mode)a->mode;
}

static void note_enospc(struct rmap_arena *a)
{
	__atomic_fetch_add(&a->enospc, 1, __ATOMIC_RELAXED);
}

void rmap_counters(const struct rmap_arena *a, struct rmap_counters *c)
{
	const struct pool *p = a->pool;

	c->nr_mapped = LOAD(&a->nr_mapped);
	c->pages_used = LOAD(&p[POOL_PAGES].used);
	c->pages_max = p[POOL_PAGES].max;
	c->vmas_used = LOAD(&p[POOL_VMAS].used);
	c->vmas_max = p[POOL_VMAS].max;
	c->mms_used = LOAD(&p[POOL_MMS].used);
	c->mms_max = p[POOL_MMS].max;
	c->anon_vmas_used = LOAD(&p[POOL_ANON_VMAS].used);
	c->anon_vmas_max = p[POOL_ANON_VMAS].max;
	c->pt_nodes_used = LOAD(&p[POOL_PT_NODES].used);
	c->pt_nodes_max = p[POOL_PT_NODES].max;
	c->enospc = LOAD(&a->enospc);
	c->violations = LOAD(&a->violations);
}

int64_t rmap_nr_mapped_peak(const struct rmap_arena *a)
{
	return LOAD(&a->nr_mapped_peak);
}

uint64_t rmap_locks_broken(const struct rmap_arena *a)
{
	return LOAD(&a->locks_broken);
}

/* ---- pools ---- */
static uint32_t *free_link(struct rmap_arena *a, int p, uint32_t i)
{
	return (uint32_t *)((char *)pool_elem(a, p, i) + a->pool[p].free_link_off);
}

/*
 * Take the oldest freed index, else a never-used one.  Returns 0 and counts
 * ENOSPC when full.  FIFO, so a freed object stays freed for a while (a
 * stale reader of an N2 anon_vma can meet it freed, not only reused).
 * The free list is under a per-pool leaf lock: frees and
 * allocations (vmas, anon_vmas, page-table nodes) are off the rmap's hot
 * paths, and a lock makes reuse order plain to ThreadSanitizer.
 */
uint32_t pool_alloc(struct rmap_arena *a, int p)
{
	struct pool *pl = &a->pool[p];
	uint32_t i;

	rl_lock_raw(&pl->lock);
	i = pl->free_head;
	if (i) {
		pl->free_head = *free_link(a, p, i);
		if (!pl->free_head)
			pl->free_tail = 0;
	} else if (pl->bump < pl->max) {
		i = pl->bump + 1;
		STORE_REL(&pl->bump, i);
	}
	rl_unlock_raw(&pl->lock);
	if (!i) {
		note_enospc(a);
		return 0;
	}
	__atomic_fetch_add(&pl->used, 1, __ATOMIC_RELAXED);
	return i;
}

void pool_free(struct rmap_arena *a, int p, uint32_t i)
{
	struct pool *pl = &a->pool[p];

	rl_lock_raw(&pl->lock);
	*free_link(a, p, i) = 0;
	if (pl->free_tail)
		*free_link(a, p, pl->free_tail) = i;
	else
		pl->free_head = i;
	pl->free_tail = i;
	rl_unlock_raw(&pl->lock);
	__atomic_fetch_sub(&pl->used, 1, __ATOMIC_RELAXED);
}

/* The page pool is never freed into: a lock-free bump. */
uint32_t page_alloc_index(struct rmap_arena *a)
{
	struct pool *pl = &a->pool[POOL_PAGES];
	uint32_t i = LOAD(&pl->bump);

	do {
		if (i >= pl->max) {
			note_enospc(a);
			return 0;
		}
	} while (!__atomic_compare_exchange_n(&pl->bump, &i, i + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	__atomic_fetch_add(&pl->used, 1, __ATOMIC_RELAXED);
	return i + 1;
}

/* ---- the shadow mem_map ---- */
static uint32_t *hash_slot(const struct rmap_arena *a, uint32_t h)
{
	return (uint32_t *)((char *)a + a->off_hash) + (h & a->hash_mask);
}

static uint32_t hash_key(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (uint32_t)key;
}

/*
 * Wait for a slot another inserter has claimed but not yet published.  An
 * inserter SIGKILLed between claim and publish would hold the slot for
 * ever: like a lock's dead holder (locks.c), once it has been silent for a
 * second and its thread is gone, the slot is taken back (counted in
 * locks_broken).  Nobody can have inserted past a busy slot, so emptying it
 * loses no entry; the page index it may have taken is left to
 * rmap_reap_orphan_pages.
 */
static uint32_t slot_wait(struct rmap_arena *a, uint32_t *slot)
{
	uint64_t start = 0;
	unsigned spins = 0;
	uint32_t v;

	while ((v = LOAD_ACQ(slot)) & HASH_BUSY_BIT) {
		if ((++spins & 1023) || !dead_owner_since(&start, v & ~HASH_BUSY_BIT)) {
			__builtin_ia32_pause();
			continue;
		}
		if (__atomic_compare_exchange_n(slot, &v, HASH_EMPTY, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			__atomic_fetch_add(&a->locks_broken, 1, __ATOMIC_RELAXED);
	}
	return v;
}

static void page_init(struct rmap_arena *a, struct page *p, uint64_t key)
{
	memset(p, 0, sizeof(*p));
	p->_count = -1;			/* free, like memmap_init_zone */
	p->_mapcount = mapcount_reset_value(a);
	p->key = key;
}

static rmap_page_t page_hash(struct rmap_arena *a, uint64_t key, int create)
{
	uint32_t h = hash_key(key), n;

	for (n = 0; n <= a->hash_mask; n++, h++) {
		uint32_t *slot = hash_slot(a, h);
		uint32_t v = slot_wait(a, slot);

		if (v == HASH_EMPTY) {
			if (!create)
				return 0;
			/* the claim names us, so a waiter can tell if we died */
			if (!__atomic_compare_exchange_n(slot, &v, HASH_BUSY_BIT | (uint32_t)current_tid(),
							 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				v = slot_wait(a, slot);
				if (v == HASH_EMPTY) {	/* its inserter ran out of pages */
					h--, n--;
					continue;
				}
			} else {
				rmap_page_t i = page_alloc_index(a);
				if (i)
					page_init(a, PG(a, i), key);
				STORE_REL(slot, i);	/* 0 gives the slot back */
				return i;
			}
		}
		if (PG(a, v)->key == key)
			return v;
	}
	note_enospc(a);
	return 0;
}

uint32_t *page_hash_home(struct rmap_arena *a, uint64_t key)
{
	return hash_slot(a, hash_key(key));
}

/*
 * An inserter SIGKILLed after page_alloc_index and before publishing left
 * a page nobody can find, never initialised: all zeroes, which reads as
 * mapcount 1 in the biased modes (and page_count 1 in all).  Give it the
 * free state (counted once: only if it had another), and empty any slot
 * still claimed (quiescence: nobody waits on it).
 */
long rmap_reap_orphan_pages(struct rmap_arena *a)
{
	uint32_t npages = LOAD(&a->pool[POOL_PAGES].bump);
	struct page freed;
	uint8_t *published;
	long n = 0;

	if (npages > a->pool[POOL_PAGES].max)
		npages = a->pool[POOL_PAGES].max;
	published = calloc(npages + 1, 1);
	if (!published)
		return -ENOMEM;
	for (uint32_t h = 0; h <= a->hash_mask; h++) {
		uint32_t *slot = hash_slot(a, h), v = LOAD(slot);

		if (v & HASH_BUSY_BIT)
			STORE(slot, HASH_EMPTY);
		else if (v && v <= npages)
			published[v] = 1;
	}
	page_init(a, &freed, 0);
	for (uint32_t i = 1; i <= npages; i++)
		if (!published[i] && memcmp(PG(a, i), &freed, sizeof(freed))) {
			*PG(a, i) = freed;
			n++;
		}
	free(published);
	return n;
}

rmap_page_t rmap_page_lookup(struct rmap_arena *a, uint64_t key)
{
	return page_hash(a, key, 1);
}

rmap_page_t rmap_page_find(const struct rmap_arena *a, uint64_t key)
{
	return page_hash((struct rmap_arena *)a, key, 0);
}

int rmap_page_mapcount(const struct rmap_arena *a, rmap_page_t page)
{
	if (!valid_index(a, POOL_PAGES, page))
		return 0;
	return page_mapcount(a, PG(a, page));
}

int rmap_page_info(const struct rmap_arena *a, rmap_page_t page, struct rmap_page_info *out)
{
	const struct page *p;
	uint32_t m;

	if (!valid_index(a, POOL_PAGES, page) || !out)
		return -EINVAL;
	p = PG(a, page);
	m = LOAD(&p->mapping);
	out->key = p->key;
	out->flags = LOAD(&p->flags);
	out->count = LOAD(&p->_count) + 1;
	out->mapcount = page_mapcount(a, p);
	out->anon = PageAnon(m);
	out->mapping = mapping_index(m);
	out->index = LOAD(&p->index);
	return 0;
}

/* ---- address_spaces: one per file identity, found by a small hash ---- */
static uint32_t *mapping_bucket(struct rmap_arena *a, const struct rmap_file_id *f)
{
	uint32_t h = hash_key(f->dev * 0x9e3779b97f4a7c15ull ^ f->ino);
	return (uint32_t *)((char *)a + a->off_mapping_hash) + (h & a->mapping_hash_mask);
}

uint32_t mapping_lookup(struct rmap_arena *a, const struct rmap_file_id *file)
{
	uint32_t *b = mapping_bucket(a, file), i;

	rl_lock_raw(&a->mapping_lock);
	for (i = *b; i; i = AS(a, i)->hash_next)
		if (AS(a, i)->dev == file->dev && AS(a, i)->ino == file->ino)
			goto out;
	i = pool_alloc(a, POOL_MAPPINGS);
	if (i) {
		struct address_space *m = AS(a, i);
		memset(m, 0, sizeof(*m));
		m->dev = file->dev;
		m->ino = file->ino;
		m->hash_next = *b;
		*b = i;
	}
out:
	rl_unlock_raw(&a->mapping_lock);
	return i;
}
