/* SPDX-License-Identifier: MIT */
/*
 * stacks.c - call stacks (raw return addresses, deduplicated per process)
 * and the module map needed to symbolize them offline.
 *
 * Capture is libunwind's unw_backtrace, IPs only, from a private copy
 * that neither interposes the workload's symbols nor opens an fd
 * (unwinder.c says how).  If that copy cannot be had, glibc's backtrace()
 * (libgcc_s's unwinder, 17-59x slower: bench/README.md) is the fallback;
 * a NOTE says which one each process uses.  The first unwind of either
 * maps memory (libunwind's caches, libgcc_s itself), so every caller
 * holds shim_busy and the constructor warms it up.  Callers also hold
 * shim.mm_lock, which the fork prepare hook takes: no fork child inherits
 * libunwind's cache lock held.  A stack is logged once per process as
 * RLOG_STACK; later uses carry its id.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "real.h"
#include "shim.h"
#include "unwinder.h"

#define STACK_SLOTS	8192		/* power of two */
#define FIRST_SLOTS	16		/* power of two */
#define MAX_FRAMES	128

/*
 * A slot's key carries the process's generation in its top bits: a fork
 * child bumps the generation instead of clearing the table, so the
 * parent's entries read as free without the child writing (and COW-
 * copying) 128 KiB of .bss on every fork.
 */
#define GEN_SHIFT	48
#define HASH_MASK	((1ull << GEN_SHIFT) - 1)
#define GEN_MASK	0xffffull

struct stack_slot {
	uint64_t key;			/* gen << GEN_SHIFT | hash; another gen: free */
	uint32_t id;
	uint32_t id_gen;		/* == gen once id is valid (winner logged it) */
};

static struct stack_slot slots[STACK_SLOTS];
/*
 * Every key's first probe, in the page a fork child writes anyway (its
 * generation): a child's few stacks of its own (its exit's) land here.
 * In slots[] each was a read fault on a page the parent never touched
 * and then a copy-on-write fault, in every child.
 */
static SHIM_CHILD_WRITES struct stack_slot first[FIRST_SLOTS];
static SHIM_CHILD_WRITES uint32_t next_id;
static SHIM_CHILD_WRITES uint64_t gen = 1;		/* never 0: a zeroed slot is free */
static uintptr_t self_lo, self_hi;	/* our own text: frames we skip */
static unsigned long seen_adds, seen_subs;
static uint32_t modules_gen;
static unwinder_fn unwind;		/* libunwind's, or libc's backtrace */

