// SPDX-License-Identifier: MIT
/*
 * Tests of criu-mem/pagescan.c on a real forked child: a sparse 64 GiB
 * reservation with a few written pages, zero-page-faulted pages, THP and
 * guard regions; PAGEMAP_SCAN and the pagemap fallback must agree.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kapi.h"
#include "pagescan.h"
#include "unit.h"
#include "util.h"

#define PG 4096ull
#define GiB (1ull << 30)
#define MiB (1ull << 20)

struct layout {
	uint64_t sparse, none, thp, hzero, guard;
	int guard_ok;
};

struct runs {
	struct pscan_run r[64];
	size_t n;
};

static int collect(void *arg, const struct pscan_run *run)
{
	struct runs *rs = arg;

	if (rs->n == 64)
		return -ENOSPC;
	rs->r[rs->n++] = *run;
	return 0;
}

static void child_main(int wfd)
{
	struct layout l = { 0 };
	volatile char *p;
	char *m;
	int i;

	p = mmap(NULL, 64 * GiB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		_exit(1);
	l.sparse = (uintptr_t)p;
	for (i = 0; i < 3; i++)
		p[i * PG] = 1;			/* one run of 3 written pages */
	p[GiB + 5 * PG] = 2;			/* a lone page */
	p[64 * GiB - PG] = 3;			/* the last page */
	for (i = 0; i < 4; i++)
		(void)p[2 * GiB + i * PG];	/* 4 read faults: zero page */
	m = mmap(NULL, 64 * GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	l.none = (uintptr_t)m;
	m = mmap(NULL, 16 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(1);
	m = (char *)ALIGN_UP((uintptr_t)m, 2 * MiB);
	madvise(m, 8 * MiB, MADV_HUGEPAGE);
	memset(m, 0x5a, 4 * MiB);		/* two THPs */
	l.thp = (uintptr_t)m;
	(void)*(volatile char *)(m + 4 * MiB);	/* huge zero page */
	l.hzero = (uintptr_t)m + 4 * MiB;
	m = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 1, 16 * PG);
	l.guard = (uintptr_t)m;
	l.guard_ok = !madvise(m + 4 * PG, 2 * PG, MADV_GUARD_INSTALL);
	if (write(wfd, &l, sizeof(l)) != sizeof(l))
		_exit(1);
	for (;;)
		pause();
}

static pid_t start_child(struct layout *l)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		close(p[0]);
		child_main(p[1]);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], l, sizeof(*l)) != sizeof(*l)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static int scan(pid_t pid, enum pscan_mode mode, uint64_t a, uint64_t b, struct runs *rs)
{
	struct pscan s;
	int ret = pscan_open(&s, pid, mode);

	rs->n = 0;
	if (ret)
		return ret;
	ret = pscan_range(&s, a, b, collect, rs);
	pscan_close(&s);
	return ret;
}

static int same_runs(const struct runs *x, const struct runs *y)
{
	size_t i;

	if (x->n != y->n)
		return 0;
	for (i = 0; i < x->n; i++)
		if (x->r[i].vaddr != y->r[i].vaddr || x->r[i].nr_pages != y->r[i].nr_pages ||
		    x->r[i].flags != y->r[i].flags) {
			fprintf(stderr, "  run %zu: %#lx+%lu %#x vs %#lx+%lu %#x\n", i,
				(unsigned long)x->r[i].vaddr, (unsigned long)x->r[i].nr_pages,
				x->r[i].flags, (unsigned long)y->r[i].vaddr,
				(unsigned long)y->r[i].nr_pages, y->r[i].flags);
			return 0;
		}
	return 1;
}

static int check_sparse(const struct layout *l, const struct runs *r)
{
	CHECK_EQ(r->n, 4);
	CHECK_EQ(r->r[0].vaddr, l->sparse);
	CHECK_EQ(r->r[0].nr_pages, 3);
	CHECK_EQ(r->r[0].flags, PSCAN_PRESENT);
	CHECK_EQ(r->r[1].vaddr, l->sparse + GiB + 5 * PG);
	CHECK_EQ(r->r[1].nr_pages, 1);
	CHECK_EQ(r->r[2].vaddr, l->sparse + 2 * GiB);
	CHECK_EQ(r->r[2].nr_pages, 4);
	CHECK_EQ(r->r[2].flags, PSCAN_PRESENT | PSCAN_PFNZERO);
	CHECK_EQ(r->r[3].vaddr, l->sparse + 64 * GiB - PG);
	CHECK_EQ(r->r[3].flags, PSCAN_PRESENT);
	return 0;
}

