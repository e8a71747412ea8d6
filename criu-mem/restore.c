// SPDX-License-Identifier: MIT
/*
 * restore.c: the parts of a restore shared by both modes: loading the image,
 * the gate checks run before the target is touched (machine, frames, exe,
 * thread set), registers, and the summary / failure report.
 */
#define LOG_PREFIX "restore: "

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <zstd.h>

#include "guard.h"
#include "inject.h"
#include "json.h"
#include "log.h"
#include "progress.h"
#include "restore.h"
#include "util.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

int restore_ctx_open(struct restore_ctx *c, const struct restore_opts *o)
{
	long ncpu;
	int ret;

	memset(c, 0, sizeof(*c));
	c->opts = o;
	c->mem_fd = -1;
	c->pidfd = -1;
	ret = img_dir_open(o->images_dir, &c->dir);
	if (ret)
		return cm_err(ret, "cannot open image directory '%s' (%s)", o->images_dir,
			      img_strerror());
	ret = img_inventory_read(c->dir, &c->inv);
	if (ret)
		return cm_err(ret, "bad inventory in '%s' (%s)", o->images_dir, img_strerror());
	ret = img_mem_load(c->dir, c->inv->root_pid, &c->mem);
	if (ret)
		return cm_err(ret, "cannot load the memory image of pid %u from '%s' (%s)",
			      c->inv->root_pid, o->images_dir, img_strerror());
	c->page_size = c->mem->page_size;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = o->threads ? o->threads : (ncpu > 0 ? (unsigned int)ncpu : 1);
	return 0;
}

void restore_ctx_release(struct restore_ctx *c)
{
	close_safe(&c->mem_fd);
	close_safe(&c->pidfd);
	img_mem_free(c->mem);
	c->mem = NULL;
	if (c->inv)
		inventory_entry__free_unpacked(c->inv, NULL);
	c->inv = NULL;
	img_dir_free(c->dir);
	c->dir = NULL;
}

/* Size of the named special mapping ("[vdso]") of pid (0 = self); 0 if none. */
static uint64_t special_vma_size(pid_t pid, const char *name)
{
	char path[64], *buf = NULL, *line, *save = NULL;
	uint64_t size = 0;
	size_t len;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	if (read_file_str(path, &buf, &len, 64 << 20))
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;
		size_t n = strlen(line), k = strlen(name);

		if (n < k || strcmp(line + n - k, name))
			continue;
		if (sscanf(line, "%llx-%llx", &s, &e) == 2)
			size = e - s;
		break;
	}
	free(buf);
	return size;
}

static int check_machine(struct restore_ctx *c)
{
	const InventoryEntry *inv = c->inv;
	struct utsname u;
	uint64_t sz;

	if (inv->format_version > IMG_FORMAT_VERSION)
		return cm_err(-EPROTONOSUPPORT, "image format %u is newer than %u",
			      inv->format_version, IMG_FORMAT_VERSION);
	if (uname(&u) == 0 && strcmp(u.machine, inv->arch))
		return cm_err(-EPROTONOSUPPORT, "image is for arch '%s', this is '%s'",
			      inv->arch, u.machine);
	if (inv->page_size != page_size() || c->page_size != page_size())
		return cm_err(-EPROTONOSUPPORT, "image page size %u, this kernel's is %zu",
			      inv->page_size, page_size());
	sz = special_vma_size(0, "[vdso]");
	if (inv->has_vdso_size && inv->vdso_size != sz)
		return cm_err(-EPROTONOSUPPORT, "image [vdso] is %u bytes, this kernel's %" PRIu64,
			      inv->vdso_size, sz);
	/* 6.x kernels have [vvar] and [vvar_vclock]; the dumper records one of them. */
	sz = special_vma_size(0, "[vvar]");
	if (inv->has_vvar_size && inv->vvar_size != sz &&
	    inv->vvar_size != special_vma_size(0, "[vvar_vclock]"))
		return cm_err(-EPROTONOSUPPORT, "image [vvar] is %u bytes, this kernel's %" PRIu64,
			      inv->vvar_size, sz);
	return 0;
}

/*
 * What the layout and madvise steps will pass to the kernel, checked before
 * the target is touched (a hostile image must fail here, not half-way).
 */
