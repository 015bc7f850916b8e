/* SPDX-License-Identifier: MIT */
/*
 * oracle.c - the real kernel as the judge of the shadow rmap.
 *
 * For each compared frame, the shadow page_mapcount must equal
 * /proc/kpagecount for order-0 anon pages (every mapper is in the traced
 * tree), and must not exceed it for file pages (processes outside the tree
 * may map them too).  Large folios (THP, mTHP) are counted, not compared:
 * kpagecount reports them per folio, the shadow per 4 KiB frame.
 *
 * Explicit checkpoints (rmapshim_checkpoint) first reconcile every live
 * process of the tree: this one itself, the others on their behalf from
 * /proc/<pid>, which is only sound at a quiescent point (the client API's
 * contract); a traced pid that is gone is left to the supervisor, which
 * reaps it (its pages then show up as mismatches).  Then every
 * present pte of every live mm is compared.  Implicit checkpoints (after
 * fork, at exit) sample at most SAMPLE anon pages of this mm that the
 * shadow says only we map (sampled()).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define SAMPLE		64
#define RUN		512
#define MAX_MISMATCH	8
#define PASSES		3
/* ... and keep judging a mismatch this long: an exiting sibling's kernel
 * teardown can lag its shadow teardown by a scheduler tick or two. */
#define SETTLE_NS	(200 * 1000000ull)
static const struct timespec settle_tick = { 0, 5 * 1000000 };	/* 5 ms */
/* An implicit sample's buffer: SAMPLE..2*SAMPLE keys plus shim_oracle's slack. */
#define SMALL_CAP	512

static uint64_t *small_keys;	/* SMALL_CAP of them, shim_scratch_alloc */

struct tally {
	uint64_t compared, agreed, mismatched, not_compared;
	uint64_t reclaimed;		/* of not_compared: see judge() */
	struct rlog_mismatch mis[MAX_MISMATCH];
	uint32_t nmis;
};

struct keys {
	uint64_t *k;
	size_t n, cap;
	size_t stride, seen;		/* implicit: every stride-th pte */
	int only_single;		/* implicit: see sampled() */
};

/*
 * What an implicit check samples: anon pages that the shadow says only we
 * map.  A sibling's unreconciled COW cannot fake a mismatch on those, and
 * the kernel pins an anon page's count exactly; a file page's check is
 * only shadow <= kernel, and after a fork (RMAP_DUP_FAULT_FILLS) most of
 * the parent's file pages are ours alone, which would spend every fork's
 * budget on that weak check.
 */
static int sampled(rmap_page_t page)
{
	struct rmap_page_info info;

	return rmap_page_mapcount(shim.arena, page) == 1 &&
	       !rmap_page_info(shim.arena, page, &info) && info.anon;
}

static void collect_key(void *ctx, uint64_t addr, const struct rmap_pte_info *pte)
{
	struct keys *ks = ctx;

	(void)addr;
	if (pte->kind != RMAP_PTE_PRESENT || ks->n == ks->cap ||
	    ks->seen++ % ks->stride)
		return;
	if (ks->only_single && !sampled(pte->page))
		return;
	ks->k[ks->n++] = pte->key;
}

/*
 * In-place heapsort: qsort may malloc, and every page of ours written after
 * the reconciliation (heap, stack, .bss shared since a fork) is a COW the
 * shadow has not seen yet.
 */
static void sift(uint64_t *k, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		uint64_t t;

		if (child + 1 < n && k[child + 1] > k[child])
			child++;
		if (k[root] >= k[child])
			return;
		t = k[root];
		k[root] = k[child];
		k[child] = t;
	}
}

static void sort_u64(uint64_t *k, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(k, i, n);
	for (size_t i = n; i-- > 1;) {
		uint64_t t = k[0];

		k[0] = k[i];
		k[i] = t;
		sift(k, 0, i);
	}
}

/*
 * The shadow vmscan (--reclaim) swaps ptes out of the shadow only: the
 * kernel still maps those pages, so a swap-cache page legitimately has
 * fewer shadow than kernel mappings.  Not a mismatch: not compared.
 */
static int shadow_reclaimed(rmap_page_t page, int64_t shadow, uint64_t kcount)
{
	struct rmap_page_info info;

	return shadow < (int64_t)kcount && !rmap_page_info(shim.arena, page, &info) &&
	       (info.flags & RMAP_PG_SWAPCACHE);
}

