// SPDX-License-Identifier: MIT
/*
 * inject.c: run system calls inside a ptrace-stopped thread through
 * PTRACE_SYSCALL entry/exit stops, and put its registers, xstate, syscall
 * restart state, affinity and pending signals back exactly.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "inject: "
#include "guard.h"
#include "inject.h"
#include "kapi.h"
#include "log.h"
#include "util.h"

#define SYSCALL_INSN_LEN 2

static int peek2(pid_t pid, uint64_t addr, unsigned char out[2])
{
	struct iovec l = { out, 2 }, r = { (void *)(uintptr_t)addr, 2 };

	return process_vm_readv(pid, &l, 1, &r, 1, 0) == 2 ? 0 : -EFAULT;
}

/* Offset of a "syscall" (0f 05) in our own vDSO: the kernel maps the same
 * image into every process, so the target's copy is never scanned. */
static long own_vdso_syscall_off(void)
{
	const unsigned char *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Phdr *ph;
	size_t i, j;

	if (!base)
		return -1;
	ph = (const void *)(base + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		for (j = ph[i].p_offset; j + 1 < ph[i].p_offset + ph[i].p_filesz; j++)
			if (base[j] == 0x0f && base[j + 1] == 0x05)
				return j;
	}
	return -1;
}

static int target_vdso(pid_t pid, uint64_t *start)
{
	char path[64], line[512];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[vdso]")) {
			unsigned long s;

			if (sscanf(line, "%lx-", &s) == 1) {
				*start = s;
				ret = 0;
			}
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Fallback for targets without a usable [vdso]: the first 0f 05 in the
 * first 64 KiB of an executable file mapping (libc has many). */
static int exec_scan(pid_t pid, uint64_t *ip)
{
	char path[64], line[512];
	unsigned char buf[4096];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		unsigned long s, e, a;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) != 3 || strcmp(perms, "r-xp") ||
		    !strchr(line, '/'))
			continue;
		for (a = s; ret && a < e && a < s + 65536; a += sizeof(buf)) {
			struct iovec l = { buf, sizeof(buf) }, r = { (void *)a, sizeof(buf) };
			ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0), i;

			for (i = 0; i + 1 < n; i++) {
				if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
					*ip = a + i;
					ret = 0;
					break;
				}
			}
		}
	}
	fclose(f);
	return ret;
}

static int find_syscall_ip(struct inject *in)
{
	unsigned char b[2];
	uint64_t vdso;
	long off;

	if ((long)in->saved.orig_rax >= 0 && in->saved.rip >= SYSCALL_INSN_LEN &&
	    !peek2(in->tid, in->saved.rip - SYSCALL_INSN_LEN, b) && b[0] == 0x0f && b[1] == 0x05) {
		in->syscall_ip = in->saved.rip - SYSCALL_INSN_LEN;
		return 0;
	}
	off = own_vdso_syscall_off();
	if (off >= 0 && !target_vdso(in->tid, &vdso) && !peek2(in->tid, vdso + off, b) &&
	    b[0] == 0x0f && b[1] == 0x05) {
		in->syscall_ip = vdso + off;
		return 0;
	}
	if (!exec_scan(in->tid, &in->syscall_ip))
		return 0;
	return cm_err(-ENOENT, "thread %d: no syscall instruction found", in->tid);
}

static int save_xstate(struct inject *in)
{
	size_t len = 16384;
	struct iovec iov;

	for (;;) {
		void *buf = malloc(len);

		if (!buf)
			return -ENOMEM;
		iov.iov_base = buf;
		iov.iov_len = len;
		if (ptrace(PTRACE_GETREGSET, in->tid, NT_X86_XSTATE, &iov)) {
			free(buf);
			return -errno;
		}
		if (iov.iov_len < len) {
			in->xstate = buf;
			in->xstate_len = iov.iov_len;
			return 0;
		}
		free(buf);
		len *= 2;
	}
}

static pid_t read_tgid(pid_t tid)
{
	char path[64], *s = NULL, *p;
	pid_t tgid = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_file_str(path, &s, NULL, 1 << 16))
		return 0;
	p = strstr(s, "\nTgid:");
	if (p)
		tgid = atoi(p + 6);
	free(s);
	return tgid;
}

/* Remembers the thread's CPU mask; pinning happens per injected call. */
static void save_cpus(struct inject *in)
{
	size_t sz = CPU_ALLOC_SIZE(1024);

	in->saved_cpus = CPU_ALLOC(1024);
	if (in->saved_cpus && !sched_getaffinity(in->tid, sz, in->saved_cpus))
		in->cpus_size = sz;
}

