/* SPDX-License-Identifier: MIT */
/*
 * slots.c - thread slots given back with rmap_thread_release: the next new
 * thread reuses one instead of claiming a fresh slot (a fork child then
 * writes its statistics into pages that exist), the sums go on in it, and
 * a thread that calls again after releasing claims a slot anew.
 * White-box: it reads threads_claimed.  Usage: slots MODE
 */
#include <pthread.h>

#include "internal.h"
#include "testlib.h"

#define ANON_START	0x60000000ull
#define THREADS		8

static struct rmap_arena *arena;
static rmap_mm_t mm;

/* One MAP_FIRST and one UNMAP_LAST in this thread's slot, then give it back. */
static void *one_thread(void *arg)
{
	uint64_t n = (uint64_t)(uintptr_t)arg;

	REQUIRE_OK(rmap_fault(arena, mm, ANON_START + n * TL_PAGE, 0x1000 + n,
			      RMAP_FAULT_ANON | RMAP_FAULT_WRITE));
	REQUIRE_OK(rmap_zap_page(arena, mm, ANON_START + n * TL_PAGE, RMAP_CAUSE_MUNMAP));
	rmap_thread_release(arena);
	return NULL;
}

static void run_thread(uint64_t n)
{
	pthread_t t;

	REQUIRE(pthread_create(&t, NULL, one_thread, (void *)(uintptr_t)n) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
}

int main(int argc, char **argv)
{
	enum rmap_mode mode = tl_mode_arg(argc, argv);
	struct tl_arena t;
	uint32_t claimed;

	arena = tl_arena_open(&t, mode);
	mm = tl_mm(arena, 100);
	tl_map_anon(arena, mm, ANON_START, THREADS + 1, 0);
	claimed = LOAD(&arena->threads_claimed);

	/* Threads one after another: the first claims a slot, the rest reuse it. */
	for (uint64_t n = 0; n < THREADS; n++)
		run_thread(n);
	CHECK_EQ(LOAD(&arena->threads_claimed), claimed + 1);
	CHECK_EQ(tl_total(arena, RMAP_EV_MAP_FIRST), THREADS);
	CHECK_EQ(tl_total(arena, RMAP_EV_UNMAP_LAST), THREADS);

	/* This thread released its slot: its next call claims the freed one. */
	rmap_thread_release(arena);
	one_thread((void *)(uintptr_t)THREADS);
	CHECK_EQ(LOAD(&arena->threads_claimed), claimed + 1);
	CHECK_EQ(tl_total(arena, RMAP_EV_MAP_FIRST), THREADS + 1);
	CHECK_CLEAN(arena);
	tl_arena_close(&t);
	return tl_exit_status();
}
