// SPDX-License-Identifier: MIT
/*
 * pagescan.c: which pages of a range exist, as runs {vaddr, nr, flags}:
 * PAGEMAP_SCAN ioctl (completion rule: n < vec_len means done, never trust
 * walk_end) or /proc/PID/pagemap entries. Never reads the target's memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_PREFIX "pagescan: "
#include "kapi.h"
#include "log.h"
#include "pagescan.h"
#include "util.h"

#define PSCAN_VEC_LEN	4096
#define PSCAN_CHUNK	8192	/* pagemap entries per pread, multiple of 512 */
#define KPF_HUGE	17
#define KPF_THP		22
#define PAGE_SHIFT_4K	12

struct run_acc {
	struct pscan_run cur;
	int have;
	int (*cb)(void *arg, const struct pscan_run *run);
	void *arg;
};

static int acc_add(struct run_acc *a, uint64_t vaddr, uint64_t nr, uint32_t flags)
{
	int ret;

	if (a->have && a->cur.flags == flags &&
	    a->cur.vaddr + (a->cur.nr_pages << PAGE_SHIFT_4K) == vaddr) {
		a->cur.nr_pages += nr;
		return 0;
	}
	if (a->have) {
		ret = a->cb(a->arg, &a->cur);
		if (ret)
			return ret;
	}
	a->cur.vaddr = vaddr;
	a->cur.nr_pages = nr;
	a->cur.flags = flags;
	a->have = 1;
	return 0;
}

static int acc_flush(struct run_acc *a)
{
	if (!a->have)
		return 0;
	a->have = 0;
	return a->cb(a->arg, &a->cur);
}

static uint32_t cats_to_flags(uint64_t c)
{
	uint32_t f = 0;

	if (c & PAGE_IS_GUARD)
		return PSCAN_GUARD;
	if (c & PAGE_IS_SWAPPED)
		return PSCAN_SWAPPED;
	if (c & PAGE_IS_PRESENT)
		f |= PSCAN_PRESENT;
	if (c & PAGE_IS_PFNZERO)
		f |= PSCAN_PFNZERO;
	else if (c & PAGE_IS_FILE)
		f |= PSCAN_FILE;
	if (c & PAGE_IS_HUGE)
		f |= PSCAN_HUGE;
	return f;
}

static int scan_ioctl(struct pscan *s, uint64_t fd_cats, struct pm_scan_arg *a)
{
	a->size = sizeof(*a);
	a->vec = (uint64_t)(uintptr_t)s->buf;
	a->vec_len = PSCAN_VEC_LEN;
	a->category_anyof_mask = fd_cats & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED |
					    PAGE_IS_PFNZERO | PAGE_IS_GUARD);
	a->return_mask = fd_cats & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO |
				    PAGE_IS_FILE | PAGE_IS_HUGE | PAGE_IS_GUARD);
	if (s->skip_flags & PSCAN_FILE)	/* only FILE and HUGE can be skipped */
		a->return_mask &= ~(uint64_t)PAGE_IS_FILE;
	if (s->skip_flags & PSCAN_HUGE)
		a->return_mask &= ~(uint64_t)PAGE_IS_HUGE;
	s->nr_calls++;
	return ioctl(s->fd, PAGEMAP_SCAN, a);
}

static int range_ioctl(struct pscan *s, uint64_t start, uint64_t end, struct run_acc *acc)
{
	const struct page_region *r = s->buf;
	uint32_t skip = s->skip_flags & (PSCAN_FILE | PSCAN_HUGE);
	struct pm_scan_arg a;
	long n, i;
	int ret;

	while (start < end) {
		memset(&a, 0, sizeof(a));
		a.start = start;
		a.end = end;
		n = scan_ioctl(s, s->cats, &a);
		if (n < 0)
			return cm_err(-errno,
				      "pid %d: PAGEMAP_SCAN of %#lx-%#lx failed", s->pid,
				      (unsigned long)start, (unsigned long)end);
		for (i = 0; i < n; i++) {
			ret = acc_add(acc, r[i].start, (r[i].end - r[i].start) >> PAGE_SHIFT_4K,
				      cats_to_flags(r[i].categories) & ~skip);
			if (ret)
				return ret;
		}
		/* The kernel's walk_end is stale after 512 regions: a short vector
		 * means the walk is complete; a full one resumes after its last region. */
		if (n < PSCAN_VEC_LEN)
			break;
		start = r[n - 1].end;
	}
	return 0;
}

