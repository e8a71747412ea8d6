// SPDX-License-Identifier: MIT
/*
 * restore_madvise.c: the madvise state of the target's VMAs: VmFlags set
 * or cleared from vmflag_table (with the layout, before pages are written),
 * live guard regions removed and the image's installed, THP collapse.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kapi.h"
#include "log.h"
#include "pagescan.h"
#include "restore.h"
#include "restore_layout.h"
#include "util.h"
#include "vma.h"

static int guard_cb(void *arg, const struct pscan_run *r)
{
	struct ranges *g = arg;

	if (!(r->flags & PSCAN_GUARD))
		return 0;
	return rl_ranges_add(g, r->vaddr, r->vaddr + r->nr_pages * page_size(), NULL);
}

/* Removes every live guard region (the image's are installed by restore_madvise()). */
int rl_guard_remove(struct restore_ctx *c, const struct vma_list *l)
{
	struct ranges g = { 0 };
	struct pscan ps;
	size_t k;
	long ret = 0;

	for (k = 0; k < l->nr; k++)
		if (!rl_kind_special(l->v[k].kind) && (l->v[k].vm_flags & VMF(VMF_GU)))
			break;
	if (k == l->nr)
		return 0;
	ret = pscan_open(&ps, c->pid, PSCAN_AUTO);
	if (ret)
		return cm_err((int)ret, "cannot scan pid %d for guard regions", (int)c->pid);
	for (; k < l->nr && !ret; k++)
		if (!rl_kind_special(l->v[k].kind) && (l->v[k].vm_flags & VMF(VMF_GU)))
			ret = pscan_range(&ps, l->v[k].start, l->v[k].end, guard_cb, &g);
	pscan_close(&ps);
	for (k = 0; k < g.nr && ret >= 0; k++) {
		ret = inj(c, SYS_madvise, g.r[k].start, g.r[k].end - g.r[k].start,
			  MADV_GUARD_REMOVE, 0, 0, 0);
		if (ret < 0)
			cm_err((int)ret, "injected MADV_GUARD_REMOVE at %#" PRIx64 " in pid %d failed",
			       g.r[k].start, (int)c->pid);
		c->st.guards_removed++;
	}
	free(g.r);
	return ret < 0 ? (int)ret : 0;
}

/* The advice that clears a flag the image doesn't have; 0 when none exists. */
static int advice_inverse(int madv)
{
	switch (madv) {
	case MADV_SEQUENTIAL:
	case MADV_RANDOM: return MADV_NORMAL;
	case MADV_DONTFORK: return MADV_DOFORK;
	case MADV_DONTDUMP: return MADV_DODUMP;
	case MADV_WIPEONFORK: return MADV_KEEPONFORK;
	case MADV_MERGEABLE: return MADV_UNMERGEABLE;
	default: return 0;	/* HUGEPAGE/NOHUGEPAGE: no way back to "neither" */
	}
}

static int advise(struct restore_ctx *c, uint64_t s, uint64_t e, int advice, const char *what)
{
	long ret;

	pr_debug("pid %d: madvise %#" PRIx64 "-%#" PRIx64 " %d (%s)", (int)c->pid, s, e, advice, what);
	ret = inj(c, SYS_madvise, s, e - s, advice, 0, 0, 0);
	c->st.madvise_calls++;
	if (ret < 0)
		return cm_err((int)ret, "injected madvise(%#" PRIx64 "-%#" PRIx64 ", %d) for '%s' "
			      "in pid %d failed", s, e, advice, what, (int)c->pid);
	return 0;
}

static int madvise_range(struct restore_ctx *c, const VmaEntry *i, const struct vma *lv)
{
	uint64_t s = MAX(i->start, lv->start), e = MIN(i->end, lv->end);
	uint64_t diff = i->vm_flags ^ lv->vm_flags;
	size_t t;
	int ret, advice;

	for (t = 0; t < vmflag_table_len; t++) {
		const struct vmflag_desc *d = &vmflag_table[t];
		uint64_t bit = VMF(d->bit);

		if (!d->madv || !(diff & bit))
			continue;
		advice = (i->vm_flags & bit) ? d->madv : advice_inverse(d->madv);
		if (!advice) {
			if (!(i->vm_flags & (VMF(VMF_HG) | VMF(VMF_NH))))
				pr_warn("pid %d %#" PRIx64 "-%#" PRIx64 ": cannot clear VmFlag '%.2s'",
					(int)c->pid, s, e, d->name);
			continue;
		}
		ret = advise(c, s, e, advice, d->what);
		if (ret)
			return ret;
	}
	return 0;
}