static int check_vma(const struct img_mem *m, const VmaEntry *v)
{
	const uint32_t known = MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN;
	uint32_t share = v->flags & (MAP_SHARED | MAP_PRIVATE);
	size_t k;

	if (v->kind == VMA_KIND__VMA_VSYSCALL)
		return 0;
	if (v->end > (1ull << 47) || (v->pgoff & (m->page_size - 1)))
		return cm_err(-EBADMSG, "VMA %#" PRIx64 "-%#" PRIx64 " (offset %#" PRIx64 ") is "
			      "outside user space or unaligned", v->start, v->end, v->pgoff);
	if (v->prot & ~(uint32_t)(PROT_READ | PROT_WRITE | PROT_EXEC))
		return cm_err(-EBADMSG, "VMA %#" PRIx64 "-%#" PRIx64 " has prot %#x", v->start,
			      v->end, v->prot);
	if ((v->flags & ~known) || (share != MAP_SHARED && share != MAP_PRIVATE))
		return cm_err(-EBADMSG, "VMA %#" PRIx64 "-%#" PRIx64 " has flags %#x", v->start,
			      v->end, v->flags);
	if (v->has_page_shift && v->page_shift && v->page_shift != 12 &&
	    v->kind != VMA_KIND__VMA_HUGETLB)
		return cm_err(-EBADMSG, "VMA %#" PRIx64 "-%#" PRIx64 " has page shift %u", v->start,
			      v->end, v->page_shift);
	for (k = 0; k < v->n_guards; k++) {
		const GuardRange *g = v->guards[k];
		uint64_t len;

		if (mul_overflow(g->nr_pages, (uint64_t)m->page_size, &len) || !len ||
		    g->start < v->start || g->start >= v->end || g->start % m->page_size ||
		    len > v->end - g->start)
			return cm_err(-EBADMSG, "guard region %#" PRIx64 " (%" PRIu64 " pages) is not "
				      "inside VMA %#" PRIx64 "-%#" PRIx64, g->start, g->nr_pages,
				      v->start, v->end);
	}
	return 0;
}

static int check_records(struct restore_ctx *c)
{
	const struct img_mem *m = c->mem;
	size_t i;

	for (i = 0; i < m->nr_runs; i++) {
		if (m->runs[i].flags & (PE_LAZY | PE_PARENT))
			return cm_err(-EOPNOTSUPP, "run at %#" PRIx64 " is %s: incremental and lazy"
				      " images are not restorable yet", m->runs[i].vaddr,
				      m->runs[i].flags & PE_LAZY ? "lazy" : "in the parent image");
	}
	for (i = 0; i < m->nr_vmas; i++) {
		int ret = check_vma(m, m->vmas[i]);

		if (ret)
			return ret;
	}
	for (i = 0; i < m->nr_threads; i++) {
		const ThreadCore *t = m->threads[i];

		if (t->gpregs.len != sizeof(struct user_regs_struct))
			return cm_err(-EBADMSG, "thread %u: gpregs are %zu bytes, expected %zu",
				      t->tid, t->gpregs.len, sizeof(struct user_regs_struct));
		if (t->has_xstate && (t->xstate.len < 512 || t->xstate.len > (1u << 20)))
			return cm_err(-EBADMSG, "thread %u: xstate of %zu bytes", t->tid,
				      t->xstate.len);
	}
	return 0;
}

struct verify_arg {
	struct restore_ctx *c;
	struct progress bar;
	uint64_t done;
};

static int verify_frame(void *arg, const struct img_frame *f, const void *data,
			const struct img_run *const *runs, size_t nr_runs)
{
	struct verify_arg *va = arg;
	size_t ps = va->c->page_size, i;

	(void)data;
	for (i = 0; i < nr_runs; i++) {
		uint64_t end;

		if (add_overflow(runs[i]->offset, runs[i]->nr_pages, &end) ||
		    end > f->raw_len / ps)
			return cm_err(-EBADMSG, "run at %#" PRIx64 " overflows frame %" PRIu64,
				      runs[i]->vaddr, f->id);
	}
	va->c->st.frames++;
	va->done += f->raw_len;
	progress_update(&va->bar, va->done);
	return 0;
}

/*
 * The fast gate: every frame header through the library's walker (magic,
 * header checksum, ids, end marker), then every stored payload against its
 * XXH3 and its zstd header against raw_len, on all threads, without
 * decompressing. Returns 1 when the file layout is not the one this relies on
 * (FORMAT.md: a 40-byte header before each payload), so the caller falls back
 * to decompressing everything.
 */
