// SPDX-License-Identifier: MIT
/*
 * cmd_core.c: `criu-mem core DIR -o FILE`: an ELF core file of a dumped
 * process for gdb. The header and notes come from elfcore.c; this file
 * writes the segment data sparsely (zero and absent pages are holes):
 * stored pages frame by frame with parallel decompression, parent pages
 * through img_mem_read().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "core: "
#include "addr.h"
#include "imgopen.h"
#include "cli.h"
#include "elfcore.h"
#include "log.h"
#include "progress.h"
#include "util.h"

#define CORE_CHUNK	(4u << 20)

struct core_ctx {
	struct img_mem *m;
	int fd;
	const char *out_path;
	char *tmp_path;		/* written here, renamed to out_path when complete */
	int force;		/* replace an existing out_path */
	uint8_t *buf;
	const uint8_t *vdso;	/* our own [vdso] when it is the dumped one */
	struct progress pb;
	uint64_t done;
};

static void core_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem core [--all] [--force] [-p PID] [-q] DIR -o FILE\n\n"
		   "Writes an ELF core file of the dumped process that gdb opens:\n"
		   "  gdb PROGRAM FILE\n"
		   "Zero pages and pages not in the image are holes of a sparse file;\n"
		   "file-backed memory not in the image is read by gdb from the mapped files.\n\n"
		   "  -o, --output FILE  the core file to write (mode 0600); written under a\n"
		   "                     temporary name and renamed when complete\n"
		   "  -f, --force        replace FILE if it exists (never follows a symlink)\n"
		   "  -a, --all          include VMAs marked VM_DONTDUMP (madvise DONTDUMP)\n"
		   "  -p, --pid PID      process of the image (default: the root process)\n"
		   "  -q, --no-progress  no progress bar\n");
}

/* Writes the nonzero pages of buf (n bytes of memory at addr) at their file offsets. */
static int core_put_pages(struct core_ctx *c, const struct elfcore_seg *s, uint64_t addr,
			  const uint8_t *buf, size_t n, const uint8_t *absent)
{
	size_t ps = c->m->page_size, i, run = 0, np = n / ps;
	int ret;

	for (i = 0; i <= np; i++) {
		int keep = i < np && !(absent && ((absent[i / 8] >> (i % 8)) & 1)) &&
			   !mem_is_zero(buf + i * ps, ps);

		if (keep) {
			run++;
			continue;
		}
		if (run) {
			uint64_t a = addr + (i - run) * ps;

			ret = pwrite_full(c->fd, buf + (i - run) * ps, run * ps,
					  s->offset + (a - s->vaddr));
			if (ret)
				return cm_err(ret, "cannot write '%s'", c->out_path);
		}
		run = 0;
	}
	return 0;
}

/* Copies the stored pages of [s, e) (inside segment seg) into the core. */
static int core_copy_range(struct core_ctx *c, const struct elfcore_seg *seg, uint64_t s,
			   uint64_t e)
{
	uint8_t absent[CORE_CHUNK / 4096 / 8 + 1];
	uint64_t cur;
	long nabs;
	int ret;

	for (cur = s; cur < e; cur += CORE_CHUNK) {
		size_t n = MIN((uint64_t)CORE_CHUNK, e - cur);

		nabs = img_mem_read(c->m, cur, c->buf, n, absent);
		if (nabs < 0)
			return cm_err((int)nabs, "cannot read %#lx-%#lx of pid %u (%s)",
				      (unsigned long)cur, (unsigned long)(cur + n), c->m->pid,
				      img_strerror());
		ret = core_put_pages(c, seg, cur, c->buf, n, absent);
		if (ret)
			return ret;
		c->done += n;
		progress_update(&c->pb, c->done);
	}
	return 0;
}

