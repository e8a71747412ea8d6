/* SPDX-License-Identifier: MIT */
/*
 * Page-letter layouts for tests and fuzz targets that write page stores.
 * A VMA's pages are described by a string, one letter a page: '-' absent,
 * 'H' a zero hole (PE_ZERO, nothing stored), 'A' a hole in the parent
 * (PE_PARENT), any other letter a stored page whose bytes fill() writes.
 * Header-only so that unit tests and fuzz targets (built on their own)
 * share it.
 */
#ifndef CM_TEST_PCODE_H
#define CM_TEST_PCODE_H

#include <stddef.h>
#include <stdint.h>

#include "img.h"

typedef void (*pcode_fill_fn)(void *arg, uint64_t va, char c, void *out);

/*
 * Feeds the pages of one VMA starting at @start to @w. *bp is the buffer
 * being filled (NULL when none) and carries over to the next call; the
 * caller submits what is left with pstore_writer_submit(). Returns 0 or
 * the writer's -errno.
 */
static inline int pcode_feed(struct pstore_writer *w, struct pstore_buf **bp, uint64_t start,
			     const char *pages, size_t ps, pcode_fill_fn fill, void *arg)
{
	struct pstore_buf *b = *bp;
	int ret = 0;
	size_t i;

	for (i = 0; pages[i]; i++) {
		uint64_t va = start + i * ps;
		char c = pages[i];

		if (c == '-')
			continue;
		if (c == 'H' || c == 'A') {
			if (b && (ret = pstore_writer_submit(w, b)))
				break;
			b = NULL;
			ret = pstore_writer_add_hole(w, va, 1, c == 'H' ? PE_ZERO : PE_PARENT);
			if (ret)
				break;
			continue;
		}
		if (b && b->nr_pages == b->cap_pages) {
			ret = pstore_writer_submit(w, b);
			b = NULL;
			if (ret)
				break;
		}
		if (!b && (ret = pstore_writer_get(w, &b)))
			break;
		fill(arg, va, c, (char *)b->data + b->nr_pages * ps);
		ret = pstore_buf_add_run(b, va, 1);
		if (ret)
			break;
	}
	*bp = b;
	return ret;
}

/*
 * Ends a writer fed by pcode_feed(): after a success (ret == 0) submits the
 * last buffer and closes w (stats in st); after a failure frees w. Returns
 * the first error.
 */
static inline int pcode_close(struct pstore_writer *w, struct pstore_buf *b, int ret,
			      struct pstore_stats *st)
{
	if (!ret && b)
		ret = pstore_writer_submit(w, b);
	if (ret) {
		pstore_writer_free(w);
		return ret;
	}
	return pstore_writer_close(w, st);
}

#endif
