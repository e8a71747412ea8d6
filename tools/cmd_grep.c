// SPDX-License-Identifier: MIT
/*
 * cmd_grep.c: `criu-mem grep DIR PATTERN`: every address where a string or
 * byte pattern occurs in the dumped memory. Runs are cut into chunks of
 * about 4 MiB at frame boundaries, so that each frame is decompressed once;
 * worker threads (one img_mem each) search inside the chunks and keep each
 * chunk's first and last patlen-1 bytes; the main thread prints hits in
 * address order and searches the seams between address-contiguous chunks.
 * Zero and lazy runs are one chunk each, whatever their size, and never
 * read: a zero run matches by arithmetic (all-zero pattern) or not at all.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "grep: "
#include "addr.h"
#include "imgopen.h"
#include "cli.h"
#include "log.h"
#include "progress.h"
#include "util.h"

#define GREP_CHUNK	(4u << 20)
#define GREP_PAT_MAX	4096
#define GREP_WINDOW	64	/* chunks searched ahead of the printer */
#define GREP_THREADS_MAX 64
#define GREP_MAX_CHUNKS	(1u << 20)	/* 4 TiB of stored or parent memory */
#define GREP_ZERO_PRINT_MAX (1u << 20)	/* zero-page matches printed without --max */

enum grep_kind {
	CH_READ,	/* stored or parent pages: read and searched */
	CH_ZSKIP,	/* zero pages, a pattern with a nonzero byte: no match inside */
	CH_ZALL,	/* zero pages, an all-zero pattern: matches at every offset */
	CH_ABSENT,	/* lazy pages, not in the image: no match */
};

struct grep_chunk {
	uint64_t start, end;	/* [start, end): read and searched by one worker */
	enum grep_kind kind;
	uint8_t *edge;		/* head, head present, tail, tail present: patlen-1 each */
	char *msg;		/* why err */
	int done, err;
	uint64_t *hits;
	size_t nr_hits, cap_hits;
	uint64_t count;
};

struct grep_ctx {
	const char *dir_path;
	unsigned int pid;
	const uint8_t *pat;
	size_t patlen;
	int count_only;
	uint64_t max;		/* 0: no limit */
	struct grep_chunk *chunks;
	size_t nr_chunks, cap_chunks;
	size_t max_chunk;	/* longest CH_READ chunk in bytes */
	uint64_t zero_hits;	/* matches inside CH_ZALL chunks */
	atomic_size_t next;
	atomic_int stop;
	size_t printed_upto;	/* chunks before this index are printed (under lock) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void grep_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem grep [--hex] [--count] [--max N] [-j N] [-p PID] DIR PATTERN\n\n"
		   "Prints every address where PATTERN occurs in the dumped memory, with its\n"
		   "VMA and the offset in it. Matches may cross page and frame boundaries, never\n"
		   "pages missing from the image. Exit status 0 when found, 1 when not.\n\n"
		   "  -x, --hex       PATTERN is hex bytes (\"deadbeef\" or \"de ad be ef\")\n"
		   "  -c, --count     print only the number of matches\n"
		   "  -m, --max N     stop after N matches\n"
		   "  -j, --jobs N    search threads (default: online CPUs)\n"
		   "  -p, --pid PID   process of the image (default: the root process)\n"
		   "  -q, --no-progress  no progress bar\n");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses hex bytes, spaces allowed between bytes. Returns the length or -EINVAL. */
static long grep_parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi, lo;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	while (*s) {
		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = hi < 0 ? -1 : hexval(s[1]);
		if (lo < 0 || n >= cap)
			return -EINVAL;
		out[n++] = hi << 4 | lo;
		s += 2;
	}
	return n ? (long)n : -EINVAL;
}

static int grep_add_chunk(struct grep_ctx *g, uint64_t start, uint64_t end, enum grep_kind kind)
{
	struct grep_chunk *c;

	if (g->nr_chunks && kind != CH_READ) {	/* zero/lazy runs merge whatever their size */
		c = &g->chunks[g->nr_chunks - 1];
		if (c->kind == kind && c->end == start) {
			c->end = end;
			return 0;
		}
	}
	if (g->nr_chunks >= GREP_MAX_CHUNKS)
		return -E2BIG;
	if (array_grow(&g->chunks, &g->cap_chunks, g->nr_chunks, sizeof(*g->chunks), 256))
		return -ENOMEM;
	c = &g->chunks[g->nr_chunks++];
	memset(c, 0, sizeof(*c));
	c->start = start;
	c->end = end;
	c->kind = kind;
	if (kind == CH_READ)
		g->max_chunk = MAX(g->max_chunk, (size_t)(end - start));
	return 0;
}

