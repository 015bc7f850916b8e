/* SPDX-License-Identifier: MIT */
/*
 * ownmem - where the shim's own anonymous memory is, for the test to check
 * that the shadow never holds a page of it (test_shim.py case ownmem).
 *
 * ownmem FILE: writes one "START END WHAT" line (hex) per range to FILE
 * (stdout must be the same traced and native), from /proc/self/smaps:
 * the reconciliation's scratch (the only vma with VmFlags "wf", i.e.
 * MADV_WIPEONFORK) and libunwind's trace cache of the main thread (an
 * anonymous 256 KiB vma; this program maps none of that size) and the
 * segments of the libraries the shim brings (librmapshim.so, libunwind,
 * liblzma: "lib"; this program uses none of them itself).  Then a
 * fork child writes pages, makes an intercepted call (its scratch then
 * holds pages) and blocks; the parent waits (traced: reading the run's
 * log, at most 10 s) until the --sample-ms thread has reconciled the child
 * on its behalf, takes an explicit checkpoint (which does it again), lets
 * the child go and checkpoints again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rmapshim.h"

#define CACHE_BYTES	(256ul << 10)

static void print_own(const char *path)
{
	FILE *f = fopen("/proc/self/smaps", "r"), *out = fopen(path, "w");
	unsigned long lo = 0, hi = 0, ino = 1;
	char line[512], name[256];

	if (!f || !out)
		exit(2);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8];

		name[0] = 0;
		/* Into a, b: "FilePmdMapped:" starts with a hex digit too. */
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &a, &b, perms, &ino,
			   name) >= 4) {
			lo = a;
			hi = b;
			if (!ino && !name[0] && hi - lo == CACHE_BYTES && !strcmp(perms, "rw-p"))
				fprintf(out, "%lx %lx cache\n", lo, hi);
			if (ino && (strstr(name, "/librmapshim.so") || strstr(name, "/libunwind.so.8") ||
				    strstr(name, "/liblzma.so.5")))
				fprintf(out, "%lx %lx lib\n", lo, hi);
			continue;
		}
		if (!strncmp(line, "VmFlags:", 8) && strstr(line, " wf"))
			fprintf(out, "%lx %lx scratch\n", lo, hi);
	}
	fclose(f);
	fclose(out);
}

struct on_behalf {
	pid_t child;
	int seen;
};

/* A map event of the child's written by another thread: the sampler's. */
static void find_on_behalf(void *ctx, const struct rlog_rec *rec)
{
	struct on_behalf *ob = ctx;
	const struct rlog_map_event *m = (const void *)(rec + 1);

	if (rec->type == RLOG_MAP_EVENT && m->pid == ob->child &&
	    rec->tid != (uint32_t)ob->child)
		ob->seen = 1;
}

/* Traced: poll the run's log until the sampler has done it (10 s at most). */
static void wait_for_sampler(pid_t child)
{
	const struct timespec tick = { 0, 2 * 1000000 };
	const char *dir = getenv("RMAPSHIM_OUT");
	struct on_behalf ob = { .child = child };
	struct rlog_scan_stats st;
	char path[4096];
	struct rlog *l;

	if (!dir || snprintf(path, sizeof(path), "%s/events.rlog", dir) >= (int)sizeof(path) ||
	    rlog_attach(path, &l))
		return;
	for (int i = 0; i < 5000 && !ob.seen; i++) {
		rlog_scan(l, find_on_behalf, &ob, &st);
		if (!ob.seen)
			nanosleep(&tick, NULL);
	}
	rlog_detach(l);
}

int main(int argc, char **argv)
{
	int go[2];
	pid_t pid;
	char c;

	if (argc != 2)
		return 2;
	rmapshim_checkpoint("start");	/* maps the scratch, if nothing did yet */
	print_own(argv[1]);
	if (pipe(go))
		return 2;
	pid = fork();
	if (pid == 0) {
		size_t len = 64 * 4096;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(2);
		memset(p, 1, len);
		munmap(p, 4096);	/* one more reconciliation, with pages */
		close(go[1]);
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(go[0]);
	wait_for_sampler(pid);
	rmapshim_checkpoint("child-blocked");
	close(go[1]);
	waitpid(pid, NULL, 0);
	rmapshim_checkpoint("end");
	printf("done\n");
	return 0;
}
