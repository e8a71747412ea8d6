// SPDX-License-Identifier: MIT
/*
 * roundtrip.c: libFuzzer target for the image library's encode/decode round
 * trip. The input drives a fake process (MmEntry, VMAs, one thread, pages
 * that are absent, copied zeros, input-derived data, zero or parent holes),
 * written with img_writer / pstore_writer into a temporary image directory
 * and read back with img_inventory_read / img_mem; any mismatch aborts.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"
#include "test/pcode.h"

#define RT_PID		4242
#define RT_MAX_VMAS	6
#define RT_MAX_PAGES	12	/* per VMA */
#define RT_PS		4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rt_in {
	const uint8_t *p;
	size_t n;
};

struct rt_vma {
	VmaEntry e;
	char path[32];
	uint8_t build_id[20];
	char pages[RT_MAX_PAGES + 1];	/* '-' absent, Z zeros, D data, H zero hole, A parent */
	uint8_t seed;
};

struct rt {
	MmEntry mm;
	uint64_t auxv[8];
	char exe[32];
	ThreadCore th;
	uint8_t regs[216];
	struct rt_vma v[RT_MAX_VMAS];
	size_t nr_vmas;
	struct pstore_opts opts;
	uint8_t tail[64];	/* input bytes mixed into data pages */
	size_t tail_len;
};

static uint8_t u8(struct rt_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(struct rt_in *in)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | u8(in);
	return v;
}

static void rt_page(const struct rt *t, const struct rt_vma *v, uint64_t va, uint8_t *out)
{
	size_t i;

	for (i = 0; i < RT_PS; i++)
		out[i] = (uint8_t)(v->seed + (i % 251) * ((va >> 12) | 1));
	memcpy(out, t->tail, t->tail_len);
	out[RT_PS - 1] |= 1;	/* never all zero */
}

static void rt_str(struct rt_in *in, char *s, size_t cap, char lo)
{
	size_t i, n = u8(in) % cap;

	for (i = 0; i < n; i++)
		s[i] = lo + u8(in) % 26;
	s[n] = 0;
}

static void rt_gen_vma(struct rt_in *in, struct rt_vma *rv, uint64_t start)
{
	static const char kinds[] = "--ZDDDDHA";
	VmaEntry *e = &rv->e;
	size_t i, np = 1 + u8(in) % RT_MAX_PAGES;

	vma_entry__init(e);
	e->start = start;
	e->end = start + np * RT_PS;
	e->prot = u8(in) & 7;
	e->flags = u8(in) ? 0x22 : 0x01;
	e->kind = u8(in) % 12;
	if (u8(in) & 1) {
		rt_str(in, rv->path, sizeof(rv->path), 'a');
		rv->path[0] = '/';
		e->path = rv->path;
	}
	e->has_pgoff = u8(in) & 1;
	e->pgoff = u64(in);
	e->has_dev = e->has_ino = 1;
	e->dev = u64(in);
	e->ino = u64(in);
	e->has_vm_flags = 1;
	e->vm_flags = u64(in);
	e->has_pkey = u8(in) & 1;
	e->pkey = u8(in);
	if (u8(in) & 1) {
		e->has_build_id = 1;
		for (i = 0; i < sizeof(rv->build_id); i++)
			rv->build_id[i] = u8(in);
		e->build_id.data = rv->build_id;
		e->build_id.len = sizeof(rv->build_id);
	}
	rv->seed = u8(in);
	for (i = 0; i < np; i++)
		rv->pages[i] = kinds[u8(in) % (sizeof(kinds) - 1)];
	rv->pages[np] = 0;
}

