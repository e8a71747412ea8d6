/* SPDX-License-Identifier: MIT */
/*
 * The target's fd table from /proc/PID/fd and /proc/PID/fdinfo as FdEntry
 * records: regular files (path, flags, pos), /dev/null, pipes (inode for
 * pairing), ttys, other character devices, directories; anything else
 * (sockets, eventfd, ...) is FD_UNSUPPORTED with its link text as path.
 */
#ifndef CM_FILES_H
#define CM_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"

struct fd_table {
	FdEntry *e;	/* nr entries in fd order; paths malloc'd */
	size_t nr;
};

/* Reads every fd of pid. Returns 0 or -errno (logged; -ESRCH when gone). */
int files_read(pid_t pid, struct fd_table *t);
/* Frees the entries; accepts an empty or zeroed table. */
void files_release(struct fd_table *t);

#endif
