// SPDX-License-Identifier: MIT
/*
 * restore_pages.c: makes the target's memory contents equal to the image.
 * Stored pages go out with process_vm_writev in batches of up to IOV_MAX
 * iovecs while workers decompress the next frames; read-only VMAs go
 * through /proc/PID/mem. Pages the image has as zero or absent are
 * discarded with injected madvise() or overwritten with zeros.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "freeze.h"
#include "log.h"
#include "pagescan.h"
#include "progress.h"
#include "restore.h"
#include "util.h"
#include "vma.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PW_IOV_MAX	1024		/* IOV_MAX: 1025 gives EINVAL */
#define ZERO_BUF	(1u << 20)	/* zeros written from this buffer */
#define DN_MERGE_PAGES	16		/* merge discards separated by fewer pages */

#define PW_SPLIT_MIN	(512u << 10)	/* batches this big are written by two threads */

/* What one writer did (the two writers of a batch count apart). */
struct span_st {
	uint64_t calls, memw, fail_addr;
};

/* A batch of process_vm_writev iovecs. */
struct pw {
	struct restore_ctx *c;
	struct iovec l[PW_IOV_MAX + 1], r[PW_IOV_MAX + 1];	/* +1: a split iovec */
	size_t n;
	/* The helper writes the upper half of big batches (faults run in parallel). */
	pthread_t helper;
	int helper_on;
	int helper_ok;			/* a CPU is left over by the decompression threads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t job_lo, job_hi;		/* iovec span for the helper */
	int job, job_ret, quit;
	struct span_st job_st;
	void *zero;			/* ZERO_BUF bytes of zeros */
	struct progress bar;
	uint64_t done;			/* bytes for the progress bar */
};

static int is_special(const VmaEntry *v)
{
	switch (v->kind) {
	case VMA_KIND__VMA_VDSO:
	case VMA_KIND__VMA_VVAR:
	case VMA_KIND__VMA_VSYSCALL:
	case VMA_KIND__VMA_UNSUPPORTED:
	case VMA_KIND__VMA_HUGETLB:
		return 1;
	default:
		return 0;
	}
}

/* Writes len bytes at addr through /proc/PID/mem (FOLL_FORCE: read-only VMAs). */
static int mem_write_st(struct restore_ctx *c, const void *buf, size_t len, uint64_t addr,
			struct span_st *st)
{
	int ret;

	ret = pwrite_full(c->mem_fd, buf, len, (off_t)addr);
	if (ret) {
		st->fail_addr = addr;
		return cm_err(ret, "cannot write %zu bytes at %#" PRIx64 " of pid %d through "
			      "/proc/PID/mem", len, addr, (int)c->pid);
	}
	st->memw++;
	return 0;
}

static void span_st_add(struct restore_ctx *c, const struct span_st *st)
{
	c->st.writev_calls += st->calls;
	c->st.proc_mem_writes += st->memw;
	if (st->fail_addr && !c->first_fail_addr)
		c->first_fail_addr = st->fail_addr;
}

static int mem_write(struct pw *w, const void *buf, size_t len, uint64_t addr)
{
	struct span_st st = { 0 };
	int ret = mem_write_st(w->c, buf, len, addr, &st);

	span_st_add(w->c, &st);
	return ret;
}

/*
 * Writes iovecs [i, n) of the batch. A short write (a page that refused the
 * write) is finished through /proc/PID/mem from where it stopped, then the
 * rest goes on with process_vm_writev.
 */
static int write_span(struct restore_ctx *c, const struct iovec *l, const struct iovec *r,
		      size_t i, size_t n, struct span_st *st)
{
	size_t k;

	while (i < n) {
		size_t want = 0, got;
		ssize_t w;

		for (k = i; k < n; k++)
			want += r[k].iov_len;
		w = process_vm_writev(c->pid, l + i, n - i, r + i, n - i, 0);
		st->calls++;
		if (w < 0 && errno != EFAULT) {
			st->fail_addr = (uint64_t)r[i].iov_base;
			return cm_err(errno == ESRCH ? -ESRCH : -errno, "process_vm_writev into pid "
				      "%d at %#lx failed", (int)c->pid, (unsigned long)r[i].iov_base);
		}
		got = w < 0 ? 0 : (size_t)w;
		if (got == want)
			break;
		/* Skip the iovecs fully written, then finish the faulting one. */
		while (got >= r[i].iov_len) {
			got -= r[i].iov_len;
			i++;
		}
		if (mem_write_st(c, (char *)l[i].iov_base + got, r[i].iov_len - got,
				 (uint64_t)r[i].iov_base + got, st))
			return -EIO;
		i++;
	}
	return 0;
}

