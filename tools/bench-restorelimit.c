// SPDX-License-Identifier: MIT
/*
 * bench-restorelimit: the floor an in-place restore is measured against.
 * Decompresses every frame of the image in DIR on THREADS threads
 * (img_mem_foreach_frame) and writes the stored pages into live process
 * PID with process_vm_writev (up to 1024 iovecs per call), nothing else: no
 * verification pass, no layout, no zeroing. PID must hold the image's
 * contents already (a target dumped with --leave-running and left idle).
 * usage: bench-restorelimit DIR PID THREADS
 * Prints "restorelimit: bytes N wall_ms X".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "img.h"
#include "util.h"

#define NIOV 1024

struct rl {
	struct img_mem *m;
	pid_t pid;
	size_t ps;
	struct iovec l[NIOV], r[NIOV];
	size_t n;
	uint64_t bytes;
};

static int flush(struct rl *rl)
{
	ssize_t want = 0, got;
	size_t i;

	for (i = 0; i < rl->n; i++)
		want += rl->l[i].iov_len;
	got = rl->n ? process_vm_writev(rl->pid, rl->l, rl->n, rl->r, rl->n, 0) : 0;
	rl->n = 0;
	if (got != want) {
		fprintf(stderr, "restorelimit: process_vm_writev: %zd of %zd: %s\n", got, want,
			strerror(errno));
		return -EIO;
	}
	rl->bytes += want;
	return 0;
}

static int frame_cb(void *arg, const struct img_frame *f, const void *data,
		    const struct img_run *const *runs, size_t nr_runs)
{
	struct rl *rl = arg;
	size_t i;
	int ret;

	(void)f;
	for (i = 0; i < nr_runs; i++) {
		const VmaEntry *v = img_mem_find_vma(rl->m, runs[i]->vaddr);

		/* read-only VMAs (a few relro pages) need /proc/PID/mem: left out */
		if (!(runs[i]->flags & PE_PRESENT) || !v || !(v->prot & PROT_WRITE))
			continue;
		if (rl->n == NIOV && (ret = flush(rl)))
			return ret;
		rl->l[rl->n].iov_base = (char *)data + runs[i]->offset * rl->ps;
		rl->l[rl->n].iov_len = runs[i]->nr_pages * rl->ps;
		rl->r[rl->n].iov_base = (void *)runs[i]->vaddr;
		rl->r[rl->n].iov_len = runs[i]->nr_pages * rl->ps;
		rl->n++;
	}
	return flush(rl);
}

int main(int argc, char **argv)
{
	static struct rl rl;
	struct img_dir *d = NULL;
	InventoryEntry *inv = NULL;
	struct img_mem *m = NULL;
	uint64_t t0;
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-restorelimit DIR PID THREADS\n");
		return 2;
	}
	rl.pid = atoi(argv[2]);
	ret = img_dir_open(argv[1], &d);
	if (!ret)
		ret = img_inventory_read(d, &inv);
	if (!ret)
		ret = img_mem_load(d, inv->root_pid, &m);
	if (ret) {
		fprintf(stderr, "restorelimit: cannot load '%s': %s\n", argv[1], img_strerror());
		return 1;
	}
	rl.ps = m->page_size;
	rl.m = m;
	t0 = now_ns();
	ret = img_mem_foreach_frame(m, atoi(argv[3]), frame_cb, &rl);
	if (ret) {
		fprintf(stderr, "restorelimit: failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("restorelimit: bytes %llu wall_ms %.1f\n", (unsigned long long)rl.bytes,
	       (now_ns() - t0) / 1e6);
	img_mem_free(m);
	inventory_entry__free_unpacked(inv, NULL);
	img_dir_free(d);
	return 0;
}
