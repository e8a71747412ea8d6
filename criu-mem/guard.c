// SPDX-License-Identifier: MIT
/*
 * guard.c: the undo log shared with a forked guard process, and the guard
 * itself, which repairs the target (threads parked in the trampoline, remote
 * fds and mappings, the trampoline, a frozen cgroup) when criu-mem dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <elf.h>

#define LOG_PREFIX "guard: "
#include "freeze.h"
#include "guard.h"
#include "inject.h"
#include "log.h"
#include "util.h"

#define GUARD_MAGIC	0x43474c47u	/* "GLGC" */
#define GUARD_UNTRACE_NS (2ull * 1000 * 1000 * 1000)

enum { GT_INFLIGHT = 1 << 0, GT_RESULT = 1 << 1 };

struct guard_thread {
	uint32_t rgen;			/* identity and saved state */
	int32_t tid;			/* 0: free */
	struct user_regs_struct regs;
	uint32_t xstate_len;		/* 0: not logged */
	uint32_t cpus_size;		/* 0: not logged */
	uint8_t cpus[128];
	uint8_t xstate[GUARD_XSTATE_MAX];
	uint32_t cgen;			/* the call in flight */
	uint32_t flags;			/* GT_* */
	int64_t nr, result;
	uint64_t args[6];
	uint32_t track;			/* enum guard_track */
};

struct guard_fd {
	uint32_t gen;
	int32_t fd;			/* -1: free */
};

struct guard_map {
	uint32_t gen;
	uint64_t addr, len;		/* len 0: free */
};

struct guard_log {
	uint32_t magic;
	int32_t pid;
	uint32_t cg_gen;
	int32_t cg_set, cg_v1;
	char cg_dir[4096];
	uint32_t tr_gen;
	uint64_t tramp;
	int32_t death_sig;		/* sent to the target after the repair */
	struct guard_fd fds[GUARD_MAX_FDS];
	struct guard_map maps[GUARD_MAX_MAPS];
	struct guard_thread th[GUARD_MAX_THREADS];
};

/*
 * syscall; mov %rax,%r15; 1: mov $34 (pause),%eax; syscall; jmp 1b
 * A thread detached mid-call finishes it, keeps the result in r15 and sleeps.
 */
static const unsigned char tramp_code[] = {
	0x0f, 0x05,
	0x49, 0x89, 0xc7,
	0xb8, 0x22, 0x00, 0x00, 0x00,
	0x0f, 0x05,
	0xeb, 0xf7,
};

const unsigned char *guard_tramp_code(size_t *len)
{
	*len = sizeof(tramp_code);
	return tramp_code;
}

/* Generation helpers: odd while an entry is being written. */
static void gen_open(uint32_t *gen)
{
	__atomic_store_n(gen, *gen + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void gen_close(uint32_t *gen)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(gen, *gen + 1, __ATOMIC_RELAXED);
}

static int gen_ok(const uint32_t *gen)
{
	return !(__atomic_load_n(gen, __ATOMIC_ACQUIRE) & 1);
}

void guard_init(struct guard *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->tramp_lock, NULL);
}

int guard_active(const struct guard *g)
{
	return g && g->guard_pid > 0 && g->log;
}

pid_t guard_pid(const struct guard *g)
{
	return g ? g->guard_pid : 0;
}

/* ---- undo lists (log side; also used by the guard on the dead log) ---- */

