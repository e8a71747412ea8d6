/* SPDX-License-Identifier: MIT */
/*
 * Running system calls inside a ptrace-stopped target thread, leaving no
 * trace: general registers, FPU/xstate, the interrupted syscall's restart
 * state (orig_rax/rax) and the CPU affinity are saved by inject_init() and
 * put back exactly by inject_release().
 *
 * The syscall instruction used is the one at rip-2 when the thread is
 * stopped in a syscall, else one found in the target's vDSO (read only as
 * far as needed). Injection is driven with PTRACE_SYSCALL stops, never
 * single-step, so a SIGKILLed dumper never leaves a trap flag behind. The
 * thread is pinned to the dumper's CPU while each call runs.
 *
 * The target must be stopped by freeze_seize() and its cgroup thawed.
 *
 * Signals: a signal dequeued by the thread while injecting (it shows as a
 * signal-delivery-stop) is suppressed there and re-queued at
 * inject_release(), every instance in arrival order, so its handler runs
 * after detach on the restored registers. sigqueue()-style siginfo
 * (si_code < 0) is preserved with rt_tgsigqueueinfo(); kernel- and
 * kill()-sent ones become SI_TKILL from the dumper. An injected syscall
 * that returns -EPIPE also queues SIGPIPE to the thread: inject_syscall()
 * then runs one extra injected getpid() whose return to user mode dequeues
 * it into a signal-delivery-stop, where it is dropped (unless the target
 * blocks SIGPIPE, in which case it stays pending). -ERESTART* results are
 * reported as -EINTR.
 *
 * inject_release() restores the registers and then parks the thread in an
 * interrupt stop inside get_signal(), so the saved syscall-restart state
 * (orig_rax, rax=-ERESTART*) is applied by the kernel on resume exactly as
 * if nothing had been injected.
 *
 * Between injected calls the thread holds its saved registers and its own
 * CPU mask (it is pinned only while a call runs; the extra SETREGS and two
 * sched_setaffinity cost ~1.5 us per call), so a SIGKILLed dumper leaves a
 * thread that the kernel's auto-detach restarts exactly as if untouched.
 * Without a guard, if the dumper is SIGKILLed while an injected syscall is
 * running (e.g. blocked in vmsplice on a full pipe), the thread returns
 * from it with the injected registers. With a guard attached
 * (inject_attach_guard(), see guard.h) every call runs from a trampoline
 * page where such a thread parks, and the guard process puts it back.
 */
#ifndef CM_INJECT_H
#define CM_INJECT_H

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct guard;

struct inject {
	pid_t tid;
	struct user_regs_struct saved;	/* registers at init */
	void *xstate;			/* NT_X86_XSTATE blob at init */
	size_t xstate_len;
	uint64_t syscall_ip;		/* address of a "syscall" instruction */
	cpu_set_t *saved_cpus;		/* affinity at init, restored after each call */
	size_t cpus_size;		/* 0 when the mask could not be read */
	int pinned;			/* pinned right now (only inside a call) */
	int active;
	int dirty;			/* registers were changed by an injection */
	uint64_t requeue;		/* signals that arrived while injecting (bit sig-1) */
	uint64_t nr_calls;		/* injected syscalls (stats) */
	pid_t tgid;			/* process of tid */
	siginfo_t *held;		/* held signals in arrival order (malloc'd) */
	size_t nr_held, cap_held;
	struct guard *guard;		/* undo log, NULL when not guarded */
	int gslot;			/* our thread slot in it */
	uint64_t orig_ip;		/* syscall_ip before the trampoline */
};

/* Saves state and finds a syscall instruction. Nothing is injected yet.
 * Returns 0 or -errno (logged). */
int inject_init(struct inject *in, pid_t tid);
/*
 * Runs syscall nr(a0..a5) in the target. Returns the syscall's return
 * value (>= 0) or its -errno. A failure of the injection machinery itself
 * (target died: -ESRCH) is distinguishable only through errno-like codes;
 * callers that need to know pass ok != NULL: *ok is 0 when the mechanism
 * failed and the return value is the mechanism's -errno.
 */
long inject_syscall(struct inject *in, long nr, const unsigned long args[6], int *ok);
/* Restores registers, xstate and affinity. Safe to call twice. With a
 * guard, the last attached injection of the session also removes the
 * trampoline. */
int inject_release(struct inject *in);

/*
 * Opt-in protection against our own death (see guard.h), right after
 * inject_init(): logs the thread's saved state in g's undo log, maps the
 * session's trampoline in the target if no attached injection has yet,
 * and runs every later call from it. g NULL or not started: no-op.
 * Returns 0 or -errno (logged); on error the injection stays usable
 * unguarded.
 */
int inject_attach_guard(struct inject *in, struct guard *g);
/*
 * inject_syscall() whose result is an undo entry of the guard: pipe2 (the
 * two fds written at args[0]), mmap (the mapping), any other call returning
 * a fd (openat, memfd_create, dup...). close() and munmap() always drop
 * the matching entries, tracked or not. Without a guard: inject_syscall().
 */
long inject_syscall_tracked(struct inject *in, long nr, const unsigned long args[6], int *ok);

/*
 * Scratch memory inside the target: an injected anonymous mmap that the
 * dumper fills with process_vm_writev and removes with munmap (tracked by
 * the guard when one is attached).
 */
struct inject_scratch {
	uint64_t addr;
	size_t len;
};
int inject_scratch_map(struct inject *in, size_t len, struct inject_scratch *s);
int inject_scratch_unmap(struct inject *in, struct inject_scratch *s);
/* Copies len bytes from the dumper into the target at addr (process_vm_writev). */
int inject_poke(pid_t pid, uint64_t addr, const void *buf, size_t len);

/*
 * Takes over a file descriptor of the target (pidfd_getfd). The copy
 * shares the open file description with the target's fd.
 */
int inject_getfd(int pidfd, int target_fd);

#endif
