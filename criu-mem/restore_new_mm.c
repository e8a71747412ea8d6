// SPDX-License-Identifier: MIT
/*
 * restore_new_mm.c: the host's address space before and after the image's
 * layout is built: every host mapping but the vdso block is unmapped, the
 * vdso block ([vvar], [vvar_vclock], [vdso]) is moved to the image's
 * addresses with injected mremap, and PR_SET_MM_MAP sets the mm fields.
 */
#define LOG_PREFIX "restore: "

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "img.h"
#include "inject.h"
#include "log.h"
#include "restore_new.h"
#include "util.h"
#include "vma.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION	0x420f
#endif
#define RSEQ_FLAG_UNREGISTER		1

#define RN_MAX_SPECIAL	4

struct rn_rseq_conf {
	uint64_t ptr;
	uint32_t size, sig, flags, pad;
};

struct special {
	uint64_t start, end;
	char name[16];
};

static int is_special_name(const char *p)
{
	return p && (!strcmp(p, "[vdso]") || !strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]"));
}

static long rn_inject(struct inject *in, long nr, unsigned long a0, unsigned long a1,
		      unsigned long a2, unsigned long a3, unsigned long a4, int *ok)
{
	unsigned long a[6] = { a0, a1, a2, a3, a4, 0 };

	return inject_syscall(in, nr, a, ok);
}

/*
 * A "syscall" instruction in the executable segment of our own vdso, which
 * is the host's too (fork), at the same address.
 */
static int vdso_syscall_ip(const struct special *sp, size_t n, uint64_t *ip)
{
	const unsigned char *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Phdr *ph;
	uint64_t size = 0;
	size_t i, j;

	for (i = 0; i < n; i++)
		if (!strcmp(sp[i].name, "[vdso]") && sp[i].start == (uint64_t)(uintptr_t)base)
			size = sp[i].end - sp[i].start;
	if (!base || size < sizeof(*eh) || eh->e_phoff + eh->e_phnum * sizeof(*ph) > size)
		return cm_err(-ENOENT, "host's [vdso] is not criu-mem's");
	ph = (const void *)(base + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X) ||
		    ph[i].p_offset + ph[i].p_filesz > size)
			continue;
		for (j = ph[i].p_offset; j + 1 < ph[i].p_offset + ph[i].p_filesz; j++) {
			if (base[j] == 0x0f && base[j + 1] == 0x05) {
				*ip = (uint64_t)(uintptr_t)base + j;
				return 0;
			}
		}
	}
	return cm_err(-ENOENT, "no syscall instruction in the host's [vdso]");
}

static int unregister_rseq(struct inject *in)
{
	struct rn_rseq_conf rc;
	long r;
	int ok;

	memset(&rc, 0, sizeof(rc));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, in->tid, sizeof(rc), &rc) < 0)
		return cm_err(-errno, "host %d: PTRACE_GET_RSEQ_CONFIGURATION", in->tid);
	if (!rc.ptr)
		return 0;
	r = rn_inject(in, SYS_rseq, rc.ptr, rc.size, RSEQ_FLAG_UNREGISTER, rc.sig, 0, &ok);
	if (!ok)
		return (int)r;
	if (r)
		return cm_err((int)r, "host %d: cannot unregister its rseq area %#lx", in->tid,
			      (unsigned long)rc.ptr);
	return 0;
}

/* Host VMAs to unmap (all but the specials, which go to sp), from its maps. */
struct host_vmas {
	uint64_t (*r)[2];
	size_t nr;
};