static void judge(struct tally *t, uint64_t pfn, uint64_t flags, uint64_t kcount)
{
	const uint64_t large = (1ull << KPF_THP) | (1ull << KPF_HUGE) |
			       (1ull << KPF_COMPOUND_HEAD) | (1ull << KPF_COMPOUND_TAIL);
	rmap_page_t page = rmap_page_find(shim.arena, pfn);
	int64_t shadow = rmap_page_mapcount(shim.arena, page);
	int ok;

	if (flags & large) {
		t->not_compared++;
		return;
	}
	if (shadow_reclaimed(page, shadow, kcount)) {
		t->not_compared++;
		t->reclaimed++;
		return;
	}
	t->compared++;
	ok = (flags & (1ull << KPF_ANON)) ? shadow == (int64_t)kcount
					  : shadow <= (int64_t)kcount;
	if (ok) {
		t->agreed++;
		return;
	}
	t->mismatched++;
	if (t->nmis < MAX_MISMATCH) {
		t->mis[t->nmis].frame = pfn;
		t->mis[t->nmis].shadow = (int32_t)shadow;
		t->mis[t->nmis].kernel = (int32_t)kcount;
		t->nmis++;
	}
}

/*
 * Sorted, unique PFNs: read kpageflags and kpagecount in runs, into
 * buffers a fork does not write-protect (on the stack they were two
 * copy-on-write faults in the parent at every fork's implicit check).
 */
static void compare(struct tally *t, const uint64_t *k, size_t n)
{
	int fd_flags = shim_proc_fd(SHIM_PROC_KPAGEFLAGS);
	int fd_count = shim_proc_fd(SHIM_PROC_KPAGECOUNT);
	int err = errno;
	static uint64_t *fl, *cnt;
	static int said;

	if (!fl && (fl = shim_scratch_alloc(2 * RUN * sizeof(*fl))))
		cnt = fl + RUN;
	if ((fd_flags < 0 || fd_count < 0 || !fl) && n) {
		/* e.g. a tiny RLIMIT_NOFILE: say why the oracle is blind, once */
		t->not_compared += n;
		if (!said++) {
			char msg[160];

			if (fd_flags < 0 || fd_count < 0)
				snprintf(msg, sizeof(msg), "oracle: cannot open /proc/kpageflags "
					 "or /proc/kpagecount (%s): this process's pages are not "
					 "compared", strerror(err));
			else
				snprintf(msg, sizeof(msg), "oracle: no memory for its buffers "
					 "(the shim's scratch mapping failed): this process's "
					 "pages are not compared");
			rlog_note(shim.log, shim.pid, RLOG_NOTE_WARN, msg);
		}
	}

	for (size_t i = 0; fd_flags >= 0 && fd_count >= 0 && fl && i < n;) {
		size_t len = 1;

		while (i + len < n && len < RUN && k[i + len] == k[i] + len)
			len++;
		if (pread(fd_flags, fl, len * 8, k[i] * 8) != (ssize_t)(len * 8) ||
		    pread(fd_count, cnt, len * 8, k[i] * 8) != (ssize_t)(len * 8)) {
			t->not_compared += len;
		} else {
			for (size_t j = 0; j < len; j++)
				judge(t, k[i] + j, fl[j], cnt[j]);
		}
		i += len;
	}
}

static void log_oracle(const struct tally *t, const char *label, int explicit_cp)
{
	size_t n = strlen(label);
	struct rlog_oracle *o;
	void *p;

	o = rlog_reserve(shim.log, RLOG_ORACLE, sizeof(*o) + rlog_str_size(n) +
			 t->nmis * sizeof(struct rlog_mismatch));
	if (!o)
		return;
	o->pid = shim.pid;
	o->explicit_cp = explicit_cp;
	o->compared = t->compared;
	o->agreed = t->agreed;
	o->mismatched = t->mismatched;
	o->not_compared = t->not_compared;
	o->reclaimed = t->reclaimed;
	o->nmismatch = t->nmis;
	p = rlog_put_str(o + 1, label, n);
	memcpy(p, t->mis, t->nmis * sizeof(struct rlog_mismatch));
	rlog_commit(shim.log, o);
}

/*
 * Probing for an implicit sample: SAMPLE addresses spread evenly over the
 * vmas' pages, each looked up alone, instead of walking every pte (0.7 ms
 * at 256 MiB resident, twice per fork).  Only for mms at least half
 * present, where most probes hit a page; sparse ones are walked.
 */
struct probes {
	uint64_t span;			/* pages covered by vmas */
	uint64_t step, next, base;	/* in pages over the concatenated vmas */
	uint64_t *addr;
	size_t n, cap;
};

