/* SPDX-License-Identifier: MIT */
/*
 * testlib.h - the little every rmapcore test needs: CHECK macros that name
 * file:line and the mode under test, an arena in a private mkdtemp
 * directory that is removed again, an event-counting sink, and the vma
 * shapes (anon, private file, shared file) the scenarios are built from.
 */
#ifndef RMAPCORE_TESTLIB_H
#define RMAPCORE_TESTLIB_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmapcore.h"

#define TL_PAGE		4096ull

/* vm_flags of the three vma shapes a process is made of. */
#define TL_ANON_FLAGS	(RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_MAYWRITE)
#define TL_PRIV_FLAGS	(RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_MAYWRITE)
#define TL_SHARED_FLAGS	(RMAP_VM_READ | RMAP_VM_WRITE | RMAP_VM_MAYWRITE | \
			 RMAP_VM_SHARED | RMAP_VM_MAYSHARE)

static int tl_failures;
static const char *tl_mode = "-";

#define TL_FAIL(fmt, ...)						\
	do {								\
		fprintf(stderr, "%s:%d: [%s] " fmt "\n", __FILE__,	\
			__LINE__, tl_mode, __VA_ARGS__);		\
		tl_failures++;						\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			TL_FAIL("CHECK(%s) failed", #cond);		\
	} while (0)

#define CHECK_EQ(got, want)						\
	do {								\
		long long g_ = (long long)(got), w_ = (long long)(want);\
		if (g_ != w_)						\
			TL_FAIL("%s == %lld, expected %s == %lld",	\
				#got, g_, #want, w_);			\
	} while (0)

/* For setup steps: a failure makes the rest of the scenario meaningless. */
#define REQUIRE(cond)							\
	do {								\
		if (!(cond)) {						\
			TL_FAIL("REQUIRE(%s) failed", #cond);		\
			exit(1);					\
		}							\
	} while (0)

#define REQUIRE_OK(expr)						\
	do {								\
		long r_ = (long)(expr);					\
		if (r_ != 0) {						\
			TL_FAIL("%s returned %ld (%s)", #expr, r_,	\
				strerror((int)(r_ < 0 ? -r_ : r_)));	\
			exit(1);					\
		}							\
	} while (0)

static inline int tl_exit_status(void)
{
	if (tl_failures)
		fprintf(stderr, "%d check(s) failed\n", tl_failures);
	return tl_failures ? 1 : 0;
}

/* ---- arena in a tmpdir ---------------------------------------------- */

struct tl_arena {
	char dir[PATH_MAX - 16];
	char path[PATH_MAX];
	struct rmap_arena *a;
};

/* Arenas still on disk, removed at exit even when a REQUIRE gave up. */
#define TL_MAX_ARENAS	4
static struct tl_arena *tl_live[TL_MAX_ARENAS];

static inline void tl_remove_files(struct tl_arena *t)
{
	if (unlink(t->path) != 0 || rmdir(t->dir) != 0)
		fprintf(stderr, "cannot remove %s: %s\n", t->dir,
			strerror(errno));
}

static inline void tl_remove_live(void)
{
	for (int i = 0; i < TL_MAX_ARENAS; i++)
		if (tl_live[i])
			tl_remove_files(tl_live[i]);
}

static inline void tl_track(struct tl_arena *t, struct tl_arena *old)
{
	static int registered;

	if (!registered++)
		atexit(tl_remove_live);
	for (int i = 0; i < TL_MAX_ARENAS; i++)
		if (tl_live[i] == old) {
			tl_live[i] = t;
			return;
		}
}

/* In a forked child: the arenas are the parent's to remove. */
static inline void tl_forget_arenas(void)
{
	memset(tl_live, 0, sizeof(tl_live));
}

static inline void tl_default_config(struct rmap_arena_config *cfg,
				     enum rmap_mode mode)
{
	rmap_arena_default_config(cfg);
	cfg->mode = mode;
}

/* Create an arena with @cfg in a fresh mkdtemp directory. */
static inline struct rmap_arena *tl_arena_create(struct tl_arena *t,
					const struct rmap_arena_config *cfg)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t->dir, sizeof(t->dir), "%s/rmapcore-test.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(t->dir) != NULL);
	REQUIRE((size_t)snprintf(t->path, sizeof(t->path), "%s/arena",
				 t->dir) < sizeof(t->path));
	REQUIRE_OK(rmap_arena_create(t->path, cfg, &t->a));
	tl_track(t, NULL);
	REQUIRE(rmap_arena_mode(t->a) == cfg->mode);
	return t->a;
}

static inline struct rmap_arena *tl_arena_open(struct tl_arena *t,
					       enum rmap_mode mode)
{
	struct rmap_arena_config cfg;

	tl_default_config(&cfg, mode);
	return tl_arena_create(t, &cfg);
}

static inline void tl_arena_close(struct tl_arena *t)
{
	rmap_arena_detach(t->a);
	t->a = NULL;
	tl_track(NULL, t);
	tl_remove_files(t);
}

/* The mode named on the command line (each mode is its own ctest case). */
static inline enum rmap_mode tl_mode_arg(int argc, char **argv)
{
	enum rmap_mode mode;

	if (argc < 2 || rmap_mode_parse(argv[1], &mode) != 0) {
		fprintf(stderr, "usage: %s MODE [...]\n", argv[0]);
		exit(2);
	}
	tl_mode = rmap_mode_name(mode);
	return mode;
}

/* ---- checker and counters -------------------------------------------- */

/* rmap_check() must be clean; print what it found if not. */
#define CHECK_CLEAN(a)	tl_check_clean((a), __FILE__, __LINE__)
static inline void tl_check_clean(struct rmap_arena *a, const char *file,
				  int line)
{
	struct rmap_violation v[8];
	long n = rmap_check(a, v, 8);

	if (n == 0)
		return;
	fprintf(stderr, "%s:%d: [%s] rmap_check found %ld violation(s)\n",
		file, line, tl_mode, n);
	for (long i = 0; i < n && i < 8; i++)
		fprintf(stderr, "  INV-%d page %u mm %u key %#llx vaddr %#llx "
			"expected %lld found %lld: %s\n", v[i].inv, v[i].page,
			v[i].mm, (unsigned long long)v[i].key,
			(unsigned long long)v[i].vaddr,
			(long long)v[i].expected, (long long)v[i].found,
			v[i].what);
	tl_failures++;
}

static inline int64_t tl_nr_mapped(const struct rmap_arena *a)
{
	struct rmap_counters c;

	rmap_counters(a, &c);
	return c.nr_mapped;
}

static inline uint64_t tl_total(const struct rmap_arena *a,
				enum rmap_event_type type)
{
	uint64_t t[RMAP_EV_NR_TYPES];

	rmap_event_totals(a, t);
	return t[type];
}

static inline uint64_t tl_cause_total(const struct rmap_arena *a,
				      enum rmap_event_type type,
				      enum rmap_cause cause)
{
	uint64_t t[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR];

	rmap_event_cause_totals(a, t);
	return t[type][cause];
}

/* ---- event sink: counts what this thread caused ------------------------ */

struct tl_events {
	uint64_t n[RMAP_EV_NR_TYPES];
	uint64_t by_cause[RMAP_EV_NR_TYPES][RMAP_CAUSE_NR];
	struct rmap_event last[RMAP_EV_NR_TYPES];
};

static inline void tl_sink(void *ctx, const struct rmap_event *ev)
{
	struct tl_events *e = ctx;

	if (ev->type >= RMAP_EV_NR_TYPES || ev->cause >= RMAP_CAUSE_NR)
		return;
	e->n[ev->type]++;
	e->by_cause[ev->type][ev->cause]++;
	e->last[ev->type] = *ev;
}

static inline void tl_events_start(struct tl_events *e)
{
	memset(e, 0, sizeof(*e));
	rmap_set_sink(tl_sink, e);
	rmap_set_sink_mask(~0u);
}

static inline void tl_events_stop(void)
{
	rmap_set_sink(NULL, NULL);
}

/* ---- process shapes ----------------------------------------------------- */

/*
 * Frame keys: file pages are (file, offset) at 1 << 32 and up; tests
 * invent anon keys below 1 << 32 (or at 1 << 36 and up, above any ino).
 */
static inline uint64_t tl_file_key(uint64_t ino, uint64_t pgoff)
{
	return (ino << 32) | pgoff;
}

static inline struct rmap_file_id tl_file(uint64_t ino)
{
	struct rmap_file_id f = { .dev = 8, .ino = ino };

	return f;
}

static inline rmap_mm_t tl_mm(struct rmap_arena *a, int32_t pid)
{
	rmap_mm_t mm = 0;

	REQUIRE_OK(rmap_mm_create(a, pid, 0, &mm));
	REQUIRE(mm != 0);
	return mm;
}

static inline void tl_map_anon(struct rmap_arena *a, rmap_mm_t mm,
			       uint64_t start, unsigned npages, uint32_t extra)
{
	REQUIRE_OK(rmap_mmap_region(a, mm, start, start + npages * TL_PAGE,
				    TL_ANON_FLAGS | extra, start / TL_PAGE,
				    NULL));
}

static inline void tl_map_file(struct rmap_arena *a, rmap_mm_t mm,
			       uint64_t start, unsigned npages, uint32_t flags,
			       uint64_t ino, uint64_t pgoff)
{
	struct rmap_file_id f = tl_file(ino);

	REQUIRE_OK(rmap_mmap_region(a, mm, start, start + npages * TL_PAGE,
				    flags, pgoff, &f));
}

/* Fault the file page behind @addr of a vma mapping @ino from @pgoff0. */
static inline void tl_fault_file(struct rmap_arena *a, rmap_mm_t mm,
				 uint64_t start, unsigned i, uint64_t ino,
				 uint64_t pgoff0, unsigned flags)
{
	REQUIRE_OK(rmap_fault(a, mm, start + i * TL_PAGE,
			      tl_file_key(ino, pgoff0 + i), flags));
}

static inline struct rmap_pte_info tl_pte(struct rmap_arena *a, rmap_mm_t mm,
					  uint64_t addr)
{
	struct rmap_pte_info p;
	int ret;

	memset(&p, 0, sizeof(p));
	ret = rmap_pte_get(a, mm, addr, &p);
	if (ret == -ENOENT)	/* no pte (page) at all */
		p.kind = RMAP_PTE_NONE;
	else
		REQUIRE_OK(ret);
	return p;
}

static inline int tl_mapcount(struct rmap_arena *a, uint64_t key)
{
	rmap_page_t p = rmap_page_find(a, key);

	return p ? rmap_page_mapcount(a, p) : -1000;
}

static inline struct rmap_page_info tl_info(struct rmap_arena *a, uint64_t key)
{
	struct rmap_page_info pi;

	memset(&pi, 0, sizeof(pi));
	REQUIRE(rmap_page_find(a, key) != 0);
	REQUIRE_OK(rmap_page_info(a, rmap_page_find(a, key), &pi));
	return pi;
}

/* Count the vmas of @mm, remembering the last one seen. */
struct tl_vmas {
	long n;
	struct rmap_vma_info v[16];
};

static inline void tl_vma_cb(void *ctx, const struct rmap_vma_info *vma)
{
	struct tl_vmas *t = ctx;

	if (t->n < 16)
		t->v[t->n] = *vma;
	t->n++;
}

static inline struct tl_vmas tl_vmas(struct rmap_arena *a, rmap_mm_t mm)
{
	struct tl_vmas t;

	memset(&t, 0, sizeof(t));
	rmap_walk_vmas(a, mm, tl_vma_cb, &t);
	return t;
}

static inline void tl_pte_nop(void *ctx, uint64_t addr,
			      const struct rmap_pte_info *pte)
{
	(void)ctx, (void)addr, (void)pte;
}

/* The vma starting at @start, or NULL. */
static inline const struct rmap_vma_info *tl_vma_at(const struct tl_vmas *v,
						   uint64_t start)
{
	for (long i = 0; i < v->n && i < 16; i++)
		if (v->v[i].start == start)
			return &v->v[i];
	return NULL;
}

static inline long tl_count_ptes(struct rmap_arena *a, rmap_mm_t mm,
				 uint64_t start, uint64_t end)
{
	return rmap_walk_ptes(a, mm, start, end, tl_pte_nop, NULL);
}

/* try_to_unmap as shrink_list calls it: with the page lock held. */
static inline int tl_unmap_locked(struct rmap_arena *a, uint64_t key)
{
	rmap_page_t p = rmap_page_find(a, key);
	int ret;

	REQUIRE(p != 0);
	rmap_lock_page(a, p);
	ret = try_to_unmap(a, p);
	rmap_unlock_page(a, p);
	return ret;
}

#endif /* RMAPCORE_TESTLIB_H */
