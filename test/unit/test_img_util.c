// SPDX-License-Identifier: MIT
/*
 * test_img_util.c: builds synthetic images with the real writers (see
 * test_img.h) and compares them back; shared by the image tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test/pcode.h"
#include "test_img.h"
#include "unit.h"
#include "util.h"

void timg_page(uint64_t vaddr, char c, void *out, size_t ps)
{
	uint64_t *q = out, x = vaddr * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	switch (c) {
	case 'P':
		for (i = 0; i < ps / 8; i++)
			q[i] = (vaddr << 16) | (i % 64);
		break;
	case 'R':
		for (i = 0; i < ps / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			q[i] = x;
		}
		break;
	default:
		memset(out, 0, ps);
	}
}

/* pcode_fill_fn for timg_page(); arg points to the page size. */
static void timg_fill(void *arg, uint64_t va, char c, void *out)
{
	timg_page(va, c, out, *(const size_t *)arg);
}

static int timg_pages(struct img_dir *d, const struct timg *t, struct pstore_stats *st)
{
	struct pstore_writer *w = NULL;
	struct pstore_buf *b = NULL;
	size_t ps = page_size(), v;
	int ret;

	ret = pstore_writer_open(d, t->pid, &t->opts, &w);
	if (ret)
		return ret;
	for (v = 0; v < t->nr_vmas && !ret; v++)
		ret = pcode_feed(w, &b, t->vmas[v].start, t->vmas[v].pages, ps, timg_fill, &ps);
	return pcode_close(w, b, ret, st);
}

static int timg_mm(struct img_dir *d, const struct timg *t)
{
	MmEntry mm = MM_ENTRY__INIT;
	struct img_writer *w;
	char name[64];
	size_t v;
	int ret;

	img_kind_filename(IMG_MM, t->pid, name, sizeof(name));
	ret = img_writer_open(d, IMG_MM, name, &w);
	if (ret)
		return ret;
	mm.pid = t->pid;
	mm.nr_vmas = t->nr_vmas;
	mm.exe_path = "/usr/bin/fake";
	ret = img_writer_put(w, &mm.base);
	for (v = 0; !ret && v < t->nr_vmas; v++) {
		VmaEntry ve = VMA_ENTRY__INIT;

		ve.start = t->vmas[v].start;
		ve.end = ve.start + strlen(t->vmas[v].pages) * page_size();
		ve.prot = t->vmas[v].prot;
		ve.flags = 0x22;
		ve.kind = t->vmas[v].kind;
		ve.path = (char *)t->vmas[v].path;
		ret = img_writer_put(w, &ve.base);
	}
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	return img_writer_close(w);
}

static int timg_core(struct img_dir *d, const struct timg *t)
{
	TaskCore tc = TASK_CORE__INIT;
	ThreadCore th = THREAD_CORE__INIT;
	FdEntry fd = FD_ENTRY__INIT;
	uint8_t regs[216];
	struct img_writer *w;
	char name[64];
	int ret;

	memset(regs, 0xab, sizeof(regs));
	img_kind_filename(IMG_CORE, t->pid, name, sizeof(name));
	ret = img_writer_open(d, IMG_CORE, name, &w);
	if (ret)
		return ret;
	tc.pid = t->pid;
	tc.cwd = "/tmp";
	th.tid = t->pid;
	th.gpregs.data = regs;
	th.gpregs.len = sizeof(regs);
	th.comm = "fake";
	th.has_syscall_nr = 1;
	th.syscall_nr = -1;
	ret = img_writer_put(w, &tc.base);
	if (!ret)
		ret = img_writer_put(w, &th.base);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	ret = img_writer_close(w);
	if (ret)
		return ret;
	img_kind_filename(IMG_FILES, t->pid, name, sizeof(name));
	ret = img_writer_open(d, IMG_FILES, name, &w);
	if (ret)
		return ret;
	fd.fd = 0;
	fd.kind = FD_KIND__FD_DEVNULL;
	fd.path = "/dev/null";
	ret = img_writer_put(w, &fd.base);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	return img_writer_close(w);
}

int timg_write(const char *path, const struct timg *t, struct pstore_stats *st)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	ProcessEntry pe = PROCESS_ENTRY__INIT, *pes[1] = { &pe };
	uint8_t id[16], pid_[16];
	struct img_dir *d = NULL;
	int ret;

	memset(id, 0x11, sizeof(id));
	memset(pid_, 0x22, sizeof(pid_));
	ret = img_dir_create(path, IMG_DIR_NOFSYNC, &d);
	if (ret)
		return ret;
	ret = timg_mm(d, t);
	if (!ret && t->with_core)
		ret = timg_core(d, t);
	if (!ret)
		ret = timg_pages(d, t, st);
	if (ret)
		goto out;
	inv.format_version = IMG_FORMAT_VERSION;
	inv.tool_version = "test";
	inv.kernel_release = "6.18.0-test";
	inv.arch = "x86_64";
	inv.page_size = page_size();
	inv.ctime_ns = 1700000000000000000ull;
	inv.root_pid = t->pid;
	inv.n_procs = 1;
	inv.procs = pes;
	pe.pid = t->pid;
	pe.comm = "fake";
	inv.image_id.data = t->parent_path ? pid_ : id;
	inv.image_id.len = 16;
	if (t->parent_path) {
		inv.has_parent_id = 1;
		inv.parent_id.data = id;
		inv.parent_id.len = 16;
		inv.parent_path = (char *)t->parent_path;
	}
	ret = img_dir_commit(d, &inv);
out:
	img_dir_free(d);
	return ret;
}

int timg_check(struct img_mem *m, const struct timg *t)
{
	size_t ps = page_size(), v;
	uint8_t *got = malloc(ps), *want = malloc(ps), absent;
	int ret = 0;

	for (v = 0; v < t->nr_vmas && !ret; v++) {
		const struct timg_vma *vm = &t->vmas[v];
		size_t i;

		for (i = 0; vm->pages[i] && !ret; i++) {
			uint64_t va = vm->start + i * ps;
			char c = vm->pages[i];
			long n;

			memset(got, 0x5a, ps);
			n = img_mem_read(m, va, got, ps, &absent);
			if (n < 0) {
				fprintf(stderr, "  read %#llx: %s\n", (unsigned long long)va,
					img_strerror());
				ret = 1;
				break;
			}
			timg_page(va, c, want, ps);
			if (c == '-' || c == 'A') {	/* absent (no parent loaded) */
				if (n != 1 || absent != 1)
					ret = 1;
			} else if (n != 0 || memcmp(got, want, ps)) {
				ret = 1;
			}
			if (ret)
				fprintf(stderr, "  page %#llx ('%c') differs (absent %ld)\n",
					(unsigned long long)va, c, n);
		}
	}
	free(got);
	free(want);
	return ret;
}

long timg_slurp(const char *path, uint8_t **out)
{
	char *buf;
	size_t len;
	int ret = read_file_str(path, &buf, &len, 64 << 20);

	if (ret)
		return ret;
	*out = (uint8_t *)buf;
	return len;
}

void timg_rmrf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd))
		fprintf(stderr, "  cannot remove %s\n", path);
}
