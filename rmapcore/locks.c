/* SPDX-License-Identifier: MIT */
/*
 * locks.c - instrumented locks and lock_stat.
 *
 * Three lock shapes share one acquisition core: word spinlocks
 * (anon_vma->lock, i_mmap_lock, page_table_lock, lru_lock) whose word is the
 * owner tid, and the two bit locks in page->flags (PG_locked, PG_maplock)
 * whose last owner sits in a field of the page.  Statistics go to the
 * calling thread's slot in the arena (plain stores: one writer), or to the
 * shared overflow slot with atomics when slots ran out.
 *
 * Contention uses lock_stat's try-then-lock trick: the first attempt is a
 * trylock; only a miss counts a contention and starts the wait clock.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "internal.h"

#define SPIN_BEFORE_YIELD	64
#define DEAD_OWNER_NS		1000000000ull	/* a holder silent this long may be dead */
#define HOLD_DEPTH		4

__thread struct tls_cache rmap_tcache[4];
static __thread int32_t tls_tid;
static __thread uint64_t hold_t0[RMAP_LC_NR][HOLD_DEPTH];
static __thread uint8_t hold_depth[RMAP_LC_NR];

static __thread rmap_lockwait_fn wait_hook;
static __thread void *wait_hook_ctx;
static __thread uint64_t wait_hook_ns;