#define FRAME_HDR_BYTES 40

static int full_gate(struct restore_ctx *c);

struct fast_gate {
	struct restore_ctx *c;
	uint64_t *payload_off;		/* per frame id */
	atomic_size_t next;
	atomic_int err;
	size_t buf_len;
};

static int gate_layout(struct restore_ctx *c, uint64_t *payload_off)
{
	const struct img_mem *m = c->mem;
	struct pstore_iter *it = NULL;
	struct img_frame f;
	char name[64], path[4096];
	uint64_t n = 0, end = 0;
	int ret;

	ret = img_kind_filename(IMG_PAGES, m->pid, name, sizeof(name));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", img_dir_path(c->dir), name);
	ret = pstore_iter_open_path(path, &it);
	while (!ret && (ret = pstore_iter_next(it, &f, 0)) == 1) {
		if (n && end != f.file_offset) {
			ret = 1;	/* not the layout assumed here: decompress instead */
			break;
		}
		if (f.id != n || n >= m->nr_frames || m->frames[n].file_offset != f.file_offset ||
		    m->frames[n].stored_len != f.stored_len || m->frames[n].xxh3 != f.xxh3) {
			ret = cm_err(-EBADMSG, "frame %" PRIu64 " of '%s' disagrees with the index", n,
				     path);
			break;
		}
		payload_off[n] = f.file_offset + FRAME_HDR_BYTES;
		end = payload_off[n] + f.stored_len;
		n++;
		ret = 0;
	}
	if (ret < 0 && ret != -EBADMSG && ret != -EOVERFLOW)
		ret = cm_err(ret, "cannot read '%s' (%s)", path, img_strerror());
	else if (ret < 0)
		ret = cm_err(ret, "image '%s' is corrupt, nothing was restored (%s)",
			     c->opts->images_dir, img_strerror());
	else if (n != m->nr_frames)
		ret = cm_err(-EBADMSG, "'%s' holds %" PRIu64 " frames, the index %zu", path, n,
			     m->nr_frames);
	pstore_iter_free(it);
	return ret;
}

/*
 * Checks one stored payload. The bytes are hashed in place through a
 * short-lived read-only mapping of the page cache (no copy, no lasting RSS);
 * pread into @buf when mapping fails.
 */
static int gate_frame(const struct img_mem *m, const struct img_frame *f, uint64_t off,
		      uint8_t *buf)
{
	uint64_t base = ALIGN_DOWN(off, (uint64_t)m->page_size);
	size_t maplen = off + f->stored_len - base;
	const uint8_t *p;
	void *map;
	int ret = 0;

	map = mmap(NULL, maplen, PROT_READ, MAP_SHARED | MAP_POPULATE, m->pages_fd, (off_t)base);
	if (map != MAP_FAILED) {
		p = (const uint8_t *)map + (off - base);
	} else {
		ret = pread_full(m->pages_fd, buf, f->stored_len, (off_t)off);
		if (ret)
			return ret == -ENODATA ? -EBADMSG : ret;
		p = buf;
	}
	if (img_frame_hash(p, f->stored_len) != f->xxh3)
		ret = -EBADMSG;
	else if ((f->flags & FRAME_ZSTD) &&
		 ZSTD_getFrameContentSize(p, f->stored_len) != f->raw_len)
		ret = -EBADMSG;
	else if (!(f->flags & FRAME_ZSTD) && f->stored_len != f->raw_len)
		ret = -EBADMSG;
	if (map != MAP_FAILED)
		munmap(map, maplen);
	return ret;
}

static void *gate_worker(void *arg)
{
	struct fast_gate *g = arg;
	const struct img_mem *m = g->c->mem;
	uint8_t *buf = malloc(g->buf_len);
	size_t i;

	if (!buf) {
		atomic_store(&g->err, -ENOMEM);
		return NULL;
	}
	while ((i = atomic_fetch_add(&g->next, 1)) < m->nr_frames && !atomic_load(&g->err)) {
		int ret = gate_frame(m, &m->frames[i], g->payload_off[i], buf);

		if (ret) {
			int zero = 0;

			if (atomic_compare_exchange_strong(&g->err, &zero, ret))
				cm_err(ret, "image '%s' is corrupt, nothing was restored (frame %zu "
				       "of the page store: checksum or size mismatch)",
				       g->c->opts->images_dir, i);
			break;
		}
	}
	free(buf);
	return NULL;
}

