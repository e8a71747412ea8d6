/* SPDX-License-Identifier: MIT */
/*
 * Kernel uapi definitions newer than the installed 6.1 headers: PAGEMAP_SCAN,
 * PROCMAP_QUERY, userfaultfd WP_ASYNC, guard-region madvise, ptrace extras.
 * Each one is guarded so newer system headers win.
 */
#ifndef CM_KAPI_H
#define CM_KAPI_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>

/* ---- PAGEMAP_SCAN (6.7) on /proc/PID/pagemap ---- */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#endif

/* Guard regions in PAGEMAP_SCAN (6.14). */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif

/* /proc/PID/pagemap entry bits. */
#define PM_PFN_MASK		((1ull << 55) - 1)
#define PM_SOFT_DIRTY		(1ull << 55)
#define PM_MMAP_EXCLUSIVE	(1ull << 56)
#define PM_UFFD_WP		(1ull << 57)
#define PM_GUARD_REGION		(1ull << 58)
#define PM_FILE			(1ull << 61)
#define PM_SWAP			(1ull << 62)
#define PM_PRESENT		(1ull << 63)

/* ---- PROCMAP_QUERY (6.11) on /proc/PID/maps ---- */
#ifndef PROCMAP_QUERY
enum procmap_query_flags {
	PROCMAP_QUERY_VMA_READABLE = 0x01,
	PROCMAP_QUERY_VMA_WRITABLE = 0x02,
	PROCMAP_QUERY_VMA_EXECUTABLE = 0x04,
	PROCMAP_QUERY_VMA_SHARED = 0x08,
	PROCMAP_QUERY_COVERING_OR_NEXT_VMA = 0x10,
	PROCMAP_QUERY_FILE_BACKED_VMA = 0x20,
};

struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
_Static_assert(sizeof(struct procmap_query) == 104, "procmap_query is 104 bytes");

#define PROCMAP_QUERY		_IOWR('f', 17, struct procmap_query)
#endif

/* ---- userfaultfd ---- */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

/* ---- madvise ---- */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE	103
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* ---- prctl ---- */
#ifndef PR_SET_MM
#define PR_SET_MM		35
#endif
#ifndef PR_SET_MM_MAP
#define PR_SET_MM_MAP		14
#endif
#ifndef PR_SET_MM_MAP_SIZE
#define PR_SET_MM_MAP_SIZE	15
#endif
#ifndef PR_GET_THP_DISABLE
#define PR_GET_THP_DISABLE	42
#endif

/* ---- syscall numbers (x86_64) ---- */
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_clone3
#define __NR_clone3		435
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise	440
#endif

/* ---- ptrace ---- */
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP	128
#endif

struct cm_ptrace_rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

#endif
