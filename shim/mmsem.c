/* SPDX-License-Identifier: MIT */
/*
 * mmsem.c - the cross-process half of the shadow mmap_sem.
 *
 * rmapcore requires one mm-level operation per mm at a time.  Within a
 * process shim.mm_lock gives that; but an explicit checkpoint reconciles
 * other processes' mms on their behalf, so every mm also has a robust,
 * process-shared mutex in "$RMAPSHIM_OUT/mmsem", one slot per mm index
 * (modulo MMSEM_SLOTS, rmapcore's default max_mms: an arena with more mms
 * would have two share a slot, which only serializes them).  Robust,
 * because a SIGKILLed holder must not wedge the tree: the next locker gets
 * EOWNERDEAD and carries on.  The file is created by the first process that
 * needs it, initialized under a private name and link()ed into place, so no
 * process ever maps a half-initialized table.  The slot also holds the
 * ranges the mm's owner keeps out of its shadow (shim_mmsem_publish).  A
 * page after the slots is wtrack.c's mailbox to the supervisor (the same
 * file reaches every process of the tree and rmapshim-run alike).  In the
 * preload it is only set up from the constructor (shim_busy set), so its
 * mmap is not traced.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/mman.h>

#include "mmsem.h"
#include "shimenv.h"

#define MMSEM_SLOTS	8192
#define TRY_SPINS	2000	/* on-behalf trylock attempts before giving up */

/*
 * 256 bytes, so no slot straddles a page: a process touches only the page
 * of its own slot (and its parent's), the list included.
 */
struct mmsem_slot {
	pthread_mutex_t m;
	/* The fork child whose mm the holder copied last (shim_mmsem_handoff). */
	int32_t child_pid;
	rmap_mm_t child_mm;
	uint32_t touch;		/* written before locking (shim_mmsem_lock) */
	uint64_t exit_site;	/* shim_mmsem_set_exit_site: a child's, any time */
	int32_t own_pid;	/* whose list own is; 0: none published */
	struct shim_own own;
} __attribute__((aligned(256)));
_Static_assert(sizeof(struct mmsem_slot) == 256, "a slot straddles pages");

#define MMSEM_BYTES	(MMSEM_SLOTS * sizeof(struct mmsem_slot) + SHIM_MMSEM_EXTRA)

static struct mmsem_slot *slots;

static struct mmsem_slot *map_table(int fd)
{
	void *p = mmap(NULL, MMSEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct mmsem_slot *create_table(const char *path)
{
	char tmp[PATH_MAX + 32];
	pthread_mutexattr_t at;
	struct mmsem_slot *t;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/* A store into an unbacked page of a shared file is a SIGBUS. */
	t = posix_fallocate(fd, 0, MMSEM_BYTES) ? NULL : map_table(fd);
	close(fd);
	if (t) {
		pthread_mutexattr_init(&at);
		pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
		for (int i = 0; i < MMSEM_SLOTS; i++)
			pthread_mutex_init(&t[i].m, &at);
		pthread_mutexattr_destroy(&at);
		if (link(tmp, path) && errno == EEXIST) {
			/* Another process won: use its table. */
			munmap(t, MMSEM_BYTES);
			t = NULL;
		}
	}
	unlink(tmp);
	return t;
}

int shim_mmsem_attach(const char *dir, struct rmap_file_id *id)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, RMAPSHIM_MMSEM_NAME);
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		slots = create_table(path);
		fd = slots ? -1 : open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0) {
		slots = map_table(fd);
		close(fd);
	}
	if (!slots || stat(path, &st))
		return -ENOENT;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

/* @mm's slot (shared modulo MMSEM_SLOTS), or NULL without a table or an mm. */
static struct mmsem_slot *slot_of(rmap_mm_t mm)
{
	return slots && mm ? &slots[mm % MMSEM_SLOTS] : NULL;
}

static pthread_mutex_t *mutex_of(rmap_mm_t mm)
{
	struct mmsem_slot *s = slot_of(mm);

	return s ? &s->m : NULL;
}

static void got(pthread_mutex_t *m, int r)
{
	/* The holder died (SIGKILL) inside its section: the supervisor reaps its mm. */
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(m);
}

void shim_mmsem_lock(rmap_mm_t mm)
{
	struct mmsem_slot *s = slot_of(mm);

	if (!s)
		return;
	/*
	 * A store before the mutex's first read: a fork child's first touch of
	 * the table page is then one write fault, not a read fault and then a
	 * write-protect fault (the filesystem's page_mkwrite).
	 */
	__atomic_store_n(&s->touch, 0, __ATOMIC_RELAXED);
	got(&s->m, pthread_mutex_lock(&s->m));
}

/* For another process's mm: never wait long, it may be waiting for ours. */
int shim_mmsem_trylock(rmap_mm_t mm)
{
	pthread_mutex_t *m = mutex_of(mm);

	if (!m)
		return 0;
	for (int i = 0; i < TRY_SPINS; i++) {
		int r = pthread_mutex_trylock(m);

		if (r == 0 || r == EOWNERDEAD) {
			got(m, r);
			return 1;
		}
		sched_yield();
	}
	return 0;
}

