/* SPDX-License-Identifier: MIT */
/*
 * log.c - the crash-safe writer of the binary log (see log.h, logfmt.h).
 *
 * Records live in a MAP_SHARED file whose fd is closed right after mapping:
 * a committed record is in the page cache the moment its len is stored, so
 * SIGKILL, _exit or a crash of the writer loses nothing it committed, and a
 * daemon's close-all cannot turn a recycled fd into a write to the wrong file.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The records' CRC-32 (zlib's, as Python's zlib.crc32), computed here rather
 * than with libz: one library fewer mapped in every traced process, which
 * the kernel's fork copies and the fork child faults in, every fork.  The
 * table is built by the compiler: records are written before, and from
 * other libraries' constructors than, any init code of ours could run. */
#define CRC_BIT(c)	(((c) >> 1) ^ (0xedb88320u & (0u - ((c) & 1u))))
#define CRC_BYTE(i)	CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT((uint32_t)(i)))))))))
#define CRC_4(i)	CRC_BYTE(i), CRC_BYTE(i + 1), CRC_BYTE(i + 2), CRC_BYTE(i + 3)
#define CRC_16(i)	CRC_4(i), CRC_4(i + 4), CRC_4(i + 8), CRC_4(i + 12)
#define CRC_64(i)	CRC_16(i), CRC_16(i + 16), CRC_16(i + 32), CRC_16(i + 48)

static const uint32_t crc_table[256] = { CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192) };

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* What a record's crc field holds: bytes [4,8) then [12,len). */
static uint32_t rec_crc(const uint8_t *b, uint32_t len)
{
	return crc32_update(crc32_update(0, b + 4, 4), b + 12, len - 12);
}

#define SEG_HDR		((uint32_t)sizeof(struct rlog_seg_header))
#define REC_HDR		((uint32_t)sizeof(struct rlog_rec))

/*
 * The calling thread's place in the log: segment index in the high half,
 * offset of the next free byte in the low half.  One word, changed only by
 * compare-and-swap, so a signal handler that logs in the middle of a
 * reservation gets its own bytes (or its own segment), never ours.
 */
#define NO_SEGMENT	UINT64_MAX
/*
 * initial-exec: the preload's TLS is static, so no __tls_get_addr call
 * (which may allocate on a thread's first access) on the signal-safe path.
 */
#define LOG_TLS __thread __attribute__((tls_model("initial-exec")))
static LOG_TLS uint64_t tls_pos = NO_SEGMENT;
static LOG_TLS struct rlog *tls_log;
static LOG_TLS pid_t tls_pid;
static LOG_TLS pid_t tls_tid;
static LOG_TLS pid_t tls_known_tid;	/* rlog_thread_reset's, for own_thread_state */
static LOG_TLS pid_t tls_trusted_pid;	/* rlog_thread_trust_pid */

static struct rlog_file_header *hdr_of(struct rlog *l)
{
	return (struct rlog_file_header *)l;
}

static size_t file_size(uint32_t seg_size, uint32_t nseg)
{
	return RLOG_HDR_SIZE + (size_t)seg_size * nseg;
}

static uint8_t *segment(struct rlog *l, uint32_t s)
{
	return (uint8_t *)l + RLOG_HDR_SIZE + (size_t)s * hdr_of(l)->seg_size;
}

uint64_t rlog_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void read_boot_id(char out[40])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, out, 36);
	close(fd);
	if (n < 0)
		out[0] = '\0';
}

static int map_log(int fd, size_t len, struct rlog **out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	/*
	 * A fault on a page of a fresh segment would otherwise "read around"
	 * it: read_ahead_kb worth of fallocated pages zeroed under the faulting
	 * process (8 MiB on the bench VM, ~25% of a fork child's exit).  Each
	 * writer only needs the page it appends to.
	 */
	(void)madvise(p, len, MADV_RANDOM);
	*out = p;
	return 0;
}

