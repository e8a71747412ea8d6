/* SPDX-License-Identifier: MIT */
/*
 * Incremental dumps by content (--prev-images-dir): pages equal to the
 * parent image's page at the same address are recorded as PE_PARENT runs
 * with no bytes. There is no dirty tracking: every page is still read from
 * the target, only storage is saved.
 *
 * The parent must be a dump of the same pid. A relative parent path is
 * relative to the new image directory, as in CRIU, and stored as given.
 */
#ifndef CM_DUMP_PARENT_H
#define CM_DUMP_PARENT_H

#include <stdint.h>
#include <sys/types.h>

#include "img.h"

/* Equal runs shorter than this stay stored, so frames are not cut to shreds. */
#define PARENT_MIN_PAGES 8

struct dump_parent {
	struct img_dir *dir;
	struct img_mem *m;
	uint8_t *image_id;	/* the parent's image_id */
	size_t image_id_len;
	struct pstore_buf stage;	/* pages read from the target, not yet placed */
	void *cmp;			/* the parent's bytes for one run */
	uint8_t *absent;		/* bitmap for img_mem_read() */
	size_t ps;
};

/*
 * Opens the parent for pid and a staging buffer of cap_pages pages.
 * Returns 0 or -errno (logged, naming the parent path).
 */
int dump_parent_open(struct dump_parent *p, const char *images_dir, const char *prev,
		     pid_t pid, size_t cap_pages);
void dump_parent_close(struct dump_parent *p);
/*
 * The parent's path: PREV when absolute, else "DIR/PREV" with "." and ".."
 * folded lexically (DIR does not exist yet while we dump, so the kernel
 * cannot resolve "DIR/../parent"). *out is malloc'd. Returns 0 or -ENOMEM.
 */
int dump_parent_path(const char *dir, const char *prev, char **out);
/*
 * Places the staged pages: runs of >= PARENT_MIN_PAGES pages equal to the
 * parent become PE_PARENT holes, the others are copied into page store
 * buffers and submitted, in address order. Empties the stage.
 */
int dump_parent_flush(struct dump_parent *p, struct pstore_writer *w);

#endif
