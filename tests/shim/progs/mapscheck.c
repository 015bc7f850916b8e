/* SPDX-License-Identifier: MIT */
/*
 * mapscheck - shim_read_maps (shim/procmaps.c) against the maps text, read
 * here with sscanf: the same vmas, fields and [stack] flag, the kernel's
 * special mappings ([vdso], [vvar]...) left out, for the whole mm and for
 * small ranges; of our own mm (pid 0), of a fork child's from inside it,
 * and of that child's from the parent (pid != 0), and once more with the
 * ioctl refused by seccomp (ENOTTY: the text fallback).  The mm holds the vmas
 * whose names the shim must ask for or may skip: private read-only and
 * PROT_NONE anonymous ones, a named one, files, shared anonymous memory.
 * Exit status 1 and one line per difference on failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "shim.h"

#define MAXV 4096

/* procmaps.c's only outside call; the shim's lives in reconcile.c. */
int shim_open_proc(pid_t pid, const char *leaf)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, leaf);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", leaf);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static struct shim_maps_vma want[MAXV], got[MAXV];
static int nwant, ngot, failed;
static char text[1 << 20];

static void collect(void *ctx, const struct shim_maps_vma *v)
{
	(void)ctx;
	if (ngot < MAXV)
		got[ngot++] = *v;
}

static int special(const char *name)
{
	return !strcmp(name, "[vvar]") || !strcmp(name, "[vdso]") ||
	       !strcmp(name, "[vsyscall]") || !strcmp(name, "[vvar_vclock]") ||
	       !strcmp(name, "[uprobes]");
}

/* The text's non-special vmas; no allocation between it and shim_read_maps. */
static void read_want(pid_t pid)
{
	int fd = shim_open_proc(pid, "maps");
	size_t have = 0;
	ssize_t n;
	char *line;

	while ((n = read(fd, text + have, sizeof(text) - 1 - have)) > 0)
		have += n;
	close(fd);
	text[have] = 0;
	nwant = 0;
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		struct shim_maps_vma v = { 0 };
		unsigned maj, min;
		char perms[8], name[512] = "";
		uint64_t ino;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %511[^\n]",
			   &v.start, &v.end, perms, &v.offset, &maj, &min, &ino, name) < 7) {
			printf("FAIL: unparsed maps line: %s\n", line);
			failed = 1;
			continue;
		}
		if (special(name))
			continue;
		v.file.ino = ino;
		v.file.dev = ino ? makedev(maj, min) : 0;
		v.prot = (perms[0] == 'r' ? RMAP_VM_READ : 0) | (perms[1] == 'w' ? RMAP_VM_WRITE : 0) |
			 (perms[2] == 'x' ? RMAP_VM_EXEC : 0) | (perms[3] == 's' ? RMAP_VM_SHARED : 0);
		v.stack = !strcmp(name, "[stack]");
		want[nwant++] = v;
	}
}

static void compare(const char *who, pid_t pid, uint64_t lo, uint64_t hi)
{
	int i, j = 0, err;

	read_want(pid);
	ngot = 0;
	err = shim_read_maps(pid, lo, hi, collect, NULL);
	if (err) {
		printf("FAIL: %s [%" PRIx64 ", %" PRIx64 "): error %d\n", who, lo, hi, err);
		failed = 1;
		return;
	}
	for (i = 0; i < nwant; i++) {
		const struct shim_maps_vma *w = &want[i], *g = &got[j];

		if (w->end <= lo || w->start >= hi)
			continue;
		if (j == ngot || g->start != w->start || g->end != w->end || g->prot != w->prot ||
		    g->file.dev != w->file.dev || g->file.ino != w->file.ino ||
		    (w->file.ino && g->offset != w->offset) || g->stack != w->stack) {
			printf("FAIL: %s [%" PRIx64 ", %" PRIx64 "): text %" PRIx64 "-%" PRIx64
			       " prot %x ino %" PRIu64 " stack %d, shim %s%" PRIx64 "-%" PRIx64
			       " prot %x ino %" PRIu64 " stack %d\n", who, lo, hi, w->start, w->end,
			       w->prot, (uint64_t)w->file.ino, w->stack, j == ngot ? "(none) " : "",
			       g->start, g->end, g->prot, (uint64_t)g->file.ino, g->stack);
			failed = 1;
			return;
		}
		j++;
	}
	if (j != ngot) {
		printf("FAIL: %s [%" PRIx64 ", %" PRIx64 "): %d vmas more than the text, first %"
		       PRIx64 "\n", who, lo, hi, ngot - j, got[j].start);
		failed = 1;
	}
}

/* The whole mm, each vma alone, each boundary, and the vdso's page. */
static void check(const char *who, pid_t pid)
{
	static struct shim_maps_vma all[MAXV];
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
	int n, stacks = 0;

	compare(who, pid, 0, ~0ull);
	n = nwant;
	memcpy(all, want, n * sizeof(all[0]));
	for (int i = 0; i < n; i++) {
		stacks += all[i].stack;
		if (vdso && all[i].start <= vdso && vdso < all[i].end) {
			printf("FAIL: %s: the text's [vdso] was not skipped\n", who);
			failed = 1;
		}
		compare(who, pid, all[i].start, all[i].end);
		compare(who, pid, all[i].end - PAGE_SIZE, all[i].end + PAGE_SIZE);
	}
	if (vdso)
		compare(who, pid, vdso, vdso + PAGE_SIZE);
	if (stacks != 1) {
		printf("FAIL: %s: %d [stack] vmas\n", who, stacks);
		failed = 1;
	}
	printf("%s: %d vmas, %s\n", who, n, failed ? "FAILED" : "ok");
}

/* ioctl(.., PROCMAP_QUERY (type 'f', nr 17), ..) fails ENOTTY from now on. */
static int refuse_query(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xffff),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ('f' << 8) | 17, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	char path[] = "/tmp/mapscheck.XXXXXX";
	int fd = mkstemp(path), go[2], ready[2], status;
	char *anon = mmap(NULL, 6 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *named = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *shared = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *file;
	pid_t child;
	char c = 0;

	if (fd < 0 || ftruncate(fd, 4 * ps) || anon == MAP_FAILED || named == MAP_FAILED ||
	    shared == MAP_FAILED || pipe(go) || pipe(ready))
		return 2;
	unlink(path);
	file = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED || mmap(file + 2 * ps, 2 * ps, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, fd, 2 * ps) == MAP_FAILED)
		return 2;
	close(fd);
	anon[0] = shared[0] = 1;
	/* read-only and PROT_NONE private anonymous vmas: their names are asked */
	mprotect(anon + ps, ps, PROT_READ);
	mprotect(anon + 3 * ps, ps, PROT_NONE);
	mprotect(anon + 5 * ps, ps, PROT_READ | PROT_EXEC);
	/* a name too long for the shim's buffer (EINVAL on kernels without anon names) */
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)named, ps,
		    (unsigned long)"a-name-longer-than-any-special-one");
	check("self", 0);
	fflush(stdout);
	child = fork();
	if (child < 0)
		return 2;
	if (!child) {
		check("fork child", 0);
		fflush(stdout);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(failed);
	}
	if (read(ready[0], &c, 1) != 1)
		return 2;
	check("the child, from its parent", child);
	if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) != child)
		return 2;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		failed = 1;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return 2;
	if (!child) {
		if (refuse_query())
			_exit(2);
		check("text fallback", 0);
		fflush(stdout);
		_exit(failed);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		failed = 1;
	return failed;
}
