/* SPDX-License-Identifier: MIT */
/*
 * rmapshim-symbolize - offline symbolization for the reports, with libdwfl.
 *
 * Protocol (reports/rmapshim/symbols.py is the other side):
 *   stdin:  "M <bias hex> <path>" lines for the modules of one process,
 *           then "A <address hex>" lines (already return address - 1).
 *   stdout: one JSON object per A line, in order:
 *           {"addr":"0x..","module":"path"|null,
 *            "frames":[{"function":..,"file":..,"line":N,"inlined":bool},..]}
 *           frames innermost first: the inlined chain, then the function
 *           that contains the address.
 *
 * Why not dwfl_module_addrinfo: it scans the symbol table linearly (0.2-0.3
 * ms per address inside libc); we sort each module's function symbols
 * once.  Why dwarf_getscopes_die: dwarf_getscopes alone stops after the
 * first inlined frame (it follows the abstract origin, not the caller).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sym {
	GElf_Addr addr, size;
	const char *name;
};

struct symtab {
	struct sym *v;
	size_t n;
};

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The module's function symbols sorted by address, built on first use. */
static struct symtab *module_symtab(Dwfl_Module *m)
{
	void **userdata;
	struct symtab *t;
	int i, n;

	dwfl_module_info(m, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	if (*userdata)
		return *userdata;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	n = dwfl_module_getsymtab(m);
	t->v = calloc(n > 0 ? n : 1, sizeof(*t->v));
	for (i = 1; t->v && i < n; i++) {
		GElf_Sym s;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(m, i, &s, &addr, NULL, NULL, NULL);

		if (name && *name && GELF_ST_TYPE(s.st_info) == STT_FUNC && addr)
			t->v[t->n++] = (struct sym){ addr, s.st_size, name };
	}
	if (t->v)
		qsort(t->v, t->n, sizeof(*t->v), cmp_sym);
	*userdata = t;
	return t;
}

static const char *symbol_at(Dwfl_Module *m, GElf_Addr pc)
{
	struct symtab *t = module_symtab(m);
	size_t lo = 0, hi;

	if (!t || !t->n)
		return NULL;
	hi = t->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (t->v[mid].addr <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (t->v[lo].addr > pc || (t->v[lo].size && pc >= t->v[lo].addr + t->v[lo].size))
		return NULL;
	return t->v[lo].name;
}

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int nframes;

static void frame(const char *fn, const char *file, int line, int inlined)
{
	fputs(nframes++ ? "," : "", stdout);
	fputs("{\"function\":", stdout);
	json_str(fn);
	fputs(",\"file\":", stdout);
	json_str(file);
	printf(",\"line\":%d,\"inlined\":%s}", line, inlined ? "true" : "false");
}

/* File name of DW_AT_call_file index @idx in @cu's line table. */
static const char *call_file(Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t n;

	if (dwarf_getsrcfiles(cu, &files, &n) != 0 || idx >= n)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

/*
 * Print the inlined chain at @pc, each frame at the call site of the one
 * inside it, and leave in *file, *line where the containing function's own
 * line is.  Returns the containing subprogram's DWARF name (for functions
 * the symbol table lacks), or NULL.
 */
static const char *inlined_frames(Dwfl_Module *m, GElf_Addr pc, const char **file, int *line)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(m, pc, &bias);
	Dwarf_Die *scopes, in;
	const char *outer = NULL;
	int i, n;

	if (!cu)
		return NULL;
	n = dwarf_getscopes(cu, pc - bias, &scopes);
	if (n <= 0)
		return NULL;
	in = scopes[0];
	free(scopes);
	n = dwarf_getscopes_die(&in, &scopes);
	for (i = 0; i < n; i++) {
		Dwarf_Attribute a;
		Dwarf_Word cf = 0, cl = 0;

		if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine) {
			if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
				outer = dwarf_diename(&scopes[i]);
				break;
			}
			continue;
		}
		frame(dwarf_diename(&scopes[i]), *file, *line, 1);
		dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf);
		dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl);
		*file = call_file(cu, cf);
		*line = (int)cl;
	}
	if (n > 0)
		free(scopes);
	return outer;
}

static void symbolize(Dwfl *d, GElf_Addr pc)
{
	Dwfl_Module *m = dwfl_addrmodule(d, pc);
	const char *file = NULL, *modname = NULL;
	int line = 0;

	printf("{\"addr\":\"0x%" PRIx64 "\",\"module\":", (uint64_t)pc);
	if (m)
		modname = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	json_str(modname);
	fputs(",\"frames\":[", stdout);
	nframes = 0;
	if (m) {
		Dwfl_Line *l = dwfl_module_getsrc(m, pc);
		const char *outer, *sym;

		if (l)
			file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
		outer = inlined_frames(m, pc, &file, &line);
		sym = symbol_at(m, pc);
		frame(sym ? sym : outer, file, line, 0);
	}
	fputs("]}\n", stdout);
}

int main(void)
{
	static char *debuginfo_path;
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &debuginfo_path,
	};
	char buf[8192];
	int reported = 0;
	Dwfl *d;

	/* libdw 0.188 would fetch from the network for every module. */
	unsetenv("DEBUGINFOD_URLS");
	d = dwfl_begin(&cb);
	if (!d) {
		fprintf(stderr, "rmapshim-symbolize: %s\n", dwfl_errmsg(-1));
		return 1;
	}
	dwfl_report_begin(d);
	while (fgets(buf, sizeof(buf), stdin)) {
		char *end;
		uint64_t v = strtoull(buf + 2, &end, 16);

		buf[strcspn(buf, "\n")] = 0;
		if (buf[0] == 'M' && *end == ' ') {
			const char *path = end + 1;
			const char *base = strrchr(path, '/');

			/* ET_DYN and ET_EXEC alike: @v is the load bias. */
			dwfl_report_elf(d, base ? base + 1 : path, path, -1, v, false);
		} else if (buf[0] == 'A') {
			if (!reported++)
				dwfl_report_end(d, NULL, NULL);
			symbolize(d, v);
		}
	}
	dwfl_end(d);
	return 0;
}
