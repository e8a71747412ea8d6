// SPDX-License-Identifier: MIT
/*
 * cmd_verify.c: `criu-mem verify DIR [--json]`: checks every checksum and
 * cross reference of an image directory and reports every problem found,
 * one line each, naming the file, frame or address.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "verify: "
#include "cli.h"
#include "cliopt.h"
#include "img.h"
#include "imgopen.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct verify {
	struct json_out *j;
	const char *path;
	unsigned int threads;
	uint64_t problems, files, records, frames, runs;
};

static void verify_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem verify [--json] [-j N] DIR\n\n"
		   "Checks every checksum (file sizes and XXH3 from the inventory, every\n"
		   "frame's XXH3 and decompression) and every cross reference (runs inside\n"
		   "VMAs, frames exist, no overlaps, counts, parent image). Prints every\n"
		   "problem, one per line, and exits 3 if there is any.\n\n"
		   "  --json             one JSON document on stdout\n"
		   "  -j, --jobs N       decompression threads (default: online CPUs);\n"
		   "                     --threads N is the same\n");
}

static void problem(void *arg, const char *msg)
{
	struct verify *v = arg;
	char safe[1024];

	v->problems++;
	if (v->j)
		json_str(v->j, NULL, msg);
	else	/* names from the directory or the image reach the terminal escaped */
		printf("problem: %s\n", img_str_safe(msg, safe, sizeof(safe)));
}

static void problemf(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problemf(struct verify *v, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(v, msg);
}

/* Reads every record of a record file; the reader checks framing and the zstd checksum. */
static void verify_records(struct verify *v, const struct img_dir *d, const FileEntry *fe)
{
	struct img_reader *r;
	ProtobufCMessage *m;
	int ret;

	ret = img_reader_open(d, fe->kind, fe->name, &r);
	if (ret) {
		problem(v, img_strerror());
		return;
	}
	while ((ret = img_reader_next(r, &m)) > 0) {
		v->records++;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (ret < 0)
		problem(v, img_strerror());
	img_reader_free(r);
}

/* Walks the frame headers of a page store (structure, ids, end marker). */
static void verify_pages_file(struct verify *v, const char *name)
{
	struct pstore_iter *it = NULL;
	struct img_frame f;
	char *p;
	int ret;

	if (asprintf(&p, "%s/%s", v->path, name) < 0)
		return;
	ret = pstore_iter_open_path(p, &it);
	while (!ret && (ret = pstore_iter_next(it, &f, 0)) > 0)
		ret = 0;
	if (ret < 0)
		problem(v, img_strerror());
	pstore_iter_free(it);
	free(p);
}

static void verify_file(struct verify *v, const struct img_dir *d, const FileEntry *fe)
{
	uint64_t size, hash;
	int fd, ret;

	v->files++;
	fd = img_dir_open_file(d, fe->name);
	if (fd < 0) {
		problemf(v, "'%s': listed in the inventory but cannot be opened", fe->name);
		return;
	}
	ret = img_file_hash(fd, fe->name, 0, &size, &hash);
	close_safe(&fd);
	if (ret) {
		problem(v, img_strerror());
		return;
	}
	if (size != fe->size)
		problemf(v, "'%s': size %" PRIu64 ", inventory says %" PRIu64, fe->name, size,
			 fe->size);
	else if (hash != fe->xxh3)
		problemf(v, "'%s': xxh3 %016" PRIx64 ", inventory says %016" PRIx64, fe->name,
			 hash, fe->xxh3);
	if (!img_kind_get(fe->kind) || fe->kind == IMG_INVENTORY)
		problemf(v, "'%s': unknown kind %u in the inventory", fe->name, fe->kind);
	else if (fe->kind == IMG_PAGES)
		verify_pages_file(v, fe->name);
	else
		verify_records(v, d, fe);
}

/* Files in the directory that the inventory does not list. */
static void verify_unlisted(struct verify *v, const struct img_dir *d, const InventoryEntry *inv)
{
	struct dirent *de;
	DIR *dp;
	int fd = openat(img_dir_fd(d), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	if (fd < 0 || !(dp = fdopendir(fd))) {
		close_safe(&fd);
		return;
	}
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "inventory.img"))
			continue;
		for (i = 0; i < inv->n_files; i++)
			if (!strcmp(inv->files[i]->name, de->d_name))
				break;
		if (i == inv->n_files)
			problemf(v, "'%s': not listed in the inventory", de->d_name);
	}
	closedir(dp);
}

