// SPDX-License-Identifier: MIT
/*
 * cmd_show.c: `criu-mem show DIR [--json] [--vma ADDR]`: the inventory, the
 * processes, a per-VMA table with stored/zero/parent/absent page counts,
 * and the compression figures of an image directory.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LOG_PREFIX "show: "
#include "cli.h"
#include "img.h"
#include "imgopen.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Image strings in human output: escaped, at most about 4 KiB (a buffer per use). */
#define SHOW_TEXT_MAX	4096
#define SAFE(str)	img_str_safe((str), (char[SHOW_TEXT_MAX + 8]){ 0 }, SHOW_TEXT_MAX + 8)

struct show {
	struct json_out *j;
	int has_vma;
	uint64_t vma_addr;
};

/* Page counts of one VMA by run kind: stored, zero, parent, lazy, absent. */
struct vma_pages {
	uint64_t n[5];
};

static const char *const cnt_names[5] = { "stored", "zero", "parent", "lazy", "absent" };

static void show_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem show [--json] [--vma ADDR] DIR\n\n"
		   "Summarises an image directory: inventory, processes, one line per VMA\n"
		   "(range, size, permissions, kind, path, pages stored / zero / parent /\n"
		   "absent) and page and byte totals.\n\n"
		   "  -j, --json       one JSON document on stdout\n"
		   "  -a, --vma ADDR   only the VMA containing ADDR, with its runs\n");
}

static int cnt_index(uint32_t flags)
{
	switch (flags) {
	case PE_PRESENT: return 0;
	case PE_ZERO: return 1;
	case PE_PARENT: return 2;
	default: return 3;
	}
}

static void vma_count(const struct img_mem *m, const VmaEntry *v, struct vma_pages *vp)
{
	uint64_t total = (v->end - v->start) / m->page_size, seen = 0;
	size_t i;

	memset(vp, 0, sizeof(*vp));
	/* from the run holding start, else the first one after it */
	for (i = img_mem_run_index(m, v->start); i < m->nr_runs && m->runs[i].vaddr < v->end; i++) {
		const struct img_run *r = &m->runs[i];
		uint64_t s = MAX(r->vaddr, v->start);
		uint64_t e = MIN(r->vaddr + r->nr_pages * m->page_size, v->end);
		uint64_t n = (e - s) / m->page_size;

		vp->n[cnt_index(r->flags)] += n;
		seen += n;
	}
	vp->n[4] = total - seen;
}

static const char *kind_name(int kind)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(&vma_kind__descriptor,
									    kind);

	return ev ? ev->name + 4 : "?";	/* drop "VMA_" */
}

static void show_runs(struct show *s, const struct img_mem *m, const VmaEntry *v)
{
	size_t i;

	if (s->j)
		json_arr_begin(s->j, "runs");
	else
		printf("  runs:\n");
	for (i = 0; i < m->nr_runs; i++) {
		const struct img_run *r = &m->runs[i];

		if (r->vaddr + r->nr_pages * m->page_size <= v->start || r->vaddr >= v->end)
			continue;
		if (s->j) {
			json_obj_begin(s->j, NULL);
			json_hex(s->j, "vaddr", r->vaddr);
			json_u64(s->j, "nr_pages", r->nr_pages);
			json_str(s->j, "kind", cnt_names[cnt_index(r->flags)]);
			if (r->flags == PE_PRESENT) {
				json_u64(s->j, "frame", r->frame);
				json_u64(s->j, "offset", r->offset);
			}
			json_obj_end(s->j);
		} else {
			printf("    %#014" PRIx64 " %8" PRIu64 " pages %-6s", r->vaddr, r->nr_pages,
			       cnt_names[cnt_index(r->flags)]);
			if (r->flags == PE_PRESENT)
				printf(" frame %" PRIu64 " page %" PRIu64, r->frame, r->offset);
			printf("\n");
		}
	}
	if (s->j)
		json_arr_end(s->j);
}

