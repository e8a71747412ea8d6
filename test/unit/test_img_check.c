// SPDX-License-Identifier: MIT
/*
 * test_img_check.c: cross-reference checks of img_mem_load(): a pagemap
 * with overlapping, out-of-VMA, dangling and overrunning runs is refused,
 * and img_mem_load_check() reports every problem, not only the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_img.h"
#include "unit.h"
#include "util.h"

struct problems {
	int n;
	char last[256];
};

static void on_problem(void *arg, const char *msg)
{
	struct problems *p = arg;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", msg);
}

static int put_run(struct img_writer *w, uint64_t va, uint64_t n, uint32_t fl, uint64_t frame,
		   uint64_t off)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = va;
	pe.nr_pages = n;
	pe.flags = fl;
	pe.has_frame = pe.has_offset = fl == PE_PRESENT;
	pe.frame = frame;
	pe.offset = off;
	return img_writer_put(w, &pe.base);
}

/* A valid image, then pagemap-1.img replaced with bad runs. */
static int write_bad(const char *path)
{
	static const struct timg_vma v[] = { { 0x10000, 3, 0, NULL, "PPPP------------" },
					     { 0x30000, 3, 0, NULL, "----------------" } };
	struct timg t = { .pid = 1, .vmas = v, .nr_vmas = 2, .opts = { .threads = 1 } };
	PagemapHead h = PAGEMAP_HEAD__INIT;
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct img_writer *w;
	struct img_dir *d;
	char tmp[256];
	uint8_t id[16] = { 0 };

	snprintf(tmp, sizeof(tmp), "%s.good", path);
	if (timg_write(tmp, &t, NULL) || img_dir_create(path, IMG_DIR_NOFSYNC, &d))
		return -1;
	/* copy mm, pageidx, pages; write a new pagemap */
	{
		static const char *const files[] = { "mm-1.img", "pageidx-1.img", "pages-1.img" };
		size_t i;

		for (i = 0; i < 3; i++) {
			char src[300];
			uint8_t *buf;
			long len;
			int fd;

			snprintf(src, sizeof(src), "%s/%s", tmp, files[i]);
			len = timg_slurp(src, &buf);
			fd = img_dir_create_file(d, files[i]);
			if (len < 0 || fd < 0 || write_full(fd, buf, len))
				return -1;
			close(fd);
			free(buf);
		}
	}
	if (img_writer_open(d, IMG_PAGEMAP, "pagemap-1.img", &w))
		return -1;
	h.pid = 1;
	h.page_size = 4096;
	h.pages_file = "pages-1.img";
	if (img_writer_put(w, &h.base) ||
	    put_run(w, 0x10000, 4, PE_PRESENT, 0, 0) ||	/* good */
	    put_run(w, 0x12000, 1, PE_ZERO, 0, 0) ||		/* overlaps */
	    put_run(w, 0x1f000, 2, PE_ZERO, 0, 0) ||		/* leaves the VMA */
	    put_run(w, 0x30000, 2, PE_PRESENT, 5, 0) ||	/* missing frame */
	    put_run(w, 0x32000, 4, PE_PRESENT, 0, 2) ||	/* overruns frame 0 */
	    put_run(w, 0x38000, 1, 0x30, 0, 0) ||		/* bad flags */
	    put_run(w, 0x39000, 1, PE_LAZY, 0, 0) ||		/* good */
	    img_writer_close(w))
		return -1;
	inv.tool_version = inv.kernel_release = inv.arch = "t";
	inv.page_size = 4096;
	inv.image_id.data = id;
	inv.image_id.len = 16;
	if (img_dir_commit(d, &inv))
		return -1;
	img_dir_free(d);
	timg_rmrf(tmp);
	return 0;
}

