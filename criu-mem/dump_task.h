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

struct vma_list;

/*
 * Writes files-PID.img (refusing FD_UNSUPPORTED fds unless
 * skip_unsupported_fds) and core-PID.img into d, and fills mm (free with
 * mm_entry_release(), also after an error) for mm-PID.img. l must have
 * been read before: the scratch mapping used here is gone on return.
 */
int dump_task_capture(struct img_dir *d, const struct freeze *fz, const struct vma_list *l,
		      int skip_unsupported_fds, MmEntry *mm);

/*
 * Fills the optional fields of the inventory's record of process pid:
 * ppid, pgid and sid from /proc/PID/stat, comm and exe (malloc'd). A field
 * that cannot be read is left unset: they describe, nothing restores them.
 * Free with dump_task_proc_release().
 */
void dump_task_proc_fill(pid_t pid, ProcessEntry *p);
/* Frees comm and exe; accepts a record dump_task_proc_fill() left partial. */
void dump_task_proc_release(ProcessEntry *p);

#endif
