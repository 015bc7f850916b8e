/* SPDX-License-Identifier: MIT */
/*
 * logfmt.h - the rmapshim binary log, version 1.  docs/log-format.md is the
 * prose version of this file; reports/rmapshim/logread.py is the reader.
 * Change either only together with the other and bump RLOG_VERSION.
 *
 * One file per run, "events.rlog" in the run directory, shared by every
 * process of the traced tree through MAP_SHARED (the fd is closed right
 * after mapping, so a daemon's close-all cannot turn it into corruption):
 *
 *   [file header, 4096 bytes][segment 0][segment 1]...[segment nseg-1]
 *
 * A thread claims a whole segment with fetch_add(next_seg) and is its only
 * writer.  Records are appended in a segment; a record is committed by the
 * release-store of its len field, written last.  A reader stops a segment at
 * len == 0 (clean end or in-flight reservation), at an impossible len, or at
 * a CRC mismatch (torn or stray write), and counts the damage.
 *
 * All integers are little-endian; every record is 8-byte aligned.
 */
#ifndef RMAPSHIM_LOGFMT_H
#define RMAPSHIM_LOGFMT_H

#include <stdint.h>

#define RLOG_MAGIC	"RMAPLOG\0"	/* 8 bytes */
#define RLOG_VERSION	1
#define RLOG_HDR_SIZE	4096
#define RLOG_SEG_MAGIC	0x31474553u	/* "SEG1" */

struct rlog_file_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;	/* RLOG_HDR_SIZE */
	uint32_t seg_size;	/* bytes per segment, incl. its header */
	uint32_t nseg;
	uint64_t next_seg;	/* atomic: segments claimed (may exceed nseg) */
	uint64_t seq;		/* atomic: global record sequence */
	uint64_t t0_realtime_ns;
	uint64_t t0_monotonic_ns;
	uint32_t flags;		/* RLOG_F_* (atomic or) */
	uint32_t pad;
	uint64_t full_at_ns;	/* monotonic time the log first ran out of room */
	char boot_id[40];
	uint64_t dropped;	/* atomic: records dropped because the log was full */
	/* The supervisor's populating ahead (log.h); readers ignore both. */
	uint64_t pop_wake_seg;	/* a claim of this segment or later wakes it */
	uint32_t pop_state;	/* futex: enum rlog_pop_state */
	uint32_t pad2;
};
#define RLOG_F_FULL	0x1	/* a writer found no free segment: records were dropped */

enum rlog_pop_state {
	RLOG_POP_IDLE = 0,	/* no populator, or it is populating: claims never wake it */
	RLOG_POP_SLEEPING,	/* the first claim at or past pop_wake_seg wakes it */
	RLOG_POP_STOPPED,	/* the end of the run: it has gone */
};

struct rlog_seg_header {
	uint32_t magic;		/* RLOG_SEG_MAGIC, release-stored last */
	uint32_t pid;
	uint32_t tid;
	uint32_t pad;
	uint64_t claim_seq;
	uint64_t start_ns;
};				/* 32 bytes; records follow */

struct rlog_rec {
	uint32_t len;		/* total length incl. this header, multiple of 8; stored last */
	uint16_t type;		/* enum rlog_type */
	uint16_t flags;
	uint32_t crc;		/* zlib crc32 of bytes [4,8) then [12,len) */
	uint32_t tid;
	uint64_t seq;
	uint64_t ts_ns;		/* CLOCK_MONOTONIC */
};				/* 32 bytes; payload follows */

enum rlog_type {
	RLOG_RUN_START = 1,	/* struct rlog_run_start + argv (NUL-separated) */
	RLOG_PROC_START,	/* struct rlog_proc + exe path */
	RLOG_FORK,		/* struct rlog_fork */
	RLOG_EXEC,		/* struct rlog_proc + new exe path (logged by the new image) */
	RLOG_EXIT,		/* struct rlog_exit */
	RLOG_MODULES,		/* struct rlog_modules + modules */
	RLOG_STACK,		/* struct rlog_stack + ips */
	RLOG_MAP_EVENT,		/* struct rlog_map_event */
	RLOG_TRANSITION,	/* struct rlog_transition */
	RLOG_TRANSITION_AGG,	/* struct rlog_transition_agg */
	RLOG_LOCK_WAIT,		/* struct rlog_lock_wait */
	RLOG_LOCKSTAT,		/* struct rlog_lockstat (one per class) */
	RLOG_ORACLE,		/* struct rlog_oracle + label + mismatches */
	RLOG_RACE,		/* struct rlog_race */
	RLOG_VIOLATION,		/* struct rlog_violation */
	RLOG_NOTE,		/* struct rlog_note + text */
	RLOG_RUN_END,		/* struct rlog_run_end */
	RLOG_NR_TYPES
};

