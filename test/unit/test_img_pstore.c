// SPDX-License-Identifier: MIT
/*
 * test_img_pstore.c: page-store writer -> img_mem read-back: zero-page
 * detection, raw frames for random data, many frames, empty images, huge
 * runs, the parallel frame walk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_img.h"
#include "unit.h"
#include "util.h"

/* The inventory's sizes and hashes (partly from the writers) match the files. */
static int check_inventory(const struct img_dir *d)
{
	InventoryEntry *inv;
	uint64_t size, hash;
	size_t i;
	int fd, bad = 0;

	if (img_inventory_read(d, &inv))
		return 1;
	for (i = 0; i < inv->n_files; i++) {
		fd = img_dir_open_file(d, inv->files[i]->name);
		if (fd < 0 || img_file_hash(fd, "f", 0, &size, &hash) ||
		    size != inv->files[i]->size || hash != inv->files[i]->xxh3) {
			fprintf(stderr, "  inventory entry of %s is wrong\n", inv->files[i]->name);
			bad = 1;
		}
		close(fd);
	}
	inventory_entry__free_unpacked(inv, NULL);
	return bad;
}

static int roundtrip(const struct timg *t, struct pstore_stats *st, struct img_mem **mp,
		     struct img_dir **dp, char *path, size_t plen)
{
	int ret = 0;

	snprintf(path, plen, "%s/img", unit_tmpdir());
	if (timg_write(path, t, st)) {
		fprintf(stderr, "  write: %s\n", img_strerror());
		return 1;
	}
	if (img_dir_open(path, dp) || (ret = img_mem_load(*dp, t->pid, mp))) {
		fprintf(stderr, "  load: %d %s\n", ret, img_strerror());
		return 1;
	}
	return check_inventory(*dp) || timg_check(*mp, t);
}

static void done(struct img_mem *m, struct img_dir *d, const char *path)
{
	char *dir = strdup(path);

	img_mem_free(m);
	img_dir_free(d);
	*strrchr(dir, '/') = 0;
	timg_rmrf(dir);
	free(dir);
}

UNIT_TEST(img_pstore_mixed)
{
	static const struct timg_vma v[] = {
		{ 0x400000, 5, 2, "/usr/bin/fake", "PPPPZZPP-RRRR" },
		{ 0x400000 + 13 * 4096, 3, 9, "[heap]", "ZZZZHHPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPRRZ" },
		{ 0x7ff000000000, 3, 8, "[stack]", "----PPP-" },
	};
	struct timg t = { .pid = 42, .vmas = v, .nr_vmas = 3, .with_core = 1,
			  .opts = { .frame_bytes = 8 * 4096, .threads = 2 } };
	struct pstore_stats st;
	struct img_mem *m = NULL;
	struct img_dir *d = NULL;
	char path[128];
	size_t i, raw = 0;

	CHECK(!roundtrip(&t, &st, &m, &d, path, sizeof(path)));
	CHECK_EQ(st.pages_stored, 4 + 2 + 4 + 36 + 2 + 3);
	CHECK_EQ(st.pages_zero, 2 + 4 + 2 + 1);
	CHECK(st.frames >= 6);
	CHECK_EQ(st.frames, m->nr_frames);
	CHECK(st.bytes_stored < st.bytes_raw);
	CHECK(m->task && m->nr_threads == 1 && m->task->pid == 42);
	CHECK_EQ(m->nr_vmas, 3);
	for (i = 0; i < m->nr_frames; i++)
		raw += !(m->frames[i].flags & FRAME_ZSTD);
	CHECK(raw >= 1);	/* the RRRR frame does not compress */
	/* zero runs merged across holes and copied zero pages */
	CHECK(img_mem_find_run(m, 0x400000 + 13 * 4096)->nr_pages == 6);
	CHECK(img_mem_find_run(m, 0x400000 + 8 * 4096) == NULL);
	CHECK(img_mem_find_vma(m, 0x7ff000000000 + 4096)->kind == 8);
	done(m, d, path);
	return 0;
}

