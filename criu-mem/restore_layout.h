/* SPDX-License-Identifier: MIT */
/*
 * Private to restore_layout.c (the plan: diff, unmap, brk, mprotect),
 * restore_vmas.c (recreating VMAs: anon, memfd, reopened files) and
 * restore_madvise.c (VmFlags, guard regions, THP collapse).
 */
#ifndef CM_RESTORE_LAYOUT_H
#define CM_RESTORE_LAYOUT_H

#include <stdint.h>

#include "restore.h"
#include "vma.h"

#define VMF(b)		(1ull << (b))
/* The scratch mapping through which the target reads the paths it reopens. */
#define SCRATCH_LEN	(16u << 10)

/* A range of addresses with the image VMA it comes from (NULL: none). */
struct range {
	uint64_t start, end;
	const VmaEntry *v;
};

struct ranges {
	struct range *r;
	size_t nr, cap;
};

/* restore_inject() under a short name: this code injects a lot. */
static inline long inj(struct restore_ctx *c, long nr, unsigned long a0, unsigned long a1,
		       unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	return restore_inject(c, nr, a0, a1, a2, a3, a4, a5);
}

/* Appends [s, e) (merged with the last range when adjacent with the same v). */
int rl_ranges_add(struct ranges *rs, uint64_t s, uint64_t e, const VmaEntry *v);

/* [vdso], [vvar], [vsyscall] and VM_IO/PFNMAP: never touched. */
int rl_kind_special(VmaKind k);
/* Private anonymous memory, heap and stack included. */
int rl_kind_anon_private(VmaKind k);

/* The live VMA containing addr, or NULL (l is sorted). */
const struct vma *rl_live_find(const struct vma_list *l, uint64_t addr);
/* Reads the target's VMAs again into l (released first). */
int rl_read_live(struct restore_ctx *c, struct vma_list *l);

/* restore_vmas.c: maps every range of map at its address in the target. */
int rl_do_maps(struct restore_ctx *c, const struct vma_list *l, const struct ranges *map);

/* restore_madvise.c: the madvise-settable VmFlags of every live VMA made the image's. */
int rl_apply_flags(struct restore_ctx *c, const struct vma_list *l);
/* restore_madvise.c: removes every live guard region. */
int rl_guard_remove(struct restore_ctx *c, const struct vma_list *l);

#endif