/* Strings follow fixed parts as: uint32 length, bytes, padding to 8. */

struct rlog_run_start {
	uint32_t mode;		/* enum rmap_mode */
	uint32_t events;	/* 0 transitions, 1 pages */
	uint32_t stacks;	/* max frames */
	uint32_t verify;	/* 0 off, 1 sampled, 2 full */
	int32_t pid;		/* supervisor pid */
	uint32_t pfn_access;	/* 1 if /proc/self/pagemap gives PFNs */
	uint64_t reclaim_rate;	/* shadow vmscan pages/s, 0 off */
	uint64_t perturb_seed;	/* 0 off */
	/* then: string command line (argv joined by NUL), string cwd */
};

enum rlog_proc_how { RLOG_HOW_INITIAL = 0, RLOG_HOW_FORK = 1, RLOG_HOW_EXEC = 2 };

struct rlog_proc {
	int32_t pid, ppid;
	uint32_t mm, parent_mm;
	uint32_t how;		/* enum rlog_proc_how */
	uint32_t pad;
	/* then: string exe */
};

enum rlog_fork_kind {
	RLOG_FORK_FORK = 0, RLOG_FORK_UFORK, RLOG_FORK_VFORK, RLOG_FORK_CLONE,
	RLOG_FORK_DAEMON, RLOG_FORK_SPAWN, RLOG_FORK_UNSEEN
};

struct rlog_fork {
	int32_t parent_pid, child_pid;
	uint32_t parent_mm, child_mm;
	uint32_t kind;		/* enum rlog_fork_kind */
	uint32_t stack;		/* stack id, 0 none */
	uint64_t pages;		/* page_dup_rmap calls */
	uint64_t rmap_ns;	/* time inside rmapcore for the shadow dup_mmap */
	uint64_t fork_ns;	/* the real fork() call */
};

enum rlog_exit_how { RLOG_EXIT_NORMAL = 0, RLOG_EXIT_UNDERSCORE = 1, RLOG_EXIT_REAPED = 2, RLOG_EXIT_EXEC = 3 };

struct rlog_exit {
	int32_t pid;
	int32_t status;		/* exit code, or 128+signal when reaped */
	uint32_t mm;
	uint32_t how;		/* enum rlog_exit_how */
	uint64_t pages;		/* ptes zapped */
	uint64_t rmap_ns;	/* time inside rmapcore for exit_mmap */
};

struct rlog_modules {
	int32_t pid;
	uint32_t generation;
	uint32_t count;
	uint32_t pad;
	/* then count times: struct rlog_module, string path, string build-id (raw bytes) */
};
struct rlog_module {
	uint64_t bias, lo, hi;
};

struct rlog_stack {
	int32_t pid;
	uint32_t id;		/* unique per pid, > 0 */
	uint32_t nframes;
	uint32_t pad;
	/* then nframes uint64 return addresses, innermost first */
};

enum rlog_map_op {
	RLOG_OP_MMAP = 1, RLOG_OP_MUNMAP, RLOG_OP_MREMAP, RLOG_OP_MPROTECT,
	RLOG_OP_MADVISE, RLOG_OP_BRK, RLOG_OP_SHMAT, RLOG_OP_SHMDT, RLOG_OP_MLOCK,
	RLOG_OP_REMAP_FILE_PAGES, RLOG_OP_DLOPEN, RLOG_OP_DLCLOSE,
	RLOG_OP_RECONCILE,	/* found by /proc reconciliation, origin unknown */
	RLOG_OP_SAMPLE		/* periodic --sample-ms reconciliation */
};

