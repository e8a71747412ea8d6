// SPDX-License-Identifier: MIT
/*
 * restore_new_host.c: the host of a new-process restore. A fork of
 * criu-mem (clone3 with set_tid = the image's pid) that sets up what it can
 * do itself (fds, umask, cwd, personality, name, signal handlers), blocks
 * every signal and waits; criu-mem then seizes it with PTRACE_O_EXITKILL.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "img.h"
#include "log.h"
#include "restore.h"
#include "restore_new.h"
#include "util.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP	128
#endif

/* Steps of the host's own setup, reported back through the status pipe. */
enum host_step {
	HS_OK, HS_PARENT, HS_FDS, HS_UMASK, HS_CWD, HS_PERSONALITY, HS_SIGACTION, HS_PRCTL,
};

static const char *const host_step_names[] = {
	[HS_OK] = "ok", [HS_PARENT] = "parent died", [HS_FDS] = "fd table",
	[HS_UMASK] = "umask", [HS_CWD] = "working directory",
	[HS_PERSONALITY] = "personality", [HS_SIGACTION] = "signal handler",
	[HS_PRCTL] = "prctl",
};

struct host_msg {
	int step;
	int err;	/* -errno */
	int arg;	/* signal number for HS_SIGACTION */
};

/* The kernel's struct sigaction for rt_sigaction (x86_64). */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

static int host_sigactions(const TaskCore *t, int *bad_sig)
{
	struct ksigaction ka;
	size_t i;
	int sig;

	/* Everything default first: criu-mem's own handlers must not survive. */
	memset(&ka, 0, sizeof(ka));
	for (sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &ka, NULL, 8)) {
			*bad_sig = sig;
			return -errno;
		}
	}
	for (i = 0; t && i < t->n_sigactions; i++) {
		const SigactionEntry *s = t->sigactions[i];

		if (s->sig < 1 || s->sig > 64 || s->sig == SIGKILL || s->sig == SIGSTOP)
			continue;
		ka.handler = s->handler;
		ka.flags = s->flags;
		ka.restorer = s->restorer;
		ka.mask = s->mask;
		if (syscall(SYS_rt_sigaction, (int)s->sig, &ka, NULL, 8)) {
			*bad_sig = (int)s->sig;
			return -errno;
		}
	}
	return 0;
}

/* The host's own part; runs in the child, no allocation, no stdio. */
static struct host_msg host_setup(const struct img_mem *m, struct rn_fds *fds, int *status_fd,
				  pid_t parent)
{
	const TaskCore *t = m->task;
	struct host_msg msg = { HS_OK, 0, 0 };
	stack_t no_stack = { .ss_flags = SS_DISABLE };
	uint64_t all = ~0ull;
	int fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		return (struct host_msg){ HS_PARENT, -ESRCH, 0 };
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8))
		return (struct host_msg){ HS_SIGACTION, -errno, 0 };
	/* criu-mem's own signal stack (sanitizers set one) is not the image's. */
	if (sigaltstack(&no_stack, NULL))
		return (struct host_msg){ HS_SIGACTION, -errno, 0 };
	fd = rn_fds_install(fds, *status_fd);
	if (fd < 0)
		return (struct host_msg){ HS_FDS, fd, 0 };
	*status_fd = fd;
	if (t && t->has_umask)
		umask(t->umask & 0777);
	if (t && t->cwd && chdir(t->cwd))
		return (struct host_msg){ HS_CWD, -errno, 0 };
	if (t && t->has_personality && personality(t->personality) == -1)
		return (struct host_msg){ HS_PERSONALITY, -errno, 0 };
	if (m->nr_threads && m->threads[0]->comm &&
	    prctl(PR_SET_NAME, m->threads[0]->comm))
		return (struct host_msg){ HS_PRCTL, -errno, 0 };
	if (m->mm->has_thp_disable && m->mm->thp_disable &&
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return (struct host_msg){ HS_PRCTL, -errno, 0 };
	if (m->mm->has_dumpable && m->mm->dumpable == 0 && prctl(PR_SET_DUMPABLE, 0))
		return (struct host_msg){ HS_PRCTL, -errno, 0 };
	msg.err = host_sigactions(t, &msg.arg);
	if (msg.err)
		msg.step = HS_SIGACTION;
	return msg;
}

static void host_main(const struct img_mem *m, struct rn_fds *fds, int status_fd, pid_t parent)
{
	struct host_msg msg = host_setup(m, fds, &status_fd, parent);
	ssize_t n = write(status_fd, &msg, sizeof(msg));

	if (msg.step != HS_OK || n != (ssize_t)sizeof(msg))
		_exit(127);
	close(status_fd);
	for (;;)
		pause();	/* criu-mem seizes and interrupts us here */
}

