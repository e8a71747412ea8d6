// SPDX-License-Identifier: MIT
/*
 * cmd_x.c: `criu-mem x DIR ADDR [LEN]`: the memory of a dumped process at
 * an address, as a hexdump or raw bytes. Only the frames covering the range
 * are decompressed; pages missing from the image are reported, never
 * invented.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "x: "
#include "addr.h"
#include "imgopen.h"
#include "cli.h"
#include "hexdump.h"
#include "log.h"
#include "util.h"

#define X_DEFAULT_LEN	256
#define X_MAX_LEN	(1ull << 32)
#define X_CHUNK		(1u << 20)

struct x_ctx {
	struct img_mem *m;
	int raw;
	FILE *out;
	/* pending run of fully absent lines */
	uint64_t gap_start, gap_len;
	int gap_mapped;
};

static void x_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem x [--raw] [-p PID] DIR ADDR [LEN]\n\n"
		   "Prints LEN bytes (default %d) of the dumped memory at ADDR as a hexdump,\n"
		   "or raw with --raw. ADDR is a number, SYMBOL[+OFF] or VMA_NAME+OFF\n"
		   "(e.g. [heap]+0x40, libc.so.6+0x1000). Pages not in the image show as\n"
		   "'--' and are never read as zeros; --raw fails on them.\n\n"
		   "  -p, --pid PID   process of the image (default: the root process)\n"
		   "  -r, --raw       write the bytes to stdout\n",
		X_DEFAULT_LEN);
}

static void x_gap_flush(struct x_ctx *c)
{
	if (!c->gap_len)
		return;
	fprintf(c->out, "%0*lx: <%#lx bytes %s>\n", c->gap_start >> 48 ? 16 : 12,
		(unsigned long)c->gap_start, (unsigned long)c->gap_len,
		c->gap_mapped ? "absent from the image" : "not mapped");
	c->gap_len = 0;
}

/* Prints the hexdump of [addr, addr+len) from buf; bit i of absent = page i absent. */
static void x_print_chunk(struct x_ctx *c, uint64_t addr, const uint8_t *buf, size_t len,
			  const uint8_t *absent)
{
	uint64_t base = ALIGN_DOWN(addr, (uint64_t)c->m->page_size);
	uint8_t miss[HEXDUMP_WIDTH];
	char line[HEXDUMP_LINE_MAX];
	size_t off, i, n, nmiss;

	for (off = 0; off < len; off += n) {
		n = MIN((size_t)HEXDUMP_WIDTH, len - off);
		for (i = nmiss = 0; i < n; i++) {
			uint64_t pg = (addr + off + i - base) / c->m->page_size;

			miss[i] = (absent[pg / 8] >> (pg % 8)) & 1;
			nmiss += miss[i];
		}
		if (nmiss == n) {
			int mapped = img_mem_find_vma(c->m, addr + off) != NULL;

			if (c->gap_len && (mapped != c->gap_mapped ||
					   c->gap_start + c->gap_len != addr + off))
				x_gap_flush(c);
			if (!c->gap_len) {
				c->gap_start = addr + off;
				c->gap_mapped = mapped;
			}
			c->gap_len += n;
			continue;
		}
		x_gap_flush(c);
		hexdump_line(line, addr + off, buf + off, n, nmiss ? miss : NULL);
		fprintf(c->out, "%s\n", line);
	}
}

static int x_run(struct x_ctx *c, uint64_t addr, uint64_t len)
{
	size_t ps = c->m->page_size, bmlen = (X_CHUNK / ps + 2 + 7) / 8;
	uint8_t *buf = malloc(X_CHUNK), *absent = malloc(bmlen);
	uint64_t cur, end = addr + len;
	int ret = 0;
	long nabs;

	if (!buf || !absent) {
		ret = cm_err(-ENOMEM, "cannot allocate the read buffer");
		goto out;
	}
	for (cur = addr; cur < end; cur += X_CHUNK) {
		size_t n = MIN((uint64_t)X_CHUNK, end - cur);

		memset(buf, 0, n);
		memset(absent, 0, bmlen);
		nabs = img_mem_read(c->m, cur, buf, n, absent);
		if (nabs < 0) {
			ret = cm_err((int)nabs, "cannot read %#lx-%#lx of pid %u (%s)",
				     (unsigned long)cur, (unsigned long)(cur + n), c->m->pid,
				     img_strerror());
			goto out;
		}
		if (c->raw && nabs) {
			ret = cm_err(-ENODATA, "%ld pages in %#lx-%#lx are not in the image",
				     nabs, (unsigned long)cur, (unsigned long)(cur + n));
			goto out;
		}
		if (c->raw)
			ret = write_full(STDOUT_FILENO, buf, n);
		else
			x_print_chunk(c, cur, buf, n, absent);
		if (ret) {
			cm_err(ret, "cannot write the output");
			goto out;
		}
	}
	if (!c->raw)
		x_gap_flush(c);
out:
	free(buf);
	free(absent);
	return ret;
}

/* For --raw: fails before writing anything when a page of the range is absent. */
static int x_check_present(const struct img_mem *m, uint64_t addr, uint64_t len)
{
	uint64_t pg = ALIGN_DOWN(addr, (uint64_t)m->page_size);
	const struct img_run *r;

	while (pg < addr + len) {
		r = img_mem_find_run(m, pg);
		if (!r)
			return cm_err(-ENODATA, "page %#lx of pid %u is %s", (unsigned long)pg,
				      m->pid, img_mem_find_vma(m, pg) ? "absent from the image" :
				      "not mapped");
		pg = r->vaddr + r->nr_pages * m->page_size;
	}
	return 0;
}

int cmd_x(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct x_ctx c = { .out = stdout };
	struct imgopen ai = { 0 };
	uint64_t addr, len = X_DEFAULT_LEN;
	unsigned int pid = 0;
	int o, ret;

	while ((o = getopt_long(argc, argv, "rp:h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			c.raw = 1;
			break;
		case 'p':
			if (imgopen_pid_arg(optarg, &pid))
				return CM_EXIT_USAGE;
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(o, x_usage);
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		x_usage(stderr);
		return CM_EXIT_USAGE;
	}
	if (argc - optind == 3 && (addr_parse_u64(argv[optind + 2], &len) || !len ||
				   len > X_MAX_LEN)) {
		pr_err("bad length '%s' (1 to %llu bytes)", argv[optind + 2], X_MAX_LEN);
		return CM_EXIT_USAGE;
	}
	ret = imgopen_proc(&ai, argv[optind], pid);
	if (ret)
		return cm_exit_code(ret);
	c.m = ai.mem;
	ret = addr_resolve(c.m, argv[optind + 1], &addr);
	if (ret)
		goto out;
	if (addr + len < addr) {
		ret = cm_err(-EOVERFLOW, "range %#lx+%#lx wraps", (unsigned long)addr,
			     (unsigned long)len);
		goto out;
	}
	if (c.raw) {
		ret = x_check_present(c.m, addr, len);
		if (ret)
			goto out;
	}
	ret = x_run(&c, addr, len);
out:
	fflush(stdout);
	imgopen_close(&ai);
	return ret == -ENODATA ? CM_EXIT_FAIL : cm_exit_code(ret);
}