static void rt_gen(struct rt_in *in, struct rt *t)
{
	uint64_t start = 0x10000000ull + (uint64_t)(u8(in) % 16) * RT_PS;
	size_t i;

	memset(t, 0, sizeof(*t));
	mm_entry__init(&t->mm);
	t->mm.pid = RT_PID;
	t->mm.has_brk = 1;
	t->mm.brk = u64(in);
	t->mm.has_start_stack = 1;
	t->mm.start_stack = u64(in);
	t->mm.n_auxv = (u8(in) % 5) * 2;
	for (i = 0; i < t->mm.n_auxv; i++)
		t->auxv[i] = u64(in);
	t->mm.auxv = t->auxv;
	rt_str(in, t->exe, sizeof(t->exe), 'a');
	t->mm.exe_path = t->exe;
	thread_core__init(&t->th);
	t->th.tid = RT_PID;
	for (i = 0; i < sizeof(t->regs); i++)
		t->regs[i] = u8(in);
	t->th.gpregs.data = t->regs;
	t->th.gpregs.len = sizeof(t->regs);
	t->opts.threads = 1;
	t->opts.level = 1;
	t->opts.no_compress = u8(in) & 1;
	t->opts.frame_bytes = (1 + u8(in) % 8) * RT_PS;
	t->nr_vmas = 1 + u8(in) % RT_MAX_VMAS;
	for (i = 0; i < t->nr_vmas; i++) {
		rt_gen_vma(in, &t->v[i], start);
		start = t->v[i].e.end + (uint64_t)(u8(in) % 3) * RT_PS;
	}
	t->mm.nr_vmas = t->nr_vmas;
	t->tail_len = in->n < sizeof(t->tail) ? in->n : sizeof(t->tail);
	memcpy(t->tail, in->p, t->tail_len);
}

static int rt_records(struct img_dir *d, const struct rt *t)
{
	TaskCore tc = TASK_CORE__INIT;
	struct img_writer *w;
	char name[64];
	size_t i;
	int ret;

	img_kind_filename(IMG_MM, RT_PID, name, sizeof(name));
	ret = img_writer_open(d, IMG_MM, name, &w);
	if (ret)
		return ret;
	ret = img_writer_put(w, &t->mm.base);
	for (i = 0; !ret && i < t->nr_vmas; i++)
		ret = img_writer_put(w, &t->v[i].e.base);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	ret = img_writer_close(w);
	if (ret)
		return ret;
	img_kind_filename(IMG_CORE, RT_PID, name, sizeof(name));
	ret = img_writer_open(d, IMG_CORE, name, &w);
	if (ret)
		return ret;
	tc.pid = RT_PID;
	ret = img_writer_put(w, &tc.base);
	if (!ret)
		ret = img_writer_put(w, &t->th.base);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	return img_writer_close(w);
}

/* pcode_fill_fn: 'Z' pages are written zeros, the others rt_page(). */
struct rt_fill {
	const struct rt *t;
	const struct rt_vma *v;
};

static void rt_fill(void *arg, uint64_t va, char c, void *out)
{
	const struct rt_fill *f = arg;

	if (c == 'Z')
		memset(out, 0, RT_PS);
	else
		rt_page(f->t, f->v, va, out);
}

static int rt_pages(struct img_dir *d, const struct rt *t)
{
	struct pstore_writer *w = NULL;
	struct pstore_buf *b = NULL;
	struct pstore_stats st;
	size_t v;
	int ret;

	ret = pstore_writer_open(d, RT_PID, &t->opts, &w);
	if (ret)
		return ret;
	for (v = 0; v < t->nr_vmas && !ret; v++) {
		struct rt_fill f = { t, &t->v[v] };

		ret = pcode_feed(w, &b, t->v[v].e.start, t->v[v].pages, RT_PS, rt_fill, &f);
	}
	return pcode_close(w, b, ret, &st);
}

static int rt_write(const char *path, const struct rt *t)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	ProcessEntry pe = PROCESS_ENTRY__INIT, *pes[1] = { &pe };
	uint8_t id[16];
	struct img_dir *d = NULL;
	int ret;

	memset(id, 0x11, sizeof(id));
	ret = img_dir_create(path, IMG_DIR_NOFSYNC, &d);
	if (!ret)
		ret = rt_records(d, t);
	if (!ret)
		ret = rt_pages(d, t);
	if (ret)
		goto out;
	inv.format_version = IMG_FORMAT_VERSION;
	inv.tool_version = "fuzz";
	inv.kernel_release = "6.18.0-fuzz";
	inv.arch = "x86_64";
	inv.page_size = RT_PS;
	inv.root_pid = RT_PID;
	inv.n_procs = 1;
	inv.procs = pes;
	pe.pid = RT_PID;
	pe.comm = "fuzz";
	inv.image_id.data = id;
	inv.image_id.len = sizeof(id);
	ret = img_dir_commit(d, &inv);
out:
	img_dir_free(d);
	return ret;
}

#define RT_CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "roundtrip: %s:%d: %s\n", __FILE__,	\
				__LINE__, #cond);				\
			abort();						\
		}								\
	} while (0)

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return (!a || !*a) && (!b || !*b);
	return !strcmp(a, b);
}