static void count_span(void *ctx, const struct rmap_vma_info *v)
{
	((struct probes *)ctx)->span += (v->end - v->start) >> PAGE_SHIFT;
}

static void place_probes(void *ctx, const struct rmap_vma_info *v)
{
	struct probes *p = ctx;
	uint64_t pages = (v->end - v->start) >> PAGE_SHIFT;

	for (; p->next < p->base + pages && p->n < p->cap; p->next += p->step)
		p->addr[p->n++] = v->start + ((p->next - p->base) << PAGE_SHIFT);
	p->base += pages;
}

/* 1 if @ks was filled by probing (dense mm), 0 if the mm must be walked. */
static int probe_sample(struct keys *ks)
{
	struct probes p = { 0 };
	struct rmap_pte_info pte;
	size_t n = 0;

	rmap_walk_vmas(shim.arena, shim.mm, count_span, &p);
	if (p.span < 2 * SAMPLE ||
	    (uint64_t)rmap_mm_rss(shim.arena, shim.mm) * 2 < p.span)
		return 0;
	p.step = p.span / SAMPLE;
	p.addr = ks->k;
	p.cap = ks->cap < SAMPLE ? ks->cap : SAMPLE;
	rmap_walk_vmas(shim.arena, shim.mm, place_probes, &p);
	/* Keys overwrite the probed addresses in place, never overtaking them. */
	for (size_t i = 0; i < p.n; i++)
		if (rmap_pte_get(shim.arena, shim.mm, p.addr[i], &pte) == 0 &&
		    pte.kind == RMAP_PTE_PRESENT && sampled(pte.page))
			ks->k[n++] = pte.key;
	ks->n = n;
	return 1;
}

static size_t gather(struct keys *ks, int explicit_cp)
{
	int probed = !explicit_cp && shim.cfg.verify != SHIM_VERIFY_FULL &&
		     probe_sample(ks);

	for (rmap_mm_t m = explicit_cp ? rmap_mm_next(shim.arena, 0) : shim.mm;
	     m && !probed; m = explicit_cp ? rmap_mm_next(shim.arena, m) : 0)
		rmap_walk_ptes(shim.arena, m, SHIM_ALL_LO, SHIM_ALL_HI, collect_key, ks);
	size_t u = 0;

	sort_u64(ks->k, ks->n);
	for (size_t i = 0; i < ks->n; i++)
		if (!u || ks->k[u - 1] != ks->k[i])
			ks->k[u++] = ks->k[i];
	return u;
}

/*
 * An explicit checkpoint reads every page anyway: it also starts write
 * tracking where none runs yet (SHIM_RECON_ARM), so that the first fork
 * after it does not register and read the program's memory again (14 ms
 * of forkstorm's first fork at 256 MiB).
 */
static void reconcile_own(int explicit_cp)
{
	struct shim_op o;

	shim_op_begin(&o, RLOG_OP_RECONCILE, RMAP_CAUSE_NONE, 0);
	(void)shim_reconcile(&o, 0, shim.mm, SHIM_ALL_LO, SHIM_ALL_HI,
			     SHIM_RECON_PAGES | (explicit_cp ? SHIM_RECON_ARM : 0));
	shim_op_end(&o);
}

/* Gather, sample and compare once into @t. */
static void check(struct tally *t, struct keys *ks, int explicit_cp)
{
	size_t n;

	memset(t, 0, sizeof(*t));
	ks->n = ks->seen = 0;
	n = gather(ks, explicit_cp);
	/* Implicit checkpoints sample evenly over the sorted frames. */
	if (!explicit_cp && shim.cfg.verify != SHIM_VERIFY_FULL && n > SAMPLE) {
		for (size_t i = 0; i < SAMPLE; i++)
			ks->k[i] = ks->k[i * n / SAMPLE];
		n = SAMPLE;
	}
	/*
	 * A fork's implicit checkpoints usually find nothing we map alone:
	 * then not even compare()'s 8 KiB frame, new stack pages to COW.
	 */
	if (n)
		compare(t, ks->k, n);
}

/*
 * The budget of implicit checkpoints (issue 3: the default adds <= 5% run
 * time): this process's implicit checks may take BUDGET_DIV-th of its life
 * so far, the next one estimated at the last one's cost.  A fork child
 * starts a budget of its own (a forkstorm child lives ~100 us, its exit
 * check costs ~60 us: skipped).  The exit of a process image that did not
 * come from a fork (the root, an exec) is always checked, so every program
 * is judged at least once whatever the load.  --verify=full checks
 * everywhere.
 */
