/* SPDX-License-Identifier: MIT */
/*
 * log.h - the crash-safe writer of the binary log (shim/logfmt.h,
 * docs/log-format.md).
 *
 * The supervisor creates the file once (rlog_create); every traced process
 * maps it (rlog_attach / rlog_attach_fd) and appends records from any thread:
 *
 *	struct rlog_exit *e = rlog_reserve(l, RLOG_EXIT, sizeof(*e));
 *	if (e) {
 *		e->pid = ...;
 *		rlog_commit(l, e);
 *	}
 *
 * Everything after rlog_create/rlog_attach is async-signal-safe and usable
 * in a vfork child: no malloc, no locks, only atomics on the shared file and
 * __thread state.  That state is dropped whenever getpid() differs from the
 * pid it was claimed under, so a fork (or vfork) child never appends to its
 * parent's segment; a vfork child that overwrites its parent's __thread
 * state only makes the parent claim a fresh segment when it resumes.
 *
 * Payloads come back zeroed (segments are fresh fallocate'd pages and never
 * reused), so padding needs no stores.  A reservation that is never
 * committed is lost, along with any later record in that thread's segment;
 * a reader sees it as the segment's clean end.
 *
 * Errors are negative errno values.
 */
#ifndef RMAPSHIM_LOG_H
#define RMAPSHIM_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "logfmt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process-local handle: the mapped file header (no allocation behind it). */
struct rlog;

/*
 * Every thread of every process claims at least one segment, so segments
 * are small enough for fork-heavy trees (8192 processes by default) and
 * large enough for a MODULES record of a few hundred libraries.
 */
#define RLOG_DEFAULT_SEG_SIZE	(32u * 1024)
#define RLOG_DEFAULT_NSEG	8192u		/* 256 MiB */
#define RLOG_MIN_SEG_SIZE	4096u

/*
 * rlog_create - create @path (0600, O_EXCL|O_NOFOLLOW), reserve its blocks
 * with posix_fallocate and map it.  -ENOSPC (or another posix_fallocate
 * error) means the log cannot be backed: the caller must run untraced, since
 * a store into an unbacked page would SIGBUS the workload.  @seg_size is a
 * multiple of 4096, at least RLOG_MIN_SEG_SIZE.
 */
int rlog_create(const char *path, uint32_t seg_size, uint32_t nseg,
		struct rlog **out);
/* Same, @path relative to @dirfd (the supervisor's run directory). */
int rlog_create_at(int dirfd, const char *path, uint32_t seg_size,
		   uint32_t nseg, struct rlog **out);
/* Map an existing log read-write; checks magic, version and file size. */
int rlog_attach(const char *path, struct rlog **out);
/* Same from an open fd; the fd may be closed right after. */
int rlog_attach_fd(int fd, struct rlog **out);
/* Unmap; forgets the calling thread's segment if it was in @l. */
void rlog_detach(struct rlog *l);

/*
 * rlog_trim_at - at the end of a run, when no writer is left: shrink nseg
 * to the segments actually claimed, truncate the file (@path relative to
 * @dirfd) to match, and unmap @l.  Gives back the unused part of the
 * fallocate'd file.  A writer still running would SIGBUS, hence the rule.
 */
int rlog_trim_at(struct rlog *l, int dirfd, const char *path);

/*
 * Populating ahead of the claims (the supervisor's thread, run.c).  A
 * writer's first store into a never-touched page of the fallocate'd file
 * costs ~3.9 us (page cache allocation, zeroing, ext4 page_mkwrite), into a
 * page already populated dirty through another mapping ~0.3 us: what a
 * fork child pays for its first record.
 *
 * rlog_populate - until rlog_populate_stop: keep the first @pages pages of
 * each segment up to @ahead segments past next_seg resident and dirty
 * (MADV_POPULATE_WRITE), sleeping on the header's pop_state futex between
 * rounds; a claim within @low (< @ahead) segments of that frontier wakes it.
 * A claim pays a syscall only when it finds the populator asleep past the
 * mark; a populator that falls behind only leaves writers their cold faults.
 * Returns 0 once stopped, or the negative errno of a failed madvise (no
 * MADV_POPULATE_WRITE before Linux 5.14).  Without a populator (a plain
 * LD_PRELOAD run) writers fault their pages in as before.
 */
int rlog_populate(struct rlog *l, uint32_t ahead, uint32_t low, uint32_t pages);
/* Make rlog_populate return; before the log is trimmed or unmapped. */
void rlog_populate_stop(struct rlog *l);

/* The mapping, so the shim can hide it from the shadow mm. */
void rlog_range(const struct rlog *l, uintptr_t *start, size_t *len);
/* The shared header (read counters, flags; t0 for timestamps). */
const struct rlog_file_header *rlog_header(const struct rlog *l);

/*
 * rlog_reserve - room for a record of @type with @payload_len bytes of
 * payload (rounded up to 8) in the calling thread's segment, claiming a new
 * segment when the current one is full.  Fills the record header except
 * len and crc.  Returns the zeroed payload, or NULL when the log is full
 * (the first thread to find it full sets RLOG_F_FULL and full_at_ns and
 * prints one line on stderr; every dropped record is counted in the
 * header's dropped field) or @payload_len cannot fit in any segment.
 */
void *rlog_reserve(struct rlog *l, uint16_t type, size_t payload_len);
/* Commit: CRC over [4,8) and [12,len), then the release store of len. */
void rlog_commit(struct rlog *l, void *payload);
/* reserve + copy + commit; returns 0 or -ENOSPC when dropped. */
int rlog_append(struct rlog *l, uint16_t type, const void *payload,
		size_t payload_len);

/*
 * Strings in payloads (logfmt.h): uint32 length, bytes, zero padding so
 * the whole takes a multiple of 8 bytes.  rlog_str_size gives that size;
 * rlog_put_str writes at @dst (inside a reserved payload, 8-aligned) and
 * returns the byte after the padding.
 */
static inline size_t rlog_str_size(size_t n)
{
	return (4 + n + 7) & ~(size_t)7;
}
void *rlog_put_str(void *dst, const char *s, size_t n);

/* RLOG_NOTE with @text (NUL-terminated), as one call. */
int rlog_note(struct rlog *l, int32_t pid, enum rlog_note_level level,
	      const char *text);

/*
 * Forget the calling thread's segment: for a fork child's atfork handler,
 * or a thread about to exit.  The pid check catches every other fork, but
 * not one made while the pid is trusted (below): that child must call it.
 * @tid: the thread's id if the caller knows it (a fork child's only thread
 * is its pid), else 0.
 */
void rlog_thread_reset(pid_t tid);
/* The caller knows this thread is in process @pid (0: no longer): see log.c. */
void rlog_thread_trust_pid(pid_t pid);

/*
 * Reading back (the supervisor's end-of-run summary; reports/ has the full
 * reader).  rlog_scan calls @fn for every committed record whose CRC holds,
 * segment by segment, and stops a segment at its clean end (len 0), an
 * impossible len or a CRC mismatch, counting the last two as corrupt.
 */
struct rlog_scan_stats {
	uint64_t segments;	/* claimed segments with a valid header */
	uint64_t records;	/* committed records passed to @fn */
	uint64_t corrupt;	/* segments cut short by a bad len or CRC */
};
typedef void (*rlog_scan_fn)(void *ctx, const struct rlog_rec *rec);
void rlog_scan(const struct rlog *l, rlog_scan_fn fn, void *ctx,
	       struct rlog_scan_stats *st);

/* CLOCK_MONOTONIC in ns (record timestamps use it). */
uint64_t rlog_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif /* RMAPSHIM_LOG_H */