static int bytes_all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

struct grep_plan {
	uint64_t cs, ce;	/* the chunk being built */
	int open;
};

static int grep_close(struct grep_ctx *g, struct grep_plan *pl)
{
	if (!pl->open)
		return 0;
	pl->open = 0;
	return grep_add_chunk(g, pl->cs, pl->ce, CH_READ);
}

/* Matches of an all-zero pattern strictly inside a zero chunk. */
static uint64_t grep_zero_count(const struct grep_ctx *g, const struct grep_chunk *c)
{
	return c->end - c->start >= g->patlen ? c->end - c->start - g->patlen + 1 : 0;
}

/*
 * Cuts the runs into chunks of at least GREP_CHUNK bytes (the last of a
 * contiguous span may be shorter). Stored runs never straddle a frame, and
 * a chunk ends only where a run ends, so no frame is shared by two chunks
 * unless one run alone exceeds GREP_CHUNK. Parent runs are split freely;
 * zero and lazy runs become chunks of their own, never read.
 */
static int grep_plan(struct grep_ctx *g, const struct img_mem *m, uint64_t *total)
{
	enum grep_kind zk = bytes_all_zero(g->pat, g->patlen) ? CH_ZALL : CH_ZSKIP;
	struct grep_plan pl = { 0 };
	size_t i;
	int ret = 0;

	*total = 0;
	for (i = 0; !ret && i < m->nr_runs; i++) {
		const struct img_run *r = &m->runs[i];
		uint64_t cur = r->vaddr, re = r->vaddr + r->nr_pages * m->page_size;

		*total += re - cur;
		if (pl.open && cur != pl.ce)
			ret = grep_close(g, &pl);
		if (!ret && (r->flags == PE_ZERO || r->flags == PE_LAZY)) {
			ret = grep_close(g, &pl);
			if (!ret)
				ret = grep_add_chunk(g, cur, re, r->flags == PE_LAZY ? CH_ABSENT : zk);
			continue;
		}
		while (!ret && cur < re) {
			if (!pl.open) {
				pl.cs = cur;
				pl.open = 1;
			}
			pl.ce = r->flags == PE_PRESENT ? re :
				cur + MIN(re - cur, GREP_CHUNK - (cur - pl.cs));
			cur = pl.ce;
			if (pl.ce - pl.cs >= GREP_CHUNK)
				ret = grep_close(g, &pl);
		}
	}
	if (!ret)
		ret = grep_close(g, &pl);
	for (i = 0; i < g->nr_chunks; i++) {
		pr_debug("chunk %#lx-%#lx", (unsigned long)g->chunks[i].start,
			 (unsigned long)g->chunks[i].end);
		if (g->chunks[i].kind == CH_ZALL)
			g->zero_hits += grep_zero_count(g, &g->chunks[i]);
	}
	return ret;
}

static int grep_hit(struct grep_ctx *g, struct grep_chunk *c, uint64_t addr)
{
	c->count++;
	if (g->count_only)
		return 0;
	if (array_grow(&c->hits, &c->cap_hits, c->nr_hits, sizeof(*c->hits), 16))
		return -ENOMEM;
	c->hits[c->nr_hits++] = addr;
	return 0;
}

/* Searches buf[off, end) which maps to addresses from c->start + off. */
static int grep_segment(struct grep_ctx *g, struct grep_chunk *c, const uint8_t *buf,
			size_t off, size_t end)
{
	const uint8_t *p = buf + off, *lim = buf + end;
	uint64_t a;
	int ret;

	while (lim - p >= (ptrdiff_t)g->patlen) {
		p = memmem(p, lim - p, g->pat, g->patlen);
		if (!p)
			break;
		a = c->start + (p - buf);
		if (g->max && c->count >= g->max)
			break;
		ret = grep_hit(g, c, a);
		if (ret)
			return ret;
		p++;
	}
	return 0;
}

static int absent_bit(const uint8_t *absent, uint64_t pg)
{
	return absent && ((absent[pg / 8] >> (pg % 8)) & 1);
}

