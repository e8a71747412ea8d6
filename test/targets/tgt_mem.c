// SPDX-License-Identifier: MIT
/*
 * tgt_mem: a self-checking target with one memory layout per mode, used by
 * the dump and restore tests.
 *
 * usage: tgt_mem MODE SEED [SIZE_MIB]
 *   MODE: anon shared fileprivate fileshared protnone mprotect manyvmas sparse
 *         thp threads memfd hugetlb big all (all = every mode but big and
 *         hugetlb; hugetlb needs 2 free 2 MiB huge pages, else exits 77)
 *   SEED: decimal or 0x hex; every byte of every region derives from it.
 *   SIZE_MIB: size of the "big" region (default 64) and of "anon" (default 4).
 *   Env TGT_MEM_DIR: where backing files are created (default /tmp); they are
 *   removed at exit (not after a SIGKILL: point it at a scratch dir).
 *   Env TGT_MEM_VMAS: number of VMAs of "manyvmas" (default 10000).
 *
 * Protocol (stdout, line buffered):
 *   "pid PID"
 *   "region NAME START LEN" per region (START hex with 0x, LEN decimal bytes);
 *      every page of a region has known content: pattern, all-zero (written),
 *      or never touched (reads as zero).
 *   "ready"  last; the layout does not change after this line (the "threads"
 *      mode keeps 8 threads spinning on counters outside every region; in
 *      "all" they wake every 2 ms instead of spinning).
 *   On SIGUSR1 it verifies every region against SEED, prints "ok" or
 *   "mismatch NAME OFFSET" lines and exits 0 when intact, 1 when not.
 *   SIGTERM/SIGINT: exits 2 without checking.
 *   SIGUSR2 "scramble" (restore tests): rewrites every region (holes and
 *   zero pages included, except pages of shared files that hold file
 *   content), unmaps, remaps and mprotects some, maps new regions, grows
 *   brk, changes madvise flags, installs a guard page, then prints
 *   "scrambled". A later SIGUSR1 then reports a mismatch unless the memory
 *   was restored.
 * Fds 0-2 are kept; every inherited fd >= 3 is closed at start, so the fd
 * table holds only stdio (plus what a mode maps and closes again).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target.h"

#define PS 4096UL
#define MAX_REGIONS 64

enum fill {
	FILL_PATTERN,	/* pages: pattern, with a zero page every 7th, a hole every 11th */
	FILL_DENSE,	/* every page pattern */
	FILL_FILE,	/* file content (pattern with salt), some pages COW/written */
	FILL_SPARSE,	/* a few pages per GiB, the rest untouched or read-only faulted */
};

struct region {
	char name[32];
	unsigned char *addr;
	size_t len;
	enum fill fill;
	uint64_t salt;
	int prot;	/* protection to restore before verifying, 0 = as is */
	char path[256];	/* backing file, removed at exit */
};

struct tgt {
	uint64_t seed;
	struct region r[MAX_REGIONS];
	int nr;
	size_t size_mib;
	int size_given;
};

static volatile sig_atomic_t got_usr1, got_usr2, got_term;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGUSR2)
		got_usr2 = 1;
	else
		got_term = 1;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Expected content of one pattern page. */
static void pattern_page(uint64_t seed, uint64_t salt, size_t pg, uint64_t *out)
{
	uint64_t x = mix(seed ^ mix(salt + 0x9e3779b97f4a7c15ULL * (pg + 1)));
	size_t i;

	for (i = 0; i < PS / 8; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		out[i] = mix(x);
	}
	/* A bit of text so compressors have something to do. */
	if (pg % 3 == 0)
		memcpy(out, "tgt_mem page: the quick brown fox jumps over the lazy dog\n", 56);
}

enum pkind { PG_PATTERN, PG_ZERO, PG_HOLE };

