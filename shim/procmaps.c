/* SPDX-License-Identifier: MIT */
/*
 * procmaps.c - the kernel's vmas of a process, from /proc/<pid>/maps.
 *
 * PROCMAP_QUERY (Linux 6.11) gives one vma per ioctl on the maps fd, from
 * an address on, names only if asked (d_path, the text's costly part): a
 * range walks only its own vmas.  Measured on 6.18 (a 2-vCPU VM), per
 * call: whole mm of 40 / 400 vmas 24 / 208 us without names, 35 / 307 us
 * with, 29 / 284 us as text; one vma's range 5 us, text 38 / 283 us.
 * So names are asked only where one may matter (want_name).  Kernels
 * without the ioctl get the text, parsed with raw read()s: no stdio, no
 * malloc; the buffers are static (callers hold mm_lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"

/* Debian 12's headers predate it (linux/fs.h, 6.11). */
struct procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY			_IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE	0x01
#define PROCMAP_QUERY_VMA_WRITABLE	0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE	0x04
#define PROCMAP_QUERY_VMA_SHARED	0x08	/* VM_MAYSHARE, the text's 's' */
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10

/* glibc's: where the kernel put argc, i.e. mm->start_stack. */
extern void *__libc_stack_end;

static char mapsbuf[65536];
static int no_query;		/* the kernel said ENOTTY or EINVAL once */

static int special_name(const char *name)
{
	static const char *const specials[] = {
		"[vvar]", "[vdso]", "[vsyscall]", "[vvar_vclock]", "[uprobes]",
	};

	for (unsigned i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		if (!strcmp(name, specials[i]))
			return 1;
	return 0;
}

struct walk {
	uint64_t lo, hi;
	shim_maps_fn fn;
	void *ctx;
};

/* Hand one vma to the caller unless it is out of range or the kernel's own. */
static void deliver(struct walk *w, struct shim_maps_vma *v, const char *name)
{
	if (v->end <= w->lo || v->start >= w->hi || special_name(name))
		return;
	v->stack = !strcmp(name, "[stack]");
	w->fn(w->ctx, v);
}

/*
 * Whether a vma's name can change what we deliver.  Files never: only
 * anonymous vmas are special or [stack].  The special mappings are private
 * and never writable; [stack] is the vma holding mm->start_stack (the text
 * tests the same), which in our own mm (and a fork child's) is glibc's
 * __libc_stack_end.  Of another process, every anonymous vma is asked.
 */
static int want_name(pid_t pid, const struct procmap_query *q)
{
	uintptr_t sp = (uintptr_t)__libc_stack_end;

	if (q->inode)
		return 0;
	if (!(q->vma_flags & (PROCMAP_QUERY_VMA_WRITABLE | PROCMAP_QUERY_VMA_SHARED)))
		return 1;
	return pid || (q->vma_start <= sp && sp <= q->vma_end);
}

/*
 * The name of the vma at @addr, into @name; "" if it has none, is longer
 * than any name we test, or is gone since.
 */
static void query_name(int fd, uint64_t addr, char *name, uint32_t size)
{
	struct procmap_query q = {
		.size = sizeof(q), .query_addr = addr,
		.vma_name_addr = (uintptr_t)name, .vma_name_size = size,
	};

	if (ioctl(fd, PROCMAP_QUERY, &q) || !q.vma_name_size)
		name[0] = 0;
}

/* 0, a negative errno, or 1: no PROCMAP_QUERY here (nothing delivered). */
static int read_query(struct walk *w, int fd, pid_t pid)
{
	char name[sizeof("[vvar_vclock]")];

	for (uint64_t addr = w->lo; addr < w->hi;) {
		struct procmap_query q = {
			.size = sizeof(q), .query_addr = addr,
			.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
		};
		struct shim_maps_vma v = { 0 };

		if (ioctl(fd, PROCMAP_QUERY, &q)) {
			if (errno == ENOENT)
				return 0;
			if (addr == w->lo && (errno == ENOTTY || errno == EINVAL)) {
				no_query = 1;
				return 1;
			}
			return -errno;
		}
		if (q.vma_start >= w->hi)
			return 0;
		v.start = q.vma_start;
		v.end = q.vma_end;
		v.offset = q.vma_offset;
		v.file.ino = q.inode;
		v.file.dev = q.inode ? makedev(q.dev_major, q.dev_minor) : 0;
		v.prot = (q.vma_flags & PROCMAP_QUERY_VMA_READABLE ? RMAP_VM_READ : 0) |
			 (q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? RMAP_VM_WRITE : 0) |
			 (q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? RMAP_VM_EXEC : 0) |
			 (q.vma_flags & PROCMAP_QUERY_VMA_SHARED ? RMAP_VM_SHARED : 0);
		name[0] = 0;
		if (want_name(pid, &q))
			query_name(fd, q.vma_start, name, sizeof(name));
		deliver(w, &v, name);
		addr = q.vma_end;
	}
	return 0;
}

static const char *hex(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		x = x * 16 + d;
	}
	*v = x;
	return s;
}

/* One maps line ("start-end perms offset maj:min inode  name"), NUL-terminated. */
static void parse_line(struct walk *w, const char *s)
{
	struct shim_maps_vma v = { 0 };
	uint64_t maj, min;
	const char *perms;

	s = hex(s, &v.start);
	s = hex(s + 1, &v.end);
	perms = s + 1;
	s = hex(perms + 5, &v.offset);
	s = hex(s + 1, &maj);
	s = hex(s + 1, &min);
	for (s++; *s >= '0' && *s <= '9'; s++)
		v.file.ino = v.file.ino * 10 + (*s - '0');
	while (*s == ' ')
		s++;
	v.file.dev = v.file.ino ? makedev(maj, min) : 0;
	v.prot = (perms[0] == 'r' ? RMAP_VM_READ : 0) |
		 (perms[1] == 'w' ? RMAP_VM_WRITE : 0) |
		 (perms[2] == 'x' ? RMAP_VM_EXEC : 0) |
		 (perms[3] == 's' ? RMAP_VM_SHARED : 0);
	deliver(w, &v, s);
}

static void read_text(struct walk *w, int fd)
{
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, mapsbuf + have, sizeof(mapsbuf) - 1 - have);
		char *line = mapsbuf, *nl;

		if (n <= 0)
			break;
		have += n;
		mapsbuf[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			parse_line(w, line);
			line = nl + 1;
		}
		have -= line - mapsbuf;
		memmove(mapsbuf, line, have);
	}
}

int shim_read_maps(pid_t pid, uint64_t lo, uint64_t hi, shim_maps_fn fn,
		   void *ctx)
{
	struct walk w = { .lo = lo, .hi = hi, .fn = fn, .ctx = ctx };
	int fd = shim_open_proc(pid, "maps");
	int err = 1;

	if (fd < 0)
		return -errno;
	if (!no_query)
		err = read_query(&w, fd, pid);
	if (err == 1) {
		read_text(&w, fd);
		err = 0;
	}
	close(fd);
	return err;
}

int shim_file_id(int dirfd, const char *path, int fd, struct rmap_file_id *id)
{
	struct stat st;

	if (fd >= 0 ? fstat(fd, &st) : fstatat(dirfd, path, &st, 0))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}