static int fast_gate(struct restore_ctx *c)
{
	struct fast_gate g = { .c = c };
	const struct img_mem *m = c->mem;
	pthread_t th[64];
	size_t i, nth = MIN(c->threads, ARRAY_SIZE(th)), started = 0;
	int ret;

	if (!m->nr_frames)
		return 0;
	g.payload_off = calloc(m->nr_frames, sizeof(*g.payload_off));
	if (!g.payload_off)
		return cm_err(-ENOMEM, "cannot allocate the frame table");
	ret = gate_layout(c, g.payload_off);
	if (ret == 1) {
		pr_info("unexpected page store layout: verifying by decompression");
		ret = full_gate(c);
	}
	if (ret)
		goto out;
	for (i = 0; i < m->nr_frames; i++) {
		if (m->frames[i].stored_len > ZSTD_compressBound(IMG_MAX_FRAME_RAW)) {
			ret = cm_err(-EBADMSG, "frame %zu: stored length %u out of bounds", i,
				     m->frames[i].stored_len);
			goto out;
		}
		g.buf_len = MAX(g.buf_len, (size_t)m->frames[i].stored_len);
	}
	for (i = 1; i < nth; i++)
		if (!pthread_create(&th[i], NULL, gate_worker, &g))
			started++;
	gate_worker(&g);
	for (i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	ret = atomic_load(&g.err);
	if (ret == -ENOMEM)
		cm_err(ret, "cannot check the page store");
out:
	free(g.payload_off);
	return ret;
}

/* The slow gate: decompress every frame (library checks) without writing. */
static int full_gate(struct restore_ctx *c)
{
	const struct restore_opts *o = c->opts;
	struct verify_arg va = { .c = c };
	uint64_t total = 0;
	size_t i;
	int ret;

	for (i = 0; i < c->mem->nr_frames; i++)
		total += c->mem->frames[i].raw_len;
	progress_init(&va.bar, "verify", total, o->json || o->no_progress);
	c->st.frames = 0;
	ret = img_mem_foreach_frame(c->mem, c->threads, verify_frame, &va);
	progress_done(&va.bar);
	if (ret == -EBADMSG || ret == -EOVERFLOW)
		return cm_err(ret, "image '%s' is corrupt, nothing was restored (%s)",
			      o->images_dir, img_strerror());
	if (ret)
		return cm_err(ret, "cannot read the page store of '%s' (%s)", o->images_dir,
			      img_strerror());
	return 0;
}

int restore_check_image(struct restore_ctx *c)
{
	uint64_t t0 = now_ns();
	int ret;

	ret = check_machine(c);
	if (ret)
		return ret;
	ret = check_records(c);
	if (ret)
		return ret;
	if (c->opts->full_verify)
		ret = full_gate(c);
	else
		ret = fast_gate(c);
	if (ret)
		return ret;
	c->st.t_verify_ns = now_ns() - t0;
	c->done |= RST_VERIFIED;
	return 0;
}

/* Finds the NT_GNU_BUILD_ID note of an ELF64 file. Returns its length or -errno. */
static int elf_build_id(int fd, uint8_t *out, size_t cap)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t note[4096];
	int i, ret;

	ret = pread_full(fd, &eh, sizeof(eh), 0);
	if (ret)
		return ret;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 256)
		return -ENOEXEC;
	for (i = 0; i < eh.e_phnum; i++) {
		size_t off = 0, len;

		ret = pread_full(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph));
		if (ret)
			return ret;
		if (ph.p_type != PT_NOTE)
			continue;
		len = MIN(ph.p_filesz, sizeof(note));
		ret = pread_full(fd, note, len, ph.p_offset);
		if (ret)
			return ret;
		while (off + sizeof(Elf64_Nhdr) <= len) {
			Elf64_Nhdr *nh = (Elf64_Nhdr *)(note + off);
			size_t name = ALIGN_UP((size_t)nh->n_namesz, 4);
			size_t desc = ALIGN_UP((size_t)nh->n_descsz, 4);

			off += sizeof(*nh);
			if (name > len - off || desc > len - off - name)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(note + off, "GNU", 4) && nh->n_descsz <= cap) {
				memcpy(out, note + off + name, nh->n_descsz);
				return (int)nh->n_descsz;
			}
			off += name + desc;
		}
	}
	return -ENOENT;
}