static uint64_t hash_ips(void *const *ip, int n)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < n; i++) {
		h ^= (uintptr_t)ip[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static void log_stack(uint32_t id, void *const *ip, int n)
{
	struct rlog_stack *s;
	uint64_t *out;

	s = rlog_reserve(shim.log, RLOG_STACK, sizeof(*s) + n * sizeof(uint64_t));
	if (!s)
		return;
	s->pid = shim.pid;
	s->id = id;
	s->nframes = n;
	out = (uint64_t *)(s + 1);
	for (int i = 0; i < n; i++)
		out[i] = (uintptr_t)ip[i];
	rlog_commit(shim.log, s);
}

/* Find or insert: the thread that wins the slot assigns the id and logs. */
static uint32_t intern(void *const *ip, int n)
{
	uint64_t h = hash_ips(ip, n);
	uint64_t key = gen << GEN_SHIFT | (h & HASH_MASK);

	for (unsigned probe = 0; probe <= STACK_SLOTS; probe++) {
		struct stack_slot *s = probe ? &slots[(h + probe - 1) & (STACK_SLOTS - 1)] :
					       &first[h & (FIRST_SLOTS - 1)];
		uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		uint32_t id;

		if (cur >> GEN_SHIFT != gen &&
		    __atomic_compare_exchange_n(&s->key, &cur, key, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
			shim_modules_refresh(0);
			log_stack(id, ip, n);
			s->id = id;
			__atomic_store_n(&s->id_gen, (uint32_t)gen, __ATOMIC_RELEASE);
			return id;
		}
		if (cur != key)
			continue;
		/* Another thread is logging it: ids must not precede their record. */
		while (__atomic_load_n(&s->id_gen, __ATOMIC_ACQUIRE) != (uint32_t)gen)
			sched_yield();
		return s->id;
	}
	return 0;
}

static __thread int warming;

int shim_stacks_warming(void)
{
	return warming;
}

/*
 * libunwind's trace cache learns a frame only by unwinding through it, at
 * the first stack taken there: a fork child taking its exit() stack at a
 * call site its parent never ran missed the cache at that frame, in every
 * child again (a DWARF lookup: dl_iterate_phdr, the program's .eh_frame,
 * libunwind's slow path, ~8 page faults a child).  Given that site (the
 * children publish it: shim_mmsem_exit_site), the parent runs @path as if
 * called from it, on a stack of its own (shim_call_from, trampolines.S):
 * the frame is learned from its DWARF, and the next return address read
 * is a zero of that stack.  What the cache holds is still libunwind's own
 * description of the frame, whatever @ra is.  @ra 0: @path is simply run.
 */
void shim_stacks_warm(void (*path)(void), uint64_t ra)
{
	const size_t below = 192 << 10, above = 64 << 10;	/* the unwinder's, the zeroes */
	char *p;

	if (!ra) {
		warming = 1;
		path();
		warming = 0;
		return;
	}
	p = REAL(mmap)(NULL, below + above, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	shim_own_add((uintptr_t)p, (uintptr_t)p + below + above);
	warming = 1;
	shim_call_from((void *)(uintptr_t)ra, p + below, path);
	warming = 0;
	REAL(munmap)(p, below + above);
	shim_own_forget((uintptr_t)p, (uintptr_t)p + below + above);
}

uint32_t shim_stack(void)
{
	void *ip[MAX_FRAMES + 8];
	int n, err, skip = 0;
	unsigned want = shim.cfg.stacks;

	if (!want)
		return 0;
	if (want > MAX_FRAMES)
		want = MAX_FRAMES;
	err = errno;			/* the hooked call's errno is the workload's */
	n = unwind(ip, (int)want + 8);
	errno = err;
	if (warming)
		return 0;
	while (skip < n && (uintptr_t)ip[skip] >= self_lo &&
	       (uintptr_t)ip[skip] < self_hi)
		skip++;
	n -= skip;
	if (n > (int)want)
		n = (int)want;
	if (n <= 0)
		return 0;
	return intern(ip + skip, n);
}

/*
 * Fork child: stack ids restart for the new pid.  Its module set is the
 * parent's, which the report falls back to, so seen_adds/subs are kept and
 * MODULES is logged again only if the child loads or unloads something.
 */
void shim_stacks_reset(void)
{
	gen = (gen + 1) & GEN_MASK;
	if (!gen)
		gen = 1;
	next_id = 0;
}

/* ---- module map ---- */

static const char *module_path(const struct dl_phdr_info *info)
{
	if (info->dlpi_name && info->dlpi_name[0])
		return info->dlpi_name;
	return shim.exe;
}

/* The GNU build-id note of a loaded object, or NULL. */
static const uint8_t *build_id(const struct dl_phdr_info *info, uint32_t *len)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4)) {
				*len = nh->n_descsz;
				return desc;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	*len = 0;
	return NULL;
}

static void load_range(const struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi)
{
	*lo = ~0ull;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < *lo)
			*lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > *hi)
			*hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
}

struct mod_walk {
	int counters_only;
	unsigned long adds, subs;
	size_t size;			/* sizing pass: bytes needed */
	uint8_t *out, *end;		/* filling pass */
	uint32_t count;
};

static int module_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct mod_walk *w = arg;
	const char *path;
	uint32_t idlen;
	const uint8_t *id;
	size_t need;
	struct rlog_module *m;

	if (sz >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		w->adds = info->dlpi_adds;
		w->subs = info->dlpi_subs;
	}
	/* Nothing else: a fork child's check touched strlen's libc page. */
	if (w->counters_only)
		return 1;
	path = module_path(info);
	id = build_id(info, &idlen);
	need = sizeof(struct rlog_module) + rlog_str_size(strlen(path)) + rlog_str_size(idlen);
	if (!w->out) {
		w->size += need;
		return 0;
	}
	if (w->out + need > w->end)
		return 1;
	m = (struct rlog_module *)w->out;
	m->bias = info->dlpi_addr;
	load_range(info, &m->lo, &m->hi);
	w->out = rlog_put_str(m + 1, path, strlen(path));
	w->out = rlog_put_str(w->out, (const char *)id, idlen);
	w->count++;
	return 0;
}