/* Pins the thread to the CPU we run on, so the round trips stay on one CPU. */
static void pin_cpu(struct inject *in)
{
	cpu_set_t *one;
	int cpu = sched_getcpu();

	if (!in->cpus_size || cpu < 0)
		return;
	one = CPU_ALLOC(1024);
	if (!one)
		return;
	CPU_ZERO_S(in->cpus_size, one);
	CPU_SET_S(cpu, in->cpus_size, one);
	if (!sched_setaffinity(in->tid, in->cpus_size, one))
		in->pinned = 1;
	CPU_FREE(one);
}

static int unpin_cpu(struct inject *in)
{
	if (!in->pinned)
		return 0;
	in->pinned = 0;
	if (sched_setaffinity(in->tid, in->cpus_size, in->saved_cpus))
		return -errno;
	return 0;
}

int inject_init(struct inject *in, pid_t tid)
{
	int ret;

	memset(in, 0, sizeof(*in));
	in->tid = tid;
	if (ptrace(PTRACE_GETREGS, tid, 0, &in->saved))
		return cm_err(errno == ESRCH ? -ESRCH : -errno,
			      "thread %d: cannot get registers (not stopped?)", tid);
	ret = save_xstate(in);
	if (ret) {
		ret = cm_err(ret, "thread %d: cannot get xstate", tid);
		goto fail;
	}
	ret = find_syscall_ip(in);
	if (ret)
		goto fail;
	in->tgid = read_tgid(tid);
	save_cpus(in);
	in->active = 1;
	return 0;
fail:
	free(in->xstate);
	in->xstate = NULL;
	return ret;
}

/* Remembers a signal taken from the thread at a signal-delivery-stop. */
static void hold_signal(struct inject *in, int sig)
{
	siginfo_t si;

	if (sig < 1 || sig > 64)
		return;
	in->requeue |= 1ull << (sig - 1);
	if (ptrace(PTRACE_GETSIGINFO, in->tid, 0, &si)) {
		memset(&si, 0, sizeof(si));
		si.si_signo = sig;
		si.si_code = SI_TKILL;
	}
	if (in->nr_held == in->cap_held) {
		size_t cap = in->cap_held ? in->cap_held * 2 : 8;
		siginfo_t *n = realloc(in->held, cap * sizeof(*n));

		if (!n) {
			pr_warn("thread %d: out of memory holding signal %d", in->tid, sig);
			return;
		}
		in->held = n;
		in->cap_held = cap;
	}
	in->held[in->nr_held++] = si;
}

/* Re-queues held signals; siginfo kept where the kernel allows it. */
static void requeue_signals(struct inject *in)
{
	size_t i;

	for (i = 0; i < in->nr_held; i++) {
		siginfo_t *si = &in->held[i];
		int sig = si->si_signo, r = -1;

		if (si->si_code < 0 && si->si_code != SI_TKILL && in->tgid > 0)
			r = syscall(SYS_rt_tgsigqueueinfo, in->tgid, in->tid, sig, si);
		if (r && syscall(SYS_tkill, in->tid, sig))
			pr_warn("thread %d: cannot re-queue signal %d: %m", in->tid, sig);
	}
	in->nr_held = 0;
	in->requeue = 0;
}

/*
 * Resumes with PTRACE_SYSCALL until the next syscall stop. Signals that
 * arrive meanwhile are suppressed and remembered for re-queueing at
 * release; a SIGPIPE that our own injected call raised is dropped.
 */
static int step_to_syscall_stop(struct inject *in, int drop_sigpipe)
{
	int st, sig;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, in->tid, 0, 0))
			return errno == ESRCH ? -ESRCH : -errno;
		while (waitpid(in->tid, &st, __WALL) < 0) {
			if (errno != EINTR)
				return -ESRCH;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (sig == (SIGTRAP | 0x80))
			return 0;
		if ((st >> 16) == PTRACE_EVENT_STOP || sig == SIGTRAP)
			continue;	/* group stop or stray trap: resume */
		if (sig == SIGPIPE && drop_sigpipe) {
			siginfo_t si;

			if (!ptrace(PTRACE_GETSIGINFO, in->tid, 0, &si) && si.si_code == SI_USER)
				continue;
		}
		hold_signal(in, sig);
	}
}

static long do_syscall(struct inject *in, long nr, const unsigned long a[6], int drop_sigpipe,
		       enum guard_track track, int *ok)
{
	struct user_regs_struct r = in->saved;
	int ret;