int restore_check_exe(struct restore_ctx *c, pid_t pid)
{
	const MmEntry *mm = c->mem->mm;
	char path[64], exe[4096];
	uint8_t id[64];
	ssize_t n;
	int fd, len, bad = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return cm_err(errno == ENOENT ? -ESRCH : -errno, "cannot read '%s'", path);
	exe[n] = 0;
	/* A binary replaced on disk after the target started: same file still. */
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)") && mm->exe_path &&
	    strlen(mm->exe_path) == (size_t)n - 10)
		exe[n - 10] = 0;
	if (mm->exe_path && strcmp(mm->exe_path, exe)) {
		pr_err("pid %d runs '%s', the image is of '%s'", (int)pid, exe, mm->exe_path);
		bad = 1;
	}
	if (mm->has_exe_build_id && mm->exe_build_id.len) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -errno : elf_build_id(fd, id, sizeof(id));
		close_safe(&fd);
		if (len < 0 || (size_t)len != mm->exe_build_id.len ||
		    memcmp(id, mm->exe_build_id.data, len)) {
			pr_err("build id of pid %d's executable '%s' differs from the image's", (int)pid,
			       exe);
			bad = 1;
		}
	}
	if (!bad)
		return 0;
	if (c->opts->force) {
		pr_warn("--force: restoring pid %d although its executable differs", (int)pid);
		return 0;
	}
	pr_err("refusing to restore into another program (use --force to override)");
	return -EPERM;
}

int restore_check_threads(const struct restore_ctx *c, const pid_t *tids, size_t nr)
{
	const struct img_mem *m = c->mem;
	size_t i, j, missing = 0, extra = 0;

	for (i = 0; i < m->nr_threads; i++) {
		for (j = 0; j < nr && (uint32_t)tids[j] != m->threads[i]->tid; j++)
			;
		if (j == nr) {
			pr_err("thread %u of the image does not exist in pid %d", m->threads[i]->tid,
			       (int)c->pid);
			missing++;
		}
	}
	for (j = 0; j < nr; j++) {
		for (i = 0; i < m->nr_threads && (uint32_t)tids[j] != m->threads[i]->tid; i++)
			;
		if (i == m->nr_threads) {
			pr_err("thread %d of the target is not in the image", (int)tids[j]);
			extra++;
		}
	}
	if (!missing && !extra && m->nr_threads)
		return 0;
	if (!m->nr_threads)
		pr_err("the image has no thread records (core file)");
	pr_err("thread set differs (%zu missing, %zu extra): nothing was restored", missing, extra);
	return -ESRCH;
}

int restore_attach(struct restore_ctx *c, pid_t pid, struct inject *in)
{
	char path[64];

	c->pid = pid;
	c->inj = in;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	c->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->mem_fd < 0)
		return cm_err(errno == ENOENT ? -ESRCH : -errno, "cannot open '%s'", path);
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (c->pidfd < 0)
		c->pidfd = -1;
	c->done |= RST_ATTACHED;
	return 0;
}

void restore_guard_arm(struct restore_ctx *c)
{
	if (!c->guard_sig || !c->started)
		return;
	if (!guard_set_death_signal(c->guard, c->guard_sig))
		pr_debug("pid %d: point of no return, guard armed with signal %d", (int)c->pid,
			 c->guard_sig);
	c->guard_sig = 0;
}

long restore_inject(struct restore_ctx *c, long nr, unsigned long a0, unsigned long a1,
		    unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	unsigned long args[6] = { a0, a1, a2, a3, a4, a5 };
	int ok = 1;
	long ret;

	restore_guard_arm(c);
	ret = inject_syscall(c->inj, nr, args, &ok);
	if (!ok) {
		c->inject_broken = 1;
		return cm_err(ret < 0 ? (int)ret : -EIO, "injection into pid %d failed (syscall %ld)",
			      (int)c->pid, nr);
	}
	return ret;
}