static void show_vma(struct show *s, const struct img_mem *m, const VmaEntry *v,
		     const struct vma_pages *vp)
{
	char p[5];
	int k;

	imgopen_perms(v, p);
	if (s->j) {
		json_obj_begin(s->j, NULL);
		json_hex(s->j, "start", v->start);
		json_hex(s->j, "end", v->end);
		json_u64(s->j, "size", v->end - v->start);
		json_str(s->j, "perms", p);
		json_str(s->j, "kind", kind_name(v->kind));
		json_str(s->j, "path", v->path);
		for (k = 0; k < 5; k++)
			json_u64(s->j, cnt_names[k], vp->n[k]);
	} else {
		printf("%012" PRIx64 "-%012" PRIx64 " %9" PRIu64 "K %s %-13s %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %8" PRIu64 " %s\n", v->start, v->end,
		       (v->end - v->start) >> 10, p, kind_name(v->kind), vp->n[0], vp->n[1],
		       vp->n[2], vp->n[3] + vp->n[4], SAFE(v->path));
	}
	if (s->has_vma)
		show_runs(s, m, v);
	if (s->j)
		json_obj_end(s->j);
}

static void show_totals(struct show *s, const struct img_mem *m, const uint64_t tot[5])
{
	uint64_t raw = 0, stored = 0;
	size_t i;
	int k;

	for (i = 0; i < m->nr_frames; i++) {
		raw += m->frames[i].raw_len;
		stored += m->frames[i].stored_len;
	}
	if (s->j) {
		json_obj_begin(s->j, "pages");
		for (k = 0; k < 5; k++)
			json_u64(s->j, cnt_names[k], tot[k]);
		json_obj_end(s->j);
		json_u64(s->j, "frames", m->nr_frames);
		json_u64(s->j, "bytes_raw", raw);
		json_u64(s->j, "bytes_stored", stored);
		json_double(s->j, "ratio", stored ? (double)raw / stored : 0);
		return;
	}
	printf("pages: %" PRIu64 " stored, %" PRIu64 " zero, %" PRIu64 " parent, %" PRIu64
	       " lazy, %" PRIu64 " absent (page size %zu)\n", tot[0], tot[1], tot[2], tot[3],
	       tot[4], m->page_size);
	printf("bytes: %" PRIu64 " raw, %" PRIu64 " stored in %zu frames, ratio %.2f\n", raw,
	       stored, m->nr_frames, stored ? (double)raw / stored : 0.0);
}

static int show_proc(struct show *s, const struct img_dir *d, const ProcessEntry *pe)
{
	uint64_t tot[5] = { 0 };
	struct img_mem *m;
	size_t i;
	int ret, k, found = 0;

	ret = img_mem_load(d, pe->pid, &m);
	if (ret)
		return cm_err(ret, "process %u: %s", pe->pid, img_strerror());
	if (s->j) {
		json_obj_begin(s->j, NULL);
		json_u64(s->j, "pid", pe->pid);
		if (pe->has_ppid)
			json_u64(s->j, "ppid", pe->ppid);
		if (pe->has_pgid)
			json_u64(s->j, "pgid", pe->pgid);
		if (pe->has_sid)
			json_u64(s->j, "sid", pe->sid);
		json_str(s->j, "comm", pe->comm);
		json_str(s->j, "exe", pe->exe);
		json_u64(s->j, "threads", m->nr_threads);
		json_arr_begin(s->j, "vmas");
	} else {
		printf("\nprocess %u%s%s%s, %zu threads, %zu vmas\n", pe->pid,
		       pe->comm ? " (" : "", SAFE(pe->comm), pe->comm ? ")" : "",
		       m->nr_threads, m->nr_vmas);
		printf("%-25s %10s %-4s %-13s %8s %8s %8s %8s %s\n", "range", "size", "perm", "kind",
		       "stored", "zero", "parent", "absent", "path");
	}
	for (i = 0; i < m->nr_vmas; i++) {
		const VmaEntry *v = m->vmas[i];
		struct vma_pages vp;

		vma_count(m, v, &vp);
		for (k = 0; k < 5; k++)
			tot[k] += vp.n[k];
		if (s->has_vma && (s->vma_addr < v->start || s->vma_addr >= v->end))
			continue;
		found = 1;
		show_vma(s, m, v, &vp);
	}
	if (s->j)
		json_arr_end(s->j);
	if (s->has_vma && !found && !s->j)
		printf("no VMA contains %#" PRIx64 "\n", s->vma_addr);
	show_totals(s, m, tot);
	if (s->j)
		json_obj_end(s->j);
	img_mem_free(m);
	return 0;
}