/* fork: the child is another thread of another process; give it fresh state. */
static void atfork_child(void)
{
	memset(rmap_tcache, 0, sizeof(rmap_tcache));
	tls_tid = (int32_t)getpid();	/* its only thread: no gettid syscall, nor its libc page */
	memset(hold_depth, 0, sizeof(hold_depth));
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_register(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
void arena_prepare_thread_state(void)
{
	pthread_once(&atfork_once, atfork_register);
}

int32_t current_tid(void)
{
	if (unlikely(tls_tid == 0))
		tls_tid = (int32_t)syscall(SYS_gettid);
	return tls_tid;
}

static struct thread_slot *slot_at(struct rmap_arena *a, uint32_t i)
{
	return (struct thread_slot *)((char *)a + a->off_threads + (uint64_t)i * sizeof(struct thread_slot));
}

/*
 * A released slot first: its pages exist already, where a never-used slot
 * allocates and zeroes one or two shmem pages under the claimer (every fork
 * child claims one).  The tag in the high half defeats ABA.
 */
static struct thread_slot *pop_released(struct rmap_arena *a)
{
	uint64_t head = LOAD_ACQ(&a->threads_free), next;
	struct thread_slot *s;

	while ((uint32_t)head) {
		s = slot_at(a, (uint32_t)head);
		next = ((head >> 32) + 1) << 32 | LOAD(&s->free_next);
		if (__atomic_compare_exchange_n(&a->threads_free, &head, next, 0,
						__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
			return s;
	}
	return NULL;
}

static struct thread_slot *claim_slot(struct rmap_arena *a, int *shared)
{
	struct thread_slot *s = pop_released(a);
	uint32_t n;

	if (!s) {
		n = __atomic_add_fetch(&a->threads_claimed, 1, __ATOMIC_RELAXED);
		if (n > a->cfg.max_threads) {
			*shared = 1;
			return slot_at(a, 0);
		}
		s = slot_at(a, n);
	}
	STORE(&s->pid, (int32_t)getpid());
	STORE(&s->tid, current_tid());
	*shared = 0;
	return s;
}

/* thread_slot() missed its first cache entry: look further, or claim. */
struct thread_slot *thread_slot_slow(struct rmap_arena *a, int *shared)
{
	struct tls_cache *c = &rmap_tcache[0];
	unsigned i;

	for (i = 1; i < 4; i++) {
		if (rmap_tcache[i].a == a && rmap_tcache[i].id == a->id) {
			struct tls_cache t = rmap_tcache[i];
			rmap_tcache[i] = rmap_tcache[0];
			rmap_tcache[0] = t;
			*shared = t.shared;
			return t.slot;
		}
	}
	/* Not memmove: its libc page would be one more fault in a fork child. */
	rmap_tcache[3] = rmap_tcache[2];
	rmap_tcache[2] = rmap_tcache[1];
	rmap_tcache[1] = rmap_tcache[0];
	c->a = a;
	c->id = a->id;
	c->slot = claim_slot(a, &c->shared);
	*shared = c->shared;
	return c->slot;
}

void rmap_thread_release(struct rmap_arena *a)
{
	uint64_t head, next;
	uint32_t i;

	for (i = 0; i < 4; i++)
		if (rmap_tcache[i].a == a && rmap_tcache[i].id == a->id)
			break;
	if (i == 4)
		return;
	rmap_tcache[i].a = NULL;
	if (rmap_tcache[i].shared)
		return;
	i = (uint32_t)(((char *)rmap_tcache[i].slot - ((char *)a + a->off_threads)) /
		       sizeof(struct thread_slot));
	head = LOAD(&a->threads_free);
	do {
		STORE(&slot_at(a, i)->free_next, (uint32_t)head);
		next = ((head >> 32) + 1) << 32 | i;
	} while (!__atomic_compare_exchange_n(&a->threads_free, &head, next, 0,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

uint32_t rmap_threads_claimed(const struct rmap_arena *a)
{
	return LOAD(&a->threads_claimed);
}

static void slot_min(uint64_t *p, uint64_t v, int shared)
{
	uint64_t old = LOAD(p);

	while ((old == 0 || v < old) &&
	       !(shared ? __atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
			: (STORE(p, v), 1)))
		;
}

static void slot_max(uint64_t *p, uint64_t v, int shared)
{
	uint64_t old = LOAD(p);

	while (v > old &&
	       !(shared ? __atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
			: (STORE(p, v), 1)))
		;
}

/* ---- time ---- */
uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ticks(const struct rmap_arena *a)
{
	return a->tsc_mult ? __rdtsc() : mono_ns();
}

static uint64_t ticks_to_ns(const struct rmap_arena *a, uint64_t t)
{
	return a->tsc_mult ? (uint64_t)(((unsigned __int128)t * a->tsc_mult) >> 32) : t;
}

/* Calibrate rdtsc against CLOCK_MONOTONIC once per arena (about 2 ms). */
void tsc_calibrate(struct rmap_arena *a)
{
	uint64_t n0 = mono_ns(), c0 = __rdtsc(), n1, c1;

	do {
		n1 = mono_ns();
	} while (n1 - n0 < 2000000);
	c1 = __rdtsc();
	a->tsc_mult = c1 > c0 ? (uint64_t)(((unsigned __int128)(n1 - n0) << 32) / (c1 - c0)) : 0;
}

/* ---- the acquisition core ---- */
struct lockref {
	uint32_t *word;		/* lock word, or page->flags */
	uint32_t bit;		/* 0: word lock holding the tid */
	uint32_t *owner;	/* last/current owner tid */
};

/*
 * On success the owner tid is recorded at once, before anything else: a
 * holder SIGKILLed right after taking a bit lock must still be findable
 * by break_dead_owner, or its waiters would spin for ever.  *@prev gets
 * the previous owner (for owner_changes).
 */
/* Only the holder writes ->owner: a plain load and store, no atomic RMW. */
static inline void set_owner(const struct lockref *r, int32_t tid, uint32_t *prev)
{
	*prev = LOAD(r->owner);
	if (*prev != (uint32_t)tid)
		STORE(r->owner, (uint32_t)tid);
}

static inline int lock_try(const struct lockref *r, int32_t tid, uint32_t *prev)
{
	uint32_t zero = 0;

	if (r->bit ? (__atomic_fetch_or(r->word, r->bit, __ATOMIC_ACQUIRE) & r->bit)
		   : !__atomic_compare_exchange_n(r->word, &zero, (uint32_t)tid, 0,
						  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	set_owner(r, tid, prev);
	return 1;
}

static inline int lock_busy(const struct lockref *r)
{
	uint32_t v = LOAD(r->word);
	return r->bit ? (v & r->bit) != 0 : v != 0;
}

/* Is thread @tid gone, or a zombie nobody reaped yet?  (no stdio: async-signal-safe) */
static int task_dead(uint32_t tid)
{
	char path[32] = "/proc/", buf[256], *s;
	char digits[12];
	int n = 0, fd, len;

	if (kill((pid_t)tid, 0) != 0)
		return errno == ESRCH;
	do {
		digits[n++] = (char)('0' + tid % 10);
		tid /= 10;
	} while (tid);
	for (len = 6; n;)
		path[len++] = digits[--n];
	memcpy(path + len, "/stat", 6);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	s = strrchr(buf, ')');
	return s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X');
}

/*
 * Polled by a waiter on something that is not a lock word (a claimed page
 * hash slot): 1 once @owner has held on for DEAD_OWNER_NS since the first
 * poll (*@start, 0 before it) and its thread is gone.
 */
int dead_owner_since(uint64_t *start, uint32_t owner)
{
	uint64_t n = mono_ns();

	if (!*start) {
		*start = n;
		return 0;
	}
	return n - *start > DEAD_OWNER_NS && task_dead(owner);
}

/*
 * A holder that has been silent for a second may have been SIGKILLed
 * inside rmapcore: if its thread is gone, take the lock over (counted in
 * @a; a raw lock's taker has no arena at hand).
 */
static int break_dead_owner(struct rmap_arena *a, const struct lockref *r, int32_t tid)
{
	/* a word lock holds its owner's tid; a bit lock has it beside */
	uint32_t owner = r->bit ? LOAD(r->owner) : LOAD(r->word);

	if (owner == 0 || owner == (uint32_t)tid || !task_dead(owner))
		return 0;
	if (!r->bit && !__atomic_compare_exchange_n(r->word, &owner, (uint32_t)tid, 0,
						    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	if (a)
		__atomic_fetch_add(&a->locks_broken, 1, __ATOMIC_RELAXED);
	return 1;
}

static void lock_wait(struct rmap_arena *a, const struct lockref *r, int32_t tid, uint32_t *prev)
{
	uint64_t start = 0;
	unsigned spins = 0;

	for (;;) {
		if (!lock_busy(r) && lock_try(r, tid, prev))
			return;
		if (++spins < SPIN_BEFORE_YIELD) {
			_mm_pause();
			continue;
		}
		sched_yield();
		if ((spins & 1023) == 0) {
			uint64_t n = mono_ns();
			if (start == 0)
				start = n;
			else if (n - start > DEAD_OWNER_NS && break_dead_owner(a, r, tid)) {
				set_owner(r, tid, prev);
				return;
			}
		}
	}
}

static void note_acquired(struct rmap_arena *a, enum rmap_lock_class c,
			  unsigned site, int32_t tid, uint32_t prev, uint64_t wait_t0)
{
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);
	struct lockstat_class *ls = &s->ls[c];
	uint8_t d;

	slot_add(&ls->acquisitions, 1, shared);
	/* the lock (its cache line) came from another thread: a bounce */
	if (prev && prev != (uint32_t)tid)
		slot_add(&ls->owner_changes, 1, shared);
	if (unlikely(wait_t0)) {
		uint64_t w = ticks_to_ns(a, now_ticks(a) - wait_t0);
		slot_add(&ls->contentions, 1, shared);
		slot_add(&s->site_cont[c][site % RMAP_LOCK_SITES], 1, shared);
		slot_add(&ls->wtotal, w, shared);
		slot_min(&ls->wmin, w ? w : 1, shared);
		slot_max(&ls->wmax, w, shared);
		if (wait_hook && w >= wait_hook_ns)
			wait_hook(wait_hook_ctx, c, site, w);
	}
	d = hold_depth[c]++;
	if (a->cfg.lockstat_times && d < HOLD_DEPTH)
		hold_t0[c][d] = now_ticks(a);
}

/* Spinlocks this thread holds; of our classes only the page lock may sleep. */
int spinlocks_held(void)
{
	int c, n = 0;

	for (c = 0; c < RMAP_LC_NR; c++)
		if (c != RMAP_LC_PG_LOCKED)
			n += hold_depth[c];
	return n;
}

static void note_released(struct rmap_arena *a, enum rmap_lock_class c)
{
	uint8_t d = hold_depth[c];

	if (unlikely(d == 0))
		return;		/* released by another thread than the acquirer */
	hold_depth[c] = --d;
	if (a->cfg.lockstat_times && d < HOLD_DEPTH) {
		int shared;
		struct thread_slot *s = thread_slot(a, &shared);
		uint64_t h = ticks_to_ns(a, now_ticks(a) - hold_t0[c][d]);
		slot_add(&s->ls[c].htotal, h, shared);
		slot_min(&s->ls[c].hmin, h ? h : 1, shared);
		slot_max(&s->ls[c].hmax, h, shared);
	}
}

static void ref_lock(struct rmap_arena *a, const struct lockref *r, enum rmap_lock_class c, unsigned site)
{
	int32_t tid = current_tid();
	uint64_t t0 = 0;

	uint32_t prev = 0;

	if (unlikely(!lock_try(r, tid, &prev))) {
		t0 = now_ticks(a) | 1;
		lock_wait(a, r, tid, &prev);
	}
	note_acquired(a, c, site, tid, prev, t0);
}

static int ref_trylock(struct rmap_arena *a, const struct lockref *r, enum rmap_lock_class c, unsigned site)
{
	int32_t tid = current_tid();

	uint32_t prev;

	if (lock_try(r, tid, &prev)) {
		note_acquired(a, c, site, tid, prev, 0);
		return 1;
	}
	int shared;
	struct thread_slot *s = thread_slot(a, &shared);
	slot_add(&s->ls[c].trylock_failures, 1, shared);
	return 0;
}

static void ref_unlock(struct rmap_arena *a, const struct lockref *r, enum rmap_lock_class c)
{
	note_released(a, c);
	if (r->bit)
		__atomic_fetch_and(r->word, ~r->bit, __ATOMIC_RELEASE);
	else
		__atomic_store_n(r->word, 0, __ATOMIC_RELEASE);
}

/* ---- word spinlocks ---- */
#define WORD_REF(l)	{ &(l)->owner, 0, &(l)->last }

void rl_lock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c, unsigned site)
{
	struct lockref r = WORD_REF(l);
	ref_lock(a, &r, c, site);
}

int rl_trylock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c, unsigned site)
{
	struct lockref r = WORD_REF(l);
	return ref_trylock(a, &r, c, site);
}

void rl_unlock(struct rmap_arena *a, struct rlock *l, enum rmap_lock_class c)
{
	struct lockref r = WORD_REF(l);
	ref_unlock(a, &r, c);
}

/*
 * A leaf lock's holder SIGKILLed inside (a pool's free list, the mapping
 * list: a few stores) must not wedge everyone after it, the supervisor's
 * final reap included: lock_wait takes the lock over once the holder's
 * thread is gone (at worst an index leaks from a free list).
 */
void rl_lock_raw(struct rlock *l)
{
	struct lockref r = WORD_REF(l);
	int32_t tid = current_tid();
	uint32_t prev;

	if (!lock_try(&r, tid, &prev))
		lock_wait(NULL, &r, tid, &prev);
}

void rl_unlock_raw(struct rlock *l)
{
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELEASE);
}

/* ---- bit locks in page->flags ---- */
#define PAGELOCK_REF(p)	{ &(p)->flags, RMAP_PG_LOCKED, &(p)->pagelock_owner }
#define MAPLOCK_REF(p)	{ &(p)->flags, RMAP_PG_MAPLOCK, &(p)->maplock_owner }

/* TestSetPageLocked. */
int trylock_page(struct rmap_arena *a, struct page *p, unsigned site)
{
	struct lockref r = PAGELOCK_REF(p);
	return ref_trylock(a, &r, RMAP_LC_PG_LOCKED, site);
}

void lock_page(struct rmap_arena *a, struct page *p, unsigned site)
{
	struct lockref r = PAGELOCK_REF(p);
	ref_lock(a, &r, RMAP_LC_PG_LOCKED, site);
}

void unlock_page(struct rmap_arena *a, struct page *p)
{
	struct lockref r = PAGELOCK_REF(p);
	ref_unlock(a, &r, RMAP_LC_PG_LOCKED);
}

/* bit_spin_lock(PG_maplock): mode L only. */
void page_map_lock(struct rmap_arena *a, struct page *p, unsigned site)
{
	struct lockref r = MAPLOCK_REF(p);
	ref_lock(a, &r, RMAP_LC_PG_MAPLOCK, site);
}

void page_map_unlock(struct rmap_arena *a, struct page *p)
{
	struct lockref r = MAPLOCK_REF(p);
	ref_unlock(a, &r, RMAP_LC_PG_MAPLOCK);
}

/* ---- public lock_stat API ---- */
static const char *const class_names[RMAP_LC_NR] = {
	[RMAP_LC_PG_MAPLOCK] = "PG_maplock",
	[RMAP_LC_PG_LOCKED] = "PG_locked",
	[RMAP_LC_ANON_VMA] = "&anon_vma->lock",
	[RMAP_LC_I_MMAP] = "&mapping->i_mmap_lock",
	[RMAP_LC_PAGE_TABLE] = "&mm->page_table_lock",
	[RMAP_LC_LRU] = "&zone->lru_lock",
};

const char *rmap_lock_class_name(enum rmap_lock_class c)
{
	return (unsigned)c < RMAP_LC_NR ? class_names[c] : NULL;
}

static const char *const site_names[SITE_NR] = {
	[SITE_PAGE_ADD_ANON_RMAP] = "page_add_anon_rmap",
	[SITE_PAGE_ADD_FILE_RMAP] = "page_add_file_rmap",
	[SITE_PAGE_DUP_RMAP] = "page_dup_rmap",
	[SITE_PAGE_REMOVE_RMAP] = "page_remove_rmap",
	[SITE_PAGE_REFERENCED] = "page_referenced",
	[SITE_PAGE_REFERENCED_ANON] = "page_referenced_anon",
	[SITE_PAGE_REFERENCED_FILE] = "page_referenced_file",
	[SITE_PAGE_REFERENCED_ONE] = "page_referenced_one",
	[SITE_TRY_TO_UNMAP] = "try_to_unmap",
	[SITE_TRY_TO_UNMAP_ANON] = "try_to_unmap_anon",
	[SITE_TRY_TO_UNMAP_FILE] = "try_to_unmap_file",
	[SITE_TRY_TO_UNMAP_ONE] = "try_to_unmap_one",
	[SITE_TRY_TO_UNMAP_CLUSTER] = "try_to_unmap_cluster",
	[SITE_ANON_VMA_PREPARE] = "anon_vma_prepare",
	[SITE_ANON_VMA_LINK] = "anon_vma_link",
	[SITE_ANON_VMA_UNLINK] = "anon_vma_unlink",
	[SITE_VMA_ADJUST] = "vma_adjust",
	[SITE_HANDLE_MM_FAULT] = "handle_mm_fault",
	[SITE_ZAP_PTE_RANGE] = "zap_pte_range",
	[SITE_COPY_PAGE_RANGE] = "copy_page_range",
	[SITE_EXIT_MMAP] = "exit_mmap",
	[SITE_MOVE_PAGE_TABLES] = "move_page_tables",
	[SITE_REMAP_FILE_PAGES] = "sys_remap_file_pages",
	[SITE_I_MMAP] = "vma_link",
	[SITE_SHRINK_LIST] = "shrink_list",
	[SITE_REFILL_INACTIVE_ZONE] = "refill_inactive_zone",
	[SITE_FREE_PAGE] = "free_hot_cold_page",
	[SITE_LRU_CACHE_ADD] = "lru_cache_add_active",
	[SITE_API] = "rmapcore_api",
	[SITE_WALK_PTES] = "rmap_walk_ptes",
	[SITE_ARENA] = "arena",
	[SITE_TRUNCATE] = "truncate_inode_pages",
};
static_assert(SITE_NR <= RMAP_LOCK_SITES, "too many lock sites");

const char *rmap_lock_site_name(unsigned site)
{
	return site < SITE_NR ? site_names[site] : NULL;
}

static uint64_t min_nonzero(uint64_t x, uint64_t y)
{
	return x == 0 ? y : (y == 0 || x < y) ? x : y;
}

void rmap_lock_stats(const struct rmap_arena *a, struct rmap_lock_stat out[RMAP_LC_NR])
{
	uint32_t n = LOAD(&a->threads_claimed), i;
	int c;

	memset(out, 0, sizeof(*out) * RMAP_LC_NR);
	if (n > a->cfg.max_threads)
		n = a->cfg.max_threads;
	for (i = 0; i <= n; i++) {
		const struct thread_slot *s = slot_at((struct rmap_arena *)a, i);
		for (c = 0; c < RMAP_LC_NR; c++) {
			const struct lockstat_class *ls = &s->ls[c];
			struct rmap_lock_stat *o = &out[c];
			o->acquisitions += LOAD(&ls->acquisitions);
			o->contentions += LOAD(&ls->contentions);
			o->waittime_min = min_nonzero(o->waittime_min, LOAD(&ls->wmin));
			if (LOAD(&ls->wmax) > o->waittime_max)
				o->waittime_max = LOAD(&ls->wmax);
			o->waittime_total += LOAD(&ls->wtotal);
			o->holdtime_min = min_nonzero(o->holdtime_min, LOAD(&ls->hmin));
			if (LOAD(&ls->hmax) > o->holdtime_max)
				o->holdtime_max = LOAD(&ls->hmax);
			o->holdtime_total += LOAD(&ls->htotal);
			o->owner_changes += LOAD(&ls->owner_changes);
			o->trylock_failures += LOAD(&ls->trylock_failures);
		}
	}
}

void rmap_lock_site_contentions(const struct rmap_arena *a, uint64_t out[RMAP_LC_NR][RMAP_LOCK_SITES])
{
	uint32_t n = LOAD(&a->threads_claimed), i;
	int c, s;

	memset(out, 0, sizeof(uint64_t) * RMAP_LC_NR * RMAP_LOCK_SITES);
	if (n > a->cfg.max_threads)
		n = a->cfg.max_threads;
	for (i = 0; i <= n; i++) {
		const struct thread_slot *t = slot_at((struct rmap_arena *)a, i);
		for (c = 0; c < RMAP_LC_NR; c++)
			for (s = 0; s < RMAP_LOCK_SITES; s++)
				out[c][s] += LOAD(&t->site_cont[c][s]);
	}
}

void rmap_set_lockwait_hook(rmap_lockwait_fn fn, void *ctx, uint64_t threshold_ns)
{
	wait_hook = fn;
	wait_hook_ctx = ctx;
	wait_hook_ns = threshold_ns;
}

/* ---- public page lock and page_table_lock ---- */
int rmap_trylock_page(struct rmap_arena *a, rmap_page_t page)
{
	if (!valid_index(a, POOL_PAGES, page))
		return 0;
	return trylock_page(a, PG(a, page), SITE_API);
}

void rmap_lock_page(struct rmap_arena *a, rmap_page_t page)
{
	if (valid_index(a, POOL_PAGES, page))
		lock_page(a, PG(a, page), SITE_API);
}

void rmap_unlock_page(struct rmap_arena *a, rmap_page_t page)
{
	if (valid_index(a, POOL_PAGES, page))
		unlock_page(a, PG(a, page));
}

void rmap_pte_lock(struct rmap_arena *a, rmap_mm_t mm)
{
	if (valid_index(a, POOL_MMS, mm))
		rl_lock(a, &MM(a, mm)->page_table_lock, RMAP_LC_PAGE_TABLE, SITE_API);
}

void rmap_pte_unlock(struct rmap_arena *a, rmap_mm_t mm)
{
	if (valid_index(a, POOL_MMS, mm))
		rl_unlock(a, &MM(a, mm)->page_table_lock, RMAP_LC_PAGE_TABLE);
}
