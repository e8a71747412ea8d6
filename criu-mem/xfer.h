/* SPDX-License-Identifier: MIT */
/*
 * Page-transfer backends: copy pages of a ptrace-stopped target into a page
 * store buffer. One table of backends (xfer_backends[]): "readv"
 * (process_vm_readv, up to 1024 remote iovecs per call) and "vmsplice"
 * (process_vmsplice semantics built from injected pipe2 + vmsplice, drained
 * by read()). Both fall back to /proc/PID/mem (FOLL_FORCE) for pages they
 * cannot read (PROT_NONE VMAs, a page that vanished).
 *
 * Contract of every backend:
 *  - open() may change the target (vmsplice: pipes, scratch mapping);
 *    close() undoes every change and is called on every path after a
 *    successful open(), while the target is still stopped.
 *  - copy() copies the pages of @runs (increasing addresses, total pages
 *    <= b->cap_pages - b->nr_pages) to b->data at b->nr_pages and records
 *    each run with pstore_buf_add_run(). All or nothing: on error the
 *    buffer content is unspecified and the dump must abort.
 *  - Errors are reported once where they happen, naming pid and address.
 *    -ESRCH means the target is gone.
 */
#ifndef CM_XFER_H
#define CM_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "img.h"

struct guard;

struct xfer_target {
	pid_t pid;		/* thread-group leader, ptrace-stopped */
	pid_t tid;		/* stopped thread used for injection (vmsplice) */
	int pidfd;		/* pidfd of pid, or -1 */
	size_t page_size;
	struct guard *guard;	/* session guard for injected changes, or NULL */
};

enum xfer_run_flags {
	XFER_RUN_MEM = 1 << 0,	/* read through /proc/PID/mem (PROT_NONE VMA) */
};

struct xfer_run {
	uint64_t vaddr, nr_pages;
	uint32_t flags;		/* enum xfer_run_flags */
};

struct xfer_stats {
	uint64_t pages;		/* pages copied, all paths */
	uint64_t pages_mem;	/* of which through /proc/PID/mem */
	uint64_t calls;		/* process_vm_readv calls or injected vmsplices */
	uint64_t injected;	/* injected syscalls in total */
};

struct xfer;

struct xfer_ops {
	const char *name;
	int (*open)(struct xfer *x);
	int (*copy)(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr);
	int (*close)(struct xfer *x);
};

struct xfer {
	const struct xfer_ops *ops;
	struct xfer_target t;
	int mem_fd;		/* /proc/PID/mem, opened by xfer_open() */
	struct xfer_stats st;
	void *priv;		/* backend state */
	int opened;
};

extern const struct xfer_ops xfer_readv_ops;
extern const struct xfer_ops xfer_vmsplice_ops;

/* Looks a backend up by name ("readv", "vmsplice"); NULL when unknown. */
const struct xfer_ops *xfer_find(const char *name);
/* The backend used when --xfer is not given. */
const char *xfer_default_name(void);

/* Opens /proc/PID/mem and the backend. On failure nothing is left open. */
int xfer_open(struct xfer *x, const struct xfer_ops *ops, const struct xfer_target *t);
/*
 * Copies runs into b (see the contract above); runs flagged XFER_RUN_MEM
 * go through /proc/PID/mem, the others through the backend.
 */
int xfer_copy(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr);
/* Undoes everything open() did. Safe on a never-opened or closed xfer. */
int xfer_close(struct xfer *x);

/* A position inside a run list, and where its next page goes in the buffer. */
struct xfer_cursor {
	const struct xfer_run *runs;
	size_t nr, i;
	uint64_t off;		/* pages into runs[i] */
	char *dst;
};

/* Moves the cursor forward by @pages pages of @ps bytes. */
void xfer_cursor_advance(struct xfer_cursor *c, uint64_t pages, size_t ps);
/* Records every run with pstore_buf_add_run() once its pages are in b. */
int xfer_add_runs(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr);

/*
 * Reads len bytes at vaddr through /proc/PID/mem into dst. Returns 0, or
 * -EFAULT (logged with pid and address) when the range cannot be read,
 * -ESRCH when the target is gone.
 */
int xfer_mem_read(struct xfer *x, uint64_t vaddr, void *dst, size_t len);

#endif
