/* SPDX-License-Identifier: MIT */
/*
 * ELF core files from a dumped process (x86_64): the note section (thread
 * registers, process info, auxv, mapped files) and the PT_LOAD layout are
 * built from image records with no I/O, so hostile records can be fuzzed;
 * cmd_core.c writes the page data.
 *
 * Layout: ELF header, program headers (PT_NOTE first, then PT_LOAD in
 * address order), [one section header for PN_XNUM], notes, then segment
 * data at page-aligned offsets. Anonymous VMAs get p_filesz = p_memsz with
 * holes (sparse file) for zero and never-touched pages. File-backed VMAs are
 * split: stretches with pages in the image are stored, the rest get
 * p_filesz = 0 so that gdb reads them from the mapped file (NT_FILE), as it
 * does for kernel core dumps.
 */
#ifndef CM_ELFCORE_H
#define CM_ELFCORE_H

#include <stddef.h>
#include <stdint.h>

#include "img.h"

/* Bounds applied to image input. */
#define ELFCORE_MAX_NOTES	(256u << 20)
#define ELFCORE_MAX_XSTATE	(64u << 10)
#define ELFCORE_MAX_AUXV	1024	/* u64 words */
#define ELFCORE_MAX_SEGS	(1u << 24)

struct elfcore_in {
	unsigned int pid, ppid, pgid, sid, uid, gid;
	const char *comm;		/* NULL: empty */
	const char *psargs;		/* NULL: comm */
	const MmEntry *mm;		/* auxv; NULL ok */
	VmaEntry *const *vmas;		/* sorted by start */
	size_t nr_vmas;
	ThreadCore *const *threads;	/* leader first */
	size_t nr_threads;
	const struct img_run *runs;	/* sorted by vaddr */
	size_t nr_runs;
	size_t page_size;
	int all;			/* include VM_DONTDUMP VMAs */
	int vdso_fill;			/* the writer supplies [vdso] bytes the image lacks */
};

struct elfcore_buf {
	uint8_t *p;
	size_t len, cap;
};

void elfcore_buf_release(struct elfcore_buf *b);

/*
 * Builds the PT_NOTE payload: per thread NT_PRSTATUS (+ NT_PRFPREG and
 * NT_X86_XSTATE when present), with NT_PRPSINFO, NT_AUXV and NT_FILE after
 * the first thread's NT_PRSTATUS. Returns 0, -EBADMSG for a malformed
 * record (message names the thread), -EOVERFLOW past the bounds, -ENOMEM.
 * Reports its errors.
 */
int elfcore_notes(const struct elfcore_in *in, struct elfcore_buf *out);

struct elfcore_seg {
	uint64_t vaddr, memsz, filesz, offset;
	uint32_t flags;		/* PF_* */
	size_t vma;		/* index in in->vmas */
};

struct elfcore_plan {
	struct elfcore_seg *segs;
	size_t nr, cap;
	uint64_t notes_off, notes_len;
	uint64_t file_size;
	uint64_t data_bytes;	/* sum of p_filesz */
};

/*
 * Lays out the segments for in->vmas with notes of notes_len bytes.
 * Checks VMAs are page aligned, sorted and disjoint (-EBADMSG). Reports its
 * errors. Release with elfcore_plan_release().
 */
int elfcore_plan_build(const struct elfcore_in *in, uint64_t notes_len, struct elfcore_plan *p);
void elfcore_plan_release(struct elfcore_plan *p);

/*
 * Formats the ELF header, program headers and notes (everything before the
 * first segment's data) into out.
 */
int elfcore_head(const struct elfcore_plan *p, const struct elfcore_buf *notes,
		 struct elfcore_buf *out);

#endif