static int log_add_fd(struct guard_log *l, int fd)
{
	int i, free_i = -1;

	for (i = 0; i < GUARD_MAX_FDS; i++) {
		if (l->fds[i].fd == fd)
			return 0;
		if (l->fds[i].fd < 0 && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -ENOSPC;
	gen_open(&l->fds[free_i].gen);
	l->fds[free_i].fd = fd;
	gen_close(&l->fds[free_i].gen);
	return 0;
}

static void log_del_fd(struct guard_log *l, int fd)
{
	int i;

	for (i = 0; i < GUARD_MAX_FDS; i++) {
		if (l->fds[i].fd != fd)
			continue;
		gen_open(&l->fds[i].gen);
		l->fds[i].fd = -1;
		gen_close(&l->fds[i].gen);
	}
}

static int log_add_map(struct guard_log *l, uint64_t addr, uint64_t len)
{
	int i, free_i = -1;

	for (i = 0; i < GUARD_MAX_MAPS; i++) {
		if (l->maps[i].len && l->maps[i].addr == addr && l->maps[i].len == len)
			return 0;
		if (!l->maps[i].len && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -ENOSPC;
	gen_open(&l->maps[free_i].gen);
	l->maps[free_i].addr = addr;
	l->maps[free_i].len = len;
	gen_close(&l->maps[free_i].gen);
	return 0;
}

static void log_del_map(struct guard_log *l, uint64_t addr, uint64_t len)
{
	int i;

	for (i = 0; i < GUARD_MAX_MAPS; i++) {
		struct guard_map *m = &l->maps[i];

		if (!m->len || m->addr >= addr + len || addr >= m->addr + m->len)
			continue;
		gen_open(&m->gen);
		m->len = 0;
		gen_close(&m->gen);
	}
}

static void log_set_tramp(struct guard_log *l, uint64_t addr)
{
	gen_open(&l->tr_gen);
	l->tramp = addr;
	gen_close(&l->tr_gen);
}

/*
 * Applies the finished in-flight call of t to the undo lists: a created
 * fd/mapping is added, a closed fd or unmapped range removed.
 */
static int log_settle(struct guard_log *l, const struct guard_thread *t)
{
	long res = t->result;
	int fds[2];
	struct iovec lo = { fds, sizeof(fds) }, re = { (void *)(uintptr_t)t->args[0], sizeof(fds) };
	int ret = 0;

	switch (t->nr) {
	case SYS_close:
		log_del_fd(l, (int)t->args[0]);
		break;
	case SYS_munmap:
		if (!res && t->args[0] == l->tramp)
			log_set_tramp(l, 0);
		else if (!res)
			log_del_map(l, t->args[0], t->args[1]);
		break;
	case SYS_mmap:
		if (res < 0 && res > -4096)
			break;
		if (t->track == GUARD_TRACK_TRAMP && !l->tramp)
			log_set_tramp(l, (uint64_t)res);
		else if (t->track == GUARD_TRACK_CREATE)
			ret = log_add_map(l, (uint64_t)res, t->args[1]);
		break;
	case SYS_pipe2:
		if (res || t->track != GUARD_TRACK_CREATE)
			break;
		if (process_vm_readv(l->pid, &lo, 1, &re, 1, 0) != sizeof(fds))
			return -EFAULT;
		ret = log_add_fd(l, fds[0]);
		if (!ret)
			ret = log_add_fd(l, fds[1]);
		break;
	default:
		if (t->track == GUARD_TRACK_CREATE && res >= 0)
			ret = log_add_fd(l, (int)res);
		break;
	}
	return ret;
}

int guard_note_cgroup(struct guard *g, const char *dir, int v1)
{
	struct guard_log *l;

	if (!guard_active(g))
		return 0;
	if (strlen(dir) >= sizeof(l->cg_dir))
		return cm_err(-ENAMETOOLONG, "cgroup path '%s' is too long", dir);
	l = g->log;
	pthread_mutex_lock(&g->lock);
	gen_open(&l->cg_gen);
	strcpy(l->cg_dir, dir);
	l->cg_v1 = v1;
	l->cg_set = 1;
	gen_close(&l->cg_gen);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void guard_forget_cgroup(struct guard *g)
{
	if (!guard_active(g))
		return;
	pthread_mutex_lock(&g->lock);
	gen_open(&g->log->cg_gen);
	g->log->cg_set = 0;
	gen_close(&g->log->cg_gen);
	pthread_mutex_unlock(&g->lock);
}

int guard_set_death_signal(struct guard *g, int sig)
{
	if (!guard_active(g))
		return 0;
	if (sig && sig != SIGSTOP && sig != SIGKILL)
		return cm_err(-EINVAL, "pid %d: death signal %d is not SIGSTOP or SIGKILL",
			      (int)g->pid, sig);
	__atomic_store_n(&g->log->death_sig, sig, __ATOMIC_RELEASE);
	return 0;
}

int guard_note_fd(struct guard *g, int fd)
{
	int ret;

	if (!guard_active(g))
		return 0;
	pthread_mutex_lock(&g->lock);
	ret = log_add_fd(g->log, fd);
	pthread_mutex_unlock(&g->lock);
	if (ret)
		return cm_err(ret, "pid %d: undo log full (fd %d)", (int)g->pid, fd);
	return 0;
}

void guard_forget_fd(struct guard *g, int fd)
{
	if (!guard_active(g))
		return;
	pthread_mutex_lock(&g->lock);
	log_del_fd(g->log, fd);
	pthread_mutex_unlock(&g->lock);
}

int guard_note_map(struct guard *g, uint64_t addr, uint64_t len)
{
	int ret;

	if (!guard_active(g))
		return 0;
	pthread_mutex_lock(&g->lock);
	ret = log_add_map(g->log, addr, len);
	pthread_mutex_unlock(&g->lock);
	if (ret)
		return cm_err(ret, "pid %d: undo log full (mapping %#lx)", (int)g->pid,
			      (unsigned long)addr);
	return 0;
}

void guard_forget_map(struct guard *g, uint64_t addr, uint64_t len)
{
	if (!guard_active(g))
		return;
	pthread_mutex_lock(&g->lock);
	log_del_map(g->log, addr, len);
	pthread_mutex_unlock(&g->lock);
}

uint64_t guard_tramp(const struct guard *g)
{
	return guard_active(g) ? __atomic_load_n(&g->log->tramp, __ATOMIC_ACQUIRE) : 0;
}

void guard_set_tramp(struct guard *g, uint64_t addr)
{
	if (!guard_active(g))
		return;
	pthread_mutex_lock(&g->lock);
	log_set_tramp(g->log, addr);
	pthread_mutex_unlock(&g->lock);
}

/* ---- threads and calls ---- */

int guard_thread_add(struct guard *g, pid_t tid, const struct user_regs_struct *regs,
		     const void *xstate, size_t xlen, const cpu_set_t *cpus, size_t cpus_size)
{
	struct guard_thread *t = NULL;
	int i;

	if (!guard_active(g))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < GUARD_MAX_THREADS; i++) {
		if (!g->log->th[i].tid) {
			t = &g->log->th[i];
			break;
		}
	}
	if (t) {
		gen_open(&t->rgen);
		t->tid = tid;
		t->regs = *regs;
		t->xstate_len = xstate && xlen <= sizeof(t->xstate) ? xlen : 0;
		if (t->xstate_len)
			memcpy(t->xstate, xstate, xlen);
		t->cpus_size = cpus && cpus_size <= sizeof(t->cpus) ? cpus_size : 0;
		if (t->cpus_size)
			memcpy(t->cpus, cpus, cpus_size);
		t->flags = 0;
		gen_close(&t->rgen);
	}
	pthread_mutex_unlock(&g->lock);
	if (!t)
		return cm_err(-ENOSPC, "pid %d: undo log full (thread %d)", (int)g->pid, tid);
	return i;
}

void guard_thread_del(struct guard *g, int slot)
{
	struct guard_thread *t;

	if (!guard_active(g) || slot < 0 || slot >= GUARD_MAX_THREADS)
		return;
	t = &g->log->th[slot];
	pthread_mutex_lock(&g->lock);
	gen_open(&t->rgen);
	t->tid = 0;
	t->flags = 0;
	gen_close(&t->rgen);
	pthread_mutex_unlock(&g->lock);
}

void guard_call_begin(struct guard *g, int slot, long nr, const unsigned long a[6],
		      enum guard_track track)
{
	struct guard_thread *t = &g->log->th[slot];
	int i;

	gen_open(&t->cgen);
	t->nr = nr;
	for (i = 0; i < 6; i++)
		t->args[i] = a[i];
	t->track = track;
	t->flags = GT_INFLIGHT;
	gen_close(&t->cgen);
}

void guard_call_result(struct guard *g, int slot, long res)
{
	struct guard_thread *t = &g->log->th[slot];

	gen_open(&t->cgen);
	t->result = res;
	t->flags |= GT_RESULT;
	gen_close(&t->cgen);
}

void guard_call_end(struct guard *g, int slot)
{
	struct guard_thread *t = &g->log->th[slot];
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (t->flags & GT_RESULT)
		ret = log_settle(g->log, t);
	gen_open(&t->cgen);
	t->flags = 0;
	gen_close(&t->cgen);
	pthread_mutex_unlock(&g->lock);
	if (ret)
		pr_warn("pid %d: the undo log misses the result of syscall %ld: %s",
			(int)g->pid, (long)t->nr, strerror(-ret));
}

/* ---- the guard process ---- */

/* Waits until no thread of pid is traced (the kernel's auto-detach). */
static int wait_untraced(pid_t pid)
{
	uint64_t t0 = now_ns();
	char path[64], *buf;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	for (;;) {
		char *p;
		int traced;

		buf = NULL;
		if (read_file_str(path, &buf, NULL, 1 << 16))
			return -ESRCH;
		p = strstr(buf, "\nTracerPid:");
		traced = p && atoi(p + 11) != 0;
		free(buf);
		if (!traced)
			return 0;
		if (now_ns() - t0 > GUARD_UNTRACE_NS)
			return -EBUSY;
		usleep(1000);
	}
}

static int log_has_work(const struct guard_log *l)
{
	int i;

	if (l->tramp)
		return 1;
	for (i = 0; i < GUARD_MAX_FDS; i++)
		if (l->fds[i].fd >= 0)
			return 1;
	for (i = 0; i < GUARD_MAX_MAPS; i++)
		if (l->maps[i].len)
			return 1;
	for (i = 0; i < GUARD_MAX_THREADS; i++)
		if (l->th[i].tid && (l->th[i].flags & GT_INFLIGHT))
			return 1;
	return 0;
}

static int is_restart(long r)
{
	return r == -512 || r == -513 || r == -514 || r == -516;
}

/*
 * Puts one logged thread back. A thread parked in the trampoline gets its
 * saved registers, xstate and CPU mask; the call in flight is settled.
 * Returns 1 when the thread was parked, 0 when it runs its own code.
 */
static int repair_thread(struct guard_log *l, struct guard_thread *t)
{
	struct user_regs_struct cur;
	struct iovec xs = { t->xstate, t->xstate_len };
	int parked = 0, done = 0, inflight;
	long res = 0;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &cur))
		return 0;
	if (l->tramp && cur.rip >= l->tramp && cur.rip < l->tramp + sizeof(tramp_code))
		parked = 1;
	inflight = gen_ok(&t->cgen) && (t->flags & GT_INFLIGHT);
	/* A thread is pinned to our CPU only while a call is in flight. */
	if ((parked || inflight) && t->cpus_size &&
	    sched_setaffinity(t->tid, t->cpus_size, (cpu_set_t *)t->cpus))
		pr_debug("pid %d: cannot restore the CPU mask of thread %d: %m", l->pid, t->tid);
	if (inflight) {
		if (parked && cur.rip == l->tramp) {
			done = 0;	/* detached before its syscall instruction ran */
		} else if (parked && cur.rip == l->tramp + 2) {
			res = (long)cur.rax;
			done = !is_restart(res);
		} else if (parked) {
			res = (long)cur.r15;
			done = 1;
		} else if (t->flags & GT_RESULT) {
			res = t->result;
			done = 1;
		}
		pr_debug("pid %d: thread %d: syscall %ld in flight, rip %#llx, %s %ld", l->pid,
			 t->tid, (long)t->nr, cur.rip, done ? "returned" : "not finished", res);
		if (done) {
			t->result = res;
			t->flags |= GT_RESULT;
			if (log_settle(l, t))
				pr_err("pid %d: cannot settle syscall %ld of thread %d", l->pid,
				       (long)t->nr, t->tid);
		}
		t->flags = 0;
	}
	if (!parked)
		return 0;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs))
		pr_err("pid %d: cannot restore the registers of thread %d: %m", l->pid, t->tid);
	if (t->xstate_len && ptrace(PTRACE_SETREGSET, t->tid, NT_X86_XSTATE, &xs))
		pr_err("pid %d: cannot restore the xstate of thread %d: %m", l->pid, t->tid);
	pr_info("pid %d: thread %d put back from the trampoline", l->pid, t->tid);
	return 1;
}