/* The frames found in the page store must be exactly those of the index. */
static void verify_index(struct verify *v, const struct img_mem *m)
{
	struct pstore_iter *it = NULL;
	struct img_frame f;
	char name[64], *p;
	uint64_t n = 0;
	int ret;

	img_kind_filename(IMG_PAGES, m->pid, name, sizeof(name));
	if (asprintf(&p, "%s/%s", v->path, name) < 0)
		return;
	ret = pstore_iter_open_path(p, &it);
	while (!ret && (ret = pstore_iter_next(it, &f, 0)) > 0) {
		if (n < m->nr_frames && f.file_offset != m->frames[n].file_offset)
			problemf(v, "'%s': frame %" PRIu64 " at offset %" PRIu64
				 ", the index says %" PRIu64, name, n, f.file_offset,
				 m->frames[n].file_offset);
		n++;
		ret = 0;
	}
	if (!ret && n != m->nr_frames)
		problemf(v, "'%s': %" PRIu64 " frames, the index lists %zu", name, n, m->nr_frames);
	pstore_iter_free(it);
	free(p);
}

/*
 * Without a usable index (img_mem refused the image), the page store is
 * still checked frame by frame on its own: every payload error is reported
 * (structural errors were reported by verify_pages_file()).
 */
static void verify_frames_alone(struct verify *v, unsigned int pid)
{
	struct pstore_iter *it = NULL;
	struct img_frame f;
	char name[64], *p;
	int ret;

	img_kind_filename(IMG_PAGES, pid, name, sizeof(name));
	if (asprintf(&p, "%s/%s", v->path, name) < 0)
		return;
	if (!pstore_iter_open_path(p, &it)) {
		while ((ret = pstore_iter_next(it, &f, 1)) != 0) {
			if (ret > 0) {
				v->frames++;
				continue;
			}
			if (!pstore_iter_can_go_on(it))
				break;
			problem(v, img_strerror());
		}
	}
	pstore_iter_free(it);
	free(p);
}

static void verify_proc(struct verify *v, const struct img_dir *d, const ProcessEntry *pe)
{
	struct img_mem *m = NULL;
	long bad;
	int ret;

	ret = img_mem_load_check(d, pe->pid, problem, v, &m);
	if (ret < 0) {
		problemf(v, "process %u: %s", pe->pid, img_strerror());
		verify_frames_alone(v, pe->pid);
		return;
	}
	v->frames += m->nr_frames;
	v->runs += m->nr_runs;
	verify_index(v, m);
	bad = img_mem_check_frames(m, v->threads, problem, v);
	if (bad < 0)
		problemf(v, "process %u: %s", pe->pid, img_strerror());
	img_mem_free(m);
}

#define VERIFY_MAX_CHAIN 64

/*
 * Checks one link of the parent chain: the parent of image @dir (whose
 * inventory is @inv) exists and has the recorded id. Returns the parent's
 * path and inventory to go on with, or NULL at the end of the chain.
 */
static char *verify_parent_link(struct verify *v, const char *dir, const InventoryEntry *inv,
				InventoryEntry **pinv)
{
	struct img_dir *pd = NULL;
	char *p = NULL;

	*pinv = NULL;
	if (!inv->has_parent_id)
		return NULL;
	if (!inv->parent_path) {
		problemf(v, "'%s': inventory has a parent id but no parent path", dir);
		return NULL;
	}
	if (asprintf(&p, inv->parent_path[0] == '/' ? "%.0s%s" : "%s/%s", dir,
		     inv->parent_path) < 0)
		return NULL;
	if (img_dir_open(p, &pd) || img_inventory_read(pd, pinv)) {
		problemf(v, "parent image '%s' is not available: %s", p, img_strerror());
	} else if ((*pinv)->image_id.len != inv->parent_id.len ||
		   memcmp((*pinv)->image_id.data, inv->parent_id.data, inv->parent_id.len)) {
		problemf(v, "parent image '%s' has another image id", p);
		inventory_entry__free_unpacked(*pinv, NULL);
		*pinv = NULL;
	}
	img_dir_free(pd);
	if (!*pinv) {
		free(p);
		return NULL;
	}
	return p;
}

