/* SPDX-License-Identifier: MIT */
/*
 * cowstorm - copy-on-write breaks from both sides of a fork.  Each round
 * forks; the child, then the parent, write a scattered fraction of the
 * shared buffer (each write replaces a shared anon page by a private copy:
 * page_remove_rmap on the old page, page_add_anon_rmap on the new), both
 * checkpoint while the other is alive, and each verifies its own view.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

static const char usage[] =
"usage: cowstorm [-n ROUNDS] [-m MIB] [-f FRACTION]\n"
"Fork ROUNDS times; in each round the child and the parent both write a\n"
"scattered FRACTION of an MIB MiB anonymous buffer (COW breaks on both\n"
"sides), checkpoint while both are alive, and verify what they see.\n"
"  -n, --rounds N      rounds (default 4)\n"
"  -m, --mib M         buffer size in MiB (default 8)\n"
"  -f, --fraction F    fraction of pages each side writes, 0..1 (default 0.5)\n"
"  -h, --help          this text\n"
"Prints \"cowstorm: rounds=N pages=P checksum=0x...\".\n";

enum side { PARENT = 1, CHILD = 2 };

struct storm {
	uint64_t *shadow;	/* expected first word of each page */
	void *buf;
	size_t pages;
	unsigned threshold;	/* a page is written if its hash % 1024 < threshold */
};

/* Deterministic, scattered choice of the pages @side writes in @round. */
static int writes_page(const struct storm *s, unsigned long round,
		       enum side side, size_t page)
{
	return ex_mix64(round << 40 ^ (uint64_t)side << 32 ^ page) % 1024 <
	       s->threshold;
}

static uint64_t round_tag(unsigned long round, enum side side)
{
	return 1000 + round * 2 + side;
}

/* Write this side's pages and update its expectation. */
static void write_side(struct storm *s, unsigned long round, enum side side)
{
	uint64_t tag = round_tag(round, side);

	for (size_t i = 0; i < s->pages; i++) {
		if (!writes_page(s, round, side, i))
			continue;
		s->shadow[i] = ex_page_value(tag, i);
		ex_set_word(s->buf, i, s->shadow[i]);
	}
}

/* Checksum of this side's view; exits 1 if the view is not the expected one. */
static uint64_t verify_side(const struct storm *s, const char *who)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < s->pages; i++) {
		uint64_t w = ex_word(s->buf, i);

		if (w != s->shadow[i])
			ex_die("%s: page %zu holds a value the other side wrote", who, i);
		sum = ex_mix64(sum ^ w);
	}
	return sum;
}

static void child_round(struct storm *s, unsigned long round,
			struct ex_chan *up, struct ex_chan *down)
{
	ex_chan_keep_wr(up);
	ex_chan_keep_rd(down);
	write_side(s, round, CHILD);
	ex_chan_send(up, 0);		/* written: parent may write now */
	ex_chan_recv(down);		/* parent written and checkpointed */
	rmapshim_checkpoint("cowstorm:child");
	ex_chan_send(up, verify_side(s, "child"));
	_exit(0);
}

static uint64_t parent_round(struct storm *s, unsigned long round)
{
	struct ex_chan up, down;
	uint64_t child_sum;
	pid_t pid;

	ex_chan_open(&up);
	ex_chan_open(&down);
	pid = ex_fork();
	if (pid == 0)
		child_round(s, round, &up, &down);
	ex_chan_keep_rd(&up);
	ex_chan_keep_wr(&down);
	ex_chan_recv(&up);
	write_side(s, round, PARENT);
	rmapshim_checkpoint("cowstorm:parent");
	ex_chan_send(&down, 0);
	child_sum = ex_chan_recv(&up);
	ex_chan_close(&up);
	ex_chan_close(&down);
	ex_wait_ok(pid, "child");
	return ex_mix64(ex_mix64(child_sum) ^ verify_side(s, "parent"));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'n' },
		{ "mib", required_argument, NULL, 'm' },
		{ "fraction", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long rounds = 4, mib = 8;
	double fraction = 0.5;
	struct storm s;
	uint64_t sum = 0;
	int c;

	ex_cli_init("cowstorm", usage);
	while ((c = ex_getopt(argc, argv, ":n:m:f:h", longopts)) != -1) {
		switch (c) {
		case 'n':
			rounds = ex_parse_ulong("-n", optarg, 1, 1000000);
			break;
		case 'm':
			mib = ex_parse_ulong("-m", optarg, 1, 1 << 16);
			break;
		case 'f':
			fraction = ex_parse_double("-f", optarg, 0.0, 1.0);
			break;
		}
	}
	ex_no_operands(argc, argv);

	s.pages = mib * (1024 * 1024 / ex_page_size());
	s.threshold = (unsigned)(fraction * 1024 + 0.5);
	s.buf = ex_map_anon(s.pages);
	/* The expectation lives in its own anon pages: they get COW-shared too. */
	s.shadow = ex_map_anon((s.pages * sizeof(uint64_t) + ex_page_size() - 1) /
			       ex_page_size());
	ex_fill(s.buf, s.pages, 1);
	for (size_t i = 0; i < s.pages; i++)
		s.shadow[i] = ex_page_value(1, i);
	rmapshim_checkpoint("cowstorm:filled");

	for (unsigned long r = 0; r < rounds; r++)
		sum = ex_mix64(sum ^ parent_round(&s, r));

	rmapshim_checkpoint("cowstorm:done");
	printf("cowstorm: rounds=%lu pages=%zu checksum=0x%016" PRIx64 "\n",
	       rounds, s.pages, sum);
	return 0;
}
