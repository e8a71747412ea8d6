// SPDX-License-Identifier: MIT
/*
 * restore_layout.c: makes the target's VMAs equal to the image's with
 * injected syscalls (munmap, brk, mmap MAP_FIXED_NOREPLACE, mprotect), and
 * afterwards its madvise state and guard regions (restore_madvise()).
 * Everything that could refuse is checked before the first change.
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
#include "util.h"
#include "vma.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif

#define SCRATCH_LEN	(16u << 10)
#define VMF(b)		(1ull << (b))

static int kind_special(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR ||
	       k == VMA_KIND__VMA_VSYSCALL || k == VMA_KIND__VMA_UNSUPPORTED;
}

static int kind_anon_private(VmaKind k)
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
	if (kind_anon_private(i->kind))
		return kind_anon_private(l->kind);
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

struct range {
	uint64_t start, end;
	const VmaEntry *v;
};

struct ranges {
	struct range *r;
	size_t nr, cap;
};

static int ranges_add(struct ranges *rs, uint64_t s, uint64_t e, const VmaEntry *v)
{
	if (s >= e)
		return 0;
	if (rs->nr && rs->r[rs->nr - 1].end == s && rs->r[rs->nr - 1].v == v) {
		rs->r[rs->nr - 1].end = e;
		return 0;
	}
	if (rs->nr == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 64;
		struct range *p = realloc(rs->r, nc * sizeof(*p));

		if (!p)
			return cm_err(-ENOMEM, "cannot allocate the layout plan");
		rs->r = p;
		rs->cap = nc;
	}
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

		if (kind_special(lv->kind))
			continue;
		for (j = img_mem_vma_index(m, lv->start); j < m->nr_vmas && m->vmas[j]->start < lv->end; j++) {
			const VmaEntry *i = m->vmas[j];
			uint64_t s = MAX(i->start, cur), e = MIN(i->end, lv->end);

			ret = ranges_add(unmap, cur, MIN(i->start, lv->end), NULL);
			if (!ret && !compatible(lv, i))
				ret = ranges_add(unmap, s, e, NULL);
			if (ret)
				return ret;
			cur = e;
		}
		ret = ranges_add(unmap, cur, lv->end, NULL);
		if (ret)
			return ret;
	}
	for (j = 0; map && j < m->nr_vmas; j++) {
		const VmaEntry *i = m->vmas[j];
		uint64_t cur = i->start;

		if (kind_special(i->kind))
			continue;
		for (k = live_first(l, i->start); k < l->nr && l->v[k].start < i->end; k++) {
			const struct vma *lv = &l->v[k];

			if (lv->end <= cur || !compatible(lv, i))
				continue;
			ret = ranges_add(map, cur, MAX(cur, lv->start), i);
			if (ret)
				return ret;
			cur = MAX(cur, lv->end);
		}
		ret = ranges_add(map, cur, i->end, i);
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

static const struct vma *live_find(const struct vma_list *l, uint64_t addr)
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
		lv = live_find(l, i->start);
		if (!lv || lv->start != i->start || lv->end != i->end || !kind_special(lv->kind))
			return cm_err(-EPROTONOSUPPORT, "image %s at %#" PRIx64 "-%#" PRIx64 " is not "
				      "where pid %d has it: in-place restore needs the same vdso layout",
				      i->path ? i->path : "[vdso]", i->start, i->end, (int)c->pid);
	}
	if (!ip)
		return 0;
	lv = live_find(l, ip);
	i = img_mem_find_vma(m, ip);
	if (lv && kind_special(lv->kind))
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

static long inj(struct restore_ctx *c, long nr, unsigned long a0, unsigned long a1,
		unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	return restore_inject(c, nr, a0, a1, a2, a3, a4, a5);
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

/* A free spot for the scratch page in both the image and the live layout. */
static uint64_t scratch_spot(const struct img_mem *m, const struct vma_list *l)
{
	uint64_t top = 0x7ff000000000ull, len = SCRATCH_LEN + 2 * 4096;
	uint64_t cand = top - len;

	for (;;) {
		const VmaEntry *i = img_mem_find_vma(m, cand);
		const VmaEntry *i2 = img_mem_find_vma(m, cand + len - 1);
		const struct vma *lv = live_find(l, cand), *lv2 = live_find(l, cand + len - 1);
		size_t j = img_mem_vma_index(m, cand), k;
		int clash = i || i2 || lv || lv2;

		if (!clash && j < m->nr_vmas && m->vmas[j]->start < cand + len)
			clash = 1;
		for (k = 0; !clash && k < l->nr; k++)
			if (l->v[k].start < cand + len && l->v[k].end > cand)
				clash = 1;
		if (!clash)
			return cand + 4096;
		if (cand < (1ull << 32))
			return 0;
		cand -= 1ull << 30;
	}
}

