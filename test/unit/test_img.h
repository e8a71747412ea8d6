/* SPDX-License-Identifier: MIT */
/*
 * Synthetic images for the image-library tests, the golden images and the
 * fuzz seed corpus: a fake process described by VMAs and one character per
 * page, written with the real library.
 */
#ifndef CM_TEST_IMG_H
#define CM_TEST_IMG_H

#include <stdint.h>

#include "img.h"

/*
 * Page characters: 'P' compressible data, 'R' incompressible data, 'Z' zero
 * bytes copied (the writer must detect them), 'H' a PE_ZERO hole, 'A' a
 * PE_PARENT hole, '-' absent.
 */
struct timg_vma {
	uint64_t start;
	uint32_t prot;
	int kind;
	const char *path;
	const char *pages;	/* one char per page; its length gives the size */
};

struct timg {
	unsigned int pid;
	const struct timg_vma *vmas;
	size_t nr_vmas;
	struct pstore_opts opts;
	int with_core;		/* write core-PID.img and files-PID.img */
	const char *parent_path;	/* set parent_id/parent_path in the inventory */
};

/* Writes and commits image directory @path. Returns 0 or -errno. */
int timg_write(const char *path, const struct timg *t, struct pstore_stats *st);
/* Expected bytes of the page at vaddr for page character c (ps bytes). */
void timg_page(uint64_t vaddr, char c, void *out, size_t ps);
/* Compares a loaded image with its description page by page. Returns 0 if equal. */
int timg_check(struct img_mem *m, const struct timg *t);
/* Reads a whole file into a fresh buffer; returns its length or -errno. */
long timg_slurp(const char *path, uint8_t **out);
/* rm -rf of a test directory. */
void timg_rmrf(const char *path);

#endif
