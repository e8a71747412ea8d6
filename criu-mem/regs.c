// SPDX-License-Identifier: MIT
/*
 * regs.c: capture of per-thread state (GPRs, FPU, xstate, TLS bases, sigmask,
 * rseq, robust list, comm, interrupted syscall, sigaltstack) and
 * process-wide state (sigactions, umask, cwd, root, personality).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#define LOG_PREFIX "regs: "
#include "kapi.h"
#include "log.h"
#include "regs.h"
#include "util.h"

static int getregset(pid_t tid, int type, size_t max, ProtobufCBinaryData *out)
{
	struct iovec iov;
	void *buf = malloc(max);

	if (!buf)
		return -ENOMEM;
	iov.iov_base = buf;
	iov.iov_len = max;
	if (ptrace(PTRACE_GETREGSET, tid, type, &iov)) {
		int err = -errno;

		free(buf);
		return err;
	}
	if (iov.iov_len < max) {	/* give back the slack of a large probe buffer */
		void *n = realloc(buf, iov.iov_len ? iov.iov_len : 1);

		if (n)
			buf = n;
	}
	out->data = buf;
	out->len = iov.iov_len;
	return 0;
}

static void read_comm(pid_t tid, ThreadCore *t)
{
	char path[64], *s = NULL;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/comm", tid);
	if (read_file_str(path, &s, &len, 64))
		return;
	if (len && s[len - 1] == '\n')
		s[len - 1] = 0;
	t->comm = s;
}

static void read_syscall_nr(pid_t tid, const struct user_regs_struct *r, ThreadCore *t)
{
	struct __ptrace_syscall_info si;

	t->has_syscall_nr = 1;
	t->syscall_nr = (long)r->orig_rax >= 0 ? (int32_t)r->orig_rax : -1;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(si), &si) > 0 &&
	    si.op == PTRACE_SYSCALL_INFO_ENTRY)
		t->syscall_nr = (int32_t)si.entry.nr;
}

static void read_rseq_robust(pid_t tid, ThreadCore *t)
{
	struct cm_ptrace_rseq_config rc;
	void *head;
	size_t len;

	memset(&rc, 0, sizeof(rc));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) > 0 &&
	    rc.rseq_abi_pointer) {
		t->has_rseq_addr = t->has_rseq_len = t->has_rseq_sig = 1;
		t->rseq_addr = rc.rseq_abi_pointer;
		t->rseq_len = rc.rseq_abi_size;
		t->rseq_sig = rc.signature;
	}
	if (!syscall(SYS_get_robust_list, tid, &head, &len)) {
		t->has_robust_list = t->has_robust_len = 1;
		t->robust_list = (uint64_t)(uintptr_t)head;
		t->robust_len = len;
	}
}

static void read_cpu_mask(pid_t tid, struct inject *in, ThreadCore *t)
{
	cpu_set_t set;
	const cpu_set_t *src = &set;
	uint64_t m = 0;
	int i;

	if (in && in->tid == tid && in->cpus_size && in->saved_cpus)
		src = in->saved_cpus;
	else if (sched_getaffinity(tid, sizeof(set), &set))
		return;
	for (i = 0; i < 64; i++)
		if (CPU_ISSET_S(i, sizeof(cpu_set_t), src))
			m |= 1ull << i;
	t->has_cpu_mask = 1;
	t->cpu_mask = m;
}

/* sigaltstack(NULL, scratch) and prctl(PR_GET_TID_ADDRESS, scratch + 32). */
static void read_injected(struct inject *in, const struct inject_scratch *s, ThreadCore *t)
{
	unsigned long a[6] = { 0, s->addr };
	struct iovec l, r;
	uint64_t buf[5];
	int ok;

	if (inject_syscall(in, SYS_sigaltstack, a, &ok) || !ok)
		return;
	a[0] = PR_GET_TID_ADDRESS;
	a[1] = s->addr + 24;
	memset(buf, 0, sizeof(buf));
	if (inject_syscall(in, SYS_prctl, a, &ok) || !ok)
		buf[3] = 0;
	l.iov_base = buf;
	l.iov_len = 32;
	r.iov_base = (void *)(uintptr_t)s->addr;
	r.iov_len = 32;
	if (process_vm_readv(in->tid, &l, 1, &r, 1, 0) != 32)
		return;
	/* stack_t: ss_sp (8), ss_flags (4 + pad), ss_size (8) */
	t->has_altstack_sp = t->has_altstack_size = t->has_altstack_flags = 1;
	t->altstack_sp = buf[0];
	t->altstack_flags = (uint32_t)buf[1];
	t->altstack_size = buf[2];
	if (buf[3]) {
		t->has_clear_tid_addr = 1;
		t->clear_tid_addr = buf[3];
	}
}

