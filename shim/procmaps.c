/* SPDX-License-Identifier: MIT */
/*
 * procmaps.c - the kernel's vmas of a process, from /proc/<pid>/maps.
 *
 * The text is parsed with raw read()s: no stdio, no malloc; the buffer is
 * static (callers hold mm_lock).  PROCMAP_QUERY (Linux 6.11) costs one
 * ioctl per vma and measured no faster than the text for 20-60 vmas.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"

static char mapsbuf[65536];

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

	if (fd < 0)
		return -errno;
	read_text(&w, fd);
	close(fd);
	return 0;
}
