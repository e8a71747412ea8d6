/* SPDX-License-Identifier: MIT */
/*
 * The guard: a process forked before anything touches the target that
 * undoes every change to the target if criu-mem dies (SIGKILL included).
 *
 * criu-mem and the guard share an undo log (one MAP_SHARED anonymous
 * mapping of bounded size, created before the fork). The guard is not a
 * tracer and is not ptrace-related to the target; it blocks in read() on a
 * pipe. guard_finish() writes "q" (all clean) and reaps it; EOF without "q"
 * means criu-mem died, and the guard then:
 *   1. thaws the cgroup recorded by guard_note_cgroup();
 *   2. waits for the kernel's auto-detach, seizes every thread, and for each
 *      logged thread parked in the trampoline (see below) puts back its
 *      saved registers, xstate and CPU mask;
 *   3. settles the call that was in flight (a finished pipe2/mmap adds its
 *      fds/mapping to the undo lists, a finished close/munmap removes them);
 *   4. injects close() of every logged remote fd and munmap() of every
 *      logged remote mapping through the trampoline, then munmap() of the
 *      trampoline itself through an ordinary syscall instruction;
 *   5. sends the death signal, if one was set (guard_set_death_signal()),
 *      detaches and exits. It exits at once when nothing is logged.
 *
 * Trampoline: the first guarded injection of a session maps one page
 * (PROT_READ|PROT_EXEC) in the target and writes into it through
 * /proc/PID/mem: "syscall; mov %rax,%r15; 1: mov $SYS_pause,%eax; syscall;
 * jmp 1b". Every later injected call runs its "syscall"; a thread that the
 * kernel detaches mid-call (criu-mem SIGKILLed) finishes the call, keeps
 * its result in r15 and sleeps in pause() until the guard repairs it.
 * Remaining windows (documented, not closed): the injected mmap that creates
 * the trampoline and the final munmap that removes it run from the vDSO's
 * (or the interrupted call's) syscall instruction; a SIGKILL during exactly
 * those two calls leaves the thread with injected registers.
 *
 * Log protocol: every entry has a generation counter that is odd while
 * criu-mem rewrites it; the guard only reads the log after criu-mem is dead
 * and ignores odd (half-written) entries. Entries are written so that a
 * half-written one never hides a change: resources are logged as "in
 * flight" before the call that creates them, and forgotten only after the
 * call that removes them returned.
 *
 * Usage (dump.c is the model):
 *	guard_init(&g); guard_start(&g, pid);	before freeze_seize() and before
 *						criu-mem starts threads or forks
 *	freeze_opts.guard = &g; freeze_seize();	cgroup noted; freeze.guard = &g
 *	inject_init(&in, tid); inject_attach_guard(&in, freeze.guard);
 *	inject_scratch_map()			tracked (unmapped if we die)
 *	inject_syscall_tracked()		temporary remote fds/mappings
 *	inject_syscall()			changes meant to stay
 *	guard_set_death_signal(&g, SIGSTOP)	past a point of no return
 *	inject_release(); freeze_release(); guard_finish(&g);	on every path
 *
 * All functions are thread-safe (one mutex per guard). Functions returning
 * int give 0 or -errno (logged).
 */
#ifndef CM_GUARD_H
#define CM_GUARD_H

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define GUARD_MAX_THREADS	32	/* threads injected into at the same time */
#define GUARD_MAX_FDS		64
#define GUARD_MAX_MAPS		64
#define GUARD_XSTATE_MAX	4096	/* larger xstate: GPRs only are logged */
#define GUARD_TRAMP_LEN		4096

struct guard_log;

struct guard {
	pid_t pid;		/* target */
	pid_t guard_pid;	/* 0 when not started */
	int fd;			/* write end of the guard's pipe, -1 */
	struct guard_log *log;	/* MAP_SHARED with the guard */
	pthread_mutex_t lock;	/* log writes */
	pthread_mutex_t tramp_lock;	/* trampoline creation and removal */
	int tramp_users;	/* attached injections using the trampoline */
};

void guard_init(struct guard *g);
/* Forks the guard for target pid. Call before the target is touched and
 * before criu-mem starts threads. */
int guard_start(struct guard *g, pid_t pid);
/* Tells the guard that everything is undone and reaps it. Call only after
 * every change was undone (or the target is gone). Safe on a never-started
 * guard and twice. Returns 0 or -errno. */
int guard_finish(struct guard *g);
/* True when started and not finished. */
int guard_active(const struct guard *g);
/* pid of the guard process, 0 if none. */
pid_t guard_pid(const struct guard *g);

/* The cgroup directory to thaw (v1: freezer.state, v2: cgroup.freeze).
 * Note it before freezing, forget it after thawing. */
int guard_note_cgroup(struct guard *g, const char *dir, int v1);
void guard_forget_cgroup(struct guard *g);

/* Past a point of no return (restore has started to change the target on
 * purpose), sig (SIGSTOP or SIGKILL) is sent to the target by the guard
 * after its repair, instead of letting it run on; 0 clears it. */
int guard_set_death_signal(struct guard *g, int sig);

/* A fd created in the target that must be closed if we die. */
int guard_note_fd(struct guard *g, int fd);
void guard_forget_fd(struct guard *g, int fd);
/* A mapping created in the target that must be unmapped if we die. */
int guard_note_map(struct guard *g, uint64_t addr, uint64_t len);
/* Forgets every logged mapping that overlaps [addr, addr+len). */
void guard_forget_map(struct guard *g, uint64_t addr, uint64_t len);

/* ---- used by inject.c ---- */

enum guard_track {
	GUARD_TRACK_NONE,	/* the call's result is not an undo entry */
	GUARD_TRACK_CREATE,	/* pipe2 (fds at args[0]), mmap, fd-returning calls */
	GUARD_TRACK_TRAMP,	/* the mmap that creates the trampoline */
};

/* A thread and its state to put back; returns a slot >= 0 or -errno. */
int guard_thread_add(struct guard *g, pid_t tid, const struct user_regs_struct *regs,
		     const void *xstate, size_t xlen, const cpu_set_t *cpus, size_t cpus_size);
void guard_thread_del(struct guard *g, int slot);
/* Around one injected call on slot: begin before the registers are set,
 * result once read back (before the saved registers go back), end after
 * the undo lists were updated. */
void guard_call_begin(struct guard *g, int slot, long nr, const unsigned long a[6],
		      enum guard_track track);
void guard_call_result(struct guard *g, int slot, long res);
void guard_call_end(struct guard *g, int slot);

/* The trampoline: its code, and its address once written (0 if none). */
const unsigned char *guard_tramp_code(size_t *len);
uint64_t guard_tramp(const struct guard *g);
void guard_set_tramp(struct guard *g, uint64_t addr);

#endif