#define BUDGET_DIV	20
/* The child's estimate is the parent's last cost: not in scratch memory. */
static SHIM_CHILD_WRITES struct {
	uint64_t t0, spent, last;
	int image;			/* not a fork child */
} budget;

void shim_oracle_budget_start(int fork_child)
{
	budget.t0 = rlog_now_ns();
	budget.spent = 0;
	budget.image = !fork_child;
}

void shim_oracle_implicit(const char *label, int at_exit)
{
	uint64_t t0;

	/*
	 * A fork child that never reconciled itself has only what the dup
	 * gave it, frames its parent maps too (and judged at its fork check),
	 * none it alone maps for sampled() to pick; finding that out walked
	 * every pte, a page fault per arena page of them (forkstorm: ~13 us
	 * a child, on its parent's wait).
	 */
	if (at_exit && !budget.image && !shim.reconciled &&
	    shim.cfg.verify != SHIM_VERIFY_FULL)
		return;
	t0 = rlog_now_ns();

	if (shim.cfg.verify == SHIM_VERIFY_SAMPLED && !(at_exit && budget.image) &&
	    (budget.spent + budget.last) * BUDGET_DIV > t0 - budget.t0)
		return;
	shim_oracle(label, 0);
	budget.last = rlog_now_ns() - t0;
	budget.spent += budget.last;
}

void shim_oracle(const char *label, int explicit_cp)
{
	struct tally t;
	struct keys ks = { 0 };
	size_t bytes;

	if (explicit_cp) {
		shim_reconcile_others(RLOG_OP_RECONCILE);
		for (rmap_mm_t m = rmap_mm_next(shim.arena, 0); m;
		     m = rmap_mm_next(shim.arena, m))
			ks.cap += rmap_mm_rss(shim.arena, m);
		ks.stride = 1;
	} else {
		/* Sample while walking: the sort and the compare stay small. */
		ks.cap = rmap_mm_rss(shim.arena, shim.mm);
		ks.stride = shim.cfg.verify == SHIM_VERIFY_FULL || ks.cap < SAMPLE
			    ? 1 : ks.cap / SAMPLE;
		ks.cap /= ks.stride;
		ks.only_single = 1;
	}
	ks.cap += ks.cap / 4 + 256;	/* room for what the re-reconciliations add */
	bytes = ks.cap * sizeof(uint64_t);
	/*
	 * Explicit checkpoints compare every page: their buffer must be fresh
	 * pages, whose writes cannot break a COW the shadow counted.  Implicit
	 * ones use small_keys, scratch memory no fork shares: they save the
	 * mmap/munmap (mm_lock is held, so one thread at a time uses it).
	 */
	if (!small_keys)
		small_keys = shim_scratch_alloc(SMALL_CAP * sizeof(*small_keys));
	if (!explicit_cp && ks.cap <= SMALL_CAP && small_keys) {
		ks.k = small_keys;
		bytes = 0;
	} else {
		ks.k = REAL(mmap)(NULL, bytes, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ks.k == MAP_FAILED)
			return;
		/* Ours, not the workload's: the re-reconciliations leave it out. */
		shim_own_add((uintptr_t)ks.k, (uintptr_t)ks.k + bytes);
	}
	/*
	 * The checkpoint itself writes our stack and .bss, which a fork may
	 * still share, and an exiting process leaves the shadow before the
	 * kernel frees its pages: judge again, at least PASSES times and for
	 * up to SETTLE_NS, before accusing.
	 */
	uint64_t t0 = rlog_now_ns();

	for (int pass = 0; pass < PASSES || rlog_now_ns() - t0 < SETTLE_NS; pass++) {
		if (pass) {
			/*
			 * Past PASSES the wait is for another process's kernel
			 * teardown: sleep, do not re-reconcile it in a busy loop.
			 */
			if (pass < PASSES)
				sched_yield();
			else
				nanosleep(&settle_tick, NULL);
			if (explicit_cp)
				shim_reconcile_others(RLOG_OP_RECONCILE);
		}
		/* Implicit ones come right after a reconciliation (fork) or trust the last. */
		if (explicit_cp || pass)
			reconcile_own(explicit_cp);
		check(&t, &ks, explicit_cp);
		if (!t.mismatched)
			break;
	}
	if (bytes) {
		REAL(munmap)(ks.k, bytes);
		shim_own_forget((uintptr_t)ks.k, (uintptr_t)ks.k + bytes);
	}
	log_oracle(&t, label, explicit_cp);
}