/* Copies the parent's pages of stored segments; counts their bytes instead when bytes is set. */
static int core_walk(struct core_ctx *c, const struct elfcore_plan *p, uint64_t *bytes)
{
	const struct img_mem *m = c->m;
	size_t i, r;
	int ret;

	for (i = 0; i < p->nr; i++) {
		const struct elfcore_seg *s = &p->segs[i];
		uint64_t end = s->vaddr + s->memsz;

		if (!s->filesz)
			continue;
		for (r = img_mem_run_index(m, s->vaddr); r < m->nr_runs && m->runs[r].vaddr < end;
		     r++) {
			const struct img_run *run = &m->runs[r];
			uint64_t rs = MAX(run->vaddr, s->vaddr);
			uint64_t re = MIN(run->vaddr + run->nr_pages * m->page_size, end);

			if (run->flags & (PE_ZERO | PE_PRESENT))	/* holes / frame walk */
				continue;
			if (bytes) {
				*bytes += re - rs;
				continue;
			}
			ret = core_copy_range(c, s, rs, re);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct core_frames {
	struct core_ctx *c;
	const struct elfcore_plan *p;
	int cb_err;		/* the callback failed (and reported it) */
};

/* The segment containing addr, or NULL. */
static const struct elfcore_seg *core_seg_find(const struct elfcore_plan *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->segs[mid].vaddr + p->segs[mid].memsz <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nr && p->segs[lo].vaddr <= addr ? &p->segs[lo] : NULL;
}

/* img_mem_foreach_frame() callback: writes the runs of one decompressed frame. */
static int core_frame_cb(void *arg, const struct img_frame *f, const void *data,
			 const struct img_run *const *runs, size_t nr_runs)
{
	struct core_frames *cf = arg;
	struct core_ctx *c = cf->c;
	size_t ps = c->m->page_size, i;
	int ret;

	for (i = 0; i < nr_runs; i++) {
		const struct img_run *r = runs[i];
		uint64_t s = r->vaddr, e = r->vaddr + r->nr_pages * ps, n;

		while (s < e) {
			const struct elfcore_seg *seg = core_seg_find(cf->p, s);

			if (!seg) {	/* cannot happen: runs lie inside VMAs */
				s += ps;
				continue;
			}
			n = MIN(e, seg->vaddr + seg->memsz) - s;
			if (seg->filesz) {
				ret = core_put_pages(c, seg, s, (const uint8_t *)data +
						     (r->offset + (s - r->vaddr) / ps) * ps, n, NULL);
				if (ret) {
					cf->cb_err = ret;
					return ret;
				}
			}
			s += n;
		}
	}
	c->done += f->raw_len;
	progress_update(&c->pb, c->done);
	return 0;
}

/* Stored pages: every frame once, decompressed by all CPUs. */
static int core_put_frames(struct core_ctx *c, const struct elfcore_plan *p)
{
	struct core_frames cf = { c, p, 0 };
	long ret;

	ret = img_mem_foreach_frame(c->m, 0, core_frame_cb, &cf);
	if (cf.cb_err)
		return cf.cb_err;
	if (ret < 0)
		return cm_err((int)ret, "pid %u: %s", c->m->pid, img_strerror());
	return 0;
}

/*
 * The [vdso] is not in images, but gdb wants it to unwind through signal
 * frames. Ours is byte-identical when the kernel and the size are the same.
 */
static const uint8_t *core_own_vdso(const InventoryEntry *inv, const struct img_mem *m)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	const VmaEntry *v = NULL;
	char line[256], name[64];
	unsigned long s, e;
	struct utsname u;
	size_t i, size = 0;
	FILE *f;

	for (i = 0; i < m->nr_vmas; i++)
		if (m->vmas[i]->kind == VMA_KIND__VMA_VDSO)
			v = m->vmas[i];
	if (!v || !base || uname(&u) || strcmp(u.release, inv->kernel_release))
		return NULL;
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &s, &e, name) == 3 &&
		    !strcmp(name, "[vdso]") && s == base)
			size = e - s;
	if (f)
		fclose(f);
	if (size != v->end - v->start)
		return NULL;
	return (const uint8_t *)base;
}

/* Writes our [vdso] into the segments of a [vdso] VMA that has no pages in the image. */
static int core_put_vdso(struct core_ctx *c, const struct elfcore_plan *p)
{
	size_t i;
	int ret;

	for (i = 0; c->vdso && i < p->nr; i++) {
		const struct elfcore_seg *s = &p->segs[i];
		const VmaEntry *v = c->m->vmas[s->vma];

		if (v->kind != VMA_KIND__VMA_VDSO || !s->filesz ||
		    img_mem_find_run(c->m, s->vaddr))
			continue;
		ret = pwrite_full(c->fd, c->vdso, s->filesz, s->offset);
		if (ret)
			return cm_err(ret, "cannot write '%s'", c->out_path);
	}
	return 0;
}