int restore_thread_regs(pid_t tid, const ThreadCore *tc)
{
	struct user_regs_struct regs;
	struct iovec iov;
	uint64_t mask;

	if (tc->gpregs.len != sizeof(regs))
		return cm_err(-EBADMSG, "thread %d: bad gpregs size %zu", (int)tid, tc->gpregs.len);
	memcpy(&regs, tc->gpregs.data, sizeof(regs));
	if (tc->has_fs_base)
		regs.fs_base = tc->fs_base;
	if (tc->has_gs_base)
		regs.gs_base = tc->gs_base;
	if (tc->has_xstate) {
		iov.iov_base = tc->xstate.data;
		iov.iov_len = tc->xstate.len;
		if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov))
			return cm_err(-errno, "cannot set the xstate of thread %d", (int)tid);
	} else if (tc->has_fpregs) {
		iov.iov_base = tc->fpregs.data;
		iov.iov_len = tc->fpregs.len;
		if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRFPREG, &iov))
			return cm_err(-errno, "cannot set the FPU registers of thread %d", (int)tid);
	}
	iov.iov_base = &regs;
	iov.iov_len = sizeof(regs);
	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov))
		return cm_err(-errno, "cannot set the registers of thread %d", (int)tid);
	mask = tc->sigmask;
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(mask), &mask))
		return cm_err(-errno, "cannot set the signal mask of thread %d", (int)tid);
	return 0;
}

/*
 * What PTRACE_SETREGSET would refuse, checked against the live thread while
 * nothing is modified yet: xstate size, XSTATE_BV within the live features,
 * the compacted/reserved header bytes zero, MXCSR within its mask; segment
 * selectors equal to the live ones, fs/gs base in user space.
 */
static int check_thread_regs(const ThreadCore *t, const uint8_t *live, size_t live_len,
			     const struct user_regs_struct *lr)
{
	struct user_regs_struct r;
	uint64_t feat, bv;
	uint32_t mxcsr, mask;
	size_t k;

	memcpy(&r, t->gpregs.data, sizeof(r));
	if (r.cs != lr->cs || r.ss != lr->ss || r.ds != lr->ds || r.es != lr->es ||
	    r.fs_base >= (1ull << 47) || r.gs_base >= (1ull << 47) ||
	    (t->has_fs_base && t->fs_base >= (1ull << 47)) ||
	    (t->has_gs_base && t->gs_base >= (1ull << 47)))
		return cm_err(-EBADMSG, "thread %u: segment registers or fs/gs base unusable",
			      t->tid);
	if (!t->has_xstate)
		return 0;
	if (t->xstate.len != live_len || live_len < 576)
		return cm_err(-EPROTONOSUPPORT, "image xstate is %zu bytes, this CPU's %zu",
			      t->xstate.len, live_len);
	memcpy(&feat, live + 464, 8);	/* sw_reserved word 0: XCR0 (ptrace format) */
	memcpy(&bv, t->xstate.data + 512, 8);
	memcpy(&mxcsr, t->xstate.data + 24, 4);
	memcpy(&mask, live + 28, 4);
	for (k = 520; k < 576 && !t->xstate.data[k]; k++)
		;
	if ((bv & ~feat) || k < 576 || (mask && (mxcsr & ~mask)))
		return cm_err(-EBADMSG, "thread %u: xstate this CPU would refuse", t->tid);
	return 0;
}

int restore_check_xstate(const struct restore_ctx *c, pid_t tid)
{
	const struct img_mem *m = c->mem;
	struct user_regs_struct lr;
	struct iovec iov;
	size_t i;
	int ret = 0;

	iov.iov_len = 1 << 16;
	iov.iov_base = malloc(iov.iov_len);
	if (!iov.iov_base)
		return cm_err(-ENOMEM, "cannot allocate an xstate buffer");
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov))
		ret = cm_err(-errno, "cannot read the xstate of thread %d", (int)tid);
	if (!ret && ptrace(PTRACE_GETREGS, tid, NULL, &lr))
		ret = cm_err(-errno, "cannot read the registers of thread %d", (int)tid);
	for (i = 0; !ret && i < m->nr_threads; i++)
		ret = check_thread_regs(m->threads[i], iov.iov_base, iov.iov_len, &lr);
	free(iov.iov_base);
	return ret;
}

int restore_regs(struct restore_ctx *c)
{
	const struct img_mem *m = c->mem;
	uint64_t t0 = now_ns();
	size_t i;
	int ret;

	c->started |= RST_REGS;
	for (i = 0; i < m->nr_threads; i++) {
		ret = restore_thread_regs(m->threads[i]->tid, m->threads[i]);
		if (ret)
			return ret;
		c->st.threads++;
	}
	c->st.t_regs_ns = now_ns() - t0;
	c->done |= RST_REGS;
	return 0;
}

