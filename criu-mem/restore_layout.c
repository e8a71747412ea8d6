// SPDX-License-Identifier: MIT
/*
 * restore_layout.c: makes the target's VMAs equal to the image's: the plan
 * (image vs live diff), the checks made before the first change, then
 * injected brk, munmap and mprotect; recreating VMAs is restore_vmas.c,
 * VmFlags and guard regions restore_madvise.c.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "inject.h"
#include "kapi.h"
#include "log.h"
#include "pagescan.h"
#include "restore.h"
#include "restore_layout.h"
#include "util.h"
#include "vma.h"

int rl_kind_special(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR ||
	       k == VMA_KIND__VMA_VSYSCALL || k == VMA_KIND__VMA_UNSUPPORTED;
}

int rl_kind_anon_private(VmaKind k)
{
	return k == VMA_KIND__VMA_ANON_PRIVATE || k == VMA_KIND__VMA_HEAP ||
	       k == VMA_KIND__VMA_STACK;
}

/* Same backing object at the same offsets: the live range can stay. */
static int compatible(const struct vma *l, const VmaEntry *i)
{
	if ((l->flags & MAP_SHARED) != (i->flags & MAP_SHARED))
		return 0;
	if ((l->flags & MAP_GROWSDOWN) != (i->flags & MAP_GROWSDOWN))
		return 0;
	/* "gu" (guards may be present) is sticky: only a new private VMA loses it. */
	if (!(i->flags & MAP_SHARED) && i->has_vm_flags && (l->vm_flags & VMF(VMF_GU)) &&
	    !(i->vm_flags & VMF(VMF_GU)))
		return 0;
	if (rl_kind_anon_private(i->kind))
		return rl_kind_anon_private(l->kind);
	if (l->kind != i->kind || l->dev != i->dev || l->ino != i->ino)
		return 0;
	if (l->pgoff - l->start != i->pgoff - i->start)
		return 0;
	if (i->kind != VMA_KIND__VMA_ANON_SHARED && (!l->path != !i->path ||
						     (l->path && strcmp(l->path, i->path))))
		return 0;	/* same inode under another name: not what was mapped */
	if ((i->flags & MAP_SHARED) && i->has_vm_flags &&
	    (l->vm_flags & VMF(VMF_MW)) != (i->vm_flags & VMF(VMF_MW)))
		return 0;
	return 1;
}

int rl_ranges_add(struct ranges *rs, uint64_t s, uint64_t e, const VmaEntry *v)
{
	if (s >= e)
		return 0;
	if (rs->nr && rs->r[rs->nr - 1].end == s && rs->r[rs->nr - 1].v == v) {
		rs->r[rs->nr - 1].end = e;
		return 0;
	}
	if (array_grow(&rs->r, &rs->cap, rs->nr, sizeof(*rs->r), 64))
		return cm_err(-ENOMEM, "cannot allocate the layout plan");
	rs->r[rs->nr++] = (struct range){ s, e, v };
	return 0;
}

static size_t live_first(const struct vma_list *l, uint64_t addr);

/*
 * Live ranges the image doesn't have, or has with another backing (unmap),
 * and image ranges no compatible live VMA covers (map).
 */
static int plan_diff(const struct img_mem *m, const struct vma_list *l, struct ranges *unmap,
		     struct ranges *map)
{
	size_t k, j;
	int ret;