void shim_modules_refresh(int force)
{
	struct mod_walk w = { .counters_only = 1 };
	struct rlog_modules *r;

	dl_iterate_phdr(module_cb, &w);
	if (!force && w.adds == seen_adds && w.subs == seen_subs)
		return;
	seen_adds = w.adds;
	seen_subs = w.subs;
	w.counters_only = 0;
	dl_iterate_phdr(module_cb, &w);
	r = rlog_reserve(shim.log, RLOG_MODULES, sizeof(*r) + w.size);
	if (!r)
		return;
	r->pid = shim.pid;
	r->generation = ++modules_gen;
	w.out = (uint8_t *)(r + 1);
	w.end = w.out + w.size;
	dl_iterate_phdr(module_cb, &w);
	r->count = w.count;
	rlog_commit(shim.log, r);
}

static int self_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
	uint64_t lo, hi;
	uintptr_t me = (uintptr_t)arg;

	(void)sz;
	load_range(info, &lo, &hi);
	if (me >= lo && me < hi) {
		self_lo = lo;
		self_hi = hi;
		return 1;
	}
	return 0;
}

/*
 * The objects unwinder_load brings in (libunwind, its liblzma) are ours as
 * librmapshim itself is: their pages stay out of the shadow too (every
 * fork read ~115 pagemap entries of the three, and copied and zapped their
 * data).  They are the load ranges that were not there before it.
 */
#define MAX_OBJECTS	256
struct loaded {
	uint64_t base[MAX_OBJECTS];
	int n;
};

static int note_loaded(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct loaded *l = arg;

	(void)sz;
	if (l->n < MAX_OBJECTS)
		l->base[l->n] = info->dlpi_addr;
	l->n++;
	return 0;
}

static int own_new(struct dl_phdr_info *info, size_t sz, void *arg)
{
	const struct loaded *before = arg;
	uint64_t lo, hi;

	(void)sz;
	for (int i = 0; i < before->n; i++)
		if (before->base[i] == info->dlpi_addr)
			return 0;
	load_range(info, &lo, &hi);
	if (lo < hi)
		shim_own_add(lo & ~(PAGE_SIZE - 1), hi);
	return 0;
}

void shim_stacks_init(void)
{
	char msg[160] = "stacks: glibc backtrace(), not libunwind: ";
	struct loaded before = { .n = 0 };
	const char *why;
	void *ip[4];

	dl_iterate_phdr(self_cb, (void *)(uintptr_t)&shim_stacks_init);
	if (self_lo < self_hi)
		shim_own_add(self_lo & ~(PAGE_SIZE - 1), self_hi);
	if (!shim.cfg.stacks)
		return;
	dl_iterate_phdr(note_loaded, &before);
	unwind = unwinder_load(&why, shim_signals_blocked, shim_own_add);
	if (!why && before.n <= MAX_OBJECTS)
		dl_iterate_phdr(own_new, &before);
	if (!why) {
		rlog_note(shim.log, shim.pid, RLOG_NOTE_INFO,
			  "stacks: libunwind unw_backtrace (private copy, no fd)");
		return;
	}
	strncat(msg, why, sizeof(msg) - strlen(msg) - 1);
	rlog_note(shim.log, shim.pid, RLOG_NOTE_WARN, msg);
	/* The first backtrace() loads libgcc_s: do it now, not in a hook. */
	(void)unwind(ip, 4);
}

/* Did ld.so load or unload anything since the last call (dlopen, iconv...)? */
int shim_dl_changed(void)
{
	static unsigned long adds, subs;
	struct mod_walk w = { .counters_only = 1 };

	dl_iterate_phdr(module_cb, &w);
	if (w.adds == adds && w.subs == subs)
		return 0;
	adds = w.adds;
	subs = w.subs;
	return 1;
}