/* Follows the whole parent chain (incremental images). */
static void verify_parents(struct verify *v, const InventoryEntry *inv)
{
	InventoryEntry *cur = NULL, *next;
	char *dir = NULL, *pdir;
	int depth;

	for (depth = 0; depth < VERIFY_MAX_CHAIN; depth++) {
		pdir = verify_parent_link(v, dir ? dir : v->path, cur ? cur : inv, &next);
		if (cur)
			inventory_entry__free_unpacked(cur, NULL);
		free(dir);
		cur = next;
		dir = pdir;
		if (!dir)
			return;
	}
	problemf(v, "parent chain longer than %d images (a loop?)", VERIFY_MAX_CHAIN);
	inventory_entry__free_unpacked(cur, NULL);
	free(dir);
}

static int verify_dir(struct verify *v)
{
	InventoryEntry *inv = NULL;
	struct img_dir *d = NULL;
	size_t i;
	int ret;

	ret = img_dir_open(v->path, &d);
	if (ret)
		return cm_err(ret, "%s", img_strerror());
	if (v->j) {
		json_obj_begin(v->j, NULL);
		json_str(v->j, "dir", v->path);
		json_arr_begin(v->j, "problems");
	}
	ret = img_inventory_read(d, &inv);
	if (ret) {
		problem(v, img_strerror());
	} else {
		if (inv->format_version > IMG_FORMAT_VERSION)
			problemf(v, "inventory: format version %u is newer than %u",
				 inv->format_version, IMG_FORMAT_VERSION);
		for (i = 0; i < inv->n_files; i++)
			verify_file(v, d, inv->files[i]);
		verify_unlisted(v, d, inv);
		for (i = 0; i < inv->n_procs; i++)
			verify_proc(v, d, inv->procs[i]);
		verify_parents(v, inv);
	}
	if (v->j) {
		json_arr_end(v->j);
		json_u64(v->j, "problem_count", v->problems);
		json_u64(v->j, "files", v->files);
		json_u64(v->j, "records", v->records);
		json_u64(v->j, "frames", v->frames);
		json_u64(v->j, "runs", v->runs);
		json_bool(v->j, "ok", !v->problems);
		json_obj_end(v->j);
		json_finish(v->j);
	} else if (v->problems) {
		printf("%s: %" PRIu64 " problem%s found\n", v->path, v->problems,
		       v->problems == 1 ? "" : "s");
	} else {
		printf("ok: %s: %" PRIu64 " files, %" PRIu64 " records, %" PRIu64 " frames, %"
		       PRIu64 " runs verified\n", v->path, v->files, v->records, v->frames, v->runs);
	}
	if (inv)
		inventory_entry__free_unpacked(inv, NULL);
	img_dir_free(d);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_out j;
	struct verify v = { 0 };
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "Jj:h", lo, NULL)) != -1) {
		switch (c) {
		case 'J':
			v.j = &j;
			break;
		case 'j':
			if (cliopt_jobs(optarg, &v.threads)) {
				verify_usage(stderr);
				return CM_EXIT_USAGE;
			}
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(c, verify_usage);
		}
	}
	if (optind + 1 != argc) {
		verify_usage(stderr);
		return CM_EXIT_USAGE;
	}
	v.path = argv[optind];
	if (v.j)
		json_init(&j, stdout, 1);
	ret = verify_dir(&v);
	if (ret)
		return cm_exit_code(ret);
	return v.problems ? CM_EXIT_BADIMG : CM_EXIT_OK;
}