static enum pkind page_kind(const struct region *r, size_t pg)
{
	switch (r->fill) {
	case FILL_PATTERN:
		if (pg % 11 == 5)
			return PG_HOLE;
		if (pg % 7 == 3)
			return PG_ZERO;
		return PG_PATTERN;
	case FILL_DENSE:
	case FILL_FILE:
		return PG_PATTERN;
	case FILL_SPARSE:
		/* One written page per 256 MiB, one zero-written per GiB. */
		if (pg % 65536 == 17)
			return PG_PATTERN;
		if (pg % 262144 == 99)
			return PG_ZERO;
		return PG_HOLE;
	}
	return PG_HOLE;
}

static void fill_region(const struct tgt *t, const struct region *r)
{
	size_t pg, n = r->len / PS;

	for (pg = 0; pg < n; pg++) {
		unsigned char *p = r->addr + pg * PS;

		switch (page_kind(r, pg)) {
		case PG_PATTERN:
			pattern_page(t->seed, r->salt, pg, (uint64_t *)p);
			break;
		case PG_ZERO:
			memset(p, 0, PS);
			*(volatile unsigned char *)p = 0;
			break;
		case PG_HOLE:
			break;
		}
	}
}

static int verify_region(const struct tgt *t, const struct region *r)
{
	static uint64_t exp[PS / 8];
	static const unsigned char zero[PS];
	size_t pg, n = r->len / PS;
	int bad = 0;

	if (r->prot && mprotect(r->addr, r->len, r->prot)) {
		printf("mismatch %s mprotect %d\n", r->name, errno);
		return 1;
	}
	for (pg = 0; pg < n; pg++) {
		const unsigned char *p = r->addr + pg * PS;
		const void *want = zero;

		if (r->fill == FILL_SPARSE && page_kind(r, pg) == PG_HOLE)
			continue;	/* 64 GiB of holes: reading would fault them all in */
		if (page_kind(r, pg) == PG_PATTERN) {
			pattern_page(t->seed, r->salt, pg, exp);
			want = exp;
		}
		if (memcmp(p, want, PS)) {
			if (bad++ < 5)
				printf("mismatch %s %#zx\n", r->name, pg * PS);
		}
	}
	return bad != 0;
}

static struct region *region_add(struct tgt *t, const char *name, size_t len, enum fill fill)
{
	struct region *r = &t->r[t->nr];

	if (t->nr >= MAX_REGIONS) {
		fprintf(stderr, "tgt_mem: too many regions\n");
		exit(3);
	}
	t->nr++;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->len = len;
	r->fill = fill;
	r->salt = mix((uint64_t)t->nr * 1000003);
	return r;
}

static void *xmmap(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "tgt_mem: mmap %zu: %s\n", len, strerror(errno));
		exit(3);
	}
	return p;
}

static void add_anon(struct tgt *t, const char *name, size_t len, int flags, enum fill fill)
{
	struct region *r = region_add(t, name, len, fill);

	r->addr = xmmap(len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1);
	fill_region(t, r);
}

/* A file filled with the pattern, mapped private or shared; some pages rewritten. */
static void add_file(struct tgt *t, const char *name, int shared)
{
	const char *dir = getenv("TGT_MEM_DIR");
	size_t len = 256 * PS, pg;
	struct region *r = region_add(t, name, len, FILL_FILE);
	uint64_t buf[PS / 8];
	int fd;

	snprintf(r->path, sizeof(r->path), "%s/tgt_mem.%d.%s", dir ? dir : "/tmp",
		 (int)getpid(), name);
	fd = open(r->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fprintf(stderr, "tgt_mem: open %s: %s\n", r->path, strerror(errno));
		exit(3);
	}
	/* The file holds the pattern with another salt; the mapping's pages are
	 * then rewritten to this region's pattern except every 4th page, which
	 * keeps file content (for private: not COWed). */
	for (pg = 0; pg < len / PS; pg++) {
		uint64_t fsalt = r->salt;

		if (pg % 4 != 0)
			fsalt ^= 0xf11e;
		pattern_page(t->seed, fsalt, pg, buf);
		if (pwrite(fd, buf, PS, pg * PS) != (ssize_t)PS) {
			fprintf(stderr, "tgt_mem: write %s: %s\n", r->path, strerror(errno));
			exit(3);
		}
	}
	r->addr = xmmap(len, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd);
	close(fd);
	for (pg = 0; pg < len / PS; pg++) {
		volatile unsigned char c;

		if (pg % 4 != 0)
			pattern_page(t->seed, r->salt, pg, (uint64_t *)(r->addr + pg * PS));
		else if (pg % 8 == 0)
			c = r->addr[pg * PS];	/* faulted in, still file-backed */
		(void)c;
	}
}

