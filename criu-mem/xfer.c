// SPDX-License-Identifier: MIT
/*
 * xfer.c: the table of page-transfer backends, the generic copy entry
 * point that routes PROT_NONE runs to /proc/PID/mem, and that fallback.
 */
#define LOG_PREFIX "xfer: "

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xfer.h"

static const struct xfer_ops *const xfer_backends[] = {
	&xfer_readv_ops,
	&xfer_vmsplice_ops,
};

const struct xfer_ops *xfer_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(xfer_backends); i++)
		if (!strcmp(xfer_backends[i]->name, name))
			return xfer_backends[i];
	return NULL;
}

const char *xfer_default_name(void)
{
	/* BENCHMARKS.md: the same CPU cost here, and readv never changes the target. */
	return "readv";
}

int xfer_open(struct xfer *x, const struct xfer_ops *ops, const struct xfer_target *t)
{
	char path[64];
	int ret;

	memset(x, 0, sizeof(*x));
	x->ops = ops;
	x->t = *t;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->pid);
	x->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (x->mem_fd < 0)
		return cm_err(errno == ENOENT ? -ESRCH : -errno, "cannot open '%s'", path);
	ret = ops->open(x);
	if (ret) {
		close_safe(&x->mem_fd);
		return ret;
	}
	x->opened = 1;
	return 0;
}

int xfer_close(struct xfer *x)
{
	int ret = 0;

	if (x->opened)
		ret = x->ops->close(x);
	x->opened = 0;
	if (x->ops)
		close_safe(&x->mem_fd);
	return ret;
}

int xfer_mem_read(struct xfer *x, uint64_t vaddr, void *dst, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(x->mem_fd, (char *)dst + done, len - done,
				  (off_t)(vaddr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EFAULT;

			if (kill(x->t.pid, 0) && errno == ESRCH)
				err = -ESRCH;
			else if (err == -EIO)
				err = -EFAULT;
			return cm_err(err, "cannot read pid %d memory at %#lx (/proc/PID/mem)",
				      (int)x->t.pid, (unsigned long)(vaddr + done));
		}
		done += n;
	}
	x->st.pages_mem += len / x->t.page_size;
	return 0;
}

void xfer_cursor_advance(struct xfer_cursor *c, uint64_t pages, size_t ps)
{
	c->dst += pages * ps;
	while (pages && c->i < c->nr) {
		uint64_t left = c->runs[c->i].nr_pages - c->off;

		if (pages < left) {
			c->off += pages;
			return;
		}
		pages -= left;
		c->i++;
		c->off = 0;
	}
}

int xfer_add_runs(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr)
{
	size_t i;
	int ret;

	for (i = 0; i < nr; i++) {
		x->st.pages += runs[i].nr_pages;
		ret = pstore_buf_add_run(b, runs[i].vaddr, runs[i].nr_pages);
		if (ret)
			return cm_err(ret, "page store buffer at %#lx: %s",
				      (unsigned long)runs[i].vaddr, img_strerror());
	}
	return 0;
}

static int copy_mem(struct xfer *x, struct pstore_buf *b, const struct xfer_run *r)
{
	size_t ps = x->t.page_size;
	char *dst = (char *)b->data + b->nr_pages * ps;
	int ret;

	ret = xfer_mem_read(x, r->vaddr, dst, r->nr_pages * ps);
	if (ret)
		return ret;
	x->st.pages += r->nr_pages;
	return pstore_buf_add_run(b, r->vaddr, r->nr_pages);
}

int xfer_copy(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr)
{
	size_t i = 0, j;
	int ret;

	while (i < nr) {
		if (runs[i].flags & XFER_RUN_MEM) {
			ret = copy_mem(x, b, &runs[i]);
			if (ret)
				return ret;
			i++;
			continue;
		}
		for (j = i; j < nr && !(runs[j].flags & XFER_RUN_MEM); j++)
			;
		ret = x->ops->copy(x, b, runs + i, j - i);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}
