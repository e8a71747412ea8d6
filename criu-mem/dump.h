/* SPDX-License-Identifier: MIT */
/*
 * criu-mem dump: orchestration of one process's memory checkpoint.
 * freeze -> thaw cgroup -> capture registers, task, fds, mm -> VMAs ->
 * page scan -> transfer -> page store -> commit -> release or kill.
 *
 * The target is never left stopped, traced or changed: every exit path
 * (errors, SIGINT/SIGTERM/SIGHUP, target death) releases it, and the image
 * directory appears under its final name only after a complete dump.
 */
#ifndef CM_DUMP_H
#define CM_DUMP_H

#include <stdint.h>
#include <sys/types.h>

struct dump_opts {
	pid_t pid;
	const char *dir;		/* -D */
	const char *xfer;		/* backend name; NULL = default */
	const char *freeze_cgroup;	/* --freeze-cgroup or NULL */
	const char *prev_dir;		/* --prev-images-dir (relative to dir) or NULL */
	int leave_running;
	int level;			/* zstd level */
	int no_compress;
	unsigned int threads;		/* 0 = online CPUs */
	int pageout;			/* process_madvise(PAGEOUT) after --leave-running */
	int skip_unsupported_fds;
	int skip_unsupported_vmas;	/* record VM_IO/PFNMAP VMAs without data */
	int progress;			/* draw a progress bar when stderr is a TTY */
	int no_fsync;
};

struct dump_result {
	uint64_t wall_ns, frozen_ns;
	uint64_t pages_scanned;		/* pages the scan reported in dumpable VMAs */
	uint64_t pages_stored;		/* with bytes in the page store */
	uint64_t pages_zero;		/* present but all zero: zero runs */
	uint64_t pages_parent;		/* equal to the parent image's: PE_PARENT runs */
	uint64_t pages_skipped;		/* zero-pfn, file-backed or guard: not read */
	uint64_t pages_mem;		/* read through /proc/PID/mem */
	uint64_t bytes_raw, bytes_stored;
	uint64_t nr_vmas, nr_threads, frames;
	const char *xfer;		/* backend used (static string) */
	int killed;			/* target killed after the dump */
};

/* Runs a dump. Returns 0 or -errno (already reported). */
int dump_run(const struct dump_opts *o, struct dump_result *res);

#endif
