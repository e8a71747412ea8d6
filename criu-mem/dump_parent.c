// SPDX-License-Identifier: MIT
/*
 * dump_parent.c: content-based incremental dumps. Pages read from the
 * target are staged, compared with the parent image at the same address,
 * and split into PE_PARENT holes and stored pages, in address order.
 */
#define LOG_PREFIX "dump: "

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_parent.h"
#include "log.h"
#include "util.h"

int dump_parent_path(const char *dir, const char *prev, char **out)
{
	char *in = NULL, *res, *tok, *save = NULL;
	size_t n = 0;

	if (prev[0] == '/') {
		*out = strdup(prev);
		return *out ? 0 : -ENOMEM;
	}
	if (asprintf(&in, "%s/%s", dir, prev) < 0)
		return -ENOMEM;
	res = calloc(1, strlen(in) + 2);
	if (!res) {
		free(in);
		return -ENOMEM;
	}
	if (in[0] == '/')
		res[n++] = '/';
	for (tok = strtok_r(in, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		char *slash;

		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			slash = strrchr(res, '/');
			/* Fold only a real component; keep leading "..". */
			if (n && strcmp(slash ? slash + 1 : res, "..")) {
				n = slash ? (size_t)(slash - res) : 0;
				if (!n && res[0] == '/')
					n = 1;
				res[n] = 0;
				continue;
			}
		}
		if (n && res[n - 1] != '/')
			res[n++] = '/';
		n += sprintf(res + n, "%s", tok);
	}
	if (!n)
		res[n++] = '.';
	res[n] = 0;
	free(in);
	*out = res;
	return 0;
}

int dump_parent_open(struct dump_parent *p, const char *images_dir, const char *prev,
		     pid_t pid, size_t cap_pages)
{
	InventoryEntry *inv = NULL;
	char *path = NULL;
	int ret;

	memset(p, 0, sizeof(*p));
	p->ps = page_size();
	ret = dump_parent_path(images_dir, prev, &path);
	if (ret)
		return cm_err(-ENOMEM, "out of memory");
	ret = img_dir_open(path, &p->dir);
	if (!ret)
		ret = img_inventory_read(p->dir, &inv);
	if (!ret)
		ret = img_mem_load(p->dir, pid, &p->m);
	if (ret) {
		ret = cm_err(ret, "cannot use parent image '%s' for pid %d: %s", path, (int)pid,
			     img_strerror());
		goto out;
	}
	p->image_id = malloc(inv->image_id.len + 1);
	p->stage.data = malloc(cap_pages * p->ps);
	p->stage.runs = calloc(cap_pages, sizeof(*p->stage.runs));
	p->cmp = malloc(cap_pages * p->ps);
	p->absent = malloc(cap_pages / 8 + 2);
	if (!p->image_id || !p->stage.data || !p->stage.runs || !p->cmp || !p->absent) {
		ret = cm_err(-ENOMEM, "cannot allocate the parent comparison buffers");
		goto out;
	}
	memcpy(p->image_id, inv->image_id.data, inv->image_id.len);
	p->image_id_len = inv->image_id.len;
	p->stage.cap_pages = cap_pages;
	p->stage.cap_runs = cap_pages;
out:
	if (inv)
		inventory_entry__free_unpacked(inv, NULL);
	free(path);
	if (ret)
		dump_parent_close(p);
	return ret;
}

void dump_parent_close(struct dump_parent *p)
{
	img_mem_free(p->m);
	img_dir_free(p->dir);
	free(p->image_id);
	free(p->stage.data);
	free(p->stage.runs);
	free(p->cmp);
	free(p->absent);
	memset(p, 0, sizeof(*p));
}

/* Appends n pages at src to pool buffers, submitting each one that fills. */
static int store_pages(struct pstore_writer *w, struct pstore_buf **nb, uint64_t vaddr,
		       const char *src, uint64_t n, size_t ps)
{
	int ret;

	while (n) {
		uint64_t take;

		if (!*nb) {
			ret = pstore_writer_get(w, nb);
			if (ret)
				return ret;
		}
		take = MIN(n, (*nb)->cap_pages - (*nb)->nr_pages);
		memcpy((char *)(*nb)->data + (*nb)->nr_pages * ps, src, take * ps);
		ret = pstore_buf_add_run(*nb, vaddr, take);
		if (ret)
			return ret;
		if ((*nb)->nr_pages == (*nb)->cap_pages) {
			ret = pstore_writer_submit(w, *nb);
			*nb = NULL;
			if (ret)
				return ret;
		}
		vaddr += take * ps;
		src += take * ps;
		n -= take;
	}
	return 0;
}

static int page_same(const struct dump_parent *p, const char *src, uint64_t k)
{
	const char *a = src + k * p->ps;

	if (p->absent[k / 8] & (1u << (k % 8)))
		return 0;
	/* All-zero pages stay zero runs of this image: no parent needed. */
	if (mem_is_zero(a, p->ps))
		return 0;
	return !memcmp(a, (const char *)p->cmp + k * p->ps, p->ps);
}

/* One staged run: equal stretches become holes, the rest is stored. */
static int flush_run(struct dump_parent *p, struct pstore_writer *w, struct pstore_buf **nb,
		     const struct pstore_src *r, const char *src)
{
	uint64_t k = 0, j, n = r->nr_pages;
	long got;
	int ret, same;

	memset(p->absent, 0, n / 8 + 2);
	got = img_mem_read(p->m, r->vaddr, p->cmp, n * p->ps, p->absent);
	if (got < 0)
		return (int)got;
	while (k < n) {
		same = page_same(p, src, k);
		for (j = k + 1; j < n && page_same(p, src, j) == same; j++)
			;
		if (same && j - k >= PARENT_MIN_PAGES) {
			if (*nb) {
				ret = pstore_writer_submit(w, *nb);
				*nb = NULL;
				if (ret)
					return ret;
			}
			ret = pstore_writer_add_hole(w, r->vaddr + k * p->ps, j - k, PE_PARENT);
		} else {
			ret = store_pages(w, nb, r->vaddr + k * p->ps, src + k * p->ps, j - k, p->ps);
		}
		if (ret)
			return ret;
		k = j;
	}
	return 0;
}

int dump_parent_flush(struct dump_parent *p, struct pstore_writer *w)
{
	struct pstore_buf *nb = NULL;
	const char *src = p->stage.data;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < p->stage.nr_runs; i++) {
		ret = flush_run(p, w, &nb, &p->stage.runs[i], src);
		src += p->stage.runs[i].nr_pages * p->ps;
	}
	if (nb) {
		int r = pstore_writer_submit(w, nb);

		if (!ret)
			ret = r;
	}
	p->stage.nr_pages = 0;
	p->stage.nr_runs = 0;
	if (ret && ret != -EINTR)
		return cm_err(ret, "cannot place pages against the parent image: %s",
			      img_strerror());
	return ret;
}