static int read_host(pid_t pid, struct host_vmas *hv, struct special *sp, size_t *nsp)
{
	char path[64], *buf = NULL, *line, *save = NULL;
	size_t len, cap = 0;
	int ret;

	*nsp = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	ret = read_file_str(path, &buf, &len, 64 << 20);
	if (ret)
		return cm_err(ret, "cannot read '%s'", path);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vma v;

		memset(&v, 0, sizeof(v));
		ret = vma_parse_line(line, strlen(line), &v);
		if (ret) {
			ret = cm_err(ret, "'%s': cannot parse '%s'", path, line);
			break;
		}
		if (is_special_name(v.path) && *nsp < RN_MAX_SPECIAL) {
			sp[*nsp].start = v.start;
			sp[*nsp].end = v.end;
			snprintf(sp[*nsp].name, sizeof(sp[*nsp].name), "%s", v.path);
			(*nsp)++;
		} else if (!v.path || strcmp(v.path, "[vsyscall]")) {
			if (array_grow(&hv->r, &cap, hv->nr, sizeof(*hv->r), 64)) {
				free(v.path);
				ret = cm_err(-ENOMEM, "host maps");
				break;
			}
			hv->r[hv->nr][0] = v.start;
			hv->r[hv->nr][1] = v.end;
			hv->nr++;
		}
		free(v.path);
	}
	free(buf);
	return ret;
}

static int unmap_host(struct inject *in, const struct host_vmas *hv)
{
	size_t i;
	long r;
	int ok;

	for (i = 0; i < hv->nr; i++) {
		r = rn_inject(in, SYS_munmap, hv->r[i][0], hv->r[i][1] - hv->r[i][0], 0, 0, 0, &ok);
		if (!ok || r)
			return cm_err((int)r, "host %d: cannot unmap %#lx-%#lx", in->tid,
				      (unsigned long)hv->r[i][0], (unsigned long)hv->r[i][1]);
	}
	return 0;
}

/* The image VMA named like the host special sp, or NULL. */
static const VmaEntry *image_special(const struct img_mem *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nr_vmas; i++)
		if (m->vmas[i]->path && !strcmp(m->vmas[i]->path, name))
			return m->vmas[i];
	return NULL;
}

/* Checks sizes and relative layout; returns the uniform delta in *delta. */
static int special_delta(const struct img_mem *m, const struct special *sp, size_t n,
			 int64_t *delta)
{
	size_t i, nimg = 0;

	for (i = 0; i < m->nr_vmas; i++)
		if (is_special_name(m->vmas[i]->path))
			nimg++;
	if (nimg != n)
		return cm_err(-EPROTONOSUPPORT, "the image has %zu vdso/vvar mappings, this kernel "
			      "%zu: cannot restore as a new process", nimg, n);
	for (i = 0; i < n; i++) {
		const VmaEntry *v = image_special(m, sp[i].name);
		int64_t d;

		if (!v || v->end - v->start != sp[i].end - sp[i].start)
			return cm_err(-EPROTONOSUPPORT, "image %s differs in size from this "
				      "kernel's (%lu bytes)", sp[i].name,
				      (unsigned long)(sp[i].end - sp[i].start));
		d = (int64_t)(v->start - sp[i].start);
		if (i && d != *delta)
			return cm_err(-EPROTONOSUPPORT, "image vdso/vvar layout differs from this "
				      "kernel's (%s)", sp[i].name);
		*delta = d;
	}
	return 0;
}

static int overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* An address for len bytes clear of every image VMA and of [s1,e1), [s2,e2). */
static uint64_t find_hole(const struct img_mem *m, uint64_t len, uint64_t s1, uint64_t e1,
			  uint64_t s2, uint64_t e2)
{
	uint64_t a = 1ull << 32;
	size_t i;
	int moved = 1;

	while (moved && a < (1ull << 46)) {
		moved = 0;
		for (i = 0; i < m->nr_vmas; i++) {
			if (overlaps(a, a + len, m->vmas[i]->start, m->vmas[i]->end)) {
				a = ALIGN_UP(m->vmas[i]->end, 1ull << 21);
				moved = 1;
			}
		}
		if (overlaps(a, a + len, s1, e1) || overlaps(a, a + len, s2, e2)) {
			a = ALIGN_UP(MAX(e1, e2), 1ull << 21);
			moved = 1;
		}
	}
	return a;
}