/* Keeps the first and last patlen-1 bytes of a chunk for the seam search. */
static int grep_edges(struct grep_ctx *g, struct grep_chunk *c, const uint8_t *buf,
		      const uint8_t *absent, size_t ps, int present)
{
	size_t L = g->patlen - 1, n = c->end - c->start, i;
	uint64_t base = ALIGN_DOWN(c->start, (uint64_t)ps);
	uint8_t *e;

	if (!L)
		return 0;
	e = c->edge = malloc(4 * L);
	if (!e)
		return -ENOMEM;
	if (!buf) {		/* unread chunk: zero pages, or absent ones */
		memset(e, 0, 4 * L);
		memset(e + L, present, L);
		memset(e + 3 * L, present, L);
		return 0;
	}
	memcpy(e, buf, L);
	memcpy(e + 2 * L, buf + n - L, L);
	for (i = 0; i < L; i++) {
		e[L + i] = !absent_bit(absent, (c->start + i - base) / ps);
		e[3 * L + i] = !absent_bit(absent, (c->end - L + i - base) / ps);
	}
	return 0;
}

/* Reads one chunk and searches each stretch of pages present in the image. */
static int grep_chunk_search(struct grep_ctx *g, struct img_mem *m, struct grep_chunk *c,
			     uint8_t *buf, uint8_t *absent, size_t bmlen)
{
	size_t ps = m->page_size, len = c->end - c->start, off = 0, seg;
	uint64_t base = ALIGN_DOWN(c->start, (uint64_t)ps), pg;
	long nabs;
	int ret;

	memset(absent, 0, bmlen);
	nabs = img_mem_read(m, c->start, buf, len, absent);
	if (nabs < 0)
		return (int)nabs;
	ret = grep_edges(g, c, buf, nabs ? absent : NULL, ps, 1);
	if (ret)
		return ret;
	if (!nabs)
		return grep_segment(g, c, buf, 0, len);
	while (off < len) {
		for (seg = off; seg < len; seg = base + (pg + 1) * ps - c->start) {
			pg = (c->start + seg - base) / ps;
			if ((absent[pg / 8] >> (pg % 8)) & 1)
				break;
		}
		seg = MIN(seg, len);
		if (seg > off) {
			ret = grep_segment(g, c, buf, off, seg);
			if (ret)
				return ret;
			off = seg;
			continue;
		}
		pg = (c->start + off - base) / ps;
		off = MIN((size_t)(base + (pg + 1) * ps - c->start), len);
	}
	return 0;
}

struct grep_worker {
	struct grep_ctx *g;
	struct img_mem *m;	/* shared with the main thread for worker 0 */
	struct imgopen own;
	int ret;
};

static void *grep_worker_main(void *arg)
{
	struct grep_worker *w = arg;
	struct grep_ctx *g = w->g;
	size_t ps = 0, bmlen = 0, i;
	uint8_t *buf = NULL, *absent = NULL;

	if (!w->m) {
		w->ret = imgopen_proc(&w->own, g->dir_path, g->pid);
		w->m = w->own.mem;
	}
	if (!w->ret) {
		ps = w->m->page_size;
		bmlen = (g->max_chunk / ps + 2) / 8 + 1;
		buf = malloc(MAX(g->max_chunk, (size_t)1));
		absent = malloc(bmlen);
		if (!buf || !absent)
			w->ret = -ENOMEM;
	}
	while (!w->ret && !atomic_load(&g->stop)) {
		struct grep_chunk *c;

		i = atomic_fetch_add(&g->next, 1);
		if (i >= g->nr_chunks)
			break;
		c = &g->chunks[i];
		pthread_mutex_lock(&g->lock);
		while (i >= g->printed_upto + GREP_WINDOW && !atomic_load(&g->stop))
			pthread_cond_wait(&g->cond, &g->lock);
		pthread_mutex_unlock(&g->lock);
		if (atomic_load(&g->stop))
			;
		else if (c->kind != CH_READ)
			c->err = grep_edges(g, c, NULL, NULL, ps, c->kind != CH_ABSENT);
		else
			c->err = grep_chunk_search(g, w->m, c, buf, absent, bmlen);
		if (c->err)	/* reported in address order by grep_collect() */
			c->msg = strdup(c->err == -ENOMEM ? "out of memory" : img_strerror());
		pthread_mutex_lock(&g->lock);
		c->done = 1;
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
	}
	if (w->ret) {
		/* Nobody else may take our chunks: stop everything. */
		atomic_store(&g->stop, 1);
		pthread_mutex_lock(&g->lock);
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
	}
	free(buf);
	free(absent);
	return NULL;
}

