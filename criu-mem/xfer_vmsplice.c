// SPDX-License-Identifier: MIT
/*
 * xfer_vmsplice.c: process_vmsplice semantics without kernel support.
 * Pipes are created inside the stopped target (injected pipe2), their read
 * ends taken over with pidfd_getfd, iovec arrays written into an injected
 * scratch mapping, and an injected vmsplice() moves up to 1 MiB of the
 * target's pages into a pipe while a drain thread read()s the previous
 * pipe into the page store buffer. close() removes every trace.
 */
#define LOG_PREFIX "xfer-vmsplice: "

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "inject.h"
#include "log.h"
#include "util.h"
#include "xfer.h"

#define VS_NPIPES	4
#define VS_PIPE_BYTES	(1u << 20)	/* pipe-max-size without CAP_SYS_RESOURCE */
#define VS_IOV_SLOT	4096		/* bytes of scratch per pipe for iovecs */
#define VS_SCRATCH	(VS_NPIPES * VS_IOV_SLOT + 4096)

struct vs_pipe {
	int rfd;		/* our copy of the read end */
	int twfd;		/* the write end, in the target */
	int trfd;		/* the read end, in the target (kept while guarded) */
	int busy;		/* a drain job is queued or running */
	char *dst;
	size_t len;
};

struct vs {
	struct inject in;
	int in_inited, in_active;
	int guarded;		/* a guard undoes our changes if we die */
	struct inject_scratch scratch;
	int scratch_mapped;
	struct vs_pipe p[VS_NPIPES];
	size_t pipe_pages;	/* pages one vmsplice may move */
	int next;		/* round-robin pipe index */
	pthread_t drain;
	int drain_started, stop, err;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/*
 * Runs one syscall in the target. Returns 0 with the syscall's result in
 * *res, or the machinery's -errno (already reported by inject.c; no more
 * injection is tried after it).
 */
static int vs_inject(struct xfer *x, struct vs *v, long nr, unsigned long a0, unsigned long a1,
		     unsigned long a2, unsigned long a3, long *res)
{
	unsigned long args[6] = { a0, a1, a2, a3, 0, 0 };
	int ok = 1;

	if (!v->in_active)
		return -ESRCH;
	x->st.injected++;
	/* pipe2's fds are undo entries of the guard; close() drops them */
	if (nr == SYS_pipe2)
		*res = inject_syscall_tracked(&v->in, nr, args, &ok);
	else
		*res = inject_syscall(&v->in, nr, args, &ok);
	if (!ok) {
		v->in_active = 0;
		return (int)*res;
	}
	return 0;
}

/* ---- drain thread: reads a pipe's content into the buffer ---- */

static int drain_one(int fd, char *dst, size_t len)
{
	while (len) {
		ssize_t n = read(fd, dst, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		dst += n;
		len -= n;
	}
	return 0;
}

static void *drain_main(void *arg)
{
	struct vs *v = arg;
	int i, ret;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		for (i = 0; i < VS_NPIPES; i++)
			if (v->p[i].busy && v->p[i].dst)
				break;
		if (i == VS_NPIPES) {
			if (v->stop)
				break;
			pthread_cond_wait(&v->cond, &v->lock);
			continue;
		}
		pthread_mutex_unlock(&v->lock);
		ret = drain_one(v->p[i].rfd, v->p[i].dst, v->p[i].len);
		pthread_mutex_lock(&v->lock);
		if (ret && !v->err)
			v->err = ret;
		v->p[i].busy = 0;
		v->p[i].dst = NULL;
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* Waits until pipe i (or every pipe when i < 0) is drained. */
static int wait_idle(struct vs *v, int i)
{
	int k, ret;

	pthread_mutex_lock(&v->lock);
	for (k = i < 0 ? 0 : i; k < (i < 0 ? VS_NPIPES : i + 1); k++)
		while (v->p[k].busy)
			pthread_cond_wait(&v->cond, &v->lock);
	ret = v->err;
	pthread_mutex_unlock(&v->lock);
	if (ret)
		return cm_err(ret, "cannot drain a pipe");
	return 0;
}

static void queue_drain(struct vs *v, int i, char *dst, size_t len)
{
	pthread_mutex_lock(&v->lock);
	v->p[i].busy = 1;
	v->p[i].dst = dst;
	v->p[i].len = len;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* ---- setup and teardown ---- */

static int vs_size_pipe(struct xfer *x, struct vs *v, struct vs_pipe *p)
{
	long ret = fcntl(p->rfd, F_SETPIPE_SZ, VS_PIPE_BYTES);

	if (ret < 0)
		ret = fcntl(p->rfd, F_GETPIPE_SZ);
	if (ret < (long)x->t.page_size)
		return cm_err(-errno, "pid %d: cannot size a pipe", (int)x->t.pid);
	v->pipe_pages = MIN(v->pipe_pages, (size_t)ret / x->t.page_size);
	return 0;
}

static int vs_make_pipe(struct xfer *x, struct vs *v, struct vs_pipe *p)
{
	uint64_t fds_addr = v->scratch.addr + VS_NPIPES * VS_IOV_SLOT;
	struct iovec loc, rem = { (void *)(uintptr_t)fds_addr, 2 * sizeof(int) };
	int fds[2], trfd, r;
	long ret;

	r = vs_inject(x, v, SYS_pipe2, fds_addr, O_CLOEXEC, 0, 0, &ret);
	if (r)
		return r;
	if (ret < 0)
		return cm_err((int)ret, "pid %d: injected pipe2", (int)x->t.pid);
	loc.iov_base = fds;
	loc.iov_len = sizeof(fds);
	if (process_vm_readv(x->t.pid, &loc, 1, &rem, 1, 0) != sizeof(fds))
		return cm_err(-errno, "pid %d: cannot read the pipe fds at %#lx",
			      (int)x->t.pid, (unsigned long)fds_addr);
	trfd = fds[0];
	p->twfd = fds[1];
	p->rfd = inject_getfd(x->t.pidfd, trfd);
	/* Guarded, the target keeps its read end until vs_close(): if we die,
	 * a vmsplice in flight then never finds a reader-less pipe (EPIPE would
	 * SIGPIPE the target before the guard could step in). */
	if (v->guarded) {
		p->trfd = trfd;
		return p->rfd < 0 ? p->rfd : vs_size_pipe(x, v, p);
	}
	/* The read end stays open through our copy: close the target's now. */
	r = vs_inject(x, v, SYS_close, trfd, 0, 0, 0, &ret);
	if (p->rfd < 0)
		return p->rfd;	/* reported by inject_getfd() */
	if (r)
		return r;
	if (ret < 0)
		return cm_err((int)ret, "pid %d: injected close(%d)", (int)x->t.pid, trfd);
	return vs_size_pipe(x, v, p);
}

/* Injected close() of a fd of the target (-1: nothing to do). */
static int vs_close_remote(struct xfer *x, struct vs *v, int fd)
{
	long r;
	int e;

	if (fd < 0 || !v->in_active)
		return 0;
	e = vs_inject(x, v, SYS_close, fd, 0, 0, 0, &r);
	if (!e && r < 0)
		return cm_err((int)r, "pid %d: injected close(%d)", (int)x->t.pid, fd);
	return e;
}

static int vs_close(struct xfer *x)
{
	struct vs *v = x->priv;
	int i, ret = 0;
	long r;

	if (!v)
		return 0;
	if (v->drain_started) {
		pthread_mutex_lock(&v->lock);
		v->stop = 1;
		pthread_cond_broadcast(&v->cond);
		pthread_mutex_unlock(&v->lock);
		pthread_join(v->drain, NULL);
	}
	/* A target that is gone keeps nothing of ours: no teardown to inject. */
	if (kill(x->t.pid, 0) && errno == ESRCH)
		v->in_active = 0;
	for (i = 0; i < VS_NPIPES; i++) {
		/* The target's write end goes first, so a write never sees EPIPE. */
		int e = vs_close_remote(x, v, v->p[i].twfd);

		if (!ret)
			ret = e;
		e = vs_close_remote(x, v, v->p[i].trfd);
		if (!ret)
			ret = e;
		close_safe(&v->p[i].rfd);
	}
	if (v->scratch_mapped && v->in_active) {
		r = inject_scratch_unmap(&v->in, &v->scratch);	/* reports its errors */
		if (r < 0 && !ret)
			ret = (int)r;
	}
	if (v->in_inited) {
		r = inject_release(&v->in);
		if (r < 0 && !ret && v->in_active)
			ret = (int)r;
	}
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
	x->priv = NULL;
	return ret;
}

static int vs_open(struct xfer *x)
{
	struct vs *v = calloc(1, sizeof(*v));
	int i, ret;

	if (!v)
		return cm_err(-ENOMEM, "out of memory");
	x->priv = v;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->pipe_pages = VS_PIPE_BYTES / x->t.page_size;
	for (i = 0; i < VS_NPIPES; i++)
		v->p[i].rfd = v->p[i].twfd = v->p[i].trfd = -1;
	if (x->t.pidfd < 0) {
		ret = cm_err(-ENOTSUP, "pid %d: vmsplice needs a pidfd", (int)x->t.pid);
		goto fail;
	}
	ret = inject_init(&v->in, x->t.tid);
	if (ret)
		goto fail;
	v->in_inited = v->in_active = 1;
	/* Pipes and scratch go into the undo log: a SIGKILLed dumper leaves
	 * neither, nor a thread stuck in a vmsplice with our registers. */
	ret = inject_attach_guard(&v->in, x->t.guard);
	if (ret)
		goto fail;
	v->guarded = v->in.guard != NULL;
	ret = inject_scratch_map(&v->in, VS_SCRATCH, &v->scratch);
	if (ret)
		goto fail;
	v->scratch_mapped = 1;
	for (i = 0; i < VS_NPIPES; i++) {
		ret = vs_make_pipe(x, v, &v->p[i]);
		if (ret)
			goto fail;
	}
	ret = -pthread_create(&v->drain, NULL, drain_main, v);
	if (ret) {
		ret = cm_err(ret, "cannot start the drain thread");
		goto fail;
	}
	v->drain_started = 1;
	return 0;
fail:
	vs_close(x);
	return ret;
}

/* ---- copy ---- */

/* Fills the iovecs for one pipe-full from the cursor; returns their count. */
static size_t vs_fill_iov(const struct xfer_cursor *c, size_t max_pages, size_t ps,
			  struct iovec *iov, uint64_t *pages)
{
	size_t cnt = 0, k;

	*pages = 0;
	for (k = c->i; k < c->nr && *pages < max_pages && cnt < VS_IOV_SLOT / sizeof(*iov);
	     k++, cnt++) {
		uint64_t skip = k == c->i ? c->off : 0;
		uint64_t n = MIN(c->runs[k].nr_pages - skip, max_pages - *pages);

		iov[cnt].iov_base = (void *)(uintptr_t)(c->runs[k].vaddr + skip * ps);
		iov[cnt].iov_len = n * ps;
		*pages += n;
	}
	return cnt;
}

/* One injected vmsplice into pipe i; returns pages moved or -errno. */
static long vs_splice_one(struct xfer *x, struct vs *v, int i, struct xfer_cursor *c,
			  uint64_t *want)
{
	struct iovec iov[VS_IOV_SLOT / sizeof(struct iovec)];
	uint64_t slot = v->scratch.addr + (uint64_t)i * VS_IOV_SLOT;
	size_t cnt, ps = x->t.page_size;
	long n;
	int ret;

	cnt = vs_fill_iov(c, v->pipe_pages, ps, iov, want);
	ret = inject_poke(x->t.pid, slot, iov, cnt * sizeof(iov[0]));
	if (ret) {
		v->in_active = 0;	/* reported by inject_poke() */
		return ret;
	}
	x->st.calls++;
	ret = vs_inject(x, v, SYS_vmsplice, v->p[i].twfd, slot, cnt, 0, &n);
	if (ret)
		return ret;
	if (n == -EFAULT)
		return 0;
	if (n < 0)
		return cm_err((int)n, "pid %d: injected vmsplice at %#lx", (int)x->t.pid,
			      (unsigned long)(uintptr_t)iov[0].iov_base);
	if (n % ps) {
		/* A partial page: drain the bytes, the page is re-read below. */
		queue_drain(v, i, c->dst, n);
		ret = wait_idle(v, i);
		return ret ? ret : n / (long)ps;
	}
	if (n)
		queue_drain(v, i, c->dst, n);
	return n / (long)ps;
}

static int vs_copy(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr)
{
	struct vs *v = x->priv;
	size_t ps = x->t.page_size;
	struct xfer_cursor c = {
		.runs = runs, .nr = nr, .dst = (char *)b->data + b->nr_pages * ps,
	};
	int ret = 0;

	while (c.i < c.nr) {
		int i = v->next;
		uint64_t want;
		long got;

		ret = wait_idle(v, i);
		if (ret)
			break;
		got = vs_splice_one(x, v, i, &c, &want);
		if (got < 0) {
			ret = (int)got;
			break;
		}
		v->next = (i + 1) % VS_NPIPES;
		xfer_cursor_advance(&c, got, ps);
		if ((uint64_t)got == want)
			continue;
		/* vmsplice stopped at a page it cannot take: /proc/PID/mem for it. */
		ret = wait_idle(v, i);
		if (!ret)
			ret = xfer_mem_read(x, runs[c.i].vaddr + c.off * ps, c.dst, ps);
		if (ret)
			break;
		xfer_cursor_advance(&c, 1, ps);
	}
	/* Every pipe must be empty before the target may run again. */
	if (wait_idle(v, -1) && !ret)
		ret = -EIO;
	if (ret)
		return ret;
	return xfer_add_runs(x, b, runs, nr);
}

const struct xfer_ops xfer_vmsplice_ops = {
	.name = "vmsplice",
	.open = vs_open,
	.copy = vs_copy,
	.close = vs_close,
};
