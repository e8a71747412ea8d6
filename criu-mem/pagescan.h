/* SPDX-License-Identifier: MIT */
/*
 * Which pages of a VMA exist: PAGEMAP_SCAN ioctl with the "n < vec_len and
 * max_pages not hit means complete" rule (the kernel's walk_end is stale
 * after 512 regions), falling back to reading /proc/PID/pagemap. Never
 * touches the target's memory.
 */
#ifndef CM_PAGESCAN_H
#define CM_PAGESCAN_H

#include <stdint.h>
#include <sys/types.h>

enum pscan_flags {
	PSCAN_PRESENT = 1 << 0,	/* page is mapped in RAM */
	PSCAN_SWAPPED = 1 << 1,	/* page is in swap / zswap */
	PSCAN_PFNZERO = 1 << 2,	/* maps the (huge) zero page: skip, reads as zero */
	PSCAN_FILE = 1 << 3,	/* page-cache or shared-anon page (not a private COW copy) */
	PSCAN_HUGE = 1 << 4,	/* part of a THP or hugetlb page */
	PSCAN_GUARD = 1 << 5,	/* guard region (MADV_GUARD_INSTALL) */
	PSCAN_WRITTEN = 1 << 6,	/* written since uffd-wp protection (dirty tracking) */
};

struct pscan_run {
	uint64_t vaddr, nr_pages;
	uint32_t flags;		/* enum pscan_flags, same for every page of the run */
};

enum pscan_mode {
	PSCAN_AUTO = 0,		/* PAGEMAP_SCAN when the kernel has it */
	PSCAN_IOCTL,
	PSCAN_PAGEMAP,		/* force the /proc/PID/pagemap fallback */
};

struct pscan {
	pid_t pid;
	int fd;			/* /proc/PID/pagemap */
	enum pscan_mode mode;	/* resolved mode */
	void *buf;		/* reused region/entry buffer */
	size_t buf_len;
	uint64_t nr_calls;	/* ioctls or preads issued (stats) */
	uint64_t cats;		/* PAGE_IS_* categories the kernel accepts (ioctl mode) */
	uint64_t zero_pfn;	/* PFN of the 4K zero page, 0 if unknown (pagemap mode) */
	uint64_t huge_zero_pfn;	/* first PFN of the huge zero page, 0 if unknown */
	int kpf_fd;		/* /proc/kpageflags (pagemap mode), -1 if unreadable */
	/* Flags the caller does not need, set between pscan_range() calls (0 after
	 * pscan_open()). PSCAN_FILE here makes the ioctl 2-3x faster on dense
	 * ranges (1 GiB: 1.2 ms instead of 3 ms): use it for anonymous VMAs. */
	uint32_t skip_flags;
};

/* Opens /proc/PID/pagemap. PSCAN_IOCTL fails with -EOPNOTSUPP when the kernel
 * lacks PAGEMAP_SCAN. pscan_close() accepts a closed or failed pscan. */
int pscan_open(struct pscan *s, pid_t pid, enum pscan_mode mode);
void pscan_close(struct pscan *s);
/*
 * Reports every run of pages in [start, end) that is present, swapped,
 * zero-pfn or a guard, in increasing address order, through cb. Runs of
 * absent pages are not reported. cb returns 0 to go on or -errno to stop.
 * Adjacent pages with equal flags are always merged into one run, so both
 * modes report identical runs (HUGE in pagemap mode: 512 contiguous,
 * aligned PFNs confirmed by /proc/kpageflags THP/HUGE when readable).
 * PFNZERO pages never carry PSCAN_FILE; swapped pages carry only SWAPPED.
 * The pagemap mode needs CAP_SYS_ADMIN to see PFNs: without it, zero-page
 * and THP detection are off (pages read as plain PRESENT).
 */
int pscan_range(struct pscan *s, uint64_t start, uint64_t end,
		int (*cb)(void *arg, const struct pscan_run *run), void *arg);
/* True when PAGEMAP_SCAN works on this kernel (probed on our own pagemap). */
int pscan_have_ioctl(void);

#endif
