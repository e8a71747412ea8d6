// SPDX-License-Identifier: MIT
/*
 * restore_vmas.c: recreates the image VMAs missing from the target with
 * injected mmap(MAP_FIXED_NOREPLACE): anonymous, memfd-backed shmem (one
 * memfd per inode), or files reopened by path inside the target through a
 * scratch page; keeps a new anon VMA apart from an alike neighbour.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inject.h"
#include "log.h"
#include "restore.h"
#include "restore_layout.h"
#include "util.h"
#include "vma.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif

/* A free spot for the scratch page in both the image and the live layout. */
static uint64_t scratch_spot(const struct img_mem *m, const struct vma_list *l)
{
	uint64_t top = 0x7ff000000000ull, len = SCRATCH_LEN + 2 * 4096;
	uint64_t cand = top - len;

	for (;;) {
		const VmaEntry *i = img_mem_find_vma(m, cand);
		const VmaEntry *i2 = img_mem_find_vma(m, cand + len - 1);
		const struct vma *lv = rl_live_find(l, cand), *lv2 = rl_live_find(l, cand + len - 1);
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
	return a->prot == b->prot && a->flags == b->flags && rl_kind_anon_private(a->kind) &&
	       rl_kind_anon_private(b->kind) && a->vm_flags == b->vm_flags;
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
	int keep = 0, apart = rl_kind_anon_private(i->kind) && hard_boundary(c->mem, r);
	unsigned long prot = i->prot;

	if (apart)	/* any prot but the final one */
		prot = i->prot != PROT_NONE ? PROT_NONE : PROT_READ;
	if (i->flags & MAP_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	if (i->has_vm_flags && (i->vm_flags & VMF(VMF_NR)))
		flags |= MAP_NORESERVE;
	if (rl_kind_anon_private(i->kind) || i->kind == VMA_KIND__VMA_ANON_SHARED) {
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

int rl_do_maps(struct restore_ctx *c, const struct vma_list *l, const struct ranges *map)
{
	struct mapper mp = { .c = c };
	size_t k;
	long ret = 0;

	for (k = 0; k < map->nr && !mp.scratch; k++)
		if (!rl_kind_anon_private(map->r[k].v->kind) &&
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
