// SPDX-License-Identifier: MIT
/*
 * cm-mutate: copies an image directory with one record changed, re-encoded
 * with img_writer and committed with fresh inventory checksums, so that the
 * hostile value reaches the code behind the checksum layer.
 *
 * usage: cm-mutate SRC DST MUTATION [ARG]   (cm-mutate -l lists the mutations;
 * ARG is the path of the *-arg ones)
 * Exits 0 when written, 1 on errors, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"

#define MAX_MSGS (1u << 22)

static const char *mut_arg = "/nonexistent";	/* the optional 4th argument */
static size_t repeat_last;	/* extra copies of the last record written */

struct recs {
	ProtobufCMessage **m;
	size_t nr;
	unsigned int pid;
};

typedef int (*mut_fn)(struct recs *r);

struct mutation {
	const char *name;
	enum img_kind kind;
	mut_fn fn;
	const char *what;
	void (*inv_fn)(InventoryEntry *inv);	/* also changes the inventory */
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "cm-mutate: out of memory\n");
		exit(1);
	}
	return p;
}

static char *big_str(size_t n, char c)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[0] = '/';
	s[n] = 0;
	return s;
}

#define ENTRY(r, i, type) ((type *)(r)->m[i])

/* Index of the first pagemap run with flags f (0: any), or 0 when none. */
static size_t find_run(struct recs *r, uint32_t f)
{
	size_t i;

	for (i = 1; i < r->nr; i++)
		if (!f || ENTRY(r, i, PagemapEntry)->flags == f)
			return i;
	return 0;
}

static int m_none(struct recs *r)
{
	(void)r;
	return 0;
}

static int m_run_huge(struct recs *r)
{
	size_t i = find_run(r, PE_PRESENT);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->nr_pages = 1ull << 40;
	return 0;
}

static int m_run_wrap(struct recs *r)
{
	size_t i = find_run(r, PE_ZERO) ? find_run(r, PE_ZERO) : find_run(r, 0);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->nr_pages = (1ull << 52) - 1;	/* vaddr + n*4096 wraps */
	return 0;
}

static int m_run_outside(struct recs *r)
{
	size_t i = find_run(r, 0);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->vaddr = 0x1000;
	ENTRY(r, i, PagemapEntry)->nr_pages = 1;
	return 0;
}

static int m_run_overlap(struct recs *r)
{
	if (r->nr < 3)
		return -1;
	ENTRY(r, 2, PagemapEntry)->vaddr = ENTRY(r, 1, PagemapEntry)->vaddr;
	return 0;
}

static int m_frame_oob(struct recs *r)
{
	size_t i = find_run(r, PE_PRESENT);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->has_frame = 1;
	ENTRY(r, i, PagemapEntry)->frame = 1ull << 32;
	return 0;
}

static int m_offset_oob(struct recs *r)
{
	size_t i = find_run(r, PE_PRESENT);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->has_offset = 1;
	ENTRY(r, i, PagemapEntry)->offset = (1ull << 63) + 1;
	return 0;
}

static int m_run_flags(struct recs *r)
{
	size_t i = find_run(r, PE_PRESENT);

	if (!i)
		return -1;
	ENTRY(r, i, PagemapEntry)->flags = PE_PRESENT | PE_ZERO;
	return 0;
}

static int m_page_size(struct recs *r)
{
	ENTRY(r, 0, PagemapHead)->page_size = 8192;
	return 0;
}

static int m_pages_name(struct recs *r)
{
	PagemapHead *h = ENTRY(r, 0, PagemapHead);

	free(h->pages_file);
	h->pages_file = strdup("../../../../../../etc/passwd");
	return 0;
}

/* Middle VMA: the first ones hold the target's binary, the last the stack. */
static VmaEntry *mid_vma(struct recs *r)
{
	return r->nr > 3 ? ENTRY(r, r->nr / 2, VmaEntry) : NULL;
}

static int m_vma_inverted(struct recs *r)
{
	VmaEntry *v = mid_vma(r);

	if (!v)
		return -1;
	v->end = v->start - 4096;
	return 0;
}

