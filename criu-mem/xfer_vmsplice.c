// SPDX-License-Identifier: MIT
/*
 * xfer_vmsplice.c: placeholder.
 */
#include <errno.h>

#include "log.h"
#include "xfer.h"

static int vs_open(struct xfer *x)
{
	(void)x;
	return cm_err(-ENOTSUP, "vmsplice backend not implemented yet");
}

static int vs_copy(struct xfer *x, struct pstore_buf *b, const struct xfer_run *runs, size_t nr)
{
	(void)x; (void)b; (void)runs; (void)nr;
	return -ENOTSUP;
}

static int vs_close(struct xfer *x)
{
	(void)x;
	return 0;
}

const struct xfer_ops xfer_vmsplice_ops = {
	.name = "vmsplice", .open = vs_open, .copy = vs_copy, .close = vs_close,
};
