// SPDX-License-Identifier: MIT
/*
 * restore_inplace.c: criu-mem restore -D DIR -t PID. Rolls a live process
 * back to the image: verify the image, freeze, match threads, then layout,
 * pages, madvise and registers. A late failure leaves the target stopped
 * (SIGSTOP, detached) or kills it with --kill-on-error; a guard process
 * (guard.h) does the same if criu-mem itself is killed past that point.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "freeze.h"
#include "guard.h"
#include "inject.h"
#include "kapi.h"
#include "log.h"
#include "restore.h"
#include "util.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#define RSEQ_UNREGISTER 1

/*
 * A thread's rseq registration as in the image: a thread that was still
 * starting at dump time registers its rseq area again once rolled back, and
 * glibc aborts when the kernel says it already is. Runs rseq() inside the
 * thread (@in: its inject session, or NULL for a temporary one).
 */
static int thread_rseq(struct restore_ctx *c, struct inject *in, const ThreadCore *tc)
{
	struct cm_ptrace_rseq_config rc = { 0 };
	uint64_t want = tc->has_rseq_addr ? tc->rseq_addr : 0;
	uint32_t len = tc->has_rseq_len ? tc->rseq_len : 0, sig = tc->has_rseq_sig ? tc->rseq_sig : 0;
	unsigned long a[6] = { 0 };
	struct inject tmp;
	long ret = 0;
	int ok = 1;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tc->tid, sizeof(rc), &rc) <= 0)
		return 0;	/* no rseq here */
	if (rc.rseq_abi_pointer == want &&
	    (!want || (rc.rseq_abi_size == len && rc.signature == sig)))
		return 0;
	pr_debug("thread %u: rseq %#llx -> %#llx", tc->tid, (unsigned long long)rc.rseq_abi_pointer,
		 (unsigned long long)want);
	if (!in) {
		memset(&tmp, 0, sizeof(tmp));
		ret = inject_init(&tmp, tc->tid);
		if (ret)
			return (int)ret;
		in = &tmp;
	}
	if (rc.rseq_abi_pointer) {
		a[0] = rc.rseq_abi_pointer;
		a[1] = rc.rseq_abi_size;
		a[2] = RSEQ_UNREGISTER;
		a[3] = rc.signature;
		ret = inject_syscall(in, SYS_rseq, a, &ok);
	}
	if (ret >= 0 && ok && want) {
		a[0] = want;
		a[1] = len;
		a[2] = 0;
		a[3] = sig;
		ret = inject_syscall(in, SYS_rseq, a, &ok);
	}
	if (in == &tmp && inject_release(&tmp) && ret >= 0)
		ret = -ESRCH;
	if (ret < 0 || !ok)
		return cm_err(ret < 0 ? (int)ret : -EIO, "cannot put back the rseq registration "
			      "of thread %u of pid %d", tc->tid, (int)c->pid);
	return 0;
}

static int inplace_rseq(struct restore_ctx *c, struct inject *leader)
{
	size_t i;
	int ret;

	for (i = 0; i < c->mem->nr_threads; i++) {
		const ThreadCore *tc = c->mem->threads[i];

		ret = thread_rseq(c, (pid_t)tc->tid == leader->tid ? leader : NULL, tc);
		if (ret)
			return ret;
	}
	return 0;
}

/* Steps after the point of no return; the caller handles a failure. */
static int inplace_modify(struct restore_ctx *c, struct inject *in)
{
	int ret, rel;

	ret = restore_memory(c);
	if (!ret) {
		c->started |= RST_REGS;
		restore_guard_arm(c);
		ret = inplace_rseq(c, in);
	}
	/* The leader's registers come back from the inject session first. */
	rel = inject_release(in);
	if (!ret)
		ret = rel;
	if (!ret)
		ret = restore_regs(c);
	return ret;
}