static int move_specials(struct inject *in, struct special *sp, size_t n, int64_t delta)
{
	unsigned long flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	size_t i;
	long r;
	int ok;

	for (i = 0; i < n; i++) {
		uint64_t len = sp[i].end - sp[i].start, to = sp[i].start + (uint64_t)delta;

		r = rn_inject(in, SYS_mremap, sp[i].start, len, len, flags, to, &ok);
		if (!ok)
			return (int)r;
		if ((uint64_t)r != to)
			return cm_err(r < 0 ? (int)r : -EFAULT, "host %d: cannot move %s "
				      "%#lx -> %#lx", in->tid, sp[i].name,
				      (unsigned long)sp[i].start, (unsigned long)to);
		if (in->syscall_ip >= sp[i].start && in->syscall_ip < sp[i].end)
			in->syscall_ip += (uint64_t)delta;
		sp[i].start += (uint64_t)delta;
		sp[i].end += (uint64_t)delta;
	}
	return 0;
}

int rn_mm_clear_host(struct inject *in, const struct img_mem *m)
{
	struct special sp[RN_MAX_SPECIAL];
	struct host_vmas hv = { NULL, 0 };
	uint64_t lo = ~0ull, hi = 0, tmp;
	int64_t delta = 0;
	size_t n, i;
	int ret;

	ret = read_host(in->tid, &hv, sp, &n);
	if (!ret)
		ret = special_delta(m, sp, n, &delta);
	/* From now on the host's syscalls run from its vdso, which stays. */
	if (!ret)
		ret = vdso_syscall_ip(sp, n, &in->syscall_ip);
	if (!ret)
		ret = unregister_rseq(in);
	if (!ret)
		ret = unmap_host(in, &hv);
	free(hv.r);
	if (ret || !delta)
		return ret;
	for (i = 0; i < n; i++) {
		lo = MIN(lo, sp[i].start);
		hi = MAX(hi, sp[i].end);
	}
	if (overlaps(lo, hi, lo + (uint64_t)delta, hi + (uint64_t)delta)) {
		/* Source and destination overlap: go through a free spot. */
		tmp = find_hole(m, hi - lo, lo, hi, lo + (uint64_t)delta, hi + (uint64_t)delta);
		ret = move_specials(in, sp, n, (int64_t)(tmp - lo));
		if (ret)
			return ret;
		delta -= (int64_t)(tmp - lo);
	}
	ret = move_specials(in, sp, n, delta);
	if (!ret)
		pr_debug("host %d: vdso block moved to the image's %#lx", in->tid,
			 (unsigned long)sp[0].start);
	return ret;
}

/* Scratch layout for PR_SET_MM_MAP: the struct, the auxv, the exe path. */
#define MM_OFF_AUXV	256
#define MM_OFF_PATH	2048
#define MM_SCRATCH	(2048 + 4096)
#define MM_MAX_AUXV	((MM_OFF_PATH - MM_OFF_AUXV) / 8)

static int open_exe(struct inject *in, const MmEntry *mm, uint64_t path_addr, int *fd)
{
	struct stat st;
	long r;
	int ok;

	*fd = -1;
	if (!mm->exe_path)
		return 0;
	if (strlen(mm->exe_path) >= MM_SCRATCH - MM_OFF_PATH)
		return cm_err(-ENAMETOOLONG, "exe path of the image");
	if (strstr(mm->exe_path, " (deleted)")) {
		pr_warn("executable '%s' was deleted: /proc/%d/exe is not set", mm->exe_path,
			in->tid);
		return 0;
	}
	if (stat(mm->exe_path, &st))
		return cm_err(-errno, "executable '%s' of the image", mm->exe_path);
	if (!S_ISREG(st.st_mode))
		return cm_err(-EACCES, "executable '%s' of the image is not a regular file",
			      mm->exe_path);
	/* O_NONBLOCK: a FIFO swapped in meanwhile must not block the host. */
	r = rn_inject(in, SYS_openat, (unsigned long)AT_FDCWD, path_addr,
		      O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0, 0, &ok);
	if (!ok)
		return (int)r;
	if (r < 0)
		return cm_err((int)r, "cannot open the executable '%s'", mm->exe_path);
	*fd = (int)r;
	return 0;
}

static int check_mm_fields(const MmEntry *mm)
{
	if (!mm->has_start_code || !mm->has_end_code || !mm->has_start_data ||
	    !mm->has_end_data || !mm->has_start_brk || !mm->has_brk || !mm->has_start_stack ||
	    !mm->has_arg_start || !mm->has_arg_end || !mm->has_env_start || !mm->has_env_end)
		return cm_err(-EBADMSG, "the image lacks mm fields (code/data/brk/stack/args)");
	if (mm->n_auxv > MM_MAX_AUXV || (mm->n_auxv & 1))
		return cm_err(-EBADMSG, "image auxv has %zu words", mm->n_auxv);
	return 0;
}

