// SPDX-License-Identifier: MIT
/*
 * xfer_readv.c: the process_vm_readv backend. Up to 1024 remote iovecs per
 * call land back to back in the page store buffer; a short read (a page
 * that cannot be read this way) continues through /proc/PID/mem for that
 * page. Nothing in the target changes.
 */
#define LOG_PREFIX "xfer-readv: "

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"
#include "util.h"
#include "xfer.h"

#define READV_MAX_IOV 1024

/* One process_vm_readv call from the cursor; returns pages read or -errno. */
static long readv_once(struct xfer *x, struct xfer_cursor *c, struct iovec *rem)
{
	size_t ps = x->t.page_size, cnt = 0, k;
	struct iovec local;
	uint64_t total = 0;
	ssize_t n;

	for (k = c->i; k < c->nr && cnt < READV_MAX_IOV; k++, cnt++) {
		uint64_t skip = k == c->i ? c->off : 0;

		rem[cnt].iov_base = (void *)(uintptr_t)(c->runs[k].vaddr + skip * ps);
		rem[cnt].iov_len = (c->runs[k].nr_pages - skip) * ps;
		total += rem[cnt].iov_len;
	}
	local.iov_base = c->dst;
	local.iov_len = total;
	x->st.calls++;
	n = process_vm_readv(x->t.pid, &local, 1, rem, cnt, 0);
	if (n < 0) {
		if (errno == ESRCH)
			return cm_err(-ESRCH, "pid %d is gone", (int)x->t.pid);
		if (errno != EFAULT)
			return cm_err(-errno, "process_vm_readv of pid %d at %#lx",
				      (int)x->t.pid, (unsigned long)(uintptr_t)rem[0].iov_base);
		n = 0;
	}
	return n / ps;
}

static int readv_copy(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs,
		      size_t nr)
{
	size_t ps = x->t.page_size, i;
	struct iovec rem[READV_MAX_IOV];
	struct xfer_cursor c = {
		.runs = runs, .nr = nr, .dst = (char *)b->data + b->nr_pages * ps,
	};
	int ret;

	while (c.i < c.nr) {
		uint64_t want = 0;
		long got;

		for (i = c.i; i < c.nr && i - c.i < READV_MAX_IOV; i++)
			want += runs[i].nr_pages - (i == c.i ? c.off : 0);
		got = readv_once(x, &c, rem);
		if (got < 0)
			return (int)got;
		xfer_cursor_advance(&c, got, ps);
		if ((uint64_t)got == want || c.i >= c.nr)
			continue;
		/* Stopped at an unreadable page: take it through /proc/PID/mem. */
		ret = xfer_mem_read(x, runs[c.i].vaddr + c.off * ps, c.dst, ps);
		if (ret)
			return ret;
		xfer_cursor_advance(&c, 1, ps);
	}
	return xfer_add_runs(x, b, runs, nr);
}

static int readv_open(struct xfer *x)
{
	(void)x;
	return 0;
}

static int readv_close(struct xfer *x)
{
	(void)x;
	return 0;
}

const struct xfer_ops xfer_readv_ops = {
	.name = "readv",
	.open = readv_open,
	.copy = readv_copy,
	.close = readv_close,
};