static void rt_check_vma(const VmaEntry *g, const VmaEntry *w)
{
	RT_CHECK(g->start == w->start && g->end == w->end);
	RT_CHECK(g->prot == w->prot && g->flags == w->flags && g->kind == w->kind);
	RT_CHECK(g->has_pgoff == w->has_pgoff && (!w->has_pgoff || g->pgoff == w->pgoff));
	RT_CHECK(str_eq(g->path, w->path));
	RT_CHECK(g->dev == w->dev && g->ino == w->ino && g->vm_flags == w->vm_flags);
	RT_CHECK(g->has_pkey == w->has_pkey && (!w->has_pkey || g->pkey == w->pkey));
	RT_CHECK(g->has_build_id == w->has_build_id);
	RT_CHECK(!w->has_build_id || (g->build_id.len == w->build_id.len &&
				      !memcmp(g->build_id.data, w->build_id.data,
					      w->build_id.len)));
}

static void rt_check_pages(struct img_mem *m, const struct rt *t)
{
	static uint8_t got[RT_PS], want[RT_PS];
	size_t v, i;

	for (v = 0; v < t->nr_vmas; v++) {
		const struct rt_vma *rv = &t->v[v];

		for (i = 0; rv->pages[i]; i++) {
			uint64_t va = rv->e.start + i * RT_PS;
			uint8_t absent = 0;
			char c = rv->pages[i];
			long n;

			memset(got, 0x5a, sizeof(got));
			n = img_mem_read(m, va, got, RT_PS, &absent);
			if (c == '-' || c == 'A') {
				RT_CHECK(n == 1 && absent == 1);
				continue;
			}
			RT_CHECK(n == 0);
			if (c == 'D')
				rt_page(t, rv, va, want);
			else
				memset(want, 0, RT_PS);
			RT_CHECK(!memcmp(got, want, RT_PS));
		}
	}
}

static void rt_check(const char *path, const struct rt *t)
{
	struct img_dir *d = NULL;
	struct img_mem *m = NULL;
	InventoryEntry *inv = NULL;
	size_t i;

	RT_CHECK(!img_dir_open(path, &d));
	RT_CHECK(!img_inventory_read(d, &inv));
	RT_CHECK(inv->root_pid == RT_PID && inv->page_size == RT_PS && inv->n_files >= 5);
	inventory_entry__free_unpacked(inv, NULL);
	if (img_mem_load(d, RT_PID, &m)) {
		fprintf(stderr, "roundtrip: load: %s\n", img_strerror());
		abort();
	}
	RT_CHECK(m->nr_vmas == t->nr_vmas && m->mm->nr_vmas == t->nr_vmas);
	RT_CHECK(m->mm->brk == t->mm.brk && m->mm->start_stack == t->mm.start_stack);
	RT_CHECK(m->mm->n_auxv == t->mm.n_auxv &&
		 !memcmp(m->mm->auxv, t->auxv, t->mm.n_auxv * sizeof(uint64_t)));
	RT_CHECK(str_eq(m->mm->exe_path, t->exe));
	for (i = 0; i < t->nr_vmas; i++)
		rt_check_vma(m->vmas[i], &t->v[i].e);
	RT_CHECK(m->task && m->task->pid == RT_PID && m->nr_threads == 1);
	RT_CHECK(m->threads[0]->gpregs.len == sizeof(t->regs) &&
		 !memcmp(m->threads[0]->gpregs.data, t->regs, sizeof(t->regs)));
	rt_check_pages(m, t);
	img_mem_free(m);
	img_dir_free(d);
}

static void rt_rmrf(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
	rmdir(path);
}

static char base[64], path[96];

static void rt_cleanup(void)
{
	rt_rmrf(path);
	rmdir(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_in in = { data, size };
	static struct rt t;
	int ret;

	if (!base[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(base, sizeof(base), "%s/cm-rt.XXXXXX", tmp ? tmp : "/tmp");
		if (!mkdtemp(base))
			abort();
		snprintf(path, sizeof(path), "%s/img", base);
		atexit(rt_cleanup);
	}
	rt_gen(&in, &t);
	ret = rt_write(path, &t);
	if (ret) {
		fprintf(stderr, "roundtrip: write: %d %s\n", ret, img_strerror());
		abort();
	}
	rt_check(path, &t);
	rt_rmrf(path);
	return 0;
}
