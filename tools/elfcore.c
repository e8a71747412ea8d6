// SPDX-License-Identifier: MIT
/*
 * elfcore.c: the notes and program headers of an x86_64 ELF core file
 * built from image records. No I/O: every length taken from a record is
 * checked here, so the fuzz target covers it.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>

#define LOG_PREFIX "core: "
#include "elfcore.h"
#include "log.h"
#include "util.h"
#include "vma.h"

#define ELFCORE_MAX_HEAD	(ELFCORE_MAX_NOTES + 64u + 64u + (ELFCORE_MAX_SEGS + 1ull) * 56)

void elfcore_buf_release(struct elfcore_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int buf_put(struct elfcore_buf *b, const void *p, size_t len, size_t limit)
{
	size_t need, cap;
	uint8_t *n;

	if (add_overflow(b->len, len, &need) || need > limit)
		return -EOVERFLOW;
	if (need > b->cap) {
		cap = MAX(need, b->cap ? 2 * b->cap : (size_t)4096);
		n = realloc(b->p, cap);
		if (!n)
			return -ENOMEM;
		b->p = n;
		b->cap = cap;
	}
	if (p)
		memcpy(b->p + b->len, p, len);
	else
		memset(b->p + b->len, 0, len);
	b->len = need;
	return 0;
}

static int buf_pad(struct elfcore_buf *b, size_t align, size_t limit)
{
	size_t pad = ALIGN_UP(b->len, align) - b->len;

	return pad ? buf_put(b, NULL, pad, limit) : 0;
}

/* Appends one note; desc may be NULL for dlen zero bytes written later by the caller. */
static int note_add(struct elfcore_buf *b, const char *name, uint32_t type, const void *desc,
		    size_t dlen)
{
	Elf64_Nhdr nh = { .n_namesz = strlen(name) + 1, .n_type = type };
	int ret;

	if (dlen > ELFCORE_MAX_NOTES)
		return -EOVERFLOW;
	nh.n_descsz = dlen;
	ret = buf_put(b, &nh, sizeof(nh), ELFCORE_MAX_NOTES);
	if (!ret)
		ret = buf_put(b, name, nh.n_namesz, ELFCORE_MAX_NOTES);
	if (!ret)
		ret = buf_pad(b, 4, ELFCORE_MAX_NOTES);
	if (!ret)
		ret = buf_put(b, desc, dlen, ELFCORE_MAX_NOTES);
	if (!ret)
		ret = buf_pad(b, 4, ELFCORE_MAX_NOTES);
	return ret;
}

static int thread_check(const ThreadCore *t)
{
	struct elf_prstatus st;

	if (!t->gpregs.data || t->gpregs.len != sizeof(st.pr_reg))
		return cm_err(-EBADMSG, "thread %u: general registers are %zu bytes, expected %zu",
			      t->tid, t->gpregs.data ? t->gpregs.len : 0, sizeof(st.pr_reg));
	if (t->has_fpregs && t->fpregs.len != sizeof(elf_fpregset_t))
		return cm_err(-EBADMSG, "thread %u: fp registers are %zu bytes, expected %zu",
			      t->tid, t->fpregs.len, sizeof(elf_fpregset_t));
	if (t->has_xstate && (t->xstate.len < 576 || t->xstate.len > ELFCORE_MAX_XSTATE ||
			      !t->xstate.data))
		return cm_err(-EBADMSG, "thread %u: xstate is %zu bytes, expected 576 to %u",
			      t->tid, t->xstate.len, ELFCORE_MAX_XSTATE);
	return 0;
}

static int note_prstatus(struct elfcore_buf *b, const struct elfcore_in *in, const ThreadCore *t)
{
	struct elf_prstatus st;

	memset(&st, 0, sizeof(st));
	st.pr_pid = t->tid;
	st.pr_ppid = in->ppid;
	st.pr_pgrp = in->pgid;
	st.pr_sid = in->sid;
	st.pr_sighold = t->sigmask;
	memcpy(&st.pr_reg, t->gpregs.data, sizeof(st.pr_reg));
	st.pr_fpvalid = !!t->has_fpregs;
	return note_add(b, "CORE", NT_PRSTATUS, &st, sizeof(st));
}

