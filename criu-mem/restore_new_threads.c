// SPDX-License-Identifier: MIT
/*
 * restore_new_threads.c: the other threads of a new process. Each one is
 * created by an injected clone3(CLONE_THREAD, set_tid = its image tid) in
 * the leader, auto-attached through PTRACE_O_TRACECLONE, given its own
 * per-thread state with injected syscalls, then its registers and mask.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "img.h"
#include "inject.h"
#include "log.h"
#include "restore.h"
#include "restore_new.h"

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
		      CLONE_SYSVSEM)
#define OPTS_BASE (PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)

/* Waits for the first stop of an auto-attached new thread. */
static int wait_new_thread(pid_t tid)
{
	int st;

	for (;;) {
		if (waitpid(tid, &st, __WALL) == tid)
			break;
		if (errno != EINTR)
			return cm_err(-errno, "new thread %d: waitpid", (int)tid);
	}
	if (!WIFSTOPPED(st))
		return cm_err(-ESRCH, "new thread %d died (status %#x)", (int)tid, st);
	return 0;
}

/* One injected clone3 in the leader; returns the new tid or -errno. */
static long clone_one(struct inject *in, uint64_t scratch, pid_t want, int mismatch_ok)
{
	struct clone_args a;
	unsigned long args[6] = { scratch, sizeof(a) };
	pid_t tid = want;
	long r;
	int ok;

	memset(&a, 0, sizeof(a));
	a.flags = THREAD_FLAGS;
	a.set_tid = scratch + 128;
	a.set_tid_size = 1;
	for (;;) {
		if (inject_poke(in->tid, scratch, &a, sizeof(a)) ||
		    inject_poke(in->tid, scratch + 128, &tid, sizeof(tid)))
			return -EFAULT;
		r = inject_syscall(in, SYS_clone3, args, &ok);
		if (!ok)
			return r;
		if (r == -EEXIST && mismatch_ok && a.set_tid_size) {
			pr_warn("tid %d is in use, the thread gets another one", (int)want);
			a.set_tid = 0;
			a.set_tid_size = 0;
			continue;
		}
		if (r < 0)
			return cm_err((int)r, "pid %d: cannot create thread %d%s", in->tid, (int)want,
				      r == -EEXIST ? " (in use, use --pid-mismatch-ok)" : "");
		return r;
	}
}

/* Per-thread state and registers of a new thread stopped at its first stop. */
static int finish_thread(pid_t tid, const struct img_mem *m, const ThreadCore *tc)
{
	uint8_t regs[sizeof(struct user_regs_struct)];
	struct inject tin;
	ThreadCore rw;
	int ret, rel;

	ret = rn_task_rewind(tc, &rw, regs, sizeof(regs));
	if (ret)
		return ret;
	ret = inject_init(&tin, tid);
	if (ret)
		return ret;
	ret = rn_task_restore(&tin, m, tc);
	rel = inject_release(&tin);
	if (!ret)
		ret = rel;
	if (!ret)
		ret = restore_thread_regs(tid, &rw);
	if (!ret)
		rn_task_cpu_mask(tid, tc);
	return ret;
}

int rn_threads_create(struct inject *in, const struct img_mem *m, int mismatch_ok,
		      pid_t *tids)
{
	struct inject_scratch s = { 0, 0 };
	size_t i;
	int ret, ret2;
	long r;

	tids[0] = in->tid;
	if (m->nr_threads < 2)
		return 0;
	if (ptrace(PTRACE_SETOPTIONS, in->tid, 0, (void *)(long)(OPTS_BASE | PTRACE_O_TRACECLONE)))
		return cm_err(-errno, "pid %d: PTRACE_SETOPTIONS", in->tid);
	ret = inject_scratch_map(in, 4096, &s);
	for (i = 1; !ret && i < m->nr_threads; i++) {
		r = clone_one(in, s.addr, (pid_t)m->threads[i]->tid, mismatch_ok);
		if (r < 0) {
			ret = (int)r;
			break;
		}
		tids[i] = (pid_t)r;
		ret = wait_new_thread(tids[i]);
		if (!ret)
			ret = finish_thread(tids[i], m, m->threads[i]);
	}
	ret2 = s.len ? inject_scratch_unmap(in, &s) : 0;
	if (ptrace(PTRACE_SETOPTIONS, in->tid, 0, (void *)(long)OPTS_BASE) && !ret)
		ret = cm_err(-errno, "pid %d: PTRACE_SETOPTIONS", in->tid);
	if (!ret)
		pr_debug("pid %d: %zu threads created", in->tid, m->nr_threads - 1);
	return ret ? ret : ret2;
}

int rn_threads_detach(const pid_t *tids, size_t nr)
{
	size_t i;
	int ret = 0;

	for (i = 1; i < nr; i++)
		if (tids[i] > 0 && ptrace(PTRACE_DETACH, tids[i], 0, 0) && !ret)
			ret = cm_err(-errno, "cannot detach from thread %d", (int)tids[i]);
	return ret;
}