	*ok = 0;
	if (in->guard)
		guard_call_begin(in->guard, in->gslot, nr, a, track);
	r.rip = in->syscall_ip;
	r.rax = nr;
	r.orig_rax = -1;	/* keeps the kernel's restart logic off our registers */
	r.rdi = a[0];
	r.rsi = a[1];
	r.rdx = a[2];
	r.r10 = a[3];
	r.r8 = a[4];
	r.r9 = a[5];
	in->dirty = 1;
	if (ptrace(PTRACE_SETREGS, in->tid, 0, &r))
		return cm_err(errno == ESRCH ? -ESRCH : -errno, "thread %d: cannot set registers",
			      in->tid);
	pin_cpu(in);
	ret = step_to_syscall_stop(in, drop_sigpipe);	/* entry */
	if (!ret)
		ret = step_to_syscall_stop(in, drop_sigpipe);	/* exit */
	if (!ret && ptrace(PTRACE_GETREGS, in->tid, 0, &r))
		ret = -errno;
	if (!ret && in->guard)
		guard_call_result(in->guard, in->gslot, (long)r.rax);
	/* Between calls the thread holds its own registers and CPU mask: if we
	 * are SIGKILLed now, the kernel's detach restarts it as if untouched. */
	if (!ret && ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved))
		ret = -errno;
	if (unpin_cpu(in) && !ret)
		ret = -errno;
	if (in->guard)
		guard_call_end(in->guard, in->gslot);
	if (ret)
		return cm_err(ret, "thread %d: injected syscall %ld failed", in->tid, nr);
	*ok = 1;
	in->nr_calls++;
	return (long)r.rax;
}

static long syscall_track(struct inject *in, long nr, const unsigned long args[6],
			  enum guard_track track, int *ok)
{
	static const unsigned long none[6];
	int dummy, ok2;
	long ret;

	if (!ok)
		ok = &dummy;
	if (!in->active) {
		*ok = 0;
		return cm_err(-EINVAL, "thread %d: injection not initialised", in->tid);
	}
	ret = do_syscall(in, nr, args ? args : none, 0, track, ok);
	if (!*ok)
		return ret;
	if (ret == -EPIPE) {
		/* SIGPIPE is now queued to the thread: one more round trip returns
		 * to user mode, where it is dequeued into a signal-delivery-stop
		 * and dropped (unless the target blocks SIGPIPE). */
		do_syscall(in, SYS_getpid, none, 1, GUARD_TRACK_NONE, &ok2);
	}
	if (ret == -512 || ret == -513 || ret == -514 || ret == -516)
		ret = -EINTR;	/* ERESTART*: interrupted by a signal we held */
	return ret;
}

long inject_syscall(struct inject *in, long nr, const unsigned long args[6], int *ok)
{
	return syscall_track(in, nr, args, GUARD_TRACK_NONE, ok);
}

long inject_syscall_tracked(struct inject *in, long nr, const unsigned long args[6], int *ok)
{
	return syscall_track(in, nr, args, GUARD_TRACK_CREATE, ok);
}

/* Maps the trampoline (from the original syscall instruction) and writes
 * its code through /proc/PID/mem, which may write a PROT_EXEC page. */
