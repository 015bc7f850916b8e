/* SPDX-License-Identifier: MIT */
/*
 * ownlist - the shim's own-memory list (mmsem.c shim_own_cut and
 * shim_own_insert) against a page-by-page model, no preload needed.
 *
 * The case CI's sanitizer run caught first - a full list whose cut splits
 * a range (the untouched ranges after it were written past the array) -
 * then random inserts and cuts over 64 pages.  After every operation: at
 * most SHIM_OWN_RANGES ranges, sorted and disjoint, the canary after the
 * array intact, and exactly the model's pages listed; the model drops a
 * split range's upper part only when the list was full, and an insert is
 * refused only by a full list.
 * Exit 0 and one line, or the first violation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmsem.h"

#define PAGES	64
#define PG	4096ull
#define CANARY	0x6f776e6c69737421ull

static struct {
	struct shim_own o;
	uint64_t canary;
} l = { .canary = CANARY };
static unsigned char ours[PAGES];	/* the model: what the list must hold */

static int fail(const char *what, int step)
{
	printf("FAIL: %s at step %d (n %u)\n", what, step, l.o.n);
	for (uint32_t i = 0; i < l.o.n && i < SHIM_OWN_RANGES; i++)
		printf("  [%llu, %llu)\n", (unsigned long long)(l.o.r[i].start / PG),
		       (unsigned long long)(l.o.r[i].end / PG));
	return 1;
}

static int listed(unsigned p)
{
	for (uint32_t i = 0; i < l.o.n && i < SHIM_OWN_RANGES; i++)
		if (l.o.r[i].start <= p * PG && p * PG < l.o.r[i].end)
			return 1;
	return 0;
}

static int check(int step)
{
	if (l.canary != CANARY)
		return fail("wrote past the list", step);
	if (l.o.n > SHIM_OWN_RANGES)
		return fail("more ranges than the list holds", step);
	for (uint32_t i = 0; i < l.o.n; i++)
		if (l.o.r[i].start >= l.o.r[i].end ||
		    (i && l.o.r[i - 1].end > l.o.r[i].start))
			return fail("ranges not sorted and disjoint", step);
	for (unsigned p = 0; p < PAGES; p++)
		if (listed(p) != ours[p])
			return fail(ours[p] ? "a page of ours not listed" : "a page listed that is not ours",
				    step);
	return 0;
}

/*
 * [lo, hi) is not ours.  A range it splits loses its part above the cut
 * only if the list was full (no room for the second part).
 */
static void cut(unsigned lo, unsigned hi)
{
	int full = l.o.n == SHIM_OWN_RANGES;
	uint64_t split_end = 0;

	for (uint32_t i = 0; i < l.o.n; i++)
		if (l.o.r[i].start < lo * PG && l.o.r[i].end > hi * PG)
			split_end = l.o.r[i].end;
	shim_own_cut(&l.o, lo * PG, hi * PG);
	memset(ours + lo, 0, hi - lo);
	if (full && split_end)
		memset(ours + hi, 0, split_end / PG - hi);
}

/* A mapping at [lo, hi): the list refuses it only when full. */
static int insert(unsigned lo, unsigned hi)
{
	int full;

	cut(lo, hi);
	full = l.o.n == SHIM_OWN_RANGES;
	if (shim_own_insert(&l.o, lo * PG, hi * PG))
		memset(ours + lo, 1, hi - lo);
	else if (!full)
		return 1;
	return 0;
}

int main(void)
{
	int step = 0;

	/* A full list of ranges with gaps, then a cut out of the third's middle. */
	for (unsigned i = 0; i < SHIM_OWN_RANGES; i++)
		if (insert(i * 6, i * 6 + 4) || check(++step))
			return fail("filling the list", step);
	cut(13, 14);
	if (check(++step))
		return 1;

	srand(7);
	for (int round = 0; round < 20000; round++) {
		unsigned lo = (unsigned)rand() % PAGES, len = 1 + (unsigned)rand() % 8;
		unsigned hi = lo + len > PAGES ? PAGES : lo + len;

		if (round % 500 == 0) {
			memset(&l.o, 0, sizeof(l.o));
			memset(ours, 0, sizeof(ours));
		}
		if (rand() % 3 ? insert(lo, hi) : (cut(lo, hi), 0))
			return fail("an insert refused with room in the list", step);
		if (check(++step))
			return 1;
	}
	printf("ownlist: %d operations, list and model agree\n", step);
	return 0;
}