struct rlog_map_event {
	int32_t pid;
	uint32_t mm;
	uint32_t op;		/* enum rlog_map_op */
	uint32_t cause;		/* enum rmap_cause */
	uint64_t start, end;
	uint32_t prot_flags;	/* vm_flags after the operation */
	uint32_t stack;
	uint64_t pages;		/* pages whose pte changed */
	uint64_t rmap_ns;	/* time inside rmapcore */
	int64_t ret;		/* the call's return value (or -errno) */
};

struct rlog_transition {
	int32_t pid;
	uint32_t mm;
	uint16_t type;		/* enum rmap_event_type */
	uint16_t cause;		/* enum rmap_cause */
	int32_t old_mapcount, new_mapcount;
	uint32_t stack;
	uint64_t frame;
	uint64_t vaddr;
};

struct rlog_transition_agg {
	int32_t pid;
	uint32_t stack;
	uint32_t cause;
	uint32_t op;		/* enum rlog_map_op, or 0 for fork/exit */
	uint64_t counts[16];	/* indexed by enum rmap_event_type */
};

struct rlog_lock_wait {
	int32_t pid;
	uint32_t lock_class;	/* enum rmap_lock_class */
	uint32_t site;
	uint32_t stack;
	uint64_t wait_ns;
};

struct rlog_lockstat {
	int32_t pid;		/* 0 = whole run */
	uint32_t lock_class;
	uint64_t acquisitions, contentions;
	uint64_t waittime_min, waittime_max, waittime_total;
	uint64_t holdtime_min, holdtime_max, holdtime_total;
	uint64_t owner_changes, trylock_failures;
	uint64_t site_contentions[32];	/* per rmap lock site */
};

struct rlog_oracle {
	int32_t pid;		/* checkpointing process */
	uint32_t explicit_cp;	/* 1 if rmapshim_checkpoint() */
	uint64_t compared, agreed, mismatched, not_compared;
	uint32_t nmismatch;	/* entries that follow (at most 8) */
	/* of not_compared: swapped out of the shadow by --reclaim, still
	 * mapped in the kernel (was pad, always 0) */
	uint32_t reclaimed;
	/* then: string label, then nmismatch x struct rlog_mismatch */
};
struct rlog_mismatch {
	uint64_t frame;
	int32_t shadow, kernel;
};

/*
 * One of the first RMAP_RACE_DETAILS hits of a race (the totals are in
 * RLOG_RUN_END).  The record header's tid is this side's thread.  Logs
 * before the race detail have only the first 24 bytes (docs/log-format.md).
 */
struct rlog_race {
	int32_t pid;
	uint16_t race;		/* enum rmap_race */
	uint16_t outcome;	/* 0 benign, 1 caught by the algorithm, 2 violation */
	uint32_t stack;		/* this side */
	uint32_t other_stack;	/* the other actor's, 0 if unknown */
	uint64_t frame;
	/* additive: the other side (0s if unknown) and both operations */
	int32_t other_pid;
	int32_t other_tid;
	uint16_t cause;		/* enum rmap_cause of this side */
	uint16_t other_cause;
	uint16_t other_window;	/* enum rmap_race of the window it had open */
	uint16_t pad;
};

struct rlog_violation {
	int32_t pid;
	int32_t inv;
	uint64_t frame, vaddr;
	int64_t expected, found;
	char what[80];
};

enum rlog_note_level { RLOG_NOTE_INFO = 0, RLOG_NOTE_WARN = 1, RLOG_NOTE_ERROR = 2 };
struct rlog_note {
	int32_t pid;
	uint32_t level;
	/* then string text */
};

struct rlog_run_end {
	int32_t exit_status;	/* the workload's, 128+signal if killed */
	uint32_t processes;
	uint64_t duration_ns;
	int64_t nr_mapped_final;
	int64_t nr_mapped_peak;
	uint64_t events[16][16];	/* [enum rmap_event_type][enum rmap_cause] */
	uint64_t races[16];		/* [enum rmap_race] */
	uint64_t violations;		/* rmap_check at the end */
	uint64_t enospc;		/* operations refused: arena full */
	uint64_t reaped;		/* mms reaped by the supervisor */
	uint32_t log_flags;		/* RLOG_F_* */
	uint32_t locks_broken;		/* rmap locks taken over from dead holders */
};

#endif /* RMAPSHIM_LOGFMT_H */