UNIT_TEST(img_check_reports_every_problem)
{
	struct problems p = { 0 };
	struct img_dir *d;
	struct img_mem *m;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "%s/bad", unit_tmpdir());
	CHECK(!write_bad(path));
	CHECK(!img_dir_open(path, &d));
	CHECK_EQ(img_mem_load(d, 1, &m), -EBADMSG);
	CHECK(strstr(img_strerror(), "0x12000"));
	ret = img_mem_load_check(d, 1, on_problem, &p, &m);
	CHECK_EQ(ret, 5);
	CHECK_EQ(p.n, 5);
	CHECK(strstr(p.last, "0x38000"));
	CHECK_EQ(m->nr_runs, 2);	/* the bad runs are dropped */
	CHECK_EQ(img_mem_check_frames(m, 2, on_problem, &p), 0);
	img_mem_free(m);
	img_dir_free(d);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}

UNIT_TEST(img_dir_semantics)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct img_dir *d, *d2;
	char path[128], tmp[160];
	uint8_t id[16] = { 0 };
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/img", unit_tmpdir());
	CHECK(!img_dir_create(path, 0, &d));
	CHECK(stat(path, &st) && errno == ENOENT);	/* appears only on commit */
	fd = img_dir_create_file(d, "files-3.img");
	CHECK(fd >= 0);
	CHECK(!fstat(fd, &st) && (st.st_mode & 0777) == 0600);
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
	CHECK_EQ(img_dir_create_file(d, "files-3.img"), -EEXIST);
	inv.tool_version = inv.kernel_release = inv.arch = "t";
	inv.page_size = 4096;
	inv.image_id.data = id;
	inv.image_id.len = 16;
	CHECK(!img_dir_commit(d, &inv));
	CHECK(inv.n_files == 0 && !inv.files);		/* caller's list untouched */
	img_dir_free(d);
	CHECK(!stat(path, &st) && S_ISDIR(st.st_mode));
	CHECK_EQ(img_dir_create(path, 0, &d), -EEXIST);
	/* an uncommitted directory vanishes with its files */
	snprintf(tmp, sizeof(tmp), "%s2", path);
	CHECK(!img_dir_create(tmp, IMG_DIR_NOFSYNC, &d2));
	fd = img_dir_create_file(d2, "mm-1.img");
	CHECK(fd >= 0);
	close(fd);
	img_dir_free(d2);
	CHECK(stat(tmp, &st) && errno == ENOENT);
	/* the inventory lists the file with its size */
	{
		InventoryEntry *got;

		CHECK(!img_dir_open(path, &d));
		CHECK(!img_inventory_read(d, &got));
		CHECK_EQ(got->n_files, 1);
		CHECK(!strcmp(got->files[0]->name, "files-3.img"));
		CHECK_EQ(got->files[0]->size, 1);
		CHECK_EQ(got->files[0]->kind, IMG_FILES);
		inventory_entry__free_unpacked(got, NULL);
		img_dir_free(d);
	}
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}

UNIT_TEST(img_pstore_writer_rejects_disorder)
{
	struct pstore_opts o = { .threads = 2, .level = -5 };
	struct pstore_writer *w;
	struct pstore_buf *b;
	struct img_dir *d;
	char path[128];

	snprintf(path, sizeof(path), "%s/img", unit_tmpdir());
	CHECK(!img_dir_create(path, IMG_DIR_NOFSYNC, &d));
	CHECK(!pstore_writer_open(d, 1, &o, &w));
	CHECK(!pstore_writer_get(w, &b));
	CHECK_EQ(pstore_buf_add_run(b, 0x10001, 1), -EINVAL);
	CHECK_EQ(pstore_buf_add_run(b, 0x10000, b->cap_pages + 1), -ENOSPC);
	memset(b->data, 1, 4096);
	CHECK(!pstore_buf_add_run(b, 0x10000, 1));
	CHECK(!pstore_writer_submit(w, b));
	CHECK(!pstore_writer_add_hole(w, 0x8000, 1, PE_ZERO));	/* goes backwards */
	CHECK_EQ(pstore_writer_close(w, NULL), -EINVAL);
	CHECK(strstr(img_strerror(), "0x8000"));
	img_dir_free(d);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}
