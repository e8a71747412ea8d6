// SPDX-License-Identifier: MIT
/*
 * validate.c: the one validator of image contents that checksums cannot
 * vouch for: VMA ranges, bits and paths, mm head bounds, thread and task
 * state sizes. No I/O; used by img_mem_load, verify and the restore gate.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/user.h>

#include "imgint.h"
#include "util.h"

#define VMA_PROT_BITS	(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8 /* PROT_SEM */)
#define VMA_MAP_BITS	(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | \
			 MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | \
			 MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC | \
			 (0x3fu << 26) /* MAP_HUGE_MASK << MAP_HUGE_SHIFT */)
#define VMA_GUARD_PAGE	4096ull
#define IMG_MAX_SIG	64
#define IMG_MAX_TID	(1u << 22)	/* PID_MAX_LIMIT */
#define IMG_MAX_RSEQ	4096u
#define IMG_MAX_COMM	64

/* Formats into why; returns -EBADMSG. */
static int why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* Problem sink: with a callback, every problem; without, the first one goes to img_err. */
struct vsink {
	img_problem_cb cb;
	void *arg;
	int nr;
};

static int sink_put(struct vsink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sink_put(struct vsink *s, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->nr++;
	if (s->cb)
		s->cb(s->arg, msg);
	else
		img_err(-EBADMSG, "%s", msg);
	return !s->cb;		/* 1: stop at the first problem */
}

/* Length of s up to max + 1 (a string longer than max reads as max + 1). */
static size_t str_len_max(const char *s, size_t max)
{
	return s ? strnlen(s, max + 1) : 0;
}

int img_va_range_ok(uint64_t start, uint64_t end)
{
	if (start >= end || (start | end) & (VMA_GUARD_PAGE - 1))
		return 0;
	if (end <= IMG_USER_END)
		return 1;
	return start == IMG_VSYSCALL_START && end == IMG_VSYSCALL_END;
}

static int vma_check_guards(const VmaEntry *v, char *why, size_t len)
{
	uint64_t gend, bytes;
	size_t i;

	for (i = 0; i < v->n_guards; i++) {
		const GuardRange *g = v->guards[i];

		if (!g->nr_pages || mul_overflow(g->nr_pages, VMA_GUARD_PAGE, &bytes) ||
		    add_overflow(g->start, bytes, &gend) || g->start < v->start || gend > v->end ||
		    g->start & (VMA_GUARD_PAGE - 1))
			return why_set(why, len, "guard %zu %#llx (%llu pages) is not inside the vma",
				       i, (unsigned long long)g->start,
				       (unsigned long long)g->nr_pages);
	}
	return 0;
}

int img_validate_vma(const VmaEntry *v, char *why, size_t len)
{
	unsigned long long s = v->start, e = v->end;
	uint32_t share = v->flags & (MAP_SHARED | MAP_PRIVATE);

	if (!img_va_range_ok(v->start, v->end))
		return why_set(why, len, "vma %#llx-%#llx is empty, unaligned or outside user space",
			       s, e);
	if (v->end > IMG_USER_END && v->kind != VMA_KIND__VMA_VSYSCALL)
		return why_set(why, len, "vma %#llx-%#llx of kind %d is outside user space", s, e,
			       v->kind);
	if ((int)v->kind < VMA_KIND__VMA_ANON_PRIVATE || v->kind > VMA_KIND__VMA_UNSUPPORTED)
		return why_set(why, len, "vma %#llx-%#llx has unknown kind %d", s, e, v->kind);
	if (v->prot & ~VMA_PROT_BITS)
		return why_set(why, len, "vma %#llx-%#llx has unknown prot bits %#x", s, e, v->prot);
	if ((v->flags & ~VMA_MAP_BITS) || (share != MAP_SHARED && share != MAP_PRIVATE))
		return why_set(why, len, "vma %#llx-%#llx has bad map flags %#x", s, e, v->flags);
	if (v->has_page_shift && v->page_shift != 12 && v->page_shift != 21 && v->page_shift != 30)
		return why_set(why, len, "vma %#llx-%#llx has page shift %u (not 12, 21 or 30)",
			       s, e, v->page_shift);
	if (v->has_page_shift && (s | e) & ((1ull << v->page_shift) - 1))
		return why_set(why, len, "vma %#llx-%#llx is not aligned to its %u-bit pages",
			       s, e, v->page_shift);
	if (str_len_max(v->path, IMG_MAX_PATH) >= IMG_MAX_PATH)
		return why_set(why, len, "vma %#llx-%#llx has a path of %zu bytes or more (max %d)",
			       s, e, (size_t)IMG_MAX_PATH, IMG_MAX_PATH - 1);
	if (v->has_build_id && v->build_id.len > IMG_MAX_BUILD_ID)
		return why_set(why, len, "vma %#llx-%#llx has a build id of %zu bytes", s, e,
			       v->build_id.len);
	if (vma_check_guards(v, NULL, 0)) {
		char g[160];

		vma_check_guards(v, g, sizeof(g));
		return why_set(why, len, "vma %#llx-%#llx: %s", s, e, g);
	}
	return 0;
}

int img_validate_vmas(VmaEntry *const *vmas, size_t nr, img_problem_cb cb, void *arg)
{
	struct vsink sk = { cb, arg, 0 };
	const VmaEntry *prev = NULL;
	char why[256];
	size_t i;

	if (nr > IMG_MAX_VMAS && sink_put(&sk, "%zu vmas, more than %u", nr, IMG_MAX_VMAS))
		return sk.nr;
	for (i = 0; i < nr; i++) {
		const VmaEntry *v = vmas[i];

		if (img_validate_vma(v, why, sizeof(why)) && sink_put(&sk, "%s (vma %zu)", why, i))
			break;
		if (prev && prev->end > v->start &&
		    sink_put(&sk, "vma %zu %#llx-%#llx overlaps or precedes the previous one", i,
			     (unsigned long long)v->start, (unsigned long long)v->end))
			break;
		prev = v;
	}
	return sk.nr;
}

/* A [start, end] pair of the mm head, when both are present: ordered, in user space. */
static int mm_pair(struct vsink *sk, const char *what, int has_s, uint64_t s, int has_e, uint64_t e)
{
	if (!has_s || !has_e || (s <= e && e <= IMG_USER_END))
		return 0;
	return sink_put(sk, "mm %s bounds %#llx-%#llx are inverted or outside user space", what,
			(unsigned long long)s, (unsigned long long)e);
}

int img_validate_mm(const MmEntry *mm, img_problem_cb cb, void *arg)
{
	struct vsink sk = { cb, arg, 0 };

	if ((mm->n_auxv % 2 || mm->n_auxv > IMG_MAX_AUXV) &&
	    sink_put(&sk, "mm auxv has %zu words (must be even, at most %u)", mm->n_auxv,
		     IMG_MAX_AUXV))
		return sk.nr;
	if (str_len_max(mm->exe_path, IMG_MAX_PATH) >= IMG_MAX_PATH &&
	    sink_put(&sk, "mm exe path is %d bytes or more", IMG_MAX_PATH))
		return sk.nr;
	if (mm->has_exe_build_id && mm->exe_build_id.len > IMG_MAX_BUILD_ID &&
	    sink_put(&sk, "mm exe build id has %zu bytes", mm->exe_build_id.len))
		return sk.nr;
	if (mm->nr_vmas > IMG_MAX_VMAS &&
	    sink_put(&sk, "mm head counts %u vmas, more than %u", mm->nr_vmas, IMG_MAX_VMAS))
		return sk.nr;
	if (mm_pair(&sk, "code", mm->has_start_code, mm->start_code, mm->has_end_code,
		    mm->end_code) ||
	    mm_pair(&sk, "data", mm->has_start_data, mm->start_data, mm->has_end_data,
		    mm->end_data) ||
	    mm_pair(&sk, "brk", mm->has_start_brk, mm->start_brk, mm->has_brk, mm->brk) ||
	    mm_pair(&sk, "arg", mm->has_arg_start, mm->arg_start, mm->has_arg_end, mm->arg_end) ||
	    mm_pair(&sk, "env", mm->has_env_start, mm->env_start, mm->has_env_end, mm->env_end))
		return sk.nr;
	return sk.nr;
}

int img_validate_thread(const ThreadCore *t, char *why, size_t len)
{
	uint64_t end;

	if (!t->tid || t->tid > IMG_MAX_TID)
		return why_set(why, len, "thread id %u is invalid", t->tid);
#ifdef __x86_64__
	if (t->gpregs.len != sizeof(struct user_regs_struct))
		return why_set(why, len, "thread %u: gpregs of %zu bytes, expected %zu", t->tid,
			       t->gpregs.len, sizeof(struct user_regs_struct));
	if (t->has_fpregs && t->fpregs.len != IMG_FPREGS_SIZE)
		return why_set(why, len, "thread %u: fpregs of %zu bytes, expected %u", t->tid,
			       t->fpregs.len, IMG_FPREGS_SIZE);
#endif
	if (t->has_xstate && t->xstate.len > IMG_MAX_XSTATE)
		return why_set(why, len, "thread %u: xstate of %zu bytes, more than %u", t->tid,
			       t->xstate.len, IMG_MAX_XSTATE);
	if (t->has_rseq_addr && t->rseq_addr &&
	    (!t->has_rseq_len || t->rseq_len > IMG_MAX_RSEQ ||
	     add_overflow(t->rseq_addr, (uint64_t)t->rseq_len, &end) || end > IMG_USER_END))
		return why_set(why, len, "thread %u: rseq area %#llx (%u bytes) is invalid", t->tid,
			       (unsigned long long)t->rseq_addr, t->rseq_len);
	if (str_len_max(t->comm, IMG_MAX_COMM) >= IMG_MAX_COMM)
		return why_set(why, len, "thread %u: comm of %d bytes or more", t->tid,
			       IMG_MAX_COMM);
	return 0;
}

int img_validate_task(const TaskCore *tc, char *why, size_t len)
{
	size_t i;

	if (tc->n_sigactions > IMG_MAX_SIG)
		return why_set(why, len, "task %u: %zu sigactions, more than %d", tc->pid,
			       tc->n_sigactions, IMG_MAX_SIG);
	for (i = 0; i < tc->n_sigactions; i++)
		if (!tc->sigactions[i]->sig || tc->sigactions[i]->sig > IMG_MAX_SIG)
			return why_set(why, len, "task %u: sigaction for signal %u", tc->pid,
				       tc->sigactions[i]->sig);
	if (str_len_max(tc->cwd, IMG_MAX_PATH) >= IMG_MAX_PATH ||
	    str_len_max(tc->root, IMG_MAX_PATH) >= IMG_MAX_PATH)
		return why_set(why, len, "task %u: cwd or root path of %d bytes or more", tc->pid,
			       IMG_MAX_PATH);
	return 0;
}

int img_validate_core(const TaskCore *tc, ThreadCore *const *threads, size_t nr,
		      img_problem_cb cb, void *arg)
{
	struct vsink sk = { cb, arg, 0 };
	char why[256];
	size_t i;

	if (tc && img_validate_task(tc, why, sizeof(why)) && sink_put(&sk, "%s", why))
		return sk.nr;
	if (nr > IMG_MAX_THREADS && sink_put(&sk, "%zu threads, more than %u", nr, IMG_MAX_THREADS))
		return sk.nr;
	for (i = 0; i < nr; i++)
		if (img_validate_thread(threads[i], why, sizeof(why)) &&
		    sink_put(&sk, "%s (thread record %zu)", why, i + 1))
			break;
	return sk.nr;
}

/* Length of the valid UTF-8 sequence at p (not a C1 control), or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
		return 0;
	return n;
}

const char *img_str_safe(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, avail, n;

	if (len < 8) {
		if (len)
			buf[0] = 0;
		return len ? buf : "";
	}
	if (!s) {
		buf[0] = 0;
		return buf;
	}
	avail = strlen(s);
	while (*p) {
		n = *p >= 0x20 && *p < 0x7f ? 1 : *p >= 0x80 ? utf8_len(p, avail) : 0;
		if (o + MAX(n, (size_t)4) + 4 >= len) {	/* room for this and "..." */
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (n == 1 && *p == '\\') {
			memcpy(buf + o, "\\\\", 2);
			o += 2;
		} else if (n) {
			memcpy(buf + o, p, n);
			o += n;
		} else {
			o += snprintf(buf + o, len - o, "\\x%02x", *p);
			n = 1;
		}
		p += n;
		avail -= n;
	}
	buf[o] = 0;
	return buf;
}
