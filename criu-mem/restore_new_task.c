// SPDX-License-Identifier: MIT
/*
 * restore_new_task.c: per-thread kernel state of a new process, set with
 * injected syscalls once its memory is in place (robust futex list,
 * clear-tid address, sigaltstack, name, rseq last), and the register
 * rewind that makes an interrupted syscall run again after detach.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include "img.h"
#include "inject.h"
#include "log.h"
#include "restore_new.h"

#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

#ifndef SS_AUTODISARM
#define SS_AUTODISARM		(1U << 31)
#endif

static long task_inject(struct inject *in, long nr, unsigned long a0, unsigned long a1,
			unsigned long a2, unsigned long a3, const char *what)
{
	unsigned long a[6] = { a0, a1, a2, a3, 0, 0 };
	int ok;
	long r = inject_syscall(in, nr, a, &ok);

	if (!ok)
		return r;
	if (r < 0 && r > -4096)
		return cm_err((int)r, "thread %d: %s", in->tid, what);
	return 0;
}

/* sigaltstack and the thread's name, through one scratch page. */
static int restore_altstack_comm(struct inject *in, const ThreadCore *tc)
{
	struct inject_scratch s = { 0, 0 };
	int alt, ret, ret2;
	char comm[16];
	stack_t st;

	alt = tc->has_altstack_sp && tc->has_altstack_size && tc->altstack_size &&
	      !(tc->has_altstack_flags && (tc->altstack_flags & SS_DISABLE));
	if (!alt && !tc->comm)
		return 0;
	memset(&st, 0, sizeof(st));
	st.ss_sp = (void *)(uintptr_t)tc->altstack_sp;
	st.ss_size = tc->altstack_size;
	st.ss_flags = (int)(tc->altstack_flags & SS_AUTODISARM);
	memset(comm, 0, sizeof(comm));
	if (tc->comm)
		strncpy(comm, tc->comm, sizeof(comm) - 1);
	ret = inject_scratch_map(in, 4096, &s);
	if (ret)
		return ret;
	ret = inject_poke(in->tid, s.addr, &st, sizeof(st));
	if (!ret)
		ret = inject_poke(in->tid, s.addr + 64, comm, sizeof(comm));
	if (!ret && alt)
		ret = (int)task_inject(in, SYS_sigaltstack, s.addr, 0, 0, 0, "sigaltstack");
	if (!ret && tc->comm)
		ret = (int)task_inject(in, SYS_prctl, PR_SET_NAME, s.addr + 64, 0, 0,
				       "PR_SET_NAME");
	ret2 = inject_scratch_unmap(in, &s);
	return ret ? ret : ret2;
}

/* [addr, addr + len) covered by adjacent image VMAs (writable when asked). */
static int in_image(const struct img_mem *m, uint64_t addr, uint64_t len, int writable,
		    const char *what, uint32_t tid)
{
	uint64_t a = addr, end = addr + len;
	const VmaEntry *v;

	while (end >= addr && a < end) {
		v = img_mem_find_vma(m, a);
		if (!v || (writable && !(v->prot & PROT_WRITE)))
			break;
		a = v->end;
	}
	if (end < addr || a < end)
		return cm_err(-EBADMSG, "thread %u: %s %#lx+%lu is outside the image's %sVMAs",
			      tid, what, (unsigned long)addr, (unsigned long)len,
			      writable ? "writable " : "");
	return 0;
}

/* The addresses the kernel will write to or read from later. */
static int check_addrs(const struct img_mem *m, const ThreadCore *tc)
{
	int ret = 0;

	if (tc->has_robust_list && tc->robust_list)
		ret = in_image(m, tc->robust_list, tc->has_robust_len ? tc->robust_len : 24, 0,
			       "robust list", tc->tid);
	if (!ret && tc->has_clear_tid_addr && tc->clear_tid_addr)
		ret = in_image(m, tc->clear_tid_addr, 4, 1, "clear-tid address", tc->tid);
	if (!ret && tc->has_rseq_addr && tc->rseq_addr)
		ret = in_image(m, tc->rseq_addr, tc->has_rseq_len ? tc->rseq_len : 32, 1,
			       "rseq area", tc->tid);
	if (!ret && tc->has_altstack_sp && tc->has_altstack_size && tc->altstack_size &&
	    !(tc->has_altstack_flags && (tc->altstack_flags & SS_DISABLE)))
		ret = in_image(m, tc->altstack_sp, tc->altstack_size, 1, "signal stack", tc->tid);
	return ret;
}

int rn_task_restore(struct inject *in, const struct img_mem *m, const ThreadCore *tc)
{
	int ret;

	ret = check_addrs(m, tc);
	if (ret)
		return ret;

	/* The host was a fork of criu-mem: no parent-death signal from now on. */
	ret = (int)task_inject(in, SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, "PR_SET_PDEATHSIG");
	/* Set even when the image has none: nothing of the host may remain for
	 * the kernel to walk or write at exit. */
	if (!ret)
		ret = (int)task_inject(in, SYS_set_robust_list,
				       tc->has_robust_list ? tc->robust_list : 0,
				       tc->has_robust_len ? tc->robust_len : 24, 0, 0,
				       "set_robust_list");
	if (!ret)
		ret = (int)task_inject(in, SYS_set_tid_address,
				       tc->has_clear_tid_addr ? tc->clear_tid_addr : 0, 0, 0, 0,
				       "set_tid_address");
	if (!ret)
		ret = restore_altstack_comm(in, tc);
	/* rseq last: the kernel looks at the thread's critical section on the
	 * next return to user mode, which must be with the restored rip. */
	if (!ret && tc->has_rseq_addr && tc->rseq_addr)
		ret = (int)task_inject(in, SYS_rseq, tc->rseq_addr,
				       tc->has_rseq_len ? tc->rseq_len : 32, 0,
				       tc->has_rseq_sig ? tc->rseq_sig : 0, "rseq registration");
	return ret;
}

int rn_task_rewind(const ThreadCore *tc, ThreadCore *out, void *buf, size_t len)
{
	struct user_regs_struct *r = buf;
	long rax;

	if (tc->gpregs.len != sizeof(*r) || len < sizeof(*r))
		return cm_err(-EBADMSG, "thread %u: bad gpregs size %zu", tc->tid, tc->gpregs.len);
	*out = *tc;
	memcpy(r, tc->gpregs.data, sizeof(*r));
	out->gpregs.data = buf;
	rax = (long)r->rax;
	if ((long)r->orig_rax < 0)
		return 0;
	switch (-rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
	case ERESTART_RESTARTBLOCK:
		/* The kernel's restart_block does not travel with the image: restart
		 * the original syscall itself, with its original arguments. */
		r->rip -= 2;
		r->rax = r->orig_rax;
		pr_debug("thread %u: syscall %ld interrupted at dump time is restarted", tc->tid,
			 (long)r->orig_rax);
		break;
	default:
		break;
	}
	return 0;
}

void rn_task_cpu_mask(pid_t pid, const ThreadCore *tc)
{
	cpu_set_t set;
	int i;

	if (!tc->has_cpu_mask || !tc->cpu_mask)
		return;
	CPU_ZERO(&set);
	for (i = 0; i < 64; i++)
		if (tc->cpu_mask & (1ull << i))
			CPU_SET(i, &set);
	if (sched_setaffinity(pid, sizeof(set), &set))
		pr_warn("pid %d: cannot restore the CPU mask %#lx: %s", (int)pid,
			(unsigned long)tc->cpu_mask, strerror(errno));
}