static int tramp_state(struct guard_log *l)
{
	unsigned char b[sizeof(tramp_code)];
	static const unsigned char zero[sizeof(tramp_code)];
	struct iovec lo = { b, sizeof(b) }, re = { (void *)(uintptr_t)l->tramp, sizeof(b) };

	if (!l->tramp || process_vm_readv(l->pid, &lo, 1, &re, 1, 0) != sizeof(b))
		return 0;
	if (!memcmp(b, tramp_code, sizeof(b)))
		return 2;	/* ours, usable */
	return memcmp(b, zero, sizeof(b)) ? 0 : 1;	/* mapped, code not written yet */
}

static void undo_call(struct inject *in, long nr, uint64_t a0, uint64_t a1)
{
	unsigned long a[6] = { a0, a1 };
	int ok;
	long r = inject_syscall(in, nr, a, &ok);

	pr_debug("pid %d: undo syscall %ld(%#lx): %ld", in->tgid, nr, (unsigned long)a0, r);
	if (ok && r < 0)
		pr_err("pid %d: undo syscall %ld(%#lx) failed: %s", in->tgid, nr,
		       (unsigned long)a0, strerror((int)-r));
}

/* Closes logged fds, unmaps logged mappings, then the trampoline. */
static int undo_resources(struct guard_log *l, pid_t tid)
{
	struct inject in;
	uint64_t orig;
	int i, ts = tramp_state(l), ret;

	ret = inject_init(&in, tid);
	if (ret)
		return ret;
	orig = in.syscall_ip;
	if (ts == 2)
		in.syscall_ip = l->tramp;
	for (i = 0; i < GUARD_MAX_FDS; i++)
		if (gen_ok(&l->fds[i].gen) && l->fds[i].fd >= 0)
			undo_call(&in, SYS_close, l->fds[i].fd, 0);
	for (i = 0; i < GUARD_MAX_MAPS; i++)
		if (gen_ok(&l->maps[i].gen) && l->maps[i].len)
			undo_call(&in, SYS_munmap, l->maps[i].addr, l->maps[i].len);
	if (ts) {
		in.syscall_ip = orig;
		undo_call(&in, SYS_munmap, l->tramp, GUARD_TRAMP_LEN);
	}
	return inject_release(&in);
}