static int note_fp(struct elfcore_buf *b, const ThreadCore *t)
{
	int ret = 0;

	if (t->has_fpregs)
		ret = note_add(b, "CORE", NT_PRFPREG, t->fpregs.data, t->fpregs.len);
	if (!ret && t->has_xstate)
		ret = note_add(b, "LINUX", NT_X86_XSTATE, t->xstate.data, t->xstate.len);
	return ret;
}

static int note_prpsinfo(struct elfcore_buf *b, const struct elfcore_in *in)
{
	const char *args = in->psargs ? in->psargs : in->comm;
	struct elf_prpsinfo ps;

	memset(&ps, 0, sizeof(ps));
	ps.pr_state = 1;
	ps.pr_sname = 'S';
	ps.pr_uid = in->uid;
	ps.pr_gid = in->gid;
	ps.pr_pid = in->pid;
	ps.pr_ppid = in->ppid;
	ps.pr_pgrp = in->pgid;
	ps.pr_sid = in->sid;
	if (in->comm)
		strncpy(ps.pr_fname, in->comm, sizeof(ps.pr_fname) - 1);
	if (args)
		strncpy(ps.pr_psargs, args, sizeof(ps.pr_psargs) - 1);
	return note_add(b, "CORE", NT_PRPSINFO, &ps, sizeof(ps));
}

static int note_auxv(struct elfcore_buf *b, const MmEntry *mm)
{
	uint64_t v[ELFCORE_MAX_AUXV + 2];
	size_t n;

	if (!mm || !mm->n_auxv)
		return 0;
	n = MIN(mm->n_auxv, (size_t)ELFCORE_MAX_AUXV) & ~(size_t)1;
	memcpy(v, mm->auxv, n * sizeof(v[0]));
	if (n < 2 || v[n - 2] != AT_NULL) {
		v[n++] = AT_NULL;
		v[n++] = 0;
	}
	return note_add(b, "CORE", NT_AUXV, v, n * sizeof(v[0]));
}

static int vma_is_file(const VmaEntry *v)
{
	return v->path && v->path[0] == '/' &&
	       (v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED);
}

/* NT_FILE: count, page size, {start, end, pgoff in pages} x count, then the names. */
static int note_file(struct elfcore_buf *b, const struct elfcore_in *in)
{
	struct elfcore_buf d = { 0 };
	uint64_t hdr[2] = { 0, in->page_size }, e[3];
	size_t i;
	int ret = 0;

	for (i = 0; i < in->nr_vmas; i++)
		hdr[0] += vma_is_file(in->vmas[i]);
	if (!hdr[0])
		return 0;
	ret = buf_put(&d, hdr, sizeof(hdr), ELFCORE_MAX_NOTES);
	for (i = 0; !ret && i < in->nr_vmas; i++) {
		const VmaEntry *v = in->vmas[i];

		if (!vma_is_file(v))
			continue;
		e[0] = v->start;
		e[1] = v->end;
		e[2] = v->pgoff / in->page_size;
		ret = buf_put(&d, e, sizeof(e), ELFCORE_MAX_NOTES);
	}
	for (i = 0; !ret && i < in->nr_vmas; i++)
		if (vma_is_file(in->vmas[i]))
			ret = buf_put(&d, in->vmas[i]->path, strlen(in->vmas[i]->path) + 1,
				      ELFCORE_MAX_NOTES);
	if (!ret)
		ret = note_add(b, "CORE", NT_FILE, d.p, d.len);
	elfcore_buf_release(&d);
	return ret;
}

