// SPDX-License-Identifier: MIT
/*
 * dump.c: orchestration of a memory dump. Owns the order of the steps, the
 * per-VMA scan policy (which pages are saved), the streaming of scan runs
 * into page store buffers, and the always-release exit path.
 */
#define LOG_PREFIX "dump: "

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "dump_parent.h"
#include "dump_task.h"
#include "freeze.h"
#include "guard.h"
#include "img.h"
#include "log.h"
#include "pagescan.h"
#include "progress.h"
#include "util.h"
#include "vma.h"
#include "xfer.h"

/* Pages staged for comparison with the parent image (2 MiB). */
#define PARENT_STAGE_PAGES 512

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* Guard ranges found by the scan, per VMA. */
struct dump_guards {
	GuardRange *g;
	size_t nr, cap;
};

struct dump_ctx {
	const struct dump_opts *o;
	struct dump_result *res;
	size_t ps;
	struct freeze fz;
	struct guard guard;		/* undoes our changes if we are killed */
	struct vma_list vmas;
	struct dump_guards *guards;	/* one per VMA */
	struct pscan scan;
	int scan_open;
	struct xfer x;
	struct img_dir *dir;
	struct pstore_writer *pw;
	struct pstore_buf *buf;		/* being filled */
	struct xfer_run *pending;	/* runs planned for buf */
	size_t nr_pending, pending_pages, cap_pending;
	MmEntry mm;			/* head of mm-PID.img */
	const struct vma *cur;		/* VMA being scanned */
	size_t cur_idx;
	sigset_t saved_mask;
	struct progress prog;
	uint64_t pages_done;
	uint64_t t0;			/* dump start, for the -v phase log */
	struct dump_parent parent;	/* --prev-images-dir */
	int has_parent;
};

/* -v: when each step ended, to see where the time goes. */
static void phase(const struct dump_ctx *c, const char *what)
{
	pr_info("pid %d: %-16s +%.1f ms", (int)c->o->pid, what, (now_ns() - c->t0) / 1e6);
}

static int dump_interrupted(struct dump_ctx *c)
{
	sigset_t set;

	if (freeze_interrupted(&c->fz))
		return 1;
	if (sigpending(&set))
		return 0;
	return sigismember(&set, SIGINT) || sigismember(&set, SIGTERM) ||
	       sigismember(&set, SIGHUP);
}

static int check_interrupted(struct dump_ctx *c)
{
	if (!dump_interrupted(c))
		return 0;
	pr_err("pid %d: interrupted, aborting the dump", (int)c->o->pid);
	return -EINTR;
}

/* Blocks SIGINT/SIGTERM/SIGHUP for the whole dump; they are polled. */
static void signals_block(struct dump_ctx *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &c->saved_mask);
}

/* Consumes pending termination signals so that the exit code tells. */
static void signals_restore(struct dump_ctx *c)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, &c->saved_mask, NULL);
}

/* ---- streaming runs into page store buffers ---- */

static int flush_pending(struct dump_ctx *c)
{
	int ret;

	if (c->nr_pending) {
		ret = xfer_copy(&c->x, c->buf, c->pending, c->nr_pending);
		if (ret)
			return ret;
		c->pages_done += c->pending_pages;
		progress_update(&c->prog, c->pages_done * c->ps);
	}
	c->nr_pending = 0;
	c->pending_pages = 0;
	if (c->has_parent && c->buf) {
		c->buf = NULL;
		ret = dump_parent_flush(&c->parent, c->pw);
		if (ret)
			return ret;
	} else if (c->buf && c->buf->nr_pages) {
		ret = pstore_writer_submit(c->pw, c->buf);
		c->buf = NULL;
		if (ret)
			return cm_err(ret, "cannot write pages of pid %d: %s", (int)c->o->pid,
				      img_strerror());
	}
	return check_interrupted(c);
}

static int get_buf(struct dump_ctx *c)
{
	int ret;

	if (c->buf)
		return 0;
	if (c->has_parent) {
		c->buf = &c->parent.stage;	/* compared with the parent on flush */
		ret = 0;
	} else {
		ret = pstore_writer_get(c->pw, &c->buf);
	}
	if (ret)
		return cm_err(ret, "page store: %s", img_strerror());
	if (c->cap_pending < c->buf->cap_pages) {
		struct xfer_run *p = realloc(c->pending, c->buf->cap_pages * sizeof(*p));

		if (!p)
			return cm_err(-ENOMEM, "cannot allocate the run list");
		c->pending = p;
		c->cap_pending = c->buf->cap_pages;
	}
	return 0;
}