	for (k = 0; k < l->nr; k++) {
		const struct vma *lv = &l->v[k];
		uint64_t cur = lv->start;

		if (rl_kind_special(lv->kind))
			continue;
		for (j = img_mem_vma_index(m, lv->start); j < m->nr_vmas && m->vmas[j]->start < lv->end; j++) {
			const VmaEntry *i = m->vmas[j];
			uint64_t s = MAX(i->start, cur), e = MIN(i->end, lv->end);

			ret = rl_ranges_add(unmap, cur, MIN(i->start, lv->end), NULL);
			if (!ret && !compatible(lv, i))
				ret = rl_ranges_add(unmap, s, e, NULL);
			if (ret)
				return ret;
			cur = e;
		}
		ret = rl_ranges_add(unmap, cur, lv->end, NULL);
		if (ret)
			return ret;
	}
	for (j = 0; map && j < m->nr_vmas; j++) {
		const VmaEntry *i = m->vmas[j];
		uint64_t cur = i->start;

		if (rl_kind_special(i->kind))
			continue;
		for (k = live_first(l, i->start); k < l->nr && l->v[k].start < i->end; k++) {
			const struct vma *lv = &l->v[k];

			if (lv->end <= cur || !compatible(lv, i))
				continue;
			ret = rl_ranges_add(map, cur, MAX(cur, lv->start), i);
			if (ret)
				return ret;
			cur = MAX(cur, lv->end);
		}
		ret = rl_ranges_add(map, cur, i->end, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* Index of the first live VMA ending after addr (the list is sorted). */
static size_t live_first(const struct vma_list *l, uint64_t addr)
{
	size_t lo = 0, hi = l->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct vma *rl_live_find(const struct vma_list *l, uint64_t addr)
{
	size_t k = live_first(l, addr);

	return k < l->nr && l->v[k].start <= addr ? &l->v[k] : NULL;
}

/* The [vdso]/[vvar] blocks can't move: the image's must be where the live ones are. */
static int check_specials(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	uint64_t ip = c->inj ? c->inj->syscall_ip : 0;
	const struct vma *lv;
	const VmaEntry *i;
	size_t j;

	for (j = 0; j < m->nr_vmas; j++) {
		i = m->vmas[j];
		if (i->kind != VMA_KIND__VMA_VDSO && i->kind != VMA_KIND__VMA_VVAR)
			continue;
		lv = rl_live_find(l, i->start);
		if (!lv || lv->start != i->start || lv->end != i->end || !rl_kind_special(lv->kind))
			return cm_err(-EPROTONOSUPPORT, "image %s at %#" PRIx64 "-%#" PRIx64 " is not "
				      "where pid %d has it: in-place restore needs the same vdso layout",
				      i->path ? i->path : "[vdso]", i->start, i->end, (int)c->pid);
	}
	if (!ip)
		return 0;
	lv = rl_live_find(l, ip);
	i = img_mem_find_vma(m, ip);
	if (lv && rl_kind_special(lv->kind))
		return 0;
	if (!lv || !i || !compatible(lv, i) || !(i->prot & PROT_EXEC))
		return cm_err(-EOPNOTSUPP, "the syscall instruction used for injection at %#" PRIx64
			      " of pid %d is not in an executable VMA of the image", ip, (int)c->pid);
	return 0;
}

/* Can every image range we must recreate be recreated? */
static int check_recreatable(struct restore_ctx *c, const struct ranges *map)
{
	size_t k;

	for (k = 0; k < map->nr; k++) {
		const VmaEntry *i = map->r[k].v;
		struct stat st;

		switch (i->kind) {
		case VMA_KIND__VMA_ANON_PRIVATE:
		case VMA_KIND__VMA_HEAP:
		case VMA_KIND__VMA_STACK:
		case VMA_KIND__VMA_ANON_SHARED:
			continue;
		case VMA_KIND__VMA_SHMEM:
			if (i->path && !strncmp(i->path, "/memfd:", 7))
				continue;
			break;
		case VMA_KIND__VMA_FILE_PRIVATE:
		case VMA_KIND__VMA_FILE_SHARED:
			break;
		default:
			return cm_err(-EOPNOTSUPP, "cannot recreate VMA %#" PRIx64 "-%#" PRIx64
				      " (kind %d) in pid %d", i->start, i->end, i->kind, (int)c->pid);
		}
		if (!i->path || i->path[0] != '/' || strlen(i->path) >= SCRATCH_LEN - 1)
			return cm_err(-EOPNOTSUPP, "cannot reopen VMA %#" PRIx64 "-%#" PRIx64
				      ": no usable path", i->start, i->end);
		if (stat(i->path, &st))
			return cm_err(-errno, "cannot reopen '%s' for VMA %#" PRIx64 "-%#" PRIx64,
				      i->path, i->start, i->end);
		/* a FIFO or device would block or act inside the target */
		if (!S_ISREG(st.st_mode))
			return cm_err(-EOPNOTSUPP, "'%s' (VMA %#" PRIx64 "-%#" PRIx64 ") is not a "
				      "regular file", i->path, i->start, i->end);
		if (i->has_ino && st.st_ino != i->ino) {
			if (!c->opts->force)
				return cm_err(-ESTALE, "'%s' is not the file the image mapped at %#"
					      PRIx64 " (inode %" PRIu64 ", image %" PRIu64 "; --force "
					      "maps it anyway)", i->path, i->start,
					      (uint64_t)st.st_ino, i->ino);
			pr_warn("--force: mapping '%s' although its inode changed", i->path);
		}
	}
	return 0;
}

static int do_unmaps(struct restore_ctx *c, const struct ranges *un)
{
	size_t k;
	long ret;

	for (k = 0; k < un->nr; k++) {
		pr_debug("pid %d: munmap %#" PRIx64 "-%#" PRIx64, (int)c->pid, un->r[k].start,
			 un->r[k].end);
		ret = inj(c, SYS_munmap, un->r[k].start, un->r[k].end - un->r[k].start, 0, 0, 0, 0);
		if (ret < 0)
			return cm_err((int)ret, "injected munmap(%#" PRIx64 "-%#" PRIx64 ") in pid %d "
				      "failed", un->r[k].start, un->r[k].end, (int)c->pid);
		c->st.vmas_unmapped++;
	}
	return 0;
}

/*
 * Sets brk; before the unmaps (a shrink needs the heap still mapped) and
 * after. Returns 1 when brk moved, 0 when not, or -errno.
 */
static int do_brk(struct restore_ctx *c, int last)
{
	const MmEntry *mm = c->mem->mm;
	long cur, ret;

	if (!mm->has_brk || !mm->brk)
		return 0;
	cur = inj(c, SYS_brk, 0, 0, 0, 0, 0, 0);
	if (cur < 0 || (uint64_t)cur == mm->brk)
		return cur < 0 ? (int)cur : 0;
	ret = inj(c, SYS_brk, mm->brk, 0, 0, 0, 0, 0);
	if (ret < 0)
		return (int)ret;
	if ((uint64_t)ret != mm->brk && last)
		pr_warn("pid %d: brk stays at %#lx, the image has %#" PRIx64, (int)c->pid, ret,
			mm->brk);
	return ret != cur;
}

/* mprotect where the live prot differs from the image's. */
static int do_prots(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	size_t k, j;
	long ret;

	for (k = 0; k < l->nr; k++) {
		const struct vma *lv = &l->v[k];

		if (rl_kind_special(lv->kind))
			continue;
		for (j = img_mem_vma_index(m, lv->start); j < m->nr_vmas && m->vmas[j]->start < lv->end; j++) {
			const VmaEntry *i = m->vmas[j];
			uint64_t s = MAX(i->start, lv->start), e = MIN(i->end, lv->end);

			if (i->prot == lv->prot || rl_kind_special(i->kind))
				continue;
			pr_debug("pid %d: mprotect %#" PRIx64 "-%#" PRIx64 " %#x", (int)c->pid, s, e,
				 i->prot);
			ret = inj(c, SYS_mprotect, s, e - s, i->prot, 0, 0, 0);
			if (ret < 0)
				return cm_err((int)ret, "injected mprotect(%#" PRIx64 "-%#" PRIx64
					      ", %#x) in pid %d failed", s, e, i->prot, (int)c->pid);
			c->st.vmas_mprotected++;
		}
	}
	return 0;
}

/*
 * An image VMA that is still covered by several live VMAs (kept pieces with
 * anon_vmas of their own, or mappings of another open file, can't merge) is
 * made again in one piece when that loses nothing: private ones have their
 * pages rewritten and absent ones read as zero (anon) or as the file, and a
 * shared file mapping's contents are the file's. Shared anonymous and shmem
 * objects can't be made again.
 */
static int fix_splits(struct restore_ctx *c, struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	uint64_t ip = c->inj ? c->inj->syscall_ip : 0;
	struct ranges un = { 0 }, map = { 0 };
	size_t j, k;
	int ret = 0;

	for (j = 0; j < m->nr_vmas && !ret; j++) {
		const VmaEntry *i = m->vmas[j];

		if (rl_kind_special(i->kind) || i->kind == VMA_KIND__VMA_HUGETLB ||
		    ((i->flags & MAP_SHARED) && i->kind != VMA_KIND__VMA_FILE_SHARED) ||
		    (ip >= i->start && ip < i->end))
			continue;
		k = live_first(l, i->start);
		if (k + 1 >= l->nr || l->v[k].end >= i->end)
			continue;	/* one live VMA covers it */
		pr_debug("pid %d: VMA %#" PRIx64 "-%#" PRIx64 " is split, making it again",
			 (int)c->pid, i->start, i->end);
		ret = rl_ranges_add(&un, i->start, i->end, NULL);
		if (!ret)
			ret = rl_ranges_add(&map, i->start, i->end, i);
	}
	if (!ret && un.nr) {
		ret = do_unmaps(c, &un);
		if (!ret)
			ret = rl_do_maps(c, l, &map);
		if (!ret)
			ret = rl_read_live(c, l);
		if (!ret)
			ret = rl_apply_flags(c, l);
	}
	free(un.r);
	free(map.r);
	return ret;
}

int rl_read_live(struct restore_ctx *c, struct vma_list *l)
{
	int ret;

	vma_list_release(l);
	vma_list_init(l);
	ret = vma_list_read(l, c->pid);
	if (ret)
		return cm_err(ret, "cannot read the VMAs of pid %d", (int)c->pid);
	return 0;
}

int restore_layout(struct restore_ctx *c)
{
	struct ranges un = { 0 }, map = { 0 };
	struct vma_list l;
	int ret, moved;

	vma_list_init(&l);
	ret = rl_read_live(c, &l);
	if (!ret)
		ret = plan_diff(c->mem, &l, &un, &map);
	if (!ret)
		ret = check_specials(c, &l);
	if (!ret)
		ret = check_recreatable(c, &map);
	if (ret)
		goto out;
	/* Point of no return: the target is modified from here on. */
	c->started |= RST_LAYOUT;
	ret = do_brk(c, 0);
	moved = ret > 0;
	if (ret >= 0)
		ret = do_unmaps(c, &un);
	if (!ret) {
		ret = do_brk(c, 1);
		moved |= ret > 0;
	}
	/* smaps walks every page table: read it again only when something moved */
	if (ret >= 0 && (moved || un.nr))
		ret = rl_read_live(c, &l);
	if (ret < 0)
		goto out;
	map.nr = 0;
	un.nr = 0;
	ret = plan_diff(c->mem, &l, &un, &map);
	if (!ret && un.nr)
		ret = cm_err(-EAGAIN, "pid %d still has %zu ranges the image doesn't after unmapping",
			     (int)c->pid, un.nr);
	/*
	 * Prot and flags of the kept VMAs first, so that a recreated VMA merges
	 * with its neighbours the way it did at dump time: once it has pages
	 * (an anon_vma of its own) it no longer can.
	 */
	if (!ret)
		ret = do_prots(c, &l);
	if (!ret)
		ret = rl_apply_flags(c, &l);
	if (!ret)
		ret = rl_guard_remove(c, &l);
	if (!ret)
		ret = rl_do_maps(c, &l, &map);
	if (!ret && map.nr) {
		ret = rl_read_live(c, &l);
		if (!ret)
			ret = rl_apply_flags(c, &l);
	}
	if (!ret)
		ret = fix_splits(c, &l);
	if (!ret)
		c->done |= RST_LAYOUT;
out:
	vma_list_release(&l);
	free(un.r);
	free(map.r);
	return ret;
}