static int m_vma_overlap(struct recs *r)
{
	VmaEntry *v = mid_vma(r);

	if (!v)
		return -1;
	v->end = ENTRY(r, r->nr / 2 + 1, VmaEntry)->start + 4096;
	return 0;
}

static int m_vma_huge(struct recs *r)
{
	VmaEntry *v = ENTRY(r, r->nr - 1, VmaEntry);

	v->end = 0xfffffffffffff000ull;
	return 0;
}

static int m_vma_path(struct recs *r)
{
	VmaEntry *v = mid_vma(r);

	if (!v)
		return -1;
	free(v->path);
	v->path = big_str(100 << 10, 'p');
	return 0;
}

static int m_vma_shift(struct recs *r)
{
	VmaEntry *v = mid_vma(r);

	if (!v)
		return -1;
	v->has_page_shift = 1;
	v->page_shift = 63;
	return 0;
}

static int m_vma_guard(struct recs *r)
{
	VmaEntry *v = mid_vma(r);
	GuardRange *g;

	if (!v || v->n_guards)
		return -1;
	g = xmalloc(sizeof(*g));
	guard_range__init(g);
	g->start = v->start;
	g->nr_pages = 1ull << 60;
	v->guards = xmalloc(sizeof(*v->guards));
	v->guards[0] = g;
	v->n_guards = 1;
	return 0;
}

/* The first anonymous private VMA after the binary's. */
static VmaEntry *anon_vma(struct recs *r)
{
	size_t i;

	for (i = 2; i + 1 < r->nr; i++)
		if (ENTRY(r, i, VmaEntry)->kind == VMA_KIND__VMA_ANON_PRIVATE)
			return ENTRY(r, i, VmaEntry);
	return NULL;
}

static int m_vma_file(struct recs *r)
{
	VmaEntry *v = anon_vma(r);

	if (!v)
		return -1;
	v->kind = VMA_KIND__VMA_FILE_PRIVATE;
	free(v->path);
	v->path = strdup("/nonexistent/cm-mutate");
	v->flags = 0x02;
	return 0;
}

/* Every file VMA of the first mapped file gets path ARG (e.g. a FIFO). */
static int m_vma_path_arg(struct recs *r)
{
	char *first = NULL;
	size_t i;

	for (i = 1; i < r->nr; i++) {
		VmaEntry *v = ENTRY(r, i, VmaEntry);

		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE || !v->path)
			continue;
		if (!first)
			first = strdup(v->path);
		if (!first || strcmp(first, v->path))
			continue;
		free(v->path);
		v->path = strdup(mut_arg);
	}
	if (!first)
		return -1;
	free(first);
	return 0;
}

static int m_exe_arg(struct recs *r)
{
	MmEntry *mm = ENTRY(r, 0, MmEntry);

	free(mm->exe_path);
	mm->exe_path = strdup(mut_arg);
	return m_vma_path_arg(r);
}

static int m_vma_prot(struct recs *r)
{
	VmaEntry *v = anon_vma(r);

	if (!v)
		return -1;
	v->prot = 0xfff;
	return 0;
}

static int m_vma_flags(struct recs *r)
{
	VmaEntry *v = anon_vma(r);

	if (!v)
		return -1;
	v->flags = 0xffffffffu;
	return 0;
}

static int m_vma_kind(struct recs *r)
{
	VmaEntry *v = anon_vma(r);

	if (!v)
		return -1;
	v->kind = 99;
	return 0;
}

/* Millions of VMA records: what loading them costs before any check. */
static int m_vmas_many(struct recs *r)
{
	repeat_last = strtoul(mut_arg[0] == '/' ? "2000000" : mut_arg, NULL, 0);
	return r->nr > 1 ? 0 : -1;
}

static int m_auxv(struct recs *r)
{
	MmEntry *mm = ENTRY(r, 0, MmEntry);
	size_t i, n = 1000000;

	free(mm->auxv);
	mm->auxv = xmalloc(n * sizeof(*mm->auxv));
	for (i = 0; i < n; i += 2) {
		mm->auxv[i] = 1 + i % 50;
		mm->auxv[i + 1] = 0xdead0000ull + i;
	}
	mm->n_auxv = n;
	return 0;
}

