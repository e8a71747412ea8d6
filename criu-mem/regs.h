/* SPDX-License-Identifier: MIT */
/*
 * Per-thread (ThreadCore) and process-wide (TaskCore) state of a frozen
 * target: registers, FPU/xstate, TLS bases, signal mask, rseq, robust list,
 * sigactions, umask, cwd/root, personality.
 *
 * The threads must be ptrace-stopped (freeze_seize()). Capture functions do
 * thread_core__init()/task_core__init() themselves; every buffer and string
 * they set is malloc'd and freed by the matching *_release().
 */
#ifndef CM_REGS_H
#define CM_REGS_H

#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "inject.h"

/*
 * Fills t for thread tid. in may be NULL; when it is an initialised
 * injection on this same thread (cgroup thawed), sigaltstack and the
 * clear_child_tid address are read with injected calls through scratch
 * (>= 64 bytes, mapped in the target), and the CPU mask comes from the
 * mask saved before pinning. Returns 0 or -errno (logged).
 */
int regs_thread_capture(pid_t tid, struct inject *in, const struct inject_scratch *scratch,
			ThreadCore *t);
void regs_thread_release(ThreadCore *t);

/*
 * Fills t for process pid. sigactions need in (an initialised injection on
 * any thread of pid) and scratch (>= 2 KiB): one injected rt_sigaction per
 * signal, read back with one process_vm_readv. With in == NULL they are
 * left empty. Every signal whose action is not "SIG_DFL, no flags, empty
 * mask" gets an entry. Returns 0 or -errno (logged).
 */
int regs_task_capture(pid_t pid, struct inject *in, const struct inject_scratch *scratch,
		      TaskCore *t);
void regs_task_release(TaskCore *t);

/*
 * Reads /proc/PID/personality (task and mm records both carry it). 0, or
 * -errno without a message: the field is optional.
 */
int regs_read_personality(pid_t pid, uint32_t *out);

#endif