static void add_memfd(struct tgt *t)
{
	size_t len = 512 * PS;
	struct region *r = region_add(t, "memfd", len, FILL_PATTERN);
	int fd = memfd_create("tgt_mem", 0);

	if (fd < 0 || ftruncate(fd, len)) {
		fprintf(stderr, "tgt_mem: memfd: %s\n", strerror(errno));
		exit(3);
	}
	r->addr = xmmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	close(fd);
	fill_region(t, r);
}

static void add_protnone(struct tgt *t)
{
	add_anon(t, "protnone", 64 * PS, MAP_PRIVATE, FILL_PATTERN);
	t->r[t->nr - 1].prot = PROT_READ | PROT_WRITE;
	mprotect(t->r[t->nr - 1].addr, 64 * PS, PROT_NONE);
}

/* One mapping split into VMAs of different protections. */
static void add_mprotect(struct tgt *t)
{
	struct region *r;

	add_anon(t, "mprotect", 96 * PS, MAP_PRIVATE, FILL_PATTERN);
	r = &t->r[t->nr - 1];
	mprotect(r->addr + 16 * PS, 16 * PS, PROT_READ);
	mprotect(r->addr + 48 * PS, 16 * PS, PROT_READ | PROT_EXEC);
	mprotect(r->addr + 80 * PS, 8 * PS, PROT_NONE);
	r->prot = PROT_READ | PROT_WRITE;
}

static void add_manyvmas(struct tgt *t)
{
	const char *e = getenv("TGT_MEM_VMAS");
	size_t n = e ? strtoul(e, NULL, 0) : 10000, i;
	struct region *r;

	add_anon(t, "manyvmas", 2 * n * PS, MAP_PRIVATE, FILL_DENSE);
	r = &t->r[t->nr - 1];
	for (i = 0; i < n; i++)
		mprotect(r->addr + (2 * i + 1) * PS, PS, PROT_READ);
}

