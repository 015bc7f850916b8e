/* SPDX-License-Identifier: MIT */
/*
 * sharedfile - file pages mapped by many processes.  The parent maps one
 * temporary file MAP_SHARED and MAP_PRIVATE and reads every page; its
 * children inherit both (fork dups file ptes) and map the file once more
 * on their own (page_add_file_rmap: many vmas on one i_mmap tree).  Each
 * child writes its slice of the shared mapping and half of the private
 * one (COW from a file page to a private anon page), everybody checkpoints
 * while all are alive, and each process verifies all three views.
 */
#include "ex_cli.h"
#include "ex_mem.h"
#include "ex_proc.h"
#include "rmapshim.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] =
"usage: sharedfile [-p PROCS] [-m MIB]\n"
"PROCS processes map one MIB MiB temporary file (in $TMPDIR, else /tmp)\n"
"both MAP_SHARED and MAP_PRIVATE, write some pages of each, checkpoint,\n"
"verify the contents, and remove the file.\n"
"  -p, --procs N   writer processes besides the parent (default 4)\n"
"  -m, --mib M     file size in MiB (default 8)\n"
"  -h, --help      this text\n"
"Prints \"sharedfile: procs=N pages=P verified\".\n";

#define TAG_FILE	7	/* what the file holds at creation */
#define TAG_SHARED	8	/* what the writers store through MAP_SHARED */
#define TAG_PRIVATE	100	/* + child index: private copies */
#define MAX_PROCS	64

struct file_maps {
	size_t pages;
	unsigned long procs;
	int fd;
	void *shared, *private;
};

static char file_path[4096];
static pid_t file_owner;

/* Registered with atexit: ex_die in the parent must not leave the file. */
static void remove_file(void)
{
	if (getpid() == file_owner)
		unlink(file_path);
}

static void create_file(struct file_maps *m)
{
	uint64_t word;

	m->fd = ex_temp_file("sharedfile", m->pages, file_path, sizeof(file_path));
	file_owner = getpid();
	atexit(remove_file);
	for (size_t i = 0; i < m->pages; i++) {
		word = ex_page_value(TAG_FILE, i);
		if (pwrite(m->fd, &word, sizeof(word), (off_t)(i * ex_page_size())) !=
		    sizeof(word))
			ex_die_errno("pwrite");
	}
}

static void *map_file(const struct file_maps *m, int flags)
{
	void *p = mmap(NULL, m->pages * ex_page_size(), PROT_READ | PROT_WRITE,
		       flags, m->fd, 0);

	if (p == MAP_FAILED)
		ex_die_errno("mmap of the file");
	return p;
}

/* Read every page so each is present (a file page in every view). */
static uint64_t read_all(const void *base, size_t pages)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < pages; i++)
		sum += ex_word(base, i);
	return sum;
}

static int private_written_by(size_t page, unsigned long k)
{
	return (page + k) % 2 == 0;
}

/* Pages of @base that differ from what a MAP_SHARED view must show now. */
static size_t count_bad_shared(const void *base, size_t pages)
{
	return ex_count_bad(base, pages, TAG_SHARED);
}

/* Same for child @k's private view (k == procs: the parent, no writes). */
static size_t count_bad_private(const struct file_maps *m, unsigned long k)
{
	size_t bad = 0;

	for (size_t i = 0; i < m->pages; i++) {
		/* Unwritten private pages are still the page cache's pages. */
		uint64_t tag = k < m->procs && private_written_by(i, k) ?
			       TAG_PRIVATE + k : TAG_SHARED;

		bad += ex_word(m->private, i) != ex_page_value(tag, i);
	}
	return bad;
}

static void child(struct file_maps *m, unsigned long k,
		  struct ex_chan *up, struct ex_chan *down)
{
	void *own = map_file(m, MAP_SHARED);
	size_t bad;