static int add_pages(struct dump_ctx *c, uint64_t vaddr, uint64_t nr, uint32_t flags)
{
	int ret;

	while (nr) {
		uint64_t room, take;

		ret = get_buf(c);
		if (ret)
			return ret;
		room = c->buf->cap_pages - c->buf->nr_pages - c->pending_pages;
		take = MIN(nr, room);
		c->pending[c->nr_pending++] = (struct xfer_run){ vaddr, take, flags };
		c->pending_pages += take;
		vaddr += take * c->ps;
		nr -= take;
		if (take == room) {
			ret = flush_pending(c);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int add_guard(struct dump_ctx *c, const struct pscan_run *r)
{
	struct dump_guards *dg = &c->guards[c->cur_idx];

	if (dg->nr == dg->cap) {
		size_t cap = dg->cap ? dg->cap * 2 : 4;
		GuardRange *g = realloc(dg->g, cap * sizeof(*g));

		if (!g)
			return cm_err(-ENOMEM, "cannot record guard regions");
		dg->g = g;
		dg->cap = cap;
	}
	guard_range__init(&dg->g[dg->nr]);
	dg->g[dg->nr].start = r->vaddr;
	dg->g[dg->nr].nr_pages = r->nr_pages;
	dg->nr++;
	return 0;
}

static void prefetch_swapped(struct dump_ctx *c, const struct pscan_run *r)
{
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)r->vaddr,
		.iov_len = r->nr_pages * c->ps,
	};

	if (c->fz.pidfd >= 0 &&
	    syscall(SYS_process_madvise, c->fz.pidfd, &iov, 1, MADV_WILLNEED, 0) < 0)
		pr_debug("pid %d: process_madvise(WILLNEED) at %#lx: %s", (int)c->o->pid,
			 (unsigned long)r->vaddr, strerror(errno));
}

/* Scan policy: is this run saved? */
static int run_wanted(const struct vma *v, uint32_t fl)
{
	if (fl & (PSCAN_PFNZERO | PSCAN_GUARD))
		return 0;
	if (!(fl & (PSCAN_PRESENT | PSCAN_SWAPPED)))
		return 0;
	/* File-private: only the COWed anonymous pages. */
	if (v->kind == VMA_KIND__VMA_FILE_PRIVATE && (fl & PSCAN_FILE))
		return 0;
	return 1;
}

static int scan_cb(void *arg, const struct pscan_run *r)
{
	struct dump_ctx *c = arg;
	const struct vma *v = c->cur;
	uint32_t xfl = (v->prot & PROT_READ) ? 0 : XFER_RUN_MEM;

	c->res->pages_scanned += r->nr_pages;
	if (r->flags & PSCAN_GUARD)
		return add_guard(c, r);
	if (!run_wanted(v, r->flags)) {
		c->res->pages_skipped += r->nr_pages;
		return 0;
	}
	if (r->flags & PSCAN_SWAPPED)
		prefetch_swapped(c, r);
	return add_pages(c, r->vaddr, r->nr_pages, xfl);
}

/* VMAs whose pages are dumped: not [vdso]/[vvar]/[vsyscall], not VM_IO/PFNMAP. */
static int vma_has_data(const struct vma *v)
{
	switch (v->kind) {
	case VMA_KIND__VMA_VDSO:
	case VMA_KIND__VMA_VVAR:
	case VMA_KIND__VMA_VSYSCALL:
	case VMA_KIND__VMA_UNSUPPORTED:
		return 0;
	default:
		return 1;
	}
}

/* Refuses VM_IO/PFNMAP VMAs before any page is read (or warns with --skip-unsupported-vmas). */
static int check_vmas(struct dump_ctx *c)
{
	size_t i;

	for (i = 0; i < c->vmas.nr; i++) {
		const struct vma *v = &c->vmas.v[i];

		if (v->kind != VMA_KIND__VMA_UNSUPPORTED)
			continue;
		if (!c->o->skip_unsupported_vmas)
			return cm_err(-ENOTSUP, "pid %d: VMA %#lx-%#lx '%s' is a VM_IO/PFNMAP "
				      "mapping, which cannot be dumped (--skip-unsupported-vmas "
				      "records it without data)", (int)c->o->pid,
				      (unsigned long)v->start, (unsigned long)v->end,
				      v->path ? v->path : "");
		pr_warn("pid %d: VMA %#lx-%#lx '%s' is VM_IO/PFNMAP: recorded, not dumped",
			(int)c->o->pid, (unsigned long)v->start, (unsigned long)v->end,
			v->path ? v->path : "");
	}
	return 0;
}

static int dump_pages(struct dump_ctx *c)
{
	uint64_t total = 0;
	size_t i;
	int ret;

	for (i = 0; i < c->vmas.nr; i++)
		total += c->vmas.v[i].rss_kb * 1024;
	progress_set_total(&c->prog, total);
	for (i = 0; i < c->vmas.nr; i++) {
		const struct vma *v = &c->vmas.v[i];

		if (!vma_has_data(v))
			continue;
		c->cur = v;
		c->cur_idx = i;
		ret = pscan_range(&c->scan, v->start, v->end, scan_cb, c);
		if (ret)
			return ret;
	}
	return flush_pending(c);
}

/* ---- image files ---- */

static int write_mm(struct dump_ctx *c)
{
	char name[64];
	struct img_writer *w = NULL;
	size_t i;
	int ret;

	img_kind_filename(IMG_MM, c->o->pid, name, sizeof(name));
	c->mm.nr_vmas = c->vmas.nr;
	ret = img_writer_open(c->dir, IMG_MM, name, &w);
	if (!ret)
		ret = img_writer_put(w, &c->mm.base);
	for (i = 0; !ret && i < c->vmas.nr; i++) {
		const struct vma *v = &c->vmas.v[i];
		GuardRange *gp[64], **g = gp;
		VmaEntry e;
		size_t k, n = c->guards[i].nr;

		vma_to_entry(v, &e);
		if (n > ARRAY_SIZE(gp) && !(g = calloc(n, sizeof(*g)))) {
			ret = -ENOMEM;
			break;
		}
		for (k = 0; k < n; k++)
			g[k] = &c->guards[i].g[k];
		e.n_guards = n;
		e.guards = g;
		ret = img_writer_put(w, &e.base);
		if (g != gp)
			free(g);
	}
	if (!ret) {
		ret = img_writer_close(w);
		w = NULL;
	}
	img_writer_free(w);
	if (ret)
		return cm_err(ret, "cannot write '%s': %s", name, img_strerror());
	return 0;
}

static void vdso_sizes(const struct vma_list *l, InventoryEntry *inv)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		if (l->v[i].kind == VMA_KIND__VMA_VDSO) {
			inv->has_vdso_size = 1;
			inv->vdso_size = l->v[i].end - l->v[i].start;
		} else if (l->v[i].kind == VMA_KIND__VMA_VVAR) {
			inv->has_vvar_size = 1;
			inv->vvar_size = l->v[i].end - l->v[i].start;
		}
	}
}

