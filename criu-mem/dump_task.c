// SPDX-License-Identifier: MIT
/*
 * dump_task.c: the non-memory state of a dump. One injection session per
 * thread captures registers (regs.c), the task state and the MmEntry
 * (mmfields.c); the fd table comes from files.c. Writes core-PID.img and
 * files-PID.img; the MmEntry is handed back for mm-PID.img.
 */
#define LOG_PREFIX "dump: "

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump_task.h"
#include "files.h"
#include "freeze.h"
#include "inject.h"
#include "log.h"
#include "regs.h"
#include "util.h"
#include "vma.h"

#define TASK_SCRATCH 4096

static int put_close(struct img_writer *w, const ProtobufCMessage *msg, const char *name)
{
	int ret = img_writer_put(w, msg);

	if (ret)
		return cm_err(ret, "cannot write '%s': %s", name, img_strerror());
	return 0;
}

/* Creates kind's file of pid in d; its name goes to name[64]. */
static int task_writer_open(struct img_dir *d, enum img_kind kind, pid_t pid, char name[64],
			    struct img_writer **w)
{
	int ret;

	img_kind_filename(kind, pid, name, 64);
	ret = img_writer_open(d, kind, name, w);
	if (ret)
		return cm_err(ret, "cannot create '%s': %s", name, img_strerror());
	return 0;
}

/* Commits *w (and clears it: the caller's img_writer_free() is then a no-op). */
static int task_writer_close(struct img_writer **w, const char *name)
{
	int ret = img_writer_close(*w);

	*w = NULL;
	if (ret)
		return cm_err(ret, "cannot write '%s': %s", name, img_strerror());
	return 0;
}

/* Thread cores: one injection per thread for sigaltstack and clear_tid. */
static int write_threads(struct img_writer *w, const struct freeze *fz, struct inject *lead,
			 const struct inject_scratch *s, const char *name)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < fz->nr_tids; i++) {
		struct inject own, *in = lead;
		ThreadCore tc;
		int r;

		thread_core__init(&tc);
		if (fz->tids[i] != lead->tid) {
			memset(&own, 0, sizeof(own));
			in = inject_init(&own, fz->tids[i]) ? NULL : &own;
			if (in)
				inject_attach_guard(in, fz->guard);	/* else unguarded */
		}
		ret = regs_thread_capture(fz->tids[i], in, s, &tc);
		if (in && in != lead) {
			r = inject_release(in);
			if (!ret)
				ret = r;
		}
		if (!ret)
			ret = put_close(w, &tc.base, name);
		regs_thread_release(&tc);
	}
	return ret;
}

static int write_core(struct img_dir *d, const struct freeze *fz, struct inject *in,
		      const struct inject_scratch *s)
{
	struct img_writer *w = NULL;
	char name[64];
	TaskCore task;
	int ret;

	task_core__init(&task);
	ret = regs_task_capture(fz->pid, in, s, &task);
	if (!ret)
		ret = task_writer_open(d, IMG_CORE, fz->pid, name, &w);
	if (!ret)
		ret = put_close(w, &task.base, name);
	if (!ret)
		ret = write_threads(w, fz, in, s, name);
	if (!ret)
		ret = task_writer_close(&w, name);
	img_writer_free(w);
	regs_task_release(&task);
	return ret;
}

static int write_files(struct img_dir *d, pid_t pid, int skip_unsupported)
{
	struct fd_table t = { 0 };
	struct img_writer *w = NULL;
	char name[64];
	size_t i;
	int ret;

	ret = files_read(pid, &t);
	if (ret)
		return ret;
	for (i = 0; i < t.nr && !skip_unsupported; i++) {
		if (t.e[i].kind == FD_KIND__FD_UNSUPPORTED) {
			ret = cm_err(-ENOTSUP, "pid %d: fd %u ('%s') is not supported "
				     "(use --skip-unsupported-fds)", (int)pid, t.e[i].fd,
				     t.e[i].path ? t.e[i].path : "?");
			goto out;
		}
	}
	ret = task_writer_open(d, IMG_FILES, pid, name, &w);
	for (i = 0; !ret && i < t.nr; i++)
		ret = put_close(w, &t.e[i].base, name);
	if (!ret)
		ret = task_writer_close(&w, name);
out:
	img_writer_free(w);
	files_release(&t);
	return ret;
}

int dump_task_capture(struct img_dir *d, const struct freeze *fz, const struct vma_list *l,
		      int skip_unsupported_fds, MmEntry *mm)
{
	struct inject_scratch s = { 0 };
	struct inject in;
	int ret, mapped = 0;

	mm_entry__init(mm);
	ret = write_files(d, fz->pid, skip_unsupported_fds);
	if (ret)
		return ret;
	memset(&in, 0, sizeof(in));
	ret = inject_init(&in, fz->tids[0]);
	if (ret)
		return ret;
	ret = inject_attach_guard(&in, fz->guard);	/* undone by the guard if we die */
	if (!ret)
		ret = inject_scratch_map(&in, TASK_SCRATCH, &s);
	mapped = !ret;
	if (!ret)
		ret = mm_entry_read(fz->pid, l, &in, mm);
	if (!ret)
		ret = write_core(d, fz, &in, &s);
	if (mapped) {
		int r = inject_scratch_unmap(&in, &s);

		if (r && !ret)
			ret = cm_err(r, "pid %d: cannot unmap the scratch area at %#lx",
				     (int)fz->pid, (unsigned long)s.addr);
	}
	inject_release(&in);
	return ret;
}

void dump_task_proc_fill(pid_t pid, ProcessEntry *p)
{
	char path[64], link[PATH_MAX], *s = NULL, *q;
	unsigned int ppid, pgid, sid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!read_file_str(path, &s, NULL, 4096)) {
		/* "pid (comm) S ppid pgrp session ...": comm may hold ") " itself */
		q = strrchr(s, ')');
		if (q && sscanf(q + 1, " %*c %u %u %u", &ppid, &pgid, &sid) == 3) {
			p->has_ppid = p->has_pgid = p->has_sid = 1;
			p->ppid = ppid;
			p->pgid = pgid;
			p->sid = sid;
		}
		free(s);
		s = NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (!read_file_str(path, &s, NULL, 64)) {
		s[strcspn(s, "\n")] = 0;
		p->comm = s;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		p->exe = strdup(link);
	}
}

void dump_task_proc_release(ProcessEntry *p)
{
	free(p->comm);
	free(p->exe);
	p->comm = p->exe = NULL;
}
