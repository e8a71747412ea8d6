// SPDX-License-Identifier: MIT
/*
 * tgt_debug.c: a -g target for the inspection tests (x, grep, diff, core).
 * It fills a data region from a seed (with written-zero and never-touched
 * stretches), places a marker string at known addresses (one straddling a
 * page boundary) and blocks in main -> worker_loop -> do_work -> wait_here
 * (pause). Each SIGUSR1 changes known bytes, maps a new VMA, bumps
 * global_counter and blocks again.
 *
 * usage: tgt_debug [EXPECT_FILE]
 * Prints "marker ADDR" per marker, "region ADDR LEN", "zero ADDR LEN",
 * "untouched ADDR LEN", "dontdump ADDR" (a MADV_DONTDUMP page holding
 * "dontdump-secret"), then "ready counter=N". EXPECT_FILE receives the
 * region bytes. After SIGUSR1: "change ADDR LEN" per changed range, then
 * "newvma ADDR LEN", then "changed counter=N".
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define REGION_PAGES	(3 * 512 + 17)	/* > 6 MiB: crosses several 2 MiB frames */
#define ZERO_FIRST	100		/* pages written with zeros */
#define ZERO_PAGES	50
#define HOLE_FIRST	300		/* pages never touched */
#define HOLE_PAGES	40
#define KEY		0x5a

volatile unsigned long global_counter;
static volatile sig_atomic_t got_usr1;
static char bss_area[8192];

/* "CMEM-MARKER-7f3a9c" xor KEY: the marker itself never appears in the binary. */
static const unsigned char marker_enc[] = {
	0x19, 0x17, 0x1f, 0x17, 0x77, 0x17, 0x1b, 0x08, 0x11, 0x1f, 0x08, 0x77,
	0x6d, 0x3c, 0x69, 0x3b, 0x63, 0x39,
};

static void place_marker(unsigned char *dst)
{
	size_t i;

	for (i = 0; i < sizeof(marker_enc); i++)
		dst[i] = marker_enc[i] ^ KEY;
	printf("marker %p\n", (void *)dst);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void *helper_thread(void *arg)
{
	struct timespec ts = { 1000, 0 };

	(void)arg;
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

__attribute__((noinline)) static void wait_here(void)
{
	while (!got_usr1)
		pause();
	got_usr1 = 0;
	__asm__ volatile("" ::: "memory");
}

/* Changes known bytes of the region and maps a new read-only VMA. */
static void change_memory(unsigned char *region, long ps)
{
	unsigned char *n;
	int i;

	region[10 * ps + 7] ^= 0xff;
	for (i = 0; i < 100; i++)
		region[11 * ps + 200 + i] ^= 0x55;
	for (i = 0; i < 16; i++)
		region[500 * ps + 16 + i] ^= 0xee;
	printf("change %p %d\n", (void *)(region + 10 * ps + 7), 1);
	printf("change %p %d\n", (void *)(region + 11 * ps + 200), 100);
	printf("change %p %d\n", (void *)(region + 500 * ps + 16), 16);
	n = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED)
		abort();
	memset(n, 0x42, 4 * ps);
	mprotect(n, 4 * ps, PROT_READ);	/* different prot: never merged with a neighbour */
	printf("newvma %p %ld\n", (void *)n, 4 * ps);
}

__attribute__((noinline)) static int do_work(unsigned char *region, long ps, int round)
{
	if (round > 0)
		change_memory(region, ps);
	global_counter++;
	printf("%s counter=%lu\n", round ? "changed" : "ready", global_counter);
	fflush(stdout);
	wait_here();
	return round + 1;
}

__attribute__((noinline)) static int worker_loop(unsigned char *region, long ps)
{
	int round = 0;

	for (;;) {
		round = do_work(region, ps, round);
		if (round < 0)
			break;
	}
	return round;
}

static unsigned char *make_region(long ps, const char *expect)
{
	size_t len = (size_t)REGION_PAGES * ps, i;
	unsigned char *r;
	uint64_t s = 0x9e3779b97f4a7c15ull;
	FILE *f;

	r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		abort();
	for (i = 0; i < len / 8; i++) {
		size_t pg = i * 8 / ps;

		if (pg >= HOLE_FIRST && pg < HOLE_FIRST + HOLE_PAGES)
			continue;
		((uint64_t *)r)[i] = pg >= ZERO_FIRST && pg < ZERO_FIRST + ZERO_PAGES ? 0 : rng(&s);
	}
	place_marker(r + ps - 5);			/* straddles a page boundary */
	place_marker(r + 512 * ps + 3000);		/* 2 MiB in */
	printf("region %p %zu\n", (void *)r, len);
	printf("zero %p %ld\n", (void *)(r + ZERO_FIRST * ps), ZERO_PAGES * ps);
	printf("untouched %p %ld\n", (void *)(r + HOLE_FIRST * ps), HOLE_PAGES * ps);
	if (expect) {
		f = fopen(expect, "w");
		/* Reading the hole would fault zero pages in: write around it. */
		if (!f || fwrite(r, 1, HOLE_FIRST * ps, f) != (size_t)HOLE_FIRST * ps ||
		    fseek(f, (long)(HOLE_FIRST + HOLE_PAGES) * ps, SEEK_SET) ||
		    fwrite(r + (HOLE_FIRST + HOLE_PAGES) * ps, 1,
			   len - (HOLE_FIRST + HOLE_PAGES) * ps, f) !=
			    len - (size_t)(HOLE_FIRST + HOLE_PAGES) * ps || fclose(f))
			abort();
	}
	return r;
}

int main(int argc, char **argv)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *region, *heap, *dd;
	pthread_t th;

	signal(SIGUSR1, on_usr1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	region = make_region(ps, argc > 1 ? argv[1] : NULL);
	heap = malloc(65536);
	if (!heap)
		abort();
	memset(heap, 0x11, 65536);
	place_marker(heap + 1000);
	dd = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dd == MAP_FAILED || madvise(dd, ps, MADV_DONTDUMP))
		abort();
	strcpy((char *)dd, "dontdump-secret");
	printf("dontdump %p\n", (void *)dd);
	place_marker((unsigned char *)bss_area + 100);
	if (pthread_create(&th, NULL, helper_thread, NULL))
		abort();
	global_counter = 41;
	return worker_loop(region, ps) < 0;
}