static int guard_recover(struct guard_log *l)
{
	struct freeze f;
	pid_t inj = 0;
	size_t k;
	int i, ret;

	if (l->magic != GUARD_MAGIC)
		return 0;
	if (gen_ok(&l->cg_gen) && l->cg_set) {
		const char *file = l->cg_v1 ? "freezer.state" : "cgroup.freeze";
		char path[sizeof(l->cg_dir) + 32];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", l->cg_dir, file);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write_full(fd, l->cg_v1 ? "THAWED" : "0", l->cg_v1 ? 6 : 1))
			pr_err("cannot thaw cgroup '%s': %m", l->cg_dir);
		if (fd >= 0)
			close(fd);
	}
	if (!log_has_work(l)) {
		if (l->death_sig && kill(l->pid, l->death_sig) && errno != ESRCH)
			pr_err("pid %d: cannot send signal %d: %m", l->pid, l->death_sig);
		return 0;
	}
	ret = wait_untraced(l->pid);
	if (ret)
		return ret == -ESRCH ? 0 : cm_err(ret, "pid %d stays traced", l->pid);
	ret = freeze_seize(&f, l->pid, NULL);
	if (ret)
		return ret;
	for (i = 0; i < GUARD_MAX_THREADS; i++) {
		struct guard_thread *t = &l->th[i];

		if (!gen_ok(&t->rgen) || !t->tid)
			continue;
		for (k = 0; k < f.nr_tids && f.tids[k] != t->tid; k++)
			;
		if (k == f.nr_tids)
			continue;
		if (repair_thread(l, t) && !inj)
			inj = t->tid;
	}
	ret = undo_resources(l, inj ? inj : f.tids[0]);
	/* queued now, taken as soon as ptrace lets go */
	if (l->death_sig && kill(l->pid, l->death_sig) && errno != ESRCH)
		pr_err("pid %d: cannot send signal %d: %m", l->pid, l->death_sig);
	if (freeze_release(&f) && !ret)
		ret = -EIO;
	pr_info("pid %d: repaired after criu-mem died", l->pid);
	return ret;
}