/* Makes the madvise-settable VmFlags of every live VMA equal to the image's. */
int rl_apply_flags(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	size_t j, k = 0, q;
	int ret = 0;

	for (j = 0; j < m->nr_vmas && !ret; j++) {
		const VmaEntry *i = m->vmas[j];

		if (rl_kind_special(i->kind) || i->kind == VMA_KIND__VMA_HUGETLB || !i->has_vm_flags)
			continue;
		while (k < l->nr && l->v[k].end <= i->start)
			k++;
		for (q = k; q < l->nr && l->v[q].start < i->end && !ret; q++)
			if (!rl_kind_special(l->v[q].kind))
				ret = madvise_range(c, i, &l->v[q]);
	}
	return ret;
}

static int install_guards(struct restore_ctx *c, const VmaEntry *i)
{
	size_t k, ps = c->page_size;
	int ret;

	for (k = 0; k < i->n_guards; k++) {
		const GuardRange *g = i->guards[k];
		uint64_t len;

		if (mul_overflow(g->nr_pages, (uint64_t)ps, &len) || g->start < i->start ||
		    g->start % ps || len > i->end - g->start)
			return cm_err(-EBADMSG, "guard region %#" PRIx64 " outside VMA %#" PRIx64
				      "-%#" PRIx64, g->start, i->start, i->end);
		ret = advise(c, g->start, g->start + len, MADV_GUARD_INSTALL, "guard");
		if (ret)
			return ret;
		c->st.guards_installed++;
	}
	return 0;
}

/*
 * VMAs that were THP-backed at dump time but have no huge page now are
 * collapsed (process_madvise MADV_COLLAPSE, from outside the target).
 * Failure only warns: the contents are right either way.
 */
static void collapse_thp(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	const uint64_t huge = 2ull << 20;
	size_t j;

	for (j = 0; j < m->nr_vmas && c->pidfd >= 0; j++) {
		const VmaEntry *i = m->vmas[j];
		uint64_t s = ALIGN_UP(i->start, huge), e = ALIGN_DOWN(i->end, huge);
		const struct vma *lv = rl_live_find(l, i->start);
		struct iovec iov;
		long ret;

		if (!i->has_thp || !i->thp || s >= e || !lv || lv->anon_huge_kb)
			continue;
		iov.iov_base = (void *)s;
		iov.iov_len = e - s;
		ret = syscall(__NR_process_madvise, c->pidfd, &iov, 1, MADV_COLLAPSE, 0);
		c->st.madvise_calls++;
		if (ret < 0)
			pr_warn("pid %d: MADV_COLLAPSE of %#" PRIx64 "-%#" PRIx64 " failed: %s",
				(int)c->pid, s, e, strerror(errno));
	}
}

/*
 * The flags were set with the layout; this pass catches what the page
 * writes changed (none expected) and installs the image's guard regions.
 */
int restore_madvise(struct restore_ctx *c)
{
	const struct img_mem *m = c->mem;
	struct vma_list l;
	size_t j;
	int ret;

	c->started |= RST_MADVISE;
	vma_list_init(&l);
	/* The flags were set with the layout: this read is for THP usage only. */
	for (j = 0; j < m->nr_vmas && !(m->vmas[j]->has_thp && m->vmas[j]->thp); j++)
		;
	ret = j < m->nr_vmas ? rl_read_live(c, &l) : 0;
	if (!ret && j < m->nr_vmas)
		ret = rl_apply_flags(c, &l);
	if (!ret && j < m->nr_vmas)
		collapse_thp(c, &l);
	for (j = 0; j < m->nr_vmas && !ret; j++)
		if (!rl_kind_special(m->vmas[j]->kind))
			ret = install_guards(c, m->vmas[j]);
	if (!ret)
		c->done |= RST_MADVISE;
	vma_list_release(&l);
	return ret;
}
