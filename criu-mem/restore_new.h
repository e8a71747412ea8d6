/* SPDX-License-Identifier: MIT */
/*
 * Internals of new-process restore (criu-mem restore -D DIR), shared by
 * restore_new.c (orchestration), restore_new_host.c (the host process),
 * restore_new_fds.c (the fd table), restore_new_mm.c (clearing the host's
 * address space, vdso move, PR_SET_MM_MAP), restore_new_task.c (per-thread
 * kernel state set with injected syscalls) and restore_new_threads.c (the
 * other threads, created with injected clone3).
 *
 * Restored: every VMA at its address with its prot, flags and VmFlags, the
 * vdso block at the image's address, mm fields (PR_SET_MM_MAP: brk, stack,
 * args, env, auxv, exe), every thread with its tid, registers, mask, name,
 * rseq, robust list, clear-tid address and signal stack, signal handlers,
 * umask, cwd, personality, the fd table (see rn_fds_prepare()).
 * Not restored: credentials, rlimits, pgid/sid and cgroups (criu-mem's);
 * pending signals, timers; data queued in pipes; a dup'ed fd's shared file
 * position (each fd gets its own open file); the mask saved by a
 * sigsuspend/ppoll interrupted at dump time (the temporary mask stays after
 * the next handler); a syscall that used a restart block restarts with its
 * original arguments (a relative sleep sleeps its full time again).
 */
#ifndef CM_RESTORE_NEW_H
#define CM_RESTORE_NEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "img.h"

struct restore_opts;
struct restore_ctx;
struct inject;

/* One fd of the new process: criu-mem's fd @src becomes its fd @fd. */
struct rn_fd {
	int fd;
	int src;		/* open in criu-mem; -1 = leave @fd closed */
	int cloexec;
	int owned;		/* src was opened here and is closed by rn_fds_release() */
};

struct rn_fds {
	struct rn_fd *v;
	size_t nr, cap;
};

/*
 * Reads files-PID.img and opens, in criu-mem, everything the new process's
 * fd table needs (regular files by path with flags and offset, /dev/null,
 * pipes with both ends in the process, directories, character devices),
 * honouring --stdin/--stdout/--stderr, --inherit-fd and
 * --skip-unsupported-fds. Without a files image, fds 0-2 are inherited.
 */
int rn_fds_prepare(const struct restore_opts *o, const struct img_dir *d, unsigned int pid,
		   struct rn_fds *f);
void rn_fds_release(struct rn_fds *f);
/*
 * In the forked host (async-signal-safe, no allocation, modifies the
 * host's copy of @f): installs the table; every other fd is closed except
 * @keep, which is moved above the table and whose new number is returned
 * (or -errno).
 */
int rn_fds_install(struct rn_fds *f, int keep);

/* The host: a fork of criu-mem, stopped by ptrace, that becomes the image. */
struct rn_host {
	pid_t pid;
	int seized;
};

/*
 * Spawns the host with pid @want (clone3 set_tid) or, when that pid is
 * taken and o->pid_mismatch_ok, any pid. Before stopping, the host sets up
 * its fds, umask, cwd, personality, name and signal handlers from the
 * image; then it is seized (PTRACE_O_EXITKILL) and interrupted.
 */
int rn_host_spawn(struct rn_host *h, const struct restore_opts *o, const struct img_mem *m,
		  struct rn_fds *fds);
/* SIGKILLs and reaps a half-built host. Safe on an empty host. */
void rn_host_kill(struct rn_host *h);

/*
 * Clears the host's own mappings (everything but [vdso]/[vvar]*), after
 * unregistering its rseq area, and moves its vdso block to the image's
 * addresses; @in's syscall instruction (in the vdso) follows the move.
 */
int rn_mm_clear_host(struct inject *in, const struct img_mem *m);
/* PR_SET_MM_MAP: code/data/brk/stack/args/env/auxv fields and the exe file. */
int rn_mm_set_fields(struct inject *in, const struct img_mem *m);
/* VM_ACCOUNT of private read-only VMAs that had it (made writable and back). */
int rn_mm_fix_account(struct inject *in, const struct img_mem *m);

/*
 * Per-thread kernel state with injected syscalls: robust list, clear-tid
 * address, rseq, sigaltstack; and the parent-death signal cleared. Each
 * address must lie inside an image VMA (-EBADMSG otherwise).
 */
int rn_task_restore(struct inject *in, const struct img_mem *m, const ThreadCore *tc);
/* The image's CPU mask of a thread (a warning when it can't be set). */
void rn_task_cpu_mask(pid_t tid, const ThreadCore *tc);
/*
 * Creates threads 1.. of the image in the stopped leader (@in) with
 * injected clone3 (set_tid = the image's tid; any tid when that one is
 * taken and @mismatch_ok), each with its per-thread state, registers and
 * mask set, left ptrace-stopped. tids[i] receives thread i's tid.
 */
int rn_threads_create(struct inject *in, const struct img_mem *m, int mismatch_ok, pid_t *tids);
/* Detaches threads 1..nr-1 (the leader is detached by the caller). */
int rn_threads_detach(const pid_t *tids, size_t nr);
/*
 * A copy of the thread's registers rewound so that a syscall interrupted
 * at dump time (rax = -ERESTART*) is executed again after detach. Returns
 * 0 and fills *out (whose gpregs point into @buf) or -EBADMSG.
 */
int rn_task_rewind(const ThreadCore *tc, ThreadCore *out, void *buf, size_t len);

#endif
