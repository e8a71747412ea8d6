// SPDX-License-Identifier: MIT
/*
 * cmd_diff.c: `criu-mem diff DIR1 DIR2`: what changed between two dumps of
 * the same process: VMAs added, removed or changed (range, prot, flags,
 * madvise state) and page ranges whose contents differ, with byte counts.
 * Only ranges holding pages in either image are read, a chunk at a time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LOG_PREFIX "diff: "
#include "addr.h"
#include "imgopen.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "vma.h"

#define DIFF_CHUNK	(1u << 20)

enum pdiff_kind { PD_CHANGED, PD_ONLY_A, PD_ONLY_B };
static const char *const pdiff_names[] = { "changed", "only_in_1", "only_in_2" };

struct diff_ctx {
	struct img_mem *a, *b;
	const struct img_mem *child;	/* a or b when it is the other's incremental child */
	const char *path_a, *path_b;
	struct json_out *j;	/* NULL: text */
	size_t ps;
	uint8_t *buf_a, *buf_b, *abs_a, *abs_b;
	/* the page range being accumulated */
	int open;
	enum pdiff_kind kind;
	uint64_t start, end, bytes;
	/* totals */
	uint64_t vma_added, vma_removed, vma_changed, ranges, pages, bytes_total;
};

static void diff_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem diff [--json] [-p PID] DIR1 DIR2\n\n"
		   "Compares two dumps of the same process: VMAs added, removed or changed\n"
		   "(range, prot, flags, madvise state), and page ranges whose contents differ\n"
		   "with the number of differing bytes. Exit status 0 when equal, 5 when not.\n\n"
		   "  -j, --json      machine-readable output\n"
		   "  -p, --pid PID   process to compare (default: the root process of each)\n");
}

/* " +dd -hg": vm_flags bits set or cleared between a and b. */
static void vmflags_delta(uint64_t a, uint64_t b, char *out, size_t len)
{
	size_t i, o = 0;

	out[0] = 0;
	for (i = 0; i < vmflag_table_len && o + 5 < len; i++) {
		uint64_t bit = 1ull << vmflag_table[i].bit;

		if ((a ^ b) & bit)
			o += snprintf(out + o, len - o, " %c%.2s", b & bit ? '+' : '-',
				      vmflag_table[i].name);
	}
}

static void diff_vma_json(struct diff_ctx *c, const char *key, const VmaEntry *v)
{
	char prot[5];

	imgopen_perms(v, prot);
	json_obj_begin(c->j, key);
	json_hex(c->j, "start", v->start);
	json_hex(c->j, "end", v->end);
	json_str(c->j, "prot", prot);
	json_u64(c->j, "flags", v->flags);
	json_hex(c->j, "vm_flags", v->vm_flags);
	json_str(c->j, "name", addr_vma_name(v));
	json_obj_end(c->j);
}

static void diff_vma_one(struct diff_ctx *c, const char *what, const VmaEntry *v)
{
	char prot[5];

	if (c->j) {
		json_obj_begin(c->j, NULL);
		json_str(c->j, "change", what);
		diff_vma_json(c, what[0] == 'a' ? "new" : "old", v);
		json_obj_end(c->j);
		return;
	}
	imgopen_perms(v, prot);
	printf("vma %-7s %012lx-%012lx %s %s\n", what, (unsigned long)v->start,
	       (unsigned long)v->end, prot, addr_vma_name(v));
}

/* Reports a VMA present at the same start in both; returns 1 when it changed. */
static int diff_vma_pair(struct diff_ctx *c, const VmaEntry *a, const VmaEntry *b)
{
	const char *na = addr_vma_name(a), *nb = addr_vma_name(b);
	char pa[5], pb[5], mv[256], what[512];
	size_t o = 0;

	imgopen_perms(a, pa);
	imgopen_perms(b, pb);
	vmflags_delta(a->vm_flags, b->vm_flags, mv, sizeof(mv));
	what[0] = 0;
	if (a->end != b->end)
		o += snprintf(what + o, sizeof(what) - o, " end %#lx -> %#lx",
			      (unsigned long)a->end, (unsigned long)b->end);
	if (strcmp(pa, pb) || a->flags != b->flags)
		o += snprintf(what + o, sizeof(what) - o, " prot %s -> %s", pa, pb);
	if (mv[0])
		o += snprintf(what + o, sizeof(what) - o, " vmflags%s", mv);
	if (strcmp(na, nb) || a->kind != b->kind)
		o += snprintf(what + o, sizeof(what) - o, " name '%s' -> '%s'", na, nb);
	if (!o)
		return 0;
	if (c->j) {
		json_obj_begin(c->j, NULL);
		json_str(c->j, "change", "changed");
		diff_vma_json(c, "old", a);
		diff_vma_json(c, "new", b);
		json_str(c->j, "what", what + 1);
		json_obj_end(c->j);
	} else {
		printf("vma changed %012lx-%012lx %s %s:%s\n", (unsigned long)b->start,
		       (unsigned long)b->end, pb, nb, what);
	}
	return 1;
}