static int m_auxv_odd(struct recs *r)
{
	MmEntry *mm = ENTRY(r, 0, MmEntry);

	if (mm->n_auxv < 3)
		return -1;
	mm->n_auxv = 3;
	return 0;
}

static int m_exe_path(struct recs *r)
{
	MmEntry *mm = ENTRY(r, 0, MmEntry);

	free(mm->exe_path);
	mm->exe_path = big_str(100 << 10, 'e');
	return 0;
}

static int m_nr_vmas(struct recs *r)
{
	ENTRY(r, 0, MmEntry)->nr_vmas = 1000000000u;
	return 0;
}

static int m_mm_bounds(struct recs *r)
{
	MmEntry *mm = ENTRY(r, 0, MmEntry);

	mm->has_arg_start = mm->has_arg_end = mm->has_env_start = mm->has_env_end = 1;
	mm->arg_start = 0xfffffffffffff000ull;
	mm->arg_end = 0x1000;
	mm->env_start = 0x1000;
	mm->env_end = 0xfffffffffffff000ull;
	mm->has_brk = mm->has_start_brk = 1;
	mm->start_brk = 0xffffffffffff0000ull;
	mm->brk = 0x1000;
	return 0;
}

static ThreadCore *thread0(struct recs *r)
{
	return r->nr > 1 ? ENTRY(r, 1, ThreadCore) : NULL;
}

static int set_bytes(ProtobufCBinaryData *b, size_t n)
{
	free(b->data);
	b->data = xmalloc(n);
	memset(b->data, 0xa5, n);
	b->len = n;
	return 0;
}

static int m_xstate(struct recs *r)
{
	ThreadCore *t = thread0(r);

	if (!t)
		return -1;
	t->has_xstate = 1;
	return set_bytes(&t->xstate, 1 << 20);
}

static int m_gpregs_short(struct recs *r)
{
	ThreadCore *t = thread0(r);

	if (!t)
		return -1;
	return set_bytes(&t->gpregs, 3);
}

static int m_fpregs_short(struct recs *r)
{
	ThreadCore *t = thread0(r);

	if (!t)
		return -1;
	t->has_fpregs = 1;
	return set_bytes(&t->fpregs, 17);
}

static int m_rseq(struct recs *r)
{
	ThreadCore *t = thread0(r);

	if (!t)
		return -1;
	t->has_rseq_addr = t->has_rseq_len = 1;
	t->rseq_addr = 0xfffffffffffffff0ull;
	t->rseq_len = 0xffffffffu;
	return 0;
}

static int m_sigaction(struct recs *r)
{
	TaskCore *tc = ENTRY(r, 0, TaskCore);

	if (!tc->n_sigactions)
		return -1;
	tc->sigactions[0]->sig = 100000;
	return 0;
}

static int m_tid(struct recs *r)
{
	ThreadCore *t = thread0(r);

	if (!t)
		return -1;
	t->tid = 0;
	return 0;
}

static int m_frame_rawlen(struct recs *r)
{
	if (r->nr < 1)
		return -1;
	ENTRY(r, 0, FrameEntry)->raw_len = 0xfffff000u;
	return 0;
}

static int m_frame_offset(struct recs *r)
{
	if (r->nr < 1)
		return -1;
	ENTRY(r, 0, FrameEntry)->file_offset = 0xfffffffffffffff0ull;
	return 0;
}

static int m_frame_stored(struct recs *r)
{
	if (r->nr < 1)
		return -1;
	ENTRY(r, 0, FrameEntry)->stored_len = 0xffffffffu;
	ENTRY(r, 0, FrameEntry)->flags = 1;
	return 0;
}

/* The first zero run becomes a parent run (head counts follow). */
static int m_parent_run(struct recs *r)
{
	PagemapHead *h = ENTRY(r, 0, PagemapHead);
	size_t i = find_run(r, PE_ZERO);
	PagemapEntry *e;

	if (!i)
		return -1;
	e = ENTRY(r, i, PagemapEntry);
	e->flags = PE_PARENT;
	h->nr_zero -= e->nr_pages;
	h->has_nr_parent = 1;
	h->nr_parent += e->nr_pages;
	return 0;
}