static void guard_child(struct guard *g, int rfd)
{
	char c = 0;
	int nul;

	prctl(PR_SET_NAME, "cm-guard");
	setsid();
	if (rfd != 3 && dup2(rfd, 3) < 0)
		_exit(1);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	}
	syscall(SYS_close_range, 4, ~0u, 0);
	signal(SIGPIPE, SIG_IGN);
	while (read(3, &c, 1) < 0 && errno == EINTR)
		;
	if (c == 'q')
		_exit(0);
	_exit(guard_recover(g->log) ? 1 : 0);
}

int guard_start(struct guard *g, pid_t pid)
{
	struct guard_log *l;
	int p[2], i;
	pid_t c;

	l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED)
		return cm_err(-errno, "pid %d: cannot map the undo log", (int)pid);
	l->magic = GUARD_MAGIC;
	l->pid = pid;
	for (i = 0; i < GUARD_MAX_FDS; i++)
		l->fds[i].fd = -1;
	if (pipe2(p, O_CLOEXEC)) {
		munmap(l, sizeof(*l));
		return cm_err(-errno, "pid %d: cannot create the guard's pipe", (int)pid);
	}
	g->pid = pid;
	g->log = l;
	fflush(NULL);
	c = fork();
	if (c < 0) {
		i = -errno;
		close(p[0]);
		close(p[1]);
		munmap(l, sizeof(*l));
		g->log = NULL;
		return cm_err(i, "pid %d: cannot fork the guard", (int)pid);
	}
	if (!c) {
		close(p[1]);
		guard_child(g, p[0]);
	}
	close(p[0]);
	g->fd = p[1];
	g->guard_pid = c;
	pr_debug("pid %d: guard %d started", (int)pid, (int)c);
	return 0;
}

int guard_finish(struct guard *g)
{
	int st = 0, ret = 0;

	if (!g)
		return 0;
	if (g->fd >= 0) {
		if (write(g->fd, "q", 1) != 1)
			pr_debug("guard %d: cannot write: %m", (int)g->guard_pid);
		close_safe(&g->fd);
	}
	if (g->guard_pid > 0) {
		while (waitpid(g->guard_pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ret = -EIO;
	}
	g->guard_pid = 0;
	if (g->log)
		munmap(g->log, sizeof(*g->log));
	g->log = NULL;
	return ret;
}