static int commit(struct dump_ctx *c, uint64_t ctime_ns)
{
	InventoryEntry inv;
	ProcessEntry proc, *procs[1] = { &proc };
	uint32_t *tids = NULL;
	uint8_t id[16];
	struct utsname u;
	size_t i;
	int ret;

	inventory_entry__init(&inv);
	process_entry__init(&proc);
	uname(&u);
	if (getrandom(id, sizeof(id), 0) != sizeof(id))
		return cm_err(-errno, "getrandom");
	inv.format_version = IMG_FORMAT_VERSION;
	inv.tool_version = CM_VERSION;
	inv.kernel_release = u.release;
	inv.arch = u.machine;
	inv.page_size = c->ps;
	inv.ctime_ns = ctime_ns;
	inv.root_pid = c->o->pid;
	inv.image_id.data = id;
	inv.image_id.len = sizeof(id);
	inv.has_compress_level = !c->o->no_compress;
	inv.compress_level = c->o->level;
	inv.xfer = (char *)c->x.ops->name;
	inv.has_frozen_ns = 1;
	inv.frozen_ns = c->res->frozen_ns ? c->res->frozen_ns : freeze_elapsed_ns(&c->fz);
	inv.has_leave_running = 1;
	inv.leave_running = c->o->leave_running;
	vdso_sizes(&c->vmas, &inv);
	if (c->has_parent) {
		inv.has_parent_id = 1;
		inv.parent_id.data = c->parent.image_id;
		inv.parent_id.len = c->parent.image_id_len;
		inv.parent_path = (char *)c->o->prev_dir;
	}
	tids = calloc(c->fz.nr_tids ? c->fz.nr_tids : 1, sizeof(*tids));
	if (!tids)
		return cm_err(-ENOMEM, "inventory");
	for (i = 0; i < c->fz.nr_tids; i++)
		tids[i] = c->fz.tids[i];
	proc.pid = c->o->pid;
	proc.n_tids = c->fz.nr_tids;
	proc.tids = tids;
	dump_task_proc_fill(c->o->pid, &proc);
	inv.n_procs = 1;
	inv.procs = procs;
	ret = img_dir_commit(c->dir, &inv);
	dump_task_proc_release(&proc);
	free(tids);
	if (ret)
		return cm_err(ret, "cannot commit '%s': %s", c->o->dir, img_strerror());
	return 0;
}

