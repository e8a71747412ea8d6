// SPDX-License-Identifier: MIT
/*
 * test_img_golden.c: the golden images in test/data/golden-v1 (a complete
 * base image) and golden-v1-incr (an incremental child with PE_PARENT runs)
 * must keep decoding to exactly these contents. CM_WRITE_GOLDEN=1 rewrites
 * them with the current writer instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_img.h"
#include "unit.h"
#include "util.h"

#define GOLDEN_BASE "test/data/golden-v1"
#define GOLDEN_INCR "test/data/golden-v1-incr"

static const struct timg_vma golden_base_vmas[] = {
	{ 0x555555554000, 5, 2, "/usr/bin/golden", "PPPPPPPP" },
	{ 0x555555560000, 3, 2, "/usr/bin/golden", "PZPZRR--" },
	{ 0x555555570000, 3, 9, "[heap]", "HHPPPPPPPPZZ" },
	{ 0x7ffffffde000, 3, 8, "[stack]", "----PPPP" },
};

static const struct timg_vma golden_incr_vmas[] = {
	{ 0x555555554000, 5, 2, "/usr/bin/golden", "AAAAAAAA" },
	{ 0x555555560000, 3, 2, "/usr/bin/golden", "APAPAA--" },
	{ 0x555555570000, 3, 9, "[heap]", "HHRAAAAAAPZZ" },
	{ 0x7ffffffde000, 3, 8, "[stack]", "----AAPP" },
};

static const struct timg golden_base = {
	.pid = 4242, .vmas = golden_base_vmas, .nr_vmas = 4, .with_core = 1,
	.opts = { .frame_bytes = 4 * 4096, .threads = 2, .level = 3 },
};

static const struct timg golden_incr = {
	.pid = 4242, .vmas = golden_incr_vmas, .nr_vmas = 4, .with_core = 1,
	.opts = { .frame_bytes = 4 * 4096, .threads = 2, .level = 3 },
	.parent_path = "../golden-v1",
};

static int golden_write(void)
{
	struct pstore_stats st;

	timg_rmrf(GOLDEN_BASE);
	timg_rmrf(GOLDEN_INCR);
	if (timg_write(GOLDEN_BASE, &golden_base, &st) ||
	    timg_write(GOLDEN_INCR, &golden_incr, &st)) {
		fprintf(stderr, "  %s\n", img_strerror());
		return 1;
	}
	fprintf(stderr, "  wrote %s and %s\n", GOLDEN_BASE, GOLDEN_INCR);
	return 0;
}

UNIT_TEST(img_golden_base)
{
	InventoryEntry *inv;
	struct img_dir *d;
	struct img_mem *m;

	if (getenv("CM_WRITE_GOLDEN") && !strcmp(getenv("CM_WRITE_GOLDEN"), "1"))
		return golden_write();
	CHECK(!img_dir_open(GOLDEN_BASE, &d));
	CHECK(!img_inventory_read(d, &inv));
	CHECK_EQ(inv->format_version, 1);
	CHECK(!strcmp(inv->kernel_release, "6.18.0-test") && !strcmp(inv->arch, "x86_64"));
	CHECK_EQ(inv->root_pid, 4242);
	CHECK_EQ(inv->n_files, 6);
	CHECK(!inv->has_parent_id);
	inventory_entry__free_unpacked(inv, NULL);
	CHECK(!img_mem_load(d, 4242, &m));
	CHECK_EQ(m->nr_vmas, 4);
	CHECK_EQ(m->nr_threads, 1);
	CHECK(m->task && !strcmp(m->task->cwd, "/tmp"));
	CHECK(!strcmp(m->vmas[2]->path, "[heap]"));
	CHECK_EQ(m->nr_frames, 8);
	CHECK_EQ(m->frames[3].flags, 0);	/* "RR" does not compress */
	CHECK_EQ(m->nr_runs, 13);
	CHECK(!timg_check(m, &golden_base));
	CHECK_EQ(img_mem_check_frames(m, 2, NULL, NULL), 0);
	img_mem_free(m);
	img_dir_free(d);
	return 0;
}

UNIT_TEST(img_golden_incremental)
{
	static const struct timg_vma *iv = golden_incr_vmas, *bv = golden_base_vmas;
	uint8_t got[4096], want[4096];
	struct img_mem *m, *p;
	struct img_dir *d;
	size_t v, i, parent_pages = 0;

	if (getenv("CM_WRITE_GOLDEN"))
		return 0;
	CHECK(!img_dir_open(GOLDEN_INCR, &d));
	CHECK(!img_mem_load(d, 4242, &m));
	CHECK(!img_mem_parent(m, &p) && p);
	for (v = 0; v < 4; v++) {
		for (i = 0; iv[v].pages[i]; i++) {
			uint64_t va = iv[v].start + i * 4096;
			char c = iv[v].pages[i];
			long n = img_mem_read(m, va, got, 4096, NULL);

			timg_page(va, c == 'A' ? bv[v].pages[i] : c, want, 4096);
			if (c == '-') {
				CHECK_EQ(n, 1);
				continue;
			}
			CHECK_EQ(n, 0);
			CHECK(!memcmp(got, want, 4096));
			parent_pages += c == 'A';
		}
	}
	CHECK_EQ(parent_pages, 20);
	img_mem_free(m);
	img_dir_free(d);
	return 0;
}