/* Leaves a half-restored target stopped (or killed) and detached. */
static void inplace_fail(struct restore_ctx *c, struct freeze *fz, int err)
{
	restore_report_state(c, err);
	if (c->opts->kill_on_error) {
		pr_err("--kill-on-error: killing pid %d", (int)fz->pid);
		freeze_kill(fz);
		return;
	}
	/* Queued now, taken as a group stop as soon as ptrace lets go. */
	if (kill(fz->pid, SIGSTOP) && errno != ESRCH)
		pr_err("cannot SIGSTOP pid %d: %s", (int)fz->pid, strerror(errno));
	freeze_release(fz);
	pr_err("pid %d is left STOPPED with partly restored memory; kill it or "
	       "'kill -CONT %d' at your own risk", (int)fz->pid, (int)fz->pid);
}

/* Before the point of no return: anything failing here leaves the target as it was. */
static int inplace_prepare(struct restore_ctx *c, struct freeze *fz, struct inject *in,
			   struct guard *g)
{
	const struct restore_opts *o = c->opts;
	struct freeze_opts fo = { .cgroup = o->freeze_cgroup, .guard = g };
	int ret;

	ret = guard_start(g, o->tree_pid);
	if (ret)
		return ret;
	c->guard = g;
	c->guard_sig = o->kill_on_error ? SIGKILL : SIGSTOP;
	ret = freeze_seize(fz, o->tree_pid, &fo);
	if (ret)
		return ret;
	ret = freeze_thaw_cgroup(fz);
	if (ret)
		return ret;
	c->pid = fz->pid;
	c->fz = fz;
	ret = restore_check_threads(c, fz->tids, fz->nr_tids);
	if (ret)
		return ret;
	ret = restore_check_xstate(c, fz->pid);
	if (ret)
		return ret;
	/*
	 * Not inject_attach_guard(): its trampoline is a VMA the image lacks,
	 * which restore_layout() would refuse or unmap, and a guard with
	 * logged threads lets the target run between the kernel's detach and
	 * its own seize, where an unguarded one sends the death signal at once.
	 * Nothing is injected before the point of no return; after it, a
	 * thread caught mid-call stops (death signal) with registers that the
	 * next restore overwrites anyway.
	 */
	ret = inject_init(in, fz->pid);
	if (ret)
		return ret;
	return restore_attach(c, fz->pid, in);
}

int restore_inplace(const struct restore_opts *o)
{
	struct restore_ctx c;
	struct freeze fz;
	struct inject in;
	struct guard g;
	uint64_t t0 = now_ns();
	int ret;

	guard_init(&g);
	freeze_init(&fz);
	memset(&in, 0, sizeof(in));
	ret = restore_ctx_open(&c, o);
	if (ret)
		goto out;
	ret = restore_check_image(&c);
	if (ret)
		goto out;
	ret = restore_check_exe(&c, o->tree_pid);
	if (ret)
		goto out;
	ret = inplace_prepare(&c, &fz, &in, &g);
	if (ret) {
		inject_release(&in);
		freeze_release(&fz);
		goto out;
	}
	ret = inplace_modify(&c, &in);
	c.st.t_stopped_ns = freeze_elapsed_ns(&fz);
	if (ret) {
		inject_release(&in);
		if (c.started) {
			inplace_fail(&c, &fz, ret);
		} else {
			pr_err("nothing was restored; pid %d is left as it was", (int)fz.pid);
			freeze_release(&fz);
		}
		goto out;
	}
	/* Fully restored: if we die now, the target must run on. */
	if (!guard_set_death_signal(&g, 0))
		pr_debug("pid %d: restored, guard disarmed", (int)fz.pid);
	ret = freeze_release(&fz);
	c.st.t_stopped_ns = freeze_elapsed_ns(&fz);
	c.st.t_total_ns = now_ns() - t0;
	if (!ret)
		restore_print_summary(&c, stdout);
out:
	/* Everything is undone, or the target is left stopped/killed: the guard may go. */
	guard_finish(&g);
	restore_ctx_release(&c);
	return ret;
}