UNIT_TEST(img_pstore_empty_and_one)
{
	static const struct timg_vma v0[] = { { 0x10000, 3, 0, NULL, "----" } };
	static const struct timg_vma v1[] = { { 0x10000, 3, 0, NULL, "-P--" } };
	struct timg t = { .pid = 7, .vmas = v0, .nr_vmas = 1 };
	struct pstore_stats st;
	struct img_mem *m = NULL;
	struct img_dir *d = NULL;
	char path[128];

	CHECK(!roundtrip(&t, &st, &m, &d, path, sizeof(path)));
	CHECK_EQ(m->nr_runs, 0);
	CHECK_EQ(m->nr_frames, 0);
	CHECK_EQ(st.frames, 0);
	CHECK_EQ(img_mem_foreach_frame(m, 2, NULL, NULL), 0);
	done(m, d, path);

	t.vmas = v1;
	CHECK(!roundtrip(&t, &st, &m, &d, path, sizeof(path)));
	CHECK_EQ(m->nr_runs, 1);
	CHECK_EQ(m->nr_frames, 1);
	CHECK_EQ(m->frames[0].raw_len, 4096);
	done(m, d, path);
	return 0;
}

UNIT_TEST(img_pstore_random_layouts)
{
	static const char chars[] = "PPPRZZH-";
	unsigned int seed;

	for (seed = 1; seed <= 12; seed++) {
		struct timg_vma v[4];
		char pages[4][300];
		struct timg t = { .pid = 100 + seed, .vmas = v, .nr_vmas = 4,
				  .opts = { .frame_bytes = (1 + seed % 5) * 4096 * 7,
					    .threads = 1 + seed % 3, .level = seed % 2 ? -3 : 3,
					    .no_compress = seed == 5 } };
		struct pstore_stats st;
		struct img_mem *m = NULL;
		struct img_dir *d = NULL;
		char path[128];
		int i, j;

		srand(seed);
		for (i = 0; i < 4; i++) {
			int n = 1 + rand() % 299;

			for (j = 0; j < n; j++)
				pages[i][j] = chars[rand() % 8];
			pages[i][n] = 0;
			v[i] = (struct timg_vma){ 0x100000000ull * (i + 1) + (i == 2 ? 0x1000 : 0),
						  3, 0, NULL, pages[i] };
		}
		if (roundtrip(&t, &st, &m, &d, path, sizeof(path))) {
			fprintf(stderr, "  seed %u\n", seed);
			return 1;
		}
		if (seed == 5)
			for (i = 0; i < (int)m->nr_frames; i++)
				CHECK(m->frames[i].flags == 0);
		done(m, d, path);
	}
	return 0;
}

struct walk {
	uint64_t next, pages;
	size_t ps;
};

static int walk_cb(void *arg, const struct img_frame *f, const void *data,
		   const struct img_run *const *runs, size_t nr)
{
	struct walk *w = arg;
	uint8_t want[4096];
	size_t i, k;

	if (f->id != w->next++)
		return -1;
	for (i = 0; i < nr; i++) {
		for (k = 0; k < runs[i]->nr_pages; k++) {
			const uint8_t *got = (const uint8_t *)data + (runs[i]->offset + k) * w->ps;

			timg_page(runs[i]->vaddr + k * w->ps, 'P', want, w->ps);
			if (memcmp(got, want, w->ps))
				return -2;
			w->pages++;
		}
	}
	return 0;
}

UNIT_TEST(img_pstore_foreach_frame)
{
	static char pages[1001];
	struct timg_vma v[1] = { { 0x200000, 3, 0, NULL, pages } };
	struct timg t = { .pid = 9, .vmas = v, .nr_vmas = 1,
			  .opts = { .frame_bytes = 16 * 4096, .threads = 2 } };
	struct pstore_stats st;
	struct img_mem *m = NULL;
	struct img_dir *d = NULL;
	struct walk w = { 0, 0, 4096 };
	char path[128];
	int i;

	for (i = 0; i < 1000; i++)
		pages[i] = i % 7 == 3 ? 'Z' : 'P';
	CHECK(!roundtrip(&t, &st, &m, &d, path, sizeof(path)));
	CHECK(m->nr_frames > 50);
	CHECK_EQ(img_mem_foreach_frame(m, 3, walk_cb, &w), 0);
	CHECK_EQ(w.next, m->nr_frames);
	CHECK_EQ(w.pages, st.pages_stored);
	CHECK_EQ(img_mem_check_frames(m, 2, NULL, NULL), 0);
	done(m, d, path);
	return 0;
}