static void diff_vmas(struct diff_ctx *c)
{
	size_t i = 0, k = 0;

	if (c->j)
		json_arr_begin(c->j, "vmas");
	while (i < c->a->nr_vmas || k < c->b->nr_vmas) {
		const VmaEntry *va = i < c->a->nr_vmas ? c->a->vmas[i] : NULL;
		const VmaEntry *vb = k < c->b->nr_vmas ? c->b->vmas[k] : NULL;

		if (va && vb && va->start == vb->start) {
			c->vma_changed += diff_vma_pair(c, va, vb);
			i++;
			k++;
		} else if (va && (!vb || va->start < vb->start)) {
			diff_vma_one(c, "removed", va);
			c->vma_removed++;
			i++;
		} else {
			diff_vma_one(c, "added", vb);
			c->vma_added++;
			k++;
		}
	}
	if (c->j)
		json_arr_end(c->j);
}

/* ------------------------------------------------------------------ */
/* Page contents                                                       */

static void diff_range_flush(struct diff_ctx *c)
{
	const VmaEntry *v;
	uint64_t np;

	if (!c->open)
		return;
	c->open = 0;
	np = (c->end - c->start) / c->ps;
	c->ranges++;
	c->pages += np;
	c->bytes_total += c->bytes;
	v = img_mem_find_vma(c->kind == PD_ONLY_A ? c->a : c->b, c->start);
	if (c->j) {
		json_obj_begin(c->j, NULL);
		json_hex(c->j, "start", c->start);
		json_hex(c->j, "end", c->end);
		json_u64(c->j, "pages", np);
		json_str(c->j, "state", pdiff_names[c->kind]);
		json_u64(c->j, "bytes", c->bytes);
		json_str(c->j, "vma", v ? addr_vma_name(v) : NULL);
		json_hex(c->j, "offset", v ? c->start - v->start : 0);
		json_obj_end(c->j);
		return;
	}
	printf("pages %012lx-%012lx %6lu %s+%#lx: ", (unsigned long)c->start,
	       (unsigned long)c->end, (unsigned long)np, v ? addr_vma_name(v) : "?",
	       (unsigned long)(v ? c->start - v->start : 0));
	if (c->kind == PD_CHANGED)
		printf("%lu bytes differ\n", (unsigned long)c->bytes);
	else
		printf("only in %s (%lu nonzero bytes)\n",
		       c->kind == PD_ONLY_A ? c->path_a : c->path_b, (unsigned long)c->bytes);
}