static void *helper_main(void *arg)
{
	struct pw *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->job && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		pthread_mutex_unlock(&w->mu);
		memset(&w->job_st, 0, sizeof(w->job_st));
		w->job_ret = write_span(w->c, w->l, w->r, w->job_lo, w->job_hi, &w->job_st);
		pthread_mutex_lock(&w->mu);
		w->job = 0;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void helper_stop(struct pw *w)
{
	if (!w->helper_on)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->helper, NULL);
	w->helper_on = 0;
}

/* Index where the upper half of the batch's bytes starts, splitting an iovec if needed. */
static size_t split_half(struct pw *w, size_t total)
{
	size_t k, acc = 0, cut;

	for (k = 0; k < w->n; k++) {
		if (acc + w->r[k].iov_len > total / 2)
			break;
		acc += w->r[k].iov_len;
	}
	cut = ALIGN_DOWN(total / 2 - acc, (size_t)w->c->page_size);
	if (k < w->n && cut) {	/* split iovec k at cut */
		memmove(&w->l[k + 1], &w->l[k], (w->n - k) * sizeof(w->l[0]));
		memmove(&w->r[k + 1], &w->r[k], (w->n - k) * sizeof(w->r[0]));
		w->l[k].iov_len = w->r[k].iov_len = cut;
		w->l[k + 1].iov_base = (char *)w->l[k + 1].iov_base + cut;
		w->r[k + 1].iov_base = (char *)w->r[k + 1].iov_base + cut;
		w->l[k + 1].iov_len -= cut;
		w->r[k + 1].iov_len -= cut;
		w->n++;
		k++;
	}
	return k;
}

/* Issues the batch; big ones are shared with the helper thread. */
static int pw_flush(struct pw *w)
{
	struct restore_ctx *c = w->c;
	struct span_st st = { 0 };
	size_t k, total = 0;
	int ret, hret = 0;

	for (k = 0; k < w->n; k++)
		total += w->r[k].iov_len;
	if (total >= PW_SPLIT_MIN && !w->helper_on && w->helper_ok &&
	    !pthread_create(&w->helper, NULL, helper_main, w))
		w->helper_on = 1;
	if (total < PW_SPLIT_MIN || !w->helper_on) {
		ret = write_span(c, w->l, w->r, 0, w->n, &st);
		goto out;
	}
	k = split_half(w, total);
	pthread_mutex_lock(&w->mu);
	w->job_lo = k;
	w->job_hi = w->n;
	w->job = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	ret = write_span(c, w->l, w->r, 0, k, &st);
	pthread_mutex_lock(&w->mu);
	while (w->job)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	hret = w->job_ret;
	span_st_add(c, &w->job_st);
	if (!ret)
		ret = hret;
out:
	span_st_add(c, &st);
	w->n = 0;
	return ret;
}

/* Queues a write of len bytes at remote address addr. */
static int pw_add(struct pw *w, const void *buf, size_t len, uint64_t addr)
{
	struct iovec *pl, *pr;
	int ret;

	if (w->n) {
		pl = &w->l[w->n - 1];
		pr = &w->r[w->n - 1];
		if ((char *)pl->iov_base + pl->iov_len == buf &&
		    (uint64_t)pr->iov_base + pr->iov_len == addr && pl->iov_len < (1u << 30)) {
			pl->iov_len += len;
			pr->iov_len += len;
			return 0;
		}
	}
	if (w->n >= PW_IOV_MAX) {
		ret = pw_flush(w);
		if (ret)
			return ret;
	}
	w->l[w->n].iov_base = (void *)buf;
	w->l[w->n].iov_len = len;
	w->r[w->n].iov_base = (void *)addr;
	w->r[w->n].iov_len = len;
	w->n++;
	return 0;
}

/*
 * Writes [addr, addr + len) of image bytes @buf, split at VMA boundaries;
 * every byte must lie in a restorable VMA of the image (hostile images).
 * Read-only VMAs are written through /proc/PID/mem.
 */
