// SPDX-License-Identifier: MIT
/*
 * vma.c: VMA enumeration from /proc/PID/smaps (the maps lines plus
 * VmFlags, Rss, AnonHugePages, KernelPageSize), kind classification, and
 * build ids through PROCMAP_QUERY where the kernel has it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LOG_PREFIX "vma: "
#include "kapi.h"
#include "log.h"
#include "util.h"
#include "vma.h"

static int parse_hex(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end)
		return -EINVAL;
	while (s < end) {
		unsigned int d;
		char c = *s;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (v >> 60)
			return -EINVAL;
		v = v << 4 | d;
		s++;
	}
	if (s == *p)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	while (s < end && *s >= '0' && *s <= '9') {
		if (mul_overflow(v, 10, &v) || add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -EINVAL;
		s++;
	}
	if (s == *p)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

static int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/*
 * The kernel's special mappings, recorded but never dumped. [vvar] and
 * [vsyscall] carry VM_IO/PFNMAP: their names decide before the flags do.
 */
static const struct {
	const char *name;
	VmaKind kind;
} vma_special[] = {
	{ "[vdso]", VMA_KIND__VMA_VDSO },
	{ "[vvar]", VMA_KIND__VMA_VVAR },
	{ "[vvar_vclock]", VMA_KIND__VMA_VVAR },
	{ "[vsyscall]", VMA_KIND__VMA_VSYSCALL },
};

static int vma_special_kind(const char *p, VmaKind *kind)
{
	size_t i;

	for (i = 0; p && i < ARRAY_SIZE(vma_special); i++) {
		if (!strcmp(p, vma_special[i].name)) {
			*kind = vma_special[i].kind;
			return 1;
		}
	}
	return 0;
}

void vma_classify(struct vma *v)
{
	int shared = v->flags & MAP_SHARED;
	int huge = v->vm_flags & (1ull << VMF_HT) || v->page_shift > 12;
	const char *p = v->path;

	v->flags &= ~(MAP_ANONYMOUS | MAP_GROWSDOWN);
	if (v->vm_flags & (1ull << VMF_GD))
		v->flags |= MAP_GROWSDOWN;
	if (!huge && vma_special_kind(p, &v->kind)) {
		/* [vdso], [vvar], [vsyscall]: whatever their VM_IO/PFNMAP */
	} else if (v->vm_flags & ((1ull << VMF_IO) | (1ull << VMF_PF))) {
		v->kind = VMA_KIND__VMA_UNSUPPORTED;
	} else if (huge) {
		v->kind = VMA_KIND__VMA_HUGETLB;
	} else if (!p) {
		v->kind = shared ? VMA_KIND__VMA_ANON_SHARED : VMA_KIND__VMA_ANON_PRIVATE;
		v->flags |= MAP_ANONYMOUS;
	} else if (p[0] == '[') {
		if (!strcmp(p, "[heap]"))
			v->kind = VMA_KIND__VMA_HEAP;
		else if (!strcmp(p, "[stack]")) {
			v->kind = VMA_KIND__VMA_STACK;
			v->flags |= MAP_GROWSDOWN;
		} else if (starts_with(p, "[anon_shmem:"))
			v->kind = VMA_KIND__VMA_ANON_SHARED;
		else if (starts_with(p, "[anon:"))
			v->kind = shared ? VMA_KIND__VMA_ANON_SHARED :
					   VMA_KIND__VMA_ANON_PRIVATE;
		else
			v->kind = VMA_KIND__VMA_UNSUPPORTED;	/* [uprobes] and the like */
		if (v->kind == VMA_KIND__VMA_ANON_SHARED || v->kind == VMA_KIND__VMA_ANON_PRIVATE ||
		    v->kind == VMA_KIND__VMA_HEAP || v->kind == VMA_KIND__VMA_STACK)
			v->flags |= MAP_ANONYMOUS;
	} else if (shared && v->deleted && !strcmp(p, "/dev/zero")) {
		v->kind = VMA_KIND__VMA_ANON_SHARED;
		v->flags |= MAP_ANONYMOUS;
	} else if (starts_with(p, "/memfd:") || starts_with(p, "/dev/shm/") ||
		   starts_with(p, "/SYSV")) {
		v->kind = VMA_KIND__VMA_SHMEM;
	} else {
		v->kind = shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	}
}