/* Head nr_vmas raised to the count of ARG (default 2e6) more copies of the last VMA. */
static int m_vmas_many_head(struct recs *r)
{
	int ret = m_vmas_many(r);

	ENTRY(r, 0, MmEntry)->nr_vmas = r->nr - 1 + repeat_last;
	return ret;
}

/* Inserts msg at its place by address (key) among records 1..nr-1. */
static void insert_sorted(struct recs *r, ProtobufCMessage *msg, uint64_t key,
			  uint64_t (*key_of)(const ProtobufCMessage *))
{
	size_t i;

	for (i = 1; i < r->nr && key_of(r->m[i]) < key; i++)
		;
	memmove(&r->m[i + 1], &r->m[i], (r->nr - i) * sizeof(*r->m));
	r->m[i] = msg;
	r->nr++;
}

#define HUGE_START	0x100000000000ull	/* 16 TiB, below a PIE binary */
#define HUGE_PAGES	(1ull << 34)		/* 64 TiB */

static uint64_t vma_key(const ProtobufCMessage *m)
{
	return ((const VmaEntry *)m)->start;
}

static uint64_t run_key(const ProtobufCMessage *m)
{
	return ((const PagemapEntry *)m)->vaddr;
}

/* A valid anonymous VMA of 64 TiB (with huge-zero-ok: all zero pages). */
static int m_huge_vma(struct recs *r)
{
	VmaEntry *v = xmalloc(sizeof(*v));

	vma_entry__init(v);
	v->start = HUGE_START;
	v->end = HUGE_START + HUGE_PAGES * 4096;
	v->prot = 3;
	v->flags = 0x22;	/* MAP_PRIVATE | MAP_ANONYMOUS */
	v->kind = VMA_KIND__VMA_ANON_PRIVATE;
	insert_sorted(r, &v->base, v->start, vma_key);
	ENTRY(r, 0, MmEntry)->nr_vmas++;
	return 0;
}

static int m_huge_zero(struct recs *r)
{
	PagemapHead *h = ENTRY(r, 0, PagemapHead);
	PagemapEntry *e = xmalloc(sizeof(*e));

	pagemap_entry__init(e);
	e->vaddr = HUGE_START;
	e->nr_pages = HUGE_PAGES;
	e->flags = PE_ZERO;
	insert_sorted(r, &e->base, e->vaddr, run_key);
	if (h->has_nr_runs)
		h->nr_runs++;
	if (h->has_nr_zero)
		h->nr_zero += HUGE_PAGES;
	return 0;
}

/* A mapped file's path with terminal escape sequences, a C1 CSI and a backslash. */
static int m_vma_ctrl(struct recs *r)
{
	static const char ctrl[] = "/tmp/\033]0;cm-owned\007\033[2J\x9b" "31m\\x";
	size_t i;

	for (i = 1; i < r->nr; i++) {
		VmaEntry *v = ENTRY(r, i, VmaEntry);

		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE || !v->path)
			continue;
		free(v->path);
		v->path = strdup(ctrl);
		return 0;
	}
	return -1;
}

/* The image names itself as its parent. */
static void inv_parent_self(InventoryEntry *inv)
{
	inv->has_parent_id = 1;
	inv->parent_id.data = xmalloc(inv->image_id.len);
	memcpy(inv->parent_id.data, inv->image_id.data, inv->image_id.len);
	inv->parent_id.len = inv->image_id.len;
	inv->parent_path = strdup(".");
}