static uint32_t pm_flags(const struct pscan *s, uint64_t e)
{
	uint64_t pfn = e & PM_PFN_MASK;
	uint32_t f;

	if (e & PM_GUARD_REGION)
		return PSCAN_GUARD;
	if (!(e & PM_PRESENT))
		return (e & PM_SWAP) ? PSCAN_SWAPPED : 0;
	f = PSCAN_PRESENT;
	if (pfn && s->zero_pfn && pfn == s->zero_pfn)
		return f | PSCAN_PFNZERO;
	if (pfn && s->huge_zero_pfn && pfn >= s->huge_zero_pfn && pfn < s->huge_zero_pfn + 512)
		return f | PSCAN_PFNZERO | PSCAN_HUGE;
	if (e & PM_FILE)
		f |= PSCAN_FILE;
	return f;
}

/* 512 present entries with contiguous PFNs starting at an aligned one. */
static int pm_block_huge(const struct pscan *s, const uint64_t *e)
{
	uint64_t pfn0 = e[0] & PM_PFN_MASK, kpf;
	int i;

	if (!(e[0] & PM_PRESENT) || !pfn0 || pfn0 & 511)
		return 0;
	for (i = 1; i < 512; i++)
		if (!(e[i] & PM_PRESENT) || (e[i] & PM_PFN_MASK) != pfn0 + i)
			return 0;
	if (s->kpf_fd < 0)
		return 1;
	if (pread(s->kpf_fd, &kpf, sizeof(kpf), pfn0 * 8) != sizeof(kpf))
		return 1;
	return !!(kpf & ((1ull << KPF_THP) | (1ull << KPF_HUGE)));
}

