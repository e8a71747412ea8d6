// SPDX-License-Identifier: MIT
/*
 * bench-rawlimit: the floor a dumper is measured against. Finds the pages a
 * dump would save in [ADDR, ADDR+LEN) of PID (PAGEMAP_SCAN: present, not
 * the zero page), reads them with process_vm_readv into reused 2 MiB
 * buffers and compresses each buffer as an independent zstd frame at LEVEL
 * on THREADS threads, writing nothing. With RAWFILE, the raw page bytes are
 * written there instead (for `zstd -1 -T0` size comparisons).
 * usage: bench-rawlimit PID ADDR LEN LEVEL THREADS [RAWFILE]
 * Prints "rawlimit: bytes_raw N bytes_zstd N wall_ms X".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include "pagescan.h"
#include "util.h"

#define CHUNK (2u << 20)

struct chunk {
	uint64_t addr, len;
};

struct rl {
	pid_t pid;
	int level;
	struct chunk *c;
	size_t nr, cap;
	atomic_size_t next;
	atomic_uint_fast64_t raw, zst;
	int out_fd;
};

static int add_run(void *arg, const struct pscan_run *r)
{
	struct rl *rl = arg;
	uint64_t a = r->vaddr, left = r->nr_pages * 4096;

	if (!(r->flags & (PSCAN_PRESENT | PSCAN_SWAPPED)) || (r->flags & PSCAN_PFNZERO))
		return 0;
	while (left) {
		uint64_t n = MIN(left, CHUNK);

		if (rl->nr == rl->cap) {
			rl->cap = rl->cap ? rl->cap * 2 : 1024;
			rl->c = realloc(rl->c, rl->cap * sizeof(*rl->c));
			if (!rl->c)
				return -ENOMEM;
		}
		rl->c[rl->nr++] = (struct chunk){ a, n };
		a += n;
		left -= n;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct rl *rl = arg;
	size_t cap = ZSTD_compressBound(CHUNK), i;
	char *buf = malloc(CHUNK), *out = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	while ((i = atomic_fetch_add(&rl->next, 1)) < rl->nr) {
		struct iovec l = { buf, rl->c[i].len };
		struct iovec r = { (void *)(uintptr_t)rl->c[i].addr, rl->c[i].len };
		ssize_t n = process_vm_readv(rl->pid, &l, 1, &r, 1, 0);

		if (n != (ssize_t)rl->c[i].len) {
			fprintf(stderr, "rawlimit: process_vm_readv at %#lx: %s\n",
				(unsigned long)rl->c[i].addr, strerror(errno));
			exit(1);
		}
		atomic_fetch_add(&rl->raw, n);
		if (rl->out_fd >= 0) {
			if (pwrite_full(rl->out_fd, buf, n, (off_t)i * CHUNK))
				exit(1);
			continue;
		}
		atomic_fetch_add(&rl->zst, ZSTD_compressCCtx(cc, out, cap, buf, n, rl->level));
	}
	ZSTD_freeCCtx(cc);
	free(buf);
	free(out);
	return NULL;
}

int main(int argc, char **argv)
{
	struct rl rl = { .out_fd = -1 };
	struct pscan s;
	pthread_t th[64];
	uint64_t addr, len, t0;
	int threads, i, ret;

	if (argc < 6) {
		fprintf(stderr, "usage: bench-rawlimit PID ADDR LEN LEVEL THREADS [RAWFILE]\n");
		return 2;
	}
	rl.pid = atoi(argv[1]);
	addr = strtoull(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	rl.level = atoi(argv[4]);
	threads = MAX(1, MIN(64, atoi(argv[5])));
	if (argc > 6)
		rl.out_fd = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	t0 = now_ns();
	ret = pscan_open(&s, rl.pid, PSCAN_AUTO);
	if (!ret)
		ret = pscan_range(&s, addr, addr + len, add_run, &rl);
	if (ret) {
		fprintf(stderr, "rawlimit: scan of pid %d: %s\n", rl.pid, strerror(-ret));
		return 1;
	}
	pscan_close(&s);
	for (i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, &rl);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("rawlimit: bytes_raw %llu bytes_zstd %llu wall_ms %.1f\n",
	       (unsigned long long)rl.raw, (unsigned long long)rl.zst, (now_ns() - t0) / 1e6);
	return 0;
}
