// SPDX-License-Identifier: MIT
/*
 * restore_new.c: criu-mem restore -D DIR. Rebuilds a process from its image
 * alone: host process (restore_new_host.c), address space cleared and
 * rebuilt at the image's addresses, per-task state, registers; then detach
 * and (without -d) wait for it and pass its exit status on. Any failure
 * kills the half-built process.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliopt.h"
#include "inject.h"
#include "log.h"
#include "restore.h"
#include "restore_new.h"
#include "util.h"

#define RN_MAX_THREADS	4096

/* Image checks specific to a new process, before anything is created. */
static int new_check(const struct img_mem *m)
{
	if (!m->task || !m->nr_threads)
		return cm_err(-EBADMSG, "the image of pid %u has no core file (task and "
			      "thread state): cannot restore it as a new process", m->pid);
	if (m->nr_threads > RN_MAX_THREADS)
		return cm_err(-EOPNOTSUPP, "new-process restore of %zu threads (at most %d)",
			      m->nr_threads, RN_MAX_THREADS);
	if (!m->mm)
		return cm_err(-EBADMSG, "the image of pid %u has no mm record", m->pid);
	return 0;
}

/* mm fields, layout, contents, madvise state and task state. */
static int new_build(struct restore_ctx *c, struct inject *in, pid_t *tids)
{
	const struct img_mem *m = c->mem;
	int ret;

	ret = rn_mm_clear_host(in, m);
	/* mm fields first: brk is then already the image's for restore_layout(). */
	if (!ret)
		ret = rn_mm_set_fields(in, m);
	if (!ret)
		ret = restore_attach(c, in->tid, in);
	if (!ret)
		ret = restore_memory(c);
	if (!ret)
		ret = rn_mm_fix_account(in, m);
	/* Threads before the leader's rseq: its registration must be the last
	 * thing the leader runs before detach. */
	if (!ret)
		ret = rn_threads_create(in, m, c->opts->pid_mismatch_ok, tids);
	if (!ret)
		ret = rn_task_restore(in, m, m->threads[0]);
	return ret;
}

/* Waits for the restored process (our child) and turns its end into a status. */
static int wait_restored(pid_t pid)
{
	int st;

	for (;;) {
		if (waitpid(pid, &st, 0) == pid)
			break;
		if (errno != EINTR)
			return cm_err(-errno, "waitpid %d", (int)pid);
	}
	if (WIFEXITED(st)) {
		pr_info("pid %d exited with status %d", (int)pid, WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	pr_info("pid %d was killed by signal %d", (int)pid, WTERMSIG(st));
	return 128 + WTERMSIG(st);
}

static int new_finish(struct restore_ctx *c, struct inject *in, struct rn_host *h,
		      const pid_t *tids)
{
	const ThreadCore *tc = c->mem->threads[0];
	uint8_t regs[sizeof(struct user_regs_struct)];
	ThreadCore rw;
	int ret;

	ret = rn_task_rewind(tc, &rw, regs, sizeof(regs));
	if (ret)
		return ret;
	ret = inject_release(in);
	if (ret)
		return ret;
	ret = restore_thread_regs(h->pid, &rw);
	if (ret)
		return ret;
	c->done |= RST_REGS;
	c->st.threads = c->mem->nr_threads;
	rn_task_cpu_mask(h->pid, tc);
	ret = rn_threads_detach(tids, c->mem->nr_threads);
	if (ret)
		return ret;
	if (ptrace(PTRACE_DETACH, h->pid, 0, 0))
		return cm_err(-errno, "cannot detach from pid %d", (int)h->pid);
	h->seized = 0;
	/* Once it runs untraced; a failure here still kills it (nobody else
	 * would know its pid). */
	if (c->opts->pidfile)
		return cliopt_write_pidfile(c->opts->pidfile, h->pid);
	return 0;
}

int restore_new(const struct restore_opts *o)
{
	struct restore_ctx c;
	struct rn_fds fds;
	struct rn_host h;
	struct inject in;
	uint64_t t0 = now_ns();
	pid_t pid, *tids = NULL;
	int ret;

	memset(&fds, 0, sizeof(fds));
	memset(&h, 0, sizeof(h));
	memset(&in, 0, sizeof(in));
	ret = restore_ctx_open(&c, o);
	if (!ret)
		ret = restore_check_image(&c);
	if (!ret)
		ret = new_check(c.mem);
	if (!ret) {
		tids = calloc(c.mem->nr_threads, sizeof(*tids));
		ret = tids ? 0 : cm_err(-ENOMEM, "thread table");
	}
	if (!ret)
		ret = rn_fds_prepare(o, c.dir, c.mem->pid, &fds);
	if (!ret)
		ret = rn_host_spawn(&h, o, c.mem, &fds);
	rn_fds_release(&fds);
	if (!ret)
		ret = restore_check_xstate(&c, h.pid);
	if (!ret)
		ret = inject_init(&in, h.pid);
	if (!ret)
		ret = new_build(&c, &in, tids);
	if (!ret)
		ret = new_finish(&c, &in, &h, tids);
	if (ret) {
		inject_release(&in);
		if (h.pid)
			pr_err("killing the half-built process %d", (int)h.pid);
		rn_host_kill(&h);
		goto out;
	}
	pid = h.pid;
	c.st.t_total_ns = now_ns() - t0;
	if (o->json)
		restore_print_summary(&c, stdout);
	else if (log_get_level() >= LOG_INFO)
		restore_print_summary(&c, stderr);
	pr_info("restored pid %d from '%s'", (int)pid, o->images_dir);
	restore_ctx_release(&c);
	free(tids);
	return o->detached ? 0 : wait_restored(pid);
out:
	restore_ctx_release(&c);
	free(tids);
	return ret;
}