static void show_inventory(struct show *s, const InventoryEntry *inv)
{
	char when[64], id[40] = "", pid[40] = "";
	time_t t = inv->ctime_ns / 1000000000ull;
	struct tm tm;
	size_t i;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	for (i = 0; i < inv->image_id.len && i < 16; i++)
		sprintf(id + 2 * i, "%02x", inv->image_id.data[i]);
	for (i = 0; inv->has_parent_id && i < inv->parent_id.len && i < 16; i++)
		sprintf(pid + 2 * i, "%02x", inv->parent_id.data[i]);
	if (s->j) {
		json_u64(s->j, "format_version", inv->format_version);
		json_str(s->j, "tool_version", inv->tool_version);
		json_str(s->j, "kernel", inv->kernel_release);
		json_str(s->j, "arch", inv->arch);
		json_u64(s->j, "page_size", inv->page_size);
		json_str(s->j, "time", when);
		json_u64(s->j, "ctime_ns", inv->ctime_ns);
		json_u64(s->j, "root_pid", inv->root_pid);
		json_str(s->j, "image_id", id);
		json_str(s->j, "parent_id", inv->has_parent_id ? pid : NULL);
		json_str(s->j, "parent_path", inv->parent_path);
		json_u64(s->j, "files", inv->n_files);
		return;
	}
	printf("image format %u, written by criu-mem %s\n", inv->format_version,
	       SAFE(inv->tool_version));
	printf("kernel %s, ", SAFE(inv->kernel_release));
	printf("arch %s, page size %u\n", SAFE(inv->arch), inv->page_size);
	printf("dumped %s, root pid %u, %zu processes, %zu files\n", when, inv->root_pid,
	       inv->n_procs, inv->n_files);
	printf("image id %s", id);
	if (inv->has_parent_id)
		printf(", parent %s (%s)", pid, inv->parent_path ? SAFE(inv->parent_path) : "no path");
	printf("\n");
}

static int show_dir(struct show *s, const char *path)
{
	struct imgopen io;
	size_t i;
	int ret;

	ret = imgopen_dir(&io, path);
	if (ret)
		goto out;
	if (s->j) {
		json_obj_begin(s->j, NULL);
		json_str(s->j, "dir", path);
	}
	show_inventory(s, io.inv);
	if (s->j)
		json_arr_begin(s->j, "processes");
	for (i = 0; i < io.inv->n_procs && !ret; i++)
		ret = show_proc(s, io.dir, io.inv->procs[i]);
	if (s->j) {
		json_arr_end(s->j);
		json_obj_end(s->j);
		json_finish(s->j);
	}
out:
	imgopen_close(&io);
	return ret;
}

int cmd_show(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "vma", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_out j;
	struct show s = { 0 };
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ja:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			s.j = &j;
			break;
		case 'a':
			s.has_vma = 1;
			s.vma_addr = strtoull(optarg, &end, 0);
			if (*end || !*optarg) {
				pr_err("bad address '%s'", optarg);
				return CM_EXIT_USAGE;
			}
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(c, show_usage);
		}
	}
	if (optind + 1 != argc) {
		show_usage(stderr);
		return CM_EXIT_USAGE;
	}
	if (s.j)
		json_init(&j, stdout, 1);
	return cm_exit_code(show_dir(&s, argv[optind]));
}