static double gbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (double)ns : 0.0;
}

static void summary_json(const struct restore_ctx *c, FILE *f)
{
	const struct restore_stats *s = &c->st;
	struct json_out j;

	json_init(&j, f, 0);
	json_obj_begin(&j, NULL);
	json_u64(&j, "pid", (uint64_t)c->pid);
	json_str(&j, "mode", c->opts->tree_pid ? "in-place" : "new");
	json_u64(&j, "pages_written", s->pages_written);
	json_u64(&j, "pages_zeroed", s->pages_zeroed);
	json_u64(&j, "bytes_written", s->bytes_written);
	json_u64(&j, "frames", s->frames);
	json_u64(&j, "writev_calls", s->writev_calls);
	json_u64(&j, "proc_mem_writes", s->proc_mem_writes);
	json_u64(&j, "dontneed_calls", s->dontneed_calls);
	json_u64(&j, "vmas_unmapped", s->vmas_unmapped);
	json_u64(&j, "vmas_mapped", s->vmas_mapped);
	json_u64(&j, "vmas_mprotected", s->vmas_mprotected);
	json_u64(&j, "madvise_calls", s->madvise_calls);
	json_u64(&j, "guards_installed", s->guards_installed);
	json_u64(&j, "threads", s->threads);
	json_double(&j, "verify_s", s->t_verify_ns / 1e9);
	json_double(&j, "layout_s", s->t_layout_ns / 1e9);
	json_double(&j, "pages_s", s->t_pages_ns / 1e9);
	json_double(&j, "madvise_s", s->t_madvise_ns / 1e9);
	json_double(&j, "stopped_s", s->t_stopped_ns / 1e9);
	json_double(&j, "total_s", s->t_total_ns / 1e9);
	json_double(&j, "pages_gbps", gbps(s->bytes_written, s->t_pages_ns));
	json_obj_end(&j);
	json_finish(&j);
}

void restore_print_summary(const struct restore_ctx *c, FILE *f)
{
	const struct restore_stats *s = &c->st;

	if (c->opts->json) {
		summary_json(c, f);
		return;
	}
	fprintf(f, "restored pid %d: %" PRIu64 " pages written (%.1f MiB), %" PRIu64 " zeroed, "
		"%" PRIu64 " VMAs unmapped, %" PRIu64 " mapped, %" PRIu64 " mprotected, "
		"%" PRIu64 " threads; %.3f s total (verify %.3f, layout %.3f, pages %.3f at "
		"%.2f GB/s), stopped %.3f s\n",
		(int)c->pid, s->pages_written, s->bytes_written / 1048576.0, s->pages_zeroed,
		s->vmas_unmapped, s->vmas_mapped, s->vmas_mprotected, s->threads,
		s->t_total_ns / 1e9, s->t_verify_ns / 1e9, s->t_layout_ns / 1e9,
		s->t_pages_ns / 1e9, gbps(s->bytes_written, s->t_pages_ns), s->t_stopped_ns / 1e9);
}

void restore_report_state(const struct restore_ctx *c, int err)
{
	static const struct {
		unsigned int bit;
		const char *what;
	} steps[] = {
		{ RST_LAYOUT, "layout (VMAs, prot, brk)" },
		{ RST_PAGES, "memory contents" },
		{ RST_MADVISE, "madvise state and guard regions" },
		{ RST_REGS, "registers and signal masks" },
	};
	size_t i;

	pr_err("restore of pid %d failed (%s) after the target was modified:", (int)c->pid,
	       strerror(-err));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		const char *state = (c->done & steps[i].bit) ? "restored" :
				    (c->started & steps[i].bit) ? "PARTIALLY restored" :
				    "NOT restored";

		pr_err("  %-32s %s", steps[i].what, state);
	}
	pr_err("  %" PRIu64 " pages written, %" PRIu64 " zeroed, %" PRIu64 " VMAs unmapped, %"
	       PRIu64 " mapped, %" PRIu64 " mprotected", c->st.pages_written, c->st.pages_zeroed,
	       c->st.vmas_unmapped, c->st.vmas_mapped, c->st.vmas_mprotected);
	if ((c->started & RST_PAGES) && !(c->done & RST_PAGES))
		pr_err("  pages were written in address order up to %#" PRIx64,
		       c->first_fail_addr);
}
