/* SPDX-License-Identifier: MIT */
/*
 * Freezing a target: PTRACE_SEIZE + PTRACE_INTERRUPT of every thread
 * (re-listing /proc/PID/task until the set is stable), optionally behind a
 * cgroup v2 (cgroup.freeze) or v1 freezer, with an always-undo contract:
 *
 *  - freeze_release() puts every thread back as it was (detached, running,
 *    cgroup thawed, a target that was already group-stopped stays stopped)
 *    and is safe to call on every path, more than once, and after a failed
 *    freeze_seize().
 *  - SIGINT/SIGTERM/SIGHUP are blocked while a target is frozen; long loops
 *    call freeze_interrupted() and abort with -EINTR so that the normal
 *    cleanup path runs. If criu-mem is SIGKILLed, the kernel detaches
 *    ptrace by itself (PTRACE_O_EXITKILL is never set) and the guard
 *    process (guard.h) thaws the cgroup: freeze_opts.guard when given (the
 *    cgroup is then noted in that session's undo log), else one forked by
 *    freeze_seize() for the cgroup alone.
 *
 * Errors (logged here, naming the pid): -ESRCH no such process or it exited
 * (zombie included), -EPERM no ptrace permission, -EBUSY already traced,
 * -ETIMEDOUT a thread (or the cgroup) did not stop within 10 s.
 *
 * Threads are seized with PTRACE_O_TRACESYSGOOD (syscall stops report
 * SIGTRAP|0x80) and never PTRACE_O_EXITKILL. A signal-delivery-stop seen
 * while freezing is passed on (the pending interrupt traps right after).
 * cgroup v2: the stops arrive while frozen and the cgroup stays frozen
 * until freeze_thaw_cgroup(). v1: tasks are seized while FROZEN, then the
 * cgroup is thawed inside freeze_seize() because ptrace stops only arrive
 * after THAWED. A cgroup that was already frozen is left alone.
 * Call inject_release() on every injected thread before freeze_release().
 */
#ifndef CM_FREEZE_H
#define CM_FREEZE_H

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct guard;

struct freeze_opts {
	const char *cgroup;	/* --freeze-cgroup PATH (v2 dir or v1 freezer dir), or NULL */
	struct guard *guard;	/* started session guard, or NULL */
};

struct freeze {
	pid_t pid;		/* thread-group leader */
	int pidfd;		/* pidfd_open(pid), -1 when unsupported */
	pid_t *tids;		/* every seized thread, the leader first */
	size_t nr_tids;
	int was_stopped;	/* target was group-stopped before we came */
	int cg_fd;		/* cgroup.freeze / freezer.state, -1 if none */
	int cg_v1;
	struct guard *guard;	/* freeze_opts.guard (or our own for the cgroup), NULL if
				 * none: inject_attach_guard(&in, f->guard) */
	sigset_t saved_mask;	/* our signal mask before blocking SIGINT & co */
	int signals_blocked;
	uint64_t t_freeze_ns;	/* when the first thread was stopped */
	uint64_t t_thaw_ns;	/* when the last thread was let go */
	struct guard *own_guard;	/* malloc'd guard when freeze_opts.guard was NULL */
	int cg_frozen;		/* we froze the cgroup and have not thawed it yet */
	size_t cap_tids;
	char *cg_path;		/* malloc'd copy of freeze_opts.cgroup */
	size_t nr_stopped;	/* tids[0..nr_stopped) are known to be in a stop */
};

void freeze_init(struct freeze *f);
/* Stops every thread of pid. On failure everything is already undone. */
int freeze_seize(struct freeze *f, pid_t pid, const struct freeze_opts *o);
/* Thaws the cgroup (if any) while keeping every thread ptrace-stopped, so
 * injected syscalls can run. No-op without a cgroup. */
int freeze_thaw_cgroup(struct freeze *f);
/* True when SIGINT, SIGTERM or SIGHUP arrived since seize. */
int freeze_interrupted(const struct freeze *f);
/* Detaches every thread and thaws; returns 0 or the first -errno. */
int freeze_release(struct freeze *f);
/* SIGKILLs the target and detaches (after a successful dump without
 * --leave-running). */
int freeze_kill(struct freeze *f);
/* Time the target has been stopped so far (or in total once released). */
uint64_t freeze_elapsed_ns(const struct freeze *f);

#endif
