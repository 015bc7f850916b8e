/* SPDX-License-Identifier: MIT */
/*
 * traceable.c - will ld.so load librmapshim.so into this program?
 *
 * Not into a static binary (no PT_INTERP: no ld.so at all), and not into a
 * secure exec (setuid/setgid to someone else, file capabilities when not
 * root: AT_SECURE drops LD_PRELOAD).  Such a program runs untraced, and
 * says so once through the log.  Only open/pread/fstat: the caller may be
 * a vfork child.
 */
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "traceable.h"

static int elf_is_static(int fd)
{
	Elf64_Ehdr eh;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    eh.e_ident[EI_MAG0] != ELFMAG0 || eh.e_ident[EI_MAG1] != ELFMAG1 ||
	    eh.e_ident[EI_MAG2] != ELFMAG2 || eh.e_ident[EI_MAG3] != ELFMAG3 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return 0;	/* a script or another class: its interpreter decides */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * eh.e_phentsize) !=
		    sizeof(ph))
			return 0;
		if (ph.p_type == PT_INTERP)
			return 0;
	}
	return 1;
}

const char *shim_untraceable_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return NULL;
	if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
		return "setuid/setgid";
	if (geteuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0)
		return "a program with file capabilities";
	if (elf_is_static(fd))
		return "a static binary";
	return NULL;
}

const char *shim_untraceable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *why;

	if (fd < 0)
		return NULL;	/* the exec itself will fail and say why */
	why = shim_untraceable_fd(fd);
	close(fd);
	return why;
}