static int thp_enabled(void)
{
	char *s = NULL;
	int on = 0;

	if (!read_file_str("/sys/kernel/mm/transparent_hugepage/enabled", &s, NULL, 256))
		on = !strstr(s, "[never]");
	free(s);
	return on;
}

static int check_all(pid_t pid, const struct layout *l, enum pscan_mode mode)
{
	struct runs r;

	if (!l->guard_ok)
		fprintf(stderr, "  MADV_GUARD_INSTALL unsupported: guard check skipped\n");
	CHECK_EQ(scan(pid, mode, l->sparse, l->sparse + 64 * GiB, &r), 0);
	if (check_sparse(l, &r))
		return 1;
	CHECK_EQ(scan(pid, mode, l->none, l->none + 64 * GiB, &r), 0);
	CHECK_EQ(r.n, 0);
	if (thp_enabled()) {
		CHECK_EQ(scan(pid, mode, l->thp, l->thp + 8 * MiB, &r), 0);
		CHECK_EQ(r.n, 2);
		CHECK_EQ(r.r[0].vaddr, l->thp);
		CHECK_EQ(r.r[0].nr_pages, 1024);
		CHECK_EQ(r.r[0].flags, PSCAN_PRESENT | PSCAN_HUGE);
		CHECK_EQ(r.r[1].vaddr, l->hzero);
		CHECK_EQ(r.r[1].nr_pages, 512);
		CHECK_EQ(r.r[1].flags, PSCAN_PRESENT | PSCAN_PFNZERO | PSCAN_HUGE);
	}
	CHECK_EQ(scan(pid, mode, l->guard, l->guard + 16 * PG, &r), 0);
	if (l->guard_ok) {
		CHECK_EQ(r.n, 3);
		CHECK_EQ(r.r[1].vaddr, l->guard + 4 * PG);
		CHECK_EQ(r.r[1].nr_pages, 2);
		CHECK_EQ(r.r[1].flags, PSCAN_GUARD);
	}
	/* a sub-range that cuts a run */
	CHECK_EQ(scan(pid, mode, l->sparse + PG, l->sparse + 2 * PG, &r), 0);
	CHECK_EQ(r.n, 1);
	CHECK_EQ(r.r[0].vaddr, l->sparse + PG);
	CHECK_EQ(r.r[0].nr_pages, 1);
	return 0;
}