static int parse_perms(const char *s, struct vma *v)
{
	static const char want[4] = { 'r', 'w', 'x', 0 };
	static const uint32_t prot[3] = { PROT_READ, PROT_WRITE, PROT_EXEC };
	int i;

	v->prot = 0;
	for (i = 0; i < 3; i++) {
		if (s[i] == want[i])
			v->prot |= prot[i];
		else if (s[i] != '-')
			return -EINVAL;
	}
	if (s[3] == 's')
		v->flags = MAP_SHARED;
	else if (s[3] == 'p')
		v->flags = MAP_PRIVATE;
	else
		return -EINVAL;
	return 0;
}

static int parse_path(const char *s, const char *end, struct vma *v)
{
	static const char del[] = " (deleted)";
	size_t dl = sizeof(del) - 1, n;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	n = end - s;
	if (!n)
		return 0;
	if (n > dl && !memcmp(end - dl, del, dl)) {
		v->deleted = 1;
		n -= dl;
	}
	if (n >= VMA_PATH_MAX)
		return -ENAMETOOLONG;
	v->path = strndup(s, n);
	return v->path ? 0 : -ENOMEM;
}

int vma_parse_line(const char *line, size_t len, struct vma *v)
{
	const char *p = line, *end = line + len;
	uint64_t maj, min;
	int ret;

	memset(v, 0, sizeof(*v));
	v->page_shift = 12;
	while (end > p && (end[-1] == '\n' || end[-1] == '\0'))
		end--;
	if (parse_hex(&p, end, &v->start) || expect(&p, end, '-') ||
	    parse_hex(&p, end, &v->end) || expect(&p, end, ' '))
		return -EINVAL;
	if (v->end <= v->start || (v->start | v->end) & 0xfff)
		return -EINVAL;
	if (end - p < 5 || p[4] != ' ' || parse_perms(p, v))
		return -EINVAL;
	p += 5;
	if (parse_hex(&p, end, &v->pgoff) || expect(&p, end, ' ') ||
	    parse_hex(&p, end, &maj) || expect(&p, end, ':') ||
	    parse_hex(&p, end, &min))
		return -EINVAL;
	if (maj > 0xfffff || min > 0xfffff || expect(&p, end, ' ') || parse_dec(&p, end, &v->ino))
		return -EINVAL;
	v->dev = makedev(maj, min);
	if (p < end && *p != ' ')
		return -EINVAL;
	ret = parse_path(p, end, v);
	if (ret)
		return ret;
	vma_classify(v);
	return 0;
}

uint64_t vma_parse_vmflags(const char *s, size_t len)
{
	uint64_t bits = 0;
	size_t i = 0;

	while (i < len) {
		char name[3];
		size_t j = i;
		const struct vmflag_desc *d;

		while (j < len && s[j] != ' ' && s[j] != '\n' && s[j] != '\t')
			j++;
		if (j - i == 2) {
			name[0] = s[i];
			name[1] = s[i + 1];
			name[2] = 0;
			d = vmflag_by_name(name);
			if (d)
				bits |= 1ull << d->bit;
		}
		i = j + 1;
	}
	return bits;
}

void vma_list_init(struct vma_list *l)
{
	memset(l, 0, sizeof(*l));
}

void vma_list_release(struct vma_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		free(l->v[i].path);
	free(l->v);
	vma_list_init(l);
}

static int vma_list_push(struct vma_list *l, const struct vma *v)
{
	if (array_grow(&l->v, &l->cap, l->nr, sizeof(*l->v), 64))
		return -ENOMEM;
	l->v[l->nr++] = *v;
	return 0;
}

/* "Name:   123 kB" → 123 when line starts with key. */
static int smaps_kb(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	const char *p = line + kl, *end;

	if (strncmp(line, key, kl))
		return 0;
	while (*p == ' ')
		p++;
	end = p + strlen(p);
	if (parse_dec(&p, end, out))
		return 0;
	return 1;
}