/* ps -o args: the command line from the dumped memory, NULs as spaces. */
static void core_psargs(struct img_mem *m, char *out, size_t len)
{
	uint64_t s = m->mm->arg_start, e = m->mm->arg_end;
	size_t n, i;

	out[0] = 0;
	if (!m->mm->has_arg_start || !m->mm->has_arg_end || e <= s)
		return;
	n = MIN(e - s, (uint64_t)len - 1);
	memset(out, 0, len);
	if (img_mem_read(m, s, out, n, NULL) != 0) {
		out[0] = 0;
		return;
	}
	for (i = 0; i + 1 < n; i++)
		if (!out[i])
			out[i] = ' ';
	out[n] = 0;
}

static void core_fill_in(const struct imgopen *ai, struct elfcore_in *in, char *psargs,
			 size_t pslen, int all)
{
	struct img_mem *m = ai->mem;
	size_t i;

	memset(in, 0, sizeof(*in));
	in->pid = m->pid;
	in->mm = m->mm;
	in->vmas = m->vmas;
	in->nr_vmas = m->nr_vmas;
	in->threads = m->threads;
	in->nr_threads = m->nr_threads;
	in->runs = m->runs;
	in->nr_runs = m->nr_runs;
	in->page_size = m->page_size;
	in->all = all;
	for (i = 0; i < ai->inv->n_procs; i++) {
		const ProcessEntry *pe = ai->inv->procs[i];

		if (pe->pid != m->pid)
			continue;
		in->ppid = pe->ppid;
		in->pgid = pe->pgid;
		in->sid = pe->sid;
		in->comm = pe->comm;
	}
	if (!in->comm && m->nr_threads && m->threads[0]->comm)
		in->comm = m->threads[0]->comm;
	core_psargs(m, psargs, pslen);
	if (psargs[0])
		in->psargs = psargs;
}

/* Refuses an existing output unless --force; lstat: a symlink counts as existing. */
static int core_check_out(const struct core_ctx *c)
{
	struct stat st;

	if (lstat(c->out_path, &st) == 0) {
		if (!c->force)
			return cm_err(-EEXIST, "'%s' exists (use --force to replace it)",
				      c->out_path);
		if (S_ISDIR(st.st_mode))
			return cm_err(-EISDIR, "'%s' is a directory", c->out_path);
	} else if (errno != ENOENT) {
		return cm_err(-errno, "cannot check '%s'", c->out_path);
	}
	return 0;
}

/* Creates a fresh temporary file next to the output: never follows, never truncates. */
static int core_create(struct core_ctx *c)
{
	unsigned int i, salt = (unsigned int)getpid() ^ (unsigned int)now_ns();

	for (i = 0; i < 16; i++) {
		free(c->tmp_path);
		if (asprintf(&c->tmp_path, "%s.tmp.%08x", c->out_path, salt + i * 0x9e3779b9u) < 0) {
			c->tmp_path = NULL;
			return cm_err(-ENOMEM, "no memory for the name of '%s'", c->out_path);
		}
		c->fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (c->fd >= 0 || errno != EEXIST)
			break;
	}
	if (c->fd < 0) {
		int err = -errno;

		free(c->tmp_path);
		c->tmp_path = NULL;
		return cm_err(err, "cannot create a temporary file next to '%s'", c->out_path);
	}
	return 0;
}

/* Moves the finished file into place: without --force only if the name is still free. */
static int core_publish(struct core_ctx *c)
{
	int ret = 0;

	if (c->force) {
		if (rename(c->tmp_path, c->out_path))
			ret = -errno;
	} else if (renameat2(AT_FDCWD, c->tmp_path, AT_FDCWD, c->out_path, RENAME_NOREPLACE)) {
		ret = -errno;
		if (ret == -EINVAL || ret == -ENOSYS) {	/* no RENAME_NOREPLACE: link is exclusive */
			ret = link(c->tmp_path, c->out_path) ? -errno : 0;
			if (!ret)
				unlink(c->tmp_path);
		}
	}
	if (ret == -EEXIST)
		return cm_err(ret, "'%s' appeared while writing (use --force to replace it)",
			      c->out_path);
	if (ret)
		return cm_err(ret, "cannot rename '%s' to '%s'", c->tmp_path, c->out_path);
	free(c->tmp_path);
	c->tmp_path = NULL;
	return 0;
}