static pid_t host_clone(pid_t want)
{
	struct clone_args a;
	pid_t tid = want;

	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	if (want > 0) {
		a.set_tid = (uint64_t)(uintptr_t)&tid;
		a.set_tid_size = 1;
	}
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

static int host_fork(struct rn_host *h, const struct restore_opts *o, const struct img_mem *m,
		     struct rn_fds *fds, int status_fd)
{
	pid_t want = (pid_t)m->pid, pid, parent = getpid();

	pid = host_clone(want);
	if (pid < 0 && (errno == EEXIST || errno == EPERM || errno == EINVAL)) {
		int err = -errno;

		if (!o->pid_mismatch_ok) {
			if (err == -EEXIST)
				return cm_err(err, "pid %d is in use, use --pid-mismatch-ok", want);
			return cm_err(err, "cannot create a process with pid %d "
				      "(use --pid-mismatch-ok)", want);
		}
		pr_info("pid %d unavailable (%s), restoring with another pid", want,
			strerror(-err));
		pid = host_clone(0);
	}
	if (pid < 0)
		return cm_err(-errno, "clone3");
	if (pid == 0)
		host_main(m, fds, status_fd, parent);	/* never returns */
	h->pid = pid;
	if (pid != want)
		pr_warn("restored process has pid %d instead of %d", pid, want);
	return 0;
}

static int host_wait_setup(struct rn_host *h, int rfd)
{
	struct host_msg msg;
	int ret = read_full(rfd, &msg, sizeof(msg)), st = 0;

	if (ret == -ENODATA) {
		if (waitpid(h->pid, &st, 0) == h->pid)
			h->pid = 0;
		return cm_err(-ESRCH, "host process died while setting up (status %#x)", st);
	}
	if (ret)
		return cm_err(ret, "host process %d: status pipe", h->pid);
	if (msg.step == HS_OK) {
		/* EOF once the host closed its end: it holds no fd of ours then. */
		char c;
		ssize_t n;

		while ((n = read(rfd, &c, 1)) < 0 && errno == EINTR)
			;
		return n == 0 ? 0 : cm_err(-EPROTO, "host process %d: status pipe", h->pid);
	}
	if (msg.step < 0 || (size_t)msg.step >= ARRAY_SIZE(host_step_names))
		msg.step = HS_PARENT;
	if (msg.step == HS_SIGACTION && msg.arg)
		return cm_err(msg.err ? msg.err : -EIO, "host process %d: signal handler of %d",
			      h->pid, msg.arg);
	if (msg.step == HS_CWD)
		return cm_err(msg.err ? msg.err : -EIO, "host process %d: cannot chdir to '%s'",
			      h->pid, "the image's cwd");
	return cm_err(msg.err ? msg.err : -EIO, "host process %d: %s", h->pid,
		      host_step_names[msg.step]);
}

static int host_seize(struct rn_host *h)
{
	int st;

	if (ptrace(PTRACE_SEIZE, h->pid, 0, (void *)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)))
		return cm_err(-errno, "cannot seize host process %d", h->pid);
	h->seized = 1;
	if (ptrace(PTRACE_INTERRUPT, h->pid, 0, 0))
		return cm_err(-errno, "cannot interrupt host process %d", h->pid);
	for (;;) {
		if (waitpid(h->pid, &st, __WALL) != h->pid) {
			if (errno == EINTR)
				continue;
			return cm_err(-errno, "waitpid %d", h->pid);
		}
		if (!WIFSTOPPED(st))
			return cm_err(-ESRCH, "host process %d died (status %#x)", h->pid, st);
		if ((st >> 16) == PTRACE_EVENT_STOP) {
			pr_debug("host %d seized and stopped", h->pid);
			return 0;
		}
		pr_debug("host %d: stop %#x while seizing", h->pid, st);
		/* A signal stop: every signal is blocked, so only SIGKILL-like ones. */
		if (ptrace(PTRACE_CONT, h->pid, 0, 0))
			return cm_err(-errno, "host process %d", h->pid);
	}
}

int rn_host_spawn(struct rn_host *h, const struct restore_opts *o, const struct img_mem *m,
		  struct rn_fds *fds)
{
	int p[2] = { -1, -1 }, ret;

	memset(h, 0, sizeof(*h));
	if (m->task && m->task->cwd) {
		struct stat st;

		if (stat(m->task->cwd, &st))
			return cm_err(-errno, "working directory '%s' of the image", m->task->cwd);
		if (!S_ISDIR(st.st_mode))
			return cm_err(-ENOTDIR, "working directory '%s' of the image",
				      m->task->cwd);
	}
	if (pipe2(p, O_CLOEXEC))
		return cm_err(-errno, "pipe2");
	ret = host_fork(h, o, m, fds, p[1]);
	close_safe(&p[1]);
	if (!ret)
		ret = host_wait_setup(h, p[0]);
	close_safe(&p[0]);
	if (!ret)
		ret = host_seize(h);
	if (ret)
		rn_host_kill(h);
	return ret;
}

void rn_host_kill(struct rn_host *h)
{
	int st;

	pid_t p;

	if (h->pid <= 0)
		return;
	kill(h->pid, SIGKILL);
	/* Threads it already has are our tracees: reap them too, or the
	 * leader's zombie never comes. criu-mem has no other children here. */
	do {
		p = waitpid(-1, &st, __WALL);
	} while (p != h->pid && (p > 0 || errno == EINTR));
	h->pid = 0;
	h->seized = 0;
}