static int range_pagemap(struct pscan *s, uint64_t start, uint64_t end, struct run_acc *acc)
{
	uint64_t *e = s->buf;
	uint64_t a0 = ALIGN_DOWN(start, 512ull << PAGE_SHIFT_4K);
	uint64_t a1 = ALIGN_UP(end, 512ull << PAGE_SHIFT_4K);
	uint32_t skip = s->skip_flags & (PSCAN_FILE | PSCAN_HUGE);
	uint64_t va, n, i, pg;
	int ret;

	for (va = a0; va < a1; va += n << PAGE_SHIFT_4K) {
		n = MIN((uint64_t)PSCAN_CHUNK, (a1 - va) >> PAGE_SHIFT_4K);
		s->nr_calls++;
		ret = pread_full(s->fd, e, n * 8, (off_t)(va >> PAGE_SHIFT_4K) * 8);
		if (ret == -ENODATA || ret == -EINVAL)	/* past TASK_SIZE */
			memset(e, 0, n * 8), ret = 0;
		if (ret)
			return cm_err(ret, "pid %d: cannot read pagemap at %#lx", s->pid,
				      (unsigned long)va);
		for (i = 0; i < n; i += 512) {
			uint32_t huge = pm_block_huge(s, e + i) ? PSCAN_HUGE : 0;

			for (pg = i; pg < i + 512; pg++) {
				uint64_t a = va + (pg << PAGE_SHIFT_4K);
				uint32_t f = pm_flags(s, e[pg]) & ~skip;

				if (a < start || a >= end || !f)
					continue;
				if (f & PSCAN_PRESENT)
					f |= huge;
				ret = acc_add(acc, a, 1, f);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

int pscan_range(struct pscan *s, uint64_t start, uint64_t end,
		int (*cb)(void *arg, const struct pscan_run *run), void *arg)
{
	struct run_acc acc = { .cb = cb, .arg = arg };
	int ret;

	if (start >= end)
		return 0;
	if ((start | end) & ((1u << PAGE_SHIFT_4K) - 1))
		return cm_err(-EINVAL, "pid %d: unaligned scan range %#lx-%#lx", s->pid,
			      (unsigned long)start, (unsigned long)end);
	if (s->mode == PSCAN_IOCTL)
		ret = range_ioctl(s, start, end, &acc);
	else
		ret = range_pagemap(s, start, end, &acc);
	if (ret)
		return ret;
	return acc_flush(&acc);
}

/* Tries a scan of one page of our own stack with the given categories. */
static int probe_cats(int fd, uint64_t cats)
{
	struct page_region r[4];
	struct pm_scan_arg a;
	uint64_t addr = ALIGN_DOWN((uint64_t)(uintptr_t)&a, 4096);

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.start = addr;
	a.end = addr + 4096;
	a.vec = (uint64_t)(uintptr_t)r;
	a.vec_len = 4;
	a.category_anyof_mask = cats;
	a.return_mask = cats;
	return ioctl(fd, PAGEMAP_SCAN, &a) >= 0;
}

int pscan_have_ioctl(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = probe_cats(fd, PAGE_IS_PRESENT);
	close(fd);
	return ok;
}

static uint64_t self_pfn(int fd, const volatile char *p)
{
	uint64_t e;

	(void)*p;
	if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p >> PAGE_SHIFT_4K) * 8) != sizeof(e))
		return 0;
	return (e & PM_PRESENT) ? e & PM_PFN_MASK : 0;
}

/* Finds the PFNs of the zero page and the huge zero page by read-faulting
 * our own fresh anonymous memory. */
static void find_zero_pfns(struct pscan *s)
{
	size_t len = 4 << 20;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	char *m, *h;

	if (fd < 0)
		return;
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		s->zero_pfn = self_pfn(fd, m);
		h = (char *)ALIGN_UP((uintptr_t)m + 4096, 2u << 20);
		if (!madvise(h, 2u << 20, MADV_HUGEPAGE)) {
			uint64_t pfn = self_pfn(fd, h);

			if (pfn && pfn != s->zero_pfn && !(pfn & 511))
				s->huge_zero_pfn = pfn;
		}
		munmap(m, len);
	}
	close(fd);
}

int pscan_open(struct pscan *s, pid_t pid, enum pscan_mode mode)
{
	char path[64];
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->kpf_fd = -1;
	s->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		ret = -errno;
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot open '%s'", path);
	}
	if (mode != PSCAN_PAGEMAP && probe_cats(s->fd, PAGE_IS_PRESENT)) {
		s->mode = PSCAN_IOCTL;
		s->cats = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | PAGE_IS_FILE |
			  PAGE_IS_HUGE;
		if (probe_cats(s->fd, PAGE_IS_GUARD))
			s->cats |= PAGE_IS_GUARD;
		s->buf_len = PSCAN_VEC_LEN * sizeof(struct page_region);
	} else if (mode == PSCAN_IOCTL) {
		pscan_close(s);
		return cm_err(-EOPNOTSUPP, "PAGEMAP_SCAN is not supported by this kernel");
	} else {
		s->mode = PSCAN_PAGEMAP;
		s->buf_len = PSCAN_CHUNK * sizeof(uint64_t);
		s->kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		find_zero_pfns(s);
	}
	s->buf = malloc(s->buf_len);
	if (!s->buf) {
		pscan_close(s);
		return cm_err(-ENOMEM, "pid %d: cannot allocate the scan buffer", pid);
	}
	return 0;
}

void pscan_close(struct pscan *s)
{
	close_safe(&s->fd);
	close_safe(&s->kpf_fd);
	free(s->buf);
	s->buf = NULL;
}