static void grep_print_hit(const struct img_mem *m, uint64_t a)
{
	const VmaEntry *v = img_mem_find_vma(m, a);
	char name[256];

	if (v)
		printf("%#014lx  %s+%#lx\n", (unsigned long)a,
		       img_str_safe(addr_vma_name(v), name, sizeof(name)),
		       (unsigned long)(a - v->start));
	else
		printf("%#014lx\n", (unsigned long)a);
}

static void grep_wait(struct grep_ctx *g, const struct grep_chunk *c)
{
	pthread_mutex_lock(&g->lock);
	while (!c->done && !atomic_load(&g->stop))
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* Matches across the boundary of two address-contiguous chunks a and b. */
static void grep_seam(struct grep_ctx *g, const struct grep_chunk *a, const struct grep_chunk *b,
		      const struct img_mem *m, uint64_t *total)
{
	size_t L = g->patlen - 1, k, p;
	uint8_t seam[2 * GREP_PAT_MAX], pres[2 * GREP_PAT_MAX];
	const uint8_t *q = seam, *lim = seam + 2 * L;

	memcpy(seam, a->edge + 2 * L, L);
	memcpy(seam + L, b->edge, L);
	memcpy(pres, a->edge + 3 * L, L);
	memcpy(pres + L, b->edge + L, L);
	while (lim - q >= (ptrdiff_t)g->patlen && (q = memmem(q, lim - q, g->pat, g->patlen))) {
		p = q - seam;
		for (k = 0; k < g->patlen && pres[p + k]; k++)
			;
		if (k == g->patlen) {
			if (g->max && *total >= g->max)
				break;
			(*total)++;
			if (!g->count_only)
				grep_print_hit(m, a->end - L + p);
		}
		q++;
	}
}

/* Prints the chunks in order as workers finish them. Returns hits or -errno. */
static long grep_collect(struct grep_ctx *g, const struct img_mem *m, struct progress *pb)
{
	uint64_t total = 0, bytes = 0;
	size_t i, k;
	int err = 0;

	for (i = 0; i < g->nr_chunks; i++) {
		struct grep_chunk *c = &g->chunks[i];

		grep_wait(g, c);
		if (c->done && c->err) {
			err = cm_err(c->err, "cannot search %#lx-%#lx of pid %u (%s)",
				     (unsigned long)c->start, (unsigned long)c->end, g->pid,
				     c->msg ? c->msg : "?");
			break;
		}
		if (!c->done) {		/* a worker failed to start and reported it */
			err = -EIO;
			break;
		}
		if (c->kind == CH_ZALL)
			c->count = grep_zero_count(g, c);
		for (k = 0; k < c->nr_hits && (!g->max || total + k < g->max); k++)
			grep_print_hit(m, c->hits[k]);
		for (k = 0; c->kind == CH_ZALL && !g->count_only && k < c->count &&
		     (!g->max || total + k < g->max); k++)
			grep_print_hit(m, c->start + k);	/* bounded by grep_run() */
		total += c->count;
		if (g->max && total > g->max)
			total = g->max;
		free(c->hits);
		c->hits = NULL;
		if (c->edge && i + 1 < g->nr_chunks && g->chunks[i + 1].start == c->end) {
			grep_wait(g, &g->chunks[i + 1]);
			if (g->chunks[i + 1].done && g->chunks[i + 1].edge)
				grep_seam(g, c, &g->chunks[i + 1], m, &total);
		}
		free(c->edge);
		c->edge = NULL;
		bytes += c->end - c->start;
		progress_update(pb, bytes);
		pthread_mutex_lock(&g->lock);
		g->printed_upto = i + 1;
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
		if (g->max && total >= g->max)
			break;
	}
	atomic_store(&g->stop, 1);
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return err ? err : (long)total;
}

static long grep_run(struct grep_ctx *g, struct img_mem *m, unsigned int jobs, int quiet)
{
	struct grep_worker w[GREP_THREADS_MAX];
	pthread_t tid[GREP_THREADS_MAX];
	struct progress pb;
	unsigned int i, started = 0;
	uint64_t total;
	long ret;

	/* Chunks are whole pages, so a match spans at most two of them. */
	if (g->patlen > m->page_size)
		return cm_err(-EINVAL, "pattern of %zu bytes is longer than a page (%zu)",
			      g->patlen, m->page_size);
	ret = grep_plan(g, m, &total);
	if (ret == -E2BIG)
		return cm_err(-E2BIG, "the image of pid %u has more than %u chunks of %u MiB to "
			      "search", g->pid, GREP_MAX_CHUNKS, GREP_CHUNK >> 20);
	if (ret)
		return cm_err((int)ret, "cannot plan the search of pid %u", g->pid);
	if (g->zero_hits > GREP_ZERO_PRINT_MAX && !g->count_only &&
	    (!g->max || g->max > GREP_ZERO_PRINT_MAX))
		return cm_err(-E2BIG, "an all-zero pattern matches %llu times in the zero pages of "
			      "pid %u: use --count, or --max up to %u",
			      (unsigned long long)g->zero_hits, g->pid, GREP_ZERO_PRINT_MAX);
	if (!g->nr_chunks)
		return 0;
	if (jobs > g->nr_chunks)
		jobs = g->nr_chunks;
	progress_init(&pb, "grep", total, quiet);
	memset(w, 0, sizeof(w));
	for (i = 0; i < jobs; i++) {
		w[i].g = g;
		w[i].m = i == 0 ? m : NULL;
		if (pthread_create(&tid[i], NULL, grep_worker_main, &w[i]))
			break;
		started++;
	}
	if (!started) {
		progress_done(&pb);
		return cm_err(-EAGAIN, "cannot start search threads");
	}
	ret = grep_collect(g, m, &pb);
	for (i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].ret && ret >= 0)
			ret = w[i].ret;
		imgopen_close(&w[i].own);
	}
	progress_done(&pb);
	return ret;
}