/* ---- the steps ---- */

static int open_pipeline(struct dump_ctx *c)
{
	const char *name = c->o->xfer ? c->o->xfer : xfer_default_name();
	const struct xfer_ops *ops = xfer_find(name);
	struct pstore_opts po = {
		.level = c->o->level,
		.no_compress = c->o->no_compress,
		.threads = c->o->threads,
	};
	struct xfer_target t = {
		.pid = c->o->pid,
		.tid = c->fz.nr_tids ? c->fz.tids[0] : c->o->pid,
		.pidfd = c->fz.pidfd,
		.page_size = c->ps,
		.guard = &c->guard,
	};
	int ret;

	if (!ops)
		return cm_err(-EINVAL, "unknown transfer backend '%s'", name);
	c->res->xfer = ops->name;
	ret = pscan_open(&c->scan, c->o->pid, PSCAN_AUTO);
	if (ret)
		return ret;
	c->scan_open = 1;
	ret = pstore_writer_open(c->dir, c->o->pid, &po, &c->pw);
	if (ret)
		return cm_err(ret, "cannot create the page store: %s", img_strerror());
	return xfer_open(&c->x, ops, &t);
}

/* Lets the target go (or kills it); records the frozen time once. */
static int let_go(struct dump_ctx *c, int kill_it)
{
	int ret;

	if (!c->fz.nr_tids && !c->fz.pid)
		return 0;
	ret = kill_it ? freeze_kill(&c->fz) : freeze_release(&c->fz);
	if (!c->res->frozen_ns)
		c->res->frozen_ns = freeze_elapsed_ns(&c->fz);
	c->res->killed = kill_it && !ret;
	return ret;
}

static void pageout(struct dump_ctx *c)
{
	int pidfd = syscall(SYS_pidfd_open, c->o->pid, 0);
	size_t i;

	if (pidfd < 0) {
		pr_warn("pid %d: --pageout: pidfd_open: %s", (int)c->o->pid, strerror(errno));
		return;
	}
	for (i = 0; i < c->vmas.nr; i++) {
		const struct vma *v = &c->vmas.v[i];
		struct iovec iov = { (void *)(uintptr_t)v->start, v->end - v->start };

		if (!vma_has_data(v))
			continue;
		if (syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_PAGEOUT, 0) < 0)
			pr_debug("pid %d: MADV_PAGEOUT at %#lx: %s", (int)c->o->pid,
				 (unsigned long)v->start, strerror(errno));
	}
	close(pidfd);
}

static int finish(struct dump_ctx *c, uint64_t ctime_ns)
{
	struct pstore_stats st = { 0 };
	int ret;

	phase(c, "pages copied");
	ret = xfer_close(&c->x);
	if (ret)
		return ret;
	c->res->pages_mem = c->x.st.pages_mem;
	/* Every page is copied: a target that stays alive may run again now. */
	if (c->o->leave_running) {
		ret = let_go(c, 0);
		if (ret)
			return ret;
		phase(c, "target released");
	}
	ret = pstore_writer_close(c->pw, &st);
	c->pw = NULL;
	if (ret)
		return cm_err(ret, "cannot write pages of pid %d: %s", (int)c->o->pid,
			      img_strerror());
	c->res->pages_stored = st.pages_stored;
	c->res->pages_zero = st.pages_zero;
	c->res->pages_parent = st.pages_parent;
	c->res->bytes_raw = (st.pages_stored + st.pages_zero + st.pages_parent) * c->ps;
	c->res->bytes_stored = st.bytes_stored;
	c->res->frames = st.frames;
	phase(c, "pages written");
	ret = check_interrupted(c);
	if (!ret)
		ret = write_mm(c);
	if (!ret)
		ret = commit(c, ctime_ns);
	if (!ret)
		phase(c, "committed");
	return ret;
}