/* Page counts above 2^32 must be representable end to end. */
UNIT_TEST(img_pstore_huge_runs)
{
	const uint64_t big = (1ull << 33) + 5, start = 0x100000000000ull;
	char path[128], *pages = malloc(2);
	struct pstore_writer *w;
	struct img_writer *mw;
	struct img_dir *d;
	struct img_mem *m;
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry ve = VMA_ENTRY__INIT;
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	uint8_t buf[64], id[16] = { 1 };
	struct pstore_opts o = { .threads = 1 };

	snprintf(path, sizeof(path), "%s/img", unit_tmpdir());
	CHECK(!img_dir_create(path, IMG_DIR_NOFSYNC, &d));
	CHECK(!img_writer_open(d, IMG_MM, "mm-5.img", &mw));
	mm.pid = 5;
	mm.nr_vmas = 1;
	ve.start = start;
	ve.end = start + (big + 1) * 4096;
	ve.flags = MAP_PRIVATE | MAP_ANONYMOUS;
	CHECK(!img_writer_put(mw, &mm.base) && !img_writer_put(mw, &ve.base));
	CHECK(!img_writer_close(mw));
	CHECK(!pstore_writer_open(d, 5, &o, &w));
	CHECK(!pstore_writer_add_hole(w, start, big, PE_ZERO));
	CHECK(!pstore_writer_add_hole(w, start + big * 4096, 1, PE_LAZY));
	CHECK(!pstore_writer_close(w, NULL));
	inv.tool_version = inv.kernel_release = inv.arch = "t";
	inv.page_size = 4096;
	inv.image_id.data = id;
	inv.image_id.len = 16;
	CHECK(!img_dir_commit(d, &inv));
	img_dir_free(d);
	CHECK(!img_dir_open(path, &d));
	CHECK(!img_mem_load(d, 5, &m));
	CHECK_EQ(m->nr_runs, 2);
	CHECK(m->runs[0].nr_pages == big);
	memset(buf, 0x77, sizeof(buf));
	CHECK_EQ(img_mem_read(m, start + (big - 1) * 4096 + 8, buf, 16, NULL), 0);
	CHECK(buf[0] == 0 && buf[15] == 0 && buf[16] == 0x77);
	CHECK_EQ(img_mem_read(m, start + big * 4096, buf, 8, NULL), 1);
	img_mem_free(m);
	img_dir_free(d);
	free(pages);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}

/* One unaligned read across runs of every kind, with the absent bitmap. */
UNIT_TEST(img_mem_read_unaligned_span)
{
	static const struct timg_vma v[] = { { 0x600000, 3, 0, NULL, "PZ-RHPP-P" } };
	struct timg t = { .pid = 11, .vmas = v, .nr_vmas = 1,
			  .opts = { .frame_bytes = 2 * 4096, .threads = 2 } };
	const size_t ps = 4096, n = 9;
	uint8_t *got = malloc(n * ps), *want = malloc(n * ps), absent[2];
	struct pstore_stats st;
	struct img_mem *m = NULL;
	struct img_dir *d = NULL;
	char path[128];
	size_t i;

	CHECK(!roundtrip(&t, &st, &m, &d, path, sizeof(path)));
	for (i = 0; i < n; i++)
		timg_page(0x600000 + i * ps, v[0].pages[i], want + i * ps, ps);
	memset(got, 0xee, n * ps);
	CHECK_EQ(img_mem_read(m, 0x600000 + 100, got + 100, n * ps - 200, absent), 2);
	CHECK_EQ(absent[0], (1 << 2) | (1 << 7));
	CHECK_EQ(absent[1], 0);
	CHECK(got[99] == 0xee && got[n * ps - 100] == 0xee);
	for (i = 100; i < n * ps - 100; i++) {
		size_t pg = i / ps;

		if (v[0].pages[pg] == '-')
			CHECK(got[i] == 0xee);	/* absent pages are left untouched */
		else
			CHECK(got[i] == want[i]);
	}
	CHECK_EQ(img_mem_read(m, UINT64_MAX - 10, got, 100, NULL), -EOVERFLOW);
	free(got);
	free(want);
	done(m, d, path);
	return 0;
}