static int write_range(struct pw *w, const uint8_t *buf, uint64_t addr, uint64_t len)
{
	struct restore_ctx *c = w->c;

	while (len) {
		const VmaEntry *v = img_mem_find_vma(c->mem, addr);
		uint64_t n;
		int ret;

		if (!v || is_special(v)) {
			c->first_fail_addr = addr;
			return cm_err(-EBADMSG, "image has page data at %#" PRIx64 " outside any "
				      "restorable VMA", addr);
		}
		n = MIN(len, v->end - addr);
		if (v->kind == VMA_KIND__VMA_FILE_SHARED && !(v->prot & PROT_WRITE))
			ret = 0;	/* the file holds them; no write through this mapping */
		else if (v->prot & PROT_WRITE)
			ret = pw_add(w, buf, n, addr);
		else
			ret = mem_write(w, buf, n, addr);
		if (ret)
			return ret;
		buf += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* Writes zeros over [addr, addr + len), all inside VMA v. */
static int write_zeros(struct pw *w, const VmaEntry *v, uint64_t addr, uint64_t len)
{
	int ret;

	while (len) {
		size_t n = MIN(len, ZERO_BUF);

		if (v->prot & PROT_WRITE)
			ret = pw_add(w, w->zero, n, addr);
		else
			ret = mem_write(w, w->zero, n, addr);
		if (ret)
			return ret;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ---- zeroing: image zero runs and pages absent from the image ---- */

struct zr {
	uint64_t start, end;
};

struct zplan {
	struct zr *live;		/* live present runs of the VMA */
	size_t nr_live, cap_live;
	struct zr *dn;			/* ranges to discard */
	size_t nr_dn, cap_dn;
	uint64_t ps;
	int with_zero;			/* discard PE_ZERO runs too */
	int skip_file;			/* file-private: page-cache pages are not COWed copies */
};

static int zr_push(struct zr **v, size_t *nr, size_t *cap, uint64_t s, uint64_t e)
{
	if (*nr && (*v)[*nr - 1].end == s) {
		(*v)[*nr - 1].end = e;
		return 0;
	}
	if (array_grow(v, cap, *nr, sizeof(**v), 64))
		return -ENOMEM;
	(*v)[(*nr)++] = (struct zr){ s, e };
	return 0;
}

static int live_cb(void *arg, const struct pscan_run *r)
{
	struct zplan *z = arg;

	if (r->flags & (PSCAN_GUARD | PSCAN_PFNZERO))
		return 0;	/* guards are handled with the layout; zero pages read as zero */
	if (!(r->flags & (PSCAN_PRESENT | PSCAN_SWAPPED)))
		return 0;
	if (z->skip_file && (r->flags & PSCAN_FILE))
		return 0;
	return zr_push(&z->live, &z->nr_live, &z->cap_live, r->vaddr,
		       r->vaddr + r->nr_pages * z->ps);
}

/*
 * Adds to z->dn the parts of [s, e) (live present) that the image does not
 * store (absent or PE_ZERO), and counts them.
 */
static int plan_discard(struct restore_ctx *c, struct zplan *z, uint64_t s, uint64_t e)
{
	const struct img_mem *m = c->mem;
	size_t i = img_mem_run_index(m, s), ps = c->page_size;
	int ret;

	while (s < e) {
		const struct img_run *r = i < m->nr_runs ? &m->runs[i] : NULL;
		uint64_t rs = r ? r->vaddr : e, re = r ? r->vaddr + r->nr_pages * ps : e;
		uint64_t hole_end = MIN(e, MAX(s, rs));

		if (hole_end > s) {	/* absent from the image */
			ret = zr_push(&z->dn, &z->nr_dn, &z->cap_dn, s, hole_end);
			if (ret)
				return ret;
			c->st.pages_zeroed += (hole_end - s) / ps;
			s = hole_end;
			continue;
		}
		if (!r)
			break;
		if ((r->flags & PE_ZERO) && z->with_zero) {
			uint64_t ze = MIN(e, re);

			ret = zr_push(&z->dn, &z->nr_dn, &z->cap_dn, s, ze);
			if (ret)
				return ret;
			c->st.pages_zeroed += (ze - s) / ps;
		}
		s = MIN(e, re);
		i++;
	}
	return 0;
}

/* Merges discard ranges separated by small gaps (fewer injected calls). */
static void merge_discards(struct zplan *z, size_t ps)
{
	size_t i, o = 0;

	for (i = 0; i < z->nr_dn; i++) {
		if (o && z->dn[i].start - z->dn[o - 1].end <= DN_MERGE_PAGES * ps)
			z->dn[o - 1].end = z->dn[i].end;
		else
			z->dn[o++] = z->dn[i];
	}
	z->nr_dn = o;
}

static int discard(struct pw *w, const VmaEntry *v, const struct zr *r, int advice)
{
	struct restore_ctx *c = w->c;
	long ret;

	ret = restore_inject(c, SYS_madvise, r->start, r->end - r->start, advice, 0, 0, 0);
	c->st.dontneed_calls++;
	if (ret == -EACCES || ret == -EINVAL || ret == -EOPNOTSUPP) {
		if (advice == MADV_REMOVE && !c->inject_broken)
			return write_zeros(w, v, r->start, r->end - r->start);
	}
	if (ret < 0) {
		c->first_fail_addr = r->start;
		return cm_err((int)ret, "injected madvise(%#" PRIx64 ", %#" PRIx64 ", %d) in pid %d "
			      "failed", r->start, r->end - r->start, advice, (int)c->pid);
	}
	return 0;
}

/* PE_ZERO runs that must be written as zeros (file mappings: discarding shows the file). */
static int zero_runs(struct pw *w, const VmaEntry *v)
{
	const struct img_mem *m = w->c->mem;
	size_t i, ps = m->page_size;
	int ret;

	for (i = img_mem_run_index(m, v->start); i < m->nr_runs && m->runs[i].vaddr < v->end; i++) {
		const struct img_run *r = &m->runs[i];
		uint64_t s = MAX(r->vaddr, v->start), e = MIN(r->vaddr + r->nr_pages * ps, v->end);

		if (!(r->flags & PE_ZERO))
			continue;
		ret = write_zeros(w, v, s, e - s);
		if (ret)
			return ret;
		w->c->st.pages_zeroed += (e - s) / ps;
	}
	return 0;
}

static int zero_vma(struct pw *w, struct pscan *ps, const VmaEntry *v, struct zplan *z)
{
	struct restore_ctx *c = w->c;
	int file = v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED;
	int shared = v->kind == VMA_KIND__VMA_ANON_SHARED || v->kind == VMA_KIND__VMA_SHMEM;
	size_t i;
	int ret;

	z->nr_live = z->nr_dn = 0;
	z->ps = c->page_size;
	z->with_zero = !file;
	z->skip_file = v->kind == VMA_KIND__VMA_FILE_PRIVATE;
	if (file) {
		ret = zero_runs(w, v);
		if (ret)
			return ret;
		if (v->kind == VMA_KIND__VMA_FILE_SHARED)
			return pw_flush(w);	/* absent shared file pages are the file's */
	}
	if (ps->fd >= 0) {
		ret = pscan_range(ps, v->start, v->end, live_cb, z);
		if (ret)
			return cm_err(ret, "cannot scan pid %d at %#" PRIx64, (int)c->pid, v->start);
	} else {
		ret = zr_push(&z->live, &z->nr_live, &z->cap_live, v->start, v->end);
		if (ret)
			return ret;
	}
	for (i = 0; i < z->nr_live; i++) {
		ret = plan_discard(c, z, MAX(z->live[i].start, v->start),
				   MIN(z->live[i].end, v->end));
		if (ret)
			return ret;
	}
	/* File-private: PE_ZERO pages were written as zeros; don't merge over them. */
	if (!file)
		merge_discards(z, c->page_size);
	for (i = 0; i < z->nr_dn; i++) {
		ret = discard(w, v, &z->dn[i], shared ? MADV_REMOVE : MADV_DONTNEED);
		if (ret)
			return ret;
	}
	return pw_flush(w);
}

/* Pass 1: discard what must read as zero, before any stored page is written. */
static int zero_pass(struct pw *w)
{
	struct restore_ctx *c = w->c;
	struct zplan z = { 0 };
	struct pscan ps;
	size_t i;
	int ret;

	ret = pscan_open(&ps, c->pid, PSCAN_AUTO);
	if (ret) {
		pr_warn("cannot scan pid %d's pages (%s): discarding every hole", (int)c->pid,
			strerror(-ret));
		ps.fd = -1;
	}
	for (i = 0; i < c->mem->nr_vmas; i++) {
		const VmaEntry *v = c->mem->vmas[i];

		if (is_special(v))
			continue;
		if (v->has_thp && v->thp && v->has_vm_flags && (v->vm_flags & (1ull << VMF_HG)))
			restore_inject(c, SYS_madvise, v->start, v->end - v->start, MADV_HUGEPAGE,
				       0, 0, 0);
		ret = zero_vma(w, &ps, v, &z);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	if (ps.fd >= 0)
		pscan_close(&ps);
	free(z.live);
	free(z.dn);
	return ret;
}

/* ---- pass 2: stored pages, in frame order ---- */

static int frame_cb(void *arg, const struct img_frame *f, const void *data,
		    const struct img_run *const *runs, size_t nr_runs)
{
	struct pw *w = arg;
	struct restore_ctx *c = w->c;
	size_t i, ps = c->page_size;
	uint64_t pages = 0;
	int ret;

	if (c->fz && freeze_interrupted(c->fz))
		return cm_err(-EINTR, "interrupted");
	for (i = 0; i < nr_runs; i++) {
		const struct img_run *r = runs[i];
		uint64_t len;

		if (!(r->flags & PE_PRESENT))
			continue;
		if (mul_overflow(r->nr_pages, (uint64_t)ps, &len) ||
		    (r->offset + r->nr_pages) * ps > f->raw_len)
			return cm_err(-EBADMSG, "run at %#" PRIx64 " overflows frame %" PRIu64,
				      r->vaddr, f->id);
		ret = write_range(w, (const uint8_t *)data + r->offset * ps, r->vaddr, len);
		if (ret)
			return ret;
		pages += r->nr_pages;
	}
	/* data is only valid during the callback */
	ret = pw_flush(w);
	if (ret)
		return ret;
	c->st.pages_written += pages;
	c->st.bytes_written += pages * ps;
	c->st.frames++;
	w->done += f->raw_len;
	progress_update(&w->bar, w->done);
	return 0;
}

int restore_pages(struct restore_ctx *c)
{
	uint64_t t0 = now_ns(), total = 0;
	struct pw *w;
	long ncpu;
	size_t i;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return cm_err(-ENOMEM, "cannot allocate the write batch");
	w->c = c;
	/*
	 * The helper only pays with a spare CPU: on 2 CPUs with 2 decompression
	 * threads it made the in-place pages pass ~10% slower (4 GiB bench).
	 */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	w->helper_ok = c->threads > 1 && ncpu > 0 && (long)c->threads + 2 <= ncpu;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->zero = calloc(1, ZERO_BUF);
	if (!w->zero) {
		ret = cm_err(-ENOMEM, "cannot allocate the zero buffer");
		goto out;
	}
	c->started |= RST_PAGES;
	ret = zero_pass(w);
	if (ret)
		goto out;
	for (i = 0; i < c->mem->nr_frames; i++)
		total += c->mem->frames[i].raw_len;
	progress_init(&w->bar, "restore", total, c->opts->json || c->opts->no_progress);
	c->st.frames = 0;
	ret = img_mem_foreach_frame(c->mem, c->threads, frame_cb, w);
	progress_done(&w->bar);
	if (ret == -EBADMSG && !c->first_fail_addr)
		pr_err("the image became unreadable during the restore (%s)", img_strerror());
	if (ret)
		goto out;
	c->done |= RST_PAGES;
	ret = 0;
out:
	c->st.t_pages_ns = now_ns() - t0;
	helper_stop(w);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->zero);
	free(w);
	return ret;
}

int restore_memory(struct restore_ctx *c)
{
	uint64_t t0 = now_ns();
	int ret;

	ret = restore_layout(c);
	c->st.t_layout_ns = now_ns() - t0;
	/* Pages are written without injecting: arm the guard (if any) first. */
	restore_guard_arm(c);
	if (!ret)
		ret = restore_pages(c);
	t0 = now_ns();
	if (!ret)
		ret = restore_madvise(c);
	c->st.t_madvise_ns = now_ns() - t0;
	return ret;
}