static const struct mutation mutations[] = {
	{ "none", IMG_MM, m_none, "re-encoded unchanged (control)" },
	{ "run-huge", IMG_PAGEMAP, m_run_huge, "a stored run of 2^40 pages" },
	{ "run-wrap", IMG_PAGEMAP, m_run_wrap, "a run whose end wraps around 2^64" },
	{ "run-outside", IMG_PAGEMAP, m_run_outside, "a run at 0x1000, outside every VMA" },
	{ "run-overlap", IMG_PAGEMAP, m_run_overlap, "two runs at the same address" },
	{ "run-flags", IMG_PAGEMAP, m_run_flags, "a run PRESENT|ZERO" },
	{ "frame-oob", IMG_PAGEMAP, m_frame_oob, "a run in frame 2^32" },
	{ "offset-oob", IMG_PAGEMAP, m_offset_oob, "a run at page 2^63+1 of its frame" },
	{ "page-size", IMG_PAGEMAP, m_page_size, "pagemap head page size 8192" },
	{ "pages-name", IMG_PAGEMAP, m_pages_name, "page store name ../../etc/passwd" },
	{ "vma-inverted", IMG_MM, m_vma_inverted, "a VMA with end < start" },
	{ "vma-overlap", IMG_MM, m_vma_overlap, "a VMA overlapping the next" },
	{ "vma-huge", IMG_MM, m_vma_huge, "the last VMA ends at 2^64-4096" },
	{ "vma-path", IMG_MM, m_vma_path, "a VMA path of 100 KiB" },
	{ "vma-shift", IMG_MM, m_vma_shift, "a VMA page_shift of 63" },
	{ "vma-guard", IMG_MM, m_vma_guard, "a guard range of 2^60 pages" },
	{ "vma-file", IMG_MM, m_vma_file, "an anonymous VMA becomes a missing file's" },
	{ "vma-path-arg", IMG_MM, m_vma_path_arg, "the first mapped file's VMAs get path ARG" },
	{ "exe-arg", IMG_MM, m_exe_arg, "the exe and its VMAs get path ARG" },
	{ "vma-prot", IMG_MM, m_vma_prot, "an anonymous VMA with prot 0xfff" },
	{ "vma-flags", IMG_MM, m_vma_flags, "an anonymous VMA with flags 0xffffffff" },
	{ "vma-kind", IMG_MM, m_vma_kind, "an anonymous VMA of kind 99" },
	{ "vmas-many-arg", IMG_MM, m_vmas_many, "ARG (default 2e6) more copies of the last VMA" },
	{ "vmas-many-head-arg", IMG_MM, m_vmas_many_head,
	  "ARG (default 2e6) more copies of the last VMA, counted by the head" },
	{ "huge-vma-ok", IMG_MM, m_huge_vma, "a valid anonymous VMA of 64 TiB at 16 TiB" },
	{ "huge-zero-ok", IMG_PAGEMAP, m_huge_zero, "a zero run over the huge-vma-ok VMA" },
	{ "vma-ctrl-ok", IMG_MM, m_vma_ctrl, "a file VMA path with terminal escapes" },
	{ "auxv-1e6", IMG_MM, m_auxv, "an auxv of 1e6 entries" },
	{ "auxv-odd", IMG_MM, m_auxv_odd, "an auxv of 3 entries" },
	{ "exe-path", IMG_MM, m_exe_path, "an exe path of 100 KiB" },
	{ "nr-vmas", IMG_MM, m_nr_vmas, "mm head counts 1e9 VMAs" },
	{ "mm-bounds", IMG_MM, m_mm_bounds, "arg/env/brk bounds inverted and out of range" },
	{ "xstate-1m", IMG_CORE, m_xstate, "a thread xstate blob of 1 MiB" },
	{ "gpregs-short", IMG_CORE, m_gpregs_short, "gpregs of 3 bytes" },
	{ "fpregs-short", IMG_CORE, m_fpregs_short, "fpregs of 17 bytes" },
	{ "rseq", IMG_CORE, m_rseq, "rseq area at 2^64-16, 4 GiB long" },
	{ "sigaction", IMG_CORE, m_sigaction, "a sigaction for signal 100000" },
	{ "tid-zero", IMG_CORE, m_tid, "thread id 0" },
	{ "frame-rawlen", IMG_PAGEIDX, m_frame_rawlen, "frame 0 raw length 4 GiB - 4096" },
	{ "frame-offset", IMG_PAGEIDX, m_frame_offset, "frame 0 at file offset 2^64-16" },
	{ "frame-stored", IMG_PAGEIDX, m_frame_stored, "frame 0 stored length 4 GiB - 1" },
	{ "parent-self", IMG_PAGEMAP, m_parent_run, "a parent run; the image is its own parent",
	  inv_parent_self },
};