static void diff_page(struct diff_ctx *c, uint64_t addr, enum pdiff_kind kind, uint64_t bytes)
{
	if (c->open && (c->kind != kind || c->end != addr))
		diff_range_flush(c);
	if (!c->open) {
		c->open = 1;
		c->kind = kind;
		c->start = addr;
		c->bytes = 0;
	}
	c->end = addr + c->ps;
	c->bytes += bytes;
}

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0;
	size_t i;

	if (!memcmp(a, b, n))
		return 0;
	for (i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

static uint64_t count_nonzero(const uint8_t *a, size_t n)
{
	uint64_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d += a[i] != 0;
	return d;
}

/*
 * An absent page of anonymous memory was never touched and reads as zeros,
 * so a zero page on the other side is no difference. Absent file-backed
 * pages hold the file's bytes, which the image does not know.
 */
static int diff_absent_is_zero(const struct img_mem *present_in, uint64_t addr)
{
	const VmaEntry *v = img_mem_find_vma(present_in, addr);

	return v && !(v->path && v->path[0] == '/');
}

/* Compares [s, s + n) (page aligned, n <= DIFF_CHUNK) in both images. */
static int diff_chunk(struct diff_ctx *c, uint64_t s, size_t n)
{
	size_t i, np = n / c->ps;
	long ra, rb;

	ra = img_mem_read(c->a, s, c->buf_a, n, c->abs_a);
	rb = ra < 0 ? 0 : img_mem_read(c->b, s, c->buf_b, n, c->abs_b);
	if (ra < 0 || rb < 0)
		return cm_err((int)(ra < 0 ? ra : rb), "cannot read %#lx-%#lx from '%s' (%s)",
			      (unsigned long)s, (unsigned long)(s + n),
			      ra < 0 ? c->path_a : c->path_b, img_strerror());
	for (i = 0; i < np; i++) {
		int xa = (c->abs_a[i / 8] >> (i % 8)) & 1, xb = (c->abs_b[i / 8] >> (i % 8)) & 1;
		const uint8_t *pa = c->buf_a + i * c->ps, *pb = c->buf_b + i * c->ps;
		uint64_t d;

		if (xa && xb)
			continue;
		if (xa || xb) {
			d = count_nonzero(xa ? pb : pa, c->ps);
			if (d || !diff_absent_is_zero(xa ? c->b : c->a, s + i * c->ps))
				diff_page(c, s + i * c->ps, xa ? PD_ONLY_B : PD_ONLY_A, d);
			continue;
		}
		d = count_diff(pa, pb, c->ps);
		if (d)
			diff_page(c, s + i * c->ps, PD_CHANGED, d);
	}
	return 0;
}

/* Start of the first run of m that ends after addr, or UINT64_MAX. */
static uint64_t next_run_start(const struct img_mem *m, uint64_t addr)
{
	size_t i = img_mem_run_index(m, addr);

	return i < m->nr_runs ? MAX(m->runs[i].vaddr, addr) : UINT64_MAX;
}

/*
 * When one image is the incremental child of the other, its PE_PARENT
 * pages equal the other's by construction. Returns the end of such a
 * stretch at addr (> addr), or addr when addr is not in one; *next is set
 * to the start of the next such stretch.
 */
static uint64_t parent_stretch(const struct diff_ctx *c, uint64_t addr, uint64_t *next)
{
	const struct img_mem *m = c->child;
	size_t i;

	*next = UINT64_MAX;
	if (!m)
		return addr;
	for (i = img_mem_run_index(m, addr); i < m->nr_runs; i++) {
		if (m->runs[i].flags != PE_PARENT)
			continue;
		if (m->runs[i].vaddr > addr) {
			*next = m->runs[i].vaddr;
			return addr;
		}
		return m->runs[i].vaddr + m->runs[i].nr_pages * m->page_size;
	}
	return addr;
}

/* Compares the pages of [s, e), mapped in both, skipping stretches with no runs. */
static int diff_common(struct diff_ctx *c, uint64_t s, uint64_t e)
{
	uint64_t cur = s, na, nb, pend, pnext, n;
	int ret;

	while (cur < e) {
		na = next_run_start(c->a, cur);
		nb = next_run_start(c->b, cur);
		cur = MIN(na, nb);
		if (cur >= e)
			break;
		cur = ALIGN_DOWN(cur, (uint64_t)c->ps);
		pend = parent_stretch(c, cur, &pnext);
		if (pend > cur) {	/* unchanged by construction */
			cur = pend;
			continue;
		}
		n = MIN(MIN((uint64_t)DIFF_CHUNK, e - cur), pnext - cur);
		ret = diff_chunk(c, cur, n);
		if (ret)
			return ret;
		cur += n;
	}
	return 0;
}

/* Walks the intersection of both VMA lists. */
static int diff_pages(struct diff_ctx *c)
{
	size_t i = 0, k = 0;
	int ret = 0;

	if (c->j)
		json_arr_begin(c->j, "pages");
	while (!ret && i < c->a->nr_vmas && k < c->b->nr_vmas) {
		const VmaEntry *va = c->a->vmas[i], *vb = c->b->vmas[k];
		uint64_t s = MAX(va->start, vb->start), e = MIN(va->end, vb->end);

		if (s < e)
			ret = diff_common(c, s, e);
		if (va->end <= vb->end)
			i++;
		else
			k++;
	}
	if (!ret)
		diff_range_flush(c);
	if (c->j)
		json_arr_end(c->j);
	return ret;
}

static int diff_run(struct diff_ctx *c)
{
	size_t bm = (DIFF_CHUNK / c->ps + 7) / 8 + 1;
	int ret;

	c->buf_a = malloc(DIFF_CHUNK);
	c->buf_b = malloc(DIFF_CHUNK);
	c->abs_a = malloc(bm);
	c->abs_b = malloc(bm);
	if (!c->buf_a || !c->buf_b || !c->abs_a || !c->abs_b) {
		ret = cm_err(-ENOMEM, "cannot allocate the compare buffers");
		goto out;
	}
	if (c->j) {
		json_obj_begin(c->j, NULL);
		json_u64(c->j, "pid1", c->a->pid);
		json_u64(c->j, "pid2", c->b->pid);
	}
	diff_vmas(c);
	ret = diff_pages(c);
	if (ret)
		goto out;
	if (c->j) {
		json_obj_begin(c->j, "summary");
		json_u64(c->j, "vmas_added", c->vma_added);
		json_u64(c->j, "vmas_removed", c->vma_removed);
		json_u64(c->j, "vmas_changed", c->vma_changed);
		json_u64(c->j, "page_ranges", c->ranges);
		json_u64(c->j, "pages", c->pages);
		json_u64(c->j, "bytes", c->bytes_total);
		json_obj_end(c->j);
		json_obj_end(c->j);
		json_finish(c->j);
	} else {
		printf("summary: %lu VMAs added, %lu removed, %lu changed; %lu page ranges "
		       "(%lu pages, %lu bytes) differ\n", (unsigned long)c->vma_added,
		       (unsigned long)c->vma_removed, (unsigned long)c->vma_changed,
		       (unsigned long)c->ranges, (unsigned long)c->pages,
		       (unsigned long)c->bytes_total);
	}
out:
	free(c->buf_a);
	free(c->buf_b);
	free(c->abs_a);
	free(c->abs_b);
	return ret;
}

static int diff_is_child(const InventoryEntry *child, const InventoryEntry *parent)
{
	return child->has_parent_id && child->parent_id.len == parent->image_id.len &&
	       parent->image_id.len && !memcmp(child->parent_id.data, parent->image_id.data,
					       parent->image_id.len);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct imgopen ia = { 0 }, ib = { 0 };
	struct diff_ctx c = { 0 };
	struct json_out j;
	unsigned int pid = 0;
	int o, json = 0, ret;

	while ((o = getopt_long(argc, argv, "jp:h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = 1;
			break;
		case 'p':
			if (imgopen_pid_arg(optarg, &pid))
				return CM_EXIT_USAGE;
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(o, diff_usage);
		}
	}
	if (argc - optind != 2) {
		diff_usage(stderr);
		return CM_EXIT_USAGE;
	}
	c.path_a = argv[optind];
	c.path_b = argv[optind + 1];
	ret = imgopen_proc(&ia, c.path_a, pid);
	if (!ret)
		ret = imgopen_proc(&ib, c.path_b, pid);
	if (ret)
		goto out;
	c.a = ia.mem;
	c.b = ib.mem;
	c.child = diff_is_child(ib.inv, ia.inv) ? c.b : diff_is_child(ia.inv, ib.inv) ? c.a : NULL;
	c.ps = c.a->page_size;
	if (c.b->page_size != c.ps || c.ps < 8 || (c.ps & (c.ps - 1))) {
		ret = cm_err(-EINVAL, "page sizes differ (%zu and %zu)", c.ps, c.b->page_size);
		goto out;
	}
	if (json) {
		json_init(&j, stdout, 1);
		c.j = &j;
	}
	ret = diff_run(&c);
out:
	fflush(stdout);
	imgopen_close(&ia);
	imgopen_close(&ib);
	if (ret)
		return cm_exit_code(ret);
	return c.vma_added || c.vma_removed || c.vma_changed || c.ranges ? CM_EXIT_DIFF :
									   CM_EXIT_OK;
}
