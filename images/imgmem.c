// SPDX-License-Identifier: MIT
/*
 * imgmem.c: loads one process's image (mm, core, pagemap, pageidx) for
 * random access, checks every cross reference, and reads memory through a
 * small cache of decompressed frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgint.h"
#include "util.h"

struct mem_chk {
	img_problem_cb cb;
	void *arg;
	int nr;
};

/* Reports a problem; returns 0 to go on (check mode) or the error. */
static int chk(struct mem_chk *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int chk(struct mem_chk *c, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->nr++;
	if (c->cb) {
		c->cb(c->arg, msg);
		return 0;
	}
	return img_err(err, "%s", msg);
}

/* Grows *arr to hold n + 1 elements of size sz. */
static int grow(void *arrp, size_t *cap, size_t n, size_t sz)
{
	int ret = array_grow(arrp, cap, n, sz, 64);

	if (ret)
		return img_err(ret, "no memory for %zu entries", n + 1);
	return 0;
}

/*
 * Reads head + entries of a record file; entries go to *arr. At most @max
 * entries (and, for mm, no more than the head's nr_vmas) and
 * IMG_MAX_LOAD_BYTES of records are kept: -EOVERFLOW past that.
 */
static int load_records(const struct img_dir *d, enum img_kind kind, unsigned int pid,
			ProtobufCMessage **head, void *arrp, size_t *nr, size_t max)
{
	ProtobufCMessage ***arr = arrp, *msg;
	struct img_reader *r = NULL;
	uint64_t bytes = 0;
	char name[64];
	size_t cap = 0;
	int ret;

	*nr = 0;
	img_kind_filename(kind, pid, name, sizeof(name));
	ret = img_reader_open(d, kind, name, &r);
	if (ret)
		return ret;
	while ((ret = img_reader_next(r, &msg)) > 0) {
		if (head && !*head) {
			*head = msg;
			if (kind != IMG_MM)
				continue;
			if (((MmEntry *)msg)->nr_vmas > max) {
				ret = img_err(-EOVERFLOW, "'%s': head counts %u vmas, more than %zu",
					      name, ((MmEntry *)msg)->nr_vmas, max);
				break;
			}
			max = ((MmEntry *)msg)->nr_vmas;
			continue;
		}
		bytes += protobuf_c_message_get_packed_size(msg);
		if (*nr >= max || bytes > IMG_MAX_LOAD_BYTES) {
			protobuf_c_message_free_unpacked(msg, NULL);
			if (bytes > IMG_MAX_LOAD_BYTES)
				ret = img_err(-EOVERFLOW, "'%s': records take more than %llu bytes",
					      name, (unsigned long long)IMG_MAX_LOAD_BYTES);
			else
				ret = img_err(-EOVERFLOW, "'%s': more than %zu records%s", name, max,
					      kind == IMG_MM ? ", the vma count of the head" : "");
			break;
		}
		ret = grow(arr, &cap, *nr, sizeof(**arr));
		if (ret) {
			protobuf_c_message_free_unpacked(msg, NULL);
			break;
		}
		(*arr)[(*nr)++] = msg;
	}
	img_reader_free(r);
	return ret;
}

/* Calls cb for every record of a file, freeing each after the call. */
static int walk_records(const struct img_dir *d, enum img_kind kind, unsigned int pid,
			int (*cb)(void *arg, uint64_t idx, ProtobufCMessage *msg), void *arg)
{
	struct img_reader *r = NULL;
	ProtobufCMessage *msg;
	uint64_t idx = 0;
	char name[64];
	int ret;

	img_kind_filename(kind, pid, name, sizeof(name));
	ret = img_reader_open(d, kind, name, &r);
	if (ret)
		return ret;
	while ((ret = img_reader_next(r, &msg)) > 0) {
		ret = cb(arg, idx++, msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret < 0)
			break;
	}
	img_reader_free(r);
	return ret;
}

/* Validator problems go through chk() with the file name; the first error is kept. */
struct vprob {
	struct mem_chk *c;
	const char *name;
	int err;
};

static void vprob_cb(void *arg, const char *msg)
{
	struct vprob *p = arg;
	int ret;

	if (p->err && !p->c->cb)	/* not checking: the first problem is the error */
		return;
	ret = chk(p->c, -EBADMSG, "'%s': %s", p->name, msg);
	if (!p->err)
		p->err = ret;
}

static int check_vmas(struct img_mem *m, struct mem_chk *c, const char *name)
{
	uint64_t pmask = m->page_size - 1;
	size_t i, j = 0, nr = m->nr_vmas;
	char why[256];
	int ret = 0;

	for (i = 0; i < m->nr_vmas && !ret; i++) {
		VmaEntry *v = m->vmas[i];
		int range_ok = img_va_range_ok(v->start, v->end) && !((v->start | v->end) & pmask);
		int order_ok = !j || m->vmas[j - 1]->end <= v->start;

		if (img_validate_vma(v, why, sizeof(why)))
			ret = chk(c, -EBADMSG, "'%s': %s (record %zu)", name, why, i + 1);
		else if (!range_ok)
			ret = chk(c, -EBADMSG, "'%s': vma %zu %#llx-%#llx is not aligned to pages of %zu",
				  name, i, (unsigned long long)v->start,
				  (unsigned long long)v->end, m->page_size);
		else if (!order_ok)
			ret = chk(c, -EBADMSG, "'%s': vma %zu %#llx-%#llx overlaps or precedes the previous one",
				  name, i, (unsigned long long)v->start, (unsigned long long)v->end);
		if (range_ok && order_ok) {	/* kept even with bad bits: runs stay checkable */
			m->vmas[j++] = v;
			continue;
		}
		vma_entry__free_unpacked(v, NULL);
	}
	for (; i < m->nr_vmas; i++)
		m->vmas[j++] = m->vmas[i];
	m->nr_vmas = j;
	if (!ret && m->mm->nr_vmas != nr)
		ret = chk(c, -EBADMSG, "'%s': head counts %u vmas, file has %zu", name,
			  m->mm->nr_vmas, nr);
	return ret;
}

static int load_mm(const struct img_dir *d, struct img_mem *m, struct mem_chk *c)
{
	ProtobufCMessage *head = NULL;
	struct vprob vp = { c, NULL, 0 };
	char name[64];
	int ret;

	img_kind_filename(IMG_MM, m->pid, name, sizeof(name));
	ret = load_records(d, IMG_MM, m->pid, &head, &m->vmas, &m->nr_vmas, IMG_MAX_VMAS);
	m->mm = (MmEntry *)head;
	if (ret)
		return ret;
	if (!m->mm)
		return img_err(-EBADMSG, "'%s': no head record", name);
	vp.name = name;
	img_validate_mm(m->mm, vprob_cb, &vp);
	if (vp.err)
		return vp.err;
	return check_vmas(m, c, name);
}

static int load_core(const struct img_dir *d, struct img_mem *m, struct mem_chk *c)
{
	ProtobufCMessage *head = NULL;
	struct vprob vp = { c, NULL, 0 };
	char name[64];
	int fd, ret;

	img_kind_filename(IMG_CORE, m->pid, name, sizeof(name));
	fd = openat(img_dir_fd(d), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	close_safe(&fd);
	ret = load_records(d, IMG_CORE, m->pid, &head, &m->threads, &m->nr_threads,
			   IMG_MAX_THREADS);
	m->task = (TaskCore *)head;
	if (ret)
		return ret;
	vp.name = name;
	img_validate_core(m->task, m->threads, m->nr_threads, vprob_cb, &vp);
	return vp.err;
}

static int check_frame(struct img_mem *m, struct mem_chk *c, const FrameEntry *fe, size_t i,
		       uint64_t *prev_end, uint64_t fsize)
{
	struct img_mem_cache *mc = m->cache;
	unsigned long long id = fe->id;
	uint64_t end;

	if (fe->id != i)
		return chk(c, -EBADMSG, "'%s': frame entry %zu has id %llu", mc->pages_name, i, id);
	if (!fe->raw_len || fe->raw_len > IMG_MAX_FRAME_RAW || fe->raw_len % m->page_size)
		return chk(c, -EBADMSG, "frame %llu: raw length %u is invalid", id, fe->raw_len);
	if ((fe->flags & ~FRAME_ZSTD) || !fe->stored_len ||
	    fe->stored_len > img_frame_stored_max() ||
	    (!(fe->flags & FRAME_ZSTD) && fe->stored_len != fe->raw_len))
		return chk(c, -EBADMSG, "frame %llu: flags %#x / stored length %u are invalid", id,
			   fe->flags, fe->stored_len);
	end = fe->file_offset + IMG_FRAME_HDR_SIZE + fe->stored_len;
	if (fe->file_offset < *prev_end || end < fe->file_offset || end > fsize)
		return chk(c, -EBADMSG, "frame %llu: offset %llu does not fit '%s' (%llu bytes)", id,
			   (unsigned long long)fe->file_offset, mc->pages_name,
			   (unsigned long long)fsize);
	*prev_end = end;
	return 1;
}

struct frames_ctx {
	struct img_mem *m;
	struct mem_chk *c;
	uint64_t prev_end, fsize;
	size_t cap;
};

static int frame_cb(void *arg, uint64_t idx, ProtobufCMessage *msg)
{
	struct frames_ctx *fc = arg;
	struct img_mem *m = fc->m;
	const FrameEntry *fe = (const FrameEntry *)msg;
	int ret;

	ret = grow(&m->frames, &fc->cap, m->nr_frames, sizeof(*m->frames));
	if (ret)
		return ret;
	ret = check_frame(m, fc->c, fe, idx, &fc->prev_end, fc->fsize);
	if (ret < 0)
		return ret;
	m->frames[m->nr_frames++] = (struct img_frame){ .id = idx,
		.file_offset = fe->file_offset, .raw_len = ret ? fe->raw_len : 0,
		.stored_len = fe->stored_len, .flags = fe->flags, .xxh3 = fe->xxh3 };
	if (ret) {
		m->cache->max_raw = MAX(m->cache->max_raw, fe->raw_len);
		m->cache->max_stored = MAX(m->cache->max_stored, fe->stored_len);
	}
	return 0;
}

static int load_frames(const struct img_dir *d, struct img_mem *m, struct mem_chk *c)
{
	struct frames_ctx fc = { m, c, IMG_HDR_SIZE, 0, 0 };
	struct stat st;

	if (fstat(m->pages_fd, &st))
		return img_err(-errno, "cannot stat '%s'", m->cache->pages_name);
	fc.fsize = st.st_size;
	return walk_records(d, IMG_PAGEIDX, m->pid, frame_cb, &fc);
}

size_t img_mem_vma_index(const struct img_mem *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->vmas[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the VMA containing addr, or -1. */
static long vma_index(const struct img_mem *m, uint64_t addr)
{
	size_t lo = img_mem_vma_index(m, addr);

	if (lo < m->nr_vmas && m->vmas[lo]->start <= addr)
		return lo;
	return -1;
}

/* Checks that [start, end) is covered by contiguous VMAs. */
static int run_in_vmas(const struct img_mem *m, uint64_t start, uint64_t end)
{
	long idx = vma_index(m, start);
	size_t i;

	if (idx < 0)
		return 0;
	i = idx;
	while (m->vmas[i]->end < end) {
		if (i + 1 >= m->nr_vmas || m->vmas[i + 1]->start != m->vmas[i]->end)
			return 0;
		i++;
	}
	return 1;
}

static int check_run(struct img_mem *m, struct mem_chk *c, const struct img_run *r,
		     const char *name)
{
	unsigned long long va = r->vaddr, n = r->nr_pages;
	const struct img_run *prev = m->nr_runs ? &m->runs[m->nr_runs - 1] : NULL;
	uint64_t end;

	if (!n || n > (UINT64_MAX / m->page_size) || (va & (m->page_size - 1)) ||
	    add_overflow(r->vaddr, r->nr_pages * m->page_size, &end))
		return chk(c, -EBADMSG, "'%s': run %#llx (%llu pages) is empty, unaligned or too long",
			   name, va, n);
	if (r->flags != PE_PRESENT && r->flags != PE_ZERO && r->flags != PE_PARENT &&
	    r->flags != PE_LAZY)
		return chk(c, -EBADMSG, "'%s': run %#llx has bad flags %#x", name, va, r->flags);
	if (prev && prev->vaddr + prev->nr_pages * m->page_size > r->vaddr)
		return chk(c, -EBADMSG, "'%s': run %#llx (%llu pages) overlaps or precedes run %#llx",
			   name, va, n, (unsigned long long)prev->vaddr);
	if (!run_in_vmas(m, r->vaddr, end))
		return chk(c, -EBADMSG, "'%s': run %#llx (%llu pages) is outside every VMA", name,
			   va, n);
	if (r->flags != PE_PRESENT)
		return 1;
	if (r->frame >= m->nr_frames || !m->frames[r->frame].raw_len)
		return chk(c, -EBADMSG, "'%s': run %#llx refers to missing frame %llu", name, va,
			   (unsigned long long)r->frame);
	if (r->offset > m->frames[r->frame].raw_len / m->page_size ||
	    n > m->frames[r->frame].raw_len / m->page_size - r->offset)
		return chk(c, -EBADMSG, "'%s': run %#llx (%llu pages at %llu) overruns frame %llu",
			   name, va, n, (unsigned long long)r->offset, (unsigned long long)r->frame);
	return 1;
}

static int check_head(struct mem_chk *c, const PagemapHead *h, const uint64_t cnt[4],
		      size_t nr_runs, const char *name)
{
	int ret = 0;

	if (h->has_nr_runs && h->nr_runs != nr_runs)
		ret = chk(c, -EBADMSG, "'%s': head counts %llu runs, file has %zu", name,
			  (unsigned long long)h->nr_runs, nr_runs);
	if (!ret && ((h->has_nr_stored && h->nr_stored != cnt[0]) ||
		     (h->has_nr_zero && h->nr_zero != cnt[1]) ||
		     (h->has_nr_parent && h->nr_parent != cnt[2]) ||
		     (h->has_nr_lazy && h->nr_lazy != cnt[3])))
		ret = chk(c, -EBADMSG, "'%s': head page counts do not match the runs", name);
	return ret;
}

struct counts_ctx {
	PagemapHead head;	/* counts only */
	int has_head;
	uint64_t cnt[4], nr;
};

static void head_counts(PagemapHead *dst, const PagemapHead *h)
{
	pagemap_head__init(dst);
	dst->has_nr_runs = h->has_nr_runs;
	dst->nr_runs = h->nr_runs;
	dst->has_nr_stored = h->has_nr_stored;
	dst->nr_stored = h->nr_stored;
	dst->has_nr_zero = h->has_nr_zero;
	dst->nr_zero = h->nr_zero;
	dst->has_nr_parent = h->has_nr_parent;
	dst->nr_parent = h->nr_parent;
	dst->has_nr_lazy = h->has_nr_lazy;
	dst->nr_lazy = h->nr_lazy;
}

static int count_cb(void *arg, uint64_t idx, ProtobufCMessage *msg)
{
	struct counts_ctx *cc = arg;
	const PagemapEntry *pe = (const PagemapEntry *)msg;

	if (idx == 0) {
		head_counts(&cc->head, (const PagemapHead *)msg);
		cc->has_head = 1;
		return 0;
	}
	cc->nr++;
	switch (pe->flags) {
	case PE_PRESENT: cc->cnt[0] += pe->nr_pages; break;
	case PE_ZERO: cc->cnt[1] += pe->nr_pages; break;
	case PE_PARENT: cc->cnt[2] += pe->nr_pages; break;
	case PE_LAZY: cc->cnt[3] += pe->nr_pages; break;
	default:
		return img_err(-EBADMSG, "pagemap record %llu has bad flags %#x",
			       (unsigned long long)idx, pe->flags);
	}
	return 0;
}

int img_pagemap_counts(const struct img_dir *d, unsigned int pid, struct img_pagemap_counts *out)
{
	struct counts_ctx cc = { .has_head = 0 };
	struct mem_chk c = { 0 };
	char name[64];
	int ret;

	img_kind_filename(IMG_PAGEMAP, pid, name, sizeof(name));
	ret = walk_records(d, IMG_PAGEMAP, pid, count_cb, &cc);
	if (!ret && !cc.has_head)
		ret = img_err(-EBADMSG, "'%s': no head record", name);
	if (!ret)
		ret = check_head(&c, &cc.head, cc.cnt, cc.nr, name);
	if (ret)
		return ret;
	*out = (struct img_pagemap_counts){ cc.nr, cc.cnt[0], cc.cnt[1], cc.cnt[2], cc.cnt[3] };
	return 0;
}

struct runs_ctx {
	struct img_mem *m;
	struct mem_chk *c;
	PagemapHead head;	/* counts only */
	int has_head;
	uint64_t cnt[4], nr;
	size_t cap;
	char name[64];
};

static int run_cb(void *arg, uint64_t idx, ProtobufCMessage *msg)
{
	struct runs_ctx *rc = arg;
	struct img_mem *m = rc->m;
	const PagemapEntry *pe = (const PagemapEntry *)msg;
	struct img_run r;
	int ret;

	if (idx == 0) {	/* the head: kept for the count checks */
		head_counts(&rc->head, (const PagemapHead *)msg);
		rc->has_head = 1;
		return 0;
	}
	rc->nr++;
	r = (struct img_run){ pe->vaddr, pe->nr_pages, pe->flags, pe->frame, pe->offset };
	ret = check_run(m, rc->c, &r, rc->name);
	if (ret <= 0)
		return ret;
	ret = grow(&m->runs, &rc->cap, m->nr_runs, sizeof(*m->runs));
	if (ret)
		return ret;
	m->runs[m->nr_runs++] = r;
	rc->cnt[r.flags == PE_PRESENT ? 0 : r.flags == PE_ZERO ? 1 :
		r.flags == PE_PARENT ? 2 : 3] += r.nr_pages;
	return 0;
}

static int load_runs(const struct img_dir *d, struct img_mem *m, struct mem_chk *c)
{
	struct runs_ctx rc = { .m = m, .c = c };
	int ret;

	img_kind_filename(IMG_PAGEMAP, m->pid, rc.name, sizeof(rc.name));
	ret = walk_records(d, IMG_PAGEMAP, m->pid, run_cb, &rc);
	if (!ret && !rc.has_head)
		ret = img_err(-EBADMSG, "'%s': no head record", rc.name);
	if (!ret)
		ret = check_head(c, &rc.head, rc.cnt, rc.nr, rc.name);
	return ret;
}

/* The directory of the parent named by @inv, relative to @dir. NULL on no memory. */
static char *parent_dir_path(const char *dir, const InventoryEntry *inv)
{
	char *path;

	if (asprintf(&path, inv->parent_path[0] == '/' ? "%.0s%s" : "%s/%s", dir,
		     inv->parent_path) < 0)
		return NULL;
	return path;
}

static int same_id(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/*
 * Walks the parent chain of the image at @dir (inventory @inv) through the
 * ancestors' inventories: -ELOOP when an image id comes back or the chain
 * is deeper than IMG_MAX_CHAIN. An ancestor that is missing or has another
 * id ends the walk (its pages are reported absent when needed).
 */
static int parent_chain_check(const char *dir, const InventoryEntry *inv)
{
	const InventoryEntry *chain[IMG_MAX_CHAIN + 1] = { inv };
	InventoryEntry *held[IMG_MAX_CHAIN + 1] = { NULL };
	char *path = NULL, *cur = strdup(dir), sb[512], sp[512];
	struct img_dir *pd;
	int n, k, ret = cur ? 0 : img_err(-ENOMEM, "no memory");

	for (n = 0; !ret && chain[n]->has_parent_id && chain[n]->parent_path; n++) {
		if (n == IMG_MAX_CHAIN) {
			ret = img_err(-ELOOP, "parent chain of '%s' is longer than %d images",
				      img_str_safe(dir, sb, sizeof(sb)), IMG_MAX_CHAIN);
			break;
		}
		path = parent_dir_path(cur, chain[n]);
		if (!path) {
			ret = img_err(-ENOMEM, "no memory");
			break;
		}
		pd = NULL;
		if (img_dir_open(path, &pd) || img_inventory_read(pd, &held[n + 1]) ||
		    !same_id(&held[n + 1]->image_id, &chain[n]->parent_id)) {
			img_dir_free(pd);
			break;	/* reported when the pages are needed */
		}
		img_dir_free(pd);
		chain[n + 1] = held[n + 1];
		for (k = 0; k <= n; k++)
			if (same_id(&chain[k]->image_id, &chain[n + 1]->image_id))
				ret = img_err(-ELOOP, "parent chain of '%s' loops: '%s' is image %d "
					      "of the chain again", img_str_safe(dir, sb, sizeof(sb)),
					      img_str_safe(path, sp, sizeof(sp)), k);
		free(cur);
		cur = path;
		path = NULL;
	}
	free(path);
	free(cur);
	for (k = 0; k <= IMG_MAX_CHAIN; k++)
		if (held[k])
			inventory_entry__free_unpacked(held[k], NULL);
	return ret;
}

/* Page size from pagemap head (must match the inventory when there is one). */
static int load_meta(const struct img_dir *d, struct img_mem *m, struct mem_chk *c)
{
	struct img_mem_cache *mc = m->cache;
	InventoryEntry *inv = NULL;
	struct img_reader *r = NULL;
	ProtobufCMessage *msg = NULL;
	PagemapHead *h;
	char name[64];
	int ret;

	img_kind_filename(IMG_PAGEMAP, m->pid, name, sizeof(name));
	ret = img_reader_open(d, IMG_PAGEMAP, name, &r);
	if (!ret)
		ret = img_reader_next(r, &msg);
	img_reader_free(r);
	if (ret == 0)
		ret = img_err(-EBADMSG, "'%s': no head record", name);
	if (ret < 0)
		return ret;
	ret = 0;
	h = (PagemapHead *)msg;
	m->page_size = h->page_size;
	if (h->page_size < 4096 || h->page_size > (1u << 30) || (h->page_size & (h->page_size - 1)))
		ret = img_err(-EBADMSG, "'%s': page size %u is invalid", name, h->page_size);
	else if (h->pid != m->pid)
		ret = img_err(-EBADMSG, "'%s': head names pid %u", name, h->pid);
	else if (strchr(h->pages_file, '/') || snprintf(mc->pages_name, sizeof(mc->pages_name),
							 "%s", h->pages_file) >= 64)
		ret = img_err(-EBADMSG, "'%s': bad page store name", name);
	protobuf_c_message_free_unpacked(msg, NULL);
	if (ret)
		return ret;
	if (img_inventory_read(d, &inv))
		return 0;	/* no inventory: an uncommitted directory */
	if (inv->page_size != m->page_size)
		ret = chk(c, -EBADMSG, "'%s': page size %zu, inventory says %u", name,
			  m->page_size, inv->page_size);
	if (!ret && inv->has_parent_id && inv->parent_path &&
	    parent_chain_check(img_dir_path(d), inv))
		ret = chk(c, -ELOOP, "%s", img_strerror());
	if (inv->has_parent_id && inv->parent_path) {
		mc->parent_id = malloc(inv->parent_id.len + 1);
		mc->parent_path = strdup(inv->parent_path);
		if (!mc->parent_id || !mc->parent_path)
			ret = img_err(-ENOMEM, "no memory");
		else
			memcpy(mc->parent_id, inv->parent_id.data, inv->parent_id.len);
		mc->parent_id_len = inv->parent_id.len;
	}
	inventory_entry__free_unpacked(inv, NULL);
	return ret;
}

static int mem_load(const struct img_dir *d, unsigned int pid, struct mem_chk *c,
		    struct img_mem **out)
{
	struct img_mem *m = calloc(1, sizeof(*m));
	int ret;

	if (!m || !(m->cache = calloc(1, sizeof(*m->cache)))) {
		free(m);
		return img_err(-ENOMEM, "no memory for the image of %u", pid);
	}
	pthread_mutex_init(&m->cache->lock, NULL);
	m->pid = pid;
	m->dir = d;
	m->pages_fd = -1;
	ret = load_meta(d, m, c);
	if (!ret)
		ret = load_mm(d, m, c);
	if (!ret)
		ret = load_core(d, m, c);
	if (ret)
		goto err;
	m->pages_fd = img_dir_open_file(d, m->cache->pages_name);
	if (m->pages_fd < 0) {
		ret = m->pages_fd;
		goto err;
	}
	ret = load_frames(d, m, c);
	if (!ret)
		ret = load_runs(d, m, c);
	if (!ret)
		ret = mem_group_runs(m);
	if (ret)
		goto err;
	*out = m;
	return 0;
err:
	img_mem_free(m);
	return ret;
}

int img_mem_load(const struct img_dir *d, unsigned int pid, struct img_mem **out)
{
	struct mem_chk c = { 0 };

	return mem_load(d, pid, &c, out);
}

int img_mem_load_check(const struct img_dir *d, unsigned int pid, img_problem_cb cb, void *arg,
		       struct img_mem **out)
{
	struct mem_chk c = { cb, arg, 0 };
	int ret = mem_load(d, pid, &c, out);

	return ret ? ret : c.nr;
}

void img_mem_free(struct img_mem *m)
{
	struct img_mem_cache *mc;
	size_t i;

	if (!m)
		return;
	mc = m->cache;
	if (m->mm)
		mm_entry__free_unpacked(m->mm, NULL);
	for (i = 0; i < m->nr_vmas; i++)
		vma_entry__free_unpacked(m->vmas[i], NULL);
	free(m->vmas);
	if (m->task)
		task_core__free_unpacked(m->task, NULL);
	for (i = 0; i < m->nr_threads; i++)
		thread_core__free_unpacked(m->threads[i], NULL);
	free(m->threads);
	free(m->runs);
	free(m->frames);
	close_safe(&m->pages_fd);
	img_mem_free(m->parent);
	if (mc) {
		for (i = 0; i < IMG_MEM_CACHE_SLOTS; i++)
			free(mc->slot[i].buf);
		free(mc->scratch);
		ZSTD_freeDCtx(mc->dctx);
		free(mc->fr_runs);
		free(mc->fr_start);
		img_dir_free(mc->parent_dir);
		free(mc->parent_id);
		free(mc->parent_path);
		pthread_mutex_destroy(&mc->lock);
		free(mc);
	}
	free(m);
}

const VmaEntry *img_mem_find_vma(const struct img_mem *m, uint64_t addr)
{
	long i = vma_index(m, addr);

	return i < 0 ? NULL : m->vmas[i];
}

size_t img_mem_run_index(const struct img_mem *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr_runs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct img_run *r = &m->runs[mid];

		if (r->vaddr + r->nr_pages * m->page_size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct img_run *img_mem_find_run(const struct img_mem *m, uint64_t addr)
{
	size_t lo = img_mem_run_index(m, addr);

	if (lo < m->nr_runs && m->runs[lo].vaddr <= addr)
		return &m->runs[lo];
	return NULL;
}

int img_mem_parent(struct img_mem *m, struct img_mem **parent)
{
	struct img_mem_cache *mc = m->cache;
	InventoryEntry *inv = NULL;
	char *path = NULL, sb[512];
	int ret;

	if (m->parent || mc->parent_err) {
		*parent = m->parent;
		return mc->parent_err;
	}
	if (!mc->parent_path) {
		ret = img_err(-ENOENT, "image '%s' has no parent", img_dir_path(m->dir));
		goto out;
	}
	if (mc->parent_path[0] == '/')
		ret = asprintf(&path, "%s", mc->parent_path);
	else
		ret = asprintf(&path, "%s/%s", img_dir_path(m->dir), mc->parent_path);
	if (ret < 0) {
		path = NULL;
		ret = img_err(-ENOMEM, "no memory");
		goto out;
	}
	ret = img_dir_open(path, &mc->parent_dir);
	if (!ret)
		ret = img_inventory_read(mc->parent_dir, &inv);
	if (!ret && (inv->image_id.len != mc->parent_id_len ||
		     memcmp(inv->image_id.data, mc->parent_id, mc->parent_id_len)))
		ret = img_err(-ENOENT, "'%s' is not the parent image (image id differs)",
			      img_str_safe(path, sb, sizeof(sb)));
	if (!ret)
		ret = img_mem_load(mc->parent_dir, m->pid, &m->parent);
out:
	if (inv)
		inventory_entry__free_unpacked(inv, NULL);
	free(path);
	mc->parent_err = ret ? ret : 0;
	*parent = m->parent;
	return ret;
}
