// SPDX-License-Identifier: MIT
/*
 * test_img_stream.c: the streamed pagemap. Many unmergeable runs and many
 * queued holes round-trip; the head of a new pagemap has no page counts and
 * img_pagemap_counts() gives them for new and golden (counted) images alike
 * and refuses a head whose counts disagree with the runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_img.h"
#include "unit.h"
#include "util.h"

#define BLOCKS 10
#define STRIPE 256	/* "PZ" pages per block: one run each */
#define HOLES 1500	/* "H-" per block: unmergeable holes, more than the hole queue */

/* The head of pagemap-PID.img, or NULL. */
static PagemapHead *read_head(const struct img_dir *d, unsigned int pid)
{
	ProtobufCMessage *msg = NULL;
	struct img_reader *r;
	char name[64];

	img_kind_filename(IMG_PAGEMAP, pid, name, sizeof(name));
	if (img_reader_open(d, IMG_PAGEMAP, name, &r))
		return NULL;
	if (img_reader_next(r, &msg) != 1)
		msg = NULL;
	img_reader_free(r);
	return (PagemapHead *)msg;
}

static char *stripes(void)
{
	size_t per = STRIPE + 2 * HOLES, b, i;
	char *s = malloc(BLOCKS * per + 1), *p = s;

	if (!s)
		return NULL;
	for (b = 0; b < BLOCKS; b++) {
		for (i = 0; i < STRIPE; i++)
			*p++ = (i & 1) ? 'Z' : 'P';
		for (i = 0; i < HOLES; i++) {
			*p++ = 'H';
			*p++ = '-';
		}
	}
	*p = 0;
	return s;
}

UNIT_TEST(img_stream_many_runs)
{
	struct timg_vma v = { 0x10000000, 3, 0, NULL, NULL };
	struct timg t = { .pid = 77, .vmas = &v, .nr_vmas = 1,
			  .opts = { .frame_bytes = 16 * 4096, .threads = 2 } };
	struct img_pagemap_counts c;
	struct pstore_stats st;
	struct img_mem *m = NULL;
	struct img_dir *d = NULL;
	PagemapHead *h;
	char path[128], *pages = stripes();
	int ret;

	CHECK(pages);
	v.pages = pages;
	snprintf(path, sizeof(path), "%s/img", unit_tmpdir());
	ret = timg_write(path, &t, &st);
	if (ret)
		fprintf(stderr, "  write: %s\n", img_strerror());
	CHECK(!ret);
	CHECK(!img_dir_open(path, &d));
	h = read_head(d, 77);
	CHECK(h);
	/* Streamed: the writer leaves the counts out of the head. */
	CHECK(!h->has_nr_runs && !h->has_nr_stored && !h->has_nr_zero && !h->has_nr_parent &&
	      !h->has_nr_lazy);
	CHECK_EQ(h->page_size, 4096);
	pagemap_head__free_unpacked(h, NULL);
	CHECK(!img_pagemap_counts(d, 77, &c));
	/* the last Z of a block merges with the first hole after it */
	CHECK_EQ(c.nr_runs, BLOCKS * (STRIPE + HOLES - 1));
	CHECK_EQ(c.nr_stored, BLOCKS * STRIPE / 2);
	CHECK_EQ(c.nr_zero, BLOCKS * (STRIPE / 2 + HOLES));
	CHECK_EQ(c.nr_parent + c.nr_lazy, 0);
	CHECK_EQ(c.nr_stored, st.pages_stored);
	CHECK_EQ(c.nr_zero, st.pages_zero);
	CHECK(!img_mem_load(d, 77, &m));
	CHECK_EQ(m->nr_runs, c.nr_runs);
	CHECK(!timg_check(m, &t));
	img_mem_free(m);
	img_dir_free(d);
	free(pages);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}

/* Images written before streaming carry counts: they are read and checked. */
UNIT_TEST(img_stream_golden_counts)
{
	struct img_pagemap_counts c;
	struct img_dir *d;
	PagemapHead *h;

	CHECK(!img_dir_open("test/data/golden-v1", &d));
	h = read_head(d, 4242);
	CHECK(h && h->has_nr_runs && h->has_nr_stored && h->has_nr_zero);
	CHECK(!img_pagemap_counts(d, 4242, &c));
	CHECK_EQ(c.nr_runs, h->nr_runs);
	CHECK_EQ(c.nr_stored, h->nr_stored);
	CHECK_EQ(c.nr_zero, h->nr_zero);
	CHECK_EQ(c.nr_parent, h->nr_parent);
	CHECK_EQ(c.nr_lazy, h->nr_lazy);
	CHECK_EQ(c.nr_runs, 13);
	pagemap_head__free_unpacked(h, NULL);
	img_dir_free(d);
	return 0;
}

static int put_pagemap(struct img_dir *d, int with_counts, uint64_t nr_stored)
{
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	struct img_writer *w;

	h.pid = 5;
	h.page_size = 4096;
	h.pages_file = "pages-5.img";
	h.has_nr_stored = with_counts;
	h.nr_stored = nr_stored;
	pe.vaddr = 0x10000;
	pe.nr_pages = 3;
	pe.flags = PE_PRESENT;
	pe.has_frame = pe.has_offset = 1;
	if (img_writer_open(d, IMG_PAGEMAP, "pagemap-5.img", &w))
		return -1;
	if (img_writer_put(w, &h.base) || img_writer_put(w, &pe.base)) {
		img_writer_free(w);
		return -1;
	}
	return img_writer_close(w);
}

UNIT_TEST(img_stream_counts_mismatch)
{
	struct img_pagemap_counts c;
	struct img_dir *d;
	char path[128], tmp[64];

	snprintf(tmp, sizeof(tmp), "%s", unit_tmpdir());
	snprintf(path, sizeof(path), "%s/a", tmp);
	CHECK(!img_dir_create(path, IMG_DIR_NOFSYNC, &d));
	CHECK(!put_pagemap(d, 1, 4));
	CHECK_EQ(img_pagemap_counts(d, 5, &c), -EBADMSG);
	CHECK(strstr(img_strerror(), "pagemap-5.img"));
	img_dir_free(d);
	snprintf(path, sizeof(path), "%s/b", tmp);
	CHECK(!img_dir_create(path, IMG_DIR_NOFSYNC, &d));
	CHECK(!put_pagemap(d, 1, 3));
	CHECK(!img_pagemap_counts(d, 5, &c));
	CHECK_EQ(c.nr_stored, 3);
	CHECK_EQ(c.nr_runs, 1);
	img_dir_free(d);
	snprintf(path, sizeof(path), "%s/c", tmp);
	CHECK(!img_dir_create(path, IMG_DIR_NOFSYNC, &d));
	CHECK(!put_pagemap(d, 0, 0));
	CHECK(!img_pagemap_counts(d, 5, &c));
	CHECK_EQ(c.nr_stored, 3);
	img_dir_free(d);
	timg_rmrf(tmp);
	return 0;
}
