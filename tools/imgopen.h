/* SPDX-License-Identifier: MIT */
/*
 * What the inspection commands (show, verify, decode, x, grep, diff, core)
 * share: opening an image directory and one process's memory (-p PID),
 * the -p argument, the --help/bad-option exits of their getopt loops, and
 * the "rw-p" permission string of a VMA.
 */
#ifndef CM_IMGOPEN_H
#define CM_IMGOPEN_H

#include <stdio.h>

#include "img.h"

/* An image directory opened for inspection; mem is NULL after imgopen_dir(). */
struct imgopen {
	struct img_dir *dir;
	InventoryEntry *inv;
	struct img_mem *mem;
};

/*
 * Opens directory @path and reads its inventory. Reports errors itself
 * (the library's message, which names the file). Release with
 * imgopen_close(), also after a failure.
 */
int imgopen_dir(struct imgopen *io, const char *path);
/* imgopen_dir(), then loads the memory of @pid (0: the inventory's root pid). */
int imgopen_proc(struct imgopen *io, const char *path, unsigned int pid);
/* Frees what is open and zeroes io; accepts a zeroed or failed io. */
void imgopen_close(struct imgopen *io);

/* "-p PID": 1..UINT32_MAX. 0, or -EINVAL after "bad pid '<arg>'". */
int imgopen_pid_arg(const char *arg, unsigned int *pid);

/*
 * A getopt loop's 'h' and unknown-option cases: usage on stdout and
 * CM_EXIT_OK for 'h', else usage on stderr and CM_EXIT_USAGE.
 */
int imgopen_usage(int opt, void (*usage)(FILE *f));

/* "rwxp"/"r--s": the protection and sharing of a VMA, NUL-terminated. */
void imgopen_perms(const VmaEntry *v, char out[5]);

#endif
