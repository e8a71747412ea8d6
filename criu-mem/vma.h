/* SPDX-License-Identifier: MIT */
/*
 * VMA enumeration: /proc/PID/maps text (PROCMAP_QUERY where it adds build
 * ids) plus smaps VmFlags and THP usage. vma_parse_line() and
 * vma_parse_vmflags() do no I/O so they can be unit-tested and fuzzed.
 *
 * One table (vmflag_table) maps smaps VmFlags mnemonics to bits and to the
 * madvise advice that recreates them at restore time.
 */
#ifndef CM_VMA_H
#define CM_VMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"

/* Bits of vma.vm_flags, one per smaps VmFlags mnemonic we know. */
enum vmflag {
	VMF_RD, VMF_WR, VMF_EX, VMF_SH, VMF_MR, VMF_MW, VMF_ME, VMF_MS,
	VMF_GD, VMF_PF, VMF_LO, VMF_IO, VMF_SR, VMF_RR, VMF_DC, VMF_DE,
	VMF_AC, VMF_NR, VMF_HT, VMF_SF, VMF_NL, VMF_AR, VMF_WF, VMF_DD,
	VMF_SD, VMF_MM, VMF_HG, VMF_NH, VMF_MG, VMF_UM, VMF_UW, VMF_SS,
	VMF_SL, VMF_BT, VMF_MT, VMF_GU, VMF_OV, VMF_LF, VMF_UI, VMF_DP,
	VMF_MAX,
};

struct vmflag_desc {
	const char name[3];	/* "dd" */
	enum vmflag bit;
	int madv;		/* advice that sets it at restore (MADV_*), 0 if none */
	const char *what;	/* human description */
};

extern const struct vmflag_desc vmflag_table[];
extern const size_t vmflag_table_len;
/* Looks up a mnemonic; NULL when unknown. */
const struct vmflag_desc *vmflag_by_name(const char *name);

#define VMA_PATH_MAX 4096

struct vma {
	uint64_t start, end;
	uint64_t pgoff;		/* bytes */
	uint32_t prot;		/* PROT_* */
	uint32_t flags;		/* MAP_PRIVATE / MAP_SHARED (| MAP_ANONYMOUS | MAP_GROWSDOWN) */
	VmaKind kind;		/* VMA_KIND__* from mm.proto */
	uint64_t dev, ino;
	char *path;		/* malloc'd; NULL for anonymous */
	uint64_t vm_flags;	/* 1ull << enum vmflag */
	uint8_t build_id[64];
	uint32_t build_id_len;
	uint64_t anon_huge_kb;	/* smaps AnonHugePages */
	uint64_t rss_kb;
	uint32_t page_shift;	/* 12, or 21/30 for hugetlb */
	int deleted;		/* path ended in " (deleted)" (stripped from path) */
	uint64_t swap_kb;	/* smaps Swap */
	uint32_t pkey;		/* smaps ProtectionKey */
};

struct vma_list {
	struct vma *v;
	size_t nr, cap;
};

/*
 * Parses one maps line ("start-end perms offset dev inode path") into v
 * (v->path is malloc'd). Returns 0, -EINVAL on a malformed line.
 */
int vma_parse_line(const char *line, size_t len, struct vma *v);
/* Re-derives v->kind (and MAP_ANONYMOUS/MAP_GROWSDOWN in v->flags) from the
 * path, MAP_SHARED and v->vm_flags; vma_parse_line() calls it. */
void vma_classify(struct vma *v);
/* Parses the text after "VmFlags:" into a vm_flags bit set. Unknown ones are ignored. */
uint64_t vma_parse_vmflags(const char *s, size_t len);

/* Reads every VMA of pid with its smaps details. */
int vma_list_read(struct vma_list *l, pid_t pid);
void vma_list_init(struct vma_list *l);
void vma_list_release(struct vma_list *l);
/* Fills e (vma_entry__init() done here) from v; strings point into v. */
void vma_to_entry(const struct vma *v, VmaEntry *e);

/*
 * MmEntry of pid (mmfields.c): /proc/PID/stat code/data/brk/stack/arg/env
 * bounds, auxv pairs, exe path and its build id (from l's VMA of the exe
 * when l != NULL), personality, THP disable. brk is read with an injected
 * brk(0) when in != NULL (an initialised injection on a thread of pid),
 * else it is the end of [heap] (page-rounded). nr_vmas = l->nr. Strings and
 * arrays are malloc'd; free with mm_entry_release().
 */
struct inject;
int mm_entry_read(pid_t pid, const struct vma_list *l, struct inject *in, MmEntry *m);
void mm_entry_release(MmEntry *m);

#endif