int elfcore_notes(const struct elfcore_in *in, struct elfcore_buf *out)
{
	size_t i;
	int ret = 0;

	if (!in->nr_threads)
		return cm_err(-EBADMSG, "pid %u: the image has no thread registers", in->pid);
	if (!in->page_size || (in->page_size & (in->page_size - 1)))
		return cm_err(-EBADMSG, "pid %u: bad page size %zu", in->pid, in->page_size);
	for (i = 0; i < in->nr_threads; i++) {
		ret = thread_check(in->threads[i]);
		if (ret)
			return ret;
	}
	for (i = 0; !ret && i < in->nr_threads; i++) {
		ret = note_prstatus(out, in, in->threads[i]);
		if (!ret && i == 0)
			ret = note_prpsinfo(out, in);
		if (!ret && i == 0)
			ret = note_auxv(out, in->mm);
		if (!ret && i == 0)
			ret = note_file(out, in);
		if (!ret)
			ret = note_fp(out, in->threads[i]);
	}
	if (ret)
		return cm_err(ret, "pid %u: cannot build the core notes (%zu threads, %zu VMAs)",
			      in->pid, in->nr_threads, in->nr_vmas);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Program headers                                                     */

static int plan_add(struct elfcore_plan *p, size_t vma, uint64_t s, uint64_t e, int data,
		    uint32_t flags)
{
	if (p->nr == p->cap && p->nr >= ELFCORE_MAX_SEGS)
		return -EOVERFLOW;
	if (array_grow(&p->segs, &p->cap, p->nr, sizeof(*p->segs), 64))
		return -ENOMEM;
	p->segs[p->nr++] = (struct elfcore_seg){ .vaddr = s, .memsz = e - s,
						 .filesz = data ? e - s : 0, .flags = flags,
						 .vma = vma };
	return 0;
}

/* Index of the first run ending after addr. */
static size_t run_first_after(const struct elfcore_in *in, uint64_t addr)
{
	size_t lo = 0, hi = in->nr_runs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (in->runs[mid].vaddr + in->runs[mid].nr_pages * in->page_size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* File-backed VMA: stored stretches (runs back to back) and p_filesz = 0 gaps. */
static int plan_file_vma(struct elfcore_plan *p, const struct elfcore_in *in, size_t vi,
			 uint32_t flags)
{
	const VmaEntry *v = in->vmas[vi];
	size_t r = run_first_after(in, v->start);
	uint64_t cur = v->start, rs, re;
	int ret = 0;

	while (!ret && cur < v->end) {
		if (r >= in->nr_runs || in->runs[r].vaddr >= v->end) {
			ret = plan_add(p, vi, cur, v->end, 0, flags);
			break;
		}
		rs = MAX(in->runs[r].vaddr, cur);
		if (rs > cur) {
			ret = plan_add(p, vi, cur, rs, 0, flags);
			cur = rs;
			continue;
		}
		re = cur;
		while (r < in->nr_runs && in->runs[r].vaddr <= re && re < v->end) {
			re = MAX(re, in->runs[r].vaddr + in->runs[r].nr_pages * in->page_size);
			r++;
		}
		re = MIN(re, v->end);
		if (re <= cur)	/* unsorted runs (hostile input): no progress */
			continue;
		ret = plan_add(p, vi, cur, re, 1, flags);
		cur = re;
	}
	return ret;
}

static int vma_has_runs(const struct elfcore_in *in, const VmaEntry *v)
{
	size_t r = run_first_after(in, v->start);

	return r < in->nr_runs && in->runs[r].vaddr < v->end;
}

static int plan_vma(struct elfcore_plan *p, const struct elfcore_in *in, size_t vi)
{
	const VmaEntry *v = in->vmas[vi];
	uint32_t flags = (v->prot & PROT_READ ? PF_R : 0) | (v->prot & PROT_WRITE ? PF_W : 0) |
			 (v->prot & PROT_EXEC ? PF_X : 0);
	int data;

	if (!in->all && v->has_vm_flags && (v->vm_flags & (1ull << VMF_DD)))
		return plan_add(p, vi, v->start, v->end, 0, flags);
	switch (v->kind) {
	case VMA_KIND__VMA_VVAR:
	case VMA_KIND__VMA_VSYSCALL:
	case VMA_KIND__VMA_UNSUPPORTED:
		return plan_add(p, vi, v->start, v->end, 0, flags);
	default:
		break;
	}
	if (vma_is_file(v))
		return plan_file_vma(p, in, vi, flags);
	if (v->kind == VMA_KIND__VMA_VDSO)
		return plan_add(p, vi, v->start, v->end, vma_has_runs(in, v) || in->vdso_fill,
				flags);
	/* Anonymous memory: absent pages were never touched and read as zeros. */
	data = vma_has_runs(in, v) || v->prot != PROT_NONE;
	return plan_add(p, vi, v->start, v->end, data, flags);
}

int elfcore_plan_build(const struct elfcore_in *in, uint64_t notes_len, struct elfcore_plan *p)
{
	uint64_t prev = 0, off, nph;
	size_t i;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	for (i = 0; !ret && i < in->nr_vmas; i++) {
		const VmaEntry *v = in->vmas[i];

		if (v->start >= v->end || v->start < prev || (v->start | v->end) % in->page_size)
			return cm_err(-EBADMSG, "VMA %zu (%#lx-%#lx) is not page aligned, sorted "
				      "and disjoint", i, (unsigned long)v->start,
				      (unsigned long)v->end);
		prev = v->end;
		ret = plan_vma(p, in, i);
	}
	if (ret)
		return cm_err(ret, "cannot lay out %zu VMAs", in->nr_vmas);
	if (notes_len > ELFCORE_MAX_NOTES)
		return cm_err(-EOVERFLOW, "notes of %lu bytes", (unsigned long)notes_len);
	nph = p->nr + 1;
	p->notes_off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr) +
		       (nph >= PN_XNUM ? sizeof(Elf64_Shdr) : 0);
	p->notes_len = notes_len;
	off = ALIGN_UP(p->notes_off + notes_len, (uint64_t)in->page_size);
	for (i = 0; i < p->nr; i++) {
		p->segs[i].offset = off;
		if (add_overflow(off, p->segs[i].filesz, &off))
			return cm_err(-EOVERFLOW, "core file size overflows");
		p->data_bytes += p->segs[i].filesz;
	}
	p->file_size = off;
	return 0;
}

void elfcore_plan_release(struct elfcore_plan *p)
{
	free(p->segs);
	memset(p, 0, sizeof(*p));
}

int elfcore_head(const struct elfcore_plan *p, const struct elfcore_buf *notes,
		 struct elfcore_buf *out)
{
	uint64_t nph = p->nr + 1;
	Elf64_Ehdr eh = { .e_type = ET_CORE, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			  .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
			  .e_phentsize = sizeof(Elf64_Phdr) };
	Elf64_Phdr ph = { .p_type = PT_NOTE, .p_offset = p->notes_off,
			  .p_filesz = notes->len, .p_align = 4 };
	Elf64_Shdr sh = { .sh_info = (uint32_t)nph };
	size_t i;
	int ret;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_phnum = nph >= PN_XNUM ? PN_XNUM : nph;
	if (nph >= PN_XNUM) {
		eh.e_shoff = sizeof(eh) + nph * sizeof(ph);
		eh.e_shentsize = sizeof(sh);
		eh.e_shnum = 1;
	}
	if (notes->len != p->notes_len)
		return -EINVAL;
	ret = buf_put(out, &eh, sizeof(eh), ELFCORE_MAX_HEAD);
	if (!ret)
		ret = buf_put(out, &ph, sizeof(ph), ELFCORE_MAX_HEAD);
	for (i = 0; !ret && i < p->nr; i++) {
		const struct elfcore_seg *s = &p->segs[i];

		ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = s->flags, .p_offset = s->offset,
				   .p_vaddr = s->vaddr, .p_filesz = s->filesz,
				   .p_memsz = s->memsz, .p_align = 4096 };
		ret = buf_put(out, &ph, sizeof(ph), ELFCORE_MAX_HEAD);
	}
	if (!ret && nph >= PN_XNUM)
		ret = buf_put(out, &sh, sizeof(sh), ELFCORE_MAX_HEAD);
	if (!ret)
		ret = buf_put(out, notes->p, notes->len, ELFCORE_MAX_HEAD);
	if (ret)
		return cm_err(ret, "cannot format the core header (%zu segments)", p->nr);
	return 0;
}