static int tramp_create(struct inject *in)
{
	unsigned long a[6] = { 0, GUARD_TRAMP_LEN, PROT_READ | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, (unsigned long)-1, 0 };
	const unsigned char *code;
	char path[64];
	size_t len;
	int ok, fd, ret;
	long r;

	r = syscall_track(in, SYS_mmap, a, GUARD_TRACK_TRAMP, &ok);
	if (!ok)
		return (int)r;
	if (r < 0 && r > -4096)
		return cm_err((int)r, "thread %d: injected mmap of the trampoline failed", in->tid);
	code = guard_tramp_code(&len);
	snprintf(path, sizeof(path), "/proc/%d/mem", in->tid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ret = fd < 0 ? -errno : pwrite_full(fd, code, len, (off_t)r);
	if (fd >= 0)
		close(fd);
	if (ret) {
		unsigned long u[6] = { (unsigned long)r, GUARD_TRAMP_LEN };

		syscall_track(in, SYS_munmap, u, GUARD_TRACK_NONE, &ok);
		return cm_err(ret, "thread %d: cannot write the trampoline at %#lx", in->tid,
			      (unsigned long)r);
	}
	guard_set_tramp(in->guard, (uint64_t)r);
	return 0;
}

/* The last attached injection removes the trampoline, from the original
 * syscall instruction. */
static void tramp_put(struct inject *in)
{
	struct guard *g = in->guard;
	uint64_t t;
	int ok;
	long r;

	pthread_mutex_lock(&g->tramp_lock);
	t = guard_tramp(g);
	if (--g->tramp_users == 0 && t && in->active) {
		unsigned long a[6] = { (unsigned long)t, GUARD_TRAMP_LEN };

		in->syscall_ip = in->orig_ip;
		r = syscall_track(in, SYS_munmap, a, GUARD_TRACK_NONE, &ok);
		if (ok && r)
			pr_err("thread %d: injected munmap of the trampoline at %#lx: %s",
			       in->tid, (unsigned long)t, strerror((int)-r));
	}
	pthread_mutex_unlock(&g->tramp_lock);
}

int inject_attach_guard(struct inject *in, struct guard *g)
{
	int slot, ret = 0;

	if (!guard_active(g) || in->guard || !in->active)
		return 0;
	slot = guard_thread_add(g, in->tid, &in->saved, in->xstate, in->xstate_len,
				in->saved_cpus, in->cpus_size);
	if (slot < 0)
		return slot;
	in->guard = g;
	in->gslot = slot;
	in->orig_ip = in->syscall_ip;
	pthread_mutex_lock(&g->tramp_lock);
	if (!guard_tramp(g))
		ret = tramp_create(in);
	if (!ret) {
		g->tramp_users++;
		in->syscall_ip = guard_tramp(g);
	}
	pthread_mutex_unlock(&g->tramp_lock);
	if (ret) {
		in->guard = NULL;
		guard_thread_del(g, slot);
	}
	return ret;
}

/* From a syscall-exit-stop, gets back into a stop inside get_signal() so
 * that after detach the kernel applies the saved syscall-restart state. */
static int park_in_signal_stop(struct inject *in)
{
	int st;

	if (ptrace(PTRACE_INTERRUPT, in->tid, 0, 0) || ptrace(PTRACE_CONT, in->tid, 0, 0))
		return -errno;
	for (;;) {
		if (waitpid(in->tid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -ESRCH;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);

			if (sig != SIGTRAP)
				hold_signal(in, sig);
			if (ptrace(PTRACE_CONT, in->tid, 0, 0))
				return -errno;
		}
	}
}

int inject_release(struct inject *in)
{
	struct iovec iov = { in->xstate, in->xstate_len };
	int ret = 0;

	if (!in->active)
		return 0;
	if (in->guard)
		tramp_put(in);
	in->active = 0;
	if (in->dirty) {
		if (ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved))
			ret = cm_err(-errno, "thread %d: cannot restore registers", in->tid);
		if (!ret && park_in_signal_stop(in))
			ret = cm_err(-ESRCH, "thread %d: lost while restoring", in->tid);
		if (!ret && ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved))
			ret = cm_err(-errno, "thread %d: cannot restore registers", in->tid);
	}
	if (!ret && in->dirty && in->xstate &&
	    ptrace(PTRACE_SETREGSET, in->tid, NT_X86_XSTATE, &iov))
		ret = cm_err(-errno, "thread %d: cannot restore xstate", in->tid);
	requeue_signals(in);
	free(in->held);
	in->held = NULL;
	in->cap_held = 0;
	if (unpin_cpu(in) && !ret)
		ret = cm_err(-errno, "thread %d: cannot restore the CPU mask", in->tid);
	CPU_FREE(in->saved_cpus);
	in->saved_cpus = NULL;
	free(in->xstate);
	in->xstate = NULL;
	in->dirty = 0;
	if (in->guard && !ret)
		guard_thread_del(in->guard, in->gslot);
	in->guard = NULL;
	return ret;
}

int inject_scratch_map(struct inject *in, size_t len, struct inject_scratch *s)
{
	unsigned long a[6] = { 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       (unsigned long)-1, 0 };
	int ok;
	long r = inject_syscall_tracked(in, SYS_mmap, a, &ok);

	if (!ok)
		return r;
	if (r < 0 && r > -4096)
		return cm_err((int)r, "thread %d: injected mmap of %zu bytes failed", in->tid, len);
	s->addr = (uint64_t)r;
	s->len = len;
	return 0;
}

int inject_scratch_unmap(struct inject *in, struct inject_scratch *s)
{
	unsigned long a[6] = { s->addr, s->len };
	int ok;
	long r;

	if (!s->len)
		return 0;
	r = inject_syscall(in, SYS_munmap, a, &ok);
	if (!ok)
		return r;
	if (r)
		return cm_err((int)r, "thread %d: injected munmap of %#lx failed", in->tid,
			      (unsigned long)s->addr);
	s->addr = 0;
	s->len = 0;
	return 0;
}

int inject_poke(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);

	if (n < 0)
		return cm_err(-errno, "pid %d: cannot write %zu bytes at %#lx", pid, len,
			      (unsigned long)addr);
	if ((size_t)n != len)
		return cm_err(-EFAULT, "pid %d: short write at %#lx (%zd of %zu)", pid,
			      (unsigned long)addr, n, len);
	return 0;
}

int inject_getfd(int pidfd, int target_fd)
{
	int fd = syscall(__NR_pidfd_getfd, pidfd, target_fd, 0);

	if (fd < 0)
		return cm_err(-errno, "cannot take fd %d of the target", target_fd);
	return fd;
}
