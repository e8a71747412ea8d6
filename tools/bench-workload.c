// SPDX-License-Identifier: MIT
/*
 * bench-workload: the benchmark target. One private anonymous VMA of N MiB:
 * the first quarter never touched, the second written with zeros, the third
 * random bytes, the last text-like log lines. Prints "ready ADDR LEN" and
 * sleeps until SIGTERM/SIGINT.
 * usage: bench-workload SIZE_MIB
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void fill_text(char *p, size_t len, uint64_t *s)
{
	static const char *const lvl[] = { "INFO", "WARN", "DEBUG", "ERROR" };
	static const char *const msg[] = {
		"request served", "cache miss for key", "connection closed by peer",
		"retrying upstream call", "user logged in", "slow query detected",
	};
	size_t off = 0;

	while (off < len) {
		char line[160];
		uint64_t r = rng(s);
		int n = snprintf(line, sizeof(line),
				 "2026-11-25T12:%02u:%02u.%06u host-%02u svc[%u]: %s %s id=%08x "
				 "dur=%ums\n", (unsigned)(r % 60), (unsigned)(r >> 8) % 60,
				 (unsigned)(r >> 16) % 1000000, (unsigned)(r >> 36) % 16,
				 (unsigned)(r >> 40) % 30000, lvl[(r >> 20) % 4], msg[(r >> 24) % 6],
				 (unsigned)(r >> 32), (unsigned)(r >> 50) % 2000);

		if (n > (int)(len - off))
			n = len - off;
		memcpy(p + off, line, n);
		off += n;
	}
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoull(argv[1], NULL, 0) : 1024) << 20, q = len / 4, i;
	uint64_t s = 0x1234567887654321ULL;
	sigset_t set;
	char *p;
	int sig;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p + q, 0, q);
	for (i = 0; i < q; i += 8)
		*(uint64_t *)(p + 2 * q + i) = rng(&s);
	fill_text(p + 3 * q, q, &s);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %p %zu\n", (void *)p, len);
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}