static void add_sparse(struct tgt *t)
{
	size_t len = 64UL << 30, pg;
	struct region *r = region_add(t, "sparse", len, FILL_SPARSE);
	volatile unsigned char c;

	r->addr = xmmap(len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	madvise(r->addr, len, MADV_NOHUGEPAGE);
	fill_region(t, r);
	/* Read-only faults map the zero page: present but nothing to save. */
	for (pg = 1000; pg < len / PS; pg += 131072)
		c = r->addr[pg * PS];
	(void)c;
}

static void add_thp(struct tgt *t)
{
	size_t len = 32UL << 20, huge = 2UL << 20;
	struct region *r = region_add(t, "thp", len, FILL_DENSE);
	unsigned char *p = xmmap(len + huge, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1);

	r->addr = (unsigned char *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	madvise(r->addr, len, MADV_HUGEPAGE);
	fill_region(t, r);
}

static void add_hugetlb(struct tgt *t)
{
	size_t len = 4UL << 20;
	struct region *r = region_add(t, "hugetlb", len, FILL_PATTERN);

	r->addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (r->addr == MAP_FAILED) {
		fprintf(stderr, "tgt_mem: no huge pages: %s\n", strerror(errno));
		exit(77);
	}
	fill_region(t, r);
}

static void *spin(void *arg)
{
	volatile uint64_t *ctr = arg;

	for (;;)
		(*ctr)++;
	return NULL;
}

/* "all" keeps its 8 threads alive but mostly asleep: suites share 2 CPUs. */
static void *nap(void *arg)
{
	volatile uint64_t *ctr = arg;

	for (;;) {
		(*ctr)++;
		usleep(2000);
	}
	return NULL;
}

static void add_threads(struct tgt *t, int busy)
{
	static uint64_t ctr[8 * 8];
	pthread_t th;
	int i;

	add_anon(t, "threads", 128 * PS, MAP_PRIVATE, FILL_PATTERN);
	for (i = 0; i < 8; i++) {
		if (pthread_create(&th, NULL, busy ? spin : nap, &ctr[i * 8])) {
			fprintf(stderr, "tgt_mem: pthread_create failed\n");
			exit(3);
		}
	}
}

static int setup(struct tgt *t, const char *mode)
{
	int all = !strcmp(mode, "all"), any = 0;
	size_t anon = t->size_given ? t->size_mib << 20 : 4UL << 20;

#define MODE(m) ((all || !strcmp(mode, m)) && (any = 1))
	if (MODE("anon")) {
		add_anon(t, "anon", anon, MAP_PRIVATE, FILL_PATTERN);
		add_anon(t, "anon-dense", 1UL << 20, MAP_PRIVATE, FILL_DENSE);
	}
	if (MODE("shared"))
		add_anon(t, "shared", 2UL << 20, MAP_SHARED, FILL_PATTERN);
	if (MODE("fileprivate"))
		add_file(t, "fileprivate", 0);
	if (MODE("fileshared"))
		add_file(t, "fileshared", 1);
	if (MODE("protnone"))
		add_protnone(t);
	if (MODE("mprotect"))
		add_mprotect(t);
	if (MODE("manyvmas"))
		add_manyvmas(t);
	if (MODE("sparse"))
		add_sparse(t);
	if (MODE("thp"))
		add_thp(t);
	if (MODE("memfd"))
		add_memfd(t);
	if (MODE("threads"))
		add_threads(t, !all);
	if (!strcmp(mode, "hugetlb") && (any = 1))
		add_hugetlb(t);
	if (!strcmp(mode, "big") && (any = 1))
		add_anon(t, "big", (t->size_given ? t->size_mib : 64) << 20, MAP_PRIVATE,
			 FILL_DENSE);
#undef MODE
	return any ? 0 : -1;
}

static void cleanup_files(const struct tgt *t)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (t->r[i].path[0])
			unlink(t->r[i].path);
}

/* ---- SIGUSR2: scramble, so that only a restore makes SIGUSR1 pass ---- */

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static struct region *region_by_name(struct tgt *t, const char *name)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (!strcmp(t->r[i].name, name))
			return &t->r[i];
	return NULL;
}

static void scribble(unsigned char *p, size_t len, uint64_t x)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x = mix(x + i);
		memcpy(p + i, &x, 8);
	}
}

/* New contents everywhere: pattern, zero and untouched pages alike. */
static void scramble_contents(struct tgt *t, struct region *r)
{
	size_t pg, n = r->len / PS;

	if (r->prot || !strcmp(r->name, "manyvmas"))
		mprotect(r->addr, r->len, PROT_READ | PROT_WRITE);
	for (pg = 0; pg < n; pg++) {
		if (r->fill == FILL_SPARSE && pg >= 64 && page_kind(r, pg) == PG_HOLE)
			continue;	/* 64 GiB: a few pages are enough */
		if (!strcmp(r->name, "fileshared") && pg % 4 == 0)
			continue;	/* file content, not memory: not in the image */
		if (!strcmp(r->name, "manyvmas") && pg % 3)
			continue;
		scribble(r->addr + pg * PS, PS, t->seed ^ 0x5c4a3b2a1900ULL ^ pg);
	}
}

