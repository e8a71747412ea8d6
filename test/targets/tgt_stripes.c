// SPDX-License-Identifier: MIT
/*
 * tgt_stripes: the worst layout for a pagemap writer. One private anonymous
 * VMA of SIZE_MIB where even pages hold non-zero data and odd pages are
 * written with zeros, so a dump has one run per page (PRESENT, ZERO, ...).
 * usage: tgt_stripes SIZE_MIB. Prints "pid PID", "region stripes START LEN",
 * "ready", then sleeps. SIGUSR1: checks every page, prints "ok" or
 * "mismatch OFFSET" and exits 0 / 1. SIGTERM/SIGINT: exits 2.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PS 4096UL

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* Byte i of page pg: never zero for even pages. */
static uint8_t pat(size_t pg, size_t i)
{
	return (uint8_t)((pg * 31 + i * 7) % 251 + 1);
}

static void fill(uint8_t *p, size_t pages)
{
	size_t pg, i;

	for (pg = 0; pg < pages; pg++) {
		uint8_t *q = p + pg * PS;

		if (pg & 1) {
			memset(q, 0, PS);	/* written: present, all zero */
			continue;
		}
		for (i = 0; i < PS; i++)
			q[i] = pat(pg, i);
	}
}

static long check(const uint8_t *p, size_t pages)
{
	size_t pg, i;

	for (pg = 0; pg < pages; pg++)
		for (i = 0; i < PS; i++)
			if (p[pg * PS + i] != ((pg & 1) ? 0 : pat(pg, i)))
				return (long)(pg * PS + i);
	return -1;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64, pages = (mib << 20) / PS;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t set, old;
	uint8_t *p;
	long bad;

	if (!pages) {
		fprintf(stderr, "usage: tgt_stripes SIZE_MIB\n");
		return 1;
	}
	p = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* Keep THP from merging the stripes into huge pages (zero pages stay separate). */
	madvise(p, pages * PS, MADV_NOHUGEPAGE);
	fill(p, pages);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\nregion stripes %p %zu\nready\n", getpid(), (void *)p, pages * PS);
	while (!got_usr1)
		sigsuspend(&old);
	bad = check(p, pages);
	if (bad >= 0) {
		printf("mismatch stripes %ld\n", bad);
		return 1;
	}
	printf("ok\n");
	return 0;
}