int rn_mm_set_fields(struct inject *in, const struct img_mem *m)
{
	const MmEntry *mm = m->mm;
	struct inject_scratch s = { 0, 0 };
	struct prctl_mm_map map;
	uint8_t *buf = NULL;
	int ret, ok, fd = -1;
	long r;

	ret = check_mm_fields(mm);
	if (ret)
		return ret;
	buf = calloc(1, MM_SCRATCH);
	if (!buf)
		return cm_err(-ENOMEM, "mm map");
	ret = inject_scratch_map(in, MM_SCRATCH, &s);
	if (ret)
		goto out;
	memset(&map, 0, sizeof(map));
	map.start_code = mm->start_code;
	map.end_code = mm->end_code;
	map.start_data = mm->start_data;
	map.end_data = mm->end_data;
	map.start_brk = mm->start_brk;
	map.brk = mm->brk;
	map.start_stack = mm->start_stack;
	map.arg_start = mm->arg_start;
	map.arg_end = mm->arg_end;
	map.env_start = mm->env_start;
	map.env_end = mm->env_end;
	if (mm->n_auxv) {
		map.auxv = (__u64 *)(uintptr_t)(s.addr + MM_OFF_AUXV);
		map.auxv_size = (uint32_t)(mm->n_auxv * 8);
		memcpy(buf + MM_OFF_AUXV, mm->auxv, mm->n_auxv * 8);
	}
	if (mm->exe_path)
		snprintf((char *)buf + MM_OFF_PATH, MM_SCRATCH - MM_OFF_PATH, "%s", mm->exe_path);
	ret = inject_poke(in->tid, s.addr, buf, MM_SCRATCH);
	if (!ret)
		ret = open_exe(in, mm, s.addr + MM_OFF_PATH, &fd);
	if (ret)
		goto out;
	map.exe_fd = (uint32_t)fd;
	ret = inject_poke(in->tid, s.addr, &map, sizeof(map));
	if (ret)
		goto out;
	r = rn_inject(in, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, s.addr, sizeof(map), 0, &ok);
	if (!ok || r)
		ret = cm_err((int)r, "host %d: PR_SET_MM_MAP (code %#lx-%#lx brk %#lx-%#lx "
			     "stack %#lx)", in->tid, (unsigned long)map.start_code,
			     (unsigned long)map.end_code, (unsigned long)map.start_brk,
			     (unsigned long)map.brk, (unsigned long)map.start_stack);
out:
	if (fd >= 0)
		rn_inject(in, SYS_close, (unsigned long)fd, 0, 0, 0, 0, &ok);
	if (s.len && inject_scratch_unmap(in, &s) && !ret)
		ret = -EFAULT;
	free(buf);
	return ret;
}

/*
 * VM_ACCOUNT ("ac") of private read-only VMAs: the original got it from
 * being writable once (ld.so's RELRO, mprotect'ed anon), a direct mmap
 * without PROT_WRITE doesn't. Writable and back gives it again.
 */
int rn_mm_fix_account(struct inject *in, const struct img_mem *m)
{
	size_t i;
	long r;
	int ok;

	for (i = 0; i < m->nr_vmas; i++) {
		const VmaEntry *v = m->vmas[i];

		if (!(v->vm_flags & (1ull << VMF_AC)) || (v->prot & PROT_WRITE) ||
		    (v->flags & MAP_SHARED) || is_special_name(v->path) ||
		    v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		r = rn_inject(in, SYS_mprotect, v->start, v->end - v->start, v->prot | PROT_WRITE,
			      0, 0, &ok);
		if (ok && !r)
			r = rn_inject(in, SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0,
				      &ok);
		if (!ok || r)
			return cm_err((int)r, "pid %d: mprotect %#lx-%#lx (accounting)", in->tid,
				      (unsigned long)v->start, (unsigned long)v->end);
	}
	return 0;
}