static void *scramble_map(size_t len, int prot, int flags, void *at)
{
	void *p = mmap(at, len, prot, flags | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	if (p != MAP_FAILED && (prot & PROT_WRITE))
		memset(p, 0x77, len);
	return p;
}

static void scramble(struct tgt *t)
{
	struct region *r;
	void *brk0;
	int i, fd;

	for (i = 0; i < t->nr; i++)
		if (strcmp(t->r[i].name, "hugetlb"))
			scramble_contents(t, &t->r[i]);
	r = region_by_name(t, "anon");
	if (r) {
		/* The last quarter: a new mapping with another prot. */
		munmap(r->addr + r->len * 3 / 4, r->len / 4);
		scramble_map(r->len / 4, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE,
			     r->addr + r->len * 3 / 4);
		mprotect(r->addr + 32 * PS, 8 * PS, PROT_READ);
		madvise(r->addr, 16 * PS, MADV_DONTFORK);
		madvise(r->addr + 64 * PS, 16 * PS, MADV_DONTDUMP);
		madvise(r->addr + 100 * PS, PS, MADV_GUARD_INSTALL);
		madvise(r->addr + 128 * PS, 16 * PS, MADV_WIPEONFORK);
		madvise(r->addr + 160 * PS, 16 * PS, MADV_MERGEABLE);
		madvise(r->addr + 200 * PS, 16 * PS, MADV_SEQUENTIAL);
		madvise(r->addr + 240 * PS, 16 * PS, MADV_RANDOM);
	}
	r = region_by_name(t, "anon-dense");
	if (r)
		munmap(r->addr, r->len);
	r = region_by_name(t, "shared");
	if (r)	/* another shared object at the same address */
		scramble_map(r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->addr);
	r = region_by_name(t, "fileprivate");
	if (r) {	/* restore reopens the file for the second half */
		mprotect(r->addr, 8 * PS, PROT_READ);
		munmap(r->addr + r->len / 2, r->len / 2);
	}
	r = region_by_name(t, "fileshared");
	if (r)
		munmap(r->addr + r->len - 16 * PS, 16 * PS);
	r = region_by_name(t, "memfd");
	if (r)	/* the object is gone: restore makes a new memfd */
		munmap(r->addr, r->len);
	r = region_by_name(t, "thp");
	if (r) {	/* no huge page left: 4 KiB pages with other contents */
		madvise(r->addr, r->len, MADV_NOHUGEPAGE);
		madvise(r->addr, r->len, MADV_DONTNEED);
		scribble(r->addr, r->len, t->seed ^ 0x7a7a);
	}
	for (i = 0; i < 3; i++)
		scramble_map((i + 1) * 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fd = open("/proc/self/exe", O_RDONLY);
	if (fd >= 0) {
		mmap(NULL, PS, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
	}
	brk0 = sbrk(0);
	if (sbrk(64 * PS) != (void *)-1)
		memset(brk0, 0x33, 64 * PS);
}

int main(int argc, char **argv)
{
	static struct tgt t;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t mask, old;
	int i, bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: tgt_mem MODE SEED [SIZE_MIB]\n");
		return 3;
	}
	t.seed = strtoull(argv[2], NULL, 0);
	if (argc > 3) {
		t.size_mib = strtoul(argv[3], NULL, 0);
		t.size_given = 1;
	}
	/* Fds inherited from the runner (make's jobserver pipes...) are not ours. */
	syscall(SYS_close_range, 3, ~0U, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	if (setup(&t, argv[1])) {
		fprintf(stderr, "tgt_mem: unknown mode '%s'\n", argv[1]);
		return 3;
	}
	printf("pid %d\n", (int)getpid());
	for (i = 0; i < t.nr; i++)
		printf("region %s %p %zu\n", t.r[i].name, (void *)t.r[i].addr, t.r[i].len);
	printf("ready\n");
	while (!got_usr1 && !got_term) {
		sigsuspend(&old);
		if (got_usr2 && !got_usr1 && !got_term) {
			got_usr2 = 0;
			scramble(&t);
			printf("scrambled\n");
		}
	}
	if (got_term) {
		cleanup_files(&t);
		return 2;
	}
	for (i = 0; i < t.nr; i++)
		bad |= verify_region(&t, &t.r[i]);
	printf("%s\n", bad ? "bad" : "ok");
	cleanup_files(&t);
	return bad;
}