static void smaps_field(struct vma *v, const char *line, size_t len)
{
	uint64_t x;

	if (!strncmp(line, "VmFlags:", 8)) {
		v->vm_flags = vma_parse_vmflags(line + 8, len - 8);
		vma_classify(v);
	} else if (smaps_kb(line, "Rss:", &x)) {
		v->rss_kb = x;
	} else if (smaps_kb(line, "AnonHugePages:", &x)) {
		v->anon_huge_kb = x;
	} else if (smaps_kb(line, "Swap:", &x)) {
		v->swap_kb = x;
	} else if (smaps_kb(line, "ProtectionKey:", &x)) {
		v->pkey = x;
	} else if (smaps_kb(line, "KernelPageSize:", &x)) {
		/* a power of two from 4 kB to 16 GB; anything else keeps 12 (no ctz of 0) */
		if (x >= 4 && x <= (16ull << 20) && !(x & (x - 1)))
			v->page_shift = __builtin_ctzll(x) + 10;
	}
}

/* A smaps header line starts with a hex digit; field lines with a capital. */
static int is_header(const char *line)
{
	return (line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f');
}

static void vma_build_ids(struct vma_list *l, pid_t pid)
{
	char path[64];
	struct procmap_query q;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < l->nr; i++) {
		struct vma *v = &l->v[i];

		if (!v->path || v->path[0] != '/' || v->kind == VMA_KIND__VMA_UNSUPPORTED)
			continue;
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.query_addr = v->start;
		q.query_flags = PROCMAP_QUERY_FILE_BACKED_VMA;
		q.build_id_size = sizeof(v->build_id);
		q.build_id_addr = (uint64_t)(uintptr_t)v->build_id;
		if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
			if (errno == ENOTTY || errno == EINVAL)
				break;	/* kernel without PROCMAP_QUERY */
			continue;
		}
		if (q.vma_start == v->start)
			v->build_id_len = q.build_id_size;
	}
	close(fd);
}

int vma_list_read(struct vma_list *l, pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct vma cur;
	int have = 0, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot open '%s'", path);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (is_header(line)) {
			if (have && (ret = vma_list_push(l, &cur)))
				goto out;
			have = 0;
			ret = vma_parse_line(line, n, &cur);
			if (ret) {
				cm_err(ret, "pid %d: malformed line in '%s': '%.*s'", pid, path,
				       (int)(n > 0 ? n - 1 : 0), line);
				goto out;
			}
			have = 1;
		} else if (have) {
			smaps_field(&cur, line, n);
		}
	}
	if (ferror(f)) {
		ret = cm_err(-EIO, "pid %d: read error on '%s'", pid, path);
		goto out;
	}
	if (have && (ret = vma_list_push(l, &cur)))
		goto out;
	have = 0;
	vma_build_ids(l, pid);
out:
	if (have)
		free(cur.path);
	if (ret == -ENOMEM)
		pr_err("pid %d: out of memory reading VMAs", pid);
	free(line);
	fclose(f);
	return ret;
}

void vma_to_entry(const struct vma *v, VmaEntry *e)
{
	vma_entry__init(e);
	e->start = v->start;
	e->end = v->end;
	e->prot = v->prot;
	e->flags = v->flags;
	e->has_pgoff = 1;
	e->pgoff = v->pgoff;
	e->kind = v->kind;
	e->path = v->path;
	e->has_dev = 1;
	e->dev = v->dev;
	e->has_ino = 1;
	e->ino = v->ino;
	if (v->build_id_len) {
		e->has_build_id = 1;
		e->build_id.data = (uint8_t *)v->build_id;
		e->build_id.len = v->build_id_len;
	}
	e->has_vm_flags = 1;
	e->vm_flags = v->vm_flags;
	e->has_page_shift = 1;
	e->page_shift = v->page_shift;
	e->has_thp = 1;
	e->thp = v->anon_huge_kb > 0;
	if (v->kind == VMA_KIND__VMA_SHMEM || v->kind == VMA_KIND__VMA_ANON_SHARED ||
	    v->kind == VMA_KIND__VMA_FILE_SHARED) {
		e->has_shmid = 1;
		e->shmid = v->dev << 40 ^ v->ino;
	}
	e->has_rss_pages = 1;
	e->rss_pages = v->rss_kb / 4;
	if (v->pkey) {
		e->has_pkey = 1;
		e->pkey = v->pkey;
	}
}