static int read_recs(const struct img_dir *d, enum img_kind kind, const char *name,
		     struct recs *r)
{
	struct img_reader *rd;
	ProtobufCMessage *msg;
	int ret;

	ret = img_reader_open(d, kind, name, &rd);
	if (ret)
		return ret;
	r->m = xmalloc(MAX_MSGS * sizeof(*r->m));
	while ((ret = img_reader_next(rd, &msg)) > 0) {
		if (r->nr == MAX_MSGS) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = -EOVERFLOW;
			break;
		}
		r->m[r->nr++] = msg;
	}
	img_reader_free(rd);
	return ret;
}

static int write_recs(struct img_dir *d, enum img_kind kind, const char *name,
		      const struct recs *r)
{
	struct img_writer *w;
	size_t i;
	int ret;

	ret = img_writer_open(d, kind, name, &w);
	if (ret)
		return ret;
	for (i = 0; !ret && i < r->nr; i++)
		ret = img_writer_put(w, r->m[i]);
	for (i = 0; !ret && i < repeat_last; i++)
		ret = img_writer_put(w, r->m[r->nr - 1]);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	return img_writer_close(w);
}

static int copy_file(const struct img_dir *src, struct img_dir *dst, const char *name)
{
	int in = img_dir_open_file(src, name), out = -1, ret = 0;
	char buf[1 << 16];
	ssize_t n;

	if (in < 0)
		return in;
	out = img_dir_create_file(dst, name);
	if (out < 0) {
		close(in);
		return out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n) {
			ret = -EIO;
			break;
		}
	}
	if (n < 0)
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	return ret;
}

static const struct mutation *mutation_get(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++)
		if (!strcmp(mutations[i].name, name))
			return &mutations[i];
	return NULL;
}

static int mutate(const char *src, const char *dst, const struct mutation *mu)
{
	struct img_dir *sd = NULL, *dd = NULL;
	InventoryEntry *inv = NULL;
	struct recs r = { 0 };
	char target[64];
	size_t i;
	int ret;

	ret = img_dir_open(src, &sd);
	if (!ret)
		ret = img_inventory_read(sd, &inv);
	if (ret)
		goto out;
	img_kind_filename(mu->kind, inv->root_pid, target, sizeof(target));
	ret = read_recs(sd, mu->kind, target, &r);
	if (ret)
		goto out;
	if (mu->fn(&r)) {
		fprintf(stderr, "cm-mutate: '%s' has nothing for %s\n", target, mu->name);
		ret = -ENOENT;
		goto out;
	}
	if (mu->inv_fn)
		mu->inv_fn(inv);
	ret = img_dir_create(dst, IMG_DIR_NOFSYNC, &dd);
	for (i = 0; !ret && i < inv->n_files; i++) {
		const char *name = inv->files[i]->name;

		if (!strcmp(name, target))
			ret = write_recs(dd, mu->kind, name, &r);
		else
			ret = copy_file(sd, dd, name);
	}
	if (!ret)
		ret = img_dir_commit(dd, inv);
out:
	if (ret)
		fprintf(stderr, "cm-mutate: %s: %s (%s)\n", mu->name, strerror(-ret),
			img_strerror());
	for (i = 0; i < r.nr; i++)
		protobuf_c_message_free_unpacked(r.m[i], NULL);
	free(r.m);
	if (inv)
		inventory_entry__free_unpacked(inv, NULL);
	img_dir_free(dd);
	img_dir_free(sd);
	return ret;
}

int main(int argc, char **argv)
{
	const struct mutation *mu;
	size_t i;

	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++)
			printf("%s\t%s\n", mutations[i].name, mutations[i].what);
		return 0;
	}
	if (argc < 4 || argc > 5 || !(mu = mutation_get(argv[3]))) {
		fprintf(stderr, "usage: cm-mutate SRC DST MUTATION [ARG]   (cm-mutate -l lists them)\n");
		return 2;
	}
	if (argc == 5)
		mut_arg = argv[4];
	return mutate(argv[1], argv[2], mu) ? 1 : 0;
}