static int dump_steps(struct dump_ctx *c, uint64_t ctime_ns)
{
	struct freeze_opts fo = { .cgroup = c->o->freeze_cgroup, .guard = &c->guard };
	int ret;

	ret = guard_start(&c->guard, c->o->pid);
	if (ret)
		return ret;
	ret = freeze_seize(&c->fz, c->o->pid, &fo);
	if (ret)
		return ret;
	phase(c, "frozen");
	ret = freeze_thaw_cgroup(&c->fz);
	if (!ret)
		ret = check_interrupted(c);
	if (!ret)
		ret = vma_list_read(&c->vmas, c->o->pid);
	if (ret)
		return ret;
	ret = check_vmas(c);
	if (ret)
		return ret;
	phase(c, "vmas read");
	ret = dump_task_capture(c->dir, &c->fz, &c->vmas, c->o->skip_unsupported_fds, &c->mm);
	if (ret)
		return ret;
	phase(c, "core and files");
	c->res->nr_vmas = c->vmas.nr;
	c->res->nr_threads = c->fz.nr_tids;
	c->guards = calloc(c->vmas.nr + 1, sizeof(*c->guards));
	if (!c->guards)
		return cm_err(-ENOMEM, "cannot allocate the VMA table");
	ret = open_pipeline(c);
	if (!ret)
		ret = dump_pages(c);
	if (!ret)
		ret = finish(c, ctime_ns);
	return ret;
}

static void ctx_release(struct dump_ctx *c)
{
	size_t i;

	xfer_close(&c->x);
	if (c->pw)
		pstore_writer_free(c->pw);
	if (c->scan_open)
		pscan_close(&c->scan);
	for (i = 0; c->guards && i < c->vmas.nr; i++)
		free(c->guards[i].g);
	free(c->guards);
	free(c->pending);
	mm_entry_release(&c->mm);
	if (c->has_parent)
		dump_parent_close(&c->parent);
	vma_list_release(&c->vmas);
	img_dir_free(c->dir);
}

int dump_run(const struct dump_opts *o, struct dump_result *res)
{
	struct dump_ctx c = { .o = o, .res = res, .ps = page_size() };
	struct timespec rt;
	uint64_t t0 = now_ns();
	int ret, rel;

	c.t0 = t0;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_REALTIME, &rt);
	freeze_init(&c.fz);
	guard_init(&c.guard);
	mm_entry__init(&c.mm);
	vma_list_init(&c.vmas);
	progress_init(&c.prog, "dump", 0, !o->progress);
	signals_block(&c);
	if (o->prev_dir) {
		ret = dump_parent_open(&c.parent, o->dir, o->prev_dir, o->pid, PARENT_STAGE_PAGES);
		if (ret)
			goto out;
		c.has_parent = 1;
	}
	ret = img_dir_create(o->dir, o->no_fsync ? IMG_DIR_NOFSYNC : 0, &c.dir);
	if (ret) {
		ret = cm_err(ret, "cannot create image directory '%s'%s", o->dir,
			     ret == -EEXIST ? " (it exists and is not empty)" : "");
		goto out;
	}
	ret = dump_steps(&c, (uint64_t)rt.tv_sec * 1000000000ull + rt.tv_nsec);
	if (!ret && !o->leave_running)
		ret = let_go(&c, 1);
	if (!ret && o->pageout && o->leave_running)
		pageout(&c);
out:
	progress_done(&c.prog);
	xfer_close(&c.x);
	rel = let_go(&c, 0);
	if (!ret)
		ret = rel;
	/* Everything is undone (or the target is gone): the guard may go. */
	guard_finish(&c.guard);
	ctx_release(&c);
	signals_restore(&c);
	res->wall_ns = now_ns() - t0;
	return ret;
}