int regs_thread_capture(pid_t tid, struct inject *in, const struct inject_scratch *scratch,
			ThreadCore *t)
{
	struct user_regs_struct *r;
	uint64_t mask = 0;
	int ret;

	thread_core__init(t);
	t->tid = tid;
	ret = getregset(tid, NT_PRSTATUS, sizeof(struct user_regs_struct), &t->gpregs);
	if (ret)
		return cm_err(ret, "thread %d: cannot get registers", tid);
	r = (struct user_regs_struct *)t->gpregs.data;
	if (in && in->tid == tid && in->active)
		memcpy(r, &in->saved, sizeof(*r));	/* not our injected state */
	t->has_fs_base = t->has_gs_base = 1;
	t->fs_base = r->fs_base;
	t->gs_base = r->gs_base;
	if (!getregset(tid, NT_PRFPREG, 512, &t->fpregs))
		t->has_fpregs = 1;
	if (in && in->tid == tid && in->xstate) {
		t->xstate.data = malloc(in->xstate_len);
		if (t->xstate.data) {
			memcpy(t->xstate.data, in->xstate, in->xstate_len);
			t->xstate.len = in->xstate_len;
			t->has_xstate = 1;
		}
	} else if (!getregset(tid, NT_X86_XSTATE, 65536, &t->xstate)) {
		t->has_xstate = 1;
	}
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask))
		return cm_err(-errno, "thread %d: cannot get the signal mask", tid);
	t->sigmask = mask;
	read_rseq_robust(tid, t);
	read_comm(tid, t);
	read_syscall_nr(tid, r, t);
	read_cpu_mask(tid, in, t);
	if (in && in->tid == tid && in->active && scratch && scratch->len >= 64)
		read_injected(in, scratch, t);
	return 0;
}

void regs_thread_release(ThreadCore *t)
{
	free(t->gpregs.data);
	free(t->fpregs.data);
	free(t->xstate.data);
	free(t->comm);
	thread_core__init(t);
}

/* Kernel struct sigaction on x86_64. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static int read_sigactions(pid_t pid, struct inject *in, const struct inject_scratch *s,
			   TaskCore *t)
{
	struct ksigaction ka[64];
	struct iovec l = { ka, sizeof(ka) }, r = { (void *)(uintptr_t)s->addr, sizeof(ka) };
	int sig, ok, n = 0;
	long ret;

	memset(ka, 0, sizeof(ka));
	if (inject_poke(pid, s->addr, ka, sizeof(ka)))
		return -EFAULT;
	for (sig = 1; sig <= 64; sig++) {
		unsigned long a[6] = { sig, 0, s->addr + (sig - 1) * sizeof(ka[0]), 8 };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ret = inject_syscall(in, SYS_rt_sigaction, a, &ok);
		if (!ok)
			return ret;
		if (ret)
			pr_debug("pid %d: rt_sigaction(%d) gave %ld", pid, sig, ret);
	}
	if (process_vm_readv(in->tid, &l, 1, &r, 1, 0) != sizeof(ka))
		return cm_err(-EFAULT, "pid %d: cannot read back sigactions at %#lx", pid,
			      (unsigned long)s->addr);
	t->sigactions = calloc(64, sizeof(*t->sigactions));
	if (!t->sigactions)
		return -ENOMEM;
	for (sig = 1; sig <= 64; sig++) {
		const struct ksigaction *k = &ka[sig - 1];
		SigactionEntry *e;

		if (!k->handler && !k->flags && !k->mask)
			continue;
		e = malloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		sigaction_entry__init(e);
		e->sig = sig;
		e->handler = k->handler;
		e->flags = k->flags;
		e->restorer = k->restorer;
		e->mask = k->mask;
		t->sigactions[n++] = e;
		t->n_sigactions = n;
	}
	return 0;
}

static char *read_link(pid_t pid, const char *what)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

int regs_read_personality(pid_t pid, uint32_t *out)
{
	char path[64], *s = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/personality", pid);
	ret = read_file_str(path, &s, NULL, 64);
	if (ret)
		return ret;
	*out = strtoul(s, NULL, 16);
	free(s);
	return 0;
}

static int read_proc_status(pid_t pid, TaskCore *t)
{
	char path[64], *s = NULL, *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	ret = read_file_str(path, &s, NULL, 1 << 16);
	if (ret)
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot read '%s'", path);
	p = strstr(s, "\nUmask:");
	if (p) {
		t->has_umask = 1;
		t->umask = strtoul(p + 7, NULL, 8);
	}
	p = strstr(s, "\nSigBlk:");
	if (p) {
		t->has_blocked = 1;
		t->blocked = strtoull(p + 8, NULL, 16);
	}
	free(s);
	if (!regs_read_personality(pid, &t->personality))
		t->has_personality = 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!read_file_str(path, &s, NULL, 4096)) {
		/* field 38 (exit_signal) is the 36th after the ") " */
		int i;

		p = strrchr(s, ')');
		for (i = 0; p && i < 36; i++)
			p = strchr(p + 1, ' ');
		if (p) {
			t->has_exit_signal = 1;
			t->exit_signal = atoi(p + 1);
		}
		free(s);
	}
	return 0;
}

int regs_task_capture(pid_t pid, struct inject *in, const struct inject_scratch *scratch,
		      TaskCore *t)
{
	int ret;

	task_core__init(t);
	t->pid = pid;
	ret = read_proc_status(pid, t);
	if (ret)
		return ret;
	t->cwd = read_link(pid, "cwd");
	t->root = read_link(pid, "root");
	if (in && in->active && scratch && scratch->len >= 64 * sizeof(struct ksigaction)) {
		ret = read_sigactions(pid, in, scratch, t);
		if (ret)
			return cm_err(ret, "pid %d: cannot capture sigactions", pid);
	}
	return 0;
}

void regs_task_release(TaskCore *t)
{
	size_t i;

	for (i = 0; i < t->n_sigactions; i++)
		free(t->sigactions[i]);
	free(t->sigactions);
	free(t->cwd);
	free(t->root);
	task_core__init(t);
}
