/* SPDX-License-Identifier: MIT */
/*
 * wtrack.h - which anonymous pages were written since we last looked:
 * userfaultfd write-protect in async mode (Linux 6.7), read back with
 * PAGEMAP_SCAN, with the userfaultfd itself parked in rmapshim-run so the
 * workload holds no fd.  wtrack.c says why and how.
 */
#ifndef RMAPSHIM_WTRACK_H
#define RMAPSHIM_WTRACK_H

#include <stdint.h>
#include <sys/types.h>

/* PAGEMAP_SCAN (Linux 6.7; Debian 12's headers predate it). */
struct shim_scan_region {
	uint64_t start, end, categories;
};
struct shim_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SHIM_SCAN_IOCTL		_IOWR('f', 16, struct shim_scan_arg)
#define SHIM_SCAN_WP_MATCHING	(1ull << 0)	/* PM_SCAN_WP_MATCHING */
#define SHIM_SCAN_CHECK_WPASYNC	(1ull << 1)	/* PM_SCAN_CHECK_WPASYNC */
#define SHIM_PAGE_IS_WRITTEN	(1ull << 1)
#define SHIM_PAGE_IS_PRESENT	(1ull << 3)

/* ---- the workload's side ---- */

/* 1 if this process's anonymous vmas may be registered at all. */
int shim_wtrack_possible(void);
/*
 * Register [start, end), a private anonymous vma, for write tracking.
 * The userfaultfd is created (or fetched back from the supervisor) on
 * first use; shim_wtrack_park() then hands it over.  0 or -errno.
 */
int shim_wtrack_register(uint64_t start, uint64_t end);
/* After a batch of registrations: give the fd to the supervisor, or drop it. */
void shim_wtrack_park(void);
/* A fork child or a new image: the kernel did not copy the registration. */
void shim_wtrack_forget(void);

/* ---- the supervisor's side (rmapshim-run) ---- */

/* Serve park requests until shim_wtrack_serve_stop(); closes fds of the dead. */
int shim_wtrack_serve_start(void);
void shim_wtrack_serve_stop(void);

#endif /* RMAPSHIM_WTRACK_H */