	ex_chan_keep_wr(up);
	ex_chan_keep_rd(down);
	read_all(own, m->pages);
	for (size_t i = k; i < m->pages; i += m->procs)
		ex_set_word(m->shared, i, ex_page_value(TAG_SHARED, i));
	for (size_t i = 0; i < m->pages; i++)
		if (private_written_by(i, k))
			ex_set_word(m->private, i, ex_page_value(TAG_PRIVATE + k, i));
	ex_chan_send(up, 0);
	ex_chan_recv(down);		/* every writer is done */
	bad = count_bad_shared(m->shared, m->pages) +
	      count_bad_shared(own, m->pages) + count_bad_private(m, k);
	ex_chan_send(up, bad);
	ex_chan_recv(down);		/* the parent's last checkpoint is over */
	_exit(0);
}

static void run_children(struct file_maps *m)
{
	struct ex_chan up[MAX_PROCS], down[MAX_PROCS];
	pid_t pid[MAX_PROCS];
	uint64_t bad = 0;
	unsigned long k;

	for (k = 0; k < m->procs; k++) {
		ex_chan_open(&up[k]);
		ex_chan_open(&down[k]);
		pid[k] = ex_fork();
		if (pid[k] == 0)
			child(m, k, &up[k], &down[k]);
		ex_chan_keep_rd(&up[k]);
		ex_chan_keep_wr(&down[k]);
	}
	for (k = 0; k < m->procs; k++)
		ex_chan_recv(&up[k]);
	rmapshim_checkpoint("sharedfile:written");
	for (k = 0; k < m->procs; k++)
		ex_chan_send(&down[k], 0);
	for (k = 0; k < m->procs; k++)
		bad += ex_chan_recv(&up[k]);
	rmapshim_checkpoint("sharedfile:verified");
	for (k = 0; k < m->procs; k++) {
		ex_chan_send(&down[k], 0);
		ex_chan_close(&up[k]);
		ex_chan_close(&down[k]);
		ex_wait_ok(pid[k], "writer");
	}
	if (bad)
		ex_die("%llu pages read back wrong in the writers",
		       (unsigned long long)bad);
}

/* What reached the file: the shared writes, none of the private ones. */
static void verify_file(const struct file_maps *m)
{
	uint64_t word;

	for (size_t i = 0; i < m->pages; i++) {
		if (pread(m->fd, &word, sizeof(word), (off_t)(i * ex_page_size())) !=
		    sizeof(word))
			ex_die_errno("pread");
		if (word != ex_page_value(TAG_SHARED, i))
			ex_die("file page %zu does not hold the shared write", i);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "procs", required_argument, NULL, 'p' },
		{ "mib", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct file_maps m = { .procs = 4 };
	unsigned long mib = 8;
	int c;

	ex_cli_init("sharedfile", usage);
	while ((c = ex_getopt(argc, argv, ":p:m:h", longopts)) != -1) {
		switch (c) {
		case 'p':
			m.procs = ex_parse_ulong("-p", optarg, 1, MAX_PROCS);
			break;
		case 'm':
			mib = ex_parse_ulong("-m", optarg, 1, 4096);
			break;
		}
	}
	ex_no_operands(argc, argv);

	m.pages = mib * (1024 * 1024 / ex_page_size());
	create_file(&m);
	m.shared = map_file(&m, MAP_SHARED);
	m.private = map_file(&m, MAP_PRIVATE);
	read_all(m.shared, m.pages);
	read_all(m.private, m.pages);
	rmapshim_checkpoint("sharedfile:mapped");

	run_children(&m);
	if (count_bad_shared(m.shared, m.pages) || count_bad_private(&m, m.procs))
		ex_die("the parent's views do not show the shared writes");
	ex_unmap(m.shared, m.pages);
	ex_unmap(m.private, m.pages);
	rmapshim_checkpoint("sharedfile:unmapped");

	verify_file(&m);
	close(m.fd);
	printf("sharedfile: procs=%lu pages=%zu verified\n", m.procs, m.pages);
	return 0;
}