struct mapper {
	struct restore_ctx *c;
	uint64_t scratch;
	struct { uint64_t ino; long fd; uint64_t size; } memfd[16];
	size_t nr_memfd;
};

/* Opens the file of VMA i inside the target; returns the target's fd or -errno. */
static long target_open(struct mapper *mp, const VmaEntry *i, uint64_t need, int *keep)
{
	struct restore_ctx *c = mp->c;
	int memfd = i->kind == VMA_KIND__VMA_SHMEM;
	const char *name = memfd ? i->path + 7 : i->path;
	int rw = (i->flags & MAP_SHARED) && (i->vm_flags & VMF(VMF_MW));
	size_t k;
	long fd, ret;

	for (k = 0; memfd && k < mp->nr_memfd; k++)
		if (mp->memfd[k].ino == i->ino)
			break;
	if (memfd && k < mp->nr_memfd) {
		fd = mp->memfd[k].fd;
	} else {
		ret = inject_poke(c->pid, mp->scratch, name, strlen(name) + 1);
		if (ret)
			return cm_err((int)ret, "cannot write to the scratch page of pid %d", (int)c->pid);
		if (memfd)
			fd = inj(c, SYS_memfd_create, mp->scratch, MFD_CLOEXEC, 0, 0, 0, 0);
		else
			fd = inj(c, SYS_openat, AT_FDCWD, mp->scratch,
				 (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
				 0, 0, 0);
		if (fd < 0)
			return cm_err((int)fd, "pid %d cannot open '%s'", (int)c->pid, i->path);
		if (!memfd || mp->nr_memfd == ARRAY_SIZE(mp->memfd)) {
			ret = memfd ? inj(c, SYS_ftruncate, fd, need, 0, 0, 0, 0) : 0;
			return ret < 0 ? ret : fd;
		}
		k = mp->nr_memfd++;
		mp->memfd[k].ino = i->ino;
		mp->memfd[k].fd = fd;
		mp->memfd[k].size = 0;
	}
	*keep = 1;
	if (need > mp->memfd[k].size) {
		ret = inj(c, SYS_ftruncate, fd, need, 0, 0, 0, 0);
		if (ret < 0)
			return cm_err((int)ret, "pid %d: cannot size memfd '%s'", (int)c->pid, name);
		mp->memfd[k].size = need;
	}
	return fd;
}

static int alike(const VmaEntry *a, const VmaEntry *b)
{
	return a->prot == b->prot && a->flags == b->flags && kind_anon_private(a->kind) &&
	       kind_anon_private(b->kind) && a->vm_flags == b->vm_flags;
}

/*
 * The image has a VMA boundary at an end of r between two VMAs the kernel
 * would merge if it could: at dump time they had anon_vmas of their own.
 */
static int hard_boundary(const struct img_mem *m, const struct range *r)
{
	const VmaEntry *i = r->v;
	size_t j = img_mem_vma_index(m, i->start);

	if (j > 0 && r->start == i->start && m->vmas[j - 1]->end == i->start &&
	    alike(m->vmas[j - 1], i))
		return 1;
	return j + 1 < m->nr_vmas && r->end == i->end && m->vmas[j + 1]->start == i->end &&
	       alike(m->vmas[j + 1], i);
}

/*
 * Keeps a new anonymous VMA apart from an alike neighbour: mapped with
 * another prot (no merge at mmap time), given an anon_vma of its own by
 * writing its first page through /proc/PID/mem, then mprotect()ed to its
 * prot, where the two anon_vmas no longer merge. The page written is
 * rewritten or discarded by restore_pages().
 */
static int isolate(struct restore_ctx *c, const struct range *r)
{
	static const uint8_t zero;
	long ret;

	if (pwrite(c->mem_fd, &zero, 1, (off_t)r->start) != 1)
		return cm_err(-errno, "cannot touch %#" PRIx64 " in pid %d", r->start, (int)c->pid);
	ret = inj(c, SYS_mprotect, r->start, r->end - r->start, r->v->prot, 0, 0, 0);
	if (ret < 0)
		return cm_err((int)ret, "injected mprotect(%#" PRIx64 "-%#" PRIx64 ") in pid %d "
			      "failed", r->start, r->end, (int)c->pid);
	return 0;
}

static int map_one(struct mapper *mp, const struct range *r)
{
	struct restore_ctx *c = mp->c;
	const VmaEntry *i = r->v;
	unsigned long flags = (i->flags & (MAP_SHARED | MAP_PRIVATE)) | MAP_FIXED_NOREPLACE;
	uint64_t off = i->pgoff + (r->start - i->start);
	long fd = -1, ret;
	int keep = 0, apart = kind_anon_private(i->kind) && hard_boundary(c->mem, r);
	unsigned long prot = i->prot;

	if (apart)	/* any prot but the final one */
		prot = i->prot != PROT_NONE ? PROT_NONE : PROT_READ;
	if (i->flags & MAP_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	if (i->has_vm_flags && (i->vm_flags & VMF(VMF_NR)))
		flags |= MAP_NORESERVE;
	if (kind_anon_private(i->kind) || i->kind == VMA_KIND__VMA_ANON_SHARED) {
		flags |= MAP_ANONYMOUS;
		off = 0;
	} else {
		fd = target_open(mp, i, off + (r->end - r->start), &keep);
		if (fd < 0)
			return (int)fd;
	}
	pr_debug("pid %d: mmap %#" PRIx64 "-%#" PRIx64 " prot %#x flags %#lx '%s'", (int)c->pid,
		 r->start, r->end, i->prot, flags, i->path ? i->path : "");
	ret = inj(c, SYS_mmap, r->start, r->end - r->start, prot, flags, fd, off);
	if (fd >= 0 && !keep)
		inj(c, SYS_close, fd, 0, 0, 0, 0, 0);
	if (ret >= 0 && (uint64_t)ret != r->start) {
		inj(c, SYS_munmap, ret, r->end - r->start, 0, 0, 0, 0);
		ret = -EEXIST;
	}
	if (ret < 0)
		return cm_err((int)ret, "injected mmap(%#" PRIx64 "-%#" PRIx64 ", '%s') in pid %d "
			      "failed", r->start, r->end, i->path ? i->path : "anon", (int)c->pid);
	c->st.vmas_mapped++;
	return apart ? isolate(c, r) : 0;
}

static int do_maps(struct restore_ctx *c, const struct vma_list *l, const struct ranges *map)
{
	struct mapper mp = { .c = c };
	size_t k;
	long ret = 0;

	for (k = 0; k < map->nr && !mp.scratch; k++)
		if (!kind_anon_private(map->r[k].v->kind) &&
		    map->r[k].v->kind != VMA_KIND__VMA_ANON_SHARED) {
			mp.scratch = scratch_spot(c->mem, l);
			if (!mp.scratch)
				return cm_err(-ENOMEM, "no room for a scratch page in pid %d", (int)c->pid);
			ret = inj(c, SYS_mmap, mp.scratch, SCRATCH_LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (ret != (long)mp.scratch)
				return cm_err(ret < 0 ? (int)ret : -EEXIST, "cannot map a scratch page "
					      "in pid %d", (int)c->pid);
			c->scratch_addr = mp.scratch;
			c->scratch_len = SCRATCH_LEN;
		}
	for (k = 0; k < map->nr; k++) {
		ret = map_one(&mp, &map->r[k]);
		if (ret)
			break;
	}
	for (k = 0; k < mp.nr_memfd; k++)
		inj(c, SYS_close, mp.memfd[k].fd, 0, 0, 0, 0, 0);
	if (mp.scratch && inj(c, SYS_munmap, mp.scratch, SCRATCH_LEN, 0, 0, 0, 0) == 0)
		c->scratch_addr = 0;
	return (int)ret;
}

/* mprotect where the live prot differs from the image's. */
static int do_prots(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	size_t k, j;
	long ret;

	for (k = 0; k < l->nr; k++) {
		const struct vma *lv = &l->v[k];

		if (kind_special(lv->kind))
			continue;
		for (j = img_mem_vma_index(m, lv->start); j < m->nr_vmas && m->vmas[j]->start < lv->end; j++) {
			const VmaEntry *i = m->vmas[j];
			uint64_t s = MAX(i->start, lv->start), e = MIN(i->end, lv->end);

			if (i->prot == lv->prot || kind_special(i->kind))
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

static int guard_cb(void *arg, const struct pscan_run *r)
{
	struct ranges *g = arg;

	if (!(r->flags & PSCAN_GUARD))
		return 0;
	return ranges_add(g, r->vaddr, r->vaddr + r->nr_pages * page_size(), NULL);
}

/* Removes every live guard region (the image's are installed by restore_madvise()). */
static int do_guard_remove(struct restore_ctx *c, const struct vma_list *l)
{
	struct ranges g = { 0 };
	struct pscan ps;
	size_t k;
	long ret = 0;

	for (k = 0; k < l->nr; k++)
		if (!kind_special(l->v[k].kind) && (l->v[k].vm_flags & VMF(VMF_GU)))
			break;
	if (k == l->nr)
		return 0;
	ret = pscan_open(&ps, c->pid, PSCAN_AUTO);
	if (ret)
		return cm_err((int)ret, "cannot scan pid %d for guard regions", (int)c->pid);
	for (; k < l->nr && !ret; k++)
		if (!kind_special(l->v[k].kind) && (l->v[k].vm_flags & VMF(VMF_GU)))
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

static int read_live(struct restore_ctx *c, struct vma_list *l);
static int apply_flags(struct restore_ctx *c, const struct vma_list *l);

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

		if (kind_special(i->kind) || i->kind == VMA_KIND__VMA_HUGETLB ||
		    ((i->flags & MAP_SHARED) && i->kind != VMA_KIND__VMA_FILE_SHARED) ||
		    (ip >= i->start && ip < i->end))
			continue;
		k = live_first(l, i->start);
		if (k + 1 >= l->nr || l->v[k].end >= i->end)
			continue;	/* one live VMA covers it */
		pr_debug("pid %d: VMA %#" PRIx64 "-%#" PRIx64 " is split, making it again",
			 (int)c->pid, i->start, i->end);
		ret = ranges_add(&un, i->start, i->end, NULL);
		if (!ret)
			ret = ranges_add(&map, i->start, i->end, i);
	}
	if (!ret && un.nr) {
		ret = do_unmaps(c, &un);
		if (!ret)
			ret = do_maps(c, l, &map);
		if (!ret)
			ret = read_live(c, l);
		if (!ret)
			ret = apply_flags(c, l);
	}
	free(un.r);
	free(map.r);
	return ret;
}

static int read_live(struct restore_ctx *c, struct vma_list *l)
{
	int ret;

	vma_list_release(l);
	vma_list_init(l);
	ret = vma_list_read(l, c->pid);
	if (ret)
		return cm_err(ret, "cannot read the VMAs of pid %d", (int)c->pid);
	return 0;
}

/* ---- madvise state ---- */

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
static int apply_flags(struct restore_ctx *c, const struct vma_list *l)
{
	const struct img_mem *m = c->mem;
	size_t j, k = 0, q;
	int ret = 0;

	for (j = 0; j < m->nr_vmas && !ret; j++) {
		const VmaEntry *i = m->vmas[j];

		if (kind_special(i->kind) || i->kind == VMA_KIND__VMA_HUGETLB || !i->has_vm_flags)
			continue;
		while (k < l->nr && l->v[k].end <= i->start)
			k++;
		for (q = k; q < l->nr && l->v[q].start < i->end && !ret; q++)
			if (!kind_special(l->v[q].kind))
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

int restore_layout(struct restore_ctx *c)
{
	struct ranges un = { 0 }, map = { 0 };
	struct vma_list l;
	int ret, moved;

	vma_list_init(&l);
	ret = read_live(c, &l);
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
		ret = read_live(c, &l);
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
		ret = apply_flags(c, &l);
	if (!ret)
		ret = do_guard_remove(c, &l);
	if (!ret)
		ret = do_maps(c, &l, &map);
	if (!ret && map.nr) {
		ret = read_live(c, &l);
		if (!ret)
			ret = apply_flags(c, &l);
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
		const struct vma *lv = live_find(l, i->start);
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
	ret = j < m->nr_vmas ? read_live(c, &l) : 0;
	if (!ret && j < m->nr_vmas)
		ret = apply_flags(c, &l);
	if (!ret && j < m->nr_vmas)
		collapse_thp(c, &l);
	for (j = 0; j < m->nr_vmas && !ret; j++)
		if (!kind_special(m->vmas[j]->kind))
			ret = install_guards(c, m->vmas[j]);
	if (!ret)
		c->done |= RST_MADVISE;
	vma_list_release(&l);
	return ret;
}
