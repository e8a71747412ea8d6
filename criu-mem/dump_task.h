/* SPDX-License-Identifier: MIT */
/*
 * Process-wide state of a dump besides memory: the mm_entry head record,
 * the core (registers, task state) and files images. Glue between dump.c
 * and the capture modules; the target must be frozen.
 */
#ifndef CM_DUMP_TASK_H
#define CM_DUMP_TASK_H

#include <sys/types.h>

#include "img.h"

struct freeze;

/* Fills mm (mm_entry__init() done here) from /proc/PID; release with dump_task_mm_release(). */
int dump_task_mm(pid_t pid, MmEntry *mm);
void dump_task_mm_release(MmEntry *mm);
/* Writes core-PID.img and files-PID.img into d. */
int dump_task_capture(struct img_dir *d, const struct freeze *fz, int skip_unsupported_fds);

#endif
