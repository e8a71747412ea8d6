// SPDX-License-Identifier: MIT
/*
 * cm-imgcheck: compares a dump with the memory of the still-running (and
 * unchanged) target. Every PE_PRESENT and PE_PARENT (read through the
 * parent image) page must equal /proc/PID/mem, every
 * PE_ZERO page must read as zero there. With -c START:LEN ranges, every
 * present, non-zero target page inside them must be in the image.
 *
 * usage: cm-imgcheck [-c] DIR PID [START:LEN ...]   (ranges limit the check)
 * A page that differs only inside one aligned 32-byte window is tolerated
 * (struct rseq, rewritten by the kernel on every reschedule).
 * Prints "imgcheck: N pages compared, M mismatches, Z zero, P parent, A missing,
 * R rseq-only";
 * exits 0 when nothing differs and N > 0, 1 otherwise, 2 on usage/IO errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"
#include "util.h"

#define CHUNK 256

struct range {
	uint64_t start, end;
};

struct check {
	struct img_mem *m;
	int mem_fd, pm_fd;
	size_t ps;
	struct range *r;
	size_t nr;
	uint64_t compared, bad, zero, missing, tolerated, parent;
	char *a, *b;
};

static int in_ranges(const struct check *c, uint64_t addr)
{
	size_t i;

	if (!c->nr)
		return 1;
	for (i = 0; i < c->nr; i++)
		if (addr >= c->r[i].start && addr < c->r[i].end)
			return 1;
	return 0;
}

static void report(struct check *c, uint64_t addr, const char *what)
{
	if (c->bad++ < 10)
		printf("imgcheck: %s at %#llx\n", what, (unsigned long long)addr);
}

/*
 * The kernel rewrites the 32-byte struct rseq (cpu_id...) in the target's
 * TLS whenever a thread is scheduled, also after the dump: tolerate a page
 * whose differences all lie in one aligned 32-byte window.
 */
static int rseq_only(struct check *c)
{
	size_t i, first = c->ps, last = 0;

	for (i = 0; i < c->ps; i++) {
		if (c->a[i] != c->b[i]) {
			if (first == c->ps)
				first = i;
			last = i;
		}
	}
	if (first / 32 != last / 32)
		return 0;
	c->tolerated++;
	return 1;
}

static int check_page(struct check *c, const struct img_run *run, uint64_t addr)
{
	if (pread(c->mem_fd, c->b, c->ps, addr) != (ssize_t)c->ps) {
		report(c, addr, "target page unreadable");
		return 0;
	}
	c->compared++;
	if (run->flags & PE_ZERO) {
		c->zero++;
		if (!mem_is_zero(c->b, c->ps))
			report(c, addr, "zero run but target page is not zero");
		return 0;
	}
	if (run->flags & PE_PARENT)
		c->parent++;
	if (img_mem_read(c->m, addr, c->a, c->ps, NULL) != 0) {
		report(c, addr, "image page unreadable");
		return 0;
	}
	if (memcmp(c->a, c->b, c->ps) && !rseq_only(c))
		report(c, addr, "page differs");
	return 0;
}

static int check_runs(struct check *c)
{
	size_t i;
	uint64_t k;

	for (i = 0; i < c->m->nr_runs; i++) {
		const struct img_run *run = &c->m->runs[i];

		if (!(run->flags & (PE_PRESENT | PE_ZERO | PE_PARENT)))
			continue;
		for (k = 0; k < run->nr_pages; k++) {
			uint64_t addr = run->vaddr + k * c->ps;

			if (in_ranges(c, addr))
				check_page(c, run, addr);
		}
	}
	return 0;
}

/* Present, non-zero target pages in the ranges must be in the image. */
static void check_complete(struct check *c)
{
	size_t i;
	uint64_t addr;

	for (i = 0; i < c->nr; i++) {
		for (addr = c->r[i].start; addr < c->r[i].end; addr += c->ps) {
			uint64_t pme;

			if (pread(c->pm_fd, &pme, 8, addr / c->ps * 8) != 8 || !(pme >> 63))
				continue;
			if (pread(c->mem_fd, c->b, c->ps, addr) != (ssize_t)c->ps ||
			    mem_is_zero(c->b, c->ps))
				continue;
			if (!img_mem_find_run(c->m, addr)) {
				c->missing++;
				report(c, addr, "present target page missing from the image");
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct check c = { .mem_fd = -1, .pm_fd = -1, .ps = page_size() };
	struct img_dir *d = NULL;
	int complete = 0, i = 1, ret;
	char path[64];
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "-c")) {
		complete = 1;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: cm-imgcheck [-c] DIR PID [START:LEN ...]\n");
		return 2;
	}
	pid = atoi(argv[i + 1]);
	c.r = calloc(argc, sizeof(*c.r));
	for (int k = i + 2; k < argc; k++) {
		char *e;

		c.r[c.nr].start = strtoull(argv[k], &e, 0);
		c.r[c.nr].end = c.r[c.nr].start + strtoull(e + 1, NULL, 0);
		c.nr++;
	}
	c.a = malloc(c.ps);
	c.b = malloc(c.ps);
	ret = img_dir_open(argv[i], &d);
	if (!ret)
		ret = img_mem_load(d, pid, &c.m);
	if (ret) {
		fprintf(stderr, "imgcheck: cannot load '%s': %s: %s\n", argv[i], img_strerror(),
			strerror(-ret));
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	c.mem_fd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	c.pm_fd = open(path, O_RDONLY);
	if (c.mem_fd < 0 || c.pm_fd < 0) {
		fprintf(stderr, "imgcheck: cannot open /proc/%d: %s\n", (int)pid, strerror(errno));
		return 2;
	}
	check_runs(&c);
	if (complete)
		check_complete(&c);
	printf("imgcheck: %llu pages compared, %llu mismatches, %llu zero, %llu parent, "
	       "%llu missing, %llu rseq-only\n", (unsigned long long)c.compared,
	       (unsigned long long)c.bad, (unsigned long long)c.zero,
	       (unsigned long long)c.parent, (unsigned long long)c.missing,
	       (unsigned long long)c.tolerated);
	img_mem_free(c.m);
	img_dir_free(d);
	close(c.mem_fd);
	close(c.pm_fd);
	free(c.r);
	free(c.a);
	free(c.b);
	return c.bad || !c.compared;
}
