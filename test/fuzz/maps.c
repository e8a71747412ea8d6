// SPDX-License-Identifier: MIT
/*
 * maps.c: libFuzzer target for the /proc/PID/maps line parser, the smaps
 * VmFlags parser and the VMA classifier. Each input line is copied into a
 * buffer that ends exactly at the end of its malloc, so ASan catches any
 * read past the line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_line(const uint8_t *p, size_t n)
{
	char *buf = malloc(n ? n : 1);
	struct vma v;
	uint64_t bits;

	if (!buf)
		return;
	memcpy(buf, p, n);
	if (!vma_parse_line(buf, n, &v)) {
		if (v.end <= v.start || (v.start | v.end) & 0xfff)
			abort();
		if (v.path && strlen(v.path) >= VMA_PATH_MAX)
			abort();
		/* classify again under every flag combination the parser feeds it */
		v.vm_flags = vma_parse_vmflags(buf, n);
		vma_classify(&v);
		v.page_shift = 21;
		vma_classify(&v);
		if (v.kind != VMA_KIND__VMA_HUGETLB && v.kind != VMA_KIND__VMA_UNSUPPORTED)
			abort();
		free(v.path);
	}
	/* "VmFlags: rd wr ..." lines: the parser must only set known bits */
	bits = vma_parse_vmflags(buf, n);
	if (bits >> VMF_MAX)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		size_t j = i;

		while (j < size && data[j] != '\n')
			j++;
		/* with and without the newline: the parser strips it */
		fuzz_line(data + i, j - i);
		if (j < size)
			fuzz_line(data + i, j - i + 1);
		i = j + 1;
	}
	return 0;
}
