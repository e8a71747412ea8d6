// SPDX-License-Identifier: MIT
/*
 * test_xfer.c: the run cursor, the readv backend on our own process (a
 * PROT_NONE page in the middle forces the /proc/PID/mem fallback), and the
 * lexical parent path of incremental dumps.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dump_parent.h"
#include "unit.h"
#include "xfer.h"

UNIT_TEST(xfer_cursor_crosses_runs)
{
	struct xfer_run r[] = { { 0x1000, 2, 0 }, { 0x8000, 3, 0 }, { 0x20000, 1, 0 } };
	static char buf[6 * 4096];
	struct xfer_cursor c = { .runs = r, .nr = 3, .dst = buf };

	xfer_cursor_advance(&c, 1, 4096);
	CHECK_EQ(c.i, 0);
	CHECK_EQ(c.off, 1);
	xfer_cursor_advance(&c, 2, 4096);
	CHECK_EQ(c.i, 1);
	CHECK_EQ(c.off, 1);
	xfer_cursor_advance(&c, 3, 4096);
	CHECK_EQ(c.i, 3);
	CHECK_EQ(c.off, 0);
	CHECK(c.dst == buf + 6 * 4096);
	return 0;
}

/* Copies 2 runs of our own memory, one crossing a PROT_NONE page. */
static int copy_self(const char *backend)
{
	size_t ps = 4096, i;
	char *m = mmap(NULL, 8 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *data = malloc(8 * ps);
	struct pstore_src src[8];
	struct pstore_buf b = { .data = data, .cap_pages = 8, .runs = src, .cap_runs = 8 };
	struct xfer_run r[] = {
		{ (uintptr_t)m, 4, 0 },			/* page 2 is PROT_NONE */
		{ (uintptr_t)m + 5 * ps, 3, 0 },
	};
	struct xfer_target t = { .pid = getpid(), .tid = getpid(), .pidfd = -1, .page_size = ps };
	struct xfer x;
	int ret;

	CHECK(m != MAP_FAILED && data);
	for (i = 0; i < 8 * ps; i++)
		m[i] = (char)(i * 7 + i / ps);
	CHECK_EQ(mprotect(m + 2 * ps, ps, PROT_NONE), 0);
	CHECK_EQ(xfer_open(&x, xfer_find(backend), &t), 0);
	ret = xfer_copy(&x, &b, r, 2);
	xfer_close(&x);
	CHECK_EQ(ret, 0);
	CHECK_EQ(b.nr_pages, 7);
	CHECK_EQ(b.nr_runs, 2);
	CHECK_EQ(x.st.pages_mem, 1);
	mprotect(m + 2 * ps, ps, PROT_READ);
	CHECK(!memcmp(data, m, 4 * ps));
	CHECK(!memcmp(data + 4 * ps, m + 5 * ps, 3 * ps));
	munmap(m, 8 * ps);
	free(data);
	return 0;
}

UNIT_TEST(xfer_readv_falls_back_for_prot_none)
{
	return copy_self("readv");
}

UNIT_TEST(xfer_mem_flag_uses_proc_mem)
{
	size_t ps = 4096;
	char *m = mmap(NULL, 2 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char data[2 * 4096];
	struct pstore_src src[2];
	struct pstore_buf b = { .data = data, .cap_pages = 2, .runs = src, .cap_runs = 2 };
	struct xfer_run r = { (uintptr_t)m, 2, XFER_RUN_MEM };
	struct xfer_target t = { .pid = getpid(), .tid = getpid(), .pidfd = -1, .page_size = ps };
	struct xfer x;
	int ret;

	memset(data, 0xaa, sizeof(data));
	CHECK_EQ(xfer_open(&x, xfer_find("readv"), &t), 0);
	ret = xfer_copy(&x, &b, &r, 1);
	xfer_close(&x);
	CHECK_EQ(ret, 0);
	CHECK_EQ(x.st.pages_mem, 2);
	CHECK_EQ(data[0], 0);
	CHECK_EQ(data[2 * ps - 1], 0);
	munmap(m, 2 * ps);
	return 0;
}

UNIT_TEST(xfer_unknown_backend)
{
	CHECK(xfer_find("splice") == NULL);
	CHECK(xfer_find(xfer_default_name()) != NULL);
	return 0;
}

static int path_is(const char *dir, const char *prev, const char *want)
{
	char *p = NULL;
	int ok;

	if (dump_parent_path(dir, prev, &p))
		return 0;
	ok = !strcmp(p, want);
	if (!ok)
		fprintf(stderr, "  '%s' + '%s' -> '%s', want '%s'\n", dir, prev, p, want);
	free(p);
	return ok;
}

UNIT_TEST(dump_parent_path_folds_dots)
{
	CHECK(path_is("/img/d2", "../d1", "/img/d1"));
	CHECK(path_is("/img/d2", "/abs/d1", "/abs/d1"));
	CHECK(path_is("/img/d2", "./p/../q", "/img/d2/q"));
	CHECK(path_is("d2", "../d1", "d1"));
	CHECK(path_is("d2", "../../d1", "../d1"));
	CHECK(path_is("/d2", "../../d1", "/d1"));
	return 0;
}
