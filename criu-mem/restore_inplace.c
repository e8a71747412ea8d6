// SPDX-License-Identifier: MIT
/*
 * restore_inplace.c: criu-mem restore -D DIR -t PID. Rolls a live process
 * back to the image: verify the image, freeze, match threads, then layout,
 * pages, madvise and registers. A late failure leaves the target stopped
 * (SIGSTOP, detached) or kills it with --kill-on-error.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "freeze.h"
#include "inject.h"
#include "log.h"
#include "restore.h"
#include "util.h"

/* Steps after the point of no return; the caller handles a failure. */
static int inplace_modify(struct restore_ctx *c, struct inject *in)
{
	uint64_t t0 = now_ns();
	int ret, rel;

	ret = restore_layout(c);
	c->st.t_layout_ns = now_ns() - t0;
	if (!ret)
		ret = restore_pages(c);
	t0 = now_ns();
	if (!ret)
		ret = restore_madvise(c);
	c->st.t_madvise_ns = now_ns() - t0;
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
static int inplace_prepare(struct restore_ctx *c, struct freeze *fz, struct inject *in)
{
	const struct restore_opts *o = c->opts;
	struct freeze_opts fo = { .cgroup = o->freeze_cgroup };
	int ret;

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
	uint64_t t0 = now_ns();
	int ret;

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
	ret = inplace_prepare(&c, &fz, &in);
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
	ret = freeze_release(&fz);
	c.st.t_stopped_ns = freeze_elapsed_ns(&fz);
	c.st.t_total_ns = now_ns() - t0;
	if (!ret)
		restore_print_summary(&c, stdout);
out:
	restore_ctx_release(&c);
	return ret;
}