int rlog_create_at(int dirfd, const char *path, uint32_t seg_size,
		   uint32_t nseg, struct rlog **out)
{
	struct rlog_file_header *h;
	size_t len;
	int fd, err;

	if (seg_size < RLOG_MIN_SEG_SIZE || seg_size % 4096 || nseg == 0)
		return -EINVAL;
	len = file_size(seg_size, nseg);
	fd = openat(dirfd, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	/* Reserve every block now: a store into an unbacked page is SIGBUS. */
	err = -posix_fallocate(fd, 0, (off_t)len);
	if (!err)
		err = map_log(fd, len, out);
	close(fd);
	if (err) {
		unlinkat(dirfd, path, 0);
		return err;
	}
	h = hdr_of(*out);
	h->version = RLOG_VERSION;
	h->header_size = RLOG_HDR_SIZE;
	h->seg_size = seg_size;
	h->nseg = nseg;
	h->t0_realtime_ns = realtime_ns();
	h->t0_monotonic_ns = rlog_now_ns();
	read_boot_id(h->boot_id);
	/* Magic last: an attacher never sees a half-initialised header. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(h->magic, RLOG_MAGIC, sizeof(h->magic));
	return 0;
}

int rlog_create(const char *path, uint32_t seg_size, uint32_t nseg,
		struct rlog **out)
{
	return rlog_create_at(AT_FDCWD, path, seg_size, nseg, out);
}

int rlog_attach_fd(int fd, struct rlog **out)
{
	struct rlog_file_header h;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < RLOG_HDR_SIZE)
		return -EINVAL;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	if (memcmp(h.magic, RLOG_MAGIC, sizeof(h.magic)) ||
	    h.version != RLOG_VERSION || h.header_size != RLOG_HDR_SIZE ||
	    h.seg_size < RLOG_MIN_SEG_SIZE || h.seg_size % 4096 || !h.nseg ||
	    (uint64_t)st.st_size < file_size(h.seg_size, h.nseg))
		return -EINVAL;
	return map_log(fd, file_size(h.seg_size, h.nseg), out);
}

int rlog_attach(const char *path, struct rlog **out)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = rlog_attach_fd(fd, out);
	close(fd);
	return err;
}

void rlog_detach(struct rlog *l)
{
	if (!l)
		return;
	if (tls_log == l)
		rlog_thread_reset(0);
	munmap(l, file_size(hdr_of(l)->seg_size, hdr_of(l)->nseg));
}

int rlog_trim_at(struct rlog *l, int dirfd, const char *path)
{
	struct rlog_file_header *h = hdr_of(l);
	uint64_t used = __atomic_load_n(&h->next_seg, __ATOMIC_ACQUIRE);
	size_t mapped = file_size(h->seg_size, h->nseg);
	int fd, err = 0;

	if (used > h->nseg)
		used = h->nseg;
	/* Readers reject nseg 0: keep one (empty) segment. */
	if (!used)
		used = 1;
	fd = openat(dirfd, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		/* nseg first: a reader never looks beyond the end of the file. */
		h->nseg = (uint32_t)used;
		if (ftruncate(fd, (off_t)file_size(h->seg_size, (uint32_t)used)) < 0)
			err = -errno;
		close(fd);
	}
	if (tls_log == l)
		rlog_thread_reset(0);
	munmap(l, mapped);
	return err;
}

void rlog_range(const struct rlog *l, uintptr_t *start, size_t *len)
{
	const struct rlog_file_header *h = (const struct rlog_file_header *)l;

	*start = (uintptr_t)l;
	*len = file_size(h->seg_size, h->nseg);
}

const struct rlog_file_header *rlog_header(const struct rlog *l)
{
	return (const struct rlog_file_header *)l;
}

void rlog_thread_reset(pid_t tid)
{
	__atomic_store_n(&tls_pos, NO_SEGMENT, __ATOMIC_RELAXED);
	tls_log = NULL;
	tls_pid = 0;
	tls_trusted_pid = 0;
	tls_known_tid = tid;
}

/* First writer to find the log full says so, once for the whole tree. */
static void log_full(struct rlog *l)
{
	static const char msg[] =
		"rmapshim: event log full, further records are dropped "
		"(rerun with a larger RMAPSHIM_LOG_MB)\n";
	struct rlog_file_header *h = hdr_of(l);
	uint64_t zero = 0;

	if (__atomic_fetch_or(&h->flags, RLOG_F_FULL, __ATOMIC_RELAXED) & RLOG_F_FULL)
		return;
	__atomic_compare_exchange_n(&h->full_at_ns, &zero, rlog_now_ns(), 0,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		return;	/* nowhere else to say it */
}

static long pop_futex(struct rlog_file_header *h, int op, uint32_t val)
{
	/* Shared (not _PRIVATE): every process maps the file on its own. */
	return syscall(SYS_futex, &h->pop_state, op, val, NULL, NULL, 0);
}

static int pop_state_cas(struct rlog_file_header *h, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&h->pop_state, &from, to, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/*
 * After claiming segment @s: wake the supervisor's populator if it sleeps
 * and claims came within its low-water mark.  Only the claim that finds it
 * asleep pays the syscall; every other claim costs two loads of the header
 * line its fetch_add already holds.
 */
static void wake_populator(struct rlog_file_header *h, uint64_t s)
{
	if (s < __atomic_load_n(&h->pop_wake_seg, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&h->pop_state, __ATOMIC_SEQ_CST) != RLOG_POP_SLEEPING)
		return;
	if (pop_state_cas(h, RLOG_POP_SLEEPING, RLOG_POP_IDLE))
		pop_futex(h, FUTEX_WAKE, 1);
}

/* Claim a whole segment for this thread; returns its index or -1 if full. */
static int64_t claim_segment(struct rlog *l)
{
	struct rlog_file_header *h = hdr_of(l);
	struct rlog_seg_header *sh;
	uint64_t s;

	/* Once full, stop inflating next_seg on every dropped record. */
	if (__atomic_load_n(&h->next_seg, __ATOMIC_RELAXED) >= h->nseg)
		return -1;
	/* seq_cst: ordered before wake_populator's load of pop_state (rlog_populate). */
	s = __atomic_fetch_add(&h->next_seg, 1, __ATOMIC_SEQ_CST);
	if (s >= h->nseg)
		return -1;
	wake_populator(h, s);
	sh = (struct rlog_seg_header *)segment(l, (uint32_t)s);
	sh->pid = (uint32_t)tls_pid;
	sh->tid = (uint32_t)tls_tid;
	sh->claim_seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	sh->start_ns = rlog_now_ns();
	__atomic_store_n(&sh->magic, RLOG_SEG_MAGIC, __ATOMIC_RELEASE);
	return (int64_t)s;
}

/*
 * The caller has just seen getpid() == @pid, and this thread stays in that
 * process until it calls this again with 0 (or rlog_thread_reset): its
 * records skip their own getpid(), a syscall each (~20 records a fork).
 */
void rlog_thread_trust_pid(pid_t pid)
{
	tls_trusted_pid = pid;
}

/* New thread, new process (fork, vfork, clone) or another log: start over. */
static void own_thread_state(struct rlog *l)
{
	pid_t pid;

	if (tls_log == l && tls_pid && tls_pid == tls_trusted_pid)
		return;
	pid = getpid();
	if (tls_pid == pid && tls_log == l)
		return;
	/*
	 * A fork child has no pte for the header page: touch it by a write
	 * first, one fault.  Read first, it took a read fault and then a
	 * write-protect fault (the filesystem's page_mkwrite) at claim_segment.
	 */
	__atomic_fetch_add(&hdr_of(l)->seq, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&tls_pos, NO_SEGMENT, __ATOMIC_RELAXED);
	tls_log = l;
	/* A fork child's needs no syscall, nor the fault on its libc page. */
	tls_tid = tls_known_tid ? tls_known_tid : (pid_t)syscall(SYS_gettid);
	tls_known_tid = 0;
	tls_pid = pid;
}

static void drop(struct rlog *l)
{
	__atomic_fetch_add(&hdr_of(l)->dropped, 1, __ATOMIC_RELAXED);
}

/* Returns the record's address in this thread's segment, or NULL. */
static struct rlog_rec *place(struct rlog *l, uint32_t need)
{
	uint32_t seg_size = hdr_of(l)->seg_size;
	uint64_t pos, next;
	int64_t s;

	for (;;) {
		pos = __atomic_load_n(&tls_pos, __ATOMIC_RELAXED);
		if (pos != NO_SEGMENT && (uint32_t)pos + (uint64_t)need <= seg_size) {
			if (__atomic_compare_exchange_n(&tls_pos, &pos, pos + need, 0,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
				return (struct rlog_rec *)(segment(l, (uint32_t)(pos >> 32)) +
							   (uint32_t)pos);
			continue;	/* a signal handler logged meanwhile */
		}
		s = claim_segment(l);
		if (s < 0) {
			log_full(l);
			return NULL;
		}
		next = ((uint64_t)s << 32) | (SEG_HDR + need);
		if (__atomic_compare_exchange_n(&tls_pos, &pos, next, 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return (struct rlog_rec *)(segment(l, (uint32_t)s) + SEG_HDR);
		/* A signal handler installed its own segment; ours stays empty. */
	}
}

void *rlog_reserve(struct rlog *l, uint16_t type, size_t payload_len)
{
	struct rlog_rec *r;
	uint64_t need;

	if (!l)
		return NULL;
	own_thread_state(l);
	need = REC_HDR + (((uint64_t)payload_len + 7) & ~(uint64_t)7);
	if (need > hdr_of(l)->seg_size - SEG_HDR) {
		drop(l);
		return NULL;
	}
	r = place(l, (uint32_t)need);
	if (!r) {
		drop(l);
		return NULL;
	}
	r->type = type;
	r->tid = (uint32_t)tls_tid;
	r->seq = __atomic_fetch_add(&hdr_of(l)->seq, 1, __ATOMIC_RELAXED);
	r->ts_ns = rlog_now_ns();
	/* Park the length in crc until the commit computes the real crc. */
	r->crc = (uint32_t)need;
	return r + 1;
}

void rlog_commit(struct rlog *l, void *payload)
{
	struct rlog_rec *r = (struct rlog_rec *)payload - 1;
	const uint8_t *b = (const uint8_t *)r;
	uint32_t len = r->crc;

	(void)l;
	r->crc = rec_crc(b, len);
	/* The commit: everything above is visible before len is. */
	__atomic_store_n(&r->len, len, __ATOMIC_RELEASE);
}

int rlog_append(struct rlog *l, uint16_t type, const void *payload,
		size_t payload_len)
{
	void *p = rlog_reserve(l, type, payload_len);

	if (!p)
		return -ENOSPC;
	memcpy(p, payload, payload_len);
	rlog_commit(l, p);
	return 0;
}

void *rlog_put_str(void *dst, const char *s, size_t n)
{
	uint32_t n32 = (uint32_t)n;

	memcpy(dst, &n32, 4);
	memcpy((uint8_t *)dst + 4, s, n);
	return (uint8_t *)dst + rlog_str_size(n);
}

int rlog_note(struct rlog *l, int32_t pid, enum rlog_note_level level,
	      const char *text)
{
	size_t n = strlen(text);
	struct rlog_note *note;

	note = rlog_reserve(l, RLOG_NOTE, sizeof(*note) + rlog_str_size(n));
	if (!note)
		return -ENOSPC;
	note->pid = pid;
	note->level = (uint32_t)level;
	rlog_put_str(note + 1, text, n);
	rlog_commit(l, note);
	return 0;
}

/* Make the first @len bytes of segments [from, to) resident and dirty. */
static int populate(struct rlog *l, uint64_t from, uint64_t to, size_t len)
{
	for (uint64_t s = from; s < to; s++)
		if (madvise(segment(l, (uint32_t)s), len, MADV_POPULATE_WRITE) < 0)
			return -errno;
	return 0;
}

int rlog_populate(struct rlog *l, uint32_t ahead, uint32_t low, uint32_t pages)
{
	struct rlog_file_header *h = hdr_of(l);
	uint64_t front = 0, next, to;
	int err;

	for (;;) {
		next = __atomic_load_n(&h->next_seg, __ATOMIC_SEQ_CST);
		if (front < h->nseg && next + low > front) {
			to = next + ahead < h->nseg ? next + ahead : h->nseg;
			/* Behind the claims: their claimers faulted those pages already. */
			err = populate(l, front > next ? front : next, to, (size_t)pages * 4096);
			if (err)
				return err;
			front = to;
			__atomic_store_n(&h->pop_wake_seg, front < h->nseg ? front - low : UINT64_MAX,
					 __ATOMIC_RELAXED);
			continue;
		}
		/*
		 * Asleep, then look at next_seg once more: a claim either came
		 * before that look (we populate) or finds us asleep in
		 * wake_populator (both sides seq_cst), never neither.
		 */
		if (!pop_state_cas(h, RLOG_POP_IDLE, RLOG_POP_SLEEPING))
			return 0;	/* stopped */
		if (__atomic_load_n(&h->next_seg, __ATOMIC_SEQ_CST) + low <= front)
			pop_futex(h, FUTEX_WAIT, RLOG_POP_SLEEPING);
		/* Woken, or a claim came meanwhile: idle again unless stopped. */
		pop_state_cas(h, RLOG_POP_SLEEPING, RLOG_POP_IDLE);
	}
}

void rlog_populate_stop(struct rlog *l)
{
	struct rlog_file_header *h = hdr_of(l);

	if (__atomic_exchange_n(&h->pop_state, RLOG_POP_STOPPED, __ATOMIC_SEQ_CST) ==
	    RLOG_POP_SLEEPING)
		pop_futex(h, FUTEX_WAKE, 1);
}

static int rec_valid(const struct rlog_rec *r, uint32_t len)
{
	return rec_crc((const uint8_t *)r, len) == r->crc;
}

static void scan_segment(const uint8_t *seg, uint32_t seg_size, rlog_scan_fn fn,
			 void *ctx, struct rlog_scan_stats *st)
{
	uint32_t off = SEG_HDR, len;
	const struct rlog_rec *r;

	while (off + REC_HDR <= seg_size) {
		r = (const struct rlog_rec *)(seg + off);
		len = __atomic_load_n(&r->len, __ATOMIC_ACQUIRE);
		if (!len)
			return;	/* clean end, or a reservation never committed */
		if (len < REC_HDR || len % 8 || len > seg_size - off ||
		    !rec_valid(r, len)) {
			st->corrupt++;
			return;
		}
		st->records++;
		fn(ctx, r);
		off += len;
	}
}

void rlog_scan(const struct rlog *l, rlog_scan_fn fn, void *ctx,
	       struct rlog_scan_stats *st)
{
	const struct rlog_file_header *h = rlog_header(l);
	uint64_t n = __atomic_load_n(&h->next_seg, __ATOMIC_ACQUIRE);
	const struct rlog_seg_header *sh;

	memset(st, 0, sizeof(*st));
	if (n > h->nseg)
		n = h->nseg;
	for (uint64_t s = 0; s < n; s++) {
		sh = (const struct rlog_seg_header *)segment((struct rlog *)l, (uint32_t)s);
		/* Claimed but the claimer died before writing the header. */
		if (__atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE) != RLOG_SEG_MAGIC)
			continue;
		st->segments++;
		scan_segment((const uint8_t *)sh, h->seg_size, fn, ctx, st);
	}
}