/* The pattern from the command line into pat (GREP_PAT_MAX bytes). Length or -EINVAL. */
static long grep_pattern(const char *arg, int hex, uint8_t *pat)
{
	long n;

	if (hex) {
		n = grep_parse_hex(arg, pat, GREP_PAT_MAX);
	} else {
		n = strlen(arg);
		if (n > 0 && n <= GREP_PAT_MAX)
			memcpy(pat, arg, n);
		else
			n = -EINVAL;
	}
	if (n <= 0) {
		pr_err("bad pattern '%s' (1 to %d bytes%s)", arg, GREP_PAT_MAX, hex ? " of hex" : "");
		return -EINVAL;
	}
	return n;
}

static void grep_release(struct grep_ctx *g)
{
	size_t i;

	for (i = 0; i < g->nr_chunks; i++) {
		free(g->chunks[i].hits);
		free(g->chunks[i].edge);
		free(g->chunks[i].msg);
	}
	free(g->chunks);
}

int cmd_grep(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", no_argument, NULL, 'x' },
		{ "count", no_argument, NULL, 'c' },
		{ "max", required_argument, NULL, 'm' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-progress", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct grep_ctx g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	long jobs = sysconf(_SC_NPROCESSORS_ONLN), n;
	uint8_t pat[GREP_PAT_MAX];
	int o, hex = 0, quiet = 0, ret;
	struct imgopen ai;
	uint64_t v;

	while ((o = getopt_long(argc, argv, "xcm:j:p:qh", opts, NULL)) != -1) {
		switch (o) {
		case 'x':
			hex = 1;
			break;
		case 'c':
			g.count_only = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'm':
		case 'j':
		case 'p':
			if (addr_parse_u64(optarg, &v) || !v || v > UINT32_MAX) {
				pr_err("bad number '%s' for -%c", optarg, o);
				return CM_EXIT_USAGE;
			}
			if (o == 'm')
				g.max = v;
			else if (o == 'j')
				jobs = MIN(v, (uint64_t)GREP_THREADS_MAX);
			else
				g.pid = v;
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(o, grep_usage);
		}
	}
	if (argc - optind != 2) {
		grep_usage(stderr);
		return CM_EXIT_USAGE;
	}
	n = grep_pattern(argv[optind + 1], hex, pat);
	if (n < 0)
		return CM_EXIT_USAGE;
	g.pat = pat;
	g.patlen = n;
	g.dir_path = argv[optind];
	if (jobs < 1)
		jobs = 1;
	ret = imgopen_proc(&ai, g.dir_path, g.pid);
	if (ret)
		return cm_exit_code(ret);
	g.pid = ai.mem->pid;
	n = grep_run(&g, ai.mem, jobs, quiet);
	if (n >= 0 && g.count_only)
		printf("%ld\n", n);
	fflush(stdout);
	imgopen_close(&ai);
	grep_release(&g);
	if (n < 0)
		return cm_exit_code((int)n);
	return n ? CM_EXIT_OK : CM_EXIT_FAIL;
}