void shim_mmsem_unlock(rmap_mm_t mm)
{
	pthread_mutex_t *m = mutex_of(mm);

	if (m)
		pthread_mutex_unlock(m);
}

/*
 * A fork child learns its mm from the slot its parent held while copying
 * it, instead of searching every live mm (rmap_mm_find_pid touches one
 * arena page per mm, each a page fault in a fresh child).  Called with the
 * slot held; the slot may be shared or reused, so the child checks the pid.
 */
void shim_mmsem_handoff(rmap_mm_t mm, pid_t child, rmap_mm_t child_mm)
{
	struct mmsem_slot *s = slot_of(mm);

	if (s) {
		s->child_pid = child;
		s->child_mm = child_mm;
	}
}

rmap_mm_t shim_mmsem_handed(rmap_mm_t mm, pid_t child)
{
	struct mmsem_slot *s = slot_of(mm);

	return s && s->child_pid == child ? s->child_mm : 0;
}

void shim_mmsem_set_exit_site(rmap_mm_t mm, uint64_t site)
{
	struct mmsem_slot *s = slot_of(mm);

	if (s && __atomic_load_n(&s->exit_site, __ATOMIC_RELAXED) != site)
		__atomic_store_n(&s->exit_site, site, __ATOMIC_RELAXED);
}

uint64_t shim_mmsem_exit_site(rmap_mm_t mm)
{
	struct mmsem_slot *s = slot_of(mm);

	return s ? __atomic_load_n(&s->exit_site, __ATOMIC_RELAXED) : 0;
}

int shim_own_cut(struct shim_own *o, uint64_t lo, uint64_t hi)
{
	struct shim_own old = *o;
	uint32_t untouched = 0;

	for (uint32_t i = 0; i < old.n; i++)
		untouched += old.r[i].end <= lo || old.r[i].start >= hi;
	if (untouched == old.n)
		return 0;
	/* The ranges the cut misses first: a split must not push one out. */
	o->n = 0;
	for (uint32_t i = 0; i < old.n; i++) {
		uint64_t s = old.r[i].start, e = old.r[i].end;

		if (e <= lo || s >= hi) {
			o->r[o->n++] = old.r[i];
			untouched--;
			continue;
		}
		if (s < lo && o->n + untouched < SHIM_OWN_RANGES) {
			o->r[o->n].start = s;
			o->r[o->n++].end = lo;
		}
		if (e > hi && o->n + untouched < SHIM_OWN_RANGES) {
			o->r[o->n].start = hi;
			o->r[o->n++].end = e;
		}
	}
	return 1;
}

int shim_own_insert(struct shim_own *o, uint64_t start, uint64_t end)
{
	uint32_t i;

	/* Next to one of ours (libunwind's pool grows a page at a time): one range. */
	for (i = 0; i < o->n; i++)
		if (o->r[i].end == start || o->r[i].start == end) {
			if (o->r[i].end == start)
				o->r[i].end = end;
			else
				o->r[i].start = start;
			return 1;
		}
	if (o->n == SHIM_OWN_RANGES)
		return 0;
	for (i = o->n; i > 0 && o->r[i - 1].start > start; i--)
		o->r[i] = o->r[i - 1];
	o->r[i].start = start;
	o->r[i].end = end;
	o->n++;
	return 1;
}

/*
 * The owner updates its list under its slot, where readers are too; a fork
 * parent writes its child's before the child runs, when an on-behalf
 * reader may already hold the child's slot: own_pid goes last.
 */
int shim_mmsem_publish(rmap_mm_t mm, pid_t pid, const struct shim_own *own)
{
	struct mmsem_slot *s = slots && mm && mm < MMSEM_SLOTS ? &slots[mm] : NULL;

	if (!s)
		return -ENOSPC;
	__atomic_store_n(&s->own_pid, 0, __ATOMIC_RELEASE);
	if (!own)
		return 0;
	s->own = *own;
	__atomic_store_n(&s->own_pid, pid, __ATOMIC_RELEASE);
	return 0;
}

int shim_mmsem_published(rmap_mm_t mm, pid_t pid, struct shim_own *own)
{
	struct mmsem_slot *s = slots && mm && mm < MMSEM_SLOTS ? &slots[mm] : NULL;

	if (!s || __atomic_load_n(&s->own_pid, __ATOMIC_ACQUIRE) != pid)
		return -ENOENT;
	*own = s->own;
	if (own->n > SHIM_OWN_RANGES)
		return -ENOENT;		/* not ours to trust */
	return 0;
}

void *shim_mmsem_extra(void)
{
	return slots ? (char *)slots + MMSEM_SLOTS * sizeof(struct mmsem_slot) : NULL;
}