UNIT_TEST(pscan_ioctl_layout)
{
	struct layout l;
	pid_t pid;
	int ret;

	if (!pscan_have_ioctl()) {
		fprintf(stderr, "  PAGEMAP_SCAN not supported: skipped\n");
		return 0;
	}
	pid = start_child(&l);
	CHECK(pid > 0);
	ret = check_all(pid, &l, PSCAN_IOCTL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ret;
}

UNIT_TEST(pscan_pagemap_layout)
{
	struct layout l;
	pid_t pid = start_child(&l);
	int ret;

	CHECK(pid > 0);
	ret = check_all(pid, &l, PSCAN_PAGEMAP);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ret;
}

UNIT_TEST(pscan_modes_agree)
{
	struct layout l;
	struct runs a, b;
	pid_t pid;
	int ret = 1;
	uint64_t ranges[3][2];
	size_t i;

	if (!pscan_have_ioctl())
		return 0;
	pid = start_child(&l);
	CHECK(pid > 0);
	ranges[0][0] = l.sparse;
	ranges[0][1] = l.sparse + 64 * GiB;
	ranges[1][0] = l.thp;
	ranges[1][1] = l.thp + 8 * MiB;
	ranges[2][0] = l.guard;
	ranges[2][1] = l.guard + 16 * PG;
	for (i = 0; i < 3; i++) {
		if (scan(pid, PSCAN_IOCTL, ranges[i][0], ranges[i][1], &a) ||
		    scan(pid, PSCAN_PAGEMAP, ranges[i][0], ranges[i][1], &b) || !same_runs(&a, &b)) {
			fprintf(stderr, "  range %zu differs\n", i);
			goto out;
		}
	}
	ret = 0;
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ret;
}

UNIT_TEST(pscan_rejects_unaligned)
{
	struct pscan s;
	struct runs r = { .n = 0 };

	CHECK_EQ(pscan_open(&s, getpid(), PSCAN_AUTO), 0);
	CHECK_EQ(pscan_range(&s, 4097, 8192, collect, &r), -EINVAL);
	CHECK_EQ(pscan_range(&s, 8192, 8192, collect, &r), 0);
	pscan_close(&s);
	CHECK_EQ(pscan_open(&s, 0x7ffffff0, PSCAN_AUTO), -ESRCH);
	pscan_close(&s);
	return 0;
}

struct alt_check {
	uint64_t base, next;
	size_t n, bad;
};

/* Every other page written: runs must be single pages at base + (2k+1) pages. */
static int alt_cb(void *arg, const struct pscan_run *r)
{
	struct alt_check *a = arg;

	if (r->vaddr != a->next || r->nr_pages != 1 || r->flags != PSCAN_PRESENT)
		a->bad++;
	a->next = r->vaddr + 2 * PG;
	a->n++;
	return 0;
}

/* 10000 runs: more than one 4096-entry vector and far more than the 512
 * regions after which the kernel's walk_end is stale. */
UNIT_TEST(pscan_many_runs)
{
	enum pscan_mode modes[2] = { PSCAN_IOCTL, PSCAN_PAGEMAP };
	int p[2], i, ret = 1;
	uint64_t base = 0;
	pid_t pid;

	CHECK(!pipe(p));
	pid = fork();
	if (!pid) {
		char *m = mmap(NULL, 20000 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		for (i = 1; i < 20000; i += 2)
			m[i * PG] = 1;
		base = (uintptr_t)m;
		if (write(p[1], &base, sizeof(base)) != sizeof(base))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK(pid > 0);
	if (read(p[0], &base, sizeof(base)) != sizeof(base))
		goto out;
	for (i = 0; i < 2; i++) {
		struct alt_check a = { .base = base, .next = base + PG };
		struct pscan s;

		if (modes[i] == PSCAN_IOCTL && !pscan_have_ioctl())
			continue;
		if (pscan_open(&s, pid, modes[i]))
			goto out;
		if (pscan_range(&s, base, base + 20000 * PG, alt_cb, &a))
			goto out;
		if (modes[i] == PSCAN_IOCTL && s.nr_calls < 3) {
			fprintf(stderr, "  only %lu ioctl calls\n", (unsigned long)s.nr_calls);
			goto out;
		}
		pscan_close(&s);
		if (a.n != 10000 || a.bad) {
			fprintf(stderr, "  mode %d: %zu runs, %zu bad\n", modes[i], a.n, a.bad);
			goto out;
		}
	}
	ret = 0;
out:
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ret;
}

/* A read page of a private file mapping is FILE in both modes, unless the
 * caller skips FILE. */
UNIT_TEST(pscan_file_pages_and_skip)
{
	enum pscan_mode modes[2] = { PSCAN_IOCTL, PSCAN_PAGEMAP };
	int fd = open("/proc/self/exe", O_RDONLY), i;
	volatile char *m;
	struct runs r;
	struct pscan s;

	CHECK(fd >= 0);
	m = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	CHECK(m != MAP_FAILED);
	(void)m[0];
	for (i = 0; i < 2; i++) {
		if (modes[i] == PSCAN_IOCTL && !pscan_have_ioctl())
			continue;
		CHECK_EQ(pscan_open(&s, getpid(), modes[i]), 0);
		r.n = 0;
		CHECK_EQ(pscan_range(&s, (uintptr_t)m, (uintptr_t)m + PG, collect, &r), 0);
		CHECK_EQ(r.n, 1);
		CHECK_EQ(r.r[0].flags, PSCAN_PRESENT | PSCAN_FILE);
		s.skip_flags = PSCAN_FILE | PSCAN_PRESENT;	/* PRESENT cannot be skipped */
		r.n = 0;
		CHECK_EQ(pscan_range(&s, (uintptr_t)m, (uintptr_t)m + PG, collect, &r), 0);
		CHECK_EQ(r.n, 1);
		CHECK_EQ(r.r[0].flags, PSCAN_PRESENT);
		pscan_close(&s);
	}
	munmap((void *)m, 2 * PG);
	return 0;
}