static int core_write(struct core_ctx *c, const struct imgopen *ai, int all, int quiet)
{
	struct elfcore_buf notes = { 0 }, head = { 0 };
	struct elfcore_plan plan = { 0 };
	struct elfcore_in in;
	char psargs[80];
	uint64_t total = 0;
	size_t i;
	int ret;

	core_fill_in(ai, &in, psargs, sizeof(psargs), all);
	c->vdso = core_own_vdso(ai->inv, c->m);
	in.vdso_fill = c->vdso != NULL;
	ret = elfcore_notes(&in, &notes);
	if (!ret)
		ret = elfcore_plan_build(&in, notes.len, &plan);
	if (!ret)
		ret = elfcore_head(&plan, &notes, &head);
	if (ret)
		goto out;
	ret = core_create(c);
	if (ret)
		goto out;
	ret = pwrite_full(c->fd, head.p, head.len, 0);
	if (ret) {
		cm_err(ret, "cannot write '%s'", c->out_path);
		goto out;
	}
	core_walk(c, &plan, &total);
	for (i = 0; i < c->m->nr_frames; i++)
		total += c->m->frames[i].raw_len;
	progress_init(&c->pb, "core", total, quiet);
	ret = core_put_frames(c, &plan);
	if (!ret)
		ret = core_walk(c, &plan, NULL);
	progress_done(&c->pb);
	if (!ret)
		ret = core_put_vdso(c, &plan);
	if (!ret && ftruncate(c->fd, plan.file_size))
		ret = cm_err(-errno, "cannot size '%s' to %lu bytes", c->out_path,
			     (unsigned long)plan.file_size);
	if (!ret && close(c->fd)) {
		c->fd = -1;
		ret = cm_err(-errno, "cannot write '%s'", c->tmp_path);
	}
	c->fd = -1;
	if (!ret)
		ret = core_publish(c);
	if (!ret)
		pr_info("wrote '%s': %zu segments, %lu bytes of memory, %lu stored",
			c->out_path, plan.nr, (unsigned long)plan.data_bytes,
			(unsigned long)c->done);
out:
	close_safe(&c->fd);
	elfcore_plan_release(&plan);
	elfcore_buf_release(&notes);
	elfcore_buf_release(&head);
	return ret;
}

/* What a core file needs from the image: x86_64, pages >= 4 KiB, mm and threads. */
static int core_check_image(const struct imgopen *ai, const char *path)
{
	const struct img_mem *m = ai->mem;

	if (ai->inv->arch && strcmp(ai->inv->arch, "x86_64"))
		return cm_err(-EPROTONOSUPPORT, "image of a '%s' machine: core files are written "
			      "for x86_64 only", ai->inv->arch);
	if (m->page_size < 4096)
		return cm_err(-EBADMSG, "page size %zu of pid %u is not supported", m->page_size,
			      m->pid);
	if (!m->mm || !m->nr_threads)
		return cm_err(-EBADMSG, "image '%s' has no %s for pid %u", path,
			      m->mm ? "thread registers" : "mm record", m->pid);
	return 0;
}

int cmd_core(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-progress", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct core_ctx c = { .fd = -1 };
	struct imgopen ai;
	int o, all = 0, quiet = 0, ret;
	unsigned int pid = 0;

	while ((o = getopt_long(argc, argv, "o:afp:qh", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			c.out_path = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'f':
			c.force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'p':
			if (imgopen_pid_arg(optarg, &pid))
				return CM_EXIT_USAGE;
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(o, core_usage);
		}
	}
	if (argc - optind != 1 || !c.out_path) {
		core_usage(stderr);
		return CM_EXIT_USAGE;
	}
	ret = core_check_out(&c);
	if (ret)
		return cm_exit_code(ret);
	ret = imgopen_proc(&ai, argv[optind], pid);
	if (ret)
		return cm_exit_code(ret);
	c.m = ai.mem;
	ret = core_check_image(&ai, argv[optind]);
	if (ret)
		goto out;
	c.buf = malloc(CORE_CHUNK);
	if (!c.buf) {
		ret = cm_err(-ENOMEM, "cannot allocate the copy buffer");
		goto out;
	}
	ret = core_write(&c, &ai, all, quiet);
	if (c.tmp_path)		/* failed: nothing is left behind */
		unlink(c.tmp_path);
out:
	free(c.tmp_path);
	free(c.buf);
	imgopen_close(&ai);
	return cm_exit_code(ret);
}
